// Per-thread I/O buffer pools (include/bdevkit/io_buffer.h): one IoDevice whose
// per-thread channel context is the pool, so "this thread's pool" is the usual lazily
// created, reference-counted channel, destroyed by the thread's own loop.
#include <sys/mman.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "bdevkit/io_buffer.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace {

constexpr size_t kUnit = 512;  // smallest block; the granularity of the class map
constexpr size_t kPage = 4096;
constexpr size_t kMinPoolSize = 64 * 1024;
constexpr size_t kMaxPoolSize = size_t{1} << 30;

std::atomic<size_t> g_pool_size{4 * 1024 * 1024};

// Size class of a request: block size kUnit << class.
unsigned ClassOf(size_t size) {
  const size_t units = (size + kUnit - 1) / kUnit;
  return static_cast<unsigned>(std::bit_width(units - 1));
}

}  // namespace

class IoBufferPoolDevice : public IoDevice {
 public:
  static IoBufferPoolDevice& Get() {
    // Process-wide and never unregistered: pools come and go with their threads'
    // references, across runtime restarts too.
    static IoBufferPoolDevice* device = [] {
      auto* d = new IoBufferPoolDevice();
      d->RegisterIoDevice("io_buffer_pool");
      return d;
    }();
    return *device;
  }

 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    const size_t size = g_pool_size.load(std::memory_order_relaxed);
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      LOG_ERROR("io buffer pool: cannot map %zu bytes: %s", size, std::strerror(errno));
      return nullptr;
    }
    return std::unique_ptr<IoBufferPool>(new IoBufferPool(base, size));
  }
};

IoBufferPool::IoBufferPool(void* base, size_t size)
    : base_(base),
      size_(size),
      free_heads_(ClassOf(size) + 1, nullptr),
      unit_class_(size / kUnit, 0) {}

IoBufferPool::~IoBufferPool() {
  if (allocated_ != 0) {
    LOG_ERROR(
        "io buffer pool: destroyed with %zu buffer(s) still allocated; leaving its %zu "
        "bytes mapped",
        allocated_, size_);
    return;
  }
  munmap(base_, size_);
}

IoBufferPool* IoBufferPool::Acquire() {
  IoChannel* ch = IoBufferPoolDevice::Get().GetIoChannel();
  if (ch == nullptr) return nullptr;
  auto& pool = ch->ctx<IoBufferPool>();
  pool.channel_ = ch;
  return &pool;
}

void IoBufferPool::Release() { channel_->Put(); }

void* IoBufferPool::Alloc(size_t size) {
  if (size == 0 || size > size_) return nullptr;
  const unsigned cls = ClassOf(size);
  // A freed block of this class, else fresh space, else a freed larger block (kept
  // whole: blocks are never split or merged, which keeps this O(1) and lock-free).
  unsigned from = cls;
  if (free_heads_[cls] == nullptr) {
    const size_t block = kUnit << cls;
    const size_t align = block < kPage ? block : kPage;
    const size_t start = (bump_ + align - 1) & ~(align - 1);
    if (start <= size_ && block <= size_ - start) {
      bump_ = start + block;
      unit_class_[start / kUnit] = static_cast<uint8_t>(cls + 1);
      ++allocated_;
      return static_cast<char*>(base_) + start;
    }
    for (from = cls + 1; from < free_heads_.size() && free_heads_[from] == nullptr; ++from) {
    }
    if (from == free_heads_.size()) return nullptr;
  }
  void* buf = free_heads_[from];
  std::memcpy(&free_heads_[from], buf, sizeof(void*));  // next link, stored in the block
  const size_t offset = static_cast<size_t>(static_cast<char*>(buf) - static_cast<char*>(base_));
  unit_class_[offset / kUnit] = static_cast<uint8_t>(from + 1);
  ++allocated_;
  return buf;
}

void IoBufferPool::Free(void* buf) {
  if (buf == nullptr) return;
  const size_t offset = static_cast<size_t>(static_cast<char*>(buf) - static_cast<char*>(base_));
  if (!Contains(buf, 1) || offset % kUnit != 0 || unit_class_[offset / kUnit] == 0) {
    LOG_ERROR("io buffer pool: Free(%p): not a buffer allocated from this thread's pool", buf);
    return;
  }
  const unsigned cls = unit_class_[offset / kUnit] - 1u;
  unit_class_[offset / kUnit] = 0;
  std::memcpy(buf, &free_heads_[cls], sizeof(void*));
  free_heads_[cls] = buf;
  --allocated_;
}

absl::Status SetIoBufferPoolSize(size_t bytes) {
  if (bytes < kMinPoolSize || bytes > kMaxPoolSize || bytes % kPage != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("I/O buffer pool size: must be a multiple of 4 KiB from 64 KiB to 1 GiB, "
                     "got ",
                     bytes, " bytes"));
  }
  g_pool_size.store(bytes, std::memory_order_relaxed);
  return absl::OkStatus();
}

size_t IoBufferPoolSize() { return g_pool_size.load(std::memory_order_relaxed); }

}  // namespace bdevkit

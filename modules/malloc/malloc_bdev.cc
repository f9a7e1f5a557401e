// The malloc backend: a bdev over an anonymous memory mapping. Reads and writes are
// copied in batches by a per-thread poller; the other types complete inline (the core
// defers inline completions, so no recursion).
#include "modules/malloc/malloc_bdev.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "nlohmann/json.hpp"

namespace bdevkit {
namespace {

constexpr char kModuleName[] = "malloc";

// The memory of one disk. mmap gives page-aligned, zero-filled memory that is only
// committed as it is written, so a large, mostly unused disk costs little.
class Memory {
 public:
  static absl::StatusOr<Memory> Map(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot reserve ", size, " bytes of memory: ", std::strerror(errno)));
    }
    return Memory(static_cast<uint8_t*>(p), size);
  }
  Memory(Memory&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Memory& operator=(Memory&&) = delete;
  ~Memory() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  uint8_t* data() const { return data_; }

 private:
  Memory(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* data_;
  size_t size_;
};

// Reads and writes queued on one thread, copied in a batch by the channel's poller.
// Batching is what lets the copy loop prefetch: while block N is copied, the first
// line of block N+1 is already being fetched, so its TLB miss and page walk overlap
// the current copy instead of stalling the next one (a random 4 KiB block of a large
// disk is nearly always a TLB miss). Completing from the poller also means an I/O
// never completes inside the submit call.
struct QueuedIo {
  BdevIo* next;
};

class MallocChannel : public ChannelContext {
 public:
  BdevIo* head = nullptr;
  BdevIo* tail = nullptr;
  Poller* poller = nullptr;

  void Push(BdevIo& io) {
    io.driver_ctx<QueuedIo>().next = nullptr;
    if (tail != nullptr) {
      tail->driver_ctx<QueuedIo>().next = &io;
    } else {
      head = &io;
    }
    tail = &io;
  }
};

class MallocBdev : public Bdev, public IoDevice {
 public:
  MallocBdev(BdevModule* module, BdevProperties props, Memory memory)
      : Bdev(module, std::move(props)), memory_(std::move(memory)) {}

  bool IoTypeSupported(IoType /*type*/) const override { return true; }

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override {
    // The core range-checks; this compare only keeps a core bug from scribbling
    // outside the mapping.
    if (io.offset_blocks > num_blocks() || io.num_blocks > num_blocks() - io.offset_blocks) {
      CompleteIo(io, IoStatus::Error(-EINVAL));
      return;
    }
    if (io.type == IoType::kRead || io.type == IoType::kWrite) {
      ch.ctx<MallocChannel>().Push(io);
      return;
    }
    uint8_t* disk = DiskAt(io);
    switch (io.type) {
      case IoType::kWriteZeroes:
      case IoType::kUnmap:
        // Unmapped blocks read back as zeroes, as on a thin-provisioned device.
        std::memset(disk, 0, io.length_bytes());
        break;
      default:
        break;  // flush, reset: memory has no cache to flush and no state to reset
    }
    CompleteIo(io, IoStatus::Success());
  }

  // The channel's poller: copies every queued read and write. Completions may queue
  // new I/O (callbacks resubmit); those wait for the next pass.
  PollStatus CopyQueued(MallocChannel& ch) {
    BdevIo* io = ch.head;
    if (io == nullptr) return PollStatus::kIdle;
    ch.head = ch.tail = nullptr;
    while (io != nullptr) {
      BdevIo* next = io->driver_ctx<QueuedIo>().next;
      if (next != nullptr) {
        // Start the next block's TLB walk and first line now (see MallocChannel).
        __builtin_prefetch(next->type == IoType::kRead ? DiskAt(*next) : next->iovs[0].iov_base);
      }
      CompleteIo(*io, Copy(*io));
      io = next;
    }
    return PollStatus::kBusy;
  }

  IoStatus Copy(BdevIo& io) {
    uint8_t* disk = DiskAt(io);
    const uint64_t len = io.length_bytes();
    const bool read = io.type == IoType::kRead;
    uint64_t done = 0;
    for (int i = 0; i < io.iovcnt && done < len; ++i) {
      size_t n = std::min<uint64_t>(io.iovs[i].iov_len, len - done);
      if (read) {
        std::memcpy(io.iovs[i].iov_base, disk + done, n);
      } else {
        std::memcpy(disk + done, io.iovs[i].iov_base, n);
      }
      done += n;
    }
    // iovecs shorter than the request would be a caller bug the core should catch.
    return done == len ? IoStatus::Success() : IoStatus::Error(-EINVAL);
  }

  uint8_t* DiskAt(const BdevIo& io) const {
    return memory_.data() + io.offset_blocks * block_size();
  }

  IoChannel* GetBackendChannel() override { return GetIoChannel(); }

  // Channels must be gone before the memory is: the bdev is freed after `done`.
  void Destruct(std::function<void()> done) override { UnregisterIoDevice(std::move(done)); }

  void WriteConfigJson(nlohmann::json& config) const override {
    // Every parameter filled in, uuid included, so the saved config recreates the
    // same disk (and SPDK can load it too).
    const BdevProperties& p = properties();
    config.push_back({{"method", "bdev_malloc_create"},
                      {"params",
                       {{"name", p.name},
                        {"num_blocks", p.num_blocks},
                        {"block_size", p.block_size},
                        {"physical_block_size", p.block_size},
                        {"uuid", p.uuid},
                        {"optimal_io_boundary", p.optimal_io_boundary},
                        {"md_size", 0},
                        {"md_interleave", false},
                        {"dif_type", 0},
                        {"dif_is_head_of_md", false}}}});
  }

  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    auto ch = std::make_unique<MallocChannel>();
    MallocChannel* raw = ch.get();
    ch->poller = Thread::Current()->RegisterPoller([this, raw] { return CopyQueued(*raw); },
                                                   absl::ZeroDuration(), "malloc_copy");
    return ch;
  }

  // The core keeps a channel while it has I/O outstanding, so the queue is empty here.
  void OnChannelDestroy(ChannelContext& ctx) override {
    Thread::Current()->UnregisterPoller(static_cast<MallocChannel&>(ctx).poller);
  }

 private:
  Memory memory_;
};

// "Malloc0", "Malloc1", ...: the first name no bdev has.
std::string GenerateName() {
  for (uint64_t n = 0;; ++n) {
    std::string name = absl::StrCat("Malloc", n);
    if (FindBdev(name) == nullptr) return name;
  }
}

}  // namespace

absl::StatusOr<std::string> CreateMallocBdev(const MallocOptions& options) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) {
    return absl::FailedPreconditionError("the malloc module is not registered");
  }
  if (options.block_size < 512 || options.block_size % 512 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"block_size\": must be a multiple of 512 (at least 512), got ", options.block_size));
  }
  if (options.num_blocks == 0) {
    return absl::InvalidArgumentError("\"num_blocks\": must be greater than 0");
  }
  if (options.num_blocks > std::numeric_limits<size_t>::max() / options.block_size) {
    return absl::InvalidArgumentError(absl::StrCat("size of ", options.num_blocks, " blocks of ",
                                                   options.block_size, " bytes overflows"));
  }
  BdevProperties props;
  props.name = options.name.empty() ? GenerateName() : options.name;
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(options.uuid);
  if (!uuid.ok()) return uuid.status();
  props.uuid = *uuid;
  props.product_name = "Malloc disk";
  props.block_size = options.block_size;
  props.num_blocks = options.num_blocks;
  props.optimal_io_boundary = options.optimal_io_boundary;
  props.split_on_optimal_io_boundary = options.optimal_io_boundary != 0;

  absl::StatusOr<Memory> memory = Memory::Map(options.num_blocks * options.block_size);
  if (!memory.ok()) return memory.status();
  std::string name = props.name;
  auto bdev = std::make_unique<MallocBdev>(module, std::move(props), std::move(*memory));
  bdev->RegisterIoDevice(absl::StrCat("malloc:", name));
  // On failure RegisterBdev destroys the bdev (and with it the memory).
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) return s;
  LOG_INFO("created malloc bdev %s: %d blocks of %d bytes", name, options.num_blocks,
           options.block_size);
  return name;
}

void DeleteMallocBdev(const std::string& name, std::function<void(absl::Status)> done) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) {
    done(absl::FailedPreconditionError("the malloc module is not registered"));
    return;
  }
  UnregisterModuleBdev(name, *module, std::move(done));
}

}  // namespace bdevkit

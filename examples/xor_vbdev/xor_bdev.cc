// The XOR bdev's I/O path. Reads go to the base into the caller's buffers and are
// XOR-ed in place when they complete; writes are XOR-ed into one of the channel's
// buffers (the caller's data must not change) and that buffer goes to the base.
// Nothing here allocates or locks: buffers are made when the channel is, I/O waiting
// for one is queued through its own driver context.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "bdevkit/log.h"
#include "nlohmann/json.hpp"
#include "xor_vbdev.h"

namespace xor_vbdev {
namespace {

using bdevkit::BdevIo;
using bdevkit::IoChannel;
using bdevkit::IoStatus;
using bdevkit::IoType;

struct XorChannel final : bdevkit::ChannelContext {
  bdevkit::BaseChannel base;   // the base's channel on this thread
  std::vector<void*> buffers;  // all of them, freed with the channel
  std::vector<void*> free;     // capacity reserved up front: push/pop never allocate
  BdevIo* waiting_head = nullptr;
  BdevIo* waiting_tail = nullptr;

  ~XorChannel() override {
    for (void* b : buffers) std::free(b);
  }
};

// Per-I/O state, in the BdevIo's driver context (the core reserves it for the module).
struct XorIo {
  XorBdev* bdev;
  XorChannel* ch;
  bdevkit::BdevDesc* base;
  void* buf;                  // a write's XOR-ed copy
  BdevIo* next_waiting;       // the channel's queue of writes waiting for a buffer
  bdevkit::IoWaitEntry wait;  // waiting for a BdevIo of the base after -ENOMEM
};

void XorBytes(void* data, size_t len, uint8_t key) {
  auto* p = static_cast<uint8_t*>(data);
  for (size_t i = 0; i < len; ++i) p[i] ^= key;
}

void XorCopy(void* dst, const iovec* iov, int iovcnt, uint8_t key) {
  auto* d = static_cast<uint8_t*>(dst);
  for (int v = 0; v < iovcnt; ++v) {
    const auto* s = static_cast<const uint8_t*>(iov[v].iov_base);
    for (size_t i = 0; i < iov[v].iov_len; ++i) *d++ = s[i] ^ key;
  }
}

void StartWrite(BdevIo& io);
void SubmitToBase(BdevIo& io);

void OnBaseRead(void* arg, IoStatus status) {
  BdevIo& io = *static_cast<BdevIo*>(arg);
  if (status.ok()) {
    const uint8_t key = io.driver_ctx<XorIo>().bdev->key();
    for (int v = 0; v < io.iovcnt; ++v) XorBytes(io.iovs[v].iov_base, io.iovs[v].iov_len, key);
  }
  bdevkit::CompleteIo(io, status);
}

void OnBaseWritten(void* arg, IoStatus status) {
  BdevIo& io = *static_cast<BdevIo*>(arg);
  XorIo& x = io.driver_ctx<XorIo>();
  XorChannel& ch = *x.ch;
  ch.free.push_back(x.buf);
  bdevkit::CompleteIo(io, status);
  // The buffer goes to the oldest waiting write.
  if (BdevIo* next = ch.waiting_head) {
    ch.waiting_head = next->driver_ctx<XorIo>().next_waiting;
    if (ch.waiting_head == nullptr) ch.waiting_tail = nullptr;
    StartWrite(*next);
  }
}

void OnBdevIoFree(void* arg) { SubmitToBase(*static_cast<BdevIo*>(arg)); }

// Submits io's base I/O; after -ENOMEM, waits for a BdevIo of the base and retries.
void SubmitToBase(BdevIo& io) {
  XorIo& x = io.driver_ctx<XorIo>();
  const uint64_t offset = io.offset_blocks, n = io.num_blocks;
  int rc = io.type == IoType::kRead
               ? x.base->Readv(x.ch->base.channel(), io.iovs, io.iovcnt, offset, n, OnBaseRead, &io)
               : x.base->Write(x.ch->base.channel(), x.buf, offset, n, OnBaseWritten, &io);
  if (rc == 0) return;
  if (rc == -ENOMEM) {
    x.wait.cb = OnBdevIoFree;
    x.wait.cb_arg = &io;
    if (x.base->QueueIoWait(x.ch->base.channel(), &x.wait) == 0) return;
    return SubmitToBase(io);  // one freed meanwhile
  }
  if (io.type == IoType::kWrite) x.ch->free.push_back(x.buf);
  bdevkit::CompleteIo(io, IoStatus::Error(rc));
}

void StartWrite(BdevIo& io) {
  XorIo& x = io.driver_ctx<XorIo>();
  x.buf = x.ch->free.back();
  x.ch->free.pop_back();
  XorCopy(x.buf, io.iovs, io.iovcnt, x.bdev->key());
  SubmitToBase(io);
}

}  // namespace

XorBdev::XorBdev(bdevkit::BdevModule* module, bdevkit::BdevProperties props, XorConfig* config)
    : Bdev(module, std::move(props)), config_(config) {}

uint8_t XorBdev::key() const { return config_->key; }

bool XorBdev::IoTypeSupported(IoType type) const {
  switch (type) {
    case IoType::kRead:
    case IoType::kWrite:
      return true;
    case IoType::kFlush:
      return config_->base_desc->bdev().IoTypeSupported(type);
    default:
      // Write zeroes and unmap would leave zeroes on the base, which read back as the
      // key, not as zeroes; reset is done by the core (it drains this bdev's I/O).
      return false;
  }
}

void XorBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  auto& xch = ch.ctx<XorChannel>();
  XorIo& x = io.driver_ctx<XorIo>();
  x = XorIo{this, &xch, config_->base_desc.get(), nullptr, nullptr, {}};
  switch (io.type) {
    case IoType::kRead:
      return SubmitToBase(io);
    case IoType::kWrite:
      if (xch.free.empty()) {  // every buffer in use: wait for one, in order
        if (xch.waiting_tail != nullptr) {
          xch.waiting_tail->driver_ctx<XorIo>().next_waiting = &io;
        } else {
          xch.waiting_head = &io;
        }
        xch.waiting_tail = &io;
        return;
      }
      return StartWrite(io);
    case IoType::kFlush:
      // No data: the base can take the I/O as it is.
      return bdevkit::PassIoToBase(xch.base, io, io.offset_blocks);
    default:
      return bdevkit::CompleteIo(io, IoStatus::Error(-ENOTSUP));
  }
}

std::unique_ptr<bdevkit::ChannelContext> XorBdev::CreateChannelContext() {
  auto ctx = std::make_unique<XorChannel>();
  if (!ctx->base.Open(*config_->base_desc)) return nullptr;  // the base is going away
  ctx->buffers.reserve(kBuffersPerChannel);
  ctx->free.reserve(kBuffersPerChannel);
  const size_t align = std::max<size_t>(4096, properties().required_alignment);
  for (int i = 0; i < kBuffersPerChannel; ++i) {
    void* b = std::aligned_alloc(align, kMaxTransferBytes);
    if (b == nullptr) return nullptr;  // ctx closes the base channel
    ctx->buffers.push_back(b);
    ctx->free.push_back(b);
  }
  return ctx;
}

void XorBdev::OnChannelDestroy(bdevkit::ChannelContext& ctx) {
  static_cast<XorChannel&>(ctx).base.Close();
}

void XorBdev::Destruct(std::function<void()> done) {
  UnregisterIoDevice([this, done = std::move(done)] {
    static_cast<XorModule&>(module()).OnBdevGone(config_);
    done();
  });
}

void XorBdev::DumpInfoJson(nlohmann::json& driver_specific) const {
  driver_specific["xor"] = {{"base_bdev", config_->base}, {"key", config_->key}};
}

}  // namespace xor_vbdev

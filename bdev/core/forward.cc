// Passing a virtual bdev's I/O on to a base (module.h: BaseChannel, ForwardIo,
// PassIoToBase).
//
// ForwardIo is the cheap path: when the I/O can go to the base exactly as it is, the
// virtual bdev's own BdevIo is handed to the base's backend, so a stack of virtual
// bdevs costs one BdevIo and one trip through the layer, not one per level. It runs
// for every I/O of every stacked bdev, so whatever does not change while the base is
// registered (its rules, block size, the I/O types it takes) is worked out once per
// thread by BaseChannel::Open, and only the state that does change (removal, a reset's
// freeze, a QoS limit, the size) is read per I/O. PassIoToBase falls back to an
// ordinary submission through the base's descriptor when forwarding is not possible.
#include <cerrno>
#include <cstdint>
#include <utility>

#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"

namespace bdevkit {

namespace {

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Whether the base's backend can take [offset, offset + num) of this type as one
// request, without the splitting or bouncing the layer would do for the base.
bool FitsBaseAsIs(const BdevProperties& p, const BdevIo& io, uint64_t offset) {
  const uint64_t num = io.num_blocks;
  switch (io.type) {
    case IoType::kRead:
    case IoType::kWrite: {
      if (p.split_on_optimal_io_boundary && p.optimal_io_boundary != 0 &&
          offset % p.optimal_io_boundary + num > p.optimal_io_boundary) {
        return false;
      }
      if (p.max_transfer_blocks != 0 && num > p.max_transfer_blocks) return false;
      if (io.type == IoType::kWrite && p.write_unit_size > 1 &&
          (offset % p.write_unit_size != 0 || num % p.write_unit_size != 0)) {
        return false;
      }
      const uint64_t align = p.required_alignment;
      if (align > 1 && IsPowerOfTwo(align)) {
        for (int i = 0; i < io.iovcnt; ++i) {
          if (reinterpret_cast<uintptr_t>(io.iovs[i].iov_base) & (align - 1)) return false;
        }
      }
      return true;
    }
    case IoType::kUnmap:
      return p.max_unmap_blocks == 0 || num <= p.max_unmap_blocks;
    case IoType::kWriteZeroes:
      return p.max_write_zeroes_blocks == 0 || num <= p.max_write_zeroes_blocks;
    case IoType::kFlush:
      return true;
    case IoType::kReset:
      return false;  // a reset is the core's protocol (freeze, drain), not a range
  }
  return false;
}

bool NeedsWritable(IoType type) {
  return type == IoType::kWrite || type == IoType::kWriteZeroes || type == IoType::kUnmap;
}

// PassIoToBase's state while it waits for a BdevIo, in the virtual I/O's driver context.
struct PassCtx {
  IoWaitEntry wait;
  BaseChannel* base;
  BdevIo* io;
  uint64_t base_offset;
};

void PassDone(void* arg, IoStatus status) { CompleteIo(*static_cast<BdevIo*>(arg), status); }

int SubmitThroughDesc(BdevDesc& base, IoChannel* ch, BdevIo& io, uint64_t offset) {
  switch (io.type) {
    case IoType::kRead:
      return base.Readv(ch, io.iovs, io.iovcnt, offset, io.num_blocks, PassDone, &io);
    case IoType::kWrite:
      return base.Writev(ch, io.iovs, io.iovcnt, offset, io.num_blocks, PassDone, &io);
    case IoType::kWriteZeroes:
      return base.WriteZeroes(ch, offset, io.num_blocks, PassDone, &io);
    case IoType::kUnmap:
      return base.Unmap(ch, offset, io.num_blocks, PassDone, &io);
    case IoType::kFlush:
      return base.Flush(ch, offset, io.num_blocks, PassDone, &io);
    case IoType::kReset:
      return base.Reset(ch, PassDone, &io);
  }
  return -EINVAL;
}

void SubmitOrWait(PassCtx& ctx) {
  BdevIo& io = *ctx.io;
  BdevDesc& desc = ctx.base->desc();
  IoChannel* ch = ctx.base->channel();
  int rc = SubmitThroughDesc(desc, ch, io, ctx.base_offset);
  if (rc == -ENOMEM) {
    ctx.wait.cb = [](void* arg) { SubmitOrWait(*static_cast<PassCtx*>(arg)); };
    ctx.wait.cb_arg = &ctx;
    // -EINVAL here means a BdevIo freed meanwhile: try again at once.
    if (desc.QueueIoWait(ch, &ctx.wait) == 0) return;
    rc = SubmitThroughDesc(desc, ch, io, ctx.base_offset);
  }
  if (rc != 0) CompleteIo(io, IoStatus::Error(rc));
}

}  // namespace

// BaseChannel's per-I/O side, for ForwardIo and PassIoToBase (a friend of BaseChannel).
// Per I/O of every stacked bdev: the common case (a base with no rules, nothing
// changed) is a few loads and compares ending in a tail call to the backend, with
// everything else out of line.
struct ForwardPath {
  // What can change while the base is registered: being removed, frozen by a reset,
  // rate-limited (a limited base must see the I/O in its admission stage, qos.h), its
  // size. Then the block size (another one would change what the offsets mean).
  static bool StateAllows(const BaseChannel& b, const BdevIo& io, uint64_t offset) {
    const BdevInternal& in = *b.internal_;
    const BdevChannel& bch = *b.bdev_ch_;
    if (in.removing.load(std::memory_order_relaxed) || bch.frozen || bch.qos != nullptr) {
      return false;
    }
    const uint64_t size = in.num_blocks.load(std::memory_order_relaxed);
    if (offset > size || io.num_blocks > size - offset) return false;
    return io.bdev_block_size == b.block_size_;
  }
  static uint32_t TypeBit(const BdevIo& io) { return 1u << static_cast<int>(io.type); }
  // A type the base takes with no look at its rules.
  static bool IsPlain(const BaseChannel& b, const BdevIo& io) {
    return (b.plain_types_ & TypeBit(io)) != 0;
  }
  // A type the base takes from this descriptor, and `io` within the base's rules.
  static bool FitsRules(const BaseChannel& b, const BdevIo& io, uint64_t offset) {
    return (b.forward_types_ & TypeBit(io)) != 0 && FitsBaseAsIs(b.bdev_->properties(), io, offset);
  }

  // Hands `io` to the base's backend at `offset`. As core::Dispatch: a completion
  // inside the backend's SubmitIo is deferred, so the caller's callback never runs in
  // this stack. Inside the virtual bdev's SubmitIo (the usual case) that is already
  // so; called outside one, the flag is set around the call.
  static void Submit(const BaseChannel& b, BdevIo& io, uint64_t offset) {
    io.offset_blocks = offset;
    if (io.in_submit) [[likely]] {
      return BdevIoSubmitter::Submit(*b.bdev_, *b.backend_ch_, io);
    }
    SubmitOutsideSubmit(b, io);
  }
  [[gnu::noinline]] static void SubmitOutsideSubmit(const BaseChannel& b, BdevIo& io) {
    io.in_submit = true;
    BdevIoSubmitter::Submit(*b.bdev_, *b.backend_ch_, io);
    io.in_submit = false;
  }

  // PassIoToBase past its common case: forwarded after a look at the base's rules, or
  // else through the base's descriptor.
  [[gnu::noinline]] static void PassSlow(BaseChannel& b, BdevIo& io, uint64_t offset) {
    if (StateAllows(b, io, offset) && FitsRules(b, io, offset)) return Submit(b, io, offset);
    PassCtx& ctx = io.driver_ctx<PassCtx>();
    ctx = PassCtx{{}, &b, &io, offset};
    SubmitOrWait(ctx);
  }
};

BaseChannel& BaseChannel::operator=(BaseChannel&& other) noexcept {
  if (this != &other) {
    Close();
    desc_ = std::exchange(other.desc_, nullptr);
    ch_ = std::exchange(other.ch_, nullptr);
    bdev_ = other.bdev_;
    internal_ = other.internal_;
    bdev_ch_ = other.bdev_ch_;
    backend_ch_ = other.backend_ch_;
    block_size_ = other.block_size_;
    forward_types_ = other.forward_types_;
    plain_types_ = other.plain_types_;
  }
  return *this;
}

bool BaseChannel::Open(BdevDesc& base) {
  Close();
  IoChannel* ch = base.GetIoChannel();
  if (ch == nullptr) return false;
  desc_ = &base;
  ch_ = ch;
  bdev_ = &base.bdev();
  internal_ = &bdev_->internal();
  bdev_ch_ = &ch->ctx<BdevChannel>();
  backend_ch_ = &bdev_ch_->backend();
  const BdevProperties& p = bdev_->properties();
  block_size_ = p.block_size;
  forward_types_ = 0;
  for (int t = 0; t < kNumIoTypes; ++t) {
    const IoType type = static_cast<IoType>(t);
    // A reset is the core's protocol (freeze, drain), not a range: never forwarded.
    // Reads and writes are what every backend does; the other types are asked.
    if (type == IoType::kReset) continue;
    if (NeedsWritable(type) && !base.writable()) continue;
    if (type != IoType::kRead && type != IoType::kWrite && !bdev_->IoTypeSupported(type)) continue;
    forward_types_ |= 1u << t;
  }
  // A base with no splitting, write-unit or alignment rule takes any in-range I/O of
  // these types as it is: no per-I/O look at its properties.
  const bool has_rules =
      (p.optimal_io_boundary | p.max_transfer_blocks | p.max_unmap_blocks |
       p.max_write_zeroes_blocks | (p.write_unit_size - 1) | (p.required_alignment & ~1u)) != 0;
  plain_types_ = has_rules ? 0 : forward_types_;
  return true;
}

void BaseChannel::Close() {
  if (ch_ == nullptr) return;
  std::exchange(ch_, nullptr)->Put();
  desc_ = nullptr;
}

bool ForwardIo(BaseChannel& base, BdevIo& io, uint64_t base_offset_blocks) {
  if (!ForwardPath::StateAllows(base, io, base_offset_blocks)) return false;
  if (!ForwardPath::IsPlain(base, io) && !ForwardPath::FitsRules(base, io, base_offset_blocks)) {
    return false;
  }
  ForwardPath::Submit(base, io, base_offset_blocks);
  return true;
}

void PassIoToBase(BaseChannel& base, BdevIo& io, uint64_t base_offset_blocks) {
  if (ForwardPath::StateAllows(base, io, base_offset_blocks) && ForwardPath::IsPlain(base, io))
      [[likely]] {
    return ForwardPath::Submit(base, io, base_offset_blocks);
  }
  ForwardPath::PassSlow(base, io, base_offset_blocks);
}

}  // namespace bdevkit

// Passing a virtual bdev's I/O on to a base (module.h: ForwardIo, PassIoToBase).
//
// ForwardIo is the cheap path: when the I/O can go to the base exactly as it is, the
// virtual bdev's own BdevIo is handed to the base's backend, so a stack of virtual
// bdevs costs one BdevIo and one trip through the layer, not one per level.
// PassIoToBase falls back to an ordinary submission through the base's descriptor
// when forwarding is not possible.
#include <cerrno>
#include <cstdint>

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
  BdevDesc* base;
  IoChannel* base_ch;
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
  int rc = SubmitThroughDesc(*ctx.base, ctx.base_ch, io, ctx.base_offset);
  if (rc == -ENOMEM) {
    ctx.wait.cb = [](void* arg) { SubmitOrWait(*static_cast<PassCtx*>(arg)); };
    ctx.wait.cb_arg = &ctx;
    // -EINVAL here means a BdevIo freed meanwhile: try again at once.
    if (ctx.base->QueueIoWait(ctx.base_ch, &ctx.wait) == 0) return;
    rc = SubmitThroughDesc(*ctx.base, ctx.base_ch, io, ctx.base_offset);
  }
  if (rc != 0) CompleteIo(io, IoStatus::Error(rc));
}

}  // namespace

bool ForwardIo(BdevDesc& base, IoChannel* base_ch, BdevIo& io, uint64_t base_offset_blocks) {
  // Per I/O of every stacked bdev: cheapest and most likely to fail first, and the
  // base's rules looked at only when it has any (one test for a plain backend).
  Bdev& bdev = base.bdev();
  BdevInternal& in = bdev.internal();
  // The channel must be the base's (the BdevChannel cast below relies on it).
  if (base_ch == nullptr || &base_ch->device() != static_cast<IoDevice*>(&in)) return false;
  BdevChannel& bch = base_ch->ctx<BdevChannel>();
  // Being removed, frozen by a reset, or rate-limited (a limited base must see the I/O
  // in its admission stage, qos.h).
  if (in.removing.load(std::memory_order_relaxed) || bch.frozen || bch.qos != nullptr) {
    return false;
  }
  const uint64_t size = in.num_blocks.load(std::memory_order_relaxed);
  if (base_offset_blocks > size || io.num_blocks > size - base_offset_blocks) return false;
  const BdevProperties& p = bdev.properties();
  if (io.bdev_block_size != p.block_size) return false;
  if (io.type != IoType::kRead) {
    if (NeedsWritable(io.type) && !base.writable()) return false;
    // Reads and writes are what every backend does; the other types are asked.
    if (io.type != IoType::kWrite && !bdev.IoTypeSupported(io.type)) return false;
  }
  const uint32_t rules = p.optimal_io_boundary | p.max_transfer_blocks | p.max_unmap_blocks |
                         p.max_write_zeroes_blocks | (p.write_unit_size - 1) |
                         (p.required_alignment & ~1u);
  if (rules != 0 && !FitsBaseAsIs(p, io, base_offset_blocks)) return false;

  io.offset_blocks = base_offset_blocks;
  // As core::Dispatch: a completion inside the backend's SubmitIo is deferred, so the
  // caller's callback never runs in this stack (even when called outside a submit).
  if (io.in_submit) {
    BdevIoSubmitter::Submit(bdev, bch.backend(), io);
    return true;
  }
  io.in_submit = true;
  BdevIoSubmitter::Submit(bdev, bch.backend(), io);
  io.in_submit = false;
  return true;
}

void PassIoToBase(BdevDesc& base, IoChannel* base_ch, BdevIo& io, uint64_t base_offset_blocks) {
  if (ForwardIo(base, base_ch, io, base_offset_blocks)) return;
  PassCtx& ctx = io.driver_ctx<PassCtx>();
  ctx = PassCtx{{}, &base, base_ch, &io, base_offset_blocks};
  SubmitOrWait(ctx);
}

}  // namespace bdevkit

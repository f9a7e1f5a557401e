// The I/O path: validation, BdevIo allocation, dispatch to the backend, completion
// (deferred out of submit calls), and BdevDesc's submit functions.
#include <cerrno>

#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/io_path.h"
#include "bdev/core/qos.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"

namespace bdevkit {
namespace core {

namespace {

bool NeedsWritable(IoType type) {
  return type == IoType::kWrite || type == IoType::kWriteZeroes || type == IoType::kUnmap;
}

// The channel must be one of this bdev's, else the BdevChannel cast below would be
// wrong: checked by device identity (one compare).
BdevChannel* ChannelOf(BdevDesc& desc, IoChannel* ch) {
  if (ch == nullptr || &ch->device() != static_cast<IoDevice*>(&desc.bdev().internal())) {
    return nullptr;
  }
  return &ch->ctx<BdevChannel>();
}

}  // namespace

int SubmitIo(BdevDesc& desc, IoChannel* ch, IoType type, const iovec* iov, int iovcnt,
             void* contiguous_buf, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
             void* cb_arg) {
  Bdev& bdev = desc.bdev();
  BdevInternal& in = bdev.internal();
  BdevChannel* bch = ChannelOf(desc, ch);
  if (bch == nullptr || cb == nullptr) return -EINVAL;
  if (in.removing.load(std::memory_order_relaxed)) return -ENODEV;
  if (bch->frozen) return -EAGAIN;
  if (NeedsWritable(type) && !desc.writable()) return -EINVAL;
  if (!bdev.IoTypeSupported(type)) return -EINVAL;
  const uint64_t size = in.num_blocks.load(std::memory_order_relaxed);
  // Written so it cannot overflow: offset + num <= size.
  if (offset_blocks > size || num_blocks > size - offset_blocks) return -EINVAL;
  if (num_blocks == 0 && type != IoType::kFlush) return -EINVAL;
  // Devices with a write unit (e.g. 4K-atomic) cannot take a partial one.
  const uint32_t write_unit = bdev.properties().write_unit_size;
  if (type == IoType::kWrite && write_unit > 1 &&
      (offset_blocks % write_unit != 0 || num_blocks % write_unit != 0)) {
    return -EINVAL;
  }
  const bool data = type == IoType::kRead || type == IoType::kWrite;
  const uint64_t bytes = num_blocks * bdev.block_size();
  if (data && contiguous_buf == nullptr) {
    if (iov == nullptr || iovcnt <= 0) return -EINVAL;
    uint64_t total = 0;
    for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
    if (total != bytes) return -EINVAL;
  }

  BdevIo* io = bch->layer().GetIo(/*for_child=*/false);
  if (io == nullptr) return -ENOMEM;
  io->type = type;
  io->bdev = &bdev;
  io->bdev_block_size = bdev.block_size();
  io->offset_blocks = offset_blocks;
  io->num_blocks = num_blocks;
  io->channel = bch;
  io->cb = cb;
  io->cb_arg = cb_arg;
  if (data) {
    if (contiguous_buf != nullptr) {
      io->inline_iovs[0] = {contiguous_buf, bytes};
      io->iovs = io->inline_iovs;
      io->iovcnt = 1;
    } else {
      // Modules treat iovs as read-only (module.h), so the caller's array is used as is.
      io->iovs = const_cast<iovec*>(iov);
      io->iovcnt = iovcnt;
    }
  }
  io->submit_ticks = GetTicks();
  bch->HoldForIo();

  // in_submit for the whole call: whatever finishes the I/O before we return (the
  // backend completing inline, a split failing early) is deferred to the poller.
  io->in_submit = true;
  // The admission stage: a limited bdev's channel may hold the I/O back (it then
  // starts from the channel's QoS poller). Whole I/O, before splitting, so what the
  // caller submitted counts once.
  if (bch->qos == nullptr || QosAdmit(*bch->qos, *io)) [[likely]] {
    StartIo(*io);
  }
  io->in_submit = false;
  return 0;
}

void StartIo(BdevIo& io) {
  if (ChildLength(io, io.offset_blocks) < io.num_blocks) {
    SplitStart(io);
  } else {
    StartLeaf(io);
  }
}

void StartLeaf(BdevIo& io) {
  if (NeedsBounce(io)) {
    void* buf = io.channel->layer().GetBounce();
    if (buf == nullptr) {
      // Bounded pool: wait for a buffer rather than fail or allocate.
      io.channel->layer().QueueBounceWaiter(&io);
      return;
    }
    BounceAttach(io, buf);
  }
  Dispatch(io);
}

void Dispatch(BdevIo& io) {
  const bool was_in_submit = io.in_submit;
  io.in_submit = true;
  BdevIoSubmitter::Submit(*io.bdev, io.channel->backend(), io);
  // The BdevIo is still ours here even if the backend completed it: that completion
  // was deferred because in_submit was set.
  io.in_submit = was_in_submit;
}

void Complete(BdevIo& io, IoStatus status) {
  if (io.in_submit) {
    io.status = status;
    io.channel->layer().Defer(&io);
    return;
  }
  FinishIo(io, status);
}

void FinishIo(BdevIo& io, IoStatus status) {
  if (io.bounce_buf != nullptr) BounceDetach(io, status);
  if (io.parent != nullptr) {
    ChildDone(io, status);
    return;
  }
  if (io.type == IoType::kReset) {
    ResetIoFinished(io, status);
    return;
  }
  BdevChannel& ch = *io.channel;
  ch.RecordCompletion(io, status, GetTicks());
  IoChannel* hold = ch.ReleaseForIo();
  CompleteToUser(io, status);
  // After the callback: if it submitted again it took its own hold. Put() only
  // schedules destruction, so nothing is freed inside this stack.
  if (hold != nullptr) hold->Put();
}

void CompleteToUser(BdevIo& io, IoStatus status) {
  LayerChannel& layer = io.channel->layer();
  IoCallback cb = io.cb;
  void* cb_arg = io.cb_arg;
  // Recycle first, and serve anyone waiting for a BdevIo before the callback runs:
  // a callback that resubmits at once (bdevperf does) would otherwise always win the
  // freed BdevIo and starve the waiters. Then the callback may reuse it.
  layer.PutIo(&io);
  layer.RunWaiters();
  cb(cb_arg, status);
  layer.RunWaiters();
}

}  // namespace core

void CompleteIo(BdevIo& io, IoStatus status) { core::Complete(io, status); }

// ---- BdevDesc's I/O functions --------------------------------------------------------

int BdevDesc::Read(IoChannel* ch, void* buf, uint64_t offset_blocks, uint64_t num_blocks,
                   IoCallback cb, void* cb_arg) {
  if (buf == nullptr) return -EINVAL;
  return core::SubmitIo(*this, ch, IoType::kRead, nullptr, 0, buf, offset_blocks, num_blocks, cb,
                        cb_arg);
}

int BdevDesc::Readv(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
                    uint64_t num_blocks, IoCallback cb, void* cb_arg) {
  return core::SubmitIo(*this, ch, IoType::kRead, iov, iovcnt, nullptr, offset_blocks, num_blocks,
                        cb, cb_arg);
}

int BdevDesc::Write(IoChannel* ch, const void* buf, uint64_t offset_blocks, uint64_t num_blocks,
                    IoCallback cb, void* cb_arg) {
  if (buf == nullptr) return -EINVAL;
  // The backend only reads a write's buffer; iovec has no const variant.
  return core::SubmitIo(*this, ch, IoType::kWrite, nullptr, 0, const_cast<void*>(buf),
                        offset_blocks, num_blocks, cb, cb_arg);
}

int BdevDesc::Writev(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
                     uint64_t num_blocks, IoCallback cb, void* cb_arg) {
  return core::SubmitIo(*this, ch, IoType::kWrite, iov, iovcnt, nullptr, offset_blocks, num_blocks,
                        cb, cb_arg);
}

int BdevDesc::WriteZeroes(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
                          void* cb_arg) {
  return core::SubmitIo(*this, ch, IoType::kWriteZeroes, nullptr, 0, nullptr, offset_blocks,
                        num_blocks, cb, cb_arg);
}

int BdevDesc::Unmap(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
                    void* cb_arg) {
  return core::SubmitIo(*this, ch, IoType::kUnmap, nullptr, 0, nullptr, offset_blocks, num_blocks,
                        cb, cb_arg);
}

int BdevDesc::Flush(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
                    void* cb_arg) {
  return core::SubmitIo(*this, ch, IoType::kFlush, nullptr, 0, nullptr, offset_blocks, num_blocks,
                        cb, cb_arg);
}

int BdevDesc::Reset(IoChannel* ch, IoCallback cb, void* cb_arg) {
  return core::SubmitReset(*this, ch, cb, cb_arg);
}

int BdevDesc::QueueIoWait(IoChannel* ch, IoWaitEntry* entry) {
  if (ch == nullptr || entry == nullptr || entry->cb == nullptr ||
      &ch->device() != static_cast<IoDevice*>(&bdev().internal())) {
    return -EINVAL;
  }
  core::LayerChannel& layer = ch->ctx<BdevChannel>().layer();
  if (layer.HasFreeIo(/*for_child=*/false)) return -EINVAL;
  layer.QueueIoWait(entry);
  return 0;
}

}  // namespace bdevkit

// Reset: freeze the bdev's channel on every thread (new I/O gets -EAGAIN), cancel the
// I/O queued inside the layer with -ECANCELED, let the backend reset (or, if it has no
// reset, wait until every channel's outstanding I/O has drained), then unfreeze and
// complete the reset. One reset per bdev at a time.
#include <cerrno>
#include <memory>
#include <utility>

#include "absl/time/time.h"
#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/io_path.h"
#include "bdev/core/qos.h"

namespace bdevkit::core {

namespace {

constexpr absl::Duration kDrainPollPeriod = absl::Microseconds(100);

void CheckDrained(BdevIo& io);

void Unfreeze(BdevIo& io, IoStatus status) {
  BdevInternal& in = io.bdev->internal();
  io.status = status;
  ForEachChannel(
      in,
      [](IoChannel& ch) {
        ch.ctx<BdevChannel>().frozen = false;
        return absl::OkStatus();
      },
      [&io, &in](absl::Status) {
        in.reset_unfrozen = true;
        Complete(io, io.status);
      });
}

void ScheduleDrainCheck(BdevIo& io) {
  BdevInternal& in = io.bdev->internal();
  in.reset_poller = Thread::Current()->RegisterPoller(
      [&io, &in] {
        Thread::Current()->UnregisterPoller(in.reset_poller);
        in.reset_poller = nullptr;
        CheckDrained(io);
        return PollStatus::kBusy;
      },
      kDrainPollPeriod, "bdev_reset_drain");
}

void CheckDrained(BdevIo& io) {
  auto pending = std::make_shared<uint64_t>(0);
  ForEachChannel(
      io.bdev->internal(),
      [pending](IoChannel& ch) {
        *pending += ch.ctx<BdevChannel>().outstanding;
        return absl::OkStatus();
      },
      [&io, pending](absl::Status) {
        if (*pending == 0) {
          Unfreeze(io, IoStatus::Success());
        } else {
          ScheduleDrainCheck(io);
        }
      });
}

// Runs on each channel's thread while freezing.
absl::Status FreezeChannel(IoChannel& ch) {
  BdevChannel& bch = ch.ctx<BdevChannel>();
  bch.frozen = true;
  IoQueue cancelled;
  bch.layer().ExtractQueued(&bch, cancelled);
  QosExtractQueued(bch, cancelled);  // I/O held back by a rate limit
  while (BdevIo* io = cancelled.Pop()) {
    // A split parent waiting for BdevIo has no child in flight: it ends now.
    io->status = IoStatus::Error(-ECANCELED);
    Complete(*io, IoStatus::Error(-ECANCELED));
  }
  return absl::OkStatus();
}

}  // namespace

int SubmitReset(BdevDesc& desc, IoChannel* ch, IoCallback cb, void* cb_arg) {
  Bdev& bdev = desc.bdev();
  BdevInternal& in = bdev.internal();
  if (ch == nullptr || cb == nullptr || &ch->device() != static_cast<IoDevice*>(&in)) {
    return -EINVAL;
  }
  if (in.removing.load(std::memory_order_relaxed)) return -ENODEV;
  BdevChannel& bch = ch->ctx<BdevChannel>();
  if (bch.frozen) return -EAGAIN;
  bool expected = false;
  if (!in.reset_in_progress.compare_exchange_strong(expected, true)) return -EAGAIN;
  BdevIo* io = bch.layer().GetIo(/*for_child=*/false);
  if (io == nullptr) {
    in.reset_in_progress.store(false);
    return -ENOMEM;
  }
  io->type = IoType::kReset;
  io->bdev = &bdev;
  io->bdev_block_size = bdev.block_size();
  io->offset_blocks = 0;
  io->num_blocks = 0;
  io->channel = &bch;
  io->cb = cb;
  io->cb_arg = cb_arg;
  io->submit_ticks = GetTicks();
  in.reset_unfrozen = false;
  in.reset_hold = in.GetIoChannel();  // see BdevChannel::HoldForIo
  // Every step below may in principle finish synchronously; in_submit defers the
  // final callback out of this call.
  io->in_submit = true;
  ForEachChannel(in, FreezeChannel, [io](absl::Status) {
    if (io->bdev->IoTypeSupported(IoType::kReset)) {
      Dispatch(*io);  // back via CompleteIo -> FinishIo -> ResetIoFinished
    } else {
      CheckDrained(*io);
    }
  });
  io->in_submit = false;
  return 0;
}

void ResetIoFinished(BdevIo& io, IoStatus status) {
  BdevInternal& in = io.bdev->internal();
  if (!in.reset_unfrozen) {
    // The backend's reset is done: resume the other threads first.
    Unfreeze(io, status);
    return;
  }
  in.reset_unfrozen = false;
  io.channel->RecordCompletion(io, status, GetTicks());
  IoChannel* hold = std::exchange(in.reset_hold, nullptr);
  in.reset_in_progress.store(false);
  CompleteToUser(io, status);
  if (hold != nullptr) hold->Put();
}

}  // namespace bdevkit::core

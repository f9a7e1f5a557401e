// The raid I/O path. Reads and writes of raid0 and concat arrive cut at strip
// boundaries (the core splits on the optimal I/O boundary, which is the strip), so
// each lands on one base and is forwarded to it as is (PassIoToBase over the channel's
// BaseChannel: no second BdevIo), or else sent through that base's descriptor.
// What touches several bases — unmap, write_zeroes and flush over a range, raid1
// writes — fans out: one I/O per base through its descriptor, the raid I/O
// completing when the last one does, with the first error.
#include "modules/raid/raid_bdev.h"

#include <cerrno>
#include <utility>

#include "modules/raid/raid_record.h"
#include "nlohmann/json.hpp"

namespace bdevkit::raid {

struct RaidChannel final : ChannelContext {
  std::vector<BaseChannel> bases;  // slot order, each base's channel on this thread
  uint32_t next_read = 0;          // raid1: reads rotate over the copies
};

namespace {

// A fanned-out raid I/O, in its driver context.
struct FanOut {
  const RaidIoConfig* config;
  RaidChannel* ch;
  BdevIo* io;
  IoWaitEntry wait;  // a base submit said -ENOMEM: resume when a BdevIo frees
  uint32_t next;     // next base to consider
  uint32_t outstanding;
  int32_t error;  // first error
};

void FanOutContinue(FanOut& f);

void FanOutMaybeDone(FanOut& f) {
  if (f.outstanding == 0 && f.next == f.config->bases.size()) {
    CompleteIo(*f.io, IoStatus::Error(f.error));
  }
}

void FanOutDone(void* arg, IoStatus status) {
  auto& f = static_cast<BdevIo*>(arg)->driver_ctx<FanOut>();
  if (!status.ok() && f.error == 0) f.error = status.error;
  --f.outstanding;
  FanOutMaybeDone(f);
}

int SubmitPiece(FanOut& f, BaseChannel& base_ch, const BaseExtent& e) {
  BdevIo& io = *f.io;
  BdevDesc& base = base_ch.desc();
  IoChannel* ch = base_ch.channel();
  switch (io.type) {
    case IoType::kRead:
      return base.Readv(ch, io.iovs, io.iovcnt, e.offset_blocks, e.num_blocks, FanOutDone, &io);
    case IoType::kWrite:
      return base.Writev(ch, io.iovs, io.iovcnt, e.offset_blocks, e.num_blocks, FanOutDone, &io);
    case IoType::kUnmap:
      return base.Unmap(ch, e.offset_blocks, e.num_blocks, FanOutDone, &io);
    case IoType::kWriteZeroes:
      return base.WriteZeroes(ch, e.offset_blocks, e.num_blocks, FanOutDone, &io);
    case IoType::kFlush:
      return base.Flush(ch, e.offset_blocks, e.num_blocks, FanOutDone, &io);
    case IoType::kReset:
      break;
  }
  return -EINVAL;
}

// Submits the pieces from base f.next on. Base callbacks never run inside a submit
// call, so nothing completes under this loop.
void FanOutContinue(FanOut& f) {
  const uint32_t n = static_cast<uint32_t>(f.config->bases.size());
  const BdevIo& io = *f.io;
  while (f.next < n) {
    const uint32_t i = f.next;
    BaseExtent e = f.config->layout.RangeOnBase(i, io.offset_blocks, io.num_blocks);
    // A flush of nothing (0 blocks) still reaches every base.
    const bool wanted = e.num_blocks != 0 || (io.type == IoType::kFlush && io.num_blocks == 0);
    if (!wanted) {
      ++f.next;
      continue;
    }
    BaseChannel& base = f.ch->bases[i];
    int rc = SubmitPiece(f, base, e);
    if (rc == -ENOMEM) {
      f.wait.cb = [](void* arg) { FanOutContinue(*static_cast<FanOut*>(arg)); };
      f.wait.cb_arg = &f;
      if (base.desc().QueueIoWait(base.channel(), &f.wait) == 0) return;
      continue;  // one freed meanwhile: try again
    }
    ++f.next;
    if (rc != 0) {
      // Stop here: pieces already submitted finish, then the raid I/O fails.
      if (f.error == 0) f.error = rc;
      f.next = n;
      break;
    }
    ++f.outstanding;
  }
  FanOutMaybeDone(f);
}

void StartFanOut(const RaidIoConfig& config, RaidChannel& ch, BdevIo& io) {
  FanOut& f = io.driver_ctx<FanOut>();
  f = FanOut{&config, &ch, &io, {}, 0, 0, 0};
  FanOutContinue(f);
}

}  // namespace

RaidBdev::RaidBdev(BdevModule* module, BdevProperties props, RaidIoConfig config,
                   RaidRecord* record)
    : Bdev(module, std::move(props)), config_(std::move(config)), record_(record) {}

bool RaidBdev::IoTypeSupported(IoType type) const {
  switch (type) {
    case IoType::kRead:
    case IoType::kWrite:
      return true;
    case IoType::kUnmap:
      return config_.unmap;
    case IoType::kWriteZeroes:
      return config_.write_zeroes;
    case IoType::kFlush:
      return config_.flush;
    case IoType::kReset:
      // The core's reset without backend support (quiesce, drain) is what a raid
      // wants; resetting the bases under it would hit other users of nothing.
      return false;
  }
  return false;
}

void RaidBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  RaidChannel& rch = ch.ctx<RaidChannel>();
  const RaidLayout& layout = config_.layout;
  if (layout.level() == RaidLevel::kRaid0 &&
      (io.type == IoType::kRead || io.type == IoType::kWrite)) [[likely]] {
    // The hot path: one strip -> one base, forwarded as is, or else one I/O through
    // that base's descriptor. Nothing here calls out of line but that (no frame).
    const BaseExtent e = layout.MapRaid0(io.offset_blocks, io.num_blocks);
    return PassIoToBase(rch.bases[e.base], io, e.offset_blocks);
  }
  SubmitOther(rch, io);
}

void RaidBdev::SubmitOther(RaidChannel& rch, BdevIo& io) {
  const RaidLayout& layout = config_.layout;
  if (io.type == IoType::kRead || io.type == IoType::kWrite) {
    if (layout.level() == RaidLevel::kConcat) {
      // One member holds the whole I/O (the core split it at the members' ends).
      const BaseExtent e = layout.MapOne(io.offset_blocks, io.num_blocks);
      return PassIoToBase(rch.bases[e.base], io, e.offset_blocks);
    }
    if (layout.level() == RaidLevel::kRaid1 && io.type == IoType::kRead) {
      const uint32_t i = rch.next_read++ % layout.num_bases();
      return PassIoToBase(rch.bases[i], io, layout.data_offset() + io.offset_blocks);
    }
  }
  // raid1 writes go to every copy; unmap, write zeroes and flush to every base they touch.
  StartFanOut(config_, rch, io);
}

std::unique_ptr<ChannelContext> RaidBdev::CreateChannelContext() {
  auto ctx = std::make_unique<RaidChannel>();
  ctx->bases.resize(config_.bases.size());
  for (size_t i = 0; i < config_.bases.size(); ++i) {
    // A base going away: no channel, no I/O (those opened are closed with ctx).
    if (!ctx->bases[i].Open(*config_.bases[i])) return nullptr;
  }
  return ctx;
}

void RaidBdev::OnChannelDestroy(ChannelContext& ctx) {
  // The core keeps this channel while raid I/O is outstanding, forwarded I/O included,
  // so no base I/O of this thread is in flight any more.
  for (BaseChannel& c : static_cast<RaidChannel&>(ctx).bases) c.Close();
}

void RaidBdev::Destruct(std::function<void()> done) {
  UnregisterIoDevice([this, done = std::move(done)] {
    record_->OnBdevGone();
    done();
  });
}

void RaidBdev::DumpInfoJson(nlohmann::json& driver_specific) const {
  driver_specific["raid"] = record_->InfoJson(/*with_name=*/false);
}

}  // namespace bdevkit::raid

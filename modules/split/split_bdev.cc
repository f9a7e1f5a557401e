// A split part's I/O path: range check, then the base at the part's offset (forwarded
// as is when the base can take it: PassIoToBase forwards first).
#include "modules/split/split_bdev.h"

#include <cerrno>
#include <utility>

#include "modules/split/split_layout.h"
#include "nlohmann/json.hpp"

namespace bdevkit::split {

namespace {
struct PartChannel final : ChannelContext {
  BaseChannel base;
};
}  // namespace

SplitPart::SplitPart(SplitModule* module, BdevProperties props, SplitConfig* config, BdevDesc* base,
                     uint64_t offset_blocks)
    : Bdev(module, std::move(props)),
      split_module_(module),
      config_(config),
      base_(base),
      offset_blocks_(offset_blocks),
      part_blocks_(num_blocks()) {
  // Asked on every I/O by the core: the base's answers, taken once. A reset of the
  // base would reach its other parts: the core's reset (quiesce this part, let its
  // I/O drain) is what a part gets.
  for (int t = 0; t < kNumIoTypes; ++t) {
    const IoType type = static_cast<IoType>(t);
    if (type != IoType::kReset && base->bdev().IoTypeSupported(type)) supported_ |= 1u << t;
  }
}

bool SplitPart::IoTypeSupported(IoType type) const {
  return (supported_ >> static_cast<int>(type)) & 1;
}

void SplitPart::SubmitIo(IoChannel& ch, BdevIo& io) {
  // The core checked the range against this part's size already; checked again here
  // because what would slip through lands on the neighbouring part: never passed on.
  if (!InPart(part_blocks_, io.offset_blocks, io.num_blocks)) {
    CompleteIo(io, IoStatus::Error(-EINVAL));
    return;
  }
  // Forwarded as is, or else through the base's descriptor.
  PassIoToBase(ch.ctx<PartChannel>().base, io, offset_blocks_ + io.offset_blocks);
}

std::unique_ptr<ChannelContext> SplitPart::CreateChannelContext() {
  auto ctx = std::make_unique<PartChannel>();
  if (!ctx->base.Open(*base_)) return nullptr;  // the base is going away
  return ctx;
}

void SplitPart::OnChannelDestroy(ChannelContext& ctx) {
  // The core holds this channel while part I/O (forwarded I/O included) is in flight.
  static_cast<PartChannel&>(ctx).base.Close();
}

void SplitPart::Destruct(std::function<void()> done) {
  UnregisterIoDevice([this, done = std::move(done)] {
    split_module_->OnPartGone(config_);
    done();
  });
}

void SplitPart::DumpInfoJson(nlohmann::json& driver_specific) const {
  driver_specific["split"] = {{"base_bdev", base_->bdev().name()},
                              {"offset_blocks", offset_blocks_}};
}

}  // namespace bdevkit::split

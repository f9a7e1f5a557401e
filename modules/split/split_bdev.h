// One part of a split bdev: blocks [0, n) are blocks [offset, offset + n) of the base.
#ifndef BDEVKIT_MODULES_SPLIT_SPLIT_BDEV_H_
#define BDEVKIT_MODULES_SPLIT_SPLIT_BDEV_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "modules/split/split_module.h"

namespace bdevkit::split {

class SplitPart final : public Bdev, public IoDevice {
 public:
  // `config` (which owns `base`) outlives the part: it is told when the part is gone.
  SplitPart(SplitModule* module, BdevProperties props, SplitConfig* config, BdevDesc* base,
            uint64_t offset_blocks);

  bool IoTypeSupported(IoType type) const override;

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override;
  // Splits are written by the module (SplitModule::WriteConfigJson).
  void WriteConfigJson(nlohmann::json& /*config*/) const override {}
  std::unique_ptr<ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(ChannelContext& ctx) override;

 private:
  SplitModule* const split_module_;
  SplitConfig* const config_;
  BdevDesc* const base_;
  const uint64_t offset_blocks_;
  const uint64_t part_blocks_;
  uint32_t supported_ = 0;  // bit per IoType
};

}  // namespace bdevkit::split

#endif  // BDEVKIT_MODULES_SPLIT_SPLIT_BDEV_H_

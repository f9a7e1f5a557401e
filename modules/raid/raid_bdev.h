// The raid bdev as the layer sees it ("Raid Volume"): the I/O path over the bases.
// Its configuration is fixed while it is registered; the raid's life (configuring,
// online, offline, superblock) is the record's job (raid_record.h).
#ifndef BDEVKIT_MODULES_RAID_RAID_BDEV_H_
#define BDEVKIT_MODULES_RAID_RAID_BDEV_H_

#include <functional>
#include <memory>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "modules/raid/raid_layout.h"

namespace bdevkit::raid {

class RaidRecord;
struct RaidChannel;  // a raid's state on one thread (raid_bdev.cc)

// What the I/O path reads: set before registration, unchanged until destruction.
struct RaidIoConfig {
  RaidLayout layout;
  std::vector<BdevDesc*> bases;  // slot order; owned by the record, open while we live
  bool unmap = false;            // every base supports it
  bool write_zeroes = false;
  bool flush = false;
};

class RaidBdev final : public Bdev, public IoDevice {
 public:
  // `record` outlives the bdev: it is told when the bdev is gone (OnBdevGone).
  RaidBdev(BdevModule* module, BdevProperties props, RaidIoConfig config, RaidRecord* record);

  bool IoTypeSupported(IoType type) const override;

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override;
  // Raids are written by the module (every raid, online or not: RaidModule).
  void WriteConfigJson(nlohmann::json& /*config*/) const override {}
  std::unique_ptr<ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(ChannelContext& ctx) override;

 private:
  // SubmitIo's way for everything but raid0 reads and writes (kept out of its path).
  void SubmitOther(RaidChannel& rch, BdevIo& io);

  const RaidIoConfig config_;
  RaidRecord* const record_;
};

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_RAID_BDEV_H_

// The raid module: its records (every raid, online or not), examine (claiming named
// bases as they appear, reassembling raids from superblocks), creation with its
// validation, and save_config. App thread.
#ifndef BDEVKIT_MODULES_RAID_RAID_MODULE_H_
#define BDEVKIT_MODULES_RAID_RAID_MODULE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/module.h"
#include "modules/raid/raid_record.h"

namespace bdevkit::raid {

inline constexpr char kRaidModuleName[] = "raid";
// Strip size when bdev_raid_create gives none for raid0/concat (ours; SPDK needs one).
inline constexpr uint32_t kDefaultStripSizeKb = 64;

class RaidModule final : public BdevModule {
 public:
  RaidModule() : BdevModule(kRaidModuleName) {}

  void Examine(Bdev& bdev) override;
  // One bdev_raid_create per raid, in creation order, whatever its state: a raid whose
  // bases are not there yet is recreated configuring, and takes them as they appear.
  void WriteConfigJson(nlohmann::json& config) const override;
  void Fini() override;

  // bdev_raid_create: validates, claims the bases that exist, and brings the raid
  // online if they all do. On error nothing is left (no record, no claim). A create
  // identical to an existing raid (same name, UUID, level, strip, superblock and
  // bases) succeeds without doing anything, so a config file may name a raid that a
  // superblock already reassembled.
  void Create(RaidParams params, std::function<void(absl::Status)> done);

  RaidRecord* Find(std::string_view name) const;
  std::vector<RaidRecord*> List() const;
  // Drops a record (its bases already released).
  void Forget(RaidRecord* record);

 private:
  absl::Status Validate(const RaidParams& params) const;
  // Takes `bdev_name` into the raid its superblock describes (creating the record if
  // this is the first base seen); done once that raid is online or cannot be yet.
  void OnSuperblock(const std::string& bdev_name, const Superblock& sb,
                    std::function<void(absl::Status)> done);
  std::vector<std::unique_ptr<RaidRecord>> records_;
};

// The registered raid module, or nullptr before registration. Any thread.
RaidModule* GetRaidModule();

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_RAID_MODULE_H_

// One raid's life, whether or not its bdev exists: the bases it names, which of them
// are claimed, its state (configuring until every base is there, online while its
// bdev is registered, offline after a base was removed under it), its superblock, and
// its deletion. Everything here runs on the app thread.
#ifndef BDEVKIT_MODULES_RAID_RAID_RECORD_H_
#define BDEVKIT_MODULES_RAID_RAID_RECORD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "modules/raid/raid_layout.h"
#include "modules/raid/superblock.h"
#include "nlohmann/json.hpp"

namespace bdevkit::raid {

class RaidBdev;
class RaidModule;

enum class RaidState { kConfiguring, kOnline, kOffline };
// "configuring", "online", "offline" (SPDK's names, and bdev_raid_get_bdevs' categories).
std::string_view RaidStateName(RaidState state);

// What bdev_raid_create says (and save_config writes back).
struct RaidParams {
  std::string name;
  std::string uuid;  // canonical; generated when the user gave none
  RaidLevel level = RaidLevel::kRaid0;
  uint32_t strip_size_kb = 0;  // 0 for raid1
  bool superblock = false;
  std::vector<std::string> base_names;
};

struct BaseSlot {
  std::string name;                // the bdev named for this slot (or last seen in it)
  std::string uuid;                // that bdev's UUID once seen
  std::unique_ptr<BdevDesc> desc;  // open and claimed while the base is configured
  // From a superblock: where the data lives on this base (0/0 = computed when online).
  uint64_t sb_data_offset = 0;
  uint64_t sb_data_size = 0;
  uint64_t data_offset = 0;  // as used while online (shown by bdev_raid_get_bdevs)
  uint64_t data_size = 0;
  bool failed = false;           // removed while the raid was online
  bool close_when_gone = false;  // removed; its descriptor closes once the raid bdev is gone
  bool configured() const { return desc != nullptr && !close_when_gone; }
};

class RaidRecord {
 public:
  // `from_superblock`: assembled by examine from a superblock, so a slot only accepts
  // a base carrying that raid's superblock, never a bdev that merely has the name.
  RaidRecord(RaidModule& module, RaidParams params, bool from_superblock);
  ~RaidRecord();
  RaidRecord(const RaidRecord&) = delete;
  RaidRecord& operator=(const RaidRecord&) = delete;

  const RaidParams& params() const { return params_; }
  const std::string& name() const { return params_.name; }
  RaidState state() const { return state_; }
  bool from_superblock() const { return from_superblock_; }
  bool deleting() const { return deleting_; }
  uint32_t num_slots() const { return static_cast<uint32_t>(slots_.size()); }
  const BaseSlot& slot(uint32_t i) const { return slots_[i]; }
  uint32_t block_size() const { return block_size_; }
  uint64_t sb_seq() const { return sb_seq_; }
  // The superblock's geometry a record assembled from one must keep.
  void AdoptSuperblock(const Superblock& sb);

  // Opens `bdev_name` writable, claims it and puts it in slot `i` (unconfigured).
  // Errors (kPermissionDenied/kAlreadyExists when claimed, kInvalidArgument for a
  // block size unlike the other bases' or a strip that is not a multiple of it)
  // leave nothing open.
  absl::Status AddBase(uint32_t i, const std::string& bdev_name);
  // The unconfigured slot waiting for a bdev of this name (by name), or -1.
  int SlotWaitingFor(const std::string& bdev_name) const;
  bool AllConfigured() const;

  // Brings the raid online if every base is configured and nothing else is under way:
  // writes the superblock (if enabled), then registers the raid bdev. `done` gets the
  // outcome (OK also when there was nothing to do yet).
  void MaybeGoOnline(std::function<void(absl::Status)> done);

  // bdev_raid_delete: unregisters the raid bdev (waiting for its users to let go),
  // wipes the superblock if asked, releases the bases, then the module forgets the
  // record. `done` on the app thread.
  void Delete(bool clear_sb, std::function<void(absl::Status)> done);

  // From RaidBdev::Destruct, once no channel of the raid bdev is left.
  void OnBdevGone();

  // The "raid" object of bdev_get_bdevs (with_name = false) and an entry of
  // bdev_raid_get_bdevs (with_name = true).
  nlohmann::ordered_json InfoJson(bool with_name) const;
  // The bdev_raid_create call that recreates this raid.
  nlohmann::json ConfigJson() const;

 private:
  void OnBaseEvent(uint32_t i, BdevEvent event);
  absl::StatusOr<RaidLayout> ComputeLayout() const;
  absl::Status Register(const RaidLayout& layout);
  // Runs `fn` now if nothing asynchronous is under way, else once it is over.
  void WhenIdle(std::function<void()> fn);
  void SetIdle();
  void FinishDelete(bool clear_sb, std::function<void(absl::Status)> done);
  void ReleaseBases();
  uint64_t DataOffsetBlocks() const;

  RaidModule& module_;
  RaidParams params_;
  const bool from_superblock_;
  std::vector<BaseSlot> slots_;
  RaidState state_ = RaidState::kConfiguring;
  uint32_t block_size_ = 0;  // of the bases, once one is configured
  uint64_t sb_seq_ = 0;
  RaidBdev* bdev_ = nullptr;  // registered, or unregistering until OnBdevGone
  bool unregistering_ = false;
  bool deleting_ = false;
  bool busy_ = false;  // a superblock write or wipe is under way
  std::vector<std::function<void()>> when_idle_;
  std::function<void()> on_bdev_gone_;  // what deletion does next
};

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_RAID_RECORD_H_

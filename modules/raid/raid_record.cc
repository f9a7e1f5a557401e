// A raid's life (raid_record.h): bases, state, superblock writes, removal, deletion.
#include "modules/raid/raid_record.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "modules/raid/raid_bdev.h"
#include "modules/raid/raid_module.h"
#include "modules/raid/superblock_io.h"
#include "nlohmann/json.hpp"

namespace bdevkit::raid {

using json = nlohmann::json;

std::string_view RaidStateName(RaidState state) {
  switch (state) {
    case RaidState::kConfiguring:
      return "configuring";
    case RaidState::kOnline:
      return "online";
    case RaidState::kOffline:
      return "offline";
  }
  return "";
}

RaidRecord::RaidRecord(RaidModule& module, RaidParams params, bool from_superblock)
    : module_(module), params_(std::move(params)), from_superblock_(from_superblock) {
  slots_.resize(params_.base_names.size());
  for (size_t i = 0; i < slots_.size(); ++i) slots_[i].name = params_.base_names[i];
}

RaidRecord::~RaidRecord() = default;

void RaidRecord::AdoptSuperblock(const Superblock& sb) {
  block_size_ = sb.block_size;
  sb_seq_ = sb.seq;
  for (size_t i = 0; i < slots_.size() && i < sb.bases.size(); ++i) {
    slots_[i].sb_data_offset = sb.bases[i].data_offset_blocks;
    slots_[i].sb_data_size = sb.bases[i].data_size_blocks;
    if (slots_[i].uuid.empty()) slots_[i].uuid = sb.bases[i].uuid;
  }
}

uint64_t RaidRecord::DataOffsetBlocks() const {
  if (!params_.superblock || block_size_ == 0) return 0;
  const uint64_t strip_bytes = uint64_t{params_.strip_size_kb} * 1024;
  return std::max<uint64_t>(kSuperblockDataOffsetBytes, strip_bytes) / block_size_;
}

int RaidRecord::SlotWaitingFor(const std::string& bdev_name) const {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].desc == nullptr && slots_[i].name == bdev_name) return static_cast<int>(i);
  }
  return -1;
}

bool RaidRecord::AllConfigured() const {
  return std::all_of(slots_.begin(), slots_.end(),
                     [](const BaseSlot& s) { return s.configured(); });
}

absl::Status RaidRecord::AddBase(uint32_t i, const std::string& bdev_name) {
  BaseSlot& slot = slots_[i];
  if (slot.desc != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("raid \"", name(), "\": slot ", i, " is taken"));
  }
  auto prefix = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("base bdev \"", bdev_name, "\": ", s.message()));
  };
  absl::StatusOr<std::unique_ptr<BdevDesc>> desc =
      OpenBdev(bdev_name, /*writable=*/true, [this, i](BdevEvent e) { OnBaseEvent(i, e); });
  if (!desc.ok()) return prefix(desc.status());
  const Bdev& b = (*desc)->bdev();
  // Every base of a raid has the same block size (the first one seen sets it, or the
  // superblock did).
  uint32_t bs = block_size_;
  for (const BaseSlot& s : slots_) {
    if (s.desc != nullptr) bs = s.desc->bdev().block_size();
  }
  if (bs != 0 && b.block_size() != bs) {
    return prefix(absl::InvalidArgumentError(absl::StrCat(
        "block size ", b.block_size(), " differs from the raid's other bases (", bs, ")")));
  }
  bs = b.block_size();
  const uint64_t strip_bytes = uint64_t{params_.strip_size_kb} * 1024;
  if (params_.level != RaidLevel::kRaid1 && strip_bytes % bs != 0) {
    return prefix(absl::InvalidArgumentError(absl::StrCat(
        "strip size ", params_.strip_size_kb, " KiB is not a multiple of its block size ", bs)));
  }
  if (slot.sb_data_size != 0) {
    if (b.num_blocks() < slot.sb_data_offset + slot.sb_data_size) {
      return prefix(absl::InvalidArgumentError(absl::StrCat(
          "has ", b.num_blocks(), " blocks, fewer than its superblock says the raid uses (",
          slot.sb_data_offset + slot.sb_data_size, ")")));
    }
  } else {
    const uint64_t saved = block_size_;
    block_size_ = bs;
    const uint64_t offset = DataOffsetBlocks();
    block_size_ = static_cast<uint32_t>(saved);
    const uint64_t unit = params_.level == RaidLevel::kRaid1 ? 1 : strip_bytes / bs;
    if (b.num_blocks() < offset + unit) {
      return prefix(absl::InvalidArgumentError(
          absl::StrCat("has ", b.num_blocks(), " blocks, too few for the data offset (", offset,
                       ") and one strip (", unit, ")")));
    }
  }
  if (absl::Status s = (*desc)->Claim(ClaimType::kExclusiveWrite, kRaidModuleName); !s.ok()) {
    return prefix(s);
  }
  block_size_ = bs;
  slot.name = b.name();
  slot.uuid = b.uuid();
  slot.failed = false;
  slot.close_when_gone = false;
  slot.desc = std::move(*desc);
  LOG_INFO("raid %s: base %s claimed for slot %u", name(), slot.name, i);
  return absl::OkStatus();
}

absl::StatusOr<RaidLayout> RaidRecord::ComputeLayout() const {
  std::vector<uint64_t> sizes;
  uint64_t offset = DataOffsetBlocks();
  for (const BaseSlot& s : slots_) {
    if (s.sb_data_size != 0) {
      // Keep the superblock's geometry: a base that grew must not move concat data.
      offset = s.sb_data_offset;
      sizes.push_back(s.sb_data_offset + s.sb_data_size);
    } else {
      sizes.push_back(s.desc->bdev().num_blocks());
    }
  }
  const uint32_t strip_blocks =
      params_.level == RaidLevel::kRaid1
          ? 0
          : static_cast<uint32_t>(uint64_t{params_.strip_size_kb} * 1024 / block_size_);
  absl::StatusOr<RaidLayout> layout = RaidLayout::Make(params_.level, strip_blocks, offset, sizes);
  if (!layout.ok()) {
    return absl::Status(layout.status().code(),
                        absl::StrCat("raid \"", name(), "\": ", layout.status().message()));
  }
  return layout;
}

absl::Status RaidRecord::Register(const RaidLayout& layout) {
  RaidIoConfig config{layout, {}, true, true, true};
  BdevProperties p;
  p.name = params_.name;
  p.uuid = params_.uuid;
  p.product_name = "Raid Volume";
  p.block_size = block_size_;
  p.num_blocks = layout.num_blocks();
  for (const BaseSlot& s : slots_) {
    const Bdev& b = s.desc->bdev();
    const BdevProperties& bp = b.properties();
    config.bases.push_back(s.desc.get());
    config.unmap = config.unmap && b.IoTypeSupported(IoType::kUnmap);
    config.write_zeroes = config.write_zeroes && b.IoTypeSupported(IoType::kWriteZeroes);
    config.flush = config.flush && b.IoTypeSupported(IoType::kFlush);
    // The strictest base's rules, so the core cuts and aligns I/O for all of them and
    // the pieces can be forwarded as they are.
    p.required_alignment = std::max(p.required_alignment, bp.required_alignment);
    p.write_unit_size = std::max(p.write_unit_size, bp.write_unit_size);
    if (bp.max_transfer_blocks != 0 &&
        (p.max_transfer_blocks == 0 || bp.max_transfer_blocks < p.max_transfer_blocks)) {
      p.max_transfer_blocks = bp.max_transfer_blocks;
    }
  }
  if (layout.level() != RaidLevel::kRaid1) {
    p.optimal_io_boundary = layout.strip_blocks();
    p.split_on_optimal_io_boundary = true;
  }
  auto bdev = std::make_unique<RaidBdev>(&module_, std::move(p), std::move(config), this);
  RaidBdev* raw = bdev.get();
  raw->RegisterIoDevice(absl::StrCat("raid:", name()));
  // Set before registering: examine of the new bdev may already ask for its info.
  bdev_ = raw;
  const RaidState before = state_;
  state_ = RaidState::kOnline;
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) {
    bdev_ = nullptr;
    state_ = before;
    return s;
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    slots_[i].data_offset = layout.data_offset();
    slots_[i].data_size = layout.data_size(i);
    slots_[i].failed = false;
  }
  LOG_INFO("raid %s online: %s, %llu blocks of %u bytes over %zu bases", name(),
           std::string(RaidLevelName(params_.level)),
           static_cast<unsigned long long>(layout.num_blocks()), block_size_, slots_.size());
  return absl::OkStatus();
}

void RaidRecord::MaybeGoOnline(std::function<void(absl::Status)> done) {
  if (deleting_ || bdev_ != nullptr || !AllConfigured()) return done(absl::OkStatus());
  if (busy_) {
    WhenIdle([this, done = std::move(done)]() mutable { MaybeGoOnline(std::move(done)); });
    return;
  }
  absl::StatusOr<RaidLayout> layout = ComputeLayout();
  if (!layout.ok()) return done(layout.status());
  if (!params_.superblock) return done(Register(*layout));

  // The superblock first: a raid is only online once every base says so on disk.
  Superblock sb;
  sb.seq = sb_seq_ + 1;
  sb.raid_uuid = params_.uuid;
  sb.name = params_.name;
  sb.level = params_.level;
  sb.strip_blocks = layout->strip_blocks();
  sb.block_size = block_size_;
  sb.raid_num_blocks = layout->num_blocks();
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    sb.bases.push_back(
        {slots_[i].uuid, slots_[i].name, layout->data_offset(), layout->data_size(i)});
  }
  std::vector<BdevDesc*> descs;
  std::vector<std::vector<uint8_t>> data;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    sb.this_slot = i;
    absl::StatusOr<std::vector<uint8_t>> bytes = EncodeSuperblock(sb);
    if (!bytes.ok()) return done(bytes.status());
    descs.push_back(slots_[i].desc.get());
    data.push_back(std::move(*bytes));
  }
  busy_ = true;
  WriteBlockZero(std::move(descs), std::move(data),
                 [this, layout = *layout, seq = sb.seq, done = std::move(done)](absl::Status s) {
                   busy_ = false;
                   absl::Status result = s;
                   if (s.ok()) {
                     sb_seq_ = seq;
                     // A base may have gone, or a delete begun, while writing.
                     if (!deleting_ && bdev_ == nullptr && AllConfigured()) {
                       result = Register(layout);
                     }
                   } else {
                     LOG_ERROR("raid %s: writing the superblock failed: %s", name(),
                               std::string(s.message()));
                   }
                   // May run a queued delete that forgets this record: nothing of
                   // `this` is touched after it.
                   SetIdle();
                   done(result);
                 });
}

void RaidRecord::WhenIdle(std::function<void()> fn) {
  if (!busy_) return fn();
  when_idle_.push_back(std::move(fn));
}

void RaidRecord::SetIdle() {
  // Bases removed while a superblock write held them close now.
  if (bdev_ == nullptr) {
    for (BaseSlot& s : slots_) {
      if (s.close_when_gone) {
        s.desc.reset();
        s.close_when_gone = false;
      }
    }
  }
  std::vector<std::function<void()>> fns = std::move(when_idle_);
  when_idle_.clear();
  for (auto& fn : fns) fn();
}

void RaidRecord::OnBaseEvent(uint32_t i, BdevEvent event) {
  BaseSlot& slot = slots_[i];
  if (event != BdevEvent::kRemove || slot.desc == nullptr || slot.close_when_gone) return;
  LOG_WARNING("raid %s: base bdev %s (slot %u) removed", name(), slot.name, i);
  if (bdev_ != nullptr) {
    // Its channels are still held by the raid bdev's: close once that is gone. Raid0
    // and concat cannot run without a base, and raid1 has no degraded mode yet: the
    // raid goes offline, its bdev is unregistered (its users get kRemove).
    slot.close_when_gone = true;
    if (state_ == RaidState::kOnline) {
      slot.failed = true;
      state_ = RaidState::kOffline;
    }
    if (!unregistering_) {
      unregistering_ = true;
      UnregisterBdev(name(), nullptr);
    }
    return;
  }
  if (busy_) {
    slot.close_when_gone = true;  // a superblock write still uses it
    return;
  }
  slot.desc.reset();
}

void RaidRecord::OnBdevGone() {
  bdev_ = nullptr;
  unregistering_ = false;
  if (!busy_) SetIdle();  // closes the removed bases
  if (on_bdev_gone_) {
    std::function<void()> next = std::move(on_bdev_gone_);
    on_bdev_gone_ = nullptr;
    return next();
  }
  if (state_ == RaidState::kOffline) {
    // Lost a base: keep the record (and the other bases' claims) so the raid comes
    // back when that base does.
    LOG_WARNING(
        "raid %s offline: %u of %zu bases left", name(),
        static_cast<unsigned>(std::count_if(slots_.begin(), slots_.end(),
                                            [](const BaseSlot& s) { return s.configured(); })),
        slots_.size());
    MaybeGoOnline([n = name()](absl::Status s) {
      if (!s.ok()) LOG_ERROR("raid %s: %s", n, std::string(s.message()));
    });
    return;
  }
  // Unregistered by someone else (the layer stopping, a generic delete): the raid is
  // gone with its bdev.
  ReleaseBases();
  module_.Forget(this);
}

void RaidRecord::ReleaseBases() {
  for (BaseSlot& s : slots_) s.desc.reset();
}

void RaidRecord::Delete(bool clear_sb, std::function<void(absl::Status)> done) {
  if (deleting_) {
    return done(absl::UnavailableError(absl::StrCat("raid \"", name(), "\" is being deleted")));
  }
  deleting_ = true;
  WhenIdle([this, clear_sb, done = std::move(done)]() mutable {
    if (bdev_ == nullptr) return FinishDelete(clear_sb, std::move(done));
    on_bdev_gone_ = [this, clear_sb, done = std::move(done)]() mutable {
      FinishDelete(clear_sb, std::move(done));
    };
    if (!unregistering_) {
      unregistering_ = true;
      UnregisterBdev(name(), nullptr);
    }
  });
}

void RaidRecord::FinishDelete(bool clear_sb, std::function<void(absl::Status)> done) {
  RaidModule& module = module_;
  std::vector<BdevDesc*> descs;
  for (const BaseSlot& s : slots_) {
    if (s.desc != nullptr) descs.push_back(s.desc.get());
  }
  if (!clear_sb || !params_.superblock || descs.empty()) {
    ReleaseBases();
    module.Forget(this);
    return done(absl::OkStatus());
  }
  std::vector<std::vector<uint8_t>> zeroes;
  for (BdevDesc* d : descs) {
    zeroes.emplace_back(SuperblockAreaBytes(d->bdev().block_size()), 0);
  }
  busy_ = true;
  WriteBlockZero(
      std::move(descs), std::move(zeroes), [this, &module, done = std::move(done)](absl::Status s) {
        busy_ = false;
        const std::string n = name();
        ReleaseBases();
        module.Forget(this);
        if (!s.ok()) {
          return done(absl::Status(
              s.code(),
              absl::StrCat("raid \"", n,
                           "\" deleted, but clearing its superblock failed: ", s.message())));
        }
        done(absl::OkStatus());
      });
}

nlohmann::ordered_json RaidRecord::InfoJson(bool with_name) const {
  using ojson = nlohmann::ordered_json;  // SPDK's key order
  ojson bases = ojson::array();
  uint32_t discovered = 0, operational = 0;
  for (const BaseSlot& s : slots_) {
    if (s.configured()) ++discovered;
    if (!s.failed) ++operational;
    const bool known = bdev_ != nullptr || s.sb_data_size != 0;
    bases.push_back({{"name", s.name.empty() ? ojson(nullptr) : ojson(s.name)},
                     {"uuid", s.uuid.empty() ? ojson(nullptr) : ojson(s.uuid)},
                     {"is_configured", s.configured()},
                     {"data_offset", bdev_ != nullptr ? s.data_offset
                                     : known          ? s.sb_data_offset
                                                      : 0},
                     {"data_size", bdev_ != nullptr ? s.data_size
                                   : known          ? s.sb_data_size
                                                    : 0}});
  }
  ojson out = ojson::object();
  if (with_name) out["name"] = params_.name;
  out["uuid"] = params_.uuid;
  out["strip_size_kb"] = params_.strip_size_kb;
  out["state"] = RaidStateName(state_);
  out["raid_level"] = RaidLevelName(params_.level);
  out["superblock"] = params_.superblock;
  out["num_base_bdevs"] = slots_.size();
  out["num_base_bdevs_discovered"] = discovered;
  out["num_base_bdevs_operational"] = operational;
  out["base_bdevs_list"] = std::move(bases);
  return out;
}

json RaidRecord::ConfigJson() const {
  json names = json::array();
  for (const BaseSlot& s : slots_) names.push_back(s.name);
  return {{"method", "bdev_raid_create"},
          {"params",
           {{"name", params_.name},
            {"uuid", params_.uuid},
            {"strip_size_kb", params_.strip_size_kb},
            {"raid_level", RaidLevelName(params_.level)},
            {"superblock", params_.superblock},
            {"base_bdevs", std::move(names)}}}};
}

}  // namespace bdevkit::raid

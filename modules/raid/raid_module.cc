// The raid module (raid_module.h): creation and its checks, examine, save_config.
#include "modules/raid/raid_module.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "modules/raid/superblock_io.h"
#include "nlohmann/json.hpp"

namespace bdevkit::raid {

namespace {

void LogIfError(const std::string& raid, const absl::Status& s) {
  if (!s.ok()) LOG_ERROR("raid %s: %s", raid, std::string(s.message()));
}

bool SameRaid(const RaidRecord& r, const RaidParams& p) {
  const RaidParams& q = r.params();
  if (q.name != p.name || q.uuid != p.uuid || q.level != p.level ||
      q.strip_size_kb != p.strip_size_kb || q.superblock != p.superblock ||
      p.base_names.size() != r.num_slots()) {
    return false;
  }
  for (uint32_t i = 0; i < r.num_slots(); ++i) {
    if (r.slot(i).name != p.base_names[i]) return false;
  }
  return true;
}

}  // namespace

RaidModule* GetRaidModule() { return static_cast<RaidModule*>(FindModule(kRaidModuleName)); }

RaidRecord* RaidModule::Find(std::string_view name) const {
  for (const auto& r : records_) {
    if (r->name() == name) return r.get();
  }
  return nullptr;
}

std::vector<RaidRecord*> RaidModule::List() const {
  std::vector<RaidRecord*> out;
  for (const auto& r : records_) out.push_back(r.get());
  return out;
}

void RaidModule::Forget(RaidRecord* record) {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [record](const auto& r) { return r.get() == record; });
  if (it == records_.end()) return;
  LOG_INFO("raid %s deleted", record->name());
  // Destroyed after leaving the vector: its destructor may close descriptors.
  std::unique_ptr<RaidRecord> owned = std::move(*it);
  records_.erase(it);
}

absl::Status RaidModule::Validate(const RaidParams& p) const {
  if (p.name.empty()) return absl::InvalidArgumentError("\"name\": must not be empty");
  if (p.superblock && p.name.size() > kSuperblockNameMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"name\": a raid with a superblock has a name of ", kSuperblockNameMax,
                     " characters at most"));
  }
  const uint32_t max_bases = p.superblock ? kSuperblockMaxBases : kMaxBaseBdevs;
  if (p.base_names.size() < kMinBaseBdevs || p.base_names.size() > max_bases) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"base_bdevs\": ", std::string(RaidLevelName(p.level)), " needs ",
                     kMinBaseBdevs, " to ", max_bases, " base bdevs",
                     p.superblock ? " (with a superblock)" : "", ", got ", p.base_names.size()));
  }
  std::set<std::string> seen;
  for (const std::string& b : p.base_names) {
    if (b.empty()) return absl::InvalidArgumentError("\"base_bdevs\": a name is empty");
    if (b == p.name) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"base_bdevs\": raid \"", p.name, "\" cannot be its own base"));
    }
    if (!seen.insert(b).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"base_bdevs\": \"", b, "\" is listed twice"));
    }
    for (const auto& r : records_) {
      for (uint32_t i = 0; i < r->num_slots(); ++i) {
        if (r->slot(i).name == b) {
          return absl::AlreadyExistsError(
              absl::StrCat("base bdev \"", b, "\" is already a base of raid \"", r->name(), "\""));
        }
      }
    }
  }
  if (p.level == RaidLevel::kRaid1) {
    if (p.strip_size_kb != 0) {
      return absl::InvalidArgumentError("\"strip_size_kb\": raid1 has no strip (give 0 or none)");
    }
  } else if (p.strip_size_kb == 0 || (p.strip_size_kb & (p.strip_size_kb - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"strip_size_kb\": ", p.strip_size_kb, " is not a power of two"));
  }
  if (FindBdev(p.name) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("a bdev named \"", p.name, "\" already exists"));
  }
  return absl::OkStatus();
}

void RaidModule::Create(RaidParams params, std::function<void(absl::Status)> done) {
  if (RaidRecord* existing = Find(params.name)) {
    if (SameRaid(*existing, params)) return done(absl::OkStatus());
    return done(absl::AlreadyExistsError(
        absl::StrCat("a raid named \"", params.name, "\" already exists")));
  }
  if (absl::Status s = Validate(params); !s.ok()) return done(s);
  auto record = std::make_unique<RaidRecord>(*this, params, /*from_superblock=*/false);
  for (uint32_t i = 0; i < params.base_names.size(); ++i) {
    if (FindBdev(params.base_names[i]) == nullptr) continue;  // taken when it appears
    // On error `record` goes, and with it every claim taken so far.
    if (absl::Status s = record->AddBase(i, params.base_names[i]); !s.ok()) return done(s);
  }
  RaidRecord* raw = record.get();
  records_.push_back(std::move(record));
  LOG_INFO("raid %s created (%s, %zu bases)", raw->name(), std::string(RaidLevelName(params.level)),
           params.base_names.size());
  raw->MaybeGoOnline([this, raw, done = std::move(done)](absl::Status s) {
    // Failing to come online at creation leaves nothing behind.
    if (!s.ok() && Find(raw->params().name) == raw && !raw->deleting()) {
      raw->Delete(/*clear_sb=*/false, [s, done](absl::Status) { done(s); });
      return;
    }
    done(s);
  });
}

void RaidModule::Examine(Bdev& bdev) {
  const std::string name = bdev.name();
  // ExamineDone only once the raid this bdev completes is online (superblock written,
  // bdev registered), so bdev_wait_for_examine returns with it there.
  Bdev* b = &bdev;
  auto done = [this, b](const std::string& raid, absl::Status s) {
    LogIfError(raid, s);
    ExamineDone(*b, *this);
  };
  for (const auto& r : records_) {
    if (r->deleting() || r->from_superblock()) continue;
    const int i = r->SlotWaitingFor(name);
    if (i < 0) continue;
    if (absl::Status s = r->AddBase(static_cast<uint32_t>(i), name); !s.ok()) {
      // Named by a raid but unusable (claimed by someone else, wrong block size...):
      // not searched for a superblock either.
      LOG_WARNING("raid %s: cannot take %s: %s", r->name(), name, std::string(s.message()));
      return ExamineDone(bdev, *this);
    }
    r->MaybeGoOnline([done, n = r->name()](absl::Status s) { done(n, s); });
    return;
  }
  // Named by no raid: it may carry a superblock. `bdev` stays registered until the
  // read's descriptor closes, which is after this callback.
  absl::Status opened = ReadSuperblock(name, [this, name, done](absl::StatusOr<Superblock> sb) {
    if (!sb.ok()) {
      if (sb.status().code() != absl::StatusCode::kNotFound) {
        LOG_WARNING("raid: bdev %s: %s", name, std::string(sb.status().message()));
      }
      return done(name, absl::OkStatus());
    }
    OnSuperblock(name, *sb, [done, n = sb->name](absl::Status s) { done(n, s); });
  });
  if (!opened.ok()) ExamineDone(bdev, *this);
}

void RaidModule::OnSuperblock(const std::string& bdev_name, const Superblock& sb,
                              std::function<void(absl::Status)> done) {
  RaidRecord* r = nullptr;
  for (const auto& rec : records_) {
    if (rec->params().uuid == sb.raid_uuid) r = rec.get();
  }
  bool created = false;
  if (r == nullptr) {
    if (Find(sb.name) != nullptr || FindBdev(sb.name) != nullptr) {
      LOG_WARNING(
          "raid: bdev %s holds a superblock of raid %s (%s), but a raid or bdev of that "
          "name exists with another UUID: ignored",
          bdev_name, sb.name, sb.raid_uuid);
      return done(absl::OkStatus());
    }
    RaidParams p;
    p.name = sb.name;
    p.uuid = sb.raid_uuid;
    p.level = sb.level;
    p.strip_size_kb = sb.level == RaidLevel::kRaid1
                          ? 0
                          : static_cast<uint32_t>(uint64_t{sb.strip_blocks} * sb.block_size / 1024);
    p.superblock = true;
    for (const SuperblockBase& b : sb.bases) p.base_names.push_back(b.name);
    records_.push_back(std::make_unique<RaidRecord>(*this, std::move(p), /*from_superblock=*/true));
    r = records_.back().get();
    r->AdoptSuperblock(sb);
    created = true;
    LOG_INFO("raid %s: found its superblock on %s, assembling", sb.name, bdev_name);
  } else {
    const RaidParams& p = r->params();
    const uint32_t strip_kb =
        sb.level == RaidLevel::kRaid1
            ? 0
            : static_cast<uint32_t>(uint64_t{sb.strip_blocks} * sb.block_size / 1024);
    if (!p.superblock || p.level != sb.level || p.strip_size_kb != strip_kb ||
        r->num_slots() != sb.bases.size() ||
        (r->block_size() != 0 && r->block_size() != sb.block_size)) {
      LOG_WARNING("raid %s: the superblock on %s does not match the raid's geometry: ignored",
                  r->name(), bdev_name);
      return done(absl::OkStatus());
    }
    if (r->deleting()) return done(absl::OkStatus());
  }
  const BaseSlot& slot = r->slot(sb.this_slot);
  if (slot.desc != nullptr) {
    if (slot.desc->bdev().name() != bdev_name) {
      LOG_WARNING("raid %s: %s says it is slot %u, which %s already fills: ignored", r->name(),
                  bdev_name, sb.this_slot, slot.desc->bdev().name());
    }
    return done(absl::OkStatus());
  }
  if (absl::Status s = r->AddBase(sb.this_slot, bdev_name); !s.ok()) {
    LOG_WARNING("raid %s: cannot take %s: %s", r->name(), bdev_name, std::string(s.message()));
    if (created) Forget(r);
    return done(absl::OkStatus());
  }
  r->MaybeGoOnline(std::move(done));
}

void RaidModule::WriteConfigJson(nlohmann::json& config) const {
  for (const auto& r : records_) {
    if (!r->deleting()) config.push_back(r->ConfigJson());
  }
}

void RaidModule::Fini() { records_.clear(); }

}  // namespace bdevkit::raid

// bdev_raid_create / bdev_raid_delete / bdev_raid_get_bdevs, and the module's
// registration.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/raid/raid_module.h"
#include "nlohmann/json.hpp"

namespace bdevkit::raid {
namespace {

using json = nlohmann::json;

absl::StatusOr<RaidParams> ParamsFromJson(const json& params) {
  RaidParams p;
  p.name = ParamString(params, "name");
  absl::StatusOr<RaidLevel> level = ParseRaidLevel(ParamString(params, "raid_level"));
  if (!level.ok()) return level.status();
  p.level = *level;
  for (const json& b : params["base_bdevs"]) {
    if (!b.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"base_bdevs\": expected bdev names (strings), got ", b.dump()));
    }
    p.base_names.push_back(b.get<std::string>());
  }
  if (HasParam(params, "strip_size_kb")) {
    const uint64_t kb = ParamUint(params, "strip_size_kb");
    if (kb > (uint64_t{1} << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("\"strip_size_kb\": ", kb, " is too large"));
    }
    p.strip_size_kb = static_cast<uint32_t>(kb);
  } else if (p.level != RaidLevel::kRaid1) {
    p.strip_size_kb = kDefaultStripSizeKb;
  }
  p.superblock = ParamBool(params, "superblock");
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(ParamString(params, "uuid"));
  if (!uuid.ok()) return uuid.status();
  p.uuid = *uuid;
  return p;
}

RaidModule* ModuleOrNull() { return GetRaidModule(); }

void CreateHandler(const json& params, RpcDone done) {
  RaidModule* m = ModuleOrNull();
  if (m == nullptr) return done(absl::FailedPreconditionError("the raid module is not registered"));
  absl::StatusOr<RaidParams> p = ParamsFromJson(params);
  if (!p.ok()) return done(p.status());
  m->Create(std::move(*p),
            [done = std::move(done)](absl::Status s) { s.ok() ? done(json(true)) : done(s); });
}

void DeleteHandler(const json& params, RpcDone done) {
  RaidModule* m = ModuleOrNull();
  if (m == nullptr) return done(absl::FailedPreconditionError("the raid module is not registered"));
  const std::string name = ParamString(params, "name");
  RaidRecord* r = m->Find(name);
  if (r == nullptr) return done(absl::NotFoundError(absl::StrCat("no raid named \"", name, "\"")));
  r->Delete(ParamBool(params, "clear_sb"),
            [done = std::move(done)](absl::Status s) { s.ok() ? done(json(true)) : done(s); });
}

void GetBdevsHandler(const json& params, RpcDone done) {
  RaidModule* m = ModuleOrNull();
  if (m == nullptr) return done(absl::FailedPreconditionError("the raid module is not registered"));
  const std::string category = ParamString(params, "category");
  if (category != "all" && category != "online" && category != "configuring" &&
      category != "offline") {
    return done(absl::InvalidArgumentError(absl::StrCat(
        "\"category\": expected all, online, configuring or offline, got \"", category, "\"")));
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (RaidRecord* r : m->List()) {
    if (category == "all" || RaidStateName(r->state()) == category) {
      out.push_back(r->InfoJson(/*with_name=*/true));
    }
  }
  done(std::move(out));
}

}  // namespace
}  // namespace bdevkit::raid

void bdevkit_register_module_raid() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterModule(std::make_unique<bdevkit::raid::RaidModule>());
  bdevkit::RpcMethod create{
      .name = "bdev_raid_create",
      .summary =
          "Creates a raid over base bdevs (raid0, concat or raid1); returns true. Bases "
          "that do not exist yet are claimed when they appear: the raid stays "
          "\"configuring\" until the last one does",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "raid bdev name"},
              {"raid_level", RpcParamType::kString, true, nullptr,
               "\"raid0\" (or \"0\"), \"concat\", \"raid1\" (or \"1\")"},
              {"base_bdevs", RpcParamType::kArray, true, nullptr,
               "base bdev names, 2 or more, each once; all of one block size"},
              {"strip_size_kb", RpcParamType::kUint, false, nullptr,
               "raid0/concat strip in KiB: a power of two and a multiple of the block size "
               "(default 64); raid1: 0 or absent"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
              {"superblock", RpcParamType::kBool, false, false,
               "write a superblock to every base so the raid reassembles by itself when its "
               "bases appear (data then starts 1 MiB, or one strip, into each base)"},
          },
      .handler = bdevkit::raid::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_raid_delete",
      .summary =
          "Deletes a raid (online, configuring or offline) and releases its bases; "
          "returns true",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "raid name; unknown -> -19"},
              {"clear_sb", RpcParamType::kBool, false, false,
               "wipe the superblock from the bases that are present, so it never reassembles"},
          },
      .handler = bdevkit::raid::DeleteHandler,
  };
  bdevkit::RpcMethod list{
      .name = "bdev_raid_get_bdevs",
      .summary = "Lists raids with their state and bases",
      .params = {{"category", RpcParamType::kString, false, "all",
                  "all, online, configuring or offline"}},
      .handler = bdevkit::raid::GetBdevsHandler,
  };
  for (bdevkit::RpcMethod* m : {&create, &del, &list}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("raid: %s", std::string(s.message()));
    }
  }
}

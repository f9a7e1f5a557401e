// bdev_set_qos_limit and the JSON of a bdev's limits (bdev_get_bdevs'
// "assigned_rate_limits", the save_config entry). The limits themselves are the
// core's (SetQosLimits in include/bdevkit/bdev.h, bdev/core/qos.h).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"
#include "rpc/core_methods.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;

// The four limits in SPDK's order, with their field in QosLimits.
struct LimitField {
  const char* name;
  uint64_t QosLimits::*member;
  std::optional<uint64_t> QosLimitsUpdate::*update;
};
constexpr LimitField kLimitFields[] = {
    {"rw_ios_per_sec", &QosLimits::rw_ios_per_sec, &QosLimitsUpdate::rw_ios_per_sec},
    {"rw_mbytes_per_sec", &QosLimits::rw_mbytes_per_sec, &QosLimitsUpdate::rw_mbytes_per_sec},
    {"r_mbytes_per_sec", &QosLimits::r_mbytes_per_sec, &QosLimitsUpdate::r_mbytes_per_sec},
    {"w_mbytes_per_sec", &QosLimits::w_mbytes_per_sec, &QosLimitsUpdate::w_mbytes_per_sec},
};

void SetQosLimit(const json& params, RpcDone done) {
  QosLimitsUpdate update;
  for (const LimitField& f : kLimitFields) {
    if (HasParam(params, f.name)) update.*f.update = ParamUint(params, f.name);
  }
  SetQosLimits(ParamString(params, "name"), update,
               [done = std::move(done)](absl::Status s) { s.ok() ? done(true) : done(s); });
}

}  // namespace

nlohmann::ordered_json QosLimitsJson(const Bdev& bdev) {
  const QosLimits limits = GetQosLimits(bdev);
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const LimitField& f : kLimitFields) out[f.name] = limits.*f.member;
  return out;
}

nlohmann::json QosConfigEntry(const Bdev& bdev) {
  const QosLimits limits = GetQosLimits(bdev);
  if (!limits.any()) return nullptr;
  json params = {{"name", bdev.name()}};
  for (const LimitField& f : kLimitFields) {
    if (limits.*f.member != 0) params[f.name] = limits.*f.member;
  }
  return {{"method", "bdev_set_qos_limit"}, {"params", std::move(params)}};
}

std::vector<RpcMethod> QosRpcMethods() {
  const char* const kKeep = " (omitted: unchanged; 0 removes the limit)";
  std::vector<RpcMethod> methods;
  methods.push_back(RpcMethod{
      .name = "bdev_set_qos_limit",
      .summary = "Sets, changes or removes a bdev's rate limits while I/O runs; returns true. "
                 "Reads and writes count; a limit is shared by every thread's I/O on the bdev, "
                 "which stays on its own thread. No rounding (SPDK rounds IOPS up to a "
                 "multiple of 1000). At least one limit must be given",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr,
               "bdev name, alias or UUID; unknown -> -19"},
              {"rw_ios_per_sec", RpcParamType::kUint, false, nullptr,
               std::string("reads + writes per second") + kKeep},
              {"rw_mbytes_per_sec", RpcParamType::kUint, false, nullptr,
               std::string("MiB read + written per second") + kKeep},
              {"r_mbytes_per_sec", RpcParamType::kUint, false, nullptr,
               std::string("MiB read per second") + kKeep},
              {"w_mbytes_per_sec", RpcParamType::kUint, false, nullptr,
               std::string("MiB written per second") + kKeep},
          },
      .handler = SetQosLimit,
  });
  return methods;
}

}  // namespace bdevkit

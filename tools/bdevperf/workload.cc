#include "tools/bdevperf/workload.h"

#include <array>

namespace bdevkit::perf {
namespace {

struct WorkloadInfo {
  Workload workload;
  std::string_view name;
  bool random;
  bool writes;
};

constexpr std::array<WorkloadInfo, 5> kWorkloads = {{
    {Workload::kRead, "read", false, false},
    {Workload::kWrite, "write", false, true},
    {Workload::kRandRead, "randread", true, false},
    {Workload::kRandWrite, "randwrite", true, true},
    // verify walks the bdev in order so it can keep in-flight ranges apart cheaply.
    {Workload::kVerify, "verify", false, true},
}};

const WorkloadInfo& Info(Workload workload) {
  for (const auto& info : kWorkloads) {
    if (info.workload == workload) return info;
  }
  return kWorkloads[0];  // unreachable: every enum value has a row
}

}  // namespace

std::string_view WorkloadName(Workload workload) { return Info(workload).name; }

std::optional<Workload> ParseWorkload(std::string_view name) {
  for (const auto& info : kWorkloads) {
    if (info.name == name) return info.workload;
  }
  return std::nullopt;
}

std::string WorkloadNames() {
  std::string names;
  for (const auto& info : kWorkloads) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

bool IsRandom(Workload workload) { return Info(workload).random; }
bool Writes(Workload workload) { return Info(workload).writes; }

}  // namespace bdevkit::perf

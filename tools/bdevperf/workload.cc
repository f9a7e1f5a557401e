#include "tools/bdevperf/workload.h"

#include <array>

namespace bdevkit::perf {
namespace {

struct WorkloadInfo {
  Workload workload;
  std::string_view name;
  bool random;
  bool reads;
  bool writes;  // changes data (write, unmap, write_zeroes; flush counts: it needs rw)
  std::optional<IoType> single;
};

constexpr std::array<WorkloadInfo, 11> kWorkloads = {{
    {Workload::kRead, "read", false, true, false, IoType::kRead},
    {Workload::kWrite, "write", false, false, true, IoType::kWrite},
    {Workload::kRandRead, "randread", true, true, false, IoType::kRead},
    {Workload::kRandWrite, "randwrite", true, false, true, IoType::kWrite},
    {Workload::kRw, "rw", false, true, true, std::nullopt},
    {Workload::kRandRw, "randrw", true, true, true, std::nullopt},
    // verify walks the bdev in order so it can keep in-flight ranges apart cheaply.
    {Workload::kVerify, "verify", false, true, true, std::nullopt},
    {Workload::kReset, "reset", false, true, true, std::nullopt},
    {Workload::kUnmap, "unmap", false, false, true, IoType::kUnmap},
    // flush changes nothing, but a bdev only accepts it on a writable descriptor.
    {Workload::kFlush, "flush", false, false, true, IoType::kFlush},
    {Workload::kWriteZeroes, "write_zeroes", false, false, true, IoType::kWriteZeroes},
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
bool Reads(Workload workload) { return Info(workload).reads; }
bool IsMixed(Workload workload) {
  return workload == Workload::kRw || workload == Workload::kRandRw;
}
bool Verifies(Workload workload) {
  return workload == Workload::kVerify || workload == Workload::kReset;
}
std::optional<IoType> SingleIoType(Workload workload) { return Info(workload).single; }

bool BdevSupports(const Bdev& bdev, Workload workload) {
  return !MissingIoType(workload, [&bdev](IoType t) { return bdev.IoTypeSupported(t); });
}

}  // namespace bdevkit::perf

// The workloads bdevperf knows and what each one does per I/O. Adding a workload is
// one enum value, one row in the table in workload.cc and, if it needs a new kind of
// I/O, a case in Job::SubmitTask().
#ifndef BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_
#define BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_

#include <optional>
#include <string>
#include <string_view>

namespace bdevkit::perf {

enum class Workload {
  kRead,
  kWrite,
  kRandRead,
  kRandWrite,
  kVerify,
};

// SPDK's names: "read", "write", "randread", "randwrite", "verify".
std::string_view WorkloadName(Workload workload);
std::optional<Workload> ParseWorkload(std::string_view name);
// "read, write, randread, randwrite, verify", for usage and error messages.
std::string WorkloadNames();

// Offsets are drawn at random (else they walk the bdev sequentially).
bool IsRandom(Workload workload);
// The job writes (so it opens the bdev writable).
bool Writes(Workload workload);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_

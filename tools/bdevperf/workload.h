// The workloads bdevperf knows and what each one does per I/O. Adding a workload is
// one enum value, one row in the table in workload.cc and, if it needs a new kind of
// I/O, a case in Job::PrepareNext().
#ifndef BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_
#define BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_

#include <optional>
#include <string>
#include <string_view>

#include "bdevkit/bdev.h"

namespace bdevkit::perf {

enum class Workload {
  kRead,
  kWrite,
  kRandRead,
  kRandWrite,
  kRw,      // sequential, reads and writes mixed by -M
  kRandRw,  // random, reads and writes mixed by -M
  kVerify,  // write, read back, compare
  kReset,   // verify, plus a bdev reset every second
  kUnmap,
  kFlush,
  kWriteZeroes,
};

// SPDK's names: "read", "write", "randread", "randwrite", "rw", "randrw", "verify",
// "reset", "unmap", "flush", "write_zeroes".
std::string_view WorkloadName(Workload workload);
std::optional<Workload> ParseWorkload(std::string_view name);
// "read, write, ...", for usage and error messages.
std::string WorkloadNames();

// Offsets are drawn at random (else they walk the job's range in order).
bool IsRandom(Workload workload);
// The job changes data (so it opens the bdev writable).
bool Writes(Workload workload);
// The job reads.
bool Reads(Workload workload);
// Reads and writes are mixed by a read percentage (-M).
bool IsMixed(Workload workload);
// Writes are read back and compared (verify, reset).
bool Verifies(Workload workload);
// The one I/O type of single-type workloads (read for read/randread, unmap for unmap,
// ...); nullopt for mixed and verifying workloads.
std::optional<IoType> SingleIoType(Workload workload);
// I/O types the bdev must support for the workload (reset: also kReset).
bool BdevSupports(const Bdev& bdev, Workload workload);
// The first I/O type the workload needs that `supported` says no to, or nullopt.
// `supported(type)` answers for the bdev. For error messages and job planning.
template <typename Supported>
std::optional<IoType> MissingIoType(Workload workload, Supported supported);

// --- implementation of the template ----------------------------------------------
template <typename Supported>
std::optional<IoType> MissingIoType(Workload workload, Supported supported) {
  if (Reads(workload) && !supported(IoType::kRead)) return IoType::kRead;
  if (Writes(workload)) {
    if (auto single = SingleIoType(workload)) {
      if (!supported(*single)) return *single;
    } else if (!supported(IoType::kWrite)) {
      return IoType::kWrite;
    }
  }
  if (workload == Workload::kReset && !supported(IoType::kReset)) return IoType::kReset;
  return std::nullopt;
}

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_WORKLOAD_H_

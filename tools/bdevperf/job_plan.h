// Which jobs a run has: one per unclaimed bdev, round-robin over the reactor threads
// (SPDK's default), or with -C one per (bdev, thread), each on its own slice of the
// bdev; -T narrows to one bdev. Bdevs that lack an I/O type the workload needs are
// skipped with a note, as SPDK does. Pure logic over a description of the bdevs, so
// it is unit tested without a runtime.
#ifndef BDEVKIT_TOOLS_BDEVPERF_JOB_PLAN_H_
#define BDEVKIT_TOOLS_BDEVPERF_JOB_PLAN_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "tools/bdevperf/options.h"

namespace bdevkit::perf {

struct BdevInfo {
  std::string name;
  uint32_t block_size = 512;
  uint64_t num_blocks = 0;
  bool claimed = false;  // the base of a virtual bdev: not tested unless named by -T
  std::array<bool, kNumIoTypes> supported{};
};

// The registered bdevs, in registration order. App thread.
std::vector<BdevInfo> DescribeBdevs();

struct PlannedJob {
  std::string bdev_name;
  size_t thread_index = 0;  // into Runtime::ReactorThreads()
  uint64_t region_offset_blocks = 0;
  uint64_t region_num_blocks = 0;  // 0 = to the end
};

struct JobPlan {
  std::vector<PlannedJob> jobs;
  std::vector<std::string> notes;  // "Skipping X: it does not support unmap"
};

// `test` must be complete (CheckTestParams). `only_bdev` empty = every unclaimed
// bdev. Errors: kNotFound (no bdev to test, -T names none), kInvalidArgument (the I/O
// size does not fit a bdev or its -C slice), each one line naming the bdev.
absl::StatusOr<JobPlan> PlanJobs(const std::vector<BdevInfo>& bdevs, const TestParams& test,
                                 bool every_core, const std::string& only_bdev, size_t num_threads);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_JOB_PLAN_H_

// What one job measured and the result table printed from it, laid out like SPDK's
// bdevperf table (a Latency(us) header, one "Job:" line and one row per job, a rule,
// a Total row). Pure formatting: no runtime, so it is unit tested on its own.
#ifndef BDEVKIT_TOOLS_BDEVPERF_REPORT_H_
#define BDEVKIT_TOOLS_BDEVPERF_REPORT_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tools/bdevperf/workload.h"

namespace bdevkit::perf {

// Counters a job keeps on its own thread while it runs (no atomics: only that thread
// touches them until the job reports back).
struct JobCounters {
  uint64_t io_completed = 0;  // successful I/Os
  uint64_t io_failed = 0;
  uint64_t io_timeout = 0;         // no timeouts yet (-k comes later); always 0
  uint64_t latency_ticks_sum = 0;  // of successful I/Os
  uint64_t latency_ticks_min = std::numeric_limits<uint64_t>::max();
  uint64_t latency_ticks_max = 0;

  void Record(uint64_t latency_ticks) {
    ++io_completed;
    latency_ticks_sum += latency_ticks;
    if (latency_ticks < latency_ticks_min) latency_ticks_min = latency_ticks;
    if (latency_ticks > latency_ticks_max) latency_ticks_max = latency_ticks;
  }
};

struct JobResult {
  std::string name;       // the bdev
  std::string core_mask;  // "0x1": the core the job ran on
  Workload workload = Workload::kRead;
  uint32_t queue_depth = 0;
  uint64_t io_size = 0;
  uint64_t runtime_ticks = 0;
  uint64_t ticks_per_second = 1;
  JobCounters counters;
  // verify only: the LBA range the job walks.
  uint64_t verify_start_lba = 0;
  uint64_t verify_num_blocks = 0;

  double RuntimeSeconds() const;
  double Iops() const;
  double MibPerSecond() const;
  double FailPerSecond() const;
  double TimeoutPerSecond() const;
  double AverageLatencyUs() const;  // 0 when nothing completed
  double MinLatencyUs() const;
  double MaxLatencyUs() const;
};

// The whole table, ending with a newline.
std::string FormatResultTable(const std::vector<JobResult>& results);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_REPORT_H_

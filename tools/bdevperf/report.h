// What one job measured and the result table printed from it, laid out like SPDK's
// bdevperf table (a Latency(us) header, one "Job:" line and one row per job, a rule,
// a Total row), plus the latency summary (-l) and histogram (-ll). Pure formatting:
// no runtime, so it is unit tested on its own.
#ifndef BDEVKIT_TOOLS_BDEVPERF_REPORT_H_
#define BDEVKIT_TOOLS_BDEVPERF_REPORT_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bdevkit/bdev.h"
#include "tools/bdevperf/histogram.h"
#include "tools/bdevperf/workload.h"

namespace bdevkit::perf {

// Counters a job keeps on its own thread while it runs (no atomics: only that thread
// touches them; others get a copy by message).
struct JobCounters {
  uint64_t io_completed = 0;       // successful I/Os
  uint64_t io_failed = 0;          // failed I/Os and verify miscompares
  uint64_t io_timeout = 0;         // I/Os outstanding longer than -k seconds
  uint64_t latency_ticks_sum = 0;  // of successful I/Os
  uint64_t latency_ticks_min = std::numeric_limits<uint64_t>::max();
  uint64_t latency_ticks_max = 0;
  // Successful I/Os by type (IoType as index), to check against bdev_get_iostat.
  std::array<uint64_t, kNumIoTypes> ops{};

  void Record(uint64_t latency_ticks, IoType type) {
    ++io_completed;
    ++ops[static_cast<int>(type)];
    latency_ticks_sum += latency_ticks;
    if (latency_ticks < latency_ticks_min) latency_ticks_min = latency_ticks;
    if (latency_ticks > latency_ticks_max) latency_ticks_max = latency_ticks;
  }
};

enum class JobStatus {
  kFinished,    // ran its time (failures, if any, were tolerated: -f, reset)
  kFailed,      // stopped early by a failed I/O or a miscompare
  kTerminated,  // stopped early by a signal
};
// SPDK's words: "finished", "failed", "terminated".
const char* JobStatusName(JobStatus status);

struct JobResult {
  std::string name;       // the bdev
  std::string core_mask;  // "0x1": the core the job ran on
  Workload workload = Workload::kRead;
  int rw_percentage = -1;  // rw/randrw only
  uint32_t queue_depth = 0;
  uint64_t io_size = 0;
  uint64_t runtime_ticks = 0;
  uint64_t ticks_per_second = 1;
  JobCounters counters;
  LatencyHistogram histogram;  // latency of successful I/Os, in ticks
  JobStatus status = JobStatus::kFinished;
  uint64_t cpu_ns = 0;  // CPU time of the job's reactor thread during the run
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
  double PercentileUs(double p) const;  // from the histogram
};

double TicksToUs(uint64_t ticks, uint64_t ticks_per_second);

// The whole table, ending with a newline.
std::string FormatResultTable(const std::vector<JobResult>& results);
// Only the per-job rows and the Total row (the -S periodic output).
std::string FormatResultRows(const std::vector<JobResult>& results);
std::string FormatTableHeader();

// -l: p50, p90, p99, p99.9, p99.99 and max per job. -ll: also every non-empty bucket
// with its share and the cumulative share.
std::string FormatLatencySummary(const std::vector<JobResult>& results);
std::string FormatLatencyHistogram(const std::vector<JobResult>& results);

// "p50", "p99.9", "p99.99": the label of a percentile given as a fraction.
std::string PercentileLabel(double p);

// The percentiles -l prints (and the JSON output carries), in order.
inline constexpr std::array<double, 5> kReportedPercentiles = {0.5, 0.9, 0.99, 0.999, 0.9999};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_REPORT_H_

#include "tools/bdevperf/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bdevkit::perf {
namespace {

constexpr int kNameWidth = 28;
// Characters before the first latency column: name, " : ", then runtime (10), IOPS
// (12: a null bdev passes 10 million), MiB/s (11), Fail/s (10), TO/s (8), each + 1.
constexpr int kLatencyColumn = kNameWidth + 3 + 11 + 13 + 12 + 11 + 9;
constexpr int kLatencyWidth = 3 * 10 + 2;
constexpr int kTableWidth = kLatencyColumn + kLatencyWidth;

std::string Row(const std::string& label, const std::string& runtime, double iops, double mibps,
                double fails, double timeouts, double avg, double min, double max) {
  return absl::StrFormat("%-*s : %10s %12.2f %11.2f %10.2f %8.2f %10.2f %10.2f %10.2f\n",
                         kNameWidth, label, runtime, iops, mibps, fails, timeouts, avg, min, max);
}

std::string JobLine(const JobResult& r) {
  const std::string workload(WorkloadName(r.workload));
  if (IsMixed(r.workload)) {
    return absl::StrFormat(
        "Job: %s (Core Mask %s, workload: %s, percentage: %d, depth: %u, IO size: %u)\n", r.name,
        r.core_mask, workload, r.rw_percentage, r.queue_depth, r.io_size);
  }
  return absl::StrFormat("Job: %s (Core Mask %s, workload: %s, depth: %u, IO size: %u)\n", r.name,
                         r.core_mask, workload, r.queue_depth, r.io_size);
}

}  // namespace

std::string PercentileLabel(double p) {
  // 0.5 -> "p50", 0.999 -> "p99.9", 0.9999 -> "p99.99"
  std::string s = absl::StrFormat("%.4f", p * 100);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return "p" + s;
}

const char* JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kFinished:
      return "finished";
    case JobStatus::kFailed:
      return "failed";
    case JobStatus::kTerminated:
      return "terminated";
  }
  return "finished";
}

double TicksToUs(uint64_t ticks, uint64_t tps) {
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(tps);
}

double JobResult::RuntimeSeconds() const {
  return static_cast<double>(runtime_ticks) / static_cast<double>(ticks_per_second);
}
double JobResult::Iops() const {
  const double s = RuntimeSeconds();
  return s > 0 ? static_cast<double>(counters.io_completed) / s : 0;
}
double JobResult::MibPerSecond() const {
  return Iops() * static_cast<double>(io_size) / (1024.0 * 1024.0);
}
double JobResult::FailPerSecond() const {
  const double s = RuntimeSeconds();
  return s > 0 ? static_cast<double>(counters.io_failed) / s : 0;
}
double JobResult::TimeoutPerSecond() const {
  const double s = RuntimeSeconds();
  return s > 0 ? static_cast<double>(counters.io_timeout) / s : 0;
}
double JobResult::AverageLatencyUs() const {
  if (counters.io_completed == 0) return 0;
  return TicksToUs(counters.latency_ticks_sum, ticks_per_second) /
         static_cast<double>(counters.io_completed);
}
double JobResult::MinLatencyUs() const {
  if (counters.io_completed == 0) return 0;
  return TicksToUs(counters.latency_ticks_min, ticks_per_second);
}
double JobResult::MaxLatencyUs() const {
  return TicksToUs(counters.latency_ticks_max, ticks_per_second);
}
double JobResult::PercentileUs(double p) const {
  return TicksToUs(histogram.Percentile(p), ticks_per_second);
}

std::string FormatTableHeader() {
  std::string out;
  absl::StrAppendFormat(&out, "%*s%s\n", kLatencyColumn + (kLatencyWidth - 11) / 2, "",
                        "Latency(us)");
  absl::StrAppendFormat(&out, "%-*s : %10s %12s %11s %10s %8s %10s %10s %10s\n", kNameWidth,
                        "Device Information", "runtime(s)", "IOPS", "MiB/s", "Fail/s", "TO/s",
                        "Average", "min", "max");
  return out;
}

std::string FormatResultRows(const std::vector<JobResult>& results) {
  std::string out;
  double iops = 0, mibps = 0, fails = 0, timeouts = 0;
  double weighted_latency = 0, min_us = 0, max_us = 0;
  uint64_t completed = 0;
  for (const JobResult& r : results) {
    absl::StrAppend(&out, JobLine(r));
    if (r.status == JobStatus::kFailed) {
      absl::StrAppendFormat(&out, "Job: %s ended in about %.2f seconds with error\n", r.name,
                            r.RuntimeSeconds());
    }
    if (Verifies(r.workload)) {
      absl::StrAppendFormat(&out, "     Verification LBA range: start 0x%x length 0x%x\n",
                            r.verify_start_lba, r.verify_num_blocks);
    }
    absl::StrAppend(&out,
                    Row(absl::StrCat("     ", r.name), absl::StrFormat("%.2f", r.RuntimeSeconds()),
                        r.Iops(), r.MibPerSecond(), r.FailPerSecond(), r.TimeoutPerSecond(),
                        r.AverageLatencyUs(), r.MinLatencyUs(), r.MaxLatencyUs()));
    iops += r.Iops();
    mibps += r.MibPerSecond();
    fails += r.FailPerSecond();
    timeouts += r.TimeoutPerSecond();
    if (r.counters.io_completed > 0) {
      weighted_latency += r.AverageLatencyUs() * static_cast<double>(r.counters.io_completed);
      min_us = completed == 0 ? r.MinLatencyUs() : std::min(min_us, r.MinLatencyUs());
      completed += r.counters.io_completed;
    }
    max_us = std::max(max_us, r.MaxLatencyUs());
  }
  absl::StrAppend(&out, std::string(kTableWidth, '='), "\n");
  const double avg = completed > 0 ? weighted_latency / static_cast<double>(completed) : 0;
  absl::StrAppend(&out, Row("Total", "", iops, mibps, fails, timeouts, avg, min_us, max_us));
  return out;
}

std::string FormatResultTable(const std::vector<JobResult>& results) {
  return FormatTableHeader() + FormatResultRows(results);
}

std::string FormatLatencySummary(const std::vector<JobResult>& results) {
  std::string out = "\nLatency percentiles(us)\n";
  absl::StrAppendFormat(&out, "%-*s :", kNameWidth, "Device Information");
  for (double p : kReportedPercentiles) absl::StrAppendFormat(&out, " %10s", PercentileLabel(p));
  absl::StrAppendFormat(&out, " %10s\n", "max");
  for (const JobResult& r : results) {
    absl::StrAppendFormat(&out, "%-*s :", kNameWidth,
                          absl::StrCat(r.name, " (Core Mask ", r.core_mask, ")"));
    for (double p : kReportedPercentiles) absl::StrAppendFormat(&out, " %10.2f", r.PercentileUs(p));
    absl::StrAppendFormat(&out, " %10.2f\n", TicksToUs(r.histogram.max(), r.ticks_per_second));
  }
  return out;
}

std::string FormatLatencyHistogram(const std::vector<JobResult>& results) {
  std::string out;
  for (const JobResult& r : results) {
    absl::StrAppendFormat(&out, "\nLatency histogram: %s (Core Mask %s), %u I/Os\n", r.name,
                          r.core_mask, r.histogram.count());
    absl::StrAppendFormat(&out, "%14s %14s %12s %8s %11s\n", "from(us)", "to(us)", "count", "share",
                          "cumulative");
    const double total = static_cast<double>(r.histogram.count());
    uint64_t so_far = 0;
    r.histogram.ForEachBucket([&](uint64_t low, uint64_t high, uint64_t count) {
      so_far += count;
      absl::StrAppendFormat(
          &out, "%14.3f %14.3f %12u %7.3f%% %10.4f%%\n", TicksToUs(low, r.ticks_per_second),
          (static_cast<double>(high) + 1) * 1e6 / static_cast<double>(r.ticks_per_second), count,
          100.0 * static_cast<double>(count) / total, 100.0 * static_cast<double>(so_far) / total);
    });
  }
  return out;
}

}  // namespace bdevkit::perf

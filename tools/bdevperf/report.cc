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

double TicksToUs(uint64_t ticks, uint64_t tps) {
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(tps);
}

std::string Row(const std::string& label, const std::string& runtime, double iops, double mibps,
                double fails, double timeouts, double avg, double min, double max) {
  return absl::StrFormat("%-*s : %10s %12.2f %11.2f %10.2f %8.2f %10.2f %10.2f %10.2f\n",
                         kNameWidth, label, runtime, iops, mibps, fails, timeouts, avg, min, max);
}

}  // namespace

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

std::string FormatResultTable(const std::vector<JobResult>& results) {
  std::string out;
  absl::StrAppendFormat(&out, "%*s%s\n", kLatencyColumn + (kLatencyWidth - 11) / 2, "",
                        "Latency(us)");
  absl::StrAppendFormat(&out, "%-*s : %10s %12s %11s %10s %8s %10s %10s %10s\n", kNameWidth,
                        "Device Information", "runtime(s)", "IOPS", "MiB/s", "Fail/s", "TO/s",
                        "Average", "min", "max");
  double iops = 0, mibps = 0, fails = 0, timeouts = 0;
  double weighted_latency = 0, min_us = 0, max_us = 0;
  uint64_t completed = 0;
  for (const JobResult& r : results) {
    absl::StrAppendFormat(&out, "Job: %s (Core Mask %s, workload: %s, depth: %u, IO size: %u)\n",
                          r.name, r.core_mask, std::string(WorkloadName(r.workload)), r.queue_depth,
                          r.io_size);
    if (r.workload == Workload::kVerify) {
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

}  // namespace bdevkit::perf

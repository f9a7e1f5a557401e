#include "tools/bdevperf/compare.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bdevkit::perf {

CompareRow MakeCompareRow(const std::string& bdev, const RunOutcome& outcome) {
  CompareRow row;
  row.bdev = bdev;
  if (!outcome.setup_error.ok()) {
    row.error = std::string(outcome.setup_error.message());
    return row;
  }
  row.ran = !outcome.results.empty();
  if (!outcome.failures.empty()) row.error = outcome.failures.front();
  uint64_t latency_sum = 0, reactor_cpu = 0;
  double run_ns = 0;
  for (const JobResult& r : outcome.results) {
    row.runtime_s = std::max(row.runtime_s, r.RuntimeSeconds());
    row.ios += r.counters.io_completed;
    row.failed += r.counters.io_failed;
    row.iops += r.Iops();
    row.mibps += r.MibPerSecond();
    latency_sum += r.counters.latency_ticks_sum;
    reactor_cpu += r.cpu_ns;
    run_ns += r.RuntimeSeconds() * 1e9;
    row.histogram.Merge(r.histogram);
    row.ticks_per_second = r.ticks_per_second;
  }
  if (row.ios > 0) {
    const double ios = static_cast<double>(row.ios);
    row.avg_us = TicksToUs(latency_sum, row.ticks_per_second) / ios;
    row.reactor_cpu_ns_per_io = static_cast<double>(reactor_cpu) / ios;
    row.process_cpu_ns_per_io = static_cast<double>(outcome.process_cpu_ns) / ios;
  }
  if (run_ns > 0) row.reactor_cpu_share = static_cast<double>(reactor_cpu) / run_ns;
  row.p99_us = TicksToUs(row.histogram.Percentile(0.99), row.ticks_per_second);
  row.p999_us = TicksToUs(row.histogram.Percentile(0.999), row.ticks_per_second);
  row.max_us = TicksToUs(row.histogram.max(), row.ticks_per_second);
  return row;
}

std::string FormatCompareTable(const std::vector<CompareRow>& rows, const std::string& workload) {
  std::string out = absl::StrCat("\nCompare: ", workload, ", one bdev at a time\n");
  absl::StrAppendFormat(&out, "%-16s %13s %10s %10s %10s %10s %14s %14s %11s\n", "bdev", "IOPS",
                        "MiB/s", "avg(us)", "p99(us)", "p99.9(us)", "CPU/IO reactor",
                        "CPU/IO process", "reactor CPU");
  for (const CompareRow& r : rows) {
    if (!r.ran) {
      absl::StrAppendFormat(&out, "%-16s did not run: %s\n", r.bdev, r.error);
      continue;
    }
    absl::StrAppendFormat(
        &out, "%-16s %13.2f %10.2f %10.2f %10.2f %10.2f %11.0f ns %11.0f ns %10.0f%%\n", r.bdev,
        r.iops, r.mibps, r.avg_us, r.p99_us, r.p999_us, r.reactor_cpu_ns_per_io,
        r.process_cpu_ns_per_io, 100 * r.reactor_cpu_share);
  }
  absl::StrAppend(
      &out,
      "CPU/IO: CPU time / I/Os done. Reactors busy-poll (they use all the CPU they get), so\n"
      "the reactor column is an upper bound on the work per I/O; the process column adds\n"
      "kernel and helper threads (io_uring workers, aio's helper). reactor CPU: the share of\n"
      "a core the reactors got during the run (below 100%: other processes competed).\n");
  for (const CompareRow& r : rows) {
    if (r.ran && !r.error.empty()) absl::StrAppend(&out, r.bdev, ": ", r.error, "\n");
  }
  return out;
}

}  // namespace bdevkit::perf

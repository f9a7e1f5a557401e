// Compare mode (--compare A,B,C): the same workload on each bdev in turn, one at a
// time (so no two bdevs share a core or the memory bus while measured), then one
// side-by-side table and an SVG plot. This file turns each bdev's run into a row and
// prints the table; compare_svg.h draws the plot; app.cc drives the runs.
//
// CPU per I/O: the reactor threads' own CPU time (CLOCK_THREAD_CPUTIME_ID, read on
// each job's thread at its start and end) and the whole process's (getrusage: also
// the kernel's io_uring workers and the aio module's helper thread), each divided by
// the I/Os done. Reactors busy-poll: a reactor uses all the CPU the kernel gives it,
// idle or not, so the reactor column is an upper bound on the work per I/O, not the
// work itself. How much of a core the reactors got (their CPU time over their run
// time) is printed too: 100% on a quiet machine, less when others compete for the
// cores — then every figure of the row is squeezed.
#ifndef BDEVKIT_TOOLS_BDEVPERF_COMPARE_H_
#define BDEVKIT_TOOLS_BDEVPERF_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bdevperf/histogram.h"
#include "tools/bdevperf/perf_run.h"
#include "tools/bdevperf/report.h"

namespace bdevkit::perf {

struct CompareRow {
  std::string bdev;
  bool ran = false;   // false: the run could not start (error says why)
  std::string error;  // setup error, or the first job failure
  double runtime_s = 0;
  uint64_t ios = 0;
  uint64_t failed = 0;
  double iops = 0;
  double mibps = 0;
  double avg_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  double reactor_cpu_ns_per_io = 0;
  double process_cpu_ns_per_io = 0;
  double reactor_cpu_share = 0;  // reactor CPU time / (run time x jobs), 0..1
  LatencyHistogram histogram;    // every job of the bdev merged
  uint64_t ticks_per_second = 1;
};

// Sums the jobs of one bdev's run (one, or one per core with -C).
CompareRow MakeCompareRow(const std::string& bdev, const RunOutcome& outcome);

// The side-by-side table, with a header naming the workload, and a note on CPU.
std::string FormatCompareTable(const std::vector<CompareRow>& rows, const std::string& workload);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_COMPARE_H_

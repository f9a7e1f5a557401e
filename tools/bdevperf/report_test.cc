#include "tools/bdevperf/report.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

JobResult Make(std::string name, uint64_t ios, uint64_t lat_sum, uint64_t lat_min,
               uint64_t lat_max) {
  JobResult r;
  r.name = std::move(name);
  r.core_mask = "0x1";
  r.workload = Workload::kRandRead;
  r.queue_depth = 128;
  r.io_size = 4096;
  r.ticks_per_second = 1000000;  // 1 tick = 1 us
  r.runtime_ticks = 2000000;     // 2 s
  r.counters.io_completed = ios;
  r.counters.ops[static_cast<int>(IoType::kRead)] = ios;
  r.counters.latency_ticks_sum = lat_sum;
  r.counters.latency_ticks_min = lat_min;
  r.counters.latency_ticks_max = lat_max;
  return r;
}

TEST(Report, Numbers) {
  JobResult r = Make("Null0", 512000, 512000 * 10, 2, 90);
  EXPECT_DOUBLE_EQ(r.RuntimeSeconds(), 2.0);
  EXPECT_DOUBLE_EQ(r.Iops(), 256000.0);
  EXPECT_DOUBLE_EQ(r.MibPerSecond(), 1000.0);
  EXPECT_DOUBLE_EQ(r.AverageLatencyUs(), 10.0);
  EXPECT_DOUBLE_EQ(r.MinLatencyUs(), 2.0);
  EXPECT_DOUBLE_EQ(r.MaxLatencyUs(), 90.0);
}

TEST(Report, TableLayout) {
  std::vector<JobResult> results = {Make("Null0", 512000, 512000 * 10, 2, 90),
                                    Make("Malloc0", 256000, 256000 * 40, 5, 300)};
  const std::string t = FormatResultTable(results);
  EXPECT_NE(t.find("Latency(us)\n"), std::string::npos);
  EXPECT_NE(t.find("Device Information           : runtime(s)         IOPS       MiB/s     "
                   "Fail/s     TO/s    Average        min        max\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Job: Null0 (Core Mask 0x1, workload: randread, depth: 128, IO size: 4096)\n"),
            std::string::npos);
  EXPECT_NE(t.find("     Null0                   :       2.00    256000.00     1000.00       0.00"
                   "     0.00      10.00       2.00      90.00\n"),
            std::string::npos)
      << t;
  // Total: sums of rates, I/O-weighted average, min of mins, max of maxes.
  EXPECT_NE(t.find("Total                        :               384000.00     1500.00       0.00"
                   "     0.00      20.00       2.00     300.00\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\n===="), std::string::npos);
}

TEST(Report, MixedWorkloadAndFailedJob) {
  JobResult r = Make("Malloc0", 1000, 1000, 1, 1);
  r.workload = Workload::kRandRw;
  r.rw_percentage = 70;
  r.status = JobStatus::kFailed;
  r.counters.io_failed = 2;
  const std::string t = FormatResultTable({r});
  EXPECT_NE(t.find("Job: Malloc0 (Core Mask 0x1, workload: randrw, percentage: 70, depth: 128, "
                   "IO size: 4096)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Job: Malloc0 ended in about 2.00 seconds with error\n"), std::string::npos);
  EXPECT_NE(t.find("       1.00     0.00"), std::string::npos) << t;  // Fail/s
}

TEST(Report, LatencySummaryAndHistogram) {
  JobResult r = Make("Null0", 4, 4 * 10, 1, 100);
  for (uint64_t v : {1, 2, 3, 100}) r.histogram.Record(v);
  const std::string s = FormatLatencySummary({r});
  EXPECT_NE(s.find("p50        p90        p99      p99.9     p99.99        max"), std::string::npos)
      << s;
  // p50 of {1,2,3,100} is 2; p90..p99.99 and max are 100 (exact below 64, capped by max).
  EXPECT_NE(s.find("Null0 (Core Mask 0x1)        :       2.00     100.00     100.00     100.00"
                   "     100.00     100.00"),
            std::string::npos)
      << s;
  const std::string h = FormatLatencyHistogram({r});
  EXPECT_NE(h.find("Latency histogram: Null0 (Core Mask 0x1), 4 I/Os"), std::string::npos) << h;
  EXPECT_NE(h.find("1.000          2.000            1  25.000%    25.0000%"), std::string::npos)
      << h;
  EXPECT_NE(h.find("100.000        102.000            1  25.000%   100.0000%"), std::string::npos)
      << h;
}

}  // namespace
}  // namespace bdevkit::perf

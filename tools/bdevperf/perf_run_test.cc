// bdevperf's run in-process over the real bdev layer: for every workload, the I/Os a
// run reports by type are exactly what the layer counted (GetIoStats), including the
// types bdev_get_iostat does not show (flush, write_zeroes, reset); -C slices; Stop.
#include "tools/bdevperf/perf_run.h"

#include <string>
#include <utility>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "gtest/gtest.h"
#include "tests/unit/modules/test_env.h"
#include "tools/bdevperf/job_plan.h"

namespace bdevkit::perf {
namespace {

using ::bdevkit::testing::CallRpc;
using ::bdevkit::testing::OnApp;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ::bdevkit::testing::BdevLayerEnv);

RunOutcome RunOn(const std::string& bdev, Workload w, uint64_t seconds, bool every_core = false) {
  TestParams test;
  test.queue_depth = 8;
  test.io_size = 8192;
  test.workload = w;
  test.time_seconds = seconds;
  if (IsMixed(w)) test.rw_percentage = 50;
  RunSettings settings;
  settings.test = test;
  settings.seed = 42;
  settings.progress = false;
  return OnApp<RunOutcome>([&](std::function<void(RunOutcome)> done) {
    auto plan = PlanJobs(DescribeBdevs(), test, every_core, bdev, Runtime::ReactorThreads().size());
    if (!plan.ok()) {
      RunOutcome bad;
      bad.setup_error = plan.status();
      return done(std::move(bad));
    }
    auto* run = new PerfRun(settings, *std::move(plan));
    run->Start([run, done](RunOutcome outcome) {
      done(std::move(outcome));
      // Destroyed from a fresh message: its callback is still on the stack.
      Thread::Current()->Send([run] { delete run; });
    });
  });
}

IoStats Stats(const std::string& name) {
  return OnApp<IoStats>([&](std::function<void(IoStats)> done) {
    GetIoStats(*FindBdev(name), [done](const IoStats& s) { done(s); });
  });
}

class PerfRunTest : public ::testing::TestWithParam<Workload> {};

TEST_P(PerfRunTest, CountsMatchTheBdevLayer) {
  const Workload w = GetParam();
  const std::string name = "Perf" + std::string(WorkloadName(w));
  ASSERT_TRUE(
      CallRpc("bdev_malloc_create", {{"name", name}, {"num_blocks", 2048}, {"block_size", 4096}})
          .ok());
  // Modules examine a new bdev (raid reads where its superblock would be): let them
  // finish, and count from there.
  ASSERT_TRUE(CallRpc("bdev_wait_for_examine", nullptr).ok());
  const IoStats before = Stats(name);
  const RunOutcome out = RunOn(name, w, w == Workload::kReset ? 3 : 1);
  ASSERT_TRUE(out.setup_error.ok()) << out.setup_error;
  ASSERT_EQ(out.results.size(), 1u);
  const JobResult& r = out.results[0];
  EXPECT_EQ(r.status, JobStatus::kFinished);
  const IoStats s = Stats(name);
  auto ops = [&r](IoType t) { return r.counters.ops[static_cast<int>(t)]; };
  EXPECT_EQ(s.num_read_ops - before.num_read_ops, ops(IoType::kRead));
  EXPECT_EQ(s.num_write_ops - before.num_write_ops, ops(IoType::kWrite));
  EXPECT_EQ(s.num_unmap_ops - before.num_unmap_ops, ops(IoType::kUnmap));
  EXPECT_EQ(s.num_flush_ops - before.num_flush_ops, ops(IoType::kFlush));
  EXPECT_EQ(s.num_write_zeroes_ops - before.num_write_zeroes_ops, ops(IoType::kWriteZeroes));
  EXPECT_EQ(s.num_reset_ops - before.num_reset_ops, ops(IoType::kReset));
  uint64_t total = 0;
  for (int t = 0; t < kNumIoTypes; ++t) {
    if (t != static_cast<int>(IoType::kReset)) total += r.counters.ops[t];
  }
  EXPECT_EQ(total, r.counters.io_completed);
  EXPECT_EQ(r.histogram.count(), r.counters.io_completed);
  EXPECT_GT(r.counters.io_completed, 0u);
  if (w == Workload::kReset) {
    EXPECT_GE(ops(IoType::kReset), 1u);
  }
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", name}}).ok());
}

INSTANTIATE_TEST_SUITE_P(Workloads, PerfRunTest,
                         ::testing::Values(Workload::kRead, Workload::kWrite, Workload::kRandRead,
                                           Workload::kRandWrite, Workload::kRw, Workload::kRandRw,
                                           Workload::kVerify, Workload::kReset, Workload::kUnmap,
                                           Workload::kFlush, Workload::kWriteZeroes),
                         [](const ::testing::TestParamInfo<Workload>& p) {
                           return std::string(WorkloadName(p.param));
                         });

TEST(PerfRun, SetupErrorIsReported) {
  // A plan naming a bdev that went away before setup: the run reports why and runs
  // nothing (the job that did open is torn down again).
  ASSERT_TRUE(
      CallRpc("bdev_malloc_create", {{"name", "Keep0"}, {"num_blocks", 256}, {"block_size", 4096}})
          .ok());
  JobPlan plan;
  plan.jobs = {{"Keep0", 0, 0, 0}, {"Gone0", 0, 0, 0}};
  RunSettings settings;
  settings.test.queue_depth = 2;
  settings.test.io_size = 4096;
  settings.test.workload = Workload::kRead;
  settings.test.time_seconds = 1;
  settings.progress = false;
  const RunOutcome out = OnApp<RunOutcome>([&](std::function<void(RunOutcome)> done) {
    auto* run = new PerfRun(settings, plan);
    run->Start([run, done](RunOutcome o) {
      done(std::move(o));
      Thread::Current()->Send([run] { delete run; });
    });
  });
  ASSERT_FALSE(out.setup_error.ok());
  EXPECT_NE(out.setup_error.message().find("cannot open bdev Gone0"), std::string::npos)
      << out.setup_error;
  EXPECT_TRUE(out.results.empty());
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "Keep0"}}).ok());
}

}  // namespace
}  // namespace bdevkit::perf

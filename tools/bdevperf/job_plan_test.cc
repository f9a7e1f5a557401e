#include "tools/bdevperf/job_plan.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

BdevInfo Bdev(std::string name, uint64_t blocks, uint32_t bs = 4096, bool claimed = false) {
  BdevInfo b;
  b.name = std::move(name);
  b.block_size = bs;
  b.num_blocks = blocks;
  b.claimed = claimed;
  b.supported.fill(true);
  return b;
}

TestParams Params(Workload w, uint64_t io_size = 4096) {
  TestParams t;
  t.queue_depth = 8;
  t.io_size = io_size;
  t.workload = w;
  t.time_seconds = 1;
  return t;
}

TEST(JobPlan, OnePerUnclaimedBdevRoundRobin) {
  std::vector<BdevInfo> bdevs = {Bdev("A", 100), Bdev("Base", 100, 4096, true), Bdev("B", 100),
                                 Bdev("C", 100)};
  auto plan = PlanJobs(bdevs, Params(Workload::kRandRead), false, "", 2);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->jobs.size(), 3u);
  EXPECT_EQ(plan->jobs[0].bdev_name, "A");
  EXPECT_EQ(plan->jobs[0].thread_index, 0u);
  EXPECT_EQ(plan->jobs[1].bdev_name, "B");
  EXPECT_EQ(plan->jobs[1].thread_index, 1u);
  EXPECT_EQ(plan->jobs[2].bdev_name, "C");
  EXPECT_EQ(plan->jobs[2].thread_index, 0u);
  EXPECT_EQ(plan->jobs[0].region_num_blocks, 0u);  // whole bdev
}

TEST(JobPlan, EveryCoreSlices) {
  std::vector<BdevInfo> bdevs = {Bdev("A", 1001)};
  auto plan = PlanJobs(bdevs, Params(Workload::kVerify), true, "", 2);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->jobs.size(), 2u);
  EXPECT_EQ(plan->jobs[0].thread_index, 0u);
  EXPECT_EQ(plan->jobs[0].region_offset_blocks, 0u);
  EXPECT_EQ(plan->jobs[0].region_num_blocks, 500u);
  EXPECT_EQ(plan->jobs[1].thread_index, 1u);
  EXPECT_EQ(plan->jobs[1].region_offset_blocks, 500u);
  EXPECT_EQ(plan->jobs[1].region_num_blocks, 500u);
  // The I/O must fit a slice.
  auto big = PlanJobs(bdevs, Params(Workload::kRead, 600 * 4096), true, "", 2);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than a -C slice of bdev A"), std::string::npos)
      << big.status();
}

TEST(JobPlan, OnlyBdev) {
  std::vector<BdevInfo> bdevs = {Bdev("A", 100), Bdev("Base", 100, 4096, true)};
  auto plan = PlanJobs(bdevs, Params(Workload::kRead), false, "Base", 1);
  ASSERT_TRUE(plan.ok());  // -T may name a claimed bdev; opening it is the judge
  ASSERT_EQ(plan->jobs.size(), 1u);
  EXPECT_EQ(plan->jobs[0].bdev_name, "Base");
  auto missing = PlanJobs(bdevs, Params(Workload::kRead), false, "Nope", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "bdev 'Nope' does not exist (bdevs: A, Base)");
}

TEST(JobPlan, UnsupportedTypesAreSkippedOrRefused) {
  std::vector<BdevInfo> bdevs = {Bdev("A", 100), Bdev("NoUnmap", 100)};
  bdevs[1].supported[static_cast<int>(IoType::kUnmap)] = false;
  auto plan = PlanJobs(bdevs, Params(Workload::kUnmap), false, "", 1);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->jobs.size(), 1u);
  EXPECT_EQ(plan->jobs[0].bdev_name, "A");
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_EQ(plan->notes[0], "Skipping NoUnmap: it does not support unmap");
  auto only = PlanJobs(bdevs, Params(Workload::kUnmap), false, "NoUnmap", 1);
  ASSERT_FALSE(only.ok());
  EXPECT_NE(only.status().message().find("does not support unmap"), std::string::npos);
  bdevs.erase(bdevs.begin());
  auto none = PlanJobs(bdevs, Params(Workload::kUnmap), false, "", 1);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "no bdev supports workload unmap");
}

TEST(JobPlan, GeometryErrors) {
  std::vector<BdevInfo> bdevs = {Bdev("A", 16, 4096)};
  auto mult = PlanJobs(bdevs, Params(Workload::kRead, 1000), false, "", 1);
  ASSERT_FALSE(mult.ok());
  EXPECT_EQ(mult.status().message(),
            "I/O size 1000 (-o) is not a multiple of the block size 4096 of bdev A");
  auto big = PlanJobs(bdevs, Params(Workload::kRead, 1 << 20), false, "", 1);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "I/O size 1048576 (-o) is larger than bdev A (65536 bytes)");
  auto empty = PlanJobs({}, Params(Workload::kRead), false, "", 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "no bdevs to test");
}

}  // namespace
}  // namespace bdevkit::perf

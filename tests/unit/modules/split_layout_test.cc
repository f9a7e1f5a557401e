// Split geometry, range checks and part UUIDs (modules/split/split_layout.h).
#include "modules/split/split_layout.h"

#include <cstdint>
#include <limits>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit::split {
namespace {

using ::testing::HasSubstr;

TEST(SplitLayoutTest, EvenSplitDropsTheRemainder) {
  auto g = ComputeSplit(1003, 512, 4, 0);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->count, 4u);
  EXPECT_EQ(g->part_blocks, 250u);
}

TEST(SplitLayoutTest, SizedPartsMustFit) {
  // 64 MiB of 4 KiB blocks.
  auto g = ComputeSplit(16384, 4096, 3, 16);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->part_blocks, 4096u);
  EXPECT_THAT(std::string(ComputeSplit(16384, 4096, 5, 16).status().message()),
              HasSubstr("do not fit"));
  EXPECT_THAT(std::string(ComputeSplit(16384, 4096, 1, 65).status().message()),
              HasSubstr("larger than the base"));
}

TEST(SplitLayoutTest, BadCounts) {
  EXPECT_THAT(std::string(ComputeSplit(100, 512, 0, 0).status().message()),
              HasSubstr("\"split_count\": must be at least 1"));
  EXPECT_THAT(std::string(ComputeSplit(100, 512, 101, 0).status().message()),
              HasSubstr("101 parts of a bdev of only 100 blocks"));
  EXPECT_TRUE(ComputeSplit(100, 512, 100, 0).ok());
  EXPECT_EQ(ComputeSplit(100, 512, 100, 0)->part_blocks, 1u);
}

TEST(SplitLayoutTest, SizeNotWholeBlocks) {
  // 1 MiB is not a whole number of 3072-byte blocks (not a real block size, but the
  // arithmetic must hold for any).
  EXPECT_THAT(std::string(ComputeSplit(100000, 3072, 1, 1).status().message()),
              HasSubstr("not whole blocks"));
}

TEST(SplitLayoutTest, RangeCheckHasNoOverflow) {
  EXPECT_TRUE(InPart(100, 0, 100));
  EXPECT_TRUE(InPart(100, 99, 1));
  EXPECT_TRUE(InPart(100, 100, 0));
  EXPECT_FALSE(InPart(100, 100, 1));
  EXPECT_FALSE(InPart(100, 0, 101));
  EXPECT_FALSE(InPart(100, 101, 0));
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(InPart(100, 50, max));  // offset + num wraps around
  EXPECT_FALSE(InPart(100, max, 2));
}

TEST(SplitLayoutTest, PartUuidsAreStableDistinctAndWellFormed) {
  const std::string base = "3f9a1c52-7e4b-4d2a-8c1f-0a9b8c7d6e5f";
  std::set<std::string> seen;
  for (uint32_t i = 0; i < 64; ++i) {
    const std::string u = PartUuid(base, i);
    EXPECT_EQ(u, PartUuid(base, i));
    ASSERT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '8') << u;                                          // version
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;  // variant
    EXPECT_TRUE(seen.insert(u).second);
  }
  EXPECT_NE(PartUuid(base, 0), PartUuid("3f9a1c52-7e4b-4d2a-8c1f-0a9b8c7d6e50", 0));
}

}  // namespace
}  // namespace bdevkit::split

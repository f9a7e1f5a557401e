// Raid geometry and block mapping (modules/raid/raid_layout.h), checked against a
// block-by-block model.
#include "modules/raid/raid_layout.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit::raid {
namespace {

using ::testing::HasSubstr;

TEST(RaidLevelTest, ParsesSpdkNamesInAnyCase) {
  EXPECT_EQ(*ParseRaidLevel("raid0"), RaidLevel::kRaid0);
  EXPECT_EQ(*ParseRaidLevel("0"), RaidLevel::kRaid0);
  EXPECT_EQ(*ParseRaidLevel("RAID0"), RaidLevel::kRaid0);
  EXPECT_EQ(*ParseRaidLevel("concat"), RaidLevel::kConcat);
  EXPECT_EQ(*ParseRaidLevel("Raid1"), RaidLevel::kRaid1);
  EXPECT_EQ(*ParseRaidLevel("1"), RaidLevel::kRaid1);
  EXPECT_THAT(std::string(ParseRaidLevel("raid5f").status().message()), HasSubstr("not supported"));
  EXPECT_THAT(std::string(ParseRaidLevel("raid6").status().message()), HasSubstr("\"raid6\""));
  EXPECT_FALSE(ParseRaidLevel("").ok());
  EXPECT_EQ(RaidLevelName(RaidLevel::kConcat), "concat");
  EXPECT_TRUE(IsKnownRaidLevel(99));
  EXPECT_FALSE(IsKnownRaidLevel(5));
}

TEST(RaidLayoutTest, Raid0SizeIsTheSmallestBaseInWholeStripsTimesN) {
  const std::vector<uint64_t> sizes = {1000, 1030, 2000};
  auto l = RaidLayout::Make(RaidLevel::kRaid0, 16, 0, sizes);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->data_size(0), 992u);  // 1000 rounded down to 16
  EXPECT_EQ(l->data_size(2), 992u);
  EXPECT_EQ(l->num_blocks(), 3 * 992u);
  // With a data offset (superblock), the data after it counts.
  auto o = RaidLayout::Make(RaidLevel::kRaid0, 16, 100, sizes);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->data_size(0), 896u);  // 900 rounded down
  EXPECT_EQ(o->num_blocks(), 3 * 896u);
}

TEST(RaidLayoutTest, ConcatKeepsEachBasesWholeStrips) {
  auto l = RaidLayout::Make(RaidLevel::kConcat, 8, 0, std::vector<uint64_t>{20, 33, 8});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->data_size(0), 16u);
  EXPECT_EQ(l->data_size(1), 32u);
  EXPECT_EQ(l->data_size(2), 8u);
  EXPECT_EQ(l->num_blocks(), 56u);
  EXPECT_EQ(l->MapOne(0, 1).base, 0u);
  EXPECT_EQ(l->MapOne(16, 1).base, 1u);
  EXPECT_EQ(l->MapOne(16, 1).offset_blocks, 0u);
  EXPECT_EQ(l->MapOne(50, 2).base, 2u);
  EXPECT_EQ(l->MapOne(50, 2).offset_blocks, 2u);
}

TEST(RaidLayoutTest, Raid1IsTheSmallestBase) {
  auto l = RaidLayout::Make(RaidLevel::kRaid1, 0, 4, std::vector<uint64_t>{100, 70});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->num_blocks(), 66u);
  EXPECT_EQ(l->RangeOnBase(1, 10, 5).offset_blocks, 14u);
  EXPECT_EQ(l->RangeOnBase(1, 10, 5).num_blocks, 5u);
}

TEST(RaidLayoutTest, RejectsBadGeometry) {
  const std::vector<uint64_t> two = {64, 64};
  EXPECT_THAT(std::string(RaidLayout::Make(RaidLevel::kRaid0, 12, 0, two).status().message()),
              HasSubstr("not a power of two"));
  EXPECT_FALSE(RaidLayout::Make(RaidLevel::kRaid0, 0, 0, two).ok());
  EXPECT_THAT(
      std::string(
          RaidLayout::Make(RaidLevel::kRaid0, 8, 0, std::vector<uint64_t>{64}).status().message()),
      HasSubstr("needs 2"));
  // Base 1 cannot hold one strip after the data offset.
  auto small = RaidLayout::Make(RaidLevel::kConcat, 32, 40, std::vector<uint64_t>{100, 60});
  EXPECT_THAT(std::string(small.status().message()), HasSubstr("base bdev 1 has 60 blocks"));
}

TEST(RaidLayoutTest, Raid0MapsStripsRoundRobin) {
  auto l = RaidLayout::Make(RaidLevel::kRaid0, 16, 0, std::vector<uint64_t>{1024, 1024, 1024});
  ASSERT_TRUE(l.ok());
  struct Case {
    uint64_t offset;
    uint32_t base;
    uint64_t base_offset;
  } cases[] = {{0, 0, 0},   {15, 0, 15}, {16, 1, 0}, {32, 2, 0},
               {48, 0, 16}, {50, 0, 18}, {95, 2, 31}};
  for (const Case& c : cases) {
    BaseExtent e = l->MapOne(c.offset, 1);
    EXPECT_EQ(e.base, c.base) << c.offset;
    EXPECT_EQ(e.offset_blocks, c.base_offset) << c.offset;
  }
}

TEST(RaidLayoutTest, Raid0MappingIsExactForAnyBaseCountAndHugeOffsets) {
  std::mt19937_64 rng(3);
  for (uint32_t n : {2u, 3u, 5u, 6u, 7u, 8u, 255u}) {
    // Bases of 2^48 blocks: strip indexes well past 2^32.
    std::vector<uint64_t> sizes(n, uint64_t{1} << 48);
    auto l = RaidLayout::Make(RaidLevel::kRaid0, 16, 0, sizes);
    ASSERT_TRUE(l.ok());
    for (int i = 0; i < 20000; ++i) {
      uint64_t offset = rng() % l->num_blocks();
      if (i % 4 == 0)
        offset = ((uint64_t{1} << 32) * 16 + (rng() % 100000) - 50000) % l->num_blocks();
      const uint64_t strip = offset / 16;
      BaseExtent e = l->MapOne(offset, 1);
      ASSERT_EQ(e.base, strip % n) << n << " " << offset;
      ASSERT_EQ(e.offset_blocks, (strip / n) * 16 + offset % 16) << n << " " << offset;
    }
  }
}

// Model: each raid block's (base, base block), from MapOne one block at a time. The
// range of every base for any raid range must be exactly that base's blocks, and
// contiguous.
void CheckRangesAgainstModel(const RaidLayout& l, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int iter = 0; iter < 400; ++iter) {
    const uint64_t off = rng() % l.num_blocks();
    const uint64_t num = 1 + rng() % std::min<uint64_t>(l.num_blocks() - off, 200);
    std::map<uint32_t, std::vector<uint64_t>> model;
    for (uint64_t b = off; b < off + num; ++b) {
      BaseExtent e = l.MapOne(b, 1);
      model[e.base].push_back(e.offset_blocks);
    }
    uint64_t covered = 0;
    for (uint32_t i = 0; i < l.num_bases(); ++i) {
      BaseExtent e = l.RangeOnBase(i, off, num);
      EXPECT_EQ(e.base, i);
      const std::vector<uint64_t>& want = model[i];
      ASSERT_EQ(e.num_blocks, want.size()) << "base " << i << " range " << off << "+" << num;
      for (size_t k = 0; k < want.size(); ++k) {
        ASSERT_EQ(e.offset_blocks + k, want[k]) << "base " << i << " range " << off << "+" << num;
      }
      covered += e.num_blocks;
    }
    EXPECT_EQ(covered, num);
  }
}

TEST(RaidLayoutTest, Raid0RangesMatchTheBlockModel) {
  for (uint32_t n : {2u, 3u, 5u}) {
    std::vector<uint64_t> sizes(n, 4096 + 100);
    auto l = RaidLayout::Make(RaidLevel::kRaid0, 8, 100, sizes);
    ASSERT_TRUE(l.ok());
    CheckRangesAgainstModel(*l, n);
  }
}

TEST(RaidLayoutTest, ConcatRangesMatchTheBlockModel) {
  auto l = RaidLayout::Make(RaidLevel::kConcat, 4, 8, std::vector<uint64_t>{100, 37, 260, 12});
  ASSERT_TRUE(l.ok());
  CheckRangesAgainstModel(*l, 7);
}

TEST(RaidLayoutTest, EmptyRangeTouchesNoBase) {
  auto l = RaidLayout::Make(RaidLevel::kRaid0, 8, 0, std::vector<uint64_t>{64, 64});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->RangeOnBase(0, 10, 0).num_blocks, 0u);
  // A range within one strip of base 1 touches nothing on base 0.
  EXPECT_EQ(l->RangeOnBase(0, 9, 4).num_blocks, 0u);
  EXPECT_EQ(l->RangeOnBase(1, 9, 4).num_blocks, 4u);
}

}  // namespace
}  // namespace bdevkit::raid

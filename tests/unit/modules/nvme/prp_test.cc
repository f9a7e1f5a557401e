// PRP building: alignments, page crossings, lists, iovec joins, translation.
#include "modules/nvme/driver/prp.h"

#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::nvme {
namespace {

constexpr uint64_t kListIova = 0x9000'0000ull;

struct Built {
  PrpResult result;
  uint64_t prp1 = 0, prp2 = 0;
  std::vector<uint64_t> list;
  uint32_t entries = 0;
};

// Adds (iova, length) pieces to a builder with a `capacity`-entry list.
Built Build(std::vector<std::pair<uint64_t, uint64_t>> pieces, uint32_t capacity = 128) {
  Built b;
  b.list.assign(capacity, 0xdead);
  PrpBuilder builder(b.list.data(), kListIova, capacity);
  b.result = PrpResult::kOk;
  for (auto [iova, len] : pieces) {
    b.result = builder.Add(iova, len);
    if (b.result != PrpResult::kOk) return b;
  }
  builder.Finish(&b.prp1, &b.prp2);
  b.entries = builder.entries();
  return b;
}

TEST(PrpTest, OnePageNeedsOnlyPrp1) {
  Built b = Build({{0x10000, 4096}});
  ASSERT_EQ(b.result, PrpResult::kOk);
  EXPECT_EQ(b.prp1, 0x10000u);
  EXPECT_EQ(b.prp2, 0u);
  EXPECT_EQ(b.entries, 1u);
  // Any offset inside the page, as long as it does not cross.
  b = Build({{0x10200, 512}});
  EXPECT_EQ(b.prp1, 0x10200u);
  EXPECT_EQ(b.prp2, 0u);
}

TEST(PrpTest, CrossingOnePageBoundaryUsesPrp2AsAPage) {
  Built b = Build({{0x10e00, 1024}});  // 512 bytes in each of two pages
  ASSERT_EQ(b.result, PrpResult::kOk);
  EXPECT_EQ(b.prp1, 0x10e00u);
  EXPECT_EQ(b.prp2, 0x11000u);
  EXPECT_EQ(b.entries, 2u);
  b = Build({{0x10000, 8192}});
  EXPECT_EQ(b.prp2, 0x11000u);
}

TEST(PrpTest, MoreThanTwoPagesUseAList) {
  Built b = Build({{0x10800, 3 * 4096}});  // 2048 + 4096 + 4096 + 2048: four pages
  ASSERT_EQ(b.result, PrpResult::kOk);
  EXPECT_EQ(b.prp1, 0x10800u);
  EXPECT_EQ(b.prp2, kListIova);
  EXPECT_EQ(b.entries, 4u);
  EXPECT_EQ(b.list[0], 0x11000u);
  EXPECT_EQ(b.list[1], 0x12000u);
  EXPECT_EQ(b.list[2], 0x13000u);
}

TEST(PrpTest, Prp1MustBeDwordAligned) {
  EXPECT_EQ(Build({{0x10002, 512}}).result, PrpResult::kMisaligned);
  EXPECT_EQ(Build({{0x10004, 512}}).result, PrpResult::kOk);
}

TEST(PrpTest, PiecesMustJoinOnPageBoundaries) {
  // First ends on a boundary, the next starts on one: fine, even far apart.
  Built b = Build({{0x10c00, 1024}, {0x50000, 4096}, {0x70000, 100}});
  ASSERT_EQ(b.result, PrpResult::kOk);
  EXPECT_EQ(b.prp1, 0x10c00u);
  EXPECT_EQ(b.prp2, kListIova);
  EXPECT_EQ(b.list[0], 0x50000u);
  EXPECT_EQ(b.list[1], 0x70000u);
  EXPECT_EQ(b.entries, 3u);
  // A piece that ends inside a page cannot be followed by another.
  EXPECT_EQ(Build({{0x10000, 1024}, {0x50000, 4096}}).result, PrpResult::kMisaligned);
  // A later piece must start on a page boundary.
  EXPECT_EQ(Build({{0x10000, 4096}, {0x50200, 512}}).result, PrpResult::kMisaligned);
  // Two pieces continuing each other in one page are not describable either.
  EXPECT_EQ(Build({{0x10000, 512}, {0x10200, 512}}).result, PrpResult::kMisaligned);
}

TEST(PrpTest, ListCapacityIsEnforced) {
  // Capacity 4: PRP1 + 4 list entries = 5 pages at most.
  EXPECT_EQ(Build({{0x10000, 5 * 4096}}, 4).result, PrpResult::kOk);
  EXPECT_EQ(Build({{0x10000, 5 * 4096 + 1}}, 4).result, PrpResult::kTooLong);
  // An unaligned start touches one page more.
  EXPECT_EQ(Build({{0x10800, 5 * 4096}}, 4).result, PrpResult::kTooLong);
}

TEST(PrpTest, ZeroLengthPiecesAreSkipped) {
  Built b = Build({{0x10000, 0}, {0x20000, 4096}, {0x30001, 0}});
  ASSERT_EQ(b.result, PrpResult::kOk);
  EXPECT_EQ(b.prp1, 0x20000u);
}

// A map of two ranges: 4 pages contiguous at 0x100000, and 4 pages each elsewhere.
class BuildPrpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_.resize(16 * 4096 + 4096);
    base_ = (reinterpret_cast<uintptr_t>(mem_.data()) + 4095) & ~uintptr_t{4095};
    MappedRange contiguous{base_, 4 * 4096, 4096, {0x100000, 0x101000, 0x102000, 0x103000}, {}};
    MappedRange scattered{
        base_ + 8 * 4096, 4 * 4096, 4096, {0x900000, 0x500000, 0x700000, 0x300000}, {}};
    ASSERT_TRUE(map_.Add(contiguous).ok());
    ASSERT_TRUE(map_.Add(scattered).ok());
  }
  char* At(size_t off) { return reinterpret_cast<char*>(base_ + off); }

  std::vector<char> mem_;
  uintptr_t base_ = 0;
  TranslationMap map_;
};

TEST_F(BuildPrpsTest, TranslatesEachPage) {
  std::vector<uint64_t> list(128);
  PrpBuilder b(list.data(), kListIova, 128);
  iovec v{At(8 * 4096 + 1024), 3 * 4096};  // scattered pages 0..3
  ASSERT_EQ(BuildPrps(&v, 1, map_, b), PrpResult::kOk);
  uint64_t prp1, prp2;
  b.Finish(&prp1, &prp2);
  EXPECT_EQ(prp1, 0x900400u);
  EXPECT_EQ(prp2, kListIova);
  EXPECT_EQ(list[0], 0x500000u);
  EXPECT_EQ(list[1], 0x700000u);
  EXPECT_EQ(list[2], 0x300000u);
}

TEST_F(BuildPrpsTest, IovecsAcrossRanges) {
  std::vector<uint64_t> list(128);
  PrpBuilder b(list.data(), kListIova, 128);
  iovec v[2] = {{At(3 * 4096 + 2048), 2048}, {At(9 * 4096), 4096}};
  ASSERT_EQ(BuildPrps(v, 2, map_, b), PrpResult::kOk);
  uint64_t prp1, prp2;
  b.Finish(&prp1, &prp2);
  EXPECT_EQ(prp1, 0x103800u);
  EXPECT_EQ(prp2, 0x500000u);
}

TEST_F(BuildPrpsTest, UnmappedMemoryIsReported) {
  std::vector<uint64_t> list(128);
  PrpBuilder b(list.data(), kListIova, 128);
  iovec v{At(5 * 4096), 512};  // between the two ranges
  EXPECT_EQ(BuildPrps(&v, 1, map_, b), PrpResult::kNotMapped);
  PrpBuilder b2(list.data(), kListIova, 128);
  iovec past{At(3 * 4096), 2 * 4096};  // runs off the end of the first range
  EXPECT_EQ(BuildPrps(&past, 1, map_, b2), PrpResult::kNotMapped);
}

}  // namespace
}  // namespace bdevkit::nvme

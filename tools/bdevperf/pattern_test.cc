#include "tools/bdevperf/pattern.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

constexpr uint32_t kBlock = 512;

TEST(Pattern, SameKeySameBytes) {
  std::vector<unsigned char> a(4 * kBlock), b(4 * kBlock);
  FillPattern(a.data(), kBlock, 4, {100, 3, 9});
  FillPattern(b.data(), kBlock, 4, {100, 3, 9});
  EXPECT_FALSE(ComparePattern(a.data(), b.data(), kBlock, 4, 100, {100, 3, 9}).has_value());
}

TEST(Pattern, MisplacedDataIsCaught) {
  std::vector<unsigned char> expected(2 * kBlock), read(2 * kBlock);
  FillPattern(expected.data(), kBlock, 2, {10, 1, 5});
  FillPattern(read.data(), kBlock, 2, {10, 1, 5});
  FillPattern(read.data() + kBlock, kBlock, 1, {77, 1, 5});  // block 11 holds LBA 77's data
  auto m = ComparePattern(expected.data(), read.data(), kBlock, 2, 10, {10, 1, 5});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->lba, 11u);
  EXPECT_NE(m->diagnosis.find("misplaced"), std::string::npos) << m->diagnosis;
  EXPECT_NE(FormatMismatch(*m).find("LBA 0xb"), std::string::npos);
}

TEST(Pattern, StaleDataIsCaught) {
  std::vector<unsigned char> expected(kBlock), read(kBlock);
  FillPattern(expected.data(), kBlock, 1, {4, 2, 5});
  FillPattern(read.data(), kBlock, 1, {4, 1, 5});  // the previous write
  auto m = ComparePattern(expected.data(), read.data(), kBlock, 1, 4, {4, 2, 5});
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->diagnosis.find("stale"), std::string::npos) << m->diagnosis;
}

TEST(Pattern, FlippedPayloadByteIsCaughtAtItsOffset) {
  std::vector<unsigned char> expected(kBlock), read(kBlock);
  FillPattern(expected.data(), kBlock, 1, {0, 1, 1});
  read = expected;
  read[300] ^= 0x01;
  auto m = ComparePattern(expected.data(), read.data(), kBlock, 1, 0, {0, 1, 1});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->offset, 300u);
  EXPECT_EQ(m->actual, expected[300] ^ 0x01);
  EXPECT_NE(m->diagnosis.find("payload"), std::string::npos);
}

TEST(Pattern, UnwrittenBlockIsCaught) {
  std::vector<unsigned char> expected(kBlock), read(kBlock, 0);
  FillPattern(expected.data(), kBlock, 1, {0, 1, 1});
  auto m = ComparePattern(expected.data(), read.data(), kBlock, 1, 0, {0, 1, 1});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->offset, 0u);
  EXPECT_NE(m->diagnosis.find("no verify header"), std::string::npos);
}

}  // namespace
}  // namespace bdevkit::perf

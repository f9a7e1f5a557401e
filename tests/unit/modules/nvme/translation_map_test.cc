#include "modules/nvme/env/translation_map.h"

#include <thread>

#include "gtest/gtest.h"

namespace bdevkit::nvme {
namespace {

const void* P(uintptr_t v) { return reinterpret_cast<const void*>(v); }

TEST(TranslationMapTest, LooksUpInsideRangesOnly) {
  TranslationMap m;
  ASSERT_TRUE(m.Add({0x10000, 0x3000, 0x1000, {0xa000, 0xb000, 0xf000}, {}}).ok());
  EXPECT_EQ(m.Lookup(P(0xffff)).contiguous, 0u);
  EXPECT_EQ(m.Lookup(P(0x13000)).contiguous, 0u);
  auto r = m.Lookup(P(0x10010));
  EXPECT_EQ(r.iova, 0xa010u);
  // Segments 0 and 1 continue each other in IOVA space; segment 2 does not.
  EXPECT_EQ(r.contiguous, 0x2000u - 0x10);
  r = m.Lookup(P(0x12fff));
  EXPECT_EQ(r.iova, 0xffffu);
  EXPECT_EQ(r.contiguous, 1u);
}

TEST(TranslationMapTest, RejectsOverlapsAndBadRanges) {
  TranslationMap m;
  ASSERT_TRUE(m.Add({0x10000, 0x2000, 0x1000, {0, 0x1000}, {}}).ok());
  EXPECT_FALSE(m.Add({0x11000, 0x2000, 0x1000, {0, 0x1000}, {}}).ok());
  EXPECT_FALSE(m.Add({0xf000, 0x2000, 0x1000, {0, 0x1000}, {}}).ok());
  EXPECT_FALSE(m.Add({0x20000, 0x2000, 0x1000, {0}, {}}).ok());      // segment count
  EXPECT_FALSE(m.Add({0x20000, 0x1800, 0x1000, {0, 0}, {}}).ok());   // not whole segments
  EXPECT_TRUE(m.Add({0x12000, 0x1000, 0x1000, {0x5000}, {}}).ok());  // adjacent is fine
}

TEST(TranslationMapTest, RemoveMakesLookupsMiss) {
  TranslationMap m;
  ASSERT_TRUE(m.Add({0x10000, 0x1000, 0x1000, {0x5000}, {}}).ok());
  EXPECT_EQ(m.Remove(0x20000).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(m.Remove(0x10000).ok());
  EXPECT_EQ(m.Lookup(P(0x10000)).contiguous, 0u);
}

TEST(TranslationMapTest, LookupsDuringRegistrationSeeWholeTables) {
  TranslationMap m;
  ASSERT_TRUE(m.Add({0x10000, 0x1000, 0x1000, {0x5000}, {}}).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop) {
      auto r = m.Lookup(P(0x10008));
      if (r.iova != 0x5008 || r.contiguous != 0xff8) ++bad;
    }
  });
  for (uintptr_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(m.Add({0x100000 + i * 0x1000, 0x1000, 0x1000, {i * 0x1000}, {}}).ok());
  }
  for (uintptr_t i = 0; i < 200; ++i) ASSERT_TRUE(m.Remove(0x100000 + i * 0x1000).ok());
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace bdevkit::nvme

#include "tools/bdevperf/random_map.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

TEST(RandomMap, EverySlotOncePerPass) {
  for (uint64_t n : {1ull, 2ull, 3ull, 5ull, 64ull, 1000ull, 4097ull, 65536ull}) {
    RandomMap map(n, n * 31 + 7);
    std::vector<uint64_t> first_pass;
    for (int pass = 0; pass < 3; ++pass) {
      std::vector<int> seen(n, 0);
      std::vector<uint64_t> order;
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t v = map.Next();
        ASSERT_LT(v, n);
        ++seen[v];
        order.push_back(v);
      }
      for (uint64_t s = 0; s < n; ++s) ASSERT_EQ(seen[s], 1) << "n=" << n << " slot " << s;
      EXPECT_EQ(map.passes(), static_cast<uint64_t>(pass + 1));
      if (pass == 0) {
        first_pass = order;
      } else if (n >= 64) {
        EXPECT_NE(order, first_pass) << "each pass should have a new order";
      }
    }
  }
}

TEST(RandomMap, OrderLooksRandom) {
  // Not the identity and not a stride: few slots follow their predecessor + 1.
  RandomMap map(100000, 99);
  uint64_t prev = map.Next(), sequential = 0;
  for (int i = 1; i < 100000; ++i) {
    const uint64_t v = map.Next();
    sequential += v == prev + 1 ? 1 : 0;
    prev = v;
  }
  EXPECT_LT(sequential, 100u);
}

TEST(RandomMap, SeedsDiffer) {
  RandomMap a(1000, 1), b(1000, 2);
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += a.Next() == b.Next() ? 1 : 0;
  EXPECT_LT(same, 50);
}

}  // namespace
}  // namespace bdevkit::perf

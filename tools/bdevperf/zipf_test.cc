#include "tools/bdevperf/zipf.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

struct Rng {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Draws many values and compares each value's frequency with the exact Zipf
// probability (1/(k+1)^theta normalised), within a few standard deviations.
void CheckAgainstPmf(uint64_t n, double theta) {
  ZipfGenerator zipf(n, theta);
  Rng rng{12345};
  constexpr int kDraws = 400000;
  std::vector<uint64_t> counts(n, 0);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = zipf.Next(rng);
    ASSERT_LT(v, n);
    ++counts[v];
  }
  double norm = 0;
  for (uint64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -theta);
  double chi2 = 0;
  for (uint64_t k = 0; k < n; ++k) {
    const double p = std::pow(static_cast<double>(k + 1), -theta) / norm;
    const double expected = p * kDraws;
    const double sigma = std::sqrt(expected * (1 - p));
    if (expected >= 50) {
      EXPECT_NEAR(static_cast<double>(counts[k]), expected, 5 * sigma)
          << "n=" << n << " theta=" << theta << " value " << k;
    }
    if (expected > 0) chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
  }
  // Chi-square with n-1 degrees of freedom: mean n-1, sd sqrt(2(n-1)).
  const double df = static_cast<double>(n - 1);
  EXPECT_LT(chi2, df + 6 * std::sqrt(2 * df)) << "n=" << n << " theta=" << theta;
}

TEST(Zipf, MatchesDistribution) {
  CheckAgainstPmf(10, 0.5);
  CheckAgainstPmf(100, 0.99);
  CheckAgainstPmf(100, 1.0);  // the harmonic case (log in the integral)
  CheckAgainstPmf(1000, 1.2);
  CheckAgainstPmf(50, 3.0);
}

TEST(Zipf, HotValuesFirstAndRangeRespected) {
  ZipfGenerator zipf(1ull << 30, 1.1);  // a 4 TiB bdev of 4 KiB slots: no per-slot state
  Rng rng{7};
  uint64_t zeros = 0, max_seen = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = zipf.Next(rng);
    ASSERT_LT(v, 1ull << 30);
    zeros += v == 0 ? 1 : 0;
    max_seen = std::max(max_seen, v);
  }
  EXPECT_GT(zeros, 10000u);       // value 0 is the hottest by far
  EXPECT_GT(max_seen, 1000000u);  // and the tail is reached
}

TEST(Zipf, SingleValue) {
  ZipfGenerator zipf(1, 1.0);
  Rng rng{1};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(zipf.Next(rng), 0u);
}

}  // namespace
}  // namespace bdevkit::perf

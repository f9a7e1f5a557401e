#include "tools/bdevperf/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

using H = LatencyHistogram;

TEST(Histogram, BucketsTileTheWholeRange) {
  // Every bucket starts right after the previous one ends, from 0 to UINT64_MAX.
  EXPECT_EQ(H::BucketLow(0), 0u);
  for (int b = 1; b < H::kNumBuckets; ++b) {
    ASSERT_EQ(H::BucketLow(b), H::BucketHigh(b - 1) + 1) << "bucket " << b;
    ASSERT_LE(H::BucketLow(b), H::BucketHigh(b));
  }
  EXPECT_EQ(H::BucketHigh(H::kNumBuckets - 1), std::numeric_limits<uint64_t>::max());
}

TEST(Histogram, BucketOfMatchesBounds) {
  for (int b = 0; b < H::kNumBuckets; ++b) {
    ASSERT_EQ(H::BucketOf(H::BucketLow(b)), b);
    ASSERT_EQ(H::BucketOf(H::BucketHigh(b)), b);
  }
  // Small values are exact; the rest are at most 1/32 of their value wide.
  for (uint64_t v = 0; v < 64; ++v) EXPECT_EQ(H::BucketLow(H::BucketOf(v)), v);
  for (int b = 64; b < H::kNumBuckets; ++b) {
    const double width = static_cast<double>(H::BucketHigh(b) - H::BucketLow(b) + 1);
    ASSERT_LE(width / static_cast<double>(H::BucketLow(b)), 1.0 / 32) << "bucket " << b;
  }
}

TEST(Histogram, EmptyAndSingle) {
  H h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.Record(12345);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.min(), 12345u);
  EXPECT_EQ(h.max(), 12345u);
  // The bucket's upper bound, capped by the maximum: the exact value here.
  EXPECT_EQ(h.Percentile(0.5), 12345u);
  EXPECT_EQ(h.Percentile(1.0), 12345u);
}

// Percentiles against a sorted copy of the same values: the histogram's answer is the
// upper bound of the bucket holding the exact value of that rank (capped by the max),
// so it is never below the exact value and at most one bucket width above.
TEST(Histogram, PercentilesMatchSortedReference) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(8.0, 1.2);  // ticks: a long right tail
  for (int n : {1, 7, 100, 10000, 200000}) {
    H h;
    std::vector<uint64_t> values;
    for (int i = 0; i < n; ++i) {
      const uint64_t v = static_cast<uint64_t>(latency(rng));
      values.push_back(v);
      h.Record(v);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (double p : {0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
      const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * n)));
      const uint64_t exact = values[rank - 1];
      const uint64_t got = h.Percentile(p);
      EXPECT_EQ(got, std::min(H::BucketHigh(H::BucketOf(exact)), values.back()))
          << "n=" << n << " p=" << p;
      EXPECT_GE(got, exact);
      EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 32) + 1);
    }
  }
}

TEST(Histogram, MergeAddsUp) {
  H a, b, both;
  for (uint64_t v = 1; v < 5000; v += 7) {
    a.Record(v);
    both.Record(v);
  }
  for (uint64_t v = 100000; v < 900000; v += 1013) {
    b.Record(v);
    both.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  for (double p : {0.1, 0.5, 0.99}) EXPECT_EQ(a.Percentile(p), both.Percentile(p));
  uint64_t sum = 0;
  a.ForEachBucket([&](uint64_t low, uint64_t high, uint64_t count) {
    EXPECT_LE(low, high);
    sum += count;
  });
  EXPECT_EQ(sum, a.count());
  a.Clear();
  EXPECT_EQ(a.count(), 0u);
}

}  // namespace
}  // namespace bdevkit::perf

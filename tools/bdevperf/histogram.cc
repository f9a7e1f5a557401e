#include "tools/bdevperf/histogram.h"

#include <algorithm>
#include <cmath>

namespace bdevkit::perf {

uint64_t LatencyHistogram::BucketLow(int bucket) {
  const int group = bucket >> kSubBucketBits;
  const uint64_t sub = static_cast<uint64_t>(bucket) & (kSubBuckets - 1);
  if (group == 0) return sub;
  return (kSubBuckets + sub) << (group - 1);
}

uint64_t LatencyHistogram::BucketHigh(int bucket) {
  const int group = bucket >> kSubBucketBits;
  if (group == 0) return BucketLow(bucket);
  // The last bucket ends at the top of uint64_t; computing low + width would wrap.
  if (bucket == kNumBuckets - 1) return std::numeric_limits<uint64_t>::max();
  return BucketLow(bucket) + (1ull << (group - 1)) - 1;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kNumBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Clear() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kNumBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketHigh(i), max_);
  }
  return max_;  // unreachable: the counts add up to count_
}

void LatencyHistogram::ForEachBucket(
    const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) const {
  for (int i = 0; i < kNumBuckets; ++i) {
    if (counts_[i] != 0) fn(BucketLow(i), BucketHigh(i), counts_[i]);
  }
}

}  // namespace bdevkit::perf

// A latency histogram with log-linear buckets: values below 32 get a bucket each;
// above, each power of two is cut into 32 equal buckets, so a bucket is at most 1/32
// (3.1%) of its values wide, and 1920 buckets cover every uint64_t. The buckets are a
// fixed array inside the object (15 KiB): made once per job, nothing is allocated
// while recording, and recording is a count-leading-zeros, a shift, a mask and an
// increment.
#ifndef BDEVKIT_TOOLS_BDEVPERF_HISTOGRAM_H_
#define BDEVKIT_TOOLS_BDEVPERF_HISTOGRAM_H_

#include <array>
#include <cstdint>
#include <functional>
#include <limits>

namespace bdevkit::perf {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr uint64_t kSubBuckets = 1ull << kSubBucketBits;
  // Values 0..63 have exact buckets; then 32 buckets for each further power of two.
  static constexpr int kNumBuckets = (64 - kSubBucketBits + 1) * static_cast<int>(kSubBuckets);

  // The bucket holding `value`.
  static int BucketOf(uint64_t value) {
    if (value < kSubBuckets) return static_cast<int>(value);
    const int msb = 63 - __builtin_clzll(value);  // >= kSubBucketBits here
    const int shift = msb - kSubBucketBits;
    return ((shift + 1) << kSubBucketBits) + static_cast<int>((value >> shift) & (kSubBuckets - 1));
  }
  // Smallest and largest value of a bucket (both inclusive).
  static uint64_t BucketLow(int bucket);
  static uint64_t BucketHigh(int bucket);

  // The I/O path: a few instructions, no branch but the min/max updates.
  void Record(uint64_t value) {
    ++counts_[BucketOf(value)];
    ++count_;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }

  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  uint64_t bucket_count(int bucket) const { return counts_[bucket]; }

  // The value below or at which a fraction `p` (0 < p <= 1) of the recorded values
  // lie: the upper bound of the bucket holding the value of rank ceil(p * count),
  // capped by the exact maximum (so Percentile(1) == max()). 0 when empty.
  uint64_t Percentile(double p) const;

  // Calls fn(low, high, count) for each bucket with a count, in increasing order.
  void ForEachBucket(const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) const;

 private:
  std::array<uint64_t, kNumBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_HISTOGRAM_H_

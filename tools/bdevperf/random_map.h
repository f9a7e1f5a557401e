// -D: random offsets that cover every slot exactly once per pass, in a fresh random
// order each pass. Instead of SPDK's bitmap of visited slots (whose "next clear bit"
// search slows down as a pass fills up), a keyed bijection on the next power of two
// is applied to a counter, and values beyond the range are walked on through the
// bijection until they land inside it (cycle walking): constant memory, a few
// multiplies per draw, and fewer than two steps on average (the power of two is less
// than twice the range).
#ifndef BDEVKIT_TOOLS_BDEVPERF_RANDOM_MAP_H_
#define BDEVKIT_TOOLS_BDEVPERF_RANDOM_MAP_H_

#include <cstdint>

namespace bdevkit::perf {

class RandomMap {
 public:
  RandomMap() = default;
  // Slots [0, n), n >= 1; `seed` picks the order of the first pass.
  RandomMap(uint64_t n, uint64_t seed);

  // The next slot; after n calls every slot has come up once, and a new pass (a new
  // order) starts.
  uint64_t Next();

  uint64_t passes() const { return passes_; }  // completed passes

 private:
  void NewKeys();
  uint64_t Permute(uint64_t x) const;

  uint64_t n_ = 1;
  uint64_t mask_ = 0;
  int shift_ = 1;
  uint64_t rng_ = 0;
  uint64_t add0_ = 0, add1_ = 0, mul0_ = 1, mul1_ = 1;
  uint64_t index_ = 0;
  uint64_t passes_ = 0;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_RANDOM_MAP_H_

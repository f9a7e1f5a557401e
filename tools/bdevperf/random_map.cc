#include "tools/bdevperf/random_map.h"

namespace bdevkit::perf {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

RandomMap::RandomMap(uint64_t n, uint64_t seed) : n_(n == 0 ? 1 : n), rng_(seed) {
  int bits = 1;
  while (bits < 64 && (1ull << bits) < n_) ++bits;
  mask_ = bits == 64 ? ~0ull : (1ull << bits) - 1;
  shift_ = (bits + 1) / 2;
  NewKeys();
}

void RandomMap::NewKeys() {
  add0_ = SplitMix64(rng_) & mask_;
  add1_ = SplitMix64(rng_) & mask_;
  mul0_ = SplitMix64(rng_) | 1;  // odd: a bijection modulo any power of two
  mul1_ = SplitMix64(rng_) | 1;
}

// Each step is a bijection on [0, mask_]: adding a constant, multiplying by an odd
// constant (both modulo the power of two) and x ^= x >> s. So is their composition.
uint64_t RandomMap::Permute(uint64_t x) const {
  x = (x + add0_) & mask_;
  x = (x * mul0_) & mask_;
  x ^= x >> shift_;
  x = (x * mul1_) & mask_;
  x ^= x >> shift_;
  return (x + add1_) & mask_;
}

uint64_t RandomMap::Next() {
  uint64_t v = Permute(index_);
  while (v >= n_) v = Permute(v);
  if (++index_ == n_) {
    index_ = 0;
    ++passes_;
    NewKeys();
  }
  return v;
}

}  // namespace bdevkit::perf

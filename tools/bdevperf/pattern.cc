#include "tools/bdevperf/pattern.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace bdevkit::perf {
namespace {

// "bdkverf1" little-endian: marks a block written by bdevperf's verify.
constexpr uint64_t kMagic = 0x31667265766b6462ull;

struct BlockHeader {
  uint64_t magic;
  uint64_t lba;
  uint64_t generation;
  uint64_t seed;
};
static_assert(sizeof(BlockHeader) == 32);

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void FillBlock(unsigned char* block, uint32_t block_size, uint64_t lba, uint64_t generation,
               uint64_t seed) {
  const BlockHeader header{kMagic, lba, generation, seed};
  std::memcpy(block, &header, sizeof(header));
  uint64_t state = seed ^ (lba * 0xd6e8feb86659fd93ull) ^ (generation * 0xa0761d6478bd642full);
  for (uint32_t off = sizeof(header); off + 8 <= block_size; off += 8) {
    const uint64_t word = SplitMix64(state);
    std::memcpy(block + off, &word, 8);
  }
}

std::string Diagnose(const unsigned char* block, uint32_t block_size, uint64_t lba,
                     const PatternKey& key) {
  BlockHeader h;
  std::memcpy(&h, block, sizeof(h));
  if (h.magic != kMagic) return "the block holds no verify header (never written or overwritten)";
  if (h.seed != key.seed) {
    return absl::StrFormat("the block was written by another run (seed %u)", h.seed);
  }
  if (h.lba != lba) {
    return absl::StrFormat("misplaced data: the block holds LBA 0x%x", h.lba);
  }
  if (h.generation != key.generation) {
    return absl::StrFormat("stale data: the block holds write generation %u, expected %u",
                           h.generation, key.generation);
  }
  return "the header is right but the payload is corrupted";
}

}  // namespace

void FillPattern(void* buf, uint32_t block_size, uint64_t num_blocks, const PatternKey& key) {
  auto* p = static_cast<unsigned char*>(buf);
  for (uint64_t i = 0; i < num_blocks; ++i) {
    FillBlock(p + i * block_size, block_size, key.lba + i, key.generation, key.seed);
  }
}

std::optional<Mismatch> ComparePattern(const void* expected, const void* actual,
                                       uint32_t block_size, uint64_t num_blocks, uint64_t first_lba,
                                       const PatternKey& key) {
  const size_t len = static_cast<size_t>(block_size) * num_blocks;
  const auto* e = static_cast<const unsigned char*>(expected);
  const auto* a = static_cast<const unsigned char*>(actual);
  if (std::memcmp(e, a, len) == 0) return std::nullopt;  // the common, fast case
  size_t i = 0;
  while (i < len && e[i] == a[i]) ++i;
  Mismatch m;
  m.lba = first_lba + i / block_size;
  m.offset = static_cast<uint32_t>(i % block_size);
  m.expected = e[i];
  m.actual = a[i];
  m.diagnosis = Diagnose(a + (i / block_size) * block_size, block_size, m.lba, key);
  return m;
}

std::string FormatMismatch(const Mismatch& m) {
  return absl::StrFormat(
      "LBA 0x%x (byte offset 0x%x in the block): expected 0x%02x, read 0x%02x; %s", m.lba, m.offset,
      m.expected, m.actual, m.diagnosis);
}

}  // namespace bdevkit::perf

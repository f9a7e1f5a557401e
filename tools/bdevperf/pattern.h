// The data verify writes and checks. Every block starts with a header that says
// which LBA it belongs to, which write (generation) put it there and which run
// (seed); the rest of the block is a pseudo-random stream derived from those three.
// So a read that returns another block's data (misplaced), an older write's data
// (stale), another run's data, or a torn/corrupted block all fail the comparison,
// and the header read back says which of these it was.
#ifndef BDEVKIT_TOOLS_BDEVPERF_PATTERN_H_
#define BDEVKIT_TOOLS_BDEVPERF_PATTERN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace bdevkit::perf {

struct PatternKey {
  uint64_t lba = 0;         // first block of the buffer
  uint64_t generation = 0;  // which write of this job
  uint64_t seed = 0;        // which run
};

// Fills `num_blocks` blocks of `block_size` bytes (a multiple of 8, >= 32) at `buf`;
// block i carries LBA key.lba + i.
void FillPattern(void* buf, uint32_t block_size, uint64_t num_blocks, const PatternKey& key);

struct Mismatch {
  uint64_t lba = 0;     // the block that differs
  uint32_t offset = 0;  // first differing byte within that block
  uint8_t expected = 0;
  uint8_t actual = 0;
  std::string diagnosis;  // what the block's header says it holds
};

// Compares `actual` with `expected` (both num_blocks blocks starting at first_lba) and
// describes the first differing byte, or nullopt if every byte matches.
std::optional<Mismatch> ComparePattern(const void* expected, const void* actual,
                                       uint32_t block_size, uint64_t num_blocks, uint64_t first_lba,
                                       const PatternKey& key);

// One line: "LBA 0x10 (byte offset 0x20 in the block): expected 0x.., read 0x..; ...".
std::string FormatMismatch(const Mismatch& m);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_PATTERN_H_

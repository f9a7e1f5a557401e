// Where a raid's blocks live on its bases: the level, the strip size, and the pure
// arithmetic that maps a raid block range to base block ranges. No I/O, no state
// beyond the geometry, so every mapping is unit tested on its own.
#ifndef BDEVKIT_MODULES_RAID_RAID_LAYOUT_H_
#define BDEVKIT_MODULES_RAID_RAID_LAYOUT_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bdevkit::raid {

// The numbers are SPDK's (and what the superblock stores).
enum class RaidLevel : uint32_t { kRaid0 = 0, kRaid1 = 1, kConcat = 99 };

// "raid0"/"0", "raid1"/"1", "concat", any case. kInvalidArgument names what is known.
absl::StatusOr<RaidLevel> ParseRaidLevel(std::string_view text);
// "raid0", "raid1", "concat".
std::string_view RaidLevelName(RaidLevel level);
// Whether `value` is a level this module implements (for decoded superblocks).
bool IsKnownRaidLevel(uint32_t value);
// Fewest base bdevs a raid of this level may have.
inline constexpr uint32_t kMinBaseBdevs = 2;
// Most base bdevs of one raid (SPDK's limit: its count is a byte).
inline constexpr uint32_t kMaxBaseBdevs = 255;

// A range of blocks on one base.
struct BaseExtent {
  uint32_t base = 0;
  uint64_t offset_blocks = 0;  // on the base, data offset included
  uint64_t num_blocks = 0;
};

class RaidLayout {
 public:
  // `strip_blocks` must be a power of two for raid0 and concat (ignored for raid1);
  // each base must hold at least one strip (one block for raid1) after
  // `data_offset_blocks`. raid0: every base contributes the same number of whole
  // strips (the smallest base's); concat: each base its own whole strips; raid1: the
  // smallest base's blocks. kInvalidArgument naming the base that is too small.
  static absl::StatusOr<RaidLayout> Make(RaidLevel level, uint32_t strip_blocks,
                                         uint64_t data_offset_blocks,
                                         std::span<const uint64_t> base_num_blocks);

  RaidLevel level() const { return level_; }
  uint32_t strip_blocks() const { return strip_blocks_; }
  uint32_t num_bases() const { return num_bases_; }
  uint64_t num_blocks() const { return num_blocks_; }
  uint64_t data_offset() const { return data_offset_; }
  // Blocks of base `i` that hold raid data (after the data offset).
  uint64_t data_size(uint32_t i) const { return data_size_[i]; }

  // raid0 / concat: the base holding [offset, offset + num), which must lie within one
  // strip (raid0) or one member (concat) — the core's split on the optimal I/O
  // boundary (= the strip) guarantees it for reads and writes. raid1: base 0's copy.
  BaseExtent MapOne(uint64_t offset, uint64_t num) const;
  // MapOne for raid0, inline: the raid's I/O path.
  BaseExtent MapRaid0(uint64_t offset, uint64_t num) const {
    uint64_t base_strip;
    uint32_t base;
    DivideStrip(offset >> strip_shift_, &base_strip, &base);
    return {base, data_offset_ + (base_strip << strip_shift_) + (offset & strip_mask_), num};
  }

  // The part of [offset, offset + num) that lives on base `i`: for raid0 the strips
  // of the range that fall on that base are consecutive there, so it is one range
  // (possibly empty); for concat the overlap with that member; for raid1 all of it.
  BaseExtent RangeOnBase(uint32_t i, uint64_t offset, uint64_t num) const;

 private:
  RaidLayout() = default;

  // strip index -> (base, strip on that base) without a 64-bit division on the I/O
  // path: a shift when the base count is a power of two, else a multiply by the
  // precomputed reciprocal (exact for indexes below 2^32), else a division.
  void DivideStrip(uint64_t strip, uint64_t* quotient, uint32_t* remainder) const {
    if (bases_pow2_) {
      *quotient = strip >> bases_shift_;
      *remainder = static_cast<uint32_t>(strip & bases_mask_);
    } else if (strip >> 32 == 0) {
      // Lemire's fastdiv/fastmod for 32-bit numerators: exact for any 32-bit divisor.
      const uint64_t low = bases_reciprocal_ * strip;
      *quotient =
          static_cast<uint64_t>((static_cast<unsigned __int128>(bases_reciprocal_) * strip) >> 64);
      *remainder = static_cast<uint32_t>((static_cast<unsigned __int128>(low) * num_bases_) >> 64);
    } else {
      *quotient = strip / num_bases_;
      *remainder = static_cast<uint32_t>(strip % num_bases_);
    }
  }

  RaidLevel level_ = RaidLevel::kRaid0;
  uint32_t strip_blocks_ = 0;
  uint32_t bases_shift_ = 0;  // log2(base count) when it is a power of two
  bool bases_pow2_ = false;
  uint64_t bases_reciprocal_ = 0;  // 2^64 / base count, rounded up
  uint32_t strip_shift_ = 0;
  uint64_t strip_mask_ = 0;  // strip_blocks_ - 1
  uint32_t num_bases_ = 0;
  uint64_t bases_mask_ = 0;  // base count - 1 (used when it is a power of two)
  uint64_t data_offset_ = 0;
  uint64_t num_blocks_ = 0;
  std::vector<uint64_t> data_size_;
  std::vector<uint64_t> member_start_;  // concat: raid block where member i begins
};

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_RAID_LAYOUT_H_

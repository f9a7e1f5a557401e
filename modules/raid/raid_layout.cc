// Raid geometry and block mapping (raid_layout.h).
#include "modules/raid/raid_layout.h"

#include <algorithm>
#include <bit>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bdev/util/absl_compat.h"

namespace bdevkit::raid {

absl::StatusOr<RaidLevel> ParseRaidLevel(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(AsAbsl(text));
  if (lower == "raid0" || lower == "0") return RaidLevel::kRaid0;
  if (lower == "raid1" || lower == "1") return RaidLevel::kRaid1;
  if (lower == "concat") return RaidLevel::kConcat;
  if (lower == "raid5f" || lower == "5f") {
    return absl::InvalidArgumentError("\"raid_level\": raid5f is not supported");
  }
  return absl::InvalidArgumentError(absl::StrCat("\"raid_level\": unknown level \"", AsAbsl(text),
                                                 "\" (raid0, 0, raid1, 1 or concat)"));
}

std::string_view RaidLevelName(RaidLevel level) {
  switch (level) {
    case RaidLevel::kRaid0:
      return "raid0";
    case RaidLevel::kRaid1:
      return "raid1";
    case RaidLevel::kConcat:
      return "concat";
  }
  return "";
}

bool IsKnownRaidLevel(uint32_t value) {
  return value == static_cast<uint32_t>(RaidLevel::kRaid0) ||
         value == static_cast<uint32_t>(RaidLevel::kRaid1) ||
         value == static_cast<uint32_t>(RaidLevel::kConcat);
}

absl::StatusOr<RaidLayout> RaidLayout::Make(RaidLevel level, uint32_t strip_blocks,
                                            uint64_t data_offset_blocks,
                                            std::span<const uint64_t> base_num_blocks) {
  if (base_num_blocks.size() < kMinBaseBdevs || base_num_blocks.size() > kMaxBaseBdevs) {
    return absl::InvalidArgumentError(absl::StrCat("a raid needs ", kMinBaseBdevs, " to ",
                                                   kMaxBaseBdevs, " base bdevs, got ",
                                                   base_num_blocks.size()));
  }
  RaidLayout l;
  l.level_ = level;
  l.data_offset_ = data_offset_blocks;
  const bool striped = level != RaidLevel::kRaid1;
  if (striped) {
    if (!std::has_single_bit(strip_blocks)) {
      return absl::InvalidArgumentError(
          absl::StrCat("strip size of ", strip_blocks, " blocks is not a power of two"));
    }
    l.strip_blocks_ = strip_blocks;
    l.strip_shift_ = static_cast<uint32_t>(std::countr_zero(strip_blocks));
    l.strip_mask_ = strip_blocks - 1;
  }
  const uint64_t n = base_num_blocks.size();
  l.bases_pow2_ = std::has_single_bit(n);
  l.bases_shift_ = static_cast<uint32_t>(std::countr_zero(n));
  l.bases_reciprocal_ = UINT64_MAX / n + 1;
  l.num_bases_ = static_cast<uint32_t>(n);
  l.bases_mask_ = n - 1;
  const uint64_t unit = striped ? strip_blocks : 1;
  for (size_t i = 0; i < base_num_blocks.size(); ++i) {
    const uint64_t blocks = base_num_blocks[i];
    if (blocks < data_offset_blocks || blocks - data_offset_blocks < unit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "base bdev ", i, " has ", blocks, " blocks: too small for a data offset of ",
          data_offset_blocks, " blocks and one ", striped ? "strip" : "block", " of ", unit));
    }
    l.data_size_.push_back((blocks - data_offset_blocks) / unit * unit);
  }
  switch (level) {
    case RaidLevel::kRaid0: {
      const uint64_t smallest = *std::min_element(l.data_size_.begin(), l.data_size_.end());
      std::fill(l.data_size_.begin(), l.data_size_.end(), smallest);
      l.num_blocks_ = smallest * l.data_size_.size();
      break;
    }
    case RaidLevel::kConcat:
      for (uint64_t size : l.data_size_) {
        l.member_start_.push_back(l.num_blocks_);
        l.num_blocks_ += size;
      }
      break;
    case RaidLevel::kRaid1: {
      const uint64_t smallest = *std::min_element(l.data_size_.begin(), l.data_size_.end());
      std::fill(l.data_size_.begin(), l.data_size_.end(), smallest);
      l.num_blocks_ = smallest;
      break;
    }
  }
  return l;
}

BaseExtent RaidLayout::MapOne(uint64_t offset, uint64_t num) const {
  switch (level_) {
    case RaidLevel::kRaid0:
      return MapRaid0(offset, num);
    case RaidLevel::kConcat: {
      // The last member starting at or before `offset`.
      auto it = std::upper_bound(member_start_.begin(), member_start_.end(), offset);
      const uint32_t i = static_cast<uint32_t>(it - member_start_.begin() - 1);
      return {i, data_offset_ + offset - member_start_[i], num};
    }
    case RaidLevel::kRaid1:
      return {0, data_offset_ + offset, num};
  }
  return {};
}

BaseExtent RaidLayout::RangeOnBase(uint32_t i, uint64_t offset, uint64_t num) const {
  BaseExtent none{i, data_offset_, 0};
  if (num == 0) return none;
  switch (level_) {
    case RaidLevel::kRaid0: {
      const uint64_t n = data_size_.size();
      const uint64_t mask = uint64_t{strip_blocks_} - 1;
      const uint64_t last_block = offset + num - 1;
      const uint64_t first = offset >> strip_shift_;
      const uint64_t last = last_block >> strip_shift_;
      // First strip >= first and last strip <= last that live on base i.
      const uint64_t s = first + (i + n - first % n) % n;
      if (s > last) return none;
      const uint64_t e = last - (last % n + n - i) % n;
      const uint64_t start = ((s / n) << strip_shift_) + (s == first ? offset & mask : 0);
      const uint64_t end =
          ((e / n) << strip_shift_) + (e == last ? (last_block & mask) + 1 : mask + 1);
      return {i, data_offset_ + start, end - start};
    }
    case RaidLevel::kConcat: {
      const uint64_t ms = member_start_[i];
      const uint64_t me = ms + data_size_[i];
      const uint64_t lo = std::max(offset, ms);
      const uint64_t hi = std::min(offset + num, me);
      if (lo >= hi) return none;
      return {i, data_offset_ + (lo - ms), hi - lo};
    }
    case RaidLevel::kRaid1:
      return {i, data_offset_ + offset, num};
  }
  return none;
}

}  // namespace bdevkit::raid

// The arithmetic of splitting a bdev into parts: part size from the create
// parameters, the range check every part I/O passes, and each part's UUID. Pure.
#ifndef BDEVKIT_MODULES_SPLIT_SPLIT_LAYOUT_H_
#define BDEVKIT_MODULES_SPLIT_SPLIT_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace bdevkit::split {

struct SplitGeometry {
  uint32_t count = 0;
  uint64_t part_blocks = 0;  // every part has this many blocks
};

// split_size_mb == 0: the base's blocks divided evenly (the remainder is unused).
// Otherwise each part is split_size_mb MiB, which must be whole blocks, and all of
// them must fit in the base. kInvalidArgument naming the parameter: a count of 0,
// more parts than blocks, a size that does not fit.
absl::StatusOr<SplitGeometry> ComputeSplit(uint64_t base_blocks, uint32_t block_size,
                                           uint64_t split_count, uint64_t split_size_mb);

// Whether [offset, offset + num) lies inside a part of `part_blocks` (no overflow).
inline bool InPart(uint64_t part_blocks, uint64_t offset, uint64_t num) {
  return offset <= part_blocks && num <= part_blocks - offset;
}

// The UUID of part `index` of a base with UUID `base_uuid`: derived from both, so a
// part keeps its UUID across runs (RFC 4122 layout, version 8 "custom").
std::string PartUuid(const std::string& base_uuid, uint32_t index);

}  // namespace bdevkit::split

#endif  // BDEVKIT_MODULES_SPLIT_SPLIT_LAYOUT_H_

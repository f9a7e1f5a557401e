#include "modules/split/split_layout.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace bdevkit::split {

absl::StatusOr<SplitGeometry> ComputeSplit(uint64_t base_blocks, uint32_t block_size,
                                           uint64_t split_count, uint64_t split_size_mb) {
  if (split_count == 0) return absl::InvalidArgumentError("\"split_count\": must be at least 1");
  if (split_count > base_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"split_count\": ", split_count, " parts of a bdev of only ", base_blocks, " blocks"));
  }
  SplitGeometry g;
  g.count = static_cast<uint32_t>(split_count);
  if (split_size_mb == 0) {
    g.part_blocks = base_blocks / split_count;
    return g;
  }
  constexpr uint64_t kMiB = 1024 * 1024;
  if (split_size_mb > base_blocks * block_size / kMiB) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"split_size_mb\": ", split_size_mb, " MiB is larger than the base bdev"));
  }
  if ((split_size_mb * kMiB) % block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"split_size_mb\": ", split_size_mb,
                                                   " MiB is not whole blocks of ", block_size));
  }
  g.part_blocks = split_size_mb * kMiB / block_size;
  if (g.part_blocks * split_count > base_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"split_size_mb\": ", split_count, " parts of ", split_size_mb,
        " MiB do not fit in the base bdev (", base_blocks * block_size / kMiB, " MiB)"));
  }
  return g;
}

std::string PartUuid(const std::string& base_uuid, uint32_t index) {
  // Two FNV-1a 64-bit hashes (different offsets) of "<base uuid>/p<index>".
  const std::string key = absl::StrCat(base_uuid, "/p", index);
  auto fnv = [&](uint64_t h) {
    for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
    return h;
  };
  uint64_t hi = fnv(0xcbf29ce484222325ull);
  uint64_t lo = fnv(0x84222325cbf29ce4ull);
  hi = (hi & ~0xF000ull) | 0x8000ull;        // version 8
  lo = (lo & ~(3ull << 62)) | (2ull << 62);  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

}  // namespace bdevkit::split

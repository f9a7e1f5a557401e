// The raid superblock: bdevkit's own on-disk format (not SPDK's), written at block 0
// of every base of a raid created with "superblock": true, so the raid can reassemble
// itself by examine when its bases appear in a later run.
//
// Layout, little endian, kSuperblockHeaderBytes + N * kSuperblockEntryBytes bytes:
//   0  magic "BDKRAIDS"        8   version (u32)          12  length in bytes (u32)
//   16 crc32c (u32) of the whole length with this field taken as 0
//   20 reserved (u32, 0)       24  sequence number (u64): bumped at every write
//   32 raid UUID (16 bytes)    48  raid name (64 bytes, NUL padded, <= 63 chars)
//   112 level (u32: 0, 1, 99)  116 strip size in blocks (u32)  120 block size (u32)
//   124 number of bases N (u32)  128 raid size in blocks (u64)
//   136 slot of the base this copy is on (u32)  140 reserved (u32, 0)
//   144 N entries of 96 bytes: base bdev UUID (16), data offset (u64), data size
//       (u64) in blocks, base name when written (64 bytes, NUL padded)
// Each base's copy differs only in the slot field (and so the checksum): a base
// knows its own place even if it comes back under another name or UUID.
#ifndef BDEVKIT_MODULES_RAID_SUPERBLOCK_H_
#define BDEVKIT_MODULES_RAID_SUPERBLOCK_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "modules/raid/raid_layout.h"

namespace bdevkit::raid {

inline constexpr uint32_t kSuperblockVersion = 1;
inline constexpr size_t kSuperblockHeaderBytes = 144;
inline constexpr size_t kSuperblockEntryBytes = 96;
// What examine reads from block 0 (and what a superblock may occupy).
inline constexpr size_t kSuperblockMaxBytes = 4096;
inline constexpr uint32_t kSuperblockMaxBases =
    (kSuperblockMaxBytes - kSuperblockHeaderBytes) / kSuperblockEntryBytes;  // 41
inline constexpr size_t kSuperblockNameMax = 63;
// Raid data on a base with a superblock starts at this offset (or one strip if that
// is larger), keeping it aligned and the superblock room to grow.
inline constexpr uint64_t kSuperblockDataOffsetBytes = 1024 * 1024;

struct SuperblockBase {
  std::string uuid;  // the base bdev's UUID when written (informational)
  std::string name;  // the base bdev's name when written
  uint64_t data_offset_blocks = 0;
  uint64_t data_size_blocks = 0;
};

struct Superblock {
  uint64_t seq = 0;
  std::string raid_uuid;  // canonical lower-case text
  std::string name;
  RaidLevel level = RaidLevel::kRaid0;
  uint32_t strip_blocks = 0;
  uint32_t block_size = 0;
  uint64_t raid_num_blocks = 0;
  uint32_t this_slot = 0;
  std::vector<SuperblockBase> bases;
};

// Encodes `sb` (exactly its length; pad to the block size when writing).
// kInvalidArgument for what the format cannot hold (name too long, too many bases,
// a UUID that is not one). Pure.
absl::StatusOr<std::vector<uint8_t>> EncodeSuperblock(const Superblock& sb);

// Decodes the bytes read from block 0 of a base. kNotFound when they do not start
// with the magic (no superblock: the common case for any bdev); kDataLoss when the
// checksum does not match or the bytes end early; kInvalidArgument when the content
// is impossible (unknown version or level, bad counts or sizes). Never reads outside
// `bytes`. Pure: the fuzz target's entry point.
absl::StatusOr<Superblock> DecodeSuperblock(std::span<const uint8_t> bytes);

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_SUPERBLOCK_H_

// libFuzzer target: the raid superblock decoder (modules/raid/superblock.h) on
// arbitrary bytes, as examine reads them from block 0 of any bdev.
//
// The first input byte is a switch: when its low bit is set the rest gets a correct
// checksum before decoding, so the fuzzer reaches the checks behind the CRC instead of
// stopping at it. Beyond "no crash, no read outside the buffer" (ASan), it checks:
//   - a rejection is one of the documented codes, and kNotFound exactly when the
//     magic is missing;
//   - an accepted superblock obeys the format's limits (2..41 bases, slot below the
//     count, known level, power-of-two strip, block size a multiple of 512, names
//     that fit and hold no NUL);
//   - encoding it gives back the input's bytes, up to the bytes the format ignores
//     (reserved words, name padding after the NUL) and the checksum: the decoder read
//     every field from the right place;
//   - decoding that encoding gives the same superblock.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "modules/raid/crc32c.h"
#include "modules/raid/superblock.h"

namespace {

using bdevkit::raid::DecodeSuperblock;
using bdevkit::raid::EncodeSuperblock;
using bdevkit::raid::Superblock;
using bdevkit::raid::SuperblockBase;
namespace raid = bdevkit::raid;

constexpr size_t kCrcOffset = 16;
constexpr size_t kNameBytes = 64;

void Fail(const char* what) {
  std::fprintf(stderr, "raid_superblock_fuzzer: %s\n", what);
  std::abort();
}
void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void Seal(std::span<uint8_t> b) {
  Put32(b.data() + kCrcOffset, 0);
  Put32(b.data() + kCrcOffset, raid::Crc32c(b));
}

// The bytes an encoder writes for what `in` says: reserved words zero, every name
// field zero after its first NUL, the checksum recomputed.
std::vector<uint8_t> Canonical(std::span<const uint8_t> in, uint32_t length, uint32_t n) {
  std::vector<uint8_t> out(in.begin(), in.begin() + length);
  Put32(out.data() + 20, 0);
  Put32(out.data() + 140, 0);
  auto clear_after_nul = [](uint8_t* name) {
    uint8_t* nul = static_cast<uint8_t*>(std::memchr(name, 0, kNameBytes));
    if (nul != nullptr) std::memset(nul, 0, name + kNameBytes - nul);
  };
  clear_after_nul(out.data() + 48);
  for (uint32_t i = 0; i < n; ++i) {
    clear_after_nul(out.data() + raid::kSuperblockHeaderBytes + i * raid::kSuperblockEntryBytes +
                    32);
  }
  Seal(out);
  return out;
}

bool SameBase(const SuperblockBase& a, const SuperblockBase& b) {
  return a.uuid == b.uuid && a.name == b.name && a.data_offset_blocks == b.data_offset_blocks &&
         a.data_size_blocks == b.data_size_blocks;
}

bool Same(const Superblock& a, const Superblock& b) {
  if (a.seq != b.seq || a.raid_uuid != b.raid_uuid || a.name != b.name || a.level != b.level ||
      a.strip_blocks != b.strip_blocks || a.block_size != b.block_size ||
      a.raid_num_blocks != b.raid_num_blocks || a.this_slot != b.this_slot ||
      a.bases.size() != b.bases.size()) {
    return false;
  }
  for (size_t i = 0; i < a.bases.size(); ++i) {
    if (!SameBase(a.bases[i], b.bases[i])) return false;
  }
  return true;
}

bool NameFits(const std::string& name) {
  return name.size() <= raid::kSuperblockNameMax && name.find('\0') == std::string::npos;
}

void CheckAccepted(const Superblock& sb, std::span<const uint8_t> in) {
  const size_t n = sb.bases.size();
  Check(n >= raid::kMinBaseBdevs && n <= raid::kSuperblockMaxBases, "base count out of range");
  Check(sb.this_slot < n, "slot not below the base count");
  Check(raid::IsKnownRaidLevel(static_cast<uint32_t>(sb.level)), "unknown level accepted");
  Check(sb.level == raid::RaidLevel::kRaid1 ||
            (sb.strip_blocks != 0 && (sb.strip_blocks & (sb.strip_blocks - 1)) == 0),
        "strip size not a power of two accepted");
  Check(sb.block_size != 0 && sb.block_size % 512 == 0, "bad block size accepted");
  Check(!sb.name.empty() && NameFits(sb.name), "bad raid name accepted");
  Check(!sb.raid_uuid.empty(), "null raid UUID accepted");
  for (const SuperblockBase& b : sb.bases) {
    Check(NameFits(b.name), "bad base name accepted");
    Check(b.data_size_blocks != 0, "empty base accepted");
  }
  const uint32_t length = Get32(in.data() + 12);
  Check(length == raid::kSuperblockHeaderBytes + n * raid::kSuperblockEntryBytes,
        "length does not match the base count");
  Check(length <= in.size(), "accepted a superblock longer than its bytes");

  auto encoded = EncodeSuperblock(sb);
  Check(encoded.ok(), "an accepted superblock does not encode");
  Check(encoded->size() == length, "encoding has another length");
  Check(*encoded == Canonical(in, length, static_cast<uint32_t>(n)),
        "encoding differs from the decoded bytes");
  auto again = DecodeSuperblock(*encoded);
  Check(again.ok(), "an encoding does not decode");
  Check(Same(*again, sb), "decode(encode(sb)) != sb");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool reseal = (data[0] & 1) != 0;
  // An exact-size copy, so ASan catches a read past the end.
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (reseal && bytes.size() >= raid::kSuperblockHeaderBytes) {
    const uint32_t length = Get32(bytes.data() + 12);
    if (length >= kCrcOffset + 4 && length <= bytes.size()) {
      Seal(std::span<uint8_t>(bytes.data(), length));
    }
  }
  auto sb = DecodeSuperblock(bytes);
  const bool has_magic = bytes.size() >= 8 && std::memcmp(bytes.data(), "BDKRAIDS", 8) == 0;
  if (sb.ok()) {
    Check(has_magic, "accepted bytes without the magic");
    CheckAccepted(*sb, bytes);
    return 0;
  }
  const absl::StatusCode code = sb.status().code();
  Check(code == absl::StatusCode::kNotFound || code == absl::StatusCode::kDataLoss ||
            code == absl::StatusCode::kInvalidArgument,
        "undocumented error code");
  Check((code == absl::StatusCode::kNotFound) == !has_magic, "kNotFound iff no magic");
  Check(!sb.status().message().empty(), "error without a message");
  return 0;
}

// Superblock encoding and decoding (superblock.h).
#include "modules/raid/superblock.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "modules/raid/crc32c.h"

namespace bdevkit::raid {

namespace {

constexpr char kMagic[8] = {'B', 'D', 'K', 'R', 'A', 'I', 'D', 'S'};
constexpr size_t kNameBytes = 64;
constexpr size_t kCrcOffset = 16;

// Little-endian fields at fixed offsets; the caller checked the bounds.
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "" -> 16 zero bytes; else the 32 hex digits of the canonical form.
absl::Status PutUuid(uint8_t* p, const std::string& text, std::string_view what) {
  std::memset(p, 0, 16);
  if (text.empty()) return absl::OkStatus();
  const bool dashes_ok =
      text.size() == 36 && text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-';
  int n = 0;
  for (size_t i = 0; dashes_ok && i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const int hi = HexValue(text[i]);
    const int lo = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) break;
    p[n++] = static_cast<uint8_t>(hi << 4 | lo);
    ++i;
  }
  if (n != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": \"", text, "\" is not a UUID"));
  }
  return absl::OkStatus();
}

// 16 zero bytes -> ""; else canonical lower-case text.
std::string GetUuid(const uint8_t* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool zero = true;
  for (int i = 0; i < 16; ++i) zero = zero && p[i] == 0;
  if (zero) return "";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

absl::Status PutName(uint8_t* p, const std::string& name, std::string_view what) {
  if (name.size() > kSuperblockNameMax || name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " \"", name, "\" is longer than ", kSuperblockNameMax, " characters"));
  }
  std::memset(p, 0, kNameBytes);
  std::memcpy(p, name.data(), name.size());
  return absl::OkStatus();
}

// A NUL-terminated name in a fixed field; false if it fills the field.
bool GetName(const uint8_t* p, std::string* out) {
  const void* nul = std::memchr(p, 0, kNameBytes);
  if (nul == nullptr) return false;
  out->assign(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
  return true;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodeSuperblock(const Superblock& sb) {
  const size_t n = sb.bases.size();
  if (n < kMinBaseBdevs || n > kSuperblockMaxBases) {
    return absl::InvalidArgumentError(absl::StrCat("a raid with a superblock has ", kMinBaseBdevs,
                                                   " to ", kSuperblockMaxBases, " base bdevs, not ",
                                                   n));
  }
  if (sb.this_slot >= n) return absl::InvalidArgumentError("superblock slot out of range");
  std::vector<uint8_t> out(kSuperblockHeaderBytes + n * kSuperblockEntryBytes, 0);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, sizeof(kMagic));
  Put32(p + 8, kSuperblockVersion);
  Put32(p + 12, static_cast<uint32_t>(out.size()));
  Put64(p + 24, sb.seq);
  if (sb.raid_uuid.empty()) return absl::InvalidArgumentError("the raid has no UUID");
  if (absl::Status s = PutUuid(p + 32, sb.raid_uuid, "raid uuid"); !s.ok()) return s;
  if (sb.name.empty()) return absl::InvalidArgumentError("the raid has no name");
  if (absl::Status s = PutName(p + 48, sb.name, "raid name"); !s.ok()) return s;
  Put32(p + 112, static_cast<uint32_t>(sb.level));
  Put32(p + 116, sb.strip_blocks);
  Put32(p + 120, sb.block_size);
  Put32(p + 124, static_cast<uint32_t>(n));
  Put64(p + 128, sb.raid_num_blocks);
  Put32(p + 136, sb.this_slot);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* e = p + kSuperblockHeaderBytes + i * kSuperblockEntryBytes;
    const SuperblockBase& b = sb.bases[i];
    if (absl::Status s = PutUuid(e, b.uuid, "base uuid"); !s.ok()) return s;
    Put64(e + 16, b.data_offset_blocks);
    Put64(e + 24, b.data_size_blocks);
    if (absl::Status s = PutName(e + 32, b.name, "base name"); !s.ok()) return s;
  }
  Put32(p + kCrcOffset, Crc32c(out));  // computed with the field still 0
  return out;
}

absl::StatusOr<Superblock> DecodeSuperblock(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::NotFoundError("no raid superblock");
  }
  if (bytes.size() < kSuperblockHeaderBytes) {
    return absl::DataLossError(absl::StrCat("superblock truncated: ", bytes.size(), " of at least ",
                                            kSuperblockHeaderBytes, " bytes"));
  }
  const uint8_t* p = bytes.data();
  const uint32_t version = Get32(p + 8);
  if (version != kSuperblockVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "superblock version ", version, " is not supported (", kSuperblockVersion, " is)"));
  }
  const uint32_t length = Get32(p + 12);
  const uint32_t n = Get32(p + 124);
  if (n < kMinBaseBdevs || n > kSuperblockMaxBases) {
    return absl::InvalidArgumentError(absl::StrCat("superblock lists ", n, " base bdevs"));
  }
  if (length != kSuperblockHeaderBytes + n * kSuperblockEntryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("superblock length ", length, " does not fit its ", n, " base bdevs"));
  }
  if (bytes.size() < length) {
    return absl::DataLossError(
        absl::StrCat("superblock truncated: ", bytes.size(), " of ", length, " bytes"));
  }
  // Checksum over a copy with the crc field zeroed, before trusting anything else.
  std::vector<uint8_t> copy(bytes.begin(), bytes.begin() + length);
  Put32(copy.data() + kCrcOffset, 0);
  const uint32_t stored = Get32(p + kCrcOffset);
  const uint32_t actual = Crc32c(copy);
  if (stored != actual) {
    return absl::DataLossError(
        absl::StrCat("superblock checksum mismatch (stored ", stored, ", computed ", actual, ")"));
  }
  Superblock sb;
  sb.seq = Get64(p + 24);
  sb.raid_uuid = GetUuid(p + 32);
  if (sb.raid_uuid.empty()) return absl::InvalidArgumentError("superblock has a null raid UUID");
  if (!GetName(p + 48, &sb.name) || sb.name.empty()) {
    return absl::InvalidArgumentError("superblock raid name is empty or unterminated");
  }
  const uint32_t level = Get32(p + 112);
  if (!IsKnownRaidLevel(level)) {
    return absl::InvalidArgumentError(absl::StrCat("superblock raid level ", level, " is unknown"));
  }
  sb.level = static_cast<RaidLevel>(level);
  sb.strip_blocks = Get32(p + 116);
  if (sb.level != RaidLevel::kRaid1 &&
      (sb.strip_blocks == 0 || (sb.strip_blocks & (sb.strip_blocks - 1)) != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("superblock strip size ", sb.strip_blocks, " is not a power of two"));
  }
  sb.block_size = Get32(p + 120);
  if (sb.block_size == 0 || sb.block_size % 512 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("superblock block size ", sb.block_size, " is not a multiple of 512"));
  }
  sb.raid_num_blocks = Get64(p + 128);
  sb.this_slot = Get32(p + 136);
  if (sb.this_slot >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("superblock slot ", sb.this_slot, " is not below ", n));
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* e = p + kSuperblockHeaderBytes + i * kSuperblockEntryBytes;
    SuperblockBase b;
    b.uuid = GetUuid(e);
    b.data_offset_blocks = Get64(e + 16);
    b.data_size_blocks = Get64(e + 24);
    if (!GetName(e + 32, &b.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("superblock base ", i, " name is unterminated"));
    }
    if (b.data_size_blocks == 0) {
      return absl::InvalidArgumentError(absl::StrCat("superblock base ", i, " holds no data"));
    }
    sb.bases.push_back(std::move(b));
  }
  return sb;
}

}  // namespace bdevkit::raid

// The raid superblock format (modules/raid/superblock.h) and its checksum.
#include "modules/raid/superblock.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/raid/crc32c.h"

namespace bdevkit::raid {
namespace {

using ::testing::HasSubstr;

Superblock Sample() {
  Superblock sb;
  sb.seq = 7;
  sb.raid_uuid = "0f8e2a8c-1b2d-4c3e-9f40-5a6b7c8d9e0f";
  sb.name = "Raid0";
  sb.level = RaidLevel::kConcat;
  sb.strip_blocks = 32;
  sb.block_size = 4096;
  sb.raid_num_blocks = 12345;
  sb.this_slot = 1;
  sb.bases = {{"11111111-2222-4333-8444-555555555555", "Aio0", 256, 6000}, {"", "Aio1", 256, 6345}};
  return sb;
}

std::vector<uint8_t> Encoded(const Superblock& sb) {
  auto bytes = EncodeSuperblock(sb);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::vector<uint8_t>();
}

// Re-seals a modified encoding with a correct checksum, to reach the checks after it.
void Reseal(std::vector<uint8_t>& b) {
  std::memset(b.data() + 16, 0, 4);
  const uint32_t crc = Crc32c(b);
  for (int i = 0; i < 4; ++i) b[16 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

TEST(Crc32cTest, KnownValues) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32c({reinterpret_cast<const uint8_t*>(check.data()), check.size()}), 0xE3069283u);
  EXPECT_EQ(Crc32c({}), 0u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);  // RFC 3720's 32 bytes of zeroes
}

TEST(SuperblockTest, RoundTrips) {
  const Superblock sb = Sample();
  std::vector<uint8_t> bytes = Encoded(sb);
  EXPECT_EQ(bytes.size(), kSuperblockHeaderBytes + 2 * kSuperblockEntryBytes);
  bytes.resize(4096, 0);  // as read from a 4 KiB block
  auto back = DecodeSuperblock(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->raid_uuid, sb.raid_uuid);
  EXPECT_EQ(back->name, "Raid0");
  EXPECT_EQ(back->level, RaidLevel::kConcat);
  EXPECT_EQ(back->strip_blocks, 32u);
  EXPECT_EQ(back->block_size, 4096u);
  EXPECT_EQ(back->raid_num_blocks, 12345u);
  EXPECT_EQ(back->this_slot, 1u);
  ASSERT_EQ(back->bases.size(), 2u);
  EXPECT_EQ(back->bases[0].uuid, sb.bases[0].uuid);
  EXPECT_EQ(back->bases[0].name, "Aio0");
  EXPECT_EQ(back->bases[1].uuid, "");
  EXPECT_EQ(back->bases[1].data_offset_blocks, 256u);
  EXPECT_EQ(back->bases[1].data_size_blocks, 6345u);
}

TEST(SuperblockTest, UppercaseUuidIsStoredCanonically) {
  Superblock sb = Sample();
  sb.raid_uuid = "0F8E2A8C-1B2D-4C3E-9F40-5A6B7C8D9E0F";
  auto back = DecodeSuperblock(Encoded(sb));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->raid_uuid, "0f8e2a8c-1b2d-4c3e-9f40-5a6b7c8d9e0f");
}

TEST(SuperblockTest, NoMagicIsNotFound) {
  std::vector<uint8_t> zeros(4096, 0);
  EXPECT_EQ(DecodeSuperblock(zeros).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DecodeSuperblock({}).status().code(), absl::StatusCode::kNotFound);
}

TEST(SuperblockTest, AnyFlippedBitIsCaught) {
  const std::vector<uint8_t> good = Encoded(Sample());
  // Every bit after the magic: the checksum (or, in the magic, NotFound) catches it.
  for (size_t byte = 8; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = good;
      bad[byte] ^= static_cast<uint8_t>(1 << bit);
      auto r = DecodeSuperblock(bad);
      ASSERT_FALSE(r.ok()) << "byte " << byte << " bit " << bit;
    }
  }
  std::vector<uint8_t> bad = good;
  bad[100] ^= 0x40;
  EXPECT_EQ(DecodeSuperblock(bad).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(DecodeSuperblock(bad).status().message()), HasSubstr("checksum"));
}

TEST(SuperblockTest, EveryTruncationIsAnErrorNotACrash) {
  const std::vector<uint8_t> good = Encoded(Sample());
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    auto r = DecodeSuperblock(cut);
    ASSERT_FALSE(r.ok()) << n;
    if (n >= 8) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << n;
    }
  }
}

TEST(SuperblockTest, ImpossibleContentIsRejectedEvenWithAGoodChecksum) {
  const std::vector<uint8_t> good = Encoded(Sample());
  auto with = [&](size_t at, std::vector<uint8_t> value) {
    std::vector<uint8_t> b = good;
    std::copy(value.begin(), value.end(), b.begin() + static_cast<long>(at));
    Reseal(b);
    return DecodeSuperblock(b).status();
  };
  EXPECT_THAT(std::string(with(8, {2, 0, 0, 0}).message()), HasSubstr("version 2"));
  EXPECT_THAT(std::string(with(112, {5, 0, 0, 0}).message()), HasSubstr("level 5"));
  EXPECT_THAT(std::string(with(116, {24, 0, 0, 0}).message()), HasSubstr("power of two"));
  EXPECT_THAT(std::string(with(120, {0, 1, 0, 0}).message()), HasSubstr("block size 256"));
  EXPECT_THAT(std::string(with(136, {2, 0, 0, 0}).message()), HasSubstr("slot 2"));
  EXPECT_THAT(std::string(with(124, {1, 0, 0, 0}).message()), HasSubstr("lists 1 base"));
  EXPECT_THAT(std::string(with(124, {3, 0, 0, 0}).message()), HasSubstr("does not fit"));
  EXPECT_THAT(std::string(with(12, {0, 1, 0, 0}).message()), HasSubstr("length"));
  // An unterminated name (64 non-NUL bytes).
  EXPECT_THAT(std::string(with(48, std::vector<uint8_t>(64, 'x')).message()),
              HasSubstr("raid name"));
  EXPECT_THAT(std::string(with(32, std::vector<uint8_t>(16, 0)).message()),
              HasSubstr("null raid UUID"));
  // Base 0 with no data.
  EXPECT_THAT(std::string(with(kSuperblockHeaderBytes + 24, std::vector<uint8_t>(8, 0)).message()),
              HasSubstr("holds no data"));
}

TEST(SuperblockTest, EncodeRefusesWhatTheFormatCannotHold) {
  Superblock sb = Sample();
  sb.name = std::string(64, 'n');
  EXPECT_THAT(std::string(EncodeSuperblock(sb).status().message()), HasSubstr("longer than 63"));
  sb = Sample();
  sb.bases.resize(kSuperblockMaxBases + 1, sb.bases[0]);
  EXPECT_FALSE(EncodeSuperblock(sb).ok());
  sb = Sample();
  sb.raid_uuid = "not-a-uuid";
  EXPECT_THAT(std::string(EncodeSuperblock(sb).status().message()), HasSubstr("not a UUID"));
  sb = Sample();
  sb.this_slot = 2;
  EXPECT_FALSE(EncodeSuperblock(sb).ok());
}

TEST(SuperblockTest, RandomBytesNeverDecodeOrCrash) {
  std::mt19937 rng(1);
  std::vector<uint8_t> good = Encoded(Sample());
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) b[8 + rng() % (b.size() - 8)] = static_cast<uint8_t>(rng());
    b.resize(rng() % (b.size() + 64), 0xEE);
    auto r = DecodeSuperblock(b);
    if (r.ok()) {  // only if the random bytes happened to change nothing
      EXPECT_EQ(r->name, "Raid0");
    }
  }
}

}  // namespace
}  // namespace bdevkit::raid

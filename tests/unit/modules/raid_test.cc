// The raid module over the real bdev layer: creation and its checks, I/O mapping onto
// the bases, configuring -> online by examine, hot removal under load, superblock
// reassembly, save_config.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"
#include "tests/unit/modules/vbdev_test_helpers.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::BdevExists;
using testing::CallRpc;
using testing::TestDisk;
namespace vt = testing::vbdev;

class RaidTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Raids first (they hold claims), then whatever bases the test made.
    for (const json& r : vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "all"}}))) {
      EXPECT_TRUE(CallRpc("bdev_raid_delete", {{"name", r["name"]}}).ok()) << r.dump();
    }
    vt::DeleteAllMallocAndAio();
  }
  json Raid(const std::string& name) {
    for (const json& e : vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "all"}}))) {
      if (e["name"] == name) return e;
    }
    return nullptr;
  }
};

TEST_F(RaidTest, Raid0OverTwoMallocsMapsStripsRoundRobin) {
  vt::Malloc("M0", 1024, 512);
  vt::Malloc("M1", 1003, 512);  // the smaller one sets the size: 1003 -> 1000 per base
  RpcResult r = CallRpc("bdev_raid_create", {{"name", "R0"},
                                             {"raid_level", "raid0"},
                                             {"strip_size_kb", 4},
                                             {"base_bdevs", {"M0", "M1"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(vt::J(r), json(true));
  testing::OnAppSync([] {
    Bdev* b = FindBdev("R0");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->product_name(), "Raid Volume");
    EXPECT_EQ(b->num_blocks(), 2 * 1000u);
    EXPECT_EQ(b->properties().optimal_io_boundary, 8u);
    EXPECT_TRUE(b->properties().split_on_optimal_io_boundary);
    EXPECT_EQ(FindBdev("M0")->claim_type(), ClaimType::kExclusiveWrite);
    EXPECT_EQ(FindBdev("M0")->claim_module(), "raid");
    json info = b->DriverSpecificJson();
    EXPECT_EQ(info["raid"]["state"], "online");
    EXPECT_EQ(info["raid"]["strip_size_kb"], 4);
    EXPECT_EQ(info["raid"]["base_bdevs_list"][1]["name"], "M1");
    EXPECT_EQ(info["raid"]["base_bdevs_list"][1]["data_size"], 1000);
  });
  // 40 blocks from block 4: crosses strips 0..5 (blocks 4..43).
  std::vector<uint8_t> w = vt::Pattern(40 * 512, 1);
  {
    TestDisk disk("R0");
    ASSERT_TRUE(disk.ok()) << disk.open_status();
    ASSERT_TRUE(disk.Write(w.data(), 4, 40).ok());
    std::vector<uint8_t> back(w.size());
    ASSERT_TRUE(disk.Read(back.data(), 4, 40).ok());
    EXPECT_EQ(back, w);
  }
  // Where the blocks went: raid block b is strip b/8, on base (b/8)%2 at strip (b/8)/2.
  std::vector<uint8_t> m0 = vt::ReadBase("M0", 0, 24), m1 = vt::ReadBase("M1", 0, 24);
  for (uint64_t b = 4; b < 44; ++b) {
    const uint64_t strip = b / 8;
    const std::vector<uint8_t>& base = strip % 2 == 0 ? m0 : m1;
    const uint64_t base_block = (strip / 2) * 8 + b % 8;
    ASSERT_EQ(std::memcmp(base.data() + base_block * 512, w.data() + (b - 4) * 512, 512), 0)
        << "raid block " << b;
  }
}

TEST_F(RaidTest, ConcatFillsOneBaseAfterTheOther) {
  vt::Malloc("M0", 100, 512);  // 96 blocks of 8-block strips
  vt::Malloc("M1", 64, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "C0"},
                                           {"raid_level", "concat"},
                                           {"strip_size_kb", 4},
                                           {"base_bdevs", {"M0", "M1"}}})
                  .ok());
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("C0")->num_blocks(), 96u + 64u); });
  std::vector<uint8_t> w = vt::Pattern(16 * 512, 9);
  {
    TestDisk disk("C0");
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(disk.Write(w.data(), 88, 16).ok());  // 8 on M0, 8 on M1
    std::vector<uint8_t> back(w.size());
    ASSERT_TRUE(disk.Read(back.data(), 88, 16).ok());
    EXPECT_EQ(back, w);
  }
  EXPECT_EQ(std::memcmp(vt::ReadBase("M0", 88, 8).data(), w.data(), 8 * 512), 0);
  EXPECT_EQ(std::memcmp(vt::ReadBase("M1", 0, 8).data(), w.data() + 8 * 512, 8 * 512), 0);
}

TEST_F(RaidTest, UnmapAndWriteZeroesFanOutToEveryAffectedBase) {
  vt::Malloc("M0", 256, 512);
  vt::Malloc("M1", 256, 512);
  vt::Malloc("M2", 256, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "R3"},
                                           {"raid_level", "0"},
                                           {"strip_size_kb", 4},
                                           {"base_bdevs", {"M0", "M1", "M2"}}})
                  .ok());
  TestDisk disk("R3");
  ASSERT_TRUE(disk.ok());
  std::vector<uint8_t> w = vt::Pattern(96 * 512, 3);
  ASSERT_TRUE(disk.Write(w.data(), 0, 96).ok());
  // Blocks 5..60 span strips 0..7 over all three bases (malloc unmap reads back 0).
  ASSERT_TRUE(disk.Unmap(5, 56).ok());
  std::vector<uint8_t> back(96 * 512);
  ASSERT_TRUE(disk.Read(back.data(), 0, 96).ok());
  for (uint64_t b = 0; b < 96; ++b) {
    const bool zero = b >= 5 && b < 61;
    for (int i = 0; i < 512; ++i) {
      ASSERT_EQ(back[b * 512 + i], zero ? 0 : w[b * 512 + i]) << "block " << b;
    }
  }
  ASSERT_TRUE(disk.Write(w.data(), 0, 96).ok());
  ASSERT_TRUE(disk.WriteZeroes(70, 20).ok());
  ASSERT_TRUE(disk.Read(back.data(), 0, 96).ok());
  for (uint64_t b = 0; b < 96; ++b) {
    const bool zero = b >= 70 && b < 90;
    ASSERT_EQ(back[b * 512 + 7], zero ? 0 : w[b * 512 + 7]) << "block " << b;
  }
  EXPECT_TRUE(disk.Flush(0, 96).ok());
  EXPECT_TRUE(disk.Flush(0, 0).ok());
}

TEST_F(RaidTest, Raid1WritesEveryCopyAndReadsAny) {
  vt::Malloc("M0", 128, 512);
  vt::Malloc("M1", 120, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create",
                      {{"name", "R1"}, {"raid_level", "raid1"}, {"base_bdevs", {"M0", "M1"}}})
                  .ok());
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("R1")->num_blocks(), 120u); });
  std::vector<uint8_t> w = vt::Pattern(30 * 512, 5);
  {
    TestDisk disk("R1");
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(disk.Write(w.data(), 90, 30).ok());
    for (int i = 0; i < 4; ++i) {  // reads rotate over the copies
      std::vector<uint8_t> back(w.size());
      ASSERT_TRUE(disk.Read(back.data(), 90, 30).ok());
      EXPECT_EQ(back, w);
    }
  }
  EXPECT_EQ(vt::ReadBase("M0", 90, 30), w);
  EXPECT_EQ(vt::ReadBase("M1", 90, 30), w);
  EXPECT_EQ(Raid("R1")["strip_size_kb"], 0);
  RpcResult bad = CallRpc("bdev_raid_create", {{"name", "R1b"},
                                               {"raid_level", "raid1"},
                                               {"strip_size_kb", 64},
                                               {"base_bdevs", {"X0", "X1"}}});
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("raid1 has no strip"));
}

TEST_F(RaidTest, BasesNamedBeforeTheyExistComeOnlineByExamine) {
  ASSERT_TRUE(CallRpc("bdev_raid_create",
                      {{"name", "Later"}, {"raid_level", "raid0"}, {"base_bdevs", {"L0", "L1"}}})
                  .ok());
  EXPECT_FALSE(BdevExists("Later"));
  json r = Raid("Later");
  EXPECT_EQ(r["state"], "configuring");
  EXPECT_EQ(r["strip_size_kb"], 64);  // the default
  EXPECT_EQ(r["num_base_bdevs_discovered"], 0);
  EXPECT_EQ(r["base_bdevs_list"][0]["name"], "L0");
  EXPECT_EQ(r["base_bdevs_list"][0]["is_configured"], false);
  vt::Malloc("L1", 1024, 512);
  vt::WaitForExamine();
  r = Raid("Later");
  EXPECT_EQ(r["state"], "configuring");
  EXPECT_EQ(r["num_base_bdevs_discovered"], 1);
  EXPECT_EQ(vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "online"}})), json::array());
  EXPECT_EQ(vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "configuring"}})).size(), 1u);
  vt::Malloc("L0", 1024, 512);
  vt::WaitForExamine();
  EXPECT_TRUE(BdevExists("Later"));
  EXPECT_EQ(Raid("Later")["state"], "online");
  EXPECT_EQ(Raid("Later")["num_base_bdevs_discovered"], 2);
  // save_config recreates it; the raid (written by the module) comes before its bases.
  json config = vt::J(CallRpc("framework_get_config", {{"name", "bdev"}}));
  int raid_at = -1, base_at = -1;
  for (size_t i = 0; i < config.size(); ++i) {
    if (config[i]["method"] == "bdev_raid_create" && config[i]["params"]["name"] == "Later") {
      raid_at = static_cast<int>(i);
      EXPECT_EQ(config[i]["params"]["base_bdevs"], json({"L0", "L1"}));
      EXPECT_EQ(config[i]["params"]["raid_level"], "raid0");
      EXPECT_EQ(config[i]["params"]["uuid"], Raid("Later")["uuid"]);
    }
    if (config[i]["method"] == "bdev_malloc_create" && config[i]["params"]["name"] == "L0") {
      base_at = static_cast<int>(i);
    }
  }
  EXPECT_GE(raid_at, 0);
  EXPECT_LT(raid_at, base_at);
}

TEST_F(RaidTest, BadInputLeavesNothingBehind) {
  vt::Malloc("B0", 1024, 512);
  vt::Malloc("B1", 1024, 512);
  vt::Malloc("B4k", 256, 4096);
  auto create = [](json params) { return CallRpc("bdev_raid_create", std::move(params)); };
  auto message = [](const RpcResult& r) { return std::string(r.status().message()); };
  RpcResult r = create({{"name", "X"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0"}}});
  EXPECT_THAT(message(r), HasSubstr("needs 2 to"));
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -32602);
  r = create({{"name", "X"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0", "B0"}}});
  EXPECT_THAT(message(r), HasSubstr("\"B0\" is listed twice"));
  r = create({{"name", "X"},
              {"raid_level", "raid0"},
              {"strip_size_kb", 12},
              {"base_bdevs", {"B0", "B1"}}});
  EXPECT_THAT(message(r), HasSubstr("\"strip_size_kb\": 12 is not a power of two"));
  r = create({{"name", "X"}, {"raid_level", "raid5"}, {"base_bdevs", {"B0", "B1"}}});
  EXPECT_THAT(message(r), HasSubstr("unknown level \"raid5\""));
  r = create({{"name", "X"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0", 7}}});
  EXPECT_THAT(message(r), HasSubstr("\"base_bdevs\": expected bdev names"));
  // Mismatched block sizes: B0 is claimed first, then B4k fails; B0 must be released.
  r = create({{"name", "X"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0", "B4k"}}});
  EXPECT_THAT(message(r), HasSubstr("block size 4096 differs"));
  // A strip smaller than the block size.
  r = create({{"name", "X"},
              {"raid_level", "raid0"},
              {"strip_size_kb", 1},
              {"base_bdevs", {"B4k", "B0"}}});
  EXPECT_THAT(message(r), HasSubstr("not a multiple of its block size 4096"));
  // Named like an existing bdev.
  r = create({{"name", "B1"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0", "Q"}}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  testing::OnAppSync([] {
    for (const char* n : {"B0", "B1", "B4k"}) {
      EXPECT_EQ(FindBdev(n)->claim_type(), ClaimType::kNone) << n;
    }
  });
  EXPECT_EQ(vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "all"}})), json::array());
  // A base already claimed (by another raid) fails, and the other base is not kept.
  ASSERT_TRUE(create({{"name", "Y"}, {"raid_level", "raid0"}, {"base_bdevs", {"B0", "B1"}}}).ok());
  vt::Malloc("B2", 1024, 512);
  vt::Malloc("B3", 1024, 512);
  r = create({{"name", "Z"}, {"raid_level", "raid0"}, {"base_bdevs", {"B2", "B1"}}});
  EXPECT_THAT(message(r), HasSubstr("already a base of raid \"Y\""));
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "B3"}, {"split_count", 2}}).ok());
  r = create({{"name", "Z"}, {"raid_level", "raid0"}, {"base_bdevs", {"B2", "B3"}}});
  EXPECT_THAT(message(r), HasSubstr("base bdev \"B3\""));
  EXPECT_THAT(message(r), HasSubstr("claimed by module 'split'"));
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("B2")->claim_type(), ClaimType::kNone); });
  EXPECT_EQ(vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "all"}})).size(), 1u);
  ASSERT_TRUE(CallRpc("bdev_split_delete", {{"base_bdev", "B3"}}).ok());
  // Same name, different raid.
  r = create({{"name", "Y"}, {"raid_level", "concat"}, {"base_bdevs", {"B2", "B3"}}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  r = CallRpc("bdev_raid_delete", {{"name", "Nope"}});
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -19);
  r = CallRpc("bdev_raid_get_bdevs", {{"category", "broken"}});
  EXPECT_THAT(message(r), HasSubstr("\"category\""));
}

TEST_F(RaidTest, DeleteReleasesTheBases) {
  vt::Malloc("D0", 256, 512);
  vt::Malloc("D1", 256, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create",
                      {{"name", "Del"}, {"raid_level", "concat"}, {"base_bdevs", {"D0", "D1"}}})
                  .ok());
  {
    TestDisk held("Del");  // a user keeps it open: the delete waits for it to let go
    ASSERT_TRUE(held.ok());
  }
  ASSERT_TRUE(CallRpc("bdev_raid_delete", {{"name", "Del"}, {"clear_sb", false}}).ok());
  EXPECT_FALSE(BdevExists("Del"));
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("D0")->claim_type(), ClaimType::kNone); });
  // The bases are free for someone else.
  TestDisk d0("D0");
  EXPECT_TRUE(d0.ok());
}

TEST_F(RaidTest, BaseRemovedUnderLoadTakesTheRaidOfflineAndEverythingCompletes) {
  vt::Malloc("H0", 4096, 512);
  vt::Malloc("H1", 4096, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "Hot"},
                                           {"raid_level", "raid0"},
                                           {"strip_size_kb", 4},
                                           {"base_bdevs", {"H0", "H1"}}})
                  .ok());
  vt::Load load("Hot", /*depth=*/64, /*max_blocks=*/24);
  ASSERT_TRUE(load.Start());
  ASSERT_TRUE(load.WaitForCompletions(2000));
  // Removing a base under load: the raid goes offline, its bdev is unregistered, the
  // load (told kRemove) stops and closes, and only then can H1 finish going.
  RpcResult del = CallRpc("bdev_malloc_delete", {{"name", "H1"}});
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_TRUE(load.WaitUntilClosed());
  EXPECT_EQ(load.submitted(), load.completed());
  EXPECT_GT(load.ok_count(), 2000u);
  EXPECT_FALSE(BdevExists("Hot"));
  EXPECT_FALSE(BdevExists("H1"));
  json r = Raid("Hot");
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["state"], "offline");
  EXPECT_EQ(r["num_base_bdevs_discovered"], 1);
  EXPECT_EQ(r["num_base_bdevs_operational"], 1);
  EXPECT_EQ(r["base_bdevs_list"][1]["is_configured"], false);
  EXPECT_EQ(vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "offline"}})).size(), 1u);
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("H0")->claim_module(), "raid"); });
  // The base comes back: so does the raid.
  vt::Malloc("H1", 4096, 512);
  vt::WaitForExamine();
  EXPECT_TRUE(BdevExists("Hot"));
  EXPECT_EQ(Raid("Hot")["state"], "online");
  EXPECT_EQ(Raid("Hot")["num_base_bdevs_operational"], 2);
}

TEST_F(RaidTest, SuperblockReassemblesFromBasesUnderOtherNames) {
  vt::TempFiles files(2, 8 << 20);
  auto aio = [&](const std::string& name, int i) {
    RpcResult r = CallRpc("bdev_aio_create",
                          {{"name", name}, {"filename", files.path(i)}, {"block_size", 512}});
    ASSERT_TRUE(r.ok()) << r.status();
  };
  aio("A0", 0);
  aio("A1", 1);
  vt::WaitForExamine();
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "Sb"},
                                           {"raid_level", "raid0"},
                                           {"strip_size_kb", 8},
                                           {"superblock", true},
                                           {"base_bdevs", {"A0", "A1"}}})
                  .ok());
  const std::string uuid = Raid("Sb")["uuid"];
  EXPECT_EQ(Raid("Sb")["superblock"], true);
  // Data starts 1 MiB into each base.
  EXPECT_EQ(Raid("Sb")["base_bdevs_list"][0]["data_offset"], 2048);
  std::vector<uint8_t> w = vt::Pattern(64 * 512, 11);
  {
    TestDisk disk("Sb");
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(disk.Write(w.data(), 100, 64).ok());
  }
  uint64_t blocks = 0;
  testing::OnAppSync([&] { blocks = FindBdev("Sb")->num_blocks(); });
  // Forget the raid (keeping its superblock) and the bases, as a restart would.
  ASSERT_TRUE(CallRpc("bdev_raid_delete", {{"name", "Sb"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "A0"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "A1"}}).ok());
  // One base back: the raid is known again, configuring.
  aio("Other1", 1);
  vt::WaitForExamine();
  json r = Raid("Sb");
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["state"], "configuring");
  EXPECT_EQ(r["uuid"], uuid);
  EXPECT_EQ(r["num_base_bdevs_discovered"], 1);
  EXPECT_EQ(r["base_bdevs_list"][1]["name"], "Other1");
  EXPECT_EQ(r["base_bdevs_list"][0]["name"], "A0");  // as the superblock remembers it
  aio("Other0", 0);
  vt::WaitForExamine();
  EXPECT_EQ(Raid("Sb")["state"], "online");
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("Sb");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->uuid(), uuid);
    EXPECT_EQ(b->num_blocks(), blocks);
  });
  {
    TestDisk disk("Sb");
    ASSERT_TRUE(disk.ok());
    std::vector<uint8_t> back(w.size());
    ASSERT_TRUE(disk.Read(back.data(), 100, 64).ok());
    EXPECT_EQ(back, w);
  }
  // clear_sb: after it, the bases carry nothing to reassemble from.
  ASSERT_TRUE(CallRpc("bdev_raid_delete", {{"name", "Sb"}, {"clear_sb", true}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "Other0"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "Other1"}}).ok());
  aio("A0", 0);
  aio("A1", 1);
  vt::WaitForExamine();
  EXPECT_TRUE(Raid("Sb").is_null());
}

TEST_F(RaidTest, CorruptSuperblockIsNotTrusted) {
  vt::TempFiles files(2, 4 << 20);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        CallRpc("bdev_aio_create", {{"name", "C" + std::to_string(i)}, {"filename", files.path(i)}})
            .ok());
  }
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "Cr"},
                                           {"raid_level", "concat"},
                                           {"superblock", true},
                                           {"base_bdevs", {"C0", "C1"}}})
                  .ok());
  ASSERT_TRUE(CallRpc("bdev_raid_delete", {{"name", "Cr"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "C0"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "C1"}}).ok());
  files.FlipByte(1, 60);  // inside the raid name, under the checksum
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        CallRpc("bdev_aio_create", {{"name", "C" + std::to_string(i)}, {"filename", files.path(i)}})
            .ok());
  }
  vt::WaitForExamine();
  json r = Raid("Cr");
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["state"], "configuring");
  EXPECT_EQ(r["num_base_bdevs_discovered"], 1);
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("C1")->claim_type(), ClaimType::kNone); });
}

}  // namespace
}  // namespace bdevkit

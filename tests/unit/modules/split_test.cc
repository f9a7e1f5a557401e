// The split module over the real bdev layer: parts, their range checks, splits
// declared before their base, base removal, bad input, save_config.
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

class SplitTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* base : {"S0", "S1", "Late", "Big", "Gone", "Raid"}) {
      (void)CallRpc("bdev_split_delete", {{"base_bdev", base}});  // whichever exist
    }
    for (const json& r : vt::J(CallRpc("bdev_raid_get_bdevs", {{"category", "all"}}))) {
      EXPECT_TRUE(CallRpc("bdev_raid_delete", {{"name", r["name"]}}).ok());
    }
    vt::DeleteAllMallocAndAio();
  }
};

TEST_F(SplitTest, PartsMapOntoTheBaseAtTheirOffsets) {
  vt::Malloc("S0", 1003, 512);
  RpcResult r = CallRpc("bdev_split_create", {{"base_bdev", "S0"}, {"split_count", 4}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(vt::J(r), json({"S0p0", "S0p1", "S0p2", "S0p3"}));
  testing::OnAppSync([] {
    Bdev* p = FindBdev("S0p2");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->product_name(), "Split Disk");
    EXPECT_EQ(p->num_blocks(), 250u);
    EXPECT_EQ(p->DriverSpecificJson(),
              json({{"split", {{"base_bdev", "S0"}, {"offset_blocks", 500}}}}));
    EXPECT_EQ(FindBdev("S0")->claim_module(), "split");
  });
  std::vector<uint8_t> w = vt::Pattern(10 * 512, 2);
  {
    TestDisk part("S0p2");
    ASSERT_TRUE(part.ok());
    ASSERT_TRUE(part.Write(w.data(), 240, 10).ok());  // the part's last 10 blocks
    std::vector<uint8_t> back(w.size());
    ASSERT_TRUE(part.Read(back.data(), 240, 10).ok());
    EXPECT_EQ(back, w);
    // Past the part's end: refused, never passed on to the next part.
    EXPECT_EQ(part.Write(w.data(), 241, 10).error, -EINVAL);
    EXPECT_TRUE(part.Unmap(0, 250).ok());
    EXPECT_TRUE(part.Flush(0, 250).ok());
  }
  EXPECT_EQ(vt::ReadBase("S0", 740, 10), std::vector<uint8_t>(10 * 512, 0));  // unmapped
  EXPECT_EQ(vt::ReadBase("S0p3", 0, 1).size(), 512u);
}

TEST_F(SplitTest, SizedPartsAndSaveConfig) {
  vt::Malloc("S1", 16384, 4096);  // 64 MiB
  RpcResult r = CallRpc("bdev_split_create",
                        {{"base_bdev", "S1"}, {"split_count", 3}, {"split_size_mb", 16}});
  ASSERT_TRUE(r.ok()) << r.status();
  std::string uuid0;
  testing::OnAppSync([&] {
    EXPECT_EQ(FindBdev("S1p1")->num_blocks(), 4096u);
    EXPECT_EQ(FindBdev("S1p1")->DriverSpecificJson()["split"]["offset_blocks"], 4096);
    uuid0 = FindBdev("S1p0")->uuid();
  });
  json config = vt::J(CallRpc("framework_get_config", {{"name", "bdev"}}));
  bool found = false;
  for (const json& e : config) {
    const json params = e.value("params", json::object());
    if (e["method"] == "bdev_split_create" && params["base_bdev"] == "S1") {
      found = true;
      EXPECT_EQ(params["split_count"], 3);
      EXPECT_EQ(params["split_size_mb"], 16);
    }
    EXPECT_NE(params.value("name", ""), "S1p0") << "parts are not written themselves";
  }
  EXPECT_TRUE(found);
  // Deleting and recreating gives the parts the same UUIDs (derived from the base's).
  ASSERT_TRUE(CallRpc("bdev_split_delete", {{"base_bdev", "S1"}}).ok());
  EXPECT_FALSE(BdevExists("S1p0"));
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("S1")->claim_type(), ClaimType::kNone); });
  ASSERT_TRUE(
      CallRpc("bdev_split_create", {{"base_bdev", "S1"}, {"split_count", 3}, {"split_size_mb", 16}})
          .ok());
  testing::OnAppSync([&] { EXPECT_EQ(FindBdev("S1p0")->uuid(), uuid0); });
}

TEST_F(SplitTest, DeclaredBeforeTheBaseAppearsWithIt) {
  RpcResult r = CallRpc("bdev_split_create", {{"base_bdev", "Late"}, {"split_count", 2}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(vt::J(r), json::array());
  vt::Malloc("Late", 64, 512);
  vt::WaitForExamine();
  EXPECT_TRUE(BdevExists("Latep0"));
  EXPECT_TRUE(BdevExists("Latep1"));
}

TEST_F(SplitTest, BaseRemovalTakesThePartsWhichComeBackWithIt) {
  vt::Malloc("Gone", 256, 512);
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "Gone"}, {"split_count", 2}}).ok());
  vt::Load load("Gonep1", 16, 8);
  ASSERT_TRUE(load.Start());
  ASSERT_TRUE(load.WaitForCompletions(500));
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "Gone"}}).ok());
  EXPECT_TRUE(load.WaitUntilClosed());
  EXPECT_EQ(load.submitted(), load.completed());
  EXPECT_FALSE(BdevExists("Gonep0"));
  EXPECT_FALSE(BdevExists("Gonep1"));
  vt::Malloc("Gone", 256, 512);
  vt::WaitForExamine();
  EXPECT_TRUE(BdevExists("Gonep1"));
}

TEST_F(SplitTest, BadInputLeavesNothingBehind) {
  vt::Malloc("Big", 8, 512);
  auto message = [](const RpcResult& r) { return std::string(r.status().message()); };
  RpcResult r = CallRpc("bdev_split_create", {{"base_bdev", "Big"}, {"split_count", 0}});
  EXPECT_THAT(message(r), HasSubstr("\"split_count\": must be at least 1"));
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -32602);
  r = CallRpc("bdev_split_create", {{"base_bdev", "Big"}, {"split_count", 9}});
  EXPECT_THAT(message(r), HasSubstr("9 parts of a bdev of only 8 blocks"));
  r = CallRpc("bdev_split_create",
              {{"base_bdev", "Big"}, {"split_count", 2}, {"split_size_mb", 1}});
  EXPECT_THAT(message(r), HasSubstr("larger than the base"));
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("Big")->claim_type(), ClaimType::kNone); });
  EXPECT_FALSE(BdevExists("Bigp0"));
  // A claimed base.
  vt::Malloc("Raid", 1024, 512);
  vt::Malloc("Other", 1024, 512);
  ASSERT_TRUE(CallRpc("bdev_raid_create",
                      {{"name", "R"}, {"raid_level", "concat"}, {"base_bdevs", {"Raid", "Other"}}})
                  .ok());
  r = CallRpc("bdev_split_create", {{"base_bdev", "Raid"}, {"split_count", 2}});
  EXPECT_THAT(message(r), HasSubstr("claimed by module 'raid'"));
  EXPECT_FALSE(BdevExists("Raidp0"));
  // Twice the same base.
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "Big"}, {"split_count", 2}}).ok());
  r = CallRpc("bdev_split_create", {{"base_bdev", "Big"}, {"split_count", 2}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  r = CallRpc("bdev_split_delete", {{"base_bdev", "Nope"}});
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -19);
}

TEST_F(SplitTest, SplitOverRaidOverMallocStack) {
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "Raid"}, {"split_count", 2}}).ok());
  ASSERT_TRUE(CallRpc("bdev_raid_create", {{"name", "Raid"},
                                           {"raid_level", "raid0"},
                                           {"strip_size_kb", 4},
                                           {"base_bdevs", {"SM0", "SM1"}}})
                  .ok());
  vt::Malloc("SM0", 512, 512);
  vt::Malloc("SM1", 512, 512);
  vt::WaitForExamine();
  ASSERT_TRUE(BdevExists("Raidp1"));
  std::vector<uint8_t> w = vt::Pattern(32 * 512, 4);
  {
    TestDisk part("Raidp1");
    ASSERT_TRUE(part.ok());
    ASSERT_TRUE(part.Write(w.data(), 3, 32).ok());
    std::vector<uint8_t> back(w.size());
    ASSERT_TRUE(part.Read(back.data(), 3, 32).ok());
    EXPECT_EQ(back, w);
  }
  // Raidp1 starts at raid block 512 = strip 64 -> SM0 at its block 256.
  EXPECT_EQ(std::memcmp(vt::ReadBase("SM0", 256 + 3, 5).data(), w.data(), 5 * 512), 0);
  // Removing a malloc under the stack takes the raid offline and the split parts away.
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "SM1"}}).ok());
  EXPECT_FALSE(BdevExists("Raidp0"));
  EXPECT_FALSE(BdevExists("Raid"));
}

}  // namespace
}  // namespace bdevkit

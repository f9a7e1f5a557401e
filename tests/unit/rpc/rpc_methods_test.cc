// The core's and the framework's methods through the real runtime, bdev layer and
// the malloc/null modules: bdev_get_bdevs (object, lookups, timeout),
// bdev_get_iostat (counters, per_channel, reset_mode), bdev_examine, save_config's
// bdev section and its round trip, log flags, rpc_get_methods, spdk_get_version.
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;
using testing::CallRpc;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new testing::BdevLayerEnv());

json Ok(const RpcResult& r) {
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? json(*r) : json();
}

class RpcMethodsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& name : ListBdevs()) {
      const char* del = name.rfind("Null", 0) == 0 ? "bdev_null_delete" : "bdev_malloc_delete";
      (void)CallRpc(del, {{"name", name}});
    }
  }
};

TEST_F(RpcMethodsTest, GetBdevsFullObject) {
  Ok(CallRpc("bdev_malloc_create", {{"name", "Malloc0"},
                                    {"num_blocks", 1024},
                                    {"block_size", 4096},
                                    {"uuid", "11111111-2222-4333-8444-555555555555"},
                                    {"optimal_io_boundary", 16}}));
  json all = Ok(CallRpc("bdev_get_bdevs", nullptr));
  ASSERT_EQ(all.size(), 1u);
  const json& b = all[0];
  EXPECT_EQ(b["name"], "Malloc0");
  EXPECT_EQ(b["aliases"], json::array({"11111111-2222-4333-8444-555555555555"}));
  EXPECT_EQ(b["product_name"], "Malloc disk");
  EXPECT_EQ(b["block_size"], 4096);
  EXPECT_EQ(b["num_blocks"], 1024);
  EXPECT_EQ(b["uuid"], "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(b["optimal_write_size"], 16 * 4096);
  EXPECT_EQ(b["preferred_write_alignment"], 4096);
  EXPECT_EQ(b["assigned_rate_limits"], json({{"rw_ios_per_sec", 0},
                                             {"rw_mbytes_per_sec", 0},
                                             {"r_mbytes_per_sec", 0},
                                             {"w_mbytes_per_sec", 0}}));
  EXPECT_EQ(b["claimed"], false);
  EXPECT_FALSE(b.contains("claim_type"));
  EXPECT_EQ(b["zoned"], false);
  EXPECT_EQ(b["driver_specific"], json::object());
  const json& io = b["supported_io_types"];
  EXPECT_EQ(io.size(), 22u);
  EXPECT_EQ(io["read"], true);
  EXPECT_EQ(io["write"], true);
  EXPECT_EQ(io["unmap"], true);
  EXPECT_EQ(io["write_zeroes"], true);
  EXPECT_EQ(io["nvme_admin"], false);
  EXPECT_EQ(io["zcopy"], false);
  for (const char* key : {"preferred_write_granularity", "preferred_unmap_alignment",
                          "preferred_unmap_granularity"}) {
    EXPECT_TRUE(b[key].is_number()) << key;
  }
}

// spdk-compat.md fixes the order of a bdev object's keys; rpc.py prints them as they
// arrive, so users comparing with SPDK's output see the same layout.
TEST_F(RpcMethodsTest, GetBdevsKeepsSpdkKeyOrder) {
  Ok(CallRpc("bdev_null_create", {{"name", "Null0"}, {"num_blocks", 100}, {"block_size", 512}}));
  RpcResult r = CallRpc("bdev_get_bdevs", {{"name", "Null0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> keys;
  for (auto it = (*r)[0].begin(); it != (*r)[0].end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(keys, ElementsAre("name", "aliases", "product_name", "block_size", "num_blocks",
                                "preferred_write_alignment", "preferred_write_granularity",
                                "optimal_write_size", "preferred_unmap_alignment",
                                "preferred_unmap_granularity", "uuid", "assigned_rate_limits",
                                "claimed", "zoned", "supported_io_types", "driver_specific"));
  std::vector<std::string> limits;
  for (auto it = (*r)[0]["assigned_rate_limits"].begin();
       it != (*r)[0]["assigned_rate_limits"].end(); ++it) {
    limits.push_back(it.key());
  }
  EXPECT_THAT(limits, ElementsAre("rw_ios_per_sec", "rw_mbytes_per_sec", "r_mbytes_per_sec",
                                  "w_mbytes_per_sec"));
}

TEST_F(RpcMethodsTest, GetBdevsByNameAliasUuidAndErrors) {
  Ok(CallRpc("bdev_null_create", {{"name", "Null0"}, {"num_blocks", 100}, {"block_size", 512}}));
  json by_name = Ok(CallRpc("bdev_get_bdevs", {{"name", "Null0"}}));
  ASSERT_EQ(by_name.size(), 1u);
  std::string uuid = by_name[0]["uuid"];
  json by_uuid = Ok(CallRpc("bdev_get_bdevs", {{"name", uuid}}));
  EXPECT_EQ(by_uuid[0]["name"], "Null0");
  EXPECT_EQ(by_uuid[0]["product_name"], "Null disk");
  RpcResult missing = CallRpc("bdev_get_bdevs", {{"name", "Nope"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("Nope"));
  RpcResult bad = CallRpc("bdev_get_bdevs", {{"name", 5}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RpcMethodsTest, GetBdevsTimeoutWaitsForTheBdevOrExpires) {
  absl::Time start = absl::Now();
  RpcResult expired = CallRpc("bdev_get_bdevs", {{"name", "Late0"}, {"timeout", 100}});
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));

  // The bdev appears while the call waits: the call returns it.
  std::thread creator([] {
    absl::SleepFor(absl::Milliseconds(100));
    Ok(CallRpc("bdev_malloc_create", {{"name", "Late0"}, {"num_blocks", 64}, {"block_size", 512}}));
  });
  json found = Ok(CallRpc("bdev_get_bdevs", {{"name", "Late0"}, {"timeout", 5000}}));
  creator.join();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["name"], "Late0");
}

TEST_F(RpcMethodsTest, IostatCountsPerChannelAndResets) {
  Ok(CallRpc("bdev_malloc_create", {{"name", "Malloc1"}, {"num_blocks", 64}, {"block_size", 512}}));
  Ok(CallRpc("bdev_null_create", {{"name", "Null1"}, {"num_blocks", 64}, {"block_size", 512}}));
  // Examine reads each new bdev once (the raid module looks for its superblock): start
  // counting after it.
  Ok(CallRpc("bdev_wait_for_examine", nullptr));
  Ok(CallRpc("bdev_get_iostat", {{"reset_mode", "all"}}));
  {
    testing::TestDisk disk("Malloc1");
    ASSERT_TRUE(disk.ok());
    std::vector<char> buf(4096);
    ASSERT_TRUE(disk.Write(buf.data(), 0, 8).ok());
    ASSERT_TRUE(disk.Read(buf.data(), 0, 2).ok());
    ASSERT_TRUE(disk.Read(buf.data(), 4, 2).ok());

    json per = Ok(CallRpc("bdev_get_iostat", {{"name", "Malloc1"}, {"per_channel", true}}));
    EXPECT_EQ(per["name"], "Malloc1");
    ASSERT_EQ(per["channels"].size(), 1u);
    EXPECT_TRUE(per["channels"][0]["thread_id"].is_number());
    EXPECT_EQ(per["channels"][0]["num_read_ops"], 2);

    // reset_mode maxmin: counts stay, max/min latencies go.
    json mm = Ok(CallRpc("bdev_get_iostat", {{"name", "Malloc1"}, {"reset_mode", "maxmin"}}));
    EXPECT_GT(mm["bdevs"][0]["max_read_latency_ticks"].get<uint64_t>(), 0u);
    json after_mm = Ok(CallRpc("bdev_get_iostat", {{"name", "Malloc1"}}));
    EXPECT_EQ(after_mm["bdevs"][0]["num_read_ops"], 2);
    EXPECT_EQ(after_mm["bdevs"][0]["max_read_latency_ticks"], 0);
    EXPECT_GT(after_mm["bdevs"][0]["read_latency_ticks"].get<uint64_t>(), 0u);
  }
  json all = Ok(CallRpc("bdev_get_iostat", {{"reset_mode", "all"}}));
  EXPECT_GT(all["tick_rate"].get<uint64_t>(), 0u);
  EXPECT_TRUE(all["ticks"].is_number());
  ASSERT_EQ(all["bdevs"].size(), 2u);
  const json& m = all["bdevs"][0];
  EXPECT_EQ(m["name"], "Malloc1");
  EXPECT_EQ(m["num_read_ops"], 2);
  EXPECT_EQ(m["bytes_read"], 4 * 512);
  EXPECT_EQ(m["num_write_ops"], 1);
  EXPECT_EQ(m["bytes_written"], 8 * 512);
  EXPECT_EQ(m["io_error"], json::object());
  EXPECT_EQ(all["bdevs"][1]["name"], "Null1");
  json reset = Ok(CallRpc("bdev_get_iostat", {{"names", {"Malloc1"}}}));
  ASSERT_EQ(reset["bdevs"].size(), 1u);
  EXPECT_EQ(reset["bdevs"][0]["num_read_ops"], 0) << "reset_mode all did not reset";
  EXPECT_EQ(reset["bdevs"][0]["bytes_written"], 0);

  EXPECT_EQ(CallRpc("bdev_get_iostat", {{"name", "Nope"}}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CallRpc("bdev_get_iostat", {{"reset_mode", "some"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  RpcResult no_name = CallRpc("bdev_get_iostat", {{"per_channel", true}});
  EXPECT_EQ(no_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_name.status().message()), HasSubstr("per_channel"));
}

TEST_F(RpcMethodsTest, ExamineKnownAndUnknownBdev) {
  Ok(CallRpc("bdev_null_create", {{"name", "Null2"}, {"num_blocks", 64}, {"block_size", 512}}));
  EXPECT_EQ(Ok(CallRpc("bdev_examine", {{"name", "Null2"}})), true);
  EXPECT_EQ(CallRpc("bdev_examine", {{"name", "Nope"}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RpcMethodsTest, SaveConfigOrderAndRoundTrip) {
  Ok(CallRpc("bdev_malloc_create", {{"name", "Malloc3"},
                                    {"num_blocks", 256},
                                    {"block_size", 4096},
                                    {"optimal_io_boundary", 8}}));
  Ok(CallRpc("bdev_null_create", {{"name", "Null3"}, {"num_blocks", 128}, {"block_size", 512}}));
  json subsystems = Ok(CallRpc("framework_get_subsystems", nullptr));
  ASSERT_EQ(subsystems, json::parse(R"([{"subsystem":"bdev","depends_on":[]}])"));
  json all_entries = Ok(CallRpc("framework_get_config", {{"name", "bdev"}}));
  // The layer's options first, as SPDK writes them (pool size over all reactors); then
  // modules' options (bdev_nvme_set_options, ...), left out of the order checked here.
  ASSERT_FALSE(all_entries.empty());
  EXPECT_EQ(all_entries[0]["method"], "bdev_set_options");
  json config = json::array({all_entries[0]});
  for (size_t i = 1; i < all_entries.size(); ++i) {
    const std::string method = all_entries[i]["method"];
    if (!method.ends_with("_set_options")) config.push_back(all_entries[i]);
  }
  ASSERT_EQ(config.size(), 4u);
  EXPECT_EQ(config[0]["params"]["bdev_auto_examine"], true);
  EXPECT_EQ(config[0]["params"]["bdev_io_pool_size"].get<uint64_t>() %
                GetBdevLayerOptions().bdev_io_per_thread,
            0u);
  EXPECT_EQ(config[1]["method"], "bdev_malloc_create");
  EXPECT_EQ(config[2]["method"], "bdev_null_create");
  EXPECT_EQ(config[3], json({{"method", "bdev_wait_for_examine"}}));
  EXPECT_EQ(CallRpc("framework_get_config", {{"name", "nvmf"}}).status().code(),
            absl::StatusCode::kInvalidArgument);

  json before = Ok(CallRpc("bdev_get_bdevs", nullptr));
  TearDown();  // delete everything
  ASSERT_TRUE(ListBdevs().empty());
  json file = {{"subsystems", {{{"subsystem", "bdev"}, {"config", config}}}}};
  absl::Status loaded = testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(file, std::move(done)); });
  ASSERT_TRUE(loaded.ok()) << loaded;
  json after = Ok(CallRpc("bdev_get_bdevs", nullptr));
  EXPECT_EQ(after, before) << "save_config did not recreate the same bdevs";
}

// SPDK's states: a start-up-only method is refused at runtime with -1, and the config
// loader skips it there (it ran in the start-up pass) instead of failing the load.
TEST_F(RpcMethodsTest, StartupOnlyMethodsAtRuntime) {
  RpcResult r = CallRpc("bdev_set_options", {{"bdev_io_pool_size", 8192}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("during start-up"));
  json methods = Ok(CallRpc("rpc_get_methods", {{"current", true}}));
  EXPECT_EQ(std::count(methods.begin(), methods.end(), "bdev_set_options"), 0);
  EXPECT_EQ(std::count(methods.begin(), methods.end(), "bdev_get_bdevs"), 1);
  json file = json::parse(R"({"subsystems":[{"subsystem":"bdev","config":[
      {"method":"bdev_set_options","params":{"bdev_io_pool_size":1}},
      {"method":"bdev_null_create","params":{"name":"NullS","num_blocks":8,"block_size":512}}]}]})");
  absl::Status loaded = testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(file, std::move(done)); });
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_NE(FindBdev("NullS"), nullptr);
  EXPECT_EQ(GetBdevLayerOptions().bdev_io_per_thread, 4096u);
}

TEST_F(RpcMethodsTest, LogFlags) {
  json flags = Ok(CallRpc("log_get_flags", nullptr));
  for (const char* f : {"bdev", "rpc", "reactor", "malloc", "null"}) {
    ASSERT_TRUE(flags.contains(f)) << f;
    EXPECT_EQ(flags[f], false) << f;
  }
  EXPECT_EQ(Ok(CallRpc("log_set_flag", {{"flag", "malloc"}})), true);
  EXPECT_TRUE(LogFlagEnabled("malloc"));
  EXPECT_EQ(Ok(CallRpc("log_get_flags", nullptr))["malloc"], true);
  EXPECT_EQ(Ok(CallRpc("log_clear_flag", {{"flag", "malloc"}})), true);
  EXPECT_FALSE(LogFlagEnabled("malloc"));
  RpcResult bad = CallRpc("log_set_flag", {{"flag", "nonsense"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("nonsense"));
  SetLogLevel(LogLevel::kNotice);
}

TEST_F(RpcMethodsTest, FrameworkBasics) {
  json methods = Ok(CallRpc("rpc_get_methods", nullptr));
  for (const char* m :
       {"spdk_get_version", "rpc_get_methods", "framework_get_subsystems", "framework_get_config",
        "framework_wait_init", "spdk_kill_instance", "bdev_get_bdevs", "bdev_get_iostat",
        "bdev_wait_for_examine", "bdev_examine", "bdev_malloc_create", "bdev_malloc_delete",
        "bdev_null_create", "bdev_null_delete", "log_set_flag", "log_clear_flag",
        "log_get_flags"}) {
    EXPECT_THAT(methods, ::testing::Contains(json(m)));
  }
  EXPECT_TRUE(std::is_sorted(methods.begin(), methods.end()));
  // rpc.py always sends these two.
  Ok(CallRpc("rpc_get_methods", {{"current", false}, {"include_aliases", false}}));
  EXPECT_EQ(Ok(CallRpc("framework_wait_init", nullptr)), true);
  RpcResult sig = CallRpc("spdk_kill_instance", {{"sig_name", "SIGNOPE"}});
  EXPECT_EQ(sig.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(sig.status().message()), HasSubstr("SIGTERM"));
}

}  // namespace
}  // namespace bdevkit

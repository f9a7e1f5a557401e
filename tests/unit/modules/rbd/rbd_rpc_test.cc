// The bdev_rbd_* methods without a cluster: every bad input is refused with an error
// naming the parameter, an unreachable cluster fails within its timeout, the RPC
// answers only then while the app thread keeps serving others, and nothing is left
// behind (no cluster, no bdev, nothing in save_config).
#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::rbd {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::CallRpc;

int Code(const RpcResult& r) { return StatusToJsonRpcError(r.status()).code; }
std::string Message(const RpcResult& r) { return std::string(r.status().message()); }

// An address where no monitor answers, with a short mount timeout.
json Unreachable() { return {{"mon_host", "v2:127.0.0.1:1"}, {"client_mount_timeout", "1"}}; }

void ExpectNothingLeft() {
  RpcResult clusters = CallRpc("bdev_rbd_get_clusters_info", json::object());
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  EXPECT_EQ(*clusters, RpcJson::array());
  testing::OnAppSync([] {
    for (const std::string& name : ListBdevs()) {
      EXPECT_NE(FindBdev(name)->module().name(), "rbd") << name;
    }
    json config = json::array();
    FindModule("rbd")->WriteConfigJson(config);
    EXPECT_TRUE(config.empty()) << config.dump();
  });
}

TEST(RbdRpc, CreateRefusesBadParamsNamingThem) {
  json good = {
      {"pool_name", "rbd"}, {"rbd_name", "img"}, {"block_size", 4096}, {"config", Unreachable()}};
  for (uint64_t bs : {0, 256, 1000, 4097}) {
    json p = good;
    p["block_size"] = bs;
    RpcResult r = CallRpc("bdev_rbd_create", p);
    ASSERT_FALSE(r.ok()) << bs;
    EXPECT_EQ(Code(r), -32602);
    EXPECT_THAT(Message(r), HasSubstr("\"block_size\"")) << bs;
  }
  json p = good;
  p["pool_name"] = "";
  EXPECT_THAT(Message(CallRpc("bdev_rbd_create", p)), HasSubstr("\"pool_name\""));
  p = good;
  p.erase("rbd_name");
  EXPECT_THAT(Message(CallRpc("bdev_rbd_create", p)), HasSubstr("rbd_name"));
  p = good;
  p["config"] = {{"rados_osd_op_timeout", 3}};
  EXPECT_THAT(Message(CallRpc("bdev_rbd_create", p)), HasSubstr("\"config\""));
  p = good;
  p["uuid"] = "not-a-uuid";
  EXPECT_EQ(Code(CallRpc("bdev_rbd_create", p)), -32602);
  p = good;
  p["unknown_key"] = 1;
  EXPECT_EQ(Code(CallRpc("bdev_rbd_create", p)), -32602);

  p = good;
  p.erase("config");
  p["cluster_name"] = "nope";
  RpcResult r = CallRpc("bdev_rbd_create", p);
  EXPECT_EQ(Code(r), -ENODEV);
  EXPECT_THAT(Message(r), HasSubstr("\"cluster_name\": no cluster named \"nope\""));
  p = good;
  p["cluster_name"] = "nope";
  r = CallRpc("bdev_rbd_create", p);
  EXPECT_EQ(Code(r), -32602);
  EXPECT_THAT(Message(r), HasSubstr("cannot be combined"));
  ExpectNothingLeft();
}

TEST(RbdRpc, CreateOverUnreachableClusterTimesOutAndLeavesNothing) {
  RpcResult r = CallRpc("bdev_rbd_create", {{"name", "R0"},
                                            {"pool_name", "rbd"},
                                            {"rbd_name", "img"},
                                            {"block_size", 512},
                                            {"config", Unreachable()}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Code(r), -ETIMEDOUT);
  EXPECT_THAT(Message(r), HasSubstr("of bdev \"R0\""));
  EXPECT_FALSE(testing::BdevExists("R0"));
  ExpectNothingLeft();
}

TEST(RbdRpc, RegisterClusterErrors) {
  RpcResult r =
      CallRpc("bdev_rbd_register_cluster", {{"name", "c"}, {"config_file", "/nonexistent.conf"}});
  EXPECT_EQ(Code(r), -ENOENT);
  EXPECT_THAT(Message(r), HasSubstr("\"config_file\": /nonexistent.conf"));
  r = CallRpc("bdev_rbd_register_cluster",
              {{"name", "c"}, {"config_param", {{"mon_host", "127.0.0.1:1"}, {"bogus_opt", "1"}}}});
  EXPECT_THAT(Message(r), HasSubstr("unknown Ceph option \"bogus_opt\""));
  r = CallRpc("bdev_rbd_register_cluster",
              {{"name", "c"}, {"config_param", Unreachable()}, {"key_file", "/nonexistent.key"}});
  EXPECT_EQ(Code(r), -ENOENT);
  EXPECT_THAT(Message(r), HasSubstr("\"key_file\""));
  r = CallRpc("bdev_rbd_register_cluster", {{"name", ""}, {"config_param", Unreachable()}});
  EXPECT_THAT(Message(r), HasSubstr("\"name\""));
  r = CallRpc("bdev_rbd_register_cluster", {{"config_param", Unreachable()}});
  EXPECT_EQ(Code(r), -32602);
  ExpectNothingLeft();
}

// The connect runs on the module's worker: while it waits for the monitors (1 s), the
// app thread answers other calls, and the register call answers afterwards.
TEST(RbdRpc, RegisterAnswersWhenConnectEndsWithoutBlockingTheAppThread) {
  std::atomic<bool> answered{false};
  std::promise<RpcResult> result;
  testing::OnAppSync([&] {
    CallRpcMethod("bdev_rbd_register_cluster", {{"name", "c1"}, {"config_param", Unreachable()}},
                  [&](RpcResult r) {
                    answered = true;
                    result.set_value(std::move(r));
                  });
  });
  // Answered by the app thread while the connect is still pending.
  RpcResult other = CallRpc("bdev_rbd_get_clusters_info", json::object());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(answered.load());
  EXPECT_EQ(*other, RpcJson::array());  // not registered while connecting
  std::future<RpcResult> f = result.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  RpcResult r = f.get();
  EXPECT_EQ(Code(r), -ETIMEDOUT);
  EXPECT_THAT(Message(r), HasSubstr("cluster \"c1\""));
  ExpectNothingLeft();
}

TEST(RbdRpc, UnknownNames) {
  EXPECT_EQ(Code(CallRpc("bdev_rbd_delete", {{"name", "Ceph9"}})), -ENODEV);
  EXPECT_EQ(Code(CallRpc("bdev_rbd_resize", {{"name", "Ceph9"}, {"new_size", 8}})), -ENODEV);
  EXPECT_EQ(Code(CallRpc("bdev_rbd_unregister_cluster", {{"name", "x"}})), -ENODEV);
  RpcResult r = CallRpc("bdev_rbd_get_clusters_info", {{"name", "x"}});
  EXPECT_EQ(Code(r), -ENODEV);
  EXPECT_THAT(Message(r), HasSubstr("no cluster named \"x\""));
  // Another module's bdev is not the rbd module's to resize or delete.
  ASSERT_TRUE(
      CallRpc("bdev_malloc_create", {{"name", "M0"}, {"num_blocks", 64}, {"block_size", 512}})
          .ok());
  r = CallRpc("bdev_rbd_resize", {{"name", "M0"}, {"new_size", 8}});
  EXPECT_EQ(Code(r), -ENODEV);
  EXPECT_THAT(Message(r), HasSubstr("not an rbd bdev"));
  EXPECT_EQ(Code(CallRpc("bdev_rbd_delete", {{"name", "M0"}})), -ENODEV);
  EXPECT_TRUE(testing::BdevExists("M0"));
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "M0"}}).ok());
}

}  // namespace
}  // namespace bdevkit::rbd

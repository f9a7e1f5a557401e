// The nvme module's NVMe/TCP attach through the runtime, bdev layer and RPC methods,
// against the in-test target on 127.0.0.1: one bdev per namespace, I/O, the TCP trid
// in bdev_nvme_get_controllers and save_config, parameter errors naming the parameter
// (nothing half-created), a connection loss with reconnect, the controller given up
// after ctrlr_loss_timeout_sec, and detach.
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/nvme/bdev/nvme_bdev.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/nvme/fake_tcp_target.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::nvme {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using bdevkit::testing::BdevExists;
using bdevkit::testing::CallRpc;
using bdevkit::testing::TestDisk;
using testing::FakeTcpTarget;

// (The runtime and bdev layer come from nvme_bdev_test.cc's global environment, in
// the same binary.)

class NvmeTcpBdevTest : public ::testing::Test {
 protected:
  void SetUp() override { target_ = std::make_unique<FakeTcpTarget>(); }
  void TearDown() override {
    RpcResult list = CallRpc("bdev_nvme_get_controllers", json::object());
    if (list.ok()) {
      for (const auto& c : *list) {
        RpcResult r = CallRpc("bdev_nvme_detach_controller", {{"name", c["name"]}});
        EXPECT_TRUE(r.ok()) << r.status();
      }
    }
    for (const std::string& e : target_->errors()) ADD_FAILURE() << "target saw: " << e;
    target_.reset();
  }
  json Params(const std::string& name, json extra = json::object()) {
    json p = {{"name", name},
              {"trtype", "tcp"},
              {"adrfam", "ipv4"},
              {"traddr", "127.0.0.1"},
              {"trsvcid", target_->port_string()},
              {"subnqn", target_->options().subnqn}};
    for (auto& [k, v] : extra.items()) p[k] = v;
    return p;
  }
  RpcResult Attach(const std::string& name, json extra = json::object()) {
    return CallRpc("bdev_nvme_attach_controller", Params(name, std::move(extra)));
  }
  std::string State(const std::string& name) {
    RpcResult r = CallRpc("bdev_nvme_get_controllers", {{"name", name}});
    if (!r.ok()) return "gone";
    return (*r)[0]["ctrlrs"][0]["state"];
  }
  // Waits (bounded) for the controller to reach `state`.
  bool WaitState(const std::string& name, const std::string& state) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (State(name) != state) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::unique_ptr<FakeTcpTarget> target_;
};

TEST_F(NvmeTcpBdevTest, AttachIoListSaveDetach) {
  RpcResult r = Attach("Tcp0", {{"hdgst", true}, {"ddgst", true}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json({"Tcp0n1"}));
  EXPECT_TRUE(target_->last_hdgst() && target_->last_ddgst());
  {
    TestDisk disk("Tcp0n1");
    ASSERT_TRUE(disk.ok()) << disk.open_status();
    std::vector<uint8_t> out(128 * 1024), in(128 * 1024);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 13 + 1);
    ASSERT_TRUE(disk.Write(out.data(), 16, 256).ok());
    EXPECT_EQ(target_->Read(16 * 512, out.size()), out);
    ASSERT_TRUE(disk.Read(in.data(), 16, 256).ok());
    EXPECT_EQ(in, out);
    ASSERT_TRUE(disk.WriteZeroes(16, 8).ok());
    ASSERT_TRUE(disk.Unmap(24, 8).ok());
    ASSERT_TRUE(disk.Flush(0, 512).ok());
    ASSERT_TRUE(disk.Read(in.data(), 16, 16).ok());
    EXPECT_TRUE(std::all_of(in.begin(), in.begin() + 8192, [](uint8_t x) { return x == 0; }));
    EXPECT_TRUE(disk.Reset().ok());  // a reset reconnects every queue
    ASSERT_TRUE(disk.Read(in.data(), 40, 8).ok());
    EXPECT_EQ(0, std::memcmp(in.data(), out.data() + 24 * 512, 4096));
  }
  EXPECT_EQ(target_->admin_connects(), 2);
  RpcResult c = CallRpc("bdev_nvme_get_controllers", {{"name", "Tcp0"}});
  ASSERT_TRUE(c.ok()) << c.status();
  const json& ctrlr = (*c)[0]["ctrlrs"][0];
  EXPECT_EQ(ctrlr["state"], "enabled");
  EXPECT_EQ(ctrlr["trid"]["trtype"], "TCP");
  EXPECT_EQ(ctrlr["trid"]["adrfam"], "IPv4");
  EXPECT_EQ(ctrlr["trid"]["traddr"], "127.0.0.1");
  EXPECT_EQ(ctrlr["trid"]["trsvcid"], target_->port_string());
  EXPECT_EQ(ctrlr["trid"]["subnqn"], target_->options().subnqn);
  EXPECT_THAT(ctrlr["host"]["nqn"].get<std::string>(),
              HasSubstr("nqn.2014-08.org.nvmexpress:uuid:"));
  RpcResult b = CallRpc("bdev_get_bdevs", {{"name", "Tcp0n1"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0]["driver_specific"]["nvme"][0]["trid"]["trtype"], "TCP");
  RpcResult cfg = CallRpc("framework_get_config", {{"name", "bdev"}});
  ASSERT_TRUE(cfg.ok());
  bool saved = false;
  for (const auto& e : *cfg) {
    if (e["method"] != "bdev_nvme_attach_controller") continue;
    saved = true;
    EXPECT_EQ(e["params"]["trtype"], "tcp");
    EXPECT_EQ(e["params"]["traddr"], "127.0.0.1");
    EXPECT_EQ(e["params"]["trsvcid"], target_->port_string());
    EXPECT_EQ(e["params"]["subnqn"], target_->options().subnqn);
    EXPECT_EQ(e["params"]["hdgst"], true);
    EXPECT_EQ(e["params"]["ddgst"], true);
  }
  EXPECT_TRUE(saved);
  // The same subsystem twice from the same host is refused; from another host NQN it
  // is another controller.
  RpcResult dup = Attach("Tcp1");
  EXPECT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("already attached as Tcp0"));
  RpcResult other = Attach("Tcp1", {{"hostnqn", "nqn.2014-08.org.nvmexpress:uuid:other"}});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(*other, json({"Tcp1n1"}));
  RpcResult d1 = CallRpc("bdev_nvme_detach_controller", {{"name", "Tcp1"}});
  ASSERT_TRUE(d1.ok()) << d1.status();
  RpcResult d = CallRpc("bdev_nvme_detach_controller", {{"name", "Tcp0"}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(BdevExists("Tcp0n1"));
  EXPECT_EQ(State("Tcp0"), "gone");
}

TEST_F(NvmeTcpBdevTest, BadParametersAreNamedAndLeaveNothing) {
  auto expect_error = [&](json extra, const std::string& needle) {
    json p = Params("Bad0");
    for (auto& [k, v] : extra.items()) {
      if (v.is_null()) {
        p.erase(k);
      } else {
        p[k] = v;
      }
    }
    RpcResult r = CallRpc("bdev_nvme_attach_controller", p);
    ASSERT_FALSE(r.ok()) << p.dump();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle)) << p.dump();
    EXPECT_EQ(State("Bad0"), "gone");
    EXPECT_FALSE(BdevExists("Bad0n1"));
  };
  expect_error({{"traddr", nullptr}}, "traddr");
  expect_error({{"trsvcid", nullptr}}, "trsvcid");
  expect_error({{"subnqn", nullptr}}, "subnqn");
  expect_error({{"traddr", "not-an-address"}}, "not-an-address");
  expect_error({{"trsvcid", "70000"}}, "trsvcid");
  expect_error({{"adrfam", "ipv6"}}, "adrfam");
  expect_error({{"subnqn", "nqn.2026-11.io.bdevkit:other"}}, "nqn.2026-11.io.bdevkit:other");
  expect_error({{"ctrlr_loss_timeout_sec", -2}}, "ctrlr_loss_timeout_sec");
  expect_error({{"ctrlr_loss_timeout_sec", 10}}, "reconnect_delay_sec");
  expect_error({{"ctrlr_loss_timeout_sec", 2}, {"reconnect_delay_sec", 5}}, "reconnect_delay_sec");
  expect_error(
      {{"ctrlr_loss_timeout_sec", 2}, {"reconnect_delay_sec", 1}, {"fast_io_fail_timeout_sec", 3}},
      "fast_io_fail_timeout_sec");
  expect_error({{"reconnect_delay_sec", 1}}, "ctrlr_loss_timeout_sec");
  // A closed port: the error names host:port.
  const std::string port = target_->port_string();
  target_.reset();
  target_ = std::make_unique<FakeTcpTarget>();
  RpcResult r = CallRpc("bdev_nvme_attach_controller", {{"name", "Bad0"},
                                                        {"trtype", "tcp"},
                                                        {"traddr", "127.0.0.1"},
                                                        {"trsvcid", port},
                                                        {"subnqn", "nqn.x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("127.0.0.1:" + port));
  EXPECT_EQ(State("Bad0"), "gone");
  // The name is free: it attaches now.
  EXPECT_TRUE(Attach("Bad0").ok());
}

TEST_F(NvmeTcpBdevTest, ConnectionLossReconnectsAndKeepsData) {
  RpcResult r = Attach("Tcp0", {{"ctrlr_loss_timeout_sec", 30}, {"reconnect_delay_sec", 1}});
  ASSERT_TRUE(r.ok()) << r.status();
  TestDisk disk("Tcp0n1");
  ASSERT_TRUE(disk.ok());
  std::vector<uint8_t> out(4096, 0x3d), in(4096);
  ASSERT_TRUE(disk.Write(out.data(), 8, 8).ok());
  // The target refuses for a while: the controller keeps reconnecting.
  target_->set_refuse_connect(true);
  target_->DropConnections();
  ASSERT_TRUE(WaitState("Tcp0", "reconnecting"));
  target_->set_refuse_connect(false);
  ASSERT_TRUE(WaitState("Tcp0", "enabled"));
  EXPECT_GE(target_->admin_connects(), 2);
  ASSERT_TRUE(disk.Read(in.data(), 8, 8).ok());
  EXPECT_EQ(in, out);
}

TEST_F(NvmeTcpBdevTest, GivenUpAfterTheLossTimeoutIoFailsDetachWorks) {
  RpcResult r = Attach(
      "Tcp0",
      {{"ctrlr_loss_timeout_sec", 2}, {"reconnect_delay_sec", 1}, {"fast_io_fail_timeout_sec", 1}});
  ASSERT_TRUE(r.ok()) << r.status();
  TestDisk disk("Tcp0n1");
  ASSERT_TRUE(disk.ok());
  target_->set_refuse_connect(true);
  target_->DropConnections();
  ASSERT_TRUE(WaitState("Tcp0", "failed"));
  std::vector<uint8_t> in(512);
  EXPECT_FALSE(disk.Read(in.data(), 0, 1).ok());
  RpcResult reset = CallRpc("bdev_nvme_reset_controller", {{"name", "Tcp0"}});
  EXPECT_FALSE(reset.ok());
}

TEST_F(NvmeTcpBdevTest, DetachWhileReconnectingDoesNotWait) {
  RpcResult r = Attach("Tcp2", {{"ctrlr_loss_timeout_sec", -1}, {"reconnect_delay_sec", 1}});
  ASSERT_TRUE(r.ok()) << r.status();
  target_->set_refuse_connect(true);
  target_->DropConnections();
  ASSERT_TRUE(WaitState("Tcp2", "reconnecting"));
  RpcResult d = CallRpc("bdev_nvme_detach_controller", {{"name", "Tcp2"}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(State("Tcp2"), "gone");
  EXPECT_FALSE(BdevExists("Tcp2n1"));
}

}  // namespace
}  // namespace bdevkit::nvme

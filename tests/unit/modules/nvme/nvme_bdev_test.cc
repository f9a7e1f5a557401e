// The nvme module through the real runtime, bdev layer and RPC methods, with the fake
// controller behind attach: bdevs per namespace, I/O of every type, reset, driver
// info, save_config, detach with shutdown, and the errors.
#include "modules/nvme/bdev/nvme_bdev.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/io_buffer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/nvme/fake_nvme.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::nvme {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using bdevkit::testing::BdevExists;
using bdevkit::testing::CallRpc;
using bdevkit::testing::OnAppSync;
using bdevkit::testing::TestDisk;
using testing::FakeNvme;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new bdevkit::testing::BdevLayerEnv());

int CodeOf(const RpcResult& r) { return StatusToJsonRpcError(r.status()).code; }

class NvmeBdevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<FakeNvme>();
    fake_->AddNamespace(1, 512, 4096);
    fake_->AddNamespace(2, 4096, 512);
    fake_->Start();
    FakeNvme* f = fake_.get();
    OnAppSync([f] {
      SetPciDeviceOpenerForTesting(
          [f](const PciAddress& a) -> absl::StatusOr<std::unique_ptr<PciDevice>> {
            if (a.ToString() != "0000:00:03.0") {
              return absl::NotFoundError("no PCI device " + a.ToString());
            }
            return f->MakeDevice(a.ToString());
          });
    });
  }
  void TearDown() override {
    RpcResult list = CallRpc("bdev_nvme_get_controllers", json::object());
    if (list.ok()) {
      for (const auto& c : *list) {
        RpcResult r = CallRpc("bdev_nvme_detach_controller", {{"name", c["name"]}});
        EXPECT_TRUE(r.ok()) << r.status();
      }
    }
    OnAppSync([] { SetPciDeviceOpenerForTesting(nullptr); });
    fake_->Stop();
    for (const std::string& e : fake_->errors()) ADD_FAILURE() << "fake saw: " << e;
  }
  RpcResult Attach(const std::string& name = "Nvme0", const std::string& traddr = "0000:00:03.0") {
    return CallRpc("bdev_nvme_attach_controller",
                   {{"name", name}, {"trtype", "pcie"}, {"traddr", traddr}});
  }

  std::unique_ptr<FakeNvme> fake_;
};

TEST_F(NvmeBdevTest, AttachMakesOneBdevPerNamespace) {
  RpcResult r = Attach();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json({"Nvme0n1", "Nvme0n2"}));
  RpcResult b = CallRpc("bdev_get_bdevs", {{"name", "Nvme0n2"}});
  ASSERT_TRUE(b.ok()) << b.status();
  const json& d = (*b)[0];
  EXPECT_EQ(d["product_name"], "NVMe disk");
  EXPECT_EQ(d["block_size"], 4096);
  EXPECT_EQ(d["num_blocks"], 512);
  // The UUID comes from the namespace's identification descriptor: stable.
  EXPECT_EQ(d["uuid"], "a2a3a4a5-a6a7-a8a9-aaab-acadaeafb0b1");
  const json& nv = d["driver_specific"]["nvme"][0];
  EXPECT_EQ(nv["pci_address"], "0000:00:03.0");
  EXPECT_EQ(nv["trid"]["traddr"], "0000:00:03.0");
  EXPECT_EQ(nv["ctrlr_data"]["serial_number"], "FAKE0001");
  EXPECT_EQ(nv["ctrlr_data"]["model_number"], "bdevkit fake NVMe");
  EXPECT_EQ(nv["ctrlr_data"]["firmware_revision"], "1.0");
  EXPECT_EQ(nv["ctrlr_data"]["vendor_id"], "0x1b36");
  EXPECT_EQ(nv["ns_data"]["id"], 2);
  EXPECT_EQ(nv["vs"]["nvme_version"], "1.4.0");
  EXPECT_TRUE(d["supported_io_types"]["unmap"]);
  EXPECT_TRUE(d["supported_io_types"]["write_zeroes"]);
  EXPECT_TRUE(d["supported_io_types"]["reset"]);

  RpcResult c = CallRpc("bdev_nvme_get_controllers", json::object());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0]["name"], "Nvme0");
  EXPECT_EQ((*c)[0]["ctrlrs"][0]["state"], "enabled");
  EXPECT_EQ((*c)[0]["ctrlrs"][0]["trid"]["trtype"], "PCIe");
  EXPECT_EQ((*c)[0]["ctrlrs"][0]["trid"]["traddr"], "0000:00:03.0");
  EXPECT_EQ((*c)[0]["ctrlrs"][0]["cntlid"], 7);
}

TEST_F(NvmeBdevTest, EveryIoTypeReachesTheDevice) {
  ASSERT_TRUE(Attach().ok());
  TestDisk disk("Nvme0n1");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> out(64 * 1024), in(64 * 1024);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 31 + 5);
  // 64 KiB: the whole transfer in one command (max transfer 128 KiB).
  ASSERT_TRUE(disk.Write(out.data(), 8, 128).ok());
  EXPECT_EQ(0, std::memcmp(fake_->ns(1).data.data() + 8 * 512, out.data(), out.size()));
  ASSERT_TRUE(disk.Read(in.data(), 8, 128).ok());
  EXPECT_EQ(in, out);
  // Vectored: three pieces of odd sizes (bounced by the module).
  iovec v[3] = {{in.data(), 512}, {in.data() + 512, 1536}, {in.data() + 2048, 2048}};
  std::fill(in.begin(), in.end(), 0);
  ASSERT_TRUE(disk.Readv(v, 3, 8, 8).ok());
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), 4096));
  ASSERT_TRUE(disk.Writev(v, 3, 1000, 8).ok());
  EXPECT_EQ(0, std::memcmp(fake_->ns(1).data.data() + 1000 * 512, out.data(), 4096));
  // write zeroes and unmap zero the blocks on the device.
  ASSERT_TRUE(disk.WriteZeroes(8, 4).ok());
  EXPECT_EQ(fake_->ns(1).data[8 * 512], 0);
  EXPECT_EQ(fake_->ns(1).data[12 * 512], out[4 * 512]);
  ASSERT_TRUE(disk.Unmap(12, 100).ok());
  EXPECT_EQ(fake_->commands(io_op::kDatasetManagement), 1u);
  ASSERT_TRUE(disk.Read(in.data(), 8, 128).ok());
  EXPECT_TRUE(std::all_of(in.begin(), in.begin() + 104 * 512, [](uint8_t x) { return x == 0; }));
  ASSERT_TRUE(disk.Flush(0, 4096).ok());
  EXPECT_EQ(fake_->commands(io_op::kFlush), 1u);
  // Larger than max transfer: the core splits it.
  std::vector<uint8_t> big(512 * 1024, 0x3c);
  ASSERT_TRUE(disk.Write(big.data(), 2048, 1024).ok());
  EXPECT_EQ(fake_->ns(1).data[3071 * 512 + 511], 0x3c);
  // A device error reaches the caller with its NVMe status.
  fake_->InjectStatus(sct::kMedia, media_sc::kUnrecoveredReadError);
  IoStatus bad = disk.Read(in.data(), 0, 1);
  EXPECT_EQ(bad.error, -EILSEQ);
  EXPECT_EQ(bad.nvme_sct, sct::kMedia);
  EXPECT_EQ(bad.nvme_sc, media_sc::kUnrecoveredReadError);
}

TEST_F(NvmeBdevTest, BuffersFromTheThreadsIoPoolWork) {
  ASSERT_TRUE(Attach().ok());
  TestDisk disk("Nvme0n1");  // its channel maps the app thread's pool for the device
  ASSERT_TRUE(disk.ok());
  IoBufferPool* pool = nullptr;
  char* buf = nullptr;
  OnAppSync([&] {
    pool = IoBufferPool::Acquire();
    buf = pool != nullptr ? static_cast<char*>(pool->Alloc(16384)) : nullptr;
  });
  ASSERT_NE(buf, nullptr);
  for (int i = 0; i < 16384; ++i) buf[i] = static_cast<char>(i * 5 + 1);
  ASSERT_TRUE(disk.Write(buf, 64, 32).ok());
  EXPECT_EQ(0, std::memcmp(fake_->ns(1).data.data() + 64 * 512, buf, 16384));
  std::memset(buf, 0, 16384);
  ASSERT_TRUE(disk.Read(buf + 4096, 64, 24).ok());
  EXPECT_EQ(0, std::memcmp(fake_->ns(1).data.data() + 64 * 512, buf + 4096, 12288));
  OnAppSync([&] {
    pool->Free(buf);
    pool->Release();
  });
}

TEST_F(NvmeBdevTest, ResetsKeepTheBdevsWorking) {
  ASSERT_TRUE(Attach().ok());
  TestDisk disk("Nvme0n2");
  ASSERT_TRUE(disk.ok());
  std::vector<uint8_t> out(4096, 0x61), in(4096);
  ASSERT_TRUE(disk.Write(out.data(), 3, 1).ok());
  RpcResult r = CallRpc("bdev_nvme_reset_controller", {{"name", "Nvme0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
  ASSERT_TRUE(disk.Read(in.data(), 3, 1).ok());
  EXPECT_EQ(in, out);
  // A bdev reset resets the controller too.
  EXPECT_TRUE(disk.Reset().ok());
  ASSERT_TRUE(disk.Read(in.data(), 3, 1).ok());
  EXPECT_EQ(in, out);
  EXPECT_EQ(CodeOf(CallRpc("bdev_nvme_reset_controller", {{"name", "Nope"}})), -19);
}

TEST_F(NvmeBdevTest, SaveConfigWritesOptionsAndTheAttachCall) {
  ASSERT_TRUE(Attach().ok());
  RpcResult r = CallRpc("framework_get_config", {{"name", "bdev"}});
  ASSERT_TRUE(r.ok()) << r.status();
  int options = -1, attach = -1;
  for (size_t i = 0; i < r->size(); ++i) {
    const auto& e = (*r)[i];
    if (e["method"] == "bdev_nvme_set_options") options = static_cast<int>(i);
    if (e["method"] == "bdev_nvme_attach_controller") {
      attach = static_cast<int>(i);
      EXPECT_EQ(e["params"]["name"], "Nvme0");
      EXPECT_EQ(e["params"]["traddr"], "0000:00:03.0");
      EXPECT_EQ(e["params"]["trtype"], "PCIe");
    }
  }
  ASSERT_GE(options, 0);
  ASSERT_GT(attach, options);
  // Replaying the saved calls (after a detach) recreates the same bdevs.
  auto saved = *r;
  ASSERT_TRUE(CallRpc("bdev_nvme_detach_controller", {{"name", "Nvme0"}}).ok());
  EXPECT_FALSE(BdevExists("Nvme0n1"));
  json config = {{"subsystems", {{{"subsystem", "bdev"}, {"config", json::array()}}}}};
  for (const auto& e : saved) {
    if (std::string(e["method"]).rfind("bdev_nvme_", 0) == 0) {
      config["subsystems"][0]["config"].push_back(json::parse(e.dump()));
    }
  }
  absl::Status loaded = bdevkit::testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(config, done); });
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_TRUE(BdevExists("Nvme0n1"));
  EXPECT_TRUE(BdevExists("Nvme0n2"));
}

TEST_F(NvmeBdevTest, DetachShutsTheControllerDown) {
  ASSERT_TRUE(Attach().ok());
  {
    TestDisk disk("Nvme0n1");  // a channel (queue pair) exists while it is open
    ASSERT_TRUE(disk.ok());
    std::vector<uint8_t> buf(512);
    ASSERT_TRUE(disk.Read(buf.data(), 0, 1).ok());
  }
  RpcResult r = CallRpc("bdev_nvme_detach_controller", {{"name", "Nvme0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
  EXPECT_FALSE(BdevExists("Nvme0n1"));
  EXPECT_FALSE(BdevExists("Nvme0n2"));
  EXPECT_EQ(fake_->shutdowns(), 1u);
  RpcResult c = CallRpc("bdev_nvme_get_controllers", json::object());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
  // It can be attached again.
  EXPECT_TRUE(Attach().ok());
}

TEST_F(NvmeBdevTest, BadRequestsGetClearErrors) {
  RpcResult r = Attach("Nvme0", "0000:00:09.0");
  EXPECT_EQ(CodeOf(r), -19);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no PCI device 0000:00:09.0"));
  r = Attach("Nvme0", "zz:00.0");
  EXPECT_EQ(CodeOf(r), -32602);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"traddr\""));
  r = CallRpc("bdev_nvme_attach_controller",
              {{"name", "T"}, {"trtype", "rdma"}, {"traddr", "127.0.0.1"}});
  EXPECT_EQ(CodeOf(r), -22);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"tcp\""));
  r = CallRpc("bdev_nvme_attach_controller", {{"name", "T"}, {"trtype", "pcie"}});
  EXPECT_EQ(CodeOf(r), -32602);  // traddr missing
  r = CallRpc(
      "bdev_nvme_attach_controller",
      {{"name", "T"}, {"trtype", "pcie"}, {"traddr", "0000:00:03.0"}, {"prchk_guard", true}});
  EXPECT_EQ(CodeOf(r), -32602);
  EXPECT_TRUE(CallRpc("bdev_nvme_get_controllers", json::object())->empty());

  ASSERT_TRUE(Attach().ok());
  r = Attach("Nvme0", "0000:00:04.0");
  EXPECT_EQ(CodeOf(r), -17);
  r = Attach("Nvme1", "0000:00:03.0");
  EXPECT_EQ(CodeOf(r), -17);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("already attached as Nvme0"));
  EXPECT_EQ(CodeOf(CallRpc("bdev_nvme_detach_controller", {{"name", "Nope"}})), -19);
  EXPECT_EQ(CodeOf(CallRpc("bdev_nvme_get_controllers", {{"name", "Nope"}})), -19);
  r = CallRpc("bdev_nvme_set_options", {{"timeout_us", 1000}});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("before any NVMe controller"));
}

TEST_F(NvmeBdevTest, SetOptionsValidatesAndIsSaved) {
  RpcResult r = CallRpc("bdev_nvme_set_options", {{"action_on_timeout", "explode"}});
  EXPECT_EQ(CodeOf(r), -32602);
  r = CallRpc("bdev_nvme_set_options",
              {{"action_on_timeout", "abort"}, {"timeout_us", 5000000}, {"io_queue_requests", 64}});
  ASSERT_TRUE(r.ok()) << r.status();
  RpcResult cfg = CallRpc("framework_get_config", {{"name", "bdev"}});
  bool found = false;
  for (const auto& e : *cfg) {
    if (e["method"] != "bdev_nvme_set_options") continue;
    found = true;
    EXPECT_EQ(e["params"]["action_on_timeout"], "abort");
    EXPECT_EQ(e["params"]["timeout_us"], 5000000);
    EXPECT_EQ(e["params"]["io_queue_requests"], 64);
  }
  EXPECT_TRUE(found);
  // Controllers attached now track timeouts; I/O still works.
  ASSERT_TRUE(Attach().ok());
  {
    TestDisk disk("Nvme0n1");
    std::vector<uint8_t> buf(512);
    EXPECT_TRUE(disk.Read(buf.data(), 0, 1).ok());
  }
  ASSERT_TRUE(CallRpc("bdev_nvme_detach_controller", {{"name", "Nvme0"}}).ok());
  ASSERT_TRUE(CallRpc("bdev_nvme_set_options",
                      {{"action_on_timeout", "none"}, {"timeout_us", 0}, {"io_queue_requests", 0}})
                  .ok());
}

}  // namespace
}  // namespace bdevkit::nvme

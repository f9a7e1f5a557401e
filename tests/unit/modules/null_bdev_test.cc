// The null module: every I/O succeeds and data is never touched.
#include "modules/null/null_bdev.h"

#include <string>
#include <vector>

#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::BdevExists;
using testing::CallRpc;
using testing::TestDisk;

class NullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RpcResult r = CallRpc("bdev_null_create",
                          {{"name", "NullT"}, {"block_size", 4096}, {"num_blocks", 1024}});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, json("NullT"));
  }
  void TearDown() override {
    if (BdevExists("NullT")) {
      EXPECT_TRUE(CallRpc("bdev_null_delete", {{"name", "NullT"}}).ok());
    }
  }
};

TEST_F(NullTest, Properties) {
  testing::OnAppSync([] {
    Bdev* b = FindBdev("NullT");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->product_name(), "Null disk");
    EXPECT_EQ(b->block_size(), 4096u);
    EXPECT_EQ(b->num_blocks(), 1024u);
    EXPECT_EQ(b->module().name(), "null");
    for (IoType t : {IoType::kRead, IoType::kWrite, IoType::kWriteZeroes, IoType::kUnmap,
                     IoType::kFlush, IoType::kReset}) {
      EXPECT_TRUE(b->IoTypeSupported(t)) << IoTypeName(t);
    }
  });
}

TEST_F(NullTest, ReadsCompleteWithoutTouchingTheBuffer) {
  TestDisk disk("NullT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> data(8 * 4096, 0x5A);
  ASSERT_TRUE(disk.Write(data.data(), 0, 8).ok());
  std::vector<uint8_t> buf(8 * 4096, 0xAB);
  ASSERT_TRUE(disk.Read(buf.data(), 0, 8).ok());
  EXPECT_EQ(buf, std::vector<uint8_t>(8 * 4096, 0xAB));
  std::vector<uint8_t> v1(4096, 0xCD), v2(4096, 0xCD);
  iovec iov[] = {{v1.data(), v1.size()}, {v2.data(), v2.size()}};
  ASSERT_TRUE(disk.Readv(iov, 2, 1022, 2).ok());
  EXPECT_EQ(v1, std::vector<uint8_t>(4096, 0xCD));
  EXPECT_EQ(v2, std::vector<uint8_t>(4096, 0xCD));
}

TEST_F(NullTest, EveryIoTypeSucceeds) {
  TestDisk disk("NullT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> data(4096, 1);
  EXPECT_TRUE(disk.Write(data.data(), 1023, 1).ok());
  EXPECT_TRUE(disk.WriteZeroes(0, 1024).ok());
  EXPECT_TRUE(disk.Unmap(10, 100).ok());
  EXPECT_TRUE(disk.Flush(0, 1024).ok());
  EXPECT_TRUE(disk.Reset().ok());
}

TEST_F(NullTest, BadParams) {
  RpcResult r = CallRpc("bdev_null_create", {{"block_size", 512}, {"num_blocks", 8}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"name\": missing required"));
  r = CallRpc("bdev_null_create", {{"name", "N2"}, {"block_size", 1000}, {"num_blocks", 8}});
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("\"block_size\": must be a multiple of 512"));
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -32602);
  r = CallRpc("bdev_null_create", {{"name", "N2"}, {"block_size", 512}, {"num_blocks", 0}});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"num_blocks\""));
  r = CallRpc("bdev_null_create",
              {{"name", "N2"}, {"block_size", 512}, {"num_blocks", 8}, {"dif_type", 1}});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"dif_type\""));
  EXPECT_FALSE(BdevExists("N2"));

  r = CallRpc("bdev_null_create", {{"name", "NullT"}, {"block_size", 512}, {"num_blocks", 8}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("NullT")->block_size(), 4096u); });
}

TEST_F(NullTest, DeleteUnknownOrForeign) {
  RpcResult r = CallRpc("bdev_null_delete", {{"name", "Nope"}});
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -19);
  ASSERT_TRUE(
      CallRpc("bdev_malloc_create", {{"name", "MallocY"}, {"block_size", 512}, {"num_blocks", 8}})
          .ok());
  r = CallRpc("bdev_null_delete", {{"name", "MallocY"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(BdevExists("MallocY"));
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "MallocY"}}).ok());
  r = CallRpc("bdev_null_delete", {{"name", "NullT"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(BdevExists("NullT"));
}

TEST_F(NullTest, SaveConfigRoundTrips) {
  json config;
  std::string uuid;
  testing::OnAppSync([&] {
    config = testing::ConfigPeer::WriteConfig(*FindBdev("NullT"));
    uuid = FindBdev("NullT")->uuid();
  });
  ASSERT_EQ(config.size(), 1u);
  EXPECT_EQ(config[0]["method"], "bdev_null_create");
  EXPECT_EQ(config[0]["params"]["uuid"], uuid);
  ASSERT_TRUE(CallRpc("bdev_null_delete", {{"name", "NullT"}}).ok());
  // Replaying the saved call recreates the same disk.
  RpcResult r = CallRpc(config[0]["method"], config[0]["params"]);
  ASSERT_TRUE(r.ok()) << r.status();
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("NullT");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->uuid(), uuid);
    EXPECT_EQ(b->num_blocks(), 1024u);
    EXPECT_EQ(b->block_size(), 4096u);
  });
}

}  // namespace
}  // namespace bdevkit

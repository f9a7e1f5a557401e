// The malloc module through the real runtime and bdev core: data integrity, RPC
// create/delete with bad params, save_config round trip.
#include "modules/malloc/malloc_bdev.h"

#include <cstring>
#include <numeric>
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

constexpr uint32_t kBlock = 512;
constexpr uint64_t kBlocks = 256;

std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + i / 512);
  return v;
}

class MallocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RpcResult r = CallRpc("bdev_malloc_create",
                          {{"name", "MallocT"}, {"block_size", kBlock}, {"num_blocks", kBlocks}});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r, json("MallocT"));
  }
  void TearDown() override {
    if (BdevExists("MallocT")) {
      RpcResult r = CallRpc("bdev_malloc_delete", {{"name", "MallocT"}});
      EXPECT_TRUE(r.ok()) << r.status();
    }
  }
  std::string ErrorOf(const json& params) {
    RpcResult r = CallRpc("bdev_malloc_create", params);
    EXPECT_FALSE(r.ok()) << "accepted " << params.dump();
    return r.ok() ? "" : std::string(r.status().message());
  }
};

TEST_F(MallocTest, PropertiesAsCreated) {
  testing::OnAppSync([] {
    Bdev* b = FindBdev("MallocT");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->product_name(), "Malloc disk");
    EXPECT_EQ(b->block_size(), kBlock);
    EXPECT_EQ(b->num_blocks(), kBlocks);
    EXPECT_EQ(b->module().name(), "malloc");
    EXPECT_FALSE(b->uuid().empty());
    for (int t = 0; t < kNumIoTypes; ++t) EXPECT_TRUE(b->IoTypeSupported(static_cast<IoType>(t)));
    EXPECT_EQ(testing::ConfigPeer::DumpInfo(*b), json::object());
  });
}

TEST_F(MallocTest, WrittenDataReadsBack) {
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> a = Pattern(8 * kBlock, 1), b = Pattern(4 * kBlock, 99);
  ASSERT_TRUE(disk.Write(a.data(), 10, 8).ok());
  ASSERT_TRUE(disk.Write(b.data(), kBlocks - 4, 4).ok());  // the last blocks

  std::vector<uint8_t> got(8 * kBlock, 0xEE);
  ASSERT_TRUE(disk.Read(got.data(), 10, 8).ok());
  EXPECT_EQ(got, a);
  got.assign(4 * kBlock, 0xEE);
  ASSERT_TRUE(disk.Read(got.data(), kBlocks - 4, 4).ok());
  EXPECT_EQ(got, b);
  // A fresh disk reads zeroes where nothing was written.
  got.assign(kBlock, 0xEE);
  ASSERT_TRUE(disk.Read(got.data(), 0, 1).ok());
  EXPECT_EQ(got, std::vector<uint8_t>(kBlock, 0));
  // Overlapping rewrite replaces just its blocks.
  std::vector<uint8_t> c = Pattern(2 * kBlock, 200);
  ASSERT_TRUE(disk.Write(c.data(), 12, 2).ok());
  got.assign(8 * kBlock, 0);
  ASSERT_TRUE(disk.Read(got.data(), 10, 8).ok());
  std::memcpy(a.data() + 2 * kBlock, c.data(), c.size());
  EXPECT_EQ(got, a);
}

TEST_F(MallocTest, ScatterGatherIovecs) {
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  // 4 blocks split over uneven iovecs, one of which straddles a block boundary.
  std::vector<uint8_t> p1 = Pattern(100, 3), p2 = Pattern(1300, 5), p3 = Pattern(648, 9);
  iovec wv[] = {{p1.data(), p1.size()}, {p2.data(), p2.size()}, {p3.data(), p3.size()}};
  ASSERT_TRUE(disk.Writev(wv, 3, 40, 4).ok());

  std::vector<uint8_t> flat(4 * kBlock);
  ASSERT_TRUE(disk.Read(flat.data(), 40, 4).ok());
  std::vector<uint8_t> expect;
  for (auto* p : {&p1, &p2, &p3}) expect.insert(expect.end(), p->begin(), p->end());
  EXPECT_EQ(flat, expect);

  std::vector<uint8_t> r1(1000, 0), r2(1048, 0);
  iovec rv[] = {{r1.data(), r1.size()}, {r2.data(), r2.size()}};
  ASSERT_TRUE(disk.Readv(rv, 2, 40, 4).ok());
  EXPECT_TRUE(std::equal(r1.begin(), r1.end(), expect.begin()));
  EXPECT_TRUE(std::equal(r2.begin(), r2.end(), expect.begin() + 1000));
}

TEST_F(MallocTest, WriteZeroesAndUnmapZeroExactlyTheirRange) {
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> data = Pattern(16 * kBlock, 42);
  for (uint8_t& byte : data) byte |= 1;  // no zero bytes, so zeroing is visible
  ASSERT_TRUE(disk.Write(data.data(), 0, 16).ok());
  ASSERT_TRUE(disk.WriteZeroes(4, 4).ok());
  ASSERT_TRUE(disk.Unmap(10, 3).ok());

  std::vector<uint8_t> got(16 * kBlock);
  ASSERT_TRUE(disk.Read(got.data(), 0, 16).ok());
  for (uint64_t blk = 0; blk < 16; ++blk) {
    bool zeroed = (blk >= 4 && blk < 8) || (blk >= 10 && blk < 13);
    std::vector<uint8_t> expect(data.begin() + blk * kBlock, data.begin() + (blk + 1) * kBlock);
    if (zeroed) expect.assign(kBlock, 0);
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), got.begin() + blk * kBlock))
        << "block " << blk;
  }
}

TEST_F(MallocTest, FlushAndResetSucceedAndKeepData) {
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> a = Pattern(kBlock, 17);
  ASSERT_TRUE(disk.Write(a.data(), 3, 1).ok());
  EXPECT_TRUE(disk.Flush(0, kBlocks).ok());
  EXPECT_TRUE(disk.Reset().ok());
  std::vector<uint8_t> got(kBlock);
  ASSERT_TRUE(disk.Read(got.data(), 3, 1).ok());
  EXPECT_EQ(got, a);
}

TEST_F(MallocTest, DataOutlivesTheDescriptor) {
  std::vector<uint8_t> a = Pattern(2 * kBlock, 77);
  {
    TestDisk disk("MallocT");
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(disk.Write(a.data(), 100, 2).ok());
  }
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok());
  std::vector<uint8_t> got(2 * kBlock);
  ASSERT_TRUE(disk.Read(got.data(), 100, 2).ok());
  EXPECT_EQ(got, a);
}

TEST_F(MallocTest, BadParamsRejectedWithClearMessages) {
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 1000}, {"num_blocks", 8}}),
              HasSubstr("\"block_size\": must be a multiple of 512"));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 256}, {"num_blocks", 8}}),
              HasSubstr("\"block_size\""));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 512}, {"num_blocks", 0}}),
              HasSubstr("\"num_blocks\": must be greater than 0"));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 4096}, {"num_blocks", 1ull << 62}}),
              HasSubstr("overflows"));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", "abc"}, {"num_blocks", 8}}),
              HasSubstr("\"block_size\": expected an unsigned integer, got \"abc\""));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"num_blocks", 8}}), HasSubstr("\"block_size\""));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 512}, {"num_blocks", 8}, {"md_size", 8}}),
              HasSubstr("\"md_size\""));
  EXPECT_THAT(
      ErrorOf({{"name", "Bad"}, {"block_size", 512}, {"num_blocks", 8}, {"uuid", "not-a-uuid"}}),
      HasSubstr("\"uuid\""));
  EXPECT_THAT(ErrorOf({{"name", "Bad"}, {"block_size", 512}, {"num_blocks", 8}, {"size", 1}}),
              HasSubstr("\"size\": unknown parameter"));
  EXPECT_FALSE(BdevExists("Bad"));
  // Bad params map to -32602.
  RpcResult r = CallRpc("bdev_malloc_create", {{"block_size", 1000}, {"num_blocks", 8}});
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -32602);
}

TEST_F(MallocTest, RpcPyDefaultsAccepted) {
  // What rpc.py sends, and what SPDK's own save_config writes.
  RpcResult r = CallRpc("bdev_malloc_create", {{"name", "MallocPy"},
                                               {"block_size", 4096},
                                               {"num_blocks", 16},
                                               {"physical_block_size", 4096},
                                               {"md_size", 0},
                                               {"md_interleave", false},
                                               {"dif_type", 0},
                                               {"dif_is_head_of_md", false},
                                               {"dif_pi_format", 0},
                                               {"numa_id", -1}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "MallocPy"}}).ok());
}

TEST_F(MallocTest, DuplicateNameFailsAndLeavesNothingBehind) {
  std::vector<std::string> before;
  testing::OnAppSync([&] { before = ListBdevs(); });
  RpcResult r =
      CallRpc("bdev_malloc_create", {{"name", "MallocT"}, {"block_size", 512}, {"num_blocks", 8}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -17);
  std::vector<std::string> after;
  testing::OnAppSync([&] { after = ListBdevs(); });
  EXPECT_EQ(before, after);
  // The original is untouched and still works.
  TestDisk disk("MallocT");
  ASSERT_TRUE(disk.ok());
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("MallocT")->num_blocks(), kBlocks); });
}

TEST_F(MallocTest, GeneratedNamesAreUnique) {
  RpcResult a = CallRpc("bdev_malloc_create", {{"block_size", 512}, {"num_blocks", 8}});
  RpcResult b = CallRpc("bdev_malloc_create", {{"block_size", 512}, {"num_blocks", 8}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(a->get<std::string>(), ::testing::StartsWith("Malloc"));
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(BdevExists(a->get<std::string>()));
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", *a}}).ok());
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", *b}}).ok());
}

TEST_F(MallocTest, DeleteUnknownOrForeignBdevIsNotFound) {
  RpcResult r = CallRpc("bdev_malloc_delete", {{"name", "NoSuchDisk"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -19);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("NoSuchDisk"));

  ASSERT_TRUE(
      CallRpc("bdev_null_create", {{"name", "NullX"}, {"block_size", 512}, {"num_blocks", 8}})
          .ok());
  r = CallRpc("bdev_malloc_delete", {{"name", "NullX"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(BdevExists("NullX"));
  EXPECT_TRUE(CallRpc("bdev_null_delete", {{"name", "NullX"}}).ok());
}

TEST_F(MallocTest, DeleteRemovesTheBdev) {
  RpcResult r = CallRpc("bdev_malloc_delete", {{"name", "MallocT"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
  EXPECT_FALSE(BdevExists("MallocT"));
}

TEST_F(MallocTest, SaveConfigRoundTrips) {
  ASSERT_TRUE(CallRpc("bdev_malloc_create", {{"name", "MallocCfg"},
                                             {"block_size", 4096},
                                             {"num_blocks", 32},
                                             {"optimal_io_boundary", 8},
                                             {"uuid", "6D3AF4C4-8B1D-4E0F-9A55-0123456789AB"}})
                  .ok());
  json config;
  testing::OnAppSync([&] { config = testing::ConfigPeer::WriteConfig(*FindBdev("MallocCfg")); });
  ASSERT_EQ(config.size(), 1u);
  EXPECT_EQ(config[0]["method"], "bdev_malloc_create");
  json params = config[0]["params"];
  EXPECT_EQ(params["uuid"], "6d3af4c4-8b1d-4e0f-9a55-0123456789ab");
  EXPECT_EQ(params["num_blocks"], 32);
  EXPECT_EQ(params["optimal_io_boundary"], 8);
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "MallocCfg"}}).ok());

  json file = {{"subsystems", {{{"subsystem", "bdev"}, {"config", config}}}}};
  absl::Status s = testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(file, done); });
  ASSERT_TRUE(s.ok()) << s;
  testing::OnAppSync([] {
    Bdev* b = FindBdev("6d3af4c4-8b1d-4e0f-9a55-0123456789ab");  // by UUID
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->name(), "MallocCfg");
    EXPECT_EQ(b->block_size(), 4096u);
    EXPECT_EQ(b->num_blocks(), 32u);
    EXPECT_EQ(b->properties().optimal_io_boundary, 8u);
  });
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "MallocCfg"}}).ok());
}

TEST_F(MallocTest, CxxApi) {
  MallocOptions options;
  options.name = "MallocApi";
  options.block_size = 512;
  options.num_blocks = 64;
  absl::StatusOr<std::string> name;
  testing::OnAppSync([&] { name = CreateMallocBdev(options); });
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "MallocApi");
  absl::Status deleted = testing::OnApp<absl::Status>(
      [](std::function<void(absl::Status)> done) { DeleteMallocBdev("MallocApi", done); });
  EXPECT_TRUE(deleted.ok()) << deleted;
  EXPECT_FALSE(BdevExists("MallocApi"));
}

}  // namespace
}  // namespace bdevkit

// What only one of the kernel modules has: aio's rescan and SPDK-style flags, uring's
// iopoll, queue depth and fixed_buffers checks.
#include "tests/unit/modules/kernel_bdev_fixture.h"

namespace bdevkit::kernel_test {
namespace {

class AioTest : public KernelBdevTest {
 protected:
  std::string kind() const override { return "aio"; }
};

TEST_F(AioTest, RescanPicksUpAGrownFile) {
  ASSERT_TRUE(CallRpc("bdev_aio_create", {{"name", "K0"}, {"filename", file_}}).ok());
  std::atomic<int> resizes{0};
  std::unique_ptr<BdevDesc> desc;
  testing::OnAppSync([&] {
    desc = std::move(*OpenBdev("K0", false, [&](BdevEvent e) {
      if (e == BdevEvent::kResize) resizes++;
    }));
  });
  // Unchanged: no event.
  ASSERT_TRUE(CallRpc("bdev_aio_rescan", {{"name", "K0"}}).ok());
  EXPECT_EQ(resizes.load(), 0);
  ASSERT_EQ(truncate(file_.c_str(), 2 * kFileBlocks * kBlock), 0);
  RpcResult r = CallRpc("bdev_aio_rescan", {{"name", "K0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
  testing::OnAppSync([&] { EXPECT_EQ(FindBdev("K0")->num_blocks(), 2 * kFileBlocks); });
  for (int i = 0; i < 200 && resizes.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(resizes.load(), 1);
  // Shrinking is refused and changes nothing.
  ASSERT_EQ(truncate(file_.c_str(), kFileBlocks * kBlock), 0);
  r = CallRpc("bdev_aio_rescan", {{"name", "K0"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("shrank"));
  testing::OnAppSync([&] {
    EXPECT_EQ(FindBdev("K0")->num_blocks(), 2 * kFileBlocks);
    desc.reset();
  });
  EXPECT_EQ(StatusToJsonRpcError(CallRpc("bdev_aio_rescan", {{"name", "Nope"}}).status()).code,
            -19);
}

TEST_F(AioTest, FallocateOffAndReadonlyAsSpdk) {
  ASSERT_TRUE(CallRpc("bdev_aio_create", {{"name", "K0"},
                                          {"filename", file_},
                                          {"readonly", false},
                                          {"fallocate", false},
                                          {"nowait", false}})
                  .ok());
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("K0");
    EXPECT_FALSE(b->IoTypeSupported(IoType::kWriteZeroes));
    EXPECT_FALSE(b->IoTypeSupported(IoType::kUnmap));
    EXPECT_TRUE(b->IoTypeSupported(IoType::kWrite));
    // A detected block size is not written (detected again on load), as SPDK.
    EXPECT_FALSE(testing::ConfigPeer::WriteConfig(*b)[0]["params"].contains("block_size"));
  });
  ASSERT_TRUE(CallRpc("bdev_aio_delete", {{"name", "K0"}}).ok());
  ASSERT_TRUE(
      CallRpc("bdev_aio_create", {{"name", "K0"}, {"filename", file_}, {"readonly", true}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  void* buf = AlignedBuf(kBlock);
  EXPECT_TRUE(disk.Read(buf, 0, 1).ok());
  EXPECT_EQ(disk.Write(buf, 0, 1).error, -EINVAL);
  std::free(buf);
}

class UringTest : public KernelBdevTest {
 protected:
  std::string kind() const override { return "uring"; }
};

TEST_F(UringTest, IopollWorksOrIsRefusedClearly) {
  RpcResult r =
      CallRpc("bdev_uring_create", {{"name", "K0"}, {"filename", file_}, {"iopoll", true}});
  if (!r.ok()) {
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("iopoll"));
    EXPECT_FALSE(BdevExists("K0"));
    return;
  }
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  void* buf = AlignedBuf(kBlock);
  EXPECT_TRUE(disk.Read(buf, 5, 1).ok());
  EXPECT_EQ(std::memcmp(buf, data_.data() + 5 * kBlock, kBlock), 0);
  std::free(buf);
}

TEST_F(UringTest, BadQueueDepth) {
  RpcResult r =
      CallRpc("bdev_uring_create", {{"name", "K0"}, {"filename", file_}, {"queue_depth", 0}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"queue_depth\""));
  EXPECT_FALSE(BdevExists("K0"));
}

// Not implemented yet, so refused: an option that silently does nothing would mislead.
TEST_F(UringTest, FixedBuffersIsRefusedUntilSupported) {
  RpcResult r =
      CallRpc("bdev_uring_create", {{"name", "K0"}, {"filename", file_}, {"fixed_buffers", true}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"fixed_buffers\": not supported"));
  EXPECT_FALSE(BdevExists("K0"));
}

}  // namespace
}  // namespace bdevkit::kernel_test

// What only one of the kernel modules has: aio's rescan and SPDK-style flags, uring's
// iopoll, queue depth and fixed buffers.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bdevkit/io_buffer.h"
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

// fixed_buffers: each thread's I/O buffer pool is registered with its ring; reads and
// writes on one of its buffers go as READ_FIXED / WRITE_FIXED, others as before.
TEST_F(UringTest, FixedBuffersUseTheRegisteredPoolForPoolBuffersOnly) {
  ASSERT_TRUE(
      CallRpc("bdev_uring_create", {{"name", "K0"}, {"filename", file_}, {"fixed_buffers", true}})
          .ok());
  RpcResult info = CallRpc("bdev_get_bdevs", {{"name", "K0"}});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info.value()[0]["driver_specific"]["uring"]["fixed_buffers"], true);
  json config;
  testing::OnAppSync([&] { config = testing::ConfigPeer::WriteConfig(*FindBdev("K0")); });
  EXPECT_EQ(config[0]["params"]["fixed_buffers"], true);

  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  IoBufferPool* pool = nullptr;
  uint8_t *wbuf = nullptr, *rbuf = nullptr, *rbuf2 = nullptr;
  testing::OnAppSync([&] {
    pool = IoBufferPool::Acquire();
    ASSERT_NE(pool, nullptr);
    wbuf = static_cast<uint8_t*>(pool->Alloc(8 * kBlock));
    rbuf = static_cast<uint8_t*>(pool->Alloc(8 * kBlock));
    rbuf2 = static_cast<uint8_t*>(pool->Alloc(4 * kBlock));
  });
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(wbuf != nullptr && rbuf != nullptr && rbuf2 != nullptr);
  // Counted from here: examine (the raid module's superblock probe) may already have
  // read the new bdev through this thread's ring.
  ASSERT_TRUE(CallRpc("bdev_wait_for_examine", nullptr).ok());
  absl::StatusOr<UringStats> before = testing::OnApp<absl::StatusOr<UringStats>>(
      [](auto done) { GetUringStats("K0", std::move(done)); });
  ASSERT_TRUE(before.ok()) << before.status();
  const std::vector<uint8_t> pattern = Pattern(8 * kBlock, 42);
  std::memcpy(wbuf, pattern.data(), pattern.size());
  ASSERT_TRUE(disk.Write(wbuf, 16, 8).ok());                     // WRITE_FIXED
  EXPECT_EQ(ReadFile(file_, 16 * kBlock, 8 * kBlock), pattern);  // really on the file
  ASSERT_TRUE(disk.Read(rbuf, 16, 8).ok());                      // READ_FIXED
  EXPECT_EQ(std::memcmp(rbuf, pattern.data(), pattern.size()), 0);
  void* heap = AlignedBuf(8 * kBlock);
  ASSERT_TRUE(disk.Read(heap, 16, 8).ok());  // not from the pool: a plain read
  EXPECT_EQ(std::memcmp(heap, pattern.data(), pattern.size()), 0);
  std::free(heap);
  // Two pool segments: one registered buffer cannot describe them, so a readv.
  std::memset(rbuf, 0, 4 * kBlock);
  iovec iov[2] = {{rbuf, 4 * kBlock}, {rbuf2, 4 * kBlock}};
  ASSERT_TRUE(disk.Readv(iov, 2, 16, 8).ok());
  EXPECT_EQ(std::memcmp(rbuf, pattern.data(), 4 * kBlock), 0);
  EXPECT_EQ(std::memcmp(rbuf2, pattern.data() + 4 * kBlock, 4 * kBlock), 0);

  absl::StatusOr<UringStats> stats = testing::OnApp<absl::StatusOr<UringStats>>(
      [](auto done) { GetUringStats("K0", std::move(done)); });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->fixed_buffer_channels, 1u);
  EXPECT_EQ(stats->fixed_rw - before->fixed_rw, 2u);
  EXPECT_EQ(stats->submitted - before->submitted, 4u);
  testing::OnAppSync([&] {
    for (void* p : {static_cast<void*>(wbuf), static_cast<void*>(rbuf), static_cast<void*>(rbuf2)})
      pool->Free(p);
    pool->Release();
  });
}

// Registering pins the pool's pages; without CAP_IPC_LOCK the kernel counts them
// against RLIMIT_MEMLOCK. A limit too small is refused at create, naming the limit.
TEST_F(UringTest, FixedBuffersRefusedClearlyWhenThePoolCannotBeRegistered) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &saved), 0);
  RpcResult r = testing::OnApp<RpcResult>([&](std::function<void(RpcResult)> done) {
    // Capabilities are per thread: drop CAP_IPC_LOCK from this one's effective set
    // (it stays permitted, so it can be raised again).
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[2]{};
    syscall(SYS_capget, &header, caps);
    const __user_cap_data_struct before[2] = {caps[0], caps[1]};
    caps[0].effective &= ~(1u << CAP_IPC_LOCK);
    syscall(SYS_capset, &header, caps);
    rlimit tiny{1024 * 1024, saved.rlim_max};  // room for the ring, not for 4 MiB
    setrlimit(RLIMIT_MEMLOCK, &tiny);
    CallRpcMethod("bdev_uring_create",
                  {{"name", "K0"}, {"filename", file_}, {"fixed_buffers", true}},
                  [&saved, header, before, done](RpcResult result) mutable {
                    setrlimit(RLIMIT_MEMLOCK, &saved);
                    __user_cap_data_struct restore[2] = {before[0], before[1]};
                    syscall(SYS_capset, &header, restore);
                    done(std::move(result));
                  });
  });
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("\"fixed_buffers\": cannot register a 4096 KiB I/O buffer pool"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("RLIMIT_MEMLOCK) is 1024 KiB"));
  EXPECT_FALSE(BdevExists("K0"));
  rlimit now{};
  getrlimit(RLIMIT_MEMLOCK, &now);
  EXPECT_EQ(now.rlim_cur, saved.rlim_cur);
}

}  // namespace
}  // namespace bdevkit::kernel_test

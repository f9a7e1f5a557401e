// The rbd bdev against a real cluster: RBD_TEST_CONF names its ceph.conf and the image
// rbd/gtest (>= 16 MiB) must exist. tests/ceph/rbd_test.sh (case "library") starts a
// loopback cluster and runs this; without the variable every test is skipped.
// What bdevperf cannot show: iovecs, the data of write_zeroes, completions on the
// submitting thread (not only the app thread), a reset with I/O in librbd, and the
// resize event an open descriptor gets.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bdevkit/bdev.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::rbd {
namespace {

using json = nlohmann::json;
using testing::CallRpc;
using testing::TestDisk;

constexpr uint32_t kBlock = 4096;

class RbdClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conf = std::getenv("RBD_TEST_CONF");
    if (conf == nullptr)
      GTEST_SKIP() << "RBD_TEST_CONF is not set (tests/ceph/rbd_test.sh sets it)";
    RpcResult r = CallRpc("bdev_rbd_register_cluster", {{"name", "gt"}, {"config_file", conf}});
    ASSERT_TRUE(r.ok()) << r.status();
    r = CallRpc("bdev_rbd_create", {{"name", "R0"},
                                    {"pool_name", "rbd"},
                                    {"rbd_name", "gtest"},
                                    {"block_size", kBlock},
                                    {"cluster_name", "gt"}});
    ASSERT_TRUE(r.ok()) << r.status();
    created_ = true;
  }
  void TearDown() override {
    if (!created_) return;
    EXPECT_TRUE(CallRpc("bdev_rbd_delete", {{"name", "R0"}}).ok());
    EXPECT_TRUE(CallRpc("bdev_rbd_unregister_cluster", {{"name", "gt"}}).ok());
  }
  bool created_ = false;
};

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 13 + i / 4096);
  return v;
}

TEST_F(RbdClusterTest, IovecsWriteZeroesUnmapFlush) {
  TestDisk disk("R0");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  std::vector<uint8_t> data = Pattern(3 * kBlock, 7);
  iovec wv[3] = {{data.data(), kBlock},
                 {data.data() + kBlock, 512},
                 {data.data() + kBlock + 512, 2 * kBlock - 512}};
  ASSERT_TRUE(disk.Writev(wv, 3, 10, 3).ok());
  std::vector<uint8_t> back(3 * kBlock, 0);
  iovec rv[2] = {{back.data(), 2 * kBlock + 100}, {back.data() + 2 * kBlock + 100, kBlock - 100}};
  ASSERT_TRUE(disk.Readv(rv, 2, 10, 3).ok());
  EXPECT_EQ(back, data);
  // One block read alone (the single-buffer path).
  std::vector<uint8_t> one(kBlock);
  ASSERT_TRUE(disk.Read(one.data(), 11, 1).ok());
  EXPECT_EQ(0, std::memcmp(one.data(), data.data() + kBlock, kBlock));

  ASSERT_TRUE(disk.WriteZeroes(11, 1).ok());
  ASSERT_TRUE(disk.Read(back.data(), 10, 3).ok());
  EXPECT_EQ(0, std::memcmp(back.data(), data.data(), kBlock));
  EXPECT_EQ(std::vector<uint8_t>(back.begin() + kBlock, back.begin() + 2 * kBlock),
            std::vector<uint8_t>(kBlock, 0));
  EXPECT_EQ(0, std::memcmp(back.data() + 2 * kBlock, data.data() + 2 * kBlock, kBlock));
  EXPECT_TRUE(disk.Unmap(0, 1024).ok());
  EXPECT_TRUE(disk.Flush(0, 0).ok());
}

// I/O submitted on a second runtime thread completes on that thread (librbd's
// callback runs elsewhere; the module sends it back).
TEST_F(RbdClusterTest, CompletionOnTheSubmittingThread) {
  absl::StatusOr<Thread*> t2 = Runtime::CreateThread("rbd_test_t2");
  ASSERT_TRUE(t2.ok());
  struct State {
    Thread* thread = nullptr;
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    std::vector<uint8_t> buf = std::vector<uint8_t>(kBlock, 0x5a);
    int remaining = 32;
    int errors = 0;
    int wrong_thread = 0;
    std::promise<void> done;
  } st;
  st.thread = *t2;
  ASSERT_EQ((*t2)->Send([&st] {
    st.desc = std::move(*OpenBdev("R0", true));
    st.ch = st.desc->GetIoChannel();
    IoCallback cb = [](void* arg, IoStatus s) {
      auto* p = static_cast<State*>(arg);
      if (Thread::Current() != p->thread) p->wrong_thread++;
      if (!s.ok()) p->errors++;
      if (--p->remaining == 0) {
        p->ch->Put();
        p->desc.reset();
        p->done.set_value();
      }
    };
    for (int i = 0; i < 32; ++i) {
      int rc = i % 2 == 0 ? st.desc->Write(st.ch, st.buf.data(), 100 + i, 1, cb, &st)
                          : st.desc->Read(st.ch, st.buf.data(), 100 + i, 1, cb, &st);
      if (rc != 0) std::abort();
    }
  }),
            0);
  ASSERT_EQ(st.done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(st.errors, 0);
  EXPECT_EQ(st.wrong_thread, 0);
}

// A reset while writes are in librbd: it completes after all of them, successfully.
TEST_F(RbdClusterTest, ResetWaitsForIoInLibrbd) {
  struct State {
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    std::vector<uint8_t> buf = std::vector<uint8_t>(64 * kBlock, 0x33);
    int writes_done = 0;
    int write_errors = 0;
    int writes_done_at_reset = -1;
    IoStatus reset_status;
    std::promise<void> done;
  } st;
  testing::OnAppSync([&st] {
    st.desc = std::move(*OpenBdev("R0", true));
    st.ch = st.desc->GetIoChannel();
    for (int i = 0; i < 64; ++i) {
      int rc = st.desc->Write(
          st.ch, st.buf.data() + i * kBlock, 200 + i, 1,
          [](void* arg, IoStatus s) {
            auto* p = static_cast<State*>(arg);
            p->writes_done++;
            if (!s.ok()) p->write_errors++;
          },
          &st);
      if (rc != 0) std::abort();
    }
    int rc = st.desc->Reset(
        st.ch,
        [](void* arg, IoStatus s) {
          auto* p = static_cast<State*>(arg);
          p->reset_status = s;
          p->writes_done_at_reset = p->writes_done;
          p->ch->Put();
          p->done.set_value();
        },
        &st);
    if (rc != 0) std::abort();
  });
  ASSERT_EQ(st.done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(st.reset_status.ok()) << st.reset_status.error;
  EXPECT_EQ(st.writes_done_at_reset, 64);
  EXPECT_EQ(st.write_errors, 0);
  testing::OnAppSync([&st] { st.desc.reset(); });
}

TEST_F(RbdClusterTest, ResizeNotifiesOpenDescriptors) {
  std::atomic<int> resizes{0};
  std::unique_ptr<BdevDesc> desc;
  uint64_t blocks = 0;
  testing::OnAppSync([&] {
    desc = std::move(*OpenBdev("R0", false, [&](BdevEvent e) {
      if (e == BdevEvent::kResize) resizes++;
    }));
    blocks = desc->bdev().num_blocks();
  });
  const uint64_t mib = blocks * kBlock / (1 << 20);
  RpcResult r = CallRpc("bdev_rbd_resize", {{"name", "R0"}, {"new_size", mib + 8}});
  ASSERT_TRUE(r.ok()) << r.status();
  for (int i = 0; i < 1000 && resizes.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(resizes.load(), 1);
  testing::OnAppSync([&] {
    EXPECT_EQ(desc->bdev().num_blocks(), (mib + 8) * (1 << 20) / kBlock);
    desc.reset();
  });
  // The same size again: nothing changes, no event.
  ASSERT_TRUE(CallRpc("bdev_rbd_resize", {{"name", "R0"}, {"new_size", mib + 8}}).ok());
  EXPECT_EQ(resizes.load(), 1);
}

}  // namespace
}  // namespace bdevkit::rbd

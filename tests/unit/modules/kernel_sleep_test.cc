// aio and uring under the sleep idle policy: the reactor sleeps while I/O is
// outstanding and the completion's eventfd wakes it (Thread::RegisterWakeFd). Without
// the wake-up, the reactor would sleep through the completion and every I/O here
// would hang (nothing else is due on this runtime).
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/unit/modules/kernel_bdev_fixture.h"

namespace bdevkit::kernel_test {
namespace {

class SleepingEnv : public testing::BdevLayerEnv {
 public:
  RuntimeOptions MakeOptions() const override {
    RuntimeOptions options = BdevLayerEnv::MakeOptions();
    options.idle_policy = IdlePolicy::kSleep;
    options.idle_spins = 16;
    return options;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new SleepingEnv());

ReactorStats Stats() { return Runtime::GetReactorStats().at(0); }

using SleepingKernelBdevTest = KernelBdevTest;

TEST_P(SleepingKernelBdevTest, ReactorSleepsThroughEachIoAndTheCompletionWakesIt) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}, {"block_size", kBlock}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  void* buf = AlignedBuf(8 * kBlock);
  constexpr int kIos = 100;
  const ReactorStats before = Stats();
  for (int i = 0; i < kIos; ++i) {
    const uint64_t block = static_cast<uint64_t>(i) * 8 % kFileBlocks;
    const absl::Time submitted = absl::Now();
    ASSERT_TRUE(disk.Read(buf, block, 8).ok()) << "read " << i;
    // A completion nobody woke the reactor for would wait for the next message.
    ASSERT_LT(absl::Now() - submitted, absl::Seconds(2)) << "read " << i;
    ASSERT_EQ(std::memcmp(buf, data_.data() + block * kBlock, 8 * kBlock), 0) << "read " << i;
  }
  const ReactorStats after = Stats();
  std::free(buf);
  // Nearly every read outlasts 16 idle loops, so the reactor sleeps with it in flight
  // and the kernel's eventfd signal wakes it; some may complete before it dozes off.
  EXPECT_GE(after.wakes_by_fd - before.wakes_by_fd, static_cast<uint64_t>(kIos / 4))
      << "sleeps " << after.sleeps - before.sleeps << ", by message "
      << after.wakes_by_message - before.wakes_by_message;
  EXPECT_GT(after.slept_ns, before.slept_ns);
  // CPU time against wall time is not asserted: on a loaded machine (CI) a 10 ms
  // loop says nothing; the counters above are what prove the reactor slept.
  if (kind() == "uring") {
    absl::StatusOr<UringStats> s = testing::OnApp<absl::StatusOr<UringStats>>(
        [](auto done) { GetUringStats("K0", std::move(done)); });
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->channels, 1u);
    EXPECT_EQ(s->sleeping_channels, 1u);
    EXPECT_EQ(s->completed, s->submitted);
  }
}

// Many in flight at once: the reactor sleeps with all of them outstanding and each
// wake-up reaps what has completed, until all are done.
TEST_P(SleepingKernelBdevTest, ManyOutstandingCompleteWhileTheReactorSleeps) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}, {"block_size", kBlock}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  constexpr int kInFlight = 64;
  std::vector<std::unique_ptr<uint8_t, decltype(&std::free)>> bufs;
  for (int i = 0; i < kInFlight; ++i) {
    bufs.emplace_back(static_cast<uint8_t*>(AlignedBuf(4 * kBlock)), &std::free);
  }
  const ReactorStats before = Stats();
  struct Batch {
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    int left = kInFlight;
    int failed = 0;
    std::function<void(bool)> done;
  } batch;
  const bool ok = testing::OnApp<bool>([&](std::function<void(bool)> done) {
    batch.done = std::move(done);
    absl::StatusOr<std::unique_ptr<BdevDesc>> desc = OpenBdev("K0", /*writable=*/false);
    if (!desc.ok()) return batch.done(false);
    batch.desc = std::move(*desc);
    batch.ch = batch.desc->GetIoChannel();
    for (int i = 0; i < kInFlight; ++i) {
      int rc = batch.desc->Read(
          batch.ch, bufs[i].get(), static_cast<uint64_t>(i) * 4, 4,
          [](void* arg, IoStatus s) {
            auto* b = static_cast<Batch*>(arg);
            if (!s.ok()) ++b->failed;
            if (--b->left > 0) return;
            b->ch->Put();
            b->desc.reset();
            b->done(b->failed == 0);
          },
          &batch);
      EXPECT_EQ(rc, 0) << "submit " << i;  // the queue depth is far above 64
    }
  });
  EXPECT_TRUE(ok);
  for (int i = 0; i < kInFlight; ++i) {
    ASSERT_EQ(std::memcmp(bufs[i].get(), data_.data() + i * 4 * kBlock, 4 * kBlock), 0) << i;
  }
  EXPECT_GE(Stats().wakes_by_fd, before.wakes_by_fd + 1);
}

INSTANTIATE_TEST_SUITE_P(Modules, SleepingKernelBdevTest, ::testing::Values("aio", "uring"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace bdevkit::kernel_test

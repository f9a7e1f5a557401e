// Wake fds: a sleeping reactor wakes when a registered fd becomes readable, runs its
// on_ready on the owning thread, and counts why it woke (ReactorStats).
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"
#include "tests/unit/runtime/runtime_fixture.h"

namespace bdevkit {
namespace {

using testing::RuntimeTest;

ReactorStats StatsOf(int core) {
  for (const ReactorStats& s : Runtime::GetReactorStats()) {
    if (s.core == core) return s;
  }
  ADD_FAILURE() << "no reactor on core " << core;
  return {};
}

void Signal(int fd) {
  uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

// An eventfd registered on the second reactor's thread; on_ready drains it and counts.
class WakeFdTest : public RuntimeTest {
 protected:
  RuntimeOptions MakeOptions() override {
    RuntimeOptions options = RuntimeTest::MakeOptions();
    options.idle_policy = IdlePolicy::kSleep;
    options.idle_spins = 10;
    return options;
  }
  void SetUp() override {
    RuntimeTest::SetUp();
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(efd_, 0);
  }
  void TearDown() override {
    if (wake_fd_ != nullptr) Unregister();
    RuntimeTest::TearDown();
    close(efd_);
  }
  void Register() {
    RunOn(second(), [&] {
      EXPECT_TRUE(Thread::Current()->MaySleep());
      wake_fd_ = Thread::Current()->RegisterWakeFd(
          efd_,
          [this] {
            EXPECT_EQ(Thread::Current(), second());
            uint64_t value;
            if (read(efd_, &value, sizeof(value)) == sizeof(value)) drained_ += value;
            ready_calls_.fetch_add(1);
          },
          "test_efd");
    });
  }
  void Unregister() {
    RunOn(second(), [&] { Thread::Current()->UnregisterWakeFd(wake_fd_); });
    wake_fd_ = nullptr;
  }
  // Gives the second reactor time to fall asleep (10 idle loops take microseconds
  // when it has the CPU; nothing else is due) and returns its counters then.
  ReactorStats Asleep() {
    EXPECT_TRUE(Eventually([&] { return StatsOf(second()->core()).sleeps > 0; }));
    absl::SleepFor(absl::Milliseconds(20));
    return StatsOf(second()->core());
  }

  int efd_ = -1;
  WakeFd* wake_fd_ = nullptr;
  std::atomic<int> ready_calls_{0};
  std::atomic<uint64_t> drained_{0};
};

TEST_F(WakeFdTest, ReadableFdWakesTheSleepingReactorAndRunsOnReady) {
  Register();
  const int core = second()->core();
  for (int i = 1; i <= 20; ++i) {
    const ReactorStats before = Asleep();
    const absl::Time sent = absl::Now();
    Signal(efd_);
    ASSERT_TRUE(Eventually([&] { return ready_calls_.load() >= i; }, absl::Seconds(5)))
        << "on_ready did not run after signal " << i;
    EXPECT_LT(absl::Now() - sent, absl::Seconds(1));
    EXPECT_GT(StatsOf(core).wakes_by_fd, before.wakes_by_fd);
  }
  EXPECT_EQ(drained_.load(), 20u);
  // Drained each time, so the reactor sleeps again instead of waking at once.
  const ReactorStats after = StatsOf(core);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(ready_calls_.load(), 20);
  EXPECT_LE(StatsOf(core).wakes_by_fd, after.wakes_by_fd + 1);
}

TEST_F(WakeFdTest, UnregisteredFdNoLongerWakesOrRuns) {
  Register();
  Unregister();
  const ReactorStats before = Asleep();
  Signal(efd_);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(ready_calls_.load(), 0);
  EXPECT_EQ(StatsOf(second()->core()).wakes_by_fd, before.wakes_by_fd);
}

TEST_F(WakeFdTest, OnReadyMayUnregisterItself) {
  RunOn(second(), [&] {
    wake_fd_ = Thread::Current()->RegisterWakeFd(efd_, [this] {
      // Counted after the last read of wake_fd_: the test body resets it once it
      // sees the count (a race TSan found when the count came first).
      Thread::Current()->UnregisterWakeFd(wake_fd_);
      ready_calls_.fetch_add(1);
    });
  });
  Asleep();
  Signal(efd_);  // never drained: only unregistering keeps it from waking again
  ASSERT_TRUE(Eventually([&] { return ready_calls_.load() == 1; }));
  wake_fd_ = nullptr;
  const ReactorStats before = Asleep();
  absl::SleepFor(absl::Milliseconds(50));
  // Still registered, the readable fd would end every sleep at once: thousands.
  EXPECT_LT(StatsOf(second()->core()).sleeps - before.sleeps, 10u);
  EXPECT_EQ(ready_calls_.load(), 1);
}

TEST_F(WakeFdTest, FdClosedWhileRegisteredIsIgnoredNotSpunOn) {
  const int doomed = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(doomed, 0);
  WakeFd* w = nullptr;
  RunOn(second(), [&] {
    w = Thread::Current()->RegisterWakeFd(
        doomed, [] {}, "doomed");
  });
  close(doomed);  // a bug in its owner; the reactor must not spin on POLLNVAL
  const ReactorStats before = StatsOf(second()->core());
  absl::SleepFor(absl::Milliseconds(100));
  const ReactorStats after = StatsOf(second()->core());
  // Spinning would mean thousands of sleeps per 100 ms; a reactor that ignores the
  // fd sleeps once and stays asleep (nothing else is due).
  EXPECT_LT(after.sleeps - before.sleeps, 10u);
  // It still wakes for messages.
  RunOn(
      second(), [&] { Thread::Current()->UnregisterWakeFd(w); }, absl::Seconds(2));
}

TEST_F(WakeFdTest, StatsCountMessageAndTimerWakes) {
  const int core = second()->core();
  ReactorStats before = Asleep();
  RunOn(second(), [] {});
  EXPECT_GT(StatsOf(core).wakes_by_message, before.wakes_by_message);

  std::atomic<int> ticks{0};
  Poller* poller = nullptr;
  RunOn(second(), [&] {
    poller = Thread::Current()->RegisterPoller(
        [&] {
          ticks.fetch_add(1);
          return PollStatus::kIdle;
        },
        absl::Milliseconds(5), "tick");
  });
  before = StatsOf(core);
  ASSERT_TRUE(Eventually([&] { return ticks.load() >= 5; }));
  RunOn(second(), [&] { Thread::Current()->UnregisterPoller(poller); });
  const ReactorStats after = StatsOf(core);
  EXPECT_GE(after.wakes_by_timer, before.wakes_by_timer + 3);
  EXPECT_GT(after.slept_ns, before.slept_ns);
}

// A busy-polling reactor never sleeps: wake fds are accepted but never waited on.
TEST_F(RuntimeTest, BusyPollingReactorNeverSleepsNorRunsOnReady) {
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  std::atomic<int> calls{0};
  WakeFd* w = nullptr;
  RunOn(second(), [&] {
    EXPECT_FALSE(Thread::Current()->MaySleep());
    w = Thread::Current()->RegisterWakeFd(efd, [&] { calls.fetch_add(1); });
  });
  Signal(efd);
  absl::SleepFor(absl::Milliseconds(20));
  RunOn(second(), [&] { Thread::Current()->UnregisterWakeFd(w); });
  EXPECT_EQ(calls.load(), 0);
  for (const ReactorStats& s : Runtime::GetReactorStats()) EXPECT_EQ(s.sleeps, 0u);
  close(efd);
}

}  // namespace
}  // namespace bdevkit

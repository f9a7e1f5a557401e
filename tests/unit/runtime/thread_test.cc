#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"
#include "tests/unit/runtime/runtime_fixture.h"

namespace bdevkit {
namespace {

using testing::RuntimeTest;

class ThreadTest : public RuntimeTest {};

TEST_F(ThreadTest, MessagesRunOnTheTargetThreadInOrder) {
  std::vector<int> seen;
  Thread* ran_on = nullptr;
  absl::Notification done;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(second()->Send([&, i] {
      seen.push_back(i);  // only the second thread touches `seen`
      ran_on = Thread::Current();
      if (i == 99) done.Notify();
    }),
              0);
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(ran_on, second());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST_F(ThreadTest, CurrentIsNullOutsideTheRuntime) { EXPECT_EQ(Thread::Current(), nullptr); }

TEST_F(ThreadTest, PlainFunctionMessages) {
  std::atomic<int> counter{0};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(
        app()->Send([](void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); }, &counter),
        0);
  }
  RunOn(app(), [] {});  // messages are FIFO: all earlier ones have run
  EXPECT_EQ(counter.load(), 1000);
}

TEST_F(ThreadTest, ActivePollerRunsEveryLoopUntilUnregistered) {
  std::atomic<int> runs{0};
  Poller* poller = nullptr;
  RunOn(app(), [&] {
    poller = Thread::Current()->RegisterPoller(
        [&] {
          runs.fetch_add(1);
          return PollStatus::kIdle;
        },
        absl::ZeroDuration(), "counter");
  });
  while (runs.load() < 100) std::this_thread::yield();
  RunOn(app(), [&] { Thread::Current()->UnregisterPoller(poller); });
  const int after = runs.load();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(runs.load(), after) << "poller ran after it was unregistered";
}

TEST_F(ThreadTest, TimedPollerHonoursItsPeriod) {
  std::atomic<int> runs{0};
  Poller* poller = nullptr;
  const absl::Time start = absl::Now();
  RunOn(app(), [&] {
    poller = Thread::Current()->RegisterPoller(
        [&] {
          runs.fetch_add(1);
          return PollStatus::kBusy;
        },
        absl::Milliseconds(20), "timed");
  });
  absl::SleepFor(absl::Milliseconds(210));
  RunOn(app(), [&] { Thread::Current()->UnregisterPoller(poller); });
  const double elapsed_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  // Never more often than its period allows; and it did run (a loaded machine may
  // delay runs, so the lower bound is loose).
  EXPECT_LE(runs.load(), static_cast<int>(elapsed_ms / 20) + 1);
  EXPECT_GE(runs.load(), 3);
}

TEST_F(ThreadTest, TimedPollersFireInDeadlineOrder) {
  std::vector<int> order;
  absl::Notification done;
  std::vector<Poller*> pollers(3);
  RunOn(app(), [&] {
    Thread* t = Thread::Current();
    const int periods_ms[3] = {60, 20, 40};
    for (int i = 0; i < 3; ++i) {
      pollers[i] = t->RegisterPoller(
          [&, i, t, period = periods_ms[i]] {
            order.push_back(period);
            t->UnregisterPoller(pollers[i]);  // one-shot, unregistered from inside itself
            if (order.size() == 3) done.Notify();
            return PollStatus::kBusy;
          },
          absl::Milliseconds(periods_ms[i]), "oneshot");
    }
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(order, (std::vector<int>{20, 40, 60}));
}

TEST_F(ThreadTest, ForEachThreadVisitsEveryThreadThenCallsDoneOnCaller) {
  std::vector<Thread*> visited;
  Thread* done_on = nullptr;
  RunAsync(app(), [&](std::function<void()> finish) {
    ForEachThread(
        [&](Thread& t) {
          EXPECT_EQ(Thread::Current(), &t);
          visited.push_back(&t);  // visits are sequential: no race
        },
        [&, finish] {
          done_on = Thread::Current();
          finish();
        });
  });
  EXPECT_EQ(visited, Runtime::ReactorThreads());
  EXPECT_EQ(done_on, app());
}

TEST_F(ThreadTest, CreatedThreadRunsMessages) {
  auto t = Runtime::CreateThread("worker", 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->name(), "worker");
  Thread* ran_on = nullptr;
  RunOn(*t, [&] { ran_on = Thread::Current(); });
  EXPECT_EQ(ran_on, *t);
  EXPECT_FALSE(Runtime::CreateThread("bad", 7).ok());
}

// Sleep idle policy: an idle reactor sleeps, yet a message still wakes it at once.
class SleepingRuntimeTest : public RuntimeTest {
 protected:
  RuntimeOptions MakeOptions() override {
    RuntimeOptions options = RuntimeTest::MakeOptions();
    options.idle_policy = IdlePolicy::kSleep;
    options.idle_spins = 10;
    return options;
  }
};

TEST_F(SleepingRuntimeTest, MessagesWakeASleepingReactor) {
  for (int i = 0; i < 50; ++i) {
    absl::SleepFor(absl::Milliseconds(2));  // let it fall asleep
    const absl::Time sent = absl::Now();
    RunOn(
        second(), [] {}, absl::Seconds(5));
    EXPECT_LT(absl::Now() - sent, absl::Seconds(1));
  }
}

TEST_F(SleepingRuntimeTest, TimedPollerWakesASleepingReactor) {
  std::atomic<int> runs{0};
  Poller* poller = nullptr;
  RunOn(second(), [&] {
    poller = Thread::Current()->RegisterPoller(
        [&] {
          runs.fetch_add(1);
          return PollStatus::kIdle;
        },
        absl::Milliseconds(10), "tick");
  });
  absl::SleepFor(absl::Milliseconds(200));
  RunOn(second(), [&] { Thread::Current()->UnregisterPoller(poller); });
  EXPECT_GE(runs.load(), 5);
}

TEST(RuntimeLifecycleTest, RunReturnsAfterRequestStopAndCanRestart) {
  for (int round = 0; round < 2; ++round) {
    bool ran = false;
    RuntimeOptions options;
    options.pin_reactors = false;
    absl::Status st = Runtime::Run(options, [&] {
      ran = Thread::Current() == Runtime::AppThread();
      Runtime::RequestStop();
    });
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_TRUE(ran);
    EXPECT_FALSE(Runtime::IsRunning());
  }
}

TEST(RuntimeLifecycleTest, SecondStartIsRefused) {
  RuntimeOptions options;
  options.pin_reactors = false;
  ASSERT_TRUE(Runtime::Start(options).ok());
  EXPECT_EQ(Runtime::Start(options).code(), absl::StatusCode::kFailedPrecondition);
  Runtime::RequestStop();
  Runtime::Wait();
}

}  // namespace
}  // namespace bdevkit

// A GoogleTest fixture that runs a real runtime (unpinned, so tests share cores) and
// helpers to run code on its threads and wait for the outcome.
#ifndef BDEVKIT_TESTS_UNIT_RUNTIME_RUNTIME_FIXTURE_H_
#define BDEVKIT_TESTS_UNIT_RUNTIME_RUNTIME_FIXTURE_H_

#include <functional>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"

namespace bdevkit::testing {

class RuntimeTest : public ::testing::Test {
 protected:
  // Two reactors on core 0 (both always exist); tests that need parallelism still get
  // two OS threads.
  virtual RuntimeOptions MakeOptions() {
    RuntimeOptions options;
    options.cores = {0, 1};
    options.pin_reactors = false;
    return options;
  }

  void SetUp() override { ASSERT_TRUE(Runtime::Start(MakeOptions()).ok()); }

  void TearDown() override {
    Runtime::RequestStop();
    Runtime::Wait();
  }

  // Runs fn on `thread` and waits for it. Fails the test on timeout.
  void RunOn(Thread* thread, std::function<void()> fn, absl::Duration timeout = absl::Seconds(10)) {
    absl::Notification done;
    ASSERT_EQ(thread->Send([&] {
      fn();
      done.Notify();
    }),
              0);
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(timeout)) << "timed out";
  }

  // Runs fn(finish) on `thread`; waits until finish() was called (possibly later, from
  // any runtime thread).
  void RunAsync(Thread* thread, std::function<void(std::function<void()> finish)> fn,
                absl::Duration timeout = absl::Seconds(10)) {
    absl::Notification done;
    ASSERT_EQ(thread->Send([&] { fn([&] { done.Notify(); }); }), 0);
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(timeout)) << "timed out";
  }

  // Waits until pred() holds (polled every millisecond); false on timeout.
  static bool Eventually(std::function<bool()> pred, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!pred()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  Thread* app() { return Runtime::AppThread(); }
  Thread* second() { return Runtime::ReactorThreads().at(1); }
};

}  // namespace bdevkit::testing

#endif  // BDEVKIT_TESTS_UNIT_RUNTIME_RUNTIME_FIXTURE_H_

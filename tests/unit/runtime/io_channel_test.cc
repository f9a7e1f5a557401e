#include "bdevkit/io_channel.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/unit/runtime/runtime_fixture.h"

namespace bdevkit {
namespace {

using testing::RuntimeTest;

struct CountingContext : ChannelContext {
  Thread* created_on = nullptr;
  int visits = 0;
};

// A device that counts channel creations and destructions and records threads.
class CountingDevice : public IoDevice {
 public:
  std::atomic<int> created{0}, destroyed{0};
  std::atomic<Thread*> destroyed_on{nullptr};
  bool fail_create = false;

 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    if (fail_create) return nullptr;
    created.fetch_add(1);
    auto ctx = std::make_unique<CountingContext>();
    ctx->created_on = Thread::Current();
    return ctx;
  }
  void OnChannelDestroy(ChannelContext& ctx) override {
    EXPECT_EQ(static_cast<CountingContext&>(ctx).created_on, Thread::Current());
    destroyed_on.store(Thread::Current());
    destroyed.fetch_add(1);
  }
};

class IoChannelTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    device_.RegisterIoDevice("counting");
  }
  void TearDown() override {
    RunAsync(app(), [&](auto finish) { device_.UnregisterIoDevice(finish); });
    RuntimeTest::TearDown();
  }
  CountingDevice device_;
};

TEST_F(IoChannelTest, ChannelIsCreatedLazilyOncePerThreadAndShared) {
  IoChannel *a = nullptr, *b = nullptr;
  RunOn(app(), [&] {
    EXPECT_EQ(device_.created.load(), 0);  // nothing until someone asks
    a = device_.GetIoChannel();
    b = device_.GetIoChannel();
  });
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(device_.created.load(), 1);
  EXPECT_EQ(&a->thread(), app());
  EXPECT_EQ(&a->device(), &device_);
  EXPECT_EQ(a->ctx<CountingContext>().created_on, app());

  IoChannel* other = nullptr;
  RunOn(second(), [&] { other = device_.GetIoChannel(); });
  EXPECT_NE(other, a);
  EXPECT_EQ(device_.created.load(), 2);

  RunOn(app(), [&] {
    a->Put();
    b->Put();
  });
  RunOn(second(), [&] { other->Put(); });
}

TEST_F(IoChannelTest, LastPutDestroysLaterOnTheOwningThread) {
  RunOn(second(), [&] {
    IoChannel* ch = device_.GetIoChannel();
    ch->Put();
    // Deferred: the caller may still be using the context in this call stack.
    EXPECT_EQ(device_.destroyed.load(), 0);
  });
  EXPECT_TRUE(Eventually([&] { return device_.destroyed.load() == 1; }));
  EXPECT_EQ(device_.destroyed_on.load(), second());
}

TEST_F(IoChannelTest, TakingAgainBeforeDestructionKeepsTheChannel) {
  IoChannel *first = nullptr, *again = nullptr;
  RunOn(app(), [&] {
    first = device_.GetIoChannel();
    first->Put();
    again = device_.GetIoChannel();  // before the deferred destruction ran
    again->Put();
    again = device_.GetIoChannel();
  });
  RunOn(app(), [] {});
  RunOn(app(), [] {});
  EXPECT_EQ(first, again);
  EXPECT_EQ(device_.created.load(), 1);
  EXPECT_EQ(device_.destroyed.load(), 0);
  RunOn(app(), [&] { again->Put(); });
}

TEST_F(IoChannelTest, ForEachChannelVisitsEachOnItsThread) {
  IoChannel *a = nullptr, *b = nullptr;
  RunOn(app(), [&] { a = device_.GetIoChannel(); });
  RunOn(second(), [&] { b = device_.GetIoChannel(); });
  std::atomic<int> visits{0};
  Thread* done_on = nullptr;
  absl::Status result;
  RunAsync(app(), [&](auto finish) {
    ForEachChannel(
        device_,
        [&](IoChannel& ch) {
          EXPECT_EQ(&ch.thread(), Thread::Current());
          ++ch.ctx<CountingContext>().visits;
          visits.fetch_add(1);
          return absl::OkStatus();
        },
        [&, finish](absl::Status st) {
          result = st;
          done_on = Thread::Current();
          finish();
        });
  });
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(visits.load(), 2);
  EXPECT_EQ(done_on, app());
  EXPECT_EQ(a->ctx<CountingContext>().visits, 1);
  EXPECT_EQ(b->ctx<CountingContext>().visits, 1);
  RunOn(app(), [&] { a->Put(); });
  RunOn(second(), [&] { b->Put(); });
}

TEST_F(IoChannelTest, ForEachChannelStopsAtTheFirstError) {
  IoChannel *a = nullptr, *b = nullptr;
  RunOn(app(), [&] { a = device_.GetIoChannel(); });
  RunOn(second(), [&] { b = device_.GetIoChannel(); });
  int visits = 0;
  absl::Status result;
  RunAsync(app(), [&](auto finish) {
    ForEachChannel(
        device_,
        [&](IoChannel&) {
          ++visits;
          return absl::AbortedError("stop here");
        },
        [&, finish](absl::Status st) {
          result = st;
          finish();
        });
  });
  EXPECT_EQ(visits, 1);
  EXPECT_EQ(result.code(), absl::StatusCode::kAborted);
  RunOn(app(), [&] { a->Put(); });
  RunOn(second(), [&] { b->Put(); });
}

// A channel released in the same loop pass as the walk starts still has its context
// (counters, say) and must be seen, not silently skipped.
TEST_F(IoChannelTest, ForEachChannelSeesAChannelAwaitingDestruction) {
  int visits = -1;
  RunAsync(app(), [&](auto finish) {
    IoChannel* ch = device_.GetIoChannel();
    ch->ctx<CountingContext>().visits = 41;
    ch->Put();  // destruction is deferred to the end of this loop pass
    ForEachChannel(
        device_,
        [&](IoChannel& c) {
          visits = ++c.ctx<CountingContext>().visits;
          return absl::OkStatus();
        },
        [finish](absl::Status) { finish(); });
  });
  EXPECT_EQ(visits, 42);
}

TEST_F(IoChannelTest, UnregisterWaitsForTheLastChannel) {
  CountingDevice dev;
  dev.RegisterIoDevice("temp");
  IoChannel* ch = nullptr;
  RunOn(second(), [&] { ch = dev.GetIoChannel(); });
  std::atomic<bool> unregistered{false};
  RunOn(app(), [&] {
    dev.UnregisterIoDevice([&] { unregistered.store(true); });
    EXPECT_EQ(dev.GetIoChannel(), nullptr) << "new channels refused while unregistering";
  });
  RunOn(app(), [] {});
  EXPECT_FALSE(unregistered.load()) << "done ran while a channel was still held";
  RunOn(second(), [&] { ch->Put(); });
  EXPECT_TRUE(Eventually([&] { return unregistered.load(); }));
  EXPECT_EQ(dev.destroyed.load(), 1);
}

TEST_F(IoChannelTest, FailedContextCreationGivesNoChannel) {
  CountingDevice dev;
  dev.fail_create = true;
  dev.RegisterIoDevice("failing");
  RunOn(app(), [&] { EXPECT_EQ(dev.GetIoChannel(), nullptr); });
  RunAsync(app(), [&](auto finish) { dev.UnregisterIoDevice(finish); });
}

TEST_F(IoChannelTest, UnregisteredDeviceGivesNoChannel) {
  CountingDevice never_registered;
  RunOn(app(), [&] { EXPECT_EQ(never_registered.GetIoChannel(), nullptr); });
}

}  // namespace
}  // namespace bdevkit

// Hot remove with I/O in flight, and reset.
#include <cerrno>
#include <vector>

#include "absl/time/clock.h"
#include "bdev/core/bdev_io_pool.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

class RemoveResetTest : public CoreTest {};

TEST_F(RemoveResetTest, HotRemoveWithIoInFlight) {
  TestBdev* b = Create(Props("H"));
  ASSERT_NE(b, nullptr);
  bool destructed = false;
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  std::vector<BdevEvent> events;
  Thread* event_thread = nullptr;
  // The descriptor lives on a second thread: the event must arrive there.
  auto t = Runtime::CreateThread("io_thread");
  ASSERT_TRUE(t.ok());
  Thread* io_thread = *t;
  char buf[3][512];
  IoResult r[3];
  RunOn(io_thread, [&] {
    b->destructed = &destructed;
    b->mode = TestBdev::Mode::kHold;
    auto d = OpenBdev("H", true, [&](BdevEvent e) {
      events.push_back(e);
      event_thread = Thread::Current();
    });
    ASSERT_TRUE(d.ok());
    desc = std::move(*d);
    ch = desc->GetIoChannel();
    ASSERT_NE(ch, nullptr);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(desc->Read(ch, buf[i], i, 1, OnIoDone, &r[i]), 0);
  });
  absl::Status unregistered = absl::UnknownError("pending");
  bool unregister_done = false;
  RunOnApp([&] {
    UnregisterBdev("H", [&](absl::Status st) {
      unregistered = st;
      unregister_done = true;
    });
  });
  ASSERT_TRUE(WaitFor([&] { return !events.empty(); }));
  RunOn(io_thread, [&] {
    EXPECT_EQ(events[0], BdevEvent::kRemove);
    EXPECT_EQ(event_thread, io_thread);
    // New I/O and opens fail; nothing was torn down under the in-flight I/O.
    EXPECT_EQ(desc->Read(ch, buf[0], 0, 1, OnIoDone, nullptr), -ENODEV);
    EXPECT_EQ(OpenBdev("H", false).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE(destructed);
    EXPECT_EQ(b->held.size(), 3u);
    // The module completes the outstanding I/O normally.
    b->ReleaseHeld();
    for (auto& res : r) {
      EXPECT_EQ(res.calls, 1);
      EXPECT_TRUE(res.status.ok());
    }
    EXPECT_FALSE(destructed);  // the descriptor is still open
    ch->Put();
    desc.reset();
  });
  ASSERT_TRUE(WaitFor([&] { return unregister_done; }));
  EXPECT_TRUE(unregistered.ok());
  EXPECT_TRUE(destructed);
  EXPECT_EQ(FindBdev("H"), nullptr);
  bool not_found = false;
  RunOnApp(
      [&] { UnregisterBdev("H", [&](absl::Status st) { not_found = absl::IsNotFound(st); }); });
  EXPECT_TRUE(WaitFor([&] { return not_found; }));
}

// A user that drops its channel and descriptor as soon as kRemove arrives, with I/O
// still in flight: the core keeps what the I/O needs until the module completes it.
TEST_F(RemoveResetTest, CloseOnRemoveWithIoStillInFlight) {
  TestBdev* b = Create(Props("HC"));
  ASSERT_NE(b, nullptr);
  bool destructed = false;
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  char buf[4][512];
  IoResult r[4];
  RunOnApp([&] {
    b->destructed = &destructed;
    b->mode = TestBdev::Mode::kHold;
    auto d = OpenBdev("HC", false, [&](BdevEvent e) {
      if (e != BdevEvent::kRemove) return;
      ch->Put();
      desc.reset();
    });
    ASSERT_TRUE(d.ok());
    desc = std::move(*d);
    ch = desc->GetIoChannel();
    for (int i = 0; i < 4; ++i) ASSERT_EQ(desc->Read(ch, buf[i], i, 1, OnIoDone, &r[i]), 0);
  });
  bool unregistered = false;
  RunOnApp([&] { UnregisterBdev("HC", [&](absl::Status st) { unregistered = st.ok(); }); });
  ASSERT_TRUE(WaitFor([&] { return desc == nullptr; }));
  absl::SleepFor(absl::Milliseconds(10));
  RunOnApp([&] {
    EXPECT_FALSE(destructed);  // the held I/O still pins the channel
    EXPECT_EQ(b->held.size(), 4u);
    b->ReleaseHeld();
    for (auto& res : r) EXPECT_EQ(res.calls, 1);
  });
  ASSERT_TRUE(WaitFor([&] { return unregistered; }));
  EXPECT_TRUE(destructed);
}

TEST_F(RemoveResetTest, ResetCancelsQueuedIoRejectsNewIoAndCompletes) {
  auto p = Props("RS");
  p.required_alignment = 4096;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  const int in_backend = core::kBounceBufCount;
  const int queued = 2;
  std::vector<unsigned char> store((in_backend + queued) * 512 + 8);
  std::vector<IoResult> res(in_backend + queued);
  IoResult reset, late;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    auto d = OpenBdev("RS", true);
    ASSERT_TRUE(d.ok());
    desc = std::move(*d);
    ch = desc->GetIoChannel();
    // Misaligned writes: the first ones take every bounce buffer, the rest queue in
    // the layer.
    for (int i = 0; i < in_backend + queued; ++i) {
      ASSERT_EQ(desc->Write(ch, store.data() + 1 + i * 512, i, 1, OnIoDone, &res[i]), 0);
    }
    ASSERT_EQ(b->log.size(), static_cast<size_t>(in_backend));
    ASSERT_EQ(desc->Reset(ch, OnIoDone, &reset), 0);
  });
  // The backend got the reset (and aborted what it held); the queued ones were
  // cancelled by the layer without reaching it.
  ASSERT_TRUE(WaitFor([&] { return b->resets == 1; }));
  RunOnApp([&] {
    for (int i = in_backend; i < in_backend + queued; ++i) {
      EXPECT_EQ(res[i].calls, 1);
      EXPECT_EQ(res[i].status.error, -ECANCELED);
    }
    for (int i = 0; i < in_backend; ++i) EXPECT_EQ(res[i].status.error, -EIO);
    EXPECT_EQ(b->log.size(), static_cast<size_t>(in_backend + 1));  // + the reset
    EXPECT_EQ(reset.calls, 0);  // the backend still holds the reset
    char buf[512];
    EXPECT_EQ(desc->Read(ch, buf, 0, 1, OnIoDone, &late), -EAGAIN);
    EXPECT_EQ(desc->Reset(ch, OnIoDone, &late), -EAGAIN);
    b->ReleaseHeld();
  });
  ASSERT_TRUE(WaitFor([&] { return reset.calls == 1; }));
  EXPECT_TRUE(reset.status.ok());
  std::vector<unsigned char> buf(4096 * 2);
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kInline;
    EXPECT_EQ(desc->Read(ch, buf.data(), 0, 1, OnIoDone, &late), 0);  // unfrozen
  });
  ASSERT_TRUE(WaitFor([&] { return late.calls == 1; }));
  RunOnApp([&] {
    ch->Put();
    desc.reset();
  });
}

TEST_F(RemoveResetTest, ResetWithoutBackendSupportWaitsForOutstandingIo) {
  TestBdev* b = Create(Props("RD"));
  ASSERT_NE(b, nullptr);
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  char buf[2][512];
  IoResult r[2], reset;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    b->supports_reset = false;
    auto d = OpenBdev("RD", false);
    ASSERT_TRUE(d.ok());
    desc = std::move(*d);
    ch = desc->GetIoChannel();
    for (int i = 0; i < 2; ++i) ASSERT_EQ(desc->Read(ch, buf[i], i, 1, OnIoDone, &r[i]), 0);
    ASSERT_EQ(desc->Reset(ch, OnIoDone, &reset), 0);
  });
  absl::SleepFor(absl::Milliseconds(20));
  RunOnApp([&] {
    EXPECT_EQ(reset.calls, 0);  // two reads still outstanding
    EXPECT_EQ(b->resets, 0);
    b->ReleaseHeld();
    EXPECT_TRUE(r[0].status.ok());
  });
  ASSERT_TRUE(WaitFor([&] { return reset.calls == 1; }));
  EXPECT_TRUE(reset.status.ok());
  IoStats stats = CollectStats(*b);
  EXPECT_EQ(stats.num_reset_ops, 1u);
  RunOnApp([&] {
    ch->Put();
    desc.reset();
  });
}

TEST_F(RemoveResetTest, StatsAndResetSpanEveryThreadsChannel) {
  TestBdev* b = Create(Props("MT"));
  ASSERT_NE(b, nullptr);
  auto t = Runtime::CreateThread("second");
  ASSERT_TRUE(t.ok());
  Thread* other = *t;
  std::unique_ptr<BdevDesc> d1, d2;
  IoChannel *c1 = nullptr, *c2 = nullptr;
  char buf[2][512];
  IoResult r1, r2, reset, during;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kPoller;
    d1 = std::move(*OpenBdev("MT", false));
    c1 = d1->GetIoChannel();
    ASSERT_EQ(d1->Read(c1, buf[0], 0, 1, OnIoDone, &r1), 0);
  });
  RunOn(other, [&] {
    d2 = std::move(*OpenBdev("MT", false));
    c2 = d2->GetIoChannel();
    ASSERT_NE(c2, c1);  // a channel per thread
    ASSERT_EQ(d2->Read(c2, buf[1], 1, 1, OnIoDone, &r2), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r1.calls == 1 && r2.calls == 1; }));
  IoStats stats = CollectStats(*b);
  EXPECT_EQ(stats.num_read_ops, 2u);  // one from each thread's channel

  // A reset started on one thread freezes the other thread's channel too.
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    ASSERT_EQ(d1->Reset(c1, OnIoDone, &reset), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return b->resets == 1; }));
  RunOn(other, [&] { EXPECT_EQ(d2->Read(c2, buf[1], 1, 1, OnIoDone, &during), -EAGAIN); });
  RunOnApp([&] { b->ReleaseHeld(); });
  ASSERT_TRUE(WaitFor([&] { return reset.calls == 1; }));
  RunOn(other, [&] {
    b->mode = TestBdev::Mode::kInline;
    EXPECT_EQ(d2->Read(c2, buf[1], 1, 1, OnIoDone, &during), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return during.calls == 1; }));
  RunOn(other, [&] {
    c2->Put();
    d2.reset();
  });
  RunOnApp([&] {
    c1->Put();
    d1.reset();
  });
}

}  // namespace
}  // namespace bdevkit::test

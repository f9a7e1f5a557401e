// QoS in the I/O path over the real runtime: throttling and release in order, limits
// changed while I/O waits, split I/O counted once, reset and hot remove completing
// throttled I/O, channels joining and leaving, bad input. Timing bounds are generous
// (the machine is shared); the exact arithmetic is in qos_tokens_test.cc.
#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "bdev/core/bdev_channel.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

struct Ordered {
  std::vector<int>* order;
  int index;
  IoStatus status;
  int calls = 0;
  static void Done(void* arg, IoStatus st) {
    auto* o = static_cast<Ordered*>(arg);
    o->order->push_back(o->index);
    o->status = st;
    ++o->calls;
  }
};

class QosTest : public CoreTest {
 protected:
  void TearDown() override {
    RunOnApp([&] {
      if (ch_ != nullptr) ch_->Put();
      desc_.reset();
    });
    CoreTest::TearDown();
  }

  absl::Status SetLimits(const std::string& name, const QosLimitsUpdate& update) {
    absl::Status st = absl::UnknownError("pending");
    bool done = false;
    RunOnApp([&] {
      SetQosLimits(name, update, [&](absl::Status s) {
        st = s;
        done = true;
      });
    });
    if (!WaitFor([&] { return done; })) return absl::DeadlineExceededError("no answer");
    return st;
  }
  static QosLimitsUpdate Iops(uint64_t n) {
    QosLimitsUpdate u;
    u.rw_ios_per_sec = n;
    return u;
  }
  void Open(const std::string& name) {
    RunOnApp([&] {
      auto d = OpenBdev(name, true);
      ASSERT_TRUE(d.ok()) << d.status();
      desc_ = std::move(*d);
      ch_ = desc_->GetIoChannel();
      ASSERT_NE(ch_, nullptr);
    });
  }
  // Submits n one-block reads on the app thread, recording completion order.
  void SubmitReads(int n, std::vector<Ordered>& ios, std::vector<int>& order) {
    ios.assign(n, Ordered{&order, 0, {}});
    RunOnApp([&] {
      for (int i = 0; i < n; ++i) {
        ios[i].index = i;
        ASSERT_EQ(desc_->Read(ch_, buf_, i, 1, Ordered::Done, &ios[i]), 0);
      }
    });
  }
  core::QosChannel* QosOf(IoChannel* ch) { return ch->ctx<BdevChannel>().qos; }

  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
  char buf_[512] = {};
};

TEST_F(QosTest, NoLimitMeansNoAdmissionStage) {
  ASSERT_NE(Create(Props("Q0")), nullptr);
  Open("Q0");
  RunOnApp([&] { EXPECT_EQ(QosOf(ch_), nullptr); });
  ASSERT_TRUE(SetLimits("Q0", Iops(1000)).ok());
  RunOnApp([&] {
    EXPECT_NE(QosOf(ch_), nullptr);
    EXPECT_EQ(GetQosLimits(*FindBdev("Q0")).rw_ios_per_sec, 1000u);
  });
  ASSERT_TRUE(SetLimits("Q0", Iops(0)).ok());
  RunOnApp([&] {
    EXPECT_EQ(QosOf(ch_), nullptr);
    EXPECT_FALSE(GetQosLimits(*FindBdev("Q0")).any());
  });
}

TEST_F(QosTest, ThrottlesAtTheRateAndKeepsOrder) {
  ASSERT_NE(Create(Props("Q1")), nullptr);
  Open("Q1");
  ASSERT_TRUE(SetLimits("Q1", Iops(100)).ok());
  const absl::Time start = absl::Now();
  std::vector<Ordered> ios;
  std::vector<int> order;
  SubmitReads(30, ios, order);
  ASSERT_TRUE(WaitFor([&] { return order.size() == 30; }));
  const absl::Duration took = absl::Now() - start;
  // 30 reads at 100/s: one from the initial bank, the rest need 0.29 s of tokens. No
  // machine can be faster; 10 s is the fixture's own limit.
  EXPECT_GE(took, absl::Milliseconds(250));
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(order[i], i);
    EXPECT_TRUE(ios[i].status.ok());
  }
}

// An I/O the core splits counts once against the limit, as the caller submitted it.
TEST_F(QosTest, SplitIoCountsOnce) {
  auto p = Props("QS");
  p.max_transfer_blocks = 1;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("QS");
  // One I/O per second; the first comes from the bank at once. Counted per child the
  // 8-block read would need 8 tokens, i.e. 7 s.
  ASSERT_TRUE(SetLimits("QS", Iops(1)).ok());
  std::vector<char> big(8 * 512);
  IoResult r;
  const absl::Time start = absl::Now();
  RunOnApp([&] { ASSERT_EQ(desc_->Read(ch_, big.data(), 0, 8, OnIoDone, &r), 0); });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  RunOnApp([&] { EXPECT_EQ(b->log.size(), 8u); });  // it was split
}

TEST_F(QosTest, ByteLimitCountsSplitIoByItsSize) {
  auto p = Props("QB", 4096);
  p.max_transfer_blocks = 8;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("QB");
  QosLimitsUpdate u;
  u.r_mbytes_per_sec = 1;
  ASSERT_TRUE(SetLimits("QB", u).ok());
  // 1 MiB read (256 children of 4 KiB): starts on the bank, leaves a 1 MiB debt, so
  // the next read waits about a second. The backend completes inline, so whether an
  // I/O was admitted shows at once in its log: it sees the first children during
  // the submit call itself.
  std::vector<char> big(2048 * 512);
  IoResult first, second, w;
  RunOnApp([&] { ASSERT_EQ(desc_->Read(ch_, big.data(), 0, 2048, OnIoDone, &first), 0); });
  ASSERT_TRUE(WaitFor([&] { return first.calls == 1; }));
  const absl::Time start = absl::Now();
  RunOnApp([&] {
    ASSERT_EQ(b->log.size(), 2048u / 8);
    ASSERT_EQ(desc_->Read(ch_, big.data(), 0, 1, OnIoDone, &second), 0);
    EXPECT_EQ(b->log.size(), 2048u / 8);  // held back by the debt
    // Writes are not under a read limit: one more megabyte goes at once.
    ASSERT_EQ(desc_->Write(ch_, big.data(), 0, 2048, OnIoDone, &w), 0);
    EXPECT_GT(b->log.size(), 2048u / 8);
  });
  ASSERT_TRUE(WaitFor([&] { return second.calls == 1 && w.calls == 1; }));
  // Tokens for the debt cannot come sooner, however fast the machine.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(700));
}

TEST_F(QosTest, LiftingOrRaisingTheLimitStartsWaitingIo) {
  ASSERT_NE(Create(Props("QL")), nullptr);
  Open("QL");
  ASSERT_TRUE(SetLimits("QL", Iops(1)).ok());
  std::vector<Ordered> ios;
  std::vector<int> order;
  SubmitReads(6, ios, order);
  ASSERT_TRUE(WaitFor([&] { return order.size() == 1; }));  // the bank's one
  RunOnApp([&] { EXPECT_EQ(order.size(), 1u); });
  ASSERT_TRUE(SetLimits("QL", Iops(1'000'000)).ok());
  ASSERT_TRUE(WaitFor([&] { return order.size() == 6; }));
  // Back down: at most the new bank and the channel's reserve go at once, then 1/s.
  ASSERT_TRUE(SetLimits("QL", Iops(1)).ok());
  SubmitReads(4, ios, order);
  ASSERT_TRUE(WaitFor([&] { return order.size() >= 6 + 1; }));
  RunOnApp([&] { EXPECT_LE(order.size(), 6u + 2); });
  ASSERT_TRUE(SetLimits("QL", Iops(0)).ok());  // lifted: all go
  ASSERT_TRUE(WaitFor([&] { return order.size() == 10; }));
  for (const Ordered& o : ios) EXPECT_TRUE(o.status.ok());
}

TEST_F(QosTest, UnlimitedTypesDoNotWait) {
  ASSERT_NE(Create(Props("QU")), nullptr);
  Open("QU");
  ASSERT_TRUE(SetLimits("QU", Iops(1)).ok());
  std::vector<Ordered> ios;
  std::vector<int> order;
  SubmitReads(3, ios, order);
  IoResult flush, unmap;
  RunOnApp([&] {
    ASSERT_EQ(desc_->Flush(ch_, 0, 1, OnIoDone, &flush), 0);
    ASSERT_EQ(desc_->Unmap(ch_, 0, 1, OnIoDone, &unmap), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return flush.calls == 1 && unmap.calls == 1; }));
  RunOnApp([&] { EXPECT_LE(order.size(), 2u); });  // reads still waiting
  ASSERT_TRUE(SetLimits("QU", Iops(0)).ok());
  ASSERT_TRUE(WaitFor([&] { return order.size() == 3; }));
}

TEST_F(QosTest, ResetCancelsThrottledIo) {
  ASSERT_NE(Create(Props("QR")), nullptr);
  Open("QR");
  ASSERT_TRUE(SetLimits("QR", Iops(1)).ok());
  std::vector<Ordered> ios;
  std::vector<int> order;
  SubmitReads(5, ios, order);
  ASSERT_TRUE(WaitFor([&] { return order.size() == 1; }));
  IoResult reset;
  RunOnApp([&] { ASSERT_EQ(desc_->Reset(ch_, OnIoDone, &reset), 0); });
  ASSERT_TRUE(WaitFor([&] { return reset.calls == 1 && order.size() == 5; }));
  EXPECT_TRUE(reset.status.ok());
  EXPECT_TRUE(ios[0].status.ok());
  for (int i = 1; i < 5; ++i) EXPECT_EQ(ios[i].status.error, -ECANCELED) << i;
  // The limit still applies afterwards.
  RunOnApp([&] { EXPECT_NE(QosOf(ch_), nullptr); });
}

TEST_F(QosTest, HotRemoveFailsThrottledIo) {
  bool destructed = false;
  TestBdev* b = Create(Props("QH"));
  ASSERT_NE(b, nullptr);
  RunOnApp([&] { b->destructed = &destructed; });
  Open("QH");
  ASSERT_TRUE(SetLimits("QH", Iops(1)).ok());
  std::vector<Ordered> ios;
  std::vector<int> order;
  SubmitReads(5, ios, order);
  ASSERT_TRUE(WaitFor([&] { return order.size() == 1; }));  // the bank's one
  bool unregistered = false;
  RunOnApp([&] { UnregisterBdev("QH", [&](absl::Status st) { unregistered = st.ok(); }); });
  // Without waiting for tokens (4 s at this limit).
  const absl::Time start = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return order.size() == 5; }));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(3500));
  for (int i = 1; i < 5; ++i) EXPECT_EQ(ios[i].status.error, -ENODEV) << i;
  RunOnApp([&] {
    ch_->Put();
    ch_ = nullptr;
    desc_.reset();
  });
  ASSERT_TRUE(WaitFor([&] { return unregistered; }));
  EXPECT_TRUE(destructed);
}

// Resubmits a read from every completion until stopped; counts completions.
struct Loop {
  BdevDesc* desc = nullptr;
  IoChannel* ch = nullptr;
  char buf[512] = {};
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::atomic<int> inflight{0};  // read by the test thread
  static void Done(void* arg, IoStatus) {
    auto* l = static_cast<Loop*>(arg);
    l->done.fetch_add(1);
    --l->inflight;
    if (!l->stop.load()) l->Submit();
  }
  void Submit() {
    if (desc->Read(ch, buf, 0, 1, Done, this) == 0) ++inflight;
  }
};

// Two threads' channels share one limit; a channel made after the limit was set joins
// it; channels leaving the budget are freed (ASan's leak check).
TEST_F(QosTest, ThreadsShareOneLimit) {
  ASSERT_NE(Create(Props("QT")), nullptr);
  ASSERT_TRUE(SetLimits("QT", Iops(400)).ok());
  std::vector<Thread*> threads;
  for (const char* name : {"qos_a", "qos_b"}) {
    auto t = Runtime::CreateThread(name);
    ASSERT_TRUE(t.ok());
    threads.push_back(*t);
  }
  std::unique_ptr<BdevDesc> descs[2];
  Loop loops[2];
  // The window starts before the first submit: I/O done while the second thread is
  // still being set up counts in the total (slow under TSan, that is a while).
  const absl::Time start = absl::Now();
  for (int i = 0; i < 2; ++i) {
    RunOn(threads[i], [&] {
      auto d = OpenBdev("QT", false);
      ASSERT_TRUE(d.ok());
      descs[i] = std::move(*d);
      loops[i].desc = descs[i].get();
      loops[i].ch = descs[i]->GetIoChannel();
      ASSERT_NE(QosOf(loops[i].ch), nullptr);  // joined at creation
      for (int q = 0; q < 8; ++q) loops[i].Submit();
    });
  }
  absl::SleepFor(absl::Seconds(1));
  const int total = loops[0].done.load() + loops[1].done.load();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  // At most the bank plus what the rate made (plus what each channel keeps in
  // reserve); at least a good part of it on a busy machine.
  // The upper bound is exact (tokens cannot come sooner); the lower ones only say both
  // threads made progress, even on a machine too busy to keep up.
  EXPECT_LE(total, 400 * secs + 16) << secs << " s";
  EXPECT_GE(total, 400 * 0.25);
  EXPECT_GT(loops[0].done.load(), 10);
  EXPECT_GT(loops[1].done.load(), 10);
  for (int i = 0; i < 2; ++i) {
    loops[i].stop = true;
  }
  ASSERT_TRUE(SetLimits("QT", Iops(0)).ok());  // let the waiting ones drain
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor([&] { return loops[i].inflight.load() == 0; }));
    RunOn(threads[i], [&] {
      loops[i].ch->Put();
      descs[i].reset();
    });
  }
}

TEST_F(QosTest, BadInputChangesNothing) {
  ASSERT_NE(Create(Props("QX")), nullptr);
  ASSERT_TRUE(SetLimits("QX", Iops(5000)).ok());
  EXPECT_EQ(SetLimits("nope", Iops(10)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SetLimits("QX", QosLimitsUpdate{}).code(), absl::StatusCode::kInvalidArgument);
  QosLimitsUpdate too_big;
  too_big.rw_ios_per_sec = 7;
  too_big.w_mbytes_per_sec = kMaxQosLimit + 1;
  absl::Status st = SetLimits("QX", too_big);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("w_mbytes_per_sec"), std::string_view::npos) << st;
  RunOnApp([&] {
    QosLimits l = GetQosLimits(*FindBdev("QX"));
    EXPECT_EQ(l.rw_ios_per_sec, 5000u);
    EXPECT_EQ(l.w_mbytes_per_sec, 0u);
  });
  // Partial updates keep the other limits.
  QosLimitsUpdate w;
  w.w_mbytes_per_sec = 3;
  ASSERT_TRUE(SetLimits("QX", w).ok());
  RunOnApp([&] {
    QosLimits l = GetQosLimits(*FindBdev("QX"));
    EXPECT_EQ(l.rw_ios_per_sec, 5000u);
    EXPECT_EQ(l.w_mbytes_per_sec, 3u);
  });
}

}  // namespace
}  // namespace bdevkit::test

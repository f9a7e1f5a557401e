// The I/O path: submission contract, BdevIo exhaustion and waits, splitting, bounce
// buffers, iostat.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <numeric>
#include <vector>

#include "bdev/core/bdev_io_pool.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_bdev.h"

namespace bdevkit::test {
namespace {

class IoTest : public CoreTest {
 protected:
  void Open(const std::string& name, bool writable = true) {
    RunOnApp([&] {
      auto d = OpenBdev(name, writable);
      ASSERT_TRUE(d.ok()) << d.status();
      desc_ = std::move(*d);
      ch_ = desc_->GetIoChannel();
      ASSERT_NE(ch_, nullptr);
    });
  }
  void TearDown() override {
    RunOnApp([&] {
      if (ch_ != nullptr) ch_->Put();
      desc_.reset();
    });
    CoreTest::TearDown();
  }
  std::vector<unsigned char> Pattern(size_t n, unsigned seed) {
    std::vector<unsigned char> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i * 7 + seed);
    return v;
  }

  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
};

TEST_F(IoTest, CallbackNeverRunsBeforeSubmitReturns) {
  TestBdev* b = Create(Props("N"));
  ASSERT_NE(b, nullptr);
  Open("N");
  bool submitting = false;
  IoResult r;
  r.submitting = &submitting;
  char buf[512];
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kInline;  // the backend completes inside SubmitIo
    submitting = true;
    ASSERT_EQ(desc_->Read(ch_, buf, 0, 1, OnIoDone, &r), 0);
    submitting = false;
    EXPECT_EQ(r.calls, 0);  // deferred to the layer's poller
  });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
  EXPECT_FALSE(r.during_submit);
  EXPECT_TRUE(r.status.ok());
}

// Resubmitting from the callback (what bdevperf does) must not recurse.
struct Chain {
  BdevDesc* desc;
  IoChannel* ch;
  char buf[512];
  int left = 200;
  int depth = 0;
  int max_depth = 0;
  static void Done(void* arg, IoStatus) {
    auto* c = static_cast<Chain*>(arg);
    c->max_depth = std::max(c->max_depth, ++c->depth);
    if (--c->left > 0) {
      EXPECT_EQ(c->desc->Read(c->ch, c->buf, 0, 1, Done, c), 0);
    }
    --c->depth;
  }
};

TEST_F(IoTest, ResubmitFromCallbackDoesNotRecurse) {
  ASSERT_NE(Create(Props("N2")), nullptr);
  Open("N2");
  Chain c{desc_.get(), ch_, {}};
  RunOnApp([&] { ASSERT_EQ(desc_->Read(ch_, c.buf, 0, 1, Chain::Done, &c), 0); });
  ASSERT_TRUE(WaitFor([&] { return c.left == 0; }));
  EXPECT_EQ(c.max_depth, 1);
}

TEST_F(IoTest, InvalidRequestsAreRejected) {
  ASSERT_NE(Create(Props("V", 100)), nullptr);
  Open("V", /*writable=*/false);
  char buf[1024];
  RunOnApp([&] {
    EXPECT_EQ(desc_->Read(ch_, buf, 99, 2, OnIoDone, nullptr), -EINVAL);  // past the end
    EXPECT_EQ(desc_->Read(ch_, buf, UINT64_MAX, 2, OnIoDone, nullptr), -EINVAL);
    EXPECT_EQ(desc_->Read(ch_, buf, 0, 0, OnIoDone, nullptr), -EINVAL);
    EXPECT_EQ(desc_->Write(ch_, buf, 0, 1, OnIoDone, nullptr), -EINVAL);  // read-only desc
    iovec iov{buf, 100};
    EXPECT_EQ(desc_->Readv(ch_, &iov, 1, 0, 1, OnIoDone, nullptr), -EINVAL);  // length
  });
}

TEST_F(IoTest, WritesMustCoverWholeWriteUnits) {
  auto p = Props("WU", 64);
  p.write_unit_size = 4;
  ASSERT_NE(Create(p), nullptr);
  Open("WU");
  std::vector<unsigned char> buf(8 * 512);
  IoResult r;
  RunOnApp([&] {
    EXPECT_EQ(desc_->Write(ch_, buf.data(), 2, 4, OnIoDone, nullptr), -EINVAL);
    EXPECT_EQ(desc_->Write(ch_, buf.data(), 0, 3, OnIoDone, nullptr), -EINVAL);
    EXPECT_EQ(desc_->Write(ch_, buf.data(), 4, 8, OnIoDone, &r), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
}

TEST_F(IoTest, ExhaustedPoolReturnsEnomemAndQueueIoWaitFires) {
  TestBdev* b = Create(Props("E"));
  ASSERT_NE(b, nullptr);
  Open("E");
  static char buf[512];
  int submitted = 0;
  IoWaitEntry entry;
  int woken = 0;
  entry.cb = [](void* arg) { ++*static_cast<int*>(arg); };
  entry.cb_arg = &woken;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    // BdevIo are available: nothing to wait for.
    EXPECT_EQ(desc_->QueueIoWait(ch_, &entry), -EINVAL);
    int rc;
    while ((rc = desc_->Read(ch_, buf, 0, 1, OnIoDone, nullptr)) == 0) ++submitted;
    EXPECT_EQ(rc, -ENOMEM);
    EXPECT_EQ(desc_->QueueIoWait(ch_, &entry), 0);
  });
  EXPECT_EQ(submitted, static_cast<int>(core::kBdevIoPoolSize - core::kBdevIoChildReserve));
  RunOnApp([&] {
    EXPECT_EQ(woken, 0);
    // Complete one: the waiter runs once a BdevIo is back.
    auto [io, st] = b->held.back();
    b->held.pop_back();
    CompleteIo(*io, st);
    EXPECT_EQ(woken, 1);
    b->ReleaseHeld();
  });
}

// A freed BdevIo goes to whoever waits in QueueIoWait before the completing caller
// can resubmit from its callback; otherwise a busy submitter on the same thread could
// starve a waiter forever.
struct Greedy {
  BdevDesc* desc;
  IoChannel* ch;
  char buf[512];
  bool stop = false;
  int last_rc = 1;
  static void Done(void* arg, IoStatus) {
    auto* g = static_cast<Greedy*>(arg);
    if (!g->stop) g->last_rc = g->desc->Read(g->ch, g->buf, 0, 1, Done, g);
  }
};

TEST_F(IoTest, WaitersGetAFreedIoBeforeTheCallbackResubmits) {
  TestBdev* b = Create(Props("F"));
  ASSERT_NE(b, nullptr);
  Open("F");
  Greedy greedy{desc_.get(), ch_, {}};
  struct Waiter {
    Greedy* g;
    int rc = 1;
  } waiter{&greedy};
  IoWaitEntry entry;
  entry.cb = [](void* arg) {
    auto* w = static_cast<Waiter*>(arg);
    w->rc = w->g->desc->Read(w->g->ch, w->g->buf, 0, 1, OnIoDone, nullptr);
  };
  entry.cb_arg = &waiter;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    while (desc_->Read(ch_, greedy.buf, 0, 1, Greedy::Done, &greedy) == 0) {
    }
    ASSERT_EQ(desc_->QueueIoWait(ch_, &entry), 0);
    auto [io, st] = b->held.back();
    b->held.pop_back();
    CompleteIo(*io, st);
    EXPECT_EQ(waiter.rc, 0) << "the waiter did not get the freed BdevIo";
    EXPECT_EQ(greedy.last_rc, -ENOMEM) << "the resubmit jumped the queue";
    greedy.stop = true;
    b->ReleaseHeld();
  });
}

TEST_F(IoTest, SplitsOnOptimalBoundary) {
  auto p = Props("S", 64);
  p.optimal_io_boundary = 8;
  p.split_on_optimal_io_boundary = true;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("S");
  auto data = Pattern(20 * 512, 1);
  IoResult r;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kPoller;
    ASSERT_EQ(desc_->Write(ch_, data.data(), 5, 20, OnIoDone, &r), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r.calls > 0; }));
  RunOnApp([&] {
    EXPECT_EQ(r.calls, 1);
    EXPECT_TRUE(r.status.ok());
    ASSERT_EQ(b->log.size(), 4u);
    const uint64_t want[4][2] = {{5, 3}, {8, 8}, {16, 8}, {24, 1}};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(b->log[i].offset_blocks, want[i][0]);
      EXPECT_EQ(b->log[i].num_blocks, want[i][1]);
      ASSERT_EQ(b->log[i].iovs.size(), 1u);
      EXPECT_EQ(b->log[i].iovs[0].iov_base, data.data() + (want[i][0] - 5) * 512);
      EXPECT_EQ(b->log[i].iovs[0].iov_len, want[i][1] * 512);
    }
    EXPECT_EQ(0, std::memcmp(b->data.data() + 5 * 512, data.data(), data.size()));
  });
}

TEST_F(IoTest, SplitsOnMaxTransferCarvingIovecs) {
  auto p = Props("T", 64);
  p.max_transfer_blocks = 4;
  p.max_unmap_blocks = 3;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("T");
  auto data = Pattern(10 * 512, 3);
  iovec iov[3] = {
      {data.data(), 3 * 512}, {data.data() + 3 * 512, 6 * 512}, {data.data() + 9 * 512, 512}};
  IoResult r, u;
  RunOnApp([&] { ASSERT_EQ(desc_->Writev(ch_, iov, 3, 0, 10, OnIoDone, &r), 0); });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
  RunOnApp([&] {
    EXPECT_TRUE(r.status.ok());
    ASSERT_EQ(b->log.size(), 3u);
    EXPECT_EQ(b->log[0].offset_blocks, 0u);
    EXPECT_EQ(b->log[0].num_blocks, 4u);
    ASSERT_EQ(b->log[0].iovs.size(), 2u);  // all of iov0 + the first block of iov1
    EXPECT_EQ(b->log[0].iovs[0].iov_len, 3u * 512);
    EXPECT_EQ(b->log[0].iovs[1].iov_base, data.data() + 3 * 512);
    EXPECT_EQ(b->log[0].iovs[1].iov_len, 512u);
    EXPECT_EQ(b->log[1].offset_blocks, 4u);
    ASSERT_EQ(b->log[1].iovs.size(), 1u);  // the middle of iov1
    EXPECT_EQ(b->log[1].iovs[0].iov_base, data.data() + 4 * 512);
    EXPECT_EQ(b->log[1].iovs[0].iov_len, 4u * 512);
    EXPECT_EQ(b->log[2].offset_blocks, 8u);
    EXPECT_EQ(b->log[2].num_blocks, 2u);
    ASSERT_EQ(b->log[2].iovs.size(), 2u);
    EXPECT_EQ(b->log[2].iovs[1].iov_base, data.data() + 9 * 512);
    EXPECT_EQ(0, std::memcmp(b->data.data(), data.data(), data.size()));
    b->log.clear();
    ASSERT_EQ(desc_->Unmap(ch_, 0, 10, OnIoDone, &u), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return u.calls == 1; }));
  RunOnApp([&] {
    ASSERT_EQ(b->log.size(), 4u);  // 3 + 3 + 3 + 1
    EXPECT_EQ(b->log[3].offset_blocks, 9u);
    EXPECT_EQ(b->log[3].num_blocks, 1u);
  });
}

TEST_F(IoTest, SplitParentCompletesOnceWithFirstError) {
  auto p = Props("F", 64);
  p.max_transfer_blocks = 2;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("F");
  std::vector<unsigned char> buf(16 * 512);
  IoResult r;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kPoller;
    b->fail_if = [](const BdevIo& io) { return io.offset_blocks == 4; };
    ASSERT_EQ(desc_->Read(ch_, buf.data(), 0, 16, OnIoDone, &r), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r.calls > 0; }));
  RunOnApp([&] {});  // let any stray completion run
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.status.error, -EIO);
}

TEST_F(IoTest, SplitChildrenUseTheReserveWhenApplicationsGetEnomem) {
  auto p = Props("SW", 64);
  p.max_transfer_blocks = 1;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("SW");
  static unsigned char buf[16 * 512];
  std::deque<IoResult> res;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    // Split parents until the application is told -ENOMEM.
    int rc;
    do {
      res.emplace_back();
      rc = desc_->Read(ch_, buf, 0, 16, OnIoDone, &res.back());
    } while (rc == 0);
    EXPECT_EQ(rc, -ENOMEM);
    res.pop_back();
    // Every admitted parent still got its children in flight (8 each), the last ones
    // from the reserve that applications cannot take.
    EXPECT_GT(res.size(), 100u);
    EXPECT_EQ(b->log.size(), res.size() * 8);
  });
  ASSERT_TRUE(WaitFor([&] {
    b->ReleaseHeld();
    return std::all_of(res.begin(), res.end(), [](const IoResult& r) { return r.calls == 1; });
  }));
  RunOnApp([&] {
    for (const auto& r : res) EXPECT_TRUE(r.status.ok());
    EXPECT_EQ(b->log.size(), res.size() * 16);
  });
}

TEST_F(IoTest, BounceBuffersFixMisalignedBuffersBothWays) {
  auto p = Props("B", 1024);
  p.required_alignment = 4096;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("B");
  // 300 blocks (150 KiB) does not fit one bounce buffer: bounced piece by piece.
  const size_t n = 300 * 512;
  std::vector<unsigned char> src_store(n + 64), dst_store(n + 64);
  unsigned char* src = src_store.data() + 1;  // deliberately misaligned
  unsigned char* dst = dst_store.data() + 3;
  auto pattern = Pattern(n, 9);
  std::memcpy(src, pattern.data(), n);
  IoResult w, r;
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kPoller;
    ASSERT_EQ(desc_->Write(ch_, src, 10, 300, OnIoDone, &w), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return w.calls == 1; }));
  RunOnApp([&] { ASSERT_EQ(desc_->Read(ch_, dst, 10, 300, OnIoDone, &r), 0); });
  ASSERT_TRUE(WaitFor([&] { return r.calls == 1; }));
  RunOnApp([&] {
    EXPECT_TRUE(w.status.ok());
    EXPECT_TRUE(r.status.ok());
    EXPECT_EQ(b->misaligned_seen, 0);
    EXPECT_GE(b->log.size(), 4u);  // 2 pieces each way
    EXPECT_EQ(0, std::memcmp(b->data.data() + 10 * 512, pattern.data(), n));
    EXPECT_EQ(0, std::memcmp(dst, pattern.data(), n));
  });
}

TEST_F(IoTest, BounceWaitsForAFreeBufferInsteadOfFailing) {
  auto p = Props("BW", 1024);
  p.required_alignment = 4096;
  TestBdev* b = Create(p);
  ASSERT_NE(b, nullptr);
  Open("BW");
  const int total = core::kBounceBufCount + 3;
  std::vector<unsigned char> store(total * 512 + 8);
  std::vector<IoResult> res(total);
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kHold;
    for (int i = 0; i < total; ++i) {
      store[1 + i * 512] = static_cast<unsigned char>(i + 1);
      ASSERT_EQ(desc_->Write(ch_, store.data() + 1 + i * 512, i, 1, OnIoDone, &res[i]), 0);
    }
  });
  RunOnApp([&] {
    // Only as many reach the backend as there are bounce buffers.
    EXPECT_EQ(b->log.size(), core::kBounceBufCount);
    b->ReleaseHeld();  // frees buffers: the waiters go
    EXPECT_EQ(b->log.size(), static_cast<size_t>(total));
    b->ReleaseHeld();
  });
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(res.begin(), res.end(), [](const IoResult& r) { return r.calls == 1; });
  }));
  RunOnApp([&] {
    for (int i = 0; i < total; ++i) EXPECT_EQ(b->data[i * 512], i + 1);
    EXPECT_EQ(b->misaligned_seen, 0);
  });
}

TEST_F(IoTest, IoStatsCountOpsBytesErrorsAndLatency) {
  TestBdev* b = Create(Props("I"));
  ASSERT_NE(b, nullptr);
  Open("I");
  std::vector<unsigned char> buf(4 * 512);
  IoResult r[5];
  RunOnApp([&] {
    b->mode = TestBdev::Mode::kPoller;
    b->fail_if = [](const BdevIo& io) { return io.offset_blocks == 7; };
    for (int i = 0; i < 3; ++i) ASSERT_EQ(desc_->Read(ch_, buf.data(), i, 2, OnIoDone, &r[i]), 0);
    ASSERT_EQ(desc_->Write(ch_, buf.data(), 0, 1, OnIoDone, &r[3]), 0);
    ASSERT_EQ(desc_->Write(ch_, buf.data(), 7, 1, OnIoDone, &r[4]), 0);
  });
  ASSERT_TRUE(WaitFor([&] { return r[4].calls == 1 && r[2].calls == 1 && r[3].calls == 1; }));
  IoStats stats = CollectStats(*b);
  EXPECT_EQ(stats.num_read_ops, 3u);
  EXPECT_EQ(stats.bytes_read, 3u * 2 * 512);
  EXPECT_EQ(stats.num_write_ops, 1u);
  EXPECT_EQ(stats.bytes_written, 512u);
  EXPECT_EQ(stats.num_errors, 1u);
  EXPECT_EQ(stats.errors_by_type[static_cast<int>(IoType::kWrite)], 1u);
  EXPECT_GT(stats.read_latency_ticks, 0u);
  EXPECT_GE(stats.max_read_latency_ticks, stats.min_read_latency_ticks);
  EXPECT_GT(stats.min_read_latency_ticks, 0u);

  // Counters survive the channel: iostat is cumulative.
  RunOnApp([&] {
    ch_->Put();
    ch_ = nullptr;
  });
  RunOnApp([] {});  // the channel is destroyed by a later message
  stats = CollectStats(*b);
  EXPECT_EQ(stats.num_read_ops, 3u);
  EXPECT_EQ(stats.num_errors, 1u);
}

}  // namespace
}  // namespace bdevkit::test

// The I/O queue pair against the in-memory controller model, stepped by the test:
// data through PRPs (zero copy and bounce), ring wrap and phase flips, CID reuse, the
// software queue, one doorbell per batch, status mapping, timeouts, resubmission after
// a reset.
#include "modules/nvme/driver/qpair.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "bdevkit/runtime.h"
#include "gtest/gtest.h"
#include "modules/nvme/driver/status.h"
#include "tests/unit/modules/nvme/fake_nvme.h"

namespace bdevkit::nvme {
namespace {

using testing::FakeNvme;

struct Done {
  int calls = 0;
  Completion cpl{};
  static void Cb(void* arg, const Completion& c) {
    auto* d = static_cast<Done*>(arg);
    ++d->calls;
    d->cpl = c;
  }
};

class QpairTest : public ::testing::Test {
 protected:
  void Make(uint32_t entries, uint32_t bounce_pages = 64, bool scatter = false,
            bool track_timeouts = false) {
    fake_.AddNamespace(1, 512, 4096);
    dma_ = fake_.MakeDmaSpace(scatter);
    QpairConfig c;
    c.qid = 1;
    c.entries = entries;
    c.max_transfer = std::min<uint32_t>(64 * 1024, bounce_pages * 4096);
    c.bounce_pages = bounce_pages;
    c.track_timeouts = track_timeouts;
    c.ctrlr_epoch = &epoch_;
    auto qp = Qpair::Create(*dma_, c);
    ASSERT_TRUE(qp.ok()) << qp.status();
    qp_ = std::move(*qp);
    Mmio bar = fake_.bar();
    qp_->SetDoorbells(bar.Register(SqTailDoorbell(1, 0)), bar.Register(CqHeadDoorbell(1, 0)));
    fake_.CreateIoQueues(1, qp_->sq_iova(), qp_->cq_iova(), entries);
  }

  // A read/write request of `blocks` 512-byte blocks at `lba` over `iovs`.
  void Rw(Request& r, bool write, uint64_t lba, uint32_t blocks, const iovec* iovs, int iovcnt,
          Done* done) {
    r = Request{};
    r.cmd.opcode = write ? io_op::kWrite : io_op::kRead;
    r.cmd.nsid = 1;
    r.cmd.cdw10 = static_cast<uint32_t>(lba);
    r.cmd.cdw11 = static_cast<uint32_t>(lba >> 32);
    r.cmd.cdw12 = blocks - 1;
    r.iovs = iovs;
    r.iovcnt = iovcnt;
    r.data_len = blocks * 512;
    r.to_device = write;
    r.cb = &Done::Cb;
    r.cb_arg = done;
  }

  // Polls and steps the fake until `pred` or 1000 rounds.
  template <typename Pred>
  void RunUntil(Pred pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) {
      qp_->Poll();
      fake_.Step();
      qp_->Poll();
    }
  }

  // Completes everything: requests live in the test body, so a test that holds
  // completions drains before it returns.
  void Drain() {
    fake_.set_hold(false);
    fake_.ReleaseHeld();
    RunUntil([&] { return qp_->idle(); });
    ASSERT_TRUE(qp_->idle());
  }

  void TearDown() override {
    // A test that failed half-way may leave requests of its (gone) frame in flight:
    // never touch them again.
    if (qp_ != nullptr && !qp_->idle()) {
      ADD_FAILURE() << "test left I/O in flight";
      qp_.release();  // leaked on purpose: completing would write to dead frames
    }
    EXPECT_TRUE(fake_.errors().empty()) << fake_.errors().front();
  }

  FakeNvme fake_;
  std::unique_ptr<DmaSpace> dma_;
  std::atomic<uint32_t> epoch_{0};
  std::unique_ptr<Qpair> qp_;
};

TEST_F(QpairTest, WriteThenReadZeroCopyFromDmaMemory) {
  Make(16);
  auto region = dma_->Allocate(3 * 4096);
  ASSERT_TRUE(region.ok());
  auto* buf = static_cast<uint8_t*>((*region)->vaddr());
  for (int i = 0; i < 3 * 4096; ++i) buf[i] = static_cast<uint8_t>(i * 7);
  // 20 blocks starting 512 bytes into the region: 3 pages, a PRP list.
  iovec w{buf + 512, 20 * 512};
  Request req;
  Done d;
  Rw(req, true, 100, 20, &w, 1, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d.calls == 1; });
  ASSERT_EQ(d.calls, 1);
  EXPECT_TRUE(d.cpl.ok());
  EXPECT_EQ(0, std::memcmp(fake_.ns(1).data.data() + 100 * 512, buf + 512, 20 * 512));
  EXPECT_EQ(qp_->stats().bounced, 0u);

  std::memset(buf, 0, 3 * 4096);
  iovec r{buf + 1024, 20 * 512};
  Done d2;
  Rw(req, false, 100, 20, &r, 1, &d2);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d2.calls == 1; });
  EXPECT_TRUE(d2.cpl.ok());
  EXPECT_EQ(0, std::memcmp(fake_.ns(1).data.data() + 100 * 512, buf + 1024, 20 * 512));
}

TEST_F(QpairTest, HeapBuffersGoThroughBouncePages) {
  Make(16, /*bounce_pages=*/8, /*scatter=*/true);
  std::vector<uint8_t> out(8192 + 1000), in(8192 + 1000, 0);
  std::iota(out.begin(), out.end(), 3);
  // Three pieces PRPs could not describe even in DMA memory (odd lengths).
  iovec w[3] = {{out.data(), 1000}, {out.data() + 1000, 3096}, {out.data() + 4096, 5096 - 1000}};
  Request req;
  Done d;
  Rw(req, true, 7, 16, w, 3, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d.calls == 1; });
  EXPECT_TRUE(d.cpl.ok());
  EXPECT_EQ(qp_->stats().bounced, 1u);
  EXPECT_EQ(qp_->free_bounce_pages(), 8u);
  iovec r[2] = {{in.data(), 512}, {in.data() + 512, 8192 - 512}};
  Done d2;
  Rw(req, false, 7, 16, r, 2, &d2);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d2.calls == 1; });
  EXPECT_TRUE(d2.cpl.ok());
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), 8192));
  EXPECT_EQ(qp_->free_bounce_pages(), 8u);
}

TEST_F(QpairTest, RegisteredUserMemoryIsZeroCopy) {
  Make(16, 8);
  void* mem = std::aligned_alloc(4096, 4 * 4096);
  ASSERT_TRUE(dma_->RegisterMemory(mem, 4 * 4096).ok());
  EXPECT_FALSE(dma_->RegisterMemory(mem, 4096).ok());  // overlaps
  auto* buf = static_cast<uint8_t*>(mem);
  for (int i = 0; i < 4 * 4096; ++i) buf[i] = static_cast<uint8_t>(i * 3);
  iovec w{buf + 512, 3 * 4096};
  Request req;
  Done d;
  Rw(req, true, 40, 24, &w, 1, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d.calls == 1; });
  EXPECT_TRUE(d.cpl.ok());
  EXPECT_EQ(qp_->stats().bounced, 0u);
  EXPECT_EQ(0, std::memcmp(fake_.ns(1).data.data() + 40 * 512, buf + 512, 3 * 4096));
  ASSERT_TRUE(dma_->UnregisterMemory(mem).ok());
  // Unregistered, the same buffer goes through bounce pages again.
  Done d2;
  Rw(req, true, 40, 24, &w, 1, &d2);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d2.calls == 1; });
  EXPECT_EQ(qp_->stats().bounced, 1u);
  std::free(mem);
}

TEST_F(QpairTest, IovecsWithPageAlignedJoinsAreZeroCopy) {
  Make(16, 8, /*scatter=*/true);
  auto region = dma_->Allocate(4 * 4096);
  ASSERT_TRUE(region.ok());
  auto* buf = static_cast<uint8_t*>((*region)->vaddr());
  for (int i = 0; i < 4 * 4096; ++i) buf[i] = static_cast<uint8_t>(i ^ 0x5a);
  // First piece ends on a page boundary, the next ones start on one: PRP-describable,
  // and with scattered IOVAs every page is its own entry.
  iovec w[3] = {{buf + 3584, 512}, {buf + 2 * 4096, 4096}, {buf + 4096, 2048}};
  Request req;
  Done d;
  Rw(req, true, 0, 13, w, 3, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d.calls == 1; });
  EXPECT_TRUE(d.cpl.ok());
  EXPECT_EQ(qp_->stats().bounced, 0u);
  const uint8_t* disk = fake_.ns(1).data.data();
  EXPECT_EQ(0, std::memcmp(disk, buf + 3584, 512));
  EXPECT_EQ(0, std::memcmp(disk + 512, buf + 2 * 4096, 4096));
  EXPECT_EQ(0, std::memcmp(disk + 512 + 4096, buf + 4096, 2048));
}

TEST_F(QpairTest, RingWrapsAndPhaseFlipsManyTimes) {
  Make(4);  // 3 trackers; 4-entry rings wrap every 4 commands
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  for (int round = 0; round < 50; ++round) {
    Request reqs[3];
    Done done[3];
    for (int i = 0; i < 3; ++i) {
      buf[0] = static_cast<uint8_t>(round);
      Rw(reqs[i], true, round * 3 + i, 1, &v, 1, &done[i]);
      ASSERT_EQ(qp_->Submit(reqs[i]), 0);
    }
    RunUntil([&] { return done[0].calls + done[1].calls + done[2].calls == 3; });
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(done[i].calls, 1) << "round " << round;
      EXPECT_TRUE(done[i].cpl.ok());
    }
  }
  EXPECT_EQ(qp_->stats().completed, 150u);
  // 150 completions on a 4-entry CQ: the phase tag flipped 37 times and the driver
  // never took a stale entry for a new one (every callback ran exactly once).
}

TEST_F(QpairTest, CidsAreUniqueWhileOutstandingAndReusedAfter) {
  Make(4);
  fake_.set_hold(true);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request reqs[4];
  Done done[4];
  for (int i = 0; i < 4; ++i) {
    Rw(reqs[i], false, i, 1, &v, 1, &done[i]);
    ASSERT_EQ(qp_->Submit(reqs[i]), 0);
  }
  EXPECT_EQ(qp_->outstanding(), 3u);
  EXPECT_EQ(qp_->queued(), 1u);  // no tracker left: waits in the software queue
  RunUntil([&] { return fake_.held() == 3; });
  std::vector<uint16_t> cids = fake_.cids_seen();
  ASSERT_EQ(cids.size(), 3u);
  EXPECT_NE(cids[0], cids[1]);
  EXPECT_NE(cids[1], cids[2]);
  EXPECT_NE(cids[0], cids[2]);
  // Completing the first frees its CID; the queued request takes it.
  fake_.ReleaseHeld(1);
  RunUntil([&] { return done[0].calls == 1 && fake_.held() == 3; });
  EXPECT_EQ(qp_->queued(), 0u);
  cids = fake_.cids_seen();
  ASSERT_EQ(cids.size(), 4u);
  EXPECT_EQ(cids[3], cids[0]);
  Drain();
}

TEST_F(QpairTest, SoftwareQueueKeepsSubmissionOrder) {
  Make(4);
  std::vector<uint8_t> bufs(10 * 512);
  std::vector<iovec> v(10);
  Request reqs[10];
  Done done[10];
  for (int i = 0; i < 10; ++i) {
    bufs[i * 512] = static_cast<uint8_t>(i + 1);
    v[i] = {bufs.data() + i * 512, 512};
    Rw(reqs[i], true, 0, 1, &v[i], 1, &done[i]);  // all to LBA 0: the last one wins
    ASSERT_EQ(qp_->Submit(reqs[i]), 0);
  }
  EXPECT_EQ(qp_->queued(), 7u);
  RunUntil([&] { return qp_->idle(); });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(done[i].calls, 1);
  // The fake executes in fetch order: the device saw them in submission order.
  EXPECT_EQ(fake_.ns(1).data[0], 10);
  EXPECT_EQ(qp_->stats().queued, 7u);
}

TEST_F(QpairTest, OneDoorbellPerBatch) {
  Make(64);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request reqs[20];
  Done done[20];
  for (int i = 0; i < 20; ++i) {
    Rw(reqs[i], false, i, 1, &v, 1, &done[i]);
    ASSERT_EQ(qp_->Submit(reqs[i]), 0);
  }
  EXPECT_EQ(qp_->stats().sq_doorbells, 0u);  // Submit never touches the device
  qp_->Poll();
  EXPECT_EQ(qp_->stats().sq_doorbells, 1u);
  fake_.Step();
  EXPECT_EQ(fake_.SqTailDoorbellWrites(1), 1u);
  EXPECT_EQ(fake_.cids_seen().size(), 20u);
  qp_->Poll();
  EXPECT_EQ(qp_->stats().completed, 20u);
  EXPECT_EQ(qp_->stats().cq_doorbells, 1u);  // 20 completions reaped, one head write
}

TEST_F(QpairTest, DeviceStatusReachesTheCallback) {
  Make(8);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request req;
  Done d;
  Rw(req, false, 5000, 1, &v, 1, &d);  // beyond the 4096-block namespace
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d.calls == 1; });
  EXPECT_FALSE(d.cpl.ok());
  EXPECT_EQ(d.cpl.sct(), sct::kGeneric);
  EXPECT_EQ(d.cpl.sc(), generic_sc::kLbaOutOfRange);
  EXPECT_EQ(StatusToErrno(d.cpl.sct(), d.cpl.sc()), -ERANGE);

  fake_.InjectStatus(sct::kMedia, media_sc::kUnrecoveredReadError);
  Done d2;
  Rw(req, false, 1, 1, &v, 1, &d2);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return d2.calls == 1; });
  EXPECT_EQ(d2.cpl.sct(), sct::kMedia);
  EXPECT_EQ(StatusToErrno(d2.cpl.sct(), d2.cpl.sc()), -EILSEQ);
}

TEST_F(QpairTest, BounceShortageWaitsInsteadOfFailing) {
  Make(16, /*bounce_pages=*/4);
  std::vector<uint8_t> a(16384, 1), b(16384, 2);
  iovec va{a.data(), a.size()}, vb{b.data(), b.size()};
  Request ra, rb;
  Done da, db;
  fake_.set_hold(true);
  Rw(ra, true, 0, 32, &va, 1, &da);
  Rw(rb, true, 32, 32, &vb, 1, &db);
  ASSERT_EQ(qp_->Submit(ra), 0);
  ASSERT_EQ(qp_->Submit(rb), 0);
  EXPECT_EQ(qp_->outstanding(), 1u);  // all 4 bounce pages taken by the first
  EXPECT_EQ(qp_->queued(), 1u);
  RunUntil([&] { return fake_.held() == 1; });
  fake_.set_hold(false);
  fake_.ReleaseHeld();
  RunUntil([&] { return da.calls == 1 && db.calls == 1; });
  EXPECT_TRUE(db.cpl.ok());
  EXPECT_EQ(fake_.ns(1).data[32 * 512], 2);
}

TEST_F(QpairTest, SubmitRejectsWhatCannotEverRun) {
  Make(8, /*bounce_pages=*/4);  // max transfer: 16 KiB, what the bounce pages hold
  std::vector<uint8_t> big(128 * 1024);
  iovec v{big.data(), big.size()};
  Request req;
  Done d;
  Rw(req, true, 0, 256, &v, 1, &d);  // 128 KiB > max transfer
  EXPECT_EQ(qp_->Submit(req), -EINVAL);
  v.iov_len = 1000;
  Rw(req, true, 0, 2, &v, 1, &d);  // iovecs do not add up to data_len
  EXPECT_EQ(qp_->Submit(req), -EINVAL);
  EXPECT_EQ(d.calls, 0);
}

TEST(QpairCreateTest, BouncePagesMustHoldTheMaxTransfer) {
  FakeNvme fake;
  auto dma = fake.MakeDmaSpace();
  QpairConfig c;
  c.max_transfer = 64 * 1024;
  c.bounce_pages = 8;
  auto qp = Qpair::Create(*dma, c);
  ASSERT_FALSE(qp.ok());
  EXPECT_NE(qp.status().message().find("must hold the max transfer"), absl::string_view::npos);
  c.bounce_pages = 16;
  EXPECT_TRUE(Qpair::Create(*dma, c).ok());
}

struct TimeoutLog {
  std::vector<std::pair<uint16_t, bool>> seen;
  static void Cb(void* arg, IoQpair&, uint16_t cid, bool first) {
    static_cast<TimeoutLog*>(arg)->seen.push_back({cid, first});
  }
};

TEST_F(QpairTest, TimeoutsAreReportedFirstThenAgain) {
  Make(8, 8, false, /*track_timeouts=*/true);
  fake_.set_hold(true);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request req;
  Done d;
  Rw(req, false, 0, 1, &v, 1, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  RunUntil([&] { return fake_.held() == 1; });
  TimeoutLog log;
  qp_->CheckTimeouts(GetTicks(), ~uint64_t{0} / 2, &TimeoutLog::Cb, &log);
  EXPECT_TRUE(log.seen.empty());  // not old enough
  qp_->CheckTimeouts(GetTicks() + 1000, 1, &TimeoutLog::Cb, &log);
  qp_->CheckTimeouts(GetTicks() + 1000, 1, &TimeoutLog::Cb, &log);
  ASSERT_EQ(log.seen.size(), 2u);
  EXPECT_TRUE(log.seen[0].second);
  EXPECT_FALSE(log.seen[1].second);
  EXPECT_EQ(log.seen[0].first, fake_.cids_seen().at(0));
  Drain();
}

TEST_F(QpairTest, ResumeAfterResetResubmitsInOrder) {
  Make(8);
  fake_.set_hold(true);
  std::vector<uint8_t> bufs(4 * 512);
  iovec v[4];
  Request reqs[4];
  Done done[4];
  for (int i = 0; i < 4; ++i) {
    bufs[i * 512] = static_cast<uint8_t>(0x10 + i);
    v[i] = {bufs.data() + i * 512, 512};
    Rw(reqs[i], true, 9, 1, &v[i], 1, &done[i]);
    ASSERT_EQ(qp_->Submit(reqs[i]), 0);
  }
  RunUntil([&] { return fake_.held() == 4; });
  // The controller is reset: it forgets every command; the queues are created anew.
  qp_->Suspend();
  fake_.DropAllQueues();
  qp_->ClearCompletionRing();
  fake_.set_hold(false);
  fake_.CreateIoQueues(1, qp_->sq_iova(), qp_->cq_iova(), 8);
  Request late;
  Done late_done;
  Rw(late, false, 9, 1, &v[0], 1, &late_done);
  ASSERT_EQ(qp_->Submit(late), 0);  // waits while suspended
  EXPECT_EQ(qp_->Poll(), 0u);       // epoch unchanged: still suspended
  EXPECT_TRUE(qp_->suspended());
  epoch_.fetch_add(1);
  RunUntil([&] { return qp_->idle(); });
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(done[i].calls, 1);
    EXPECT_TRUE(done[i].cpl.ok());
  }
  EXPECT_EQ(qp_->stats().resubmitted, 5u);  // 4 in flight + 1 waiting
  // Resubmitted in the original order: the last write of the four is on the disk.
  EXPECT_EQ(fake_.ns(1).data[9 * 512], 0x13);
  EXPECT_EQ(late_done.calls, 1);
}

TEST_F(QpairTest, ResumeIntoAFailedControllerFailsEverything) {
  Make(8);
  fake_.set_hold(true);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request reqs[2];
  Done done[2];
  for (int i = 0; i < 2; ++i) {
    Rw(reqs[i], false, 0, 1, &v, 1, &done[i]);
    ASSERT_EQ(qp_->Submit(reqs[i]), 0);
  }
  RunUntil([&] { return fake_.held() == 2; });
  qp_->Suspend();
  fake_.DropAllQueues();
  epoch_.store(1 | kEpochFailed);
  qp_->Poll();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(done[i].calls, 1);
    EXPECT_EQ(done[i].cpl.sc(), generic_sc::kAbortSqDeleted);
    EXPECT_EQ(StatusToErrno(done[i].cpl.sct(), done[i].cpl.sc()), -ECANCELED);
  }
  EXPECT_TRUE(qp_->failed());
  Request again;
  Done d;
  Rw(again, false, 0, 1, &v, 1, &d);
  EXPECT_EQ(qp_->Submit(again), -ENODEV);
}

TEST_F(QpairTest, TooManyResetsFailTheRequest) {
  Make(8);
  fake_.set_hold(true);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), 512};
  Request req;
  Done d;
  Rw(req, false, 0, 1, &v, 1, &d);
  ASSERT_EQ(qp_->Submit(req), 0);
  for (int reset = 1; reset <= 3; ++reset) {
    RunUntil([&] { return fake_.held() == 1 || d.calls == 1; });
    qp_->Suspend();
    fake_.DropAllQueues();
    qp_->ClearCompletionRing();
    fake_.CreateIoQueues(1, qp_->sq_iova(), qp_->cq_iova(), 8);
    epoch_.fetch_add(1);
    qp_->Poll();
  }
  // max_resubmits is 2: the third reset fails it.
  ASSERT_EQ(d.calls, 1);
  EXPECT_EQ(d.cpl.sc(), generic_sc::kAbortSqDeleted);
}

}  // namespace
}  // namespace bdevkit::nvme

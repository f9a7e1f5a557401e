// The controller against the fake device running on its own thread: the enable
// handshake, Identify, queue creation, I/O, reset with I/O in flight, shutdown, and
// the errors when the device misbehaves.
#include "modules/nvme/driver/controller.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"
#include "tests/unit/modules/nvme/fake_nvme.h"

namespace bdevkit::nvme {
namespace {

using testing::FakeNvme;

struct Done {
  std::atomic<int> calls{0};
  Completion cpl{};
  static void Cb(void* arg, const Completion& c) {
    auto* d = static_cast<Done*>(arg);
    d->cpl = c;
    d->calls.fetch_add(1);
  }
};

ControllerOptions FastOptions() {
  ControllerOptions o;
  o.admin_timeout = absl::Seconds(5);
  o.max_ready_wait = absl::Seconds(2);
  o.io_queue_entries = 32;
  o.bounce_pages = 16;
  return o;
}

template <typename Pred>
bool PollUntil(IoQpair& qp, Pred pred) {
  for (int i = 0; i < 200000 && !pred(); ++i) {
    if (qp.Poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
  return pred();
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.AddNamespace(1, 512, 8192);
    fake_.AddNamespace(3, 4096, 1024);
    fake_.Start();
  }
  void TearDown() override {
    fake_.Stop();
    for (const std::string& e : fake_.errors()) ADD_FAILURE() << "fake saw: " << e;
  }

  Request Rw(bool write, uint32_t nsid, uint64_t lba, uint32_t blocks, uint32_t block_size,
             void* buf, Done* d) {
    Request r;
    r.cmd.opcode = write ? io_op::kWrite : io_op::kRead;
    r.cmd.nsid = nsid;
    r.cmd.cdw10 = static_cast<uint32_t>(lba);
    r.cmd.cdw12 = blocks - 1;
    r.SetBuffer(buf, blocks * block_size);
    r.to_device = write;
    r.cb = &Done::Cb;
    r.cb_arg = d;
    return r;
  }

  FakeNvme fake_;
};

TEST_F(ControllerTest, AttachIdentifiesControllerAndNamespaces) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  const ControllerData& d = (*c)->data();
  EXPECT_EQ(d.vendor_id, 0x1b36);
  EXPECT_EQ(d.serial, "FAKE0001");
  EXPECT_EQ(d.model, "bdevkit fake NVMe");
  EXPECT_EQ(d.firmware, "1.0");
  EXPECT_EQ(d.cntlid, 7);
  EXPECT_EQ(d.subnqn, "nqn.2019-08.org.qemu:fake");
  EXPECT_TRUE(d.supports_dsm());
  EXPECT_TRUE(d.supports_write_zeroes());
  EXPECT_EQ((*c)->version(), 0x10400u);
  ASSERT_EQ((*c)->namespaces().size(), 2u);
  EXPECT_EQ((*c)->namespaces()[0].nsid, 1u);
  EXPECT_EQ((*c)->namespaces()[0].block_size(), 512u);
  EXPECT_EQ((*c)->namespaces()[0].size_blocks, 8192u);
  EXPECT_EQ((*c)->namespaces()[1].nsid, 3u);
  EXPECT_EQ((*c)->namespaces()[1].block_size(), 4096u);
  EXPECT_TRUE((*c)->namespaces()[1].has_uuid);
  EXPECT_EQ((*c)->namespaces()[1].uuid[0], 0xa0 + 3);
  EXPECT_EQ((*c)->io_queues_granted(), 8u);
  EXPECT_EQ((*c)->max_transfer(), 128u * 1024);  // MDTS 5 = 32 pages
  EXPECT_NE(fake_.cc() & cc::kEnable, 0u);
  (*c)->Shutdown();
  EXPECT_EQ(fake_.shutdowns(), 1u);
}

TEST_F(ControllerTest, IoQueuePairsReadAndWrite) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  auto qp1 = (*c)->CreateIoQpair(false);
  auto qp2 = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(qp1.ok()) << qp1.status();
  ASSERT_TRUE(qp2.ok()) << qp2.status();
  EXPECT_NE((*qp1)->qid(), (*qp2)->qid());
  std::vector<uint8_t> out(8192), in(8192);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 13 + 1);
  Done w, r;
  Request wr = Rw(true, 3, 10, 2, 4096, out.data(), &w);
  ASSERT_EQ((*qp1)->Submit(wr), 0);
  ASSERT_TRUE(PollUntil(**qp1, [&] { return w.calls == 1; }));
  EXPECT_TRUE(w.cpl.ok());
  Request rd = Rw(false, 3, 10, 2, 4096, in.data(), &r);
  ASSERT_EQ((*qp2)->Submit(rd), 0);
  ASSERT_TRUE(PollUntil(**qp2, [&] { return r.calls == 1; }));
  EXPECT_TRUE(r.cpl.ok());
  EXPECT_EQ(in, out);
  (*c)->DestroyIoQpair(std::move(*qp1));
  (*c)->DestroyIoQpair(std::move(*qp2));
}

TEST_F(ControllerTest, RunsOutOfQueuesWithAClearError) {
  FakeNvme::Options o;
  o.max_queues = 2;
  fake_.Stop();
  FakeNvme small(o);
  small.AddNamespace(1, 512, 64);
  small.Start();
  auto c = Controller::Attach(small.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  auto a = (*c)->CreateIoQpair(false);
  auto b = (*c)->CreateIoQpair(false);
  auto third = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("all 2 I/O queues"), absl::string_view::npos);
  // A destroyed queue pair's qid can be used again.
  (*c)->DestroyIoQpair(std::move(*a));
  auto again = (*c)->CreateIoQpair(false);
  EXPECT_TRUE(again.ok()) << again.status();
  (*c)->DestroyIoQpair(std::move(*again));
  (*c)->DestroyIoQpair(std::move(*b));
  c->reset();  // shuts down while the fake still runs
  EXPECT_EQ(small.shutdowns(), 1u);
  small.Stop();
}

TEST_F(ControllerTest, ResetWithIoInFlightResubmitsIt) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  auto qp = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(qp.ok());
  fake_.set_hold(true);
  std::vector<uint8_t> out(512, 0x77);
  Done w;
  Request wr = Rw(true, 1, 42, 1, 512, out.data(), &w);
  ASSERT_EQ((*qp)->Submit(wr), 0);
  (*qp)->Poll();  // rings the doorbell
  for (int i = 0; i < 1000 && fake_.held() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(fake_.held(), 1u);
  // The reset sequence the bdev module runs: new qpairs suspended, existing ones
  // suspended on their thread (here: this one), then the blocking part.
  (*c)->BeginReset();
  (*qp)->Suspend();
  fake_.set_hold(false);  // the held command is dropped by the disable
  uint32_t epoch = (*c)->epoch().load();
  absl::Status s = (*c)->FinishReset();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_NE((*c)->epoch().load(), epoch);
  EXPECT_FALSE((*c)->failed());
  ASSERT_TRUE(PollUntil(**qp, [&] { return w.calls == 1; }));
  EXPECT_TRUE(w.cpl.ok());
  EXPECT_EQ((*qp)->stats().resubmitted, 1u);
  EXPECT_EQ(fake_.ns(1).data[42 * 512], 0x77);
  // And the queue keeps working after the reset.
  Done r;
  std::vector<uint8_t> in(512);
  Request rd = Rw(false, 1, 42, 1, 512, in.data(), &r);
  ASSERT_EQ((*qp)->Submit(rd), 0);
  ASSERT_TRUE(PollUntil(**qp, [&] { return r.calls == 1; }));
  EXPECT_EQ(in, out);
  (*c)->DestroyIoQpair(std::move(*qp));
}

TEST_F(ControllerTest, QpairCreatedDuringResetResumesAfterIt) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  (*c)->BeginReset();
  auto qp = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(qp.ok());
  EXPECT_TRUE((*qp)->suspended());
  ASSERT_TRUE((*c)->FinishReset().ok());
  std::vector<uint8_t> in(512);
  Done r;
  Request rd = Rw(false, 1, 0, 1, 512, in.data(), &r);
  ASSERT_EQ((*qp)->Submit(rd), 0);
  ASSERT_TRUE(PollUntil(**qp, [&] { return r.calls == 1; }));
  EXPECT_TRUE(r.cpl.ok());
  (*c)->DestroyIoQpair(std::move(*qp));
}

TEST_F(ControllerTest, NeverReadyTimesOutWithCapTo) {
  fake_.Stop();
  FakeNvme::Options o;
  o.never_ready = true;
  o.timeout_500ms = 1;
  FakeNvme stuck(o);
  stuck.Start();
  auto c = Controller::Attach(stuck.MakeDevice(), FastOptions());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(c.status().message().find("did not become ready"), absl::string_view::npos)
      << c.status();
  EXPECT_NE(c.status().message().find("0000:00:03.0"), absl::string_view::npos);
  // Left disabled.
  EXPECT_EQ(stuck.cc() & cc::kEnable, 0u);
  stuck.Stop();
}

TEST_F(ControllerTest, FatalStatusIsSeen) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->FatalStatus());
  fake_.SetFatal();
  EXPECT_TRUE((*c)->FatalStatus());
}

TEST_F(ControllerTest, AdminPassthroughAndAbort) {
  auto c = Controller::Attach(fake_.MakeDevice(), FastOptions());
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> id(4096);
  Command cmd{};
  cmd.opcode = admin_op::kIdentify;
  cmd.cdw10 = cns::kController;
  auto cpl = (*c)->AdminCommand(cmd, id.data(), 4096, false);
  ASSERT_TRUE(cpl.ok()) << cpl.status();
  EXPECT_TRUE(cpl->ok());
  EXPECT_EQ(ParseControllerData(id.data()).serial, "FAKE0001");
  cmd.opcode = 0x7f;  // not an admin command
  cpl = (*c)->AdminCommand(cmd, nullptr, 0, false);
  ASSERT_TRUE(cpl.ok());
  EXPECT_EQ(cpl->sc(), generic_sc::kInvalidOpcode);
  EXPECT_TRUE((*c)->SubmitAbort(1, 3));
  for (int i = 0; i < 100; ++i) {
    (*c)->PollAdmin();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace
}  // namespace bdevkit::nvme

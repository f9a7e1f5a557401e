// The NVMe/TCP transport: the queue pair's PDU state machine against a scripted peer on
// a socketpair (PDUs split byte by byte, padding, digests, malformed input), and the
// controller over TcpTransport against the in-test target (fake_tcp_target.h) on
// 127.0.0.1: attach through Property Get/Set, in-capsule and R2T writes, multi-PDU
// reads, SUCCESS-flag reads, digests, connection loss and reconnect with resubmission,
// fast I/O failure, keep-alive, and the connection errors.
#include "modules/nvme/tcp/tcp_qpair.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/nvme/driver/controller.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/tcp/crc32c.h"
#include "modules/nvme/tcp/tcp_transport.h"
#include "tests/unit/modules/nvme/fake_tcp_target.h"

namespace bdevkit::nvme {
namespace {

using testing::FakeTcpTarget;
using ::testing::HasSubstr;

struct Result {
  bool done = false;
  Completion cpl{};
};

void OnDone(void* arg, const Completion& cpl) {
  auto* r = static_cast<Result*>(arg);
  r->done = true;
  r->cpl = cpl;
}

Request MakeIo(uint8_t opcode, uint64_t lba, uint32_t blocks, void* buf, uint32_t len, Result* r) {
  Request q;
  q.cmd.opcode = opcode;
  q.cmd.nsid = 1;
  q.cmd.cdw10 = static_cast<uint32_t>(lba);
  q.cmd.cdw11 = static_cast<uint32_t>(lba >> 32);
  q.cmd.cdw12 = blocks - 1;
  q.SetBuffer(buf, len);
  q.to_device = opcode == io_op::kWrite;
  q.cb = &OnDone;
  q.cb_arg = r;
  return q;
}

template <typename Pred>
bool PollUntil(IoQpair& qp, Pred pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!pred()) {
    qp.Poll();
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

// ---- The queue pair's state machine against a scripted peer --------------------------

class TcpQpairPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    peer_ = sv[1];
    QpairConfig c;
    c.qid = 1;
    c.entries = 8;
    c.max_transfer = 64 * 1024;
    qp_ = TcpQpair::Create(c);
    TcpConnectionParams p;
    p.hdgst = hdgst_;
    p.ddgst = ddgst_;
    p.maxh2cdata = 8192;
    p.icd_size = 1024;
    qp_->Attach(sv[0], p);
  }
  void TearDown() override { ::close(peer_); }

  // Reads one whole PDU the qpair sent (blocking with a deadline).
  std::vector<uint8_t> PeerRead() {
    std::vector<uint8_t> pdu;
    auto read = [&](size_t n) {
      size_t at = pdu.size();
      pdu.resize(at + n);
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      while (n > 0 && absl::Now() < deadline) {
        qp_->Poll();  // sends what it buffered
        ssize_t r = ::recv(peer_, pdu.data() + at, n, MSG_DONTWAIT);
        if (r > 0) {
          at += static_cast<size_t>(r);
          n -= static_cast<size_t>(r);
        }
      }
      return n == 0;
    };
    if (!read(8)) return {};
    CommonHeader ch;
    std::memcpy(&ch, pdu.data(), 8);
    if (!read(ch.plen - 8)) return {};
    return pdu;
  }
  // Sends bytes one at a time, polling the qpair in between.
  void PeerSendSlowly(const std::vector<uint8_t>& bytes) {
    for (uint8_t b : bytes) {
      if (qp_->broken()) return;  // it closed its end
      ASSERT_EQ(::send(peer_, &b, 1, MSG_NOSIGNAL), 1);
      qp_->Poll();
    }
  }
  static void Append(std::vector<uint8_t>& v, const void* p, size_t n) {
    v.insert(v.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
  static void AppendDigest(std::vector<uint8_t>& v, const void* p, size_t n) {
    uint32_t d = Crc32c(p, n);
    Append(v, &d, 4);
  }

  bool hdgst_ = false;
  bool ddgst_ = false;
  int peer_ = -1;
  std::unique_ptr<TcpQpair> qp_;
};

TEST_F(TcpQpairPeerTest, ReadWithPaddingSplitAcrossRecvsThenResponse) {
  std::vector<uint8_t> buf(4096, 0);
  Result r;
  Request req = MakeIo(io_op::kRead, 10, 8, buf.data(), 4096, &r);
  ASSERT_EQ(qp_->Submit(req), 0);
  std::vector<uint8_t> cap = PeerRead();
  ASSERT_EQ(cap.size(), 72u);  // a read carries no data
  CapsuleCmdHeader h;
  std::memcpy(&h, cap.data(), sizeof(h));
  EXPECT_EQ(SglType(h.cmd), sgl::kTransport);
  EXPECT_EQ(SglLength(h.cmd), 4096u);
  // C2HData with 8 bytes of padding before the data (a target's CPDA), in two PDUs.
  std::vector<uint8_t> out;
  for (uint32_t off : {0u, 2048u}) {
    DataHeader d{};
    d.ch = {pdu_type::kC2HData, static_cast<uint8_t>(off ? pdu_flag::kDataLast : 0), 24, 32,
            32 + 2048};
    d.cccid = h.cmd.cid;
    d.datao = off;
    d.datal = 2048;
    Append(out, &d, sizeof(d));
    out.resize(out.size() + 8, 0xee);
    for (int i = 0; i < 2048; ++i) out.push_back(static_cast<uint8_t>(off / 2048 + i * 7));
  }
  CapsuleRespHeader resp{};
  resp.ch = {pdu_type::kCapsuleResp, 0, 24, 0, 24};
  resp.cqe.cid = h.cmd.cid;
  Append(out, &resp, sizeof(resp));
  PeerSendSlowly(out);
  ASSERT_TRUE(PollUntil(*qp_, [&] { return r.done; }));
  EXPECT_TRUE(r.cpl.ok());
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[2048 + 1], static_cast<uint8_t>(1 + 7));
  EXPECT_FALSE(qp_->broken());
  EXPECT_TRUE(qp_->idle());
}

TEST_F(TcpQpairPeerTest, SmallWriteInCapsuleLargeWriteByR2T) {
  std::vector<uint8_t> small(512, 0x11), large(20000, 0);
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<uint8_t>(i);
  Result r1, r2;
  Request w1 = MakeIo(io_op::kWrite, 0, 1, small.data(), 512, &r1);
  Request w2 = MakeIo(io_op::kWrite, 8, 40, large.data(), 20000, &r2);
  w2.cmd.cdw12 = 0;  // the peer does not care
  ASSERT_EQ(qp_->Submit(w1), 0);
  ASSERT_EQ(qp_->Submit(w2), 0);
  std::vector<uint8_t> c1 = PeerRead();
  ASSERT_EQ(c1.size(), 72u + 512);
  EXPECT_EQ(c1[3], 72);  // pdo
  EXPECT_EQ(c1[72], 0x11);
  std::vector<uint8_t> c2 = PeerRead();
  ASSERT_EQ(c2.size(), 72u);  // over the in-capsule size: data waits for an R2T
  CapsuleCmdHeader h2;
  std::memcpy(&h2, c2.data(), sizeof(h2));
  EXPECT_EQ(SglType(h2.cmd), sgl::kTransport);
  // Ask for bytes 1000..19999: MAXH2CDATA 8192 makes three H2CData PDUs.
  R2THeader r2t{};
  r2t.ch = {pdu_type::kR2T, 0, 24, 0, 24};
  r2t.cccid = h2.cmd.cid;
  r2t.ttag = 0x77;
  r2t.r2to = 1000;
  r2t.r2tl = 19000;
  std::vector<uint8_t> bytes;
  Append(bytes, &r2t, sizeof(r2t));
  PeerSendSlowly(bytes);
  uint32_t got = 0, pdus = 0;
  while (got < 19000) {
    std::vector<uint8_t> d = PeerRead();
    ASSERT_GE(d.size(), 24u);
    DataHeader dh;
    std::memcpy(&dh, d.data(), sizeof(dh));
    EXPECT_EQ(dh.ch.type, pdu_type::kH2CData);
    EXPECT_EQ(dh.ttag, 0x77);
    EXPECT_EQ(dh.datao, 1000 + got);
    EXPECT_LE(dh.datal, 8192u);
    EXPECT_EQ(0, std::memcmp(d.data() + 24, large.data() + dh.datao, dh.datal));
    got += dh.datal;
    ++pdus;
    EXPECT_EQ((dh.ch.flags & pdu_flag::kDataLast) != 0, got == 19000);
  }
  EXPECT_EQ(pdus, 3u);
  // Responses in the other order.
  std::vector<uint8_t> out;
  for (uint16_t cid : {h2.cmd.cid, static_cast<uint16_t>(c1[10] | (c1[11] << 8))}) {
    CapsuleRespHeader resp{};
    resp.ch = {pdu_type::kCapsuleResp, 0, 24, 0, 24};
    resp.cqe.cid = cid;
    Append(out, &resp, sizeof(resp));
  }
  PeerSendSlowly(out);
  ASSERT_TRUE(PollUntil(*qp_, [&] { return r1.done && r2.done; }));
  EXPECT_TRUE(r1.cpl.ok() && r2.cpl.ok());
}

TEST_F(TcpQpairPeerTest, MalformedPduBreaksTheConnectionAndHoldsRequests) {
  std::vector<uint8_t> buf(512);
  Result r;
  Request req = MakeIo(io_op::kRead, 0, 1, buf.data(), 512, &r);
  ASSERT_EQ(qp_->Submit(req), 0);
  ASSERT_FALSE(PeerRead().empty());
  CapsuleRespHeader resp{};
  resp.ch = {pdu_type::kCapsuleResp, 0, 20, 0, 24};  // wrong hlen
  std::vector<uint8_t> out;
  Append(out, &resp, sizeof(resp));
  PeerSendSlowly(out);
  EXPECT_TRUE(qp_->broken());
  EXPECT_THAT(qp_->break_reason(), HasSubstr("malformed"));
  EXPECT_FALSE(r.done);  // held for a reconnect
  EXPECT_EQ(qp_->outstanding(), 1u);
  // New requests wait too.
  Result r2;
  Request req2 = MakeIo(io_op::kRead, 1, 1, buf.data(), 512, &r2);
  EXPECT_EQ(qp_->Submit(req2), 0);
  EXPECT_EQ(qp_->queued(), 1u);
  // Polling a broken queue changes nothing.
  qp_->Poll();
  EXPECT_FALSE(r.done || r2.done);
}

class TcpQpairDigestPeerTest : public TcpQpairPeerTest {
 protected:
  void SetUp() override {
    hdgst_ = true;
    ddgst_ = true;
    TcpQpairPeerTest::SetUp();
  }
};

TEST_F(TcpQpairDigestPeerTest, DigestsAreSentCheckedAndABadOneBreaks) {
  std::vector<uint8_t> buf(1024, 0);
  Result r;
  Request req = MakeIo(io_op::kRead, 0, 2, buf.data(), 1024, &r);
  ASSERT_EQ(qp_->Submit(req), 0);
  std::vector<uint8_t> cap = PeerRead();
  ASSERT_EQ(cap.size(), 76u);
  EXPECT_TRUE(HeaderDigestOk(cap.data(), 72));
  CapsuleCmdHeader h;
  std::memcpy(&h, cap.data(), sizeof(h));
  // A good C2HData (header and data digests), then a response with a bad header digest.
  std::vector<uint8_t> out;
  DataHeader d{};
  d.ch = {pdu_type::kC2HData, pdu_flag::kHdgst | pdu_flag::kDdgst | pdu_flag::kDataLast, 24, 28,
          28 + 1024 + 4};
  d.cccid = h.cmd.cid;
  d.datal = 1024;
  Append(out, &d, sizeof(d));
  AppendDigest(out, &d, sizeof(d));
  std::vector<uint8_t> data(1024, 0x5a);
  Append(out, data.data(), data.size());
  AppendDigest(out, data.data(), data.size());
  PeerSendSlowly(out);
  EXPECT_FALSE(qp_->broken());
  EXPECT_EQ(buf[1023], 0x5a);
  CapsuleRespHeader resp{};
  resp.ch = {pdu_type::kCapsuleResp, pdu_flag::kHdgst, 24, 0, 28};
  resp.cqe.cid = h.cmd.cid;
  out.clear();
  Append(out, &resp, sizeof(resp));
  uint32_t bad = Crc32c(&resp, sizeof(resp)) ^ 1;
  Append(out, &bad, 4);
  PeerSendSlowly(out);
  EXPECT_TRUE(qp_->broken());
  EXPECT_THAT(qp_->break_reason(), HasSubstr("digest"));
  EXPECT_FALSE(r.done);
}

// ---- The controller over TcpTransport against the in-test target --------------------

TcpTransportOptions Transport(const FakeTcpTarget& t, bool hd = false, bool dd = false) {
  TcpTransportOptions o;
  o.address = *ParseTcpAddress("127.0.0.1", t.port_string());
  o.subnqn = t.options().subnqn;
  o.hostid = DefaultHostId();
  o.hdgst = hd;
  o.ddgst = dd;
  o.keep_alive_timeout_ms = 10000;
  o.connect_timeout = absl::Seconds(5);
  return o;
}

ControllerOptions Fast() {
  ControllerOptions o;
  o.admin_timeout = absl::Seconds(10);
  o.max_ready_wait = absl::Seconds(5);
  o.io_queue_entries = 32;
  return o;
}

absl::StatusOr<std::unique_ptr<Controller>> Attach(const TcpTransportOptions& t,
                                                   ControllerOptions o = Fast()) {
  return Controller::Attach(std::make_unique<TcpTransport>(t), o);
}

TEST(TcpControllerTest, AttachIdentifiesThroughFabricsProperties) {
  FakeTcpTarget target;
  auto c = Attach(Transport(target));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->data().model, "fake NVMe/TCP target");
  EXPECT_EQ((*c)->data().subnqn, target.options().subnqn);
  EXPECT_EQ((*c)->data().ioccsz, (64u + 4096) / 16);
  EXPECT_EQ((*c)->version(), 0x10400u);
  EXPECT_EQ((*c)->cap().mqes(), 128u);
  ASSERT_EQ((*c)->namespaces().size(), 1u);
  EXPECT_EQ((*c)->namespaces()[0].size_blocks, 8192u);
  EXPECT_EQ((*c)->address(), "127.0.0.1:" + target.port_string());
  EXPECT_STREQ((*c)->access(), "tcp");
  EXPECT_EQ((*c)->dma(), nullptr);
  EXPECT_EQ((*c)->io_queues_granted(), 4u);
  EXPECT_EQ(target.admin_connects(), 1);
  (*c)->Shutdown();
  EXPECT_TRUE(target.errors().empty()) << target.errors()[0];
}

void ReadWriteRoundTrip(FakeTcpTarget& target, Controller& c) {
  auto qp = c.CreateIoQpair(false);
  ASSERT_TRUE(qp.ok()) << qp.status();
  EXPECT_EQ(target.io_connects(), 1);
  IoQpair& q = **qp;
  // 2 KiB goes in the capsule, 64 KiB through R2T (MAXH2CDATA 16 KiB: 4 PDUs).
  std::vector<uint8_t> small(2048), big(65536), in(65536);
  for (size_t i = 0; i < small.size(); ++i) small[i] = static_cast<uint8_t>(i * 3);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + 1);
  Result w1, w2, rd;
  Request a = MakeIo(io_op::kWrite, 0, 4, small.data(), 2048, &w1);
  Request b = MakeIo(io_op::kWrite, 64, 128, big.data(), 65536, &w2);
  ASSERT_EQ(q.Submit(a), 0);
  ASSERT_EQ(q.Submit(b), 0);
  ASSERT_TRUE(PollUntil(q, [&] { return w1.done && w2.done; }))
      << (target.errors().empty() ? "" : target.errors()[0]);
  EXPECT_TRUE(w1.cpl.ok());
  EXPECT_TRUE(w2.cpl.ok());
  EXPECT_GE(target.in_capsule_writes(), 1u);
  EXPECT_GE(target.r2t_writes(), 1u);
  EXPECT_EQ(target.Read(0, 2048), small);
  EXPECT_EQ(target.Read(64 * 512, 65536), big);
  // Read back in several C2HData PDUs into three iovecs.
  iovec v[3] = {{in.data(), 1000}, {in.data() + 1000, 30000}, {in.data() + 31000, 34536}};
  Request r = MakeIo(io_op::kRead, 64, 128, nullptr, 0, &rd);
  r.iovs = v;
  r.iovcnt = 3;
  r.data_len = 65536;
  ASSERT_EQ(q.Submit(r), 0);
  ASSERT_TRUE(PollUntil(q, [&] { return rd.done; }));
  EXPECT_TRUE(rd.cpl.ok());
  EXPECT_EQ(in, big);
  // Out of range: the target's status reaches the callback.
  Result bad;
  Request oob = MakeIo(io_op::kRead, 8190, 8, in.data(), 4096, &bad);
  ASSERT_EQ(q.Submit(oob), 0);
  ASSERT_TRUE(PollUntil(q, [&] { return bad.done; }));
  EXPECT_EQ(bad.cpl.sc(), generic_sc::kLbaOutOfRange);
  c.DestroyIoQpair(std::move(*qp));
}

TEST(TcpControllerTest, WritesInCapsuleAndByR2TReadsInPieces) {
  FakeTcpTarget target;
  auto c = Attach(Transport(target));
  ASSERT_TRUE(c.ok()) << c.status();
  ReadWriteRoundTrip(target, **c);
  EXPECT_FALSE(target.last_hdgst());
  EXPECT_TRUE(target.errors().empty()) << target.errors()[0];
}

TEST(TcpControllerTest, WithHeaderAndDataDigests) {
  FakeTcpTarget target;
  auto c = Attach(Transport(target, true, true));
  ASSERT_TRUE(c.ok()) << c.status();
  ReadWriteRoundTrip(target, **c);
  EXPECT_TRUE(target.last_hdgst());
  EXPECT_TRUE(target.last_ddgst());
  EXPECT_TRUE(target.errors().empty()) << target.errors()[0];
}

TEST(TcpControllerTest, SuccessFlagCompletesReadsWithoutResponse) {
  FakeTcpTarget::Options o;
  o.c2h_success = true;
  o.icd_size = 0;  // every write through R2T
  FakeTcpTarget target(o);
  auto c = Attach(Transport(target));
  ASSERT_TRUE(c.ok()) << c.status();
  ReadWriteRoundTrip(target, **c);
  EXPECT_EQ(target.in_capsule_writes(), 1u);  // only the admin Connect
  EXPECT_TRUE(target.errors().empty()) << target.errors()[0];
}

TEST(TcpControllerTest, ConnectionLossHoldsIoUntilTheResetReconnects) {
  FakeTcpTarget target;
  auto c = Attach(Transport(target));
  ASSERT_TRUE(c.ok()) << c.status();
  auto qp = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(qp.ok()) << qp.status();
  IoQpair& q = **qp;
  std::vector<uint8_t> data(4096, 0x42), in(4096);
  Result w;
  Request wr = MakeIo(io_op::kWrite, 100, 8, data.data(), 4096, &w);
  ASSERT_EQ(q.Submit(wr), 0);
  ASSERT_TRUE(PollUntil(q, [&] { return w.done; }));
  target.DropConnections();
  ASSERT_TRUE(PollUntil(q, [&] { return q.broken(); }));
  // Submitted while broken: held.
  Result rd;
  Request r = MakeIo(io_op::kRead, 100, 8, in.data(), 4096, &rd);
  ASSERT_EQ(q.Submit(r), 0);
  q.Poll();
  EXPECT_FALSE(rd.done);
  // The admin connection went too.
  for (int i = 0; i < 100 && !(*c)->FatalStatus(); ++i) {
    (*c)->PollAdmin();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE((*c)->FatalStatus());
  // The bdev module's reset: suspend, reconnect everything, resume.
  (*c)->BeginReset();
  q.Suspend();
  ASSERT_TRUE((*c)->FinishReset().ok());
  EXPECT_FALSE((*c)->FatalStatus());
  ASSERT_TRUE(PollUntil(q, [&] { return rd.done; }));
  EXPECT_TRUE(rd.cpl.ok());
  EXPECT_EQ(in, data);
  EXPECT_EQ(q.stats().resubmitted, 1u);
  EXPECT_EQ(target.admin_connects(), 2);
  EXPECT_EQ(target.io_connects(), 2);
  (*c)->DestroyIoQpair(std::move(*qp));
  EXPECT_TRUE(target.errors().empty()) << target.errors()[0];
}

TEST(TcpControllerTest, FailedReconnectsStayResettingThenFastFailThenGiveUp) {
  FakeTcpTarget target;
  auto c = Attach(Transport(target));
  ASSERT_TRUE(c.ok()) << c.status();
  auto qp = (*c)->CreateIoQpair(false);
  ASSERT_TRUE(qp.ok());
  IoQpair& q = **qp;
  target.set_refuse_connect(true);
  target.DropConnections();
  std::vector<uint8_t> in(512);
  Result rd;
  Request r = MakeIo(io_op::kRead, 0, 1, in.data(), 512, &rd);
  ASSERT_EQ(q.Submit(r), 0);
  ASSERT_TRUE(PollUntil(q, [&] { return q.broken() || rd.done; }));
  (*c)->BeginReset();
  q.Suspend();
  absl::Status s = (*c)->FinishReset(/*give_up_on_failure=*/false);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(target.options().subnqn));
  EXPECT_FALSE((*c)->failed());  // still trying
  q.Poll();
  EXPECT_FALSE(rd.done);  // held
  // fast_io_fail: what is held fails, new requests are refused.
  (*c)->SetFailIo(true);
  q.Poll();
  ASSERT_TRUE(rd.done);
  EXPECT_EQ(rd.cpl.sct(), sct::kPath);
  Result rd2;
  Request r2 = MakeIo(io_op::kRead, 0, 1, in.data(), 512, &rd2);
  EXPECT_EQ(q.Submit(r2), -EIO);
  // ctrlr_loss_timeout: given up, the queue fails everything from now on.
  (*c)->AbandonReset();
  EXPECT_TRUE((*c)->failed());
  q.Poll();
  EXPECT_TRUE(q.failed());
  EXPECT_EQ(q.Submit(r2), -ENODEV);
  (*c)->DestroyIoQpair(std::move(*qp));
}

TEST(TcpControllerTest, KeepAliveFromTheAdminPoller) {
  FakeTcpTarget target;
  TcpTransportOptions t = Transport(target);
  ControllerOptions o = Fast();
  o.keep_alive_timeout_ms = 40;
  auto c = Attach(t, o);
  ASSERT_TRUE(c.ok()) << c.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (target.keep_alives() < 2 && absl::Now() < deadline) {
    (*c)->PollAdmin();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GE(target.keep_alives(), 2);
  EXPECT_FALSE((*c)->FatalStatus());
}

// A target that stops answering Keep Alive while the connection stays open: after
// KATO without an answer the controller reports the admin connection lost (what makes
// the bdev module reconnect), although no socket error was seen.
TEST(TcpControllerTest, UnansweredKeepAliveIsAConnectionLoss) {
  FakeTcpTarget target;
  TcpTransportOptions t = Transport(target);
  ControllerOptions o = Fast();
  o.keep_alive_timeout_ms = 200;
  auto c = Attach(t, o);
  ASSERT_TRUE(c.ok()) << c.status();
  // Answered: several Keep Alives, never fatal.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (target.keep_alives() < 3 && absl::Now() < deadline) {
    (*c)->PollAdmin();
    ASSERT_FALSE((*c)->FatalStatus())
        << "after " << target.keep_alives() << " answered Keep Alives";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_GE(target.keep_alives(), 3);
  target.set_ignore_keep_alive(true);
  const int sent_before = target.keep_alives();
  const absl::Time silent_from = absl::Now();
  deadline = silent_from + absl::Seconds(20);
  while (!(*c)->FatalStatus() && absl::Now() < deadline) {
    (*c)->PollAdmin();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE((*c)->FatalStatus()) << "no loss reported 20 s after the target went silent";
  // Not before a whole KATO has passed since an unanswered one was sent.
  EXPECT_GE(absl::Now() - silent_from, absl::Milliseconds(o.keep_alive_timeout_ms));
  EXPECT_GT(target.keep_alives(), sent_before);
}

TEST(TcpControllerTest, WrongSubsystemAndClosedPortAreClearErrors) {
  FakeTcpTarget target;
  TcpTransportOptions t = Transport(target);
  t.subnqn = "nqn.2026-11.io.bdevkit:nope";
  auto c = Attach(t);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("nqn.2026-11.io.bdevkit:nope"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("127.0.0.1:" + target.port_string()));
  // A port nobody listens on: bind one, close it.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  const std::string port = std::to_string(ntohs(a.sin_port));
  t = Transport(target);
  t.address = *ParseTcpAddress("127.0.0.1", port);
  c = Attach(t);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("127.0.0.1:" + port));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("refused"));
}

TEST(TcpAddressTest, ParsesIpv4AndPortNamingTheParameter) {
  EXPECT_TRUE(ParseTcpAddress("10.1.2.3", "4420").ok());
  auto bad = ParseTcpAddress("not-an-address", "4420");
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"traddr\""));
  EXPECT_THAT(std::string(ParseTcpAddress("", "4420").status().message()), HasSubstr("traddr"));
  for (const char* port : {"", "0", "65536", "44x"}) {
    EXPECT_THAT(std::string(ParseTcpAddress("127.0.0.1", port).status().message()),
                HasSubstr("\"trsvcid\""))
        << port;
  }
}

}  // namespace
}  // namespace bdevkit::nvme

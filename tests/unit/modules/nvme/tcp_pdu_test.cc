// NVMe/TCP and fabrics encoding: CRC32C against known vectors (both implementations),
// the PDU headers the initiator builds (byte offsets from the NVMe/TCP spec), the
// checks of received headers, SGL descriptors, and the Connect / Property commands.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/tcp/crc32c.h"
#include "modules/nvme/tcp/pdu.h"

namespace bdevkit::nvme {
namespace {

TEST(Crc32cTest, KnownVectors) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32c(check.data(), check.size()), 0xe3069283u);
  EXPECT_EQ(Crc32cFinish(Crc32cUpdateTable(kCrc32cInit, check.data(), check.size())), 0xe3069283u);
  // RFC 3720 (iSCSI) test patterns.
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8a9136aau);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62a8ab43u);
  EXPECT_EQ(Crc32c(inc.data(), 32), 0x46dd794eu);
  EXPECT_EQ(Crc32c(dec.data(), 32), 0x113fdb5cu);
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, PiecesAndImplementationsAgree) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(10007);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint32_t whole = Crc32c(buf.data(), buf.size());
  EXPECT_EQ(whole, Crc32cFinish(Crc32cUpdateTable(kCrc32cInit, buf.data(), buf.size())));
  // Any split (unaligned pieces) gives the same digest: the receiver updates per recv().
  uint32_t crc = kCrc32cInit;
  size_t off = 0;
  for (size_t piece : {1u, 3u, 8u, 13u, 4096u, 5000u}) {
    crc = Crc32cUpdate(crc, buf.data() + off, piece);
    off += piece;
  }
  crc = Crc32cUpdate(crc, buf.data() + off, buf.size() - off);
  EXPECT_EQ(Crc32cFinish(crc), whole);
}

TEST(PduTest, ICReqLayout) {
  ICReq r = MakeICReq(true, false);
  const auto* b = reinterpret_cast<const uint8_t*>(&r);
  EXPECT_EQ(b[0], 0x00);  // type ICReq
  EXPECT_EQ(b[2], 128);   // hlen
  EXPECT_EQ(b[3], 0);     // pdo
  uint32_t plen;
  std::memcpy(&plen, b + 4, 4);
  EXPECT_EQ(plen, 128u);
  EXPECT_EQ(b[8] | (b[9] << 8), 0);  // PFV 0
  EXPECT_EQ(b[10], 0);               // HPDA
  EXPECT_EQ(b[11], 0x01);            // header digest asked for, data digest not
  EXPECT_EQ(MakeICReq(false, true).digest, 0x02);
}

TEST(PduTest, ICRespChecks) {
  ICResp r{};
  r.ch.type = pdu_type::kICResp;
  r.ch.hlen = 128;
  r.ch.plen = 128;
  r.digest = kIcHdgstEnable | kIcDdgstEnable;
  r.maxh2cdata = 131072;
  EXPECT_TRUE(CheckICResp(r, true, true).ok());
  EXPECT_FALSE(CheckICResp(r, false, false).ok());  // digests differ from the request
  r.maxh2cdata = 100;
  EXPECT_FALSE(CheckICResp(r, true, true).ok());
  r.maxh2cdata = 8192;
  r.pfv = 1;
  EXPECT_FALSE(CheckICResp(r, true, true).ok());
  r.pfv = 0;
  r.ch.type = pdu_type::kC2HTermReq;
  EXPECT_FALSE(CheckICResp(r, true, true).ok());
}

TEST(PduTest, CapsuleWithInCapsuleDataAndDigests) {
  Command cmd{};
  cmd.opcode = io_op::kWrite;
  cmd.cid = 0x1234;
  SetSglDescriptor(cmd, sgl::kInCapsule, 512);
  uint8_t out[80];
  size_t n = BuildCapsuleHeader(out, cmd, 512, true, true);
  EXPECT_EQ(n, 76u);  // 72 + header digest
  EXPECT_EQ(out[0], pdu_type::kCapsuleCmd);
  EXPECT_EQ(out[1], pdu_flag::kHdgst | pdu_flag::kDdgst);
  EXPECT_EQ(out[2], 72);
  EXPECT_EQ(out[3], 76);  // data right after the header digest
  uint32_t plen;
  std::memcpy(&plen, out + 4, 4);
  EXPECT_EQ(plen, 76u + 512 + 4);
  EXPECT_TRUE(HeaderDigestOk(out, 72));
  out[10] ^= 1;
  EXPECT_FALSE(HeaderDigestOk(out, 72));
  // The SQE starts at byte 8: opcode, flags with PSDT 01b, CID; the SGL at SQE bytes
  // 24..39 with the type in the last byte.
  out[10] ^= 1;
  EXPECT_EQ(out[8], io_op::kWrite);
  EXPECT_EQ(out[9] & 0xc0, 0x40);
  EXPECT_EQ(out[10] | (out[11] << 8), 0x1234);
  uint32_t sgl_len;
  std::memcpy(&sgl_len, out + 8 + 32, 4);
  EXPECT_EQ(sgl_len, 512u);
  EXPECT_EQ(out[8 + 39], 0x01);  // Data Block, offset: in-capsule
  // Without data: no pdo, no data digest flag even if negotiated.
  Command flush{};
  SetSglDescriptor(flush, sgl::kTransport, 0);
  n = BuildCapsuleHeader(out, flush, 0, false, true);
  EXPECT_EQ(n, 72u);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[3], 0);
  std::memcpy(&plen, out + 4, 4);
  EXPECT_EQ(plen, 72u);
  EXPECT_EQ(out[8 + 39], 0x5a);  // Transport SGL Data Block
}

TEST(PduTest, H2CDataHeader) {
  uint8_t out[32];
  size_t n = BuildH2CDataHeader(out, 7, 9, 16384, 8192, true, false, true);
  EXPECT_EQ(n, 24u);
  DataHeader h;
  std::memcpy(&h, out, sizeof(h));
  EXPECT_EQ(h.ch.type, pdu_type::kH2CData);
  EXPECT_EQ(h.ch.flags, pdu_flag::kDdgst | pdu_flag::kDataLast);
  EXPECT_EQ(h.ch.pdo, 24);
  EXPECT_EQ(h.ch.plen, 24u + 8192 + 4);
  EXPECT_EQ(h.cccid, 7);
  EXPECT_EQ(h.ttag, 9);
  EXPECT_EQ(h.datao, 16384u);
  EXPECT_EQ(h.datal, 8192u);
}

TEST(PduTest, ReceivedHeaderChecks) {
  size_t hdr = 0;
  CommonHeader ch{pdu_type::kCapsuleResp, 0, 24, 0, 24};
  EXPECT_TRUE(CheckReceivedHeader(ch, false, false, &hdr).ok());
  EXPECT_EQ(hdr, 24u);
  // Negotiated header digests must be there.
  EXPECT_FALSE(CheckReceivedHeader(ch, true, false, &hdr).ok());
  ch.flags = pdu_flag::kHdgst;
  ch.plen = 28;
  EXPECT_TRUE(CheckReceivedHeader(ch, true, false, &hdr).ok());
  EXPECT_EQ(hdr, 28u);
  // ... and not-negotiated ones must not.
  EXPECT_FALSE(CheckReceivedHeader(ch, false, false, &hdr).ok());
  // Wrong hlen, types the host never receives, plen too short.
  EXPECT_FALSE(
      CheckReceivedHeader({pdu_type::kCapsuleResp, 0, 16, 0, 24}, false, false, &hdr).ok());
  EXPECT_FALSE(CheckReceivedHeader({pdu_type::kH2CData, 0, 24, 24, 48}, false, false, &hdr).ok());
  EXPECT_FALSE(CheckReceivedHeader({pdu_type::kR2T, 0, 24, 0, 20}, false, false, &hdr).ok());
  // C2HData: pdo inside the PDU, at or after the header (padding allowed).
  EXPECT_TRUE(
      CheckReceivedHeader({pdu_type::kC2HData, 0, 24, 32, 32 + 512}, false, false, &hdr).ok());
  EXPECT_FALSE(CheckReceivedHeader({pdu_type::kC2HData, 0, 24, 16, 600}, false, false, &hdr).ok());
  EXPECT_FALSE(CheckReceivedHeader({pdu_type::kC2HData, 0, 24, 64, 48}, false, false, &hdr).ok());
}

TEST(FabricsTest, ConnectLayout) {
  Command c = MakeConnect(3, 128, 10000);
  const auto* b = reinterpret_cast<const uint8_t*>(&c);
  EXPECT_EQ(b[0], 0x7f);                 // Fabrics
  EXPECT_EQ(b[4], 0x01);                 // FCTYPE Connect
  EXPECT_EQ(b[40] | (b[41] << 8), 0);    // RECFMT
  EXPECT_EQ(b[42] | (b[43] << 8), 3);    // QID
  EXPECT_EQ(b[44] | (b[45] << 8), 127);  // SQSIZE, 0-based
  uint32_t kato;
  std::memcpy(&kato, b + 48, 4);
  EXPECT_EQ(kato, 10000u);
  std::array<uint8_t, 16> hostid{};
  hostid[0] = 0xab;
  ConnectData d = MakeConnectData(hostid, 0xffff, "nqn.sub", "nqn.host");
  const auto* db = reinterpret_cast<const uint8_t*>(&d);
  EXPECT_EQ(db[0], 0xab);
  EXPECT_EQ(db[16] | (db[17] << 8), 0xffff);
  EXPECT_STREQ(reinterpret_cast<const char*>(db + 256), "nqn.sub");
  EXPECT_STREQ(reinterpret_cast<const char*>(db + 512), "nqn.host");
}

TEST(FabricsTest, PropertyCommands) {
  Command g = MakePropertyGet(0x00, true);
  const auto* b = reinterpret_cast<const uint8_t*>(&g);
  EXPECT_EQ(b[0], 0x7f);
  EXPECT_EQ(b[4], 0x04);      // Property Get
  EXPECT_EQ(b[40] & 7, 1);    // ATTRIB: 8 bytes
  EXPECT_EQ(g.cdw11, 0x00u);  // OFST at byte 44
  Command s = MakePropertySet(0x14, 0x460001);
  b = reinterpret_cast<const uint8_t*>(&s);
  EXPECT_EQ(b[4], 0x00);  // Property Set
  EXPECT_EQ(b[40] & 7, 0);
  uint32_t off, val;
  std::memcpy(&off, b + 44, 4);
  std::memcpy(&val, b + 48, 4);
  EXPECT_EQ(off, 0x14u);
  EXPECT_EQ(val, 0x460001u);
  Completion cpl{};
  cpl.cdw0 = 0x0000ffff;
  cpl.rsvd = 0x00000020;
  EXPECT_EQ(PropertyValue(cpl), 0x000000200000ffffull);
}

}  // namespace
}  // namespace bdevkit::nvme

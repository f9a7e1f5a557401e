#include "modules/nvme/tcp/tcp_transport.h"

#include <unistd.h>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/driver/status.h"
#include "modules/nvme/tcp/crc32c.h"
#include "modules/nvme/tcp/pdu.h"

namespace bdevkit::nvme {
namespace {

// Appends a PDU's data and (with ddgst) its digest.
void AppendData(std::vector<uint8_t>& out, const void* data, uint32_t len, bool ddgst) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + len);
  if (ddgst) {
    uint32_t d = Crc32c(data, len);
    const auto* dp = reinterpret_cast<const uint8_t*>(&d);
    out.insert(out.end(), dp, dp + kDigestSize);
  }
}

// Explains a failed Connect.
absl::Status ConnectError(const Completion& cpl, const TcpTransportOptions& o, uint16_t qid,
                          const std::string& hostnqn) {
  const std::string where = o.address.ToString();
  if (cpl.sct() == sct::kCommandSpecific && cpl.sc() == connect_sc::kInvalidParameters) {
    return absl::NotFoundError(absl::StrCat(
        "the target at ", where, " refused Connect to subsystem NQN '", o.subnqn,
        "' (invalid parameters: no such subsystem there, or not exported on this port)"));
  }
  if (cpl.sct() == sct::kCommandSpecific && cpl.sc() == connect_sc::kInvalidHost) {
    return absl::PermissionDeniedError(absl::StrCat("the target at ", where,
                                                    " does not allow host NQN '", hostnqn,
                                                    "' to access subsystem NQN '", o.subnqn, "'"));
  }
  if (cpl.sct() == sct::kCommandSpecific && cpl.sc() == connect_sc::kControllerBusy) {
    return absl::UnavailableError(
        absl::StrCat("the target at ", where, " is busy (Connect of queue ", qid, ")"));
  }
  return absl::FailedPreconditionError(absl::StrCat("Connect of queue ", qid, " to ", where,
                                                    " failed: ", StatusName(cpl.sct(), cpl.sc())));
}

}  // namespace

const std::array<uint8_t, 16>& DefaultHostId() {
  static const std::array<uint8_t, 16> id = [] {
    std::array<uint8_t, 16> b{};
    std::random_device rd;
    for (size_t i = 0; i < b.size(); i += 4) {
      uint32_t v = rd();
      std::memcpy(b.data() + i, &v, 4);
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // UUID version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 1
    return b;
  }();
  return id;
}

const std::string& DefaultHostNqn() {
  static const std::string nqn = [] {
    const auto& b = DefaultHostId();
    return absl::StrFormat(
        "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
        "%02x%02x%02x%02x%02x%02x",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]);
  }();
  return nqn;
}

TcpTransport::TcpTransport(TcpTransportOptions options)
    : options_(std::move(options)), address_(options_.address.ToString()) {}

absl::StatusOr<std::unique_ptr<IoQpair>> TcpTransport::CreateAdminQpair(const QpairConfig& config) {
  std::unique_ptr<TcpQpair> qp = TcpQpair::Create(config);
  absl::StatusOr<uint16_t> cntlid = ConnectQueue(*qp, kDynamicCntlid);
  if (!cntlid.ok()) return cntlid.status();
  cntlid_ = *cntlid;
  return std::unique_ptr<IoQpair>(std::move(qp));
}

absl::StatusOr<std::unique_ptr<IoQpair>> TcpTransport::CreateIoQpair(const QpairConfig& config) {
  return std::unique_ptr<IoQpair>(TcpQpair::Create(config));
}

absl::Status TcpTransport::StartIoQueue(IoQpair& qp, AdminRunner) {
  // Every qpair of this transport is a TcpQpair: it made them.
  absl::StatusOr<uint16_t> c = ConnectQueue(static_cast<TcpQpair&>(qp), cntlid_);
  return c.ok() ? absl::OkStatus() : c.status();
}

absl::Status TcpTransport::StopIoQueue(IoQpair&, AdminRunner) {
  // NVMe-oF has no queue deletion: the connection closes with the qpair.
  return absl::OkStatus();
}

void TcpTransport::SetControllerData(const ControllerData& data) {
  // IOCCSZ counts 16-byte units of the whole capsule; the first 64 bytes are the
  // command.
  io_icd_size_ = data.ioccsz > 4 ? data.ioccsz * 16 - 64 : 0;
}

absl::StatusOr<uint16_t> TcpTransport::ConnectQueue(TcpQpair& qp, uint16_t cntlid) {
  const TcpTransportOptions& o = options_;
  const uint16_t qid = qp.qid();
  const std::string hostnqn = o.hostnqn.empty() ? DefaultHostNqn() : o.hostnqn;
  auto fail = [&](int fd, const absl::Status& s) {
    if (fd >= 0) ::close(fd);
    return absl::Status(s.code(), absl::StrCat("NVMe/TCP queue ", qid, ": ", s.message()));
  };
  absl::StatusOr<int> sock = ConnectTcp(o.address, o.connect_timeout);
  if (!sock.ok()) return sock.status();  // names host:port already
  const int fd = *sock;
  const absl::Time deadline = absl::Now() + o.connect_timeout;

  // 1. Initialize Connection: the digests.
  ICReq req = MakeICReq(o.hdgst, o.ddgst);
  if (absl::Status s = SendFully(fd, &req, sizeof(req), deadline); !s.ok()) return fail(fd, s);
  ICResp resp{};
  if (absl::Status s = RecvFully(fd, &resp, sizeof(resp), deadline); !s.ok()) {
    return fail(fd, absl::Status(s.code(), absl::StrCat("no ICResp from ", address_,
                                                        " (is it "
                                                        "an NVMe/TCP target?): ",
                                                        s.message())));
  }
  if (absl::Status s = CheckICResp(resp, o.hdgst, o.ddgst); !s.ok()) return fail(fd, s);
  TcpConnectionParams params;
  params.hdgst = o.hdgst;
  params.ddgst = o.ddgst;
  params.maxh2cdata = resp.maxh2cdata;
  params.icd_size = qid == 0 ? kAdminInCapsuleData : io_icd_size_;

  // 2. Fabrics Connect, its 1 KiB of data in the capsule when the queue takes it,
  // else sent when the target asks for it (R2T).
  const ConnectData data = MakeConnectData(o.hostid, cntlid, o.subnqn, hostnqn);
  const uint32_t kato = qid == 0 ? o.keep_alive_timeout_ms : 0;
  Command cmd = MakeConnect(qid, qp.entries(), kato);
  const bool in_capsule = params.icd_size >= sizeof(data);
  SetSglDescriptor(cmd, in_capsule ? sgl::kInCapsule : sgl::kTransport, sizeof(data));
  std::vector<uint8_t> pdu(sizeof(CapsuleCmdHeader) + kDigestSize);
  pdu.resize(BuildCapsuleHeader(pdu.data(), cmd, in_capsule ? sizeof(data) : 0, o.hdgst, o.ddgst));
  if (in_capsule) AppendData(pdu, &data, sizeof(data), o.ddgst);
  if (absl::Status s = SendFully(fd, pdu.data(), pdu.size(), deadline); !s.ok()) return fail(fd, s);

  for (;;) {
    uint8_t hdr[kMaxHeaderSize];
    if (absl::Status s = RecvFully(fd, hdr, sizeof(CommonHeader), deadline); !s.ok()) {
      return fail(fd, absl::Status(s.code(), absl::StrCat("no answer to Connect: ", s.message())));
    }
    CommonHeader ch;
    std::memcpy(&ch, hdr, sizeof(ch));
    size_t full = 0;
    if (absl::Status s = CheckReceivedHeader(ch, o.hdgst, o.ddgst, &full); !s.ok()) {
      return fail(fd, s);
    }
    if (absl::Status s = RecvFully(fd, hdr + sizeof(ch), full - sizeof(ch), deadline); !s.ok()) {
      return fail(fd, s);
    }
    if ((ch.flags & pdu_flag::kHdgst) != 0 && !HeaderDigestOk(hdr, ch.hlen)) {
      return fail(fd, absl::DataLossError("header digest mismatch in the answer to Connect"));
    }
    if (ch.type == pdu_type::kR2T && !in_capsule) {
      R2THeader r2t;
      std::memcpy(&r2t, hdr, sizeof(r2t));
      if (uint64_t{r2t.r2to} + r2t.r2tl > sizeof(data)) {
        return fail(fd, absl::DataLossError("an R2T beyond Connect's data"));
      }
      uint32_t off = r2t.r2to, left = r2t.r2tl;
      while (left > 0) {
        const uint32_t n = std::min(left, params.maxh2cdata);
        std::vector<uint8_t> h2c(sizeof(DataHeader) + kDigestSize);
        h2c.resize(
            BuildH2CDataHeader(h2c.data(), 0, r2t.ttag, off, n, n == left, o.hdgst, o.ddgst));
        AppendData(h2c, reinterpret_cast<const uint8_t*>(&data) + off, n, o.ddgst);
        if (absl::Status s = SendFully(fd, h2c.data(), h2c.size(), deadline); !s.ok()) {
          return fail(fd, s);
        }
        off += n;
        left -= n;
      }
      continue;
    }
    if (ch.type == pdu_type::kC2HTermReq) {
      TermReqHeader t;
      std::memcpy(&t, hdr, sizeof(t));
      return fail(fd, absl::UnavailableError(absl::StrCat(
                          "the target terminated the connection during Connect (FES 0x",
                          absl::Hex(t.fes), ")")));
    }
    if (ch.type != pdu_type::kCapsuleResp) {
      return fail(fd, absl::DataLossError(
                          absl::StrCat("unexpected ", PduTypeName(ch.type), " during Connect")));
    }
    CapsuleRespHeader r;
    std::memcpy(&r, hdr, sizeof(r));
    if (!r.cqe.ok()) return fail(fd, ConnectError(r.cqe, o, qid, hostnqn));
    qp.Attach(fd, params);
    return static_cast<uint16_t>(r.cqe.cdw0 & 0xffff);
  }
}

}  // namespace bdevkit::nvme

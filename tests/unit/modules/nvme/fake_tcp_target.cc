#include "tests/unit/modules/nvme/fake_tcp_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/strings/str_cat.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/tcp/crc32c.h"
#include "modules/nvme/tcp/pdu.h"

namespace bdevkit::nvme::testing {
namespace {

bool ReadAll(int fd, void* buf, size_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::recv(fd, p, len, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const void* buf, size_t len) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// One whole PDU (8-byte common header, then the rest of plen).
bool ReadPdu(int fd, std::vector<uint8_t>& out) {
  out.resize(sizeof(CommonHeader));
  if (!ReadAll(fd, out.data(), out.size())) return false;
  CommonHeader ch;
  std::memcpy(&ch, out.data(), sizeof(ch));
  if (ch.plen < sizeof(ch) || ch.plen > (1u << 24)) return false;
  out.resize(ch.plen);
  return ReadAll(fd, out.data() + sizeof(ch), ch.plen - sizeof(ch));
}

void PutText(uint8_t* at, size_t width, const std::string& s) {
  std::memset(at, ' ', width);
  std::memcpy(at, s.data(), std::min(width, s.size()));
}

template <typename T>
void Put(uint8_t* at, T v) {
  std::memcpy(at, &v, sizeof(v));
}

}  // namespace

// One connection's state (its thread only).
struct FakeTcpTarget::Conn {
  int fd = -1;
  bool hd = false;
  bool dd = false;
  int qid = -1;  // before Connect
  uint16_t next_ttag = 1;

  // Sends header (with its digest) + data (with its digest).
  bool Send(const void* hdr, size_t hlen, const void* data = nullptr, size_t dlen = 0) {
    std::vector<uint8_t> out(static_cast<const uint8_t*>(hdr),
                             static_cast<const uint8_t*>(hdr) + hlen);
    if (hd) {
      uint32_t d = Crc32c(hdr, hlen);
      out.insert(out.end(), reinterpret_cast<uint8_t*>(&d), reinterpret_cast<uint8_t*>(&d) + 4);
    }
    if (dlen > 0) {
      out.insert(out.end(), static_cast<const uint8_t*>(data),
                 static_cast<const uint8_t*>(data) + dlen);
      if (dd) {
        uint32_t d = Crc32c(data, dlen);
        out.insert(out.end(), reinterpret_cast<uint8_t*>(&d), reinterpret_cast<uint8_t*>(&d) + 4);
      }
    }
    return WriteAll(fd, out.data(), out.size());
  }
  void Fill(CommonHeader& ch, uint8_t type, uint8_t hlen, size_t dlen, uint8_t extra_flags) {
    ch.type = type;
    ch.hlen = hlen;
    ch.flags = static_cast<uint8_t>(extra_flags | (hd ? pdu_flag::kHdgst : 0) |
                                    (dd && dlen > 0 ? pdu_flag::kDdgst : 0));
    const uint32_t h = hlen + (hd ? 4 : 0);
    ch.pdo = dlen > 0 ? static_cast<uint8_t>(h) : 0;
    ch.plen = h + static_cast<uint32_t>(dlen) + (dd && dlen > 0 ? 4 : 0);
  }
};

FakeTcpTarget::FakeTcpTarget() : FakeTcpTarget(Options{}) {}

FakeTcpTarget::FakeTcpTarget(Options options) : options_(std::move(options)) {
  data_.assign(options_.blocks * options_.block_size, 0);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof(a);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FakeTcpTarget::~FakeTcpTarget() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  DropConnections();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void FakeTcpTarget::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeTcpTarget::DropConnections() {
  std::lock_guard lock(mu_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

void FakeTcpTarget::Error(const std::string& what) {
  std::lock_guard lock(mu_);
  errors_.push_back(what);
}

std::vector<std::string> FakeTcpTarget::errors() {
  std::lock_guard lock(mu_);
  return errors_;
}

std::vector<uint8_t> FakeTcpTarget::Read(uint64_t offset, size_t len) {
  std::lock_guard lock(mu_);
  return std::vector<uint8_t>(data_.begin() + offset, data_.begin() + offset + len);
}

void FakeTcpTarget::Serve(int fd) {
  Conn c;
  c.fd = fd;
  auto finish = [&] {
    std::lock_guard lock(mu_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
    ::close(fd);
  };
  ICReq req;
  if (!ReadAll(fd, &req, sizeof(req))) return finish();
  if (req.ch.type != pdu_type::kICReq || req.ch.hlen != 128 || req.ch.plen != 128) {
    Error("bad ICReq");
    return finish();
  }
  c.hd = (req.digest & kIcHdgstEnable) != 0;
  c.dd = (req.digest & kIcDdgstEnable) != 0;
  last_hdgst_ = c.hd;
  last_ddgst_ = c.dd;
  ICResp resp{};
  resp.ch.type = pdu_type::kICResp;
  resp.ch.hlen = 128;
  resp.ch.plen = 128;
  resp.digest = req.digest;
  resp.maxh2cdata = options_.maxh2cdata;
  if (!WriteAll(fd, &resp, sizeof(resp))) return finish();

  // Capsules that arrived while a write's H2CData was awaited: served in order after.
  std::deque<std::vector<uint8_t>> pending;
  for (;;) {
    std::vector<uint8_t> pdu;
    if (!pending.empty()) {
      pdu = std::move(pending.front());
      pending.pop_front();
    } else if (!ReadPdu(fd, pdu)) {
      return finish();
    }
    CommonHeader ch;
    std::memcpy(&ch, pdu.data(), sizeof(ch));
    if (ch.type != pdu_type::kCapsuleCmd || ch.hlen != sizeof(CapsuleCmdHeader)) {
      Error(absl::StrCat("expected a CapsuleCmd, got type ", ch.type, " hlen ", ch.hlen));
      return finish();
    }
    const bool has_h = (ch.flags & pdu_flag::kHdgst) != 0;
    if (has_h != c.hd) Error("CapsuleCmd header digest flag does not match the negotiation");
    const size_t hdr_total = ch.hlen + (has_h ? 4 : 0);
    if (pdu.size() < hdr_total) return finish();
    if (has_h && !HeaderDigestOk(pdu.data(), ch.hlen)) Error("bad CapsuleCmd header digest");
    CapsuleCmdHeader cap;
    std::memcpy(&cap, pdu.data(), sizeof(cap));
    const Command& cmd = cap.cmd;
    std::vector<uint8_t> icd;
    if (ch.pdo != 0) {
      const size_t dd = (ch.flags & pdu_flag::kDdgst) != 0 ? 4 : 0;
      if (ch.pdo < hdr_total || ch.plen < ch.pdo + dd) {
        Error("bad CapsuleCmd pdo/plen");
        return finish();
      }
      icd.assign(pdu.begin() + ch.pdo, pdu.end() - static_cast<long>(dd));
      if (dd != 0) {
        uint32_t got;
        std::memcpy(&got, pdu.data() + pdu.size() - 4, 4);
        if (got != Crc32c(icd.data(), icd.size())) Error("bad in-capsule data digest");
      } else if (c.dd) {
        Error("in-capsule data without the negotiated data digest");
      }
    }
    if ((cmd.flags & sgl::kPsdtSgl) == 0) Error("a command without SGL (PSDT 01b)");
    const uint8_t type = SglType(cmd);
    const uint32_t len = SglLength(cmd);

    // The data the command carries to us (in-capsule, or asked for with R2T).
    auto get_data = [&](std::vector<uint8_t>& out) -> bool {
      if (type == sgl::kInCapsule) {
        if (icd.size() != len) Error("in-capsule data length differs from the SGL length");
        // The admin queue takes 8 KiB (what initiators use for Connect); I/O queues what
        // IOCCSZ says. A Connect is on the queue it names.
        const bool connect =
            cmd.opcode == admin_op::kFabrics && FabricsType(cmd) == fctype::kConnect;
        const int q = connect ? static_cast<int>(cmd.cdw10 >> 16) : c.qid;
        const uint32_t limit = q == 0 ? 8192 : options_.icd_size;
        if (len > limit) Error(absl::StrCat("in-capsule data of ", len, " > ", limit));
        out = icd;
        ++in_capsule_writes_;
        return true;
      }
      if (type != sgl::kTransport) Error(absl::StrCat("SGL type 0x", absl::Hex(type)));
      R2THeader r2t{};
      c.Fill(r2t.ch, pdu_type::kR2T, sizeof(R2THeader), 0, 0);
      r2t.cccid = cmd.cid;
      r2t.ttag = c.next_ttag++;
      r2t.r2to = 0;
      r2t.r2tl = len;
      if (!c.Send(&r2t, sizeof(r2t))) return false;
      ++r2t_writes_;
      out.assign(len, 0);
      uint32_t got_bytes = 0;
      while (got_bytes < len) {
        std::vector<uint8_t> h;
        if (!ReadPdu(fd, h)) return false;
        CommonHeader dh;
        std::memcpy(&dh, h.data(), sizeof(dh));
        const bool hh = (dh.flags & pdu_flag::kHdgst) != 0;
        if (dh.type == pdu_type::kCapsuleCmd) {
          pending.push_back(std::move(h));  // pipelined: the next command
          continue;
        }
        if (dh.type != pdu_type::kH2CData || dh.hlen != sizeof(DataHeader)) {
          Error("expected H2CData after R2T");
          return false;
        }
        if (hh && !HeaderDigestOk(h.data(), dh.hlen)) Error("bad H2CData header digest");
        DataHeader d;
        std::memcpy(&d, h.data(), sizeof(d));
        if (d.cccid != cmd.cid || d.ttag != r2t.ttag || d.datao != got_bytes ||
            d.datal > options_.maxh2cdata || d.datao + d.datal > len) {
          Error(absl::StrCat("bad H2CData: cccid ", d.cccid, " ttag ", d.ttag, " datao ", d.datao,
                             " datal ", d.datal));
          return false;
        }
        const size_t ddl = (dh.flags & pdu_flag::kDdgst) != 0 ? 4 : 0;
        if (dh.pdo + d.datal + ddl != dh.plen) {
          Error("H2CData plen does not add up");
          return false;
        }
        std::memcpy(out.data() + d.datao, h.data() + dh.pdo, d.datal);
        if (ddl != 0) {
          uint32_t dg;
          std::memcpy(&dg, h.data() + dh.pdo + d.datal, 4);
          if (dg != Crc32c(out.data() + d.datao, d.datal)) Error("bad H2CData data digest");
        }
        got_bytes += d.datal;
        const bool last = (dh.flags & pdu_flag::kDataLast) != 0;
        if (last != (got_bytes == len)) Error("H2CData LAST flag misplaced");
      }
      return true;
    };

    Completion cqe{};
    cqe.cid = cmd.cid;
    cqe.sq_id = static_cast<uint16_t>(std::max(c.qid, 0));
    auto status = [&](uint8_t sct_, uint8_t sc, bool dnr) {
      cqe.status = MakeStatus(sct_, sc, dnr);
    };
    bool skip_resp = false;

    if (c.qid < 0 && !(cmd.opcode == admin_op::kFabrics && FabricsType(cmd) == fctype::kConnect)) {
      Error("a command before Connect");
      status(sct::kGeneric, generic_sc::kSequenceError, true);
    } else if (cmd.opcode == admin_op::kFabrics) {
      switch (FabricsType(cmd)) {
        case fctype::kConnect: {
          std::vector<uint8_t> d;
          if (!get_data(d)) return finish();
          if (d.size() != sizeof(ConnectData)) {
            Error("Connect data is not 1024 bytes");
            status(sct::kGeneric, generic_sc::kInvalidField, true);
            break;
          }
          ConnectData cd;
          std::memcpy(&cd, d.data(), sizeof(cd));
          const uint16_t qid = static_cast<uint16_t>(cmd.cdw10 >> 16);
          if (refuse_connect_ || std::string(cd.subnqn) != options_.subnqn) {
            status(sct::kCommandSpecific, connect_sc::kInvalidParameters, true);
            break;
          }
          std::lock_guard lock(mu_);
          if (qid == 0) {
            if (cd.cntlid != kDynamicCntlid) Error("admin Connect without cntlid 0xFFFF");
            cc_ = 0;
            csts_ = 0;
            cqe.cdw0 = next_cntlid_++;
            ++admin_connects_;
          } else {
            if (cd.cntlid + 1 != next_cntlid_) Error("I/O Connect with a stale cntlid");
            cqe.cdw0 = cd.cntlid;
            ++io_connects_;
          }
          c.qid = qid;
          break;
        }
        case fctype::kPropertyGet: {
          std::lock_guard lock(mu_);
          uint64_t v = 0;
          switch (cmd.cdw11) {
            case reg::kCap:
              v = 127 | (1u << 16) | (2u << 24) | (uint64_t{1} << 37);
              break;
            case reg::kVs:
              v = 0x10400;
              break;
            case reg::kCc:
              v = cc_;
              break;
            case reg::kCsts:
              v = csts_;
              break;
            default:
              status(sct::kGeneric, generic_sc::kInvalidField, true);
          }
          cqe.cdw0 = static_cast<uint32_t>(v);
          cqe.rsvd = static_cast<uint32_t>(v >> 32);
          break;
        }
        case fctype::kPropertySet: {
          std::lock_guard lock(mu_);
          if (cmd.cdw11 != reg::kCc) {
            status(sct::kGeneric, generic_sc::kInvalidField, true);
            break;
          }
          cc_ = cmd.cdw12;
          csts_ = (cc_ & cc::kEnable) ? csts::kReady : 0;
          if ((cc_ & cc::kShnMask) != 0) csts_ |= csts::kShstComplete;
          break;
        }
        default:
          status(sct::kGeneric, generic_sc::kInvalidOpcode, true);
      }
    } else if (c.qid == 0) {
      switch (cmd.opcode) {
        case admin_op::kIdentify: {
          std::vector<uint8_t> id(4096, 0);
          const uint32_t cns = cmd.cdw10 & 0xff;
          if (cns == cns::kController) {
            Put<uint16_t>(&id[0], 0x1b36);
            PutText(&id[4], 20, "bdevkit-fake-tcp");
            PutText(&id[24], 40, "fake NVMe/TCP target");
            PutText(&id[64], 8, "1.0");
            id[77] = options_.mdts;
            Put<uint16_t>(&id[78], static_cast<uint16_t>(next_cntlid_ - 1));
            Put<uint32_t>(&id[80], 0x10400);
            id[258] = 3;
            id[512] = 0x66;
            id[513] = 0x44;
            Put<uint32_t>(&id[516], 1);
            Put<uint16_t>(&id[520], (1u << 2) | (1u << 3));
            Put<uint32_t>(&id[536], 1 | (1u << 20));
            std::memcpy(&id[768], options_.subnqn.data(), options_.subnqn.size());
            Put<uint32_t>(&id[1792], (64 + options_.icd_size) / 16);
            Put<uint32_t>(&id[1796], 1);
          } else if (cns == cns::kActiveNamespaceList) {
            if (cmd.nsid < 1) Put<uint32_t>(&id[0], 1);
          } else if (cns == cns::kNamespace && cmd.nsid == 1) {
            Put<uint64_t>(&id[0], options_.blocks);
            Put<uint64_t>(&id[8], options_.blocks);
            Put<uint64_t>(&id[16], options_.blocks);
            id[25] = 0;
            id[26] = 0;
            id[130] = static_cast<uint8_t>(__builtin_ctz(options_.block_size));
          } else {
            status(sct::kGeneric, generic_sc::kInvalidField, true);
            break;
          }
          if (type != sgl::kTransport || len != 4096)
            Error("Identify without a 4 KiB transport SGL");
          // Data in one C2HData PDU, then the response.
          DataHeader dh{};
          c.Fill(dh.ch, pdu_type::kC2HData, sizeof(DataHeader), id.size(), pdu_flag::kDataLast);
          dh.cccid = cmd.cid;
          dh.datal = static_cast<uint32_t>(id.size());
          if (!c.Send(&dh, sizeof(dh), id.data(), id.size())) return finish();
          break;
        }
        case admin_op::kSetFeatures:
          if ((cmd.cdw10 & 0xff) == feature::kNumberOfQueues) cqe.cdw0 = (3u << 16) | 3u;
          break;
        case admin_op::kKeepAlive:
          ++keep_alives_;
          // A target that hangs with the connection still open: no answer.
          skip_resp = ignore_keep_alive_;
          break;
        case admin_op::kAbort:
          cqe.cdw0 = 1;
          break;
        default:
          status(sct::kGeneric, generic_sc::kInvalidOpcode, true);
      }
    } else {
      const uint64_t bs = options_.block_size;
      const uint64_t lba = cmd.cdw10 | (uint64_t{cmd.cdw11} << 32);
      const uint64_t nlb = (cmd.cdw12 & 0xffff) + 1;
      const bool in_range = cmd.nsid == 1 && lba + nlb <= options_.blocks;
      switch (cmd.opcode) {
        case io_op::kRead: {
          if (!in_range || len != nlb * bs) {
            status(sct::kGeneric, generic_sc::kLbaOutOfRange, true);
            break;
          }
          std::vector<uint8_t> d = Read(lba * bs, len);
          for (uint32_t off = 0; off < len; off += options_.c2h_chunk) {
            const uint32_t n = std::min(options_.c2h_chunk, len - off);
            const bool last = off + n == len;
            DataHeader dh{};
            c.Fill(dh.ch, pdu_type::kC2HData, sizeof(DataHeader), n,
                   last
                       ? (pdu_flag::kDataLast | (options_.c2h_success ? pdu_flag::kDataSuccess : 0))
                       : 0);
            dh.cccid = cmd.cid;
            dh.datao = off;
            dh.datal = n;
            if (!c.Send(&dh, sizeof(dh), d.data() + off, n)) return finish();
          }
          skip_resp = options_.c2h_success;
          break;
        }
        case io_op::kWrite: {
          std::vector<uint8_t> d;
          if (!get_data(d)) return finish();
          if (!in_range || d.size() != nlb * bs) {
            status(sct::kGeneric, generic_sc::kLbaOutOfRange, true);
            break;
          }
          std::lock_guard lock(mu_);
          std::memcpy(data_.data() + lba * bs, d.data(), d.size());
          break;
        }
        case io_op::kFlush:
          break;
        case io_op::kWriteZeroes: {
          if (!in_range) {
            status(sct::kGeneric, generic_sc::kLbaOutOfRange, true);
            break;
          }
          std::lock_guard lock(mu_);
          std::memset(data_.data() + lba * bs, 0, nlb * bs);
          break;
        }
        case io_op::kDatasetManagement: {
          std::vector<uint8_t> d;
          if (!get_data(d)) return finish();
          DsmRange r;
          std::memcpy(&r, d.data(), sizeof(r));
          if (r.start_lba + r.length_blocks > options_.blocks) {
            status(sct::kGeneric, generic_sc::kLbaOutOfRange, true);
            break;
          }
          std::lock_guard lock(mu_);
          std::memset(data_.data() + r.start_lba * bs, 0, r.length_blocks * bs);
          break;
        }
        default:
          status(sct::kGeneric, generic_sc::kInvalidOpcode, true);
      }
    }
    if (skip_resp) continue;
    CapsuleRespHeader rh{};
    c.Fill(rh.ch, pdu_type::kCapsuleResp, sizeof(CapsuleRespHeader), 0, 0);
    rh.cqe = cqe;
    if (!c.Send(&rh, sizeof(rh))) return finish();
  }
}

}  // namespace bdevkit::nvme::testing

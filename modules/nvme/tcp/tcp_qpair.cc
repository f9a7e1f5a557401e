#include "modules/nvme/tcp/tcp_qpair.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bdevkit/log.h"
#include "bdevkit/runtime.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/tcp/crc32c.h"

namespace bdevkit::nvme {
namespace {

constexpr size_t kRxBufferSize = 64 * 1024;
constexpr uint8_t kHostPathingError = 0x70;  // SCT 3 (path related)

// Copies `len` bytes of the request's data starting at `offset` to `dst`.
void CopyFromIov(const Request& req, uint32_t offset, uint8_t* dst, uint32_t len) {
  for (int i = 0; i < req.iovcnt && len > 0; ++i) {
    const size_t n = req.iovs[i].iov_len;
    if (offset >= n) {
      offset -= static_cast<uint32_t>(n);
      continue;
    }
    const size_t take = std::min<size_t>(n - offset, len);
    std::memcpy(dst, static_cast<const uint8_t*>(req.iovs[i].iov_base) + offset, take);
    dst += take;
    len -= static_cast<uint32_t>(take);
    offset = 0;
  }
}

// Copies `len` bytes from `src` into the request's data at `offset`.
void CopyToIov(const Request& req, uint32_t offset, const uint8_t* src, size_t len) {
  for (int i = 0; i < req.iovcnt && len > 0; ++i) {
    const size_t n = req.iovs[i].iov_len;
    if (offset >= n) {
      offset -= static_cast<uint32_t>(n);
      continue;
    }
    const size_t take = std::min<size_t>(n - offset, len);
    std::memcpy(static_cast<uint8_t*>(req.iovs[i].iov_base) + offset, src, take);
    src += take;
    len -= take;
    offset = 0;
  }
}

}  // namespace

std::unique_ptr<TcpQpair> TcpQpair::Create(const QpairConfig& config) {
  return std::unique_ptr<TcpQpair>(new TcpQpair(config));
}

TcpQpair::TcpQpair(const QpairConfig& config) : IoQpair(config) {
  trackers_.resize(config_.entries - 1);
  for (size_t i = trackers_.size(); i-- > 0;) {
    Tracker& t = trackers_[i];
    t.cid = static_cast<uint16_t>(i);
    t.next_free = free_;
    free_ = &t;
  }
  // Room for one H2CData PDU of a whole transfer, or many capsules.
  tx_.resize(size_t{config_.max_transfer} + kMaxInCapsuleData + 4096);
  rx_.resize(kRxBufferSize);
  ResetRx();
}

TcpQpair::~TcpQpair() {
  if (!idle()) {
    LOG_ERROR("nvme: tcp qpair %d destroyed with %u commands outstanding and %u queued",
              config_.qid, outstanding_, queue_.size());
  }
  if (fd_ >= 0) ::close(fd_);
}

void TcpQpair::Attach(int fd, const TcpConnectionParams& params) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  params_ = params;
  params_.icd_size = std::min(params_.icd_size, kMaxInCapsuleData);
  h2c_chunk_ = std::min(params_.maxh2cdata, config_.max_transfer);
  tx_head_ = tx_tail_ = 0;
  h2c_head_ = h2c_tail_ = nullptr;
  ResetRx();
  break_reason_ = nullptr;
}

void TcpQpair::ResetRx() {
  rx_state_ = RxState::kHeader;
  rx_hdr_len_ = 0;
  rx_hdr_need_ = sizeof(CommonHeader);
  rx_left_ = 0;
  rx_tracker_ = nullptr;
}

int TcpQpair::Submit(Request& req) {
  if (failed_) return -ENODEV;
  if ((suspended_ || broken_) && FailIo()) return -EIO;
  if (req.data_len > config_.max_transfer) return -EINVAL;
  uint64_t sum = 0;
  for (int i = 0; i < req.iovcnt; ++i) sum += req.iovs[i].iov_len;
  if (sum != req.data_len) return -EINVAL;
  req.next = nullptr;
  // Keep submission order: nothing overtakes requests already waiting.
  if (suspended_ || broken_ || !queue_.empty() || !TryStart(req)) Enqueue(req);
  return 0;
}

void TcpQpair::Enqueue(Request& req) {
  queue_.PushBack(req);
  ++stats_.queued;
}

bool TcpQpair::TxReserve(size_t bytes) {
  if (tx_.size() - tx_tail_ >= bytes) return true;
  if (tx_head_ > 0) {
    // Move what is left to send to the front (usually little or nothing).
    std::memmove(tx_.data(), tx_.data() + tx_head_, tx_tail_ - tx_head_);
    tx_tail_ -= tx_head_;
    tx_head_ = 0;
  }
  return tx_.size() - tx_tail_ >= bytes;
}

bool TcpQpair::TryStart(Request& req) {
  Tracker* t = free_;
  if (t == nullptr) return false;
  const bool hd = params_.hdgst, dd = params_.ddgst;
  const bool in_capsule = req.to_device && req.data_len > 0 && req.data_len <= params_.icd_size;
  const uint32_t icd = in_capsule ? req.data_len : 0;
  const size_t need = sizeof(CapsuleCmdHeader) + kDigestSize + icd + kDigestSize;
  if (!TxReserve(need)) return false;

  Command cmd = req.cmd;
  cmd.cid = t->cid;
  SetSglDescriptor(cmd, in_capsule ? sgl::kInCapsule : sgl::kTransport, req.data_len);
  uint8_t* out = tx_.data() + tx_tail_;
  size_t len = BuildCapsuleHeader(out, cmd, icd, hd, dd);
  if (in_capsule) {
    CopyFromIov(req, 0, out + len, icd);
    if (dd) {
      const uint32_t digest = Crc32c(out + len, icd);
      std::memcpy(out + len + icd, &digest, kDigestSize);
      len += kDigestSize;
    }
    len += icd;
    ++stats_.bounced;
  }
  tx_tail_ += len;

  free_ = t->next_free;
  t->req = &req;
  t->seq = next_seq_++;
  t->timeout_reported = false;
  t->h2c_left = 0;
  if (config_.track_timeouts) t->submit_ticks = GetTicks();
  ++outstanding_;
  ++stats_.submitted;
  return true;
}

void TcpQpair::Flush() {
  while (tx_head_ < tx_tail_ && !broken_) {
    ssize_t n =
        ::send(fd_, tx_.data() + tx_head_, tx_tail_ - tx_head_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      tx_head_ += static_cast<size_t>(n);
      ++stats_.sq_doorbells;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Break("sending to the target failed");
    return;
  }
  if (tx_head_ == tx_tail_) tx_head_ = tx_tail_ = 0;
}

void TcpQpair::SendH2CData() {
  const bool hd = params_.hdgst, dd = params_.ddgst;
  while (h2c_head_ != nullptr && !broken_) {
    Tracker* t = h2c_head_;
    if (t->req == nullptr || t->h2c_left == 0) {
      h2c_head_ = t->next_h2c;
      if (h2c_head_ == nullptr) h2c_tail_ = nullptr;
      t->in_h2c = false;
      continue;
    }
    const uint32_t chunk = std::min(t->h2c_left, h2c_chunk_);
    const size_t need = sizeof(DataHeader) + kDigestSize + chunk + kDigestSize;
    if (!TxReserve(need)) {
      Flush();
      if (!TxReserve(need)) return;  // the socket is full: next Poll()
    }
    const bool last = chunk == t->h2c_left;
    uint8_t* out = tx_.data() + tx_tail_;
    size_t len = BuildH2CDataHeader(out, t->cid, t->ttag, t->h2c_offset, chunk, last, hd, dd);
    CopyFromIov(*t->req, t->h2c_offset, out + len, chunk);
    if (dd) {
      const uint32_t digest = Crc32c(out + len, chunk);
      std::memcpy(out + len + chunk, &digest, kDigestSize);
      len += kDigestSize;
    }
    tx_tail_ += len + chunk;
    t->h2c_offset += chunk;
    t->h2c_left -= chunk;
  }
}

TcpQpair::Tracker* TcpQpair::TrackerFor(uint16_t cid) {
  if (cid >= trackers_.size() || trackers_[cid].req == nullptr) return nullptr;
  return &trackers_[cid];
}

void TcpQpair::Break(const char* reason) {
  if (broken_) return;
  broken_ = true;
  break_reason_ = reason;
  LOG_WARNING("nvme: tcp queue %u: %s; %u command(s) held until it is reconnected", config_.qid,
              reason, outstanding_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void TcpQpair::Complete(Tracker& t, const Completion& cpl) {
  Request& req = *t.req;
  t.req = nullptr;
  t.h2c_left = 0;
  t.next_free = free_;
  free_ = &t;
  --outstanding_;
  ++stats_.completed;
  ++completed_;
  req.cb(req.cb_arg, cpl);
}

void TcpQpair::Consume(const uint8_t* p, size_t n) {
  while (n > 0 && !broken_) {
    switch (rx_state_) {
      case RxState::kHeader: {
        const size_t take = std::min(n, rx_hdr_need_ - rx_hdr_len_);
        std::memcpy(rx_hdr_ + rx_hdr_len_, p, take);
        rx_hdr_len_ += take;
        p += take;
        n -= take;
        if (rx_hdr_len_ < rx_hdr_need_) break;
        if (rx_hdr_need_ == sizeof(CommonHeader)) {
          CommonHeader ch;
          std::memcpy(&ch, rx_hdr_, sizeof(ch));
          size_t full = 0;
          if (!CheckReceivedHeader(ch, params_.hdgst, params_.ddgst, &full).ok()) {
            return Break("the target sent a malformed PDU header");
          }
          rx_hdr_need_ = full;
          if (rx_hdr_len_ < rx_hdr_need_) break;
        }
        OnHeader();
        break;
      }
      case RxState::kPad:
      case RxState::kSkip: {
        const size_t take = std::min(n, rx_left_);
        p += take;
        n -= take;
        rx_left_ -= take;
        if (rx_left_ > 0) break;
        if (rx_state_ == RxState::kSkip) {
          ResetRx();
          break;
        }
        DataHeader h;
        std::memcpy(&h, rx_hdr_, sizeof(h));
        rx_left_ = h.datal;
        rx_state_ = RxState::kData;
        if (rx_left_ == 0) OnC2HDataEnd();
        break;
      }
      case RxState::kData: {
        const size_t take = std::min(n, rx_left_);
        CopyToIov(*rx_tracker_->req, rx_data_offset_, p, take);
        if ((rx_flags_ & pdu_flag::kDdgst) != 0) rx_crc_ = Crc32cUpdate(rx_crc_, p, take);
        rx_data_offset_ += static_cast<uint32_t>(take);
        p += take;
        n -= take;
        rx_left_ -= take;
        if (rx_left_ > 0) break;
        if ((rx_flags_ & pdu_flag::kDdgst) != 0) {
          rx_state_ = RxState::kDigest;
          rx_left_ = kDigestSize;
        } else {
          OnC2HDataEnd();
        }
        break;
      }
      case RxState::kDigest: {
        const size_t take = std::min(n, rx_left_);
        std::memcpy(rx_digest_ + (kDigestSize - rx_left_), p, take);
        p += take;
        n -= take;
        rx_left_ -= take;
        if (rx_left_ > 0) break;
        uint32_t got;
        std::memcpy(&got, rx_digest_, kDigestSize);
        if (got != Crc32cFinish(rx_crc_)) return Break("data digest mismatch in a C2HData PDU");
        OnC2HDataEnd();
        break;
      }
    }
  }
}

void TcpQpair::OnHeader() {
  CommonHeader ch;
  std::memcpy(&ch, rx_hdr_, sizeof(ch));
  if ((ch.flags & pdu_flag::kHdgst) != 0 && !HeaderDigestOk(rx_hdr_, ch.hlen)) {
    return Break("header digest mismatch");
  }
  switch (ch.type) {
    case pdu_type::kCapsuleResp: {
      CapsuleRespHeader h;
      std::memcpy(&h, rx_hdr_, sizeof(h));
      ResetRx();
      Tracker* t = TrackerFor(h.cqe.cid);
      if (t == nullptr) return Break("a response for a command not in flight");
      return Complete(*t, h.cqe);
    }
    case pdu_type::kR2T: {
      R2THeader h;
      std::memcpy(&h, rx_hdr_, sizeof(h));
      ResetRx();
      Tracker* t = TrackerFor(h.cccid);
      if (t == nullptr || !t->req->to_device || h.r2tl == 0 ||
          uint64_t{h.r2to} + h.r2tl > t->req->data_len) {
        return Break("an R2T that does not match a write in flight");
      }
      t->h2c_offset = h.r2to;
      t->h2c_left = h.r2tl;
      t->ttag = h.ttag;
      if (!t->in_h2c) {
        t->in_h2c = true;
        t->next_h2c = nullptr;
        (h2c_tail_ != nullptr ? h2c_tail_->next_h2c : h2c_head_) = t;
        h2c_tail_ = t;
      }
      return;
    }
    case pdu_type::kC2HData: {
      DataHeader h;
      std::memcpy(&h, rx_hdr_, sizeof(h));
      Tracker* t = TrackerFor(h.cccid);
      const uint32_t ddgst = (ch.flags & pdu_flag::kDdgst) != 0 ? kDigestSize : 0;
      if (t == nullptr || t->req->to_device || uint64_t{h.datao} + h.datal > t->req->data_len ||
          uint64_t{ch.pdo} + h.datal + ddgst != ch.plen) {
        return Break("a C2HData PDU that does not match a read in flight");
      }
      if ((ch.flags & pdu_flag::kDataSuccess) != 0 && (ch.flags & pdu_flag::kDataLast) == 0) {
        return Break("a C2HData PDU with SUCCESS but not LAST");
      }
      rx_tracker_ = t;
      rx_data_offset_ = h.datao;
      rx_flags_ = ch.flags;
      rx_crc_ = kCrc32cInit;
      rx_state_ = RxState::kPad;
      rx_left_ = ch.pdo - rx_hdr_need_;
      if (rx_left_ == 0) {
        rx_state_ = RxState::kData;
        rx_left_ = h.datal;
        if (rx_left_ == 0) OnC2HDataEnd();
      }
      return;
    }
    case pdu_type::kC2HTermReq: {
      TermReqHeader h;
      std::memcpy(&h, rx_hdr_, sizeof(h));
      LOG_ERROR("nvme: tcp queue %u: the target terminated the connection (FES 0x%x)", config_.qid,
                h.fes);
      return Break("the target sent a C2HTermReq");
    }
  }
  Break("an unexpected PDU");
}

void TcpQpair::OnC2HDataEnd() {
  Tracker* t = rx_tracker_;
  const uint8_t flags = rx_flags_;
  ResetRx();
  if ((flags & pdu_flag::kDataSuccess) != 0) {
    // The target skips the CapsuleResp: the command succeeded.
    Completion cpl{};
    cpl.cid = t->cid;
    cpl.sq_id = config_.qid;
    Complete(*t, cpl);
  }
}

void TcpQpair::StartQueued() {
  while (!queue_.empty() && !suspended_ && !broken_) {
    if (!TryStart(queue_.front())) break;
    queue_.PopFront();
  }
}

uint32_t TcpQpair::Poll(uint32_t max_completions) {
  (void)max_completions;  // a recv()'s worth is parsed at once
  if (suspended_ || broken_) {
    if (FailIo()) FailHeld();
    if (config_.ctrlr_epoch == nullptr) return 0;
    // Acquire: the new connection (Attach) happens-before we touch it.
    uint32_t epoch = config_.ctrlr_epoch->load(std::memory_order_acquire);
    if (epoch == epoch_seen_) return 0;
    Resume(epoch);
    if (failed_ || fd_ < 0) return 0;
  }
  completed_ = 0;
  SendH2CData();
  Flush();
  while (!broken_) {
    ssize_t n = ::recv(fd_, rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n > 0) {
      ++stats_.cq_doorbells;
      Consume(rx_.data(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < rx_.size()) break;
      continue;
    }
    if (n == 0) {
      Break("the target closed the connection");
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Break("receiving from the target failed");
  }
  StartQueued();
  SendH2CData();
  Flush();
  return completed_;
}

void TcpQpair::Resume(uint32_t epoch) {
  epoch_seen_ = epoch;
  // The new association knows none of our commands: take the outstanding ones back,
  // latest first, so pushing each to the front of the software queue keeps the order.
  while (outstanding_ > 0) {
    Tracker* latest = nullptr;
    for (Tracker& t : trackers_) {
      if (t.req != nullptr && (latest == nullptr || t.seq > latest->seq)) latest = &t;
    }
    Request& req = *latest->req;
    latest->req = nullptr;
    latest->h2c_left = 0;
    latest->next_free = free_;
    free_ = latest;
    --outstanding_;
    queue_.PushFront(req);
  }
  for (Tracker& t : trackers_) t.in_h2c = false;
  h2c_head_ = h2c_tail_ = nullptr;
  suspended_ = false;
  broken_ = false;
  if ((epoch & kEpochFailed) != 0) {
    failed_ = true;
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    FailQueued(MakeStatus(sct::kGeneric, generic_sc::kAbortSqDeleted, /*dnr=*/true));
    return;
  }
  // Requests already resubmitted too often fail rather than loop forever.
  stats_.resubmitted += queue_.TrimForResubmit(
      config_.max_resubmits, MakeStatus(sct::kGeneric, generic_sc::kAbortSqDeleted, /*dnr=*/true),
      config_.qid);
}

void TcpQpair::FailQueued(uint16_t status) { queue_.FailAll(status, config_.qid); }

void TcpQpair::FailHeld() {
  // fast_io_fail_timeout_sec passed while disconnected: what we hold fails now (the
  // association is gone, so nothing of it can complete later).
  const uint16_t status = MakeStatus(sct::kPath, kHostPathingError, /*dnr=*/false);
  while (outstanding_ > 0) {
    Tracker* oldest = nullptr;
    for (Tracker& t : trackers_) {
      if (t.req != nullptr && (oldest == nullptr || t.seq < oldest->seq)) oldest = &t;
    }
    Completion cpl{};
    cpl.status = status;
    cpl.cid = oldest->cid;
    cpl.sq_id = config_.qid;
    Complete(*oldest, cpl);
  }
  // (The R2T list is left alone: the connecting thread may be resetting it; Resume
  // and Attach start it afresh.)
  for (Tracker& t : trackers_) t.in_h2c = false;
  FailQueued(status);
}

void TcpQpair::CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn, void* arg) {
  if (!config_.track_timeouts || outstanding_ == 0 || suspended_ || broken_) return;
  for (Tracker& t : trackers_) {
    if (t.req == nullptr || now_ticks - t.submit_ticks <= timeout_ticks) continue;
    bool first = !t.timeout_reported;
    t.timeout_reported = true;
    fn(arg, *this, t.cid, first);
    if (suspended_) return;  // the callback started a reset
  }
}

}  // namespace bdevkit::nvme

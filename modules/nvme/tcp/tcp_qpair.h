// The NVMe/TCP transport's queue pair: one TCP connection carrying one NVMe queue,
// driven by one thread with a non-blocking socket.
//
// Submit() encodes a CapsuleCmd PDU into the send buffer (writes up to the queue's
// in-capsule data size carry their data in the capsule; larger ones wait for the
// target's R2T and go as H2CData PDUs; reads come back as C2HData PDUs, copied into
// the request's iovecs as they arrive). Poll() sends what is buffered, receives what
// the socket holds, parses PDUs with a byte-wise state machine (any split across
// recv() calls), completes requests on CapsuleResp (or on a C2HData with the SUCCESS
// flag) and checks digests (CRC32C) when negotiated. No locks, no allocation: the
// buffers and one tracker per command ID are allocated at creation.
//
// Connection loss (EOF, socket error, protocol or digest error) marks the qpair
// broken(): it then holds its requests like a suspended qpair until the controller
// reconnects it (Attach) and bumps the epoch, and it resubmits them in order; or, once
// the controller says so (fail_io), fails them.
#ifndef BDEVKIT_MODULES_NVME_TCP_TCP_QPAIR_H_
#define BDEVKIT_MODULES_NVME_TCP_TCP_QPAIR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "modules/nvme/driver/io_qpair.h"
#include "modules/nvme/tcp/pdu.h"

namespace bdevkit::nvme {

// What a connection negotiated and what the queue may put in a capsule.
struct TcpConnectionParams {
  bool hdgst = false;
  bool ddgst = false;
  uint32_t maxh2cdata = 0;  // from ICResp: most data in one H2CData PDU
  uint32_t icd_size = 0;    // in-capsule data limit for commands to the device
};

// The largest in-capsule data a queue uses (the capsule is copied into the send
// buffer).
inline constexpr uint32_t kMaxInCapsuleData = 16384;

class TcpQpair final : public IoQpair {
 public:
  // Allocates the trackers and buffers; no connection yet (Attach). Control plane.
  static std::unique_ptr<TcpQpair> Create(const QpairConfig& config);
  ~TcpQpair() override;  // closes the socket

  // Gives the qpair a connected, set-up socket (ICReq/ICResp and Fabrics Connect done,
  // non-blocking), replacing and closing an old one, and resets the transfer state.
  // The qpair is new, suspended or broken: its thread does not touch the connection.
  // Control plane (the connecting thread).
  void Attach(int fd, const TcpConnectionParams& params);

  int Submit(Request& req) override;
  uint32_t Poll(uint32_t max_completions = 0) override;
  void CheckTimeouts(uint64_t now_ticks, uint64_t timeout_ticks, TimeoutFn fn, void* arg) override;

  int fd() const { return fd_; }
  const TcpConnectionParams& params() const { return params_; }
  // Why the connection broke (static text), or nullptr.
  const char* break_reason() const { return break_reason_; }

 private:
  struct Tracker {
    Request* req = nullptr;
    uint64_t submit_ticks = 0;
    uint64_t seq = 0;  // submission order, for resubmission after a reconnect
    uint16_t cid = 0;
    bool timeout_reported = false;
    Tracker* next_free = nullptr;
    // Data the target asked for with an R2T and we have not sent yet.
    uint32_t h2c_offset = 0;
    uint32_t h2c_left = 0;
    uint16_t ttag = 0;
    bool in_h2c = false;
    Tracker* next_h2c = nullptr;
  };
  enum class RxState { kHeader, kPad, kData, kDigest, kSkip };

  explicit TcpQpair(const QpairConfig& config);

  bool TryStart(Request& req);
  bool TxReserve(size_t bytes);
  void Flush();
  void SendH2CData();
  void Consume(const uint8_t* p, size_t n);
  void OnHeader();
  void OnC2HDataEnd();
  void ResetRx();
  void Complete(Tracker& t, const Completion& cpl);
  Tracker* TrackerFor(uint16_t cid);
  void Break(const char* reason);
  void Enqueue(Request& req);
  void StartQueued();
  void Resume(uint32_t epoch);
  void FailQueued(uint16_t status);
  void FailHeld();
  bool FailIo() const {
    return config_.fail_io != nullptr && config_.fail_io->load(std::memory_order_acquire);
  }

  int fd_ = -1;
  TcpConnectionParams params_;
  uint32_t h2c_chunk_ = 0;  // data bytes per H2CData PDU
  const char* break_reason_ = nullptr;

  std::vector<Tracker> trackers_;
  Tracker* free_ = nullptr;
  uint64_t next_seq_ = 0;
  Tracker* h2c_head_ = nullptr;  // trackers with R2T data to send, in arrival order
  Tracker* h2c_tail_ = nullptr;

  // Send buffer: bytes [tx_head_, tx_tail_) are encoded PDUs not yet sent.
  std::vector<uint8_t> tx_;
  size_t tx_head_ = 0;
  size_t tx_tail_ = 0;

  // Receive side: recv() lands in rx_, the state machine takes it from there.
  std::vector<uint8_t> rx_;
  RxState rx_state_ = RxState::kHeader;
  uint8_t rx_hdr_[kMaxHeaderSize] = {};
  size_t rx_hdr_len_ = 0;          // bytes of the header collected
  size_t rx_hdr_need_ = 0;         // bytes of the header (8 until the common header is in)
  size_t rx_left_ = 0;             // bytes left in the current pad/data/digest/skip state
  Tracker* rx_tracker_ = nullptr;  // C2HData: whose data
  uint32_t rx_data_offset_ = 0;
  uint8_t rx_flags_ = 0;
  uint32_t rx_crc_ = 0;
  uint8_t rx_digest_[kDigestSize] = {};
  uint32_t completed_ = 0;  // completions in this Poll()
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_TCP_TCP_QPAIR_H_

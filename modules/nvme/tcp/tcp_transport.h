// The NVMe/TCP transport: a controller behind an NVMe-oF TCP target. Each queue pair
// is one TCP connection: connect, ICReq/ICResp (digests negotiated), then Fabrics
// Connect (admin queue: a new association and its controller ID; I/O queues: that
// controller ID). Registers are fabrics properties (the controller sends Property
// Get/Set itself); keep-alive is the controller's too.
#ifndef BDEVKIT_MODULES_NVME_TCP_TCP_TRANSPORT_H_
#define BDEVKIT_MODULES_NVME_TCP_TCP_TRANSPORT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "modules/nvme/driver/transport.h"
#include "modules/nvme/tcp/tcp_qpair.h"
#include "modules/nvme/tcp/tcp_socket.h"

namespace bdevkit::nvme {

struct TcpTransportOptions {
  TcpAddress address;
  std::string subnqn;
  std::string hostnqn;  // empty: DefaultHostNqn()
  std::array<uint8_t, 16> hostid{};
  bool hdgst = false;
  bool ddgst = false;
  uint32_t keep_alive_timeout_ms = 10000;  // sent in the admin queue's Connect
  absl::Duration connect_timeout = absl::Seconds(10);
};

// This process's host identifier and "nqn.2014-08.org.nvmexpress:uuid:<it>": random,
// made once per process.
const std::array<uint8_t, 16>& DefaultHostId();
const std::string& DefaultHostNqn();

// The in-capsule data the admin queue uses (Connect's 1 KiB data goes in the capsule).
inline constexpr uint32_t kAdminInCapsuleData = 8192;

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(TcpTransportOptions options);

  const char* trtype() const override { return "TCP"; }
  const std::string& address() const override { return address_; }
  const char* access() const override { return "tcp"; }
  bool fabrics() const override { return true; }

  absl::StatusOr<std::unique_ptr<IoQpair>> CreateAdminQpair(const QpairConfig& config) override;
  absl::StatusOr<std::unique_ptr<IoQpair>> CreateIoQpair(const QpairConfig& config) override;
  absl::Status StartIoQueue(IoQpair& qp, AdminRunner admin) override;
  absl::Status StopIoQueue(IoQpair& qp, AdminRunner admin) override;
  void SetControllerData(const ControllerData& data) override;

  const TcpTransportOptions& options() const { return options_; }
  uint16_t cntlid() const { return cntlid_; }
  uint32_t io_icd_size() const { return io_icd_size_; }

 private:
  // Opens a connection for `qp` and connects queue `qid` on it; returns the controller
  // ID the target answered. Blocks (bounded by connect_timeout).
  absl::StatusOr<uint16_t> ConnectQueue(TcpQpair& qp, uint16_t cntlid);

  const TcpTransportOptions options_;
  const std::string address_;
  uint16_t cntlid_ = kDynamicCntlidValue;
  uint32_t io_icd_size_ = 0;
  static constexpr uint16_t kDynamicCntlidValue = 0xffff;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_TCP_TCP_TRANSPORT_H_

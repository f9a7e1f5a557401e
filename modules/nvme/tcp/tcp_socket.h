// TCP plumbing of the NVMe/TCP transport: the target's address, a connect bounded by
// a timeout, and the blocking sends and receives of connection setup (ICReq/ICResp,
// Fabrics Connect) bounded by a deadline. Control plane only; the I/O path uses the
// socket non-blocking (tcp_qpair.h).
#ifndef BDEVKIT_MODULES_NVME_TCP_TCP_SOCKET_H_
#define BDEVKIT_MODULES_NVME_TCP_TCP_SOCKET_H_

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bdevkit::nvme {

struct TcpAddress {
  std::string traddr;   // dotted IPv4 address as given
  std::string trsvcid;  // port as given
  sockaddr_in addr{};
  std::string ToString() const { return traddr + ":" + trsvcid; }
};

// Parses an IPv4 address and a port 1..65535. kInvalidArgument naming "traddr" or
// "trsvcid".
absl::StatusOr<TcpAddress> ParseTcpAddress(const std::string& traddr, const std::string& trsvcid);

// Connects to `to` within `timeout`; returns a non-blocking socket with TCP_NODELAY.
// kUnavailable "connection to H:P refused" etc., kDeadlineExceeded. Blocks.
absl::StatusOr<int> ConnectTcp(const TcpAddress& to, absl::Duration timeout);

// Sends / receives exactly `len` bytes on a non-blocking socket before `deadline`.
// Blocks (poll).
absl::Status SendFully(int fd, const void* data, size_t len, absl::Time deadline);
absl::Status RecvFully(int fd, void* data, size_t len, absl::Time deadline);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_TCP_TCP_SOCKET_H_

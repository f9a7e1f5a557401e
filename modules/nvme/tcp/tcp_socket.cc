#include "modules/nvme/tcp/tcp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace bdevkit::nvme {
namespace {

int MillisUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

// Waits for `events` on fd until the deadline: OK, or kDeadlineExceeded.
absl::Status WaitFor(int fd, short events, absl::Time deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = MillisUntil(deadline);
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return absl::OkStatus();
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    return absl::DeadlineExceededError(absl::StrCat("timed out ", what));
  }
}

}  // namespace

absl::StatusOr<TcpAddress> ParseTcpAddress(const std::string& traddr, const std::string& trsvcid) {
  TcpAddress a;
  a.traddr = traddr;
  a.trsvcid = trsvcid;
  a.addr.sin_family = AF_INET;
  if (traddr.empty()) return absl::InvalidArgumentError("\"traddr\": missing (an IPv4 address)");
  if (::inet_pton(AF_INET, traddr.c_str(), &a.addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"traddr\": '", traddr, "' is not an IPv4 address (dotted quad)"));
  }
  uint32_t port = 0;
  if (trsvcid.empty()) return absl::InvalidArgumentError("\"trsvcid\": missing (a TCP port)");
  if (!absl::SimpleAtoi(trsvcid, &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"trsvcid\": '", trsvcid, "' is not a TCP port (1..65535)"));
  }
  a.addr.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

absl::StatusOr<int> ConnectTcp(const TcpAddress& to, absl::Duration timeout) {
  const std::string where = to.ToString();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  auto fail = [&](absl::Status s) {
    ::close(fd);
    return s;
  };
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), sizeof(to.addr));
  if (rc != 0 && errno != EINPROGRESS) {
    int e = errno;
    if (e == ECONNREFUSED) {
      return fail(absl::UnavailableError(
          absl::StrCat("connection to ", where, " refused (no NVMe/TCP target listens there)")));
    }
    return fail(
        absl::UnavailableError(absl::StrCat("cannot connect to ", where, ": ", std::strerror(e))));
  }
  if (rc != 0) {
    absl::Status w = WaitFor(fd, POLLOUT, absl::Now() + timeout, "");
    if (!w.ok()) {
      return fail(absl::DeadlineExceededError(
          absl::StrCat("no TCP connection to ", where, " within ", absl::FormatDuration(timeout))));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == ECONNREFUSED) {
      return fail(absl::UnavailableError(
          absl::StrCat("connection to ", where, " refused (no NVMe/TCP target listens there)")));
    }
    if (err != 0) {
      return fail(absl::UnavailableError(
          absl::StrCat("cannot connect to ", where, ": ", std::strerror(err))));
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

absl::Status SendFully(int fd, const void* data, size_t len, absl::Time deadline) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (absl::Status s = WaitFor(fd, POLLOUT, deadline, "sending"); !s.ok()) return s;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RecvFully(int fd, void* data, size_t len, absl::Time deadline) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = ::recv(fd, p, len, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return absl::UnavailableError("the target closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (absl::Status s = WaitFor(fd, POLLIN, deadline, "waiting for the target's answer");
          !s.ok()) {
        return s;
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace bdevkit::nvme

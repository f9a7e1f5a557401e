#include "tools/bdevctl/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rpc/json_scanner.h"

namespace bdevkit::ctl {
namespace {

using json = nlohmann::json;

int RemainingMs(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RpcClient>> RpcClient::Connect(const std::string& path,
                                                              absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", path, "\" is too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", path, ": ", std::strerror(err), " (is bdevd running?)"));
  }
  return std::unique_ptr<RpcClient>(new RpcClient(fd, path, timeout));
}

RpcClient::~RpcClient() { close(fd_); }

absl::StatusOr<RpcReply> RpcClient::Call(const std::string& method, const json& params) {
  const int id = next_id_++;
  json request = {{"jsonrpc", "2.0"}, {"method", method}, {"id", id}};
  if (!params.is_null()) request["params"] = params;
  const std::string text = request.dump();
  const absl::Time deadline = absl::Now() + timeout_;
  for (size_t sent = 0; sent < text.size();) {
    ssize_t n = send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("sending to ", path_, ": ", std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  JsonValueScanner scanner;
  size_t pos = 0;
  for (;;) {
    // Complete values already buffered first: replies to other ids are skipped.
    while (true) {
      size_t p = pos;
      JsonValueScanner::Result r = scanner.Scan(in_, &p);
      size_t start = scanner.value_start();
      if (r == JsonValueScanner::Result::kError) {
        return absl::DataLossError(absl::StrCat("malformed reply from ", path_));
      }
      if (r == JsonValueScanner::Result::kNeedMore) {
        pos = p;
        break;
      }
      json reply = json::parse(in_.substr(start, p - start), nullptr, false);
      in_.erase(0, p);
      pos = 0;
      scanner.Reset();
      if (reply.is_discarded() || !reply.is_object()) {
        return absl::DataLossError(absl::StrCat("malformed reply from ", path_));
      }
      auto rid = reply.find("id");
      const bool for_us = rid != reply.end() && *rid == id;
      auto error = reply.find("error");
      // An error with a null id is about the stream itself (parse error, limits).
      const bool stream_error = error != reply.end() && rid != reply.end() && rid->is_null();
      if (!for_us && !stream_error) continue;
      RpcReply out;
      if (error != reply.end()) {
        out.code = error->value("code", 0);
        out.message = error->value("message", std::string());
        return out;
      }
      out.ok = true;
      out.result = reply.value("result", json());
      return out;
    }
    pollfd pfd{fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no reply to ", method, " within ", absl::FormatDuration(timeout_)));
    }
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("connection to ", path_, " closed before the reply to ", method));
    }
    in_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace bdevkit::ctl

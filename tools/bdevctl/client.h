// A blocking JSON-RPC client over a Unix socket, for bdevctl (a command-line tool may
// block; the daemon never does).
#ifndef BDEVKIT_TOOLS_BDEVCTL_CLIENT_H_
#define BDEVKIT_TOOLS_BDEVCTL_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace bdevkit::ctl {

// A reply: the result, or the server's error (code + message).
struct RpcReply {
  bool ok = false;
  nlohmann::json result;
  int code = 0;
  std::string message;
};

class RpcClient {
 public:
  // Connects; kUnavailable (naming the path) if nobody listens there.
  static absl::StatusOr<std::unique_ptr<RpcClient>> Connect(const std::string& path,
                                                            absl::Duration timeout);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends one request and waits for the reply with its id. Transport failures and
  // the timeout are errors; a JSON-RPC error is a reply with ok == false.
  absl::StatusOr<RpcReply> Call(const std::string& method, const nlohmann::json& params);

 private:
  RpcClient(int fd, std::string path, absl::Duration timeout)
      : fd_(fd), path_(std::move(path)), timeout_(timeout) {}
  int fd_;
  std::string path_;
  absl::Duration timeout_;
  int next_id_ = 1;
  std::string in_;
};

}  // namespace bdevkit::ctl

#endif  // BDEVKIT_TOOLS_BDEVCTL_CLIENT_H_

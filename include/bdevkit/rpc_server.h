// The JSON-RPC 2.0 server: a Unix stream socket speaking SPDK's wire protocol, run by
// a poller on the app thread (non-blocking sockets, no threads of its own).
#ifndef BDEVKIT_RPC_SERVER_H_
#define BDEVKIT_RPC_SERVER_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bdevkit {

struct RpcServerOptions {
  std::string socket_path = "/var/tmp/bdevkit.sock";
  mode_t socket_mode = 0600;  // owner only unless asked otherwise
  size_t max_connections = 64;
  size_t max_request_size = 256 * 1024;
  size_t max_response_size = 32 * 1024 * 1024;
  absl::Duration poll_period = absl::Microseconds(500);
};

class RpcServer {
 public:
  // Takes `<socket_path>.lock` (flock; kAlreadyExists if another process serves that
  // path), replaces a stale socket file, listens, and registers the server's poller
  // on the calling thread. Errors name the path. App thread; never blocks.
  static absl::StatusOr<std::unique_ptr<RpcServer>> Start(const RpcServerOptions& options);

  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;
  // Stops at once if Stop() was not called (replies not yet sent are lost).
  ~RpcServer();

  // Stops accepting and reading, removes the socket and its lock file at once, keeps
  // sending replies already made for up to `grace` (so spdk_kill_instance's "true"
  // reaches its caller), then closes every connection and runs `done` on the owning
  // thread. The server may be destroyed from `done`. Owning thread; never blocks.
  void Stop(std::function<void()> done, absl::Duration grace = absl::Seconds(1));

  // Owning thread; never block.
  size_t num_connections() const;
  const std::string& socket_path() const;

 private:
  struct Impl;
  explicit RpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_SERVER_H_

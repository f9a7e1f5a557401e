// One JSON-RPC 2.0 conversation over a byte stream, without the socket: bytes in
// (Feed), reply bytes out (output()). The socket server runs one per connection; the
// fuzz target and the unit tests drive it directly.
//
// What it implements (docs/rpc.md has the user's view):
// - values back to back with no framing, split anywhere across reads;
// - single requests, batches (a JSON array; "[]" is an invalid request), notifications
//   (no "id": no reply on success), ids of any JSON type, echoed as given;
// - compact replies, keys in the order jsonrpc, id, result|error, each followed by "\n";
// - handlers that complete later: replies go out in completion order;
// - limits: a request over max_request_size is skipped to its end and answered with
//   -32600, a response over max_response_size is replaced by a -32603 error;
// - malformed JSON: a -32700 reply, then the session closes (the stream cannot be
//   resynchronised).
// Everything runs on one thread (the app thread); nothing blocks.
#ifndef BDEVKIT_RPC_JSONRPC_SESSION_H_
#define BDEVKIT_RPC_JSONRPC_SESSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"
#include "rpc/json_scanner.h"

namespace bdevkit {

struct RpcSessionLimits {
  size_t max_request_size = 256 * 1024;         // bytes of one top-level value (SPDK's)
  size_t max_response_size = 32 * 1024 * 1024;  // bytes of one reply (SPDK's)
  // Input is not processed while this much output waits to be sent (a client that
  // does not read its replies cannot make the daemon buffer without bound).
  size_t output_high_water = 4 * 1024 * 1024;
  uint32_t max_depth = 1024;  // nesting deeper than this is a parse error
};

// Runs one request: the method (already known to be a string) and its params (null
// when absent). The default, DispatchRpcRequest, is the registry's validated call
// path (with its state check).
using RpcDispatchFn =
    std::function<void(const std::string& method, const nlohmann::json& params, RpcDone done)>;
void DispatchRpcRequest(const std::string& method, const nlohmann::json& params, RpcDone done);

// The compact reply text (without the trailing "\n"). Exposed for tests.
std::string JsonRpcResultText(const nlohmann::json& id, const RpcJson& result);
std::string JsonRpcErrorText(const nlohmann::json& id, int code, std::string_view message);

class RpcSession : public std::enable_shared_from_this<RpcSession> {
 public:
  // Sessions live in shared_ptrs: handlers completing later hold a weak reference,
  // so a reply to a closed session is dropped safely.
  static std::shared_ptr<RpcSession> Create(RpcSessionLimits limits,
                                            RpcDispatchFn dispatch = DispatchRpcRequest);

  RpcSession(const RpcSession&) = delete;
  RpcSession& operator=(const RpcSession&) = delete;

  // Adds received bytes and runs every complete request (while output is below the
  // high-water mark). Ignored once closing().
  void Feed(std::string_view data);
  // The peer will send nothing more. An incomplete value gets a -32700 reply.
  void FeedEof();
  // Runs requests still buffered (call after output drained below the high-water mark).
  void Resume();

  // Bytes waiting to be sent; the transport removes what it sent with Consume().
  const std::string& output() const { return out_; }
  void Consume(size_t n);

  // Whether the transport should read more: false while output is above the
  // high-water mark, while a whole request is buffered, or once closing.
  bool WantsInput() const;
  // No more input will be processed: send what is in output(), then close (after a
  // parse error, or at EOF once no request is outstanding).
  bool closing() const { return closing_ || (eof_ && outstanding_ == 0 && buffered() == 0); }
  size_t outstanding() const { return outstanding_; }

 private:
  struct Batch;
  RpcSession(RpcSessionLimits limits, RpcDispatchFn dispatch)
      : limits_(limits), dispatch_(std::move(dispatch)), scanner_(limits.max_depth) {}

  size_t buffered() const { return in_.size() - start_; }
  void Process();
  // Handles one complete top-level value.
  void HandleValue(std::string_view text);
  // Runs one request object (a batch member or a single request). `reply` gets the
  // reply text, or an empty string for a notification that succeeded.
  void HandleRequest(const nlohmann::json& request, std::function<void(std::string)> reply);
  void Emit(std::string text);
  void FailParse(std::string_view why);

  RpcSessionLimits limits_;
  RpcDispatchFn dispatch_;
  JsonValueScanner scanner_;
  std::string in_;
  size_t start_ = 0;         // first byte of the value being scanned (or of unscanned input)
  size_t pos_ = 0;           // scan position
  bool discarding_ = false;  // the current value is over the limit: skip to its end
  size_t discarded_ = 0;
  std::string out_;
  size_t outstanding_ = 0;  // top-level requests whose reply is not yet emitted
  bool closing_ = false;
  bool eof_ = false;
  bool in_process_ = false;
};

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_JSONRPC_SESSION_H_

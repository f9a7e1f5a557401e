// libFuzzer target: arbitrary bytes into an RpcSession (scanner, parser, request
// checks, batches, dispatch) in arbitrary pieces, with handlers that complete now or
// later. Built and run by scripts/fuzz.sh (clang, -DBDEVKIT_FUZZ=ON).
//
// The dispatcher validates params against the real method descriptions; a few
// methods that need no runtime run for real, the rest complete with a canned result
// (some only after the input ends, or after the session is gone), so nothing here
// can signal the process or touch the bdev layer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "rpc/jsonrpc_session.h"

namespace {

using bdevkit::RpcDone;
using json = nlohmann::json;

bool RunsForReal(const std::string& method) {
  return method == "spdk_get_version" || method == "rpc_get_methods" ||
         method == "framework_get_subsystems" || method == "framework_wait_init" ||
         method == "log_get_flags";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool init = [] {
    bdevkit::RegisterBuiltinModules();  // descriptions of every method of this build
    return true;
  }();
  (void)init;
  std::vector<RpcDone> deferred;
  bdevkit::RpcSessionLimits limits;
  limits.max_request_size = 4096;  // small, so the oversize path is reached
  limits.max_response_size = 8192;
  limits.output_high_water = 2048;
  limits.max_depth = 64;
  auto session = bdevkit::RpcSession::Create(
      limits, [&deferred](const std::string& method, const json& params, RpcDone done) {
        const bdevkit::RpcMethod* m = bdevkit::FindRpcMethod(method);
        if (m == nullptr) return done(absl::UnimplementedError("Method not found"));
        auto checked = bdevkit::ValidateRpcParams(*m, params);
        if (!checked.ok()) return done(checked.status());
        if (RunsForReal(method)) return bdevkit::DispatchRpcRequest(method, params, done);
        if (method.size() % 2 == 0) return done(json(*checked));
        deferred.push_back(std::move(done));
      });
  // The first byte picks the piece size, so values are split at every position.
  size_t piece = size > 0 ? 1 + data[0] % 64 : 1;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t i = 1; i < input.size(); i += piece) {
    session->Feed(input.substr(i, piece));
    // Act like the transport: drain output, resume when paused.
    if (!session->output().empty() && (i / piece) % 3 == 0) {
      session->Consume(session->output().size());
      session->Resume();
    }
  }
  session->FeedEof();
  // Half of the late completions arrive while the session lives, half after.
  for (size_t i = 0; i < deferred.size() / 2; ++i) deferred[i](json(true));
  session->Consume(session->output().size());
  session->Resume();
  session.reset();
  for (size_t i = deferred.size() / 2; i < deferred.size(); ++i) deferred[i](json(true));
  return 0;
}

// -z: bdevperf waits on its JSON-RPC socket (-r). `perform_tests {time_in_sec?,
// workload_type?, queue_depth?, io_size?, rw_percentage?}` runs the test over the bdevs
// that exist at that moment (the command line's values where a parameter is left
// out; nothing carries over to the next call) and answers with the results in SPDK's
// shape (report_json.h); one call at a time. The bdev methods (bdev_malloc_create,
// bdev_get_iostat, ...) are served on the same socket, as in bdevd.
#ifndef BDEVKIT_TOOLS_BDEVPERF_RPC_MODE_H_
#define BDEVKIT_TOOLS_BDEVPERF_RPC_MODE_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "bdevkit/rpc.h"
#include "bdevkit/rpc_server.h"
#include "tools/bdevperf/options.h"
#include "tools/bdevperf/perf_run.h"

namespace bdevkit::perf {

class RpcMode {
 public:
  explicit RpcMode(const Options& options) : opts_(options) {}
  RpcMode(const RpcMode&) = delete;
  RpcMode& operator=(const RpcMode&) = delete;
  ~RpcMode();

  // Registers perform_tests (once per process) and starts the server. App thread.
  absl::Status Start();
  // Ends a running test (its caller gets the results so far), stops the server,
  // then runs `done`. App thread.
  void Shutdown(std::function<void()> done);

  // The perform_tests handler. App thread.
  void PerformTests(const nlohmann::json& params, RpcDone done);

 private:
  void OnRunDone(RunOutcome outcome);

  const Options& opts_;
  std::unique_ptr<RpcServer> server_;
  std::unique_ptr<PerfRun> run_;
  RpcDone reply_;
  std::function<void()> shutdown_done_;
  bool shutting_down_ = false;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_RPC_MODE_H_

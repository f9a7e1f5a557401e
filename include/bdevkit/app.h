// Running bdevkit inside a program, without bdevd: start the runtime and the bdev
// layer from the program's own thread, make bdevs from a config file or in code, run
// functions on the reactors, stop cleanly.
//
//   bdevkit::AppOptions options;
//   options.runtime.cores = {0, 1};
//   options.config_file = "bdevs.json";  // SPDK's format, as bdevd --json; optional
//   if (absl::Status s = bdevkit::App::Start(options); !s.ok()) { ... }
//   bdevkit::App::Call("bdev_malloc_create", {{"name", "Malloc0"}, {"num_blocks", 1024},
//                                             {"block_size", 4096}});
//   bdevkit::App::Run(bdevkit::Runtime::AppThread(), [] { /* open, submit I/O ... */ });
//   bdevkit::App::Stop();
//
// The functions here block their caller until the runtime has done the work, so they
// are for the program's own threads ("non-runtime thread"): called on a runtime
// thread they would wait for themselves, and refuse with kFailedPrecondition instead.
// Code running on the reactors uses the asynchronous API (bdev.h, rpc.h, co.h).
//
// Bdevs are made in code through the same JSON-RPC methods a config file or bdevctl
// uses (bdev_malloc_create, bdev_null_create, bdev_aio_create, ... docs/rpc.md), so
// one vocabulary and one validation serve all three. nlohmann::json is the JSON type of
// the control plane (rpc.h); the I/O path never sees it.
#ifndef BDEVKIT_APP_H_
#define BDEVKIT_APP_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/rpc.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

struct AppOptions {
  // Cores, idle policy, pinning (runtime.h). Empty cores = core 0.
  RuntimeOptions runtime;
  // A config in SPDK's format (bdevd --json) replayed at start-up; empty = none. Its
  // start-up entries (bdev_set_options) run before the bdev layer starts, the others
  // after, as in bdevd.
  std::string config_file;
  // A failing config entry is logged and skipped instead of failing Start.
  bool ignore_config_errors = false;
  // Module plugins (shared objects, see plugin.h) loaded before the bdev layer starts,
  // so their modules and RPC methods are there for the config.
  std::vector<std::string> plugins;
  // Also serve JSON-RPC on this Unix socket (bdevctl, SPDK's rpc.py); empty = no server.
  std::string rpc_socket;
};

class App {
 public:
  // Loads the plugins, starts the runtime, registers the built-in modules, starts the
  // bdev layer, replays the config, waits for examine and starts the RPC server if
  // asked. Returns OK once all of it is done, or the first error (the config's error
  // names the file, entry and method) with everything started torn down again.
  // kFailedPrecondition when the app or the runtime already runs. Non-runtime thread;
  // blocks.
  static absl::Status Start(const AppOptions& options);

  // Stops the RPC server, unregisters every bdev (virtual ones first; open descriptors
  // hear kRemove and must be closed by their owners for this to finish), finis the
  // modules and stops the runtime; returns once every reactor has exited. Does nothing
  // when the app is not running. Non-runtime thread; blocks.
  static void Stop();

  static bool IsRunning();

  // Runs fn on `thread` (Runtime::AppThread(), Runtime::ReactorThreads()[i], ...) and
  // returns once fn has returned. kFailedPrecondition when called on a runtime thread
  // or with the app stopped; kUnavailable when the thread's message ring is full (fn
  // did not run). Non-runtime thread; blocks.
  static absl::Status Run(Thread* thread, std::function<void()> fn);

  // Runs fn(done) on `thread` and returns the status fn passes to done, which it must
  // call exactly once, on any runtime thread, now or later (after I/O completed, say).
  // Errors as Run. Non-runtime thread; blocks.
  static absl::Status RunAsync(Thread* thread,
                               std::function<void(std::function<void(absl::Status)>)> fn);

  // Calls a JSON-RPC method on the app thread, as bdevctl would, and returns its result:
  // the way to create and delete bdevs in code. Errors are the method's (parameters
  // named, kNotFound, kAlreadyExists, ...). Non-runtime thread; blocks.
  static RpcResult Call(std::string_view method, const nlohmann::json& params = nullptr);
};

}  // namespace bdevkit

#endif  // BDEVKIT_APP_H_

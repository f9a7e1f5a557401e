// App (bdevkit/app.h): the start-up and shutdown bdevd does, driven from a program's
// own thread. Each step runs on the app thread; the caller waits on a future.
#include "bdevkit/app.h"

#include <chrono>
#include <future>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/plugin.h"
#include "bdevkit/rpc_server.h"

namespace bdevkit {
namespace {

struct AppState {
  absl::Mutex mu;  // serializes Start and Stop of different program threads
  bool running = false;
  std::unique_ptr<RpcServer> server;  // app thread only
};

AppState& State() {
  static auto* state = new AppState();  // process lifetime
  return *state;
}

absl::Status NotOnRuntimeThread(const char* what) {
  if (Thread::Current() == nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("App::", what,
                   " blocks until the runtime did the work, so it cannot be called on a "
                   "runtime thread (use the asynchronous API there)"));
}

// Sends fn(done) to `thread` and waits for done's value.
template <typename T>
absl::StatusOr<T> SendAndWait(Thread* thread, std::function<void(std::function<void(T)>)> fn) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> result = promise->get_future();
  int rc = thread->Send([promise, fn = std::move(fn)] {
    fn([promise](T value) { promise->set_value(std::move(value)); });
  });
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot send to thread ", thread->name(), " (error ", rc, ")"));
  }
  return result.get();
}

// Whether the bdev layer runs: SetBdevLayerOptions refuses while it does. Setting the
// options they already have changes nothing either way.
bool BdevLayerRunning() {
  return SetBdevLayerOptions(GetBdevLayerOptions()).code() == absl::StatusCode::kFailedPrecondition;
}

// The server, then the bdev layer (every bdev, in dependency order), on the app thread.
void TearDown(std::function<void(bool)> done) {
  auto stop_layer = [done] {
    if (!BdevLayerRunning()) return done(true);
    StopBdevLayer([done] { done(true); });
  };
  AppState& s = State();
  if (s.server == nullptr) return stop_layer();
  s.server->Stop([stop_layer] {
    State().server.reset();
    stop_layer();
  });
}

void StopRuntime() {
  Runtime::RequestStop();
  Runtime::Wait();
}

// On the app thread: what bdevd's start-up does.
void StartOnAppThread(const AppOptions& options, std::function<void(absl::Status)> done) {
  RegisterBuiltinModules();
  nlohmann::json config;
  if (!options.config_file.empty()) {
    absl::StatusOr<nlohmann::json> read = ReadJsonConfigFile(options.config_file);
    if (!read.ok()) return done(read.status());
    config = std::move(*read);
  }
  // The loader's errors ("subsystem bdev, entry 2 (bdev_malloc_create): ...") get the
  // file's name in front, as bdevd's do.
  auto in_config = [file = options.config_file](absl::Status s) {
    const bool from_config = absl::StartsWith(s.message(), "subsystem ") ||
                             absl::StartsWith(s.message(), "invalid JSON");
    if (s.ok() || file.empty() || !from_config) return s;
    return absl::Status(s.code(), absl::StrCat("config file \"", file, "\": ", s.message()));
  };
  JsonConfigOptions config_options;
  config_options.ignore_errors = options.ignore_config_errors;
  BeginFrameworkInit(std::move(config), config_options, /*on_init_finished=*/nullptr,
                     [socket = options.rpc_socket, in_config, done](absl::Status st) {
                       if (!st.ok()) return done(in_config(st));
                       FinishFrameworkInit([socket, in_config, done](absl::Status finished) {
                         if (!finished.ok()) return done(in_config(finished));
                         if (socket.empty()) return done(absl::OkStatus());
                         RpcServerOptions server_options;
                         server_options.socket_path = socket;
                         absl::StatusOr<std::unique_ptr<RpcServer>> server =
                             RpcServer::Start(server_options);
                         if (!server.ok()) return done(server.status());
                         State().server = std::move(*server);
                         done(absl::OkStatus());
                       });
                     });
}

}  // namespace

absl::Status App::Start(const AppOptions& options) {
  if (absl::Status s = NotOnRuntimeThread("Start"); !s.ok()) return s;
  AppState& s = State();
  absl::MutexLock lock(&s.mu);
  if (s.running) return absl::FailedPreconditionError("the app already runs (App::Start)");
  // Plugins register modules and methods, which must exist before the layer starts.
  for (const std::string& path : options.plugins) {
    if (absl::Status st = LoadModulePlugin(path); !st.ok()) return st;
  }
  if (absl::Status st = Runtime::Start(options.runtime); !st.ok()) return st;
  absl::StatusOr<absl::Status> started = SendAndWait<absl::Status>(
      Runtime::AppThread(),
      [&options](std::function<void(absl::Status)> done) { StartOnAppThread(options, done); });
  absl::Status result = started.ok() ? *started : started.status();
  if (!result.ok()) {
    // Undo what got started: bdevs the config made, the layer, the runtime.
    if (started.ok()) {
      (void)SendAndWait<bool>(Runtime::AppThread(), TearDown);
    }
    StopRuntime();
    return result;
  }
  s.running = true;
  return absl::OkStatus();
}

void App::Stop() {
  if (!NotOnRuntimeThread("Stop").ok()) {
    LOG_ERROR("App::Stop called on a runtime thread: ignored (it would wait for itself)");
    return;
  }
  AppState& s = State();
  absl::MutexLock lock(&s.mu);
  if (!s.running) return;
  absl::StatusOr<bool> done = SendAndWait<bool>(Runtime::AppThread(), TearDown);
  if (!done.ok()) LOG_ERROR("App::Stop: %s", std::string(done.status().message()));
  StopRuntime();
  s.running = false;
}

bool App::IsRunning() {
  AppState& s = State();
  absl::MutexLock lock(&s.mu);
  return s.running;
}

absl::Status App::RunAsync(Thread* thread,
                           std::function<void(std::function<void(absl::Status)>)> fn) {
  if (absl::Status s = NotOnRuntimeThread("Run"); !s.ok()) return s;
  if (!Runtime::IsRunning()) return absl::FailedPreconditionError("the runtime is not running");
  if (thread == nullptr) return absl::InvalidArgumentError("App::Run: no thread given");
  absl::StatusOr<absl::Status> r = SendAndWait<absl::Status>(thread, std::move(fn));
  return r.ok() ? *r : r.status();
}

absl::Status App::Run(Thread* thread, std::function<void()> fn) {
  return RunAsync(thread, [fn = std::move(fn)](std::function<void(absl::Status)> done) {
    fn();
    done(absl::OkStatus());
  });
}

RpcResult App::Call(std::string_view method, const nlohmann::json& params) {
  if (absl::Status s = NotOnRuntimeThread("Call"); !s.ok()) return s;
  if (!Runtime::IsRunning()) return absl::FailedPreconditionError("the runtime is not running");
  absl::StatusOr<RpcResult> r = SendAndWait<RpcResult>(
      Runtime::AppThread(),
      [name = std::string(method), &params](std::function<void(RpcResult)> done) {
        CallRpcMethod(name, params, std::move(done));
      });
  if (!r.ok()) return r.status();
  return std::move(*r);
}

}  // namespace bdevkit

// bdevd: starts the runtime and the bdev layer, loads the start-up config, serves
// JSON-RPC, and shuts down cleanly on SIGINT/SIGTERM/SIGQUIT/SIGHUP/SIGUSR1 (and so on
// spdk_kill_instance, which signals the process). See README.md in this folder.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/plugin.h"
#include "bdevkit/rpc.h"
#include "bdevkit/rpc_server.h"
#include "bdevkit/runtime.h"
#include "tools/bdevd/options.h"

namespace bdevkit::bdevd {
namespace {

void PrintError(const std::string& message) {
  std::fprintf(stderr, "bdevd: %s\n", message.c_str());
  std::fflush(stderr);
}

// The signals that mean "shut down". They are blocked in every thread (reactors
// inherit the mask) and read from a signalfd by a poller on the app thread, so no
// work ever runs in a signal handler.
sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  return set;
}

// Every step runs on the app thread, one callback after the next; nothing blocks.
class Daemon {
 public:
  Daemon(const Options& options, int signal_fd) : opts_(options), signal_fd_(signal_fd) {}

  int exit_code() const { return exit_code_; }

  // SPDK's start-up: the config's options in the start-up state, then (at once, or on
  // framework_start_init with --wait-for-rpc) the bdev layer and the rest of the config.
  void Start() {
    Thread* app = Thread::Current();
    signal_poller_ = app->RegisterPoller([this] { return PollSignals(); }, absl::Milliseconds(5),
                                         "bdevd_signals");
    nlohmann::json config;
    if (!opts_.config_file.empty()) {
      absl::StatusOr<nlohmann::json> read = ReadJsonConfigFile(opts_.config_file);
      if (!read.ok()) return OnStartupFailed(read.status());
      config = std::move(*read);
    }
    JsonConfigOptions config_options;
    config_options.ignore_errors = opts_.ignore_init_errors;
    BeginFrameworkInit(
        std::move(config), config_options, [this](absl::Status st) { OnInitFinished(st); },
        [this](absl::Status st) {
          if (!st.ok()) return OnStartupFailed(st);
          if (opts_.wait_for_rpc) return StartServer();
          FinishFrameworkInit([](absl::Status) {});  // OnInitFinished reports it
        });
  }

 private:
  // Config errors name the file and suggest the way past them; others (the bdev layer
  // not starting) are reported as they are.
  void OnStartupFailed(const absl::Status& status) {
    const std::string message(status.message());
    bool config_error = !opts_.config_file.empty() && (absl::StartsWith(message, "subsystem ") ||
                                                       absl::StartsWith(message, "invalid JSON"));
    if (!config_error) return Fail(message);
    Fail(absl::StrCat("config file \"", opts_.config_file, "\": ", message,
                      " (--json-ignore-init-errors to go on)"));
  }

  void OnInitFinished(const absl::Status& status) {
    if (!status.ok()) return OnStartupFailed(status);
    if (stop_requested_) return Shutdown();
    if (server_ == nullptr) StartServer();
  }

  void StartServer() {
    if (stop_requested_) return Shutdown();
    RpcServerOptions server_options;
    server_options.socket_path = opts_.socket_path;
    server_options.socket_mode = opts_.socket_mode;
    auto server = RpcServer::Start(server_options);
    if (!server.ok()) return Fail(std::string(server.status().message()));
    server_ = std::move(*server);
    started_ = true;
    if (CurrentRpcState() == RpcState::kStartup) {
      std::printf("bdevd: serving JSON-RPC on %s, waiting for framework_start_init\n",
                  opts_.socket_path.c_str());
    } else {
      std::printf("bdevd: serving JSON-RPC on %s (%zu bdevs)\n", opts_.socket_path.c_str(),
                  ListBdevs().size());
    }
    std::fflush(stdout);
  }

  PollStatus PollSignals() {
    signalfd_siginfo info;
    bool got = false;
    while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      LOG_NOTICE("bdevd: got signal %u, shutting down", info.ssi_signo);
      got = true;
    }
    if (!got) return PollStatus::kIdle;
    stop_requested_ = true;
    // During start-up the config load finishes first (it may be mid-way through an
    // asynchronous call); OnConfigLoaded then shuts down.
    if (started_) Shutdown();
    return PollStatus::kBusy;
  }

  void Fail(std::string message) {
    PrintError(message);
    exit_code_ = 1;
    Shutdown();
  }

  // Server first (replies already made are still sent, the socket and lock file go
  // away), then every bdev in dependency order with in-flight I/O completed
  // (StopBdevLayer), then the reactors.
  void Shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    started_ = false;
    auto stop_layer = [this] {
      StopBdevLayer([this] {
        Thread::Current()->UnregisterPoller(signal_poller_);
        signal_poller_ = nullptr;
        Runtime::RequestStop();
      });
    };
    if (server_ == nullptr) return stop_layer();
    server_->Stop([this, stop_layer] {
      server_.reset();
      stop_layer();
    });
  }

  const Options& opts_;
  const int signal_fd_;
  Poller* signal_poller_ = nullptr;
  std::unique_ptr<RpcServer> server_;
  bool started_ = false;
  bool stop_requested_ = false;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

int Run(const Options& options) {
  RegisterBuiltinModules();
  // Plugins before anything else uses the registries: their methods are then in the
  // docs, and their modules there for the config.
  for (const std::string& path : options.module_plugins) {
    if (absl::Status s = LoadModulePlugin(path); !s.ok()) {
      PrintError(std::string(s.message()));
      return 1;
    }
  }
  if (options.dump_rpc_docs) {
    std::fputs(RpcReferenceMarkdown().c_str(), stdout);
    return 0;
  }
  for (const std::string& flag : options.log_flags) EnableLogFlag(flag);

  sigset_t signals = ShutdownSignals();
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    PrintError("cannot block signals");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);  // a client that went away must not kill the daemon
  int signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    PrintError(absl::StrCat("signalfd: ", std::strerror(errno)));
    return 1;
  }
  RuntimeOptions runtime_options;
  runtime_options.cores = options.cores;
  runtime_options.idle_policy = options.busy_poll ? IdlePolicy::kBusyPoll : IdlePolicy::kSleep;
  Daemon daemon(options, signal_fd);
  absl::Status status = Runtime::Run(runtime_options, [&daemon] { daemon.Start(); });
  close(signal_fd);
  if (!status.ok()) {
    PrintError(absl::StrCat("cannot start the runtime: ", status.message()));
    return 1;
  }
  return daemon.exit_code();
}

}  // namespace
}  // namespace bdevkit::bdevd

int main(int argc, char** argv) {
  auto options = bdevkit::bdevd::ParseOptions(argc, argv);
  if (!options.ok()) {
    bdevkit::bdevd::PrintError(std::string(options.status().message()));
    return 1;
  }
  if (options->help) {
    std::fputs(bdevkit::bdevd::Usage(argv[0]).c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::printf("bdevd (bdevkit) %s\n", BDEVKIT_VERSION_STRING);
    return 0;
  }
  return bdevkit::bdevd::Run(*options);
}

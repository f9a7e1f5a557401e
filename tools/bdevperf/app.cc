#include "tools/bdevperf/app.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "bdevkit/runtime.h"
#include "tools/bdevperf/compare.h"
#include "tools/bdevperf/compare_svg.h"
#include "tools/bdevperf/job_plan.h"
#include "tools/bdevperf/perf_run.h"
#include "tools/bdevperf/report_json.h"
#include "tools/bdevperf/rpc_mode.h"
#include "tools/bdevperf/run_output.h"

namespace bdevkit::perf {
namespace {

// The signals that mean "stop". Blocked in every thread (reactors inherit the mask)
// and read from a signalfd by a poller on the app thread, so no work runs in a
// signal handler. spdk_kill_instance (-z) sends one of these to the process.
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  return set;
}

std::string TestDescription(const TestParams& t) {
  std::string s(WorkloadName(*t.workload));
  if (IsMixed(*t.workload)) absl::StrAppend(&s, " ", t.rw_percentage, "% reads");
  absl::StrAppend(&s, ", ", t.io_size, " B, queue depth ", t.queue_depth, ", ", t.time_seconds,
                  " s");
  return s;
}

// Every step after the runtime is up runs on the app thread, one callback after the
// next; nothing blocks. The object lives on RunBdevperf's stack for the whole run.
class PerfApp {
 public:
  PerfApp(const Options& options, int signal_fd) : opts_(options), signal_fd_(signal_fd) {}

  int exit_code() const { return exit_code_; }

  void Start() {
    signal_poller_ = Thread::Current()->RegisterPoller([this] { return PollSignals(); },
                                                       absl::Milliseconds(5), "bdevperf_signals");
    // SPDK's start-up, as bdevd's: the config's start-up entries (bdev_set_options)
    // before the bdev layer starts, then the layer, the other entries and examine
    // (virtual modules assemble on the new bdevs before the jobs are planned).
    nlohmann::json config;  // null with -z and no -c: nothing to load
    if (!opts_.config_file.empty()) {
      absl::StatusOr<nlohmann::json> read = ReadJsonConfigFile(opts_.config_file);
      if (!read.ok()) return OnConfigLoaded(read.status());
      config = std::move(*read);
    }
    BeginFrameworkInit(
        std::move(config), JsonConfigOptions{},
        [this](absl::Status st) { OnConfigLoaded(std::move(st)); },
        [this](absl::Status st) {
          if (!st.ok()) return OnConfigLoaded(std::move(st));
          FinishFrameworkInit([](absl::Status) {});  // OnConfigLoaded gets the result
        });
  }

 private:
  void OnConfigLoaded(absl::Status status) {
    if (!status.ok()) {
      // The loader's errors usually name the file already; do not say it twice.
      const std::string message(status.message());
      if (message.find(opts_.config_file) != std::string::npos) return Abort(message);
      return Abort(absl::StrCat("config file ", opts_.config_file, ": ", message));
    }
    if (stop_requested_) return StopAll();
    if (opts_.wait_for_rpc) return ServeRpc();
    if (!opts_.compare.empty()) return StartCompare();
    RunNormal();
  }

  // --- normal mode ---------------------------------------------------------------
  void RunNormal() {
    auto plan = Plan(opts_.only_bdev);
    if (!plan.ok()) return Abort(std::string(plan.status().message()));
    run_ = std::make_unique<PerfRun>(RunSettings::From(opts_, opts_.test), *std::move(plan));
    run_->Start([this](RunOutcome outcome) {
      if (!outcome.setup_error.ok()) return Abort(std::string(outcome.setup_error.message()));
      PrintRunOutput(outcome, opts_.latency_level);
      if (outcome.any_failed) exit_code_ = 1;
      WriteJson(outcome.results);
      StopAll();
    });
  }

  absl::StatusOr<JobPlan> Plan(const std::string& only_bdev) {
    const std::vector<BdevInfo> bdevs = DescribeBdevs();
    if (bdevs.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no bdevs to test: config file ", opts_.config_file, " creates none"));
    }
    auto plan =
        PlanJobs(bdevs, opts_.test, opts_.every_core, only_bdev, Runtime::ReactorThreads().size());
    if (!plan.ok() && !only_bdev.empty() && plan.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(plan.status().message(), " (-T)"));
    }
    return plan;
  }

  void WriteJson(const std::vector<JobResult>& results) {
    if (opts_.output_json.empty()) return;
    if (absl::Status st = WriteJsonFile(opts_.output_json, ResultsJson(results)); !st.ok()) {
      PrintError(st.message());
      exit_code_ = 1;
    }
  }

  // --- compare mode --------------------------------------------------------------
  void StartCompare() {
    std::vector<std::string> known;
    for (const BdevInfo& b : DescribeBdevs()) known.push_back(b.name);
    for (const std::string& name : opts_.compare) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return Abort(absl::StrCat("--compare: bdev '", name, "' does not exist (bdevs: ",
                                  known.empty() ? std::string("none") : absl::StrJoin(known, ", "),
                                  ")"));
      }
    }
    // Check every plan first, so a bad -o fails before the first run, not the third.
    for (const std::string& name : opts_.compare) {
      auto plan = Plan(name);
      if (!plan.ok()) return Abort(std::string(plan.status().message()));
    }
    CompareNext();
  }

  void CompareNext() {
    const size_t i = compare_rows_.size();
    if (i == opts_.compare.size() || stop_requested_) return FinishCompare();
    const std::string& name = opts_.compare[i];
    std::printf("\n=== %zu/%zu: %s ===\n", i + 1, opts_.compare.size(), name.c_str());
    std::fflush(stdout);
    auto plan = Plan(name);
    if (!plan.ok()) return Abort(std::string(plan.status().message()));
    run_ = std::make_unique<PerfRun>(RunSettings::From(opts_, opts_.test), *std::move(plan));
    run_->Start([this, name](RunOutcome outcome) {
      if (outcome.setup_error.ok()) {
        PrintRunOutput(outcome, opts_.latency_level);
      } else {
        PrintError(outcome.setup_error.message());
      }
      if (!outcome.setup_error.ok() || outcome.any_failed) exit_code_ = 1;
      compare_rows_.push_back(MakeCompareRow(name, outcome));
      all_results_.insert(all_results_.end(), outcome.results.begin(), outcome.results.end());
      // Destroy the finished run from a fresh message (its callback is on the stack).
      Thread::Current()->Send([this] {
        run_.reset();
        CompareNext();
      });
    });
  }

  void FinishCompare() {
    const std::string what = TestDescription(opts_.test);
    std::fputs(FormatCompareTable(compare_rows_, what).c_str(), stdout);
    const std::string svg = CompareSvg(compare_rows_, what);
    FILE* f = std::fopen(opts_.svg_file.c_str(), "w");
    if (f == nullptr || std::fwrite(svg.data(), 1, svg.size(), f) != svg.size() ||
        std::fclose(f) != 0) {
      PrintError(
          absl::StrCat("cannot write the plot to ", opts_.svg_file, ": ", std::strerror(errno)));
      exit_code_ = 1;
    } else {
      std::printf("Plot (latency CDF, IOPS): %s\n", opts_.svg_file.c_str());
    }
    std::fflush(stdout);
    WriteJson(all_results_);
    StopAll();
  }

  // --- -z ------------------------------------------------------------------------
  void ServeRpc() {
    rpc_ = std::make_unique<RpcMode>(opts_);
    if (absl::Status st = rpc_->Start(); !st.ok()) {
      rpc_.reset();
      return Abort(std::string(st.message()));
    }
  }

  // --- signals and stopping -------------------------------------------------------
  PollStatus PollSignals() {
    signalfd_siginfo info;
    bool got = false;
    while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      LOG_NOTICE("bdevperf: got signal %u, stopping", info.ssi_signo);
      got = true;
    }
    if (!got || stop_requested_) return got ? PollStatus::kBusy : PollStatus::kIdle;
    stop_requested_ = true;
    if (run_ != nullptr) run_->Stop();  // normal and compare mode finish from its done
    if (rpc_ != nullptr) StopAll();     // a test still running is ended and answered first
    // Still loading the config: OnConfigLoaded stops.
    return PollStatus::kBusy;
  }

  void Abort(std::string message) {
    PrintError(message);
    exit_code_ = 1;
    StopAll();
  }

  void StopAll() {
    if (stopping_) return;
    stopping_ = true;
    auto stop_layer = [this] {
      // Unregisters whatever the config (or RPC) created, so nothing is left behind.
      StopBdevLayer([this] {
        Thread::Current()->UnregisterPoller(signal_poller_);
        signal_poller_ = nullptr;
        Runtime::RequestStop();
      });
    };
    if (rpc_ != nullptr) {
      rpc_->Shutdown([this, stop_layer] {
        rpc_.reset();
        stop_layer();
      });
      return;
    }
    stop_layer();
  }

  const Options& opts_;
  const int signal_fd_;
  Poller* signal_poller_ = nullptr;
  std::unique_ptr<PerfRun> run_;
  std::unique_ptr<RpcMode> rpc_;
  std::vector<CompareRow> compare_rows_;
  std::vector<JobResult> all_results_;
  bool stop_requested_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace

int RunBdevperf(const Options& options) {
  // Checked before anything starts, so the common mistake costs no runtime start-up.
  if (!options.config_file.empty() && access(options.config_file.c_str(), R_OK) != 0) {
    PrintError(absl::StrCat("config file ", options.config_file, ": ", std::strerror(errno)));
    return 1;
  }
  RegisterBuiltinModules();
  sigset_t signals = StopSignals();
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
    PrintError("cannot block signals");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);  // -z: a client that went away must not kill bdevperf
  const int signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    PrintError(absl::StrCat("signalfd: ", std::strerror(errno)));
    return 1;
  }
  RuntimeOptions runtime_options;
  runtime_options.cores = options.cores;
  // SPDK's --interrupt-mode: an idle reactor sleeps until a message, a timer or a
  // registered wake fd (a kernel backend's completion eventfd) wakes it.
  if (options.interrupt_mode) runtime_options.idle_policy = IdlePolicy::kSleep;
  if (options.idle_spins > 0) runtime_options.idle_spins = options.idle_spins;
  PerfApp app(options, signal_fd);
  absl::Status status = Runtime::Run(runtime_options, [&app] { app.Start(); });
  close(signal_fd);
  if (!status.ok()) {
    PrintError(absl::StrCat("cannot start the runtime: ", status.message()));
    return 1;
  }
  return app.exit_code();
}

}  // namespace bdevkit::perf

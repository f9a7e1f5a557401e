#include "tools/bdevperf/app.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "bdevkit/runtime.h"
#include "tools/bdevperf/job.h"
#include "tools/bdevperf/report.h"

namespace bdevkit::perf {
namespace {

void PrintError(absl::string_view message) {
  std::fprintf(stderr, "bdevperf: %.*s\n", static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

// Every step after the runtime is up runs on the app thread, one callback after the
// next; nothing blocks. The object lives on RunBdevperf's stack for the whole run.
class PerfApp {
 public:
  explicit PerfApp(const Options& options) : opts_(options) {}

  int exit_code() const { return exit_code_; }

  void Start() {
    StartBdevLayer([this](absl::Status status) {
      if (!status.ok()) {
        PrintError(absl::StrCat("cannot start the bdev layer: ", status.message()));
        exit_code_ = 1;
        Runtime::RequestStop();
        return;
      }
      LoadJsonConfigFile(opts_.config_file, [this](absl::Status st) {
        if (!st.ok()) return OnConfigLoaded(st);
        // Virtual modules may still be assembling on the new bdevs: list them after.
        WaitForExamine([this] { OnConfigLoaded(absl::OkStatus()); });
      });
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
    if (absl::Status st = MakeJobs(); !st.ok()) return Abort(std::string(st.message()));
    pending_ = jobs_.size();
    setup_ok_.assign(jobs_.size(), false);
    for (size_t i = 0; i < jobs_.size(); ++i) {
      jobs_[i]->Setup([this, i](absl::Status st) { OnJobSetup(i, st); });
    }
  }

  absl::Status MakeJobs() {
    std::vector<Bdev*> bdevs;
    for (const std::string& name : ListBdevs()) {
      Bdev* bdev = FindBdev(name);
      // Claimed bdevs are the bases of virtual bdevs: test the top of each stack only.
      if (bdev != nullptr && bdev->claim_type() == ClaimType::kNone) bdevs.push_back(bdev);
    }
    if (bdevs.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no bdevs to test: config file ", opts_.config_file, " creates none"));
    }
    for (Bdev* bdev : bdevs) {
      if (absl::Status st = Job::CheckGeometry(*bdev, opts_.io_size); !st.ok()) return st;
    }
    const std::vector<Thread*> threads = Runtime::ReactorThreads();
    for (size_t i = 0; i < bdevs.size(); ++i) {
      JobConfig config;
      config.bdev_name = bdevs[i]->name();
      config.thread = threads[i % threads.size()];
      config.workload = opts_.workload;
      config.queue_depth = opts_.queue_depth;
      config.io_size = opts_.io_size;
      config.time_seconds = opts_.time_seconds;
      config.prefill = opts_.prefill;
      // Distinct streams per job, repeatable for a given --seed.
      config.seed = opts_.seed ^ ((i + 1) * 0x9e3779b97f4a7c15ull);
      jobs_.push_back(std::make_unique<Job>(std::move(config)));
    }
    return absl::OkStatus();
  }

  void OnJobSetup(size_t index, absl::Status status) {
    if (status.ok()) {
      setup_ok_[index] = true;
    } else if (setup_error_.ok()) {
      setup_error_ = status;
    }
    if (--pending_ > 0) return;
    if (!setup_error_.ok()) {
      // Close the jobs that did open, then stop: nothing is left half-done.
      PrintError(setup_error_.message());
      exit_code_ = 1;
      pending_ = 0;
      for (size_t i = 0; i < jobs_.size(); ++i) {
        if (setup_ok_[i]) ++pending_;
      }
      if (pending_ == 0) return StopAll();
      for (size_t i = 0; i < jobs_.size(); ++i) {
        if (!setup_ok_[i]) continue;
        jobs_[i]->Teardown([this] {
          if (--pending_ == 0) StopAll();
        });
      }
      return;
    }
    if (opts_.prefill) {
      // Every job writes its whole bdev first; the timed runs then start together.
      std::printf("Writing every block of %zu bdev(s) first (--prefill)...\n", jobs_.size());
      std::fflush(stdout);
      pending_ = jobs_.size();
      for (auto& job : jobs_) {
        job->Prefill([this] {
          if (--pending_ == 0) RunJobs();
        });
      }
      return;
    }
    RunJobs();
  }

  void RunJobs() {
    std::printf("Running I/O for %llu seconds (seed %llu)...\n",
                static_cast<unsigned long long>(opts_.time_seconds),
                static_cast<unsigned long long>(opts_.seed));
    std::fflush(stdout);
    pending_ = jobs_.size();
    for (auto& job : jobs_) {
      job->Run([this] {
        if (--pending_ == 0) OnAllJobsDone();
      });
    }
  }

  void OnAllJobsDone() {
    std::vector<JobResult> results;
    for (const auto& job : jobs_) results.push_back(job->result());
    std::fputs(FormatResultTable(results).c_str(), stdout);
    std::fflush(stdout);
    for (const auto& job : jobs_) {
      if (!job->failure().ok()) {
        PrintError(
            absl::StrCat("job ", job->config().bdev_name, " failed: ", job->failure().message()));
        exit_code_ = 1;
      }
    }
    StopAll();
  }

  void Abort(std::string message) {
    PrintError(message);
    exit_code_ = 1;
    StopAll();
  }

  void StopAll() {
    // Unregisters whatever the config created, so a failed run leaves nothing behind.
    StopBdevLayer([] { Runtime::RequestStop(); });
  }

  const Options& opts_;
  std::vector<std::unique_ptr<Job>> jobs_;
  std::vector<bool> setup_ok_;
  absl::Status setup_error_;
  size_t pending_ = 0;
  int exit_code_ = 0;
};

}  // namespace

int RunBdevperf(const Options& options) {
  // Checked before anything starts, so the common mistake costs no runtime start-up.
  if (access(options.config_file.c_str(), R_OK) != 0) {
    PrintError(absl::StrCat("config file ", options.config_file, ": ", std::strerror(errno)));
    return 1;
  }
  RegisterBuiltinModules();
  RuntimeOptions runtime_options;
  runtime_options.cores = options.cores;
  PerfApp app(options);
  absl::Status status = Runtime::Run(runtime_options, [&app] { app.Start(); });
  if (!status.ok()) {
    PrintError(absl::StrCat("cannot start the runtime: ", status.message()));
    return 1;
  }
  return app.exit_code();
}

}  // namespace bdevkit::perf

// One test run: the planned jobs set up, optionally prefilled, run together for the
// test time with live progress (or -S rows), then their results collected. Normal
// mode makes one run, compare mode one per bdev, -z one per perform_tests call.
// Everything here runs on the app thread, one callback after the next.
#ifndef BDEVKIT_TOOLS_BDEVPERF_PERF_RUN_H_
#define BDEVKIT_TOOLS_BDEVPERF_PERF_RUN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/runtime.h"
#include "tools/bdevperf/job.h"
#include "tools/bdevperf/job_plan.h"
#include "tools/bdevperf/options.h"
#include "tools/bdevperf/progress.h"

namespace bdevkit::perf {

struct RunSettings {
  TestParams test;  // complete (CheckTestParams)
  double zipf_theta = 0;
  bool random_map = false;
  bool continue_on_failure = false;
  uint64_t timeout_seconds = 0;
  uint64_t seed = 0;
  bool prefill = false;
  uint64_t stats_period_seconds = 0;  // -S: rows every N seconds instead of progress
  bool progress = true;               // the once-a-second progress line

  static RunSettings From(const Options& options, const TestParams& test);
};

struct RunOutcome {
  absl::Status setup_error;  // a job could not start: nothing ran
  std::vector<JobResult> results;
  // One line per job that saw a failure: fatal ("job X failed: ..."), or tolerated
  // with -f / reset ("job X: N I/O failed ...; went on").
  std::vector<std::string> failures;
  bool any_failed = false;      // a job ended kFailed
  bool terminated = false;      // Stop() ended it
  uint64_t process_cpu_ns = 0;  // getrusage(RUSAGE_SELF) user+system over the run
};

class PerfRun {
 public:
  PerfRun(RunSettings settings, JobPlan plan);
  PerfRun(const PerfRun&) = delete;
  PerfRun& operator=(const PerfRun&) = delete;
  ~PerfRun();

  // App thread. `done` runs on the app thread once every job is closed again; the
  // PerfRun may be destroyed from `done`.
  void Start(std::function<void(RunOutcome)> done);
  // A signal: end early; the results so far are reported (status terminated).
  void Stop();

 private:
  void OnJobSetup(size_t index, absl::Status status);
  void StartJobs();
  void RunJobs();
  void OnJobDone();
  PollStatus Tick();
  void OnSnapshots();
  void Finish();

  RunSettings settings_;
  JobPlan plan_;
  std::vector<std::unique_ptr<Job>> jobs_;
  std::vector<bool> setup_ok_;
  absl::Status setup_error_;
  size_t pending_ = 0;
  bool stop_requested_ = false;
  enum class Stage { kSetup, kPrefill, kRunning };
  Stage stage_ = Stage::kSetup;
  bool running_ = false;  // the timed part has started
  std::function<void(RunOutcome)> done_;

  // Progress and -S.
  Poller* ticker_ = nullptr;
  ProgressLine progress_line_;
  size_t snapshots_pending_ = 0;  // a round of Snapshot() messages in flight
  bool finish_waiting_ = false;   // every job is done, waiting for that round
  std::vector<JobResult> snapshot_;
  uint64_t start_ticks_ = 0;
  uint64_t last_tick_ticks_ = 0;
  uint64_t last_ios_ = 0;
  uint64_t rounds_ = 0;
  uint64_t cpu_start_ns_ = 0;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_PERF_RUN_H_

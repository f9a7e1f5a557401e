#include "tools/bdevperf/perf_run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace bdevkit::perf {
namespace {

uint64_t ProcessCpuNs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000000ull +
           static_cast<uint64_t>(tv.tv_usec) * 1000ull;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

}  // namespace

RunSettings RunSettings::From(const Options& options, const TestParams& test) {
  RunSettings s;
  s.test = test;
  s.zipf_theta = options.zipf_theta;
  s.random_map = options.random_map;
  s.continue_on_failure = options.continue_on_failure;
  s.timeout_seconds = options.timeout_seconds;
  s.seed = options.seed;
  s.prefill = options.prefill;
  s.stats_period_seconds = options.stats_period_seconds;
  return s;
}

PerfRun::PerfRun(RunSettings settings, JobPlan plan)
    : settings_(std::move(settings)),
      plan_(std::move(plan)),
      progress_line_(isatty(STDOUT_FILENO) == 1) {}

PerfRun::~PerfRun() = default;

void PerfRun::Start(std::function<void(RunOutcome)> done) {
  done_ = std::move(done);
  for (const std::string& note : plan_.notes) std::printf("%s\n", note.c_str());
  const std::vector<Thread*> threads = Runtime::ReactorThreads();
  for (size_t i = 0; i < plan_.jobs.size(); ++i) {
    const PlannedJob& p = plan_.jobs[i];
    JobConfig config;
    config.bdev_name = p.bdev_name;
    config.thread = threads[p.thread_index % threads.size()];
    config.workload = *settings_.test.workload;
    config.rw_percentage = settings_.test.rw_percentage;
    config.queue_depth = settings_.test.queue_depth;
    config.io_size = settings_.test.io_size;
    config.time_seconds = settings_.test.time_seconds;
    config.region_offset_blocks = p.region_offset_blocks;
    config.region_num_blocks = p.region_num_blocks;
    config.zipf_theta = settings_.zipf_theta;
    config.random_map = settings_.random_map;
    config.continue_on_failure = settings_.continue_on_failure;
    config.timeout_seconds = settings_.timeout_seconds;
    config.prefill = settings_.prefill;
    // Distinct streams per job, repeatable for a given --seed.
    config.seed = settings_.seed ^ ((i + 1) * 0x9e3779b97f4a7c15ull);
    jobs_.push_back(std::make_unique<Job>(std::move(config)));
  }
  pending_ = jobs_.size();
  setup_ok_.assign(jobs_.size(), false);
  for (size_t i = 0; i < jobs_.size(); ++i) {
    jobs_[i]->Setup([this, i](absl::Status st) { OnJobSetup(i, st); });
  }
}

void PerfRun::Stop() {
  if (stop_requested_) return;
  stop_requested_ = true;
  // Jobs still setting up are closed when the last setup reports; running or
  // prefilling ones end now.
  if (stage_ != Stage::kSetup) {
    for (auto& job : jobs_) job->Stop();
  }
}

void PerfRun::OnJobSetup(size_t index, absl::Status status) {
  if (status.ok()) {
    setup_ok_[index] = true;
  } else if (setup_error_.ok()) {
    setup_error_ = status;
  }
  if (--pending_ > 0) return;
  if (!setup_error_.ok() || stop_requested_) {
    // Close the jobs that did open, then report: nothing is left half-done.
    pending_ = 0;
    for (bool ok : setup_ok_) pending_ += ok ? 1 : 0;
    if (pending_ == 0) return Finish();
    for (size_t i = 0; i < jobs_.size(); ++i) {
      if (!setup_ok_[i]) continue;
      jobs_[i]->Teardown([this] {
        if (--pending_ == 0) Finish();
      });
    }
    return;
  }
  StartJobs();
}

void PerfRun::StartJobs() {
  stage_ = Stage::kPrefill;
  if (!settings_.prefill) return RunJobs();
  // Every job writes its whole range first; the timed runs then start together.
  std::set<std::string> bdevs;
  for (const PlannedJob& p : plan_.jobs) bdevs.insert(p.bdev_name);
  std::printf("Writing every block of %zu bdev(s) first (--prefill)...\n", bdevs.size());
  std::fflush(stdout);
  pending_ = jobs_.size();
  for (auto& job : jobs_) {
    job->Prefill([this] {
      if (--pending_ == 0) RunJobs();
    });
  }
}

void PerfRun::RunJobs() {
  std::printf("Running I/O for %llu seconds (seed %llu)...\n",
              static_cast<unsigned long long>(settings_.test.time_seconds),
              static_cast<unsigned long long>(settings_.seed));
  std::fflush(stdout);
  running_ = true;
  stage_ = Stage::kRunning;
  start_ticks_ = last_tick_ticks_ = GetTicks();
  cpu_start_ns_ = ProcessCpuNs();
  if (settings_.stats_period_seconds > 0) {
    ticker_ = Thread::Current()->RegisterPoller(
        [this] { return Tick(); }, absl::Seconds(settings_.stats_period_seconds), "bdevperf_stats");
  } else if (settings_.progress) {
    ticker_ = Thread::Current()->RegisterPoller([this] { return Tick(); }, absl::Seconds(1),
                                                "bdevperf_progress");
  }
  pending_ = jobs_.size();
  for (auto& job : jobs_) job->Run([this] { OnJobDone(); });
  // A Stop() that came during the prefill: the jobs already ended their phase and
  // Run() sees it.
}

PollStatus PerfRun::Tick() {
  if (snapshots_pending_ > 0) return PollStatus::kIdle;  // the last round is still out
  snapshot_.assign(jobs_.size(), JobResult());
  snapshots_pending_ = jobs_.size();
  for (size_t i = 0; i < jobs_.size(); ++i) {
    jobs_[i]->Snapshot([this, i](const JobResult& r) {
      snapshot_[i] = r;
      if (--snapshots_pending_ == 0) OnSnapshots();
    });
  }
  return PollStatus::kBusy;
}

void PerfRun::OnSnapshots() {
  if (finish_waiting_) return Finish();
  const uint64_t now = GetTicks();
  const double tps = static_cast<double>(GetTicksPerSecond());
  ++rounds_;
  if (settings_.stats_period_seconds > 0) {
    // SPDK's -S: the rows so far (averages since the start), then a blank line.
    progress_line_.Clear();
    std::printf("%s\n", FormatResultRows(snapshot_).c_str());
    std::fflush(stdout);
    return;
  }
  uint64_t ios = 0;
  for (const JobResult& r : snapshot_) ios += r.counters.io_completed;
  const double interval = static_cast<double>(now - last_tick_ticks_) / tps;
  const double iops = interval > 0 ? static_cast<double>(ios - last_ios_) / interval : 0;
  const double mibps = iops * static_cast<double>(settings_.test.io_size) / (1024.0 * 1024.0);
  double elapsed = static_cast<double>(now - start_ticks_) / tps;
  if (elapsed > static_cast<double>(settings_.test.time_seconds)) {
    elapsed = static_cast<double>(settings_.test.time_seconds);
  }
  last_tick_ticks_ = now;
  last_ios_ = ios;
  progress_line_.Update(FormatProgress(elapsed, settings_.test.time_seconds, iops, mibps));
}

void PerfRun::OnJobDone() {
  if (--pending_ > 0) return;
  if (ticker_ != nullptr) {
    Thread::Current()->UnregisterPoller(ticker_);
    ticker_ = nullptr;
  }
  if (snapshots_pending_ > 0) {
    finish_waiting_ = true;  // OnSnapshots finishes: the jobs must outlive that round
    return;
  }
  Finish();
}

void PerfRun::Finish() {
  progress_line_.Clear();
  RunOutcome out;
  out.setup_error = setup_error_;
  out.terminated = stop_requested_;
  if (setup_error_.ok() && running_) {
    out.process_cpu_ns = ProcessCpuNs() - cpu_start_ns_;
    std::map<std::string, int> jobs_per_bdev;
    for (const auto& job : jobs_) ++jobs_per_bdev[job->config().bdev_name];
    for (const auto& job : jobs_) {
      const JobResult& r = job->result();
      // "job Malloc0", or with -C (several jobs on one bdev) "job Malloc0 on core mask 0x2".
      const std::string who =
          jobs_per_bdev[r.name] > 1 ? absl::StrCat(r.name, " on core mask ", r.core_mask) : r.name;
      out.results.push_back(r);
      if (r.status == JobStatus::kFailed) out.any_failed = true;
      if (job->failure().ok()) continue;
      if (r.status == JobStatus::kFailed || r.status == JobStatus::kTerminated) {
        out.failures.push_back(absl::StrCat("job ", who, " failed: ", job->failure().message()));
      } else {
        out.failures.push_back(absl::StrCat("job ", who, ": ", r.counters.io_failed,
                                            " I/O failed, went on (",
                                            r.workload == Workload::kReset ? "reset" : "-f",
                                            "); first: ", job->failure().message()));
      }
    }
  }
  auto done = std::move(done_);
  done(std::move(out));
}

}  // namespace bdevkit::perf

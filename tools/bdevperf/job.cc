// The job's lifecycle: setup, prefill, run start and timers, stop, snapshot, finish.
// The I/O path itself is in job_io.cc.
#include "tools/bdevperf/job.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bdevkit/log.h"
#include "tools/bdevperf/job_task.h"
#include "tools/bdevperf/pattern.h"

namespace bdevkit::perf {
namespace {

// Buffers start at a page at least, whatever the bdev asks: page-aligned buffers
// keep memcpy-based backends on their fast path, and cost nothing here.
constexpr size_t kMinBufferAlignment = 4096;
// Bytes of the read-back buffer poisoned before the first read, so a backend that
// "reads" without writing the buffer cannot match by luck.
constexpr unsigned char kPoison = 0xa5;
// SPDK's reset workload resets every 10 s, which a run shorter than that never
// reaches; ours resets every second so that short runs exercise it too.
constexpr absl::Duration kResetPeriod = absl::Seconds(1);
// How soon a parked task (-f, or -EAGAIN during a reset) is submitted again.
constexpr absl::Duration kRetryPeriod = absl::Microseconds(100);

uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Job::Job(JobConfig config) : config_(std::move(config)) {}
Job::~Job() = default;

void Job::ReportToApp(std::function<void()> fn) {
  Thread* app = Runtime::AppThread();
  if (app->Send(std::move(fn)) != 0) {
    // The app thread's ring is sized for the whole control plane; failing here means
    // the runtime is shutting down under us, which bdevperf never asks for mid-run.
    LOG_ERROR("bdevperf: cannot report job %s to the app thread", config_.bdev_name);
  }
}

void Job::Setup(std::function<void(absl::Status)> done) {
  config_.thread->Send([this, done = std::move(done)]() mutable {
    absl::Status status = SetupOnThread();
    if (!status.ok()) Release();
    ReportToApp([status, done = std::move(done)] { done(status); });
  });
}

void Job::Teardown(std::function<void()> done) {
  config_.thread->Send([this, done = std::move(done)]() mutable {
    Release();
    ReportToApp(std::move(done));
  });
}

void Job::Prefill(std::function<void()> done) {
  prefill_done_ = std::move(done);
  config_.thread->Send([this] { StartPrefill(); });
}

void Job::Run(std::function<void()> done) {
  run_done_ = std::move(done);
  config_.thread->Send([this] { StartOnThread(); });
}

void Job::Stop() {
  config_.thread->Send([this] {
    if (phase_ == Phase::kDone || stopping_) return;
    terminated_ = true;
    BeginStop();
  });
}

void Job::Snapshot(std::function<void(const JobResult&)> done) {
  config_.thread->Send([this, done = std::move(done)]() mutable {
    JobResult copy = result_;
    if (phase_ == Phase::kRunning) copy.runtime_ticks = GetTicks() - start_ticks_;
    ReportToApp([copy = std::move(copy), done = std::move(done)] { done(copy); });
  });
}

absl::Status Job::SetupOnThread() {
  const bool writable = Writes(config_.workload) || config_.prefill;
  auto desc = OpenBdev(config_.bdev_name, writable, [this](BdevEvent event) {
    if (event == BdevEvent::kRemove) {
      Fail(absl::UnavailableError(absl::StrCat("bdev ", config_.bdev_name, " was removed")));
    }
  });
  if (!desc.ok()) {
    return absl::Status(desc.status().code(), absl::StrCat("cannot open bdev ", config_.bdev_name,
                                                           ": ", desc.status().message()));
  }
  desc_ = *std::move(desc);
  const Bdev& bdev = desc_->bdev();
  block_size_ = bdev.block_size();
  io_blocks_ = config_.io_size / block_size_;
  first_block_ = config_.region_offset_blocks;
  uint64_t region_blocks = config_.region_num_blocks;
  if (region_blocks == 0 && first_block_ < bdev.num_blocks()) {
    region_blocks = bdev.num_blocks() - first_block_;
  }
  num_slots_ = io_blocks_ == 0 ? 0 : region_blocks / io_blocks_;
  if (io_blocks_ == 0 || num_slots_ == 0 || first_block_ + region_blocks > bdev.num_blocks()) {
    // The plan checked the geometry on the app thread; a resize raced us.
    return absl::InvalidArgumentError(
        absl::StrCat("I/O size does not fit bdev ", config_.bdev_name));
  }
  if (auto missing =
          MissingIoType(config_.workload, [&bdev](IoType t) { return bdev.IoTypeSupported(t); })) {
    return absl::InvalidArgumentError(absl::StrCat("bdev ", config_.bdev_name, " does not support ",
                                                   std::string(IoTypeName(*missing))));
  }
  if (config_.prefill && !bdev.IoTypeSupported(IoType::kWrite)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bdev ", config_.bdev_name, " does not support writes (--prefill)"));
  }

  channel_ = desc_->GetIoChannel();
  if (channel_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot get an I/O channel for bdev ", config_.bdev_name));
  }
  if (absl::Status st = AllocateTasks(bdev); !st.ok()) return st;

  random_ = IsRandom(config_.workload);
  rng_state_ = config_.seed | 1;  // xorshift must not start at 0
  next_slot_ = 0;
  use_zipf_ = random_ && config_.zipf_theta > 0;
  if (use_zipf_) zipf_ = ZipfGenerator(num_slots_, config_.zipf_theta);
  if (random_ && config_.random_map) random_map_ = RandomMap(num_slots_, config_.seed);
  timeout_ticks_ = config_.timeout_seconds * GetTicksPerSecond();

  result_.name = config_.bdev_name;
  result_.core_mask = FormatCoreMask({config_.thread->core()});
  result_.workload = config_.workload;
  result_.rw_percentage = config_.rw_percentage;
  result_.queue_depth = config_.queue_depth;
  result_.io_size = config_.io_size;
  result_.ticks_per_second = GetTicksPerSecond();
  if (verify_) {
    result_.verify_start_lba = first_block_;
    result_.verify_num_blocks = num_slots_ * io_blocks_;
  }
  return absl::OkStatus();
}

absl::Status Job::AllocateTasks(const Bdev& bdev) {
  verify_ = Verifies(config_.workload);
  // verify keeps every in-flight slot distinct, so it cannot use more tasks than slots.
  active_depth_ = config_.queue_depth;
  if (verify_ && num_slots_ < active_depth_) active_depth_ = static_cast<uint32_t>(num_slots_);

  size_t alignment = kMinBufferAlignment;
  if (bdev.properties().required_alignment > alignment) {
    alignment = bdev.properties().required_alignment;
  }
  // unmap, flush and write_zeroes carry no data (a prefill still needs a buffer).
  const bool needs_buffer = !SingleIoType(config_.workload) ||
                            *SingleIoType(config_.workload) == IoType::kRead ||
                            *SingleIoType(config_.workload) == IoType::kWrite || config_.prefill;
  const size_t per_task = needs_buffer ? config_.io_size * (verify_ ? 2 : 1) : 0;
  size_t total = per_task * active_depth_;
  total = (total + alignment - 1) / alignment * alignment;
  if (total > 0) {
    buffers_.reset(static_cast<unsigned char*>(std::aligned_alloc(alignment, total)));
    if (buffers_ == nullptr) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "cannot allocate %u bytes of I/O buffers for bdev %s", total, config_.bdev_name));
    }
    // Touch every buffer page now, so the first I/Os do not pay page faults.
    std::memset(buffers_.get(), 0, total);
  }
  tasks_.resize(active_depth_);
  parked_.assign(active_depth_, nullptr);
  retry_batch_.assign(active_depth_, nullptr);
  for (uint32_t i = 0; i < active_depth_; ++i) {
    Task& t = tasks_[i];
    t.job = this;
    t.buf = needs_buffer ? buffers_.get() + i * per_task : nullptr;
    if (verify_) {
      t.read_buf = t.buf + config_.io_size;
      std::memset(t.read_buf, kPoison, config_.io_size);
    } else if (needs_buffer) {
      // Written data is not checked, but make it non-trivial (not all zeroes) once,
      // here, rather than on the I/O path.
      FillPattern(t.buf, block_size_, io_blocks_, PatternKey{0, i, config_.seed});
    }
    t.wait.cb = &Job::OnIoWait;
    t.wait.cb_arg = &t;
  }
  if (verify_) busy_slots_.assign((num_slots_ + 63) / 64, 0);
  return absl::OkStatus();
}

void Job::Release() {
  for (Poller** p : {&timer_, &retry_poller_, &timeout_poller_, &reset_poller_}) {
    if (*p != nullptr) {
      config_.thread->UnregisterPoller(*p);
      *p = nullptr;
    }
  }
  if (channel_ != nullptr) {
    channel_->Put();
    channel_ = nullptr;
  }
  desc_.reset();
  buffers_.reset();
}

void Job::StartPrefill() {
  phase_ = Phase::kPrefill;
  starting_ = true;
  for (Task& t : tasks_) {
    if (stopping_ || prefill_next_ == num_slots_) break;
    t.offset_blocks = first_block_ + prefill_next_++ * io_blocks_;
    t.io_type = IoType::kWrite;
    t.verify_reading = false;
    ++in_flight_;
    Submit(t, GetTicks());
  }
  starting_ = false;
  if (in_flight_ == 0) EndPrefill();
}

void Job::EndPrefill() {
  phase_ = Phase::kIdle;
  ReportToApp([this] {
    auto done = std::move(prefill_done_);
    done();
  });
}

void Job::StartTimers() {
  end_ticks_ = start_ticks_ + config_.time_seconds * GetTicksPerSecond();
  // The clock is checked by a timed poller rather than on every completion, so the
  // I/O path stays a read of the tick counter per I/O and nothing more.
  timer_ = config_.thread->RegisterPoller(
      [this] {
        if (GetTicks() < end_ticks_) return PollStatus::kIdle;
        BeginStop();
        return PollStatus::kBusy;
      },
      absl::Milliseconds(5), "bdevperf_timer");
  if (config_.continue_on_failure || config_.workload == Workload::kReset) {
    retry_poller_ = config_.thread->RegisterPoller([this] { return RetryParked(); }, kRetryPeriod,
                                                   "bdevperf_retry");
  }
  if (timeout_ticks_ != 0) {
    // Checked a few times per timeout period: an I/O is counted at most a quarter of
    // the period late, and the scan (one pass over the tasks) stays rare.
    absl::Duration period = absl::Seconds(config_.timeout_seconds) / 4;
    if (period > absl::Milliseconds(100)) period = absl::Milliseconds(100);
    timeout_poller_ = config_.thread->RegisterPoller([this] { return CheckTimeouts(); }, period,
                                                     "bdevperf_timeout");
  }
  if (config_.workload == Workload::kReset) {
    reset_poller_ = config_.thread->RegisterPoller([this] { return StartReset(); }, kResetPeriod,
                                                   "bdevperf_reset");
  }
}

void Job::StartOnThread() {
  phase_ = Phase::kRunning;
  start_ticks_ = GetTicks();
  cpu_start_ns_ = ThreadCpuNs();
  if (stopping_) {  // the prefill failed, the bdev went away, or Stop came first
    BeginStop();
    return;
  }
  StartTimers();
  starting_ = true;
  for (Task& t : tasks_) {
    if (stopping_) break;  // an earlier submit failed
    PrepareNext(t);
    ++in_flight_;
    t.in_flight = true;
    Submit(t, GetTicks());
  }
  starting_ = false;
  if (in_flight_ == 0) BeginStop();
}

void Job::BeginStop() {
  for (Poller** p : {&timer_, &retry_poller_, &reset_poller_}) {
    if (*p != nullptr) {
      config_.thread->UnregisterPoller(*p);
      *p = nullptr;
    }
  }
  stopping_ = true;
  // Parked tasks will not be retried: they are done.
  while (num_parked_ > 0) TaskDone(*parked_[--num_parked_]);
  // Before the run (setup done, prefill running or over) there is nothing to finish:
  // Run() sees stopping_ and ends at once.
  if (phase_ != Phase::kRunning || starting_) return;
  if (in_flight_ == 0 && !finish_queued_) {
    finish_queued_ = true;
    config_.thread->Send(&Job::FinishMessage, this);
  }
}

void Job::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = std::move(status);
  fatal_failure_ = true;
  BeginStop();
}

void Job::FinishMessage(void* arg) {
  Job& job = *static_cast<Job*>(arg);
  job.result_.runtime_ticks = GetTicks() - job.start_ticks_;
  job.result_.cpu_ns = ThreadCpuNs() - job.cpu_start_ns_;
  job.result_.status = job.terminated_      ? JobStatus::kTerminated
                       : job.fatal_failure_ ? JobStatus::kFailed
                                            : JobStatus::kFinished;
  job.phase_ = Phase::kDone;
  job.Release();
  job.ReportToApp([&job] {
    auto done = std::move(job.run_done_);
    done();
  });
}

}  // namespace bdevkit::perf

#include "tools/bdevperf/job.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bdevkit/log.h"
#include "tools/bdevperf/pattern.h"

namespace bdevkit::perf {

// One I/O slot of the queue: its buffers and where it is in its cycle. Tasks are made
// at setup and live until the job ends, so the I/O path allocates nothing.
struct Job::Task {
  Job* job = nullptr;
  unsigned char* buf = nullptr;       // data written, or read into
  unsigned char* read_buf = nullptr;  // verify: where the written data is read back
  uint64_t slot = 0;
  uint64_t offset_blocks = 0;
  uint64_t generation = 0;  // verify: which write this is
  uint64_t submit_ticks = 0;
  bool verify_reading = false;  // verify: the write is done, the read is next
  IoWaitEntry wait;
};

namespace {

uint64_t XorShift64Star(uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}

// Buffers start at a page at least, whatever the bdev asks: page-aligned buffers
// keep memcpy-based backends on their fast path, and cost nothing here.
constexpr size_t kMinBufferAlignment = 4096;
// Bytes of the read-back buffer poisoned before the first read, so a backend that
// "reads" without writing the buffer cannot match by luck.
constexpr unsigned char kPoison = 0xa5;

}  // namespace

Job::Job(JobConfig config) : config_(std::move(config)) {}
Job::~Job() = default;

absl::Status Job::CheckGeometry(const Bdev& bdev, uint64_t io_size) {
  const uint64_t bs = bdev.block_size();
  if (io_size % bs != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("I/O size %u (-o) is not a multiple of the block size %u of bdev %s",
                        io_size, bs, bdev.name()));
  }
  const uint64_t bytes = bdev.num_blocks() * bs;
  if (io_size > bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "I/O size %u (-o) is larger than bdev %s (%u bytes)", io_size, bdev.name(), bytes));
  }
  return absl::OkStatus();
}

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
  num_slots_ = bdev.num_blocks() / io_blocks_;
  if (io_blocks_ == 0 || num_slots_ == 0) {  // CheckGeometry ran; a resize raced us
    return absl::InvalidArgumentError(
        absl::StrCat("I/O size does not fit bdev ", config_.bdev_name));
  }
  if (writable) {
    if (!bdev.IoTypeSupported(IoType::kWrite)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bdev ", config_.bdev_name, " does not support writes"));
    }
  }
  if (!bdev.IoTypeSupported(IoType::kRead) && config_.workload != Workload::kWrite &&
      config_.workload != Workload::kRandWrite) {  // verify reads too
    return absl::InvalidArgumentError(
        absl::StrCat("bdev ", config_.bdev_name, " does not support reads"));
  }

  channel_ = desc_->GetIoChannel();
  if (channel_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot get an I/O channel for bdev ", config_.bdev_name));
  }

  const bool verify = config_.workload == Workload::kVerify;
  // verify keeps every in-flight slot distinct, so it cannot use more tasks than slots.
  active_depth_ = config_.queue_depth;
  if (verify && num_slots_ < active_depth_) active_depth_ = static_cast<uint32_t>(num_slots_);

  size_t alignment = kMinBufferAlignment;
  if (bdev.properties().required_alignment > alignment) {
    alignment = bdev.properties().required_alignment;
  }
  const size_t per_task = config_.io_size * (verify ? 2 : 1);
  size_t total = per_task * active_depth_;
  total = (total + alignment - 1) / alignment * alignment;
  buffers_.reset(static_cast<unsigned char*>(std::aligned_alloc(alignment, total)));
  if (buffers_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cannot allocate %u bytes of I/O buffers for bdev %s", total, config_.bdev_name));
  }
  // Touch every buffer page now, so the first I/Os do not pay page faults.
  std::memset(buffers_.get(), 0, total);
  tasks_.resize(active_depth_);
  for (uint32_t i = 0; i < active_depth_; ++i) {
    Task& t = tasks_[i];
    t.job = this;
    t.buf = buffers_.get() + i * per_task;
    if (verify) {
      t.read_buf = t.buf + config_.io_size;
      std::memset(t.read_buf, kPoison, config_.io_size);
    } else if (Writes(config_.workload)) {
      // Written data is not checked, but make it non-trivial (not all zeroes) once,
      // here, rather than on the I/O path.
      FillPattern(t.buf, block_size_, io_blocks_, PatternKey{0, i, config_.seed});
    }
    t.wait.cb = &Job::OnIoWait;
    t.wait.cb_arg = &t;
  }
  if (verify) busy_slots_.assign((num_slots_ + 63) / 64, 0);

  random_ = IsRandom(config_.workload);
  rng_state_ = config_.seed | 1;  // xorshift must not start at 0
  next_slot_ = 0;

  result_.name = config_.bdev_name;
  result_.core_mask = FormatCoreMask({config_.thread->core()});
  result_.workload = config_.workload;
  result_.queue_depth = config_.queue_depth;
  result_.io_size = config_.io_size;
  result_.ticks_per_second = GetTicksPerSecond();
  if (verify) {
    result_.verify_start_lba = 0;
    result_.verify_num_blocks = num_slots_ * io_blocks_;
  }
  return absl::OkStatus();
}

void Job::Release() {
  if (timer_ != nullptr) {
    config_.thread->UnregisterPoller(timer_);
    timer_ = nullptr;
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
    t.offset_blocks = prefill_next_++ * io_blocks_;
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

void Job::StartOnThread() {
  phase_ = Phase::kRunning;
  start_ticks_ = GetTicks();
  if (!failure_.ok()) {  // the prefill failed, or the bdev went away meanwhile
    BeginStop();
    return;
  }
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
  starting_ = true;
  for (Task& t : tasks_) {
    if (stopping_) break;  // an earlier submit failed
    PrepareNext(t);
    ++in_flight_;
    Submit(t, GetTicks());
  }
  starting_ = false;
  if (in_flight_ == 0) BeginStop();
}

uint64_t Job::NextSlot() {
  if (random_) {
    // Scale a 64-bit random number to [0, num_slots_) with a multiply instead of a
    // modulo: a 64-bit division costs more than the rest of bdevperf's per-I/O work.
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(XorShift64Star(rng_state_)) * num_slots_) >> 64);
  }
  if (config_.workload == Workload::kVerify) {
    // Skip slots another task still owns (completions can come out of order); at
    // most active_depth_ - 1 are busy and active_depth_ <= num_slots_, so this ends.
    while (busy_slots_[next_slot_ / 64] & (1ull << (next_slot_ % 64))) {
      next_slot_ = next_slot_ + 1 == num_slots_ ? 0 : next_slot_ + 1;
    }
    busy_slots_[next_slot_ / 64] |= 1ull << (next_slot_ % 64);
  }
  const uint64_t slot = next_slot_;
  next_slot_ = next_slot_ + 1 == num_slots_ ? 0 : next_slot_ + 1;
  return slot;
}

void Job::PrepareNext(Task& t) {
  t.slot = NextSlot();
  t.offset_blocks = t.slot * io_blocks_;
  if (config_.workload == Workload::kVerify) {
    t.verify_reading = false;
    t.generation = next_generation_++;
    FillPattern(t.buf, block_size_, io_blocks_,
                PatternKey{t.offset_blocks, t.generation, config_.seed});
  }
}

void Job::Submit(Task& t, uint64_t now) {
  // A few rounds at most: QueueIoWait refuses (-EINVAL) only when a BdevIo freed up
  // between our submit and the wait, so the next submit succeeds.
  for (int attempt = 0; attempt < 4; ++attempt) {
    t.submit_ticks = attempt == 0 ? now : GetTicks();
    int rc;
    switch (phase_ == Phase::kPrefill ? Workload::kWrite : config_.workload) {
      case Workload::kWrite:
      case Workload::kRandWrite:
        rc = desc_->Write(channel_, t.buf, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
        break;
      case Workload::kVerify:
        rc = t.verify_reading
                 ? desc_->Read(channel_, t.read_buf, t.offset_blocks, io_blocks_, &Job::OnComplete,
                               &t)
                 : desc_->Write(channel_, t.buf, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
        break;
      default:
        rc = desc_->Read(channel_, t.buf, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
        break;
    }
    if (rc == 0) return;
    if (rc != -ENOMEM) {
      ++result_.counters.io_failed;
      Fail(absl::InternalError(
          absl::StrFormat("submit at LBA 0x%x failed: %s", t.offset_blocks, std::strerror(-rc))));
      TaskDone(t);
      return;
    }
    if (desc_->QueueIoWait(channel_, &t.wait) == 0) return;  // OnIoWait resubmits
  }
  Fail(absl::InternalError("no BdevIo became free although the core said one was"));
  TaskDone(t);
}

void Job::OnIoWait(void* arg) {
  Task& t = *static_cast<Task*>(arg);
  t.job->Submit(t, GetTicks());
}

void Job::OnComplete(void* arg, IoStatus status) {
  Task& t = *static_cast<Task*>(arg);
  Job& job = *t.job;
  const uint64_t now = GetTicks();
  if (!status.ok()) {
    ++job.result_.counters.io_failed;
    job.Fail(absl::DataLossError(absl::StrFormat(
        "%s at LBA 0x%x failed: %s (nvme sct %u sc %u)",
        t.verify_reading || !Writes(job.config_.workload) ? "read" : "write", t.offset_blocks,
        std::strerror(-status.error), status.nvme_sct, status.nvme_sc)));
    job.TaskDone(t);
    return;
  }
  if (job.phase_ == Phase::kPrefill) {
    if (!job.stopping_ && job.prefill_next_ < job.num_slots_) {
      t.offset_blocks = job.prefill_next_++ * job.io_blocks_;
      job.Submit(t, now);
    } else {
      job.TaskDone(t);
    }
    return;
  }
  if (job.config_.workload == Workload::kVerify) {
    if (!t.verify_reading) {
      job.result_.counters.Record(now - t.submit_ticks);
      // Even when stopping, read back what was just written: the drain checks it too.
      t.verify_reading = true;
      job.Submit(t, now);
      return;
    }
    const auto mismatch =
        ComparePattern(t.buf, t.read_buf, job.block_size_, job.io_blocks_, t.offset_blocks,
                       PatternKey{t.offset_blocks, t.generation, job.config_.seed});
    job.busy_slots_[t.slot / 64] &= ~(1ull << (t.slot % 64));
    if (mismatch) {
      // A read that returned wrong data is a failed I/O (Fail/s), as in SPDK.
      ++job.result_.counters.io_failed;
      job.Fail(absl::DataLossError(absl::StrCat("verify miscompare on bdev ", job.config_.bdev_name,
                                                ": ", FormatMismatch(*mismatch))));
      job.TaskDone(t);
      return;
    }
  }
  job.result_.counters.Record(now - t.submit_ticks);
  if (job.stopping_) {
    job.TaskDone(t);
    return;
  }
  job.PrepareNext(t);
  // verify spent time filling the pattern: do not count it as the next I/O's latency.
  job.Submit(t, job.config_.workload == Workload::kVerify ? GetTicks() : now);
}

void Job::TaskDone(Task& /*t*/) {
  --in_flight_;
  if (in_flight_ != 0 || starting_) return;
  if (phase_ == Phase::kPrefill) {
    EndPrefill();
    return;
  }
  if (phase_ == Phase::kRunning && stopping_ && !finish_queued_) {
    // Finish from a fresh message, not inside the completion callback: closing the
    // descriptor there would pull the channel out from under the core's own frame.
    finish_queued_ = true;
    config_.thread->Send(&Job::FinishMessage, this);
  }
}

void Job::BeginStop() {
  if (timer_ != nullptr) {
    config_.thread->UnregisterPoller(timer_);
    timer_ = nullptr;
  }
  stopping_ = true;
  // Before the run (setup done, prefill running or over) there is nothing to finish:
  // Run() sees the failure and ends at once.
  if (phase_ != Phase::kRunning || starting_) return;
  if (in_flight_ == 0 && !finish_queued_) {
    finish_queued_ = true;
    config_.thread->Send(&Job::FinishMessage, this);
  }
}

void Job::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = std::move(status);
  BeginStop();
}

void Job::FinishMessage(void* arg) {
  Job& job = *static_cast<Job*>(arg);
  job.result_.runtime_ticks = GetTicks() - job.start_ticks_;
  job.Release();
  job.ReportToApp([&job] {
    auto done = std::move(job.run_done_);
    done();
  });
}

}  // namespace bdevkit::perf

// The job's I/O path: pick the next offset and I/O type, submit, complete, resubmit.
// Runs only on the job's thread; allocates nothing and takes no locks.
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bdevperf/job.h"
#include "tools/bdevperf/job_task.h"
#include "tools/bdevperf/pattern.h"

namespace bdevkit::perf {
namespace {

uint64_t XorShift64Star(uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}

// Scales a 64-bit random number to [0, n) with a multiply instead of a modulo: a
// 64-bit division costs more than the rest of bdevperf's per-I/O work.
uint64_t Scale(uint64_t random, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

}  // namespace

bool Job::TolerateFailures() const {
  // SPDK's reset workload expects I/O to fail around each reset and goes on.
  return config_.continue_on_failure || config_.workload == Workload::kReset;
}

uint64_t Job::Random() { return XorShift64Star(rng_state_); }

uint64_t Job::NextSlot() {
  if (random_) {
    if (use_zipf_) return zipf_.Next([this] { return Random(); });
    if (config_.random_map) return random_map_.Next();
    return Scale(Random(), num_slots_);
  }
  if (verify_) {
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
  t.offset_blocks = first_block_ + t.slot * io_blocks_;
  t.timed_out = false;
  t.verify_reading = false;
  switch (config_.workload) {
    case Workload::kVerify:
    case Workload::kReset:
      t.io_type = IoType::kWrite;
      t.generation = next_generation_++;
      FillPattern(t.buf, block_size_, io_blocks_,
                  PatternKey{t.offset_blocks, t.generation, config_.seed});
      break;
    case Workload::kRw:
    case Workload::kRandRw:
      t.io_type = static_cast<int>(Scale(Random(), 100)) < config_.rw_percentage ? IoType::kRead
                                                                                 : IoType::kWrite;
      break;
    case Workload::kRead:
    case Workload::kRandRead:
      t.io_type = IoType::kRead;
      break;
    case Workload::kWrite:
    case Workload::kRandWrite:
      t.io_type = IoType::kWrite;
      break;
    case Workload::kUnmap:
      t.io_type = IoType::kUnmap;
      break;
    case Workload::kFlush:
      t.io_type = IoType::kFlush;
      break;
    case Workload::kWriteZeroes:
      t.io_type = IoType::kWriteZeroes;
      break;
  }
}

int Job::SubmitOnce(Task& t) {
  switch (t.io_type) {
    case IoType::kRead:
      return desc_->Read(channel_, t.verify_reading ? t.read_buf : t.buf, t.offset_blocks,
                         io_blocks_, &Job::OnComplete, &t);
    case IoType::kWrite:
      return desc_->Write(channel_, t.buf, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
    case IoType::kUnmap:
      return desc_->Unmap(channel_, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
    case IoType::kFlush:
      return desc_->Flush(channel_, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
    case IoType::kWriteZeroes:
      return desc_->WriteZeroes(channel_, t.offset_blocks, io_blocks_, &Job::OnComplete, &t);
    case IoType::kReset:
      break;  // resets are not tasks (StartReset)
  }
  return -EINVAL;
}

void Job::Submit(Task& t, uint64_t now) {
  // A few rounds at most: QueueIoWait refuses (-EINVAL) only when a BdevIo freed up
  // between our submit and the wait, so the next submit succeeds.
  for (int attempt = 0; attempt < 4; ++attempt) {
    t.submit_ticks = attempt == 0 ? now : GetTicks();
    const int rc = SubmitOnce(t);
    if (rc == 0) return;
    if (rc == -ENOMEM) {
      if (desc_->QueueIoWait(channel_, &t.wait) == 0) return;  // OnIoWait resubmits
      continue;
    }
    ++result_.counters.io_failed;
    absl::Status why = absl::InternalError(absl::StrFormat("%s submit at LBA 0x%x failed: %s",
                                                           std::string(IoTypeName(t.io_type)),
                                                           t.offset_blocks, std::strerror(-rc)));
    if (phase_ == Phase::kRunning && !stopping_ && TolerateFailures()) {
      // Not resubmitted from here: a bdev that refuses every submit would recurse.
      // The retry poller submits it again shortly (same offset, same data).
      if (failure_.ok()) failure_ = std::move(why);
      parked_[num_parked_++] = &t;
      return;
    }
    ReleaseSlot(t);
    Fail(std::move(why));
    TaskDone(t);
    return;
  }
  ReleaseSlot(t);
  Fail(absl::InternalError("no BdevIo became free although the core said one was"));
  TaskDone(t);
}

PollStatus Job::RetryParked() {
  if (num_parked_ == 0) return PollStatus::kIdle;
  // Submitting may park a task again: take the batch out first (a swap, no copy).
  const size_t n = num_parked_;
  std::swap(parked_, retry_batch_);
  num_parked_ = 0;
  for (size_t i = 0; i < n; ++i) Submit(*retry_batch_[i], GetTicks());
  return PollStatus::kBusy;
}

void Job::OnIoWait(void* arg) {
  Task& t = *static_cast<Task*>(arg);
  t.job->Submit(t, GetTicks());
}

void Job::ReleaseSlot(Task& t) {
  if (verify_) busy_slots_[t.slot / 64] &= ~(1ull << (t.slot % 64));
}

void Job::OnFailedIo(Task& t, absl::Status why) {
  ++result_.counters.io_failed;
  ReleaseSlot(t);
  if (phase_ == Phase::kRunning && TolerateFailures()) {
    if (failure_.ok()) failure_ = std::move(why);
    Continue(t, GetTicks());
    return;
  }
  Fail(std::move(why));
  TaskDone(t);
}

void Job::Continue(Task& t, uint64_t now) {
  if (stopping_) {
    TaskDone(t);
    return;
  }
  PrepareNext(t);
  // verify spent time filling the pattern: do not count it as the next I/O's latency.
  Submit(t, verify_ ? GetTicks() : now);
}

void Job::OnComplete(void* arg, IoStatus status) {
  Task& t = *static_cast<Task*>(arg);
  Job& job = *t.job;
  const uint64_t now = GetTicks();
  if (!status.ok()) {
    job.OnFailedIo(
        t, absl::DataLossError(absl::StrFormat(
               "%s at LBA 0x%x failed: %s (nvme sct %u sc %u)", std::string(IoTypeName(t.io_type)),
               t.offset_blocks, std::strerror(-status.error), status.nvme_sct, status.nvme_sc)));
    return;
  }
  if (job.phase_ == Phase::kPrefill) {
    if (!job.stopping_ && job.prefill_next_ < job.num_slots_) {
      t.offset_blocks = job.first_block_ + job.prefill_next_++ * job.io_blocks_;
      job.Submit(t, now);
    } else {
      job.TaskDone(t);
    }
    return;
  }
  const uint64_t latency = now - t.submit_ticks;
  if (job.verify_ && !t.verify_reading) {
    job.result_.counters.Record(latency, IoType::kWrite);
    job.result_.histogram.Record(latency);
    // Even when stopping, read back what was just written: the drain checks it too.
    t.verify_reading = true;
    t.io_type = IoType::kRead;
    t.timed_out = false;
    job.Submit(t, now);
    return;
  }
  if (job.verify_) {
    const auto mismatch =
        ComparePattern(t.buf, t.read_buf, job.block_size_, job.io_blocks_, t.offset_blocks,
                       PatternKey{t.offset_blocks, t.generation, job.config_.seed});
    job.ReleaseSlot(t);
    if (mismatch) {
      // A read that returned wrong data is a failed I/O (Fail/s), not a completed one.
      // Only -f goes on after one (the reset workload tolerates failed I/O, not bad
      // data).
      ++job.result_.counters.io_failed;
      absl::Status why = absl::DataLossError(absl::StrCat(
          "verify miscompare on bdev ", job.config_.bdev_name, ": ", FormatMismatch(*mismatch)));
      if (job.config_.continue_on_failure && job.phase_ == Phase::kRunning) {
        if (job.failure_.ok()) job.failure_ = std::move(why);
        job.Continue(t, now);
        return;
      }
      job.Fail(std::move(why));
      job.TaskDone(t);
      return;
    }
  }
  job.result_.counters.Record(latency, t.io_type);
  job.result_.histogram.Record(latency);
  job.Continue(t, now);
}

void Job::TaskDone(Task& t) {
  t.in_flight = false;
  OneDone();
}

void Job::OneDone() {
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

PollStatus Job::CheckTimeouts() {
  const uint64_t now = GetTicks();
  for (Task& t : tasks_) {
    if (t.in_flight && !t.timed_out && now - t.submit_ticks > timeout_ticks_) {
      t.timed_out = true;
      ++result_.counters.io_timeout;
    }
  }
  return PollStatus::kIdle;
}

PollStatus Job::StartReset() {
  if (reset_in_flight_ || stopping_) return PollStatus::kIdle;
  const int rc = desc_->Reset(channel_, &Job::OnResetDone, this);
  if (rc == 0) {
    reset_in_flight_ = true;
    ++in_flight_;  // the drain waits for it like for a task
    return PollStatus::kBusy;
  }
  // Another reset of the bdev is running, or no BdevIo is free: try next period.
  if (rc == -EAGAIN || rc == -ENOMEM) return PollStatus::kIdle;
  ++result_.counters.io_failed;
  Fail(absl::InternalError(absl::StrCat("reset submit failed: ", std::strerror(-rc))));
  return PollStatus::kBusy;
}

void Job::OnResetDone(void* arg, IoStatus status) {
  Job& job = *static_cast<Job*>(arg);
  job.reset_in_flight_ = false;
  if (status.ok()) {
    ++job.result_.counters.ops[static_cast<int>(IoType::kReset)];
  } else {
    ++job.result_.counters.io_failed;
    job.Fail(absl::DataLossError(absl::StrCat("reset of bdev ", job.config_.bdev_name,
                                              " failed: ", std::strerror(-status.error))));
  }
  job.OneDone();
}

}  // namespace bdevkit::perf

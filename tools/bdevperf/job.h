// One bdevperf job: one bdev driven from one runtime thread with `queue_depth` I/Os
// in flight. All I/O state (tasks, buffers, counters) is owned by that thread; the
// app thread only starts the job and reads its result after the job reported back.
//
// Life of a job (each step runs on the job's thread, each `done` on the app thread):
//   Setup    open the bdev, get a channel, allocate every buffer and task up front
//   Prefill  (optional, untimed) write every block once, so reads see written data
//   Run      submit queue_depth I/Os, resubmit from each completion until the time
//            is up (or an I/O fails, or the bdev goes away), drain, close
//   Teardown close without running (another job's setup failed)
#ifndef BDEVKIT_TOOLS_BDEVPERF_JOB_H_
#define BDEVKIT_TOOLS_BDEVPERF_JOB_H_

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/runtime.h"
#include "tools/bdevperf/report.h"
#include "tools/bdevperf/workload.h"

namespace bdevkit::perf {

struct JobConfig {
  std::string bdev_name;
  Thread* thread = nullptr;  // the reactor thread the job runs on
  Workload workload = Workload::kRead;
  uint32_t queue_depth = 1;
  uint64_t io_size = 0;  // bytes; a multiple of the bdev's block size
  uint64_t time_seconds = 1;
  uint64_t seed = 0;     // already mixed with the job's index
  bool prefill = false;  // Prefill() will be called: open the bdev writable
};

class Job {
 public:
  explicit Job(JobConfig config);
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  ~Job();

  // Checks the I/O size against the bdev's geometry. App thread (the bdev registry's
  // owner), before Setup.
  static absl::Status CheckGeometry(const Bdev& bdev, uint64_t io_size);

  // Queue the steps on the job's thread. Any thread; `done` runs on the app thread.
  void Setup(std::function<void(absl::Status)> done);
  void Prefill(std::function<void()> done);
  void Run(std::function<void()> done);
  void Teardown(std::function<void()> done);

  // After Run's done: what the job measured, and why it failed (OK if it did not).
  const JobResult& result() const { return result_; }
  const absl::Status& failure() const { return failure_; }
  const JobConfig& config() const { return config_; }

 private:
  struct Task;
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  absl::Status SetupOnThread();
  void StartOnThread();
  void StartPrefill();
  void EndPrefill();
  void Release();  // channel and descriptor, on the job's thread
  void ReportToApp(std::function<void()> fn);

  // The I/O path.
  void PrepareNext(Task& task);
  // `now`: GetTicks() just read by the caller (the completion that frees the task
  // stamps the next submit with its own reading: one tick read per I/O, not two).
  void Submit(Task& task, uint64_t now);
  static void OnComplete(void* arg, IoStatus status);
  static void OnIoWait(void* arg);
  void TaskDone(Task& task);
  void BeginStop();
  void Fail(absl::Status status);
  static void FinishMessage(void* arg);

  uint64_t NextSlot();

  const JobConfig config_;
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* channel_ = nullptr;
  Poller* timer_ = nullptr;

  // Geometry, fixed at setup.
  uint32_t block_size_ = 0;
  uint64_t io_blocks_ = 0;
  uint64_t num_slots_ = 0;     // I/O-size slots in the bdev
  uint32_t active_depth_ = 0;  // tasks actually used (verify: at most num_slots_)

  std::unique_ptr<unsigned char, FreeDeleter> buffers_;
  std::vector<Task> tasks_;
  std::vector<uint64_t> busy_slots_;  // verify: bitmap of slots in flight

  bool random_ = false;  // IsRandom(workload), looked up once
  uint64_t rng_state_ = 0;
  uint64_t next_slot_ = 0;
  uint64_t next_generation_ = 1;
  uint32_t in_flight_ = 0;  // tasks submitted or waiting for a BdevIo
  // Where the job is; only its thread reads or writes it.
  enum class Phase { kIdle, kPrefill, kRunning };
  Phase phase_ = Phase::kIdle;
  bool stopping_ = false;      // submit no more (time is up, or a failure)
  bool starting_ = false;      // inside a start loop: TaskDone must not end the phase
  uint64_t prefill_next_ = 0;  // next slot the prefill pass writes
  bool finish_queued_ = false;
  uint64_t start_ticks_ = 0;
  uint64_t end_ticks_ = 0;

  std::function<void()> prefill_done_;
  std::function<void()> run_done_;
  JobResult result_;
  absl::Status failure_;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_JOB_H_

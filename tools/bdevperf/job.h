// One bdevperf job: one bdev (or one slice of it, -C) driven from one runtime thread
// with `queue_depth` I/Os in flight. All I/O state (tasks, buffers, counters, the
// histogram) is owned by that thread; the app thread starts the job, asks for
// snapshots by message, and reads the result after the job reported back.
//
// Life of a job (each step runs on the job's thread, each `done` on the app thread):
//   Setup    open the bdev, get a channel, allocate every buffer and task up front
//   Prefill  (optional, untimed) write every block once, so reads see written data
//   Run      submit queue_depth I/Os, resubmit from each completion until the time
//            is up (or an I/O fails, or the bdev goes away, or Stop), drain, close
//   Teardown close without running (another job's setup failed)
//
// The lifecycle is in job.cc, the I/O path in job_io.cc.
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
#include "tools/bdevperf/random_map.h"
#include "tools/bdevperf/report.h"
#include "tools/bdevperf/workload.h"
#include "tools/bdevperf/zipf.h"

namespace bdevkit::perf {

struct JobConfig {
  std::string bdev_name;
  Thread* thread = nullptr;  // the reactor thread the job runs on
  Workload workload = Workload::kRead;
  int rw_percentage = -1;  // rw/randrw: reads in percent
  uint32_t queue_depth = 1;
  uint64_t io_size = 0;  // bytes; a multiple of the bdev's block size
  uint64_t time_seconds = 1;
  // The blocks the job works on (-C gives each job its own slice); 0 blocks = from
  // the offset to the end of the bdev.
  uint64_t region_offset_blocks = 0;
  uint64_t region_num_blocks = 0;
  double zipf_theta = 0;             // -F (random workloads)
  bool random_map = false;           // -D (random workloads)
  bool continue_on_failure = false;  // -f
  uint64_t timeout_seconds = 0;      // -k (0 = off)
  uint64_t seed = 0;                 // already mixed with the job's index
  bool prefill = false;              // Prefill() will be called: open the bdev writable
};

class Job {
 public:
  explicit Job(JobConfig config);
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  ~Job();

  // Queue the steps on the job's thread. Any thread; `done` runs on the app thread.
  void Setup(std::function<void(absl::Status)> done);
  void Prefill(std::function<void()> done);
  void Run(std::function<void()> done);
  void Teardown(std::function<void()> done);
  // Ends a prefill or a run early (a signal): the run reports kTerminated.
  void Stop();
  // A copy of the result so far (runtime_ticks = time run so far), for live progress
  // and -S. Any thread; `done` runs on the app thread.
  void Snapshot(std::function<void(const JobResult&)> done);

  // After Run's done: what the job measured, and why it failed (OK if it did not;
  // with -f the first failure is kept here too, but the status stays kFinished).
  const JobResult& result() const { return result_; }
  const absl::Status& failure() const { return failure_; }
  const JobConfig& config() const { return config_; }

 private:
  struct Task;
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  // job.cc: the lifecycle.
  absl::Status SetupOnThread();
  absl::Status AllocateTasks(const Bdev& bdev);
  void StartOnThread();
  void StartPrefill();
  void EndPrefill();
  void StartTimers();
  void Release();  // pollers, channel and descriptor, on the job's thread
  void ReportToApp(std::function<void()> fn);
  void BeginStop();
  void Fail(absl::Status status);
  static void FinishMessage(void* arg);

  // job_io.cc: the I/O path.
  uint64_t Random();
  uint64_t NextSlot();
  void PrepareNext(Task& task);
  // `now`: GetTicks() just read by the caller (the completion that frees the task
  // stamps the next submit with its own reading: one tick read per I/O, not two).
  void Submit(Task& task, uint64_t now);
  int SubmitOnce(Task& task);
  static void OnComplete(void* arg, IoStatus status);
  static void OnIoWait(void* arg);
  void OnFailedIo(Task& task, absl::Status why);
  void Continue(Task& task, uint64_t now);
  void ReleaseSlot(Task& task);
  void TaskDone(Task& task);
  void OneDone();
  PollStatus RetryParked();
  PollStatus CheckTimeouts();
  PollStatus StartReset();
  static void OnResetDone(void* arg, IoStatus status);
  bool TolerateFailures() const;

  const JobConfig config_;
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* channel_ = nullptr;
  Poller* timer_ = nullptr;           // ends the run
  Poller* retry_poller_ = nullptr;    // -f / reset: resubmits parked tasks
  Poller* timeout_poller_ = nullptr;  // -k
  Poller* reset_poller_ = nullptr;    // reset workload

  // Geometry, fixed at setup.
  uint32_t block_size_ = 0;
  uint64_t io_blocks_ = 0;
  uint64_t first_block_ = 0;   // of the job's region
  uint64_t num_slots_ = 0;     // I/O-size slots in the region
  uint32_t active_depth_ = 0;  // tasks actually used (verify: at most num_slots_)

  std::unique_ptr<unsigned char, FreeDeleter> buffers_;
  std::vector<Task> tasks_;
  std::vector<uint64_t> busy_slots_;  // verify: bitmap of slots in flight
  std::vector<Task*> parked_;         // -f / reset: tasks waiting to be resubmitted
  std::vector<Task*> retry_batch_;    // RetryParked's batch (swapped with parked_)
  size_t num_parked_ = 0;             // parked_ is sized at setup; this is its fill

  bool random_ = false;  // IsRandom(workload), looked up once
  bool verify_ = false;  // Verifies(workload)
  ZipfGenerator zipf_;
  bool use_zipf_ = false;
  RandomMap random_map_;
  uint64_t rng_state_ = 0;
  uint64_t next_slot_ = 0;
  uint64_t next_generation_ = 1;
  uint64_t timeout_ticks_ = 0;
  uint32_t in_flight_ = 0;  // tasks (and the reset) submitted, waiting or parked
  bool reset_in_flight_ = false;
  // Where the job is; only its thread reads or writes it.
  enum class Phase { kIdle, kPrefill, kRunning, kDone };
  Phase phase_ = Phase::kIdle;
  bool stopping_ = false;      // submit no more (time is up, a failure, or Stop)
  bool terminated_ = false;    // Stop() ended the run
  bool starting_ = false;      // inside a start loop: OneDone must not end the phase
  uint64_t prefill_next_ = 0;  // next slot the prefill pass writes
  bool finish_queued_ = false;
  uint64_t start_ticks_ = 0;
  uint64_t end_ticks_ = 0;
  uint64_t cpu_start_ns_ = 0;

  std::function<void()> prefill_done_;
  std::function<void()> run_done_;
  JobResult result_;
  absl::Status failure_;
  bool fatal_failure_ = false;  // failure_ stopped the job (not tolerated)
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_JOB_H_

// One OS thread for the aio module's system calls that may block for a long time:
// Linux AIO has no fallocate or discard, and fallocate(ZERO_RANGE) on a large range,
// or a discard on a slow device, can take milliseconds to seconds, which a reactor
// must never spend. Jobs reach the worker through a lock-free stack (no allocation:
// the job lives in the BdevIo's driver context) and an eventfd; results go back to
// the submitting thread as a runtime message.
#ifndef BDEVKIT_MODULES_AIO_BLOCKING_WORKER_H_
#define BDEVKIT_MODULES_AIO_BLOCKING_WORKER_H_

#include <atomic>
#include <thread>

#include "absl/status/status.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

class BlockingWorker {
 public:
  struct Job {
    Job* next;
    int (*run)(Job& job);  // on the worker thread; returns 0 or a negative errno
    int result;
    Thread* thread;  // where `done` runs
    MessageFn done;  // done(job), with `result` set
    void* arg;
  };

  BlockingWorker() = default;
  BlockingWorker(const BlockingWorker&) = delete;
  BlockingWorker& operator=(const BlockingWorker&) = delete;
  ~BlockingWorker() { Stop(); }

  // Starts the thread. Control plane; idempotent.
  absl::Status Start();
  // Stops it after the jobs already pushed have run. Control plane; blocks briefly.
  void Stop();

  // Queues a job. Any thread; lock-free; never blocks (one eventfd write).
  void Push(Job* job);

 private:
  void Loop();

  std::atomic<Job*> head_{nullptr};
  std::atomic<bool> stop_{false};
  int event_fd_ = -1;
  std::thread thread_;
};

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_AIO_BLOCKING_WORKER_H_

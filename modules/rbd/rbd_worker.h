// One OS thread for everything of the rbd module that waits on the cluster:
// connecting, opening and closing images, resizing, shutting connections down. A
// reactor never makes these calls (each can take up to a timeout on a sick cluster).
// Jobs run one at a time in the order they were queued, so a close queued after a
// resize of the same image always runs after it. This is the control plane: jobs are
// closures under a mutex; the I/O path never comes here.
#ifndef BDEVKIT_MODULES_RBD_RBD_WORKER_H_
#define BDEVKIT_MODULES_RBD_RBD_WORKER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/status.h"

namespace bdevkit::rbd {

class RbdWorker {
 public:
  RbdWorker() = default;
  RbdWorker(const RbdWorker&) = delete;
  RbdWorker& operator=(const RbdWorker&) = delete;
  ~RbdWorker() { Stop(); }

  // Starts the thread. Idempotent. Any thread.
  void Start();
  // Runs the jobs already queued, then ends the thread. Blocks until then (as long as
  // those jobs take). Idempotent. Any non-worker thread.
  void Stop();

  // Runs `work` on the worker thread, then done(its status) on the app thread (if the
  // runtime still runs; otherwise `done` is dropped, on the worker thread). Any thread;
  // never blocks. Jobs queued while the worker is stopped run once it starts.
  void Run(std::function<absl::Status()> work, std::function<void(absl::Status)> done);

  // Runs `work` on the worker thread, with nothing to report. Any thread; never blocks.
  void Post(std::function<void()> work);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bdevkit::rbd

#endif  // BDEVKIT_MODULES_RBD_RBD_WORKER_H_

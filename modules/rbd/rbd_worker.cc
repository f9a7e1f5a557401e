// The rbd module's thread for calls that wait on the cluster.
#include "modules/rbd/rbd_worker.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <utility>

#include "bdevkit/log.h"
#include "bdevkit/runtime.h"

namespace bdevkit::rbd {

void RbdWorker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RbdWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  thread_ = std::thread();
}

void RbdWorker::Post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void RbdWorker::Run(std::function<absl::Status()> work, std::function<void(absl::Status)> done) {
  Post([work = std::move(work), done = std::move(done)]() mutable {
    absl::Status status = work();
    work = nullptr;  // what the work captured is released here, on the worker
    Thread* app = Runtime::AppThread();
    if (app == nullptr || app->Send([done, status] { done(status); }) != 0) {
      LOG_ERROR("rbd: cannot report to the app thread (%s)", status.ToString());
    }
  });
}

void RbdWorker::Loop() {
  // This thread was started by a reactor, pinned to its core, and every thread librados
  // and librbd start (messengers, finishers: the I/O path's other half) is started from
  // here and would inherit that pin, competing with a busy-polling reactor for its one
  // core. They get the process's own CPU set (its main thread's) instead.
  cpu_set_t cpus;
  if (sched_getaffinity(getpid(), sizeof(cpus), &cpus) == 0) {
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    if (rc != 0) LOG_WARNING("rbd: worker: pthread_setaffinity_np: %d", rc);
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stop_ and nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;
    lock.lock();
  }
}

}  // namespace bdevkit::rbd

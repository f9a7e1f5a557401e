// The aio module's worker thread for blocking system calls.
#include "modules/aio/blocking_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"

namespace bdevkit {

absl::Status BlockingWorker::Start() {
  if (thread_.joinable()) return absl::OkStatus();
  event_fd_ = eventfd(0, EFD_CLOEXEC);
  if (event_fd_ < 0) {
    return absl::ResourceExhaustedError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void BlockingWorker::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
  thread_.join();
  close(event_fd_);
  event_fd_ = -1;
}

void BlockingWorker::Push(Job* job) {
  // Treiber-stack push; the single consumer takes the whole stack at once, so there
  // is no ABA. Release: the job's fields are visible to the worker that acquires it.
  Job* old = head_.load(std::memory_order_relaxed);
  do {
    job->next = old;
  } while (
      !head_.compare_exchange_weak(old, job, std::memory_order_release, std::memory_order_relaxed));
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof(one));
}

void BlockingWorker::Loop() {
  for (;;) {
    uint64_t count = 0;
    if (read(event_fd_, &count, sizeof(count)) < 0 && errno == EINTR) continue;
    Job* list = head_.exchange(nullptr, std::memory_order_acquire);
    // The stack is newest first: reverse it so jobs run in submission order.
    Job* fifo = nullptr;
    while (list != nullptr) {
      Job* next = list->next;
      list->next = fifo;
      fifo = list;
      list = next;
    }
    while (fifo != nullptr) {
      Job* job = fifo;
      fifo = job->next;
      job->result = job->run(*job);
      // A full message ring is transient (its thread is draining it): wait and retry.
      int rc;
      while ((rc = job->thread->Send(job->done, job)) == -ENOMEM) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      if (rc != 0) LOG_ERROR("aio: cannot return a completion to its thread (%d)", rc);
    }
    if (stop_.load() && head_.load(std::memory_order_acquire) == nullptr) return;
  }
}

}  // namespace bdevkit

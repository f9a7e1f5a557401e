#include "bdev/runtime/reactor.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bdev/runtime/runtime_internal.h"
#include "bdev/runtime/thread_impl.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace {

// How long a stopping reactor waits for its threads to release their pollers and
// channels before it reports them as leaked and exits anyway.
constexpr absl::Duration kStopGrace = absl::Seconds(5);

}  // namespace

Reactor::Reactor(int core, const RuntimeOptions& options) : core_(core), options_(options) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) LOG_ERROR("reactor %d: eventfd failed: %s", core, strerror(errno));
}

Reactor::~Reactor() {
  if (event_fd_ >= 0) close(event_fd_);
}

void Reactor::Launch() {
  os_thread_ = std::thread([this] { Run(); });
}

void Reactor::Join() {
  if (os_thread_.joinable()) os_thread_.join();
}

void Reactor::AddThread(ThreadImpl* thread) {
  {
    absl::MutexLock lock(&incoming_mu_);
    incoming_.push_back(thread);
  }
  thread_count_.fetch_add(1, std::memory_order_relaxed);
  has_incoming_.store(true, std::memory_order_release);
  Notify();
}

void Reactor::AdoptNewThreads() {
  absl::MutexLock lock(&incoming_mu_);
  threads_.insert(threads_.end(), incoming_.begin(), incoming_.end());
  incoming_.clear();
  has_incoming_.store(false, std::memory_order_relaxed);
}

void Reactor::Notify() {
  // Pairs with the fence in Sleep(): either the reactor sees our message when it
  // re-checks its rings, or we see sleeping_ == true and wake it. Without the fence
  // both sides could read stale values and the message would wait for a timeout.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed) && event_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t rc = write(event_fd_, &one, sizeof(one));
    (void)rc;  // EAGAIN means the counter is already non-zero: a wake-up is pending
  }
}

bool Reactor::AllThreadsQuiet() const {
  for (const ThreadImpl* t : threads_) {
    if (t->HasPendingWork() || t->HoldsResources()) return false;
  }
  return true;
}

void Reactor::Sleep(uint64_t now_ticks) {
  uint64_t deadline = UINT64_MAX;
  for (const ThreadImpl* t : threads_) deadline = std::min(deadline, t->NextDeadline());

  sleeping_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // see Notify()
  bool work = has_incoming_.load(std::memory_order_acquire) || runtime_internal::StopRequested();
  for (const ThreadImpl* t : threads_) work = work || t->HasPendingWork();
  if (!work && deadline > now_ticks) {
    timespec ts{};
    const timespec* timeout = nullptr;
    if (deadline != UINT64_MAX) {
      const uint64_t ns = static_cast<uint64_t>(static_cast<double>(deadline - now_ticks) * 1e9 /
                                                static_cast<double>(GetTicksPerSecond()));
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout = &ts;
    }
    pollfd pfd{event_fd_, POLLIN, 0};
    ppoll(&pfd, 1, timeout, nullptr);
    uint64_t drained;
    ssize_t rc = read(event_fd_, &drained, sizeof(drained));
    (void)rc;
  }
  sleeping_.store(false, std::memory_order_relaxed);
}

void Reactor::Run() {
  if (options_.pin_reactors) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core_, &set);
    if (int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); rc != 0) {
      LOG_WARNING("reactor %d: cannot pin to core %d: %s", core_, core_, strerror(rc));
    }
  }
  char name[16];
  snprintf(name, sizeof(name), "reactor_%d", core_);
  pthread_setname_np(pthread_self(), name);

  int idle_loops = 0;
  uint64_t stop_deadline = 0;
  for (;;) {
    if (has_incoming_.load(std::memory_order_acquire)) AdoptNewThreads();

    const uint64_t now = GetTicks();
    bool busy = false;
    for (ThreadImpl* t : threads_) {
      ThreadImpl::CurrentSlot() = t;
      busy |= t->Poll(now);
    }
    ThreadImpl::CurrentSlot() = nullptr;

    if (runtime_internal::StopRequested()) {
      // Keep running until every thread has drained its messages and released its
      // pollers and channels (the application tears down after asking to stop).
      if (stop_deadline == 0) {
        stop_deadline = now + static_cast<uint64_t>(absl::ToDoubleSeconds(kStopGrace) *
                                                    static_cast<double>(GetTicksPerSecond()));
      }
      if (!busy && (AllThreadsQuiet() || now >= stop_deadline)) break;
    }

    if (busy) {
      idle_loops = 0;
    } else if (options_.idle_policy == IdlePolicy::kSleep && ++idle_loops >= options_.idle_spins) {
      Sleep(now);
      idle_loops = 0;
    }
  }
  for (ThreadImpl* t : threads_) t->MarkExited();
  // Messages that raced with MarkExited() still run, so their senders' closures are
  // not leaked; they must not send further (Send now fails with -ESHUTDOWN).
  for (ThreadImpl* t : threads_) {
    ThreadImpl::CurrentSlot() = t;
    t->Poll(GetTicks());
  }
  ThreadImpl::CurrentSlot() = nullptr;
}

}  // namespace bdevkit

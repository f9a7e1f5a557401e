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

// Counters have one writer (the reactor thread): a relaxed load and store is enough,
// readers on other threads see some recent value.
void Bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

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

void Reactor::RebuildPollSet() {
  poll_set_dirty_ = false;
  poll_set_.clear();
  poll_owners_.clear();
  poll_set_.push_back(pollfd{event_fd_, POLLIN, 0});
  poll_owners_.emplace_back(nullptr, nullptr);
  for (ThreadImpl* t : threads_) {
    for (WakeFd* w : t->wake_fds()) {
      if (w->unregistered_ || w->invalid_) continue;
      poll_set_.push_back(pollfd{w->fd(), POLLIN, 0});
      poll_owners_.emplace_back(t, w);
    }
  }
}

// After a sleep: hands each wake fd that ended it to its thread (its on_ready runs at
// the start of the thread's next pass) and drains our own eventfd.
void Reactor::TakeWakeFdEvents() {
  bool by_fd = false;
  for (size_t i = 1; i < poll_set_.size(); ++i) {
    const short revents = poll_set_[i].revents;
    if (revents == 0) continue;
    auto [thread, wake_fd] = poll_owners_[i];
    if ((revents & POLLNVAL) != 0) {
      // Closed without being unregistered: waiting on it would end every sleep at
      // once and the reactor would spin. Say so once and stop waiting on it.
      LOG_ERROR(
          "reactor %d: wake fd '%s' (fd %d) of thread %s was closed while registered; "
          "ignoring it",
          core_, wake_fd->name(), wake_fd->fd(), thread->name());
      wake_fd->invalid_ = true;
      poll_set_dirty_ = true;
      continue;
    }
    thread->MarkWakeFdReady(wake_fd);
    by_fd = true;
  }
  if (by_fd) Bump(counters_.wakes_by_fd);
  if (poll_set_[0].revents != 0) {
    uint64_t drained;
    ssize_t rc = read(event_fd_, &drained, sizeof(drained));
    (void)rc;  // ppoll said readable; a failed read would change nothing here
    Bump(counters_.wakes_by_message);
  }
}

void Reactor::Sleep(uint64_t now_ticks) {
  uint64_t deadline = UINT64_MAX;
  for (const ThreadImpl* t : threads_) deadline = std::min(deadline, t->NextDeadline());
  if (poll_set_dirty_) RebuildPollSet();

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
    Bump(counters_.sleeps);
    const uint64_t before = GetTicks();
    // Wake fds need no fence of their own: a readable fd makes ppoll return at once,
    // whenever it became readable.
    const int n = ppoll(poll_set_.data(), poll_set_.size(), timeout, nullptr);
    const uint64_t slept = GetTicks() - before;
    counters_.slept_ns.store(counters_.slept_ns.load(std::memory_order_relaxed) +
                                 static_cast<uint64_t>(static_cast<double>(slept) * 1e9 /
                                                       static_cast<double>(GetTicksPerSecond())),
                             std::memory_order_relaxed);
    if (n > 0) {
      TakeWakeFdEvents();
    } else if (n == 0) {
      Bump(counters_.wakes_by_timer);
    }  // n < 0: EINTR; the loop simply runs again
  }
  sleeping_.store(false, std::memory_order_relaxed);
}

ReactorStats Reactor::stats() const {
  ReactorStats s;
  s.core = core_;
  s.sleeps = counters_.sleeps.load(std::memory_order_relaxed);
  s.wakes_by_fd = counters_.wakes_by_fd.load(std::memory_order_relaxed);
  s.wakes_by_message = counters_.wakes_by_message.load(std::memory_order_relaxed);
  s.wakes_by_timer = counters_.wakes_by_timer.load(std::memory_order_relaxed);
  s.slept_ns = counters_.slept_ns.load(std::memory_order_relaxed);
  return s;
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

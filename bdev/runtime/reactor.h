// A reactor: one OS thread, pinned to one core, looping over its lightweight threads.
#ifndef BDEVKIT_BDEV_RUNTIME_REACTOR_H_
#define BDEVKIT_BDEV_RUNTIME_REACTOR_H_

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

class ThreadImpl;
class WakeFd;

class Reactor {
 public:
  Reactor(int core, const RuntimeOptions& options);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Starts the OS thread. `started` is decremented once it runs. Caller's thread.
  void Launch();
  // Joins the OS thread (after the runtime asked every reactor to stop).
  void Join();

  // Hands a thread to this reactor; it runs from the next loop on. Any thread.
  void AddThread(ThreadImpl* thread);
  size_t thread_count() const { return thread_count_.load(std::memory_order_relaxed); }

  // Wakes the reactor if it sleeps (kSleep idle policy). Any thread; never blocks.
  void Notify();

  int core() const { return core_; }
  bool may_sleep() const { return options_.idle_policy == IdlePolicy::kSleep; }

  // A thread of this reactor registered or unregistered a wake fd: the poll set is
  // rebuilt before the next sleep. Reactor (OS) thread only.
  void WakeFdsChanged() { poll_set_dirty_ = true; }

  // The idle counters. Any thread.
  ReactorStats stats() const;

 private:
  void Run();
  void AdoptNewThreads();
  void Sleep(uint64_t now_ticks);
  void RebuildPollSet();
  void TakeWakeFdEvents();
  bool AllThreadsQuiet() const;

  const int core_;
  const RuntimeOptions options_;
  std::thread os_thread_;
  std::vector<ThreadImpl*> threads_;  // reactor thread only

  absl::Mutex incoming_mu_;  // control plane only: new threads arrive rarely
  std::vector<ThreadImpl*> incoming_ ABSL_GUARDED_BY(incoming_mu_);
  std::atomic<bool> has_incoming_{false};
  std::atomic<size_t> thread_count_{0};

  int event_fd_ = -1;
  std::atomic<bool> sleeping_{false};

  // What Sleep() waits on: [0] is event_fd_, then the threads' wake fds, with the
  // WakeFd and thread of each entry. Reactor thread only; rebuilt when dirty, so a
  // sleep allocates nothing once the set is stable.
  std::vector<pollfd> poll_set_;
  std::vector<std::pair<ThreadImpl*, WakeFd*>> poll_owners_;
  bool poll_set_dirty_ = true;

  // Written by the reactor thread only (a relaxed load + store, no read-modify-write
  // needed), read by GetReactorStats() from any thread.
  struct Counters {
    std::atomic<uint64_t> sleeps{0}, wakes_by_fd{0}, wakes_by_message{0}, wakes_by_timer{0},
        slept_ns{0};
  };
  Counters counters_;
};

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_RUNTIME_REACTOR_H_

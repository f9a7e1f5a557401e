// The runtime's side of a lightweight Thread: its message ring, pollers and the
// channels it holds. Private to bdev/; the public face is bdevkit::Thread.
#ifndef BDEVKIT_BDEV_RUNTIME_THREAD_IMPL_H_
#define BDEVKIT_BDEV_RUNTIME_THREAD_IMPL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bdev/runtime/mpsc_ring.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

class Reactor;

struct Message {
  MessageFn fn = nullptr;
  void* arg = nullptr;
};

// A registered poller. Owned by its thread; freed once unregistered and out of every
// list the thread iterates.
class Poller {
 public:
  Poller(PollerFn fn, uint64_t period_ticks, std::string name)
      : fn_(std::move(fn)), period_ticks_(period_ticks), name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  uint64_t next_run_ticks() const { return next_run_ticks_; }

 private:
  friend class ThreadImpl;
  PollerFn fn_;
  const uint64_t period_ticks_;  // 0 = active poller
  uint64_t next_run_ticks_ = 0;
  bool unregistered_ = false;
  std::string name_;
};

// A registered wake fd. Owned by its thread; freed once unregistered and out of the
// list the thread iterates. The reactor only reads fd_ and sets ready_ (same OS thread).
class WakeFd {
 public:
  WakeFd(int fd, std::function<void()> on_ready, std::string name)
      : fd_(fd), on_ready_(std::move(on_ready)), name_(std::move(name)) {}
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  friend class ThreadImpl;
  friend class Reactor;
  const int fd_;
  std::function<void()> on_ready_;
  std::string name_;
  bool ready_ = false;  // the reactor woke because of it; on_ready_ is due
  bool unregistered_ = false;
  bool invalid_ = false;  // closed while registered: reported once, no longer waited on
};

class ThreadImpl final : public Thread {
 public:
  ThreadImpl(std::string name, uint32_t id, int core, Reactor* reactor, uint32_t ring_size);
  ~ThreadImpl();

  static ThreadImpl* FromPublic(Thread* t) { return static_cast<ThreadImpl*>(t); }

  int SendMessage(MessageFn fn, void* arg);
  Poller* AddPoller(PollerFn fn, absl::Duration period, std::string name);
  void RemovePoller(Poller* poller);

  // One pass: some messages, every active poller, due timed pollers, deferred channel
  // destruction. Returns whether anything was done. Reactor (OS) thread only.
  bool Poll(uint64_t now_ticks);

  WakeFd* AddWakeFd(int fd, std::function<void()> on_ready, std::string name);
  void RemoveWakeFd(WakeFd* wake_fd);
  // The live wake fds, for the reactor's sleep. Reactor thread only.
  const std::vector<WakeFd*>& wake_fds() const { return wake_fds_; }
  // The reactor woke because `wake_fd` is readable: its on_ready runs at the start of
  // the next Poll(). Reactor thread only.
  void MarkWakeFdReady(WakeFd* wake_fd) {
    wake_fd->ready_ = true;
    wake_fd_ready_ = true;
  }

  // Earliest timed-poller deadline, or UINT64_MAX. Reactor thread only.
  uint64_t NextDeadline() const;
  // Whether a message or deferred work is waiting. Reactor thread only.
  bool HasPendingWork() const;
  // Whether the thread still holds anything (pollers, channels) at shutdown.
  bool HoldsResources() const;
  // Logs what is left and frees it (pollers); called after the reactor stopped.
  void ReportAndReleaseLeftovers();

  void MarkExited() { exited_.store(true, std::memory_order_release); }
  Reactor* reactor() const { return reactor_; }

  // Channels of this thread, keyed by device. Owning thread only.
  absl::flat_hash_map<IoDevice*, IoChannel*>& channels() { return channels_; }
  // Channels whose last reference was dropped; destroyed on the next Poll().
  void DeferChannelDestroy(IoChannel* ch) { pending_channel_destroys_.push_back(ch); }

  // The thread currently running on this OS thread (set by the reactor).
  static ThreadImpl*& CurrentSlot();

 private:
  Reactor* const reactor_;
  MpscRing<Message> ring_;
  std::atomic<bool> exited_{false};
  std::vector<Poller*> active_;
  std::vector<Poller*> timed_heap_;  // min-heap on next_run_ticks_
  bool active_dirty_ = false;        // an active poller was unregistered
  std::vector<WakeFd*> wake_fds_;
  bool wake_fd_ready_ = false;   // some wake fd has its on_ready due
  bool wake_fds_dirty_ = false;  // one was unregistered: free it after the next pass
  absl::flat_hash_map<IoDevice*, IoChannel*> channels_;
  std::vector<IoChannel*> pending_channel_destroys_;
};

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_RUNTIME_THREAD_IMPL_H_

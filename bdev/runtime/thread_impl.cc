#include "bdev/runtime/thread_impl.h"

#include <algorithm>
#include <cerrno>

#include "bdev/runtime/reactor.h"
#include "bdev/runtime/runtime_internal.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace {

// Messages handled per pass before pollers get their turn, so a flood of messages
// cannot starve the I/O pollers.
constexpr int kMessageBatch = 64;

uint64_t DurationToTicks(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const double ticks = absl::ToDoubleSeconds(d) * static_cast<double>(GetTicksPerSecond());
  return ticks < 1.0 ? 1 : static_cast<uint64_t>(ticks);
}

}  // namespace

namespace {
// std::*_heap builds a max-heap; this order makes it a min-heap on the deadline.
bool LaterDeadline(const Poller* a, const Poller* b) {
  return a->next_run_ticks() > b->next_run_ticks();
}
}  // namespace

ThreadImpl*& ThreadImpl::CurrentSlot() {
  thread_local ThreadImpl* current = nullptr;
  return current;
}

Thread* Thread::Current() { return ThreadImpl::CurrentSlot(); }

ThreadImpl::ThreadImpl(std::string name, uint32_t id, int core, Reactor* reactor,
                       uint32_t ring_size)
    : Thread(std::move(name), id, core), reactor_(reactor), ring_(ring_size) {}

ThreadImpl::~ThreadImpl() {
  for (Poller* p : active_) delete p;
  for (Poller* p : timed_heap_) delete p;
  for (WakeFd* w : wake_fds_) delete w;
}

int ThreadImpl::SendMessage(MessageFn fn, void* arg) {
  if (exited_.load(std::memory_order_acquire)) return -ESHUTDOWN;
  if (!ring_.Push(Message{fn, arg})) return -ENOMEM;
  reactor_->Notify();
  return 0;
}

int Thread::Send(MessageFn fn, void* arg) {
  return ThreadImpl::FromPublic(this)->SendMessage(fn, arg);
}

int Thread::Send(std::function<void()> fn) {
  auto* boxed = new std::function<void()>(std::move(fn));
  int rc = Send(
      [](void* arg) {
        std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(arg));
        (*f)();
      },
      boxed);
  if (rc != 0) delete boxed;
  return rc;
}

Poller* ThreadImpl::AddPoller(PollerFn fn, absl::Duration period, std::string name) {
  auto* poller = new Poller(std::move(fn), DurationToTicks(period), std::move(name));
  if (poller->period_ticks_ == 0) {
    active_.push_back(poller);
  } else {
    poller->next_run_ticks_ = GetTicks() + poller->period_ticks_;
    timed_heap_.push_back(poller);
    std::push_heap(timed_heap_.begin(), timed_heap_.end(), LaterDeadline);
  }
  return poller;
}

void ThreadImpl::RemovePoller(Poller* poller) {
  // Only marked here: the poller may be the one running right now, or sit in the
  // timed heap. Poll() frees it once it is out of the lists.
  poller->unregistered_ = true;
  if (poller->period_ticks_ == 0) active_dirty_ = true;
}

Poller* Thread::RegisterPoller(PollerFn fn, absl::Duration period, std::string name) {
  return ThreadImpl::FromPublic(this)->AddPoller(std::move(fn), period, std::move(name));
}

void Thread::UnregisterPoller(Poller* poller) {
  ThreadImpl::FromPublic(this)->RemovePoller(poller);
}

WakeFd* ThreadImpl::AddWakeFd(int fd, std::function<void()> on_ready, std::string name) {
  auto* wake_fd = new WakeFd(fd, std::move(on_ready), std::move(name));
  wake_fds_.push_back(wake_fd);
  reactor_->WakeFdsChanged();
  return wake_fd;
}

void ThreadImpl::RemoveWakeFd(WakeFd* wake_fd) {
  // Only marked, as pollers are: it may be the one whose on_ready is running. Poll()
  // frees it; the reactor drops it from its poll set before it sleeps again.
  wake_fd->unregistered_ = true;
  wake_fd->ready_ = false;
  wake_fds_dirty_ = true;
  reactor_->WakeFdsChanged();
}

bool Thread::MaySleep() const {
  return ThreadImpl::FromPublic(const_cast<Thread*>(this))->reactor()->may_sleep();
}

WakeFd* Thread::RegisterWakeFd(int fd, std::function<void()> on_ready, std::string name) {
  return ThreadImpl::FromPublic(this)->AddWakeFd(fd, std::move(on_ready), std::move(name));
}

void Thread::UnregisterWakeFd(WakeFd* wake_fd) {
  ThreadImpl::FromPublic(this)->RemoveWakeFd(wake_fd);
}

bool ThreadImpl::Poll(uint64_t now_ticks) {
  bool busy = false;
  // Only after a sleep that a wake fd ended: a busy loop pays one flag test.
  if (wake_fd_ready_) {
    wake_fd_ready_ = false;
    const size_t n = wake_fds_.size();  // on_ready may register another
    for (size_t i = 0; i < n; ++i) {
      WakeFd* w = wake_fds_[i];
      if (!w->ready_ || w->unregistered_) continue;
      w->ready_ = false;
      w->on_ready_();
    }
    busy = true;
  }
  Message msg;
  for (int n = 0; n < kMessageBatch && ring_.Pop(&msg); ++n) {
    msg.fn(msg.arg);
    busy = true;
  }

  // By index: a poller may register another one, which can reallocate the vector.
  const size_t n_active = active_.size();
  for (size_t i = 0; i < n_active; ++i) {
    Poller* p = active_[i];
    if (!p->unregistered_ && p->fn_() == PollStatus::kBusy) busy = true;
  }
  if (active_dirty_) {
    active_dirty_ = false;
    std::erase_if(active_, [](Poller* p) {
      if (!p->unregistered_) return false;
      delete p;
      return true;
    });
  }

  while (!timed_heap_.empty() && timed_heap_.front()->next_run_ticks_ <= now_ticks) {
    std::pop_heap(timed_heap_.begin(), timed_heap_.end(), LaterDeadline);
    Poller* p = timed_heap_.back();
    timed_heap_.pop_back();
    if (p->unregistered_) {
      delete p;
      continue;
    }
    if (p->fn_() == PollStatus::kBusy) busy = true;
    if (p->unregistered_) {
      delete p;
      continue;
    }
    p->next_run_ticks_ = now_ticks + p->period_ticks_;
    timed_heap_.push_back(p);
    std::push_heap(timed_heap_.begin(), timed_heap_.end(), LaterDeadline);
  }

  if (wake_fds_dirty_) {
    wake_fds_dirty_ = false;
    std::erase_if(wake_fds_, [](WakeFd* w) {
      if (!w->unregistered_) return false;
      delete w;
      return true;
    });
  }

  if (!pending_channel_destroys_.empty()) {
    std::vector<IoChannel*> batch;
    batch.swap(pending_channel_destroys_);
    for (IoChannel* ch : batch) runtime_internal::DestroyChannelIfUnused(ch);
    busy = true;
  }
  return busy;
}

uint64_t ThreadImpl::NextDeadline() const {
  return timed_heap_.empty() ? UINT64_MAX : timed_heap_.front()->next_run_ticks_;
}

bool ThreadImpl::HasPendingWork() const {
  return !ring_.Empty() || !pending_channel_destroys_.empty();
}

bool ThreadImpl::HoldsResources() const {
  auto live = [](const Poller* p) { return !p->unregistered_; };
  auto live_fd = [](const WakeFd* w) { return !w->unregistered_; };
  return std::any_of(active_.begin(), active_.end(), live) ||
         std::any_of(timed_heap_.begin(), timed_heap_.end(), live) ||
         std::any_of(wake_fds_.begin(), wake_fds_.end(), live_fd) || !channels_.empty();
}

void ThreadImpl::ReportAndReleaseLeftovers() {
  for (const Poller* p : active_) {
    if (!p->unregistered_)
      LOG_WARNING("thread %s: poller '%s' still registered at exit", name(), p->name());
  }
  for (const Poller* p : timed_heap_) {
    if (!p->unregistered_)
      LOG_WARNING("thread %s: timed poller '%s' still registered at exit", name(), p->name());
  }
  for (const WakeFd* w : wake_fds_) {
    if (!w->unregistered_)
      LOG_WARNING("thread %s: wake fd '%s' still registered at exit", name(), w->name());
  }
  for (const auto& [device, ch] : channels_) {
    LOG_WARNING("thread %s: channel of '%s' still held at exit", name(), device->io_device_name());
  }
  // Pollers are ours to free; leaked channels belong to devices that outlive us and
  // are left alone rather than freed under their feet.
  for (Poller* p : active_) delete p;
  for (Poller* p : timed_heap_) delete p;
  for (WakeFd* w : wake_fds_) delete w;
  active_.clear();
  timed_heap_.clear();
  wake_fds_.clear();
}

}  // namespace bdevkit

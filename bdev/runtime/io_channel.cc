// IoDevice registration, lazily created per-thread channels, ForEachChannel.
#include "bdevkit/io_channel.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bdev/runtime/runtime_internal.h"
#include "bdev/runtime/thread_impl.h"
#include "bdevkit/log.h"

namespace bdevkit {

// Which devices exist and which channels each has. Touched only when a channel is
// created or destroyed and when devices come and go — the control plane — so a mutex
// is fine; the I/O path uses the channel it already holds.
class IoDeviceRegistry {
 public:
  struct DeviceState {
    bool unregistering = false;
    std::vector<IoChannel*> channels;
    std::function<void()> unregister_done;
    Thread* unregister_thread = nullptr;
  };

  static IoDeviceRegistry& Get() {
    static auto* registry = new IoDeviceRegistry();
    return *registry;
  }

  void Register(IoDevice* device) {
    absl::MutexLock lock(&mu_);
    devices_.try_emplace(device);
  }

  void Unregister(IoDevice* device, std::function<void()> done) {
    bool finished_now = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = devices_.find(device);
      if (it == devices_.end()) {
        LOG_ERROR("UnregisterIoDevice: '%s' is not registered", device->io_device_name());
      } else {
        it->second.unregistering = true;
        it->second.unregister_done = std::move(done);
        it->second.unregister_thread = Thread::Current();
        finished_now = it->second.channels.empty();
      }
    }
    if (finished_now) FinishUnregister(device);
  }

  IoChannel* Get(IoDevice* device) {
    ThreadImpl* thread = ThreadImpl::CurrentSlot();
    if (thread == nullptr) {
      LOG_ERROR("GetIoChannel('%s') called outside a runtime thread", device->io_device_name());
      return nullptr;
    }
    auto& map = thread->channels();
    if (auto it = map.find(device); it != map.end()) {
      IoChannel* ch = it->second;
      // Possibly taken again while its destruction is queued: DestroyIfUnused()
      // sees the reference and keeps it.
      ++ch->refs_;
      return ch;
    }
    IoChannel* ch;
    {
      absl::MutexLock lock(&mu_);
      auto it = devices_.find(device);
      if (it == devices_.end() || it->second.unregistering) return nullptr;
      ch = new IoChannel(device, thread);
      it->second.channels.push_back(ch);
    }
    ch->refs_ = 1;
    map[device] = ch;
    // Outside the lock: creating a context may take channels of other devices.
    ch->ctx_ = device->CreateChannelContext();
    if (ch->ctx_ == nullptr) {
      map.erase(device);
      Release(ch);
      return nullptr;
    }
    return ch;
  }

  void Put(IoChannel* ch) {
    if (ch->refs_ == 0) {
      LOG_ERROR("IoChannel::Put on channel of '%s' with no references",
                ch->device_->io_device_name());
      return;
    }
    // Already queued (released, taken, released again): one queue entry is enough.
    if (--ch->refs_ > 0 || ch->destroy_pending_) return;
    // Destroy later, from the thread's own loop: the caller may still be inside a
    // function of the channel's context.
    ch->destroy_pending_ = true;
    ThreadImpl::FromPublic(ch->thread_)->DeferChannelDestroy(ch);
  }

  void DestroyIfUnused(IoChannel* ch) {
    ch->destroy_pending_ = false;
    if (ch->refs_ > 0) return;
    ch->device_->OnChannelDestroy(*ch->ctx_);
    ch->ctx_.reset();
    ThreadImpl::FromPublic(ch->thread_)->channels().erase(ch->device_);
    Release(ch);
  }

  // The calling thread's channel of `device`, without taking a reference. A channel
  // whose last reference is gone but whose deferred destruction has not run yet still
  // counts: its context (e.g. I/O counters) is intact and must not go unseen.
  static IoChannel* ChannelHere(IoDevice* device) {
    auto& map = ThreadImpl::CurrentSlot()->channels();
    auto it = map.find(device);
    return it != map.end() && it->second->ctx_ != nullptr ? it->second : nullptr;
  }

  // Threads that have a channel of `device` right now.
  std::vector<Thread*> ChannelThreads(IoDevice* device) {
    absl::MutexLock lock(&mu_);
    std::vector<Thread*> out;
    auto it = devices_.find(device);
    if (it == devices_.end()) return out;
    for (IoChannel* ch : it->second.channels) out.push_back(ch->thread_);
    return out;
  }

  void Forget(IoDevice* device) {
    absl::MutexLock lock(&mu_);
    auto it = devices_.find(device);
    if (it == devices_.end()) return;
    if (!it->second.channels.empty()) {
      LOG_ERROR("IoDevice '%s' destroyed with %d channel(s) still open", device->io_device_name(),
                static_cast<int>(it->second.channels.size()));
    }
    devices_.erase(it);
  }

 private:
  // Drops a channel from its device's list; the last one completes an unregister.
  void Release(IoChannel* ch) {
    IoDevice* device = ch->device_;
    bool finished = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = devices_.find(device);
      if (it != devices_.end()) {
        std::erase(it->second.channels, ch);
        finished = it->second.unregistering && it->second.channels.empty();
      }
    }
    delete ch;
    if (finished) FinishUnregister(device);
  }

  void FinishUnregister(IoDevice* device) {
    std::function<void()> done;
    Thread* thread;
    {
      absl::MutexLock lock(&mu_);
      auto it = devices_.find(device);
      if (it == devices_.end()) return;
      done = std::move(it->second.unregister_done);
      thread = it->second.unregister_thread;
      devices_.erase(it);
    }
    if (!done) return;
    // Always by message to the thread that asked: done never runs inside its stack.
    if (thread == nullptr || thread->Send(std::move(done)) != 0) {
      LOG_ERROR("UnregisterIoDevice('%s'): cannot reach the calling thread",
                device->io_device_name());
    }
  }

  absl::Mutex mu_;
  absl::flat_hash_map<IoDevice*, DeviceState> devices_ ABSL_GUARDED_BY(mu_);
};

IoDevice::~IoDevice() { IoDeviceRegistry::Get().Forget(this); }

void IoDevice::RegisterIoDevice(std::string name) {
  io_device_name_ = std::move(name);
  IoDeviceRegistry::Get().Register(this);
}

void IoDevice::UnregisterIoDevice(std::function<void()> done) {
  IoDeviceRegistry::Get().Unregister(this, std::move(done));
}

IoChannel* IoDevice::GetIoChannel() { return IoDeviceRegistry::Get().Get(this); }

void IoChannel::Put() { IoDeviceRegistry::Get().Put(this); }

namespace runtime_internal {
void DestroyChannelIfUnused(IoChannel* channel) {
  IoDeviceRegistry::Get().DestroyIfUnused(channel);
}
}  // namespace runtime_internal

namespace {

// ForEachChannel's walk over the threads that held a channel when it started.
struct ChannelWalk {
  IoDevice* device;
  std::vector<Thread*> threads;
  size_t index = 0;
  std::function<absl::Status(IoChannel&)> fn;
  std::function<void(absl::Status)> done;
  Thread* origin;
  absl::Status status;
};

void FinishChannelWalk(void* arg) {
  std::unique_ptr<ChannelWalk> walk(static_cast<ChannelWalk*>(arg));
  walk->done(walk->status);
}

void VisitChannel(void* arg);

void SendToNextChannel(ChannelWalk* walk) {
  while (walk->status.ok() && walk->index < walk->threads.size()) {
    if (walk->threads[walk->index]->Send(VisitChannel, walk) == 0) return;
    ++walk->index;  // thread exited, and its channels with it
  }
  if (walk->origin->Send(FinishChannelWalk, walk) != 0) {
    LOG_ERROR("ForEachChannel('%s'): origin thread is gone", walk->device->io_device_name());
    delete walk;
  }
}

void VisitChannel(void* arg) {
  auto* walk = static_cast<ChannelWalk*>(arg);
  // The channel may have been destroyed since the walk started: skip it then.
  if (IoChannel* ch = IoDeviceRegistry::ChannelHere(walk->device)) walk->status = walk->fn(*ch);
  ++walk->index;
  SendToNextChannel(walk);
}

}  // namespace

void ForEachChannel(IoDevice& device, std::function<absl::Status(IoChannel&)> fn,
                    std::function<void(absl::Status)> done) {
  SendToNextChannel(new ChannelWalk{&device, IoDeviceRegistry::Get().ChannelThreads(&device), 0,
                                    std::move(fn), std::move(done), Thread::Current(),
                                    absl::OkStatus()});
}

}  // namespace bdevkit

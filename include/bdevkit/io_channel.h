// I/O devices and their per-thread channels.
//
// Anything that keeps per-thread state for its I/O path (a backend's io_uring ring, an
// NVMe queue pair, the bdev layer's per-thread BdevIo cache) is an IoDevice. Each
// runtime Thread that uses the device gets, lazily, one IoChannel holding that state.
// Channels are reference counted: GetIoChannel() on a thread that already has one
// returns the same channel. Because a channel is only ever touched by its thread, the
// I/O path needs no locks.
#ifndef BDEVKIT_IO_CHANNEL_H_
#define BDEVKIT_IO_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

class IoChannel;

// Per-thread state of a device. Subclass it; the channel owns it.
class ChannelContext {
 public:
  virtual ~ChannelContext() = default;
};

// A device with per-thread channels. Subclass and implement CreateChannelContext().
class IoDevice {
 public:
  IoDevice() = default;
  IoDevice(const IoDevice&) = delete;
  IoDevice& operator=(const IoDevice&) = delete;
  virtual ~IoDevice();

  // Makes channels available. Any thread; never blocks.
  void RegisterIoDevice(std::string name);

  // No new channels may be created; `done` runs on the calling thread once every
  // existing channel has been released. The device must stay alive until then.
  // Runtime thread; never blocks.
  void UnregisterIoDevice(std::function<void()> done);

  // Returns this thread's channel, creating it on first use, and takes a reference.
  // Returns nullptr if the device is not registered (or is being unregistered) or
  // CreateChannelContext() failed. Runtime thread; never blocks.
  IoChannel* GetIoChannel();

  const std::string& io_device_name() const { return io_device_name_; }

 protected:
  // Called on the thread the channel is for. nullptr = cannot create (logged).
  virtual std::unique_ptr<ChannelContext> CreateChannelContext() = 0;
  // Called on the channel's thread when its last reference is released, before the
  // context is destroyed. Default: nothing.
  virtual void OnChannelDestroy(ChannelContext& /*ctx*/) {}

 private:
  friend class IoChannel;
  friend class IoDeviceRegistry;
  std::string io_device_name_;
};

// One device's state on one thread. Owning thread only.
class IoChannel {
 public:
  IoChannel(const IoChannel&) = delete;
  IoChannel& operator=(const IoChannel&) = delete;

  // Drops the reference taken by GetIoChannel(). The channel is destroyed (on a later
  // message, never inside the caller's stack) when the count reaches zero. Owning
  // thread; never blocks.
  void Put();

  IoDevice& device() const { return *device_; }
  Thread& thread() const { return *thread_; }
  template <typename T>
  T& ctx() const {
    return static_cast<T&>(*ctx_);
  }

 private:
  friend class IoDeviceRegistry;
  IoChannel(IoDevice* device, Thread* thread) : device_(device), thread_(thread) {}
  ~IoChannel() = default;

  IoDevice* const device_;
  Thread* const thread_;
  std::unique_ptr<ChannelContext> ctx_;
  uint32_t refs_ = 0;
  bool destroy_pending_ = false;
};

// Calls fn on every existing channel of `device` (including one whose last reference
// was just dropped but which is not destroyed yet), one at a time, each on its own
// thread; then calls done(status) on the calling thread. fn returning a non-OK status
// stops the iteration and is passed to done. Channels created meanwhile may be
// skipped. Runtime thread; never blocks.
void ForEachChannel(IoDevice& device, std::function<absl::Status(IoChannel&)> fn,
                    std::function<void(absl::Status)> done);

}  // namespace bdevkit

#endif  // BDEVKIT_IO_CHANNEL_H_

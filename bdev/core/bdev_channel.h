// BdevChannel: one bdev's state on one thread (the context of the bdev's IoChannel).
// Touched only by its own thread, so the I/O path takes no lock.
#ifndef BDEVKIT_BDEV_CORE_BDEV_CHANNEL_H_
#define BDEVKIT_BDEV_CORE_BDEV_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "bdev/core/bdev_internal.h"
#include "bdev/core/bdev_io_pool.h"
#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"

namespace bdevkit {

namespace core {
class QosChannel;
}  // namespace core

class BdevChannel final : public ChannelContext {
 public:
  // Takes this thread's backend channel and layer channel; nullptr if either is
  // unavailable. Runs on the channel's thread (from GetIoChannel).
  static std::unique_ptr<BdevChannel> Create(Bdev& bdev);
  ~BdevChannel() override = default;

  // Drops the backend and layer channel references. Channel's thread, at destroy.
  void Release();

  // Counts a finished application I/O in this channel's stats.
  void RecordCompletion(const BdevIo& io, IoStatus status, uint64_t now_ticks);

  Bdev& bdev() const { return *bdev_; }
  IoChannel& backend() const { return *backend_; }
  core::LayerChannel& layer() const { return layer_io_ch_->ctx<core::LayerChannel>(); }

  IoStats stats;
  uint64_t outstanding = 0;  // application I/O submitted and not yet called back
  // While I/O is outstanding the core holds its own reference on the channel (taken
  // when `outstanding` leaves 0, dropped when it returns to 0): a caller that Put()s
  // its channel or closes on kRemove with I/O in flight cannot free the BdevIo pool
  // or this context under the backend.
  void HoldForIo() {
    if (outstanding++ == 0) self_ = bdev_->internal().GetIoChannel();
  }
  // Returns the reference to drop (after the callback) or nullptr.
  IoChannel* ReleaseForIo() { return --outstanding == 0 ? std::exchange(self_, nullptr) : nullptr; }
  bool frozen = false;  // a reset is quiescing the bdev: new I/O gets -EAGAIN
  // Set while the bdev has a rate limit: the channel's share of it (qos.h), whose
  // admission stage every read and write passes. nullptr = no limit, no cost.
  core::QosChannel* qos = nullptr;

 private:
  BdevChannel(Bdev* bdev, IoChannel* backend, IoChannel* layer)
      : bdev_(bdev), backend_(backend), layer_io_ch_(layer) {}
  Bdev* const bdev_;
  IoChannel* backend_;
  IoChannel* layer_io_ch_;
  IoChannel* self_ = nullptr;
};

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_CORE_BDEV_CHANNEL_H_

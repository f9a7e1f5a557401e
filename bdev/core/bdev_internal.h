// The core's private view of a bdev: per-bdev state shared by the registry, the
// descriptors and the I/O path, and the friend classes through which the core
// reaches Bdev's protected operation table. Never included by modules.
#ifndef BDEVKIT_BDEV_CORE_BDEV_INTERNAL_H_
#define BDEVKIT_BDEV_CORE_BDEV_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"

namespace bdevkit {

namespace core {
// The one lock of the bdev layer's control plane (registry, descriptor lists, claims,
// module list). Never taken on the I/O path. While it is held the core calls no
// runtime function except Thread::Send (lock-free), so the runtime's own lock and
// this one never nest the other way round.
absl::Mutex& ControlMutex();

class QosBudget;  // qos.h
struct QosBudgetDeleter {
  void operator()(QosBudget* budget) const;
};
}  // namespace core

// Per-bdev core state. It is also the bdev's IoDevice: its per-thread channel is a
// BdevChannel (backend channel, stats, outstanding count, freeze flag).
struct BdevInternal final : public IoDevice {
  explicit BdevInternal(Bdev* b) : bdev(b) {}

  Bdev* const bdev;

  // Read on the I/O path of every thread, written on the app thread: atomics so a
  // submit sees removal without a lock (relaxed is enough: a racing submit either
  // sees it and fails, or is an ordinary in-flight I/O that completes normally).
  std::atomic<bool> removing{false};
  std::atomic<uint64_t> num_blocks{0};
  // One reset at a time per bdev, whatever thread starts it.
  std::atomic<bool> reset_in_progress{false};

  // ---- Guarded by core::ControlMutex() ----
  std::vector<BdevDesc*> descs;
  ClaimType claim_type = ClaimType::kNone;
  std::string claim_module;
  BdevDesc* claim_desc = nullptr;
  int pending_events = 0;  // event messages not yet delivered (keep the bdev alive)
  bool finishing = false;  // teardown message sent
  std::vector<std::function<void(absl::Status)>> unregister_done;
  IoStats retired_stats;  // counters of channels already destroyed
  QosLimits qos_limits;   // as set by SetQosLimits (bdev_get_bdevs, save_config)

  // ---- QoS (qos.h) ----
  // The owner-side budget: created on the app thread by the first SetQosLimits that
  // sets a limit, freed with the bdev (on the app thread, after every channel is
  // gone). Channels read the pointer when they are created, hence the atomic.
  std::atomic<core::QosBudget*> qos_budget{nullptr};
  std::unique_ptr<core::QosBudget, core::QosBudgetDeleter> qos_budget_owner;

  // ---- Owned by the thread running the reset (reset_in_progress set) ----
  bool reset_unfrozen = false;
  IoChannel* reset_hold = nullptr;  // channel reference held for the reset's duration
  Poller* reset_poller = nullptr;

 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override;
  void OnChannelDestroy(ChannelContext& ctx) override;
};

// The control-plane side of the core: friend of Bdev and BdevDesc.
class BdevRegistry {
 public:
  static absl::Status Register(std::unique_ptr<Bdev> bdev);
  static absl::StatusOr<std::unique_ptr<BdevDesc>> Open(std::string_view name, bool writable,
                                                        BdevEventCallback event_cb);
  static void Close(BdevDesc& desc);
  static absl::Status Claim(BdevDesc& desc, ClaimType type, std::string_view module_name);
  static void Unregister(std::string_view name, std::function<void(absl::Status)> done);
  static void NotifyResize(Bdev& bdev, uint64_t new_num_blocks);

 private:
  static void SendEvent(BdevInternal& in, BdevDesc* desc, BdevEvent event);
  static void MaybeFinishRemoval(BdevInternal& in);
  static void FinishRemoval(Bdev* bdev);
  static void DeleteBdev(Bdev* bdev);
};

// The I/O-path side: the one place the core calls the backend's SubmitIo.
class BdevIoSubmitter {
 public:
  static void Submit(Bdev& bdev, IoChannel& backend_ch, BdevIo& io) {
    bdev.SubmitIo(backend_ch, io);
  }
};

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_CORE_BDEV_INTERNAL_H_

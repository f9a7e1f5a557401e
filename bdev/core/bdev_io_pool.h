// The bdev layer's per-thread state ("layer channel"): a fixed pool of BdevIo, the
// queues of work waiting for a BdevIo or a bounce buffer, the list of completions
// deferred out of SubmitIo, and the aligned bounce-buffer pool. Everything here is
// touched only by its own thread, so nothing is locked or atomic.
#ifndef BDEVKIT_BDEV_CORE_BDEV_IO_POOL_H_
#define BDEVKIT_BDEV_CORE_BDEV_IO_POOL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"

namespace bdevkit {
namespace core {

// BdevIo per thread by default (BdevLayerOptions). Bounded on purpose: when they run
// out a submit says -ENOMEM.
inline constexpr uint32_t kBdevIoPoolSize = 4096;
// The last BdevIo are kept for split children: a parent holds its own BdevIo while it
// waits for children, so without a reserve parents alone could exhaust the pool and
// never finish.
inline constexpr uint32_t kBdevIoChildReserve = 64;
// Bounce buffers per thread and their size (also their alignment, so any power-of-two
// required_alignment up to this size is met). Bigger I/O bounce piece by piece.
inline constexpr uint32_t kBounceBufSize = 128 * 1024;
inline constexpr uint32_t kBounceBufCount = 16;

// An intrusive FIFO of BdevIo linked through BdevIo::next.
struct IoQueue {
  BdevIo* head = nullptr;
  BdevIo* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void Push(BdevIo* io);
  BdevIo* Pop();
  // Moves every element matching pred to `out` (keeping order).
  template <typename Pred>
  void Extract(Pred pred, IoQueue& out) {
    IoQueue keep;
    while (BdevIo* io = Pop()) (pred(io) ? out : keep).Push(io);
    *this = keep;
  }
};

class LayerChannel final : public ChannelContext {
 public:
  LayerChannel();
  ~LayerChannel() override;

  // A free BdevIo with its bookkeeping cleared, or nullptr. Applications' I/O
  // (for_child = false) cannot take the child reserve.
  BdevIo* GetIo(bool for_child);
  void PutIo(BdevIo* io);
  bool HasFreeIo(bool for_child) const;

  // Application waits (after -ENOMEM) and split parents waiting for a child BdevIo.
  void QueueIoWait(IoWaitEntry* entry);
  void QueueSplitWaiter(BdevIo* parent) { split_waiters_.Push(parent); }
  // Hands freed BdevIo to whoever waits: split parents first (they already hold I/O
  // the application is waiting for), then IoWaitEntry callbacks. Inline check first:
  // it runs twice per completed I/O and there is usually nobody waiting.
  void RunWaiters() {
    if (wait_head_ != nullptr || !split_waiters_.empty()) ServeWaiters();
  }

  // A completion reported while the I/O was still inside SubmitIo: finished later by
  // the poller so a callback never runs inside the submitter's stack.
  void Defer(BdevIo* io) { deferred_.Push(io); }

  // Bounce buffers: nullptr when none is free (queue the I/O with QueueBounceWaiter;
  // PutBounce hands the buffer straight to the first waiter).
  void* GetBounce();
  void PutBounce(void* buf);
  void QueueBounceWaiter(BdevIo* io) { bounce_waiters_.Push(io); }

  // Removes the I/O of `channel` queued in this layer (bounce waiters, split parents
  // waiting for BdevIo) into `out`; used by reset to cancel them.
  void ExtractQueued(const BdevChannel* channel, IoQueue& out);

  // Stops the poller; called on the owning thread before destruction.
  void Stop();

  uint32_t free_count() const { return free_count_; }
  uint32_t pool_size() const { return pool_size_; }

 private:
  PollStatus Poll();

  const uint32_t pool_size_;  // BdevLayerOptions::bdev_io_per_thread at creation
  std::unique_ptr<BdevIo[]> ios_;
  BdevIo* free_ = nullptr;
  uint32_t free_count_ = 0;
  IoQueue deferred_;
  void ServeWaiters();

  IoQueue split_waiters_;
  IoQueue bounce_waiters_;
  IoWaitEntry* wait_head_ = nullptr;
  IoWaitEntry* wait_tail_ = nullptr;
  bool running_waiters_ = false;
  // Bounce buffers are allocated on first use (most threads never bounce) and kept.
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::vector<std::unique_ptr<void, FreeDeleter>> bounce_storage_;
  std::vector<void*> bounce_free_;
  Thread* thread_ = nullptr;
  Poller* poller_ = nullptr;
};

// Registers the bdev layer's IoDevice (StartBdevLayer) and unregisters it
// (StopBdevLayer; done runs on the calling thread once every layer channel is gone).
// App thread.
void StartLayerDevice();
void StopLayerDevice(std::function<void()> done);
// This thread's layer channel with a reference, or nullptr when the layer is not
// started. Runtime thread.
IoChannel* GetLayerIoChannel();

}  // namespace core
}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_CORE_BDEV_IO_POOL_H_

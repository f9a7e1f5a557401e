// The per-thread layer channel: BdevIo pool, wait queues, deferred completions and
// bounce buffers.
#include "bdev/core/bdev_io_pool.h"

#include <atomic>
#include <cstdlib>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_channel.h"
#include "bdev/core/io_path.h"
#include "bdev/core/module_registry.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace core {

void IoQueue::Push(BdevIo* io) {
  io->next = nullptr;
  if (tail == nullptr) {
    head = tail = io;
  } else {
    tail->next = io;
    tail = io;
  }
}

BdevIo* IoQueue::Pop() {
  BdevIo* io = head;
  if (io == nullptr) return nullptr;
  head = io->next;
  if (head == nullptr) tail = nullptr;
  io->next = nullptr;
  return io;
}

void LayerChannel::FreeDeleter::operator()(void* p) const { std::free(p); }

LayerChannel::LayerChannel()
    : pool_size_(BdevIoPerThread()), ios_(std::make_unique<BdevIo[]>(pool_size_)) {
  for (uint32_t i = pool_size_; i-- > 0;) {
    ios_[i].next = free_;
    free_ = &ios_[i];
  }
  free_count_ = pool_size_;
  bounce_free_.reserve(kBounceBufCount);
  thread_ = Thread::Current();
  // An active poller: deferred completions must run on the very next loop iteration,
  // they are what keeps an inline-completing backend (null) moving.
  poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(),
                                    "bdev_layer_deferred");
}

namespace {
// BdevIo still taken when a pool was destroyed (BdevIoLeakedAtPoolDestroy).
std::atomic<uint64_t> g_leaked_at_destroy{0};
}  // namespace

LayerChannel::~LayerChannel() {
  if (free_count_ != pool_size_) {
    g_leaked_at_destroy.fetch_add(pool_size_ - free_count_, std::memory_order_relaxed);
    LOG_ERROR("bdev layer channel destroyed with %u BdevIo still in use", pool_size_ - free_count_);
  }
}

void LayerChannel::Stop() {
  if (poller_ != nullptr) thread_->UnregisterPoller(poller_);
  poller_ = nullptr;
}

bool LayerChannel::HasFreeIo(bool for_child) const {
  return free_count_ > (for_child ? 0 : kBdevIoChildReserve);
}

BdevIo* LayerChannel::GetIo(bool for_child) {
  if (!HasFreeIo(for_child)) return nullptr;
  BdevIo* io = free_;
  free_ = io->next;
  --free_count_;
  // Clear the core's bookkeeping; request fields are set by the caller. The driver
  // context and inline iovs are scratch and left as they are.
  io->next = nullptr;
  io->parent = nullptr;
  io->status = IoStatus::Success();
  io->in_submit = false;
  io->bounced = false;
  io->split_next_block = 0;
  io->split_outstanding = 0;
  io->orig_iovs = nullptr;
  io->orig_iovcnt = 0;
  io->bounce_buf = nullptr;
  io->bounce_size_class = 0;
  io->iovs = nullptr;
  io->iovcnt = 0;
  io->cb = nullptr;
  io->cb_arg = nullptr;
  return io;
}

void LayerChannel::PutIo(BdevIo* io) {
  io->next = free_;
  free_ = io;
  ++free_count_;
}

void LayerChannel::QueueIoWait(IoWaitEntry* entry) {
  entry->next = nullptr;
  if (wait_tail_ == nullptr) {
    wait_head_ = wait_tail_ = entry;
  } else {
    wait_tail_->next = entry;
    wait_tail_ = entry;
  }
}

void LayerChannel::ServeWaiters() {
  // A callback may free or take BdevIo and end up here again; the outer loop
  // picks up whatever changed, so nested calls return at once.
  if (running_waiters_) return;
  running_waiters_ = true;
  while (!split_waiters_.empty() && HasFreeIo(/*for_child=*/true)) {
    SplitContinue(*split_waiters_.Pop());
  }
  while (wait_head_ != nullptr && HasFreeIo(/*for_child=*/false)) {
    IoWaitEntry* entry = wait_head_;
    wait_head_ = entry->next;
    if (wait_head_ == nullptr) wait_tail_ = nullptr;
    entry->next = nullptr;
    entry->cb(entry->cb_arg);
  }
  running_waiters_ = false;
}

void* LayerChannel::GetBounce() {
  if (bounce_storage_.empty()) {
    // First bounce on this thread: allocate the whole (bounded) pool once.
    for (uint32_t i = 0; i < kBounceBufCount; ++i) {
      void* p = std::aligned_alloc(kBounceBufSize, kBounceBufSize);
      if (p == nullptr) break;
      bounce_storage_.emplace_back(p);
      bounce_free_.push_back(p);
    }
  }
  if (bounce_free_.empty()) return nullptr;
  void* p = bounce_free_.back();
  bounce_free_.pop_back();
  return p;
}

void LayerChannel::PutBounce(void* buf) {
  if (BdevIo* waiter = bounce_waiters_.Pop()) {
    // Straight to the oldest waiter: FIFO, and the buffer never sits idle.
    BounceAttach(*waiter, buf);
    Dispatch(*waiter);
    return;
  }
  bounce_free_.push_back(buf);
}

void LayerChannel::ExtractQueued(const BdevChannel* channel, IoQueue& out) {
  auto mine = [channel](BdevIo* io) { return io->channel == channel; };
  bounce_waiters_.Extract(mine, out);
  split_waiters_.Extract(mine, out);
}

PollStatus LayerChannel::Poll() {
  if (deferred_.empty()) return PollStatus::kIdle;
  // Only what is queued now: completions deferred by callbacks run next iteration,
  // so a submit-from-callback loop cannot starve the thread's other pollers.
  IoQueue batch = deferred_;
  deferred_ = IoQueue();
  while (BdevIo* io = batch.Pop()) FinishIo(*io, io->status);
  return PollStatus::kBusy;
}

// ---- The layer IoDevice ------------------------------------------------------------

namespace {

class LayerDevice final : public IoDevice {
 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    return std::make_unique<LayerChannel>();
  }
  void OnChannelDestroy(ChannelContext& ctx) override { static_cast<LayerChannel&>(ctx).Stop(); }
};

// Set on the app thread by Start/StopLayerDevice, read by GetLayerIoChannel on any
// runtime thread; the mutex only orders those control-plane moments.
absl::Mutex g_layer_mu;
std::unique_ptr<LayerDevice> g_layer;  // guarded by g_layer_mu

}  // namespace

void StartLayerDevice() {
  absl::MutexLock lock(&g_layer_mu);
  if (g_layer != nullptr) return;
  g_layer = std::make_unique<LayerDevice>();
  g_layer->RegisterIoDevice("bdev_layer");
}

void StopLayerDevice(std::function<void()> done) {
  LayerDevice* dev;
  {
    absl::MutexLock lock(&g_layer_mu);
    dev = g_layer.get();
  }
  if (dev == nullptr) {
    done();
    return;
  }
  dev->UnregisterIoDevice([done = std::move(done)] {
    {
      absl::MutexLock lock(&g_layer_mu);
      g_layer.reset();
    }
    done();
  });
}

IoChannel* GetLayerIoChannel() {
  LayerDevice* dev;
  {
    absl::MutexLock lock(&g_layer_mu);
    dev = g_layer.get();
  }
  return dev != nullptr ? dev->GetIoChannel() : nullptr;
}

}  // namespace core

void GetBdevIoPoolLevels(std::function<void(std::vector<BdevIoPoolLevel>)> done) {
  core::LayerDevice* dev;
  {
    absl::MutexLock lock(&core::g_layer_mu);
    dev = core::g_layer.get();
  }
  if (dev == nullptr) return done({});
  auto levels = std::make_shared<std::vector<BdevIoPoolLevel>>();
  ForEachChannel(
      *dev,
      [levels](IoChannel& ch) {
        const auto& layer = ch.ctx<core::LayerChannel>();
        levels->push_back({ch.thread().id(), ch.thread().name(), layer.pool_size(),
                           layer.pool_size() - layer.free_count()});
        return absl::OkStatus();
      },
      [levels, done = std::move(done)](absl::Status) { done(std::move(*levels)); });
}

uint64_t BdevIoLeakedAtPoolDestroy() {
  return core::g_leaked_at_destroy.load(std::memory_order_relaxed);
}

}  // namespace bdevkit

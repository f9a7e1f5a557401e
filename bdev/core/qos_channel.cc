// The channel side of QoS (see qos.h): admission, the throttled-I/O queue and the
// poller that starts it, attaching to and leaving the bdev's budget.
#include <cerrno>

#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/io_path.h"
#include "bdev/core/qos.h"
#include "bdevkit/log.h"

namespace bdevkit::core {

namespace {

// Starts an I/O that waited: as SubmitIo does, with in_submit set so that whatever
// finishes it early is deferred and no callback runs inside the release loop.
void StartQueued(BdevIo& io) {
  io.in_submit = true;
  StartIo(io);
  io.in_submit = false;
}

}  // namespace

bool QosChannel::AdmitSlow(BdevIo& io) {
  const QosMask kinds = wallet_.KindsOf(io.type);
  if (kinds == 0) return true;  // this type has no limit
  // Out of credit (or I/O waiting): a grant may be in the mailbox already.
  if (queue_.empty()) {
    CollectGrants();
    QosMask fresh = 0;
    if (wallet_.TryStart(kinds, io.length_bytes(), fresh)) {
      if (fresh != 0) want_.fetch_or(fresh, std::memory_order_relaxed);
      return true;
    }
  }
  // The first to wait tells the owner so even if its kinds were asked for already
  // (ahead of need): from now on tokens are needed, not just welcome.
  if (queue_.empty()) want_.fetch_or(kinds | kQosStarving, std::memory_order_relaxed);
  queue_.Push(&io);
  AskIfLow();
  return false;
}

bool QosChannel::CollectGrants() {
  bool got = false;
  for (int k = 0; k < kNumQosKinds; ++k) {
    // A plain load first: the line is only written when a grant comes, so polling it
    // stays in this core's cache.
    if (inbox_[k].load(std::memory_order_relaxed) == 0) continue;
    wallet_.Deposit(k, inbox_[k].exchange(0, std::memory_order_relaxed));
    got = true;
  }
  return got;
}

bool QosChannel::Release() {
  bool started = false;
  while (!queue_.empty()) {
    BdevIo& io = *queue_.head;
    const QosMask kinds = wallet_.KindsOf(io.type);
    if (!wallet_.CanStart(kinds)) break;
    queue_.Pop();
    wallet_.Charge(kinds, io.length_bytes());
    StartQueued(io);
    started = true;
  }
  return started;
}

void QosChannel::AbortQueued(int negative_errno) {
  while (BdevIo* io = queue_.Pop()) Complete(*io, IoStatus::Error(negative_errno));
}

PollStatus QosChannel::Poll() {
  // The common case while the limit is not reached: nothing waits, nothing asked.
  if (queue_.empty() && wallet_.asked() == 0 && attach_sent_) return PollStatus::kIdle;
  if (!attach_sent_) SendAttach();
  bool busy = CollectGrants();
  if (!queue_.empty()) {
    // Removal: what waits here would only hold the bdev up; it fails like new I/O.
    if (bch_.bdev().internal().removing.load(std::memory_order_relaxed)) {
      AbortQueued(-ENODEV);
      return PollStatus::kBusy;
    }
    busy |= Release();
    AskIfLow();
  }
  return busy ? PollStatus::kBusy : PollStatus::kIdle;
}

void QosChannel::Configure(const QosRates& rates) {
  wallet_.Configure(rates, QosSliceTicks(), GetTicksPerSecond());
  // A lifted or raised limit may let waiting I/O go now.
  Release();
  AskIfLow();
}

void QosChannel::ExtractQueued(IoQueue& out) {
  while (BdevIo* io = queue_.Pop()) out.Push(io);
}

void QosChannel::Start() {
  poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(), "bdev_qos");
  SendAttach();
}

void QosChannel::SendAttach() {
  // A full ring is retried from the poller; until then nothing is granted and I/O
  // waits, so the limit is never exceeded.
  attach_sent_ = budget_.owner()->Send(&QosBudget::OnAttach, this) == 0;
}

void QosChannel::Detach() {
  IoQueue waiting;
  ExtractQueued(waiting);
  if (poller_ != nullptr) thread_->UnregisterPoller(poller_);
  poller_ = nullptr;
  bch_.qos = nullptr;
  if (attach_sent_) {
    // The owner frees it at its next slice; this thread must not touch it again.
    detached_.store(true, std::memory_order_release);
  } else {
    delete this;  // the owner never heard of it
  }
  while (BdevIo* io = waiting.Pop()) StartQueued(*io);
}

// ---- Hooks ---------------------------------------------------------------------------

void QosSyncChannel(BdevChannel& bch) {
  QosBudget* budget = bch.bdev().internal().qos_budget.load(std::memory_order_acquire);
  const QosRates rates = budget != nullptr ? budget->PublishedRates() : QosRates{};
  if (rates.Active() == 0) {
    if (bch.qos != nullptr) bch.qos->Detach();
    return;
  }
  if (bch.qos == nullptr) {
    bch.qos = new QosChannel(bch, *budget, Thread::Current());
    bch.qos->Start();
  }
  bch.qos->Configure(rates);
}

void QosChannelDestroyed(BdevChannel& bch) {
  if (bch.qos == nullptr) return;
  // Queued I/O counts as outstanding and holds the channel, so none can be left.
  bch.qos->Detach();
}

void QosExtractQueued(BdevChannel& bch, IoQueue& out) {
  if (bch.qos != nullptr) bch.qos->ExtractQueued(out);
}

}  // namespace bdevkit::core

// QoS: rate limits on any bdev, enforced on every thread's own channel.
//
// SPDK sends every I/O of a limited bdev to one thread, which then caps the whole
// bdev at what that thread can do. Here each I/O stays on the thread that submitted
// it. The limit is a budget of tokens shared by the bdev's channels:
//
//  - The owner (the app thread, one QosBudget per limited bdev) makes tokens at the
//    configured rates (QosTokenSource: exact, no rounding to timeslices) and, every
//    slice (1 ms), splits what it has among the channels that asked for more.
//  - Each channel (QosChannel, on its own thread) spends tokens from its QosWallet:
//    an I/O that finds a positive balance starts at once (no lock, no atomic; while
//    the limit is far from reached it starts on the wallet's credit, a compare and a
//    few adds); otherwise it waits in the channel's FIFO queue, and the channel's
//    poller starts it when a grant arrives. A channel asks for more while it still
//    has two slices' worth, so a limit that is not reached never stalls.
//  - Tokens and requests travel between the owner and a channel through mailboxes
//    in the QosChannel: one atomic counter per limit that only the owner adds grants
//    to and only the channel empties, and one atomic mask of requested limits that
//    only the channel sets and only the owner takes. They are single-writer message
//    slots: a request cannot be lost to a full message ring, repeating it costs
//    nothing, and the I/O path never waits for the owner. Joining the budget is a
//    message; leaving is a flag the owner sees at its next slice (it frees the
//    QosChannel, so nothing it may still touch goes away under it).
//
// So channels that are busy share the rate evenly, a channel that needs less leaves
// the rest to the others (a grant only goes to a channel that asked), and what the
// bdev does over time equals the rate: every token made is handed out once. The
// cost: tokens a channel holds but does not use (at most a few slices' worth each)
// are a bounded burst later, and a big grant after the owner was descheduled is a
// burst too (the long-run rate stays exact). Tokens made while no channel had I/O
// waiting are capped at four slices' worth, so a late owner gives no start-up burst.
// While the owner's thread is descheduled, channels run on what they hold and then
// wait (SPDK's QoS thread is the same single dependency, and there all I/O waits).
//
// Core hooks: SubmitIo calls QosAdmit only when the channel has a QosChannel (one
// predictable branch otherwise); channels attach/detach when created/destroyed and
// when limits change; reset takes the queued I/O and fails it with -ECANCELED; the
// channel's poller fails queued I/O with -ENODEV once the bdev is being removed.
#ifndef BDEVKIT_BDEV_CORE_QOS_H_
#define BDEVKIT_BDEV_CORE_QOS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bdev/core/bdev_io_pool.h"
#include "bdev/core/qos_tokens.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"

namespace bdevkit {

class BdevChannel;
struct BdevInternal;

namespace core {

class QosBudget;

// One bdev channel's share of a limited bdev.
class QosChannel {
 public:
  QosChannel(BdevChannel& bch, QosBudget& budget, Thread* thread)
      : bch_(bch), budget_(budget), thread_(thread) {}
  QosChannel(const QosChannel&) = delete;
  QosChannel& operator=(const QosChannel&) = delete;

  // ---- Channel thread ----
  // The admission stage (see QosAdmit). Inline: while the limit is far from reached
  // an I/O starts on the wallet's credit (a compare, a decrement, two adds).
  bool Admit(BdevIo& io) {
    // Only reads and writes are limited (IoType's first two values).
    if (io.type != IoType::kRead && io.type != IoType::kWrite) return true;
    // FIFO: nothing overtakes an I/O already waiting.
    if (queue_.empty() && wallet_.TakeCredit(io.type, io.length_bytes())) [[likely]] {
      return true;
    }
    return AdmitSlow(io);
  }
  // New rates: reconfigures the wallet and starts what no longer has to wait.
  void Configure(const QosRates& rates);
  // Moves the queued I/O to `out` (reset cancels them).
  void ExtractQueued(IoQueue& out);
  // Leaves the budget; the queued I/O start unthrottled (the limits were lifted).
  // Afterwards this object belongs to the owner (or is freed), so it must not be
  // touched: BdevChannel::qos is cleared.
  void Detach();
  // Registers the poller and joins the budget. Channel thread.
  void Start();

  // ---- Owner thread ----
  // Slot access for the owner's slice.
  QosMask TakeWants() { return want_.exchange(0, std::memory_order_relaxed); }
  void ReturnWants(QosMask unmet) { want_.fetch_or(unmet, std::memory_order_relaxed); }
  void Grant(int kind, int64_t tokens) {
    inbox_[kind].fetch_add(tokens, std::memory_order_relaxed);
  }
  bool detached() const { return detached_.load(std::memory_order_acquire); }
  Thread* thread() const { return thread_; }
  QosBudget& budget() const { return budget_; }

 private:
  bool AdmitSlow(BdevIo& io);
  PollStatus Poll();
  void SendAttach();
  // Moves granted tokens from the mailbox into the wallet; true if there were any.
  bool CollectGrants();
  // Raises the request flags of limits running low (with kQosStarving when I/O waits).
  void AskIfLow() {
    if (QosMask fresh = wallet_.TakeNewRequests()) {
      want_.fetch_or(fresh | (queue_.empty() ? 0 : kQosStarving), std::memory_order_relaxed);
    }
  }
  // Starts queued I/O, in order, while the wallet allows; true if any started.
  bool Release();
  void AbortQueued(int negative_errno);

  BdevChannel& bch_;
  QosBudget& budget_;
  Thread* const thread_;
  QosWallet wallet_;
  IoQueue queue_;
  Poller* poller_ = nullptr;
  bool attach_sent_ = false;

  // Mailboxes, each on its own cache line so the owner's writes to one do not evict
  // the channel's hot fields above. Counters only: no other data is published
  // through them, so relaxed ordering is enough; the owner frees this object only
  // after it has seen detached_ (release/acquire), so the channel's last accesses
  // happen before.
  alignas(64) std::array<std::atomic<int64_t>, kNumQosKinds> inbox_{};
  alignas(64) std::atomic<QosMask> want_{0};
  std::atomic<bool> detached_{false};
};

// A limited bdev's owner-side state; lives from the first limit set until the bdev is
// freed. Owner (app) thread, except PublishedRates().
class QosBudget {
 public:
  QosBudget(BdevInternal& in, Thread* owner);
  ~QosBudget();
  QosBudget(const QosBudget&) = delete;
  QosBudget& operator=(const QosBudget&) = delete;

  Thread* owner() const { return owner_; }
  // New rates, effective for tokens made from now; published for channels.
  void SetRates(const QosRates& rates);
  // The rates last set. Any thread: channels read them when they (re)configure.
  QosRates PublishedRates() const;
  // Message handler on the owner thread: a QosChannel joins.
  static void OnAttach(void* qos_channel);

 private:
  PollStatus Slice();
  void EnsurePoller();

  const std::string name_;
  Thread* const owner_;
  const bool wake_channels_;  // reactors may sleep: tell a channel its grant is there
  QosTokenSource source_;
  std::array<std::atomic<uint64_t>, kNumQosKinds> published_{};
  std::vector<QosChannel*> channels_;
  // Scratch of Slice(), kept to avoid allocating every slice.
  std::vector<QosChannel*> askers_;
  std::vector<QosMask> wants_;
  std::vector<QosMask> unmet_;
  std::vector<std::array<int64_t, kNumQosKinds>> grants_;
  Poller* poller_ = nullptr;
};

// The slice: how often the owner hands tokens out.
uint64_t QosSliceTicks();

// ---- Hooks called by the rest of the core ----------------------------------------

// SubmitIo's admission stage, called only when bch.qos is set: true = start the I/O
// now (its tokens are spent); false = it waits in the channel's queue and its
// channel's poller starts it later (the submit still returned 0).
inline bool QosAdmit(QosChannel& qc, BdevIo& io) { return qc.Admit(io); }
// Attaches, reconfigures or detaches the channel to match the bdev's published
// limits. Channel thread: at creation and from SetQosLimits' walk over channels.
void QosSyncChannel(BdevChannel& bch);
// Channel destruction (channel thread): leaves the budget.
void QosChannelDestroyed(BdevChannel& bch);
// Reset: moves the channel's throttled I/O to `out`. Channel thread.
void QosExtractQueued(BdevChannel& bch, IoQueue& out);

}  // namespace core
}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_CORE_QOS_H_

// The arithmetic of QoS rate limits, without threads or clocks of its own (time is
// passed in as ticks), so it is unit tested deterministically. The runtime glue that
// moves tokens between threads is in qos.cc; the design is described there and in
// README.md ("QoS").
//
//  - QosTokenSource (owner side, one per limited bdev): makes tokens at the configured
//    rates, exactly (fractional remainders carry over, so 1,000 IOPS is 1,000 IOPS
//    and not a rounded timeslice), and splits them among the channels that asked.
//  - QosWallet (channel side, one per limited bdev channel): the tokens a channel
//    holds, whether an I/O may start, what it costs, and when to ask for more.
#ifndef BDEVKIT_BDEV_CORE_QOS_TOKENS_H_
#define BDEVKIT_BDEV_CORE_QOS_TOKENS_H_

#include <array>
#include <cstdint>
#include <span>

#include "bdevkit/bdev.h"

namespace bdevkit::core {

// The four limits of bdev_set_qos_limit. A token of kRwIops is one I/O; of the byte
// kinds, one byte.
enum QosKind : int { kQosRwIops = 0, kQosRwBytes = 1, kQosReadBytes = 2, kQosWriteBytes = 3 };
inline constexpr int kNumQosKinds = 4;
// A set of kinds, one bit per QosKind.
using QosMask = uint32_t;
inline constexpr QosMask QosBit(int kind) { return QosMask{1} << kind; }
// In a request: the asker has I/O waiting for tokens (not only asking ahead).
inline constexpr QosMask kQosStarving = QosMask{1} << 31;

// Tokens per second of each kind; 0 = that kind is not limited.
struct QosRates {
  std::array<uint64_t, kNumQosKinds> per_sec{};
  QosMask Active() const;
  bool operator==(const QosRates&) const = default;
};

// The rates a bdev's limits (bdev.h) stand for: MB/s limits are MiB/s, as SPDK's.
QosRates RatesFromLimits(const QosLimits& limits);

// The kinds an I/O draws on: reads and writes count against the IOPS and byte limits
// (reads against r_mbytes, writes against w_mbytes); other types are not limited.
inline QosMask QosKindsOf(IoType type) {
  switch (type) {
    case IoType::kRead:
      return QosBit(kQosRwIops) | QosBit(kQosRwBytes) | QosBit(kQosReadBytes);
    case IoType::kWrite:
      return QosBit(kQosRwIops) | QosBit(kQosRwBytes) | QosBit(kQosWriteBytes);
    default:
      return 0;
  }
}

// Tokens of `kind` an I/O of `bytes` costs.
inline int64_t QosCost(int kind, uint64_t bytes) {
  return kind == kQosRwIops ? 1 : static_cast<int64_t>(bytes);
}

// How many tokens of a kind limited to `per_sec` are made in `ticks` (rounded down),
// at least 1: the burst a channel may keep in reserve, and the amount the owner may
// bank while nobody asks.
int64_t QosTokensIn(uint64_t per_sec, uint64_t ticks, uint64_t ticks_per_sec);

// Owner side: makes tokens and hands them out. Owner thread only.
class QosTokenSource {
 public:
  // `slice_ticks`: how often the owner hands tokens out; the burst the source banks
  // while nobody waits is kBankSlices of them: twice a channel's reserve (its low
  // mark), so an owner up to that late loses nothing for a channel that asked ahead
  // of need, and one later still finds the channel starving (not capped).
  static constexpr int kBankSlices = 4;
  QosTokenSource(uint64_t ticks_per_sec, uint64_t slice_ticks)
      : ticks_per_sec_(ticks_per_sec), slice_ticks_(slice_ticks) {}

  // New rates from `now`. A kind that becomes limited starts with a full bank (an
  // I/O may start at once even under a very low limit); a kind no longer limited
  // drops what it had. Kinds whose rate only changes keep their tokens, up to the
  // new bank.
  void SetRates(const QosRates& rates, uint64_t now);
  const QosRates& rates() const { return rates_; }

  // Adds the tokens made since the previous Refill (or SetRates): rate * elapsed
  // ticks, with the remainder carried to the next call so nothing is lost to rounding.
  void Refill(uint64_t now);

  // Hands the pool out. wants[i] are the kinds requester i asked for (plus
  // kQosStarving if it has I/O waiting); grants[i][k] receives its share of kind k (0
  // if none) and unmet[i] the kinds it asked for but got nothing of (it keeps
  // waiting). Each kind's pool goes in equal parts to the requesters that asked for
  // it, the remainder one token each from a start that rotates, so small pools are
  // shared fairly over time.
  // The pool is capped at kBankSlices slices' worth unless an asker of that kind is
  // starving: tokens made while nobody had I/O waiting (the owner ran late, a channel
  // was only asking ahead) would otherwise come out as a burst; tokens made while I/O
  // waited are all handed out, so a late owner does not lower the rate.
  void Distribute(std::span<const QosMask> wants,
                  std::span<std::array<int64_t, kNumQosKinds>> grants, std::span<QosMask> unmet);

  int64_t pool(int kind) const { return pool_[kind]; }
  int64_t bank_cap(int kind) const;

 private:
  const uint64_t ticks_per_sec_;
  const uint64_t slice_ticks_;
  QosRates rates_;
  std::array<int64_t, kNumQosKinds> pool_{};
  std::array<uint64_t, kNumQosKinds> remainder_{};  // in units of 1/ticks_per_sec tokens
  uint64_t last_ticks_ = 0;
  std::array<uint64_t, kNumQosKinds> next_extra_{};  // who gets the next remainder token
};

// Channel side: the tokens one channel holds. Channel thread only.
//
// Two lanes. The exact one (TryStart, CanStart/Charge) checks and spends each limit an
// I/O counts against. The fast one (TakeCredit) lets an I/O start on credit: the
// wallet keeps a count of I/O (of at most credit_bytes each) that can start without
// any limit dropping below the point where the channel must ask for more, and only
// counts what they spend; every other call settles that account first. So while a
// limit is far from reached, an I/O costs a compare, a decrement and two adds.
class QosWallet {
 public:
  // The channel may ask for more before it runs out: below kLowSlices slices' worth
  // of the whole bdev's rate, so a grant (at most a slice away) arrives before it
  // needs it and a limit that is not reached never stalls I/O.
  static constexpr int kLowSlices = 2;

  // New rates. A kind that becomes limited starts at 0 (the owner's bank covers the
  // first I/O); kinds no longer limited are forgotten; balances are cut to the new
  // low mark, so a lowered limit applies at once.
  void Configure(const QosRates& rates, uint64_t slice_ticks, uint64_t ticks_per_sec);
  QosMask active() const { return active_; }
  // The limited kinds an I/O of `type` draws on (QosKindsOf masked with active()),
  // precomputed: this is on the I/O path.
  QosMask KindsOf(IoType type) const {
    return type == IoType::kRead ? read_kinds_ : type == IoType::kWrite ? write_kinds_ : 0;
  }

  // The fast lane, for a read or a write of `bytes`: true = it starts on credit (its
  // tokens are counted and charged at the next settlement); false = use TryStart.
  bool TakeCredit(IoType type, uint64_t bytes) {
    if (credit_ == 0 || bytes > credit_bytes_) return false;
    --credit_;
    Owed& o = owed_[type == IoType::kWrite];
    ++o.ios;
    o.bytes += bytes;
    return true;
  }

  // Whether an I/O drawing on `kinds` (already masked with active()) may start: each
  // of them has a positive balance. An I/O larger than the balance may start and
  // leave it negative; that debt is paid from later grants, so the long-run rate is
  // exact whatever the I/O size.
  bool CanStart(QosMask kinds);
  // Spends an I/O's tokens; returns the kinds that fell below their low mark.
  QosMask Charge(QosMask kinds, uint64_t bytes);
  // The exact lane in one call: if the I/O may start, spends its tokens and returns
  // true, with `fresh` = the kinds to ask the owner for now (below the low mark, not
  // asked yet; marked asked). Else changes nothing and returns false.
  bool TryStart(QosMask kinds, uint64_t bytes, QosMask& fresh);
  void Deposit(int kind, int64_t tokens);

  // Kinds running low that have not been asked for yet; marks them asked (the owner
  // remembers an unmet request, so asking once per grant is enough).
  QosMask TakeNewRequests();
  // Kinds asked for and not granted yet.
  QosMask asked() const { return asked_; }

  // The balance, counting what I/O on credit spent.
  int64_t balance(int kind) const { return balance_[kind] - OwedCost(kind); }
  int64_t low_mark(int kind) const { return low_[kind]; }
  uint64_t credit() const { return credit_; }

 private:
  struct Owed {
    uint64_t ios = 0;
    uint64_t bytes = 0;
  };
  int64_t OwedCost(int kind) const;
  // Charges what I/O on credit spent.
  void Settle();
  // Recomputes the credit from the balances: for each limit, what stays above the
  // low mark (above 0 once asked for) divided by the cost of an I/O of credit_bytes_.
  void Recredit();

  QosMask active_ = 0;
  QosMask read_kinds_ = 0;
  QosMask write_kinds_ = 0;
  QosMask asked_ = 0;
  std::array<int64_t, kNumQosKinds> balance_{};
  std::array<int64_t, kNumQosKinds> low_{};
  uint64_t credit_ = 0;
  uint64_t credit_bytes_ = 0;  // the largest I/O seen: credit is counted in I/O this big
  Owed owed_[2];               // reads, writes started on credit since the last settlement
};

}  // namespace bdevkit::core

#endif  // BDEVKIT_BDEV_CORE_QOS_TOKENS_H_

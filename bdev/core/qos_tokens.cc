// QoS token arithmetic (see qos_tokens.h).
#include "bdev/core/qos_tokens.h"

#include <algorithm>
#include <limits>

namespace bdevkit::core {

namespace {
constexpr uint64_t kMiB = uint64_t{1} << 20;
// Keeps sums of tokens far from overflow whatever the elapsed time or rate.
constexpr int64_t kMaxPool = std::numeric_limits<int64_t>::max() / 4;
}  // namespace

QosMask QosRates::Active() const {
  QosMask mask = 0;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (per_sec[k] != 0) mask |= QosBit(k);
  }
  return mask;
}

QosRates RatesFromLimits(const QosLimits& limits) {
  QosRates r;
  r.per_sec[kQosRwIops] = limits.rw_ios_per_sec;
  r.per_sec[kQosRwBytes] = limits.rw_mbytes_per_sec * kMiB;
  r.per_sec[kQosReadBytes] = limits.r_mbytes_per_sec * kMiB;
  r.per_sec[kQosWriteBytes] = limits.w_mbytes_per_sec * kMiB;
  return r;
}

int64_t QosTokensIn(uint64_t per_sec, uint64_t ticks, uint64_t ticks_per_sec) {
  const unsigned __int128 made = static_cast<unsigned __int128>(per_sec) * ticks / ticks_per_sec;
  return std::clamp<int64_t>(static_cast<int64_t>(std::min<unsigned __int128>(made, kMaxPool)), 1,
                             kMaxPool);
}

// ---- QosTokenSource ------------------------------------------------------------------

int64_t QosTokenSource::bank_cap(int kind) const {
  return QosTokensIn(rates_.per_sec[kind], kBankSlices * slice_ticks_, ticks_per_sec_);
}

void QosTokenSource::SetRates(const QosRates& rates, uint64_t now) {
  // Tokens made under the old rates up to now are kept.
  Refill(now);
  const QosRates old = rates_;
  rates_ = rates;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (rates.per_sec[k] == 0) {
      pool_[k] = 0;
      remainder_[k] = 0;
    } else if (old.per_sec[k] == 0) {
      pool_[k] = bank_cap(k);
      remainder_[k] = 0;
    } else {
      // A lower limit applies now, not after a bank made at the old rate is spent.
      pool_[k] = std::min(pool_[k], bank_cap(k));
    }
  }
  last_ticks_ = now;
}

void QosTokenSource::Refill(uint64_t now) {
  const uint64_t elapsed = now > last_ticks_ ? now - last_ticks_ : 0;
  last_ticks_ = std::max(now, last_ticks_);
  if (elapsed == 0) return;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (rates_.per_sec[k] == 0) continue;
    // rate * elapsed in units of 1/ticks_per_sec tokens; 128 bits cannot overflow
    // (rates are < 2^64 and elapsed ticks < 2^64).
    const unsigned __int128 scaled =
        static_cast<unsigned __int128>(rates_.per_sec[k]) * elapsed + remainder_[k];
    const unsigned __int128 made = scaled / ticks_per_sec_;
    remainder_[k] = static_cast<uint64_t>(scaled % ticks_per_sec_);
    const unsigned __int128 room = static_cast<unsigned __int128>(kMaxPool - pool_[k]);
    pool_[k] += static_cast<int64_t>(std::min(made, room));
  }
}

void QosTokenSource::Distribute(std::span<const QosMask> wants,
                                std::span<std::array<int64_t, kNumQosKinds>> grants,
                                std::span<QosMask> unmet) {
  const size_t n = wants.size();
  for (size_t i = 0; i < n; ++i) {
    grants[i].fill(0);
    unmet[i] = 0;
  }
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (rates_.per_sec[k] == 0) continue;
    size_t askers = 0;
    bool starving = false;
    for (size_t i = 0; i < n; ++i) {
      if (!(wants[i] & QosBit(k))) continue;
      ++askers;
      starving |= (wants[i] & kQosStarving) != 0;
    }
    // Nobody waits for it: keep a bounded burst, drop the rest.
    if (!starving) pool_[k] = std::min(pool_[k], bank_cap(k));
    if (askers == 0) continue;
    const int64_t pool = std::max<int64_t>(pool_[k], 0);
    const int64_t share = pool / static_cast<int64_t>(askers);
    const int64_t extra = pool % static_cast<int64_t>(askers);
    // The remainder goes one token each to the askers ranked from `first` on (askers
    // are numbered in order, wrapping around). The start moves on by what was handed
    // out, so over calls everyone gets its turn whatever the pattern of remainders.
    const size_t first = next_extra_[k] % askers;
    next_extra_[k] += static_cast<uint64_t>(extra);
    size_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!(wants[i] & QosBit(k))) continue;
      const size_t rank = (pos + askers - first) % askers;
      ++pos;
      const int64_t g = share + (static_cast<int64_t>(rank) < extra ? 1 : 0);
      if (g > 0) {
        grants[i][k] = g;
      } else {
        unmet[i] |= QosBit(k);
      }
    }
    pool_[k] -= pool;
  }
}

// ---- QosWallet -----------------------------------------------------------------------

int64_t QosWallet::OwedCost(int kind) const {
  const Owed& r = owed_[0];
  const Owed& w = owed_[1];
  switch (kind) {
    case kQosRwIops:
      return static_cast<int64_t>(r.ios + w.ios);
    case kQosRwBytes:
      return static_cast<int64_t>(r.bytes + w.bytes);
    case kQosReadBytes:
      return static_cast<int64_t>(r.bytes);
    case kQosWriteBytes:
      return static_cast<int64_t>(w.bytes);
  }
  return 0;
}

void QosWallet::Settle() {
  if (owed_[0].ios == 0 && owed_[1].ios == 0) return;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (active_ & QosBit(k)) balance_[k] -= OwedCost(k);
  }
  owed_[0] = owed_[1] = Owed{};
}

void QosWallet::Recredit() {
  credit_ = 0;
  if (active_ == 0 || credit_bytes_ == 0) return;
  uint64_t credit = UINT64_MAX;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (!(active_ & QosBit(k))) continue;
    const int64_t floor = (asked_ & QosBit(k)) ? 0 : low_[k];
    const int64_t room = balance_[k] - floor;
    if (room <= 0) return;
    credit = std::min(credit, static_cast<uint64_t>(room / QosCost(k, credit_bytes_)));
  }
  credit_ = credit;
}

void QosWallet::Configure(const QosRates& rates, uint64_t slice_ticks, uint64_t ticks_per_sec) {
  Settle();
  const QosMask active = rates.Active();
  for (int k = 0; k < kNumQosKinds; ++k) {
    if (!(active & QosBit(k))) {
      balance_[k] = 0;
      low_[k] = 0;
      continue;
    }
    if (!(active_ & QosBit(k))) balance_[k] = 0;
    low_[k] = QosTokensIn(rates.per_sec[k], kLowSlices * slice_ticks, ticks_per_sec);
    // What was granted under a higher limit is not a licence to exceed the new one.
    balance_[k] = std::min(balance_[k], low_[k]);
  }
  active_ = active;
  read_kinds_ = QosKindsOf(IoType::kRead) & active;
  write_kinds_ = QosKindsOf(IoType::kWrite) & active;
  asked_ &= active;
  Recredit();
}

bool QosWallet::CanStart(QosMask kinds) {
  Settle();
  for (QosMask m = kinds; m != 0; m &= m - 1) {
    if (balance_[__builtin_ctz(m)] <= 0) return false;
  }
  return true;
}

QosMask QosWallet::Charge(QosMask kinds, uint64_t bytes) {
  Settle();
  QosMask low = 0;
  for (QosMask m = kinds; m != 0; m &= m - 1) {
    const int k = __builtin_ctz(m);
    balance_[k] -= QosCost(k, bytes);
    if (balance_[k] < low_[k]) low |= QosBit(k);
  }
  credit_bytes_ = std::max(credit_bytes_, bytes);
  Recredit();
  return low;
}

bool QosWallet::TryStart(QosMask kinds, uint64_t bytes, QosMask& fresh) {
  if (!CanStart(kinds)) {
    Recredit();
    return false;
  }
  fresh = Charge(kinds, bytes) & ~asked_;
  asked_ |= fresh;
  // Asked for now: the credit may run down to 0 instead of the low mark.
  if (fresh != 0) Recredit();
  return true;
}

void QosWallet::Deposit(int kind, int64_t tokens) {
  if (!(active_ & QosBit(kind))) return;  // granted just before the kind was turned off
  Settle();
  balance_[kind] += tokens;
  asked_ &= ~QosBit(kind);
  Recredit();
}

QosMask QosWallet::TakeNewRequests() {
  Settle();
  QosMask low = 0;
  for (int k = 0; k < kNumQosKinds; ++k) {
    if ((active_ & QosBit(k)) && balance_[k] < low_[k]) low |= QosBit(k);
  }
  const QosMask fresh = low & ~asked_;
  asked_ |= fresh;
  Recredit();
  return fresh;
}

}  // namespace bdevkit::core

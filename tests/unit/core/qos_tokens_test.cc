// QoS token arithmetic (bdev/core/qos_tokens.h), with injected time: the token
// source and wallets alone, then a simulation of an owner and channels exchanging
// tokens through their mailboxes slice by slice, as qos.cc does with real threads.
// Nothing here reads a clock, so the bounds are tight.
#include "bdev/core/qos_tokens.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::core {
namespace {

constexpr uint64_t kTps = 1'000'000'000;  // ticks per second: 1 tick = 1 ns
constexpr uint64_t kSlice = kTps / 1000;  // as qos_budget.cc: 1 ms
constexpr uint64_t kMiB = 1 << 20;

QosRates Iops(uint64_t n) {
  QosRates r;
  r.per_sec[kQosRwIops] = n;
  return r;
}

// ---- QosTokenSource ------------------------------------------------------------------

TEST(QosTokenSourceTest, RefillIsExactAcrossIrregularIntervals) {
  QosTokenSource src(kTps, kSlice);
  src.SetRates(Iops(3), 0);  // 3 per second: never a whole token in one slice
  const int64_t start = src.pool(kQosRwIops);
  uint64_t now = 0;
  // 10 s in uneven steps (1 ns .. ~7 ms), all tokens taken by one asker each time.
  int64_t handed = 0;
  std::vector<QosMask> wants{QosBit(kQosRwIops)};
  std::vector<std::array<int64_t, kNumQosKinds>> grants(1);
  std::vector<QosMask> unmet(1);
  uint64_t step = 1;
  while (now < 10 * kTps) {
    step = (step * 7919 + 13) % 7'000'000 + 1;
    now = std::min(now + step, 10 * kTps);
    src.Refill(now);
    src.Distribute(wants, grants, unmet);
    handed += grants[0][kQosRwIops];
  }
  EXPECT_EQ(handed, start + 30);
  EXPECT_EQ(src.pool(kQosRwIops), 0);
}

TEST(QosTokenSourceTest, NewLimitStartsWithABankAndLiftedLimitDropsIt) {
  QosTokenSource src(kTps, kSlice);
  src.SetRates(Iops(100'000), 0);
  // Four slices' worth: 400 I/O.
  EXPECT_EQ(src.pool(kQosRwIops), 400);
  EXPECT_EQ(src.bank_cap(kQosRwIops), 400);
  // A very low limit still lets one I/O go at once.
  QosRates low = Iops(100'000);
  low.per_sec[kQosReadBytes] = 1;
  src.SetRates(low, 0);
  EXPECT_EQ(src.pool(kQosReadBytes), 1);
  EXPECT_EQ(src.pool(kQosRwIops), 400);  // unchanged kind keeps its tokens
  low.per_sec[kQosRwIops] = 10'000;      // lowered: the bank shrinks to the new one
  src.SetRates(low, 0);
  EXPECT_EQ(src.pool(kQosRwIops), 40);
  src.SetRates(QosRates{}, 0);
  EXPECT_EQ(src.pool(kQosRwIops), 0);
  EXPECT_EQ(src.pool(kQosReadBytes), 0);
}

TEST(QosTokenSourceTest, BanksABoundedBurstWhileNobodyAsks) {
  QosTokenSource src(kTps, kSlice);
  src.SetRates(Iops(50'000), 0);
  std::vector<QosMask> wants{0, 0};
  std::vector<std::array<int64_t, kNumQosKinds>> grants(2);
  std::vector<QosMask> unmet(2);
  for (uint64_t t = kSlice; t <= kTps; t += kSlice) {
    src.Refill(t);
    src.Distribute(wants, grants, unmet);
    ASSERT_LE(src.pool(kQosRwIops), src.bank_cap(kQosRwIops));
  }
  EXPECT_EQ(src.pool(kQosRwIops), 200);  // 4 slices at 50k/s
  EXPECT_EQ(grants[0][kQosRwIops] + grants[1][kQosRwIops], 0);
}

// Tokens made while nobody had I/O waiting are capped, whoever asked ahead; tokens
// made while I/O waited are all handed out, however late the owner comes.
TEST(QosTokenSourceTest, LateOwnerBurstsOnlyForStarvingChannels) {
  QosTokenSource src(kTps, kSlice);
  src.SetRates(Iops(10'000), 0);  // bank: 40
  std::vector<QosMask> ahead{QosBit(kQosRwIops)};
  std::vector<QosMask> starving{QosBit(kQosRwIops) | kQosStarving};
  std::vector<std::array<int64_t, kNumQosKinds>> grants(1);
  std::vector<QosMask> unmet(1);
  src.Refill(50 * kSlice);  // the owner comes 50 ms late: 500 made
  src.Distribute(ahead, grants, unmet);
  EXPECT_EQ(grants[0][kQosRwIops], 40);
  src.Refill(100 * kSlice);
  src.Distribute(starving, grants, unmet);
  EXPECT_EQ(grants[0][kQosRwIops], 500);
}

TEST(QosTokenSourceTest, SplitsEvenlyAndRotatesTheRemainder) {
  QosTokenSource src(kTps, kSlice);
  src.SetRates(Iops(1000), 0);  // one token per slice
  std::vector<QosMask> wants{QosBit(kQosRwIops), 0, QosBit(kQosRwIops)};
  std::vector<std::array<int64_t, kNumQosKinds>> grants(3);
  std::vector<QosMask> unmet(3);
  src.Distribute(wants, grants, unmet);  // the bank of 4: two each
  EXPECT_EQ(grants[0][kQosRwIops], 2);
  EXPECT_EQ(grants[1][kQosRwIops], 0);
  EXPECT_EQ(grants[2][kQosRwIops], 2);
  std::array<int64_t, 3> got{};
  for (int i = 1; i <= 1000; ++i) {
    src.Refill(i * kSlice);
    src.Distribute(wants, grants, unmet);
    int64_t total = 0;
    for (int c = 0; c < 3; ++c) {
      got[c] += grants[c][kQosRwIops];
      total += grants[c][kQosRwIops];
      // The one who got nothing still wants it.
      if (wants[c] != 0) {
        EXPECT_EQ(unmet[c] != 0, grants[c][kQosRwIops] == 0);
      }
    }
    EXPECT_EQ(total, 1);
  }
  EXPECT_EQ(got[0], 500);
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(got[2], 500);
}

// ---- QosWallet -----------------------------------------------------------------------

TEST(QosWalletTest, AdmitsOnPositiveBalanceAndCarriesDebt) {
  QosWallet w;
  QosRates r;
  r.per_sec[kQosRwBytes] = 10 * kMiB;
  w.Configure(r, kSlice, kTps);
  const QosMask read = w.KindsOf(IoType::kRead);
  EXPECT_EQ(read, QosBit(kQosRwBytes));
  EXPECT_EQ(w.KindsOf(IoType::kFlush), 0u);
  EXPECT_FALSE(w.CanStart(read));
  w.Deposit(kQosRwBytes, 4096);
  EXPECT_TRUE(w.CanStart(read));
  w.Charge(read, kMiB);  // bigger than the balance: allowed once, then a debt
  EXPECT_EQ(w.balance(kQosRwBytes), 4096 - static_cast<int64_t>(kMiB));
  EXPECT_FALSE(w.CanStart(read));
  w.Deposit(kQosRwBytes, kMiB - 4096);
  EXPECT_FALSE(w.CanStart(read));  // exactly 0: still waits
  w.Deposit(kQosRwBytes, 1);
  EXPECT_TRUE(w.CanStart(read));
}

TEST(QosWalletTest, AsksOncePerGrantBelowTheLowMark) {
  QosWallet w;
  w.Configure(Iops(10'000), kSlice, kTps);
  EXPECT_EQ(w.low_mark(kQosRwIops), 20);  // two slices at 10k/s
  EXPECT_EQ(w.TakeNewRequests(), QosBit(kQosRwIops));
  EXPECT_EQ(w.TakeNewRequests(), 0u);  // already asked
  w.Deposit(kQosRwIops, 25);
  EXPECT_EQ(w.asked(), 0u);
  EXPECT_EQ(w.TakeNewRequests(), 0u);  // 25 >= 20
  w.Charge(QosBit(kQosRwIops), 0);
  w.Charge(QosBit(kQosRwIops), 0);
  w.Charge(QosBit(kQosRwIops), 0);
  w.Charge(QosBit(kQosRwIops), 0);
  w.Charge(QosBit(kQosRwIops), 0);
  w.Charge(QosBit(kQosRwIops), 0);  // 19 left
  EXPECT_EQ(w.TakeNewRequests(), QosBit(kQosRwIops));
}

TEST(QosWalletTest, TryStartChargesAndAsksOnlyOnce) {
  QosWallet w;
  QosRates r = Iops(10'000);
  r.per_sec[kQosReadBytes] = 10 * kMiB;  // low mark 2 slices = 20,971 bytes
  w.Configure(r, kSlice, kTps);
  const QosMask read = w.KindsOf(IoType::kRead);
  EXPECT_EQ(read, QosBit(kQosRwIops) | QosBit(kQosReadBytes));
  EXPECT_EQ(w.KindsOf(IoType::kWrite), QosBit(kQosRwIops));
  QosMask fresh = 0;
  EXPECT_FALSE(w.TryStart(read, 4096, fresh));  // nothing yet
  EXPECT_EQ(w.balance(kQosRwIops), 0);
  w.Deposit(kQosRwIops, 100);
  w.Deposit(kQosReadBytes, 1);  // one byte is enough to start a 4 KiB read
  ASSERT_TRUE(w.TryStart(read, 4096, fresh));
  EXPECT_EQ(w.balance(kQosReadBytes), 1 - 4096);
  EXPECT_EQ(fresh, QosBit(kQosReadBytes));      // 99 I/O left is above the I/O low mark
  EXPECT_FALSE(w.TryStart(read, 4096, fresh));  // in debt
  ASSERT_TRUE(w.TryStart(QosBit(kQosRwIops), 4096, fresh));  // a write only needs I/O
  EXPECT_EQ(fresh, 0u);                                      // bytes already asked for, I/O not low
}

// The fast lane: credit is what stays above the low mark (above 0 once asked for), in
// I/O of the largest size seen; what I/O on credit spend is charged when the wallet
// settles, so balances and requests come out as with the exact lane.
TEST(QosWalletTest, CreditLaneCountsLikeTheExactOne) {
  QosWallet w;
  QosRates r = Iops(10'000);  // low mark 20
  r.per_sec[kQosRwBytes] = 100 * kMiB;
  w.Configure(r, kSlice, kTps);
  EXPECT_FALSE(w.TakeCredit(IoType::kRead, 4096));  // nothing yet
  w.Deposit(kQosRwIops, 30);
  w.Deposit(kQosRwBytes, 30 * 4096);
  EXPECT_FALSE(w.TakeCredit(IoType::kRead, 4096));  // no I/O size seen yet
  QosMask fresh = 0;
  ASSERT_TRUE(w.TryStart(w.KindsOf(IoType::kRead), 4096, fresh));
  EXPECT_EQ(fresh, QosBit(kQosRwBytes));  // 29 x 4 KiB is below the bytes' low mark
  // Bytes were asked for (their floor is now 0); I/O keep 9 above their low mark.
  EXPECT_EQ(w.credit(), 9u);
  for (int i = 0; i < 9; ++i)
    ASSERT_TRUE(w.TakeCredit(i % 2 ? IoType::kWrite : IoType::kRead, 4096));
  EXPECT_FALSE(w.TakeCredit(IoType::kRead, 4096));
  EXPECT_EQ(w.balance(kQosRwIops), 20);
  EXPECT_EQ(w.balance(kQosRwBytes), 20 * 4096);
  // The exact lane goes on, and asks for I/O once below their mark.
  ASSERT_TRUE(w.TryStart(w.KindsOf(IoType::kRead), 4096, fresh));
  EXPECT_EQ(fresh, QosBit(kQosRwIops));
  EXPECT_EQ(w.credit(), 19u);                       // both asked: down to 0 now
  EXPECT_FALSE(w.TakeCredit(IoType::kRead, 8192));  // bigger than credit was counted in
  w.Deposit(kQosRwIops, 100);
  w.Deposit(kQosRwBytes, 100 * 4096);
  EXPECT_EQ(w.balance(kQosRwIops), 119);
  EXPECT_EQ(w.asked(), 0u);
  // Neither asked: above both low marks (I/O: 20; bytes: 2 ms of 100 MiB/s).
  EXPECT_EQ(w.credit(),
            std::min<uint64_t>(119 - 20, (119 * 4096 - w.low_mark(kQosRwBytes)) / 4096));
  EXPECT_EQ(w.credit(), 67u);
}

TEST(QosWalletTest, ReconfigureKeepsBalancesOfKindsStillLimited) {
  QosWallet w;
  QosRates r = Iops(10'000);
  r.per_sec[kQosWriteBytes] = kMiB;
  w.Configure(r, kSlice, kTps);
  w.Deposit(kQosRwIops, 15);
  w.Deposit(kQosWriteBytes, 100);
  r.per_sec[kQosRwIops] = 20'000;
  r.per_sec[kQosWriteBytes] = 0;
  w.Configure(r, kSlice, kTps);
  EXPECT_EQ(w.balance(kQosRwIops), 15);
  EXPECT_EQ(w.active(), QosBit(kQosRwIops));
  EXPECT_EQ(w.KindsOf(IoType::kWrite), QosBit(kQosRwIops));
  EXPECT_EQ(w.KindsOf(IoType::kRead), QosBit(kQosRwIops));
  w.Deposit(kQosWriteBytes, 100);  // a late grant of a lifted limit is ignored
  EXPECT_EQ(w.balance(kQosWriteBytes), 0);
  r.per_sec[kQosWriteBytes] = kMiB;  // limited again: starts from nothing
  w.Configure(r, kSlice, kTps);
  EXPECT_EQ(w.balance(kQosWriteBytes), 0);
  // Lowered: what is held is cut to the new low mark (2 slices at 1000/s).
  r.per_sec[kQosRwIops] = 1000;
  w.Configure(r, kSlice, kTps);
  EXPECT_EQ(w.balance(kQosRwIops), 2);
}

TEST(QosRatesTest, MegabytesAreMebibytes) {
  QosLimits l;
  l.rw_ios_per_sec = 1500;  // not rounded to a multiple of 1000
  l.w_mbytes_per_sec = 3;
  QosRates r = RatesFromLimits(l);
  EXPECT_EQ(r.per_sec[kQosRwIops], 1500u);
  EXPECT_EQ(r.per_sec[kQosWriteBytes], 3 * kMiB);
  EXPECT_EQ(r.Active(), QosBit(kQosRwIops) | QosBit(kQosWriteBytes));
}

// ---- Owner and channels together -----------------------------------------------------

// One channel of the simulation: a device that lets it start up to `per_step` I/O
// each step (its demand), and the two mailboxes qos.cc keeps in QosChannel.
struct SimChannel {
  int per_step = 0;
  IoType type = IoType::kRead;
  uint64_t io_bytes = 4096;
  QosWallet wallet;
  QosMask want = 0;                           // channel -> owner
  std::array<int64_t, kNumQosKinds> inbox{};  // owner -> channel
  uint64_t ios = 0, bytes = 0;
};

struct SimResult {
  std::vector<double> iops, mbps;  // per channel, MiB/s
  double total_iops = 0, total_mbps = 0;
};

// Runs `seconds` of simulated time in 10 us steps; the owner's slice runs every 1 ms
// (offset from the channels' steps, as a real owner thread is).
SimResult Simulate(const QosRates& rates, std::vector<SimChannel> chans, double seconds) {
  constexpr uint64_t kStep = 10'000;
  QosTokenSource src(kTps, kSlice);
  src.SetRates(rates, 0);
  for (SimChannel& c : chans) c.wallet.Configure(rates, kSlice, kTps);
  std::vector<QosMask> wants(chans.size()), unmet(chans.size());
  std::vector<std::array<int64_t, kNumQosKinds>> grants(chans.size());
  const uint64_t end = static_cast<uint64_t>(seconds * kTps);
  uint64_t next_slice = kSlice / 3;
  for (uint64_t now = 0; now < end; now += kStep) {
    if (now >= next_slice) {
      next_slice += kSlice;
      src.Refill(now);
      for (size_t i = 0; i < chans.size(); ++i) wants[i] = std::exchange(chans[i].want, 0);
      src.Distribute(wants, grants, unmet);
      for (size_t i = 0; i < chans.size(); ++i) {
        for (int k = 0; k < kNumQosKinds; ++k) chans[i].inbox[k] += grants[i][k];
        chans[i].want |= unmet[i];
      }
    }
    for (SimChannel& c : chans) {
      for (int k = 0; k < kNumQosKinds; ++k) {
        if (c.inbox[k] != 0) c.wallet.Deposit(k, std::exchange(c.inbox[k], 0));
      }
      // As QosChannel::Admit, then its poller's AskIfLow; an I/O that cannot start
      // waits, and the channel says it is starving.
      const QosMask kinds = c.wallet.KindsOf(c.type);
      int n = 0;
      for (; n < c.per_step; ++n) {
        QosMask fresh = 0;
        if (!c.wallet.TakeCredit(c.type, c.io_bytes)) {
          if (!c.wallet.TryStart(kinds, c.io_bytes, fresh)) break;
        }
        c.want |= fresh;
        ++c.ios;
        c.bytes += c.io_bytes;
      }
      const bool waiting = n < c.per_step;
      if (waiting) c.want |= kinds | kQosStarving;
      c.want |= c.wallet.TakeNewRequests();
    }
  }
  SimResult r;
  for (const SimChannel& c : chans) {
    r.iops.push_back(c.ios / seconds);
    r.mbps.push_back(c.bytes / seconds / kMiB);
    r.total_iops += r.iops.back();
    r.total_mbps += r.mbps.back();
  }
  return r;
}

std::vector<SimChannel> Channels(int n, int per_step, uint64_t io_bytes = 4096,
                                 IoType type = IoType::kRead) {
  std::vector<SimChannel> v(n);
  for (SimChannel& c : v) {
    c.per_step = per_step;
    c.io_bytes = io_bytes;
    c.type = type;
  }
  return v;
}

// The accuracy target of issue 6, without the noise of real threads: 1 and 2
// channels, 1k..500k IOPS, within 0.5% (the real benchmark allows 3%).
TEST(QosSimulationTest, IopsLimitIsMetExactlyByOneAndTwoChannels) {
  for (uint64_t limit : {1'000u, 1'500u, 10'000u, 100'000u, 500'000u}) {
    for (int n : {1, 2}) {
      // Demand: 100 I/O per 10 us per channel = 10M IOPS, far above any limit.
      SimResult r = Simulate(Iops(limit), Channels(n, 100), 5.0);
      EXPECT_NEAR(r.total_iops / limit, 1.0, 0.005) << "limit " << limit << ", " << n << " ch";
      if (n == 2) {
        EXPECT_NEAR(r.iops[0] / r.iops[1], 1.0, 0.02) << "limit " << limit << ": uneven split";
      }
    }
  }
}

TEST(QosSimulationTest, VeryLowLimitIsNotRounded) {
  SimResult r = Simulate(Iops(7), Channels(2, 100), 10.0);
  // 70 I/O in 10 s, plus at most the first bank (one token).
  const long ios = std::lround(r.total_iops * 10);
  EXPECT_GE(ios, 70);
  EXPECT_LE(ios, 71);
}

TEST(QosSimulationTest, ByteLimitCountsLargeIoExactly) {
  QosRates r;
  r.per_sec[kQosRwBytes] = 100 * kMiB;
  for (uint64_t io : {4096u, 128u * 1024, 1024u * 1024, 4u * 1024 * 1024}) {
    SimResult res = Simulate(r, Channels(2, 100, io), 5.0);
    EXPECT_NEAR(res.total_mbps / 100, 1.0, 0.01) << "I/O size " << io;
  }
}

TEST(QosSimulationTest, ReadAndWriteLimitsApplyToTheirOwnType) {
  QosRates r;
  r.per_sec[kQosReadBytes] = 20 * kMiB;
  std::vector<SimChannel> chans = Channels(2, 10);
  chans[1].type = IoType::kWrite;  // not limited: 10 per 10 us = 1M IOPS
  SimResult res = Simulate(r, chans, 2.0);
  EXPECT_NEAR(res.mbps[0] / 20, 1.0, 0.01);
  EXPECT_NEAR(res.iops[1], 1'000'000, 1);
}

TEST(QosSimulationTest, SeveralLimitsTheTightestWins) {
  QosRates r = Iops(50'000);
  r.per_sec[kQosRwBytes] = 100 * kMiB;  // 25,600 I/O of 4 KiB per second
  SimResult res = Simulate(r, Channels(2, 100), 5.0);
  EXPECT_NEAR(res.total_mbps / 100, 1.0, 0.005);
  EXPECT_LT(res.total_iops, 50'000 * 0.6);
}

// A limit that is not reached must not slow I/O: tokens are asked for ahead of need.
TEST(QosSimulationTest, UnreachedLimitDoesNotStall) {
  for (int n : {1, 2}) {
    // Demand 5 per 10 us per channel = 500k IOPS each, limit 2x what they can do.
    SimResult r = Simulate(Iops(1'000'000 * n), Channels(n, 5), 5.0);
    EXPECT_GE(r.total_iops, 500'000.0 * n * 0.999) << n << " ch";
  }
}

// A channel that needs less than an even share leaves the rest to the others.
TEST(QosSimulationTest, IdleShareGoesToBusyChannels) {
  std::vector<SimChannel> chans = Channels(2, 100);
  chans[0].per_step = 1;  // 100k IOPS
  SimResult r = Simulate(Iops(500'000), chans, 5.0);
  EXPECT_GE(r.iops[0], 100'000 * 0.99);
  EXPECT_NEAR(r.total_iops / 500'000, 1.0, 0.005);
}

}  // namespace
}  // namespace bdevkit::core

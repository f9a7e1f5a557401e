#include "bdev/runtime/mpsc_ring.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit {
namespace {

TEST(MpscRingTest, FifoOrderWithOneProducer) {
  MpscRing<int> ring(8);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(ring.Push(i));
  int v;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(ring.Pop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.Pop(&v));
  EXPECT_TRUE(ring.Empty());
}

TEST(MpscRingTest, FullRingRefusesAndRecovers) {
  MpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.Push(i));
  EXPECT_FALSE(ring.Push(99));  // full: reported, not overwritten
  int v;
  ASSERT_TRUE(ring.Pop(&v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ring.Push(4));  // one slot freed
  for (int expect = 1; expect <= 4; ++expect) {
    ASSERT_TRUE(ring.Pop(&v));
    EXPECT_EQ(v, expect);
  }
}

TEST(MpscRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(MpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(MpscRing<int>(0).capacity(), 2u);
}

// Many producers: every message arrives exactly once, and each producer's messages
// arrive in the order it sent them.
TEST(MpscRingTest, ManyProducersKeepPerProducerOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 200000;
  MpscRing<uint64_t> ring(1024);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&ring, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        const uint64_t msg = (static_cast<uint64_t>(p) << 32) | i;
        while (!ring.Push(msg)) std::this_thread::yield();
      }
    });
  }
  std::vector<uint64_t> next(kProducers, 0);
  uint64_t received = 0, msg;
  while (received < static_cast<uint64_t>(kProducers) * kPerProducer) {
    if (!ring.Pop(&msg)) continue;
    const int p = static_cast<int>(msg >> 32);
    ASSERT_EQ(msg & 0xffffffffu, next[p]) << "producer " << p << " out of order";
    ++next[p];
    ++received;
  }
  for (auto& t : producers) t.join();
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], static_cast<uint64_t>(kPerProducer));
  EXPECT_FALSE(ring.Pop(&msg));
}

}  // namespace
}  // namespace bdevkit

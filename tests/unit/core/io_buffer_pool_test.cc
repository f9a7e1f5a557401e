// Per-thread I/O buffer pools: one region per thread, shared by every Acquire() on
// that thread, carved into aligned size-class blocks, unmapped after the last Release().
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "bdevkit/io_buffer.h"
#include "gtest/gtest.h"
#include "tests/unit/runtime/runtime_fixture.h"

namespace bdevkit {
namespace {

using testing::RuntimeTest;

bool Mapped(void* p) { return msync(p, 4096, MS_ASYNC) == 0 || errno != ENOMEM; }

class IoBufferPoolTest : public RuntimeTest {
 protected:
  void TearDown() override {
    ASSERT_TRUE(SetIoBufferPoolSize(4 * 1024 * 1024).ok());
    RuntimeTest::TearDown();
  }
};

TEST_F(IoBufferPoolTest, OnePoolPerThreadSharedByEveryAcquire) {
  IoBufferPool *a = nullptr, *b = nullptr, *other = nullptr;
  RunOn(app(), [&] {
    a = IoBufferPool::Acquire();
    b = IoBufferPool::Acquire();
  });
  RunOn(second(), [&] { other = IoBufferPool::Acquire(); });
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(a->base(), other->base());
  EXPECT_EQ(a->size(), IoBufferPoolSize());
  RunOn(app(), [&] {
    a->Release();
    b->Release();
  });
  RunOn(second(), [&] { other->Release(); });
}

TEST_F(IoBufferPoolTest, BuffersAreAlignedDisjointInsideTheRegionAndReused) {
  RunOn(app(), [&] {
    IoBufferPool* pool = IoBufferPool::Acquire();
    ASSERT_NE(pool, nullptr);
    std::vector<std::pair<char*, size_t>> bufs;
    for (size_t size : {size_t{1}, size_t{512}, size_t{513}, size_t{4096}, size_t{5000},
                        size_t{65536}, size_t{1000}, size_t{131072}}) {
      auto* p = static_cast<char*>(pool->Alloc(size));
      ASSERT_NE(p, nullptr) << size;
      const size_t want_align = size >= 4096 ? 4096 : std::bit_ceil(std::max<size_t>(size, 512));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % want_align, 0u) << size;
      EXPECT_TRUE(pool->Contains(p, size));
      std::memset(p, static_cast<int>(size & 0xff), size);  // writable, whole length
      bufs.emplace_back(p, size);
    }
    std::sort(bufs.begin(), bufs.end());
    for (size_t i = 1; i < bufs.size(); ++i) {
      EXPECT_LE(bufs[i - 1].first + bufs[i - 1].second, bufs[i].first) << "overlap";
    }
    EXPECT_EQ(pool->allocated(), bufs.size());
    // A freed block goes back to its class and is handed out again.
    char* freed = bufs[3].first;
    const size_t freed_size = bufs[3].second;
    pool->Free(freed);
    EXPECT_EQ(pool->Alloc(freed_size), freed);
    for (auto& [p, size] : bufs) pool->Free(p);
    EXPECT_EQ(pool->allocated(), 0u);
    // Outside the region.
    char local[16];
    EXPECT_FALSE(pool->Contains(local, sizeof(local)));
    EXPECT_FALSE(pool->Contains(static_cast<char*>(pool->base()) + pool->size() - 8, 16));
    pool->Release();
  });
}

TEST_F(IoBufferPoolTest, FullPoolReturnsNullAndFreedSpaceServesAgain) {
  ASSERT_TRUE(SetIoBufferPoolSize(64 * 1024).ok());
  RunOn(second(), [&] {
    IoBufferPool* pool = IoBufferPool::Acquire();
    ASSERT_NE(pool, nullptr);
    ASSERT_EQ(pool->size(), 64u * 1024);
    std::vector<void*> bufs;
    for (void* p; (p = pool->Alloc(4096)) != nullptr;) bufs.push_back(p);
    EXPECT_EQ(bufs.size(), 16u);
    EXPECT_EQ(pool->Alloc(512), nullptr);
    EXPECT_EQ(pool->Alloc(64 * 1024 + 1), nullptr);
    pool->Free(bufs.back());
    bufs.pop_back();
    // A smaller request may take a freed larger block whole.
    void* small = pool->Alloc(512);
    EXPECT_NE(small, nullptr);
    pool->Free(small);
    EXPECT_NE(pool->Alloc(4096), nullptr);  // the same block, back in its class
    EXPECT_EQ(pool->allocated(), 16u);
    for (void* p : bufs) pool->Free(p);
    pool->Release();
  });
}

TEST_F(IoBufferPoolTest, BadFreeIsReportedAndIgnored) {
  RunOn(app(), [&] {
    IoBufferPool* pool = IoBufferPool::Acquire();
    ASSERT_NE(pool, nullptr);
    void* p = pool->Alloc(4096);
    char local[8];
    pool->Free(local);                        // not from the pool
    pool->Free(static_cast<char*>(p) + 512);  // inside a block, not its start
    EXPECT_EQ(pool->allocated(), 1u);
    pool->Free(p);
    pool->Free(p);  // twice
    EXPECT_EQ(pool->allocated(), 0u);
    EXPECT_EQ(pool->Alloc(4096), p);  // still a sane free list
    pool->Free(p);
    pool->Release();
  });
}

TEST_F(IoBufferPoolTest, RegionIsUnmappedAfterTheLastReleaseUnlessBuffersRemain) {
  void* base = nullptr;
  RunOn(app(), [&] {
    IoBufferPool* pool = IoBufferPool::Acquire();
    base = pool->base();
    pool->Release();
  });
  // Destroyed by the thread's loop after the message returned.
  ASSERT_TRUE(Eventually([&] { return !Mapped(base); }));

  void* kept = nullptr;
  RunOn(app(), [&] {
    IoBufferPool* pool = IoBufferPool::Acquire();
    kept = pool->Alloc(4096);
    pool->Release();
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(Mapped(kept));  // leaked on purpose (and reported), not pulled away
  std::memset(kept, 0, 4096);
}

TEST_F(IoBufferPoolTest, SizeIsValidated) {
  EXPECT_FALSE(SetIoBufferPoolSize(0).ok());
  EXPECT_FALSE(SetIoBufferPoolSize(60 * 1024).ok());
  EXPECT_FALSE(SetIoBufferPoolSize(64 * 1024 + 1).ok());
  EXPECT_FALSE(SetIoBufferPoolSize((size_t{1} << 30) + 4096).ok());
  absl::Status s = SetIoBufferPoolSize(100);
  EXPECT_NE(std::string(s.message()).find("multiple of 4 KiB from 64 KiB to 1 GiB"),
            std::string::npos)
      << s;
  EXPECT_TRUE(SetIoBufferPoolSize(8 * 1024 * 1024).ok());
  EXPECT_EQ(IoBufferPoolSize(), 8u * 1024 * 1024);
}

}  // namespace
}  // namespace bdevkit

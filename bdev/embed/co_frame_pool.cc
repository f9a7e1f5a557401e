// The coroutine frames' per-thread pool (bdevkit/co.h): freed frames are kept in size
// classes and handed out again, so calling coroutines in a loop stops reaching the heap
// once the pool holds a frame of each size in use.
#include <cstddef>
#include <cstdint>
#include <new>

#include "bdevkit/co.h"

namespace bdevkit::co {
namespace {

constexpr size_t kClassBytes = 64;
constexpr size_t kNumClasses = 64;       // frames up to 4 KiB are pooled
constexpr uint32_t kMaxPerClass = 1024;  // bounds what an idle thread keeps

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  FreeBlock* heads[kNumClasses] = {};
  uint32_t counts[kNumClasses] = {};
  FramePoolStats stats;

  ~Pool() {
    for (size_t c = 0; c < kNumClasses; ++c) {
      while (FreeBlock* b = heads[c]) {
        heads[c] = b->next;
        ::operator delete(b);
      }
    }
  }
};

thread_local Pool t_pool;

// Class c holds blocks of (c + 1) * 64 bytes.
size_t ClassOf(size_t size) { return (size + kClassBytes - 1) / kClassBytes - 1; }

}  // namespace

FramePoolStats GetFramePoolStats() { return t_pool.stats; }

namespace internal {

void* AllocFrame(size_t size) {
  Pool& pool = t_pool;
  const size_t c = ClassOf(size);
  if (c < kNumClasses) {
    if (FreeBlock* b = pool.heads[c]) {
      pool.heads[c] = b->next;
      --pool.counts[c];
      --pool.stats.cached;
      ++pool.stats.reused;
      return b;
    }
    ++pool.stats.heap_allocs;
    return ::operator new((c + 1) * kClassBytes);
  }
  ++pool.stats.heap_allocs;
  return ::operator new(size);
}

void FreeFrame(void* frame, size_t size) noexcept {
  Pool& pool = t_pool;
  const size_t c = ClassOf(size);
  if (c < kNumClasses && pool.counts[c] < kMaxPerClass) {
    auto* b = static_cast<FreeBlock*>(frame);
    b->next = pool.heads[c];
    pool.heads[c] = b;
    ++pool.counts[c];
    ++pool.stats.cached;
    return;
  }
  ::operator delete(frame);
}

}  // namespace internal
}  // namespace bdevkit::co

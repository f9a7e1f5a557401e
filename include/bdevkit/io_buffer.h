// Per-thread I/O buffer pools: each runtime thread may have one pool whose buffers are
// carved from a single region mapped when the pool is first acquired. Because the
// region never moves, a backend can register it with the kernel once per channel
// (io_uring's fixed buffers: pages pinned once instead of on every I/O) and recognise
// the I/O whose buffer lies inside it. Applications that want backends to be able to
// do so (bdevperf, embedders) allocate their I/O buffers here; buffers from anywhere
// else keep working exactly as before.
//
// The pool suits a set of buffers allocated up front and reused (an application's
// per-queue-slot buffers), not general-purpose allocation: blocks come in power-of-two
// size classes from 512 bytes up and are never merged, so the region must be sized for
// what the application keeps allocated at once (SetIoBufferPoolSize).
#ifndef BDEVKIT_IO_BUFFER_H_
#define BDEVKIT_IO_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/io_channel.h"

namespace bdevkit {

class IoBufferPool : public ChannelContext {
 public:
  // The calling thread's pool, created on first use, with a reference for the caller;
  // drop it with Release(). nullptr when the region cannot be mapped (logged).
  // Runtime thread; never blocks (the first call maps the region).
  static IoBufferPool* Acquire();

  // Drops the reference Acquire() took. The pool is destroyed after the last one
  // (later, never inside the caller's stack) and its region unmapped, unless buffers
  // are still allocated: then it is reported and the region left mapped, so a late
  // user cannot fault. Backends hold a reference while they have it registered.
  // Owning thread; never blocks.
  void Release();

  // A buffer of `size` bytes (> 0), aligned to 4096 bytes, or to its size rounded up
  // to a power of two (at least 512) when that is smaller. nullptr when the region
  // has no room left. Owning thread; never blocks; no system call, no lock.
  void* Alloc(size_t size);

  // Returns a buffer Alloc() gave. A pointer that is not one (never allocated here,
  // already freed) is reported and ignored. Owning thread; never blocks.
  void Free(void* buf);

  // The region every buffer lies in: [base(), base() + size()), fixed for the pool's
  // life. Any thread.
  void* base() const { return base_; }
  size_t size() const { return size_; }
  // Whether [p, p + len) lies inside the region. Any thread; pure arithmetic.
  bool Contains(const void* p, size_t len) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const auto b = reinterpret_cast<uintptr_t>(base_);
    return a >= b && len <= size_ && a - b <= size_ - len;
  }
  // Buffers currently allocated. Owning thread.
  size_t allocated() const { return allocated_; }

  ~IoBufferPool() override;
  IoBufferPool(const IoBufferPool&) = delete;
  IoBufferPool& operator=(const IoBufferPool&) = delete;

 private:
  friend class IoBufferPoolDevice;
  IoBufferPool(void* base, size_t size);

  void* const base_;
  const size_t size_;
  IoChannel* channel_ = nullptr;  // whose reference Acquire()/Release() count
  size_t bump_ = 0;               // bytes of the region handed out so far, free or not
  size_t allocated_ = 0;
  std::vector<void*> free_heads_;    // per size class: a list linked through the blocks
  std::vector<uint8_t> unit_class_;  // per 512-byte unit: 1 + class of a block starting there
};

// The region size of pools created from now on: a multiple of 4 KiB from 64 KiB to
// 1 GiB (io_uring registers at most 1 GiB as one buffer); default 4 MiB, which fits
// the default locked-memory limit (RLIMIT_MEMLOCK, 8 MiB) that registering it counts
// against for users without CAP_IPC_LOCK. kInvalidArgument otherwise. Pools already
// created keep their size. Any thread.
absl::Status SetIoBufferPoolSize(size_t bytes);
size_t IoBufferPoolSize();

}  // namespace bdevkit

#endif  // BDEVKIT_IO_BUFFER_H_

// A bounded lock-free multi-producer single-consumer ring of messages.
//
// Each slot carries a sequence number (the scheme of Dmitry Vyukov's bounded queue):
// a producer claims a position with one CAS on the tail, writes the message, then
// publishes it by storing the slot's sequence with release order; the single consumer
// reads a slot only once its sequence says it was published. No locks, no allocation
// after construction; a full ring is reported to the sender instead of growing.
#ifndef BDEVKIT_BDEV_RUNTIME_MPSC_RING_H_
#define BDEVKIT_BDEV_RUNTIME_MPSC_RING_H_

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace bdevkit {

template <typename T>
class MpscRing {
 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit MpscRing(uint32_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? 2u : capacity) - 1),
        slots_(std::make_unique<Slot[]>(mask_ + 1)) {
    for (uint64_t i = 0; i <= mask_; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }
  MpscRing(const MpscRing&) = delete;
  MpscRing& operator=(const MpscRing&) = delete;

  // Any thread; never blocks. False when the ring is full.
  bool Push(const T& value) {
    uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      // Acquire pairs with the consumer's release when it freed this slot, so our
      // write of `value` cannot land before the consumer finished reading it.
      uint64_t seq = slot.seq.load(std::memory_order_acquire);
      int64_t diff = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.value = value;
          // Release publishes `value` to the consumer's acquire load of seq.
          slot.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the slot still holds an unread message from a lap ago: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);  // another producer took pos
      }
    }
  }

  // Consumer thread only; never blocks. False when empty (or the next message is
  // claimed but not yet published; it will be seen on a later call).
  bool Pop(T* out) {
    Slot& slot = slots_[head_ & mask_];
    // Acquire pairs with the producer's release: the value is fully written.
    if (slot.seq.load(std::memory_order_acquire) != head_ + 1) return false;
    *out = slot.value;
    // Release hands the slot back to producers one lap later.
    slot.seq.store(head_ + mask_ + 1, std::memory_order_release);
    ++head_;
    return true;
  }

  // Consumer thread only: whether a message is ready (a hint for idle decisions).
  bool Empty() const {
    return slots_[head_ & mask_].seq.load(std::memory_order_acquire) != head_ + 1;
  }

  uint32_t capacity() const { return static_cast<uint32_t>(mask_ + 1); }

 private:
  struct Slot {
    std::atomic<uint64_t> seq{0};
    T value{};
  };
  const uint64_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // Producers contend on tail_; keep it off the consumer's cache line.
  alignas(64) std::atomic<uint64_t> tail_{0};
  alignas(64) uint64_t head_ = 0;
};

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_RUNTIME_MPSC_RING_H_

// The memory barriers between the CPU and a DMA-capable device. Each use in the
// driver says which order it enforces and why.
//
// x86-64: ordinary stores are not reordered with other stores, loads not with other
// loads, and BAR0 is mapped uncached, so the hardware already keeps the orders we
// need; the barriers must still stop the *compiler* from reordering. `sfence` is kept
// on the write side (as Linux's wmb()) so write-combining or non-temporal stores, if
// any ever appear, are also drained before a doorbell.
// aarch64: outer-shareable DMB variants order CPU accesses against the device.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_BARRIERS_H_
#define BDEVKIT_MODULES_NVME_DRIVER_BARRIERS_H_

namespace bdevkit::nvme {

// Stores before it (queue entries, PRP lists, data) are visible to the device before
// stores after it (a doorbell).
inline void DmaWriteBarrier() {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("sfence" ::: "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshst" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// Loads after it (the body of a completion entry, data the device wrote) are not
// performed before loads before it (the entry's phase tag).
inline void DmaReadBarrier() {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("" ::: "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshld" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// Loads before it complete before stores after it: we finish reading completion
// entries before the head doorbell hands their slots back to the device.
inline void DmaLoadStoreBarrier() {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("" ::: "memory");
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb osh" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_BARRIERS_H_

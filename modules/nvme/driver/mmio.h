// Access to the controller's registers in BAR0 (or, in tests, to plain memory that
// a fake controller watches). Every access is a single volatile 32-bit load or store:
// 64-bit registers are accessed as two halves, which every controller accepts.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_MMIO_H_
#define BDEVKIT_MODULES_NVME_DRIVER_MMIO_H_

#include <cstddef>
#include <cstdint>

namespace bdevkit::nvme {

class Mmio {
 public:
  Mmio() = default;
  Mmio(volatile void* base, size_t size)
      : base_(static_cast<volatile uint8_t*>(base)), size_(size) {}

  uint32_t Read32(uint32_t offset) const {
    return *reinterpret_cast<volatile const uint32_t*>(base_ + offset);
  }
  void Write32(uint32_t offset, uint32_t value) const {
    *reinterpret_cast<volatile uint32_t*>(base_ + offset) = value;
  }
  uint64_t Read64(uint32_t offset) const {
    uint64_t lo = Read32(offset);
    uint64_t hi = Read32(offset + 4);
    return lo | (hi << 32);
  }
  void Write64(uint32_t offset, uint64_t value) const {
    Write32(offset, static_cast<uint32_t>(value));
    Write32(offset + 4, static_cast<uint32_t>(value >> 32));
  }
  volatile uint32_t* Register(uint32_t offset) const {
    return reinterpret_cast<volatile uint32_t*>(base_ + offset);
  }
  size_t size() const { return size_; }
  bool valid() const { return base_ != nullptr; }

 private:
  volatile uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

// Offset of queue `qid`'s SQ tail (or CQ head) doorbell for a doorbell stride of
// 4 << dstrd bytes.
inline uint32_t SqTailDoorbell(uint16_t qid, uint32_t dstrd) {
  return 0x1000 + (2u * qid) * (4u << dstrd);
}
inline uint32_t CqHeadDoorbell(uint16_t qid, uint32_t dstrd) {
  return 0x1000 + (2u * qid + 1) * (4u << dstrd);
}

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_MMIO_H_

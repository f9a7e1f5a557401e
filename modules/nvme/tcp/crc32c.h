// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the digest NVMe/TCP uses for
// header and data digests. Abseil 20220623 (Debian 12) has no absl::crc32c, hence this.
// SSE4.2's crc32 instruction when the CPU has it, a byte table otherwise.
#ifndef BDEVKIT_MODULES_NVME_TCP_CRC32C_H_
#define BDEVKIT_MODULES_NVME_TCP_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace bdevkit::nvme {

// Continues a CRC32C over `len` bytes. Start with kCrc32cInit, finish with
// Crc32cFinish (the standard check value of "123456789" is 0xE3069283).
inline constexpr uint32_t kCrc32cInit = 0xffffffffu;
uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t len);
inline uint32_t Crc32cFinish(uint32_t crc) { return crc ^ 0xffffffffu; }
inline uint32_t Crc32c(const void* data, size_t len) {
  return Crc32cFinish(Crc32cUpdate(kCrc32cInit, data, len));
}

// The portable implementation (tests compare both).
uint32_t Crc32cUpdateTable(uint32_t crc, const void* data, size_t len);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_TCP_CRC32C_H_

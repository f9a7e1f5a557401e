// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and NVMe use
// it: the superblock's checksum. Table driven; the superblock is read and written a
// few times per raid lifetime, so speed does not matter. Any thread.
#ifndef BDEVKIT_MODULES_RAID_CRC32C_H_
#define BDEVKIT_MODULES_RAID_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace bdevkit::raid {

// CRC-32C of `data` (initial value and final xor 0xFFFFFFFF). Crc32c("123456789") is
// 0xE3069283.
uint32_t Crc32c(std::span<const uint8_t> data);

}  // namespace bdevkit::raid

#endif  // BDEVKIT_MODULES_RAID_CRC32C_H_

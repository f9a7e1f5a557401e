// The fields of Identify Controller and Identify Namespace data the driver and the
// tools use, parsed from the 4 KiB structures the controller returns.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_IDENTIFY_H_
#define BDEVKIT_MODULES_NVME_DRIVER_IDENTIFY_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace bdevkit::nvme {

inline constexpr size_t kIdentifySize = 4096;

struct ControllerData {
  uint16_t vendor_id = 0;
  uint16_t subsystem_vendor_id = 0;
  std::string serial;  // trailing spaces removed
  std::string model;
  std::string firmware;
  uint8_t rab = 0;  // recommended arbitration burst
  uint32_t ieee_oui = 0;
  uint8_t cmic = 0;
  uint8_t mdts = 0;  // max transfer = 2^mdts min pages; 0 = no limit
  uint16_t cntlid = 0;
  uint32_t version = 0;  // VER (0 on 1.0 controllers)
  uint16_t oacs = 0;     // optional admin commands
  uint8_t acl = 0;       // abort command limit (0-based)
  uint8_t aerl = 0;
  uint8_t frmw = 0;
  uint8_t lpa = 0;
  uint8_t sqes = 0;  // required (3:0) and max (7:4) log2 SQ entry size
  uint8_t cqes = 0;
  uint16_t maxcmd = 0;
  uint32_t nn = 0;    // number of namespaces
  uint16_t oncs = 0;  // optional NVM commands
  uint8_t vwc = 0;    // volatile write cache
  uint32_t sgls = 0;
  std::string subnqn;
  // Fabrics: I/O queue command capsule size in 16-byte units (64 bytes of command,
  // the rest in-capsule data); 0 on PCIe controllers.
  uint32_t ioccsz = 0;

  bool supports_dsm() const { return (oncs >> 2) & 1; }
  bool supports_write_zeroes() const { return (oncs >> 3) & 1; }
  bool has_volatile_write_cache() const { return vwc & 1; }
};

struct LbaFormat {
  uint16_t metadata_size = 0;
  uint8_t lba_data_shift = 0;  // block size = 1 << lba_data_shift
  uint8_t relative_performance = 0;
};

struct NamespaceData {
  uint32_t nsid = 0;
  uint64_t size_blocks = 0;         // NSZE
  uint64_t capacity_blocks = 0;     // NCAP
  uint64_t utilization_blocks = 0;  // NUSE
  uint8_t nsfeat = 0;
  uint8_t nlbaf = 0;  // number of LBA formats (as 1-based count)
  uint8_t flbas = 0;
  uint8_t dlfeat = 0;
  uint16_t npwg = 0, npwa = 0, npdg = 0, npda = 0, nows = 0;  // 0-based, valid if nsfeat bit 4
  std::array<uint8_t, 16> nguid{};
  uint64_t eui64 = 0;
  std::array<uint8_t, 16> uuid{};  // from the identification descriptors (CNS 03h)
  bool has_uuid = false;
  std::vector<LbaFormat> lba_formats;

  uint8_t format_index() const { return flbas & 0xf; }
  const LbaFormat& format() const { return lba_formats.at(format_index()); }
  uint32_t block_size() const { return 1u << format().lba_data_shift; }
  uint16_t metadata_size() const { return format().metadata_size; }
  // Deallocated blocks read back as zeroes (DLFEAT bits 2:0 == 001b).
  bool deallocated_reads_zeroes() const { return (dlfeat & 7) == 1; }
};

// Parses 4096 bytes of Identify Controller data.
ControllerData ParseControllerData(const uint8_t* data);
// Parses 4096 bytes of Identify Namespace data.
NamespaceData ParseNamespaceData(uint32_t nsid, const uint8_t* data);
// Adds what a Namespace Identification Descriptor list (CNS 03h) says to `ns` (the
// UUID; NGUID/EUI-64 when Identify Namespace left them zero).
void ParseNamespaceIdDescriptors(const uint8_t* data, NamespaceData* ns);
// Parses an active namespace ID list (CNS 02h): IDs up to the first zero.
std::vector<uint32_t> ParseNamespaceList(const uint8_t* data);

// "1.4.0" from a VS/VER register value.
std::string VersionString(uint32_t version);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_IDENTIFY_H_

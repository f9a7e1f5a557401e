// Facts from the NVMe base specification (1.4) that the driver needs: controller
// register offsets and fields, command and completion layouts, opcodes, status codes.
// Plain constants and trivially copyable structs; no behaviour.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_SPEC_H_
#define BDEVKIT_MODULES_NVME_DRIVER_SPEC_H_

#include <cstdint>

namespace bdevkit::nvme {

// ---- Controller registers (offsets into BAR0) -------------------------------------
namespace reg {
inline constexpr uint32_t kCap = 0x00;    // 64 bits: capabilities
inline constexpr uint32_t kVs = 0x08;     // version
inline constexpr uint32_t kIntms = 0x0c;  // interrupt mask set
inline constexpr uint32_t kIntmc = 0x10;  // interrupt mask clear
inline constexpr uint32_t kCc = 0x14;     // controller configuration
inline constexpr uint32_t kCsts = 0x1c;   // controller status
inline constexpr uint32_t kAqa = 0x24;    // admin queue attributes
inline constexpr uint32_t kAsq = 0x28;    // 64 bits: admin SQ base
inline constexpr uint32_t kAcq = 0x30;    // 64 bits: admin CQ base
inline constexpr uint32_t kDoorbellBase = 0x1000;
}  // namespace reg

// CAP fields.
struct Cap {
  uint64_t raw = 0;
  uint32_t mqes() const { return static_cast<uint32_t>(raw & 0xffff) + 1; }  // entries
  bool cqr() const { return (raw >> 16) & 1; }  // contiguous queues required
  uint32_t to_500ms() const { return (raw >> 24) & 0xff; }
  uint32_t dstrd() const { return (raw >> 32) & 0xf; }   // doorbell stride = 4 << dstrd
  bool nvm_css() const { return (raw >> 37) & 1; }       // NVM command set supported
  uint32_t mpsmin() const { return (raw >> 48) & 0xf; }  // min page = 4 KiB << mpsmin
  uint32_t mpsmax() const { return (raw >> 52) & 0xf; }
};

// CC fields.
namespace cc {
inline constexpr uint32_t kEnable = 1u << 0;
inline constexpr uint32_t kCssNvm = 0u << 4;
inline constexpr uint32_t kMpsShift = 7;  // memory page size = 4 KiB << MPS
inline constexpr uint32_t kAmsRoundRobin = 0u << 11;
inline constexpr uint32_t kShnShift = 14;
inline constexpr uint32_t kShnMask = 3u << kShnShift;
inline constexpr uint32_t kShnNormal = 1u << kShnShift;
inline constexpr uint32_t kIosqesShift = 16;  // log2(SQ entry size) = 6
inline constexpr uint32_t kIocqesShift = 20;  // log2(CQ entry size) = 4
}  // namespace cc

// CSTS fields.
namespace csts {
inline constexpr uint32_t kReady = 1u << 0;
inline constexpr uint32_t kFatal = 1u << 1;  // CFS: controller fatal status
inline constexpr uint32_t kShstShift = 2;
inline constexpr uint32_t kShstMask = 3u << kShstShift;
inline constexpr uint32_t kShstComplete = 2u << kShstShift;
}  // namespace csts

// The memory page size the driver configures (CC.MPS = 0). PRP entries address pages
// of this size.
inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kPageShift = 12;

// ---- Submission and completion entries ---------------------------------------------
struct Command {
  uint8_t opcode;
  uint8_t flags;  // FUSE 1:0, PSDT 7:6 (0 = PRPs)
  uint16_t cid;
  uint32_t nsid;
  uint32_t cdw2;
  uint32_t cdw3;
  uint64_t mptr;
  uint64_t prp1;
  uint64_t prp2;
  uint32_t cdw10;
  uint32_t cdw11;
  uint32_t cdw12;
  uint32_t cdw13;
  uint32_t cdw14;
  uint32_t cdw15;
};
static_assert(sizeof(Command) == 64);

struct Completion {
  uint32_t cdw0;  // command specific
  uint32_t rsvd;
  uint16_t sq_head;
  uint16_t sq_id;
  uint16_t cid;
  uint16_t status;  // bit 0 = phase tag; 8:1 SC; 11:9 SCT; 13:12 CRD; 14 More; 15 DNR

  bool phase() const { return status & 1; }
  uint8_t sc() const { return static_cast<uint8_t>((status >> 1) & 0xff); }
  uint8_t sct() const { return static_cast<uint8_t>((status >> 9) & 0x7); }
  bool dnr() const { return (status >> 15) & 1; }
  bool ok() const { return (status >> 1) == 0; }  // SCT 0 / SC 0 (CRD, M, DNR also 0)
};
static_assert(sizeof(Completion) == 16);

// Makes the 15-bit status (without the phase) of a completion.
constexpr uint16_t MakeStatus(uint8_t sct, uint8_t sc, bool dnr = false) {
  return static_cast<uint16_t>((sc << 1) | ((sct & 7) << 9) | (dnr ? 1u << 15 : 0));
}

// ---- Opcodes ----------------------------------------------------------------------
namespace admin_op {
inline constexpr uint8_t kDeleteIoSq = 0x00;
inline constexpr uint8_t kCreateIoSq = 0x01;
inline constexpr uint8_t kGetLogPage = 0x02;
inline constexpr uint8_t kDeleteIoCq = 0x04;
inline constexpr uint8_t kCreateIoCq = 0x05;
inline constexpr uint8_t kIdentify = 0x06;
inline constexpr uint8_t kAbort = 0x08;
inline constexpr uint8_t kSetFeatures = 0x09;
inline constexpr uint8_t kGetFeatures = 0x0a;
inline constexpr uint8_t kKeepAlive = 0x18;
inline constexpr uint8_t kFabrics = 0x7f;  // NVMe over Fabrics commands (fabrics.h)
}  // namespace admin_op

namespace io_op {
inline constexpr uint8_t kFlush = 0x00;
inline constexpr uint8_t kWrite = 0x01;
inline constexpr uint8_t kRead = 0x02;
inline constexpr uint8_t kWriteZeroes = 0x08;
inline constexpr uint8_t kDatasetManagement = 0x09;
}  // namespace io_op

// Identify CNS values.
namespace cns {
inline constexpr uint32_t kNamespace = 0x00;
inline constexpr uint32_t kController = 0x01;
inline constexpr uint32_t kActiveNamespaceList = 0x02;
inline constexpr uint32_t kNamespaceIdDescriptors = 0x03;
}  // namespace cns

namespace feature {
inline constexpr uint32_t kNumberOfQueues = 0x07;
}

// Dataset management: CDW11 attribute "deallocate", and one range descriptor.
inline constexpr uint32_t kDsmDeallocate = 1u << 2;
struct DsmRange {
  uint32_t attributes;
  uint32_t length_blocks;
  uint64_t start_lba;
};
static_assert(sizeof(DsmRange) == 16);

// ---- Status codes (SCT, SC) -------------------------------------------------------
namespace sct {
inline constexpr uint8_t kGeneric = 0;
inline constexpr uint8_t kCommandSpecific = 1;
inline constexpr uint8_t kMedia = 2;
inline constexpr uint8_t kPath = 3;
inline constexpr uint8_t kVendor = 7;
}  // namespace sct

namespace generic_sc {
inline constexpr uint8_t kSuccess = 0x00;
inline constexpr uint8_t kInvalidOpcode = 0x01;
inline constexpr uint8_t kInvalidField = 0x02;
inline constexpr uint8_t kCidConflict = 0x03;
inline constexpr uint8_t kDataTransferError = 0x04;
inline constexpr uint8_t kPowerLoss = 0x05;
inline constexpr uint8_t kInternalError = 0x06;
inline constexpr uint8_t kAbortRequested = 0x07;
inline constexpr uint8_t kAbortSqDeleted = 0x08;
inline constexpr uint8_t kAbortFusedFail = 0x09;
inline constexpr uint8_t kAbortFusedMissing = 0x0a;
inline constexpr uint8_t kInvalidNamespace = 0x0b;
inline constexpr uint8_t kSequenceError = 0x0c;
inline constexpr uint8_t kInvalidSglDescriptor = 0x0d;
inline constexpr uint8_t kInvalidPrpOffset = 0x13;
inline constexpr uint8_t kNamespaceWriteProtected = 0x20;
inline constexpr uint8_t kCommandInterrupted = 0x21;
inline constexpr uint8_t kLbaOutOfRange = 0x80;
inline constexpr uint8_t kCapacityExceeded = 0x81;
inline constexpr uint8_t kNamespaceNotReady = 0x82;
inline constexpr uint8_t kReservationConflict = 0x83;
}  // namespace generic_sc

namespace media_sc {
inline constexpr uint8_t kWriteFault = 0x80;
inline constexpr uint8_t kUnrecoveredReadError = 0x81;
inline constexpr uint8_t kAccessDenied = 0x86;
inline constexpr uint8_t kDeallocatedOrUnwrittenBlock = 0x87;
}  // namespace media_sc

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_SPEC_H_

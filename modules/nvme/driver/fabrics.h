// Facts from the NVMe over Fabrics specification (1.1) that every fabrics transport
// needs: the Fabrics command opcode and types, the Connect command and its 1 KiB data,
// Property Get/Set (how a host reads and writes controller registers), and the SGL
// descriptors a fabrics command points at its data with. Builders only; no I/O.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_FABRICS_H_
#define BDEVKIT_MODULES_NVME_DRIVER_FABRICS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "modules/nvme/driver/spec.h"

namespace bdevkit::nvme {

namespace fctype {
inline constexpr uint8_t kPropertySet = 0x00;
inline constexpr uint8_t kConnect = 0x01;
inline constexpr uint8_t kPropertyGet = 0x04;
inline constexpr uint8_t kDisconnect = 0x08;
}  // namespace fctype

// Connect to the admin queue asks for a dynamic controller with this controller ID.
inline constexpr uint16_t kDynamicCntlid = 0xffff;

// Command-specific status codes of Connect (SCT 1).
namespace connect_sc {
inline constexpr uint8_t kIncompatibleFormat = 0x80;
inline constexpr uint8_t kControllerBusy = 0x81;
inline constexpr uint8_t kInvalidParameters = 0x82;
inline constexpr uint8_t kRestartDiscovery = 0x83;
inline constexpr uint8_t kInvalidHost = 0x84;
}  // namespace connect_sc

// The data of a Connect command (sent host to controller).
struct ConnectData {
  std::array<uint8_t, 16> hostid;
  uint16_t cntlid;
  uint8_t rsvd1[238];
  char subnqn[256];
  char hostnqn[256];
  uint8_t rsvd2[256];
};
static_assert(sizeof(ConnectData) == 1024);

// SGL descriptor types (type << 4 | subtype), in byte 15 of the descriptor.
namespace sgl {
// Data Block, offset: the data follows the command in the capsule.
inline constexpr uint8_t kInCapsule = 0x01;
// Transport SGL Data Block, transport specific: the transport moves the data (TCP:
// R2T/H2CData for writes, C2HData for reads).
inline constexpr uint8_t kTransport = 0x5a;
// PSDT = 01b in the command's flags: the data pointer is an SGL.
inline constexpr uint8_t kPsdtSgl = 0x40;
}  // namespace sgl

// Points `cmd` at `length` bytes described by one SGL descriptor of `type` (address or
// offset 0). Fabrics commands always use SGLs.
inline void SetSglDescriptor(Command& cmd, uint8_t type, uint32_t length) {
  cmd.flags = static_cast<uint8_t>((cmd.flags & 0x3f) | sgl::kPsdtSgl);
  cmd.prp1 = 0;
  cmd.prp2 = uint64_t{length} | (uint64_t{type} << 56);
}
inline uint8_t SglType(const Command& cmd) { return static_cast<uint8_t>(cmd.prp2 >> 56); }
inline uint32_t SglLength(const Command& cmd) { return static_cast<uint32_t>(cmd.prp2); }

inline Command MakeFabricsCommand(uint8_t type) {
  Command c{};
  c.opcode = admin_op::kFabrics;
  c.nsid = type;  // FCTYPE is byte 4, where other commands have the NSID
  return c;
}
inline uint8_t FabricsType(const Command& cmd) { return static_cast<uint8_t>(cmd.nsid & 0xff); }

// Property Get: a 4- or 8-byte register at `offset`; the value comes back in the
// completion's first two dwords (PropertyValue).
inline Command MakePropertyGet(uint32_t offset, bool eight_bytes) {
  Command c = MakeFabricsCommand(fctype::kPropertyGet);
  c.cdw10 = eight_bytes ? 1 : 0;  // ATTRIB.SIZE
  c.cdw11 = offset;
  return c;
}
inline uint64_t PropertyValue(const Completion& cpl) {
  return uint64_t{cpl.cdw0} | (uint64_t{cpl.rsvd} << 32);
}
// Property Set of a 4-byte register.
inline Command MakePropertySet(uint32_t offset, uint32_t value) {
  Command c = MakeFabricsCommand(fctype::kPropertySet);
  c.cdw10 = 0;
  c.cdw11 = offset;
  c.cdw12 = value;
  c.cdw13 = 0;
  return c;
}

// Connect queue `qid` with `entries` entries (SQSIZE is 0-based); kato_ms is the
// keep-alive timeout (admin queue only). The data is a ConnectData.
inline Command MakeConnect(uint16_t qid, uint32_t entries, uint32_t kato_ms) {
  Command c = MakeFabricsCommand(fctype::kConnect);
  c.cdw10 = uint32_t{qid} << 16;  // RECFMT 0
  c.cdw11 = (entries - 1) & 0xffff;
  c.cdw12 = kato_ms;
  return c;
}
inline ConnectData MakeConnectData(const std::array<uint8_t, 16>& hostid, uint16_t cntlid,
                                   std::string_view subnqn, std::string_view hostnqn) {
  ConnectData d{};
  d.hostid = hostid;
  d.cntlid = cntlid;
  subnqn.copy(d.subnqn, sizeof(d.subnqn) - 1);
  hostnqn.copy(d.hostnqn, sizeof(d.hostnqn) - 1);
  return d;
}

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_FABRICS_H_

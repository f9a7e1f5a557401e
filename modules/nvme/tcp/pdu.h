// Facts from the NVMe/TCP transport specification (1.0): PDU types, flags and header
// layouts, and the builders and checks of the headers the initiator sends and
// receives. Little-endian layouts (static_assert'ed); no I/O.
#ifndef BDEVKIT_MODULES_NVME_TCP_PDU_H_
#define BDEVKIT_MODULES_NVME_TCP_PDU_H_

#include <bit>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "modules/nvme/driver/spec.h"

namespace bdevkit::nvme {

static_assert(std::endian::native == std::endian::little, "NVMe/TCP headers are little-endian");

namespace pdu_type {
inline constexpr uint8_t kICReq = 0x00;
inline constexpr uint8_t kICResp = 0x01;
inline constexpr uint8_t kH2CTermReq = 0x02;
inline constexpr uint8_t kC2HTermReq = 0x03;
inline constexpr uint8_t kCapsuleCmd = 0x04;
inline constexpr uint8_t kCapsuleResp = 0x05;
inline constexpr uint8_t kH2CData = 0x06;
inline constexpr uint8_t kC2HData = 0x07;
inline constexpr uint8_t kR2T = 0x09;
}  // namespace pdu_type

namespace pdu_flag {
inline constexpr uint8_t kHdgst = 0x01;        // a header digest follows the header
inline constexpr uint8_t kDdgst = 0x02;        // a data digest follows the data
inline constexpr uint8_t kDataLast = 0x04;     // H2C/C2HData: last PDU of the transfer
inline constexpr uint8_t kDataSuccess = 0x08;  // C2HData: no CapsuleResp follows
}  // namespace pdu_flag

// ICReq/ICResp DGST field bits.
inline constexpr uint8_t kIcHdgstEnable = 0x01;
inline constexpr uint8_t kIcDdgstEnable = 0x02;
inline constexpr uint32_t kDigestSize = 4;

struct CommonHeader {
  uint8_t type;
  uint8_t flags;
  uint8_t hlen;   // header length, without the header digest
  uint8_t pdo;    // PDU data offset (0: no data)
  uint32_t plen;  // whole PDU: header, digests, padding, data
};
static_assert(sizeof(CommonHeader) == 8);

struct ICReq {
  CommonHeader ch;
  uint16_t pfv;     // PDU format version: 0
  uint8_t hpda;     // host PDU data alignment (4-byte units, 0-based): 0
  uint8_t digest;   // kIcHdgstEnable | kIcDdgstEnable
  uint32_t maxr2t;  // outstanding R2Ts per command, 0-based
  uint8_t rsvd[112];
};
static_assert(sizeof(ICReq) == 128);

struct ICResp {
  CommonHeader ch;
  uint16_t pfv;
  uint8_t cpda;  // controller PDU data alignment
  uint8_t digest;
  uint32_t maxh2cdata;  // most data bytes in one H2CData PDU
  uint8_t rsvd[112];
};
static_assert(sizeof(ICResp) == 128);

struct CapsuleCmdHeader {
  CommonHeader ch;
  Command cmd;
};
static_assert(sizeof(CapsuleCmdHeader) == 72);

struct CapsuleRespHeader {
  CommonHeader ch;
  Completion cqe;
};
static_assert(sizeof(CapsuleRespHeader) == 24);

// H2CData and C2HData.
struct DataHeader {
  CommonHeader ch;
  uint16_t cccid;  // the command's CID
  uint16_t ttag;   // H2CData: the R2T's transfer tag
  uint32_t datao;  // offset of this PDU's data in the command's data
  uint32_t datal;
  uint32_t rsvd;
};
static_assert(sizeof(DataHeader) == 24);

struct R2THeader {
  CommonHeader ch;
  uint16_t cccid;
  uint16_t ttag;
  uint32_t r2to;  // offset and length of the data asked for
  uint32_t r2tl;
  uint32_t rsvd;
};
static_assert(sizeof(R2THeader) == 24);

struct TermReqHeader {
  CommonHeader ch;
  uint16_t fes;  // fatal error status
  uint8_t fei[4];
  uint8_t rsvd[10];
};
static_assert(sizeof(TermReqHeader) == 24);

// Largest header we receive (ICResp), plus a header digest.
inline constexpr size_t kMaxHeaderSize = sizeof(ICResp) + kDigestSize;

// ICReq asking for the digests given, no alignment padding, one R2T per command.
ICReq MakeICReq(bool hdgst, bool ddgst);
// Checks an ICResp: type, lengths, version, that the digests match what was asked
// for, a usable MAXH2CDATA.
absl::Status CheckICResp(const ICResp& resp, bool hdgst, bool ddgst);

// Writes a CapsuleCmd PDU's header (and header digest) for `cmd` with `icd_len` bytes
// of in-capsule data to `out`; returns the bytes written. The caller appends the data
// and, with ddgst and icd_len > 0, its digest. The PDU's plen counts all of it.
size_t BuildCapsuleHeader(uint8_t* out, const Command& cmd, uint32_t icd_len, bool hdgst,
                          bool ddgst);
// Writes an H2CData PDU's header (and header digest); the caller appends `datal` bytes
// of data and, with ddgst, its digest.
size_t BuildH2CDataHeader(uint8_t* out, uint16_t cccid, uint16_t ttag, uint32_t datao,
                          uint32_t datal, bool last, bool hdgst, bool ddgst);

// Checks the common header of a PDU received from the controller: a type the host
// receives, the header length that type has, plen and pdo consistent, a digest flag
// only if negotiated. Returns the header's full length (with its digest) in *hdr_len.
absl::Status CheckReceivedHeader(const CommonHeader& ch, bool hdgst, bool ddgst, size_t* hdr_len);
// Verifies the header digest that follows the `hlen`-byte header at `hdr`.
bool HeaderDigestOk(const uint8_t* hdr, size_t hlen);

// "CapsuleResp" etc. for messages.
const char* PduTypeName(uint8_t type);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_TCP_PDU_H_

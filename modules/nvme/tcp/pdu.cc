#include "modules/nvme/tcp/pdu.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "modules/nvme/tcp/crc32c.h"

namespace bdevkit::nvme {
namespace {

void PutDigest(uint8_t* at, const void* data, size_t len) {
  uint32_t d = Crc32c(data, len);
  std::memcpy(at, &d, kDigestSize);
}

}  // namespace

const char* PduTypeName(uint8_t type) {
  switch (type) {
    case pdu_type::kICReq:
      return "ICReq";
    case pdu_type::kICResp:
      return "ICResp";
    case pdu_type::kH2CTermReq:
      return "H2CTermReq";
    case pdu_type::kC2HTermReq:
      return "C2HTermReq";
    case pdu_type::kCapsuleCmd:
      return "CapsuleCmd";
    case pdu_type::kCapsuleResp:
      return "CapsuleResp";
    case pdu_type::kH2CData:
      return "H2CData";
    case pdu_type::kC2HData:
      return "C2HData";
    case pdu_type::kR2T:
      return "R2T";
  }
  return "unknown";
}

ICReq MakeICReq(bool hdgst, bool ddgst) {
  ICReq r{};
  r.ch.type = pdu_type::kICReq;
  r.ch.hlen = sizeof(ICReq);
  r.ch.plen = sizeof(ICReq);
  r.pfv = 0;
  r.hpda = 0;
  r.digest = static_cast<uint8_t>((hdgst ? kIcHdgstEnable : 0) | (ddgst ? kIcDdgstEnable : 0));
  r.maxr2t = 0;
  return r;
}

absl::Status CheckICResp(const ICResp& r, bool hdgst, bool ddgst) {
  if (r.ch.type != pdu_type::kICResp) {
    return absl::DataLossError(absl::StrCat("expected ICResp, got PDU type 0x",
                                            absl::Hex(r.ch.type), " (", PduTypeName(r.ch.type),
                                            ")"));
  }
  if (r.ch.hlen != sizeof(ICResp) || r.ch.plen != sizeof(ICResp)) {
    return absl::DataLossError(
        absl::StrCat("ICResp with hlen ", r.ch.hlen, " plen ", r.ch.plen, " (expected 128)"));
  }
  if (r.pfv != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the target speaks NVMe/TCP PDU format version ", r.pfv, ", not 0"));
  }
  const bool got_h = (r.digest & kIcHdgstEnable) != 0, got_d = (r.digest & kIcDdgstEnable) != 0;
  if (got_h != hdgst || got_d != ddgst) {
    return absl::FailedPreconditionError(
        absl::StrCat("the target answered digests header=", got_h, " data=", got_d,
                     " to a request for header=", hdgst, " data=", ddgst));
  }
  if (r.maxh2cdata < 4096 || r.maxh2cdata % 4 != 0) {
    return absl::DataLossError(absl::StrCat("ICResp MAXH2CDATA ", r.maxh2cdata, " is invalid"));
  }
  if (r.cpda > 31) {
    return absl::DataLossError(absl::StrCat("ICResp CPDA ", r.cpda, " is invalid"));
  }
  return absl::OkStatus();
}

size_t BuildCapsuleHeader(uint8_t* out, const Command& cmd, uint32_t icd_len, bool hdgst,
                          bool ddgst) {
  CapsuleCmdHeader h{};
  h.ch.type = pdu_type::kCapsuleCmd;
  h.ch.hlen = sizeof(CapsuleCmdHeader);
  const uint32_t hdr = sizeof(CapsuleCmdHeader) + (hdgst ? kDigestSize : 0);
  const bool data_digest = ddgst && icd_len > 0;
  h.ch.flags =
      static_cast<uint8_t>((hdgst ? pdu_flag::kHdgst : 0) | (data_digest ? pdu_flag::kDdgst : 0));
  h.ch.pdo = icd_len > 0 ? static_cast<uint8_t>(hdr) : 0;  // HPDA 0: data right after
  h.ch.plen = hdr + icd_len + (data_digest ? kDigestSize : 0);
  h.cmd = cmd;
  std::memcpy(out, &h, sizeof(h));
  if (hdgst) PutDigest(out + sizeof(h), out, sizeof(h));
  return hdr;
}

size_t BuildH2CDataHeader(uint8_t* out, uint16_t cccid, uint16_t ttag, uint32_t datao,
                          uint32_t datal, bool last, bool hdgst, bool ddgst) {
  DataHeader h{};
  h.ch.type = pdu_type::kH2CData;
  h.ch.hlen = sizeof(DataHeader);
  const uint32_t hdr = sizeof(DataHeader) + (hdgst ? kDigestSize : 0);
  h.ch.flags =
      static_cast<uint8_t>((hdgst ? pdu_flag::kHdgst : 0) | (ddgst ? pdu_flag::kDdgst : 0) |
                           (last ? pdu_flag::kDataLast : 0));
  h.ch.pdo = static_cast<uint8_t>(hdr);
  h.ch.plen = hdr + datal + (ddgst ? kDigestSize : 0);
  h.cccid = cccid;
  h.ttag = ttag;
  h.datao = datao;
  h.datal = datal;
  std::memcpy(out, &h, sizeof(h));
  if (hdgst) PutDigest(out + sizeof(h), out, sizeof(h));
  return hdr;
}

absl::Status CheckReceivedHeader(const CommonHeader& ch, bool hdgst, bool ddgst, size_t* hdr_len) {
  size_t expect = 0;
  switch (ch.type) {
    case pdu_type::kCapsuleResp:
      expect = sizeof(CapsuleRespHeader);
      break;
    case pdu_type::kC2HData:
      expect = sizeof(DataHeader);
      break;
    case pdu_type::kR2T:
      expect = sizeof(R2THeader);
      break;
    case pdu_type::kC2HTermReq:
      expect = sizeof(TermReqHeader);
      break;
    default:
      return absl::DataLossError(absl::StrCat("unexpected PDU type 0x", absl::Hex(ch.type), " (",
                                              PduTypeName(ch.type), ") from the target"));
  }
  if (ch.hlen != expect) {
    return absl::DataLossError(
        absl::StrCat(PduTypeName(ch.type), " with hlen ", ch.hlen, ", expected ", expect));
  }
  const bool has_h = (ch.flags & pdu_flag::kHdgst) != 0;
  const bool has_d = (ch.flags & pdu_flag::kDdgst) != 0;
  if ((has_h && !hdgst) || (has_d && !ddgst)) {
    return absl::DataLossError(
        absl::StrCat(PduTypeName(ch.type), " carries a digest that was not negotiated"));
  }
  // Every PDU but the termination requests has a header digest once negotiated.
  if (hdgst && !has_h && ch.type != pdu_type::kC2HTermReq) {
    return absl::DataLossError(absl::StrCat(PduTypeName(ch.type), " lacks its header digest"));
  }
  const size_t hdr = expect + (has_h ? kDigestSize : 0);
  if (ch.plen < hdr) {
    return absl::DataLossError(
        absl::StrCat(PduTypeName(ch.type), " with plen ", ch.plen, " < its header ", hdr));
  }
  if (ch.type == pdu_type::kC2HData) {
    if (ch.pdo < hdr || ch.pdo > ch.plen) {
      return absl::DataLossError(
          absl::StrCat("C2HData with pdo ", ch.pdo, " (header ", hdr, ", plen ", ch.plen, ")"));
    }
  } else if (ch.type != pdu_type::kC2HTermReq && ch.plen != hdr) {
    return absl::DataLossError(
        absl::StrCat(PduTypeName(ch.type), " with plen ", ch.plen, ", expected ", hdr));
  }
  *hdr_len = hdr;
  return absl::OkStatus();
}

bool HeaderDigestOk(const uint8_t* hdr, size_t hlen) {
  uint32_t got;
  std::memcpy(&got, hdr + hlen, kDigestSize);
  return got == Crc32c(hdr, hlen);
}

}  // namespace bdevkit::nvme

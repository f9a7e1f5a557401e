#include "modules/nvme/driver/identify.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace bdevkit::nvme {
namespace {

template <typename T>
T Le(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

// ASCII fields are space padded (and sometimes NUL padded by firmware).
std::string Text(const uint8_t* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  size_t end = s.find_last_not_of(std::string(" \0", 2));
  s.resize(end == std::string::npos ? 0 : end + 1);
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return s;
}

}  // namespace

ControllerData ParseControllerData(const uint8_t* d) {
  ControllerData c;
  c.vendor_id = Le<uint16_t>(d + 0);
  c.subsystem_vendor_id = Le<uint16_t>(d + 2);
  c.serial = Text(d + 4, 20);
  c.model = Text(d + 24, 40);
  c.firmware = Text(d + 64, 8);
  c.rab = d[72];
  c.ieee_oui = d[73] | (d[74] << 8) | (d[75] << 16);
  c.cmic = d[76];
  c.mdts = d[77];
  c.cntlid = Le<uint16_t>(d + 78);
  c.version = Le<uint32_t>(d + 80);
  c.oacs = Le<uint16_t>(d + 256);
  c.acl = d[258];
  c.aerl = d[259];
  c.frmw = d[260];
  c.lpa = d[261];
  c.sqes = d[512];
  c.cqes = d[513];
  c.maxcmd = Le<uint16_t>(d + 514);
  c.nn = Le<uint32_t>(d + 516);
  c.oncs = Le<uint16_t>(d + 520);
  c.vwc = d[525];
  c.sgls = Le<uint32_t>(d + 536);
  c.subnqn = Text(d + 768, 256);
  c.ioccsz = Le<uint32_t>(d + 1792);
  return c;
}

NamespaceData ParseNamespaceData(uint32_t nsid, const uint8_t* d) {
  NamespaceData n;
  n.nsid = nsid;
  n.size_blocks = Le<uint64_t>(d + 0);
  n.capacity_blocks = Le<uint64_t>(d + 8);
  n.utilization_blocks = Le<uint64_t>(d + 16);
  n.nsfeat = d[24];
  n.nlbaf = static_cast<uint8_t>(d[25] + 1);  // 0-based in the structure
  n.flbas = d[26];
  n.dlfeat = d[33];
  n.npwg = Le<uint16_t>(d + 64);
  n.npwa = Le<uint16_t>(d + 66);
  n.npdg = Le<uint16_t>(d + 68);
  n.npda = Le<uint16_t>(d + 70);
  n.nows = Le<uint16_t>(d + 72);
  std::memcpy(n.nguid.data(), d + 104, 16);
  n.eui64 = 0;
  for (int i = 0; i < 8; ++i) n.eui64 = (n.eui64 << 8) | d[120 + i];  // big-endian identifier
  for (int i = 0; i < 16; ++i) {
    const uint8_t* f = d + 128 + 4 * i;
    n.lba_formats.push_back({Le<uint16_t>(f), f[2], static_cast<uint8_t>(f[3] & 3)});
  }
  return n;
}

void ParseNamespaceIdDescriptors(const uint8_t* d, NamespaceData* ns) {
  // Each descriptor: type (1 EUI-64, 2 NGUID, 3 UUID), length, 2 reserved, the ID.
  size_t off = 0;
  while (off + 4 <= kIdentifySize) {
    const uint8_t type = d[off];
    const uint8_t len = d[off + 1];
    if (type == 0 || len == 0 || off + 4 + len > kIdentifySize) break;
    const uint8_t* id = d + off + 4;
    if (type == 3 && len == 16) {
      std::memcpy(ns->uuid.data(), id, 16);
      ns->has_uuid = true;
    } else if (type == 2 && len == 16 && ns->nguid == std::array<uint8_t, 16>{}) {
      std::memcpy(ns->nguid.data(), id, 16);
    } else if (type == 1 && len == 8 && ns->eui64 == 0) {
      for (int i = 0; i < 8; ++i) ns->eui64 = (ns->eui64 << 8) | id[i];
    }
    off += 4 + len;
  }
}

std::vector<uint32_t> ParseNamespaceList(const uint8_t* d) {
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < kIdentifySize / 4; ++i) {
    uint32_t id = Le<uint32_t>(d + 4 * i);
    if (id == 0) break;
    ids.push_back(id);
  }
  return ids;
}

std::string VersionString(uint32_t v) {
  return absl::StrCat(v >> 16, ".", (v >> 8) & 0xff, ".", v & 0xff);
}

}  // namespace bdevkit::nvme

// nvme_identify: what the user-space driver sees of an NVMe controller and its
// namespaces (like `nvme id-ctrl` / `nvme id-ns`), or the NVMe functions of the
// machine with their drivers. A PCIe device must be bound to vfio-pci or
// uio_pci_generic; a subsystem of an NVMe/TCP target is reached over the network.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "modules/nvme/driver/controller.h"
#include "modules/nvme/driver/pcie_transport.h"
#include "modules/nvme/env/pci.h"
#include "modules/nvme/env/pci_device.h"
#include "modules/nvme/tcp/tcp_transport.h"
#include "nlohmann/json.hpp"

namespace bdevkit::nvme {
namespace {

constexpr char kUsage[] =
    "usage: nvme_identify [--json] BDF     identify the controller at BDF (e.g. 0000:00:03.0)\n"
    "       nvme_identify [--json] -t tcp -a ADDR -s PORT -n SUBNQN [--hostnqn NQN]\n"
    "                     [--hdgst] [--ddgst]\n"
    "                                       identify a subsystem of an NVMe/TCP target\n"
    "                                       (IPv4 ADDR, e.g. -a 127.0.0.1 -s 4420)\n"
    "       nvme_identify --list [--json]   list NVMe functions and their drivers\n"
    "A PCIe device must be bound to vfio-pci or uio_pci_generic (see docs/nvme.md).\n";

std::string Hex(const std::array<uint8_t, 16>& b) {
  std::string s;
  for (uint8_t x : b) absl::StrAppendFormat(&s, "%02x", x);
  return s;
}

int List(const PciSysfs& sysfs, bool json) {
  auto list = sysfs.ListNvme();
  if (!list.ok()) {
    std::fprintf(stderr, "nvme_identify: %s\n", std::string(list.status().message()).c_str());
    return 1;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const PciFunction& f : *list) {
    if (json) {
      out.push_back({{"address", f.address.ToString()},
                     {"vendor_id", absl::StrFormat("0x%04x", f.vendor_id)},
                     {"device_id", absl::StrFormat("0x%04x", f.device_id)},
                     {"driver", f.driver},
                     {"iommu_group", f.iommu_group},
                     {"numa_node", f.numa_node}});
    } else {
      std::printf("%s  %04x:%04x  driver %-16s iommu group %s\n", f.address.ToString().c_str(),
                  f.vendor_id, f.device_id, f.driver.empty() ? "(none)" : f.driver.c_str(),
                  f.iommu_group.empty() ? "(none)" : f.iommu_group.c_str());
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  if (!json && list->empty())
    std::printf("no NVMe functions in %s/bus/pci/devices\n", sysfs.root().c_str());
  return 0;
}

nlohmann::json ControllerJson(const Controller& c) {
  const ControllerData& d = c.data();
  nlohmann::json ns = nlohmann::json::array();
  for (const NamespaceData& n : c.namespaces()) {
    nlohmann::json formats = nlohmann::json::array();
    for (const LbaFormat& f : n.lba_formats) {
      if (f.lba_data_shift == 0) continue;
      formats.push_back(
          {{"ms", f.metadata_size}, {"lbads", f.lba_data_shift}, {"rp", f.relative_performance}});
    }
    ns.push_back({{"nsid", n.nsid},
                  {"nsze", n.size_blocks},
                  {"ncap", n.capacity_blocks},
                  {"nuse", n.utilization_blocks},
                  {"nsfeat", n.nsfeat},
                  {"nlbaf", n.nlbaf},
                  {"flbas", n.flbas},
                  {"dlfeat", n.dlfeat},
                  {"block_size", n.block_size()},
                  {"size_bytes", n.size_blocks * n.block_size()},
                  {"nguid", Hex(n.nguid)},
                  {"eui64", absl::StrFormat("%016x", n.eui64)},
                  {"uuid", n.has_uuid ? Hex(n.uuid) : ""},
                  {"lbaf", formats}});
  }
  return {{"address", c.address()},
          {"access", c.access()},
          {"trtype", c.transport().trtype()},
          {"cap",
           {{"mqes", c.cap().mqes()},
            {"cqr", c.cap().cqr()},
            {"to_ms", c.cap().to_500ms() * 500},
            {"dstrd", c.cap().dstrd()},
            {"mpsmin", c.cap().mpsmin()},
            {"mpsmax", c.cap().mpsmax()}}},
          {"vs", VersionString(c.version())},
          {"vid", absl::StrFormat("0x%04x", d.vendor_id)},
          {"ssvid", absl::StrFormat("0x%04x", d.subsystem_vendor_id)},
          {"sn", d.serial},
          {"mn", d.model},
          {"fr", d.firmware},
          {"rab", d.rab},
          {"ieee", absl::StrFormat("%06x", d.ieee_oui)},
          {"cmic", d.cmic},
          {"mdts", d.mdts},
          {"cntlid", d.cntlid},
          {"ver", VersionString(d.version)},
          {"oacs", absl::StrFormat("0x%x", d.oacs)},
          {"acl", d.acl},
          {"aerl", d.aerl},
          {"frmw", absl::StrFormat("0x%x", d.frmw)},
          {"lpa", absl::StrFormat("0x%x", d.lpa)},
          {"sqes", absl::StrFormat("0x%x", d.sqes)},
          {"cqes", absl::StrFormat("0x%x", d.cqes)},
          {"maxcmd", d.maxcmd},
          {"nn", d.nn},
          {"oncs", absl::StrFormat("0x%x", d.oncs)},
          {"vwc", absl::StrFormat("0x%x", d.vwc)},
          {"sgls", absl::StrFormat("0x%x", d.sgls)},
          {"subnqn", d.subnqn},
          {"io_queues_granted", c.io_queues_granted()},
          {"max_transfer_bytes", c.max_transfer()},
          {"namespaces", ns}};
}

void PrintText(const nlohmann::json& j) {
  // `nvme id-ctrl` style: one "name : value" per line, namespaces after.
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "namespaces") continue;
    if (it.value().is_object()) {
      for (auto f = it.value().begin(); f != it.value().end(); ++f) {
        std::printf("%-10s: %s\n", (it.key() + "." + f.key()).c_str(), f.value().dump().c_str());
      }
      continue;
    }
    std::printf(
        "%-10s: %s\n", it.key().c_str(),
        it.value().is_string() ? it.value().get<std::string>().c_str() : it.value().dump().c_str());
  }
  for (const nlohmann::json& n : j["namespaces"]) {
    std::printf("\nnamespace %u\n", n["nsid"].get<uint32_t>());
    for (auto f = n.begin(); f != n.end(); ++f) {
      if (f.key() == "lbaf") continue;
      std::printf(
          "  %-10s: %s\n", f.key().c_str(),
          f.value().is_string() ? f.value().get<std::string>().c_str() : f.value().dump().c_str());
    }
    int i = 0;
    for (const nlohmann::json& l : n["lbaf"]) {
      std::printf("  lbaf %2d   : ms:%d lbads:%d rp:%d%s\n", i, l["ms"].get<int>(),
                  l["lbads"].get<int>(), l["rp"].get<int>(),
                  (n["flbas"].get<int>() & 0xf) == i ? " (in use)" : "");
      ++i;
    }
  }
}

int Run(int argc, char** argv) {
  bool json = false, list = false;
  std::string bdf, trtype, traddr, trsvcid, subnqn, hostnqn;
  bool hdgst = false, ddgst = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "-t" || a == "--trtype") {
      ok = value(trtype);
    } else if (a == "-a" || a == "--traddr") {
      ok = value(traddr);
    } else if (a == "-s" || a == "--trsvcid") {
      ok = value(trsvcid);
    } else if (a == "-n" || a == "--subnqn") {
      ok = value(subnqn);
    } else if (a == "--hostnqn") {
      ok = value(hostnqn);
    } else if (a == "--hdgst") {
      hdgst = true;
    } else if (a == "--ddgst") {
      ddgst = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--list") {
      list = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] != '-' && bdf.empty()) {
      bdf = a;
    } else {
      std::fprintf(stderr, "nvme_identify: unexpected argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "nvme_identify: %s needs a value\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  PciSysfs sysfs = PciSysfs::FromEnvironment();
  if (list) return List(sysfs, json);
  std::unique_ptr<Transport> transport;
  if (!trtype.empty() && trtype != "tcp" && trtype != "TCP" && trtype != "pcie") {
    std::fprintf(stderr, "nvme_identify: -t %s: only tcp (or pcie with a BDF)\n", trtype.c_str());
    return 2;
  }
  if (trtype == "tcp" || trtype == "TCP") {
    auto addr = ParseTcpAddress(traddr, trsvcid);
    if (!addr.ok() || subnqn.empty()) {
      std::fprintf(stderr, "nvme_identify: %s\n%s",
                   !addr.ok() ? std::string(addr.status().message()).c_str()
                              : "-n SUBNQN is required with -t tcp",
                   kUsage);
      return 2;
    }
    TcpTransportOptions t;
    t.address = *addr;
    t.subnqn = subnqn;
    t.hostnqn = hostnqn;
    t.hostid = DefaultHostId();
    t.hdgst = hdgst;
    t.ddgst = ddgst;
    transport = std::make_unique<TcpTransport>(t);
  } else {
    if (bdf.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    auto addr = ParsePciAddress(bdf);
    if (!addr.ok()) {
      std::fprintf(stderr, "nvme_identify: %s\n", std::string(addr.status().message()).c_str());
      return 2;
    }
    auto dev = OpenPciDevice(sysfs, *addr);
    if (!dev.ok()) {
      std::fprintf(stderr, "nvme_identify: %s\n", std::string(dev.status().message()).c_str());
      return 1;
    }
    transport = std::make_unique<PcieTransport>(std::move(*dev));
  }
  ControllerOptions o;
  o.io_queues = 1;
  auto c = Controller::Attach(std::move(transport), o);
  if (!c.ok()) {
    std::fprintf(stderr, "nvme_identify: %s\n", std::string(c.status().message()).c_str());
    return 1;
  }
  nlohmann::json j = ControllerJson(**c);
  if (json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintText(j);
  }
  (*c)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace bdevkit::nvme

int main(int argc, char** argv) { return bdevkit::nvme::Run(argc, argv); }

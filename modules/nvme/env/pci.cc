#include "modules/nvme/env/pci.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace bdevkit::nvme {
namespace fs = std::filesystem;
namespace {

// Parses exactly `digits` (or up to `digits` when !exact) hex digits.
bool ParseHex(std::string_view s, size_t max_digits, uint32_t max_value, uint32_t* out) {
  if (s.empty() || s.size() > max_digits) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v * 16 + static_cast<uint32_t>(d);
  }
  if (v > max_value) return false;
  *out = v;
  return true;
}

// First line of a small sysfs file, "" if it cannot be read.
std::string ReadLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

uint32_t ReadHexFile(const fs::path& path) {
  std::string s = ReadLine(path);
  absl::string_view v = s;
  absl::ConsumePrefix(&v, "0x");
  uint32_t out = 0;
  if (!ParseHex(std::string_view(v.data(), v.size()), 8, UINT32_MAX, &out)) return 0;
  return out;
}

// The last path component of a symlink's target ("" when there is no link).
std::string LinkName(const fs::path& link) {
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return "";
  return target.filename().string();
}

}  // namespace

std::string PciAddress::ToString() const {
  return absl::StrFormat("%04x:%02x:%02x.%x", domain, bus, device, function);
}

absl::StatusOr<PciAddress> ParsePciAddress(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(text),
                     "' is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:00:03.0)"));
  };
  PciAddress a;
  std::string_view rest = text;
  size_t first = rest.find(':');
  if (first == std::string_view::npos) return bad();
  size_t second = rest.find(':', first + 1);
  if (second != std::string_view::npos) {
    if (!ParseHex(rest.substr(0, first), 4, 0xffff, &a.domain)) return bad();
    rest = rest.substr(first + 1);
  }
  size_t colon = rest.find(':');
  size_t dot = rest.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot < colon) return bad();
  if (!ParseHex(rest.substr(0, colon), 2, 0xff, &a.bus) ||
      !ParseHex(rest.substr(colon + 1, dot - colon - 1), 2, 0x1f, &a.device) ||
      !ParseHex(rest.substr(dot + 1), 1, 7, &a.function)) {
    return bad();
  }
  return a;
}

PciSysfs PciSysfs::FromEnvironment() {
  const char* root = std::getenv("BDEVKIT_SYSFS_ROOT");
  return PciSysfs(root != nullptr && root[0] != '\0' ? root : "/sys");
}

std::string PciSysfs::DevicePath(const PciAddress& address) const {
  return absl::StrCat(root_, "/bus/pci/devices/", address.ToString());
}

absl::StatusOr<PciFunction> PciSysfs::Describe(const PciAddress& address) const {
  const fs::path dev = DevicePath(address);
  std::error_code ec;
  if (!fs::exists(dev, ec)) {
    return absl::NotFoundError(
        absl::StrCat("no PCI device ", address.ToString(), " (nothing at ", dev.string(), ")"));
  }
  PciFunction f;
  f.address = address;
  f.vendor_id = static_cast<uint16_t>(ReadHexFile(dev / "vendor"));
  f.device_id = static_cast<uint16_t>(ReadHexFile(dev / "device"));
  f.class_code = ReadHexFile(dev / "class");
  f.driver = LinkName(dev / "driver");
  f.iommu_group = LinkName(dev / "iommu_group");
  int node = -1;
  if (absl::SimpleAtoi(ReadLine(dev / "numa_node"), &node)) f.numa_node = node;
  return f;
}

absl::StatusOr<std::vector<PciFunction>> PciSysfs::ListNvme() const {
  const fs::path dir = fs::path(root_) / "bus/pci/devices";
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list PCI devices in ", dir.string(), ": ", ec.message()));
  }
  std::vector<PciFunction> out;
  for (const fs::directory_entry& e : it) {
    absl::StatusOr<PciAddress> a = ParsePciAddress(e.path().filename().string());
    if (!a.ok()) continue;
    absl::StatusOr<PciFunction> f = Describe(*a);
    if (f.ok() && f->is_nvme()) out.push_back(*f);
  }
  std::sort(out.begin(), out.end(), [](const PciFunction& x, const PciFunction& y) {
    return x.address.ToString() < y.address.ToString();
  });
  return out;
}

absl::Status PciSysfs::WriteAttribute(const std::string& path, std::string_view value) const {
  // One write(2) per attribute: sysfs acts on each write as a whole.
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(err), " (run as root)"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(err)));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::FailedPreconditionError(absl::StrCat("writing '", std::string(value), "' to ",
                                                      path, " failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status PciSysfs::Unbind(const PciAddress& address) const {
  absl::StatusOr<PciFunction> f = Describe(address);
  if (!f.ok()) return f.status();
  if (f->driver.empty()) return absl::OkStatus();
  return WriteAttribute(DevicePath(address) + "/driver/unbind", address.ToString());
}

absl::Status PciSysfs::Bind(const PciAddress& address, std::string_view driver) const {
  absl::StatusOr<PciFunction> f = Describe(address);
  if (!f.ok()) return f.status();
  if (f->driver == driver) return absl::OkStatus();
  const std::string drv(driver);
  std::error_code ec;
  if (!fs::exists(fs::path(root_) / "bus/pci/drivers" / drv, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("driver ", drv, " is not loaded (no ", root_,
                                                      "/bus/pci/drivers/", drv, "): modprobe ",
                                                      drv));
  }
  const std::string bdf = address.ToString();
  if (!f->driver.empty()) {
    if (absl::Status s = WriteAttribute(DevicePath(address) + "/driver/unbind", bdf); !s.ok()) {
      return s;
    }
  }
  // driver_override makes the kernel match this function with `driver` only, whatever
  // the driver's ID table says (vfio-pci and uio_pci_generic have none).
  if (absl::Status s = WriteAttribute(DevicePath(address) + "/driver_override", drv); !s.ok()) {
    return s;
  }
  absl::Status probe = WriteAttribute(root_ + "/bus/pci/drivers_probe", bdf);
  if (drv == "nvme") {
    // Back to the kernel: clear the override so it behaves as if never touched.
    (void)WriteAttribute(DevicePath(address) + "/driver_override", "\n");
  }
  if (!probe.ok()) return probe;
  absl::StatusOr<PciFunction> now = Describe(address);
  if (!now.ok()) return now.status();
  if (now->driver != driver) {
    std::string why = drv == "vfio-pci" && f->iommu_group.empty()
                          ? " (the function has no IOMMU group: enable the IOMMU, or use "
                            "uio_pci_generic)"
                          : "";
    return absl::FailedPreconditionError(
        absl::StrCat("the kernel did not bind ", bdf, " to ", drv, " (now bound to ",
                     now->driver.empty() ? "no driver" : now->driver, ")", why, "; see dmesg"));
  }
  return absl::OkStatus();
}

}  // namespace bdevkit::nvme

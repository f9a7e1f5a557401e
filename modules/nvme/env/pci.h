// PCI functions as sysfs shows them: parse and print addresses, list NVMe functions
// (class 0x010802), say which driver holds one, and hand a function to another driver
// (driver_override + drivers_probe). The sysfs root is a parameter so tests can point
// it at a fake tree.
#ifndef BDEVKIT_MODULES_NVME_ENV_PCI_H_
#define BDEVKIT_MODULES_NVME_ENV_PCI_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bdevkit::nvme {

struct PciAddress {
  uint32_t domain = 0;
  uint32_t bus = 0;
  uint32_t device = 0;
  uint32_t function = 0;

  // "0000:00:03.0"
  std::string ToString() const;
  bool operator==(const PciAddress&) const = default;
};

// Accepts "DDDD:BB:DD.F" and "BB:DD.F" (domain 0), hex digits either case.
// kInvalidArgument naming the text otherwise. Any thread.
absl::StatusOr<PciAddress> ParsePciAddress(std::string_view text);

inline constexpr uint32_t kNvmeClassCode = 0x010802;  // mass storage / NVM / NVMe

struct PciFunction {
  PciAddress address;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;
  std::string driver;       // bound driver's name, "" for none
  std::string iommu_group;  // group number, "" when the function has no IOMMU group
  int numa_node = -1;
  bool is_nvme() const { return class_code == kNvmeClassCode; }
};

// Reads and writes /sys (or a fake tree under another root). Control plane; blocks
// on sysfs reads and writes.
class PciSysfs {
 public:
  explicit PciSysfs(std::string root = "/sys") : root_(std::move(root)) {}

  // The sysfs root the module uses: $BDEVKIT_SYSFS_ROOT if set (tests), else /sys.
  static PciSysfs FromEnvironment();

  const std::string& root() const { return root_; }
  // <root>/bus/pci/devices/<address>
  std::string DevicePath(const PciAddress& address) const;

  // Every PCI function with the NVMe class code, sorted by address.
  absl::StatusOr<std::vector<PciFunction>> ListNvme() const;
  // One function; kNotFound (naming the sysfs path) if there is none.
  absl::StatusOr<PciFunction> Describe(const PciAddress& address) const;

  // Hands the function to `driver` ("vfio-pci", "uio_pci_generic", "nvme"): unbinds it
  // from its current driver, writes driver_override and asks the kernel to probe.
  // Already bound to it: nothing to do. Fails with kFailedPrecondition when the driver
  // is not loaded (names the modprobe to run) or the kernel did not bind it, and
  // kPermissionDenied when sysfs is not writable (not root).
  absl::Status Bind(const PciAddress& address, std::string_view driver) const;
  // Detaches the function from its driver (no-op when unbound).
  absl::Status Unbind(const PciAddress& address) const;

 private:
  absl::Status WriteAttribute(const std::string& path, std::string_view value) const;
  std::string root_;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_ENV_PCI_H_

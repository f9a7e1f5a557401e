#include "modules/nvme/env/pci_device.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bdevkit::nvme {

absl::StatusOr<std::unique_ptr<PciDevice>> OpenPciDevice(const PciSysfs& sysfs,
                                                         const PciAddress& address,
                                                         DmaSpaceOptions dma_options) {
  absl::StatusOr<PciFunction> f = sysfs.Describe(address);
  if (!f.ok()) return f.status();
  const std::string bdf = address.ToString();
  if (!f->is_nvme()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "PCI device %s is not an NVMe controller (class 0x%06x, vendor 0x%04x device 0x%04x; "
        "NVMe is class 0x%06x)",
        bdf, f->class_code, f->vendor_id, f->device_id, kNvmeClassCode));
  }
  if (f->driver == "vfio-pci") return OpenVfioDevice(sysfs, *f, dma_options);
  if (f->driver == "uio_pci_generic") return OpenUioDevice(sysfs, *f, dma_options);
  const std::string how =
      "hand it to vfio-pci (or uio_pci_generic) first: see docs/nvme.md, \"Binding\"";
  if (f->driver.empty()) {
    return absl::UnavailableError(
        absl::StrCat("NVMe device ", bdf, " is bound to no driver; ", how));
  }
  if (f->driver == "nvme") {
    return absl::UnavailableError(
        absl::StrCat("NVMe device ", bdf, " is in use by the kernel's nvme driver; ", how,
                     " (this takes it away from the kernel: unmount its filesystems first)"));
  }
  return absl::UnavailableError(
      absl::StrCat("NVMe device ", bdf, " is bound to driver ", f->driver, "; ", how));
}

}  // namespace bdevkit::nvme

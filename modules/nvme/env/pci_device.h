// An NVMe function opened for user-space access: its BAR0 mapped, bus mastering on,
// and a DmaSpace whose memory the device can reach. Two real kinds: VFIO (IOMMU,
// no root needed with group permissions) and UIO (physical addresses, root).
#ifndef BDEVKIT_MODULES_NVME_ENV_PCI_DEVICE_H_
#define BDEVKIT_MODULES_NVME_ENV_PCI_DEVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "modules/nvme/driver/mmio.h"
#include "modules/nvme/env/dma_memory.h"
#include "modules/nvme/env/pci.h"

namespace bdevkit::nvme {

class PciDevice {
 public:
  virtual ~PciDevice() = default;
  // "0000:00:03.0"
  virtual const std::string& address() const = 0;
  // How it is reached: "vfio" or "uio" (tests: "fake").
  virtual const char* access() const = 0;
  // The controller's registers.
  virtual Mmio bar0() const = 0;
  // Memory the device can DMA to. Outlives every region allocated from it only
  // together with the device: destroy regions first.
  virtual DmaSpace& dma() = 0;
};

// Opens the function at `address` through the driver it is bound to (vfio-pci or
// uio_pci_generic). Every failure says which setup step is missing:
//   kNotFound            no such PCI device
//   kFailedPrecondition  not NVMe (class code), VFIO/UIO pieces missing (module not
//                        loaded, no IOMMU group, group not viable), not root for UIO
//   kUnavailable         bound to the kernel nvme driver or to no driver, or the
//                        VFIO group is in use by another process
//   kPermissionDenied    no permission on /dev/vfio/<group> or the sysfs resource
//   kResourceExhausted   DMA mapping refused (RLIMIT_MEMLOCK), no hugepages
// Control plane; blocks (opens, mmaps, ioctls).
absl::StatusOr<std::unique_ptr<PciDevice>> OpenPciDevice(const PciSysfs& sysfs,
                                                         const PciAddress& address,
                                                         DmaSpaceOptions dma_options = {});

// Implementations, called by OpenPciDevice once the function checked out.
absl::StatusOr<std::unique_ptr<PciDevice>> OpenVfioDevice(const PciSysfs& sysfs,
                                                          const PciFunction& function,
                                                          DmaSpaceOptions dma_options);
absl::StatusOr<std::unique_ptr<PciDevice>> OpenUioDevice(const PciSysfs& sysfs,
                                                         const PciFunction& function,
                                                         DmaSpaceOptions dma_options);

// Sets Memory Space Enable and Bus Master Enable in a PCI command register value:
// without bus mastering the controller cannot read its queues.
inline uint16_t WithBusMaster(uint16_t command) { return command | 0x2 | 0x4; }
inline constexpr uint32_t kPciCommandOffset = 4;

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_ENV_PCI_DEVICE_H_

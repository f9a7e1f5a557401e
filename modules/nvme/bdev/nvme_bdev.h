// The nvme bdev module's C++ API: attach a PCIe controller (one "NVMe disk" bdev per
// active namespace), detach, reset, list, and the module-wide options.
#ifndef BDEVKIT_MODULES_NVME_BDEV_NVME_BDEV_H_
#define BDEVKIT_MODULES_NVME_BDEV_NVME_BDEV_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "modules/nvme/bdev/nvme_ctrlr.h"
#include "modules/nvme/env/pci.h"
#include "modules/nvme/env/pci_device.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit::nvme {

// Attaches the controller at traddr (PCIe) or behind the NVMe/TCP target at
// traddr:trsvcid (subnqn) and registers its bdevs; `done` gets their names. Errors
// (nothing is left behind): kInvalidArgument (bad name/address/parameter, naming it),
// kAlreadyExists (name or device taken), and OpenPciDevice's / the TCP connection's /
// Controller::Attach's errors, which say which setup step is missing or which
// host:port did not answer. App thread; the blocking part runs on a worker thread;
// `done` on the app thread.
void AttachController(const AttachOptions& options,
                      std::function<void(absl::StatusOr<std::vector<std::string>>)> done);

// Unregisters the controller's bdevs, deletes its queues and shuts it down (CC.SHN).
// kNotFound if there is no such controller, kUnavailable during a reset. App thread.
void DetachController(const std::string& name, std::function<void(absl::Status)> done);

// Resets a controller (in-flight I/O is resubmitted afterwards). App thread.
void ResetController(const std::string& name, std::function<void(absl::Status)> done);

// bdev_nvme_get_controllers: all, or the one named (kNotFound). App thread.
absl::StatusOr<nlohmann::json> GetControllers(const std::string& name);

// bdev_nvme_set_options: only while no controller is attached (kFailedPrecondition).
absl::Status SetModuleOptions(const NvmeModuleOptions& options);
NvmeModuleOptions GetModuleOptions();

// How attach opens a PCI address: OpenPciDevice over sysfs by default. Tests put a
// fake controller behind it. App thread, while no attach runs; nullptr restores.
using PciDeviceOpener =
    std::function<absl::StatusOr<std::unique_ptr<PciDevice>>(const PciAddress& address)>;
void SetPciDeviceOpenerForTesting(PciDeviceOpener opener);

// Registers the module (called by bdevkit_register_module_nvme).
void RegisterNvmeModule();

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_BDEV_NVME_BDEV_H_

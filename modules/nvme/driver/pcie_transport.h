// The PCIe transport: an opened PCI function (BAR0 + DMA memory), queue pairs in our
// DMA memory (Qpair), created and deleted on the controller with admin commands.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_PCIE_TRANSPORT_H_
#define BDEVKIT_MODULES_NVME_DRIVER_PCIE_TRANSPORT_H_

#include <memory>
#include <string>

#include "modules/nvme/driver/qpair.h"
#include "modules/nvme/driver/transport.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {

class PcieTransport final : public Transport {
 public:
  explicit PcieTransport(std::unique_ptr<PciDevice> device);

  const char* trtype() const override { return "PCIe"; }
  const std::string& address() const override { return device_->address(); }
  const char* access() const override { return device_->access(); }
  bool fabrics() const override { return false; }
  Mmio registers() const override { return mmio_; }
  DmaSpace* dma() override { return &device_->dma(); }

  absl::StatusOr<std::unique_ptr<IoQpair>> CreateAdminQpair(const QpairConfig& config) override;
  absl::StatusOr<std::unique_ptr<IoQpair>> CreateIoQpair(const QpairConfig& config) override;
  absl::Status StartIoQueue(IoQpair& qp, AdminRunner admin) override;
  absl::Status StopIoQueue(IoQpair& qp, AdminRunner admin) override;
  void PrepareReset(IoQpair& qp) override;

  PciDevice& device() const { return *device_; }

 private:
  std::unique_ptr<PciDevice> device_;
  Mmio mmio_;
  uint32_t dstrd_ = 0;  // CAP.DSTRD: doorbell stride 4 << dstrd
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_PCIE_TRANSPORT_H_

// The transport seam of the NVMe driver. The controller logic (enable handshake,
// Identify, queue bookkeeping, reset, shutdown; controller.h) and the bdev module are
// the same for every transport; what differs is here:
//   - how the controller's registers are reached: memory-mapped (PCIe BAR0), or as
//     fabrics properties (Property Get/Set commands on the admin queue, which the
//     controller sends itself when registers() is not valid);
//   - how a queue pair is made: rings in DMA memory plus Create I/O CQ/SQ admin
//     commands (PCIe), or a connection plus a Fabrics Connect command (TCP);
//   - the queue pair object that carries commands (IoQpair).
#ifndef BDEVKIT_MODULES_NVME_DRIVER_TRANSPORT_H_
#define BDEVKIT_MODULES_NVME_DRIVER_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "modules/nvme/driver/identify.h"
#include "modules/nvme/driver/io_qpair.h"
#include "modules/nvme/driver/mmio.h"
#include "modules/nvme/env/dma_memory.h"

namespace bdevkit::nvme {

class Transport {
 public:
  // Runs one admin command synchronously on the controller's admin queue (the caller
  // holds the admin lock).
  using AdminRunner = absl::FunctionRef<absl::StatusOr<Completion>(const Command& cmd, void* buf,
                                                                   uint32_t len, bool to_device)>;

  virtual ~Transport() = default;

  // "PCIe" or "TCP" (the trtype SPDK reports).
  virtual const char* trtype() const = 0;
  // Where the controller is: "0000:00:03.0", "192.168.1.5:4420".
  virtual const std::string& address() const = 0;
  // How it is reached: "vfio", "uio", "fake" (tests), "tcp".
  virtual const char* access() const = 0;
  // NVMe over Fabrics: registers are properties, queues are connected, the controller
  // is kept alive with Keep Alive commands.
  virtual bool fabrics() const = 0;
  // Memory-mapped registers (PCIe); not valid() for fabrics.
  virtual Mmio registers() const { return {}; }
  // Memory the device can DMA to (PCIe); nullptr for fabrics.
  virtual DmaSpace* dma() { return nullptr; }

  // A new admin queue pair, empty. PCIe: rings in DMA memory, AQA/ASQ/ACQ written
  // (the controller is disabled). Fabrics: a new association: connection and Fabrics
  // Connect for queue 0; the controller ID it returns is kept for the I/O queues.
  // Blocks.
  virtual absl::StatusOr<std::unique_ptr<IoQpair>> CreateAdminQpair(const QpairConfig& config) = 0;
  // A new I/O queue pair object, not yet known to the controller (StartIoQueue).
  virtual absl::StatusOr<std::unique_ptr<IoQpair>> CreateIoQpair(const QpairConfig& config) = 0;
  // Makes the controller's side of an I/O queue pair, which is new or suspended by a
  // reset: PCIe sends Create I/O CQ then SQ through `admin`; fabrics opens a new
  // connection (dropping an old one) and sends Fabrics Connect on it. Blocks.
  virtual absl::Status StartIoQueue(IoQpair& qp, AdminRunner admin) = 0;
  // Removes it: PCIe sends Delete I/O SQ then CQ; fabrics closes the connection. The
  // qpair is idle. Blocks.
  virtual absl::Status StopIoQueue(IoQpair& qp, AdminRunner admin) = 0;
  // A reset is about to re-create the queues (every qpair is suspended and the
  // controller disabled or disconnected): PCIe zeroes the CQ ring. Resetting thread.
  virtual void PrepareReset(IoQpair& /*qp*/) {}
  // The controller's Identify data, once known (fabrics: the in-capsule data size of
  // the I/O queues comes from IOCCSZ).
  virtual void SetControllerData(const ControllerData& /*data*/) {}
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_TRANSPORT_H_

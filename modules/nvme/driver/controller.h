// One NVMe controller, whatever the transport (transport.h): the enable handshake, the
// admin queue, Identify, I/O queue pair creation and deletion, reset, keep-alive and
// shutdown. Registers are read and written through the transport's MMIO (PCIe) or as
// fabrics properties (Property Get/Set on the admin queue). Everything here is control
// plane: calls may block (register polling bounded by CAP.TO, admin commands bounded
// by a timeout) and are serialised by the admin lock; the I/O path is IoQpair, which
// never calls in here except through the epoch it reads when suspended.
#ifndef BDEVKIT_MODULES_NVME_DRIVER_CONTROLLER_H_
#define BDEVKIT_MODULES_NVME_DRIVER_CONTROLLER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "modules/nvme/driver/identify.h"
#include "modules/nvme/driver/io_qpair.h"
#include "modules/nvme/driver/mmio.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/driver/transport.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {

struct ControllerOptions {
  uint32_t admin_entries = 32;
  uint32_t io_queue_entries = 256;  // per I/O queue pair; capped by CAP.MQES
  uint32_t io_queues = 64;          // asked for with Set Features (Number of Queues)
  uint32_t bounce_pages = 512;      // per I/O queue pair (raised to hold a max transfer)
  absl::Duration admin_timeout = absl::Seconds(10);
  // Upper bound for any single wait on CSTS, whatever CAP.TO says (tests lower it).
  absl::Duration max_ready_wait = absl::Seconds(60);
  // Fabrics: the Keep Alive Timeout asked for in Connect; a Keep Alive command is sent
  // every half of it from PollAdmin(). 0: none.
  uint32_t keep_alive_timeout_ms = 10000;
};

class Controller {
 public:
  // Takes over a controller through its transport: disables it (PCIe) or connects
  // the admin queue (fabrics), sets up the admin queue, enables it, identifies it and
  // its active namespaces and asks for I/O queues. kDeadlineExceeded when CSTS.RDY
  // does not follow CC.EN within CAP.TO; the status of a failed admin command or of
  // the transport otherwise. Blocks.
  static absl::StatusOr<std::unique_ptr<Controller>> Attach(std::unique_ptr<Transport> transport,
                                                            const ControllerOptions& options);
  // PCIe: the same through a PcieTransport over `device`.
  static absl::StatusOr<std::unique_ptr<Controller>> Attach(std::unique_ptr<PciDevice> device,
                                                            const ControllerOptions& options);
  ~Controller();  // shuts down if not done yet
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  Transport& transport() const { return *transport_; }
  // The transport's address and access ("0000:00:03.0" and "vfio"; "host:port", "tcp").
  const std::string& address() const { return transport_->address(); }
  const char* access() const { return transport_->access(); }
  // DMA memory of a PCIe device; nullptr for fabrics.
  DmaSpace* dma() const { return transport_->dma(); }
  const ControllerData& data() const { return data_; }
  const std::vector<NamespaceData>& namespaces() const { return namespaces_; }
  const Cap& cap() const { return cap_; }
  uint32_t version() const { return version_; }
  // Largest transfer in bytes (MDTS, capped to what one PRP list of ours describes).
  uint32_t max_transfer() const { return max_transfer_; }
  uint32_t io_queues_granted() const { return io_queues_granted_; }

  // Creates an I/O queue pair (a fresh qid, its rings in our DMA memory, CQ then SQ on
  // the controller). During a reset the queue is created suspended and gets its
  // hardware queues when the reset finishes. kResourceExhausted when every granted
  // queue is in use. Any thread; blocks briefly (two admin commands).
  absl::StatusOr<std::unique_ptr<IoQpair>> CreateIoQpair(bool track_timeouts);
  // Deletes its SQ and CQ on the controller (fabrics: disconnects) and frees the qid.
  // The qpair must be idle. Any thread; blocks briefly.
  void DestroyIoQpair(std::unique_ptr<IoQpair> qpair);

  // Runs an admin command and waits for it (data through bounce pages if `buf` is not
  // DMA memory). Returns the completion (check ok()), kDeadlineExceeded on timeout,
  // kUnavailable if the controller failed. Any thread; blocks.
  absl::StatusOr<Completion> AdminCommand(const Command& cmd, void* buf, uint32_t len,
                                          bool to_device);
  // Sends Abort for (sqid, cid) without waiting; false when no abort can be sent now
  // (the controller's abort limit is reached or a reset is running). Any thread.
  bool SubmitAbort(uint16_t sqid, uint16_t cid);
  // Reaps completions of asynchronous admin commands (aborts, keep-alives) and, on
  // fabrics, sends a Keep Alive when one is due. Any thread; never blocks (skips if
  // another thread holds the admin queue).
  void PollAdmin();

  // PCIe: CSTS.CFS is set, or the registers read all ones (device gone). Fabrics: the
  // admin connection was lost or a keep-alive went unanswered. Any thread.
  bool FatalStatus() const;

  // Reset, step 1: from now on new queue pairs are created suspended. Call before
  // suspending the existing ones. Any thread.
  void BeginReset();
  // Reset, step 2, once every queue pair is suspended: disables the controller,
  // re-creates the admin queue, enables it, asks for the queues again and re-creates
  // every registered queue pair's CQ and SQ, then bumps the epoch (queue pairs resume
  // and resubmit). On failure the epoch is marked failed (queue pairs fail their
  // requests) and the error returned, unless `give_up_on_failure` is false: then the
  // reset stays under way (queue pairs stay suspended) for another FinishReset() or
  // AbandonReset(). Blocks.
  absl::Status FinishReset(bool give_up_on_failure = true);
  // Ends a reset that FinishReset(false) left under way: the controller is failed.
  void AbandonReset();
  // While reconnecting: suspended queue pairs fail what they hold and refuse new
  // requests (fast_io_fail_timeout_sec). Any thread.
  void SetFailIo(bool fail) { fail_io_.store(fail, std::memory_order_release); }
  // 0 = live; kEpochFailed bit = failed. Read by queue pairs when suspended.
  const std::atomic<uint32_t>& epoch() const { return epoch_; }
  bool failed() const { return (epoch_.load(std::memory_order_acquire) & kEpochFailed) != 0; }

  // Normal shutdown notification (CC.SHN) and wait for SHST complete. Queue pairs
  // must be destroyed first. Idempotent. Blocks.
  void Shutdown();

 private:
  explicit Controller(std::unique_ptr<Transport> transport, const ControllerOptions& options);

  // Register access: MMIO, or Property Get/Set on the admin queue. Under admin_mu_.
  absl::StatusOr<uint32_t> ReadReg32(uint32_t offset);
  absl::StatusOr<uint64_t> ReadReg64(uint32_t offset);
  absl::Status WriteReg32(uint32_t offset, uint32_t value);
  absl::StatusOr<uint64_t> PropertyGet(uint32_t offset, bool eight_bytes);

  absl::Status Initialize();            // under admin_mu_
  absl::Status CreateAdminQueue();      // under admin_mu_
  absl::Status EnableWithAdminQueue();  // under admin_mu_
  absl::Status WaitReady(bool ready, const char* what);
  absl::Status Identify();                 // under admin_mu_
  absl::Status SetNumberOfQueues();        // under admin_mu_
  absl::Status StartIoQueue(IoQpair& qp);  // under admin_mu_
  void SendKeepAlive();                    // under admin_mu_
  absl::StatusOr<Completion> AdminLocked(const Command& cmd, void* buf, uint32_t len,
                                         bool to_device);
  absl::Status CheckCompletion(const absl::StatusOr<Completion>& cpl, const char* what);
  void MarkFailed();

  std::unique_ptr<Transport> transport_;
  const ControllerOptions options_;
  const bool fabrics_;
  Mmio mmio_;  // PCIe registers; not valid() for fabrics
  Cap cap_;
  uint32_t version_ = 0;
  ControllerData data_;
  std::vector<NamespaceData> namespaces_;
  uint32_t max_transfer_ = 0;
  uint32_t io_queue_entries_ = 0;
  uint32_t io_queues_granted_ = 0;

  std::mutex admin_mu_;  // the admin queue, qid table, registry, reset state
  std::unique_ptr<IoQpair> admin_;
  std::vector<IoQpair*> io_qpairs_;  // registered, by qid (index = qid)
  bool resetting_ = false;
  bool shut_down_ = false;
  std::atomic<uint32_t> epoch_{0};
  std::atomic<bool> fail_io_{false};
  // Fabrics: the admin connection is gone or the target stopped answering.
  std::atomic<bool> admin_lost_{false};

  // Admin commands whose waiter gave up (timeout): kept until the admin queue is
  // re-created, because the queue still points at them.
  struct SyncOp;
  std::vector<std::unique_ptr<SyncOp>> abandoned_;
  // Fixed storage for in-flight aborts.
  struct AbortOp;
  std::vector<std::unique_ptr<AbortOp>> aborts_;
  // Fabrics keep-alive: the one in flight, when the next is due.
  struct KeepAliveOp;
  std::unique_ptr<KeepAliveOp> keep_alive_;
};

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_DRIVER_CONTROLLER_H_

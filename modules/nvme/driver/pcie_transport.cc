#include "modules/nvme/driver/pcie_transport.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "modules/nvme/driver/status.h"

namespace bdevkit::nvme {
namespace {

Command MakeCommand(uint8_t opcode) {
  Command c{};
  c.opcode = opcode;
  return c;
}

absl::Status Check(const absl::StatusOr<Completion>& cpl, const char* what) {
  if (!cpl.ok()) {
    return absl::Status(cpl.status().code(), absl::StrCat(what, ": ", cpl.status().message()));
  }
  if (!cpl->ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " failed: ", StatusName(cpl->sct(), cpl->sc())));
  }
  return absl::OkStatus();
}

// Every qpair of this transport is a Qpair: it made them.
Qpair& AsPcie(IoQpair& qp) { return static_cast<Qpair&>(qp); }

}  // namespace

PcieTransport::PcieTransport(std::unique_ptr<PciDevice> device)
    : device_(std::move(device)), mmio_(device_->bar0()) {
  if (mmio_.valid() && mmio_.size() >= reg::kCap + 8) {
    dstrd_ = Cap{mmio_.Read64(reg::kCap)}.dstrd();
  }
}

absl::StatusOr<std::unique_ptr<IoQpair>> PcieTransport::CreateAdminQpair(
    const QpairConfig& config) {
  absl::StatusOr<std::unique_ptr<Qpair>> admin = Qpair::Create(device_->dma(), config);
  if (!admin.ok()) return admin.status();
  (*admin)->SetDoorbells(mmio_.Register(SqTailDoorbell(0, dstrd_)),
                         mmio_.Register(CqHeadDoorbell(0, dstrd_)));
  const uint32_t n = config.entries - 1;  // AQA sizes are 0-based
  mmio_.Write32(reg::kAqa, (n << 16) | n);
  mmio_.Write64(reg::kAsq, (*admin)->sq_iova());
  mmio_.Write64(reg::kAcq, (*admin)->cq_iova());
  return std::unique_ptr<IoQpair>(std::move(*admin));
}

absl::StatusOr<std::unique_ptr<IoQpair>> PcieTransport::CreateIoQpair(const QpairConfig& config) {
  absl::StatusOr<std::unique_ptr<Qpair>> qp = Qpair::Create(device_->dma(), config);
  if (!qp.ok()) return qp.status();
  (*qp)->SetDoorbells(mmio_.Register(SqTailDoorbell(config.qid, dstrd_)),
                      mmio_.Register(CqHeadDoorbell(config.qid, dstrd_)));
  return std::unique_ptr<IoQpair>(std::move(*qp));
}

absl::Status PcieTransport::StartIoQueue(IoQpair& io, AdminRunner admin) {
  Qpair& qp = AsPcie(io);
  const uint32_t size_and_id = ((qp.entries() - 1) << 16) | qp.qid();
  Command cq = MakeCommand(admin_op::kCreateIoCq);
  cq.prp1 = qp.cq_iova();
  cq.cdw10 = size_and_id;
  cq.cdw11 = 1;  // physically contiguous; interrupts off (IEN = 0): we poll
  if (absl::Status s = Check(admin(cq, nullptr, 0, false), "Create I/O CQ"); !s.ok()) return s;
  Command sq = MakeCommand(admin_op::kCreateIoSq);
  sq.prp1 = qp.sq_iova();
  sq.cdw10 = size_and_id;
  sq.cdw11 = (uint32_t{qp.qid()} << 16) | 1;  // its CQ, physically contiguous
  if (absl::Status s = Check(admin(sq, nullptr, 0, false), "Create I/O SQ"); !s.ok()) {
    Command del = MakeCommand(admin_op::kDeleteIoCq);
    del.cdw10 = qp.qid();
    (void)admin(del, nullptr, 0, false);
    return s;
  }
  return absl::OkStatus();
}

absl::Status PcieTransport::StopIoQueue(IoQpair& qp, AdminRunner admin) {
  Command sq = MakeCommand(admin_op::kDeleteIoSq);
  sq.cdw10 = qp.qid();
  absl::Status s = Check(admin(sq, nullptr, 0, false), "Delete I/O SQ");
  Command cq = MakeCommand(admin_op::kDeleteIoCq);
  cq.cdw10 = qp.qid();
  absl::Status c = Check(admin(cq, nullptr, 0, false), "Delete I/O CQ");
  return s.ok() ? c : s;
}

void PcieTransport::PrepareReset(IoQpair& qp) { AsPcie(qp).ClearCompletionRing(); }

}  // namespace bdevkit::nvme

#include "modules/nvme/driver/controller.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bdevkit/log.h"
#include "modules/nvme/driver/fabrics.h"
#include "modules/nvme/driver/pcie_transport.h"
#include "modules/nvme/driver/status.h"

namespace bdevkit::nvme {

struct Controller::SyncOp {
  Request req;
  Completion cpl{};
  bool done = false;
};

struct Controller::KeepAliveOp {
  Request req;
  bool busy = false;
  absl::Time sent;
  absl::Time next_due;
};

struct Controller::AbortOp {
  Request req;
  bool busy = false;
  uint16_t sqid = 0;
  uint16_t cid = 0;
};

namespace {

constexpr uint32_t kAdminBouncePages = 16;  // admin data up to 64 KiB
constexpr size_t kMaxAborts = 4;

Command MakeCommand(uint8_t opcode, uint32_t nsid = 0) {
  Command c{};
  c.opcode = opcode;
  c.nsid = nsid;
  return c;
}

}  // namespace

Controller::Controller(std::unique_ptr<Transport> transport, const ControllerOptions& options)
    : transport_(std::move(transport)),
      options_(options),
      fabrics_(transport_->fabrics()),
      mmio_(transport_->registers()),
      keep_alive_(std::make_unique<KeepAliveOp>()) {}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Attach(std::unique_ptr<PciDevice> device,
                                                               const ControllerOptions& options) {
  return Attach(std::make_unique<PcieTransport>(std::move(device)), options);
}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Attach(std::unique_ptr<Transport> transport,
                                                               const ControllerOptions& options) {
  std::unique_ptr<Controller> c(new Controller(std::move(transport), options));
  std::lock_guard lock(c->admin_mu_);
  if (absl::Status s = c->Initialize(); !s.ok()) {
    const std::string where = c->address();
    // Leave the controller disabled: it holds no queue of ours any more. (Fabrics:
    // dropping the admin connection ends the association.)
    if (c->mmio_.valid() && c->mmio_.size() > reg::kCc + 4) {
      c->mmio_.Write32(reg::kCc, c->mmio_.Read32(reg::kCc) & ~cc::kEnable);
    }
    c->admin_.reset();
    c->shut_down_ = true;
    if (absl::StrContains(s.message(), where)) return s;  // it says where already
    return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
  }
  return c;
}

absl::StatusOr<uint64_t> Controller::PropertyGet(uint32_t offset, bool eight_bytes) {
  absl::StatusOr<Completion> cpl =
      AdminLocked(MakePropertyGet(offset, eight_bytes), nullptr, 0, false);
  if (absl::Status s = CheckCompletion(cpl, "Property Get"); !s.ok()) return s;
  return PropertyValue(*cpl);
}

absl::StatusOr<uint32_t> Controller::ReadReg32(uint32_t offset) {
  if (!fabrics_) return mmio_.Read32(offset);
  absl::StatusOr<uint64_t> v = PropertyGet(offset, false);
  if (!v.ok()) return v.status();
  return static_cast<uint32_t>(*v);
}

absl::StatusOr<uint64_t> Controller::ReadReg64(uint32_t offset) {
  if (!fabrics_) return mmio_.Read64(offset);
  return PropertyGet(offset, true);
}

absl::Status Controller::WriteReg32(uint32_t offset, uint32_t value) {
  if (!fabrics_) {
    mmio_.Write32(offset, value);
    return absl::OkStatus();
  }
  return CheckCompletion(AdminLocked(MakePropertySet(offset, value), nullptr, 0, false),
                         "Property Set");
}

Controller::~Controller() {
  Shutdown();
  admin_.reset();
}

absl::Status Controller::Initialize() {
  if (fabrics_) {
    // Properties are reached through the admin queue: connect it first (a new
    // association starts with the controller disabled).
    if (absl::Status s = CreateAdminQueue(); !s.ok()) return s;
  } else if (!mmio_.valid() || mmio_.size() < reg::kDoorbellBase + 8) {
    return absl::FailedPreconditionError("BAR0 is too small for an NVMe controller");
  }
  absl::StatusOr<uint64_t> cap = ReadReg64(reg::kCap);
  if (!cap.ok()) return cap.status();
  absl::StatusOr<uint32_t> vs = ReadReg32(reg::kVs);
  if (!vs.ok()) return vs.status();
  cap_.raw = *cap;
  version_ = *vs;
  if (cap_.raw == ~uint64_t{0}) {
    return absl::UnavailableError("the controller does not respond (registers read all ones)");
  }
  if (!cap_.nvm_css()) {
    return absl::FailedPreconditionError("the controller does not support the NVM command set");
  }
  if (cap_.mpsmin() > 0) {
    return absl::FailedPreconditionError(absl::StrCat("the controller's smallest memory page is ",
                                                      4096u << cap_.mpsmin(),
                                                      " bytes; only 4 KiB pages are supported"));
  }
  if (absl::Status s = EnableWithAdminQueue(); !s.ok()) return s;
  if (absl::Status s = Identify(); !s.ok()) return s;
  if (absl::Status s = SetNumberOfQueues(); !s.ok()) return s;
  transport_->SetControllerData(data_);
  uint64_t mdts_bytes = data_.mdts == 0 ? UINT64_MAX : (uint64_t{kPageSize} << data_.mdts);
  max_transfer_ =
      static_cast<uint32_t>(std::min<uint64_t>(mdts_bytes, kMaxTransferPages * kPageSize));
  io_queue_entries_ = std::min(options_.io_queue_entries, cap_.mqes());
  LOG_INFO(
      "nvme: %s: %s (serial %s, firmware %s), NVMe %s, %zu namespace(s), %u I/O queues, "
      "max transfer %u KiB, doorbell stride %u, via %s",
      address(), data_.model, data_.serial, data_.firmware, VersionString(version_),
      namespaces_.size(), io_queues_granted_, max_transfer_ / 1024, 4u << cap_.dstrd(), access());
  return absl::OkStatus();
}

absl::Status Controller::WaitReady(bool ready, const char* what) {
  // CAP.TO is the worst case in 500 ms units for RDY to follow CC.EN.
  absl::Duration limit = absl::Milliseconds(500) * std::max<uint32_t>(cap_.to_500ms(), 1);
  limit = std::min(limit, options_.max_ready_wait);
  const absl::Time deadline = absl::Now() + limit;
  for (;;) {
    absl::StatusOr<uint32_t> read = ReadReg32(reg::kCsts);
    if (!read.ok()) {
      return absl::Status(read.status().code(), absl::StrCat("reading CSTS while waiting to ", what,
                                                             ": ", read.status().message()));
    }
    const uint32_t csts = *read;
    if (csts == UINT32_MAX) {
      return absl::UnavailableError(absl::StrCat("the controller stopped responding while ", what));
    }
    if (ready && (csts & csts::kFatal) != 0) {
      return absl::InternalError(
          absl::StrCat("the controller reported a fatal status (CSTS.CFS) while ", what));
    }
    if (((csts & csts::kReady) != 0) == ready) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the controller did not ", what, " within ",
                                                      absl::FormatDuration(limit), " (CAP.TO)"));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

absl::Status Controller::CreateAdminQueue() {
  admin_.reset();
  abandoned_.clear();
  for (auto& a : aborts_) a->busy = false;
  keep_alive_->busy = false;
  QpairConfig config;
  config.qid = 0;
  config.entries = options_.admin_entries;
  config.max_transfer = kAdminBouncePages * kPageSize;
  config.bounce_pages = kAdminBouncePages;
  absl::StatusOr<std::unique_ptr<IoQpair>> admin = transport_->CreateAdminQpair(config);
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  admin_lost_.store(false, std::memory_order_release);
  keep_alive_->next_due = absl::Now() + absl::Milliseconds(options_.keep_alive_timeout_ms / 2);
  return absl::OkStatus();
}

absl::Status Controller::EnableWithAdminQueue() {
  if (!fabrics_) {
    // 1. Disabled: the controller drops every queue (ours from before, or the kernel's).
    uint32_t cc = mmio_.Read32(reg::kCc);
    if ((cc & cc::kEnable) != 0 || (mmio_.Read32(reg::kCsts) & csts::kReady) != 0) {
      mmio_.Write32(reg::kCc, cc & ~cc::kEnable);
    }
    if (absl::Status s = WaitReady(false, "become disabled (CSTS.RDY=0)"); !s.ok()) return s;
    // 2. A fresh admin queue (its rings zeroed, phase 1), AQA/ASQ/ACQ written.
    if (absl::Status s = CreateAdminQueue(); !s.ok()) return s;
  } else if (admin_ == nullptr) {
    // 1-2. Fabrics: a new association (connection + Connect) starts disabled.
    if (absl::Status s = CreateAdminQueue(); !s.ok()) return s;
  }

  // 3. Enable: 4 KiB pages, NVM command set, round robin, 64-byte SQEs, 16-byte CQEs.
  // (PCIe: the register writes above are uncached MMIO, ordered before this one.)
  if (absl::Status s = WriteReg32(reg::kCc, cc::kEnable | cc::kCssNvm | (0u << cc::kMpsShift) |
                                                cc::kAmsRoundRobin | (6u << cc::kIosqesShift) |
                                                (4u << cc::kIocqesShift));
      !s.ok()) {
    return s;
  }
  return WaitReady(true, "become ready (CSTS.RDY=1)");
}

absl::StatusOr<Completion> Controller::AdminLocked(const Command& cmd, void* buf, uint32_t len,
                                                   bool to_device) {
  if (admin_ == nullptr) return absl::UnavailableError("the admin queue is not set up");
  auto op = std::make_unique<SyncOp>();
  op->req.cmd = cmd;
  op->req.SetBuffer(buf, len);
  op->req.to_device = to_device;
  op->req.cb = [](void* arg, const Completion& cpl) {
    auto* o = static_cast<SyncOp*>(arg);
    o->cpl = cpl;
    o->done = true;
  };
  op->req.cb_arg = op.get();
  if (int rc = admin_->Submit(op->req); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin command 0x", absl::Hex(cmd.opcode), " refused: ", len,
                     " bytes of data is more than the admin queue takes"));
  }
  const absl::Time deadline = absl::Now() + options_.admin_timeout;
  for (uint32_t spins = 0; !op->done; ++spins) {
    admin_->Poll();
    if (op->done) break;
    if (admin_->broken()) {
      admin_lost_.store(true, std::memory_order_release);
      abandoned_.push_back(std::move(op));
      return absl::UnavailableError(
          absl::StrCat("the connection to ", address(), " was lost during an admin command"));
    }
    if ((spins & 0xff) == 0xff) {
      if (FatalStatus()) {
        abandoned_.push_back(std::move(op));
        return absl::UnavailableError("the controller failed (CSTS.CFS) during an admin command");
      }
      if (absl::Now() > deadline) {
        abandoned_.push_back(std::move(op));
        return absl::DeadlineExceededError(
            absl::StrCat("admin command 0x", absl::Hex(cmd.opcode), " did not complete within ",
                         absl::FormatDuration(options_.admin_timeout)));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  return op->cpl;
}

absl::Status Controller::CheckCompletion(const absl::StatusOr<Completion>& cpl, const char* what) {
  if (!cpl.ok())
    return absl::Status(cpl.status().code(), absl::StrCat(what, ": ", cpl.status().message()));
  if (!cpl->ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " failed: ", StatusName(cpl->sct(), cpl->sc())));
  }
  return absl::OkStatus();
}

absl::Status Controller::Identify() {
  std::vector<uint8_t> buf(kIdentifySize);
  Command id = MakeCommand(admin_op::kIdentify);
  id.cdw10 = cns::kController;
  if (absl::Status s =
          CheckCompletion(AdminLocked(id, buf.data(), kIdentifySize, false), "Identify Controller");
      !s.ok()) {
    return s;
  }
  data_ = ParseControllerData(buf.data());
  if ((data_.sqes & 0xf) > 6 || (data_.cqes & 0xf) > 4) {
    return absl::FailedPreconditionError(
        "the controller needs larger queue entries than 64/16 bytes");
  }
  // Active namespaces: the list (NVMe >= 1.1), else every ID up to NN.
  std::vector<uint32_t> ids;
  if (version_ >= 0x10100) {
    uint32_t start = 0;
    for (;;) {
      std::fill(buf.begin(), buf.end(), 0);
      Command list = MakeCommand(admin_op::kIdentify, start);
      list.cdw10 = cns::kActiveNamespaceList;
      if (absl::Status s = CheckCompletion(AdminLocked(list, buf.data(), kIdentifySize, false),
                                           "Identify (active namespace list)");
          !s.ok()) {
        return s;
      }
      std::vector<uint32_t> part = ParseNamespaceList(buf.data());
      ids.insert(ids.end(), part.begin(), part.end());
      if (part.size() < kIdentifySize / 4) break;
      start = part.back();
    }
  } else {
    for (uint32_t i = 1; i <= data_.nn; ++i) ids.push_back(i);
  }
  namespaces_.clear();
  for (uint32_t nsid : ids) {
    std::fill(buf.begin(), buf.end(), 0);
    Command ns = MakeCommand(admin_op::kIdentify, nsid);
    ns.cdw10 = cns::kNamespace;
    if (absl::Status s = CheckCompletion(AdminLocked(ns, buf.data(), kIdentifySize, false),
                                         "Identify Namespace");
        !s.ok()) {
      return s;
    }
    NamespaceData nd = ParseNamespaceData(nsid, buf.data());
    if (nd.size_blocks == 0) continue;  // inactive
    if (version_ >= 0x10300) {
      // The namespace's UUID, which makes a stable bdev UUID. Optional: a controller
      // that refuses the descriptor list still works.
      std::fill(buf.begin(), buf.end(), 0);
      Command desc = MakeCommand(admin_op::kIdentify, nsid);
      desc.cdw10 = cns::kNamespaceIdDescriptors;
      absl::StatusOr<Completion> dc = AdminLocked(desc, buf.data(), kIdentifySize, false);
      if (dc.ok() && dc->ok()) ParseNamespaceIdDescriptors(buf.data(), &nd);
    }
    if (nd.format_index() >= nd.lba_formats.size() || nd.format().lba_data_shift < 9) {
      LOG_WARNING("nvme: %s: namespace %u has an unusable LBA format; skipped", address(), nsid);
      continue;
    }
    if (nd.metadata_size() != 0) {
      LOG_WARNING(
          "nvme: %s: namespace %u is formatted with %u bytes of metadata per block, "
          "which this driver does not handle; skipped",
          address(), nsid, nd.metadata_size());
      continue;
    }
    namespaces_.push_back(std::move(nd));
  }
  return absl::OkStatus();
}

absl::Status Controller::SetNumberOfQueues() {
  const uint32_t want = std::clamp<uint32_t>(options_.io_queues, 1, 65535);
  Command sf = MakeCommand(admin_op::kSetFeatures);
  sf.cdw10 = feature::kNumberOfQueues;
  sf.cdw11 = ((want - 1) << 16) | (want - 1);
  absl::StatusOr<Completion> cpl = AdminLocked(sf, nullptr, 0, false);
  if (absl::Status s = CheckCompletion(cpl, "Set Features (Number of Queues)"); !s.ok()) return s;
  uint32_t sq = (cpl->cdw0 & 0xffff) + 1;
  uint32_t cq = (cpl->cdw0 >> 16) + 1;
  uint32_t granted = std::min({want, sq, cq});
  if (io_queues_granted_ != 0 && granted < io_queues_granted_) {
    // After a reset: queue pairs with higher qids could not be re-created.
    for (uint32_t q = granted + 1; q < io_qpairs_.size(); ++q) {
      if (io_qpairs_[q] != nullptr) {
        return absl::ResourceExhaustedError("the controller grants fewer queues after the reset");
      }
    }
  }
  io_queues_granted_ = granted;
  io_qpairs_.resize(std::max<size_t>(io_qpairs_.size(), granted + 1), nullptr);
  return absl::OkStatus();
}

absl::Status Controller::StartIoQueue(IoQpair& qp) {
  return transport_->StartIoQueue(
      qp, [this](const Command& cmd, void* buf, uint32_t len, bool to_device) {
        return AdminLocked(cmd, buf, len, to_device);
      });
}

absl::StatusOr<std::unique_ptr<IoQpair>> Controller::CreateIoQpair(bool track_timeouts) {
  std::lock_guard lock(admin_mu_);
  if (failed() || shut_down_) return absl::UnavailableError("the controller has failed");
  uint16_t qid = 0;
  for (uint32_t q = 1; q <= io_queues_granted_; ++q) {
    if (io_qpairs_[q] == nullptr) {
      qid = static_cast<uint16_t>(q);
      break;
    }
  }
  if (qid == 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", io_queues_granted_, " I/O queues the controller granted are in use"));
  }
  QpairConfig config;
  config.qid = qid;
  config.entries = io_queue_entries_;
  config.max_transfer = max_transfer_;
  // At least one max-size transfer's worth, so every request can be bounced.
  config.bounce_pages = std::max(options_.bounce_pages, max_transfer_ / kPageSize);
  config.track_timeouts = track_timeouts;
  config.ctrlr_epoch = &epoch_;
  config.fail_io = &fail_io_;
  absl::StatusOr<std::unique_ptr<IoQpair>> qp = transport_->CreateIoQpair(config);
  if (!qp.ok()) return qp.status();
  if (resetting_) {
    // FinishReset creates its hardware queues (connects it); it resumes when the
    // epoch moves.
    (*qp)->Suspend();
  } else if (absl::Status s = StartIoQueue(**qp); !s.ok()) {
    return s;
  }
  io_qpairs_[qid] = qp->get();
  return qp;
}

void Controller::DestroyIoQpair(std::unique_ptr<IoQpair> qp) {
  if (qp == nullptr) return;
  std::lock_guard lock(admin_mu_);
  const uint16_t qid = qp->qid();
  if (qid < io_qpairs_.size()) io_qpairs_[qid] = nullptr;
  // During a reset the controller is about to drop every queue anyway. (A fabrics
  // queue pair's connection closes with the object.)
  if (failed() || shut_down_ || resetting_) return;
  absl::Status s = transport_->StopIoQueue(
      *qp, [this](const Command& cmd, void* buf, uint32_t len, bool to_device) {
        return AdminLocked(cmd, buf, len, to_device);
      });
  if (!s.ok()) LOG_ERROR("nvme: %s: %s", address(), std::string(s.message()));
}

absl::StatusOr<Completion> Controller::AdminCommand(const Command& cmd, void* buf, uint32_t len,
                                                    bool to_device) {
  std::lock_guard lock(admin_mu_);
  if (failed() || shut_down_) return absl::UnavailableError("the controller has failed");
  return AdminLocked(cmd, buf, len, to_device);
}

bool Controller::SubmitAbort(uint16_t sqid, uint16_t cid) {
  std::unique_lock lock(admin_mu_, std::try_to_lock);
  if (!lock.owns_lock() || resetting_ || failed() || shut_down_ || admin_ == nullptr) return false;
  const size_t limit = std::min<size_t>(kMaxAborts, size_t{data_.acl} + 1);
  AbortOp* op = nullptr;
  for (auto& a : aborts_) {
    if (!a->busy) op = a.get();
  }
  if (op == nullptr) {
    if (aborts_.size() >= limit) return false;
    aborts_.push_back(std::make_unique<AbortOp>());
    op = aborts_.back().get();
  }
  op->busy = true;
  op->sqid = sqid;
  op->cid = cid;
  op->req = Request{};
  op->req.cmd = MakeCommand(admin_op::kAbort);
  op->req.cmd.cdw10 = (uint32_t{cid} << 16) | sqid;
  op->req.cb = [](void* arg, const Completion& cpl) {
    auto* a = static_cast<AbortOp*>(arg);
    a->busy = false;
    // DW0 bit 0 set: the command was not aborted (it may still complete, or the
    // next timeout check resets the controller).
    LOG_NOTICE(
        "nvme: abort of command %u on queue %u: %s", a->cid, a->sqid,
        !cpl.ok() ? StatusName(cpl.sct(), cpl.sc()) : ((cpl.cdw0 & 1) ? "not aborted" : "aborted"));
  };
  op->req.cb_arg = op;
  if (admin_->Submit(op->req) != 0) {
    op->busy = false;
    return false;
  }
  admin_->Poll();  // rings the doorbell
  return true;
}

void Controller::PollAdmin() {
  std::unique_lock lock(admin_mu_, std::try_to_lock);
  if (!lock.owns_lock() || admin_ == nullptr || resetting_ || shut_down_) return;
  admin_->Poll();
  if (!fabrics_) return;
  if (admin_->broken()) {
    admin_lost_.store(true, std::memory_order_release);
    return;
  }
  SendKeepAlive();
}

void Controller::SendKeepAlive() {
  if (options_.keep_alive_timeout_ms == 0 || failed()) return;
  KeepAliveOp& ka = *keep_alive_;
  const absl::Time now = absl::Now();
  if (ka.busy) {
    // The target answers a Keep Alive at once; none within the whole timeout means
    // it (or the path) is gone even if the connection looks open.
    if (now - ka.sent > absl::Milliseconds(options_.keep_alive_timeout_ms)) {
      LOG_ERROR("nvme: %s: no answer to Keep Alive within %u ms", address(),
                options_.keep_alive_timeout_ms);
      admin_lost_.store(true, std::memory_order_release);
    }
    return;
  }
  if (now < ka.next_due) return;
  ka.req = Request{};
  ka.req.cmd = MakeCommand(admin_op::kKeepAlive);
  ka.req.cb = [](void* arg, const Completion& cpl) {
    auto* op = static_cast<KeepAliveOp*>(arg);
    op->busy = false;
    if (!cpl.ok()) LOG_WARNING("nvme: Keep Alive failed: %s", StatusName(cpl.sct(), cpl.sc()));
  };
  ka.req.cb_arg = &ka;
  if (admin_->Submit(ka.req) != 0) return;
  ka.busy = true;
  ka.sent = now;
  ka.next_due = now + absl::Milliseconds(options_.keep_alive_timeout_ms / 2);
  admin_->Poll();  // sends it
}

bool Controller::FatalStatus() const {
  if (fabrics_) return admin_lost_.load(std::memory_order_acquire);
  uint32_t csts = mmio_.Read32(reg::kCsts);
  return csts == UINT32_MAX || (csts & csts::kFatal) != 0;
}

void Controller::BeginReset() {
  std::lock_guard lock(admin_mu_);
  resetting_ = true;
}

void Controller::MarkFailed() {
  uint32_t e = epoch_.load(std::memory_order_relaxed);
  // Release: pairs with the queue pairs' acquire load of the epoch.
  epoch_.store((((e & ~kEpochFailed) + 1) & ~kEpochFailed) | kEpochFailed,
               std::memory_order_release);
}

absl::Status Controller::FinishReset(bool give_up_on_failure) {
  std::lock_guard lock(admin_mu_);
  absl::Status s = [&]() -> absl::Status {
    if (shut_down_) return absl::UnavailableError("the controller was shut down");
    // Every I/O queue pair is suspended: none touches its rings, doorbells or socket
    // until the epoch changes, so they can be re-created under it.
    if (fabrics_) {
      // Dropping the admin connection ends the association (and with it the old I/O
      // queues); EnableWithAdminQueue connects a new one.
      admin_.reset();
    } else {
      mmio_.Write32(reg::kCc, mmio_.Read32(reg::kCc) & ~cc::kEnable);
      if (absl::Status w = WaitReady(false, "become disabled for the reset"); !w.ok()) return w;
    }
    for (IoQpair* qp : io_qpairs_) {
      if (qp != nullptr) transport_->PrepareReset(*qp);
    }
    if (absl::Status e = EnableWithAdminQueue(); !e.ok()) return e;
    if (absl::Status q = SetNumberOfQueues(); !q.ok()) return q;
    for (IoQpair* qp : io_qpairs_) {
      if (qp == nullptr) continue;
      if (absl::Status c = StartIoQueue(*qp); !c.ok()) return c;
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    if (!give_up_on_failure) {
      // Stays resetting: another attempt follows, the queue pairs keep waiting.
      if (fabrics_) admin_.reset();
      LOG_WARNING("nvme: %s: reconnect failed: %s", address(), std::string(s.message()));
      return s;
    }
    resetting_ = false;
    LOG_ERROR("nvme: %s: reset failed: %s; the controller is marked failed", address(),
              std::string(s.message()));
    MarkFailed();
    return s;
  }
  resetting_ = false;
  fail_io_.store(false, std::memory_order_release);
  // Release: the re-created queues and cleared rings happen-before any queue pair
  // that sees the new epoch (acquire) touching them.
  epoch_.store((epoch_.load(std::memory_order_relaxed) + 1) & ~kEpochFailed,
               std::memory_order_release);
  LOG_NOTICE("nvme: %s: controller reset done", address());
  return absl::OkStatus();
}

void Controller::AbandonReset() {
  std::lock_guard lock(admin_mu_);
  if (!resetting_) return;
  resetting_ = false;
  admin_.reset();
  LOG_ERROR("nvme: %s: giving up on the controller; it is marked failed", address());
  MarkFailed();
}

void Controller::Shutdown() {
  std::lock_guard lock(admin_mu_);
  if (shut_down_) return;
  if (fabrics_) {
    if (admin_ == nullptr || admin_lost_.load() || failed()) {
      shut_down_ = true;
      admin_.reset();
      return;
    }
  } else if (!mmio_.valid() || mmio_.Read32(reg::kCsts) == UINT32_MAX) {
    shut_down_ = true;
    return;
  }
  for (IoQpair* qp : io_qpairs_) {
    if (qp != nullptr) {
      LOG_ERROR("nvme: %s: shutdown with I/O queue %u still existing", address(), qp->qid());
    }
  }
  // Normal shutdown: the controller flushes its caches and metadata and reports
  // SHST=complete; the data is then safe whatever happens to the power.
  absl::StatusOr<uint32_t> cc = ReadReg32(reg::kCc);
  if (!cc.ok() || !WriteReg32(reg::kCc, (*cc & ~cc::kShnMask) | cc::kShnNormal).ok()) {
    LOG_WARNING("nvme: %s: could not ask for a shutdown", address());
    shut_down_ = true;
    admin_.reset();
    return;
  }
  absl::Duration limit =
      std::min(std::max(absl::Milliseconds(500) * cap_.to_500ms(), absl::Seconds(5)),
               options_.max_ready_wait);
  const absl::Time deadline = absl::Now() + limit;
  for (;;) {
    absl::StatusOr<uint32_t> csts = ReadReg32(reg::kCsts);
    if (csts.ok() && (*csts & csts::kShstMask) == csts::kShstComplete) break;
    if (!csts.ok() || absl::Now() > deadline) {
      LOG_WARNING("nvme: %s: shutdown not reported complete within %s", address(),
                  absl::FormatDuration(limit));
      shut_down_ = true;
      admin_.reset();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  shut_down_ = true;
  admin_.reset();  // fabrics: disconnects
  LOG_INFO("nvme: %s: shutdown complete", address());
}

}  // namespace bdevkit::nvme

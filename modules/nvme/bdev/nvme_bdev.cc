// The nvme module: one NvmeBdev ("NVMe disk") per active namespace of an attached
// controller. I/O goes straight to the calling thread's queue pair: the request lives
// in the BdevIo's driver context, so submitting allocates nothing.
#include "modules/nvme/bdev/nvme_bdev.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "modules/nvme/driver/status.h"
#include "modules/nvme/env/pci.h"
#include "modules/nvme/env/pci_device.h"
#include "nlohmann/json.hpp"

namespace bdevkit::nvme {
namespace {

constexpr char kModuleName[] = "nvme";

class NvmeModule : public BdevModule {
 public:
  NvmeModule() : BdevModule(kModuleName) {}

  void Fini() override {
    // Controllers still here have no bdev (no active namespace), hence no channel.
    for (auto& [name, c] : ctrlrs) c->DetachNow();
    ctrlrs.clear();
  }

  void WriteConfigJson(nlohmann::json& config) const override {
    config.push_back({{"method", "bdev_nvme_set_options"},
                      {"params",
                       {{"action_on_timeout", TimeoutActionName(options.action_on_timeout)},
                        {"timeout_us", options.timeout_us},
                        {"timeout_admin_us", options.timeout_admin_us},
                        {"io_queue_requests", options.io_queue_requests},
                        {"transport_retry_count", options.transport_retry_count},
                        {"nvme_adminq_poll_period_us", options.nvme_adminq_poll_period_us}}}});
    std::vector<const NvmeCtrlr*> sorted;
    for (const auto& [name, c] : ctrlrs) sorted.push_back(c.get());
    std::sort(sorted.begin(), sorted.end(),
              [](const NvmeCtrlr* a, const NvmeCtrlr* b) { return a->name() < b->name(); });
    for (const NvmeCtrlr* c : sorted) config.push_back(c->AttachConfigJson());
  }

  NvmeModuleOptions options;
  absl::flat_hash_map<std::string, std::unique_ptr<NvmeCtrlr>> ctrlrs;
  // Attaches under way (name -> PCI address), so two cannot take one name or device.
  absl::flat_hash_map<std::string, std::string> pending;
  PciDeviceOpener opener;  // tests only
};

NvmeModule* Module() { return static_cast<NvmeModule*>(FindModule(kModuleName)); }

// Per-I/O state in the BdevIo's driver context.
struct NvmeIo {
  Request req;
  DsmRange range;  // the data of an unmap (dataset management)
  IoStatus reset_status;
};

IoStatus ToIoStatus(const Completion& cpl) {
  if (cpl.ok()) return IoStatus::Success();
  return {StatusToErrno(cpl.sct(), cpl.sc()), cpl.sct(), cpl.sc()};
}

void SetLbaRange(Command& cmd, uint64_t lba, uint64_t blocks) {
  cmd.cdw10 = static_cast<uint32_t>(lba);
  cmd.cdw11 = static_cast<uint32_t>(lba >> 32);
  cmd.cdw12 = static_cast<uint32_t>(blocks - 1);  // NLB is 0-based
}

// The namespace's UUID if it has one (NGUID, else EUI-64 widened), as text; else "".
std::string NamespaceUuid(const NamespaceData& ns) {
  std::array<uint8_t, 16> id = ns.uuid;
  if (!ns.has_uuid) {
    id = ns.nguid;
    if (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; })) return "";
  }
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9],
                         id[10], id[11], id[12], id[13], id[14], id[15]);
}

class NvmeBdev : public Bdev {
 public:
  NvmeBdev(BdevModule* module, BdevProperties props, NvmeCtrlr& ctrlr, const NamespaceData& ns)
      : Bdev(module, std::move(props)), ctrlr_(ctrlr), nsid_(ns.nsid) {}

  bool IoTypeSupported(IoType type) const override {
    const ControllerData& d = ctrlr_.controller().data();
    switch (type) {
      case IoType::kRead:
      case IoType::kWrite:
      case IoType::kFlush:
      case IoType::kReset:
        return true;
      case IoType::kWriteZeroes:
        return d.supports_write_zeroes();
      case IoType::kUnmap:
        return d.supports_dsm();
    }
    return false;
  }

  NvmeCtrlr& ctrlr() const { return ctrlr_; }

 protected:
  void SubmitIo(IoChannel& ch, BdevIo& io) override;
  IoChannel* GetBackendChannel() override { return ctrlr_.GetIoChannel(); }
  void Destruct(std::function<void()> done) override;
  void DumpInfoJson(nlohmann::json& driver_specific) const override {
    driver_specific["nvme"] = nlohmann::json::array({ctrlr_.NamespaceInfoJson(nsid_)});
  }
  // The controller's bdev_nvme_attach_controller call (module config) recreates this
  // bdev; nothing per bdev.
  void WriteConfigJson(nlohmann::json&) const override {}

 private:
  static void OnComplete(void* arg, const Completion& cpl) {
    CompleteIo(*static_cast<BdevIo*>(arg), ToIoStatus(cpl));
  }
  void SubmitReset(IoChannel& ch, BdevIo& io);

  NvmeCtrlr& ctrlr_;
  const uint32_t nsid_;
};

void NvmeBdev::SubmitIo(IoChannel& ch, BdevIo& io) {
  if (io.type == IoType::kReset) return SubmitReset(ch, io);
  NvmeIo& x = io.driver_ctx<NvmeIo>();
  x.req = Request{};
  Command& cmd = x.req.cmd;
  cmd.nsid = nsid_;
  switch (io.type) {
    case IoType::kRead:
    case IoType::kWrite:
      cmd.opcode = io.type == IoType::kRead ? io_op::kRead : io_op::kWrite;
      SetLbaRange(cmd, io.offset_blocks, io.num_blocks);
      x.req.iovs = io.iovs;
      x.req.iovcnt = io.iovcnt;
      x.req.data_len = static_cast<uint32_t>(io.length_bytes());
      x.req.to_device = io.type == IoType::kWrite;
      break;
    case IoType::kWriteZeroes:
      cmd.opcode = io_op::kWriteZeroes;
      SetLbaRange(cmd, io.offset_blocks, io.num_blocks);
      break;
    case IoType::kUnmap:
      // One deallocate range; the 16-byte descriptor goes through a bounce page.
      cmd.opcode = io_op::kDatasetManagement;
      cmd.cdw10 = 0;  // one range (0-based)
      cmd.cdw11 = kDsmDeallocate;
      x.range = {0, static_cast<uint32_t>(io.num_blocks), io.offset_blocks};
      x.req.SetBuffer(&x.range, sizeof(x.range));
      x.req.to_device = true;
      break;
    case IoType::kFlush:
      cmd.opcode = io_op::kFlush;
      break;
    case IoType::kReset:
      break;
  }
  x.req.cb = &NvmeBdev::OnComplete;
  x.req.cb_arg = &io;
  if (int rc = ch.ctx<NvmeChannel>().qpair().Submit(x.req); rc != 0) {
    CompleteIo(io, IoStatus::Error(rc));
  }
}

// A bdev reset resets the controller (the core has drained this bdev's I/O first).
// The reset runs on the app thread; the I/O completes back on its own thread.
void NvmeBdev::SubmitReset(IoChannel& ch, BdevIo& io) {
  Thread* io_thread = &ch.ctx<NvmeChannel>().thread();
  const std::string name = ctrlr_.name();
  auto finish = [io_thread, &io](absl::Status s) {
    io.driver_ctx<NvmeIo>().reset_status = s.ok() ? IoStatus::Success() : IoStatus::Error(-EIO);
    io_thread->Send(
        [](void* arg) {
          auto* bio = static_cast<BdevIo*>(arg);
          CompleteIo(*bio, bio->driver_ctx<NvmeIo>().reset_status);
        },
        &io);
  };
  Runtime::AppThread()->Send([name, finish] {
    NvmeCtrlr* c = FindNvmeCtrlr(name);
    if (c == nullptr) return finish(absl::NotFoundError("controller gone"));
    c->Reset(finish);
  });
}

void NvmeBdev::Destruct(std::function<void()> done) {
  NvmeModule* m = Module();
  std::vector<std::string>& names = ctrlr_.bdev_names();
  names.erase(std::remove(names.begin(), names.end(), name()), names.end());
  if (!names.empty()) return done();
  // The controller's last namespace bdev is gone: the controller goes too (detach, or
  // the bdev layer stopping).
  const std::string ctrlr_name = ctrlr_.name();
  ctrlr_.Detach([m, ctrlr_name, done] {
    m->ctrlrs.erase(ctrlr_name);
    LOG_INFO("nvme: controller %s detached", ctrlr_name);
    done();
  });
}

// Registers one bdev per namespace. On failure unregisters those already registered
// (the last one's Destruct detaches the controller) and reports the first error.
void RegisterNamespaces(NvmeCtrlr& c,
                        std::function<void(absl::StatusOr<std::vector<std::string>>)> done) {
  NvmeModule* m = Module();
  const Controller& ctl = c.controller();
  std::vector<std::string> names;
  absl::Status failure;
  for (const NamespaceData& ns : ctl.namespaces()) {
    BdevProperties props;
    props.name = absl::StrCat(c.name(), "n", ns.nsid);
    props.uuid = NamespaceUuid(ns);
    props.product_name = "NVMe disk";
    props.block_size = ns.block_size();
    props.num_blocks = ns.size_blocks;
    props.max_transfer_blocks = ctl.max_transfer() / ns.block_size();
    props.max_unmap_blocks = UINT32_MAX;       // one DSM range holds 32 bits of blocks
    props.max_write_zeroes_blocks = 1u << 16;  // NLB is 16 bits
    absl::Status s = RegisterBdev(std::make_unique<NvmeBdev>(m, props, c, ns));
    if (!s.ok()) {
      failure = s;
      break;
    }
    c.bdev_names().push_back(props.name);
    names.push_back(props.name);
  }
  if (failure.ok()) return done(names);
  if (names.empty()) {
    const std::string name = c.name();
    c.Detach([m, name, failure, done] {
      m->ctrlrs.erase(name);
      done(failure);
    });
    return;
  }
  auto left = std::make_shared<size_t>(names.size());
  for (const std::string& n : names) {
    UnregisterBdev(n, [left, failure, done](absl::Status) {
      if (--*left == 0) done(failure);
    });
  }
}

}  // namespace

NvmeCtrlr* FindNvmeCtrlr(const std::string& name) {
  NvmeModule* m = Module();
  if (m == nullptr) return nullptr;
  auto it = m->ctrlrs.find(name);
  return it == m->ctrlrs.end() ? nullptr : it->second.get();
}

void AttachController(const AttachOptions& options,
                      std::function<void(absl::StatusOr<std::vector<std::string>>)> done) {
  NvmeModule* m = Module();
  if (m == nullptr) return done(absl::FailedPreconditionError("the nvme module is not registered"));
  if (options.name.empty()) return done(absl::InvalidArgumentError("\"name\": must not be empty"));
  absl::StatusOr<PciAddress> addr = ParsePciAddress(options.traddr);
  if (!addr.ok()) {
    return done(absl::InvalidArgumentError(absl::StrCat("\"traddr\": ", addr.status().message())));
  }
  const std::string bdf = addr->ToString();
  if (m->ctrlrs.contains(options.name) || m->pending.contains(options.name)) {
    return done(absl::AlreadyExistsError(
        absl::StrCat("an NVMe controller named ", options.name, " already exists")));
  }
  for (const auto& [name, c] : m->ctrlrs) {
    if (c->controller().address() == bdf) {
      return done(absl::AlreadyExistsError(
          absl::StrCat("NVMe device ", bdf, " is already attached as ", name)));
    }
  }
  for (const auto& [name, pending_bdf] : m->pending) {
    if (pending_bdf == bdf) {
      return done(absl::AlreadyExistsError(
          absl::StrCat("NVMe device ", bdf, " is being attached as ", name)));
    }
  }
  m->pending[options.name] = bdf;
  ControllerOptions copts;
  copts.io_queues = options.num_io_queues;
  if (m->options.io_queue_requests != 0) copts.io_queue_entries = m->options.io_queue_requests;
  uint64_t admin_us =
      m->options.timeout_admin_us != 0 ? m->options.timeout_admin_us : m->options.timeout_us;
  if (admin_us != 0) copts.admin_timeout = absl::Microseconds(admin_us);
  auto attached = std::make_shared<std::unique_ptr<Controller>>();
  PciAddress where = *addr;
  PciDeviceOpener opener = m->opener;
  RunBlocking(
      [where, copts, attached, opener]() -> absl::Status {
        absl::StatusOr<std::unique_ptr<PciDevice>> dev =
            opener ? opener(where) : OpenPciDevice(PciSysfs::FromEnvironment(), where);
        if (!dev.ok()) return dev.status();
        absl::StatusOr<std::unique_ptr<Controller>> c = Controller::Attach(std::move(*dev), copts);
        if (!c.ok()) return c.status();
        *attached = std::move(*c);
        return absl::OkStatus();
      },
      [m, name = options.name, attached, done](absl::Status s) {
        m->pending.erase(name);
        if (!s.ok()) return done(s);
        auto owned = std::make_unique<NvmeCtrlr>(name, std::move(*attached), m->options);
        NvmeCtrlr& c = *owned;
        m->ctrlrs[name] = std::move(owned);
        LOG_INFO("nvme: attached %s as %s (%zu namespace(s))", c.controller().address(), name,
                 c.controller().namespaces().size());
        RegisterNamespaces(c, done);
      });
}

void DetachController(const std::string& name, std::function<void(absl::Status)> done) {
  NvmeModule* m = Module();
  NvmeCtrlr* c = FindNvmeCtrlr(name);
  if (c == nullptr) {
    return done(absl::NotFoundError(absl::StrCat("no NVMe controller named ", name)));
  }
  if (c->state() == NvmeCtrlr::State::kResetting || c->state() == NvmeCtrlr::State::kDeleting) {
    return done(absl::UnavailableError(
        absl::StrCat("NVMe controller ", name, " is ", c->state_name(), "; try again")));
  }
  std::vector<std::string> names = c->bdev_names();
  if (names.empty()) {
    c->Detach([m, name, done] {
      m->ctrlrs.erase(name);
      done(absl::OkStatus());
    });
    return;
  }
  // The last bdev's Destruct detaches the controller, before its callback here runs.
  auto left = std::make_shared<size_t>(names.size());
  auto first_error = std::make_shared<absl::Status>();
  for (const std::string& n : names) {
    UnregisterBdev(n, [left, first_error, done](absl::Status s) {
      if (!s.ok() && first_error->ok()) *first_error = s;
      if (--*left == 0) done(*first_error);
    });
  }
}

void ResetController(const std::string& name, std::function<void(absl::Status)> done) {
  NvmeCtrlr* c = FindNvmeCtrlr(name);
  if (c == nullptr) {
    return done(absl::NotFoundError(absl::StrCat("no NVMe controller named ", name)));
  }
  c->Reset(std::move(done));
}

absl::StatusOr<nlohmann::json> GetControllers(const std::string& name) {
  NvmeModule* m = Module();
  nlohmann::json out = nlohmann::json::array();
  if (m == nullptr) return out;
  if (!name.empty()) {
    NvmeCtrlr* c = FindNvmeCtrlr(name);
    if (c == nullptr) return absl::NotFoundError(absl::StrCat("no NVMe controller named ", name));
    out.push_back(c->ControllersJson());
    return out;
  }
  std::vector<const NvmeCtrlr*> sorted;
  for (const auto& [n, c] : m->ctrlrs) sorted.push_back(c.get());
  std::sort(sorted.begin(), sorted.end(),
            [](const NvmeCtrlr* a, const NvmeCtrlr* b) { return a->name() < b->name(); });
  for (const NvmeCtrlr* c : sorted) out.push_back(c->ControllersJson());
  return out;
}

absl::Status SetModuleOptions(const NvmeModuleOptions& options) {
  NvmeModule* m = Module();
  if (m == nullptr) return absl::FailedPreconditionError("the nvme module is not registered");
  if (!m->ctrlrs.empty() || !m->pending.empty()) {
    return absl::FailedPreconditionError(
        "bdev_nvme_set_options: only allowed before any NVMe controller is attached");
  }
  m->options = options;
  return absl::OkStatus();
}

NvmeModuleOptions GetModuleOptions() {
  NvmeModule* m = Module();
  return m == nullptr ? NvmeModuleOptions{} : m->options;
}

void SetPciDeviceOpenerForTesting(PciDeviceOpener opener) {
  if (NvmeModule* m = Module(); m != nullptr) m->opener = std::move(opener);
}

void RegisterNvmeModule() { RegisterModule(std::make_unique<NvmeModule>()); }

}  // namespace bdevkit::nvme

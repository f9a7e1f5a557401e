// The nvme module: one NvmeBdev ("NVMe disk") per active namespace of an attached
// controller. I/O goes straight to the calling thread's queue pair: the request lives
// in the BdevIo's driver context, so submitting allocates nothing.
#include "modules/nvme/bdev/nvme_bdev.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "modules/nvme/driver/pcie_transport.h"
#include "modules/nvme/driver/status.h"
#include "modules/nvme/env/pci.h"
#include "modules/nvme/env/pci_device.h"
#include "modules/nvme/tcp/tcp_transport.h"
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
                        {"nvme_adminq_poll_period_us", options.nvme_adminq_poll_period_us},
                        {"keep_alive_timeout_ms", options.keep_alive_timeout_ms}}}});
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

namespace {

// What identifies an attached controller's target, for the duplicate checks: the PCI
// address, or the TCP address, subsystem and host NQN (as SPDK: another host NQN makes
// another controller of the same subsystem).
std::string TargetKey(const AttachOptions& o) {
  return o.tcp() ? absl::StrCat("tcp:", o.traddr, ":", o.trsvcid, "/", o.subnqn, "/",
                                o.hostnqn.empty() ? DefaultHostNqn() : o.hostnqn)
                 : o.traddr;
}
std::string TargetText(const AttachOptions& o) {
  return o.tcp() ? absl::StrCat("NVMe/TCP subsystem ", o.subnqn, " at ", o.traddr, ":", o.trsvcid)
                 : absl::StrCat("NVMe device ", o.traddr);
}

// SPDK's rules for the reconnect parameters, with errors naming them.
absl::Status CheckReconnectOptions(const AttachOptions& o) {
  const int64_t loss = o.ctrlr_loss_timeout_sec;
  if (loss < -1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"ctrlr_loss_timeout_sec\": must be -1 (never give up), 0 or more seconds, got ", loss));
  }
  if (loss == 0) {
    if (o.reconnect_delay_sec != 0 || o.fast_io_fail_timeout_sec != 0) {
      return absl::InvalidArgumentError(
          "\"reconnect_delay_sec\" and \"fast_io_fail_timeout_sec\": must be 0 when "
          "\"ctrlr_loss_timeout_sec\" is 0 (no reconnect)");
    }
    return absl::OkStatus();
  }
  if (o.reconnect_delay_sec == 0) {
    return absl::InvalidArgumentError(
        "\"reconnect_delay_sec\": must be at least 1 when \"ctrlr_loss_timeout_sec\" is not 0");
  }
  if (loss > 0 && o.reconnect_delay_sec > loss) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"reconnect_delay_sec\": ", o.reconnect_delay_sec,
                     " is more than \"ctrlr_loss_timeout_sec\" ", loss));
  }
  if (loss > 0 && o.fast_io_fail_timeout_sec > loss) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"fast_io_fail_timeout_sec\": ", o.fast_io_fail_timeout_sec,
                     " is more than \"ctrlr_loss_timeout_sec\" ", loss));
  }
  return absl::OkStatus();
}

// The transport for `o` (checked), to be opened on the worker thread.
using TransportMaker = std::function<absl::StatusOr<std::unique_ptr<Transport>>()>;

}  // namespace

void AttachController(const AttachOptions& options,
                      std::function<void(absl::StatusOr<std::vector<std::string>>)> done) {
  NvmeModule* m = Module();
  if (m == nullptr) return done(absl::FailedPreconditionError("the nvme module is not registered"));
  if (options.name.empty()) return done(absl::InvalidArgumentError("\"name\": must not be empty"));
  AttachOptions o = options;
  TransportMaker make;
  if (o.tcp()) {
    if (!o.adrfam.empty() && absl::AsciiStrToLower(o.adrfam) != "ipv4") {
      return done(absl::InvalidArgumentError(absl::StrCat(
          "\"adrfam\": '", o.adrfam, "' is not supported; NVMe/TCP attaches over \"ipv4\" only")));
    }
    o.adrfam = "ipv4";
    absl::StatusOr<TcpAddress> addr = ParseTcpAddress(o.traddr, o.trsvcid);
    if (!addr.ok()) return done(addr.status());
    if (o.subnqn.empty()) {
      return done(absl::InvalidArgumentError(
          "\"subnqn\": missing (the NQN of the NVMe-oF subsystem to connect to)"));
    }
    if (o.subnqn.size() > 223 || o.hostnqn.size() > 223) {
      return done(absl::InvalidArgumentError(absl::StrCat(
          o.subnqn.size() > 223 ? "\"subnqn\"" : "\"hostnqn\"", ": longer than 223 bytes")));
    }
    if (absl::Status s = CheckReconnectOptions(o); !s.ok()) return done(s);
    TcpTransportOptions t;
    t.address = *addr;
    t.subnqn = o.subnqn;
    t.hostnqn = o.hostnqn;
    t.hostid = DefaultHostId();
    t.hdgst = o.hdgst;
    t.ddgst = o.ddgst;
    t.keep_alive_timeout_ms = m->options.keep_alive_timeout_ms;
    make = [t]() -> absl::StatusOr<std::unique_ptr<Transport>> {
      return std::unique_ptr<Transport>(std::make_unique<TcpTransport>(t));
    };
  } else {
    absl::StatusOr<PciAddress> addr = ParsePciAddress(o.traddr);
    if (!addr.ok()) {
      return done(
          absl::InvalidArgumentError(absl::StrCat("\"traddr\": ", addr.status().message())));
    }
    o.traddr = addr->ToString();
    PciAddress where = *addr;
    PciDeviceOpener opener = m->opener;
    make = [where, opener]() -> absl::StatusOr<std::unique_ptr<Transport>> {
      absl::StatusOr<std::unique_ptr<PciDevice>> dev =
          opener ? opener(where) : OpenPciDevice(PciSysfs::FromEnvironment(), where);
      if (!dev.ok()) return dev.status();
      return std::unique_ptr<Transport>(std::make_unique<PcieTransport>(std::move(*dev)));
    };
  }
  const std::string key = TargetKey(o);
  if (m->ctrlrs.contains(o.name) || m->pending.contains(o.name)) {
    return done(absl::AlreadyExistsError(
        absl::StrCat("an NVMe controller named ", o.name, " already exists")));
  }
  for (const auto& [name, c] : m->ctrlrs) {
    if (TargetKey(c->attach_options()) == key) {
      return done(
          absl::AlreadyExistsError(absl::StrCat(TargetText(o), " is already attached as ", name)));
    }
  }
  for (const auto& [name, pending_key] : m->pending) {
    if (pending_key == key) {
      return done(
          absl::AlreadyExistsError(absl::StrCat(TargetText(o), " is being attached as ", name)));
    }
  }
  m->pending[o.name] = key;
  ControllerOptions copts;
  copts.io_queues = o.num_io_queues;
  if (m->options.io_queue_requests != 0) copts.io_queue_entries = m->options.io_queue_requests;
  uint64_t admin_us =
      m->options.timeout_admin_us != 0 ? m->options.timeout_admin_us : m->options.timeout_us;
  if (admin_us != 0) copts.admin_timeout = absl::Microseconds(admin_us);
  copts.keep_alive_timeout_ms = m->options.keep_alive_timeout_ms;
  auto attached = std::make_shared<std::unique_ptr<Controller>>();
  RunBlocking(
      [make, copts, attached]() -> absl::Status {
        absl::StatusOr<std::unique_ptr<Transport>> transport = make();
        if (!transport.ok()) return transport.status();
        absl::StatusOr<std::unique_ptr<Controller>> c =
            Controller::Attach(std::move(*transport), copts);
        if (!c.ok()) return c.status();
        *attached = std::move(*c);
        return absl::OkStatus();
      },
      [m, o, attached, done](absl::Status s) {
        m->pending.erase(o.name);
        if (!s.ok()) return done(s);
        auto owned = std::make_unique<NvmeCtrlr>(o, std::move(*attached), m->options);
        NvmeCtrlr& c = *owned;
        m->ctrlrs[o.name] = std::move(owned);
        LOG_INFO("nvme: attached %s as %s (%zu namespace(s))", c.controller().address(), o.name,
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
  const bool reconnecting =
      c->attach_options().tcp() &&
      (c->state() == NvmeCtrlr::State::kResetting || c->state() == NvmeCtrlr::State::kReconnecting);
  if (reconnecting) {
    // A TCP controller trying to reconnect: what its queues hold fails now, so the
    // bdevs can go without waiting for the target.
    c->controller().SetFailIo(true);
  } else if (c->state() == NvmeCtrlr::State::kResetting ||
             c->state() == NvmeCtrlr::State::kDeleting) {
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

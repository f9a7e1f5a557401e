// bdev_nvme_attach_controller, bdev_nvme_detach_controller, bdev_nvme_get_controllers,
// bdev_nvme_reset_controller, bdev_nvme_set_options, and the module's registration.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/nvme/bdev/nvme_bdev.h"
#include "nlohmann/json.hpp"
#include "rpc/status_mapping.h"

namespace bdevkit::nvme {
namespace {

absl::Status Invalid(std::string_view param, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", std::string(param), "\": ", std::string(why)));
}

void AttachHandler(const nlohmann::json& params, RpcDone done) {
  AttachOptions o;
  o.trtype = absl::AsciiStrToLower(ParamString(params, "trtype"));
  if (o.trtype != "pcie" && o.trtype != "tcp") {
    return done(WithJsonRpcCode(
        Invalid("trtype", absl::StrCat("'", ParamString(params, "trtype"),
                                       "' is not supported; this build attaches \"pcie\" "
                                       "and \"tcp\" controllers")),
        -22));
  }
  for (const char* name : {"prchk_reftag", "prchk_guard"}) {
    if (ParamBool(params, name)) {
      return done(Invalid(name, "protection information is not supported (must be false)"));
    }
  }
  o.name = ParamString(params, "name");
  o.traddr = ParamString(params, "traddr");
  uint64_t queues = ParamUint(params, "num_io_queues");
  if (queues == 0 || queues > 65536) {
    return done(Invalid("num_io_queues", absl::StrCat("must be 1..65536, got ", queues)));
  }
  o.num_io_queues = static_cast<uint32_t>(queues);
  if (o.tcp()) {
    o.adrfam = HasParam(params, "adrfam") ? ParamString(params, "adrfam") : "ipv4";
    o.trsvcid = ParamString(params, "trsvcid");
    o.subnqn = ParamString(params, "subnqn");
    o.hostnqn = ParamString(params, "hostnqn");
    o.hdgst = ParamBool(params, "hdgst");
    o.ddgst = ParamBool(params, "ddgst");
    if (!HasParam(params, "trsvcid"))
      return done(Invalid("trsvcid", "missing (the target's TCP port, e.g. \"4420\")"));
    if (!HasParam(params, "subnqn"))
      return done(Invalid("subnqn", "missing (the NVMe-oF subsystem NQN)"));
    if (HasParam(params, "ctrlr_loss_timeout_sec")) {
      o.ctrlr_loss_timeout_sec = params.at("ctrlr_loss_timeout_sec").get<int64_t>();
    }
    for (const char* name : {"reconnect_delay_sec", "fast_io_fail_timeout_sec"}) {
      uint64_t v = HasParam(params, name) ? ParamUint(params, name) : 0;
      if (v > 86400 * 365) return done(Invalid(name, "unreasonably large"));
      (std::string_view(name) == "reconnect_delay_sec" ? o.reconnect_delay_sec
                                                       : o.fast_io_fail_timeout_sec) =
          static_cast<uint32_t>(v);
    }
  } else {
    for (const char* name : {"hdgst", "ddgst"}) {
      if (ParamBool(params, name)) {
        return done(Invalid(name, "digests exist for NVMe/TCP only (must be false for pcie)"));
      }
    }
  }
  AttachController(o, [done](absl::StatusOr<std::vector<std::string>> names) {
    if (!names.ok()) return done(names.status());
    done(nlohmann::json(*names));
  });
}

void SetOptionsHandler(const nlohmann::json& params, RpcDone done) {
  NvmeModuleOptions o = GetModuleOptions();
  if (HasParam(params, "action_on_timeout")) {
    std::string a = ParamString(params, "action_on_timeout");
    if (a == "none") {
      o.action_on_timeout = NvmeModuleOptions::TimeoutAction::kNone;
    } else if (a == "abort") {
      o.action_on_timeout = NvmeModuleOptions::TimeoutAction::kAbort;
    } else if (a == "reset") {
      o.action_on_timeout = NvmeModuleOptions::TimeoutAction::kReset;
    } else {
      return done(
          Invalid("action_on_timeout", absl::StrCat("'", a, "' is not one of none, abort, reset")));
    }
  }
  if (HasParam(params, "timeout_us")) o.timeout_us = ParamUint(params, "timeout_us");
  if (HasParam(params, "timeout_admin_us")) {
    o.timeout_admin_us = ParamUint(params, "timeout_admin_us");
  }
  if (HasParam(params, "io_queue_requests")) {
    uint64_t v = ParamUint(params, "io_queue_requests");
    if (v != 0 && (v < 2 || v > 65536)) {
      return done(Invalid("io_queue_requests", absl::StrCat("must be 2..65536 (or 0), got ", v)));
    }
    o.io_queue_requests = static_cast<uint32_t>(v);
  }
  if (HasParam(params, "transport_retry_count")) {
    uint64_t v = ParamUint(params, "transport_retry_count");
    if (v > 255) return done(Invalid("transport_retry_count", "must be 0..255"));
    o.transport_retry_count = static_cast<uint32_t>(v);
  }
  if (HasParam(params, "nvme_adminq_poll_period_us")) {
    o.nvme_adminq_poll_period_us = ParamUint(params, "nvme_adminq_poll_period_us");
  }
  if (HasParam(params, "keep_alive_timeout_ms")) {
    uint64_t v = ParamUint(params, "keep_alive_timeout_ms");
    if (v > 3600000) return done(Invalid("keep_alive_timeout_ms", "must be 0..3600000"));
    o.keep_alive_timeout_ms = static_cast<uint32_t>(v);
  }
  if (absl::Status s = SetModuleOptions(o); !s.ok()) return done(WithJsonRpcCode(s, -1));
  done(nlohmann::json(true));
}

}  // namespace
}  // namespace bdevkit::nvme

void bdevkit_register_module_nvme() {
  using bdevkit::RpcDone;
  using bdevkit::RpcParamType;
  namespace nv = bdevkit::nvme;
  nv::RegisterNvmeModule();
  bdevkit::RpcMethod attach{
      .name = "bdev_nvme_attach_controller",
      .summary =
          "Attaches an NVMe controller: PCIe through the user-space driver (the device bound "
          "to vfio-pci or uio_pci_generic), or TCP: a subsystem of an NVMe-oF target "
          "(NVMe/TCP); returns the names of its bdevs, one per active namespace (<name>n<nsid>)",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr,
               "controller name, prefix of its bdevs"},
              {"trtype", RpcParamType::kString, true, nullptr, "transport: \"pcie\" or \"tcp\""},
              {"traddr", RpcParamType::kString, true, nullptr,
               "pcie: PCI address DDDD:BB:DD.F, e.g. 0000:00:03.0; tcp: the target's IPv4 "
               "address"},
              {"adrfam", RpcParamType::kString, false, nullptr,
               "tcp: address family, \"ipv4\" (the default); ignored for pcie"},
              {"trsvcid", RpcParamType::kString, false, nullptr,
               "tcp (required): the target's port, e.g. \"4420\"; ignored for pcie"},
              {"subnqn", RpcParamType::kString, false, nullptr,
               "tcp (required): the subsystem NQN; ignored for pcie"},
              {"hostnqn", RpcParamType::kString, false, nullptr,
               "tcp: our host NQN (default nqn.2014-08.org.nvmexpress:uuid:<random per "
               "process>); ignored for pcie"},
              {"hostaddr", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"hostsvcid", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"prchk_reftag", RpcParamType::kBool, false, false, "must be false"},
              {"prchk_guard", RpcParamType::kBool, false, false, "must be false"},
              {"hdgst", RpcParamType::kBool, false, false,
               "tcp: CRC32C header digests on every PDU (must be false for pcie)"},
              {"ddgst", RpcParamType::kBool, false, false,
               "tcp: CRC32C data digests on every PDU with data (must be false for pcie)"},
              {"fabrics_connect_timeout_us", RpcParamType::kUint, false, nullptr,
               "accepted, ignored (TCP connects time out after 10 s)"},
              {"multipath", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"num_io_queues", RpcParamType::kUint, false, 64,
               "I/O queues to ask the controller for (one is used per thread)"},
              {"ctrlr_loss_timeout_sec", RpcParamType::kInt, false, nullptr,
               "tcp: after a connection loss, give up (controller failed) after this many "
               "seconds; -1 never; 0 (default) after the first failed reconnect"},
              {"reconnect_delay_sec", RpcParamType::kUint, false, nullptr,
               "tcp: seconds between reconnect attempts (>= 1 when ctrlr_loss_timeout_sec is "
               "not 0)"},
              {"fast_io_fail_timeout_sec", RpcParamType::kUint, false, nullptr,
               "tcp: fail I/O held during a reconnect after this many seconds (0: hold it until "
               "the controller is given up)"},
          },
      .handler = nv::AttachHandler,
  };
  bdevkit::RpcMethod detach{
      .name = "bdev_nvme_detach_controller",
      .summary =
          "Deletes a controller's bdevs, deletes its queues and shuts it down (CC.SHN); the "
          "device stays bound to its user-space driver; returns true",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "controller name"},
              {"trtype", RpcParamType::kString, false, nullptr, "accepted, ignored (one path)"},
              {"traddr", RpcParamType::kString, false, nullptr, "accepted, ignored (one path)"},
              {"adrfam", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"trsvcid", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"subnqn", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"hostaddr", RpcParamType::kString, false, nullptr, "accepted, ignored"},
              {"hostsvcid", RpcParamType::kString, false, nullptr, "accepted, ignored"},
          },
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            nv::DetachController(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(nlohmann::json(true)) : done(s);
            });
          },
  };
  bdevkit::RpcMethod get{
      .name = "bdev_nvme_get_controllers",
      .summary = "Lists attached NVMe controllers (all, or the one named)",
      .params = {{"name", RpcParamType::kString, false, nullptr, "controller name"}},
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            absl::StatusOr<nlohmann::json> r =
                nv::GetControllers(bdevkit::ParamString(params, "name"));
            r.ok() ? done(*r) : done(r.status());
          },
  };
  bdevkit::RpcMethod reset{
      .name = "bdev_nvme_reset_controller",
      .summary =
          "Resets a controller (disable, enable, re-create its queues); I/O in flight is "
          "resubmitted afterwards; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "controller name"}},
      .handler =
          [](const nlohmann::json& params, RpcDone done) {
            nv::ResetController(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(nlohmann::json(true)) : done(s);
            });
          },
  };
  bdevkit::RpcMethod options{
      .name = "bdev_nvme_set_options",
      .summary =
          "Sets options for NVMe controllers attached afterwards (only while none is "
          "attached); returns true",
      .params =
          {
              {"action_on_timeout", RpcParamType::kString, false, nullptr,
               "none, abort (then reset if the command still hangs) or reset"},
              {"timeout_us", RpcParamType::kUint, false, nullptr,
               "per I/O command timeout in microseconds; 0 = not tracked"},
              {"timeout_admin_us", RpcParamType::kUint, false, nullptr,
               "admin command timeout; 0 = timeout_us, or 10 s"},
              {"io_queue_requests", RpcParamType::kUint, false, nullptr,
               "entries per I/O queue (default 256, capped by the controller)"},
              {"transport_retry_count", RpcParamType::kUint, false, nullptr,
               "times an I/O is resubmitted after controller resets before it fails "
               "(default 2)"},
              {"nvme_adminq_poll_period_us", RpcParamType::kUint, false, nullptr,
               "how often the admin queue and CSTS are polled (default 100000)"},
              {"keep_alive_timeout_ms", RpcParamType::kUint, false, nullptr,
               "TCP: the keep-alive timeout asked for in Connect (default 10000; a Keep Alive "
               "is sent every half of it; 0 = none); ignored for pcie"},
              {"nvme_ioq_poll_period_us", RpcParamType::kUint, false, nullptr,
               "accepted, ignored (I/O queues are polled on every reactor pass)"},
              {"delay_cmd_submit", RpcParamType::kBool, false, nullptr,
               "accepted, ignored (doorbells are always written once per poller pass)"},
              {"bdev_retry_count", RpcParamType::kInt, false, nullptr, "accepted, ignored"},
              {"retry_count", RpcParamType::kUint, false, nullptr, "accepted, ignored"},
              {"arbitration_burst", RpcParamType::kUint, false, nullptr, "accepted, ignored"},
              {"low_priority_weight", RpcParamType::kUint, false, nullptr, "accepted, ignored"},
              {"medium_priority_weight", RpcParamType::kUint, false, nullptr, "accepted, ignored"},
              {"high_priority_weight", RpcParamType::kUint, false, nullptr, "accepted, ignored"},
          },
      .handler = nv::SetOptionsHandler,
      .allowed_states = bdevkit::kRpcStartup | bdevkit::kRpcRuntime,
  };
  for (bdevkit::RpcMethod* m : {&attach, &detach, &get, &reset, &options}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("nvme: %s", std::string(s.message()));
    }
  }
}

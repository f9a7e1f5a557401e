// bdev_error_create, bdev_error_delete, bdev_error_inject_error,
// bdev_error_resume_pending, and the module's registration.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/error/error_bdev.h"
#include "modules/error/error_module.h"
#include "nlohmann/json.hpp"

namespace bdevkit::error {
namespace {

ErrorModule* Module() { return static_cast<ErrorModule*>(FindModule(kErrorModuleName)); }

absl::Status NotRegistered() {
  return absl::FailedPreconditionError("the error module is not registered");
}

absl::Status NoErrorBdev(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("no error bdev named \"", name, "\""));
}

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  ErrorModule* m = Module();
  if (m == nullptr) return done(NotRegistered());
  absl::Status s = m->Create(ParamString(params, "base_name"), ParamString(params, "uuid"));
  s.ok() ? done(nlohmann::json(true)) : done(s);
}

void DeleteHandler(const nlohmann::json& params, RpcDone done) {
  ErrorModule* m = Module();
  if (m == nullptr) return done(NotRegistered());
  m->Delete(ParamString(params, "name"), [done = std::move(done)](absl::Status s) {
    s.ok() ? done(nlohmann::json(true)) : done(s);
  });
}

void InjectHandler(const nlohmann::json& params, RpcDone done) {
  ErrorModule* m = Module();
  if (m == nullptr) return done(NotRegistered());
  absl::StatusOr<Injection> inj =
      MakeInjection(ParamString(params, "io_type"), ParamString(params, "error_type"),
                    ParamUint(params, "num"), ParamUint(params, "queue_depth"),
                    ParamUint(params, "corrupt_offset"), ParamUint(params, "corrupt_value"),
                    ParamUint(params, "nvme_sct"), ParamUint(params, "nvme_sc"));
  if (!inj.ok()) return done(inj.status());
  const std::string name = ParamString(params, "name");
  ErrorBdev* bdev = m->FindErrorBdev(name);
  if (bdev == nullptr) return done(NoErrorBdev(name));
  bdev->injections().Apply(*inj);
  done(nlohmann::json(true));
}

void ResumePendingHandler(const nlohmann::json& params, RpcDone done) {
  ErrorModule* m = Module();
  if (m == nullptr) return done(NotRegistered());
  const std::string name = ParamString(params, "name");
  ErrorBdev* bdev = m->FindErrorBdev(name);
  if (bdev == nullptr) return done(NoErrorBdev(name));
  bdev->ResumePending([done = std::move(done)] { done(nlohmann::json(true)); });
}

}  // namespace
}  // namespace bdevkit::error

void bdevkit_register_module_error() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterModule(std::make_unique<bdevkit::error::ErrorModule>());
  bdevkit::RpcMethod create{
      .name = "bdev_error_create",
      .summary =
          "Creates the error-injection bdev EE_<base_name> over a bdev (claimed), or declares "
          "it when the base does not exist yet (it appears when the base does); returns true",
      .params =
          {
              {"base_name", RpcParamType::kString, true, nullptr, "the base bdev"},
              {"uuid", RpcParamType::kString, false, nullptr,
               "UUID of the error bdev (generated when absent, written by save_config)"},
          },
      .handler = bdevkit::error::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_error_delete",
      .summary =
          "Removes an error bdev (held I/O fails with -ENODEV) and releases its base; "
          "returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr,
                  "the error bdev (EE_<base>); unknown -> -19"}},
      .handler = bdevkit::error::DeleteHandler,
  };
  bdevkit::RpcMethod inject{
      .name = "bdev_error_inject_error",
      .summary =
          "Makes an error bdev fail (-EIO), hold (pending), corrupt (XOR one byte of a write "
          "before it reaches the base or of a read after it returns), refuse-and-retry (nomem) "
          "or NVMe-fail the next `num` I/Os of a type; returns true",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "the error bdev; unknown -> -19"},
              {"io_type", RpcParamType::kString, true, nullptr,
               "read, write, unmap, flush, write_zeroes (ours), all, or clear (sets every "
               "count to 0)"},
              {"error_type", RpcParamType::kString, true, nullptr,
               "failure, pending, corrupt_data, nomem or nvme_failure"},
              {"num", RpcParamType::kUint, false, 1, "I/Os to hit (0 disables)"},
              {"queue_depth", RpcParamType::kUint, false, 0,
               "hit an I/O only while at least this many I/Os of its thread are at the base"},
              {"corrupt_offset", RpcParamType::kUint, false, 0,
               "corrupt_data: byte offset in the I/O's data"},
              {"corrupt_value", RpcParamType::kUint, false, 0,
               "corrupt_data: value XORed in, 1-255"},
              {"nvme_sct", RpcParamType::kUint, false, 0, "nvme_failure: status code type"},
              {"nvme_sc", RpcParamType::kUint, false, 0, "nvme_failure: status code"},
          },
      .handler = bdevkit::error::InjectHandler,
  };
  bdevkit::RpcMethod resume{
      .name = "bdev_error_resume_pending",
      .summary =
          "Disarms the pending injections of an error bdev and sends the I/O they hold "
          "on to the base; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "the error bdev; unknown -> -19"}},
      .handler = bdevkit::error::ResumePendingHandler,
  };
  for (bdevkit::RpcMethod* m : {&create, &del, &inject, &resume}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("error: %s", std::string(s.message()));
    }
  }
}

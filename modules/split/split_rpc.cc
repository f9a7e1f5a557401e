// bdev_split_create / bdev_split_delete, and the module's registration.
#include <memory>
#include <string>
#include <utility>

#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/split/split_module.h"
#include "nlohmann/json.hpp"

namespace bdevkit::split {
namespace {

SplitModule* Module() { return static_cast<SplitModule*>(FindModule(kSplitModuleName)); }

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  SplitModule* m = Module();
  if (m == nullptr)
    return done(absl::FailedPreconditionError("the split module is not registered"));
  absl::StatusOr<std::vector<std::string>> parts =
      m->Create(ParamString(params, "base_bdev"), ParamUint(params, "split_count"),
                ParamUint(params, "split_size_mb"));
  if (!parts.ok()) return done(parts.status());
  done(nlohmann::json(*parts));
}

void DeleteHandler(const nlohmann::json& params, RpcDone done) {
  SplitModule* m = Module();
  if (m == nullptr)
    return done(absl::FailedPreconditionError("the split module is not registered"));
  m->Delete(ParamString(params, "base_bdev"), [done = std::move(done)](absl::Status s) {
    s.ok() ? done(nlohmann::json(true)) : done(s);
  });
}

}  // namespace
}  // namespace bdevkit::split

void bdevkit_register_module_split() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterModule(std::make_unique<bdevkit::split::SplitModule>());
  bdevkit::RpcMethod create{
      .name = "bdev_split_create",
      .summary =
          "Splits a bdev into equal parts BASEp0, BASEp1, ...; returns their names, or [] "
          "when the base does not exist yet (the parts appear when it does)",
      .params =
          {
              {"base_bdev", RpcParamType::kString, true, nullptr, "bdev to split"},
              {"split_count", RpcParamType::kUint, true, nullptr,
               "number of parts: 1 to the base's block count"},
              {"split_size_mb", RpcParamType::kUint, false, 0,
               "size of each part in MiB, whole blocks, all parts within the base (0 = the "
               "base divided evenly)"},
          },
      .handler = bdevkit::split::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_split_delete",
      .summary = "Removes a split: its parts are unregistered and the base released; returns true",
      .params = {{"base_bdev", RpcParamType::kString, true, nullptr,
                  "the split bdev; no split of it -> -19"}},
      .handler = bdevkit::split::DeleteHandler,
  };
  for (bdevkit::RpcMethod* m : {&create, &del}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("split: %s", std::string(s.message()));
    }
  }
}

// bdev_aio_create / bdev_aio_delete / bdev_aio_rescan, and the module's registration.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/aio/aio_bdev.h"

namespace bdevkit {

void RegisterAioModule();

namespace {

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  uint64_t block_size = ParamUint(params, "block_size");
  if (block_size > std::numeric_limits<uint32_t>::max()) {
    return done(
        absl::InvalidArgumentError(absl::StrCat("\"block_size\": ", block_size, " is too large")));
  }
  AioOptions o;
  o.name = ParamString(params, "name");
  o.filename = ParamString(params, "filename");
  o.block_size = static_cast<uint32_t>(block_size);
  o.readonly = ParamBool(params, "readonly");
  o.fallocate = ParamBool(params, "fallocate");
  o.uuid = ParamString(params, "uuid");
  o.nowait = ParamBool(params, "nowait");
  absl::StatusOr<std::string> name = CreateAioBdev(o);
  if (!name.ok()) return done(name.status());
  done(nlohmann::json(*name));
}

}  // namespace
}  // namespace bdevkit

void bdevkit_register_module_aio() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterAioModule();
  bdevkit::RpcMethod create{
      .name = "bdev_aio_create",
      .summary =
          "Creates a bdev over a file or block device, I/O through Linux AIO; returns its name",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "bdev name"},
              {"filename", RpcParamType::kString, true, nullptr, "file or block device"},
              {"block_size", RpcParamType::kUint, false, 0,
               "bytes, a power of two >= the device's logical block size (default: detected)"},
              {"readonly", RpcParamType::kBool, false, false, "open read-only"},
              {"fallocate", RpcParamType::kBool, false, false,
               "support write_zeroes and unmap through fallocate"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
              {"nowait", RpcParamType::kBool, false, false,
               "RWF_NOWAIT: I/O that would block is retried without it"},
          },
      .handler = bdevkit::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_aio_delete",
      .summary = "Deletes an aio bdev; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            bdevkit::DeleteAioBdev(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(nlohmann::json(true)) : done(s);
            });
          },
  };
  bdevkit::RpcMethod rescan{
      .name = "bdev_aio_rescan",
      .summary = "Picks up a grown file or device (resize event); returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            absl::Status s = bdevkit::RescanAioBdev(bdevkit::ParamString(params, "name"));
            s.ok() ? done(nlohmann::json(true)) : done(s);
          },
  };
  for (bdevkit::RpcMethod* m : {&create, &del, &rescan}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("aio: %s", std::string(s.message()));
    }
  }
}

// bdev_uring_create / bdev_uring_delete, and the module's registration.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/uring/uring_bdev.h"

namespace bdevkit {

void RegisterUringModule();

namespace {

absl::StatusOr<uint32_t> Uint32Param(const nlohmann::json& params, std::string_view name) {
  uint64_t v = ParamUint(params, name);
  if (v > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(name), "\": ", v, " is too large"));
  }
  return static_cast<uint32_t>(v);
}

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  UringOptions o;
  o.name = ParamString(params, "name");
  o.filename = ParamString(params, "filename");
  o.uuid = ParamString(params, "uuid");
  for (auto [key, field] :
       {std::pair{"block_size", &o.block_size}, std::pair{"queue_depth", &o.queue_depth},
        std::pair{"sqpoll_idle_ms", &o.sqpoll_idle_ms}}) {
    absl::StatusOr<uint32_t> v = Uint32Param(params, key);
    if (!v.ok()) return done(v.status());
    *field = *v;
  }
  o.sqpoll = ParamBool(params, "sqpoll");
  o.iopoll = ParamBool(params, "iopoll");
  o.fixed_buffers = ParamBool(params, "fixed_buffers");
  absl::StatusOr<std::string> name = CreateUringBdev(o);
  if (!name.ok()) return done(name.status());
  done(nlohmann::json(*name));
}

}  // namespace
}  // namespace bdevkit

void bdevkit_register_module_uring() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterUringModule();
  bdevkit::RpcMethod create{
      .name = "bdev_uring_create",
      .summary =
          "Creates a bdev over a file or block device, I/O through io_uring; returns its name",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "bdev name"},
              {"filename", RpcParamType::kString, true, nullptr, "file or block device"},
              {"block_size", RpcParamType::kUint, false, 0,
               "bytes, a power of two >= the device's logical block size (default: detected)"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
              {"queue_depth", RpcParamType::kUint, false, 512,
               "ours: entries of each thread's ring"},
              {"sqpoll", RpcParamType::kBool, false, false,
               "ours: a kernel thread polls the submission queue"},
              {"sqpoll_idle_ms", RpcParamType::kUint, false, 1000,
               "ours: idle time before the sqpoll thread sleeps"},
              {"iopoll", RpcParamType::kBool, false, false,
               "ours: poll the device for completions (devices with poll queues)"},
              {"fixed_buffers", RpcParamType::kBool, false, false,
               "ours: register each thread's I/O buffer pool with its ring; reads and writes "
               "on a buffer from the pool (include/bdevkit/io_buffer.h) use "
               "READ_FIXED/WRITE_FIXED"},
          },
      .handler = bdevkit::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_uring_delete",
      .summary = "Deletes a uring bdev; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            bdevkit::DeleteUringBdev(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(nlohmann::json(true)) : done(s);
            });
          },
  };
  for (bdevkit::RpcMethod* m : {&create, &del}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("uring: %s", std::string(s.message()));
    }
  }
}

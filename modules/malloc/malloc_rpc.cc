// bdev_malloc_create / bdev_malloc_delete, and the module's registration.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "modules/malloc/malloc_bdev.h"

namespace bdevkit {
namespace {

class MallocModule : public BdevModule {
 public:
  MallocModule() : BdevModule("malloc") {}
};

absl::Status CheckUint32(const nlohmann::json& params, std::string_view name) {
  uint64_t v = ParamUint(params, name);
  if (v > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(name), "\": ", v, " is too large (32 bits at most)"));
  }
  return absl::OkStatus();
}

// SPDK's metadata/protection options: accepted (rpc.py and SPDK's own save_config
// send them) as long as they ask for nothing we do not do.
absl::Status CheckNoMetadata(const nlohmann::json& params) {
  for (const char* name : {"md_size", "dif_type", "dif_pi_format"}) {
    if (ParamUint(params, name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name, "\": metadata and protection information are not supported (must be 0)"));
    }
  }
  uint64_t physical = ParamUint(params, "physical_block_size");
  if (physical != 0 && physical != ParamUint(params, "block_size")) {
    return absl::InvalidArgumentError("\"physical_block_size\": must be 0 or equal to block_size");
  }
  return absl::OkStatus();
}

void CreateHandler(const nlohmann::json& params, RpcDone done) {
  for (const char* name : {"block_size", "optimal_io_boundary"}) {
    if (absl::Status s = CheckUint32(params, name); !s.ok()) return done(s);
  }
  if (absl::Status s = CheckNoMetadata(params); !s.ok()) return done(s);
  MallocOptions options;
  options.name = ParamString(params, "name");
  options.uuid = ParamString(params, "uuid");
  options.block_size = static_cast<uint32_t>(ParamUint(params, "block_size"));
  options.num_blocks = ParamUint(params, "num_blocks");
  options.optimal_io_boundary = static_cast<uint32_t>(ParamUint(params, "optimal_io_boundary"));
  absl::StatusOr<std::string> name = CreateMallocBdev(options);
  if (!name.ok()) return done(name.status());
  done(nlohmann::json(*name));
}

void DeleteHandler(const nlohmann::json& params, RpcDone done) {
  DeleteMallocBdev(ParamString(params, "name"), [done = std::move(done)](absl::Status s) {
    if (s.ok()) {
      done(nlohmann::json(true));
    } else {
      done(s);
    }
  });
}

}  // namespace
}  // namespace bdevkit

void bdevkit_register_module_malloc() {
  using bdevkit::RpcParam;
  using bdevkit::RpcParamType;
  bdevkit::RegisterModule(std::make_unique<bdevkit::MallocModule>());
  bdevkit::RpcMethod create{
      .name = "bdev_malloc_create",
      .summary = "Creates a RAM-backed bdev; returns its name",
      .params =
          {
              {"name", RpcParamType::kString, false, nullptr, "bdev name (default MallocN)"},
              {"block_size", RpcParamType::kUint, true, nullptr, "bytes, a multiple of 512"},
              {"num_blocks", RpcParamType::kUint, true, nullptr, "number of blocks"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
              {"optimal_io_boundary", RpcParamType::kUint, false, 0,
               "blocks; I/O crossing it is split (0 = none)"},
              {"physical_block_size", RpcParamType::kUint, false, nullptr,
               "accepted when 0 or equal to block_size"},
              {"md_size", RpcParamType::kUint, false, nullptr, "metadata size; must be 0"},
              {"md_interleave", RpcParamType::kBool, false, nullptr, "accepted, ignored"},
              {"dif_type", RpcParamType::kUint, false, nullptr, "must be 0"},
              {"dif_is_head_of_md", RpcParamType::kBool, false, nullptr, "accepted, ignored"},
              {"dif_pi_format", RpcParamType::kUint, false, nullptr, "must be 0"},
              {"numa_id", RpcParamType::kInt, false, nullptr,
               "accepted, ignored (memory follows the kernel's NUMA policy)"},
          },
      .handler = bdevkit::CreateHandler,
  };
  bdevkit::RpcMethod del{
      .name = "bdev_malloc_delete",
      .summary = "Deletes a malloc bdev; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler = bdevkit::DeleteHandler,
  };
  for (bdevkit::RpcMethod* m : {&create, &del}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("malloc: %s", std::string(s.message()));
    }
  }
}

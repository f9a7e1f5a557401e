// The null backend and its RPC methods: every supported I/O succeeds at once.
#include "modules/null/null_bdev.h"

#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"

namespace bdevkit {
namespace {

constexpr char kModuleName[] = "null";

class NullModule : public BdevModule {
 public:
  NullModule() : BdevModule(kModuleName) {}
};

class NullChannel : public ChannelContext {};

class NullBdev : public Bdev, public IoDevice {
 public:
  NullBdev(BdevModule* module, BdevProperties props) : Bdev(module, std::move(props)) {}

  bool IoTypeSupported(IoType /*type*/) const override { return true; }

 protected:
  void SubmitIo(IoChannel& /*ch*/, BdevIo& io) override { CompleteIo(io, IoStatus::Success()); }
  IoChannel* GetBackendChannel() override { return GetIoChannel(); }
  void Destruct(std::function<void()> done) override { UnregisterIoDevice(std::move(done)); }
  void WriteConfigJson(nlohmann::json& config) const override {
    const BdevProperties& p = properties();
    config.push_back({{"method", "bdev_null_create"},
                      {"params",
                       {{"name", p.name},
                        {"num_blocks", p.num_blocks},
                        {"block_size", p.block_size},
                        {"physical_block_size", p.block_size},
                        {"uuid", p.uuid},
                        {"md_size", 0},
                        {"dif_type", 0},
                        {"dif_is_head_of_md", false}}}});
  }
  std::unique_ptr<ChannelContext> CreateChannelContext() override {
    return std::make_unique<NullChannel>();
  }
};

RpcResult CreateFromParams(const nlohmann::json& params) {
  uint64_t block_size = ParamUint(params, "block_size");
  if (block_size > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"block_size\": ", block_size, " is too large"));
  }
  for (const char* name : {"md_size", "dif_type", "dif_pi_format"}) {
    if (ParamUint(params, name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name, "\": metadata and protection information are not supported (must be 0)"));
    }
  }
  uint64_t physical = ParamUint(params, "physical_block_size");
  if (physical != 0 && physical != block_size) {
    return absl::InvalidArgumentError("\"physical_block_size\": must be 0 or equal to block_size");
  }
  NullOptions options{ParamString(params, "name"), ParamString(params, "uuid"),
                      static_cast<uint32_t>(block_size), ParamUint(params, "num_blocks")};
  absl::StatusOr<std::string> name = CreateNullBdev(options);
  if (!name.ok()) return name.status();
  return nlohmann::json(*name);
}

}  // namespace

absl::StatusOr<std::string> CreateNullBdev(const NullOptions& options) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) return absl::FailedPreconditionError("the null module is not registered");
  if (options.name.empty()) return absl::InvalidArgumentError("\"name\": must not be empty");
  if (options.block_size < 512 || options.block_size % 512 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"block_size\": must be a multiple of 512 (at least 512), got ", options.block_size));
  }
  if (options.num_blocks == 0)
    return absl::InvalidArgumentError("\"num_blocks\": must be greater than 0");
  if (options.num_blocks > std::numeric_limits<uint64_t>::max() / options.block_size) {
    return absl::InvalidArgumentError(absl::StrCat("size of ", options.num_blocks, " blocks of ",
                                                   options.block_size, " bytes overflows"));
  }
  BdevProperties props;
  props.name = options.name;
  absl::StatusOr<std::string> uuid = UuidParamOrGenerate(options.uuid);
  if (!uuid.ok()) return uuid.status();
  props.uuid = *uuid;
  props.product_name = "Null disk";
  props.block_size = options.block_size;
  props.num_blocks = options.num_blocks;
  auto bdev = std::make_unique<NullBdev>(module, std::move(props));
  bdev->RegisterIoDevice(absl::StrCat("null:", options.name));
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) return s;
  return options.name;
}

void DeleteNullBdev(const std::string& name, std::function<void(absl::Status)> done) {
  BdevModule* module = FindModule(kModuleName);
  if (module == nullptr) {
    done(absl::FailedPreconditionError("the null module is not registered"));
    return;
  }
  UnregisterModuleBdev(name, *module, std::move(done));
}

}  // namespace bdevkit

void bdevkit_register_module_null() {
  using bdevkit::RpcParamType;
  bdevkit::RegisterModule(std::make_unique<bdevkit::NullModule>());
  bdevkit::RpcMethod create{
      .name = "bdev_null_create",
      .summary = "Creates a bdev that discards writes and leaves read buffers untouched",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "bdev name"},
              {"block_size", RpcParamType::kUint, true, nullptr, "bytes, a multiple of 512"},
              {"num_blocks", RpcParamType::kUint, true, nullptr, "number of blocks"},
              {"uuid", RpcParamType::kString, false, nullptr, "UUID (default: generated)"},
              {"physical_block_size", RpcParamType::kUint, false, nullptr,
               "accepted when 0 or equal to block_size"},
              {"md_size", RpcParamType::kUint, false, nullptr, "must be 0"},
              {"md_interleave", RpcParamType::kBool, false, nullptr, "accepted, ignored"},
              {"dif_type", RpcParamType::kUint, false, nullptr, "must be 0"},
              {"dif_is_head_of_md", RpcParamType::kBool, false, nullptr, "accepted, ignored"},
              {"dif_pi_format", RpcParamType::kUint, false, nullptr, "must be 0"},
          },
      .handler = [](const nlohmann::json& params,
                    bdevkit::RpcDone done) { done(bdevkit::CreateFromParams(params)); },
  };
  bdevkit::RpcMethod del{
      .name = "bdev_null_delete",
      .summary = "Deletes a null bdev; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name"}},
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            bdevkit::DeleteNullBdev(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(nlohmann::json(true)) : done(s);
            });
          },
  };
  for (bdevkit::RpcMethod* m : {&create, &del}) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(*m)); !s.ok()) {
      LOG_ERROR("null: %s", std::string(s.message()));
    }
  }
}

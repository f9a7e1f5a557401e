// The XOR module: its configs, examine, the bdevs' lifecycle, its RPC methods and the
// plugin's entry point.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/plugin.h"
#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"
#include "xor_vbdev.h"

namespace xor_vbdev {

XorConfig* XorModule::Find(const std::string& name) const {
  for (const auto& c : configs_) {
    if (c->name == name) return c.get();
  }
  return nullptr;
}

absl::StatusOr<std::string> XorModule::Create(const std::string& name, const std::string& base,
                                              uint64_t key, const std::string& uuid) {
  if (name.empty()) return absl::InvalidArgumentError("\"name\": must not be empty");
  if (base.empty()) return absl::InvalidArgumentError("\"base_bdev\": must not be empty");
  if (key > 255) {
    return absl::InvalidArgumentError(absl::StrCat("\"key\": ", key, " is not a byte (0..255)"));
  }
  if (Find(name) != nullptr || bdevkit::FindBdev(name) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("a bdev named \"", name, "\" exists"));
  }
  // The UUID is fixed now, so save_config writes it and a reload recreates the same one.
  absl::StatusOr<std::string> id = bdevkit::UuidParamOrGenerate(uuid);
  if (!id.ok()) return id.status();
  auto config = std::make_unique<XorConfig>();
  config->name = name;
  config->base = base;
  config->key = static_cast<uint8_t>(key);
  config->uuid = *id;
  if (bdevkit::FindBdev(base) != nullptr) {
    if (absl::Status s = Activate(*config); !s.ok()) return s;  // nothing was kept
  } else {
    LOG_NOTICE("xor: %s declared; it appears when its base %s does", name, base);
  }
  configs_.push_back(std::move(config));
  return name;
}

absl::Status XorModule::Activate(XorConfig& config) {
  XorConfig* cfg = &config;
  // The event callback runs on this (the app) thread: on removal of the base, the XOR
  // bdev goes too; its config stays, so it comes back with the base (examine).
  auto desc = bdevkit::OpenBdev(config.base, /*writable=*/true, [cfg](bdevkit::BdevEvent e) {
    if (e == bdevkit::BdevEvent::kRemove && cfg->registered) {
      bdevkit::UnregisterBdev(cfg->name, nullptr);
    }
  });
  if (!desc.ok()) {
    return absl::Status(desc.status().code(),
                        absl::StrCat("base bdev \"", config.base, "\": ", desc.status().message()));
  }
  // Nobody else may write under us: other opens of the base become read-only.
  if (absl::Status s = (*desc)->Claim(bdevkit::ClaimType::kExclusiveWrite, kModuleName); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("base bdev \"", config.base, "\": ", s.message()));
  }
  const bdevkit::BdevProperties& bp = (*desc)->bdev().properties();
  bdevkit::BdevProperties p;
  p.name = config.name;
  p.uuid = config.uuid;
  p.product_name = "XOR Disk";
  p.block_size = bp.block_size;
  p.num_blocks = bp.num_blocks;
  p.write_unit_size = bp.write_unit_size;
  p.required_alignment = bp.required_alignment;
  p.optimal_io_boundary = bp.optimal_io_boundary;
  p.split_on_optimal_io_boundary = bp.split_on_optimal_io_boundary;
  // A write must fit one of the channel's buffers: the core splits larger ones.
  uint32_t max_blocks = std::max<uint32_t>(1, kMaxTransferBytes / bp.block_size);
  if (bp.max_transfer_blocks != 0) max_blocks = std::min(max_blocks, bp.max_transfer_blocks);
  p.max_transfer_blocks = max_blocks;
  if (bp.block_size > kMaxTransferBytes) {
    return absl::InvalidArgumentError(absl::StrCat("base bdev \"", config.base, "\": blocks of ",
                                                   bp.block_size, " bytes are larger than ",
                                                   kMaxTransferBytes, " (the XOR buffer)"));
  }
  config.base_desc = std::move(*desc);
  auto bdev = std::make_unique<XorBdev>(this, std::move(p), &config);
  bdev->RegisterIoDevice(absl::StrCat("xor:", config.name));
  config.registered = true;
  if (absl::Status s = bdevkit::RegisterBdev(std::move(bdev)); !s.ok()) {
    // RegisterBdev destroyed the bdev; release the base.
    config.registered = false;
    config.base_desc.reset();
    return s;
  }
  LOG_INFO("xor: %s over %s", config.name, config.base);
  return absl::OkStatus();
}

void XorModule::Examine(bdevkit::Bdev& bdev) {
  for (const auto& c : configs_) {
    if (c->base == bdev.name() && !c->registered && !c->deleting) {
      if (absl::Status s = Activate(*c); !s.ok()) {
        LOG_WARNING("xor: %s over %s: %s", c->name, c->base, std::string(s.message()));
      }
    }
  }
  bdevkit::ExamineDone(bdev, *this);  // exactly once per examined bdev
}

void XorModule::OnBdevGone(XorConfig* config) {
  config->registered = false;
  config->base_desc.reset();  // releases the claim
  if (config->on_gone) {
    auto on_gone = std::move(config->on_gone);
    config->on_gone = nullptr;
    on_gone();
  }
}

void XorModule::Delete(const std::string& name, std::function<void(absl::Status)> done) {
  XorConfig* config = Find(name);
  if (config == nullptr || config->deleting) {
    return done(absl::NotFoundError(absl::StrCat("no XOR bdev named \"", name, "\"")));
  }
  config->deleting = true;
  if (!config->registered) {
    Forget(config);
    return done(absl::OkStatus());
  }
  config->on_gone = [this, config, done] {
    Forget(config);
    done(absl::OkStatus());
  };
  bdevkit::UnregisterBdev(name, nullptr);
}

void XorModule::Forget(XorConfig* config) {
  configs_.erase(std::find_if(configs_.begin(), configs_.end(),
                              [config](const auto& c) { return c.get() == config; }));
}

void XorModule::WriteConfigJson(nlohmann::json& config) const {
  for (const auto& c : configs_) {
    if (c->deleting) continue;
    config.push_back(
        {{"method", "bdev_xor_create"},
         {"params",
          {{"name", c->name}, {"base_bdev", c->base}, {"key", c->key}, {"uuid", c->uuid}}}});
  }
}

namespace {

XorModule* Module() { return static_cast<XorModule*>(bdevkit::FindModule(kModuleName)); }

std::vector<bdevkit::RpcMethod> Methods() {
  using bdevkit::RpcParamType;
  std::vector<bdevkit::RpcMethod> methods;
  methods.push_back(bdevkit::RpcMethod{
      .name = "bdev_xor_create",
      .summary = "Creates an XOR bdev over a base bdev (every byte XOR-ed with the key on its "
                 "way to the base); returns its name. Appears when the base does.",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "name of the XOR bdev"},
              {"base_bdev", RpcParamType::kString, true, nullptr, "the bdev underneath"},
              {"key", RpcParamType::kUint, false, 0x5A, "the byte to XOR with (0..255)"},
              {"uuid", RpcParamType::kString, false, "", "UUID (default: a new one)"},
          },
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            absl::StatusOr<std::string> name = Module()->Create(
                bdevkit::ParamString(params, "name"), bdevkit::ParamString(params, "base_bdev"),
                bdevkit::ParamUint(params, "key"), bdevkit::ParamString(params, "uuid"));
            if (!name.ok()) return done(name.status());
            done(bdevkit::RpcJson(*name));
          },
  });
  methods.push_back(bdevkit::RpcMethod{
      .name = "bdev_xor_delete",
      .summary = "Deletes an XOR bdev and releases its base; returns true",
      .params = {{"name", RpcParamType::kString, true, nullptr, "the XOR bdev"}},
      .handler =
          [](const nlohmann::json& params, bdevkit::RpcDone done) {
            Module()->Delete(bdevkit::ParamString(params, "name"), [done](absl::Status s) {
              s.ok() ? done(bdevkit::RpcJson(true)) : done(s);
            });
          },
  });
  return methods;
}

}  // namespace
}  // namespace xor_vbdev

// Runs once when the plugin is loaded, before the bdev layer starts.
BDEVKIT_PLUGIN() {
  bdevkit::RegisterModule(std::make_unique<xor_vbdev::XorModule>());
  for (bdevkit::RpcMethod& m : xor_vbdev::Methods()) {
    if (absl::Status s = bdevkit::RegisterRpcMethod(std::move(m)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

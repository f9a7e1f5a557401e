// The error module (error_module.h): configs, examine, the EE bdevs' life.
#include "modules/error/error_module.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "modules/error/error_bdev.h"
#include "nlohmann/json.hpp"

namespace bdevkit::error {

ErrorConfig* ErrorModule::FindByBase(const std::string& base) const {
  for (const auto& c : configs_) {
    if (c->base == base) return c.get();
  }
  return nullptr;
}

ErrorConfig* ErrorModule::FindByName(std::string_view name) const {
  for (const auto& c : configs_) {
    if (c->bdev_name() == name) return c.get();
  }
  // An alias or UUID of a registered error bdev.
  Bdev* b = FindBdev(name);
  if (b != nullptr && &b->module() == this) {
    for (const auto& c : configs_) {
      if (c->bdev == b) return c.get();
    }
  }
  return nullptr;
}

ErrorBdev* ErrorModule::FindErrorBdev(std::string_view name) const {
  ErrorConfig* c = FindByName(name);
  return c != nullptr && !c->deleting ? c->bdev : nullptr;
}

absl::Status ErrorModule::Create(const std::string& base, std::string_view uuid) {
  if (base.empty()) return absl::InvalidArgumentError("\"base_name\": must not be empty");
  if (FindByBase(base) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("bdev \"", base, "\" already has an error bdev (",
                                                 kErrorBdevPrefix, base, ")"));
  }
  absl::StatusOr<std::string> id = UuidParamOrGenerate(uuid);
  if (!id.ok()) return id.status();
  auto config = std::make_unique<ErrorConfig>();
  config->base = base;
  config->uuid = *id;
  if (FindBdev(config->bdev_name()) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("a bdev named \"", config->bdev_name(), "\" exists"));
  }
  if (FindBdev(config->uuid) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("\"uuid\": a bdev with UUID ", config->uuid, " exists"));
  }
  if (FindBdev(base) != nullptr) {
    if (absl::Status s = Activate(*config); !s.ok()) return s;
  } else {
    LOG_INFO("error bdev over %s declared; it appears when %s does", base, base);
  }
  configs_.push_back(std::move(config));
  return absl::OkStatus();
}

absl::Status ErrorModule::Activate(ErrorConfig& config) {
  Bdev* base = FindBdev(config.base);
  if (base == nullptr) {
    return absl::NotFoundError(absl::StrCat("no bdev named \"", config.base, "\""));
  }
  const std::string name = config.bdev_name();
  if (FindBdev(name) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("a bdev named \"", name, "\" exists"));
  }
  ErrorConfig* cfg = &config;
  absl::StatusOr<std::unique_ptr<BdevDesc>> desc =
      OpenBdev(config.base, /*writable=*/true, [cfg](BdevEvent e) {
        if (e != BdevEvent::kRemove || cfg->bdev == nullptr) return;
        LOG_WARNING("error: base %s removed; %s goes and comes back with it", cfg->base,
                    cfg->bdev_name());
        UnregisterBdev(cfg->bdev_name(), nullptr);
      });
  if (!desc.ok()) {
    return absl::Status(desc.status().code(),
                        absl::StrCat("base bdev \"", config.base, "\": ", desc.status().message()));
  }
  if (absl::Status s = (*desc)->Claim(ClaimType::kExclusiveWrite, kErrorModuleName); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("base bdev \"", config.base, "\": ", s.message()));
  }
  const BdevProperties& bp = base->properties();
  BdevProperties p;
  p.name = name;
  p.uuid = config.uuid;
  p.product_name = "Error Injection Disk";
  p.block_size = bp.block_size;
  p.num_blocks = bp.num_blocks;
  // The base's rules, so the core cuts and aligns I/O the way the base wants it.
  p.write_unit_size = bp.write_unit_size;
  p.required_alignment = bp.required_alignment;
  p.optimal_io_boundary = bp.optimal_io_boundary;
  p.split_on_optimal_io_boundary = bp.split_on_optimal_io_boundary;
  p.max_transfer_blocks = bp.max_transfer_blocks;
  p.max_unmap_blocks = bp.max_unmap_blocks;
  p.max_write_zeroes_blocks = bp.max_write_zeroes_blocks;
  auto bdev = std::make_unique<ErrorBdev>(this, std::move(p), &config, desc->get());
  ErrorBdev* raw = bdev.get();
  bdev->RegisterIoDevice(absl::StrCat("error:", name));
  if (absl::Status s = RegisterBdev(std::move(bdev)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("error bdev \"", name, "\": ", s.message()));
  }
  config.base_desc = std::move(*desc);
  config.bdev = raw;
  absl::StatusOr<std::unique_ptr<BdevDesc>> self =
      OpenBdev(name, /*writable=*/false, [cfg](BdevEvent e) {
        if (e != BdevEvent::kRemove) return;
        // Whoever unregisters it: let go of the held I/O so the removal can finish.
        if (cfg->bdev != nullptr) {
          cfg->bdev->FailHeld(IoStatus::Error(-ENODEV), [] {});
        }
        cfg->self_desc.reset();
      });
  if (self.ok()) {
    config.self_desc = std::move(*self);
  } else {
    LOG_ERROR("error bdev %s: %s", name, std::string(self.status().message()));
  }
  LOG_INFO("error bdev %s over %s", name, config.base);
  return absl::OkStatus();
}

void ErrorModule::OnBdevGone(ErrorConfig* config) {
  config->bdev = nullptr;
  config->self_desc.reset();
  config->base_desc.reset();  // releases the base
  std::vector<std::function<void()>> waiters = std::move(config->on_gone);
  config->on_gone.clear();
  for (auto& w : waiters) w();
}

void ErrorModule::Delete(const std::string& name, std::function<void(absl::Status)> done) {
  ErrorConfig* config = FindByName(name);
  if (config == nullptr || config->deleting) {
    return done(absl::NotFoundError(absl::StrCat("no error bdev named \"", name, "\"")));
  }
  config->deleting = true;
  auto forget = [this, config, done = std::move(done)] {
    Forget(config);
    done(absl::OkStatus());
  };
  if (config->bdev == nullptr) return forget();
  config->on_gone.push_back(std::move(forget));
  UnregisterBdev(config->bdev_name(), nullptr);
}

void ErrorModule::Forget(ErrorConfig* config) {
  auto it = std::find_if(configs_.begin(), configs_.end(),
                         [config](const auto& c) { return c.get() == config; });
  if (it != configs_.end()) configs_.erase(it);
}

void ErrorModule::Examine(Bdev& bdev) {
  ErrorConfig* config = FindByBase(bdev.name());
  if (config != nullptr && !config->deleting && config->bdev == nullptr) {
    if (absl::Status s = Activate(*config); !s.ok()) {
      LOG_WARNING("error bdev over %s: %s", bdev.name(), std::string(s.message()));
    }
  }
  ExamineDone(bdev, *this);
}

void ErrorModule::WriteConfigJson(nlohmann::json& config) const {
  for (const auto& c : configs_) {
    if (c->deleting) continue;
    config.push_back(
        {{"method", "bdev_error_create"}, {"params", {{"base_name", c->base}, {"uuid", c->uuid}}}});
  }
}

}  // namespace bdevkit::error

// The split module (split_module.h): configs, examine, parts' lifecycle.
#include "modules/split/split_module.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "modules/split/split_bdev.h"
#include "modules/split/split_layout.h"
#include "nlohmann/json.hpp"

namespace bdevkit::split {

SplitConfig* SplitModule::Find(const std::string& base) const {
  for (const auto& c : configs_) {
    if (c->base == base) return c.get();
  }
  return nullptr;
}

absl::StatusOr<std::vector<std::string>> SplitModule::Create(const std::string& base,
                                                             uint64_t split_count,
                                                             uint64_t split_size_mb) {
  if (base.empty()) return absl::InvalidArgumentError("\"base_bdev\": must not be empty");
  if (split_count == 0) return absl::InvalidArgumentError("\"split_count\": must be at least 1");
  if (split_count > UINT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"split_count\": ", split_count, " is too large"));
  }
  if (Find(base) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("bdev \"", base, "\" is already split"));
  }
  auto config = std::make_unique<SplitConfig>();
  config->base = base;
  config->split_count = split_count;
  config->split_size_mb = split_size_mb;
  if (FindBdev(base) != nullptr) {
    if (absl::Status s = Activate(*config); !s.ok()) {
      if (config->parts_alive != 0) {
        // Parts registered before the failure are still going: keep the config (as
        // being deleted) until they are gone.
        SplitConfig* raw = config.get();
        raw->deleting = true;
        raw->on_parts_gone.push_back([this, raw] { Forget(raw); });
        configs_.push_back(std::move(config));
      }
      return s;
    }
  }
  std::vector<std::string> parts = config->parts;
  configs_.push_back(std::move(config));
  if (parts.empty()) {
    LOG_INFO("split of %s declared; its parts appear when it does", base);
  }
  return parts;
}

absl::Status SplitModule::Activate(SplitConfig& config) {
  Bdev* base = FindBdev(config.base);
  if (base == nullptr)
    return absl::NotFoundError(absl::StrCat("no bdev named \"", config.base, "\""));
  absl::StatusOr<SplitGeometry> g = ComputeSplit(base->num_blocks(), base->block_size(),
                                                 config.split_count, config.split_size_mb);
  if (!g.ok()) return g.status();
  // Names and UUIDs first: registering cannot then fail half way on a taken name.
  const std::string base_name = base->name();
  std::vector<std::string> names;
  for (uint32_t i = 0; i < g->count; ++i) {
    names.push_back(absl::StrCat(base_name, "p", i));
    if (FindBdev(names.back()) != nullptr) {
      return absl::AlreadyExistsError(absl::StrCat("a bdev named \"", names.back(), "\" exists"));
    }
  }
  SplitConfig* cfg = &config;
  absl::StatusOr<std::unique_ptr<BdevDesc>> desc =
      OpenBdev(base_name, /*writable=*/true, [this, cfg](BdevEvent e) { OnBaseEvent(cfg, e); });
  if (!desc.ok()) {
    return absl::Status(desc.status().code(),
                        absl::StrCat("base bdev \"", base_name, "\": ", desc.status().message()));
  }
  if (absl::Status s = (*desc)->Claim(ClaimType::kExclusiveWrite, kSplitModuleName); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("base bdev \"", base_name, "\": ", s.message()));
  }
  config.desc = std::move(*desc);
  const BdevProperties& bp = base->properties();
  for (uint32_t i = 0; i < g->count; ++i) {
    BdevProperties p;
    p.name = names[i];
    p.uuid = PartUuid(base->uuid(), i);
    p.product_name = "Split Disk";
    p.block_size = bp.block_size;
    p.num_blocks = g->part_blocks;
    // The base's rules, so the core cuts and aligns I/O the way the base wants it.
    p.write_unit_size = bp.write_unit_size;
    p.required_alignment = bp.required_alignment;
    p.optimal_io_boundary = bp.optimal_io_boundary;
    p.split_on_optimal_io_boundary = bp.split_on_optimal_io_boundary;
    p.max_transfer_blocks = bp.max_transfer_blocks;
    p.max_unmap_blocks = bp.max_unmap_blocks;
    p.max_write_zeroes_blocks = bp.max_write_zeroes_blocks;
    auto part = std::make_unique<SplitPart>(this, std::move(p), &config, config.desc.get(),
                                            uint64_t{i} * g->part_blocks);
    part->RegisterIoDevice(absl::StrCat("split:", names[i]));
    ++config.parts_alive;
    if (absl::Status s = RegisterBdev(std::move(part)); !s.ok()) {
      // Not expected (names and UUIDs checked); undo what was registered.
      --config.parts_alive;
      LOG_ERROR("split of %s: %s", base_name, std::string(s.message()));
      UnregisterParts(config);
      return s;
    }
    config.parts.push_back(names[i]);
  }
  LOG_INFO("split %s into %u parts of %llu blocks", base_name, g->count,
           static_cast<unsigned long long>(g->part_blocks));
  return absl::OkStatus();
}

void SplitModule::UnregisterParts(SplitConfig& config) {
  std::vector<std::string> parts = std::move(config.parts);
  config.parts.clear();
  for (const std::string& name : parts) UnregisterBdev(name, nullptr);
  if (config.parts_alive == 0) config.desc.reset();
}

void SplitModule::OnPartGone(SplitConfig* config) {
  if (--config->parts_alive != 0) return;
  // The last part is gone: release the base, then whoever waited.
  config->desc.reset();
  std::vector<std::function<void()>> waiters = std::move(config->on_parts_gone);
  config->on_parts_gone.clear();
  for (auto& w : waiters) w();
}

void SplitModule::OnBaseEvent(SplitConfig* config, BdevEvent event) {
  if (event != BdevEvent::kRemove) return;
  LOG_WARNING("split: base %s removed; its parts go and come back with it", config->base);
  UnregisterParts(*config);
}

void SplitModule::Delete(const std::string& base, std::function<void(absl::Status)> done) {
  SplitConfig* config = Find(base);
  if (config == nullptr || config->deleting) {
    return done(absl::NotFoundError(absl::StrCat("bdev \"", base, "\" has no split")));
  }
  config->deleting = true;
  auto forget = [this, config, done = std::move(done)] {
    Forget(config);
    done(absl::OkStatus());
  };
  if (config->parts_alive == 0) {
    config->desc.reset();
    return forget();
  }
  config->on_parts_gone.push_back(std::move(forget));
  UnregisterParts(*config);
}

void SplitModule::Forget(SplitConfig* config) {
  auto it = std::find_if(configs_.begin(), configs_.end(),
                         [config](const auto& c) { return c.get() == config; });
  if (it != configs_.end()) configs_.erase(it);
}

void SplitModule::Examine(Bdev& bdev) {
  SplitConfig* config = Find(bdev.name());
  if (config != nullptr && !config->deleting && config->parts_alive == 0) {
    if (absl::Status s = Activate(*config); !s.ok()) {
      LOG_WARNING("split of %s: %s", bdev.name(), std::string(s.message()));
    }
  }
  ExamineDone(bdev, *this);
}

void SplitModule::WriteConfigJson(nlohmann::json& config) const {
  for (const auto& c : configs_) {
    if (c->deleting) continue;
    config.push_back({{"method", "bdev_split_create"},
                      {"params",
                       {{"base_bdev", c->base},
                        {"split_count", c->split_count},
                        {"split_size_mb", c->split_size_mb}}}});
  }
}

}  // namespace bdevkit::split

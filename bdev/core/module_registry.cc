// Modules: registration, Init in order / Fini in reverse, examine of new bdevs, and the
// bdev layer's start and stop (stop unregisters bdevs top-down: unclaimed ones first,
// so virtual bdevs go before the bases they claim).
#include "bdev/core/module_registry.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/bdev_io_pool.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"

namespace bdevkit {

namespace {

struct Modules {
  std::vector<std::unique_ptr<BdevModule>> list;  // registration order
  bool started = false;
  int examine_pending = 0;
  std::vector<std::function<void()>> examine_waiters;
  BdevLayerOptions options;
  // With auto_examine off: names bdev_examine allowed, and bdevs registered without
  // being examined (so a later bdev_examine knows to examine them).
  absl::flat_hash_set<std::string> examine_allowed;
  absl::flat_hash_set<std::string> not_examined;
};

// Guarded by core::ControlMutex().
Modules& Mods() {
  static auto* modules = new Modules();  // process lifetime
  return *modules;
}

std::vector<BdevModule*> SnapshotModules() {
  absl::MutexLock lock(&core::ControlMutex());
  std::vector<BdevModule*> out;
  for (const auto& m : Mods().list) out.push_back(m.get());
  return out;
}

void FiniModules(const std::vector<BdevModule*>& modules, size_t count) {
  for (size_t i = count; i-- > 0;) modules[i]->Fini();
}

void ExamineWith(Bdev& bdev, const std::vector<BdevModule*>& modules) {
  for (BdevModule* m : modules) {
    {
      absl::MutexLock lock(&core::ControlMutex());
      ++Mods().examine_pending;
    }
    m->Examine(bdev);
  }
}

// One round of StopBdevLayer: unregister every unclaimed bdev (or, if all remaining
// ones are claimed by something outside the layer, all of them), wait, repeat.
void StopRound(std::shared_ptr<std::function<void()>> done) {
  std::vector<Bdev*> bdevs = core::SnapshotBdevs();
  if (bdevs.empty()) {
    std::vector<BdevModule*> modules = SnapshotModules();
    FiniModules(modules, modules.size());
    {
      absl::MutexLock lock(&core::ControlMutex());
      Mods().started = false;
    }
    core::StopLayerDevice([done] { (*done)(); });
    return;
  }
  std::vector<std::string> victims;
  for (Bdev* b : bdevs) {
    if (b->claim_type() == ClaimType::kNone) victims.push_back(b->name());
  }
  if (victims.empty()) {
    for (Bdev* b : bdevs) victims.push_back(b->name());
  }
  auto left = std::make_shared<size_t>(victims.size());
  for (const std::string& name : victims) {
    UnregisterBdev(name, [left, done](absl::Status) {
      if (--*left == 0) StopRound(done);
    });
  }
}

}  // namespace

void RegisterModule(std::unique_ptr<BdevModule> module) {
  absl::MutexLock lock(&core::ControlMutex());
  for (const auto& m : Mods().list) {
    if (m->name() == module->name()) {
      LOG_WARNING("module '%s' registered twice; keeping the first", module->name());
      return;
    }
  }
  Mods().list.push_back(std::move(module));
}

BdevModule* FindModule(std::string_view name) {
  absl::MutexLock lock(&core::ControlMutex());
  for (const auto& m : Mods().list) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

std::vector<BdevModule*> ListModules() { return SnapshotModules(); }

void BdevModule::Examine(Bdev& bdev) { ExamineDone(bdev, *this); }

void ExamineDone(Bdev& /*bdev*/, BdevModule& /*module*/) {
  std::vector<std::function<void()>> waiters;
  {
    absl::MutexLock lock(&core::ControlMutex());
    if (--Mods().examine_pending == 0) waiters.swap(Mods().examine_waiters);
  }
  for (auto& w : waiters) w();
}

void WaitForExamine(std::function<void()> done) {
  {
    absl::MutexLock lock(&core::ControlMutex());
    if (Mods().examine_pending != 0) {
      Mods().examine_waiters.push_back(std::move(done));
      return;
    }
  }
  done();
}

namespace core {
void ExamineNewBdev(Bdev& bdev) {
  {
    absl::MutexLock lock(&ControlMutex());
    if (!Mods().started) return;
    if (!Mods().options.auto_examine && !Mods().examine_allowed.contains(bdev.name())) {
      Mods().not_examined.insert(bdev.name());
      return;
    }
  }
  ExamineWith(bdev, SnapshotModules());
}

uint32_t BdevIoPerThread() {
  absl::MutexLock lock(&ControlMutex());
  return Mods().options.bdev_io_per_thread;
}
}  // namespace core

absl::Status SetBdevLayerOptions(const BdevLayerOptions& options) {
  if (options.bdev_io_per_thread < 2 * core::kBdevIoChildReserve) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"bdev_io_pool_size\": gives ", options.bdev_io_per_thread,
        " BdevIo per thread; at least ", 2 * core::kBdevIoChildReserve, " are needed"));
  }
  if (options.bdev_io_cache_size == 0 || options.bdev_io_cache_size > options.bdev_io_per_thread) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"bdev_io_cache_size\": must be between 1 and the BdevIo per thread (",
                     options.bdev_io_per_thread, "), got ", options.bdev_io_cache_size));
  }
  absl::MutexLock lock(&core::ControlMutex());
  if (Mods().started) {
    return absl::FailedPreconditionError(
        "bdev layer options can only be set before the bdev layer starts (first in a "
        "config file, or over RPC with bdevd --wait-for-rpc before framework_start_init)");
  }
  Mods().options = options;
  return absl::OkStatus();
}

BdevLayerOptions GetBdevLayerOptions() {
  absl::MutexLock lock(&core::ControlMutex());
  return Mods().options;
}

absl::Status ExamineBdev(std::string_view name) {
  Bdev* bdev = FindBdev(name);
  std::string key = bdev != nullptr ? bdev->name() : std::string(name);
  bool examine_now = false;
  {
    absl::MutexLock lock(&core::ControlMutex());
    Mods().examine_allowed.insert(key);
    examine_now = bdev != nullptr && Mods().started && Mods().not_examined.erase(key) > 0;
  }
  if (bdev == nullptr) {
    return absl::NotFoundError(absl::StrCat("no bdev named \"", std::string(name),
                                            "\" (it will be examined when it registers)"));
  }
  if (examine_now) ExamineWith(*bdev, SnapshotModules());
  return absl::OkStatus();
}

void StartBdevLayer(std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&core::ControlMutex());
    if (Mods().started) {
      done(absl::FailedPreconditionError("bdev layer already started"));
      return;
    }
  }
  core::StartLayerDevice();
  std::vector<BdevModule*> modules = SnapshotModules();
  for (size_t i = 0; i < modules.size(); ++i) {
    absl::Status st = modules[i]->Init();
    if (!st.ok()) {
      FiniModules(modules, i);
      done(absl::Status(st.code(),
                        absl::StrCat("module '", modules[i]->name(), "': ", st.message())));
      return;
    }
  }
  {
    absl::MutexLock lock(&core::ControlMutex());
    Mods().started = true;
  }
  // Bdevs registered before start (e.g. by a module's Init) are examined now.
  for (Bdev* b : core::SnapshotBdevs()) core::ExamineNewBdev(*b);
  done(absl::OkStatus());
}

void StopBdevLayer(std::function<void()> done) {
  StopRound(std::make_shared<std::function<void()>>(std::move(done)));
}

}  // namespace bdevkit

// The bdev registry: registration with validation, lookup by name/alias/UUID, resize
// and removal (events to descriptors, teardown once nobody uses the bdev).
// Mutations happen on the app thread; lookups from anywhere under the control lock.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/bdev_io_pool.h"
#include "bdev/core/module_registry.h"
#include "bdev/util/absl_compat.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"

namespace bdevkit {

namespace {

struct Registry {
  std::vector<std::unique_ptr<Bdev>> bdevs;        // registration order; owns them
  absl::flat_hash_map<std::string, Bdev*> by_key;  // name, every alias, UUID
};

Registry& Reg() {
  static auto* registry = new Registry();  // process lifetime, never destroyed
  return *registry;
}

std::vector<std::string> KeysOf(const Bdev& bdev) {
  std::vector<std::string> keys{bdev.name()};
  keys.insert(keys.end(), bdev.aliases().begin(), bdev.aliases().end());
  return keys;
}

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

absl::Status Validate(BdevProperties& p, BdevModule* module) {
  if (module == nullptr) return absl::InvalidArgumentError("bdev has no module");
  if (p.name.empty()) return absl::InvalidArgumentError("bdev name is empty");
  if (p.block_size == 0 || p.block_size % 512 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("bdev '", p.name, "': block_size ", p.block_size,
                                                   " is not a multiple of 512"));
  }
  if (p.num_blocks == 0) {
    return absl::InvalidArgumentError(absl::StrCat("bdev '", p.name, "': num_blocks is 0"));
  }
  if (p.required_alignment != 0 && !IsPowerOfTwo(p.required_alignment)) {
    return absl::InvalidArgumentError(absl::StrCat("bdev '", p.name, "': required_alignment ",
                                                   p.required_alignment, " is not a power of two"));
  }
  // Misaligned I/O is bounced through per-thread buffers of kBounceBufSize bytes,
  // aligned to that size: one block must fit, and the alignment must be reachable.
  if (p.required_alignment > core::kBounceBufSize ||
      (p.required_alignment > 1 && p.block_size > core::kBounceBufSize)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bdev '", p.name, "': required_alignment ", p.required_alignment, " with block_size ",
        p.block_size, " exceeds the bounce buffer size ", core::kBounceBufSize));
  }
  if (p.write_unit_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("bdev '", p.name, "': write_unit_size is 0"));
  }
  if (p.uuid.empty()) {
    p.uuid = GenerateUuid();
  } else {
    absl::StatusOr<std::string> uuid = ParseUuid(p.uuid);
    if (!uuid.ok()) return uuid.status();
    p.uuid = *uuid;
  }
  // The UUID is always an alias (bdev_get_bdevs shows it there, lookups accept it).
  if (std::find(p.aliases.begin(), p.aliases.end(), p.uuid) == p.aliases.end()) {
    p.aliases.push_back(p.uuid);
  }
  std::vector<std::string> seen{p.name};
  for (const std::string& alias : p.aliases) {
    if (alias.empty()) return absl::InvalidArgumentError("empty bdev alias");
    if (std::find(seen.begin(), seen.end(), alias) != seen.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bdev '", p.name, "': alias '", alias, "' given twice"));
    }
    seen.push_back(alias);
  }
  return absl::OkStatus();
}

Bdev* FindLocked(std::string_view key) {
  Registry& reg = Reg();
  if (auto it = reg.by_key.find(std::string(key)); it != reg.by_key.end()) return it->second;
  // Users may type a UUID in upper case.
  if (absl::StatusOr<std::string> uuid = ParseUuid(key); uuid.ok()) {
    if (auto it = reg.by_key.find(*uuid); it != reg.by_key.end()) return it->second;
  }
  return nullptr;
}

}  // namespace

namespace core {
absl::Mutex& ControlMutex() {
  static auto* mu = new absl::Mutex();
  return *mu;
}
}  // namespace core

// ---- Bdev basics ------------------------------------------------------------------

Bdev::Bdev(BdevModule* module, BdevProperties props)
    : module_(module), props_(std::move(props)), internal_(std::make_unique<BdevInternal>(this)) {
  internal_->num_blocks.store(props_.num_blocks, std::memory_order_relaxed);
}

Bdev::~Bdev() = default;

ClaimType Bdev::claim_type() const {
  absl::MutexLock lock(&core::ControlMutex());
  return internal_->claim_type;
}

std::string Bdev::claim_module() const {
  absl::MutexLock lock(&core::ControlMutex());
  return internal_->claim_module;
}

void Bdev::NotifyResize(uint64_t new_num_blocks) {
  BdevRegistry::NotifyResize(*this, new_num_blocks);
}

// ---- Registration ------------------------------------------------------------------

absl::Status BdevRegistry::Register(std::unique_ptr<Bdev> bdev) {
  if (bdev == nullptr) return absl::InvalidArgumentError("null bdev");
  // On any error `bdev` is destroyed when this returns and nothing was published.
  if (absl::Status st = Validate(bdev->props_, bdev->module_); !st.ok()) return st;
  bdev->internal_->num_blocks.store(bdev->props_.num_blocks, std::memory_order_relaxed);
  const std::vector<std::string> keys = KeysOf(*bdev);
  {
    absl::MutexLock lock(&core::ControlMutex());
    for (const std::string& key : keys) {
      if (Reg().by_key.contains(key)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "bdev '", bdev->name(), "': name, alias or UUID '", key, "' is already in use"));
      }
    }
  }
  // Outside the control lock (the runtime has its own); registrations only happen on
  // the app thread, so the uniqueness checked above still holds below.
  bdev->internal_->RegisterIoDevice(absl::StrCat("bdev_", bdev->name()));
  Bdev* raw = bdev.get();
  {
    absl::MutexLock lock(&core::ControlMutex());
    for (const std::string& key : keys) Reg().by_key.emplace(key, raw);
    Reg().bdevs.push_back(std::move(bdev));
  }
  LOG_INFO("registered bdev '%s' (%llu x %u bytes)", raw->name(),
           static_cast<unsigned long long>(raw->num_blocks()), raw->block_size());
  core::ExamineNewBdev(*raw);
  return absl::OkStatus();
}

absl::Status RegisterBdev(std::unique_ptr<Bdev> bdev) {
  return BdevRegistry::Register(std::move(bdev));
}

Bdev* FindBdev(std::string_view name_alias_or_uuid) {
  absl::MutexLock lock(&core::ControlMutex());
  return FindLocked(name_alias_or_uuid);
}

std::vector<std::string> ListBdevs() {
  absl::MutexLock lock(&core::ControlMutex());
  std::vector<std::string> names;
  for (const auto& b : Reg().bdevs) names.push_back(b->name());
  return names;
}

namespace core {
Bdev* FindBdevLocked(std::string_view key) { return FindLocked(key); }

std::vector<Bdev*> SnapshotBdevs() {
  absl::MutexLock lock(&ControlMutex());
  std::vector<Bdev*> out;
  for (const auto& b : Reg().bdevs) out.push_back(b.get());
  return out;
}
}  // namespace core

// ---- Events --------------------------------------------------------------------------

void BdevRegistry::SendEvent(BdevInternal& in, BdevDesc* desc, BdevEvent event) {
  // Caller holds the control lock. The pending count keeps the bdev alive until the
  // message has run, even if the descriptor closes meanwhile.
  ++in.pending_events;
  BdevInternal* inp = &in;
  int rc = desc->thread_->Send([inp, desc, event] {
    BdevEventCallback cb;
    {
      absl::MutexLock lock(&core::ControlMutex());
      // Closed since the event was sent: it is no longer interested.
      if (std::find(inp->descs.begin(), inp->descs.end(), desc) != inp->descs.end()) {
        cb = desc->event_cb_;
      }
    }
    // Outside the lock: the callback typically closes the descriptor.
    if (cb) cb(event);
    {
      absl::MutexLock lock(&core::ControlMutex());
      --inp->pending_events;
    }
    MaybeFinishRemoval(*inp);
  });
  if (rc != 0) {
    --in.pending_events;
    LOG_ERROR("bdev '%s': cannot deliver event to thread '%s' (%d)", in.bdev->name(),
              desc->thread_->name(), rc);
  }
}

void BdevRegistry::NotifyResize(Bdev& bdev, uint64_t new_num_blocks) {
  BdevInternal& in = *bdev.internal_;
  absl::MutexLock lock(&core::ControlMutex());
  bdev.props_.num_blocks = new_num_blocks;
  in.num_blocks.store(new_num_blocks, std::memory_order_relaxed);
  for (BdevDesc* desc : in.descs) SendEvent(in, desc, BdevEvent::kResize);
}

// ---- Removal -------------------------------------------------------------------------

void BdevRegistry::Unregister(std::string_view name, std::function<void(absl::Status)> done) {
  Bdev* bdev;
  {
    absl::MutexLock lock(&core::ControlMutex());
    bdev = FindLocked(name);
    if (bdev != nullptr) {
      BdevInternal& in = *bdev->internal_;
      if (done) in.unregister_done.push_back(std::move(done));
      if (!in.removing.exchange(true)) {
        LOG_INFO("unregistering bdev '%s'", bdev->name());
        for (BdevDesc* desc : in.descs) SendEvent(in, desc, BdevEvent::kRemove);
      }
    }
  }
  if (bdev == nullptr) {
    if (done) done(absl::NotFoundError(absl::StrCat("no bdev named '", AsAbsl(name), "'")));
    return;
  }
  MaybeFinishRemoval(*bdev->internal_);
}

void UnregisterBdev(std::string_view name, std::function<void(absl::Status)> done) {
  BdevRegistry::Unregister(name, std::move(done));
}

void UnregisterModuleBdev(std::string_view name, const BdevModule& module,
                          std::function<void(absl::Status)> done) {
  Bdev* bdev = FindBdev(name);
  if (bdev == nullptr) {
    done(absl::NotFoundError(absl::StrCat("no bdev named \"", AsAbsl(name), "\"")));
    return;
  }
  if (&bdev->module() != &module) {
    done(absl::NotFoundError(absl::StrCat("bdev \"", AsAbsl(name), "\" is not a ", module.name(),
                                          " bdev (module ", bdev->module().name(), ")")));
    return;
  }
  // Copied: `name` may be an alias, or point into the bdev that is about to go.
  const std::string canonical = bdev->name();
  UnregisterBdev(canonical, std::move(done));
}

void BdevRegistry::MaybeFinishRemoval(BdevInternal& in) {
  {
    absl::MutexLock lock(&core::ControlMutex());
    if (!in.removing.load() || in.finishing || !in.descs.empty() || in.pending_events != 0) {
      return;
    }
    in.finishing = true;
  }
  // Teardown belongs to the app thread; by message so it never runs inside the stack
  // of whoever closed the last descriptor.
  Bdev* bdev = in.bdev;
  Thread* app = Runtime::AppThread();
  if (app == nullptr || app->Send([bdev] { FinishRemoval(bdev); }) != 0) {
    LOG_ERROR("bdev '%s': cannot reach the app thread to finish removal", bdev->name());
  }
}

void BdevRegistry::FinishRemoval(Bdev* bdev) {
  // Channels still held (released after the descriptor closed) are waited for here.
  bdev->internal_->UnregisterIoDevice([bdev] {
    bdev->Destruct([bdev] {
      // Destruct may finish on another thread; deletion happens on the app thread.
      Thread* app = Runtime::AppThread();
      if (Thread::Current() == app) {
        DeleteBdev(bdev);
      } else if (app == nullptr || app->Send([bdev] { DeleteBdev(bdev); }) != 0) {
        LOG_ERROR("bdev '%s': cannot reach the app thread to delete it", bdev->name());
      }
    });
  });
}

void BdevRegistry::DeleteBdev(Bdev* bdev) {
  std::unique_ptr<Bdev> owned;
  std::vector<std::function<void(absl::Status)>> dones;
  {
    absl::MutexLock lock(&core::ControlMutex());
    Registry& reg = Reg();
    for (const std::string& key : KeysOf(*bdev)) {
      auto it = reg.by_key.find(key);
      if (it != reg.by_key.end() && it->second == bdev) reg.by_key.erase(it);
    }
    auto it = std::find_if(reg.bdevs.begin(), reg.bdevs.end(),
                           [bdev](const auto& b) { return b.get() == bdev; });
    if (it != reg.bdevs.end()) {
      owned = std::move(*it);
      reg.bdevs.erase(it);
    }
    dones = std::move(bdev->internal_->unregister_done);
  }
  LOG_INFO("bdev '%s' removed", bdev->name());
  owned.reset();
  for (auto& done : dones) done(absl::OkStatus());
}

}  // namespace bdevkit

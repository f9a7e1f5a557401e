// Descriptors: open, close, claims and channels. Control plane (the control lock is
// taken here, never in the I/O functions, which live in io_submit.cc).
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/module_registry.h"
#include "bdev/util/absl_compat.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"

namespace bdevkit {

absl::StatusOr<std::unique_ptr<BdevDesc>> BdevRegistry::Open(std::string_view name, bool writable,
                                                             BdevEventCallback event_cb) {
  Thread* thread = Thread::Current();
  if (thread == nullptr) {
    return absl::FailedPreconditionError("OpenBdev must be called on a runtime thread");
  }
  absl::MutexLock lock(&core::ControlMutex());
  // Looked up under the lock: the bdev cannot be deleted while we hold it.
  Bdev* bdev = core::FindBdevLocked(name);
  if (bdev == nullptr) {
    return absl::NotFoundError(absl::StrCat("no bdev named '", AsAbsl(name), "'"));
  }
  BdevInternal& in = *bdev->internal_;
  if (in.removing.load()) {
    return absl::UnavailableError(absl::StrCat("bdev '", AsAbsl(name), "' is being removed"));
  }
  if (writable && in.claim_type != ClaimType::kNone) {
    return absl::PermissionDeniedError(absl::StrCat("bdev '", AsAbsl(name),
                                                    "' is claimed by module '", in.claim_module,
                                                    "'; cannot open for writing"));
  }
  // The constructor is private (only the core makes descriptors), so no make_unique.
  std::unique_ptr<BdevDesc> desc(new BdevDesc(bdev, writable, std::move(event_cb), thread));
  in.descs.push_back(desc.get());
  return desc;
}

absl::StatusOr<std::unique_ptr<BdevDesc>> OpenBdev(std::string_view name, bool writable,
                                                   BdevEventCallback event_cb) {
  return BdevRegistry::Open(name, writable, std::move(event_cb));
}

void BdevRegistry::Close(BdevDesc& desc) {
  if (desc.closed_) return;
  desc.closed_ = true;
  if (Thread::Current() != desc.thread_) {
    LOG_ERROR("bdev '%s': descriptor closed on a thread other than the one that opened it",
              desc.bdev_->name());
  }
  BdevInternal& in = *desc.bdev_->internal_;
  {
    absl::MutexLock lock(&core::ControlMutex());
    std::erase(in.descs, &desc);
    if (in.claim_desc == &desc) {
      // A claim lives as long as the descriptor that made it.
      in.claim_desc = nullptr;
      in.claim_type = ClaimType::kNone;
      in.claim_module.clear();
    }
  }
  MaybeFinishRemoval(in);
}

absl::Status BdevRegistry::Claim(BdevDesc& desc, ClaimType type, std::string_view module_name) {
  if (type == ClaimType::kNone) return absl::InvalidArgumentError("claim type kNone");
  if (!desc.writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat("claiming bdev '", desc.bdev_->name(), "' needs a writable descriptor"));
  }
  BdevInternal& in = *desc.bdev_->internal_;
  absl::MutexLock lock(&core::ControlMutex());
  if (in.claim_desc == &desc && in.claim_type == type) return absl::OkStatus();
  if (in.claim_type != ClaimType::kNone) {
    return absl::AlreadyExistsError(absl::StrCat(
        "bdev '", desc.bdev_->name(), "' is already claimed by module '", in.claim_module, "'"));
  }
  for (const BdevDesc* other : in.descs) {
    if (other != &desc && other->writable_) {
      return absl::FailedPreconditionError(
          absl::StrCat("bdev '", desc.bdev_->name(), "' is open for writing by someone else"));
    }
  }
  in.claim_type = type;
  in.claim_module = std::string(module_name);
  in.claim_desc = &desc;
  return absl::OkStatus();
}

BdevDesc::~BdevDesc() { BdevRegistry::Close(*this); }

absl::Status BdevDesc::Claim(ClaimType type, std::string_view module_name) {
  return BdevRegistry::Claim(*this, type, module_name);
}

IoChannel* BdevDesc::GetIoChannel() {
  BdevInternal& in = bdev_->internal();
  if (closed_ || in.removing.load(std::memory_order_relaxed)) return nullptr;
  return in.GetIoChannel();
}

}  // namespace bdevkit

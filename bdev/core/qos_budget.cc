// The owner side of QoS (see qos.h): the budget's slice, and SetQosLimits /
// GetQosLimits.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdev/core/bdev_channel.h"
#include "bdev/core/bdev_internal.h"
#include "bdev/core/qos.h"
#include "bdev/util/absl_compat.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace core {

namespace {
// The owner hands tokens out every slice. Small enough that a grant is never far
// away (a channel asks two slices ahead), large enough that the owner's work (a pass
// over the bdev's channels) is negligible.
constexpr uint64_t kSlicesPerSecond = 1000;

// Wakes a reactor that may be sleeping: the channel's poller then collects its grant.
void WakeOnly(void* /*arg*/) {}
}  // namespace

uint64_t QosSliceTicks() { return std::max<uint64_t>(GetTicksPerSecond() / kSlicesPerSecond, 1); }

void QosBudgetDeleter::operator()(QosBudget* budget) const { delete budget; }

QosBudget::QosBudget(BdevInternal& in, Thread* owner)
    : name_(in.bdev->name()),
      owner_(owner),
      wake_channels_(Runtime::Options().idle_policy != IdlePolicy::kBusyPoll),
      source_(GetTicksPerSecond(), QosSliceTicks()) {}

QosBudget::~QosBudget() {
  if (poller_ != nullptr) owner_->UnregisterPoller(poller_);
  // The bdev is freed only after all its channels are destroyed, and each channel's
  // attach message reached us before its destruction did: every entry is detached.
  for (QosChannel* qc : channels_) {
    if (!qc->detached()) LOG_ERROR("bdev '%s': QoS channel still attached at teardown", name_);
    delete qc;
  }
}

void QosBudget::SetRates(const QosRates& rates) {
  source_.SetRates(rates, GetTicks());
  for (int k = 0; k < kNumQosKinds; ++k) {
    published_[k].store(rates.per_sec[k], std::memory_order_relaxed);
  }
  if (rates.Active() != 0) EnsurePoller();
}

QosRates QosBudget::PublishedRates() const {
  // Each rate is read on its own: a reader racing with SetRates may see a mix, and
  // the walk over channels that follows every SetRates corrects it.
  QosRates r;
  for (int k = 0; k < kNumQosKinds; ++k) {
    r.per_sec[k] = published_[k].load(std::memory_order_relaxed);
  }
  return r;
}

void QosBudget::OnAttach(void* arg) {
  auto* qc = static_cast<QosChannel*>(arg);
  QosBudget& self = qc->budget();
  self.channels_.push_back(qc);
  self.EnsurePoller();
}

void QosBudget::EnsurePoller() {
  if (poller_ != nullptr) return;
  poller_ = owner_->RegisterPoller([this] { return Slice(); },
                                   absl::Nanoseconds(1'000'000'000 / kSlicesPerSecond),
                                   absl::StrCat("bdev_qos_", name_));
}

PollStatus QosBudget::Slice() {
  source_.Refill(GetTicks());
  // Channels that left since the last slice: theirs was the last touch.
  std::erase_if(channels_, [](QosChannel* qc) {
    if (!qc->detached()) return false;
    delete qc;
    return true;
  });
  askers_.clear();
  wants_.clear();
  for (QosChannel* qc : channels_) {
    if (QosMask want = qc->TakeWants()) {
      askers_.push_back(qc);
      wants_.push_back(want);
    }
  }
  grants_.resize(askers_.size());
  unmet_.resize(askers_.size());
  source_.Distribute(wants_, grants_, unmet_);
  for (size_t i = 0; i < askers_.size(); ++i) {
    QosChannel* qc = askers_[i];
    bool granted = false;
    for (int k = 0; k < kNumQosKinds; ++k) {
      if (grants_[i][k] == 0) continue;
      qc->Grant(k, grants_[i][k]);
      granted = true;
    }
    // Still wanted, nothing to give this slice: asked again at the next one.
    if (unmet_[i] != 0) qc->ReturnWants(unmet_[i] | (wants_[i] & kQosStarving));
    // Best effort: if the ring is full the reactor is not asleep anyway.
    if (granted && wake_channels_) qc->thread()->Send(WakeOnly, nullptr);
  }
  if (source_.rates().Active() == 0 && channels_.empty()) {
    // No limit and nobody left to free: stop until a limit is set again.
    owner_->UnregisterPoller(poller_);
    poller_ = nullptr;
  }
  return askers_.empty() ? PollStatus::kIdle : PollStatus::kBusy;
}

}  // namespace core

// ---- API -----------------------------------------------------------------------------

QosLimits GetQosLimits(const Bdev& bdev) {
  absl::MutexLock lock(&core::ControlMutex());
  return bdev.internal().qos_limits;
}

void SetQosLimits(std::string_view name, const QosLimitsUpdate& update,
                  std::function<void(absl::Status)> done) {
  struct Field {
    const char* name;
    const std::optional<uint64_t>& value;
    uint64_t QosLimits::*member;
  };
  const Field fields[] = {
      {"rw_ios_per_sec", update.rw_ios_per_sec, &QosLimits::rw_ios_per_sec},
      {"rw_mbytes_per_sec", update.rw_mbytes_per_sec, &QosLimits::rw_mbytes_per_sec},
      {"r_mbytes_per_sec", update.r_mbytes_per_sec, &QosLimits::r_mbytes_per_sec},
      {"w_mbytes_per_sec", update.w_mbytes_per_sec, &QosLimits::w_mbytes_per_sec},
  };
  bool any = false;
  for (const Field& f : fields) {
    if (!f.value.has_value()) continue;
    any = true;
    if (*f.value > kMaxQosLimit) {
      return done(absl::InvalidArgumentError(absl::StrCat(
          "\"", f.name, "\": ", *f.value, " is above the largest limit, ", kMaxQosLimit)));
    }
  }
  if (!any) {
    return done(absl::InvalidArgumentError(
        "no limit given: set at least one of rw_ios_per_sec, rw_mbytes_per_sec, "
        "r_mbytes_per_sec, w_mbytes_per_sec (0 removes a limit)"));
  }
  Thread* app = Runtime::AppThread();
  if (Thread::Current() == nullptr || Thread::Current() != app) {
    return done(absl::FailedPreconditionError("SetQosLimits must run on the app thread"));
  }
  Bdev* bdev = FindBdev(name);
  if (bdev == nullptr || bdev->internal().removing.load()) {
    return done(absl::NotFoundError(absl::StrCat("no bdev named \"", AsAbsl(name), "\"")));
  }
  BdevInternal& in = bdev->internal();
  QosLimits limits;
  {
    absl::MutexLock lock(&core::ControlMutex());
    for (const Field& f : fields) {
      if (f.value.has_value()) in.qos_limits.*f.member = *f.value;
    }
    limits = in.qos_limits;
  }
  core::QosBudget* budget = in.qos_budget.load(std::memory_order_relaxed);
  if (budget == nullptr) {
    if (!limits.any()) return done(absl::OkStatus());  // never limited, still not
    in.qos_budget_owner.reset(new core::QosBudget(in, app));
    budget = in.qos_budget_owner.get();
    // Published before the walk below: a channel created from now on sees it itself,
    // and one created before is visited by the walk.
    in.qos_budget.store(budget, std::memory_order_release);
  }
  budget->SetRates(core::RatesFromLimits(limits));
  LOG_INFO(
      "bdev '%s': QoS limits rw_ios_per_sec=%d rw_mbytes_per_sec=%d r_mbytes_per_sec=%d "
      "w_mbytes_per_sec=%d",
      bdev->name(), limits.rw_ios_per_sec, limits.rw_mbytes_per_sec, limits.r_mbytes_per_sec,
      limits.w_mbytes_per_sec);
  ForEachChannel(
      in,
      [](IoChannel& ch) {
        core::QosSyncChannel(ch.ctx<BdevChannel>());
        return absl::OkStatus();
      },
      [done = std::move(done)](absl::Status) { done(absl::OkStatus()); });
}

}  // namespace bdevkit

#include "modules/nvme/bdev/nvme_ctrlr.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "bdevkit/log.h"
#include "modules/nvme/tcp/tcp_transport.h"
#include "nlohmann/json.hpp"

namespace bdevkit::nvme {

const char* TimeoutActionName(NvmeModuleOptions::TimeoutAction action) {
  switch (action) {
    case NvmeModuleOptions::TimeoutAction::kNone:
      return "none";
    case NvmeModuleOptions::TimeoutAction::kAbort:
      return "abort";
    case NvmeModuleOptions::TimeoutAction::kReset:
      return "reset";
  }
  return "none";
}

void RunBlocking(std::function<absl::Status()> work, std::function<void(absl::Status)> done) {
  std::thread([work = std::move(work), done = std::move(done)]() mutable {
    absl::Status status = work();
    work = nullptr;  // release what the work captured on this thread
    Thread* app = Runtime::AppThread();
    if (app == nullptr || app->Send([done, status] { done(status); }) != 0) {
      LOG_ERROR("nvme: cannot reach the app thread with a result (%s)", status.ToString());
    }
  }).detach();
}

// ---- NvmeChannel -------------------------------------------------------------------

NvmeChannel::NvmeChannel(NvmeCtrlr& ctrlr, std::unique_ptr<IoQpair> qpair, IoBufferPool* pool)
    : ctrlr_(ctrlr), qpair_(std::move(qpair)), thread_(Thread::Current()), pool_(pool) {
  poller_ = thread_->RegisterPoller([this] { return Poll(); }, absl::ZeroDuration(), "nvme_qpair");
  const uint64_t timeout_us = ctrlr_.options().timeout_us;
  if (timeout_us > 0) {
    timeout_ticks_ = timeout_us * GetTicksPerSecond() / 1000000;
    // Often enough to act within ~25% of the timeout, never more than every ms.
    absl::Duration period =
        std::clamp(absl::Microseconds(timeout_us / 4), absl::Milliseconds(1), absl::Seconds(1));
    timeout_poller_ =
        thread_->RegisterPoller([this] { return CheckTimeouts(); }, period, "nvme_timeout");
  }
}

NvmeChannel::~NvmeChannel() {
  thread_->UnregisterPoller(poller_);
  if (timeout_poller_ != nullptr) thread_->UnregisterPoller(timeout_poller_);
  ctrlr_.controller().DestroyIoQpair(std::move(qpair_));
  if (pool_ != nullptr && ctrlr_.controller().dma() != nullptr) {
    // The queue is gone, so the device no longer touches the pool's pages.
    (void)ctrlr_.controller().dma()->UnregisterMemory(pool_->base());
    pool_->Release();
  }
}

PollStatus NvmeChannel::Poll() {
  // Completions are only seen by polling (the queues have no interrupts): while a
  // command is in the device, the reactor must not go to sleep (IdlePolicy::kSleep),
  // or the completion would wait for the next timer.
  if (qpair_->Poll() > 0) return PollStatus::kBusy;
  if (qpair_->broken()) {
    OnBroken();
  } else {
    reset_requested_ = false;
  }
  return qpair_->idle() ? PollStatus::kIdle : PollStatus::kBusy;
}

void NvmeChannel::OnBroken() {
  // The queue's connection is gone (fabrics): the controller reconnects every queue.
  // Once per loss; a reset under way suspends this queue anyway.
  if (reset_requested_ || qpair_->suspended()) return;
  reset_requested_ = true;
  NvmeCtrlr::RequestResetFromAnyThread(ctrlr_.name(), "an I/O queue's connection was lost");
}

PollStatus NvmeChannel::CheckTimeouts() {
  qpair_->CheckTimeouts(GetTicks(), timeout_ticks_, &NvmeChannel::OnTimeout, this);
  return PollStatus::kIdle;
}

void NvmeChannel::OnTimeout(void* arg, IoQpair& qpair, uint16_t cid, bool first) {
  auto* ch = static_cast<NvmeChannel*>(arg);
  NvmeCtrlr& c = ch->ctrlr_;
  using Action = NvmeModuleOptions::TimeoutAction;
  switch (c.options().action_on_timeout) {
    case Action::kNone:
      if (first) {
        LOG_WARNING("nvme: %s: command %u on queue %u timed out (action_on_timeout none)", c.name(),
                    cid, qpair.qid());
      }
      return;
    case Action::kAbort:
      if (first && c.controller().SubmitAbort(qpair.qid(), cid)) {
        LOG_WARNING("nvme: %s: command %u on queue %u timed out; abort sent", c.name(), cid,
                    qpair.qid());
        return;
      }
      // The abort did not help (or could not be sent): reset.
      NvmeCtrlr::RequestResetFromAnyThread(c.name(), "a command timed out and abort did not help");
      return;
    case Action::kReset:
      if (first) NvmeCtrlr::RequestResetFromAnyThread(c.name(), "a command timed out");
      return;
  }
}

// ---- NvmeCtrlr -------------------------------------------------------------------

NvmeCtrlr::NvmeCtrlr(const AttachOptions& attach, std::unique_ptr<Controller> controller,
                     const NvmeModuleOptions& options)
    : name_(attach.name), attach_(attach), controller_(std::move(controller)), options_(options) {
  RegisterIoDevice("nvme:" + name_);
  admin_poller_ = Thread::Current()->RegisterPoller(
      [this] { return PollAdmin(); },
      absl::Microseconds(std::max<uint64_t>(options_.nvme_adminq_poll_period_us, 1000)),
      "nvme_admin");
}

NvmeCtrlr::~NvmeCtrlr() {
  *alive_ = false;
  StopReconnectPoller();
  if (admin_poller_ != nullptr) Thread::Current()->UnregisterPoller(admin_poller_);
}

void NvmeCtrlr::StopReconnectPoller() {
  if (reconnect_poller_ != nullptr) {
    Thread::Current()->UnregisterPoller(reconnect_poller_);
    reconnect_poller_ = nullptr;
  }
}

const char* NvmeCtrlr::state_name() const {
  switch (state_) {
    case State::kEnabled:
      return "enabled";
    case State::kResetting:
      return "resetting";
    case State::kReconnecting:
      return "reconnecting";
    case State::kFailed:
      return "failed";
    case State::kDeleting:
      return "deleting";
  }
  return "unknown";
}

std::unique_ptr<ChannelContext> NvmeCtrlr::CreateChannelContext() {
  absl::StatusOr<std::unique_ptr<IoQpair>> qp =
      controller_->CreateIoQpair(/*track_timeouts=*/options_.timeout_us > 0);
  if (!qp.ok()) {
    LOG_ERROR("nvme: %s: cannot create an I/O queue pair for thread %s: %s", name_,
              Thread::Current()->name(), std::string(qp.status().message()));
    return nullptr;
  }
  // Map this thread's I/O buffer pool for the device once, so callers that allocate
  // their buffers there (bdevkit/io_buffer.h) get zero-copy I/O. With UIO this needs
  // the pool in hugepages, which it is not: those buffers keep using bounce pages.
  // (Fabrics transports copy to and from the socket: nothing to map.)
  DmaSpace* dma = controller_->dma();
  IoBufferPool* pool = dma != nullptr ? IoBufferPool::Acquire() : nullptr;
  if (pool != nullptr) {
    absl::Status s = dma->RegisterMemory(pool->base(), pool->size());
    if (!s.ok()) {
      LOG_DEBUG("nvme", "nvme: %s: thread %s's I/O buffer pool stays bounced: %s", name_,
                Thread::Current()->name(), std::string(s.message()));
      pool->Release();
      pool = nullptr;
    }
  }
  return std::make_unique<NvmeChannel>(*this, std::move(*qp), pool);
}

PollStatus NvmeCtrlr::PollAdmin() {
  if (state_ == State::kDeleting || controller_ == nullptr) return PollStatus::kIdle;
  controller_->PollAdmin();
  if (state_ == State::kEnabled && controller_->FatalStatus()) {
    if (attach_.tcp()) {
      LOG_ERROR("nvme: %s: the admin connection to %s was lost; reconnecting", name_,
                controller_->address());
    } else {
      LOG_ERROR("nvme: %s: the controller reports a fatal status (CSTS.CFS); resetting it", name_);
    }
    Reset([](absl::Status) {});
  }
  return PollStatus::kIdle;
}

void NvmeCtrlr::RequestResetFromAnyThread(const std::string& name, const char* why) {
  Thread* app = Runtime::AppThread();
  if (app == nullptr) return;
  app->Send([name, why] {
    NvmeCtrlr* c = FindNvmeCtrlr(name);
    if (c == nullptr || c->state() != State::kEnabled) return;
    LOG_ERROR("nvme: %s: %s; resetting the controller", name, why);
    c->Reset([](absl::Status) {});
  });
}

void NvmeCtrlr::Reset(std::function<void(absl::Status)> done) {
  switch (state_) {
    case State::kResetting:
      reset_waiters_.push_back(std::move(done));  // joins the running reset
      return;
    case State::kReconnecting:
      return done(absl::UnavailableError(absl::StrCat("controller ", name_, " is reconnecting to ",
                                                      controller_->address(), " (every ",
                                                      attach_.reconnect_delay_sec, " s)")));
    case State::kFailed:
      return done(absl::UnavailableError(absl::StrCat(
          "controller ", name_, " has failed (a reset did not bring it back); detach it")));
    case State::kDeleting:
      return done(absl::UnavailableError(absl::StrCat("controller ", name_, " is being detached")));
    case State::kEnabled:
      break;
  }
  state_ = State::kResetting;
  reset_waiters_.push_back(std::move(done));
  lost_at_ = absl::Now();
  controller_->BeginReset();
  // 1. Every queue pair stops touching its rings (on its own thread).
  ForEachChannel(
      *this,
      [](IoChannel& ch) {
        ch.ctx<NvmeChannel>().qpair().Suspend();
        return absl::OkStatus();
      },
      [this, alive = alive_](absl::Status) {
        if (*alive && state_ == State::kResetting) StartResetAttempt();
      });
}

// 2. Disable, re-enable, re-create the queues (fabrics: reconnect them): blocking, off
// the reactors. The queue pairs resume by themselves when they see the new epoch.
void NvmeCtrlr::StartResetAttempt() {
  attempt_running_ = true;
  const bool retry = attach_.tcp() && attach_.ctrlr_loss_timeout_sec != 0;
  if (retry && reconnect_poller_ == nullptr) {
    // Fast I/O failure, the next attempt, giving up: checked from here until the
    // controller is back or failed.
    reconnect_poller_ = Thread::Current()->RegisterPoller(
        [this] { return PollReconnect(); }, absl::Milliseconds(100), "nvme_reconnect");
  }
  std::shared_ptr<Controller> c = controller_;
  RunBlocking([c, retry] { return c->FinishReset(/*give_up_on_failure=*/!retry); },
              [this, alive = alive_](absl::Status s) {
                if (*alive) OnResetAttempt(s);
              });
}

void NvmeCtrlr::OnResetAttempt(absl::Status s) {
  attempt_running_ = false;
  std::vector<std::function<void(absl::Status)>> waiters;
  waiters.swap(reset_waiters_);
  if (state_ == State::kDeleting) {
    for (auto& w : waiters)
      w(absl::UnavailableError(absl::StrCat("controller ", name_, " was detached")));
    return;
  }
  const bool retry = attach_.tcp() && attach_.ctrlr_loss_timeout_sec != 0;
  const absl::Time now = absl::Now();
  if (s.ok()) {
    state_ = State::kEnabled;
    StopReconnectPoller();
    if (retry && now - lost_at_ > absl::Seconds(1)) {
      LOG_NOTICE("nvme: %s: reconnected to %s after %s", name_, controller_->address(),
                 absl::FormatDuration(absl::Trunc(now - lost_at_, absl::Milliseconds(1))));
    }
  } else if (!retry) {
    state_ = State::kFailed;  // FinishReset marked it failed
    StopReconnectPoller();
  } else if (attach_.ctrlr_loss_timeout_sec > 0 &&
             now - lost_at_ >= absl::Seconds(attach_.ctrlr_loss_timeout_sec)) {
    LOG_ERROR("nvme: %s: no reconnect to %s within ctrlr_loss_timeout_sec=%d; giving up", name_,
              controller_->address(), static_cast<int>(attach_.ctrlr_loss_timeout_sec));
    controller_->AbandonReset();
    state_ = State::kFailed;
    StopReconnectPoller();
  } else {
    state_ = State::kReconnecting;
    next_attempt_ = now + absl::Seconds(attach_.reconnect_delay_sec);
    s = absl::Status(s.code(), absl::StrCat(s.message(), "; reconnecting every ",
                                            attach_.reconnect_delay_sec, " s"));
  }
  for (auto& w : waiters) w(s);
}

PollStatus NvmeCtrlr::PollReconnect() {
  if (state_ != State::kReconnecting && state_ != State::kResetting) return PollStatus::kIdle;
  const absl::Time now = absl::Now();
  if (attach_.fast_io_fail_timeout_sec > 0 &&
      now - lost_at_ >= absl::Seconds(attach_.fast_io_fail_timeout_sec)) {
    // Held I/O fails from now on (each queue pair on its own thread), new I/O at once.
    controller_->SetFailIo(true);
  }
  if (state_ != State::kReconnecting || attempt_running_) return PollStatus::kIdle;
  if (attach_.ctrlr_loss_timeout_sec > 0 &&
      now - lost_at_ >= absl::Seconds(attach_.ctrlr_loss_timeout_sec)) {
    LOG_ERROR("nvme: %s: no reconnect to %s within ctrlr_loss_timeout_sec=%d; giving up", name_,
              controller_->address(), static_cast<int>(attach_.ctrlr_loss_timeout_sec));
    controller_->AbandonReset();
    state_ = State::kFailed;
    StopReconnectPoller();
    return PollStatus::kBusy;
  }
  if (now < next_attempt_) return PollStatus::kIdle;
  state_ = State::kResetting;
  StartResetAttempt();
  return PollStatus::kBusy;
}

void NvmeCtrlr::Detach(std::function<void()> done) {
  state_ = State::kDeleting;
  StopReconnectPoller();
  if (admin_poller_ != nullptr) {
    Thread::Current()->UnregisterPoller(admin_poller_);
    admin_poller_ = nullptr;
  }
  UnregisterIoDevice([this, done = std::move(done)] {
    std::shared_ptr<Controller> c(std::move(controller_));
    RunBlocking(
        [c]() mutable {
          c->Shutdown();
          c.reset();
          return absl::OkStatus();
        },
        [done](absl::Status) { done(); });
  });
}

void NvmeCtrlr::DetachNow() {
  state_ = State::kDeleting;
  StopReconnectPoller();
  if (admin_poller_ != nullptr) {
    Thread::Current()->UnregisterPoller(admin_poller_);
    admin_poller_ = nullptr;
  }
  if (controller_ != nullptr) {
    controller_->Shutdown();
    controller_.reset();
  }
}

nlohmann::json NvmeCtrlr::TridJson() const {
  if (attach_.tcp()) {
    return {{"trtype", "TCP"},
            {"adrfam", "IPv4"},
            {"traddr", attach_.traddr},
            {"trsvcid", attach_.trsvcid},
            {"subnqn", attach_.subnqn}};
  }
  return {{"trtype", "PCIe"},
          {"adrfam", ""},
          {"traddr", attach_.traddr},
          {"trsvcid", ""},
          {"subnqn", controller_ != nullptr ? controller_->data().subnqn : ""}};
}

nlohmann::json NvmeCtrlr::ControllersJson() const {
  nlohmann::json ctrlr = {{"state", state_name()}, {"trid", TridJson()}};
  ctrlr["cntlid"] = controller_ != nullptr ? controller_->data().cntlid : 0;
  if (attach_.tcp()) {
    ctrlr["host"] = {{"nqn", attach_.hostnqn.empty() ? DefaultHostNqn() : attach_.hostnqn},
                     {"addr", ""},
                     {"svcid", ""}};
    ctrlr["hdgst"] = attach_.hdgst;
    ctrlr["ddgst"] = attach_.ddgst;
    ctrlr["ctrlr_loss_timeout_sec"] = attach_.ctrlr_loss_timeout_sec;
    ctrlr["reconnect_delay_sec"] = attach_.reconnect_delay_sec;
    ctrlr["fast_io_fail_timeout_sec"] = attach_.fast_io_fail_timeout_sec;
    ctrlr["access"] = "tcp";
  } else {
    ctrlr["host"] = {{"nqn", ""}, {"addr", ""}, {"svcid", ""}};
    ctrlr["access"] = controller_ != nullptr ? controller_->access() : "";
  }
  return {{"name", name_}, {"ctrlrs", nlohmann::json::array({ctrlr})}};
}

nlohmann::json NvmeCtrlr::AttachConfigJson() const {
  nlohmann::json params = {{"name", name_}};
  if (attach_.tcp()) {
    params["trtype"] = "tcp";
    params["adrfam"] = "ipv4";
    params["traddr"] = attach_.traddr;
    params["trsvcid"] = attach_.trsvcid;
    params["subnqn"] = attach_.subnqn;
    if (!attach_.hostnqn.empty()) params["hostnqn"] = attach_.hostnqn;
    params["hdgst"] = attach_.hdgst;
    params["ddgst"] = attach_.ddgst;
    params["ctrlr_loss_timeout_sec"] = attach_.ctrlr_loss_timeout_sec;
    params["reconnect_delay_sec"] = attach_.reconnect_delay_sec;
    params["fast_io_fail_timeout_sec"] = attach_.fast_io_fail_timeout_sec;
  } else {
    params["trtype"] = "PCIe";
    params["traddr"] = attach_.traddr;
  }
  params["prchk_reftag"] = false;
  params["prchk_guard"] = false;
  return {{"method", "bdev_nvme_attach_controller"}, {"params", params}};
}

nlohmann::json NvmeCtrlr::NamespaceInfoJson(uint32_t nsid) const {
  const ControllerData& d = controller_->data();
  nlohmann::json info = {
      {"trid", TridJson()},
      {"ctrlr_data",
       {{"cntlid", d.cntlid},
        {"vendor_id", absl::StrFormat("0x%04x", d.vendor_id)},
        {"model_number", d.model},
        {"serial_number", d.serial},
        {"firmware_revision", d.firmware},
        {"subnqn", d.subnqn},
        {"oacs",
         {{"security", d.oacs & 1},
          {"format", (d.oacs >> 1) & 1},
          {"firmware", (d.oacs >> 2) & 1},
          {"ns_manage", (d.oacs >> 3) & 1}}},
        {"multi_ctrlr", ((d.cmic >> 1) & 1) != 0},
        {"ana_reporting", ((d.cmic >> 3) & 1) != 0}}},
      {"vs", {{"nvme_version", VersionString(controller_->version())}}},
      {"ns_data", {{"id", nsid}, {"can_share", false}}},
      {"access", controller_->access()},
  };
  if (!attach_.tcp()) info["pci_address"] = attach_.traddr;
  for (const NamespaceData& ns : controller_->namespaces()) {
    if (ns.nsid != nsid) continue;
    info["ns_data"]["lba_format"] = ns.format_index();
    info["ns_data"]["block_size"] = ns.block_size();
    info["ns_data"]["size_blocks"] = ns.size_blocks;
  }
  return info;
}

}  // namespace bdevkit::nvme

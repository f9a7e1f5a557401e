// An attached controller as the bdev module sees it: an IoDevice whose per-thread
// channel is one I/O queue pair, the reset sequence across those channels, the admin
// poller (abort completions, fatal status), and the module-wide options.
#ifndef BDEVKIT_MODULES_NVME_BDEV_NVME_CTRLR_H_
#define BDEVKIT_MODULES_NVME_BDEV_NVME_CTRLR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/io_buffer.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"
#include "modules/nvme/driver/controller.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit::nvme {

// bdev_nvme_set_options: what the module does for every controller attached after.
struct NvmeModuleOptions {
  enum class TimeoutAction { kNone, kAbort, kReset };
  TimeoutAction action_on_timeout = TimeoutAction::kNone;
  uint64_t timeout_us = 0;             // per I/O command; 0 = not tracked
  uint64_t timeout_admin_us = 0;       // admin commands; 0 = as timeout_us, or 10 s
  uint32_t io_queue_requests = 0;      // entries per I/O queue; 0 = 256 (capped by CAP.MQES)
  uint32_t transport_retry_count = 2;  // resubmissions after controller resets
  uint64_t nvme_adminq_poll_period_us = 100000;
  uint32_t keep_alive_timeout_ms = 10000;  // fabrics: KATO; Keep Alive every half of it
};

// bdev_nvme_attach_controller's parameters (SPDK's names).
struct AttachOptions {
  std::string name;             // controller name; bdevs are <name>n<nsid>
  std::string trtype = "pcie";  // "pcie" or "tcp" (lower case)
  std::string traddr;           // PCI address, or the target's IPv4 address
  // TCP:
  std::string adrfam = "ipv4";
  std::string trsvcid;  // port
  std::string subnqn;
  std::string hostnqn;  // empty: this process's default
  bool hdgst = false;
  bool ddgst = false;
  // On connection loss (TCP): give up after this long (-1: never; 0: after the first
  // failed reconnect), reconnect every reconnect_delay_sec, fail I/O after
  // fast_io_fail_timeout_sec (0: hold it until the controller is given up).
  int64_t ctrlr_loss_timeout_sec = 0;
  uint32_t reconnect_delay_sec = 0;
  uint32_t fast_io_fail_timeout_sec = 0;
  uint32_t num_io_queues = 64;

  bool tcp() const { return trtype == "tcp"; }
};
const char* TimeoutActionName(NvmeModuleOptions::TimeoutAction action);

class NvmeCtrlr;

// One thread's queue pair, polled by an active poller on that thread. It also maps the
// thread's I/O buffer pool (bdevkit/io_buffer.h) for the device when it can, so I/O on
// buffers from that pool goes zero copy instead of through bounce pages.
class NvmeChannel : public ChannelContext {
 public:
  NvmeChannel(NvmeCtrlr& ctrlr, std::unique_ptr<IoQpair> qpair, IoBufferPool* pool);
  ~NvmeChannel() override;
  IoQpair& qpair() { return *qpair_; }
  Thread& thread() const { return *thread_; }

 private:
  PollStatus Poll();
  PollStatus CheckTimeouts();
  void OnBroken();
  static void OnTimeout(void* arg, IoQpair& qpair, uint16_t cid, bool first);

  NvmeCtrlr& ctrlr_;
  std::unique_ptr<IoQpair> qpair_;
  Thread* const thread_;
  Poller* poller_ = nullptr;
  Poller* timeout_poller_ = nullptr;
  uint64_t timeout_ticks_ = 0;
  IoBufferPool* pool_ = nullptr;  // registered with the device's DmaSpace while held
  bool reset_requested_ = false;  // for the current connection loss
};

class NvmeCtrlr : public IoDevice {
 public:
  // kReconnecting: a fabrics reset failed and the next attempt waits for
  // reconnect_delay_sec (until ctrlr_loss_timeout_sec).
  enum class State { kEnabled, kResetting, kReconnecting, kFailed, kDeleting };

  // Takes an attached controller. Registers the IoDevice and starts the admin poller.
  // App thread.
  NvmeCtrlr(const AttachOptions& attach, std::unique_ptr<Controller> controller,
            const NvmeModuleOptions& options);
  ~NvmeCtrlr() override;

  const std::string& name() const { return name_; }
  Controller& controller() const { return *controller_; }
  const NvmeModuleOptions& options() const { return options_; }
  const AttachOptions& attach_options() const { return attach_; }
  State state() const { return state_; }
  const char* state_name() const;
  std::vector<std::string>& bdev_names() { return bdev_names_; }

  // Resets the controller: suspends every queue pair, resets and re-creates the queues
  // (fabrics: reconnects them) on a worker thread, and the queue pairs resubmit what
  // was in flight. A reset asked for while one runs joins it. With a TCP controller
  // and ctrlr_loss_timeout_sec != 0 a failed attempt is retried every
  // reconnect_delay_sec until the loss timeout (then the controller is failed); `done`
  // gets the first attempt's result. App thread; `done` on the app thread.
  void Reset(std::function<void(absl::Status)> done);

  // Stops the pollers, waits for every channel to go, shuts the controller down (on a
  // worker thread) and releases the device. The object may be destroyed in `done`.
  // App thread.
  void Detach(std::function<void()> done);
  // Detach for a controller without channels (no bdev ever opened), synchronously:
  // the module's Fini. App thread; blocks briefly.
  void DetachNow();

  // One element of bdev_nvme_get_controllers.
  nlohmann::json ControllersJson() const;
  // The bdev_nvme_attach_controller call that recreates it (save_config).
  nlohmann::json AttachConfigJson() const;
  // driver_specific.nvme[0] for namespace `nsid`.
  nlohmann::json NamespaceInfoJson(uint32_t nsid) const;

  // Asks for a reset from any thread (timeouts); it runs on the app thread if the
  // controller still exists then. Any thread.
  static void RequestResetFromAnyThread(const std::string& name, const char* why);

 protected:
  std::unique_ptr<ChannelContext> CreateChannelContext() override;

 private:
  PollStatus PollAdmin();
  void StartResetAttempt();
  void OnResetAttempt(absl::Status s);
  PollStatus PollReconnect();
  void StopReconnectPoller();
  nlohmann::json TridJson() const;

  const std::string name_;
  const AttachOptions attach_;
  std::shared_ptr<Controller> controller_;
  const NvmeModuleOptions options_;
  // Reconnect bookkeeping (app thread).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool attempt_running_ = false;
  absl::Time lost_at_;
  absl::Time next_attempt_;
  Poller* reconnect_poller_ = nullptr;
  State state_ = State::kEnabled;
  std::vector<std::string> bdev_names_;
  std::vector<std::function<void(absl::Status)>> reset_waiters_;
  Poller* admin_poller_ = nullptr;
};

// Looks a controller up by name in the module (app thread), nullptr if none.
NvmeCtrlr* FindNvmeCtrlr(const std::string& name);

// Runs `work` on a new OS thread (it may block), then `done` on the app thread.
void RunBlocking(std::function<absl::Status()> work, std::function<void(absl::Status)> done);

}  // namespace bdevkit::nvme

#endif  // BDEVKIT_MODULES_NVME_BDEV_NVME_CTRLR_H_

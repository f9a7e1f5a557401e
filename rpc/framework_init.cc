// Start-up in SPDK's two states: the config's start-up entries (options) run in
// kStartup, then the bdev layer starts, the state becomes kRuntime and the rest of the
// config runs. Between the two, bdevd --wait-for-rpc serves RPC in kStartup until
// framework_start_init. Everything here runs on the app thread.
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "rpc/core_methods.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

enum class InitStage { kNone, kStartup, kFinishing, kDone };

struct InitState {
  InitStage stage = InitStage::kNone;
  nlohmann::json config;  // null: no config
  JsonConfigOptions options;
  std::function<void(absl::Status)> on_init_finished;
  std::vector<std::function<void()>> waiters;  // framework_wait_init calls
};

InitState& Init() {
  static auto* state = new InitState();  // app thread only; lives for the process
  return *state;
}

void Finished(absl::Status status, std::function<void(absl::Status)> done) {
  InitState& init = Init();
  init.stage = InitStage::kDone;
  init.config = nullptr;
  std::vector<std::function<void()>> waiters;
  waiters.swap(init.waiters);
  auto listener = std::move(init.on_init_finished);
  init.on_init_finished = nullptr;
  // The caller's reply first: a listener may shut the program down (bdevd does when
  // start-up fails), and framework_start_init's client should still get its answer.
  if (done) done(status);
  if (listener) listener(status);
  // framework_wait_init answers once start-up is over (whatever the outcome: the
  // init's own caller reports a failure).
  for (auto& w : waiters) w();
}

// SPDK's code for "not allowed in the current state".
constexpr int kJsonRpcInvalidState = -1;

}  // namespace

void BeginFrameworkInit(nlohmann::json config, const JsonConfigOptions& options,
                        std::function<void(absl::Status)> on_init_finished,
                        std::function<void(absl::Status)> done) {
  InitState& init = Init();
  init.stage = InitStage::kStartup;
  init.config = std::move(config);
  init.options = options;
  init.on_init_finished = std::move(on_init_finished);
  SetRpcState(RpcState::kStartup);
  if (init.config.is_null()) return done(absl::OkStatus());
  LoadJsonConfig(init.config, init.options, std::move(done));
}

void FinishFrameworkInit(std::function<void(absl::Status)> done) {
  InitState& init = Init();
  if (init.stage != InitStage::kStartup) {
    return done(WithJsonRpcCode(
        absl::FailedPreconditionError("the framework is already initialized (or initializing)"),
        kJsonRpcInvalidState));
  }
  init.stage = InitStage::kFinishing;
  StartBdevLayer([done = std::move(done)](absl::Status status) mutable {
    if (!status.ok()) {
      return Finished(absl::Status(status.code(),
                                   absl::StrCat("cannot start the bdev layer: ", status.message())),
                      std::move(done));
    }
    SetRpcState(RpcState::kRuntime);
    auto after_config = [done = std::move(done)](absl::Status st) mutable {
      if (!st.ok()) return Finished(st, std::move(done));
      WaitForExamine(
          [done = std::move(done)]() mutable { Finished(absl::OkStatus(), std::move(done)); });
    };
    if (Init().config.is_null()) return after_config(absl::OkStatus());
    LoadJsonConfig(Init().config, Init().options, std::move(after_config));
  });
}

std::vector<RpcMethod> FrameworkInitRpcMethods() {
  std::vector<RpcMethod> methods;

  methods.push_back(RpcMethod{
      .name = "framework_start_init",
      .summary = "Ends the start-up state (bdevd --wait-for-rpc): starts the bdev layer, "
                 "replays the rest of the --json config, waits for examine; returns true",
      .params = {},
      .handler =
          [](const nlohmann::json&, RpcDone done) {
            FinishFrameworkInit([done = std::move(done)](absl::Status s) {
              if (!s.ok()) return done(s);
              done(true);
            });
          },
      .allowed_states = kRpcStartup,
  });

  methods.push_back(RpcMethod{
      .name = "framework_wait_init",
      .summary = "Returns true once start-up is complete (at once unless bdevd waits for "
                 "framework_start_init)",
      .params = {},
      .handler =
          [](const nlohmann::json&, RpcDone done) {
            InitState& init = Init();
            if (init.stage == InitStage::kStartup || init.stage == InitStage::kFinishing) {
              init.waiters.push_back([done = std::move(done)] { done(true); });
              return;
            }
            done(true);
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  return methods;
}

}  // namespace bdevkit

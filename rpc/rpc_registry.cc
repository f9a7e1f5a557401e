// The method registry (control plane; guarded by a mutex so modules may register from
// any thread) and the validated call path every transport and the config loader use.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "rpc/core_methods.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

class RpcRegistry {
 public:
  RpcRegistry() {
    for (auto* list :
         {CoreBdevRpcMethods, QosRpcMethods, FrameworkRpcMethods, FrameworkInitRpcMethods}) {
      for (RpcMethod& m : list()) {
        std::string name = m.name;
        methods_.emplace(std::move(name), std::make_unique<RpcMethod>(std::move(m)));
      }
    }
  }

  absl::Status Add(RpcMethod method) {
    if (method.name.empty()) return absl::InvalidArgumentError("RPC method with an empty name");
    if (!method.handler) {
      return absl::InvalidArgumentError(
          absl::StrCat("RPC method ", method.name, " has no handler"));
    }
    absl::MutexLock lock(&mu_);
    if (methods_.contains(method.name)) {
      return absl::AlreadyExistsError(
          absl::StrCat("RPC method ", method.name, " already registered"));
    }
    std::string name = method.name;
    methods_.emplace(std::move(name), std::make_unique<RpcMethod>(std::move(method)));
    return absl::OkStatus();
  }

  // Entries are never removed, so the pointers stay valid after the lock is dropped.
  const RpcMethod* Find(std::string_view name) {
    absl::MutexLock lock(&mu_);
    auto it = methods_.find(name);
    return it == methods_.end() ? nullptr : it->second.get();
  }

  std::vector<const RpcMethod*> List() {
    absl::MutexLock lock(&mu_);
    std::vector<const RpcMethod*> out;
    out.reserve(methods_.size());
    for (const auto& [name, method] : methods_) out.push_back(method.get());
    return out;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<RpcMethod>, std::less<>> methods_ ABSL_GUARDED_BY(mu_);
};

RpcRegistry& Registry() {
  static auto* registry = new RpcRegistry();  // never destroyed: methods outlive exit paths
  return *registry;
}

// Written by the app thread at start-up, read by whoever dispatches.
std::atomic<RpcState> g_state{RpcState::kRuntime};

// SPDK's code for "not allowed in the current state".
constexpr int kJsonRpcInvalidState = -1;

absl::Status StateError(const RpcMethod& method, RpcState state) {
  std::string why =
      state == RpcState::kStartup
          ? absl::StrCat(method.name, " may only be called after framework_start_init")
          : absl::StrCat(method.name,
                         " may only be called during start-up: first in a config file, or over "
                         "RPC with bdevd --wait-for-rpc before framework_start_init");
  return WithJsonRpcCode(absl::FailedPreconditionError(why), kJsonRpcInvalidState);
}

}  // namespace

RpcState CurrentRpcState() { return g_state.load(std::memory_order_acquire); }
void SetRpcState(RpcState state) { g_state.store(state, std::memory_order_release); }

absl::Status RegisterRpcMethod(RpcMethod method) { return Registry().Add(std::move(method)); }

const RpcMethod* FindRpcMethod(std::string_view name) { return Registry().Find(name); }

std::vector<const RpcMethod*> ListRpcMethods() { return Registry().List(); }

void CallRpcMethod(std::string_view name, const nlohmann::json& params, RpcDone done) {
  const RpcMethod* method = FindRpcMethod(name);
  if (method == nullptr) {
    done(absl::UnimplementedError(absl::StrCat("Method not found: ", std::string(name))));
    return;
  }
  const RpcState state = CurrentRpcState();
  if ((method->allowed_states & (state == RpcState::kStartup ? kRpcStartup : kRpcRuntime)) == 0) {
    done(StateError(*method, state));
    return;
  }
  absl::StatusOr<nlohmann::json> validated = ValidateRpcParams(*method, params);
  if (!validated.ok()) {
    done(validated.status());
    return;
  }
  // Guards the "exactly once" contract: a second call is a handler bug, reported
  // instead of answering twice.
  auto called = std::make_shared<bool>(false);
  std::string method_name = method->name;
  RpcDone once = [called, method_name, done = std::move(done)](RpcResult result) {
    if (*called) {
      LOG_ERROR("RPC method %s completed twice; second result dropped", method_name);
      return;
    }
    *called = true;
    done(std::move(result));
  };
  try {
    method->handler(*validated, once);
  } catch (const std::exception& e) {
    // Handlers use nlohmann_json, which throws; never let that escape to a reactor.
    LOG_ERROR("RPC method %s threw: %s", method_name, e.what());
    if (!*called) once(absl::InternalError(absl::StrCat(method_name, ": ", e.what())));
  }
}

}  // namespace bdevkit

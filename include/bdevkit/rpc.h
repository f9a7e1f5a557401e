// JSON-RPC methods: one declarative description per method. The same description
// drives parameter validation (errors name the bad parameter), rpc_get_methods, help
// text and docs/rpc.md. Modules register their methods from their own folder.
// Config files (SPDK's subsystems format) replay their entries through these methods.
#ifndef BDEVKIT_RPC_H_
#define BDEVKIT_RPC_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace bdevkit {

enum class RpcParamType { kString, kBool, kInt, kUint, kNumber, kObject, kArray, kAny };
std::string_view RpcParamTypeName(RpcParamType type);

struct RpcParam {
  std::string name;
  RpcParamType type = RpcParamType::kString;
  bool required = false;
  // Filled in when the caller leaves the parameter out (null = stays absent).
  nlohmann::json default_value = nullptr;
  std::string doc;
};

// A result keeps its object keys in the order the handler inserted them, so replies
// match SPDK's documented order (a bdev object starts with "name", "aliases", ...);
// nlohmann::json would sort them. A nlohmann::json converts to it implicitly (its
// objects then come out sorted, which is fine where order does not matter).
using RpcJson = nlohmann::ordered_json;

// What a handler reports: a result (any JSON), or an error status. The status code
// maps to JSON-RPC errors in one place (rpc/status_mapping): kNotFound -> -19,
// kAlreadyExists -> -17, kInvalidArgument -> -32602, ...
using RpcResult = absl::StatusOr<RpcJson>;
using RpcDone = std::function<void(RpcResult)>;

// SPDK's two RPC states. An application that takes options before the bdev layer
// starts (bdevd --wait-for-rpc, a config's bdev_set_options) is in kStartup until
// framework_start_init; then, and in every program that does not use the states, it
// is kRuntime. A method called in a state it does not allow gets JSON-RPC error -1.
enum class RpcState { kStartup, kRuntime };
inline constexpr uint32_t kRpcStartup = 1u << 0;
inline constexpr uint32_t kRpcRuntime = 1u << 1;

// The current state (kRuntime unless SetRpcState said otherwise). Any thread.
RpcState CurrentRpcState();
void SetRpcState(RpcState state);

struct RpcMethod {
  std::string name;
  std::string summary;
  std::vector<RpcParam> params;
  // Runs on the app thread with params validated against `params` (unknown keys
  // rejected, types checked, defaults filled in; always an object). Must call `done`
  // exactly once, now or later, on the app thread.
  std::function<void(const nlohmann::json& params, RpcDone done)> handler;
  // The states (kRpcStartup | kRpcRuntime bits) it may be called in; see RpcState.
  uint32_t allowed_states = kRpcRuntime;
};

// Adds a method; kAlreadyExists if the name is taken. Any thread (control plane).
absl::Status RegisterRpcMethod(RpcMethod method);

// The method of that name, or nullptr. Any thread.
const RpcMethod* FindRpcMethod(std::string_view name);

// Every registered method, sorted by name. Any thread.
std::vector<const RpcMethod*> ListRpcMethods();

// Checks `params` (null, or an object) against the method's description and returns
// the object the handler sees. Errors are kInvalidArgument and name the parameter.
absl::StatusOr<nlohmann::json> ValidateRpcParams(const RpcMethod& method,
                                                 const nlohmann::json& params);

// Validates and calls a method; kUnimplemented for an unknown name, kFailedPrecondition
// (JSON-RPC -1) when the current state does not allow it. App thread.
void CallRpcMethod(std::string_view name, const nlohmann::json& params, RpcDone done);

// Replays a config in SPDK's format ({"subsystems":[{"subsystem":"bdev","config":
// [{"method":..., "params":...}, ...]}]}) in order. Subsystems bdevkit does not have
// are skipped with a warning. As SPDK's loader does, it replays the entries the
// current state allows: in kStartup the start-up methods (options); in kRuntime the
// others (start-up methods are skipped with a notice: the layer already runs). The
// first failing entry stops the load, and the error names the subsystem, the entry's
// index and method. App thread; `done` on it.
void LoadJsonConfig(const nlohmann::json& config, std::function<void(absl::Status)> done);

// Reads and parses a config file: errors name the file, and the line of a syntax
// error (a missing file is kNotFound with JSON-RPC code -2). App thread (one blocking
// read of a small file, accepted on the control plane).
absl::StatusOr<nlohmann::json> ReadJsonConfigFile(const std::string& path);

// ReadJsonConfigFile, then LoadJsonConfig. App thread.
void LoadJsonConfigFile(const std::string& path, std::function<void(absl::Status)> done);

// Options of LoadJsonConfig. With ignore_errors, a failing entry is logged as a
// warning and the load goes on (bdevd --json-ignore-init-errors).
struct JsonConfigOptions {
  bool ignore_errors = false;
};
void LoadJsonConfig(const nlohmann::json& config, const JsonConfigOptions& options,
                    std::function<void(absl::Status)> done);
void LoadJsonConfigFile(const std::string& path, const JsonConfigOptions& options,
                        std::function<void(absl::Status)> done);

// Start-up as SPDK's application framework does it, for programs that load a config
// (bdevd, bdevperf). BeginFrameworkInit enters kStartup and replays the config's
// start-up entries (`config` may be null: no config); `done` reports that pass.
// FinishFrameworkInit (framework_start_init, or the program itself when it does not
// wait for RPC) starts the bdev layer, enters kRuntime, replays the config's other
// entries and waits for examine; its `done` and Begin's `on_init_finished` both get
// the result. App thread.
void BeginFrameworkInit(nlohmann::json config, const JsonConfigOptions& options,
                        std::function<void(absl::Status)> on_init_finished,
                        std::function<void(absl::Status)> done);
void FinishFrameworkInit(std::function<void(absl::Status)> done);

// `bdevctl METHOD --help` text: the summary and each parameter's type, whether it is
// required, its default and doc. Any thread.
std::string RpcMethodHelp(const RpcMethod& method);

// docs/rpc.md: the protocol notes, then every registered method. Any thread.
std::string RpcReferenceMarkdown();

// Typed access to a validated params object (a present, right-typed member, or the
// default the description filled in). For handlers.
std::string ParamString(const nlohmann::json& params, std::string_view name);
uint64_t ParamUint(const nlohmann::json& params, std::string_view name);
bool ParamBool(const nlohmann::json& params, std::string_view name);
bool HasParam(const nlohmann::json& params, std::string_view name);

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_H_

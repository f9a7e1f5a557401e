// Methods of the application framework, as SPDK names them: version, method list,
// subsystems and their config (save_config), init, shutdown, log flags.
#include <signal.h>
#include <unistd.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bdevkit/log.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"
#include "rpc/core_methods.h"

#ifndef BDEVKIT_VERSION_MAJOR
#error "rpc/CMakeLists.txt defines the version macros"
#endif

namespace bdevkit {
namespace {

using json = nlohmann::json;

// The subsystems bdevkit has, with what each depends on (SPDK's bdev also depends on
// accel, vmd, sock, iobuf and keyring, which bdevkit does not have).
struct Subsystem {
  const char* name;
  std::vector<std::string> depends_on;
  json (*config)();
};
const std::vector<Subsystem>& Subsystems() {
  static const auto* list = new std::vector<Subsystem>{{"bdev", {}, BdevSubsystemConfig}};
  return *list;
}

// Debug-log components of the core; each module's name is one too.
std::set<std::string> KnownLogFlags() {
  std::set<std::string> flags = {"bdev", "reactor", "rpc", "thread"};
  for (BdevModule* m : ListModules()) flags.insert(m->name());
  for (const std::string& f : EnabledLogFlags()) flags.insert(f);
  return flags;
}

absl::Status CheckLogFlag(const std::string& flag) {
  std::set<std::string> known = KnownLogFlags();
  if (flag == "all" || known.contains(flag)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "\"flag\": unknown log flag \"", flag, "\" (known: all, ", absl::StrJoin(known, ", "), ")"));
}

const std::vector<std::pair<std::string, int>>& KillSignals() {
  static const auto* list = new std::vector<std::pair<std::string, int>>{
      {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGQUIT", SIGQUIT},
      {"SIGHUP", SIGHUP}, {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1},
  };
  return *list;
}

void KillInstance(const json& params, RpcDone done) {
  std::string name = ParamString(params, "sig_name");
  std::string full = name.rfind("SIG", 0) == 0 ? name : "SIG" + name;
  int signo = 0;
  std::vector<std::string> names;
  for (const auto& [n, s] : KillSignals()) {
    names.push_back(n);
    if (n == full) signo = s;
  }
  if (signo == 0) {
    return done(absl::InvalidArgumentError(absl::StrCat(
        "\"sig_name\": unknown signal \"", name, "\" (one of ", absl::StrJoin(names, ", "), ")")));
  }
  done(true);
  // The signal goes to the process after this message, so the reply is queued first;
  // the application's signal handling (bdevd: a signalfd poller) shuts down cleanly
  // and sends queued replies before closing the socket.
  int rc = Thread::Current()->Send([signo] { kill(getpid(), signo); });
  if (rc != 0) kill(getpid(), signo);
}

}  // namespace

std::vector<RpcMethod> FrameworkRpcMethods() {
  std::vector<RpcMethod> methods;

  methods.push_back(RpcMethod{
      .name = "spdk_get_version",
      .summary = "bdevkit's version, in SPDK's shape",
      .params = {},
      .handler =
          [](const json&, RpcDone done) {
            done(RpcJson{{"version", "bdevkit v" BDEVKIT_VERSION_STRING},
                         {"fields",
                          {{"major", BDEVKIT_VERSION_MAJOR},
                           {"minor", BDEVKIT_VERSION_MINOR},
                           {"patch", BDEVKIT_VERSION_PATCH},
                           {"suffix", ""}}}});
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  methods.push_back(RpcMethod{
      .name = "rpc_get_methods",
      .summary = "Names of the methods this server answers, sorted",
      .params =
          {
              {"current", RpcParamType::kBool, false, false,
               "only the methods the current state allows"},
              {"include_aliases", RpcParamType::kBool, false, false,
               "accepted; bdevkit has no deprecated aliases"},
          },
      .handler =
          [](const json& params, RpcDone done) {
            bool current = ParamBool(params, "current");
            const uint32_t state =
                CurrentRpcState() == RpcState::kStartup ? kRpcStartup : kRpcRuntime;
            json names = json::array();
            for (const RpcMethod* m : ListRpcMethods()) {
              if (current && (m->allowed_states & state) == 0) continue;
              names.push_back(m->name);
            }
            done(std::move(names));
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  methods.push_back(RpcMethod{
      .name = "framework_get_subsystems",
      .summary = "The subsystems, each with the subsystems it depends on",
      .params = {},
      .handler =
          [](const json&, RpcDone done) {
            RpcJson out = RpcJson::array();
            for (const Subsystem& s : Subsystems()) {
              out.push_back({{"subsystem", s.name}, {"depends_on", s.depends_on}});
            }
            done(std::move(out));
          },
  });

  methods.push_back(RpcMethod{
      .name = "framework_get_config",
      .summary = "One subsystem's config: the calls that recreate its current state "
                 "(what save_config writes for it)",
      .params =
          {
              {"name", RpcParamType::kString, true, nullptr, "subsystem name (\"bdev\")"},
              {"with_batches", RpcParamType::kBool, false, false, "accepted, ignored"},
          },
      .handler =
          [](const json& params, RpcDone done) {
            std::string name = ParamString(params, "name");
            for (const Subsystem& s : Subsystems()) {
              if (name == s.name) return done(s.config());
            }
            done(absl::InvalidArgumentError(
                absl::StrCat("\"name\": unknown subsystem \"", name, "\"")));
          },
  });

  methods.push_back(RpcMethod{
      .name = "spdk_kill_instance",
      .summary = "Sends a signal to the server process (SIGINT, SIGTERM, SIGQUIT, SIGHUP: "
                 "bdevd shuts down cleanly); returns true first",
      .params = {{"sig_name", RpcParamType::kString, true, nullptr,
                  "SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGKILL or SIGUSR1 (the SIG may be left "
                  "out)"}},
      .handler = KillInstance,
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  methods.push_back(RpcMethod{
      .name = "log_set_flag",
      .summary = "Turns on a component's debug log (\"all\" = every one); returns true",
      .params = {{"flag", RpcParamType::kString, true, nullptr, "component, as log_get_flags"}},
      .handler =
          [](const json& params, RpcDone done) {
            std::string flag = ParamString(params, "flag");
            if (absl::Status s = CheckLogFlag(flag); !s.ok()) return done(s);
            EnableLogFlag(flag);
            done(true);
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  methods.push_back(RpcMethod{
      .name = "log_clear_flag",
      .summary = "Turns off a component's debug log; returns true",
      .params = {{"flag", RpcParamType::kString, true, nullptr, "component, as log_get_flags"}},
      .handler =
          [](const json& params, RpcDone done) {
            std::string flag = ParamString(params, "flag");
            if (absl::Status s = CheckLogFlag(flag); !s.ok()) return done(s);
            DisableLogFlag(flag);
            done(true);
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  methods.push_back(RpcMethod{
      .name = "log_get_flags",
      .summary = "Every debug-log component and whether it is on",
      .params = {},
      .handler =
          [](const json&, RpcDone done) {
            json out = json::object();
            for (const std::string& f : KnownLogFlags()) out[f] = LogFlagEnabled(f);
            done(std::move(out));
          },
      .allowed_states = kRpcStartup | kRpcRuntime,
  });

  return methods;
}

}  // namespace bdevkit

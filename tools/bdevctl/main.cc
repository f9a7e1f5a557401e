// bdevctl: a JSON-RPC client for bdevd (and SPDK-compatible servers).
//   bdevctl [-s SOCK] [-t TIMEOUT] METHOD [--param value ...]
//   bdevctl call METHOD '{json params}'
//   bdevctl save_config > config.json ; bdevctl load_config config.json
// Results are printed as pretty JSON (strings bare, as rpc.py does); errors go to
// stderr with exit code 1.
#include <getopt.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "tools/bdevctl/args.h"
#include "tools/bdevctl/client.h"

namespace bdevkit::ctl {
namespace {

using json = nlohmann::json;

int Fail(const std::string& message) {
  std::fprintf(stderr, "bdevctl: %s\n", message.c_str());
  return 1;
}

void Print(const json& result) {
  if (result.is_string()) {
    std::printf("%s\n", result.get<std::string>().c_str());
  } else {
    std::printf("%s\n", result.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  }
}

std::string Usage() {
  std::string out =
      "Usage: bdevctl [-s SOCKET] [-t TIMEOUT_S] METHOD [--param value ...]\n"
      "       bdevctl [-s SOCKET] call METHOD ['{\"param\": ...}']\n"
      "       bdevctl [-s SOCKET] save_config\n"
      "       bdevctl [-s SOCKET] load_config [FILE]   (default: stdin)\n"
      "       bdevctl METHOD --help\n"
      "  -s SOCKET   bdevd's socket (default /var/tmp/bdevkit.sock)\n"
      "  -t TIMEOUT  seconds to wait for a reply (default 60)\n"
      "Methods:\n";
  for (const RpcMethod* m : ListRpcMethods()) absl::StrAppend(&out, "  ", m->name, "\n");
  return out;
}

// One call, printing the result; 0 or 1.
int CallAndPrint(RpcClient& client, const std::string& method, const json& params) {
  auto reply = client.Call(method, params);
  if (!reply.ok()) return Fail(std::string(reply.status().message()));
  if (!reply->ok) {
    return Fail(absl::StrCat(method, ": error ", reply->code, ": ", reply->message));
  }
  Print(reply->result);
  return 0;
}

int SaveConfig(RpcClient& client) {
  // As rpc.py: the subsystems, then each one's config.
  auto subsystems = client.Call("framework_get_subsystems", nullptr);
  if (!subsystems.ok()) return Fail(std::string(subsystems.status().message()));
  if (!subsystems->ok) return Fail(absl::StrCat("framework_get_subsystems: ", subsystems->message));
  json out = {{"subsystems", json::array()}};
  for (const json& s : subsystems->result) {
    std::string name = s.value("subsystem", std::string());
    auto config = client.Call("framework_get_config", {{"name", name}});
    if (!config.ok()) return Fail(std::string(config.status().message()));
    if (!config->ok) {
      return Fail(absl::StrCat("framework_get_config ", name, ": error ", config->code, ": ",
                               config->message));
    }
    out["subsystems"].push_back({{"subsystem", name}, {"config", config->result}});
  }
  Print(out);
  return 0;
}

int LoadConfig(RpcClient& client, const std::vector<std::string>& args) {
  std::string path = "-";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-j" || args[i] == "--json-conf") {
      if (i + 1 >= args.size()) return Fail(absl::StrCat(args[i], " needs a file"));
      path = args[++i];
    } else {
      path = args[i];
    }
  }
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) return Fail(absl::StrCat("cannot open ", path));
    text << in.rdbuf();
  }
  json config = json::parse(text.str(), nullptr, false, /*ignore_comments=*/true);
  if (config.is_discarded() || !config.is_object()) {
    return Fail(absl::StrCat(path == "-" ? "stdin" : path, ": not a JSON config object"));
  }
  auto subsystems = client.Call("framework_get_subsystems", nullptr);
  if (!subsystems.ok()) return Fail(std::string(subsystems.status().message()));
  std::vector<std::string> known;
  if (subsystems->ok) {
    for (const json& s : subsystems->result) known.push_back(s.value("subsystem", ""));
  }
  if (!config.contains("subsystems") || !config["subsystems"].is_array()) return 0;
  struct Entry {
    std::string subsystem;
    size_t index;
    std::string method;
    json params;
    bool done = false;
  };
  std::vector<Entry> todo;
  for (const json& sub : config["subsystems"]) {
    std::string name = sub.is_object() ? sub.value("subsystem", std::string()) : "";
    const json entries = sub.is_object() ? sub.value("config", json()) : json();
    if (!entries.is_array() || entries.empty()) continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::fprintf(stderr, "bdevctl: skipping subsystem \"%s\" (the server does not have it)\n",
                   name.c_str());
      continue;
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      const json& e = entries[i];
      if (!e.is_object() || !e.contains("method") || !e["method"].is_string()) {
        return Fail(absl::StrCat("subsystem \"", name, "\", entry ", i, ": no method"));
      }
      todo.push_back(Entry{name, i, e["method"].get<std::string>(), e.value("params", json())});
    }
  }
  // As rpc.py does: replay what the server's current state allows; a server still in
  // its start-up state (bdevd --wait-for-rpc) is then started with framework_start_init
  // and the rest replayed. Start-up-only entries sent to a running server are skipped.
  auto server_methods = [&](bool current) -> absl::StatusOr<std::vector<std::string>> {
    auto reply = client.Call("rpc_get_methods", json{{"current", current}});
    if (!reply.ok()) return reply.status();
    std::vector<std::string> names;
    if (reply->ok) {
      for (const json& n : reply->result) names.push_back(n.get<std::string>());
    }
    return names;
  };
  auto replay = [&](const std::vector<std::string>& allowed) -> int {
    for (Entry& e : todo) {
      if (e.done || std::find(allowed.begin(), allowed.end(), e.method) == allowed.end()) {
        continue;
      }
      auto reply = client.Call(e.method, e.params);
      if (!reply.ok()) return Fail(std::string(reply.status().message()));
      if (!reply->ok) {
        return Fail(absl::StrCat("subsystem \"", e.subsystem, "\", entry ", e.index, " (", e.method,
                                 "): error ", reply->code, ": ", reply->message));
      }
      e.done = true;
    }
    return 0;
  };
  auto allowed_now = [&] { return server_methods(true); };
  auto allowed = allowed_now();
  if (!allowed.ok()) return Fail(std::string(allowed.status().message()));
  if (int rc = replay(*allowed); rc != 0) return rc;
  if (std::find(allowed->begin(), allowed->end(), "framework_start_init") != allowed->end()) {
    auto reply = client.Call("framework_start_init", nullptr);
    if (!reply.ok()) return Fail(std::string(reply.status().message()));
    if (!reply->ok) {
      return Fail(absl::StrCat("framework_start_init: error ", reply->code, ": ", reply->message));
    }
    allowed = allowed_now();
    if (!allowed.ok()) return Fail(std::string(allowed.status().message()));
    if (int rc = replay(*allowed); rc != 0) return rc;
  }
  auto all = server_methods(false);
  if (!all.ok()) return Fail(std::string(all.status().message()));
  for (const Entry& e : todo) {
    if (e.done) continue;
    if (std::find(all->begin(), all->end(), e.method) == all->end()) {
      return Fail(absl::StrCat("subsystem \"", e.subsystem, "\", entry ", e.index, " (", e.method,
                               "): the server does not have this method"));
    }
    std::fprintf(stderr, "bdevctl: subsystem \"%s\", entry %zu (%s): start-up only, skipped\n",
                 e.subsystem.c_str(), e.index, e.method.c_str());
  }
  return 0;
}

int Main(int argc, char** argv) {
  RegisterBuiltinModules();  // the method descriptions (types, help) of this build
  std::string socket = "/var/tmp/bdevkit.sock";
  double timeout_s = 60;
  int i = 1;
  // Global options come before the method; everything after it belongs to it.
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(Usage().c_str(), stdout);
      return 0;
    }
    if ((arg == "-s" || arg == "-t" || arg == "-r") && i + 1 >= argc) {
      return Fail(absl::StrCat(arg, " needs a value"));
    }
    if (arg == "-s") {
      socket = argv[++i];
    } else if (arg == "-t") {
      if (!absl::SimpleAtod(argv[++i], &timeout_s) || !(timeout_s > 0)) {
        return Fail(absl::StrCat("invalid timeout (-t) '", argv[i], "'"));
      }
    } else if (arg == "-r") {
      ++i;  // rpc.py's retry count: accepted, connections are not retried
    } else {
      return Fail(absl::StrCat("unknown option ", arg, " (see --help)"));
    }
  }
  if (i >= argc) return Fail("no method given (see --help)");
  std::string method = argv[i++];
  std::vector<std::string> args(argv + i, argv + argc);

  const bool raw = method == "call";
  if (raw) {
    if (args.empty()) return Fail("call: needs a METHOD and optional JSON params");
    method = args[0];
    args.erase(args.begin());
  }
  const RpcMethod* desc = FindRpcMethod(method);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    if (method == "save_config" || method == "load_config") {
      std::fputs(Usage().c_str(), stdout);
      return 0;
    }
    if (desc == nullptr) return Fail(absl::StrCat("unknown method ", method));
    std::fputs(RpcMethodHelp(*desc).c_str(), stdout);
    std::string forms = ShortFormUsage(method);
    if (!forms.empty()) std::printf("Short form (as rpc.py):\n  %s\n", forms.c_str());
    return 0;
  }

  json params;
  if (raw) {
    if (args.size() > 1) return Fail("call: params must be one JSON argument");
    if (!args.empty()) {
      params = json::parse(args[0], nullptr, false);
      if (params.is_discarded()) return Fail(absl::StrCat("call: params are not JSON: ", args[0]));
    }
  } else if (method != "save_config" && method != "load_config") {
    auto built = BuildParams(method, desc, args);
    if (!built.ok()) return Fail(std::string(built.status().message()));
    params = *built;
  }

  auto client = RpcClient::Connect(socket, absl::Seconds(timeout_s));
  if (!client.ok()) return Fail(std::string(client.status().message()));
  if (!raw && method == "save_config") return SaveConfig(**client);
  if (!raw && method == "load_config") return LoadConfig(**client, args);
  return CallAndPrint(**client, method, params);
}

}  // namespace
}  // namespace bdevkit::ctl

int main(int argc, char** argv) { return bdevkit::ctl::Main(argc, argv); }

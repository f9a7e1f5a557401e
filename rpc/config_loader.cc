// Replays an SPDK-format JSON config through CallRpcMethod, one entry after another.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

// Subsystems whose entries bdevkit replays. SPDK's save_config also writes keyring,
// iobuf, sock, accel, scheduler, nbd, ... which mean nothing here and are skipped.
bool KnownSubsystem(std::string_view name) { return name == "bdev"; }

struct Entry {
  std::string subsystem;
  size_t index;  // position in that subsystem's "config" array
  std::string method;
  nlohmann::json params;
};

// The replay state. Entries run in order; a handler may complete later, so the loop
// is a trampoline: synchronous completions continue the loop (no recursion), an
// asynchronous one resumes it from its callback.
struct Replay : std::enable_shared_from_this<Replay> {
  std::vector<Entry> entries;
  size_t next = 0;
  bool in_call = false;
  bool completed_inline = false;
  bool ignore_errors = false;
  std::function<void(absl::Status)> done;

  void Run() {
    while (next < entries.size()) {
      const Entry& e = entries[next];
      in_call = true;
      completed_inline = false;
      auto self = shared_from_this();
      CallRpcMethod(e.method, e.params,
                    [self](RpcResult result) { self->OnDone(std::move(result)); });
      in_call = false;
      if (!completed_inline) return;  // OnDone resumes (or already finished)
    }
    if (done) Finish(absl::OkStatus());
  }

  void OnDone(RpcResult result) {
    const Entry& e = entries[next];
    if (!result.ok() && ignore_errors) {
      LOG_WARNING("subsystem \"%s\", config entry %zu (%s) failed, ignored: %s", e.subsystem,
                  e.index, e.method, std::string(result.status().message()));
    } else if (!result.ok()) {
      const absl::Status& s = result.status();
      next = entries.size();
      completed_inline = false;  // stop the loop either way
      Finish(absl::Status(s.code(), absl::StrCat("subsystem \"", e.subsystem, "\", config entry ",
                                                 e.index, " (", e.method, "): ", s.message())));
      return;
    }
    ++next;
    if (in_call) {
      completed_inline = true;
    } else {
      Run();
    }
  }

  void Finish(absl::Status status) {
    auto cb = std::move(done);
    done = nullptr;
    if (cb) cb(std::move(status));
  }
};

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JSON config: ", std::string(what)));
}

// Whether this pass replays an entry (the config is replayed once per state, as SPDK's
// loader does): start-up entries while in kStartup, runtime ones in kRuntime.
// Start-up-only entries met in kRuntime already ran (or the program never had a
// start-up pass, and then the options cannot apply any more): skipped with a notice.
// Unknown methods wait for the runtime pass, which fails naming them.
bool ReplayInThisPass(const std::string& method, const std::string& subsystem, size_t index) {
  const RpcMethod* m = FindRpcMethod(method);
  if (CurrentRpcState() == RpcState::kStartup) {
    return m != nullptr && (m->allowed_states & kRpcStartup) != 0;
  }
  if (m != nullptr && (m->allowed_states & kRpcRuntime) == 0) {
    LOG_NOTICE("subsystem \"%s\", config entry %zu (%s): start-up only, not replayed now",
               subsystem, index, method);
    return false;
  }
  return true;
}

// Flattens the config into the list of calls to make, checking its shape first so a
// malformed file fails before anything is created.
absl::Status CollectEntries(const nlohmann::json& config, std::vector<Entry>& out) {
  if (!config.is_object()) return Malformed("the top level must be an object");
  auto subsystems = config.find("subsystems");
  if (subsystems == config.end() || subsystems->is_null()) {
    LOG_WARNING("JSON config has no \"subsystems\" key; nothing to load");
    return absl::OkStatus();
  }
  if (!subsystems->is_array()) return Malformed("\"subsystems\" must be an array");
  for (size_t i = 0; i < subsystems->size(); ++i) {
    const nlohmann::json& sub = (*subsystems)[i];
    auto name = sub.is_object() ? sub.find("subsystem") : sub.end();
    if (!sub.is_object() || name == sub.end() || !name->is_string()) {
      return Malformed(absl::StrCat("subsystems[", i, "] needs a \"subsystem\" name"));
    }
    std::string subsystem = name->get<std::string>();
    auto entries = sub.find("config");
    if (entries == sub.end() || entries->is_null()) continue;  // SPDK writes null
    if (!entries->is_array()) {
      return Malformed(absl::StrCat("subsystem \"", subsystem, "\": \"config\" must be an array"));
    }
    if (!KnownSubsystem(subsystem)) {
      LOG_WARNING("JSON config: skipping unknown subsystem \"%s\" (%zu entries)", subsystem,
                  entries->size());
      continue;
    }
    for (size_t j = 0; j < entries->size(); ++j) {
      const nlohmann::json& e = (*entries)[j];
      auto method = e.is_object() ? e.find("method") : e.end();
      if (!e.is_object() || method == e.end() || !method->is_string()) {
        return Malformed(absl::StrCat("subsystem \"", subsystem, "\", config entry ", j,
                                      ": needs a \"method\" string"));
      }
      std::string method_name = method->get<std::string>();
      if (!ReplayInThisPass(method_name, subsystem, j)) continue;
      nlohmann::json params = e.value("params", nlohmann::json());
      out.push_back(Entry{subsystem, j, std::move(method_name), std::move(params)});
    }
  }
  return absl::OkStatus();
}

// nlohmann's message starts with "[json.exception...] parse error at line L, column C: ";
// we state the position ourselves, so keep only what follows.
std::string ParseErrorDetail(const char* what) {
  std::string_view text(what);
  size_t col = text.find("column ");
  size_t colon = col == std::string_view::npos ? std::string_view::npos : text.find(": ", col);
  if (colon != std::string_view::npos) return std::string(text.substr(colon + 2));
  size_t bracket = text.find("] ");
  return std::string(bracket == std::string_view::npos ? text : text.substr(bracket + 2));
}

}  // namespace

void LoadJsonConfig(const nlohmann::json& config, std::function<void(absl::Status)> done) {
  LoadJsonConfig(config, JsonConfigOptions(), std::move(done));
}

void LoadJsonConfig(const nlohmann::json& config, const JsonConfigOptions& options,
                    std::function<void(absl::Status)> done) {
  auto replay = std::make_shared<Replay>();
  replay->ignore_errors = options.ignore_errors;
  if (absl::Status s = CollectEntries(config, replay->entries); !s.ok()) {
    done(s);
    return;
  }
  replay->done = std::move(done);
  replay->Run();
}

void LoadJsonConfigFile(const std::string& path, std::function<void(absl::Status)> done) {
  LoadJsonConfigFile(path, JsonConfigOptions(), std::move(done));
}

absl::StatusOr<nlohmann::json> ReadJsonConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    absl::Status s =
        absl::Status(err == ENOENT   ? absl::StatusCode::kNotFound
                     : err == EACCES ? absl::StatusCode::kPermissionDenied
                                     : absl::StatusCode::kInvalidArgument,
                     absl::StrCat("cannot open config file \"", path, "\": ", std::strerror(err)));
    return WithJsonRpcCode(std::move(s), err != 0 ? -err : -EINVAL);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  try {
    // SPDK's loader accepts comments in config files; so do we.
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    size_t line = 1, column = 1;
    size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("config file \"", path, "\": JSON syntax error at line ", line, ", column ",
                     column, ": ", ParseErrorDetail(e.what())));
  }
}

void LoadJsonConfigFile(const std::string& path, const JsonConfigOptions& options,
                        std::function<void(absl::Status)> done) {
  absl::StatusOr<nlohmann::json> config = ReadJsonConfigFile(path);
  if (!config.ok()) return done(config.status());
  LoadJsonConfig(*config, options, [path, done = std::move(done)](absl::Status s) {
    if (s.ok()) {
      done(s);
    } else {
      done(absl::Status(s.code(), absl::StrCat("config file \"", path, "\": ", s.message())));
    }
  });
}

}  // namespace bdevkit

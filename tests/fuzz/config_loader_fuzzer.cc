// libFuzzer target: the JSON config loader (ReadJsonConfigFile + LoadJsonConfig) on
// arbitrary file contents, replayed against the real runtime and bdev layer with the
// in-memory modules (malloc, null, and error, raid, split and QoS over them).
//
// Each input is written to a memfd and read back through its /proc path, so the file
// reader and its syntax-error positions are fuzzed too. Methods that would reach
// outside the process (files: aio/uring; devices: nvme; signals: spdk_kill_instance;
// global log flags) are renamed before replay, so those entries fail as unknown
// methods, which is a path of its own; bdev_get_bdevs' wait is capped at 10 ms.
// Odd-sized inputs replay with ignore_errors (bdevd --json-ignore-init-errors).
//
// Checked, beyond no crash and no sanitizer report:
//   - a file that does not parse is refused with an error naming the file;
//   - a failed load names the entry (or says the config is malformed);
//   - whatever state a load leaves, save_config round-trips: the bdev section it
//     writes, loaded into a restarted bdev layer, succeeds and recreates the same
//     bdevs, and saving again writes the same config.
// Between inputs the bdev layer is stopped and started, so nothing leaks from one
// input to the next.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/log.h"
#include "bdevkit/rpc.h"
#include "bdevkit/runtime.h"

namespace {

using json = nlohmann::json;
using bdevkit::Runtime;

void Fail(const std::string& what) {
  std::fprintf(stderr, "config_loader_fuzzer: %s\n", what.c_str());
  std::abort();
}

// Runs fn(done) on the app thread and waits for done(value). A step that never
// completes is a hang the fuzzer must report, not wait out.
template <typename T>
T OnApp(std::function<void(std::function<void(T)>)> fn) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  if (Runtime::AppThread()->Send([promise, fn = std::move(fn)] {
        fn([promise](T value) { promise->set_value(std::move(value)); });
      }) != 0) {
    Fail("cannot send to the app thread");
  }
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    Fail("an app-thread step did not complete within 20 s");
  }
  return future.get();
}

void Start() {
  bdevkit::RuntimeOptions options;
  options.cores = {0};
  options.pin_reactors = false;
  // The fuzzer's own thread waits while the reactor works: let it sleep when idle.
  options.idle_policy = bdevkit::IdlePolicy::kSleep;
  options.idle_spins = 100;
  if (absl::Status s = Runtime::Start(options); !s.ok()) Fail(std::string(s.message()));
  bdevkit::RegisterBuiltinModules();
  absl::Status s = OnApp<absl::Status>(
      [](std::function<void(absl::Status)> done) { bdevkit::StartBdevLayer(std::move(done)); });
  if (!s.ok()) Fail(std::string(s.message()));
}

void RestartLayer() {
  OnApp<bool>([](std::function<void(bool)> done) {
    bdevkit::StopBdevLayer([done] {
      bdevkit::StartBdevLayer([done](absl::Status s) {
        if (!s.ok()) Fail("bdev layer did not restart: " + std::string(s.message()));
        done(true);
      });
    });
  });
}

bool Allowed(const std::string& method) {
  static const absl::flat_hash_set<std::string> kAllowed = {"bdev_malloc_create",
                                                            "bdev_malloc_delete",
                                                            "bdev_null_create",
                                                            "bdev_null_delete",
                                                            "bdev_raid_create",
                                                            "bdev_raid_delete",
                                                            "bdev_raid_get_bdevs",
                                                            "bdev_split_create",
                                                            "bdev_split_delete",
                                                            "bdev_set_qos_limit",
                                                            "bdev_set_options",
                                                            "bdev_get_bdevs",
                                                            "bdev_get_iostat",
                                                            "bdev_examine",
                                                            "bdev_wait_for_examine",
                                                            "framework_get_config",
                                                            "framework_get_subsystems",
                                                            "framework_wait_init",
                                                            "spdk_get_version",
                                                            "rpc_get_methods",
                                                            "log_get_flags",
                                                            "bdev_error_create",
                                                            "bdev_error_delete",
                                                            "bdev_error_inject_error"};
  return kAllowed.contains(method);
}

// Renames methods the fuzzer must not run and caps waits, leaving the shape alone.
void Confine(json& config) {
  if (!config.is_object()) return;
  auto subsystems = config.find("subsystems");
  if (subsystems == config.end() || !subsystems->is_array()) return;
  for (json& sub : *subsystems) {
    if (!sub.is_object()) continue;
    auto entries = sub.find("config");
    if (entries == sub.end() || !entries->is_array()) continue;
    for (json& e : *entries) {
      if (!e.is_object()) continue;
      auto method = e.find("method");
      if (method == e.end() || !method->is_string()) continue;
      const std::string name = method->get<std::string>();
      if (!Allowed(name)) *method = "fuzz_blocked_" + name;
      auto params = e.find("params");
      if (name == "bdev_get_bdevs" && params != e.end() && params->is_object() &&
          params->contains("timeout") && (*params)["timeout"].is_number()) {
        (*params)["timeout"] = 10;
      }
    }
  }
}

absl::Status Load(const json& config, bool ignore_errors) {
  return OnApp<absl::Status>([&config, ignore_errors](std::function<void(absl::Status)> done) {
    bdevkit::JsonConfigOptions options;
    options.ignore_errors = ignore_errors;
    bdevkit::LoadJsonConfig(config, options, std::move(done));
  });
}

// The bdev names once examine is done, sorted.
std::vector<std::string> SettledBdevs() {
  return OnApp<std::vector<std::string>>([](std::function<void(std::vector<std::string>)> done) {
    bdevkit::WaitForExamine([done] {
      std::vector<std::string> names = bdevkit::ListBdevs();
      std::sort(names.begin(), names.end());
      done(std::move(names));
    });
  });
}

// save_config's bdev section as a whole config file.
json SavedConfig() {
  bdevkit::RpcResult r = OnApp<bdevkit::RpcResult>([](std::function<void(bdevkit::RpcResult)> d) {
    bdevkit::CallRpcMethod("framework_get_config", json{{"name", "bdev"}}, std::move(d));
  });
  if (!r.ok()) Fail("framework_get_config failed: " + std::string(r.status().message()));
  return json{{"subsystems", json::array({json{{"subsystem", "bdev"}, {"config", json(*r)}}})}};
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += n + " ";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bdevkit::SetLogLevel(bdevkit::LogLevel::kError);  // warnings for every bad entry: noise
  Start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
  if (fd < 0) Fail("memfd_create failed");
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) Fail("memfd write failed");
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  absl::StatusOr<json> parsed = bdevkit::ReadJsonConfigFile(path);
  close(fd);
  if (!parsed.ok()) {
    if (parsed.status().message().find(path) == std::string::npos) {
      Fail("a parse error does not name the file: " + std::string(parsed.status().message()));
    }
    return 0;
  }
  json config = std::move(*parsed);
  Confine(config);
  absl::Status loaded = Load(config, size % 2 == 1);
  if (!loaded.ok()) {
    const std::string m(loaded.message());
    if (m.find("config entry") == std::string::npos &&
        m.find("invalid JSON config") == std::string::npos) {
      Fail("a failed load does not name the entry: " + m);
    }
  }

  // Round trip: what save_config writes recreates the same bdevs after a restart.
  const std::vector<std::string> before = SettledBdevs();
  const json saved = SavedConfig();
  RestartLayer();
  absl::Status reloaded = Load(saved, false);
  if (!reloaded.ok()) {
    Fail("the saved config does not load: " + std::string(reloaded.message()) + "\n" +
         saved.dump(2));
  }
  const std::vector<std::string> after = SettledBdevs();
  if (after != before) {
    Fail("the saved config recreates other bdevs: before [" + Join(before) + "] after [" +
         Join(after) + "]\n" + saved.dump(2));
  }
  const json saved_again = SavedConfig();
  if (saved_again != saved) {
    Fail("saving again writes another config:\n" + saved.dump(2) + "\n" + saved_again.dump(2));
  }
  RestartLayer();
  return 0;
}

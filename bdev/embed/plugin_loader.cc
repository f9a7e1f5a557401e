// LoadModulePlugin (bdevkit/plugin.h): dlopen a module built outside the tree and run
// its entry point.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bdevkit/log.h"
#include "bdevkit/plugin.h"

// The loader's way to tell whether a plugin reached this copy of the library: the
// plugin's dynamic scope resolves this name to the copy it links. A program linked
// with the static library keeps its copy private, and the plugin loads a second one.
extern "C" __attribute__((visibility("default"), noinline)) const void* bdevkit_library_anchor() {
  return reinterpret_cast<const void*>(&bdevkit_library_anchor);
}

namespace bdevkit {
namespace {

absl::Mutex g_mu;
absl::flat_hash_set<std::string>& Loaded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_mu) {
  static auto* loaded = new absl::flat_hash_set<std::string>();  // process lifetime
  return *loaded;
}

}  // namespace

absl::Status LoadModulePlugin(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("module plugin \"", path, "\": ", std::strerror(errno)));
  }
  char* real = realpath(path.c_str(), nullptr);
  const std::string key = real != nullptr ? real : path;
  free(real);
  absl::MutexLock lock(&g_mu);
  if (Loaded().contains(key)) return absl::OkStatus();

  auto fail = [&](absl::StatusCode code, std::string why) {
    return absl::Status(code, absl::StrCat("module plugin \"", path, "\": ", why));
  };
  // RTLD_NOW: an unresolved symbol (a plugin built against another version) fails here,
  // not at its first call. RTLD_LOCAL: plugins do not see each other's symbols.
  void* handle = dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return fail(absl::StatusCode::kInvalidArgument, dlerror());
  auto* abi = static_cast<const uint32_t*>(dlsym(handle, BDEVKIT_PLUGIN_ABI_SYMBOL));
  auto* entry = reinterpret_cast<absl::Status (*)()>(dlsym(handle, BDEVKIT_PLUGIN_REGISTER_SYMBOL));
  if (abi == nullptr || entry == nullptr) {
    dlclose(handle);
    return fail(absl::StatusCode::kInvalidArgument,
                "not a bdevkit module plugin (no BDEVKIT_PLUGIN() entry point)");
  }
  if (*abi != BDEVKIT_PLUGIN_ABI_VERSION) {
    const uint32_t theirs = *abi;
    dlclose(handle);
    return fail(absl::StatusCode::kInvalidArgument,
                absl::StrCat("built for plugin ABI ", theirs, ", this bdevkit has ",
                             BDEVKIT_PLUGIN_ABI_VERSION, ": rebuild it against this version"));
  }
  auto* anchor = reinterpret_cast<const void* (*)()>(dlsym(handle, "bdevkit_library_anchor"));
  if (anchor == nullptr || anchor() != bdevkit_library_anchor()) {
    // Nothing of the plugin ran yet, so unloading it (and its copy of the library) is safe.
    dlclose(handle);
    return fail(absl::StatusCode::kFailedPrecondition,
                "the plugin would get its own copy of bdevkit: this program must link the "
                "shared library (libbdevkit.so, CMake target bdevkit::bdevkit), and so must "
                "the plugin");
  }
  // From here the plugin's code may back registered modules: it is never unloaded.
  if (absl::Status s = entry(); !s.ok()) {
    return fail(s.code(), absl::StrCat("its entry point failed: ", s.message()));
  }
  Loaded().insert(key);
  LOG_INFO("loaded module plugin %s", key);
  return absl::OkStatus();
}

}  // namespace bdevkit

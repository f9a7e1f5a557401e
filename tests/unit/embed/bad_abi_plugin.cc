// A plugin that claims another plugin ABI version: the loader must refuse it without
// running its entry point.
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"

extern "C" __attribute__((visibility("default"))) const uint32_t bdevkit_plugin_abi_version = 999;
extern "C" __attribute__((visibility("default"))) absl::Status bdevkit_plugin_register() {
  std::abort();  // never reached
}

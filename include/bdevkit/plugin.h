// Module plugins: a bdev module built outside the tree as a shared object and loaded at
// start-up (bdevd --load-module PATH, AppOptions::plugins, or LoadModulePlugin).
//
// A plugin links against the shared library (bdevkit::bdevkit) and defines its entry
// point with BDEVKIT_PLUGIN, in which it registers its module and RPC methods:
//
//   BDEVKIT_PLUGIN() {
//     bdevkit::RegisterModule(std::make_unique<XorModule>());
//     return bdevkit::RegisterRpcMethod(XorCreateMethod());
//   }
//
// The program that loads it must use the same copy of the library, i.e. link the
// shared library too (bdevd does): a program linked with the static library has its
// own module registry, which a plugin would never reach. LoadModulePlugin checks this
// and refuses, saying so, rather than register the module where nobody looks.
#ifndef BDEVKIT_PLUGIN_H_
#define BDEVKIT_PLUGIN_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

// Bumped whenever a change to the module API (module.h, bdev.h, rpc.h) means a plugin
// must be rebuilt. A plugin records the value it was compiled with.
#define BDEVKIT_PLUGIN_ABI_VERSION 2  // 2: BaseChannel for ForwardIo and PassIoToBase

// The symbols a plugin exports (C linkage, so the loader can find them by name).
#define BDEVKIT_PLUGIN_REGISTER_SYMBOL "bdevkit_plugin_register"
#define BDEVKIT_PLUGIN_ABI_SYMBOL "bdevkit_plugin_abi_version"

// Defines the plugin's entry point; the braces that follow are its body, which returns
// an absl::Status (OK, or why the plugin cannot be used). It runs once, on the thread
// that loads the plugin, before the bdev layer starts.
#define BDEVKIT_PLUGIN()                                                                        \
  extern "C" __attribute__((visibility("default"))) const uint32_t bdevkit_plugin_abi_version = \
      BDEVKIT_PLUGIN_ABI_VERSION;                                                               \
  extern "C" __attribute__((visibility("default"))) absl::Status bdevkit_plugin_register()

namespace bdevkit {

// Loads a plugin: dlopen, checks its ABI version and that it shares this library,
// then runs its entry point. Loading the same file again does nothing. Errors
// (kNotFound: no such file; kInvalidArgument: not a plugin, or built for another ABI;
// kFailedPrecondition: this program links bdevkit statically; or the entry point's own
// error) name the path. A plugin stays loaded for the
// life of the process (its code backs registered modules). Before the bdev layer
// starts; non-runtime thread or the app thread; blocks (reads the file).
absl::Status LoadModulePlugin(const std::string& path);

}  // namespace bdevkit

#endif  // BDEVKIT_PLUGIN_H_

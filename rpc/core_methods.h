// Methods of the core itself (not of a module), built into the registry from the
// start so every program that links bdevkit answers them.
#ifndef BDEVKIT_RPC_CORE_METHODS_H_
#define BDEVKIT_RPC_CORE_METHODS_H_

#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"

namespace bdevkit {

// bdev_* methods served by the core (bdev_methods.cc).
std::vector<RpcMethod> CoreBdevRpcMethods();

// spdk_get_version, rpc_get_methods, framework_*, spdk_kill_instance, log_*
// (framework_methods.cc).
std::vector<RpcMethod> FrameworkRpcMethods();

// framework_start_init, framework_wait_init (framework_init.cc).
std::vector<RpcMethod> FrameworkInitRpcMethods();

// The bdev subsystem's save_config entries, in SPDK's order. App thread.
nlohmann::json BdevSubsystemConfig();

// bdev_set_qos_limit (qos_methods.cc).
std::vector<RpcMethod> QosRpcMethods();
// A bdev's limits as bdev_get_bdevs shows them ("assigned_rate_limits", 0 = none;
// keys in SPDK's order), and the bdev_set_qos_limit call that restores them (null
// when it has none).
nlohmann::ordered_json QosLimitsJson(const Bdev& bdev);
nlohmann::json QosConfigEntry(const Bdev& bdev);

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_CORE_METHODS_H_

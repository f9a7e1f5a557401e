// Methods of the core itself (not of a module), built into the registry from the
// start so every program that links bdevkit answers them.
#ifndef BDEVKIT_RPC_CORE_METHODS_H_
#define BDEVKIT_RPC_CORE_METHODS_H_

#include <vector>

#include "bdevkit/rpc.h"

namespace bdevkit {

// bdev_* methods served by the core (bdev_methods.cc).
std::vector<RpcMethod> CoreBdevRpcMethods();

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_CORE_METHODS_H_

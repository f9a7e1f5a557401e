// Core bdev methods. More (bdev_get_bdevs, bdev_get_iostat, ...) join as the core
// grows; each is one entry of the vector below.
#include <utility>
#include <vector>

#include "rpc/core_methods.h"

namespace bdevkit {

std::vector<RpcMethod> CoreBdevRpcMethods() {
  std::vector<RpcMethod> methods;

  // Config files end with this call. Every module's Examine() runs when a bdev is
  // registered, inside RegisterBdev() on the app thread, and handlers run on the app
  // thread too; so by the time this handler runs, every examine that was started
  // synchronously has run. TODO(core): when a module examines asynchronously, wait
  // for the core's count of outstanding examines to reach zero here.
  methods.push_back(RpcMethod{
      .name = "bdev_wait_for_examine",
      .summary = "Waits until every bdev has been examined by every module; returns true",
      .params = {},
      .handler = [](const nlohmann::json& /*params*/, RpcDone done) { done(true); },
  });

  return methods;
}

}  // namespace bdevkit

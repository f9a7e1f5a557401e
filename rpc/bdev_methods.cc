// Core bdev methods. More (bdev_get_bdevs, bdev_get_iostat, ...) join as the core
// grows; each is one entry of the vector below.
#include <utility>
#include <vector>

#include "bdevkit/bdev.h"
#include "rpc/core_methods.h"

namespace bdevkit {

std::vector<RpcMethod> CoreBdevRpcMethods() {
  std::vector<RpcMethod> methods;

  // Config files end with this call, so virtual bdevs assembled by examine (split,
  // raid) exist before the application starts using them.
  methods.push_back(RpcMethod{
      .name = "bdev_wait_for_examine",
      .summary = "Waits until every bdev has been examined by every module; returns true",
      .params = {},
      .handler = [](const nlohmann::json& /*params*/,
                    RpcDone done) { WaitForExamine([done = std::move(done)] { done(true); }); },
  });

  return methods;
}

}  // namespace bdevkit

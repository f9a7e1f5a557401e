// Turns `bdevctl METHOD ARGS...` into a params object, driven by the method's
// description (types, names) plus SPDK rpc.py's positional and short forms for the
// common methods (`bdev_malloc_create -b NAME SIZE_MB BLOCK_SIZE`).
#ifndef BDEVKIT_TOOLS_BDEVCTL_ARGS_H_
#define BDEVKIT_TOOLS_BDEVCTL_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bdevkit/rpc.h"
#include "nlohmann/json.hpp"

namespace bdevkit::ctl {

// Builds the params (null when there are none). `method` may be nullptr for a method
// this bdevctl does not know: values are then JSON if they parse, else strings.
// Errors are kInvalidArgument naming the argument.
absl::StatusOr<nlohmann::json> BuildParams(const std::string& method_name, const RpcMethod* method,
                                           const std::vector<std::string>& args);

// The rpc.py-style usage line of a method with positional or short forms ("" if none).
std::string ShortFormUsage(const std::string& method_name);

}  // namespace bdevkit::ctl

#endif  // BDEVKIT_TOOLS_BDEVCTL_ARGS_H_

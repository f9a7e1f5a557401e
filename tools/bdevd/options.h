// bdevd's command line (SPDK's application flags where they exist).
#ifndef BDEVKIT_TOOLS_BDEVD_OPTIONS_H_
#define BDEVKIT_TOOLS_BDEVD_OPTIONS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bdevkit::bdevd {

struct Options {
  std::vector<int> cores = {0};                       // -m / --cores
  std::string socket_path = "/var/tmp/bdevkit.sock";  // -r / --rpc-socket
  mode_t socket_mode = 0600;                          // --rpc-mode (octal)
  std::string config_file;                            // --json / -c
  bool ignore_init_errors = false;                    // --json-ignore-init-errors
  std::vector<std::string> log_flags;                 // -L (repeatable)
  bool wait_for_rpc = false;                          // --wait-for-rpc
  bool busy_poll = false;                             // --busy-poll
  bool help = false;                                  // -h / --help
  bool version = false;                               // -v / --version
  bool dump_rpc_docs = false;                         // --dump-rpc-docs
  std::vector<std::string> module_plugins;            // --load-module (repeatable)
};

// Parses argv. Errors are kInvalidArgument, one line naming the flag and the value.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);

std::string Usage(absl::string_view program);

}  // namespace bdevkit::bdevd

#endif  // BDEVKIT_TOOLS_BDEVD_OPTIONS_H_

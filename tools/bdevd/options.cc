// getopt_long, as bdevperf: SPDK's users type short flags with separate values
// (`-m 0x3 -r /tmp/s.sock`), which absl::flags does not parse.
#include "tools/bdevd/options.h"

#include <getopt.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/runtime.h"

namespace bdevkit::bdevd {
namespace {

enum LongOnly {
  kOptIgnoreInitErrors = 1000,
  kOptRpcMode,
  kOptBusyPoll,
  kOptDumpRpcDocs,
  kOptWaitForRpc,
  kOptLoadModule
};

std::string OptionText(char** argv) {
  const std::string last = argv[optind - 1];
  if (last.rfind("--", 0) == 0) return last.substr(0, last.find('='));
  if (optopt > 0 && optopt < 256) return std::string("-") + static_cast<char>(optopt);
  return last;
}

}  // namespace

std::string Usage(absl::string_view program) {
  return absl::StrCat(
      "Usage: ", program, " [options]\n",
      "bdevkit's daemon: serves SPDK-compatible JSON-RPC on a Unix socket.\n",
      "  -m, --cores MASK          reactor cores: 0x3, [0,1], 0-1 (default 0x1)\n",
      "  -r, --rpc-socket PATH     RPC socket (default /var/tmp/bdevkit.sock)\n",
      "      --rpc-mode MODE       socket file mode, octal (default 0600: owner only)\n",
      "  -c, --json FILE           load this config (SPDK subsystems format) at start-up\n",
      "      --json-ignore-init-errors\n",
      "                            a failing config entry is logged, not fatal\n",
      "      --wait-for-rpc        serve RPC in the start-up state (bdev_set_options, ...)\n",
      "                            until framework_start_init starts the bdev layer\n",
      "  -L, --logflag COMPONENT   debug log of a component (bdev, rpc, malloc, ..., all)\n",
      "      --busy-poll           reactors spin when idle (default: sleep after a while)\n",
      "      --load-module PATH    load a module plugin (a shared object built against\n",
      "                            libbdevkit.so, see docs/modules.md); repeatable\n",
      "      --dump-rpc-docs       print the RPC reference (docs/rpc.md) and exit\n",
      "  -v, --version             print the version and exit\n",
      "  -h, --help                this text\n",
      "SIGINT or SIGTERM (or the spdk_kill_instance method) shuts down cleanly.\n");
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  static const option kLongOptions[] = {
      {"cores", required_argument, nullptr, 'm'},
      {"rpc-socket", required_argument, nullptr, 'r'},
      {"json", required_argument, nullptr, 'c'},
      {"logflag", required_argument, nullptr, 'L'},
      {"json-ignore-init-errors", no_argument, nullptr, kOptIgnoreInitErrors},
      {"rpc-mode", required_argument, nullptr, kOptRpcMode},
      {"busy-poll", no_argument, nullptr, kOptBusyPoll},
      {"wait-for-rpc", no_argument, nullptr, kOptWaitForRpc},
      {"dump-rpc-docs", no_argument, nullptr, kOptDumpRpcDocs},
      {"load-module", required_argument, nullptr, kOptLoadModule},
      {"version", no_argument, nullptr, 'v'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options opts;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":m:r:c:L:vh", kLongOptions, nullptr)) != -1) {
    const std::string arg = optarg != nullptr ? optarg : "";
    switch (c) {
      case 'm': {
        auto cores = ParseCoreMask(arg);
        if (!cores.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("invalid core mask (-m) '", arg, "': ", cores.status().message()));
        }
        opts.cores = *cores;
        break;
      }
      case 'r':
        if (arg.empty()) return absl::InvalidArgumentError("-r: the socket path is empty");
        opts.socket_path = arg;
        break;
      case 'c':
        opts.config_file = arg;
        break;
      case 'L':
        opts.log_flags.push_back(arg);
        break;
      case kOptIgnoreInitErrors:
        opts.ignore_init_errors = true;
        break;
      case kOptRpcMode: {
        char* end = nullptr;
        unsigned long mode = std::strtoul(arg.c_str(), &end, 8);
        if (arg.empty() || *end != '\0' || mode > 0777) {
          return absl::InvalidArgumentError(
              absl::StrCat("invalid --rpc-mode '", arg, "': expected an octal mode like 0660"));
        }
        opts.socket_mode = static_cast<mode_t>(mode);
        break;
      }
      case kOptBusyPoll:
        opts.busy_poll = true;
        break;
      case kOptWaitForRpc:
        opts.wait_for_rpc = true;
        break;
      case kOptDumpRpcDocs:
        opts.dump_rpc_docs = true;
        break;
      case kOptLoadModule:
        if (arg.empty()) return absl::InvalidArgumentError("--load-module: the path is empty");
        opts.module_plugins.push_back(arg);
        break;
      case 'v':
        opts.version = true;
        break;
      case 'h':
        opts.help = true;
        break;
      case ':':
        return absl::InvalidArgumentError(absl::StrCat(OptionText(argv), " needs a value"));
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option ", OptionText(argv), " (see --help)"));
    }
  }
  if (optind < argc) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", argv[optind], "' (see --help)"));
  }
  return opts;
}

}  // namespace bdevkit::bdevd

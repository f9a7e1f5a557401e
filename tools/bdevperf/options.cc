// Why getopt_long and not absl::flags (which the rest of bdevkit may use): bdevperf
// must accept SPDK's command lines unchanged, and those are short flags with a
// separate value (`-q 128 -o 4k -w randread`). absl::flags has no short flags and
// would reject `-q 128`. getopt_long gives exactly the POSIX/GNU behaviour SPDK users
// type, plus the long options (--json, --seed) in one small table.
#include "tools/bdevperf/options.h"

#include <getopt.h>

#include <cctype>
#include <chrono>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/runtime.h"

namespace bdevkit::perf {
namespace {

// Sane upper bounds: a typo like -q 1280000 should be an error, not an OOM.
constexpr uint64_t kMaxQueueDepth = 65536;
constexpr uint64_t kMaxIoSize = 1ull << 30;  // 1 GiB per I/O
constexpr uint64_t kMaxSeconds = 365ull * 24 * 3600;

enum LongOnly { kOptSeed = 1000, kOptPrefill };

absl::Status Bad(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", flag, " '", value, "': ", why));
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view flag, absl::string_view text, uint64_t min,
                                    uint64_t max) {
  uint64_t value = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &value) ||
      !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return Bad(flag, text, "not a number");
  }
  if (value < min) return Bad(flag, text, absl::StrCat("must be at least ", min));
  if (value > max) return Bad(flag, text, absl::StrCat("must be at most ", max));
  return value;
}

// The option getopt just rejected: "-x" for a short one (it may sit in a group like
// "-qx"), else the argument itself ("--bogus").
std::string OptionText(char** argv) {
  const std::string last = argv[optind - 1];
  if (last.rfind("--", 0) == 0) return last.substr(0, last.find('='));
  if (optopt > 0 && optopt < 256) return std::string("-") + static_cast<char>(optopt);
  return last;
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  absl::string_view digits = text;
  uint64_t multiplier = 1;
  if (!digits.empty()) {
    switch (std::tolower(static_cast<unsigned char>(digits.back()))) {
      case 'k':
        multiplier = 1ull << 10;
        break;
      case 'm':
        multiplier = 1ull << 20;
        break;
      case 'g':
        multiplier = 1ull << 30;
        break;
      default:
        break;
    }
    if (multiplier != 1) digits.remove_suffix(1);
  }
  uint64_t value = 0;
  if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits[0])) ||
      !absl::SimpleAtoi(digits, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a size (bytes, or a number with k, m or g)"));
  }
  if (value > std::numeric_limits<uint64_t>::max() / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
  }
  return value * multiplier;
}

std::string Usage(absl::string_view program) {
  return absl::StrCat(
      "Usage: ", program, " -q DEPTH -o SIZE -w WORKLOAD -t SECONDS [options]\n",
      "  -q DEPTH          I/Os kept in flight per job\n",
      "  -o SIZE           I/O size in bytes; k, m, g suffixes (4k = 4096)\n",
      "  -w WORKLOAD       ", WorkloadNames(), "\n", "  -t SECONDS        run time\n",
      "  -m MASK           reactor core mask: 0x3, [0,1], 0-1 (default 0x1)\n",
      "  -c, --json FILE   bdev config (SPDK subsystems format); one job per unclaimed bdev\n",
      "      --seed N      seed of the random offsets and verify patterns\n",
      "      --prefill     write every block once before the timed run (not in SPDK)\n",
      "  -h, --help        this text\n");
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  static const option kLongOptions[] = {
      {"json", required_argument, nullptr, 'c'},
      {"seed", required_argument, nullptr, kOptSeed},
      {"prefill", no_argument, nullptr, kOptPrefill},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options opts;
  bool have_q = false, have_o = false, have_w = false, have_t = false;
  opterr = 0;  // we print our own one-line errors
  optind = 1;  // parse from the start (tests call this more than once)
  int c;
  while ((c = getopt_long(argc, argv, ":q:o:w:t:m:c:h", kLongOptions, nullptr)) != -1) {
    const std::string arg = optarg != nullptr ? optarg : "";
    switch (c) {
      case 'q': {
        auto v = ParseCount("queue depth (-q)", arg, 1, kMaxQueueDepth);
        if (!v.ok()) return v.status();
        opts.queue_depth = static_cast<uint32_t>(*v);
        have_q = true;
        break;
      }
      case 'o': {
        auto v = ParseSize(arg);
        if (!v.ok()) return Bad("I/O size (-o)", arg, v.status().message());
        if (*v == 0) return Bad("I/O size (-o)", arg, "must be greater than 0");
        if (*v > kMaxIoSize) return Bad("I/O size (-o)", arg, "must be at most 1g");
        opts.io_size = *v;
        have_o = true;
        break;
      }
      case 'w': {
        auto w = ParseWorkload(arg);
        if (!w) {
          return Bad("workload (-w)", arg, absl::StrCat("unknown; use one of ", WorkloadNames()));
        }
        opts.workload = *w;
        have_w = true;
        break;
      }
      case 't': {
        auto v = ParseCount("time (-t)", arg, 1, kMaxSeconds);
        if (!v.ok()) return v.status();
        opts.time_seconds = *v;
        have_t = true;
        break;
      }
      case 'm': {
        auto cores = ParseCoreMask(arg);
        // ParseCoreMask's message already names the mask ("invalid core mask '..'").
        if (!cores.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(cores.status().message(), " (-m)"));
        }
        if (cores->empty()) return Bad("core mask (-m)", arg, "selects no core");
        opts.core_mask = arg;
        opts.cores = *std::move(cores);
        break;
      }
      case 'c':
        if (arg.empty()) return Bad("config file (--json)", arg, "empty path");
        opts.config_file = arg;
        break;
      case kOptSeed: {
        auto v = ParseCount("seed (--seed)", arg, 0, std::numeric_limits<uint64_t>::max());
        if (!v.ok()) return v.status();
        opts.seed = *v;
        opts.seed_given = true;
        break;
      }
      case kOptPrefill:
        opts.prefill = true;
        break;
      case 'h':
        opts.help = true;
        return opts;
      case ':':
        return absl::InvalidArgumentError(
            absl::StrCat("option ", OptionText(argv), " needs a value"));
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option ", OptionText(argv), " (see --help)"));
    }
  }
  if (optind < argc) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", argv[optind], "'"));
  }
  if (!have_q) return absl::InvalidArgumentError("missing queue depth (-q)");
  if (!have_o) return absl::InvalidArgumentError("missing I/O size (-o)");
  if (!have_w) return absl::InvalidArgumentError("missing workload (-w)");
  if (!have_t) return absl::InvalidArgumentError("missing time in seconds (-t)");
  if (opts.config_file.empty()) {
    return absl::InvalidArgumentError("missing config file (--json FILE): no bdevs to test");
  }
  if (!opts.seed_given) {
    opts.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return opts;
}

}  // namespace bdevkit::perf

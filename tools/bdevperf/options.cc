// Why getopt_long and not absl::flags (which the rest of bdevkit may use): bdevperf
// must accept SPDK's command lines unchanged, and those are short flags with a
// separate value (`-q 128 -o 4k -w randread`). absl::flags has no short flags and
// would reject `-q 128`. getopt_long gives exactly the POSIX/GNU behaviour SPDK users
// type, plus the long options (--json, --seed) in one small table.
#include "tools/bdevperf/options.h"

#include <getopt.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bdevkit/runtime.h"

namespace bdevkit::perf {
namespace {

enum LongOnly {
  kOptSeed = 1000,
  kOptPrefill,
  kOptOutputJson,
  kOptCompare,
  kOptSvg,
  kOptInterruptMode,
  kOptIdleSpins
};

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

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(message); }

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

absl::StatusOr<uint64_t> ParseIoSize(absl::string_view text) {
  auto v = ParseSize(text);
  if (!v.ok()) return Bad("I/O size (-o)", text, v.status().message());
  if (*v == 0) return Bad("I/O size (-o)", text, "must be greater than 0");
  if (*v > kMaxIoSize) return Bad("I/O size (-o)", text, "must be at most 1g");
  return *v;
}

std::string Usage(absl::string_view program) {
  return absl::StrCat(
      "Usage: ", program, " -q DEPTH -o SIZE -w WORKLOAD -t SECONDS -c CONFIG [options]\n",
      "  -q DEPTH          I/Os kept in flight per job (at most ", kMaxQueueDepth, ")\n",
      "  -o SIZE           I/O size in bytes; k, m, g suffixes (4k = 4096)\n",
      "  -w WORKLOAD       ", WorkloadNames(), "\n",
      "  -M PERCENT        reads in percent, for rw and randrw (100 = only reads)\n",
      "  -t SECONDS        run time\n",
      "  -m MASK           reactor core mask: 0x3, [0,1], 0-1 (default 0x1)\n",
      "  -c, --json FILE   bdev config (SPDK subsystems format); one job per unclaimed bdev\n",
      "  -C                every core runs a job on every bdev, each on its own slice\n",
      "  -T BDEV           test only this bdev\n",
      "  -S SECONDS        print every job's row every SECONDS seconds\n",
      "  -k SECONDS        count an I/O outstanding longer than this in TO/s (0 = off)\n",
      "  -f                keep going after a failed I/O (counted in Fail/s)\n",
      "  -F THETA          zipf-distributed random offsets (theta > 0)\n",
      "  -D                random offsets cover every block once per pass (random map)\n",
      "  -l                latency percentiles per job; -ll the histogram too\n",
      "  -z                wait for the perform_tests RPC, run, reply, wait again\n",
      "  -r PATH           RPC socket for -z (default /var/tmp/bdevkit.sock)\n",
      "      --output-json FILE  write the results as JSON (perform_tests' result)\n",
      "      --compare A,B,...   run the workload on each bdev in turn, side by side\n",
      "      --svg FILE          compare mode's plot (default bdevperf-compare.svg)\n",
      "      --seed N      seed of the random offsets and verify patterns\n",
      "      --prefill     write every block once before the timed run (not in SPDK)\n",
      "      --interrupt-mode  reactors sleep when idle and are woken by completions\n",
      "                    (less CPU at low depth, more latency per I/O)\n",
      "      --idle-spins N  with --interrupt-mode: idle loops before a reactor sleeps\n",
      "                    (default 10000; 1 = sleep at once, for backends that complete\n",
      "                    on their own threads, e.g. rbd, on a machine with few cores)\n",
      "  -h, --help        this text\n");
}

absl::Status CheckTestParams(const TestParams& test, const Options& options) {
  if (test.queue_depth == 0) return Invalid("missing queue depth (-q)");
  if (test.io_size == 0) return Invalid("missing I/O size (-o)");
  if (!test.workload) return Invalid("missing workload (-w)");
  if (test.time_seconds == 0) return Invalid("missing time in seconds (-t)");
  const Workload w = *test.workload;
  const std::string name(WorkloadName(w));
  if (IsMixed(w) && test.rw_percentage < 0) {
    return Invalid(absl::StrCat("workload ", name, " needs the read percentage (-M 0..100)"));
  }
  if (!IsMixed(w) && test.rw_percentage >= 0) {
    return Invalid(
        absl::StrCat("-M (read percentage) only applies to rw and randrw, not to ", name));
  }
  if (options.zipf_theta > 0 && !IsRandom(w)) {
    return Invalid(
        absl::StrCat("-F (zipf) needs a random workload (randread, randwrite, "
                     "randrw), not ",
                     name));
  }
  if (options.random_map && !IsRandom(w)) {
    return Invalid(
        absl::StrCat("-D (random map) needs a random workload (randread, "
                     "randwrite, randrw), not ",
                     name));
  }
  const uint64_t per_io = test.io_size * (Verifies(w) ? 2 : 1);
  if (per_io * test.queue_depth > kMaxBufferBytes) {
    return Invalid(absl::StrCat(
        "queue depth ", test.queue_depth, " x I/O size ", test.io_size,
        Verifies(w) ? " x 2 (verify)" : "", " needs ", per_io * test.queue_depth >> 20,
        " MiB of I/O buffers per job; at most ", kMaxBufferBytes >> 20, " MiB (lower -q or -o)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  static const option kLongOptions[] = {
      {"json", required_argument, nullptr, 'c'},
      {"seed", required_argument, nullptr, kOptSeed},
      {"prefill", no_argument, nullptr, kOptPrefill},
      {"output-json", required_argument, nullptr, kOptOutputJson},
      {"compare", required_argument, nullptr, kOptCompare},
      {"svg", required_argument, nullptr, kOptSvg},
      {"interrupt-mode", no_argument, nullptr, kOptInterruptMode},
      {"idle-spins", required_argument, nullptr, kOptIdleSpins},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options opts;
  TestParams& test = opts.test;
  opterr = 0;  // we print our own one-line errors
  optind = 1;  // parse from the start (tests call this more than once)
  int c;
  while ((c = getopt_long(argc, argv, ":q:o:w:t:m:c:M:CT:S:k:fF:Dzr:lh", kLongOptions, nullptr)) !=
         -1) {
    const std::string arg = optarg != nullptr ? optarg : "";
    switch (c) {
      case 'q': {
        auto v = ParseCount("queue depth (-q)", arg, 1, kMaxQueueDepth);
        if (!v.ok()) return v.status();
        test.queue_depth = static_cast<uint32_t>(*v);
        break;
      }
      case 'o': {
        auto v = ParseIoSize(arg);
        if (!v.ok()) return v.status();
        test.io_size = *v;
        break;
      }
      case 'w': {
        auto w = ParseWorkload(arg);
        if (!w) {
          return Bad("workload (-w)", arg, absl::StrCat("unknown; use one of ", WorkloadNames()));
        }
        test.workload = *w;
        break;
      }
      case 't': {
        auto v = ParseCount("time (-t)", arg, 1, kMaxSeconds);
        if (!v.ok()) return v.status();
        test.time_seconds = *v;
        break;
      }
      case 'M': {
        auto v = ParseCount("read percentage (-M)", arg, 0, 100);
        if (!v.ok()) return v.status();
        test.rw_percentage = static_cast<int>(*v);
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
      case 'C':
        opts.every_core = true;
        break;
      case 'T':
        if (arg.empty()) return Bad("bdev (-T)", arg, "empty name");
        opts.only_bdev = arg;
        break;
      case 'S': {
        auto v = ParseCount("stats period (-S)", arg, 1, kMaxSeconds);
        if (!v.ok()) return v.status();
        opts.stats_period_seconds = *v;
        break;
      }
      case 'k': {
        auto v = ParseCount("I/O timeout (-k)", arg, 0, kMaxSeconds);
        if (!v.ok()) return v.status();
        opts.timeout_seconds = *v;
        break;
      }
      case 'f':
        opts.continue_on_failure = true;
        break;
      case 'F': {
        double theta = 0;
        if (!absl::SimpleAtod(arg, &theta) || !std::isfinite(theta)) {
          return Bad("zipf theta (-F)", arg, "not a number");
        }
        if (theta <= 0 || theta > 100) {
          return Bad("zipf theta (-F)", arg, "must be greater than 0 and at most 100");
        }
        opts.zipf_theta = theta;
        break;
      }
      case 'D':
        opts.random_map = true;
        break;
      case 'z':
        opts.wait_for_rpc = true;
        break;
      case 'r':
        if (arg.empty()) return Bad("RPC socket (-r)", arg, "empty path");
        opts.rpc_socket = arg;
        break;
      case 'l':
        ++opts.latency_level;
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
      case kOptOutputJson:
        if (arg.empty()) return Bad("JSON output file (--output-json)", arg, "empty path");
        opts.output_json = arg;
        break;
      case kOptCompare:
        opts.compare.clear();
        for (absl::string_view name : absl::StrSplit(arg, ',')) {
          if (name.empty()) {
            return Bad("bdev list (--compare)", arg, "a bdev name is empty (use A,B,C)");
          }
          opts.compare.emplace_back(name);
        }
        break;
      case kOptSvg:
        if (arg.empty()) return Bad("SVG file (--svg)", arg, "empty path");
        opts.svg_file = arg;
        break;
      case kOptInterruptMode:
        opts.interrupt_mode = true;
        break;
      case kOptIdleSpins: {
        auto v = ParseCount("idle spins (--idle-spins)", arg, 1, 1000000);
        if (!v.ok()) return v.status();
        opts.idle_spins = static_cast<int>(*v);
        break;
      }
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
  if (opts.random_map && opts.zipf_theta > 0) {
    return Invalid("-D (random map) and -F (zipf) pick offsets in different ways; use one");
  }
  if (opts.idle_spins > 0 && !opts.interrupt_mode) {
    return Invalid("--idle-spins applies to --interrupt-mode only (busy polling never sleeps)");
  }
  if (!opts.compare.empty()) {
    if (opts.wait_for_rpc) return Invalid("--compare and -z do not go together");
    if (!opts.only_bdev.empty()) return Invalid("--compare names the bdevs; drop -T");
  }
  if (opts.wait_for_rpc) {
    // perform_tests may give the rest; what was given is checked when a run starts.
  } else {
    if (absl::Status st = CheckTestParams(test, opts); !st.ok()) return st;
    if (opts.config_file.empty()) {
      return Invalid("missing config file (--json FILE): no bdevs to test");
    }
  }
  if (!opts.seed_given) {
    opts.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return opts;
}

}  // namespace bdevkit::perf

// bdevperf's command line: SPDK's flags, parsed into Options and checked as far as
// possible before anything starts (what needs a bdev's geometry is checked later).
#ifndef BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_
#define BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/bdevperf/workload.h"

namespace bdevkit::perf {

// Sane upper bounds: a typo like -q 1280000 should be an error, not an OOM.
inline constexpr uint64_t kMaxQueueDepth = 65536;
inline constexpr uint64_t kMaxIoSize = 1ull << 30;  // 1 GiB per I/O
// I/O buffers one job may allocate (depth x size, twice for verify).
inline constexpr uint64_t kMaxBufferBytes = 4ull << 30;
inline constexpr uint64_t kMaxSeconds = 365ull * 24 * 3600;

// The parameters of one test run: what the command line gives and what the
// perform_tests RPC may override (-z). 0 / nullopt / -1 = not given.
struct TestParams {
  uint32_t queue_depth = 0;          // -q
  uint64_t io_size = 0;              // -o, bytes
  std::optional<Workload> workload;  // -w
  uint64_t time_seconds = 0;         // -t
  int rw_percentage = -1;            // -M: reads in % for rw/randrw
};

struct Options {
  TestParams test;
  std::string core_mask = "0x1";  // -m, as given
  std::vector<int> cores = {0};   // -m, parsed
  std::string config_file;        // --json / -c
  uint64_t seed = 0;              // --seed (or drawn from the clock)
  bool seed_given = false;
  bool prefill = false;               // --prefill (ours): write every block before the run
  bool every_core = false;            // -C: a job per (bdev, core), each on its own slice
  std::string only_bdev;              // -T: test this bdev only
  uint64_t stats_period_seconds = 0;  // -S: per-job rows every N seconds (0 = off)
  uint64_t timeout_seconds = 0;       // -k: an I/O older than this counts in TO/s
  bool continue_on_failure = false;   // -f
  double zipf_theta = 0;              // -F: zipf offsets (0 = uniform)
  bool random_map = false;            // -D: every slot once per pass
  bool wait_for_rpc = false;          // -z: run on perform_tests
  bool interrupt_mode = false;        // --interrupt-mode: reactors sleep when idle
  int idle_spins = 0;                 // --idle-spins: idle loops before sleeping (0 = default)
  std::string rpc_socket = "/var/tmp/bdevkit.sock";  // -r
  int latency_level = 0;                             // -l: 1 = percentiles, 2 (-ll) = histogram too
  std::string output_json;                           // --output-json FILE
  std::vector<std::string> compare;                  // --compare A,B,C
  std::string svg_file = "bdevperf-compare.svg";     // --svg FILE (compare mode)
  bool help = false;                                 // -h / --help: print Usage() and exit 0
};

// Parses argv. Errors are kInvalidArgument with a one-line message naming the flag
// and the bad value. Does not read the config file.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);

// Checks that `test` is complete and consistent with the other options (-M only with
// rw/randrw and required there, -F/-D only with random workloads, buffer memory).
// Used after parsing (unless -z) and for each perform_tests call.
absl::Status CheckTestParams(const TestParams& test, const Options& options);

// Parses "4096", "4k", "1M", "2g" (powers of 1024; upper or lower case). Errors name
// the text. Exposed for tests.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// Checks an I/O size given as -o or perform_tests' io_size: bytes > 0, <= 1 GiB.
absl::StatusOr<uint64_t> ParseIoSize(absl::string_view text);

std::string Usage(absl::string_view program);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_

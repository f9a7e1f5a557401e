// bdevperf's command line: SPDK's flags, parsed into Options and checked as far as
// possible before anything starts (what needs a bdev's geometry is checked later).
#ifndef BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_
#define BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/bdevperf/workload.h"

namespace bdevkit::perf {

struct Options {
  uint32_t queue_depth = 0;             // -q
  uint64_t io_size = 0;                 // -o, bytes
  Workload workload = Workload::kRead;  // -w
  uint64_t time_seconds = 0;            // -t
  std::string core_mask = "0x1";        // -m, as given
  std::vector<int> cores = {0};         // -m, parsed
  std::string config_file;              // --json / -c
  uint64_t seed = 0;                    // --seed (or drawn from the clock)
  bool seed_given = false;
  bool prefill = false;  // --prefill (ours): write every block before the run
  bool help = false;     // -h / --help: print Usage() and exit 0
};

// Parses argv. Errors are kInvalidArgument with a one-line message naming the flag
// and the bad value. Does not read the config file.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);

// Parses "4096", "4k", "1M", "2g" (powers of 1024; upper or lower case). Errors name
// the text. Exposed for tests.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

std::string Usage(absl::string_view program);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_OPTIONS_H_

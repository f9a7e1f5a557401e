// The bdevperf process from start to exit code: start the runtime and the bdev
// layer, load the config, then one of three modes —
//   normal   one run over the planned jobs, the table, exit
//   compare  (--compare A,B,C) one run per bdev in turn, the side-by-side table and
//            an SVG plot
//   -z       serve JSON-RPC on -r PATH; each perform_tests call makes a run and is
//            answered with its results; bdevs can be created over the same socket
// — and stop everything (also on SIGINT/SIGTERM, which end a run early).
#ifndef BDEVKIT_TOOLS_BDEVPERF_APP_H_
#define BDEVKIT_TOOLS_BDEVPERF_APP_H_

#include "tools/bdevperf/options.h"

namespace bdevkit::perf {

// Runs bdevperf with parsed options; returns the process exit code (0 = every job ran
// and passed). Prints the table on stdout and one line per problem on stderr.
// Non-runtime thread; blocks for the whole run.
int RunBdevperf(const Options& options);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_APP_H_

// The bdevperf run from start to exit code: start the runtime and the bdev layer,
// load the config, make one job per unclaimed bdev (round-robin over the reactors),
// set every job up, run them, print the table, stop everything.
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

// What a finished run prints: the result table, -l percentiles, -ll histogram, and
// one stderr line per job failure. Shared by normal, compare and -z mode.
#ifndef BDEVKIT_TOOLS_BDEVPERF_RUN_OUTPUT_H_
#define BDEVKIT_TOOLS_BDEVPERF_RUN_OUTPUT_H_

#include "absl/strings/string_view.h"
#include "tools/bdevperf/perf_run.h"

namespace bdevkit::perf {

// "bdevperf: MESSAGE" on stderr.
void PrintError(absl::string_view message);

// Prints the outcome of a run that got past setup (stdout: tables; stderr: failures).
void PrintRunOutput(const RunOutcome& outcome, int latency_level);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_RUN_OUTPUT_H_

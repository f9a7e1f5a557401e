#include "tools/bdevperf/run_output.h"

#include <cstdio>
#include <string>

#include "tools/bdevperf/report.h"

namespace bdevkit::perf {

void PrintError(absl::string_view message) {
  std::fprintf(stderr, "bdevperf: %.*s\n", static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

void PrintRunOutput(const RunOutcome& outcome, int latency_level) {
  if (outcome.results.empty()) {  // stopped before the timed run began
    if (outcome.terminated) std::printf("Received shutdown signal before the run started\n");
    std::fflush(stdout);
    return;
  }
  if (outcome.terminated && !outcome.results.empty()) {
    double seconds = 0;
    for (const JobResult& r : outcome.results) {
      seconds = seconds > r.RuntimeSeconds() ? seconds : r.RuntimeSeconds();
    }
    std::printf("Received shutdown signal, test time was about %.6f seconds\n", seconds);
  }
  std::fputs(FormatResultTable(outcome.results).c_str(), stdout);
  if (latency_level >= 1) std::fputs(FormatLatencySummary(outcome.results).c_str(), stdout);
  if (latency_level >= 2) std::fputs(FormatLatencyHistogram(outcome.results).c_str(), stdout);
  std::fflush(stdout);
  for (const std::string& line : outcome.failures) PrintError(line);
}

}  // namespace bdevkit::perf

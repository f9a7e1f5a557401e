// Live progress while a run goes: once a second the rate of the last second (IOPS,
// MiB/s) and elapsed/total seconds. On a terminal one line is rewritten in place;
// otherwise (a pipe, a log file) each update is a plain line of its own.
#ifndef BDEVKIT_TOOLS_BDEVPERF_PROGRESS_H_
#define BDEVKIT_TOOLS_BDEVPERF_PROGRESS_H_

#include <cstdint>
#include <string>

namespace bdevkit::perf {

// "Progress: 3/10 s   123456.78 IOPS   482.25 MiB/s" (no line end).
std::string FormatProgress(double elapsed_seconds, uint64_t total_seconds, double iops,
                           double mibps);

class ProgressLine {
 public:
  explicit ProgressLine(bool terminal) : terminal_(terminal) {}
  // Prints an update (rewrites the line on a terminal).
  void Update(const std::string& text);
  // Before other output: clears the rewritten line (terminal only).
  void Clear();

 private:
  bool terminal_;
  bool shown_ = false;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_PROGRESS_H_

#include "tools/bdevperf/progress.h"

#include <cstdio>

#include "absl/strings/str_format.h"

namespace bdevkit::perf {

std::string FormatProgress(double elapsed_seconds, uint64_t total_seconds, double iops,
                           double mibps) {
  return absl::StrFormat("Progress: %.0f/%u s %14.2f IOPS %11.2f MiB/s", elapsed_seconds,
                         total_seconds, iops, mibps);
}

void ProgressLine::Update(const std::string& text) {
  if (terminal_) {
    // \r back to the start, then erase the rest of the old line (ANSI EL).
    std::printf("\r%s\033[K", text.c_str());
  } else {
    std::printf("%s\n", text.c_str());
  }
  std::fflush(stdout);
  shown_ = true;
}

void ProgressLine::Clear() {
  if (terminal_ && shown_) {
    std::printf("\r\033[K");
    std::fflush(stdout);
  }
  shown_ = false;
}

}  // namespace bdevkit::perf

// Tick source for latency measurement. On x86 with an invariant TSC, rdtsc costs a
// few nanoseconds, much less than clock_gettime; elsewhere, the monotonic clock.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "bdevkit/runtime.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace bdevkit {
namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Whether the CPU says its TSC runs at a constant rate in every power state.
bool HasInvariantTsc() {
#if defined(__x86_64__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      return line.find(" constant_tsc") != std::string::npos &&
             line.find(" nonstop_tsc") != std::string::npos;
    }
  }
#endif
  return false;
}

struct TickSource {
  bool use_tsc = false;
  uint64_t hz = 1000000000ull;
  TickSource() {
#if defined(__x86_64__)
    if (!HasInvariantTsc()) return;
    // Calibrate against the monotonic clock over 20 ms: enough for ~0.01% accuracy.
    const uint64_t t0 = MonotonicNs(), c0 = __rdtsc();
    uint64_t t1;
    do {
      t1 = MonotonicNs();
    } while (t1 - t0 < 20000000ull);
    const uint64_t c1 = __rdtsc();
    hz = static_cast<uint64_t>(static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(t1 - t0));
    use_tsc = true;
#endif
  }
};

const TickSource& Source() {
  static const TickSource source;
  return source;
}

}  // namespace

uint64_t GetTicks() {
#if defined(__x86_64__)
  if (Source().use_tsc) return __rdtsc();
#endif
  return MonotonicNs();
}

uint64_t GetTicksPerSecond() { return Source().hz; }

}  // namespace bdevkit

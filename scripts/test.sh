#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with AddressSanitizer +
# UBSan, runs every libFuzzer target briefly (FUZZ_SECONDS each, default 20; 0 skips
# them), the runtime/channel/core tests under ThreadSanitizer (ctest label tsan, in
# build/tsan; TSAN=0 skips them), then every test (unit and integration) with ctest,
# whose summary ends the output. The fuzzers and TSan are quiet unless they fail.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh asan
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  # One line per target; a failing target's whole report (and its input's path).
  scripts/fuzz.sh --quiet "${FUZZ_SECONDS:-20}" || { echo "fuzzing FAILED (see above)" >&2; exit 1; }
fi
if [ "${TSAN:-1}" != 0 ]; then
  # Only the tests labeled tsan are built and run (see tests/CMakeLists.txt).
  mkdir -p build
  if scripts/build.sh tsan tsan_tests >build/tsan.log 2>&1 &&
    TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}" \
      ctest --test-dir build/tsan -L tsan --output-on-failure -j2 >>build/tsan.log 2>&1; then
    echo "tsan: $(grep -E '^[0-9]+% tests passed' build/tsan.log | tail -1)"
  else
    cat build/tsan.log
    echo "ThreadSanitizer pass FAILED (see above)" >&2
    exit 1
  fi
fi
# halt_on_error: a sanitizer report fails the test that caused it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build/asan --output-on-failure -j2 "$@"

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with AddressSanitizer +
# UBSan, runs the JSON-RPC fuzzer briefly (FUZZ_SECONDS, default 30; 0 skips it), then
# every test (unit and integration) with ctest, whose summary ends the output.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh asan
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  # Quiet unless it fails: then the whole report (and the crashing input's path).
  if scripts/fuzz-rpc.sh "${FUZZ_SECONDS:-30}" >build/fuzz-rpc.log 2>&1; then
    echo "rpc fuzzer: ${FUZZ_SECONDS:-30} s, no crash ($(grep -o 'stat::number_of_executed_units: *[0-9]*' build/fuzz-rpc.log | grep -o '[0-9]*$') inputs)"
  else
    cat build/fuzz-rpc.log
    echo "rpc fuzzer FAILED (see above)" >&2
    exit 1
  fi
fi
# halt_on_error: a sanitizer report fails the test that caused it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build/asan --output-on-failure -j2 "$@"

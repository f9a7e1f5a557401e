#!/usr/bin/env bash
# Configures and builds bdevkit.
# Usage: scripts/build.sh <release|debug|asan|tsan> [ninja targets...]
#   release  -O2, NDEBUG: for benchmarks and the demo      (build/release)
#   debug    -O0 -g                                        (build/debug)
#   asan     debug + AddressSanitizer + UBSan: the test pass (build/asan)
#   tsan     debug + ThreadSanitizer                        (build/tsan)
# Warnings are errors when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-release}"
shift || true
case "$kind" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DBDEVKIT_SANITIZE=address) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=Debug -DBDEVKIT_SANITIZE=thread) ;;
  *) echo "build.sh: unknown build kind '$kind' (release, debug, asan or tsan)" >&2; exit 2 ;;
esac
if [ "${CI:-}" = "true" ]; then
  args+=(-DBDEVKIT_WERROR=ON)
fi

dir="build/$kind"
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
ninja -C "$dir" "$@"

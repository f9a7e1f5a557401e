#!/usr/bin/env bash
# The full soak: builds bdevperf and bdevctl (Release, build/release, or the build tree
# in SOAK_BUILD_DIR) and runs soak.py for SECONDS (default 600) with rounds of 10 s.
# Usage: tests/soak/soak.sh [SECONDS] [soak.py options: --round S --seed N --work-dir D]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
dir=${SOAK_BUILD_DIR:-}
if [ -z "$dir" ]; then
  scripts/install-deps.sh
  scripts/build.sh release bdevperf bdevctl
  dir=build/release
fi
exec python3 tests/soak/soak.py --bdevperf "$dir/tools/bdevperf/bdevperf" \
  --bdevctl "$dir/tools/bdevctl/bdevctl" --time "$seconds" "$@"

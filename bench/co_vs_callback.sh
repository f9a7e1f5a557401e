#!/usr/bin/env bash
# Coroutines vs callbacks (issue 8): IOPS of the same null-bdev read loop written with
# the callback API and with co_await (bench/co_vs_callback.cc), measured alternately
# in one process on one core; prints each run, the medians with min and max, and the
# ratio coroutine / callback (target >= 0.90: within 10%).
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (5), RUNS (5), CORE (0), QD (32),
#              BUILD_DIR (build-co-rel), QUIET_WAIT (120, see lib.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-5}
CORE=${CORE:-0}
QD=${QD:-32}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-co-rel}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

. "$ROOT/bench/lib.sh"

# Release, same flags every time; the program links the shared library, as an
# embedder's would.
show_run cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBDEVKIT_BUILD_TESTS=OFF -DBDEVKIT_SANITIZE= >/dev/null
show_run ninja -C "$BUILD_DIR" bdevkit_shared >/dev/null
DEPS="absl_status absl_statusor absl_strings absl_str_format absl_time absl_span nlohmann_json"
show_run g++ -std=c++20 -O2 -DNDEBUG -o "$WORK/co_vs_callback" "$ROOT/bench/co_vs_callback.cc" \
  -I"$ROOT/include" $(pkg-config --cflags $DEPS) -L"$BUILD_DIR" -lbdevkit \
  -Wl,-rpath,"$BUILD_DIR" $(pkg-config --libs $DEPS) -pthread

wait_quiet
say "+ $WORK/co_vs_callback $QD $T $RUNS $CORE"
mapfile -t lines < <("$WORK/co_vs_callback" "$QD" "$T" "$RUNS" "$CORE")
cb=() co=() ratios=()
for l in "${lines[@]}"; do
  read -r a b <<<"$l"
  cb+=("$a") co+=("$b") ratios+=("$(ratio "$b" "$a")")
  say "run: callback $a IOPS, coroutine $b IOPS, ratio $(ratio "$b" "$a")"
done
read -r cbm cbl cbh <<<"$(median_min_max %.0f "${cb[@]}")"
read -r com col coh <<<"$(median_min_max %.0f "${co[@]}")"
read -r rm rl rh <<<"$(median_min_max %.2f "${ratios[@]}")"
echo "null bdev, 4 KiB reads, QD $QD, 1 core, $RUNS x ${T}s each (median, min-max):"
printf '  %-10s %10s IOPS (%s-%s)  %6.1f ns/IO\n' callback "$cbm" "$cbl" "$cbh" "$(awk -v i="$cbm" 'BEGIN{print 1e9/i}')"
printf '  %-10s %10s IOPS (%s-%s)  %6.1f ns/IO\n' coroutine "$com" "$col" "$coh" "$(awk -v i="$com" 'BEGIN{print 1e9/i}')"
echo "  coroutine / callback: $rm (per-run ratios $rl-$rh; target >= 0.90)"
((NOISY == 0)) || echo "  warning: the machine was busy at the start of $NOISY measurement(s)"

#!/usr/bin/env bash
# Coroutines vs callbacks (issue 8): IOPS of the same null-bdev read loop written with
# the callback API and with co_await (bench/co_vs_callback.cc), measured alternately
# in one process on one core; prints each run, the medians with min and max, and the
# ratio coroutine / callback (target >= 0.90: within 10%). Then, with valgrind
# installed, instructions per I/O of each style under callgrind (counted inside the
# reactor's polls only; the same count whatever the machine is doing).
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (5), RUNS (5), CORE (0), QD (32),
#              BUILD_DIR (build-co-rel), QUIET_WAIT (120, see lib.sh),
#              INSTRUCTIONS (1: the callgrind counts; 0 = skip them)
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
release_build "$BUILD_DIR" bdevkit_shared
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

# Instructions per I/O: callgrind counts only inside the runtime threads' polls (where
# every submit and completion runs). Each style runs a fixed number of I/Os twice (100k
# and 300k): the difference of the counts over the difference of the I/Os leaves out
# what does not grow with the I/O (start-up, the pools' first use, idle polls).
callgrind_run() {  # STYLE HUNDRED_THOUSANDS_OF_IOS -> "instructions ios"
  local out collected ios
  say "+ valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*ThreadImpl::Poll*' $WORK/co_vs_callback $QD $2 1 $CORE $1"
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
    --toggle-collect='*ThreadImpl::Poll*' "$WORK/co_vs_callback" "$QD" "$2" 1 "$CORE" "$1" \
    2>"$WORK/callgrind.err")
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/callgrind.err")
  ios=$(sed -n 's/^ios \([0-9]*\)$/\1/p' <<<"$out")
  echo "$collected $ios"
}
if [[ ${INSTRUCTIONS:-1} == 1 ]] && command -v valgrind >/dev/null; then
  echo "instructions per I/O (callgrind, reactor polls only; lower is better):"
  declare -A ipio
  for style in callback coroutine; do
    read -r c1 n1 <<<"$(callgrind_run "$style" 1)"
    read -r c3 n3 <<<"$(callgrind_run "$style" 3)"
    ipio[$style]=$(awk -v a="$c1" -v b="$c3" -v x="$n1" -v y="$n3" 'BEGIN { printf "%.0f", (b - a) / (y - x) }')
    printf '  %-10s %6s instructions per I/O (from runs of %s and %s I/Os)\n' "$style" "${ipio[$style]}" "$n1" "$n3"
  done
  echo "  callback / coroutine: $(ratio "${ipio[callback]}" "${ipio[coroutine]}")"
fi

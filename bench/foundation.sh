#!/usr/bin/env bash
# Foundation benchmarks (issue 2): bdevperf against references measured in the same
# run on the same machine. Prints every command it runs, medians of RUNS runs with
# min and max, and the ratios:
#   (a) null bdev, 1 core, 4 KiB randread QD 128: ns per I/O, and IOPS / fio's null
#       ioengine (same bs, iodepth, runtime, one job, pinned)      target >= 5
#   (b) malloc bdev, same workload: IOPS / a plain memcpy loop of random 4 KiB blocks
#       of a buffer as large as the bdev on one core                target >= 0.8
#   (c) two null bdevs: IOPS on 2 cores / on 1 core                 target >= 1.8
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (10), RUNS (3), CORE (0), BUILD_DIR (build-perf-rel),
#              BS (4096), QD (128), BDEV_MB (1024), QUIET_WAIT (120: seconds to wait
#              before each measurement for the machine to go idle; 0 = do not wait).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
CORE=${CORE:-0}
BS=${BS:-4096}
QD=${QD:-128}
BDEV_MB=${BDEV_MB:-1024}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-perf-rel}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

. "$ROOT/bench/lib.sh"

# ---- Build (Release, same flags every time) ------------------------------------------
if ! command -v fio >/dev/null; then
  say "fio is missing: installing Debian's fio"
  apt-get install -y fio >/dev/null
fi
release_build "$BUILD_DIR" bdevperf
BDEVPERF=$BUILD_DIR/tools/bdevperf/bdevperf
show_run g++ -std=c++20 -O2 -o "$WORK/memcpy_rate" "$ROOT/bench/memcpy_rate.cc"

NUM_BLOCKS=$((BDEV_MB * 1024 * 1024 / BS))
bdev() { # KIND NAME
  echo "{\"method\":\"bdev_$1_create\",\"params\":{\"name\":\"$2\",\"num_blocks\":$NUM_BLOCKS,\"block_size\":$BS}}"
}
config() { # FILE ENTRY...
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*]}]}" >"$file"
}
config "$WORK/null.json" "$(bdev null Null0)"
config "$WORK/malloc.json" "$(bdev malloc Malloc0)"
config "$WORK/null2.json" "$(bdev null Null0)" "$(bdev null Null1)"
for f in null malloc null2; do say "config $f.json: $(cat "$WORK/$f.json")"; done
MASK1=$(printf '0x%x' $((1 << CORE)))

# One measurement each; every function prints one number (IOPS).
bdevperf_iops() { # CONFIG MASK [extra flags]
  local cfg=$1 mask=$2; shift 2
  local out
  say "+ $BDEVPERF -c $cfg -q $QD -o $BS -w randread -t $T -m $mask $*"
  out=$("$BDEVPERF" -c "$cfg" -q "$QD" -o "$BS" -w randread -t "$T" -m "$mask" "$@")
  echo "$out" >&2
  echo "$out" | awk '$1 == "Total" { print $3 }'
}
fio_null_iops() {
  local cmd=(taskset -c "$CORE" fio --name=null --ioengine=null --rw=randread --bs="$BS"
             --iodepth="$QD" --size="${BDEV_MB}m" --runtime="$T" --time_based --numjobs=1
             --output-format=json)
  say "+ ${cmd[*]}"
  "${cmd[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}
memcpy_iops() {
  local cmd=(taskset -c "$CORE" "$WORK/memcpy_rate" $((BDEV_MB * 1024 * 1024)) "$BS" "$QD" "$T")
  say "+ ${cmd[*]}"
  "${cmd[@]}" | awk '$1 == "copies_per_sec" { print $2 }'
}


# The figures mean little on a busy machine: say how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
declare -a null_bp fio_null malloc_bp memcpy one_core two_cores ratio_a ratio_b ratio_c
# Interleave the runs (ours, reference, ours, reference...) so slow drifts of a noisy
# machine hit both sides alike.
for ((i = 1; i <= RUNS; ++i)); do
  say "=== run $i of $RUNS"
  wait_quiet; null_bp+=("$(bdevperf_iops "$WORK/null.json" "$MASK1")")
  wait_quiet; fio_null+=("$(fio_null_iops)")
  wait_quiet; malloc_bp+=("$(bdevperf_iops "$WORK/malloc.json" "$MASK1" --prefill)")
  wait_quiet; memcpy+=("$(memcpy_iops)")
  wait_quiet; one_core+=("$(bdevperf_iops "$WORK/null2.json" "$MASK1")")
  wait_quiet; two_cores+=("$(bdevperf_iops "$WORK/null2.json" 0x3)")
  # Each pair ran back to back: its ratio cancels slow drifts of the machine.
  ratio_a+=("$(ratio "${null_bp[-1]}" "${fio_null[-1]}")")
  ratio_b+=("$(ratio "${malloc_bp[-1]}" "${memcpy[-1]}")")
  ratio_c+=("$(ratio "${two_cores[-1]}" "${one_core[-1]}")")
done
read -r ra_med ra_min ra_max <<<"$(median_min_max %.2f "${ratio_a[@]}")"
read -r rb_med rb_min rb_max <<<"$(median_min_max %.2f "${ratio_b[@]}")"
read -r rc_med rc_min rc_max <<<"$(median_min_max %.2f "${ratio_c[@]}")"

read -r nb_med nb_min nb_max <<<"$(median_min_max %.0f "${null_bp[@]}")"
read -r fn_med fn_min fn_max <<<"$(median_min_max %.0f "${fio_null[@]}")"
read -r mb_med mb_min mb_max <<<"$(median_min_max %.0f "${malloc_bp[@]}")"
read -r mc_med mc_min mc_max <<<"$(median_min_max %.0f "${memcpy[@]}")"
read -r c1_med c1_min c1_max <<<"$(median_min_max %.0f "${one_core[@]}")"
read -r c2_med c2_min c2_max <<<"$(median_min_max %.0f "${two_cores[@]}")"

cat <<REPORT

Foundation benchmark: ${BS} B randread, QD ${QD}, ${T} s per run, median of ${RUNS} (min..max), IOPS
$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)

| measurement                         | median IOPS | min..max          |
|-------------------------------------|-------------|-------------------|
| bdevperf null, 1 core               | $nb_med | $nb_min..$nb_max |
| fio ioengine=null, 1 core           | $fn_med | $fn_min..$fn_max |
| bdevperf malloc (--prefill), 1 core | $mb_med | $mb_min..$mb_max |
| memcpy loop, random 4 KiB, 1 core   | $mc_med | $mc_min..$mc_max |
| bdevperf 2x null, 1 core (0x1)      | $c1_med | $c1_min..$c1_max |
| bdevperf 2x null, 2 cores (0x3)     | $c2_med | $c2_min..$c2_max |

Ratios: of the medians, and the median (min..max) of the per-run ratios (each run's
two sides ran back to back).
(a) null: $(awk -v i="$nb_med" 'BEGIN { printf "%.1f", 1e9 / i }') ns per I/O; bdevperf / fio null = $(ratio "$nb_med" "$fn_med"); per run $ra_med ($ra_min..$ra_max)  (target >= 5)
(b) malloc / memcpy = $(ratio "$mb_med" "$mc_med"); per run $rb_med ($rb_min..$rb_max)  (target >= 0.8)
(c) 2 cores / 1 core = $(ratio "$c2_med" "$c1_med"); per run $rc_med ($rc_min..$rc_max)  (target >= 1.8)
Measurements that started on a busy machine (after waiting ${QUIET_WAIT}s): $NOISY
REPORT

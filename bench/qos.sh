#!/usr/bin/env bash
# QoS benchmarks (issue 6): how close bdevperf gets to a bdev_set_qos_limit, and what a
# limit that is not reached costs. Prints every command, each run's figure, medians of
# RUNS runs with min and max, and the ratios:
#   (a) accuracy: a null bdev limited (config-file entry) to 1k, 10k, 100k, 500k IOPS
#       (4 KiB randread) and to 1024 MiB/s (128 KiB randread); QD 32; one job on one
#       core (-m 0x1) and two jobs on two cores sharing the bdev (-m 0x3 -C).
#       achieved / limit                                           target 0.97..1.03
#   (b) overhead: the same null bdev, 4 KiB randread QD 32, with a limit far above what
#       the machine can do (rw_ios_per_sec 10^9, so every I/O goes through the
#       admission stage) vs no limit, 1 and 2 cores, runs interleaved.
#       IOPS limited / IOPS unlimited                                target >= 0.95
#   (c) the same comparison in instructions per I/O, which do not depend on how busy
#       the machine is: valgrind --tool=callgrind over a 1 s and a 3 s run of each
#       (one core), (instructions(3 s) - instructions(1 s)) / (I/O(3 s) - I/O(1 s)), so
#       start-up and teardown cancel out. Skipped when valgrind is missing.
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (5), RUNS (3), BUILD_DIR (build-qos-rel), QUIET_WAIT
#              (120: seconds to wait before each measurement for the machine to go
#              idle; 0 = do not wait), LIMITS ("1000 10000 100000 500000"), MIBPS (1024).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-3}
LIMITS=${LIMITS:-"1000 10000 100000 500000"}
MIBPS=${MIBPS:-1024}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-qos-rel}
QD=32
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

. "$ROOT/bench/lib.sh"

release_build "$BUILD_DIR" bdevperf
BDEVPERF=$BUILD_DIR/tools/bdevperf/bdevperf

# config FILE [QOS_PARAMS]: a 1 GiB null bdev, limited when QOS_PARAMS is given.
config() {
  local entries='{"method":"bdev_null_create","params":{"name":"Null0","num_blocks":262144,"block_size":4096}}'
  [[ -n ${2:-} ]] && entries+=",{\"method\":\"bdev_set_qos_limit\",\"params\":{\"name\":\"Null0\",$2}}"
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$entries]}]}" >"$1"
}

# run_perf CONFIG SIZE MASK FIELD [flags]: one run; prints what its jobs did together in
# FIELD (iops or mibps): all they completed over the longest job's runtime (a sum of
# per-job rates, as bdevperf's Total row, over-counts a job that started late).
run_perf() {
  local cfg=$1 size=$2 mask=$3 field=$4; shift 4
  wait_quiet
  say "+ $BDEVPERF -c $cfg -q $QD -o $size -w randread -t $T -m $mask $* --output-json $WORK/r.json"
  "$BDEVPERF" -c "$cfg" -q "$QD" -o "$size" -w randread -t "$T" -m "$mask" "$@" \
    --output-json "$WORK/r.json" >"$WORK/r.out"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(sum(j[sys.argv[2]] * j['runtime'] for j in r) / max(j['runtime'] for j in r))" \
    "$WORK/r.json" "$field"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()

# ---- (a) accuracy ---------------------------------------------------------------------
accuracy() { # LABEL QOS_PARAMS LIMIT SIZE FIELD
  local label=$1 params=$2 limit=$3 size=$4 field=$5
  config "$WORK/limited.json" "$params"
  say "config: $(cat "$WORK/limited.json")"
  local cores mask flags
  for cores in 1 2; do
    if [[ $cores == 1 ]]; then mask=0x1; flags=(); else mask=0x3; flags=(-C); fi
    local ratios=() values=()
    for _ in $(seq "$RUNS"); do
      local v
      v=$(run_perf "$WORK/limited.json" "$size" "$mask" "$field" "${flags[@]}")
      values+=("$v")
      ratios+=("$(awk -v v="$v" -v l="$limit" 'BEGIN { printf "%.4f", v / l }')")
      say "  $label, $cores core(s): $v ($field), ratio ${ratios[-1]}"
    done
    read -r vm _ _ <<<"$(median_min_max %.0f "${values[@]}")"
    read -r rm rmin rmax <<<"$(median_min_max %.4f "${ratios[@]}")"
    ROWS+=("| $label | $cores | $vm | $rm ($rmin..$rmax) |")
  done
}
for l in $LIMITS; do
  accuracy "$l IOPS" "\"rw_ios_per_sec\":$l" "$l" 4096 iops
done
accuracy "$MIBPS MiB/s (128 KiB I/O)" "\"rw_mbytes_per_sec\":$MIBPS" "$MIBPS" 131072 mibps

# ---- (b) overhead of an unreached limit --------------------------------------------------
config "$WORK/none.json"
config "$WORK/high.json" '"rw_ios_per_sec":1000000000'
OVER=()
for cores in 1 2; do
  if [[ $cores == 1 ]]; then mask=0x1; flags=(); else mask=0x3; flags=(-C); fi
  none=() high=() pair=()
  for _ in $(seq "$RUNS"); do
    a=$(run_perf "$WORK/none.json" 4096 "$mask" iops "${flags[@]}")
    b=$(run_perf "$WORK/high.json" 4096 "$mask" iops "${flags[@]}")
    none+=("$a")
    high+=("$b")
    pair+=("$(ratio "$b" "$a")")
    say "  overhead, $cores core(s): no limit $a IOPS, unreached limit $b IOPS, ratio ${pair[-1]}"
  done
  read -r nm nmin nmax <<<"$(median_min_max %.0f "${none[@]}")"
  read -r hm hmin hmax <<<"$(median_min_max %.0f "${high[@]}")"
  read -r pm pmin pmax <<<"$(median_min_max %.2f "${pair[@]}")"
  OVER+=("| $cores | $nm ($nmin..$nmax) | $hm ($hmin..$hmax) | $(ratio "$hm" "$nm") | $pm ($pmin..$pmax) |")
done

# ---- (c) instructions per I/O (callgrind) -----------------------------------------------
CG=()
if command -v valgrind >/dev/null; then
  # cg_run CONFIG SECONDS: "instructions reads" of one run under callgrind.
  cg_run() {
    say "+ valgrind --tool=callgrind $BDEVPERF -c $1 -q $QD -o 4096 -w randread -t $2 -m 0x1"
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$BDEVPERF" -c "$1" -q "$QD" \
      -o 4096 -w randread -t "$2" -m 0x1 --output-json "$WORK/cg.json" >/dev/null 2>"$WORK/cg.err"
    local ir
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$WORK/cg.out")
    echo "$ir $(python3 -c "import json,sys; print(sum(j['ops']['read'] for j in json.load(open(sys.argv[1]))['results']))" "$WORK/cg.json")"
  }
  per_io() { # CONFIG: instructions per I/O in the steady state
    local a b
    a=$(cg_run "$1" 1)
    b=$(cg_run "$1" 3)
    echo "$a $b" | awk '{ printf "%.1f", ($3 - $1) / ($4 - $2) }'
  }
  cg_none=$(per_io "$WORK/none.json")
  cg_high=$(per_io "$WORK/high.json")
  say "  instructions per I/O: no limit $cg_none, unreached limit $cg_high"
  CG+=("| 1 | $cg_none | $cg_high | $(awk -v a="$cg_high" -v b="$cg_none" 'BEGIN { printf "%+.1f (%.3f)", a - b, a / b }') |")
else
  say "valgrind is missing: (c) skipped"
fi

# ---- Report ------------------------------------------------------------------------------
echo
echo "QoS, $(date -u +%FT%TZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), ${T} s per run, median of $RUNS (min..max), QD $QD, null bdev"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); measurements that started busy: $NOISY"
echo
echo "(a) accuracy: achieved / limit (target 0.97..1.03)"
echo
echo "| limit | cores (jobs) | achieved (median) | achieved / limit |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "(b) overhead of a limit that is not reached (rw_ios_per_sec 10^9), 4 KiB randread: target >= 0.95"
echo
echo "| cores (jobs) | no limit, IOPS | unreached limit, IOPS | ratio of medians | per-pair ratio |"
echo "|---|---|---|---|---|"
printf '%s\n' "${OVER[@]}"
if ((${#CG[@]} > 0)); then
  echo
  echo "(c) instructions per I/O (callgrind, steady state), 4 KiB randread QD $QD"
  echo
  echo "| cores | no limit | unreached limit | difference (ratio) |"
  echo "|---|---|---|---|"
  printf '%s\n' "${CG[@]}"
fi

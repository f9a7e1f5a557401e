#!/usr/bin/env bash
# Virtual bdev benchmarks (issue 6): what raid and split cost on top of the bdev they
# stand on, measured side by side in one run with bdevperf on null bdevs (so only the
# layer's and the module's own work is measured). Prints every command, medians of
# RUNS runs with min and max, and the ratios:
#   (a) raid0 over 2 null bdevs / one null bdev, IOPS on 1 core     target >= 0.9
#   (b) a split part of a null bdev / the null bdev, IOPS on 1 core  target >= 0.95
# Each is one job (one bdev) at 4 KiB randread QD 128, pinned to one core; the raid's
# strip (64 KiB) holds whole I/Os, as it does for any I/O not larger than the strip.
# A benchmark, not a test: it fails only if something cannot run.
#
# Then, with valgrind installed, the same three runs under callgrind: instructions per
# I/O of the reactor's polling (a count that does not depend on the machine's load,
# for comparing versions on a busy machine; not the IOPS targets themselves).
#
# Environment: SECONDS_PER_RUN (10), RUNS (3), CORE (0), BUILD_DIR (build-vbdev-rel),
#              BS (4096), QD (128), QUIET_WAIT (120: seconds to wait before each
#              measurement for the machine to go idle; 0 = do not wait),
#              INSTRUCTIONS (1: the callgrind counts; 0 = skip them).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
CORE=${CORE:-0}
BS=${BS:-4096}
QD=${QD:-128}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-vbdev-rel}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

. "$ROOT/bench/lib.sh"

# ---- Build (Release, same flags every time) ------------------------------------------
release_build "$BUILD_DIR" bdevperf
BDEVPERF=$BUILD_DIR/tools/bdevperf/bdevperf

NUM_BLOCKS=$((1024 * 1024 * 1024 / BS))  # 1 GiB null bdevs (null keeps no data)
null() { echo "{\"method\":\"bdev_null_create\",\"params\":{\"name\":\"$1\",\"num_blocks\":$NUM_BLOCKS,\"block_size\":$BS}}"; }
config() { # FILE ENTRY...
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*,{\"method\":\"bdev_wait_for_examine\"}]}]}" >"$file"
}
config "$WORK/null.json" "$(null Null0)"
config "$WORK/raid0.json" "$(null Null0)" "$(null Null1)" \
  '{"method":"bdev_raid_create","params":{"name":"Raid0","raid_level":"raid0","strip_size_kb":64,"base_bdevs":["Null0","Null1"]}}'
# Four parts; the job runs on one of them (-T), like the raid's one job.
config "$WORK/split.json" "$(null Null0)" \
  '{"method":"bdev_split_create","params":{"base_bdev":"Null0","split_count":4}}'
for f in null raid0 split; do say "config $f.json: $(cat "$WORK/$f.json")"; done
MASK=$(printf '0x%x' $((1 << CORE)))

bdevperf_iops() { # CONFIG [extra flags]
  local cfg=$1; shift
  local out
  say "+ $BDEVPERF -c $cfg -q $QD -o $BS -w randread -t $T -m $MASK $*"
  out=$("$BDEVPERF" -c "$cfg" -q "$QD" -o "$BS" -w randread -t "$T" -m "$MASK" "$@")
  echo "$out" >&2
  echo "$out" | awk '$1 == "Total" { print $3 }'
}

# Instructions per I/O: callgrind counts only inside the runtime threads' polls
# (ThreadImpl::Poll: the I/O path, bdevperf's own work, the pollers), divided by the
# I/Os the job completed (IOPS x runtime from its row of the table).
instructions_per_io() { # CONFIG [extra flags]
  local cfg=$1; shift
  local out collected
  say "+ valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*ThreadImpl::Poll*' $BDEVPERF -c $cfg -q $QD -o $BS -w randread -t 3 -m $MASK $*"
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
    --toggle-collect='*ThreadImpl::Poll*' "$BDEVPERF" -c "$cfg" -q "$QD" -o "$BS" -w randread \
    -t 3 -m "$MASK" "$@" 2>"$WORK/callgrind.err")
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/callgrind.err")
  echo "$out" | awk -v c="$collected" '$2 == ":" && $1 != "Total" { printf "%.0f", c / ($3 * $4); exit }'
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
declare -a null_a raid_a null_b split_b ratio_a ratio_b
# Each pair runs back to back, so a slow drift of a noisy machine hits both sides.
for ((i = 1; i <= RUNS; ++i)); do
  say "=== run $i of $RUNS"
  wait_quiet; null_a+=("$(bdevperf_iops "$WORK/null.json")")
  wait_quiet; raid_a+=("$(bdevperf_iops "$WORK/raid0.json")")
  wait_quiet; null_b+=("$(bdevperf_iops "$WORK/null.json")")
  wait_quiet; split_b+=("$(bdevperf_iops "$WORK/split.json" -T Null0p0)")
  ratio_a+=("$(ratio "${raid_a[-1]}" "${null_a[-1]}")")
  ratio_b+=("$(ratio "${split_b[-1]}" "${null_b[-1]}")")
done
read -r ra_med ra_min ra_max <<<"$(median_min_max %.2f "${ratio_a[@]}")"
read -r rb_med rb_min rb_max <<<"$(median_min_max %.2f "${ratio_b[@]}")"
read -r na_med na_min na_max <<<"$(median_min_max %.0f "${null_a[@]}")"
read -r r_med r_min r_max <<<"$(median_min_max %.0f "${raid_a[@]}")"
read -r nb_med nb_min nb_max <<<"$(median_min_max %.0f "${null_b[@]}")"
read -r s_med s_min s_max <<<"$(median_min_max %.0f "${split_b[@]}")"

cat <<REPORT

Virtual bdevs: ${BS} B randread, QD ${QD}, one job on core ${CORE}, ${T} s per run, median of ${RUNS} (min..max), IOPS
$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)

| measurement                                  | median IOPS | min..max          |
|----------------------------------------------|-------------|-------------------|
| null (paired with raid0)                     | $na_med | $na_min..$na_max |
| raid0 over 2 null, strip 64 KiB              | $r_med | $r_min..$r_max |
| null (paired with split)                     | $nb_med | $nb_min..$nb_max |
| split part (1 of 4) of a null bdev           | $s_med | $s_min..$s_max |

Ratios: of the medians, and the median (min..max) of the per-run ratios.
(a) raid0 / null = $(ratio "$r_med" "$na_med"); per run $ra_med ($ra_min..$ra_max)  (target >= 0.9)
(b) split / null = $(ratio "$s_med" "$nb_med"); per run $rb_med ($rb_min..$rb_max)  (target >= 0.95)
Measurements that started on a busy machine (after waiting ${QUIET_WAIT}s): $NOISY
REPORT

if [[ ${INSTRUCTIONS:-1} == 1 ]] && command -v valgrind >/dev/null; then
  i_null=$(instructions_per_io "$WORK/null.json")
  i_raid=$(instructions_per_io "$WORK/raid0.json")
  i_split=$(instructions_per_io "$WORK/split.json" -T Null0p0)
  cat <<REPORT

Instructions per I/O (callgrind, reactor polls only; lower is better):
null $i_null, raid0 $i_raid (+$((i_raid - i_null))), split $i_split (+$((i_split - i_null)));
null / raid0 = $(ratio "$i_null" "$i_raid"), null / split = $(ratio "$i_null" "$i_split")
REPORT
fi

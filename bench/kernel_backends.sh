#!/usr/bin/env bash
# Kernel backends (issue 4): the uring bdev against fio's io_uring engine and the aio
# bdev against fio's libaio engine, on the same device, in the same run.
#   4 KiB randread and randwrite, QD 1, 32, 128, one job, pinned to one core,
#   direct=1. Per cell: IOPS ratio (ours / fio, target >= 1.0) and CPU time per I/O
#   (user+sys of the whole process from wait4's rusage via /usr/bin/time, target
#   <= fio's). Medians of RUNS runs, min..max, runs interleaved ours/fio.
#   Kernel entries per I/O, when perf can count syscall tracepoints: the engine's own
#   calls (io_uring_enter; io_submit + io_getevents + io_pgetevents) and all system
#   calls, each divided by the I/Os done (a count: it does not depend on speed).
# Device: a loop device (losetup --direct-io=on) over a fully written file in
# /dev/shm, so the software shows rather than a disk; if no loop device can be set
# up, the /dev/shm file itself when O_DIRECT works there, else a file in /tmp. The
# script prints which.
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (10), RUNS (3), CORE (0), BUILD_DIR (build-kern-rel),
#              SIZE_MB (1024), QDS ("1 32 128"), WORKLOADS ("randread randwrite"),
#              ENGINES ("uring aio"), QUIET_WAIT (120 s to wait for an idle machine
#              before each measurement; 0 = do not wait), DEVICE (loop: the loop
#              device, falling back as above; shm: the /dev/shm file itself),
#              ENTERS (auto: count kernel entries when perf can; 0: do not),
#              BDEVPERF_FLAGS (extra bdevperf flags, e.g. --interrupt-mode: the reactor
#              sleeps while I/O is in the kernel and the completion's eventfd wakes it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
CORE=${CORE:-0}
SIZE_MB=${SIZE_MB:-1024}
QDS=${QDS:-"1 32 128"}
WORKLOADS=${WORKLOADS:-"randread randwrite"}
ENGINES=${ENGINES:-"uring aio"}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-kern-rel}
WORK=$(mktemp -d)
BACKING=/dev/shm/bdevkit-kernel-bench.img
LOOP=""
cleanup() {
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  rm -f "$BACKING"
  rm -rf "$WORK"
}
trap cleanup EXIT

. "$ROOT/bench/lib.sh"

# ---- Build (Release, same flags every time) ------------------------------------------
for tool in fio:fio /usr/bin/time:time; do
  command -v "${tool%%:*}" >/dev/null || { say "installing ${tool#*:}"; apt-get install -y "${tool#*:}" >/dev/null; }
done
release_build "$BUILD_DIR" bdevperf
BDEVPERF=$BUILD_DIR/tools/bdevperf/bdevperf

# ---- The device: written in full first ------------------------------------------------
say "writing ${SIZE_MB} MiB to $BACKING"
dd if=/dev/urandom of="$BACKING" bs=1M count="$SIZE_MB" status=none
LOOP=""
if [ "${DEVICE:-loop}" = shm ]; then
  echo "DEVICE=shm asked for the file itself" >"$WORK/losetup.err"
else
  LOOP=$(losetup --find --show --direct-io=on "$BACKING" 2>"$WORK/losetup.err") || LOOP=""
fi
if [ -n "$LOOP" ]; then
  DEV=$LOOP
  DEVICE_DESC="loop device $LOOP (losetup --direct-io=on) over a ${SIZE_MB} MiB file in /dev/shm (tmpfs)"
else
  say "no loop device: $(cat "$WORK/losetup.err")"
  if dd if="$BACKING" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
    DEV=$BACKING
    DEVICE_DESC="${SIZE_MB} MiB file in /dev/shm (tmpfs, O_DIRECT), no loop device ($(cat "$WORK/losetup.err"))"
  else
    DEV=/tmp/bdevkit-kernel-bench.img
    dd if=/dev/urandom of="$DEV" bs=1M count="$SIZE_MB" status=none
    rm -f "$BACKING"
    BACKING=$DEV
    DEVICE_DESC="${SIZE_MB} MiB file in /tmp ($(df --output=fstype /tmp | tail -1)); no loop device, no O_DIRECT on /dev/shm"
  fi
fi
say "device: $DEVICE_DESC"

# ---- Kernel entries: perf counting syscall tracepoints, when it can ----------------------
ENGINE_CALLS_uring=syscalls:sys_enter_io_uring_enter
ENGINE_CALLS_aio=syscalls:sys_enter_io_submit,syscalls:sys_enter_io_getevents,syscalls:sys_enter_io_pgetevents
COUNT_ENTERS=0
if [ "${ENTERS:-auto}" != 0 ] && command -v perf >/dev/null &&
   perf stat -x, -e "$ENGINE_CALLS_uring,$ENGINE_CALLS_aio,raw_syscalls:sys_enter" -- true >/dev/null 2>&1; then
  COUNT_ENTERS=1
  say "kernel entries counted with perf stat (syscall tracepoints)"
else
  say "kernel entries not counted (no perf, or it cannot count syscall tracepoints here)"
fi
# counted ENGINE CMD...: runs CMD, under perf stat when counting; leaves
# "ENGINE_CALLS ALL_SYSCALLS" in $WORK/enters (or "- -").
counted() {
  local engine=$1
  shift
  if ((COUNT_ENTERS)); then
    local ev=ENGINE_CALLS_$engine
    perf stat -x, -o "$WORK/perf" -e "${!ev},raw_syscalls:sys_enter" -- "$@" || return 1
    awk -F, '$3 ~ /^syscalls:/ { e += $1 } $3 == "raw_syscalls:sys_enter" { a += $1 }
             END { print e + 0, a + 0 }' "$WORK/perf" >"$WORK/enters"
  else
    "$@" || return 1
    echo "- -" >"$WORK/enters"
  fi
}
# per_io COUNT IOS: COUNT / IOS with two decimals, or "-".
per_io() { if [ "$1" = - ]; then echo -; else awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", c / n }'; fi; }

config() { # ENGINE FILE
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_$1_create\",\"params\":{\"name\":\"K0\",\"filename\":\"$DEV\",\"block_size\":4096}}]}]}" >"$2"
}
for e in $ENGINES; do
  config "$e" "$WORK/$e.json"
  say "config $e.json: $(cat "$WORK/$e.json")"
done
MASK=$(printf '0x%x' $((1 << CORE)))

# Each measurement prints "IOPS CPU_NS_PER_IO ENGINE_CALLS_PER_IO SYSCALLS_PER_IO".
bdevperf_run() { # ENGINE WORKLOAD QD
  local cmd=(taskset -c "$CORE" "$BDEVPERF" -c "$WORK/$1.json" -q "$3" -o 4096 -w "$2" -t "$T" -m "$MASK")
  # shellcheck disable=SC2206 # flags split on spaces on purpose
  [ -n "${BDEVPERF_FLAGS:-}" ] && cmd+=($BDEVPERF_FLAGS)
  say "+ /usr/bin/time -f '%U %S' ${cmd[*]}"
  counted "$1" /usr/bin/time -f '%U %S' -o "$WORK/time" "${cmd[@]}" >"$WORK/out" 2>"$WORK/err" ||
    { cat "$WORK/out" "$WORK/err" >&2; return 1; }
  local iops runtime ios e a
  iops=$(awk '$1 == "Total" { print $3 }' "$WORK/out")
  runtime=$(awk '$1 == "K0" && $2 == ":" { print $3 }' "$WORK/out")
  read -r u s <"$WORK/time"
  read -r e a <"$WORK/enters"
  ios=$(awk -v i="$iops" -v r="$runtime" 'BEGIN { printf "%.0f", i * r }')
  awk -v i="$iops" -v n="$ios" -v u="$u" -v s="$s" 'BEGIN { printf "%.0f %.0f", i, (u + s) * 1e9 / n }'
  echo " $(per_io "$e" "$ios") $(per_io "$a" "$ios")"
}
fio_run() { # ENGINE WORKLOAD QD
  local engine=io_uring
  [ "$1" = aio ] && engine=libaio
  local cmd=(taskset -c "$CORE" fio --name=k --filename="$DEV" --ioengine=$engine --direct=1
             --rw="$2" --bs=4096 --iodepth="$3" --numjobs=1 --runtime="$T" --time_based
             --output-format=json)
  say "+ /usr/bin/time -f '%U %S' ${cmd[*]}"
  counted "$1" /usr/bin/time -f '%U %S' -o "$WORK/time" "${cmd[@]}" >"$WORK/fio.json"
  read -r u s <"$WORK/time"
  read -r e a <"$WORK/enters"
  local side=read
  [ "$2" = randwrite ] && side=write
  read -r iops cpu ios < <(python3 - "$WORK/fio.json" "$side" "$u" "$s" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
cpu = float(sys.argv[3]) + float(sys.argv[4])
print("%.0f %.0f %d" % (job["iops"], cpu * 1e9 / job["total_ios"], job["total_ios"]))
PY
)
  echo "$iops $cpu $(per_io "$e" "$ios") $(per_io "$a" "$ios")"
}


LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
ROWS=""
for e in $ENGINES; do
  for w in $WORKLOADS; do
    for q in $QDS; do
      ours_iops=() ours_cpu=() fio_iops=() fio_cpu=() r_iops=() r_cpu=()
      ours_e=() ours_a=() fio_e=() fio_a=()
      for ((i = 1; i <= RUNS; ++i)); do
        say "=== $e $w QD $q, run $i of $RUNS"
        wait_quiet; read -r a b oe oa <<<"$(bdevperf_run "$e" "$w" "$q")"
        wait_quiet; read -r c d fe fa <<<"$(fio_run "$e" "$w" "$q")"
        ours_iops+=("$a") ours_cpu+=("$b") fio_iops+=("$c") fio_cpu+=("$d")
        ours_e+=("$oe") ours_a+=("$oa") fio_e+=("$fe") fio_a+=("$fa")
        r_iops+=("$(ratio "$a" "$c")") r_cpu+=("$(ratio "$b" "$d")")
        say "    ours $a IOPS, $b ns CPU/IO, $oe engine calls/IO, $oa syscalls/IO;" \
            "fio $c IOPS, $d ns CPU/IO, $fe engine calls/IO, $fa syscalls/IO"
      done
      read -r oi oi_min oi_max <<<"$(median_min_max %s "${ours_iops[@]}")"
      read -r fi fi_min fi_max <<<"$(median_min_max %s "${fio_iops[@]}")"
      read -r oc _ _ <<<"$(median_min_max %s "${ours_cpu[@]}")"
      read -r fc _ _ <<<"$(median_min_max %s "${fio_cpu[@]}")"
      read -r ri ri_min ri_max <<<"$(median_min_max %s "${r_iops[@]}")"
      read -r rc rc_min rc_max <<<"$(median_min_max %s "${r_cpu[@]}")"
      if ((COUNT_ENTERS)); then
        read -r oe _ _ <<<"$(median_min_max %.2f "${ours_e[@]}")"
        read -r oa _ _ <<<"$(median_min_max %.2f "${ours_a[@]}")"
        read -r fe _ _ <<<"$(median_min_max %.2f "${fio_e[@]}")"
        read -r fa _ _ <<<"$(median_min_max %.2f "${fio_a[@]}")"
      else
        oe=- oa=- fe=- fa=-
      fi
      ROWS+="| $e | $w | $q | $oi ($oi_min..$oi_max) | $fi ($fi_min..$fi_max) | **$ri** ($ri_min..$ri_max) | $oc | $fc | **$rc** ($rc_min..$rc_max) | $oe / $oa | $fe / $fa |"$'\n'
    done
  done
done

cat <<REPORT

Kernel backends: 4 KiB, 1 job on core $CORE, ${T} s per run, median of ${RUNS} (min..max)
$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), Linux $(uname -r)
device: $DEVICE_DESC
load before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); measurements started on a busy machine: $NOISY

| bdev | workload | QD | bdevperf IOPS | fio IOPS | IOPS ratio (>= 1.0) | bdevperf CPU ns/IO | fio CPU ns/IO | CPU ratio (<= 1.0) | bdevperf engine calls / syscalls per IO | fio engine calls / syscalls per IO |
|---|---|---|---|---|---|---|---|---|---|---|
$ROWS
Ratios are medians of the per-run ratios (each run's two sides ran back to back).
fio engine: io_uring for the uring bdev, libaio for the aio bdev; --direct=1.
Engine calls: io_uring_enter (uring), io_submit + io_getevents + io_pgetevents (aio);
syscalls: every system call of the process, per I/O (medians; "-" = not counted).
REPORT

#!/usr/bin/env bash
# Ceph RBD (issue 10): the rbd bdev (bdevperf) against fio's own rbd ioengine (Debian's
# fio is linked with librbd), on the same image of a throwaway loopback cluster
# (tests/ceph/cluster.sh: one monitor, one memstore OSD, on this machine), in the same
# run. 4 KiB randwrite and randread at QD 1, 16, 64, one job; librbd's cache on (its
# default) and off (rbd_cache=false, which keeps the writeback cache from inflating
# low-depth writes). With the cache on, both run with `rbd cache writethrough until
# flush = false`: librbd's default keeps the cache writethrough until the client's
# first flush; bdevperf's write workloads send none, while fio's engine got the
# writeback cache anyway (measured: QD 1 cached randwrite, ours ~2.7K IOPS as if
# uncached, fio ~12.5K), so without it the two would not measure the same cache. Per cell: IOPS of each and the ratio ours / fio (target >= 1.0),
# medians of RUNS runs (min..max), runs interleaved ours/fio.
# Both clients read the same config file (the cluster's, plus the cache setting and
# the rbd module's default timeouts, so both run with them), and both connect as
# client.admin. The image is written in full first, so reads find data.
# A benchmark, not a test: it fails only if something cannot run.
#
# Environment: SECONDS_PER_RUN (5), RUNS (3), QDS ("1 16 64"), WORKLOADS ("randwrite
#              randread"), CACHES ("on off"), IMAGE_MB (256), BUILD_DIR (build-rbd-rel),
#              QUIET_WAIT (s to wait for an idle machine before each measurement; the
#              cluster itself keeps a little load, so the default here is 30),
#              BDEVPERF_FLAGS (extra bdevperf flags, e.g. --interrupt-mode),
#              BUILD (1: (re)build bdevperf in BUILD_DIR first; 0: use it as it is, when
#              it is built elsewhere, e.g. by a wrapper that serializes builds).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-3}
QDS=${QDS:-"1 16 64"}
WORKLOADS=${WORKLOADS:-"randwrite randread"}
CACHES=${CACHES:-"on off"}
IMAGE_MB=${IMAGE_MB:-256}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-rbd-rel}
QUIET_WAIT=${QUIET_WAIT:-30}
WORK=$(mktemp -d /tmp/bdevkit-rbd-bench-XXXXXX)
CLUSTER=$WORK/cluster
CLUSTER_SH=$ROOT/tests/ceph/cluster.sh
cleanup() {
  "$CLUSTER_SH" stop "$CLUSTER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

. "$ROOT/bench/lib.sh"

# ---- Build, cluster, image -------------------------------------------------------------
command -v fio >/dev/null || { say "fio is not installed (scripts/install-deps.sh)"; exit 1; }
fio --enghelp=rbd >/dev/null 2>&1 || { say "this fio has no rbd ioengine"; exit 1; }
[ "${BUILD:-1}" = 0 ] || release_build "$BUILD_DIR" bdevperf
BDEVPERF=$BUILD_DIR/tools/bdevperf/bdevperf
[ -x "$BDEVPERF" ] || { say "no bdevperf in $BUILD_DIR"; exit 1; }

show_run "$CLUSTER_SH" start "$CLUSTER" >/dev/null
show_run "$CLUSTER_SH" rbd "$CLUSTER" create --size "$IMAGE_MB" rbd/bench
say "writing the ${IMAGE_MB} MiB image in full"
"$CLUSTER_SH" rbd "$CLUSTER" bench --io-type write --io-pattern seq --io-size 4M \
  --io-threads 4 --io-total "${IMAGE_MB}M" rbd/bench >/dev/null

# One config file per cache setting: the cluster's, plus the client settings both
# tools then share.
for c in $CACHES; do
  cp "$CLUSTER/ceph.conf" "$WORK/ceph-$c.conf"
  cache=true
  [ "$c" = off ] && cache=false
  cat >>"$WORK/ceph-$c.conf" <<EOF
rbd cache = $cache
rbd cache writethrough until flush = false
client mount timeout = 10
rados mon op timeout = 10
rados osd op timeout = 30
EOF
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[
    {\"method\":\"bdev_rbd_register_cluster\",\"params\":{\"name\":\"bench\",\"config_file\":\"$WORK/ceph-$c.conf\"}},
    {\"method\":\"bdev_rbd_create\",\"params\":{\"name\":\"Ceph0\",\"pool_name\":\"rbd\",\"rbd_name\":\"bench\",\"block_size\":4096,\"cluster_name\":\"bench\"}}]}]}" \
    >"$WORK/bdev-$c.json"
done

# Each run prints its IOPS.
bdevperf_run() { # CACHE WORKLOAD QD
  local cmd=("$BDEVPERF" -c "$WORK/bdev-$1.json" -q "$3" -o 4096 -w "$2" -t "$T" -m 0x1)
  # shellcheck disable=SC2206 # flags split on spaces on purpose
  [ -n "${BDEVPERF_FLAGS:-}" ] && cmd+=($BDEVPERF_FLAGS)
  say "+ ${cmd[*]}"
  "${cmd[@]}" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; return 1; }
  awk '$1 == "Total" { print $3 }' "$WORK/out"
}
fio_run() { # CACHE WORKLOAD QD
  local cmd=(fio --name=rbd --ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench
             --rw="$2" --bs=4096 --iodepth="$3" --numjobs=1 --runtime="$T" --time_based
             --output-format=json)
  say "+ CEPH_CONF=$WORK/ceph-$1.conf ${cmd[*]}"
  CEPH_CONF=$WORK/ceph-$1.conf "${cmd[@]}" >"$WORK/fio.json" 2>"$WORK/fio.err" ||
    { cat "$WORK/fio.err" >&2; return 1; }
  local side=read
  [ "$2" = randwrite ] && side=write
  python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]["iops"])' \
    "$WORK/fio.json" "$side"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $LOAD_BEFORE"
ROWS=""
for c in $CACHES; do
  for w in $WORKLOADS; do
    for q in $QDS; do
      ours=() theirs=() r=()
      for ((i = 1; i <= RUNS; ++i)); do
        say "=== cache $c, $w QD $q, run $i of $RUNS"
        wait_quiet; a=$(bdevperf_run "$c" "$w" "$q")
        wait_quiet; b=$(fio_run "$c" "$w" "$q")
        ours+=("$a") theirs+=("$b") r+=("$(ratio "$a" "$b")")
        say "    ours $a IOPS, fio $b IOPS"
      done
      read -r oi oi_min oi_max <<<"$(median_min_max %s "${ours[@]}")"
      read -r fi fi_min fi_max <<<"$(median_min_max %s "${theirs[@]}")"
      read -r ri ri_min ri_max <<<"$(median_min_max %s "${r[@]}")"
      ROWS+="| $c | $w | $q | $oi ($oi_min..$oi_max) | $fi ($fi_min..$fi_max) | **$ri** ($ri_min..$ri_max) |"$'\n'
    done
  done
done

cat <<REPORT

Ceph RBD: rbd bdev (bdevperf, 1 reactor on core 0${BDEVPERF_FLAGS:+, $BDEVPERF_FLAGS}) vs fio's rbd ioengine,
4 KiB, 1 job, ${T} s per run, median of ${RUNS} (min..max); image of ${IMAGE_MB} MiB, written in full,
on a loopback cluster (1 mon, 1 memstore OSD) on this machine
$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), Linux $(uname -r),
$(fio --version), librbd $(dpkg-query -W -f='${Version}' librbd1 2>/dev/null)
load average before: $LOAD_BEFORE, after: $(cut -d" " -f1-3 /proc/loadavg); measurements started on a busy machine: $NOISY of $((RUNS * 2 * $(wc -w <<<"$QDS") * $(wc -w <<<"$WORKLOADS") * $(wc -w <<<"$CACHES")))

| librbd cache | workload | QD | ours IOPS | fio IOPS | ours / fio |
|---|---|---|---|---|---|
$ROWS
REPORT

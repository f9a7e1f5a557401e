#!/usr/bin/env bash
# The rbd bdev through the real tools against a throwaway loopback Ceph cluster
# (cluster.sh), one cluster per run in its own directory under CLUSTER_BASE, always
# stopped on exit (kept on failure for its logs).
# Usage: rbd_test.sh BDEVD BDEVCTL BDEVPERF PATTERN_CHECK CLUSTER_TEST CLUSTER_BASE CASE
# CASE: verify library resize delete cluster_down save_config bad_input cephx
# Exit 77 = skipped (no Ceph daemons installed), except in CI (CI=true): then a cluster
# that cannot start fails the test.
set -u
BDEVD=$1
BDEVCTL=$2
BDEVPERF=$3
PATTERN_CHECK=$4
CLUSTER_TEST=$5
CLUSTER_BASE=$6
CASE=$7
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER_SH=$HERE/cluster.sh
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh"

CLUSTER=$CLUSTER_BASE/$CASE.$$
CONF=
stop_cluster() {
  [[ -d $CLUSTER ]] || return 0
  "$CLUSTER_SH" stop "$CLUSTER"
  if [[ $FAILED == 0 ]]; then rm -rf "$CLUSTER"; else echo "cluster kept in $CLUSTER" >&2; fi
}
LIB_CLEANUP_HOOK=stop_cluster

# start_cluster [--cephx]: the cluster, or exit 77 (skipped) where Ceph is missing.
start_cluster() {
  if ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
    if [[ ${CI:-} == true ]]; then
      echo "FAIL: ceph-mon/ceph-osd are not installed (scripts/install-deps.sh)" >&2
      exit 1
    fi
    echo "SKIP: ceph-mon/ceph-osd are not installed (scripts/install-deps.sh)"
    exit 77
  fi
  mkdir -p "$CLUSTER_BASE"
  CONF=$("$CLUSTER_SH" start "$CLUSTER" "$@") || { FAILED=1; echo "FAIL: the cluster did not start" >&2; exit 1; }
}
cl_rbd() { "$CLUSTER_SH" rbd "$CLUSTER" "$@"; }
image() { cl_rbd create --size "$2" "rbd/$1" || { fail "rbd create $1"; exit 1; }; }

# Short timeouts, so the tests of a dead cluster end in seconds.
TIMEOUTS='"rados_osd_op_timeout":"5","rados_mon_op_timeout":"5","client_mount_timeout":"5"'
register() { # NAME: the JSON params of bdev_rbd_register_cluster over $CONF
  echo "{\"name\":\"$1\",\"config_file\":\"$CONF\",\"config_param\":{$TIMEOUTS}}"
}
rbd_create() { # IMAGE [NAME] [CLUSTER]
  local name=""
  [[ -n ${2:-} ]] && name="\"name\":\"$2\","
  echo "{$name\"pool_name\":\"rbd\",\"rbd_name\":\"$1\",\"block_size\":4096,\"cluster_name\":\"${3:-c1}\"}"
}

perf() { # NAME ARGS...: bdevperf, output in $TMP/NAME.{out,err,rc}
  local name=$1; shift
  timeout 120 "$BDEVPERF" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
# expect_clean_run NAME BDEV WORKLOAD: exit 0, the bdev's row with IOPS > 0 and no failures.
expect_clean_run() {
  local name=$1 b=$2 w=$3
  [[ $(rc "$name") == 0 ]] || { fail "$name: exit $(rc "$name")"; show "$name"; return; }
  grep -qE "^Job: $b \(Core Mask 0x[0-9a-f]+, workload: $w," "$TMP/$name.out" ||
    { fail "$name: no Job line for $b"; show "$name"; return; }
  local iops fails
  iops=$(awk -v b="$b" '$1 == b && $2 == ":" { print $4 }' "$TMP/$name.out")
  fails=$(awk -v b="$b" '$1 == b && $2 == ":" { print $6 }' "$TMP/$name.out")
  awk -v v="$iops" 'BEGIN { exit !(v > 0) }' || fail "$name: $b IOPS is '$iops'"
  [[ $fails == 0.00 ]] || { fail "$name: $b Fail/s is '$fails'"; show "$name"; }
}
# expect_image_holds IMAGE SEED MIN_BLOCKS: the image, as the rbd CLI reads it, holds
# what one bdevperf verify run with SEED wrote (vm_pattern_check, byte for byte).
expect_image_holds() {
  cl_rbd export "rbd/$1" "$TMP/$1.export" >/dev/null 2>&1 || { fail "rbd export $1"; return; }
  "$PATTERN_CHECK" --block-size 4096 --seed "$2" --min-blocks "$3" "$TMP/$1.export" \
    >"$TMP/check_$1.out" 2>&1 || { fail "$1: not what bdevperf wrote"; cat "$TMP/check_$1.out" >&2; }
  rm -f "$TMP/$1.export"
}
# perf_bg NAME JSON: perform_tests in the background (bdevperf -z on $SOCK).
perf_bg() {
  (timeout 120 "$BDEVCTL" -s "$SOCK" -t 120 call perform_tests "$2" >"$TMP/$1.out" 2>"$TMP/$1.err"
   echo $? >"$TMP/$1.rc") &
  PERF_PID=$!
}
no_sanitizer_reports() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|BdevIo still in use|I/O outstanding|I/O in librbd' \
       "$TMP/daemon.log"; then
    fail "sanitizer or leak report in the daemon's log"
    grep -E -A20 'Sanitizer|runtime error|still in use|outstanding|in librbd' "$TMP/daemon.log" | head -60 >&2
  fi
}

case $CASE in
verify)
  # Every I/O type through bdevperf from a config file; the data verify wrote is in
  # the image as the rbd CLI reads it.
  start_cluster
  image img0 64
  config "$TMP/c.json" "$(entry bdev_rbd_register_cluster "$(register c1)")" \
    "$(entry bdev_rbd_create "$(rbd_create img0)")"
  perf verify -c "$TMP/c.json" -q 32 -o 4k -w verify -t 3 --seed 11
  expect_clean_run verify Ceph0 verify
  expect_image_holds img0 11 64
  perf randrw -c "$TMP/c.json" -q 16 -o 4k -w randrw -M 50 -t 1
  expect_clean_run randrw Ceph0 randrw
  for w in write_zeroes unmap flush; do
    perf "$w" -c "$TMP/c.json" -q 16 -o 4k -w "$w" -t 1
    expect_clean_run "$w" Ceph0 "$w"
  done
  # reset: I/O submitted while a reset freezes the bdev fails by design; the run
  # itself must end well, with resets and I/O done.
  perf reset -c "$TMP/c.json" -q 16 -o 4k -w reset -t 3 --output-json "$TMP/reset.json"
  [[ $(rc reset) == 0 ]] || { fail "reset: exit $(rc reset)"; show reset; }
  grep -q "Ceph0" "$TMP/reset.out" || { fail "reset: no row"; show reset; }
  ;;
library)
  # The GoogleTest suite against the cluster (tests/unit/modules/rbd/rbd_cluster_test.cc).
  start_cluster
  image gtest 16
  RBD_TEST_CONF=$CONF timeout 240 "$CLUSTER_TEST" >"$TMP/gtest.out" 2>&1
  r=$?
  if [[ $r != 0 ]] || grep -q "SKIPPED" "$TMP/gtest.out" || ! grep -q "PASSED.* 4 tests" "$TMP/gtest.out"; then
    fail "rbd_cluster_test: exit $r"
    cat "$TMP/gtest.out" >&2
  fi
  ;;
resize)
  # Grown under I/O: bdev_get_bdevs and the image show the new size, the run is clean.
  start_cluster
  image img0 32
  config "$TMP/c.json" "$(entry bdev_rbd_register_cluster "$(register c1)")" \
    "$(entry bdev_rbd_create "$(rbd_create img0)")"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 16 -o 4k -w randwrite -t 4
  call before bdev_get_bdevs '{"name":"Ceph0"}'
  pyjson before 'd[0]["num_blocks"] == 8192 and d[0]["block_size"] == 4096' || { fail "size before"; show before; }
  perf_bg run '{}'
  wait_for_io "before the resize"
  call grow bdev_rbd_resize '{"name":"Ceph0","new_size":48}'
  expect_ok grow
  pyjson grow 'd is True' || { fail "grow: not true"; show grow; }
  call after bdev_get_bdevs '{"name":"Ceph0"}'
  pyjson after 'd[0]["num_blocks"] == 12288' || { fail "size after"; show after; }
  call shrink bdev_rbd_resize '{"name":"Ceph0","new_size":40}'
  expect_ctl_err shrink 'error -32602: "new_size": 40 MiB is smaller than the bdev.s current size \(50331648 bytes\); shrinking is not supported'
  call same bdev_rbd_resize '{"name":"Ceph0","new_size":48}'
  expect_ok same
  wait "$PERF_PID"
  expect_ok run
  pyjson run 'all(j["io_failed"] == 0 and j["status"] == "finished" for j in d["results"])' ||
    { fail "run during the resize"; show run; }
  cl_rbd info rbd/img0 >"$TMP/info.out" 2>&1
  grep -q "size 48 MiB" "$TMP/info.out" || { fail "the image did not grow"; cat "$TMP/info.out" >&2; }
  expect_no_bdevio_in_use "after the run"
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
delete)
  # Default names, delete, a cluster in use, unregister, a clean shutdown.
  start_cluster
  image img0 16
  image img1 16
  start_daemon
  call reg bdev_rbd_register_cluster "$(register c1)"
  expect_ok reg
  [[ $(cat "$TMP/reg.out") == c1 ]] || { fail "register: not c1"; show reg; }
  call c0 bdev_rbd_create "$(rbd_create img0)"
  call c1 bdev_rbd_create "$(rbd_create img1)"
  [[ $(cat "$TMP/c0.out") == Ceph0 && $(cat "$TMP/c1.out") == Ceph1 ]] ||
    { fail "default names"; show c0; show c1; }
  call info bdev_get_bdevs '{"name":"Ceph1"}'
  pyjson info 'd[0]["product_name"] == "Ceph Rbd Disk" and d[0]["driver_specific"] == {"rbd": {"pool_name": "rbd", "rbd_name": "img1", "cluster_name": "c1"}} and all(d[0]["supported_io_types"][t] for t in ["read","write","unmap","write_zeroes","flush","reset"])' ||
    { fail "bdev_get_bdevs"; show info; }
  call unreg bdev_rbd_unregister_cluster '{"name":"c1"}'
  expect_ctl_err unreg 'cluster "c1" is used by bdev\(s\) Ceph0, Ceph1; delete them first'
  call d0 bdev_rbd_delete '{"name":"Ceph0"}'
  expect_ok d0
  call gone bdev_get_bdevs '{"name":"Ceph0"}'
  expect_ctl_err gone 'error -19'
  call d0again bdev_rbd_delete '{"name":"Ceph0"}'
  expect_ctl_err d0again 'error -19: no bdev named "Ceph0"'
  # The name is free again and the next default is the first free one.
  call c2 bdev_rbd_create "$(rbd_create img0)"
  [[ $(cat "$TMP/c2.out") == Ceph2 ]] || { fail "next default name"; show c2; }
  for b in Ceph1 Ceph2; do call "del_$b" bdev_rbd_delete "{\"name\":\"$b\"}"; expect_ok "del_$b"; done
  call unreg2 bdev_rbd_unregister_cluster '{"name":"c1"}'
  expect_ok unreg2
  call clusters bdev_rbd_get_clusters_info '{}'
  pyjson clusters 'd == []' || { fail "clusters left"; show clusters; }
  # The images stay in the cluster.
  [[ $(cl_rbd ls rbd | sort | tr '\n' ' ') == "img0 img1 " ]] || fail "images after delete: $(cl_rbd ls rbd)"
  # Shut down with an rbd bdev open: exit 0, nothing left.
  call reg2 bdev_rbd_register_cluster "$(register c1)"
  call c3 bdev_rbd_create "$(rbd_create img0 R)"
  expect_ok c3
  stop_daemon
  no_sanitizer_reports
  ;;
cluster_down)
  # The cluster stops under I/O: I/O fails with errors within the timeouts (5 s),
  # nothing hangs, the daemon answers, no BdevIo is left taken.
  start_cluster
  image img0 32
  config "$TMP/c.json" "$(entry bdev_rbd_register_cluster "$(register c1)")" \
    "$(entry bdev_rbd_create "$(rbd_create img0)")"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 16 -o 4k -w randwrite -t 60
  perf_bg run '{}'
  wait_for_io "before the cluster stops"
  "$CLUSTER_SH" stop "$CLUSTER"
  stopped_at=$SECONDS
  # Answered while I/O hangs in librbd.
  ctl during -t 10 bdev_get_bdevs -b Ceph0
  expect_ok during
  wait "$PERF_PID"
  [[ $(rc run) != 124 ]] || fail "perform_tests did not answer"
  # bdevperf ends a job at its first failed I/O (no -f) and says which.
  expect_ctl_err run 'job Ceph0 failed: (write|read) at LBA 0x[0-9a-f]+ failed: Connection timed out'
  echo "cluster_down: perform_tests answered $((SECONDS - stopped_at)) s after the stop"
  alive || fail "bdevperf died"
  expect_no_bdevio_in_use "after the cluster stopped"
  # New bdevs on the dead cluster fail within the timeouts; none is left behind.
  t0=$SECONDS
  call c1 bdev_rbd_create "$(rbd_create img0 Late)"
  expect_ctl_err c1 'error -110'
  echo "cluster_down: create failed in $((SECONDS - t0)) s"
  call late bdev_get_bdevs '{"name":"Late"}'
  expect_ctl_err late 'error -19'
  call again perform_tests '{"time_in_sec":1}'
  expect_ctl_err again 'job Ceph0 failed: .* failed: Connection timed out'
  expect_no_bdevio_in_use "after the second run"
  # Delete answers too (closing waits for librbd's timeouts, on the worker).
  t0=$SECONDS
  call del bdev_rbd_delete '{"name":"Ceph0"}'
  expect_ok del
  echo "cluster_down: delete answered in $((SECONDS - t0)) s"
  expect_no_bdevio_in_use "after the delete"
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
save_config)
  # Clusters and bdevs (shared and own connection, resized) saved, reloaded by bdevperf
  # (its data checked in the image) and by a restarted bdevd: identical.
  start_cluster
  image img0 32
  image img1 16
  mon_host=$(awk -F' = ' '$1 == "mon host" { print $2 }' "$CONF")
  start_daemon
  call reg bdev_rbd_register_cluster "$(register c1)"
  expect_ok reg
  call c0 bdev_rbd_create "$(rbd_create img0)"
  expect_ok c0
  call c1 bdev_rbd_create "{\"name\":\"Own\",\"pool_name\":\"rbd\",\"rbd_name\":\"img1\",\"block_size\":512,\"user_id\":\"admin\",\"config\":{\"mon_host\":\"$mon_host\",$TIMEOUTS},\"uuid\":\"8f0e5b1a-3c2d-4e5f-9a6b-7c8d9e0f1a2b\"}"
  expect_ok c1
  call grow bdev_rbd_resize '{"name":"Ceph0","new_size":40}'
  expect_ok grow
  ctl save1 save_config
  expect_ok save1
  call bdevs1 bdev_get_bdevs '{}'
  call clusters1 bdev_rbd_get_clusters_info '{}'
  stop_daemon
  python3 - "$TMP/save1.out" <<'EOF' || fail "saved config: rbd entries"
import json, sys
c = json.load(open(sys.argv[1]))["subsystems"][0]["config"]
methods = [e["method"] for e in c]
reg = methods.index("bdev_rbd_register_cluster")
creates = [e["params"] for e in c if e["method"] == "bdev_rbd_create"]
assert all(reg < i for i, m in enumerate(methods) if m == "bdev_rbd_create"), methods
assert sorted(p["name"] for p in creates) == ["Ceph0", "Own"], creates
own = [p for p in creates if p["name"] == "Own"][0]
assert own["uuid"] == "8f0e5b1a-3c2d-4e5f-9a6b-7c8d9e0f1a2b" and own["user_id"] == "admin", own
assert own["block_size"] == 512 and "mon_host" in own["config"], own
EOF
  # bdevperf from the saved config writes through both bdevs.
  perf verify -c "$TMP/save1.out" -q 16 -o 4k -w verify -t 2 --seed 21 -T Ceph0
  expect_clean_run verify Ceph0 verify
  expect_image_holds img0 21 16
  start_daemon --json "$TMP/save1.out"
  call bdevs2 bdev_get_bdevs '{}'
  call clusters2 bdev_rbd_get_clusters_info '{}'
  ctl save2 save_config
  cmp -s "$TMP/bdevs1.out" "$TMP/bdevs2.out" || { fail "bdevs differ after the reload"; diff "$TMP/bdevs1.out" "$TMP/bdevs2.out" >&2; }
  cmp -s "$TMP/clusters1.out" "$TMP/clusters2.out" || { fail "clusters differ"; diff "$TMP/clusters1.out" "$TMP/clusters2.out" >&2; }
  cmp -s "$TMP/save1.out" "$TMP/save2.out" || { fail "save_config differs"; diff "$TMP/save1.out" "$TMP/save2.out" >&2; }
  pyjson bdevs2 '[b["num_blocks"] for b in d if b["name"] == "Ceph0"] == [10240]' || { fail "resized size not kept"; show bdevs2; }
  stop_daemon
  no_sanitizer_reports
  ;;
bad_input)
  # Each refused with an error naming what was wrong; nothing half-created.
  start_cluster
  image img0 16
  image tiny 1
  start_daemon
  call reg bdev_rbd_register_cluster "$(register c1)"
  expect_ok reg
  call ok bdev_rbd_create "$(rbd_create img0 Good)"
  expect_ok ok
  call dupreg bdev_rbd_register_cluster "$(register c1)"
  expect_ctl_err dupreg 'error -17: "name": a cluster named "c1" is already registered'
  call nofile bdev_rbd_register_cluster '{"name":"c2","config_file":"/nonexistent/ceph.conf"}'
  expect_ctl_err nofile 'error -2: "config_file": /nonexistent/ceph.conf: No such file or directory'
  call badopt bdev_rbd_register_cluster "{\"name\":\"c2\",\"config_file\":\"$CONF\",\"config_param\":{\"no_such_option\":\"1\"}}"
  expect_ctl_err badopt '"config_param": unknown Ceph option "no_such_option"'
  call badval bdev_rbd_register_cluster "{\"name\":\"c2\",\"config_file\":\"$CONF\",\"config_param\":{\"rados_osd_op_timeout\":5}}"
  expect_ctl_err badval 'error -32602: "config_param": option "rados_osd_op_timeout" must be a string'
  call nomon bdev_rbd_register_cluster '{"name":"c2","config_param":{"mon_host":"v2:127.0.0.1:1","client_mount_timeout":"2"}}'
  expect_ctl_err nomon 'error -110: cannot connect to the Ceph cluster "c2"'
  call nopool bdev_rbd_create '{"pool_name":"nopool","rbd_name":"img0","block_size":4096,"cluster_name":"c1"}'
  expect_ctl_err nopool 'error -2: "pool_name": pool "nopool": No such file or directory'
  call noimg bdev_rbd_create '{"pool_name":"rbd","rbd_name":"nope","block_size":4096,"cluster_name":"c1"}'
  expect_ctl_err noimg 'error -2: "rbd_name": image "nope" in pool "rbd": No such file or directory'
  call nocl bdev_rbd_create '{"pool_name":"rbd","rbd_name":"img0","block_size":4096,"cluster_name":"c9"}'
  expect_ctl_err nocl 'error -19: "cluster_name": no cluster named "c9" is registered'
  for bs in 1000 256 0; do
    call "bs$bs" bdev_rbd_create "{\"pool_name\":\"rbd\",\"rbd_name\":\"img0\",\"block_size\":$bs,\"cluster_name\":\"c1\"}"
    expect_ctl_err "bs$bs" "error -32602: \"block_size\": $bs is not a power of two >= 512"
  done
  call bigbs bdev_rbd_create '{"pool_name":"rbd","rbd_name":"tiny","block_size":2097152,"cluster_name":"c1"}'
  expect_ctl_err bigbs '"block_size": the image "tiny" \(1048576 bytes\) is smaller than one block'
  call dup bdev_rbd_create "$(rbd_create img0 Good)"
  expect_ctl_err dup 'error -17: "name": a bdev named "Good" already exists'
  call both bdev_rbd_create '{"pool_name":"rbd","rbd_name":"img0","block_size":4096,"cluster_name":"c1","user_id":"admin"}'
  expect_ctl_err both 'error -32602: "cluster_name" cannot be combined'
  call nopoolname bdev_rbd_create '{"rbd_name":"img0","block_size":4096,"cluster_name":"c1"}'
  expect_ctl_err nopoolname 'error -32602: .*pool_name'
  call shrink bdev_rbd_resize '{"name":"Good","new_size":8}'
  expect_ctl_err shrink 'error -32602: "new_size": 8 MiB is smaller'
  call resz bdev_rbd_resize '{"name":"Nope","new_size":64}'
  expect_ctl_err resz 'error -19: no bdev named "Nope"'
  call infox bdev_rbd_get_clusters_info '{"name":"c9"}'
  expect_ctl_err infox 'error -19: no cluster named "c9"'
  # Nothing half-created: one cluster, one rbd bdev, and the image untouched in size.
  call clusters bdev_rbd_get_clusters_info '{}'
  pyjson clusters '[c["cluster_name"] for c in d] == ["c1"]' || { fail "clusters"; show clusters; }
  call bdevs bdev_get_bdevs '{}'
  pyjson bdevs '[b["name"] for b in d] == ["Good"] and d[0]["num_blocks"] == 4096' || { fail "bdevs"; show bdevs; }
  alive || fail "bdevd died"
  stop_daemon
  no_sanitizer_reports
  ;;
cephx)
  # cephx: a cluster registered with its monitor address and a keyring file only (no
  # config file); I/O through it; without the key the connection is refused.
  start_cluster --cephx
  image img0 16
  mon_host=$(awk -F' = ' '$1 == "mon host" { print $2 }' "$CONF")
  reg="{\"name\":\"cx\",\"user_id\":\"admin\",\"key_file\":\"$CLUSTER/client.admin.keyring\",\"config_param\":{\"mon_host\":\"$mon_host\",$TIMEOUTS}}"
  config "$TMP/c.json" "$(entry bdev_rbd_register_cluster "$reg")" \
    "$(entry bdev_rbd_create "$(rbd_create img0 X0 cx)")"
  perf verify -c "$TMP/c.json" -q 16 -o 4k -w verify -t 2 --seed 5
  expect_clean_run verify X0 verify
  expect_image_holds img0 5 16
  start_daemon
  call nokey bdev_rbd_register_cluster "{\"name\":\"nk\",\"config_param\":{\"mon_host\":\"$mon_host\",\"keyring\":\"/dev/null\",$TIMEOUTS}}"
  expect_ctl_err nokey 'cannot connect to the Ceph cluster "nk"'
  call clusters bdev_rbd_get_clusters_info '{}'
  pyjson clusters 'd == []' || { fail "a refused cluster was kept"; show clusters; }
  call reg bdev_rbd_register_cluster "$reg"
  expect_ok reg
  call info bdev_rbd_get_clusters_info '{"name":"cx"}'
  pyjson info 'd["user_id"] == "admin" and d["key_file"].endswith("client.admin.keyring") and "mon_host" in d["config_param"]' ||
    { fail "clusters_info"; show info; }
  stop_daemon
  no_sanitizer_reports
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

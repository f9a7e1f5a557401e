#!/usr/bin/env bash
# The example XOR module (examples/xor_vbdev), built as a plugin, loaded into the real
# bdevd with --load-module and driven by the real bdevctl.
# Usage: xor_plugin_test.sh BDEVD BDEVCTL PLUGIN CASE
#   data:   XOR bdevs over aio files under a raid1 with a superblock: the superblock
#           the raid writes through them is on disk XOR-ed with the key (and nowhere in
#           plain text); a fresh bdevd given the saved config without the raid reads it
#           back through the XOR bdevs and reassembles the raid by examine; without
#           the plugin, the raw files hold no superblock the raid can find.
#   errors: bad plugin paths stop bdevd with a message naming them; bad parameters,
#           duplicates, unknown names; a XOR bdev declared before its base, gone with
#           it and back with it; delete releases the claim.
set -u
BDEVD=$1
BDEVCTL=$2
PLUGIN=$3
CASE=$4
TMP=$(mktemp -d /tmp/bdevkit_xor.XXXXXX)
SOCK=$TMP/rpc.sock
PID=
FAILED=0

fail() { echo "FAIL: $*" >&2; FAILED=1; }
cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

start_daemon() {
  "$BDEVD" -r "$SOCK" "$@" >"$TMP/bdevd.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    "$BDEVCTL" -s "$SOCK" -t 5 spdk_get_version >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: bdevd did not start" >&2; cat "$TMP/bdevd.log" >&2
  exit 1
}
stop_daemon() {
  kill -TERM "$PID"
  local rc=0
  wait "$PID" || rc=$?
  PID=
  [[ $rc == 0 ]] || { fail "bdevd exited $rc on SIGTERM"; cat "$TMP/bdevd.log" >&2; }
}
# call NAME METHOD [JSON]: bdevctl raw mode; output in $TMP/NAME.out, exit code in .rc
call() {
  local name=$1; shift
  timeout 60 "$BDEVCTL" -s "$SOCK" call "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
show() { echo "--- $1: exit $(cat "$TMP/$1.rc")"; cat "$TMP/$1.out" "$TMP/$1.err"; }
expect_ok() { [[ $(cat "$TMP/$1.rc") == 0 ]] || { fail "$1 failed"; show "$1"; }; }
# expect_err NAME PATTERN: the call failed with a message matching PATTERN.
expect_err() {
  [[ $(cat "$TMP/$1.rc") != 0 ]] || { fail "$1 succeeded, expected an error"; show "$1"; return; }
  grep -qE "$2" "$TMP/$1.err" "$TMP/$1.out" || { fail "$1: no error matching '$2'"; show "$1"; }
}
# jq-like checks in python: check NAME EXPR (EXPR sees `r`, the parsed output)
check() {
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" \
    "$TMP/$1.out" || { fail "$1: expected $2"; show "$1"; }
}

make_files() {
  for f in f0 f1; do truncate -s 8M "$TMP/$f"; done
}
aio() { call "aio_$1" bdev_aio_create "{\"name\":\"$1\",\"filename\":\"$TMP/$2\",\"block_size\":512}"; expect_ok "aio_$1"; }

case $CASE in
data)
  make_files
  start_daemon --load-module "$PLUGIN"
  call methods rpc_get_methods
  check methods "'bdev_xor_create' in r and 'bdev_xor_delete' in r"
  aio A0 f0
  aio A1 f1
  call x0 bdev_xor_create '{"name":"X0","base_bdev":"A0","key":90}'
  expect_ok x0
  [[ $(cat "$TMP/x0.out") == X0 ]] || { fail "bdev_xor_create did not return the name"; show x0; }
  call x1 bdev_xor_create '{"name":"X1","base_bdev":"A1"}'  # default key 0x5A = 90
  expect_ok x1
  call get_x0 bdev_get_bdevs '{"name":"X0"}'
  check get_x0 "r[0]['product_name'] == 'XOR Disk' and r[0]['driver_specific']['xor'] == {'base_bdev': 'A0', 'key': 90} and r[0]['num_blocks'] == 16384"
  call get_a0 bdev_get_bdevs '{"name":"A0"}'
  check get_a0 "r[0]['claimed'] is True"
  # Writes through the XOR bdevs: the raid's superblock.
  call raid bdev_raid_create '{"name":"R0","raid_level":"raid1","base_bdevs":["X0","X1"],"superblock":true}'
  expect_ok raid
  timeout 60 "$BDEVCTL" -s "$SOCK" save_config >"$TMP/save.out" 2>"$TMP/save.err"
  echo $? >"$TMP/save.rc"
  expect_ok save
  check save "any(e['method'] == 'bdev_xor_create' and e['params']['name'] == 'X0' and e['params']['key'] == 90 and len(e['params']['uuid']) == 36 for s in r['subsystems'] for e in (s['config'] or []))"
  call uuid_x0 bdev_get_bdevs '{"name":"X0"}'
  stop_daemon

  # On disk: the superblock's magic XOR-ed with the key, never in plain text.
  python3 - "$TMP/f0" "$TMP/f1" <<'PY' || fail "the base files do not hold the XOR-ed superblock"
import sys
magic = b"BDKRAIDS"
for path in sys.argv[1:]:
    data = open(path, "rb").read(1 << 20)
    assert data[:8] == bytes(b ^ 0x5A for b in magic), (path, data[:8])
    assert magic not in data, path
PY

  # A fresh bdevd with the saved config minus the raid: examine reads the superblocks
  # through the XOR bdevs and reassembles R0.
  python3 - "$TMP/save.out" "$TMP/no_raid.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
for s in cfg["subsystems"]:
    if s["config"]:
        s["config"] = [e for e in s["config"] if not e["method"].startswith("bdev_raid")]
json.dump(cfg, open(sys.argv[2], "w"))
PY
  start_daemon --load-module "$PLUGIN" --json "$TMP/no_raid.json"
  call raids bdev_raid_get_bdevs '{"category":"all"}'
  check raids "[b['name'] for b in r] == ['R0'] and r[0]['state'] == 'online'"
  call uuid_again bdev_get_bdevs '{"name":"X0"}'
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a[0]['uuid'] != b[0]['uuid'])" \
    "$TMP/uuid_x0.out" "$TMP/uuid_again.out" || fail "X0's UUID changed across the saved config"
  stop_daemon

  # Without the plugin, the raw files show no superblock: no raid appears.
  python3 - "$TMP/no_raid.json" "$TMP/aio_only.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
for s in cfg["subsystems"]:
    if s["config"]:
        s["config"] = [e for e in s["config"] if not e["method"].startswith("bdev_xor")]
json.dump(cfg, open(sys.argv[2], "w"))
PY
  start_daemon --json "$TMP/aio_only.json"
  call raids_raw bdev_raid_get_bdevs '{"category":"all"}'
  check raids_raw "r == []"
  call no_method bdev_xor_create '{"name":"X0","base_bdev":"A0"}'
  expect_err no_method "Method not found|-32601"
  stop_daemon
  ;;
errors)
  "$BDEVD" -r "$SOCK" --load-module "$TMP/missing.so" >"$TMP/missing.log" 2>&1
  rc=$?
  [[ $rc == 1 ]] || fail "bdevd with a missing plugin exited $rc"
  grep -q "bdevd: module plugin \"$TMP/missing.so\"" "$TMP/missing.log" || { fail "no message naming the missing plugin"; cat "$TMP/missing.log"; }
  echo "not a library" >"$TMP/junk.so"
  "$BDEVD" -r "$SOCK" --load-module "$TMP/junk.so" >"$TMP/junk.log" 2>&1
  rc=$?
  [[ $rc == 1 ]] || fail "bdevd with a junk plugin exited $rc"
  grep -q "module plugin \"$TMP/junk.so\"" "$TMP/junk.log" || { fail "no message naming the junk plugin"; cat "$TMP/junk.log"; }
  [[ ! -e $SOCK ]] || fail "bdevd left a socket after refusing to start"

  make_files
  start_daemon --load-module "$PLUGIN" --load-module "$PLUGIN"  # twice: loaded once
  call bad_key bdev_xor_create '{"name":"X0","base_bdev":"A0","key":256}'
  expect_err bad_key '"key": 256 is not a byte'
  call no_base bdev_xor_create '{"name":"X0"}'
  expect_err no_base 'base_bdev'
  call unknown bdev_xor_create '{"name":"X0","base_bdev":"A0","colour":"red"}'
  expect_err unknown 'colour'
  # Declared before its base: appears when the base does.
  call early bdev_xor_create '{"name":"X0","base_bdev":"A0"}'
  expect_ok early
  call none bdev_get_bdevs '{"name":"X0"}'
  expect_err none 'No such device|-19'
  aio A0 f0
  call wait bdev_wait_for_examine
  call there bdev_get_bdevs '{"name":"X0"}'
  expect_ok there
  call dup bdev_xor_create '{"name":"X0","base_bdev":"A0"}'
  expect_err dup 'exists|-17'
  # The base claimed: a second XOR bdev over it is refused, naming the base.
  call claimed bdev_xor_create '{"name":"X9","base_bdev":"A0"}'
  expect_err claimed 'A0'
  call gone_x9 bdev_get_bdevs '{"name":"X9"}'
  expect_err gone_x9 'No such device|-19'
  # Gone with its base, back with it.
  call del_a0 bdev_aio_delete '{"name":"A0"}'
  expect_ok del_a0
  call gone bdev_get_bdevs '{"name":"X0"}'
  expect_err gone 'No such device|-19'
  aio A0 f0
  call wait2 bdev_wait_for_examine
  call back bdev_get_bdevs '{"name":"X0"}'
  expect_ok back
  # Delete releases the claim; deleting again names the bdev.
  call del bdev_xor_delete '{"name":"X0"}'
  expect_ok del
  call a0 bdev_get_bdevs '{"name":"A0"}'
  check a0 "r[0]['claimed'] is False"
  call del_again bdev_xor_delete '{"name":"X0"}'
  expect_err del_again 'no XOR bdev named "X0"'
  stop_daemon
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
[[ $FAILED == 0 ]] && echo "xor_plugin $CASE: OK"
exit $FAILED

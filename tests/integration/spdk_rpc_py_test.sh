#!/usr/bin/env bash
# SPDK's own scripts/rpc.py against a real bdevd: every method bdevkit implements, in
# rpc.py's command-line forms, plus save_config/load_config and the --wait-for-rpc
# start-up. rpc.py is not part of bdevkit (nor in Debian): point SPDK_RPC_PY at an SPDK
# checkout's scripts/rpc.py (its python/ folder beside it). Without it the test says so
# and is skipped (exit 77).
# Usage: spdk_rpc_py_test.sh BDEVD
set -u
BDEVD=$1
if [[ -z ${SPDK_RPC_PY:-} || ! -f ${SPDK_RPC_PY:-} ]]; then
  echo "SKIPPED: set SPDK_RPC_PY=/path/to/spdk/scripts/rpc.py to run SPDK's rpc.py against bdevd" >&2
  exit 77
fi
# lib.sh for $TMP, $SOCK, fail and the clean-up of bdevd; the daemon is started and
# stopped here with rpc.py itself (there is no bdevctl in this test).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$(dirname "$SPDK_RPC_PY")/../python${PYTHONPATH:+:$PYTHONPATH}"
rpc() { timeout 60 python3 "$SPDK_RPC_PY" -s "$SOCK" "$@"; }
# ok NAME ARGS...: rpc.py must exit 0; its stdout is kept in $TMP/NAME.out.
ok() {
  local name=$1; shift
  rpc "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || { fail "rpc.py $*: exit $?"; cat "$TMP/$name.err" >&2; }
}
# err NAME CODE ARGS...: rpc.py must fail with JSON-RPC error CODE.
err() {
  local name=$1 code=$2; shift 2
  rpc "$@" >"$TMP/$name.out" 2>&1 && { fail "rpc.py $*: succeeded"; return; }
  grep -q "\"code\": $code" "$TMP/$name.out" || { fail "rpc.py $*: not error $code"; cat "$TMP/$name.out" >&2; }
}
check() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$TMP/$1.out" || { fail "$1: $2"; cat "$TMP/$1.out" >&2; }; }
start() {
  "$BDEVD" -r "$SOCK" "$@" >"$TMP/bdevd.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    [[ -S $SOCK ]] && rpc spdk_get_version >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  fail "bdevd did not start"; cat "$TMP/bdevd.log" >&2; exit 1
}
stop() {
  ok kill spdk_kill_instance SIGTERM
  wait "$PID" || fail "bdevd exit $? after spdk_kill_instance"
  PID=
}

truncate -s 64M "$TMP/aio.img" "$TMP/uring.img"
start
ok version spdk_get_version
check version 'd["version"].startswith("bdevkit") and list(d)==["version","fields"]'
ok methods rpc_get_methods
check methods '"bdev_malloc_create" in d and "framework_start_init" in d'
ok subsystems framework_get_subsystems
check subsystems 'd[0]["subsystem"]=="bdev"'
ok waitinit framework_wait_init
ok malloc bdev_malloc_create -b Malloc0 32 4096
ok null bdev_null_create Null0 16 512
ok aio bdev_aio_create "$TMP/aio.img" Aio0 4096
ok uring bdev_uring_create "$TMP/uring.img" Uring0 4096
ok get bdev_get_bdevs -b Malloc0
check get 'list(d[0])[:5]==["name","aliases","product_name","block_size","num_blocks"] and d[0]["num_blocks"]==8192'
ok all bdev_get_bdevs
check all '[b["name"] for b in d]==["Malloc0","Null0","Aio0","Uring0"]'
err nobdev -19 bdev_get_bdevs -b Nope
ok iostat bdev_get_iostat
check iostat 'len(d["bdevs"])==4 and "tick_rate" in d'
ok iostat_ch bdev_get_iostat -c --names Malloc0
ok iostat_reset bdev_get_iostat --reset-mode error
ok rescan bdev_aio_rescan Aio0
ok examine bdev_examine -b Null0
ok wfe bdev_wait_for_examine
ok qos bdev_set_qos_limit --rw-ios-per-sec 20000 Malloc0
ok qget bdev_get_bdevs -b Malloc0
check qget 'd[0]["assigned_rate_limits"]["rw_ios_per_sec"]==20000'
ok flag log_set_flag bdev
ok flags log_get_flags
check flags 'd["bdev"] is True'
ok clear log_clear_flag bdev
ok config framework_get_config bdev
ok save save_config
check save 'd["subsystems"][0]["config"][0]["method"]=="bdev_set_options"'
ok before bdev_get_bdevs
for b in Malloc0; do ok del bdev_malloc_delete $b; done
ok deln bdev_null_delete Null0
ok dela bdev_aio_delete Aio0
ok delu bdev_uring_delete Uring0
rpc load_config <"$TMP/save.out" >"$TMP/load.out" 2>&1 || { fail "rpc.py load_config"; cat "$TMP/load.out" >&2; }
ok after bdev_get_bdevs
cmp -s "$TMP/before.out" "$TMP/after.out" || { fail "bdevs differ after rpc.py load_config"; diff "$TMP/before.out" "$TMP/after.out" >&2; }
stop

# --wait-for-rpc: options first, then framework_start_init.
start --wait-for-rpc
err early -1 bdev_malloc_create -b M0 8 512
ok opts bdev_set_options -p 8192 -c 64 --no-auto-examine
ok init framework_start_init
ok waitinit2 framework_wait_init
err late -1 bdev_set_options -p 4096
ok save2 save_config
check save2 'd["subsystems"][0]["config"][0]["params"]["bdev_io_pool_size"]==8192 and d["subsystems"][0]["config"][0]["params"]["bdev_auto_examine"] is False'
stop

# load_config into a daemon still in start-up: rpc.py replays the options, calls
# framework_start_init, then the rest.
start --wait-for-rpc
rpc load_config <"$TMP/save.out" >"$TMP/load2.out" 2>&1 || { fail "rpc.py load_config in start-up"; cat "$TMP/load2.out" >&2; }
ok after2 bdev_get_bdevs
cmp -s "$TMP/before.out" "$TMP/after2.out" || { fail "bdevs differ after start-up load_config"; diff "$TMP/before.out" "$TMP/after2.out" >&2; }
stop
exit $FAILED

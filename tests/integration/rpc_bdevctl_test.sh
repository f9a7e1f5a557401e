#!/usr/bin/env bash
# Drives a real bdevd through the real bdevctl: the SPDK positional forms, output and
# exit codes, help, raw mode, save_config/load_config, the config round trip through
# `bdevd --json`, and bdevd's own flags and start-up errors.
# Usage: rpc_bdevctl_test.sh BDEVD BDEVCTL CASE
#   CASE: create_and_query, errors_and_help, round_trip, daemon_flags, startup_state
set -u
BDEVD=$1
BDEVCTL=$2
CASE=$3
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# stop_clean: stop_daemon, and bdevd must have removed its socket and lock file.
stop_clean() {
  stop_daemon
  [[ ! -e $SOCK ]] || fail "socket left behind"
  [[ ! -e $SOCK.lock ]] || fail "lock file left behind"
}
out() { cat "$TMP/$1.out"; }
# expect_ctl_err_no_stdout NAME PATTERN: bdevctl's error exit and line (expect_ctl_err),
# and nothing on stdout: an error must not also print a result.
expect_ctl_err_no_stdout() {
  expect_ctl_err "$1" "$2" && { [[ ! -s $TMP/$1.out ]] || { fail "$1: printed to stdout"; show "$1"; }; }
}

# restart_from_save WHAT: the daemon's save_config output ($TMP/save.out) becomes
# $TMP/config.json; bdevd is stopped and started again from it and must have the same
# bdevs ($TMP/before.out) and save the same config again (else WHAT fails).
restart_from_save() {
  cp "$TMP/save.out" "$TMP/config.json"
  stop_clean
  start_daemon --json "$TMP/config.json"
  ctl after bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after.out" || { fail "bdevs differ after the round trip"; diff "$TMP/before.out" "$TMP/after.out" >&2; }
  ctl save2 save_config
  cmp -s "$TMP/save.out" "$TMP/save2.out" || { fail "$1"; diff "$TMP/save.out" "$TMP/save2.out" >&2; }
}

case $CASE in
create_and_query)
  start_daemon
  ctl m bdev_malloc_create -b Malloc0 32 4096
  expect_ok m
  [[ $(out m) == Malloc0 ]] || { fail "malloc create printed '$(out m)'"; show m; }
  ctl n bdev_null_create Null0 16 512
  expect_ok n
  [[ $(out n) == Null0 ]] || fail "null create printed '$(out n)'"
  ctl named bdev_malloc_create --name Malloc1 --num-blocks 100 --block_size 512 --uuid 0e8f2b3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c
  expect_ok named
  ctl get bdev_get_bdevs -b Malloc0
  expect_ok get
  pyjson get 'd[0]["name"]=="Malloc0" and d[0]["num_blocks"]==8192 and d[0]["block_size"]==4096' ||
    { fail "bdev_get_bdevs -b Malloc0"; show get; }
  grep -q '^  {$' "$TMP/get.out" || fail "output is not pretty-printed"
  ctl get_null bdev_get_bdevs -b Null0
  pyjson get_null 'd[0]["num_blocks"]==32768 and d[0]["product_name"]=="Null disk"' || { fail "null size"; show get_null; }
  ctl by_uuid bdev_get_bdevs -b 0E8F2B3C-1D2E-4F5A-8B6C-7D8E9F0A1B2C
  pyjson by_uuid 'd[0]["name"]=="Malloc1"' || { fail "lookup by (upper-case) UUID"; show by_uuid; }
  ctl all bdev_get_bdevs
  pyjson all '[b["name"] for b in d]==["Malloc0","Null0","Malloc1"]' || { fail "bdev_get_bdevs order"; show all; }
  ctl iostat bdev_get_iostat -b Malloc0
  pyjson iostat 'd["bdevs"][0]["name"]=="Malloc0" and "tick_rate" in d' || { fail "iostat"; show iostat; }
  ctl raw call bdev_get_bdevs '{"name": "Null0"}'
  pyjson raw 'd[0]["name"]=="Null0"' || { fail "raw mode"; show raw; }
  ctl flag log_set_flag malloc
  [[ $(out flag) == true ]] || fail "log_set_flag printed '$(out flag)'"
  ctl flags log_get_flags
  pyjson flags 'd["malloc"] is True and d["bdev"] is False' || { fail "log_get_flags"; show flags; }
  ctl del bdev_malloc_delete Malloc0
  [[ $(out del) == true ]] || { fail "delete printed '$(out del)'"; show del; }
  ctl gone bdev_get_bdevs -b Malloc0
  expect_ctl_err_no_stdout gone 'error -19'
  ctl wait bdev_wait_for_examine
  expect_ok wait
  stop_clean
  ;;
errors_and_help)
  start_daemon
  ctl unknown bdev_get_bdevs -b Nope
  expect_ctl_err_no_stdout unknown 'bdev_get_bdevs: error -19: .*Nope'
  ctl nomethod bdev_frobnicate
  expect_ctl_err_no_stdout nomethod 'error -32601'
  ctl badparam bdev_malloc_create --colour red --num_blocks 8 --block_size 512
  expect_ctl_err_no_stdout badparam 'unknown parameter.*colour|colour.*unknown'
  ctl badtype bdev_malloc_create -b M 8 abc
  expect_ctl_err_no_stdout badtype 'block_size|BLOCK_SIZE'
  ctl badbs bdev_malloc_create -b M 8 1000
  expect_ctl_err_no_stdout badbs 'error -32602: .*block_size'
  ctl dup1 bdev_null_create Dup 1 512
  ctl dup2 bdev_null_create Dup 1 512
  expect_ctl_err_no_stdout dup2 'error -17'
  ctl rawbad call bdev_get_bdevs '{not json'
  expect_ctl_err_no_stdout rawbad 'not JSON'
  ctl help bdev_malloc_create --help
  expect_ok help
  for p in block_size num_blocks uuid optimal_io_boundary required 'SIZE_MB'; do
    grep -q -- "$p" "$TMP/help.out" || { fail "help lacks $p"; show help; }
  done
  ctl usage --help
  expect_ok usage
  grep -q bdev_get_iostat "$TMP/usage.out" || fail "--help does not list methods"
  stop_clean
  timeout 30 "$BDEVCTL" -s "$SOCK" spdk_get_version >"$TMP/nod.out" 2>"$TMP/nod.err"
  echo $? >"$TMP/nod.rc"
  expect_ctl_err_no_stdout nod 'cannot connect'
  ;;
round_trip)
  # Bdevs made over RPC -> save_config -> a fresh bdevd --json -> the same bdevs.
  start_daemon
  ctl m0 bdev_malloc_create -b Malloc0 16 512
  ctl m1 bdev_malloc_create --name Malloc1 --num_blocks 2048 --block_size 4096 --optimal_io_boundary 8
  ctl n0 bdev_null_create Null0 64 4096
  for n in m0 m1 n0; do expect_ok $n; done
  ctl before bdev_get_bdevs
  ctl save save_config
  expect_ok save
  # The layer's options first; modules' own *_set_options entries are not checked here.
  pyjson save '[e["method"] for e in d["subsystems"][0]["config"] if e["method"]=="bdev_set_options" or not e["method"].endswith("_set_options")]==["bdev_set_options","bdev_malloc_create","bdev_malloc_create","bdev_null_create","bdev_wait_for_examine"] and d["subsystems"][0]["config"][0]["method"]=="bdev_set_options"' ||
    { fail "save_config order"; show save; }
  restart_from_save "save_config not stable"
  # load_config into an emptied daemon gives the same bdevs again.
  for b in Malloc0 Malloc1; do ctl d bdev_malloc_delete $b; done
  ctl d bdev_null_delete Null0
  ctl load load_config "$TMP/config.json"
  expect_ok load
  ctl after2 bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after2.out" || { fail "bdevs differ after load_config"; diff "$TMP/before.out" "$TMP/after2.out" >&2; }
  ctl again load_config "$TMP/config.json"
  expect_ctl_err_no_stdout again 'bdev_malloc_create.*error -17'
  stop_clean
  ;;
daemon_flags)
  "$BDEVD" --help >"$TMP/h.out" 2>&1 || fail "--help exit"
  grep -q -- '--json-ignore-init-errors' "$TMP/h.out" || fail "--help lacks --json-ignore-init-errors"
  "$BDEVD" --version | grep -qE '^bdevd \(bdevkit\) [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
  "$BDEVD" --bogus >"$TMP/b.out" 2>&1 && fail "--bogus accepted"
  grep -q '^bdevd: unknown option --bogus' "$TMP/b.out" || { fail "--bogus message"; cat "$TMP/b.out"; }
  "$BDEVD" -m 0xz >"$TMP/m.out" 2>&1 && fail "-m 0xz accepted"
  grep -q '^bdevd: invalid core mask' "$TMP/m.out" || { fail "-m message"; cat "$TMP/m.out"; }
  # A failing config entry stops start-up, naming the entry; nothing is left behind.
  cat >"$TMP/bad.json" <<'JSON'
{"subsystems":[{"subsystem":"bdev","config":[
  {"method":"bdev_malloc_create","params":{"name":"Good","num_blocks":64,"block_size":512}},
  {"method":"bdev_malloc_create","params":{"name":"Bad","num_blocks":64,"block_size":1000}}]}]}
JSON
  timeout 60 "$BDEVD" -r "$SOCK" --json "$TMP/bad.json" >"$TMP/bad.out" 2>&1
  rc=$?
  [[ $rc == 1 ]] || fail "bad config: exit $rc"
  grep -q '^bdevd: .*config entry 1 (bdev_malloc_create).*block_size' "$TMP/bad.out" || { fail "bad config message"; cat "$TMP/bad.out"; }
  [[ ! -e $SOCK && ! -e $SOCK.lock ]] || fail "socket or lock left after a failed start"
  timeout 60 "$BDEVD" -r "$SOCK" --json "$TMP/missing.json" >"$TMP/miss.out" 2>&1 && fail "missing config accepted"
  grep -q 'missing.json.*No such file' "$TMP/miss.out" || { fail "missing config message"; cat "$TMP/miss.out"; }
  # ... unless told to go on.
  start_daemon --json "$TMP/bad.json" --json-ignore-init-errors
  ctl good bdev_get_bdevs
  pyjson good '[b["name"] for b in d]==["Good"]' || { fail "--json-ignore-init-errors"; show good; }
  # -L turns a debug flag on.
  stop_clean
  start_daemon -L rpc --rpc-mode 0660
  ctl lf log_get_flags
  pyjson lf 'd["rpc"] is True' || { fail "-L rpc"; show lf; }
  [[ $(stat -c %a "$SOCK") == 660 ]] || fail "--rpc-mode 0660 gave $(stat -c %a "$SOCK")"
  # spdk_kill_instance shuts down cleanly.
  ctl kill spdk_kill_instance SIGINT
  [[ $(out kill) == true ]] || { fail "spdk_kill_instance printed '$(out kill)'"; show kill; }
  rc=0
  wait "$PID" || rc=$?
  PID=
  [[ $rc == 0 ]] || fail "bdevd exit $rc after spdk_kill_instance"
  [[ ! -e $SOCK && ! -e $SOCK.lock ]] || fail "socket or lock left after spdk_kill_instance"
  ;;
startup_state)
  # SPDK's start-up state: bdevd --wait-for-rpc takes options until framework_start_init.
  start_daemon --wait-for-rpc
  grep -q 'waiting for framework_start_init' "$TMP/daemon.log" || { fail "no start-up notice"; cat "$TMP/daemon.log" >&2; }
  ctl early bdev_malloc_create -b M0 8 512
  expect_ctl_err_no_stdout early 'error -1: bdev_malloc_create may only be called after framework_start_init'
  ctl cur rpc_get_methods --current true
  pyjson cur '"bdev_set_options" in d and "framework_start_init" in d and "bdev_malloc_create" not in d' ||
    { fail "rpc_get_methods --current in start-up"; show cur; }
  ctl badopt bdev_set_options --bdev_io_pool_size 10
  expect_ctl_err_no_stdout badopt 'error -32602: .*bdev_io_pool_size'
  ctl opt bdev_set_options --bdev_io_pool_size 8192 --bdev_io_cache_size 64 --bdev_auto_examine true
  expect_ok opt
  # framework_wait_init answers only once start-up is over.
  timeout 60 "$BDEVCTL" -s "$SOCK" framework_wait_init >"$TMP/waitinit.out" 2>&1 &
  WAITER=$!
  sleep 0.5
  kill -0 $WAITER 2>/dev/null || fail "framework_wait_init answered before framework_start_init"
  ctl init framework_start_init
  expect_ok init
  wait $WAITER || fail "framework_wait_init failed"
  [[ $(cat "$TMP/waitinit.out") == true ]] || fail "framework_wait_init printed '$(cat "$TMP/waitinit.out")'"
  ctl again framework_start_init
  expect_ctl_err_no_stdout again 'error -1'
  ctl late bdev_set_options --bdev_io_pool_size 8192
  expect_ctl_err_no_stdout late 'error -1: bdev_set_options may only be called during start-up'
  ctl m bdev_malloc_create -b M0 8 512
  expect_ok m
  ctl before bdev_get_bdevs
  ctl save save_config
  pyjson save 'd["subsystems"][0]["config"][0]=={"method":"bdev_set_options","params":{"bdev_io_pool_size":8192,"bdev_io_cache_size":64,"bdev_auto_examine":True,"iobuf_small_cache_size":128,"iobuf_large_cache_size":16}}' ||
    { fail "save_config does not start with the options set"; show save; }
  # The saved config (options first) starts a daemon with the same options and bdevs.
  restart_from_save "options not kept"
  # load_config into a running daemon skips the start-up entry and does the rest.
  ctl d bdev_malloc_delete M0
  ctl load load_config "$TMP/config.json"
  expect_ok load
  ctl after2 bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after2.out" || { fail "load_config at runtime"; diff "$TMP/before.out" "$TMP/after2.out" >&2; }
  stop_clean
  # A config as SPDK writes it: other subsystems, SPDK's default options, a final
  # bdev_wait_for_examine.
  cat >"$TMP/spdk.json" <<'JSON'
{"subsystems":[
  {"subsystem":"keyring","config":[]},
  {"subsystem":"iobuf","config":[{"method":"iobuf_set_options","params":{"small_pool_count":8192}}]},
  {"subsystem":"sock","config":[{"method":"sock_set_default_impl","params":{"impl_name":"posix"}}]},
  {"subsystem":"bdev","config":[
    {"method":"bdev_set_options","params":{"bdev_io_pool_size":65535,"bdev_io_cache_size":256,
      "bdev_auto_examine":true,"iobuf_small_cache_size":128,"iobuf_large_cache_size":16}},
    {"method":"bdev_malloc_create","params":{"name":"Malloc0","num_blocks":2048,"block_size":512,
      "physical_block_size":512,"uuid":"3c2b1a09-8f7e-4d6c-9b5a-0f1e2d3c4b5a","optimal_io_boundary":0,
      "md_size":0,"dif_type":0,"dif_is_head_of_md":false,"dif_pi_format":0}},
    {"method":"bdev_wait_for_examine"}]},
  {"subsystem":"nbd","config":[]}]}
JSON
  start_daemon --json "$TMP/spdk.json"
  ctl spdk bdev_get_bdevs -b Malloc0
  pyjson spdk 'd[0]["uuid"]=="3c2b1a09-8f7e-4d6c-9b5a-0f1e2d3c4b5a" and d[0]["num_blocks"]==2048' ||
    { fail "SPDK-written config"; show spdk; cat "$TMP/daemon.log" >&2; }
  stop_clean
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

# Helpers shared by the integration test scripts that drive bdevd (or bdevperf -z)
# over its socket with bdevctl. Source it after setting BDEVD and BDEVCTL (the paths
# of the binaries under test); it makes $TMP (removed on exit), $SOCK and the
# functions below. Each bdevctl call keeps its stdout, stderr and exit code in
# $TMP/NAME.{out,err,rc}. Processes started with start_daemon / start_bdevperf_z are
# killed on exit.
set -u
TMP=$(mktemp -d /tmp/bdevkit-it-XXXXXX)
SOCK=$TMP/rpc.sock
PID=        # the daemon start_daemon / start_bdevperf_z started
FAILED=0
LIB_KILL_ON_EXIT=()  # further PIDs a script wants killed on exit

fail() { echo "FAIL: $*" >&2; FAILED=1; }
lib_cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null
  local p
  for p in "${LIB_KILL_ON_EXIT[@]}"; do kill -9 "$p" 2>/dev/null; done
  [[ -n ${LIB_CLEANUP_HOOK:-} ]] && $LIB_CLEANUP_HOOK
  rm -rf "$TMP"
}
trap lib_cleanup EXIT

# wait_socket WHAT [SOCKET]: until the process $PID answers on the socket.
wait_socket() {
  local sock=${2:-$SOCK}
  for _ in $(seq 600); do
    "$BDEVCTL" -s "$sock" -t 5 spdk_get_version >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  fail "$1 did not start"; cat "$TMP/daemon.log" >&2
  exit 1
}
# start_daemon [bdevd args...]: bdevd on $SOCK, log in $TMP/daemon.log (appended, so
# a restarted daemon's log follows the first one's).
start_daemon() {
  "$BDEVD" -r "$SOCK" "$@" >>"$TMP/daemon.log" 2>&1 &
  PID=$!
  wait_socket bdevd
}
# start_bdevperf_z BDEVPERF [bdevperf args...]: bdevperf -z serving $SOCK.
start_bdevperf_z() {
  local perf=$1; shift
  "$perf" -z -r "$SOCK" "$@" >>"$TMP/daemon.log" 2>&1 &
  PID=$!
  wait_socket bdevperf
}
# stop_daemon: SIGTERM, and the daemon must exit 0.
stop_daemon() {
  kill -TERM "$PID"
  local rc=0
  wait "$PID" || rc=$?
  PID=
  [[ $rc == 0 ]] || { fail "exit $rc on SIGTERM"; cat "$TMP/daemon.log" >&2; }
}
# kill_daemon: SIGKILL (no chance to clean up), reaped.
kill_daemon() {
  kill -KILL "$PID"
  wait "$PID" 2>/dev/null
  PID=
}
alive() { kill -0 "$PID" 2>/dev/null; }
# rss_kb: the daemon's resident set size in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }

# ctl NAME ARGS...: bdevctl, output in $TMP/NAME.{out,err,rc}.
ctl() {
  local name=$1; shift
  timeout 60 "$BDEVCTL" -s "$SOCK" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
# call NAME METHOD JSON: raw-mode call.
call() { ctl "$1" call "$2" "$3"; }
rc() { cat "$TMP/$1.rc"; }
show() { echo "--- $1: exit $(rc "$1"); stdout:"; cat "$TMP/$1.out"; echo "--- stderr:"; cat "$TMP/$1.err"; }
expect_ok() { [[ $(rc "$1") == 0 ]] || { fail "$1: exit $(rc "$1")"; show "$1"; }; }
expect_err() { # NAME PATTERN
  [[ $(rc "$1") != 0 ]] || { fail "$1: succeeded"; show "$1"; return; }
  grep -qE "$2" "$TMP/$1.err" || { fail "$1: no error matching '$2'"; show "$1"; }
}
# expect_ctl_err NAME PATTERN: stricter than expect_err: bdevctl's exit code for an
# error (1, not a crash or a timeout) and its own "bdevctl: ..." line matching PATTERN.
# Returns non-zero when it failed, for callers that check more.
expect_ctl_err() {
  [[ $(rc "$1") == 1 ]] || { fail "$1: exit $(rc "$1"), expected 1"; show "$1"; return 1; }
  grep -qE "^bdevctl: .*$2" "$TMP/$1.err" || { fail "$1: no error matching '$2'"; show "$1"; return 1; }
}
# pyjson NAME EXPR [ARGS...]: EXPR (Python, the call's JSON output as `d`, ARGS as
# sys.argv[2:]) holds.
pyjson() {
  local name=$1 expr=$2; shift 2
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$TMP/$name.out" "$@"
}
# pyval NAME EXPR: prints EXPR (Python, the call's JSON output as `d`).
pyval() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$TMP/$1.out"; }

# Config files in SPDK's format.
entry() { echo "{\"method\":\"$1\",\"params\":$2}"; }
malloc() { entry bdev_malloc_create "{\"name\":\"$1\",\"num_blocks\":$2,\"block_size\":${3:-512}}"; }
config() { # FILE ENTRY...
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*,{\"method\":\"bdev_wait_for_examine\"}]}]}" >"$file"
}

# wait_for_io WHAT: until the daemon has I/O in flight (BdevIo taken), at most 20 s:
# a run started with perform_tests may take a moment to start its jobs.
wait_for_io() {
  for _ in $(seq 200); do
    call io_wait bdev_get_io_pools '{}'
    pyjson io_wait 'd["in_use"] > 0' 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$1: no I/O in flight"
}

# expect_no_bdevio_in_use WHAT: no BdevIo is taken on any thread of the daemon, and
# none was when a thread's pool went away (bdev_get_io_pools): no leak.
expect_no_bdevio_in_use() {
  call pools bdev_get_io_pools '{}'
  expect_ok pools
  pyjson pools 'd["in_use"] == 0 and d["leaked_at_pool_destroy"] == 0' ||
    { fail "$1: BdevIo still taken"; show pools; }
}

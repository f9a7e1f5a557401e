# Sourced by the guest-side test scripts (they run inside the guest, started by
# tests/vm/run.sh). A script defines test_NAME functions, sources this file and calls
#   vm_dispatch "$@"; vm_main "$*" NAME:SECONDS ...
# Each test then runs in its own bash process under `timeout` (its process group,
# daemons included, is killed when it ends or times out), in the order given, its output going to
# $BDEVKIT_VM_OUT/logs/NAME.log and its result to a line of $BDEVKIT_VM_RESULTS, which
# run.sh prints as the summary on the host. A test passes by returning 0, is skipped
# by `skip REASON` and fails by `fail REASON` (or any other exit status).
# State a later test needs goes into files in $VM_WORK.

VM_WORK=${VM_WORK:-/run/bdevkit-vm}
VM_LOGS=$BDEVKIT_VM_OUT/logs

uptime_s() { cut -d' ' -f1 /proc/uptime; }
# note TEXT: the one line the summary shows beside the test's result.
note() { echo "$*" >"$VM_WORK/note.$VM_TEST"; echo "note: $*"; }
fail() { echo "FAIL: $*" >&2; note "$*"; exit 1; }
skip() { echo "SKIP: $*"; note "$*"; exit 77; }
log() { echo "--- $*"; }

# poll SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds; fails the test
# naming WHAT if it has not within SECONDS.
poll() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within $limit s"
    sleep 0.1
  done
}

# run NAME SECONDS CMD...: runs CMD with a time limit, its stdout/stderr kept in
# $VM_WORK/NAME.out/.err (and shown in the test's log); sets RC.
run() {
  local name=$1 limit=$2
  shift 2
  log "$name: $*"
  local t0
  t0=$(uptime_s)
  timeout -k 5 "$limit" "$@" >"$VM_WORK/$name.out" 2>"$VM_WORK/$name.err"
  RC=$?
  sed 's/^/  | /' "$VM_WORK/$name.out"
  sed 's/^/  ! /' "$VM_WORK/$name.err"
  [ "$RC" != 124 ] || echo "  (timed out after $limit s)"
  echo "  (exit $RC, $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }') s)"
  return 0
}
out() { cat "$VM_WORK/$1.out"; }
err() { cat "$VM_WORK/$1.err"; }
expect_rc() { # NAME RC
  [ "$RC" = "$2" ] || fail "$1: exit status $RC, expected $2 ($(head -c 300 "$VM_WORK/$1.err" | tr '\n' ' '))"
}
expect_out() { # NAME REGEX: stdout matches
  grep -qE -- "$2" "$VM_WORK/$1.out" || fail "$1: output does not match /$2/"
}
expect_err() { # NAME REGEX: stderr matches
  grep -qE -- "$2" "$VM_WORK/$1.err" || fail "$1: error output does not match /$2/"
}

# vm_dispatch "$@": when the script was started as `SCRIPT --one NAME` (by vm_main),
# runs test_NAME and exits with its status.
vm_dispatch() {
  if [ "${1:-}" = --one ]; then
    VM_TEST=$2
    cd "$VM_WORK" || exit 1
    "test_$2"
    exit $?
  fi
}

# vm_main "ONLY" NAME:SECONDS...: runs the tests in order (only those named in ONLY,
# a space-separated list, when it is not empty); returns 1 if one failed.
vm_main() {
  local script=$0 only=" $1 "
  shift
  mkdir -p "$VM_WORK" "$VM_LOGS"
  local spec name limit rc t0 secs status text failed=0
  for spec in "$@"; do
    name=${spec%%:*}
    limit=${spec##*:}
    [ "$only" = "  " ] || [[ $only == *" $name "* ]] || continue
    echo "=== $name (limit $limit s)"
    t0=$(uptime_s)
    rm -f "$VM_WORK/note.$name"
    # timeout leads its own process group: whatever the test left running (a daemon
    # after a failure) is ended with the group, so it cannot hold the device for the
    # next test.
    timeout -k 5 "$limit" bash "$script" --one "$name" >"$VM_LOGS/$name.log" 2>&1 &
    local tpid=$!
    wait $tpid
    rc=$?
    kill -KILL -- -$tpid 2>/dev/null
    secs=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
    text=$(head -n1 "$VM_WORK/note.$name" 2>/dev/null)
    case $rc in
      0) status=PASS ;;
      77) status=SKIP ;;
      124 | 137) status=FAIL text="timed out after $limit s${text:+; $text}" ;;
      *) status=FAIL text=${text:-exit status $rc} ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$text" >>"$BDEVKIT_VM_RESULTS"
    echo "=== $status $name ($secs s)${text:+: $text}"
    if [ "$status" = FAIL ]; then
      failed=1
      echo "--- last lines of $VM_LOGS/$name.log:"
      tail -n 40 "$VM_LOGS/$name.log"
    fi
  done
  return $failed
}

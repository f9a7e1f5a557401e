# Helpers shared by the bdevperf integration tests (sourced; expects $BDEVPERF and
# $TMP). Each run keeps its stdout, stderr and exit code in $TMP/NAME.{out,err,rc}.
FAILED=0

fail() { echo "FAIL: $*" >&2; FAILED=1; }

# run NAME ARGS...: runs bdevperf, keeping stdout/stderr/exit code in $TMP/NAME.*
run() {
  local name=$1; shift
  timeout 120 "$BDEVPERF" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
rc() { cat "$TMP/$1.rc"; }
show() { echo "--- $1: exit $(rc "$1"); stdout:"; cat "$TMP/$1.out"; echo "--- stderr:"; cat "$TMP/$1.err"; }

expect_ok() {
  local name=$1
  [[ $(rc "$name") == 0 ]] || { fail "$name: exit $(rc "$name"), expected 0"; show "$name"; }
}
# expect_error NAME PATTERN: non-zero exit, a "bdevperf:" line matching PATTERN on
# stderr, exactly one "bdevperf:" line, and no result table on stdout.
expect_error() {
  local name=$1 pattern=$2
  if [[ $(rc "$name") == 0 ]]; then fail "$name: exit 0, expected an error"; show "$name"; return; fi
  if [[ $(rc "$name") -ge 124 ]]; then fail "$name: timed out or crashed (exit $(rc "$name"))"; show "$name"; return; fi
  grep -E "^bdevperf: .*${pattern}" "$TMP/$name.err" >/dev/null ||
    { fail "$name: no error line matching '$pattern'"; show "$name"; return; }
  local n
  n=$(grep -c '^bdevperf: ' "$TMP/$name.err")
  [[ $n == 1 ]] || { fail "$name: $n error lines, expected one"; show "$name"; }
  grep -q 'Latency(us)' "$TMP/$name.out" && { fail "$name: printed a result table"; show "$name"; }
  return 0
}
# expect_table NAME: the SPDK-style header, a rule and a Total row.
expect_table() {
  local name=$1 out="$TMP/$1.out"
  grep -qE '^ +Latency\(us\)$' "$out" || fail "$name: no Latency(us) header"
  grep -qE '^Device Information +: +runtime\(s\) +IOPS +MiB/s +Fail/s +TO/s +Average +min +max$' "$out" ||
    fail "$name: no column header"
  grep -qE '^={100,}$' "$out" || fail "$name: no rule"
  grep -qE '^Total +: +[0-9]' "$out" || fail "$name: no Total row"
}
# expect_job NAME BDEV WORKLOAD DEPTH SIZE [PERCENTAGE]: the Job line, then a row with
# IOPS > 0 and Fail/s 0.
expect_job() {
  local name=$1 bdev=$2 workload=$3 depth=$4 size=$5 out="$TMP/$1.out" mix=""
  [[ $# -ge 6 ]] && mix="percentage: $6, "
  grep -qE "^Job: $bdev \(Core Mask 0x[0-9a-f]+, workload: $workload, ${mix}depth: $depth, IO size: $size\)$" "$out" ||
    { fail "$name: no Job line for $bdev"; show "$name"; return; }
  local iops
  iops=$(awk -v b="$bdev" '$1 == b && $2 == ":" { print $4 }' "$out")
  [[ -n $iops ]] || { fail "$name: no result row for $bdev"; show "$name"; return; }
  awk -v v="$iops" 'BEGIN { exit !(v > 0) }' || fail "$name: $bdev IOPS is $iops"
  local fails
  fails=$(awk -v b="$bdev" '$1 == b && $2 == ":" { print $6 }' "$out")
  [[ $fails == 0.00 ]] || fail "$name: $bdev Fail/s is $fails"
}

malloc_entry() { # NAME NUM_BLOCKS BLOCK_SIZE
  echo "{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"$1\",\"num_blocks\":$2,\"block_size\":$3}}"
}
null_entry() {
  echo "{\"method\":\"bdev_null_create\",\"params\":{\"name\":\"$1\",\"num_blocks\":$2,\"block_size\":$3}}"
}
config() { # FILE ENTRY...
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*]}]}" >"$file"
}


# field NAME BDEV COLUMN: a column of BDEV's result row (3 runtime, 4 IOPS, 5 MiB/s,
# 6 Fail/s, 7 TO/s, 8 average, 9 min, 10 max).
field() { awk -v b="$2" -v c="$3" '$1 == b && $2 == ":" { print $c; exit }' "$TMP/$1.out"; }
# gt VALUE LIMIT / lt VALUE LIMIT: numeric comparisons for awk-read fields.
gt() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v > l) }'; }
lt() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v < l) }'; }

aio_entry() { # NAME FILE
  echo "{\"method\":\"bdev_aio_create\",\"params\":{\"name\":\"$1\",\"filename\":\"$2\",\"block_size\":4096}}"
}
qos_entry() { # NAME RW_IOS_PER_SEC
  echo "{\"method\":\"bdev_set_qos_limit\",\"params\":{\"name\":\"$1\",\"rw_ios_per_sec\":$2}}"
}

finish_case() {
  if [[ $FAILED != 0 ]]; then
    echo "$CASE: FAILED" >&2
    exit 1
  fi
  echo "$CASE: passed"
}

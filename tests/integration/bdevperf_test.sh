#!/usr/bin/env bash
# Runs the real bdevperf binary and checks its output and exit codes.
# Usage: bdevperf_test.sh BDEVPERF CASE   (CASE: verify_malloc, randread_null_malloc,
#        verify_null_fails, bad_input, two_cores)
set -u
BDEVPERF=$1
CASE=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
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
# expect_job NAME BDEV WORKLOAD DEPTH SIZE: the Job line, then a row with IOPS > 0.
expect_job() {
  local name=$1 bdev=$2 workload=$3 depth=$4 size=$5 out="$TMP/$1.out"
  grep -qE "^Job: $bdev \(Core Mask 0x[0-9a-f]+, workload: $workload, depth: $depth, IO size: $size\)$" "$out" ||
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

case $CASE in
verify_malloc)
  config "$TMP/malloc.json" "$(malloc_entry Malloc0 8192 4096)"
  run verify -c "$TMP/malloc.json" -q 32 -o 4k -w verify -t 2 -m 0x1 --seed 7
  expect_ok verify
  expect_table verify
  expect_job verify Malloc0 verify 32 4096
  grep -qE '^ +Verification LBA range: start 0x0 length 0x2000$' "$TMP/verify.out" ||
    fail "verify: no verification range line"
  # The run lasted about -t seconds.
  runtime=$(awk '$1 == "Malloc0" && $2 == ":" { print $3 }' "$TMP/verify.out")
  awk -v r="$runtime" 'BEGIN { exit !(r >= 1.9 && r < 4) }' || fail "verify: runtime $runtime"
  # A depth beyond the thread's BdevIo pool (4096): submits get -ENOMEM and must wait
  # with QueueIoWait and resubmit, losing nothing and failing nothing.
  run enomem -c "$TMP/malloc.json" -q 6000 -o 4k -w verify -t 1
  expect_ok enomem
  expect_job enomem Malloc0 verify 6000 4096
  # Bigger I/O than the block, 512-byte blocks, long option form.
  config "$TMP/malloc512.json" "$(malloc_entry Malloc1 4096 512)"
  run verify512 --json "$TMP/malloc512.json" -q 8 -o 64k -w verify -t 1
  expect_ok verify512
  expect_job verify512 Malloc1 verify 8 65536
  ;;
randread_null_malloc)
  config "$TMP/two.json" "$(null_entry Null0 262144 4096)" "$(malloc_entry Malloc0 8192 4096)"
  run randread -c "$TMP/two.json" -q 128 -o 4096 -w randread -t 1
  expect_ok randread
  expect_table randread
  expect_job randread Null0 randread 128 4096
  expect_job randread Malloc0 randread 128 4096
  # --prefill writes both bdevs first, then the timed runs start together.
  run prefill -c "$TMP/two.json" -q 8 -o 4k -w randread -t 1 --prefill
  expect_ok prefill
  grep -q '^Writing every block of 2 bdev(s) first' "$TMP/prefill.out" || fail "prefill: no prefill line"
  expect_job prefill Null0 randread 8 4096
  expect_job prefill Malloc0 randread 8 4096
  # Every other workload runs as well.
  for w in read write randwrite; do
    run "$w" -c "$TMP/two.json" -q 16 -o 8k -w "$w" -t 1
    expect_ok "$w"
    expect_job "$w" Null0 "$w" 16 8192
    expect_job "$w" Malloc0 "$w" 16 8192
  done
  ;;
verify_null_fails)
  # null keeps no data, so verify must catch that every read-back differs.
  config "$TMP/null.json" "$(null_entry Null0 1024 4096)"
  run nullverify -c "$TMP/null.json" -q 4 -o 4k -w verify -t 1
  [[ $(rc nullverify) == 1 ]] || { fail "verify on null: exit $(rc nullverify), expected 1"; show nullverify; }
  grep -qE '^bdevperf: job Null0 failed: verify miscompare on bdev Null0: LBA 0x[0-9a-f]+ \(byte offset 0x[0-9a-f]+ in the block\)' \
    "$TMP/nullverify.err" || { fail "verify on null: no miscompare line"; show nullverify; }
  grep -q 'Latency(us)' "$TMP/nullverify.out" || fail "verify on null: no table"
  fails=$(awk '$1 == "Null0" && $2 == ":" { print $6 }' "$TMP/nullverify.out")
  awk -v v="$fails" 'BEGIN { exit !(v > 0) }' || fail "verify on null: Fail/s is '$fails'"
  ;;
two_cores)
  [[ $(nproc) -ge 2 ]] || { echo "SKIP: one core"; exit 0; }
  config "$TMP/two.json" "$(null_entry Null0 262144 4096)" "$(null_entry Null1 262144 4096)"
  run two -c "$TMP/two.json" -q 16 -o 4k -w randread -t 1 -m 0x3
  expect_ok two
  grep -qE '^Job: Null0 \(Core Mask 0x1,' "$TMP/two.out" || fail "two cores: Null0 not on core 0"
  grep -qE '^Job: Null1 \(Core Mask 0x2,' "$TMP/two.out" || fail "two cores: Null1 not on core 1"
  ;;
bad_input)
  config "$TMP/malloc.json" "$(malloc_entry Malloc0 256 4096)"   # 1 MiB
  ok=(-c "$TMP/malloc.json" -q 4 -o 4k -w randread -t 1)
  run mask_core "${ok[@]}" -m "$(printf '0x%x' $((1 << $(nproc))))"  # one core too many
  expect_error mask_core "invalid core mask '0x[0-9a-f]+': core [0-9]+ is not available.*\(-m\)$"
  run mask_text "${ok[@]}" -m zz
  expect_error mask_text "invalid core mask 'zz'.*\(-m\)$"
  run q0 -c "$TMP/malloc.json" -q 0 -o 4k -w randread -t 1
  expect_error q0 "invalid queue depth \(-q\) '0'"
  run qtext -c "$TMP/malloc.json" -q abc -o 4k -w randread -t 1
  expect_error qtext "invalid queue depth \(-q\) 'abc'"
  run osize -c "$TMP/malloc.json" -q 4 -o 4x -w randread -t 1
  expect_error osize "invalid I/O size \(-o\) '4x'"
  run omult -c "$TMP/malloc.json" -q 4 -o 1000 -w randread -t 1
  expect_error omult 'I/O size 1000 \(-o\) is not a multiple of the block size 4096 of bdev Malloc0'
  run obig -c "$TMP/malloc.json" -q 4 -o 2m -w randread -t 1
  expect_error obig 'I/O size 2097152 \(-o\) is larger than bdev Malloc0'
  run wbad -c "$TMP/malloc.json" -q 4 -o 4k -w bogus -t 1
  expect_error wbad "invalid workload \(-w\) 'bogus': unknown"
  run t0 -c "$TMP/malloc.json" -q 4 -o 4k -w read -t 0
  expect_error t0 "invalid time \(-t\) '0'"
  run noq -c "$TMP/malloc.json" -o 4k -w read -t 1
  expect_error noq 'missing queue depth \(-q\)'
  run unknown "${ok[@]}" -Z
  expect_error unknown 'unknown option -Z'
  run noconfig -q 4 -o 4k -w read -t 1
  expect_error noconfig 'missing config file'
  run missing -c "$TMP/nope.json" -q 4 -o 4k -w read -t 1
  expect_error missing "config file $TMP/nope.json: No such file"
  printf '{"subsystems": [ {"subsystem": "bdev", "config": [ \n' >"$TMP/broken.json"
  run malformed -c "$TMP/broken.json" -q 4 -o 4k -w read -t 1
  expect_error malformed "config file \"?$TMP/broken.json\"?: .*(syntax|parse)"
  echo '{"subsystems":[{"subsystem":"bdev","config":[]}]}' >"$TMP/empty.json"
  run empty -c "$TMP/empty.json" -q 4 -o 4k -w read -t 1
  expect_error empty 'no bdevs to test'
  config "$TMP/dup.json" "$(malloc_entry Dup0 256 4096)" "$(malloc_entry Dup0 256 4096)"
  run dup -c "$TMP/dup.json" -q 4 -o 4k -w read -t 1
  expect_error dup "config file \"?$TMP/dup.json\"?: .*Dup0"
  config "$TMP/bs.json" "$(malloc_entry Bs0 256 1000)"
  run blocksize -c "$TMP/bs.json" -q 4 -o 4k -w read -t 1
  expect_error blocksize "config file \"?$TMP/bs.json\"?: .*block.size"
  config "$TMP/zero.json" "$(null_entry Zero0 0 4096)"
  run zeroblocks -c "$TMP/zero.json" -q 4 -o 4k -w read -t 1
  expect_error zeroblocks "config file \"?$TMP/zero.json\"?: .*num_blocks"
  # --help is not an error.
  run help --help
  expect_ok help
  grep -q '^Usage: ' "$TMP/help.out" || fail "help: no usage"
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac

if [[ $FAILED != 0 ]]; then
  echo "$CASE: FAILED" >&2
  exit 1
fi
echo "$CASE: passed"

#!/usr/bin/env bash
# vm_pattern_check on the host, over files bdevperf's verify wrote through aio bdevs
# (512-byte and 4 KiB blocks): it accepts them as written, and catches a corrupted
# byte, a block moved to another LBA, and the wrong run's seed.
# Usage: pattern_check_test.sh BDEVPERF VM_PATTERN_CHECK
set -u
BDEVPERF=$1
CHECK=$2
T=$(mktemp -d /tmp/bdevkit-pattern-check.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check() { # NAME EXPECTED_RC ARGS...
  local name=$1 want=$2 rc
  shift 2
  "$CHECK" "$@" >"$T/$name.out" 2>&1
  rc=$?
  sed "s/^/$name: /" "$T/$name.out"
  [ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want"
}

truncate -s 8M "$T/a.img"
truncate -s 8M "$T/b.img"
cat >"$T/c.json" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_aio_create","params":{"name":"A","filename":"$T/a.img","block_size":512}},
 {"method":"bdev_aio_create","params":{"name":"B","filename":"$T/b.img","block_size":4096}}]}]}
EOF
timeout 120 "$BDEVPERF" -c "$T/c.json" -q 8 -o 64k -w verify -t 1 --seed 4242 >"$T/perf.out" 2>&1 ||
  { cat "$T/perf.out"; fail "bdevperf verify failed"; exit 1; }

check a_ok 0 --block-size 512 --seed 4242 --min-blocks 128 "$T/a.img"
cp "$T/a.img" "$T/orig_a.img"
grep -q "the first 16384 hold the data of job 0 of the verify run, all correct; 0 after" "$T/a_ok.out" || fail "a_ok: not all 16384 blocks of job 0"
check b_ok 0 --block-size 4096 --seed 4242 --min-blocks 128 <"$T/b.img"
grep -q "the first 2048 hold the data of job 1 of the verify run" "$T/b_ok.out" || fail "b_ok: not all 2048 blocks of job 1"
check wrong_seed 1 --block-size 512 --seed 4243 "$T/a.img"
grep -q "LBA 0 does not hold data of a bdevperf verify run with --seed 4243 (its header names another run" "$T/wrong_seed.out" || fail "wrong_seed: no diagnosis"
check too_few 1 --block-size 512 --seed 4242 --min-blocks 999999 "$T/a.img"
check usage 2 --block-size 100 --seed 1 "$T/a.img"
check no_seed 2 --block-size 512 "$T/a.img"

# A flipped byte in block 5's payload.
cp "$T/a.img" "$T/corrupt.img"
printf 'X' | dd of="$T/corrupt.img" bs=1 seek=$((512 * 5 + 100)) conv=notrunc status=none
check corrupt 1 --block-size 512 --seed 4242 "$T/corrupt.img"
grep -q "block 5 of 512 bytes: .*payload is corrupted" "$T/corrupt.out" || fail "corrupt: wrong diagnosis"
# Block 7 written where block 9 belongs (a misdirected write).
cp "$T/a.img" "$T/moved.img"
dd if="$T/a.img" of="$T/moved.img" bs=512 skip=7 seek=9 count=1 conv=notrunc status=none
check moved 1 --block-size 512 --seed 4242 "$T/moved.img"
grep -q "block 9 of 512 bytes: .*misplaced data: the block holds LBA 0x7" "$T/moved.out" || fail "moved: wrong diagnosis"
# A block of the run zeroed in the middle: a hole in what was written.
cp "$T/a.img" "$T/hole.img"
dd if=/dev/zero of="$T/hole.img" bs=512 seek=20 count=1 conv=notrunc status=none
check hole 1 --block-size 512 --seed 4242 "$T/hole.img"
grep -q "FAILED at block 21: it holds this run's data, but block 20 before it does not" "$T/hole.out" ||
  fail "hole: wrong diagnosis"
# The run's blocks, then another run's and never-written ones: accepted, prefix counted.
timeout 120 "$BDEVPERF" -c "$T/c.json" -q 8 -o 64k -w verify -t 1 --seed 99 >"$T/perf99.out" 2>&1 ||
  { cat "$T/perf99.out"; fail "bdevperf verify --seed 99 failed"; }
check a99 0 --block-size 512 --seed 99 "$T/a.img"
{ head -c $((512 * 1000)) "$T/orig_a.img"; tail -c +$((512 * 1000 + 1)) "$T/a.img" | head -c $((512 * 2000)); head -c $((512 * 100)) /dev/zero; } >"$T/mixed.img"
check mixed 0 --block-size 512 --seed 4242 "$T/mixed.img"
grep -q "the first 1000 hold the data of job 0 of the verify run, all correct; 2100 after" "$T/mixed.out" ||
  fail "mixed: wrong prefix"
check empty 1 --block-size 512 --seed 4242 /dev/null
grep -q "the input is empty" "$T/empty.out" || fail "empty: wrong diagnosis"
# A stray tail: the input ends inside a block.
head -c $((512 * 3 + 7)) "$T/a.img" >"$T/short.img"
check short 1 --block-size 512 --seed 99 "$T/short.img"
grep -q "the input ends inside a block (7 stray bytes)" "$T/short.out" || fail "short: wrong diagnosis"

[ $FAILED = 0 ] && echo "pattern_check.host: all checks passed"
exit $FAILED

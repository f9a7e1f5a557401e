#!/usr/bin/env bash
# bdevperf verify on aio and uring bdevs: over a file, and over a loop device.
# Usage: kernel_bdevs_test.sh BDEVPERF CASE   (CASE: file, loop, missing_file)
# Exit 77 = skipped (ctest SKIP_RETURN_CODE), with the reason printed.
set -u
BDEVPERF=$1
CASE=$2
TMP=$(mktemp -d /tmp/bdevkit-kern-it-XXXXXX)
LOOPS=()
cleanup() {
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }

run() { # NAME ARGS...
  local name=$1; shift
  timeout 120 "$BDEVPERF" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
show() { echo "--- $1: exit $(cat "$TMP/$1.rc"); stdout:"; cat "$TMP/$1.out"; echo "--- stderr:"; cat "$TMP/$1.err"; }
# expect_verified NAME BDEV...: exit 0, and for each bdev a row with IOPS > 0 and no failures.
expect_verified() {
  local name=$1; shift
  [[ $(cat "$TMP/$name.rc") == 0 ]] || { fail "$name: exit $(cat "$TMP/$name.rc")"; show "$name"; return; }
  for b in "$@"; do
    grep -qE "^Job: $b \(Core Mask 0x[0-9a-f]+, workload: verify, depth: 32, IO size: 4096\)$" "$TMP/$name.out" ||
      { fail "$name: no Job line for $b"; show "$name"; continue; }
    local iops fails
    iops=$(awk -v b="$b" '$1 == b && $2 == ":" { print $4 }' "$TMP/$name.out")
    fails=$(awk -v b="$b" '$1 == b && $2 == ":" { print $6 }' "$TMP/$name.out")
    awk -v v="$iops" 'BEGIN { exit !(v > 0) }' || fail "$name: $b IOPS is '$iops'"
    [[ $fails == 0.00 ]] || fail "$name: $b Fail/s is '$fails'"
  done
}
entry() { # METHOD NAME FILE
  echo "{\"method\":\"$1\",\"params\":{\"name\":\"$2\",\"filename\":\"$3\"}}"
}
config() { # FILE ENTRY...
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*]}]}" >"$file"
}

case $CASE in
file)
  dd if=/dev/urandom of="$TMP/a.img" bs=1M count=32 status=none
  dd if=/dev/urandom of="$TMP/u.img" bs=1M count=32 status=none
  config "$TMP/c.json" "$(entry bdev_aio_create Aio0 "$TMP/a.img")" \
    "$(entry bdev_uring_create Uring0 "$TMP/u.img")"
  cp "$TMP/a.img" "$TMP/a.orig"
  cp "$TMP/u.img" "$TMP/u.orig"
  run verify -c "$TMP/c.json" -q 32 -o 4k -w verify -t 2 --seed 11
  expect_verified verify Aio0 Uring0
  # The writes went to the files themselves (verify alone would also pass over a
  # cache that never reached them).
  cmp -s "$TMP/a.img" "$TMP/a.orig" && fail "file: aio file unchanged after verify"
  cmp -s "$TMP/u.img" "$TMP/u.orig" && fail "file: uring file unchanged after verify"
  ;;
loop)
  command -v losetup >/dev/null || { echo "SKIP: losetup is not installed"; exit 77; }
  for k in a u; do
    dd if=/dev/urandom of="$TMP/$k.img" bs=1M count=32 status=none
    dev=$(losetup --find --show --direct-io=on "$TMP/$k.img" 2>"$TMP/losetup.err") ||
      { echo "SKIP: cannot set up a loop device: $(cat "$TMP/losetup.err")"; exit 77; }
    LOOPS+=("$dev")
  done
  config "$TMP/c.json" "$(entry bdev_aio_create Aio0 "${LOOPS[0]}")" \
    "$(entry bdev_uring_create Uring0 "${LOOPS[1]}")"
  run verify -c "$TMP/c.json" -q 32 -o 4k -w verify -t 2 --seed 12
  expect_verified verify Aio0 Uring0
  ;;
missing_file)
  config "$TMP/c.json" "$(entry bdev_aio_create Aio0 "$TMP/nope.img")"
  run missing -c "$TMP/c.json" -q 1 -o 4k -w verify -t 1
  [[ $(cat "$TMP/missing.rc") == 1 ]] || { fail "missing: exit $(cat "$TMP/missing.rc")"; show missing; }
  grep -q "nope.img: No such file or directory" "$TMP/missing.err" ||
    { fail "missing: no clear message"; show missing; }
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

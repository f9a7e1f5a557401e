#!/usr/bin/env bash
# bdevperf against real faults planted behind its back: data changed in an aio bdev's
# backing file while verify runs (garbage, another block's data, an older copy), the
# backing file cut short while reads run (I/O errors, with and without -f), and I/O
# held by a QoS limit past -k's timeout.
# Usage: bdevperf_fault_test.sh BDEVPERF CASE   (CASE: one of the names below)
set -u
BDEVPERF=$1
CASE=$2
TMP=$(mktemp -d)
CORRUPTOR_PID=
trap '[[ -n $CORRUPTOR_PID ]] && kill "$CORRUPTOR_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
# shellcheck source=bdevperf_lib.sh
source "$(dirname "$0")/bdevperf_lib.sh"

# corrupt MODE FILE: in the background, after a second, keeps changing 4 KiB blocks of
# FILE (O_DIRECT, as the aio bdev reads it) until $TMP/stop exists:
#   junk       a block of 0xee bytes
#   misplaced  a copy of another block (verify data, but of another LBA)
#   stale      the block as it was a moment earlier (verify data of an older write)
corrupt() {
  python3 - "$1" "$2" "$TMP/stop" <<'PY' &
import mmap, os, random, sys, time
mode, path, stop = sys.argv[1], sys.argv[2], sys.argv[3]
BS = 4096
fd = os.open(path, os.O_RDWR | os.O_DIRECT)
blocks = os.fstat(fd).st_size // BS
buf = mmap.mmap(-1, BS)  # page-aligned, as O_DIRECT wants
rng = random.Random(1)
time.sleep(1.0)
snapshot = []
if mode == "stale":
    for b in range(blocks):
        m = mmap.mmap(-1, BS)
        os.preadv(fd, [m], b * BS)
        snapshot.append(m)
    time.sleep(0.2)  # let verify write every block again
deadline = time.time() + 60
while not os.path.exists(stop) and time.time() < deadline:
    dst = rng.randrange(blocks)
    if mode == "junk":
        buf[:] = b"\xee" * BS
        os.pwritev(fd, [buf], dst * BS)
    elif mode == "misplaced":
        src = rng.randrange(blocks)
        if src == dst:
            continue
        os.preadv(fd, [buf], src * BS)
        os.pwritev(fd, [buf], dst * BS)
    else:
        os.pwritev(fd, [snapshot[dst]], dst * BS)
PY
  CORRUPTOR_PID=$!
}
stop_corruptor() {
  touch "$TMP/stop"
  wait "$CORRUPTOR_PID" 2>/dev/null
  CORRUPTOR_PID=
}

# expect_miscompare NAME DIAGNOSIS: exit 1, the miscompare line with its diagnosis,
# Fail/s > 0 and the "ended with error" line in the table.
expect_miscompare() {
  local name=$1 diagnosis=$2
  [[ $(rc "$name") == 1 ]] || { fail "$name: exit $(rc "$name"), expected 1"; show "$name"; return; }
  grep -qE "^bdevperf: job Aio0 failed: verify miscompare on bdev Aio0: LBA 0x[0-9a-f]+ \(byte offset 0x[0-9a-f]+ in the block\): expected 0x[0-9a-f]{2}, read 0x[0-9a-f]{2}; $diagnosis" \
    "$TMP/$name.err" || { fail "$name: no miscompare line saying '$diagnosis'"; show "$name"; return; }
  gt "$(field "$name" Aio0 6)" 0 || fail "$name: Fail/s is $(field "$name" Aio0 6)"
  grep -qE '^Job: Aio0 ended in about [0-9.]+ seconds with error$' "$TMP/$name.out" ||
    fail "$name: no 'ended with error' line"
  lt "$(field "$name" Aio0 3)" 15 || fail "$name: ran $(field "$name" Aio0 3) s: did not stop"
}

case $CASE in
corrupt_junk | corrupt_misplaced | corrupt_stale)
  mode=${CASE#corrupt_}
  dd if=/dev/zero of="$TMP/aio.img" bs=1M count=1 status=none
  config "$TMP/aio.json" "$(aio_entry Aio0 "$TMP/aio.img")"
  corrupt "$mode" "$TMP/aio.img"
  run "$mode" -c "$TMP/aio.json" -q 32 -o 4k -w verify -t 20 --seed 5
  stop_corruptor
  case $mode in
  junk) expect_miscompare junk 'the block holds no verify header' ;;
  misplaced) expect_miscompare misplaced 'misplaced data: the block holds LBA 0x[0-9a-f]+$' ;;
  stale) expect_miscompare stale 'stale data: the block holds write generation [0-9]+, expected [0-9]+$' ;;
  esac
  ;;
io_error)
  # Reads beyond the end of a file cut short under the bdev fail (-EIO): the job stops
  # with the reason; with -f it counts them and runs its whole time.
  # truncate_when_running NAME FILE: cuts FILE to 1 MiB a second after bdevperf's run
  # NAME started (not before: the bdev would simply be created smaller).
  truncate_when_running() {
    (for _ in $(seq 600); do grep -q '^Running I/O' "$TMP/$1.out" 2>/dev/null && break; sleep 0.1; done
     sleep 1
     truncate -s 1M "$2") &
  }
  for f in stop continue; do
    dd if=/dev/urandom of="$TMP/$f.img" bs=1M count=4 status=none
    config "$TMP/$f.json" "$(aio_entry Aio0 "$TMP/$f.img")"
  done
  truncate_when_running stop "$TMP/stop.img"
  run stop -c "$TMP/stop.json" -q 8 -o 4k -w randread -t 10
  wait
  [[ $(rc stop) == 1 ]] || { fail "io_error: exit $(rc stop), expected 1"; show stop; }
  grep -qE '^bdevperf: job Aio0 failed: read at LBA 0x[0-9a-f]+ failed: Input/output error' \
    "$TMP/stop.err" || { fail "io_error: no failure line"; show stop; }
  gt "$(field stop Aio0 6)" 0 || fail "io_error: Fail/s is $(field stop Aio0 6)"
  lt "$(field stop Aio0 3)" 5 || fail "io_error: ran $(field stop Aio0 3) s after failing"
  truncate_when_running continue "$TMP/continue.img"
  run continue -c "$TMP/continue.json" -q 8 -o 4k -w randread -t 3 -f --output-json "$TMP/f.json"
  wait
  expect_table continue
  [[ $(rc continue) == 0 ]] || { fail "io_error -f: exit $(rc continue), expected 0"; show continue; }
  grep -qE '^bdevperf: job Aio0: [0-9]+ I/O failed, went on \(-f\); first: read at LBA 0x[0-9a-f]+ failed: Input/output error' \
    "$TMP/continue.err" || { fail "io_error -f: no note"; show continue; }
  gt "$(field continue Aio0 3)" 2.9 || fail "io_error -f: ran only $(field continue Aio0 3) s"
  gt "$(field continue Aio0 6)" 0 || fail "io_error -f: Fail/s is 0"
  gt "$(field continue Aio0 4)" 0 || fail "io_error -f: no successful reads"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; sys.exit(not (r["status"] == "finished" and r["io_failed"] > 0))' \
    "$TMP/f.json" || fail "io_error -f: JSON status/io_failed"
  ;;
timeout)
  # 20 I/Os per second for 64 in flight: each waits ~3 s in the QoS queue, past -k 1.
  config "$TMP/qos.json" "$(malloc_entry Malloc0 4096 4096)" "$(qos_entry Malloc0 20)"
  run k -c "$TMP/qos.json" -q 64 -o 4k -w randread -t 3 -k 1 --output-json "$TMP/k.json"
  expect_ok k
  gt "$(field k Malloc0 7)" 0 || { fail "timeout: TO/s is $(field k Malloc0 7)"; show k; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; sys.exit(not (r["io_timeout"] > 0 and r["io_timeout"] <= r["ops"]["read"] + 64))' \
    "$TMP/k.json" || fail "timeout: io_timeout in JSON"
  # The same without -k counts none.
  run nok -c "$TMP/qos.json" -q 64 -o 4k -w randread -t 2
  expect_ok nok
  [[ $(field nok Malloc0 7) == 0.00 ]] || fail "no -k: TO/s is $(field nok Malloc0 7)"
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
finish_case

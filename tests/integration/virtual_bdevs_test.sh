#!/usr/bin/env bash
# raid and split through the real tools: bdevperf verify through raid0, concat, split
# and a stack (split over raid0 over malloc); a base removed under load (bdevperf -z
# with its RPC socket); the save_config round trip with raids and splits declared
# before their bases; superblock reassembly across two bdevd runs on aio files; bad
# input over bdevctl.
# Usage: virtual_bdevs_test.sh BDEVD BDEVCTL BDEVPERF CASE
#   CASE: verify, hot_remove, round_trip, superblock, bad_input
set -u
BDEVD=$1
BDEVCTL=$2
BDEVPERF=$3
CASE=$4
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

raid() { # NAME LEVEL STRIP_KB BASE... (bases as a JSON list body)
  local name=$1 level=$2 strip=$3; shift 3
  local IFS=,
  entry bdev_raid_create "{\"name\":\"$name\",\"raid_level\":\"$level\",\"strip_size_kb\":$strip,\"base_bdevs\":[$*]}"
}
split() { entry bdev_split_create "{\"base_bdev\":\"$1\",\"split_count\":$2}"; }

case $CASE in
verify)
  # The stack is declared top down, before anything under it exists.
  config "$TMP/c.json" \
    "$(split Stack 2)" "$(raid Stack raid0 4 '"SM0"' '"SM1"')" \
    "$(malloc M0 16384)" "$(malloc M1 16384)" "$(raid R0 raid0 8 '"M0"' '"M1"')" \
    "$(malloc M2 9000)" "$(malloc M3 7000)" "$(raid C0 concat 4 '"M2"' '"M3"')" \
    "$(malloc M4 20000)" "$(split M4 3)" \
    "$(malloc SM0 16384)" "$(malloc SM1 16384)"
  # 16 KiB I/O: every one crosses strips of R0 (8 KiB) and Stack (4 KiB).
  timeout 120 "$BDEVPERF" -c "$TMP/c.json" -q 16 -o 16k -w verify -t 3 --seed 5 >"$TMP/v.out" 2>"$TMP/v.err"
  rc=$?
  [[ $rc == 0 ]] || { fail "bdevperf verify exit $rc"; cat "$TMP/v.out" "$TMP/v.err" >&2; }
  for b in R0 C0 M4p0 M4p1 M4p2 Stackp0 Stackp1; do
    grep -qE "^Job: $b \(Core Mask 0x[0-9a-f]+, workload: verify, depth: 16, IO size: 16384\)$" "$TMP/v.out" ||
      { fail "no verify job for $b"; continue; }
    iops=$(awk -v b="$b" '$1 == b && $2 == ":" { print $4 }' "$TMP/v.out")
    fails=$(awk -v b="$b" '$1 == b && $2 == ":" { print $6 }' "$TMP/v.out")
    awk -v v="$iops" 'BEGIN { exit !(v > 0) }' || fail "$b: IOPS '$iops'"
    [[ $fails == 0.00 ]] || fail "$b: Fail/s '$fails'"
  done
  # Claimed bases get no job of their own.
  for b in M0 M1 M2 M3 M4 SM0 SM1 Stack; do
    grep -q "^Job: $b " "$TMP/v.out" && fail "job on claimed base $b"
  done
  [[ $FAILED == 0 ]] || cat "$TMP/v.out" >&2
  ;;
hot_remove)
  # bdevperf -z serves RPC: start the run, remove a base of the raid under it.
  config "$TMP/c.json" "$(malloc H0 65536)" "$(malloc H1 65536)" "$(raid Hot raid0 4 '"H0"' '"H1"')"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 64 -o 8k -w randrw -M 50 -t 4
  (timeout 60 "$BDEVCTL" -s "$SOCK" -t 60 call perform_tests '{}' >"$TMP/perf.out" 2>"$TMP/perf.err"; echo $? >"$TMP/perf.rc") &
  PERF=$!
  wait_for_io hot_remove  # the run has I/O in flight (a fixed sleep could act too early on a loaded machine)
  call del bdev_malloc_delete '{"name":"H1"}'
  expect_ok del
  wait $PERF
  # The run ended (every I/O completed) and answered: the raid's job failed, naming
  # the removal; bdevperf lives on.
  [[ $(cat "$TMP/perf.rc") != 124 ]] || fail "perform_tests did not answer"
  grep -q "job Hot failed: bdev Hot was removed" "$TMP/perf.err" ||
    { fail "perform_tests did not report the removal"; show perf; }
  kill -0 "$PID" 2>/dev/null || fail "bdevperf died"
  call raids bdev_raid_get_bdevs '{"category":"offline"}'
  expect_ok raids
  pyjson raids 'len(d) == 1 and d[0]["name"] == "Hot" and d[0]["num_base_bdevs_discovered"] == 1' ||
    { fail "raid not offline"; show raids; }
  ctl gone bdev_get_bdevs -b Hot
  expect_err gone 'No such device|-19'
  # The base comes back: the raid with it.
  call m bdev_malloc_create '{"name":"H1","num_blocks":65536,"block_size":512}'
  call w bdev_wait_for_examine '{}'
  call online bdev_raid_get_bdevs '{"category":"online"}'
  pyjson online 'len(d) == 1 and d[0]["name"] == "Hot"' || { fail "raid not back online"; show online; }
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  ;;
round_trip)
  # Declared before their bases: a split of a raid whose bases come later.
  config "$TMP/c.json" "$(split Top 2)" "$(raid Top raid0 4 '"B0"' '"B1"')" \
    "$(raid Waiting concat 8 '"Never0"' '"Never1"')" "$(split NeverBase 4)" \
    "$(malloc B0 8192)" "$(malloc B1 8192)"
  start_daemon --json "$TMP/c.json"
  ctl before bdev_get_bdevs
  pyjson before 'sorted(b["name"] for b in d) == ["B0","B1","Top","Topp0","Topp1"]' ||
    { fail "bdevs after the config"; show before; }
  ctl save save_config
  expect_ok save
  # Raids and splits are written before the bdevs they stand on, the configuring raid
  # and the split of a missing base included.
  pyjson save '[e["method"] for e in d["subsystems"][0]["config"] if not e["method"].endswith("_set_options")] == ["bdev_raid_create","bdev_raid_create","bdev_split_create","bdev_split_create","bdev_malloc_create","bdev_malloc_create","bdev_wait_for_examine"]' ||
    { fail "save_config order"; show save; }
  cp "$TMP/save.out" "$TMP/saved.json"
  call raids1 bdev_raid_get_bdevs '{"category":"all"}'
  stop_daemon
  start_daemon --json "$TMP/saved.json"
  ctl after bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after.out" || { fail "bdevs differ after the round trip"; diff "$TMP/before.out" "$TMP/after.out" >&2; }
  call raids2 bdev_raid_get_bdevs '{"category":"all"}'
  cmp -s "$TMP/raids1.out" "$TMP/raids2.out" || { fail "raids differ after the round trip"; diff "$TMP/raids1.out" "$TMP/raids2.out" >&2; }
  ctl save2 save_config
  cmp -s "$TMP/save.out" "$TMP/save2.out" || { fail "save_config not stable"; diff "$TMP/save.out" "$TMP/save2.out" >&2; }
  stop_daemon
  ;;
superblock)
  for i in 0 1; do
    head -c $((16 << 20)) /dev/urandom >"$TMP/f$i"
  done
  aio() { entry bdev_aio_create "{\"name\":\"$1\",\"filename\":\"$TMP/$2\"}"; }
  # Run 1: the raid is made over RPC with a superblock.
  start_daemon
  call a0 bdev_aio_create "{\"name\":\"A0\",\"filename\":\"$TMP/f0\"}"
  call a1 bdev_aio_create "{\"name\":\"A1\",\"filename\":\"$TMP/f1\"}"
  call r bdev_raid_create '{"name":"Persist","raid_level":"raid0","strip_size_kb":16,"superblock":true,"base_bdevs":["A0","A1"]}'
  expect_ok r
  ctl g1 bdev_get_bdevs -b Persist
  expect_ok g1
  stop_daemon
  # Run 2: only the bases, under other names and in the other order: the raid
  # reassembles itself from the superblocks, same UUID and size.
  config "$TMP/c2.json" "$(aio X1 f1)" "$(aio X0 f0)"
  start_daemon --json "$TMP/c2.json"
  ctl g2 bdev_get_bdevs -b Persist
  expect_ok g2
  python3 - "$TMP/g1.out" "$TMP/g2.out" <<'PY' || fail "reassembled raid differs"
import json, sys
a, b = (json.load(open(p))[0] for p in sys.argv[1:])
ok = (a["uuid"] == b["uuid"] and a["num_blocks"] == b["num_blocks"]
      and b["driver_specific"]["raid"]["state"] == "online"
      and b["driver_specific"]["raid"]["superblock"] is True
      and [x["name"] for x in b["driver_specific"]["raid"]["base_bdevs_list"]] == ["X0", "X1"])
sys.exit(0 if ok else 1)
PY
  stop_daemon
  # bdevperf verify on the reassembled raid (its config names only the bases).
  timeout 120 "$BDEVPERF" -c "$TMP/c2.json" -q 8 -o 32k -w verify -t 2 --seed 3 >"$TMP/v.out" 2>&1 ||
    { fail "verify on the reassembled raid"; cat "$TMP/v.out" >&2; }
  grep -q "^Job: Persist " "$TMP/v.out" || { fail "no job on Persist"; cat "$TMP/v.out" >&2; }
  # Run 3: delete with clear_sb; run 4: nothing reassembles.
  start_daemon --json "$TMP/c2.json"
  call d bdev_raid_delete '{"name":"Persist","clear_sb":true}'
  expect_ok d
  stop_daemon
  start_daemon --json "$TMP/c2.json"
  call none bdev_raid_get_bdevs '{"category":"all"}'
  pyjson none 'd == []' || { fail "raid reassembled after clear_sb"; show none; }
  stop_daemon
  ;;
bad_input)
  start_daemon
  call m0 bdev_malloc_create '{"name":"M0","num_blocks":1024,"block_size":512}'
  call m1 bdev_malloc_create '{"name":"M1","num_blocks":1024,"block_size":512}'
  call m2 bdev_malloc_create '{"name":"M2","num_blocks":128,"block_size":4096}'
  call one bdev_raid_create '{"name":"R","raid_level":"raid0","base_bdevs":["M0"]}'
  expect_err one 'needs 2'
  call dup bdev_raid_create '{"name":"R","raid_level":"raid0","base_bdevs":["M0","M0"]}'
  expect_err dup 'listed twice'
  call strip bdev_raid_create '{"name":"R","raid_level":"raid0","strip_size_kb":3,"base_bdevs":["M0","M1"]}'
  expect_err strip 'strip_size_kb.*not a power of two'
  call bs bdev_raid_create '{"name":"R","raid_level":"raid0","base_bdevs":["M0","M2"]}'
  expect_err bs 'block size 4096 differs'
  call lvl bdev_raid_create '{"name":"R","raid_level":"raid9","base_bdevs":["M0","M1"]}'
  expect_err lvl 'unknown level'
  call s0 bdev_split_create '{"base_bdev":"M1","split_count":0}'
  expect_err s0 'split_count.*at least 1'
  call sbig bdev_split_create '{"base_bdev":"M2","split_count":129}'
  expect_err sbig '129 parts of a bdev of only 128 blocks'
  # Nothing half-built: no raid, no part, no claim.
  call raids bdev_raid_get_bdevs '{"category":"all"}'
  pyjson raids 'd == []' || { fail "a raid was left"; show raids; }
  ctl all bdev_get_bdevs
  pyjson all 'sorted(b["name"] for b in d) == ["M0","M1","M2"] and not any(b["claimed"] for b in d)' ||
    { fail "something was left claimed or created"; show all; }
  # A claimed base.
  call ok bdev_raid_create '{"name":"R","raid_level":"raid0","base_bdevs":["M0","M1"]}'
  expect_ok ok
  call claimed bdev_split_create '{"base_bdev":"M0","split_count":2}'
  expect_err claimed "claimed by module 'raid'"
  call again bdev_raid_create '{"name":"R2","raid_level":"concat","base_bdevs":["M1","M9"]}'
  expect_err again 'already a base of raid "R"'
  call d bdev_raid_delete '{"name":"R"}'
  expect_ok d
  call d2 bdev_raid_delete '{"name":"R"}'
  expect_err d2 'No such device|-19'
  stop_daemon
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

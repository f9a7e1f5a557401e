#!/usr/bin/env bash
# Fault tests through the real tools (docs/reliability.md, "Fault tests"): the error
# bdev over bdevd and bdevctl; injected I/O errors under every layer (split, raid0,
# raid1, a QoS-limited bdev) seen exactly once by bdevperf and by iostat; hot removal
# of bases (malloc, aio on a loop device) under bdevperf -z at depth 128; a daemon
# killed with SIGKILL while writing and brought back from its saved config; an RPC
# storm of 32 clients with malformed and oversized requests while I/O runs.
# Usage: fault_test.sh BDEVD BDEVCTL BDEVPERF PATTERN_CHECK CASE
#   CASE: error_bdev, io_errors, corrupt_verify, hot_remove, hot_remove_loop, kill_restart,
#         rpc_storm
BDEVD=$1
BDEVCTL=$2
BDEVPERF=$3
PATTERN_CHECK=$4
CASE=$5
source "$(dirname "$0")/lib.sh"

error_create() { entry bdev_error_create "{\"base_name\":\"$1\"}"; }
split() { entry bdev_split_create "{\"base_bdev\":\"$1\",\"split_count\":$2}"; }
raid() { # NAME LEVEL BASE0 BASE1 (raid0 with a 4 KiB strip; raid1 without)
  local strip=',"strip_size_kb":4'
  [[ $2 == raid1 ]] && strip=
  entry bdev_raid_create "{\"name\":\"$1\",\"raid_level\":\"$2\"$strip,\"base_bdevs\":[\"$3\",\"$4\"]}"
}
qos() { entry bdev_set_qos_limit "{\"name\":\"$1\",\"rw_ios_per_sec\":$2}"; }
inject() { # NAME IO_TYPE ERROR_TYPE NUM
  call "inj_$1_$2" bdev_error_inject_error \
    "{\"name\":\"$1\",\"io_type\":\"$2\",\"error_type\":\"$3\",\"num\":$4}"
  expect_ok "inj_$1_$2"
}
# perf_bg NAME JSON: perform_tests in the background (bdevperf -z on $SOCK).
perf_bg() {
  (timeout 120 "$BDEVCTL" -s "$SOCK" -t 120 call perform_tests "$2" >"$TMP/$1.out" 2>"$TMP/$1.err"
   echo $? >"$TMP/$1.rc") &
  PERF_PID=$!
}
# no_sanitizer_reports: nothing from ASan/UBSan and no BdevIo reported in use at exit.
no_sanitizer_reports() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|BdevIo still in use|I/O outstanding' \
       "$TMP/daemon.log"; then
    fail "sanitizer or leak report in the daemon's log"
    grep -E -A20 'Sanitizer|runtime error|still in use|outstanding' "$TMP/daemon.log" | head -60 >&2
  fi
}

# expect_removal_outcome LEFT OFFLINE: after bases were removed under perform_tests
# (bdevperf -z, $PERF_PID; the jobs' bdevs in ${tops[@]}): perform_tests answered
# (every job's I/O completed), each job failed by the removal (told kRemove, or first an
# I/O failed or was refused with -ENODEV: the held ones fail so, and a submit on another
# thread may come before kRemove reaches it), the daemon lives on, the sorted names of
# the bdevs left and of the offline raids are LEFT and OFFLINE (Python lists), and no
# BdevIo stays taken.
expect_removal_outcome() {
  local left=$1 offline=$2 t
  wait "$PERF_PID"
  [[ $(rc perf) != 124 ]] || fail "perform_tests did not answer"
  for t in "${tops[@]}"; do
    grep -qE "job $t failed: (bdev $t was removed|[a-z_]+( submit)? at LBA 0x[0-9a-f]+ failed: No such device)" "$TMP/perf.err" ||
      { fail "no removal reported for $t"; show perf; }
  done
  alive || fail "bdevperf died"
  ctl left bdev_get_bdevs
  pyjson left "sorted(b['name'] for b in d) == $left" || { fail "bdevs left"; show left; }
  call off bdev_raid_get_bdevs '{"category":"offline"}'
  pyjson off "sorted(r['name'] for r in d) == $offline" || { fail "raids not offline"; show off; }
  expect_no_bdevio_in_use "after the removal"
}

case $CASE in
error_bdev)
  # The module over bdevd: rpc.py's call forms, driver_specific, save_config round
  # trip (declared before its base), delete, bad input.
  start_daemon
  call m bdev_malloc_create '{"name":"M0","num_blocks":2048,"block_size":512}'
  ctl c bdev_error_create M0
  expect_ok c
  ctl c2 bdev_error_create Later -u 0b6c2d0e-3f6a-4f1e-9a7b-5e0f2a1c9d33
  expect_ok c2
  ctl g bdev_get_bdevs -b EE_M0
  pyjson g 'd[0]["product_name"] == "Error Injection Disk" and d[0]["num_blocks"] == 2048 and d[0]["driver_specific"]["error_disk"]["base_bdev"] == "M0" and d[0]["supported_io_types"]["reset"]' ||
    { fail "EE_M0's description"; show g; }
  ctl base bdev_get_bdevs -b M0
  pyjson base 'd[0]["claimed"] and d[0]["claim_type"] == "exclusive_write"' || { fail "M0 not claimed"; show base; }
  ctl i bdev_error_inject_error EE_M0 write corrupt_data -n 3 -o 17 -v 255
  expect_ok i
  ctl g2 bdev_get_bdevs -b EE_M0
  pyjson g2 'd[0]["driver_specific"]["error_disk"]["armed"] == {"write": {"error_type": "corrupt_data", "num": 3, "queue_depth": 0, "corrupt_offset": 17, "corrupt_value": 255}}' ||
    { fail "armed injection"; show g2; }
  ctl bad1 bdev_error_inject_error EE_M0 reset failure
  expect_err bad1 'io_type'
  ctl bad2 bdev_error_inject_error EE_M0 read corrupt_data
  expect_err bad2 'corrupt_value'
  ctl bad3 bdev_error_inject_error M0 read failure
  expect_err bad3 'No such device|-19'
  ctl bad4 bdev_error_create M0
  expect_err bad4 'File exists|-17'
  call bad5 bdev_error_create '{"base_name":"M0","bogus":1}'
  expect_err bad5 'bogus'
  ctl save save_config
  expect_ok save
  # Both written, before the bdevs; the declared one with its UUID.
  uuid=$(pyval g 'd[0]["uuid"]')
  pyjson save "[e['params'] for e in d['subsystems'][0]['config'] if e['method'] == 'bdev_error_create'] == [{'base_name': 'M0', 'uuid': '$uuid'}, {'base_name': 'Later', 'uuid': '0b6c2d0e-3f6a-4f1e-9a7b-5e0f2a1c9d33'}]" ||
    { fail "save_config entries"; show save; }
  cp "$TMP/save.out" "$TMP/saved.json"
  ctl before bdev_get_bdevs
  stop_daemon
  start_daemon --json "$TMP/saved.json"
  ctl after bdev_get_bdevs
  # Same bdevs, same UUIDs; the injection is not saved (as in SPDK).
  python3 - "$TMP/before.out" "$TMP/after.out" <<'PY' || fail "bdevs differ after the round trip"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for x in a:
    x["driver_specific"].get("error_disk", {}).pop("armed", None)
for x in b:
    x["driver_specific"].get("error_disk", {}).pop("armed", None)
sys.exit(0 if a == b else 1)
PY
  call late bdev_malloc_create '{"name":"Later","num_blocks":64,"block_size":512}'
  ctl g3 bdev_get_bdevs -b EE_Later
  pyjson g3 'd[0]["uuid"] == "0b6c2d0e-3f6a-4f1e-9a7b-5e0f2a1c9d33"' || { fail "declared EE_Later"; show g3; }
  ctl d bdev_error_delete EE_M0
  expect_ok d
  ctl d2 bdev_error_delete EE_M0
  expect_err d2 'No such device|-19'
  ctl base2 bdev_get_bdevs -b M0
  pyjson base2 'not d[0]["claimed"]' || { fail "M0 still claimed"; show base2; }
  stop_daemon
  no_sanitizer_reports
  ;;
io_errors)
  # One error bdev under each layer; bdevperf's jobs on the top bdevs (EE_Ap0/EE_Ap1
  # split, R0 raid0, R1 raid1, EE_D limited by QoS), on two reactors. 4 KiB I/O, strip 4 KiB: one raid
  # I/O is one base I/O, so each injected error fails exactly one I/O at the top.
  config "$TMP/c.json" \
    "$(malloc A 8192)" "$(error_create A)" "$(split EE_A 2)" \
    "$(malloc B 8192)" "$(malloc B2 8192)" "$(error_create B)" "$(raid R0 raid0 EE_B B2)" \
    "$(malloc C 8192)" "$(malloc C2 8192)" "$(error_create C)" "$(raid R1 raid1 EE_C C2)" \
    "$(malloc D 8192)" "$(error_create D)" "$(qos EE_D 20000)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -f -q 32 -o 4k -w randrw -M 50 -t 2 -m 0x3
  tops=(EE_Ap0 EE_Ap1 R0 R1 EE_D)
  call st0 bdev_get_iostat '{}'
  for ee in EE_A EE_B EE_C EE_D; do
    inject $ee read failure 5
    inject $ee write failure 4
  done
  call perf perform_tests '{}'
  expect_ok perf
  call st1 bdev_get_iostat '{}'
  call bd bdev_get_bdevs '{}'
  python3 - "$TMP" "${tops[@]}" <<'PY' || fail "errors did not propagate exactly once"
import json, sys
tmp, tops = sys.argv[1], sys.argv[2:]
perf = json.load(open(tmp + "/perf.out"))
jobs = {j["job"]: j for j in perf["results"]}
st0 = {b["name"]: b for b in json.load(open(tmp + "/st0.out"))["bdevs"]}
st1 = {b["name"]: b for b in json.load(open(tmp + "/st1.out"))["bdevs"]}
bdevs = {b["name"]: b for b in json.load(open(tmp + "/bd.out"))}
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        ok = False
check(sorted(jobs) == sorted(tops), "jobs %s" % sorted(jobs))
def errors(name):
    a, b = st0[name]["io_error"], st1[name]["io_error"]
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
def ops(name, key):
    return st1[name][key] - st0[name][key]
# Each top bdev: bdevperf's failed I/O = the layer's error count; successes match too.
for t in tops:
    j = jobs.get(t, {})
    e = errors(t)
    check(j.get("io_failed") == sum(e.values()), "%s: bdevperf failed %s, iostat errors %s" % (t, j.get("io_failed"), e))
    check(j.get("ops", {}).get("read") == ops(t, "num_read_ops"), "%s: reads %s vs iostat %d" % (t, j.get("ops"), ops(t, "num_read_ops")))
    check(j.get("ops", {}).get("write") == ops(t, "num_write_ops"), "%s: writes %s vs iostat %d" % (t, j.get("ops"), ops(t, "num_write_ops")))
# Each error bdev injected all it was told (5 reads + 4 writes), and those are exactly
# the failures above it: no error lost, none doubled.
for ee in ("EE_A", "EE_B", "EE_C", "EE_D"):
    d = bdevs[ee]["driver_specific"]["error_disk"]
    check(d["armed"] == {} and d["injected"]["failure"] == 9, "%s: %s" % (ee, d))
above = {"EE_A": ["EE_Ap0", "EE_Ap1"], "EE_B": ["R0"], "EE_C": ["R1"], "EE_D": ["EE_D"]}
for ee, tops_of in above.items():
    failed = sum(jobs[t]["io_failed"] for t in tops_of if t in jobs)
    rd = sum(errors(t).get("read", 0) for t in tops_of)
    wr = sum(errors(t).get("write", 0) for t in tops_of)
    check(failed == 9 and rd == 5 and wr == 4, "%s: %d failed above it (reads %d, writes %d)" % (ee, failed, rd, wr))
sys.exit(0 if ok else 1)
PY
  [[ $FAILED == 0 ]] || { show perf; show st1; }
  expect_no_bdevio_in_use "after the run"
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
corrupt_verify)
  # Silent corruption: three reads under a split get one byte flipped after the base
  # returned them. The bdev layer sees success (no io_error); bdevperf's verify catches
  # each one as a miscompare (with -f it goes on), exactly three.
  config "$TMP/c.json" "$(malloc X 8192 4096)" "$(error_create X)" "$(split EE_X 2)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -f -q 16 -o 4k -w verify -t 2
  call st0 bdev_get_iostat '{}'
  call inj bdev_error_inject_error '{"name":"EE_X","io_type":"read","error_type":"corrupt_data","num":3,"corrupt_offset":4000,"corrupt_value":128}'
  expect_ok inj
  call perf perform_tests '{}'
  call st1 bdev_get_iostat '{}'
  call bd bdev_get_bdevs '{"name":"EE_X"}'
  pyjson perf 'sum(j["io_failed"] for j in d["results"]) == 3' || { fail "miscompares counted"; show perf; }
  pyjson bd 'd[0]["driver_specific"]["error_disk"]["injected"]["corrupt_data"] == 3' || { fail "injections"; show bd; }
  python3 - "$TMP/st0.out" "$TMP/st1.out" <<'PY' || fail "the layer counted errors for silent corruption"
import json, sys
a, b = ({x["name"]: x["io_error"] for x in json.load(open(p))["bdevs"]} for p in sys.argv[1:])
sys.exit(0 if a == b else 1)
PY
  expect_no_bdevio_in_use "after the run"
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
hot_remove)
  # Every layer over an error bdev over a malloc base, bdevperf -z at depth 128 on
  # each top bdev, on two reactors; some I/O held by "pending" when the bases go.
  config "$TMP/c.json" \
    "$(malloc HA 16384)" "$(error_create HA)" "$(split EE_HA 2)" \
    "$(malloc HB 16384)" "$(malloc HB2 16384)" "$(error_create HB)" "$(raid R0 raid0 EE_HB HB2)" \
    "$(malloc HC 16384)" "$(malloc HC2 16384)" "$(error_create HC)" "$(raid R1 raid1 EE_HC HC2)" \
    "$(malloc HD 16384)" "$(error_create HD)" "$(qos EE_HD 20000)" \
    "$(malloc HE 16384)" "$(error_create HE)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 128 -o 4k -w randrw -M 50 -t 8 -m 0x3
  tops=(EE_HAp0 EE_HAp1 R0 R1 EE_HD EE_HE)
  perf_bg perf '{}'
  wait_for_io "before the removal"
  inject EE_HE write pending 20
  inject EE_HA read pending 10
  sleep 0.3
  dels=()
  for b in HA HB HC HD HE; do
    (ctl "del_$b" bdev_malloc_delete "$b") &
    dels+=($!)
  done
  wait "${dels[@]}"
  for b in HA HB HC HD HE; do expect_ok "del_$b"; done
  # What stays: the bases nobody removed; the raids offline; the rest gone.
  expect_removal_outcome '["HB2", "HC2"]' '["R0", "R1"]'
  # The bases come back: every layer with them, and I/O runs clean.
  for b in HA HB HC HD HE; do
    call "m_$b" bdev_malloc_create "{\"name\":\"$b\",\"num_blocks\":16384,\"block_size\":512}"
    expect_ok "m_$b"
  done
  call w bdev_wait_for_examine '{}'
  call perf2 perform_tests '{"time_in_sec":1}'
  expect_ok perf2
  pyjson perf2 'sorted(j["job"] for j in d["results"]) == sorted(sys.argv[2:]) and all(j["io_failed"] == 0 and j["status"] == "finished" for j in d["results"])' "${tops[@]}" ||
    { fail "run after the bases came back"; show perf2; }
  expect_no_bdevio_in_use "after the second run"
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
hot_remove_loop)
  # aio bdevs on loop devices under an error bdev + split and a raid1, bdevperf -z at
  # depth 128 on each; the loop devices are detached under load, then the aio bdevs
  # deleted. Linux defers a detach while the device is open (the aio bdev keeps it
  # open), so I/O goes on until bdevkit lets go; then the device really goes.
  [[ $(id -u) == 0 ]] || { echo "SKIP: needs root for losetup"; exit 77; }
  LOOPS=()
  detach_loops() { local l; for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; }
  LIB_CLEANUP_HOOK=detach_loops
  for i in 0 1; do
    truncate -s 32M "$TMP/disk$i"
    l=$(losetup -f --show "$TMP/disk$i" 2>"$TMP/losetup.err") ||
      { echo "SKIP: losetup cannot make a loop device: $(cat "$TMP/losetup.err")"; exit 77; }
    LOOPS+=("$l")
  done
  aio() { entry bdev_aio_create "{\"name\":\"$1\",\"filename\":\"$2\"}"; }
  config "$TMP/c.json" \
    "$(aio L0 "${LOOPS[0]}")" "$(error_create L0)" "$(split EE_L0 2)" \
    "$(aio L1 "${LOOPS[1]}")" "$(malloc ML 65536)" "$(raid RL raid1 L1 ML)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 128 -o 4k -w randrw -M 50 -t 8
  tops=(EE_L0p0 EE_L0p1 RL)
  perf_bg perf '{}'
  wait_for_io "before the detach"
  for l in "${LOOPS[@]}"; do losetup -d "$l" || fail "losetup -d $l"; done
  call st0 bdev_get_iostat '{"name":"L0"}'
  sleep 0.5
  call st1 bdev_get_iostat '{"name":"L0"}'
  # Still open by the aio bdev: the detach waits, I/O goes on without errors.
  python3 - "$TMP/st0.out" "$TMP/st1.out" <<'PY' || fail "I/O stopped or failed after the detach"
import json, sys
a, b = (json.load(open(p))["bdevs"][0] for p in sys.argv[1:])
sys.exit(0 if b["num_read_ops"] > a["num_read_ops"] and b["io_error"] == {} else 1)
PY
  call d0 bdev_aio_delete '{"name":"L0"}' &
  D0=$!
  call d1 bdev_aio_delete '{"name":"L1"}'
  wait $D0
  expect_ok d0
  expect_ok d1
  expect_removal_outcome '["ML"]' '["RL"]'
  # bdevkit closed the devices: the deferred detach happened.
  sleep 0.2
  for i in 0 1; do
    losetup -j "$TMP/disk$i" | grep -q . && fail "loop device of disk$i still attached"
  done
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PID"; PID=
  no_sanitizer_reports
  ;;
kill_restart)
  # The daemon that runs I/O (bdevperf -z: bdevd's bdev layer and RPC server, plus
  # jobs; bdevd runs no I/O of its own) writes a verify pattern on an aio and a uring
  # file bdev, flushes, then is killed with SIGKILL while writing elsewhere. bdevd
  # restarted from the config saved before has the same bdevs, and the files hold the
  # pattern, checked byte for byte by vm_pattern_check. bdevd itself killed with
  # SIGKILL restarts on the same socket.
  for f in fa fu fw; do truncate -s 16M "$TMP/$f"; done
  file_bdev() { entry "bdev_$1_create" "{\"name\":\"$2\",\"filename\":\"$TMP/$3\",\"block_size\":4096}"; }
  config "$TMP/c.json" "$(file_bdev aio A0 fa)" "$(file_bdev uring U0 fu)" "$(file_bdev aio W0 fw)" \
    "$(malloc M0 8192)" "$(error_create M0)" "$(split EE_M0 2)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 8 -o 4k -w verify -t 1 --seed 11
  ctl before bdev_get_bdevs
  ctl save save_config
  expect_ok save
  cp "$TMP/save.out" "$TMP/saved.json"
  call verify perform_tests '{}'
  expect_ok verify
  pyjson verify 'all(j["io_failed"] == 0 and j["status"] == "finished" for j in d["results"]) and {"A0", "U0"} <= {j["job"] for j in d["results"]}' ||
    { fail "verify run"; show verify; }
  call flush perform_tests '{"workload_type":"flush","time_in_sec":1}'
  expect_ok flush
  # A0 and U0 now held by a raid waiting for a third base: claimed, no bdev over them,
  # so the next run writes only to the others.
  call hold bdev_raid_create '{"name":"Hold","raid_level":"concat","strip_size_kb":4,"base_bdevs":["A0","U0","Absent"]}'
  expect_ok hold
  perf_bg writes '{"workload_type":"randwrite","time_in_sec":60}'
  wait_for_io "before the kill"
  call w0 bdev_get_iostat '{"name":"W0"}'
  sleep 0.3
  call w1 bdev_get_iostat '{"name":"W0"}'
  python3 - "$TMP/w0.out" "$TMP/w1.out" <<'PY' || fail "no writes running at the kill"
import json, sys
a, b = (json.load(open(p))["bdevs"][0]["num_write_ops"] for p in sys.argv[1:])
sys.exit(0 if b > a else 1)
PY
  kill_daemon
  wait "$PERF_PID"
  # bdevd from the saved config: the same bdevs (names, UUIDs, sizes, layers).
  start_daemon --json "$TMP/saved.json"
  ctl after bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after.out" || { fail "bdevs differ after the restart"; diff "$TMP/before.out" "$TMP/after.out" >&2; }
  # bdevd killed the same way: it comes back on the same socket (stale socket and lock).
  kill_daemon
  start_daemon --json "$TMP/saved.json"
  ctl after2 bdev_get_bdevs
  cmp -s "$TMP/before.out" "$TMP/after2.out" || fail "bdevs differ after bdevd's restart"
  stop_daemon
  # The data written and flushed before the kill is in the files.
  for f in fa fu; do
    "$PATTERN_CHECK" --block-size 4096 --seed 11 --min-blocks 64 "$TMP/$f" >"$TMP/check_$f.out" 2>&1 ||
      { fail "$f: verify data not all there"; cat "$TMP/check_$f.out" >&2; }
  done
  no_sanitizer_reports
  ;;
rpc_storm)
  # 32 clients create and delete bdevs (malloc, an error bdev over it, a split of that)
  # while bdevperf -z runs I/O on two others; malformed, invalid, oversized and
  # truncated requests mixed in. The daemon answers every call right, the I/O sees no
  # error, and its memory returns near where it was after a warm-up storm: within
  # 32 MiB, which covers what is freed but kept by the allocators (ASan's quarantine,
  # limited to 16 MiB here; glibc's per-thread arenas); a leak per request would grow
  # with the rounds (LeakSanitizer checks the exit too).
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
  config "$TMP/c.json" "$(malloc IO0 65536)" "$(malloc IO1 65536)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 32 -o 4k -w randrw -M 50 -t 1
  STORM="python3 $(dirname "$0")/rpc_storm.py $SOCK 32"
  perf_bg perf '{"time_in_sec":600}'
  wait_for_io "before the storm"
  timeout 120 $STORM 2 warm >"$TMP/warm.out" 2>&1 || { fail "warm-up storm"; cat "$TMP/warm.out" >&2; }
  base_kb=$(rss_kb)
  timeout 250 $STORM 12 main >"$TMP/storm.out" 2>&1 || { fail "storm"; cat "$TMP/storm.out" >&2; }
  after_kb=$(rss_kb)
  echo "storm: $(cat "$TMP/storm.out"); RSS ${base_kb} KiB after the warm-up, ${after_kb} KiB after the storm"
  alive || fail "bdevperf died in the storm"
  (( after_kb <= base_kb + 32 * 1024 )) || fail "RSS grew from $base_kb KiB to $after_kb KiB"
  ctl left bdev_get_bdevs
  pyjson left 'sorted(b["name"] for b in d) == ["IO0", "IO1"]' || { fail "bdevs left by the storm"; show left; }
  # End the I/O run: its jobs saw no error.
  call kill spdk_kill_instance '{"sig_name":"SIGTERM"}'
  wait "$PERF_PID"
  wait "$PID"; rc=$?; PID=
  [[ $rc == 0 ]] || fail "bdevperf exit $rc"
  pyjson perf 'sorted(j["job"] for j in d["results"]) == ["IO0", "IO1"] and all(j["io_failed"] == 0 and j["ops"]["read"] > 0 for j in d["results"])' ||
    { fail "I/O failed during the storm"; show perf; }
  no_sanitizer_reports
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

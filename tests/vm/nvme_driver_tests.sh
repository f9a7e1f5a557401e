# The driver tests of nvme_tests.sh (sourced): our user-space NVMe driver on the
# controller bound to $DRIVER by bind_for_driver. Uses MODE, DRIVER, BDF, SETUP, BUILD,
# SRC and the helpers of guest_lib.sh.
#
# A part of the driver that is not in the build yet (its folder has no CMakeLists.txt)
# skips the tests that need it, saying so; once it is in the build, its binary missing
# from $BUILD is a failure. A bdevperf workload or flag not written yet is noted.

SOCK=$VM_WORK/bdevd.sock
CONFIG=$VM_WORK/nvme.json
SEED=4242 # the verify seed of driver_data_to_kernel

# need_bin VAR PATH_IN_BUILD SOURCE_FOLDER: sets VAR to the binary, or skips/fails.
need_bin() {
  local var=$1 rel=$2 src=$3
  [ -f "$SRC/$src/CMakeLists.txt" ] || skip "$src is not in the build yet (no $src/CMakeLists.txt)"
  [ -n "$BUILD" ] || fail "no build folder given (tests/vm/run.sh --build DIR)"
  [ -x "$BUILD/$rel" ] || fail "$BUILD/$rel is missing although $src is in the build (ninja -C $BUILD)"
  printf -v "$var" %s "$BUILD/$rel"
}
# The nvme bdev module in bdevd/bdevperf, and the tools every driver test uses.
need_nvme_module() {
  [ -f "$SRC/modules/nvme/CMakeLists.txt" ] || skip "modules/nvme is not in the build yet (no modules/nvme/CMakeLists.txt)"
  need_bin BDEVD tools/bdevd/bdevd tools/bdevd
  need_bin BDEVCTL tools/bdevctl/bdevctl tools/bdevctl
  need_bin BDEVPERF tools/bdevperf/bdevperf tools/bdevperf
  # (Into a file first: grep -q would end the pipe early, and pipefail would see bdevd's SIGPIPE.)
  "$BDEVD" --dump-rpc-docs >"$VM_WORK/rpc-docs.md" 2>&1
  grep -q bdev_nvme_attach_controller "$VM_WORK/rpc-docs.md" ||
    fail "modules/nvme is in the build but bdevd has no bdev_nvme_attach_controller method"
  [ "$(driver_now)" = "$DRIVER" ] || fail "$BDF is on '$(driver_now)', not $DRIVER (bind_for_driver failed?)"
}
attach_params() { # NAME BDF
  echo "{\"name\": \"$1\", \"trtype\": \"pcie\", \"traddr\": \"$2\"}"
}
write_config() { # FILE: a bdevperf/bdevd config attaching the controller as Nvme0
  cat >"$1" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":{"name":"Nvme0","trtype":"pcie","traddr":"$BDF"}}]}]}
EOF
}
ctl() { # NAME ARGS...: bdevctl on $SOCK
  local name=$1
  shift
  run "$name" 60 "$BDEVCTL" -s "$SOCK" -t 50 "$@"
}
start_bdevd() {
  "$BDEVD" -r "$SOCK" "$@" >"$VM_WORK/bdevd.log" 2>&1 &
  BDEVD_PID=$!
  local deadline=$((SECONDS + 60))
  until "$BDEVCTL" -s "$SOCK" -t 5 spdk_get_version >/dev/null 2>&1; do
    kill -0 $BDEVD_PID 2>/dev/null || { cat "$VM_WORK/bdevd.log"; fail "bdevd exited at start"; }
    [ $SECONDS -lt $deadline ] || fail "bdevd did not answer within 60 s"
    sleep 0.2
  done
}
stop_bdevd() {
  kill -TERM $BDEVD_PID
  local rc=0
  wait $BDEVD_PID || rc=$?
  log "bdevd log:"
  sed 's/^/  | /' "$VM_WORK/bdevd.log"
  [ $rc = 0 ] || fail "bdevd exited with status $rc on SIGTERM"
}
# expect_perf NAME WORKLOAD BDEV...: a bdevperf run's table has a row per bdev with
# IOPS > 0 and no failed I/O.
expect_perf() {
  local name=$1 w=$2 b iops fails
  shift 2
  expect_rc "$name" 0
  for b in "$@"; do
    grep -qE "^Job: $b \(Core Mask 0x[0-9a-f]+, workload: $w" "$VM_WORK/$name.out" || fail "$name: no Job line for $b"
    iops=$(awk -v b="$b" '$1 == b && $2 == ":" { print $4 }' "$VM_WORK/$name.out")
    fails=$(awk -v b="$b" '$1 == b && $2 == ":" { print $6 }' "$VM_WORK/$name.out")
    awk -v v="$iops" 'BEGIN { exit !(v > 0) }' || fail "$name: $b IOPS is '$iops'"
    [ "$fails" = 0.00 ] || fail "$name: $b Fail/s is '$fails'"
  done
}

test_nvme_identify() {
  local IDENTIFY
  need_bin IDENTIFY tools/nvme_identify/nvme_identify tools/nvme_identify
  run identify 120 "$IDENTIFY" "$BDF"
  expect_rc identify 0
  expect_out identify "deadbeef"
  expect_out identify "QEMU NVMe Ctrl"
  run identify_json 120 "$IDENTIFY" --json "$BDF"
  expect_rc identify_json 0
  python3 - "$VM_WORK/identify_json.out" <<'EOF' || fail "nvme_identify --json: see the log"
import json, sys
doc = json.load(open(sys.argv[1]))
text = json.dumps(doc)
assert "deadbeef" in text, "no serial deadbeef"
assert "QEMU NVMe Ctrl" in text, "no model"
print("identify json:", text[:400])
EOF
  run identify_missing 60 "$IDENTIFY" 0000:00:09.0
  [ "$RC" != 0 ] || fail "nvme_identify of a missing device exited 0"
  [ -s "$VM_WORK/identify_missing.err" ] || fail "nvme_identify of a missing device printed no error"
  note "serial deadbeef, model QEMU NVMe Ctrl, 2 namespaces"
}

test_rpc_attach_detach() {
  need_nvme_module
  start_bdevd
  ctl attach call bdev_nvme_attach_controller "$(attach_params Nvme0 "$BDF")"
  expect_rc attach 0
  expect_out attach Nvme0n1
  expect_out attach Nvme0n2
  ctl get1 bdev_get_bdevs -b Nvme0n1
  expect_rc get1 0
  expect_out get1 '"block_size": 512'
  expect_out get1 '"num_blocks": 262144'
  expect_out get1 deadbeef
  ctl get2 bdev_get_bdevs -b Nvme0n2
  expect_rc get2 0
  expect_out get2 '"block_size": 4096'
  expect_out get2 '"num_blocks": 16384'
  ctl ctrlrs bdev_nvme_get_controllers
  expect_rc ctrlrs 0
  expect_out ctrlrs Nvme0
  expect_out ctrlrs "$BDF"
  # Bad input: a second controller of that name, a device that is not there.
  ctl dup call bdev_nvme_attach_controller "$(attach_params Nvme0 "$BDF")"
  [ "$RC" = 1 ] || fail "a second attach as Nvme0 exited $RC, expected 1"
  ctl missing call bdev_nvme_attach_controller "$(attach_params Nvme9 0000:00:09.0)"
  [ "$RC" = 1 ] || fail "attaching a missing device exited $RC, expected 1"
  ctl save save_config
  expect_rc save 0
  expect_out save bdev_nvme_attach_controller
  cp "$VM_WORK/save.out" "$VM_WORK/saved.json"
  ctl detach call bdev_nvme_detach_controller '{"name": "Nvme0"}'
  expect_rc detach 0
  ctl gone bdev_get_bdevs -b Nvme0n1
  [ "$RC" = 1 ] || fail "Nvme0n1 still there after the detach"
  # The controller was shut down cleanly: it attaches again.
  ctl reattach call bdev_nvme_attach_controller "$(attach_params Nvme1 "$BDF")"
  expect_rc reattach 0
  expect_out reattach Nvme1n1
  stop_bdevd
  # save_config round trip: a fresh bdevd from the saved config has the same bdevs.
  start_bdevd --json "$VM_WORK/saved.json"
  ctl loaded bdev_get_bdevs -b Nvme0n2
  expect_rc loaded 0
  expect_out loaded '"block_size": 4096'
  stop_bdevd
}

# start_perf_server ARGS...: bdevperf -z over $CONFIG on $PERF_SOCK, answering RPC.
PERF_SOCK=$VM_WORK/bdevperf.sock
start_perf_server() {
  "$BDEVPERF" -z -r "$PERF_SOCK" -c "$CONFIG" "$@" >"$VM_WORK/zperf.out" 2>&1 &
  PERF_PID=$!
  SOCK=$PERF_SOCK # ctl talks to it from now on
  local deadline=$((SECONDS + 60))
  until "$BDEVCTL" -s "$PERF_SOCK" -t 5 bdev_get_bdevs -b Nvme0n2 >/dev/null 2>&1; do
    kill -0 $PERF_PID 2>/dev/null || { cat "$VM_WORK/zperf.out"; fail "bdevperf -z exited at start"; }
    [ $SECONDS -lt $deadline ] || fail "bdevperf -z did not answer within 60 s"
    sleep 0.2
  done
}
stop_perf_server() {
  "$BDEVCTL" -s "$PERF_SOCK" -t 30 spdk_kill_instance SIGTERM >/dev/null 2>&1 || kill -TERM $PERF_PID
  local rc=0
  wait $PERF_PID || rc=$?
  log "bdevperf -z output:"
  sed 's/^/  | /' "$VM_WORK/zperf.out"
  [ $rc = 0 ] || fail "bdevperf -z exited with status $rc"
}

test_bdevperf_workloads() {
  need_nvme_module
  write_config "$CONFIG"
  # verify from the command line, as a user runs it...
  run perf_cli 120 "$BDEVPERF" -c "$CONFIG" -q 32 -o 4k -w verify -t 2
  expect_perf perf_cli verify Nvme0n1 Nvme0n2
  # ... and every workload bdevperf has in one bdevperf -z, one perform_tests each: the
  # controller is attached once (start-up costs more than the I/O under ASan and TCG).
  local have w size missing="" runs=()
  "$BDEVPERF" --help >"$VM_WORK/perf-help.txt" 2>&1
  have=$(grep -E '^ *-w ' "$VM_WORK/perf-help.txt")
  for w in verify write read randread randwrite rw randrw unmap write_zeroes flush reset; do
    if grep -qw "$w" <<<"$have"; then runs+=("$w:4k"); else missing+=" $w"; fi
  done
  # Multi-page transfers: 128 KiB needs a PRP list; 1 MiB is above the controller's
  # MDTS (512 KiB), so the bdev layer splits it.
  runs+=(verify:128k verify:1m)
  start_perf_server -q 32 -o 4k -w verify -t 2
  local spec params
  for spec in "${runs[@]}"; do
    w=${spec%%:*}
    size=${spec##*:}
    params="{\"workload_type\": \"$w\", \"io_size\": \"$size\", \"time_in_sec\": 2, \"queue_depth\": 16"
    case $w in rw | randrw) params+=", \"rw_percentage\": 50" ;; esac
    ctl "pt_${w}_$size" call perform_tests "$params}"
    expect_rc "pt_${w}_$size" 0
  done
  stop_perf_server
  # Each run: both namespaces did I/O of the workload's types, none failed.
  python3 - "$VM_WORK" "${runs[@]}" <<'PYEOF' || fail "perform_tests results: see the log"
import json, sys
work, runs = sys.argv[1], sys.argv[2:]
types = {"read": ["read"], "randread": ["read"], "write": ["write"], "randwrite": ["write"],
         "rw": ["read", "write"], "randrw": ["read", "write"], "verify": ["read", "write"],
         "reset": ["read", "write", "reset"], "unmap": ["unmap"], "flush": ["flush"],
         "write_zeroes": ["write_zeroes"]}
bad = []
for spec in runs:
    w, size = spec.split(":")
    doc = json.load(open(f"{work}/pt_{w}_{size}.out"))
    jobs = {r["job"]: r for r in doc["results"]}
    for b in ("Nvme0n1", "Nvme0n2"):
        r = jobs.get(b)
        if r is None:
            bad.append(f"{spec}: no result for {b}")
            continue
        # The reset workload counts, as SPDK's, the I/O refused or cancelled while the
        # bdev is frozen by a reset as failed (and goes on); reset_under_io checks that a
        # controller reset loses nothing in flight.
        failed_ok = w == "reset"
        if (r["io_failed"] != 0 and not failed_ok) or r["io_timeout"] != 0:
            bad.append(f"{spec} {b}: {r['io_failed']} failed, {r['io_timeout']} timed out")
        for t in types[w]:
            if r["ops"].get(t, 0) == 0:
                bad.append(f"{spec} {b}: no {t} I/O ({r['ops']})")
        print(f"{spec:18} {b}: {r['iops']:9.1f} IOPS, ops {r['ops']}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PYEOF
  note "verify (command line); perform_tests: ${runs[*]}${missing:+; bdevperf has no workload:$missing}"
}

test_driver_device_tests() {
  local DEVTEST
  need_bin DEVTEST tests/unit/modules/nvme/nvme_device_test tests/unit/modules/nvme
  NVME_TEST_BDF=$BDF run devtest 540 "$DEVTEST"
  expect_rc devtest 0
  grep -q 'SKIPPED' "$VM_WORK/devtest.out" && fail "device tests were skipped with a device present"
  expect_out devtest '^\[  PASSED  \] [0-9]+ test'
  note "$(grep -E '^\[  PASSED  \]' "$VM_WORK/devtest.out")"
}

test_reset_under_io() {
  need_nvme_module
  "$BDEVPERF" --help >"$VM_WORK/perf-help.txt" 2>&1
  grep -qE '^ *-z ' "$VM_WORK/perf-help.txt" || skip "bdevperf has no -z (wait for perform_tests over RPC) yet"
  write_config "$CONFIG"
  start_perf_server -q 32 -o 4k -w verify -t 20
  "$BDEVCTL" -s "$PERF_SOCK" -t 120 call perform_tests "{}" >"$VM_WORK/perform.out" 2>"$VM_WORK/perform.err" &
  local tests_pid=$! i
  for i in 1 2 3; do
    sleep 2
    kill -0 $tests_pid 2>/dev/null || break
    ctl "reset$i" call bdev_nvme_reset_controller '{"name": "Nvme0"}'
    expect_rc "reset$i" 0
  done
  [ "${i}" = 3 ] || fail "perform_tests ended before the third reset: make the run longer"
  local rc=0
  wait $tests_pid || rc=$?
  log "perform_tests:"
  sed 's/^/  | /' "$VM_WORK/perform.out" "$VM_WORK/perform.err"
  stop_perf_server
  # perform_tests answers with an error when any I/O failed or a verify miscompared.
  [ $rc = 0 ] || fail "perform_tests failed (exit $rc) across three controller resets: $(head -c 300 "$VM_WORK/perform.err")"
  grep -qE '"io_failed": *[1-9]' "$VM_WORK/perform.out" && fail "I/O failed across the resets"
  note "verify on both namespaces across 3 resets of the controller, no failed I/O"
}

# Hot removal under load (issue 9): the controller is detached over RPC while bdevperf
# runs at QD 128 on every layer above it: split parts of namespace 1, and a raid0 over
# split parts of namespace 2. bdevperf lives, perform_tests answers (its I/O fails from
# the detach on), nothing stays in flight, the namespaces and split parts go, the raid
# goes offline; once the controller is attached again, everything is back and a verify
# run over the whole stack passes.
test_detach_under_io() {
  need_nvme_module
  cat >"$CONFIG" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":{"name":"Nvme0","trtype":"pcie","traddr":"$BDF"}},
 {"method":"bdev_split_create","params":{"base_bdev":"Nvme0n1","split_count":2}},
 {"method":"bdev_split_create","params":{"base_bdev":"Nvme0n2","split_count":2}},
 {"method":"bdev_raid_create","params":{"name":"Raid0","raid_level":"raid0","strip_size_kb":64,
  "base_bdevs":["Nvme0n2p0","Nvme0n2p1"]}},
 {"method":"bdev_wait_for_examine"}]}]}
EOF
  start_perf_server -q 128 -o 4k -w randwrite -t 30
  "$BDEVCTL" -s "$PERF_SOCK" -t 120 call perform_tests "{}" >"$VM_WORK/perform.out" 2>"$VM_WORK/perform.err" &
  local tests_pid=$!
  # Detach only once the jobs have I/O in flight (a slow start must not beat us).
  poll 60 "I/O in flight before the detach" \
    sh -c "'$BDEVCTL' -s '$PERF_SOCK' -t 5 call bdev_get_io_pools '{}' | grep -qE '\"in_use\": *[1-9]'"
  ctl detach call bdev_nvme_detach_controller '{"name": "Nvme0"}'
  expect_rc detach 0
  # perform_tests must answer, not hang, once its bdevs are gone.
  timeout 120 tail --pid=$tests_pid -f /dev/null || fail "perform_tests did not answer within 120 s of the detach"
  local rc=0
  wait $tests_pid || rc=$?
  log "perform_tests (exit $rc):"
  sed 's/^/  | /' "$VM_WORK/perform.out" "$VM_WORK/perform.err"
  kill -0 $PERF_PID 2>/dev/null || fail "bdevperf died on the detach"
  ctl pools call bdev_get_io_pools '{}'
  expect_rc pools 0
  python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["in_use"] != 0)' \
    "$VM_WORK/pools.out" || fail "BdevIo still in use after perform_tests answered: $(out pools)"
  ctl gone call bdev_get_bdevs '{}'
  expect_rc gone 0
  grep -qE '"name": "(Nvme0n[12]|Nvme0n1p[01])"' "$VM_WORK/gone.out" &&
    fail "namespaces or split parts still registered after the detach"
  ctl raid call bdev_raid_get_bdevs '{"category": "all"}'
  expect_rc raid 0
  expect_out raid '"state": "(offline|configuring)"'
  # Back: the parts and the raid were declared, so they return with the namespaces.
  ctl attach call bdev_nvme_attach_controller "$(attach_params Nvme0 "$BDF")"
  expect_rc attach 0
  poll 60 "Raid0 online again" \
    sh -c "'$BDEVCTL' -s '$PERF_SOCK' -t 5 call bdev_raid_get_bdevs '{\"category\": \"online\"}' | grep -q Raid0"
  ctl again call perform_tests '{"workload_type": "verify", "time_in_sec": 2, "queue_depth": 32}'
  expect_rc again 0
  expect_out again '"job": "Raid0"'
  expect_out again '"job": "Nvme0n1p1"'
  stop_perf_server
  note "detached under QD 128 on split and raid0-over-split: perform_tests answered, nothing in flight, raid offline; re-attached: all back, verify passed"
}

test_driver_data_to_kernel() {
  need_nvme_module
  need_bin CHECK tests/vm/vm_pattern_check tests/vm
  write_config "$CONFIG"
  # Our driver writes verify data over the start of both namespaces...
  run perf_seed 120 "$BDEVPERF" -c "$CONFIG" -q 16 -o 64k -w verify -t 3 --seed $SEED
  expect_perf perf_seed verify Nvme0n1 Nvme0n2
  # ... the kernel takes the controller back ...
  run reset 60 "$SETUP" reset
  expect_rc reset 0
  poll 30 "/dev/nvme0n1 and /dev/nvme0n2 after the rebind to nvme" test -b /dev/nvme0n1 -a -b /dev/nvme0n2
  # ... and reads, with dd, exactly what bdevperf wrote, block by block.
  local ns bs summary=""
  for ns in 1 2; do
    bs=$(cat /sys/block/nvme0n$ns/queue/logical_block_size)
    log "dd if=/dev/nvme0n$ns | vm_pattern_check --block-size $bs --seed $SEED"
    dd if=/dev/nvme0n$ns bs=1M iflag=direct status=none |
      timeout 120 "$CHECK" --block-size "$bs" --seed $SEED --min-blocks 128 >"$VM_WORK/check$ns.out" 2>&1
    local rc=$?
    cat "$VM_WORK/check$ns.out"
    [ $rc = 0 ] || fail "nvme0n$ns: $(tail -n1 "$VM_WORK/check$ns.out")"
    summary+=" n$ns: $(grep -oE 'the first [0-9]+ hold' "$VM_WORK/check$ns.out" | cut -d' ' -f3) blocks of $bs bytes;"
  done
  note "the kernel read back what our driver wrote:${summary%;}"
}

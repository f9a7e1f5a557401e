# The tests of our NVMe/TCP initiator (sourced by nvme_tcp_tests.sh, which set up the
# kernel's target first): the NVMe driver's TCP transport in bdevd, bdevperf and
# nvme_identify against $NQN on $TCP_ADDR:$TCP_PORT. Uses NQN, TCP_ADDR, TCP_PORT, the
# NS* facts, BUILD, SRC, the helpers of guest_lib.sh and nvme_driver_tests.sh.

TCP_SEED=4343 # the verify seed of tcp_data_to_kernel

# need_tcp_transport: bdevd, bdevctl, bdevperf with the nvme module's TCP transport;
# skips while bdev_nvme_attach_controller's trtype knows only pcie.
need_tcp_transport() {
  [ -f "$SRC/modules/nvme/CMakeLists.txt" ] || skip "modules/nvme is not in the build"
  need_bin BDEVD tools/bdevd/bdevd tools/bdevd
  need_bin BDEVCTL tools/bdevctl/bdevctl tools/bdevctl
  need_bin BDEVPERF tools/bdevperf/bdevperf tools/bdevperf
  "$BDEVD" --dump-rpc-docs >"$VM_WORK/rpc-docs.md" 2>&1
  local trtype
  trtype=$(awk -F'|' '/^### bdev_nvme_attach_controller/ { on = 1 } on && /^\| `trtype`/ { print $6; exit }' "$VM_WORK/rpc-docs.md")
  [ -n "$trtype" ] || fail "bdevd has no bdev_nvme_attach_controller with a trtype parameter"
  grep -qi tcp <<<"$trtype" || skip "the NVMe driver has no TCP transport yet (trtype:${trtype})"
  nvmet_listening || fail "the target does not listen on $TCP_PORT (target_up failed?)"
}

# tcp_params NAME [EXTRA]: bdev_nvme_attach_controller's params for our target;
# EXTRA is more JSON members, e.g. '"hdgst": true'.
tcp_params() {
  echo "{\"name\": \"$1\", \"trtype\": \"tcp\", \"adrfam\": \"ipv4\", \"traddr\": \"$TCP_ADDR\", \"trsvcid\": \"$TCP_PORT\", \"subnqn\": \"$NQN\"${2:+, $2}}"
}
tcp_config() { # FILE NAME [EXTRA]: a bdevperf/bdevd config attaching our target as NAME
  cat >"$1" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":$(tcp_params "$2" "${3:-}")}]}]}
EOF
}

# rpcq SOCK METHOD PARAMS [EXPR]: a JSON-RPC call on SOCK from python3, for the tests'
# polls and state reads (an ASan bdevctl takes seconds to start under TCG, python3 a
# fraction of that; the RPCs under test still go through bdevctl). Prints the result
# as JSON, or EXPR evaluated with `r` = the result (and field(v, "a.b")); exit 1 on an
# error reply or no answer within 10 s.
rpcq() {
  python3 - "$@" <<'PYEOF'
import json, socket, sys
sock, method, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sock)
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode())
buf, dec = b"", json.JSONDecoder()
while True:
    chunk = s.recv(1 << 16)
    if not chunk:
        sys.exit("rpcq: the connection closed before a reply")
    buf += chunk
    try:
        reply, _ = dec.raw_decode(buf.decode())
        break
    except ValueError:
        continue
if "error" in reply:
    sys.exit(f"rpcq: {method}: {reply['error']}")
r = reply["result"]
def field(v, path):  # v["a"]["b"] for path "a.b", "?" where there is no such member
    for k in path.split("."):
        v = v.get(k, "?") if isinstance(v, dict) else "?"
    return v
print(json.dumps(r) if len(sys.argv) < 5 else eval(sys.argv[4]))
PYEOF
}

# start_tcp_perf BDEV ARGS...: bdevperf -z over $CONFIG on $PERF_SOCK, once BDEV is there.
start_tcp_perf() {
  local bdev=$1
  shift
  "$BDEVPERF" -z -r "$PERF_SOCK" -c "$CONFIG" "$@" >"$VM_WORK/zperf.out" 2>&1 &
  PERF_PID=$!
  SOCK=$PERF_SOCK
  local deadline=$((SECONDS + 90))
  until rpcq "$PERF_SOCK" bdev_get_bdevs "{\"name\": \"$bdev\"}" >/dev/null 2>&1; do
    kill -0 $PERF_PID 2>/dev/null || { cat "$VM_WORK/zperf.out"; fail "bdevperf -z exited at start"; }
    [ $SECONDS -lt $deadline ] || fail "bdevperf -z did not have $bdev within 90 s"
    sleep 0.2
  done
}

# perform_bg PARAMS: perform_tests in the background (PT_PID; PT_OUT/PT_ERR files).
perform_bg() {
  PT_OUT=$VM_WORK/perform.out PT_ERR=$VM_WORK/perform.err
  "$BDEVCTL" -s "$PERF_SOCK" -t 600 call perform_tests "$1" >"$PT_OUT" 2>"$PT_ERR" &
  PT_PID=$!
}
# perform_wait SECONDS: waits for perform_tests (failing the test if it does not answer
# within SECONDS); sets PT_RC.
perform_wait() {
  timeout "$1" tail --pid=$PT_PID -f /dev/null || fail "perform_tests did not answer within $1 s"
  PT_RC=0
  wait $PT_PID || PT_RC=$?
  log "perform_tests (exit $PT_RC):"
  sed 's/^/  | /' "$PT_OUT" "$PT_ERR"
}
in_flight() { # some BdevIo of bdevperf is taken
  rpcq "$PERF_SOCK" bdev_get_io_pools '{}' | grep -qE '"in_use": *[1-9]'
}

# check_results FILE ALLOW_FAILED SPEC BDEV...: a perform_tests answer (JSON) where each
# BDEV did I/O of SPEC's types (SPEC = workload[:size]) and none failed or timed out
# (unless ALLOW_FAILED=1).
check_results() {
  python3 - "$@" <<'PYEOF' || fail "perform_tests results of $3: see the log"
import json, sys
path, allow_failed, spec, bdevs = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4:]
w = spec.split(":")[0]
types = {"read": ["read"], "randread": ["read"], "write": ["write"], "randwrite": ["write"],
         "rw": ["read", "write"], "randrw": ["read", "write"], "verify": ["read", "write"],
         "reset": ["read", "write", "reset"], "unmap": ["unmap"], "flush": ["flush"],
         "write_zeroes": ["write_zeroes"]}
jobs = {r["job"]: r for r in json.load(open(path))["results"]}
bad = []
for b in bdevs:
    r = jobs.get(b)
    if r is None:
        bad.append(f"no result for {b}")
        continue
    if (r["io_failed"] and not allow_failed) or r["io_timeout"]:
        bad.append(f"{b}: {r['io_failed']} failed, {r['io_timeout']} timed out")
    for t in types[w]:
        if r["ops"].get(t, 0) == 0:
            bad.append(f"{b}: no {t} I/O ({r['ops']})")
    print(f"{spec:18} {b}: {r['iops']:9.1f} IOPS, ops {r['ops']}, failed {r['io_failed']}")
for b in bad:
    print("FAIL:", spec, b)
sys.exit(1 if bad else 0)
PYEOF
}

# ctrlr_field NAME FIELD: FIELD of controller NAME's first path in
# bdev_nvme_get_controllers on $SOCK ("state", or trid.X), or "gone" when not listed.
ctrlr_field() {
  rpcq "$SOCK" bdev_nvme_get_controllers '{}' \
    "next((field(c['ctrlrs'][0], '$2') for c in r if c['name'] == '$1'), 'gone')" 2>/dev/null
}

ctrlr_state_is() { [ "$(ctrlr_field "$1" state)" = "$2" ]; }
ctrlr_state_not() { [ "$(ctrlr_field "$1" state)" != "$2" ]; }
ctrlr_given_up() { case "$(ctrlr_field "$1" state)" in gone | failed) return 0 ;; esac; return 1; }

test_tcp_identify() {
  local IDENTIFY
  need_bin IDENTIFY tools/nvme_identify/nvme_identify tools/nvme_identify
  "$IDENTIFY" --help >"$VM_WORK/identify-help.txt" 2>&1
  grep -qiE -- '-t .*tcp|tcp' "$VM_WORK/identify-help.txt" || skip "nvme_identify has no TCP options yet"
  nvmet_listening || fail "the target does not listen on $TCP_PORT (target_up failed?)"
  run identify 120 "$IDENTIFY" -t tcp -a "$TCP_ADDR" -s "$TCP_PORT" -n "$NQN"
  expect_rc identify 0
  expect_out identify "bdevkit-tcp" # the subsystem's serial (nvmet_up)
  expect_out identify "Linux"       # nvmet's model
  run identify_json 120 "$IDENTIFY" --json -t tcp -a "$TCP_ADDR" -s "$TCP_PORT" -n "$NQN"
  expect_rc identify_json 0
  python3 - "$VM_WORK/identify_json.out" "$NQN" $NS1_BLOCKS $NS2_BLOCKS <<'EOF' || fail "nvme_identify --json over TCP: see the log"
import json, sys
doc, nqn, n1, n2 = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
text = json.dumps(doc)
assert "bdevkit-tcp" in text, "no serial bdevkit-tcp"
assert nqn in text, f"no subsystem NQN {nqn}"
assert str(n1) in text and str(n2) in text, f"namespace sizes {n1} and {n2} blocks not both there"
print("identify json:", text[:600])
EOF
  run identify_closed 60 "$IDENTIFY" -t tcp -a "$TCP_ADDR" -s $((TCP_PORT + 1)) -n "$NQN"
  [ "$RC" != 0 ] || fail "nvme_identify of a closed port exited 0"
  [ -s "$VM_WORK/identify_closed.err" ] || fail "nvme_identify of a closed port printed no error"
  note "serial bdevkit-tcp, model Linux, $NQN; a closed port is an error"
}

# attach_fails NAME PARAMS REGEX: the attach exits 1 with an error matching REGEX.
attach_fails() {
  ctl "$1" call bdev_nvme_attach_controller "$2"
  [ "$RC" = 1 ] || fail "$1: the attach exited $RC, expected 1"
  grep -qiE -- "$3" "$VM_WORK/$1.err" || fail "$1: the error does not match /$3/: $(head -c 300 "$VM_WORK/$1.err")"
}

# Attach over RPC, the bdevs and the TCP trid, bad input (nothing left behind by a
# failed attach), save_config, detach (connections closed), a fresh bdevd from the
# saved config. One bdevd for all of it: each start costs seconds under ASan and TCG.
test_tcp_attach_detach() {
  need_tcp_transport
  start_bdevd
  # Bad input first, on an empty bdevd: each fails with a clear error.
  local wrong_nqn=nqn.2026-11.io.bdevkit:no-such-subsystem
  attach_fails wrong_nqn "$(tcp_params Bad0 | sed "s/$NQN/$wrong_nqn/")" "$wrong_nqn"
  attach_fails closed_port "$(tcp_params Bad0 | sed "s/\"$TCP_PORT\"/\"$((TCP_PORT + 1))\"/")" "refused.*$((TCP_PORT + 1))|$((TCP_PORT + 1)).*refused"
  attach_fails bad_addr "$(tcp_params Bad0 | sed "s/\"$TCP_ADDR\"/\"not-an-address\"/")" "traddr.*not-an-address"
  attach_fails no_addr "{\"name\": \"Bad0\", \"trtype\": \"tcp\", \"adrfam\": \"ipv4\", \"trsvcid\": \"$TCP_PORT\", \"subnqn\": \"$NQN\"}" "traddr"
  local left
  left=$(rpcq "$SOCK" bdev_get_bdevs '{}' '" ".join(b["name"] for b in r)') || fail "bdev_get_bdevs failed"
  [ -z "$left" ] || fail "the failed attaches left bdevs behind: $left"
  [ "$(ctrlr_field Bad0 state)" = gone ] || fail "the failed attaches left controller Bad0 behind"
  [ "$(tcp_conns)" = 0 ] || fail "the failed attaches left $(tcp_conns) connections open"

  ctl attach call bdev_nvme_attach_controller "$(tcp_params Tcp0)"
  expect_rc attach 0
  expect_out attach Tcp0n1
  expect_out attach Tcp0n2
  rpcq "$SOCK" bdev_get_bdevs '{}' >"$VM_WORK/bdevs.out" || fail "bdev_get_bdevs failed"
  python3 - "$VM_WORK/bdevs.out" $NS1_BS $NS1_BLOCKS $NS2_BS $NS2_BLOCKS <<'EOF' || fail "the geometry of Tcp0n1/Tcp0n2 (see the log)"
import json, sys
bdevs = {b["name"]: b for b in json.load(open(sys.argv[1]))}
for name, bs, n in (("Tcp0n1", sys.argv[2], sys.argv[3]), ("Tcp0n2", sys.argv[4], sys.argv[5])):
    b = bdevs[name]
    print(name, b["block_size"], b["num_blocks"])
    assert (b["block_size"], b["num_blocks"]) == (int(bs), int(n)), f"{name}: {b['block_size']} x {b['num_blocks']}, expected {bs} x {n}"
EOF
  rpcq "$SOCK" bdev_nvme_get_controllers '{}' >"$VM_WORK/ctrlrs.out" || fail "bdev_nvme_get_controllers failed"
  python3 - "$VM_WORK/ctrlrs.out" "$NQN" "$TCP_ADDR" "$TCP_PORT" <<'EOF' || fail "bdev_nvme_get_controllers: no TCP trid for Tcp0 (see the log)"
import json, sys
doc, nqn, addr, port = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
c = next(c for c in doc if c["name"] == "Tcp0")
trid = c["ctrlrs"][0]["trid"]
print("Tcp0:", json.dumps(c["ctrlrs"][0]))
assert trid["trtype"].lower() == "tcp", trid
assert trid["adrfam"].lower() == "ipv4", trid
assert trid["traddr"] == addr and str(trid["trsvcid"]) == port and trid["subnqn"] == nqn, trid
EOF
  [ "$(tcp_conns)" -gt 0 ] || fail "Tcp0 is attached but no connection to port $TCP_PORT is open"
  ctl dup call bdev_nvme_attach_controller "$(tcp_params Tcp0)"
  [ "$RC" = 1 ] || fail "a second attach as Tcp0 exited $RC, expected 1"
  # The same subsystem under another name is refused too (one path per subsystem).
  attach_fails same_subsys "$(tcp_params Tcp9)" "already attached|Tcp0"
  ctl save save_config
  expect_rc save 0
  python3 - "$VM_WORK/save.out" "$NQN" "$TCP_ADDR" "$TCP_PORT" <<'EOF' || fail "save_config has no tcp bdev_nvme_attach_controller of Tcp0 (see the log)"
import json, sys
doc, nqn, addr, port = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
entries = [e["params"] for s in doc["subsystems"] if s["subsystem"] == "bdev" for e in s["config"]
           if e["method"] == "bdev_nvme_attach_controller"]
print("saved attach entries:", json.dumps(entries))
p = next(p for p in entries if p["name"] == "Tcp0")
assert p["trtype"].lower() == "tcp" and p["traddr"] == addr and str(p["trsvcid"]) == port, p
assert p["subnqn"] == nqn, p
EOF
  cp "$VM_WORK/save.out" "$VM_WORK/saved.json"
  ctl detach call bdev_nvme_detach_controller '{"name": "Tcp0"}'
  expect_rc detach 0
  rpcq "$SOCK" bdev_get_bdevs '{"name": "Tcp0n1"}' && fail "Tcp0n1 still there after the detach"
  [ "$(ctrlr_field Tcp0 state)" = gone ] || fail "Tcp0 still listed after the detach"
  # The detach closed the connections (bdevd is still running).
  poll 10 "the connections to close after the detach" no_tcp_conns
  # The name and the subsystem are free again.
  ctl reattach call bdev_nvme_attach_controller "$(tcp_params Bad0)"
  expect_rc reattach 0
  expect_out reattach Bad0n2
  stop_bdevd
  # save_config round trip: a fresh bdevd from the saved config has the same bdevs.
  start_bdevd --json "$VM_WORK/saved.json"
  [ "$(rpcq "$SOCK" bdev_get_bdevs '{"name": "Tcp0n2"}' 'r[0]["num_blocks"]')" = $NS2_BLOCKS ] ||
    fail "the bdevd started from the saved config has no Tcp0n2 of $NS2_BLOCKS blocks"
  stop_bdevd
  note "bad input (wrong subnqn, closed port, bad/missing traddr, same subsystem twice) refused cleanly; Tcp0n1 ($NS1_BLOCKS x $NS1_BS), Tcp0n2 ($NS2_BLOCKS x $NS2_BS), TCP trid, detach closed the connections, save_config round trip"
}

test_tcp_workloads() {
  need_tcp_transport
  tcp_config "$CONFIG" Tcp0
  # Every I/O type on both namespaces in one bdevperf -z (attached once); 128 KiB and
  # 1 MiB writes are above nvmet-tcp's in-capsule data size, so they need R2T.
  local specs=(verify:4k randread:4k randwrite:4k randrw:4k unmap:4k flush:4k reset:4k
    verify:128k verify:1m) spec w size params t
  start_tcp_perf Tcp0n2 -q 32 -o 4k -w verify -t 2
  for spec in "${specs[@]}"; do
    w=${spec%%:*} size=${spec##*:}
    # 1 s of each I/O type (under TCG that is still thousands of I/Os); 2 s for the
    # verify runs (written, then read back and compared) and for reset (a reset per second).
    case $w in verify | reset) t=2 ;; *) t=1 ;; esac
    params="{\"workload_type\": \"$w\", \"io_size\": \"$size\", \"time_in_sec\": $t, \"queue_depth\": 16"
    case $w in rw | randrw) params+=", \"rw_percentage\": 50" ;; esac
    ctl "pt_${w}_$size" call perform_tests "$params}"
    expect_rc "pt_${w}_$size" 0
    # reset: I/O refused around a reset counts as failed and the job goes on.
    check_results "$VM_WORK/pt_${w}_$size.out" "$([ "$w" = reset ] && echo 1 || echo 0)" "$spec" Tcp0n1 Tcp0n2
  done
  stop_perf_server
  # Write zeroes (from the command line): the block device behind namespace 2 does it;
  # the tmpfs file behind namespace 1 cannot (no FALLOC_FL_ZERO_RANGE), so the target
  # fails each one, and our initiator must report that as a failed job, not hang.
  run wz_ok 180 "$BDEVPERF" -c "$CONFIG" -T Tcp0n2 -q 16 -o 4k -w write_zeroes -t 1
  expect_perf wz_ok write_zeroes Tcp0n2
  run wz_fail 180 "$BDEVPERF" -c "$CONFIG" -T Tcp0n1 -q 16 -o 4k -w write_zeroes -t 1
  [ "$RC" = 1 ] || fail "write_zeroes on Tcp0n1 (the target cannot) exited $RC, expected 1"
  expect_err wz_fail "job Tcp0n1 failed"
  note "${specs[*]} on both namespaces; write_zeroes on ns2, and ns1's target error reported"
}

test_tcp_digests() {
  need_tcp_transport
  tcp_config "$CONFIG" Tcp0 '"hdgst": true, "ddgst": true'
  start_tcp_perf Tcp0n2 -q 32 -o 4k -w verify -t 2
  local spec w size t
  for spec in verify:4k verify:128k randrw:16k unmap:4k; do
    w=${spec%%:*} size=${spec##*:}
    t=$([ "$w" = verify ] && echo 2 || echo 1)
    ctl "dg_${w}_$size" call perform_tests "{\"workload_type\": \"$w\", \"io_size\": \"$size\", \"time_in_sec\": $t, \"queue_depth\": 16$([[ $w == randrw ]] && echo ', "rw_percentage": 50')}"
    expect_rc "dg_${w}_$size" 0
    check_results "$VM_WORK/dg_${w}_$size.out" 0 "$spec" Tcp0n1 Tcp0n2
  done
  stop_perf_server
  note "hdgst+ddgst: verify 4k/128k, randrw 16k, unmap on both namespaces"
}

# end_run: ends the long perform_tests run (bdevperf answers it with the results so
# far, then exits) and waits for both; PT_RC is perform_tests' status.
end_run() {
  "$BDEVCTL" -s "$PERF_SOCK" -t 30 spdk_kill_instance SIGTERM >/dev/null 2>&1 || kill -TERM $PERF_PID
  perform_wait 120
  local rc=0
  wait $PERF_PID || rc=$?
  log "bdevperf -z output:"
  sed 's/^/  | /' "$VM_WORK/zperf.out"
  [ $rc = 0 ] || fail "bdevperf -z exited with status $rc"
}
# ops_done: reads and writes bdevperf's bdevs completed so far (bdev_get_iostat).
ops_done() {
  rpcq "$PERF_SOCK" bdev_get_iostat '{}' 'sum(b["num_read_ops"] + b["num_write_ops"] for b in r["bdevs"])'
}
# more_ops_than N: I/O went on past N.
more_ops_than() { [ "$(ops_done)" -gt "$1" ]; }

# bdev_nvme_reset_controller twice under a verify run: a TCP reset re-connects every
# queue; nothing in flight is lost.
test_tcp_reset_under_io() {
  need_tcp_transport
  tcp_config "$CONFIG" Tcp0
  start_tcp_perf Tcp0n2 -q 32 -o 4k -w verify -t 600
  local creates i ops
  creates=$(nvmet_creates)
  perform_bg '{"time_in_sec": 600}'
  poll 60 "I/O in flight" in_flight
  for i in 1 2; do
    ctl "reset$i" call bdev_nvme_reset_controller '{"name": "Tcp0"}'
    expect_rc "reset$i" 0
    ops=$(ops_done)
    poll 60 "I/O after reset $i" more_ops_than "$ops"
  done
  kill -0 $PT_PID 2>/dev/null || fail "perform_tests ended during the resets"
  end_run
  [ "$PT_RC" = 0 ] || fail "verify failed across two controller resets: $(head -c 300 "$PT_ERR")"
  check_results "$PT_OUT" 0 verify Tcp0n1 Tcp0n2
  [ "$(nvmet_creates)" -ge $((creates + 2)) ] || fail "the target saw $(($(nvmet_creates) - creates)) new controllers, expected 2 (one per reset)"
  note "verify across 2 resets (the target saw $(($(nvmet_creates) - creates)) new controllers), no failed I/O"
}

# The target's port disabled twice for ~3 s under a verify run: the controller sees the
# loss, reconnects every reconnect_delay_sec once the port is back, and the I/O held in
# the meantime (fast_io_fail_timeout_sec is longer than the outage) completes: no
# failed I/O, no miscompare, no hang.
test_tcp_port_flap() {
  need_tcp_transport
  tcp_config "$CONFIG" Tcp0 '"reconnect_delay_sec": 1, "ctrlr_loss_timeout_sec": 120, "fast_io_fail_timeout_sec": 60'
  start_tcp_perf Tcp0n2 -q 32 -o 4k -w verify -t 600
  local state0 creates flap seen ops
  state0=$(ctrlr_field Tcp0 state)
  log "Tcp0 state before: $state0"
  creates=$(nvmet_creates)
  perform_bg '{"time_in_sec": 600}'
  poll 60 "I/O in flight" in_flight
  for flap in 1 2; do
    nvmet_port_disable 1 || fail "cannot disable the port"
    poll 30 "Tcp0 to leave state $state0 while the port is down (flap $flap)" ctrlr_state_not Tcp0 "$state0"
    seen=$(ctrlr_field Tcp0 state)
    log "flap $flap: port down, Tcp0 $seen"
    sleep 3
    nvmet_port_enable 1 || fail "cannot enable the port again"
    poll 60 "Tcp0 back in state $state0 (flap $flap)" ctrlr_state_is Tcp0 "$state0"
    ops=$(ops_done)
    poll 60 "I/O after flap $flap" more_ops_than "$ops"
    log "flap $flap: port up, Tcp0 $state0 again, I/O goes on"
  done
  kill -0 $PT_PID 2>/dev/null || fail "perform_tests ended during the outages"
  end_run
  [ "$PT_RC" = 0 ] || fail "verify failed across the port outages: $(head -c 300 "$PT_ERR")"
  check_results "$PT_OUT" 0 verify Tcp0n1 Tcp0n2
  [ "$(nvmet_creates)" -ge $((creates + 2)) ] || fail "the target saw no reconnect after each outage"
  note "port down 2x ~3 s under verify: Tcp0 $seen -> $state0 (the target saw $(($(nvmet_creates) - creates)) new controllers), no failed I/O"
}

# The port left down past ctrlr_loss_timeout_sec: I/O fails (after
# fast_io_fail_timeout_sec), perform_tests answers, the controller is given up (deleted
# or failed), bdevperf lives; a controller of the second subsystem with a long
# ctrlr_loss_timeout_sec is detached while it is still trying to reconnect. With the
# port back, a new attach works.
test_tcp_ctrlr_loss() {
  need_tcp_transport
  cat >"$CONFIG" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":$(tcp_params Tcp0 '"reconnect_delay_sec": 1, "ctrlr_loss_timeout_sec": 4, "fast_io_fail_timeout_sec": 2')},
 {"method":"bdev_nvme_attach_controller","params":$(tcp_params Tcp2 '"reconnect_delay_sec": 1, "ctrlr_loss_timeout_sec": 600, "fast_io_fail_timeout_sec": 2' | sed "s/$NQN/$NQN2/")}]}]}
EOF
  start_tcp_perf Tcp2n1 -q 32 -o 4k -w randwrite -t 600
  perform_bg '{"time_in_sec": 600}'
  poll 60 "I/O in flight" in_flight
  nvmet_port_disable 1 || fail "cannot disable the port"
  # The jobs end at their first failed I/O, long before the 600 s run time.
  perform_wait 180
  [ "$PT_RC" != 0 ] || fail "perform_tests passed although the target was gone"
  kill -0 $PERF_PID 2>/dev/null || fail "bdevperf died when the controllers were lost"
  poll 60 "Tcp0 given up (deleted or failed) after ctrlr_loss_timeout_sec" ctrlr_given_up Tcp0
  local lost trying
  lost=$(ctrlr_field Tcp0 state)
  trying=$(ctrlr_field Tcp2 state)
  log "Tcp0 after its loss timeout: $lost; Tcp2: $trying"
  [ "$lost" = gone ] || { ctl detach_lost call bdev_nvme_detach_controller '{"name": "Tcp0"}'; expect_rc detach_lost 0; }
  # Tcp2 keeps trying (600 s): a detach must not wait for the target.
  ctrlr_given_up Tcp2 && fail "Tcp2 (ctrlr_loss_timeout_sec 600) was given up already: $trying"
  ctl detach_trying call bdev_nvme_detach_controller '{"name": "Tcp2"}'
  expect_rc detach_trying 0
  [ "$(ctrlr_field Tcp2 state)" = gone ] || fail "Tcp2 still listed after its detach"
  ctl bdevs_left call bdev_get_bdevs '{}'
  grep -qE '"name": "Tcp[02]n' "$VM_WORK/bdevs_left.out" && fail "bdevs of Tcp0 or Tcp2 left after both went"
  # The port back: a new controller attaches and a verify run passes.
  nvmet_port_enable 1 || fail "cannot enable the port again"
  ctl attach call bdev_nvme_attach_controller "$(tcp_params Tcp1)"
  expect_rc attach 0
  ctl again call perform_tests '{"workload_type": "verify", "time_in_sec": 2, "queue_depth": 16}'
  expect_rc again 0
  check_results "$VM_WORK/again.out" 0 verify Tcp1n1 Tcp1n2
  stop_perf_server
  note "port down past ctrlr_loss_timeout_sec: I/O failed, Tcp0 $lost, Tcp2 ($trying) detached, bdevperf alive; attach again: verify passes"
}

# What our initiator wrote is on the target: bdevperf verify (seed $TCP_SEED) over both
# namespaces, then the kernel's initiator reads it (dd | vm_pattern_check), and the
# backing file and disk hold it too.
test_tcp_data_to_kernel() {
  need_tcp_transport
  need_bin CHECK tests/vm/vm_pattern_check tests/vm
  tcp_config "$CONFIG" Tcp0
  run perf_seed 180 "$BDEVPERF" -c "$CONFIG" -q 16 -o 64k -w verify -t 3 --seed $TCP_SEED
  expect_perf perf_seed verify Tcp0n1 Tcp0n2
  kernel_connect "$NQN" >/dev/null || fail "the kernel's initiator did not connect"
  poll 30 "the kernel's namespaces of $NQN" kernel_ns_dev "$NQN" 2
  local ns dev bs summary="" src rc
  for ns in 1 2; do
    dev=$(kernel_ns_dev "$NQN" $ns)
    bs=$(cat /sys/block/${dev#/dev/}/queue/logical_block_size)
    for src in "$dev" "$([ $ns = 1 ] && echo $NS1_FILE || echo $NS2_DEV)"; do
      log "dd if=$src | vm_pattern_check --block-size $bs --seed $TCP_SEED"
      if [ -b "$src" ]; then
        dd if="$src" bs=1M iflag=direct status=none
      else
        dd if="$src" bs=1M status=none
      fi | timeout 120 "$CHECK" --block-size "$bs" --seed $TCP_SEED --min-blocks 16 >"$VM_WORK/check.out" 2>&1
      rc=$?
      cat "$VM_WORK/check.out"
      [ $rc = 0 ] || fail "$src (namespace $ns): $(tail -n1 "$VM_WORK/check.out")"
    done
    summary+=" n$ns: $(grep -oE 'the first [0-9]+ hold' "$VM_WORK/check.out" | cut -d' ' -f3) blocks of $bs bytes;"
  done
  kernel_disconnect "$NQN" || fail "the kernel's initiator did not disconnect"
  note "the kernel's initiator and the backing store read what ours wrote:${summary%;}"
}

#!/usr/bin/env bash
# QoS (bdev_set_qos_limit) through the real tools: bdevperf on limited bdevs from a
# config file (verify, IOPS and MiB/s accuracy with generous bounds, 1 and 2 cores),
# limits changed over RPC while bdevperf -z runs I/O, bdevd's bdev_get_bdevs and
# save_config round trip, and bad input over the socket.
# Usage: qos_test.sh BDEVPERF BDEVD BDEVCTL CASE
#   CASE: config_verify, iops_accuracy, mbytes_accuracy, runtime_change, save_config,
#         bad_input
set -u
BDEVPERF=$1
BDEVD=$2
BDEVCTL=$3
CASE=$4
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# KEEP_TMP=1 keeps the run's files for a look after a failure (lib.sh removes $TMP).
keep_tmp() { [[ -z ${KEEP_TMP:-} ]] || { mv "$TMP" "$TMP.kept" && echo "files kept in $TMP.kept" >&2; }; }
LIB_CLEANUP_HOOK=keep_tmp

# qos_config FILE ENTRY...: an SPDK-format config with just these bdev entries (lib.sh's
# config also appends bdev_wait_for_examine; these runs keep their configs as they were).
qos_config() {
  local file=$1; shift
  local IFS=,
  echo "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[$*]}]}" >"$file"
}
null_entry() { entry bdev_null_create "{\"name\":\"$1\",\"num_blocks\":$2,\"block_size\":$3}"; }
malloc_entry() { # NAME NUM_BLOCKS BLOCK_SIZE [OPTIMAL_IO_BOUNDARY]
  entry bdev_malloc_create "{\"name\":\"$1\",\"num_blocks\":$2,\"block_size\":$3,\"optimal_io_boundary\":${4:-0}}"
}
qos_entry() { entry bdev_set_qos_limit "{\"name\":\"$1\",$2}"; }

# perf NAME ARGS...: runs bdevperf with --output-json $TMP/NAME.json.
perf() {
  local name=$1; shift
  timeout 120 "$BDEVPERF" "$@" --output-json "$TMP/$name.json" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local rc=$?
  if [[ $rc != 0 ]]; then
    fail "$name: bdevperf exited $rc"; cat "$TMP/$name.out" "$TMP/$name.err" >&2
    return 1
  fi
}
# total NAME FIELD: what the jobs of a run did together, in FIELD (iops, mibps): all
# they completed over the longest job's runtime (a sum of per-job rates would count a
# job that started late at a higher rate than the limit gave it).
total() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(sum(j[sys.argv[2]] * j['runtime'] for j in r) / max(j['runtime'] for j in r))" "$TMP/$1.json" "$2"; }
# within VALUE TARGET PERCENT: |VALUE/TARGET - 1| <= PERCENT/100.
within() { awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { r = v / t; exit !(r >= 1 - p / 100 && r <= 1 + p / 100) }'; }
# perf_within NAME FIELD TARGET PERCENT BDEVPERF_ARGS...: runs bdevperf and checks
# that the total of FIELD is within PERCENT of TARGET. On a shared machine a reactor
# can be descheduled for a good part of a 2 s run, so a miss is measured once more
# (and reported): only two misses in a row fail.
perf_within() {
  local name=$1 field=$2 target=$3 pct=$4; shift 4
  local try v
  for try in 1 2; do
    perf "$name" "$@" || return
    v=$(total "$name" "$field") || { fail "$name: no results"; return; }
    echo "$name: $field = $v (limit $target)"
    within "$v" "$target" "$pct" && return 0
    echo "$name: $field $v is not within $pct% of $target (try $try)"; cat "$TMP/$name.out"
  done
  fail "$name: $field missed $target by more than $pct% twice"
}

limits_are() { # NAME BDEV RW_IOS RW_MB R_MB W_MB: bdev_get_bdevs' assigned_rate_limits
  ctl "$1" bdev_get_bdevs -b "$2"
  pyjson "$1" "d[0]['assigned_rate_limits']=={'rw_ios_per_sec':$3,'rw_mbytes_per_sec':$4,'r_mbytes_per_sec':$5,'w_mbytes_per_sec':$6}" ||
    { fail "$1: assigned_rate_limits of $2 are not $3 $4 $5 $6"; show "$1"; }
}
# read_ops NAME BDEV: "reads seconds" - reads completed so far and when they were
# counted (bdev_get_iostat's ticks / tick_rate, so bdevctl's own start-up time does
# not count).
read_ops() {
  ctl "$1" bdev_get_iostat -b "$2"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['bdevs'][0]['num_read_ops'], d['ticks'] / d['tick_rate'])" "$TMP/$1.out"
}

case $CASE in
config_verify)
  # bdevperf -c with a bdev_set_qos_limit entry; verify through the limited bdev.
  qos_config "$TMP/c.json" "$(malloc_entry Malloc0 8192 4096)" "$(qos_entry Malloc0 '"rw_ios_per_sec":4000')"
  perf verify -c "$TMP/c.json" -q 32 -o 4k -w verify -t 2 -m 0x1 --seed 3 || exit 1
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; sys.exit(0 if all(j['io_failed']==0 for j in r) else 1)" "$TMP/verify.json" ||
    fail "verify: failed I/O"
  v=$(total verify iops)
  echo "verify: $v IOPS (limit 4000)"
  awk -v v="$v" 'BEGIN { exit !(v > 0 && v <= 4000 * 1.15) }' || fail "verify: $v IOPS over the 4000 limit"
  ;;
iops_accuracy)
  # 2 s at 5000 IOPS within 15%: one job, then two jobs on two cores sharing the bdev.
  qos_config "$TMP/c.json" "$(null_entry Null0 262144 4096)" "$(qos_entry Null0 '"rw_ios_per_sec":5000')"
  perf_within one iops 5000 15 -c "$TMP/c.json" -q 32 -o 4k -w randread -t 2 -m 0x1
  perf_within two iops 5000 15 -c "$TMP/c.json" -q 32 -o 4k -w randread -t 2 -m 0x3 -C
  # Both jobs got a part of the shared limit. Not an even one necessarily: tokens go
  # to the channels that ask, and a reactor the kernel deschedules asks for less.
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; t=sum(j['iops'] for j in r); sys.exit(0 if len(r)==2 and min(j['iops'] for j in r) >= 0.1*t else 1)" "$TMP/two.json" ||
    { fail "two: one job got (almost) none of the limit"; cat "$TMP/two.out" >&2; }
  # A limit that is not a multiple of 1000 is not rounded (SPDK would make it 2000).
  qos_config "$TMP/c2.json" "$(null_entry Null0 262144 4096)" "$(qos_entry Null0 '"rw_ios_per_sec":1500')"
  perf_within odd iops 1500 15 -c "$TMP/c2.json" -q 32 -o 4k -w randread -t 2 -m 0x1
  ;;
mbytes_accuracy)
  # 40 MiB/s with 128 KiB I/O, on a bdev the core splits in four (32 KiB boundary):
  # what the caller submitted counts, once.
  qos_config "$TMP/c.json" "$(malloc_entry Malloc0 16384 4096 8)" "$(qos_entry Malloc0 '"rw_mbytes_per_sec":40')"
  perf_within rw mibps 40 15 -c "$TMP/c.json" -q 32 -o 128k -w randread -t 2 -m 0x1
  # Read and write limits apply to their own type only.
  qos_config "$TMP/c2.json" "$(null_entry Null0 262144 4096)" "$(qos_entry Null0 '"w_mbytes_per_sec":20')"
  perf_within w mibps 20 15 -c "$TMP/c2.json" -q 32 -o 64k -w randwrite -t 2 -m 0x1
  perf r -c "$TMP/c2.json" -q 32 -o 64k -w randread -t 1 -m 0x1 || exit 1
  v=$(total r mibps)
  awk -v v="$v" 'BEGIN { exit !(v > 200) }' || fail "reads were limited by w_mbytes_per_sec: $v MiB/s"
  ;;
runtime_change)
  # bdevperf -z serves the RPC methods while its jobs run: change the limit mid-run
  # (two jobs on two cores share it), measure the rate from bdev_get_iostat, then stop
  # bdevperf with SIGTERM (the run is long so a slow machine cannot end it early).
  qos_config "$TMP/c.json" "$(null_entry Null0 262144 4096)"
  start_bdevperf_z "$BDEVPERF" -c "$TMP/c.json" -q 32 -o 4k -w randread -t 600 -m 0x3 -C
  "$BDEVCTL" -s "$SOCK" -t 700 perform_tests >"$TMP/results.out" 2>&1 &
  sleep 1
  rate() { # NAME SECONDS: the read rate over about SECONDS
    local a b
    a=$(read_ops "$1a" Null0)
    sleep "$2"
    b=$(read_ops "$1b" Null0)
    echo "$a $b" | awk '{ printf "%.0f", ($3 - $1) / ($4 - $2) }'
  }
  # rate_within NAME SECONDS TARGET: as perf_within, one more try after a miss.
  rate_within() {
    local r try
    for try in 1 2; do
      r=$(rate "$1$try" "$2")
      echo "$1: $r IOPS (limit $3)"
      within "$r" "$3" 15 && return 0
    done
    fail "$1: $r IOPS, twice not within 15% of $3"
  }
  ctl set1 bdev_set_qos_limit Null0 --rw_ios_per_sec 3000
  expect_ok set1
  sleep 0.2
  rate_within limit3000 2 3000
  ctl set2 bdev_set_qos_limit Null0 --rw_ios_per_sec 8000
  expect_ok set2
  sleep 0.2
  rate_within limit8000 2 8000
  limits_are shown Null0 8000 0 0 0
  ctl set3 bdev_set_qos_limit Null0 --rw_ios_per_sec 0
  expect_ok set3
  sleep 0.2
  r3=$(rate r3 1)
  echo "no limit: $r3 IOPS"
  awk -v v="$r3" 'BEGIN { exit !(v > 40000) }' || fail "after removing the limit: only $r3 IOPS"
  stop_daemon
  grep -q 'Fail/s' "$TMP/daemon.log" && ! awk '$1 == "Null0" && $2 == ":" && $6 != "0.00" { bad = 1 } END { exit !bad }' "$TMP/daemon.log" ||
    { fail "bdevperf reported failed I/O"; cat "$TMP/daemon.log" >&2; }
  ;;
save_config)
  start_daemon
  ctl m bdev_malloc_create -b Malloc0 16 4096
  ctl n bdev_null_create Null0 16 512
  limits_are none Malloc0 0 0 0 0
  ctl q1 bdev_set_qos_limit Malloc0 --rw_ios_per_sec 1500 --w_mbytes_per_sec 7
  expect_ok q1
  [[ $(cat "$TMP/q1.out") == true ]] || fail "bdev_set_qos_limit printed '$(cat "$TMP/q1.out")'"
  ctl q2 bdev_set_qos_limit Null0 --r_mbytes_per_sec 30 --rw_mbytes_per_sec 100
  expect_ok q2
  limits_are l1 Malloc0 1500 0 0 7
  limits_are l2 Null0 0 100 30 0
  # Only the given limit changes.
  ctl q3 bdev_set_qos_limit Malloc0 --rw_ios_per_sec 2500
  limits_are l3 Malloc0 2500 0 0 7
  ctl save save_config
  expect_ok save
  # Each bdev_set_qos_limit right after its bdev's creation, with the limits set.
  python3 - "$TMP/save.out" <<'EOF' || { fail "saved config"; show save; }
import json, sys
cfg = [s for s in json.load(open(sys.argv[1]))["subsystems"] if s["subsystem"] == "bdev"][0]["config"]
methods = [e["method"] for e in cfg]
i = methods.index("bdev_malloc_create"); j = methods.index("bdev_null_create")
assert cfg[i + 1] == {"method": "bdev_set_qos_limit", "params": {"name": "Malloc0", "rw_ios_per_sec": 2500, "w_mbytes_per_sec": 7}}, cfg[i + 1]
assert cfg[j + 1] == {"method": "bdev_set_qos_limit", "params": {"name": "Null0", "rw_mbytes_per_sec": 100, "r_mbytes_per_sec": 30}}, cfg[j + 1]
assert methods.count("bdev_set_qos_limit") == 2
EOF
  cp "$TMP/save.out" "$TMP/saved.json"
  stop_daemon
  start_daemon --json "$TMP/saved.json"
  limits_are r1 Malloc0 2500 0 0 7
  limits_are r2 Null0 0 100 30 0
  ctl save2 save_config
  cmp -s "$TMP/saved.json" "$TMP/save2.out" || { fail "save_config after reload differs"; diff "$TMP/saved.json" "$TMP/save2.out" >&2; }
  # Removing every limit removes the entry.
  ctl q4 bdev_set_qos_limit Malloc0 --rw_ios_per_sec 0 --w_mbytes_per_sec 0
  limits_are l4 Malloc0 0 0 0 0
  ctl save3 save_config
  pyjson save3 '[e["params"]["name"] for s in d["subsystems"] for e in s["config"] or [] if e["method"]=="bdev_set_qos_limit"]==["Null0"]' ||
    { fail "limits removed but still saved"; show save3; }
  stop_daemon
  ;;
bad_input)
  start_daemon
  ctl m bdev_malloc_create -b Malloc0 16 4096
  ctl set bdev_set_qos_limit Malloc0 --rw_ios_per_sec 5000
  expect_ok set
  ctl unknown call bdev_set_qos_limit '{"name":"Nope","rw_ios_per_sec":10}'
  expect_ctl_err unknown 'error -19: .*Nope'
  ctl none call bdev_set_qos_limit '{"name":"Malloc0"}'
  expect_ctl_err none 'error -32602: no limit given'
  ctl negative call bdev_set_qos_limit '{"name":"Malloc0","rw_ios_per_sec":-5}'
  expect_ctl_err negative 'error -32602: .*rw_ios_per_sec'
  ctl fraction call bdev_set_qos_limit '{"name":"Malloc0","w_mbytes_per_sec":1.5}'
  expect_ctl_err fraction 'error -32602: .*w_mbytes_per_sec'
  ctl string call bdev_set_qos_limit '{"name":"Malloc0","r_mbytes_per_sec":"10"}'
  expect_ctl_err string 'error -32602: .*r_mbytes_per_sec'
  ctl huge call bdev_set_qos_limit '{"name":"Malloc0","rw_mbytes_per_sec":1099511627777}'
  expect_ctl_err huge 'error -32602: .*rw_mbytes_per_sec'
  ctl typo call bdev_set_qos_limit '{"name":"Malloc0","rw_iops_per_sec":10}'
  expect_ctl_err typo 'error -32602: .*rw_iops_per_sec'
  ctl noname call bdev_set_qos_limit '{"rw_ios_per_sec":10}'
  expect_ctl_err noname 'error -32602: .*name'
  # Nothing changed.
  limits_are after Malloc0 5000 0 0 0
  stop_daemon
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

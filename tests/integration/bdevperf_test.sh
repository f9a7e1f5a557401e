#!/usr/bin/env bash
# Runs the real bdevperf binary and checks its output and exit codes.
# Usage: bdevperf_test.sh BDEVPERF CASE   (CASE: one of the names below)
set -u
BDEVPERF=$1
CASE=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=bdevperf_lib.sh
source "$(dirname "$0")/bdevperf_lib.sh"
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
workloads)
  # Every workload on malloc; the per-type counts of --output-json say what was done.
  config "$TMP/two.json" "$(null_entry Null0 262144 4096)" "$(malloc_entry Malloc0 8192 4096)"
  for w in read write randread randwrite verify unmap flush write_zeroes rw randrw reset; do
    mix=()
    [[ $w == rw || $w == randrw ]] && mix=(-M 25)
    t=1
    [[ $w == reset ]] && t=3  # a reset every second
    run "$w" -c "$TMP/two.json" -T Malloc0 -q 8 -o 8k -w "$w" "${mix[@]}" -t $t \
      --output-json "$TMP/$w.json"
    expect_ok "$w"
    expect_table "$w"
    grep -q '^Job: Null0' "$TMP/$w.out" && fail "$w: -T Malloc0 ran Null0 too"
    if [[ $w == reset ]]; then  # I/O refused around a reset is counted, and goes on
      grep -qE '^Job: Malloc0 \(Core Mask 0x1, workload: reset, depth: 8, IO size: 8192\)$' \
        "$TMP/$w.out" || fail "reset: no Job line"
    elif [[ ${#mix[@]} -gt 0 ]]; then
      expect_job "$w" Malloc0 "$w" 8 8192 25
    else
      expect_job "$w" Malloc0 "$w" 8 8192
    fi
    python3 - "$w" "$TMP/$w.json" <<'PY' || fail "$w: I/O types in --output-json"
import json, sys
w, path = sys.argv[1], sys.argv[2]
job = json.load(open(path))["results"][0]
ops = job["ops"]
want = {"read": {"read"}, "randread": {"read"}, "write": {"write"}, "randwrite": {"write"},
        "unmap": {"unmap"}, "flush": {"flush"}, "write_zeroes": {"write_zeroes"},
        "rw": {"read", "write"}, "randrw": {"read", "write"}, "verify": {"read", "write"},
        "reset": {"read", "write", "reset"}}[w]
done = {k for k, v in ops.items() if v > 0}
if not done <= want or not done & want:
    sys.exit("%s did %s" % (w, ops))
if w in ("rw", "randrw"):
    share = ops["read"] / (ops["read"] + ops["write"])
    if not 0.20 < share < 0.30:
        sys.exit("%s -M 25: %.3f reads" % (w, share))
if w == "reset" and ops["reset"] == 0:
    sys.exit("reset: no reset in 3 s")
PY
  done
  ;;
json_output)
  # --output-json is the table's numbers (and -l's percentiles), in perform_tests' shape.
  config "$TMP/two.json" "$(null_entry Null0 262144 4096)" "$(malloc_entry Malloc0 8192 512)"
  run j -c "$TMP/two.json" -q 16 -o 4k -w randwrite -t 1 -l --output-json "$TMP/r.json"
  expect_ok j
  python3 - "$TMP/j.out" "$TMP/r.json" <<'PY' || fail "json_output: JSON and table differ"
import json, sys
table, doc = open(sys.argv[1]).read().splitlines(), json.load(open(sys.argv[2]))
rows = {l.split()[0]: [float(x) for x in l.split(":")[1].split()] for l in table
        if l.startswith("     ") and ":" in l and "Verification" not in l}
pct = {l.split()[0]: [float(x) for x in l.split(":")[1].split()] for l in table
       if "(Core Mask" in l and ":" in l and not l.startswith("Job:")}
total = [l for l in table if l.startswith("Total ")][0]
bad = []
assert doc["core_count"] == 1, doc["core_count"]
assert [r["job"] for r in doc["results"]] == ["Null0", "Malloc0"], doc
for r in doc["results"]:
    row = rows[r["job"]]
    fails = r["io_failed"] / r["runtime"]
    tos = r["io_timeout"] / r["runtime"]
    for got, want in zip(row, [r["runtime"], r["iops"], r["mibps"], fails, tos,
                               r["avg_latency_us"], r["min_latency_us"], r["max_latency_us"]]):
        if abs(got - round(want, 2)) > 0.0051:
            bad.append("%s: table %s, json %s" % (r["job"], got, want))
    p = r["latency_percentiles_us"]
    for got, want in zip(pct[r["job"]], [p["p50"], p["p90"], p["p99"], p["p99.9"], p["p99.99"],
                                         r["max_latency_us"]]):
        if abs(got - round(want, 2)) > 0.0051:
            bad.append("%s percentile: table %s, json %s" % (r["job"], got, want))
    if r["status"] != "finished" or r["workload"] != "randwrite" or r["io_size"] != 4096:
        bad.append("entry %s" % r)
    if r["ops"]["write"] != round(r["iops"] * r["runtime"]):
        bad.append("%s: %d writes, iops x runtime %.1f" % (r["job"], r["ops"]["write"],
                                                          r["iops"] * r["runtime"]))
total_iops = float(total.split(":")[1].split()[0])
if abs(total_iops - round(sum(r["iops"] for r in doc["results"]), 2)) > 0.011:
    bad.append("Total IOPS %s" % total_iops)
if bad:
    sys.exit("\n".join(bad))
PY
  run jbad -c "$TMP/two.json" -q 1 -o 4k -w read -t 1 --output-json "$TMP/no/such/dir.json"
  [[ $(rc jbad) == 1 ]] || fail "unwritable --output-json: exit $(rc jbad)"
  grep -q "^bdevperf: cannot write $TMP/no/such/dir.json: No such file or directory" \
    "$TMP/jbad.err" || { fail "unwritable --output-json: no error"; show jbad; }
  ;;
interrupt_mode)
  # --interrupt-mode (SPDK's name): idle reactors sleep. Every backend must still
  # complete every I/O: aio and uring wake the reactor through their completion
  # eventfd, malloc and null complete on the reactor itself. A backend whose
  # completion did not wake the reactor would crawl from timer to timer (5 ms): the
  # QD 1 run checks a floor far below a working backend's rate.
  truncate -s 16M "$TMP/aio.img" "$TMP/uring.img"
  config "$TMP/all.json" "$(malloc_entry Malloc0 4096 4096)" "$(aio_entry Aio0 "$TMP/aio.img")" \
    "{\"method\":\"bdev_uring_create\",\"params\":{\"name\":\"Uring0\",\"filename\":\"$TMP/uring.img\",\"block_size\":4096}}"
  for qd in 1 16; do
    run "sleep$qd" -c "$TMP/all.json" -q $qd -o 4k -w verify -t 2 --interrupt-mode
    expect_ok "sleep$qd"
    for b in Malloc0 Aio0 Uring0; do expect_job "sleep$qd" $b verify $qd 4096; done
  done
  config "$TMP/null.json" "$(null_entry Null0 4096 4096)"
  run sleepnull -c "$TMP/null.json" -q 8 -o 4k -w randread -t 1 --interrupt-mode
  expect_ok sleepnull
  expect_job sleepnull Null0 randread 8 4096
  # A timer-paced backend would do at most 2 I/O per 5 ms tick = 400 IOPS per job.
  for b in Aio0 Uring0; do
    iops=$(awk -v b="$b" '$1 == b && $2 == ":" { print $4 }' "$TMP/sleep1.out")
    gt "$iops" 1000 || fail "interrupt mode: $b did $iops IOPS at QD 1 (woken by timers only?)"
  done
  ;;
flags)
  config "$TMP/two.json" "$(null_entry Null0 262144 4096)" "$(malloc_entry Malloc0 8192 4096)"
  # -S 1: the rows every second (averages so far), then the final table; no progress.
  run s -c "$TMP/two.json" -T Null0 -q 8 -o 4k -w randread -t 3 -S 1
  expect_ok s
  n=$(grep -c '^     Null0 ' "$TMP/s.out")
  [[ $n -ge 3 ]] || { fail "-S 1 -t 3: $n rows, expected at least 3"; show s; }
  grep -q '^Progress:' "$TMP/s.out" && fail "-S: progress lines too"
  # Without -S, not on a terminal: a plain progress line each second.
  run p -c "$TMP/two.json" -T Null0 -q 8 -o 4k -w randread -t 2
  expect_ok p
  grep -qE '^Progress: 1/2 s +[0-9.]+ IOPS +[0-9.]+ MiB/s$' "$TMP/p.out" ||
    { fail "no progress line"; show p; }
  # -l: percentiles; -ll: the histogram too, its cumulative share reaching 100%.
  run l -c "$TMP/two.json" -T Malloc0 -q 8 -o 4k -w randread -t 1 -ll
  expect_ok l
  grep -qE '^Device Information +: +p50 +p90 +p99 +p99\.9 +p99\.99 +max$' "$TMP/l.out" ||
    fail "-ll: no percentile header"
  grep -qE '^Malloc0 \(Core Mask 0x1\) +:( +[0-9]+\.[0-9]{2}){6}$' "$TMP/l.out" ||
    fail "-ll: no percentile row"
  grep -qE '^Latency histogram: Malloc0 \(Core Mask 0x1\), [0-9]+ I/Os$' "$TMP/l.out" ||
    fail "-ll: no histogram"
  tail -1 "$TMP/l.out" | grep -qE ' 100\.0000%$' || { fail "-ll: histogram does not end at 100%"; show l; }
  # -F (zipf) and -D (random map) run random workloads.
  run zipf -c "$TMP/two.json" -T Malloc0 -q 8 -o 4k -w randread -F 1.2 -t 1
  expect_ok zipf
  expect_job zipf Malloc0 randread 8 4096
  run map -c "$TMP/two.json" -T Malloc0 -q 8 -o 4k -w randwrite -D -t 1
  expect_ok map
  expect_job map Malloc0 randwrite 8 4096
  # -C on two cores: a job per (bdev, core), each on its own half of the bdev.
  if [[ $(nproc) -ge 2 ]]; then
    run c -c "$TMP/two.json" -T Malloc0 -q 8 -o 4k -w verify -t 1 -C -m 0x3
    expect_ok c
    grep -qE '^Job: Malloc0 \(Core Mask 0x1, workload: verify' "$TMP/c.out" || fail "-C: no core 0 job"
    grep -qE '^Job: Malloc0 \(Core Mask 0x2, workload: verify' "$TMP/c.out" || fail "-C: no core 1 job"
    grep -qE '^ +Verification LBA range: start 0x0 length 0x1000$' "$TMP/c.out" ||
      fail "-C: first slice"
    grep -qE '^ +Verification LBA range: start 0x1000 length 0x1000$' "$TMP/c.out" ||
      { fail "-C: second slice"; show c; }
  fi
  ;;
compare)
  # Three backends one after the other, the side-by-side table and a valid SVG plot.
  dd if=/dev/urandom of="$TMP/aio.img" bs=1M count=16 status=none
  config "$TMP/cmp.json" "$(null_entry Null0 262144 4096)" "$(malloc_entry Malloc0 4096 4096)" \
    "$(aio_entry Aio0 "$TMP/aio.img")"
  run cmp -c "$TMP/cmp.json" --compare Null0,Malloc0,Aio0 -q 8 -o 4k -w randread -t 1 \
    --prefill --svg "$TMP/plot.svg" --output-json "$TMP/cmp.json.out"
  expect_ok cmp
  for i in 1 2 3; do
    grep -qE "^=== $i/3: (Null0|Malloc0|Aio0) ===$" "$TMP/cmp.out" || fail "compare: no run $i header"
  done
  [[ $(grep -c 'Latency(us)' "$TMP/cmp.out") == 3 ]] || fail "compare: not one table per bdev"
  grep -qE '^Compare: randread, 4096 B, queue depth 8, 1 s, one bdev at a time$' "$TMP/cmp.out" ||
    fail "compare: no side-by-side header"
  grep -qE '^bdev +IOPS +MiB/s +avg\(us\) +p99\(us\) +p99\.9\(us\) +CPU/IO reactor +CPU/IO process +reactor CPU$' \
    "$TMP/cmp.out" || fail "compare: no column header"
  for b in Null0 Malloc0 Aio0; do
    line=$(grep -E "^$b +[0-9]" "$TMP/cmp.out")
    [[ -n $line ]] || { fail "compare: no row for $b"; continue; }
    gt "$(echo "$line" | awk '{print $2}')" 0 || fail "compare: $b IOPS"
    gt "$(echo "$line" | awk '{print $7}')" 0 || fail "compare: $b CPU/IO reactor"
    share=$(echo "$line" | awk '{print $11}' | tr -d %)
    gt "$share" 0 && lt "$share" 101 || fail "compare: $b reactor CPU share '$share'"
  done
  grep -qE "^Plot \(latency CDF, IOPS\): $TMP/plot.svg$" "$TMP/cmp.out" || fail "compare: plot line"
  python3 - "$TMP/plot.svg" "$TMP/cmp.json.out" <<'PY' || fail "compare: SVG or JSON"
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()  # raises on malformed XML
assert root.tag == ns + "svg", root.tag
lines = root.findall(ns + "polyline")
assert len(lines) == 3, "%d CDF curves" % len(lines)
for pl in lines:
    pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
    ys = [y for _, y in pts]
    xs = [x for x, _ in pts]
    assert ys == sorted(ys, reverse=True) and xs == sorted(xs), "a CDF is monotone"
assert len(root.findall(ns + "rect")) == 4, "background + 3 bars"
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
for name in ("Null0", "Malloc0", "Aio0"):
    assert name in texts, name
assert not any(el.tag.endswith(("script", "image", "foreignObject")) for el in root.iter())
doc = json.load(open(sys.argv[2]))
assert sorted(r["job"] for r in doc["results"]) == ["Aio0", "Malloc0", "Null0"], doc
assert all(r["core_mask"] == "0x1" and r["status"] == "finished" for r in doc["results"])
PY
  run cmpbad -c "$TMP/cmp.json" --compare Null0,Nope -q 8 -o 4k -w randread -t 1
  expect_error cmpbad "--compare: bdev 'Nope' does not exist \(bdevs: Null0, Malloc0, Aio0\)$"
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
  # bdev_set_options is replayed before the bdev layer starts (as SPDK's start-up):
  # a bad value stops bdevperf with the parameter named, a good one is in force (128
  # BdevIo per thread: QD 256 waits for BdevIo and still completes).
  config "$TMP/opts.json" '{"method":"bdev_set_options","params":{"bdev_io_pool_size":128,"bdev_io_cache_size":100000}}' "$(malloc_entry Opt0 256 4096)"
  run setopts -c "$TMP/opts.json" -q 4 -o 4k -w read -t 1
  expect_error setopts '"bdev_io_cache_size": must be between 1 and the BdevIo per thread \(128\), got 100000'
  config "$TMP/opts_ok.json" '{"method":"bdev_set_options","params":{"bdev_io_pool_size":128,"bdev_io_cache_size":16}}' "$(malloc_entry Opt0 256 4096)"
  "$BDEVPERF" -c "$TMP/opts_ok.json" -q 256 -o 4k -w randread -t 1 >"$TMP/opts_ok.out" 2>&1 ||
    fail "bdevperf with 128 BdevIo per thread at QD 256: $(tail -3 "$TMP/opts_ok.out")"
  grep -q '^ *Opt0 *:' "$TMP/opts_ok.out" || fail "no Opt0 row: $(cat "$TMP/opts_ok.out")"
  config "$TMP/zero.json" "$(null_entry Zero0 0 4096)"
  run zeroblocks -c "$TMP/zero.json" -q 4 -o 4k -w read -t 1
  expect_error zeroblocks "config file \"?$TMP/zero.json\"?: .*num_blocks"
  # Workload flags that do not fit, -T naming no bdev, a bdev without the I/O type.
  run mnorw "${ok[@]}" -M 50
  expect_error mnorw '-M \(read percentage\) only applies to rw and randrw, not to randread$'
  run rwnom -c "$TMP/malloc.json" -q 4 -o 4k -w randrw -t 1
  expect_error rwnom 'workload randrw needs the read percentage \(-M 0\.\.100\)$'
  run tnope "${ok[@]}" -T Nope
  expect_error tnope "bdev 'Nope' does not exist \(bdevs: Malloc0\) \(-T\)$"
  run qbig -c "$TMP/malloc.json" -q 100000 -o 4k -w read -t 1
  expect_error qbig "invalid queue depth \(-q\) '100000': must be at most 65536$"
  run qmem -c "$TMP/malloc.json" -q 65536 -o 1m -w read -t 1
  expect_error qmem 'queue depth 65536 x I/O size 1048576 needs 65536 MiB of I/O buffers per job'
  run zipfseq -c "$TMP/malloc.json" -q 4 -o 4k -w read -t 1 -F 1.1
  expect_error zipfseq '-F \(zipf\) needs a random workload'
  run ztheta "${ok[@]}" -F -1
  expect_error ztheta "invalid zipf theta \(-F\) '-1'"
  dd if=/dev/zero of="$TMP/aio.img" bs=1M count=4 status=none
  config "$TMP/aio.json" "$(aio_entry Aio0 "$TMP/aio.img")"
  run nounmap -c "$TMP/aio.json" -q 4 -o 4k -w unmap -t 1
  expect_error nounmap 'no bdev supports workload unmap$'
  run nounmapT -c "$TMP/aio.json" -T Aio0 -q 4 -o 4k -w unmap -t 1
  expect_error nounmapT 'bdev Aio0 does not support unmap \(workload unmap\)$'
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

finish_case

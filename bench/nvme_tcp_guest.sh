#!/usr/bin/env bash
# Issue 10's NVMe/TCP benchmark, run INSIDE the QEMU guest (bench/nvme_tcp_vm.sh starts
# it): the kernel's NVMe/TCP target (nvmet-tcp on 127.0.0.1:4420, one namespace backed
# by a prefilled file in /dev/shm) read and written by
#   tcp    bdevperf on our NVMe/TCP bdev (the NVMe driver's TCP transport)
#   uring  bdevperf on a uring bdev over the kernel initiator's /dev/nvmeXnY (nvme-tcp)
#   fio    fio (io_uring, O_DIRECT) on the same /dev/nvmeXnY
# 4 KiB randread and randwrite at QD 1, 16 and 64, one core each (bdevperf -m 0x1,
# fio pinned to CPU 0). tcp and uring run in one bdevperf --compare (one at a time, in
# alternating order each round), fio right after. ROUNDS rounds; medians with min-max,
# and the ratios tcp/uring and tcp/fio of each round. TCG makes absolute figures
# meaningless; only the ratios of one run count.
# Env: ROUNDS (3), SECONDS_PER_RUN (4), QDS ("1 16 64"), WORKLOADS ("randread randwrite").
set -uo pipefail
SRC=${BDEVKIT_SRC:?run through bench/nvme_tcp_vm.sh}
BUILD=${BDEVKIT_BUILD:?run through bench/nvme_tcp_vm.sh}
OUT=${BDEVKIT_VM_OUT:?}
. "$SRC/bench/lib.sh"
. "$SRC/tests/vm/nvmet_target.sh"
ROUNDS=${ROUNDS:-3}
T=${SECONDS_PER_RUN:-4}
QDS=${QDS:-1 16 64}
WORKLOADS=${WORKLOADS:-randread randwrite}
NQN=nqn.2026-11.io.bdevkit:bench
BACKING=/dev/shm/nvmet-bench.img
BDEVPERF=$BUILD/tools/bdevperf/bdevperf
WORK=/run/bdevkit-bench
mkdir -p "$WORK"
[ -x "$BDEVPERF" ] || { say "missing $BDEVPERF"; exit 1; }
command -v fio >/dev/null || { say "no fio on the host (apt-get install fio)"; exit 1; }

# The target, its namespace written through once (reads of a sparse file's holes
# would be unrealistically cheap).
show_run dd if=/dev/urandom of=$BACKING bs=1M count=128 status=none || exit 1
nvmet_up "$NQN" $BACKING || exit 1
kernel_connect "$NQN" >/dev/null || exit 1
for _ in $(seq 100); do kernel_ns_dev "$NQN" 1 >/dev/null && break; sleep 0.1; done
KDEV=$(kernel_ns_dev "$NQN" 1) || { say "the kernel's initiator shows no namespace"; exit 1; }
say "kernel initiator: $KDEV"

cat >"$WORK/tcp.json" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":{"name":"Tcp0","trtype":"tcp","adrfam":"ipv4",
  "traddr":"$NVMET_ADDR","trsvcid":"$NVMET_SVCID","subnqn":"$NQN"}},
 {"method":"bdev_uring_create","params":{"name":"Uring0","filename":"$KDEV"}}]}]}
EOF

# compare_iops W QD ORDER: "tcp_iops uring_iops" from one bdevperf --compare.
compare_iops() {
  show_run "$BDEVPERF" -c "$WORK/tcp.json" --compare "$3" -m 0x1 -q "$2" -o 4096 -w "$1" -t "$T" \
    --svg "$WORK/compare.svg" >"$WORK/bp.out" 2>&1 || { cat "$WORK/bp.out" >&2; exit 1; }
  awk '/^Compare:/ { on = 1; next } on && $1 == "Tcp0n1" { t = $2 } on && $1 == "Uring0" { u = $2 }
       END { if (t == "" || u == "") exit 1; print t, u }' "$WORK/bp.out" ||
    { cat "$WORK/bp.out" >&2; say "no Compare table"; exit 1; }
}
fio_iops() { # W QD
  show_run taskset -c 0 fio --name=k --filename="$KDEV" --ioengine=io_uring --direct=1 --rw="$1" \
    --bs=4k --iodepth="$2" --runtime="$T" --time_based --output-format=json \
    >"$WORK/fio.json" 2>"$WORK/fio.err" || { cat "$WORK/fio.err" >&2; exit 1; }
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
print("%.2f" % (j["read"]["iops"] + j["write"]["iops"]))' "$WORK/fio.json"
}

rows=()
for w in $WORKLOADS; do
  for qd in $QDS; do
    tcp=() uring=() fio=() r_u=() r_f=()
    for round in $(seq "$ROUNDS"); do
      order=Tcp0n1,Uring0
      [ $((round % 2)) = 0 ] && order=Uring0,Tcp0n1
      read -r t u <<<"$(compare_iops "$w" "$qd" "$order")"
      f=$(fio_iops "$w" "$qd")
      say "$w QD $qd round $round: tcp bdev $t, uring bdev $u, fio $f IOPS"
      tcp+=("$t") uring+=("$u") fio+=("$f")
      r_u+=("$(ratio "$t" "$u")") r_f+=("$(ratio "$t" "$f")")
    done
    read -r tm tmin tmax <<<"$(median_min_max %.0f "${tcp[@]}")"
    read -r um umin umax <<<"$(median_min_max %.0f "${uring[@]}")"
    read -r fm fmin fmax <<<"$(median_min_max %.0f "${fio[@]}")"
    read -r rum rumin rumax <<<"$(median_min_max %.2f "${r_u[@]}")"
    read -r rfm rfmin rfmax <<<"$(median_min_max %.2f "${r_f[@]}")"
    rows+=("| $w | $qd | $tm ($tmin-$tmax) | $um ($umin-$umax) | $fm ($fmin-$fmax) | **$rum** ($rumin-$rumax) | **$rfm** ($rfmin-$rfmax) |")
  done
done
kernel_disconnect "$NQN"
nvmet_teardown

{
  echo
  echo "4 KiB, one core, ${T} s runs, $ROUNDS rounds (median, min-max), QEMU TCG guest, kernel nvmet-tcp target on 127.0.0.1 (namespace: 128 MiB file in /dev/shm, buffered_io):"
  echo
  echo "| workload | QD | our NVMe/TCP bdev (bdevperf) | uring bdev on kernel nvme-tcp (bdevperf) | fio io_uring on kernel nvme-tcp | ours / uring bdev | ours / fio |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$OUT/nvme_tcp_bench.md"

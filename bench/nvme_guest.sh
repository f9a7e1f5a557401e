#!/usr/bin/env bash
# Issue 7's benchmark, run INSIDE the QEMU guest (bench/nvme_vm.sh starts it): on
# namespace 1 of QEMU's emulated controller, 4 KiB randread at QD 32, one core,
#   raw    tools/nvme_perf: one queue pair driven directly, zero-copy buffers
#   nvme   bdevperf on the nvme bdev (our driver under the bdev layer)
#   uring  bdevperf on a uring bdev over /dev/nvme0n1 (the kernel's driver)
# ROUNDS rounds, each measuring all three back to back (the device changes drivers in
# between), then medians with min and max, and the ratios nvme/raw (the bdev layer's
# cost; target >= 0.9) and nvme/uring. TCG makes absolute figures meaningless; only
# the ratios of one run count.
# Env: ROUNDS (3), SECONDS_PER_RUN (5), QD (32), IO_SIZE (4096).
set -uo pipefail
SRC=${BDEVKIT_SRC:?run through bench/nvme_vm.sh}
BUILD=${BDEVKIT_BUILD:?run through bench/nvme_vm.sh}
OUT=${BDEVKIT_VM_OUT:?}
. "$SRC/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
T=${SECONDS_PER_RUN:-5}
QD=${QD:-32}
IO_SIZE=${IO_SIZE:-4096}
BDF=0000:00:03.0
SETUP=$SRC/tools/setup/bdevkit-setup
PERF=$BUILD/tools/nvme_perf/nvme_perf
BDEVPERF=$BUILD/tools/bdevperf/bdevperf
WORK=/run/bdevkit-bench
mkdir -p "$WORK"
for b in "$PERF" "$BDEVPERF"; do [ -x "$b" ] || { say "missing $b"; exit 1; }; done

cat >"$WORK/nvme.json" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_nvme_attach_controller","params":{"name":"Nvme0","trtype":"pcie","traddr":"$BDF"}}]}]}
EOF
cat >"$WORK/uring.json" <<EOF
{"subsystems":[{"subsystem":"bdev","config":[
 {"method":"bdev_uring_create","params":{"name":"Uring0","filename":"/dev/nvme0n1"}}]}]}
EOF

to_kernel() { "$SETUP" reset "$BDF" >/dev/null || exit 1; for _ in $(seq 100); do [ -b /dev/nvme0n1 ] && return; sleep 0.1; done; say "no /dev/nvme0n1"; exit 1; }
to_vfio() { "$SETUP" config --nr-hugepages 64 --driver vfio-pci "$BDF" >/dev/null || exit 1; }

# Write the whole namespace first: reads of never-written blocks of a sparse image
# would be unrealistically fast.
to_kernel
ns_mib=$(($(cat /sys/block/nvme0n1/size) * 512 / 1048576))  # sysfs counts 512-byte sectors
show_run dd if=/dev/urandom of=/dev/nvme0n1 bs=1M count="$ns_mib" oflag=direct status=none || exit 1

bdevperf_iops() { # CONFIG BDEV
  show_run "$BDEVPERF" -c "$1" -T "$2" -m 0x1 -q "$QD" -o "$IO_SIZE" -w randread -t "$T" \
    >"$WORK/bp.out" 2>&1 || { cat "$WORK/bp.out" >&2; exit 1; }
  awk -v b="$2" '$1 == b && $2 == ":" { print $4 }' "$WORK/bp.out"
}
raw_iops() {
  show_run taskset -c 0 "$PERF" -r "$BDF" -q "$QD" -o "$IO_SIZE" -w randread -t "$T" \
    >"$WORK/raw.out" 2>&1 || { cat "$WORK/raw.out" >&2; exit 1; }
  sed -n 's/^nvme_perf: IOPS=\([0-9.]*\) .*/\1/p' "$WORK/raw.out"
}

raw=() nvme=() uring=() r_layer=() r_kernel=()
for round in $(seq "$ROUNDS"); do
  to_kernel
  u=$(bdevperf_iops "$WORK/uring.json" Uring0)
  to_vfio
  r=$(raw_iops)
  n=$(bdevperf_iops "$WORK/nvme.json" Nvme0n1)
  say "round $round: raw $r, nvme bdev $n, uring bdev $u IOPS"
  raw+=("$r") nvme+=("$n") uring+=("$u")
  r_layer+=("$(ratio "$n" "$r")") r_kernel+=("$(ratio "$n" "$u")")
done
to_kernel

read -r rm rmin rmax <<<"$(median_min_max %.0f "${raw[@]}")"
read -r nm nmin nmax <<<"$(median_min_max %.0f "${nvme[@]}")"
read -r um umin umax <<<"$(median_min_max %.0f "${uring[@]}")"
read -r lm lmin lmax <<<"$(median_min_max %.2f "${r_layer[@]}")"
read -r km kmin kmax <<<"$(median_min_max %.2f "${r_kernel[@]}")"
cat <<EOF | tee "$OUT/nvme_bench.md"

4 KiB randread, QD $QD, one core, ${T} s runs, $ROUNDS rounds (median, min-max), QEMU TCG guest:

| path | IOPS |
|---|---|
| raw queue pair (nvme_perf) | $rm ($rmin-$rmax) |
| nvme bdev (bdevperf) | $nm ($nmin-$nmax) |
| uring bdev on /dev/nvme0n1 (bdevperf) | $um ($umin-$umax) |

| ratio | median (min-max) | target |
|---|---|---|
| nvme bdev / raw queue pair | $lm ($lmin-$lmax) | >= 0.9 |
| nvme bdev / uring bdev over the kernel | $km ($kmin-$kmax) | (reported) |
EOF

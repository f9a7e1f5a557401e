#!/usr/bin/env bash
# Boots the bdevkit test guest (QEMU, TCG) with an emulated NVMe controller and runs
# SCRIPT inside it, as root, in a chroot of the host's / (read-only, tmpfs overlay), so
# the repository and its build folders are at the same paths in the guest.
#
# Usage: tests/vm/run.sh [options] SCRIPT [ARGS...]
#   --mode vfio|uio   vfio: q35 + intel-iommu, guest cmdline intel_iommu=on iommu=pt;
#                     uio: q35 without an IOMMU (only uio_pci_generic can work)
#   --build DIR       build folder whose binaries the script uses (BDEVKIT_BUILD)
#   --out DIR         results folder (default: a new one under ${TMPDIR:-/tmp}); it is
#                     shared read-write with the guest and holds console.log, the
#                     namespace images, the script's logs and results.tsv
#   --timeout S       whole run, QEMU start to power-off (default 900); the guest
#                     stops the script 15 s before, so its logs still come back
#   --smp N --mem MB  guest CPUs (default 2) and memory (default 1024)
#
# The script sees BDEVKIT_VM_MODE, BDEVKIT_BUILD, BDEVKIT_SRC (the repository),
# ASAN/UBSAN/LSAN_OPTIONS when set here, BDEVKIT_VM_OUT (the results folder) and
# BDEVKIT_VM_RESULTS (results.tsv: one line per test, "NAME<TAB>PASS|FAIL|SKIP<TAB>
# SECONDS<TAB>NOTE"); when that file has lines, the summary is printed here after the
# guest is gone.
#
# The controller: serial "deadbeef" at 0000:00:03.0, namespace 1 = ns1.img (128 MiB,
# 512-byte blocks), namespace 2 = ns2.img (64 MiB, 4096-byte blocks), sparse files.
#
# Exit: the script's status (1 if results.tsv has a FAIL); 77 QEMU cannot start here
# (or cannot be installed); 124 the whole-run timeout hit; 1 the guest did not report.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

mode=vfio build="" out="" timeout=900 smp=2 mem=1024
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
case "$mode" in vfio | uio) ;; *) echo "run.sh: --mode must be vfio or uio, not '$mode'" >&2; exit 2 ;; esac
[[ $timeout =~ ^[0-9]+$ ]] && [ "$timeout" -ge 30 ] || { echo "run.sh: --timeout must be a whole number of seconds >= 30, not '$timeout'" >&2; exit 2; }
script=$(realpath "$1")
shift
[ -f "$script" ] || { echo "run.sh: no script $script" >&2; exit 2; }
if [ -n "$build" ]; then
  build=$(realpath "$build")
  [ -d "$build" ] || { echo "run.sh: no build folder $build" >&2; exit 2; }
fi

skip() {
  echo "************************************************************************" >&2
  echo "vm: SKIPPED: QEMU cannot start here: $*" >&2
  echo "************************************************************************" >&2
  exit 77
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(date +%s.%N)
setup_out=$("$here/setup.sh")
case $? in
  0) ;;
  77) skip "the QEMU packages are missing and cannot be installed (not root, no sudo)" ;;
  *) echo "vm: the guest setup failed (tests/vm/setup.sh, see above)" >&2; exit 1 ;;
esac
eval "$setup_out" # KERNEL INITRD KVER
t_setup=$(elapsed "$t_start")

qemu=qemu-system-x86_64
# Can QEMU start a bare TCG machine here? Asked only when the real guest did not
# start: a QEMU that cannot run at all is a skip; our guest failing is a failure.
qemu_can_start() {
  local d rc
  d=$(mktemp -d)
  timeout 20 $qemu -machine q35 -accel tcg -cpu max -m 64 -nodefaults -no-user-config \
    -display none -monitor none -serial none -S -daemonize -pidfile "$d/pid" \
    </dev/null >"$d/err" 2>&1
  rc=$?
  [ -s "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null
  probe_err=$(head -c 500 "$d/err")
  rm -rf "$d"
  return $rc
}
command -v $qemu >/dev/null || skip "$qemu is not installed"

if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/bdevkit-vm-$mode.XXXXXX")
else
  mkdir -p "$out"
  out=$(realpath "$out")
  # A previous run's results must not pass for this one's.
  rm -f "$out"/{rc,results.tsv,console.log,dmesg.log,init-error,boot-seconds,end-seconds,ns1.img,ns2.img}
  rm -rf "$out/logs"
fi
[[ $out != *[[:space:]\'\"]* ]] || { echo "run.sh: the results folder path may not contain spaces or quotes: $out" >&2; exit 2; }
mkdir -p "$out/logs"
truncate -s 128M "$out/ns1.img"
truncate -s 64M "$out/ns2.img"
: >"$out/results.tsv"

guest_timeout=$((timeout - 15))
{
  echo "OUT='$out'"
  echo "GUEST_TIMEOUT=$guest_timeout"
} >"$out/guest.conf"
{
  echo "# written by tests/vm/run.sh; run by the guest's /init in the chroot"
  printf 'export BDEVKIT_VM_MODE=%q BDEVKIT_BUILD=%q BDEVKIT_SRC=%q\n' "$mode" "$build" "$repo"
  printf 'export BDEVKIT_VM_OUT=%q BDEVKIT_VM_RESULTS=%q\n' "$out" "$out/results.tsv"
  # The sanitizers' settings (scripts/test.sh sets them) apply in the guest too.
  for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    [ -z "${!v:-}" ] || printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'cd %q || exit 1\n' "$PWD"
  printf 'exec /bin/bash %q' "$script"
  for a in "$@"; do printf ' %q' "$a"; done
  echo
} >"$out/command.sh"

machine=(-machine q35,accel=tcg -cpu "${BDEVKIT_VM_CPU:-max}" -smp "$smp" -m "$mem")
cmdline="console=ttyS0 panic=-1 loglevel=4"
if [ "$mode" = vfio ]; then
  machine+=(-device intel-iommu,intremap=on)
  cmdline+=" intel_iommu=on iommu=pt"
fi
args=(
  "${machine[@]}"
  -nodefaults -no-user-config -display none -monitor none -no-reboot
  -serial stdio
  -kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$out,mount_tag=results,security_model=none"
  -device nvme,id=nvme0,serial=deadbeef,addr=03.0
  -drive "file=$out/ns1.img,if=none,id=nvm1,format=raw"
  -device nvme-ns,drive=nvm1,bus=nvme0,nsid=1,logical_block_size=512,physical_block_size=512
  -drive "file=$out/ns2.img,if=none,id=nvm2,format=raw"
  -device nvme-ns,drive=nvm2,bus=nvme0,nsid=2,logical_block_size=4096,physical_block_size=4096
)
echo "vm: mode $mode, kernel $KVER, results in $out (setup ${t_setup} s)"
t_boot=$(date +%s.%N)
timeout --kill-after=5 "$timeout" $qemu "${args[@]}" </dev/null 2>"$out/qemu.err" | tee "$out/console.log"
qemu_rc=${PIPESTATUS[0]}
t_run=$(elapsed "$t_boot")

rc=1
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
  echo "vm: FAILED: the guest did not power off within the whole-run timeout of $timeout s; killed" >&2
  rc=124
elif [ -f "$out/rc" ]; then
  rc=$(cat "$out/rc")
elif [ -f "$out/init-error" ]; then
  echo "vm: FAILED: the guest's /init failed: $(cat "$out/init-error")" >&2
else
  [ -s "$out/qemu.err" ] && sed 's/^/qemu: /' "$out/qemu.err" >&2
  if [ ! -s "$out/console.log" ] && ! qemu_can_start; then
    skip "a bare '$qemu -accel tcg' fails too: $probe_err"
  fi
  echo "vm: FAILED: QEMU exited with status $qemu_rc and the guest reported no exit status" >&2
fi

# The summary, from the host side, after the guest is gone.
if [ -s "$out/results.tsv" ]; then
  echo
  echo "vm: test summary ($mode)"
  awk -F'\t' '{ printf "  %-4s %-34s %7.1f s  %s\n", $2, $1, $3, $4 }' "$out/results.tsv"
  read -r npass nfail nskip < <(awk -F'\t' '{ n[$2]++ } END { print n["PASS"]+0, n["FAIL"]+0, n["SKIP"]+0 }' "$out/results.tsv")
  echo "vm: $npass passed, $nfail failed, $nskip skipped"
  [ "$nfail" -gt 0 ] && [ "$rc" = 0 ] && rc=1
fi
boot=$(cat "$out/boot-seconds" 2>/dev/null || echo "?")
echo "vm: mode $mode: exit status $rc; setup ${t_setup} s, guest ${t_run} s (kernel to command ${boot} s)"
exit "$rc"

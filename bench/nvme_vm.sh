#!/usr/bin/env bash
# Runs bench/nvme_guest.sh (issue 7's ratios: nvme bdev vs the raw queue pair, and vs a
# uring bdev over the kernel's driver) in a QEMU guest with the vfio-pci + vIOMMU
# setup of tests/vm. Builds Release binaries in build-nvme-rel first (no -march=native:
# the guest CPU is QEMU's).
# Usage: bench/nvme_vm.sh   (env: ROUNDS, SECONDS_PER_RUN, QD, IO_SIZE; BUILD=dir to
# reuse a Release build)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
BUILD=${BUILD:-$repo/build-nvme-rel}
if [ ! -x "$BUILD/tools/bdevperf/bdevperf" ] || [ ! -x "$BUILD/tools/nvme_perf/nvme_perf" ]; then
  show_run cmake -S "$repo" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBDEVKIT_BUILD_TESTS=OFF >/dev/null || exit 1
  show_run ninja -C "$BUILD" -j2 bdevperf nvme_perf || exit 1
fi
wait_quiet
out=$(mktemp -d "${TMPDIR:-/tmp}/bdevkit-nvme-bench.XXXXXX")
show_run "$repo/tests/vm/run.sh" --mode vfio --build "$BUILD" --out "$out" --timeout 1800 \
  "$here/nvme_guest.sh"
rc=$?
[ -f "$out/nvme_bench.md" ] && cat "$out/nvme_bench.md"
[ "$NOISY" = 0 ] || say "note: the host was busy when the guest started"
exit $rc

#!/usr/bin/env bash
# Runs bench/nvme_tcp_guest.sh (issue 10's ratio: our NVMe/TCP bdev vs the kernel's
# nvme-tcp initiator, both against the kernel's nvmet-tcp target) in one QEMU guest boot
# of tests/vm. Builds Release binaries in build-tcp-rel first (no -march=native: the
# guest CPU is QEMU's).
# Usage: bench/nvme_tcp_vm.sh   (env: ROUNDS, SECONDS_PER_RUN, QDS, WORKLOADS are passed
# to the guest; BUILD=dir to reuse a Release build)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/.." && pwd)
. "$here/lib.sh"
BUILD=${BUILD:-$ROOT/build-tcp-rel}
[ -x "$BUILD/tools/bdevperf/bdevperf" ] || release_build "$BUILD" bdevperf || exit 1
command -v fio >/dev/null || { say "fio is missing on the host (the guest runs the host's): apt-get install fio"; exit 1; }
wait_quiet
out=$(mktemp -d "${TMPDIR:-/tmp}/bdevkit-nvme-tcp-bench.XXXXXX")
# run.sh passes the guest no environment of ours: the settings go in as a wrapper.
{
  for v in ROUNDS SECONDS_PER_RUN QDS WORKLOADS; do
    [ -z "${!v:-}" ] || printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'exec bash %q\n' "$here/nvme_tcp_guest.sh"
} >"$out/bench-env.sh"
show_run "$ROOT/tests/vm/run.sh" --mode uio --build "$BUILD" --out "$out" --timeout 3000 "$out/bench-env.sh"
rc=$?
[ -f "$out/nvme_tcp_bench.md" ] && cat "$out/nvme_tcp_bench.md"
[ "$NOISY" = 0 ] || say "note: the host was busy when the guest started"
exit $rc

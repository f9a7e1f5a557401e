#!/usr/bin/env bash
# The README's main command: installs what is missing, builds in Release and runs
# bdevperf's compare mode over every backend of the default config (Null0, Malloc0,
# Aio0, Uring0): the same workload on each bdev in turn, then one side-by-side table
# (IOPS, MiB/s, average/p99/p99.9 latency, CPU per I/O) and an SVG plot (latency CDF,
# IOPS bars). See docs/bdevperf.md.
# Usage: scripts/demo.sh [extra bdevperf flags...]   (e.g. -w randwrite -q 32 -t 10)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release bdevperf bdevd bdevctl
config=tools/bdevperf/default_config.json
# The aio and uring bdevs of the config sit on these files (one each: a file backs
# one bdev). 256 MiB, written in full, so reads hit real blocks, not holes.
for f in /tmp/bdevkit-demo-aio.img /tmp/bdevkit-demo-uring.img; do
  if [ ! -f "$f" ] || [ "$(stat -c %s "$f")" -ne $((256 * 1024 * 1024)) ]; then
    dd if=/dev/urandom of="$f" bs=1M count=256 status=none
  fi
done
# One bdev at a time on core 0; a second core, if there is one, stays free for what
# the kernel does on the side (io_uring's workers, aio's completions). --prefill
# writes every block first so that malloc reads real pages, not the zero page.
svg=build/release/bdevperf-compare.svg
set -x
exec build/release/tools/bdevperf/bdevperf -c "$config" --compare Null0,Malloc0,Aio0,Uring0 \
  -q 128 -o 4096 -w randread -t 5 -m 0x1 --prefill --svg "$svg" "$@"

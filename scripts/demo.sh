#!/usr/bin/env bash
# The README's main command: installs what is missing, builds in Release and runs
# bdevperf over every backend of the default config side by side, printing the table.
# Usage: scripts/demo.sh [extra bdevperf flags...]
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
# One job per bdev, round-robin over the cores: with two cores each backend gets a core
# of its own, so their rows compare fairly.
mask=0x1
[ "$(nproc)" -ge 2 ] && mask=0x3
set -x
exec build/release/tools/bdevperf/bdevperf -c "$config" -q 128 -o 4096 -w randread -t 5 \
  -m "$mask" --prefill "$@"

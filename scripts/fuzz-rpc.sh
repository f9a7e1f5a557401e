#!/usr/bin/env bash
# Builds the JSON-RPC request fuzzer with clang (libFuzzer + ASan/UBSan) in build/fuzz
# and runs it for a while (default 60 s) from a small seed corpus. CI runs it briefly;
# a crash exits non-zero and leaves the input as build/fuzz/crash-*.
# Usage: scripts/fuzz-rpc.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

scripts/install-deps.sh clang-14
dir=build/fuzz
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DBDEVKIT_SANITIZE=address -DBDEVKIT_FUZZ=ON -DBDEVKIT_BUILD_TESTS=OFF >/dev/null
fi
ninja -C "$dir" rpc_session_fuzzer

corpus=$dir/rpc_corpus
mkdir -p "$corpus"
seed() { printf '%s' "$2" >"$corpus/$1"; }
seed single '{"jsonrpc":"2.0","method":"spdk_get_version","id":1}'
seed batch '[{"jsonrpc":"2.0","method":"rpc_get_methods","id":"a","params":{"current":true}},{"method":"framework_wait_init"},{"method":"nope","id":[1]}]'
seed create ' {"jsonrpc":"2.0","method":"bdev_malloc_create","id":2,"params":{"name":"M","num_blocks":8,"block_size":512}}{"method":"bdev_get_bdevs","id":null,"params":{"name":"M","timeout":5}}'
seed pretty $'\x05{\n  "jsonrpc": "2.0",\n  "method": "log_get_flags",\n  "id": 3.5\n}'
seed escapes '{"method":"bdev_get_bdevs","id":"\"}\\","params":{"name":"a\"]}{"}}'

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
"$dir/rpc/rpc_session_fuzzer" "$corpus" -max_total_time="$seconds" -max_len=16384 \
  -artifact_prefix="$dir/" -print_final_stats=1

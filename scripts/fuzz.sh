#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (libFuzzer + ASan/UBSan) and
# runs each for SECONDS (default 60) from its committed seeds (tests/fuzz/corpus/T).
# New inputs the fuzzer finds go to the build tree's corpus (BUILD/corpus/T), which
# later runs start from too; the committed seeds are never written. A crash, a
# sanitizer report or a broken invariant stops that target: its input is left as
# BUILD/T-crash-* (or -leak-, -timeout-, -oom-) and the script exits non-zero after
# running the others.
#
# Usage: scripts/fuzz.sh [options] [SECONDS] [TARGET...]
#   TARGET          rpc_session_fuzzer config_loader_fuzzer nvme_prp_fuzzer
#                   raid_superblock_fuzzer (default: all)
#   -q, --quiet     one line per target; a failing target's whole log (CI)
#   -j, --jobs N    N fuzzing processes per target (long runs on a bigger machine;
#                   their logs are BUILD/fuzz-N.log)
#   -l, --list      print the targets and exit
#   FUZZ_BUILD_DIR  build tree (default build/fuzz)
# CI (scripts/test.sh) runs every target for FUZZ_SECONDS (20 s) quietly; a long run
# is e.g.  scripts/fuzz.sh 3600 nvme_prp_fuzzer   or   scripts/fuzz.sh -j 4 600
# To replay one input: BUILD/tests/fuzz/T FILE
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(rpc_session_fuzzer config_loader_fuzzer nvme_prp_fuzzer raid_superblock_fuzzer)
quiet=0
jobs=1
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -q | --quiet) quiet=1 ;;
    -j | --jobs) jobs="$2"; shift ;;
    -l | --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) seconds="$1" ;;
    *)
      if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target '$1' (one of: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$1")
      ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

scripts/install-deps.sh clang-14
dir=$(realpath -m "${FUZZ_BUILD_DIR:-build/fuzz}")
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DBDEVKIT_SANITIZE=address -DBDEVKIT_FUZZ=ON -DBDEVKIT_BUILD_TESTS=OFF >/dev/null
fi
if [ "$quiet" = 1 ]; then
  ninja -C "$dir" "${targets[@]}" >"$dir/fuzz-build.log" 2>&1 || { cat "$dir/fuzz-build.log"; exit 1; }
else
  ninja -C "$dir" "${targets[@]}"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  log="$dir/$t.log"
  mkdir -p "$corpus"
  args=("$corpus" "$PWD/tests/fuzz/corpus/$t" -max_total_time="$seconds" -max_len=16384
    -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$dir/$t-" -print_final_stats=1)
  if [ "$jobs" -gt 1 ]; then
    args+=(-jobs="$jobs" -workers="$jobs")
  fi
  rc=0
  if [ "$quiet" = 1 ]; then
    (cd "$dir" && "tests/fuzz/$t" "${args[@]}") >"$log" 2>&1 || rc=$?
  else
    (cd "$dir" && "tests/fuzz/$t" "${args[@]}") 2>&1 | tee "$log" || rc=$?
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  if [ "$rc" = 0 ]; then
    echo "fuzz: $t: $seconds s, no failure (${runs:-?} inputs, corpus $(ls "$corpus" | wc -l) + seeds)"
  else
    [ "$quiet" = 1 ] && cat "$log"
    echo "fuzz: $t FAILED (exit $rc); input: $(ls -t "$dir/$t-"* 2>/dev/null | head -1)" >&2
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }

# Helpers shared by the benchmark scripts (sourced, not run).

say() { echo "$*" >&2; }
# show_run CMD...: prints the exact command, then runs it.
show_run() { say "+ $*"; "$@"; }

# median_min_max FORMAT V...: "median min max", each printed with FORMAT (e.g. %.0f).
median_min_max() {
  local fmt=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf f " " f " " f, m, v[1], v[NR] }'
}

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# wait_quiet: waits (up to QUIET_WAIT s, default 120; 0 = never) until the CPUs were
# >= 90% idle for a second, so a neighbour's compile does not land in the middle of a
# measurement. Counts the measurements that started busy anyway in NOISY.
QUIET_WAIT=${QUIET_WAIT:-120}
NOISY=0
cpu_idle_busy() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) i0 b0 i1 b1
  while ((QUIET_WAIT > 0)); do
    read -r i0 b0 <<<"$(cpu_idle_busy)"
    sleep 1
    read -r i1 b1 <<<"$(cpu_idle_busy)"
    (( (b1 - b0) * 10 <= (i1 - i0 + b1 - b0) )) && return 0
    if ((SECONDS >= deadline)); then
      say "warning: the machine did not go quiet within ${QUIET_WAIT}s; measuring anyway"
      NOISY=$((NOISY + 1))
      return 0
    fi
  done
}

# release_build DIR TARGET...: configures DIR as the benchmarks' Release build (the same
# flags every time: no tests, no sanitizer; ccache makes a rebuild cheap) and builds
# TARGET... in it.
release_build() {
  local dir=$1
  shift
  show_run cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBDEVKIT_BUILD_TESTS=OFF -DBDEVKIT_SANITIZE= >/dev/null
  show_run ninja -C "$dir" "$@" >/dev/null
}

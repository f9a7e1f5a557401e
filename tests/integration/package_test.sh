#!/usr/bin/env bash
# The installed package, used the way a user would: `cmake --install` into a fresh
# prefix, then programs built outside the tree against it and run.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR CASE
#   contents:     headers (exactly include/bdevkit/*.h, each compiling alone with only
#                 the prefix and pkg-config's flags, none naming a private header),
#                 libbdevkit.so with its soname, libbdevkit.a, the tools, the CMake
#                 package and bdevkit.pc
#   find_package: examples/ configured with find_package(bdevkit) (bdevkit::bdevkit),
#                 every example run, linked against the prefix's library; a program on
#                 bdevkit::bdevkit_static; the out-of-tree XOR plugin loaded into the
#                 installed bdevd (xor_plugin_test.sh)
#   pkg_config:   hello_bdev and hello_bdev_co compiled with `pkg-config --cflags
#                 --libs bdevkit` and run
# The installed library carries the sanitizer flags of its build (an ASan build's
# library only runs in an ASan program): the consumers here get them from the
# package (target usage requirements, .pc Cflags/Libs), not from this script.
set -u
BUILD=$1
SRC=$2
CASE=$3
TMP=$(mktemp -d /tmp/bdevkit_pkg.XXXXXX)
PREFIX=$TMP/prefix
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
trap 'rm -rf "$TMP"' EXIT
run() { echo "+ $*"; "$@"; }

run cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1 ||
  { cat "$TMP/install.log"; echo "FAIL: cmake --install" >&2; exit 1; }
LIBDIR=$(dirname "$(find "$PREFIX" -name libbdevkit.so -print -quit)")
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX=${CXX:-c++}
CCACHE=""
command -v ccache >/dev/null && CCACHE=ccache

# uses_installed_lib EXE: the dynamic loader resolves EXE's libbdevkit.so.0 to the prefix's.
uses_installed_lib() {
  local lib
  lib=$(ldd "$1" | awk '$1 == "libbdevkit.so.0" { print $3 }')
  [[ -n $lib && $(realpath "$lib") == $(realpath "$LIBDIR/libbdevkit.so.0") ]]
}
# check_program PATTERN EXE ARGS...: EXE loads the prefix's library (not the build
# tree's), runs, and prints a line matching PATTERN.
check_program() {
  local pattern=$1 exe=$2; shift 2
  uses_installed_lib "$exe" || { fail "$exe does not load the installed libbdevkit.so"; ldd "$exe"; }
  "$exe" "$@" >"$TMP/run.out" 2>&1 || { fail "$exe $* failed"; cat "$TMP/run.out"; return; }
  cat "$TMP/run.out"
  grep -q "$pattern" "$TMP/run.out" || fail "$exe printed no '$pattern'"
}

case $CASE in
contents)
  for f in bin/bdevd bin/bdevctl bin/bdevperf lib*/libbdevkit.a include/bdevkit/bdev.h; do
    compgen -G "$PREFIX/$f" >/dev/null || fail "$f not installed"
  done
  [[ -f $LIBDIR/cmake/bdevkit/bdevkitConfig.cmake && -f $LIBDIR/cmake/bdevkit/bdevkitConfigVersion.cmake ]] ||
    fail "no CMake package"
  [[ -f $LIBDIR/pkgconfig/bdevkit.pc ]] || fail "no bdevkit.pc"
  soname=$(readelf -d "$LIBDIR/libbdevkit.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
  [[ $soname == libbdevkit.so.0 ]] || fail "soname is '$soname', expected libbdevkit.so.0"
  [[ -L $LIBDIR/libbdevkit.so && -L $LIBDIR/libbdevkit.so.0 ]] || fail "library symlinks missing"
  # The installed tools run from the prefix (bdevd finds the library next to it).
  "$PREFIX/bin/bdevd" --version | grep -q "bdevd (bdevkit)" || fail "installed bdevd does not run"
  uses_installed_lib "$PREFIX/bin/bdevd" || fail "installed bdevd does not use the installed library"
  # Exactly the public headers.
  diff <(cd "$SRC/include/bdevkit" && ls *.h) <(cd "$PREFIX/include/bdevkit" && ls) ||
    fail "installed headers differ from include/bdevkit/*.h"
  if grep -nE '#include "(bdev|rpc|modules|tools|tests)/' "$PREFIX"/include/bdevkit/*.h; then
    fail "a public header includes a private one"
  fi
  # Each alone, with nothing but the prefix and pkg-config's flags.
  for h in "$PREFIX"/include/bdevkit/*.h; do
    printf '#include <bdevkit/%s>\n#include <bdevkit/%s>\n' "$(basename "$h")" "$(basename "$h")" |
      $CCACHE $CXX -std=c++20 -fsyntax-only $(pkg-config --cflags bdevkit) -x c++ - 2>"$TMP/h.err" ||
      { fail "bdevkit/$(basename "$h") does not compile alone"; cat "$TMP/h.err"; }
  done
  ;;
find_package)
  run cmake -S "$SRC/examples" -B "$TMP/examples" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$PREFIX" "${LAUNCHER[@]}" >"$TMP/cfg.log" 2>&1 ||
    { cat "$TMP/cfg.log"; echo "FAIL: configuring examples/ against the package" >&2; exit 1; }
  run cmake --build "$TMP/examples" -j2 >"$TMP/build.log" 2>&1 ||
    { cat "$TMP/build.log"; echo "FAIL: building examples/ against the package" >&2; exit 1; }
  E=$TMP/examples
  check_program "read them back: OK" "$E/hello_bdev/hello_bdev"
  check_program "read them back: OK" "$E/hello_bdev/hello_bdev_co"
  check_program "all threads: OK" "$E/multicore/multicore"
  check_program "xor_demo: OK" "$E/xor_vbdev/xor_demo" "$E/xor_vbdev/libbdev_xor.so"
  # The out-of-tree plugin in the installed daemon, driven by the installed client.
  bash "$SRC/tests/integration/xor_plugin_test.sh" "$PREFIX/bin/bdevd" "$PREFIX/bin/bdevctl" \
    "$E/xor_vbdev/libbdev_xor.so" data || fail "the out-of-tree plugin in the installed bdevd"

  # The static library: its dependencies (absl, liburing, libaio, Threads) come from
  # the package's find_dependency calls.
  mkdir -p "$TMP/static"
  cat >"$TMP/static/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(static_consumer LANGUAGES CXX)
find_package(bdevkit 0.1 REQUIRED)
add_executable(hello_static $SRC/examples/hello_bdev/hello_callback.cc)
target_link_libraries(hello_static PRIVATE bdevkit::bdevkit_static)
CM
  run cmake -S "$TMP/static" -B "$TMP/static/build" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
    "${LAUNCHER[@]}" >"$TMP/scfg.log" 2>&1 && run cmake --build "$TMP/static/build" >"$TMP/sbuild.log" 2>&1 ||
    { cat "$TMP/scfg.log" "$TMP/sbuild.log"; fail "building against bdevkit::bdevkit_static"; }
  if [[ -x $TMP/static/build/hello_static ]]; then
    ldd "$TMP/static/build/hello_static" | grep -q libbdevkit && fail "hello_static loads libbdevkit.so"
    "$TMP/static/build/hello_static" | grep -q "read them back: OK" || fail "hello_static"
  fi
  # A version the package is not compatible with is refused.
  cat >"$TMP/static/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(wrong_version LANGUAGES CXX)
find_package(bdevkit 1.0 REQUIRED)
CM
  cmake -S "$TMP/static" -B "$TMP/static/wrong" -DCMAKE_PREFIX_PATH="$PREFIX" >"$TMP/wrong.log" 2>&1 &&
    fail "find_package(bdevkit 1.0) accepted version 0.x"
  ;;
pkg_config)
  echo "+ pkg-config --cflags --libs bdevkit: $(pkg-config --cflags --libs bdevkit)"
  for ex in hello_callback:hello_bdev hello_coroutine:hello_bdev_co; do
    src=${ex%%:*}; exe=$TMP/${ex##*:}
    run $CCACHE $CXX -std=c++20 -o "$exe" "$SRC/examples/hello_bdev/$src.cc" \
      $(pkg-config --cflags --libs bdevkit) -Wl,-rpath,"$LIBDIR" 2>"$TMP/cc.err" ||
      { fail "compiling $src.cc with pkg-config's flags"; cat "$TMP/cc.err"; continue; }
    check_program "read them back: OK" "$exe"
  done
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
[[ $FAILED == 0 ]] && echo "package $CASE: OK"
exit $FAILED

#!/usr/bin/env bash
# tools/setup/bdevkit-setup on the host, without a guest: usage and bad input, and
# `status` over a made-up sysfs (BDEVKIT_SETUP_SYSFS) with NVMe functions on nvme,
# vfio-pci, uio_pci_generic and no driver. Nothing here changes the machine: every
# `config`/`reset` below is refused before it would write anything, and runs against
# the made-up sysfs, so real NVMe devices on a developer's machine are never touched.
# (Binding for real is tested in the QEMU guest: tests/vm/nvme_env_tests.sh.)
# Usage: setup_tool_host_test.sh PATH/TO/bdevkit-setup
set -u
TOOL=$1
T=$(mktemp -d /tmp/bdevkit-setup-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }

# run NAME ARGS...: the tool on the made-up sysfs $T/sys; keeps out/err/rc.
run() {
  local name=$1
  shift
  BDEVKIT_SETUP_SYSFS=${SYSFS:-$T/sys} timeout 60 "$@" >"$T/$name.out" 2>"$T/$name.err"
  echo $? >"$T/$name.rc"
}
show() { echo "--- $1: exit $(cat "$T/$1.rc")"; cat "$T/$1.out"; echo "--- stderr:"; cat "$T/$1.err"; }
expect() { # NAME RC [REGEX on stderr]
  [ "$(cat "$T/$1.rc")" = "$2" ] || { fail "$1: exit $(cat "$T/$1.rc"), expected $2"; show "$1"; return; }
  [ -z "${3:-}" ] || grep -qE -- "$3" "$T/$1.err" || { fail "$1: stderr does not match /$3/"; show "$1"; }
}
expect_line() { # NAME REGEX on stdout
  grep -qE -- "$2" "$T/$1.out" || { fail "$1: no line matching /$2/"; show "$1"; }
}

# A made-up sysfs: four NVMe functions in four states and a network card.
S=$T/sys
fn() { # BDF CLASS DRIVER
  local d=$S/bus/pci/devices/$1
  mkdir -p "$d" "$S/bus/pci/drivers/${3:-none}"
  echo "$2" >"$d/class"
  echo 0x1b36 >"$d/vendor"
  echo 0x0010 >"$d/device"
  echo -1 >"$d/numa_node"
  [ -z "$3" ] || ln -s "../../drivers/$3" "$d/driver"
}
fn 0000:00:03.0 0x010802 nvme
mkdir -p "$S/bus/pci/devices/0000:00:03.0/nvme/nvme0/nvme0n1/nvme0n1p1" \
  "$S/bus/pci/devices/0000:00:03.0/nvme/nvme0/nvme0n2"
fn 0000:00:04.0 0x010802 vfio-pci
mkdir -p "$S/kernel/iommu_groups/7/devices"
ln -s ../../../../kernel/iommu_groups/7 "$S/bus/pci/devices/0000:00:04.0/iommu_group"
fn 0000:00:05.0 0x010802 uio_pci_generic
mkdir -p "$S/bus/pci/devices/0000:00:05.0/uio/uio0"
fn 0000:00:06.0 0x020000 e1000e
fn 0000:00:07.0 0x010802 ""

run status "$TOOL" status
expect status 0
expect_line status "^BDF +VEN:DEV +NUMA +DRIVER +IOMMU +DEVICES$"
expect_line status "^0000:00:03.0 +1b36:0010 +- +nvme +- +nvme0n1 nvme0n1p1 nvme0n2 *$"
expect_line status "^0000:00:04.0 +1b36:0010 +- +vfio-pci +7 +/dev/vfio/7 *$"
expect_line status "^0000:00:05.0 +1b36:0010 +- +uio_pci_generic +- +/dev/uio0 *$"
expect_line status "^0000:00:07.0 +1b36:0010 +- +\(none\) +- *$"
grep -q 0000:00:06.0 "$T/status.out" && fail "status lists the network card 0000:00:06.0"
expect_line status "^IOMMU: active \(1 groups\)"
expect_line status "^Hugepages: [0-9]+ x [0-9]+ kB reserved"

run help "$TOOL" help
expect help 0
expect_line help "^Usage: bdevkit-setup COMMAND"
run none "$TOOL"
expect none 2
run unknown "$TOOL" frobnicate
expect unknown 2 "unknown command 'frobnicate'"
run badopt "$TOOL" status --frob
expect badopt 2 "unknown option --frob"
run status_args "$TOOL" status 0000:00:03.0
expect status_args 2 "status takes no addresses"
run bad_bdf "$TOOL" config zz:00
expect bad_bdf 2 "'zz:00' is not a PCI address"
run no_fn "$TOOL" reset 0000:00:09.0
expect no_fn 1 "no PCI function 0000:00:09.0"
run not_nvme "$TOOL" config 00:06.0
expect not_nvme 1 "0000:00:06.0 is not an NVMe controller \(class 0x020000"
run bad_mem "$TOOL" config --hugemem 0
expect bad_mem 2 "--hugemem must be a positive number of MB, not '0'"
run bad_nr "$TOOL" config --nr-hugepages -3
expect bad_nr 2 "--nr-hugepages must be a positive number"
run bad_driver "$TOOL" config --driver nvme
expect bad_driver 2 "--driver must be vfio-pci or uio_pci_generic, not 'nvme'"
run no_value "$TOOL" config --driver
expect no_value 2 "--driver needs a value"
run bad_timeout "$TOOL" config --timeout soon
expect bad_timeout 2 "--timeout needs a whole number of seconds"
run no_user "$TOOL" config --user no-such-user-here
expect no_user 1 "no user 'no-such-user-here'"

# No IOMMU: vfio-pci is refused with the way to get one.
mkdir -p "$T/bare/bus/pci/devices" "$T/bare/kernel/iommu_groups"
SYSFS=$T/bare run no_iommu "$TOOL" config --driver vfio-pci
expect no_iommu 1 "no IOMMU is active, so vfio-pci cannot be used: enable VT-d/AMD-Vi .*intel_iommu=on"
SYSFS=$T/bare run no_functions "$TOOL" config
expect no_functions 1 "no NVMe functions found"
SYSFS=$T/bare run bare_status "$TOOL" status
expect bare_status 0
expect_line bare_status "^\(no NVMe functions\)$"
expect_line bare_status "^IOMMU: none active: only uio_pci_generic"

# config and reset need root; status does not.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  chmod 755 "$T"
  run user_config "${nobody[@]}" "$TOOL" config
  expect user_config 1 "'config' must be run as root"
  run user_reset "${nobody[@]}" "$TOOL" reset
  expect user_reset 1 "'reset' must be run as root"
  run user_status "${nobody[@]}" "$TOOL" status
  expect user_status 0
elif [ "$(id -u)" -ne 0 ]; then
  run user_config "$TOOL" config
  expect user_config 1 "'config' must be run as root"
fi

[ $FAILED = 0 ] && echo "setup_tool.host: all checks passed"
exit $FAILED

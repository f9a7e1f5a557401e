#!/usr/bin/env bash
# The nvme module and tools on a machine without a usable NVMe device, through the real
# bdevd/bdevctl and tools: every attach failure names the missing setup step (NVMe/TCP:
# the parameter, or the host:port that refused), and nothing is left behind. A fake sysfs tree (BDEVKIT_SYSFS_ROOT) stands in for devices
# bound to the kernel driver or to vfio-pci without an IOMMU group. (The device itself
# is tested in the QEMU guest: tests/vm.)
# Usage: nvme_test.sh BDEVD BDEVCTL NVME_IDENTIFY NVME_PERF CASE
#   CASE: attach_errors, fake_sysfs, options_and_config, tools
set -u
BDEVD=$1
BDEVCTL=$2
IDENTIFY=$3
PERF=$4
CASE=$5
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# run NAME CMD...: as lib.sh's ctl for the other tools: stdout/stderr/exit code in
# $TMP/NAME.*
run() {
  local name=$1
  shift
  timeout 60 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  echo $? >"$TMP/$name.rc"
}
expect_out() { grep -qE -- "$2" "$TMP/$1.out" || { fail "$1: stdout lacks '$2'"; show "$1"; }; }
# expect_rpc_err NAME CODE PATTERN: bdevctl exit 1, "error CODE: ...PATTERN" on stderr.
expect_rpc_err() {
  local name=$1 code=$2 pattern=$3
  [[ $(rc "$name") == 1 ]] || { fail "$name: exit $(rc "$name"), expected 1"; show "$name"; return; }
  grep -qE -- "error $code: .*$pattern" "$TMP/$name.err" ||
    { fail "$name: no 'error $code: ...$pattern'"; show "$name"; }
}
attach() { # NAME TRADDR [TRTYPE]
  ctl "$1" call bdev_nvme_attach_controller \
    "{\"name\":\"Nvme0\",\"trtype\":\"${3:-pcie}\",\"traddr\":\"$2\"}"
}
expect_nothing_left() {
  ctl left_ctrlrs bdev_nvme_get_controllers
  expect_ok left_ctrlrs
  [[ $(tr -d ' \n' <"$TMP/left_ctrlrs.out") == "[]" ]] || { fail "a controller was left behind"; show left_ctrlrs; }
  ctl left_bdevs bdev_get_bdevs
  grep -q Nvme0 "$TMP/left_bdevs.out" && { fail "a bdev was left behind"; show left_bdevs; }
}

# A fake sysfs: an NVMe function on the kernel's nvme driver, one on vfio-pci without
# an IOMMU group, and a network card.
make_fake_sysfs() {
  local root=$TMP/sys dev
  mkdir -p "$root/bus/pci/drivers/nvme" "$root/bus/pci/drivers/vfio-pci"
  local bdf cls drv
  for dev in 0000:05:00.0,0x010802,nvme 0000:06:00.0,0x010802,vfio-pci 0000:07:00.0,0x020000,; do
    IFS=, read -r bdf cls drv <<<"$dev"
    local path=$root/bus/pci/devices/$bdf
    mkdir -p "$path"
    echo 0x8086 >"$path/vendor"
    echo 0x0a54 >"$path/device"
    echo "$cls" >"$path/class"
    [[ -n $drv ]] && ln -s "$root/bus/pci/drivers/$drv" "$path/driver"
  done
  echo "$root"
}

case $CASE in
attach_errors)
  start_daemon
  attach missing 0000:7f:1f.7
  expect_rpc_err missing -19 "no PCI device 0000:7f:1f.7"
  attach bad "not-a-bdf"
  expect_rpc_err bad -32602 "traddr.*is not a PCI address"
  attach rdma 127.0.0.1 rdma
  expect_rpc_err rdma -22 "trtype.*\"tcp\""
  # NVMe/TCP to a port on 127.0.0.1 nobody listens on (bound, then closed): the error
  # names host:port, nothing is left; missing TCP parameters are named.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  tcp_params="\"name\":\"Nvme0\",\"trtype\":\"tcp\",\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\""
  ctl tcp_closed call bdev_nvme_attach_controller \
    "{$tcp_params,\"trsvcid\":\"$port\",\"subnqn\":\"nqn.2026-11.io.bdevkit:none\"}"
  expect_rpc_err tcp_closed -16 "connection to 127.0.0.1:$port refused"
  ctl tcp_no_port call bdev_nvme_attach_controller "{$tcp_params,\"subnqn\":\"nqn.x\"}"
  expect_rpc_err tcp_no_port -32602 "trsvcid"
  ctl tcp_no_nqn call bdev_nvme_attach_controller "{$tcp_params,\"trsvcid\":\"$port\"}"
  expect_rpc_err tcp_no_nqn -32602 "subnqn"
  ctl tcp_bad_addr call bdev_nvme_attach_controller \
    "{\"name\":\"Nvme0\",\"trtype\":\"tcp\",\"traddr\":\"not-an-address\",\"trsvcid\":\"4420\",\"subnqn\":\"nqn.x\"}"
  expect_rpc_err tcp_bad_addr -32602 "traddr.*not-an-address"
  # The tool too: exit 1 with the same message.
  run identify_closed "$IDENTIFY" -t tcp -a 127.0.0.1 -s "$port" -n nqn.2026-11.io.bdevkit:none
  [[ $(cat "$TMP/identify_closed.rc") == 1 ]] || fail "nvme_identify of a closed port: exit $(cat "$TMP/identify_closed.rc")"
  grep -q "127.0.0.1:$port refused" "$TMP/identify_closed.err" || { fail "nvme_identify: no 'refused' error"; show identify_closed; }
  ctl no_traddr call bdev_nvme_attach_controller '{"name":"Nvme0","trtype":"pcie"}'
  expect_rpc_err no_traddr -32602 "traddr"
  # A PCI function of this machine that is not NVMe, if there is one.
  other=""
  for d in /sys/bus/pci/devices/*; do
    [[ -r $d/class && $(cat "$d/class") != 0x010802 ]] && { other=$(basename "$d"); break; }
  done
  if [[ -n $other ]]; then
    attach not_nvme "$other"
    expect_rpc_err not_nvme -22 "is not an NVMe controller"
  fi
  # Through rpc.py's short form too.
  ctl short bdev_nvme_attach_controller -b Nvme0 -t pcie -a 0000:7f:1f.7
  expect_rpc_err short -19 "no PCI device"
  ctl detach_unknown bdev_nvme_detach_controller Nvme0
  expect_rpc_err detach_unknown -19 "no NVMe controller named Nvme0"
  ctl reset_unknown bdev_nvme_reset_controller Nvme0
  expect_rpc_err reset_unknown -19 "no NVMe controller named Nvme0"
  expect_nothing_left
  stop_daemon
  ;;
fake_sysfs)
  root=$(make_fake_sysfs)
  BDEVKIT_SYSFS_ROOT=$root start_daemon
  attach kernel 0000:05:00.0
  expect_rpc_err kernel -16 "in use by the kernel's nvme driver.*vfio-pci"
  attach no_iommu 0000:06:00.0
  expect_rpc_err no_iommu -22 "has no IOMMU group.*intel_iommu=on"
  attach nic 0000:07:00.0
  expect_rpc_err nic -22 "not an NVMe controller \(class 0x020000"
  expect_nothing_left
  stop_daemon
  BDEVKIT_SYSFS_ROOT=$root run list "$IDENTIFY" --list
  expect_ok list
  expect_out list "0000:05:00.0 +8086:0a54 +driver nvme"
  expect_out list "0000:06:00.0 +8086:0a54 +driver vfio-pci"
  grep -q 0000:07:00.0 "$TMP/list.out" && fail "--list shows a network card"
  ;;
options_and_config)
  start_daemon
  ctl opts call bdev_nvme_set_options '{"timeout_us":2000000,"action_on_timeout":"reset"}'
  expect_ok opts
  ctl bad_opts call bdev_nvme_set_options '{"action_on_timeout":"panic"}'
  expect_rpc_err bad_opts -32602 "action_on_timeout"
  ctl save save_config
  expect_ok save
  python3 - "$TMP/save.out" <<'EOF' || fail "save_config lacks the nvme options (see above)"
import json, sys
doc = json.load(open(sys.argv[1]))
bdev = [s for s in doc["subsystems"] if s["subsystem"] == "bdev"][0]["config"]
opts = [e for e in bdev if e["method"] == "bdev_nvme_set_options"]
assert opts, "no bdev_nvme_set_options"
p = opts[0]["params"]
assert p["timeout_us"] == 2000000 and p["action_on_timeout"] == "reset", p
EOF
  stop_daemon
  # The saved options load back into a fresh daemon.
  cp "$TMP/save.out" "$TMP/saved.json"
  start_daemon --json "$TMP/saved.json"
  ctl save2 save_config
  grep -q '"action_on_timeout": "reset"' "$TMP/save2.out" || { fail "options not restored"; show save2; }
  stop_daemon
  ;;
tools)
  run id_missing "$IDENTIFY" 0000:7f:1f.7
  [[ $(rc id_missing) == 1 ]] || { fail "nvme_identify of a missing device: exit $(rc id_missing)"; show id_missing; }
  grep -q "no PCI device 0000:7f:1f.7" "$TMP/id_missing.err" || { fail "nvme_identify: no message"; show id_missing; }
  run id_usage "$IDENTIFY"
  [[ $(rc id_usage) == 2 ]] || { fail "nvme_identify without args: exit $(rc id_usage)"; show id_usage; }
  run perf_missing "$PERF" -r 0000:7f:1f.7 -t 1
  [[ $(rc perf_missing) == 1 ]] || { fail "nvme_perf of a missing device: exit $(rc perf_missing)"; show perf_missing; }
  grep -q "no PCI device" "$TMP/perf_missing.err" || { fail "nvme_perf: no message"; show perf_missing; }
  run perf_bad "$PERF" -r 0000:00:03.0 -w sideways
  [[ $(rc perf_bad) == 2 ]] || { fail "nvme_perf -w sideways: exit $(rc perf_bad)"; show perf_bad; }
  grep -q "unknown workload 'sideways'" "$TMP/perf_bad.err" || { fail "nvme_perf: no message"; show perf_bad; }
  run perf_spdk_form "$PERF" -r "trtype:PCIe traddr:0000:7f:1f.7" -t 1
  grep -q "no PCI device 0000:7f:1f.7" "$TMP/perf_spdk_form.err" || { fail "nvme_perf: SPDK's -r form"; show perf_spdk_form; }
  ;;
*)
  echo "unknown case $CASE" >&2
  exit 2
  ;;
esac
exit $FAILED

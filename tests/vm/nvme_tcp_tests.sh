#!/usr/bin/env bash
# The NVMe/TCP tests of one guest boot (tests/vm/run.sh runs this inside the guest;
# ctest's vm.nvme_tcp does that): our NVMe driver's TCP transport against the Linux
# kernel's own NVMe-oF target (nvmet + nvmet-tcp, configured through configfs by
# nvmet_target.sh) on 127.0.0.1:4420. In order:
#   1. the target: subsystem $NQN with namespace 1 = a 64 MiB file in /dev/shm
#      (buffered_io; 4 KiB blocks) and namespace 2 = the emulated PCIe disk
#      /dev/nvme0n1 (128 MiB, 512-byte blocks), and a second subsystem $NQN2 with one
#      16 MiB file, both on one port; proven good with the kernel's own
#      initiator (nvme-tcp) first: connect, I/O, digests, port disabled and re-enabled;
#   2. our initiator (nvme_tcp_initiator_tests.sh): identify, attach/detach over RPC,
#      bad input, every bdevperf workload with digests off and on, reset, the port
#      disabled and re-enabled under a verify run, the port left down past
#      ctrlr_loss_timeout_sec, and the kernel reading back what we wrote;
#   3. the target torn down (nothing of ours still holds it).
# The tests of our initiator skip (saying why) while the driver has no TCP transport
# (bdev_nvme_attach_controller's trtype does not mention tcp); after that a missing
# binary or anything else that goes wrong fails them.
# Mode: either; nothing here needs the vIOMMU (ctest runs it with --mode uio).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guest_lib.sh"
. "$here/nvmet_target.sh"
. "$here/nvme_driver_tests.sh" # need_bin, ctl, start_bdevd, stop_bdevd, expect_perf
. "$here/nvme_tcp_initiator_tests.sh"

BUILD=${BDEVKIT_BUILD:-}
SRC=${BDEVKIT_SRC:?run this through tests/vm/run.sh}
NQN=nqn.2026-11.io.bdevkit:tcp-target
NQN2=nqn.2026-11.io.bdevkit:tcp-target2 # a second subsystem on the same port
NS3_FILE=/dev/shm/nvmet-ns3.img         # its one namespace, 16 MiB
TCP_ADDR=$NVMET_ADDR
TCP_PORT=$NVMET_SVCID
NS1_FILE=/dev/shm/nvmet-ns1.img # 64 MiB, 4 KiB blocks (tmpfs: no write zeroes)
NS2_DEV=/dev/nvme0n1            # QEMU's emulated disk, 128 MiB of 512-byte blocks
NS1_BLOCKS=16384 NS1_BS=4096
NS2_BLOCKS=262144 NS2_BS=512

# nvmet_creates: how many controllers the target has created so far (one per admin
# queue connect, from any host): a reconnect shows as a rise.
nvmet_creates() { dmesg | grep -c "nvmet: creating nvm controller"; }

# tcp_conns: established TCP connections to the target's port.
tcp_conns() {
  awk -v p=":$(printf '%04X' "$TCP_PORT")" '$4 == "01" && substr($3, length($3) - 4) == p { n++ } END { print n + 0 }' /proc/net/tcp
}

no_tcp_conns() { [ "$(tcp_conns)" = 0 ]; }

test_target_up() {
  poll 30 "the emulated disk $NS2_DEV" test -b $NS2_DEV
  [ "$(cat /sys/block/nvme0n1/device/transport)" = pcie ] || fail "$NS2_DEV is not the emulated PCIe disk"
  truncate -s 64M $NS1_FILE
  nvmet_up "$NQN" $NS1_FILE $NS2_DEV || fail "the target did not come up: $(dmesg | tail -n 3 | tr '\n' ' ')"
  truncate -s 16M $NS3_FILE
  nvmet_subsys_create "$NQN2" bdevkit-tcp2 && nvmet_ns_add "$NQN2" 1 $NS3_FILE && nvmet_port_link 1 "$NQN2" ||
    fail "the second subsystem did not come up"
  local d=$NVMET_CFS/subsystems/$NQN
  [ "$(cat "$d/namespaces/1/enable")" = 1 ] && [ "$(cat "$d/namespaces/2/enable")" = 1 ] ||
    fail "the namespaces are not enabled"
  [ "$(cat "$d/namespaces/1/buffered_io")" = 1 ] || fail "namespace 1 (a file) is not buffered"
  nvmet_listening || fail "nothing listens on $TCP_PORT"
  note "$NQN on $TCP_ADDR:$TCP_PORT: ns1 $NS1_FILE, ns2 $NS2_DEV; $NQN2: ns1 $NS3_FILE"
}

not_listening() { ! nvmet_listening; }
kernel_state_is() { [ "$(cat "/sys/class/nvme/$1/state")" = "$2" ]; }
kernel_state_not() { [ "$(cat "/sys/class/nvme/$1/state")" != "$2" ]; }

# kernel_io DEV OFFSET_MIB: the kernel writes 1 MiB of random data at OFFSET_MIB of DEV
# (O_DIRECT) and reads it back.
kernel_io() {
  local dev=$1 off=$2
  head -c 1M /dev/urandom >"$VM_WORK/k.data"
  dd if="$VM_WORK/k.data" of="$dev" bs=1M seek="$off" oflag=direct conv=fsync status=none ||
    fail "writing 1 MiB to $dev failed"
  dd if="$dev" of="$VM_WORK/k.read" bs=1M skip="$off" count=1 iflag=direct status=none ||
    fail "reading 1 MiB of $dev failed"
  cmp -s "$VM_WORK/k.data" "$VM_WORK/k.read" || fail "$dev: read back other data than written at $off MiB"
}

# The target is known good before our initiator is tried: the kernel's initiator
# connects (without and with digests), sees both namespaces, writes and reads them,
# and survives the port being disabled and re-enabled under a read.
test_kernel_initiator() {
  local c d1 d2
  c=$(kernel_connect "$NQN" "reconnect_delay=1,ctrl_loss_tmo=60") || fail "the kernel's initiator did not connect"
  poll 30 "the kernel's namespaces of $NQN" kernel_ns_dev "$NQN" 2
  d1=$(kernel_ns_dev "$NQN" 1)
  d2=$(kernel_ns_dev "$NQN" 2)
  log "$c: $d1 $d2"
  [ "$(cat /sys/block/${d1#/dev/}/queue/logical_block_size)" = $NS1_BS ] || fail "$d1: block size is not $NS1_BS"
  [ "$(cat /sys/block/${d2#/dev/}/queue/logical_block_size)" = $NS2_BS ] || fail "$d2: block size is not $NS2_BS"
  [ "$(cat /sys/block/${d1#/dev/}/size)" = $((NS1_BLOCKS * NS1_BS / 512)) ] || fail "$d1: wrong size"
  [ "$(cat /sys/block/${d2#/dev/}/size)" = $((NS2_BLOCKS * NS2_BS / 512)) ] || fail "$d2: wrong size"
  kernel_io "$d1" 8
  # The file behind namespace 1 holds what the kernel's initiator wrote.
  dd if=$NS1_FILE of="$VM_WORK/k.file" bs=1M skip=8 count=1 status=none
  cmp -s "$VM_WORK/k.data" "$VM_WORK/k.file" || fail "$NS1_FILE does not hold what was written through $d1"
  kernel_io "$d2" 8

  # Port disabled under a read: the kernel reconnects once it is back.
  local creates
  creates=$(nvmet_creates)
  dd if="$d1" of=/dev/null bs=4k count=8192 iflag=direct status=none &
  local dd_pid=$!
  nvmet_port_disable 1 || fail "cannot disable the port"
  poll 10 "the target to stop listening" not_listening
  poll 20 "the kernel's $c to see the loss" kernel_state_not "$c" live
  sleep 2
  nvmet_port_enable 1 || fail "cannot enable the port again"
  poll 60 "the kernel's $c live again" kernel_state_is "$c" live
  wait $dd_pid || fail "the read across the port outage failed"
  [ "$(nvmet_creates)" -gt "$creates" ] || fail "the target saw no reconnect"
  kernel_io "$d1" 16
  kernel_disconnect "$NQN" || fail "the kernel's initiator did not disconnect"

  # Digests (header and data): the target negotiates them.
  kernel_connect "$NQN" "hdr_digest,data_digest" || fail "the kernel's initiator did not connect with digests"
  poll 30 "the kernel's namespaces of $NQN (digests)" kernel_ns_dev "$NQN" 2
  kernel_io "$(kernel_ns_dev "$NQN" 1)" 24
  kernel_io "$(kernel_ns_dev "$NQN" 2)" 24
  kernel_disconnect "$NQN" || fail "the kernel's initiator did not disconnect (digests)"
  poll 10 "the connections to port $TCP_PORT to close after the disconnect" no_tcp_conns
  note "kernel nvme-tcp: both namespaces, 1 MiB I/O, reconnect after the port came back, digests"
}

test_target_down() {
  # Nothing of ours may still hold the target: every detach closed its connections.
  poll 10 "the connections to port $TCP_PORT to close at the end" no_tcp_conns
  nvmet_teardown || fail "the target could not be torn down"
  [ -z "$(ls -A "$NVMET_CFS/ports")$(ls -A "$NVMET_CFS/subsystems")" ] || fail "configfs still has ports or subsystems"
  nvmet_listening && fail "something still listens on $TCP_PORT"
  rm -f $NS1_FILE $NS3_FILE
  note "torn down: no connections were left, configfs empty"
}

vm_dispatch "$@"
# Arguments: the names of the tests to run (default all); target_up must come first.
vm_main "$*" \
  target_up:120 \
  kernel_initiator:300 \
  tcp_identify:120 \
  tcp_attach_detach:400 \
  tcp_workloads:600 \
  tcp_digests:400 \
  tcp_reset_under_io:300 \
  tcp_port_flap:400 \
  tcp_ctrlr_loss:300 \
  tcp_data_to_kernel:300 \
  target_down:120

# The environment tests of nvme_tests.sh (sourced): the emulated controller, the
# setup tool (tools/setup/bdevkit-setup) and the kernel's view across rebinds.
# Uses MODE, DRIVER, BDF, SETUP and the helpers of guest_lib.sh.

sysdev() { echo "/sys/bus/pci/devices/$BDF"; }
driver_now() { basename "$(readlink "$(sysdev)/driver" 2>/dev/null)" 2>/dev/null; }
expect_driver() { # NAME
  [ "$(driver_now)" = "$1" ] || fail "$BDF is on '$(driver_now)', expected $1"
}
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
hugepages_total() { awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo; }
hugepages_free() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }

# Where the kernel-written marker lives: namespace 1, 1 MiB at 64 MiB. The driver
# tests may overwrite it later; it is checked before they run.
MARKER_SEEK_MB=64

test_controller_visible() {
  local d
  d=$(sysdev)
  [ -d "$d" ] || fail "no PCI function $BDF (devices: $(ls /sys/bus/pci/devices | tr '\n' ' '))"
  [ "$(cat "$d/class")" = 0x010802 ] || fail "class $(cat "$d/class"), expected 0x010802"
  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1b36:0x0010 ] ||
    fail "vendor:device $(cat "$d/vendor"):$(cat "$d/device"), expected 0x1b36:0x0010"
  poll 30 "the kernel's nvme driver taking $BDF" test "$(driver_now)" = nvme
  poll 30 "/dev/nvme0n1 and /dev/nvme0n2" test -b /dev/nvme0n1 -a -b /dev/nvme0n2
  local serial model
  serial=$(sed 's/ *$//' /sys/class/nvme/nvme0/serial)
  model=$(sed 's/ *$//' /sys/class/nvme/nvme0/model)
  [ "$serial" = deadbeef ] || fail "serial '$serial', expected deadbeef"
  [ "$model" = "QEMU NVMe Ctrl" ] || fail "model '$model', expected 'QEMU NVMe Ctrl'"
  # run.sh: namespace 1 = 128 MiB of 512-byte blocks, namespace 2 = 64 MiB of 4 KiB.
  [ "$(cat /sys/block/nvme0n1/queue/logical_block_size)" = 512 ] || fail "nvme0n1 block size is not 512"
  [ "$(cat /sys/block/nvme0n2/queue/logical_block_size)" = 4096 ] || fail "nvme0n2 block size is not 4096"
  [ "$(cat /sys/block/nvme0n1/size)" = 262144 ] || fail "nvme0n1 is $(cat /sys/block/nvme0n1/size) sectors, expected 262144"
  [ "$(cat /sys/block/nvme0n2/size)" = 131072 ] || fail "nvme0n2 is $(cat /sys/block/nvme0n2/size) sectors, expected 131072"
  if [ "$MODE" = vfio ]; then
    [ -e "$d/iommu_group" ] || fail "vfio mode but $BDF has no IOMMU group (intel_iommu=on not in effect?)"
    note "$(cat "$d/class") $(cat "$d/vendor"):$(cat "$d/device") serial $serial, IOMMU group $(basename "$(readlink "$d/iommu_group")")"
  else
    [ -z "$(ls -A /sys/kernel/iommu_groups 2>/dev/null)" ] || fail "uio mode but the guest has IOMMU groups"
    note "$(cat "$d/class") $(cat "$d/vendor"):$(cat "$d/device") serial $serial, no IOMMU"
  fi
}

test_kernel_writes_marker() {
  head -c 1M /dev/urandom >"$VM_WORK/marker"
  run dd_write 60 dd if="$VM_WORK/marker" of=/dev/nvme0n1 bs=1M seek=$MARKER_SEEK_MB oflag=direct conv=fsync status=none
  expect_rc dd_write 0
  run dd_read 60 dd if=/dev/nvme0n1 of="$VM_WORK/marker.read" bs=1M skip=$MARKER_SEEK_MB count=1 iflag=direct status=none
  expect_rc dd_read 0
  cmp "$VM_WORK/marker" "$VM_WORK/marker.read" || fail "the kernel read back other data than it wrote"
}

test_setup_status() {
  run status 60 "$SETUP" status
  expect_rc status 0
  expect_out status "^$BDF +1b36:0010 +- +nvme +[0-9-]+ +nvme0n1 nvme0n2"
  expect_out status "^Hugepages: 0 x 2048 kB reserved"
  if [ "$MODE" = vfio ]; then
    expect_out status "^IOMMU: active"
  else
    expect_out status "^IOMMU: none active: only uio_pci_generic"
  fi
  # status reads only; it works without root.
  run status_user 60 "${AS_NOBODY[@]}" "$SETUP" status
  expect_rc status_user 0
  expect_out status_user "^$BDF "
}

test_setup_bad_input() {
  local nr_before
  nr_before=$(hugepages_total)
  run no_args 60 "$SETUP"
  expect_rc no_args 2
  run unknown 60 "$SETUP" frobnicate
  expect_rc unknown 2
  expect_err unknown "unknown command 'frobnicate'"
  run bad_bdf 60 "$SETUP" config 12345
  expect_rc bad_bdf 2
  expect_err bad_bdf "'12345' is not a PCI address"
  run missing_bdf 60 "$SETUP" config 0000:00:09.0
  expect_rc missing_bdf 1
  expect_err missing_bdf "no PCI function 0000:00:09.0"
  run not_nvme 60 "$SETUP" config 00:1f.0
  expect_rc not_nvme 1
  expect_err not_nvme "0000:00:1f.0 is not an NVMe controller"
  run bad_mem 60 "$SETUP" config --hugemem lots
  expect_rc bad_mem 2
  expect_err bad_mem "--hugemem must be a positive number of MB, not 'lots'"
  run bad_driver 60 "$SETUP" config --driver igb_uio
  expect_rc bad_driver 2
  expect_err bad_driver "--driver must be vfio-pci or uio_pci_generic"
  run not_root 60 "${AS_NOBODY[@]}" "$SETUP" config
  expect_rc not_root 1
  expect_err not_root "'config' must be run as root"
  run not_root_reset 60 "${AS_NOBODY[@]}" "$SETUP" reset
  expect_rc not_root_reset 1
  # A driver module that will not load: a modprobe that fails, as on a kernel without it.
  mkdir -p "$VM_WORK/fakebin"
  printf '#!/bin/sh\necho "modprobe: FATAL: Module $1 not found in directory /lib/modules/$(uname -r)" >&2\nexit 1\n' \
    >"$VM_WORK/fakebin/modprobe"
  chmod +x "$VM_WORK/fakebin/modprobe"
  run no_module 60 env PATH="$VM_WORK/fakebin:$PATH" "$SETUP" config --driver uio_pci_generic
  expect_rc no_module 1
  expect_err no_module "module uio_pci_generic is missing or does not load .*Module uio_pci_generic not found"
  if [ "$MODE" = uio ]; then
    run no_iommu 10 "$SETUP" config --driver vfio-pci
    expect_rc no_iommu 1
    expect_err no_iommu "no IOMMU is active, so vfio-pci cannot be used"
  fi
  # None of it changed anything.
  expect_driver nvme
  [ "$(hugepages_total)" = "$nr_before" ] || fail "a rejected config changed the hugepages ($nr_before -> $(hugepages_total))"
}

test_setup_skips_mounted() {
  local mkfs
  modprobe ext4 || fail "cannot load ext4 (for ext2)"
  mkfs=$(command -v mkfs.ext2 || echo "busybox mke2fs")
  run mkfs 60 $mkfs -q /dev/nvme0n2
  expect_rc mkfs 0
  mkdir -p /mnt/ns2
  mount /dev/nvme0n2 /mnt/ns2 || fail "cannot mount the ext2 made on /dev/nvme0n2"
  run named 60 "$SETUP" config --driver uio_pci_generic --nr-hugepages 8 $BDF
  run all 60 "$SETUP" config --driver uio_pci_generic --nr-hugepages 8
  umount /mnt/ns2
  expect_rc named 1
  expect_err named "$BDF: left on nvme: /dev/nvme0n2 is mounted"
  expect_rc all 1
  expect_err all "$BDF: left on nvme: /dev/nvme0n2 is mounted"
  expect_err all "no NVMe function was bound"
  expect_driver nvme
}

test_bind_uio() {
  run config 60 "$SETUP" config --driver uio_pci_generic --nr-hugepages 64
  expect_rc config 0
  expect_driver uio_pci_generic
  [ -d "$(sysdev)/uio/uio0" ] || fail "no $(sysdev)/uio/uio0"
  poll 10 "/dev/uio0" test -c /dev/uio0
  [ -e "$(sysdev)/resource0" ] || fail "no BAR0 resource file"
  [ ! -e /dev/nvme0n1 ] || fail "/dev/nvme0n1 still there after the unbind"
  [ "$(hugepages_total)" = 64 ] || fail "HugePages_Total is $(hugepages_total), expected 64"
  awk '$3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts || fail "no hugetlbfs mounted"
  run status 60 "$SETUP" status
  expect_out status "^$BDF +1b36:0010 +- +uio_pci_generic +[0-9-]+ +/dev/uio0"
  expect_out status "^Hugepages: 64 x 2048 kB reserved"
  # A process using the device through uio: the tool names it instead of hanging.
  sleep 60 </dev/uio0 &
  local holder=$!
  run held 60 "$SETUP" reset
  kill $holder
  wait $holder 2>/dev/null
  expect_rc held 1
  expect_err held "$BDF: in use through uio_pci_generic by process $holder \(sleep\)"
  expect_driver uio_pci_generic
  # Binding again is a no-op.
  run again 60 "$SETUP" config --driver uio_pci_generic --nr-hugepages 64
  expect_rc again 0
  expect_out again "$BDF: already on uio_pci_generic"
}

test_bind_vfio() {
  if [ "$MODE" = uio ]; then
    # Without an IOMMU the tool picks uio_pci_generic by itself, and refuses vfio-pci.
    run auto 60 "$SETUP" config --nr-hugepages 64
    expect_rc auto 0
    expect_out auto "$BDF: already on uio_pci_generic"
    run refuse 30 "$SETUP" config --driver vfio-pci
    expect_rc refuse 1
    expect_err refuse "no IOMMU is active"
    expect_driver uio_pci_generic
    note "no IOMMU: config chose uio_pci_generic and refused vfio-pci"
    return 0
  fi
  # From uio_pci_generic to vfio-pci, chosen by the tool because there is an IOMMU.
  run config 60 "$SETUP" config --nr-hugepages 64 --user nobody
  expect_rc config 0
  expect_driver vfio-pci
  local grp
  grp=$(basename "$(readlink "$(sysdev)/iommu_group")")
  poll 10 "/dev/vfio/$grp" test -c "/dev/vfio/$grp"
  [ -c /dev/vfio/vfio ] || fail "no /dev/vfio/vfio"
  [ "$(ls "/sys/kernel/iommu_groups/$grp/devices")" = "$BDF" ] ||
    fail "IOMMU group $grp holds $(ls "/sys/kernel/iommu_groups/$grp/devices" | tr '\n' ' ')"
  [ "$(stat -c %U "/dev/vfio/$grp")" = nobody ] || fail "/dev/vfio/$grp is owned by $(stat -c %U "/dev/vfio/$grp"), not nobody"
  # --user is what lets a normal user run the driver: it can open the group.
  "${AS_NOBODY[@]}" bash -c "exec 3<>/dev/vfio/$grp" || fail "user nobody cannot open /dev/vfio/$grp"
  chown root "/dev/vfio/$grp"
  run status 60 "$SETUP" status
  expect_out status "^$BDF +1b36:0010 +- +vfio-pci +$grp +/dev/vfio/$grp"
  note "vfio-pci, IOMMU group $grp alone, opened as user nobody after --user"
}

test_reset_to_kernel() {
  run reset 60 "$SETUP" reset
  expect_rc reset 0
  expect_driver nvme
  poll 30 "/dev/nvme0n1 after the rebind to nvme" test -b /dev/nvme0n1
  # What the kernel wrote before the rebinds is still there...
  run dd_read 60 dd if=/dev/nvme0n1 of="$VM_WORK/marker.after" bs=1M skip=$MARKER_SEEK_MB count=1 iflag=direct status=none
  expect_rc dd_read 0
  cmp "$VM_WORK/marker" "$VM_WORK/marker.after" || fail "the marker written before the rebinds changed"
  # ... and the kernel's driver works again: write and read back elsewhere.
  head -c 1M /dev/urandom >"$VM_WORK/second"
  run dd_write 60 dd if="$VM_WORK/second" of=/dev/nvme0n2 bs=1M seek=8 oflag=direct conv=fsync status=none
  expect_rc dd_write 0
  run dd_read2 60 dd if=/dev/nvme0n2 of="$VM_WORK/second.read" bs=1M skip=8 count=1 iflag=direct status=none
  cmp "$VM_WORK/second" "$VM_WORK/second.read" || fail "after the rebind, the kernel read back other data than it wrote"
  run again 60 "$SETUP" reset
  expect_rc again 0
  expect_out again "$BDF: already on nvme"
  [ "$(hugepages_total)" = 64 ] || fail "reset without --free-hugepages released the hugepages"
}

test_bind_for_driver() {
  run config 60 "$SETUP" config --driver "$DRIVER" --nr-hugepages 64
  expect_rc config 0
  expect_driver "$DRIVER"
  [ "$(hugepages_free)" -ge 64 ] || fail "only $(hugepages_free) hugepages free"
  note "$BDF on $DRIVER, $(hugepages_free) hugepages free"
}

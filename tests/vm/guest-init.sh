#!/bin/busybox sh
# /init of the bdevkit test guest (tests/vm/setup.sh puts it in the initramfs).
#
# Loads the boot modules, mounts the host's / (9p, read-only) under a tmpfs overlay,
# moves the run's results folder (9p, read-write) to its host path inside that root,
# and runs the command run.sh left there in a chroot: host-built binaries run
# unchanged at their host paths. Writes the command's exit status to the results
# folder and powers off. Every failure powers off too: the host must never wait on a
# guest that cannot go on (and run.sh has its own whole-run timeout besides).
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev
/bin/busybox --install -s # /sbin/modprobe too: the kernel runs it to load modules on demand
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "vm-init: $*"; }
off() {
  sync
  poweroff -f
  sleep 2
  reboot -f # with QEMU's -no-reboot this ends QEMU as well
}
fail() {
  say "ERROR: $*"
  [ -d /results/. ] && echo "$*" >/results/init-error 2>/dev/null
  dmesg | tail -n 30
  off
}

kver=$(cat /kver)
while read -r m; do
  # A failing soft dependency (say crct10dif-pclmul on a CPU without PCLMUL) is not
  # fatal; the mounts below fail loudly if something that matters is missing.
  insmod "/$m" 2>/dev/null || say "insmod $m failed (continuing)"
done </boot.load

opts9p=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts9p" results /results || fail "cannot mount the results share"
[ -f /results/guest.conf ] || fail "no guest.conf in the results share"
. /results/guest.conf # OUT, GUEST_TIMEOUT

# The host's / is read-only and does not change during the run, so let the guest
# cache it (cache=loose): binaries load from the page cache after the first read.
mkdir -p /lower /rw /newroot
mount -t 9p -o "$opts9p,ro,cache=loose" hostroot /lower || fail "cannot mount the host root share"
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  fail "cannot mount the overlay over the host root"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs tmpfs $r/run
# The guest kernel's modules, where the host's modprobe (in the chroot) looks.
mkdir -p "$r/lib/modules/$kver"
mount --bind "/lib/modules/$kver" "$r/lib/modules/$kver"
mkdir -p "$r$OUT"
mount --move /results "$r$OUT" || fail "cannot move the results share to $OUT"
ip link set lo up 2>/dev/null

cut -d' ' -f1 /proc/uptime >"$r$OUT/boot-seconds"
say "running $OUT/command.sh (guest up $(cat "$r$OUT/boot-seconds") s, timeout ${GUEST_TIMEOUT} s)"
timeout "$GUEST_TIMEOUT" chroot $r /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root TERM=dumb LANG=C.UTF-8 /bin/bash "$OUT/command.sh" </dev/null
rc=$?
up=$(cut -d' ' -f1 /proc/uptime)
if [ "$rc" = 143 ] || [ "$rc" = 137 ]; then
  awk -v a="$(cat "$r$OUT/boot-seconds")" -v b="$up" -v t="$GUEST_TIMEOUT" 'BEGIN { exit !(b - a >= t - 1) }' &&
    say "the command timed out after $GUEST_TIMEOUT s"
fi
dmesg >"$r$OUT/dmesg.log"
echo "$up" >"$r$OUT/end-seconds"
echo "$rc" >"$r$OUT/rc"
say "command exited with status $rc (guest up $up s); powering off"
umount "$r$OUT"
off

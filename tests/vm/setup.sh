#!/usr/bin/env bash
# Prepares what the QEMU test guest needs, and nothing on the host beyond packages:
#   1. the packages (qemu-system-x86 busybox-static cpio kmod xz-utils), through
#      scripts/install-deps.sh (apt-get, --no-install-recommends);
#   2. Debian's guest kernel, fetched with `apt-get download` and unpacked with
#      `dpkg-deb -x` (never installed on the host), reduced to an uncompressed
#      vmlinux (QEMU boots it directly via PVH, ~2 s faster than the bzImage under
#      TCG) and the few modules the guest needs, cached in $BDEVKIT_VM_CACHE;
#   3. the initramfs: busybox-static, those modules, and tests/vm/guest-init.sh as
#      /init, cached under a name that changes when any of them changes.
# Prints KERNEL=, INITRD= and KVER= lines on stdout (run.sh reads them); progress on
# stderr. Safe to run concurrently (one flock on the cache).
#
# Usage: tests/vm/setup.sh [--no-install]
# Env:   BDEVKIT_VM_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/bdevkit-vm)
#        BDEVKIT_VM_KERNEL_PKG  e.g. linux-image-6.1.0-56-amd64 (default: what Debian's
#                           linux-image-amd64 meta package depends on now)
# Exit:  0 ready; 1 a step failed (the message says which); 77 the tools cannot be
#        installed here (not root and no sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Modules in the initramfs. BOOT ones are loaded by /init (the device starts bound to
# the kernel's nvme driver, as on a real machine); the others are loaded on demand
# with modprobe inside the guest (bdevkit-setup does it).
BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay nvme)
# nvme-tcp, nvmet and nvmet-tcp are the NVMe/TCP boot's (nvme_tcp_tests.sh); their
# digests ask the crypto API for crc32c, which modprobe loads by alias (no symbol
# dependency pulls it in), so it is named here.
DEMAND_MODULES=(vfio-pci vfio_iommu_type1 uio_pci_generic ext4 nvme-tcp nvmet nvmet-tcp crc32c_generic crc32c-intel)
PACKAGES=(qemu-system-x86 busybox-static cpio kmod xz-utils)

say() { echo "vm-setup: $*" >&2; }
die() { echo "vm-setup: ERROR: $*" >&2; exit 1; }

install=1
case "${1:-}" in
  --no-install) install=0 ;;
  "") ;;
  *) echo "usage: $0 [--no-install]" >&2; exit 2 ;;
esac

cache=${BDEVKIT_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-$repo/build}/.cache}/bdevkit-vm}
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 600 9 || die "could not lock $cache/.lock within 600 s"

# --- 1. packages ------------------------------------------------------------------
if [ "$install" = 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
      say "cannot install ${missing[*]}: not root and no sudo"
      exit 77
    fi
    "$repo/scripts/install-deps.sh" "${PACKAGES[@]}" >&2 || die "installing ${missing[*]} failed"
  fi
fi
for tool in qemu-system-x86_64 cpio depmod modprobe xz; do
  command -v "$tool" >/dev/null || die "$tool is missing (install: ${PACKAGES[*]})"
done
# The initramfs has no libc: only busybox-static's /bin/busybox will run there.
busybox=/bin/busybox
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" &&
  [ -x "$busybox" ] || die "busybox-static is missing (/bin/busybox)"

# --- 2. kernel ----------------------------------------------------------------------
resolve_kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
pkg=${BDEVKIT_VM_KERNEL_PKG:-$(resolve_kernel_pkg)}
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
  say "apt-cache knows no linux-image-amd64: running apt-get update"
  apt-get update -qq >&2 || true
  pkg=$(resolve_kernel_pkg)
fi
if [ -z "$pkg" ]; then
  # Offline, or no package lists: any kernel cached before will do.
  kdir=$(ls -d "$cache"/kernel-*/ 2>/dev/null | head -n1 || true)
  [ -n "$kdir" ] || die "cannot resolve the guest kernel package (apt-cache depends linux-image-amd64 found nothing) and none is cached in $cache"
  kdir=${kdir%/}
  say "kernel package unknown (no apt lists); using the cached $(basename "$kdir")"
else
  kdir="$cache/kernel-${pkg#linux-image-}"
fi
kver=${kdir##*/kernel-}

# The cached kernel is reused while it holds the same module list.
if [ -f "$kdir/ready" ] && [ "$(cat "$kdir/modules.list" 2>/dev/null)" != "${BOOT_MODULES[*]} / ${DEMAND_MODULES[*]}" ]; then
  say "the module list changed: refetching"
  rm -f "$kdir/ready"
fi
if [ ! -f "$kdir/ready" ]; then
  [ -n "$pkg" ] || die "no package to fetch"
  t0=$(date +%s.%N)
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  say "fetching $pkg (apt-get download; not installed on the host)"
  (cd "$work" && apt-get download "$pkg" >&2 2>"$work/download.log") ||
    { cat "$work/download.log" >&2; die "apt-get download $pkg failed"; }
  deb=$(ls "$work"/*.deb)
  say "unpacking $(basename "$deb") ($(du -m "$deb" | cut -f1) MB)"
  dpkg-deb -x "$deb" "$work/root"
  [ -d "$work/root/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"
  depmod -b "$work/root" "$kver"

  # vmlinux: the bzImage's payload is an xz stream; cut it out and decompress it.
  vmlinuz="$work/root/boot/vmlinuz-$kver"
  offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
  [ -n "$offset" ] || die "no xz stream in $vmlinuz (is this kernel not xz-compressed?)"
  tail -c +$((offset + 1)) "$vmlinuz" | xz -dc --single-stream >"$work/vmlinux" 2>/dev/null || true
  [ "$(head -c 4 "$work/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
    die "the payload of $vmlinuz did not decompress to an ELF vmlinux"

  # The modules the guest needs, with their dependencies, and a load order for /init.
  new="$work/kernel"
  mkdir -p "$new/lib/modules/$kver"
  cp "$work/root/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$new/lib/modules/$kver/"
  for m in "${BOOT_MODULES[@]}" "${DEMAND_MODULES[@]}"; do
    modprobe -d "$work/root" -S "$kver" --show-depends "$m" >"$work/deps" ||
      die "module $m not found in $pkg"
    while read -r kw path _; do
      [ "$kw" = insmod ] || continue
      rel=${path#"$work/root/"}
      mkdir -p "$new/$(dirname "$rel")"
      cp -n "$path" "$new/$rel"
      if [[ " ${BOOT_MODULES[*]} " == *" $m "* ]]; then
        grep -qxF "$rel" "$new/boot.load" 2>/dev/null || echo "$rel" >>"$new/boot.load"
      fi
    done <"$work/deps"
  done
  depmod -b "$new" "$kver"
  mv "$work/vmlinux" "$new/vmlinux"
  cp "$work/root/boot/config-$kver" "$new/config"
  echo "${BOOT_MODULES[*]} / ${DEMAND_MODULES[*]}" >"$new/modules.list"
  rm -rf "$kdir"
  mv "$new" "$kdir"
  touch "$kdir/ready"
  rm -rf "$work"
  trap - EXIT
  # Older kernels and their initramfs images are of no further use.
  for old in "$cache"/kernel-*; do
    [ "$old" = "$kdir" ] || rm -rf "$old"
  done
  rm -f "$cache"/initramfs-*.cpio.gz
  say "kernel $kver ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
fi

# --- 3. initramfs ---------------------------------------------------------------------
key=$( (cat "$here/guest-init.sh" "$kdir/boot.load"; sha256sum "$busybox") | sha256sum | cut -c1-16)
initrd="$cache/initramfs-$kver-$key.cpio.gz"
if [ ! -f "$initrd" ]; then
  work=$(mktemp -d "$cache/initrd.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,dev,proc,sys,lib/modules,results,newroot}
  cp "$busybox" "$work/bin/busybox"
  cp "$here/guest-init.sh" "$work/init"
  chmod 755 "$work/init"
  cp -a "$kdir/lib/modules/$kver" "$work/lib/modules/"
  cp "$kdir/boot.load" "$work/boot.load"
  echo "$kver" >"$work/kver"
  (cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$work"
  trap - EXIT
  for old in "$cache"/initramfs-*.cpio.gz; do
    [ "$old" = "$initrd" ] || rm -f "$old"
  done
  say "initramfs $(basename "$initrd") ($(du -k "$initrd" | cut -f1) KiB)"
fi

echo "KERNEL=$kdir/vmlinux"
echo "INITRD=$initrd"
echo "KVER=$kver"

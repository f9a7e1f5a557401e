#!/usr/bin/env bash
# The Linux kernel's NVMe-oF target (nvmet + nvmet-tcp), configured through configfs,
# and the kernel's own NVMe/TCP initiator (nvme-tcp through /dev/nvme-fabrics, no
# nvme-cli): what the NVMe/TCP guest tests (nvme_tcp_tests.sh) and benchmark
# (bench/nvme_tcp_guest.sh) run our initiator against. Runs in the test guest as root.
#
# Sourced, it defines the functions below (each returns non-zero with a message on
# stderr when a step fails). Run, it is a small tool for trying things by hand:
#   nvmet_target.sh up NQN PATH...   subsystem NQN (any host) with one namespace per
#                                    PATH (a file: buffered_io=1; a block device),
#                                    on a tcp port at 127.0.0.1:4420
#   nvmet_target.sh down             removes every port and subsystem
#   nvmet_target.sh show             the configfs tree
#
# A port is disabled by unlinking every subsystem (the kernel then stops listening and
# drops the port's controllers with their connections: nvmet_port_disable) and enabled
# again by linking them back (nvmet_port_enable); nvmet_port_remove removes the port.

NVMET_CFS=/sys/kernel/config/nvmet
NVMET_ADDR=${NVMET_ADDR:-127.0.0.1}
NVMET_SVCID=${NVMET_SVCID:-4420}

nvmet_err() { echo "nvmet: $*" >&2; return 1; }

# nvmet_load: the target and initiator modules, and configfs mounted.
nvmet_load() {
  local m
  for m in nvmet nvmet-tcp nvme-tcp; do
    modprobe "$m" || { nvmet_err "modprobe $m failed"; return 1; }
  done
  if ! grep -q ' /sys/kernel/config configfs ' /proc/mounts; then
    mount -t configfs configfs /sys/kernel/config || { nvmet_err "cannot mount configfs"; return 1; }
  fi
  [ -d "$NVMET_CFS" ] || { nvmet_err "no $NVMET_CFS after loading nvmet"; return 1; }
}

# nvmet_subsys_create NQN [SERIAL]: a subsystem any host may connect to.
nvmet_subsys_create() {
  local nqn=$1 serial=${2:-}
  local d=$NVMET_CFS/subsystems/$nqn
  mkdir "$d" || { nvmet_err "cannot create subsystem $nqn"; return 1; }
  echo 1 >"$d/attr_allow_any_host" || { nvmet_err "$nqn: cannot allow any host"; return 1; }
  if [ -n "$serial" ]; then
    echo "$serial" >"$d/attr_serial" || { nvmet_err "$nqn: cannot set serial $serial"; return 1; }
  fi
}

# nvmet_ns_add NQN NSID PATH: namespace NSID backed by PATH and enabled. A regular
# file is served through the page cache (buffered_io=1: files in /dev/shm have no
# O_DIRECT); a block device directly.
nvmet_ns_add() {
  local nqn=$1 nsid=$2 path=$3
  local d=$NVMET_CFS/subsystems/$nqn/namespaces/$nsid
  [ -e "$path" ] || { nvmet_err "no backing $path for namespace $nsid"; return 1; }
  mkdir "$d" || { nvmet_err "$nqn: cannot create namespace $nsid"; return 1; }
  echo -n "$path" >"$d/device_path" || { nvmet_err "$nqn/$nsid: cannot set device_path $path"; return 1; }
  if [ -f "$path" ]; then
    echo 1 >"$d/buffered_io" || { nvmet_err "$nqn/$nsid: cannot set buffered_io"; return 1; }
  fi
  echo 1 >"$d/enable" || { nvmet_err "$nqn/$nsid: cannot enable (backed by $path)"; return 1; }
}

# nvmet_port_create ID [ADDR [SVCID]]: a tcp/ipv4 port (not listening until a
# subsystem is linked to it).
nvmet_port_create() {
  local id=$1 addr=${2:-$NVMET_ADDR} svcid=${3:-$NVMET_SVCID}
  local d=$NVMET_CFS/ports/$id
  mkdir "$d" || { nvmet_err "cannot create port $id"; return 1; }
  echo tcp >"$d/addr_trtype" && echo ipv4 >"$d/addr_adrfam" &&
    echo "$addr" >"$d/addr_traddr" && echo "$svcid" >"$d/addr_trsvcid" ||
    { nvmet_err "port $id: cannot set tcp $addr:$svcid"; return 1; }
}

# nvmet_port_link ID NQN / nvmet_port_unlink ID NQN: offers NQN on port ID, or stops
# offering it; the port listens while at least one subsystem is linked.
nvmet_port_link() {
  ln -s "$NVMET_CFS/subsystems/$2" "$NVMET_CFS/ports/$1/subsystems/$2" ||
    { nvmet_err "cannot link $2 to port $1"; return 1; }
}
nvmet_port_unlink() {
  rm "$NVMET_CFS/ports/$1/subsystems/$2" || { nvmet_err "cannot unlink $2 from port $1"; return 1; }
}

# nvmet_port_disable ID / nvmet_port_enable ID: the whole port down (every subsystem
# unlinked: the kernel stops listening and drops the port's controllers with their
# connections) and up again (the same subsystems linked back; the list is kept in
# $NVMET_STATE/port-ID.links meanwhile).
NVMET_STATE=${NVMET_STATE:-/run/bdevkit-nvmet}
nvmet_port_disable() {
  local d=$NVMET_CFS/ports/$1 l links=()
  for l in "$d"/subsystems/*; do
    [ -L "$l" ] && links+=("$(basename "$l")")
  done
  [ ${#links[@]} -gt 0 ] || { nvmet_err "port $1 has no subsystem linked (already disabled?)"; return 1; }
  mkdir -p "$NVMET_STATE"
  printf '%s\n' "${links[@]}" >"$NVMET_STATE/port-$1.links"
  for l in "${links[@]}"; do
    nvmet_port_unlink "$1" "$l" || return 1
  done
}
nvmet_port_enable() {
  local f=$NVMET_STATE/port-$1.links nqn
  [ -f "$f" ] || { nvmet_err "port $1 was not disabled by nvmet_port_disable"; return 1; }
  while read -r nqn; do
    nvmet_port_link "$1" "$nqn" || return 1
  done <"$f"
  rm -f "$f"
}

# nvmet_port_remove ID: unlinks every subsystem and removes the port.
nvmet_port_remove() {
  local d=$NVMET_CFS/ports/$1 l
  for l in "$d"/subsystems/*; do
    [ -L "$l" ] || continue
    rm "$l" || { nvmet_err "cannot unlink $(basename "$l") from port $1"; return 1; }
  done
  rmdir "$d" || { nvmet_err "cannot remove port $1"; return 1; }
}

# nvmet_subsys_remove NQN: disables and removes its namespaces, then the subsystem
# (it must be linked to no port).
nvmet_subsys_remove() {
  local d=$NVMET_CFS/subsystems/$1 ns
  for ns in "$d"/namespaces/*; do
    [ -d "$ns" ] || continue
    echo 0 >"$ns/enable"
    rmdir "$ns" || { nvmet_err "$1: cannot remove namespace $(basename "$ns")"; return 1; }
  done
  rmdir "$d" || { nvmet_err "cannot remove subsystem $1"; return 1; }
}

# nvmet_teardown: every port, then every subsystem; nothing of the target is left.
nvmet_teardown() {
  local p s rc=0
  [ -d "$NVMET_CFS" ] || return 0
  for p in "$NVMET_CFS"/ports/*; do
    [ -d "$p" ] && { nvmet_port_remove "$(basename "$p")" || rc=1; }
  done
  for s in "$NVMET_CFS"/subsystems/*; do
    [ -d "$s" ] && { nvmet_subsys_remove "$(basename "$s")" || rc=1; }
  done
  return $rc
}

# nvmet_listening [SVCID]: the kernel listens on SVCID (any address) over TCP.
nvmet_listening() {
  local hex
  hex=$(printf '%04X' "${1:-$NVMET_SVCID}")
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' /proc/net/tcp
}

# nvmet_up NQN PATH...: the standard test target: NQN with namespaces 1.. backed by
# the PATHs, linked to port 1 on $NVMET_ADDR:$NVMET_SVCID, listening.
nvmet_up() {
  local nqn=$1 nsid=1 path
  shift
  nvmet_load || return 1
  nvmet_subsys_create "$nqn" bdevkit-tcp || return 1
  for path in "$@"; do
    nvmet_ns_add "$nqn" $nsid "$path" || return 1
    nsid=$((nsid + 1))
  done
  nvmet_port_create 1 || return 1
  nvmet_port_link 1 "$nqn" || return 1
  local i
  for i in $(seq 50); do
    nvmet_listening && return 0
    sleep 0.1
  done
  nvmet_err "port 1 linked but nothing listens on $NVMET_SVCID"
}

# --- the kernel's initiator -----------------------------------------------------------

# kernel_connect NQN [EXTRA_OPTIONS]: connects the kernel's nvme-tcp initiator to NQN on
# $NVMET_ADDR:$NVMET_SVCID (EXTRA_OPTIONS e.g. "hdr_digest,data_digest"); prints the
# controller's name (nvmeN). One write of the options to /dev/nvme-fabrics, then a read
# of the same open file answers "instance=N,cntlid=M".
kernel_connect() {
  local nqn=$1 extra=${2:-} opts answer fd
  opts="transport=tcp,traddr=$NVMET_ADDR,trsvcid=$NVMET_SVCID,nqn=$nqn${extra:+,$extra}"
  [ -c /dev/nvme-fabrics ] || { nvmet_err "no /dev/nvme-fabrics (nvme-fabrics not loaded?)"; return 1; }
  exec {fd}<>/dev/nvme-fabrics || return 1
  if ! printf '%s' "$opts" >&"$fd"; then
    exec {fd}>&-
    nvmet_err "the kernel refused to connect: $opts (see dmesg)"
    return 1
  fi
  read -r answer <&"$fd"
  exec {fd}>&-
  [[ $answer =~ instance=([0-9]+) ]] || { nvmet_err "unexpected answer from /dev/nvme-fabrics: '$answer'"; return 1; }
  echo "nvme${BASH_REMATCH[1]}"
}

# kernel_ctrlrs NQN: the kernel's controllers (nvmeN) connected to NQN over tcp.
kernel_ctrlrs() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c/subsysnqn" ] || continue
    [ "$(cat "$c/subsysnqn")" = "$1" ] && [ "$(cat "$c/transport")" = tcp ] && basename "$c"
  done
}

# kernel_disconnect NQN: deletes every kernel controller connected to NQN.
kernel_disconnect() {
  local c
  for c in $(kernel_ctrlrs "$1"); do
    echo 1 >"/sys/class/nvme/$c/delete_controller" 2>/dev/null || true
  done
  local i
  for i in $(seq 100); do
    [ -z "$(kernel_ctrlrs "$1")" ] && return 0
    sleep 0.1
  done
  nvmet_err "kernel controllers of $1 still there: $(kernel_ctrlrs "$1")"
}

# kernel_ns_dev NQN NSID: the block device (/dev/nvmeXnY) of namespace NSID of the
# subsystem NQN as the kernel's initiator sees it (with native multipath the name
# carries the subsystem's instance, not the controller's).
kernel_ns_dev() {
  local s b
  for s in /sys/class/nvme-subsystem/*; do
    [ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$1" ] || continue
    for b in "$s"/nvme*n*; do
      [ -e "$b/nsid" ] && [ "$(cat "$b/nsid")" = "$2" ] && [ -b "/dev/$(basename "$b")" ] &&
        { echo "/dev/$(basename "$b")"; return 0; }
    done
  done
  # Without native multipath the namespaces hang off the controller.
  local c
  for c in $(kernel_ctrlrs "$1"); do
    for b in /sys/class/nvme/$c/nvme*n*; do
      [ -e "$b/nsid" ] && [ "$(cat "$b/nsid")" = "$2" ] && [ -b "/dev/$(basename "$b")" ] &&
        { echo "/dev/$(basename "$b")"; return 0; }
    done
  done
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    up) shift; [ $# -ge 2 ] || { echo "usage: $0 up NQN PATH..." >&2; exit 2; }; nvmet_up "$@" ;;
    down) nvmet_teardown ;;
    show) find "$NVMET_CFS" -maxdepth 5 2>/dev/null | sort ;;
    *) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
fi

#!/usr/bin/env bash
# A throwaway single-node Ceph cluster on 127.0.0.1 (one monitor, one memstore OSD,
# no mgr) in a private directory, for the rbd module's tests and benchmark.
#
# Usage:
#   cluster.sh start DIR [--cephx]  makes DIR (must not hold a cluster), starts the
#                                   cluster, creates and initialises pool "rbd", and
#                                   prints the path of its config file (DIR/ceph.conf).
#                                   --cephx: cephx authentication; the admin's key is
#                                   in DIR/client.admin.keyring (a keyring file) and
#                                   DIR/client.admin.key (the bare key).
#   cluster.sh stop DIR             stops this cluster's daemons (only those whose
#                                   command line names DIR/ceph.conf); idempotent.
#   cluster.sh status DIR           "mon: running|stopped", "osd: ...", then the health.
#   cluster.sh ceph DIR ARGS...     the ceph CLI against the cluster, bounded in time.
#   cluster.sh rbd DIR ARGS...      the rbd CLI against the cluster, bounded in time.
# Exit status: 0 done, 1 failed (the reason and the daemons' log tail on stderr).
# Environment: CEPH_CLUSTER_TIMEOUT (seconds a start may take, default 60).
#
# Every ceph/rbd CLI call is bounded (`timeout` and --connect-timeout): some commands
# hang forever without a mgr, and any hangs 300 s on a dead monitor. Data lives in RAM
# (memstore, ~2x what is written): keep images small. Nothing is written outside DIR
# except the port lock (/tmp/bdevkit-ceph-port.lock).
set -uo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: cluster.sh start|stop|status|ceph|rbd DIR [...]"
cmd=$1
DIR=$(realpath -m "$2")
shift 2
CONF=$DIR/ceph.conf
START_TIMEOUT=${CEPH_CLUSTER_TIMEOUT:-60}
PORT_LOCK=/tmp/bdevkit-ceph-port.lock

# Bounded CLI calls: the process gets `timeout`; the client gives up connecting sooner.
ceph_cli() { timeout 20 ceph -c "$CONF" --connect-timeout 10 "$@"; }
rbd_cli() {
  timeout 60 rbd -c "$CONF" --client-mount-timeout 10 --rados-mon-op-timeout 10 \
    --rados-osd-op-timeout 30 "$@"
}

# pid_of NAME: the PID in DIR/run/NAME.pid if that process is alive (not a zombie) and
# its command line names this cluster's config; nothing otherwise.
pid_of() {
  local f=$DIR/run/$1.pid pid state
  [[ -r $f ]] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Daemons are reparented to PID 1 and stay zombies until reaped: check the state.
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF" || return 1
  echo "$pid"
}

# stop_daemon NAME: SIGTERM, then (after 10 s) SIGKILL; waits until it is gone.
stop_daemon() {
  local pid
  pid=$(pid_of "$1") || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 200); do
    pid_of "$1" >/dev/null || return 0
    sleep 0.05
  done
  echo "cluster.sh: $1 (pid $pid) ignored SIGTERM for 10 s: SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  for _ in $(seq 100); do
    pid_of "$1" >/dev/null || return 0
    sleep 0.05
  done
  die "$1 (pid $pid) does not go away"
}

stop_cluster() {
  # The OSD first: stopped after the monitor, it waits 5 s for it.
  stop_daemon osd.0
  stop_daemon mon.a
}

# start_failed WHAT: stops what started, shows the logs' tails, exits 1.
start_failed() {
  echo "cluster.sh: start failed: $*" >&2
  local f
  for f in "$DIR"/log/mon.a.log "$DIR"/log/osd.0.log "$DIR"/log/setup.log; do
    [[ -s $f ]] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
  done
  stop_cluster
  exit 1
}

# port_in_use PORT: something listens on 127.0.0.1:PORT (or on every address).
port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

write_conf() { # FSID PORT AUTH
  local auth=$3
  cat >"$CONF" <<EOF
# A throwaway single-node cluster made by tests/ceph/cluster.sh; everything stays in
# $DIR and on 127.0.0.1.
[global]
fsid = $1
mon initial members = a
mon host = v2:127.0.0.1:$2
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = $auth
auth service required = $auth
auth client required = $auth
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
mon cluster log file = $DIR/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
paxos propose interval = 0.1
mon data avail warn = 2
mon data avail crit = 1
mon mgr mkfs grace = 86400

[mon]
mon data = $DIR/mon/\$cluster-\$id
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4G
memstore page set = true
osd min pg log entries = 100
osd max pg log entries = 500
osd pg log trim min = 50
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok

[client]
# One file per client process (tests run several at once).
log file = $DIR/log/\$name.\$pid.log
EOF
}

# make_keys: the admin's cephx key in DIR/client.admin.keyring (a keyring file, for
# key_file) and DIR/client.admin.key (the bare key); the monitor's key and the
# admin's in DIR/keyring (what the daemons and the CLI read).
make_keys() {
  {
    ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' &&
      ceph-authtool "$DIR/client.admin.keyring" -n client.admin -p >"$DIR/client.admin.key" &&
      ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' &&
      ceph-authtool "$DIR/keyring" --import-keyring "$DIR/client.admin.keyring"
  } >>"$DIR/log/setup.log" 2>&1
}

start_cluster() {
  local auth=none
  [[ ${1:-} == --cephx ]] && auth=cephx
  [[ $# -le 1 && ( $# == 0 || $auth == cephx ) ]] || die "start: unknown option $*"
  [[ -e $CONF ]] && die "$DIR already holds a cluster (stop it and remove the directory)"
  for t in ceph-mon ceph-osd ceph monmaptool ceph-authtool rbd uuidgen ss; do
    command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh)"
  done
  mkdir -p "$DIR"/{run,crash,log,mon,osd} || die "cannot make $DIR"
  local fsid osd_uuid port deadline
  fsid=$(uuidgen)
  osd_uuid=$(uuidgen)
  deadline=$((SECONDS + START_TIMEOUT))

  # The port is picked and the monitor bound to it under one lock, so clusters started
  # in parallel never pick the same one.
  exec 9>>"$PORT_LOCK"
  flock -w 60 9 || die "cannot take $PORT_LOCK"
  port=40000
  while port_in_use "$port"; do
    port=$((port + 1))
    ((port < 41000)) || start_failed "no free port in 40000-40999"
  done
  write_conf "$fsid" "$port" "$auth"
  if [[ $auth == cephx ]]; then
    make_keys || start_failed "ceph-authtool"
  else
    : >"$DIR/keyring"
  fi
  timeout 30 monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" \
    "$DIR/monmap" >>"$DIR/log/setup.log" 2>&1 || start_failed "monmaptool"
  timeout 30 ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    >>"$DIR/log/setup.log" 2>&1 || start_failed "ceph-mon --mkfs"
  timeout 30 ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || start_failed "ceph-mon"
  until port_in_use "$port"; do
    ((SECONDS < deadline)) || start_failed "the monitor does not listen on port $port"
    pid_of mon.a >/dev/null || { sleep 0.2; pid_of mon.a >/dev/null; } ||
      start_failed "the monitor exited"
    sleep 0.02
  done
  flock -u 9
  exec 9>&-

  until ceph_cli mon stat >/dev/null 2>&1; do
    ((SECONDS < deadline)) || start_failed "the monitor does not answer"
    sleep 0.05
  done
  ceph_cli osd new "$osd_uuid" 0 >>"$DIR/log/setup.log" 2>&1 || start_failed "ceph osd new"
  if [[ $auth == cephx ]]; then
    # The OSD's key: made by the monitor, in the OSD's data directory.
    mkdir -p "$DIR/osd/ceph-0"
    ceph_cli auth get-or-create osd.0 mon 'allow profile osd' osd 'allow *' \
      -o "$DIR/osd/ceph-0/keyring" >>"$DIR/log/setup.log" 2>&1 || start_failed "osd key"
  fi
  mkdir -p "$DIR/osd/ceph-0"
  local osd_keyring=()
  [[ $auth == cephx ]] && osd_keyring=(--keyring "$DIR/osd/ceph-0/keyring")
  timeout 60 ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" "${osd_keyring[@]}" \
    >>"$DIR/log/setup.log" 2>&1 || start_failed "ceph-osd --mkfs"
  timeout 30 ceph-osd -c "$CONF" -i 0 "${osd_keyring[@]}" >>"$DIR/log/setup.log" 2>&1 ||
    start_failed "ceph-osd"
  until ceph_cli osd dump 2>/dev/null | grep -q '^osd\.0 up'; do
    ((SECONDS < deadline)) || start_failed "osd.0 does not come up"
    pid_of osd.0 >/dev/null || { sleep 0.2; pid_of osd.0 >/dev/null; } ||
      start_failed "the OSD exited"
    sleep 0.05
  done
  ceph_cli osd pool create rbd 8 8 >>"$DIR/log/setup.log" 2>&1 || start_failed "pool create"
  rbd_cli pool init rbd >>"$DIR/log/setup.log" 2>&1 || start_failed "rbd pool init"
  echo "$CONF"
}

status_cluster() {
  [[ -e $CONF ]] || die "no cluster in $DIR"
  local d
  for d in mon.a osd.0; do
    if pid_of "$d" >/dev/null; then echo "${d%%.*}: running"; else echo "${d%%.*}: stopped"; fi
  done
  pid_of mon.a >/dev/null && ceph_cli health 2>&1
  return 0
}

case $cmd in
start) start_cluster "$@" ;;
stop)
  [[ -e $CONF ]] || exit 0
  stop_cluster
  ;;
status) status_cluster ;;
ceph) ceph_cli "$@" ;;
rbd) rbd_cli "$@" ;;
*) die "unknown command '$cmd' (start, stop, status, ceph, rbd)" ;;
esac

#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever bdevkit needs that is missing.
# Usage: scripts/install-deps.sh [extra-package ...]
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libabsl-dev nlohmann-json3-dev libgtest-dev libgmock-dev liburing-dev libaio-dev
  fio  # reference for benchmarks and for the comparisons in tests
  # the rbd module (librbd) and its tests' throwaway loopback Ceph cluster (tests/ceph)
  librbd-dev ceph-mon ceph-osd ceph-common
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

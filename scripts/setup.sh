#!/usr/bin/env bash
# Install everything netmesh needs to build, test, benchmark and run, on Debian 12.
# Idempotent: apt-get only; a second run changes nothing.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config python3
  dpdk dpdk-dev libdpdk-dev
  libsodium-dev libb2-dev libxxhash-dev
  libipsec-mb-dev libssl-dev valgrind
  check
  libpcap-dev tcpdump
  iproute2 procps
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"

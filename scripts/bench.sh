#!/usr/bin/env bash
# Run one benchmark part and print `name: value unit` lines (base units).
#   scripts/bench.sh runtime
# Uses hugepages when enough are free (see scripts/hugepages.sh), else --no-huge.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

part=${1:-}
case "$part" in
  runtime|sessions) ;;
  *) echo "usage: $0 runtime|sessions" >&2; exit 2 ;;
esac

nm_build
mem=$(nm_eal_mem_args 512)
# shellcheck disable=SC2086
exec "$NM_BUILD/app/netmesh-bench" $mem --no-pci --no-shconf --no-telemetry \
  --vdev=net_null0 -l 0 --log-level='lib.*:error' -- "$part"

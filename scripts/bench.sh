#!/usr/bin/env bash
# Run one benchmark part and print `name: value unit` lines (base units).
#   scripts/bench.sh runtime|sessions|meshos
# Uses hugepages when enough are free (see scripts/hugepages.sh), else --no-huge.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

part=${1:-}
case "$part" in
  runtime|sessions|meshos) ;;
  *) echo "usage: $0 runtime|sessions|meshos" >&2; exit 2 ;;
esac
# meshos also times a fan-out to daemons on a worker: lcore 1 is that worker.
lcores=0
[ "$part" = meshos ] && lcores=0,1

nm_build
mem=$(nm_eal_mem_args 512)
# shellcheck disable=SC2086
exec "$NM_BUILD/app/netmesh-bench" $mem --no-pci --no-shconf --no-telemetry \
  --vdev=net_null0 -l "$lcores" --log-level='lib.*:error' -- "$part"

#!/usr/bin/env bash
# Reserve 2 MiB hugepages for netmesh (root). Idempotent.
#   scripts/hugepages.sh [MiB]     reserve (default 1024) and mount hugetlbfs
#   scripts/hugepages.sh --show    print the current reservation
#   scripts/hugepages.sh --clear   release them
set -euo pipefail
case "${1:-}" in
  --show)  exec dpdk-hugepages.py --show ;;
  --clear) exec dpdk-hugepages.py --clear --unmount ;;
esac
mb=${1:-1024}
dpdk-hugepages.py -p 2M --reserve "${mb}M"
# dpdk-hugepages.py --mount assumes /dev/hugepages exists; containers may lack it.
if ! grep -q '^[^ ]* /dev/hugepages hugetlbfs' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
fi
dpdk-hugepages.py --show

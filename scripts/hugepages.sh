#!/usr/bin/env bash
# Hugepages for netmesh. Idempotent; it only ever grows a pool, except on an explicit --clear.
#   scripts/hugepages.sh [MiB] [--1g]   as root: make the pool of 2 MiB (or 1 GiB) pages hold at
#                                       least MiB (default 1024) and mount hugetlbfs for that size
#   scripts/hugepages.sh --show         pools per size, mounts, and what run.sh/bench.sh would get
#   scripts/hugepages.sh --explain      hugeadm --explain (libhugetlbfs-bin), then the netmesh part
#   scripts/hugepages.sh --clear        as root: release every *free* page (pages in use stay)
# Pool sizing uses hugeadm --pool-pages-min/--pool-pages-max; when hugeadm is missing or fails,
# dpdk-hugepages.py does it. NM_HUGEADM (hugeadm's path, "none" to force the fallback) and
# NM_CPUINFO (default /proc/cpuinfo) exist for tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

me=${0##*/}
sysfs=/sys/kernel/mm/hugepages
cpuinfo=${NM_CPUINFO:-/proc/cpuinfo}
hugeadm=${NM_HUGEADM:-$(command -v hugeadm || true)}
[ "$hugeadm" != none ] && [ -x "$hugeadm" ] || hugeadm=""

die() { echo "$me: $*" >&2; exit 1; }
usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

# pool_get KB FIELD: one sysfs counter of the pool of KB-sized pages (0 when the size is absent).
pool_get() { cat "$sysfs/hugepages-${1}kB/$2" 2>/dev/null || echo 0; }
# Names of a size for each tool: 2048 -> 2M (dpdk-hugepages.py, mount), 2MB (hugeadm).
size_name() { if [ "$1" -ge 1048576 ]; then echo "$(($1 / 1048576))G"; else echo "$(($1 / 1024))M"; fi; }

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (it writes $sysfs and mounts hugetlbfs): run it as root, e.g. sudo scripts/$me $2"
}

has_1g_cpu() { grep -qw pdpe1gb "$cpuinfo" 2>/dev/null; }

# The mount point of hugetlbfs for pages of KB, or nothing.
mount_for() {
  local want dflt
  want=$(size_name "$1")
  dflt=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
  awk -v want="$want" -v isdflt="$([ "$1" = "$dflt" ] && echo 1)" '
    $3 == "hugetlbfs" {
      ps = ""; n = split($4, o, ",")
      for (i = 1; i <= n; i++) if (o[i] ~ /^pagesize=/) ps = substr(o[i], 10)
      if (ps == want || (ps == "" && isdflt)) { print $2; exit }
    }' /proc/mounts
}

# pool_is KB ge|le PAGES: the pool of KB pages holds at least / at most PAGES.
pool_is() {
  local n; n=$(pool_get "$1" nr_hugepages)
  if [ "$2" = ge ]; then [ "$n" -ge "$3" ]; else [ "$n" -le "$3" ]; fi
}

# set_pool KB PAGES OP: set the pool's minimum (nr_hugepages) to PAGES, keeping its maximum at
# least that; hugeadm first, dpdk-hugepages.py when hugeadm is missing or fails. Succeeds when the
# pool then holds at least (ge, to grow) or at most (le, to shrink) PAGES: others may resize it too.
set_pool() {
  local kb=$1 pages=$2 op=$3 name max
  name=$(size_name "$kb")
  max=$(( $(pool_get "$kb" nr_hugepages) + $(pool_get "$kb" nr_overcommit_hugepages) ))
  [ "$max" -ge "$pages" ] || max=$pages
  if [ -n "$hugeadm" ]; then
    if "$hugeadm" --pool-pages-min "${name}B:$pages" --pool-pages-max "${name}B:$max" 2>&1 |
        grep -v 'no swap space\|add-temp-swap' >&2; then :; fi
    pool_is "$kb" "$op" "$pages" && return 0
    echo "$me: hugeadm left the $name pool at $(pool_get "$kb" nr_hugepages) pages: trying dpdk-hugepages.py" >&2
  fi
  if [ "$pages" -eq 0 ]; then   # dpdk-hugepages.py --reserve takes no zero
    echo 0 > "$sysfs/hugepages-${kb}kB/nr_hugepages" || return 1
  else
    dpdk-hugepages.py -p "$name" --reserve "$((pages * kb / 1024))M" || return 1
  fi
  pool_is "$kb" "$op" "$pages"
}

reserve() {
  local mb=$1 kb=$2 name pages have dir
  name=$(size_name "$kb")
  if [ "$kb" -ge 1048576 ]; then
    has_1g_cpu || die "this CPU has no 1 GiB pages (no pdpe1gb flag in $cpuinfo): use 2 MiB pages (drop --1g)"
    [ -d "$sysfs/hugepages-${kb}kB" ] || die "the kernel offers no 1 GiB pool ($sysfs/hugepages-${kb}kB is missing)"
  fi
  need_root "reserving hugepages" "$mb${3:+ $3}"
  pages=$(( (mb * 1024 + kb - 1) / kb ))
  have=$(pool_get "$kb" nr_hugepages)
  if [ "$have" -ge "$pages" ]; then
    echo "$me: the $name pool already holds $have pages (>= $pages for $mb MiB): unchanged"
  else
    set_pool "$kb" "$pages" ge ||
      die "the kernel gave $(pool_get "$kb" nr_hugepages) of $pages $name pages (memory fragmented? try after a reboot, or fewer MiB)"
    echo "$me: the $name pool grew from $have to $pages pages"
  fi
  dir=$(mount_for "$kb")
  if [ -z "$dir" ]; then
    dir=/dev/hugepages; [ "$name" = 2M ] || dir=/dev/hugepages$name
    mkdir -p "$dir"
    mount -t hugetlbfs -o "pagesize=$name" nodev "$dir"
    echo "$me: mounted hugetlbfs (pagesize=$name) on $dir"
  fi
  [ "$(pool_get "$kb" free_hugepages)" -ge "$pages" ] ||
    echo "$me: note: only $(pool_get "$kb" free_hugepages) of them are free (others use the rest); ask for more MiB if netmesh needs $mb MiB"
}

clear_free() {
  local d kb total free inuse
  need_root "--clear" "--clear"
  for d in "$sysfs"/hugepages-*kB; do
    kb=${d##*-}; kb=${kb%kB}
    total=$(pool_get "$kb" nr_hugepages); free=$(pool_get "$kb" free_hugepages)
    inuse=$((total - free))
    [ "$free" -gt 0 ] || continue
    set_pool "$kb" "$inuse" le || die "could not release the free $(size_name "$kb") pages"
    echo "$me: $(size_name "$kb"): released $free free pages, $inuse in use stay"
  done
  echo "$me: mounts stay (they hold no memory); umount them by hand if wanted"
}

show_netmesh() {
  local free_mb dflt total_mb args why want who
  free_mb=$(nm_hugepages_free_mb)
  dflt=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
  total_mb=$(( $(pool_get "${dflt:-2048}" nr_hugepages) * ${dflt:-2048} / 1024 ))
  echo "== What netmesh would get (nm_eal_mem_args in scripts/lib.sh)"
  echo "free pages of the default size ($(size_name "${dflt:-2048}")) usable by EAL: $free_mb MiB$(grep -q hugetlbfs /proc/mounts || echo ' (no hugetlbfs mounted: counted as 0)')"
  for who in run.sh:256 bench.sh:512; do
    want=${who#*:}
    args=$(nm_eal_mem_args "$want" 2>/dev/null)
    if [ "$free_mb" -ge "$want" ]; then why="$free_mb MiB free >= $want MiB"; else why="$free_mb MiB free < $want MiB: scripts/$me $((total_mb + want - free_mb)) adds pages"; fi
    printf '%-9s %-22s because %s\n' "${who%:*}" "$args" "$why"
  done
}

show() {
  local d kb
  echo "== Pools (pages)"
  printf '%-5s %7s %7s %9s %8s %11s\n' size total free reserved surplus overcommit
  for d in "$sysfs"/hugepages-*kB; do
    kb=${d##*-}; kb=${kb%kB}
    printf '%-5s %7s %7s %9s %8s %11s\n' "$(size_name "$kb")" "$(pool_get "$kb" nr_hugepages)" \
      "$(pool_get "$kb" free_hugepages)" "$(pool_get "$kb" resv_hugepages)" \
      "$(pool_get "$kb" surplus_hugepages)" "$(pool_get "$kb" nr_overcommit_hugepages)"
  done
  echo "== Mounts (hugetlbfs)"
  awk '$3 == "hugetlbfs" { print $2, $4; n++ } END { if (!n) print "none: scripts/'"$me"' mounts /dev/hugepages" }' /proc/mounts
  echo "== 1 GiB pages"
  if has_1g_cpu; then echo "supported by this CPU (pdpe1gb): scripts/$me 1024 --1g reserves one"
  else echo "not supported by this CPU (no pdpe1gb in $cpuinfo): 2 MiB pages only"; fi
  echo "== Tools"
  echo "hugeadm: ${hugeadm:-missing (apt-get install libhugetlbfs-bin); dpdk-hugepages.py is used}"
  show_netmesh
}

mb="" kb=2048 mode=reserve flag=""
for a in "$@"; do
  case $a in
    --show) mode=show ;;
    --explain) mode=explain ;;
    --clear) mode=clear ;;
    --1g) kb=1048576 flag=--1g ;;
    -h|--help) usage; exit 0 ;;
    ''|*[!0-9]*) die "unknown argument '$a' (see --help)" ;;
    *) mb=$a ;;
  esac
done
case $mode in
  show) show ;;
  explain)
    if [ -n "$hugeadm" ]; then
      "$hugeadm" --explain 2>&1 | grep -v 'no swap space\|add-temp-swap' || true
    else
      echo "hugeadm missing (apt-get install libhugetlbfs-bin): no --explain; the pools instead"
      show; exit 0
    fi
    show_netmesh ;;
  clear) clear_free ;;
  reserve)
    mb=${mb:-1024}
    [ "$mb" -gt 0 ] || die "MiB must be > 0"
    reserve "$mb" "$kb" "$flag"
    show_netmesh ;;
esac

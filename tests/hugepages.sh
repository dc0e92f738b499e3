#!/usr/bin/env bash
# scripts/hugepages.sh: --show and --explain print their sections and change nothing; bad
# arguments, --1g on a CPU without pdpe1gb and reserving without root fail with a clear message.
# As root it mounts hugetlbfs once in a private mount namespace that has none; with hugeadm it grows the 2 MiB pool by 2 pages (hugeadm, then once more through
# the dpdk-hugepages.py fallback), checks that a repeat or a smaller request changes nothing, and
# gives the pages back. The pool is never left below its count at the start, even on failure.
# Not root, or no hugeadm: that part is skipped (exit 77).
set -euo pipefail
hp="$1/scripts/hugepages.sh"
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
tmp=$(mktemp -d)
added=0 before=""

fail() { echo "hugepages: FAIL: $*" >&2; exit 1; }
# Pools and mounts: what --show and --explain must not change.
state() { cat /sys/kernel/mm/hugepages/hugepages-*kB/nr_hugepages; awk '$3 == "hugetlbfs"' /proc/mounts; }
pages() { cat "$nr"; }

# shellcheck disable=SC2317 # called from the EXIT trap
restore() {
  local to
  if [ "$added" -gt 0 ]; then
    to=$(( $(pages) - added ))
    [ "$to" -ge "$before" ] || to=$before   # never below the count we found
    echo "$to" > "$nr" || echo "hugepages: could not give back $added pages" >&2
  fi
  rm -rf "$tmp"
}
trap restore EXIT

expect() {   # expect FILE PATTERN WHAT
  grep -qE -- "$2" "$1" || fail "$3: no '$2' in: $(cat "$1")"
}

s0=$(state)
"$hp" --show > "$tmp/show" 2>&1 || fail "--show exited $?: $(cat "$tmp/show")"
for sec in '== Pools' '^2M +[0-9]+ +[0-9]+' '== Mounts' '== 1 GiB pages' '== Tools' '== What netmesh would get' \
           '^run\.sh +--(in-memory|no-huge) -m 256 +because' '^bench\.sh +--(in-memory|no-huge) -m 512 +because'; do
  expect "$tmp/show" "$sec" "--show"
done
"$hp" --explain > "$tmp/explain" 2>&1 || fail "--explain exited $?: $(cat "$tmp/explain")"
if command -v hugeadm >/dev/null; then
  expect "$tmp/explain" 'Huge page pools:' "--explain (hugeadm's part)"
else
  expect "$tmp/explain" 'hugeadm missing' "--explain without hugeadm"
fi
expect "$tmp/explain" '== What netmesh would get' "--explain"
NM_HUGEADM=none "$hp" --explain > "$tmp/explain0" 2>&1 || fail "--explain without hugeadm exited $?"
expect "$tmp/explain0" 'hugeadm missing' "--explain without hugeadm"
expect "$tmp/explain0" '== Pools' "--explain without hugeadm"

: > "$tmp/cpuinfo"
if NM_CPUINFO="$tmp/cpuinfo" "$hp" 1024 --1g > "$tmp/1g" 2>&1; then fail "--1g without pdpe1gb succeeded"; fi
expect "$tmp/1g" 'no 1 GiB pages \(no pdpe1gb' "--1g without pdpe1gb"
if "$hp" --bogus > "$tmp/bad" 2>&1; then fail "--bogus succeeded"; fi
expect "$tmp/bad" "unknown argument '--bogus'" "a bad argument"
[ "$(state)" = "$s0" ] || fail "--show/--explain changed the pools or mounts: before: $s0 after: $(state)"

if [ "$(id -u)" != 0 ]; then
  if "$hp" 4 > "$tmp/nonroot" 2>&1; then fail "reserving as $(id -un) succeeded"; fi
  expect "$tmp/nonroot" 'needs root' "reserving without root"
  echo "hugepages: SKIP: the reserve/give-back part needs root (read-only part ok)"
  exit 77
fi
if setpriv --reuid=65534 --regid=65534 --clear-groups "$hp" 4 > "$tmp/nonroot" 2>&1; then
  fail "reserving as uid 65534 succeeded"
fi
expect "$tmp/nonroot" 'needs root' "reserving without root"
if [ ! -w "$nr" ]; then
  echo "hugepages: SKIP: $nr is not writable here: read-only part ok"
  exit 77
fi
# The mount, in a private mount namespace without hugetlbfs: the script mounts one, once.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private bash -c '
  awk "\$3 == \"hugetlbfs\" {print \$2}" /proc/mounts | while read -r m; do umount "$m"; done
  "$1" 2 && "$1" 2 && awk "\$3 == \"hugetlbfs\"" /proc/mounts' _ "$hp" > "$tmp/mount" 2>&1 ||
  fail "reserving in a namespace without hugetlbfs: $(cat "$tmp/mount")"
[ "$(grep -c 'mounted hugetlbfs (pagesize=2M)' "$tmp/mount")" -eq 1 ] || fail "expected one mount: $(cat "$tmp/mount")"
expect "$tmp/mount" '^nodev /dev/hugepages hugetlbfs .*pagesize=2M' "the mount"
if ! command -v hugeadm >/dev/null; then
  echo "hugepages: SKIP: hugeadm missing (libhugetlbfs-bin; scripts/setup.sh): read-only part ok"
  exit 77
fi

# grow TOTAL [ENV...]: ask the script for a 2 MiB pool of TOTAL pages.
grow() { local to=$1; shift; env "$@" "$hp" $((to * 2)) > "$tmp/grow" 2>&1 || fail "reserving $to pages: $(cat "$tmp/grow")"; }
before=$(pages)
grow $((before + 2))
added=$(( $(pages) - before ))
[ "$added" -eq 2 ] || fail "hugeadm: expected $((before + 2)) pages, got $(pages): $(cat "$tmp/grow")"
expect "$tmp/grow" "grew from $before to $((before + 2)) pages" "hugeadm reserve"
grow $((before + 2))
expect "$tmp/grow" 'unchanged' "a repeated reserve"
grow 1
expect "$tmp/grow" 'unchanged' "a smaller reserve"
[ "$(pages)" -eq $((before + 2)) ] || fail "a repeat or smaller reserve changed the pool to $(pages)"
grow $((before + 4)) NM_HUGEADM=/bin/false   # a hugeadm that fails
added=$(( $(pages) - before ))
[ "$added" -eq 4 ] || fail "dpdk-hugepages.py fallback: expected $((before + 4)) pages, got $(pages)"
expect "$tmp/grow" 'trying dpdk-hugepages.py' "the fallback"

echo $(( $(pages) - added )) > "$nr"
added=0
[ "$(pages)" -eq "$before" ] || fail "gave back 4 pages but the pool holds $(pages), not $before"
grep -q "^HugePages_Total: *$before\$" /proc/meminfo || fail "/proc/meminfo: $(grep HugePages_Total /proc/meminfo), expected $before"
echo "hugepages: ok (show/explain unchanged state; +2 pages by hugeadm, +2 by dpdk-hugepages.py, given back to $before)"

#!/usr/bin/env bash
# The appliance on net_af_packet over a veth pair, with the kernel as its peer (inside a network
# namespace of our own). The kernel hands frames it sends with checksum offload (veth's default)
# up with the UDP checksum unfinished: only the pseudo-header sum. They must not be dropped as
# udp_cksum. The kernel sends a handshake-framed datagram from a configured peer's address; the
# appliance must see it and count it as a failed handshake (its contents are garbage).
# Skips (77) where network namespaces cannot be made (not root, no CAP_NET_ADMIN).
set -euo pipefail
app=$1
ns=nmveth-$$-$RANDOM
prefix=nmveth-$$-$RANDOM
tmp=$(mktemp -d)
app_pid=''
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill -INT "$app_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$app_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -30 "$tmp/app.log"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
ip netns add "$ns" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
in_ns() { ip netns exec "$ns" "$@"; }
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link add vk type veth peer name vd # vk: the kernel's end, vd: the appliance's
ip -n "$ns" addr add 192.0.2.2/24 dev vk
for l in lo vk vd; do ip -n "$ns" link set "$l" up; done

head -c 32 /dev/urandom > "$tmp/psk"
chmod 600 "$tmp/psk"
eal=(--no-huge -m 128 --no-pci --no-shconf --no-telemetry --file-prefix "$prefix"
     "--lcores=0@0,1@$(( $(nproc) > 1 ? 1 : 0 ))" "--log-level=lib.*:error")
# The kernel cannot run the handshake; any node_id will do for the peer entry. Not through
# in_ns: $! must be the appliance itself (ip netns exec execs it), not a subshell.
ip netns exec "$ns" "$app" "${eal[@]}" --vdev=net_af_packet0,iface=vd -- --ip 192.0.2.1 --keys "$tmp/keys" \
  --psk-file "$tmp/psk" --peer 192.0.2.2,node=1234 --stats-period 1 > "$tmp/app.log" 2>&1 &
app_pid=$!
left=600 # tenths of a second, counted: the wall clock may be stepped
until grep -q 'Ctrl-C to stop' "$tmp/app.log"; do
  kill -0 "$app_pid" 2>/dev/null || fail "the appliance did not start"
  left=$((left - 1))
  [ $left -gt 0 ] || fail "the appliance did not start in 60 s"
  sleep 0.1
done

# A HANDSHAKE datagram as Net frames it (116 bytes: NetHeader with flags 0x10 and payload_len 48,
# then 48 bytes) with a message that cannot authenticate. One write, so one datagram.
{
  printf '\x45\x4e\x01\x10'
  printf '\x00%.0s' $(seq 60)
  printf '\x30\x00\x00\x00'
  printf '\x07%.0s' $(seq 48)
} > "$tmp/hs"
[ "$(stat -c %s "$tmp/hs")" = 116 ] || fail "test datagram is $(stat -c %s "$tmp/hs") bytes"
seen() { grep -q 'handshake_failures=[1-9]' "$tmp/app.log"; }
left=120
until seen; do # resend until one arrives: the first waits for the kernel's ARP
  in_ns bash -c "cat '$tmp/hs' > /dev/udp/192.0.2.1/7777" || true
  left=$((left - 1))
  [ $left -gt 0 ] || fail "the handshake datagram never reached the session manager"
  sleep 0.5
done
if grep -Eq 'drop udp_cksum' "$tmp/app.log"; then fail "frames dropped as udp_cksum"; fi
echo "veth af_packet: ok ($(grep -o 'handshake_failures=[0-9]*' "$tmp/app.log" | tail -1))"

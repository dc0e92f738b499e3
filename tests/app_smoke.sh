#!/usr/bin/env bash
# The netmesh binary as an operator runs it: --help, --show-identity, a config
# file, a graceful SIGINT stop with exit 0, and clear errors for bad arguments.
set -euo pipefail
nm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
eal=(--no-huge -m 256 --no-pci --no-shconf --no-telemetry --vdev=net_null0 "--lcores=0@0,1@1"
     "--log-level=lib.*:error")
fail() { echo "FAIL: $*"; exit 1; }

"$nm" "${eal[@]}" -- --help | grep -q -- "--daemon KIND:SEEDFILE:LCORE" || fail "--help"

"$nm" "${eal[@]}" -- --keys "$tmp/keys" --show-identity > "$tmp/id"
grep -Eq '^node_id [0-9a-f]{16}$' "$tmp/id" || fail "show-identity: $(cat "$tmp/id")"
[ "$(stat -c %a "$tmp/keys/noise.key")" = 600 ] || fail "noise.key mode"
"$nm" "${eal[@]}" -- --keys "$tmp/keys" --show-identity | cmp -s - "$tmp/id" || fail "identity not stable"

head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
cat > "$tmp/conf" <<CONF
ip 127.0.0.1   # loopback range only
keys $tmp/keys
psk-file $tmp/psk
daemon echo:$tmp/echo.seed:1
stats-period 1
CONF
rc=0
timeout -s INT 3 "$nm" "${eal[@]}" -- --config "$tmp/conf" > "$tmp/out" 2>&1 || rc=$?
# timeout returns 124 when it had to send the signal: the app itself must exit 0.
grep -q "netmesh: stopping" "$tmp/out" || fail "no graceful stop: $(tail -5 "$tmp/out")"
grep -q "daemon echo origin" "$tmp/out" || fail "daemon not spawned"
grep -q "drop eth_not_ours" "$tmp/out" || fail "net_null frames not counted"
grep -q "^meshos: active, daemons 1," "$tmp/out" || fail "no MeshOS state line"
[ "$rc" = 124 ] || fail "exit status $rc"

expect_error() {
  local want=$1; shift
  local out
  if out=$("$nm" "${eal[@]}" -- "$@" 2>&1); then fail "accepted: $*"; fi
  grep -q -- "$want" <<<"$out" || fail "for '$*' expected '$want', got: $out"
}
expect_error "is required" --keys "$tmp/keys" --psk-file "$tmp/psk"
expect_error "bad IPv4" --ip 300.1.1.1 --keys "$tmp/keys" --psk-file "$tmp/psk"
expect_error "KIND:SEEDFILE:LCORE" --ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --daemon echo
expect_error "node=HEX is required" --ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --peer 127.0.0.2
expect_error "connect needs static" --ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --peer 127.0.0.2,node=1,connect
expect_error "no factory registered" --ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --daemon nope:"$tmp/echo.seed":1
expect_error "unknown option" --config <(echo "colour blue")
echo "app smoke: ok"

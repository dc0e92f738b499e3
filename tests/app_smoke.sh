#!/usr/bin/env bash
# The netmesh binary as an operator runs it: --help and --show-identity
# without EAL, --check-config on the shipped sample (good and bad, each bad
# case naming its file:line), the PSK permission check, a run of the sample
# with --port given by id and a graceful SIGINT stop with exit 0, and clear
# errors for bad arguments.
set -euo pipefail
nm=$1
sample=${2:-$(dirname "$0")/../config/netmesh.conf}
tmp=$(mktemp -d)
pid=
cleanup() { [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
eal=(--no-huge -m 256 --no-pci --no-shconf --no-telemetry --vdev=net_null0 "--lcores=0@0,1@1"
     "--log-level=lib.*:error")
fail() { echo "FAIL: $*"; exit 1; }

# Wait (generously: the machine may be loaded) until $2 matches in file $1 or process $pid ends.
wait_for() {
  local file=$1 pattern=$2 deadline=$((SECONDS + 45))
  until grep -q -- "$pattern" "$file"; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# --help: the appliance's options, with no EAL (no hugepages here: EAL would fail).
for args in "--help" "-- --help" "-- --ip 1 --help"; do
  # shellcheck disable=SC2086 # word splitting wanted
  out=$("$nm" $args) || fail "'$args' exited $?"
  grep -q -- "--daemon KIND:SEEDFILE:LCORE" <<<"$out" || fail "'$args': no options in: $out"
  grep -q -- "--check-config FILE" <<<"$out" || fail "'$args': no --check-config"
  ! grep -q "EAL common options" <<<"$out" || fail "'$args' printed EAL's usage"
done

"$nm" -- --keys "$tmp/keys" --show-identity > "$tmp/id" || fail "show-identity without EAL"
grep -Eq '^node_id [0-9a-f]{16}$' "$tmp/id" || fail "show-identity: $(cat "$tmp/id")"
[ "$(stat -c %a "$tmp/keys/noise.key")" = 600 ] || fail "noise.key mode"
"$nm" "${eal[@]}" -- --keys "$tmp/keys" --show-identity | cmp -s - "$tmp/id" || fail "identity not stable"

# The shipped sample, as shipped, next to the files it names (its paths are relative to it).
cp "$sample" "$tmp/netmesh.conf"
conf=$tmp/netmesh.conf
line_of() { grep -n "^$1 " "$sample" | cut -d: -f1; }
head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
head -c 32 /dev/urandom > "$tmp/counter.seed"
chmod 600 "$tmp/psk"
out=$("$nm" --check-config "$conf" 2>&1) || fail "--check-config on the sample: $out"
grep -q "^daemon  *echo:$tmp/echo.seed:1$" <<<"$out" || fail "check-config output: $out"
grep -q "^keys  *$tmp/keys$" <<<"$out" || fail "sample paths not relative to it: $out"
grep -q "netmesh: $conf: ok" <<<"$out" || fail "no ok line: $out"
# EAL's lcores, read from its arguments before EAL: -l 0 leaves no worker for the daemons.
if out=$("$nm" -l 0 -- --check-config "$conf" 2>&1); then fail "-l 0 accepted"; fi
grep -q -- "netmesh.conf:$(line_of queues): queues: 1 queue(s) need as many EAL worker lcores; EAL lcores 0 with main 0" <<<"$out" ||
  fail "EAL lcores: $out"
# Its commented peer line is valid syntax.
sed 's/^# peer /peer /' "$sample" > "$tmp/peer.conf"
out=$("$nm" --check-config "$tmp/peer.conf" 2>&1) || fail "sample peer line: $out"
grep -q "^peer .*,node=89643ce17b7519cf,static=3d0e.*,connect$" <<<"$out" || fail "peer: $out"

# Bad configs: exit 1, and the message names the file and line.
n=$(($(wc -l < "$sample") + 1))
expect_bad_line() {
  local line=$1 want=$2 out
  { cat "$sample"; echo "$line"; } > "$tmp/bad.conf"
  if out=$("$nm" --check-config "$tmp/bad.conf" 2>&1); then fail "accepted: $line"; fi
  grep -q -- "bad.conf:$n: $want" <<<"$out" || fail "for '$line' expected 'bad.conf:$n: $want', got: $out"
}
expect_bad_line "rxd 0" "rxd '0': a decimal number in 1..32768"
expect_bad_line "queues 2 3" "queues: extra text '3'"
expect_bad_line "colour blue" "colour 'blue': unknown option"
expect_bad_line "ip 127.0.0.1" "ip '127.0.0.1': given twice (first at $tmp/bad.conf:$(line_of ip))"
expect_bad_line "peer 127.0.0.2,node=xyz" "peer '127.0.0.2,node=xyz': node= wants the node_id"
expect_bad_line "daemon sink:missing.seed:1" "daemon '$tmp/missing.seed': key file"
expect_bad_line 'keys "unterminated' "unterminated quote"

# The PSK file's permissions, like the key directory's: refused at check and at start.
chmod 644 "$tmp/psk"
if out=$("$nm" --check-config "$conf" 2>&1); then fail "0644 PSK accepted"; fi
grep -q "netmesh.conf:$(line_of psk-file): psk-file '$tmp/psk': mode 0644 gives group/other access" <<<"$out" ||
  fail "PSK mode message: $out"
if out=$("$nm" "${eal[@]}" -- --config "$conf" --ip 127.0.0.1 2>&1); then fail "started with a 0644 PSK"; fi
grep -q "mode 0644" <<<"$out" || fail "PSK mode at start: $out"
chmod 600 "$tmp/psk"

# Run the sample (loopback address, port by id) and stop it with one SIGINT to the process only.
"$nm" "${eal[@]}" -- --config "$conf" --ip 127.0.0.1 --port 0 --stats-period 1 --burst 8 \
  --rxd 512 --txd 512 > "$tmp/out" 2>&1 &
pid=$!
wait_for "$tmp/out" "drop eth_not_ours" || fail "no stats: $(tail -5 "$tmp/out")"
grep -q "on net_null0, 1 worker" "$tmp/out" || fail "--port 0 is not net_null0: $(head -5 "$tmp/out")"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
grep -q "netmesh: stopping" "$tmp/out" || fail "no graceful stop: $(tail -5 "$tmp/out")"
grep -q "daemon echo origin" "$tmp/out" || fail "echo daemon not spawned"
grep -q "daemon counter origin" "$tmp/out" || fail "counter daemon not spawned"
grep -q "^meshos: active, daemons 2," "$tmp/out" || fail "no MeshOS state line"
# The periodic stats name the AEAD in use, as the start line does.
aead=$(sed -n 's/^netmesh: aead \(.*\)$/\1/p' "$tmp/out" | head -1)
[ -n "$aead" ] || fail "no aead start line: $(head -5 "$tmp/out")"
grep -qxF "aead:    $aead" "$tmp/out" || fail "stats lack 'aead:    $aead': $(grep -m3 '^aead' "$tmp/out")"
! grep -q "second signal" "$tmp/out" || fail "more than one signal reached it"
[ "$rc" = 0 ] || fail "exit status $rc after SIGINT: $(tail -5 "$tmp/out")"

expect_error() {
  local want=$1; shift
  local out
  if out=$("$nm" "${eal[@]}" -- "$@" 2>&1); then fail "accepted: $*"; fi
  grep -q -- "$want" <<<"$out" || fail "for '$*' expected '$want', got: $out"
  ! grep -q "netmesh: mesh: mesh:" <<<"$out" || fail "doubled prefix: $out"
}
good=(--ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk")
expect_error "is required" --keys "$tmp/keys" --psk-file "$tmp/psk"
expect_error "bad IPv4" --ip 300.1.1.1 --keys "$tmp/keys" --psk-file "$tmp/psk"
expect_error "KIND:SEEDFILE:LCORE" "${good[@]}" --daemon echo
expect_error "node=HEX is required" "${good[@]}" --peer 127.0.0.2
expect_error "connect needs static" "${good[@]}" --peer 127.0.0.2,node=1,connect
expect_error "no factory registered" "${good[@]}" --daemon nope:"$tmp/echo.seed":1
expect_error "unknown option" --config <(echo "colour blue")
expect_error "EAL arguments go before '--'" "${good[@]}" -l 0-1
if out=$("$nm" "${eal[@]}" stray -- "${good[@]}" 2>&1); then fail "accepted a stray EAL argument"; fi
grep -q "unexpected argument 'stray' before '--'" <<<"$out" || fail "stray EAL argument: $out"
expect_error "--port 7: no port with that id" "${good[@]}" --port 7
expect_error "netmesh: mesh: no ethdev named 'nope'" "${good[@]}" --port nope
expect_error "--burst '33': a decimal number in 1..32" "${good[@]}" --burst 33
echo "app smoke: ok"

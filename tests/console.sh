#!/usr/bin/env bash
# The operator's commands through all three front ends (null PMD, no traffic):
# --cmdline-file (echo, '-' lines, stop at the first error, quit), the control
# socket driven by scripts/netmesh-ctl and raw clients (every command, its
# errors, garbage, a too-long line, too many clients, a client that never
# reads), and the netmesh> prompt once through a pty (help, TAB completion, quit).
set -euo pipefail
nm=$1
ctl=$2
tmp=$(mktemp -d)
pid=
cleanup() { [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
# On stderr: also seen when it fails inside a $(...) (which set -e then ends quietly).
fail() { { echo "FAIL: $*"; [ ! -f "$tmp/out" ] || tail -20 "$tmp/out"; } >&2; exit 1; }
eal=(--no-huge -m 256 --no-pci --no-shconf --no-telemetry --vdev=net_null0 "--lcores=0@0,1@1"
     "--log-level=lib.*:error" "--file-prefix=nmcon$$")

head -c 32 /dev/urandom > "$tmp/psk"
chmod 600 "$tmp/psk"
for s in echo counter c2 other; do head -c 32 /dev/urandom > "$tmp/$s.seed"; done
app=(--ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --stats-period 0)

# Wait (generously: the machine may be loaded) until $2 matches in file $1 while $pid runs.
wait_for() {
  local file=$1 pattern=$2 deadline=$((SECONDS + 120))
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
wait_exit() {
  local rc=0
  wait "$pid" || rc=$?
  pid=
  return $rc
}

# ---- --cmdline-file: echoed, '-' passes an error over, the first other error stops the file.
cat > "$tmp/cmds" <<EOF
# a comment, then a blank line

show daemons
-bogus command
daemon spawn counter $tmp/c2.seed 1
show daemons
daemon stop 0x1
show peers
EOF
"$nm" "${eal[@]}" -- "${app[@]}" --daemon "echo:$tmp/echo.seed:1" --cmdline-file "$tmp/cmds" \
  > "$tmp/out" 2>&1 &
pid=$!
wait_for "$tmp/out" "Ctrl-C to stop" || fail "cmdline-file run did not start"
out=$(cat "$tmp/out")
grep -q "^netmesh> show daemons$" <<<"$out" || fail "commands not echoed"
grep -q "^netmesh> bogus command$" <<<"$out" || fail "'-' line not echoed"
grep -q "^error: unknown command 'bogus'" <<<"$out" || fail "no error for the '-' line"
grep -q "^daemon counter origin 0x[0-9a-f]\{16\} on lcore 1$" <<<"$out" || fail "spawn after a '-' error"
[ "$(grep -c "kind echo lcore 1" <<<"$out")" = 2 ] || fail "show daemons: $out"
grep -q "kind counter lcore 1" <<<"$out" || fail "spawned daemon not shown"
grep -q "^error: no daemon 0x0000000000000001$" <<<"$out" || fail "daemon stop of nothing"
grep -q "cmds:7: stopped at this error; the rest of the file is skipped" <<<"$out" ||
  fail "no FILE:LINE for the stop"
! grep -q "^netmesh> show peers" <<<"$out" || fail "ran past the first error"
kill -INT "$pid"
wait_exit || fail "exit status after the file stopped"

# A file ending in quit: the appliance stops by itself, gracefully.
printf 'show stats\nquit\nshow peers\n' > "$tmp/quit.cmds"
out=$("$nm" "${eal[@]}" -- "${app[@]}" --cmdline-file "$tmp/quit.cmds" 2>&1) || fail "quit: exit $?"
grep -q "^total: " <<<"$out" || fail "show stats in a file: $out"
grep -q "netmesh: stopping" <<<"$out" || fail "quit did not stop: $out"
! grep -q "^netmesh> show peers" <<<"$out" || fail "ran past quit"

# Refused before EAL: a missing command file, a socket path that is a file or too long.
expect_refused() {
  local want=$1; shift
  local out
  if out=$("$nm" "${eal[@]}" -- "${app[@]}" "$@" 2>&1); then fail "accepted: $*"; fi
  grep -q -- "$want" <<<"$out" || fail "for '$*' expected '$want', got: $out"
}
expect_refused "cmdline-file '$tmp/none': No such file" --cmdline-file "$tmp/none"
expect_refused "exists and is not a socket" --ctl-socket "$tmp/psk"
expect_refused "a UNIX socket path has at most 107 bytes" --ctl-socket "$tmp/$(printf 'x%.0s' {1..120})"

# ---- the control socket
sock=$tmp/ctl.sock
"$nm" "${eal[@]}" -- "${app[@]}" --daemon "counter:$tmp/counter.seed:1" \
  --daemon "echo:$tmp/echo.seed:1" --ctl-socket "$sock" --state-dir "$tmp/state" > "$tmp/out" 2>&1 &
pid=$!
wait_for "$tmp/out" "Ctrl-C to stop" || fail "socket run did not start"
[ -S "$sock" ] || fail "no socket"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock")"

# ok: the reply's output on stdout, exit 0; error: the error line on stderr, exit 1.
ok() { local out; out=$("$ctl" "$sock" "$@" 2>&1) || fail "'$*' failed: $out"; printf '%s\n' "$out"; }
has() { # has PATTERN CMD...: the command succeeds and its output matches
  local pattern=$1 out; shift
  out=$(ok "$@")
  grep -q -- "$pattern" <<<"$out" || fail "'$*': no '$pattern' in: $out"
}
err() {
  local want=$1; shift
  local out
  if out=$("$ctl" "$sock" "$@" 2>&1); then fail "'$*' succeeded: $out"; fi
  grep -q -- "^error: $want" <<<"$out" || fail "'$*': expected 'error: $want', got: $out"
}
until_ok() { # until_ok PATTERN CMD...: the command's output matches, within a deadline
  local pattern=$1 deadline=$((SECONDS + 60)); shift
  until grep -q -- "$pattern" <<<"$(ok "$@")"; do
    [ $SECONDS -lt $deadline ] || fail "'$*' never showed '$pattern': $(ok "$@")"
    sleep 0.2
  done
}

out=$(ok help)
for c in "show stats" "show ports" "show peers" "show sessions" "show daemons" "show meshos" \
         "show migrations" "migrate ORIGIN NODE \[unsealed\]" "clear stats" "daemon spawn KIND SEEDFILE LCORE" "daemon stop ORIGIN" \
         "daemon snapshot ORIGIN FILE" "daemon restore KIND SEEDFILE FILE LCORE" "peer add IP" \
         "peer del IP" "maintenance enter" "maintenance exit" "help" "quit"; do
  grep -q "^  $c" <<<"$out" || fail "help lacks '$c': $out"
done
[ "$(ok help show | grep -c '^  show')" = 7 ] || fail "help show: $(ok help show)"
err "no command 'nope'" help nope
err "unknown command 'frobnicate'" frobnicate
err "show what? show stats|ports|peers|sessions|daemons|meshos|migrations" show
err "usage: daemon spawn KIND SEEDFILE LCORE" daemon spawn echo
err "'\"0x1': an origin is 1..16 hex digits" daemon stop '"0x1' # netmesh-ctl quotes it

has "^lcore 1: rx [0-9]* pkts" show stats
has "^handshakes: started 0" show stats
has "^port 0 net_null0: mac .*, mtu 1500, queues 1" show ports
has "^  mbufs in use [0-9]* of [0-9]*" show ports
has "^meshos: active, daemons 2," show meshos
has "^no sessions$" show sessions
# clear stats: the null PMD keeps receiving, so the count after a clear is below the one before.
before=$(ok show stats | sed -n 's/^total:   rx \([0-9]*\) pkts.*/\1/p')
has "stats cleared" clear stats
after=$(ok show stats | sed -n 's/^total:   rx \([0-9]*\) pkts.*/\1/p')
has "^since clear stats" show stats
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -lt "$before" ] || fail "clear stats: $before then $after"

# Daemons: spawn, snapshot (NMST and CDS1), stop, restore from each, errors.
daemons=$(ok show daemons)
grep -q "^2 daemon(s)$" <<<"$daemons" || fail "show daemons: $daemons"
origin=$(grep "kind counter" <<<"$daemons" | awk '{print $2}')
echo_origin=$(grep "kind echo" <<<"$daemons" | awk '{print $2}')
has "NMST state file: CDS1 + chain head" daemon snapshot "$origin" "$tmp/c.nmstate"
[ "$(head -c 4 "$tmp/c.nmstate")" = NMST ] || fail "not an NMST file"
[ "$(stat -c %a "$tmp/c.nmstate")" = 600 ] || fail "snapshot file mode"
has "(CDS1, state" daemon snapshot "$origin" "$tmp/c.cds1" cds1
[ "$(head -c 4 "$tmp/c.cds1")" = CDS1 ] || fail "not a CDS1 file"
err "daemon $echo_origin is stateless" daemon snapshot "$echo_origin" "$tmp/e.nmstate"
err "'json': the only format word is cds1" daemon snapshot "$origin" "$tmp/x" json
err "no daemon 0x0000000000000042" daemon stop 42
has "daemon $origin stopped (state saved; its file stays)" daemon stop "$origin"
[ -f "$tmp/state/${origin#0x}.nmstate" ] || fail "stop with --state-dir saved no file"
has "^1 daemon(s)$" show daemons
has "restored from .* (chain head from the file)" daemon restore counter "$tmp/counter.seed" "$tmp/c.nmstate" 1
err "daemon .* already registered" daemon restore counter "$tmp/counter.seed" "$tmp/c.nmstate" 1
# Restored from a file, the state directory does not keep it: the stop needs no save.
has "daemon $origin stopped$" daemon stop "$origin"
has "on lcore 1 (restored from the state directory)" daemon spawn counter "$tmp/counter.seed" 1
ok daemon stop "$origin" > /dev/null
has "CDS1 alone" daemon restore counter "$tmp/counter.seed" "$tmp/c.cds1" 1
ok daemon stop "$origin" > /dev/null
err "$tmp/c.nmstate: .*origin" daemon restore counter "$tmp/other.seed" "$tmp/c.nmstate" 1
head -c 100 "$tmp/c.nmstate" > "$tmp/torn.nmstate"
err "$tmp/torn.nmstate: " daemon restore counter "$tmp/counter.seed" "$tmp/torn.nmstate" 1
err "$tmp/psk: neither a state file (NMST) nor CDS1" daemon restore counter "$tmp/counter.seed" "$tmp/psk" 1
err "no factory registered for kind 'nope'" daemon spawn nope "$tmp/c2.seed" 1
err "no dataplane worker runs on lcore 5" daemon spawn counter "$tmp/c2.seed" 5
has "^daemon counter origin 0x.* on lcore 1$" daemon spawn counter "$tmp/c2.seed" 1
has "^2 daemon(s)$" show daemons

# Peers: the --peer syntax and its rules.
static=$(printf '%064d' 7)
has "peer 127.0.0.2:7000 node 0x000000000000001a added" peer add "127.0.0.2:7000,node=1a"
has "(connecting)" peer add "127.0.0.3,node=1b,static=$static,connect"
has "^peer 127.0.0.2: unknown session 0x0000000000000000 rtt 0 us, port 7000, node 0x000000000000001a$" show peers
err "peer 127.0.0.2 exists" peer add "127.0.0.2,node=2a"
err "node 0x000000000000001b is already a peer" peer add "127.0.0.4,node=1b"
err "127.0.0.1:7777 is our own address" peer add "127.0.0.1,node=3"
err "peer add: peer '127.0.0.5,node=zz': node= wants the node_id" peer add "127.0.0.5,node=zz"
err "peer add: peer '127.0.0.5,node=5,connect': connect needs static=HEX" peer add "127.0.0.5,node=5,connect"
has "peer 127.0.0.2 removed" peer del 127.0.0.2
err "no peer 127.0.0.2" peer del 127.0.0.2
err "'300.1.1.1': not an IPv4 address" peer del 300.1.1.1
[ "$(ok show peers | grep -c '^peer ')" = 1 ] || fail "after peer del: $(ok show peers)"
has "^peer 127.0.0.3: .*node 0x000000000000001b" show peers
ok peer add "127.0.0.2,node=1a" > /dev/null # the address again, after its removal

# Migrations: none yet; a start the engine refuses is an error line, nothing started.
has "^0 in progress, 0 finished" show migrations
err "state operation failed: identity transport requested but peer X25519 static for 0x1a is unknown" migrate "$origin" 1a
err "target node 0x77 unavailable" migrate "$echo_origin" 77 unsealed
# The engine's texts are upstream's ({:#x}: no leading zeros).
short=$(sed 's/^0x0*/0x/' <<<"$origin")
err "daemon $short not found" migrate "$origin" 1a unsealed # stopped above
err "'x': the only option word is unsealed" migrate "$origin" 1a x
err "'0': NODE is a node_id in hex" migrate "$origin" 0
has "^0 in progress, 0 finished" show migrations

# Maintenance: MeshOS applies the request at its next poll.
err "'0': DRAIN_SEC is 1..86400" maintenance enter 0
err "the node is active: exit works from maintenance or drain_failed" maintenance exit
has "drain for up to 1 s" maintenance enter 1
# The built-in daemons do not stop on DrainStart, so the 1 s drain ends in drain_failed.
until_ok "^meshos: drain_failed\|^meshos: maintenance" show meshos
has "exiting" maintenance exit
until_ok "^meshos: exiting\|^meshos: recovery\|^meshos: active" show meshos

# Raw clients: several lines in one go, garbage, a too-long line, too many clients, a reader
# that never reads; the appliance answers the next client each time.
python3 - "$sock" <<'EOF' || fail "raw clients"
import socket, sys, time
path = sys.argv[1]
def client():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    return s
def reply(s):
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data.decode(errors='replace')
        data += chunk
s = client()
s.sendall(b'show peers\nbogus\n\x00\x01garbage\n\xff\xfe\ndaemon stop "0x1\nshow meshos')  # no final newline
s.shutdown(socket.SHUT_WR)
r = reply(s).splitlines()
assert r.count('ok') == 2, r
assert "error: unknown command 'bogus' (help lists the commands)" in r, r
assert sum(l.startswith('error: control byte 0x00') for l in r) == 1, r
assert 'error: unterminated quote' in r, r
assert sum(l.startswith('error: ') for l in r) == 4, r
assert r[-1] == 'ok' and r[-2].startswith('  node 0x'), r
s = client()
s.sendall(b'x' * 5000)
r = reply(s)
assert r.startswith('error: line too long'), r
many = [client() for _ in range(8)]
extra = client()
assert reply(extra) == 'error: too many clients\n'
for c in many:
    c.close()
def answered():
    """A client gets a normal reply: the appliance has seen the eight leave (it closes a
    client over its limit, which the next send may see as EPIPE)."""
    try:
        s = client()
        s.sendall(b'show meshos\n')
        s.shutdown(socket.SHUT_WR)
        return reply(s).endswith('ok\n')
    except OSError:
        return False
deadline = time.time() + 60
while not answered():
    assert time.time() < deadline, 'clients never freed'
    time.sleep(0.1)
# A client that sends commands and never reads: dropped once its replies pass 64 KiB
# (seen as its writes failing), while other clients are answered all along.
slow = client()
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
deadline = time.time() + 60
dropped = False
while not dropped:
    try:
        for _ in range(200):
            slow.send(b'help\n')
    except OSError:
        dropped = True  # EPIPE / ECONNRESET: the appliance closed it
    s = client()
    s.sendall(b'show peers\n')
    s.shutdown(socket.SHUT_WR)
    assert reply(s).endswith('ok\n')
    assert time.time() < deadline, 'slow client never dropped'
    time.sleep(0.1)
EOF
kill -0 "$pid" || fail "the appliance died"

out=$(ok quit)
grep -q "stopping the appliance" <<<"$out" || fail "quit over the socket: $out"
wait_exit || fail "exit status after quit"
grep -q "netmesh: stopping" "$tmp/out" || fail "no graceful stop"
[ ! -e "$sock" ] || fail "socket file left behind"

# ---- the prompt, through a pty: help, TAB completion of command words, quit.
python3 - "$nm" "${eal[@]}" -- "${app[@]}" --daemon "echo:$tmp/echo.seed:1" -i <<'EOF' || fail "interactive"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
buf = b''
def expect(what, timeout=60):
    global buf
    deadline = time.time() + timeout
    while what not in buf:
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            sys.exit('timed out waiting for %r; got %r' % (what, buf[-2000:]))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b''
        if not chunk:
            sys.exit('ended before %r; got %r' % (what, buf[-2000:]))
        buf += chunk
    at = buf.index(what) + len(what)
    seen, buf = buf[:at], buf[at:]
    return seen
expect(b'netmesh> ')
os.write(fd, b'help\r')
out = expect(b'netmesh> ')
assert b'daemon spawn KIND SEEDFILE LCORE' in out and b'quit' in out, out
os.write(fd, b'show dae\t\r')          # TAB completes "daemons"
out = expect(b'netmesh> ')
assert b'1 daemon(s)' in out, out
os.write(fd, b'nonsense\r')
out = expect(b'netmesh> ')
assert b"error: unknown command 'nonsense'" in out, out
os.write(fd, b'quit\r')
expect(b'netmesh: stopping')
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
EOF
echo "console: ok"

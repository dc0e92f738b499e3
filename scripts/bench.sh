#!/usr/bin/env bash
# Run one benchmark part and print `name: value unit` lines (base units).
#   scripts/bench.sh runtime     the compute runtime, one thread, a net_null port
#   scripts/bench.sh sessions    handshakes and heartbeats, one core
#   scripts/bench.sh meshos      MeshOS fan-out and routing (a worker on lcore 1)
#   scripts/bench.sh dataplane [1x64|50x64]   the packet path on hot-plugged net_pcap ports, one worker
#   scripts/bench.sh aead        every ChaCha20-Poly1305 here (libsodium, ipsec-mb, OpenSSL, cryptodev)
#   scripts/bench.sh migration   live migration: a maintenance drain of 1000 daemons, one daemon with 1 MiB and 64 MiB of state
#                                in process (*_inproc_*), the identity envelope's seal and open (CPU per call),
#                                the same between two appliances (scripts/bench_migration_total.sh),
#                                then the cutover pause, lost and duplicate events under 100 k events/s between two
#                                appliances (scripts/bench_migration_pause.sh; its options after "migration")
#   scripts/bench.sh latency [--help]   event round trips through the appliance vs an io forwarder
#                                       on a memif pair (scripts/bench_latency.sh)
# Uses hugepages when enough are free (see scripts/hugepages.sh), else --no-huge.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

part=${1:-}
if [ "$part" = latency ]; then
  shift
  exec "$(dirname "$0")/bench_latency.sh" "$@"
fi
case "$part" in
  runtime)
    eal=(--vdev=net_null0 -l 0) ;;
  sessions)
    eal=(-l 0) ;;
  meshos)
    # Also times a fan-out to daemons on a worker: lcore 1 is that worker.
    eal=(--vdev=net_null0 -l 0,1) ;;
  dataplane)
    # Main lcore on CPU 0 (sleeps while measuring), the one worker on CPU 1.
    eal=(--lcores=0@0,1@1) ;;
  aead)
    # One thread; the crypto vdevs are hot-plugged by the benchmark.
    eal=(-l 1) ;;

  migration)
    # In-process runtimes, no port; each figure's command line is listed below. Then the pause.
    eal=() ;;
  migration-pause)
    shift
    exec "$(dirname "$0")/bench_migration_pause.sh" "$@" ;;
  migration-total)
    shift
    exec "$(dirname "$0")/bench_migration_total.sh" "$@" ;;
  *) echo "usage: $0 runtime|sessions|meshos|dataplane|aead|latency|migration|migration-pause|migration-total" >&2; exit 2 ;;
esac

nm_build
mem=$(nm_eal_mem_args 512)

if [ "$part" = migration ]; then
  # The migration figures, one line each: "EAL args -- netmesh-bench subcommand [args]".
  cmds=(
    "-l 0 -- migration-drain"
    "-l 0 -- migration-total 1MiB"
    "-l 0 -- migration-total 64MiB"
    "-l 0 -- migration-envelope"
  )
  for cmd in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    "$NM_BUILD/app/netmesh-bench" $mem --no-pci --no-shconf --no-telemetry \
      --file-prefix="nmbench$$" --log-level='lib.*:error' $cmd
  done
  # 1 MiB and 64 MiB between two appliances (its defaults), then the pause.
  "$(dirname "$0")/bench_migration_total.sh" --no-build
  shift
  exec "$(dirname "$0")/bench_migration_pause.sh" --no-build "$@"
fi
# shellcheck disable=SC2086
exec "$NM_BUILD/app/netmesh-bench" $mem --no-pci --no-shconf --no-telemetry \
  "${eal[@]}" --log-level='lib.*:error' -- "$@"

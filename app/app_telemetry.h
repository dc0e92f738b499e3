/* SPDX-License-Identifier: MIT */
/*
 * app_telemetry.h - the appliance's own state in DPDK telemetry (v2 socket,
 * dpdk-telemetry.py -f PREFIX), all JSON:
 *   /netmesh/stats    totals, per port (ethdev) and per worker lcore
 *   /netmesh/drops    drops by reason (every reason, zeros included)
 *   /netmesh/peers    address, session, health, RTT per peer; handshake counters
 *   /netmesh/daemons  origin, name, kind, lcore, processed, emitted, errors per daemon
 *   /netmesh/meshos   maintenance state, backpressure, MeshOS counters
 *   /netmesh/migrations  in progress (phase, bytes, elapsed, retries) and the
 *                     last finished ones with their reasons; counters
 *   /netmesh/migrate,ORIGIN,NODE[,unsealed]  start moving a daemon to NODE
 *
 * Threads. Callbacks run on DPDK's telemetry thread. Worker counters are read
 * without locks (plain per-lcore counters, torn-free per field); the
 * runtime and MeshOS accessors are thread-safe; session state belongs to the
 * control thread, which holds app_telemetry_hold() while it changes it (the
 * slow path, session timers and the migration engine), so /netmesh/peers and
 * the migration commands see (and call) them as the control thread would.
 */
#ifndef APP_TELEMETRY_H
#define APP_TELEMETRY_H

#include <stdint.h>

struct nm_dataplane;
struct nm_sessmgr;
struct nm_runtime;
struct nm_meshos;
struct nm_mesh;
struct nm_migdp;

struct app_telemetry_src {
	struct nm_mesh *mesh;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;  /* may be NULL */
	struct nm_runtime *rt;  /* may be NULL */
	struct nm_meshos *mos;  /* may be NULL */
	struct nm_migdp *md;    /* may be NULL */
	uint32_t mig_prepare_ms; /* /netmesh/migrate's nm_mig_opts.prepare_ms */
};

/*
 * Register the commands (once per process) and start answering from `src`
 * (copied). -EINVAL without a dataplane, or rte_telemetry's error.
 */
int app_telemetry_init(const struct app_telemetry_src *src);

/*
 * Stop answering (commands then return an error) before the sources are torn
 * down; waits for a callback in progress. Registration itself cannot be undone.
 */
void app_telemetry_fini(void);

/* The control thread, around its changes to session state. */
void app_telemetry_hold(void);
void app_telemetry_release(void);

#endif /* APP_TELEMETRY_H */

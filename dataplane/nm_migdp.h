/* SPDX-License-Identifier: MIT */
/*
 * nm_migdp.h - live migration on the appliance: the dataplane's side of the
 * engine's interfaces (control/nm_migration.h).
 *
 *   - transport: 0x0500 messages sealed on the peer's session by the session
 *     manager (fragmented by the dataplane when larger than the MTU), and
 *     inbound ones from the workers' mig_rx ring handed to the engine with
 *     the node they came from;
 *   - tap: pinned daemons are held on their owner lcore (nm_dp_hold: one
 *     control-ring request snapshots and starts holding), forwarded through
 *     a stub once they left, held on the target until activation, and fed
 *     the migration's events by injection into the owner's event ring.
 *     Daemons on the control path use the runtime's own tap.
 *
 * Control thread only; nothing here runs on a worker.
 */
#ifndef NM_MIGDP_H
#define NM_MIGDP_H

#include <stdint.h>

#include "nm_dataplane.h"
#include "nm_error.h"
#include "nm_migration.h"
#include "nm_sessmgr.h"

struct nm_migdp;

/* Inbound migrations of `kind` are taken onto worker `lcore` (--accept). */
#define NM_MIGDP_MAX_ACCEPT 16
struct nm_migdp_accept {
	const char *kind;
	uint32_t lcore;
};

struct nm_migdp_config {
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_runtime *rt;
	const uint8_t *static_sk; /* our X25519 static secret: opens identity envelopes */
	unsigned hold_events;     /* events a hold keeps; 0: 4096; never above a quarter of the pool */
	/*
	 * Kinds this node takes in without a per-origin reservation: the first
	 * chunk of a snapshot for an unknown origin reserves it (upstream's
	 * expect_migration) when its kind (the netmesh KIND TLV, or the only
	 * accepted kind when there is none) is listed. Copied.
	 */
	const struct nm_migdp_accept *accept;
	unsigned n_accept;
	struct nm_mig_config engine; /* timeouts; rt, tx, tap and static_sk are filled in here */
};

/* Build the engine on the dataplane and receive 0x0500 (before the workers start). */
int nm_migdp_create(const struct nm_migdp_config *cfg, struct nm_migdp **out,
		    struct nm_error *err);
/* After the workers stopped. */
void nm_migdp_free(struct nm_migdp *md);

struct nm_migration *nm_migdp_engine(struct nm_migdp *md);

/* Inbound messages, then the engine's timers and hand-overs. Returns work done. */
unsigned nm_migdp_poll(struct nm_migdp *md, uint64_t now_ms);

/*
 * A hand-off waits for this node: a migration of ours before its end
 * (nm_mig_in_progress), a 0x0500 message not yet handled, or events that the
 * control thread must move (in a forwarding hold, or injected and refused by
 * the owner's ring). The control loop naps short only then, and the workers
 * are urgent by the same test. Not while a source's forwarding idles
 * through its linger (seconds after every migration).
 */
bool nm_migdp_busy(const struct nm_migdp *md);

struct nm_migdp_stats {
	uint64_t messages_in;     /* 0x0500 messages handed to the engine */
	uint64_t unknown_sender;  /* from a peer with no node id */
	uint64_t send_failed;     /* the transport could not queue a message */
	uint64_t inject_failed;   /* an event the owner's ring did not take */
	uint64_t no_session;      /* injected with no session to its sender: outputs unsent */
	uint64_t accepted;        /* origins reserved on demand for an accepted kind */
	uint64_t holds_called_off; /* a hold overflowed before the commit: the owner delivered its
				    * events and the migration failed (after the commit an overflow
				    * is a counted drop: mig_hold_full, no_mbuf) */
};
void nm_migdp_stats(const struct nm_migdp *md, struct nm_migdp_stats *out);

#endif /* NM_MIGDP_H */

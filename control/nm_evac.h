/* SPDX-License-Identifier: MIT */
/*
 * nm_evac.h - evacuating a node by live migration: when the node enters
 * maintenance, MeshOS moves every daemon it supervises to a peer that
 * satisfies the daemon's requirements (docs/meshos.md "Evacuation").
 *
 * The planner owns no thread and no clock; MeshOS drives it from its loop
 * (nm_evac_step with the loop clock). Migrations go through a small
 * interface defined here, nm_meshos_migrator, which the node implements with
 * its migration engine (nm_evac_migrator_of wraps an nm_migration). There is
 * no capability announcement on the wire yet, so the peers' capability sets
 * come from configuration (nm_evac_peer).
 *
 * Rules: at most max_inflight migrations at a time; a failed one is retried
 * with backoff (retry_ms doubling up to retry_max_ms) against the next
 * capable peer, until the evacuation ends (the drain deadline); a daemon no
 * peer can take stays, and is counted and logged once. A daemon is done when
 * it is no longer on this node (migrated, or stopped). Loop thread only,
 * except nm_evac_stats.
 */
#ifndef NM_EVAC_H
#define NM_EVAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_capability.h"
#include "nm_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_EVAC_DEFAULT_INFLIGHT 64
#define NM_EVAC_DEFAULT_RETRY_MS 500
#define NM_EVAC_DEFAULT_RETRY_MAX_MS 8000
#define NM_EVAC_MAX_PEERS 64

/* A peer that may take daemons, with what it offers (from configuration). */
struct nm_evac_peer {
	uint64_t node;
	struct nm_capability_set caps;
};

/* Where this node's migration of a daemon stands (nm_meshos_migrator.status). */
enum nm_evac_mig {
	NM_EVAC_MIG_IDLE = 0,    /* no migration in progress, none failed since the last start */
	NM_EVAC_MIG_RUNNING = 1, /* in progress */
	NM_EVAC_MIG_FAILED = 2,  /* ended with a failure (reason filled in) */
};

/*
 * What MeshOS needs from the node's migration engine. start and status are
 * required; accept is optional.
 */
struct nm_meshos_migrator {
	void *ctx;
	/* Start moving `origin` from this node to `target`: 0 or negative (err set);
	 * -EBUSY: no room in the engine now (tried again later, no attempt spent). */
	int (*start)(void *ctx, uint64_t origin, uint64_t target, uint64_t now_ms,
		     struct nm_error *err);
	/* enum nm_evac_mig; a failure's reason into reason[len]. */
	int (*status)(void *ctx, uint64_t origin, char *reason, size_t len);
	/* Take inbound migrations (true) or refuse them (false: answered NotReady). */
	void (*accept)(void *ctx, bool on);
};

struct nm_evac_config {
	const struct nm_evac_peer *peers; /* copied at init */
	uint32_t n_peers;                 /* at most NM_EVAC_MAX_PEERS */
	uint64_t fallback_peer;           /* 0: none; taken when no listed peer is capable */
	uint32_t max_inflight;            /* 0: 64 */
	uint32_t retry_ms;                /* first retry delay; 0: 500 */
	uint32_t retry_max_ms;            /* backoff cap; 0: 8000 */
};

/* Counters, readable from any thread (relaxed). */
struct nm_evac_stats {
	uint64_t evacuations;   /* begun */
	uint64_t daemons;       /* in the current (or last) evacuation */
	uint64_t started;       /* migrations started */
	uint64_t migrated;      /* daemons that left the node */
	uint64_t retries;       /* failed migrations retried (or failed starts) */
	uint64_t no_candidate;  /* daemons no peer can take (they stay) */
	uint64_t inflight;      /* now */
	uint64_t left;          /* daemons still here when the last evacuation ended */
	uint64_t failed;        /* evacuations that ended with daemons left */
	bool active;            /* an evacuation is running */
};

/* What the planner asks of its owner. */
struct nm_evac_host {
	void *ctx;
	/* Is the daemon still registered on this node? */
	bool (*here)(void *ctx, uint64_t origin);
	/* A line for the operator (warnings: no candidate, failed attempts, the outcome). */
	void (*log)(void *ctx, uint64_t origin, bool warn, const char *msg);
};

struct nm_evac;

/* A planner (all copied); NULL on a migrator without start/status, too many peers, no memory. */
struct nm_evac *nm_evac_create(const struct nm_evac_config *cfg, const struct nm_meshos_migrator *mig,
			       const struct nm_evac_host *host);
void nm_evac_free(struct nm_evac *ev);

/*
 * The peer for a daemon with requirements `req` on its attempt-th try (0..):
 * the capable listed peers in turn, else the fallback peer unless it is
 * listed and not capable. False when there is none.
 */
bool nm_evac_place(const struct nm_evac_config *cfg, const struct nm_capability_filter *req,
		   uint32_t attempt, uint64_t *target);

/* Start an evacuation (forgets a previous one's daemons). */
void nm_evac_begin(struct nm_evac *ev);
/* Add a daemon to evacuate (again in the same evacuation: ignored). 0 or -ENOMEM. */
int nm_evac_add(struct nm_evac *ev, uint64_t origin, const struct nm_capability_filter *req);
/* Is origin part of the current evacuation? */
bool nm_evac_has(const struct nm_evac *ev, uint64_t origin);

/*
 * Advance: finished migrations are noted, failed ones scheduled for a retry,
 * and pending daemons started up to the concurrency limit. Returns true when
 * no daemon of the evacuation is left on this node except those no peer can
 * take (nothing more will happen).
 */
bool nm_evac_step(struct nm_evac *ev, uint64_t now_ms);

/* The evacuation ended (the node left Entering): stop starting migrations; counts what is left. */
void nm_evac_end(struct nm_evac *ev);

void nm_evac_stats(const struct nm_evac *ev, struct nm_evac_stats *out);

struct nm_migration;
struct nm_mig_opts;
/*
 * The migrator over this node's migration engine: start is nm_mig_start from
 * the local node (opts NULL: nm_mig_opts_default()), status is
 * nm_mig_phase_of / nm_mig_last_failure, accept toggles NotReady answers to
 * inbound restores (nm_mig_simulate_not_ready). `out` keeps pointers to m and
 * to a copy of opts held in *store (which must outlive the migrator).
 */
struct nm_evac_engine {
	struct nm_migration *mig;
	bool has_opts;
	bool opts_transport_identity;
	uint32_t opts_retry_not_ready_ms;
	uint32_t opts_prepare_ms;
};
void nm_evac_migrator_of(struct nm_migration *m, const struct nm_mig_opts *opts,
			 struct nm_evac_engine *store, struct nm_meshos_migrator *out);

#ifdef __cplusplus
}
#endif
#endif /* NM_EVAC_H */

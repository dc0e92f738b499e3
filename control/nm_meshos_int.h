/* SPDX-License-Identifier: MIT */
/*
 * nm_meshos_int.h - MeshOS internals shared by the loop (nm_meshos.c) and the
 * SDK (nm_meshos_sdk.c); not installed. Tests use it to drive the router and
 * the action translation directly, as upstream's unit tests do.
 */
#ifndef NM_MESHOS_INT_H
#define NM_MESHOS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "nm_bq.h"
#include "nm_capindex.h"
#include "nm_ctlrouter.h"
#include "nm_exec.h"
#include "nm_logring.h"
#include "nm_meshos.h"
#include "nm_u64map.h"

/* Counters written by the loop (and publishers), read anywhere: relaxed atomics. */
struct nm_meshos_counters {
	_Atomic uint64_t ticks, events_applied, events_refused;
	_Atomic uint64_t actions_emitted, actions_dropped, actions_failed;
	_Atomic uint64_t transitions_committed, transitions_rejected;
	_Atomic uint64_t control_broadcasts, control_delivered, control_batches, pump_errors;
	_Atomic uint64_t bp_asserts, bp_releases;
};

struct nm_meshos {
	struct nm_meshos_config cfg; /* defaults applied */
	struct nm_meshos_dispatcher disp;
	struct nm_runtime *rt;
	uint64_t node_id;
	struct nm_ctlrouter router;
	struct nm_bq *events;
	struct nm_logring logs;
	struct nm_capindex caps;
	struct nm_lifecycle_observer obs;
	_Atomic uint32_t refs; /* the owner's, plus one per handle */
	_Atomic bool closed;
	struct nm_meshos_counters n;
	_Atomic bool accepting;      /* nm_meshos_accepts_work */
	struct nm_evac *evac;        /* NULL without a migrator */

	/* Loop state: the polling thread only. */
	bool started, drained;
	uint64_t next_tick_ms, next_bp_ms, next_action_id;
	struct nm_maint_state maint;
	enum nm_maint_kind last_kind; /* the edge detector's memory */
	bool evac_kicked;             /* the evacuation settled: an early tick was asked for */
	struct nm_u64map mirror;      /* node -> (enum nm_maint_kind + 1) */
	bool bp_on;
	struct nm_meshos_action *actions;
	uint32_t n_actions;
	struct nm_ctlpending *pend;
	size_t pend_cap;
	struct nm_exec_control *batch;
	size_t batch_cap;

	/* Published by the loop, read by any thread. */
	pthread_mutex_t pub_lock;
	struct nm_meshos_status status;
	struct nm_meshos_peer peers[NM_MESHOS_MAX_PEERS];
	uint32_t n_peers;
};

/* Reference counting: handles keep the loop's memory alive. */
void nm_meshos_get(struct nm_meshos *m);
void nm_meshos_put(struct nm_meshos *m);

/*
 * Upstream's translate_to_control: a StopDaemon action becomes
 * Shutdown{deadline - now} in that daemon's channel; other actions route
 * nothing (maintenance fan-out goes through the control sink). Returns the
 * route result (0 for actions that route nothing).
 */
int nm_meshos_translate(struct nm_ctlrouter *r, const struct nm_meshos_action *a, uint64_t now_ms);

/* Hand one daemon's waiting events to its on_control now (any non-worker thread). */
void nm_meshos_deliver_now(struct nm_meshos *m, struct nm_ctlslot *s);

/* Thread's last error: record it and return code, or clear it. */
int nm_meshos_fail(int code, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nm_meshos_ok(void);

static inline void nm_meshos_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

#endif /* NM_MESHOS_INT_H */

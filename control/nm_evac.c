/* SPDX-License-Identifier: MIT */
/* nm_evac.c - evacuating a node by live migration (see nm_evac.h). */
#include "nm_evac.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_migration.h"
#include "nm_u64map.h"

#define ENGINE_PAUSE_MS 20 /* after the engine refused a start for want of room */

enum entry_state {
	PENDING = 0, /* waiting for a slot (or its retry time) */
	INFLIGHT,    /* a migration is running */
	DONE,        /* no longer on this node */
	STUCK,       /* no peer can take it: stays */
};

struct entry {
	uint64_t origin;
	struct nm_capability_filter req;
	uint64_t target;     /* the current or last attempt's peer */
	uint64_t not_before; /* PENDING: retry time */
	uint32_t attempts;
	uint8_t state;       /* enum entry_state */
};

struct nm_evac {
	struct nm_evac_config cfg; /* defaults applied; peers points at our copy */
	struct nm_evac_peer peers[NM_EVAC_MAX_PEERS];
	/* Per peer (the fallback last): a failed attempt pauses new starts towards it. */
	struct {
		uint64_t not_before;
		uint32_t fails;
	} pst[NM_EVAC_MAX_PEERS + 1];
	struct nm_meshos_migrator mig;
	struct nm_evac_host host;
	struct entry *e;
	size_t n, cap;
	struct nm_u64map idx; /* origin -> entry index + 1 */
	uint32_t inflight;
	uint64_t engine_not_before; /* the engine was full: no start before this */
	bool active;
	/* Written by the loop, read anywhere. */
	_Atomic uint64_t evacuations, daemons, started, migrated, retries, no_candidate;
	_Atomic uint64_t n_inflight, left, failed;
	_Atomic bool is_active;
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void logf_(struct nm_evac *ev, uint64_t origin, bool warn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void logf_(struct nm_evac *ev, uint64_t origin, bool warn, const char *fmt, ...)
{
	if (ev->host.log == NULL)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev->host.log(ev->host.ctx, origin, warn, msg);
}

struct nm_evac *nm_evac_create(const struct nm_evac_config *cfg, const struct nm_meshos_migrator *mig,
			       const struct nm_evac_host *host)
{
	if (cfg == NULL || mig == NULL || mig->start == NULL || mig->status == NULL ||
	    host == NULL || host->here == NULL || cfg->n_peers > NM_EVAC_MAX_PEERS ||
	    (cfg->n_peers > 0 && cfg->peers == NULL))
		return NULL;
	struct nm_evac *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return NULL;
	if (nm_u64map_init(&ev->idx, 64) < 0) {
		free(ev);
		return NULL;
	}
	ev->cfg = *cfg;
	if (cfg->n_peers > 0)
		memcpy(ev->peers, cfg->peers, cfg->n_peers * sizeof(ev->peers[0]));
	ev->cfg.peers = ev->peers;
	if (ev->cfg.max_inflight == 0)
		ev->cfg.max_inflight = NM_EVAC_DEFAULT_INFLIGHT;
	if (ev->cfg.retry_ms == 0)
		ev->cfg.retry_ms = NM_EVAC_DEFAULT_RETRY_MS;
	if (ev->cfg.retry_max_ms == 0)
		ev->cfg.retry_max_ms = NM_EVAC_DEFAULT_RETRY_MAX_MS;
	ev->mig = *mig;
	ev->host = *host;
	return ev;
}

void nm_evac_free(struct nm_evac *ev)
{
	if (ev == NULL)
		return;
	nm_u64map_fini(&ev->idx);
	free(ev->e);
	free(ev);
}

/* ---- placement ---- */

static const struct nm_evac_peer *listed(const struct nm_evac_config *cfg, uint64_t node)
{
	for (uint32_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].node == node)
			return &cfg->peers[i];
	return NULL;
}

bool nm_evac_place(const struct nm_evac_config *cfg, const struct nm_capability_filter *req,
		   uint32_t attempt, uint64_t *target)
{
	uint32_t capable = 0;
	for (uint32_t i = 0; i < cfg->n_peers; i++)
		capable += nm_capability_matches(req, &cfg->peers[i].caps);
	if (capable > 0) {
		uint32_t k = attempt % capable; /* the next capable peer on each retry */
		for (uint32_t i = 0; i < cfg->n_peers; i++) {
			if (!nm_capability_matches(req, &cfg->peers[i].caps))
				continue;
			if (k-- == 0) {
				*target = cfg->peers[i].node;
				return true;
			}
		}
	}
	if (cfg->fallback_peer == 0)
		return false;
	/* A configured peer whose capabilities we know to fall short is no fallback. */
	const struct nm_evac_peer *p = listed(cfg, cfg->fallback_peer);
	if (p != NULL && !nm_capability_matches(req, &p->caps))
		return false;
	*target = cfg->fallback_peer;
	return true;
}

/* ---- the evacuation ---- */

void nm_evac_begin(struct nm_evac *ev)
{
	ev->n = 0;
	ev->inflight = 0;
	ev->engine_not_before = 0;
	memset(ev->pst, 0, sizeof(ev->pst));
	nm_u64map_fini(&ev->idx);
	nm_u64map_init(&ev->idx, 64); /* on failure the map is empty and inserts fail: -ENOMEM */
	ev->active = true;
	count(&ev->evacuations, 1);
	atomic_store_explicit(&ev->daemons, 0, memory_order_relaxed);
	atomic_store_explicit(&ev->n_inflight, 0, memory_order_relaxed);
	atomic_store_explicit(&ev->left, 0, memory_order_relaxed);
	atomic_store_explicit(&ev->is_active, true, memory_order_relaxed);
}

bool nm_evac_has(const struct nm_evac *ev, uint64_t origin)
{
	return nm_u64map_get(&ev->idx, origin) != NULL;
}

int nm_evac_add(struct nm_evac *ev, uint64_t origin, const struct nm_capability_filter *req)
{
	if (nm_evac_has(ev, origin))
		return 0;
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 64;
		struct entry *e = realloc(ev->e, cap * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		ev->e = e;
		ev->cap = cap;
	}
	if (nm_u64map_insert(&ev->idx, origin, (void *)(uintptr_t)(ev->n + 1)) < 0)
		return -ENOMEM;
	struct entry *x = &ev->e[ev->n++];
	memset(x, 0, sizeof(*x));
	x->origin = origin;
	if (req != NULL)
		x->req = *req;
	count(&ev->daemons, 1);
	return 0;
}

static uint64_t backoff(const struct nm_evac *ev, uint32_t attempts)
{
	uint64_t d = ev->cfg.retry_ms;
	for (uint32_t i = 1; i < attempts && d < ev->cfg.retry_max_ms; i++)
		d *= 2;
	return d < ev->cfg.retry_max_ms ? d : ev->cfg.retry_max_ms;
}

/* The peer's backoff record: listed peers by position, anything else the fallback's. */
static uint32_t peer_slot(const struct nm_evac *ev, uint64_t node)
{
	for (uint32_t i = 0; i < ev->cfg.n_peers; i++)
		if (ev->peers[i].node == node)
			return i;
	return NM_EVAC_MAX_PEERS;
}

static void finish(struct nm_evac *ev, struct entry *x)
{
	if (x->state == INFLIGHT)
		ev->pst[peer_slot(ev, x->target)].fails = 0; /* it took one: go on at full pace */
	if (x->state == INFLIGHT) {
		ev->inflight--;
		count(&ev->n_inflight, (uint64_t)-1);
	}
	x->state = DONE;
	count(&ev->migrated, 1);
}

static void retry_later(struct nm_evac *ev, struct entry *x, uint64_t now_ms, const char *why)
{
	if (x->state == INFLIGHT) {
		ev->inflight--;
		count(&ev->n_inflight, (uint64_t)-1);
	}
	x->state = PENDING;
	x->not_before = now_ms + backoff(ev, x->attempts);
	/* A full or failing peer refuses the next ones too: pause it instead of hammering it. */
	uint32_t k = peer_slot(ev, x->target);
	ev->pst[k].fails++;
	ev->pst[k].not_before = now_ms + backoff(ev, ev->pst[k].fails);
	count(&ev->retries, 1);
	if ((x->attempts & (x->attempts - 1)) != 0)
		return; /* logged at attempts 1, 2, 4, 8, ...: every one is counted */
	logf_(ev, x->origin, true, "evacuation: migration of 0x%016" PRIx64 " to 0x%016" PRIx64
	      " failed (attempt %" PRIu32 "): %s; retrying", x->origin, x->target, x->attempts, why);
}

/* An in-flight migration: left the node, failed, or still running. */
static void check_inflight(struct nm_evac *ev, struct entry *x, uint64_t now_ms)
{
	if (!ev->host.here(ev->host.ctx, x->origin)) {
		finish(ev, x);
		return;
	}
	char reason[160] = "";
	int st = ev->mig.status(ev->mig.ctx, x->origin, reason, sizeof(reason));
	if (st == NM_EVAC_MIG_RUNNING)
		return;
	retry_later(ev, x, now_ms, st == NM_EVAC_MIG_FAILED ? reason
							  : "the migration ended with the daemon still here");
}

/* false: the engine is full, start nothing more in this step. */
static bool try_start(struct nm_evac *ev, struct entry *x, uint64_t now_ms)
{
	if (!ev->host.here(ev->host.ctx, x->origin)) {
		finish(ev, x); /* stopped meanwhile: nothing to move */
		return true;
	}
	if (!nm_evac_place(&ev->cfg, &x->req, x->attempts, &x->target)) {
		x->state = STUCK;
		count(&ev->no_candidate, 1);
		logf_(ev, x->origin, true, "evacuation: no peer satisfies the requirements of daemon "
		      "0x%016" PRIx64 ": it stays", x->origin);
		return true;
	}
	uint64_t paused = ev->pst[peer_slot(ev, x->target)].not_before;
	if (now_ms < paused) {
		x->not_before = paused; /* that peer is paused: this daemon waits, no attempt spent */
		return true;
	}
	struct nm_error err = { 0 };
	int rc = ev->mig.start(ev->mig.ctx, x->origin, x->target, now_ms, &err);
	if (rc == -EBUSY) {
		/* The engine has no room: no attempt spent; look again a little later. */
		ev->engine_not_before = now_ms + ENGINE_PAUSE_MS;
		return false;
	}
	x->attempts++;
	/* Already migrating (a previous evacuation's attempt): follow that one. */
	if (rc < 0 && rc != NM_EMIG_ALREADY_MIGRATING) {
		retry_later(ev, x, now_ms, err.msg[0] ? err.msg : "the migration did not start");
		return true;
	}
	x->state = INFLIGHT;
	ev->inflight++;
	count(&ev->n_inflight, 1);
	count(&ev->started, 1);
	return true;
}

bool nm_evac_step(struct nm_evac *ev, uint64_t now_ms)
{
	if (!ev->active)
		return false;
	bool settled = true, room = now_ms >= ev->engine_not_before;
	for (size_t i = 0; i < ev->n; i++) {
		struct entry *x = &ev->e[i];
		if (x->state == INFLIGHT)
			check_inflight(ev, x, now_ms);
		if (x->state == PENDING && room && ev->inflight < ev->cfg.max_inflight &&
		    now_ms >= x->not_before)
			room = try_start(ev, x, now_ms);
		if (x->state == PENDING || x->state == INFLIGHT)
			settled = false;
	}
	return settled;
}

void nm_evac_end(struct nm_evac *ev)
{
	if (!ev->active)
		return;
	ev->active = false;
	uint64_t left = 0;
	for (size_t i = 0; i < ev->n; i++)
		left += ev->e[i].state != DONE && ev->host.here(ev->host.ctx, ev->e[i].origin);
	atomic_store_explicit(&ev->left, left, memory_order_relaxed);
	atomic_store_explicit(&ev->is_active, false, memory_order_relaxed);
	if (left > 0) {
		count(&ev->failed, 1);
		logf_(ev, 0, true, "evacuation failed: %" PRIu64 " of %zu daemons still on this node",
		      left, ev->n);
	} else {
		logf_(ev, 0, false, "evacuation complete: %zu daemons moved or stopped", ev->n);
	}
}

void nm_evac_stats(const struct nm_evac *ev, struct nm_evac_stats *o)
{
	memset(o, 0, sizeof(*o));
	if (ev == NULL)
		return;
	o->evacuations = atomic_load_explicit(&ev->evacuations, memory_order_relaxed);
	o->daemons = atomic_load_explicit(&ev->daemons, memory_order_relaxed);
	o->started = atomic_load_explicit(&ev->started, memory_order_relaxed);
	o->migrated = atomic_load_explicit(&ev->migrated, memory_order_relaxed);
	o->retries = atomic_load_explicit(&ev->retries, memory_order_relaxed);
	o->no_candidate = atomic_load_explicit(&ev->no_candidate, memory_order_relaxed);
	o->inflight = atomic_load_explicit(&ev->n_inflight, memory_order_relaxed);
	o->left = atomic_load_explicit(&ev->left, memory_order_relaxed);
	o->failed = atomic_load_explicit(&ev->failed, memory_order_relaxed);
	o->active = atomic_load_explicit(&ev->is_active, memory_order_relaxed);
}

/* ---- the migrator over the engine ---- */

static int eng_start(void *ctx, uint64_t origin, uint64_t target, uint64_t now_ms,
		     struct nm_error *err)
{
	struct nm_evac_engine *e = ctx;
	struct nm_mig_opts o = nm_mig_opts_default();
	if (e->has_opts) {
		o.transport_identity = e->opts_transport_identity;
		o.retry_not_ready_ms = e->opts_retry_not_ready_ms;
		o.prepare_ms = e->opts_prepare_ms;
	}
	int rc = nm_mig_start(e->mig, origin, nm_mig_local_node(e->mig), target, &o, now_ms, err);
	/* The engine's record table is full (finished migrations linger while they forward). */
	if (rc == NM_EMIG_STATE_FAILED && err != NULL && strstr(err->msg, "too many migrations in progress") != NULL)
		return -EBUSY;
	return rc;
}

static int eng_status(void *ctx, uint64_t origin, char *reason, size_t len)
{
	struct nm_evac_engine *e = ctx;
	if (nm_mig_phase_of(e->mig, origin) != NM_MIG_PHASE_NONE)
		return NM_EVAC_MIG_RUNNING;
	struct nm_mig_reason r;
	if (!nm_mig_last_failure(e->mig, origin, &r))
		return NM_EVAC_MIG_IDLE;
	if (len > 0)
		nm_mig_reason_display(&r, reason, len);
	return NM_EVAC_MIG_FAILED;
}

static void eng_accept(void *ctx, bool on)
{
	struct nm_evac_engine *e = ctx;
	nm_mig_simulate_not_ready(e->mig, !on);
}

void nm_evac_migrator_of(struct nm_migration *m, const struct nm_mig_opts *opts,
			 struct nm_evac_engine *store, struct nm_meshos_migrator *out)
{
	*store = (struct nm_evac_engine){ .mig = m, .has_opts = opts != NULL };
	if (opts != NULL) {
		store->opts_transport_identity = opts->transport_identity;
		store->opts_retry_not_ready_ms = opts->retry_not_ready_ms;
		store->opts_prepare_ms = opts->prepare_ms;
	}
	*out = (struct nm_meshos_migrator){ .ctx = store, .start = eng_start, .status = eng_status,
					    .accept = eng_accept };
}

/* SPDX-License-Identifier: MIT */
/* nm_migdp.c - the engine's transport and tap on the dataplane (see header). */
#include "nm_migdp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "nm_migwire.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_u64map.h"
#include "nm_wire.h"
#include "nm_worker.h"

#define TAKE_MAX 64
/* Empty hold rings kept for the next migration: creating one (a named memzone)
 * is not free, and it sat inside the source's snapshot request and the
 * target's hold. */
#define SPARE_RINGS 4

enum hold_mode { HOLD_SOURCE = 1, HOLD_FORWARD, HOLD_TARGET };

/* An injected event the owner's ring did not take yet: retried in order. */
struct backlog {
	struct backlog *next;
	uint64_t session_id;
	struct nm_event ev; /* payload follows */
};

/* One daemon this node holds or forwards for a migration. */
struct rec {
	uint64_t origin;
	enum hold_mode mode;
	struct nm_dp_hold hold;
	struct rte_mbuf *taken[TAKE_MAX]; /* the last take's events: valid until the next call */
	unsigned n_taken;
	struct backlog *head, *tail;
	bool release_pending; /* released while injected events still wait: after them */
	bool detach_pending;  /* committed (forward): its host leaves the owner after the
			       * engine has sent ActivateTarget (detach_committed) */
};

struct nm_migdp {
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_runtime *rt;
	const struct nm_mig_tap *rt_tap; /* daemons on the control path */
	struct nm_migration *engine;
	struct nm_mig_transport tx;
	struct nm_mig_tap tap;
	unsigned hold_events;
	struct nm_u64map recs; /* origin -> struct rec * */
	unsigned ring_gen;
	struct nm_migdp_stats st;
	struct nm_migdp_accept accept[NM_MIGDP_MAX_ACCEPT];
	char accept_kind[NM_MIGDP_MAX_ACCEPT][NM_KIND_MAX + 1];
	unsigned n_accept;
	uint64_t now_ms; /* of the current poll, for inbound messages */
	unsigned n_detach; /* records with detach_pending */
	struct rte_ring *spare[SPARE_RINGS]; /* empty hold rings, ready */
	unsigned n_spare;
};

/* ------------------------------------------------------------ records */

static struct rec *rec_get(struct nm_migdp *md, uint64_t origin)
{
	return nm_u64map_get(&md->recs, origin);
}

static struct rte_ring *ring_new(struct nm_migdp *md)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "nm_hold_%u_%u", md->dp->port.port_id, md->ring_gen++);
	/* MP/MC: the owner enqueues; the owner (release) or the control thread (take) dequeues. */
	return rte_ring_create(name, md->hold_events, SOCKET_ID_ANY, RING_F_EXACT_SZ);
}

/* A hold ring: a spare one, else a new one. */
static struct rte_ring *ring_get(struct nm_migdp *md)
{
	return md->n_spare > 0 ? md->spare[--md->n_spare] : ring_new(md);
}

/* An empty ring no worker refers to any more. */
static void ring_put(struct nm_migdp *md, struct rte_ring *ring)
{
	if (ring != NULL && md->n_spare < SPARE_RINGS)
		md->spare[md->n_spare++] = ring;
	else
		rte_ring_free(ring);
}

static struct rec *rec_new(struct nm_migdp *md, uint64_t origin, enum hold_mode mode)
{
	struct rec *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->origin = origin;
	r->mode = mode;
	r->hold.target = mode == HOLD_TARGET;
	atomic_init(&r->hold.state, mode == HOLD_SOURCE ? NM_DP_HOLD_OPEN : NM_DP_HOLD_COMMITTED);
	r->hold.ring = ring_get(md);
	if (r->hold.ring == NULL || nm_u64map_insert(&md->recs, origin, r) < 0) {
		ring_put(md, r->hold.ring);
		free(r);
		return NULL;
	}
	return r;
}

static void taken_free(struct rec *r)
{
	for (unsigned i = 0; i < r->n_taken; i++)
		rte_pktmbuf_free(r->taken[i]);
	r->n_taken = 0;
}

/* The workers no longer refer to r->hold (released, or its stub is gone). */
static void rec_free(struct nm_migdp *md, struct rec *r)
{
	nm_u64map_remove(&md->recs, r->origin);
	taken_free(r);
	struct rte_mbuf *m;
	while (rte_ring_dequeue(r->hold.ring, (void **)&m) == 0) {
		/* Cannot happen after a release or an empty unforward; never silent. */
		md->dp->ctl_stats.drops[NM_DROP_MIG_HOLD_FULL]++;
		rte_pktmbuf_free(m);
	}
	ring_put(md, r->hold.ring); /* empty now */
	for (struct backlog *b = r->head, *n; b != NULL; b = n) {
		n = b->next;
		md->st.inject_failed++;
		free(b);
	}
	free(r);
}

/* Pinned here (or its stub is): the dataplane holds it; else the runtime's tap. */
static bool on_dataplane(struct nm_migdp *md, uint64_t origin)
{
	if (rec_get(md, origin) != NULL)
		return true;
	pthread_mutex_lock(&md->dp->lock);
	bool here = nm_u64map_get(&md->dp->daemons, origin) != NULL;
	pthread_mutex_unlock(&md->dp->lock);
	return here || !nm_runtime_has_daemon(md->rt, origin);
}

/* Events wait for the control thread: in a forwarding hold, or injected and refused. */
static bool events_to_move(const struct nm_migdp *md)
{
	for (size_t i = 0; md->recs.count != 0 && i <= md->recs.mask; i++) {
		const struct rec *r = md->recs.slots[i].val;
		if (r != NULL && (r->head != NULL ||
				  (r->mode == HOLD_FORWARD && rte_ring_count(r->hold.ring) != 0)))
			return true;
	}
	return false;
}

/* The test is in nm_migdp.h: a hand-off waits for this node's threads. */
bool nm_migdp_busy(const struct nm_migdp *md)
{
	return nm_mig_in_progress(md->engine) || rte_ring_count(md->dp->mig_rx) != 0 ||
	       events_to_move(md);
}

/* Workers answer quickly while a hand-off waits. */
static void urgent_update(struct nm_migdp *md)
{
	nm_dataplane_set_urgent(md->dp, nm_migdp_busy(md));
}

/*
 * The host of a committed daemon leaves its owner (one request to it). Its hold
 * has been COMMITTED since tap_forward, so it processes nothing here from then
 * on; the detach only removes it, which is why the engine's ActivateTarget and
 * held events need not wait for this round trip (docs/migration.md).
 */
static void detach_now(struct nm_migdp *md, struct rec *r)
{
	if (!r->detach_pending)
		return;
	r->detach_pending = false;
	md->n_detach--;
	/* Unregister only fails for a daemon already gone: then there is nothing to detach. */
	nm_runtime_migration_remove(md->rt, r->origin, NULL); /* its stub takes its place */
}

static void detach_committed(struct nm_migdp *md)
{
	for (size_t i = 0; md->n_detach != 0 && i <= md->recs.mask; i++) {
		struct rec *r = md->recs.slots[i].val;
		if (r != NULL)
			detach_now(md, r);
	}
}

/* ------------------------------------------------------------ tap */

static int tap_snapshot_hold(void *ctx, uint64_t origin, struct nm_snapshot **snap,
			     bool *stateless, struct nm_error *err)
{
	struct nm_migdp *md = ctx;
	*snap = NULL;
	*stateless = false;
	if (!on_dataplane(md, origin))
		return md->rt_tap->snapshot_hold(md->rt_tap->ctx, origin, snap, stateless, err);
	if (rec_get(md, origin) != NULL)
		return nm_mig_err_already_migrating(err, origin);
	struct rec *r = rec_new(md, origin, HOLD_SOURCE);
	if (r == NULL)
		return nm_error_set(err, -ENOMEM, "migration: no memory for a hold");
	nm_dataplane_set_urgent(md->dp, true); /* the owner serves the request at its next loop */
	int rc = nm_dataplane_mig_hold(md->dp, origin, &r->hold, snap, stateless, err);
	if (rc < 0) {
		rec_free(md, r);
		if (rc == NM_ENOT_FOUND)
			return nm_mig_err_daemon_not_found(err, origin);
	}
	return rc;
}

static uint64_t sender_of(struct nm_migdp *md, uint64_t session_id)
{
	struct nm_session *s = nm_dataplane_session_get(md->dp, session_id);
	return s != NULL ? nm_sessmgr_node_of(md->sm, s->peer) : 0;
}

static uint32_t tap_take(void *ctx, uint64_t origin, struct nm_mig_held *out, uint32_t max)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL)
		return md->rt_tap->take(md->rt_tap->ctx, origin, out, max);
	taken_free(r);
	if (max > TAKE_MAX)
		max = TAKE_MAX;
	r->n_taken = rte_ring_dequeue_burst(r->hold.ring, (void **)r->taken, max, NULL);
	for (unsigned i = 0; i < r->n_taken; i++) {
		const struct nm_dp_event_hdr *h =
			rte_pktmbuf_mtod(r->taken[i], const struct nm_dp_event_hdr *);
		out[i] = (struct nm_mig_held){ .mseq = h->mseq, .sender = sender_of(md, h->session_id) };
		out[i].ev = (struct nm_event){ .payload = (const uint8_t *)(h + 1), .len = h->len,
					       .received_at = h->received_at };
		nm_link_from_bytes(&out[i].ev.link, h->link, sizeof(h->link));
	}
	return r->n_taken;
}

static void release_now(struct nm_migdp *md, struct rec *r)
{
	/* The owner delivers what waits; without a host (a discarded target) the stub just goes. */
	if (nm_dataplane_mig_release(md->dp, r->origin, NULL) < 0)
		nm_dataplane_mig_unstub(md->dp, r->origin);
	rec_free(md, r);
}

static int tap_release(void *ctx, uint64_t origin)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL)
		return md->rt_tap->release(md->rt_tap->ctx, origin);
	taken_free(r);
	if (r->head != NULL) {
		/* The migration's own events go first: release once they are all in. */
		r->release_pending = true;
		return 0;
	}
	release_now(md, r);
	return 0;
}

static int tap_forward(void *ctx, uint64_t origin, uint64_t target)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL)
		return md->rt_tap->forward(md->rt_tap->ctx, origin, target);
	/* The commit, unless the owner called the migration off first (its hold was full). */
	uint32_t open = NM_DP_HOLD_OPEN;
	if (!atomic_compare_exchange_strong(&r->hold.state, &open, NM_DP_HOLD_COMMITTED))
		return -ECANCELED;
	/* From here the host runs nothing: every event for it goes into the hold. */
	int rc = nm_dataplane_mig_stub(md->dp, origin, &r->hold, NULL);
	if (rc == 0) {
		r->mode = HOLD_FORWARD;
		r->detach_pending = true; /* after the engine's ActivateTarget: detach_committed */
		md->n_detach++;
	}
	return rc;
}

static int tap_unforward(void *ctx, uint64_t origin)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL)
		return md->rt_tap->unforward(md->rt_tap->ctx, origin);
	detach_now(md, r); /* the stub may only go once no worker holds through the host */
	if (r->mode != HOLD_FORWARD || rte_ring_count(r->hold.ring) != 0)
		return -EBUSY;
	nm_dataplane_mig_unstub(md->dp, origin);
	rec_free(md, r);
	return 0;
}

static int tap_hold(void *ctx, uint64_t origin)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL && !on_dataplane(md, origin))
		return md->rt_tap->hold(md->rt_tap->ctx, origin);
	if (r != NULL && r->mode == HOLD_TARGET)
		return 0;
	if (r != NULL)
		detach_now(md, r);
	if (r != NULL && (r->mode != HOLD_FORWARD || rte_ring_count(r->hold.ring) != 0))
		return -EBUSY;
	const bool fresh = r == NULL;
	if (fresh && (r = rec_new(md, origin, HOLD_TARGET)) == NULL)
		return -ENOMEM;
	/* It comes (back) here: hold direct arrivals until the target is active. */
	taken_free(r);
	r->mode = HOLD_TARGET;
	r->hold.target = true;
	r->hold.mseq = 0;
	atomic_store(&r->hold.state, NM_DP_HOLD_COMMITTED);
	/*
	 * A forwarding stub here is replaced at once. With none, no event for it
	 * reaches this node before it is restored (senders learn of it from
	 * Moved, after the activation), so the stub waits for the restore's
	 * attach: host and hold reach the workers in one request, not two.
	 */
	int rc = fresh ? nm_dataplane_mig_stub_at_attach(md->dp, origin, &r->hold, NULL)
		       : nm_dataplane_mig_stub_now(md->dp, origin, &r->hold, NULL);
	if (rc < 0)
		rec_free(md, r);
	return rc;
}

/* Keep it, in order, for the next poll: an event is never dropped for a full ring. */
static int backlog_push(struct rec *r, uint64_t session_id, const struct nm_event *ev)
{
	struct backlog *b = malloc(sizeof(*b) + ev->len);
	if (b == NULL)
		return -ENOMEM;
	b->next = NULL;
	b->session_id = session_id;
	b->ev = *ev;
	memcpy(b + 1, ev->payload, ev->len);
	b->ev.payload = (const uint8_t *)(b + 1);
	if (r->tail != NULL)
		r->tail->next = b;
	else
		r->head = b;
	r->tail = b;
	return 0;
}

static int tap_inject(void *ctx, uint64_t origin, const struct nm_event *ev, uint64_t sender,
		      struct nm_error *err)
{
	struct nm_migdp *md = ctx;
	struct rec *r = rec_get(md, origin);
	if (r == NULL && !on_dataplane(md, origin))
		return md->rt_tap->inject(md->rt_tap->ctx, origin, ev, sender, err);
	uint64_t session_id = nm_sessmgr_session_of(md->sm, sender);
	if (session_id == 0)
		md->st.no_session++; /* processed all the same; its outputs count as no_route */
	if (r != NULL && (r->head != NULL || r->release_pending))
		return backlog_push(r, session_id, ev);
	int rc = nm_dataplane_inject(md->dp, origin, session_id, ev);
	if (rc == -ENOBUFS && r != NULL)
		return backlog_push(r, session_id, ev);
	if (rc < 0) {
		md->st.inject_failed++;
		return nm_error_set(err, rc, "migration: inject into 0x%" PRIx64 ": %s", origin,
				    nm_strerror(rc));
	}
	return 0;
}

/* Retry what the owners' rings refused, oldest first; then a release that waited. */
static unsigned backlog_drain(struct nm_migdp *md)
{
	unsigned n = 0;
	for (size_t i = 0; md->recs.slots != NULL && i <= md->recs.mask; i++) {
		struct rec *r = md->recs.slots[i].val;
		while (r != NULL && r->head != NULL) {
			struct backlog *b = r->head;
			int rc = nm_dataplane_inject(md->dp, r->origin, b->session_id, &b->ev);
			if (rc == -ENOBUFS)
				break;
			if (rc < 0)
				md->st.inject_failed++; /* no daemon or stub here any more: never silent */
			r->head = b->next;
			if (r->head == NULL)
				r->tail = NULL;
			free(b);
			n++;
		}
		if (r != NULL && r->head == NULL && r->release_pending) {
			release_now(md, r);
			i = (size_t)-1; /* the map changed: start over */
		}
	}
	return n;
}

/* ------------------------------------------------------------ transport */

static int tx_send(void *ctx, uint64_t dest, const uint8_t *msg, size_t len)
{
	struct nm_migdp *md = ctx;
	int rc = nm_sessmgr_send_message(md->sm, dest, NM_SUBPROTOCOL_MIGRATION,
					 NM_SUBPROTOCOL_MIGRATION, msg, len);
	if (rc < 0)
		md->st.send_failed++;
	return rc;
}

static bool tx_peer_static(void *ctx, uint64_t node, uint8_t out[32])
{
	struct nm_migdp *md = ctx;
	return nm_sessmgr_peer_static(md->sm, node, out);
}

/* `origin` lives on `node` now: daemons here whose outputs go to it follow it. */
static void tx_moved(void *ctx, uint64_t origin, uint64_t node)
{
	struct nm_migdp *md = ctx;
	uint64_t session_id = nm_sessmgr_session_of(md->sm, node);
	if (session_id == 0)
		return;
	uint64_t senders[64];
	unsigned n = 0;
	pthread_mutex_lock(&md->dp->lock);
	for (size_t i = 0; i <= md->dp->daemons.mask && n < 64; i++) {
		const struct nm_dp_daemon *d = md->dp->daemons.slots[i].val;
		if (d != NULL && d->route_session != 0 && d->route_stream == origin)
			senders[n++] = d->origin;
	}
	pthread_mutex_unlock(&md->dp->lock);
	for (unsigned i = 0; i < n; i++)
		nm_dataplane_route_outputs(md->dp, senders[i], session_id, origin, NULL);
}

/* ------------------------------------------------------------ inbound */

static const struct nm_migdp_accept *accepted_kind(const struct nm_migdp *md,
						   const struct nm_mig_ext *ext)
{
	if (!NM_MIG_EXT_HAS(ext, NM_MIG_TLV_KIND))
		return md->n_accept == 1 ? &md->accept[0] : NULL;
	for (unsigned i = 0; i < md->n_accept; i++)
		if (strlen(md->accept[i].kind) == ext->kind_len &&
		    memcmp(md->accept[i].kind, ext->kind, ext->kind_len) == 0)
			return &md->accept[i];
	return NULL;
}

/* A snapshot's first chunk for an origin with no slot here: reserve it if its kind is taken. */
static void admit(struct nm_migdp *md, const uint8_t *msg, size_t len)
{
	struct nm_mig_msg m;
	struct nm_mig_ext ext;
	if (nm_mig_decode(msg, len, &m, &ext, NULL) < 0 || m.type != NM_MIG_SNAPSHOT_READY ||
	    m.snapshot_ready.chunk_index != 0 || nm_runtime_has_factory_slot(md->rt, m.daemon_origin))
		return;
	const struct nm_migdp_accept *a = accepted_kind(md, &ext);
	if (a == NULL)
		return; /* the engine answers FactoryNotFound, as upstream */
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = a->lcore;
	if (nm_runtime_expect_migration(md->rt, a->kind, m.daemon_origin, &cfg, NULL) == 0)
		md->st.accepted++;
}

static void on_message(void *ctx, uint16_t peer, const uint8_t *msg, size_t len)
{
	struct nm_migdp *md = ctx;
	uint64_t from = nm_sessmgr_node_of(md->sm, peer);
	if (from == 0) {
		md->st.unknown_sender++;
		return;
	}
	md->st.messages_in++;
	nm_dataplane_set_urgent(md->dp, true); /* a restore or a commit may need a worker now */
	if (md->n_accept != 0 && len > 0 && msg[0] == NM_MIG_SNAPSHOT_READY)
		admit(md, msg, len);
	nm_mig_handle(md->engine, msg, len, from, md->now_ms, NULL);
	detach_committed(md); /* a commit's ActivateTarget is out: now its host may go */
}

/* ------------------------------------------------------------ life */

int nm_migdp_create(const struct nm_migdp_config *cfg, struct nm_migdp **out,
		    struct nm_error *err)
{
	if (cfg == NULL || cfg->dp == NULL || cfg->sm == NULL || cfg->rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "migration: dataplane, sessions and runtime needed");
	if (cfg->n_accept > (size_t)NM_MIGDP_MAX_ACCEPT)
		return nm_error_set(err, -EINVAL, "migration: at most %zu accepted kinds",
				    (size_t)NM_MIGDP_MAX_ACCEPT);
	struct nm_migdp *md = calloc(1, sizeof(*md));
	if (md == NULL || nm_u64map_init(&md->recs, 64) < 0) {
		free(md);
		return nm_error_set(err, -ENOMEM, "migration: out of memory");
	}
	md->dp = cfg->dp;
	md->sm = cfg->sm;
	md->rt = cfg->rt;
	md->rt_tap = nm_runtime_tap(cfg->rt);
	for (unsigned i = 0; i < cfg->n_accept; i++) {
		snprintf(md->accept_kind[i], sizeof(md->accept_kind[i]), "%s", cfg->accept[i].kind);
		md->accept[i] = (struct nm_migdp_accept){ md->accept_kind[i], cfg->accept[i].lcore };
		md->n_accept++;
	}
	/*
	 * A hold keeps at most a quarter of the port's mbufs, so a stalled
	 * migration gives way (the owner takes its events back) long before
	 * holding could starve receive and transmit.
	 */
	unsigned cap = cfg->hold_events != 0 ? cfg->hold_events : 4096;
	unsigned quarter = rte_mempool_avail_count(cfg->dp->port.pool) / 4;
	md->hold_events = cap < quarter ? cap : quarter > 16 ? quarter : 16;
	md->tx = (struct nm_mig_transport){ .ctx = md, .send = tx_send,
					    .peer_static = tx_peer_static, .moved = tx_moved };
	md->tap = (struct nm_mig_tap){
		.ctx = md, .snapshot_hold = tap_snapshot_hold, .take = tap_take,
		.release = tap_release, .forward = tap_forward, .unforward = tap_unforward,
		.hold = tap_hold, .inject = tap_inject,
	};
	struct nm_mig_config ec = cfg->engine;
	/* A message must fit one Net datagram: the session manager refuses more. */
	const uint32_t room = NM_NET_MAX_PACKET - NM_NET_HDR_SIZE - NM_NET_EVENT_HDR - NM_NET_TAG_SIZE;
	if (ec.max_message == 0 || ec.max_message > room)
		ec.max_message = room;
	ec.rt = cfg->rt;
	ec.tx = &md->tx;
	ec.tap = &md->tap;
	ec.static_sk = cfg->static_sk;
	md->engine = nm_mig_create(&ec);
	if (md->engine == NULL) {
		nm_u64map_fini(&md->recs);
		free(md);
		return nm_error_set(err, -ENOMEM, "migration: engine");
	}
	/* Rings for the first migrations each way (none: they are made when needed). */
	for (unsigned i = 0; i < 2; i++) {
		struct rte_ring *ring = ring_new(md);
		if (ring != NULL)
			ring_put(md, ring);
	}
	nm_dataplane_set_migration(md->dp, on_message, md);
	*out = md;
	return 0;
}

void nm_migdp_free(struct nm_migdp *md)
{
	if (md == NULL)
		return;
	nm_dataplane_set_migration(md->dp, NULL, NULL);
	nm_mig_free(md->engine);
	detach_committed(md); /* before any stub goes: no worker may hold through a freed hold */
	nm_dataplane_set_urgent(md->dp, false);
	/*
	 * What is still held goes where it is safe: a source's hold back to its
	 * daemon here (before the commit it never left); a target's to the
	 * restored daemon; a stub's (forwarding after the commit) has nowhere
	 * to go and is counted as dropped (mig_hold_full) by rec_free.
	 */
	for (size_t i = 0; md->recs.slots != NULL && i <= md->recs.mask; i++) {
		struct rec *r = md->recs.slots[i].val;
		if (r == NULL)
			continue;
		if (r->mode == HOLD_FORWARD) {
			nm_dataplane_mig_unstub(md->dp, r->origin);
			rec_free(md, r);
		} else {
			release_now(md, r); /* a backlog left is freed and counted (inject_failed) */
		}
		i = (size_t)-1; /* the map changed under us: start over */
	}
	while (md->n_spare > 0)
		rte_ring_free(md->spare[--md->n_spare]);
	nm_u64map_fini(&md->recs);
	free(md);
}

struct nm_migration *nm_migdp_engine(struct nm_migdp *md)
{
	return md->engine;
}

/* Migrations whose owner gave way (a full hold): the engine calls them off too. */
static void reap_released(struct nm_migdp *md, uint64_t now_ms)
{
	for (size_t i = 0; md->recs.slots != NULL && i <= md->recs.mask; i++) {
		struct rec *r = md->recs.slots[i].val;
		if (r == NULL || r->mode != HOLD_SOURCE ||
		    atomic_load(&r->hold.state) != NM_DP_HOLD_RELEASED)
			continue;
		md->st.holds_called_off++;
		if (nm_mig_cancel_for(md->engine, r->origin, NM_MIG_CANCEL_HOLD_OVERFLOW, now_ms,
				      NULL) < 0)
			tap_release(md, r->origin); /* no record: free the hold ourselves */
		i = (size_t)-1; /* the map changed: start over */
	}
}

unsigned nm_migdp_poll(struct nm_migdp *md, uint64_t now_ms)
{
	md->now_ms = now_ms;
	unsigned n = nm_dataplane_poll_migration(md->dp);
	reap_released(md, now_ms);
	n += backlog_drain(md);
	nm_mig_poll(md->engine, now_ms);
	detach_committed(md);
	urgent_update(md);
	return n;
}

void nm_migdp_stats(const struct nm_migdp *md, struct nm_migdp_stats *out)
{
	*out = md->st;
}

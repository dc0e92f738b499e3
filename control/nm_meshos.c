/* SPDX-License-Identifier: MIT */
/* nm_meshos.c - the MeshOS loop on the control thread (see nm_meshos.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_log.h"
#include "nm_meshos_int.h"
#include "nm_node.h"
#include "nm_runtime.h"
#include "nm_time.h"

#define EVENTS_PER_POLL 256 /* applied per poll, after a tick if one was due */
#define PUMP_CHUNK 1024    /* daemons per on_control request: bounds a worker's stall */

/* ---- construction ---- */

static void defaults(struct nm_meshos_config *c)
{
	if (c->tick_ms == 0)
		c->tick_ms = NM_MESHOS_DEFAULT_TICK_MS;
	if (c->event_queue == 0)
		c->event_queue = NM_MESHOS_DEFAULT_EVENT_QUEUE;
	if (c->action_queue == 0)
		c->action_queue = NM_MESHOS_DEFAULT_ACTION_QUEUE;
	if (c->control_capacity == 0)
		c->control_capacity = NM_MESHOS_DEFAULT_CONTROL_CAPACITY;
	if (c->drain_deadline_ms == 0)
		c->drain_deadline_ms = NM_MESHOS_DEFAULT_DRAIN_MS;
	if (c->ramp_window_ms == 0)
		c->ramp_window_ms = NM_MESHOS_DEFAULT_RAMP_MS;
	if (c->backpressure_ms == 0)
		c->backpressure_ms = NM_MESHOS_DEFAULT_BP_MS;
	if (c->backpressure_high <= 0.0f)
		c->backpressure_high = NM_MESHOS_DEFAULT_BP_HIGH;
	if (c->backpressure_low <= 0.0f)
		c->backpressure_low = NM_MESHOS_DEFAULT_BP_LOW;
}

/* The runtime's registrations: a channel per daemon, gone with the daemon. */
static void on_lifecycle(void *ctx, enum nm_lifecycle_event ev, const struct nm_daemon_info *d)
{
	struct nm_meshos *m = ctx;
	if (ev == NM_LIFECYCLE_REGISTERED) {
		nm_ctlrouter_add(&m->router, d, 0); /* no memory: the daemon gets no channel */
		return;
	}
	nm_ctlrouter_remove(&m->router, d->origin);
	nm_capindex_remove(&m->caps, d->origin);
}

/* Also for a half-built loop: each part is torn down only if it was made. */
static void destroy(struct nm_meshos *m)
{
	if (m->router.map.slots != NULL)
		nm_ctlrouter_fini(&m->router);
	nm_bq_free(m->events);
	if (m->logs.recs != NULL)
		nm_logring_fini(&m->logs);
	if (m->caps.map.slots != NULL)
		nm_capindex_fini(&m->caps);
	nm_u64map_fini(&m->mirror);
	nm_evac_free(m->evac);
	free(m->actions);
	free(m->pend);
	free(m->batch);
	pthread_mutex_destroy(&m->pub_lock);
	free(m);
}

/* ---- evacuation: the planner's view of this node ---- */

static bool evac_here(void *ctx, uint64_t origin)
{
	struct nm_meshos *m = ctx;
	struct nm_ctlslot *s = nm_ctlrouter_get(&m->router, origin);
	nm_ctlslot_put(s);
	return s != NULL;
}

/* Into the node's log ring (loop thread) and the netmesh.meshos log. */
static void evac_log(void *ctx, uint64_t origin, bool warn, const char *msg)
{
	struct nm_meshos *m = ctx;
	struct nm_log_record r = {
		.ts_ms = nm_wall_ns() / 1000000ULL,
		.node_id = m->node_id,
		.daemon_id = origin,
		.has_daemon = origin != 0,
		.level = warn ? NM_LOG_WARN : NM_LOG_INFO,
	};
	snprintf(r.message, sizeof(r.message), "%s", msg);
	nm_logring_push(&m->logs, &r);
	nm_log(NM_LT_MESHOS, warn ? NM_LV_WARNING : NM_LV_INFO, "%s", msg);
}

static int evac_init(struct nm_meshos *m)
{
	struct nm_evac_host host = { .ctx = m, .here = evac_here, .log = evac_log };
	m->evac = nm_evac_create(&m->cfg.evac, &m->cfg.migrator, &host);
	return m->evac != NULL ? 0 : -EINVAL;
}

static int init(struct nm_meshos *m)
{
	int rc = nm_ctlrouter_init(&m->router, m->cfg.control_capacity);
	if (rc == 0)
		rc = nm_capindex_init(&m->caps);
	if (rc == 0)
		rc = nm_u64map_init(&m->mirror, 16);
	if (rc == 0)
		rc = nm_logring_init(&m->logs, m->cfg.log_ring);
	if (rc < 0)
		return rc;
	m->events = nm_bq_create(m->cfg.event_queue, sizeof(struct nm_meshos_event));
	m->actions = calloc(m->cfg.action_queue, sizeof(*m->actions));
	return m->events != NULL && m->actions != NULL ? 0 : -ENOMEM;
}

int nm_meshos_start(const struct nm_meshos_config *cfg, const struct nm_meshos_dispatcher *dispatcher,
		    struct nm_meshos **out)
{
	if (cfg == NULL || cfg->rt == NULL || out == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument",
				      "config with a runtime and out are required");
	struct nm_meshos *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return nm_meshos_fail(-ENOMEM, "runtime_panic", "out of memory");
	m->cfg = *cfg;
	defaults(&m->cfg);
	if (dispatcher != NULL)
		m->disp = *dispatcher;
	m->rt = cfg->rt;
	m->node_id = cfg->this_node ? cfg->this_node : nm_node_id(nm_runtime_node(cfg->rt));
	m->maint = nm_maint_active();
	m->last_kind = NM_MAINT_ACTIVE;
	m->next_action_id = 1;
	atomic_init(&m->refs, 1);
	pthread_mutex_init(&m->pub_lock, NULL);
	m->status.node_id = m->node_id;
	m->status.state = m->maint;
	nm_maint_view_of(&m->maint, 0, &m->status.view);
	atomic_init(&m->accepting, true);
	m->status.accepting = true;
	int rc = init(m);
	if (rc == 0 && m->cfg.migrator.start != NULL)
		rc = evac_init(m);
	m->obs = (struct nm_lifecycle_observer){ .ctx = m, .on_event = on_lifecycle };
	if (rc == 0)
		rc = nm_runtime_set_observer(m->rt, &m->obs);
	if (rc < 0) {
		destroy(m);
		bool busy = rc == -EBUSY;
		return nm_meshos_fail(rc, busy ? "invalid_argument" : "runtime_panic",
				      "cannot start MeshOS: %s",
				      busy ? "the runtime has a MeshOS already" : strerror(-rc));
	}
	nm_meshos_ok();
	*out = m;
	return 0;
}

void nm_meshos_get(struct nm_meshos *m)
{
	atomic_fetch_add(&m->refs, 1);
}

void nm_meshos_put(struct nm_meshos *m)
{
	if (atomic_fetch_sub(&m->refs, 1) == 1)
		destroy(m);
}

int nm_meshos_shutdown(struct nm_meshos *m)
{
	if (m == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "MeshOS is NULL");
	if (atomic_exchange(&m->closed, true))
		return nm_meshos_fail(-ESHUTDOWN, "already_shutdown",
				      "MeshOsDaemonSdk was already shut down");
	nm_runtime_set_observer(m->rt, NULL);
	nm_bq_close(m->events);
	nm_ctlrouter_close_all(&m->router);
	pthread_mutex_lock(&m->pub_lock);
	m->status.closed = true;
	pthread_mutex_unlock(&m->pub_lock);
	nm_meshos_ok();
	return 0;
}

void nm_meshos_free(struct nm_meshos *m)
{
	if (m == NULL)
		return;
	if (!atomic_load(&m->closed))
		nm_meshos_shutdown(m);
	nm_meshos_put(m);
}

/* ---- publishing events ---- */

int nm_meshos_publish(struct nm_meshos *m, const struct nm_meshos_event *ev)
{
	if (m == NULL || ev == NULL || ev->kind < NM_MESHOS_EV_ENTER_MAINTENANCE ||
	    ev->kind > NM_MESHOS_EV_LOG)
		return -EINVAL;
	if (atomic_load_explicit(&m->closed, memory_order_acquire))
		return -EPIPE;
	int rc = nm_bq_push(m->events, ev);
	if (rc == -ENOBUFS)
		nm_meshos_count(&m->n.events_refused, 1);
	return rc;
}

int nm_meshos_enter_maintenance(struct nm_meshos *m, uint64_t node, uint64_t drain_for_ms)
{
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_ENTER_MAINTENANCE, .node = node,
				      .drain_for_ms = drain_for_ms };
	return nm_meshos_publish(m, &ev);
}

int nm_meshos_exit_maintenance(struct nm_meshos *m, uint64_t node)
{
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_EXIT_MAINTENANCE, .node = node };
	return nm_meshos_publish(m, &ev);
}

/* ---- maintenance: commits and the edge detector ---- */

static void mirror_set(struct nm_meshos *m, uint64_t node, enum nm_maint_kind k)
{
	void *v = (void *)(uintptr_t)(k + 1); /* never NULL: NULL marks an empty slot */
	nm_u64map_remove(&m->mirror, node);
	nm_u64map_insert(&m->mirror, node, v);
}

/* ---- evacuation ---- */

struct evac_cand {
	uint64_t origin;
	uint32_t lcore;
	struct nm_capability_filter req;
};

struct evac_collect {
	struct nm_meshos *m;
	struct evac_cand *c;
	size_t n, cap;
};

static void collect_slot(struct nm_ctlslot *s, void *ctx)
{
	struct evac_collect *c = ctx;
	if (c->n < c->cap && !nm_evac_has(c->m->evac, s->id))
		c->c[c->n++] = (struct evac_cand){ .origin = s->id, .lcore = s->lcore };
}

static int cand_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct evac_cand *)a)->lcore, y = ((const struct evac_cand *)b)->lcore;
	return x < y ? -1 : x > y;
}

/* Runs where the daemon's process() runs (its worker lcore, or here). */
static uint32_t read_requirements(void *queue, struct nm_daemon *d)
{
	if (d->ops->requirements != NULL)
		d->ops->requirements(d, queue);
	return 1;
}

static int batch_room(struct nm_meshos *m, size_t n);

/* Every daemon's requirements, one control request per owner lcore and PUMP_CHUNK daemons. */
static void fetch_requirements(struct nm_meshos *m, struct evac_cand *c, size_t n)
{
	qsort(c, n, sizeof(*c), cand_cmp);
	if (batch_room(m, n) < 0)
		return; /* requirements unknown: placed as "run anywhere"; the peer's factory decides */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && c[j].lcore == c[i].lcore && j - i < PUMP_CHUNK; j++)
			m->batch[j - i] = (struct nm_exec_control){ .origin = c[j].origin,
								    .queue = &c[j].req };
		if (nm_runtime_control(m->rt, c[i].lcore, m->batch, (uint32_t)(j - i),
				       read_requirements, NULL) < 0)
			nm_meshos_count(&m->n.pump_errors, 1);
	}
}

/* Add the daemons on this node that the evacuation does not have yet. */
static void evac_collect(struct nm_meshos *m)
{
	struct evac_collect c = { .m = m, .cap = nm_ctlrouter_count(&m->router) + 16 };
	c.c = calloc(c.cap, sizeof(*c.c));
	if (c.c == NULL)
		return; /* the next tick collects again */
	nm_ctlrouter_foreach(&m->router, collect_slot, &c);
	fetch_requirements(m, c.c, c.n);
	for (size_t i = 0; i < c.n; i++)
		if (nm_evac_add(m->evac, c.c[i].origin, &c.c[i].req) < 0)
			break; /* no memory: the next tick collects again */
	free(c.c);
}

/*
 * This node's state changed from prev to cur. An evacuating node (one with a
 * migrator) takes new work only outside Entering, Maintenance and
 * DrainFailed; without one, registration stays open as upstream's. The
 * evacuation begins on entering Entering and ends on leaving it.
 */
static void evac_edge(struct nm_meshos *m, enum nm_maint_kind prev, enum nm_maint_kind cur)
{
	bool accept = m->evac == NULL || cur == NM_MAINT_ACTIVE || cur == NM_MAINT_EXITING ||
		      cur == NM_MAINT_RECOVERY;
	if (accept != atomic_load(&m->accepting)) {
		atomic_store(&m->accepting, accept);
		if (m->cfg.migrator.accept != NULL)
			m->cfg.migrator.accept(m->cfg.migrator.ctx, accept);
	}
	if (m->evac == NULL || prev == cur)
		return;
	if (cur == NM_MAINT_ENTERING) {
		nm_evac_begin(m->evac);
		m->evac_kicked = false;
		evac_collect(m);
	} else if (prev == NM_MAINT_ENTERING) {
		nm_evac_end(m->evac);
	}
}

/*
 * After every change of this node's state: send the control event the edge
 * calls for to every daemon, synchronously (upstream's emit_maintenance_transitions).
 */
static void emit_edges(struct nm_meshos *m, uint64_t now_ms)
{
	enum nm_maint_kind prev = m->last_kind, cur = m->maint.kind;
	uint32_t kind = nm_maint_edge_control(prev, cur);
	m->last_kind = cur;
	if (kind != NM_CONTROL_NONE) {
		struct nm_mesh_control c = { .kind = kind };
		if (kind == NM_CONTROL_DRAIN_START)
			c.deadline_ms = m->maint.has_deadline ? m->maint.deadline_ms
							      : now_ms + m->cfg.drain_deadline_ms;
		nm_ctlrouter_emit(&m->router, &c, now_ms);
		nm_meshos_count(&m->n.control_broadcasts, 1);
	}
	evac_edge(m, prev, cur); /* after DrainStart went out */
}

static void commit(struct nm_meshos *m, const struct nm_maint_state *next, uint64_t now_ms)
{
	if (!nm_maint_apply(&m->maint, next)) {
		nm_meshos_count(&m->n.transitions_rejected, 1);
		return;
	}
	nm_meshos_count(&m->n.transitions_committed, 1);
	emit_edges(m, now_ms);
}

static void apply_enter(struct nm_meshos *m, const struct nm_meshos_event *ev, uint64_t now_ms)
{
	mirror_set(m, ev->node, NM_MAINT_ENTERING);
	if (ev->node != m->node_id)
		return;
	uint64_t drain = ev->drain_for_ms ? ev->drain_for_ms : m->cfg.drain_deadline_ms;
	nm_maint_enter(&m->maint, now_ms, drain);
	nm_meshos_count(&m->n.transitions_committed, 1);
	emit_edges(m, now_ms);
}

static void apply_exit(struct nm_meshos *m, const struct nm_meshos_event *ev, uint64_t now_ms)
{
	mirror_set(m, ev->node, NM_MAINT_EXITING);
	if (ev->node != m->node_id || !nm_maint_exit(&m->maint, now_ms))
		return;
	nm_meshos_count(&m->n.transitions_committed, 1);
	emit_edges(m, now_ms);
}

static void apply_transition(struct nm_meshos *m, const struct nm_meshos_event *ev, uint64_t now_ms)
{
	/* The mirror follows even when the local state refuses the move (upstream). */
	mirror_set(m, ev->node, ev->state.kind);
	if (ev->node == m->node_id)
		commit(m, &ev->state, now_ms);
}

/* ---- daemon signals, intents, logs ---- */

static void apply_signal(struct nm_meshos *m, const struct nm_meshos_event *ev)
{
	struct nm_ctlslot *s = nm_ctlrouter_get(&m->router, ev->daemon);
	if (s == NULL)
		return; /* not registered (any more) */
	switch (ev->arg) {
	case NM_MESHOS_SIG_EXITED:
	case NM_MESHOS_SIG_CRASHED:
		s->lifecycle = NM_CTL_STOPPED;
		break;
	case NM_MESHOS_SIG_STARTED:
		s->lifecycle = NM_CTL_RUNNING;
		break;
	case NM_MESHOS_SIG_HEALTH:
		s->health = ev->health == NM_MESHOS_HEALTHY    ? NM_CTL_HEALTHY
			    : ev->health == NM_MESHOS_DEGRADED ? NM_CTL_DEGRADED
							       : NM_CTL_UNHEALTHY;
		break;
	case NM_MESHOS_SIG_SATURATION:
		s->saturation = ev->saturation;
		break;
	default:
		break;
	}
	nm_ctlslot_put(s);
}

static void apply_intent(struct nm_meshos *m, const struct nm_meshos_event *ev)
{
	struct nm_ctlslot *s = nm_ctlrouter_get(&m->router, ev->daemon);
	if (s == NULL)
		return;
	s->intent = ev->arg == NM_MESHOS_INTENT_STOP ? NM_CTL_INTENT_STOP : NM_CTL_INTENT_RUN;
	if (s->intent == NM_CTL_INTENT_RUN)
		s->stop_sent = false;
	nm_ctlslot_put(s);
}

/* Stamped when the loop takes it (upstream record_log_line). */
static void apply_log(struct nm_meshos *m, const struct nm_meshos_event *ev)
{
	struct nm_log_record r = {
		.ts_ms = nm_wall_ns() / 1000000ULL,
		.node_id = m->node_id,
		.daemon_id = ev->has_daemon ? ev->daemon : 0,
		.has_daemon = ev->has_daemon,
		.level = ev->arg,
	};
	memcpy(r.message, ev->message, sizeof(r.message));
	nm_logring_push(&m->logs, &r);
}

static void apply(struct nm_meshos *m, const struct nm_meshos_event *ev, uint64_t now_ms)
{
	switch (ev->kind) {
	case NM_MESHOS_EV_ENTER_MAINTENANCE:
		apply_enter(m, ev, now_ms);
		break;
	case NM_MESHOS_EV_EXIT_MAINTENANCE:
		apply_exit(m, ev, now_ms);
		break;
	case NM_MESHOS_EV_TRANSITION:
		apply_transition(m, ev, now_ms);
		break;
	case NM_MESHOS_EV_DAEMON_SIGNAL:
		apply_signal(m, ev);
		break;
	case NM_MESHOS_EV_DAEMON_INTENT:
		apply_intent(m, ev);
		break;
	case NM_MESHOS_EV_LOG:
		apply_log(m, ev);
		break;
	default:
		break;
	}
	nm_meshos_count(&m->n.events_applied, 1);
}

static unsigned drain_events(struct nm_meshos *m, uint64_t now_ms, unsigned max)
{
	struct nm_meshos_event ev;
	unsigned n = 0;
	while (n < max && nm_bq_pop(m->events, &ev) == 0) {
		apply(m, &ev, now_ms);
		n++;
	}
	return n;
}

/* ---- reconcile ---- */

struct scan {
	struct nm_meshos *m;
	uint64_t now_ms;
	struct nm_maint_facts facts;
};

static struct nm_meshos_action *emit(struct nm_meshos *m, uint32_t kind)
{
	if (m->n_actions == m->cfg.action_queue) {
		nm_meshos_count(&m->n.actions_dropped, 1);
		return NULL;
	}
	struct nm_meshos_action *a = &m->actions[m->n_actions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->id = m->next_action_id++;
	nm_meshos_count(&m->n.actions_emitted, 1);
	return a;
}

/*
 * One daemon: its part of the facts, and StopDaemon for a Stop intent while it
 * runs. Emitted once per intent (upstream re-emits every tick until the
 * daemon exits, which fills its channel with repeated Shutdowns).
 */
static void scan_daemon(struct nm_ctlslot *s, void *ctx)
{
	struct scan *sc = ctx;
	bool running = s->lifecycle == NM_CTL_RUNNING;
	if (running)
		sc->facts.all_stopped = false;
	if (!running || (s->health != NM_CTL_HEALTH_UNKNOWN && s->health != NM_CTL_HEALTHY))
		sc->facts.all_running_healthy = false;
	if (s->intent != NM_CTL_INTENT_STOP || !running || s->stop_sent)
		return;
	struct nm_meshos_action *a = emit(sc->m, NM_MESHOS_ACT_STOP_DAEMON);
	if (a == NULL)
		return;
	s->stop_sent = true;
	a->daemon = s->id;
	a->deadline_ms = sc->now_ms + NM_MESHOS_STOP_GRACE_MS;
	snprintf(a->reason, sizeof(a->reason), "desired-state intent: Stop");
}

static void reconcile(struct nm_meshos *m, uint64_t now_ms)
{
	struct scan sc = { .m = m, .now_ms = now_ms,
			   .facts = { .all_stopped = true, .all_running_healthy = true,
				      .ramp_window_ms = m->cfg.ramp_window_ms } };
	m->n_actions = 0;
	nm_ctlrouter_foreach(&m->router, scan_daemon, &sc);
	struct nm_maint_state next;
	if (nm_maint_reconcile(&m->maint, now_ms, &sc.facts, &next)) {
		struct nm_meshos_action *a = emit(m, NM_MESHOS_ACT_COMMIT_MAINTENANCE);
		if (a != NULL) {
			a->node = m->node_id;
			a->target = next;
		}
	}
}

int nm_meshos_translate(struct nm_ctlrouter *r, const struct nm_meshos_action *a, uint64_t now_ms)
{
	if (a->kind != NM_MESHOS_ACT_STOP_DAEMON)
		return 0;
	struct nm_mesh_control mc = { .kind = NM_CONTROL_SHUTDOWN, .deadline_ms = a->deadline_ms };
	struct nm_daemon_control c = nm_control_at(&mc, now_ms);
	return nm_ctlrouter_route(r, a->daemon, &c);
}

/* Act on each action ourselves (commit, or route Shutdown), then tell the dispatcher. */
static void execute(struct nm_meshos *m, uint64_t now_ms)
{
	for (uint32_t i = 0; i < m->n_actions; i++) {
		const struct nm_meshos_action *a = &m->actions[i];
		if (a->kind == NM_MESHOS_ACT_COMMIT_MAINTENANCE)
			commit(m, &a->target, now_ms);
		else
			nm_meshos_translate(&m->router, a, now_ms);
		if (m->disp.dispatch != NULL && m->disp.dispatch(m->disp.ctx, a) < 0)
			nm_meshos_count(&m->n.actions_failed, 1);
	}
	m->n_actions = 0;
}

/* ---- peers and the published state ---- */

static int peer_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct nm_meshos_peer *)a)->node_id;
	uint64_t y = ((const struct nm_meshos_peer *)b)->node_id;
	return x < y ? -1 : x > y;
}

static bool peer_listed(const struct nm_meshos_peer *p, uint32_t n, uint64_t node)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i].node_id == node)
			return true;
	return false;
}

/* Probe peers, plus nodes known only from maintenance events (upstream's union). */
static uint32_t gather_peers(struct nm_meshos *m, struct nm_meshos_peer *p)
{
	uint32_t n = 0;
	if (m->cfg.probes.peers != NULL)
		n = m->cfg.probes.peers(m->cfg.probes.ctx, p, NM_MESHOS_MAX_PEERS);
	if (n > NM_MESHOS_MAX_PEERS)
		n = NM_MESHOS_MAX_PEERS;
	for (size_t i = 0; i <= m->mirror.mask && n < NM_MESHOS_MAX_PEERS; i++)
		if (m->mirror.slots[i].val != NULL && !peer_listed(p, n, m->mirror.slots[i].key))
			p[n++] = (struct nm_meshos_peer){ .node_id = m->mirror.slots[i].key };
	for (uint32_t i = 0; i < n; i++) {
		uintptr_t k = (uintptr_t)nm_u64map_get(&m->mirror, p[i].node_id);
		p[i].has_maintenance = k != 0;
		p[i].maintenance = k != 0 ? (enum nm_maint_kind)(k - 1) : NM_MAINT_ACTIVE;
	}
	qsort(p, n, sizeof(*p), peer_cmp);
	return n;
}

static void publish_state(struct nm_meshos *m, uint64_t now_ms)
{
	struct nm_meshos_peer peers[NM_MESHOS_MAX_PEERS];
	uint32_t n = gather_peers(m, peers);
	pthread_mutex_lock(&m->pub_lock);
	m->status.last_tick_ms = now_ms;
	m->status.state = m->maint;
	nm_maint_view_of(&m->maint, now_ms, &m->status.view);
	struct nm_evac_stats es;
	nm_evac_stats(m->evac, &es);
	m->status.accepting = atomic_load(&m->accepting);
	m->status.evacuating = es.active;
	m->status.evac_failed = !es.active && es.left > 0;
	m->status.evac_left = es.left;
	memcpy(m->peers, peers, n * sizeof(peers[0]));
	m->n_peers = n;
	pthread_mutex_unlock(&m->pub_lock);
	nm_logring_publish(&m->logs);
}

static void tick(struct nm_meshos *m, uint64_t now_ms)
{
	nm_meshos_count(&m->n.ticks, 1);
	if (m->evac != NULL && m->maint.kind == NM_MAINT_ENTERING)
		evac_collect(m); /* daemons that arrived since (spawns raced the state change) */
	reconcile(m, now_ms);
	execute(m, now_ms);
	publish_state(m, now_ms);
}

/* ---- backpressure ---- */

static void backpressure_edge(struct nm_meshos *m, bool on, float level, uint64_t now_ms)
{
	m->bp_on = on;
	nm_meshos_count(on ? &m->n.bp_asserts : &m->n.bp_releases, 1);
	struct nm_mesh_control c = { .kind = on ? NM_CONTROL_BACKPRESSURE_ON
					       : NM_CONTROL_BACKPRESSURE_OFF,
				     .level = level };
	nm_ctlrouter_emit(&m->router, &c, now_ms);
	nm_meshos_count(&m->n.control_broadcasts, 1);
	if (m->disp.on_backpressure != NULL)
		m->disp.on_backpressure(m->disp.ctx, on, level);
}

/* Hysteresis: assert at >= high, release at <= low, hold in between. */
static void sample_backpressure(struct nm_meshos *m, uint64_t now_ms)
{
	float level = m->cfg.probes.load != NULL ? m->cfg.probes.load(m->cfg.probes.ctx) : 0.0f;
	level = level < 0.0f ? 0.0f : level > 1.0f ? 1.0f : level;
	if (!m->bp_on && level >= m->cfg.backpressure_high)
		backpressure_edge(m, true, level, now_ms);
	else if (m->bp_on && level <= m->cfg.backpressure_low)
		backpressure_edge(m, false, level, now_ms);
	pthread_mutex_lock(&m->pub_lock);
	m->status.level = level;
	m->status.backpressure = m->bp_on;
	pthread_mutex_unlock(&m->pub_lock);
}

/* ---- the on_control pump ---- */

static int batch_room(struct nm_meshos *m, size_t n)
{
	if (n <= m->batch_cap)
		return 0;
	void *p = realloc(m->batch, n * sizeof(*m->batch));
	if (p == NULL)
		return -ENOMEM;
	m->batch = p;
	m->batch_cap = n;
	return 0;
}

/* One owner lcore's daemons, in requests of up to PUMP_CHUNK daemons. */
static void pump_lcore(struct nm_meshos *m, uint32_t lcore, struct nm_exec_control *b, size_t n,
		       uint64_t *delivered)
{
	for (size_t i = 0; i < n; i += PUMP_CHUNK) {
		uint32_t k = (uint32_t)(n - i < PUMP_CHUNK ? n - i : PUMP_CHUNK);
		nm_meshos_count(&m->n.control_batches, 1);
		if (nm_runtime_control(m->rt, lcore, b + i, k, nm_ctlslot_drain, delivered) < 0)
			nm_meshos_count(&m->n.pump_errors, 1);
	}
}

/* Waiting events of on_control daemons: one batch per owner lcore. */
static unsigned pump(struct nm_meshos *m)
{
	int n = nm_ctlrouter_collect(&m->router, &m->pend, &m->pend_cap);
	if (n <= 0)
		return 0;
	uint64_t delivered = 0;
	if (batch_room(m, (size_t)n) == 0) {
		for (int i = 0; i < n; i++)
			m->batch[i] = (struct nm_exec_control){ .origin = m->pend[i].slot->id,
								.queue = m->pend[i].slot };
		for (int i = 0, j; i < n; i = j) {
			for (j = i; j < n && m->pend[j].lcore == m->pend[i].lcore; j++)
				;
			pump_lcore(m, m->pend[i].lcore, m->batch + i, (size_t)(j - i), &delivered);
		}
	} else {
		nm_meshos_count(&m->n.pump_errors, 1);
	}
	for (int i = 0; i < n; i++)
		nm_ctlslot_put(m->pend[i].slot);
	nm_meshos_count(&m->n.control_delivered, delivered);
	return (unsigned)delivered;
}

void nm_meshos_deliver_now(struct nm_meshos *m, struct nm_ctlslot *s)
{
	struct nm_exec_control one = { .origin = s->id, .queue = s };
	uint64_t delivered = 0;
	nm_meshos_count(&m->n.control_batches, 1);
	if (nm_runtime_control(m->rt, s->lcore, &one, 1, nm_ctlslot_drain, &delivered) < 0)
		nm_meshos_count(&m->n.pump_errors, 1);
	nm_meshos_count(&m->n.control_delivered, delivered);
}

/* ---- the step ---- */

/* Drive the evacuation; once it has settled, reconcile at once (DrainFinish without a tick's wait). */
static unsigned evac_poll(struct nm_meshos *m, uint64_t now_ms)
{
	if (m->evac == NULL || m->maint.kind != NM_MAINT_ENTERING)
		return 0;
	if (!nm_evac_step(m->evac, now_ms) || m->evac_kicked)
		return 0;
	m->evac_kicked = true;
	tick(m, now_ms);
	m->next_tick_ms = now_ms + m->cfg.tick_ms;
	return 1;
}

unsigned nm_meshos_poll(struct nm_meshos *m, uint64_t now_ms)
{
	if (atomic_load_explicit(&m->closed, memory_order_acquire)) {
		if (m->drained)
			return 0;
		/* What was published before the shutdown still lands (upstream: in-band Shutdown). */
		unsigned n = drain_events(m, now_ms, UINT32_MAX);
		publish_state(m, now_ms);
		m->drained = true;
		return n;
	}
	unsigned n = 0;
	if (!m->started) {
		m->started = true;
		m->next_tick_ms = now_ms + m->cfg.tick_ms;
		m->next_bp_ms = now_ms;
	}
	if (now_ms >= m->next_tick_ms) {
		tick(m, now_ms);
		m->next_tick_ms = now_ms + m->cfg.tick_ms; /* late ticks delay, never burst */
		n++;
	}
	n += drain_events(m, now_ms, EVENTS_PER_POLL);
	if (now_ms >= m->next_bp_ms) {
		sample_backpressure(m, now_ms);
		m->next_bp_ms = now_ms + m->cfg.backpressure_ms;
	}
	n += pump(m);
	return n + evac_poll(m, now_ms);
}

/* ---- reading ---- */

uint64_t nm_meshos_node_id(const struct nm_meshos *m)
{
	return m->node_id;
}

void nm_meshos_stats(struct nm_meshos *m, struct nm_meshos_stats *o)
{
	const struct nm_meshos_counters *c = &m->n;
	memset(o, 0, sizeof(*o));
	o->ticks = atomic_load(&c->ticks);
	o->events_applied = atomic_load(&c->events_applied);
	o->events_refused = atomic_load(&c->events_refused);
	o->actions_emitted = atomic_load(&c->actions_emitted);
	o->actions_dropped = atomic_load(&c->actions_dropped);
	o->actions_failed = atomic_load(&c->actions_failed);
	o->transitions_committed = atomic_load(&c->transitions_committed);
	o->transitions_rejected = atomic_load(&c->transitions_rejected);
	o->control_broadcasts = atomic_load(&c->control_broadcasts);
	o->control_routed = atomic_load(&m->router.routed);
	o->control_dropped = nm_ctlrouter_dropped(&m->router);
	o->control_delivered = atomic_load(&c->control_delivered);
	o->control_batches = atomic_load(&c->control_batches);
	o->pump_errors = atomic_load(&c->pump_errors);
	o->backpressure_asserts = atomic_load(&c->bp_asserts);
	o->backpressure_releases = atomic_load(&c->bp_releases);
	o->capability_sets = nm_capindex_count(&m->caps);
	o->capability_publishes = nm_capindex_publishes(&m->caps);
	o->logs = nm_logring_last(&m->logs);
	o->daemons = nm_ctlrouter_count(&m->router);
	nm_evac_stats(m->evac, &o->evac);
}

bool nm_meshos_accepts_work(struct nm_meshos *m)
{
	return m != NULL && atomic_load(&m->accepting);
}

void nm_meshos_status(struct nm_meshos *m, struct nm_meshos_status *out)
{
	pthread_mutex_lock(&m->pub_lock);
	*out = m->status;
	pthread_mutex_unlock(&m->pub_lock);
}

uint32_t nm_meshos_peers(struct nm_meshos *m, struct nm_meshos_peer *out, uint32_t max)
{
	pthread_mutex_lock(&m->pub_lock);
	uint32_t n = m->n_peers < max ? m->n_peers : max;
	memcpy(out, m->peers, n * sizeof(*out));
	pthread_mutex_unlock(&m->pub_lock);
	return n;
}

uint32_t nm_meshos_logs(struct nm_meshos *m, uint64_t after_seq, struct nm_log_record *out,
			uint32_t max)
{
	return nm_logring_read(&m->logs, after_seq, out, max);
}

int nm_meshos_capabilities(struct nm_meshos *m, uint64_t daemon, struct nm_capability_set *out)
{
	return nm_capindex_get(&m->caps, daemon, out) ? 0 : -ENOENT;
}

size_t nm_meshos_capable(struct nm_meshos *m, const struct nm_capability_filter *filter,
			 uint64_t *ids, size_t max)
{
	return nm_capindex_query(&m->caps, filter, ids, max);
}

uint64_t nm_meshos_dropped_control_events(struct nm_meshos *m)
{
	return nm_ctlrouter_dropped(&m->router);
}

int nm_meshos_route(struct nm_meshos *m, uint64_t daemon, const struct nm_daemon_control *c)
{
	if (m == NULL || c == NULL)
		return -EINVAL;
	return nm_ctlrouter_route(&m->router, daemon, c);
}

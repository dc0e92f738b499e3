/* SPDX-License-Identifier: MIT */
/* nm_dataplane.c - workers, tables and the runtime executor (see header). */
#include "nm_dataplane.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "nm_host.h"
#include "nm_log.h"
#include "nm_mesh.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_le.h"
#include "nm_wire.h"

/* ---- applying a change to every worker ---- */

/* Run one control message on a worker: by message, or ourselves when it is stopped. */
static int worker_call(struct nm_worker *w, uint32_t op, uint64_t key, void *arg)
{
	int rc = 0;
	atomic_fetch_add_explicit(&w->dp->ctl_requests, 1, memory_order_relaxed);
	int sent = nm_ctl_call(&w->ctl, op, key, arg, &rc);
	if (sent == -ESRCH) {
		struct nm_ctl_msg m = { .op = op, .key = key, .arg = arg };
		return nm_worker_handle(w, &m);
	}
	return sent < 0 ? sent : rc;
}

/* Apply to every worker; on the first failure undo on those already done. */
static int all_workers(struct nm_dataplane *dp, uint32_t op, uint32_t undo_op, uint64_t key,
		       void *arg)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		int rc = worker_call(dp->workers[i], op, key, arg);
		if (rc < 0) {
			while (i-- > 0)
				worker_call(dp->workers[i], undo_op, key, arg);
			return rc;
		}
	}
	return 0;
}

/* ---- the runtime's executor: daemons pinned on worker lcores ---- */

static bool exec_has_lcore(void *ctx, uint32_t lcore)
{
	struct nm_dataplane *dp = ctx;
	return lcore < RTE_MAX_LCORE && dp->by_lcore[lcore] != NULL;
}

/* A restored daemon takes its stub's place, and its hold, on every worker in one step. */
static int attach_over_stub(struct nm_dataplane *dp, struct nm_dp_daemon *d,
			    struct nm_dp_daemon *stub)
{
	d->hold = stub->hold;
	pthread_mutex_lock(&dp->lock);
	int rc = nm_u64map_insert(&dp->daemons, d->origin, d);
	if (rc == 0)
		nm_u64map_remove(&dp->stubs, d->origin);
	pthread_mutex_unlock(&dp->lock);
	if (rc < 0) {
		rte_free(d);
		return rc;
	}
	for (unsigned i = 0; i < dp->n_workers; i++)
		worker_call(dp->workers[i], NM_CTL_ROUTE_REPLACE, d->origin, d);
	rte_free(stub); /* no worker refers to it any more */
	return 0;
}

static int exec_attach(struct nm_dataplane *dp, struct nm_exec_req *req)
{
	struct nm_host *h = req->host;
	struct nm_dp_daemon *d = rte_zmalloc("nm_dp_daemon", sizeof(*d), RTE_CACHE_LINE_SIZE);
	if (d == NULL)
		return nm_error_set(req->err, -ENOMEM, "dataplane: out of memory");
	d->origin = nm_host_origin(h);
	d->lcore = h->config.lcore;
	d->host = h;
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *stub = nm_u64map_get(&dp->stubs, d->origin);
	pthread_mutex_unlock(&dp->lock);
	/* A live stub, or a target's waiting for this attach (nm_dataplane_mig_stub_at_attach). */
	if (stub != NULL && (stub->stub_live || stub->hold->target))
		return attach_over_stub(dp, d, stub);
	int rc = all_workers(dp, NM_CTL_ROUTE_ADD, NM_CTL_ROUTE_DEL, d->origin, d);
	if (rc == 0) {
		pthread_mutex_lock(&dp->lock);
		rc = nm_u64map_insert(&dp->daemons, d->origin, d);
		pthread_mutex_unlock(&dp->lock);
		if (rc < 0)
			all_workers(dp, NM_CTL_ROUTE_DEL, NM_CTL_ROUTE_DEL, d->origin, d);
	}
	if (rc < 0) {
		rte_free(d);
		return nm_error_set(req->err, rc == -EEXIST ? NM_EPROCESS_FAILED : rc,
				    "daemon 0x%" PRIx64 " already registered on the dataplane",
				    nm_host_origin(h));
	}
	return 0;
}

static int exec_detach(struct nm_dataplane *dp, struct nm_exec_req *req)
{
	uint64_t origin = nm_host_origin(req->host);
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *d = nm_u64map_remove(&dp->daemons, origin);
	struct nm_dp_daemon *stub = nm_u64map_get(&dp->stubs, origin);
	if (stub != NULL)
		stub->stub_live = true;
	pthread_mutex_unlock(&dp->lock);
	/* A daemon that moved away leaves its stub in the same step: no event falls between. */
	for (unsigned i = 0; i < dp->n_workers; i++)
		worker_call(dp->workers[i], stub != NULL ? NM_CTL_ROUTE_REPLACE : NM_CTL_ROUTE_DEL,
			    origin, stub);
	rte_free(d); /* no worker refers to it any more */
	return 0;
}

static int exec_call(void *ctx, uint32_t lcore, struct nm_exec_req *req)
{
	struct nm_dataplane *dp = ctx;
	struct nm_worker *w = exec_has_lcore(dp, lcore) ? dp->by_lcore[lcore] : NULL;
	if (w == NULL)
		return nm_error_set(req->err, -EINVAL, "no dataplane worker on lcore %u", lcore);
	switch (req->op) {
	case NM_EXEC_ATTACH:
		return exec_attach(dp, req);
	case NM_EXEC_DETACH:
		return exec_detach(dp, req);
	default:
		return worker_call(w, NM_CTL_EXEC, 0, req);
	}
}

/* ---- construction ---- */

static int pick_lcores(const struct nm_dataplane_config *cfg, unsigned *lcores,
		       struct nm_error *err)
{
	unsigned n = 0, lc;
	if (cfg->lcores != NULL) {
		for (n = 0; n < cfg->n_workers; n++) {
			lc = cfg->lcores[n];
			if (lc >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore())
				return nm_error_set(err, -EINVAL,
						    "lcore %u is not an EAL worker lcore (see -l/--lcores)", lc);
			lcores[n] = lc;
		}
		return 0;
	}
	RTE_LCORE_FOREACH_WORKER(lc)
	{
		if (n == cfg->n_workers)
			break;
		lcores[n++] = lc;
	}
	if (n < cfg->n_workers)
		return nm_error_set(err, -EINVAL, "%u workers need %u EAL worker lcores, EAL has %u",
				    cfg->n_workers, cfg->n_workers, n);
	return 0;
}

static int make_workers(struct nm_dataplane *dp, const unsigned *lcores, struct nm_error *err)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct nm_worker *w = rte_zmalloc_socket("nm_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
							 (int)rte_lcore_to_socket_id(lcores[i]));
		if (w == NULL)
			return nm_error_set(err, -ENOMEM, "worker %u: out of memory", i);
		dp->workers[i] = w;
		dp->by_lcore[lcores[i]] = w;
		int rc = nm_worker_init(w, dp, i, lcores[i]);
		if (rc < 0)
			return nm_error_set(err, rc, "worker %u on lcore %u: %s", i, lcores[i],
					    strerror(-rc));
	}
	return 0;
}

int nm_dataplane_create(const struct nm_dataplane_config *cfg, struct nm_dataplane **out,
			struct nm_error *err)
{
	if (cfg == NULL || cfg->mesh == NULL || out == NULL || cfg->ip == 0)
		return nm_error_set(err, -EINVAL, "dataplane: mesh, IPv4 address and out are required");
	struct nm_dataplane_config c = *cfg;
	if (c.n_workers == 0)
		c.n_workers = 1;
	if (c.udp_port == 0)
		c.udp_port = NM_NET_DEFAULT_PORT;
	if (c.n_workers > NM_PORT_MAX_QUEUES)
		return nm_error_set(err, -EINVAL, "dataplane: at most %d workers", NM_PORT_MAX_QUEUES);
	if (c.mtu == 0)
		c.mtu = 1500;
	if (c.mtu < NM_FRAG_MIN_MTU)
		return nm_error_set(err, -EINVAL, "dataplane: MTU %u is below %d", c.mtu,
				    NM_FRAG_MIN_MTU);
	if (c.frag_entries == 0)
		c.frag_entries = NM_FRAG_DEFAULT_ENTRIES;
	if (c.frag_entries > NM_FRAG_MAX_ENTRIES)
		return nm_error_set(err, -EINVAL, "dataplane: at most %d reassembly entries",
				    NM_FRAG_MAX_ENTRIES);
	if (c.burst == 0)
		c.burst = NM_BURST;
	if (c.burst > NM_BURST)
		return nm_error_set(err, -EINVAL, "dataplane: burst %u, at most %d", c.burst, NM_BURST);
	unsigned lcores[NM_PORT_MAX_QUEUES];
	int rc = pick_lcores(&c, lcores, err);
	if (rc < 0)
		return rc;

	struct nm_dataplane *dp = rte_zmalloc("nm_dataplane", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL)
		return nm_error_set(err, -ENOMEM, "dataplane: out of memory");
	dp->mesh = c.mesh;
	dp->rt = c.rt;
	dp->ip = c.ip;
	dp->udp_port = c.udp_port;
	dp->n_workers = c.n_workers;
	dp->frag_entries = c.frag_entries;
	dp->frag_timeout_ns = c.frag_timeout_ms != 0 ? c.frag_timeout_ms * 1000000ULL
						     : NM_FRAG_DEFAULT_TIMEOUT_NS;
	atomic_init(&dp->frag_ip_id, 0);
	dp->burst = c.burst;
	pthread_mutex_init(&dp->lock, NULL);
	if (nm_u64map_init(&dp->sessions, 256) < 0 || nm_u64map_init(&dp->daemons, 1024) < 0 ||
	    nm_u64map_init(&dp->stubs, 64) < 0) {
		rc = nm_error_set(err, -ENOMEM, "dataplane: out of memory");
		goto fail;
	}
	struct nm_port_config pc = { .port_id = nm_mesh_port_id(c.mesh), .n_queues = c.n_workers,
				     .mtu = c.mtu, .n_mbufs = c.n_mbufs, .rx_desc = c.rx_desc,
				     .tx_desc = c.tx_desc };
	if ((rc = nm_port_init(&dp->port, &pc, err)) < 0)
		goto fail;
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "nm_slow_p%u", dp->port.port_id);
	dp->slowpath = rte_ring_create(name, 1024, (int)rte_socket_id(), RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "nm_mig_p%u", dp->port.port_id);
	dp->mig_rx = rte_ring_create(name, 4096, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (dp->slowpath == NULL || dp->mig_rx == NULL) {
		rc = nm_error_set(err, -ENOMEM, "dataplane: slow-path rings");
		goto fail;
	}
	if ((rc = make_workers(dp, lcores, err)) < 0)
		goto fail;
	for (unsigned i = 0; i < dp->n_workers; i++)
		dp->workers[i]->idle_sleep_us = c.idle_sleep_us;
	dp->exec = (struct nm_executor){ .ctx = dp, .has_lcore = exec_has_lcore, .call = exec_call };
	if (dp->rt != NULL)
		nm_runtime_set_executor(dp->rt, &dp->exec);
	*out = dp;
	return 0;
fail:
	nm_dataplane_destroy(dp);
	return rc;
}

int nm_dataplane_start(struct nm_dataplane *dp, struct nm_error *err)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct nm_worker *w = dp->workers[i];
		atomic_store(&w->stop, false);
		/* Serving before launch returns, so no request can slip past a late start. */
		nm_ctl_set_running(&w->ctl, true);
		int rc = rte_eal_remote_launch(nm_worker_main, w, w->lcore);
		if (rc < 0) {
			nm_ctl_set_running(&w->ctl, false);
			nm_dataplane_stop(dp);
			return nm_error_set(err, rc, "cannot launch worker on lcore %u: %s", w->lcore,
					    strerror(-rc));
		}
		nm_log(NM_LT_DATAPLANE, NM_LV_DEBUG, "worker %u: launched on lcore %u (queue %u)", i,
		       w->lcore, i);
	}
	dp->launched = true;
	nm_log(NM_LT_DATAPLANE, NM_LV_INFO, "%u worker(s) running", dp->n_workers);
	return 0;
}

void nm_dataplane_stop(struct nm_dataplane *dp)
{
	for (unsigned i = 0; i < dp->n_workers; i++)
		if (dp->workers[i] != NULL)
			atomic_store(&dp->workers[i]->stop, true);
	for (unsigned i = 0; i < dp->n_workers; i++)
		if (dp->workers[i] != NULL && rte_eal_get_lcore_state(dp->workers[i]->lcore) != WAIT)
			rte_eal_wait_lcore(dp->workers[i]->lcore);
	if (dp->launched)
		nm_log(NM_LT_DATAPLANE, NM_LV_INFO, "%u worker(s) stopped", dp->n_workers);
	dp->launched = false;
}

void nm_dataplane_destroy(struct nm_dataplane *dp)
{
	if (dp == NULL)
		return;
	nm_dataplane_stop(dp);
	if (dp->rt != NULL)
		nm_runtime_set_executor(dp->rt, NULL);
	nm_dataplane_poll_slowpath(dp);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		if (dp->workers[i] == NULL)
			continue;
		nm_worker_fini(dp->workers[i]);
		rte_free(dp->workers[i]);
	}
	rte_ring_free(dp->slowpath);
	struct rte_mbuf *m;
	while (dp->mig_rx != NULL && rte_ring_dequeue(dp->mig_rx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(dp->mig_rx);
	nm_port_fini(&dp->port);
	/* Sessions still installed die with the dataplane; daemons were detached already. */
	for (size_t i = 0; dp->sessions.slots != NULL && i <= dp->sessions.mask; i++)
		nm_session_free(dp->sessions.slots[i].val);
	nm_u64map_fini(&dp->sessions);
	nm_u64map_fini(&dp->daemons);
	for (size_t i = 0; dp->stubs.slots != NULL && i <= dp->stubs.mask; i++)
		rte_free(dp->stubs.slots[i].val);
	nm_u64map_fini(&dp->stubs);
	pthread_mutex_destroy(&dp->lock);
	rte_free(dp);
}

/* ---- tables ---- */

int nm_dataplane_peer_add(struct nm_dataplane *dp, uint32_t ip, uint16_t port,
			  const struct rte_ether_addr *mac, struct nm_error *err)
{
	int rc = nm_peer_add(&dp->peers, ip, port != 0 ? port : NM_NET_DEFAULT_PORT, mac);
	if (rc < 0)
		return nm_error_set(err, rc, "peer table: %s", rc == -ENOSPC ? "full" : "bad address");
	return rc;
}

int nm_dataplane_session_add(struct nm_dataplane *dp, const struct nm_session_params *p,
			     struct nm_error *err)
{
	if (p == NULL || p->session_id == 0 || p->peer >= dp->peers.n)
		return nm_error_set(err, -EINVAL, "session: non-zero id and a known peer are required");
	struct nm_session *s = nm_session_create(p);
	if (s == NULL)
		return nm_error_set(err, -ENOMEM, "session: out of memory");
	pthread_mutex_lock(&dp->lock);
	int rc = nm_u64map_insert(&dp->sessions, s->session_id, s);
	pthread_mutex_unlock(&dp->lock);
	if (rc == 0) {
		rc = all_workers(dp, NM_CTL_SESSION_ADD, NM_CTL_SESSION_DEL, s->session_id, s);
		if (rc < 0) {
			pthread_mutex_lock(&dp->lock);
			nm_u64map_remove(&dp->sessions, s->session_id);
			pthread_mutex_unlock(&dp->lock);
		}
	}
	if (rc < 0) {
		nm_session_free(s);
		return nm_error_set(err, rc, "session 0x%" PRIx64 ": %s", p->session_id,
				    rc == -EEXIST ? "already installed" : strerror(-rc));
	}
	return 0;
}

int nm_dataplane_session_del(struct nm_dataplane *dp, uint64_t session_id, struct nm_error *err)
{
	pthread_mutex_lock(&dp->lock);
	struct nm_session *s = nm_u64map_remove(&dp->sessions, session_id);
	pthread_mutex_unlock(&dp->lock);
	if (s == NULL)
		return nm_error_set(err, -ENOENT, "session 0x%" PRIx64 " is not installed", session_id);
	for (unsigned i = 0; i < dp->n_workers; i++)
		worker_call(dp->workers[i], NM_CTL_SESSION_DEL, session_id, NULL);
	/* Hand-offs in flight carry the id, not the pointer: freeing now is safe. */
	nm_session_free(s);
	return 0;
}

int nm_dataplane_route_outputs(struct nm_dataplane *dp, uint64_t origin, uint64_t session_id,
			       uint64_t stream, struct nm_error *err)
{
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *d = nm_u64map_get(&dp->daemons, origin);
	uint32_t lcore = d != NULL ? d->lcore : 0;
	pthread_mutex_unlock(&dp->lock);
	if (d == NULL)
		return nm_error_set(err, NM_ENOT_FOUND, "daemon not found: 0x%" PRIx64, origin);
	struct nm_dp_route r = { origin, session_id, stream };
	int rc = worker_call(dp->by_lcore[lcore], NM_CTL_OUTPUT_ROUTE, origin, &r);
	if (rc < 0)
		return nm_error_set(err, rc, "route for 0x%" PRIx64 ": session 0x%" PRIx64 " unknown",
				    origin, session_id);
	return 0;
}

int nm_dataplane_send(struct nm_dataplane *dp, struct rte_mbuf *m)
{
	if (rte_ring_mp_enqueue(dp->workers[0]->tx_in, m) != 0) {
		dp->ctl_stats.drops[NM_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

static int ctl_refuse(struct nm_dataplane *dp, enum nm_drop why, int rc)
{
	dp->ctl_stats.drops[why]++;
	return rc;
}

int nm_dataplane_send_udp(struct nm_dataplane *dp, uint16_t peer, const uint8_t *dgram,
			  size_t len)
{
	struct nm_pkt_endpoint self = { dp->port.mac, dp->ip, dp->udp_port }, dst;
	if (dgram == NULL || len > NM_NET_MAX_PACKET)
		return ctl_refuse(dp, NM_DROP_TX_TOO_LARGE, -EMSGSIZE);
	const struct nm_peer *p = peer < dp->peers.n ? &dp->peers.peers[peer] : NULL;
	/* The peer's reply address (docs/sessions.md, Addressing), like every other sender. */
	if (p == NULL || !nm_peer_endpoint(p, &dst))
		return ctl_refuse(dp, NM_DROP_NO_ROUTE, -EHOSTUNREACH);
	uint8_t frame[NM_FRAG_MAX_FRAME]; /* the control thread's stack, not a worker's */
	memcpy(frame + NM_PKT_DATA_OFF, dgram, len);
	nm_pkt_build_udp(frame, sizeof(frame), &self, &dst, nm_dataplane_frag_id(dp), len, 0);
	struct rte_mbuf *ms[NM_FRAG_MAX_FRAGS];
	int n = nm_frag_mbufs(frame, NM_PKT_DATA_OFF + len, dp->port.mtu, 0, dp->port.pool, ms,
			      NM_FRAG_MAX_FRAGS);
	if (n < 0)
		return n == -ENOBUFS ? ctl_refuse(dp, NM_DROP_NO_MBUF, n)
				     : ctl_refuse(dp, NM_DROP_TX_TOO_LARGE, -EMSGSIZE);
	if (rte_ring_mp_enqueue_bulk(dp->workers[0]->tx_in, (void **)ms, (unsigned)n, NULL) == 0) {
		rte_pktmbuf_free_bulk(ms, (unsigned)n);
		return ctl_refuse(dp, NM_DROP_TX_FULL, -ENOBUFS);
	}
	if (n > 1)
		dp->ctl_stats.frag_sent++;
	return 0;
}

struct nm_session *nm_dataplane_session_get(struct nm_dataplane *dp, uint64_t session_id)
{
	pthread_mutex_lock(&dp->lock);
	struct nm_session *s = nm_u64map_get(&dp->sessions, session_id);
	pthread_mutex_unlock(&dp->lock);
	return s;
}

unsigned nm_dataplane_worker_lcore(const struct nm_dataplane *dp, unsigned index)
{
	return index < dp->n_workers ? dp->workers[index]->lcore : RTE_MAX_LCORE;
}

void nm_dataplane_stats(const struct nm_dataplane *dp, struct nm_lcore_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < dp->n_workers; i++)
		nm_stats_add(sum, &dp->workers[i]->stats);
	nm_stats_add(sum, &dp->ctl_stats);
}

static float ring_fill(const struct rte_ring *r)
{
	unsigned cap = r != NULL ? rte_ring_get_capacity(r) : 0;
	return cap != 0 ? (float)rte_ring_count(r) / (float)cap : 0.0f;
}

static float max_level(float a, float b)
{
	return a > b ? a : b;
}

float nm_dataplane_load(const struct nm_dataplane *dp)
{
	float level = ring_fill(dp->slowpath);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		const struct nm_worker *w = dp->workers[i];
		level = max_level(level, ring_fill(w->evt_in));
		level = max_level(level, ring_fill(w->pkt_in));
		level = max_level(level, ring_fill(w->tx_in));
	}
	return level;
}

void nm_dataplane_set_slowpath(struct nm_dataplane *dp, nm_slowpath_fn fn, void *ctx)
{
	dp->slowpath_ctx = ctx;
	dp->slowpath_fn = fn;
}

unsigned nm_dataplane_poll_slowpath(struct nm_dataplane *dp)
{
	struct rte_mbuf *ms[NM_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(dp->slowpath, (void **)ms, NM_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (dp->slowpath_fn != NULL) {
			dp->slowpath_fn(dp->slowpath_ctx, ms[i]);
		} else {
			dp->ctl_stats.drops[NM_DROP_HANDSHAKE]++;
			rte_pktmbuf_free(ms[i]);
		}
	}
	return n;
}

/* ---- migration ---- */

/* One 0x0500 packet: its EventFrames, each one message. */
static void mig_packet(struct rte_mbuf *m, nm_dp_mig_fn fn, void *ctx)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t left = m->data_len;
	for (uint32_t i = 0; i < m->packet_type && left >= NM_NET_EVENT_HDR; i++) {
		uint32_t len = nm_get_le32(p);
		if (len > left - NM_NET_EVENT_HDR)
			break; /* the worker counted the packet; a short frame ends it */
		fn(ctx, (uint16_t)m->hash.usr, p + NM_NET_EVENT_HDR, len);
		p += NM_NET_EVENT_HDR + len;
		left -= NM_NET_EVENT_HDR + len;
	}
}

void nm_dataplane_set_migration(struct nm_dataplane *dp, nm_dp_mig_fn fn, void *ctx)
{
	dp->mig_ctx = ctx;
	dp->mig_fn = fn;
}

unsigned nm_dataplane_poll_migration(struct nm_dataplane *dp)
{
	struct rte_mbuf *ms[NM_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(dp->mig_rx, (void **)ms, NM_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (dp->mig_fn != NULL)
			mig_packet(ms[i], dp->mig_fn, dp->mig_ctx);
		else
			dp->ctl_stats.drops[NM_DROP_SUBPROTOCOL]++;
		rte_pktmbuf_free(ms[i]);
	}
	return n;
}

static struct nm_dp_daemon *daemon_of(struct nm_dataplane *dp, uint64_t origin)
{
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *d = nm_u64map_get(&dp->daemons, origin);
	pthread_mutex_unlock(&dp->lock);
	return d;
}

static int mig_call(struct nm_dataplane *dp, uint32_t op, struct nm_dp_mig_req *r,
		    struct nm_error *err)
{
	struct nm_dp_daemon *d = daemon_of(dp, r->origin);
	if (d == NULL || dp->by_lcore[d->lcore] == NULL)
		return nm_error_set(err, NM_ENOT_FOUND, "daemon 0x%" PRIx64 " is not pinned here",
				    r->origin);
	if (r->snapshot != NULL)
		r->snapshot->host = d->host;
	int rc = worker_call(dp->by_lcore[d->lcore], op, r->origin, r);
	if (rc < 0 && err != NULL && err->code == 0)
		nm_error_set(err, rc, "daemon 0x%" PRIx64 ": %s", r->origin,
			     rc == -EBUSY ? "already held" : nm_strerror(rc));
	return rc;
}

int nm_dataplane_mig_hold(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			  struct nm_snapshot **snap, bool *stateless, struct nm_error *err)
{
	*snap = NULL;
	struct nm_exec_req req = { .op = NM_EXEC_SNAPSHOT, .snap = snap, .err = err };
	struct nm_dp_mig_req r = { .origin = origin, .hold = hold, .snapshot = &req };
	int rc = mig_call(dp, NM_CTL_MIG_HOLD, &r, err);
	if (rc < 0) {
		nm_snapshot_free(*snap);
		*snap = NULL;
	}
	*stateless = r.stateless;
	return rc;
}

int nm_dataplane_mig_release(struct nm_dataplane *dp, uint64_t origin, struct nm_error *err)
{
	struct nm_dp_mig_req r = { .origin = origin };
	return mig_call(dp, NM_CTL_MIG_RELEASE, &r, err);
}

static struct nm_dp_daemon *stub_new(uint64_t origin, uint32_t lcore, struct nm_dp_hold *hold)
{
	struct nm_dp_daemon *stub = rte_zmalloc("nm_dp_stub", sizeof(*stub), RTE_CACHE_LINE_SIZE);
	if (stub != NULL)
		*stub = (struct nm_dp_daemon){ .origin = origin, .lcore = lcore, .hold = hold };
	return stub;
}

int nm_dataplane_mig_stub(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			  struct nm_error *err)
{
	struct nm_dp_daemon *d = daemon_of(dp, origin);
	if (d == NULL)
		return nm_error_set(err, NM_ENOT_FOUND, "daemon 0x%" PRIx64 " is not pinned here",
				    origin);
	/* Same owner, so held events keep one writer and one numbering. */
	struct nm_dp_daemon *stub = stub_new(origin, d->lcore, hold);
	if (stub == NULL)
		return nm_error_set(err, -ENOMEM, "dataplane: out of memory");
	pthread_mutex_lock(&dp->lock);
	int rc = nm_u64map_insert(&dp->stubs, origin, stub);
	pthread_mutex_unlock(&dp->lock);
	if (rc < 0) {
		rte_free(stub);
		return nm_error_set(err, rc, "daemon 0x%" PRIx64 ": stub exists", origin);
	}
	return 0;
}

/* A target's stub, for an origin that does not run here. */
static int target_stub(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
		       struct nm_dp_daemon **out, struct nm_error *err)
{
	if (daemon_of(dp, origin) != NULL)
		return nm_error_set(err, NM_EPROCESS_FAILED, "daemon 0x%" PRIx64 " runs here",
				    origin);
	*out = stub_new(origin, dp->workers[0]->lcore, hold);
	return *out != NULL ? 0 : nm_error_set(err, -ENOMEM, "dataplane: out of memory");
}

int nm_dataplane_mig_stub_now(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			      struct nm_error *err)
{
	struct nm_dp_daemon *stub;
	int rc = target_stub(dp, origin, hold, &stub, err);
	if (rc < 0)
		return rc;
	stub->stub_live = true;
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *old = nm_u64map_remove(&dp->stubs, origin);
	rc = nm_u64map_insert(&dp->stubs, origin, stub);
	pthread_mutex_unlock(&dp->lock);
	if (rc < 0) {
		rte_free(stub);
		return nm_error_set(err, rc, "dataplane: stub table");
	}
	/* Replace (or add) in one step per worker: no event meets an empty slot. */
	for (unsigned i = 0; i < dp->n_workers; i++)
		worker_call(dp->workers[i], NM_CTL_ROUTE_REPLACE, origin, stub);
	rte_free(old);
	return 0;
}

int nm_dataplane_mig_stub_at_attach(struct nm_dataplane *dp, uint64_t origin,
				    struct nm_dp_hold *hold, struct nm_error *err)
{
	struct nm_dp_daemon *stub;
	int rc = target_stub(dp, origin, hold, &stub, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&dp->lock);
	rc = nm_u64map_insert(&dp->stubs, origin, stub); /* -EEXIST: a stub is there */
	pthread_mutex_unlock(&dp->lock);
	if (rc < 0) {
		rte_free(stub);
		return nm_error_set(err, rc, "daemon 0x%" PRIx64 ": stub exists", origin);
	}
	return 0; /* not on the workers (stub_live false): the attach puts host and hold there */
}

int nm_dataplane_mig_unstub(struct nm_dataplane *dp, uint64_t origin)
{
	pthread_mutex_lock(&dp->lock);
	struct nm_dp_daemon *stub = nm_u64map_remove(&dp->stubs, origin);
	pthread_mutex_unlock(&dp->lock);
	if (stub == NULL)
		return NM_ENOT_FOUND;
	if (stub->stub_live)
		for (unsigned i = 0; i < dp->n_workers; i++)
			worker_call(dp->workers[i], NM_CTL_ROUTE_DEL, origin, NULL);
	rte_free(stub);
	return 0;
}

int nm_dataplane_inject(struct nm_dataplane *dp, uint64_t origin, uint64_t session_id,
			const struct nm_event *ev)
{
	struct nm_dp_daemon *d = daemon_of(dp, origin);
	if (d == NULL) { /* not here, or only its stub: the stub's owner queues it */
		pthread_mutex_lock(&dp->lock);
		d = nm_u64map_get(&dp->stubs, origin);
		pthread_mutex_unlock(&dp->lock);
	}
	if (d == NULL || dp->by_lcore[d->lcore] == NULL)
		return NM_ENOT_FOUND;
	struct nm_worker *o = dp->by_lcore[d->lcore];
	int rc;
	struct rte_mbuf *m = nm_dp_event_mbuf(dp->port.pool, session_id, origin, ev,
					      NM_DP_EV_INJECTED, &rc);
	if (m == NULL)
		return rc;
	if (rte_ring_mp_enqueue(o->evt_in, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

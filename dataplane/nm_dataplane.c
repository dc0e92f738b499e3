/* SPDX-License-Identifier: MIT */
/* nm_dataplane.c - workers, tables and the runtime executor (see header). */
#include "nm_dataplane.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "nm_host.h"
#include "nm_mesh.h"
#include "nm_runtime.h"
#include "nm_wire.h"

/* ---- applying a change to every worker ---- */

/* Run one control message on a worker: by message, or ourselves when it is stopped. */
static int worker_call(struct nm_worker *w, uint32_t op, uint64_t key, void *arg)
{
	int rc = 0;
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

static int exec_attach(struct nm_dataplane *dp, struct nm_exec_req *req)
{
	struct nm_host *h = req->host;
	struct nm_dp_daemon *d = rte_zmalloc("nm_dp_daemon", sizeof(*d), RTE_CACHE_LINE_SIZE);
	if (d == NULL)
		return nm_error_set(req->err, -ENOMEM, "dataplane: out of memory");
	d->origin = nm_host_origin(h);
	d->lcore = h->config.lcore;
	d->host = h;
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
	pthread_mutex_unlock(&dp->lock);
	for (unsigned i = 0; i < dp->n_workers; i++)
		worker_call(dp->workers[i], NM_CTL_ROUTE_DEL, origin, NULL);
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
	dp->burst = c.burst;
	pthread_mutex_init(&dp->lock, NULL);
	if (nm_u64map_init(&dp->sessions, 256) < 0 || nm_u64map_init(&dp->daemons, 1024) < 0) {
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
	if (dp->slowpath == NULL) {
		rc = nm_error_set(err, -ENOMEM, "dataplane: slow-path ring");
		goto fail;
	}
	if ((rc = make_workers(dp, lcores, err)) < 0)
		goto fail;
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
	}
	dp->launched = true;
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
	nm_port_fini(&dp->port);
	/* Sessions still installed die with the dataplane; daemons were detached already. */
	for (size_t i = 0; dp->sessions.slots != NULL && i <= dp->sessions.mask; i++)
		nm_session_free(dp->sessions.slots[i].val);
	nm_u64map_fini(&dp->sessions);
	nm_u64map_fini(&dp->daemons);
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

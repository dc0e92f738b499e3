/* SPDX-License-Identifier: MIT */
/* app_telemetry.c - /netmesh/... telemetry commands (see header). */
#include "app_telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "app_common.h"
#include "nm_aead.h"
#include "nm_dataplane.h"
#include "nm_drop.h"
#include "nm_mesh.h"
#include "nm_meshos.h"
#include "nm_migdp.h"
#include "nm_migration.h"
#include "nm_runtime.h"
#include "nm_sessmgr.h"
#include "nm_stats.h"
#include "nm_time.h"

/*
 * What the commands read, and the lock that guards it: held by every callback
 * for its duration, by fini, and by the control thread while it changes
 * session state. The one instance of the appliance's telemetry state.
 */
static struct {
	pthread_mutex_t lock;
	atomic_uint waiting; /* callbacks waiting for the lock (app_telemetry_release) */
	bool live;
	bool registered;
	struct app_telemetry_src src;
} app_tel = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A callback's lock: counted while it waits, so the control thread lets it in. */
static void tel_lock(void)
{
	atomic_fetch_add(&app_tel.waiting, 1);
	pthread_mutex_lock(&app_tel.lock);
	atomic_fetch_sub(&app_tel.waiting, 1);
}

/* rte_tel_data_add_dict_u64 is renamed _uint in 23.11: one place to change. */
static void put_u64(struct rte_tel_data *d, const char *name, uint64_t v)
{
	rte_tel_data_add_dict_u64(d, name, v);
}

static void put_hex(struct rte_tel_data *d, const char *name, uint64_t v)
{
	char s[19];
	snprintf(s, sizeof(s), "0x%016" PRIx64, v);
	rte_tel_data_add_dict_string(d, name, s);
}

/* A dict container (one level deep, as rte_telemetry allows) added under name. */
static struct rte_tel_data *sub_dict(void)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	if (c != NULL)
		rte_tel_data_start_dict(c);
	return c;
}

static void put_sub(struct rte_tel_data *d, const char *name, struct rte_tel_data *c)
{
	if (c != NULL && rte_tel_data_add_dict_container(d, name, c, 0) < 0)
		rte_tel_data_free(c);
}

/* A counter struct's uint64_t fields by name: one table per struct, one loop. */
struct u64_field {
	const char *name;
	size_t off;
};
#define U64_FIELD(type, member, name) { name, offsetof(type, member) }

static void put_fields(struct rte_tel_data *c, const void *base, const struct u64_field *f,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u64(c, f[i].name, *(const uint64_t *)((const char *)base + f[i].off));
}

#define LS(m) U64_FIELD(struct nm_lcore_stats, m, #m)
static const struct u64_field lcore_fields[] = {
	LS(rx_packets),	      LS(rx_bytes),	     LS(tx_packets),	 LS(tx_bytes),
	LS(events_delivered), LS(events_emitted),    LS(events_failed), LS(events_handed_off),
	LS(arp_replies),      LS(arp_learned),	     LS(icmp_replies),
};

static void put_lcore_stats(struct rte_tel_data *c, const struct nm_lcore_stats *s)
{
	put_fields(c, s, lcore_fields, RTE_DIM(lcore_fields));
	put_u64(c, "drops", nm_stats_total_drops(s));
}

static void put_port(struct rte_tel_data *d, const struct nm_port *p)
{
	struct rte_tel_data *c = sub_dict();
	if (c == NULL)
		return;
	char name[RTE_ETH_NAME_MAX_LEN] = "";
	rte_eth_dev_get_name_by_port(p->port_id, name);
	rte_tel_data_add_dict_string(c, "name", name);
	put_u64(c, "port_id", p->port_id);
	put_u64(c, "queues", p->n_queues);
	put_u64(c, "mtu", p->mtu);
	struct rte_eth_stats st;
	if (rte_eth_stats_get(p->port_id, &st) == 0) {
		put_u64(c, "ipackets", st.ipackets);
		put_u64(c, "opackets", st.opackets);
		put_u64(c, "ibytes", st.ibytes);
		put_u64(c, "obytes", st.obytes);
		put_u64(c, "imissed", st.imissed);
		put_u64(c, "ierrors", st.ierrors);
		put_u64(c, "oerrors", st.oerrors);
		put_u64(c, "rx_nombuf", st.rx_nombuf);
	}
	char key[32];
	snprintf(key, sizeof(key), "port_%u", p->port_id);
	put_sub(d, key, c);
}

static int cmd_stats(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	const struct nm_dataplane *dp = s->dp;
	put_hex(d, "node_id", nm_mesh_node_id(s->mesh));
	put_u64(d, "workers", dp->n_workers);
	/* The packet path's AEAD, as the start line and the periodic stats name it. */
	char aead[96];
	snprintf(aead, sizeof(aead), "%s (%s)", nm_aead_backend_name(), nm_aead_arch_name());
	rte_tel_data_add_dict_string(d, "aead", aead);
	rte_tel_data_add_dict_string(d, "aead_backend", nm_aead_backend_name());
	/* Both pools; DPDK 22.11's /mempool/info has no use count. Soak and leak checks read it. */
	put_u64(d, "mbufs_in_use", nm_port_mbufs_in_use(&dp->port));
	struct nm_lcore_stats sum;
	nm_dataplane_stats(dp, &sum);
	struct rte_tel_data *c = sub_dict();
	if (c != NULL)
		put_lcore_stats(c, &sum);
	put_sub(d, "total", c);
	put_port(d, &dp->port);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		char key[32];
		snprintf(key, sizeof(key), "lcore_%u", dp->workers[i]->lcore);
		if ((c = sub_dict()) != NULL) {
			put_u64(c, "queue", i);
			put_lcore_stats(c, &dp->workers[i]->stats);
		}
		put_sub(d, key, c);
	}
	return 0;
}

static int cmd_drops(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	struct nm_lcore_stats sum;
	nm_dataplane_stats(s->dp, &sum);
	put_u64(d, "total", nm_stats_total_drops(&sum));
	for (int r = 1; r < NM_DROP__COUNT; r++)
		put_u64(d, nm_drop_name((enum nm_drop)r), sum.drops[r]);
	return 0;
}

static void put_peer(struct rte_tel_data *d, const struct nm_sessmgr *sm, int i, uint64_t now)
{
	struct nm_peer_status st;
	uint32_t ip;
	uint16_t port;
	struct rte_tel_data *c;
	if (nm_sessmgr_peer_status(sm, i, &st) < 0 || nm_sessmgr_peer_addr(sm, i, &ip, &port) < 0 ||
	    (c = sub_dict()) == NULL)
		return;
	char addr[INET_ADDRSTRLEN + 8], a[INET_ADDRSTRLEN];
	uint32_t be = htonl(ip);
	inet_ntop(AF_INET, &be, a, sizeof(a));
	snprintf(addr, sizeof(addr), "%s:%u", a, port);
	rte_tel_data_add_dict_string(c, "address", addr);
	put_hex(c, "node_id", st.node_id);
	put_hex(c, "session_id", st.session_id);
	rte_tel_data_add_dict_string(c, "health", nm_peer_health_name(st.health));
	put_u64(c, "rtt_us", st.rtt_ns / 1000);
	put_u64(c, "last_rx_ms_ago", st.last_rx_ns != 0 && now > st.last_rx_ns
					    ? (now - st.last_rx_ns) / 1000000 : 0);
	put_u64(c, "handshaking", st.handshaking);
	char key[32];
	snprintf(key, sizeof(key), "peer_%d", i);
	put_sub(d, key, c);
}

#define HS(m, name) U64_FIELD(struct nm_sessmgr_stats, m, name)
static const struct u64_field handshake_fields[] = {
	HS(handshakes_started, "started"),     HS(handshakes_completed, "completed"),
	HS(handshake_failures, "failures"),    HS(handshake_timeouts, "timeouts"),
	HS(msg1_replays, "msg1_replays"),      HS(unknown_peer, "unknown_peer"),
	HS(malformed, "malformed"),	       HS(heartbeats_sent, "heartbeats_sent"),
	HS(sessions_expired, "sessions_expired"), HS(sessions_rotated, "sessions_rotated"),
	HS(tx_failures, "tx_failures"),	       HS(arp_requests, "arp_requests"),
};

/* Dict entries are capped (RTE_TEL_MAX_DICT_ENTRIES): the rest is counted, not listed. */
#define MAX_LISTED 240

static int cmd_peers(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	unsigned n = s->sm != NULL ? nm_sessmgr_peer_count(s->sm) : 0;
	put_u64(d, "count", n);
	if (s->sm == NULL)
		return 0;
	struct rte_tel_data *c = sub_dict();
	if (c != NULL)
		put_fields(c, nm_sessmgr_stats(s->sm), handshake_fields, RTE_DIM(handshake_fields));
	put_sub(d, "handshakes", c);
	uint64_t now = nm_mono_ns();
	for (unsigned i = 0; i < n && i < MAX_LISTED; i++)
		put_peer(d, s->sm, (int)i, now);
	return 0;
}

static int cmd_daemons(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	uint64_t origins[MAX_LISTED];
	size_t n = s->rt != NULL ? nm_runtime_list_daemons(s->rt, origins, MAX_LISTED) : 0;
	put_u64(d, "count", n);
	for (size_t i = 0; i < n && i < MAX_LISTED; i++) {
		struct nm_daemon_view v;
		struct rte_tel_data *c;
		if (nm_runtime_daemon_view(s->rt, origins[i], &v, NULL) < 0 || (c = sub_dict()) == NULL)
			continue; /* stopped since the listing */
		put_hex(c, "origin", v.origin);
		rte_tel_data_add_dict_string(c, "name", v.name);
		char kind[NM_KIND_MAX + 1];
		if (nm_runtime_daemon_kind(s->rt, v.origin, kind) == 0)
			rte_tel_data_add_dict_string(c, "kind", kind);
		if (v.lcore == NM_LCORE_CONTROL)
			rte_tel_data_add_dict_string(c, "lcore", "control");
		else
			put_u64(c, "lcore", v.lcore);
		put_u64(c, "processed", v.stats.events_processed);
		put_u64(c, "emitted", v.stats.events_emitted);
		put_u64(c, "errors", v.stats.errors);
		put_u64(c, "snapshots", v.stats.snapshots_taken);
		char key[40];
		snprintf(key, sizeof(key), "daemon_%016" PRIx64, v.origin);
		put_sub(d, key, c);
	}
	return 0;
}

#define MS(m) U64_FIELD(struct nm_meshos_stats, m, #m)
static const struct u64_field meshos_fields[] = {
	MS(ticks),		   MS(events_applied),	      MS(events_refused),
	MS(actions_emitted),	   MS(actions_dropped),	      MS(actions_failed),
	MS(transitions_committed), MS(transitions_rejected),  MS(control_broadcasts),
	MS(control_routed),	   MS(control_dropped),	      MS(control_delivered),
	MS(control_batches),	   MS(pump_errors),	      MS(logs),
	MS(capability_sets),	   MS(capability_publishes),  MS(backpressure_asserts),
	MS(backpressure_releases), MS(daemons),
};

static int cmd_meshos(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	if (s->mos == NULL) {
		rte_tel_data_add_dict_string(d, "state", "off");
		return 0;
	}
	struct nm_meshos_status st;
	struct nm_meshos_stats mt;
	nm_meshos_status(s->mos, &st);
	nm_meshos_stats(s->mos, &mt);
	put_hex(d, "node_id", st.node_id);
	rte_tel_data_add_dict_string(d, "state", nm_maint_kind_name(st.state.kind));
	put_u64(d, "state_for_ms", st.view.since_ms);
	put_u64(d, "has_deadline", st.view.has_deadline);
	put_u64(d, "deadline_remaining_ms", st.view.deadline_remaining_ms);
	if (st.view.reason[0] != '\0')
		rte_tel_data_add_dict_string(d, "reason", st.view.reason);
	put_u64(d, "backpressure", st.backpressure);
	put_u64(d, "load_permille", (uint64_t)(st.level * 1000.0f + 0.5f));
	put_u64(d, "last_tick_ms", st.last_tick_ms);
	put_u64(d, "closed", st.closed);
	struct rte_tel_data *c = sub_dict();
	if (c != NULL)
		put_fields(c, &mt, meshos_fields, RTE_DIM(meshos_fields));
	put_sub(d, "counters", c);
	return 0;
}

/* ---- migrations ---- */

static const char *role_name(uint8_t role)
{
	return role == NM_MIG_AS_SOURCE	  ? "source"
	       : role == NM_MIG_AS_TARGET ? "target"
				      : "orchestrator";
}

static void put_migration(struct rte_tel_data *d, const char *key, const struct nm_mig_info *i,
			  bool done, bool phases)
{
	struct rte_tel_data *c = sub_dict();
	if (c == NULL)
		return;
	put_hex(c, "origin", i->origin);
	rte_tel_data_add_dict_string(c, "role", role_name(i->role));
	put_hex(c, "source", i->source);
	put_hex(c, "target", i->target);
	rte_tel_data_add_dict_string(c, "phase", nm_mig_phase_name((enum nm_mig_phase)i->phase));
	put_u64(c, "committed", i->committed);
	put_u64(c, "elapsed_ms", i->elapsed_ms);
	put_u64(c, "bytes_sent", i->bytes_sent);
	put_u64(c, "retries", i->retries);
	put_u64(c, "events", i->events);
	/* Added keys: the attempt (both nodes' entries share it), what the commit shipped at once
	 * and when each phase happened here (docs/migration.md "Where the time goes"). */
	put_hex(c, "mid", i->mid);
	if (i->role == NM_MIG_AS_SOURCE)
		put_u64(c, "held_at_commit", i->held_at_commit);
	const char *name;
	uint64_t ns, t0 = 0;
	char tk[40];
	for (unsigned k = 0; phases && nm_mig_time_next(&i->t, &k, &name, &ns);) {
		if (t0 == 0)
			put_u64(c, "t0_ns", t0 = ns); /* CLOCK_MONOTONIC; each phase in us after it */
		snprintf(tk, sizeof(tk), "t_%s_us", name);
		put_u64(c, tk, (ns - t0) / 1000);
	}
	if (done) {
		rte_tel_data_add_dict_string(c, "result", i->ok ? "completed" : "failed");
		if (!i->ok)
			rte_tel_data_add_dict_string(c, "reason", i->reason);
	}
	put_sub(d, key, c);
}

#define MG(m) U64_FIELD(struct nm_mig_stats, m, #m)
static const struct u64_field mig_fields[] = {
	MG(sent),	      MG(send_failed),	    MG(received),	  MG(decode_errors),
	MG(wrong_peer),	      MG(stale),	    MG(loopback_dropped), MG(events_forwarded),
	MG(events_replayed), MG(events_duplicate), MG(events_lost_nomem),
	MG(events_undeliverable), MG(events_too_large), MG(events_skipped), MG(moved_sent),
	MG(chunks_sent), MG(chunks_resent),
	MG(chunk_acks_sent), MG(chunk_acks_received),
	MG(prepares_sent), MG(prepared_received), MG(prepare_timeouts),
	MG(prepares_answered), MG(prepare_expired),
};

/* The dataplane side's, named apart: both have a send_failed. */
#define MD(m) U64_FIELD(struct nm_migdp_stats, m, "transport_" #m)
static const struct u64_field migdp_fields[] = {
	MD(messages_in), MD(unknown_sender), MD(send_failed), MD(inject_failed),
	MD(no_session),	 MD(accepted),	     MD(holds_called_off),
};

/* Records shown with their phases (in progress, then the newest finished ones): phases for
 * all of them (an evacuation runs dozens) would not fit telemetry's 16 KiB answer. */
#define TEL_PHASES_NOW 4
#define TEL_PHASES_DONE 8

static int cmd_migrations(const struct app_telemetry_src *s, struct rte_tel_data *d)
{
	if (s->md == NULL) {
		rte_tel_data_add_dict_string(d, "state", "off");
		return 0;
	}
	struct nm_migration *m = nm_migdp_engine(s->md);
	static struct nm_mig_info list[NM_MIG_HISTORY]; /* under app_tel.lock */
	size_t n = nm_mig_list(m, nm_mono_ms(), list, NM_MIG_HISTORY), k = 0, ok = 0, failed = 0;
	put_u64(d, "in_progress", n);
	char key[40];
	for (size_t i = 0; i < n && i < NM_MIG_HISTORY; i++) {
		snprintf(key, sizeof(key), "now_%016" PRIx64 "_%c", list[i].origin,
			 "?sto"[list[i].role & 3]);
		put_migration(d, key, &list[i], false, i < TEL_PHASES_NOW);
	}
	n = nm_mig_history(m, list, NM_MIG_HISTORY);
	for (size_t i = 0; i < n; i++, k++) {
		snprintf(key, sizeof(key), "done_%zu", k); /* newest first */
		put_migration(d, key, &list[i], true, i < TEL_PHASES_DONE);
		*(list[i].ok ? &ok : &failed) += 1;
	}
	put_u64(d, "history_completed", ok);
	put_u64(d, "history_failed", failed);
	struct nm_mig_stats ms;
	struct nm_migdp_stats ds;
	nm_mig_stats(m, &ms);
	nm_migdp_stats(s->md, &ds);
	struct rte_tel_data *c = sub_dict();
	if (c != NULL) {
		put_fields(c, &ms, mig_fields, RTE_DIM(mig_fields));
		put_fields(c, &ds, migdp_fields, RTE_DIM(migdp_fields));
	}
	put_sub(d, "counters", c);
	return 0;
}

/* ORIGIN,NODE[,unsealed]: hex ids (0x optional). */
static int parse_migrate(const char *params, uint64_t *origin, uint64_t *node, bool *sealed)
{
	char buf[96], *save, *t;
	if (params == NULL || snprintf(buf, sizeof(buf), "%s", params) >= (int)sizeof(buf))
		return -EINVAL;
	*sealed = true;
	if ((t = strtok_r(buf, ",", &save)) == NULL || app_parse_hex_u64(t, origin) < 0 ||
	    (t = strtok_r(NULL, ",", &save)) == NULL || app_parse_hex_u64(t, node) < 0)
		return -EINVAL;
	if ((t = strtok_r(NULL, ",", &save)) != NULL) {
		if (strcmp(t, "unsealed") != 0 || strtok_r(NULL, ",", &save) != NULL)
			return -EINVAL;
		*sealed = false;
	}
	return 0;
}

static int tel_migrate(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	uint64_t origin, node;
	bool sealed;
	tel_lock();
	int rc = -ENODEV;
	if (app_tel.live && app_tel.src.md != NULL) {
		rte_tel_data_start_dict(d);
		rc = 0;
		struct nm_error err = { 0 };
		if (parse_migrate(params, &origin, &node, &sealed) < 0) {
			rte_tel_data_add_dict_string(d, "error", "usage: /netmesh/migrate,ORIGIN,NODE"
								 "[,unsealed] (hex ids)");
		} else {
			struct nm_mig_opts o = nm_mig_opts_default();
			o.transport_identity = sealed;
			o.prepare_ms = app_tel.src.mig_prepare_ms;
			struct nm_migration *m = nm_migdp_engine(app_tel.src.md);
			if (nm_mig_start(m, origin, nm_mig_local_node(m), node, &o, nm_mono_ms(),
					 &err) < 0)
				rte_tel_data_add_dict_string(d, "error", err.msg[0] ? err.msg
									 : nm_strerror(err.code));
			else
				put_u64(d, "started", 1);
			put_hex(d, "origin", origin);
			put_hex(d, "target", node);
		}
	}
	pthread_mutex_unlock(&app_tel.lock);
	return rc;
}

/* ---- the command table: one row per command ---- */

typedef int (*cmd_fn)(const struct app_telemetry_src *s, struct rte_tel_data *d);

static int run_cmd(cmd_fn fn, struct rte_tel_data *d)
{
	tel_lock();
	int rc = -ENODEV;
	if (app_tel.live) {
		rte_tel_data_start_dict(d);
		rc = fn(&app_tel.src, d);
	}
	pthread_mutex_unlock(&app_tel.lock);
	return rc;
}

#define TEL_CB(fn)                                                                                 \
	static int tel_##fn(const char *cmd, const char *params, struct rte_tel_data *d)           \
	{                                                                                          \
		(void)cmd;                                                                         \
		(void)params;                                                                      \
		return run_cmd(fn, d);                                                             \
	}
TEL_CB(cmd_stats)
TEL_CB(cmd_drops)
TEL_CB(cmd_peers)
TEL_CB(cmd_daemons)
TEL_CB(cmd_meshos)
TEL_CB(cmd_migrations)

static const struct {
	const char *name;
	telemetry_cb fn;
	const char *help;
} commands[] = {
	{ "/netmesh/stats", tel_cmd_stats, "Totals, per port and per worker lcore. No parameters." },
	{ "/netmesh/drops", tel_cmd_drops, "Dropped packets by reason. No parameters." },
	{ "/netmesh/peers", tel_cmd_peers,
	  "Peers: address, session, health, RTT; handshake counters. No parameters." },
	{ "/netmesh/daemons", tel_cmd_daemons,
	  "Daemons: origin, name, kind, lcore, processed, emitted, errors. No parameters." },
	{ "/netmesh/meshos", tel_cmd_meshos, "MeshOS state, backpressure and counters. No parameters." },
	{ "/netmesh/migrations", tel_cmd_migrations,
	  "Migrations in progress (phase, bytes, elapsed, retries), the last finished ones with "
	  "their reasons, counters. No parameters." },
	{ "/netmesh/migrate", tel_migrate,
	  "Start migrating a daemon: /netmesh/migrate,ORIGIN,NODE[,unsealed] (hex ids)." },
};

int app_telemetry_init(const struct app_telemetry_src *src)
{
	if (src == NULL || src->dp == NULL || src->mesh == NULL)
		return -EINVAL;
	pthread_mutex_lock(&app_tel.lock);
	int rc = 0;
	for (size_t i = 0; !app_tel.registered && i < RTE_DIM(commands) && rc == 0; i++)
		rc = rte_telemetry_register_cmd(commands[i].name, commands[i].fn, commands[i].help);
	if (rc == 0) {
		app_tel.registered = true;
		app_tel.src = *src;
		app_tel.live = true;
	}
	pthread_mutex_unlock(&app_tel.lock);
	return rc;
}

void app_telemetry_fini(void)
{
	pthread_mutex_lock(&app_tel.lock);
	app_tel.live = false;
	pthread_mutex_unlock(&app_tel.lock);
}

void app_telemetry_hold(void)
{
	pthread_mutex_lock(&app_tel.lock);
}

/*
 * A mutex is not fair: a control loop that barely sleeps (a migration runs)
 * takes it back at once, and a waiting callback could wait for seconds. So a
 * release with a callback waiting yields until it has the lock (bounded).
 */
void app_telemetry_release(void)
{
	pthread_mutex_unlock(&app_tel.lock);
	for (unsigned i = 0; i < 1000 && atomic_load(&app_tel.waiting) != 0; i++)
		sched_yield();
}

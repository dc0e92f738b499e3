/* SPDX-License-Identifier: MIT */
/*
 * test_migdp.c - live migration between appliances, in one process: two
 * appliances (A, B) with dataplanes, session managers and the migration
 * engine on their dataplanes (nm_migdp), and a sender G that keeps sending
 * sealed events to a pinned counter daemon while it migrates A -> B -> A.
 *
 * Workers are not launched: the test thread runs every node's loop and
 * carries frames between the three ring ports by destination MAC (a switch),
 * so it can also lose 0x0500 messages on the way, or take a node's link down
 * (every frame to or from it lost) for a while. G is a node too (its
 * session manager does the handshakes), but the test opens what arrives for
 * G itself: the counter's outputs, and the Moved redirect.
 *
 * The property: every event G sent is processed exactly once (the counter's
 * outputs are 1..N, each once) and the outputs form one unbroken chain,
 * whichever appliance produced them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_keys.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_migdp.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_runtime.h"
#include "nm_sessmgr.h"
#include "nm_test.h"
#include "nm_time.h"

#define IP_A RTE_IPV4(127, 0, 0, 1)
#define IP_G RTE_IPV4(127, 0, 0, 2)
#define IP_B RTE_IPV4(127, 0, 0, 3)
#define DEADLINE_MS 20000
#define OUTAGE_AFTER 100
#define MAX_OUT 4096

struct node {
	char keydir[64];
	struct nm_keys keys;
	uint32_t ip;
	struct rte_ring *rx, *tx;
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_migdp *md;
};

/* What the sender sees. */
struct sender {
	struct node *g;
	struct node *dest;   /* where the daemon is, as far as G knows */
	uint64_t daemon;
	uint64_t sent;
	uint64_t counts[MAX_OUT]; /* how often each counter value came back */
	uint64_t outputs, chain_errors, redirects;
	struct nm_causal_link prev;
	uint8_t prev_payload[8];
	uint32_t prev_len;
	struct nm_chain chain; /* G's own events */
};

struct world {
	struct node a, b, g;
	struct sender s;
	unsigned loss_pct;  /* of 0x0500 frames between A and B */
	struct node *down;  /* its link is down: every frame to or from it is lost */
	uint64_t rng;
	uint64_t mig_lost;  /* 0x0500 frames the wire dropped */
	uint64_t down_lost; /* frames lost to the link outage */
	uint64_t wire_full; /* frames a full RX ring refused */
};

static unsigned gen;

static void node_up(struct node *n, const char *name, uint32_t ip, unsigned lcore)
{
	memset(n, 0, sizeof(*n));
	n->ip = ip;
	snprintf(n->keydir, sizeof(n->keydir), "/tmp/nm_migdp_%s_XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(n->keydir));
	struct nm_error err;
	ck_assert_int_eq(nm_keys_load_or_create(&n->keys, n->keydir, &err), 0);
	char rn[32];
	snprintf(rn, sizeof(rn), "m%u_%s_rx", gen, name);
	n->rx = rte_ring_create(rn, 1024, 0, RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "m%u_%s_tx", gen, name);
	n->tx = rte_ring_create(rn, 1024, 0, RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "m%u_%s", gen, name);
	int port = rte_eth_from_rings(rn, &n->rx, 1, &n->tx, 1, 0);
	ck_assert_int_ge(port, 0);
	char pname[RTE_ETH_NAME_MAX_LEN];
	ck_assert_int_eq(rte_eth_dev_get_name_by_port((uint16_t)port, pname), 0);
	struct nm_mesh_config mc = { .port = pname, .node_seed = nm_identity_seed(&n->keys.identity) };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	ck_assert_int_eq(nm_mesh_create(&mc, &n->mesh, &err), 0);
	n->rt = nm_runtime_create(nm_mesh_node(n->mesh));
	ck_assert_int_eq(nm_builtin_register_all(n->rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(n->rt, NULL), 0);
	const unsigned lcores[1] = { lcore };
	struct nm_dataplane_config dc = { .mesh = n->mesh, .rt = n->rt, .ip = ip, .n_workers = 1,
					  .lcores = lcores, .n_mbufs = 2047 };
	ck_assert_int_eq(nm_dataplane_create(&dc, &n->dp, &err), 0);
	struct nm_sessmgr_config sc = { .dp = n->dp, .keys = &n->keys, .psk = nm_mesh_psk(n->mesh),
					.handshake_timeout_ms = 400, .attempt_wait_ms = 50,
					.backoff_ms = 10 };
	ck_assert_int_eq(nm_sessmgr_create(&sc, &n->sm, &err), 0);
	nm_dataplane_set_slowpath(n->dp, nm_sessmgr_on_packet, n->sm);
}

static void with_migration(struct node *n, unsigned hold_events)
{
	struct nm_error err;
	struct nm_migdp_config mc = {
		.dp = n->dp, .sm = n->sm, .rt = n->rt, .static_sk = n->keys.noise_sk,
		.hold_events = hold_events,
		.engine = { .rto_ms = 20, .rto_max_ms = 200, .phase_timeout_ms = 3000 },
	};
	ck_assert_int_eq(nm_migdp_create(&mc, &n->md, &err), 0);
}

/* a knows b (and connects to it when `connect`). */
static void know(struct node *a, const struct node *b, bool connect)
{
	struct nm_error err;
	struct nm_sm_peer_config pc = {
		.ip = b->ip, .mac = &b->dp->port.mac, .node_id = b->keys.identity.node_id,
		.static_pub = b->keys.noise_pk, .connect = connect,
	};
	ck_assert_msg(nm_sessmgr_add_peer(a->sm, &pc, &err) >= 0, "%s", err.msg);
}

static void node_down(struct node *n)
{
	struct rte_mempool *pool = n->dp->port.pool;
	nm_migdp_free(n->md);
	nm_sessmgr_destroy(n->sm);
	nm_runtime_shutdown(n->rt, NULL);
	struct rte_mbuf *m;
	while (nm_worker_poll(n->dp->workers[0]) != 0)
		;
	while (rte_ring_dequeue(n->tx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(n->rx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	ck_assert_msg(rte_mempool_in_use_count(pool) == 0, "%u mbufs leaked",
		      rte_mempool_in_use_count(pool));
	nm_dataplane_destroy(n->dp);
	nm_runtime_destroy(n->rt);
	nm_mesh_destroy(n->mesh);
	rte_ring_free(n->rx);
	rte_ring_free(n->tx);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", n->keydir);
	ck_assert_int_eq(system(cmd), 0);
	nm_keys_wipe(&n->keys);
}

/* ------------------------------------------------------------ the sender's view */

static struct nm_session *session_to(struct node *from, const struct node *to)
{
	uint64_t sid = nm_sessmgr_session_of(from->sm, to->keys.identity.node_id);
	return sid != 0 ? nm_dataplane_session_get(from->dp, sid) : NULL;
}

/* One counter output that came back to G: count it and check the chain. */
static void sender_output(struct sender *s, const struct nm_event *ev)
{
	s->outputs++;
	uint64_t v = ev->len == 8 ? nm_get_le64(ev->payload) : 0;
	if (v < MAX_OUT)
		s->counts[v]++;
	struct nm_chain_error e = { 0 };
	if (nm_chain_validate(&s->prev, s->prev_payload, s->prev_len, &ev->link, &e) != NM_CHAIN_OK)
		s->chain_errors++;
	s->prev = ev->link;
	s->prev_len = ev->len <= 8 ? ev->len : 8;
	memcpy(s->prev_payload, ev->payload, s->prev_len);
}

/* A frame for G: data and Moved are the test's; the rest goes to G's node. */
static bool sender_rx(struct world *w, struct rte_mbuf *m)
{
	struct sender *s = &w->s;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct nm_pkt_info pi;
	enum nm_drop why;
	const struct nm_pkt_endpoint self = { s->g->dp->port.mac, s->g->ip, 7777 };
	if (nm_pkt_parse(frame, m->data_len, &self, 0, &pi, &why) < 0 || pi.kind != NM_PKT_UDP)
		return false;
	uint8_t *d = frame + pi.data_off;
	struct nm_net_hdr h;
	if (nm_hdr_parse(&h, d, pi.data_len, &why) < 0 || (h.flags & (NM_FLAG_HANDSHAKE |
								     NM_FLAG_HEARTBEAT)))
		return false;
	struct nm_session *ses = nm_dataplane_session_get(s->g->dp, h.session_id);
	ck_assert_ptr_nonnull(ses);
	ck_assert_int_eq(nm_aead_open(&ses->rx, d, pi.data_len, NULL, &why), 0);
	const uint8_t *p = d + NM_NET_HDR_SIZE;
	if (h.subprotocol_id == NM_SUBPROTOCOL_MIGRATION) {
		struct nm_mig_msg msg;
		ck_assert_int_eq(nm_mig_decode(p + 4, nm_get_le32(p), &msg, NULL, NULL), 0);
		ck_assert_uint_eq(msg.type, NM_MIG_MOVED);
		ck_assert_uint_eq(msg.daemon_origin, s->daemon);
		s->dest = msg.moved.new_node == w->b.keys.identity.node_id ? &w->b : &w->a;
		s->redirects++;
	} else {
		struct nm_event evs[64];
		size_t used;
		uint32_t n = nm_causal_read(p, h.payload_len, h.event_count, evs, 64, 0, &used);
		ck_assert_uint_eq(n, h.event_count);
		for (uint32_t i = 0; i < n; i++)
			sender_output(s, &evs[i]);
	}
	rte_pktmbuf_free(m);
	return true;
}

/* G sends one event to where it believes the daemon is. */
static void sender_send(struct sender *s)
{
	struct nm_session *ses = session_to(s->g, s->dest);
	ck_assert_ptr_nonnull(ses);
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->g->dp->port.pool);
	ck_assert_ptr_nonnull(m);
	uint8_t payload[8];
	nm_put_le64(payload, s->sent + 1);
	struct nm_event ev = { .payload = payload, .len = sizeof(payload) };
	ck_assert_int_eq(nm_chain_append(&s->chain, payload, sizeof(payload), 0, &ev.link), 0);
	struct nm_pkt_endpoint src = { s->g->dp->port.mac, s->g->ip, 7777 };
	struct nm_pkt_endpoint dst = { s->dest->dp->port.mac, s->dest->ip, 7777 };
	struct nm_packet_tx t = { .src = &src, .dst = &dst, .key = &ses->tx,
				  .counter = nm_session_next_tx(ses), .session_id = ses->session_id,
				  .stream_id = s->daemon, .sequence = s->sent,
				  .origin_hash = s->g->keys.identity.origin_hash,
				  .budget = nm_packet_budget(1500) };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &t,
					 &ev, 1, &used, &len), 0);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	ck_assert_int_eq(rte_ring_enqueue(s->dest->rx, m), 0);
	s->sent++;
}

/* ------------------------------------------------------------ the wire */

static bool is_migration(struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	if (m->data_len < NM_PKT_DATA_OFF + NM_NET_HDR_SIZE || frame[12] != 0x08 || frame[13] != 0)
		return false;
	return nm_get_le16(frame + NM_PKT_DATA_OFF + NM_OFF_SUBPROTOCOL) == NM_SUBPROTOCOL_MIGRATION;
}

static uint64_t rnd(struct world *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/* Ring ports share one MAC: the switch forwards by IPv4 destination (ARP: target address). */
static struct node *by_ip(struct world *w, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	if (m->data_len < 42)
		return NULL;
	const uint8_t *p = f + (f[12] == 0x08 && f[13] == 0x06 ? 38 : 30);
	const uint32_t ip = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	struct node *all[3] = { &w->a, &w->b, &w->g };
	for (int i = 0; i < 3; i++)
		if (all[i]->ip == ip)
			return all[i];
	return NULL;
}

static void deliver(struct world *w, struct node *to, struct rte_mbuf *m)
{
	if (to == &w->g && sender_rx(w, m))
		return;
	if (rte_ring_enqueue(to->rx, m) != 0) {
		w->wire_full++;
		rte_pktmbuf_free(m);
	}
}

/* Everything node `from` sent: to its destination (all others for broadcast). */
static unsigned carry(struct world *w, struct node *from)
{
	struct rte_mbuf *m;
	unsigned n = 0;
	while (rte_ring_dequeue(from->tx, (void **)&m) == 0) {
		n++;
		struct node *to = by_ip(w, m);
		if (to == NULL || to == from) {
			rte_pktmbuf_free(m);
			continue;
		}
		if (w->down != NULL && (to == w->down || from == w->down)) {
			w->down_lost++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (to != &w->g && from != &w->g && w->loss_pct != 0 && is_migration(m) &&
		    rnd(w) % 100 < w->loss_pct) {
			w->mig_lost++;
			rte_pktmbuf_free(m);
			continue;
		}
		deliver(w, to, m);
	}
	return n;
}

static unsigned step(struct node *n)
{
	unsigned k = nm_worker_poll(n->dp->workers[0]);
	k += nm_dataplane_poll_slowpath(n->dp);
	nm_sessmgr_poll(n->sm);
	if (n->md != NULL)
		k += nm_migdp_poll(n->md, nm_mono_ms());
	return k;
}

static unsigned pump_once(struct world *w)
{
	unsigned moved = step(&w->a) + step(&w->b) + step(&w->g);
	return moved + carry(w, &w->a) + carry(w, &w->b) + carry(w, &w->g);
}

typedef bool (*condition)(struct world *w);

static bool pump_until(struct world *w, condition cond)
{
	uint64_t end = nm_mono_ms() + DEADLINE_MS;
	while (!cond(w)) {
		if (nm_mono_ms() >= end)
			return false;
		if (pump_once(w) == 0)
			usleep(100);
	}
	return true;
}

static bool all_sessions(struct world *w)
{
	return session_to(&w->g, &w->a) != NULL && session_to(&w->g, &w->b) != NULL &&
	       session_to(&w->a, &w->b) != NULL && session_to(&w->b, &w->a) != NULL &&
	       session_to(&w->a, &w->g) != NULL && session_to(&w->b, &w->g) != NULL;
}

static bool everything_answered(struct world *w)
{
	return w->s.outputs >= w->s.sent;
}

static void sm_dump(const char *name, const struct node *n)
{
	const struct nm_sessmgr_stats *st = nm_sessmgr_stats(n->sm);
	struct nm_lcore_stats ls;
	nm_dataplane_stats(n->dp, &ls);
	fprintf(stderr, "%s: started %" PRIu64 " completed %" PRIu64 " failures %" PRIu64
		" timeouts %" PRIu64 " unknown_peer %" PRIu64 " malformed %" PRIu64 " tx_failures %"
		PRIu64 "\n", name, st->handshakes_started, st->handshakes_completed,
		st->handshake_failures, st->handshake_timeouts, st->unknown_peer, st->malformed,
		st->tx_failures);
	nm_stats_print(stderr, name, &ls);
}

static void world_up_with(struct world *w, unsigned loss_pct, unsigned hold_events)
{
	memset(w, 0, sizeof(*w));
	gen++;
	w->loss_pct = loss_pct;
	w->rng = 0x9E3779B97F4A7C15ULL;
	w->s.g = &w->g;
	node_up(&w->a, "a", IP_A, 1);
	node_up(&w->b, "b", IP_B, 2);
	node_up(&w->g, "g", IP_G, 3);
	with_migration(&w->a, hold_events);
	with_migration(&w->b, hold_events);
	know(&w->a, &w->b, true);
	know(&w->b, &w->a, false);
	know(&w->g, &w->a, true);
	know(&w->g, &w->b, true);
	know(&w->a, &w->g, false);
	know(&w->b, &w->g, false);
	if (!pump_until(w, all_sessions)) {
		sm_dump("a", &w->a);
		sm_dump("b", &w->b);
		sm_dump("g", &w->g);
	}
	ck_assert_msg(all_sessions(w), "sessions did not come up: g-a %d g-b %d a-b %d b-a %d a-g %d b-g %d",
		      session_to(&w->g, &w->a) != NULL, session_to(&w->g, &w->b) != NULL,
		      session_to(&w->a, &w->b) != NULL, session_to(&w->b, &w->a) != NULL,
		      session_to(&w->a, &w->g) != NULL, session_to(&w->b, &w->g) != NULL);
}

static void world_up(struct world *w, unsigned loss_pct)
{
	world_up_with(w, loss_pct, 0);
}

static void world_down(struct world *w)
{
	node_down(&w->a);
	node_down(&w->b);
	node_down(&w->g);
}

/* A counter pinned on A, expected by B (and back on A, its slot stays). */
static uint64_t counter_on_a(struct world *w)
{
	uint8_t seed[32] = { 0xC0, 0x47 };
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = w->a.dp->workers[0]->lcore;
	struct nm_daemon_handle h;
	struct nm_error err;
	ck_assert_int_eq(nm_runtime_spawn(w->a.rt, "counter", &id, &cfg, &h, &err), 0);
	cfg.lcore = w->b.dp->workers[0]->lcore;
	ck_assert_int_eq(nm_runtime_expect_migration(w->b.rt, "counter", h.origin_hash, &cfg, &err),
			 0);
	w->s = (struct sender){ .g = &w->g, .dest = &w->a, .daemon = h.origin_hash };
	w->s.prev = nm_link_genesis(h.origin_hash, 0);
	nm_chain_init(&w->s.chain, w->g.keys.identity.origin_hash);
	return h.origin_hash;
}

static bool lives_on(struct node *n, uint64_t origin)
{
	return nm_runtime_has_daemon(n->rt, origin);
}

/* Retransmissions of src's migration of origin so far (0 without one in progress). */
static uint32_t retries_of(struct node *src, uint64_t origin)
{
	struct nm_mig_info cur[8];
	size_t n = nm_mig_list(nm_migdp_engine(src->md), nm_mono_ms(), cur, 8);
	for (size_t i = 0; i < n && i < 8; i++)
		if (cur[i].origin == origin && cur[i].role == NM_MIG_AS_SOURCE)
			return cur[i].retries;
	return 0;
}

/*
 * Send while migrating from `src` to `dst`; returns when the migration ended
 * either way. With `down`, that node's link is down from the start until
 * `outage_events` more events were sent (one per round, then none) and the
 * source retransmitted: the migration is in flight across the outage. After
 * it, at most OUTAGE_AFTER more events, whatever the pace of the rounds: the
 * hold (511 events here) must not fill before the next retransmission.
 */
static bool migrate_across(struct world *w, struct node *src, struct node *dst, uint64_t origin,
			   unsigned per_round, struct node *down, unsigned outage_events)
{
	struct nm_error err;
	struct nm_mig_opts o = nm_mig_opts_default();
	o.retry_not_ready_ms = 3000; /* a daemon coming back waits for its last forward to end */
	struct nm_mig_info hist[NM_MIG_HISTORY];
	const size_t before = nm_mig_history(nm_migdp_engine(src->md), hist, NM_MIG_HISTORY);
	ck_assert_uint_lt(before, NM_MIG_HISTORY);
	w->down = down;
	const uint64_t outage_end = w->s.sent + outage_events;
	int rc = nm_mig_start(nm_migdp_engine(src->md), origin, src->keys.identity.node_id,
			      dst->keys.identity.node_id, &o, nm_mono_ms(), &err);
	ck_assert_msg(rc == 0, "start: %s", err.msg);
	uint64_t end = nm_mono_ms() + DEADLINE_MS;
	while (nm_mono_ms() < end) {
		if (w->down != NULL && w->s.sent >= outage_end && retries_of(src, origin) > 0)
			w->down = NULL; /* the link comes back */
		/* Across an outage: one event a round, up to outage_events during it and
		 * OUTAGE_AFTER after it; else per_round. */
		uint64_t cap = w->down != NULL ? outage_end : outage_end + OUTAGE_AFTER;
		unsigned k = down == NULL ? per_round : w->s.sent < cap ? 1 : 0;
		for (unsigned i = 0; i < k && w->s.sent + 1 < MAX_OUT; i++)
			sender_send(&w->s);
		if (pump_once(w) == 0 && k == 0)
			usleep(100);
		/* Ended: the source's history has a new entry (newest first). */
		if (nm_mig_history(nm_migdp_engine(src->md), hist, NM_MIG_HISTORY) > before) {
			ck_assert_uint_eq(hist[0].origin, origin);
			ck_assert_uint_eq(hist[0].role, NM_MIG_AS_SOURCE);
			if (!hist[0].ok)
				fprintf(stderr, "migration failed: %s\n", hist[0].reason);
			ck_assert_msg(w->down == NULL, "the migration ended during the outage");
			return hist[0].ok;
		}
	}
	w->down = NULL;
	struct nm_mig_info cur[8];
	struct node *both[2] = { src, dst };
	for (int k = 0; k < 2; k++) {
		size_t n = nm_mig_list(nm_migdp_engine(both[k]->md), nm_mono_ms(), cur, 8);
		for (size_t i = 0; i < n && i < 8; i++)
			fprintf(stderr, "%s: in progress role %u phase %s committed %d retries %u\n",
				k ? "dst" : "src", cur[i].role, nm_mig_phase_name(cur[i].phase),
				cur[i].committed, cur[i].retries);
		n = nm_mig_history(nm_migdp_engine(both[k]->md), cur, 8);
		for (size_t i = 0; i < n && i < 8; i++)
			fprintf(stderr, "%s: history role %u ok %d phase %s: %s\n", k ? "dst" : "src",
				cur[i].role, cur[i].ok, nm_mig_phase_name(cur[i].phase), cur[i].reason);
	}
	return false;
}

static bool migrate_while_sending(struct world *w, struct node *src, struct node *dst,
				  uint64_t origin, unsigned per_round)
{
	return migrate_across(w, src, dst, origin, per_round, NULL, 0);
}

/* Send `n` events, one pump round each. */
static void send_and_pump(struct world *w, int n)
{
	for (int i = 0; i < n; i++) {
		sender_send(&w->s);
		pump_once(w);
	}
}

static void check_exactly_once(struct world *w)
{
	if (!pump_until(w, everything_answered)) {
		fprintf(stderr, "wire: lost %" PRIu64 " full %" PRIu64 "\n", w->mig_lost, w->wire_full);
		sm_dump("a", &w->a);
		sm_dump("b", &w->b);
		sm_dump("g", &w->g);
	}
	ck_assert_msg(everything_answered(w), "%" PRIu64 " of %" PRIu64 " answered",
		      w->s.outputs, w->s.sent);
	for (int i = 0; i < 50; i++)
		pump_once(w); /* anything late (a duplicate) shows up now */
	ck_assert_uint_eq(w->s.outputs, w->s.sent);
	for (uint64_t v = 1; v <= w->s.sent; v++)
		ck_assert_msg(w->s.counts[v] == 1, "count %" PRIu64 " came back %" PRIu64 " times", v,
			      w->s.counts[v]);
	ck_assert_uint_eq(w->s.chain_errors, 0);
}

/* A world whose counter went A -> B while sending, and the sender follows it to B. */
static uint64_t counter_moved_to_b(struct world *w)
{
	world_up(w, 0);
	uint64_t o = counter_on_a(w);
	send_and_pump(w, 20);
	ck_assert(migrate_while_sending(w, &w->a, &w->b, o, 2));
	ck_assert(lives_on(&w->b, o) && !lives_on(&w->a, o));
	send_and_pump(w, 50);
	ck_assert_ptr_eq(w->s.dest, &w->b); /* redirected: the path is direct now */
	ck_assert_uint_ge(w->s.redirects, 1);
	return o;
}

START_TEST(a_pinned_counter_migrates_there_and_back_exactly_once)
{
	struct world w;
	uint64_t o = counter_moved_to_b(&w);
	ck_assert(migrate_while_sending(&w, &w.b, &w.a, o, 2));
	ck_assert(lives_on(&w.a, o) && !lives_on(&w.b, o));
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	struct nm_lcore_stats st;
	nm_dataplane_stats(w.a.dp, &st);
	ck_assert_uint_gt(st.events_held, 0);
	world_down(&w);
}
END_TEST

START_TEST(migrations_under_migration_message_loss_keep_every_event)
{
	struct world w;
	world_up(&w, 5);
	uint64_t o = counter_on_a(&w);
	struct node *from = &w.a, *to = &w.b;
	unsigned done = 0;
	for (int k = 0; k < 6; k++) {
		bool ok = migrate_while_sending(&w, from, to, o, 1);
		/* Completed or not, the daemon is live on exactly one node. */
		ck_assert(lives_on(&w.a, o) != lives_on(&w.b, o));
		if (ok) {
			done++;
			struct node *t = from;
			from = to;
			to = t;
		}
		send_and_pump(&w, 20);
	}
	ck_assert_uint_gt(done, 0);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

/*
 * The demo's flap: a daemon that came to B cannot go back while A refuses
 * (NotReady until the retry budget ends). B keeps it, and B's hold must end
 * with the failed attempt: the events that reached B meanwhile run there, and
 * so does everything after.
 */
START_TEST(a_failed_return_releases_the_hold_on_the_second_node)
{
	struct world w;
	uint64_t o = counter_moved_to_b(&w);
	nm_mig_simulate_not_ready(nm_migdp_engine(w.a.md), true);
	ck_assert(!migrate_while_sending(&w, &w.b, &w.a, o, 1));
	nm_mig_simulate_not_ready(nm_migdp_engine(w.a.md), false);
	ck_assert(lives_on(&w.b, o) && !lives_on(&w.a, o));
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

/* A's forwarding of its latest migration as the source ended (its history entry says so). */
static bool a_forwards_nothing(struct world *w)
{
	struct nm_mig_info h[1];
	return nm_mig_history(nm_migdp_engine(w->a.md), h, 1) >= 1 && h[0].t.fwd_end != 0;
}

/*
 * The demo's flap (docs/migration.md, Known limits): the target's link is
 * down when the migration starts, so the source's hold grows while it
 * retransmits into the outage, and the whole hold ships at the commit. Every
 * held event must run on the target, and the daemon must come back across an
 * outage of the old node. Before the fix, round 1 "completed" with its held
 * events stuck behind an mseq gap on B (BufferedEvents over one datagram,
 * refused on every retry), and the return failed with NotReady.
 */
START_TEST(a_link_outage_during_the_migration_keeps_every_event_and_the_way_back)
{
	struct world w;
	world_up(&w, 0);
	uint64_t o = counter_on_a(&w);
	send_and_pump(&w, 20);
	ck_assert(migrate_across(&w, &w.a, &w.b, o, 1, &w.b, 300));
	ck_assert(lives_on(&w.b, o) && !lives_on(&w.a, o));
	send_and_pump(&w, 50);
	ck_assert_ptr_eq(w.s.dest, &w.b);
	/* A's forwarding ends: every event it forwarded was acked (never, behind the gap). */
	ck_assert(pump_until(&w, a_forwards_nothing));
	ck_assert(migrate_across(&w, &w.b, &w.a, o, 1, &w.a, 300));
	ck_assert(lives_on(&w.a, o) && !lives_on(&w.b, o));
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	ck_assert_uint_gt(w.down_lost, 0);
	struct nm_mig_stats st;
	nm_mig_stats(nm_migdp_engine(w.a.md), &st);
	ck_assert_uint_ge(st.events_forwarded, 300);
	world_down(&w);
}
END_TEST

/*
 * A hold that fills before the commit calls the migration off: the events
 * run at the source, and the history names the cause (not "cancel requested",
 * which is an operator's cancel).
 */
START_TEST(a_hold_overflow_is_reported_as_such_and_loses_nothing)
{
	struct world w;
	world_up_with(&w, 0, 16);
	uint64_t o = counter_on_a(&w);
	send_and_pump(&w, 20);
	w.down = &w.b; /* the migration cannot commit: the hold fills */
	struct nm_error err;
	struct nm_mig_opts opts = nm_mig_opts_default();
	ck_assert_int_eq(nm_mig_start(nm_migdp_engine(w.a.md), o, w.a.keys.identity.node_id,
				      w.b.keys.identity.node_id, &opts, nm_mono_ms(), &err), 0);
	struct nm_mig_info h[1];
	uint64_t end = nm_mono_ms() + DEADLINE_MS;
	while (nm_mig_history(nm_migdp_engine(w.a.md), h, 1) == 0 && nm_mono_ms() < end) {
		if (w.s.sent + 1 < MAX_OUT)
			sender_send(&w.s);
		pump_once(&w);
	}
	w.down = NULL;
	ck_assert_uint_eq(nm_mig_history(nm_migdp_engine(w.a.md), h, 1), 1);
	ck_assert(!h[0].ok);
	ck_assert_str_eq(h[0].reason, "state failed: hold overflow: the held events ran at the source");
	struct nm_migdp_stats ds;
	nm_migdp_stats(w.a.md, &ds);
	ck_assert_uint_eq(ds.holds_called_off, 1);
	ck_assert(lives_on(&w.a, o) && !lives_on(&w.b, o));
	send_and_pump(&w, 20);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

/* ------------------------------------------------------------ fewer hand-offs (migfast) */

/* What a node's lifecycle observer saw of one daemon during a migration. */
struct spy {
	struct node *n;
	uint64_t origin;
	uint64_t requests_at_register; /* the node's worker requests when it registered (target) */
	uint64_t activate_sent_at_detach; /* the source's ActivateTarget stamp when it unregistered */
	bool registered, unregistered;
	struct nm_lifecycle_observer obs; /* installed while the spy lives */
};

static void spy_event(void *ctx, enum nm_lifecycle_event ev, const struct nm_daemon_info *d)
{
	struct spy *sp = ctx;
	if (d->origin != sp->origin)
		return;
	if (ev == NM_LIFECYCLE_REGISTERED && !sp->registered) {
		sp->registered = true;
		sp->requests_at_register = atomic_load(&sp->n->dp->ctl_requests);
	} else if (ev == NM_LIFECYCLE_UNREGISTERED && !sp->unregistered) {
		/* The engine only (not the runtime, whose registry lock we are under). */
		struct nm_mig_info cur[8];
		size_t k = nm_mig_list(nm_migdp_engine(sp->n->md), nm_mono_ms(), cur, 8);
		for (size_t i = 0; i < k && i < 8; i++)
			if (cur[i].origin == sp->origin && cur[i].role == NM_MIG_AS_SOURCE)
				sp->activate_sent_at_detach = cur[i].t.activate_sent;
		sp->unregistered = true;
	}
}

static void spy_on(struct spy *sp, struct node *n, uint64_t origin)
{
	*sp = (struct spy){ .n = n, .origin = origin };
	sp->obs = (struct nm_lifecycle_observer){ .ctx = sp, .on_event = spy_event };
	ck_assert_int_eq(nm_runtime_set_observer(n->rt, &sp->obs), 0);
}

/*
 * The target restores into its hold with one request to its worker: the
 * hold's stub waits for the restored host's attach, which puts both on the
 * worker. Before, the stub went to the worker first (one round trip), then
 * the attach replaced it (a second), each waiting for an idle worker's nap.
 */
START_TEST(the_target_restores_into_its_hold_with_one_worker_request)
{
	struct world w;
	world_up(&w, 0);
	uint64_t o = counter_on_a(&w);
	send_and_pump(&w, 20);
	struct spy sp;
	spy_on(&sp, &w.b, o);
	const uint64_t before = atomic_load(&w.b.dp->ctl_requests);
	ck_assert(migrate_while_sending(&w, &w.a, &w.b, o, 2));
	ck_assert(sp.registered);
	ck_assert_uint_eq(sp.requests_at_register - before, 1); /* the attach, with the hold */
	nm_runtime_set_observer(w.b.rt, NULL);
	ck_assert(lives_on(&w.b, o) && !lives_on(&w.a, o));
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

/*
 * The source's commit does not wait for its worker: from the commit (the
 * hold COMMITTED) the host runs nothing, so ActivateTarget and the held
 * events leave first and the host's detach (a round trip to its worker)
 * follows. Before, ActivateTarget waited for the detach.
 */
START_TEST(activate_target_leaves_before_the_source_detaches_the_host)
{
	struct world w;
	world_up(&w, 0);
	uint64_t o = counter_on_a(&w);
	send_and_pump(&w, 20);
	struct spy sp;
	spy_on(&sp, &w.a, o);
	ck_assert(migrate_while_sending(&w, &w.a, &w.b, o, 2));
	ck_assert(sp.unregistered);
	ck_assert_uint_ne(sp.activate_sent_at_detach, 0);
	nm_runtime_set_observer(w.a.rt, NULL);
	ck_assert(lives_on(&w.b, o) && !lives_on(&w.a, o));
	send_and_pump(&w, 50); /* G follows Moved; A's forwarded events are acked */
	/* And back, the same way: every event once, one chain. */
	ck_assert(migrate_while_sending(&w, &w.b, &w.a, o, 2));
	ck_assert(lives_on(&w.a, o) && !lives_on(&w.b, o));
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

static bool neither_busy(struct world *w)
{
	return !nm_migdp_busy(w->a.md) && !nm_migdp_busy(w->b.md);
}

static bool neither_urgent(struct world *w)
{
	return !nm_dataplane_urgent(w->a.dp) && !nm_dataplane_urgent(w->b.dp);
}

/*
 * Workers answer quickly (dp->urgent) on both nodes while a migration runs,
 * and go back to their idle naps when it has ended there: the source at
 * ActivateAck (its forwarding may linger for seconds), the target once active.
 * The control loop's short naps follow the same predicate (nm_migdp_busy).
 */
START_TEST(both_nodes_are_urgent_while_the_migration_runs_and_only_then)
{
	struct world w;
	world_up(&w, 0);
	uint64_t o = counter_on_a(&w);
	send_and_pump(&w, 20);
	ck_assert(neither_urgent(&w));
	struct nm_error err;
	struct nm_mig_opts opts = nm_mig_opts_default();
	ck_assert_int_eq(nm_mig_start(nm_migdp_engine(w.a.md), o, w.a.keys.identity.node_id,
				      w.b.keys.identity.node_id, &opts, nm_mono_ms(), &err), 0);
	ck_assert(nm_dataplane_urgent(w.a.dp));
	bool b_was_urgent = false;
	uint64_t end = nm_mono_ms() + DEADLINE_MS;
	struct nm_mig_info h[1];
	while (nm_mig_history(nm_migdp_engine(w.a.md), h, 1) == 0 && nm_mono_ms() < end) {
		pump_once(&w);
		b_was_urgent |= nm_dataplane_urgent(w.b.dp);
	}
	ck_assert_uint_eq(nm_mig_history(nm_migdp_engine(w.a.md), h, 1), 1);
	ck_assert(h[0].ok);
	ck_assert(b_was_urgent);
	ck_assert(pump_until(&w, neither_urgent));
	/*
	 * A still forwards (linger_ms, 5 s): that alone keeps no worker urgent and
	 * leaves neither control thread busy (long naps). An event that reaches A's
	 * stub makes A busy until it has moved on. On a loaded machine a stall of
	 * seconds can end the forwarding before this point, and then there is no
	 * stub to send to, so the check is skipped; the loop below polls only A's
	 * worker, never its engine, so it cannot end the forwarding itself.
	 */
	if (!a_forwards_nothing(&w)) {
		ck_assert(!nm_migdp_busy(w.a.md) && !nm_migdp_busy(w.b.md));
		w.s.dest = &w.a; /* a straggler, sent before G saw Moved */
		sender_send(&w.s);
		const uint64_t end = nm_mono_ms() + DEADLINE_MS;
		while (!nm_migdp_busy(w.a.md) && nm_mono_ms() < end)
			nm_worker_poll(w.a.dp->workers[0]);
		ck_assert(nm_migdp_busy(w.a.md));
		w.s.dest = &w.b;
		ck_assert(pump_until(&w, everything_answered));
		ck_assert(pump_until(&w, neither_busy));
	}
	send_and_pump(&w, 50);
	check_exactly_once(&w);
	world_down(&w);
}
END_TEST

static Suite *migdp_suite(void)
{
	Suite *s = suite_create("migdp");
	TCase *tc = tcase_create("appliances");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_pinned_counter_migrates_there_and_back_exactly_once);
	tcase_add_test(tc, migrations_under_migration_message_loss_keep_every_event);
	tcase_add_test(tc, a_failed_return_releases_the_hold_on_the_second_node);
	tcase_add_test(tc, a_link_outage_during_the_migration_keeps_every_event_and_the_way_back);
	tcase_add_test(tc, a_hold_overflow_is_reported_as_such_and_loses_nothing);
	tcase_add_test(tc, the_target_restores_into_its_hold_with_one_worker_request);
	tcase_add_test(tc, activate_target_leaves_before_the_source_detaches_the_host);
	tcase_add_test(tc, both_nodes_are_urgent_while_the_migration_runs_and_only_then);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init_lcores(argv[0], "--lcores=0@0,1@1,2@1,3@0");
	return nm_test_run_nofork(migdp_suite());
}

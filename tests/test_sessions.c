/* SPDX-License-Identifier: MIT */
/*
 * test_sessions.c - two nodes in one process complete the Net handshake and
 * exchange events over the sessions it creates.
 *
 * Each node is a dataplane on its own ring port. Workers are not launched:
 * the test thread runs both nodes' loops and carries frames between the
 * ports (pump), so it can also drop, replay or tamper with frames in flight.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_handshake.h"
#include "nm_keys.h"
#include "nm_mesh.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_runtime.h"
#include "nm_sessmgr.h"
#include "nm_test.h"
#include "nm_time.h"

/*
 * Short but not tight timers: health bands are 1.5 and 3 heartbeats wide, so
 * a loaded machine that stalls the test thread for a while cannot skip one.
 * Tests wait for conditions (with generous deadlines), never for durations.
 */
#define HB_MS 250
#define TIMEOUT_MS 1500
#define DEADLINE_MS 5000

#define IP_A RTE_IPV4(127, 0, 0, 1)
#define IP_B RTE_IPV4(127, 0, 0, 2)

struct node {
	char keydir[64];
	struct nm_keys keys;
	struct rte_ring *rx, *tx;
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	int peer; /* the other node, in our session manager */
};

static unsigned gen;

static void node_up(struct node *n, const char *name, uint32_t ip, unsigned lcore, uint8_t psk_byte)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->keydir, sizeof(n->keydir), "/tmp/nm_sess_%s_XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(n->keydir));
	struct nm_error err;
	ck_assert_int_eq(nm_keys_load_or_create(&n->keys, n->keydir, &err), 0);
	char rn[32];
	snprintf(rn, sizeof(rn), "s%u_%s_rx", gen, name);
	n->rx = rte_ring_create(rn, 1024, 0, RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "s%u_%s_tx", gen, name);
	n->tx = rte_ring_create(rn, 1024, 0, RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "s%u_%s", gen, name);
	int port = rte_eth_from_rings(rn, &n->rx, 1, &n->tx, 1, 0);
	ck_assert_int_ge(port, 0);
	char pname[RTE_ETH_NAME_MAX_LEN];
	ck_assert_int_eq(rte_eth_dev_get_name_by_port((uint16_t)port, pname), 0);
	struct nm_mesh_config mc = { .port = pname, .node_seed = nm_identity_seed(&n->keys.identity) };
	memset(mc.psk, psk_byte, sizeof(mc.psk));
	ck_assert_int_eq(nm_mesh_create(&mc, &n->mesh, &err), 0);
	n->rt = nm_runtime_create(nm_mesh_node(n->mesh));
	ck_assert_int_eq(nm_builtin_register_all(n->rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(n->rt, NULL), 0);
	const unsigned lcores[1] = { lcore };
	struct nm_dataplane_config dc = { .mesh = n->mesh, .rt = n->rt, .ip = ip, .n_workers = 1,
					  .lcores = lcores, .n_mbufs = 2047 };
	ck_assert_int_eq(nm_dataplane_create(&dc, &n->dp, &err), 0);
	struct nm_sessmgr_config sc = { .dp = n->dp, .keys = &n->keys, .psk = nm_mesh_psk(n->mesh),
					.heartbeat_ms = HB_MS, .session_timeout_ms = TIMEOUT_MS,
					.handshake_timeout_ms = 400, .attempt_wait_ms = 50,
					.backoff_ms = 10 };
	ck_assert_int_eq(nm_sessmgr_create(&sc, &n->sm, &err), 0);
}

/* a knows b (and may connect to it). */
static void know(struct node *a, const struct node *b, uint32_t b_ip, bool connect)
{
	struct nm_error err;
	struct nm_sm_peer_config pc = {
		.ip = b_ip, .mac = &b->dp->port.mac, .node_id = b->keys.identity.node_id,
		.static_pub = connect ? b->keys.noise_pk : NULL, .connect = connect,
	};
	a->peer = nm_sessmgr_add_peer(a->sm, &pc, &err);
	ck_assert_msg(a->peer >= 0, "%s", err.msg);
}

/* Both nodes' counters, for a condition that never came true. */
static void dump(const struct node *n, const char *name)
{
	struct nm_lcore_stats st;
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%s: ", name);
	nm_dataplane_stats(n->dp, &st);
	nm_stats_print(stderr, prefix, &st);
	fputs(prefix, stderr);
	nm_sessmgr_stats_print(stderr, n->sm);
}

static void node_down(struct node *n)
{
	struct rte_mempool *pool = n->dp->port.pool;
	nm_sessmgr_destroy(n->sm);
	nm_runtime_shutdown(n->rt, NULL);
	struct rte_mbuf *m;
	bool busy;
	do { /* the worker may still send what the control thread queued */
		busy = nm_worker_poll(n->dp->workers[0]) != 0;
		while (rte_ring_dequeue(n->tx, (void **)&m) == 0 ||
		       rte_ring_dequeue(n->rx, (void **)&m) == 0) {
			rte_pktmbuf_free(m);
			busy = true;
		}
	} while (busy);
	ck_assert_msg(rte_mempool_in_use_count(pool) == 0, "%s: %u mbufs leaked", n->keydir,
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

/* Frames still on the wire belong to the sender's pool: free them all before either node goes. */
static void pair_down(struct node *a, struct node *b)
{
	struct node *n[2] = { a, b };
	struct rte_mbuf *m;
	for (int i = 0; i < 2; i++)
		while (rte_ring_dequeue(n[i]->rx, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	node_down(a);
	node_down(b);
}

/* What happens to a frame on the wire: pass it, or the filter keeps it. */
typedef bool (*wire_filter)(struct rte_mbuf *m, void *ctx);

static unsigned carry(struct node *from, struct node *to, wire_filter f, void *ctx)
{
	struct rte_mbuf *m;
	unsigned n = 0;
	while (rte_ring_dequeue(from->tx, (void **)&m) == 0) {
		n++;
		if (f != NULL && !f(m, ctx))
			continue; /* the filter took it */
		ck_assert_int_eq(rte_ring_enqueue(to->rx, m), 0);
	}
	return n;
}

static unsigned step(struct node *n)
{
	unsigned k = nm_worker_poll(n->dp->workers[0]);
	k += nm_dataplane_poll_slowpath(n->dp);
	nm_sessmgr_poll(n->sm);
	return k;
}

/* Run both nodes and the wire until nothing moves (or ms elapse). */
static void pump(struct node *a, struct node *b, unsigned ms, wire_filter ab, wire_filter ba,
		 void *ctx)
{
	uint64_t end = nm_mono_ns() + (uint64_t)ms * 1000000ULL;
	do {
		unsigned moved = step(a) + step(b);
		moved += carry(a, b, ab, ctx) + carry(b, a, ba, ctx);
		if (moved == 0)
			usleep(200);
	} while (nm_mono_ns() < end);
}

typedef bool (*condition)(struct node *a, struct node *b);

/* The condition "a session-manager counter of node n reached min", for pump_until. */
static struct {
	const struct node *n;
	size_t off;
	uint64_t min;
} want;

static bool counter_reached(struct node *a, struct node *b)
{
	(void)a;
	(void)b;
	const uint8_t *st = (const uint8_t *)nm_sessmgr_stats(want.n->sm);
	return *(const uint64_t *)(st + want.off) >= want.min;
}

static condition sm_at_least(const struct node *n, size_t off, uint64_t min)
{
	want.n = n;
	want.off = off;
	want.min = min;
	return counter_reached;
}
#define SM_AT_LEAST(n, field, min) sm_at_least((n), offsetof(struct nm_sessmgr_stats, field), (min))


/* Run both nodes and the wire until cond holds (true) or DEADLINE_MS pass (false). */
static bool pump_until(struct node *a, struct node *b, condition cond, wire_filter ab,
		       wire_filter ba, void *ctx)
{
	uint64_t end = nm_mono_ns() + (uint64_t)DEADLINE_MS * 1000000ULL;
	while (!cond(a, b)) {
		if (nm_mono_ns() >= end) {
			dump(a, "a");
			dump(b, "b");
			return false;
		}
		unsigned moved = step(a) + step(b);
		moved += carry(a, b, ab, ctx) + carry(b, a, ba, ctx);
		if (moved == 0)
			usleep(200);
	}
	return true;
}

static struct nm_peer_status status(const struct node *n)
{
	struct nm_peer_status st;
	ck_assert_int_eq(nm_sessmgr_peer_status(n->sm, n->peer, &st), 0);
	return st;
}

static bool established(struct node *a, struct node *b)
{
	uint64_t sa = status(a).session_id;
	return sa != 0 && sa == status(b).session_id;
}

static bool heartbeats_both_ways(struct node *a, struct node *b)
{
	return nm_sessmgr_stats(a->sm)->heartbeats_sent >= 2 &&
	       nm_sessmgr_stats(b->sm)->heartbeats_sent >= 2;
}

static void pair_up(struct node *a, struct node *b, uint8_t psk_a, uint8_t psk_b)
{
	gen++;
	node_up(a, "a", IP_A, 1, psk_a);
	node_up(b, "b", IP_B, 2, psk_b);
	know(b, a, IP_A, false); /* b only responds */
	know(a, b, IP_B, true);  /* a connects */
}

/* One drop counter of a node's dataplane. */
static uint64_t drops_of(const struct node *n, enum nm_drop why)
{
	struct nm_lcore_stats st;
	nm_dataplane_stats(n->dp, &st);
	return st.drops[why];
}

/* n refuses frame m, once, for exactly this reason. */
static void expect_refused(struct node *n, struct rte_mbuf *m, enum nm_drop why)
{
	struct nm_lcore_stats before, after;
	nm_dataplane_stats(n->dp, &before);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(rte_ring_enqueue(n->rx, m), 0);
	step(n);
	nm_dataplane_stats(n->dp, &after);
	ck_assert_uint_eq(after.drops[why], before.drops[why] + 1);
	ck_assert_uint_eq(nm_stats_total_drops(&after), nm_stats_total_drops(&before) + 1);
}

START_TEST(handshake_establishes_matching_sessions)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	struct nm_peer_status sa = status(&a);
	ck_assert_int_eq(sa.health, NM_PEER_HEALTHY);
	ck_assert(!sa.handshaking);
	ck_assert_uint_gt(sa.rtt_ns, 0);
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->handshakes_completed, 1);
	/* A loaded machine can let a's 50 ms attempt lapse: its retry is a new msg1 (a new
	 * ephemeral), which b answers too; a keeps the one msg2 it completed. */
	ck_assert_uint_ge(nm_sessmgr_stats(b.sm)->handshakes_completed, 1);
	ck_assert_uint_le(nm_sessmgr_stats(b.sm)->handshakes_completed,
			  nm_sessmgr_stats(a.sm)->handshakes_started);
	/* Heartbeats flow both ways and keep both sides healthy. */
	ck_assert(pump_until(&a, &b, heartbeats_both_ways, NULL, NULL, NULL));
	pump(&a, &b, 20, NULL, NULL, NULL); /* the last beat reaches its peer */
	ck_assert_int_eq(status(&a).health, NM_PEER_HEALTHY);
	ck_assert_int_eq(status(&b).health, NM_PEER_HEALTHY);
	pair_down(&a, &b);
}
END_TEST

static struct nm_daemon_handle spawn(struct node *n, const char *kind, uint8_t seed_byte)
{
	uint8_t seed[32] = { seed_byte, 0x55 };
	struct nm_identity id;
	nm_identity_from_seed(&id, seed);
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = n->dp->workers[0]->lcore;
	struct nm_daemon_handle h;
	struct nm_error err;
	ck_assert_int_eq(nm_runtime_spawn(n->rt, kind, &id, &cfg, &h, &err), 0);
	return h;
}

static const struct nm_daemon_handle *watched_sink;

static bool sink_saw_ten(struct node *a, struct node *b)
{
	(void)a;
	(void)b;
	struct nm_daemon_stats st;
	return nm_daemon_handle_stats(watched_sink, &st, NULL) == 0 && st.events_processed >= 10;
}

START_TEST(events_cross_the_established_sessions_both_ways)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	uint64_t sid = status(&a).session_id;

	/* A's echo forwards to B's counter, whose outputs go to A's sink. */
	struct nm_daemon_handle echo = spawn(&a, "echo", 1);
	struct nm_daemon_handle counter = spawn(&b, "counter", 2);
	struct nm_daemon_handle sink = spawn(&a, "sink", 3);
	ck_assert_int_eq(nm_dataplane_route_outputs(a.dp, echo.origin_hash, sid, counter.origin_hash, NULL), 0);
	ck_assert_int_eq(nm_dataplane_route_outputs(b.dp, counter.origin_hash, sid, sink.origin_hash, NULL), 0);

	/* A third party with an installed session feeds A's echo (the test plays it). */
	const uint8_t k_in[32] = { 7 }, k_out[32] = { 8 };
	const struct rte_ether_addr t_mac = { { 2, 0, 0, 0, 0, 0x33 } };
	int tp = nm_dataplane_peer_add(a.dp, RTE_IPV4(127, 0, 0, 3), 7777, &t_mac, NULL);
	struct nm_session_params sp = { .session_id = 0x77, .peer = (uint16_t)tp };
	memcpy(sp.rx_key, k_in, 32);
	memcpy(sp.tx_key, k_out, 32);
	ck_assert_int_eq(nm_dataplane_session_add(a.dp, &sp, NULL), 0);
	struct nm_aead t_tx;
	nm_aead_init(&t_tx, k_in, 0x77);
	struct nm_pkt_endpoint t = { t_mac, RTE_IPV4(127, 0, 0, 3), 7777 };
	struct nm_pkt_endpoint us = { a.dp->port.mac, IP_A, 7777 };
	struct nm_event evs[10];
	for (int i = 0; i < 10; i++)
		evs[i] = (struct nm_event){ .link = { 0x3, 0, (uint64_t)i + 1, 0 },
					    .payload = (const uint8_t *)"go", .len = 2 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(a.dp->port.pool);
	struct nm_packet_tx tx = { .src = &t, .dst = &us, .key = &t_tx, .session_id = 0x77,
				   .stream_id = echo.origin_hash, .budget = nm_packet_budget(1500) };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &tx,
					 evs, 10, &used, &len), 0);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	ck_assert_int_eq(rte_ring_enqueue(a.rx, m), 0);
	watched_sink = &sink;
	ck_assert(pump_until(&a, &b, sink_saw_ten, NULL, NULL, NULL));

	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&counter, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, 10); /* A -> B over the handshake's session */
	ck_assert_int_eq(nm_daemon_handle_stats(&sink, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, 10); /* B -> A back over it */
	/* A's replies to the third party have no wire to go to: drain them. */
	pair_down(&a, &b);
}
END_TEST

START_TEST(wrong_psk_gives_no_session_and_a_counted_failure)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x43);
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&b, handshake_failures, 1), NULL, NULL, NULL));
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&a, handshake_timeouts, 1), NULL, NULL, NULL));
	ck_assert_uint_eq(status(&a).session_id, 0);
	ck_assert_uint_eq(status(&b).session_id, 0);
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->handshakes_completed, 0);
	pair_down(&a, &b);
}
END_TEST

static bool tamper(struct rte_mbuf *m, void *ctx)
{
	(void)ctx;
	rte_pktmbuf_mtod(m, uint8_t *)[m->data_len - 1] ^= 0x01; /* last byte of msg2's tag */
	return true;
}

START_TEST(tampered_msg2_is_rejected)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	/* Every B -> A frame is tampered: A never completes, and gives the round up. */
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&b, handshakes_completed, 1), NULL, tamper, NULL));
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&a, handshake_timeouts, 1), NULL, tamper, NULL));
	ck_assert_uint_eq(status(&a).session_id, 0);
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->handshakes_completed, 0);
	pair_down(&a, &b);
}
END_TEST

struct capture {
	struct rte_mbuf *first;
	struct rte_mempool *pool;
};

static bool capture_first(struct rte_mbuf *m, void *ctx)
{
	struct capture *c = ctx;
	if (c->first == NULL)
		c->first = rte_pktmbuf_copy(m, c->pool, 0, UINT32_MAX);
	return true;
}

START_TEST(replayed_msg1_is_dropped)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	struct capture c = { NULL, b.dp->port.pool };
	ck_assert(pump_until(&a, &b, established, capture_first, NULL, &c));
	ck_assert_ptr_nonnull(c.first); /* A's msg1 */
	uint64_t sid = status(&b).session_id;
	ck_assert_int_eq(rte_ring_enqueue(b.rx, c.first), 0);
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&b, msg1_replays, 1), NULL, NULL, NULL));
	ck_assert_uint_eq(status(&b).session_id, sid); /* no rotation */
	pair_down(&a, &b);
}
END_TEST

struct cut {
	bool down;
	struct rte_mbuf *old; /* an A -> B frame sealed under the first session */
	struct rte_mempool *pool;
};

static bool cut_drop(struct rte_mbuf *m, struct cut *c)
{
	if (!c->down)
		return true;
	rte_pktmbuf_free(m);
	return false;
}

static bool cut_ab(struct rte_mbuf *m, void *ctx)
{
	struct cut *c = ctx;
	if (c->down && c->old == NULL)
		c->old = rte_pktmbuf_copy(m, c->pool, 0, UINT32_MAX);
	return cut_drop(m, c);
}

static bool cut_ba(struct rte_mbuf *m, void *ctx)
{
	return cut_drop(m, ctx);
}

static bool a_degraded(struct node *a, struct node *b)
{
	(void)b;
	return status(a).health == NM_PEER_DEGRADED;
}

static uint64_t first_session;

static bool rotated(struct node *a, struct node *b)
{
	return established(a, b) && status(a).session_id != first_session;
}

START_TEST(silence_makes_a_peer_unreachable_and_a_new_handshake_restores_it)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	first_session = status(&a).session_id;

	/* Cut the link both ways: heartbeats stop arriving; health walks down. */
	struct cut c = { .down = true, .pool = b.dp->port.pool };
	ck_assert(pump_until(&a, &b, a_degraded, cut_ab, cut_ba, &c));
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&a, sessions_expired, 1), cut_ab, cut_ba, &c)); /* 30 s upstream, 1.5 s here */
	struct nm_peer_status st = status(&a);
	ck_assert_int_eq(st.health, NM_PEER_UNREACHABLE);
	ck_assert_uint_eq(st.session_id, 0);

	/* Link back: A (connecting) handshakes again; B rotates to the new session. */
	c.down = false;
	ck_assert(pump_until(&a, &b, rotated, NULL, NULL, NULL));
	ck_assert_int_eq(status(&a).health, NM_PEER_HEALTHY);

	/* A frame sealed under the first session is dropped now. */
	expect_refused(&b, c.old, NM_DROP_SESSION_UNKNOWN);
	pair_down(&a, &b);
}
END_TEST

/* ================= early data: the responder's first packets after msg2 ================= */

#define HOLD_MAX 16

/* Keeps the frames a direction carries, so the test releases them when it wants. */
struct hold {
	struct rte_mbuf *m[HOLD_MAX];
	unsigned n;
};

static bool hold_all(struct rte_mbuf *m, void *ctx)
{
	struct hold *h = ctx;
	ck_assert_uint_lt(h->n, HOLD_MAX);
	h->m[h->n++] = m;
	return false;
}

static bool b_has_session(struct node *a, struct node *b)
{
	(void)a;
	return status(b).session_id != 0;
}

static struct nm_pkt_endpoint endpoint(const struct node *n, uint32_t ip)
{
	return (struct nm_pkt_endpoint){ n->dp->port.mac, ip, 7777 };
}

/* One event for daemon `stream`, sealed under `from`'s session sid, src -> dst. */
static struct rte_mbuf *sealed_event(struct node *from, uint64_t sid, const struct nm_pkt_endpoint *src,
				     const struct nm_pkt_endpoint *dst, uint64_t stream)
{
	struct nm_session *s = nm_dataplane_session_get(from->dp, sid);
	ck_assert_ptr_nonnull(s);
	struct nm_event ev = { .link = { 0x3, 0, 1, 0 }, .payload = (const uint8_t *)"first", .len = 5 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(from->dp->port.pool);
	ck_assert_ptr_nonnull(m);
	struct nm_packet_tx tx = { .src = src, .dst = dst, .key = &s->tx,
				   .counter = nm_session_next_tx(s), .session_id = sid,
				   .stream_id = stream, .budget = nm_packet_budget(1500) };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &tx,
					 &ev, 1, &used, &len), 0);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

static struct nm_daemon_handle watched;

static bool watched_saw_one(struct node *a, struct node *b)
{
	(void)a;
	(void)b;
	struct nm_daemon_stats st;
	return nm_daemon_handle_stats(&watched, &st, NULL) == 0 && st.events_processed >= 1;
}

/*
 * A initiates. B's msg2 and B's first data packet (to A's sink) reach A in
 * one burst, data_first swapped, before A's control thread ran: the event
 * must still reach the sink, and nothing be dropped.
 */
static void first_data_races_msg2(bool data_first)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	watched = spawn(&a, "sink", 3);
	struct hold h = { .n = 0 };
	ck_assert(pump_until(&a, &b, b_has_session, NULL, hold_all, &h));
	while (step(&b) != 0) /* B's worker sends msg2 */
		carry(&b, &a, hold_all, &h);
	carry(&b, &a, hold_all, &h);
	ck_assert_uint_eq(h.n, 1); /* msg2 */
	struct nm_pkt_endpoint eb = endpoint(&b, IP_B), ea = endpoint(&a, IP_A);
	struct rte_mbuf *data = sealed_event(&b, status(&b).session_id, &eb, &ea, watched.origin_hash);
	ck_assert_int_eq(rte_ring_enqueue(a.rx, data_first ? data : h.m[0]), 0);
	ck_assert_int_eq(rte_ring_enqueue(a.rx, data_first ? h.m[0] : data), 0);
	nm_worker_poll(a.dp->workers[0]); /* one burst, before any control poll */
	ck_assert(pump_until(&a, &b, watched_saw_one, NULL, NULL, NULL));
	struct nm_lcore_stats st;
	nm_dataplane_stats(a.dp, &st);
	ck_assert_uint_eq(st.drops[NM_DROP_SESSION_UNKNOWN], 0);
	ck_assert_uint_eq(nm_stats_total_drops(&st), 0);
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->early_data_delivered, 1);
	pair_down(&a, &b);
}

START_TEST(responders_first_data_right_after_msg2_is_delivered)
{
	first_data_races_msg2(false);
}
END_TEST

START_TEST(responders_first_data_before_msg2_is_delivered)
{
	first_data_races_msg2(true);
}
END_TEST

static bool a_established_again(struct node *a, struct node *b)
{
	return established(a, b) && nm_sessmgr_stats(a->sm)->handshakes_started >= 2;
}

/* msg2 is lost: the data sealed under its session can never open. Counted, never silent. */
START_TEST(early_data_of_a_lost_msg2_is_counted)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	watched = spawn(&a, "sink", 3);
	struct hold h = { .n = 0 };
	ck_assert(pump_until(&a, &b, b_has_session, NULL, hold_all, &h));
	while (step(&b) != 0)
		carry(&b, &a, hold_all, &h);
	carry(&b, &a, hold_all, &h);
	uint64_t lost_sid = status(&b).session_id;
	struct nm_pkt_endpoint eb = endpoint(&b, IP_B), ea = endpoint(&a, IP_A);
	ck_assert_int_eq(rte_ring_enqueue(a.rx, sealed_event(&b, lost_sid, &eb, &ea,
							     watched.origin_hash)), 0);
	for (unsigned i = 0; i < h.n; i++)
		rte_pktmbuf_free(h.m[i]); /* msg2 never arrives */
	/* A retries; B answers the new msg1 (its first session is a stale candidate now). */
	ck_assert(pump_until(&a, &b, a_established_again, NULL, NULL, NULL));
	ck_assert_uint_ne(status(&a).session_id, lost_sid);
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->early_data_dropped, 1);
	ck_assert_uint_eq(drops_of(&a, NM_DROP_SESSION_UNKNOWN), 1);
	pair_down(&a, &b);
}
END_TEST

/* ================= addressing ================= */

static uint16_t udp_port_at(const struct rte_mbuf *m, unsigned off)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *) + NM_PKT_L4_OFF + off;
	return (uint16_t)(f[0] << 8 | f[1]);
}

static void set_udp_port_at(struct rte_mbuf *m, unsigned off, uint16_t port)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *) + NM_PKT_L4_OFF;
	f[off] = (uint8_t)(port >> 8);
	f[off + 1] = (uint8_t)port;
	f[6] = f[7] = 0; /* no UDP checksum (allowed on IPv4) */
}

/* A NAT in front of B: B's port 7777 is 40000 outside. */
#define NAT_PORT 40000

struct nat {
	unsigned to_nat, to_direct; /* A -> B frames by destination port */
	uint16_t last_dst;          /* B -> A: the last destination port B used */
	uint16_t b_port;            /* B's outside port */
	uint16_t watch_port;        /* B -> A: count the frames to this port */
	unsigned to_watch;
};

static bool nat_ab(struct rte_mbuf *m, void *ctx)
{
	struct nat *n = ctx;
	if (udp_port_at(m, 2) == n->b_port) {
		n->to_nat++;
		set_udp_port_at(m, 2, 7777);
	} else {
		n->to_direct++;
	}
	return true;
}

static bool nat_ba(struct rte_mbuf *m, void *ctx)
{
	struct nat *n = ctx;
	n->last_dst = udp_port_at(m, 2);
	n->to_watch += n->last_dst == n->watch_port;
	set_udp_port_at(m, 0, n->b_port);
	return true;
}

static bool nat_both_ways(struct node *a, struct node *b)
{
	return nm_sessmgr_stats(a->sm)->heartbeats_sent >= 3 &&
	       nm_sessmgr_stats(b->sm)->heartbeats_sent >= 2;
}

START_TEST(replies_go_to_the_observed_source_port)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	struct nat n = { .b_port = NAT_PORT };
	/* A is configured with B's port 7777, but B's packets come from 40000. */
	ck_assert(pump_until(&a, &b, nat_both_ways, nat_ab, nat_ba, &n));
	pump(&a, &b, 20, nat_ab, nat_ba, &n);
	/* Only msg1 (each attempt) went to the configured port; everything after msg2 to 40000. */
	ck_assert_uint_eq(n.to_direct, nm_sessmgr_stats(a.sm)->handshakes_started);
	ck_assert_uint_ge(n.to_nat, 3);
	ck_assert_int_eq(status(&a).health, NM_PEER_HEALTHY);
	ck_assert_int_eq(status(&b).health, NM_PEER_HEALTHY);
	pair_down(&a, &b);
}
END_TEST

#define IP_STRANGER RTE_IPV4(127, 0, 0, 9)

START_TEST(a_session_packet_from_another_address_is_refused)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	struct nm_daemon_handle counter = spawn(&b, "counter", 2);
	/* A valid packet of A's session, from an address no peer has. */
	struct nm_pkt_endpoint from = endpoint(&a, IP_STRANGER), eb = endpoint(&b, IP_B);
	expect_refused(&b, sealed_event(&a, status(&a).session_id, &from, &eb, counter.origin_hash),
		       NM_DROP_SESSION_ADDR);
	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&counter, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, 0);
	pair_down(&a, &b);
}
END_TEST

/* A msg1 for B as A would send it (anyone holding the PSK can), from `src`. */
static struct rte_mbuf *forged_msg1(struct node *a, struct node *b, const struct nm_pkt_endpoint *src)
{
	struct nm_hs hs;
	struct nm_hs_config hc = { .initiator = true, .local_node_id = a->keys.identity.node_id,
				   .peer_node_id = b->keys.identity.node_id, .psk = nm_mesh_psk(a->mesh),
				   .peer_static_pk = b->keys.noise_pk };
	uint8_t msg[NM_HS_MSG_LEN];
	size_t len, plen;
	ck_assert_int_eq(nm_hs_init(&hs, &hc), 0);
	ck_assert_int_eq(nm_hs_write(&hs, NULL, 0, msg, sizeof(msg), &len), 0);
	nm_hs_wipe(&hs);
	struct rte_mbuf *m = rte_pktmbuf_alloc(b->dp->port.pool);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	ck_assert_int_eq(nm_hs_pkt_encode(msg, len, f + NM_PKT_DATA_OFF, NM_HS_PKT_LEN, &plen), 0);
	struct nm_pkt_endpoint dst = endpoint(b, IP_B);
	ck_assert_int_eq(nm_pkt_build_udp(f, rte_pktmbuf_tailroom(m), src, &dst, 1, plen, 0), 0);
	m->data_len = (uint16_t)(NM_PKT_DATA_OFF + plen);
	m->pkt_len = m->data_len;
	return m;
}

START_TEST(a_handshake_from_an_unconfigured_address_is_refused_and_shown)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	struct nm_pkt_endpoint from = endpoint(&a, IP_STRANGER);
	ck_assert_int_eq(rte_ring_enqueue(b.rx, forged_msg1(&a, &b, &from)), 0);
	step(&b);
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->unknown_peer, 1);
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->handshakes_completed, 0);
	/* The appliance's periodic stats show it. */
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	nm_sessmgr_stats_print(f, b.sm);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "unknown_peer=1 "));
	ck_assert_ptr_nonnull(strstr(text, "handshake_failures=0 "));
	ck_assert_ptr_nonnull(strstr(text, "msg1_replays=0 "));
	free(text);
	pair_down(&a, &b);
}
END_TEST

static bool a_dropped_udp_port(struct node *a, struct node *b)
{
	(void)b;
	return drops_of(a, NM_DROP_UDP_PORT) >= 1;
}

START_TEST(a_new_msg1_does_not_replace_the_live_session)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	const uint64_t live = status(&b).session_id;
	/* A valid msg1 from A's address but another port: a PSK holder, or a replay beyond the window. */
	struct nm_pkt_endpoint from = endpoint(&a, IP_A);
	from.port = 40001;
	ck_assert_int_eq(rte_ring_enqueue(b.rx, forged_msg1(&a, &b, &from)), 0);
	struct nat watch = { .b_port = 7777, .watch_port = 40001 };
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&b, handshakes_completed, 2), NULL, nat_ba, &watch));
	ck_assert(pump_until(&a, &b, a_dropped_udp_port, NULL, nat_ba, &watch));
	/* msg2 went where that msg1 came from (A, not listening there, drops it as udp_port). */
	ck_assert_uint_eq(watch.to_watch, 1);
	ck_assert_uint_eq(drops_of(&a, NM_DROP_UDP_PORT), 1);
	/* Nobody confirms the candidate: the live session stays, replies stay where they were. */
	ck_assert(pump_until(&a, &b, SM_AT_LEAST(&b, candidate_timeouts, 1), NULL, nat_ba, &watch));
	ck_assert_uint_eq(status(&b).session_id, live);
	ck_assert(established(&a, &b));
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->sessions_rotated, 0);
	ck_assert_uint_eq(watch.last_dst, 7777);
	ck_assert_uint_eq(drops_of(&b, NM_DROP_SESSION_UNKNOWN), 0);
	ck_assert_int_eq(status(&b).health, NM_PEER_HEALTHY);
	pair_down(&a, &b);
}
END_TEST

/* A after a restart: it handshakes again from a new source port (40002). */
struct moved {
	bool on;
	uint16_t last_dst;    /* B -> A */
	struct rte_mbuf *old; /* an A -> B packet under the first session */
};

static bool moved_ab(struct rte_mbuf *m, void *ctx)
{
	struct moved *mv = ctx;
	if (mv->on)
		set_udp_port_at(m, 0, 40002);
	return true;
}

static bool moved_ba(struct rte_mbuf *m, void *ctx)
{
	struct moved *mv = ctx;
	mv->last_dst = udp_port_at(m, 2);
	if (udp_port_at(m, 2) == 40002)
		set_udp_port_at(m, 2, 7777);
	return true;
}

static bool b_rotated(struct node *a, struct node *b)
{
	return nm_sessmgr_stats(b->sm)->sessions_rotated >= 1 && established(a, b);
}

START_TEST(a_restarted_peer_takes_over_once_its_first_packet_authenticates)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	struct moved mv = { .on = false };
	ck_assert(pump_until(&a, &b, established, moved_ab, moved_ba, &mv));
	const uint64_t first = status(&b).session_id;
	/* An event under the first session, kept to be replayed after the restart. */
	struct nm_daemon_handle counter = spawn(&b, "counter", 2);
	struct nm_pkt_endpoint ea = endpoint(&a, IP_A), eb = endpoint(&b, IP_B);
	mv.old = sealed_event(&a, first, &ea, &eb, counter.origin_hash);
	mv.on = true;
	ck_assert_int_eq(nm_sessmgr_connect(a.sm, a.peer, NULL), 0);
	ck_assert(pump_until(&a, &b, b_rotated, moved_ab, moved_ba, &mv));
	ck_assert_uint_ne(status(&b).session_id, first);
	ck_assert(pump_until(&a, &b, heartbeats_both_ways, moved_ab, moved_ba, &mv));
	pump(&a, &b, 20, moved_ab, moved_ba, &mv);
	ck_assert_uint_eq(mv.last_dst, 40002); /* B answers where A is now */
	/* The old session is refused. */
	expect_refused(&b, mv.old, NM_DROP_SESSION_UNKNOWN);
	pair_down(&a, &b);
}
END_TEST

/* ================= veth / af_packet: the kernel's unfinished UDP checksum ================= */

/* What a kernel sender with checksum offload leaves in the frame: the pseudo-header sum only. */
static bool partial_cksum(struct rte_mbuf *m, void *ctx)
{
	(void)ctx;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + NM_PKT_L3_OFF);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(f + NM_PKT_L4_OFF);
	if (ip->next_proto_id == IPPROTO_UDP)
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, 0);
	return true;
}

START_TEST(frames_with_a_partial_udp_checksum_are_accepted)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, heartbeats_both_ways, partial_cksum, partial_cksum, NULL));
	ck_assert_uint_eq(drops_of(&a, NM_DROP_UDP_CKSUM), 0);
	ck_assert_uint_eq(drops_of(&b, NM_DROP_UDP_CKSUM), 0);
	pair_down(&a, &b);
}
END_TEST

static bool agreed_and_beating(struct node *a, struct node *b)
{
	return established(a, b) && heartbeats_both_ways(a, b);
}

/* Both nodes connect at once: their handshakes cross, and they must still agree on one session. */
START_TEST(crossed_handshakes_agree_on_one_session)
{
	struct node a, b;
	gen++;
	node_up(&a, "a", IP_A, 1, 0x42);
	node_up(&b, "b", IP_B, 2, 0x42);
	know(&b, &a, IP_A, true);
	know(&a, &b, IP_B, true);
	step(&a); /* both msg1s are on the wire before either is read */
	step(&b);
	ck_assert(pump_until(&a, &b, agreed_and_beating, NULL, NULL, NULL));
	pump(&a, &b, 20, NULL, NULL, NULL);
	ck_assert(established(&a, &b));
	ck_assert_uint_eq(drops_of(&a, NM_DROP_SESSION_UNKNOWN), 0);
	ck_assert_uint_eq(drops_of(&b, NM_DROP_SESSION_UNKNOWN), 0);
	pair_down(&a, &b);
}
END_TEST


/* What B's migration handler got (a_message_larger_than_the_mtu_goes_as_fragments). */
static struct {
	unsigned n;
	size_t len;
	uint8_t body[6000];
} got_msg;

static void on_mig_message(void *ctx, uint16_t peer, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)peer;
	got_msg.n++;
	got_msg.len = len;
	if (len <= sizeof(got_msg.body))
		memcpy(got_msg.body, msg, len);
}

static bool message_arrived(struct node *a, struct node *b)
{
	(void)a;
	nm_dataplane_poll_migration(b->dp);
	return got_msg.n > 0;
}

/*
 * A 0x0500 message larger than one frame at the MTU (a 7000-byte
 * SnapshotReady chunk, a BufferedEvents batch of up to 8 KB) leaves as IPv4
 * fragments and arrives whole. It was refused (-EMSGSIZE, tx_failures) as
 * soon as the datagram did not fit one mbuf, so every migration that held
 * more than about 20 events lost them.
 */
START_TEST(a_message_larger_than_the_mtu_goes_as_fragments)
{
	struct node a, b;
	uint8_t body[5000];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 1);
	pair_up(&a, &b, 0x42, 0x42);
	memset(&got_msg, 0, sizeof(got_msg));
	nm_dataplane_set_migration(b.dp, on_mig_message, NULL);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	ck_assert_int_eq(nm_sessmgr_send_message(a.sm, b.keys.identity.node_id,
						 NM_SUBPROTOCOL_MIGRATION, NM_SUBPROTOCOL_MIGRATION,
						 body, sizeof(body)), 0);
	ck_assert(pump_until(&a, &b, message_arrived, NULL, NULL, NULL));
	ck_assert_uint_eq(got_msg.n, 1);
	ck_assert_uint_eq(got_msg.len, sizeof(body));
	ck_assert_mem_eq(got_msg.body, body, sizeof(body));
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->tx_failures, 0);
	nm_dataplane_set_migration(b.dp, NULL, NULL);
	pair_down(&a, &b);
}
END_TEST

/*
 * A worker stamps a session's last packet with its own clock reading, which
 * can be later than the one the control thread took at the start of its poll
 * (it reads the clock, is preempted, then looks at the session). That is a
 * session heard from just now, not one silent since the far past.
 */
START_TEST(a_stamp_newer_than_the_control_clock_is_not_silence)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x42);
	ck_assert(pump_until(&a, &b, established, NULL, NULL, NULL));
	struct nm_session *s = nm_dataplane_session_get(b.dp, status(&b).session_id);
	ck_assert_ptr_nonnull(s);
	atomic_store(&s->last_rx_ns, nm_mono_ns() + 1000000000ULL); /* the worker ran ahead */
	nm_sessmgr_poll(b.sm);
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->sessions_expired, 0);
	ck_assert_uint_ne(status(&b).session_id, 0);
	ck_assert_int_eq(status(&b).health, NM_PEER_HEALTHY);
	pair_down(&a, &b);
}
END_TEST

static Suite *sessions_suite(void)
{
	Suite *s = suite_create("sessions");
	TCase *tc = tcase_create("two_nodes");
	tcase_add_test(tc, handshake_establishes_matching_sessions);
	tcase_add_test(tc, events_cross_the_established_sessions_both_ways);
	tcase_add_test(tc, wrong_psk_gives_no_session_and_a_counted_failure);
	tcase_add_test(tc, tampered_msg2_is_rejected);
	tcase_add_test(tc, replayed_msg1_is_dropped);
	tcase_add_test(tc, silence_makes_a_peer_unreachable_and_a_new_handshake_restores_it);
	tcase_add_test(tc, responders_first_data_right_after_msg2_is_delivered);
	tcase_add_test(tc, responders_first_data_before_msg2_is_delivered);
	tcase_add_test(tc, early_data_of_a_lost_msg2_is_counted);
	tcase_add_test(tc, replies_go_to_the_observed_source_port);
	tcase_add_test(tc, a_session_packet_from_another_address_is_refused);
	tcase_add_test(tc, a_handshake_from_an_unconfigured_address_is_refused_and_shown);
	tcase_add_test(tc, a_new_msg1_does_not_replace_the_live_session);
	tcase_add_test(tc, a_restarted_peer_takes_over_once_its_first_packet_authenticates);
	tcase_add_test(tc, frames_with_a_partial_udp_checksum_are_accepted);
	tcase_add_test(tc, crossed_handshakes_agree_on_one_session);
	tcase_add_test(tc, a_stamp_newer_than_the_control_clock_is_not_silence);
	tcase_add_test(tc, a_message_larger_than_the_mtu_goes_as_fragments);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init_lcores(argv[0], "--lcores=0@0,1@1,2@1"); /* 3 lcores on 2 CPUs */
	return nm_test_run_nofork(sessions_suite());
}

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
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_handshake.h"
#include "nm_keys.h"
#include "nm_mesh.h"
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

static void node_down(struct node *n)
{
	struct rte_mempool *pool = n->dp->port.pool;
	nm_sessmgr_destroy(n->sm);
	nm_runtime_shutdown(n->rt, NULL);
	struct rte_mbuf *m;
	while (rte_ring_dequeue(n->tx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(n->rx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (nm_worker_poll(n->dp->workers[0]) != 0)
		;
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
	uint64_t end = nm_wall_ns() + (uint64_t)ms * 1000000ULL;
	do {
		unsigned moved = step(a) + step(b);
		moved += carry(a, b, ab, ctx) + carry(b, a, ba, ctx);
		if (moved == 0)
			usleep(200);
	} while (nm_wall_ns() < end);
}

typedef bool (*condition)(struct node *a, struct node *b);

/* Run both nodes and the wire until cond holds (true) or DEADLINE_MS pass (false). */
static bool pump_until(struct node *a, struct node *b, condition cond, wire_filter ab,
		       wire_filter ba, void *ctx)
{
	uint64_t end = nm_wall_ns() + (uint64_t)DEADLINE_MS * 1000000ULL;
	while (!cond(a, b)) {
		if (nm_wall_ns() >= end)
			return false;
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

static bool b_refused_msg1(struct node *a, struct node *b)
{
	(void)a;
	return nm_sessmgr_stats(b->sm)->handshake_failures >= 1;
}

static bool a_timed_out(struct node *a, struct node *b)
{
	(void)b;
	return nm_sessmgr_stats(a->sm)->handshake_timeouts >= 1;
}

static bool b_completed(struct node *a, struct node *b)
{
	(void)a;
	return nm_sessmgr_stats(b->sm)->handshakes_completed >= 1;
}

static void pair_up(struct node *a, struct node *b, uint8_t psk_a, uint8_t psk_b)
{
	gen++;
	node_up(a, "a", IP_A, 1, psk_a);
	node_up(b, "b", IP_B, 2, psk_b);
	know(b, a, IP_A, false); /* b only responds */
	know(a, b, IP_B, true);  /* a connects */
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
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->handshakes_completed, 1);
	/* Heartbeats flow both ways and keep both sides healthy. */
	ck_assert(pump_until(&a, &b, heartbeats_both_ways, NULL, NULL, NULL));
	pump(&a, &b, 20, NULL, NULL, NULL); /* the last beat reaches its peer */
	ck_assert_int_eq(status(&a).health, NM_PEER_HEALTHY);
	ck_assert_int_eq(status(&b).health, NM_PEER_HEALTHY);
	node_down(&a);
	node_down(&b);
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
	node_down(&a);
	node_down(&b);
}
END_TEST

START_TEST(wrong_psk_gives_no_session_and_a_counted_failure)
{
	struct node a, b;
	pair_up(&a, &b, 0x42, 0x43);
	ck_assert(pump_until(&a, &b, b_refused_msg1, NULL, NULL, NULL));
	ck_assert(pump_until(&a, &b, a_timed_out, NULL, NULL, NULL));
	ck_assert_uint_eq(status(&a).session_id, 0);
	ck_assert_uint_eq(status(&b).session_id, 0);
	ck_assert_uint_eq(nm_sessmgr_stats(b.sm)->handshakes_completed, 0);
	node_down(&a);
	node_down(&b);
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
	ck_assert(pump_until(&a, &b, b_completed, NULL, tamper, NULL));
	ck_assert(pump_until(&a, &b, a_timed_out, NULL, tamper, NULL));
	ck_assert_uint_eq(status(&a).session_id, 0);
	ck_assert_uint_eq(nm_sessmgr_stats(a.sm)->handshakes_completed, 0);
	node_down(&a);
	node_down(&b);
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

static bool b_saw_replay(struct node *a, struct node *b)
{
	(void)a;
	return nm_sessmgr_stats(b->sm)->msg1_replays >= 1;
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
	ck_assert(pump_until(&a, &b, b_saw_replay, NULL, NULL, NULL));
	ck_assert_uint_eq(status(&b).session_id, sid); /* no rotation */
	node_down(&a);
	node_down(&b);
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

static bool a_expired(struct node *a, struct node *b)
{
	(void)b;
	return nm_sessmgr_stats(a->sm)->sessions_expired >= 1;
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
	ck_assert(pump_until(&a, &b, a_expired, cut_ab, cut_ba, &c)); /* 30 s upstream, 1.5 s here */
	struct nm_peer_status st = status(&a);
	ck_assert_int_eq(st.health, NM_PEER_UNREACHABLE);
	ck_assert_uint_eq(st.session_id, 0);

	/* Link back: A (connecting) handshakes again; B rotates to the new session. */
	c.down = false;
	ck_assert(pump_until(&a, &b, rotated, NULL, NULL, NULL));
	ck_assert_int_eq(status(&a).health, NM_PEER_HEALTHY);

	/* A frame sealed under the first session is dropped now. */
	struct nm_lcore_stats before, after;
	nm_dataplane_stats(b.dp, &before);
	ck_assert_ptr_nonnull(c.old);
	ck_assert_int_eq(rte_ring_enqueue(b.rx, c.old), 0);
	step(&b);
	nm_dataplane_stats(b.dp, &after);
	ck_assert_uint_eq(after.drops[NM_DROP_SESSION_UNKNOWN], before.drops[NM_DROP_SESSION_UNKNOWN] + 1);
	node_down(&a);
	node_down(&b);
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
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init_lcores(argv[0], "--lcores=0@0,1@1,2@1"); /* 3 lcores on 2 CPUs */
	return nm_test_run_nofork(sessions_suite());
}

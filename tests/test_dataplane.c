/* SPDX-License-Identifier: MIT */
/*
 * test_dataplane.c - the packet path end to end on rte_eth_from_rings: the
 * test plays the peer, injecting sealed Net packets into the port's RX rings
 * and opening what the workers send on the TX rings. Workers really run on
 * lcores 1 and 2 (EAL maps 3 lcores onto 2 CPUs). Every test ends with the
 * mempool back at zero mbufs in use.
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_horizon.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_packet.h"
#include "nm_runtime.h"
#include "nm_test.h"

#define IP_US RTE_IPV4(127, 0, 0, 1)
#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define SESSION 0x5E55105E55105ULL
#define N_WORKERS 2
#define LCORE_A 1
#define LCORE_B 2

static struct rte_ring *rx_rings[N_WORKERS], *tx_rings[N_WORKERS];
static char port_name[RTE_ETH_NAME_MAX_LEN];

static const uint8_t key_to_us[32] = { 0xA1, 0xA2, 0xA3 };   /* peer TX = our RX */
static const uint8_t key_from_us[32] = { 0xB1, 0xB2, 0xB3 }; /* our TX = peer RX */
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };

struct fixture {
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_aead peer_tx, peer_rx;
	struct nm_pkt_endpoint peer, us;
	uint64_t peer_counter;
};

/* A fresh ring port per test: the dataplane closes its port when destroyed. */
static void make_port(void)
{
	static unsigned gen;
	char n[32];
	gen++;
	for (int i = 0; i < N_WORKERS; i++) {
		snprintf(n, sizeof(n), "t_rx%u_%d", gen, i);
		rx_rings[i] = rte_ring_create(n, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "t_tx%u_%d", gen, i);
		tx_rings[i] = rte_ring_create(n, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		ck_assert(rx_rings[i] != NULL && tx_rings[i] != NULL);
	}
	snprintf(n, sizeof(n), "nm_rings%u", gen);
	int port = rte_eth_from_rings(n, rx_rings, N_WORKERS, tx_rings, N_WORKERS, 0);
	ck_assert_int_ge(port, 0);
	ck_assert_int_eq(rte_eth_dev_get_name_by_port((uint16_t)port, port_name), 0);
}

static void free_port_rings(void)
{
	for (int i = 0; i < N_WORKERS; i++) {
		rte_ring_free(rx_rings[i]);
		rte_ring_free(tx_rings[i]);
	}
}

static void fx_up(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	make_port();
	struct nm_mesh_config mc = { .port = port_name };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	struct nm_error err;
	ck_assert_int_eq(nm_mesh_create(&mc, &f->mesh, &err), 0);
	f->rt = nm_runtime_create(f->mesh);
	ck_assert_int_eq(nm_builtin_register_all(f->rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(f->rt, NULL), 0);
	const unsigned lcores[N_WORKERS] = { LCORE_A, LCORE_B };
	struct nm_dataplane_config dc = { .mesh = f->mesh, .rt = f->rt, .ip = IP_US,
					  .n_workers = N_WORKERS, .lcores = lcores, .n_mbufs = 2047 };
	int rc = nm_dataplane_create(&dc, &f->dp, &err);
	ck_assert_msg(rc == 0, "dataplane: %s", err.msg);
	int peer = nm_dataplane_peer_add(f->dp, IP_PEER, 7777, &peer_mac, &err);
	ck_assert_int_ge(peer, 0);
	struct nm_session_params sp = { .session_id = SESSION, .peer = (uint16_t)peer };
	memcpy(sp.tx_key, key_from_us, 32);
	memcpy(sp.rx_key, key_to_us, 32);
	ck_assert_int_eq(nm_dataplane_session_add(f->dp, &sp, &err), 0);
	ck_assert_int_eq(nm_dataplane_start(f->dp, &err), 0);

	nm_aead_init(&f->peer_tx, key_to_us, SESSION);
	nm_aead_init(&f->peer_rx, key_from_us, SESSION);
	f->peer = (struct nm_pkt_endpoint){ peer_mac, IP_PEER, 7777 };
	f->us = (struct nm_pkt_endpoint){ f->dp->port.mac, IP_US, 7777 };
}

static void drain_tx(void)
{
	struct rte_mbuf *m;
	for (int i = 0; i < N_WORKERS; i++)
		while (rte_ring_dequeue(tx_rings[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
}

static void fx_down(struct fixture *f)
{
	struct rte_mempool *pool = f->dp->port.pool;
	ck_assert_int_eq(nm_runtime_shutdown(f->rt, NULL), 0);
	nm_dataplane_stop(f->dp);
	drain_tx();
	ck_assert_msg(rte_mempool_in_use_count(pool) == 0, "%u mbufs leaked",
		      rte_mempool_in_use_count(pool));
	nm_dataplane_destroy(f->dp);
	nm_runtime_destroy(f->rt);
	nm_mesh_destroy(f->mesh);
	free_port_rings();
}

static struct nm_daemon_handle spawn_on(struct fixture *f, const char *kind, uint8_t seed_byte,
					unsigned lcore)
{
	uint8_t seed[32] = { seed_byte };
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = lcore;
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(f->rt, kind, &id, &cfg, &h, &err);
	ck_assert_msg(rc == 0, "spawn %s on %u: %s", kind, lcore, err.msg);
	return h;
}

/* A sealed packet from the peer with n events of `payload` for daemon `stream`. */
static struct rte_mbuf *peer_packet(struct fixture *f, uint64_t stream, const char *payload,
				    uint32_t n)
{
	struct nm_event evs[64];
	for (uint32_t i = 0; i < n; i++)
		evs[i] = (struct nm_event){ .link = { 0xFEED, 0, i + 1, 0 },
					    .payload = (const uint8_t *)payload,
					    .len = (uint32_t)strlen(payload) };
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->dp->port.pool);
	ck_assert_ptr_nonnull(m);
	struct nm_packet_tx t = { .src = &f->peer, .dst = &f->us, .key = &f->peer_tx,
				  .counter = f->peer_counter++, .session_id = SESSION,
				  .stream_id = stream, .origin_hash = 0xFEED,
				  .budget = nm_packet_budget(1500) };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &t,
					 evs, n, &used, &len),
			 0);
	ck_assert_uint_eq(used, n);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

static void inject(int queue, struct rte_mbuf *m)
{
	ck_assert_int_eq(rte_ring_enqueue(rx_rings[queue], m), 0);
}

/* Wait up to 2 s for a frame on TX queue q. */
static struct rte_mbuf *await_tx(int q)
{
	struct rte_mbuf *m = NULL;
	for (int i = 0; i < 2000; i++) {
		if (rte_ring_dequeue(tx_rings[q], (void **)&m) == 0)
			return m;
		usleep(1000);
	}
	return NULL;
}

/* Wait until the workers' drop counter for `why` reaches n. */
static bool await_drops(struct fixture *f, enum nm_drop why, uint64_t n)
{
	struct nm_lcore_stats s;
	for (int i = 0; i < 2000; i++) {
		nm_dataplane_stats(f->dp, &s);
		if (s.drops[why] >= n)
			return s.drops[why] == n;
		usleep(1000);
	}
	return false;
}

static int open_reply(struct fixture *f, struct rte_mbuf *m, struct nm_net_hdr *h,
		      struct nm_event *evs, uint32_t max)
{
	enum nm_drop why = NM_DROP_NONE;
	return nm_packet_open(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &f->peer, &f->peer_rx, h,
			      evs, max, &why);
}

START_TEST(echo_event_comes_back_chained)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 1, LCORE_A);
	inject(0, peer_packet(&f, echo.origin_hash, "ping", 1));

	struct rte_mbuf *m = await_tx(0);
	ck_assert_msg(m != NULL, "no reply");
	struct nm_net_hdr h;
	struct nm_event evs[8];
	ck_assert_int_eq(open_reply(&f, m, &h, evs, 8), 1);
	ck_assert_uint_eq(h.session_id, SESSION);
	ck_assert_uint_eq(h.stream_id, echo.origin_hash); /* outputs name the emitting daemon */
	ck_assert_uint_eq(h.subprotocol_id, NM_SUBPROTOCOL_CAUSAL);
	ck_assert_uint_eq(evs[0].len, 4);
	ck_assert_mem_eq(evs[0].payload, "ping", 4);
	struct nm_causal_link genesis = nm_link_genesis(echo.origin_hash, 0);
	ck_assert_int_eq(nm_chain_validate(&genesis, NULL, 0, &evs[0].link, NULL), NM_CHAIN_OK);
	ck_assert(nm_horizon_might_contain(evs[0].link.horizon_encoded, 0xFEED));
	rte_pktmbuf_free(m);

	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&echo, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, 1);
	ck_assert_uint_eq(st.events_emitted, 1);
	fx_down(&f);
}
END_TEST

START_TEST(counter_outputs_batch_and_chain_across_packets)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle c = spawn_on(&f, "counter", 2, LCORE_A);
	/* Three packets of 30 events (one MTU each): 90 outputs of 8 bytes, chained 1..90. */
	inject(0, peer_packet(&f, c.origin_hash, "tick", 30));
	inject(0, peer_packet(&f, c.origin_hash, "tock", 30));
	inject(0, peer_packet(&f, c.origin_hash, "tuck", 30));

	struct nm_causal_link prev = nm_link_genesis(c.origin_hash, 0);
	uint8_t prev_payload[8];
	uint32_t prev_len = 0, seen = 0;
	while (seen < 90) {
		struct rte_mbuf *m = await_tx(0);
		ck_assert_msg(m != NULL, "only %u of 90 outputs arrived", seen);
		ck_assert_uint_le(m->data_len, 14 + 1500);
		struct nm_net_hdr h;
		struct nm_event evs[128];
		int n = open_reply(&f, m, &h, evs, 128);
		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(nm_chain_validate(&prev, prev_payload, prev_len, &evs[i].link, NULL),
					 NM_CHAIN_OK);
			ck_assert_uint_eq(nm_get_le64(evs[i].payload), ++seen);
			prev = evs[i].link;
			prev_len = evs[i].len;
			memcpy(prev_payload, evs[i].payload, prev_len);
		}
		rte_pktmbuf_free(m);
	}
	ck_assert_uint_eq(seen, 90);
	fx_down(&f);
}
END_TEST

START_TEST(event_for_daemon_on_other_lcore_is_handed_off)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 3, LCORE_B);
	inject(0, peer_packet(&f, echo.origin_hash, "over there", 1)); /* arrives on worker A */

	struct rte_mbuf *m = await_tx(1); /* answered from B's TX queue */
	ck_assert_msg(m != NULL, "no reply from the owner lcore");
	struct nm_net_hdr h;
	struct nm_event evs[4];
	ck_assert_int_eq(open_reply(&f, m, &h, evs, 4), 1);
	ck_assert_mem_eq(evs[0].payload, "over there", 10);
	rte_pktmbuf_free(m);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_handed_off, 1);
	fx_down(&f);
}
END_TEST

START_TEST(runtime_api_reaches_pinned_daemons)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle c = spawn_on(&f, "counter", 4, LCORE_B);
	struct nm_outputs *out = nm_outputs_create(8, 256);
	for (uint64_t i = 1; i <= 3; i++) {
		struct nm_event ev = { .link = { 1, 0, i, 0 }, .payload = (const uint8_t *)"x", .len = 1 };
		ck_assert_int_eq(nm_runtime_deliver(f.rt, c.origin_hash, &ev, out, NULL), 0);
		ck_assert_uint_eq(nm_get_le64(out->ev[0].payload), i);
	}
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_daemon_handle_snapshot(&c, &snap, NULL), 0);
	ck_assert_ptr_nonnull(snap);
	ck_assert_uint_eq(snap->through_seq, 3);

	/* Seed semantics hold for pinned daemons: duplicate identity, stop, NotFound. */
	uint8_t seed[32] = { 4 };
	struct nm_identity id;
	nm_identity_from_seed(&id, seed);
	struct nm_daemon_handle dup;
	struct nm_error err;
	ck_assert_int_eq(nm_runtime_spawn(f.rt, "counter", &id, NULL, &dup, &err), NM_EPROCESS_FAILED);
	ck_assert_int_eq(nm_runtime_stop(f.rt, c.origin_hash, NULL), 0);
	ck_assert_uint_eq(nm_runtime_daemon_count(f.rt), 0);
	struct nm_event ev = { .link = { 1, 0, 9, 0 }, .payload = (const uint8_t *)"x", .len = 1 };
	ck_assert_int_eq(nm_runtime_deliver(f.rt, c.origin_hash, &ev, out, NULL), NM_ENOT_FOUND);

	/* The stopped daemon is gone from the workers' tables too. */
	inject(0, peer_packet(&f, c.origin_hash, "late", 1));
	ck_assert(await_drops(&f, NM_DROP_DAEMON_UNKNOWN, 1));

	/* Respawn from the snapshot on the other lcore: the count continues. */
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = LCORE_A;
	struct nm_daemon_handle re;
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(f.rt, "counter", &id, snap, &cfg, &re, &err), 0);
	ck_assert_int_eq(nm_runtime_deliver(f.rt, re.origin_hash, &ev, out, NULL), 0);
	ck_assert_uint_eq(nm_get_le64(out->ev[0].payload), 4);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
	fx_down(&f);
}
END_TEST

static Suite *dataplane_suite(void)
{
	Suite *s = suite_create("dataplane");
	TCase *tc = tcase_create("path");
	tcase_add_test(tc, echo_event_comes_back_chained);
	tcase_add_test(tc, counter_outputs_batch_and_chain_across_packets);
	tcase_add_test(tc, event_for_daemon_on_other_lcore_is_handed_off);
	tcase_add_test(tc, runtime_api_reaches_pinned_daemons);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	char *eal[] = { argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0,1@1,2@1", "--log-level=lib.*:error" };
	if (nm_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return EXIT_FAILURE;
	}
	return nm_test_run_nofork(dataplane_suite());
}

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
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_frag.h"
#include "nm_horizon.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_exec.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_test.h"
#include "nm_test_sizer.h"

#define IP_US RTE_IPV4(127, 0, 0, 1)
#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define SESSION 0x5E55105E55105ULL
#define N_WORKERS 2
#define LCORE_A 1
#define LCORE_B 2

static struct rte_ring *rx_rings[N_WORKERS], *tx_rings[N_WORKERS];
static char port_name[RTE_ETH_NAME_MAX_LEN];
/* Dataplane settings for the next fixture (0: defaults); fx_down resets them. */
static uint16_t fx_mtu;
static uint32_t fx_frag_timeout_ms;

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

static void fx_setup(struct fixture *f, bool start, uint32_t n_mbufs)
{
	memset(f, 0, sizeof(*f));
	make_port();
	struct nm_mesh_config mc = { .port = port_name };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	struct nm_error err;
	ck_assert_int_eq(nm_mesh_create(&mc, &f->mesh, &err), 0);
	f->rt = nm_runtime_create(nm_mesh_node(f->mesh));
	ck_assert_int_eq(nm_builtin_register_all(f->rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(f->rt, NULL), 0);
	const unsigned lcores[N_WORKERS] = { LCORE_A, LCORE_B };
	struct nm_dataplane_config dc = { .mesh = f->mesh, .rt = f->rt, .ip = IP_US,
					  .n_workers = N_WORKERS, .lcores = lcores, .n_mbufs = n_mbufs,
					  .mtu = fx_mtu, .frag_timeout_ms = fx_frag_timeout_ms };
	int rc = nm_dataplane_create(&dc, &f->dp, &err);
	ck_assert_msg(rc == 0, "dataplane: %s", err.msg);
	int peer = nm_dataplane_peer_add(f->dp, IP_PEER, 7777, &peer_mac, &err);
	ck_assert_int_ge(peer, 0);
	struct nm_session_params sp = { .session_id = SESSION, .peer = (uint16_t)peer };
	memcpy(sp.tx_key, key_from_us, 32);
	memcpy(sp.rx_key, key_to_us, 32);
	ck_assert_int_eq(nm_dataplane_session_add(f->dp, &sp, &err), 0);
	if (start)
		ck_assert_int_eq(nm_dataplane_start(f->dp, &err), 0);

	nm_aead_init(&f->peer_tx, key_to_us, SESSION);
	nm_aead_init(&f->peer_rx, key_from_us, SESSION);
	f->peer = (struct nm_pkt_endpoint){ peer_mac, IP_PEER, 7777 };
	f->us = (struct nm_pkt_endpoint){ f->dp->port.mac, IP_US, 7777 };
}

static void fx_up(struct fixture *f)
{
	fx_setup(f, true, 2047);
}

static void drain_tx(void)
{
	struct rte_mbuf *m;
	for (int i = 0; i < N_WORKERS; i++)
		while (rte_ring_dequeue(tx_rings[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
}

/* After the runtime's shutdown and the workers' stop: no mbuf held, all freed. */
static void fx_release(struct fixture *f)
{
	drain_tx();
	fx_mtu = 0;
	fx_frag_timeout_ms = 0;
	ck_assert_msg(nm_port_mbufs_in_use(&f->dp->port) == 0, "%u mbufs leaked",
		      nm_port_mbufs_in_use(&f->dp->port));
	nm_dataplane_destroy(f->dp);
	nm_runtime_destroy(f->rt);
	nm_mesh_destroy(f->mesh);
	free_port_rings();
}

static void fx_down(struct fixture *f)
{
	ck_assert_int_eq(nm_runtime_shutdown(f->rt, NULL), 0);
	nm_dataplane_stop(f->dp);
	fx_release(f);
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

/*
 * A daemon whose outputs span packets: three of 1000 bytes per event (one
 * packet each at MTU 1500), and for an event "fail" a fourth above the largest
 * datagram, which fails the call after two packets were opened for it.
 */
static int spill_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)d, (void)err;
	for (uint8_t k = 0; k < 3; k++) {
		uint8_t *p = nm_emit_reserve(out, 1000);
		if (p != NULL) {
			memset(p, ev->payload[0], 1000);
			p[0] = k;
		}
	}
	if (ev->len == 4 && memcmp(ev->payload, "fail", 4) == 0)
		nm_emit_reserve(out, NM_PACKET_MAX_EVENT + 1);
	return 0;
}

static void spill_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops spill_ops = {
	.name = "spill", .process = spill_process, .destroy = spill_destroy,
};

/* A factory for a daemon with no state of its own: ctx is its ops. */
static struct nm_daemon *plain_new(void *ctx)
{
	struct nm_daemon *d = calloc(1, sizeof(*d));
	if (d != NULL)
		d->ops = ctx;
	return d;
}

/* A call that fails after its outputs filled packets leaves nothing: no packet, no chain gap. */
START_TEST(a_failed_call_undoes_the_packets_it_filled)
{
	struct fixture f;
	fx_up(&f);
	ck_assert_int_eq(nm_runtime_register_factory(f.rt, "spill", plain_new, (void *)&spill_ops, NULL), 0);
	struct nm_daemon_handle d = spawn_on(&f, "spill", 13, LCORE_A);
	inject(0, peer_packet(&f, d.origin_hash, "ok", 1));
	inject(0, peer_packet(&f, d.origin_hash, "fail", 1));
	inject(0, peer_packet(&f, d.origin_hash, "ok", 1));
	struct nm_causal_link prev = nm_link_genesis(d.origin_hash, 0);
	static uint8_t prev_payload[1000];
	uint32_t prev_len = 0, seen = 0;
	while (seen < 6) {
		struct rte_mbuf *m = await_tx(0);
		ck_assert_msg(m != NULL, "only %u of 6 outputs arrived", seen);
		struct nm_net_hdr h;
		struct nm_event evs[4];
		int n = open_reply(&f, m, &h, evs, 4);
		ck_assert_int_eq(n, 1); /* 1036 frame bytes: one per packet */
		ck_assert_int_eq(nm_chain_validate(&prev, prev_payload, prev_len, &evs[0].link, NULL),
				 NM_CHAIN_OK);
		ck_assert_uint_eq(evs[0].len, 1000);
		ck_assert_uint_eq(evs[0].payload[0], seen % 3);
		ck_assert_uint_eq(evs[0].payload[999], 'o'); /* never the failed call's */
		prev = evs[0].link;
		prev_len = evs[0].len;
		memcpy(prev_payload, evs[0].payload, prev_len);
		seen++;
		rte_pktmbuf_free(m);
	}
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_failed, 1);
	ck_assert_uint_eq(s.events_emitted, 6);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	struct rte_mbuf *extra = await_tx(0); /* nothing else left */
	rte_pktmbuf_free(extra);
	ck_assert_ptr_null(extra);
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

/* ================= malformed input: counted, never leaked ================= */

/*
 * Workers are not launched here: the test thread runs worker A's loop, so
 * each injected frame is fully handled before the counters are read.
 */
static void poll_a(struct fixture *f)
{
	while (nm_worker_poll(f->dp->workers[0]) != 0 || rte_ring_count(rx_rings[0]) != 0)
		;
}

/* Inject one frame and expect exactly one drop, for `why`. */
static void expect_drop(struct fixture *f, struct rte_mbuf *m, enum nm_drop why)
{
	struct nm_lcore_stats before, after;
	nm_dataplane_stats(f->dp, &before);
	inject(0, m);
	poll_a(f);
	nm_dataplane_stats(f->dp, &after);
	if (after.drops[why] != before.drops[why] + 1) {
		fprintf(stderr, "DEBUG expecting %s\n", nm_drop_name(why));
		nm_stats_print(stderr, "  before ", &before);
		nm_stats_print(stderr, "  after  ", &after);
	}
	ck_assert_msg(after.drops[why] == before.drops[why] + 1, "%s: %" PRIu64 " -> %" PRIu64,
		      nm_drop_name(why), before.drops[why], after.drops[why]);
	ck_assert_msg(nm_stats_total_drops(&after) == nm_stats_total_drops(&before) + 1,
		      "%s: other drops were counted too", nm_drop_name(why));
}

static uint8_t *bytes(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, uint8_t *);
}

/* Re-seal after editing the NetHeader (the AAD covers it) and fix the checksums. */
static void reseal(struct fixture *f, struct rte_mbuf *m, uint64_t counter)
{
	uint8_t *d = bytes(m) + NM_PKT_DATA_OFF;
	nm_aead_seal(&f->peer_tx, d, m->data_len - NM_PKT_DATA_OFF, counter);
	nm_pkt_build_udp(bytes(m), m->data_len, &f->peer, &f->us, 0, m->data_len - NM_PKT_DATA_OFF, 0);
}

/* Fix the IPv4 header checksum after editing it (UDP checksum 0 = none). */
static void fix_ip(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(bytes(m) + NM_PKT_ETH_LEN);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	((struct rte_udp_hdr *)(ip + 1))->dgram_cksum = 0;
}

START_TEST(malformed_packets_are_dropped_and_counted)
{
	struct fixture f;
	fx_setup(&f, false, 2047);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 5, LCORE_A);
	const uint64_t d = echo.origin_hash;
	struct rte_mbuf *m;

	/* Ethernet / IPv4 / UDP */
	m = peer_packet(&f, d, "x", 1);
	m->data_len = m->pkt_len = 10;
	expect_drop(&f, m, NM_DROP_ETH_SHORT);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[12] = 0x86, bytes(m)[13] = 0xDD; /* IPv6 */
	expect_drop(&f, m, NM_DROP_ETH_TYPE);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[0] = 0x02, bytes(m)[5] = 0x77; /* another host's MAC */
	expect_drop(&f, m, NM_DROP_ETH_NOT_OURS);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_ETH_LEN + 9] = 6; /* TCP */
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_IP_PROTO);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_ETH_LEN + 6] = 0x20; /* more fragments, of TCP: not reassembled */
	bytes(m)[NM_PKT_ETH_LEN + 9] = 6;
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_IP_FRAGMENT);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_ETH_LEN + 6] = 0x20; /* a UDP first fragment of 129 bytes: not 8-aligned */
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_FRAG_BAD);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_ETH_LEN + 10] ^= 0xFF;
	expect_drop(&f, m, NM_DROP_IP_CKSUM);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[m->data_len - 1] ^= 0xFF; /* payload byte: UDP checksum fails first */
	expect_drop(&f, m, NM_DROP_UDP_CKSUM);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_ETH_LEN + 19] = 9; /* 127.0.0.9 */
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_IP_NOT_OURS);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_L4_OFF + 3] = 0x62; /* port 7778 */
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_UDP_PORT);

	/* NetHeader. A wrong magic fails upstream's datagram discriminator first. */
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_DATA_OFF] = 0x46;
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_CLASS_UNKNOWN);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_DATA_OFF + NM_OFF_VERSION] = 2;
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_NET_VERSION);
	m = peer_packet(&f, d, "x", 1);
	nm_put_le16(bytes(m) + NM_PKT_DATA_OFF + NM_OFF_PAYLOAD_LEN, 2);
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_NET_LEN_MISMATCH);
	m = peer_packet(&f, d, "x", 1);
	nm_put_le16(bytes(m) + NM_PKT_DATA_OFF + NM_OFF_EVENT_COUNT, 3000);
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_NET_EVENT_COUNT);

	/* Sessions and crypto */
	m = peer_packet(&f, d, "x", 1);
	nm_put_le64(bytes(m) + NM_PKT_DATA_OFF + NM_OFF_SESSION_ID, SESSION + 1);
	reseal(&f, m, 100);
	expect_drop(&f, m, NM_DROP_SESSION_UNKNOWN);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_DATA_OFF + NM_NET_HDR_SIZE] ^= 1;
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_AUTH);
	struct rte_mbuf *orig = peer_packet(&f, d, "once", 1);
	struct rte_mbuf *copy = rte_pktmbuf_copy(orig, f.dp->port.pool, 0, UINT32_MAX);
	inject(0, orig);
	poll_a(&f);
	expect_drop(&f, copy, NM_DROP_REPLAY_DUP);

	/* Frames and daemons */
	m = peer_packet(&f, d, "x", 1);
	nm_put_le16(bytes(m) + NM_PKT_DATA_OFF + NM_OFF_EVENT_COUNT, 2); /* one frame present */
	reseal(&f, m, f.peer_counter++);
	expect_drop(&f, m, NM_DROP_FRAME_OVERRUN);
	m = peer_packet(&f, d, "x", 1);
	nm_put_le16(bytes(m) + NM_PKT_DATA_OFF + NM_OFF_SUBPROTOCOL, 0x0500);
	reseal(&f, m, f.peer_counter++);
	expect_drop(&f, m, NM_DROP_SUBPROTOCOL);
	expect_drop(&f, peer_packet(&f, 0xD0E5, "x", 1), NM_DROP_DAEMON_UNKNOWN);
	m = peer_packet(&f, d, "x", 1);
	bytes(m)[NM_PKT_DATA_OFF + NM_OFF_FLAGS] = NM_FLAG_HANDSHAKE;
	fix_ip(m);
	expect_drop(&f, m, NM_DROP_HANDSHAKE);
	struct rte_mbuf *seg2 = rte_pktmbuf_alloc(f.dp->port.pool);
	m = peer_packet(&f, d, "x", 1);
	ck_assert_int_eq(rte_pktmbuf_chain(m, seg2), 0);
	expect_drop(&f, m, NM_DROP_RX_MULTISEG);

	/* Every valid echo so far came back: drain the replies. */
	drain_tx();
	fx_down(&f);
}
END_TEST

/*
 * One RX burst opened as one AEAD batch: each packet still gets its own
 * verdict, and the replay window is committed per packet only after its tag
 * verified. A forged packet must not use up its counter (the genuine packet
 * with that counter, later in the same burst, is accepted), and a copy of an
 * accepted packet in the same burst is a duplicate.
 */
START_TEST(burst_open_commits_per_packet_after_the_tag)
{
	struct fixture f;
	fx_setup(&f, false, 2047);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 6, LCORE_A);
	const uint64_t d = echo.origin_hash;
	struct nm_lcore_stats before, after;
	nm_dataplane_stats(f.dp, &before);

	struct rte_mbuf *a = peer_packet(&f, d, "a", 1);
	struct rte_mbuf *a_copy = rte_pktmbuf_copy(a, f.dp->port.pool, 0, UINT32_MAX);
	const uint64_t k = f.peer_counter;
	struct rte_mbuf *forged = peer_packet(&f, d, "x", 1);
	bytes(forged)[forged->data_len - 1] ^= 1; /* the tag */
	fix_ip(forged);
	f.peer_counter = k; /* the genuine packet with the forged one's counter */
	struct rte_mbuf *b = peer_packet(&f, d, "b", 1);
	struct rte_mbuf *c = peer_packet(&f, d, "c", 1);
	struct rte_mbuf *burst[] = { a, a_copy, forged, b, c };
	for (unsigned i = 0; i < 5; i++)
		inject(0, burst[i]);
	ck_assert_uint_eq(nm_worker_poll(f.dp->workers[0]), 5); /* one rx_burst */

	nm_dataplane_stats(f.dp, &after);
	ck_assert_uint_eq(after.drops[NM_DROP_REPLAY_DUP], before.drops[NM_DROP_REPLAY_DUP] + 1);
	ck_assert_uint_eq(after.drops[NM_DROP_AUTH], before.drops[NM_DROP_AUTH] + 1);
	ck_assert_uint_eq(nm_stats_total_drops(&after), nm_stats_total_drops(&before) + 2);
	ck_assert_uint_eq(after.events_delivered, before.events_delivered + 3);

	/* The three echoes leave in one sealed packet, in arrival order. */
	struct rte_mbuf *m = await_tx(0);
	ck_assert_ptr_nonnull(m);
	struct nm_net_hdr h;
	struct nm_event evs[8];
	ck_assert_int_eq(open_reply(&f, m, &h, evs, 8), 3);
	ck_assert_mem_eq(evs[0].payload, "a", 1);
	ck_assert_mem_eq(evs[1].payload, "b", 1);
	ck_assert_mem_eq(evs[2].payload, "c", 1);
	rte_pktmbuf_free(m);
	fx_down(&f);
}
END_TEST

START_TEST(resource_exhaustion_is_counted)
{
	struct fixture f;
	fx_setup(&f, false, 8191); /* enough mbufs to fill a hand-off ring */
	struct nm_daemon_handle a = spawn_on(&f, "echo", 6, LCORE_A);
	struct nm_daemon_handle b = spawn_on(&f, "sink", 7, LCORE_B);
	struct rte_mempool *pool = f.dp->port.pool;

	/*
	 * No mbuf for a hand-off: take every other mbuf first. (Replies need an
	 * mbuf too, since outputs are framed in place while the request's is held:
	 * below.)
	 */
	struct rte_mbuf *probe = peer_packet(&f, b.origin_hash, "x", 1);
	unsigned n_free = rte_mempool_avail_count(pool);
	struct rte_mbuf **hoard = calloc(n_free, sizeof(*hoard));
	ck_assert_int_eq(rte_pktmbuf_alloc_bulk(pool, hoard, n_free), 0);
	expect_drop(&f, probe, NM_DROP_NO_MBUF);
	rte_pktmbuf_free_bulk(hoard, n_free);

	/* No mbuf for an output (framed in place): the daemon does not run, its chain stays. */
	struct nm_daemon_stats st0, st1;
	ck_assert_int_eq(nm_daemon_handle_stats(&a, &st0, NULL), 0);
	probe = peer_packet(&f, a.origin_hash, "y", 1);
	unsigned n_left = rte_mempool_avail_count(pool);
	struct rte_mbuf **hoard2 = calloc(n_left, sizeof(*hoard2));
	ck_assert_int_eq(rte_pktmbuf_alloc_bulk(pool, hoard2, n_left), 0);
	expect_drop(&f, probe, NM_DROP_NO_MBUF);
	rte_pktmbuf_free_bulk(hoard2, n_left);
	free(hoard2);
	ck_assert_int_eq(nm_daemon_handle_stats(&a, &st1, NULL), 0);
	ck_assert_uint_eq(st1.events_processed, st0.events_processed);
	ck_assert_uint_eq(st1.events_emitted, st0.events_emitted);

	/* TX queue full: the ring PMD's TX ring takes no more. */
	struct rte_mbuf *filler[1024];
	unsigned cap = rte_ring_free_count(tx_rings[0]);
	ck_assert_int_eq(rte_pktmbuf_alloc_bulk(pool, filler, cap), 0);
	ck_assert_uint_eq(rte_ring_enqueue_bulk(tx_rings[0], (void **)filler, cap, NULL), cap);
	expect_drop(&f, peer_packet(&f, a.origin_hash, "x", 1), NM_DROP_TX_FULL);
	drain_tx();

	/* Hand-off ring full: worker B is not polled, its ring fills up. */
	struct nm_lcore_stats s;
	unsigned ring = rte_ring_free_count(f.dp->workers[1]->evt_in);
	for (unsigned sent = 0; sent < ring;) {
		unsigned n = ring - sent < 30 ? ring - sent : 30;
		inject(0, peer_packet(&f, b.origin_hash, "b", n));
		poll_a(&f);
		sent += n;
	}
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_handed_off, ring);
	expect_drop(&f, peer_packet(&f, b.origin_hash, "b", 1), NM_DROP_HANDOFF_FULL);
	while (nm_worker_poll(f.dp->workers[1]) != 0) /* B consumes its backlog */
		;
	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&b, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, ring);

	/* Outputs routed to a session that went away. */
	struct nm_session_params sp = { .session_id = SESSION + 7, .peer = 0 };
	ck_assert_int_eq(nm_dataplane_session_add(f.dp, &sp, NULL), 0);
	ck_assert_int_eq(nm_dataplane_route_outputs(f.dp, a.origin_hash, SESSION + 7, 0xABC, NULL), 0);
	ck_assert_int_eq(nm_dataplane_session_del(f.dp, SESSION + 7, NULL), 0);
	ck_assert_int_eq(nm_daemon_handle_stats(&a, &st0, NULL), 0);
	expect_drop(&f, peer_packet(&f, a.origin_hash, "x", 1), NM_DROP_NO_ROUTE);
	/* Its outputs could not leave: it did not run, so its chain has no gap. */
	ck_assert_int_eq(nm_daemon_handle_stats(&a, &st1, NULL), 0);
	ck_assert_uint_eq(st1.events_processed, st0.events_processed);
	free(hoard);
	fx_down(&f);
}
END_TEST

START_TEST(arp_and_icmp_are_answered)
{
	struct fixture f;
	fx_setup(&f, false, 2047);
	/* ARP who-has 127.0.0.1 from a host that is not a peer yet. */
	struct rte_mbuf *m = rte_pktmbuf_alloc(f.dp->port.pool);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 42);
	const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x09, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x02, 0, 0, 0, 0, 0x09, 127, 0, 0, 9,
		0, 0, 0, 0, 0, 0, 127, 0, 0, 1,
	};
	memcpy(p, arp, sizeof(arp));
	inject(0, m);
	poll_a(&f);
	m = await_tx(0);
	ck_assert_ptr_nonnull(m);
	p = bytes(m);
	ck_assert_uint_eq(p[21], 2); /* reply */
	ck_assert_mem_eq(p + 22, f.dp->port.mac.addr_bytes, 6); /* sender = us */
	ck_assert_mem_eq(p + 32, arp + 22, 6);                   /* target = asker */
	rte_pktmbuf_free(m);

	/* ICMP echo request from the peer. */
	m = peer_packet(&f, 1, "x", 1);
	p = bytes(m);
	p[NM_PKT_ETH_LEN + 9] = 1; /* ICMP */
	uint8_t *icmp = p + NM_PKT_L4_OFF;
	memset(icmp, 0, 16);
	icmp[0] = 8;
	icmp[4] = 0x12, icmp[6] = 0x34;
	uint16_t ip_len = NM_PKT_IP_LEN + 16;
	p[NM_PKT_ETH_LEN + 2] = (uint8_t)(ip_len >> 8), p[NM_PKT_ETH_LEN + 3] = (uint8_t)ip_len;
	m->data_len = m->pkt_len = NM_PKT_ETH_LEN + ip_len;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + NM_PKT_ETH_LEN);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	uint16_t ck = (uint16_t)~rte_raw_cksum(icmp, 16);
	memcpy(icmp + 2, &ck, 2);
	inject(0, m);
	poll_a(&f);
	m = await_tx(0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(bytes(m)[NM_PKT_L4_OFF], 0); /* echo reply */
	ck_assert_uint_eq(bytes(m)[NM_PKT_L4_OFF + 4], 0x12);
	rte_pktmbuf_free(m);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.arp_replies, 1);
	ck_assert_uint_eq(s.icmp_replies, 1);
	fx_down(&f);
}
END_TEST

/* ---------------------------------------------------------------- migration plumbing */

struct mig_seen {
	unsigned n;
	uint16_t peer;
	uint8_t msg[64];
	size_t len;
};

static void mig_record(void *ctx, uint16_t peer, const uint8_t *msg, size_t len)
{
	struct mig_seen *ms = ctx;
	ms->n++;
	ms->peer = peer;
	ms->len = len < sizeof(ms->msg) ? len : sizeof(ms->msg);
	memcpy(ms->msg, msg, ms->len);
}

/* A sealed 0x0500 message from the peer in `frame` (cap bytes), framed like any Net packet. */
static size_t peer_message_frame(struct fixture *f, const uint8_t *body, size_t len, uint16_t ip_id,
				 uint8_t *frame, size_t cap)
{
	int n = nm_packet_message(frame + NM_PKT_DATA_OFF, cap - NM_PKT_DATA_OFF, &f->peer_tx,
				  f->peer_counter++, SESSION, NM_SUBPROTOCOL_MIGRATION,
				  NM_SUBPROTOCOL_MIGRATION, 1, 0xFEED, body, len);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(nm_pkt_build_udp(frame, cap, &f->peer, &f->us, ip_id, (size_t)n, 0), 0);
	return NM_PKT_DATA_OFF + (size_t)n;
}

/* The same in one mbuf. */
static struct rte_mbuf *peer_message(struct fixture *f, const uint8_t *body, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->dp->port.pool);
	ck_assert_ptr_nonnull(m);
	m->data_len = (uint16_t)peer_message_frame(f, body, len, 7, rte_pktmbuf_mtod(m, uint8_t *),
						   rte_pktmbuf_tailroom(m));
	m->pkt_len = m->data_len;
	return m;
}

START_TEST(migration_messages_reach_the_control_thread)
{
	struct fixture f;
	fx_setup(&f, false, 2047);
	struct mig_seen seen = { 0 };
	nm_dataplane_set_migration(f.dp, mig_record, &seen);
	struct nm_error err;
	ck_assert_int_eq(nm_dataplane_start(f.dp, &err), 0);
	const uint8_t body[] = { 5, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 }; /* CleanupComplete */
	inject(1, peer_message(&f, body, sizeof(body)));
	for (int i = 0; i < 2000 && seen.n == 0; i++) {
		nm_dataplane_poll_migration(f.dp);
		usleep(1000);
	}
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.peer, 0);
	ck_assert_uint_eq(seen.len, sizeof(body));
	ck_assert_mem_eq(seen.msg, body, sizeof(body));
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.mig_messages, 1);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
}
END_TEST

/* The counter's replies, in order, from whatever the TX queues carry within ~1 s. */
static unsigned collect_counts(struct fixture *f, uint64_t *got, unsigned max, unsigned want)
{
	unsigned n = 0;
	for (int spin = 0; spin < 2000 && n < want; spin++) {
		struct rte_mbuf *m = NULL;
		for (int q = 0; q < N_WORKERS && m == NULL; q++)
			if (rte_ring_dequeue(tx_rings[q], (void **)&m) != 0)
				m = NULL;
		if (m == NULL) {
			usleep(1000);
			continue;
		}
		struct nm_net_hdr h;
		struct nm_event evs[64];
		int k = open_reply(f, m, &h, evs, 64);
		for (int i = 0; i < k && n < max; i++)
			got[n++] = nm_get_le64(evs[i].payload);
		rte_pktmbuf_free(m);
	}
	return n;
}

static unsigned ring_wait(struct rte_ring *r, unsigned want)
{
	for (int i = 0; i < 2000 && rte_ring_count(r) < want; i++)
		usleep(1000);
	return rte_ring_count(r);
}

START_TEST(held_events_keep_their_order_and_a_release_delivers_them)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle c = spawn_on(&f, "counter", 3, LCORE_A);
	uint64_t got[16];
	inject(0, peer_packet(&f, c.origin_hash, "a", 3));
	ck_assert_uint_eq(collect_counts(&f, got, 16, 3), 3);

	struct nm_dp_hold hold = { .ring = rte_ring_create("t_hold", 64, 0, 0) };
	ck_assert_ptr_nonnull(hold.ring);
	struct nm_snapshot *snap = NULL;
	struct nm_error err;
	bool stateless = true;
	ck_assert_int_eq(nm_dataplane_mig_hold(f.dp, c.origin_hash, &hold, &snap, &stateless, &err),
			 0);
	ck_assert_ptr_nonnull(snap);
	ck_assert(!stateless);
	ck_assert_uint_eq(nm_get_le64(snap->state), 3); /* everything before the hold is in it */
	nm_snapshot_free(snap);
	ck_assert_int_eq(nm_dataplane_mig_hold(f.dp, c.origin_hash, &hold, &snap, &stateless, &err),
			 -EBUSY);
	ck_assert_ptr_null(snap);

	/* Held on the owner, also when they arrive on the other queue (handed off). */
	inject(0, peer_packet(&f, c.origin_hash, "b", 2));
	ck_assert_uint_eq(ring_wait(hold.ring, 2), 2);
	inject(1, peer_packet(&f, c.origin_hash, "c", 3));
	ck_assert_uint_eq(ring_wait(hold.ring, 5), 5);
	ck_assert_uint_eq(collect_counts(&f, got, 16, 1), 0); /* nothing processed */
	ck_assert_uint_eq(hold.mseq, 5);

	/* Called off: delivered in arrival order, then live again. */
	ck_assert_int_eq(nm_dataplane_mig_release(f.dp, c.origin_hash, &err), 0);
	inject(0, peer_packet(&f, c.origin_hash, "d", 1));
	unsigned n = collect_counts(&f, got, 16, 6);
	ck_assert_uint_eq(n, 6);
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_eq(got[i], 4 + i);
	ck_assert_uint_eq(rte_ring_count(hold.ring), 0);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_held, 5);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
	rte_ring_free(hold.ring);
}
END_TEST

START_TEST(a_moved_daemon_leaves_a_stub_that_keeps_holding)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle c = spawn_on(&f, "counter", 4, LCORE_B);
	struct nm_dp_hold hold = { .ring = rte_ring_create("t_hold2", 64, 0, 0) };
	struct nm_error err;
	struct nm_snapshot *snap;
	bool stateless;
	ck_assert_int_eq(nm_dataplane_mig_hold(f.dp, c.origin_hash, &hold, &snap, &stateless, &err),
			 0);
	nm_snapshot_free(snap);
	inject(0, peer_packet(&f, c.origin_hash, "a", 2));
	ck_assert_uint_eq(ring_wait(hold.ring, 2), 2);
	ck_assert_int_eq(nm_dataplane_mig_stub(f.dp, c.origin_hash, &hold, &err), 0);
	ck_assert_int_eq(nm_runtime_stop(f.rt, c.origin_hash, &err), 0);
	ck_assert(!nm_runtime_has_daemon(f.rt, c.origin_hash));
	/* Gone from the runtime, but its events still wait for the control thread, numbered on. */
	inject(1, peer_packet(&f, c.origin_hash, "b", 3));
	ck_assert_uint_eq(ring_wait(hold.ring, 5), 5);
	for (uint64_t want = 1; want <= 5; want++) {
		struct rte_mbuf *m;
		ck_assert_int_eq(rte_ring_dequeue(hold.ring, (void **)&m), 0);
		const struct nm_dp_event_hdr *h = rte_pktmbuf_mtod(m, const struct nm_dp_event_hdr *);
		ck_assert_uint_eq(h->mseq, want);
		ck_assert_uint_eq(h->daemon, c.origin_hash);
		ck_assert_uint_eq(h->session_id, SESSION);
		ck_assert_uint_eq(h->len, 1);
		rte_pktmbuf_free(m);
	}
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.drops[NM_DROP_DAEMON_UNKNOWN], 0);
	/* Unstubbed: the origin is unknown again. */
	ck_assert_int_eq(nm_dataplane_mig_unstub(f.dp, c.origin_hash), 0);
	inject(0, peer_packet(&f, c.origin_hash, "c", 1));
	ck_assert(await_drops(&f, NM_DROP_DAEMON_UNKNOWN, 1));
	fx_down(&f);
	rte_ring_free(hold.ring);
}
END_TEST

START_TEST(a_stateless_daemon_is_held_with_its_chain_head)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle e = spawn_on(&f, "echo", 6, LCORE_A);
	inject(0, peer_packet(&f, e.origin_hash, "ab", 2));
	struct rte_mbuf *reply = await_tx(0);
	ck_assert_ptr_nonnull(reply);
	rte_pktmbuf_free(reply);
	drain_tx();
	struct nm_dp_hold hold = { .ring = rte_ring_create("t_hold3", 64, 0, 0) };
	struct nm_snapshot *snap = NULL;
	bool stateless = false;
	struct nm_error err;
	ck_assert_int_eq(nm_dataplane_mig_hold(f.dp, e.origin_hash, &hold, &snap, &stateless, &err),
			 0);
	ck_assert(stateless);
	ck_assert_ptr_nonnull(snap);
	ck_assert_uint_eq(snap->state_len, 0);
	ck_assert_uint_eq(snap->chain_link.sequence, 2);
	ck_assert(snap->has_next_parent);
	nm_snapshot_free(snap);
	ck_assert_int_eq(nm_dataplane_mig_release(f.dp, e.origin_hash, &err), 0);
	fx_down(&f);
	rte_ring_free(hold.ring);
}
END_TEST

START_TEST(a_target_stub_holds_until_the_restored_daemon_is_released)
{
	struct fixture f;
	fx_up(&f);
	uint8_t seed[32] = { 7 };
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
	const uint64_t origin = id.origin_hash;
	struct nm_dp_hold hold = { .ring = rte_ring_create("t_hold4", 64, 0, 0), .target = true };
	struct nm_error err;
	ck_assert_int_eq(nm_dataplane_mig_stub_now(f.dp, origin, &hold, &err), 0);
	/* Direct events before the daemon exists here wait. */
	inject(1, peer_packet(&f, origin, "d", 2));
	ck_assert_uint_eq(ring_wait(hold.ring, 2), 2);
	/* It arrives (here: a spawn on the other lcore) and takes the stub's place and hold. */
	struct nm_daemon_handle c = spawn_on(&f, "counter", 7, LCORE_B);
	ck_assert_uint_eq(c.origin_hash, origin);
	/* The migration's own events pass the target's hold... */
	struct nm_event ev = { .payload = (const uint8_t *)"r", .len = 1 };
	ck_assert_int_eq(nm_dataplane_inject(f.dp, origin, SESSION, &ev), 0);
	uint64_t got[8];
	ck_assert_uint_eq(collect_counts(&f, got, 8, 1), 1);
	ck_assert_uint_eq(got[0], 1);
	ck_assert_uint_eq(rte_ring_count(hold.ring), 2);
	/* ...and the held ones follow on release, in order. */
	ck_assert_int_eq(nm_dataplane_mig_release(f.dp, origin, &err), 0);
	ck_assert_uint_eq(collect_counts(&f, got, 8, 2), 2);
	ck_assert_uint_eq(got[0], 2);
	ck_assert_uint_eq(got[1], 3);
	ck_assert_int_eq(nm_dataplane_mig_unstub(f.dp, origin), NM_ENOT_FOUND); /* the host took it */
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
	rte_ring_free(hold.ring);
}
END_TEST

START_TEST(injected_events_are_processed_in_order_and_answered)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle c = spawn_on(&f, "counter", 5, LCORE_A);
	for (uint32_t i = 0; i < 4; i++) {
		struct nm_event ev = { .link = { 0xFEED, 0, i + 1, 0 },
				       .payload = (const uint8_t *)"r", .len = 1 };
		ck_assert_int_eq(nm_dataplane_inject(f.dp, c.origin_hash, SESSION, &ev), 0);
	}
	uint64_t got[8];
	ck_assert_uint_eq(collect_counts(&f, got, 8, 4), 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(got[i], i + 1);
	struct nm_event ev = { .payload = (const uint8_t *)"r", .len = 1 };
	ck_assert_int_eq(nm_dataplane_inject(f.dp, 0xD0E5, SESSION, &ev), NM_ENOT_FOUND);
	fx_down(&f);
}
END_TEST

/* ================= IPv4 fragments: datagrams above the MTU ================= */

static uint16_t frag_bits(const uint8_t *frame)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(frame + NM_PKT_ETH_LEN);
	return rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK);
}

/* A sealed packet from the peer of up to the Net maximum, flat: its frame length. */
static size_t peer_big_packet(struct fixture *f, uint64_t stream, const struct nm_event *evs,
			      uint32_t n, uint16_t ip_id, uint8_t *frame, size_t cap)
{
	struct nm_packet_tx t = { .src = &f->peer, .dst = &f->us, .ip_id = ip_id, .key = &f->peer_tx,
				  .counter = f->peer_counter++, .session_id = SESSION,
				  .stream_id = stream, .origin_hash = 0xFEED,
				  .budget = NM_NET_MAX_PAYLOAD };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(frame, cap, &t, evs, n, &used, &len), 0);
	ck_assert_uint_eq(used, n);
	return len;
}

/* Inject fragment k of a frame at `mtu` on RX queue q. */
static void inject_fragment(struct fixture *f, const uint8_t *frame, size_t len, uint16_t mtu,
			    unsigned k, int q)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->dp->port.pool);
	ck_assert_ptr_nonnull(m);
	size_t flen;
	ck_assert_int_eq(nm_frag_build(frame, len, mtu, k, 0, rte_pktmbuf_mtod(m, uint8_t *),
				       rte_pktmbuf_tailroom(m), &flen),
			 0);
	m->data_len = (uint16_t)flen;
	m->pkt_len = (uint32_t)flen;
	inject(q, m);
}

/* Inject a frame as IPv4 fragments at `mtu` (or whole, if it fits), fragment k on RX queue k % spread. */
static unsigned inject_fragments(struct fixture *f, const uint8_t *frame, size_t len, uint16_t mtu,
				 unsigned spread)
{
	unsigned n = nm_frag_count(frame, len, mtu);
	ck_assert_uint_gt(n, 0);
	for (unsigned k = 0; k < n; k++)
		inject_fragment(f, frame, len, mtu, k, (int)(k % spread));
	return n;
}

/*
 * The next datagram on TX queue q, reassembled by the test if it came as
 * fragments (every frame within the MTU), copied to out: its length, or 0
 * after 5 s. *frames counts the frames it took.
 */
static size_t await_datagram(int q, struct nm_frag_table *t, uint16_t mtu, uint8_t *out,
			     unsigned *frames)
{
	for (int i = 0; i < 5000; i++) {
		struct rte_mbuf *m;
		if (rte_ring_dequeue(tx_rings[q], (void **)&m) != 0) {
			usleep(1000);
			continue;
		}
		const uint8_t *p = bytes(m);
		size_t len = m->data_len, got = 0;
		ck_assert_uint_le(len, NM_PKT_ETH_LEN + mtu);
		(*frames)++;
		struct nm_frag_result r;
		if (frag_bits(p) == 0) {
			memcpy(out, p, len);
			got = len;
		} else {
			enum nm_frag_status st = nm_frag_add(t, p, len, 0, &r);
			ck_assert_int_ne(st, NM_FRAG_DROPPED);
			if (st == NM_FRAG_DONE) {
				memcpy(out, r.frame, r.len);
				got = r.len;
			}
		}
		rte_pktmbuf_free(m);
		if (got != 0)
			return got;
	}
	return 0;
}

static struct nm_frag_table *test_table(void)
{
	struct nm_frag_table *t = nm_frag_table_init(malloc(nm_frag_table_size(8)), 8, 1000000000ULL);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* Checks each received output against its chain predecessor. */
struct chain_check {
	struct nm_causal_link prev;
	uint8_t prev_payload[NM_PACKET_MAX_EVENT];
	uint32_t prev_len;
	uint32_t seen;
};

static void chain_next(struct chain_check *c, const struct nm_event *ev)
{
	ck_assert_int_eq(nm_chain_validate(&c->prev, c->prev_payload, c->prev_len, &ev->link, NULL),
			 NM_CHAIN_OK);
	c->prev = ev->link;
	c->prev_len = ev->len;
	memcpy(c->prev_payload, ev->payload, ev->len);
	c->seen++;
}

/* The echoes of sent[0..n) on TX queue 0 (at MTU 1500), in order, each chained to the one before. */
static void await_echoes(struct fixture *f, uint64_t origin, const struct nm_event *sent,
			 uint32_t n)
{
	enum { MAX = 256 };
	static uint8_t out[NM_FRAG_MAX_FRAME];
	struct nm_frag_table *t = test_table();
	struct chain_check c = { .prev = nm_link_genesis(origin, 0) };
	unsigned frames = 0;
	while (c.seen < n) {
		size_t got = await_datagram(0, t, 1500, out, &frames);
		ck_assert_msg(got != 0, "only %u of %u echoes came back", c.seen, n);
		struct nm_net_hdr h;
		struct nm_event back[MAX];
		int k = nm_packet_open(out, got, &f->peer, &f->peer_rx, &h, back, MAX, NULL);
		ck_assert_int_gt(k, 0);
		for (int i = 0; i < k; i++) {
			ck_assert_uint_lt(c.seen, n);
			ck_assert_uint_eq(back[i].len, sent[c.seen].len);
			ck_assert_mem_eq(back[i].payload, sent[c.seen].payload, back[i].len);
			chain_next(&c, &back[i]);
		}
	}
	free(t);
}

START_TEST(fragments_on_two_lcores_reassemble_and_deliver)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 11, LCORE_A);
	enum { N = 120 };
	static char text[N][31];
	struct nm_event evs[N];
	for (uint32_t i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "fragmented event %012u", i);
		evs[i] = (struct nm_event){ .link = { 0xFEED, 0, i + 1, 0 },
					    .payload = (const uint8_t *)text[i], .len = 30 };
	}
	static uint8_t frame[NM_FRAG_MAX_FRAME];
	size_t len = peer_big_packet(&f, echo.origin_hash, evs, N, 0x4242, frame, sizeof(frame));
	ck_assert_uint_gt(len, 8000);
	/* RSS would put the first fragment (UDP ports) and the rest on different queues. */
	ck_assert_uint_eq(inject_fragments(&f, frame, len, 1500, N_WORKERS), 6);
	await_echoes(&f, echo.origin_hash, evs, N);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.frag_reassembled, 1);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
}
END_TEST

/*
 * A datagram may carry up to 225 frames (36-byte empty events in 8108 bytes):
 * every one reaches the daemon. The worker used to read at most 128 events of
 * a packet and count the rest as one frame_overrun.
 */
START_TEST(every_frame_of_a_packet_of_many_events_is_delivered)
{
	struct fixture f;
	fx_up(&f);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 13, LCORE_A);
	enum { N = 200 };
	static uint8_t le[N][4];
	struct nm_event evs[N];
	for (uint32_t i = 0; i < N; i++) {
		nm_put_le32(le[i], i);
		evs[i] = (struct nm_event){ .link = { 0xFEED, 0, i + 1, 0 }, .payload = le[i], .len = 4 };
	}
	static uint8_t frame[NM_FRAG_MAX_FRAME];
	size_t len = peer_big_packet(&f, echo.origin_hash, evs, N, 0x4343, frame, sizeof(frame));
	inject_fragments(&f, frame, len, 1500, 1);
	await_echoes(&f, echo.origin_hash, evs, N);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_delivered, N);
	ck_assert_uint_eq(s.drops[NM_DROP_FRAME_OVERRUN], 0);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
}
END_TEST

/* A daemon that answers each event with the received_at it was given (8 bytes LE). */
static int stamp_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)d, (void)err;
	uint8_t *p = nm_emit_reserve(out, 8);
	if (p == NULL)
		return -ENOSPC;
	nm_put_le64(p, ev->received_at);
	return 0;
}

static const struct nm_daemon_ops stamp_ops = {
	.name = "stamp", .process = stamp_process, .destroy = spill_destroy,
};

/* The worker stores a packet's arrival time once: every frame of it still carries it. */
START_TEST(every_event_of_a_packet_has_its_arrival_time)
{
	struct fixture f;
	fx_up(&f);
	ck_assert_int_eq(nm_runtime_register_factory(f.rt, "stamp", plain_new, (void *)&stamp_ops, NULL), 0);
	struct nm_daemon_handle d = spawn_on(&f, "stamp", 14, LCORE_A);
	enum { N = 5 };
	static const uint8_t pay[N] = { 1, 2, 3, 4, 5 };
	struct nm_event evs[N];
	for (uint32_t i = 0; i < N; i++)
		evs[i] = (struct nm_event){ .link = { 0xFEED, 0, i + 1, 0 }, .payload = &pay[i], .len = 1 };
	static uint8_t frame[NM_FRAG_MAX_FRAME], out[NM_FRAG_MAX_FRAME];
	size_t len = peer_big_packet(&f, d.origin_hash, evs, N, 0x5151, frame, sizeof(frame));
	ck_assert_uint_eq(inject_fragments(&f, frame, len, 1500, 1), 1); /* one packet */
	struct nm_frag_table *t = test_table();
	uint64_t first = 0;
	unsigned seen = 0, frames = 0;
	while (seen < N) {
		size_t got = await_datagram(0, t, 1500, out, &frames);
		ck_assert_msg(got != 0, "only %u of %d outputs came back", seen, N);
		struct nm_net_hdr h;
		struct nm_event back[N];
		int k = nm_packet_open(out, got, &f.peer, &f.peer_rx, &h, back, N, NULL);
		ck_assert_int_gt(k, 0);
		for (int i = 0; i < k; i++, seen++) {
			ck_assert_uint_lt(seen, N);
			ck_assert_uint_eq(back[i].len, 8);
			const uint64_t at = nm_get_le64(back[i].payload);
			if (seen == 0)
				first = at;
			ck_assert_uint_ne(at, 0);
			ck_assert_uint_eq(at, first); /* one arrival time per packet */
		}
	}
	free(t);
	fx_down(&f);
}
END_TEST

/*
 * The sizer's outputs at one MTU: sizes[] in, every output that a datagram
 * can carry comes back (as fragments above the MTU) with an unbroken chain;
 * the one above the largest datagram fails its process() call instead.
 */
static void big_outputs_at(uint16_t mtu)
{
	struct fixture f;
	fx_mtu = mtu;
	fx_up(&f);
	ck_assert_int_eq(nm_runtime_register_factory(f.rt, "sizer", sizer_new, NULL, NULL), 0);
	struct nm_daemon_handle d = spawn_on(&f, "sizer", 12, LCORE_A);
	const uint32_t sizes[] = { 100, 3000, NM_PACKET_MAX_EVENT, NM_PACKET_MAX_EVENT + 1, 100 };
	const uint32_t expect[] = { 100, 3000, NM_PACKET_MAX_EVENT, 100 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]), M = sizeof(expect) / sizeof(expect[0]) };
	uint8_t le[N][4];
	struct nm_event evs[N];
	for (uint32_t i = 0; i < N; i++) {
		nm_put_le32(le[i], sizes[i]);
		evs[i] = (struct nm_event){ .link = { 0xFEED, 0, i + 1, 0 }, .payload = le[i], .len = 4 };
	}
	static uint8_t frame[NM_FRAG_MAX_FRAME], out[NM_FRAG_MAX_FRAME];
	size_t len = peer_big_packet(&f, d.origin_hash, evs, N, 7, frame, sizeof(frame));
	inject_fragments(&f, frame, len, mtu, 1);

	struct nm_frag_table *t = test_table();
	struct chain_check c = { .prev = nm_link_genesis(d.origin_hash, 0) };
	unsigned frames = 0;
	while (c.seen < M) {
		size_t got = await_datagram(0, t, mtu, out, &frames);
		ck_assert_msg(got != 0, "mtu %u: only %u of %d outputs came back", mtu, c.seen, M);
		struct nm_net_hdr h;
		struct nm_event back[M];
		int n = nm_packet_open(out, got, &f.peer, &f.peer_rx, &h, back, M, NULL);
		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n && c.seen < M; i++) {
			ck_assert_uint_eq(back[i].len, expect[c.seen]);
			ck_assert(sizer_output_ok(back[i].payload, back[i].len));
			ck_assert_uint_eq(back[i].link.sequence, c.seen + 1);
			chain_next(&c, &back[i]);
		}
	}
	ck_assert_uint_eq(c.seen, M);
	ck_assert_uint_gt(frames, 4); /* the big ones came as fragments */
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.events_failed, 1); /* the refused output, before the chain moved */
	ck_assert_uint_eq(s.frag_sent, 2);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&d, &st, NULL), 0);
	ck_assert_uint_eq(st.errors, 1);
	ck_assert_uint_eq(st.events_emitted, M);
	free(t);
	fx_down(&f);
}

START_TEST(outputs_above_the_mtu_leave_as_fragments_and_chain)
{
	big_outputs_at(1500);
	big_outputs_at(576);
}
END_TEST

/*
 * Migration chunks (7100-byte 0x0500 messages, IPv4 fragments) queue for a
 * control thread that is busy elsewhere (a restore, the scheduler): 300 of
 * them, more than one chunk window of five nodes, wait without a drop. Each
 * waits in a reassembled-datagram mbuf; a pool of 255 dropped the rest as
 * no_mbuf and the source resent them after its backed-off RTO.
 */
START_TEST(migration_chunks_wait_for_a_busy_control_thread)
{
	struct fixture f;
	fx_setup(&f, false, 2047);
	struct mig_seen seen = { 0 };
	nm_dataplane_set_migration(f.dp, mig_record, &seen);
	struct nm_error err;
	ck_assert_int_eq(nm_dataplane_start(f.dp, &err), 0);
	static uint8_t body[7100], frame[NM_FRAG_MAX_FRAME];
	const unsigned n_msgs = 300;
	for (unsigned k = 0; k < n_msgs; k++) {
		memset(body, (int)k, sizeof(body));
		body[0] = 1; /* SnapshotReady, as far as the dataplane cares */
		size_t len = peer_message_frame(&f, body, sizeof(body), (uint16_t)(100 + k), frame,
						sizeof(frame));
		inject_fragments(&f, frame, len, 1500, 1);
		for (int w = 0; w < 5000 && rte_ring_count(rx_rings[0]) > 512; w++)
			usleep(1000); /* the RX ring holds 1023 frames */
	}
	struct nm_lcore_stats s;
	for (int w = 0; w < 10000; w++) { /* every message queued, or dropped */
		nm_dataplane_stats(f.dp, &s);
		if (s.mig_messages + s.drops[NM_DROP_NO_MBUF] >= n_msgs)
			break;
		usleep(1000);
	}
	ck_assert_uint_eq(s.drops[NM_DROP_NO_MBUF], 0);
	ck_assert_uint_eq(s.mig_messages, n_msgs);
	for (int i = 0; i < 10000 && seen.n < n_msgs; i++)
		if (nm_dataplane_poll_migration(f.dp) == 0)
			usleep(1000);
	ck_assert_uint_eq(seen.n, n_msgs);
	ck_assert_uint_eq(seen.len, sizeof(seen.msg) < sizeof(body) ? sizeof(seen.msg) : sizeof(body));
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 0);
	fx_down(&f);
}
END_TEST

/* Fill port 0's TX ring with the pool's own mbufs: the port takes nothing more. */
static unsigned fill_port_tx(struct fixture *f)
{
	struct rte_mbuf *fill[1023];
	const unsigned n_fill = rte_ring_free_count(tx_rings[0]);
	ck_assert_uint_le(n_fill, 1023);
	ck_assert_int_eq(rte_pktmbuf_alloc_bulk(f->dp->port.pool, fill, n_fill), 0);
	ck_assert_uint_eq(rte_ring_enqueue_bulk(tx_rings[0], (void **)fill, n_fill, NULL), n_fill);
	return n_fill;
}

/*
 * A port that takes nothing: the control thread's frames (a migration chunk's
 * fragments) wait in their ring until it takes them again, none is dropped at
 * the port (a lost fragment costs the whole chunk a reassembly timeout and a
 * resend: docs/migration.md, Large states).
 */
START_TEST(control_frames_wait_while_the_port_is_full)
{
	struct fixture f;
	fx_up(&f);
	static uint8_t dgram[7100], out[NM_FRAG_MAX_FRAME];
	for (size_t i = 0; i < sizeof(dgram); i++)
		dgram[i] = (uint8_t)(i * 7);
	const unsigned n_fill = fill_port_tx(&f);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 0, dgram, sizeof(dgram)), 0);
	/* Two requests through worker 0's control ring: it has looped past the frames since. */
	struct nm_daemon_handle h = spawn_on(&f, "echo", 0x7F, LCORE_A);
	struct nm_daemon_stats ds;
	ck_assert_int_eq(nm_daemon_handle_stats(&h, &ds, NULL), 0);
	ck_assert_int_eq(nm_daemon_handle_stats(&h, &ds, NULL), 0);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.drops[NM_DROP_TX_FULL], 0);
	for (unsigned i = 0; i < n_fill; i++) {
		struct rte_mbuf *m;
		ck_assert_int_eq(rte_ring_dequeue(tx_rings[0], (void **)&m), 0);
		rte_pktmbuf_free(m);
	}
	struct nm_frag_table *t = test_table();
	for (int i = 0; i < 10; i++) {
		unsigned frames = 0;
		ck_assert_uint_eq(await_datagram(0, t, 1500, out, &frames), NM_PKT_DATA_OFF + sizeof(dgram));
		ck_assert_uint_eq(frames, 5);
		ck_assert_mem_eq(out + NM_PKT_DATA_OFF, dgram, sizeof(dgram));
	}
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.drops[NM_DROP_TX_FULL], 0);
	free(t);
	fx_down(&f);
}
END_TEST

/*
 * The same port refusing everything when the worker stops: the stop returns
 * (it used to retry the refused frames for ever) and every frame it could not
 * send is a counted tx_full drop, no mbuf left behind.
 */
START_TEST(stop_returns_while_the_port_refuses_control_frames)
{
	struct fixture f;
	fx_up(&f);
	static uint8_t dgram[7100];
	memset(dgram, 0x5A, sizeof(dgram));
	fill_port_tx(&f);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 0, dgram, sizeof(dgram)), 0);
	ck_assert_int_eq(nm_runtime_shutdown(f.rt, NULL), 0);
	nm_dataplane_stop(f.dp);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.drops[NM_DROP_TX_FULL], 4 * 5); /* 5 fragments a datagram at MTU 1500 */
	fx_release(&f);
}
END_TEST

START_TEST(control_thread_sends_datagrams_above_the_mtu)
{
	struct fixture f;
	fx_up(&f);
	static uint8_t dgram[NM_NET_MAX_PACKET + 1], out[NM_FRAG_MAX_FRAME];
	for (size_t i = 0; i < sizeof(dgram); i++)
		dgram[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 0, dgram, 7100), 0); /* a migration chunk */
	struct nm_frag_table *t = test_table();
	unsigned frames = 0;
	size_t got = await_datagram(0, t, 1500, out, &frames);
	ck_assert_uint_eq(frames, 5);
	ck_assert_uint_eq(got, NM_PKT_DATA_OFF + 7100);
	struct nm_pkt_info pi;
	ck_assert_int_eq(nm_pkt_parse(out, got, &f.peer, 0, &pi, NULL), 0); /* UDP checksum too */
	ck_assert_uint_eq(pi.src.ip, IP_US);
	ck_assert_uint_eq(pi.src.port, 7777);
	ck_assert_mem_eq(out + NM_PKT_DATA_OFF, dgram, 7100);
	/* One that fits goes whole. */
	ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 0, dgram, 1000), 0);
	frames = 0;
	ck_assert_uint_eq(await_datagram(0, t, 1500, out, &frames), NM_PKT_DATA_OFF + 1000);
	ck_assert_uint_eq(frames, 1);
	/* Refusals are counted. */
	ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 0, dgram, NM_NET_MAX_PACKET + 1), -EMSGSIZE);
	ck_assert_int_eq(nm_dataplane_send_udp(f.dp, 9, dgram, 100), -EHOSTUNREACH);
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.drops[NM_DROP_TX_TOO_LARGE], 1);
	ck_assert_uint_eq(s.drops[NM_DROP_NO_ROUTE], 1);
	ck_assert_uint_eq(s.frag_sent, 1);
	free(t);
	fx_down(&f);
}
END_TEST

START_TEST(missing_fragment_times_out_on_the_worker)
{
	struct fixture f;
	fx_frag_timeout_ms = 50;
	fx_up(&f);
	struct nm_daemon_handle echo = spawn_on(&f, "echo", 13, LCORE_A);
	static char big[3000];
	memset(big, 'b', sizeof(big));
	struct nm_event ev = { .link = { 0xFEED, 0, 1, 0 }, .payload = (const uint8_t *)big,
			       .len = sizeof(big) };
	static uint8_t frame[NM_FRAG_MAX_FRAME];
	size_t len = peer_big_packet(&f, echo.origin_hash, &ev, 1, 99, frame, sizeof(frame));
	ck_assert_uint_eq(nm_frag_count(frame, len, 1500), 3);
	/* Fragments 0 and 2 only: the datagram never completes. */
	inject_fragment(&f, frame, len, 1500, 0, 0);
	inject_fragment(&f, frame, len, 1500, 2, 1);
	ck_assert(await_drops(&f, NM_DROP_FRAG_TIMEOUT, 2));
	struct nm_lcore_stats s;
	nm_dataplane_stats(f.dp, &s);
	ck_assert_uint_eq(s.frag_reassembled, 0);
	ck_assert_uint_eq(nm_stats_total_drops(&s), 2);
	fx_down(&f);
}
END_TEST

static Suite *dataplane_suite(void)
{
	Suite *s = suite_create("dataplane");
	TCase *tc = tcase_create("path");
	tcase_add_test(tc, echo_event_comes_back_chained);
	tcase_add_test(tc, counter_outputs_batch_and_chain_across_packets);
	tcase_add_test(tc, a_failed_call_undoes_the_packets_it_filled);
	tcase_add_test(tc, event_for_daemon_on_other_lcore_is_handed_off);
	tcase_add_test(tc, runtime_api_reaches_pinned_daemons);
	suite_add_tcase(s, tc);
	TCase *bad = tcase_create("drops");
	tcase_add_test(bad, malformed_packets_are_dropped_and_counted);
	tcase_add_test(bad, burst_open_commits_per_packet_after_the_tag);
	tcase_add_test(bad, resource_exhaustion_is_counted);
	tcase_add_test(bad, arp_and_icmp_are_answered);
	suite_add_tcase(s, bad);
	TCase *mig = tcase_create("migration");
	tcase_add_test(mig, migration_messages_reach_the_control_thread);
	tcase_add_test(mig, held_events_keep_their_order_and_a_release_delivers_them);
	tcase_add_test(mig, a_moved_daemon_leaves_a_stub_that_keeps_holding);
	tcase_add_test(mig, injected_events_are_processed_in_order_and_answered);
	tcase_add_test(mig, a_stateless_daemon_is_held_with_its_chain_head);
	tcase_add_test(mig, a_target_stub_holds_until_the_restored_daemon_is_released);
	suite_add_tcase(s, mig);
	TCase *frag = tcase_create("frag");
	tcase_add_test(frag, fragments_on_two_lcores_reassemble_and_deliver);
	tcase_add_test(frag, every_frame_of_a_packet_of_many_events_is_delivered);
	tcase_add_test(frag, every_event_of_a_packet_has_its_arrival_time);
	tcase_add_test(frag, outputs_above_the_mtu_leave_as_fragments_and_chain);
	tcase_add_test(frag, control_thread_sends_datagrams_above_the_mtu);
	tcase_add_test(frag, control_frames_wait_while_the_port_is_full);
	tcase_add_test(frag, stop_returns_while_the_port_refuses_control_frames);
	tcase_add_test(frag, migration_chunks_wait_for_a_busy_control_thread);
	tcase_add_test(frag, missing_fragment_times_out_on_the_worker);
	suite_add_tcase(s, frag);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init_lcores(argv[0], "--lcores=0@0,1@1,2@1"); /* 3 lcores on 2 CPUs */
	return nm_test_run_nofork(dataplane_suite());
}

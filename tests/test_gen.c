/* SPDX-License-Identifier: MIT */
/*
 * test_gen.c - netmesh-gen's node logic (app/gen_core.h) against an
 * in-process responder built from nm_hs_* and nm_packet: ARP, the handshake
 * as initiator, sealed event packets both ways, the chain check (it must
 * catch a broken chain and tell loss from a break), forged and replayed
 * packets, the retry schedule, and garbage input. No EAL.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <sodium.h>

#include "gen_core.h"
#include "nm_aead.h"
#include "nm_causal.h"
#include "nm_handshake.h"
#include "nm_le.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_pkt.h"

#define GEN_NODE 0x1111222233334444ULL
#define GEN_ORIGIN 0x5555666677778888ULL
#define APP_NODE 0x99990000aaaabbbbULL
#define APP2_NODE 0x99990000ccccddddULL
#define DAEMON_A 0xd00000000000000aULL
#define DAEMON_B 0xd00000000000000bULL
#define EVENT_SIZE 64

static const struct nm_pkt_endpoint GEN_EP = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x02 } }, .ip = RTE_IPV4(127, 0, 0, 2), .port = 7777,
};
static const struct nm_pkt_endpoint APP_EP = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x01 } }, .ip = RTE_IPV4(127, 0, 0, 1), .port = 7777,
};
static const struct nm_pkt_endpoint APP2_EP = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x03 } }, .ip = RTE_IPV4(127, 0, 0, 3), .port = 7777,
};

/* The appliance's side, reduced to what the generator sees on the wire. */
struct responder {
	struct nm_pkt_endpoint ep;
	uint64_t node_id;
	uint64_t initiator_node_id; /* whom it expects (the prologue) */
	uint8_t psk[32];
	uint8_t static_sk[32], static_pk[32];
	struct nm_session_keys keys;
	struct nm_aead tx, rx;
	uint64_t tx_counter;
	struct nm_chain chain[2]; /* DAEMON_A, DAEMON_B */
	uint64_t seq[2];
};

struct fixture {
	struct gen *g;
	struct gen_config cfg;
	struct responder r, r2; /* r2: the second appliance (fixture_init2) */
	uint8_t frame[GEN_FRAME_MAX];
	size_t len;
};

static void responder_init(struct responder *r, uint8_t fill)
{
	memset(r, 0, sizeof(*r));
	r->ep = APP_EP;
	r->node_id = APP_NODE;
	r->initiator_node_id = GEN_NODE;
	memset(r->psk, 0x42, sizeof(r->psk));
	memset(r->static_sk, fill, sizeof(r->static_sk));
	crypto_scalarmult_base(r->static_pk, r->static_sk);
	nm_chain_init(&r->chain[0], DAEMON_A);
	nm_chain_init(&r->chain[1], DAEMON_B);
}

static struct gen_config base_config(const struct responder *r)
{
	struct gen_config c = {
		.self = GEN_EP, .peers = { { .ep = APP_EP, .mac_known = false, .node_id = APP_NODE } },
		.n_peers = 1, .node_id = GEN_NODE, .origin_hash = GEN_ORIGIN,
		.daemons = { DAEMON_A, DAEMON_B }, .n_daemons = 2,
		.event_size = EVENT_SIZE, .events_per_packet = 3, .mtu = 1500,
	};
	memcpy(c.psk, r->psk, 32);
	memcpy(c.peers[0].static_pub, r->static_pk, 32);
	return c;
}

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	responder_init(&f->r, 0x21);
	f->cfg = base_config(&f->r);
	f->g = calloc(1, sizeof(*f->g));
	ck_assert_ptr_nonnull(f->g);
	ck_assert_int_eq(gen_init(f->g, &f->cfg, NULL), 0);
}

static void fixture_fini(struct fixture *f)
{
	gen_fini(f->g);
	free(f->g);
}

/* The UDP datagram of a frame addressed to `to`. */
static uint8_t *datagram(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *to, size_t *dlen)
{
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	ck_assert_int_eq(nm_pkt_parse(frame, len, to, 0, &pi, &why), 0);
	ck_assert_int_eq(pi.kind, NM_PKT_UDP);
	*dlen = pi.data_len;
	return frame + pi.data_off;
}

/* Read msg1 from the frame, write msg2 in its place (frame to the generator). */
static int responder_answer(struct responder *r, uint8_t *frame, size_t len, size_t *out_len)
{
	size_t dlen, mlen, m2len, plen;
	const uint8_t *msg;
	uint8_t *d = datagram(frame, len, &r->ep, &dlen);
	uint8_t m2[NM_HS_MSG_LEN];
	struct nm_hs hs;
	const struct nm_hs_config rc = {
		.initiator = false, .local_node_id = r->node_id,
		.peer_node_id = r->initiator_node_id, .psk = r->psk, .static_sk = r->static_sk,
	};
	ck_assert_int_eq(nm_hs_pkt_decode(d, dlen, &msg, &mlen, NULL), 0);
	ck_assert_int_eq(nm_hs_init(&hs, &rc), 0);
	int rc_read = nm_hs_read(&hs, msg, mlen, NULL, 0, NULL);
	if (rc_read < 0)
		return rc_read;
	ck_assert_int_eq(nm_hs_write(&hs, NULL, 0, m2, sizeof(m2), &m2len), 0);
	ck_assert_int_eq(nm_hs_finish(&hs, &r->keys), 0);
	nm_aead_init(&r->tx, r->keys.tx, r->keys.session_id);
	nm_aead_init(&r->rx, r->keys.rx, r->keys.session_id);
	r->tx_counter = 0;
	ck_assert_int_eq(nm_hs_pkt_encode(m2, m2len, frame + NM_PKT_DATA_OFF,
					  GEN_FRAME_MAX - NM_PKT_DATA_OFF, &plen), 0);
	ck_assert_int_eq(nm_pkt_build_udp(frame, GEN_FRAME_MAX, &r->ep, &GEN_EP, 1, plen, 0), 0);
	*out_len = NM_PKT_DATA_OFF + plen;
	return 0;
}

/* ARP, msg1, msg2: the fixture ends ESTABLISHED. */
static void establish(struct fixture *f)
{
	size_t out = 0;
	ck_assert_int_eq(f->g->peers[0].state, GEN_RESOLVING);
	ck_assert_int_eq(gen_arp_request(f->g, 0, f->frame, sizeof(f->frame), &f->len), 0);
	ck_assert_int_eq(nm_pkt_arp_reply(f->frame, f->len, &APP_EP, &out, NULL), 0);
	ck_assert_int_eq(gen_rx(f->g, f->frame, out, NULL), GEN_RX_RESOLVED);
	ck_assert_int_eq(f->g->peers[0].state, GEN_HANDSHAKING);
	ck_assert_int_eq(gen_hs_msg1(f->g, 0, f->frame, sizeof(f->frame), &f->len), 0);
	ck_assert_int_eq(responder_answer(&f->r, f->frame, f->len, &out), 0);
	ck_assert_int_eq(gen_rx(f->g, f->frame, out, NULL), GEN_RX_ESTABLISHED);
	ck_assert_int_eq(f->g->peers[0].state, GEN_ESTABLISHED);
}

/* After editing a datagram from the appliance: fix the UDP/IPv4 checksums so the edit reaches Net. */
static void refresh_udp(uint8_t *frame, size_t len)
{
	ck_assert_int_eq(nm_pkt_build_udp(frame, GEN_FRAME_MAX, &APP_EP, &GEN_EP, 1,
					  len - NM_PKT_DATA_OFF, 0), 0);
}

/* One packet of daemon `k`'s outputs with the given links (payload "out<i>"). */
static size_t responder_emit(struct responder *r, unsigned k, const struct nm_event *evs,
			     uint32_t n, uint8_t *frame)
{
	const struct nm_packet_tx t = {
		.src = &r->ep, .dst = &GEN_EP, .ip_id = 7, .key = &r->tx,
		.counter = r->tx_counter++, .session_id = r->keys.session_id,
		.stream_id = k == 0 ? DAEMON_A : DAEMON_B, .sequence = r->seq[k]++,
		.origin_hash = r->node_id, .budget = nm_packet_budget(1500),
	};
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(frame, GEN_FRAME_MAX, &t, evs, n, &used, &len), 0);
	ck_assert_uint_eq(used, n);
	return len;
}

/* The appliance's 84-byte heartbeat on its session. */
static size_t responder_heartbeat(struct responder *r, uint8_t *frame)
{
	struct nm_net_hdr h = { .magic = NM_MAGIC_NET, .version = 1, .flags = NM_FLAG_HEARTBEAT,
				.session_id = r->keys.session_id };
	nm_hdr_encode(&h, frame + NM_PKT_DATA_OFF);
	ck_assert_int_eq(nm_aead_seal(&r->tx, frame + NM_PKT_DATA_OFF, 84, r->tx_counter++), 0);
	ck_assert_int_eq(nm_pkt_build_udp(frame, GEN_FRAME_MAX, &r->ep, &GEN_EP, 1, 84, 0), 0);
	return NM_PKT_DATA_OFF + nm_net_dgram_len(0);
}

/* Daemon k's next honest output. */
static struct nm_event next_output(struct responder *r, unsigned k, const uint8_t *payload,
				   uint32_t len)
{
	struct nm_event ev = { .payload = payload, .len = len };
	ck_assert_int_eq(nm_chain_append(&r->chain[k], payload, len, 0, &ev.link), 0);
	return ev;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_config)
{
	struct responder r;
	struct gen *g = calloc(1, sizeof(*g));
	struct gen_config c;
	responder_init(&r, 0x21);

	c = base_config(&r);
	c.events_per_packet = 100; /* 1388-byte budget / 100 bytes per event = 13 */
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_uint_eq(g->per_packet, 13);
	ck_assert_int_eq(g->peers[0].state, GEN_RESOLVING);
	c.peers[0].mac_known = true;
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_int_eq(g->peers[0].state, GEN_HANDSHAKING);

	c = base_config(&r);
	c.event_size = 1388 - 36 + 1; /* one byte over the budget */
	ck_assert_int_eq(gen_init(g, &c, NULL), -EMSGSIZE);
	c.event_size = 1388 - 36;
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_uint_eq(g->per_packet, 1);
	c.event_size = GEN_EVENT_MAX + 1;
	ck_assert_int_eq(gen_init(g, &c, NULL), -EMSGSIZE);

	/* A jumbo MTU: still one datagram of at most 8108 payload bytes. */
	c = base_config(&r);
	c.mtu = 9000;
	c.events_per_packet = 10;
	c.event_size = 4400; /* two fit 9000 - 112, but not 8108 */
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_uint_eq(g->per_packet, 1);
	c.event_size = GEN_EVENT_MAX;
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_uint_eq(g->per_packet, 1);
	c.event_size = 0; /* empty events: 8108 / 36 */
	c.events_per_packet = GEN_MAX_EVENTS_PER_PACKET;
	ck_assert_int_eq(gen_init(g, &c, NULL), 0);
	ck_assert_uint_eq(g->per_packet, 225);

	struct nm_error err = { 0 };
	c = base_config(&r);
	c.n_daemons = 0;
	ck_assert_int_eq(gen_init(g, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "daemons"));
	c = base_config(&r);
	c.peers[0].ep.ip = 0;
	ck_assert_int_eq(gen_init(g, &c, NULL), -EINVAL);
	c = base_config(&r);
	c.events_per_packet = 0;
	ck_assert_int_eq(gen_init(g, &c, NULL), -EINVAL);
	ck_assert_int_eq(gen_init(NULL, &c, NULL), -EINVAL);
	free(g);
}
END_TEST

START_TEST(test_arp_request_and_answers)
{
	struct fixture f;
	struct nm_pkt_endpoint who;
	size_t out = 0;
	fixture_init(&f);

	/* Our request: broadcast, asking for the appliance's address. */
	ck_assert_int_eq(gen_arp_request(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_uint_eq(f.len, 42);
	ck_assert_uint_eq(f.frame[0] & f.frame[5], 0xff);
	ck_assert_uint_eq(nm_get_le32(f.frame + 38), rte_cpu_to_be_32(APP_EP.ip));
	ck_assert_uint_eq(f.g->st.arp_requests, 1);

	/* Someone else's reply teaches us nothing. */
	struct nm_pkt_endpoint stranger = APP_EP;
	stranger.ip = RTE_IPV4(127, 0, 0, 9);
	ck_assert_int_eq(gen_arp_request(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	nm_put_le32(f.frame + 38, rte_cpu_to_be_32(stranger.ip));
	ck_assert_int_eq(nm_pkt_arp_reply(f.frame, f.len, &stranger, &out, NULL), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_ARP_IGNORED], 1);
	ck_assert_int_eq(f.g->peers[0].state, GEN_RESOLVING);

	/* The appliance asks for us: answered in place with our MAC. */
	uint8_t req[60] = { 0 };
	ck_assert_int_eq(nm_pkt_arp_request(req, sizeof(req), &APP_EP, GEN_EP.ip, NULL), 0);
	ck_assert_int_eq(gen_rx(f.g, req, sizeof(req), &out), GEN_RX_REPLY);
	ck_assert_uint_eq(out, 42);
	ck_assert_int_eq(nm_pkt_arp_reply_sender(req, out, &APP_EP, &who, NULL), 0);
	ck_assert_uint_eq(who.ip, GEN_EP.ip);
	ck_assert_mem_eq(who.mac.addr_bytes, GEN_EP.mac.addr_bytes, 6);
	ck_assert_uint_eq(f.g->st.arp_replies, 1);

	/* A request for another address is not answered. */
	ck_assert_int_eq(nm_pkt_arp_request(req, sizeof(req), &APP_EP, RTE_IPV4(127, 0, 0, 7), NULL), 0);
	ck_assert_int_eq(gen_rx(f.g, req, sizeof(req), &out), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_ARP_IGNORED], 2);

	/* Nothing but ARP works before the session. */
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_handshake_msg1_on_the_wire)
{
	struct fixture f;
	size_t out, dlen;
	fixture_init(&f);
	establish(&f);
	fixture_fini(&f);

	/* msg1 as docs/sessions.md has it: 116 bytes, HANDSHAKE, payload_len 48, all else 0. */
	fixture_init(&f);
	f.cfg.peers[0].mac_known = true;
	f.cfg.peers[0].ep.mac = APP_EP.mac;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_uint_eq(f.len, 42 + 116);
	uint8_t *d = datagram(f.frame, f.len, &APP_EP, &dlen);
	ck_assert_uint_eq(dlen, NM_HS_PKT_LEN);
	ck_assert_uint_eq(d[0], 0x45);
	ck_assert_uint_eq(d[1], 0x4e);
	ck_assert_uint_eq(d[2], 1);
	ck_assert_uint_eq(d[3], NM_FLAG_HANDSHAKE);
	ck_assert_uint_eq(nm_get_le16(d + 64), 48);
	for (unsigned i = 4; i < 64; i++)
		ck_assert_msg(d[i] == 0, "header byte %u is %u", i, d[i]);
	ck_assert_uint_eq(nm_get_le16(d + 66), 0);

	/* Each attempt has a fresh ephemeral. */
	uint8_t e1[32];
	memcpy(e1, d + 68, 32);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	d = datagram(f.frame, f.len, &APP_EP, &dlen);
	ck_assert_int_ne(memcmp(e1, d + 68, 32), 0);
	ck_assert_uint_eq(f.g->st.hs_attempts, 2);
	ck_assert_int_eq(responder_answer(&f.r, f.frame, f.len, &out), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_ESTABLISHED);
	ck_assert_uint_eq(f.g->peers[0].session_id, f.r.keys.session_id);
	ck_assert_mem_eq(f.g->peers[0].tx.key, f.r.keys.rx, 32);
	ck_assert_mem_eq(f.g->peers[0].rx.key, f.r.keys.tx, 32);
	fixture_fini(&f);
}
END_TEST

/* Both node ids are in the prologue: a responder expecting someone else refuses msg1. */
START_TEST(test_handshake_prologue_uses_node_ids)
{
	struct fixture f;
	size_t out;
	fixture_init(&f);
	f.cfg.peers[0].mac_known = true;
	f.cfg.peers[0].ep.mac = APP_EP.mac;
	f.cfg.peers[0].node_id = APP_NODE ^ 1;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(responder_answer(&f.r, f.frame, f.len, &out), -EBADMSG);

	f.cfg.peers[0].node_id = APP_NODE;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	f.r.initiator_node_id = GEN_NODE ^ 0x100000000ULL; /* only the routed low 32 bits count */
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(responder_answer(&f.r, f.frame, f.len, &out), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_ESTABLISHED);
	fixture_fini(&f);
}
END_TEST

/* A msg2 that does not authenticate (wrong static key, stale attempt) leaves the attempt alive. */
START_TEST(test_handshake_bad_msg2_keeps_attempt)
{
	struct fixture f;
	struct responder impostor;
	uint8_t first[GEN_FRAME_MAX];
	size_t out, first_len;
	fixture_init(&f);
	f.cfg.peers[0].mac_known = true;
	f.cfg.peers[0].ep.mac = APP_EP.mac;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);

	/* Attempt 1's msg2 arrives after attempt 2 started: stale, refused. */
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, first, sizeof(first), &first_len), 0);
	ck_assert_int_eq(responder_answer(&f.r, first, first_len, &first_len), 0);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(gen_rx(f.g, first, first_len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 1);
	ck_assert_int_eq(f.g->peers[0].state, GEN_HANDSHAKING);

	/* An impostor with another static key (and the PSK) cannot answer for the appliance. */
	uint8_t copy[GEN_FRAME_MAX];
	memcpy(copy, f.frame, f.len);
	responder_init(&impostor, 0x77);
	int rc = responder_answer(&impostor, copy, f.len, &out);
	ck_assert_int_eq(rc, -EBADMSG); /* msg1 was for the real static key: es differs */

	/* The real answer still completes attempt 2. */
	ck_assert_int_eq(responder_answer(&f.r, f.frame, f.len, &out), 0);
	uint8_t tampered[GEN_FRAME_MAX];
	memcpy(tampered, f.frame, out);
	tampered[42 + 68 + 40] ^= 0x01; /* in msg2's tag */
	refresh_udp(tampered, out);
	ck_assert_int_eq(gen_rx(f.g, tampered, out, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 2);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_ESTABLISHED);

	/* A msg2 once established is a stray handshake packet. */
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_HANDSHAKE], 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_events_to_the_appliance)
{
	struct fixture f;
	struct nm_net_hdr h;
	struct nm_event evs[16];
	enum nm_drop why = NM_DROP_NONE;
	struct nm_causal_link prev = nm_link_genesis(GEN_ORIGIN, 0);
	uint8_t prev_payload[EVENT_SIZE];
	size_t prev_len = 0;
	fixture_init(&f);
	establish(&f);

	for (unsigned p = 0; p < 4; p++) {
		ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
		int n = nm_packet_open(f.frame, f.len, &APP_EP, &f.r.rx, &h, evs, 16, &why);
		ck_assert_int_eq(n, 3);
		ck_assert_uint_eq(h.subprotocol_id, NM_SUBPROTOCOL_CAUSAL);
		ck_assert_uint_eq(h.session_id, f.r.keys.session_id);
		ck_assert_uint_eq(nm_hdr_counter(&h), p);        /* per-session, from 0 */
		ck_assert_uint_eq(h.stream_id, p % 2 ? DAEMON_B : DAEMON_A); /* round-robin */
		ck_assert_uint_eq(h.sequence, p / 2);            /* per stream */
		ck_assert_uint_eq(h.origin_hash, GEN_ORIGIN);
		for (int i = 0; i < n; i++) {
			/* Our own identity chain, link by link across packets and daemons. */
			ck_assert_int_eq(nm_chain_validate(&prev, prev_payload, prev_len, &evs[i].link,
							   NULL), NM_CHAIN_OK);
			ck_assert_uint_eq(evs[i].len, EVENT_SIZE);
			ck_assert_uint_eq(nm_get_le64(evs[i].payload), p * 3 + (unsigned)i);
			ck_assert_mem_eq(evs[i].payload + 8, "netmesh-", 8);
			prev = evs[i].link;
			memcpy(prev_payload, evs[i].payload, EVENT_SIZE);
			prev_len = EVENT_SIZE;
		}
	}
	ck_assert_uint_eq(f.g->st.tx_packets, 4);
	ck_assert_uint_eq(f.g->st.tx_events, 12);

	/* A heartbeat is 84 sealed bytes on the same counter sequence. */
	ck_assert_int_eq(gen_build_heartbeat(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_uint_eq(f.len, 42 + 84);
	ck_assert_int_eq(nm_packet_open(f.frame, f.len, &APP_EP, &f.r.rx, &h, evs, 16, &why), 0);
	ck_assert_uint_eq(h.flags, NM_FLAG_HEARTBEAT);
	ck_assert_uint_eq(nm_hdr_counter(&h), 4);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_replies_chain_ok)
{
	struct fixture f;
	uint8_t pay[4][8];
	fixture_init(&f);
	establish(&f);

	/* Counter-style outputs, several per packet, interleaved daemons. */
	for (unsigned p = 0; p < 6; p++) {
		unsigned k = p % 2;
		struct nm_event evs[4];
		for (unsigned i = 0; i < 4; i++) {
			nm_put_le64(pay[i], p * 4 + i + 1);
			evs[i] = next_output(&f.r, k, pay[i], 8);
		}
		f.len = responder_emit(&f.r, k, evs, 4, f.frame);
		ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	}
	ck_assert_uint_eq(f.g->st.rx_packets, 6);
	ck_assert_uint_eq(f.g->st.rx_events, 24);
	ck_assert_uint_eq(f.g->st.chain_ok, 24); /* the first of each daemon against genesis */
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	ck_assert_uint_eq(f.g->st.chain_gaps, 0);
	ck_assert_uint_eq(gen_drops_total(&f.g->st), 0);
	ck_assert_uint_eq(f.g->n_checks, 2);
	ck_assert_uint_eq(f.g->checks[0].origin, DAEMON_A);
	ck_assert_uint_eq(f.g->checks[0].ok, 12);
	ck_assert_uint_eq(f.g->checks[1].ok, 12);

	/* The appliance's heartbeat opens and counts. */
	f.len = responder_heartbeat(&f.r, f.frame);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.rx_heartbeats, 1);
	ck_assert_uint_eq(gen_drops_total(&f.g->st), 0);
	fixture_fini(&f);
}
END_TEST

/* Send daemon A's events one per packet, as given. */
static void emit_one(struct fixture *f, const struct nm_event *ev)
{
	f->len = responder_emit(&f->r, 0, ev, 1, f->frame);
	ck_assert_int_eq(gen_rx(f->g, f->frame, f->len, NULL), GEN_RX_CONSUMED);
}

START_TEST(test_chain_break_detected)
{
	struct fixture f;
	static const uint8_t a[] = "alpha", b[] = "bravo", c[] = "charlie", d[] = "delta";
	fixture_init(&f);
	establish(&f);

	struct nm_event e1 = next_output(&f.r, 0, a, 5);
	emit_one(&f, &e1);
	ck_assert_uint_eq(f.g->st.chain_ok, 1);

	/* A parent hash that does not follow: a break, counted once (the emitter goes on from it). */
	struct nm_event e2 = next_output(&f.r, 0, b, 5);
	e2.link.parent_hash ^= 0x10;
	nm_chain_from_head(&f.r.chain[0], &e2.link, b, 5);
	emit_one(&f, &e2);
	ck_assert_uint_eq(f.g->st.chain_errors, 1);
	ck_assert_ptr_nonnull(strstr(f.g->last_chain_error, "d00000000000000a"));
	struct nm_event e3 = next_output(&f.r, 0, c, 7);
	emit_one(&f, &e3);
	ck_assert_uint_eq(f.g->st.chain_errors, 1);
	ck_assert_uint_eq(f.g->st.chain_ok, 2);

	/* A payload that is not the one the next link hashed: the next link breaks. */
	struct nm_event e4 = next_output(&f.r, 0, d, 5);
	e4.payload = a;
	emit_one(&f, &e4);
	ck_assert_uint_eq(f.g->st.chain_ok, 3); /* e4's own link follows e3 */
	struct nm_event e5 = next_output(&f.r, 0, c, 7);
	emit_one(&f, &e5);
	ck_assert_uint_eq(f.g->st.chain_errors, 2);

	/* A link of another origin on this daemon's stream. */
	struct nm_event e6 = next_output(&f.r, 0, a, 5);
	struct nm_event wrong = e6;
	wrong.link.origin_hash = DAEMON_B;
	emit_one(&f, &wrong);
	ck_assert_uint_eq(f.g->st.chain_errors, 3);
	emit_one(&f, &e6); /* not adopted: the real one still follows */
	ck_assert_uint_eq(f.g->st.chain_ok, 4);

	/* The sequence going back (an old event re-sent in a new packet). */
	emit_one(&f, &e3);
	ck_assert_uint_eq(f.g->st.chain_errors, 4);
	ck_assert_ptr_nonnull(strstr(f.g->last_chain_error, "sequence"));

	/* Loss is not a break: a forward gap is counted apart, then the check resumes. */
	(void)next_output(&f.r, 0, b, 5);
	(void)next_output(&f.r, 0, b, 5);
	struct nm_event e9 = next_output(&f.r, 0, c, 7);
	emit_one(&f, &e9);
	ck_assert_uint_eq(f.g->st.chain_gaps, 1);
	ck_assert_uint_eq(f.g->st.gap_lost, 2);
	struct nm_event e10 = next_output(&f.r, 0, d, 5);
	emit_one(&f, &e10);
	ck_assert_uint_eq(f.g->st.chain_ok, 5);
	ck_assert_uint_eq(f.g->st.chain_errors, 4);
	ck_assert_uint_eq(f.g->checks[0].errors, 4);
	ck_assert_uint_eq(f.g->checks[0].gaps, 1);
	fixture_fini(&f);
}
END_TEST

/* The first output seen must follow the daemon's genesis link. */
START_TEST(test_chain_first_event_against_genesis)
{
	struct fixture f;
	static const uint8_t a[] = "alpha";
	fixture_init(&f);
	establish(&f);
	struct nm_event e1 = next_output(&f.r, 1, a, 5);
	e1.link.parent_hash ^= 1;
	f.len = responder_emit(&f.r, 1, &e1, 1, f.frame);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.chain_errors, 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_forged_replayed_foreign)
{
	struct fixture f;
	uint8_t saved[GEN_FRAME_MAX];
	static const uint8_t a[] = "alpha";
	fixture_init(&f);
	establish(&f);

	struct nm_event e1 = next_output(&f.r, 0, a, 5);
	f.len = responder_emit(&f.r, 0, &e1, 1, f.frame);
	memcpy(saved, f.frame, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.chain_ok, 1);

	/* The same packet again: the replay window refuses it before any crypto. */
	memcpy(f.frame, saved, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_REPLAY_DUP], 1);

	/* A flipped ciphertext bit: auth, and the window does not move. */
	struct nm_event e2 = next_output(&f.r, 0, a, 5);
	f.len = responder_emit(&f.r, 0, &e2, 1, f.frame);
	memcpy(saved, f.frame, f.len);
	f.frame[42 + 68 + 3] ^= 0x80;
	refresh_udp(f.frame, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 1);
	ck_assert_int_eq(gen_rx(f.g, saved, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.chain_ok, 2);

	/* Another session id, another port, another class. */
	memcpy(f.frame, saved, f.len);
	f.frame[42 + 24] ^= 1;
	refresh_udp(f.frame, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SESSION_UNKNOWN], 1);
	struct nm_pkt_endpoint other = GEN_EP;
	other.port = 7778;
	ck_assert_int_eq(nm_pkt_build_udp(f.frame, sizeof(f.frame), &APP_EP, &other, 1, 20, 0), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, 42 + 20, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_UDP_PORT], 1);
	memset(f.frame + 42, 0, 20);
	ck_assert_int_eq(nm_pkt_build_udp(f.frame, sizeof(f.frame), &APP_EP, &GEN_EP, 1, 20, 0), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, 42 + 20, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_CLASS_UNKNOWN], 1);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	fixture_fini(&f);
}
END_TEST

/* A valid packet of another subprotocol is authenticated, then refused. */
START_TEST(test_other_subprotocol)
{
	struct fixture f;
	fixture_init(&f);
	establish(&f);
	uint8_t *d = f.frame + NM_PKT_DATA_OFF;
	struct nm_net_hdr h = { .magic = NM_MAGIC_NET, .version = 1, .subprotocol_id = 0x0B01,
				.session_id = f.r.keys.session_id, .payload_len = 4 };
	nm_hdr_encode(&h, d);
	memset(d + 68, 0, 4);
	ck_assert_int_eq(nm_aead_seal(&f.r.tx, d, 88, f.r.tx_counter++), 0);
	ck_assert_int_eq(nm_pkt_build_udp(f.frame, sizeof(f.frame), &APP_EP, &GEN_EP, 1, 88, 0), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, 42 + 88, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SUBPROTOCOL], 1);
	fixture_fini(&f);
}
END_TEST

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Random bytes, truncations and bit flips of real packets: always counted, never a crash. */
START_TEST(test_garbage_is_counted)
{
	struct fixture f;
	uint8_t good[GEN_FRAME_MAX], buf[GEN_FRAME_MAX];
	uint8_t pay[8] = { 1 };
	size_t out;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	fixture_init(&f);
	establish(&f);
	struct nm_event e = next_output(&f.r, 0, pay, 8);
	size_t good_len = responder_emit(&f.r, 0, &e, 1, good);
	memcpy(buf, good, good_len);
	ck_assert_int_eq(gen_rx(f.g, buf, good_len, NULL), GEN_RX_CONSUMED);
	const uint64_t ok_before = f.g->st.chain_ok;
	ck_assert_uint_eq(ok_before, 1);

	for (unsigned i = 0; i < 3000; i++) {
		size_t len;
		if (i % 3 == 0) { /* random bytes, our MAC so parsing goes deeper */
			len = rng(&seed) % 300;
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rng(&seed);
			if (len >= 6)
				memcpy(buf, GEN_EP.mac.addr_bytes, 6);
		} else if (i % 3 == 1) { /* truncated */
			len = rng(&seed) % good_len;
			memcpy(buf, good, len);
		} else { /* one flipped bit anywhere */
			len = good_len;
			memcpy(buf, good, len);
			size_t bit = rng(&seed) % (len * 8);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		enum gen_rx_result r = gen_rx(f.g, buf, len, &out);
		ck_assert(r == GEN_RX_CONSUMED || r == GEN_RX_REPLY);
	}
	ck_assert_uint_eq(f.g->st.chain_ok, ok_before);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	ck_assert_uint_ge(gen_drops_total(&f.g->st), 2900);
	/* The session survived all of it. */
	e = next_output(&f.r, 0, pay, 8);
	good_len = responder_emit(&f.r, 0, &e, 1, good);
	ck_assert_int_eq(gen_rx(f.g, good, good_len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.chain_ok, ok_before + 1);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_tx_unsent)
{
	struct fixture f;
	fixture_init(&f);
	establish(&f);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	gen_tx_unsent(f.g, f.frame, f.len); /* B's packet, read back from its NetHeader */
	ck_assert_uint_eq(f.g->st.tx_packets, 1);
	ck_assert_uint_eq(f.g->st.tx_events, 3);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_TX_FULL], 1);
	ck_assert_uint_eq(f.g->dest[0].sent, 3);
	ck_assert_uint_eq(f.g->dest[1].sent, 0);
	ck_assert_uint_eq(f.g->peers[0].tx_packets, 1);
	ck_assert_uint_eq(gen_lost_events(f.g), 3); /* A's, never answered; B's were never sent */
	/* A frame that is no event packet (a heartbeat): only the drop. */
	ck_assert_int_eq(gen_build_heartbeat(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	gen_tx_unsent(f.g, f.frame, f.len);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_TX_FULL], 2);
	ck_assert_uint_eq(f.g->st.tx_events, 3);
	gen_tx_unsent(f.g, f.frame, 10);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_TX_FULL], 3);
	fixture_fini(&f);
}
END_TEST

#define MS 1000000ULL

/* 1 s wait per attempt, 100 ms x attempt back-off, 4 sends, 5 s overall. */
START_TEST(test_retry_schedule)
{
	struct gen_retry r;
	gen_retry_start(&r, 1000 * MS, 4, 1000, 100, 5000);
	ck_assert_int_eq(gen_retry_poll(&r, 1000 * MS), GEN_RETRY_SEND);
	ck_assert_int_eq(gen_retry_poll(&r, 1000 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_retry_poll(&r, 2099 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_retry_poll(&r, 2100 * MS), GEN_RETRY_SEND); /* 1000 + 100 x 1 */
	ck_assert_int_eq(gen_retry_poll(&r, 3299 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_retry_poll(&r, 3300 * MS), GEN_RETRY_SEND); /* 1000 + 100 x 2 */
	ck_assert_int_eq(gen_retry_poll(&r, 4600 * MS), GEN_RETRY_SEND); /* 1000 + 100 x 3 */
	ck_assert_uint_eq(r.attempts, 4);
	ck_assert_int_eq(gen_retry_poll(&r, 5599 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_retry_poll(&r, 5600 * MS), GEN_RETRY_FAIL); /* last wait over */

	/* The overall deadline wins over a slow schedule. */
	gen_retry_start(&r, 0, 4, 3000, 100, 5000);
	ck_assert_int_eq(gen_retry_poll(&r, 0), GEN_RETRY_SEND);
	ck_assert_int_eq(gen_retry_poll(&r, 3100 * MS), GEN_RETRY_SEND);
	ck_assert_int_eq(gen_retry_poll(&r, 4999 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_retry_poll(&r, 5000 * MS), GEN_RETRY_FAIL);
}
END_TEST

/* ------------------------------------------------------------------ pacing */

#define SEC (1000 * MS)

START_TEST(test_pace_due_is_exact)
{
	const uint64_t t0 = 123 * SEC + 456;
	ck_assert_uint_eq(gen_pace_due(t0, t0, 100000), 0);
	ck_assert_uint_eq(gen_pace_due(t0, t0 - 1, 100000), 0); /* a clock before the start */
	ck_assert_uint_eq(gen_pace_due(t0, t0 + 9999, 100000), 0);
	ck_assert_uint_eq(gen_pace_due(t0, t0 + 10000, 100000), 1);
	ck_assert_uint_eq(gen_pace_due(t0, t0 + SEC, 100000), 100000);
	ck_assert_uint_eq(gen_pace_due(t0, t0 + 10 * SEC + 5000, 100000), 1000000);
	ck_assert_uint_eq(gen_pace_due(t0, t0 + SEC / 3, 3), 0);
	ck_assert_uint_eq(gen_pace_due(t0, t0 + SEC / 3 + 1, 3), 1);
	/* 10 G packets/s for an hour: no overflow on the way. */
	ck_assert_uint_eq(gen_pace_due(0, 3600 * SEC, 10000000000ULL), 36000000000000ULL);
	/* The next packet's time is the first instant it is due, for any rate and count. */
	const uint64_t rates[] = { 1, 3, 7, 500, 100000, 999983, 14880952 };
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		for (uint64_t done = 0; done < 3000000; done = done * 3 + 1) {
			const uint64_t t = gen_pace_next_ns(t0, rates[i], done);
			ck_assert_uint_gt(gen_pace_due(t0, t, rates[i]), done);
			ck_assert_uint_le(gen_pace_due(t0, t - 1, rates[i]), done);
		}
}
END_TEST

START_TEST(test_pace_sleep_only_when_ahead)
{
	const uint64_t now = 5 * SEC;
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + 8000, false, 100000, 100), 100);
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + GEN_PACE_MIN_AHEAD_NS, false, 100000, 100),
			  100);
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + GEN_PACE_MIN_AHEAD_NS - 1, false, 100000, 100),
			  0);                                               /* due too soon */
	ck_assert_uint_eq(gen_pace_sleep_us(now, now - 1, false, 100000, 100), 0); /* due: send */
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + 8000, true, 100000, 100), 0); /* busy */
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + 8000, false, 100000, 0), 0);  /* busy-poll */
	ck_assert_uint_eq(gen_pace_sleep_us(now, now + 8000, false, 0, 100), 0);     /* no rate */
}
END_TEST

/*
 * The send loop's pacing on a simulated clock: each poll costs 300 ns, each
 * sleep lasts its length plus 0..30 us of lateness. The rate stays exact
 * (never ahead of the schedule, never behind it after a wake's burst), the
 * loop sleeps about once per --idle-sleep-us (not per packet), and a burst
 * holds what fell due in one sleep.
 */
static void paced_run(uint64_t rate, uint32_t max_us, uint64_t secs)
{
	const uint64_t t0 = 7 * SEC, end = t0 + secs * SEC;
	uint64_t now = t0, sent = 0, sleeps = 0, max_burst = 0, rng = 0x9E3779B97F4A7C15ULL;
	while (now < end) {
		const uint64_t due = gen_pace_due(t0, now, rate);
		ck_assert_uint_ge(due, sent); /* never sent ahead of the schedule */
		max_burst = due - sent > max_burst ? due - sent : max_burst;
		sent = due; /* the burst */
		const uint32_t us = gen_pace_sleep_us(now, gen_pace_next_ns(t0, rate, sent), false,
						      rate, max_us);
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		now += us != 0 ? (uint64_t)us * 1000 + rng % 30000 : 300;
		sleeps += us != 0;
	}
	/* The wake after the end sends what fell due: the rate's count, exactly. */
	sent = gen_pace_due(t0, now, rate);
	ck_assert_uint_eq(sent, (uint64_t)((long double)(now - t0) * rate / SEC));
	ck_assert_uint_ge(sent, secs * rate);
	const uint64_t wake_ns = (uint64_t)max_us * 1000;
	ck_assert_uint_le(sent - secs * rate, (wake_ns + 30000) * rate / SEC + 1);
	ck_assert_uint_le(max_burst, (wake_ns + 30000) * rate / SEC + 1);
	ck_assert_uint_le(sleeps, secs * SEC / wake_ns + 1);
	ck_assert_uint_gt(sleeps, secs * SEC / (wake_ns + 30000 + GEN_PACE_MIN_AHEAD_NS) / 2);
}

START_TEST(test_pace_loop_keeps_the_rate)
{
	paced_run(100000, 100, 2); /* the pause benchmark: 100 k/s, --idle-sleep-us 100 */
	paced_run(500, 100, 3);    /* its test: 500/s */
	paced_run(1000, 50, 2);
}
END_TEST

/* ------------------------------------------------------------------ several appliances */

/* Two appliances: f->r (APP_NODE, peers[0]) and f->r2 (APP2_NODE, peers[1]). */
static void fixture_init2(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	responder_init(&f->r, 0x21);
	responder_init(&f->r2, 0x31);
	f->r2.ep = APP2_EP;
	f->r2.node_id = APP2_NODE;
	f->cfg = base_config(&f->r);
	f->cfg.n_peers = 2;
	f->cfg.peers[1] = (struct gen_peer_config){ .ep = APP2_EP, .node_id = APP2_NODE };
	memcpy(f->cfg.peers[1].static_pub, f->r2.static_pk, 32);
	f->g = calloc(1, sizeof(*f->g));
	ck_assert_ptr_nonnull(f->g);
	ck_assert_int_eq(gen_init(f->g, &f->cfg, NULL), 0);
}

/* ARP, msg1, msg2 with peer `p`, answered by `r`. */
static void establish_peer(struct fixture *f, struct responder *r, unsigned p)
{
	size_t out = 0;
	ck_assert_int_eq(f->g->peers[p].state, GEN_RESOLVING);
	ck_assert_int_eq(gen_arp_request(f->g, p, f->frame, sizeof(f->frame), &f->len), 0);
	ck_assert_uint_eq(nm_get_le32(f->frame + 38), rte_cpu_to_be_32(r->ep.ip));
	ck_assert_int_eq(nm_pkt_arp_reply(f->frame, f->len, &r->ep, &out, NULL), 0);
	ck_assert_int_eq(gen_rx(f->g, f->frame, out, NULL), GEN_RX_RESOLVED);
	ck_assert_mem_eq(f->g->peers[p].cfg.ep.mac.addr_bytes, r->ep.mac.addr_bytes, 6);
	ck_assert_int_eq(gen_hs_msg1(f->g, p, f->frame, sizeof(f->frame), &f->len), 0);
	ck_assert_int_eq(responder_answer(r, f->frame, f->len, &out), 0);
	ck_assert_int_eq(gen_rx(f->g, f->frame, out, NULL), GEN_RX_ESTABLISHED);
	ck_assert_int_eq(f->g->peers[p].state, GEN_ESTABLISHED);
	ck_assert_uint_eq(f->g->peers[p].session_id, r->keys.session_id);
}

/* `in` opens the generator's packet; `out` runs the echo daemon k on it: one output per event. */
static size_t responder_echo(struct responder *in, struct responder *out, unsigned k,
			     uint8_t *frame, size_t len, uint8_t *reply)
{
	struct nm_net_hdr h;
	struct nm_event evs[16];
	enum nm_drop why = NM_DROP_NONE;
	int n = nm_packet_open(frame, len, &in->ep, &in->rx, &h, evs, 16, &why);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(h.stream_id, k == 0 ? DAEMON_A : DAEMON_B);
	for (int i = 0; i < n; i++)
		evs[i] = next_output(out, k, evs[i].payload, evs[i].len);
	return responder_emit(out, k, evs, (uint32_t)n, reply);
}

/* Counter-style outputs of daemon k (payload: the count), n of them. */
static void responder_count(struct fixture *f, struct responder *r, unsigned k, uint32_t n,
			    uint64_t *count)
{
	uint8_t pay[8][8];
	struct nm_event evs[8];
	ck_assert_uint_le(n, 8);
	for (uint32_t i = 0; i < n; i++) {
		nm_put_le64(pay[i], ++*count);
		evs[i] = next_output(r, k, pay[i], 8);
	}
	f->len = responder_emit(r, k, evs, n, f->frame);
	ck_assert_int_eq(gen_rx(f->g, f->frame, f->len, NULL), GEN_RX_CONSUMED);
}

/* One 0x0500 message sealed on r's session (`key`: NULL for r's own TX key). */
static size_t responder_message(struct responder *r, const struct nm_aead *key,
				const uint8_t *body, size_t blen, uint8_t *frame)
{
	int dlen = nm_packet_message(frame + NM_PKT_DATA_OFF, GEN_FRAME_MAX - NM_PKT_DATA_OFF,
				     key != NULL ? key : &r->tx, r->tx_counter++, r->keys.session_id,
				     NM_SUBPROTOCOL_MIGRATION, NM_SUBPROTOCOL_MIGRATION, 0, r->node_id,
				     body, blen);
	ck_assert_int_gt(dlen, 0);
	ck_assert_int_eq(nm_pkt_build_udp(frame, GEN_FRAME_MAX, &r->ep, &GEN_EP, 1, (size_t)dlen, 0), 0);
	return NM_PKT_DATA_OFF + (size_t)dlen;
}

static size_t responder_moved(struct responder *r, uint64_t origin, uint64_t new_node,
			      uint8_t *frame)
{
	uint8_t body[NM_MIG_MOVED_SIZE];
	size_t blen;
	const struct nm_mig_msg m = { .type = NM_MIG_MOVED, .daemon_origin = origin,
				      .moved.new_node = new_node };
	ck_assert_int_eq(nm_mig_encode(&m, body, sizeof(body), &blen, NULL), 0);
	ck_assert_uint_eq(blen, 17);
	return responder_message(r, NULL, body, blen, frame);
}

/* Deliver a Moved from r to the generator. */
static void moved(struct fixture *f, struct responder *r, uint64_t origin, uint64_t new_node)
{
	f->len = responder_moved(r, origin, new_node, f->frame);
	ck_assert_int_eq(gen_rx(f->g, f->frame, f->len, NULL), GEN_RX_CONSUMED);
}

START_TEST(test_two_appliances_handshake)
{
	struct fixture f;
	size_t out;
	fixture_init2(&f);
	ck_assert(!gen_all_established(f.g));
	establish_peer(&f, &f.r, 0);
	ck_assert(!gen_all_established(f.g));

	/* A msg2 from an address that is no peer's is not matched to a handshake. */
	ck_assert_int_eq(gen_arp_request(f.g, 1, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(nm_pkt_arp_reply(f.frame, f.len, &APP2_EP, &out, NULL), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_RESOLVED);
	ck_assert_int_eq(gen_hs_msg1(f.g, 1, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(responder_answer(&f.r2, f.frame, f.len, &out), 0);
	uint8_t stray[GEN_FRAME_MAX];
	memcpy(stray, f.frame, out);
	struct nm_pkt_endpoint stranger = APP2_EP;
	stranger.port = 7000;
	ck_assert_int_eq(nm_pkt_build_udp(stray, sizeof(stray), &stranger, &GEN_EP, 1,
					  out - NM_PKT_DATA_OFF, 0), 0);
	ck_assert_int_eq(gen_rx(f.g, stray, out, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_HANDSHAKE], 1);
	ck_assert_int_eq(f.g->peers[1].state, GEN_HANDSHAKING);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_ESTABLISHED);
	ck_assert(gen_all_established(f.g));
	ck_assert_uint_ne(f.g->peers[0].session_id, f.g->peers[1].session_id);
	ck_assert_uint_eq(f.g->peers[0].hs_attempts, 1);
	ck_assert_uint_eq(f.g->peers[1].hs_attempts, 1);

	/* Heartbeats go on each session, each with its own counter. */
	struct nm_net_hdr h;
	struct nm_event evs[4];
	enum nm_drop why;
	ck_assert_int_eq(gen_build_heartbeat(f.g, 1, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(nm_packet_open(f.frame, f.len, &APP2_EP, &f.r2.rx, &h, evs, 4, &why), 0);
	ck_assert_uint_eq(h.session_id, f.r2.keys.session_id);
	ck_assert_int_eq(gen_build_heartbeat(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(nm_packet_open(f.frame, f.len, &APP_EP, &f.r.rx, &h, evs, 4, &why), 0);
	ck_assert_uint_eq(nm_hdr_counter(&h), 0);
	ck_assert_int_eq(gen_build_heartbeat(f.g, 2, f.frame, sizeof(f.frame), &f.len), -EINVAL);
	fixture_fini(&f);
}
END_TEST

/*
 * Daemon A (echo) starts on the first appliance, migrates to the second: the
 * old node forwards an event, sends Moved, and the second answers; the
 * generator re-points A, its next packet goes straight to the second, and
 * all of A's outputs validate against its one chain. B (counter) stays.
 */
START_TEST(test_moved_repoints_daemon)
{
	struct fixture f;
	uint8_t reply[GEN_FRAME_MAX];
	uint64_t count_b = 0;
	fixture_init2(&f);
	establish_peer(&f, &f.r, 0);
	establish_peer(&f, &f.r2, 1);

	/* A: events 0..2 on the first appliance, answered 500 ns later. */
	gen_set_now(f.g, 1000);
	ck_assert_uint_eq(gen_next_peer(f.g), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	size_t rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
	gen_set_now(f.g, 1500);
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->dest[0].answered, 3);
	ck_assert_uint_eq(f.g->dest[0].echoed, 3);
	ck_assert_uint_eq(f.g->st.rtt_samples, 3);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 500);

	/* B: events 3..5, counter answers. */
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	responder_count(&f, &f.r, 1, 3, &count_b);

	/* A migrates: its chain goes with it to the second appliance. */
	f.r2.chain[0] = f.r.chain[0];
	gen_set_now(f.g, 2000);
	ck_assert_uint_eq(gen_next_peer(f.g), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	rlen = responder_echo(&f.r, &f.r2, 0, f.frame, f.len, reply); /* forwarded */
	moved(&f, &f.r, DAEMON_A, APP2_NODE);
	ck_assert_uint_eq(f.g->st.redirects, 1);
	ck_assert_uint_eq(f.g->dest[0].redirects, 1);
	ck_assert_uint_eq(f.g->dest[0].peer, 1);
	ck_assert_uint_eq(f.g->peers[0].moved_recv, 1);
	ck_assert_uint_eq(f.g->st.rx_messages, 1);
	gen_set_now(f.g, 2600);
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.rtt_fwd_samples, 3); /* sent to one, answered by the other */
	ck_assert_uint_eq(f.g->st.rtt_fwd_max_ns, 600);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 600);

	/* B still goes to the first appliance, A now to the second, straight. */
	ck_assert_uint_eq(gen_next_peer(f.g), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	responder_count(&f, &f.r, 1, 3, &count_b);
	ck_assert_uint_eq(gen_next_peer(f.g), 1);
	gen_set_now(f.g, 3000);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	struct nm_net_hdr h;
	struct nm_event evs[4];
	enum nm_drop why;
	memcpy(reply, f.frame, f.len);
	ck_assert_int_eq(nm_packet_open(reply, f.len, &APP2_EP, &f.r.rx, &h, evs, 4, &why), -EBADMSG);
	memcpy(reply, f.frame, f.len);
	ck_assert_int_eq(nm_packet_open(reply, f.len, &APP2_EP, &f.r2.rx, &h, evs, 4, &why), 3);
	ck_assert_uint_eq(h.session_id, f.r2.keys.session_id);
	ck_assert_uint_eq(nm_hdr_counter(&h), 0); /* its session's first data packet */
	ck_assert_uint_eq(h.sequence, 2);         /* A's third packet: the stream goes on */
	ck_assert_uint_eq(nm_get_le64(evs[0].payload), 12);
	rlen = responder_echo(&f.r2, &f.r2, 0, f.frame, f.len, reply);
	gen_set_now(f.g, 3100);
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);

	/* One chain per daemon across both appliances; every event answered once. */
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	ck_assert_uint_eq(f.g->st.chain_gaps, 0);
	ck_assert_uint_eq(f.g->st.chain_ok, 15);
	ck_assert_uint_eq(f.g->checks[0].ok, 9);
	ck_assert_uint_eq(f.g->dest[0].answered, 9);
	ck_assert_uint_eq(f.g->dest[1].answered, 6);
	ck_assert_uint_eq(f.g->st.duplicate_events, 0);
	ck_assert_uint_eq(gen_lost_events(f.g), 0);
	ck_assert_uint_eq(f.g->st.rtt_samples, 15);
	ck_assert_uint_eq(f.g->st.rtt_fwd_samples, 3);
	ck_assert_uint_eq(f.g->peers[1].rx_packets, 2);
	ck_assert_uint_eq(gen_drops_total(&f.g->st), 0);
	fixture_fini(&f);
}
END_TEST

/* A Moved that cannot apply is counted and changes nothing. */
START_TEST(test_moved_ignored)
{
	struct fixture f;
	fixture_init2(&f);
	establish_peer(&f, &f.r, 0);

	moved(&f, &f.r, DAEMON_A, APP2_NODE); /* a known node, but no session with it yet */
	ck_assert_uint_eq(f.g->st.redirects_ignored, 1);
	establish_peer(&f, &f.r2, 1);
	moved(&f, &f.r, DAEMON_A, 0x0123456789abcdefULL); /* unknown node */
	ck_assert_uint_eq(f.g->st.redirects_ignored, 2);
	moved(&f, &f.r2, DAEMON_A, APP2_NODE); /* from a peer A is not on */
	ck_assert_uint_eq(f.g->st.redirects_ignored, 3);
	moved(&f, &f.r, 0xd0000000000000ffULL, APP2_NODE); /* not a daemon of ours */
	ck_assert_uint_eq(f.g->st.redirects_ignored, 4);
	moved(&f, &f.r, DAEMON_A, APP_NODE); /* "moved" to where it is */
	ck_assert_uint_eq(f.g->st.redirects_ignored, 5);
	ck_assert_uint_eq(f.g->st.redirects, 0);
	ck_assert_uint_eq(f.g->dest[0].peer, 0);
	ck_assert_uint_eq(gen_next_peer(f.g), 0);
	ck_assert_uint_eq(gen_drops_total(&f.g->st), 0);

	/* The valid one still works afterwards. */
	moved(&f, &f.r, DAEMON_A, APP2_NODE);
	ck_assert_uint_eq(f.g->st.redirects, 1);
	ck_assert_uint_eq(gen_next_peer(f.g), 1);
	fixture_fini(&f);
}
END_TEST

/* Only an authenticated Moved on a peer's session counts; other 0x0500 input is a counted drop. */
START_TEST(test_moved_forged_rejected)
{
	struct fixture f;
	uint8_t saved[GEN_FRAME_MAX];
	fixture_init2(&f);
	establish_peer(&f, &f.r, 0);
	establish_peer(&f, &f.r2, 1);

	/* A flipped bit in the sealed body: auth. */
	f.len = responder_moved(&f.r, DAEMON_A, APP2_NODE, f.frame);
	memcpy(saved, f.frame, f.len);
	f.frame[NM_PKT_DATA_OFF + NM_NET_HDR_SIZE + 6] ^= 0x04;
	refresh_udp(f.frame, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 1);

	/* Sealed with a key that is not the session's (an impostor knowing the session id). */
	struct nm_aead forged;
	uint8_t k[32];
	memset(k, 0x5a, sizeof(k));
	nm_aead_init(&forged, k, f.r.keys.session_id);
	uint8_t body[NM_MIG_MOVED_SIZE] = { NM_MIG_MOVED };
	nm_put_le64(body + 1, DAEMON_A);
	nm_put_le64(body + 9, APP2_NODE);
	f.len = responder_message(&f.r, &forged, body, sizeof(body), f.frame);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 2);

	/* A session id nobody has. */
	memcpy(f.frame, saved, f.len = responder_moved(&f.r, DAEMON_A, APP2_NODE, saved));
	f.frame[NM_PKT_DATA_OFF + 24] ^= 1;
	refresh_udp(f.frame, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SESSION_UNKNOWN], 1);
	ck_assert_uint_eq(f.g->st.redirects + f.g->st.redirects_ignored, 0);
	ck_assert_uint_eq(f.g->dest[0].peer, 0);

	/* The genuine one applies once; its replay is refused. */
	memcpy(f.frame, saved, f.len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.redirects, 1);
	ck_assert_int_eq(gen_rx(f.g, saved, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_REPLAY_DUP], 1);

	/* Another 0x0500 message, a truncated Moved: subprotocol drops. */
	const struct nm_mig_msg q = { .type = NM_MIG_QUERY, .daemon_origin = DAEMON_A, .query.nonce = 7 };
	uint8_t qb[NM_MIG_QUERY_SIZE];
	size_t qlen;
	ck_assert_int_eq(nm_mig_encode(&q, qb, sizeof(qb), &qlen, NULL), 0);
	f.len = responder_message(&f.r2, NULL, qb, qlen, f.frame);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	f.len = responder_message(&f.r2, NULL, body, sizeof(body) - 1, f.frame);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SUBPROTOCOL], 2);

	/* Two frames announced, one there: one overrun, and the Moved is still read. */
	uint8_t *d = f.frame + NM_PKT_DATA_OFF;
	moved(&f, &f.r2, DAEMON_A, APP_NODE); /* back to the first, well-formed */
	ck_assert_uint_eq(f.g->st.redirects, 2);
	struct nm_net_hdr h = { .magic = NM_MAGIC_NET, .version = 1,
				.subprotocol_id = NM_SUBPROTOCOL_MIGRATION,
				.session_id = f.r.keys.session_id, .payload_len = 4 + 17,
				.event_count = 2 };
	nm_hdr_encode(&h, d);
	nm_put_le32(d + NM_NET_HDR_SIZE, 17);
	nm_put_le64(body + 9, APP2_NODE);
	memcpy(d + NM_NET_HDR_SIZE + 4, body, 17);
	const size_t dlen = NM_NET_HDR_SIZE + 21 + NM_NET_TAG_SIZE;
	ck_assert_int_eq(nm_aead_seal(&f.r.tx, d, dlen, f.r.tx_counter++), 0);
	ck_assert_int_eq(nm_pkt_build_udp(f.frame, sizeof(f.frame), &APP_EP, &GEN_EP, 1, dlen, 0), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, NM_PKT_DATA_OFF + dlen, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_FRAME_OVERRUN], 1);
	ck_assert_uint_eq(f.g->st.redirects, 3);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	fixture_fini(&f);
}
END_TEST

/*
 * Exactly-once accounting on one appliance: an echo answered twice, a
 * counter with one output too many, and events never answered.
 */
START_TEST(test_duplicates_and_unanswered)
{
	struct fixture f;
	uint8_t reply[GEN_FRAME_MAX];
	uint64_t count_b = 0;
	fixture_init(&f);
	establish(&f);

	/* A: events 0..2 echoed, then event 1 echoed again (a new output, chain-valid). */
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	size_t rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	uint8_t again[EVENT_SIZE];
	nm_put_le64(again, 1);
	memcpy(again + 8, "netmesh-gen netmesh-gen netmesh-gen netmesh-gen netmesh-gen ", EVENT_SIZE - 8);
	struct nm_event dup = next_output(&f.r, 0, again, EVENT_SIZE);
	emit_one(&f, &dup);
	ck_assert_uint_eq(f.g->dest[0].echoed, 4);
	ck_assert_uint_eq(f.g->dest[0].answered, 3);
	ck_assert_uint_eq(f.g->dest[0].duplicates, 1);
	ck_assert_uint_eq(f.g->st.duplicate_events, 1);

	/* B: events 3..5, four counter outputs: the fourth answers nothing. */
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	responder_count(&f, &f.r, 1, 4, &count_b);
	ck_assert_uint_eq(f.g->dest[1].answered, 3);
	ck_assert_uint_eq(f.g->dest[1].duplicates, 1);
	ck_assert_uint_eq(f.g->st.duplicate_events, 2);

	/* A: events 6..8, only 6 answered; B: events 9..11, none. */
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	nm_put_le64(again, 6);
	struct nm_event six = next_output(&f.r, 0, again, EVENT_SIZE);
	emit_one(&f, &six);
	ck_assert_uint_eq(f.g->dest[0].answered, 4);
	ck_assert_uint_eq(gen_dest_unanswered(&f.g->dest[0]), 2);
	ck_assert_uint_eq(gen_dest_unanswered(&f.g->dest[1]), 3);
	ck_assert_uint_eq(f.g->st.chain_gaps, 0);
	ck_assert_uint_eq(gen_lost_events(f.g), 5);

	/* A chain gap on B counts once, not on top of its unanswered events. */
	(void)next_output(&f.r, 1, again, 8);
	responder_count(&f, &f.r, 1, 1, &count_b);
	ck_assert_uint_eq(f.g->st.chain_gaps, 1);
	ck_assert_uint_eq(f.g->st.gap_lost, 1);
	ck_assert_uint_eq(gen_dest_unanswered(&f.g->dest[1]), 2);
	ck_assert_uint_eq(gen_lost_events(f.g), 4);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	fixture_fini(&f);

	/* A daemon marked "any" (a sink) is not held to one output per event. */
	fixture_init(&f);
	f.cfg.daemon_any[1] = true;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	establish(&f);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_uint_eq(gen_dest_unanswered(&f.g->dest[0]), 3);
	ck_assert_uint_eq(gen_dest_unanswered(&f.g->dest[1]), 0);
	ck_assert_uint_eq(gen_lost_events(f.g), 3);
	fixture_fini(&f);
}
END_TEST

/*
 * The drain waits for outstanding events, not for a fixed quiet: a reply held
 * 600 ms by a migration (the old drain stopped after 500 ms) still counts.
 */
START_TEST(test_drain_waits_for_outstanding)
{
	struct fixture f;
	uint8_t reply[GEN_FRAME_MAX];
	const uint64_t ms = 1000000, max = GEN_DRAIN_MAX_MS * ms, quiet = GEN_DRAIN_QUIET_MS * ms;
	fixture_init(&f);
	establish(&f);
	ck_assert(gen_drain_done(f.g, 0, 0, max, quiet)); /* nothing sent: nothing to wait for */
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_uint_eq(gen_outstanding(f.g), f.g->dest[0].sent);
	ck_assert_uint_gt(gen_outstanding(f.g), 0);
	ck_assert(!gen_drain_done(f.g, 600 * ms, 600 * ms, max, quiet));
	ck_assert(gen_drain_done(f.g, quiet, quiet, max, quiet)); /* bounded: silence */
	ck_assert(gen_drain_done(f.g, 0, max, max, quiet));     /* bounded: overall */
	size_t rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(gen_outstanding(f.g), 0);
	ck_assert(gen_drain_done(f.g, 0, 600 * ms, max, quiet)); /* all answered: at once */
	fixture_fini(&f);
}
END_TEST

/* Round trips: exact per event, percentiles within the histogram's 1/128. */
START_TEST(test_rtt_percentiles)
{
	struct fixture f;
	uint8_t reply[GEN_FRAME_MAX];
	fixture_init(&f);
	f.cfg.n_daemons = 1;
	f.cfg.events_per_packet = 1;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	establish(&f);
	ck_assert_uint_eq(gen_rtt_quantile(f.g, 0.5), 0);
	for (uint64_t i = 0; i < 100; i++) {
		gen_set_now(f.g, i * 1000000);
		ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
		size_t rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
		gen_set_now(f.g, i * 1000000 + (100 - i) * 1000); /* 100 us .. 1 us */
		ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	}
	ck_assert_uint_eq(f.g->st.rtt_samples, 100);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 100000);
	ck_assert_uint_eq(f.g->dest[0].rtt_max_ns, 100000);
	ck_assert_uint_eq(f.g->st.rtt_fwd_samples, 0);
	const uint64_t p50 = gen_rtt_quantile(f.g, 0.5), p99 = gen_rtt_quantile(f.g, 0.99);
	ck_assert_msg(p50 >= 50000 - 50000 / 128 && p50 <= 50000 + 50000 / 128, "p50 %lu",
		      (unsigned long)p50);
	ck_assert_msg(p99 >= 99000 - 99000 / 128 && p99 <= 99000 + 99000 / 128, "p99 %lu",
		      (unsigned long)p99);
	ck_assert_uint_eq(gen_rtt_quantile(f.g, 1.0), 100000);
	ck_assert_uint_eq(gen_rtt_quantile(f.g, 0.999), 100000); /* the top 0.1 % of 100: the max */
	ck_assert_uint_le(gen_rtt_quantile(f.g, 0.01), 1000 + 1000 / 128);
	fixture_fini(&f);
}
END_TEST

/* gen_rtt_window: warm-up round trips are forgotten, and events sent before it never count. */
START_TEST(test_rtt_window)
{
	struct fixture f;
	uint8_t early[GEN_FRAME_MAX], reply[GEN_FRAME_MAX];
	fixture_init(&f);
	f.cfg.n_daemons = 1;
	f.cfg.events_per_packet = 1;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	establish(&f);
	gen_set_now(f.g, 1000);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	size_t rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
	gen_set_now(f.g, 901000); /* warm-up: 900 us */
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	size_t elen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, early); /* in flight */
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 900000);
	gen_rtt_window(f.g);
	ck_assert_uint_eq(f.g->st.rtt_samples, 0);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 0);
	ck_assert_uint_eq(f.g->dest[0].rtt_max_ns, 0);
	ck_assert_uint_eq(gen_rtt_quantile(f.g, 0.5), 0);
	gen_set_now(f.g, 1000000);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	rlen = responder_echo(&f.r, &f.r, 0, f.frame, f.len, reply);
	gen_set_now(f.g, 1002000);
	ck_assert_int_eq(gen_rx(f.g, early, elen, NULL), GEN_RX_CONSUMED); /* sent before: no RTT */
	ck_assert_int_eq(gen_rx(f.g, reply, rlen, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.rtt_samples, 1);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 2000);
	ck_assert_uint_eq(gen_rtt_quantile(f.g, 0.5), 2000);
	ck_assert_uint_eq(f.g->dest[0].answered, 3); /* accounting is not windowed */
	ck_assert_uint_eq(gen_lost_events(f.g), 0);
	fixture_fini(&f);
}
END_TEST

/* What a plain forwarder does to a frame: addresses swapped, the bytes after UDP untouched. */
static void reflect(uint8_t *frame, size_t len)
{
	refresh_udp(frame, len); /* rebuilt from APP_EP to GEN_EP: the swap, checksums included */
}

/* Reflect mode: our own packets come back and count as echoes, with RTTs and chains. */
START_TEST(test_reflect_session)
{
	struct fixture f;
	uint8_t key[32], copy[GEN_FRAME_MAX];
	memset(key, 0x5a, sizeof(key));
	fixture_init(&f);
	ck_assert_int_eq(gen_reflect_session(f.g, 0, key, 0x77), -EINVAL); /* daemons, not our chain */
	f.cfg.n_daemons = 1;
	f.cfg.daemons[0] = GEN_ORIGIN;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	ck_assert_int_eq(gen_reflect_session(f.g, 0, key, 0x77), -EPROTO); /* MAC unknown */
	f.cfg.peers[0].mac_known = true;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	ck_assert_int_eq(gen_reflect_session(f.g, 1, key, 0x77), -EINVAL);
	ck_assert_int_eq(gen_reflect_session(f.g, 0, key, 0x77), 0);
	ck_assert(gen_all_established(f.g));
	for (uint64_t i = 0; i < 4; i++) {
		gen_set_now(f.g, i * 10000);
		ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
		reflect(f.frame, f.len);
		memcpy(copy, f.frame, f.len); /* gen_rx opens in place */
		gen_set_now(f.g, i * 10000 + 1000 * (i + 1));
		ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	}
	ck_assert_uint_eq(f.g->st.chain_ok, 12);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	ck_assert_uint_eq(f.g->dest[0].echoed, 12);
	ck_assert_uint_eq(f.g->dest[0].answered, 12);
	ck_assert_uint_eq(f.g->st.rtt_samples, 12);
	ck_assert_uint_eq(f.g->st.rtt_max_ns, 4000);
	ck_assert_uint_eq(gen_lost_events(f.g), 0);
	ck_assert_uint_eq(gen_drops_total(&f.g->st), 0);
	/* The same frame twice is a replay, not a second answer. */
	ck_assert_int_eq(gen_rx(f.g, copy, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_REPLAY_DUP], 1);
	ck_assert_uint_eq(f.g->st.duplicate_events, 0);
	fixture_fini(&f);
}
END_TEST

/* One echoed packet of one event, sent at `sent` and answered at `at` (ns). */
static void echo_at(struct fixture *f, uint64_t sent, uint64_t at)
{
	uint8_t reply[GEN_FRAME_MAX];
	gen_set_now(f->g, sent);
	ck_assert_int_eq(gen_build_events(f->g, f->frame, sizeof(f->frame), &f->len), 0);
	size_t rlen = responder_echo(&f->r, &f->r, 0, f->frame, f->len, reply);
	gen_set_now(f->g, at);
	ck_assert_int_eq(gen_rx(f->g, reply, rlen, NULL), GEN_RX_CONSUMED);
}

/*
 * Round trips by send time: each answered event lands in the slot it was
 * sent in (not the one it came back in), with the slot's worst round trip;
 * events sent before the start or past the last slot are counted outside.
 */
START_TEST(test_rtt_series_by_send_time)
{
	struct fixture f;
	const uint64_t ms = 1000000, t0 = 5000 * ms;
	fixture_init(&f);
	f.cfg.n_daemons = 1;
	f.cfg.events_per_packet = 1;
	ck_assert_int_eq(gen_init(f.g, &f.cfg, NULL), 0);
	establish(&f);
	ck_assert_int_eq(gen_series_start(f.g, t0, 0), -EINVAL);
	echo_at(&f, t0 + 1 * ms, t0 + 2 * ms); /* off until started */
	ck_assert_uint_eq(f.g->series.placed + f.g->series.outside, 0);

	ck_assert_int_eq(gen_series_start(f.g, t0, ms), 0);
	echo_at(&f, t0 - 1, t0 + 10);                     /* sent before the start */
	echo_at(&f, t0, t0 + 30000);                      /* slot 0: 30 us */
	echo_at(&f, t0 + ms - 1, t0 + ms + 20000);        /* slot 0 still, answered in slot 1 */
	echo_at(&f, t0 + 3 * ms + 5, t0 + 3 * ms + 7000); /* slot 3 */
	echo_at(&f, t0 + 3 * ms + 9, t0 + 900 * ms);      /* slot 3: a held event, ~897 ms */
	ck_assert_uint_eq(f.g->series.samples[0], 2);
	ck_assert_uint_eq(f.g->series.max_ns[0], 30000);
	ck_assert_uint_eq(f.g->series.samples[1] + f.g->series.samples[2], 0);
	ck_assert_uint_eq(f.g->series.samples[3], 2);
	ck_assert_uint_eq(f.g->series.max_ns[3], 900 * ms - 3 * ms - 9);
	ck_assert_uint_eq(f.g->series.used, 4);

	/* The last slot, then one past it. */
	const uint64_t last = t0 + (uint64_t)(GEN_SERIES_SLOTS - 1) * ms;
	echo_at(&f, last, last + 100);
	echo_at(&f, last + ms, last + ms + 100);
	ck_assert_uint_eq(f.g->series.samples[GEN_SERIES_SLOTS - 1], 1);
	ck_assert_uint_eq(f.g->series.used, GEN_SERIES_SLOTS);
	ck_assert_uint_eq(f.g->series.placed, 5);
	ck_assert_uint_eq(f.g->series.outside, 2);
	ck_assert_uint_eq(f.g->st.rtt_samples, 8); /* every sample is somewhere */

	/* A restart forgets the old slots. */
	ck_assert_int_eq(gen_series_start(f.g, last + 2 * ms, ms), 0);
	ck_assert_uint_eq(f.g->series.samples[3] + f.g->series.used + f.g->series.placed, 0);
	fixture_fini(&f);
}
END_TEST

/* Random authenticated 0x0500 messages: each one redirect, one ignored Moved or one drop. */
START_TEST(test_random_messages_accounted)
{
	struct fixture f;
	uint8_t body[64];
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	fixture_init2(&f);
	establish_peer(&f, &f.r, 0);
	establish_peer(&f, &f.r2, 1);
	const unsigned n = 2000;
	for (unsigned i = 0; i < n; i++) {
		size_t len = rng(&seed) % sizeof(body);
		for (size_t k = 0; k < len; k++)
			body[k] = (uint8_t)rng(&seed);
		if (len > 0 && i % 2 == 0)
			body[0] = NM_MIG_MOVED; /* mostly Moved, of every length */
		if (len >= 17 && i % 4 == 0) { /* and often about our daemons and nodes */
			nm_put_le64(body + 1, i % 8 == 0 ? DAEMON_A : DAEMON_B);
			nm_put_le64(body + 9, i % 3 == 0 ? APP_NODE : APP2_NODE);
		}
		struct responder *r = i % 3 == 0 ? &f.r2 : &f.r;
		f.len = responder_message(r, NULL, body, len, f.frame);
		ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	}
	const struct gen_stats *st = &f.g->st;
	ck_assert_uint_eq(st->rx_messages, n);
	ck_assert_uint_eq(st->redirects + st->redirects_ignored + st->drops[NM_DROP_SUBPROTOCOL], n);
	ck_assert_uint_gt(st->redirects, 0);
	ck_assert_uint_eq(gen_drops_total(st), st->drops[NM_DROP_SUBPROTOCOL]);
	ck_assert_uint_eq(st->redirects, f.g->dest[0].redirects + f.g->dest[1].redirects);
	ck_assert_uint_eq(f.g->peers[0].moved_recv + f.g->peers[1].moved_recv,
			  st->redirects + st->redirects_ignored);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_config_peers_and_daemons)
{
	struct fixture f;
	struct nm_error err = { 0 };
	fixture_init2(&f);
	struct gen_config c = f.cfg;
	c.peers[1].node_id = APP_NODE;
	ck_assert_int_eq(gen_init(f.g, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
	c = f.cfg;
	c.peers[1].ep = APP_EP;
	ck_assert_int_eq(gen_init(f.g, &c, NULL), -EINVAL);
	c = f.cfg;
	c.n_peers = 0;
	ck_assert_int_eq(gen_init(f.g, &c, NULL), -EINVAL);
	c.n_peers = GEN_MAX_PEERS + 1;
	ck_assert_int_eq(gen_init(f.g, &c, NULL), -EINVAL);
	c = f.cfg;
	c.daemons[1] = DAEMON_A;
	ck_assert_int_eq(gen_init(f.g, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "d00000000000000a"));
	c = f.cfg;
	c.peers[1].mac_known = true;
	ck_assert_int_eq(gen_init(f.g, &c, NULL), 0);
	ck_assert_int_eq(f.g->peers[0].state, GEN_RESOLVING);
	ck_assert_int_eq(f.g->peers[1].state, GEN_HANDSHAKING);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	fixture_fini(&f);
}
END_TEST

/* ------------------------------------------------------------------ dead sessions */

#define TIMEOUT_MS 15000

/* The fixture with a session timeout, established at t = 1 s. */
static void fixture_init_timeout(struct fixture *f, bool mac_known)
{
	memset(f, 0, sizeof(*f));
	responder_init(&f->r, 0x21);
	f->cfg = base_config(&f->r);
	f->cfg.session_timeout_ms = TIMEOUT_MS;
	f->cfg.peers[0].mac_known = mac_known;
	f->cfg.peers[0].ep.mac = APP_EP.mac;
	f->g = calloc(1, sizeof(*f->g));
	ck_assert_ptr_nonnull(f->g);
	ck_assert_int_eq(gen_init(f->g, &f->cfg, NULL), 0);
	gen_set_now(f->g, 1000 * MS);
}

/* msg1 from the generator, msg2 from (a restarted) f->r. */
static void handshake(struct fixture *f)
{
	size_t out = 0;
	ck_assert_int_eq(gen_hs_msg1(f->g, 0, f->frame, sizeof(f->frame), &f->len), 0);
	ck_assert_int_eq(responder_answer(&f->r, f->frame, f->len, &out), 0);
	ck_assert_int_eq(gen_rx(f->g, f->frame, out, NULL), GEN_RX_ESTABLISHED);
}

/* One counter-style output of daemon A, received at `now_ms`. */
static void output_at(struct fixture *f, uint64_t now_ms, uint64_t value)
{
	uint8_t pay[8];
	nm_put_le64(pay, value);
	struct nm_event ev = next_output(&f->r, 0, pay, 8);
	gen_set_now(f->g, now_ms * MS);
	emit_one(f, &ev);
}

START_TEST(test_session_dies_after_silence_and_rehandshakes)
{
	struct fixture f;
	uint8_t old_frame[GEN_FRAME_MAX];
	fixture_init_timeout(&f, false);
	establish(&f);
	const uint64_t old_sid = f.g->peers[0].session_id;

	/* Anything authenticated keeps it: a heartbeat at 10 s, an output at 20 s. */
	ck_assert_uint_eq(gen_check_sessions(f.g, 15000 * MS), 0);
	f.len = responder_heartbeat(&f.r, f.frame);
	gen_set_now(f.g, 10000 * MS);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(gen_check_sessions(f.g, 25000 * MS), 0); /* 15 s after it: not yet */
	output_at(&f, 20000, 1);
	output_at(&f, 20001, 2);
	ck_assert_uint_eq(f.g->st.chain_ok, 2);
	ck_assert_uint_eq(f.g->checks[0].resume_epoch, 0); /* no re-handshake yet */
	/* An old-session packet kept for later (the last output before the restart). */
	uint8_t pay[8];
	nm_put_le64(pay, 3);
	struct nm_event e3 = next_output(&f.r, 0, pay, 8);
	const size_t old_len = responder_emit(&f.r, 0, &e3, 1, f.frame);
	memcpy(old_frame, f.frame, old_len); /* gen_rx opens in place */
	gen_set_now(f.g, 20002 * MS);
	ck_assert_int_eq(gen_rx(f.g, f.frame, old_len, NULL), GEN_RX_CONSUMED);
	/* A forged packet (bad tag) is no sign of life. */
	f.len = responder_heartbeat(&f.r, f.frame);
	f.frame[f.len - 1] ^= 1;
	refresh_udp(f.frame, f.len);
	gen_set_now(f.g, 30000 * MS);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_AUTH], 1);

	/* Silence past the timeout: dead, keys gone, back to ARP (the MAC was learned). */
	ck_assert_uint_eq(gen_check_sessions(f.g, 35002 * MS), 0);
	ck_assert_uint_eq(gen_check_sessions(f.g, 35003 * MS), 1);
	ck_assert_uint_eq(gen_check_sessions(f.g, 36000 * MS), 0); /* once */
	ck_assert_int_eq(f.g->peers[0].state, GEN_RESOLVING);
	ck_assert_uint_eq(f.g->st.sessions_dead, 1);
	ck_assert_uint_eq(f.g->peers[0].sessions_dead, 1);
	ck_assert(!gen_all_established(f.g));
	ck_assert(!gen_next_ready(f.g));
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	ck_assert_int_eq(gen_build_heartbeat(f.g, 0, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	ck_assert_int_eq(gen_hs_msg1(f.g, 0, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	/* The rate's due packets meanwhile are counted, not built. */
	gen_no_session(f.g, 2);
	ck_assert_uint_eq(f.g->st.no_session_packets, 2);
	ck_assert_uint_eq(f.g->st.no_session_events, 6); /* 3 events per packet */
	ck_assert_uint_eq(f.g->st.tx_events, 0);
	/* A packet of the dead session is refused. */
	const uint64_t unknown = f.g->st.drops[NM_DROP_SESSION_UNKNOWN];
	memcpy(f.frame, old_frame, old_len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, old_len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SESSION_UNKNOWN], unknown + 1);

	/* The appliance restarted (same static key, restored chain): ARP, then a new session. */
	size_t out = 0;
	ck_assert_int_eq(gen_arp_request(f.g, 0, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(nm_pkt_arp_reply(f.frame, f.len, &APP_EP, &out, NULL), 0);
	ck_assert_int_eq(gen_rx(f.g, f.frame, out, NULL), GEN_RX_RESOLVED);
	gen_set_now(f.g, 40000 * MS);
	handshake(&f);
	ck_assert_int_eq(f.g->peers[0].state, GEN_ESTABLISHED);
	ck_assert_uint_ne(f.g->peers[0].session_id, old_sid);
	ck_assert_uint_eq(f.g->st.rehandshakes, 1);
	ck_assert_uint_eq(f.g->peers[0].rehandshakes, 1);
	ck_assert(gen_next_ready(f.g));
	/* The new session starts its counters over... */
	struct nm_net_hdr h;
	struct nm_event evs[4];
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), 0);
	ck_assert_int_eq(nm_packet_open(f.frame, f.len, &APP_EP, &f.r.rx, &h, evs, 4, NULL), 3);
	ck_assert_uint_eq(nm_hdr_counter(&h), 0);
	ck_assert_uint_eq(h.session_id, f.r.keys.session_id);
	/* ... and its first output continues the chain, recorded as the resumption. */
	output_at(&f, 40001, 4);
	ck_assert_uint_eq(f.g->st.chain_ok, 4);
	ck_assert_uint_eq(f.g->st.chain_errors, 0);
	ck_assert_uint_eq(f.g->checks[0].resume_epoch, 1);
	ck_assert_uint_eq(f.g->checks[0].resume_seq, 4);
	ck_assert_uint_eq(f.g->checks[0].resume_parent, nm_parent_hash(&e3.link, pay, 8));
	output_at(&f, 40002, 5);
	ck_assert_uint_eq(f.g->checks[0].resume_seq, 4); /* only the first */
	/* The old session's packet is still refused, and the new one is live from its msg2 on. */
	memcpy(f.frame, old_frame, old_len);
	ck_assert_int_eq(gen_rx(f.g, f.frame, old_len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(f.g->st.drops[NM_DROP_SESSION_UNKNOWN], unknown + 2);
	ck_assert_uint_eq(gen_check_sessions(f.g, (40002 + TIMEOUT_MS) * MS), 0);
	ck_assert_uint_eq(gen_check_sessions(f.g, (40003 + TIMEOUT_MS) * MS), 1);
	ck_assert_uint_eq(f.g->st.sessions_dead, 2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_session_dead_with_configured_mac_and_without_timeout)
{
	struct fixture f;
	/* A configured MAC is kept: straight back to the handshake. */
	fixture_init_timeout(&f, true);
	ck_assert_int_eq(f.g->peers[0].state, GEN_HANDSHAKING);
	handshake(&f);
	ck_assert_uint_eq(f.g->st.rehandshakes, 0); /* the first session is none */
	/* A stamp newer than the caller's clock read is "just heard". */
	ck_assert_uint_eq(gen_check_sessions(f.g, 500 * MS), 0);
	ck_assert_uint_eq(gen_check_sessions(f.g, (1001 + TIMEOUT_MS) * MS), 1);
	ck_assert_int_eq(f.g->peers[0].state, GEN_HANDSHAKING);
	/* The next session is a re-handshake. */
	handshake(&f);
	ck_assert_uint_eq(f.g->st.rehandshakes, 1);
	fixture_fini(&f);

	/* session_timeout_ms 0: never dead. */
	fixture_init(&f);
	establish(&f);
	ck_assert_uint_eq(gen_check_sessions(f.g, UINT64_MAX), 0);
	ck_assert_int_eq(f.g->peers[0].state, GEN_ESTABLISHED);
	fixture_fini(&f);
}
END_TEST

/* Two appliances: one dies, the other's session and daemons are untouched. */
START_TEST(test_session_dead_one_of_two)
{
	struct fixture f;
	fixture_init2(&f);
	f.g->cfg.session_timeout_ms = TIMEOUT_MS;
	establish_peer(&f, &f.r, 0);
	establish_peer(&f, &f.r2, 1);
	/* Only peer 1 heard from since. */
	f.len = responder_heartbeat(&f.r2, f.frame);
	gen_set_now(f.g, 10000 * MS);
	ck_assert_int_eq(gen_rx(f.g, f.frame, f.len, NULL), GEN_RX_CONSUMED);
	ck_assert_uint_eq(gen_check_sessions(f.g, 20000 * MS), 1);
	ck_assert_int_eq(f.g->peers[0].state, GEN_RESOLVING);
	ck_assert_int_eq(f.g->peers[1].state, GEN_ESTABLISHED);
	ck_assert_uint_eq(f.g->peers[1].sessions_dead, 0);
	/* The rotation is strict: daemon A's turn (peers[0]) holds every daemon back. */
	ck_assert(!gen_next_ready(f.g));
	ck_assert_int_eq(gen_build_events(f.g, f.frame, sizeof(f.frame), &f.len), -EPROTO);
	ck_assert_uint_eq(f.g->event_no, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_rehandshake_rounds)
{
	struct gen_rounds s;
	unsigned sends = 0, fails = 0;
	gen_rounds_start(&s, 0);
	/* The first round is the handshake's schedule: sends at 0, 1.1, 2.3, 3.6 s, over at 4.6 s. */
	const uint64_t at[] = { 0, 1100, 2300, 3600 };
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(gen_rounds_poll(&s, at[i] * MS), GEN_RETRY_SEND);
		ck_assert_int_eq(gen_rounds_poll(&s, at[i] * MS), GEN_RETRY_WAIT);
	}
	ck_assert_int_eq(gen_rounds_poll(&s, 4600 * MS), GEN_RETRY_WAIT); /* failed: a pause */
	ck_assert_uint_eq(s.failed, 1);
	ck_assert_int_eq(gen_rounds_poll(&s, 5599 * MS), GEN_RETRY_WAIT);
	ck_assert_int_eq(gen_rounds_poll(&s, 5600 * MS), GEN_RETRY_SEND); /* the next round */
	/* Without end, and rate-limited: 10 minutes polled every 10 ms. */
	gen_rounds_start(&s, 0);
	for (uint64_t t = 0; t <= 600000; t += 10) {
		enum gen_retry_action a = gen_rounds_poll(&s, t * MS);
		fails += a == GEN_RETRY_FAIL; /* (no ck_assert per poll: each one is a message) */
		sends += a == GEN_RETRY_SEND;
	}
	ck_assert_uint_eq(fails, 0);
	/* A round every 5.6 s: 107 over, the 108th (at 599.2 s) has sent its first msg1. */
	ck_assert_uint_eq(s.failed, 107);
	ck_assert_uint_eq(sends, 4 * 107 + 1);
}
END_TEST

static Suite *gen_suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("handshake");
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_arp_request_and_answers);
	tcase_add_test(tc, test_handshake_msg1_on_the_wire);
	tcase_add_test(tc, test_handshake_prologue_uses_node_ids);
	tcase_add_test(tc, test_handshake_bad_msg2_keeps_attempt);
	tcase_add_test(tc, test_retry_schedule);
	suite_add_tcase(s, tc);

	tc = tcase_create("pacing");
	tcase_add_test(tc, test_pace_due_is_exact);
	tcase_add_test(tc, test_pace_sleep_only_when_ahead);
	tcase_add_test(tc, test_pace_loop_keeps_the_rate);
	suite_add_tcase(s, tc);

	tc = tcase_create("traffic");
	tcase_add_test(tc, test_events_to_the_appliance);
	tcase_add_test(tc, test_replies_chain_ok);
	tcase_add_test(tc, test_chain_break_detected);
	tcase_add_test(tc, test_chain_first_event_against_genesis);
	tcase_add_test(tc, test_forged_replayed_foreign);
	tcase_add_test(tc, test_other_subprotocol);
	tcase_add_test(tc, test_garbage_is_counted);
	tcase_add_test(tc, test_tx_unsent);
	suite_add_tcase(s, tc);

	tc = tcase_create("appliances");
	tcase_add_test(tc, test_config_peers_and_daemons);
	tcase_add_test(tc, test_two_appliances_handshake);
	tcase_add_test(tc, test_moved_repoints_daemon);
	tcase_add_test(tc, test_moved_ignored);
	tcase_add_test(tc, test_moved_forged_rejected);
	tcase_add_test(tc, test_duplicates_and_unanswered);
	tcase_add_test(tc, test_rtt_percentiles);
	tcase_add_test(tc, test_rtt_series_by_send_time);
	tcase_add_test(tc, test_drain_waits_for_outstanding);
	tcase_add_test(tc, test_rtt_window);
	tcase_add_test(tc, test_reflect_session);
	tcase_add_test(tc, test_random_messages_accounted);
	suite_add_tcase(s, tc);

	tc = tcase_create("dead-sessions");
	tcase_add_test(tc, test_session_dies_after_silence_and_rehandshakes);
	tcase_add_test(tc, test_session_dead_with_configured_mac_and_without_timeout);
	tcase_add_test(tc, test_session_dead_one_of_two);
	tcase_add_test(tc, test_rehandshake_rounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (nm_aead_lib_init() < 0)
		return EXIT_FAILURE;
	SRunner *sr = srunner_create(gen_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

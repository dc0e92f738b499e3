/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rx.c - the worker's whole receive path from flat frames
 * (nm_worker_rx_frame, dataplane/nm_rx.h): Ethernet, ARP, ICMP, IPv4/UDP,
 * reassembly, NetHeader, session, replay window, AEAD, event frames, the
 * daemons (echo and counter) and their outputs, sealed on the worker's TX
 * queue (a ring port the target reads).
 *
 * One dataplane with one worker, not launched (this thread is its loop), a
 * peer at 127.0.0.2 and one session whose keys come from the project's Noise
 * handshake (the peer initiates, fixed ephemerals). The session is installed
 * afresh for every input (a new replay window, TX counters from 0); the
 * daemons live on, and so does what the peer knows of their chains.
 *
 * Input: byte 0 bits 0-1 are the checksums the NIC claims it verified
 * (NM_PKT_RX_*); then up to 16 frames, each [LE16 len][frame].
 * Properties:
 *  - every frame counts once in rx_packets, and ends in exactly one way: one
 *    drop reason (the RX path's, not its events'), an ARP/ICMP counter, held
 *    for reassembly, merged into a reassembled datagram, or authenticated;
 *    over the input (the reassembler flushed at its end) those add up to the
 *    frames;
 *  - with no NIC help, a packet the worker authenticates opens with the
 *    session's key on its own, and one that does not open is dropped; an
 *    authenticated packet comes from the peer's address, with a counter not
 *    accepted before;
 *  - with one worker and no slow path nothing is handed on;
 *  - every output opens at the peer, on this session, with a counter above
 *    the previous one, from a daemon of ours, each link following the
 *    previous output of its daemon; outputs emitted = outputs received when
 *    no TX drop was counted.
 */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "fuzz_common.h"
#include "fuzz_dp.h"
#include "nm_aead.h"
#include "nm_dataplane.h"
#include "nm_frag.h"
#include "nm_handshake.h"
#include "nm_le.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_rx.h"

#define IP_US FUZZ_DP_IP_US
#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define IP_OTHER RTE_IPV4(127, 0, 0, 3)
#define PEER_NODE 0x1111222233334444ULL
#define PEER_ORIGIN 0xFEEDULL
#define MAX_FRAMES 16
#define N_DAEMONS 2
#define MAX_OUT_EVENTS 256

/* What the peer knows of one daemon's output chain. */
struct watch {
	uint64_t origin;
	bool have;
	struct nm_causal_link last;
	uint32_t len;
	uint8_t payload[NM_PACKET_MAX_EVENT];
};

static struct {
	bool ready;
	struct fuzz_dp f;
	struct nm_worker *w;
	uint16_t peer_idx;
	uint64_t sid;
	struct nm_session_keys ki, kr; /* the peer's (initiator) and ours */
	struct nm_aead peer_tx, peer_rx, our_rx;
	struct nm_pkt_endpoint us, peer, other;
	uint8_t pkt1[NM_HS_PKT_LEN];
	struct watch d[N_DAEMONS];
	struct nm_frag_table *pfrag; /* the peer's reassembler */
	struct nm_event evs[MAX_OUT_EVENTS];
	uint8_t big[NM_FRAG_MAX_FRAME];
} fx;

/* The genuine handshake, the peer initiating: its keys and ours. */
static void handshake(void)
{
	uint8_t psk[32], sk[32], pk[32], eph_i[32], eph_r[32];
	fuzz_fill(psk, 32, 11);
	fuzz_fill(sk, 32, 12);
	fuzz_fill(eph_i, 32, 13);
	fuzz_fill(eph_r, 32, 14);
	FUZZ_CHECK(crypto_scalarmult_base(pk, sk) == 0);
	const uint64_t us = nm_mesh_node_id(fx.f.mesh);
	struct nm_hs_config ci = { .initiator = true, .local_node_id = PEER_NODE,
				   .peer_node_id = us, .psk = psk, .peer_static_pk = pk,
				   .fixed_ephemeral_sk = eph_i };
	struct nm_hs_config cr = { .initiator = false, .local_node_id = us,
				   .peer_node_id = PEER_NODE, .psk = psk, .static_sk = sk,
				   .fixed_ephemeral_sk = eph_r };
	struct nm_hs i, r;
	uint8_t m1[NM_HS_MSG_LEN], m2[NM_HS_MSG_LEN];
	size_t n;
	FUZZ_CHECK(nm_hs_init(&i, &ci) == 0 && nm_hs_init(&r, &cr) == 0);
	FUZZ_CHECK(nm_hs_write(&i, NULL, 0, m1, sizeof(m1), &n) == 0);
	FUZZ_CHECK(nm_hs_pkt_encode(m1, n, fx.pkt1, sizeof(fx.pkt1), &n) == 0);
	FUZZ_CHECK(nm_hs_read(&r, m1, sizeof(m1), NULL, 0, NULL) == 0);
	FUZZ_CHECK(nm_hs_write(&r, NULL, 0, m2, sizeof(m2), &n) == 0);
	FUZZ_CHECK(nm_hs_read(&i, m2, sizeof(m2), NULL, 0, NULL) == 0);
	FUZZ_CHECK(nm_hs_finish(&i, &fx.ki) == 0 && nm_hs_finish(&r, &fx.kr) == 0);
	FUZZ_CHECK(fx.ki.session_id == fx.kr.session_id);
	fx.sid = fx.kr.session_id;
	nm_aead_init(&fx.peer_tx, fx.ki.tx, fx.sid);
	nm_aead_init(&fx.peer_rx, fx.ki.rx, fx.sid);
	nm_aead_init(&fx.our_rx, fx.kr.rx, fx.sid);
}

static void fixture(void)
{
	if (fx.ready)
		return;
	uint8_t node_seed[32], psk[32];
	fuzz_fill(node_seed, 32, 10);
	fuzz_fill(psk, 32, 11);
	fuzz_dp_init(&fx.f, "fuzz_rx", node_seed, psk);
	fx.w = fx.f.w;
	struct nm_error err;
	const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
	int peer = nm_dataplane_peer_add(fx.f.dp, IP_PEER, 7777, &peer_mac, &err);
	FUZZ_CHECK(peer >= 0);
	fx.peer_idx = (uint16_t)peer;
	fx.peer = (struct nm_pkt_endpoint){ peer_mac, IP_PEER, 7777 };
	fx.other = (struct nm_pkt_endpoint){ { { 0x02, 0, 0, 0, 0, 0x03 } }, IP_OTHER, 7777 };
	fx.us = fx.w->self;
	handshake();
	fx.d[0].origin = fuzz_dp_spawn(&fx.f, "echo", 1);
	fx.d[1].origin = fuzz_dp_spawn(&fx.f, "counter", 2);
	size_t fsz = nm_frag_table_size(64);
	fx.pfrag = nm_frag_table_init(calloc(1, fsz), 64, 1000000000ULL);
	FUZZ_CHECK(fx.pfrag != NULL);
	fx.ready = true;
}

/* A new session under the same keys: a fresh replay window, TX counters from 0. */
static void reset_session(void)
{
	nm_dataplane_session_del(fx.f.dp, fx.sid, NULL); /* -ENOENT the first time */
	struct nm_session_params sp = { .session_id = fx.sid, .peer = fx.peer_idx };
	memcpy(sp.tx_key, fx.kr.tx, sizeof(sp.tx_key));
	memcpy(sp.rx_key, fx.kr.rx, sizeof(sp.rx_key));
	FUZZ_CHECK(nm_dataplane_session_add(fx.f.dp, &sp, NULL) == 0);
}

/* Drops an output or an event may cause: not the frame's own outcome. */
static bool event_reason(enum nm_drop why)
{
	switch (why) {
	case NM_DROP_FRAME_OVERRUN:
	case NM_DROP_DAEMON_UNKNOWN:
	case NM_DROP_MIG_HOLD_FULL:
	case NM_DROP_TX_FULL:
	case NM_DROP_TX_TOO_LARGE:
	case NM_DROP_NO_ROUTE:
		return true;
	default:
		return false;
	}
}

static bool tx_reason(enum nm_drop why)
{
	return why == NM_DROP_TX_FULL || why == NM_DROP_TX_TOO_LARGE || why == NM_DROP_NO_ROUTE;
}

struct delta {
	uint64_t frame_drops; /* the RX path's drops */
	unsigned reasons;     /* how many of its reasons moved */
	enum nm_drop why;     /* one of them */
	uint64_t tx_drops;
};

static struct delta diff(const struct nm_lcore_stats *b, const struct nm_lcore_stats *a)
{
	struct delta d = { 0 };
	for (int i = 1; i < NM_DROP__COUNT; i++) {
		uint64_t n = a->drops[i] - b->drops[i];
		if (n == 0)
			continue;
		if (tx_reason((enum nm_drop)i))
			d.tx_drops += n;
		if (event_reason((enum nm_drop)i))
			continue;
		d.frame_drops += n;
		d.reasons++;
		d.why = (enum nm_drop)i;
	}
	return d;
}

struct tally {
	uint64_t frames, learned, replies, authenticated, merged;
	uint64_t outputs, tx_drops;
	uint64_t next_counter; /* outputs' AEAD counters are above the last one */
	uint64_t ctrs[MAX_FRAMES]; /* counters of the packets the worker authenticated */
	unsigned n_ctrs;
};

static struct watch *watch_of(uint64_t origin)
{
	for (int i = 0; i < N_DAEMONS; i++)
		if (fx.d[i].origin == origin)
			return &fx.d[i];
	return NULL;
}

/* One output event at the peer: a daemon of ours, chained onto its previous output. */
static void check_output(const struct nm_net_hdr *h, const struct nm_event *ev, bool gap_ok)
{
	struct watch *wd = watch_of(h->stream_id);
	FUZZ_CHECK(wd != NULL && ev->link.origin_hash == wd->origin);
	FUZZ_CHECK(ev->len <= sizeof(wd->payload));
	if (wd->have) {
		struct nm_chain_error e;
		enum nm_chain_verdict v =
			nm_chain_validate(&wd->last, wd->payload, wd->len, &ev->link, &e);
		FUZZ_CHECK(v == NM_CHAIN_OK || (gap_ok && v == NM_CHAIN_SEQUENCE_GAP));
	}
	wd->have = true;
	wd->last = ev->link;
	wd->len = ev->len;
	memcpy(wd->payload, ev->payload, ev->len);
}

/*
 * A frame the worker sent, at the peer: it opens, on our session, fresh.
 * Replies follow the source MAC and UDP port of the latest authenticated
 * packet, which the input may have changed (they are outside the AEAD): the
 * peer takes the frame's, its address must be the peer's.
 */
static void peer_receive(uint8_t *f, size_t len, struct tally *t)
{
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	FUZZ_CHECK(len >= NM_PKT_DATA_OFF);
	struct nm_pkt_endpoint at = fx.peer;
	memcpy(&at.mac, f, sizeof(at.mac));
	at.port = (uint16_t)(f[NM_PKT_L4_OFF + 2] << 8 | f[NM_PKT_L4_OFF + 3]);
	if (nm_pkt_parse(f, len, &at, 0, &pi, &why) < 0) {
		FUZZ_CHECK(why == NM_DROP_IP_FRAGMENT);
		struct nm_frag_result fr;
		enum nm_frag_status st = nm_frag_add(fx.pfrag, f, len, 0, &fr);
		FUZZ_CHECK(st != NM_FRAG_DROPPED);
		if (st != NM_FRAG_DONE)
			return;
		memcpy(fx.big, fr.frame, fr.len);
		f = fx.big;
		len = fr.len;
	}
	at.port = (uint16_t)(f[NM_PKT_L4_OFF + 2] << 8 | f[NM_PKT_L4_OFF + 3]);
	struct nm_net_hdr h;
	int n = nm_packet_open(f, len, &at, &fx.peer_rx, &h, fx.evs, MAX_OUT_EVENTS, &why);
	FUZZ_CHECK(n > 0 && (uint32_t)n == h.event_count);
	FUZZ_CHECK(h.session_id == fx.sid && h.subprotocol_id == NM_SUBPROTOCOL_CAUSAL);
	FUZZ_CHECK(nm_hdr_counter(&h) >= t->next_counter);
	t->next_counter = nm_hdr_counter(&h) + 1;
	for (int i = 0; i < n; i++)
		check_output(&h, &fx.evs[i], t->tx_drops != 0);
	t->outputs += (uint64_t)n;
}

static void collect_outputs(struct tally *t)
{
	struct rte_mbuf *m;
	while ((m = fuzz_dp_sent(&fx.f)) != NULL) {
		FUZZ_CHECK(m->nb_segs == 1 && m->data_len == m->pkt_len);
		peer_receive(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, t);
		rte_pktmbuf_free(m);
	}
}

/* Does the frame open with the session's key on its own (software checksums)? */
static bool opens_alone(const uint8_t *frame, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	FUZZ_CHECK(c != NULL);
	memcpy(c, frame, len);
	struct nm_net_hdr h;
	enum nm_drop why = NM_DROP_NONE;
	int n = nm_packet_open(c, len, &fx.us, &fx.our_rx, &h, fx.evs, MAX_OUT_EVENTS, &why);
	free(c);
	return n >= 0 || (why != NM_DROP_AUTH && why != NM_DROP_NONE && n == -EPROTO);
}

/*
 * The worker authenticated this frame: it came from the session's peer, and
 * (a whole datagram, not the last fragment of one) with a counter not
 * accepted before under this session.
 */
static void authenticated(struct tally *t, const uint8_t *frame, size_t len, bool reassembled)
{
	t->authenticated++;
	FUZZ_CHECK(len >= NM_PKT_L4_OFF);
	const uint8_t *sip = frame + NM_PKT_L3_OFF + 12;
	FUZZ_CHECK(((uint32_t)sip[0] << 24 | (uint32_t)sip[1] << 16 | (uint32_t)sip[2] << 8 | sip[3]) == IP_PEER);
	if (reassembled)
		return;
	FUZZ_CHECK(len >= NM_PKT_DATA_OFF + NM_NET_HDR_SIZE);
	const uint64_t ctr = nm_get_le64(frame + NM_PKT_DATA_OFF + NM_OFF_COUNTER);
	for (unsigned i = 0; i < t->n_ctrs; i++)
		FUZZ_CHECK(t->ctrs[i] != ctr);
	if (t->n_ctrs < MAX_FRAMES)
		t->ctrs[t->n_ctrs++] = ctr;
}

static void one_frame(const uint8_t *data, size_t len, unsigned rx_flags, struct tally *t)
{
	uint8_t *f = malloc(len ? len : 1); /* exact size: ASan sees any overread */
	FUZZ_CHECK(f != NULL);
	memcpy(f, data, len);
	const struct nm_lcore_stats b = fx.w->stats;
	struct nm_rx_result r = { 0 };
	enum nm_rx_verdict v = nm_worker_rx_frame(fx.w, f, (uint32_t)len, rx_flags, &r);
	const struct nm_lcore_stats *a = &fx.w->stats;
	struct delta d = diff(&b, a);
	t->frames++;
	t->tx_drops += d.tx_drops;
	FUZZ_CHECK(a->rx_packets == b.rx_packets + 1 && a->rx_bytes == b.rx_bytes + len);
	/* One reason per frame; only the reassembler drops several frames at once. */
	FUZZ_CHECK(d.reasons <= 1);
	FUZZ_CHECK(d.frame_drops <= 1 || (d.why >= NM_DROP_FRAG_BAD && d.why <= NM_DROP_FRAG_TIMEOUT));
	const uint64_t learned = a->arp_learned - b.arp_learned;
	const uint64_t replies = a->arp_replies - b.arp_replies + a->icmp_replies - b.icmp_replies;
	switch (v) {
	case NM_RX_DONE:
		FUZZ_CHECK(replies == 0 && learned <= 1 && (d.frame_drops != 0) != (learned == 1));
		break;
	case NM_RX_REPLY:
		FUZZ_CHECK(replies == 1 && learned == 0 && d.frame_drops == 0 && r.len <= len);
		break;
	case NM_RX_HELD:
		FUZZ_CHECK(replies == 0 && learned == 0 && d.frame_drops == 0);
		break;
	case NM_RX_OPEN:
		/* Opened in this call: dropped by its one reason, or authenticated. */
		FUZZ_CHECK(replies == 0 && learned == 0 && d.frame_drops <= 1);
		if (d.frame_drops == 0)
			authenticated(t, data, len, r.frags != 0);
		if (rx_flags == 0 && r.frags == 0) {
			bool alone = opens_alone(data, len);
			FUZZ_CHECK(alone || d.frame_drops == 1);
			FUZZ_CHECK(!alone || d.why != NM_DROP_AUTH);
		}
		break;
	default:
		/* FRAG_AWAY, SLOWPATH, HANDOFF: one worker, no slow path; REASSEMBLED is followed. */
		FUZZ_CHECK(!"a verdict this dataplane cannot give");
	}
	if (r.frags > 0) {
		FUZZ_CHECK(a->frag_reassembled == b.frag_reassembled + 1);
		t->merged += r.frags - 1;
	}
	t->learned += learned;
	t->replies += replies;
	free(f);
	const uint64_t emitted0 = t->outputs;
	collect_outputs(t);
	if (t->tx_drops == 0)
		FUZZ_CHECK(t->outputs - emitted0 == a->events_emitted - b.events_emitted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fixture();
	reset_session();
	const struct nm_lcore_stats start = fx.w->stats;
	struct fuzz_in in = { data + 1, size - 1 };
	const unsigned rx_flags = data[0] & (NM_PKT_RX_IP_CKSUM_GOOD | NM_PKT_RX_L4_CKSUM_GOOD);
	struct tally t = { 0 };
	for (unsigned i = 0; i < MAX_FRAMES && in.left > 0; i++) {
		size_t n = fuzz_u16(&in);
		if (n > in.left)
			n = in.left;
		one_frame(fuzz_take(&in, n), n, rx_flags, &t);
	}
	/* What waits for reassembly ends now, counted: every frame is accounted for. */
	fx.w->stats.drops[NM_DROP_FRAG_TIMEOUT] += nm_frag_flush(fx.w->frag);
	nm_frag_flush(fx.pfrag);
	struct delta d = diff(&start, &fx.w->stats);
	FUZZ_CHECK(t.frames == t.learned + t.replies + t.authenticated + t.merged + d.frame_drops);
	return 0;
}

/* ---------------------------------------------------------------- seeds */

struct seed {
	size_t n;
	uint8_t b[1 + MAX_FRAMES * (2 + NM_FRAG_MAX_FRAME)];
};

static void add(struct seed *s, const uint8_t *frame, size_t len)
{
	FUZZ_CHECK(s->n + 2 + len <= sizeof(s->b) && len <= 0xFFFF);
	s->b[s->n++] = (uint8_t)len;
	s->b[s->n++] = (uint8_t)(len >> 8);
	memcpy(s->b + s->n, frame, len);
	s->n += len;
}

/* A sealed packet from `src` with n events of `payload` for `stream`. */
static size_t sealed(uint8_t *f, size_t cap, const struct nm_pkt_endpoint *src, uint64_t session,
		     uint64_t stream, uint64_t counter, const uint8_t *payload, uint32_t plen,
		     uint32_t n, size_t budget)
{
	struct nm_event evs[8];
	FUZZ_CHECK(n <= 8);
	for (uint32_t i = 0; i < n; i++)
		evs[i] = (struct nm_event){ .link = { PEER_ORIGIN, 0, counter * 8 + i + 1, 0 },
					    .payload = payload, .len = plen };
	struct nm_packet_tx tx = { .src = src, .dst = &fx.us, .key = &fx.peer_tx,
				   .counter = counter, .session_id = session, .stream_id = stream,
				   .origin_hash = PEER_ORIGIN, .budget = budget };
	uint32_t used;
	size_t len;
	FUZZ_CHECK(nm_packet_build(f, cap, &tx, evs, n, &used, &len) == 0 && used == n);
	return len;
}

static size_t udp(uint8_t *f, size_t cap, const uint8_t *dgram, size_t dlen)
{
	memcpy(f + NM_PKT_DATA_OFF, dgram, dlen);
	FUZZ_CHECK(nm_pkt_build_udp(f, cap, &fx.peer, &fx.us, 7, dlen, 0) == 0);
	return NM_PKT_DATA_OFF + dlen;
}

static void fragments(struct seed *s, const uint8_t *frame, size_t len, bool reverse)
{
	unsigned k = nm_frag_count(frame, len, 1500);
	FUZZ_CHECK(k > 1);
	uint8_t f[1600];
	for (unsigned i = 0; i < k; i++) {
		size_t n;
		FUZZ_CHECK(nm_frag_build(frame, len, 1500, reverse ? k - 1 - i : i, 0, f, sizeof(f),
					 &n) == 0);
		add(s, f, n);
	}
}

void fuzz_seeds(void)
{
	fixture();
	static struct seed s;
	static uint8_t f[NM_FRAG_MAX_FRAME], d[NM_FRAG_MAX_FRAME];
	const uint64_t echo = fx.d[0].origin, counter = fx.d[1].origin;
	const size_t mtu_budget = nm_packet_budget(1500);
	const uint8_t hello[] = "hello, daemon";
	size_t n;

	/* Events for both daemons, then a replay of the first packet. */
	s.n = 0;
	s.b[s.n++] = 0;
	n = sealed(f, sizeof(f), &fx.peer, fx.sid, echo, 0, hello, sizeof(hello), 3, mtu_budget);
	add(&s, f, n);
	add(&s, f, n);
	n = sealed(f, sizeof(f), &fx.peer, fx.sid, counter, 1, hello, 4, 2, mtu_budget);
	add(&s, f, n);
	fuzz_seed(s.b, s.n);

	/* The same, the NIC having verified the checksums. */
	s.b[0] = NM_PKT_RX_IP_CKSUM_GOOD | NM_PKT_RX_L4_CKSUM_GOOD;
	fuzz_seed(s.b, s.n);

	/* A heartbeat; a packet from another address; one for no session; one for no daemon. */
	s.n = 0;
	s.b[s.n++] = 0;
	FUZZ_CHECK(nm_packet_heartbeat(d, &fx.peer_tx, fx.sid, 0, 5) == 0);
	add(&s, f, udp(f, sizeof(f), d, NM_HEARTBEAT_LEN));
	n = sealed(f, sizeof(f), &fx.other, fx.sid, echo, 6, hello, 5, 1, mtu_budget);
	add(&s, f, n);
	n = sealed(f, sizeof(f), &fx.peer, fx.sid + 1, echo, 7, hello, 5, 1, mtu_budget);
	add(&s, f, n);
	n = sealed(f, sizeof(f), &fx.peer, fx.sid, 0x12345, 8, hello, 5, 1, mtu_budget);
	add(&s, f, n);
	fuzz_seed(s.b, s.n);

	/* ARP: a request for our address, and the answer to ours; an ICMP echo request. */
	s.n = 0;
	s.b[s.n++] = 0;
	FUZZ_CHECK(nm_pkt_arp_request(f, sizeof(f), &fx.peer, IP_US, &n) == 0);
	add(&s, f, n);
	FUZZ_CHECK(nm_pkt_arp_request(f, sizeof(f), &fx.us, IP_PEER, &n) == 0);
	FUZZ_CHECK(nm_pkt_arp_reply(f, n, &fx.peer, &n, NULL) == 0);
	add(&s, f, n);
	add(&s, f, fuzz_icmp_echo_request(f, sizeof(f), &fx.peer, &fx.us, 56));
	fuzz_seed(s.b, s.n);

	/* A 3000-byte event in one datagram above the MTU: its fragments, in order and reversed. */
	static uint8_t large[3000];
	fuzz_fill(large, sizeof(large), 15);
	n = sealed(d, sizeof(d), &fx.peer, fx.sid, echo, 9, large, sizeof(large), 1,
		   NM_NET_MAX_PAYLOAD);
	s.n = 0;
	s.b[s.n++] = 0;
	fragments(&s, d, n, false);
	fuzz_seed(s.b, s.n);
	s.n = 1;
	fragments(&s, d, n, true);
	fuzz_seed(s.b, s.n);

	/* A handshake msg1 (no responder here) and a migration message (no engine here). */
	s.n = 0;
	s.b[s.n++] = 0;
	add(&s, f, udp(f, sizeof(f), fx.pkt1, sizeof(fx.pkt1)));
	int dl = nm_packet_message(d, sizeof(d), &fx.peer_tx, 10, fx.sid, NM_SUBPROTOCOL_MIGRATION,
				   NM_SUBPROTOCOL_MIGRATION, 0, 0, hello, sizeof(hello));
	FUZZ_CHECK(dl > 0);
	add(&s, f, udp(f, sizeof(f), d, (size_t)dl));
	fuzz_seed(s.b, s.n);
}

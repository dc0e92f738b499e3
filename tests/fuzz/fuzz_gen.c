/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gen.c - netmesh-gen's receive path (app/gen_core.h): frames in, from
 * an appliance with fixed keys and ephemerals.
 *
 * Input: byte 0 picks the state the generator starts in (resolving,
 * handshaking after the fixed msg1, or established), then frames, each
 * [LE16 length][bytes], handed to gen_rx in order. Properties: every frame
 * is counted once in rx_frames/rx_bytes and leaves a trace (a drop reason,
 * a data/heartbeat/reply counter, a state change, or a refreshed peer MAC);
 * the state never goes back; only the appliance's genuine msg2 establishes
 * the session, and to its session id; a reply fits the frame; every event
 * checked gets exactly one verdict (chain ok, gap or error), and the
 * per-daemon counters add up to the totals, the RTT histogram and series to
 * the samples.
 *
 * The established start has sent SENT_PACKETS event packets (two per
 * daemon), so replies answer real events: echoes by their answered bit, RTT
 * samples, the series by send time. struct gen is about 10 MB (the per-event
 * window), so each input resets only what gen_rx can change (gen_restore):
 * copying all of it ran the target at 30 inputs/s. Every RESTORE_VERIFY-th
 * input the whole struct is compared with its start, so a reset that missed
 * something is a crash, not a silent carry-over between inputs.
 */
#include <stddef.h>
#include <string.h>

#include <rte_ip.h>
#include <sodium.h>

#include "fuzz_common.h"
#include "gen_core.h"
#include "nm_le.h"
#include "nm_packet.h"

#define GEN_NODE 0x1111222233334444ULL
#define GEN_ORIGIN 0x5555666677778888ULL
#define APP_NODE 0x99990000aaaabbbbULL
#define DAEMON_A 0xd00000000000000aULL
#define DAEMON_B 0xd00000000000000bULL
#define SENT_PACKETS 4     /* built by the established start: 12 events, 6 per daemon */
#define SENT_AT 1000000    /* their send time, ns; replies arrive at REPLY_AT */
#define REPLY_AT 1250000
#define SLOT_NS 1000       /* series slots: the 12 events are in slot 0 */
#define RESTORE_VERIFY 512 /* inputs between two full checks of gen_restore */

static const struct nm_pkt_endpoint GEN_EP = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x02 } }, .ip = RTE_IPV4(127, 0, 0, 2), .port = 7777,
};
static const struct nm_pkt_endpoint APP_EP = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x01 } }, .ip = RTE_IPV4(127, 0, 0, 1), .port = 7777,
};

static struct {
	bool ready;
	struct gen_config cfg;
	uint8_t static_sk[32], eph_g[32], eph_a[32];
	struct gen *start[3];   /* RESOLVING, HANDSHAKING (fixed msg1 out), ESTABLISHED */
	struct gen *g;          /* the one each input runs on */
	uint8_t msg2_frame[NM_PKT_DATA_OFF + NM_HS_PKT_LEN];
	size_t msg2_len;
	struct nm_session_keys app; /* the appliance's side of the session */
	struct nm_aead app_tx;
} fx;

/* gen_hs_msg1's handshake, with a fixed ephemeral so seeds stay valid across runs. */
static void fixed_msg1(struct gen *g, uint8_t msg[NM_HS_MSG_LEN])
{
	const struct nm_hs_config hc = {
		.initiator = true, .local_node_id = g->cfg.node_id,
		.peer_node_id = g->cfg.peers[0].node_id, .psk = g->cfg.psk,
		.peer_static_pk = g->cfg.peers[0].static_pub, .fixed_ephemeral_sk = fx.eph_g,
	};
	size_t n;
	struct nm_hs *hs = &g->peers[0].hs;
	nm_hs_wipe(hs);
	FUZZ_CHECK(nm_hs_init(hs, &hc) == 0);
	FUZZ_CHECK(nm_hs_write(hs, NULL, 0, msg, NM_HS_MSG_LEN, &n) == 0);
}

/* The appliance answers msg1: its keys, and the msg2 frame to the generator. */
static void appliance_answer(const uint8_t msg1[NM_HS_MSG_LEN])
{
	const struct nm_hs_config rc = {
		.initiator = false, .local_node_id = APP_NODE, .peer_node_id = GEN_NODE,
		.psk = fx.cfg.psk, .static_sk = fx.static_sk, .fixed_ephemeral_sk = fx.eph_a,
	};
	struct nm_hs hs;
	uint8_t m2[NM_HS_MSG_LEN];
	size_t n, dlen;
	FUZZ_CHECK(nm_hs_init(&hs, &rc) == 0 && nm_hs_read(&hs, msg1, NM_HS_MSG_LEN, NULL, 0, NULL) == 0);
	FUZZ_CHECK(nm_hs_write(&hs, NULL, 0, m2, sizeof(m2), &n) == 0);
	FUZZ_CHECK(nm_hs_finish(&hs, &fx.app) == 0);
	nm_aead_init(&fx.app_tx, fx.app.tx, fx.app.session_id);
	FUZZ_CHECK(nm_hs_pkt_encode(m2, n, fx.msg2_frame + NM_PKT_DATA_OFF, NM_HS_PKT_LEN, &dlen) == 0);
	FUZZ_CHECK(nm_pkt_build_udp(fx.msg2_frame, sizeof(fx.msg2_frame), &APP_EP, &GEN_EP, 1, dlen, 0) == 0);
	fx.msg2_len = NM_PKT_DATA_OFF + dlen;
}

static struct gen *new_gen(bool mac_known)
{
	struct gen *g = calloc(1, sizeof(*g));
	FUZZ_CHECK(g != NULL);
	struct gen_config c = fx.cfg;
	c.peers[0].mac_known = mac_known;
	FUZZ_CHECK(gen_init(g, &c, NULL) == 0);
	return g;
}

static void fixture(void)
{
	if (fx.ready)
		return;
	FUZZ_CHECK(nm_aead_lib_init() == 0);
	fx.cfg = (struct gen_config){
		.self = GEN_EP, .peers = { { .ep = APP_EP, .node_id = APP_NODE } }, .n_peers = 1,
		.node_id = GEN_NODE, .origin_hash = GEN_ORIGIN,
		.daemons = { DAEMON_A, DAEMON_B }, .n_daemons = 2,
		.event_size = 64, .events_per_packet = 3, .mtu = 1500,
	};
	fuzz_fill(fx.cfg.psk, 32, 1);
	fuzz_fill(fx.static_sk, 32, 2);
	fuzz_fill(fx.eph_g, 32, 3);
	fuzz_fill(fx.eph_a, 32, 4);
	FUZZ_CHECK(crypto_scalarmult_base(fx.cfg.peers[0].static_pub, fx.static_sk) == 0);

	fx.start[0] = new_gen(false);
	fx.start[1] = new_gen(true);
	uint8_t msg1[NM_HS_MSG_LEN];
	fixed_msg1(fx.start[1], msg1);
	appliance_answer(msg1);
	fx.start[2] = new_gen(true);
	*fx.start[2] = *fx.start[1];
	uint8_t *f = malloc(GEN_FRAME_MAX);
	FUZZ_CHECK(f != NULL);
	memcpy(f, fx.msg2_frame, fx.msg2_len);
	FUZZ_CHECK(gen_rx(fx.start[2], f, fx.msg2_len, NULL) == GEN_RX_ESTABLISHED);
	/* Events out, so that replies have something to answer. */
	FUZZ_CHECK(gen_series_start(fx.start[2], SENT_AT, SLOT_NS) == 0);
	gen_set_now(fx.start[2], SENT_AT);
	for (int i = 0; i < SENT_PACKETS; i++) {
		size_t len;
		FUZZ_CHECK(gen_build_events(fx.start[2], f, GEN_FRAME_MAX, &len) == 0);
	}
	gen_set_now(fx.start[2], REPLY_AT);
	free(f);
	fx.g = new_gen(false);
	fx.ready = true;
}

static void copy_part(struct gen *g, const struct gen *from, size_t off, size_t len)
{
	memcpy((uint8_t *)g + off, (const uint8_t *)from + off, len);
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/*
 * g (from any start, after any input) becomes `from` again, copying only what
 * either could have changed: everything but the checks and the per-event
 * window, the checks in use, the RTT histogram, the window's slots below
 * event_no (gen_rx sets answered bits of sent events only) and the series
 * slots in use. The verification in LLVMFuzzerTestOneInput keeps this honest.
 */
static void gen_restore(struct gen *g, const struct gen *from)
{
	const uint64_t events = max_u64(g->event_no, from->event_no);
	const uint64_t slots = events < GEN_WINDOW ? events : GEN_WINDOW;
	const uint32_t used = (uint32_t)max_u64(g->series.used, from->series.used);
	const unsigned checks = (unsigned)max_u64(g->n_checks, from->n_checks);
	copy_part(g, from, 0, offsetof(struct gen, checks));
	copy_part(g, from, offsetof(struct gen, checks),
		  (checks < GEN_MAX_DAEMONS ? checks : GEN_MAX_DAEMONS) * sizeof(g->checks[0]));
	copy_part(g, from, offsetof(struct gen, evs), offsetof(struct gen, answered) - offsetof(struct gen, evs));
	copy_part(g, from, offsetof(struct gen, answered), (slots + 63) / 64 * sizeof(g->answered[0]));
	copy_part(g, from, offsetof(struct gen, sent_ns), slots * sizeof(g->sent_ns[0]));
	copy_part(g, from, offsetof(struct gen, sent_peer), slots * sizeof(g->sent_peer[0]));
	copy_part(g, from, offsetof(struct gen, series), offsetof(struct gen_series, samples));
	copy_part(g, from, offsetof(struct gen, series.samples), used * sizeof(g->series.samples[0]));
	copy_part(g, from, offsetof(struct gen, series.max_ns), used * sizeof(g->series.max_ns[0]));
}

static uint64_t traces(const struct gen_stats *s)
{
	return gen_drops_total(s) + s->rx_packets + s->rx_heartbeats + s->rx_messages +
	       s->arp_replies + s->icmp_replies;
}

/* An ARP reply from the peer updates its MAC and may count nothing else. */
static bool peer_arp_reply(const struct gen *g, const uint8_t *f, size_t len)
{
	struct nm_pkt_endpoint sender;
	return nm_pkt_arp_reply_sender(f, len, &g->cfg.self, &sender, NULL) == 0 &&
	       sender.ip == g->peers[0].cfg.ep.ip && memcmp(&g->peers[0].cfg.ep.mac, &sender.mac, 6) == 0;
}

static void one_frame(struct gen *g, const uint8_t *bytes, size_t len)
{
	uint8_t *f = malloc(len ? len : 1);
	FUZZ_CHECK(f != NULL);
	memcpy(f, bytes, len);
	const struct gen_stats before = g->st;
	const enum gen_state state = g->peers[0].state;
	size_t out = 0;
	enum gen_rx_result r = gen_rx(g, f, len, &out);
	FUZZ_CHECK(g->st.rx_frames == before.rx_frames + 1 && g->st.rx_bytes == before.rx_bytes + len);
	const struct gen_peer *p = &g->peers[0];
	FUZZ_CHECK(p->state >= state);
	switch (r) {
	case GEN_RX_REPLY:
		FUZZ_CHECK(out >= NM_PKT_ETH_LEN + NM_PKT_ARP_LEN && out <= len);
		break;
	case GEN_RX_RESOLVED:
		FUZZ_CHECK(state == GEN_RESOLVING && p->state == GEN_HANDSHAKING && p->cfg.mac_known);
		break;
	case GEN_RX_ESTABLISHED:
		FUZZ_CHECK(state == GEN_HANDSHAKING && p->state == GEN_ESTABLISHED);
		FUZZ_CHECK(p->session_id == fx.app.session_id);
		break;
	case GEN_RX_CONSUMED:
		FUZZ_CHECK(p->state == state);
		FUZZ_CHECK(traces(&g->st) > traces(&before) || peer_arp_reply(g, bytes, len));
		break;
	default:
		FUZZ_CHECK(!"gen_rx result out of range");
	}
	free(f);
}

static void check_totals(const struct gen *g)
{
	const struct gen_stats *s = &g->st;
	FUZZ_CHECK(s->rx_events == s->chain_ok + s->chain_gaps + s->chain_errors);
	FUZZ_CHECK(g->n_checks <= GEN_MAX_DAEMONS);
	uint64_t ev = 0, ok = 0, gaps = 0, errors = 0, lost = 0;
	for (unsigned i = 0; i < g->n_checks; i++) {
		ev += g->checks[i].events;
		ok += g->checks[i].ok;
		gaps += g->checks[i].gaps;
		errors += g->checks[i].errors;
		lost += g->checks[i].lost;
	}
	FUZZ_CHECK(ev == s->rx_events && ok == s->chain_ok && gaps == s->chain_gaps &&
		   errors == s->chain_errors && lost == s->gap_lost);
	FUZZ_CHECK(s->chain_gaps <= s->gap_lost);
	uint64_t dups = 0, hist = 0;
	for (unsigned d = 0; d < g->cfg.n_daemons; d++)
		dups += g->dest[d].duplicates;
	for (unsigned i = 0; i < GEN_HIST_BUCKETS; i++)
		hist += g->rtt_hist[i];
	FUZZ_CHECK(dups == s->duplicate_events && hist == s->rtt_samples);
	FUZZ_CHECK(s->rtt_fwd_samples <= s->rtt_samples);
	/* Every sample lands in a slot or outside (the series started before any). */
	if (g->series.slot_ns != 0)
		FUZZ_CHECK(g->series.placed + g->series.outside == s->rtt_samples);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	static unsigned inputs;
	fixture();
	struct gen *g = fx.g;
	const struct gen *start = fx.start[data[0] % 3];
	gen_restore(g, start);
	if (inputs++ % RESTORE_VERIFY == 0)
		FUZZ_CHECK(memcmp(g, start, sizeof(*g)) == 0);
	struct fuzz_in in = { data + 1, size - 1 };
	while (in.left >= 2) {
		size_t len = fuzz_u16(&in);
		if (len > in.left)
			len = in.left;
		one_frame(g, fuzz_take(&in, len), len);
	}
	check_totals(g);
	return 0;
}

/* ------------------------------------------------------------------ seeds */

static uint8_t seed_buf[1 + 8 * (2 + GEN_FRAME_MAX)];
static size_t seed_len;

static void seed_start(uint8_t state)
{
	seed_buf[0] = state;
	seed_len = 1;
}

static void seed_frame(const uint8_t *f, size_t len)
{
	FUZZ_CHECK(seed_len + 2 + len <= sizeof(seed_buf));
	nm_put_le16(seed_buf + seed_len, (uint16_t)len);
	memcpy(seed_buf + seed_len + 2, f, len);
	seed_len += 2 + len;
}

/*
 * Daemon k's outputs n0..n0+n (or a forged link when `forge`), as the
 * appliance sends them; with `echo`, output i is the generator's event
 * echo[i], byte for byte (its number, then the generator's fixed tail).
 */
static void seed_outputs_of(struct nm_chain *c, uint64_t daemon, uint32_t n, uint64_t counter,
			    uint64_t seq, bool forge, const uint64_t *echo)
{
	static uint8_t pay[4][64];
	struct nm_event evs[4];
	FUZZ_CHECK(n <= 4 && fx.cfg.event_size == sizeof(pay[0]));
	for (uint32_t i = 0; i < n; i++) {
		if (echo != NULL) {
			nm_put_le64(pay[i], echo[i]);
			memcpy(pay[i] + 8, fx.start[2]->tail, sizeof(pay[i]) - 8);
		} else {
			fuzz_fill(pay[i], sizeof(pay[i]), counter * 4 + i);
		}
		evs[i].payload = pay[i];
		evs[i].len = sizeof(pay[i]);
		FUZZ_CHECK(nm_chain_append(c, pay[i], sizeof(pay[i]), 0, &evs[i].link) == 0);
		if (forge && i == n - 1)
			evs[i].link.parent_hash ^= 1;
	}
	const struct nm_packet_tx t = {
		.src = &APP_EP, .dst = &GEN_EP, .ip_id = 7, .key = &fx.app_tx, .counter = counter,
		.session_id = fx.app.session_id, .stream_id = daemon, .sequence = seq,
		.origin_hash = APP_NODE, .budget = nm_packet_budget(1500),
	};
	uint8_t f[GEN_FRAME_MAX];
	uint32_t used;
	size_t len;
	FUZZ_CHECK(nm_packet_build(f, sizeof(f), &t, evs, n, &used, &len) == 0 && used == n);
	seed_frame(f, len);
}

static void seed_outputs(struct nm_chain *c, uint64_t daemon, uint32_t n, uint64_t counter,
			 uint64_t seq, bool forge)
{
	seed_outputs_of(c, daemon, n, counter, seq, forge, NULL);
}

void fuzz_seeds(void)
{
	fixture();
	uint8_t f[GEN_FRAME_MAX];
	size_t len;
	struct gen *g = fx.g;

	/* Resolving: the appliance's ARP reply, then an ARP request for us. */
	*g = *fx.start[0];
	seed_start(0);
	FUZZ_CHECK(gen_arp_request(g, 0, f, sizeof(f), &len) == 0);
	FUZZ_CHECK(nm_pkt_arp_reply(f, len, &APP_EP, &len, NULL) == 0);
	seed_frame(f, len);
	FUZZ_CHECK(nm_pkt_arp_request(f, sizeof(f), &APP_EP, GEN_EP.ip, &len) == 0);
	seed_frame(f, len);
	fuzz_seed(seed_buf, seed_len);

	/* Handshaking: the genuine msg2, then the first outputs. */
	struct nm_chain a, b;
	nm_chain_init(&a, DAEMON_A);
	nm_chain_init(&b, DAEMON_B);
	seed_start(1);
	seed_frame(fx.msg2_frame, fx.msg2_len);
	seed_outputs(&a, DAEMON_A, 3, 0, 0, false);
	fuzz_seed(seed_buf, seed_len);

	/* Established: two daemons, a heartbeat, a replay, a gap, a forged link. */
	nm_chain_init(&a, DAEMON_A);
	seed_start(2);
	seed_outputs(&a, DAEMON_A, 2, 0, 0, false);
	seed_outputs(&b, DAEMON_B, 1, 1, 0, false);
	uint8_t hb[NM_HEARTBEAT_LEN];
	FUZZ_CHECK(nm_packet_heartbeat(hb, &fx.app_tx, fx.app.session_id, APP_NODE, 2) == 0);
	memcpy(f + NM_PKT_DATA_OFF, hb, sizeof(hb));
	FUZZ_CHECK(nm_pkt_build_udp(f, sizeof(f), &APP_EP, &GEN_EP, 3, sizeof(hb), 0) == 0);
	seed_frame(f, NM_PKT_DATA_OFF + sizeof(hb));
	seed_frame(f, NM_PKT_DATA_OFF + sizeof(hb)); /* replayed */
	struct nm_causal_link skipped;
	FUZZ_CHECK(nm_chain_append(&a, "lost", 4, 0, &skipped) == 0);
	seed_outputs(&a, DAEMON_A, 2, 3, 1, false); /* after a gap */
	seed_outputs(&a, DAEMON_A, 2, 4, 2, true);  /* a broken link */
	fuzz_seed(seed_buf, seed_len);

	/* Established: echoes of events A was sent (0 and 6, then 0 again: a duplicate), of
	 * one never sent (100, so not an echo), and B's outputs answering its events in order. */
	static const uint64_t echoes[] = { 0, 6, 0, 100 };
	nm_chain_init(&a, DAEMON_A);
	nm_chain_init(&b, DAEMON_B);
	seed_start(2);
	seed_outputs_of(&a, DAEMON_A, 4, 0, 0, false, echoes);
	seed_outputs(&b, DAEMON_B, 4, 1, 0, false);
	seed_outputs(&b, DAEMON_B, 4, 2, 1, false);
	fuzz_seed(seed_buf, seed_len);

	/* An ICMP echo request to the generator. */
	seed_start(2);
	len = fuzz_icmp_echo_request(f, sizeof(f), &APP_EP, &GEN_EP, 56);
	seed_frame(f, len);
	fuzz_seed(seed_buf, seed_len);
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sessmgr.c - the session manager's handshake handling
 * (dataplane/nm_sessmgr.h): msg1 replay cache, responder install, candidate
 * sessions, rotation by our own handshake, crossed handshakes, early data.
 *
 * A dataplane with one worker (fuzz_dp.h) and a fresh session manager per
 * input, with one peer (127.0.0.2) whose static key we know. Handshake
 * packets reach the manager the way the control thread gets them: on the
 * dataplane's slow-path ring, drained by nm_dataplane_poll_slowpath; what it
 * sends leaves through the worker's TX queue.
 *
 * Input byte 0: bit 0, a session is live first (the peer's genuine msg1
 * number 3); bit 1, then we initiate (our msg1 is answered by the peer,
 * which makes the genuine msg2). Then up to 12 records [op][LE16 len][bytes]:
 *   op % 5 == 0  bytes are a datagram from the peer's address;
 *           1    the peer's genuine msg1 number bytes[0] % 4, XOR bytes[1..];
 *           2    the genuine msg2 for our handshake (or msg1 number 0), XOR bytes;
 *           3    bytes are a datagram from an address that is no peer;
 *           4    the peer's initiator number bytes[0] % 4 sends a heartbeat under
 *                the session the manager answered its msg1 with (when that is
 *                installed), to the worker, and the control thread polls.
 * A message is genuine when its Noise bytes are one of those, unchanged.
 * Properties, per record:
 *  - a packet that is not genuine installs nothing, sends nothing, and the
 *    peer's live session is the same one, still installed;
 *  - a replayed msg1 (one answered before in this input) is counted as a
 *    replay and installs no second session;
 *  - a fresh genuine msg1 installs a session the peer's initiator agrees on
 *    (its msg2 is what the manager sent); it becomes the live one only when
 *    none was live (else it is a candidate); when our own handshake was in
 *    flight, the smaller node_id's wins;
 *  - the genuine msg2 makes the peer's live session the one the peer's
 *    responder derived, and the previous one is gone (rotation);
 *  - every record moves exactly one of the manager's counters (failure,
 *    replay, unknown peer, malformed, early data, completed, crossed),
 *    except data parked behind our handshake, which is counted when the
 *    manager goes;
 *  - a heartbeat under a candidate session (the manager answered a msg1
 *    while one was live) authenticates at the worker and makes it live at
 *    the next poll, the previous one rotated out; under the live one it
 *    changes nothing; a newer candidate replaces an older one (removed);
 *  - at the end no session of the input is left installed.
 *
 * Timers (retries, timeouts, heartbeats, expiry) are an hour here, so a poll
 * only promotes candidates: the target runs on the real clock.
 *
 * Speed: the manager runs every handshake with a fixed ephemeral
 * (nm_sessmgr_config.fixed_ephemeral_sk), so what it sends is the same in
 * every input, and the peer's side of it is computed once: its responder's
 * answer to our msg1, and what each of its initiators derives from the
 * manager's msg2 (cached by the exact msg1 and msg2 bytes; other bytes are
 * computed afresh). The manager's own side, every X25519 of it, runs for
 * real in every input.
 */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <sodium.h>

#include "fuzz_common.h"
#include "fuzz_dp.h"
#include "nm_handshake.h"
#include "nm_keys.h"
#include "nm_packet.h"
#include "nm_pkt.h"
#include "nm_rx.h"
#include "nm_sessmgr.h"
#include "nm_wire.h"

#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define IP_OTHER RTE_IPV4(127, 0, 0, 3)
#define PEER_NODE 0x1111222233334444ULL
#define N_MSG1 4
#define MAX_RECORDS 12
#define MAX_SIDS (N_MSG1 + 2)
#define HOUR_MS 3600000u /* every timer of the manager: none fires in an input */

static struct {
	bool ready;
	struct fuzz_dp f;
	struct nm_keys keys; /* ours */
	uint8_t psk[32], peer_sk[32], peer_pk[32], eph[N_MSG1 + 1][32];
	struct nm_pkt_endpoint us, peer, other;
	struct nm_hs_config ci[N_MSG1], cr;
	struct nm_hs after_msg1[N_MSG1]; /* the peer's initiators once msg1 is out */
	uint8_t msg1[N_MSG1][NM_HS_MSG_LEN], pkt1[N_MSG1][NM_HS_PKT_LEN];
	uint8_t sm_eph[32]; /* the manager's ephemeral, every handshake */
	/* The peer's side, cached: its answer to our msg1 ... */
	bool have_ours;
	uint8_t our_msg1[NM_HS_MSG_LEN], our_msg2[NM_HS_MSG_LEN], our_pkt2[NM_HS_PKT_LEN];
	uint64_t our_sid;
	/* ... and the session initiator k derives from the manager's msg2 to msg1 k. */
	bool have_answer[N_MSG1];
	uint8_t answer[N_MSG1][NM_HS_MSG_LEN];
	uint64_t answer_sid[N_MSG1];
	struct nm_aead answer_tx[N_MSG1]; /* initiator k's sending key on that session */
} fx;

/* What one input has seen. */
struct run {
	struct nm_sessmgr *sm;
	bool pending;              /* our handshake is in flight (as far as the target knows) */
	bool answered[N_MSG1];     /* msg1s whose reading succeeded: a repeat is a replay */
	uint8_t msg2[NM_HS_MSG_LEN], pkt2[NM_HS_PKT_LEN];
	uint64_t msg2_sid;         /* the session the genuine msg2 makes */
	uint64_t sids[MAX_SIDS];   /* every session id the input made */
	unsigned n_sids;
	unsigned parked;           /* data behind our handshake, counted when it ends */
	uint64_t cand;             /* the peer's candidate session, 0: none */
	uint64_t hb_counter;       /* the peer's heartbeats (op 4) */
};

static void fixture(void)
{
	if (fx.ready)
		return;
	uint8_t seed[32];
	fuzz_fill(seed, 32, 20);
	fuzz_fill(fx.psk, 32, 21);
	fuzz_dp_init(&fx.f, "fuzz_sm", seed, fx.psk);
	FUZZ_CHECK(nm_identity_from_seed(&fx.keys.identity, seed) == 0);
	fuzz_fill(fx.keys.noise_sk, 32, 22);
	FUZZ_CHECK(crypto_scalarmult_base(fx.keys.noise_pk, fx.keys.noise_sk) == 0);
	fuzz_fill(fx.peer_sk, 32, 23);
	FUZZ_CHECK(crypto_scalarmult_base(fx.peer_pk, fx.peer_sk) == 0);
	for (int k = 0; k <= N_MSG1; k++)
		fuzz_fill(fx.eph[k], 32, 30 + (uint64_t)k);
	fuzz_fill(fx.sm_eph, 32, 40);
	const uint64_t us = fx.keys.identity.node_id;
	fx.us = fx.f.w->self;
	fx.peer = (struct nm_pkt_endpoint){ { { 0x02, 0, 0, 0, 0, 0x02 } }, IP_PEER, 7777 };
	fx.other = (struct nm_pkt_endpoint){ { { 0x02, 0, 0, 0, 0, 0x03 } }, IP_OTHER, 7777 };
	for (int k = 0; k < N_MSG1; k++) {
		fx.ci[k] = (struct nm_hs_config){ .initiator = true, .local_node_id = PEER_NODE,
						  .peer_node_id = us, .psk = fx.psk,
						  .peer_static_pk = fx.keys.noise_pk,
						  .fixed_ephemeral_sk = fx.eph[k] };
		size_t n;
		FUZZ_CHECK(nm_hs_init(&fx.after_msg1[k], &fx.ci[k]) == 0);
		FUZZ_CHECK(nm_hs_write(&fx.after_msg1[k], NULL, 0, fx.msg1[k], NM_HS_MSG_LEN, &n) ==
			   0);
		FUZZ_CHECK(nm_hs_pkt_encode(fx.msg1[k], n, fx.pkt1[k], NM_HS_PKT_LEN, &n) == 0);
	}
	/* The peer as responder to our msg1. */
	fx.cr = (struct nm_hs_config){ .initiator = false, .local_node_id = PEER_NODE,
				       .peer_node_id = us, .psk = fx.psk, .static_sk = fx.peer_sk,
				       .fixed_ephemeral_sk = fx.eph[N_MSG1] };
	fx.ready = true;
}

static void note_sid(struct run *r, uint64_t sid)
{
	for (unsigned i = 0; i < r->n_sids; i++)
		if (r->sids[i] == sid)
			return;
	FUZZ_CHECK(r->n_sids < MAX_SIDS);
	r->sids[r->n_sids++] = sid;
}

/* A datagram from src, to the manager as the control thread gets it. */
static void feed(const struct nm_pkt_endpoint *src, const uint8_t *dgram, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx.f.dp->port.pool);
	FUZZ_CHECK(m != NULL);
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	size_t cap = rte_pktmbuf_tailroom(m);
	if (len > cap - NM_PKT_DATA_OFF)
		len = cap - NM_PKT_DATA_OFF;
	memcpy(frame + NM_PKT_DATA_OFF, dgram, len);
	FUZZ_CHECK(nm_pkt_build_udp(frame, cap, src, &fx.us, 1, len, 0) == 0);
	m->data_len = (uint16_t)(NM_PKT_DATA_OFF + len);
	m->pkt_len = m->data_len;
	FUZZ_CHECK(rte_ring_enqueue(fx.f.dp->slowpath, m) == 0);
	FUZZ_CHECK(nm_dataplane_poll_slowpath(fx.f.dp) == 1);
}

/*
 * Everything the manager sent since the last call: handshake messages (the
 * Noise bytes of the last one in msg, 0 when none); early data it handed
 * back went through the worker. Returns how many handshake messages.
 */
static unsigned sent(uint8_t msg[NM_HS_MSG_LEN])
{
	unsigned n = 0;
	while (nm_worker_poll(fx.f.w) != 0)
		;
	struct rte_mbuf *m;
	while ((m = fuzz_dp_sent(&fx.f)) != NULL) {
		struct nm_pkt_info pi;
		const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *), *hs;
		size_t hlen;
		FUZZ_CHECK(nm_pkt_parse(frame, m->data_len, &fx.peer, 0, &pi, NULL) == 0);
		if (pi.kind == NM_PKT_UDP &&
		    nm_hs_pkt_decode(frame + pi.data_off, pi.data_len, &hs, &hlen, NULL) == 0) {
			FUZZ_CHECK(hlen == NM_HS_MSG_LEN);
			memcpy(msg, hs, hlen);
			n++;
		}
		rte_pktmbuf_free(m);
	}
	return n;
}

static uint64_t live(const struct run *r)
{
	struct nm_peer_status st;
	FUZZ_CHECK(nm_sessmgr_peer_status(r->sm, 0, &st) == 0);
	return st.session_id;
}

static bool installed(uint64_t sid)
{
	return sid != 0 && nm_dataplane_session_get(fx.f.dp, sid) != NULL;
}

/* We initiate: our msg1 goes out, the peer's responder answers it (the genuine msg2). */
static void initiate(struct run *r)
{
	struct nm_error err;
	uint8_t m1[NM_HS_MSG_LEN];
	FUZZ_CHECK(nm_sessmgr_connect(r->sm, 0, &err) == 0);
	FUZZ_CHECK(sent(m1) == 1);
	if (!fx.have_ours || memcmp(m1, fx.our_msg1, sizeof(m1)) != 0) {
		struct nm_hs resp;
		struct nm_session_keys k;
		size_t n;
		FUZZ_CHECK(nm_hs_init(&resp, &fx.cr) == 0);
		FUZZ_CHECK(nm_hs_read(&resp, m1, sizeof(m1), NULL, 0, NULL) == 0);
		FUZZ_CHECK(nm_hs_write(&resp, NULL, 0, fx.our_msg2, sizeof(fx.our_msg2), &n) == 0);
		FUZZ_CHECK(nm_hs_pkt_encode(fx.our_msg2, n, fx.our_pkt2, sizeof(fx.our_pkt2), &n) == 0);
		FUZZ_CHECK(nm_hs_finish(&resp, &k) == 0);
		memcpy(fx.our_msg1, m1, sizeof(m1));
		fx.our_sid = k.session_id;
		fx.have_ours = true;
		nm_session_keys_wipe(&k);
	}
	memcpy(r->msg2, fx.our_msg2, sizeof(r->msg2));
	memcpy(r->pkt2, fx.our_pkt2, sizeof(r->pkt2));
	r->msg2_sid = fx.our_sid;
	r->pending = true;
}

/* Which genuine message the datagram carries: msg1 k (0..3), msg2 (N_MSG1), or -1. */
static int genuine(const struct run *r, const uint8_t *dgram, size_t len, bool *handshake)
{
	const uint8_t *msg;
	size_t mlen;
	*handshake = nm_hs_pkt_decode(dgram, len, &msg, &mlen, NULL) == 0;
	if (!*handshake || mlen != NM_HS_MSG_LEN)
		return -1;
	for (int k = 0; k < N_MSG1; k++)
		if (memcmp(msg, fx.msg1[k], NM_HS_MSG_LEN) == 0)
			return k;
	if (r->pending && memcmp(msg, r->msg2, NM_HS_MSG_LEN) == 0)
		return N_MSG1;
	return -1;
}

/* The counters a record may move, summed. */
static uint64_t outcomes(const struct nm_sessmgr_stats *s)
{
	return s->handshakes_completed + s->handshake_failures + s->msg1_replays +
	       s->unknown_peer + s->malformed + s->early_data_delivered + s->early_data_dropped +
	       s->handshakes_crossed;
}

/* The peer's initiator k accepts the manager's msg2, to the session it installed. */
static void check_answer(struct run *r, int k, const uint8_t m2[NM_HS_MSG_LEN])
{
	if (!fx.have_answer[k] || memcmp(m2, fx.answer[k], NM_HS_MSG_LEN) != 0) {
		struct nm_hs i = fx.after_msg1[k];
		struct nm_session_keys key;
		FUZZ_CHECK(nm_hs_read(&i, m2, NM_HS_MSG_LEN, NULL, 0, NULL) == 0);
		FUZZ_CHECK(nm_hs_finish(&i, &key) == 0);
		memcpy(fx.answer[k], m2, NM_HS_MSG_LEN);
		fx.answer_sid[k] = key.session_id;
		nm_aead_init(&fx.answer_tx[k], key.tx, key.session_id);
		fx.have_answer[k] = true;
		nm_session_keys_wipe(&key);
	}
	FUZZ_CHECK(installed(fx.answer_sid[k]));
	note_sid(r, fx.answer_sid[k]);
}

static uint64_t worker_drops(void)
{
	uint64_t n = 0;
	for (int i = 0; i < NM_DROP__COUNT; i++)
		n += fx.f.w->stats.drops[i];
	return n;
}

/* Op 4: initiator k's heartbeat under its session, to the worker; then the control thread polls. */
static void confirm(struct run *r, unsigned k)
{
	const uint64_t sid = fx.answer_sid[k];
	if (!fx.have_answer[k] || !installed(sid))
		return; /* no such session in this input: nothing to send under */
	const uint64_t live0 = live(r);
	const struct nm_sessmgr_stats before = *nm_sessmgr_stats(r->sm);
	static uint8_t f[NM_PKT_DATA_OFF + NM_HEARTBEAT_LEN];
	FUZZ_CHECK(nm_packet_heartbeat(f + NM_PKT_DATA_OFF, &fx.answer_tx[k], sid, PEER_NODE,
				       r->hb_counter++) == 0);
	FUZZ_CHECK(nm_pkt_build_udp(f, sizeof(f), &fx.peer, &fx.us, 1, NM_HEARTBEAT_LEN, 0) == 0);
	struct nm_rx_result res = { 0 };
	const uint64_t drops = worker_drops();
	FUZZ_CHECK(nm_worker_rx_frame(fx.f.w, f, sizeof(f), 0, &res) == NM_RX_OPEN);
	FUZZ_CHECK(worker_drops() == drops); /* authenticated */
	nm_sessmgr_poll(r->sm);
	uint8_t m[NM_HS_MSG_LEN];
	FUZZ_CHECK(sent(m) == 0);
	const struct nm_sessmgr_stats *after = nm_sessmgr_stats(r->sm);
	const uint64_t live1 = live(r);
	FUZZ_CHECK(outcomes(after) == outcomes(&before));
	if (sid == r->cand) {
		/* Confirmed: live now, the previous session rotated out. */
		FUZZ_CHECK(live1 == sid && installed(sid) && !installed(live0));
		FUZZ_CHECK(after->sessions_rotated == before.sessions_rotated + 1);
		r->cand = 0;
	} else {
		FUZZ_CHECK(live1 == live0 && installed(live0));
		FUZZ_CHECK(after->sessions_rotated == before.sessions_rotated);
	}
}

static void record(struct run *r, uint8_t op, const uint8_t *b, size_t len)
{
	static uint8_t d[2048];
	size_t n = len < sizeof(d) ? len : sizeof(d);
	op %= 5;
	if (op == 4) {
		confirm(r, len > 0 ? b[0] % N_MSG1 : 0);
		return;
	}
	const struct nm_pkt_endpoint *src = op == 3 ? &fx.other : &fx.peer;
	if (op == 1 || op == 2) {
		/* A genuine packet, XORed with the rest of the record (all zero: unchanged). */
		const uint8_t *base = op == 2 && r->pending ? r->pkt2 : fx.pkt1[0];
		if (op == 1) {
			base = fx.pkt1[len > 0 ? b[0] % N_MSG1 : 0];
			b += len > 0, len -= len > 0;
		}
		memcpy(d, base, NM_HS_PKT_LEN);
		for (size_t i = 0; i < len && i < NM_HS_PKT_LEN; i++)
			d[i] ^= b[i];
		n = NM_HS_PKT_LEN;
	} else {
		memcpy(d, b, n);
	}
	bool hs;
	int g = genuine(r, d, n, &hs);
	if (src != &fx.peer)
		g = -1; /* from no peer: refused whatever it carries */
	const struct nm_sessmgr_stats before = *nm_sessmgr_stats(r->sm);
	const uint64_t live0 = live(r);
	feed(src, d, n);
	uint8_t m2[NM_HS_MSG_LEN];
	const unsigned answers = sent(m2);
	const struct nm_sessmgr_stats *after = nm_sessmgr_stats(r->sm);
	const uint64_t moved = outcomes(after) - outcomes(&before);
	const uint64_t completed = after->handshakes_completed - before.handshakes_completed;
	const uint64_t live1 = live(r);

	if (g < 0 || (g < N_MSG1 && r->answered[g])) {
		/* Not genuine, or a replay: nothing changes but one counter. */
		FUZZ_CHECK(completed == 0 && answers == 0 && live1 == live0);
		FUZZ_CHECK(live0 == 0 || installed(live0));
		if (g >= 0)
			FUZZ_CHECK(after->msg1_replays == before.msg1_replays + 1);
		if (moved == 0) {
			/* Only data parked behind our handshake is counted later. */
			FUZZ_CHECK(src == &fx.peer && !hs && r->pending);
			r->parked++;
		} else {
			FUZZ_CHECK(moved == 1);
		}
		return;
	}
	if (g == N_MSG1) {
		/* Our handshake completes: the peer's responder's session, the old one rotated out. */
		/* The data parked behind it is delivered or dropped now: counted. */
		FUZZ_CHECK(completed == 1 && moved == 1 + r->parked && answers == 0);
		FUZZ_CHECK(live1 == r->msg2_sid && installed(live1));
		FUZZ_CHECK(live0 == 0 || live0 == live1 || !installed(live0));
		note_sid(r, live1);
		r->pending = false;
		r->parked = 0;
		return;
	}
	/* A fresh genuine msg1. */
	r->answered[g] = true;
	const uint64_t crossed = after->handshakes_crossed - before.handshakes_crossed;
	FUZZ_CHECK(crossed == (r->pending ? 1u : 0u));
	if (r->pending && fx.keys.identity.node_id < PEER_NODE) {
		/* Our handshake wins: the peer's msg1 is read, counted, not answered. */
		FUZZ_CHECK(completed == 0 && moved == 1 && answers == 0 && live1 == live0);
		return;
	}
	/* Given up for the peer's (crossed): the data parked behind ours is counted now. */
	FUZZ_CHECK(completed == 1 && moved == 1 + crossed * (1 + r->parked) && answers == 1);
	r->pending = false;
	r->parked = 0;
	check_answer(r, g, m2);
	/* msg1 proves only the PSK: it never replaces a live session. */
	FUZZ_CHECK(live0 == 0 ? installed(live1) && live1 != 0 : live1 == live0);
	if (live0 != 0) {
		/* A candidate, replacing the older one. */
		const uint64_t sid = fx.answer_sid[g];
		FUZZ_CHECK(r->cand == 0 || r->cand == sid || !installed(r->cand));
		r->cand = sid;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fixture();
	struct run r = { 0 };
	struct nm_sessmgr_config c = { .dp = fx.f.dp, .keys = &fx.keys, .psk = fx.psk,
				       .fixed_ephemeral_sk = fx.sm_eph, .heartbeat_ms = HOUR_MS,
				       .session_timeout_ms = HOUR_MS, .handshake_timeout_ms = HOUR_MS,
				       .attempt_wait_ms = HOUR_MS };
	struct nm_error err;
	FUZZ_CHECK(nm_sessmgr_create(&c, &r.sm, &err) == 0);
	struct nm_sm_peer_config pc = { .ip = IP_PEER, .port = 7777, .mac = &fx.peer.mac,
					.node_id = PEER_NODE, .static_pub = fx.peer_pk };
	FUZZ_CHECK(nm_sessmgr_add_peer(r.sm, &pc, &err) == 0);
	if (data[0] & 1) {
		uint8_t k3[1] = { 3 };
		record(&r, 1, k3, 1);
		FUZZ_CHECK(live(&r) != 0);
	}
	if (data[0] & 2)
		initiate(&r);
	struct fuzz_in in = { data + 1, size - 1 };
	for (unsigned i = 0; i < MAX_RECORDS && in.left > 0; i++) {
		uint8_t op = fuzz_u8(&in);
		size_t n = fuzz_u16(&in);
		if (n > in.left)
			n = in.left;
		record(&r, op, fuzz_take(&in, n), n);
	}
	/* Data still parked ends with the manager: dropped (counted) or handed to the worker. */
	const uint64_t *drops = fx.f.dp->ctl_stats.drops;
	const uint64_t dropped = drops[NM_DROP_SESSION_UNKNOWN] + drops[NM_DROP_HANDOFF_FULL];
	nm_sessmgr_destroy(r.sm);
	const uint64_t handed = rte_ring_count(fx.f.w->pkt_in);
	FUZZ_CHECK(drops[NM_DROP_SESSION_UNKNOWN] + drops[NM_DROP_HANDOFF_FULL] - dropped + handed ==
		   r.parked);
	uint8_t m[NM_HS_MSG_LEN];
	FUZZ_CHECK(sent(m) == 0);
	for (unsigned i = 0; i < r.n_sids; i++)
		FUZZ_CHECK(!installed(r.sids[i]));
	return 0;
}

/* ---------------------------------------------------------------- seeds */

struct seed {
	size_t n;
	uint8_t b[1 + MAX_RECORDS * (3 + NM_HS_PKT_LEN)];
};

static void rec(struct seed *s, uint8_t op, const uint8_t *b, size_t len)
{
	s->b[s->n++] = op;
	s->b[s->n++] = (uint8_t)len;
	s->b[s->n++] = (uint8_t)(len >> 8);
	if (len != 0) /* memcpy's source may not be NULL, even for 0 bytes */
		memcpy(s->b + s->n, b, len);
	s->n += len;
}

void fuzz_seeds(void)
{
	fixture();
	static struct seed s;
	const uint8_t k0[1] = { 0 }, k1[1] = { 1 }, k2[1] = { 2 };
	uint8_t flip[1 + NM_NET_HDR_SIZE + 40] = { 2 }; /* msg1 number 2, one Noise byte flipped */
	flip[sizeof(flip) - 1] = 0x01;

	/* Two peers' msg1s, each replayed; the first again as a raw datagram. */
	s.n = 0;
	s.b[s.n++] = 0;
	rec(&s, 1, k0, 1);
	rec(&s, 1, k0, 1);
	rec(&s, 1, k1, 1);
	rec(&s, 0, fx.pkt1[1], NM_HS_PKT_LEN);
	rec(&s, 1, k1, 1);
	fuzz_seed(s.b, s.n);

	/* A live session, then a new msg1 (a candidate) and a tampered one. */
	s.b[0] = 1;
	s.n = 1;
	rec(&s, 1, k2, 1);
	rec(&s, 1, flip, sizeof(flip));
	rec(&s, 3, fx.pkt1[0], NM_HS_PKT_LEN);
	fuzz_seed(s.b, s.n);

	/* A live session; a candidate confirmed by its heartbeat (live now); two more
	 * candidates, the second replacing the first; heartbeats under the live one, under
	 * the replaced one (gone: nothing sent), and under the last candidate. */
	const uint8_t k3[1] = { 3 };
	s.b[0] = 1;
	s.n = 1;
	rec(&s, 1, k1, 1);
	rec(&s, 4, k1, 1);
	rec(&s, 1, k2, 1);
	rec(&s, 1, k0, 1);
	rec(&s, 4, k1, 1);
	rec(&s, 4, k2, 1);
	rec(&s, 4, k0, 1);
	rec(&s, 4, k3, 1);
	fuzz_seed(s.b, s.n);

	/* We initiate with a live session: msg2 rotates it; a replayed msg2 after. */
	s.b[0] = 3;
	s.n = 1;
	rec(&s, 2, NULL, 0);
	rec(&s, 2, NULL, 0);
	fuzz_seed(s.b, s.n);

	/* We initiate and the peer does too (crossed), then our msg2. */
	s.b[0] = 2;
	s.n = 1;
	rec(&s, 1, k1, 1);
	rec(&s, 2, NULL, 0);
	fuzz_seed(s.b, s.n);

	/* Data behind our handshake (parked), then msg2; a short and a non-Net datagram. */
	s.b[0] = 2;
	s.n = 1;
	uint8_t data[NM_HS_PKT_LEN];
	memcpy(data, fx.pkt1[0], sizeof(data));
	data[NM_OFF_FLAGS] &= (uint8_t)~NM_FLAG_HANDSHAKE;
	rec(&s, 0, data, sizeof(data));
	rec(&s, 2, NULL, 0);
	rec(&s, 0, data, 10);
	rec(&s, 0, (const uint8_t *)"not a Net packet", 16);
	fuzz_seed(s.b, s.n);
}

/* SPDX-License-Identifier: MIT */
/* nm_sessmgr.c - handshakes, heartbeats, peer health (see header). */
#include "nm_sessmgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "nm_handshake.h"
#include "nm_le.h"
#include "nm_packet.h"
#include "nm_pkt.h"
#include "nm_time.h"
#include "nm_wire.h"

#define MS 1000000ULL
#define SEEN_MSG1 16 /* recent msg1 ephemerals remembered per peer */

struct sm_peer {
	uint16_t dp_peer;
	uint64_t node_id;
	uint8_t static_pub[NM_NOISE_KEY_LEN];
	bool has_static;
	bool connect;
	/* Live session. */
	uint64_t session_id;
	uint64_t established_ns;
	uint64_t rtt_ns;
	uint64_t next_heartbeat_ns;
	bool ever_connected;
	/* Handshake we initiated. */
	bool pending;
	struct nm_hs hs;
	uint32_t attempt;
	uint64_t started_ns;   /* first attempt of this round */
	uint64_t attempt_ns;   /* current attempt's msg1 */
	uint64_t attempt_mono; /* the same, precise, for the round-trip time */
	uint64_t next_try_ns;  /* next attempt, or next round when !pending */
	/* msg1s we answered: a repeat is a replay. */
	uint8_t seen[SEEN_MSG1][NM_NOISE_KEY_LEN];
	unsigned seen_next;
	/* Responder: a newer session, installed but not yet confirmed by a packet under it. */
	uint64_t cand_id;
	uint64_t cand_ns;
	/* Data packets that reached us before the msg2 of our pending handshake. */
	struct rte_mbuf *early[NM_PEER_EARLY_MAX];
	unsigned n_early;
	uint64_t msg_seq; /* NetHeader sequence of subprotocol messages we send */
};

struct nm_sessmgr {
	struct nm_sessmgr_config cfg;
	uint8_t psk[NM_NOISE_KEY_LEN];
	struct nm_pkt_endpoint self;
	struct sm_peer peers[NM_PEER_MAX];
	unsigned n_peers;
	uint16_t ip_id;
	struct nm_sessmgr_stats stats;
};

static void defaults(struct nm_sessmgr_config *c)
{
	if (c->heartbeat_ms == 0)
		c->heartbeat_ms = 5000;
	if (c->session_timeout_ms == 0)
		c->session_timeout_ms = 30000;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = 5000;
	if (c->retries == 0)
		c->retries = 3;
	if (c->backoff_ms == 0)
		c->backoff_ms = 100;
	if (c->attempt_wait_ms == 0)
		c->attempt_wait_ms = 1000;
}

int nm_sessmgr_create(const struct nm_sessmgr_config *cfg, struct nm_sessmgr **out,
		      struct nm_error *err)
{
	if (cfg == NULL || cfg->dp == NULL || cfg->keys == NULL || cfg->psk == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "sessions: dataplane, keys and PSK are required");
	struct nm_sessmgr *sm = rte_zmalloc("nm_sessmgr", sizeof(*sm), 0);
	if (sm == NULL)
		return nm_error_set(err, -ENOMEM, "sessions: out of memory");
	sm->cfg = *cfg;
	defaults(&sm->cfg);
	memcpy(sm->psk, cfg->psk, sizeof(sm->psk));
	sm->self = (struct nm_pkt_endpoint){ cfg->dp->port.mac, cfg->dp->ip, cfg->dp->udp_port };
	nm_dataplane_set_slowpath(cfg->dp, nm_sessmgr_on_packet, sm);
	*out = sm;
	return 0;
}

static void del_session(struct nm_sessmgr *sm, uint64_t *sid)
{
	if (*sid != 0)
		nm_dataplane_session_del(sm->cfg.dp, *sid, NULL);
	*sid = 0;
}

static void drop_session(struct nm_sessmgr *sm, struct sm_peer *p)
{
	del_session(sm, &p->session_id);
}

/* A slow-path packet the control thread refuses: counted with the dataplane's drops. */
static void ctl_drop(struct nm_sessmgr *sm, struct rte_mbuf *m, enum nm_drop why)
{
	sm->cfg.dp->ctl_stats.drops[why]++;
	rte_pktmbuf_free(m);
}

/* Early data could not be delivered: counted, never silent. */
static void early_drop(struct nm_sessmgr *sm, struct rte_mbuf *m, enum nm_drop why)
{
	sm->stats.early_data_dropped++;
	ctl_drop(sm, m, why);
}

/* Hand an early data packet to the worker that owns (or will own) its session's RX. */
static void reinject(struct nm_sessmgr *sm, struct nm_session *s, struct rte_mbuf *m)
{
	uint32_t owner = nm_session_rx_owner(s, m->hash.usr);
	struct nm_worker *w = owner < RTE_MAX_LCORE ? sm->cfg.dp->by_lcore[owner] : NULL;
	if (w == NULL || rte_ring_mp_enqueue(w->pkt_in, m) != 0) {
		early_drop(sm, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	sm->stats.early_data_delivered++;
}

/* The parked early packets: delivered if their session exists now, else dropped. */
static void flush_early(struct nm_sessmgr *sm, struct sm_peer *p)
{
	for (unsigned i = 0; i < p->n_early; i++) {
		struct rte_mbuf *m = p->early[i];
		const uint8_t *d = rte_pktmbuf_mtod_offset(m, const uint8_t *, NM_PKT_DATA_OFF);
		struct nm_session *s = nm_dataplane_session_get(sm->cfg.dp,
								nm_get_le64(d + NM_OFF_SESSION_ID));
		if (s != NULL && s->peer == p->dp_peer)
			reinject(sm, s, m);
		else
			early_drop(sm, m, NM_DROP_SESSION_UNKNOWN);
	}
	p->n_early = 0;
}

/* Our handshake with p is over (done or given up): no more early data for it. */
static void end_pending(struct nm_sessmgr *sm, struct sm_peer *p)
{
	p->pending = false;
	nm_hs_wipe(&p->hs);
	nm_peer_early_close(&sm->cfg.dp->peers, p->dp_peer);
	flush_early(sm, p);
}

void nm_sessmgr_destroy(struct nm_sessmgr *sm)
{
	if (sm == NULL)
		return;
	nm_dataplane_set_slowpath(sm->cfg.dp, NULL, NULL);
	for (unsigned i = 0; i < sm->n_peers; i++) {
		end_pending(sm, &sm->peers[i]);
		drop_session(sm, &sm->peers[i]);
		del_session(sm, &sm->peers[i].cand_id);
	}
	sodium_memzero(sm->psk, sizeof(sm->psk));
	rte_free(sm);
}

int nm_sessmgr_add_peer(struct nm_sessmgr *sm, const struct nm_sm_peer_config *pc,
			struct nm_error *err)
{
	if (pc == NULL || pc->node_id == 0)
		return nm_error_set(err, -EINVAL, "peer: node_id is required (it is in the prologue)");
	if (pc->connect && pc->static_pub == NULL)
		return nm_error_set(err, -EINVAL, "peer: connecting needs its static public key");
	if (sm->n_peers == NM_PEER_MAX)
		return nm_error_set(err, -ENOSPC, "peer: table full");
	int idx = nm_dataplane_peer_add(sm->cfg.dp, pc->ip, pc->port, pc->mac, err);
	if (idx < 0)
		return idx;
	struct sm_peer *p = &sm->peers[sm->n_peers];
	memset(p, 0, sizeof(*p));
	p->dp_peer = (uint16_t)idx;
	p->node_id = pc->node_id;
	p->connect = pc->connect;
	if (pc->static_pub != NULL) {
		memcpy(p->static_pub, pc->static_pub, NM_NOISE_KEY_LEN);
		p->has_static = true;
	}
	return (int)sm->n_peers++;
}

/* ---- sending ---- */

/* Ask who has the peer's address; the worker learns the MAC from the reply. */
static void send_arp_request(struct nm_sessmgr *sm, uint32_t ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sm->cfg.dp->port.pool);
	size_t len;
	if (m == NULL || nm_pkt_arp_request(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m),
					    &sm->self, ip, &len) < 0) {
		rte_pktmbuf_free(m);
		sm->stats.tx_failures++;
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (nm_dataplane_send(sm->cfg.dp, m) == 0)
		sm->stats.arp_requests++;
}

/* Frame a datagram for `dst` and queue it on the control TX ring. */
static int send_dgram_to(struct nm_sessmgr *sm, const struct nm_pkt_endpoint *dst,
			 const uint8_t *dgram, size_t len)
{
	struct rte_mbuf *m = NULL;
	if ((m = rte_pktmbuf_alloc(sm->cfg.dp->port.pool)) == NULL) {
		sm->stats.tx_failures++;
		return -ENOBUFS;
	}
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	size_t cap = rte_pktmbuf_tailroom(m);
	if (NM_PKT_DATA_OFF + len > cap) {
		rte_pktmbuf_free(m);
		sm->stats.tx_failures++;
		return -EMSGSIZE;
	}
	memcpy(frame + NM_PKT_DATA_OFF, dgram, len);
	nm_pkt_build_udp(frame, cap, &sm->self, dst, sm->ip_id++, len, 0);
	m->data_len = (uint16_t)(NM_PKT_DATA_OFF + len);
	m->pkt_len = m->data_len;
	int rc = nm_dataplane_send(sm->cfg.dp, m);
	if (rc < 0)
		sm->stats.tx_failures++;
	return rc;
}

/* To the peer's reply address (its configured port until one is learned). */
static int send_dgram(struct nm_sessmgr *sm, struct sm_peer *p, const uint8_t *dgram, size_t len)
{
	const struct nm_peer *pe = &sm->cfg.dp->peers.peers[p->dp_peer];
	struct nm_pkt_endpoint dst;
	if (!nm_peer_endpoint(pe, &dst)) {
		/* Unresolved: ask now; the retry after the answer goes out. */
		send_arp_request(sm, pe->ip);
		sm->stats.tx_failures++;
		return -EHOSTUNREACH;
	}
	if (NM_PKT_IP_LEN + NM_PKT_UDP_LEN + len > sm->cfg.dp->port.mtu) {
		/* Above the MTU (a migration chunk or BufferedEvents): IPv4 fragments. */
		int rc = nm_dataplane_send_udp(sm->cfg.dp, p->dp_peer, dgram, len);
		if (rc < 0)
			sm->stats.tx_failures++;
		return rc;
	}
	return send_dgram_to(sm, &dst, dgram, len);
}

/* A handshake message to `dst`, or (NULL) to the peer's reply address. */
static int send_noise(struct nm_sessmgr *sm, struct sm_peer *p, const struct nm_pkt_endpoint *dst,
		      const uint8_t *msg, size_t len)
{
	uint8_t pkt[NM_HS_PKT_LEN];
	size_t plen;
	int rc = nm_hs_pkt_encode(msg, len, pkt, sizeof(pkt), &plen);
	if (rc < 0)
		return rc;
	return dst != NULL ? send_dgram_to(sm, dst, pkt, plen) : send_dgram(sm, p, pkt, plen);
}

static void send_heartbeat(struct nm_sessmgr *sm, struct sm_peer *p)
{
	struct nm_session *s = nm_dataplane_session_get(sm->cfg.dp, p->session_id);
	if (s == NULL)
		return;
	uint8_t dgram[NM_HEARTBEAT_LEN];
	/* origin_hash 0: it is set on published events only (wire.md 8.3). */
	if (nm_packet_heartbeat(dgram, &s->tx, s->session_id, 0, nm_session_next_tx(s)) == 0 &&
	    send_dgram(sm, p, dgram, sizeof(dgram)) == 0)
		sm->stats.heartbeats_sent++;
}

/* ---- sessions ---- */

/* Install a session from handshake keys (wiped); its id, or 0 when it could not be. */
static uint64_t add_session(struct nm_sessmgr *sm, struct sm_peer *p, struct nm_session_keys *k)
{
	const uint64_t sid = k->session_id;
	struct nm_session_params sp = { .session_id = sid, .peer = p->dp_peer };
	memcpy(sp.tx_key, k->tx, sizeof(sp.tx_key));
	memcpy(sp.rx_key, k->rx, sizeof(sp.rx_key));
	int rc = nm_dataplane_session_add(sm->cfg.dp, &sp, NULL);
	sodium_memzero(&sp, sizeof(sp));
	nm_session_keys_wipe(k);
	if (rc < 0)
		return 0;
	sm->stats.handshakes_completed++;
	return sid;
}

/*
 * sid becomes the peer's session; the previous one is removed (rotation: its
 * keys stop working now). `beat_now`: an initiator confirms the new keys to
 * the responder at once with a heartbeat.
 */
static void make_current(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t sid, uint64_t now,
			 bool beat_now)
{
	if (p->session_id != 0 && p->session_id != sid) {
		drop_session(sm, p);
		sm->stats.sessions_rotated++;
	}
	if (p->cand_id == sid)
		p->cand_id = 0;
	p->session_id = sid;
	p->established_ns = now;
	p->next_heartbeat_ns = beat_now ? now : now + sm->cfg.heartbeat_ms * MS;
	p->ever_connected = true;
}

/* Responder with a live session: the new one waits for a packet under it (see header). */
static void make_candidate(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t sid, uint64_t now)
{
	if (p->cand_id != 0 && p->cand_id != sid) {
		del_session(sm, &p->cand_id);
		sm->stats.candidates_replaced++;
	}
	p->cand_id = sid;
	p->cand_ns = now;
}

/* ---- initiator ---- */

static int start_attempt(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t now)
{
	struct nm_hs_config hc = {
		.initiator = true, .local_node_id = sm->cfg.keys->identity.node_id,
		.peer_node_id = p->node_id, .psk = sm->psk, .peer_static_pk = p->static_pub,
		.use_split = sm->cfg.use_split, .fixed_ephemeral_sk = sm->cfg.fixed_ephemeral_sk,
	};
	uint8_t msg[NM_HS_MSG_LEN];
	size_t len;
	nm_hs_wipe(&p->hs);
	int rc = nm_hs_init(&p->hs, &hc);
	if (rc == 0)
		rc = nm_hs_write(&p->hs, NULL, 0, msg, sizeof(msg), &len);
	if (rc == 0) {
		send_noise(sm, p, NULL, msg, len); /* a lost msg1 is what retries are for */
		sm->stats.handshakes_started++;
	}
	nm_peer_early_open(&sm->cfg.dp->peers, p->dp_peer);
	p->attempt++;
	p->attempt_ns = now;
	p->attempt_mono = nm_mono_ns();
	p->next_try_ns = now + (sm->cfg.attempt_wait_ms + sm->cfg.backoff_ms * p->attempt) * MS;
	return rc;
}

int nm_sessmgr_connect(struct nm_sessmgr *sm, int peer, struct nm_error *err)
{
	if (peer < 0 || (unsigned)peer >= sm->n_peers)
		return nm_error_set(err, -EINVAL, "connect: no peer %d", peer);
	struct sm_peer *p = &sm->peers[peer];
	if (!p->has_static)
		return nm_error_set(err, -EINVAL, "connect: peer %d has no static public key", peer);
	uint64_t now = nm_mono_ns();
	p->pending = true;
	p->attempt = 0;
	p->started_ns = now;
	return start_attempt(sm, p, now);
}

/* msg2 for our pending handshake? Tried on a copy: a failure must not kill it. */
static bool try_msg2(struct nm_sessmgr *sm, struct sm_peer *p, const uint8_t *msg, size_t len,
		     const struct nm_pkt_endpoint *src, uint64_t now)
{
	struct nm_hs hs = p->hs;
	struct nm_session_keys k;
	bool ok = nm_hs_read(&hs, msg, len, NULL, 0, NULL) == 0 && nm_hs_finish(&hs, &k) == 0;
	nm_hs_wipe(&hs);
	if (!ok)
		return false;
	p->rtt_ns = nm_mono_ns() - p->attempt_mono;
	/* msg2 authenticates the responder: its source is the peer's address now. */
	nm_peer_set_reply(&sm->cfg.dp->peers.peers[p->dp_peer], src);
	uint64_t sid = add_session(sm, p, &k);
	if (sid != 0)
		make_current(sm, p, sid, now, true);
	/* Only now, with the session on every worker, may early data stop queueing. */
	end_pending(sm, p);
	return true;
}

/* ---- responder ---- */

static bool seen_msg1(struct sm_peer *p, const uint8_t *eph)
{
	for (unsigned i = 0; i < SEEN_MSG1; i++)
		if (sodium_memcmp(p->seen[i], eph, NM_NOISE_KEY_LEN) == 0)
			return true;
	return false;
}

static void respond(struct nm_sessmgr *sm, struct sm_peer *p, const uint8_t *msg, size_t len,
		    const struct nm_pkt_endpoint *src, uint64_t now)
{
	if (len >= NM_NOISE_KEY_LEN && seen_msg1(p, msg)) {
		sm->stats.msg1_replays++;
		return;
	}
	struct nm_hs_config hc = {
		.initiator = false, .local_node_id = sm->cfg.keys->identity.node_id,
		.peer_node_id = p->node_id, .psk = sm->psk, .static_sk = sm->cfg.keys->noise_sk,
		.use_split = sm->cfg.use_split, .fixed_ephemeral_sk = sm->cfg.fixed_ephemeral_sk,
	};
	struct nm_hs hs;
	struct nm_session_keys k;
	uint8_t reply[NM_HS_MSG_LEN];
	size_t rlen;
	if (nm_hs_init(&hs, &hc) < 0 || nm_hs_read(&hs, msg, len, NULL, 0, NULL) < 0) {
		sm->stats.handshake_failures++; /* wrong PSK or prologue, or tampered */
		nm_hs_wipe(&hs);
		return;
	}
	memcpy(p->seen[p->seen_next++ % SEEN_MSG1], msg, NM_NOISE_KEY_LEN);
	if (p->pending) {
		/*
		 * Crossed handshakes: each side would keep the session it initiated
		 * and delete the one it answered, and they would never agree. The
		 * handshake the smaller node_id started wins: that side ignores this
		 * msg1, the other answers it and gives its own round up.
		 */
		sm->stats.handshakes_crossed++;
		if (sm->cfg.keys->identity.node_id < p->node_id) {
			nm_hs_wipe(&hs);
			return;
		}
		end_pending(sm, p);
	}
	if (nm_hs_write(&hs, NULL, 0, reply, sizeof(reply), &rlen) < 0 || nm_hs_finish(&hs, &k) < 0) {
		sm->stats.handshake_failures++;
		nm_hs_wipe(&hs);
		return;
	}
	/* Install before answering: the initiator may send data right after msg2. */
	uint64_t sid = add_session(sm, p, &k);
	if (sid == 0)
		return;
	if (p->session_id == 0) {
		nm_peer_set_reply(&sm->cfg.dp->peers.peers[p->dp_peer], src);
		make_current(sm, p, sid, now, false);
	} else {
		/* msg1 proves only the PSK: a replayed or forged one must not end a live session. */
		make_candidate(sm, p, sid, now);
	}
	send_noise(sm, p, src, reply, rlen); /* msg2 answers where msg1 came from */
}

static struct sm_peer *peer_by_ip(struct nm_sessmgr *sm, uint32_t ip)
{
	uint16_t dp_peer = nm_peer_find(&sm->cfg.dp->peers, ip);
	for (unsigned i = 0; dp_peer != NM_PEER_NONE && i < sm->n_peers; i++)
		if (sm->peers[i].dp_peer == dp_peer)
			return &sm->peers[i];
	return NULL;
}

/*
 * A data packet a worker queued behind a msg2 (nm_peer_early_take): deliver
 * it if its session exists now, keep it while our handshake with its sender
 * is still in flight, drop it (counted) otherwise.
 */
static void on_early(struct nm_sessmgr *sm, struct rte_mbuf *m, const struct nm_pkt_info *pi,
		     uint64_t sid)
{
	struct sm_peer *p = peer_by_ip(sm, pi->src.ip);
	struct nm_session *s = nm_dataplane_session_get(sm->cfg.dp, sid);
	if (p != NULL && s != NULL && s->peer == p->dp_peer)
		reinject(sm, s, m);
	else if (p != NULL && p->pending && p->n_early < NM_PEER_EARLY_MAX)
		p->early[p->n_early++] = m; /* arrived before its msg2 */
	else
		early_drop(sm, m, NM_DROP_SESSION_UNKNOWN);
}

void nm_sessmgr_on_packet(void *ctx, struct rte_mbuf *m)
{
	struct nm_sessmgr *sm = ctx;
	struct nm_pkt_info pi;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *), *msg, *d;
	size_t len;
	/* The worker checked the frame and its NetHeader already; find the datagram and its sender. */
	if (nm_pkt_parse(frame, m->data_len, &sm->self,
			 NM_PKT_RX_IP_CKSUM_GOOD | NM_PKT_RX_L4_CKSUM_GOOD, &pi, NULL) < 0 ||
	    pi.data_len < NM_NET_HDR_SIZE) {
		sm->stats.malformed++;
		rte_pktmbuf_free(m);
		return;
	}
	d = frame + pi.data_off;
	if (!(d[NM_OFF_FLAGS] & NM_FLAG_HANDSHAKE)) {
		on_early(sm, m, &pi, nm_get_le64(d + NM_OFF_SESSION_ID));
		return;
	}
	if (nm_hs_pkt_decode(frame + pi.data_off, pi.data_len, &msg, &len, NULL) < 0) {
		sm->stats.malformed++;
		rte_pktmbuf_free(m);
		return;
	}
	struct sm_peer *p = peer_by_ip(sm, pi.src.ip);
	if (p == NULL) {
		sm->stats.unknown_peer++;
		rte_pktmbuf_free(m);
		return;
	}
	uint64_t now = nm_mono_ns();
	/* msg1 and msg2 look alike: our pending handshake decides, then the responder. */
	if (!(p->pending && try_msg2(sm, p, msg, len, &pi.src, now)))
		respond(sm, p, msg, len, &pi.src, now);
	rte_pktmbuf_free(m);
}

/* ---- timers (CLOCK_MONOTONIC: a wall-clock step must not end or prolong a session) ---- */

/*
 * How long ago `then` was at `now`. A worker stamps last_rx_ns with its own
 * reading, which may be later than the `now` this thread read before it:
 * that is "just now", not an underflow into the far past.
 */
static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static uint64_t last_heard(struct nm_sessmgr *sm, const struct sm_peer *p)
{
	struct nm_session *s = nm_dataplane_session_get(sm->cfg.dp, p->session_id);
	uint64_t rx = s != NULL ? atomic_load_explicit(&s->last_rx_ns, memory_order_relaxed) : 0;
	return rx > p->established_ns ? rx : p->established_ns;
}

static void poll_handshake(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t now)
{
	if (now >= p->started_ns + sm->cfg.handshake_timeout_ms * MS ||
	    (now >= p->next_try_ns && p->attempt > sm->cfg.retries)) {
		sm->stats.handshake_timeouts++;
		end_pending(sm, p);
		p->next_try_ns = now + sm->cfg.heartbeat_ms * MS; /* next round, if connecting */
		return;
	}
	if (now >= p->next_try_ns)
		start_attempt(sm, p, now);
}

static void poll_session(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t now)
{
	if (since(now, last_heard(sm, p)) > sm->cfg.session_timeout_ms * MS) {
		drop_session(sm, p);
		sm->stats.sessions_expired++;
		p->next_try_ns = now;
		return;
	}
	if (now >= p->next_heartbeat_ns) {
		send_heartbeat(sm, p);
		p->next_heartbeat_ns = now + sm->cfg.heartbeat_ms * MS;
	}
}

/*
 * A candidate becomes the session once a packet under it authenticated (the
 * initiator has its keys), or at once when there is no live session left.
 * Unconfirmed, it is dropped after the session timeout, like a silent session.
 */
static void poll_candidate(struct nm_sessmgr *sm, struct sm_peer *p, uint64_t now)
{
	struct nm_session *c = nm_dataplane_session_get(sm->cfg.dp, p->cand_id);
	if (c == NULL) {
		p->cand_id = 0;
	} else if (atomic_load_explicit(&c->last_rx_ns, memory_order_relaxed) != 0 ||
		   p->session_id == 0) {
		make_current(sm, p, p->cand_id, now, false);
	} else if (since(now, p->cand_ns) > sm->cfg.session_timeout_ms * MS) {
		del_session(sm, &p->cand_id);
		sm->stats.candidate_timeouts++;
	}
}

void nm_sessmgr_poll(struct nm_sessmgr *sm)
{
	uint64_t now = nm_mono_ns();
	for (unsigned i = 0; i < sm->n_peers; i++) {
		struct sm_peer *p = &sm->peers[i];
		if (p->cand_id != 0)
			poll_candidate(sm, p, now);
		if (p->pending)
			poll_handshake(sm, p, now);
		if (p->session_id != 0)
			poll_session(sm, p, now);
		else if (p->connect && !p->pending && now >= p->next_try_ns)
			nm_sessmgr_connect(sm, (int)i, NULL);
	}
}

/* ---- status ---- */

int nm_sessmgr_peer_status(const struct nm_sessmgr *csm, int peer, struct nm_peer_status *st)
{
	struct nm_sessmgr *sm = (struct nm_sessmgr *)csm;
	if (peer < 0 || (unsigned)peer >= sm->n_peers || st == NULL)
		return -EINVAL;
	const struct sm_peer *p = &sm->peers[peer];
	memset(st, 0, sizeof(*st));
	st->node_id = p->node_id;
	st->session_id = p->session_id;
	st->rtt_ns = p->rtt_ns;
	st->handshaking = p->pending;
	if (p->session_id == 0) {
		st->health = p->ever_connected ? NM_PEER_UNREACHABLE : NM_PEER_UNKNOWN;
		return 0;
	}
	st->last_rx_ns = last_heard(sm, p);
	/* Half an interval of grace for jitter; three silent intervals is unreachable. */
	const uint64_t hb = sm->cfg.heartbeat_ms * MS, quiet = since(nm_mono_ns(), st->last_rx_ns);
	st->health = quiet <= hb + hb / 2 ? NM_PEER_HEALTHY
		     : quiet <= 3 * hb	  ? NM_PEER_DEGRADED
					  : NM_PEER_UNREACHABLE;
	return 0;
}

const struct nm_sessmgr_stats *nm_sessmgr_stats(const struct nm_sessmgr *sm)
{
	return &sm->stats;
}

#define STAT(f) { #f, offsetof(struct nm_sessmgr_stats, f) }
static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
	STAT(handshakes_started), STAT(handshakes_completed), STAT(handshake_failures),
	STAT(handshake_timeouts), STAT(msg1_replays),	      STAT(unknown_peer),
	STAT(malformed),	  STAT(heartbeats_sent),      STAT(sessions_expired),
	STAT(sessions_rotated),	  STAT(candidates_replaced),  STAT(candidate_timeouts),
	STAT(early_data_delivered), STAT(early_data_dropped), STAT(tx_failures),
	STAT(arp_requests),	  STAT(handshakes_crossed),
};

void nm_sessmgr_stats_print(FILE *f, const struct nm_sessmgr *sm)
{
	if (sm == NULL)
		return;
	fputs("sessions:", f);
	for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++)
		fprintf(f, " %s=%" PRIu64, stat_fields[i].name,
			*(const uint64_t *)((const uint8_t *)&sm->stats + stat_fields[i].off));
	fputc('\n', f);
}

int nm_sessmgr_peer_addr(const struct nm_sessmgr *sm, int peer, uint32_t *ip, uint16_t *port)
{
	if (peer < 0 || (unsigned)peer >= sm->n_peers || ip == NULL || port == NULL)
		return -EINVAL;
	const struct nm_peer *p = &sm->cfg.dp->peers.peers[sm->peers[peer].dp_peer];
	struct nm_pkt_endpoint e;
	*ip = p->ip;
	*port = nm_peer_endpoint(p, &e) ? e.port : p->port; /* where it is heard from now */
	return 0;
}

unsigned nm_sessmgr_peer_count(const struct nm_sessmgr *sm)
{
	return sm->n_peers;
}

const char *nm_peer_health_name(enum nm_peer_health h)
{
	static const char *const names[] = { "unknown", "healthy", "degraded", "unreachable" };
	return (unsigned)h < 4 ? names[h] : "?";
}

/* ---- subprotocol messages (migration) ---- */

static const struct sm_peer *by_node(const struct nm_sessmgr *sm, uint64_t node_id)
{
	for (unsigned i = 0; node_id != 0 && i < sm->n_peers; i++)
		if (sm->peers[i].node_id == node_id)
			return &sm->peers[i];
	return NULL;
}

uint64_t nm_sessmgr_node_of(const struct nm_sessmgr *sm, uint16_t dp_peer)
{
	for (unsigned i = 0; i < sm->n_peers; i++)
		if (sm->peers[i].dp_peer == dp_peer)
			return sm->peers[i].node_id;
	return 0;
}

uint64_t nm_sessmgr_session_of(const struct nm_sessmgr *sm, uint64_t node_id)
{
	const struct sm_peer *p = by_node(sm, node_id);
	return p != NULL ? p->session_id : 0;
}

bool nm_sessmgr_peer_static(const struct nm_sessmgr *sm, uint64_t node_id,
			    uint8_t out[NM_NOISE_KEY_LEN])
{
	const struct sm_peer *p = by_node(sm, node_id);
	if (p == NULL || !p->has_static)
		return false;
	memcpy(out, p->static_pub, NM_NOISE_KEY_LEN);
	return true;
}

int nm_sessmgr_send_message(struct nm_sessmgr *sm, uint64_t node_id, uint16_t subprotocol,
			    uint64_t stream_id, const uint8_t *body, size_t len)
{
	struct sm_peer *p = (struct sm_peer *)by_node(sm, node_id);
	if (p == NULL)
		return -ENOENT;
	struct nm_session *s = nm_dataplane_session_get(sm->cfg.dp, p->session_id);
	if (s == NULL)
		return -ENOTCONN;
	uint8_t dgram[NM_NET_MAX_PACKET];
	int n = nm_packet_message(dgram, sizeof(dgram), &s->tx, nm_session_next_tx(s), s->session_id,
				  subprotocol, stream_id, ++p->msg_seq,
				  sm->cfg.keys->identity.origin_hash, body, len);
	if (n < 0)
		return n;
	return send_dgram(sm, p, dgram, (size_t)n);
}

/* ---- the operator's peer changes ---- */

int nm_sessmgr_del_peer(struct nm_sessmgr *sm, uint32_t ip, struct nm_error *err)
{
	struct sm_peer *p = peer_by_ip(sm, ip);
	if (p == NULL)
		return nm_error_set(err, -ENOENT, "no peer %u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
				    (ip >> 8) & 0xff, ip & 0xff);
	end_pending(sm, p); /* as nm_sessmgr_destroy: early data flushed, handshake wiped */
	drop_session(sm, p);
	del_session(sm, &p->cand_id);
	size_t i = (size_t)(p - sm->peers);
	memmove(p, p + 1, (sm->n_peers - i - 1) * sizeof(*p));
	sm->n_peers--;
	sodium_memzero(&sm->peers[sm->n_peers], sizeof(*p)); /* the last slot's copy of a handshake */
	return 0;
}

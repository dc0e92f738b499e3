/* SPDX-License-Identifier: MIT */
/* gen_core.c - netmesh-gen's node logic on flat frames (see header). */
#include "gen_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "nm_le.h"
#include "nm_migwire.h"
#include "nm_packet.h"

#define NS_PER_MS 1000000ULL
#define WINDOW_MASK (GEN_WINDOW - 1u)

static enum gen_rx_result drop(struct gen *g, enum nm_drop why)
{
	g->st.drops[why < NM_DROP__COUNT ? why : NM_DROP_NONE]++;
	return GEN_RX_CONSUMED;
}

/* ------------------------------------------------------------------ setup */

static int check_peers(const struct gen_config *c, struct nm_error *err)
{
	if (c->n_peers == 0 || c->n_peers > GEN_MAX_PEERS)
		return nm_error_set(err, -EINVAL, "give 1..%d appliances", GEN_MAX_PEERS);
	for (unsigned i = 0; i < c->n_peers; i++) {
		const struct gen_peer_config *p = &c->peers[i];
		if (p->ep.ip == 0 || p->ep.port == 0)
			return nm_error_set(err, -EINVAL, "appliance %u: address and UDP port are required", i);
		for (unsigned j = 0; j < i; j++) {
			if (c->peers[j].node_id == p->node_id)
				return nm_error_set(err, -EINVAL, "appliance %u: node_id %016" PRIx64
						    " given twice", i, p->node_id);
			if (c->peers[j].ep.ip == p->ep.ip && c->peers[j].ep.port == p->ep.port)
				return nm_error_set(err, -EINVAL, "appliance %u: address given twice", i);
		}
	}
	return 0;
}

static int check_config(const struct gen_config *c, struct nm_error *err)
{
	if (c->self.ip == 0 || c->self.port == 0)
		return nm_error_set(err, -EINVAL, "our address and UDP port are required");
	int rc = check_peers(c, err);
	if (rc < 0)
		return rc;
	if (c->n_daemons == 0 || c->n_daemons > GEN_MAX_DAEMONS)
		return nm_error_set(err, -EINVAL, "give 1..%d destination daemons", GEN_MAX_DAEMONS);
	for (unsigned i = 0; i < c->n_daemons; i++)
		for (unsigned j = 0; j < i; j++)
			if (c->daemons[i] == c->daemons[j])
				return nm_error_set(err, -EINVAL, "daemon %016" PRIx64 " given twice",
						    c->daemons[i]);
	if (c->events_per_packet == 0)
		return nm_error_set(err, -EINVAL, "events per packet must be at least 1");
	if (c->event_size > GEN_EVENT_MAX)
		return nm_error_set(err, -EMSGSIZE, "event size %u: at most %u bytes", c->event_size,
				    GEN_EVENT_MAX);
	return 0;
}

/* Recognisable in a dump: LE64 event number, then "netmesh-gen " repeated. */
static void fill_tail(uint8_t *t, size_t len)
{
	static const char pat[] = "netmesh-gen ";
	for (size_t i = 0; i < len; i++)
		t[i] = (uint8_t)pat[i % (sizeof(pat) - 1)];
}

int gen_init(struct gen *g, const struct gen_config *cfg, struct nm_error *err)
{
	if (g == NULL || cfg == NULL)
		return nm_error_set(err, -EINVAL, "gen: config is required");
	int rc = check_config(cfg, err);
	if (rc < 0)
		return rc;
	/* A jumbo MTU still carries at most one full Net datagram. */
	size_t budget = nm_packet_budget(cfg->mtu);
	if (budget > NM_NET_MAX_PAYLOAD)
		budget = NM_NET_MAX_PAYLOAD;
	const size_t fit = budget / nm_causal_frame_size(cfg->event_size);
	if (fit == 0)
		return nm_error_set(err, -EMSGSIZE, "an event of %u bytes does not fit a packet at MTU %u",
				    cfg->event_size, cfg->mtu);
	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	g->per_packet = cfg->events_per_packet;
	if (g->per_packet > fit)
		g->per_packet = (uint32_t)fit;
	if (g->per_packet > GEN_MAX_EVENTS_PER_PACKET)
		g->per_packet = GEN_MAX_EVENTS_PER_PACKET;
	g->n_peers = cfg->n_peers;
	for (unsigned i = 0; i < cfg->n_peers; i++) {
		struct gen_peer *p = &g->peers[i];
		p->cfg = cfg->peers[i];
		p->state = p->cfg.mac_known ? GEN_HANDSHAKING : GEN_RESOLVING;
		nm_replay_init(&p->replay);
	}
	for (unsigned d = 0; d < cfg->n_daemons; d++)
		g->dest[d] = (struct gen_dest){ .origin = cfg->daemons[d], .any = cfg->daemon_any[d] };
	fill_tail(g->tail, cfg->event_size > 8 ? cfg->event_size - 8 : 0);
	nm_chain_init(&g->chain, cfg->origin_hash);
	return 0;
}

void gen_fini(struct gen *g)
{
	if (g == NULL)
		return;
	for (unsigned i = 0; i < GEN_MAX_PEERS; i++) {
		nm_hs_wipe(&g->peers[i].hs);
		nm_aead_wipe(&g->peers[i].tx);
		nm_aead_wipe(&g->peers[i].rx);
	}
	sodium_memzero(g->cfg.psk, sizeof(g->cfg.psk));
}

bool gen_all_established(const struct gen *g)
{
	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].state != GEN_ESTABLISHED)
			return false;
	return g->n_peers > 0;
}

/* ------------------------------------------------------------------ TX */

static struct gen_peer *peer_at(struct gen *g, unsigned p)
{
	return p < g->n_peers ? &g->peers[p] : NULL;
}

int gen_arp_request(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len)
{
	struct gen_peer *pe = peer_at(g, p);
	if (pe == NULL)
		return -EINVAL;
	int rc = nm_pkt_arp_request(frame, cap, &g->cfg.self, pe->cfg.ep.ip, len);
	if (rc == 0)
		g->st.arp_requests++;
	return rc;
}

int gen_hs_msg1(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len)
{
	struct gen_peer *pe = peer_at(g, p);
	if (pe == NULL)
		return -EINVAL;
	if (pe->state != GEN_HANDSHAKING)
		return -EPROTO;
	if (cap < NM_PKT_DATA_OFF + NM_HS_PKT_LEN)
		return -ENOSPC;
	const struct nm_hs_config hc = {
		.initiator = true,
		.local_node_id = g->cfg.node_id,
		.peer_node_id = pe->cfg.node_id,
		.psk = g->cfg.psk,
		.peer_static_pk = pe->cfg.static_pub,
		.use_split = g->cfg.use_split,
	};
	uint8_t msg[NM_HS_MSG_LEN];
	size_t mlen, dlen;
	/* Every attempt starts over with a fresh ephemeral: the responder refuses a replayed one. */
	nm_hs_wipe(&pe->hs);
	int rc = nm_hs_init(&pe->hs, &hc);
	if (rc == 0)
		rc = nm_hs_write(&pe->hs, NULL, 0, msg, sizeof(msg), &mlen);
	if (rc == 0)
		rc = nm_hs_pkt_encode(msg, mlen, frame + NM_PKT_DATA_OFF, cap - NM_PKT_DATA_OFF, &dlen);
	if (rc == 0)
		rc = nm_pkt_build_udp(frame, cap, &g->cfg.self, &pe->cfg.ep, g->ip_id++, dlen, 0);
	if (rc < 0)
		return rc;
	*len = NM_PKT_DATA_OFF + dlen;
	g->st.hs_attempts++;
	pe->hs_attempts++;
	return 0;
}

static void fill_event(const struct gen *g, uint8_t *p, uint32_t len, uint64_t no)
{
	if (len < 8) {
		memcpy(p, g->tail, len); /* too short for the number */
		return;
	}
	nm_put_le64(p, no);
	memcpy(p + 8, g->tail, len - 8);
}

unsigned gen_next_peer(const struct gen *g)
{
	return g->dest[g->next_daemon].peer;
}

/* Each event of the packet just built: its send time, peer, and "not answered yet". */
static void stamp_events(struct gen *g, uint8_t peer, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t no = g->event_no + i;
		const uint32_t slot = (uint32_t)(no & WINDOW_MASK);
		g->sent_ns[slot] = g->now_ns;
		g->sent_peer[slot] = peer;
		g->answered[slot / 64] &= ~(1ULL << (slot % 64));
	}
}

int gen_build_events(struct gen *g, uint8_t *frame, size_t cap, size_t *len)
{
	const unsigned d = g->next_daemon;
	struct gen_dest *t = &g->dest[d];
	struct gen_peer *pe = &g->peers[t->peer];
	if (pe->state != GEN_ESTABLISHED)
		return -EPROTO;
	const uint32_t size = g->cfg.event_size;
	for (uint32_t i = 0; i < g->per_packet; i++) {
		uint8_t *p = g->payload + (size_t)i * size;
		fill_event(g, p, size, g->event_no + i);
		g->evs[i] = (struct nm_event){ .payload = p, .len = size };
	}
	/* Links are computed on a copy: the chain moves only if the packet is built. */
	struct nm_chain next = g->chain;
	for (uint32_t i = 0; i < g->per_packet; i++)
		if (nm_chain_append(&next, g->evs[i].payload, size, 0, &g->evs[i].link) < 0)
			return -EOVERFLOW;
	const struct nm_packet_tx tx = {
		.src = &g->cfg.self,
		.dst = &pe->cfg.ep,
		.ip_id = g->ip_id,
		.key = &pe->tx,
		.counter = pe->tx_counter,
		.session_id = pe->session_id,
		.stream_id = t->origin,
		.sequence = t->seq,
		.origin_hash = g->cfg.origin_hash,
		.budget = nm_packet_budget(g->cfg.mtu),
	};
	uint32_t used;
	int rc = nm_packet_build(frame, cap, &tx, g->evs, g->per_packet, &used, len);
	if (rc < 0)
		return rc;
	if (used != g->per_packet)
		return -EMSGSIZE; /* cannot happen: per_packet was sized to the budget */
	stamp_events(g, t->peer, g->per_packet);
	g->chain = next;
	pe->tx_counter++;
	pe->tx_packets++;
	g->ip_id++;
	t->seq++;
	t->sent += g->per_packet;
	g->next_daemon = (d + 1) % g->cfg.n_daemons;
	g->event_no += g->per_packet;
	g->st.tx_packets++;
	g->st.tx_events += g->per_packet;
	g->st.tx_bytes += *len;
	return 0;
}

int gen_build_heartbeat(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len)
{
	struct gen_peer *pe = peer_at(g, p);
	if (pe == NULL)
		return -EINVAL;
	if (pe->state != GEN_ESTABLISHED)
		return -EPROTO;
	const size_t dlen = NM_HEARTBEAT_LEN;
	if (cap < NM_PKT_DATA_OFF + dlen)
		return -ENOSPC;
	int rc = nm_packet_heartbeat(frame + NM_PKT_DATA_OFF, &pe->tx, pe->session_id,
				     g->cfg.origin_hash, pe->tx_counter);
	if (rc == 0)
		rc = nm_pkt_build_udp(frame, cap, &g->cfg.self, &pe->cfg.ep, g->ip_id, dlen, 0);
	if (rc < 0)
		return rc;
	pe->tx_counter++;
	g->ip_id++;
	g->st.tx_heartbeats++;
	*len = NM_PKT_DATA_OFF + dlen;
	return 0;
}

/* ------------------------------------------------------------------ chains */

static struct gen_chain_check *chain_slot(struct gen *g, uint64_t origin)
{
	for (unsigned i = 0; i < g->n_checks; i++)
		if (g->checks[i].origin == origin)
			return &g->checks[i];
	if (g->n_checks == GEN_MAX_DAEMONS)
		return NULL;
	struct gen_chain_check *c = &g->checks[g->n_checks++];
	c->origin = origin;
	c->prev = nm_link_genesis(origin, 0); /* the host's chain starts here, empty payload */
	c->prev_len = 0;
	return c;
}

static void chain_error(struct gen *g, struct gen_chain_check *c, const struct nm_chain_error *e)
{
	char why[96];
	c->errors++;
	g->st.chain_errors++;
	nm_chain_error_format(e, why, sizeof(why));
	snprintf(g->last_chain_error, sizeof(g->last_chain_error), "daemon %016" PRIx64 ": %s",
		 c->origin, why);
}

/*
 * One output of daemon `stream`, against its one chain whichever peer sent
 * it. A forward sequence gap is loss (the events in between never reached
 * us, so the link across it cannot be judged): it is counted apart from real
 * breaks. After a gap or a parent mismatch the check resumes from the new
 * link, so one break is counted once. False: no room to track the daemon.
 */
static bool check_event(struct gen *g, uint64_t stream, const struct nm_event *ev)
{
	struct gen_chain_check *c = chain_slot(g, stream);
	if (c == NULL) {
		drop(g, NM_DROP_DAEMON_UNKNOWN);
		return false;
	}
	if (c->events++ == 0) {
		c->first_seq = ev->link.sequence;
		c->first_parent = ev->link.parent_hash;
	}
	if (c->resume_epoch != g->st.rehandshakes) { /* the first output since a re-handshake */
		c->resume_epoch = g->st.rehandshakes;
		c->resume_seq = ev->link.sequence;
		c->resume_parent = ev->link.parent_hash;
	}
	g->st.rx_events++;
	struct nm_chain_error e = { 0 };
	enum nm_chain_verdict v = nm_chain_validate(&c->prev, c->prev_payload, c->prev_len,
						    &ev->link, &e);
	bool adopt = true;
	if (v == NM_CHAIN_OK) {
		c->ok++;
		g->st.chain_ok++;
	} else if (v == NM_CHAIN_SEQUENCE_GAP && e.got > e.expected && e.expected != UINT64_MAX) {
		c->gaps++;
		c->lost += e.got - e.expected;
		g->st.chain_gaps++;
		g->st.gap_lost += e.got - e.expected;
	} else {
		chain_error(g, c, &e);
		adopt = v == NM_CHAIN_PARENT_MISMATCH;
	}
	if (adopt && ev->len <= sizeof(c->prev_payload)) {
		c->prev = ev->link;
		c->prev_len = ev->len;
		memcpy(c->prev_payload, ev->payload, ev->len);
	}
	return true;
}

/* ------------------------------------------------------------------ accounting */

static int dest_index(const struct gen *g, uint64_t origin)
{
	for (unsigned d = 0; d < g->cfg.n_daemons; d++)
		if (g->dest[d].origin == origin)
			return (int)d;
	return -1;
}

/* Round-robin, whole packets: the daemon event `no` went to. */
static unsigned daemon_of(const struct gen *g, uint64_t no)
{
	return (unsigned)((no / g->per_packet) % g->cfg.n_daemons);
}

/* The number of the k-th event (from 0) sent to daemon d. */
static uint64_t kth_event(const struct gen *g, unsigned d, uint64_t k)
{
	const uint64_t pkt = (k / g->per_packet) * g->cfg.n_daemons + d;
	return pkt * g->per_packet + k % g->per_packet;
}

/* An output that is byte for byte event *no, which we sent to daemon d. */
static bool echo_of(const struct gen *g, unsigned d, const struct nm_event *ev, uint64_t *no)
{
	const uint32_t size = g->cfg.event_size;
	if (size < 8 || ev->len != size)
		return false;
	*no = nm_get_le64(ev->payload);
	return *no < g->event_no && daemon_of(g, *no) == d &&
	       memcmp(ev->payload + 8, g->tail, size - 8) == 0;
}

static bool in_window(const struct gen *g, uint64_t no)
{
	return no + GEN_WINDOW >= g->event_no;
}

static unsigned hist_bucket(uint64_t v)
{
	if (v < (1u << GEN_HIST_SUB_BITS))
		return (unsigned)v;
	const unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= GEN_HIST_SUB_BITS */
	const unsigned sub = (unsigned)(v >> (e - GEN_HIST_SUB_BITS)) & ((1u << GEN_HIST_SUB_BITS) - 1);
	return ((e - GEN_HIST_SUB_BITS + 1) << GEN_HIST_SUB_BITS) | sub;
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
	if (i < (1u << GEN_HIST_SUB_BITS))
		return i;
	const unsigned e = (i >> GEN_HIST_SUB_BITS) + GEN_HIST_SUB_BITS - 1;
	const uint64_t sub = i & ((1u << GEN_HIST_SUB_BITS) - 1);
	const uint64_t width = 1ULL << (e - GEN_HIST_SUB_BITS);
	return (((1ULL << GEN_HIST_SUB_BITS) + sub) << (e - GEN_HIST_SUB_BITS)) + width / 2;
}

/* The slot of an event sent at `sent` takes its round trip (gen_series_start). */
static void series_sample(struct gen_series *s, uint64_t sent, uint64_t rtt)
{
	if (s->slot_ns == 0)
		return;
	const uint64_t i = sent >= s->start_ns ? (sent - s->start_ns) / s->slot_ns : GEN_SERIES_SLOTS;
	if (i >= GEN_SERIES_SLOTS) {
		s->outside++;
		return;
	}
	s->placed++;
	s->samples[i]++;
	if (rtt > s->max_ns[i])
		s->max_ns[i] = rtt;
	if (i >= s->used)
		s->used = (uint32_t)i + 1;
}

int gen_series_start(struct gen *g, uint64_t start_ns, uint64_t slot_ns)
{
	if (slot_ns == 0)
		return -EINVAL;
	memset(&g->series, 0, sizeof(g->series));
	g->series.start_ns = start_ns;
	g->series.slot_ns = slot_ns;
	return 0;
}

/* Event `no` (in the window) was answered by peer `from` now. */
static void rtt_sample(struct gen *g, struct gen_dest *t, unsigned from, uint64_t no)
{
	const uint32_t slot = (uint32_t)(no & WINDOW_MASK);
	if (no < g->rtt_from)
		return; /* sent before the measured window */
	const uint64_t sent = g->sent_ns[slot];
	const uint64_t rtt = g->now_ns > sent ? g->now_ns - sent : 0;
	g->rtt_hist[hist_bucket(rtt)]++;
	g->st.rtt_samples++;
	if (rtt > g->st.rtt_max_ns)
		g->st.rtt_max_ns = rtt;
	if (rtt > t->rtt_max_ns)
		t->rtt_max_ns = rtt;
	if (g->sent_peer[slot] != from) {
		g->st.rtt_fwd_samples++;
		if (rtt > g->st.rtt_fwd_max_ns)
			g->st.rtt_fwd_max_ns = rtt;
	}
	series_sample(&g->series, sent, rtt);
}

static void duplicate(struct gen *g, struct gen_dest *t)
{
	t->duplicates++;
	g->st.duplicate_events++;
}

/* An echo of event `no`: exactly once by its answered bit. */
static void account_echo(struct gen *g, struct gen_dest *t, unsigned from, uint64_t no)
{
	t->echoed++;
	if (!in_window(g, no)) {
		t->answered++; /* cannot be judged: counted once more as late */
		g->st.late_replies++;
		return;
	}
	const uint32_t slot = (uint32_t)(no & WINDOW_MASK);
	const uint64_t bit = 1ULL << (slot % 64);
	if (g->answered[slot / 64] & bit) {
		duplicate(g, t);
		return;
	}
	g->answered[slot / 64] |= bit;
	t->answered++;
	rtt_sample(g, t, from, no);
}

/* One output of a daemon we send to, from peer `from`. */
static void account(struct gen *g, unsigned from, uint64_t stream, const struct nm_event *ev)
{
	const int d = dest_index(g, stream);
	uint64_t no;
	if (d < 0)
		return; /* not ours: chain-checked only */
	struct gen_dest *t = &g->dest[d];
	t->outputs++;
	if (echo_of(g, (unsigned)d, ev, &no)) {
		account_echo(g, t, from, no);
		return;
	}
	if (t->any)
		return;
	/* One output per event, in order: this one answers the next unanswered event. */
	if (t->answered >= t->sent) {
		duplicate(g, t);
		return;
	}
	no = kth_event(g, (unsigned)d, t->answered++);
	if (in_window(g, no))
		rtt_sample(g, t, from, no);
	else
		g->st.late_replies++;
}

uint64_t gen_dest_unanswered(const struct gen_dest *t)
{
	return !t->any && t->sent > t->answered ? t->sent - t->answered : 0;
}

uint64_t gen_outstanding(const struct gen *g)
{
	uint64_t n = 0;
	for (unsigned d = 0; d < g->cfg.n_daemons; d++)
		n += gen_dest_unanswered(&g->dest[d]);
	return n;
}

bool gen_drain_done(const struct gen *g, uint64_t quiet_ns, uint64_t elapsed_ns, uint64_t max_ns,
		    uint64_t quiet_max_ns)
{
	return gen_outstanding(g) == 0 || quiet_ns >= quiet_max_ns || elapsed_ns >= max_ns;
}

#define PACE_NS_PER_S 1000000000ull

uint64_t gen_pace_due(uint64_t start_ns, uint64_t now_ns, uint64_t rate)
{
	if (now_ns <= start_ns)
		return 0;
	const uint64_t t = now_ns - start_ns;
	/* Whole seconds and the rest apart: no overflow below 18 G packets/s. */
	return t / PACE_NS_PER_S * rate + t % PACE_NS_PER_S * rate / PACE_NS_PER_S;
}

uint64_t gen_pace_next_ns(uint64_t start_ns, uint64_t rate, uint64_t done)
{
	if (rate == 0)
		return start_ns;
	/* The least t with floor(t * rate / 1 s) >= done + 1, i.e. ceil((done + 1) s / rate). */
	const uint64_t n = done + 1, q = n / rate, r = n % rate;
	return start_ns + q * PACE_NS_PER_S + (r * PACE_NS_PER_S + rate - 1) / rate;
}

uint32_t gen_pace_sleep_us(uint64_t now_ns, uint64_t next_ns, bool busy, uint64_t rate,
			   uint32_t max_us)
{
	if (max_us == 0 || rate == 0 || busy || next_ns < now_ns + GEN_PACE_MIN_AHEAD_NS)
		return 0;
	return max_us;
}

uint64_t gen_lost_events(const struct gen *g)
{
	uint64_t lost = 0;
	for (unsigned i = 0; i < g->n_checks; i++)
		if (dest_index(g, g->checks[i].origin) < 0)
			lost += g->checks[i].lost;
	for (unsigned d = 0; d < g->cfg.n_daemons; d++) {
		const struct gen_dest *t = &g->dest[d];
		uint64_t gap = 0;
		for (unsigned i = 0; i < g->n_checks; i++)
			if (g->checks[i].origin == t->origin)
				gap = g->checks[i].lost;
		const uint64_t un = gen_dest_unanswered(t);
		lost += un > gap ? un : gap;
	}
	return lost;
}

uint64_t gen_rtt_quantile(const struct gen *g, double q)
{
	const uint64_t n = g->st.rtt_samples;
	if (n == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n + 0.999999);
	if (want >= n)
		return g->st.rtt_max_ns; /* the top sample is known exactly */
	if (want == 0)
		want = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < GEN_HIST_BUCKETS; i++) {
		seen += g->rtt_hist[i];
		if (seen >= want) {
			const uint64_t v = hist_value(i);
			return v < g->st.rtt_max_ns ? v : g->st.rtt_max_ns;
		}
	}
	return g->st.rtt_max_ns;
}

void gen_rtt_window(struct gen *g)
{
	memset(g->rtt_hist, 0, sizeof(g->rtt_hist));
	g->st.rtt_samples = g->st.rtt_max_ns = 0;
	g->st.rtt_fwd_samples = g->st.rtt_fwd_max_ns = 0;
	for (unsigned d = 0; d < g->cfg.n_daemons; d++)
		g->dest[d].rtt_max_ns = 0;
	g->rtt_from = g->event_no;
}

/* ------------------------------------------------------------------ RX */

static void install_session(struct gen *g, struct gen_peer *p, struct nm_session_keys *k)
{
	p->session_id = k->session_id;
	nm_aead_init(&p->tx, k->tx, k->session_id);
	nm_aead_init(&p->rx, k->rx, k->session_id);
	p->tx_counter = 0;
	nm_replay_init(&p->replay);
	p->state = GEN_ESTABLISHED;
	p->last_rx_ns = g->now_ns; /* the msg2 authenticated the appliance */
	if (p->was_up) {
		p->rehandshakes++;
		g->st.rehandshakes++;
	}
	p->was_up = true;
}

int gen_reflect_session(struct gen *g, unsigned p, const uint8_t key[32], uint64_t session_id)
{
	struct gen_peer *pe = peer_at(g, p);
	if (pe == NULL || g->cfg.n_daemons != 1 || g->cfg.daemons[0] != g->cfg.origin_hash)
		return -EINVAL;
	if (!pe->cfg.mac_known)
		return -EPROTO;
	struct nm_session_keys k = { .session_id = session_id };
	memcpy(k.tx, key, sizeof(k.tx));
	memcpy(k.rx, key, sizeof(k.rx));
	install_session(g, pe, &k);
	sodium_memzero(&k, sizeof(k));
	return 0;
}

static struct gen_peer *peer_by_addr(struct gen *g, const struct nm_pkt_endpoint *src)
{
	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].cfg.ep.ip == src->ip && g->peers[i].cfg.ep.port == src->port)
			return &g->peers[i];
	return NULL;
}

static int peer_by_session(const struct gen *g, uint64_t session_id)
{
	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].state == GEN_ESTABLISHED && g->peers[i].session_id == session_id)
			return (int)i;
	return -1;
}

static int peer_by_node(const struct gen *g, uint64_t node_id)
{
	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].cfg.node_id == node_id)
			return (int)i;
	return -1;
}

static enum gen_rx_result rx_msg2(struct gen *g, const struct nm_pkt_endpoint *src,
				  const uint8_t *d, size_t dlen)
{
	enum nm_drop why = NM_DROP_NONE;
	const uint8_t *msg;
	size_t mlen;
	struct gen_peer *p = peer_by_addr(g, src);
	if (p == NULL || p->state != GEN_HANDSHAKING)
		return drop(g, NM_DROP_HANDSHAKE);
	if (nm_hs_pkt_decode(d, dlen, &msg, &mlen, &why) < 0)
		return drop(g, why != NM_DROP_NONE ? why : NM_DROP_HANDSHAKE);
	/* Try on a copy: a forged or stale msg2 must not end the attempt in progress. */
	struct nm_hs attempt = p->hs;
	struct nm_session_keys keys;
	int rc = nm_hs_read(&attempt, msg, mlen, NULL, 0, NULL);
	if (rc == 0)
		rc = nm_hs_finish(&attempt, &keys);
	nm_hs_wipe(&attempt);
	if (rc < 0)
		return drop(g, rc == -EBADMSG || rc == -EKEYREJECTED ? NM_DROP_AUTH : NM_DROP_HANDSHAKE);
	nm_hs_wipe(&p->hs);
	install_session(g, p, &keys);
	nm_session_keys_wipe(&keys);
	return GEN_RX_ESTABLISHED;
}

/* A Moved from peer `from` (see gen_rx for when it applies). */
static void rx_moved(struct gen *g, unsigned from, uint64_t origin, uint64_t new_node)
{
	const int d = dest_index(g, origin);
	const int to = peer_by_node(g, new_node);
	g->peers[from].moved_recv++;
	if (d < 0 || g->dest[d].peer != from || to < 0 || (unsigned)to == from ||
	    g->peers[to].state != GEN_ESTABLISHED) {
		g->st.redirects_ignored++;
		return;
	}
	g->dest[d].peer = (uint8_t)to;
	g->dest[d].redirects++;
	g->st.redirects++;
}

/* A 0x0500 packet: event_count EventFrames [LE32 len][message]. */
static enum gen_rx_result rx_migration(struct gen *g, unsigned from, const uint8_t *p,
				       const struct nm_net_hdr *h)
{
	size_t left = h->payload_len;
	uint32_t i = 0;
	g->st.rx_messages++;
	for (; i < h->event_count && left >= NM_NET_EVENT_HDR; i++) {
		const uint32_t len = nm_get_le32(p);
		if (len > left - NM_NET_EVENT_HDR)
			break;
		struct nm_mig_msg m;
		if (nm_mig_decode(p + NM_NET_EVENT_HDR, len, &m, NULL, NULL) < 0 || m.type != NM_MIG_MOVED)
			drop(g, NM_DROP_SUBPROTOCOL);
		else
			rx_moved(g, from, m.daemon_origin, m.moved.new_node);
		p += NM_NET_EVENT_HDR + len;
		left -= NM_NET_EVENT_HDR + len;
	}
	if (i != h->event_count || left != 0)
		drop(g, NM_DROP_FRAME_OVERRUN);
	return GEN_RX_CONSUMED;
}

static enum gen_rx_result rx_causal(struct gen *g, unsigned from, const uint8_t *p,
				    const struct nm_net_hdr *h)
{
	size_t consumed = 0;
	g->st.rx_packets++;
	g->peers[from].rx_packets++;
	uint32_t n = nm_causal_read(p, h->payload_len, h->event_count, g->evs, NM_NET_MAX_EVENTS, 0,
				    &consumed);
	/* As the appliance: check the well-formed prefix, count the rest once. */
	if (n != h->event_count || consumed != h->payload_len)
		drop(g, NM_DROP_FRAME_OVERRUN);
	for (uint32_t i = 0; i < n; i++)
		if (check_event(g, h->stream_id, &g->evs[i]))
			account(g, from, h->stream_id, &g->evs[i]);
	return GEN_RX_CONSUMED;
}

static enum gen_rx_result rx_data(struct gen *g, uint8_t *d, size_t dlen,
				  const struct nm_net_hdr *h)
{
	enum nm_drop why = NM_DROP_NONE;
	const int from = peer_by_session(g, h->session_id);
	if (from < 0)
		return drop(g, NM_DROP_SESSION_UNKNOWN);
	struct gen_peer *p = &g->peers[from];
	const uint64_t ctr = nm_hdr_counter(h);
	/* Cheap replay refusal first; the window moves only once the tag verified. */
	if (nm_replay_check(&p->replay, ctr, &why) < 0 || nm_aead_open(&p->rx, d, dlen, NULL, &why) < 0 ||
	    nm_replay_commit(&p->replay, ctr, &why) < 0)
		return drop(g, why);
	p->last_rx_ns = g->now_ns; /* authenticated and fresh: the session lives */
	if (h->flags & NM_FLAG_HEARTBEAT) {
		g->st.rx_heartbeats++;
		return GEN_RX_CONSUMED;
	}
	if (h->subprotocol_id == NM_SUBPROTOCOL_MIGRATION)
		return rx_migration(g, (unsigned)from, d + NM_NET_HDR_SIZE, h);
	if (h->subprotocol_id != NM_SUBPROTOCOL_CAUSAL)
		return drop(g, NM_DROP_SUBPROTOCOL);
	return rx_causal(g, (unsigned)from, d + NM_NET_HDR_SIZE, h);
}

static enum gen_rx_result rx_udp(struct gen *g, const struct nm_pkt_endpoint *src, uint8_t *d,
				 size_t dlen)
{
	enum nm_drop why = NM_DROP_NONE;
	struct nm_net_hdr h;
	enum nm_dgram_class cls = nm_dgram_classify(d, dlen);
	if (cls != NM_DGRAM_DIRECT)
		return drop(g, nm_dgram_class_drop(cls));
	if (nm_hdr_parse(&h, d, dlen, &why) < 0)
		return drop(g, why);
	if (h.flags & NM_FLAG_HANDSHAKE)
		return rx_msg2(g, src, d, dlen);
	return rx_data(g, d, dlen, &h);
}

/* Requests for our address are answered; a peer's reply gives us its MAC. */
static enum gen_rx_result rx_arp(struct gen *g, uint8_t *frame, size_t len, size_t *out_len)
{
	enum nm_drop why = NM_DROP_NONE;
	struct nm_pkt_endpoint sender;
	if (nm_pkt_arp_reply(frame, len, &g->cfg.self, out_len, &why) == 0) {
		g->st.arp_replies++;
		return GEN_RX_REPLY;
	}
	if (why != NM_DROP_ARP_IGNORED)
		return drop(g, why);
	if (nm_pkt_arp_reply_sender(frame, len, &g->cfg.self, &sender, &why) < 0)
		return drop(g, why);
	bool known = false, resolved = false;
	for (unsigned i = 0; i < g->n_peers; i++) {
		struct gen_peer *p = &g->peers[i];
		if (p->cfg.ep.ip != sender.ip)
			continue;
		known = true;
		p->cfg.ep.mac = sender.mac;
		p->cfg.mac_known = true;
		if (p->state == GEN_RESOLVING) {
			p->state = GEN_HANDSHAKING;
			resolved = true;
		}
	}
	if (!known)
		return drop(g, NM_DROP_ARP_IGNORED);
	return resolved ? GEN_RX_RESOLVED : GEN_RX_CONSUMED;
}

enum gen_rx_result gen_rx(struct gen *g, uint8_t *frame, size_t len, size_t *out_len)
{
	enum nm_drop why = NM_DROP_NONE;
	struct nm_pkt_info pi;
	size_t reply_len = 0;
	g->st.rx_frames++;
	g->st.rx_bytes += len;
	if (nm_pkt_parse(frame, len, &g->cfg.self, 0, &pi, &why) < 0)
		return drop(g, why);
	switch (pi.kind) {
	case NM_PKT_ARP: {
		enum gen_rx_result r = rx_arp(g, frame, len, &reply_len);
		if (r == GEN_RX_REPLY && out_len != NULL)
			*out_len = reply_len;
		return r;
	}
	case NM_PKT_ICMP:
		if (nm_pkt_icmp_echo_reply(frame, len, &g->cfg.self, 0, &reply_len, &why) < 0)
			return drop(g, why);
		g->st.icmp_replies++;
		if (out_len != NULL)
			*out_len = reply_len;
		return GEN_RX_REPLY;
	default:
		return rx_udp(g, &pi.src, frame + pi.data_off, pi.data_len);
	}
}

void gen_tx_unsent(struct gen *g, const uint8_t *frame, size_t len)
{
	struct nm_net_hdr h;
	g->st.drops[NM_DROP_TX_FULL]++;
	/* Our own frames: no IP options, the NetHeader in clear at NM_PKT_DATA_OFF. */
	if (len < NM_PKT_DATA_OFF + NM_NET_HDR_SIZE ||
	    nm_hdr_parse(&h, frame + NM_PKT_DATA_OFF, len - NM_PKT_DATA_OFF, NULL) < 0 ||
	    (h.flags & (NM_FLAG_HANDSHAKE | NM_FLAG_HEARTBEAT)) ||
	    h.subprotocol_id != NM_SUBPROTOCOL_CAUSAL || h.event_count == 0)
		return;
	const int d = dest_index(g, h.stream_id);
	const int p = peer_by_session(g, h.session_id);
	if (d < 0 || g->dest[d].sent < h.event_count)
		return;
	g->dest[d].sent -= h.event_count;
	if (p >= 0)
		g->peers[p].tx_packets--;
	g->st.tx_packets--;
	g->st.tx_events -= h.event_count;
	g->st.tx_bytes -= len;
}

/* ------------------------------------------------------------------ dead sessions */

static void session_dead(struct gen *g, unsigned i)
{
	struct gen_peer *p = &g->peers[i];
	nm_aead_wipe(&p->tx);
	nm_aead_wipe(&p->rx);
	p->session_id = 0;
	p->tx_counter = 0;
	/* A learned MAC may be stale (the appliance restarted elsewhere); a configured one is kept. */
	p->state = g->cfg.peers[i].mac_known ? GEN_HANDSHAKING : GEN_RESOLVING;
	p->sessions_dead++;
	g->st.sessions_dead++;
}

unsigned gen_check_sessions(struct gen *g, uint64_t now_ns)
{
	const uint64_t timeout = (uint64_t)g->cfg.session_timeout_ms * NS_PER_MS;
	unsigned dead = 0;
	if (timeout == 0)
		return 0;
	for (unsigned i = 0; i < g->n_peers; i++) {
		const struct gen_peer *p = &g->peers[i];
		/* A stamp newer than the caller's clock read is "just heard", not a wrap. */
		if (p->state == GEN_ESTABLISHED && now_ns > p->last_rx_ns &&
		    now_ns - p->last_rx_ns > timeout) {
			session_dead(g, i);
			dead++;
		}
	}
	return dead;
}

bool gen_next_ready(const struct gen *g)
{
	return g->peers[g->dest[g->next_daemon].peer].state == GEN_ESTABLISHED;
}

void gen_no_session(struct gen *g, uint64_t packets)
{
	g->st.no_session_packets += packets;
	g->st.no_session_events += packets * g->per_packet;
}

uint64_t gen_drops_total(const struct gen_stats *st)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < NM_DROP__COUNT; i++)
		n += st->drops[i];
	return n;
}

/* ------------------------------------------------------------------ retry */

void gen_retry_start(struct gen_retry *r, uint64_t now_ns, unsigned attempts, uint32_t wait_ms,
		     uint32_t backoff_ms, uint32_t timeout_ms)
{
	r->deadline_ns = now_ns + (uint64_t)timeout_ms * NS_PER_MS;
	r->next_ns = now_ns;
	r->attempts = 0;
	r->max_attempts = attempts;
	r->wait_ns = (uint64_t)wait_ms * NS_PER_MS;
	r->backoff_ns = (uint64_t)backoff_ms * NS_PER_MS;
}

enum gen_retry_action gen_retry_poll(struct gen_retry *r, uint64_t now_ns)
{
	if (now_ns >= r->deadline_ns)
		return GEN_RETRY_FAIL;
	if (now_ns < r->next_ns)
		return GEN_RETRY_WAIT;
	if (r->attempts >= r->max_attempts)
		return GEN_RETRY_FAIL; /* the last attempt's wait is over */
	r->attempts++;
	r->next_ns = now_ns + r->wait_ns;
	if (r->attempts < r->max_attempts)
		r->next_ns += r->backoff_ns * r->attempts;
	return GEN_RETRY_SEND;
}

void gen_rounds_start(struct gen_rounds *s, uint64_t now_ns)
{
	gen_retry_start(&s->r, now_ns, GEN_HS_ATTEMPTS, GEN_HS_WAIT_MS, GEN_HS_BACKOFF_MS,
			GEN_HS_TIMEOUT_MS);
	s->failed = 0;
}

enum gen_retry_action gen_rounds_poll(struct gen_rounds *s, uint64_t now_ns)
{
	enum gen_retry_action a = gen_retry_poll(&s->r, now_ns);
	if (a != GEN_RETRY_FAIL)
		return a;
	s->failed++;
	gen_retry_start(&s->r, now_ns + (uint64_t)GEN_REHS_PAUSE_MS * NS_PER_MS, GEN_HS_ATTEMPTS,
			GEN_HS_WAIT_MS, GEN_HS_BACKOFF_MS, GEN_HS_TIMEOUT_MS);
	return GEN_RETRY_WAIT;
}

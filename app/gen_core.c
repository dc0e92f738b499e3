/* SPDX-License-Identifier: MIT */
/* gen_core.c - netmesh-gen's node logic on flat frames (see header). */
#include "gen_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "nm_le.h"
#include "nm_packet.h"

#define NS_PER_MS 1000000ULL

static enum gen_rx_result drop(struct gen *g, enum nm_drop why)
{
	g->st.drops[why < NM_DROP__COUNT ? why : NM_DROP_NONE]++;
	return GEN_RX_CONSUMED;
}

/* ------------------------------------------------------------------ setup */

static int check_config(const struct gen_config *c, struct nm_error *err)
{
	if (c->self.ip == 0 || c->peer.ip == 0)
		return nm_error_set(err, -EINVAL, "our address and the peer's are required");
	if (c->self.port == 0 || c->peer.port == 0)
		return nm_error_set(err, -EINVAL, "UDP ports must not be 0");
	if (c->n_daemons == 0 || c->n_daemons > GEN_MAX_DAEMONS)
		return nm_error_set(err, -EINVAL, "give 1..%d destination daemons", GEN_MAX_DAEMONS);
	if (c->events_per_packet == 0)
		return nm_error_set(err, -EINVAL, "events per packet must be at least 1");
	if (c->event_size > GEN_EVENT_MAX)
		return nm_error_set(err, -EMSGSIZE, "event size %u: at most %u bytes", c->event_size,
				    GEN_EVENT_MAX);
	return 0;
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
	g->state = cfg->peer_mac_known ? GEN_HANDSHAKING : GEN_RESOLVING;
	nm_chain_init(&g->chain, cfg->origin_hash);
	nm_replay_init(&g->replay);
	return 0;
}

void gen_fini(struct gen *g)
{
	if (g == NULL)
		return;
	nm_hs_wipe(&g->hs);
	nm_aead_wipe(&g->tx);
	nm_aead_wipe(&g->rx);
	sodium_memzero(g->cfg.psk, sizeof(g->cfg.psk));
}

/* ------------------------------------------------------------------ TX */

int gen_arp_request(struct gen *g, uint8_t *frame, size_t cap, size_t *len)
{
	int rc = nm_pkt_arp_request(frame, cap, &g->cfg.self, g->cfg.peer.ip, len);
	if (rc == 0)
		g->st.arp_requests++;
	return rc;
}

int gen_hs_msg1(struct gen *g, uint8_t *frame, size_t cap, size_t *len)
{
	if (g->state != GEN_HANDSHAKING)
		return -EPROTO;
	if (cap < NM_PKT_DATA_OFF + NM_HS_PKT_LEN)
		return -ENOSPC;
	const struct nm_hs_config hc = {
		.initiator = true,
		.local_node_id = g->cfg.node_id,
		.peer_node_id = g->cfg.peer_node_id,
		.psk = g->cfg.psk,
		.peer_static_pk = g->cfg.peer_static,
		.use_split = g->cfg.use_split,
	};
	uint8_t msg[NM_HS_MSG_LEN];
	size_t mlen, dlen;
	/* Every attempt starts over with a fresh ephemeral: the responder refuses a replayed one. */
	nm_hs_wipe(&g->hs);
	int rc = nm_hs_init(&g->hs, &hc);
	if (rc == 0)
		rc = nm_hs_write(&g->hs, NULL, 0, msg, sizeof(msg), &mlen);
	if (rc == 0)
		rc = nm_hs_pkt_encode(msg, mlen, frame + NM_PKT_DATA_OFF, cap - NM_PKT_DATA_OFF, &dlen);
	if (rc == 0)
		rc = nm_pkt_build_udp(frame, cap, &g->cfg.self, &g->cfg.peer, g->ip_id++, dlen, 0);
	if (rc < 0)
		return rc;
	*len = NM_PKT_DATA_OFF + dlen;
	g->st.hs_attempts++;
	return 0;
}

/* Recognisable in a dump: LE64 event number, then "netmesh-gen " repeated. */
static void fill_event(uint8_t *p, uint32_t len, uint64_t no)
{
	static const char pat[] = "netmesh-gen ";
	uint32_t start = 0;
	if (len >= 8) {
		nm_put_le64(p, no);
		start = 8;
	}
	for (uint32_t i = start; i < len; i++)
		p[i] = (uint8_t)pat[(i - start) % (sizeof(pat) - 1)];
}

int gen_build_events(struct gen *g, uint8_t *frame, size_t cap, size_t *len)
{
	if (g->state != GEN_ESTABLISHED)
		return -EPROTO;
	const unsigned d = g->next_daemon;
	const uint32_t size = g->cfg.event_size;
	for (uint32_t i = 0; i < g->per_packet; i++) {
		uint8_t *p = g->payload + (size_t)i * size;
		fill_event(p, size, g->event_no + i);
		g->evs[i] = (struct nm_event){ .payload = p, .len = size };
	}
	/* Links are computed on a copy: the chain moves only if the packet is built. */
	struct nm_chain next = g->chain;
	for (uint32_t i = 0; i < g->per_packet; i++)
		if (nm_chain_append(&next, g->evs[i].payload, size, 0, &g->evs[i].link) < 0)
			return -EOVERFLOW;
	const struct nm_packet_tx t = {
		.src = &g->cfg.self,
		.dst = &g->cfg.peer,
		.ip_id = g->ip_id,
		.key = &g->tx,
		.counter = g->tx_counter,
		.session_id = g->session_id,
		.stream_id = g->cfg.daemons[d],
		.sequence = g->stream_seq[d],
		.origin_hash = g->cfg.origin_hash,
		.budget = nm_packet_budget(g->cfg.mtu),
	};
	uint32_t used;
	int rc = nm_packet_build(frame, cap, &t, g->evs, g->per_packet, &used, len);
	if (rc < 0)
		return rc;
	if (used != g->per_packet)
		return -EMSGSIZE; /* cannot happen: per_packet was sized to the budget */
	g->chain = next;
	g->tx_counter++;
	g->ip_id++;
	g->stream_seq[d]++;
	g->next_daemon = (d + 1) % g->cfg.n_daemons;
	g->event_no += g->per_packet;
	g->st.tx_packets++;
	g->st.tx_events += g->per_packet;
	g->st.tx_bytes += *len;
	return 0;
}

int gen_build_heartbeat(struct gen *g, uint8_t *frame, size_t cap, size_t *len)
{
	if (g->state != GEN_ESTABLISHED)
		return -EPROTO;
	const size_t dlen = NM_HEARTBEAT_LEN;
	if (cap < NM_PKT_DATA_OFF + dlen)
		return -ENOSPC;
	int rc = nm_packet_heartbeat(frame + NM_PKT_DATA_OFF, &g->tx, g->session_id,
				     g->cfg.origin_hash, g->tx_counter);
	if (rc == 0)
		rc = nm_pkt_build_udp(frame, cap, &g->cfg.self, &g->cfg.peer, g->ip_id, dlen, 0);
	if (rc < 0)
		return rc;
	g->tx_counter++;
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
 * One output of daemon `stream`. A forward sequence gap is loss (the events
 * in between never reached us, so the link across it cannot be judged): it is
 * counted apart from real breaks. After a gap or a parent mismatch the check
 * resumes from the new link, so one break is counted once.
 */
static void check_event(struct gen *g, uint64_t stream, const struct nm_event *ev)
{
	struct gen_chain_check *c = chain_slot(g, stream);
	if (c == NULL) {
		drop(g, NM_DROP_DAEMON_UNKNOWN);
		return;
	}
	if (c->events++ == 0) {
		c->first_seq = ev->link.sequence;
		c->first_parent = ev->link.parent_hash;
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
		g->st.lost_events += e.got - e.expected;
	} else {
		chain_error(g, c, &e);
		adopt = v == NM_CHAIN_PARENT_MISMATCH;
	}
	if (adopt && ev->len <= sizeof(c->prev_payload)) {
		c->prev = ev->link;
		c->prev_len = ev->len;
		memcpy(c->prev_payload, ev->payload, ev->len);
	}
}

/* ------------------------------------------------------------------ RX */

static void install_session(struct gen *g, struct nm_session_keys *k)
{
	g->session_id = k->session_id;
	nm_aead_init(&g->tx, k->tx, k->session_id);
	nm_aead_init(&g->rx, k->rx, k->session_id);
	g->tx_counter = 0;
	nm_replay_init(&g->replay);
	g->state = GEN_ESTABLISHED;
}

static enum gen_rx_result rx_msg2(struct gen *g, const uint8_t *d, size_t dlen)
{
	enum nm_drop why = NM_DROP_NONE;
	const uint8_t *msg;
	size_t mlen;
	if (g->state != GEN_HANDSHAKING)
		return drop(g, NM_DROP_HANDSHAKE);
	if (nm_hs_pkt_decode(d, dlen, &msg, &mlen, &why) < 0)
		return drop(g, why != NM_DROP_NONE ? why : NM_DROP_HANDSHAKE);
	/* Try on a copy: a forged or stale msg2 must not end the attempt in progress. */
	struct nm_hs attempt = g->hs;
	struct nm_session_keys keys;
	int rc = nm_hs_read(&attempt, msg, mlen, NULL, 0, NULL);
	if (rc == 0)
		rc = nm_hs_finish(&attempt, &keys);
	nm_hs_wipe(&attempt);
	if (rc < 0)
		return drop(g, rc == -EBADMSG || rc == -EKEYREJECTED ? NM_DROP_AUTH : NM_DROP_HANDSHAKE);
	nm_hs_wipe(&g->hs);
	install_session(g, &keys);
	nm_session_keys_wipe(&keys);
	return GEN_RX_ESTABLISHED;
}

static enum gen_rx_result rx_data(struct gen *g, uint8_t *d, size_t dlen,
				  const struct nm_net_hdr *h)
{
	enum nm_drop why = NM_DROP_NONE;
	if (g->state != GEN_ESTABLISHED || h->session_id != g->session_id)
		return drop(g, NM_DROP_SESSION_UNKNOWN);
	const uint64_t ctr = nm_hdr_counter(h);
	/* Cheap replay refusal first; the window moves only once the tag verified. */
	if (nm_replay_check(&g->replay, ctr, &why) < 0 || nm_aead_open(&g->rx, d, dlen, NULL, &why) < 0 ||
	    nm_replay_commit(&g->replay, ctr, &why) < 0)
		return drop(g, why);
	if (h->flags & NM_FLAG_HEARTBEAT) {
		g->st.rx_heartbeats++;
		return GEN_RX_CONSUMED;
	}
	if (h->subprotocol_id != NM_SUBPROTOCOL_CAUSAL)
		return drop(g, NM_DROP_SUBPROTOCOL);
	g->st.rx_packets++;
	size_t consumed = 0;
	uint32_t n = nm_causal_read(d + NM_NET_HDR_SIZE, h->payload_len, h->event_count, g->evs,
				    NM_NET_MAX_EVENTS, 0, &consumed);
	/* As the appliance: check the well-formed prefix, count the rest once. */
	if (n != h->event_count || consumed != h->payload_len)
		drop(g, NM_DROP_FRAME_OVERRUN);
	for (uint32_t i = 0; i < n; i++)
		check_event(g, h->stream_id, &g->evs[i]);
	return GEN_RX_CONSUMED;
}

static enum gen_rx_result rx_udp(struct gen *g, uint8_t *d, size_t dlen)
{
	enum nm_drop why = NM_DROP_NONE;
	struct nm_net_hdr h;
	enum nm_dgram_class cls = nm_dgram_classify(d, dlen);
	if (cls != NM_DGRAM_DIRECT)
		return drop(g, nm_dgram_class_drop(cls));
	if (nm_hdr_parse(&h, d, dlen, &why) < 0)
		return drop(g, why);
	if (h.flags & NM_FLAG_HANDSHAKE)
		return rx_msg2(g, d, dlen);
	return rx_data(g, d, dlen, &h);
}

/* Requests for our address are answered; the peer's reply gives us its MAC. */
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
	if (sender.ip != g->cfg.peer.ip)
		return drop(g, NM_DROP_ARP_IGNORED);
	g->cfg.peer.mac = sender.mac;
	g->cfg.peer_mac_known = true;
	if (g->state != GEN_RESOLVING)
		return GEN_RX_CONSUMED;
	g->state = GEN_HANDSHAKING;
	return GEN_RX_RESOLVED;
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
		return rx_udp(g, frame + pi.data_off, pi.data_len);
	}
}

void gen_tx_unsent(struct gen *g, uint32_t events, size_t bytes)
{
	g->st.drops[NM_DROP_TX_FULL]++;
	if (events == 0)
		return;
	g->st.tx_packets--;
	g->st.tx_events -= events;
	g->st.tx_bytes -= bytes;
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

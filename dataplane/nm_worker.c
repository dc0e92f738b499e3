/* SPDX-License-Identifier: MIT */
/* nm_worker.c - the per-lcore packet path (see header). */
#include "nm_worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "nm_causal.h"
#include "nm_dataplane.h"
#include "nm_exec.h"
#include "nm_host.h"
#include "nm_time.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_packet.h"
#include "nm_session.h"
#include "nm_wire.h"

#define CTL_EVERY 16 /* serve control messages once per this many idle-or-busy loops */

/* An event handed to its owner lcore: this header, then the payload. */
struct nm_handoff {
	uint64_t session_id;
	uint64_t daemon;
	uint8_t link[NM_CAUSAL_LINK_SIZE];
	uint32_t len;
};

static inline void drop(struct nm_worker *w, enum nm_drop why)
{
	w->stats.drops[why]++;
}

static inline void drop_mbuf(struct nm_worker *w, struct rte_mbuf *m, enum nm_drop why)
{
	drop(w, why);
	rte_pktmbuf_free(m);
}

/* ---------------------------------------------------------------- TX */

static void tx_flush(struct nm_worker *w)
{
	if (w->n_tx == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(w->port_id, (uint16_t)w->index, w->tx, w->n_tx);
	for (uint16_t i = 0; i < sent; i++) {
		w->stats.tx_packets++;
		w->stats.tx_bytes += w->tx[i]->pkt_len;
	}
	for (uint16_t i = sent; i < w->n_tx; i++)
		drop_mbuf(w, w->tx[i], NM_DROP_TX_FULL);
	w->n_tx = 0;
}

static void tx_push(struct nm_worker *w, struct rte_mbuf *m)
{
	if (w->n_tx >= w->dp->burst)
		tx_flush(w);
	w->tx[w->n_tx++] = m;
}

/* Offload metadata for a frame whose checksums the NIC fills. */
static void tx_offload(const struct nm_worker *w, struct rte_mbuf *m)
{
	if (w->tx_flags == 0)
		return;
	m->l2_len = NM_PKT_ETH_LEN;
	m->l3_len = NM_PKT_IP_LEN;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	if (w->tx_flags & NM_PKT_TX_IP_CKSUM_OFFLOAD)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	if (w->tx_flags & NM_PKT_TX_UDP_CKSUM_OFFLOAD)
		m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
}

static bool peer_endpoint(struct nm_worker *w, const struct nm_session *s,
			  struct nm_pkt_endpoint *dst)
{
	const struct nm_peer *p = &w->dp->peers.peers[s->peer];
	if (p->ip == 0 || !nm_peer_mac(p, &dst->mac))
		return false;
	dst->ip = p->ip;
	dst->port = p->port;
	return true;
}

/* Seal and frame one packet of events out[i..] for group g; returns events used. */
static uint32_t tx_packet(struct nm_worker *w, const struct nm_out_group *g, uint32_t i,
			  const struct nm_pkt_endpoint *dst)
{
	const uint32_t left = g->first + g->n - i;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	if (m == NULL) {
		w->stats.drops[NM_DROP_NO_MBUF] += left;
		return left;
	}
	struct nm_packet_tx t = {
		.src = &w->self,
		.dst = dst,
		.ip_id = w->ip_id,
		.tx_flags = w->tx_flags,
		.key = &g->session->tx,
		.counter = nm_session_next_tx(g->session),
		.session_id = g->session->session_id,
		.stream_id = g->stream,
		.sequence = g->src->tx_seq,
		.origin_hash = w->node_origin,
		.budget = nm_packet_budget(w->mtu),
	};
	uint32_t used;
	size_t len;
	int rc = nm_packet_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &t,
				 &w->out.ev[i], left, &used, &len);
	if (rc < 0) {
		/* The next event alone is larger than a packet: count it, move on. */
		rte_pktmbuf_free(m);
		drop(w, NM_DROP_TX_TOO_LARGE);
		return used > 0 ? used : 1;
	}
	w->ip_id++;
	g->src->tx_seq++;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	tx_offload(w, m);
	tx_push(w, m);
	return used;
}

static void tx_group(struct nm_worker *w, const struct nm_out_group *g)
{
	struct nm_pkt_endpoint dst;
	if (!peer_endpoint(w, g->session, &dst)) {
		w->stats.drops[NM_DROP_NO_ROUTE] += g->n;
		return;
	}
	for (uint32_t i = g->first; i < g->first + g->n;)
		i += tx_packet(w, g, i, &dst);
}

/* Turn this burst's outputs into packets, then send. */
static void flush_outputs(struct nm_worker *w)
{
	for (uint32_t k = 0; k < w->n_groups; k++)
		tx_group(w, &w->groups[k]);
	w->n_groups = 0;
	nm_outputs_reset(&w->out);
	tx_flush(w);
}

static void add_group(struct nm_worker *w, uint32_t first, uint32_t n, struct nm_session *s,
		      uint64_t stream, struct nm_dp_daemon *src)
{
	struct nm_out_group *last = w->n_groups ? &w->groups[w->n_groups - 1] : NULL;
	if (last != NULL && last->session == s && last->stream == stream && last->src == src &&
	    last->first + last->n == first) {
		last->n += n;
		return;
	}
	w->groups[w->n_groups++] = (struct nm_out_group){ first, n, s, stream, src };
}

/* ---------------------------------------------------------------- events */

/*
 * Keep room for outputs: flush when n more events of `bytes` would pass half
 * the slots or half the arena (the other half is slack for daemons that emit
 * more than they take in).
 */
static void ensure_room(struct nm_worker *w, uint32_t n, uint32_t bytes)
{
	if (w->out.n + n > NM_OUT_EVENTS / 2 || w->out.used + bytes > NM_OUT_ARENA / 2)
		flush_outputs(w);
}

static void deliver_local(struct nm_worker *w, struct nm_dp_daemon *d, struct nm_session *s,
			  const struct nm_event *ev)
{
	ensure_room(w, 0, 0);
	const uint32_t n0 = w->out.n, used0 = w->out.used;
	if (nm_host_deliver(d->host, ev, &w->out, w->now_ns, &w->err) < 0) {
		w->stats.events_failed++;
		return;
	}
	w->stats.events_delivered++;
	uint32_t n = w->out.n - n0;
	if (n == 0)
		return;
	w->stats.events_emitted += n;
	struct nm_session *dest = s;
	uint64_t stream = d->origin;
	if (d->route_session != 0) {
		dest = nm_u64map_get(&w->sessions, d->route_session);
		stream = d->route_stream;
		if (dest == NULL) {
			/* The routed session is gone: the outputs cannot leave. */
			w->stats.drops[NM_DROP_NO_ROUTE] += n;
			w->out.n = n0;
			w->out.used = used0;
			return;
		}
	}
	add_group(w, n0, n, dest, stream, d);
}

static void handoff_event(struct nm_worker *w, unsigned owner, const struct nm_session *s,
			  uint64_t daemon, const struct nm_event *ev)
{
	struct nm_worker *o = w->dp->by_lcore[owner];
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	if (m == NULL) {
		drop(w, NM_DROP_NO_MBUF);
		return;
	}
	struct nm_handoff *h = (struct nm_handoff *)rte_pktmbuf_append(m, sizeof(*h) + ev->len);
	if (h == NULL) { /* cannot happen: an event fits in the frame it came in */
		drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	h->session_id = s->session_id;
	h->daemon = daemon;
	nm_link_to_bytes(&ev->link, h->link);
	h->len = ev->len;
	memcpy(h + 1, ev->payload, ev->len);
	if (rte_ring_mp_enqueue(o->evt_in, m) != 0) {
		drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	w->stats.events_handed_off++;
}

/* Every frame of a packet goes to the daemon stream_id names: one lookup per packet. */
static void dispatch(struct nm_worker *w, struct nm_session *s, uint64_t daemon,
		     const struct nm_event *evs, uint32_t n, uint32_t bytes)
{
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, daemon);
	if (d == NULL) {
		w->stats.drops[NM_DROP_DAEMON_UNKNOWN] += n;
		return;
	}
	if (d->lcore != w->lcore) {
		for (uint32_t i = 0; i < n; i++)
			handoff_event(w, d->lcore, s, daemon, &evs[i]);
		return;
	}
	/*
	 * Daemons mostly emit about what they take in: flush before a packet whose
	 * outputs would cross the mark rather than in its middle, so full input
	 * packets make full output packets, not one runt per flush.
	 */
	ensure_room(w, n, bytes);
	for (uint32_t i = 0; i < n; i++)
		deliver_local(w, d, s, &evs[i]);
}

static void serve_handoff_event(struct nm_worker *w, struct rte_mbuf *m)
{
	const struct nm_handoff *h = rte_pktmbuf_mtod(m, const struct nm_handoff *);
	struct nm_session *s = nm_u64map_get(&w->sessions, h->session_id);
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, h->daemon);
	if (s == NULL) {
		drop_mbuf(w, m, NM_DROP_SESSION_UNKNOWN);
		return;
	}
	if (d == NULL || d->lcore != w->lcore) {
		drop_mbuf(w, m, NM_DROP_DAEMON_UNKNOWN);
		return;
	}
	struct nm_event ev = { .payload = (const uint8_t *)(h + 1), .len = h->len,
			       .received_at = w->now_ns };
	nm_link_from_bytes(&ev.link, h->link, sizeof(h->link));
	deliver_local(w, d, s, &ev);
	rte_pktmbuf_free(m);
}

/* ---------------------------------------------------------------- RX */

/* An authenticated data packet: its frames go to the daemon stream_id names. */
static void deliver_packet(struct nm_worker *w, struct nm_session *s, const struct nm_net_hdr *h,
			   const uint8_t *payload)
{
	if (h->subprotocol_id != NM_SUBPROTOCOL_CAUSAL) {
		drop(w, NM_DROP_SUBPROTOCOL);
		return;
	}
	const uint32_t max = sizeof(w->evs) / sizeof(w->evs[0]);
	size_t consumed = 0;
	uint32_t n = nm_causal_read(payload, h->payload_len, h->event_count, w->evs, max,
				    w->now_ns, &consumed);
	/* Upstream delivers the well-formed prefix; the rest is counted once. */
	if (n != h->event_count || consumed != h->payload_len)
		drop(w, NM_DROP_FRAME_OVERRUN);
	dispatch(w, s, h->stream_id, w->evs, n, h->payload_len);
}

static void rx_net(struct nm_worker *w, struct rte_mbuf *m, uint8_t *d, size_t len,
		   const struct nm_pkt_info *pi, bool handed)
{
	enum nm_drop why = NM_DROP_NONE;
	enum nm_dgram_class cls = nm_dgram_classify(d, len);
	if (cls != NM_DGRAM_DIRECT) {
		drop_mbuf(w, m, nm_dgram_class_drop(cls));
		return;
	}
	struct nm_net_hdr h;
	if (nm_hdr_parse(&h, d, len, &why) < 0) {
		drop_mbuf(w, m, why);
		return;
	}
	if (h.flags & NM_FLAG_HANDSHAKE) {
		struct rte_ring *sp = w->dp->slowpath;
		if (w->dp->slowpath_fn == NULL)
			drop_mbuf(w, m, NM_DROP_HANDSHAKE);
		else if (rte_ring_mp_enqueue(sp, m) != 0)
			drop_mbuf(w, m, NM_DROP_SLOWPATH_FULL);
		return;
	}
	struct nm_session *s = nm_u64map_get(&w->sessions, h.session_id);
	if (s == NULL) {
		drop_mbuf(w, m, NM_DROP_SESSION_UNKNOWN);
		return;
	}
	uint32_t owner = nm_session_rx_owner(s, w->lcore);
	if (owner != w->lcore && !handed) {
		/* Only the owner touches the replay window. */
		struct nm_worker *o = w->dp->by_lcore[owner];
		if (o == NULL || rte_ring_mp_enqueue(o->pkt_in, m) != 0)
			drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	uint64_t ctr = nm_get_le64(d + NM_OFF_COUNTER);
	const bool window = s->replay_window;
	/* Cheap replay check first; commit only once the tag verified. */
	if ((window && nm_replay_check(&s->replay, ctr, &why) < 0) ||
	    nm_aead_open(&s->rx, d, len, NULL, &why) < 0 ||
	    (window && nm_replay_commit(&s->replay, ctr, &why) < 0)) {
		drop_mbuf(w, m, why);
		return;
	}
	atomic_store_explicit(&s->last_rx_ns, w->now_ns, memory_order_relaxed);
	if (pi != NULL)
		nm_peer_learn_hint(&w->dp->peers, s->peer, pi->src.ip, &pi->src.mac);
	if (!(h.flags & NM_FLAG_HEARTBEAT))
		deliver_packet(w, s, &h, d + NM_NET_HDR_SIZE);
	rte_pktmbuf_free(m);
}

static void rx_arp(struct nm_worker *w, struct rte_mbuf *m, uint8_t *frame,
		   const struct nm_pkt_info *pi)
{
	enum nm_drop why = NM_DROP_NONE;
	size_t out_len;
	struct nm_pkt_endpoint sender;
	if (nm_pkt_arp_reply_sender(frame, m->data_len, &w->self, &sender, NULL) == 0) {
		/* The answer to our own request: remember the peer's MAC. */
		nm_peer_learn(&w->dp->peers, sender.ip, &sender.mac);
		w->stats.arp_learned++;
		rte_pktmbuf_free(m);
		return;
	}
	if (nm_pkt_arp_reply(frame, m->data_len, &w->self, &out_len, &why) < 0) {
		drop_mbuf(w, m, why);
		return;
	}
	nm_peer_learn(&w->dp->peers, pi->src.ip, &pi->src.mac);
	m->data_len = m->pkt_len = (uint32_t)out_len;
	m->ol_flags = 0;
	w->stats.arp_replies++;
	tx_push(w, m);
}

static void rx_icmp(struct nm_worker *w, struct rte_mbuf *m, uint8_t *frame)
{
	enum nm_drop why = NM_DROP_NONE;
	size_t out_len;
	if (nm_pkt_icmp_echo_reply(frame, m->data_len, &w->self, w->rx_flags, &out_len, &why) < 0) {
		drop_mbuf(w, m, why);
		return;
	}
	m->data_len = m->pkt_len = (uint32_t)out_len;
	m->ol_flags = 0;
	w->stats.icmp_replies++;
	tx_push(w, m);
}

static unsigned rx_flags_of(const struct nm_worker *w, const struct rte_mbuf *m)
{
	unsigned f = 0;
	if ((w->rx_flags & NM_PKT_RX_IP_CKSUM_GOOD) &&
	    (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= NM_PKT_RX_IP_CKSUM_GOOD;
	if ((w->rx_flags & NM_PKT_RX_L4_CKSUM_GOOD) &&
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= NM_PKT_RX_L4_CKSUM_GOOD;
	return f;
}

static void rx_one(struct nm_worker *w, struct rte_mbuf *m)
{
	w->stats.rx_packets++;
	w->stats.rx_bytes += m->pkt_len;
	if (m->nb_segs != 1) {
		drop_mbuf(w, m, NM_DROP_RX_MULTISEG);
		return;
	}
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	if (nm_pkt_parse(frame, m->data_len, &w->self, rx_flags_of(w, m), &pi, &why) < 0) {
		drop_mbuf(w, m, why);
		return;
	}
	switch (pi.kind) {
	case NM_PKT_ARP:
		rx_arp(w, m, frame, &pi);
		break;
	case NM_PKT_ICMP:
		rx_icmp(w, m, frame);
		break;
	default:
		rx_net(w, m, frame + pi.data_off, pi.data_len, &pi, false);
		break;
	}
}

/* A packet another lcore handed us because we own its session. */
static void serve_handoff_packet(struct nm_worker *w, struct rte_mbuf *m)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct nm_pkt_info pi;
	/* Parsed once already; redo it only to find the datagram (cheap, no checksums). */
	nm_pkt_parse(frame, m->data_len, &w->self, NM_PKT_RX_IP_CKSUM_GOOD | NM_PKT_RX_L4_CKSUM_GOOD,
		     &pi, NULL);
	rx_net(w, m, frame + pi.data_off, pi.data_len, &pi, true);
}

/* ---------------------------------------------------------------- loop */

static unsigned drain_ring(struct nm_worker *w, struct rte_ring *r,
			   void (*serve)(struct nm_worker *, struct rte_mbuf *))
{
	struct rte_mbuf *ms[NM_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(r, (void **)ms, NM_BURST, NULL);
	for (unsigned i = 0; i < n; i++)
		serve(w, ms[i]);
	return n;
}

/* A frame built by the control thread (handshake, heartbeat): just send it. */
static void serve_control_tx(struct nm_worker *w, struct rte_mbuf *m)
{
	tx_push(w, m);
}

/* What other lcores handed us, then this burst's outputs. */
static unsigned serve_handoffs(struct nm_worker *w)
{
	unsigned n = drain_ring(w, w->pkt_in, serve_handoff_packet);
	n += drain_ring(w, w->evt_in, serve_handoff_event);
	n += drain_ring(w, w->tx_in, serve_control_tx);
	flush_outputs(w);
	return n;
}

unsigned nm_worker_poll(struct nm_worker *w)
{
	struct rte_mbuf *ms[NM_BURST];
	w->now_ns = nm_wall_ns();
	uint16_t n = rte_eth_rx_burst(w->port_id, (uint16_t)w->index, ms, w->dp->burst);
	for (uint16_t i = 0; i < n; i++)
		rx_one(w, ms[i]);
	return n + serve_handoffs(w);
}

int nm_worker_main(void *arg)
{
	struct nm_worker *w = arg;
	unsigned iter = 0;
	nm_ctl_set_running(&w->ctl, true);
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		unsigned n = nm_worker_poll(w);
		if (n == 0 || ++iter % CTL_EVERY == 0)
			nm_ctl_serve(&w->ctl, nm_worker_handle, w, 8);
	}
	/* No more RX (a port may never run dry): finish what was handed to us. */
	while (serve_handoffs(w) != 0)
		;
	nm_ctl_serve(&w->ctl, nm_worker_handle, w, UINT32_MAX);
	nm_ctl_set_running(&w->ctl, false);
	nm_ctl_serve(&w->ctl, nm_worker_handle, w, UINT32_MAX);
	return 0;
}

/* ---------------------------------------------------------------- control */

static int set_route(struct nm_worker *w, const struct nm_dp_route *r)
{
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, r->origin);
	if (d == NULL || d->lcore != w->lcore)
		return NM_ENOT_FOUND;
	if (r->session_id != 0 && nm_u64map_get(&w->sessions, r->session_id) == NULL)
		return -ENOENT;
	d->route_session = r->session_id;
	d->route_stream = r->stream;
	return 0;
}

int nm_worker_handle(void *ctx, const struct nm_ctl_msg *m)
{
	struct nm_worker *w = ctx;
	switch (m->op) {
	case NM_CTL_EXEC:
		return nm_exec_run(m->arg);
	case NM_CTL_ROUTE_ADD: {
		struct nm_dp_daemon *d = m->arg;
		return nm_u64map_insert(&w->daemons, d->origin, d);
	}
	case NM_CTL_ROUTE_DEL:
		return nm_u64map_remove(&w->daemons, m->key) != NULL ? 0 : NM_ENOT_FOUND;
	case NM_CTL_SESSION_ADD: {
		struct nm_session *s = m->arg;
		return nm_u64map_insert(&w->sessions, s->session_id, s);
	}
	case NM_CTL_SESSION_DEL:
		/* Outputs batched for it were flushed before this message was read. */
		return nm_u64map_remove(&w->sessions, m->key) != NULL ? 0 : -ENOENT;
	case NM_CTL_OUTPUT_ROUTE:
		return set_route(w, m->arg);
	default:
		return -ENOTSUP;
	}
}

/* ---------------------------------------------------------------- setup */

static struct rte_ring *handoff_ring(const char *what, unsigned lcore)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "%s_%u", what, lcore);
	return rte_ring_create(name, NM_HANDOFF_RING, rte_lcore_to_socket_id(lcore), RING_F_SC_DEQ);
}

int nm_worker_init(struct nm_worker *w, struct nm_dataplane *dp, unsigned index, unsigned lcore)
{
	w->dp = dp;
	w->index = index;
	w->lcore = lcore;
	w->port_id = dp->port.port_id;
	w->mtu = dp->port.mtu;
	w->pool = dp->port.pool;
	w->rx_flags = (dp->port.rx_ip_cksum ? NM_PKT_RX_IP_CKSUM_GOOD : 0) |
		      (dp->port.rx_udp_cksum ? NM_PKT_RX_L4_CKSUM_GOOD : 0);
	w->tx_flags = (dp->port.tx_ip_cksum ? NM_PKT_TX_IP_CKSUM_OFFLOAD : 0) |
		      (dp->port.tx_udp_cksum ? NM_PKT_TX_UDP_CKSUM_OFFLOAD : 0);
	/* NetHeader origin_hash of what we send: this node's identity (wire.md 8.3). */
	w->node_origin = nm_mesh_identity(dp->mesh)->origin_hash;
	w->self.mac = dp->port.mac;
	w->self.ip = dp->ip;
	w->self.port = dp->udp_port;
	atomic_init(&w->stop, false);
	nm_outputs_init(&w->out, w->out_ev, NM_OUT_EVENTS, w->out_arena, NM_OUT_ARENA);

	int rc = nm_u64map_init(&w->daemons, 1024);
	if (rc == 0)
		rc = nm_u64map_init(&w->sessions, 256);
	if (rc < 0)
		return rc;
	w->pkt_in = handoff_ring("w2w_pkt", lcore);
	w->evt_in = handoff_ring("w2w_evt", lcore);
	w->tx_in = handoff_ring("ctl_tx", lcore);
	if (w->pkt_in == NULL || w->evt_in == NULL || w->tx_in == NULL)
		return -ENOMEM;
	return nm_ctl_chan_init(&w->ctl, lcore, (int)rte_lcore_to_socket_id(lcore));
}

static void free_ring_mbufs(struct rte_ring *r)
{
	struct rte_mbuf *m;
	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

void nm_worker_fini(struct nm_worker *w)
{
	free_ring_mbufs(w->pkt_in);
	free_ring_mbufs(w->evt_in);
	free_ring_mbufs(w->tx_in);
	for (uint16_t i = 0; i < w->n_tx; i++)
		rte_pktmbuf_free(w->tx[i]);
	w->n_tx = 0;
	rte_ring_free(w->pkt_in);
	rte_ring_free(w->evt_in);
	rte_ring_free(w->tx_in);
	nm_ctl_chan_fini(&w->ctl);
	nm_u64map_fini(&w->daemons);
	nm_u64map_fini(&w->sessions);
}

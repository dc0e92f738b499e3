/* SPDX-License-Identifier: MIT */
/* nm_worker.c - the per-lcore packet path (see header). */
#include "nm_worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_peek.h>

#include "nm_aead.h"
#include "nm_causal.h"
#include "nm_chain.h"
#include "nm_dataplane.h"
#include "nm_exec.h"
#include "nm_host.h"
#include "nm_time.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_migwire.h"
#include "nm_packet.h"
#include "nm_rx.h"
#include "nm_session.h"
#include "nm_snapshot.h"
#include "nm_wire.h"

#define CTL_EVERY 16 /* serve control messages once per this many idle-or-busy loops */

_Static_assert(NM_BURST <= NM_AEAD_BURST_MAX, "a burst is sealed/opened in one call");

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

static void tx_seal_pending(struct nm_worker *w);
static void flush_outputs(struct nm_worker *w);

static void tx_flush(struct nm_worker *w)
{
	tx_seal_pending(w);
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

/* Drop the TX slots set to NULL, keeping the order of the rest. */
static void tx_compact(struct nm_worker *w)
{
	uint16_t k = 0;
	for (uint16_t i = 0; i < w->n_tx; i++)
		if (w->tx[i] != NULL)
			w->tx[k++] = w->tx[i];
	w->n_tx = k;
}

/* Seal the framed packets of this flush as one burst, then give them their UDP/IP headers. */
static void tx_seal_pending(struct nm_worker *w)
{
	struct nm_aead_op ops[NM_BURST];
	const uint16_t n = w->n_tx_seal;
	if (n == 0)
		return;
	for (uint16_t k = 0; k < n; k++) {
		const struct nm_tx_pending *p = &w->tx_seal[k];
		ops[k] = (struct nm_aead_op){
			.key = p->key,
			.pkt = rte_pktmbuf_mtod(w->tx[p->slot], uint8_t *) + NM_PKT_DATA_OFF,
			.len = p->dlen,
			.counter = p->counter,
		};
	}
	bool dropped = nm_aead_seal_burst(w->aead, ops, n) != n;
	for (uint16_t k = 0; k < n; k++) {
		const struct nm_tx_pending *p = &w->tx_seal[k];
		struct rte_mbuf *m = w->tx[p->slot];
		const struct nm_packet_tx t = { .src = &w->self, .dst = &p->dst, .ip_id = p->ip_id,
						.tx_flags = w->tx_flags };
		size_t len;
		/* Framing checked these lengths already: a failure here is a size error. */
		if (ops[k].rc < 0 ||
		    nm_packet_finish(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &t,
				     p->dlen, &len) < 0) {
			drop_mbuf(w, m, NM_DROP_TX_TOO_LARGE);
			w->tx[p->slot] = NULL;
			dropped = true;
			continue;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		tx_offload(w, m);
	}
	w->n_tx_seal = 0;
	if (dropped)
		tx_compact(w);
}

static bool peer_endpoint(struct nm_worker *w, const struct nm_session *s,
			  struct nm_pkt_endpoint *dst)
{
	return nm_peer_endpoint(&w->dp->peers.peers[s->peer], dst);
}

/* A framed packet joins tx[]; the flush seals it with the others. */
static void tx_push_unsealed(struct nm_worker *w, struct rte_mbuf *m,
			     const struct nm_packet_tx *t, size_t dlen)
{
	if (w->n_tx == NM_BURST)
		tx_flush(w);
	w->tx_seal[w->n_tx_seal++] = (struct nm_tx_pending){
		.slot = w->n_tx, .ip_id = t->ip_id, .dlen = (uint32_t)dlen,
		.counter = t->counter, .key = t->key, .dst = *t->dst,
	};
	w->tx[w->n_tx++] = m;
}

/* ---------------------------------------------------------------- outputs framed in place */

static uint8_t *pkt_frames(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, uint8_t *) + NM_PKT_DATA_OFF + NM_NET_HDR_SIZE;
}

/* EventFrame bytes an mbuf of this tailroom takes, at most `budget` (nm_packet_frame's bound). */
static uint32_t pkt_cap(const struct rte_mbuf *m, size_t budget)
{
	const size_t fixed = NM_PKT_DATA_OFF + NM_NET_HDR_SIZE + NM_NET_TAG_SIZE;
	const size_t room = rte_pktmbuf_tailroom(m);
	size_t cap = room > fixed ? room - fixed : 0;
	if (cap > budget)
		cap = budget;
	return (uint32_t)(cap < NM_NET_MAX_PAYLOAD ? cap : NM_NET_MAX_PAYLOAD);
}

/* The outputs' arena becomes p's frames (after `used` bytes already there). */
static void out_arena_at(struct nm_worker *w, const struct nm_out_pkt *p, uint32_t used)
{
	w->out.arena = p->frames;
	w->out.cap = p->cap;
	w->out.used = used;
	w->out_open = true;
	w->out_n0 = w->out.n;
}

/*
 * Open opkt[n_opkt] for outputs of `need` bytes: a packet at the MTU, or, when
 * one output alone is larger, an nm_big_p mbuf for a datagram up to the Net
 * maximum (fragmented at the flush). false: no mbuf.
 */
static bool out_open(struct nm_worker *w, uint32_t need, const struct nm_out_pkt *group)
{
	const bool big = need > w->out_budget;
	struct rte_mbuf *m = NULL;
	if (big) {
		m = rte_pktmbuf_alloc(w->big_pool);
	} else if (w->spare != NULL) {
		m = w->spare;
		w->spare = NULL;
	} else {
		m = rte_pktmbuf_alloc(w->pool);
	}
	if (m == NULL)
		return false;
	struct nm_out_pkt *p = &w->opkt[w->n_opkt];
	*p = *group;
	p->m = m;
	p->frames = pkt_frames(m);
	p->cap = pkt_cap(m, big ? NM_NET_MAX_PAYLOAD : w->out_budget);
	p->bytes = 0;
	p->events = 0;
	p->big = big;
	out_arena_at(w, p, 0);
	return true;
}

/* The open packet is complete: it waits for the flush (an empty one's mbuf is kept or freed). */
static void out_close(struct nm_worker *w)
{
	if (!w->out_open)
		return;
	struct nm_out_pkt *p = &w->opkt[w->n_opkt];
	p->bytes = w->out.used;
	p->events += w->out.n - w->out_n0;
	w->out_open = false;
	w->out.arena = NULL;
	w->out.cap = 0;
	w->out.used = 0;
	if (p->events != 0) {
		w->n_opkt++;
	} else if (!p->big && w->spare == NULL) {
		w->spare = p->m;
	} else {
		rte_pktmbuf_free(p->m);
	}
}

/*
 * Where the open packet was before this call, to undo the call: taken at its
 * first refill (out_refill), the only step that moves to another packet, so a
 * call that stays in its packet costs one store (call_used0) to undo.
 */
static void out_mark(struct nm_worker *w)
{
	if (w->call_marked)
		return;
	const struct nm_out_pkt *p = &w->opkt[w->n_opkt];
	w->call_mark = (struct nm_out_mark){ w->n_opkt, w->call_used0, p->events, p->m };
	w->call_marked = true;
}

/* nm_outputs.refill: the open packet is full, the call's next output goes in a new one. */
static int out_refill(void *ctx, struct nm_outputs *o, uint32_t need)
{
	struct nm_worker *w = ctx;
	(void)o;
	if (!w->out_open || w->n_opkt + 2 > NM_OUT_PKTS)
		return -ENOSPC; /* more than a call may emit between flushes: it fails */
	out_mark(w);
	const struct nm_out_pkt group = w->opkt[w->n_opkt];
	out_close(w);
	if (!out_open(w, need, &group)) {
		w->out_nombuf = true;
		return -ENOBUFS;
	}
	return 0;
}

/* The call failed: its outputs go, packets opened for them too; the packet before is open again. */
static void out_rollback(struct nm_worker *w)
{
	if (!w->call_marked) {
		w->out.used = w->call_used0; /* no refill: the same packet, as it was */
		return;
	}
	const struct nm_out_mark *mk = &w->call_mark;
	const uint32_t end = w->n_opkt + (w->out_open ? 1 : 0);
	const uint32_t keep = mk->used != 0 ? mk->n_opkt + 1 : mk->n_opkt;
	if (w->out_open && end == mk->n_opkt + 1 && w->opkt[mk->n_opkt].m == mk->m) {
		w->out.used = mk->used; /* no refill: the same packet, as it was */
		return;
	}
	for (uint32_t k = keep; k < end; k++)
		rte_pktmbuf_free(w->opkt[k].m);
	w->n_opkt = mk->n_opkt;
	w->out_open = false;
	w->out.arena = NULL;
	w->out.cap = 0;
	w->out.used = 0;
	if (keep > mk->n_opkt) {
		struct nm_out_pkt *p = &w->opkt[mk->n_opkt];
		p->events = mk->events;
		out_arena_at(w, p, mk->used);
	}
}

/* out_target when the open packet is not d's (or none is): a packet for them. */
static bool out_target_new(struct nm_worker *w, struct nm_session *dest, uint64_t stream,
			   struct nm_dp_daemon *d)
{
	struct nm_out_pkt *p = &w->opkt[w->n_opkt];
	struct nm_pkt_endpoint dst;
	if (!peer_endpoint(w, dest, &dst)) {
		drop(w, NM_DROP_NO_ROUTE);
		return false;
	}
	const struct nm_out_pkt group = { .session = dest, .stream = stream, .src = d };
	if (w->out_open && w->out.used == 0 && !p->big) {
		p->session = dest; /* empty: it changes hands */
		p->stream = stream;
		p->src = d;
		return true;
	}
	out_close(w);
	if (w->n_opkt >= NM_OUT_PKTS - 1)
		flush_outputs(w); /* the callers flush long before this */
	if (!out_open(w, 0, &group)) {
		drop(w, NM_DROP_NO_MBUF);
		return false;
	}
	return true;
}

/*
 * Before a call of d (outputs to dest, stream): the open packet is theirs, or
 * a new one is. false (counted): no route or no mbuf, and the daemon does not
 * run, so its chain never moves for outputs that could not leave.
 */
static inline bool out_target(struct nm_worker *w, struct nm_session *dest, uint64_t stream,
			      struct nm_dp_daemon *d)
{
	const struct nm_out_pkt *p = &w->opkt[w->n_opkt];
	if (w->out_open && p->session == dest && p->stream == stream && p->src == d)
		return true;
	return out_target_new(w, dest, stream, d);
}

/* A complete datagram above the MTU: sealed on its own, sent as IPv4 fragments (rare). */
static void tx_big(struct nm_worker *w, const struct nm_out_pkt *p, struct nm_packet_tx *t)
{
	t->counter = nm_session_next_tx(p->session);
	t->tx_flags = 0; /* a NIC cannot compute a UDP checksum over fragments */
	t->ip_id = nm_dataplane_frag_id(w->dp);
	uint8_t *frame = rte_pktmbuf_mtod(p->m, uint8_t *);
	const size_t cap = rte_pktmbuf_tailroom(p->m);
	size_t dlen, len;
	nm_packet_header(frame, t, p->bytes, p->events, &dlen);
	if (nm_aead_seal(t->key, frame + NM_PKT_DATA_OFF, cap - NM_PKT_DATA_OFF, t->counter) < 0 ||
	    nm_packet_finish(frame, cap, t, dlen, &len) < 0) {
		w->stats.drops[NM_DROP_TX_TOO_LARGE] += p->events; /* out_open sized it: not reached */
		rte_pktmbuf_free(p->m);
		return;
	}
	struct rte_mbuf *frags[NM_FRAG_MAX_FRAGS];
	int n = nm_frag_mbufs(frame, len, w->mtu, w->tx_flags, w->pool, frags, NM_FRAG_MAX_FRAGS);
	rte_pktmbuf_free(p->m);
	if (n < 0) {
		w->stats.drops[n == -ENOBUFS ? NM_DROP_NO_MBUF : NM_DROP_TX_TOO_LARGE] += p->events;
		return;
	}
	p->src->tx_seq++;
	w->stats.frag_sent++;
	for (int k = 0; k < n; k++)
		tx_push(w, frags[k]);
}

/* A complete output packet: its counter and NetHeader now, in flush order; sealed with the burst. */
static void tx_out_pkt(struct nm_worker *w, const struct nm_out_pkt *p)
{
	struct nm_pkt_endpoint dst;
	if (!peer_endpoint(w, p->session, &dst)) {
		w->stats.drops[NM_DROP_NO_ROUTE] += p->events;
		rte_pktmbuf_free(p->m);
		return;
	}
	struct nm_packet_tx t = {
		.src = &w->self,
		.dst = &dst,
		.ip_id = w->ip_id,
		.tx_flags = w->tx_flags,
		.key = &p->session->tx,
		.session_id = p->session->session_id,
		.stream_id = p->stream,
		.sequence = p->src->tx_seq,
		.origin_hash = w->node_origin,
	};
	if (p->big) {
		tx_big(w, p, &t);
		return;
	}
	size_t dlen;
	nm_packet_header(rte_pktmbuf_mtod(p->m, uint8_t *), &t, p->bytes, p->events, &dlen);
	t.counter = nm_session_next_tx(p->session);
	w->ip_id++;
	p->src->tx_seq++;
	tx_push_unsealed(w, p->m, &t, dlen);
}

/* Send this burst's output packets, in the order they were filled. */
static void flush_outputs(struct nm_worker *w)
{
	out_close(w);
	for (uint32_t k = 0; k < w->n_opkt; k++)
		tx_out_pkt(w, &w->opkt[k]);
	w->n_opkt = 0;
	nm_outputs_reset(&w->out);
	/* An idle worker holds no mbuf: every one is back in the pool between bursts. */
	rte_pktmbuf_free(w->spare);
	w->spare = NULL;
	tx_flush(w);
}

/* ---------------------------------------------------------------- events */

/*
 * Flush once NM_OUT_FLUSH output packets are complete (counting those an input
 * of `bytes` may make), before the next input rather than in its middle: the
 * packets left are room for any one call.
 */
static void ensure_room(struct nm_worker *w, uint32_t bytes)
{
	/* n_opkt + bytes / out_budget >= NM_OUT_FLUSH, without a division per packet */
	if (w->n_opkt >= NM_OUT_FLUSH ||
	    (uint64_t)bytes >= (uint64_t)(NM_OUT_FLUSH - w->n_opkt) * w->out_budget)
		flush_outputs(w);
}

struct rte_mbuf *nm_dp_event_mbuf(struct rte_mempool *pool, uint64_t session_id, uint64_t daemon,
				  const struct nm_event *ev, uint32_t flags, int *rc)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL) {
		*rc = -ENOBUFS;
		return NULL;
	}
	struct nm_dp_event_hdr *h =
		(struct nm_dp_event_hdr *)rte_pktmbuf_append(m, sizeof(*h) + ev->len);
	if (h == NULL) {
		rte_pktmbuf_free(m);
		*rc = -EMSGSIZE;
		return NULL;
	}
	*h = (struct nm_dp_event_hdr){ .session_id = session_id, .daemon = daemon,
				       .received_at = ev->received_at, .flags = flags,
				       .len = ev->len };
	nm_link_to_bytes(&ev->link, h->link);
	memcpy(h + 1, ev->payload, ev->len);
	*rc = 0;
	return m;
}

/* A hand-off or a hold of an event that came in on s; NULL: no mbuf (an event fits the frame it came in). */
static struct rte_mbuf *event_mbuf(struct nm_worker *w, const struct nm_session *s,
				   uint64_t daemon, const struct nm_event *ev)
{
	int rc;
	return nm_dp_event_mbuf(w->pool, s->session_id, daemon, ev, 0, &rc);
}

/*
 * The daemon is migrating: the event waits in its hold, numbered in arrival
 * order, instead of reaching the host. A full hold is a counted drop (the
 * control thread sizes it for the whole cutover and drains it after).
 */
static void serve_handoff_event(struct nm_worker *w, struct rte_mbuf *m);
static void deliver_local(struct nm_worker *w, struct nm_dp_daemon *d, struct nm_session *s,
			  const struct nm_event *ev, uint32_t flags);

/* The owner calls the migration off: what was held reaches the host, in order. */
static void unhold(struct nm_worker *w, struct nm_dp_daemon *d)
{
	struct rte_ring *ring = d->hold->ring;
	d->hold = NULL;
	struct rte_mbuf *m;
	while (rte_ring_sc_dequeue(ring, (void **)&m) == 0)
		serve_handoff_event(w, m);
}

/*
 * The daemon is migrating: the event waits in its hold, numbered in arrival
 * order, instead of reaching the host. When the hold cannot take it, the
 * migration gives way before the event does (see NM_DP_HOLD_OPEN).
 */
static void hold_event(struct nm_worker *w, struct nm_dp_daemon *d, struct nm_session *s,
		       const struct nm_event *ev)
{
	struct nm_dp_hold *hd = d->hold;
	struct rte_mbuf *m = event_mbuf(w, s, d->origin, ev);
	if (m != NULL) {
		struct nm_dp_event_hdr *h = rte_pktmbuf_mtod(m, struct nm_dp_event_hdr *);
		h->mseq = hd->mseq + 1;
		if (rte_ring_mp_enqueue(hd->ring, m) == 0) {
			hd->mseq++;
			w->stats.events_held++;
			return;
		}
		rte_pktmbuf_free(m);
	}
	const enum nm_drop why = m == NULL ? NM_DROP_NO_MBUF : NM_DROP_MIG_HOLD_FULL;
	uint32_t open = NM_DP_HOLD_OPEN;
	if (d->host != NULL && atomic_compare_exchange_strong(&hd->state, &open,
							      NM_DP_HOLD_RELEASED)) {
		w->stats.holds_released++;
		unhold(w, d);
		deliver_local(w, d, s, ev, 0);
		return;
	}
	hd->full++;
	drop(w, why);
}

/* The call failed: its outputs are undone; the chain did not move. */
static void call_failed(struct nm_worker *w)
{
	out_rollback(w);
	/* An output with no mbuf to go in is the drop's reason. */
	if (w->out_nombuf)
		drop(w, NM_DROP_NO_MBUF);
	else
		w->stats.events_failed++;
}

/*
 * One process() call of d, its output packet open: outputs kept and counted,
 * or undone. true: it succeeded, and the open packet is still d's (a refill
 * opens the next one for the same place).
 */
static inline bool run_call(struct nm_worker *w, struct nm_dp_daemon *d, const struct nm_event *ev)
{
	w->call_used0 = w->out.used;
	w->call_marked = false;
	w->out_nombuf = false;
	w->out.n = 0; /* event slots are per call: the outputs themselves are in the packets */
	w->out_n0 = 0;
	if (nm_host_deliver(d->host, ev, &w->out, w->now_ns, &w->err) < 0) {
		call_failed(w);
		return false;
	}
	w->opkt[w->n_opkt].events += w->out.n - w->out_n0; /* the open one: out_target made it */
	w->out_n0 = w->out.n;
	w->stats.events_delivered++;
	w->stats.events_emitted += w->out.n;
	return true;
}

/* Before each call: a flush once NM_OUT_FLUSH packets are complete (room for any one call). */
static inline bool call_room(struct nm_worker *w)
{
	if (w->n_opkt < NM_OUT_FLUSH)
		return false;
	flush_outputs(w);
	return true; /* the open packet is gone */
}

static void deliver_local(struct nm_worker *w, struct nm_dp_daemon *d, struct nm_session *s,
			  const struct nm_event *ev, uint32_t flags)
{
	if (d->hold != NULL && !(d->hold->target && (flags & NM_DP_EV_INJECTED))) {
		hold_event(w, d, s, ev);
		return;
	}
	if (d->host == NULL) { /* a target's stub: only its hold takes events */
		drop(w, NM_DROP_DAEMON_UNKNOWN);
		return;
	}
	call_room(w);
	struct nm_session *dest = s;
	uint64_t stream = d->origin;
	if (d->route_session != 0) {
		dest = nm_u64map_get(&w->sessions, d->route_session);
		stream = d->route_stream;
		if (dest == NULL) {
			/* The routed session is gone: its outputs could not leave, so it does not run. */
			drop(w, NM_DROP_NO_ROUTE);
			return;
		}
	}
	if (!out_target(w, dest, stream, d))
		return;
	run_call(w, d, ev);
}

static void handoff_event(struct nm_worker *w, unsigned owner, const struct nm_session *s,
			  uint64_t daemon, const struct nm_event *ev)
{
	struct nm_worker *o = w->dp->by_lcore[owner];
	struct rte_mbuf *m = event_mbuf(w, s, daemon, ev);
	if (m == NULL) {
		drop(w, NM_DROP_NO_MBUF);
		return;
	}
	if (rte_ring_mp_enqueue(o->evt_in, m) != 0) {
		drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	w->stats.events_handed_off++;
}

/* A packet's 0x0400 frames, read where they lie, one event at a time. */
struct frames {
	const uint8_t *p;
	const uint8_t *end;
	uint32_t left; /* of event_count */
};

/* The next frame into ev (its received_at is set once per packet, by dispatch). */
static inline bool frames_next(struct frames *f, struct nm_event *ev)
{
	if (f->left == 0 || !nm_causal_frame_next(&f->p, f->end, ev))
		return false;
	f->left--;
	return true;
}

/* Every frame of a packet goes to the daemon stream_id names: one lookup per packet. */
static void dispatch(struct nm_worker *w, struct nm_session *s, uint64_t daemon, struct frames *f,
		     uint32_t bytes)
{
	struct nm_event ev = { .received_at = w->now_ns }; /* the packet's frames: one arrival time */
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, daemon);
	if (d == NULL) {
		while (frames_next(f, &ev))
			w->stats.drops[NM_DROP_DAEMON_UNKNOWN]++;
		return;
	}
	if (d->lcore != w->lcore) {
		while (frames_next(f, &ev))
			handoff_event(w, d->lcore, s, daemon, &ev);
		return;
	}
	/* Flush before a packet rather than in its middle: full inputs make full outputs. */
	ensure_room(w, bytes);
	if (d->hold != NULL || d->host == NULL || d->route_session != 0) {
		while (frames_next(f, &ev))
			deliver_local(w, d, s, &ev, 0);
		return;
	}
	/*
	 * The common case, checked once per packet: no hold (only a control
	 * message, between bursts, sets one), a host, replies on s. The open
	 * packet is checked only when it may not be d's: first, after a flush,
	 * after a failed call (which may have closed it).
	 */
	bool open = false;
	while (frames_next(f, &ev)) {
		if (call_room(w))
			open = false;
		if (!open && !out_target(w, s, d->origin, d))
			continue;
		open = run_call(w, d, &ev);
	}
}

static void serve_handoff_event(struct nm_worker *w, struct rte_mbuf *m)
{
	const struct nm_dp_event_hdr *h = rte_pktmbuf_mtod(m, const struct nm_dp_event_hdr *);
	struct nm_session *s = nm_u64map_get(&w->sessions, h->session_id);
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, h->daemon);
	if (s == NULL) {
		drop_mbuf(w, m, NM_DROP_SESSION_UNKNOWN);
		return;
	}
	if (d == NULL) {
		drop_mbuf(w, m, NM_DROP_DAEMON_UNKNOWN);
		return;
	}
	if (d->lcore != w->lcore) {
		/* Its owner changed while the event was on its way (a migration's stub): pass it on. */
		struct nm_worker *o = w->dp->by_lcore[d->lcore];
		if (o == NULL || rte_ring_mp_enqueue(o->evt_in, m) != 0)
			drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	struct nm_event ev = { .payload = (const uint8_t *)(h + 1), .len = h->len,
			       .received_at = h->received_at };
	nm_link_from_bytes(&ev.link, h->link, sizeof(h->link));
	deliver_local(w, d, s, &ev, h->flags);
	rte_pktmbuf_free(m);
}

/* ---------------------------------------------------------------- RX */

/*
 * An authenticated migration (0x0500) packet: the control thread runs the
 * protocol. It gets an mbuf of the EventFrames alone, tagged with the
 * session's peer: the packet's own mbuf trimmed, or for a flat frame (m
 * NULL) a copy in one of big_pool. Returns false when m was not kept
 * (counted; the caller frees it).
 */
static bool to_migration(struct nm_worker *w, struct rte_mbuf *m, const struct nm_session *s,
			 const struct nm_net_hdr *h, const uint8_t *payload)
{
	struct rte_ring *r = w->dp->mig_rx;
	if (w->dp->mig_fn == NULL) {
		drop(w, NM_DROP_SUBPROTOCOL);
		return false;
	}
	struct rte_mbuf *c = m;
	if (m != NULL) {
		rte_pktmbuf_adj(m, (uint16_t)(payload - rte_pktmbuf_mtod(m, const uint8_t *)));
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - h->payload_len));
	} else {
		c = rte_pktmbuf_alloc(w->big_pool);
		uint8_t *p = c != NULL ? (uint8_t *)rte_pktmbuf_append(c, (uint16_t)h->payload_len)
				       : NULL;
		if (p == NULL) {
			rte_pktmbuf_free(c);
			drop(w, NM_DROP_NO_MBUF);
			return false;
		}
		memcpy(p, payload, h->payload_len);
	}
	c->hash.usr = s->peer;
	c->packet_type = h->event_count; /* the control thread reads this many frames */
	if (rte_ring_mp_enqueue(r, c) != 0) {
		if (c != m)
			rte_pktmbuf_free(c);
		drop(w, NM_DROP_MIG_RING_FULL);
		return false;
	}
	w->stats.mig_messages++;
	return true;
}

/* An authenticated data packet: its frames go to the daemon stream_id names. */
static void deliver_packet(struct nm_worker *w, struct nm_session *s, const struct nm_net_hdr *h,
			   const uint8_t *payload)
{
	if (h->subprotocol_id != NM_SUBPROTOCOL_CAUSAL) {
		drop(w, NM_DROP_SUBPROTOCOL);
		return;
	}
	struct frames f = { payload, payload + h->payload_len, h->event_count };
	dispatch(w, s, h->stream_id, &f, h->payload_len);
	/* Upstream delivers the well-formed prefix; the rest is counted once. */
	if (f.left != 0 || f.p != f.end)
		drop(w, NM_DROP_FRAME_OVERRUN);
}

/*
 * Its tag verified: commit the counter (only now), then liveness, MAC, events.
 * Returns p->m for the caller to free with the burst's, or NULL when it was
 * kept (a migration message). p->m may be NULL.
 */
static struct rte_mbuf *rx_opened(struct nm_worker *w, const struct nm_rx_pending *p,
				  uint64_t ctr)
{
	enum nm_drop why = NM_DROP_NONE;
	struct nm_session *s = p->s;
	if (s->replay_window && nm_replay_commit(&s->replay, ctr, &why) < 0) {
		drop(w, why);
		return p->m;
	}
	atomic_store_explicit(&s->last_rx_ns, w->mono_ns, memory_order_relaxed);
	/* Authenticated and fresh: replies follow its source (MAC, UDP port). */
	if (p->has_src)
		nm_peer_set_reply(&w->dp->peers.peers[s->peer], &p->src);
	if (p->h.subprotocol_id == NM_SUBPROTOCOL_MIGRATION && !(p->h.flags & NM_FLAG_HEARTBEAT))
		return to_migration(w, p->m, s, &p->h, p->d + NM_NET_HDR_SIZE) ? NULL : p->m;
	if (!(p->h.flags & NM_FLAG_HEARTBEAT))
		deliver_packet(w, s, &p->h, p->d + NM_NET_HDR_SIZE);
	return p->m;
}

/*
 * Open every packet that passed the replay check as one burst, then handle
 * each in order; their mbufs go back to the pool together at the end (their
 * events were delivered or copied by then).
 */
static void rx_open_pending(struct nm_worker *w)
{
	struct nm_aead_op ops[NM_BURST];
	struct rte_mbuf *done[NM_BURST];
	const uint16_t n = w->n_rx_open;
	if (n == 0)
		return;
	for (uint16_t k = 0; k < n; k++)
		ops[k] = (struct nm_aead_op){ .key = &w->rx_open[k].s->rx, .pkt = w->rx_open[k].d,
					      .len = w->rx_open[k].len };
	nm_aead_open_burst(w->aead, ops, n);
	for (uint16_t k = 0; k < n; k++) {
		if (ops[k].rc < 0) {
			drop(w, ops[k].why);
			done[k] = w->rx_open[k].m;
		} else {
			done[k] = rx_opened(w, &w->rx_open[k], ops[k].counter);
		}
	}
	w->n_rx_open = 0;
	rte_pktmbuf_free_bulk(done, n);
}

/* nm_rx.h's functions may fill the next open slot: make sure there is one. */
static inline void rx_room(struct nm_worker *w)
{
	if (w->n_rx_open == NM_BURST)
		rx_open_pending(w); /* only a caller with more than a burst gets here */
}

static enum nm_rx_verdict rx_reassembled(struct nm_worker *w, const uint8_t *frame, size_t len,
					 struct nm_rx_result *r);

/* The RX path's verdict on the frame in m, which is the worker's from here. */
static void rx_act(struct nm_worker *w, struct rte_mbuf *m, const struct nm_rx_result *r)
{
	switch (r->v) {
	case NM_RX_REPLY:
		m->data_len = (uint16_t)r->len;
		m->pkt_len = r->len;
		m->ol_flags = 0;
		tx_push(w, m);
		return;
	case NM_RX_REASSEMBLED: {
		struct nm_rx_result rr;
		rte_pktmbuf_free(m); /* the reassembler has its own copy */
		rx_reassembled(w, r->frame, r->len, &rr);
		return;
	}
	case NM_RX_FRAG_AWAY:
		if (rte_ring_mp_enqueue(w->dp->workers[r->owner]->pkt_in, m) != 0)
			drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	case NM_RX_SLOWPATH:
		if (r->early)
			m->hash.usr = w->lcore; /* the lcore it reached: its session's RX owner to be */
		if (rte_ring_mp_enqueue(w->dp->slowpath, m) != 0)
			drop_mbuf(w, m, NM_DROP_SLOWPATH_FULL);
		return;
	case NM_RX_HANDOFF: {
		struct nm_worker *o = w->dp->by_lcore[r->owner];
		if (o == NULL || rte_ring_mp_enqueue(o->pkt_in, m) != 0)
			drop_mbuf(w, m, NM_DROP_HANDOFF_FULL);
		return;
	}
	case NM_RX_OPEN:
		w->rx_open[w->n_rx_open++].m = m;
		return;
	case NM_RX_DONE:
	case NM_RX_HELD:
		break;
	}
	rte_pktmbuf_free(m);
}

/* A reassembled datagram, in an mbuf of its own: the packet path as for any frame. */
static enum nm_rx_verdict rx_reassembled(struct nm_worker *w, const uint8_t *frame, size_t len,
					 struct nm_rx_result *r)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->big_pool);
	uint8_t *d = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	if (d == NULL) {
		rte_pktmbuf_free(m);
		drop(w, NM_DROP_NO_MBUF);
		r->v = NM_RX_DONE;
		return r->v;
	}
	memcpy(d, frame, len);
	rx_room(w);
	nm_rx_reassembled(w, d, (uint32_t)len, r);
	rx_act(w, m, r);
	return r->v;
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
	if (m->nb_segs != 1) {
		w->stats.rx_packets++;
		w->stats.rx_bytes += m->pkt_len;
		drop_mbuf(w, m, NM_DROP_RX_MULTISEG);
		return;
	}
	struct nm_rx_result r;
	rx_room(w);
	nm_rx_frame(w, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, rx_flags_of(w, m), &r);
	rx_act(w, m, &r);
}

/* A packet another lcore handed us because we own its session, or a fragment we reassemble. */
static void serve_handoff_packet(struct nm_worker *w, struct rte_mbuf *m)
{
	struct nm_rx_result r;
	rx_room(w);
	nm_rx_handed(w, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &r);
	rx_act(w, m, &r);
}

enum nm_rx_verdict nm_worker_rx_frame(struct nm_worker *w, uint8_t *frame, uint32_t len,
				      unsigned rx_flags, struct nm_rx_result *r)
{
	w->now_ns = nm_wall_ns();
	w->mono_ns = nm_mono_ns();
	rx_room(w);
	enum nm_rx_verdict v = nm_rx_frame(w, frame, len, rx_flags, r);
	if (v == NM_RX_OPEN) {
		w->rx_open[w->n_rx_open++].m = NULL; /* the caller keeps the frame */
	} else if (v == NM_RX_REASSEMBLED) {
		const unsigned frags = r->frags;
		v = rx_reassembled(w, r->frame, r->len, r);
		r->frags = frags;
	}
	rx_open_pending(w);
	flush_outputs(w);
	return v;
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

/*
 * Frames built by the control thread (handshakes, heartbeats, 0x0500 messages
 * and their IPv4 fragments) leave only as fast as the port takes them: what it
 * refuses stays in the ring (peek, then finish with what was sent). A full
 * port thus fills the ring, and the control thread's next send is refused
 * (counted tx_full; the migration engine resumes its chunks at the next poll)
 * instead of fragments of messages it believed sent being dropped here, which
 * cost a whole chunk, a reassembly timeout at the target and a resend.
 */
static unsigned drain_control_tx(struct nm_worker *w)
{
	struct rte_mbuf *ms[NM_BURST];
	unsigned n = rte_ring_dequeue_burst_start(w->tx_in, (void **)ms, NM_BURST, NULL);
	uint16_t sent = 0;
	if (n > 0) {
		tx_flush(w); /* this burst's own outputs first, in order */
		sent = rte_eth_tx_burst(w->port_id, (uint16_t)w->index, ms, (uint16_t)n);
		for (uint16_t i = 0; i < sent; i++) {
			w->stats.tx_packets++;
			w->stats.tx_bytes += ms[i]->pkt_len;
		}
	}
	rte_ring_dequeue_finish(w->tx_in, sent);
	return n;
}

/* At stop: the control thread's frames the port never took, counted as refused by it. */
static void drop_control_tx(struct nm_worker *w)
{
	struct rte_mbuf *m;
	while (rte_ring_dequeue(w->tx_in, (void **)&m) == 0) {
		w->stats.drops[NM_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

/* What other lcores handed us, then this burst's outputs. */
static unsigned serve_handoffs(struct nm_worker *w)
{
	unsigned n = drain_ring(w, w->pkt_in, serve_handoff_packet);
	rx_open_pending(w);
	n += drain_ring(w, w->evt_in, serve_handoff_event);
	n += drain_control_tx(w);
	flush_outputs(w);
	return n;
}

unsigned nm_worker_poll(struct nm_worker *w)
{
	struct rte_mbuf *ms[NM_BURST];
	w->now_ns = nm_wall_ns();
	w->mono_ns = nm_mono_ns();
	if (nm_frag_table_live(w->frag) != 0)
		w->stats.drops[NM_DROP_FRAG_TIMEOUT] += nm_frag_expire(w->frag, nm_mono_ns());
	uint16_t n = rte_eth_rx_burst(w->port_id, (uint16_t)w->index, ms, w->dp->burst);
	for (uint16_t i = 0; i < n; i++)
		rx_one(w, ms[i]);
	rx_open_pending(w);
	return n + serve_handoffs(w);
}

int nm_worker_main(void *arg)
{
	struct nm_worker *w = arg;
	unsigned iter = 0, idle = 0;
	nm_ctl_set_running(&w->ctl, true);
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		unsigned n = nm_worker_poll(w);
		const bool urgent = nm_dataplane_urgent(w->dp); /* a migration waits on our answers */
		if (n == 0 || urgent || ++iter % CTL_EVERY == 0)
			n += nm_ctl_serve(&w->ctl, nm_worker_handle, w, 8);
		idle = n == 0 ? idle + 1 : 0;
		if (w->idle_sleep_us != 0 && idle >= NM_IDLE_POLLS) /* nothing in flight: not on the packet path */
			nm_sleep_us(urgent && w->idle_sleep_us > NM_IDLE_URGENT_US ? NM_IDLE_URGENT_US
										 : w->idle_sleep_us);
	}
	/*
	 * No more RX (a port may never run dry): finish what was handed to us. A
	 * port that refuses the control thread's frames (full, or its peer gone)
	 * must not keep the lcore here: drain_control_tx would report them for
	 * ever. What it still refuses after NM_STOP_DRAIN_NS is dropped, counted.
	 */
	const uint64_t give_up = nm_mono_ns() + NM_STOP_DRAIN_NS;
	while (serve_handoffs(w) != 0 && nm_mono_ns() < give_up)
		;
	drop_control_tx(w);
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

/* Owner: snapshot (if asked) and start holding, in one step between bursts. */
static int mig_hold(struct nm_worker *w, struct nm_dp_mig_req *r)
{
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, r->origin);
	if (d == NULL || d->lcore != w->lcore || d->host == NULL)
		return NM_ENOT_FOUND;
	if (d->hold != NULL)
		return -EBUSY;
	flush_outputs(w); /* outputs of events before the snapshot leave first */
	if (r->snapshot != NULL) {
		int rc = nm_exec_run(r->snapshot);
		if (rc < 0)
			return rc;
		if (*r->snapshot->snap == NULL) {
			/* Stateless: what moves is the chain head, taken at this same instant. */
			const struct nm_host *h = d->host;
			struct nm_snapshot *snap = nm_snapshot_new(nm_identity_entity_id(&h->id),
								   &h->chain.head, NULL, 0, NULL, 0);
			if (snap == NULL)
				return -ENOMEM;
			nm_snapshot_set_next_parent(snap, h->chain.next_parent);
			*r->snapshot->snap = snap;
			r->stateless = true;
		}
	}
	d->hold = r->hold;
	return 0;
}

/* Owner: the migration is off; held events reach the host in their order. */
static int mig_release(struct nm_worker *w, const struct nm_dp_mig_req *r)
{
	struct nm_dp_daemon *d = nm_u64map_get(&w->daemons, r->origin);
	if (d == NULL || d->lcore != w->lcore || d->hold == NULL || d->host == NULL)
		return NM_ENOT_FOUND;
	unhold(w, d);
	flush_outputs(w);
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
	case NM_CTL_ROUTE_REPLACE: {
		struct nm_dp_daemon *d = m->arg;
		nm_u64map_remove(&w->daemons, m->key);
		return nm_u64map_insert(&w->daemons, d->origin, d);
	}
	case NM_CTL_MIG_HOLD:
		return mig_hold(w, m->arg);
	case NM_CTL_MIG_RELEASE:
		return mig_release(w, m->arg);
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
	int rc = nm_aead_lib_init();
	if (rc < 0)
		return rc;
	/* This lcore's own AEAD state (an IMB_MGR for ipsec-mb), made here, never on the path. */
	if ((w->aead = nm_aead_batch_new()) == NULL)
		return -ENOMEM;
	/* No arena of its own: outputs are framed in the packets they leave in (out_open). */
	nm_outputs_init(&w->out, w->out_ev, NM_OUT_EVENTS, NULL, 0);
	w->out.framed = true;
	w->out.refill = out_refill;
	w->out.refill_ctx = w;
	/* An output no datagram can carry fails its process() call: the chain never skips it. */
	w->out.max_len = NM_PACKET_MAX_EVENT;
	size_t budget = nm_packet_budget(w->mtu);
	w->out_budget = (uint32_t)(budget < NM_NET_MAX_PAYLOAD ? budget : NM_NET_MAX_PAYLOAD);
	w->big_pool = dp->port.big_pool;
	size_t fsz = nm_frag_table_size(dp->frag_entries);
	void *fmem = fsz != 0 ? rte_zmalloc_socket("nm_frag", fsz, RTE_CACHE_LINE_SIZE,
						   (int)rte_lcore_to_socket_id(lcore))
			      : NULL;
	w->frag = nm_frag_table_init(fmem, dp->frag_entries, dp->frag_timeout_ns);
	if (w->frag == NULL) {
		rte_free(fmem);
		return -ENOMEM;
	}

	rc = nm_u64map_init(&w->daemons, 1024);
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
	for (uint32_t k = 0; k < w->n_opkt + (w->out_open ? 1 : 0); k++)
		rte_pktmbuf_free(w->opkt[k].m);
	w->n_opkt = 0;
	w->out_open = false;
	rte_pktmbuf_free(w->spare);
	w->spare = NULL;
	w->n_tx_seal = 0;
	nm_aead_batch_free(w->aead);
	w->aead = NULL;
	rte_ring_free(w->pkt_in);
	rte_ring_free(w->evt_in);
	rte_ring_free(w->tx_in);
	nm_ctl_chan_fini(&w->ctl);
	if (w->frag != NULL)
		w->stats.drops[NM_DROP_FRAG_TIMEOUT] += nm_frag_flush(w->frag);
	rte_free(w->frag);
	w->frag = NULL;
	nm_u64map_fini(&w->daemons);
	nm_u64map_fini(&w->sessions);
}

/* SPDX-License-Identifier: MIT */
/* nm_rx.c - the worker's receive decisions on a flat frame (see header). */
#include "nm_rx.h"

#include "nm_dataplane.h"
#include "nm_le.h"
#include "nm_peer.h"
#include "nm_replay.h"
#include "nm_session.h"
#include "nm_time.h"

static inline enum nm_rx_verdict rx_drop(struct nm_worker *w, enum nm_drop why,
					 struct nm_rx_result *r)
{
	w->stats.drops[why]++;
	r->v = NM_RX_DONE;
	return r->v;
}

static inline enum nm_rx_verdict rx_is(enum nm_rx_verdict v, struct nm_rx_result *r)
{
	r->v = v;
	return v;
}

/*
 * A data packet for a session we do not have. If we initiated a handshake
 * with its sender, its msg2 may be waiting in the slow-path ring and this is
 * the responder's first data: it queues behind msg2 (order kept) and the
 * session manager hands it back once the session is installed. Bounded per
 * peer (nm_peer_early_take); anything else is session_unknown.
 */
static enum nm_rx_verdict rx_unknown_session(struct nm_worker *w, uint32_t src_ip,
					     struct nm_rx_result *r)
{
	if (w->dp->slowpath_fn == NULL || !nm_peer_early_take(&w->dp->peers, src_ip))
		return rx_drop(w, NM_DROP_SESSION_UNKNOWN, r);
	r->early = true;
	return rx_is(NM_RX_SLOWPATH, r);
}

/* A UDP datagram to our port: NetHeader, session, RX owner, replay check. */
static enum nm_rx_verdict rx_datagram(struct nm_worker *w, uint8_t *d, size_t len,
				      const struct nm_pkt_endpoint *src, bool handed,
				      struct nm_rx_result *r)
{
	enum nm_drop why = NM_DROP_NONE;
	enum nm_dgram_class cls = nm_dgram_classify(d, len);
	if (cls != NM_DGRAM_DIRECT)
		return rx_drop(w, nm_dgram_class_drop(cls), r);
	/* Decoded in its burst slot (the caller made room): no copy of the header later. */
	struct nm_rx_pending *p = &w->rx_open[w->n_rx_open];
	if (nm_hdr_parse(&p->h, d, len, &why) < 0)
		return rx_drop(w, why, r);
	if (p->h.flags & NM_FLAG_HANDSHAKE) {
		if (w->dp->slowpath_fn == NULL)
			return rx_drop(w, NM_DROP_HANDSHAKE, r);
		r->early = false;
		return rx_is(NM_RX_SLOWPATH, r);
	}
	struct nm_session *s = nm_u64map_get(&w->sessions, p->h.session_id);
	if (s == NULL)
		return rx_unknown_session(w, src->ip, r);
	/* A session belongs to its peer's address: no other source may use it. */
	if (src->ip != w->dp->peers.peers[s->peer].ip)
		return rx_drop(w, NM_DROP_SESSION_ADDR, r);
	uint32_t owner = nm_session_rx_owner(s, w->lcore);
	if (owner != w->lcore && !handed) {
		/* Only the owner touches the replay window. */
		r->owner = owner;
		return rx_is(NM_RX_HANDOFF, r);
	}
	/* Cheap replay check first; the open waits for the rest of the burst. */
	if (s->replay_window &&
	    nm_replay_check(&s->replay, nm_get_le64(d + NM_OFF_COUNTER), &why) < 0)
		return rx_drop(w, why, r);
	p->m = NULL;
	p->s = s;
	p->d = d;
	p->len = (uint32_t)len;
	p->has_src = true;
	p->src = *src;
	return rx_is(NM_RX_OPEN, r);
}

static enum nm_rx_verdict rx_arp(struct nm_worker *w, uint8_t *frame, uint32_t len,
				 const struct nm_pkt_info *pi, struct nm_rx_result *r)
{
	enum nm_drop why = NM_DROP_NONE;
	size_t out_len;
	struct nm_pkt_endpoint sender;
	if (nm_pkt_arp_reply_sender(frame, len, &w->self, &sender, NULL) == 0) {
		/* The answer to our own request: remember the peer's MAC. */
		nm_peer_learn(&w->dp->peers, sender.ip, &sender.mac);
		w->stats.arp_learned++;
		return rx_is(NM_RX_DONE, r);
	}
	if (nm_pkt_arp_reply(frame, len, &w->self, &out_len, &why) < 0)
		return rx_drop(w, why, r);
	nm_peer_learn(&w->dp->peers, pi->src.ip, &pi->src.mac);
	w->stats.arp_replies++;
	r->len = (uint32_t)out_len;
	return rx_is(NM_RX_REPLY, r);
}

static enum nm_rx_verdict rx_icmp(struct nm_worker *w, uint8_t *frame, uint32_t len,
				  struct nm_rx_result *r)
{
	enum nm_drop why = NM_DROP_NONE;
	size_t out_len;
	if (nm_pkt_icmp_echo_reply(frame, len, &w->self, w->rx_flags, &out_len, &why) < 0)
		return rx_drop(w, why, r);
	w->stats.icmp_replies++;
	r->len = (uint32_t)out_len;
	return rx_is(NM_RX_REPLY, r);
}

/*
 * An IPv4 fragment: reassembled by the worker its (src, dst, id) hash to,
 * whatever queue RSS chose (only the first fragment has the UDP ports).
 */
static enum nm_rx_verdict rx_fragment(struct nm_worker *w, const uint8_t *frame, uint32_t len,
				      bool handed, struct nm_rx_result *r)
{
	unsigned owner = nm_frag_owner(frame, len, w->dp->n_workers);
	if (!handed && owner != w->index) {
		r->owner = owner;
		return rx_is(NM_RX_FRAG_AWAY, r);
	}
	struct nm_frag_result fr;
	enum nm_frag_status st = nm_frag_add(w->frag, frame, len, nm_mono_ns(), &fr);
	if (st == NM_FRAG_DROPPED) {
		w->stats.drops[fr.why] += fr.dropped;
		return rx_is(NM_RX_DONE, r);
	}
	if (st != NM_FRAG_DONE)
		return rx_is(NM_RX_HELD, r);
	r->frame = fr.frame;
	r->len = (uint32_t)fr.len;
	r->frags = fr.frags;
	return rx_is(NM_RX_REASSEMBLED, r);
}

enum nm_rx_verdict nm_rx_frame(struct nm_worker *w, uint8_t *frame, uint32_t len,
			       unsigned rx_flags, struct nm_rx_result *r)
{
	w->stats.rx_packets++;
	w->stats.rx_bytes += len;
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	if (nm_pkt_parse(frame, len, &w->self, rx_flags, &pi, &why) < 0) {
		if (why == NM_DROP_IP_FRAGMENT)
			return rx_fragment(w, frame, len, false, r);
		return rx_drop(w, why, r);
	}
	switch (pi.kind) {
	case NM_PKT_ARP:
		return rx_arp(w, frame, len, &pi, r);
	case NM_PKT_ICMP:
		return rx_icmp(w, frame, len, r);
	default:
		return rx_datagram(w, frame + pi.data_off, pi.data_len, &pi.src, false, r);
	}
}

enum nm_rx_verdict nm_rx_handed(struct nm_worker *w, uint8_t *frame, uint32_t len,
				struct nm_rx_result *r)
{
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	/* Parsed once already; redo it only to find the datagram (cheap, no checksums). */
	if (nm_pkt_parse(frame, len, &w->self, NM_PKT_RX_IP_CKSUM_GOOD | NM_PKT_RX_L4_CKSUM_GOOD,
			 &pi, &why) < 0) {
		if (why == NM_DROP_IP_FRAGMENT)
			return rx_fragment(w, frame, len, true, r);
		return rx_drop(w, why, r);
	}
	return rx_datagram(w, frame + pi.data_off, pi.data_len, &pi.src, true, r);
}

enum nm_rx_verdict nm_rx_reassembled(struct nm_worker *w, uint8_t *frame, uint32_t len,
				     struct nm_rx_result *r)
{
	w->stats.frag_reassembled++;
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	/* Software checksums: the NIC saw only fragments. */
	if (nm_pkt_parse(frame, len, &w->self, 0, &pi, &why) < 0 || pi.kind != NM_PKT_UDP)
		return rx_drop(w, why != NM_DROP_NONE ? why : NM_DROP_IP_PROTO, r);
	return rx_datagram(w, frame + pi.data_off, pi.data_len, &pi.src, false, r);
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_rx.h - the worker's receive decisions on a flat frame: Ethernet, ARP,
 * ICMP, IPv4/UDP checks, fragments, NetHeader, the session and its RX owner,
 * the replay check. No mbuf here: what a frame needs beyond these bytes
 * (sending a reply, a ring to another lcore or to the control thread, the
 * burst's AEAD open) comes back as a verdict, and the worker acts on it
 * (nm_worker.c: the port's mbufs; nm_worker_rx_frame: a flat frame, for
 * tests and fuzzers). Every frame is counted in w->stats exactly where the
 * verdict says (see enum nm_rx_verdict).
 *
 * Frames are written in place: ARP and ICMP replies are built over the
 * request, and the AEAD opens the datagram where it lies (no copy on the
 * packet path).
 */
#ifndef NM_RX_H
#define NM_RX_H

#include <stdint.h>

#include "nm_worker.h"

enum nm_rx_verdict {
	NM_RX_DONE = 0,   /* handled: a counter (arp_learned) or one drop reason; release it */
	NM_RX_REPLY,      /* rewritten in place into an ARP or ICMP reply of r->len bytes (counted): send it */
	NM_RX_HELD,       /* a fragment kept for reassembly (counted when its datagram ends): release it */
	NM_RX_REASSEMBLED, /* this fragment completed a datagram of r->frags fragments: r->frame,
			    * r->len (the reassembler's, valid until its next fragment) go through
			    * nm_rx_reassembled from a buffer of the caller's */
	NM_RX_FRAG_AWAY,  /* a fragment worker r->owner (an index) reassembles: hand it over */
	NM_RX_SLOWPATH,   /* for the control thread: a handshake, or (r->early) data that may
			   * belong to the session our pending handshake makes */
	NM_RX_HANDOFF,    /* lcore r->owner opens its session's packets: hand it over */
	NM_RX_OPEN,       /* fresh counter: w->rx_open[w->n_rx_open] is filled but for .m; the
			   * caller commits it (n_rx_open++) for the burst's AEAD open */
};

struct nm_rx_result {
	enum nm_rx_verdict v;
	uint32_t owner;   /* FRAG_AWAY: worker index; HANDOFF: lcore */
	uint32_t len;     /* REPLY, REASSEMBLED */
	unsigned frags;   /* REASSEMBLED */
	bool early;       /* SLOWPATH */
	const uint8_t *frame; /* REASSEMBLED */
};

/*
 * Every function below needs a free slot in w->rx_open (n_rx_open < NM_BURST)
 * for an OPEN verdict: the caller opens the pending burst first when it is full.
 *
 * A frame from the port: rx_packets/rx_bytes, then its verdict. rx_flags:
 * the checksums the NIC verified for this frame (NM_PKT_RX_*).
 */
enum nm_rx_verdict nm_rx_frame(struct nm_worker *w, uint8_t *frame, uint32_t len,
			       unsigned rx_flags, struct nm_rx_result *r);

/*
 * A frame another worker handed over: a packet of a session we open, or a
 * fragment we reassemble (parsed there already: no checksums again). Never
 * HANDOFF or FRAG_AWAY.
 */
enum nm_rx_verdict nm_rx_handed(struct nm_worker *w, uint8_t *frame, uint32_t len,
				struct nm_rx_result *r);

/*
 * A reassembled datagram's frame, copied out of the reassembler: counted in
 * frag_reassembled, checked in software (the NIC saw only fragments), and
 * only UDP goes on.
 */
enum nm_rx_verdict nm_rx_reassembled(struct nm_worker *w, uint8_t *frame, uint32_t len,
				     struct nm_rx_result *r);

/*
 * The whole receive path for one flat frame, as a burst of its own (in
 * nm_worker.c: it needs the worker's delivery and TX): nm_rx_frame, then the
 * AEAD open, the events to the daemons, and the flush of their outputs to
 * the worker's TX queue. A reassembled datagram goes on in an mbuf of
 * w->big_pool exactly as on the port's path (its verdict is returned, r->frags
 * set). FRAG_AWAY, SLOWPATH and HANDOFF are left to the caller (nothing was
 * counted for them yet); a REPLY is in `frame`, r->len bytes, counted.
 * Not while the worker runs on its lcore: the caller is its loop.
 */
enum nm_rx_verdict nm_worker_rx_frame(struct nm_worker *w, uint8_t *frame, uint32_t len,
				      unsigned rx_flags, struct nm_rx_result *r);

#endif /* NM_RX_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_peer.h - the peers this node talks to: IPv4 address, configured UDP
 * port, and the reply address (MAC and UDP port) learned from the wire.
 *
 * A fixed table written by the control thread (add, handshake state) and by
 * workers (what they learn from ARP and from authenticated packets). A peer
 * is its IPv4 address (docs/sessions.md, "Addressing"); within it, replies go
 * to the source of the most recent authenticated packet, as upstream does.
 * The reply MAC and port are atomics, so workers read and update them without
 * a lock. They are two words: while a peer moves, one packet may pair its new
 * MAC with its old port (or the reverse); the next one is right.
 */
#ifndef NM_PEER_H
#define NM_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "nm_error.h"
#include "nm_pkt.h"

#define NM_PEER_MAX 256
#define NM_PEER_NONE UINT16_MAX
/* Data packets held per peer while our handshake with it is in flight. */
#define NM_PEER_EARLY_MAX 32

struct nm_peer {
	uint32_t ip;   /* host order; 0 = free slot */
	uint16_t port; /* configured UDP port (host order): msg1 goes there until a reply address is known */
	_Atomic uint64_t mac;         /* bit 63: known; bits 0..47: the address */
	_Atomic uint16_t reply_port;  /* 0: the configured port */
	/*
	 * While we initiate a handshake with this peer: how many more data packets
	 * of a not yet installed session workers may queue behind msg2; -1: no
	 * handshake in flight.
	 */
	_Atomic int32_t early_room;
};

struct nm_peer_table {
	struct nm_peer peers[NM_PEER_MAX];
	uint16_t n;
	_Atomic uint32_t initiating; /* peers with early_room open: a cheap gate for workers */
};

/* Add (or find) a peer; mac may be NULL (learned later). Returns the index or -ENOSPC/-EINVAL. */
int nm_peer_add(struct nm_peer_table *t, uint32_t ip, uint16_t port,
		const struct rte_ether_addr *mac);

/* Index of the peer with this address, or NM_PEER_NONE. */
uint16_t nm_peer_find(const struct nm_peer_table *t, uint32_t ip);

/* Remember a MAC for this address if it is a peer (ARP); the reply port is kept. */
void nm_peer_learn(struct nm_peer_table *t, uint32_t ip, const struct rte_ether_addr *mac);

/*
 * The reply address becomes `src` (MAC and UDP port): the source of an
 * authenticated packet of this peer. The caller checked src->ip == p->ip.
 */
void nm_peer_set_reply(struct nm_peer *p, const struct nm_pkt_endpoint *src);

/* The peer's MAC, if known. */
bool nm_peer_mac(const struct nm_peer *p, struct rte_ether_addr *mac);

/* Where to send to the peer (IP, reply MAC and port); false while the MAC is unknown. */
bool nm_peer_endpoint(const struct nm_peer *p, struct nm_pkt_endpoint *dst);

/* Control thread: open (room NM_PEER_EARLY_MAX) or close the early-data window of peer i. */
void nm_peer_early_open(struct nm_peer_table *t, uint16_t i);
void nm_peer_early_close(struct nm_peer_table *t, uint16_t i);

/*
 * Worker: may a data packet from `ip` for an unknown session wait for our
 * handshake with that peer? Takes one unit of room; false when no handshake
 * is in flight with it or its room is used up.
 */
bool nm_peer_early_take(struct nm_peer_table *t, uint32_t ip);

#endif /* NM_PEER_H */

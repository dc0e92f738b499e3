/* SPDX-License-Identifier: MIT */
/*
 * nm_peer.h - the peers this node talks to: IPv4 address, UDP port, MAC.
 *
 * A fixed table written by the control thread (add) and by workers (a MAC
 * learned from the peer's ARP or from its authenticated packets). The MAC
 * lives in one atomic word so workers read and update it without a lock.
 */
#ifndef NM_PEER_H
#define NM_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "nm_error.h"

#define NM_PEER_MAX 256
#define NM_PEER_NONE UINT16_MAX

struct nm_peer {
	uint32_t ip;   /* host order; 0 = free slot */
	uint16_t port; /* host order */
	_Atomic uint64_t mac; /* bit 63: known; bits 0..47: the address */
};

struct nm_peer_table {
	struct nm_peer peers[NM_PEER_MAX];
	uint16_t n;
};

/* Add (or find) a peer; mac may be NULL (learned later). Returns the index or -ENOSPC/-EINVAL. */
int nm_peer_add(struct nm_peer_table *t, uint32_t ip, uint16_t port,
		const struct rte_ether_addr *mac);

/* Index of the peer with this address, or NM_PEER_NONE. */
uint16_t nm_peer_find(const struct nm_peer_table *t, uint32_t ip);

/* Remember a MAC for this address if it is a peer (ARP, authenticated RX). */
void nm_peer_learn(struct nm_peer_table *t, uint32_t ip, const struct rte_ether_addr *mac);

/* The same, trying peer `hint` first (a session's peer): O(1) on the packet path. */
void nm_peer_learn_hint(struct nm_peer_table *t, uint16_t hint, uint32_t ip,
			const struct rte_ether_addr *mac);

/* The peer's MAC, if known. */
bool nm_peer_mac(const struct nm_peer *p, struct rte_ether_addr *mac);

#endif /* NM_PEER_H */

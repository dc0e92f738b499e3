/* SPDX-License-Identifier: MIT */
/* nm_peer.c - peer table (see header). */
#include "nm_peer.h"

#include <errno.h>
#include <string.h>

#define MAC_KNOWN (1ULL << 63)

static uint64_t mac_word(const struct rte_ether_addr *mac)
{
	uint64_t w = 0;
	memcpy(&w, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	return w | MAC_KNOWN;
}

int nm_peer_add(struct nm_peer_table *t, uint32_t ip, uint16_t port,
		const struct rte_ether_addr *mac)
{
	if (t == NULL || ip == 0)
		return -EINVAL;
	uint16_t i = nm_peer_find(t, ip);
	if (i == NM_PEER_NONE) {
		if (t->n == NM_PEER_MAX)
			return -ENOSPC;
		i = t->n;
		t->peers[i].port = port;
		atomic_store(&t->peers[i].mac, 0);
		t->peers[i].ip = ip;
		t->n++;
	}
	if (port != 0)
		t->peers[i].port = port;
	if (mac != NULL)
		atomic_store(&t->peers[i].mac, mac_word(mac));
	return i;
}

uint16_t nm_peer_find(const struct nm_peer_table *t, uint32_t ip)
{
	for (uint16_t i = 0; i < t->n; i++)
		if (t->peers[i].ip == ip)
			return i;
	return NM_PEER_NONE;
}

static void learn_at(struct nm_peer *p, const struct rte_ether_addr *mac)
{
	uint64_t w = mac_word(mac);
	/* Written only when it changed: the line stays shared between workers. */
	if (atomic_load_explicit(&p->mac, memory_order_relaxed) != w)
		atomic_store_explicit(&p->mac, w, memory_order_relaxed);
}

void nm_peer_learn(struct nm_peer_table *t, uint32_t ip, const struct rte_ether_addr *mac)
{
	uint16_t i = nm_peer_find(t, ip);
	if (i != NM_PEER_NONE)
		learn_at(&t->peers[i], mac);
}

void nm_peer_learn_hint(struct nm_peer_table *t, uint16_t hint, uint32_t ip,
			const struct rte_ether_addr *mac)
{
	if (hint < t->n && t->peers[hint].ip == ip)
		learn_at(&t->peers[hint], mac);
	else
		nm_peer_learn(t, ip, mac);
}

bool nm_peer_mac(const struct nm_peer *p, struct rte_ether_addr *mac)
{
	uint64_t w = atomic_load_explicit(&((struct nm_peer *)p)->mac, memory_order_relaxed);
	if (!(w & MAC_KNOWN))
		return false;
	memcpy(mac->addr_bytes, &w, RTE_ETHER_ADDR_LEN);
	return true;
}

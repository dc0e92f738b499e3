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
		atomic_store(&t->peers[i].reply_port, 0);
		atomic_store(&t->peers[i].early_room, -1); /* closed */
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

/* Written only when it changed: the line stays shared between workers. */
static void learn_at(struct nm_peer *p, const struct rte_ether_addr *mac)
{
	uint64_t w = mac_word(mac);
	if (atomic_load_explicit(&p->mac, memory_order_relaxed) != w)
		atomic_store_explicit(&p->mac, w, memory_order_relaxed);
}

void nm_peer_learn(struct nm_peer_table *t, uint32_t ip, const struct rte_ether_addr *mac)
{
	uint16_t i = nm_peer_find(t, ip);
	if (i != NM_PEER_NONE)
		learn_at(&t->peers[i], mac);
}

void nm_peer_set_reply(struct nm_peer *p, const struct nm_pkt_endpoint *src)
{
	learn_at(p, &src->mac);
	if (atomic_load_explicit(&p->reply_port, memory_order_relaxed) != src->port)
		atomic_store_explicit(&p->reply_port, src->port, memory_order_relaxed);
}

bool nm_peer_mac(const struct nm_peer *p, struct rte_ether_addr *mac)
{
	uint64_t w = atomic_load_explicit(&((struct nm_peer *)p)->mac, memory_order_relaxed);
	if (!(w & MAC_KNOWN))
		return false;
	memcpy(mac->addr_bytes, &w, RTE_ETHER_ADDR_LEN);
	return true;
}

bool nm_peer_endpoint(const struct nm_peer *p, struct nm_pkt_endpoint *dst)
{
	if (p->ip == 0 || !nm_peer_mac(p, &dst->mac))
		return false;
	uint16_t port = atomic_load_explicit(&((struct nm_peer *)p)->reply_port, memory_order_relaxed);
	dst->ip = p->ip;
	dst->port = port != 0 ? port : p->port;
	return true;
}
void nm_peer_early_open(struct nm_peer_table *t, uint16_t i)
{
	/* -1 is closed; 0 is open with its room used up. */
	if (atomic_exchange(&t->peers[i].early_room, NM_PEER_EARLY_MAX) < 0)
		atomic_fetch_add(&t->initiating, 1);
}

void nm_peer_early_close(struct nm_peer_table *t, uint16_t i)
{
	if (atomic_exchange(&t->peers[i].early_room, -1) >= 0)
		atomic_fetch_sub(&t->initiating, 1);
}

bool nm_peer_early_take(struct nm_peer_table *t, uint32_t ip)
{
	if (atomic_load_explicit(&t->initiating, memory_order_relaxed) == 0)
		return false;
	uint16_t i = nm_peer_find(t, ip);
	if (i == NM_PEER_NONE)
		return false;
	_Atomic int32_t *room = &t->peers[i].early_room;
	int32_t r = atomic_load_explicit(room, memory_order_relaxed);
	while (r > 0 && !atomic_compare_exchange_weak(room, &r, r - 1))
		;
	return r > 0;
}

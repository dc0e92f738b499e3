/* SPDX-License-Identifier: MIT */
/*
 * nm_session.h - an established session as the packet path sees it.
 *
 * Keys, the peer it talks to, the TX counter and the RX replay window. The
 * control thread creates sessions and gives every worker a pointer; no lock
 * is taken on the packet path:
 *   - TX: the AEAD counter is an atomic fetch-add, so any lcore may seal for
 *     the session and every nonce stays unique;
 *   - RX: the first lcore to authenticate a packet of the session becomes its
 *     RX owner (one CAS); only the owner touches the replay window, other
 *     lcores hand the session's packets to it. With RSS a session's flow
 *     arrives on one queue, so the hand-off only happens when a sender changes
 *     source port or an attacker replays from elsewhere.
 */
#ifndef NM_SESSION_H
#define NM_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "nm_aead.h"
#include "nm_error.h"
#include "nm_replay.h"

#define NM_SESSION_NO_OWNER UINT32_MAX

/* What installs a session (today tests and tools; the handshake later). */
struct nm_session_params {
	uint64_t session_id;
	uint8_t tx_key[NM_AEAD_KEY_SIZE];
	uint8_t rx_key[NM_AEAD_KEY_SIZE];
	uint16_t peer; /* index in the peer table */
	/*
	 * Benchmarks only: accept repeated counters, so that a capture replayed
	 * in a loop (net_pcap infinite_rx) exercises the whole path. Never set by
	 * the appliance; no command-line option reaches it.
	 */
	bool bench_no_replay_window;
};

struct nm_session {
	uint64_t session_id;
	uint16_t peer;
	bool replay_window; /* false only for benchmarks (see params) */
	struct nm_aead tx;
	struct nm_aead rx;
	_Atomic uint64_t tx_counter;
	_Atomic uint32_t rx_owner; /* lcore, or NM_SESSION_NO_OWNER */
	_Atomic uint64_t last_rx_ns; /* CLOCK_MONOTONIC of the last authenticated packet; 0: none yet */
	/* Written by the RX owner only. */
	struct nm_replay replay __rte_cache_aligned;
} __rte_cache_aligned;

/* Allocate (hugepage memory, cache aligned). NULL on failure. */
struct nm_session *nm_session_create(const struct nm_session_params *p);

/* Wipe keys and free. The caller made sure no worker still holds it. */
void nm_session_free(struct nm_session *s);

static inline uint64_t nm_session_next_tx(struct nm_session *s)
{
	return atomic_fetch_add_explicit(&s->tx_counter, 1, memory_order_relaxed);
}

/* RX owner of the session, claiming it for `lcore` when it has none. */
static inline uint32_t nm_session_rx_owner(struct nm_session *s, uint32_t lcore)
{
	uint32_t owner = atomic_load_explicit(&s->rx_owner, memory_order_acquire);
	if (owner != NM_SESSION_NO_OWNER)
		return owner;
	uint32_t none = NM_SESSION_NO_OWNER;
	if (atomic_compare_exchange_strong(&s->rx_owner, &none, lcore))
		return lcore;
	return none; /* another lcore won */
}

#endif /* NM_SESSION_H */

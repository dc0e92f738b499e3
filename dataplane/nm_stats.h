/* SPDX-License-Identifier: MIT */
/*
 * nm_stats.h - per-lcore dataplane counters, one cache line set per worker,
 * written only by that worker and read (without locks) by the control thread.
 */
#ifndef NM_STATS_H
#define NM_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>

#include "nm_drop.h"

struct nm_lcore_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t events_delivered; /* process() succeeded */
	uint64_t events_emitted;   /* outputs chained */
	uint64_t events_failed;    /* process() returned an error */
	uint64_t events_handed_off; /* sent to the owner lcore */
	uint64_t events_held;      /* kept for a migrating daemon (see nm_dp_hold) */
	uint64_t holds_released;   /* migrations the owner called off: its hold was full */
	uint64_t mig_messages;     /* 0x0500 messages passed to the control thread */
	uint64_t arp_replies;
	uint64_t arp_learned; /* peer MACs from replies to our requests */
	uint64_t icmp_replies;
	uint64_t frag_reassembled; /* datagrams reassembled from IPv4 fragments */
	uint64_t frag_sent;        /* datagrams sent as IPv4 fragments */
	uint64_t drops[NM_DROP__COUNT];
} __rte_cache_aligned;

/* a += b, field by field. */
void nm_stats_add(struct nm_lcore_stats *a, const struct nm_lcore_stats *b);

uint64_t nm_stats_total_drops(const struct nm_lcore_stats *s);

/* One line of totals, then one line per non-zero drop reason, prefixed. */
void nm_stats_print(FILE *f, const char *prefix, const struct nm_lcore_stats *s);

#endif /* NM_STATS_H */

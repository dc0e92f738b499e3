/* SPDX-License-Identifier: MIT */
/* nm_stats.c - counter arithmetic and printing (see header). */
#include "nm_stats.h"

#include <inttypes.h>
#include <stddef.h>

void nm_stats_add(struct nm_lcore_stats *a, const struct nm_lcore_stats *b)
{
	/* The struct is all uint64_t (plus tail padding): add it as an array. */
	uint64_t *x = (uint64_t *)a;
	const uint64_t *y = (const uint64_t *)b;
	size_t n = offsetof(struct nm_lcore_stats, drops) / sizeof(uint64_t) + NM_DROP__COUNT;
	for (size_t i = 0; i < n; i++)
		x[i] += y[i];
}

uint64_t nm_stats_total_drops(const struct nm_lcore_stats *s)
{
	uint64_t n = 0;
	for (int d = 1; d < NM_DROP__COUNT; d++)
		n += s->drops[d];
	return n;
}

void nm_stats_print(FILE *f, const char *prefix, const struct nm_lcore_stats *s)
{
	fprintf(f,
		"%srx %" PRIu64 " pkts %" PRIu64 " B | tx %" PRIu64 " pkts %" PRIu64
		" B | events in %" PRIu64 " out %" PRIu64 " failed %" PRIu64 " handed-off %" PRIu64
		" held %" PRIu64 " | mig %" PRIu64 " | arp %" PRIu64 "/%" PRIu64 " icmp %" PRIu64
		" | frag in %" PRIu64 " out %" PRIu64 " | drops %" PRIu64 "\n",
		prefix, s->rx_packets, s->rx_bytes, s->tx_packets, s->tx_bytes, s->events_delivered,
		s->events_emitted, s->events_failed, s->events_handed_off, s->events_held,
		s->mig_messages, s->arp_replies, s->arp_learned, s->icmp_replies, s->frag_reassembled,
		s->frag_sent, nm_stats_total_drops(s));
	for (int d = 1; d < NM_DROP__COUNT; d++)
		if (s->drops[d] != 0)
			fprintf(f, "%s  drop %-18s %" PRIu64 "\n", prefix, nm_drop_name((enum nm_drop)d),
				s->drops[d]);
}

/* SPDX-License-Identifier: MIT */
/* nm_meshos_probe.c - MeshOS probes over the dataplane and sessions (see header). */
#include "nm_meshos_probe.h"

static float probe_load(void *ctx)
{
	const struct nm_meshos_probe_ctx *c = ctx;
	return c->dp != NULL ? nm_dataplane_load(c->dp) : 0.0f;
}

static uint32_t health_of(enum nm_peer_health h)
{
	switch (h) {
	case NM_PEER_HEALTHY:
		return NM_MESHOS_PEER_HEALTHY;
	case NM_PEER_DEGRADED:
		return NM_MESHOS_PEER_DEGRADED;
	case NM_PEER_UNREACHABLE:
		return NM_MESHOS_PEER_UNREACHABLE;
	default:
		return NM_MESHOS_PEER_UNKNOWN;
	}
}

static uint32_t probe_peers(void *ctx, struct nm_meshos_peer *out, uint32_t max)
{
	const struct nm_meshos_probe_ctx *c = ctx;
	uint32_t n = 0;
	unsigned total = c->sm != NULL ? nm_sessmgr_peer_count(c->sm) : 0;
	for (unsigned i = 0; i < total && n < max; i++) {
		struct nm_peer_status st;
		if (nm_sessmgr_peer_status(c->sm, (int)i, &st) < 0)
			continue;
		out[n++] = (struct nm_meshos_peer){ .node_id = st.node_id,
						    .rtt_us = st.rtt_ns / 1000,
						    .health = health_of(st.health) };
	}
	return n;
}

struct nm_meshos_probes nm_meshos_probes_of(struct nm_meshos_probe_ctx *ctx)
{
	struct nm_meshos_probes p = { .ctx = ctx, .load = probe_load, .peers = probe_peers };
	return p;
}

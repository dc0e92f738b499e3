/* SPDX-License-Identifier: MIT */
/*
 * nm_meshos_probe.h - what MeshOS samples on the appliance: the backpressure
 * level from the dataplane's queues (nm_dataplane_load) and the peers, with
 * their RTT and health, from the session manager.
 */
#ifndef NM_MESHOS_PROBE_H
#define NM_MESHOS_PROBE_H

#include "nm_dataplane.h"
#include "nm_meshos.h"
#include "nm_sessmgr.h"

struct nm_meshos_probe_ctx {
	struct nm_dataplane *dp; /* NULL: load 0 */
	struct nm_sessmgr *sm;   /* NULL: no peers */
};

/* Probes reading `ctx` (which must outlive the MeshOS loop). */
struct nm_meshos_probes nm_meshos_probes_of(struct nm_meshos_probe_ctx *ctx);

#endif /* NM_MESHOS_PROBE_H */

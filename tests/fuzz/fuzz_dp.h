/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dp.h - a dataplane for the fuzz targets that need one (rx, sessmgr):
 * EAL without hugepages or PCI, lcores 0 and 1 on CPU 0, a ring port (the
 * target reads what the worker sends), a mesh, a runtime with the built-in
 * daemons, and a dataplane of one worker on lcore 1 that is never launched:
 * the target's thread is its loop, so each input is handled to the end
 * before the properties are checked.
 */
#ifndef FUZZ_DP_H
#define FUZZ_DP_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_dataplane.h"
#include "nm_mesh.h"
#include "nm_runtime.h"

#define FUZZ_DP_IP_US RTE_IPV4(127, 0, 0, 1)

struct fuzz_dp {
	struct rte_ring *rxr, *txr; /* the port's queue: RX (unused), TX (the worker's frames) */
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_worker *w;
};

/* Everything above, once per process (torn down at exit); `name` keeps rings and port apart. */
void fuzz_dp_init(struct fuzz_dp *f, const char *name, const uint8_t node_seed[32],
		  const uint8_t psk[32]);

/* Spawn a built-in daemon on the worker's lcore; its origin hash. */
uint64_t fuzz_dp_spawn(struct fuzz_dp *f, const char *kind, uint8_t seed_byte);

/* Dequeue the next frame the worker sent (the caller frees it), or NULL. */
struct rte_mbuf *fuzz_dp_sent(struct fuzz_dp *f);

#endif /* FUZZ_DP_H */

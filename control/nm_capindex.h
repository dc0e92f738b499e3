/* SPDX-License-Identifier: MIT */
/*
 * nm_capindex.h - the node-local capability index: what each daemon published
 * with nm_meshos_publish_capabilities (upstream's SDK call is a no-op; here
 * the set is stored, replaced on each publish, and removed when the daemon
 * unregisters). Thread-safe (one mutex); not on the packet path.
 */
#ifndef NM_CAPINDEX_H
#define NM_CAPINDEX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_capability.h"
#include "nm_u64map.h"

struct nm_capindex {
	pthread_mutex_t lock;
	struct nm_u64map map; /* daemon id -> struct nm_capability_set * */
	uint64_t publishes;   /* every successful put */
};

int nm_capindex_init(struct nm_capindex *ci);
void nm_capindex_fini(struct nm_capindex *ci);

/* Store (or replace) a daemon's set. 0 or -ENOMEM. */
int nm_capindex_put(struct nm_capindex *ci, uint64_t id, const struct nm_capability_set *set);
/* Copy a daemon's set out; false when it published none. */
bool nm_capindex_get(struct nm_capindex *ci, uint64_t id, struct nm_capability_set *out);
void nm_capindex_remove(struct nm_capindex *ci, uint64_t id);

/* Daemons whose set satisfies `filter` (NULL: all): up to max ids; returns how many match. */
size_t nm_capindex_query(struct nm_capindex *ci, const struct nm_capability_filter *filter,
			 uint64_t *ids, size_t max);

/* Daemons with a set, and puts so far. */
size_t nm_capindex_count(struct nm_capindex *ci);
uint64_t nm_capindex_publishes(struct nm_capindex *ci);

#endif /* NM_CAPINDEX_H */

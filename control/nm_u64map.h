/* SPDX-License-Identifier: MIT */
/*
 * nm_u64map.h - open-addressing hash map from u64 keys to non-NULL pointers.
 *
 * Linear probing with backward-shift deletion (no tombstones), power-of-two
 * capacity, grows at 3/4 load. Not thread-safe: callers hold their own lock.
 * Keys may take any value (0 included); a NULL value marks an empty slot.
 */
#ifndef NM_U64MAP_H
#define NM_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct nm_u64map_slot {
	uint64_t key;
	void *val;
};

struct nm_u64map {
	struct nm_u64map_slot *slots;
	size_t mask;  /* capacity - 1 */
	size_t count;
};

int nm_u64map_init(struct nm_u64map *m, size_t initial_capacity);
void nm_u64map_fini(struct nm_u64map *m);

void *nm_u64map_get(const struct nm_u64map *m, uint64_t key);

/* Insert when absent: 0, -EEXIST (map unchanged), -EINVAL (NULL val), -ENOMEM. */
int nm_u64map_insert(struct nm_u64map *m, uint64_t key, void *val);

/* Remove and return the value, or NULL when absent. */
void *nm_u64map_remove(struct nm_u64map *m, uint64_t key);

/* Iterate: `for (size_t i = 0; i <= m->mask; i++) if (m->slots[i].val) ...` */

#endif /* NM_U64MAP_H */

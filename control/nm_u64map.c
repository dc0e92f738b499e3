/* SPDX-License-Identifier: MIT */
/* nm_u64map.c - open-addressing u64 -> pointer map (see header). */
#include "nm_u64map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* Keys may be chosen by callers (0xDEADBEEF), so mix them before probing. */
static inline size_t slot_of(const struct nm_u64map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & m->mask;
}

static size_t pow2_at_least(size_t n)
{
	size_t c = 8;
	while (c < n)
		c <<= 1;
	return c;
}

int nm_u64map_init(struct nm_u64map *m, size_t initial_capacity)
{
	if (m == NULL)
		return -EINVAL;
	size_t cap = pow2_at_least(initial_capacity);
	m->slots = calloc(cap, sizeof(*m->slots));
	if (m->slots == NULL)
		return -ENOMEM;
	m->mask = cap - 1;
	m->count = 0;
	return 0;
}

void nm_u64map_fini(struct nm_u64map *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

void *nm_u64map_get(const struct nm_u64map *m, uint64_t key)
{
	for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
		const struct nm_u64map_slot *s = &m->slots[i];
		if (s->val == NULL)
			return NULL;
		if (s->key == key)
			return s->val;
	}
}

static void place(struct nm_u64map *m, uint64_t key, void *val)
{
	size_t i = slot_of(m, key);
	while (m->slots[i].val != NULL)
		i = (i + 1) & m->mask;
	m->slots[i].key = key;
	m->slots[i].val = val;
}

static int grow(struct nm_u64map *m)
{
	struct nm_u64map old = *m;
	size_t cap = (old.mask + 1) * 2;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		*m = old;
		return -ENOMEM;
	}
	m->mask = cap - 1;
	for (size_t i = 0; i <= old.mask; i++)
		if (old.slots[i].val != NULL)
			place(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	return 0;
}

int nm_u64map_insert(struct nm_u64map *m, uint64_t key, void *val)
{
	if (val == NULL)
		return -EINVAL;
	if (nm_u64map_get(m, key) != NULL)
		return -EEXIST;
	if ((m->count + 1) * 4 > (m->mask + 1) * 3) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	place(m, key, val);
	m->count++;
	return 0;
}

void *nm_u64map_remove(struct nm_u64map *m, uint64_t key)
{
	size_t i = slot_of(m, key);
	for (;; i = (i + 1) & m->mask) {
		if (m->slots[i].val == NULL)
			return NULL;
		if (m->slots[i].key == key)
			break;
	}
	void *val = m->slots[i].val;
	/* Backward shift: pull later entries of the probe run into the hole. */
	size_t hole = i;
	for (size_t j = (i + 1) & m->mask; m->slots[j].val != NULL; j = (j + 1) & m->mask) {
		size_t home = slot_of(m, m->slots[j].key);
		bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].val = NULL;
	m->slots[hole].key = 0;
	m->count--;
	return val;
}

/* SPDX-License-Identifier: MIT */
/* nm_capindex.c - the node-local capability index (see header). */
#include "nm_capindex.h"

#include <errno.h>
#include <stdlib.h>

int nm_capindex_init(struct nm_capindex *ci)
{
	ci->publishes = 0;
	int rc = nm_u64map_init(&ci->map, 64);
	if (rc < 0)
		return rc;
	pthread_mutex_init(&ci->lock, NULL);
	return 0;
}

void nm_capindex_fini(struct nm_capindex *ci)
{
	for (size_t i = 0; ci->map.slots != NULL && i <= ci->map.mask; i++)
		free(ci->map.slots[i].val);
	nm_u64map_fini(&ci->map);
	pthread_mutex_destroy(&ci->lock);
}

int nm_capindex_put(struct nm_capindex *ci, uint64_t id, const struct nm_capability_set *set)
{
	struct nm_capability_set *copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	*copy = *set;
	pthread_mutex_lock(&ci->lock);
	free(nm_u64map_remove(&ci->map, id));
	int rc = nm_u64map_insert(&ci->map, id, copy);
	if (rc == 0)
		ci->publishes++;
	pthread_mutex_unlock(&ci->lock);
	if (rc < 0)
		free(copy);
	return rc;
}

bool nm_capindex_get(struct nm_capindex *ci, uint64_t id, struct nm_capability_set *out)
{
	pthread_mutex_lock(&ci->lock);
	const struct nm_capability_set *s = nm_u64map_get(&ci->map, id);
	if (s != NULL)
		*out = *s;
	pthread_mutex_unlock(&ci->lock);
	return s != NULL;
}

void nm_capindex_remove(struct nm_capindex *ci, uint64_t id)
{
	pthread_mutex_lock(&ci->lock);
	free(nm_u64map_remove(&ci->map, id));
	pthread_mutex_unlock(&ci->lock);
}

size_t nm_capindex_query(struct nm_capindex *ci, const struct nm_capability_filter *filter,
			 uint64_t *ids, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&ci->lock);
	for (size_t i = 0; i <= ci->map.mask; i++) {
		const struct nm_capability_set *s = ci->map.slots[i].val;
		if (s == NULL || !nm_capability_matches(filter, s))
			continue;
		if (n < max)
			ids[n] = ci->map.slots[i].key;
		n++;
	}
	pthread_mutex_unlock(&ci->lock);
	return n;
}

size_t nm_capindex_count(struct nm_capindex *ci)
{
	pthread_mutex_lock(&ci->lock);
	size_t n = ci->map.count;
	pthread_mutex_unlock(&ci->lock);
	return n;
}

uint64_t nm_capindex_publishes(struct nm_capindex *ci)
{
	pthread_mutex_lock(&ci->lock);
	uint64_t n = ci->publishes;
	pthread_mutex_unlock(&ci->lock);
	return n;
}

/* SPDX-License-Identifier: MIT */
/* nm_registry.c - daemon registry (see header for the locking rules). */
#include "nm_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

int nm_err_not_found(struct nm_error *err, uint64_t origin)
{
	nm_error_set(err, NM_ENOT_FOUND, "daemon not found: 0x%" PRIx64, origin);
	if (err != NULL)
		err->origin = origin;
	return NM_ENOT_FOUND;
}

int nm_registry_init(struct nm_registry *r)
{
	int rc = nm_u64map_init(&r->map, 64);
	if (rc < 0)
		return rc;
	rc = pthread_rwlock_init(&r->lock, NULL);
	if (rc != 0) {
		nm_u64map_fini(&r->map);
		return -rc;
	}
	return 0;
}

void nm_registry_fini(struct nm_registry *r)
{
	nm_registry_drain(r, NULL, NULL);
	nm_u64map_fini(&r->map);
	pthread_rwlock_destroy(&r->lock);
}

int nm_registry_register(struct nm_registry *r, struct nm_host *h, struct nm_error *err)
{
	uint64_t origin = nm_host_origin(h);
	pthread_rwlock_wrlock(&r->lock);
	int rc = nm_u64map_insert(&r->map, origin, h);
	pthread_rwlock_unlock(&r->lock);
	if (rc == -EEXIST)
		return nm_error_set(err, NM_EPROCESS_FAILED, "daemon 0x%" PRIx64 " already registered",
				    origin);
	if (rc < 0)
		return nm_error_set(err, rc, "registry: cannot insert daemon 0x%" PRIx64, origin);
	return 0;
}

int nm_registry_unregister(struct nm_registry *r, uint64_t origin, struct nm_error *err)
{
	pthread_rwlock_wrlock(&r->lock);
	struct nm_host *h = nm_u64map_remove(&r->map, origin);
	pthread_rwlock_unlock(&r->lock);
	if (h == NULL)
		return nm_err_not_found(err, origin);
	nm_host_destroy(h);
	return 0;
}

size_t nm_registry_drain(struct nm_registry *r, void (*cb)(uint64_t origin, void *arg), void *arg)
{
	size_t n = 0;
	/* Exclusive for the whole sweep: no call can be running on a host we free. */
	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i <= r->map.mask; i++) {
		struct nm_host *h = r->map.slots[i].val;
		if (h == NULL)
			continue;
		uint64_t origin = r->map.slots[i].key;
		r->map.slots[i].val = NULL;
		nm_host_destroy(h);
		n++;
		if (cb != NULL)
			cb(origin, arg);
	}
	r->map.count = 0;
	pthread_rwlock_unlock(&r->lock);
	return n;
}

/* Run `body` on one host under the shared map lock and the host's lock. */
#define WITH_HOST(r, origin, err, h, body)                                                        \
	do {                                                                                      \
		pthread_rwlock_rdlock(&(r)->lock);                                                \
		struct nm_host *h = nm_u64map_get(&(r)->map, (origin));                           \
		if (h == NULL) {                                                                  \
			pthread_rwlock_unlock(&(r)->lock);                                        \
			return nm_err_not_found((err), (origin));                                 \
		}                                                                                 \
		nm_host_lock(h);                                                                  \
		body;                                                                             \
		nm_host_unlock(h);                                                                \
		pthread_rwlock_unlock(&(r)->lock);                                                \
	} while (0)

int nm_registry_deliver(struct nm_registry *r, uint64_t origin, const struct nm_event *ev,
			struct nm_outputs *out, uint64_t now_ns, struct nm_error *err)
{
	int rc;
	WITH_HOST(r, origin, err, h, rc = nm_host_deliver(h, ev, out, now_ns, err));
	return rc;
}

int nm_registry_snapshot(struct nm_registry *r, uint64_t origin, struct nm_snapshot **out,
			 struct nm_error *err)
{
	int rc;
	WITH_HOST(r, origin, err, h, rc = nm_host_snapshot(h, out, err));
	return rc;
}

int nm_registry_stats(struct nm_registry *r, uint64_t origin, struct nm_daemon_stats *out,
		      struct nm_error *err)
{
	WITH_HOST(r, origin, err, h, *out = h->stats);
	return 0;
}

size_t nm_registry_count(struct nm_registry *r)
{
	pthread_rwlock_rdlock(&r->lock);
	size_t n = r->map.count;
	pthread_rwlock_unlock(&r->lock);
	return n;
}

bool nm_registry_contains(struct nm_registry *r, uint64_t origin)
{
	pthread_rwlock_rdlock(&r->lock);
	bool found = nm_u64map_get(&r->map, origin) != NULL;
	pthread_rwlock_unlock(&r->lock);
	return found;
}

size_t nm_registry_list(struct nm_registry *r, uint64_t *out, size_t max)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i <= r->map.mask; i++) {
		if (r->map.slots[i].val == NULL)
			continue;
		if (n < max)
			out[n] = r->map.slots[i].key;
		n++;
	}
	pthread_rwlock_unlock(&r->lock);
	return n;
}

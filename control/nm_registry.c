/* SPDX-License-Identifier: MIT */
/* nm_registry.c - daemon registry (see header for the locking rules). */
#include "nm_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int nm_err_not_found(struct nm_error *err, uint64_t origin)
{
	nm_error_set(err, NM_ENOT_FOUND, "daemon not found: 0x%" PRIx64, origin);
	if (err != NULL)
		err->origin = origin;
	return NM_ENOT_FOUND;
}

int nm_registry_init(struct nm_registry *r)
{
	r->exec = NULL;
	r->obs = NULL;
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

void nm_registry_set_executor(struct nm_registry *r, const struct nm_executor *x)
{
	pthread_rwlock_wrlock(&r->lock);
	r->exec = x;
	pthread_rwlock_unlock(&r->lock);
}

/* Tell the observer (caller holds the exclusive lock). */
static void notify(const struct nm_registry *r, enum nm_lifecycle_event ev, const struct nm_host *h)
{
	if (r->obs == NULL)
		return;
	struct nm_daemon_info d = { .origin = nm_host_origin(h), .name = nm_host_name(h),
				    .lcore = h->config.lcore,
				    .on_control = h->daemon->ops->on_control != NULL };
	r->obs->on_event(r->obs->ctx, ev, &d);
}

int nm_registry_set_observer(struct nm_registry *r, const struct nm_lifecycle_observer *o)
{
	pthread_rwlock_wrlock(&r->lock);
	if (o != NULL && r->obs != NULL && r->obs != o) {
		pthread_rwlock_unlock(&r->lock);
		return -EBUSY;
	}
	r->obs = o;
	for (size_t i = 0; o != NULL && i <= r->map.mask; i++)
		if (r->map.slots[i].val != NULL)
			notify(r, NM_LIFECYCLE_REGISTERED, r->map.slots[i].val);
	pthread_rwlock_unlock(&r->lock);
	return 0;
}

/* Run one operation on a pinned host's owner lcore. */
static int owner_call(struct nm_registry *r, struct nm_host *h, struct nm_exec_req *req)
{
	req->host = h;
	if (r->exec == NULL) /* the dataplane is gone: nothing runs the host any more */
		return nm_error_set(req->err, -ENODEV, "daemon 0x%" PRIx64 ": lcore %u has no worker",
				    nm_host_origin(h), h->config.lcore);
	return r->exec->call(r->exec->ctx, h->config.lcore, req);
}

static int attach(struct nm_registry *r, struct nm_host *h, struct nm_error *err)
{
	if (!nm_host_is_pinned(h))
		return 0;
	uint32_t lcore = h->config.lcore;
	if (r->exec == NULL || !r->exec->has_lcore(r->exec->ctx, lcore))
		return nm_error_set(err, -EINVAL, "no dataplane worker runs on lcore %u", lcore);
	struct nm_exec_req req = { .op = NM_EXEC_ATTACH, .err = err };
	return owner_call(r, h, &req);
}

/* Give a removed host back from its owner, then free it. */
static void release(struct nm_registry *r, struct nm_host *h)
{
	if (nm_host_is_pinned(h)) {
		struct nm_exec_req req = { .op = NM_EXEC_DETACH };
		owner_call(r, h, &req);
	}
	nm_host_destroy(h);
}

int nm_registry_register(struct nm_registry *r, struct nm_host *h, struct nm_error *err)
{
	uint64_t origin = nm_host_origin(h);
	/* Attach first: once in the map, a concurrent removal may free the host. */
	int rc = attach(r, h, err);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&r->lock);
	rc = nm_u64map_insert(&r->map, origin, h);
	if (rc == 0)
		notify(r, NM_LIFECYCLE_REGISTERED, h);
	pthread_rwlock_unlock(&r->lock);
	if (rc == 0)
		return 0;
	if (nm_host_is_pinned(h)) {
		struct nm_exec_req req = { .op = NM_EXEC_DETACH };
		owner_call(r, h, &req);
	}
	if (rc == -EEXIST)
		return nm_error_set(err, NM_EPROCESS_FAILED, "daemon 0x%" PRIx64 " already registered",
				    origin);
	return nm_error_set(err, rc, "registry: cannot insert daemon 0x%" PRIx64, origin);
}

int nm_registry_unregister(struct nm_registry *r, uint64_t origin, struct nm_error *err)
{
	pthread_rwlock_wrlock(&r->lock);
	struct nm_host *h = nm_u64map_remove(&r->map, origin);
	if (h != NULL)
		notify(r, NM_LIFECYCLE_UNREGISTERED, h);
	pthread_rwlock_unlock(&r->lock);
	if (h == NULL)
		return nm_err_not_found(err, origin);
	release(r, h);
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
		notify(r, NM_LIFECYCLE_UNREGISTERED, h);
		release(r, h);
		n++;
		if (cb != NULL)
			cb(origin, arg);
	}
	r->map.count = 0;
	pthread_rwlock_unlock(&r->lock);
	return n;
}

/*
 * Run one request on a host: on its owner lcore when pinned, else here under
 * the host lock. The shared map lock keeps the host alive meanwhile.
 */
static int with_host(struct nm_registry *r, uint64_t origin, struct nm_exec_req *req)
{
	pthread_rwlock_rdlock(&r->lock);
	struct nm_host *h = nm_u64map_get(&r->map, origin);
	int rc;
	if (h == NULL) {
		rc = nm_err_not_found(req->err, origin);
	} else if (nm_host_is_pinned(h)) {
		rc = owner_call(r, h, req);
	} else {
		req->host = h;
		nm_host_lock(h);
		rc = nm_exec_run(req);
		nm_host_unlock(h);
	}
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

int nm_registry_deliver(struct nm_registry *r, uint64_t origin, const struct nm_event *ev,
			struct nm_outputs *out, uint64_t now_ns, struct nm_error *err)
{
	struct nm_exec_req req = {
		.op = NM_EXEC_DELIVER, .ev = ev, .out = out, .now_ns = now_ns, .err = err
	};
	return with_host(r, origin, &req);
}

int nm_registry_snapshot(struct nm_registry *r, uint64_t origin, struct nm_snapshot **out,
			 struct nm_error *err)
{
	struct nm_exec_req req = { .op = NM_EXEC_SNAPSHOT, .snap = out, .err = err };
	return with_host(r, origin, &req);
}

int nm_registry_stats(struct nm_registry *r, uint64_t origin, struct nm_daemon_stats *out,
		      struct nm_error *err)
{
	struct nm_exec_req req = { .op = NM_EXEC_STATS, .stats = out, .err = err };
	return with_host(r, origin, &req);
}

/* Control-path daemons: each under its own host lock, on this thread. */
static void control_here(struct nm_exec_req *req)
{
	for (uint32_t i = 0; i < req->n_ctl; i++) {
		struct nm_host *h = req->ctl[i].host;
		if (h == NULL || h->daemon->ops->on_control == NULL)
			continue;
		nm_host_lock(h);
		req->delivered += req->drain(req->ctl[i].queue, h->daemon);
		nm_host_unlock(h);
	}
}

int nm_registry_control(struct nm_registry *r, uint32_t lcore, struct nm_exec_control *batch,
			uint32_t n, nm_exec_drain_fn drain, uint64_t *delivered)
{
	struct nm_exec_req req = { .op = NM_EXEC_CONTROL, .ctl = batch, .n_ctl = n, .drain = drain };
	int rc = 0;
	/* Shared for the whole batch: no host of it can be freed meanwhile. */
	pthread_rwlock_rdlock(&r->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct nm_host *h = nm_u64map_get(&r->map, batch[i].origin);
		batch[i].host = h != NULL && h->config.lcore == lcore ? h : NULL;
	}
	if (lcore == NM_LCORE_CONTROL)
		control_here(&req);
	else if (r->exec == NULL || !r->exec->has_lcore(r->exec->ctx, lcore))
		rc = -ENODEV;
	else
		rc = r->exec->call(r->exec->ctx, lcore, &req);
	pthread_rwlock_unlock(&r->lock);
	if (delivered != NULL)
		*delivered += req.delivered;
	return rc;
}

int nm_registry_chain(struct nm_registry *r, uint64_t origin, struct nm_chain *chain,
		      uint8_t entity_id[NM_ENTITY_ID_LEN], struct nm_error *err)
{
	int rc = 0;
	pthread_rwlock_rdlock(&r->lock);
	struct nm_host *h = nm_u64map_get(&r->map, origin);
	if (h == NULL) {
		rc = nm_err_not_found(err, origin);
	} else if (nm_host_is_pinned(h)) {
		rc = nm_error_set(err, -ENOTSUP, "daemon 0x%" PRIx64 " is pinned on lcore %u", origin,
				  h->config.lcore);
	} else {
		nm_host_lock(h);
		*chain = h->chain;
		memcpy(entity_id, nm_identity_entity_id(&h->id), NM_ENTITY_ID_LEN);
		nm_host_unlock(h);
	}
	pthread_rwlock_unlock(&r->lock);
	return rc;
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

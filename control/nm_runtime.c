/* SPDX-License-Identifier: MIT */
/* nm_runtime.c - the compute runtime and its lifecycle fence (see header). */
#include "nm_runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nm_factory_registry.h"
#include "nm_host.h"
#include "nm_time.h"
#include "nm_node.h"
#include "nm_registry.h"

struct nm_runtime {
	struct nm_node *node;
	_Atomic uint8_t state;

	/* Kind table: append-only, entries never move (slots point at them). */
	pthread_rwlock_t kinds_lock;
	struct nm_factory **kinds;
	size_t n_kinds;
	size_t cap_kinds;

	struct nm_registry registry;             /* live daemons */
	struct nm_factory_registry factories;    /* per-origin slots */
	struct nm_migration_handler handler;     /* what start() installs */

	_Atomic uint32_t start_stall_ms;
	_Atomic uint32_t spawn_stall_ms;
};

/* ---- errors with upstream's text ---- */

static int err_not_ready(struct nm_error *err)
{
	return nm_error_set(err, NM_ENOT_READY,
			    "daemon runtime is not ready — call nm_runtime_start() first");
}

static int err_shutting_down(struct nm_error *err)
{
	return nm_error_set(err, NM_ESHUTTING_DOWN, "daemon runtime has been shut down");
}

static int err_with_kind(struct nm_error *err, int code, const char *fmt, const char *kind)
{
	nm_error_set(err, code, fmt, kind);
	if (err != NULL)
		snprintf(err->kind, sizeof(err->kind), "%s", kind);
	return code;
}

static int require_ready(const struct nm_runtime *rt, struct nm_error *err)
{
	switch (nm_runtime_state(rt)) {
	case NM_RUNTIME_READY:
		return 0;
	case NM_RUNTIME_REGISTERING:
		return err_not_ready(err);
	default:
		return err_shutting_down(err);
	}
}

static bool kind_valid(const char *kind)
{
	return kind != NULL && kind[0] != '\0' && strnlen(kind, NM_KIND_MAX + 1) <= NM_KIND_MAX;
}

static int err_bad_kind(struct nm_error *err)
{
	return nm_error_set(err, -EINVAL, "kind must be a string of 1..%d bytes", NM_KIND_MAX);
}

static void stall(const _Atomic uint32_t *ms_var)
{
	uint32_t ms = atomic_load_explicit(ms_var, memory_order_relaxed);
	if (ms != 0)
		nm_sleep_ms(ms);
}

/* ---- construction ---- */

static bool handler_ready(void *ctx)
{
	return nm_runtime_is_ready(ctx);
}

struct nm_runtime *nm_runtime_create(struct nm_node *node)
{
	if (node == NULL)
		return NULL;
	struct nm_runtime *rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->node = node;
	atomic_init(&rt->state, NM_RUNTIME_REGISTERING);
	rt->handler.ctx = rt;
	rt->handler.ready = handler_ready;
	if (pthread_rwlock_init(&rt->kinds_lock, NULL) != 0)
		goto fail_kinds;
	if (nm_registry_init(&rt->registry) < 0)
		goto fail_registry;
	if (nm_factory_registry_init(&rt->factories) < 0)
		goto fail_factories;
	return rt;
fail_factories:
	nm_registry_fini(&rt->registry);
fail_registry:
	pthread_rwlock_destroy(&rt->kinds_lock);
fail_kinds:
	free(rt);
	return NULL;
}

void nm_runtime_destroy(struct nm_runtime *rt)
{
	if (rt == NULL)
		return;
	nm_runtime_shutdown(rt, NULL);
	nm_factory_registry_fini(&rt->factories);
	nm_registry_fini(&rt->registry);
	for (size_t i = 0; i < rt->n_kinds; i++)
		free(rt->kinds[i]);
	free(rt->kinds);
	pthread_rwlock_destroy(&rt->kinds_lock);
	free(rt);
}

struct nm_node *nm_runtime_node(const struct nm_runtime *rt)
{
	return rt->node;
}

enum nm_runtime_state nm_runtime_state(const struct nm_runtime *rt)
{
	return (enum nm_runtime_state)atomic_load(&((struct nm_runtime *)rt)->state);
}

bool nm_runtime_is_ready(const struct nm_runtime *rt)
{
	return nm_runtime_state(rt) == NM_RUNTIME_READY;
}

size_t nm_runtime_daemon_count(struct nm_runtime *rt)
{
	return nm_registry_count(&rt->registry);
}

/* ---- kinds ---- */

static const struct nm_factory *kind_find_locked(const struct nm_runtime *rt, const char *kind)
{
	for (size_t i = 0; i < rt->n_kinds; i++)
		if (strcmp(rt->kinds[i]->kind, kind) == 0)
			return rt->kinds[i];
	return NULL;
}

static const struct nm_factory *kind_find(struct nm_runtime *rt, const char *kind)
{
	pthread_rwlock_rdlock(&rt->kinds_lock);
	const struct nm_factory *f = kind_find_locked(rt, kind);
	pthread_rwlock_unlock(&rt->kinds_lock);
	return f;
}

static int kind_append_locked(struct nm_runtime *rt, struct nm_factory *f)
{
	if (rt->n_kinds == rt->cap_kinds) {
		size_t cap = rt->cap_kinds ? rt->cap_kinds * 2 : 8;
		struct nm_factory **k = realloc(rt->kinds, cap * sizeof(*k));
		if (k == NULL)
			return -ENOMEM;
		rt->kinds = k;
		rt->cap_kinds = cap;
	}
	rt->kinds[rt->n_kinds++] = f;
	return 0;
}

int nm_runtime_register_factory(struct nm_runtime *rt, const char *kind, nm_daemon_factory_fn fn,
				void *ctx, struct nm_error *err)
{
	if (rt == NULL || fn == NULL)
		return nm_error_set(err, -EINVAL, "register_factory: runtime and factory are required");
	if (!kind_valid(kind))
		return err_bad_kind(err);
	if (nm_runtime_state(rt) == NM_RUNTIME_SHUTTING_DOWN)
		return err_shutting_down(err);

	struct nm_factory *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return nm_error_set(err, -ENOMEM, "register_factory: out of memory");
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	f->fn = fn;
	f->ctx = ctx;

	/* Check and insert under one exclusive lock: concurrent callers admit one. */
	int rc = 0;
	pthread_rwlock_wrlock(&rt->kinds_lock);
	if (kind_find_locked(rt, kind) != NULL)
		rc = NM_EFACTORY_EXISTS;
	else
		rc = kind_append_locked(rt, f);
	pthread_rwlock_unlock(&rt->kinds_lock);

	if (rc == 0)
		return 0;
	free(f);
	if (rc == NM_EFACTORY_EXISTS)
		return err_with_kind(err, rc, "factory for kind '%s' is already registered", kind);
	return nm_error_set(err, rc, "register_factory: out of memory");
}

/* ---- lifecycle ---- */

int nm_runtime_start(struct nm_runtime *rt, struct nm_error *err)
{
	if (rt == NULL)
		return nm_error_set(err, -EINVAL, "start: runtime is required");
	for (;;) {
		uint8_t s = atomic_load(&rt->state);
		if (s == NM_RUNTIME_READY)
			return 0;
		if (s == NM_RUNTIME_SHUTTING_DOWN)
			return err_shutting_down(err);

		/* Handler first: whoever sees Ready must also see the handler. */
		nm_node_set_migration_handler(rt->node, &rt->handler);
		stall(&rt->start_stall_ms);

		uint8_t expect = NM_RUNTIME_REGISTERING;
		if (atomic_compare_exchange_strong(&rt->state, &expect, NM_RUNTIME_READY))
			return 0;
		if (expect == NM_RUNTIME_SHUTTING_DOWN) {
			/* Lost to shutdown: leave the node as shutdown left it. */
			nm_node_clear_migration_handler(rt->node, &rt->handler);
			return err_shutting_down(err);
		}
		/* Another start won; the loop returns 0. */
	}
}

static void forget_factory_slot(uint64_t origin, void *arg)
{
	struct nm_runtime *rt = arg;
	nm_factory_registry_remove(&rt->factories, origin);
}

int nm_runtime_shutdown(struct nm_runtime *rt, struct nm_error *err)
{
	if (rt == NULL)
		return nm_error_set(err, -EINVAL, "shutdown: runtime is required");
	atomic_store(&rt->state, NM_RUNTIME_SHUTTING_DOWN);
	nm_registry_drain(&rt->registry, forget_factory_slot, rt);
	nm_node_clear_migration_handler(rt->node, &rt->handler);
	return 0;
}

/* After inserting: if shutdown started meanwhile, undo and report it. */
static int fence(struct nm_runtime *rt, uint64_t origin, bool has_daemon, struct nm_error *err)
{
	if (nm_runtime_state(rt) != NM_RUNTIME_SHUTTING_DOWN)
		return 0;
	if (has_daemon)
		nm_registry_unregister(&rt->registry, origin, NULL); /* may be swept already */
	nm_factory_registry_remove(&rt->factories, origin);
	return err_shutting_down(err);
}

static void fill_handle(struct nm_runtime *rt, const struct nm_identity *id,
			struct nm_daemon_handle *out)
{
	out->rt = rt;
	out->origin_hash = id->origin_hash;
	memcpy(out->entity_id, nm_identity_entity_id(id), NM_ENTITY_ID_LEN);
}

static int make_daemon(const struct nm_factory *f, struct nm_daemon **d, struct nm_error *err)
{
	*d = f->fn(f->ctx);
	if (*d == NULL)
		return nm_error_set(err, NM_EPROCESS_FAILED, "factory for kind '%s' returned no daemon",
				    f->kind);
	return 0;
}

/* Undo the factory slot of a failed install (there is none without a factory). */
static void forget_slot(struct nm_runtime *rt, const struct nm_factory *f, uint64_t origin)
{
	if (f != NULL)
		nm_factory_registry_remove(&rt->factories, origin);
}

/*
 * Shared tail of every spawn path: slot, host, registry, fence. Owns `d`.
 * f NULL (a ready-made daemon) installs no factory slot: the registry insert
 * is then the atomic collision check.
 */
static int install(struct nm_runtime *rt, const struct nm_factory *f, struct nm_daemon *d,
		   const struct nm_identity *id, const struct nm_snapshot *snap,
		   const struct nm_host_config *cfg, struct nm_daemon_handle *out,
		   struct nm_error *err)
{
	const uint64_t origin = id->origin_hash;
	/* Atomic on collision: a duplicate identity fails here, incumbent untouched. */
	int rc = f != NULL ? nm_factory_registry_register(&rt->factories, id, cfg, f, err) : 0;
	if (rc < 0) {
		d->ops->destroy(d);
		return rc;
	}
	struct nm_host *h = NULL;
	rc = snap != NULL ? nm_host_from_snapshot(d, id, snap, cfg, &h, err)
			  : nm_host_create(d, id, cfg, &h, err);
	if (rc < 0) {
		forget_slot(rt, f, origin);
		return rc;
	}
	rc = nm_registry_register(&rt->registry, h, err);
	if (rc < 0) {
		nm_host_destroy(h);
		forget_slot(rt, f, origin);
		return rc;
	}
	rc = fence(rt, origin, true, err);
	if (rc < 0)
		return rc;
	fill_handle(rt, id, out);
	return 0;
}

static int spawn_args_valid(struct nm_runtime *rt, const char *kind, const struct nm_identity *id,
			    struct nm_daemon_handle *out, struct nm_error *err)
{
	if (rt == NULL || id == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "spawn: runtime, identity and out are required");
	if (!kind_valid(kind))
		return err_bad_kind(err);
	return 0;
}

int nm_runtime_spawn(struct nm_runtime *rt, const char *kind, const struct nm_identity *id,
		     const struct nm_host_config *cfg, struct nm_daemon_handle *out,
		     struct nm_error *err)
{
	int rc = spawn_args_valid(rt, kind, id, out, err);
	if (rc < 0)
		return rc;
	rc = require_ready(rt, err);
	if (rc < 0)
		return rc;
	stall(&rt->spawn_stall_ms);

	const struct nm_factory *f = kind_find(rt, kind);
	if (f == NULL)
		return err_with_kind(err, NM_EFACTORY_NOT_FOUND, "no factory registered for kind '%s'",
				     kind);
	struct nm_daemon *d;
	rc = make_daemon(f, &d, err);
	if (rc < 0)
		return rc;
	return install(rt, f, d, id, NULL, cfg, out, err);
}

int nm_runtime_spawn_with_daemon(struct nm_runtime *rt, struct nm_daemon *d,
				 const struct nm_identity *id, const struct nm_host_config *cfg,
				 struct nm_daemon_handle *out, struct nm_error *err)
{
	int rc = 0;
	if (rt == NULL || d == NULL || id == NULL || out == NULL)
		rc = nm_error_set(err, -EINVAL, "spawn: runtime, daemon, identity and out are required");
	else if ((rc = require_ready(rt, err)) == 0 &&
		 nm_factory_registry_contains(&rt->factories, id->origin_hash))
		/* A spawned daemon or a migration placeholder holds the identity. */
		rc = nm_error_set(err, NM_EPROCESS_FAILED, "daemon 0x%" PRIx64 " already registered",
				  id->origin_hash);
	if (rc < 0) {
		if (d != NULL && d->ops != NULL && d->ops->destroy != NULL)
			d->ops->destroy(d);
		return rc;
	}
	stall(&rt->spawn_stall_ms);
	return install(rt, NULL, d, id, NULL, cfg, out, err);
}

int nm_runtime_spawn_from_snapshot(struct nm_runtime *rt, const char *kind,
				   const struct nm_identity *id, const struct nm_snapshot *snap,
				   const struct nm_host_config *cfg, struct nm_daemon_handle *out,
				   struct nm_error *err)
{
	int rc = spawn_args_valid(rt, kind, id, out, err);
	if (rc < 0)
		return rc;
	if (snap == NULL)
		return nm_error_set(err, -EINVAL, "spawn_from_snapshot: snapshot is required");
	rc = require_ready(rt, err);
	if (rc < 0)
		return rc;

	const struct nm_factory *f = kind_find(rt, kind);
	if (f == NULL)
		return err_with_kind(err, NM_EFACTORY_NOT_FOUND, "no factory registered for kind '%s'",
				     kind);
	/* Full 32 bytes: the routed projection of origin_hash can collide. */
	if (!nm_entity_id_equal(snap->entity_id, nm_identity_entity_id(id))) {
		uint64_t snap_origin = nm_origin_hash_of(snap->entity_id);
		nm_error_set(err, NM_ESNAPSHOT_IDENTITY,
			     "snapshot/identity mismatch: snapshot origin 0x%" PRIx64
			     " != identity origin 0x%" PRIx64,
			     snap_origin, id->origin_hash);
		if (err != NULL) {
			err->origin = snap_origin;
			err->identity_origin = id->origin_hash;
		}
		return NM_ESNAPSHOT_IDENTITY;
	}
	struct nm_daemon *d;
	rc = make_daemon(f, &d, err);
	if (rc < 0)
		return rc;
	return install(rt, f, d, id, snap, cfg, out, err);
}

/* ---- per-daemon calls ---- */

int nm_runtime_deliver(struct nm_runtime *rt, uint64_t origin, const struct nm_event *ev,
		       struct nm_outputs *out, struct nm_error *err)
{
	if (rt == NULL || ev == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "deliver: runtime, event and outputs are required");
	int rc = require_ready(rt, err);
	if (rc < 0)
		return rc;
	nm_outputs_reset(out);
	return nm_registry_deliver(&rt->registry, origin, ev, out, nm_wall_ns(), err);
}

int nm_runtime_stop(struct nm_runtime *rt, uint64_t origin, struct nm_error *err)
{
	if (rt == NULL)
		return nm_error_set(err, -EINVAL, "stop: runtime is required");
	if (nm_runtime_state(rt) == NM_RUNTIME_REGISTERING)
		return err_not_ready(err);
	int rc = nm_registry_unregister(&rt->registry, origin, err);
	if (rc == 0) {
		nm_factory_registry_remove(&rt->factories, origin);
		return 0;
	}
	if (rc == NM_ENOT_FOUND && nm_runtime_state(rt) == NM_RUNTIME_SHUTTING_DOWN) {
		nm_error_clear(err); /* shutdown already stopped it */
		return 0;
	}
	return rc;
}

int nm_runtime_snapshot(struct nm_runtime *rt, uint64_t origin, struct nm_snapshot **out,
			struct nm_error *err)
{
	if (rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "snapshot: runtime and out are required");
	*out = NULL;
	int rc = require_ready(rt, err);
	if (rc < 0)
		return rc;
	return nm_registry_snapshot(&rt->registry, origin, out, err);
}

int nm_runtime_expect_migration(struct nm_runtime *rt, const char *kind, uint64_t origin,
				const struct nm_host_config *cfg, struct nm_error *err)
{
	if (rt == NULL)
		return nm_error_set(err, -EINVAL, "expect_migration: runtime is required");
	if (!kind_valid(kind))
		return err_bad_kind(err);
	if (nm_runtime_state(rt) == NM_RUNTIME_SHUTTING_DOWN)
		return err_shutting_down(err);
	const struct nm_factory *f = kind_find(rt, kind);
	if (f == NULL)
		return err_with_kind(err, NM_EFACTORY_NOT_FOUND, "no factory registered for kind '%s'",
				     kind);
	int rc = nm_factory_registry_register_placeholder(&rt->factories, origin, cfg, f, err);
	if (rc < 0)
		return rc;
	return fence(rt, origin, false, err);
}

int nm_daemon_handle_stats(const struct nm_daemon_handle *h, struct nm_daemon_stats *out,
			   struct nm_error *err)
{
	if (h == NULL || h->rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "stats: handle and out are required");
	return nm_registry_stats(&h->rt->registry, h->origin_hash, out, err);
}

int nm_daemon_handle_snapshot(const struct nm_daemon_handle *h, struct nm_snapshot **out,
			      struct nm_error *err)
{
	if (h == NULL || h->rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "snapshot: handle and out are required");
	*out = NULL;
	return nm_registry_snapshot(&h->rt->registry, h->origin_hash, out, err);
}

bool nm_runtime_has_daemon(struct nm_runtime *rt, uint64_t origin)
{
	return rt != NULL && nm_registry_contains(&rt->registry, origin);
}

int nm_runtime_set_observer(struct nm_runtime *rt, const struct nm_lifecycle_observer *o)
{
	return rt != NULL ? nm_registry_set_observer(&rt->registry, o) : -EINVAL;
}

int nm_runtime_control(struct nm_runtime *rt, uint32_t lcore, struct nm_exec_control *batch,
		       uint32_t n, uint32_t (*drain)(void *queue, struct nm_daemon *d),
		       uint64_t *delivered)
{
	if (rt == NULL || (n > 0 && (batch == NULL || drain == NULL)))
		return -EINVAL;
	return nm_registry_control(&rt->registry, lcore, batch, n, drain, delivered);
}

void nm_runtime_set_executor(struct nm_runtime *rt, const struct nm_executor *x)
{
	nm_registry_set_executor(&rt->registry, x);
}

void nm_runtime_set_start_stall_ms(struct nm_runtime *rt, uint32_t ms)
{
	atomic_store(&rt->start_stall_ms, ms);
}

void nm_runtime_set_spawn_stall_ms(struct nm_runtime *rt, uint32_t ms)
{
	atomic_store(&rt->spawn_stall_ms, ms);
}

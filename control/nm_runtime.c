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
#include "nm_migration.h"
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

	/*
	 * Migration holds of control-path daemons (the control tap). Deliveries
	 * take holds_lock shared; every tap call takes it exclusively, so a
	 * snapshot and the start of its hold are atomic with respect to them.
	 */
	pthread_rwlock_t holds_lock;
	struct nm_u64map holds;          /* origin -> struct hold * */
	struct nm_outputs *mig_out;      /* scratch for held/replayed events (under holds_lock) */
	struct nm_output_sink sink;      /* emit NULL: none */
	_Atomic uint64_t sinkless;       /* outputs with no sink */
	struct nm_mig_tap tap;
	void (*mig_handle)(void *ctx, const uint8_t *msg, size_t len, uint64_t from, uint64_t now_ms);
	void *mig_ctx;
};

/* One held delivery; the payload follows the struct. */
struct hold_ev {
	uint64_t mseq;
	uint64_t sender;
	struct nm_event ev;
};

enum hold_mode { HOLD_SOURCE = 1, HOLD_FORWARD = 2, HOLD_TARGET = 3 };

struct hold {
	enum hold_mode mode;
	uint64_t next_mseq;
	struct hold_ev **q; /* FIFO q[head..n) */
	size_t head, n, cap;
	size_t bytes;       /* payload bytes queued */
	struct hold_ev **taken; /* handed out by the last take, freed by the next call */
	size_t n_taken;
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

static int handler_handle(void *ctx, const uint8_t *msg, size_t len, uint64_t from,
			  uint64_t now_ms)
{
	struct nm_runtime *rt = ctx;
	if (rt->mig_handle == NULL)
		return -ENOSYS;
	rt->mig_handle(rt->mig_ctx, msg, len, from, now_ms);
	return 0;
}

static void tap_init(struct nm_runtime *rt);
static void holds_free_all(struct nm_runtime *rt);

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
	rt->handler.handle = handler_handle;
	tap_init(rt);
	if (pthread_rwlock_init(&rt->kinds_lock, NULL) != 0)
		goto fail_kinds;
	if (pthread_rwlock_init(&rt->holds_lock, NULL) != 0)
		goto fail_holds_lock;
	if (nm_u64map_init(&rt->holds, 8) < 0)
		goto fail_holds;
	if ((rt->mig_out = nm_outputs_create(256, 256 * 1024)) == NULL)
		goto fail_mig_out;
	if (nm_registry_init(&rt->registry) < 0)
		goto fail_registry;
	if (nm_factory_registry_init(&rt->factories) < 0)
		goto fail_factories;
	return rt;
fail_factories:
	nm_registry_fini(&rt->registry);
fail_registry:
	nm_outputs_free(rt->mig_out);
fail_mig_out:
	nm_u64map_fini(&rt->holds);
fail_holds:
	pthread_rwlock_destroy(&rt->holds_lock);
fail_holds_lock:
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
	holds_free_all(rt);
	nm_u64map_fini(&rt->holds);
	pthread_rwlock_destroy(&rt->holds_lock);
	nm_outputs_free(rt->mig_out);
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
	return nm_runtime_deliver_from(rt, origin, ev, 0, out, err);
}

static int hold_push(struct hold *h, const struct nm_event *ev, uint64_t sender);

int nm_runtime_deliver_from(struct nm_runtime *rt, uint64_t origin, const struct nm_event *ev,
			    uint64_t sender, struct nm_outputs *out, struct nm_error *err)
{
	if (rt == NULL || ev == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "deliver: runtime, event and outputs are required");
	int rc = require_ready(rt, err);
	if (rc < 0)
		return rc;
	nm_outputs_reset(out);
	/* Shared: a tap call (snapshot + hold) cannot run between our check and process(). */
	pthread_rwlock_rdlock(&rt->holds_lock);
	bool held = rt->holds.count > 0 && nm_u64map_get(&rt->holds, origin) != NULL;
	if (!held)
		rc = nm_registry_deliver(&rt->registry, origin, ev, out, nm_wall_ns(), err);
	pthread_rwlock_unlock(&rt->holds_lock);
	if (!held)
		return rc;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	rc = h != NULL ? hold_push(h, ev, sender)
		       : nm_registry_deliver(&rt->registry, origin, ev, out, nm_wall_ns(), err);
	if (rc == -ENOMEM)
		nm_error_set(err, rc, "deliver: out of memory holding an event of 0x%" PRIx64, origin);
	else if (rc == NM_EMIG_BUFFER_FULL)
		nm_mig_err_buffer_full(err, h->n - h->head + 1, h->bytes + ev->len);
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
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

/* A factory slot for an inbound migration: a placeholder (id NULL) or a keypair. */
static int reserve_slot(struct nm_runtime *rt, const char *kind, uint64_t origin,
			const struct nm_identity *id, const struct nm_host_config *cfg,
			struct nm_error *err)
{
	if (!kind_valid(kind))
		return err_bad_kind(err);
	if (nm_runtime_state(rt) == NM_RUNTIME_SHUTTING_DOWN)
		return err_shutting_down(err);
	const struct nm_factory *f = kind_find(rt, kind);
	if (f == NULL)
		return err_with_kind(err, NM_EFACTORY_NOT_FOUND, "no factory registered for kind '%s'",
				     kind);
	int rc = id != NULL ? nm_factory_registry_register(&rt->factories, id, cfg, f, err)
			    : nm_factory_registry_register_placeholder(&rt->factories, origin, cfg, f,
								       err);
	if (rc < 0)
		return rc;
	return fence(rt, origin, false, err);
}

int nm_runtime_expect_migration(struct nm_runtime *rt, const char *kind, uint64_t origin,
				const struct nm_host_config *cfg, struct nm_error *err)
{
	if (rt == NULL)
		return nm_error_set(err, -EINVAL, "expect_migration: runtime is required");
	return reserve_slot(rt, kind, origin, NULL, cfg, err);
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

size_t nm_runtime_list_daemons(struct nm_runtime *rt, uint64_t *out, size_t max)
{
	return rt != NULL ? nm_registry_list(&rt->registry, out, max) : 0;
}

int nm_runtime_daemon_view(struct nm_runtime *rt, uint64_t origin, struct nm_daemon_view *out,
			   struct nm_error *err)
{
	if (rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "daemon view: runtime and out are required");
	memset(out, 0, sizeof(*out));
	out->origin = origin;
	/* Name and owner are fixed for a host's life: read them under the map lock. */
	pthread_rwlock_rdlock(&rt->registry.lock);
	const struct nm_host *h = nm_u64map_get(&rt->registry.map, origin);
	if (h != NULL) {
		snprintf(out->name, sizeof(out->name), "%s", nm_host_name(h));
		out->lcore = h->config.lcore;
	}
	pthread_rwlock_unlock(&rt->registry.lock);
	if (h == NULL)
		return nm_err_not_found(err, origin);
	return nm_registry_stats(&rt->registry, origin, &out->stats, err);
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

/* ---- migration support ---- */

void nm_runtime_set_output_sink(struct nm_runtime *rt, const struct nm_output_sink *s)
{
	pthread_rwlock_wrlock(&rt->holds_lock);
	if (s != NULL)
		rt->sink = *s;
	else
		rt->sink.emit = NULL;
	pthread_rwlock_unlock(&rt->holds_lock);
}

uint64_t nm_runtime_sinkless_outputs(const struct nm_runtime *rt)
{
	return atomic_load(&((struct nm_runtime *)rt)->sinkless);
}

void nm_runtime_set_migration_receiver(struct nm_runtime *rt,
				       void (*handle)(void *ctx, const uint8_t *msg, size_t len,
						      uint64_t from_node, uint64_t now_ms),
				       void *ctx)
{
	rt->mig_ctx = ctx;
	rt->mig_handle = handle;
}

int nm_runtime_register_migration_target_identity(struct nm_runtime *rt, const char *kind,
						  const struct nm_identity *id,
						  const struct nm_host_config *cfg,
						  struct nm_error *err)
{
	if (rt == NULL || id == NULL)
		return nm_error_set(err, -EINVAL,
				    "register_migration_target_identity: runtime and identity are required");
	return reserve_slot(rt, kind, id->origin_hash, id, cfg, err);
}

bool nm_runtime_bind_expected_orchestrator(struct nm_runtime *rt, uint64_t origin, uint64_t node)
{
	return nm_factory_registry_bind_expected_orchestrator(&rt->factories, origin, node);
}

bool nm_runtime_expected_orchestrator(struct nm_runtime *rt, uint64_t origin, uint64_t *node)
{
	return nm_factory_registry_expected_orchestrator(&rt->factories, origin, node);
}

int nm_runtime_daemon_kind(struct nm_runtime *rt, uint64_t origin, char kind[NM_KIND_MAX + 1])
{
	return nm_factory_registry_kind(&rt->factories, origin, kind);
}

bool nm_runtime_has_factory_slot(struct nm_runtime *rt, uint64_t origin)
{
	return nm_factory_registry_contains(&rt->factories, origin);
}

int nm_runtime_daemon_identity(struct nm_runtime *rt, uint64_t origin, struct nm_identity *out)
{
	return nm_factory_registry_identity(&rt->factories, origin, out);
}

int nm_runtime_migration_restore(struct nm_runtime *rt, uint64_t origin,
				 const struct nm_snapshot *snap, const struct nm_identity *id,
				 struct nm_error *err)
{
	struct nm_daemon *d = NULL;
	struct nm_identity slot_id;
	struct nm_host_config cfg;
	bool has_identity = false;
	int rc = nm_factory_registry_construct(&rt->factories, origin, &d, &slot_id, &has_identity,
					       &cfg, err);
	if (rc == NM_ENOT_FOUND)
		return nm_error_set(err, NM_EFACTORY_NOT_FOUND,
				    "no factory registered on target for daemon 0x%" PRIx64, origin);
	if (rc < 0)
		return rc;
	if (id == NULL && !has_identity) {
		d->ops->destroy(d);
		return nm_error_set(err, NM_EMIG_STATE_FAILED,
				    "placeholder factory registered but snapshot has no identity "
				    "envelope (and no local fallback keypair available)");
	}
	const struct nm_identity *use = id != NULL ? id : &slot_id;
	struct nm_host *h = NULL;
	rc = nm_host_from_snapshot(d, use, snap, &cfg, &h, err);
	nm_identity_wipe(&slot_id);
	if (rc < 0)
		return rc;
	rc = nm_registry_register(&rt->registry, h, err);
	if (rc < 0) {
		nm_host_destroy(h);
		return rc;
	}
	if (id != NULL && !has_identity)
		nm_factory_registry_set_identity(&rt->factories, origin, id);
	if (nm_runtime_state(rt) == NM_RUNTIME_SHUTTING_DOWN) {
		nm_registry_unregister(&rt->registry, origin, NULL);
		return err_shutting_down(err);
	}
	return 0;
}

int nm_runtime_migration_remove(struct nm_runtime *rt, uint64_t origin, struct nm_error *err)
{
	return nm_registry_unregister(&rt->registry, origin, err);
}

/* ---- the control tap: hold queues (callers hold holds_lock exclusively) ---- */

static struct hold_ev *hold_ev_new(const struct nm_event *ev, uint64_t sender)
{
	struct hold_ev *e = malloc(sizeof(*e) + ev->len);
	if (e == NULL)
		return NULL;
	e->sender = sender;
	e->ev = *ev;
	if (ev->len > 0)
		memcpy(e + 1, ev->payload, ev->len);
	e->ev.payload = (const uint8_t *)(e + 1);
	return e;
}

static int hold_push(struct hold *h, const struct nm_event *ev, uint64_t sender)
{
	/* Upstream's buffer caps: a refused delivery is the caller's counted drop. */
	if (h->n - h->head >= NM_MIG_MAX_BUFFERED_EVENTS ||
	    h->bytes + ev->len > NM_MIG_MAX_PENDING_BYTES)
		return NM_EMIG_BUFFER_FULL;
	if (h->n == h->cap) {
		if (h->head > 0) { /* compact the consumed front first */
			memmove(h->q, h->q + h->head, (h->n - h->head) * sizeof(*h->q));
			h->n -= h->head;
			h->head = 0;
		}
		if (h->n == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 64;
			struct hold_ev **q = realloc(h->q, cap * sizeof(*q));
			if (q == NULL)
				return -ENOMEM;
			h->q = q;
			h->cap = cap;
		}
	}
	struct hold_ev *e = hold_ev_new(ev, sender);
	if (e == NULL)
		return -ENOMEM;
	e->mseq = h->next_mseq++;
	h->q[h->n++] = e;
	h->bytes += ev->len;
	return 0;
}

static void hold_drop_taken(struct hold *h)
{
	for (size_t i = 0; i < h->n_taken; i++)
		free(h->taken[i]);
	h->n_taken = 0;
}

static void hold_free(struct hold *h)
{
	hold_drop_taken(h);
	for (size_t i = h->head; i < h->n; i++)
		free(h->q[i]);
	free(h->q);
	free(h->taken);
	free(h);
}

static void holds_free_all(struct nm_runtime *rt)
{
	for (size_t i = 0; i <= rt->holds.mask; i++)
		if (rt->holds.slots[i].val != NULL)
			hold_free(rt->holds.slots[i].val);
	rt->holds.count = 0;
	memset(rt->holds.slots, 0, (rt->holds.mask + 1) * sizeof(*rt->holds.slots));
}

static struct hold *hold_new(struct nm_runtime *rt, uint64_t origin, enum hold_mode mode)
{
	struct hold *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->mode = mode;
	h->next_mseq = 1;
	if (nm_u64map_insert(&rt->holds, origin, h) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

/* Process one event here for the migration; outputs go to the sink. */
static int process_here(struct nm_runtime *rt, uint64_t origin, const struct nm_event *ev,
			uint64_t sender, struct nm_error *err)
{
	nm_outputs_reset(rt->mig_out);
	int rc = nm_registry_deliver(&rt->registry, origin, ev, rt->mig_out, nm_wall_ns(), err);
	if (rc == 0 && rt->mig_out->n > 0) {
		if (rt->sink.emit != NULL)
			rt->sink.emit(rt->sink.ctx, origin, sender, rt->mig_out);
		else
			atomic_fetch_add(&rt->sinkless, rt->mig_out->n);
	}
	return rc;
}

/* A stateless daemon migrates as an empty-state snapshot of its chain head. */
static int stateless_snapshot(struct nm_runtime *rt, uint64_t origin, struct nm_snapshot **snap,
			      struct nm_error *err)
{
	struct nm_chain chain;
	uint8_t entity[NM_ENTITY_ID_LEN];
	int rc = nm_registry_chain(&rt->registry, origin, &chain, entity, err);
	if (rc < 0)
		return rc;
	*snap = nm_snapshot_new(entity, &chain.head, NULL, 0, NULL, 0);
	if (*snap == NULL)
		return nm_error_set(err, -ENOMEM, "snapshot: out of memory");
	nm_snapshot_set_next_parent(*snap, chain.next_parent);
	return 0;
}

static int tap_snapshot_hold(void *ctx, uint64_t origin, struct nm_snapshot **snap,
			     bool *stateless, struct nm_error *err)
{
	struct nm_runtime *rt = ctx;
	struct nm_chain chain;
	uint8_t entity[NM_ENTITY_ID_LEN];
	*snap = NULL;
	*stateless = false;
	pthread_rwlock_wrlock(&rt->holds_lock);
	int rc = 0;
	if (nm_u64map_get(&rt->holds, origin) != NULL)
		rc = nm_mig_err_already_migrating(err, origin);
	/* The chain read refuses pinned daemons: only their owner can hold them atomically. */
	else if ((rc = nm_registry_chain(&rt->registry, origin, &chain, entity, err)) == 0 &&
		 (rc = nm_registry_snapshot(&rt->registry, origin, snap, err)) == 0 &&
		 *snap == NULL) {
		*stateless = true;
		rc = stateless_snapshot(rt, origin, snap, err);
	}
	if (rc == 0 && hold_new(rt, origin, HOLD_SOURCE) == NULL) {
		nm_snapshot_free(*snap);
		*snap = NULL;
		rc = nm_error_set(err, -ENOMEM, "hold: out of memory");
	}
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
}

static uint32_t tap_take(void *ctx, uint64_t origin, struct nm_mig_held *out, uint32_t max)
{
	struct nm_runtime *rt = ctx;
	uint32_t k = 0;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	if (h != NULL) {
		hold_drop_taken(h);
		size_t want = h->n - h->head < max ? h->n - h->head : max;
		struct hold_ev **t = want > 0 ? realloc(h->taken, want * sizeof(*t)) : h->taken;
		if (t != NULL || want == 0) {
			h->taken = t;
			for (; k < want; k++) {
				struct hold_ev *e = h->q[h->head++];
				h->bytes -= e->ev.len;
				h->taken[h->n_taken++] = e;
				out[k] = (struct nm_mig_held){ e->mseq, e->sender, e->ev };
			}
		}
	}
	pthread_rwlock_unlock(&rt->holds_lock);
	return k;
}

static int tap_release(void *ctx, uint64_t origin)
{
	struct nm_runtime *rt = ctx;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_remove(&rt->holds, origin);
	/* Still exclusive: the held events run before any new delivery. */
	for (size_t i = h != NULL ? h->head : 0; h != NULL && i < h->n; i++)
		process_here(rt, origin, &h->q[i]->ev, h->q[i]->sender, NULL);
	pthread_rwlock_unlock(&rt->holds_lock);
	if (h == NULL)
		return -ENOENT;
	hold_free(h);
	return 0;
}

static int tap_forward(void *ctx, uint64_t origin, uint64_t target)
{
	(void)target;
	struct nm_runtime *rt = ctx;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	int rc = h == NULL ? -ENOENT : 0;
	if (h != NULL) {
		h->mode = HOLD_FORWARD;
		nm_registry_unregister(&rt->registry, origin, NULL); /* the slot stays: it may come back */
	}
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
}

static int tap_unforward(void *ctx, uint64_t origin)
{
	struct nm_runtime *rt = ctx;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	int rc = h == NULL ? -ENOENT : h->mode != HOLD_FORWARD || h->head < h->n ? -EBUSY : 0;
	if (rc == 0)
		hold_free(nm_u64map_remove(&rt->holds, origin));
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
}

static int tap_hold(void *ctx, uint64_t origin)
{
	struct nm_runtime *rt = ctx;
	int rc = 0;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	if (h == NULL)
		rc = hold_new(rt, origin, HOLD_TARGET) != NULL ? 0 : -ENOMEM;
	else if (h->mode == HOLD_TARGET)
		rc = 0;
	else if (h->mode == HOLD_FORWARD && h->head == h->n) {
		hold_drop_taken(h);
		h->mode = HOLD_TARGET; /* it comes back: this node holds it for the new migration */
		h->next_mseq = 1;
	} else {
		rc = -EBUSY;
	}
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
}

static int tap_inject(void *ctx, uint64_t origin, const struct nm_event *ev, uint64_t sender,
		      struct nm_error *err)
{
	struct nm_runtime *rt = ctx;
	pthread_rwlock_wrlock(&rt->holds_lock);
	struct hold *h = nm_u64map_get(&rt->holds, origin);
	int rc = h != NULL && h->mode != HOLD_TARGET ? hold_push(h, ev, sender)
						      : process_here(rt, origin, ev, sender, err);
	pthread_rwlock_unlock(&rt->holds_lock);
	return rc;
}

static void tap_init(struct nm_runtime *rt)
{
	rt->tap = (struct nm_mig_tap){
		.ctx = rt,
		.snapshot_hold = tap_snapshot_hold,
		.take = tap_take,
		.release = tap_release,
		.forward = tap_forward,
		.unforward = tap_unforward,
		.hold = tap_hold,
		.inject = tap_inject,
	};
}

const struct nm_mig_tap *nm_runtime_tap(struct nm_runtime *rt)
{
	return &rt->tap;
}

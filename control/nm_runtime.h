/* SPDX-License-Identifier: MIT */
/*
 * nm_runtime.h - the compute runtime: kinds, spawn/stop, deliver, snapshots,
 * and the lifecycle fence. Names mirror upstream's SDK DaemonRuntime.
 *
 * Lifecycle: Registering -> Ready -> ShuttingDown (terminal; Registering ->
 * ShuttingDown is allowed too).
 *   - register_factory works in Registering and Ready, fails after shutdown;
 *   - start installs the migration handler on the node *before* publishing
 *     Ready, is idempotent, and clears its handler again if it lost the race
 *     to a concurrent shutdown;
 *   - shutdown (always 0, idempotent) publishes ShuttingDown, drains every
 *     daemon and uninstalls the handler;
 *   - every insert path (spawn, spawn_from_snapshot, expect_migration)
 *     re-checks the state after inserting and rolls back on ShuttingDown, so
 *     no daemon outlives a shutdown.
 * Every function is thread-safe. Daemon factories run on the calling thread.
 */
#ifndef NM_RUNTIME_H
#define NM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_identity.h"
#include "nm_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nm_node;
struct nm_runtime;

enum nm_runtime_state {
	NM_RUNTIME_REGISTERING = 0,
	NM_RUNTIME_READY = 1,
	NM_RUNTIME_SHUTTING_DOWN = 2,
};

/* A spawned daemon. Copyable; dropping it does not stop the daemon. */
struct nm_daemon_handle {
	struct nm_runtime *rt;
	uint64_t origin_hash;
	uint8_t entity_id[NM_ENTITY_ID_LEN];
};

/*
 * New runtime on a node (not started): nm_mesh_node(mesh) on the appliance,
 * or nm_node_create() without a dataplane. NULL on bad argument or no memory.
 */
struct nm_runtime *nm_runtime_create(struct nm_node *node);

/* Shut down if needed, then free. The node is not touched otherwise. */
void nm_runtime_destroy(struct nm_runtime *rt);

struct nm_node *nm_runtime_node(const struct nm_runtime *rt);
enum nm_runtime_state nm_runtime_state(const struct nm_runtime *rt);
bool nm_runtime_is_ready(const struct nm_runtime *rt);
size_t nm_runtime_daemon_count(struct nm_runtime *rt);

/*
 * Register a kind (1..NM_KIND_MAX bytes). NM_EFACTORY_EXISTS on a duplicate
 * kind (exactly one of many concurrent callers wins), NM_ESHUTTING_DOWN after
 * shutdown, -EINVAL for bad arguments.
 */
int nm_runtime_register_factory(struct nm_runtime *rt, const char *kind, nm_daemon_factory_fn fn,
				void *ctx, struct nm_error *err);

int nm_runtime_start(struct nm_runtime *rt, struct nm_error *err);
int nm_runtime_shutdown(struct nm_runtime *rt, struct nm_error *err);

/*
 * Spawn a daemon of `kind` under `id` (copied). cfg NULL = default.
 * NM_ENOT_READY / NM_ESHUTTING_DOWN, NM_EFACTORY_NOT_FOUND, NM_EPROCESS_FAILED
 * "... already registered" when the identity is in use (the incumbent is
 * untouched). The factory is called exactly once per call that gets that far.
 */
int nm_runtime_spawn(struct nm_runtime *rt, const char *kind, const struct nm_identity *id,
		     const struct nm_host_config *cfg, struct nm_daemon_handle *out,
		     struct nm_error *err);

/*
 * Install a ready-made daemon instance under `id` (the MeshOS SDK's
 * registration). Takes ownership of `d` in every case. No kind and no factory
 * slot, so it cannot be the target of a migration; nm_runtime_stop stops it.
 * NM_EPROCESS_FAILED "daemon 0x... already registered" when the identity is
 * in use (the incumbent is untouched); NM_ENOT_READY / NM_ESHUTTING_DOWN.
 */
int nm_runtime_spawn_with_daemon(struct nm_runtime *rt, struct nm_daemon *d,
				 const struct nm_identity *id, const struct nm_host_config *cfg,
				 struct nm_daemon_handle *out, struct nm_error *err);

/*
 * Spawn from a snapshot. The kind is checked first, then the full 32-byte
 * entity_id (NM_ESNAPSHOT_IDENTITY, before any side effect), then the daemon's
 * restore (NM_ERESTORE_FAILED, ...). The chain continues from snap's head:
 * with snap->next_parent when the snapshot has the chain-head extension (set
 * by nm_runtime_snapshot, or by nm_snapshot_set_next_parent after a decode),
 * else with upstream's fallback over the state bytes (nm_host.h).
 */
int nm_runtime_spawn_from_snapshot(struct nm_runtime *rt, const char *kind,
				   const struct nm_identity *id, const struct nm_snapshot *snap,
				   const struct nm_host_config *cfg, struct nm_daemon_handle *out,
				   struct nm_error *err);

/*
 * Deliver one event; `out` is reset first and then holds this event's chained
 * outputs (payloads in out's arena). NM_ENOT_FOUND for an unknown origin;
 * the daemon's own error when process() fails.
 */
int nm_runtime_deliver(struct nm_runtime *rt, uint64_t origin, const struct nm_event *ev,
		       struct nm_outputs *out, struct nm_error *err);

/* Stop a daemon. NM_ENOT_READY in Registering; absent while shutting down is 0. */
int nm_runtime_stop(struct nm_runtime *rt, uint64_t origin, struct nm_error *err);

/*
 * *out = NULL for a stateless daemon; the caller frees a snapshot. The
 * snapshot carries the chain-head extension (next_parent, nm_snapshot.h),
 * which the CDS1 bytes cannot: keep it beside them to restore elsewhere.
 */
int nm_runtime_snapshot(struct nm_runtime *rt, uint64_t origin, struct nm_snapshot **out,
			struct nm_error *err);

/*
 * Reserve an origin for an inbound migration of `kind` (placeholder slot, no
 * keypair). Allowed before start. A collision is NM_EPROCESS_FAILED "...
 * already registered"; an existing slot is never replaced.
 */
int nm_runtime_expect_migration(struct nm_runtime *rt, const char *kind, uint64_t origin,
				const struct nm_host_config *cfg, struct nm_error *err);

/* Handle calls: no readiness check; NM_ENOT_FOUND once the daemon is gone. */
int nm_daemon_handle_stats(const struct nm_daemon_handle *h, struct nm_daemon_stats *out,
			   struct nm_error *err);
int nm_daemon_handle_snapshot(const struct nm_daemon_handle *h, struct nm_snapshot **out,
			      struct nm_error *err);

/* Is a daemon with this origin registered (live)? */
bool nm_runtime_has_daemon(struct nm_runtime *rt, uint64_t origin);

/* What an operator sees of one live daemon (telemetry, dashboards). */
struct nm_daemon_view {
	uint64_t origin;
	char name[NM_NAME_MAX + 1]; /* the daemon's name (a built-in daemon's is its kind) */
	uint32_t lcore;             /* owner: a worker lcore or NM_LCORE_CONTROL */
	struct nm_daemon_stats stats;
};

/* Up to `max` live origins into `out`; returns how many are registered in all. */
size_t nm_runtime_list_daemons(struct nm_runtime *rt, uint64_t *out, size_t max);

/*
 * One live daemon's view; its stats come from its owner (a pinned daemon's
 * through the worker's control channel, like nm_daemon_handle_stats).
 * NM_ENOT_FOUND once it is gone.
 */
int nm_runtime_daemon_view(struct nm_runtime *rt, uint64_t origin, struct nm_daemon_view *out,
			   struct nm_error *err);

/*
 * Install the lifecycle observer (NULL removes it; -EBUSY while another is
 * installed); the daemons already registered are reported first. MeshOS uses
 * this. The observer must outlive its installation.
 */
int nm_runtime_set_observer(struct nm_runtime *rt, const struct nm_lifecycle_observer *o);

struct nm_exec_control;
/*
 * Run `drain` for a batch of daemons owned by `lcore` (a worker lcore, or
 * NM_LCORE_CONTROL), each where its process() runs: one request on the
 * worker's control channel for the whole batch (inline when the workers are
 * stopped). MeshOS passes waiting control events to on_control this way.
 * Adds what drain returned to *delivered. -ENODEV without a worker there.
 */
int nm_runtime_control(struct nm_runtime *rt, uint32_t lcore, struct nm_exec_control *batch,
		       uint32_t n, uint32_t (*drain)(void *queue, struct nm_daemon *d),
		       uint64_t *delivered);

struct nm_executor;
/*
 * Let daemons be pinned on worker lcores (nm_host_config.lcore): the
 * dataplane installs its executor once, before spawning pinned daemons.
 */
void nm_runtime_set_executor(struct nm_runtime *rt, const struct nm_executor *x);

/* ---- live migration (nm_migration.h drives these) ---- */

/*
 * Deliver one event that came from node `sender` (0: unknown / local). The
 * same as nm_runtime_deliver, except while a migration holds the daemon
 * (the control tap, nm_runtime_tap): the event is then queued for the
 * migration, numbered in arrival order, and this returns 0 with no outputs
 * in `out`. Its outputs appear later through the output sink, when it is
 * processed (here after an abort, or on the target after the commit). While
 * the hold is at upstream's caps (1 000 000 events / 64 MiB) the event is
 * refused with NM_EMIG_BUFFER_FULL (the caller counts the drop).
 */
int nm_runtime_deliver_from(struct nm_runtime *rt, uint64_t origin, const struct nm_event *ev,
			    uint64_t sender, struct nm_outputs *out, struct nm_error *err);

/* Where outputs of events processed on behalf of a migration go. */
struct nm_output_sink {
	void *ctx;
	/* `sender`: the node the event came from; `out` is valid during the call. */
	void (*emit)(void *ctx, uint64_t origin, uint64_t sender, const struct nm_outputs *out);
};

/* Install (NULL: outputs of such events are counted and dropped). Not thread-safe with deliveries. */
void nm_runtime_set_output_sink(struct nm_runtime *rt, const struct nm_output_sink *s);

/* Outputs of held/replayed events that had no sink to go to (each counted, never silent). */
uint64_t nm_runtime_sinkless_outputs(const struct nm_runtime *rt);

/*
 * Reserve an origin for an inbound migration with a full keypair (upstream's
 * register_migration_target_identity): the fallback when the source sends no
 * identity envelope. Same rules as nm_runtime_expect_migration.
 */
int nm_runtime_register_migration_target_identity(struct nm_runtime *rt, const char *kind,
						  const struct nm_identity *id,
						  const struct nm_host_config *cfg,
						  struct nm_error *err);

/* Upstream's bind_expected_orchestrator on the origin's factory slot. */
bool nm_runtime_bind_expected_orchestrator(struct nm_runtime *rt, uint64_t origin, uint64_t node);
bool nm_runtime_expected_orchestrator(struct nm_runtime *rt, uint64_t origin, uint64_t *node);

/* The kind of the origin's factory slot (what a target needs to build it). NM_ENOT_FOUND. */
int nm_runtime_daemon_kind(struct nm_runtime *rt, uint64_t origin, char kind[NM_KIND_MAX + 1]);

/* Is there a factory slot for the origin (spawned, placeholder or keyed)? */
bool nm_runtime_has_factory_slot(struct nm_runtime *rt, uint64_t origin);

/* The daemon's keypair, from its factory slot. NM_ENOT_FOUND without one (or a placeholder). */
int nm_runtime_daemon_identity(struct nm_runtime *rt, uint64_t origin, struct nm_identity *out);

/*
 * Target side: build the daemon from the origin's factory slot and restore
 * it from `snap` with `id` (NULL: the slot's own keypair; a placeholder then
 * fails with upstream's "placeholder factory registered but snapshot has no
 * identity envelope ..." text). The slot is kept and, once `id` is given,
 * remembers it, so the daemon can migrate on later. NM_EFACTORY_NOT_FOUND
 * without a slot.
 */
int nm_runtime_migration_restore(struct nm_runtime *rt, uint64_t origin,
				 const struct nm_snapshot *snap, const struct nm_identity *id,
				 struct nm_error *err);

/* Remove the live daemon, keep its factory slot (source cleanup, target discard). */
int nm_runtime_migration_remove(struct nm_runtime *rt, uint64_t origin, struct nm_error *err);

struct nm_mig_tap;
/*
 * The event tap for daemons on the control path (nm_migration.h): the hold
 * queues nm_runtime_deliver_from consults. Pinned daemons are held by the
 * dataplane's own tap; this one refuses them (-ENOTSUP).
 */
const struct nm_mig_tap *nm_runtime_tap(struct nm_runtime *rt);

/* Let the migration engine receive the node's inbound 0x0500 messages. */
void nm_runtime_set_migration_receiver(struct nm_runtime *rt,
				       void (*handle)(void *ctx, const uint8_t *msg, size_t len,
						      uint64_t from_node, uint64_t now_ms),
				       void *ctx);

/* Test hooks for the race tests: sleep inside start / spawn at the racy point. */
void nm_runtime_set_start_stall_ms(struct nm_runtime *rt, uint32_t ms);
void nm_runtime_set_spawn_stall_ms(struct nm_runtime *rt, uint32_t ms);

#ifdef __cplusplus
}
#endif
#endif /* NM_RUNTIME_H */

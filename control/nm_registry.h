/* SPDX-License-Identifier: MIT */
/*
 * nm_registry.h - the daemon registry: origin_hash -> live daemon host.
 *
 * Locking: a rwlock guards the map; operations on one daemon hold it shared
 * plus that host's own lock, so different daemons run concurrently and one
 * daemon's calls are serialised. Removal takes the map lock exclusively, so a
 * host is never freed under a running call (upstream's Stale cannot arise
 * here; the code is kept for hosts that move between owners).
 * Hosts must not call back into the registry from process().
 *
 * Hosts pinned on a worker lcore (config.lcore) belong to that lcore: the
 * registry attaches them there on insert, detaches them on removal, and runs
 * deliver/snapshot/stats on them through the executor (nm_exec.h) instead of
 * under the host lock.
 */
#ifndef NM_REGISTRY_H
#define NM_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_exec.h"
#include "nm_host.h"
#include "nm_snapshot.h"
#include "nm_u64map.h"

struct nm_registry {
	pthread_rwlock_t lock;
	struct nm_u64map map; /* origin -> struct nm_host * */
	const struct nm_executor *exec; /* NULL: no worker lcores */
	const struct nm_lifecycle_observer *obs; /* NULL: none; called under the exclusive lock */
};

int nm_registry_init(struct nm_registry *r);
/* Destroys every host still registered. */
void nm_registry_fini(struct nm_registry *r);

/* Install the executor for pinned hosts (before any pinned host exists). */
void nm_registry_set_executor(struct nm_registry *r, const struct nm_executor *x);

/*
 * Install the lifecycle observer (NULL removes it); -EBUSY when another one
 * is installed. Every daemon already registered is reported as REGISTERED
 * first, under the same lock, so the observer sees each daemon exactly once.
 * Once this returns, no call to a previous observer is running.
 */
int nm_registry_set_observer(struct nm_registry *r, const struct nm_lifecycle_observer *o);

/*
 * Insert; the registry owns the host on success. A pinned host is attached to
 * its lcore first (-EINVAL when no worker runs there). On collision: NM_EPROCESS_FAILED
 * "daemon 0x... already registered", the incumbent untouched, the caller keeps `h`.
 */
int nm_registry_register(struct nm_registry *r, struct nm_host *h, struct nm_error *err);

/* Remove and destroy. NM_ENOT_FOUND when absent. */
int nm_registry_unregister(struct nm_registry *r, uint64_t origin, struct nm_error *err);

/* Remove and destroy every host; `cb` (may be NULL) sees each origin, under
 * the exclusive lock (it must not call back into the registry). */
size_t nm_registry_drain(struct nm_registry *r, void (*cb)(uint64_t origin, void *arg), void *arg);

int nm_registry_deliver(struct nm_registry *r, uint64_t origin, const struct nm_event *ev,
			struct nm_outputs *out, uint64_t now_ns, struct nm_error *err);
int nm_registry_snapshot(struct nm_registry *r, uint64_t origin, struct nm_snapshot **out,
			 struct nm_error *err);
int nm_registry_stats(struct nm_registry *r, uint64_t origin, struct nm_daemon_stats *out,
		      struct nm_error *err);

/*
 * CONTROL for the daemons of one owner (`lcore`: a worker lcore, or
 * NM_LCORE_CONTROL for control-path daemons, run here under each host's
 * lock): one request for the whole batch. Entries whose daemon is gone or
 * owned elsewhere get host NULL and are skipped. Adds the events passed on
 * to *delivered. -ENODEV when no worker runs that lcore.
 */
int nm_registry_control(struct nm_registry *r, uint32_t lcore, struct nm_exec_control *batch,
			uint32_t n, nm_exec_drain_fn drain, uint64_t *delivered);

/*
 * The chain (head and next parent hash) and entity id of a control-path host
 * (a stateless daemon's migration needs them without a snapshot). -ENOTSUP
 * for a pinned host (its owner lcore answers that), NM_ENOT_FOUND when absent.
 */
int nm_registry_chain(struct nm_registry *r, uint64_t origin, struct nm_chain *chain,
		      uint8_t entity_id[NM_ENTITY_ID_LEN], struct nm_error *err);

size_t nm_registry_count(struct nm_registry *r);
bool nm_registry_contains(struct nm_registry *r, uint64_t origin);

/* Up to `max` origins into `out`; returns how many are registered in all. */
size_t nm_registry_list(struct nm_registry *r, uint64_t *out, size_t max);

/* Upstream's NotFound text, "daemon not found: 0x...", with err->origin set. */
int nm_err_not_found(struct nm_error *err, uint64_t origin);

#endif /* NM_REGISTRY_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_factory_registry.h - per-origin factory slots for daemons that may
 * arrive by migration: origin_hash -> (kind factory, keypair or placeholder,
 * config, expected orchestrator).
 *
 * Registration is atomic on collision: a second registration for an origin
 * fails with NM_EPROCESS_FAILED "factory for origin_hash 0x... already
 * registered" and never touches the incumbent (live or placeholder).
 * construct() builds a new daemon every call and keeps the slot, so a failed
 * restore can be retried.
 */
#ifndef NM_FACTORY_REGISTRY_H
#define NM_FACTORY_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_identity.h"
#include "nm_u64map.h"

/* A kind's factory. Owned by the runtime's kind table; outlives every slot. */
struct nm_factory {
	char kind[NM_KIND_MAX + 1];
	nm_daemon_factory_fn fn;
	void *ctx;
};

struct nm_factory_registry {
	pthread_mutex_t lock;
	struct nm_u64map map; /* origin -> struct nm_factory_slot * */
};

int nm_factory_registry_init(struct nm_factory_registry *fr);
void nm_factory_registry_fini(struct nm_factory_registry *fr);

int nm_factory_registry_register(struct nm_factory_registry *fr, const struct nm_identity *id,
				 const struct nm_host_config *cfg, const struct nm_factory *f,
				 struct nm_error *err);

/* Same, without a keypair (the target of a migration that brings its own). */
int nm_factory_registry_register_placeholder(struct nm_factory_registry *fr, uint64_t origin,
					     const struct nm_host_config *cfg,
					     const struct nm_factory *f, struct nm_error *err);

/*
 * Bind the node allowed to orchestrate this origin's migration. false when no
 * slot exists or a different node is already bound; re-binding the same is true.
 */
bool nm_factory_registry_bind_expected_orchestrator(struct nm_factory_registry *fr,
						    uint64_t origin, uint64_t node);
bool nm_factory_registry_expected_orchestrator(struct nm_factory_registry *fr, uint64_t origin,
					       uint64_t *node);

/*
 * Call the slot's factory (outside the lock) and copy its keypair and config.
 * *has_identity is false for a placeholder. NM_ENOT_FOUND without a slot,
 * NM_EPROCESS_FAILED when the factory returns no daemon.
 */
int nm_factory_registry_construct(struct nm_factory_registry *fr, uint64_t origin,
				  struct nm_daemon **d, struct nm_identity *id, bool *has_identity,
				  struct nm_host_config *cfg, struct nm_error *err);

/* Copy the slot's keypair. NM_ENOT_FOUND without a slot or for a placeholder. */
int nm_factory_registry_identity(struct nm_factory_registry *fr, uint64_t origin,
				 struct nm_identity *id);

/* Give a placeholder slot its keypair (a migrated daemon arrived with it). No-op otherwise. */
/* The slot's kind (NUL-terminated, NM_KIND_MAX + 1 bytes). NM_ENOT_FOUND without a slot. */
int nm_factory_registry_kind(struct nm_factory_registry *fr, uint64_t origin,
			     char kind[NM_KIND_MAX + 1]);

void nm_factory_registry_set_identity(struct nm_factory_registry *fr, uint64_t origin,
				      const struct nm_identity *id);

/* Idempotent. */
void nm_factory_registry_remove(struct nm_factory_registry *fr, uint64_t origin);
bool nm_factory_registry_contains(struct nm_factory_registry *fr, uint64_t origin);
size_t nm_factory_registry_count(struct nm_factory_registry *fr);

#endif /* NM_FACTORY_REGISTRY_H */

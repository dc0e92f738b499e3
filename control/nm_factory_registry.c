/* SPDX-License-Identifier: MIT */
/* nm_factory_registry.c - per-origin factory slots (see header). */
#include "nm_factory_registry.h"

#include <errno.h>
#include <string.h>
#include <inttypes.h>
#include <stdlib.h>

struct nm_factory_slot {
	const struct nm_factory *factory;
	struct nm_host_config config;
	uint64_t orchestrator;
	bool has_orchestrator;
	bool has_identity;
	struct nm_identity id;
};

int nm_factory_registry_init(struct nm_factory_registry *fr)
{
	int rc = nm_u64map_init(&fr->map, 64);
	if (rc < 0)
		return rc;
	pthread_mutex_init(&fr->lock, NULL);
	return 0;
}

static void slot_free(struct nm_factory_slot *s)
{
	if (s == NULL)
		return;
	nm_identity_wipe(&s->id);
	free(s);
}

void nm_factory_registry_fini(struct nm_factory_registry *fr)
{
	for (size_t i = 0; i <= fr->map.mask; i++)
		slot_free(fr->map.slots[i].val);
	nm_u64map_fini(&fr->map);
	pthread_mutex_destroy(&fr->lock);
}

static int insert_slot(struct nm_factory_registry *fr, uint64_t origin, const struct nm_identity *id,
		       const struct nm_host_config *cfg, const struct nm_factory *f,
		       struct nm_error *err)
{
	if (f == NULL)
		return nm_error_set(err, -EINVAL, "factory registry: factory is required");
	struct nm_factory_slot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return nm_error_set(err, -ENOMEM, "factory registry: out of memory");
	s->factory = f;
	s->config = cfg != NULL ? *cfg : nm_host_config_default();
	if (id != NULL) {
		s->id = *id;
		s->has_identity = true;
	}
	pthread_mutex_lock(&fr->lock);
	int rc = nm_u64map_insert(&fr->map, origin, s);
	pthread_mutex_unlock(&fr->lock);
	if (rc == 0)
		return 0;
	slot_free(s);
	if (rc == -EEXIST)
		return nm_error_set(err, NM_EPROCESS_FAILED,
				    "factory for origin_hash 0x%" PRIx64 " already registered", origin);
	return nm_error_set(err, rc, "factory registry: cannot insert 0x%" PRIx64, origin);
}

int nm_factory_registry_register(struct nm_factory_registry *fr, const struct nm_identity *id,
				 const struct nm_host_config *cfg, const struct nm_factory *f,
				 struct nm_error *err)
{
	if (id == NULL)
		return nm_error_set(err, -EINVAL, "factory registry: identity is required");
	return insert_slot(fr, id->origin_hash, id, cfg, f, err);
}

int nm_factory_registry_register_placeholder(struct nm_factory_registry *fr, uint64_t origin,
					     const struct nm_host_config *cfg,
					     const struct nm_factory *f, struct nm_error *err)
{
	return insert_slot(fr, origin, NULL, cfg, f, err);
}

bool nm_factory_registry_bind_expected_orchestrator(struct nm_factory_registry *fr,
						    uint64_t origin, uint64_t node)
{
	bool ok = false;
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL && (!s->has_orchestrator || s->orchestrator == node)) {
		s->orchestrator = node;
		s->has_orchestrator = true;
		ok = true;
	}
	pthread_mutex_unlock(&fr->lock);
	return ok;
}

bool nm_factory_registry_expected_orchestrator(struct nm_factory_registry *fr, uint64_t origin,
					       uint64_t *node)
{
	bool bound = false;
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL && s->has_orchestrator) {
		*node = s->orchestrator;
		bound = true;
	}
	pthread_mutex_unlock(&fr->lock);
	return bound;
}

int nm_factory_registry_construct(struct nm_factory_registry *fr, uint64_t origin,
				  struct nm_daemon **d, struct nm_identity *id, bool *has_identity,
				  struct nm_host_config *cfg, struct nm_error *err)
{
	const struct nm_factory *f = NULL;
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL) {
		f = s->factory;
		*has_identity = s->has_identity;
		if (s->has_identity)
			*id = s->id;
		*cfg = s->config;
	}
	pthread_mutex_unlock(&fr->lock);
	if (f == NULL)
		return nm_error_set(err, NM_ENOT_FOUND, "no factory slot for origin_hash 0x%" PRIx64,
				    origin);
	*d = f->fn(f->ctx);
	if (*d == NULL)
		return nm_error_set(err, NM_EPROCESS_FAILED, "factory for kind '%s' returned no daemon",
				    f->kind);
	return 0;
}

int nm_factory_registry_identity(struct nm_factory_registry *fr, uint64_t origin,
				 struct nm_identity *id)
{
	int rc = NM_ENOT_FOUND;
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL && s->has_identity) {
		*id = s->id;
		rc = 0;
	}
	pthread_mutex_unlock(&fr->lock);
	return rc;
}

int nm_factory_registry_kind(struct nm_factory_registry *fr, uint64_t origin,
			     char kind[NM_KIND_MAX + 1])
{
	int rc = NM_ENOT_FOUND;
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL) {
		memcpy(kind, s->factory->kind, NM_KIND_MAX + 1);
		rc = 0;
	}
	pthread_mutex_unlock(&fr->lock);
	return rc;
}

void nm_factory_registry_set_identity(struct nm_factory_registry *fr, uint64_t origin,
				      const struct nm_identity *id)
{
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_get(&fr->map, origin);
	if (s != NULL && !s->has_identity) {
		s->id = *id;
		s->has_identity = true;
	}
	pthread_mutex_unlock(&fr->lock);
}

void nm_factory_registry_remove(struct nm_factory_registry *fr, uint64_t origin)
{
	pthread_mutex_lock(&fr->lock);
	struct nm_factory_slot *s = nm_u64map_remove(&fr->map, origin);
	pthread_mutex_unlock(&fr->lock);
	slot_free(s);
}

bool nm_factory_registry_contains(struct nm_factory_registry *fr, uint64_t origin)
{
	pthread_mutex_lock(&fr->lock);
	bool found = nm_u64map_get(&fr->map, origin) != NULL;
	pthread_mutex_unlock(&fr->lock);
	return found;
}

size_t nm_factory_registry_count(struct nm_factory_registry *fr)
{
	pthread_mutex_lock(&fr->lock);
	size_t n = fr->map.count;
	pthread_mutex_unlock(&fr->lock);
	return n;
}

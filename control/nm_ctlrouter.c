/* SPDX-License-Identifier: MIT */
/* nm_ctlrouter.c - per-daemon control channels and their router (see header). */
#include "nm_ctlrouter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **arr, size_t *cap, size_t need, size_t esize)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*arr, c * esize);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int nm_ctlrouter_init(struct nm_ctlrouter *r, uint32_t capacity)
{
	memset(r, 0, sizeof(*r));
	r->capacity = capacity ? capacity : NM_CTL_DEFAULT_CAPACITY;
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

void nm_ctlslot_put(struct nm_ctlslot *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	nm_bq_free(s->q);
	free(s);
}

void nm_ctlrouter_fini(struct nm_ctlrouter *r)
{
	for (size_t i = 0; i < r->n; i++) {
		nm_bq_close(r->all[i]->q);
		nm_ctlslot_put(r->all[i]);
	}
	for (uint32_t g = 0; g < r->n_groups; g++)
		free(r->groups[g].slots);
	free(r->groups);
	free(r->all);
	nm_u64map_fini(&r->map);
	pthread_rwlock_destroy(&r->lock);
}

static struct nm_ctlslot *slot_new(struct nm_ctlrouter *r, const struct nm_daemon_info *d,
				   uint32_t capacity)
{
	struct nm_ctlslot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->q = nm_bq_create(capacity ? capacity : r->capacity, sizeof(struct nm_daemon_control));
	if (s->q == NULL) {
		free(s);
		return NULL;
	}
	s->id = d->origin;
	snprintf(s->name, sizeof(s->name), "%s", d->name != NULL ? d->name : "");
	s->lcore = d->lcore;
	s->on_control = d->on_control;
	s->pending = &r->pending;
	atomic_init(&s->refs, 1);
	return s;
}

/* The group of an owner lcore, made on first use. NULL: no memory. */
static struct nm_ctlgroup *group_of(struct nm_ctlrouter *r, uint32_t lcore, uint32_t *idx)
{
	for (uint32_t g = 0; g < r->n_groups; g++) {
		if (r->groups[g].lcore == lcore) {
			*idx = g;
			return &r->groups[g];
		}
	}
	size_t cap = r->cap_groups;
	if (grow((void **)&r->groups, &cap, r->n_groups + 1, sizeof(*r->groups)) < 0)
		return NULL;
	r->cap_groups = (uint32_t)cap;
	*idx = r->n_groups;
	r->groups[r->n_groups] = (struct nm_ctlgroup){ .lcore = lcore };
	return &r->groups[r->n_groups++];
}

/* Insert into all[] and, for on_control, its group. Exclusive lock held. */
static int link_slot(struct nm_ctlrouter *r, struct nm_ctlslot *s)
{
	if (grow((void **)&r->all, &r->cap, r->n + 1, sizeof(*r->all)) < 0)
		return -ENOMEM;
	if (s->on_control) {
		struct nm_ctlgroup *g = group_of(r, s->lcore, &s->group);
		if (g == NULL || grow((void **)&g->slots, &g->cap, g->n + 1, sizeof(*g->slots)) < 0)
			return -ENOMEM;
		s->gpos = g->n;
		g->slots[g->n++] = s;
	}
	s->pos = r->n;
	r->all[r->n++] = s;
	return 0;
}

/* Swap-remove from all[] and the group. Exclusive lock held. */
static void unlink_slot(struct nm_ctlrouter *r, struct nm_ctlslot *s)
{
	r->all[s->pos] = r->all[--r->n];
	r->all[s->pos]->pos = s->pos;
	if (!s->on_control)
		return;
	struct nm_ctlgroup *g = &r->groups[s->group];
	g->slots[s->gpos] = g->slots[--g->n];
	g->slots[s->gpos]->gpos = s->gpos;
}

int nm_ctlrouter_add(struct nm_ctlrouter *r, const struct nm_daemon_info *d, uint32_t capacity)
{
	struct nm_ctlslot *s = slot_new(r, d, capacity);
	if (s == NULL)
		return -ENOMEM;
	pthread_rwlock_wrlock(&r->lock);
	int rc = nm_u64map_insert(&r->map, s->id, s);
	if (rc == 0 && (rc = link_slot(r, s)) < 0)
		nm_u64map_remove(&r->map, s->id);
	pthread_rwlock_unlock(&r->lock);
	if (rc < 0)
		nm_ctlslot_put(s);
	return rc;
}

bool nm_ctlrouter_remove(struct nm_ctlrouter *r, uint64_t id)
{
	pthread_rwlock_wrlock(&r->lock);
	struct nm_ctlslot *s = nm_u64map_remove(&r->map, id);
	if (s != NULL)
		unlink_slot(r, s);
	pthread_rwlock_unlock(&r->lock);
	if (s == NULL)
		return false;
	nm_bq_close(s->q);
	nm_ctlslot_put(s);
	return true;
}

struct nm_ctlslot *nm_ctlrouter_get(struct nm_ctlrouter *r, uint64_t id)
{
	pthread_rwlock_rdlock(&r->lock);
	struct nm_ctlslot *s = nm_u64map_get(&r->map, id);
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_rwlock_unlock(&r->lock);
	return s;
}

/* One event into one channel; the drop is counted where it happened. */
static int push(struct nm_ctlrouter *r, struct nm_ctlslot *s, const struct nm_daemon_control *c)
{
	int rc = nm_bq_push(s->q, c);
	if (rc == -ENOBUFS) {
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return rc;
	}
	if (rc < 0)
		return rc; /* closed: the daemon is leaving */
	atomic_fetch_add_explicit(&r->routed, 1, memory_order_relaxed);
	if (s->on_control && !atomic_load_explicit(s->pending, memory_order_relaxed))
		atomic_store_explicit(s->pending, true, memory_order_release);
	return 0;
}

int nm_ctlrouter_route(struct nm_ctlrouter *r, uint64_t id, const struct nm_daemon_control *c)
{
	pthread_rwlock_rdlock(&r->lock);
	struct nm_ctlslot *s = nm_u64map_get(&r->map, id);
	int rc = s != NULL ? push(r, s, c) : -ENOENT;
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

size_t nm_ctlrouter_broadcast(struct nm_ctlrouter *r, const struct nm_daemon_control *c)
{
	size_t ok = 0;
	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		ok += push(r, r->all[i], c) == 0;
	pthread_rwlock_unlock(&r->lock);
	return ok;
}

struct nm_daemon_control nm_control_at(const struct nm_mesh_control *c, uint64_t now_ms)
{
	struct nm_daemon_control d = { .kind = c->kind };
	if (c->kind == NM_CONTROL_SHUTDOWN || c->kind == NM_CONTROL_DRAIN_START)
		d.grace_period_ms = c->deadline_ms > now_ms ? c->deadline_ms - now_ms : 0;
	if (c->kind == NM_CONTROL_BACKPRESSURE_ON)
		d.level = c->level;
	return d;
}

size_t nm_ctlrouter_emit(struct nm_ctlrouter *r, const struct nm_mesh_control *c, uint64_t now_ms)
{
	struct nm_daemon_control d = nm_control_at(c, now_ms);
	return nm_ctlrouter_broadcast(r, &d);
}

uint64_t nm_ctlrouter_dropped(struct nm_ctlrouter *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

size_t nm_ctlrouter_count(struct nm_ctlrouter *r)
{
	pthread_rwlock_rdlock(&r->lock);
	size_t n = r->n;
	pthread_rwlock_unlock(&r->lock);
	return n;
}

void nm_ctlrouter_close_all(struct nm_ctlrouter *r)
{
	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		nm_bq_close(r->all[i]->q);
	pthread_rwlock_unlock(&r->lock);
}

void nm_ctlrouter_foreach(struct nm_ctlrouter *r, void (*fn)(struct nm_ctlslot *s, void *ctx),
			  void *ctx)
{
	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		fn(r->all[i], ctx);
	pthread_rwlock_unlock(&r->lock);
}

/* Room for every on_control slot, so the scan below cannot fail half way. */
static size_t oc_total(const struct nm_ctlrouter *r)
{
	size_t n = 0;
	for (uint32_t g = 0; g < r->n_groups; g++)
		n += r->groups[g].n;
	return n;
}

int nm_ctlrouter_collect(struct nm_ctlrouter *r, struct nm_ctlpending **buf, size_t *cap)
{
	if (!atomic_exchange(&r->pending, false))
		return 0;
	pthread_rwlock_rdlock(&r->lock);
	if (grow((void **)buf, cap, oc_total(r), sizeof(**buf)) < 0) {
		pthread_rwlock_unlock(&r->lock);
		atomic_store(&r->pending, true);
		return -ENOMEM;
	}
	size_t n = 0;
	for (uint32_t g = 0; g < r->n_groups; g++) {
		const struct nm_ctlgroup *grp = &r->groups[g];
		for (size_t i = 0; i < grp->n; i++) {
			struct nm_ctlslot *s = grp->slots[i];
			if (nm_bq_count(s->q) == 0)
				continue;
			atomic_fetch_add(&s->refs, 1);
			(*buf)[n++] = (struct nm_ctlpending){ grp->lcore, s };
		}
	}
	pthread_rwlock_unlock(&r->lock);
	return (int)n;
}

uint32_t nm_ctlslot_drain(void *slot, struct nm_daemon *d)
{
	struct nm_ctlslot *s = slot;
	struct nm_daemon_control c;
	uint32_t n = 0;
	while (nm_bq_pop(s->q, &c) == 0) {
		d->ops->on_control(d, &c);
		n++;
	}
	return n;
}

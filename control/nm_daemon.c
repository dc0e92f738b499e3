/* SPDX-License-Identifier: MIT */
/* nm_daemon.c - growable byte buffers and the nm_outputs collector. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nm_daemon.h"

#define BYTES_MIN_CAP 64

int nm_bytes_append(struct nm_bytes *b, const void *p, size_t n)
{
	if (!b || (!p && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX - b->len)
		return -ENOMEM;

	size_t want = b->len + n;
	if (want > b->cap) {
		size_t cap = b->cap < BYTES_MIN_CAP ? BYTES_MIN_CAP : b->cap;
		while (cap < want)
			cap = cap > SIZE_MAX / 2 ? want : cap * 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len = want;
	return 0;
}

void nm_bytes_free(struct nm_bytes *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void nm_outputs_init(struct nm_outputs *o, struct nm_event *ev, uint32_t max_events,
		     uint8_t *arena, uint32_t arena_bytes)
{
	if (!o)
		return;
	o->ev = ev;
	o->max = ev ? max_events : 0;
	o->arena = arena;
	o->cap = arena ? arena_bytes : 0;
	o->max_len = 0;
	o->framed = false;
	o->refill = NULL;
	o->refill_ctx = NULL;
	nm_outputs_reset(o);
}

/* The struct, its event slots, then the arena; the flexible member aligns ev[]. */
struct outputs_block {
	struct nm_outputs o;
	struct nm_event ev[];
};

struct nm_outputs *nm_outputs_create(uint32_t max_events, uint32_t arena_bytes)
{
	size_t evs = (size_t)max_events * sizeof(struct nm_event);
	if (max_events != 0 && evs / max_events != sizeof(struct nm_event))
		return NULL;
	if (evs > SIZE_MAX - sizeof(struct outputs_block) - arena_bytes)
		return NULL;

	struct outputs_block *blk = malloc(sizeof(*blk) + evs + arena_bytes);
	if (!blk)
		return NULL;
	nm_outputs_init(&blk->o, blk->ev, max_events, (uint8_t *)blk->ev + evs, arena_bytes);
	return &blk->o;
}

/* `o` is the first member of its block, so it is the pointer malloc returned. */
void nm_outputs_free(struct nm_outputs *o)
{
	free(o);
}

static bool fits(const struct nm_outputs *o, uint32_t need)
{
	return o->used <= o->cap && need <= o->cap - o->used;
}

/* Claim an event slot and len arena bytes; NULL (overflow set) if either is full. */
static struct nm_event *claim(struct nm_outputs *o, uint32_t len)
{
	static const uint8_t empty[1]; /* payload of a 0-byte output without an arena */

	if (o->max_len != 0 && len > o->max_len) {
		o->overflow = true;
		o->too_large = len;
		return NULL;
	}
	const uint32_t room = o->framed ? NM_CAUSAL_FRAME_ROOM : 0;
	if (o->n >= o->max || len > UINT32_MAX - room ||
	    (!fits(o, room + len) &&
	     (o->refill == NULL || o->refill(o->refill_ctx, o, room + len) < 0 ||
	      !fits(o, room + len)))) {
		o->overflow = true;
		return NULL;
	}
	struct nm_event *ev = &o->ev[o->n++];
	memset(&ev->link, 0, sizeof(ev->link)); /* the host fills the link */
	ev->payload = o->arena ? o->arena + o->used + room : empty;
	ev->len = len;
	ev->received_at = 0;
	o->used += room + len;
	return ev;
}

int nm_emit_slow(struct nm_outputs *o, const void *payload, uint32_t len)
{
	if (!o || (!payload && len > 0))
		return -EINVAL;
	struct nm_event *ev = claim(o, len);
	if (!ev)
		return o->too_large != 0 ? -EMSGSIZE : -ENOSPC;
	if (len > 0)
		memcpy((uint8_t *)ev->payload, payload, len);
	return 0;
}

void *nm_emit_reserve(struct nm_outputs *o, uint32_t len)
{
	if (!o)
		return NULL;
	struct nm_event *ev = claim(o, len);
	/* Writable: it points into the caller's arena (or is the 0-byte stand-in). */
	return ev ? (void *)(uintptr_t)ev->payload : NULL;
}

const char *nm_control_kind_name(uint32_t kind)
{
	static const char *const names[] = { "None", "Shutdown", "DrainStart", "DrainFinish",
					     "BackpressureOn", "BackpressureOff" };
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "Unknown";
}

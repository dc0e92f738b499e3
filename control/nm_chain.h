/* SPDX-License-Identifier: MIT */
/*
 * nm_chain.h - internal: nm_causal's per-event path, inline. Reading one
 * 0x0400 frame in place (nm_causal_read is a loop of it), the next link of a
 * chain (both appends), and appending a payload already in its frame to a
 * chain (nm_chain_append_framed is that plus the argument checks). The
 * dataplane runs the first and the last once per event. Not installed,
 * because it needs xxhash.h.
 */
#ifndef NM_CHAIN_H
#define NM_CHAIN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

#include "nm_causal.h"
#include "nm_le.h"

/* The 32 link bytes at p, unchecked (callers check the bounds). */
static inline void nm_link_decode(struct nm_causal_link *l, const uint8_t *p)
{
	l->origin_hash = nm_get_le64(p + 0);
	l->horizon_encoded = nm_get_le64(p + 8);
	l->sequence = nm_get_le64(p + 16);
	l->parent_hash = nm_get_le64(p + 24);
}

/* The inverse: l as the 32 link bytes at p (callers check the bounds). */
static inline void nm_link_encode(uint8_t *p, const struct nm_causal_link *l)
{
	nm_put_le64(p + 0, l->origin_hash);
	nm_put_le64(p + 8, l->horizon_encoded);
	nm_put_le64(p + 16, l->sequence);
	nm_put_le64(p + 24, l->parent_hash);
}

/* The link after c's head: what both appends write (-EOVERFLOW at the last sequence). */
static inline int nm_chain_next(const struct nm_chain *c, uint64_t horizon,
				struct nm_causal_link *n)
{
	if (c->head.sequence == UINT64_MAX)
		return -EOVERFLOW;
	*n = (struct nm_causal_link){
		.origin_hash = c->head.origin_hash,
		.horizon_encoded = horizon,
		.sequence = c->head.sequence + 1,
		.parent_hash = c->next_parent,
	};
	return 0;
}

/*
 * The frame at *p (end: the end of the frames) into ev's link, payload
 * (pointing into the buffer) and len, and *p past it; received_at is the
 * caller's (one value per packet: the worker stores it once, not per frame).
 * false, *p unchanged, when fewer than 4 bytes are left or the frame is
 * malformed (total_len < 32 or past end).
 */
static inline bool nm_causal_frame_next(const uint8_t **p, const uint8_t *end, struct nm_event *ev)
{
	const uint8_t *f = *p;
	if ((size_t)(end - f) < NM_CAUSAL_FRAME_HDR)
		return false;
	const uint32_t total = nm_get_le32(f);
	if (total < NM_CAUSAL_LINK_SIZE || total > (size_t)(end - f) - NM_CAUSAL_FRAME_HDR)
		return false;
	const uint8_t *rec = f + NM_CAUSAL_FRAME_HDR;
	nm_link_decode(&ev->link, rec);
	ev->payload = rec + NM_CAUSAL_LINK_SIZE;
	ev->len = total - NM_CAUSAL_LINK_SIZE;
	*p = rec + total;
	return true;
}

/*
 * `frame` holds NM_CAUSAL_FRAME_ROOM bytes of room, then the len payload
 * bytes (len <= UINT32_MAX - 32, which the callers' arenas guarantee). Writes
 * the length word and the next link into the room, hashes link and payload
 * where they lie (the next parent) and moves the head. -EOVERFLOW at the last
 * sequence leaves c and frame unchanged.
 */
static inline int nm_chain_frame(struct nm_chain *c, uint8_t *frame, uint32_t len,
				 uint64_t horizon)
{
	struct nm_causal_link n;
	if (nm_chain_next(c, horizon, &n) < 0)
		return -EOVERFLOW;
	uint8_t *rec = frame + NM_CAUSAL_FRAME_HDR;
	nm_put_le32(frame, NM_CAUSAL_LINK_SIZE + len);
	nm_link_encode(rec, &n);
	c->head = n;
	/* The link bytes and the payload are contiguous here: one pass, as nm_parent_hash. */
	c->next_parent = XXH3_64bits(rec, NM_CAUSAL_LINK_SIZE + (size_t)len);
	return 0;
}

#endif /* NM_CHAIN_H */

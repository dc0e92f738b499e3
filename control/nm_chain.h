/* SPDX-License-Identifier: MIT */
/*
 * nm_chain.h - internal: the chain's append for a payload already in its
 * 0x0400 frame, inline for the per-event path (the dataplane's host calls it
 * once per output). Part of nm_causal (nm_chain_append_framed is this plus
 * the argument checks); not installed, because it needs xxhash.h.
 */
#ifndef NM_CHAIN_H
#define NM_CHAIN_H

#include <errno.h>
#include <stdint.h>

#include <xxhash.h>

#include "nm_causal.h"
#include "nm_le.h"

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
	if (c->head.sequence == UINT64_MAX)
		return -EOVERFLOW;
	uint8_t *rec = frame + NM_CAUSAL_FRAME_HDR;
	nm_put_le32(frame, NM_CAUSAL_LINK_SIZE + len);
	nm_put_le64(rec + 0, c->head.origin_hash);
	nm_put_le64(rec + 8, horizon);
	nm_put_le64(rec + 16, c->head.sequence + 1);
	nm_put_le64(rec + 24, c->next_parent);
	c->head.horizon_encoded = horizon;
	c->head.sequence++;
	c->head.parent_hash = c->next_parent;
	/* The link bytes and the payload are contiguous here: one pass, as nm_parent_hash. */
	c->next_parent = XXH3_64bits(rec, NM_CAUSAL_LINK_SIZE + (size_t)len);
	return 0;
}

#endif /* NM_CHAIN_H */

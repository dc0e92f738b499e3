/* SPDX-License-Identifier: MIT */
/*
 * nm_causal.h - the causal layer: 32-byte links, chains, validation, framing.
 *
 * Wire layout of a link (all little-endian, no padding):
 *   off 0  origin_hash      the emitting entity (full u64)
 *   off 8  horizon_encoded  64-bit bloom of observed origins (nm_horizon.h)
 *   off 16 sequence         per-entity, genesis = 0, first emitted event = 1
 *   off 24 parent_hash      XXH3-64(prev link bytes || prev payload); genesis = 0
 *
 * A chain keeps its head link and the parent hash the next link will carry,
 * computed when the head is appended (the payload is in hand then), so the
 * chain never stores or copies a payload.
 */
#ifndef NM_CAUSAL_H
#define NM_CAUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_CAUSAL_LINK_SIZE 32
#define NM_SUBPROTOCOL_CAUSAL 0x0400
#define NM_SUBPROTOCOL_SNAPSHOT 0x0401
#define NM_CAUSAL_FRAME_HDR 4 /* LE32 total_len = 32 + payload_len */
/* What precedes a payload in its 0x0400 frame: the length word and the link. */
#define NM_CAUSAL_FRAME_ROOM (NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE)

struct nm_causal_link {
	uint64_t origin_hash;
	uint64_t horizon_encoded;
	uint64_t sequence;
	uint64_t parent_hash;
};

/* One causal event. `payload` is borrowed: it points into a buffer owned by
 * whoever produced the event (a packet, an nm_outputs arena, a test). */
struct nm_event {
	struct nm_causal_link link;
	const uint8_t *payload;
	uint32_t len;
	uint64_t received_at; /* ns since the UNIX epoch; 0 for synthetic events */
};

void nm_link_to_bytes(const struct nm_causal_link *l, uint8_t out[NM_CAUSAL_LINK_SIZE]);
/* Reads the first 32 bytes; extra bytes are ignored. -EINVAL if len < 32. */
int nm_link_from_bytes(struct nm_causal_link *l, const void *buf, size_t len);

static inline struct nm_causal_link nm_link_genesis(uint64_t origin, uint64_t horizon)
{
	struct nm_causal_link l = { origin, horizon, 0, 0 };
	return l;
}

static inline bool nm_link_is_genesis(const struct nm_causal_link *l)
{
	return l->sequence == 0 && l->parent_hash == 0;
}

/* XXH3-64 (seed 0) over the 32 link bytes followed by the payload.
 * NULL prev, or NULL payload with len > 0, returns 0. */
uint64_t nm_parent_hash(const struct nm_causal_link *prev, const void *payload, size_t len);

/* The link after `cur` whose payload was `payload`. -EOVERFLOW at sequence UINT64_MAX. */
int nm_link_next(const struct nm_causal_link *cur, const void *payload, size_t len,
		 uint64_t horizon, struct nm_causal_link *next);

struct nm_chain {
	struct nm_causal_link head;
	uint64_t next_parent; /* parent_hash of the next appended link */
};

/* Fresh chain at genesis (sequence 0, empty genesis payload). */
void nm_chain_init(struct nm_chain *c, uint64_t origin);

/* Resume from a head link and the payload that head carried. Bad arguments
 * (NULL c/head, NULL payload with len > 0) leave *c untouched. */
void nm_chain_from_head(struct nm_chain *c, const struct nm_causal_link *head,
			const void *head_payload, size_t len);

/* Append one payload; writes the new link to *out. -EOVERFLOW leaves c unchanged. */
int nm_chain_append(struct nm_chain *c, const void *payload, size_t len, uint64_t horizon,
		    struct nm_causal_link *out);

/*
 * nm_chain_append for a payload already in its 0x0400 frame: `frame` holds
 * NM_CAUSAL_FRAME_ROOM bytes of room, then the len payload bytes. Writes the
 * frame's length word and the new link into the room and hashes link and
 * payload where they lie (no copy). -EOVERFLOW leaves c and frame unchanged.
 */
int nm_chain_append_framed(struct nm_chain *c, uint8_t *frame, uint32_t len, uint64_t horizon,
			   struct nm_causal_link *out);

enum nm_chain_verdict {
	NM_CHAIN_OK = 0,
	NM_CHAIN_ORIGIN_MISMATCH,
	NM_CHAIN_SEQUENCE_GAP,
	NM_CHAIN_PARENT_MISMATCH,
	NM_CHAIN_BAD_ARGUMENT, /* NULL link, or NULL prev_payload with prev_len > 0 */
};

struct nm_chain_error {
	enum nm_chain_verdict kind;
	uint64_t expected;
	uint64_t got;
};

/*
 * Check that `next` follows `prev` (whose payload was prev_payload): origin,
 * then sequence, then parent hash, as upstream. horizon is not validated.
 * Returns the verdict; fills *e (may be NULL) with expected/got.
 */
enum nm_chain_verdict nm_chain_validate(const struct nm_causal_link *prev, const void *prev_payload,
					size_t prev_len, const struct nm_causal_link *next,
					struct nm_chain_error *e);

/*
 * Upstream's Display text, e.g. "sequence gap: expected 6, got 5". Returns
 * what snprintf returns (the full length; output truncated to len), or -EINVAL.
 */
int nm_chain_error_format(const struct nm_chain_error *e, char *buf, size_t len);

/* ---- causal subprotocol (0x0400) framing: [LE32 32+len][link 32][payload] ---- */

static inline size_t nm_causal_frame_size(uint32_t payload_len)
{
	return NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE + (size_t)payload_len;
}

struct nm_frame_stats {
	size_t bytes_written;
	uint32_t events_written;
	uint32_t events_skipped; /* 32 + len does not fit a u32 */
};

/*
 * Frame events in order into buf. Stops at the first event that does not fit
 * (the caller sends what was written and continues from events_written +
 * events_skipped). Returns 0.
 */
int nm_causal_write(uint8_t *buf, size_t cap, const struct nm_event *evs, uint32_t n,
		    struct nm_frame_stats *st);

/*
 * Parse up to `count` frames (and at most `max` into out[]). Stops at the first
 * malformed record (< 4 bytes left, total_len > remaining, total_len < 32).
 * Payloads point into buf; received_at is set to `now_ns`. Returns the number
 * parsed; *consumed (may be NULL) gets the bytes they occupied.
 */
uint32_t nm_causal_read(const uint8_t *buf, size_t len, uint32_t count, struct nm_event *out,
			uint32_t max, uint64_t now_ns, size_t *consumed);

#ifdef __cplusplus
}
#endif
#endif /* NM_CAUSAL_H */

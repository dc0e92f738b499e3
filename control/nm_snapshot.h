/* SPDX-License-Identifier: MIT */
/*
 * nm_snapshot.h - daemon state snapshots and their upstream CDS1 wire form.
 *
 *   off 0   magic "CDS1"     4
 *   off 4   version = 2      1
 *   off 5   entity_id        32
 *   off 37  through_seq      8   LE64, equals chain_link.sequence
 *   off 45  chain_link       32
 *   off 77  created_at       8   LE64, ns since the UNIX epoch
 *   off 85  state_len        4   LE32, then state
 *           bindings_len     4   LE32, then bindings
 *           envelope_flag    1   0 none, 1 present
 *           envelope       209   only when the flag is 1
 * Size = 94 + state_len + bindings_len (+209). No signature, no checksum:
 * integrity comes from the transport AEAD.
 *
 * Like upstream, `horizon_encoded` is kept in memory only (it is not on the
 * wire, so a decoded snapshot has 0).
 *
 * The chain-head extension (netmesh, not CDS1): `next_parent` is the parent
 * hash the chain's next link carries. CDS1 has no room for it (upstream's
 * decoder rejects trailing bytes), so it lives in memory like the horizon:
 * nm_host_snapshot records it, a decoded snapshot has none, and whoever
 * carries snapshots in its own format (the state dir, migration) puts it back
 * with nm_snapshot_set_next_parent before the restore. With it the restored
 * chain continues for every daemon; without it restore keeps upstream's
 * fallback (the parent hash over the state bytes: continuous only for daemons
 * whose state is their last output).
 */
#ifndef NM_SNAPSHOT_H
#define NM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_error.h"
#include "nm_identity.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_SNAPSHOT_MAGIC "CDS1"
#define NM_SNAPSHOT_VERSION 2
#define NM_SNAPSHOT_MIN_SIZE 94
#define NM_IDENTITY_ENVELOPE_SIZE 209
#define NM_IDENTITY_ENVELOPE_VERSION 1

struct nm_snapshot {
	uint8_t version;
	uint8_t entity_id[NM_ENTITY_ID_LEN];
	uint64_t through_seq;
	struct nm_causal_link chain_link;
	uint64_t created_at;
	uint8_t *state; /* state_len bytes, owned by the snapshot */
	uint32_t state_len;
	uint8_t *bindings; /* bindings_len bytes, owned by the snapshot */
	uint32_t bindings_len;
	bool has_envelope;
	uint8_t envelope[NM_IDENTITY_ENVELOPE_SIZE];
	uint64_t horizon_encoded; /* in memory only */
	bool has_next_parent;     /* in memory only: the chain-head extension is set */
	uint64_t next_parent;     /* in memory only: parent hash of the chain's next link */
};

/* Give a snapshot the chain-head extension (e.g. after nm_snapshot_decode). */
static inline void nm_snapshot_set_next_parent(struct nm_snapshot *s, uint64_t next_parent)
{
	s->next_parent = next_parent;
	s->has_next_parent = true;
}

/*
 * New snapshot (one allocation). through_seq = head->sequence; created_at =
 * now. Returns NULL on allocation failure, NULL entity_id/head, or NULL
 * state/bindings with nonzero lengths.
 */
struct nm_snapshot *nm_snapshot_new(const uint8_t entity_id[NM_ENTITY_ID_LEN],
				    const struct nm_causal_link *head, const void *state,
				    uint32_t state_len, const void *bindings, uint32_t bindings_len);

struct nm_snapshot *nm_snapshot_dup(const struct nm_snapshot *s);
void nm_snapshot_free(struct nm_snapshot *s);

size_t nm_snapshot_wire_size(const struct nm_snapshot *s);

/* Encode into buf (version byte always 2). -ENOSPC if cap < wire size
 * (nothing useful written); `written` may be NULL. */
int nm_snapshot_encode(const struct nm_snapshot *s, uint8_t *buf, size_t cap, size_t *written);

/*
 * Decode and validate (magic, version 2, lengths, envelope flag and version,
 * no trailing bytes, chain_link.sequence == through_seq, chain_link.origin_hash
 * == origin_hash(entity_id)). Returns 0 with *out set, or NM_EMALFORMED with
 * the reason in err, or -ENOMEM.
 */
int nm_snapshot_decode(const void *buf, size_t len, struct nm_snapshot **out,
		       struct nm_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NM_SNAPSHOT_H */

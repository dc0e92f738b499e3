/* SPDX-License-Identifier: MIT */
/*
 * nm_replay.h - the 1024-counter sliding replay window of a session's RX side.
 *
 * Same accept/drop behaviour as upstream's production path (wire.md 2.5):
 *   counter u64::MAX                      -> drop (CEILING)
 *   counter above the highest seen        -> accept, the window slides; a jump
 *                                            of >= 1024 clears the bitmap (JUMP)
 *   within [highest - 1023, highest], new -> accept (LATE)
 *   within the window, already seen       -> drop (DUP)
 *   older than the window                 -> drop (OLD)
 * Large forward jumps are accepted: upstream's MAX_FORWARD check is not on
 * its production path. Once highest reaches u64::MAX - 1 every counter is
 * refused (CEILING), as upstream; the session must re-handshake.
 *
 * Use: nm_replay_check() before the AEAD open (cheap refusal of replays),
 * nm_replay_commit() only after the tag verified; a failed open never touches
 * the window. commit re-checks, so two copies of one packet in a burst that
 * both passed check still admit only one. One window per session and
 * direction, owned by one lcore: no locks.
 */
#ifndef NM_REPLAY_H
#define NM_REPLAY_H

#include <stdint.h>

#include "nm_drop.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_REPLAY_WINDOW 1024
#define NM_REPLAY_WORDS (NM_REPLAY_WINDOW / 64)

struct nm_replay {
	uint64_t next; /* 1 + highest committed counter; 0 = nothing yet */
	/*
	 * A ring: bit c % 1024 (word c / 64 % 16, bit c % 64) set <=> counter c
	 * committed, for c in the window [next - 1024, next). Sliding clears only
	 * the bits of the counters it skips, so an in-order packet touches one
	 * word instead of shifting all sixteen.
	 */
	uint64_t bitmap[NM_REPLAY_WORDS];
};

enum nm_replay_verdict {
	NM_REPLAY_FRESH = 0, /* accept: above highest, window slides */
	NM_REPLAY_JUMP,      /* accept: >= 1024 above highest, bitmap cleared */
	NM_REPLAY_LATE,      /* accept: inside the window, not seen yet */
	NM_REPLAY_DUP,       /* drop */
	NM_REPLAY_OLD,       /* drop */
	NM_REPLAY_CEILING,   /* drop */
};

void nm_replay_init(struct nm_replay *w);

/* What commit would do with `ctr`; changes nothing. */
enum nm_replay_verdict nm_replay_classify(const struct nm_replay *w, uint64_t ctr);

/* 0 if `ctr` may be admitted, else -EALREADY and *why (may be NULL). Read-only. */
int nm_replay_check(const struct nm_replay *w, uint64_t ctr, enum nm_drop *why);

/* Admit `ctr` (after the tag verified): 0, or -EALREADY and *why. */
int nm_replay_commit(struct nm_replay *w, uint64_t ctr, enum nm_drop *why);

#ifdef __cplusplus
}
#endif
#endif /* NM_REPLAY_H */

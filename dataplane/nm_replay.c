/* SPDX-License-Identifier: MIT */
/* nm_replay.c - sliding replay window over the AEAD counter. */
#include <string.h>

#include "nm_replay.h"

void nm_replay_init(struct nm_replay *w)
{
	memset(w, 0, sizeof(*w));
}

enum nm_replay_verdict nm_replay_classify(const struct nm_replay *w, uint64_t ctr)
{
	uint64_t age;

	/* Admitting u64::MAX would pin `next` at the ceiling and refuse everything after. */
	if (ctr == UINT64_MAX || w->next == UINT64_MAX)
		return NM_REPLAY_CEILING;
	if (ctr >= w->next)
		return ctr - w->next + 1 >= NM_REPLAY_WINDOW ? NM_REPLAY_JUMP : NM_REPLAY_FRESH;
	age = w->next - 1 - ctr;
	if (age >= NM_REPLAY_WINDOW)
		return NM_REPLAY_OLD;
	if (w->bitmap[age / 64] & (UINT64_C(1) << (age % 64)))
		return NM_REPLAY_DUP;
	return NM_REPLAY_LATE;
}

static int verdict_rc(enum nm_replay_verdict v, enum nm_drop *why)
{
	switch (v) {
	case NM_REPLAY_FRESH:
	case NM_REPLAY_JUMP:
	case NM_REPLAY_LATE:
		return 0;
	case NM_REPLAY_DUP:
		return nm_drop(why, NM_DROP_REPLAY_DUP);
	case NM_REPLAY_OLD:
		return nm_drop(why, NM_DROP_REPLAY_OLD);
	default:
		return nm_drop(why, NM_DROP_REPLAY_CEILING);
	}
}

int nm_replay_check(const struct nm_replay *w, uint64_t ctr, enum nm_drop *why)
{
	return verdict_rc(nm_replay_classify(w, ctr), why);
}

/* Age every committed counter by `shift` (1 <= shift < window). */
static void shift_up(uint64_t *bm, unsigned shift)
{
	unsigned words = shift / 64, bits = shift % 64;

	for (int i = NM_REPLAY_WORDS - 1; i >= 0; i--) {
		int src = i - (int)words;
		uint64_t v = 0;

		if (src >= 0) {
			v = bm[src] << bits;
			if (bits && src > 0)
				v |= bm[src - 1] >> (64 - bits);
		}
		bm[i] = v;
	}
}

int nm_replay_commit(struct nm_replay *w, uint64_t ctr, enum nm_drop *why)
{
	enum nm_replay_verdict v = nm_replay_classify(w, ctr);
	uint64_t age;

	switch (v) {
	case NM_REPLAY_JUMP:
		memset(w->bitmap, 0, sizeof(w->bitmap));
		w->next = ctr + 1;
		w->bitmap[0] = 1;
		return 0;
	case NM_REPLAY_FRESH:
		shift_up(w->bitmap, (unsigned)(ctr - w->next + 1));
		w->next = ctr + 1;
		w->bitmap[0] |= 1;
		return 0;
	case NM_REPLAY_LATE:
		age = w->next - 1 - ctr;
		w->bitmap[age / 64] |= UINT64_C(1) << (age % 64);
		return 0;
	default:
		return verdict_rc(v, why);
	}
}

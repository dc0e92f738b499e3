/* SPDX-License-Identifier: MIT */
/* nm_replay.c - sliding replay window over the AEAD counter. */
#include <string.h>

#include "nm_replay.h"

/* Where counter c lives in the ring. */
static inline unsigned word_of(uint64_t c)
{
	return (unsigned)(c / 64 % NM_REPLAY_WORDS);
}

static inline uint64_t bit_of(uint64_t c)
{
	return UINT64_C(1) << (c % 64);
}

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
	if (w->bitmap[word_of(ctr)] & bit_of(ctr))
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

/*
 * Forget the ring's bits for counters from..from+n-1 (n <= the window): they
 * belonged to counters 1024 older, which the window has now left.
 */
static void clear_run(uint64_t *bm, uint64_t from, uint64_t n)
{
	while (n != 0) {
		const unsigned bit = (unsigned)(from % 64);
		const uint64_t k = n < 64 - bit ? n : 64 - bit;
		const uint64_t run = k == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << k) - 1) << bit;
		bm[word_of(from)] &= ~run;
		from += k;
		n -= k;
	}
}

int nm_replay_commit(struct nm_replay *w, uint64_t ctr, enum nm_drop *why)
{
	enum nm_replay_verdict v = nm_replay_classify(w, ctr);

	switch (v) {
	case NM_REPLAY_JUMP:
		memset(w->bitmap, 0, sizeof(w->bitmap));
		break;
	case NM_REPLAY_FRESH:
		/* The window slides to end at ctr: next..ctr-1 were skipped, ctr is set below. */
		clear_run(w->bitmap, w->next, ctr - w->next + 1);
		break;
	case NM_REPLAY_LATE:
		w->bitmap[word_of(ctr)] |= bit_of(ctr);
		return 0;
	default:
		return verdict_rc(v, why);
	}
	w->next = ctr + 1;
	w->bitmap[word_of(ctr)] |= bit_of(ctr);
	return 0;
}

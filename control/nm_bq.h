/* SPDX-License-Identifier: MIT */
/*
 * nm_bq.h - bounded queue of fixed-size records: exact capacity (any N >= 1),
 * many producers, one consumer at a time, lock-free (Vyukov's bounded queue:
 * one sequence word per cell), FIFO. Push never blocks: a full queue refuses
 * the new record, which is the at-most-once policy MeshOS wants.
 *
 * A consumer may wait for a record (futex on a wake word that producers bump
 * only when someone waits), so an idle blocked reader costs producers one
 * fence and a load. Closing wakes every waiter; records already queued can
 * still be taken, new ones are refused.
 */
#ifndef NM_BQ_H
#define NM_BQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nm_bq {
	_Atomic uint64_t head;     /* next position to fill */
	_Atomic uint64_t tail;     /* next position to take */
	_Atomic uint32_t wake;     /* futex word: bumped on push (with waiters) and close */
	_Atomic uint32_t waiters;
	_Atomic bool closed;
	uint32_t cap;              /* records admitted */
	uint32_t cells_n;          /* cells: cap, or 2 for cap 1 */
	uint32_t esize;
	uint32_t stride;           /* cell: sequence word, then the record */
	uint8_t cells[];
};

/* New queue of `cap` records of `esize` bytes (both >= 1). NULL: bad size or no memory. */
struct nm_bq *nm_bq_create(uint32_t cap, uint32_t esize);
void nm_bq_free(struct nm_bq *q);

/* Copy a record in: 0, -ENOBUFS when full (nothing queued), -EPIPE when closed. */
int nm_bq_push(struct nm_bq *q, const void *rec);

/* Copy the oldest record out: 0, or -EAGAIN when empty. */
int nm_bq_pop(struct nm_bq *q, void *rec);

/*
 * Wait until a record is queued or the queue is closed: 0, or -ETIMEDOUT
 * after timeout_ms (0: no limit). Does not take the record.
 */
int nm_bq_wait(struct nm_bq *q, uint64_t timeout_ms);

/* Refuse further pushes and wake every waiter. Idempotent. */
void nm_bq_close(struct nm_bq *q);

static inline bool nm_bq_closed(const struct nm_bq *q)
{
	return atomic_load_explicit(&q->closed, memory_order_acquire);
}

/* Records queued now (a snapshot: producers and the consumer may move it). */
static inline uint32_t nm_bq_count(const struct nm_bq *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	return h > t ? (uint32_t)(h - t) : 0;
}

#endif /* NM_BQ_H */

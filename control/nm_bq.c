/* SPDX-License-Identifier: MIT */
/* nm_bq.c - bounded lock-free queue with a futex wait (see header). */
#include "nm_bq.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct nm_bq *nm_bq_create(uint32_t cap, uint32_t esize)
{
	if (cap == 0 || esize == 0 || esize > (1u << 20))
		return NULL;
	uint32_t stride = (uint32_t)sizeof(uint64_t) + ((esize + 7u) & ~7u);
	/* One cell cannot tell "filled at p" from "free for p+1": take two, admit one. */
	uint32_t cells = cap < 2 ? 2 : cap;
	struct nm_bq *q = calloc(1, sizeof(*q) + (size_t)cells * stride);
	if (q == NULL)
		return NULL;
	q->cap = cap;
	q->cells_n = cells;
	q->esize = esize;
	q->stride = stride;
	/* A cell is free for position p when its sequence is p. */
	for (uint32_t i = 0; i < cells; i++)
		atomic_init((_Atomic uint64_t *)(q->cells + (size_t)i * stride), (uint64_t)i);
	return q;
}

void nm_bq_free(struct nm_bq *q)
{
	free(q);
}

static inline _Atomic uint64_t *cell(const struct nm_bq *q, uint64_t pos)
{
	return (_Atomic uint64_t *)(uintptr_t)(q->cells + (size_t)(pos % q->cells_n) * q->stride);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Producers pay a fence and a load; the syscall only when someone waits. */
static void wake_waiters(struct nm_bq *q)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&q->waiters, memory_order_relaxed) == 0)
		return;
	atomic_fetch_add(&q->wake, 1);
	futex_wake_all(&q->wake);
}

int nm_bq_push(struct nm_bq *q, const void *rec)
{
	if (nm_bq_closed(q))
		return -EPIPE;
	uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	_Atomic uint64_t *seq;
	for (;;) {
		seq = cell(q, pos);
		int64_t d = (int64_t)(atomic_load_explicit(seq, memory_order_acquire) - pos);
		if (d == 0 && q->cap < q->cells_n &&
		    pos - atomic_load_explicit(&q->tail, memory_order_acquire) >= q->cap)
			return -ENOBUFS; /* capacity 1: the spare cell is never filled */
		if (d == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (d < 0) {
			return -ENOBUFS; /* the cell still holds a record from a lap ago */
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
	memcpy((uint8_t *)(seq + 1), rec, q->esize);
	atomic_store_explicit(seq, pos + 1, memory_order_release);
	wake_waiters(q);
	return 0;
}

int nm_bq_pop(struct nm_bq *q, void *rec)
{
	uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	_Atomic uint64_t *seq;
	for (;;) {
		seq = cell(q, pos);
		int64_t d = (int64_t)(atomic_load_explicit(seq, memory_order_acquire) - (pos + 1));
		if (d == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (d < 0) {
			return -EAGAIN;
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
	memcpy(rec, (const uint8_t *)(seq + 1), q->esize);
	/* Free for the producer one lap later. */
	atomic_store_explicit(seq, pos + q->cells_n, memory_order_release);
	return 0;
}

/* Is the oldest record published (not merely claimed)? */
static bool ready(const struct nm_bq *q)
{
	uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	return atomic_load_explicit(cell(q, pos), memory_order_acquire) == pos + 1 ||
	       nm_bq_closed(q);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t seen, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, seen, ns ? &ts : NULL, NULL, 0);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int nm_bq_wait(struct nm_bq *q, uint64_t timeout_ms)
{
	const uint64_t end = timeout_ms ? mono_ns() + timeout_ms * 1000000ULL : 0;
	for (;;) {
		uint32_t seen = atomic_load(&q->wake);
		atomic_fetch_add(&q->waiters, 1);
		/* Pairs with wake_waiters: either the producer sees us or we see its record. */
		atomic_thread_fence(memory_order_seq_cst);
		bool ok = ready(q);
		uint64_t now = end ? mono_ns() : 0;
		if (!ok && (end == 0 || now < end))
			futex_wait(&q->wake, seen, end ? end - now : 0);
		atomic_fetch_sub(&q->waiters, 1);
		if (ok || ready(q))
			return 0;
		if (end != 0 && mono_ns() >= end)
			return -ETIMEDOUT;
	}
}

void nm_bq_close(struct nm_bq *q)
{
	atomic_store_explicit(&q->closed, true, memory_order_release);
	atomic_fetch_add(&q->wake, 1);
	futex_wake_all(&q->wake);
}

/* SPDX-License-Identifier: MIT */
/* nm_logring.c - the daemon log ring (see header). */
#include "nm_logring.h"

#include <errno.h>
#include <stdlib.h>

int nm_logring_init(struct nm_logring *lr, uint32_t cap)
{
	lr->cap = cap ? cap : NM_LOG_RING_DEFAULT;
	lr->recs = calloc(lr->cap, sizeof(*lr->recs));
	if (lr->recs == NULL)
		return -ENOMEM;
	lr->last = lr->visible = 0;
	pthread_mutex_init(&lr->lock, NULL);
	return 0;
}

void nm_logring_fini(struct nm_logring *lr)
{
	free(lr->recs);
	lr->recs = NULL;
	pthread_mutex_destroy(&lr->lock);
}

uint64_t nm_logring_push(struct nm_logring *lr, struct nm_log_record *rec)
{
	pthread_mutex_lock(&lr->lock);
	rec->seq = ++lr->last;
	rec->message[NM_LOG_MSG_MAX] = '\0';
	lr->recs[(rec->seq - 1) % lr->cap] = *rec; /* seq - cap, the oldest, goes */
	pthread_mutex_unlock(&lr->lock);
	return rec->seq;
}

void nm_logring_publish(struct nm_logring *lr)
{
	pthread_mutex_lock(&lr->lock);
	lr->visible = lr->last;
	pthread_mutex_unlock(&lr->lock);
}

uint32_t nm_logring_read(struct nm_logring *lr, uint64_t after_seq, struct nm_log_record *out,
			 uint32_t max)
{
	uint32_t n = 0;
	pthread_mutex_lock(&lr->lock);
	/* The ring holds seqs (last - cap, last]; readers see up to visible. */
	uint64_t first = lr->last > lr->cap ? lr->last - lr->cap + 1 : 1;
	if (first <= after_seq)
		first = after_seq + 1;
	for (uint64_t s = first; s <= lr->visible && n < max; s++)
		out[n++] = lr->recs[(s - 1) % lr->cap];
	pthread_mutex_unlock(&lr->lock);
	return n;
}

uint64_t nm_logring_last(struct nm_logring *lr)
{
	pthread_mutex_lock(&lr->lock);
	uint64_t n = lr->last;
	pthread_mutex_unlock(&lr->lock);
	return n;
}

const char *nm_log_level_name(uint32_t level)
{
	static const char *const names[] = { "trace", "debug", "info", "warn", "error" };
	return level < 5 ? names[level] : "?";
}

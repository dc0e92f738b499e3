/* SPDX-License-Identifier: MIT */
/*
 * nm_logring.h - the node's daemon log ring (upstream MeshOS LogRecord ring):
 * a fixed number of records (2048 by default), oldest dropped first, each
 * stamped with a sequence number (from 1), the wall-clock time, the node and
 * the daemon. Written by the MeshOS loop; readers (any thread) see a record
 * only once the loop has published up to it (once per tick, like upstream's
 * snapshot).
 */
#ifndef NM_LOGRING_H
#define NM_LOGRING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NM_LOG_RING_DEFAULT 2048
#define NM_LOG_MSG_MAX 255 /* bytes kept of a message, without the NUL */

/* Upstream's LogLevel, ordered, with its C values. */
enum nm_log_level {
	NM_LOG_TRACE = 0,
	NM_LOG_DEBUG = 1,
	NM_LOG_INFO = 2,
	NM_LOG_WARN = 3,
	NM_LOG_ERROR = 4,
};

struct nm_log_record {
	uint64_t seq;       /* from 1, one per record */
	uint64_t ts_ms;     /* wall clock, UNIX ms, when the loop took the line */
	uint64_t node_id;
	uint64_t daemon_id; /* when has_daemon */
	bool has_daemon;
	uint32_t level;     /* enum nm_log_level */
	char message[NM_LOG_MSG_MAX + 1];
};

struct nm_logring {
	pthread_mutex_t lock;
	struct nm_log_record *recs;
	uint32_t cap;
	uint64_t last;    /* seq of the newest record */
	uint64_t visible; /* readers see records up to this seq */
};

/* cap 0: NM_LOG_RING_DEFAULT. 0 or -ENOMEM. */
int nm_logring_init(struct nm_logring *lr, uint32_t cap);
void nm_logring_fini(struct nm_logring *lr);

/* Append (the oldest goes when full); rec->seq is assigned. Returns the seq. */
uint64_t nm_logring_push(struct nm_logring *lr, struct nm_log_record *rec);

/* Make everything pushed so far visible to readers. */
void nm_logring_publish(struct nm_logring *lr);

/* Visible records with seq > after_seq, oldest first, up to max. Returns how many. */
uint32_t nm_logring_read(struct nm_logring *lr, uint64_t after_seq, struct nm_log_record *out,
			 uint32_t max);

/* Records pushed so far (the newest seq). */
uint64_t nm_logring_last(struct nm_logring *lr);

/* "trace", "debug", "info", "warn", "error"; "?" otherwise. */
const char *nm_log_level_name(uint32_t level);

#ifdef __cplusplus
}
#endif
#endif /* NM_LOGRING_H */

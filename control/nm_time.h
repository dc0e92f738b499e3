/* SPDX-License-Identifier: MIT */
/* nm_time.h - the one clock for event stamps, session liveness and timers. */
#ifndef NM_TIME_H
#define NM_TIME_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

/*
 * Wall-clock ns since the UNIX epoch, coarse (a few ms resolution, ~10 ns to
 * read): what upstream stamps received_at with, and fine for timers of 100 ms
 * and up.
 */
static inline uint64_t nm_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Monotonic ms (CLOCK_MONOTONIC): the MeshOS loop clock and SDK timeouts. */
static inline uint64_t nm_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ULL + (uint64_t)ts.tv_nsec / 1000000ULL;
}

/* Monotonic ns, precise: for durations that must not read 0 (round trips). */
static inline uint64_t nm_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Sleep ms milliseconds, resuming after signals. */
static inline void nm_sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleep about us microseconds (one nanosleep; a signal just ends it early). */
static inline void nm_sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000L };
	nanosleep(&ts, NULL);
}

#endif /* NM_TIME_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_horizon.h - the observed horizon and its 64-bit bloom encoding.
 *
 * Upstream keeps a map origin -> highest sequence and encodes only the set of
 * origins: k = 3 bits per origin, from h = XXH3-64(LE64 origin):
 *   h1 = low32(h); h2 = high32(h) | 1;
 *   bits p1 = h1 % 64, p2 = (h1 + h2) % 64, p3 = (h1 + 2*h2) % 64 (u32 wrapping).
 * The encoding is the OR over observed origins, so a host that only emits it
 * keeps the bloom itself (8 bytes) instead of the map.
 */
#ifndef NM_HORIZON_H
#define NM_HORIZON_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The three bloom bits for one origin. */
uint64_t nm_horizon_bits(uint64_t origin);

/* May `enc` include `origin`? False positives possible, never false negatives. */
static inline bool nm_horizon_might_contain(uint64_t enc, uint64_t origin)
{
	uint64_t b = nm_horizon_bits(origin);
	return (enc & b) == b;
}

/* Neither side has (probably) observed the other. */
static inline bool nm_horizon_potentially_concurrent(uint64_t h_a, uint64_t origin_b,
						     uint64_t h_b, uint64_t origin_a)
{
	return !nm_horizon_might_contain(h_a, origin_b) && !nm_horizon_might_contain(h_b, origin_a);
}

/* A host's running horizon: the bloom plus a one-entry cache of the last origin. */
struct nm_horizon {
	uint64_t encoded;
	uint64_t last_origin;
};

static inline void nm_horizon_init(struct nm_horizon *h)
{
	h->encoded = 0;
	h->last_origin = 0;
}

static inline void nm_horizon_observe(struct nm_horizon *h, uint64_t origin)
{
	/* Streams mostly repeat one origin: skip the hash when it is the last one. */
	if (h->encoded != 0 && origin == h->last_origin)
		return;
	h->encoded |= nm_horizon_bits(origin);
	h->last_origin = origin;
}

#ifdef __cplusplus
}
#endif
#endif /* NM_HORIZON_H */

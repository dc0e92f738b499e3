/* SPDX-License-Identifier: MIT */
/* nm_horizon.c - the 64-bit, k = 3 bloom of observed origins. */
#include <xxhash.h>

#include "nm_horizon.h"
#include "nm_le.h"

uint64_t nm_horizon_bits(uint64_t origin)
{
	uint8_t le[8];
	nm_put_le64(le, origin);
	uint64_t h = XXH3_64bits(le, sizeof(le));

	uint32_t h1 = (uint32_t)h;
	uint32_t h2 = (uint32_t)(h >> 32) | 1; /* odd, so the three bits differ */
	uint32_t p1 = h1 % 64;
	uint32_t p2 = (uint32_t)(h1 + h2) % 64;
	uint32_t p3 = (uint32_t)(h1 + 2 * h2) % 64;
	return (UINT64_C(1) << p1) | (UINT64_C(1) << p2) | (UINT64_C(1) << p3);
}

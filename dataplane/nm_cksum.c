/* SPDX-License-Identifier: MIT */
/* nm_cksum.c - the Internet checksum over whole datagrams (see header). */
#include "nm_cksum.h"

#include <string.h>

/*
 * 32-bit words into a 64-bit sum: a word is hi * 2^16 + lo and 2^16 = 1 in
 * one's-complement arithmetic, so this is the sum of the 16-bit words; no
 * carry is lost below 16 GiB, and the compiler vectorises the loop. The
 * AVX2 clone is chosen by the dynamic loader (ifunc).
 */
#if defined(__x86_64__)
#define NM_CKSUM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NM_CKSUM_CLONES
#endif

NM_CKSUM_CLONES uint16_t nm_cksum_raw(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t sum = 0;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, sizeof(w));
		sum += w;
	}
	if (i + 2 <= len) {
		uint16_t w;
		memcpy(&w, p + i, sizeof(w));
		sum += w;
		i += 2;
	}
	if (i < len) {
		uint16_t last = 0; /* as DPDK: the odd byte in its memory position */
		memcpy(&last, p + i, 1);
		sum += last;
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

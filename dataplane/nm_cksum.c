/* SPDX-License-Identifier: MIT */
/* nm_cksum.c - the Internet checksum over whole datagrams (see header). */
#include "nm_cksum.h"

#include <string.h>

/*
 * 32-bit words into a 64-bit sum: a word is hi * 2^16 + lo and 2^16 = 1 in
 * one's-complement arithmetic, so this is the sum of the 16-bit words; no
 * carry is lost below 16 GiB, and the compiler vectorises the loop. Always
 * inlined, so each caller below gets a loop built for its own target.
 */
static inline __attribute__((always_inline)) uint16_t cksum_body(const void *buf, size_t len)
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

#if defined(__x86_64__)
/*
 * An AVX2 build and a baseline build, chosen once by the dynamic loader
 * (GNU ifunc, written out by hand: clang 14 cannot link target_clones
 * in C, and both compilers accept this form).
 */
typedef uint16_t nm_cksum_fn(const void *buf, size_t len);

__attribute__((target("avx2"))) static uint16_t cksum_avx2(const void *buf, size_t len)
{
	return cksum_body(buf, len);
}

static uint16_t cksum_base(const void *buf, size_t len)
{
	return cksum_body(buf, len);
}

/*
 * Runs during relocation, before any constructor: it initialises the CPU
 * model itself and stays out of sanitizer instrumentation, whose runtime
 * may not be set up yet ("used": clang does not count the ifunc as a use).
 */
__attribute__((used, no_sanitize("address", "undefined"))) static nm_cksum_fn *cksum_resolve(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? cksum_avx2 : cksum_base;
}

uint16_t nm_cksum_raw(const void *buf, size_t len) __attribute__((ifunc("cksum_resolve")));
#else
uint16_t nm_cksum_raw(const void *buf, size_t len)
{
	return cksum_body(buf, len);
}
#endif

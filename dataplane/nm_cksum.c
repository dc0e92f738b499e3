/* SPDX-License-Identifier: MIT */
/* nm_cksum.c - the Internet checksum over whole datagrams (see header). */
#include "nm_cksum.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/*
 * 32-bit words into a 64-bit sum: a word is hi * 2^16 + lo and 2^16 = 1 in
 * one's-complement arithmetic, so this is the sum of the 16-bit words; no
 * carry is lost below 16 GiB, and the compiler vectorises the loop. Always
 * inlined, so each caller below gets a loop built for its own target.
 */
static inline __attribute__((always_inline)) uint64_t cksum_body(const void *buf, size_t len,
								  uint64_t sum)
{
	const uint8_t *p = buf;
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
	return sum;
}

#if defined(__x86_64__)
/*
 * An AVX2 build and a baseline build, chosen once by the dynamic loader
 * (GNU ifunc, written out by hand: clang 14 cannot link target_clones
 * in C, and both compilers accept this form).
 */
typedef uint16_t nm_cksum_fn(const void *buf, size_t len, uint64_t sum);

/* Four 32-bit words of p, widened to 64-bit lanes: one vpmovzxdq from memory. */
__attribute__((target("avx2"))) static inline __m256i words4(const uint8_t *p)
{
	return _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/*
 * Hand-written: cksum_body's sum with 32-bit words widened straight from
 * memory into 64-bit lanes, two instructions per 16 bytes, where the
 * compiler's own vectorisation of that loop (split 32-byte loads, then the
 * widening) took about twice as many. The tail (< 64 bytes, still
 * word-aligned in the datagram) goes through cksum_body.
 */
__attribute__((target("avx2"))) static uint16_t cksum_avx2(const void *buf, size_t len,
							   uint64_t sum)
{
	const uint8_t *p = buf;
	__m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
	for (; len >= 64; len -= 64, p += 64) {
		a = _mm256_add_epi64(a, words4(p));
		b = _mm256_add_epi64(b, words4(p + 16));
		a = _mm256_add_epi64(a, words4(p + 32));
		b = _mm256_add_epi64(b, words4(p + 48));
	}
	a = _mm256_add_epi64(a, b);
	__m128i h = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
	sum += (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
	/* Each lane is below 2^32 * blocks: no carry is lost below 64 GiB, as in cksum_body. */
	return nm_cksum_fold(cksum_body(p, len, sum));
}

static uint16_t cksum_base(const void *buf, size_t len, uint64_t sum)
{
	return nm_cksum_fold(cksum_body(buf, len, sum));
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

uint16_t nm_cksum_add(const void *buf, size_t len, uint64_t sum)
	__attribute__((ifunc("cksum_resolve")));
#else
uint16_t nm_cksum_add(const void *buf, size_t len, uint64_t sum)
{
	return nm_cksum_fold(cksum_body(buf, len, sum));
}
#endif

/* SPDX-License-Identifier: MIT */
/* nm_blake2s.c - BLAKE2s, keyed BLAKE2s, HMAC-BLAKE2s and Noise HKDF over libb2. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <blake2.h>
#include <sodium.h>

#include "nm_blake2s.h"

/* libb2 is not asked to hash a NULL pointer, even for zero bytes. */
static int update(blake2s_state *s, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	return blake2s_update(s, p, len) == 0 ? 0 : -EINVAL;
}

static bool bad_span(const void *p, size_t len)
{
	return !p && len > 0;
}

int nm_blake2s(uint8_t out[NM_BLAKE2S_LEN], const void *msg, size_t len)
{
	return nm_blake2s_keyed(out, NULL, 0, msg, len);
}

int nm_blake2s_cat(uint8_t out[NM_BLAKE2S_LEN], const void *a, size_t a_len, const void *b,
		   size_t b_len)
{
	blake2s_state s;
	int rc = -EINVAL;

	if (!out || bad_span(a, a_len) || bad_span(b, b_len))
		return -EINVAL;
	if (blake2s_init(&s, NM_BLAKE2S_LEN) == 0 && update(&s, a, a_len) == 0 &&
	    update(&s, b, b_len) == 0 && blake2s_final(&s, out, NM_BLAKE2S_LEN) == 0)
		rc = 0;
	sodium_memzero(&s, sizeof(s));
	return rc;
}

int nm_blake2s_keyed(uint8_t out[NM_BLAKE2S_LEN], const void *key, size_t key_len,
		     const void *msg, size_t len)
{
	blake2s_state s;
	int rc = -EINVAL;

	if (!out || key_len > NM_BLAKE2S_KEY_MAX || bad_span(key, key_len) || bad_span(msg, len))
		return -EINVAL;
	/* Our own state rather than libb2's one-shot blake2s(), so it can be wiped. */
	if ((key_len ? blake2s_init_key(&s, NM_BLAKE2S_LEN, key, key_len)
		     : blake2s_init(&s, NM_BLAKE2S_LEN)) == 0 &&
	    update(&s, msg, len) == 0 && blake2s_final(&s, out, NM_BLAKE2S_LEN) == 0)
		rc = 0;
	sodium_memzero(&s, sizeof(s));
	return rc;
}

/* H((K0 ^ pad) || a || b): one side of HMAC. */
static int hmac_half(uint8_t out[NM_BLAKE2S_LEN], const uint8_t k0[NM_BLAKE2S_BLOCK],
		     uint8_t pad, const void *a, size_t a_len, const void *b, size_t b_len)
{
	uint8_t block[NM_BLAKE2S_BLOCK];
	blake2s_state s;
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = k0[i] ^ pad;
	if (blake2s_init(&s, NM_BLAKE2S_LEN) == 0 && update(&s, block, sizeof(block)) == 0 &&
	    update(&s, a, a_len) == 0 && update(&s, b, b_len) == 0 &&
	    blake2s_final(&s, out, NM_BLAKE2S_LEN) == 0)
		rc = 0;
	sodium_memzero(block, sizeof(block));
	sodium_memzero(&s, sizeof(s));
	return rc;
}

/* HMAC over msg_a || msg_b, so HKDF can append its counter byte without a copy. */
static int hmac2(uint8_t out[NM_BLAKE2S_LEN], const void *key, size_t key_len, const void *a,
		 size_t a_len, const void *b, size_t b_len)
{
	uint8_t k0[NM_BLAKE2S_BLOCK] = { 0 };
	uint8_t inner[NM_BLAKE2S_LEN];
	int rc = 0;

	if (key_len > NM_BLAKE2S_BLOCK)
		rc = nm_blake2s(k0, key, key_len);
	else if (key_len > 0)
		memcpy(k0, key, key_len);
	if (rc == 0)
		rc = hmac_half(inner, k0, 0x36, a, a_len, b, b_len);
	if (rc == 0)
		rc = hmac_half(out, k0, 0x5c, inner, sizeof(inner), NULL, 0);
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(inner, sizeof(inner));
	return rc;
}

int nm_hmac_blake2s(uint8_t out[NM_BLAKE2S_LEN], const void *key, size_t key_len,
		    const void *msg, size_t len)
{
	if (!out || bad_span(key, key_len) || bad_span(msg, len))
		return -EINVAL;
	return hmac2(out, key, key_len, msg, len, NULL, 0);
}

int nm_noise_hkdf(const uint8_t ck[NM_BLAKE2S_LEN], const void *ikm, size_t ikm_len,
		  uint8_t out1[NM_BLAKE2S_LEN], uint8_t out2[NM_BLAKE2S_LEN],
		  uint8_t out3[NM_BLAKE2S_LEN])
{
	uint8_t temp[NM_BLAKE2S_LEN], o1[NM_BLAKE2S_LEN], o2[NM_BLAKE2S_LEN], o3[NM_BLAKE2S_LEN];
	const uint8_t one = 0x01, two = 0x02, three = 0x03;
	int rc;

	if (!ck || !out1 || !out2 || bad_span(ikm, ikm_len))
		return -EINVAL;
	/* Work in locals: the outputs may alias ck (MixKey writes ck back over itself). */
	rc = hmac2(temp, ck, NM_BLAKE2S_LEN, ikm, ikm_len, NULL, 0);
	if (rc == 0)
		rc = hmac2(o1, temp, sizeof(temp), &one, 1, NULL, 0);
	if (rc == 0)
		rc = hmac2(o2, temp, sizeof(temp), o1, sizeof(o1), &two, 1);
	if (rc == 0 && out3)
		rc = hmac2(o3, temp, sizeof(temp), o2, sizeof(o2), &three, 1);
	if (rc == 0) {
		memcpy(out1, o1, NM_BLAKE2S_LEN);
		memcpy(out2, o2, NM_BLAKE2S_LEN);
		if (out3)
			memcpy(out3, o3, NM_BLAKE2S_LEN);
	}
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(o1, sizeof(o1));
	sodium_memzero(o2, sizeof(o2));
	sodium_memzero(o3, sizeof(o3));
	return rc;
}

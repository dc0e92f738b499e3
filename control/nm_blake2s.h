/* SPDX-License-Identifier: MIT */
/*
 * nm_blake2s.h - BLAKE2s-256 (libb2): plain and keyed hash, HMAC-BLAKE2s, Noise HKDF.
 *
 * Two different MACs live here and must not be confused:
 *  - keyed BLAKE2s (RFC 7693 native key parameter): Net's KDF, node_id,
 *    origin_hash, the identity envelope and the route-hop MAC;
 *  - HMAC-BLAKE2s (RFC 2104 over BLAKE2s, 64-byte block): only inside
 *    Noise's HKDF, exactly as the Noise spec (rev 34, section 4.3) defines it.
 * No allocation, no global state; secrets on the stack are wiped.
 */
#ifndef NM_BLAKE2S_H
#define NM_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NM_BLAKE2S_LEN 32     /* output, and Noise HASHLEN */
#define NM_BLAKE2S_BLOCK 64   /* HMAC block size */
#define NM_BLAKE2S_KEY_MAX 32 /* longest key of the native keyed mode */

/* out = BLAKE2s-256(msg). msg may be NULL when len is 0. Returns 0 or -EINVAL. */
int nm_blake2s(uint8_t out[NM_BLAKE2S_LEN], const void *msg, size_t len);

/* out = BLAKE2s-256(a || b), without building the concatenation (Noise MixHash). */
int nm_blake2s_cat(uint8_t out[NM_BLAKE2S_LEN], const void *a, size_t a_len, const void *b,
		   size_t b_len);

/*
 * Keyed BLAKE2s-256, native mode: key_len 0..32 (0 is the unkeyed hash).
 * Returns 0, or -EINVAL for key_len > 32 or a NULL pointer with a non-zero length.
 */
int nm_blake2s_keyed(uint8_t out[NM_BLAKE2S_LEN], const void *key, size_t key_len,
		     const void *msg, size_t len);

/*
 * HMAC-BLAKE2s(key, msg), any key length (a key over 64 bytes is hashed
 * first, as RFC 2104 says). Returns 0 or -EINVAL.
 */
int nm_hmac_blake2s(uint8_t out[NM_BLAKE2S_LEN], const void *key, size_t key_len,
		    const void *msg, size_t len);

/*
 * Noise HKDF(chaining_key, ikm) with 2 or 3 outputs:
 *   temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01); out2 = HMAC(temp, out1 || 0x02);
 *   out3 = HMAC(temp, out2 || 0x03).
 * out3 NULL asks for two outputs. ikm_len is 0 or 32 in Noise, any length
 * works. Outputs may alias ck. Returns 0 or -EINVAL.
 */
int nm_noise_hkdf(const uint8_t ck[NM_BLAKE2S_LEN], const void *ikm, size_t ikm_len,
		  uint8_t out1[NM_BLAKE2S_LEN], uint8_t out2[NM_BLAKE2S_LEN],
		  uint8_t out3[NM_BLAKE2S_LEN]);

#ifdef __cplusplus
}
#endif
#endif /* NM_BLAKE2S_H */

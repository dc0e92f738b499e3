/* SPDX-License-Identifier: MIT */
/*
 * nm_aead.h - ChaCha20-Poly1305 IETF sealing and opening of a Net datagram in place.
 *
 * Buffer layout, as on the wire: header (68) || payload (payload_len) || tag (16).
 * Nonce = LE32(lo32 ^ hi32 of session_id) || LE64 counter; AAD = nm_hdr_aad()
 * (56 bytes). Both ends take the prefix from the session, not from the packet:
 * wire bytes 12..16 are written on seal and ignored on open, as upstream.
 * libsodium does the crypto; nothing here allocates or locks.
 */
#ifndef NM_AEAD_H
#define NM_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "nm_drop.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_AEAD_KEY_SIZE 32

/* One direction of one session: its key and nonce prefix. */
struct nm_aead {
	uint8_t key[NM_AEAD_KEY_SIZE];
	uint8_t prefix[4]; /* LE32 session prefix */
};

/* sodium_init(): picks the fast ChaCha20 code. Once per process; 0 or -ENOSYS. */
int nm_aead_lib_init(void);

void nm_aead_init(struct nm_aead *a, const uint8_t key[NM_AEAD_KEY_SIZE], uint64_t session_id);

/* Zero the key (sodium_memzero). */
void nm_aead_wipe(struct nm_aead *a);

/*
 * Seal in place. pkt holds the encoded header (payload_len set, the nonce
 * bytes anything) followed by payload_len plaintext bytes; cap is the room
 * from pkt, at least nm_net_dgram_len(payload_len). Writes nonce bytes
 * 12..24 (prefix, counter), encrypts the payload and writes the tag after it.
 * The caller owns the counter: one per packet, never reused under a key.
 * Returns 0, -EINVAL (NULL), -EMSGSIZE (payload_len > 8108), -ENOSPC (cap).
 */
int nm_aead_seal(const struct nm_aead *a, uint8_t *pkt, size_t cap, uint64_t counter);

/*
 * Verify and decrypt in place a datagram of exactly `len` bytes
 * (68 + payload_len + 16). On success the plaintext replaces the ciphertext
 * at pkt + 68 and *counter (may be NULL) gets the counter from bytes 16..24.
 * Returns 0; -EBADMSG with NM_DROP_AUTH when the tag does not verify (the
 * payload bytes are then unspecified: libsodium wipes them); NM_EMALFORMED
 * with NET_SHORT / NET_PAYLOAD_LEN / NET_LEN_MISMATCH for bad lengths.
 */
int nm_aead_open(const struct nm_aead *a, uint8_t *pkt, size_t len, uint64_t *counter,
		 enum nm_drop *why);

#ifdef __cplusplus
}
#endif
#endif /* NM_AEAD_H */

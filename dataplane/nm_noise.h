/* SPDX-License-Identifier: MIT */
/*
 * nm_noise.h - Noise_NKpsk0_25519_ChaChaPoly_BLAKE2s: handshake state, CipherState, Split.
 *
 * Noise spec rev 34. Pattern:   <- s
 *                               ...
 *                               -> psk, e, es
 *                               <- e, ee
 * The initiator is anonymous and must know the responder's static public
 * key; both sides share a 32-byte PSK (slot 0) and a prologue. Two messages,
 * each 32 + payload + 16 bytes. X25519 and ChaCha20-Poly1305 (IETF nonce =
 * 4 zero bytes || LE64 n) come from libsodium, BLAKE2s from nm_blake2s.
 * Interoperates with snow 0.10 (the upstream Rust library); pinned by the
 * cacophony test vector in tests/vectors/.
 *
 * No allocation. A state is single-threaded. Every failure inside a message
 * (bad MAC, low-order public key, short message) leaves the state FAILED
 * and wiped: Noise forbids continuing after an error, so make a new one.
 * Secrets (static, ephemeral, psk, ck, k) are wiped with sodium_memzero as
 * soon as they are no longer needed and by nm_noise_wipe().
 *
 * Return codes: 0; -EINVAL bad argument; -EPROTO wrong turn, or the state
 * is done/failed; -ENOSPC output buffer too small; -EMSGSIZE over the Noise
 * 65535-byte limit; NM_EMALFORMED message too short; -EBADMSG AEAD tag did
 * not verify; -EKEYREJECTED a DH gave the all-zero output (low-order key);
 * -EOVERFLOW CipherState nonce exhausted.
 */
#ifndef NM_NOISE_H
#define NM_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NM_NOISE_PROTOCOL "Noise_NKpsk0_25519_ChaChaPoly_BLAKE2s"
#define NM_NOISE_KEY_LEN 32  /* X25519 keys, cipher keys, PSK */
#define NM_NOISE_HASH_LEN 32 /* BLAKE2s */
#define NM_NOISE_TAG_LEN 16
#define NM_NOISE_MAX_MSG 65535
/* Handshake message = ephemeral public key || encrypted payload. */
#define NM_NOISE_HS_OVERHEAD (NM_NOISE_KEY_LEN + NM_NOISE_TAG_LEN)

/* One direction of a Noise transport (or the handshake's current key). */
struct nm_noise_cipher {
	uint8_t k[NM_NOISE_KEY_LEN];
	uint64_t n;   /* next nonce; UINT64_MAX is reserved by Noise */
	bool has_key; /* false: Encrypt/Decrypt pass the bytes through (Noise "empty k") */
};

enum nm_noise_role {
	NM_NOISE_INITIATOR = 0,
	NM_NOISE_RESPONDER = 1,
};

enum nm_noise_step {
	NM_NOISE_MSG1 = 0, /* initiator writes, responder reads */
	NM_NOISE_MSG2,     /* responder writes, initiator reads */
	NM_NOISE_DONE,     /* handshake hash final, split() allowed */
	NM_NOISE_FAILED,   /* an error happened; the state is wiped */
};

struct nm_noise_config {
	enum nm_noise_role role;
	const uint8_t *prologue; /* may be NULL when prologue_len is 0 */
	size_t prologue_len;
	const uint8_t *psk; /* NM_NOISE_KEY_LEN bytes, required */
	/* Responder only: its X25519 static secret key (the public key is derived). */
	const uint8_t *static_sk;
	/* Initiator only: the responder's X25519 static public key, known in advance. */
	const uint8_t *remote_static_pk;
	/* Tests only: use this ephemeral secret instead of a random one. NULL in production. */
	const uint8_t *fixed_ephemeral_sk;
};

/* The whole handshake state; treat the fields as private. */
struct nm_noise_hs {
	/* SymmetricState */
	uint8_t ck[NM_NOISE_HASH_LEN];
	uint8_t h[NM_NOISE_HASH_LEN];
	struct nm_noise_cipher cs;
	/* HandshakeState */
	uint8_t psk[NM_NOISE_KEY_LEN];
	uint8_t s_sk[NM_NOISE_KEY_LEN]; /* responder */
	uint8_t e_sk[NM_NOISE_KEY_LEN];
	uint8_t e_pk[NM_NOISE_KEY_LEN];
	uint8_t rs[NM_NOISE_KEY_LEN]; /* initiator: responder static; responder: own public */
	uint8_t re[NM_NOISE_KEY_LEN];
	enum nm_noise_role role;
	enum nm_noise_step step;
};

/* ---- CipherState ---- */

/* k = key, n = 0. */
void nm_noise_cipher_init(struct nm_noise_cipher *c, const uint8_t key[NM_NOISE_KEY_LEN]);

/*
 * EncryptWithAd: out = ChaCha20-Poly1305(k, n, ad, in) || tag, then n += 1.
 * out may equal in (in place). *out_len = in_len + 16 (in_len with no key).
 * Refuses n == UINT64_MAX (-EOVERFLOW) and in_len + 16 > 65535 (-EMSGSIZE).
 */
int nm_noise_encrypt(struct nm_noise_cipher *c, const uint8_t *ad, size_t ad_len,
		     const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * DecryptWithAd: verifies and decrypts in (ciphertext || tag) into out; n
 * advances only on success (a forged packet does not burn a nonce). out may
 * equal in. Returns -EBADMSG when the tag does not verify; libsodium then
 * zeroes out, so an in-place caller loses the ciphertext.
 */
int nm_noise_decrypt(struct nm_noise_cipher *c, const uint8_t *ad, size_t ad_len,
		     const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

void nm_noise_cipher_wipe(struct nm_noise_cipher *c);

/* ---- HandshakeState ---- */

/* Initialize, mix the prologue and the pre-message "<- s". Returns 0,
 * -EINVAL (missing key for the role, NULL psk), or -EIO (libsodium init). */
int nm_noise_init(struct nm_noise_hs *hs, const struct nm_noise_config *cfg);

/*
 * Write this side's next handshake message carrying `payload` (may be NULL
 * when payload_len is 0): msg1 on the initiator, msg2 on the responder.
 * *out_len = 48 + payload_len.
 */
int nm_noise_write_message(struct nm_noise_hs *hs, const uint8_t *payload, size_t payload_len,
			   uint8_t *out, size_t cap, size_t *out_len);

/*
 * Read the peer's handshake message and decrypt its payload into `payload`
 * (cap bytes; may be NULL when cap is 0). *payload_len (payload_len may be
 * NULL) = msg_len - 48. Length, room and turn are checked before any crypto
 * and leave the state untouched; a crypto failure wipes it.
 */
int nm_noise_read_message(struct nm_noise_hs *hs, const uint8_t *msg, size_t msg_len,
			  uint8_t *payload, size_t cap, size_t *payload_len);

static inline bool nm_noise_is_done(const struct nm_noise_hs *hs)
{
	return hs->step == NM_NOISE_DONE;
}

/* The handshake hash h; final once DONE. -EPROTO before that. */
int nm_noise_handshake_hash(const struct nm_noise_hs *hs, uint8_t h[NM_NOISE_HASH_LEN]);

/*
 * Split() into the two transport CipherStates, oriented for this side:
 * tx encrypts what this side sends, rx decrypts what it receives (the
 * initiator's tx is Noise's c1). Only when DONE. Does not wipe hs: the
 * caller may still read h; call nm_noise_wipe() when finished.
 */
int nm_noise_split(const struct nm_noise_hs *hs, struct nm_noise_cipher *tx,
		   struct nm_noise_cipher *rx);

/*
 * A third secret beside Split(): output 3 of HKDF(ck, zero-length). Outputs
 * 1 and 2 are exactly Split()'s keys, so this one is independent of both
 * and, like them, depends on the DH results. Only when DONE.
 */
int nm_noise_split_extra(const struct nm_noise_hs *hs, uint8_t out[NM_NOISE_KEY_LEN]);

/* Zero every byte of the state (sodium_memzero); step becomes FAILED. */
void nm_noise_wipe(struct nm_noise_hs *hs);

#ifdef __cplusplus
}
#endif
#endif /* NM_NOISE_H */

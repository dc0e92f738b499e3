/* SPDX-License-Identifier: MIT */
/* nm_noise.c - Noise NKpsk0 over libsodium (X25519, ChaCha20-Poly1305) and nm_blake2s. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nm_blake2s.h"
#include "nm_error.h"
#include "nm_le.h"
#include "nm_noise.h"

#define NONCE_LEN 12

static bool bad_span(const void *p, size_t len)
{
	return !p && len > 0;
}

/* ------------------------------------------------------------ CipherState */

void nm_noise_cipher_init(struct nm_noise_cipher *c, const uint8_t key[NM_NOISE_KEY_LEN])
{
	memcpy(c->k, key, NM_NOISE_KEY_LEN);
	c->n = 0;
	c->has_key = true;
}

void nm_noise_cipher_wipe(struct nm_noise_cipher *c)
{
	if (c)
		sodium_memzero(c, sizeof(*c));
}

/* Noise's ChaChaPoly nonce: 32 bits of zeros, then n little-endian. */
static void noise_nonce(uint8_t nonce[NONCE_LEN], uint64_t n)
{
	memset(nonce, 0, 4);
	nm_put_le64(nonce + 4, n);
}

int nm_noise_encrypt(struct nm_noise_cipher *c, const uint8_t *ad, size_t ad_len,
		     const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
	static const uint8_t empty[1];
	uint8_t nonce[NONCE_LEN];
	unsigned long long clen = 0;
	size_t need;

	if (!c || !out || !out_len || bad_span(ad, ad_len) || bad_span(in, in_len))
		return -EINVAL;
	need = in_len + (c->has_key ? NM_NOISE_TAG_LEN : 0);
	if (in_len > NM_NOISE_MAX_MSG || need > NM_NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (cap < need)
		return -ENOSPC;
	if (!c->has_key) {
		memmove(out, in ? in : empty, in_len);
		*out_len = in_len;
		return 0;
	}
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	noise_nonce(nonce, c->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in ? in : empty, in_len, ad, ad_len,
						  NULL, nonce, c->k);
	c->n++;
	*out_len = (size_t)clen;
	return 0;
}

int nm_noise_decrypt(struct nm_noise_cipher *c, const uint8_t *ad, size_t ad_len,
		     const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t nonce[NONCE_LEN], scratch[1];
	unsigned long long mlen = 0;
	size_t plain;

	if (!c || !in || !out_len || bad_span(ad, ad_len) || (!out && cap > 0))
		return -EINVAL;
	if (in_len > NM_NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (c->has_key && in_len < NM_NOISE_TAG_LEN)
		return NM_EMALFORMED;
	plain = in_len - (c->has_key ? NM_NOISE_TAG_LEN : 0);
	if (cap < plain)
		return -ENOSPC;
	if (!c->has_key) {
		if (plain)
			memmove(out, in, plain);
		*out_len = plain;
		return 0;
	}
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	noise_nonce(nonce, c->n);
	/* libsodium needs a writable pointer even for an empty plaintext. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out ? out : scratch, &mlen, NULL, in, in_len,
						      ad, ad_len, nonce, c->k) != 0)
		return -EBADMSG;
	c->n++;
	*out_len = (size_t)mlen;
	return 0;
}

/* --------------------------------------------------------- SymmetricState */

static int mix_hash(struct nm_noise_hs *hs, const uint8_t *data, size_t len)
{
	return nm_blake2s_cat(hs->h, hs->h, sizeof(hs->h), data, len);
}

static int mix_key(struct nm_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t k[NM_NOISE_KEY_LEN];
	int rc = nm_noise_hkdf(hs->ck, ikm, len, hs->ck, k, NULL);

	if (rc == 0)
		nm_noise_cipher_init(&hs->cs, k);
	sodium_memzero(k, sizeof(k));
	return rc;
}

static int mix_key_and_hash(struct nm_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t th[NM_NOISE_HASH_LEN], k[NM_NOISE_KEY_LEN];
	int rc = nm_noise_hkdf(hs->ck, ikm, len, hs->ck, th, k);

	if (rc == 0)
		rc = mix_hash(hs, th, sizeof(th));
	if (rc == 0)
		nm_noise_cipher_init(&hs->cs, k);
	sodium_memzero(th, sizeof(th));
	sodium_memzero(k, sizeof(k));
	return rc;
}

static int encrypt_and_hash(struct nm_noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
			    size_t cap, size_t *out_len)
{
	int rc = nm_noise_encrypt(&hs->cs, hs->h, sizeof(hs->h), in, len, out, cap, out_len);

	return rc ? rc : mix_hash(hs, out, *out_len);
}

static int decrypt_and_hash(struct nm_noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
			    size_t cap, size_t *out_len)
{
	uint8_t next_h[NM_NOISE_HASH_LEN];
	int rc;

	/* Hash the ciphertext first: out may overwrite it, and h is still the AD. */
	rc = nm_blake2s_cat(next_h, hs->h, sizeof(hs->h), in, len);
	if (rc == 0)
		rc = nm_noise_decrypt(&hs->cs, hs->h, sizeof(hs->h), in, len, out, cap, out_len);
	if (rc == 0)
		memcpy(hs->h, next_h, sizeof(hs->h));
	return rc;
}

/* ---------------------------------------------------------- HandshakeState */

/* X25519; libsodium returns -1 when the result is all zero (a low-order point). */
static int dh(const uint8_t sk[NM_NOISE_KEY_LEN], const uint8_t pk[NM_NOISE_KEY_LEN],
	      uint8_t out[NM_NOISE_KEY_LEN])
{
	if (crypto_scalarmult_curve25519(out, sk, pk) != 0 || sodium_is_zero(out, NM_NOISE_KEY_LEN))
		return -EKEYREJECTED;
	return 0;
}

/* MixKey(DH(sk, pk)), the "es" / "ee" tokens. */
static int mix_dh(struct nm_noise_hs *hs, const uint8_t *sk, const uint8_t *pk)
{
	uint8_t shared[NM_NOISE_KEY_LEN];
	int rc = dh(sk, pk, shared);

	if (rc == 0)
		rc = mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

/* The "e" token: MixHash(e.pub) and, because a psk modifier is present, MixKey(e.pub). */
static int mix_e(struct nm_noise_hs *hs, const uint8_t pk[NM_NOISE_KEY_LEN])
{
	int rc = mix_hash(hs, pk, NM_NOISE_KEY_LEN);

	return rc ? rc : mix_key(hs, pk, NM_NOISE_KEY_LEN);
}

static int check_config(const struct nm_noise_config *cfg)
{
	if (!cfg || !cfg->psk || bad_span(cfg->prologue, cfg->prologue_len))
		return -EINVAL;
	if (cfg->role == NM_NOISE_INITIATOR)
		return cfg->remote_static_pk ? 0 : -EINVAL;
	if (cfg->role == NM_NOISE_RESPONDER)
		return cfg->static_sk ? 0 : -EINVAL;
	return -EINVAL;
}

int nm_noise_init(struct nm_noise_hs *hs, const struct nm_noise_config *cfg)
{
	static const char name[] = NM_NOISE_PROTOCOL;
	int rc;

	if (!hs)
		return -EINVAL;
	rc = check_config(cfg);
	if (rc < 0)
		return rc;
	/* Thread-safe and idempotent inside libsodium; keeps no state of ours. */
	if (sodium_init() < 0)
		return -EIO;

	memset(hs, 0, sizeof(*hs));
	hs->role = cfg->role;
	memcpy(hs->psk, cfg->psk, NM_NOISE_KEY_LEN);
	if (cfg->role == NM_NOISE_RESPONDER) {
		memcpy(hs->s_sk, cfg->static_sk, NM_NOISE_KEY_LEN);
		crypto_scalarmult_curve25519_base(hs->rs, hs->s_sk);
	} else {
		memcpy(hs->rs, cfg->remote_static_pk, NM_NOISE_KEY_LEN);
	}
	/* Drawn now rather than at write time: same secret, one place for the test hook. */
	if (cfg->fixed_ephemeral_sk)
		memcpy(hs->e_sk, cfg->fixed_ephemeral_sk, NM_NOISE_KEY_LEN);
	else
		randombytes_buf(hs->e_sk, NM_NOISE_KEY_LEN);
	crypto_scalarmult_curve25519_base(hs->e_pk, hs->e_sk);

	/* The name is 37 bytes, longer than HASHLEN, so h = HASH(name). */
	rc = nm_blake2s(hs->h, name, sizeof(name) - 1);
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	if (rc == 0)
		rc = mix_hash(hs, cfg->prologue, cfg->prologue_len);
	if (rc == 0) /* pre-message "<- s" */
		rc = mix_hash(hs, hs->rs, NM_NOISE_KEY_LEN);
	if (rc < 0)
		nm_noise_wipe(hs);
	return rc;
}

/* After msg2: only ck and h are still needed (for split and the hash). */
static void finish(struct nm_noise_hs *hs)
{
	sodium_memzero(hs->psk, sizeof(hs->psk));
	sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
	sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
	nm_noise_cipher_wipe(&hs->cs);
	hs->step = NM_NOISE_DONE;
}

/* Whose turn it is: the initiator writes msg1 and reads msg2. */
static bool my_turn_to_write(const struct nm_noise_hs *hs)
{
	return (hs->role == NM_NOISE_INITIATOR && hs->step == NM_NOISE_MSG1) ||
	       (hs->role == NM_NOISE_RESPONDER && hs->step == NM_NOISE_MSG2);
}

static bool my_turn_to_read(const struct nm_noise_hs *hs)
{
	return (hs->role == NM_NOISE_RESPONDER && hs->step == NM_NOISE_MSG1) ||
	       (hs->role == NM_NOISE_INITIATOR && hs->step == NM_NOISE_MSG2);
}

/* msg1: psk, e, es.  msg2: e, ee.  Then the payload. */
static int write_tokens(struct nm_noise_hs *hs, const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t cap, size_t *out_len)
{
	size_t body = 0;
	int rc = 0;

	if (hs->step == NM_NOISE_MSG1)
		rc = mix_key_and_hash(hs, hs->psk, sizeof(hs->psk));
	memcpy(out, hs->e_pk, NM_NOISE_KEY_LEN);
	if (rc == 0)
		rc = mix_e(hs, hs->e_pk);
	if (rc == 0)
		rc = mix_dh(hs, hs->e_sk, hs->step == NM_NOISE_MSG1 ? hs->rs : hs->re);
	if (rc == 0)
		rc = encrypt_and_hash(hs, payload, payload_len, out + NM_NOISE_KEY_LEN,
				      cap - NM_NOISE_KEY_LEN, &body);
	*out_len = NM_NOISE_KEY_LEN + body;
	return rc;
}

int nm_noise_write_message(struct nm_noise_hs *hs, const uint8_t *payload, size_t payload_len,
			   uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	if (!hs || !out || !out_len || bad_span(payload, payload_len))
		return -EINVAL;
	if (!my_turn_to_write(hs))
		return -EPROTO;
	if (payload_len > NM_NOISE_MAX_MSG - NM_NOISE_HS_OVERHEAD)
		return -EMSGSIZE;
	if (cap < NM_NOISE_HS_OVERHEAD + payload_len)
		return -ENOSPC;
	rc = write_tokens(hs, payload, payload_len, out, cap, out_len);
	if (rc < 0) {
		nm_noise_wipe(hs);
		return rc;
	}
	if (hs->step == NM_NOISE_MSG2)
		finish(hs);
	else
		hs->step = NM_NOISE_MSG2;
	return 0;
}

/* msg1: psk, e, es.  msg2: e, ee.  Then the payload. */
static int read_tokens(struct nm_noise_hs *hs, const uint8_t *msg, size_t msg_len,
		       uint8_t *payload, size_t cap, size_t *payload_len)
{
	int rc = 0;

	if (hs->step == NM_NOISE_MSG1)
		rc = mix_key_and_hash(hs, hs->psk, sizeof(hs->psk));
	memcpy(hs->re, msg, NM_NOISE_KEY_LEN);
	if (rc == 0)
		rc = mix_e(hs, hs->re);
	if (rc == 0) /* es on the responder uses its static; ee on the initiator its ephemeral */
		rc = mix_dh(hs, hs->step == NM_NOISE_MSG1 ? hs->s_sk : hs->e_sk, hs->re);
	if (rc == 0)
		rc = decrypt_and_hash(hs, msg + NM_NOISE_KEY_LEN, msg_len - NM_NOISE_KEY_LEN,
				      payload, cap, payload_len);
	return rc;
}

int nm_noise_read_message(struct nm_noise_hs *hs, const uint8_t *msg, size_t msg_len,
			  uint8_t *payload, size_t cap, size_t *payload_len)
{
	size_t got = 0;
	int rc;

	if (!hs || !msg || (!payload && cap > 0))
		return -EINVAL;
	if (!my_turn_to_read(hs))
		return -EPROTO;
	if (msg_len > NM_NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (msg_len < NM_NOISE_HS_OVERHEAD)
		return NM_EMALFORMED;
	if (cap < msg_len - NM_NOISE_HS_OVERHEAD)
		return -ENOSPC;
	rc = read_tokens(hs, msg, msg_len, payload, cap, &got);
	if (rc < 0) {
		nm_noise_wipe(hs);
		return rc;
	}
	if (payload_len)
		*payload_len = got;
	if (hs->step == NM_NOISE_MSG2)
		finish(hs);
	else
		hs->step = NM_NOISE_MSG2;
	return 0;
}

int nm_noise_handshake_hash(const struct nm_noise_hs *hs, uint8_t h[NM_NOISE_HASH_LEN])
{
	if (!hs || !h)
		return -EINVAL;
	if (hs->step != NM_NOISE_DONE)
		return -EPROTO;
	memcpy(h, hs->h, NM_NOISE_HASH_LEN);
	return 0;
}

int nm_noise_split(const struct nm_noise_hs *hs, struct nm_noise_cipher *tx,
		   struct nm_noise_cipher *rx)
{
	uint8_t k1[NM_NOISE_KEY_LEN], k2[NM_NOISE_KEY_LEN];
	int rc;

	if (!hs || !tx || !rx || tx == rx)
		return -EINVAL;
	if (hs->step != NM_NOISE_DONE)
		return -EPROTO;
	rc = nm_noise_hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	if (rc == 0) {
		/* c1 carries initiator -> responder traffic, c2 the reverse. */
		bool init = hs->role == NM_NOISE_INITIATOR;
		nm_noise_cipher_init(tx, init ? k1 : k2);
		nm_noise_cipher_init(rx, init ? k2 : k1);
	}
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return rc;
}

int nm_noise_split_extra(const struct nm_noise_hs *hs, uint8_t out[NM_NOISE_KEY_LEN])
{
	uint8_t k1[NM_NOISE_KEY_LEN], k2[NM_NOISE_KEY_LEN];
	int rc;

	if (!hs || !out)
		return -EINVAL;
	if (hs->step != NM_NOISE_DONE)
		return -EPROTO;
	rc = nm_noise_hkdf(hs->ck, NULL, 0, k1, k2, out);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return rc;
}

void nm_noise_wipe(struct nm_noise_hs *hs)
{
	if (!hs)
		return;
	sodium_memzero(hs, sizeof(*hs));
	hs->step = NM_NOISE_FAILED;
}

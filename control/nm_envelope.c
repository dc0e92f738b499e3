/* SPDX-License-Identifier: MIT */
/* nm_envelope.c - identity envelope: seal, open, wire form (see header). */
#include "nm_envelope.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nm_blake2s.h"

#define KEY_LABEL "net-identity-envelope"
#define NONCE_LABEL "net-identity-nonce"
#define EPH_LEN 32
#define CT_LEN (NM_SEED_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES) /* 48 */
#define TRANSCRIPT_LEN (NM_X25519_LEN + NM_CAUSAL_LINK_SIZE)

_Static_assert(EPH_LEN + CT_LEN == 80, "sealed_seed is 80 bytes");
_Static_assert(1 + 32 + 80 + 32 + 64 == NM_ENVELOPE_SIZE, "envelope is 209 bytes");

static int env_err(struct nm_error *err, int code)
{
	switch (code) {
	case NM_EENV_INVALID_ATTESTATION:
		return nm_error_set(err, code, "identity envelope: attestation signature invalid");
	case NM_EENV_SEAL_OPEN_FAILED:
		return nm_error_set(err, code,
				    "identity envelope: seal_open failed (wrong target key or "
				    "tampered ciphertext)");
	case NM_EENV_ORIGIN_MISMATCH:
		return nm_error_set(err, code,
				    "identity envelope: decrypted seed's origin_hash does not match "
				    "expected");
	case NM_EENV_INVALID_SIGNER:
		return nm_error_set(err, code,
				    "identity envelope: signer_pub is not a valid ed25519 point");
	case NM_EENV_SOURCE_READ_ONLY:
		return nm_error_set(err, code,
				    "identity envelope: source keypair is public-only; cannot attest");
	default:
		return nm_error_set(err, code, "identity envelope: error %d", code);
	}
}

static int sodium_up(struct nm_error *err)
{
	if (sodium_init() < 0)
		return nm_error_set(err, -EIO, "identity envelope: libsodium cannot initialise");
	return 0;
}

/* key and nonce for one (shared secret, eph_pk, target_pub). */
static void derive(const uint8_t shared[32], const uint8_t eph_pk[32], const uint8_t target_pub[32],
		   uint8_t key[32], uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	uint8_t both[64], full[32];
	nm_blake2s_keyed(key, KEY_LABEL, strlen(KEY_LABEL), shared, 32);
	memcpy(both, eph_pk, 32);
	memcpy(both + 32, target_pub, 32);
	nm_blake2s_keyed(full, NONCE_LABEL, strlen(NONCE_LABEL), both, sizeof(both));
	memcpy(nonce, full, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
}

static void transcript(const uint8_t target_pub[32], const struct nm_causal_link *link,
		       uint8_t out[TRANSCRIPT_LEN])
{
	memcpy(out, target_pub, NM_X25519_LEN);
	nm_link_to_bytes(link, out + NM_X25519_LEN);
}

int nm_x25519_public(const uint8_t sk[NM_X25519_LEN], uint8_t pk[NM_X25519_LEN])
{
	if (sk == NULL || pk == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	return crypto_scalarmult_base(pk, sk) == 0 ? 0 : -EINVAL;
}

int nm_x25519_static_init(struct nm_x25519_static *k, const uint8_t sk[NM_X25519_LEN])
{
	if (k == NULL || sk == NULL)
		return -EINVAL;
	memcpy(k->sk, sk, NM_X25519_LEN);
	int rc = nm_x25519_public(k->sk, k->pub);
	if (rc < 0)
		nm_x25519_static_wipe(k);
	return rc;
}

void nm_x25519_static_wipe(struct nm_x25519_static *k)
{
	if (k != NULL)
		sodium_memzero(k, sizeof(*k));
}

void nm_envelope_prep_wipe(struct nm_envelope_prep *p)
{
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
}

int nm_envelope_prepare(struct nm_envelope_prep *p, const uint8_t target_pub[NM_X25519_LEN],
			const uint8_t *eph_sk, struct nm_error *err)
{
	if (p == NULL || target_pub == NULL)
		return nm_error_set(err, -EINVAL, "identity envelope: prep and target key are required");
	nm_envelope_prep_wipe(p);
	int rc = sodium_up(err);
	if (rc < 0)
		return rc;
	uint8_t sk[32], shared[32];
	if (eph_sk != NULL)
		memcpy(sk, eph_sk, sizeof(sk));
	else
		randombytes_buf(sk, sizeof(sk)); /* crypto_box_keypair's draw */
	if (crypto_scalarmult_base(p->eph_pk, sk) != 0 ||
	    crypto_scalarmult(shared, sk, target_pub) != 0) {
		rc = env_err(err, NM_EENV_SEAL_OPEN_FAILED);
		nm_envelope_prep_wipe(p);
	} else {
		memcpy(p->target_pub, target_pub, NM_X25519_LEN);
		derive(shared, p->eph_pk, target_pub, p->key, p->nonce);
		p->ready = true;
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

static int seal_with(const struct nm_envelope_prep *p, const struct nm_identity *src,
		     const struct nm_causal_link *link, struct nm_envelope *out)
{
	uint8_t t[TRANSCRIPT_LEN];
	transcript(p->target_pub, link, t);
	memcpy(out->sealed_seed, p->eph_pk, EPH_LEN);
	/* AAD = the chain link: the transcript's second half. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->sealed_seed + EPH_LEN, NULL,
						   nm_identity_seed(src), NM_SEED_LEN,
						   t + NM_X25519_LEN, NM_CAUSAL_LINK_SIZE, NULL,
						   p->nonce, p->key);
	memcpy(out->target_static_pub, p->target_pub, NM_X25519_LEN);
	memcpy(out->signer_pub, nm_identity_entity_id(src), NM_ENTITY_ID_LEN);
	return nm_identity_sign(src, t, sizeof(t), out->signature);
}

int nm_envelope_seal_prepared(struct nm_envelope_prep *p, const struct nm_identity *src,
			      const struct nm_causal_link *link, struct nm_envelope *out,
			      struct nm_error *err)
{
	int rc;
	if (p == NULL || !p->ready || link == NULL || out == NULL)
		rc = nm_error_set(err, -EINVAL,
				  "identity envelope: a prepared seal, link and out are required");
	else if (src == NULL)
		rc = env_err(err, NM_EENV_SOURCE_READ_ONLY);
	else
		rc = seal_with(p, src, link, out);
	nm_envelope_prep_wipe(p);
	return rc;
}

int nm_envelope_seal(const struct nm_identity *src, const uint8_t target_pub[NM_X25519_LEN],
		     const struct nm_causal_link *link, struct nm_envelope *out,
		     struct nm_error *err)
{
	if (target_pub == NULL || link == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "identity envelope: target key, link and out are required");
	if (src == NULL)
		return env_err(err, NM_EENV_SOURCE_READ_ONLY);
	struct nm_envelope_prep p;
	int rc = nm_envelope_prepare(&p, target_pub, NULL, err);
	return rc < 0 ? rc : nm_envelope_seal_prepared(&p, src, link, out, err);
}

void nm_envelope_encode(const struct nm_envelope *e, uint8_t out[NM_ENVELOPE_SIZE])
{
	uint8_t *p = out;
	*p++ = NM_ENVELOPE_VERSION;
	memcpy(p, e->target_static_pub, 32);
	memcpy(p += 32, e->sealed_seed, 80);
	memcpy(p += 80, e->signer_pub, 32);
	memcpy(p += 32, e->signature, 64);
}

int nm_envelope_decode(const void *buf, size_t len, struct nm_envelope *out, struct nm_error *err)
{
	const uint8_t *p = buf;
	if (buf == NULL || out == NULL || len != NM_ENVELOPE_SIZE)
		return nm_error_set(err, NM_EMALFORMED, "identity envelope: %zu bytes, need %d", len,
				    NM_ENVELOPE_SIZE);
	if (p[0] != NM_ENVELOPE_VERSION)
		return nm_error_set(err, NM_EENV_UNKNOWN_VERSION,
				    "identity envelope: unknown wire version 0x%02x (expected 0x%02x)",
				    p[0], NM_ENVELOPE_VERSION);
	p++;
	memcpy(out->target_static_pub, p, 32);
	memcpy(out->sealed_seed, p += 32, 80);
	memcpy(out->signer_pub, p += 80, 32);
	memcpy(out->signature, p += 32, 64);
	return 0;
}

/*
 * An open that failed after the expected-signer check: upstream checks the
 * signer's point before anything else, so an invalid one is the reason.
 * dalek's VerifyingKey::from_bytes rejects what is not a point; libsodium's
 * check also rejects small-order and mixed-order keys, which the strict
 * verify lets through (tests: envelope_open_bad_signer_keys).
 */
static int open_failed(const struct nm_envelope *e, int code, struct nm_error *err)
{
	if (!crypto_core_ed25519_is_valid_point(e->signer_pub))
		return env_err(err, NM_EENV_INVALID_SIGNER);
	if (code == NM_EENV_SEAL_OPEN_FAILED || code == NM_EENV_INVALID_ATTESTATION)
		return env_err(err, code);
	return nm_error_set(err, code, "identity envelope: cannot rebuild the keypair");
}

/* Steps 4-6: the target key, the AEAD (AAD = aad), the seed's identity. 0 or a code. */
static int open_seed(const struct nm_envelope *e, const struct nm_x25519_static *target,
		     const uint8_t aad[NM_CAUSAL_LINK_SIZE], struct nm_identity *out)
{
	uint8_t shared[32], key[32], seed[CT_LEN];
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long seed_len = 0;
	int rc = NM_EENV_SEAL_OPEN_FAILED;
	if (sodium_memcmp(target->pub, e->target_static_pub, 32) != 0 ||
	    crypto_scalarmult(shared, target->sk, e->sealed_seed) != 0)
		goto out;
	derive(shared, e->sealed_seed, e->target_static_pub, key, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, &seed_len, NULL, e->sealed_seed + EPH_LEN,
						       CT_LEN, aad, NM_CAUSAL_LINK_SIZE, nonce,
						       key) != 0 ||
	    seed_len != NM_SEED_LEN)
		goto out;
	rc = nm_identity_from_seed(out, seed);
	if (rc == 0 && sodium_memcmp(nm_identity_entity_id(out), e->signer_pub, 32) != 0)
		rc = NM_EENV_INVALID_ATTESTATION;
	if (rc < 0)
		nm_identity_wipe(out);
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int nm_envelope_open(const struct nm_envelope *e, const struct nm_x25519_static *target,
		     const struct nm_causal_link *link, const uint8_t *expected_signer,
		     struct nm_identity *out, struct nm_error *err)
{
	if (e == NULL || target == NULL || link == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "identity envelope: envelope, key, link and out are required");
	int rc = sodium_up(err);
	if (rc < 0)
		return rc;
	if (expected_signer != NULL && sodium_memcmp(expected_signer, e->signer_pub, 32) != 0)
		return env_err(err, NM_EENV_INVALID_SIGNER);
	uint8_t t[TRANSCRIPT_LEN];
	transcript(e->target_static_pub, link, t);
	/* libsodium >= 1.0.16 verifies strictly (canonical S, R and A; R and A not of small order). */
	if (crypto_sign_verify_detached(e->signature, t, sizeof(t), e->signer_pub) != 0)
		return open_failed(e, NM_EENV_INVALID_ATTESTATION, err);
	rc = open_seed(e, target, t + NM_X25519_LEN, out);
	return rc < 0 ? open_failed(e, rc, err) : 0;
}

int nm_snapshot_seal_envelope(struct nm_snapshot *s, const struct nm_identity *kp,
			      const uint8_t target_pub[NM_X25519_LEN], struct nm_error *err)
{
	if (s == NULL)
		return nm_error_set(err, -EINVAL, "identity envelope: snapshot is required");
	struct nm_envelope_prep p;
	int rc = nm_envelope_prepare(&p, target_pub, NULL, err);
	return rc < 0 ? rc : nm_snapshot_seal_prepared(s, kp, &p, err);
}

int nm_snapshot_seal_prepared(struct nm_snapshot *s, const struct nm_identity *kp,
			      struct nm_envelope_prep *p, struct nm_error *err)
{
	if (s == NULL) {
		nm_envelope_prep_wipe(p);
		return nm_error_set(err, -EINVAL, "identity envelope: snapshot is required");
	}
	struct nm_envelope e;
	int rc = nm_envelope_seal_prepared(p, kp, &s->chain_link, &e, err);
	if (rc < 0)
		return rc;
	nm_envelope_encode(&e, s->envelope);
	s->has_envelope = true;
	return 0;
}

int nm_snapshot_open_envelope(const struct nm_snapshot *s, const struct nm_x25519_static *target,
			      struct nm_identity *out, bool *opened, struct nm_error *err)
{
	if (s == NULL || out == NULL || opened == NULL)
		return nm_error_set(err, -EINVAL, "identity envelope: snapshot and out are required");
	*opened = false;
	if (!s->has_envelope)
		return 0;
	struct nm_envelope e;
	int rc = nm_envelope_decode(s->envelope, NM_ENVELOPE_SIZE, &e, err);
	if (rc < 0 || (rc = nm_envelope_open(&e, target, &s->chain_link, s->entity_id, out, err)) < 0)
		return rc;
	if (!nm_entity_id_equal(nm_identity_entity_id(out), s->entity_id)) {
		nm_identity_wipe(out);
		return env_err(err, NM_EENV_ORIGIN_MISMATCH);
	}
	*opened = true;
	return 0;
}

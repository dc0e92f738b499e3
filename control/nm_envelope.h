/* SPDX-License-Identifier: MIT */
/*
 * nm_envelope.h - the identity envelope (upstream core/identity/envelope.rs):
 * a daemon's ed25519 seed sealed to the migration target's X25519 static
 * (Noise) key and attested by the daemon's own signature. 209 bytes:
 *
 *   0    version = 1          1
 *   1    target_static_pub   32   target's X25519 public key
 *   33   sealed_seed         80   eph_pk(32) || XChaCha20-Poly1305(seed32) + tag16
 *   113  signer_pub          32   the daemon's entity_id
 *   145  signature           64   ed25519 over target_static_pub || chain_link(32)
 *
 * key   = keyed BLAKE2s-256(key "net-identity-envelope", X25519(eph, target));
 * nonce = keyed BLAKE2s-256(key "net-identity-nonce", eph_pk || target_pub)[0..24];
 * AAD   = the 32 chain-link bytes of the snapshot it travels in.
 * Every secret on the stack (and a consumed nm_envelope_prep) is wiped before
 * returning.
 */
#ifndef NM_ENVELOPE_H
#define NM_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_error.h"
#include "nm_identity.h"
#include "nm_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_ENVELOPE_SIZE NM_IDENTITY_ENVELOPE_SIZE /* 209 */
#define NM_ENVELOPE_VERSION NM_IDENTITY_ENVELOPE_VERSION /* 1 */
#define NM_X25519_LEN 32

/*
 * Upstream's EnvelopeError variants; the message in nm_error is upstream's
 * Display text ("identity envelope: ..."). Domain codes of this module.
 */
enum nm_envelope_errcode {
	NM_EENV_INVALID_ATTESTATION = -1101, /* attestation signature invalid */
	NM_EENV_SEAL_OPEN_FAILED = -1102,    /* wrong target key or tampered ciphertext */
	NM_EENV_ORIGIN_MISMATCH = -1103,     /* opened seed is another entity */
	NM_EENV_INVALID_SIGNER = -1104,      /* signer_pub not a valid ed25519 point / not expected */
	NM_EENV_SOURCE_READ_ONLY = -1105,    /* no secret key to seal with */
	NM_EENV_UNKNOWN_VERSION = -1106,     /* version byte is not 1 */
};

struct nm_envelope {
	uint8_t target_static_pub[NM_X25519_LEN];
	uint8_t sealed_seed[80];
	uint8_t signer_pub[NM_ENTITY_ID_LEN];
	uint8_t signature[NM_SIGNATURE_LEN];
};

/*
 * Seal src's seed to target_pub for the snapshot head `link` (prepare, then
 * seal_prepared). -EIO when libsodium cannot start, NM_EENV_SEAL_OPEN_FAILED
 * when the target key is a low-order point (X25519 gives all zeros),
 * NM_EENV_SOURCE_READ_ONLY for a NULL src.
 */
int nm_envelope_seal(const struct nm_identity *src, const uint8_t target_pub[NM_X25519_LEN],
		     const struct nm_causal_link *link, struct nm_envelope *out,
		     struct nm_error *err);

/*
 * A seal in two halves, so that the public-key work is done before the
 * snapshot exists (a migration's hold starts at the snapshot): prepare draws
 * the ephemeral key and derives the AEAD key and nonce from the X25519 DH
 * with the target (~2 scalar multiplications); seal_prepared, once the chain
 * link is known, runs the AEAD (its AAD is the link) and the signature (its
 * transcript has the link). The bytes are those of nm_envelope_seal.
 */
struct nm_envelope_prep {
	uint8_t target_pub[NM_X25519_LEN];
	uint8_t eph_pk[NM_X25519_LEN];
	uint8_t key[32];   /* secret */
	uint8_t nonce[24]; /* XChaCha20 nonce */
	bool ready;
};

/*
 * eph_sk NULL: a random ephemeral (always, outside vectors and tests); else
 * that secret (32 B). Errors as nm_envelope_seal's; *p is wiped on every error.
 */
int nm_envelope_prepare(struct nm_envelope_prep *p, const uint8_t target_pub[NM_X25519_LEN],
			const uint8_t *eph_sk, struct nm_error *err);

/*
 * Seal with a prepared *p, which is consumed: wiped on every path, success or
 * error, so its key and nonce never seal twice. -EINVAL for a *p that is not
 * prepared (or already used); NM_EENV_SOURCE_READ_ONLY for a NULL src.
 */
int nm_envelope_seal_prepared(struct nm_envelope_prep *p, const struct nm_identity *src,
			      const struct nm_causal_link *link, struct nm_envelope *out,
			      struct nm_error *err);

/* Wipe a prep that will not be used (p may be NULL). */
void nm_envelope_prep_wipe(struct nm_envelope_prep *p);

void nm_envelope_encode(const struct nm_envelope *e, uint8_t out[NM_ENVELOPE_SIZE]);

/* Exactly 209 bytes with version 1; NM_EMALFORMED / NM_EENV_UNKNOWN_VERSION otherwise. */
int nm_envelope_decode(const void *buf, size_t len, struct nm_envelope *out,
		       struct nm_error *err);

/*
 * A node's X25519 static key with its public half, computed once (by
 * nm_x25519_static_init) rather than on every open.
 */
struct nm_x25519_static {
	uint8_t sk[NM_X25519_LEN];
	uint8_t pub[NM_X25519_LEN];
};

/* k from the secret; -EINVAL / -EIO as nm_x25519_public. */
int nm_x25519_static_init(struct nm_x25519_static *k, const uint8_t sk[NM_X25519_LEN]);
void nm_x25519_static_wipe(struct nm_x25519_static *k);

/*
 * Open, with upstream's errors in upstream's order: expected signer
 * (NM_EENV_INVALID_SIGNER), point validity (NM_EENV_INVALID_SIGNER), strict
 * signature (NM_EENV_INVALID_ATTESTATION), target key == target->pub
 * (NM_EENV_SEAL_OPEN_FAILED), AEAD (NM_EENV_SEAL_OPEN_FAILED), seed identity
 * == signer (NM_EENV_INVALID_ATTESTATION). expected_signer may be NULL.
 * The point check (a full subgroup check, as long as the verify) runs only
 * once something failed: an envelope that opens has a signer derived from
 * its seed, which is always a valid point, and every failure with an invalid
 * signer reports NM_EENV_INVALID_SIGNER exactly as if it had run first.
 */
int nm_envelope_open(const struct nm_envelope *e, const struct nm_x25519_static *target,
		     const struct nm_causal_link *link, const uint8_t *expected_signer,
		     struct nm_identity *out, struct nm_error *err);

/* Seal `kp` into the snapshot (replacing any envelope). kp must be the snapshot's entity. */
int nm_snapshot_seal_envelope(struct nm_snapshot *s, const struct nm_identity *kp,
			      const uint8_t target_pub[NM_X25519_LEN], struct nm_error *err);
/* The same with a prepared seal, consumed as by nm_envelope_seal_prepared. */
int nm_snapshot_seal_prepared(struct nm_snapshot *s, const struct nm_identity *kp,
			      struct nm_envelope_prep *p, struct nm_error *err);

/*
 * Upstream's StateSnapshot::open_identity_envelope: no envelope -> 0 with
 * *opened false; otherwise open with the snapshot's entity as the expected
 * signer and the snapshot's chain link as AAD; an opened identity of another
 * entity is NM_EENV_ORIGIN_MISMATCH.
 */
int nm_snapshot_open_envelope(const struct nm_snapshot *s, const struct nm_x25519_static *target,
			      struct nm_identity *out, bool *opened, struct nm_error *err);

/* X25519 public key of a static secret (what a node advertises to peers). */
int nm_x25519_public(const uint8_t sk[NM_X25519_LEN], uint8_t pk[NM_X25519_LEN]);

#ifdef __cplusplus
}
#endif
#endif /* NM_ENVELOPE_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_identity.h - ed25519 entity identities and the hashes derived from them.
 *
 * entity_id   = the 32-byte ed25519 public key (compared in full, always).
 * origin_hash = first 8 bytes, LE, of keyed BLAKE2s-256(key "net-origin-v1", entity_id).
 * node_id     = the same with key "net-node-id-v1".
 * origin_hash is a 64-bit projection (and some upstream versions routed only
 * its low 32 bits), so two identities can share it: never use it as identity
 * proof; compare entity_ids.
 */
#ifndef NM_IDENTITY_H
#define NM_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_SEED_LEN 32
#define NM_ENTITY_ID_LEN 32
#define NM_SIGNATURE_LEN 64

struct nm_identity {
	uint8_t sk[64];       /* libsodium ed25519 secret key: seed(32) || entity_id(32) */
	uint64_t origin_hash; /* cached, derived from entity_id */
	uint64_t node_id;     /* cached, derived from entity_id */
};

/* Deterministic identity from an RFC 8032 seed. Returns 0, -EINVAL, or -EIO if
 * libsodium cannot initialise. */
int nm_identity_from_seed(struct nm_identity *id, const uint8_t seed[NM_SEED_LEN]);

/* Fresh identity from the OS random source. Returns 0, -EINVAL or -EIO. */
int nm_identity_generate(struct nm_identity *id);

/*
 * Load a seed file: exactly 32 raw bytes, or 64 hex digits (optional trailing
 * newline/whitespace). Returns 0, -errno for I/O failures, NM_EMALFORMED for
 * bad content; err->msg names the file.
 */
int nm_identity_from_file(struct nm_identity *id, const char *path, struct nm_error *err);

/* The same file format for any 32-byte secret (a PSK, a static key). */
int nm_key32_from_file(uint8_t key[32], const char *path, struct nm_error *err);

static inline const uint8_t *nm_identity_entity_id(const struct nm_identity *id)
{
	return id->sk + NM_SEED_LEN;
}

static inline const uint8_t *nm_identity_seed(const struct nm_identity *id)
{
	return id->sk;
}

/* Sign `len` bytes (detached ed25519). Returns 0 or -EINVAL. */
int nm_identity_sign(const struct nm_identity *id, const void *msg, size_t len,
		     uint8_t sig[NM_SIGNATURE_LEN]);

/* Verify a detached signature against an entity_id. */
bool nm_identity_verify(const uint8_t entity_id[NM_ENTITY_ID_LEN], const void *msg, size_t len,
			const uint8_t sig[NM_SIGNATURE_LEN]);

/* Zero the secret key (volatile-safe). */
void nm_identity_wipe(struct nm_identity *id);

/* The two keyed hashes, for an entity_id that arrived without a keypair. */
uint64_t nm_origin_hash_of(const uint8_t entity_id[NM_ENTITY_ID_LEN]);
uint64_t nm_node_id_of(const uint8_t entity_id[NM_ENTITY_ID_LEN]);

/* Constant-time full 32-byte comparison. */
bool nm_entity_id_equal(const uint8_t a[NM_ENTITY_ID_LEN], const uint8_t b[NM_ENTITY_ID_LEN]);

/*
 * Keyed BLAKE2s-256 (RFC 7693), first 8 bytes read little-endian. Shared by
 * the identity hashes and, later, Net's KDF labels. strlen(key) <= 32; a longer
 * key, or NULL msg with len > 0, returns 0.
 */
uint64_t nm_blake2s_keyed_u64(const char *key, const void *msg, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* NM_IDENTITY_H */

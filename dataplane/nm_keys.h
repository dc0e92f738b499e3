/* SPDX-License-Identifier: MIT */
/*
 * nm_keys.h - a node's long-term keys on disk: load them, or create them on first use.
 *
 * A key directory holds two raw 32-byte files:
 *   identity.seed  the ed25519 seed of the node identity (node_id derives from it)
 *   noise.key      the X25519 static secret the node answers handshakes with
 * Unlike upstream, whose Noise static is fresh on every start (wire.md 2.1),
 * the static key persists, so peers can pin it across restarts.
 *
 * Missing directory: created 0700 (one level; the parent must exist).
 * Missing file: created 0600 with fresh random bytes (O_EXCL, fsync'd).
 * Existing file: must be a regular file (symlinks are refused), exactly
 * 32 bytes, with no group/other permission bits; an existing directory must
 * not be group/other writable. Anything else is refused, never repaired,
 * with the path and the fix in err->msg:
 *   -EPERM          permissions too open
 *   NM_EMALFORMED   wrong length
 *   -EINVAL         not a regular file / not a directory, or a NULL argument
 *   -errno          any other I/O failure (e.g. -ENOENT for a missing parent)
 * Pure file I/O and libsodium; no DPDK.
 */
#ifndef NM_KEYS_H
#define NM_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_error.h"
#include "nm_identity.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_KEYS_IDENTITY_FILE "identity.seed"
#define NM_KEYS_NOISE_FILE "noise.key"
#define NM_KEYS_FILE_LEN 32
#define NM_KEYS_FILE_MODE 0600
#define NM_KEYS_DIR_MODE 0700
/* Enough for nm_keys_format_identity's three lines. */
#define NM_KEYS_SHOW_MAX 256

struct nm_keys {
	struct nm_identity identity;       /* from identity.seed */
	uint8_t noise_sk[NM_KEYS_FILE_LEN]; /* from noise.key */
	uint8_t noise_pk[NM_KEYS_FILE_LEN]; /* X25519 public key of noise_sk */
	bool created_identity;             /* this call wrote identity.seed */
	bool created_noise;                /* this call wrote noise.key */
};

/* Load both keys from dir, creating what is missing (see above). Returns 0 or
 * a negative code, with err (may be NULL) naming the file and the problem. */
int nm_keys_load_or_create(struct nm_keys *keys, const char *dir, struct nm_error *err);

/*
 * For --show-identity, NUL-terminated, lowercase hex:
 *   node_id 0123456789abcdef
 *   entity_id <64 hex: ed25519 public key>
 *   noise_static_pub <64 hex: X25519 public key>
 * Returns 0, -EINVAL, or -ENOSPC when cap < the text + 1.
 */
int nm_keys_format_identity(const struct nm_keys *keys, char *out, size_t cap);

/* Zero the secrets (sodium_memzero). */
void nm_keys_wipe(struct nm_keys *keys);

#ifdef __cplusplus
}
#endif
#endif /* NM_KEYS_H */

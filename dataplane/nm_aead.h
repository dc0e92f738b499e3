/* SPDX-License-Identifier: MIT */
/*
 * nm_aead.h - ChaCha20-Poly1305 IETF sealing and opening of a Net datagram in place.
 *
 * Buffer layout, as on the wire: header (68) || payload (payload_len) || tag (16).
 * Nonce = LE32(lo32 ^ hi32 of session_id) || LE64 counter; AAD = nm_hdr_aad()
 * (56 bytes). Both ends take the prefix from the session, not from the packet:
 * wire bytes 12..16 are written on seal and ignored on open, as upstream.
 *
 * Backends (byte-identical output; tests/test_aead.c compares them):
 *   ipsec-mb  intel-ipsec-mb's job API, multi-buffer over a burst (the default:
 *             fastest here, docs/BENCHMARKS.md), when it initialises with AVX2
 *             or AVX-512; single calls use its direct (stateless) API
 *   openssl   OpenSSL 3 EVP_chacha20_poly1305
 *   sodium    libsodium (the fallback; it also keeps ed25519, X25519, Noise)
 * nm_aead_lib_init() picks one once per process; NM_AEAD=sodium|ipsec-mb|openssl
 * in the environment forces it. Nothing on the seal/open path allocates or locks.
 */
#ifndef NM_AEAD_H
#define NM_AEAD_H

#include <stdbool.h>
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

enum nm_aead_backend {
	NM_AEAD_SODIUM,
	NM_AEAD_IPSEC_MB,
	NM_AEAD_OPENSSL,
	NM_AEAD__COUNT
};

/*
 * sodium_init(), then the backend choice: NM_AEAD if set, else ipsec-mb when
 * it has AVX2/AVX-512 here, else libsodium. Idempotent and thread-safe (the
 * choice is made once). 0; -ENOSYS (libsodium failed); -EINVAL with a message
 * on stderr when NM_AEAD names an unknown or unavailable backend.
 */
int nm_aead_lib_init(void);

/* Force a backend (tests, benchmarks; before traffic). 0 or -ENOTSUP. */
int nm_aead_use(enum nm_aead_backend b);
bool nm_aead_available(enum nm_aead_backend b);
enum nm_aead_backend nm_aead_backend(void);
/* "sodium", "ipsec-mb", "openssl"; nm_aead_parse_backend is its inverse (-EINVAL). */
const char *nm_aead_backend_str(enum nm_aead_backend b);
int nm_aead_parse_backend(const char *s, enum nm_aead_backend *b);
/* The backend in use, and the code it runs ("avx512", "avx2", "OpenSSL 3.0.19 ..."). */
const char *nm_aead_backend_name(void);
const char *nm_aead_arch_name(void);

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
 * payload bytes are then zeroed); NM_EMALFORMED with NET_SHORT /
 * NET_PAYLOAD_LEN / NET_LEN_MISMATCH for bad lengths.
 */
int nm_aead_open(const struct nm_aead *a, uint8_t *pkt, size_t len, uint64_t *counter,
		 enum nm_drop *why);

/* ---------------------------------------------------------------- bursts */

/* One datagram of a burst: the arguments of nm_aead_seal/open and their result. */
struct nm_aead_op {
	const struct nm_aead *key;
	uint8_t *pkt;
	size_t len;       /* seal: cap; open: the datagram's exact length */
	uint64_t counter; /* seal: in; open: out */
	int rc;           /* out: what nm_aead_seal/open would return */
	enum nm_drop why; /* out (open): the drop reason when rc < 0 */
};

#define NM_AEAD_BURST_MAX 64 /* ops per call */

/*
 * A caller's own crypto state for bursts: an IMB_MGR (ipsec-mb) or an
 * EVP_CIPHER_CTX (openssl), made for the backend in use when it is created.
 * One per lcore (a worker keeps one in its struct), made on the control path.
 */
struct nm_aead_batch;
struct nm_aead_batch *nm_aead_batch_new(void);
void nm_aead_batch_free(struct nm_aead_batch *b);
enum nm_aead_backend nm_aead_batch_backend(const struct nm_aead_batch *b);

/*
 * Seal / open ops[0..n) (n <= NM_AEAD_BURST_MAX) as one batch: ipsec-mb
 * submits them all as jobs before it collects any; the others loop. Each
 * op's rc (and why) is what the single call would give. Returns how many
 * succeeded; -EINVAL for a NULL batch or n too large.
 */
int nm_aead_seal_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n);
int nm_aead_open_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n);

#ifdef __cplusplus
}
#endif
#endif /* NM_AEAD_H */

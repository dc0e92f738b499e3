/* SPDX-License-Identifier: MIT */
/* nm_identity.c - ed25519 identities (libsodium) and their keyed BLAKE2s hashes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "nm_blake2s.h"
#include "nm_identity.h"
#include "nm_le.h"

#define ORIGIN_KEY "net-origin-v1"
#define NODE_ID_KEY "net-node-id-v1"

/* A seed file is 32 raw bytes or 64 hex digits plus trailing whitespace;
 * reading one byte past this bound is enough to call a file too long. */
#define SEED_FILE_MAX 128

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1; /* written once, under sodium_once */

static void sodium_setup(void)
{
	sodium_status = sodium_init() < 0 ? -1 : 0;
}

static int sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_setup);
	return sodium_status == 0 ? 0 : -EIO;
}

uint64_t nm_blake2s_keyed_u64(const char *key, const void *msg, size_t len)
{
	uint8_t out[NM_BLAKE2S_LEN];

	/* One keyed BLAKE2s in the tree: nm_blake2s_keyed, shared with the session KDF. */
	if (nm_blake2s_keyed(out, key, key ? strlen(key) : 0, msg, len) != 0)
		return 0;
	return nm_get_le64(out);
}

uint64_t nm_origin_hash_of(const uint8_t entity_id[NM_ENTITY_ID_LEN])
{
	return entity_id ? nm_blake2s_keyed_u64(ORIGIN_KEY, entity_id, NM_ENTITY_ID_LEN) : 0;
}

uint64_t nm_node_id_of(const uint8_t entity_id[NM_ENTITY_ID_LEN])
{
	return entity_id ? nm_blake2s_keyed_u64(NODE_ID_KEY, entity_id, NM_ENTITY_ID_LEN) : 0;
}

bool nm_entity_id_equal(const uint8_t a[NM_ENTITY_ID_LEN], const uint8_t b[NM_ENTITY_ID_LEN])
{
	if (!a || !b)
		return false;
	return sodium_memcmp(a, b, NM_ENTITY_ID_LEN) == 0;
}

int nm_identity_from_seed(struct nm_identity *id, const uint8_t seed[NM_SEED_LEN])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	int rc;

	if (!id || !seed)
		return -EINVAL;
	rc = sodium_ready();
	if (rc < 0)
		return rc;
	/* sk comes out as seed || pk, which is the layout nm_identity promises. */
	if (crypto_sign_seed_keypair(pk, id->sk, seed) != 0)
		return -EINVAL;
	id->origin_hash = nm_origin_hash_of(pk);
	id->node_id = nm_node_id_of(pk);
	return 0;
}

int nm_identity_generate(struct nm_identity *id)
{
	uint8_t seed[NM_SEED_LEN];
	int rc;

	if (!id)
		return -EINVAL;
	rc = sodium_ready();
	if (rc < 0)
		return rc;
	randombytes_buf(seed, sizeof(seed));
	rc = nm_identity_from_seed(id, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

/* Read the whole file, up to cap bytes. Returns the length or -errno. */
static ssize_t read_small_file(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

/* Decode the seed from file bytes: raw, or hex with trailing whitespace. */
static int parse_seed(const char *path, const uint8_t *buf, size_t len,
		      uint8_t seed[NM_SEED_LEN], struct nm_error *err)
{
	if (len == NM_SEED_LEN) {
		memcpy(seed, buf, NM_SEED_LEN);
		return 0;
	}

	size_t n = len;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		n--;
	if (n != 2 * NM_SEED_LEN)
		return nm_error_set(err, NM_EMALFORMED,
				    "key file '%s': expected 32 raw bytes or 64 hex digits, "
				    "got %zu bytes",
				    path, len);

	size_t bin_len = 0;
	if (sodium_hex2bin(seed, NM_SEED_LEN, (const char *)buf, n, NULL, &bin_len, NULL) != 0 ||
	    bin_len != NM_SEED_LEN)
		return nm_error_set(err, NM_EMALFORMED,
				    "key file '%s': 64 characters but not all hex digits", path);
	return 0;
}

int nm_key32_from_file(uint8_t key[32], const char *path, struct nm_error *err)
{
	uint8_t buf[SEED_FILE_MAX + 1];
	ssize_t len;
	int rc;

	if (!key || !path)
		return nm_error_set(err, -EINVAL, "key file: NULL argument");

	len = read_small_file(path, buf, sizeof(buf));
	if (len < 0)
		return nm_error_set(err, (int)len, "key file '%s': %s", path, strerror((int)-len));
	if (len > SEED_FILE_MAX)
		rc = nm_error_set(err, NM_EMALFORMED,
				  "key file '%s': too long for a 32-byte key (more than %d bytes)", path,
				  SEED_FILE_MAX);
	else
		rc = parse_seed(path, buf, (size_t)len, key, err);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int nm_identity_from_file(struct nm_identity *id, const char *path, struct nm_error *err)
{
	uint8_t seed[NM_SEED_LEN];
	if (!id)
		return nm_error_set(err, -EINVAL, "identity file: NULL argument");
	int rc = nm_key32_from_file(seed, path, err);
	if (rc == 0)
		rc = nm_identity_from_seed(id, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int nm_identity_sign(const struct nm_identity *id, const void *msg, size_t len,
		     uint8_t sig[NM_SIGNATURE_LEN])
{
	static const uint8_t empty[1];

	if (!id || !sig || (!msg && len > 0))
		return -EINVAL;
	if (crypto_sign_detached(sig, NULL, msg ? msg : empty, len, id->sk) != 0)
		return -EINVAL;
	return 0;
}

bool nm_identity_verify(const uint8_t entity_id[NM_ENTITY_ID_LEN], const void *msg, size_t len,
			const uint8_t sig[NM_SIGNATURE_LEN])
{
	static const uint8_t empty[1];

	if (!entity_id || !sig || (!msg && len > 0))
		return false;
	if (sodium_ready() < 0)
		return false;
	return crypto_sign_verify_detached(sig, msg ? msg : empty, len, entity_id) == 0;
}

void nm_identity_wipe(struct nm_identity *id)
{
	if (id)
		sodium_memzero(id, sizeof(*id));
}

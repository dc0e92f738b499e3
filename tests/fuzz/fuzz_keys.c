/* SPDX-License-Identifier: MIT */
/*
 * fuzz_keys.c - key files: the key directory (dataplane/nm_keys.h) and the
 * 32-byte secret files for PSKs and seeds (nm_key32_from_file, nm_identity_from_file).
 *
 * Input byte 0: bit 0 picks the file of the key directory that gets the
 * rest of the input (identity.seed or noise.key; the other holds a fixed
 * valid key), bit 1 makes it group-readable. The rest is the file's bytes,
 * also read as a PSK file. Files live in one private temp directory per run.
 * Properties: the key directory loads exactly when the file is 32 bytes and
 * 0600, and then holds those bytes (identity from that seed, noise public
 * key of that secret); a refusal says which file; a PSK file loads exactly
 * when it is 32 raw bytes or 64 hex digits plus trailing whitespace, and
 * then to those bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz_common.h"
#include "nm_keys.h"

static char dir[64];
static char path_id[128], path_noise[128], path_psk[128];
static uint8_t fixed[32];      /* the valid key of the file the input does not fill */
static const char *fixed_path; /* the file that holds it now (loading writes none) */

static void cleanup(void)
{
	unlink(path_id);
	unlink(path_noise);
	unlink(path_psk);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0] != '\0')
		return;
	FUZZ_CHECK(sodium_init() >= 0);
	/* tmpfs when there is one: thousands of tiny files a second, never the disk. */
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/nmfuzz-keys-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(path_id, sizeof(path_id), "%s/%s", dir, NM_KEYS_IDENTITY_FILE);
	snprintf(path_noise, sizeof(path_noise), "%s/%s", dir, NM_KEYS_NOISE_FILE);
	snprintf(path_psk, sizeof(path_psk), "%s/psk", dir);
	fuzz_fill(fixed, sizeof(fixed), 5);
	atexit(cleanup);
}

static void put_file(const char *path, const uint8_t *b, size_t len, mode_t mode)
{
	/* A new file each time: ext4 flushes a truncated-and-rewritten one on close. */
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(len == 0 || write(fd, b, len) == (ssize_t)len);
	FUZZ_CHECK(fchmod(fd, mode) == 0 && close(fd) == 0);
}

/* Our own reading of the format: 64 hex digits, then only whitespace. */
static bool hex_form(const uint8_t *b, size_t len)
{
	size_t n = len;
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
		n--;
	if (n != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit(b[i]))
			return false;
	return true;
}

static void check_psk(const uint8_t *b, size_t len)
{
	put_file(path_psk, b, len, 0600);
	uint8_t key[32];
	struct nm_error err = { 0 };
	int rc = nm_key32_from_file(key, path_psk, &err);
	bool want = len == 32 || (len <= 128 && hex_form(b, len));
	FUZZ_CHECK((rc == 0) == want);
	if (rc != 0) {
		FUZZ_CHECK(rc == NM_EMALFORMED && strstr(err.msg, path_psk) != NULL);
		return;
	}
	if (len == 32) {
		FUZZ_CHECK(memcmp(key, b, 32) == 0);
	} else {
		char hex[65];
		sodium_bin2hex(hex, sizeof(hex), key, 32);
		for (size_t i = 0; i < 64; i++)
			FUZZ_CHECK(hex[i] == tolower(b[i]));
	}
	struct nm_identity id, want_id;
	FUZZ_CHECK(nm_identity_from_file(&id, path_psk, NULL) == 0);
	FUZZ_CHECK(nm_identity_from_seed(&want_id, key) == 0);
	FUZZ_CHECK(memcmp(nm_identity_entity_id(&id), nm_identity_entity_id(&want_id), 32) == 0);
	nm_identity_wipe(&id);
	nm_identity_wipe(&want_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	setup();
	bool noise = data[0] & 1, open_mode = data[0] & 2;
	const uint8_t *b = data + 1;
	size_t len = size - 1;
	const char *other = noise ? path_id : path_noise;
	put_file(noise ? path_noise : path_id, b, len, open_mode ? 0640 : 0600);
	if (fixed_path != other) { /* rewritten only after an input filled that file */
		put_file(other, fixed, sizeof(fixed), 0600);
		fixed_path = other;
	}

	struct nm_keys k;
	struct nm_error err = { 0 };
	int rc = nm_keys_load_or_create(&k, dir, &err);
	const char *fuzzed = noise ? path_noise : path_id;
	if (open_mode) {
		FUZZ_CHECK(rc == -EPERM && strstr(err.msg, fuzzed) != NULL);
	} else if (len != NM_KEYS_FILE_LEN) {
		FUZZ_CHECK(rc == NM_EMALFORMED && strstr(err.msg, fuzzed) != NULL);
	} else {
		FUZZ_CHECK(rc == 0 && !k.created_identity && !k.created_noise);
		const uint8_t *seed = noise ? fixed : b, *sk = noise ? b : fixed;
		struct nm_identity want;
		uint8_t pk[32];
		FUZZ_CHECK(nm_identity_from_seed(&want, seed) == 0);
		FUZZ_CHECK(memcmp(nm_identity_entity_id(&k.identity), nm_identity_entity_id(&want), 32) == 0);
		FUZZ_CHECK(memcmp(k.noise_sk, sk, 32) == 0);
		FUZZ_CHECK(crypto_scalarmult_base(pk, sk) == 0 && memcmp(k.noise_pk, pk, 32) == 0);
		char text[NM_KEYS_SHOW_MAX], node[32];
		snprintf(node, sizeof(node), "node_id %016llx\n",
			 (unsigned long long)nm_node_id_of(nm_identity_entity_id(&want)));
		FUZZ_CHECK(nm_keys_format_identity(&k, text, sizeof(text)) == 0);
		FUZZ_CHECK(strncmp(text, node, strlen(node)) == 0);
		nm_identity_wipe(&want);
		nm_keys_wipe(&k);
	}
	check_psk(b, len);
	return 0;
}

void fuzz_seeds(void)
{
	uint8_t key[32];
	char hex[65 + 2];
	fuzz_fill(key, sizeof(key), 9);
	fuzz_seed_tagged(0, key, sizeof(key));
	fuzz_seed_tagged(1, key, sizeof(key));
	fuzz_seed_tagged(2, key, sizeof(key));
	sodium_bin2hex(hex, 65, key, sizeof(key));
	strcat(hex, "\r\n");
	fuzz_seed_tagged(0, hex, strlen(hex));
	fuzz_seed_tagged(0, key, 31);
}

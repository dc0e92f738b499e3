/* SPDX-License-Identifier: MIT */
/* nm_keys.c - key directory: strict load, create-on-first-use, --show-identity text. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nm_keys.h"

static int path_of(char path[PATH_MAX], const char *dir, const char *name, struct nm_error *err)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return nm_error_set(err, -ENAMETOOLONG, "key file '%s/%s': path too long", dir,
				    name);
	return 0;
}

/* Use an existing directory only if nobody else can swap files in it. */
static int ensure_dir(const char *dir, struct nm_error *err)
{
	struct stat st;

	if (mkdir(dir, NM_KEYS_DIR_MODE) == 0) {
		/* mkdir's mode passes through the umask; make it exactly 0700. */
		if (chmod(dir, NM_KEYS_DIR_MODE) != 0)
			return nm_error_set(err, -errno, "key directory '%s': chmod: %s", dir,
					    strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return nm_error_set(err, -errno, "key directory '%s': %s", dir, strerror(errno));
	if (stat(dir, &st) != 0)
		return nm_error_set(err, -errno, "key directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return nm_error_set(err, -EINVAL, "key directory '%s': not a directory", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return nm_error_set(err, -EPERM,
				    "key directory '%s': mode %04o is group/other writable; "
				    "chmod 700 it",
				    dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Read exactly len bytes. 0, or -errno / -EIO for a short read. */
static int read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

static int write_exact(int fd, const uint8_t *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = write(fd, buf + put, len - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		put += (size_t)n;
	}
	return 0;
}

static int check_key_file(int fd, const char *path, struct nm_error *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return nm_error_set(err, -errno, "key file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nm_error_set(err, -EINVAL, "key file '%s': not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return nm_error_set(err, -EPERM,
				    "key file '%s': mode %04o gives group/other access; "
				    "chmod 600 it",
				    path, (unsigned)(st.st_mode & 07777));
	if (st.st_size != NM_KEYS_FILE_LEN)
		return nm_error_set(err, NM_EMALFORMED,
				    "key file '%s': %lld bytes, expected exactly %d raw bytes", path,
				    (long long)st.st_size, NM_KEYS_FILE_LEN);
	return 0;
}

/* 0 loaded; -ENOENT absent (err untouched); anything else refused with err set. */
static int load_key(const char *path, uint8_t key[NM_KEYS_FILE_LEN], struct nm_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		if (errno == ELOOP)
			return nm_error_set(err, -EINVAL, "key file '%s': is a symlink", path);
		return nm_error_set(err, -errno, "key file '%s': %s", path, strerror(errno));
	}
	rc = check_key_file(fd, path, err);
	if (rc == 0) {
		rc = read_exact(fd, key, NM_KEYS_FILE_LEN);
		if (rc < 0)
			nm_error_set(err, rc, "key file '%s': read: %s", path, strerror(-rc));
	}
	close(fd);
	return rc;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd); /* durability only: the key is already written */
		close(fd);
	}
}

/* O_EXCL: never overwrite a key. -EEXIST (err untouched) if someone beat us to it. */
static int create_key(const char *dir, const char *path, const uint8_t key[NM_KEYS_FILE_LEN],
		      struct nm_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      NM_KEYS_FILE_MODE);
	int rc;

	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return nm_error_set(err, -errno, "key file '%s': create: %s", path,
				    strerror(errno));
	}
	/* open's mode passes through the umask; make it exactly 0600. */
	rc = fchmod(fd, NM_KEYS_FILE_MODE) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = write_exact(fd, key, NM_KEYS_FILE_LEN);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc < 0) {
		unlink(path); /* a short key file would be refused forever after */
		return nm_error_set(err, rc, "key file '%s': write: %s", path, strerror(-rc));
	}
	sync_dir(dir);
	return 0;
}

/* Load dir/name, or write fresh random bytes there. *created says which happened. */
static int load_or_create(const char *dir, const char *name, uint8_t key[NM_KEYS_FILE_LEN],
			  bool *created, struct nm_error *err)
{
	char path[PATH_MAX];
	int rc = path_of(path, dir, name, err);

	*created = false;
	if (rc < 0)
		return rc;
	rc = load_key(path, key, err);
	if (rc != -ENOENT)
		return rc;
	randombytes_buf(key, NM_KEYS_FILE_LEN);
	rc = create_key(dir, path, key, err);
	if (rc == -EEXIST) /* created concurrently: theirs wins */
		return load_key(path, key, err);
	*created = rc == 0;
	return rc;
}

int nm_keys_load_or_create(struct nm_keys *keys, const char *dir, struct nm_error *err)
{
	uint8_t seed[NM_KEYS_FILE_LEN];
	int rc;

	if (!keys || !dir || !*dir)
		return nm_error_set(err, -EINVAL, "key directory: NULL or empty path");
	memset(keys, 0, sizeof(*keys));
	if (sodium_init() < 0)
		return nm_error_set(err, -EIO, "key directory '%s': libsodium init failed", dir);
	rc = ensure_dir(dir, err);
	if (rc == 0)
		rc = load_or_create(dir, NM_KEYS_IDENTITY_FILE, seed, &keys->created_identity, err);
	if (rc == 0)
		rc = nm_identity_from_seed(&keys->identity, seed);
	if (rc == 0)
		rc = load_or_create(dir, NM_KEYS_NOISE_FILE, keys->noise_sk, &keys->created_noise,
				    err);
	if (rc == 0)
		crypto_scalarmult_curve25519_base(keys->noise_pk, keys->noise_sk);
	sodium_memzero(seed, sizeof(seed));
	if (rc < 0)
		nm_keys_wipe(keys);
	return rc;
}

int nm_keys_format_identity(const struct nm_keys *keys, char *out, size_t cap)
{
	char entity[2 * NM_ENTITY_ID_LEN + 1], noise[2 * NM_KEYS_FILE_LEN + 1];
	int n;

	if (!keys || !out)
		return -EINVAL;
	sodium_bin2hex(entity, sizeof(entity), nm_identity_entity_id(&keys->identity),
		       NM_ENTITY_ID_LEN);
	sodium_bin2hex(noise, sizeof(noise), keys->noise_pk, NM_KEYS_FILE_LEN);
	n = snprintf(out, cap, "node_id %016" PRIx64 "\nentity_id %s\nnoise_static_pub %s\n",
		     keys->identity.node_id, entity, noise);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return 0;
}

void nm_keys_wipe(struct nm_keys *keys)
{
	if (keys)
		sodium_memzero(keys, sizeof(*keys));
}

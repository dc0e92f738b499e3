/* SPDX-License-Identifier: MIT */
/* nm_statedir.c - per-daemon state files: atomic writes, verified loads (see header). */
#include "nm_statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nm_blake2s.h"
#include "nm_le.h"
#include "nm_registry.h"
#include "nm_time.h"

#define OFF_VERSION 4
#define OFF_FLAGS 6
#define OFF_ORIGIN 8
#define OFF_KIND 16
#define OFF_NEXT_PARENT 80
#define OFF_HORIZON 88
#define OFF_SAVED_AT 96
#define OFF_CDS1_LEN 104
#define OFF_RESERVED 108
#define FLAG_NEXT_PARENT 0x0001u
#define NAME_MAX_LEN 48 /* "<16 hex>.nmstate.bad-<20 digits>.<3 digits>" fits */
#define ASIDE_TRIES 1000

/* ---- the format ---- */

size_t nm_statefile_size(const struct nm_snapshot *s)
{
	return s == NULL ? 0 : NM_STATEFILE_HDR + nm_snapshot_wire_size(s) + NM_STATEFILE_SUM;
}

static bool kind_ok(const char *kind)
{
	return kind != NULL && kind[0] != '\0' && strnlen(kind, NM_KIND_MAX + 1) <= NM_KIND_MAX;
}

int nm_statefile_encode(const char *kind, const struct nm_snapshot *s, uint64_t saved_at_ns,
			uint8_t *buf, size_t cap, size_t *written, struct nm_error *err)
{
	if (written != NULL)
		*written = 0;
	if (!kind_ok(kind) || s == NULL || !s->has_next_parent || (buf == NULL && cap > 0))
		return nm_error_set(err, -EINVAL,
				    "state file: needs a kind and a snapshot with its chain head");
	size_t cds1 = nm_snapshot_wire_size(s), need = nm_statefile_size(s);
	if (cds1 > UINT32_MAX)
		return nm_error_set(err, -EINVAL, "state file: snapshot of %zu bytes is too big", cds1);
	if (cap < need)
		return nm_error_set(err, -ENOSPC, "state file: %zu bytes needed", need);
	memset(buf, 0, NM_STATEFILE_HDR);
	memcpy(buf, NM_STATEFILE_MAGIC, 4);
	nm_put_le16(buf + OFF_VERSION, NM_STATEFILE_VERSION);
	nm_put_le16(buf + OFF_FLAGS, FLAG_NEXT_PARENT);
	nm_put_le64(buf + OFF_ORIGIN, s->chain_link.origin_hash);
	memcpy(buf + OFF_KIND, kind, strlen(kind));
	nm_put_le64(buf + OFF_NEXT_PARENT, s->next_parent);
	nm_put_le64(buf + OFF_HORIZON, s->horizon_encoded);
	nm_put_le64(buf + OFF_SAVED_AT, saved_at_ns);
	nm_put_le32(buf + OFF_CDS1_LEN, (uint32_t)cds1);
	int rc = nm_snapshot_encode(s, buf + NM_STATEFILE_HDR, cds1, NULL);
	if (rc < 0)
		return nm_error_set(err, rc, "state file: snapshot does not encode");
	nm_blake2s(buf + NM_STATEFILE_HDR + cds1, buf, NM_STATEFILE_HDR + cds1);
	if (written != NULL)
		*written = need;
	return 0;
}

/* The fixed header's own checks, in the order that gives the best reason. */
static int header_check(const uint8_t *buf, size_t len, const char *kind, uint64_t origin,
			struct nm_error *err)
{
	if (len < 4 || memcmp(buf, NM_STATEFILE_MAGIC, 4) != 0)
		return nm_error_set(err, NM_EMALFORMED, "not a netmesh state file (no NMST magic)");
	if (len < OFF_FLAGS)
		return nm_error_set(err, NM_EMALFORMED, "truncated: %zu bytes", len);
	unsigned version = nm_get_le16(buf + OFF_VERSION);
	if (version != NM_STATEFILE_VERSION)
		return nm_error_set(err, NM_EMALFORMED, "unknown version %u (this build reads %u)",
				    version, NM_STATEFILE_VERSION);
	if (len < NM_STATEFILE_HDR + NM_STATEFILE_SUM)
		return nm_error_set(err, NM_EMALFORMED, "truncated: %zu bytes, the header alone is %d",
				    len, NM_STATEFILE_HDR + NM_STATEFILE_SUM);
	uint64_t want = (uint64_t)NM_STATEFILE_HDR + nm_get_le32(buf + OFF_CDS1_LEN) + NM_STATEFILE_SUM;
	if (len != want)
		return nm_error_set(err, NM_EMALFORMED, "%s: %zu bytes, the header says %" PRIu64,
				    len < want ? "truncated" : "trailing bytes", len, want);
	uint8_t sum[NM_BLAKE2S_LEN];
	nm_blake2s(sum, buf, len - NM_STATEFILE_SUM);
	if (memcmp(sum, buf + len - NM_STATEFILE_SUM, NM_STATEFILE_SUM) != 0)
		return nm_error_set(err, NM_EMALFORMED, "checksum mismatch (corrupt)");
	/* Intact from here on: what remains is whose file it is. */
	if (nm_get_le16(buf + OFF_FLAGS) != FLAG_NEXT_PARENT || nm_get_le32(buf + OFF_RESERVED) != 0)
		return nm_error_set(err, NM_EMALFORMED, "unknown flags 0x%x",
				    (unsigned)nm_get_le16(buf + OFF_FLAGS));
	char fkind[NM_STATEFILE_KIND + 1] = { 0 };
	memcpy(fkind, buf + OFF_KIND, NM_STATEFILE_KIND);
	if (strcmp(fkind, kind) != 0)
		return nm_error_set(err, NM_EMALFORMED, "belongs to kind '%s', not '%s'", fkind, kind);
	uint64_t forigin = nm_get_le64(buf + OFF_ORIGIN);
	if (forigin != origin)
		return nm_error_set(err, NM_EMALFORMED,
				    "belongs to origin 0x%016" PRIx64 ", not 0x%016" PRIx64, forigin,
				    origin);
	return 0;
}

int nm_statefile_decode(const uint8_t *buf, size_t len, const char *kind, uint64_t origin,
			struct nm_snapshot **out, struct nm_error *err)
{
	if (out != NULL)
		*out = NULL;
	if ((buf == NULL && len > 0) || !kind_ok(kind) || out == NULL)
		return nm_error_set(err, -EINVAL, "state file: buffer, kind and out are required");
	int rc = header_check(buf, len, kind, origin, err);
	if (rc < 0)
		return rc;
	struct nm_snapshot *s = NULL;
	struct nm_error derr = { 0 };
	rc = nm_snapshot_decode(buf + NM_STATEFILE_HDR, len - NM_STATEFILE_HDR - NM_STATEFILE_SUM, &s,
				&derr);
	if (rc == -ENOMEM)
		return nm_error_set(err, rc, "state file: out of memory");
	if (rc < 0)
		return nm_error_set(err, NM_EMALFORMED, "bad CDS1 snapshot: %s", derr.msg);
	if (s->chain_link.origin_hash != origin) {
		uint64_t o = s->chain_link.origin_hash;
		nm_snapshot_free(s);
		return nm_error_set(err, NM_EMALFORMED,
				    "CDS1 snapshot of origin 0x%016" PRIx64 ", the header says 0x%016" PRIx64,
				    o, origin);
	}
	nm_snapshot_set_next_parent(s, nm_get_le64(buf + OFF_NEXT_PARENT));
	s->horizon_encoded = nm_get_le64(buf + OFF_HORIZON);
	*out = s;
	return 0;
}

/* ---- the directory ---- */

struct tracked {
	uint64_t origin;
	char kind[NM_KIND_MAX + 1];
	struct nm_daemon_handle handle;
	uint64_t every_events; /* nm_host_config.auto_snapshot_interval; 0: not by events */
	uint64_t events_at_save;
	uint64_t last_ns;      /* last save by tick; UINT64_MAX: not timed yet */
	bool stateless;
};

struct nm_statedir {
	char path[PATH_MAX];
	int dirfd;
	int lockfd;
	struct nm_runtime *rt;
	uint64_t interval_ns;
	struct tracked *t;
	size_t n, cap;
	struct nm_statedir_stats st;
	enum nm_statedir_fault fault;
};

static void file_name(uint64_t origin, char name[NAME_MAX_LEN])
{
	snprintf(name, NAME_MAX_LEN, "%016" PRIx64 NM_STATEFILE_SUFFIX, origin);
}

int nm_statedir_path(const struct nm_statedir *sd, uint64_t origin, char *buf, size_t cap)
{
	char name[NAME_MAX_LEN];
	file_name(origin, name);
	int n = snprintf(buf, cap, "%s/%s", sd->path, name);
	return n >= 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static bool is_tmp_name(const char *n)
{
	size_t len = strlen(n), sl = strlen(NM_STATEFILE_SUFFIX ".tmp");
	return len > sl && strcmp(n + len - sl, NM_STATEFILE_SUFFIX ".tmp") == 0;
}

/* A listing of the directory with its own read position. */
static int listing(const struct nm_statedir *sd, DIR **out, struct nm_error *err)
{
	int fd = openat(sd->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*out = fd >= 0 ? fdopendir(fd) : NULL;
	if (*out != NULL)
		return 0;
	int rc = nm_error_set(err, -errno, "state dir %s: %s", sd->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Uncommitted writes of a previous run: never a state, only litter. */
static int remove_tmp_files(struct nm_statedir *sd, struct nm_error *err)
{
	DIR *d;
	int rc = listing(sd, &d, err);
	if (rc < 0)
		return rc;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (is_tmp_name(e->d_name) && unlinkat(sd->dirfd, e->d_name, 0) == 0)
			sd->st.tmp_removed++;
	closedir(d);
	return 0;
}

static int open_dir(struct nm_statedir *sd, struct nm_error *err)
{
	if (mkdir(sd->path, 0700) != 0 && errno != EEXIST)
		return nm_error_set(err, -errno, "state dir %s: cannot create: %s", sd->path,
				    strerror(errno));
	sd->dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->dirfd < 0)
		return nm_error_set(err, -errno, "state dir %s: %s", sd->path, strerror(errno));
	sd->lockfd = openat(sd->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sd->lockfd < 0)
		return nm_error_set(err, -errno, "state dir %s: lock file: %s", sd->path,
				    strerror(errno));
	if (flock(sd->lockfd, LOCK_EX | LOCK_NB) != 0)
		return nm_error_set(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				    "state dir %s: in use by another process (%s)", sd->path,
				    strerror(errno));
	return remove_tmp_files(sd, err);
}

int nm_statedir_open(const struct nm_statedir_config *cfg, struct nm_statedir **out,
		     struct nm_error *err)
{
	if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0' || cfg->rt == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "state dir: path, runtime and out are required");
	*out = NULL;
	struct nm_statedir *sd = calloc(1, sizeof(*sd));
	if (sd == NULL)
		return nm_error_set(err, -ENOMEM, "state dir: out of memory");
	sd->dirfd = sd->lockfd = -1;
	sd->rt = cfg->rt;
	sd->interval_ns = cfg->interval_ns;
	/* Room for "/<name>" after the path, so every file name fits. */
	if (strlen(cfg->path) + 1 + NAME_MAX_LEN >= sizeof(sd->path)) {
		free(sd);
		return nm_error_set(err, -ENAMETOOLONG, "state dir: path too long");
	}
	snprintf(sd->path, sizeof(sd->path), "%s", cfg->path);
	int rc = open_dir(sd, err);
	if (rc < 0) {
		nm_statedir_close(sd);
		return rc;
	}
	*out = sd;
	return 0;
}

void nm_statedir_close(struct nm_statedir *sd)
{
	if (sd == NULL)
		return;
	if (sd->lockfd >= 0)
		close(sd->lockfd); /* releases the flock */
	if (sd->dirfd >= 0)
		close(sd->dirfd);
	free(sd->t);
	free(sd);
}

void nm_statedir_stats(const struct nm_statedir *sd, struct nm_statedir_stats *out)
{
	*out = sd->st;
}

void nm_statedir_set_fault(struct nm_statedir *sd, enum nm_statedir_fault f)
{
	sd->fault = f;
}

/* ---- writing ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* tmp + fsync + rename + fsync(dir). On failure the committed file is untouched. */
static int commit(struct nm_statedir *sd, const char *name, const uint8_t *buf, size_t len,
		  struct nm_error *err)
{
	char tmp[NAME_MAX_LEN + 4];
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	int fd = openat(sd->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return nm_error_set(err, -errno, "state file %s/%s: %s", sd->path, tmp, strerror(errno));
	enum nm_statedir_fault fault = sd->fault;
	sd->fault = NM_STATEDIR_FAULT_NONE;
	int rc = write_all(fd, buf, fault == NM_STATEDIR_FAULT_TORN_TMP ? len / 2 : len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && fault != NM_STATEDIR_FAULT_NONE)
		return nm_error_set(err, -EIO, "state file %s/%s: injected crash before rename",
				    sd->path, name);
	if (rc == 0 && renameat(sd->dirfd, tmp, sd->dirfd, name) != 0)
		rc = -errno;
	if (rc == 0 && fsync(sd->dirfd) != 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(sd->dirfd, tmp, 0);
		return nm_error_set(err, rc, "state file %s/%s: %s", sd->path, name, strerror(-rc));
	}
	return 0;
}

static int write_snapshot(struct nm_statedir *sd, const char *kind, const struct nm_snapshot *s,
			  struct nm_error *err)
{
	size_t len = nm_statefile_size(s);
	uint8_t *buf = malloc(len);
	if (buf == NULL)
		return nm_error_set(err, -ENOMEM, "state file: out of memory");
	char name[NAME_MAX_LEN];
	file_name(s->chain_link.origin_hash, name);
	int rc = nm_statefile_encode(kind, s, nm_wall_ns(), buf, len, NULL, err);
	if (rc == 0)
		rc = commit(sd, name, buf, len, err);
	free(buf);
	return rc;
}

/* ---- reading ---- */

static int read_file(int fd, uint8_t **out, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	uint8_t *buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* shorter than fstat said: decode reports it truncated */
		got += (size_t)r;
	}
	*out = buf;
	*len = got;
	return 0;
}

/* Rename `name` to name.bad-<unix time>[.N]; never replaces anything. */
static int set_aside(struct nm_statedir *sd, const char *name, char *aside, size_t cap)
{
	long long t = (long long)time(NULL);
	for (int i = 0; i < ASIDE_TRIES; i++) {
		if (i == 0)
			snprintf(aside, cap, "%s.bad-%lld", name, t);
		else
			snprintf(aside, cap, "%s.bad-%lld.%d", name, t, i);
		int rc = renameat2(sd->dirfd, name, sd->dirfd, aside, RENAME_NOREPLACE);
		if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* No RENAME_NOREPLACE here: link (fails on EEXIST), then unlink. */
			rc = linkat(sd->dirfd, name, sd->dirfd, aside, 0);
			if (rc == 0)
				rc = unlinkat(sd->dirfd, name, 0);
		}
		if (rc == 0) {
			sd->st.set_aside++;
			fsync(sd->dirfd);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* The error for a bad file: names it and says where it went. */
static int bad_file(struct nm_statedir *sd, const char *name, int code, const char *why,
		    struct nm_error *err)
{
	char aside[NAME_MAX_LEN + 32];
	char reason[NM_ERROR_MSG_MAX];
	snprintf(reason, sizeof(reason), "%s", why);
	int rc = set_aside(sd, name, aside, sizeof(aside));
	if (rc < 0)
		return nm_error_set(err, code, "state file %s/%s: %s (could not set it aside: %s)",
				    sd->path, name, reason, strerror(-rc));
	return nm_error_set(err, code, "state file %s/%s: %s (set aside as %s)", sd->path, name,
			    reason, aside);
}

/* A daemon whose last file was set aside must not silently start empty. */
static int check_no_set_aside(struct nm_statedir *sd, const char *name, struct nm_error *err)
{
	DIR *d;
	int rc = listing(sd, &d, err);
	if (rc < 0)
		return rc;
	char prefix[NAME_MAX_LEN + 8];
	snprintf(prefix, sizeof(prefix), "%s.bad-", name);
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			rc = nm_error_set(err, -EEXIST,
					  "state dir %s: %s was set aside and %s is missing: refusing "
					  "to start the daemon empty (move it back to restore, or away "
					  "to start fresh)",
					  sd->path, e->d_name, name);
	closedir(d);
	return rc;
}

int nm_statedir_load(struct nm_statedir *sd, const char *kind, uint64_t origin,
		     struct nm_snapshot **out, struct nm_error *err)
{
	if (sd == NULL || out == NULL || !kind_ok(kind))
		return nm_error_set(err, -EINVAL, "state dir: load needs a dir, a kind and out");
	*out = NULL;
	char name[NAME_MAX_LEN];
	file_name(origin, name);
	int fd = openat(sd->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return check_no_set_aside(sd, name, err);
	if (fd < 0)
		return nm_error_set(err, -errno, "state file %s/%s: %s", sd->path, name,
				    strerror(errno));
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = read_file(fd, &buf, &len);
	close(fd);
	if (rc == -EINVAL)
		return bad_file(sd, name, NM_EMALFORMED, "not a regular file", err);
	if (rc < 0)
		return nm_error_set(err, rc, "state file %s/%s: %s", sd->path, name, strerror(-rc));
	struct nm_error derr = { 0 };
	rc = nm_statefile_decode(buf, len, kind, origin, out, &derr);
	free(buf);
	if (rc == NM_EMALFORMED)
		return bad_file(sd, name, rc, derr.msg, err);
	if (rc < 0)
		return nm_error_set(err, rc, "state file %s/%s: %s", sd->path, name, derr.msg);
	return 0;
}

/* ---- tracking, spawning, saving ---- */

static struct tracked *find(struct nm_statedir *sd, uint64_t origin)
{
	for (size_t i = 0; i < sd->n; i++)
		if (sd->t[i].origin == origin)
			return &sd->t[i];
	return NULL;
}

static int track(struct nm_statedir *sd, const char *kind, const struct nm_daemon_handle *h,
		 const struct nm_host_config *cfg)
{
	if (sd->n == sd->cap) {
		size_t cap = sd->cap ? sd->cap * 2 : 8;
		struct tracked *t = realloc(sd->t, cap * sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		sd->t = t;
		sd->cap = cap;
	}
	sd->t[sd->n++] = (struct tracked){
		.origin = h->origin_hash,
		.handle = *h,
		.every_events = cfg != NULL ? cfg->auto_snapshot_interval : 0,
		.last_ns = UINT64_MAX,
	};
	snprintf(sd->t[sd->n - 1].kind, sizeof(sd->t[0].kind), "%s", kind);
	return 0;
}

/* Failures that say the file's content cannot become this daemon. */
static bool restore_rejected(int rc)
{
	return rc == NM_ESNAPSHOT_IDENTITY || rc == NM_ERESTORE_FAILED || rc == NM_EMALFORMED;
}

int nm_statedir_spawn(struct nm_statedir *sd, const char *kind, const struct nm_identity *id,
		      const struct nm_host_config *cfg, struct nm_daemon_handle *out, bool *restored,
		      struct nm_error *err)
{
	if (sd == NULL || id == NULL || out == NULL || !kind_ok(kind))
		return nm_error_set(err, -EINVAL, "state dir: spawn needs a dir, a kind, an identity and out");
	if (restored != NULL)
		*restored = false;
	if (find(sd, id->origin_hash) != NULL)
		return nm_error_set(err, NM_EPROCESS_FAILED, "daemon 0x%" PRIx64 " already registered",
				    id->origin_hash);
	struct nm_snapshot *snap = NULL;
	int rc = nm_statedir_load(sd, kind, id->origin_hash, &snap, err);
	if (rc < 0)
		return rc;
	if (snap == NULL) {
		rc = nm_runtime_spawn(sd->rt, kind, id, cfg, out, err);
	} else {
		struct nm_error serr = { 0 };
		rc = nm_runtime_spawn_from_snapshot(sd->rt, kind, id, snap, cfg, out, &serr);
		nm_snapshot_free(snap);
		if (restore_rejected(rc)) {
			char name[NAME_MAX_LEN];
			file_name(id->origin_hash, name);
			return bad_file(sd, name, rc, serr.msg, err);
		}
		if (err != NULL && rc < 0)
			*err = serr;
		if (rc == 0) {
			sd->st.restored++;
			if (restored != NULL)
				*restored = true;
		}
	}
	if (rc < 0)
		return rc;
	if (track(sd, kind, out, cfg) < 0) {
		nm_runtime_stop(sd->rt, out->origin_hash, NULL);
		return nm_error_set(err, -ENOMEM, "state dir: out of memory");
	}
	return 0;
}

void nm_statedir_forget(struct nm_statedir *sd, uint64_t origin)
{
	struct tracked *t = find(sd, origin);
	if (t != NULL)
		*t = sd->t[--sd->n];
}

static int save_tracked(struct nm_statedir *sd, struct tracked *t, struct nm_error *err)
{
	if (t->stateless)
		return 0;
	struct nm_daemon_stats st = { 0 };
	struct nm_snapshot *s = NULL;
	/* Stats first: events counted now are in the snapshot taken after. */
	int rc = nm_daemon_handle_stats(&t->handle, &st, err);
	if (rc == 0)
		rc = nm_daemon_handle_snapshot(&t->handle, &s, err);
	if (rc < 0) {
		sd->st.write_errors++;
		return rc;
	}
	if (s == NULL) {
		t->stateless = true; /* no snapshot op: nothing to keep, ever */
		return 0;
	}
	rc = write_snapshot(sd, t->kind, s, err);
	nm_snapshot_free(s);
	if (rc < 0) {
		sd->st.write_errors++;
		return rc;
	}
	sd->st.writes++;
	t->events_at_save = st.events_processed;
	return 1;
}

int nm_statedir_save(struct nm_statedir *sd, uint64_t origin, struct nm_error *err)
{
	struct tracked *t = sd != NULL ? find(sd, origin) : NULL;
	if (t == NULL)
		return nm_err_not_found(err, origin);
	int rc = save_tracked(sd, t, err);
	return rc < 0 ? rc : 0;
}

int nm_statedir_save_all(struct nm_statedir *sd, struct nm_error *err)
{
	int first = 0;
	for (size_t i = 0; sd != NULL && i < sd->n; i++) {
		struct nm_error e = { 0 };
		int rc = save_tracked(sd, &sd->t[i], &e);
		if (rc < 0 && first == 0) {
			first = rc;
			if (err != NULL)
				*err = e;
		}
	}
	return first;
}

static bool due(struct nm_statedir *sd, struct tracked *t, uint64_t now_ns)
{
	if (t->last_ns == UINT64_MAX)
		t->last_ns = now_ns; /* the clock starts at the first tick */
	if (sd->interval_ns != 0 && now_ns - t->last_ns >= sd->interval_ns)
		return true;
	if (t->every_events == 0)
		return false;
	struct nm_daemon_stats st;
	return nm_daemon_handle_stats(&t->handle, &st, NULL) == 0 &&
	       st.events_processed - t->events_at_save >= t->every_events;
}

int nm_statedir_tick(struct nm_statedir *sd, uint64_t now_ns, struct nm_error *err)
{
	int written = 0, first = 0;
	for (size_t i = 0; sd != NULL && i < sd->n; i++) {
		struct tracked *t = &sd->t[i];
		if (t->stateless || !due(sd, t, now_ns))
			continue;
		struct nm_error e = { 0 };
		int rc = save_tracked(sd, t, &e);
		t->last_ns = now_ns; /* a failed save is retried next interval, not every tick */
		if (rc > 0)
			written++;
		if (rc < 0 && first == 0) {
			first = rc;
			if (err != NULL)
				*err = e;
		}
	}
	return first < 0 ? first : written;
}

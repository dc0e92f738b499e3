/* SPDX-License-Identifier: MIT */
/*
 * nm_statedir.h - daemon state that survives restarts: one file per daemon
 * in a state directory, written atomically, verified on load.
 *
 * File DIR/<origin as 16 hex digits>.nmstate (mode 0600; DIR is created 0700):
 *   off 0    magic "NMST"          4
 *   off 4    version = 1           2   LE16
 *   off 6    flags                 2   LE16, bit 0: next_parent present; others 0
 *   off 8    origin_hash           8   LE64
 *   off 16   kind                 64   NUL-padded (NM_KIND_MAX bytes at most)
 *   off 80   next_parent           8   LE64, the chain-head extension (nm_snapshot.h)
 *   off 88   horizon_encoded       8   LE64 (not in CDS1 either)
 *   off 96   saved_at              8   LE64, ns since the UNIX epoch
 *   off 104  cds1_len              4   LE32
 *   off 108  reserved              4   0
 *   off 112  CDS1 v2 snapshot      cds1_len bytes, upstream-exact (nm_snapshot.h)
 *   then     BLAKE2s-256           32  over every byte before it
 *
 * Writing: DIR/<name>.tmp (O_TRUNC, 0600), write, fsync, rename over the
 * file, fsync DIR. The rename is the commit point: a crash (kill -9, power
 * loss) at any moment leaves either the previous file or the new one, never a
 * mix. A leftover .tmp is an uncommitted write: ignored, and removed on open.
 *
 * Loading verifies everything (magic, version, length, checksum, flags, kind,
 * origin, the CDS1 decode, then the restore itself). A file that fails is
 * renamed aside to <name>.bad-<unix-time>[.N] (never overwritten, never
 * deleted) and the error names the file and the reason. While a set-aside
 * file exists and no good file does, the daemon refuses to start empty: the
 * operator decides (move the .bad file back or away).
 *
 * One process per directory: nm_statedir_open takes an exclusive lock
 * (flock on DIR/lock, released by the kernel when the process dies).
 * Everything here runs on the control thread; nothing is on a packet path.
 */
#ifndef NM_STATEDIR_H
#define NM_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_identity.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_STATEFILE_MAGIC "NMST"
#define NM_STATEFILE_VERSION 1
#define NM_STATEFILE_HDR 112
#define NM_STATEFILE_SUM 32
#define NM_STATEFILE_KIND 64
#define NM_STATEFILE_SUFFIX ".nmstate"

/* ---- the file format on flat buffers (tests and fuzzers drive these) ---- */

/* Bytes nm_statefile_encode writes for this snapshot. */
size_t nm_statefile_size(const struct nm_snapshot *s);

/*
 * Encode one daemon's state file. The snapshot must have the chain-head
 * extension (has_next_parent). -EINVAL for a bad kind or snapshot, -ENOSPC
 * when cap is too small.
 */
int nm_statefile_encode(const char *kind, const struct nm_snapshot *s, uint64_t saved_at_ns,
			uint8_t *buf, size_t cap, size_t *written, struct nm_error *err);

/*
 * Verify and decode. `kind` and `origin` are what the file must belong to.
 * Returns 0 with *out (horizon and next_parent set: ready for
 * nm_runtime_spawn_from_snapshot), or NM_EMALFORMED with the reason in err
 * ("truncated ...", "checksum mismatch", "unknown version 7", "belongs to
 * kind 'x'", ...), or -ENOMEM.
 */
int nm_statefile_decode(const uint8_t *buf, size_t len, const char *kind, uint64_t origin,
			struct nm_snapshot **out, struct nm_error *err);

/* ---- the directory ---- */

struct nm_statedir;

struct nm_statedir_config {
	const char *path;         /* the directory; created 0700 when missing */
	struct nm_runtime *rt;    /* the daemons to save and restore */
	uint64_t interval_ns;     /* periodic save of every tracked daemon; 0: none */
};

struct nm_statedir_stats {
	uint64_t writes;          /* state files committed */
	uint64_t write_errors;    /* saves that failed (the previous file stays) */
	uint64_t restored;        /* daemons spawned from their file */
	uint64_t set_aside;       /* bad files renamed aside */
	uint64_t tmp_removed;     /* leftover .tmp files removed on open */
};

/*
 * Open (create) the directory, take its lock (-EBUSY "in use by another
 * process"), remove leftover .tmp files. Errors name the path.
 */
int nm_statedir_open(const struct nm_statedir_config *cfg, struct nm_statedir **out,
		     struct nm_error *err);

/* Release the lock and free. Saves nothing (call nm_statedir_save_all first). NULL is fine. */
void nm_statedir_close(struct nm_statedir *sd);

/* DIR/<origin>.nmstate into buf; -ENAMETOOLONG when it does not fit. */
int nm_statedir_path(const struct nm_statedir *sd, uint64_t origin, char *buf, size_t cap);

/*
 * Spawn `kind` under `id` and track it for saving: from its state file when
 * there is one (*restored = true), fresh otherwise. A file that cannot be
 * restored (it fails verification, or the daemon's restore rejects it) is
 * set aside and the spawn fails with an error naming it: the daemon is not
 * started empty. Other spawn errors (unknown kind, not ready, ...) leave the
 * file alone. restored may be NULL.
 */
int nm_statedir_spawn(struct nm_statedir *sd, const char *kind, const struct nm_identity *id,
		      const struct nm_host_config *cfg, struct nm_daemon_handle *out, bool *restored,
		      struct nm_error *err);

/*
 * Load a daemon's file: 0 with *out = NULL when there is none (and no
 * set-aside one); 0 with *out on success; on a bad file, the file is set
 * aside and the error returned. Used by nm_statedir_spawn.
 */
int nm_statedir_load(struct nm_statedir *sd, const char *kind, uint64_t origin,
		     struct nm_snapshot **out, struct nm_error *err);

/*
 * Snapshot one tracked daemon (through the runtime, so a pinned daemon's
 * snapshot runs on its lcore) and commit its file. A stateless daemon is
 * never written (0, and it is skipped from then on).
 */
int nm_statedir_save(struct nm_statedir *sd, uint64_t origin, struct nm_error *err);

/*
 * Save every tracked daemon (graceful stop: call it once no event can reach
 * the daemons any more, before the runtime shuts down). Tries them all;
 * returns the first error.
 */
int nm_statedir_save_all(struct nm_statedir *sd, struct nm_error *err);

/*
 * The periodic save, called by the control thread with a monotonic clock.
 * A daemon is due when the directory's interval_ns has passed since its last
 * save, or when it has processed its nm_host_config.auto_snapshot_interval
 * events (upstream's unit) since then. Writes only the due ones; returns how
 * many were written, or the first error (the others are still tried).
 */
int nm_statedir_tick(struct nm_statedir *sd, uint64_t now_ns, struct nm_error *err);

/* Stop tracking a daemon (it was stopped on purpose); its file stays. */
void nm_statedir_forget(struct nm_statedir *sd, uint64_t origin);

void nm_statedir_stats(const struct nm_statedir *sd, struct nm_statedir_stats *out);

/* Test hook: make the next save stop at a crash point, as kill -9 would. */
enum nm_statedir_fault {
	NM_STATEDIR_FAULT_NONE = 0,
	NM_STATEDIR_FAULT_BEFORE_RENAME, /* tmp file written and synced, not renamed */
	NM_STATEDIR_FAULT_TORN_TMP,      /* tmp file only half written */
};
void nm_statedir_set_fault(struct nm_statedir *sd, enum nm_statedir_fault f);

#ifdef __cplusplus
}
#endif
#endif /* NM_STATEDIR_H */

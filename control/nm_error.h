/* SPDX-License-Identifier: MIT */
/*
 * nm_error.h - the fixed error vocabulary of netmesh.
 *
 * Every fallible call returns 0 on success or a negative code. Generic
 * failures use negative errno (-EINVAL for a bad argument, -ENOMEM, -ENOSPC
 * for a full caller buffer, ...). Failures with a meaning of their own use the
 * NM_E* codes below; they sit below -1000 so they never collide with errno.
 *
 * Calls that can fail for a reason worth reading also take an optional
 * `struct nm_error *` (NULL is always accepted). It repeats the code and adds
 * the detail: the kind, the origin, and a readable message that matches
 * upstream Net's Display text where upstream has one.
 */
#ifndef NM_ERROR_H
#define NM_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nm_errcode {
	/* Runtime lifecycle (upstream SDK DaemonError). */
	NM_ENOT_READY = -1001,         /* NotReady: start() not called yet */
	NM_ESHUTTING_DOWN = -1002,     /* ShuttingDown: terminal state */
	NM_EFACTORY_EXISTS = -1003,    /* FactoryAlreadyRegistered(kind) */
	NM_EFACTORY_NOT_FOUND = -1004, /* FactoryNotFound(kind) */
	NM_ESNAPSHOT_IDENTITY = -1005, /* SnapshotIdentityMismatch{snapshot, identity} */
	/* Core(...): the daemon layer's errors (upstream core DaemonError). */
	NM_EPROCESS_FAILED = -1010,  /* ProcessFailed(msg) */
	NM_ESNAPSHOT_FAILED = -1011, /* SnapshotFailed(msg) */
	NM_ERESTORE_FAILED = -1012,  /* RestoreFailed(msg) */
	NM_ENOT_FOUND = -1013,       /* NotFound(origin) */
	NM_ESTALE = -1014,           /* Stale(origin): swapped or removed concurrently */
	/* Codecs. */
	NM_EMALFORMED = -1020, /* a byte string failed to decode */
	/* Migration (upstream MigrationError; texts from nm_mig_err_* in nm_migwire.h). */
	NM_EMIG_DAEMON_NOT_FOUND = -1030,   /* DaemonNotFound(origin) */
	NM_EMIG_TARGET_UNAVAILABLE = -1031, /* TargetUnavailable(node) */
	NM_EMIG_NO_TARGET = -1032,          /* NoTargetAvailable */
	NM_EMIG_STATE_FAILED = -1033,       /* StateFailed(msg): also every codec error */
	NM_EMIG_ALREADY_MIGRATING = -1034,  /* AlreadyMigrating(origin) */
	NM_EMIG_WRONG_PHASE = -1035,        /* WrongPhase{expected, got} */
	NM_EMIG_SNAPSHOT_TOO_LARGE = -1036, /* SnapshotTooLarge{size, max} */
	NM_EMIG_BUFFER_FULL = -1037,        /* BufferFull{events, bytes} */
	NM_EMIG_WRONG_PEER = -1038,         /* WrongPeer{daemon_origin, from, expected} */
	NM_EMIG_REASSEMBLY = -1039,         /* netmesh: a snapshot chunk the reassembler refused */
};

#define NM_ERROR_MSG_MAX 256
#define NM_KIND_MAX 63 /* longest daemon kind, in bytes, without the NUL */

struct nm_error {
	int code;                   /* same value the call returned */
	uint64_t origin;            /* NOT_FOUND / STALE; SNAPSHOT_IDENTITY: the snapshot's */
	uint64_t identity_origin;   /* SNAPSHOT_IDENTITY: the identity's origin */
	char kind[NM_KIND_MAX + 1]; /* FACTORY_EXISTS / FACTORY_NOT_FOUND */
	char msg[NM_ERROR_MSG_MAX]; /* full readable message */
};

/* Short stable name of a code: "NotReady", "ProcessFailed", or strerror text. */
const char *nm_strerror(int code);

/* True for the Core(...) family (ProcessFailed .. Stale). */
bool nm_error_is_core(int code);

/* True for the migration family (NM_EMIG_*). */
bool nm_error_is_migration(int code);

/*
 * Record an error and return `code`, so `return nm_error_set(err, ...)` reads
 * naturally. `err` may be NULL. For the Core codes the upstream prefix is
 * added in front of the formatted text ("restore failed: <text>").
 */
int nm_error_set(struct nm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset to "no error" (code 0, empty message). `err` may be NULL. */
void nm_error_clear(struct nm_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NM_ERROR_H */

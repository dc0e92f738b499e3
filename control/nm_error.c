/* SPDX-License-Identifier: MIT */
/* nm_error.c - error names and the nm_error record. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nm_error.h"

const char *nm_strerror(int code)
{
	switch (code) {
	case NM_ENOT_READY:
		return "NotReady";
	case NM_ESHUTTING_DOWN:
		return "ShuttingDown";
	case NM_EFACTORY_EXISTS:
		return "FactoryAlreadyRegistered";
	case NM_EFACTORY_NOT_FOUND:
		return "FactoryNotFound";
	case NM_ESNAPSHOT_IDENTITY:
		return "SnapshotIdentityMismatch";
	case NM_EPROCESS_FAILED:
		return "ProcessFailed";
	case NM_ESNAPSHOT_FAILED:
		return "SnapshotFailed";
	case NM_ERESTORE_FAILED:
		return "RestoreFailed";
	case NM_ENOT_FOUND:
		return "NotFound";
	case NM_ESTALE:
		return "Stale";
	case NM_EMALFORMED:
		return "Malformed";
	case NM_EMIG_DAEMON_NOT_FOUND:
		return "DaemonNotFound";
	case NM_EMIG_TARGET_UNAVAILABLE:
		return "TargetUnavailable";
	case NM_EMIG_NO_TARGET:
		return "NoTargetAvailable";
	case NM_EMIG_STATE_FAILED:
		return "StateFailed";
	case NM_EMIG_ALREADY_MIGRATING:
		return "AlreadyMigrating";
	case NM_EMIG_WRONG_PHASE:
		return "WrongPhase";
	case NM_EMIG_SNAPSHOT_TOO_LARGE:
		return "SnapshotTooLarge";
	case NM_EMIG_BUFFER_FULL:
		return "BufferFull";
	case NM_EMIG_WRONG_PEER:
		return "WrongPeer";
	case NM_EMIG_REASSEMBLY:
		return "Reassembly";
	default:
		break;
	}
	if (code == INT_MIN) /* -INT_MIN overflows */
		return "Unknown error";
	return strerror(code < 0 ? -code : code);
}

bool nm_error_is_core(int code)
{
	return code <= NM_EPROCESS_FAILED && code >= NM_ESTALE;
}

bool nm_error_is_migration(int code)
{
	return code <= NM_EMIG_DAEMON_NOT_FOUND && code >= NM_EMIG_REASSEMBLY;
}

/* Upstream core DaemonError's Display prefix, or "" for other codes. */
static const char *core_prefix(int code)
{
	switch (code) {
	case NM_EPROCESS_FAILED:
		return "daemon process failed: ";
	case NM_ESNAPSHOT_FAILED:
		return "snapshot failed: ";
	case NM_ERESTORE_FAILED:
		return "restore failed: ";
	default:
		return "";
	}
}

int nm_error_set(struct nm_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;

	/* Only code and msg: callers fill kind/origin before or after. */
	err->code = code;
	int n = snprintf(err->msg, sizeof(err->msg), "%s", core_prefix(code));
	if (fmt && n >= 0 && (size_t)n < sizeof(err->msg)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

void nm_error_clear(struct nm_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

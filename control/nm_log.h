/* SPDX-License-Identifier: MIT */
/*
 * nm_log.h - the appliance's own log messages: a type (which subsystem) and
 * a level per message, written through one sink that the program installs
 * once at start. The appliance installs the rte_log sink (nm_log_rte.h), so
 * `--log-level=netmesh.*:debug` and `--syslog` apply; without a sink,
 * messages of level info and above go to stderr. DPDK-free, like every
 * control/ header: control code logs without knowing the backend.
 *
 * Periodic stats lines are not log messages: programs print those on stdout.
 */
#ifndef NM_LOG_H
#define NM_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One per subsystem; the rte_log names are "netmesh." + nm_log_type_name(). */
enum nm_log_type {
	NM_LT_APP = 0,   /* netmesh.app: the program's own init and teardown */
	NM_LT_DATAPLANE, /* netmesh.dataplane: ports, workers */
	NM_LT_SESSION,   /* netmesh.session: handshakes, peers */
	NM_LT_RUNTIME,   /* netmesh.runtime: daemons */
	NM_LT_MESHOS,    /* netmesh.meshos: supervision */
	NM_LT_MIGRATION, /* netmesh.migration: live migration */
	NM_LT__COUNT
};

/* syslog's numbering (rte_log's is one more). */
enum nm_log_lv {
	NM_LV_ERR = 3,
	NM_LV_WARNING = 4,
	NM_LV_NOTICE = 5,
	NM_LV_INFO = 6,
	NM_LV_DEBUG = 7,
};

struct nm_log_sink {
	void *ctx;
	/* Would a message of this type and level be written? (Saves formatting.) */
	bool (*enabled)(void *ctx, enum nm_log_type t, enum nm_log_lv lv);
	/* One formatted message, without a trailing newline. */
	void (*write)(void *ctx, enum nm_log_type t, enum nm_log_lv lv, const char *msg);
};

/*
 * Install the sink (copied; NULL: back to stderr). Once at start, before
 * other threads log; a message never sees half a sink.
 */
void nm_log_set_sink(const struct nm_log_sink *sink);

bool nm_log_enabled(enum nm_log_type t, enum nm_log_lv lv);

/* printf-style; messages longer than NM_LOG_LINE_MAX bytes are cut. */
#define NM_LOG_LINE_MAX 512
void nm_log(enum nm_log_type t, enum nm_log_lv lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nm_vlog(enum nm_log_type t, enum nm_log_lv lv, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* "app", "dataplane", ...; "?" when out of range. */
const char *nm_log_type_name(enum nm_log_type t);
/* "err", "warning", "notice", "info", "debug"; "?" otherwise. */
const char *nm_log_lv_name(enum nm_log_lv lv);

#ifdef __cplusplus
}
#endif
#endif /* NM_LOG_H */

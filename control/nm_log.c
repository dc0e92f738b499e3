/* SPDX-License-Identifier: MIT */
/* nm_log.c - typed log messages through one installed sink (see header). */
#include "nm_log.h"

#include <stdatomic.h>
#include <stdio.h>

static bool stderr_enabled(void *ctx, enum nm_log_type t, enum nm_log_lv lv)
{
	(void)ctx;
	(void)t;
	return lv <= NM_LV_INFO;
}

static void stderr_write(void *ctx, enum nm_log_type t, enum nm_log_lv lv, const char *msg)
{
	(void)ctx;
	(void)lv;
	if (t == NM_LT_APP)
		fprintf(stderr, "netmesh: %s\n", msg);
	else
		fprintf(stderr, "netmesh.%s: %s\n", nm_log_type_name(t), msg);
}

static const struct nm_log_sink stderr_sink = { NULL, stderr_enabled, stderr_write };

/* The process's one sink: set once at start, read by every logging thread. */
static struct nm_log_sink installed_sink;
static const struct nm_log_sink *_Atomic nm_log_sink_now = &stderr_sink;

void nm_log_set_sink(const struct nm_log_sink *sink)
{
	if (sink == NULL || sink->write == NULL) {
		atomic_store(&nm_log_sink_now, &stderr_sink);
		return;
	}
	installed_sink = *sink;
	atomic_store(&nm_log_sink_now, &installed_sink);
}

bool nm_log_enabled(enum nm_log_type t, enum nm_log_lv lv)
{
	const struct nm_log_sink *s = atomic_load(&nm_log_sink_now);
	return s->enabled == NULL || s->enabled(s->ctx, t, lv);
}

void nm_vlog(enum nm_log_type t, enum nm_log_lv lv, const char *fmt, va_list ap)
{
	const struct nm_log_sink *s = atomic_load(&nm_log_sink_now);
	if (s->enabled != NULL && !s->enabled(s->ctx, t, lv))
		return;
	char line[NM_LOG_LINE_MAX + 1];
	vsnprintf(line, sizeof(line), fmt, ap);
	s->write(s->ctx, t, lv, line);
}

void nm_log(enum nm_log_type t, enum nm_log_lv lv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nm_vlog(t, lv, fmt, ap);
	va_end(ap);
}

const char *nm_log_type_name(enum nm_log_type t)
{
	static const char *const names[NM_LT__COUNT] = {
		[NM_LT_APP] = "app",	       [NM_LT_DATAPLANE] = "dataplane",
		[NM_LT_SESSION] = "session",   [NM_LT_RUNTIME] = "runtime",
		[NM_LT_MESHOS] = "meshos",     [NM_LT_MIGRATION] = "migration",
	};
	return (unsigned)t < NM_LT__COUNT ? names[t] : "?";
}

const char *nm_log_lv_name(enum nm_log_lv lv)
{
	switch (lv) {
	case NM_LV_ERR: return "err";
	case NM_LV_WARNING: return "warning";
	case NM_LV_NOTICE: return "notice";
	case NM_LV_INFO: return "info";
	case NM_LV_DEBUG: return "debug";
	}
	return "?";
}

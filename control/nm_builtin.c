/* SPDX-License-Identifier: MIT */
/* nm_builtin.c - echo, counter and sink daemons (see header). */
#include "nm_builtin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nm_le.h"

#include "nm_runtime.h"

static void free_daemon(struct nm_daemon *d)
{
	free(d);
}

/* ---- echo ---- */

static int echo_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d;
	(void)err;
	return nm_emit(out, ev->payload, ev->len);
}

static const struct nm_daemon_ops echo_ops = {
	.name = "echo",
	.process = echo_process,
	.destroy = free_daemon,
};

struct nm_daemon *nm_echo_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = malloc(sizeof(*d));
	if (d != NULL)
		d->ops = &echo_ops;
	return d;
}

/* ---- counter ---- */

struct counter {
	struct nm_daemon base;
	uint64_t count;
};

static int counter_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			   struct nm_error *err)
{
	(void)ev;
	(void)err;
	struct counter *c = (struct counter *)d;
	uint8_t *p = nm_emit_reserve(out, 8);
	if (p == NULL)
		return -ENOSPC;
	c->count++;
	nm_put_le64(p, c->count);
	return 0;
}

static int counter_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	(void)err;
	uint8_t b[8];
	nm_put_le64(b, ((const struct counter *)d)->count);
	return nm_bytes_append(out, b, sizeof(b));
}

static int counter_restore(struct nm_daemon *d, const uint8_t *state, size_t len,
			   struct nm_error *err)
{
	if (len != 8)
		return nm_error_set(err, NM_ERESTORE_FAILED, "counter state must be 8 bytes, got %zu",
				    len);
	((struct counter *)d)->count = nm_get_le64(state);
	return 0;
}

static const struct nm_daemon_ops counter_ops = {
	.name = "counter",
	.process = counter_process,
	.snapshot = counter_snapshot,
	.restore = counter_restore,
	.destroy = free_daemon,
};

struct nm_daemon *nm_counter_new(void *ctx)
{
	(void)ctx;
	struct counter *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base.ops = &counter_ops;
	return &c->base;
}

uint64_t nm_counter_value(const struct nm_daemon *d)
{
	return d != NULL && d->ops == &counter_ops ? ((const struct counter *)d)->count : 0;
}

/* ---- sink ---- */

static int sink_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d;
	(void)ev;
	(void)out;
	(void)err;
	return 0;
}

static const struct nm_daemon_ops sink_ops = {
	.name = "sink",
	.process = sink_process,
	.destroy = free_daemon,
};

struct nm_daemon *nm_sink_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = malloc(sizeof(*d));
	if (d != NULL)
		d->ops = &sink_ops;
	return d;
}

int nm_builtin_register_all(struct nm_runtime *rt, struct nm_error *err)
{
	static const struct {
		const char *kind;
		nm_daemon_factory_fn fn;
	} kinds[] = { { "echo", nm_echo_new }, { "counter", nm_counter_new }, { "sink", nm_sink_new } };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int rc = nm_runtime_register_factory(rt, kinds[i].kind, kinds[i].fn, NULL, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_test_sizer.h - a test daemon that emits one output per event, as many
 * bytes long as the event's LE32 payload says (a known pattern), to drive
 * outputs past the MTU and past the largest datagram.
 */
#ifndef NM_TEST_SIZER_H
#define NM_TEST_SIZER_H

#include <stdbool.h>
#include <stdlib.h>

#include "nm_daemon.h"
#include "nm_le.h"

static inline uint8_t sizer_byte(uint32_t i, uint32_t n)
{
	return (uint8_t)(i * 31u + n);
}

static inline bool sizer_output_ok(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != sizer_byte(i, len))
			return false;
	return true;
}

static int sizer_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)d;
	if (ev->len < 4)
		return nm_error_set(err, NM_EPROCESS_FAILED, "sizer: no size in the event");
	uint32_t n = nm_get_le32(ev->payload);
	uint8_t *p = nm_emit_reserve(out, n);
	for (uint32_t i = 0; p != NULL && i < n; i++)
		p[i] = sizer_byte(i, n);
	return 0; /* a refused emit is for the host to fail, whatever the daemon returns */
}

static void sizer_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops sizer_ops = {
	.name = "sizer", .process = sizer_process, .destroy = sizer_destroy,
};

static inline struct nm_daemon *sizer_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = calloc(1, sizeof(*d));
	if (d != NULL)
		d->ops = &sizer_ops;
	return d;
}

#endif /* NM_TEST_SIZER_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_builtin.h - daemons that ship with the appliance.
 *
 *   echo     stateless; returns each payload verbatim as one output.
 *   counter  counts events; each output and the snapshot state is the running
 *            count as a little-endian u64; restore accepts exactly 8 bytes.
 *   sink     stateless; consumes events and emits nothing.
 * These are upstream's seed-test fixtures, so their behaviour is pinned.
 */
#ifndef NM_BUILTIN_H
#define NM_BUILTIN_H

#include "nm_daemon.h"
#include "nm_error.h"

struct nm_runtime;

/* Factories (ctx unused). NULL on allocation failure. */
struct nm_daemon *nm_echo_new(void *ctx);
struct nm_daemon *nm_counter_new(void *ctx);
struct nm_daemon *nm_sink_new(void *ctx);

/* The counter's current count (for tests and tools). */
uint64_t nm_counter_value(const struct nm_daemon *d);

/* Register "echo", "counter" and "sink" on a runtime. Stops at the first error. */
int nm_builtin_register_all(struct nm_runtime *rt, struct nm_error *err);

#endif /* NM_BUILTIN_H */

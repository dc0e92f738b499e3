/* SPDX-License-Identifier: MIT */
/*
 * nm_builtin.h - daemons that ship with the appliance.
 *
 *   echo     stateless; returns each payload verbatim as one output.
 *   counter  counts events; each output and the snapshot state is the running
 *            count as a little-endian u64; restore accepts exactly 8 bytes.
 *   sink     stateless; consumes events and emits nothing.
 * These are upstream's seed-test fixtures, so their behaviour is pinned.
 *
 *   blob-SIZE  a daemon with SIZE bytes of state (netmesh's own, for migrating
 *            and measuring large states; kind "blob-1MiB", "blob-67108561"):
 *            SIZE is decimal bytes with an optional KiB or MiB suffix,
 *            NM_BLOB_MIN..NM_BLOB_MAX. State: count LE64, digest LE64, then a
 *            body (a fixed byte pattern at spawn). Event k (the k-th since
 *            spawn) XORs a word derived from k and the payload's first 8 bytes
 *            into body word (k * 0x9E3779B1) mod words and answers one 16-byte
 *            output, count LE64 then digest LE64. The digest is a sum over
 *            every body word and its index (nm_blob_digest), kept up to date
 *            per event. Restore accepts exactly SIZE bytes whose digest
 *            matches the body: a lost, shifted or swapped chunk fails it.
 *            Its state lives in one allocation made by the factory (the
 *            control thread); process() touches one word, so the packet path
 *            never allocates. A snapshot copies the state once
 *            (nm_bytes_append), where the host takes snapshots.
 */
#ifndef NM_BUILTIN_H
#define NM_BUILTIN_H

#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_snapshot.h"

struct nm_runtime;

/* Factories (ctx unused). NULL on allocation failure. */
struct nm_daemon *nm_echo_new(void *ctx);
struct nm_daemon *nm_counter_new(void *ctx);
struct nm_daemon *nm_sink_new(void *ctx);

/* The counter's current count (for tests and tools). */
uint64_t nm_counter_value(const struct nm_daemon *d);

/* Register "echo", "counter" and "sink" on a runtime. Stops at the first error. */
int nm_builtin_register_all(struct nm_runtime *rt, struct nm_error *err);

/* blob-SIZE: the smallest state (count and digest) and the largest, which
 * still migrates sealed: a CDS1 snapshot (94 bytes + state + the 209-byte
 * identity envelope) must fit the reassembler's 64 MiB (upstream's cap). */
#define NM_BLOB_HEADER 16
#define NM_BLOB_MIN NM_BLOB_HEADER
#define NM_BLOB_MAX ((64u << 20) - NM_SNAPSHOT_MIN_SIZE - NM_IDENTITY_ENVELOPE_SIZE)

/*
 * Is `kind` a blob kind? 0 and *len = its state size; NM_ENOT_FOUND when it
 * does not start with "blob-" (another kind); -EINVAL with a message for a
 * blob kind whose SIZE is malformed or out of range.
 */
int nm_blob_parse_kind(const char *kind, size_t *len, struct nm_error *err);

/* Register `kind` if it is a blob kind and not registered yet (0 then, and
 * for any other kind); -EINVAL for a bad blob kind, or the runtime's error. */
int nm_builtin_register_kind(struct nm_runtime *rt, const char *kind, struct nm_error *err);

/* The digest of a state's body (everything after the 16-byte header). */
uint64_t nm_blob_digest(const uint8_t *body, size_t len);

/* A blob's event count; 0 for any other daemon. */
uint64_t nm_blob_count(const struct nm_daemon *d);

#endif /* NM_BUILTIN_H */

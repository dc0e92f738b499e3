/* SPDX-License-Identifier: MIT */
/*
 * test_migwire.c - the 0x0500 codec, chunking and reassembler (no EAL).
 *
 * Tests named like upstream's are ports of the Rust unit tests in
 * compute/orchestrator.rs and compute/migration.rs and of the integration
 * tests in tests/migration_integration.rs and
 * tests/migration_target_failure_mid_chunking.rs; upstream's sleeps become
 * explicit `now_ns` values. The rest pin netmesh's own contract: byte
 * vectors written by hand from the layout, every error text, the
 * reassembler's order of checks and caps, the NMX1 trailer and the
 * netmesh-only messages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "nm_error.h"
#include "nm_identity.h"
#include "nm_migwire.h"
#include "nm_snapshot.h"

#define MS (1000000ull)
#define SEC (1000000000ull)

/* ---------------------------------------------------------------- helpers */

/* Hex to bytes; spaces are ignored so vectors can show the field layout. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		unsigned v;
		ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

/* Decode must fail with exactly "state operation failed: <text>". */
static void expect_decode_err(const uint8_t *buf, size_t len, const char *text)
{
	struct nm_mig_msg m;
	struct nm_error err = { 0 };
	char want[NM_ERROR_MSG_MAX];
	snprintf(want, sizeof(want), "state operation failed: %s", text);
	ck_assert_int_eq(nm_mig_decode(buf, len, &m, NULL, &err), NM_EMIG_STATE_FAILED);
	ck_assert_int_eq(err.code, NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg, want);
}

static void expect_decode_err_hex(const char *hex, const char *text)
{
	uint8_t buf[512];
	expect_decode_err(buf, unhex(hex, buf, sizeof(buf)), text);
}

static size_t encode_ok(const struct nm_mig_msg *m, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	struct nm_error err = { 0 };
	int rc = nm_mig_encode(m, buf, cap, &len, &err);
	ck_assert_msg(rc == 0, "encode failed: %d %s", rc, err.msg);
	ck_assert_uint_eq(len, nm_mig_encoded_size(m));
	return len;
}

static void decode_ok(const uint8_t *buf, size_t len, struct nm_mig_msg *m, struct nm_mig_ext *ext)
{
	struct nm_error err = { 0 };
	int rc = nm_mig_decode(buf, len, m, ext, &err);
	ck_assert_msg(rc == 0, "decode failed: %d %s", rc, err.msg);
}

static struct nm_mig_msg snapshot_ready(uint64_t origin, const uint8_t *b, size_t len, uint64_t seq,
					uint32_t idx, uint32_t total)
{
	struct nm_mig_msg m = { .type = NM_MIG_SNAPSHOT_READY, .daemon_origin = origin };
	m.snapshot_ready = (struct nm_mig_snapshot_ready){ seq, idx, total, b, len };
	return m;
}

/* A reassembler feed whose result the test only checks by return code. */
static int feed(struct nm_mig_reasm *r, uint64_t origin, const uint8_t *b, size_t len, uint64_t seq,
		uint32_t idx, uint32_t total, uint64_t now, struct nm_mig_reasm_error *why)
{
	struct nm_mig_assembled out;
	int rc = nm_mig_reasm_feed(r, origin, b, len, seq, idx, total, now, &out, why, NULL);
	nm_mig_assembled_free(&out);
	return rc;
}

static int feed_fill(struct nm_mig_reasm *r, uint64_t origin, uint8_t fill, size_t len,
		     uint64_t seq, uint32_t idx, uint32_t total, uint64_t now,
		     struct nm_mig_reasm_error *why)
{
	uint8_t buf[NM_MIG_MAX_CHUNK + 1];
	ck_assert_uint_le(len, sizeof(buf));
	memset(buf, fill, len);
	return feed(r, origin, buf, len, seq, idx, total, now, why);
}

/* A feed that must be refused with `kind`; returns the error for its fields. */
static struct nm_mig_reasm_error reject(struct nm_mig_reasm *r, uint64_t origin, const uint8_t *b,
					size_t len, uint64_t seq, uint32_t idx, uint32_t total,
					uint64_t now, enum nm_mig_reasm_err kind)
{
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed(r, origin, b, len, seq, idx, total, now, &why), NM_EMIG_REASSEMBLY);
	ck_assert_int_eq(why.kind, kind);
	return why;
}

static struct nm_mig_reasm_error reject_fill(struct nm_mig_reasm *r, uint64_t origin, uint8_t fill,
					     size_t len, uint64_t seq, uint32_t idx, uint32_t total,
					     uint64_t now, enum nm_mig_reasm_err kind)
{
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, origin, fill, len, seq, idx, total, now, &why),
			 NM_EMIG_REASSEMBLY);
	ck_assert_int_eq(why.kind, kind);
	return why;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Feed every chunk of `snap` in the given index order; returns the completion. */
static struct nm_mig_assembled feed_chunks(struct nm_mig_reasm *r, uint64_t origin,
					   const uint8_t *snap, size_t len, uint64_t seq,
					   const uint32_t *order, uint32_t n)
{
	struct nm_mig_assembled done = { 0 };
	for (uint32_t k = 0; k < n; k++) {
		struct nm_mig_msg c;
		ck_assert_int_eq(nm_mig_chunk(origin, snap, len, seq, order[k], &c), 0);
		struct nm_mig_assembled out;
		int rc = nm_mig_reasm_feed_msg(r, &c, 0, &out, NULL, NULL);
		if (k + 1 < n) {
			ck_assert_int_eq(rc, NM_MIG_FEED_PENDING);
		} else {
			ck_assert_int_eq(rc, NM_MIG_FEED_COMPLETE);
			done = out;
		}
	}
	return done;
}

/* ------------------------------------------------ upstream: wire round trips */

START_TEST(test_wire_roundtrip_take_snapshot)
{
	struct nm_mig_msg m = { .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = 0xAAAA };
	m.take_snapshot.target_node = 0x2222;
	uint8_t buf[64];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	ck_assert_uint_eq(d.type, NM_MIG_TAKE_SNAPSHOT);
	ck_assert_uint_eq(d.daemon_origin, 0xAAAA);
	ck_assert_uint_eq(d.take_snapshot.target_node, 0x2222);
}
END_TEST

START_TEST(test_wire_roundtrip_snapshot_ready)
{
	const uint8_t bytes[] = { 1, 2, 3, 4, 5 };
	struct nm_mig_msg m = snapshot_ready(0xBBBB, bytes, 5, 42, 0, 1);
	uint8_t buf[64];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	ck_assert_uint_eq(d.type, NM_MIG_SNAPSHOT_READY);
	ck_assert_uint_eq(d.daemon_origin, 0xBBBB);
	ck_assert_uint_eq(d.snapshot_ready.len, 5);
	ck_assert_mem_eq(d.snapshot_ready.bytes, bytes, 5);
	ck_assert_ptr_eq(d.snapshot_ready.bytes, buf + 29); /* zero copy */
	ck_assert_uint_eq(d.snapshot_ready.seq_through, 42);
	ck_assert_uint_eq(d.snapshot_ready.chunk_index, 0);
	ck_assert_uint_eq(d.snapshot_ready.total_chunks, 1);
}
END_TEST

START_TEST(test_wire_roundtrip_chunked_snapshot)
{
	uint8_t bytes[100];
	memset(bytes, 42, sizeof(bytes));
	struct nm_mig_msg m = snapshot_ready(0xCCCC, bytes, 100, 99, 2, 5);
	uint8_t buf[256];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	ck_assert_uint_eq(d.snapshot_ready.chunk_index, 2);
	ck_assert_uint_eq(d.snapshot_ready.total_chunks, 5);
}
END_TEST

START_TEST(test_wire_roundtrip_failed)
{
	const struct nm_mig_reason reasons[] = {
		{ NM_MIG_FAIL_NOT_READY, NULL, 0, 0 },
		{ NM_MIG_FAIL_FACTORY_NOT_FOUND, NULL, 0, 0 },
		{ NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED, NULL, 0, 0 },
		{ NM_MIG_FAIL_STATE_FAILED, "something broke", 15, 0 },
		{ NM_MIG_FAIL_ALREADY_MIGRATING, NULL, 0, 0 },
		{ NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED, "seal failed", 11, 0 },
		{ NM_MIG_FAIL_NOT_READY_TIMEOUT, NULL, 0, 5 },
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		struct nm_mig_msg m = { .type = NM_MIG_FAILED, .daemon_origin = 0xCCCC };
		m.failed = reasons[i];
		uint8_t buf[64];
		size_t len = encode_ok(&m, buf, sizeof(buf));
		struct nm_mig_msg d;
		decode_ok(buf, len, &d, NULL);
		ck_assert_uint_eq(d.type, NM_MIG_FAILED);
		ck_assert_uint_eq(d.daemon_origin, 0xCCCC);
		ck_assert_uint_eq(d.failed.code, reasons[i].code);
		ck_assert_uint_eq(d.failed.msg_len, reasons[i].msg_len);
		if (reasons[i].msg_len)
			ck_assert_mem_eq(d.failed.msg, reasons[i].msg, reasons[i].msg_len);
		ck_assert_uint_eq(d.failed.attempts, reasons[i].attempts);
	}
}
END_TEST

START_TEST(test_wire_roundtrip_buffered_events)
{
	const struct nm_event evs[2] = {
		{ nm_link_genesis(0xAAAA, 0), (const uint8_t *)"event1", 6, 100 },
		{ { 0xAAAA, 1, 1, 12345 }, (const uint8_t *)"event2", 6, 200 },
	};
	struct nm_mig_msg m = { .type = NM_MIG_BUFFERED_EVENTS, .daemon_origin = 0xAAAA };
	m.buffered.events = evs;
	m.buffered.count = 2;
	uint8_t buf[256];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	ck_assert_uint_eq(d.daemon_origin, 0xAAAA);
	ck_assert_uint_eq(nm_mig_events_count(&d), 2);
	struct nm_mig_events_iter it;
	struct nm_event e[3];
	nm_mig_events_iter_init(&it, &d);
	ck_assert(nm_mig_events_iter_next(&it, &e[0]));
	ck_assert(nm_mig_events_iter_next(&it, &e[1]));
	ck_assert(!nm_mig_events_iter_next(&it, &e[2]));
	ck_assert_uint_eq(e[0].len, 6);
	ck_assert_mem_eq(e[0].payload, "event1", 6);
	ck_assert_uint_eq(e[0].received_at, 100);
	ck_assert_uint_eq(e[1].link.sequence, 1);
	ck_assert_uint_eq(e[1].link.parent_hash, 12345);
	ck_assert_mem_eq(e[1].payload, "event2", 6);
	ck_assert_uint_eq(e[1].received_at, 200);
}
END_TEST

START_TEST(test_wire_encode_rejects_oversized_failure_reason)
{
	static char big[UINT16_MAX + 1];
	memset(big, 'x', sizeof(big));
	struct nm_mig_msg m = { .type = NM_MIG_FAILED, .daemon_origin = 0xDEAD };
	m.failed = (struct nm_mig_reason){ NM_MIG_FAIL_STATE_FAILED, big, sizeof(big), 0 };
	uint8_t buf[128];
	size_t len = 0;
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, &err), NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(
	    err.msg,
	    "state operation failed: failure reason message length 65536 exceeds u16::MAX");
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 0);
	/* 65535 is the largest that fits. */
	m.failed.msg_len = UINT16_MAX;
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 11 + 2 + 65535);
}
END_TEST

START_TEST(test_wire_rejects_unknown_failure_code)
{
	expect_decode_err_hex("06 efbe000000000000 ffff",
			      "unknown MigrationFailureReason code 65535");
}
END_TEST

START_TEST(test_regression_wire_decode_rejects_zero_total_chunks)
{
	expect_decode_err_hex("01 aaaa000000000000 0100000000000000 00000000 00000000 00000000",
			      "SnapshotReady: total_chunks must be >= 1");
}
END_TEST

START_TEST(test_regression_wire_decode_rejects_chunk_index_out_of_range)
{
	expect_decode_err_hex("01 aaaa000000000000 0100000000000000 05000000 03000000 00000000",
			      "SnapshotReady: chunk_index 5 out of range for total_chunks 3");
}
END_TEST

START_TEST(test_regression_wire_decode_rejects_total_chunks_overflow)
{
	expect_decode_err_hex(
	    "01 aaaa000000000000 0100000000000000 00000000 ffffffff 00000000",
	    "SnapshotReady: total_chunks 4294967295 exceeds MAX_TOTAL_CHUNKS (700000)");
}
END_TEST

/* ------------------------------------------------ upstream: chunking */

START_TEST(test_chunk_snapshot_small)
{
	const uint8_t b[] = { 1, 2, 3 };
	uint32_t n = 0;
	ck_assert_int_eq(nm_mig_chunk_count(3, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	struct nm_mig_msg c;
	ck_assert_int_eq(nm_mig_chunk(0xAAAA, b, 3, 10, 0, &c), 0);
	ck_assert_uint_eq(c.snapshot_ready.chunk_index, 0);
	ck_assert_uint_eq(c.snapshot_ready.total_chunks, 1);
	ck_assert_uint_eq(c.snapshot_ready.len, 3);
	ck_assert_ptr_eq(c.snapshot_ready.bytes, b);
	ck_assert_int_eq(nm_mig_chunk(0xAAAA, b, 3, 10, 1, &c), -EINVAL);
}
END_TEST

START_TEST(test_chunk_snapshot_large)
{
	size_t total_len = NM_MIG_MAX_CHUNK * 3 + 100;
	uint8_t *big = malloc(total_len);
	ck_assert_ptr_nonnull(big);
	memset(big, 0xAB, total_len);
	uint32_t n = 0;
	ck_assert_int_eq(nm_mig_chunk_count(total_len, &n, NULL), 0);
	ck_assert_uint_eq(n, 4);
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	for (uint32_t i = 0; i < n; i++) {
		struct nm_mig_msg c;
		ck_assert_int_eq(nm_mig_chunk(0xBBBB, big, total_len, 42, i, &c), 0);
		ck_assert_uint_eq(c.type, NM_MIG_SNAPSHOT_READY);
		ck_assert_uint_eq(c.snapshot_ready.chunk_index, i);
		ck_assert_uint_eq(c.snapshot_ready.total_chunks, 4);
		ck_assert_uint_eq(c.daemon_origin, 0xBBBB);
		ck_assert_uint_eq(c.snapshot_ready.seq_through, 42);
		struct nm_mig_assembled out;
		int rc = nm_mig_reasm_feed_msg(r, &c, 0, &out, NULL, NULL);
		if (i < n - 1) {
			ck_assert_int_eq(rc, NM_MIG_FEED_PENDING);
		} else {
			ck_assert_int_eq(rc, NM_MIG_FEED_COMPLETE);
			ck_assert_uint_eq(out.len, total_len);
			ck_assert(all_bytes(out.bytes, out.len, 0xAB));
			nm_mig_assembled_free(&out);
		}
	}
	nm_mig_reasm_free(r);
	free(big);
}
END_TEST

START_TEST(test_regression_chunk_count_boundary)
{
	static uint8_t zeros[NM_MIG_MAX_CHUNK * 100];
	uint32_t n = 0;
	ck_assert_int_eq(nm_mig_chunk_count(NM_MIG_MAX_CHUNK, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(nm_mig_chunk_count(NM_MIG_MAX_CHUNK + 1, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(nm_mig_chunk_count(sizeof(zeros), &n, NULL), 0);
	ck_assert_uint_eq(n, 100);
	for (uint32_t i = 0; i < 100; i++) {
		struct nm_mig_msg c;
		ck_assert_int_eq(nm_mig_chunk(0xAAAA, zeros, sizeof(zeros), 1, i, &c), 0);
		ck_assert_uint_eq(c.snapshot_ready.chunk_index, i);
		ck_assert_uint_eq(c.snapshot_ready.total_chunks, 100);
		ck_assert_uint_eq(c.snapshot_ready.len, NM_MIG_MAX_CHUNK);
		ck_assert_ptr_eq(c.snapshot_ready.bytes, zeros + (size_t)i * NM_MIG_MAX_CHUNK);
	}
	/* 7001 bytes: 7000 then 1. */
	struct nm_mig_msg c;
	ck_assert_int_eq(nm_mig_chunk(0xAAAA, zeros, NM_MIG_MAX_CHUNK + 1, 1, 1, &c), 0);
	ck_assert_uint_eq(c.snapshot_ready.len, 1);
}
END_TEST

START_TEST(test_gap_chunk_empty_snapshot)
{
	uint32_t n = 0;
	ck_assert_int_eq(nm_mig_chunk_count(0, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	struct nm_mig_msg c;
	ck_assert_int_eq(nm_mig_chunk(0xAAAA, NULL, 0, 0, 0, &c), 0);
	ck_assert_uint_eq(c.snapshot_ready.len, 0);
	ck_assert_uint_eq(c.snapshot_ready.chunk_index, 0);
	ck_assert_uint_eq(c.snapshot_ready.total_chunks, 1);
	/* The empty chunk encodes and decodes (the reassembler refuses it). */
	uint8_t buf[64];
	size_t len = encode_ok(&c, buf, sizeof(buf));
	ck_assert_uint_eq(len, 29);
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	ck_assert_uint_eq(d.snapshot_ready.len, 0);
}
END_TEST

START_TEST(chunk_count_too_large)
{
	uint32_t n = 7;
	struct nm_error err = { 0 };
	size_t max = (size_t)NM_MIG_MAX_SNAPSHOT_SIZE;
	ck_assert_int_eq(nm_mig_chunk_count(max, &n, &err), 0);
	ck_assert_uint_eq(n, UINT32_MAX);
	ck_assert_int_eq(nm_mig_chunk_count(max + 1, &n, &err), NM_EMIG_SNAPSHOT_TOO_LARGE);
	ck_assert_str_eq(
	    err.msg, "snapshot too large: 30064771065001 bytes exceeds max 30064771065000 bytes");
	struct nm_mig_msg c;
	ck_assert_int_eq(nm_mig_chunk(1, (const uint8_t *)"x", max + 1, 0, 0, &c), -EINVAL);
	ck_assert_int_eq(nm_mig_chunk(1, NULL, 5, 0, 0, &c), -EINVAL);
}
END_TEST

/* ------------------------------------------------ upstream: reassembler */

START_TEST(test_reassembler_cancel)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed(r, 0xAAAA, (const uint8_t *)"\1\2", 2, 10, 0, 3, 0, NULL),
			 NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_cancel(r, 0xAAAA);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_rejects_chunk_index_out_of_range)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	why = reject_fill(r, 0xAAAA, 2, 10, 1, 5, 3, 0, NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE);
	ck_assert_uint_eq(why.a, 5);
	ck_assert_uint_eq(why.b, 3);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_rejects_zero_total_chunks)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	reject_fill(r, 0xAAAA, 1, 10, 1, 0, 0, 0, NM_MIG_REASM_ZERO_TOTAL_CHUNKS);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_caps_total_chunks)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	why =
	    reject_fill(r, 0xAAAA, 1, 10, 1, 0, UINT32_MAX, 0, NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE);
	ck_assert_uint_eq(why.a, UINT32_MAX);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	/* The cap itself is accepted. */
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 0, NM_MIG_MAX_TOTAL_CHUNKS, 0, NULL),
			 NM_MIG_FEED_PENDING);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_rejects_oversized_chunk)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	why = reject_fill(r, 0xAAAA, 0, NM_MIG_MAX_CHUNK + 1, 1, 0, 3, 0,
			  NM_MIG_REASM_CHUNK_TOO_LARGE);
	ck_assert_uint_eq(why.a, NM_MIG_MAX_CHUNK + 1);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_rejects_total_chunks_mismatch)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	why = reject_fill(r, 0xAAAA, 2, 10, 1, 1, 100, 0, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH);
	ck_assert_uint_eq(why.a, 100);
	ck_assert_uint_eq(why.b, 3);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_refuses_zero_byte_chunk)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	why = reject(r, 0xAAAA, NULL, 0, 1, 0, 3, 0, NM_MIG_REASM_CHUNK_TOO_LARGE);
	ck_assert_uint_eq(why.a, 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	/* Also on the single-chunk path (an empty snapshot never reassembles). */
	why = reject(r, 0xAAAA, NULL, 0, 1, 0, 1, 0, NM_MIG_REASM_CHUNK_TOO_LARGE);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(fast_path_rejects_single_chunk_after_multi_chunk_state)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 7, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	why = reject_fill(r, 0xAAAA, 2, 10, 7, 0, 1, 0, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH);
	ck_assert_uint_eq(why.a, 1);
	ck_assert_uint_eq(why.b, 3);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_evicts_older_seq_per_daemon)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	for (uint64_t seq = 10; seq <= 12; seq++)
		ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, seq, 0, 3, 0, NULL),
				 NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xAAAA), 10);
	why = reject_fill(r, 0xAAAA, 1, 10, 5, 0, 3, 0, NM_MIG_REASM_STALE_SEQ_THROUGH);
	ck_assert_uint_eq(why.a, 5);
	ck_assert_uint_eq(why.b, 12);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_free(r);
}
END_TEST

/* Fill one entry to just under 64 MiB with 7000-byte chunks. */
static uint32_t fill_to_cap(struct nm_mig_reasm *r, uint32_t *total)
{
	uint32_t n = NM_MIG_MAX_PENDING_BYTES / NM_MIG_MAX_CHUNK;
	*total = n + 2;
	for (uint32_t i = 0; i < n; i++)
		ck_assert_int_eq(
		    feed_fill(r, 0xAAAA, 0xCC, NM_MIG_MAX_CHUNK, 1, i, *total, 0, NULL),
		    NM_MIG_FEED_PENDING);
	return n;
}

START_TEST(reassembler_refuses_chunk_that_overflows_pending_byte_cap)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	uint32_t total;
	uint32_t n = fill_to_cap(r, &total);
	size_t buffered = (size_t)n * NM_MIG_MAX_CHUNK;
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xAAAA), buffered);
	struct nm_mig_reasm_error why;
	why = reject_fill(r, 0xAAAA, 0xCC, NM_MIG_MAX_CHUNK, 1, n, total, 0,
			  NM_MIG_REASM_TOO_MANY_PENDING_BYTES);
	ck_assert_uint_eq(why.a, buffered);
	ck_assert_uint_eq(why.b, NM_MIG_MAX_CHUNK);
	ck_assert_uint_eq(why.c, NM_MIG_MAX_PENDING_BYTES);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xAAAA), buffered);
	/* Re-sending a buffered index is accepted (the displaced length is subtracted). */
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 0xCC, NM_MIG_MAX_CHUNK, 1, 0, total, 0, NULL),
			 NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xAAAA), buffered);
	/* A smaller chunk that still fits under the cap is accepted. */
	size_t room = NM_MIG_MAX_PENDING_BYTES - buffered;
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 0xCC, room, 1, n, total, 0, NULL),
			 NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xAAAA), NM_MIG_MAX_PENDING_BYTES);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_sweep_stale_drops_quiet_entries)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_uint_eq(nm_mig_reasm_sweep(r, 20 * MS, 10 * MS), 1);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_sweep_keeps_progressing_entries)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 1, 1, 3, 20 * MS, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_sweep(r, 20 * MS, 15 * MS), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_opportunistic_sweep_in_feed_drops_quiet_entries)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 10 * MS);
	ck_assert_int_eq(feed_fill(r, 0xBAD, 0xFF, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_int_eq(feed_fill(r, 0xC0DE, 1, 10, 5, 0, 3, 25 * MS, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xBAD), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xC0DE), 10);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_sweep_stale_preserves_latest_seq)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, 0xAAAA, 1, 10, 100, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_sweep(r, 20 * MS, 10 * MS), 1);
	why = reject_fill(r, 0xAAAA, 1, 10, 50, 0, 3, 20 * MS, NM_MIG_REASM_STALE_SEQ_THROUGH);
	ck_assert_uint_eq(why.a, 50);
	ck_assert_uint_eq(why.b, 100);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reassembler_sweep_releases_buffer_parked_at_byte_cap)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	uint32_t total;
	fill_to_cap(r, &total);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_uint_eq(nm_mig_reasm_sweep(r, 20 * MS, 10 * MS), 1);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_distinct_daemons_coexist)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0x1111, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0x2222, 2, 10, 7, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0x3333, 3, 10, 9, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 3);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 30);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(test_regression_reassembler_end_to_end_forged_chunk_cannot_complete)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xDEAD, 0xA0, 10, 1, 0, 4, 0, NULL), NM_MIG_FEED_PENDING);
	const uint32_t bad[] = { 4, 5, 7, 999 };
	for (size_t i = 0; i < 4; i++) {
		reject_fill(r, 0xDEAD, 0xFF, 10, 1, bad[i], 4, 0,
			    NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE);
	}
	ck_assert_int_eq(feed_fill(r, 0xDEAD, 0xA1, 10, 1, 1, 4, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xDEAD, 0xA2, 10, 1, 2, 4, 0, NULL), NM_MIG_FEED_PENDING);
	uint8_t last[10];
	memset(last, 0xA3, sizeof(last));
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 0xDEAD, last, 10, 1, 3, 4, 0, &out, NULL, NULL),
			 NM_MIG_FEED_COMPLETE);
	ck_assert_uint_eq(out.len, 40);
	ck_assert(all_bytes(out.bytes, 10, 0xA0));
	ck_assert(all_bytes(out.bytes + 10, 10, 0xA1));
	ck_assert(all_bytes(out.bytes + 20, 10, 0xA2));
	ck_assert(all_bytes(out.bytes + 30, 10, 0xA3));
	ck_assert_ptr_nonnull(out.owned);
	nm_mig_assembled_free(&out);
	nm_mig_reasm_free(r);
}
END_TEST

/* ------------------------------------------------ upstream: integration tests */

START_TEST(test_reassembler_out_of_order_chunks)
{
	size_t total_len = NM_MIG_MAX_CHUNK * 3 + 500;
	uint8_t *data = malloc(total_len);
	ck_assert_ptr_nonnull(data);
	memset(data, 0xAB, total_len);
	uint32_t n;
	ck_assert_int_eq(nm_mig_chunk_count(total_len, &n, NULL), 0);
	ck_assert_uint_eq(n, 4);
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	const uint32_t order[] = { 3, 1, 0, 2 };
	struct nm_mig_assembled out = feed_chunks(r, 0xAAAA, data, total_len, 99, order, 4);
	ck_assert_uint_eq(out.len, total_len);
	ck_assert(all_bytes(out.bytes, out.len, 0xAB));
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_assembled_free(&out);
	nm_mig_reasm_free(r);
	free(data);
}
END_TEST

START_TEST(test_reassembler_duplicate_chunks_handled)
{
	size_t total_len = NM_MIG_MAX_CHUNK * 2 + 100;
	uint8_t *data = malloc(total_len);
	ck_assert_ptr_nonnull(data);
	memset(data, 0xCD, total_len);
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	const uint32_t order[] = { 0, 0, 1, 2 };
	struct nm_mig_assembled out = feed_chunks(r, 0xBBBB, data, total_len, 50, order, 4);
	ck_assert_uint_eq(out.len, total_len);
	ck_assert(all_bytes(out.bytes, out.len, 0xCD));
	nm_mig_assembled_free(&out);
	nm_mig_reasm_free(r);
	free(data);
}
END_TEST

START_TEST(test_regression_reassembler_rejects_mixed_seq_through)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed(r, 0xAAAA, (const uint8_t *)"\1\2\3", 3, 100, 0, 2, 0, NULL),
			 NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed(r, 0xAAAA, (const uint8_t *)"\4\5\6", 3, 200, 0, 2, 0, NULL),
			 NM_MIG_FEED_PENDING);
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 0xAAAA, (const uint8_t *)"\7\10\11", 3, 200, 1, 2, 0,
					   &out, NULL, NULL),
			 NM_MIG_FEED_COMPLETE);
	const uint8_t want[] = { 4, 5, 6, 7, 8, 9 };
	ck_assert_uint_eq(out.len, 6);
	ck_assert_mem_eq(out.bytes, want, 6);
	nm_mig_assembled_free(&out);
	nm_mig_reasm_cancel(r, 0xAAAA);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

/* One sample of every upstream message type (two SnapshotReady). */
static size_t upstream_samples(struct nm_mig_msg *m, const struct nm_event *evs)
{
	size_t n = 0;
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = 0x1111 };
	m[n++].take_snapshot.target_node = 0x2222;
	m[n++] = snapshot_ready(0x3333, (const uint8_t *)"\1\2\3\4\5", 5, 42, 0, 1);
	m[n++] = snapshot_ready(0x3333, (const uint8_t *)"\6\7\10", 3, 42, 2, 5);
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_RESTORE_COMPLETE, .daemon_origin = 0x4444 };
	m[n++].restore_complete.restored_seq = 100;
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_REPLAY_COMPLETE, .daemon_origin = 0x5555 };
	m[n].replay_complete.replayed_seq = 200;
	m[n++].replay_complete.target_head = (struct nm_causal_link){ 0x5555, 0, 200, 0xDEADBEEF };
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_CUTOVER_NOTIFY, .daemon_origin = 0x6666 };
	m[n++].cutover_notify.target_node = 0x7777;
	m[n++] = (struct nm_mig_msg){ .type = NM_MIG_CLEANUP_COMPLETE, .daemon_origin = 0x8888 };
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_FAILED, .daemon_origin = 0x9999 };
	m[n++].failed = (struct nm_mig_reason){ NM_MIG_FAIL_STATE_FAILED, "test failure", 12, 0 };
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_BUFFERED_EVENTS, .daemon_origin = 0xAAAA };
	m[n].buffered.events = evs;
	m[n++].buffered.count = 2;
	m[n++] = (struct nm_mig_msg){ .type = NM_MIG_ACTIVATE_TARGET, .daemon_origin = 0xBBBB };
	m[n] = (struct nm_mig_msg){ .type = NM_MIG_ACTIVATE_ACK, .daemon_origin = 0xBBBB };
	m[n++].activate_ack.replayed_seq = 7;
	return n;
}

static const struct nm_event sample_events[2] = {
	{ { 0xBBBB, 0, 1, 0 }, (const uint8_t *)"event-1", 7, 1 },
	{ { 0xBBBB, 0, 2, 0 }, (const uint8_t *)"event-2", 7, 2 },
};

START_TEST(test_wire_roundtrip_all_message_types)
{
	struct nm_mig_msg m[16];
	size_t n = upstream_samples(m, sample_events);
	ck_assert_uint_eq(n, 11);
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[256], again[256];
		size_t len = encode_ok(&m[i], buf, sizeof(buf));
		struct nm_mig_msg d;
		decode_ok(buf, len, &d, NULL);
		ck_assert_uint_eq(d.type, m[i].type);
		ck_assert_uint_eq(d.daemon_origin, m[i].daemon_origin);
		ck_assert_uint_eq(d.body_len, len);
		/* The decoded view re-encodes to the same bytes, except
		 * BufferedEvents, whose decoded form is an iterator. */
		if (d.type != NM_MIG_BUFFERED_EVENTS) {
			ck_assert_uint_eq(encode_ok(&d, again, sizeof(again)), len);
			ck_assert_mem_eq(again, buf, len);
		}
	}
}
END_TEST

START_TEST(test_gap_wire_decode_truncated_messages)
{
	for (uint8_t t = 0; t <= 9; t++) {
		struct nm_mig_msg m;
		ck_assert_int_eq(nm_mig_decode(&t, 1, &m, NULL, NULL), NM_EMIG_STATE_FAILED);
	}
	struct nm_mig_msg m;
	ck_assert_int_eq(nm_mig_decode(NULL, 0, &m, NULL, NULL), NM_EMIG_STATE_FAILED);
	const uint8_t ff = 255;
	ck_assert_int_eq(nm_mig_decode(&ff, 1, &m, NULL, NULL), NM_EMIG_STATE_FAILED);
}
END_TEST

START_TEST(test_regression_buffered_events_rejects_unbounded_count)
{
	expect_decode_err_hex("07 bbbbaaaa00000000 ffffffff",
			      "BufferedEvents: count 4294967295 exceeds bound (remaining=0, "
			      "min_event_size=44, max_possible=0, hard_cap=1000000)");
	size_t len = 13 + (size_t)2000000 * 36;
	uint8_t *bad = calloc(1, len);
	ck_assert_ptr_nonnull(bad);
	bad[0] = 7;
	const uint32_t count = 2000000;
	memcpy(bad + 9, &count, 4); /* LE host (x86-64) */
	struct nm_mig_msg m;
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_decode(bad, len, &m, NULL, &err), NM_EMIG_STATE_FAILED);
	ck_assert_ptr_nonnull(strstr(err.msg, "exceeds bound"));
	free(bad);
	uint8_t good[32];
	size_t gl = unhex("07 3412000000000000 00000000", good, sizeof(good));
	ck_assert_int_eq(nm_mig_decode(good, gl, &m, NULL, NULL), 0);
	ck_assert_uint_eq(nm_mig_events_count(&m), 0);
}
END_TEST

/* The reassembler half of migration_target_failure_mid_chunking.rs; the
 * orchestrator half (abort, retarget) is the engine's. */
START_TEST(target_failure_mid_chunking_releases_orchestrator_and_allows_retarget)
{
	size_t size = NM_MIG_MAX_CHUNK * 3 + 4096;
	uint8_t *snap = malloc(size);
	ck_assert_ptr_nonnull(snap);
	for (size_t i = 0; i < size; i++)
		snap[i] = (uint8_t)(i * 7);
	uint64_t origin = 0x7777, seq = 9;
	uint32_t n;
	ck_assert_int_eq(nm_mig_chunk_count(size, &n, NULL), 0);
	ck_assert_uint_ge(n, 4);
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	uint32_t half = n / 2;
	for (uint32_t i = 0; i < half; i++) {
		struct nm_mig_msg c;
		ck_assert_int_eq(nm_mig_chunk(origin, snap, size, seq, i, &c), 0);
		struct nm_mig_assembled out;
		ck_assert_int_eq(nm_mig_reasm_feed_msg(r, &c, 0, &out, NULL, NULL),
				 NM_MIG_FEED_PENDING);
	}
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_cancel(r, origin);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	struct nm_mig_reasm_error why;
	why = reject(r, origin, snap, NM_MIG_MAX_CHUNK, seq - 1, 0, n, 0,
		     NM_MIG_REASM_STALE_SEQ_THROUGH);
	ck_assert_uint_eq(why.a, seq - 1);
	ck_assert_uint_eq(why.b, seq);
	/* A straggler for the same key opens a fresh partial reassembly. */
	struct nm_mig_msg c;
	ck_assert_int_eq(nm_mig_chunk(origin, snap, size, seq, half, &c), 0);
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed_msg(r, &c, 0, &out, NULL, NULL), NM_MIG_FEED_PENDING);
	nm_mig_reasm_cancel(r, origin);
	/* A second reassembler completes the whole snapshot. */
	struct nm_mig_reasm *r2 = nm_mig_reasm_create(0, 0);
	uint32_t order[8];
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	out = feed_chunks(r2, origin, snap, size, seq, order, n);
	ck_assert_uint_eq(out.len, size);
	ck_assert_mem_eq(out.bytes, snap, size);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r2), 0);
	nm_mig_assembled_free(&out);
	nm_mig_reasm_free(r2);
	nm_mig_reasm_free(r);
	free(snap);
}
END_TEST

START_TEST(reassembler_cancel_is_idempotent_across_repeated_target_failures)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	uint64_t origin = 0xCAFEBABE, seq = 999;
	ck_assert_int_eq(feed_fill(r, origin, 0, 16, seq, 0, 4, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	nm_mig_reasm_cancel(r, origin);
	nm_mig_reasm_cancel(r, origin);
	nm_mig_reasm_cancel(r, origin);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	struct nm_mig_reasm_error why;
	why = reject_fill(r, origin, 0, 16, seq - 1, 0, 4, 0, NM_MIG_REASM_STALE_SEQ_THROUGH);
	ck_assert_uint_eq(why.a, seq - 1);
	ck_assert_uint_eq(why.b, seq);
	ck_assert_int_eq(feed_fill(r, origin, 0, 16, seq + 1, 0, 1, 0, NULL), NM_MIG_FEED_COMPLETE);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_reasm_free(r);
}
END_TEST

/* ------------------------------------------------ upstream: chunk-0 header */

static size_t synth_chunk_header(uint8_t *buf, const char *magic, uint8_t version,
				 const uint8_t *entity)
{
	memcpy(buf, magic, 4);
	buf[4] = version;
	memcpy(buf + 5, entity, 32);
	memset(buf + 37, 0, 27);
	return 64;
}

static void keypair(uint8_t i, struct nm_identity *id)
{
	uint8_t seed[NM_SEED_LEN] = { i, 0x5a };
	ck_assert_int_eq(nm_identity_from_seed(id, seed), 0);
}

START_TEST(validate_chunk_header_accepts_well_formed_chunk_0)
{
	struct nm_identity kp;
	keypair(1, &kp);
	uint8_t buf[64];
	size_t n = synth_chunk_header(buf, NM_SNAPSHOT_MAGIC, NM_SNAPSHOT_VERSION,
				      nm_identity_entity_id(&kp));
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, buf, n, kp.origin_hash, NULL), 0);
	/* Exactly 37 bytes is enough. */
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, buf, 37, kp.origin_hash, NULL), 0);
}
END_TEST

START_TEST(validate_chunk_header_rejects_wrong_magic)
{
	struct nm_identity kp;
	keypair(1, &kp);
	uint8_t buf[64];
	size_t n = synth_chunk_header(buf, "XXXX", NM_SNAPSHOT_VERSION, nm_identity_entity_id(&kp));
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, buf, n, kp.origin_hash, &err),
			 NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg, "state operation failed: SnapshotReady chunk 0 has wrong magic "
				  "bytes: [88, 88, 88, 88]");
}
END_TEST

START_TEST(validate_chunk_header_rejects_wrong_version)
{
	struct nm_identity kp;
	keypair(1, &kp);
	uint8_t buf[64];
	size_t n = synth_chunk_header(buf, NM_SNAPSHOT_MAGIC, 0xFE, nm_identity_entity_id(&kp));
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, buf, n, kp.origin_hash, &err),
			 NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg, "state operation failed: SnapshotReady chunk 0 carries snapshot "
				  "version 254 (expected 2)");
}
END_TEST

START_TEST(validate_chunk_header_rejects_wrong_origin_claim)
{
	struct nm_identity a, b;
	keypair(1, &a);
	keypair(2, &b);
	uint8_t buf[64];
	size_t n = synth_chunk_header(buf, NM_SNAPSHOT_MAGIC, NM_SNAPSHOT_VERSION,
				      nm_identity_entity_id(&a));
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, buf, n, b.origin_hash, &err),
			 NM_EMIG_STATE_FAILED);
	char want[NM_ERROR_MSG_MAX];
	snprintf(want, sizeof(want),
		 "state operation failed: SnapshotReady chunk 0 entity_id origin 0x%" PRIx64
		 " does not match daemon_origin 0x%" PRIx64,
		 a.origin_hash, b.origin_hash);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(validate_chunk_header_rejects_too_short_chunk_0)
{
	const uint8_t bytes[12] = { 0 };
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, bytes, 12, 0xDEADBEEF, &err),
			 NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg, "state operation failed: SnapshotReady chunk 0 is 12 bytes "
				  "\xe2\x80\x94 too short for snapshot envelope (need >= 37)");
	ck_assert_int_eq(nm_mig_validate_chunk_header(0, bytes, 36, 0xDEADBEEF, NULL),
			 NM_EMIG_STATE_FAILED);
}
END_TEST

START_TEST(validate_chunk_header_passes_non_chunk_0_unchecked)
{
	const uint8_t bytes[8] = { 0 };
	const uint32_t idx[] = { 1, 2, 47, UINT32_MAX };
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(nm_mig_validate_chunk_header(idx[i], bytes, 8, 0xDEADBEEF, NULL),
				 0);
}
END_TEST

/* ------------------------------------------------ upstream: migration.rs */

START_TEST(test_wrong_phase_error)
{
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_err_wrong_phase(&err, NM_MIG_PHASE_RESTORE, NM_MIG_PHASE_SNAPSHOT),
			 NM_EMIG_WRONG_PHASE);
	ck_assert_int_eq(err.code, NM_EMIG_WRONG_PHASE);
	ck_assert_str_eq(err.msg, "wrong migration phase: expected Restore, got Snapshot");
}
END_TEST

START_TEST(migration_failure_reason_is_retriable_only_for_not_ready)
{
	for (uint16_t c = 0; c <= 6; c++) {
		struct nm_mig_reason r = { c, "x", 1, 5 };
		ck_assert(nm_mig_reason_is_retriable(&r) == (c == NM_MIG_FAIL_NOT_READY));
	}
}
END_TEST

START_TEST(migration_failure_reason_code_is_stable_and_unique)
{
	/* The enum values are the wire codes; pin them and their names. */
	ck_assert_int_eq(NM_MIG_FAIL_NOT_READY, 0);
	ck_assert_int_eq(NM_MIG_FAIL_FACTORY_NOT_FOUND, 1);
	ck_assert_int_eq(NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED, 2);
	ck_assert_int_eq(NM_MIG_FAIL_STATE_FAILED, 3);
	ck_assert_int_eq(NM_MIG_FAIL_ALREADY_MIGRATING, 4);
	ck_assert_int_eq(NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED, 5);
	ck_assert_int_eq(NM_MIG_FAIL_NOT_READY_TIMEOUT, 6);
	const char *names[] = { "NotReady",       "FactoryNotFound",  "ComputeNotSupported",
				"StateFailed",    "AlreadyMigrating", "IdentityTransportFailed",
				"NotReadyTimeout" };
	for (uint16_t c = 0; c <= 6; c++)
		ck_assert_str_eq(nm_mig_reason_name(c), names[c]);
	ck_assert_ptr_null(nm_mig_reason_name(7));
}
END_TEST

START_TEST(migration_failure_reason_display_covers_every_variant)
{
	const struct {
		struct nm_mig_reason r;
		const char *want;
	} cases[] = {
		{ { 0, NULL, 0, 0 }, "target runtime not ready yet" },
		{ { 1, NULL, 0, 0 }, "no factory registered on target for this daemon" },
		{ { 2, NULL, 0, 0 }, "target does not run a compute runtime" },
		{ { 3, "boom", 4, 0 }, "state failed: boom" },
		{ { 4, NULL, 0, 0 }, "daemon is already migrating" },
		{ { 5, "seal failed", 11, 0 }, "identity envelope transport failed: seal failed" },
		{ { 6, NULL, 0, 7 }, "source gave up after 7 NotReady retries" },
		{ { 9, NULL, 0, 0 }, "unknown failure code 9" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		int n = nm_mig_reason_display(&cases[i].r, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].want);
		ck_assert_int_eq(n, (int)strlen(cases[i].want));
	}
	/* The message is length-delimited, not NUL-terminated. */
	struct nm_mig_reason r = { 3, "boomXXX", 4, 0 };
	char buf[64];
	nm_mig_reason_display(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "state failed: boom");
}
END_TEST

/* ------------------------------------------------ netmesh: MigrationError texts */

START_TEST(migration_error_display_texts)
{
	struct nm_error err = { 0 };
	ck_assert_int_eq(nm_mig_err_daemon_not_found(&err, 0xDEADBEEF), NM_EMIG_DAEMON_NOT_FOUND);
	ck_assert_str_eq(err.msg, "daemon 0xdeadbeef not found");
	ck_assert_uint_eq(err.origin, 0xDEADBEEF);
	nm_mig_err_daemon_not_found(&err, 0);
	ck_assert_str_eq(err.msg, "daemon 0x0 not found");
	ck_assert_int_eq(nm_mig_err_target_unavailable(&err, 0x2222), NM_EMIG_TARGET_UNAVAILABLE);
	ck_assert_str_eq(err.msg, "target node 0x2222 unavailable");
	ck_assert_int_eq(nm_mig_err_no_target(&err), NM_EMIG_NO_TARGET);
	ck_assert_str_eq(err.msg,
			 "no candidate node satisfies the daemon's capability requirements");
	ck_assert_int_eq(nm_mig_err_state_failed(&err, "parse snapshot: %s", "bad"),
			 NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg, "state operation failed: parse snapshot: bad");
	ck_assert_int_eq(nm_mig_err_already_migrating(&err, 0xAB), NM_EMIG_ALREADY_MIGRATING);
	ck_assert_str_eq(err.msg, "daemon 0xab already migrating");
	ck_assert_int_eq(nm_mig_err_snapshot_too_large(&err, 10, 5), NM_EMIG_SNAPSHOT_TOO_LARGE);
	ck_assert_str_eq(err.msg, "snapshot too large: 10 bytes exceeds max 5 bytes");
	ck_assert_int_eq(nm_mig_err_buffer_full(&err, 3, 4096), NM_EMIG_BUFFER_FULL);
	ck_assert_str_eq(err.msg, "migration buffer full: 3 events / 4096 bytes");
	ck_assert_int_eq(nm_mig_err_wrong_peer(&err, 0xAAAA, 0x9999, 0x1111), NM_EMIG_WRONG_PEER);
	ck_assert_str_eq(err.msg,
			 "migration 0xaaaa: peer 0x9999 not the recorded principal 0x1111");
	ck_assert_uint_eq(err.origin, 0xAAAA);
	nm_mig_err_wrong_phase(&err, NM_MIG_PHASE_CUTOVER, NM_MIG_PHASE_COMPLETE);
	ck_assert_str_eq(err.msg, "wrong migration phase: expected Cutover, got Complete");
	nm_mig_err_wrong_phase(&err, NM_MIG_PHASE_TRANSFER, NM_MIG_PHASE_REPLAY);
	ck_assert_str_eq(err.msg, "wrong migration phase: expected Transfer, got Replay");
	/* NULL err is accepted everywhere. */
	ck_assert_int_eq(nm_mig_err_no_target(NULL), NM_EMIG_NO_TARGET);
	ck_assert_int_eq(nm_mig_err_state_failed(NULL, "x"), NM_EMIG_STATE_FAILED);
	ck_assert_int_eq(nm_mig_err_wrong_peer(NULL, 1, 2, 3), NM_EMIG_WRONG_PEER);
	/* Names and the family test. */
	ck_assert_str_eq(nm_strerror(NM_EMIG_WRONG_PEER), "WrongPeer");
	ck_assert_str_eq(nm_strerror(NM_EMIG_STATE_FAILED), "StateFailed");
	ck_assert_str_eq(nm_strerror(NM_EMIG_REASSEMBLY), "Reassembly");
	ck_assert(nm_error_is_migration(NM_EMIG_DAEMON_NOT_FOUND));
	ck_assert(nm_error_is_migration(NM_EMIG_REASSEMBLY));
	ck_assert(!nm_error_is_migration(NM_EMALFORMED));
	ck_assert(!nm_error_is_migration(-EINVAL));
	ck_assert(!nm_error_is_core(NM_EMIG_STATE_FAILED));
}
END_TEST

/* ------------------------------------------------ netmesh: hand-written vectors */

/*
 * Each vector is written from the layout table in docs/migration.md, field
 * by field (spaces separate fields), not produced by the encoder. The checked
 * fields are the values the vector was written from.
 */
static const char *const VEC_TAKE_SNAPSHOT = "00 0807060504030201 1817161514131211";
static const char *const VEC_SNAPSHOT_READY =
    "01 0807060504030201 2a00000000000000 02000000 05000000 03000000 deadbe";
static const char *const VEC_RESTORE_COMPLETE = "02 a100000000000000 0001000000000000";
static const char *const VEC_REPLAY_COMPLETE =
    "03 5555000000000000 c800000000000000"
    " 5555000000000000 0f00000000000000 c800000000000000 efbeadde00000000";
static const char *const VEC_CUTOVER_NOTIFY = "04 6666000000000000 7777000000000000";
static const char *const VEC_CLEANUP_COMPLETE = "05 8888000000000000";
static const char *const VEC_FAILED_STATE = "06 9999000000000000 0300 0400 626f6f6d";
static const char *const VEC_FAILED_IDENTITY = "06 9999000000000000 0500 0400 7365616c";
static const char *const VEC_FAILED_TIMEOUT = "06 9999000000000000 0600 07";
static const char *const VEC_FAILED_NOT_READY = "06 9999000000000000 0000";
static const char *const VEC_FAILED_FACTORY = "06 9999000000000000 0100";
static const char *const VEC_FAILED_COMPUTE = "06 9999000000000000 0200";
static const char *const VEC_FAILED_ALREADY = "06 9999000000000000 0400";
static const char *const VEC_BUFFERED_EVENTS =
    "07 aaaa000000000000 02000000"
    " bbbb000000000000 0000000000000000 0100000000000000 3412000000000000 02000000 6162"
    " 6400000000000000"
    " bbbb000000000000 0100000000000000 0200000000000000 7856000000000000 00000000"
    " 0201000000000000";
static const char *const VEC_ACTIVATE_TARGET = "08 cccc000000000000";
static const char *const VEC_ACTIVATE_ACK = "09 cccc000000000000 4d00000000000000";
static const char *const VEC_MOVED = "80 cccc000000000000 2222000000000000";
static const char *const VEC_QUERY = "81 cccc000000000000 0201000000000000";
static const char *const VEC_STATUS =
    "82 cccc000000000000 0201000000000000 03 02 0900000000000000 2222000000000000";
static const char *const VEC_PREPARE = "83 cccc000000000000 2222000000000000";
static const char *const VEC_PREPARED = "84 cccc000000000000 0807060504030201";

static const struct nm_event vec_events[2] = {
	{ { 0xBBBB, 0, 1, 0x1234 }, (const uint8_t *)"ab", 2, 100 },
	{ { 0xBBBB, 1, 2, 0x5678 }, NULL, 0, 0x0102 },
};

/* The message each vector was written from. */
static struct nm_mig_msg vec_msg(const char *v)
{
	struct nm_mig_msg m = { 0 };
	if (v == VEC_TAKE_SNAPSHOT) {
		m = (struct nm_mig_msg){ .type = 0, .daemon_origin = 0x0102030405060708 };
		m.take_snapshot.target_node = 0x1112131415161718;
	} else if (v == VEC_SNAPSHOT_READY) {
		m = snapshot_ready(0x0102030405060708, (const uint8_t *)"\xde\xad\xbe", 3, 42, 2,
				   5);
	} else if (v == VEC_RESTORE_COMPLETE) {
		m = (struct nm_mig_msg){ .type = 2, .daemon_origin = 0xA1 };
		m.restore_complete.restored_seq = 0x100;
	} else if (v == VEC_REPLAY_COMPLETE) {
		m = (struct nm_mig_msg){ .type = 3, .daemon_origin = 0x5555 };
		m.replay_complete.replayed_seq = 200;
		m.replay_complete.target_head =
		    (struct nm_causal_link){ 0x5555, 0xF, 200, 0xDEADBEEF };
	} else if (v == VEC_CUTOVER_NOTIFY) {
		m = (struct nm_mig_msg){ .type = 4, .daemon_origin = 0x6666 };
		m.cutover_notify.target_node = 0x7777;
	} else if (v == VEC_CLEANUP_COMPLETE) {
		m = (struct nm_mig_msg){ .type = 5, .daemon_origin = 0x8888 };
	} else if (v == VEC_BUFFERED_EVENTS) {
		m = (struct nm_mig_msg){ .type = 7, .daemon_origin = 0xAAAA };
		m.buffered.events = vec_events;
		m.buffered.count = 2;
	} else if (v == VEC_ACTIVATE_TARGET) {
		m = (struct nm_mig_msg){ .type = 8, .daemon_origin = 0xCCCC };
	} else if (v == VEC_ACTIVATE_ACK) {
		m = (struct nm_mig_msg){ .type = 9, .daemon_origin = 0xCCCC };
		m.activate_ack.replayed_seq = 77;
	} else if (v == VEC_MOVED) {
		m = (struct nm_mig_msg){ .type = NM_MIG_MOVED, .daemon_origin = 0xCCCC };
		m.moved.new_node = 0x2222;
	} else if (v == VEC_QUERY) {
		m = (struct nm_mig_msg){ .type = NM_MIG_QUERY, .daemon_origin = 0xCCCC };
		m.query.nonce = 0x0102;
	} else if (v == VEC_PREPARE) {
		m = (struct nm_mig_msg){ .type = NM_MIG_PREPARE, .daemon_origin = 0xCCCC };
		m.prepare.target_node = 0x2222;
	} else if (v == VEC_PREPARED) {
		m = (struct nm_mig_msg){ .type = NM_MIG_PREPARED, .daemon_origin = 0xCCCC };
		m.prepared.mid = 0x0102030405060708;
	} else if (v == VEC_STATUS) {
		m = (struct nm_mig_msg){ .type = NM_MIG_STATUS, .daemon_origin = 0xCCCC };
		m.status = (struct nm_mig_status){ 0x0102, NM_MIG_ROLE_TARGET, NM_MIG_PHASE_RESTORE,
						   9, 0x2222 };
	} else {
		m = (struct nm_mig_msg){ .type = 6, .daemon_origin = 0x9999 };
		if (v == VEC_FAILED_STATE)
			m.failed = (struct nm_mig_reason){ 3, "boom", 4, 0 };
		else if (v == VEC_FAILED_IDENTITY)
			m.failed = (struct nm_mig_reason){ 5, "seal", 4, 0 };
		else if (v == VEC_FAILED_TIMEOUT)
			m.failed = (struct nm_mig_reason){ 6, NULL, 0, 7 };
		else if (v == VEC_FAILED_FACTORY)
			m.failed.code = 1;
		else if (v == VEC_FAILED_COMPUTE)
			m.failed.code = 2;
		else if (v == VEC_FAILED_ALREADY)
			m.failed.code = 4;
	}
	return m;
}

/* (The vectors are not constant expressions in C, so the table is filled here.) */
static const char *const *all_vectors(size_t *n)
{
	static const char *vs[21];
	vs[0] = VEC_TAKE_SNAPSHOT;
	vs[1] = VEC_SNAPSHOT_READY;
	vs[2] = VEC_RESTORE_COMPLETE;
	vs[3] = VEC_REPLAY_COMPLETE;
	vs[4] = VEC_CUTOVER_NOTIFY;
	vs[5] = VEC_CLEANUP_COMPLETE;
	vs[6] = VEC_FAILED_STATE;
	vs[7] = VEC_FAILED_IDENTITY;
	vs[8] = VEC_FAILED_TIMEOUT;
	vs[9] = VEC_FAILED_NOT_READY;
	vs[10] = VEC_FAILED_FACTORY;
	vs[11] = VEC_FAILED_COMPUTE;
	vs[12] = VEC_FAILED_ALREADY;
	vs[13] = VEC_BUFFERED_EVENTS;
	vs[14] = VEC_ACTIVATE_TARGET;
	vs[15] = VEC_ACTIVATE_ACK;
	vs[16] = VEC_MOVED;
	vs[17] = VEC_QUERY;
	vs[18] = VEC_STATUS;
	vs[19] = VEC_PREPARE;
	vs[20] = VEC_PREPARED;
	*n = sizeof(vs) / sizeof(vs[0]);
	return vs;
}

/* Field-by-field equality of a decoded message with the one it came from. */
static void assert_same_msg(const struct nm_mig_msg *d, const struct nm_mig_msg *w)
{
	ck_assert_uint_eq(d->type, w->type);
	ck_assert_uint_eq(d->daemon_origin, w->daemon_origin);
	switch (w->type) {
	case NM_MIG_TAKE_SNAPSHOT:
		ck_assert_uint_eq(d->take_snapshot.target_node, w->take_snapshot.target_node);
		break;
	case NM_MIG_SNAPSHOT_READY:
		ck_assert_uint_eq(d->snapshot_ready.seq_through, w->snapshot_ready.seq_through);
		ck_assert_uint_eq(d->snapshot_ready.chunk_index, w->snapshot_ready.chunk_index);
		ck_assert_uint_eq(d->snapshot_ready.total_chunks, w->snapshot_ready.total_chunks);
		ck_assert_uint_eq(d->snapshot_ready.len, w->snapshot_ready.len);
		ck_assert_mem_eq(d->snapshot_ready.bytes, w->snapshot_ready.bytes,
				 w->snapshot_ready.len);
		break;
	case NM_MIG_RESTORE_COMPLETE:
		ck_assert_uint_eq(d->restore_complete.restored_seq,
				  w->restore_complete.restored_seq);
		break;
	case NM_MIG_REPLAY_COMPLETE:
		ck_assert_uint_eq(d->replay_complete.replayed_seq, w->replay_complete.replayed_seq);
		ck_assert_mem_eq(&d->replay_complete.target_head, &w->replay_complete.target_head,
				 sizeof(struct nm_causal_link));
		break;
	case NM_MIG_CUTOVER_NOTIFY:
		ck_assert_uint_eq(d->cutover_notify.target_node, w->cutover_notify.target_node);
		break;
	case NM_MIG_FAILED:
		ck_assert_uint_eq(d->failed.code, w->failed.code);
		ck_assert_uint_eq(d->failed.msg_len, w->failed.msg_len);
		if (w->failed.msg_len)
			ck_assert_mem_eq(d->failed.msg, w->failed.msg, w->failed.msg_len);
		ck_assert_uint_eq(d->failed.attempts, w->failed.attempts);
		break;
	case NM_MIG_BUFFERED_EVENTS: {
		ck_assert_uint_eq(nm_mig_events_count(d), w->buffered.count);
		struct nm_mig_events_iter it;
		nm_mig_events_iter_init(&it, d);
		struct nm_event e;
		for (size_t i = 0; i < w->buffered.count; i++) {
			const struct nm_event *x = &w->buffered.events[i];
			ck_assert(nm_mig_events_iter_next(&it, &e));
			ck_assert_mem_eq(&e.link, &x->link, sizeof(e.link));
			ck_assert_uint_eq(e.len, x->len);
			if (x->len)
				ck_assert_mem_eq(e.payload, x->payload, x->len);
			ck_assert_uint_eq(e.received_at, x->received_at);
		}
		ck_assert(!nm_mig_events_iter_next(&it, &e));
		break;
	}
	case NM_MIG_ACTIVATE_ACK:
		ck_assert_uint_eq(d->activate_ack.replayed_seq, w->activate_ack.replayed_seq);
		break;
	case NM_MIG_MOVED:
		ck_assert_uint_eq(d->moved.new_node, w->moved.new_node);
		break;
	case NM_MIG_QUERY:
		ck_assert_uint_eq(d->query.nonce, w->query.nonce);
		break;
	case NM_MIG_PREPARE:
		ck_assert_uint_eq(d->prepare.target_node, w->prepare.target_node);
		break;
	case NM_MIG_PREPARED:
		ck_assert_uint_eq(d->prepared.mid, w->prepared.mid);
		break;
	case NM_MIG_STATUS:
		ck_assert_uint_eq(d->status.nonce, w->status.nonce);
		ck_assert_uint_eq(d->status.role, w->status.role);
		ck_assert_uint_eq(d->status.phase, w->status.phase);
		ck_assert_uint_eq(d->status.seq, w->status.seq);
		ck_assert_uint_eq(d->status.node, w->status.node);
		break;
	default:
		break;
	}
}

START_TEST(vectors_encode_and_decode)
{
	size_t n;
	const char *const *v = all_vectors(&n);
	for (size_t i = 0; i < n; i++) {
		uint8_t want[512], got[512];
		size_t wl = unhex(v[i], want, sizeof(want));
		struct nm_mig_msg m = vec_msg(v[i]);
		ck_assert_uint_eq(nm_mig_encoded_size(&m), wl);
		size_t gl = encode_ok(&m, got, sizeof(got));
		ck_assert_msg(gl == wl && memcmp(got, want, wl) == 0, "vector %zu (%s) differs", i,
			      nm_mig_type_name(m.type));
		struct nm_mig_msg d;
		decode_ok(want, wl, &d, NULL);
		ck_assert_uint_eq(d.body_len, wl);
		assert_same_msg(&d, &m);
		/* Every strict prefix fails to decode. */
		for (size_t k = 0; k < wl; k++) {
			struct nm_mig_msg t;
			ck_assert_msg(nm_mig_decode(want, k, &t, NULL, NULL) ==
					  NM_EMIG_STATE_FAILED,
				      "vector %zu prefix %zu decoded", i, k);
		}
	}
}
END_TEST

/* ------------------------------------------------ netmesh: every decode error */

START_TEST(decode_error_texts)
{
	expect_decode_err(NULL, 0, "empty message");
	const char *names[] = { "TakeSnapshot",
				"SnapshotReady",
				"RestoreComplete",
				"ReplayComplete",
				"CutoverNotify",
				"CleanupComplete",
				NULL,
				"BufferedEvents",
				"ActivateTarget",
				"ActivateAck" };
	for (uint8_t t = 0; t <= 9; t++) {
		char want[64];
		if (names[t])
			snprintf(want, sizeof(want), "truncated %s", names[t]);
		else
			snprintf(want, sizeof(want), "truncated MigrationFailed header");
		expect_decode_err(&t, 1, want);
	}
	uint8_t t = NM_MIG_MOVED;
	expect_decode_err(&t, 1, "truncated Moved");
	t = NM_MIG_QUERY;
	expect_decode_err(&t, 1, "truncated MigrationQuery");
	t = NM_MIG_STATUS;
	expect_decode_err(&t, 1, "truncated MigrationStatus");
	t = NM_MIG_PREPARE;
	expect_decode_err(&t, 1, "truncated MigrationPrepare");
	t = NM_MIG_PREPARED;
	expect_decode_err(&t, 1, "truncated MigrationPrepared");
	expect_decode_err_hex("83 0000000000000000 00000000000000", "truncated MigrationPrepare");
	expect_decode_err_hex("84 0000000000000000 00000000000000", "truncated MigrationPrepared");
	expect_decode_err_hex("0a", "unknown message type: 10");
	expect_decode_err_hex("7f 0000000000000000 0000000000000000", "unknown message type: 127");
	expect_decode_err_hex("85", "unknown message type: 133");
	expect_decode_err_hex("ff", "unknown message type: 255");
	/* One byte short of each fixed layout. */
	expect_decode_err_hex("00 0000000000000000 00000000000000", "truncated TakeSnapshot");
	expect_decode_err_hex("03 0000000000000000 0000000000000000 " /* 47 of 48 */
			      "0000000000000000 0000000000000000 0000000000000000 00000000000000",
			      "truncated ReplayComplete");
	expect_decode_err_hex("05 00000000000000", "truncated CleanupComplete");
	expect_decode_err_hex("06 0000000000000000 00", "truncated MigrationFailed header");
	expect_decode_err_hex("07 0000000000000000 000000", "truncated BufferedEvents");
	expect_decode_err_hex("01 0000000000000000 0000000000000000 00000000 01000000 000000",
			      "truncated SnapshotReady");
	/* SnapshotReady bounds, in upstream's order. */
	expect_decode_err_hex("01 aaaa000000000000 0100000000000000 05000000 00000000 50460000",
			      "SnapshotReady: total_chunks must be >= 1");
	expect_decode_err_hex(
	    "01 aaaa000000000000 0100000000000000 05000000 61ae0a00 00000000",
	    "SnapshotReady: total_chunks 700001 exceeds MAX_TOTAL_CHUNKS (700000)");
	expect_decode_err_hex("01 aaaa000000000000 0100000000000000 03000000 03000000 591b0000",
			      "SnapshotReady: chunk_index 3 out of range for total_chunks 3");
	expect_decode_err_hex(
	    "01 aaaa000000000000 0100000000000000 00000000 01000000 591b0000",
	    "SnapshotReady: chunk len 7001 exceeds MAX_SNAPSHOT_CHUNK_SIZE (7000)");
	expect_decode_err_hex(
	    "01 aaaa000000000000 0100000000000000 00000000 01000000 03000000 0102",
	    "truncated snapshot payload");
	/* BufferedEvents: the bound uses the bytes after the count (43 < 44). */
	char hex[512];
	snprintf(hex, sizeof(hex), "07 0000000000000000 01000000 %086d", 0);
	expect_decode_err_hex(hex, "BufferedEvents: count 1 exceeds bound (remaining=43, "
				   "min_event_size=44, max_possible=0, hard_cap=1000000)");
	/* count 2, 88 bytes: event 1 with a 40-byte payload leaves 4 < 36. */
	snprintf(hex, sizeof(hex), "07 0000000000000000 02000000 %064d 28000000 %0104d", 0, 0);
	expect_decode_err_hex(hex, "truncated buffered event");
	/* count 1, 44 bytes, payload_len 1: needs 9 after it, 8 left. */
	snprintf(hex, sizeof(hex), "07 0000000000000000 01000000 %064d 01000000 %016d", 0, 0);
	expect_decode_err_hex(hex, "truncated event payload");
	snprintf(hex, sizeof(hex), "07 0000000000000000 01000000 %064d 591b0000 %016d", 0, 0);
	expect_decode_err_hex(hex, "buffered event payload 7001 exceeds per-event cap 7000");
	/* MigrationFailed reasons. */
	expect_decode_err_hex("06 0000000000000000 0300",
			      "truncated StateFailed message length prefix");
	expect_decode_err_hex("06 0000000000000000 0300 05",
			      "truncated StateFailed message length prefix");
	expect_decode_err_hex("06 0000000000000000 0300 0500 6162",
			      "truncated StateFailed message body");
	expect_decode_err_hex("06 0000000000000000 0500",
			      "truncated IdentityTransportFailed message length prefix");
	expect_decode_err_hex("06 0000000000000000 0500 0100",
			      "truncated IdentityTransportFailed message body");
	expect_decode_err_hex("06 0000000000000000 0600",
			      "truncated NotReadyTimeout attempts field");
	expect_decode_err_hex("06 0000000000000000 0700", "unknown MigrationFailureReason code 7");
	expect_decode_err_hex("06 0000000000000000 0300 0100 ff",
			      "StateFailed message is not valid UTF-8: invalid utf-8 sequence of 1 "
			      "bytes from index 0");
	expect_decode_err_hex("06 0000000000000000 0500 0100 80",
			      "IdentityTransportFailed message is not valid UTF-8: invalid utf-8 "
			      "sequence of 1 bytes from index 0");
}
END_TEST

/* Rust's Utf8Error texts (checked against rustc's String::from_utf8). */
START_TEST(decode_utf8_like_rust)
{
	const struct {
		const char *hex;
		const char *why; /* NULL: valid */
	} cases[] = {
		{ "68c3a96c6c6f20e282ac20f0908d88", NULL }, /* "héllo € 𐍈" */
		{ "61e228a1", "invalid utf-8 sequence of 1 bytes from index 1" },
		{ "f09028", "invalid utf-8 sequence of 2 bytes from index 0" },
		{ "f0908c28", "invalid utf-8 sequence of 3 bytes from index 0" },
		{ "e282", "incomplete utf-8 byte sequence from index 0" },
		{ "6162f0908d", "incomplete utf-8 byte sequence from index 2" },
		{ "eda080", "invalid utf-8 sequence of 1 bytes from index 0" },   /* surrogate */
		{ "c080", "invalid utf-8 sequence of 1 bytes from index 0" },     /* overlong */
		{ "e08080", "invalid utf-8 sequence of 1 bytes from index 0" },   /* overlong */
		{ "f4908080", "invalid utf-8 sequence of 1 bytes from index 0" }, /* > U+10FFFF */
		{ "f5", "invalid utf-8 sequence of 1 bytes from index 0" },
		{ "c2", "incomplete utf-8 byte sequence from index 0" },
		{ "00", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t s[64];
		size_t n = unhex(cases[i].hex, s, sizeof(s));
		uint8_t buf[128] = { 6, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, (uint8_t)n, 0 };
		memcpy(buf + 13, s, n);
		if (!cases[i].why) {
			struct nm_mig_msg m;
			decode_ok(buf, 13 + n, &m, NULL);
			ck_assert_uint_eq(m.failed.msg_len, n);
			continue;
		}
		char want[160];
		snprintf(want, sizeof(want), "StateFailed message is not valid UTF-8: %s",
			 cases[i].why);
		expect_decode_err(buf, 13 + n, want);
	}
}
END_TEST

/* ------------------------------------------------ netmesh: encode errors */

START_TEST(encode_error_texts)
{
	uint8_t buf[64];
	size_t len = 0;
	struct nm_error err = { 0 };
	struct nm_mig_msg m = snapshot_ready(1, buf, (size_t)UINT32_MAX + 1, 0, 0, 1);
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, &err), NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(
	    err.msg, "state operation failed: snapshot_bytes length 4294967296 exceeds u32::MAX");
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 0);
	m = (struct nm_mig_msg){ .type = NM_MIG_BUFFERED_EVENTS, .daemon_origin = 1 };
	m.buffered.events = sample_events;
	m.buffered.count = (size_t)UINT32_MAX + 1;
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, &err), NM_EMIG_STATE_FAILED);
	ck_assert_str_eq(err.msg,
			 "state operation failed: events length 4294967296 exceeds u32::MAX");
	/* Unknown type, NULL data, no room. */
	m = (struct nm_mig_msg){ .type = 0x0a, .daemon_origin = 1 };
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, &err), -EINVAL);
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 0);
	m = snapshot_ready(1, NULL, 3, 0, 0, 1);
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, &err), -EINVAL);
	m = (struct nm_mig_msg){ .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = 1 };
	len = 99;
	ck_assert_int_eq(nm_mig_encode(&m, buf, 16, &len, &err), -ENOSPC);
	ck_assert_uint_eq(len, 99);
	ck_assert_int_eq(nm_mig_encode(&m, buf, 17, &len, &err), 0);
	ck_assert_uint_eq(len, 17);
	ck_assert_int_eq(nm_mig_encode(NULL, buf, 17, &len, &err), -EINVAL);
	/* Like upstream, values the decoder refuses still encode. */
	m = snapshot_ready(1, buf, 3, 0, 0, 0);
	ck_assert_int_eq(nm_mig_encode(&m, buf + 32, 32, &len, &err), 0);
	ck_assert_uint_eq(len, 32);
}
END_TEST

/* ------------------------------------------------ netmesh: reassembler rules */

/* The reassembler's observable state, to prove a rejection changed nothing. */
struct reasm_view {
	size_t count, total, bytes;
	bool has_latest;
	uint64_t latest;
};

static struct reasm_view view(const struct nm_mig_reasm *r, uint64_t origin)
{
	struct reasm_view v = { nm_mig_reasm_pending_count(r), nm_mig_reasm_pending_bytes_total(r),
				nm_mig_reasm_pending_bytes(r, origin), false, 0 };
	v.has_latest = nm_mig_reasm_latest_seq(r, origin, &v.latest);
	return v;
}

static void assert_view_eq(struct reasm_view a, struct reasm_view b)
{
	ck_assert_uint_eq(a.count, b.count);
	ck_assert_uint_eq(a.total, b.total);
	ck_assert_uint_eq(a.bytes, b.bytes);
	ck_assert(a.has_latest == b.has_latest);
	ck_assert_uint_eq(a.latest, b.latest);
}

START_TEST(reasm_order_of_checks)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 10 * MS);
	struct nm_mig_reasm_error why;
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 5, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	/* 1 before 3: total 0 with an empty chunk. */
	why = reject(r, 0xA, NULL, 0, 5, 0, 0, 0, NM_MIG_REASM_ZERO_TOTAL_CHUNKS);
	/* total too large before index range. */
	why = reject_fill(r, 0xA, 1, 10, 5, NM_MIG_MAX_TOTAL_CHUNKS + 5,
			  NM_MIG_MAX_TOTAL_CHUNKS + 1, 0, NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE);
	/* index range before stale. */
	why = reject_fill(r, 0xA, 1, 10, 1, 3, 3, 0, NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE);
	/* size before stale. */
	why =
	    reject_fill(r, 0xA, 1, NM_MIG_MAX_CHUNK + 1, 1, 0, 3, 0, NM_MIG_REASM_CHUNK_TOO_LARGE);
	/* stale before mismatch. */
	why = reject_fill(r, 0xA, 1, 10, 4, 1, 4, 0, NM_MIG_REASM_STALE_SEQ_THROUGH);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	/* A structural reject does not sweep... */
	ck_assert_int_eq(feed(r, 0xB, NULL, 0, 1, 0, 0, 20 * MS, &why), NM_EMIG_REASSEMBLY);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	/* ...but the size check comes after the sweep, as upstream. */
	why = reject(r, 0xB, NULL, 0, 1, 0, 3, 20 * MS, NM_MIG_REASM_CHUNK_TOO_LARGE);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	uint64_t latest = 0;
	ck_assert(nm_mig_reasm_latest_seq(r, 0xA, &latest));
	ck_assert_uint_eq(latest, 5);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_rejections_change_nothing)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 5, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 20, 5, 2, 3, 0, NULL), NM_MIG_FEED_PENDING);
	struct reasm_view before = view(r, 0xA);
	ck_assert_uint_eq(before.bytes, 30);
	struct {
		size_t len;
		uint64_t seq;
		uint32_t idx, total;
		enum nm_mig_reasm_err kind;
	} bad[] = {
		{ 10, 5, 0, 0, NM_MIG_REASM_ZERO_TOTAL_CHUNKS },
		{ 10, 5, 0, NM_MIG_MAX_TOTAL_CHUNKS + 1, NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE },
		{ 10, 5, 3, 3, NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE },
		{ 0, 5, 1, 3, NM_MIG_REASM_CHUNK_TOO_LARGE },
		{ NM_MIG_MAX_CHUNK + 1, 5, 1, 3, NM_MIG_REASM_CHUNK_TOO_LARGE },
		{ 10, 4, 1, 3, NM_MIG_REASM_STALE_SEQ_THROUGH },
		{ 10, 5, 1, 4, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH },
		{ 10, 5, 0, 1, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nm_mig_reasm_error why;
		struct nm_error err = { 0 };
		uint8_t b[NM_MIG_MAX_CHUNK + 1] = { 0 };
		struct nm_mig_assembled out;
		ck_assert_int_eq(nm_mig_reasm_feed(r, 0xA, b, bad[i].len, bad[i].seq, bad[i].idx,
						   bad[i].total, 0, &out, &why, &err),
				 NM_EMIG_REASSEMBLY);
		ck_assert_int_eq(why.kind, bad[i].kind);
		ck_assert_int_eq(err.code, NM_EMIG_REASSEMBLY);
		ck_assert_ptr_null(out.bytes);
		assert_view_eq(view(r, 0xA), before);
	}
	/* The entry still completes with the original chunks. */
	uint8_t mid[5] = { 2, 2, 2, 2, 2 };
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 0xA, mid, 5, 5, 1, 3, 0, &out, NULL, NULL),
			 NM_MIG_FEED_COMPLETE);
	ck_assert_uint_eq(out.len, 35);
	ck_assert(all_bytes(out.bytes, 10, 1) && all_bytes(out.bytes + 10, 5, 2) &&
		  all_bytes(out.bytes + 15, 20, 1));
	nm_mig_assembled_free(&out);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_duplicate_overwrites_with_byte_accounting)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xA), 10);
	ck_assert_int_eq(feed_fill(r, 0xA, 9, 20, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xA), 20);
	ck_assert_int_eq(feed_fill(r, 0xA, 2, 5, 1, 1, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xA), 25);
	ck_assert_int_eq(feed_fill(r, 0xA, 2, 3, 1, 1, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xA), 23);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 23);
	uint8_t last[4] = { 3, 3, 3, 3 };
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 0xA, last, 4, 1, 2, 3, 0, &out, NULL, NULL),
			 NM_MIG_FEED_COMPLETE);
	ck_assert_uint_eq(out.len, 27);
	ck_assert(all_bytes(out.bytes, 20, 9) && all_bytes(out.bytes + 20, 3, 2) &&
		  all_bytes(out.bytes + 23, 4, 3));
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	nm_mig_assembled_free(&out);
	/* The same seq may be reassembled again (latest is not exceeded). */
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_single_chunk_paths)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 0xA, b, 8, 3, 0, 1, 0, &out, NULL, NULL),
			 NM_MIG_FEED_COMPLETE);
	ck_assert_ptr_eq(out.bytes, b); /* zero copy */
	ck_assert_ptr_null(out.owned);
	ck_assert_uint_eq(out.len, 8);
	nm_mig_assembled_free(&out);
	uint64_t latest = 0;
	ck_assert(nm_mig_reasm_latest_seq(r, 0xA, &latest));
	ck_assert_uint_eq(latest, 3);
	/* A newer single chunk evicts a pending multi-chunk entry. */
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 4, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 5, 0, 1, 0, NULL), NM_MIG_FEED_COMPLETE);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 0);
	/* A stale single chunk is refused. */
	reject_fill(r, 0xA, 1, 10, 4, 0, 1, 0, NM_MIG_REASM_STALE_SEQ_THROUGH);
	/* A newer multi-chunk entry evicts the older one of the same origin. */
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 6, 0, 2, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 30, 7, 0, 2, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes_total(r), 30);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	/* feed_msg refuses other message types. */
	struct nm_mig_msg m = { .type = NM_MIG_TAKE_SNAPSHOT };
	ck_assert_int_eq(nm_mig_reasm_feed_msg(r, &m, 0, &out, NULL, NULL), -EINVAL);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_bounded_origins_and_forget)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(2, 0);
	struct nm_mig_reasm_error why;
	struct nm_error err = { 0 };
	ck_assert_int_eq(feed_fill(r, 1, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 2, 1, 10, 1, 0, 1, 0, NULL), NM_MIG_FEED_COMPLETE);
	uint8_t b[10] = { 0 };
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 3, b, 10, 1, 0, 3, 0, &out, &why, &err),
			 NM_EMIG_REASSEMBLY);
	ck_assert_int_eq(why.kind, NM_MIG_REASM_TOO_MANY_ORIGINS);
	ck_assert_str_eq(err.msg, "reassembler tracks its maximum of 2 daemons");
	/* Known origins keep working at the bound. */
	ck_assert_int_eq(feed_fill(r, 2, 1, 10, 2, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	nm_mig_reasm_forget(r, 1);
	ck_assert(!nm_mig_reasm_latest_seq(r, 1, NULL));
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 1);
	ck_assert_int_eq(feed_fill(r, 3, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	/* A forgotten origin starts over: an old seq is no longer stale. */
	nm_mig_reasm_forget(r, 2);
	ck_assert_int_eq(feed_fill(r, 2, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	nm_mig_reasm_forget(r, 99); /* unknown: no-op */
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 2);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_default_age_is_300s)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	ck_assert_int_eq(feed_fill(r, 0xA, 1, 10, 1, 0, 3, 0, NULL), NM_MIG_FEED_PENDING);
	ck_assert_int_eq(feed_fill(r, 0xB, 1, 10, 1, 0, 3, 299 * SEC, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 2);
	ck_assert_int_eq(feed_fill(r, 0xC, 1, 10, 1, 0, 3, 300 * SEC, NULL), NM_MIG_FEED_PENDING);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 2);
	ck_assert_uint_eq(nm_mig_reasm_pending_bytes(r, 0xA), 0);
	/* A progress time after `now` is kept (upstream's checked_duration_since). */
	ck_assert_uint_eq(nm_mig_reasm_sweep(r, 0, 1), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(r), 2);
	nm_mig_reasm_free(r);
}
END_TEST

START_TEST(reasm_error_texts)
{
	const struct {
		struct nm_mig_reasm_error e;
		const char *display, *debug;
	} cases[] = {
		{ { NM_MIG_REASM_ZERO_TOTAL_CHUNKS, 0, 0, 0 },
		  "total_chunks == 0",
		  "ZeroTotalChunks" },
		{ { NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE, 5, 3, 0 },
		  "chunk_index 5 out of range for total_chunks 3",
		  "ChunkIndexOutOfRange { chunk_index: 5, total_chunks: 3 }" },
		{ { NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE, 4294967295u, 0, 0 },
		  "total_chunks 4294967295 exceeds MAX_TOTAL_CHUNKS (700000)",
		  "TotalChunksTooLarge { total_chunks: 4294967295 }" },
		{ { NM_MIG_REASM_CHUNK_TOO_LARGE, 0, 0, 0 },
		  "chunk length 0 exceeds MAX_SNAPSHOT_CHUNK_SIZE (7000)",
		  "ChunkTooLarge { len: 0 }" },
		{ { NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH, 1, 3, 0 },
		  "total_chunks 1 does not match first chunk's declared 3",
		  "TotalChunksMismatch { got: 1, expected: 3 }" },
		{ { NM_MIG_REASM_STALE_SEQ_THROUGH, 5, 12, 0 },
		  "seq_through 5 is older than latest accepted 12 for this daemon",
		  "StaleSeqThrough { got: 5, latest: 12 }" },
		{ { NM_MIG_REASM_TOO_MANY_PENDING_BYTES, 67102000, 7000, 67108864 },
		  "buffered 67102000 + incoming 7000 would exceed per-entry cap 67108864",
		  "TooManyPendingBytes { buffered: 67102000, incoming: 7000, cap: 67108864 }" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[160];
		nm_mig_reasm_err_display(&cases[i].e, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].display);
		nm_mig_reasm_err_debug(&cases[i].e, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].debug);
	}
	/* err->msg carries the Display text. */
	struct nm_mig_reasm *r = nm_mig_reasm_create(0, 0);
	struct nm_error err = { 0 };
	struct nm_mig_assembled out;
	ck_assert_int_eq(nm_mig_reasm_feed(r, 1, NULL, 0, 1, 0, 2, 0, &out, NULL, &err),
			 NM_EMIG_REASSEMBLY);
	ck_assert_str_eq(err.msg, "chunk length 0 exceeds MAX_SNAPSHOT_CHUNK_SIZE (7000)");
	ck_assert_int_eq(nm_mig_reasm_feed(NULL, 1, NULL, 0, 1, 0, 2, 0, &out, NULL, &err),
			 -EINVAL);
	nm_mig_reasm_free(r);
}
END_TEST

/* ------------------------------------------------ netmesh: NMX1 trailer */

static const uint64_t senders2[2] = { 0x1111, 0x2222 };

static struct nm_mig_ext full_ext(void)
{
	struct nm_mig_ext e = { 0 };
	nm_mig_ext_set(&e, NM_MIG_TLV_MSEQ);
	nm_mig_ext_set(&e, NM_MIG_TLV_SENDERS);
	nm_mig_ext_set(&e, NM_MIG_TLV_FINAL_THROUGH);
	nm_mig_ext_set(&e, NM_MIG_TLV_EVENTS_ACK);
	nm_mig_ext_set(&e, NM_MIG_TLV_NEXT_PARENT);
	nm_mig_ext_set(&e, NM_MIG_TLV_FLAGS);
	nm_mig_ext_set(&e, NM_MIG_TLV_KIND);
	e.mseq = 41;
	e.final_through = 42;
	e.events_ack = 40;
	e.next_parent = 0x0123456789ABCDEF;
	e.flags = NM_MIG_XF_STATELESS | 0x100;
	e.senders = (const uint8_t *)senders2; /* LE host */
	e.nsenders = 2;
	e.kind = "counter";
	e.kind_len = 7;
	return e;
}

START_TEST(trailer_roundtrip)
{
	struct nm_mig_ext e = full_ext();
	struct nm_mig_msg m = { .type = NM_MIG_BUFFERED_EVENTS, .daemon_origin = 0xAAAA };
	m.buffered.events = sample_events;
	m.buffered.count = 2;
	size_t body = nm_mig_encoded_size(&m);
	m.ext = &e;
	size_t tl = 4 + 3 * 7 + 8 * 4 + 16 + 4 + 7;
	ck_assert_uint_eq(nm_mig_ext_size(&e), tl);
	ck_assert_uint_eq(nm_mig_encoded_size(&m), body + tl);
	uint8_t buf[512];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	/* Hand-checked start of the trailer: magic, then MSEQ = 41. */
	uint8_t want[15];
	unhex("4e4d5831 01 0800 2900000000000000", want, sizeof(want));
	ck_assert_mem_eq(buf + body, want, sizeof(want));
	struct nm_mig_msg d;
	struct nm_mig_ext x;
	decode_ok(buf, len, &d, &x);
	ck_assert_ptr_eq(d.ext, &x);
	ck_assert_uint_eq(d.body_len, body);
	ck_assert(!x.malformed);
	ck_assert_uint_eq(x.present, e.present);
	ck_assert_uint_eq(x.mseq, 41);
	ck_assert_uint_eq(x.final_through, 42);
	ck_assert_uint_eq(x.events_ack, 40);
	ck_assert_uint_eq(x.next_parent, 0x0123456789ABCDEF);
	ck_assert_uint_eq(x.flags, NM_MIG_XF_STATELESS | 0x100);
	ck_assert_uint_eq(x.nsenders, 2);
	ck_assert_uint_eq(nm_mig_ext_sender(&x, 0), 0x1111);
	ck_assert_uint_eq(nm_mig_ext_sender(&x, 1), 0x2222);
	ck_assert_uint_eq(nm_mig_ext_sender(&x, 2), 0);
	ck_assert_uint_eq(x.kind_len, 7);
	ck_assert_mem_eq(x.kind, "counter", 7);
	ck_assert_uint_eq(x.unknown, 0);
	ck_assert_ptr_eq(x.trailer, buf + body);
	ck_assert_uint_eq(x.trailer_len, tl);
	assert_same_msg(&d, &m);
}
END_TEST

START_TEST(trailer_unknown_tlvs_skipped)
{
	const uint8_t blob[3] = { 'x', 'y', 'z' };
	struct nm_mig_tlv extra[2] = { { 0x55, 3, blob }, { 0x40, 0, NULL } };
	struct nm_mig_ext e = { 0 };
	nm_mig_ext_set(&e, NM_MIG_TLV_EVENTS_ACK);
	e.events_ack = 9;
	e.extra = extra;
	e.nextra = 2;
	struct nm_mig_msg m = { .type = NM_MIG_CLEANUP_COMPLETE, .daemon_origin = 5, .ext = &e };
	uint8_t buf[128];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	uint8_t want[64];
	size_t wl =
	    unhex("05 0500000000000000 4e4d5831 04 0800 0900000000000000 55 0300 78797a 40 0000",
		  want, sizeof(want));
	ck_assert_uint_eq(len, wl);
	ck_assert_mem_eq(buf, want, wl);
	struct nm_mig_msg d;
	struct nm_mig_ext x;
	decode_ok(buf, len, &d, &x);
	ck_assert_ptr_eq(d.ext, &x);
	ck_assert_uint_eq(x.unknown, 2);
	ck_assert_uint_eq(x.present, 1u << NM_MIG_TLV_EVENTS_ACK);
	ck_assert_uint_eq(x.events_ack, 9);
	/* The raw iterator sees every TLV in order. */
	struct nm_mig_tlv_iter it;
	struct nm_mig_tlv t;
	nm_mig_tlv_iter_init(&it, &x);
	ck_assert(nm_mig_tlv_next(&it, &t));
	ck_assert_uint_eq(t.type, NM_MIG_TLV_EVENTS_ACK);
	ck_assert(nm_mig_tlv_next(&it, &t));
	ck_assert_uint_eq(t.type, 0x55);
	ck_assert_uint_eq(t.len, 3);
	ck_assert_mem_eq(t.val, "xyz", 3);
	ck_assert(nm_mig_tlv_next(&it, &t));
	ck_assert_uint_eq(t.type, 0x40);
	ck_assert_uint_eq(t.len, 0);
	ck_assert(!nm_mig_tlv_next(&it, &t));
}
END_TEST

/* The trailer after `body` must be rejected as a whole, never the body. */
static void expect_malformed(const char *body_hex, const char *trailer_hex)
{
	uint8_t buf[256];
	size_t bl = unhex(body_hex, buf, sizeof(buf));
	size_t tl = unhex(trailer_hex, buf + bl, sizeof(buf) - bl);
	struct nm_mig_msg d, plain;
	struct nm_mig_ext x;
	decode_ok(buf, bl + tl, &d, &x);
	ck_assert_msg(x.malformed, "trailer %s accepted", trailer_hex);
	ck_assert_ptr_null(d.ext);
	ck_assert_uint_eq(x.present, 0);
	ck_assert_uint_eq(d.body_len, bl);
	decode_ok(buf, bl, &plain, NULL);
	ck_assert_uint_eq(d.type, plain.type);
	ck_assert_uint_eq(d.daemon_origin, plain.daemon_origin);
}

START_TEST(trailer_garbage_ignored)
{
	const char *body = "09 cccc000000000000 4d00000000000000";
	expect_malformed(body, "67617262616765");                    /* "garbage" */
	expect_malformed(body, "4e4d58");                            /* short magic */
	expect_malformed(body, "4e4d5832");                          /* another version */
	expect_malformed(body, "4e4d5831 01");                       /* TLV header cut */
	expect_malformed(body, "4e4d5831 55 0500 0102");             /* value past the end */
	expect_malformed(body, "4e4d5831 01 0400 01020304");         /* MSEQ is 8 bytes */
	expect_malformed(body, "4e4d5831 06 0800 0100000000000000"); /* FLAGS is 4 */
	expect_malformed(body, "4e4d5831 01 0800 0100000000000000 01 0800 0200000000000000");
	expect_malformed(body, "4e4d5831 07 0000");        /* empty kind */
	expect_malformed(body, "4e4d5831 02 0300 010203"); /* senders not n x 8 */
	char kind64[300] = "4e4d5831 07 4000 ";
	for (int i = 0; i < 64; i++)
		strcat(kind64, "61");
	expect_malformed(body, kind64);
	/* SENDERS must match the BufferedEvents count (0 here, 1 sender). */
	expect_malformed("07 aaaa000000000000 00000000", "4e4d5831 02 0800 0100000000000000");
	/* With no ext argument the trailing bytes are simply ignored. */
	uint8_t buf[64];
	size_t n = unhex("09 cccc000000000000 4d00000000000000 676172", buf, sizeof(buf));
	struct nm_mig_msg d;
	decode_ok(buf, n, &d, NULL);
	ck_assert_ptr_null(d.ext);
	ck_assert_uint_eq(d.body_len, 17);
}
END_TEST

START_TEST(trailer_on_every_message_type)
{
	size_t n;
	const char *const *v = all_vectors(&n);
	struct nm_mig_ext e = { 0 };
	nm_mig_ext_set(&e, NM_MIG_TLV_NEXT_PARENT);
	nm_mig_ext_set(&e, NM_MIG_TLV_KIND);
	e.next_parent = 77;
	e.kind = "echo";
	e.kind_len = 4;
	for (size_t i = 0; i < n; i++) {
		uint8_t plain[512], with[512];
		size_t pl = unhex(v[i], plain, sizeof(plain));
		struct nm_mig_msg m = vec_msg(v[i]);
		m.ext = &e;
		size_t wl = encode_ok(&m, with, sizeof(with));
		ck_assert_uint_eq(wl, pl + nm_mig_ext_size(&e));
		ck_assert_mem_eq(with, plain, pl); /* the upstream body is untouched */
		struct nm_mig_msg a, b;
		struct nm_mig_ext xa, xb;
		decode_ok(plain, pl, &a, &xa);
		decode_ok(with, wl, &b, &xb);
		ck_assert_ptr_null(a.ext);
		ck_assert(!xa.malformed);
		ck_assert_ptr_eq(b.ext, &xb);
		ck_assert_uint_eq(a.body_len, b.body_len);
		m.ext = NULL;
		assert_same_msg(&a, &m);
		assert_same_msg(&b, &m);
		ck_assert_uint_eq(xb.next_parent, 77);
		ck_assert_mem_eq(xb.kind, "echo", 4);
	}
}
END_TEST

START_TEST(trailer_edge_cases)
{
	/* Magic alone is a valid, empty trailer. */
	uint8_t buf[64];
	size_t n = unhex("05 0100000000000000 4e4d5831", buf, sizeof(buf));
	struct nm_mig_msg d;
	struct nm_mig_ext x;
	decode_ok(buf, n, &d, &x);
	ck_assert_ptr_eq(d.ext, &x);
	ck_assert_uint_eq(x.present, 0);
	/* Nothing present: no trailer is written. */
	struct nm_mig_ext e = { 0 };
	struct nm_mig_msg m = { .type = NM_MIG_CLEANUP_COMPLETE, .daemon_origin = 1, .ext = &e };
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 9);
	/* Unencodable trailers. */
	nm_mig_ext_set(&e, NM_MIG_TLV_KIND);
	e.kind = "";
	e.kind_len = 0;
	ck_assert_uint_eq(nm_mig_ext_size(&e), SIZE_MAX);
	ck_assert_uint_eq(nm_mig_encoded_size(&m), 0);
	size_t len;
	ck_assert_int_eq(nm_mig_encode(&m, buf, sizeof(buf), &len, NULL), -EINVAL);
	e.kind_len = NM_KIND_MAX + 1;
	e.kind = "0123456789012345678901234567890123456789012345678901234567890123";
	ck_assert_uint_eq(nm_mig_ext_size(&e), SIZE_MAX);
	e.kind_len = NM_KIND_MAX;
	ck_assert_uint_eq(nm_mig_ext_size(&e), 4 + 3 + NM_KIND_MAX);
	struct nm_mig_tlv dup = { NM_MIG_TLV_MSEQ, 8, (const uint8_t *)"12345678" };
	e.extra = &dup;
	e.nextra = 1;
	ck_assert_uint_eq(nm_mig_ext_size(&e), SIZE_MAX); /* known type as extra */
	/* Too many senders for one TLV. */
	struct nm_mig_ext s = { 0 };
	nm_mig_ext_set(&s, NM_MIG_TLV_SENDERS);
	s.senders = buf;
	s.nsenders = 8192;
	ck_assert_uint_eq(nm_mig_ext_size(&s), SIZE_MAX);
	s.nsenders = 8191;
	ck_assert_uint_eq(nm_mig_ext_size(&s), 4 + 3 + 8191 * 8);
	/* No room for the trailer. */
	struct nm_mig_ext a = { 0 };
	nm_mig_ext_set(&a, NM_MIG_TLV_EVENTS_ACK);
	m.ext = &a;
	ck_assert_int_eq(nm_mig_encode(&m, buf, 9 + 14, &len, NULL), -ENOSPC);
	ck_assert_int_eq(nm_mig_encode(&m, buf, 9 + 15, &len, NULL), 0);
	ck_assert_uint_eq(len, 24);
}
END_TEST

/* ------------------------------------------------ netmesh: only types, builder */

START_TEST(netmesh_types_roundtrip)
{
	const struct nm_mig_status st[] = {
		{ 1, NM_MIG_ROLE_NONE, NM_MIG_PHASE_NONE, 0, 0 },
		{ UINT64_MAX, NM_MIG_ROLE_MOVED, NM_MIG_PHASE_COMPLETE, UINT64_MAX, 0x9 },
		{ 7, 200, 77, 1, 2 }, /* unknown role/phase values are kept */
	};
	for (size_t i = 0; i < 3; i++) {
		struct nm_mig_msg m = { .type = NM_MIG_STATUS, .daemon_origin = i };
		m.status = st[i];
		uint8_t buf[64];
		size_t len = encode_ok(&m, buf, sizeof(buf));
		ck_assert_uint_eq(len, NM_MIG_STATUS_SIZE);
		struct nm_mig_msg d;
		decode_ok(buf, len, &d, NULL);
		assert_same_msg(&d, &m);
	}
	struct nm_mig_msg m = { .type = NM_MIG_MOVED, .daemon_origin = 0xD };
	m.moved.new_node = 0xE;
	uint8_t buf[64];
	size_t len = encode_ok(&m, buf, sizeof(buf));
	ck_assert_uint_eq(len, NM_MIG_MOVED_SIZE);
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	assert_same_msg(&d, &m);
	m = (struct nm_mig_msg){ .type = NM_MIG_QUERY, .daemon_origin = 0xD };
	m.query.nonce = 0xF00D;
	len = encode_ok(&m, buf, sizeof(buf));
	ck_assert_uint_eq(len, NM_MIG_QUERY_SIZE);
	decode_ok(buf, len, &d, NULL);
	assert_same_msg(&d, &m);
	m = (struct nm_mig_msg){ .type = NM_MIG_PREPARE, .daemon_origin = UINT64_MAX };
	m.prepare.target_node = 0xBEEF;
	len = encode_ok(&m, buf, sizeof(buf));
	ck_assert_uint_eq(len, NM_MIG_PREPARE_SIZE);
	decode_ok(buf, len, &d, NULL);
	assert_same_msg(&d, &m);
	m = (struct nm_mig_msg){ .type = NM_MIG_PREPARED, .daemon_origin = 0xD };
	m.prepared.mid = UINT64_MAX;
	len = encode_ok(&m, buf, sizeof(buf));
	ck_assert_uint_eq(len, NM_MIG_PREPARED_SIZE);
	decode_ok(buf, len, &d, NULL);
	assert_same_msg(&d, &m);
	ck_assert_int_eq(nm_mig_encode(&m, buf, NM_MIG_PREPARED_SIZE - 1, &len, NULL), -ENOSPC);
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_MOVED), "Moved");
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_QUERY), "MigrationQuery");
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_STATUS), "MigrationStatus");
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_PREPARE), "MigrationPrepare");
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_PREPARED), "MigrationPrepared");
	ck_assert_ptr_null(nm_mig_type_name(0x85));
	ck_assert_str_eq(nm_mig_type_name(NM_MIG_ACTIVATE_ACK), "ActivateAck");
	ck_assert_ptr_null(nm_mig_type_name(10));
	ck_assert_str_eq(nm_mig_phase_name(NM_MIG_PHASE_NONE), "None");
	ck_assert_str_eq(nm_mig_phase_name((enum nm_mig_phase)9), "?");
	ck_assert_uint_ge(NM_MIG_MOVED, NM_MIG_EXT_TYPE_MIN);
}
END_TEST

START_TEST(events_builder_matches_encode)
{
	uint8_t pay[10] = { 0 };
	const struct nm_event evs[3] = {
		{ { 1, 2, 3, 4 }, pay, 10, 5 },
		{ { 1, 2, 4, 5 }, pay, 10, 6 },
		{ { 1, 2, 5, 6 }, pay, 10, 7 },
	};
	uint8_t buf[130];
	struct nm_mig_events_builder b;
	ck_assert_int_eq(nm_mig_events_begin(&b, buf, 12, 0xAB), -ENOSPC);
	ck_assert_int_eq(nm_mig_events_begin(&b, buf, sizeof(buf), 0xAB), 0);
	ck_assert_int_eq(nm_mig_events_add(&b, &evs[0]), 0);
	ck_assert_int_eq(nm_mig_events_add(&b, &evs[1]), 0);
	ck_assert_int_eq(nm_mig_events_add(&b, &evs[2]), -ENOSPC); /* 121 + 54 > 130 */
	struct nm_event nullp = { { 0 }, NULL, 3, 0 };
	ck_assert_int_eq(nm_mig_events_add(&b, &nullp), -EINVAL);
	size_t len = nm_mig_events_finish(&b);
	ck_assert_uint_eq(len, 13 + 2 * 54);
	struct nm_mig_msg m = { .type = NM_MIG_BUFFERED_EVENTS, .daemon_origin = 0xAB };
	m.buffered.events = evs;
	m.buffered.count = 2;
	uint8_t want[256];
	ck_assert_uint_eq(encode_ok(&m, want, sizeof(want)), len);
	ck_assert_mem_eq(buf, want, len);
	struct nm_mig_msg d;
	decode_ok(buf, len, &d, NULL);
	assert_same_msg(&d, &m);
}
END_TEST

START_TEST(null_arguments)
{
	struct nm_mig_msg m;
	ck_assert_int_eq(nm_mig_decode((const uint8_t *)"\5", 1, NULL, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(nm_mig_encoded_size(NULL), 0);
	ck_assert_uint_eq(nm_mig_events_count(NULL), 0);
	struct nm_mig_events_iter it;
	struct nm_event ev;
	nm_mig_events_iter_init(&it, NULL);
	ck_assert(!nm_mig_events_iter_next(&it, &ev));
	memset(&m, 0, sizeof(m));
	m.type = NM_MIG_CLEANUP_COMPLETE;
	nm_mig_events_iter_init(&it, &m);
	ck_assert(!nm_mig_events_iter_next(&it, &ev));
	struct nm_mig_tlv_iter ti;
	struct nm_mig_tlv t;
	nm_mig_tlv_iter_init(&ti, NULL);
	ck_assert(!nm_mig_tlv_next(&ti, &t));
	ck_assert(!nm_mig_reason_is_retriable(NULL));
	nm_mig_reasm_free(NULL);
	nm_mig_reasm_cancel(NULL, 1);
	nm_mig_reasm_forget(NULL, 1);
	ck_assert_uint_eq(nm_mig_reasm_sweep(NULL, 0, 0), 0);
	ck_assert_uint_eq(nm_mig_reasm_pending_count(NULL), 0);
	nm_mig_assembled_free(NULL);
	ck_assert_uint_eq(nm_mig_ext_size(NULL), 0);
}
END_TEST

/* ---------------------------------------------------------------- suite */

static Suite *migwire_suite(void)
{
	Suite *s = suite_create("migwire");
	TCase *tc = tcase_create("upstream-wire");
	tcase_add_test(tc, test_wire_roundtrip_take_snapshot);
	tcase_add_test(tc, test_wire_roundtrip_snapshot_ready);
	tcase_add_test(tc, test_wire_roundtrip_chunked_snapshot);
	tcase_add_test(tc, test_wire_roundtrip_failed);
	tcase_add_test(tc, test_wire_roundtrip_buffered_events);
	tcase_add_test(tc, test_wire_encode_rejects_oversized_failure_reason);
	tcase_add_test(tc, test_wire_rejects_unknown_failure_code);
	tcase_add_test(tc, test_regression_wire_decode_rejects_zero_total_chunks);
	tcase_add_test(tc, test_regression_wire_decode_rejects_chunk_index_out_of_range);
	tcase_add_test(tc, test_regression_wire_decode_rejects_total_chunks_overflow);
	tcase_add_test(tc, test_wire_roundtrip_all_message_types);
	tcase_add_test(tc, test_gap_wire_decode_truncated_messages);
	tcase_add_test(tc, test_regression_buffered_events_rejects_unbounded_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("upstream-chunking");
	tcase_add_test(tc, test_chunk_snapshot_small);
	tcase_add_test(tc, test_chunk_snapshot_large);
	tcase_add_test(tc, test_regression_chunk_count_boundary);
	tcase_add_test(tc, test_gap_chunk_empty_snapshot);
	tcase_add_test(tc, chunk_count_too_large);
	tcase_add_test(tc, validate_chunk_header_accepts_well_formed_chunk_0);
	tcase_add_test(tc, validate_chunk_header_rejects_wrong_magic);
	tcase_add_test(tc, validate_chunk_header_rejects_wrong_version);
	tcase_add_test(tc, validate_chunk_header_rejects_wrong_origin_claim);
	tcase_add_test(tc, validate_chunk_header_rejects_too_short_chunk_0);
	tcase_add_test(tc, validate_chunk_header_passes_non_chunk_0_unchecked);
	suite_add_tcase(s, tc);

	tc = tcase_create("upstream-reassembler");
	tcase_set_timeout(tc, 60); /* two tests buffer 64 MiB */
	tcase_add_test(tc, test_reassembler_cancel);
	tcase_add_test(tc, test_regression_reassembler_rejects_chunk_index_out_of_range);
	tcase_add_test(tc, test_regression_reassembler_rejects_zero_total_chunks);
	tcase_add_test(tc, test_regression_reassembler_caps_total_chunks);
	tcase_add_test(tc, test_regression_reassembler_rejects_oversized_chunk);
	tcase_add_test(tc, test_regression_reassembler_rejects_total_chunks_mismatch);
	tcase_add_test(tc, reassembler_refuses_zero_byte_chunk);
	tcase_add_test(tc, fast_path_rejects_single_chunk_after_multi_chunk_state);
	tcase_add_test(tc, test_regression_reassembler_evicts_older_seq_per_daemon);
	tcase_add_test(tc, reassembler_refuses_chunk_that_overflows_pending_byte_cap);
	tcase_add_test(tc, reassembler_sweep_stale_drops_quiet_entries);
	tcase_add_test(tc, reassembler_sweep_keeps_progressing_entries);
	tcase_add_test(tc, reassembler_opportunistic_sweep_in_feed_drops_quiet_entries);
	tcase_add_test(tc, reassembler_sweep_stale_preserves_latest_seq);
	tcase_add_test(tc, reassembler_sweep_releases_buffer_parked_at_byte_cap);
	tcase_add_test(tc, test_regression_reassembler_distinct_daemons_coexist);
	tcase_add_test(tc, test_regression_reassembler_end_to_end_forged_chunk_cannot_complete);
	tcase_add_test(tc, test_reassembler_out_of_order_chunks);
	tcase_add_test(tc, test_reassembler_duplicate_chunks_handled);
	tcase_add_test(tc, test_regression_reassembler_rejects_mixed_seq_through);
	tcase_add_test(tc, target_failure_mid_chunking_releases_orchestrator_and_allows_retarget);
	tcase_add_test(tc, reassembler_cancel_is_idempotent_across_repeated_target_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("upstream-errors");
	tcase_add_test(tc, test_wrong_phase_error);
	tcase_add_test(tc, migration_failure_reason_is_retriable_only_for_not_ready);
	tcase_add_test(tc, migration_failure_reason_code_is_stable_and_unique);
	tcase_add_test(tc, migration_failure_reason_display_covers_every_variant);
	tcase_add_test(tc, migration_error_display_texts);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, vectors_encode_and_decode);
	tcase_add_test(tc, decode_error_texts);
	tcase_add_test(tc, decode_utf8_like_rust);
	tcase_add_test(tc, encode_error_texts);
	tcase_add_test(tc, netmesh_types_roundtrip);
	tcase_add_test(tc, events_builder_matches_encode);
	tcase_add_test(tc, null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("reassembler");
	tcase_add_test(tc, reasm_order_of_checks);
	tcase_add_test(tc, reasm_rejections_change_nothing);
	tcase_add_test(tc, reasm_duplicate_overwrites_with_byte_accounting);
	tcase_add_test(tc, reasm_single_chunk_paths);
	tcase_add_test(tc, reasm_bounded_origins_and_forget);
	tcase_add_test(tc, reasm_default_age_is_300s);
	tcase_add_test(tc, reasm_error_texts);
	suite_add_tcase(s, tc);

	tc = tcase_create("trailer");
	tcase_add_test(tc, trailer_roundtrip);
	tcase_add_test(tc, trailer_unknown_tlvs_skipped);
	tcase_add_test(tc, trailer_garbage_ignored);
	tcase_add_test(tc, trailer_on_every_message_type);
	tcase_add_test(tc, trailer_edge_cases);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(migwire_suite());
	srunner_set_fork_status(sr, CK_FORK); /* a crash fails one test, not the suite */
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

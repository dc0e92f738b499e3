/* SPDX-License-Identifier: MIT */
/*
 * test_blob.c - the blob-SIZE daemon kind (control/nm_builtin.h): kind
 * syntax, events, snapshot and restore with its checks, and the largest state
 * migrating sealed through the engine (the test pump, no loss).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "nm_ck.h"
#include "nm_test_pump.h"

static struct nm_error err;

static size_t parsed(const char *kind)
{
	size_t len = 0;
	ck_assert_msg(nm_blob_parse_kind(kind, &len, &err) == 0, "%s: %s", kind, err.msg);
	return len;
}

START_TEST(kind_syntax)
{
	ck_assert_uint_eq(parsed("blob-1MiB"), 1u << 20);
	ck_assert_uint_eq(parsed("blob-4KiB"), 4096);
	ck_assert_uint_eq(parsed("blob-16"), NM_BLOB_MIN);
	ck_assert_uint_eq(parsed("blob-67108561"), NM_BLOB_MAX);
	size_t len = 7;
	ck_assert_int_eq(nm_blob_parse_kind("echo", &len, &err), NM_ENOT_FOUND);
	ck_assert_int_eq(nm_blob_parse_kind("blob", &len, &err), NM_ENOT_FOUND);
	ck_assert_uint_eq(len, 7);
	ck_error(nm_blob_parse_kind("blob-", &len, &err), "wants SIZE in bytes, KiB or MiB");
	ck_error(nm_blob_parse_kind("blob-1GiB", &len, &err), "wants SIZE");
	ck_error(nm_blob_parse_kind("blob-012", &len, &err), "wants SIZE");
	ck_error(nm_blob_parse_kind("blob-1MiBx", &len, &err), "wants SIZE");
	ck_error(nm_blob_parse_kind("blob-15", &len, &err), "16..67108561 bytes");
	ck_error(nm_blob_parse_kind("blob-64MiB", &len, &err), "64 MiB reassembly cap");
	ck_error(nm_blob_parse_kind("blob-67108562", &len, &err), "16..67108561");
	ck_error(nm_blob_parse_kind("blob-99999999999999999999999", &len, &err), "16..67108561");
	/* The cap is exactly what a sealed snapshot leaves of the reassembler's entry. */
	ck_assert_uint_eq(NM_BLOB_MAX + NM_SNAPSHOT_MIN_SIZE + NM_IDENTITY_ENVELOPE_SIZE,
			  NM_MIG_MAX_PENDING_BYTES);
}
END_TEST

/* A started runtime on its own node, blob kinds registered by name. */
struct rig {
	struct nm_identity node_id, id;
	struct nm_node *node;
	struct nm_runtime *rt;
	struct nm_outputs *out;
};

static void rig_init(struct rig *r, const char *kind)
{
	ck_assert_int_eq(nm_identity_generate(&r->node_id), 0);
	ck_assert_int_eq(nm_identity_generate(&r->id), 0);
	r->node = nm_node_create(&r->node_id);
	r->rt = nm_runtime_create(r->node);
	ck_assert_ptr_nonnull(r->rt);
	ck_assert_int_eq(nm_builtin_register_all(r->rt, &err), 0);
	ck_assert_int_eq(nm_builtin_register_kind(r->rt, kind, &err), 0);
	ck_assert_int_eq(nm_builtin_register_kind(r->rt, kind, &err), 0); /* named twice: one kind */
	ck_assert_int_eq(nm_builtin_register_kind(r->rt, "echo", &err), 0); /* not a blob: nothing */
	ck_assert_int_eq(nm_runtime_start(r->rt, &err), 0);
	r->out = nm_outputs_create(8, 4096);
	ck_assert_ptr_nonnull(r->out);
}

static void rig_fini(struct rig *r)
{
	nm_outputs_free(r->out);
	nm_runtime_destroy(r->rt);
	nm_node_destroy(r->node);
	nm_identity_wipe(&r->id);
	nm_identity_wipe(&r->node_id);
}

/* One event; returns the output's digest and checks its count. */
static uint64_t poke(struct rig *r, uint64_t want_count, uint64_t payload)
{
	uint8_t b[12] = { 0 };
	nm_put_le64(b, payload);
	struct nm_event ev = { .link = { 1, 0, want_count, 0 }, .payload = b, .len = sizeof(b) };
	ck_assert_int_eq(nm_runtime_deliver(r->rt, r->id.origin_hash, &ev, r->out, &err), 0);
	ck_assert_uint_eq(r->out->n, 1);
	ck_assert_uint_eq(r->out->ev[0].len, 16);
	ck_assert_uint_eq(nm_get_le64(r->out->ev[0].payload), want_count);
	return nm_get_le64(r->out->ev[0].payload + 8);
}

static struct nm_snapshot *snap_of(struct rig *r)
{
	struct nm_snapshot *s = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(r->rt, r->id.origin_hash, &s, &err), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(events_change_the_state_and_answer_its_digest)
{
	struct rig r;
	rig_init(&r, "blob-100KiB");
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(r.rt, "blob-100KiB", &r.id, NULL, &h, &err), 0);
	struct nm_snapshot *s0 = snap_of(&r);
	ck_assert_uint_eq(s0->state_len, 100 * 1024);
	ck_assert_uint_eq(nm_get_le64(s0->state), 0);
	uint64_t d = 0;
	for (uint64_t k = 1; k <= 50; k++)
		d = poke(&r, k, k * 7);
	struct nm_snapshot *s = snap_of(&r);
	ck_assert_uint_eq(nm_get_le64(s->state), 50);
	ck_assert_uint_eq(nm_get_le64(s->state + 8), d);
	ck_assert_uint_eq(nm_blob_digest(s->state + NM_BLOB_HEADER, s->state_len - NM_BLOB_HEADER), d);
	/* 50 words changed, the rest is the spawn-time body. */
	size_t diff = 0;
	for (size_t i = NM_BLOB_HEADER; i < s->state_len; i += 8)
		diff += memcmp(s->state + i, s0->state + i, 8) != 0;
	ck_assert_uint_ge(diff, 45);
	ck_assert_uint_le(diff, 50);
	nm_snapshot_free(s0);
	nm_snapshot_free(s);
	rig_fini(&r);
}
END_TEST

/* Restore s as `kind` on a fresh runtime under r's identity; the result of the spawn. */
static int restore_as(struct rig *r, const char *kind, const struct nm_snapshot *s, struct rig *t)
{
	rig_init(t, kind);
	nm_identity_wipe(&t->id);
	t->id = r->id;
	struct nm_daemon_handle h;
	return nm_runtime_spawn_from_snapshot(t->rt, kind, &t->id, s, NULL, &h, &err);
}

START_TEST(restore_continues_and_refuses_a_wrong_size_or_a_corrupt_body)
{
	struct rig r, t;
	rig_init(&r, "blob-20000");
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(r.rt, "blob-20000", &r.id, NULL, &h, &err), 0);
	for (uint64_t k = 1; k <= 9; k++)
		poke(&r, k, k);
	struct nm_snapshot *s = snap_of(&r);
	uint64_t want = poke(&r, 10, 10);

	ck_assert_int_eq(restore_as(&r, "blob-20000", s, &t), 0);
	ck_assert_uint_eq(poke(&t, 10, 10), want); /* the same state: the same answer */
	rig_fini(&t);

	ck_error(restore_as(&r, "blob-20008", s, &t), "blob state must be 20008 bytes (its kind), got 20000");
	rig_fini(&t);

	s->state[5000] ^= 1; /* one flipped bit */
	ck_error(restore_as(&r, "blob-20000", s, &t), "blob state corrupt");
	rig_fini(&t);
	s->state[5000] ^= 1;

	/* Two 7000-byte runs swapped (chunks delivered in the wrong place): same words, other indexes. */
	uint8_t tmp[7000];
	memcpy(tmp, s->state + 100, sizeof(tmp));
	memcpy(s->state + 100, s->state + 7100, sizeof(tmp));
	memcpy(s->state + 7100, tmp, sizeof(tmp));
	ck_error(restore_as(&r, "blob-20000", s, &t), "blob state corrupt");
	rig_fini(&t);

	nm_snapshot_free(s);
	rig_fini(&r);
}
END_TEST

START_TEST(an_empty_event_without_a_payload_counts)
{
	struct rig r;
	rig_init(&r, "blob-64");
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(r.rt, "blob-64", &r.id, NULL, &h, &err), 0);
	struct nm_event ev = { .link = { 1, 0, 1, 0 }, .payload = NULL, .len = 0 };
	ck_assert_int_eq(nm_runtime_deliver(r.rt, r.id.origin_hash, &ev, r.out, &err), 0);
	ck_assert_uint_eq(nm_get_le64(r.out->ev[0].payload), 1);
	rig_fini(&r);
}
END_TEST

START_TEST(a_state_below_one_word_still_counts)
{
	struct rig r;
	rig_init(&r, "blob-21");
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(r.rt, "blob-21", &r.id, NULL, &h, &err), 0);
	uint64_t d = poke(&r, 1, 1);
	ck_assert_uint_eq(poke(&r, 2, 2), d); /* no body word to change: the digest stays */
	rig_fini(&r);
}
END_TEST

/* ---- the largest state, migrated sealed through the engine ---- */

static void max_kinds(struct nm_runtime *rt, void *ctx)
{
	ck_assert_int_eq(nm_builtin_register_kind(rt, ctx, NULL), 0);
}

START_TEST(the_largest_state_migrates_sealed_and_answers_on_the_target)
{
	static char kind[32];
	snprintf(kind, sizeof(kind), "blob-%u", NM_BLOB_MAX);
	struct nm_pump p;
	nm_pump_init(&p, 2, 0xB10B, max_kinds, kind);
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(p.nodes[0].rt, kind, &id, NULL, &h, &err), 0);
	ck_assert_int_eq(nm_runtime_expect_migration(p.nodes[1].rt, kind, id.origin_hash, NULL, &err), 0);
	struct nm_outputs *out = nm_outputs_create(8, 4096);
	uint8_t b[8] = { 1 };
	struct nm_event ev = { .link = { 1, 0, 1, 0 }, .payload = b, .len = sizeof(b) };
	ck_assert_int_eq(nm_runtime_deliver(p.nodes[0].rt, id.origin_hash, &ev, out, &err), 0);
	struct nm_mig_opts opts = nm_mig_opts_default();
	ck_assert_int_eq(nm_mig_start(p.nodes[0].mig, id.origin_hash, nm_pump_nid(&p, 0),
				      nm_pump_nid(&p, 1), &opts, p.now, &err), 0);
	struct nm_mig_info hi[1];
	for (int s = 0; s < 100000 && nm_mig_history(p.nodes[0].mig, hi, 1) == 0; s++)
		nm_pump_step(&p);
	ck_assert_uint_eq(nm_mig_history(p.nodes[0].mig, hi, 1), 1);
	ck_assert_msg(hi[0].ok, "migration failed: %s", hi[0].reason);
	ck_assert(!nm_runtime_has_daemon(p.nodes[0].rt, id.origin_hash));
	ev.link.sequence = 2;
	ck_assert_int_eq(nm_runtime_deliver(p.nodes[1].rt, id.origin_hash, &ev, out, &err), 0);
	ck_assert_uint_eq(out->n, 1);
	ck_assert_uint_eq(nm_get_le64(out->ev[0].payload), 2); /* the count came along */
	nm_outputs_free(out);
	nm_identity_wipe(&id);
	nm_pump_fini(&p);
}
END_TEST

static Suite *blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("blob");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, kind_syntax);
	tcase_add_test(tc, events_change_the_state_and_answer_its_digest);
	tcase_add_test(tc, restore_continues_and_refuses_a_wrong_size_or_a_corrupt_body);
	tcase_add_test(tc, a_state_below_one_word_still_counts);
	tcase_add_test(tc, an_empty_event_without_a_payload_counts);
	tcase_add_test(tc, the_largest_state_migrates_sealed_and_answers_on_the_target);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blob_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

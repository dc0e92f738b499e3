/* SPDX-License-Identifier: MIT */
/*
 * test_statedir.c - state that survives restarts: the chain-head extension
 * (nm_snapshot.h / nm_host.h), the state directory (nm_statedir.h): file
 * format, atomic writes, bad files set aside, crash safety, periodic ticks.
 * The runtime stands on a mesh, so EAL runs once (no hugepages, net_null0).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nm_builtin.h"
#include "nm_mesh.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_test.h"

/* ---- fixtures ---- */

static struct nm_runtime *runtime_new(void)
{
	return nm_test_runtime_new();
}

static void runtime_free(struct nm_runtime *rt)
{
	nm_test_runtime_free(rt);
}

/*
 * tally: adds up the bytes of every event and answers "tally=<total>". Its
 * state (LE64 total) is NOT its last output, so upstream's restore fallback
 * (parent hash over the state) breaks its chain; the extension must not.
 */
struct tally {
	struct nm_daemon base;
	uint64_t total;
};

static int tally_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	struct tally *t = (struct tally *)d;
	char reply[32];
	(void)err;
	t->total += ev->len;
	int n = snprintf(reply, sizeof(reply), "tally=%" PRIu64, t->total);
	return nm_emit(out, reply, (uint32_t)n);
}

static int tally_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	uint8_t le[8];
	uint64_t v = ((const struct tally *)d)->total;
	(void)err;
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	return nm_bytes_append(out, le, sizeof(le));
}

static int tally_restore(struct nm_daemon *d, const uint8_t *state, size_t len,
			 struct nm_error *err)
{
	if (len != 8)
		return nm_error_set(err, NM_ERESTORE_FAILED, "tally state must be 8 bytes, got %zu", len);
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | state[i];
	((struct tally *)d)->total = v;
	return 0;
}

static void tally_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops tally_ops = {
	.name = "tally",
	.process = tally_process,
	.snapshot = tally_snapshot,
	.restore = tally_restore,
	.destroy = tally_destroy,
};

static struct nm_daemon *tally_new(void *ctx)
{
	(void)ctx;
	struct tally *t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->base.ops = &tally_ops;
	return t != NULL ? &t->base : NULL;
}

/* A started runtime with the builtins and "tally". */
static struct nm_runtime *runtime_ready(void)
{
	struct nm_runtime *rt = runtime_new();
	struct nm_error err;
	ck_assert_int_eq(nm_builtin_register_all(rt, &err), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "tally", tally_new, NULL, &err), 0);
	ck_assert_int_eq(nm_runtime_start(rt, &err), 0);
	return rt;
}

static struct nm_identity gen(void)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	return id;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The last output seen on a chain, kept to validate the next one against it. */
struct last_out {
	struct nm_causal_link link;
	uint8_t payload[64];
	uint32_t len;
	bool valid;
};

/*
 * Deliver one event and check the chain link by link: the output must
 * follow the previous one. Returns the verdict of that check (NM_CHAIN_OK on
 * the first output seen).
 */
static enum nm_chain_verdict step(struct nm_runtime *rt, uint64_t origin, struct last_out *last,
				  struct nm_outputs *out)
{
	static uint64_t seq;
	struct nm_event ev = { .link = { .origin_hash = 0xC11E17, .sequence = ++seq },
			       .payload = (const uint8_t *)"event",
			       .len = 5 };
	struct nm_error err;
	int rc = nm_runtime_deliver(rt, origin, &ev, out, &err);
	ck_assert_msg(rc == 0, "deliver: %s", err.msg);
	ck_assert_uint_eq(out->n, 1);
	enum nm_chain_verdict v = NM_CHAIN_OK;
	if (last->valid)
		v = nm_chain_validate(&last->link, last->payload, last->len, &out->ev[0].link, NULL);
	ck_assert_uint_le(out->ev[0].len, sizeof(last->payload));
	last->link = out->ev[0].link;
	last->len = out->ev[0].len;
	memcpy(last->payload, out->ev[0].payload, last->len);
	last->valid = true;
	return v;
}

/* Run n events through a daemon, each link validated. */
static void steps_ok(struct nm_runtime *rt, uint64_t origin, struct last_out *last, int n,
		     struct nm_outputs *out)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(step(rt, origin, last, out), NM_CHAIN_OK);
}

static struct nm_outputs *outputs(void)
{
	struct nm_outputs *o = nm_outputs_create(8, 1024);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* CDS1 bytes and back: what crosses a wire or a file (no in-memory extras). */
static struct nm_snapshot *cds1_roundtrip(const struct nm_snapshot *s)
{
	size_t n = nm_snapshot_wire_size(s), w = 0;
	uint8_t *buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, n, &w), 0);
	struct nm_snapshot *d = NULL;
	ck_assert_int_eq(nm_snapshot_decode(buf, w, &d, NULL), 0);
	free(buf);
	return d;
}

/* ---- the chain-head extension (host/runtime) ---- */

/* An in-process snapshot carries the next parent hash: tally's chain continues. */
START_TEST(chain_head_snapshot_restore_continues_a_daemon_whose_state_is_not_its_output)
{
	struct nm_runtime *rt = runtime_ready();
	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	ck_assert_int_eq(nm_runtime_spawn(rt, "tally", &id, NULL, &h, NULL), 0);
	steps_ok(rt, id.origin_hash, &last, 7, out);

	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(rt, id.origin_hash, &snap, NULL), 0);
	ck_assert_ptr_nonnull(snap);
	ck_assert(snap->has_next_parent);
	ck_assert_uint_eq(snap->next_parent, nm_parent_hash(&last.link, last.payload, last.len));
	ck_assert_int_eq(nm_runtime_stop(rt, id.origin_hash, NULL), 0);

	struct nm_runtime *rt2 = runtime_ready();
	struct nm_error err;
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt2, "tally", &id, snap, NULL, &h, &err), 0);
	ck_assert_int_eq(step(rt2, id.origin_hash, &last, out), NM_CHAIN_OK);
	ck_assert_uint_eq(last.link.sequence, 8);
	ck_assert_str_eq((const char *)last.payload, "tally=40");
	steps_ok(rt2, id.origin_hash, &last, 3, out);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
	runtime_free(rt2);
	runtime_free(rt);
}
END_TEST

/*
 * A snapshot decoded from CDS1 has no extension: upstream's fallback (parent
 * over the state) applies, which breaks tally's chain; giving the decoded
 * snapshot the recorded next parent hash repairs it.
 */
START_TEST(chain_head_decoded_snapshot_falls_back_unless_given_the_next_parent)
{
	struct nm_runtime *rt = runtime_ready();
	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	ck_assert_int_eq(nm_runtime_spawn(rt, "tally", &id, NULL, &h, NULL), 0);
	steps_ok(rt, id.origin_hash, &last, 4, out);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(rt, id.origin_hash, &snap, NULL), 0);
	runtime_free(rt);

	struct nm_snapshot *wire = cds1_roundtrip(snap);
	ck_assert(!wire->has_next_parent);
	struct last_out l1 = last;
	rt = runtime_ready();
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt, "tally", &id, wire, NULL, &h, NULL), 0);
	ck_assert_int_eq(step(rt, id.origin_hash, &l1, out), NM_CHAIN_PARENT_MISMATCH);
	runtime_free(rt);

	nm_snapshot_set_next_parent(wire, snap->next_parent);
	rt = runtime_ready();
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt, "tally", &id, wire, NULL, &h, NULL), 0);
	ck_assert_int_eq(step(rt, id.origin_hash, &last, out), NM_CHAIN_OK);
	ck_assert_str_eq((const char *)last.payload, "tally=25");
	runtime_free(rt);
	nm_snapshot_free(wire);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
}
END_TEST

/* Upstream's fallback still holds for the counter (state == last output). */
START_TEST(chain_head_decoded_counter_snapshot_continues_by_upstream_fallback)
{
	struct nm_runtime *rt = runtime_ready();
	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	ck_assert_int_eq(nm_runtime_spawn(rt, "counter", &id, NULL, &h, NULL), 0);
	steps_ok(rt, id.origin_hash, &last, 3, out);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(rt, id.origin_hash, &snap, NULL), 0);
	runtime_free(rt);
	struct nm_snapshot *wire = cds1_roundtrip(snap);
	rt = runtime_ready();
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt, "counter", &id, wire, NULL, &h, NULL), 0);
	ck_assert_int_eq(step(rt, id.origin_hash, &last, out), NM_CHAIN_OK);
	ck_assert_uint_eq(le64(last.payload), 4);
	runtime_free(rt);
	nm_snapshot_free(wire);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
}
END_TEST

static Suite *statedir_suite(void)
{
	Suite *s = suite_create("statedir");
	TCase *ch = tcase_create("chain-head");
	tcase_add_test(ch, chain_head_snapshot_restore_continues_a_daemon_whose_state_is_not_its_output);
	tcase_add_test(ch, chain_head_decoded_snapshot_falls_back_unless_given_the_next_parent);
	tcase_add_test(ch, chain_head_decoded_counter_snapshot_continues_by_upstream_fallback);
	suite_add_tcase(s, ch);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init(argv[0]);
	return nm_test_run_nofork(statedir_suite());
}

/* SPDX-License-Identifier: MIT */
/*
 * test_runtime.c - the compute runtime, pinned test by test by upstream's
 * sdk/tests/compute_runtime.rs (seed 000): each START_TEST below named like a
 * seed test is its one-to-one twin, with the same assertions. Then host and
 * registry invariants (compute.md §15.D) and bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include <xxhash.h>

#include "nm_builtin.h"
#include "nm_factory_registry.h"
#include "nm_host.h"
#include "nm_mesh.h"
#include "nm_registry.h"
#include "nm_runtime.h"
#include "nm_test.h"
#include "nm_u64map.h"

/* ---- fixtures ---- */

static struct nm_runtime *runtime_new(void)
{
	return nm_test_runtime_new();
}

static void runtime_free(struct nm_runtime *rt)
{
	nm_test_runtime_free(rt);
}

static struct nm_identity gen(void)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	return id;
}

static struct nm_event event(uint64_t origin, uint64_t seq, const char *payload)
{
	struct nm_event ev = {
		.link = { .origin_hash = origin, .horizon_encoded = 0, .sequence = seq, .parent_hash = 0 },
		.payload = (const uint8_t *)payload,
		.len = (uint32_t)strlen(payload),
		.received_at = 0,
	};
	return ev;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static struct nm_outputs *outputs(void)
{
	struct nm_outputs *o = nm_outputs_create(64, 8192);
	ck_assert_ptr_nonnull(o);
	return o;
}

static const struct nm_host_config *cfg_default(void);

/* runtime_new + register one kind + start: the usual seed-test preamble. */
static struct nm_runtime *started_runtime(const char *kind, nm_daemon_factory_fn fn)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_register_factory(rt, kind, fn, NULL, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	return rt;
}

static struct nm_daemon_handle spawn_ok(struct nm_runtime *rt, const char *kind,
					const struct nm_identity *id)
{
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(rt, kind, id, cfg_default(), &h, &err);
	ck_assert_msg(rc == 0, "spawn %s: %s", kind, err.msg);
	return h;
}

static const struct nm_host_config *cfg_default(void)
{
	static struct nm_host_config c;
	c = nm_host_config_default();
	return &c;
}

/* ---- Lifecycle ---- */

START_TEST(registering_rejects_spawn_with_not_ready)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_register_factory(rt, "echo", nm_echo_new, NULL, NULL), 0);

	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(rt, "echo", &id, cfg_default(), &h, &err);
	ck_assert_msg(rc == NM_ENOT_READY, "expected NotReady, got %s", nm_strerror(rc));
	ck_assert_int_eq(err.code, NM_ENOT_READY);
	ck_assert(!nm_runtime_is_ready(rt));
	runtime_free(rt);
}
END_TEST

START_TEST(start_is_idempotent)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert(nm_runtime_is_ready(rt));
	runtime_free(rt);
}
END_TEST

START_TEST(shutdown_rejects_subsequent_spawn_and_register)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);

	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	int rc = nm_runtime_spawn(rt, "echo", &id, cfg_default(), &h, NULL);
	ck_assert_msg(rc == NM_ESHUTTING_DOWN, "expected ShuttingDown, got %s", nm_strerror(rc));

	rc = nm_runtime_register_factory(rt, "echo", nm_echo_new, NULL, NULL);
	ck_assert_msg(rc == NM_ESHUTTING_DOWN, "expected ShuttingDown, got %s", nm_strerror(rc));
	runtime_free(rt);
}
END_TEST

START_TEST(register_factory_rejects_duplicate_kind)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_register_factory(rt, "echo", nm_echo_new, NULL, NULL), 0);
	struct nm_error err;
	int rc = nm_runtime_register_factory(rt, "echo", nm_echo_new, NULL, &err);
	ck_assert_msg(rc == NM_EFACTORY_EXISTS, "expected FactoryAlreadyRegistered, got %s",
		      nm_strerror(rc));
	ck_assert_str_eq(err.kind, "echo");
	runtime_free(rt);
}
END_TEST

START_TEST(register_new_kind_after_ready_is_allowed)
{
	/* Ready does not freeze the factory table; only ShuttingDown rejects. */
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "late", nm_echo_new, NULL, NULL), 0);
	struct nm_identity id = gen();
	spawn_ok(rt, "late", &id);
	runtime_free(rt);
}
END_TEST

/* ---- Local spawn / deliver / stop ---- */

START_TEST(echo_daemon_roundtrip)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);

	struct nm_identity id = gen();
	uint64_t origin = id.origin_hash;
	struct nm_daemon_handle h = spawn_ok(rt, "echo", &id);
	ck_assert_uint_eq(h.origin_hash, origin);

	struct nm_outputs *out = outputs();
	struct nm_event ev = event(origin, 1, "ping");
	ck_assert_int_eq(nm_runtime_deliver(rt, h.origin_hash, &ev, out, NULL), 0);
	ck_assert_uint_eq(out->n, 1);
	ck_assert_uint_eq(out->ev[0].len, 4);
	ck_assert_mem_eq(out->ev[0].payload, "ping", 4);

	struct nm_daemon_stats st;
	ck_assert_int_eq(nm_daemon_handle_stats(&h, &st, NULL), 0);
	ck_assert_uint_eq(st.events_processed, 1);
	ck_assert_uint_eq(st.events_emitted, 1);
	nm_outputs_free(out);
	runtime_free(rt);
}
END_TEST

START_TEST(counter_snapshot_round_trip_through_runtime)
{
	struct nm_runtime *rt = started_runtime("counter", nm_counter_new);

	struct nm_identity id = gen();
	uint64_t origin = id.origin_hash;
	struct nm_daemon_handle h = spawn_ok(rt, "counter", &id);

	struct nm_outputs *out = outputs();
	for (uint64_t i = 1; i <= 5; i++) {
		struct nm_event ev = event(origin, i, "tick");
		ck_assert_int_eq(nm_runtime_deliver(rt, h.origin_hash, &ev, out, NULL), 0);
		ck_assert_uint_eq(out->n, 1);
		ck_assert_uint_eq(out->ev[0].len, 8);
		ck_assert_uint_eq(le64(out->ev[0].payload), i);
	}

	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_daemon_handle_snapshot(&h, &snap, NULL), 0);
	ck_assert_msg(snap != NULL, "counter is stateful");
	ck_assert_uint_eq(snap->through_seq, 5);

	/* Stop and re-spawn from the snapshot under the SAME identity. */
	ck_assert_int_eq(nm_runtime_stop(rt, h.origin_hash, NULL), 0);
	struct nm_daemon_handle re;
	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt, "counter", &id, snap, cfg_default(), &re,
							NULL),
			 0);

	/* The counter survived: the next event reports 6, not 1. */
	struct nm_event ev = event(origin, 6, "resumed");
	ck_assert_int_eq(nm_runtime_deliver(rt, re.origin_hash, &ev, out, NULL), 0);
	ck_assert_uint_eq(out->n, 1);
	ck_assert_uint_eq(le64(out->ev[0].payload), 6);

	nm_snapshot_free(snap);
	nm_outputs_free(out);
	runtime_free(rt);
}
END_TEST

START_TEST(spawn_from_snapshot_rejects_identity_mismatch)
{
	struct nm_runtime *rt = started_runtime("counter", nm_counter_new);

	struct nm_identity a = gen();
	struct nm_daemon_handle h = spawn_ok(rt, "counter", &a);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_daemon_handle_snapshot(&h, &snap, NULL), 0);
	ck_assert_msg(snap != NULL, "counter is stateful");
	ck_assert_int_eq(nm_runtime_stop(rt, h.origin_hash, NULL), 0);

	/* A different identity is rejected: the snapshot is tied to its entity_id. */
	struct nm_identity b = gen();
	ck_assert_msg(a.origin_hash != b.origin_hash, "fixture: fresh identity must differ");
	struct nm_daemon_handle hb;
	int rc = nm_runtime_spawn_from_snapshot(rt, "counter", &b, snap, cfg_default(), &hb, NULL);
	ck_assert_msg(rc == NM_ESNAPSHOT_IDENTITY, "expected SnapshotIdentityMismatch, got %s",
		      nm_strerror(rc));
	nm_snapshot_free(snap);
	runtime_free(rt);
}
END_TEST

/*
 * Brute-force two seeds whose origin_hash agree on the low 32 bits (the
 * routed projection) with different entity_ids, as upstream does: seed = i as
 * LE u64, first collision, at most 300 000 attempts.
 */
struct probe {
	uint32_t key;
	int32_t idx; /* -1: empty */
};

static bool find_u32_collision(struct nm_identity *a, struct nm_identity *b)
{
	const size_t cap = 1u << 20; /* > 2 * 300 000 */
	struct probe *seen = malloc(cap * sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	for (size_t i = 0; i < cap; i++)
		seen[i].idx = -1;
	bool found = false;
	for (int32_t i = 0; i < 300000 && !found; i++) {
		uint8_t seed[32] = { 0 };
		for (int k = 0; k < 8; k++)
			seed[k] = (uint8_t)((uint64_t)i >> (8 * k));
		struct nm_identity id;
		ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
		uint32_t h = (uint32_t)id.origin_hash;
		size_t s = (h * 2654435761u) & (cap - 1);
		while (seen[s].idx >= 0 && seen[s].key != h)
			s = (s + 1) & (cap - 1);
		if (seen[s].idx >= 0) {
			uint8_t prior_seed[32] = { 0 };
			for (int k = 0; k < 8; k++)
				prior_seed[k] = (uint8_t)((uint64_t)seen[s].idx >> (8 * k));
			struct nm_identity prior;
			ck_assert_int_eq(nm_identity_from_seed(&prior, prior_seed), 0);
			if (!nm_entity_id_equal(nm_identity_entity_id(&prior),
						nm_identity_entity_id(&id))) {
				*a = prior;
				*b = id;
				found = true;
			}
		}
		seen[s].key = h;
		seen[s].idx = i;
	}
	free(seen);
	return found;
}

START_TEST(spawn_from_snapshot_checks_full_entity_id_not_just_origin_hash)
{
	struct nm_identity a, b;
	ck_assert_msg(find_u32_collision(&a, &b),
		      "no origin_hash collision found within the attempt budget");
	ck_assert_msg((uint32_t)a.origin_hash == (uint32_t)b.origin_hash,
		      "fixture: pair must collide on the u32 routing projection of origin_hash");
	ck_assert_msg(!nm_entity_id_equal(nm_identity_entity_id(&a), nm_identity_entity_id(&b)),
		      "fixture: pair must have different entity_ids");

	struct nm_runtime *rt = started_runtime("counter", nm_counter_new);

	struct nm_daemon_handle h = spawn_ok(rt, "counter", &a);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_daemon_handle_snapshot(&h, &snap, NULL), 0);
	ck_assert_msg(snap != NULL, "counter is stateful");
	ck_assert_int_eq(nm_runtime_stop(rt, h.origin_hash, NULL), 0);

	/* Must be the typed mismatch, not a Core(RestoreFailed) from the host backstop. */
	struct nm_daemon_handle hb;
	int rc = nm_runtime_spawn_from_snapshot(rt, "counter", &b, snap, cfg_default(), &hb, NULL);
	ck_assert_msg(!nm_error_is_core(rc),
		      "origin_hash collision slipped past the runtime check and was only caught by "
		      "the core backstop (%s)",
		      nm_strerror(rc));
	ck_assert_msg(rc == NM_ESNAPSHOT_IDENTITY, "expected SnapshotIdentityMismatch, got %s",
		      nm_strerror(rc));
	nm_snapshot_free(snap);
	runtime_free(rt);
}
END_TEST

struct observer {
	struct nm_runtime *rt;
	atomic_bool gap_witnessed;
	atomic_bool done;
	atomic_uint first_ready_tick;
};

static void *observe_ready(void *arg)
{
	struct observer *o = arg;
	struct nm_node *node = nm_runtime_node(o->rt);
	uint32_t ticks = 0;
	for (;;) {
		if (nm_runtime_is_ready(o->rt)) {
			if (!nm_node_has_migration_handler(node))
				atomic_store(&o->gap_witnessed, true);
			atomic_store(&o->first_ready_tick, ticks);
			return NULL;
		}
		ticks = ticks == UINT32_MAX ? ticks : ticks + 1;
		if ((ticks & 0xFFFF) == 0)
			sched_yield();
		if (atomic_load(&o->done))
			return NULL;
	}
}

START_TEST(start_installs_handler_before_publishing_ready)
{
	for (unsigned trial = 0; trial < 64; trial++) {
		struct nm_runtime *rt = runtime_new();
		struct observer o = { .rt = rt };
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, observe_ready, &o), 0);
		usleep(50); /* let the observer reach its spin loop */
		ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
		atomic_store(&o.done, true);
		pthread_join(t, NULL);
		ck_assert_msg(!atomic_load(&o.gap_witnessed),
			      "trial %u: observed Ready-without-handler gap", trial);
		runtime_free(rt);
	}
}
END_TEST

struct contender {
	struct nm_runtime *rt;
	atomic_uint *oks;
	atomic_uint *dupes;
	atomic_uint *others;
};

static void *register_contended(void *arg)
{
	struct contender *c = arg;
	int rc = nm_runtime_register_factory(c->rt, "contended-kind", nm_echo_new, NULL, NULL);
	if (rc == 0)
		atomic_fetch_add(c->oks, 1);
	else if (rc == NM_EFACTORY_EXISTS)
		atomic_fetch_add(c->dupes, 1);
	else
		atomic_fetch_add(c->others, 1);
	return NULL;
}

START_TEST(register_factory_concurrent_same_kind_admits_exactly_one)
{
	enum { THREADS = 32 };
	struct nm_runtime *rt = runtime_new();
	atomic_uint oks = 0, dupes = 0, others = 0;
	struct contender c = { rt, &oks, &dupes, &others };
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, register_contended, &c), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(atomic_load(&others) == 0, "unexpected register_factory results: %u",
		      atomic_load(&others));
	ck_assert_msg(atomic_load(&oks) == 1,
		      "exactly one concurrent register_factory call must succeed; got %u",
		      atomic_load(&oks));
	ck_assert_msg(atomic_load(&dupes) == THREADS - 1,
		      "the other %d callers must see FactoryAlreadyRegistered", THREADS - 1);
	runtime_free(rt);
}
END_TEST

struct call_result {
	struct nm_runtime *rt;
	int rc;
};

static void *start_thread(void *arg)
{
	struct call_result *r = arg;
	r->rc = nm_runtime_start(r->rt, NULL);
	return NULL;
}

START_TEST(start_losing_race_to_shutdown_clears_handler)
{
	struct nm_runtime *rt = runtime_new();
	nm_runtime_set_start_stall_ms(rt, 100);
	struct call_result r = { rt, 1 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, start_thread, &r), 0);

	usleep(20 * 1000);
	ck_assert_msg(nm_node_has_migration_handler(nm_runtime_node(rt)),
		      "fixture: start should have installed the handler by now");
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	pthread_join(t, NULL);

	ck_assert_msg(r.rc == NM_ESHUTTING_DOWN,
		      "start racing with shutdown must return ShuttingDown; got %s",
		      nm_strerror(r.rc));
	ck_assert_msg(!nm_node_has_migration_handler(nm_runtime_node(rt)),
		      "start() that lost the race to shutdown must clear its own handler install");
	runtime_free(rt);
}
END_TEST

/*
 * Deterministic companion of the observer race above (not a seed test): in
 * the stall between handler install and the Ready CAS, the handler is visible
 * and Ready is not. Fails for either wrong ordering, every run.
 */
START_TEST(ready_is_published_only_after_handler_install)
{
	struct nm_runtime *rt = runtime_new();
	nm_runtime_set_start_stall_ms(rt, 100);
	struct call_result r = { rt, 1 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, start_thread, &r), 0);
	usleep(20 * 1000);
	ck_assert(nm_node_has_migration_handler(nm_runtime_node(rt)));
	ck_assert(!nm_runtime_is_ready(rt));
	pthread_join(t, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert(nm_runtime_is_ready(rt));
	ck_assert(nm_node_has_migration_handler(nm_runtime_node(rt)));
	ck_assert(nm_node_migration_ready(nm_runtime_node(rt)));
	runtime_free(rt);
}
END_TEST

START_TEST(shutdown_clears_migration_handler)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert_msg(nm_node_has_migration_handler(nm_runtime_node(rt)),
		      "fixture: handler should be installed after start");
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	ck_assert_msg(!nm_node_has_migration_handler(nm_runtime_node(rt)),
		      "shutdown must uninstall the handler");
	runtime_free(rt);
}
END_TEST

struct spawn_call {
	struct nm_runtime *rt;
	struct nm_identity id;
	int rc;
};

static void *spawn_thread(void *arg)
{
	struct spawn_call *s = arg;
	struct nm_daemon_handle h;
	s->rc = nm_runtime_spawn(s->rt, "echo", &s->id, NULL, &h, NULL);
	return NULL;
}

START_TEST(spawn_racing_with_shutdown_does_not_leave_daemon_registered)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);
	nm_runtime_set_spawn_stall_ms(rt, 100);

	struct spawn_call s = { .rt = rt, .id = gen(), .rc = 1 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, spawn_thread, &s), 0);
	/* Shutdown flips state and sweeps while spawn is parked in its stall. */
	usleep(20 * 1000);
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	pthread_join(t, NULL);

	ck_assert_msg(nm_runtime_daemon_count(rt) == 0,
		      "daemon survived shutdown (spawn returned %s)", nm_strerror(s.rc));
	ck_assert_msg(s.rc == NM_ESHUTTING_DOWN,
		      "spawn racing with shutdown must return ShuttingDown; got %s",
		      nm_strerror(s.rc));
	runtime_free(rt);
}
END_TEST

START_TEST(spawn_unknown_kind_errors)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(rt, "never-registered", &id, cfg_default(), &h, &err);
	ck_assert_msg(rc == NM_EFACTORY_NOT_FOUND, "expected FactoryNotFound, got %s",
		      nm_strerror(rc));
	ck_assert_str_eq(err.kind, "never-registered");
	runtime_free(rt);
}
END_TEST

START_TEST(spawn_same_identity_twice_is_rejected)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);

	struct nm_identity id = gen();
	struct nm_daemon_handle h = spawn_ok(rt, "echo", &id);
	struct nm_error err;
	int rc = nm_runtime_spawn(rt, "echo", &id, cfg_default(), &h, &err);
	/* Core(ProcessFailed("... already registered")) from the atomic factory registry. */
	ck_assert_msg(rc == NM_EPROCESS_FAILED && nm_error_is_core(rc),
		      "expected Core(ProcessFailed(already registered)); got %s", nm_strerror(rc));
	ck_assert_msg(strstr(err.msg, "already registered") != NULL,
		      "expected 'already registered' in message, got '%s'", err.msg);
	ck_assert_msg(strstr(err.msg, "factory for origin_hash") != NULL,
		      "collision must be caught by the factory registry first, got '%s'", err.msg);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 1);

	struct nm_snapshot *snap = (struct nm_snapshot *)1;
	ck_assert_int_eq(nm_runtime_snapshot(rt, id.origin_hash, &snap, NULL), 0);
	ck_assert_msg(snap == NULL, "EchoDaemon is stateless, so snapshot returns no state");
	runtime_free(rt);
}
END_TEST

START_TEST(duplicate_spawn_from_snapshot_does_not_corrupt_first_daemon)
{
	struct nm_runtime *rt = started_runtime("counter", nm_counter_new);

	struct nm_identity id = gen();
	struct nm_daemon_handle h = spawn_ok(rt, "counter", &id);
	struct nm_outputs *out = outputs();
	for (uint64_t i = 1; i <= 2; i++) {
		struct nm_event ev = event(h.origin_hash, i, "tick");
		ck_assert_int_eq(nm_runtime_deliver(rt, h.origin_hash, &ev, out, NULL), 0);
	}
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_daemon_handle_snapshot(&h, &snap, NULL), 0);
	ck_assert_msg(snap != NULL, "counter is stateful");

	struct nm_daemon_handle dup;
	struct nm_error err;
	int rc = nm_runtime_spawn_from_snapshot(rt, "counter", &id, snap, cfg_default(), &dup, &err);
	ck_assert_msg(rc == NM_EPROCESS_FAILED, "expected Core(ProcessFailed), got %s",
		      nm_strerror(rc));
	ck_assert_msg(strstr(err.msg, "already registered") != NULL,
		      "expected 'already registered' in message, got '%s'", err.msg);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 1);

	/* The incumbent keeps its state: 3, not a reset. */
	struct nm_event ev = event(h.origin_hash, 3, "post-dupe");
	ck_assert_int_eq(nm_runtime_deliver(rt, h.origin_hash, &ev, out, NULL), 0);
	ck_assert_msg(le64(out->ev[0].payload) == 3, "incumbent counter must continue at 3, not reset");
	nm_snapshot_free(snap);
	nm_outputs_free(out);
	runtime_free(rt);
}
END_TEST

START_TEST(expect_migration_collision_is_rejected)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);

	const uint64_t origin = 0xDEADBEEFull;
	ck_assert_int_eq(nm_runtime_expect_migration(rt, "echo", origin, cfg_default(), NULL), 0);
	struct nm_error err;
	int rc = nm_runtime_expect_migration(rt, "echo", origin, cfg_default(), &err);
	ck_assert_msg(rc == NM_EPROCESS_FAILED, "expected Core(ProcessFailed), got %s",
		      nm_strerror(rc));
	ck_assert_msg(strstr(err.msg, "already registered") != NULL, "got '%s'", err.msg);
	runtime_free(rt);
}
END_TEST

START_TEST(stop_drops_daemon_from_registry)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);

	struct nm_identity id = gen();
	struct nm_daemon_handle h = spawn_ok(rt, "echo", &id);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 1);
	ck_assert_int_eq(nm_runtime_stop(rt, h.origin_hash, NULL), 0);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 0);

	/* Delivering to a gone daemon is Core(NotFound(origin)). */
	struct nm_outputs *out = outputs();
	struct nm_event ev = event(h.origin_hash, 1, "drop");
	struct nm_error err;
	int rc = nm_runtime_deliver(rt, h.origin_hash, &ev, out, &err);
	ck_assert_msg(rc == NM_ENOT_FOUND, "expected Core(NotFound), got %s", nm_strerror(rc));
	ck_assert_uint_eq(err.origin, h.origin_hash);
	nm_outputs_free(out);
	runtime_free(rt);
}
END_TEST

START_TEST(shutdown_drains_all_daemons)
{
	struct nm_runtime *rt = started_runtime("echo", nm_echo_new);
	for (int i = 0; i < 5; i++) {
		struct nm_identity id = gen();
		struct nm_daemon_handle h;
		ck_assert_int_eq(nm_runtime_spawn(rt, "echo", &id, cfg_default(), &h, NULL), 0);
	}
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 5);
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 0);
	runtime_free(rt);
}
END_TEST

/* ---- Factory closure sharing ---- */

static struct nm_daemon *counting_echo(void *ctx)
{
	atomic_fetch_add((atomic_uint *)ctx, 1);
	return nm_echo_new(NULL);
}

START_TEST(factory_is_invoked_once_per_spawn)
{
	atomic_uint calls = 0;
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_register_factory(rt, "echo", counting_echo, &calls, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	for (int i = 0; i < 3; i++) {
		struct nm_identity id = gen();
		struct nm_daemon_handle h;
		ck_assert_int_eq(nm_runtime_spawn(rt, "echo", &id, cfg_default(), &h, NULL), 0);
	}
	ck_assert_uint_eq(atomic_load(&calls), 3);
	runtime_free(rt);
}
END_TEST

/* ================= host and registry invariants (compute.md §15.D) ================= */

static struct nm_host *host_of(nm_daemon_factory_fn fn, struct nm_identity *id)
{
	*id = gen();
	struct nm_host *h = NULL;
	ck_assert_int_eq(nm_host_create(fn(NULL), id, NULL, &h, NULL), 0);
	return h;
}

START_TEST(host_echo_first_output_is_sequence_one)
{
	struct nm_identity id;
	struct nm_host *h = host_of(nm_echo_new, &id);
	struct nm_outputs *out = outputs();
	struct nm_event ev = event(0x1234, 7, "hello");
	ck_assert_int_eq(nm_host_deliver(h, &ev, out, 99, NULL), 0);
	ck_assert_uint_eq(out->n, 1);
	const struct nm_causal_link *l = &out->ev[0].link;
	ck_assert_uint_eq(l->origin_hash, id.origin_hash);
	ck_assert_uint_eq(l->sequence, 1);
	/* parent of the first output = XXH3-64 of the genesis link bytes (empty payload). */
	struct nm_causal_link g = nm_link_genesis(id.origin_hash, 0);
	uint8_t gb[32];
	nm_link_to_bytes(&g, gb);
	ck_assert_uint_eq(l->parent_hash, XXH3_64bits(gb, sizeof(gb)));
	ck_assert_uint_eq(out->ev[0].received_at, 99);
	ck_assert_uint_eq(h->stats.events_processed, 1);
	ck_assert_uint_eq(h->stats.events_emitted, 1);
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(host_outputs_form_a_valid_chain)
{
	struct nm_identity id;
	struct nm_host *h = host_of(nm_echo_new, &id);
	struct nm_outputs *out = outputs();
	struct nm_causal_link prev = nm_link_genesis(id.origin_hash, 0);
	uint8_t prev_payload[16];
	uint32_t prev_len = 0;
	for (int i = 0; i < 100; i++) {
		char p[16];
		snprintf(p, sizeof(p), "event-%d", i);
		struct nm_event ev = event(0xAAAA, (uint64_t)i, p);
		nm_outputs_reset(out);
		ck_assert_int_eq(nm_host_deliver(h, &ev, out, 0, NULL), 0);
		struct nm_chain_error ce;
		ck_assert_int_eq(nm_chain_validate(&prev, prev_payload, prev_len, &out->ev[0].link, &ce),
				 NM_CHAIN_OK);
		prev = out->ev[0].link;
		prev_len = out->ev[0].len;
		memcpy(prev_payload, out->ev[0].payload, prev_len);
	}
	ck_assert_uint_eq(h->chain.head.sequence, 100);
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(host_sink_emits_nothing_and_keeps_chain)
{
	struct nm_identity id;
	struct nm_host *h = host_of(nm_sink_new, &id);
	struct nm_outputs *out = outputs();
	struct nm_causal_link before = h->chain.head;
	struct nm_event ev = event(0x77, 1, "x");
	ck_assert_int_eq(nm_host_deliver(h, &ev, out, 0, NULL), 0);
	ck_assert_uint_eq(out->n, 0);
	ck_assert_uint_eq(h->stats.events_processed, 1);
	ck_assert_uint_eq(h->stats.events_emitted, 0);
	ck_assert_mem_eq(&h->chain.head, &before, sizeof(before));
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(host_horizon_stamps_outputs)
{
	struct nm_identity id;
	struct nm_host *h = host_of(nm_echo_new, &id);
	ck_assert_uint_eq(h->horizon.encoded, 0); /* empty horizon encodes to 0 */
	struct nm_outputs *out = outputs();
	struct nm_event ev = event(0xEEEE, 42, "x");
	ck_assert_int_eq(nm_host_deliver(h, &ev, out, 0, NULL), 0);
	ck_assert_uint_ne(out->ev[0].link.horizon_encoded, 0);
	ck_assert(nm_horizon_might_contain(out->ev[0].link.horizon_encoded, 0xEEEE));
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(host_counter_restore_continues_count_and_chain)
{
	struct nm_identity id;
	struct nm_host *h = host_of(nm_counter_new, &id);
	struct nm_outputs *out = outputs();
	for (int i = 1; i <= 10; i++) {
		struct nm_event ev = event(0x1, (uint64_t)i, "t");
		ck_assert_int_eq(nm_host_deliver(h, &ev, out, 0, NULL), 0);
	}
	ck_assert_uint_eq(h->chain.head.sequence, 10);
	struct nm_event_copy {
		struct nm_causal_link link;
		uint8_t payload[8];
	} last;
	last.link = out->ev[out->n - 1].link;
	memcpy(last.payload, out->ev[out->n - 1].payload, 8);

	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_host_snapshot(h, &snap, NULL), 0);
	ck_assert_ptr_nonnull(snap);
	ck_assert_uint_eq(snap->through_seq, 10);
	ck_assert_uint_eq(h->stats.snapshots_taken, 1);
	nm_host_destroy(h);

	struct nm_host *r = NULL;
	ck_assert_int_eq(nm_host_from_snapshot(nm_counter_new(NULL), &id, snap, NULL, &r, NULL), 0);
	ck_assert_uint_eq(r->stats.events_processed, 0); /* stats restart */
	nm_outputs_reset(out);
	struct nm_event ev = event(0x1, 11, "t");
	ck_assert_int_eq(nm_host_deliver(r, &ev, out, 0, NULL), 0);
	ck_assert_uint_eq(le64(out->ev[0].payload), 11);
	/* Counter state equals its last output, so upstream's head-payload fallback keeps the chain. */
	ck_assert_int_eq(nm_chain_validate(&last.link, last.payload, 8, &out->ev[0].link, NULL),
			 NM_CHAIN_OK);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
	nm_host_destroy(r);
}
END_TEST

START_TEST(host_from_snapshot_rejects_other_entity_and_bad_bindings)
{
	struct nm_identity a, b = gen();
	struct nm_host *h = host_of(nm_counter_new, &a);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_host_snapshot(h, &snap, NULL), 0);
	nm_host_destroy(h);

	struct nm_host *r = NULL;
	struct nm_error err;
	ck_assert_int_eq(nm_host_from_snapshot(nm_counter_new(NULL), &b, snap, NULL, &r, &err),
			 NM_ERESTORE_FAILED);
	ck_assert_msg(strstr(err.msg, "does not match keypair entity") != NULL, "%s", err.msg);

	/* 13 x 0xFF bindings: count 0xFFFFFFFF cannot fit. */
	uint8_t bad[13];
	memset(bad, 0xFF, sizeof(bad));
	struct nm_snapshot *s2 = nm_snapshot_new(snap->entity_id, &snap->chain_link, snap->state,
						 snap->state_len, bad, sizeof(bad));
	ck_assert_ptr_nonnull(s2);
	ck_assert_int_eq(nm_host_from_snapshot(nm_counter_new(NULL), &a, s2, NULL, &r, &err),
			 NM_ERESTORE_FAILED);
	ck_assert_str_eq(err.msg, "restore failed: snapshot bindings_bytes failed to decode — "
				  "tampered or corrupt snapshot");
	nm_snapshot_free(s2);
	nm_snapshot_free(snap);
}
END_TEST

START_TEST(host_default_restore_rules)
{
	struct nm_identity id = gen();
	struct nm_causal_link head = nm_link_genesis(id.origin_hash, 0);
	struct nm_host *r = NULL;
	struct nm_error err;

	struct nm_snapshot *empty = nm_snapshot_new(nm_identity_entity_id(&id), &head, NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(empty);
	ck_assert_int_eq(nm_host_from_snapshot(nm_echo_new(NULL), &id, empty, NULL, &r, &err), 0);
	nm_host_destroy(r);

	uint8_t state[23] = { 1 };
	struct nm_snapshot *full =
		nm_snapshot_new(nm_identity_entity_id(&id), &head, state, sizeof(state), NULL, 0);
	ck_assert_int_eq(nm_host_from_snapshot(nm_echo_new(NULL), &id, full, NULL, &r, &err),
			 NM_ERESTORE_FAILED);
	ck_assert_msg(strstr(err.msg, "stateless daemon") && strstr(err.msg, "23"), "%s", err.msg);
	nm_snapshot_free(empty);
	nm_snapshot_free(full);
}
END_TEST

START_TEST(host_counter_restore_rejects_wrong_length)
{
	struct nm_identity id = gen();
	struct nm_causal_link head = nm_link_genesis(id.origin_hash, 0);
	uint8_t state[3] = { 1, 2, 3 };
	struct nm_snapshot *s =
		nm_snapshot_new(nm_identity_entity_id(&id), &head, state, sizeof(state), NULL, 0);
	struct nm_host *r = NULL;
	struct nm_error err;
	ck_assert_int_eq(nm_host_from_snapshot(nm_counter_new(NULL), &id, s, NULL, &r, &err),
			 NM_ERESTORE_FAILED);
	ck_assert_str_eq(err.msg, "restore failed: counter state must be 8 bytes, got 3");
	nm_snapshot_free(s);
}
END_TEST

/* A daemon that fails on payload "fail" and emits twice otherwise. */
static int flaky_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)d;
	if (nm_emit(out, "a", 1) < 0 || nm_emit(out, "b", 1) < 0)
		return -ENOSPC;
	if (ev->len == 4 && memcmp(ev->payload, "fail", 4) == 0)
		return nm_error_set(err, NM_EPROCESS_FAILED, "flaky refused");
	return 0;
}

static void flaky_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops flaky_ops = {
	.name = "flaky", .process = flaky_process, .destroy = flaky_destroy
};

static struct nm_daemon *flaky_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = malloc(sizeof(*d));
	d->ops = &flaky_ops;
	return d;
}

START_TEST(host_failed_process_leaves_no_trace)
{
	struct nm_identity id;
	struct nm_host *h = host_of(flaky_new, &id);
	struct nm_outputs *out = outputs();
	struct nm_event ok = event(1, 1, "fine"), bad = event(1, 2, "fail");
	ck_assert_int_eq(nm_host_deliver(h, &ok, out, 0, NULL), 0);
	ck_assert_uint_eq(out->n, 2);
	struct nm_causal_link head = h->chain.head;
	struct nm_error err;
	ck_assert_int_eq(nm_host_deliver(h, &bad, out, 0, &err), NM_EPROCESS_FAILED);
	ck_assert_str_eq(err.msg, "daemon process failed: flaky refused");
	ck_assert_uint_eq(out->n, 2); /* the failed call's two outputs were dropped */
	ck_assert_mem_eq(&h->chain.head, &head, sizeof(head));
	ck_assert_uint_eq(h->stats.errors, 1);
	ck_assert_uint_eq(h->stats.events_processed, 1);

	/* Overflow of the output buffer is a counted failure too, not a silent loss. */
	struct nm_outputs *tiny = nm_outputs_create(1, 64);
	ck_assert_int_eq(nm_host_deliver(h, &ok, tiny, 0, &err), -ENOSPC);
	ck_assert_uint_eq(tiny->n, 0);
	ck_assert_uint_eq(h->stats.errors, 2);
	nm_outputs_free(tiny);
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(host_sequence_overflow_is_an_error)
{
	struct nm_identity id;
	struct nm_host *h = host_of(flaky_new, &id);
	struct nm_causal_link near_max = { id.origin_hash, 0, UINT64_MAX - 1, 0 };
	nm_chain_from_head(&h->chain, &near_max, NULL, 0);
	struct nm_outputs *out = outputs();
	struct nm_event ev = event(1, 1, "x");
	struct nm_error err;
	ck_assert_int_eq(nm_host_deliver(h, &ev, out, 0, &err), NM_EPROCESS_FAILED);
	ck_assert_str_eq(err.msg, "daemon process failed: causal sequence overflow");
	ck_assert_uint_eq(out->n, 0);
	ck_assert_uint_eq(h->chain.head.sequence, UINT64_MAX); /* first output stayed, as upstream */
	nm_outputs_free(out);
	nm_host_destroy(h);
}
END_TEST

START_TEST(registry_errors)
{
	struct nm_registry reg;
	ck_assert_int_eq(nm_registry_init(&reg), 0);
	struct nm_identity id;
	struct nm_host *h = host_of(nm_echo_new, &id);
	ck_assert_int_eq(nm_registry_register(&reg, h, NULL), 0);

	struct nm_host *dup = NULL;
	ck_assert_int_eq(nm_host_create(nm_echo_new(NULL), &id, NULL, &dup, NULL), 0);
	struct nm_error err;
	ck_assert_int_eq(nm_registry_register(&reg, dup, &err), NM_EPROCESS_FAILED);
	ck_assert_msg(strstr(err.msg, "already registered"), "%s", err.msg);
	nm_host_destroy(dup);

	struct nm_outputs *out = outputs();
	struct nm_event ev = event(1, 1, "x");
	ck_assert_int_eq(nm_registry_deliver(&reg, 0xDEAD, &ev, out, 0, &err), NM_ENOT_FOUND);
	ck_assert_uint_eq(err.origin, 0xDEAD);
	ck_assert_str_eq(err.msg, "daemon not found: 0xdead");
	ck_assert_int_eq(nm_registry_unregister(&reg, 0xDEAD, NULL), NM_ENOT_FOUND);
	ck_assert_uint_eq(nm_registry_count(&reg), 1);
	ck_assert_int_eq(nm_registry_unregister(&reg, id.origin_hash, NULL), 0);
	ck_assert_uint_eq(nm_registry_count(&reg), 0);
	nm_outputs_free(out);
	nm_registry_fini(&reg);
}
END_TEST

START_TEST(factory_registry_slots)
{
	struct nm_factory_registry fr;
	ck_assert_int_eq(nm_factory_registry_init(&fr), 0);
	struct nm_factory f = { .kind = "echo", .fn = nm_echo_new };
	struct nm_identity id = gen();
	ck_assert_int_eq(nm_factory_registry_register(&fr, &id, NULL, &f, NULL), 0);
	struct nm_error err;
	ck_assert_int_eq(nm_factory_registry_register_placeholder(&fr, id.origin_hash, NULL, &f, &err),
			 NM_EPROCESS_FAILED);
	ck_assert_msg(strstr(err.msg, "factory for origin_hash 0x") && strstr(err.msg, "already registered"),
		      "%s", err.msg);

	/* The incumbent keeps its keypair; construct makes a new daemon each time. */
	for (int i = 0; i < 2; i++) {
		struct nm_daemon *d = NULL;
		struct nm_identity got;
		bool has_id = false;
		struct nm_host_config cfg;
		ck_assert_int_eq(nm_factory_registry_construct(&fr, id.origin_hash, &d, &got, &has_id,
							       &cfg, NULL),
				 0);
		ck_assert(has_id);
		ck_assert_uint_eq(got.origin_hash, id.origin_hash);
		d->ops->destroy(d);
	}
	ck_assert(nm_factory_registry_bind_expected_orchestrator(&fr, id.origin_hash, 0x3333));
	ck_assert(nm_factory_registry_bind_expected_orchestrator(&fr, id.origin_hash, 0x3333));
	ck_assert(!nm_factory_registry_bind_expected_orchestrator(&fr, id.origin_hash, 0x9999));
	uint64_t node = 0;
	ck_assert(nm_factory_registry_expected_orchestrator(&fr, id.origin_hash, &node));
	ck_assert_uint_eq(node, 0x3333);
	ck_assert(!nm_factory_registry_bind_expected_orchestrator(&fr, 0x42, 1));

	nm_factory_registry_remove(&fr, id.origin_hash);
	nm_factory_registry_remove(&fr, id.origin_hash); /* idempotent */
	ck_assert(!nm_factory_registry_contains(&fr, id.origin_hash));
	ck_assert_int_eq(nm_factory_registry_register_placeholder(&fr, id.origin_hash, NULL, &f, NULL), 0);
	struct nm_daemon *d = NULL;
	struct nm_identity got;
	bool has_id = true;
	struct nm_host_config cfg;
	ck_assert_int_eq(nm_factory_registry_construct(&fr, id.origin_hash, &d, &got, &has_id, &cfg, NULL), 0);
	ck_assert(!has_id);
	d->ops->destroy(d);
	nm_factory_registry_fini(&fr);
}
END_TEST

START_TEST(u64map_insert_remove_many)
{
	struct nm_u64map m;
	ck_assert_int_eq(nm_u64map_init(&m, 4), 0);
	static int vals[5000];
	for (uint64_t k = 0; k < 5000; k++)
		ck_assert_int_eq(nm_u64map_insert(&m, k * 64, &vals[k]), 0);
	ck_assert_int_eq(nm_u64map_insert(&m, 0, &vals[1]), -EEXIST);
	ck_assert_int_eq(nm_u64map_insert(&m, 7, NULL), -EINVAL);
	ck_assert_uint_eq(m.count, 5000);
	for (uint64_t k = 0; k < 5000; k += 2)
		ck_assert_ptr_eq(nm_u64map_remove(&m, k * 64), &vals[k]);
	ck_assert_ptr_null(nm_u64map_remove(&m, 0));
	for (uint64_t k = 0; k < 5000; k++)
		ck_assert_ptr_eq(nm_u64map_get(&m, k * 64), (k % 2) ? &vals[k] : NULL);
	ck_assert_uint_eq(m.count, 2500);
	nm_u64map_fini(&m);
}
END_TEST

/* ================= bad arguments: an error, never a crash ================= */

static const struct nm_daemon_ops broken_ops = { .name = "broken" }; /* no process/destroy */

static struct nm_daemon *broken_new(void *ctx)
{
	(void)ctx;
	static struct nm_daemon d = { &broken_ops };
	return &d;
}

static struct nm_daemon *null_factory(void *ctx)
{
	(void)ctx;
	return NULL;
}

START_TEST(bad_arguments_are_errors)
{
	char long_kind[NM_KIND_MAX + 2];
	memset(long_kind, 'k', sizeof(long_kind) - 1);
	long_kind[sizeof(long_kind) - 1] = '\0';
	struct nm_error err;

	ck_assert_ptr_null(nm_runtime_create(NULL));
	ck_assert_int_eq(nm_runtime_register_factory(NULL, "x", nm_echo_new, NULL, NULL), -EINVAL);
	ck_assert_int_eq(nm_runtime_start(NULL, NULL), -EINVAL);
	ck_assert_int_eq(nm_runtime_shutdown(NULL, NULL), -EINVAL);

	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_register_factory(rt, NULL, nm_echo_new, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "", nm_echo_new, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_register_factory(rt, long_kind, nm_echo_new, NULL, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "kind must be"), "%s", err.msg);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "x", NULL, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "broken", broken_new, NULL, NULL), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "null", null_factory, NULL, NULL), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "echo", nm_echo_new, NULL, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);

	struct nm_identity id = gen();
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(rt, "echo", NULL, NULL, &h, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_spawn(rt, "echo", &id, NULL, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_spawn(rt, long_kind, &id, NULL, &h, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_spawn(rt, "broken", &id, NULL, &h, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_spawn(rt, "null", &id, NULL, &h, &err), NM_EPROCESS_FAILED);
	ck_assert_msg(strstr(err.msg, "returned no daemon"), "%s", err.msg);
	ck_assert_uint_eq(nm_runtime_daemon_count(rt), 0);
	/* A failed spawn leaves no slot behind: the identity is free again. */
	ck_assert_int_eq(nm_runtime_spawn(rt, "echo", &id, NULL, &h, &err), 0);

	ck_assert_int_eq(nm_runtime_spawn_from_snapshot(rt, "echo", &id, NULL, NULL, &h, &err), -EINVAL);
	struct nm_outputs *out = outputs();
	ck_assert_int_eq(nm_runtime_deliver(rt, id.origin_hash, NULL, out, &err), -EINVAL);
	struct nm_event ev = event(1, 1, "x");
	ck_assert_int_eq(nm_runtime_deliver(rt, id.origin_hash, &ev, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_snapshot(rt, id.origin_hash, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_expect_migration(rt, "", 1, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_runtime_expect_migration(rt, "nope", 1, NULL, &err), NM_EFACTORY_NOT_FOUND);
	ck_assert_int_eq(nm_daemon_handle_stats(NULL, NULL, &err), -EINVAL);
	ck_assert_int_eq(nm_daemon_handle_snapshot(&h, NULL, &err), -EINVAL);

	struct nm_mesh *m = NULL;
	struct nm_mesh_config mc = { .port = NULL };
	ck_assert_int_eq(nm_mesh_create(NULL, &m, &err), -EINVAL);
	ck_assert_int_eq(nm_mesh_create(&mc, &m, &err), -EINVAL);
	mc.port = "net_nope9";
	ck_assert_int_eq(nm_mesh_create(&mc, &m, &err), -ENODEV);
	ck_assert_msg(strstr(err.msg, "net_nope9"), "%s", err.msg);
	nm_outputs_free(out);
	runtime_free(rt);
}
END_TEST

START_TEST(stop_before_start_is_not_ready)
{
	struct nm_runtime *rt = runtime_new();
	ck_assert_int_eq(nm_runtime_stop(rt, 1, NULL), NM_ENOT_READY);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_stop(rt, 1, NULL), NM_ENOT_FOUND);
	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_stop(rt, 1, NULL), 0); /* absent while shutting down */
	ck_assert_int_eq(nm_runtime_start(rt, NULL), NM_ESHUTTING_DOWN);
	ck_assert_int_eq(nm_runtime_expect_migration(rt, "x", 1, NULL, NULL), NM_ESHUTTING_DOWN);
	ck_assert(!nm_node_migration_ready(nm_runtime_node(rt)));
	runtime_free(rt);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("runtime");

	TCase *seed = tcase_create("seed000");
	tcase_add_test(seed, registering_rejects_spawn_with_not_ready);
	tcase_add_test(seed, start_is_idempotent);
	tcase_add_test(seed, shutdown_rejects_subsequent_spawn_and_register);
	tcase_add_test(seed, register_factory_rejects_duplicate_kind);
	tcase_add_test(seed, register_new_kind_after_ready_is_allowed);
	tcase_add_test(seed, echo_daemon_roundtrip);
	tcase_add_test(seed, counter_snapshot_round_trip_through_runtime);
	tcase_add_test(seed, spawn_from_snapshot_rejects_identity_mismatch);
	tcase_add_test(seed, spawn_from_snapshot_checks_full_entity_id_not_just_origin_hash);
	tcase_add_test(seed, start_installs_handler_before_publishing_ready);
	tcase_add_test(seed, register_factory_concurrent_same_kind_admits_exactly_one);
	tcase_add_test(seed, start_losing_race_to_shutdown_clears_handler);
	tcase_add_test(seed, shutdown_clears_migration_handler);
	tcase_add_test(seed, spawn_racing_with_shutdown_does_not_leave_daemon_registered);
	tcase_add_test(seed, spawn_unknown_kind_errors);
	tcase_add_test(seed, spawn_same_identity_twice_is_rejected);
	tcase_add_test(seed, duplicate_spawn_from_snapshot_does_not_corrupt_first_daemon);
	tcase_add_test(seed, expect_migration_collision_is_rejected);
	tcase_add_test(seed, stop_drops_daemon_from_registry);
	tcase_add_test(seed, shutdown_drains_all_daemons);
	tcase_add_test(seed, factory_is_invoked_once_per_spawn);
	suite_add_tcase(s, seed);

	TCase *host = tcase_create("host");
	tcase_add_test(host, host_echo_first_output_is_sequence_one);
	tcase_add_test(host, host_outputs_form_a_valid_chain);
	tcase_add_test(host, host_sink_emits_nothing_and_keeps_chain);
	tcase_add_test(host, host_horizon_stamps_outputs);
	tcase_add_test(host, host_counter_restore_continues_count_and_chain);
	tcase_add_test(host, host_from_snapshot_rejects_other_entity_and_bad_bindings);
	tcase_add_test(host, host_default_restore_rules);
	tcase_add_test(host, host_counter_restore_rejects_wrong_length);
	tcase_add_test(host, host_failed_process_leaves_no_trace);
	tcase_add_test(host, host_sequence_overflow_is_an_error);
	tcase_add_test(host, registry_errors);
	tcase_add_test(host, factory_registry_slots);
	tcase_add_test(host, u64map_insert_remove_many);
	suite_add_tcase(s, host);

	TCase *fence = tcase_create("fence");
	tcase_add_test(fence, ready_is_published_only_after_handler_install);
	suite_add_tcase(s, fence);

	TCase *bad = tcase_create("bad_args");
	tcase_add_test(bad, bad_arguments_are_errors);
	tcase_add_test(bad, stop_before_start_is_not_ready);
	suite_add_tcase(s, bad);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init(argv[0]);
	return nm_test_run_nofork(runtime_suite());
}

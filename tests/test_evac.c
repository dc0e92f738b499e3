/* SPDX-License-Identifier: MIT */
/*
 * test_evac.c - MeshOS evacuates a node by live migration: three runtimes
 * with engines joined by the pump (tests/nm_test_pump.h), MeshOS on node A
 * with the engine adapter as its migrator, in virtual time. Node B offers
 * plain capacity, node C a GPU; some daemons need the GPU, one needs a tag
 * nobody has. No EAL: every daemon runs on the control path.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nm_evac.h"
#include "nm_le.h"
#include "nm_meshos.h"
#include "nm_migration.h"
#include "nm_runtime.h"
#include "nm_test.h"
#define NM_PUMP_CHECK(c) ck_assert(c)
#include "nm_test_pump.h"

#define A 0
#define B 1
#define C 2
#define MAX_D 64

/* ------------------------------------------------------------ the daemon */

/*
 * ectr: a counter (emits its count, LE64) that also counts the DrainStarts
 * its on_control saw; both are its state, so both travel with it.
 */
struct ectr {
	struct nm_daemon base;
	uint64_t count, drains;
};

static int ectr_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)ev;
	(void)err;
	struct ectr *c = (struct ectr *)d;
	uint8_t o[8];
	nm_put_le64(o, ++c->count);
	return nm_emit(out, o, sizeof(o));
}

static int ectr_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	(void)err;
	const struct ectr *c = (const struct ectr *)d;
	uint8_t s[16];
	nm_put_le64(s, c->count);
	nm_put_le64(s + 8, c->drains);
	return nm_bytes_append(out, s, sizeof(s));
}

static int ectr_restore(struct nm_daemon *d, const uint8_t *s, size_t len, struct nm_error *err)
{
	struct ectr *c = (struct ectr *)d;
	if (len != 16)
		return nm_error_set(err, NM_ERESTORE_FAILED, "ectr state must be 16 bytes");
	c->count = nm_get_le64(s);
	c->drains = nm_get_le64(s + 8);
	return 0;
}

static void ectr_control(struct nm_daemon *d, const struct nm_daemon_control *c)
{
	if (c->kind == NM_CONTROL_DRAIN_START)
		((struct ectr *)d)->drains++;
}

static void ectr_destroy(struct nm_daemon *d)
{
	free(d);
}

static void req_gpu(const struct nm_daemon *d, struct nm_capability_filter *f)
{
	(void)d;
	f->require_gpu = true;
}

static void req_quantum(const struct nm_daemon *d, struct nm_capability_filter *f)
{
	(void)d;
	nm_capability_filter_require_tag(f, "quantum");
}

#define ECTR_OPS(NAME, REQ)                                                                       \
	{ .name = NAME, .requirements = REQ, .process = ectr_process, .snapshot = ectr_snapshot, \
	  .restore = ectr_restore, .on_control = ectr_control, .destroy = ectr_destroy }

static const struct nm_daemon_ops ops_any = ECTR_OPS("ectr", NULL);
static const struct nm_daemon_ops ops_gpu = ECTR_OPS("ectr-gpu", req_gpu);
static const struct nm_daemon_ops ops_quantum = ECTR_OPS("ectr-quantum", req_quantum);

static struct nm_daemon *ectr_factory(void *ctx)
{
	struct ectr *c = calloc(1, sizeof(*c));
	if (c != NULL)
		c->base.ops = ctx;
	return c ? &c->base : NULL;
}

static void kinds(struct nm_runtime *rt, void *ctx)
{
	(void)ctx;
	ck_assert_int_eq(nm_runtime_register_factory(rt, "ectr", ectr_factory, (void *)&ops_any, NULL), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "ectr-gpu", ectr_factory, (void *)&ops_gpu,
						     NULL), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "ectr-quantum", ectr_factory,
						     (void *)&ops_quantum, NULL), 0);
}

/* ------------------------------------------------------------ the setup */

struct world {
	struct nm_pump p;
	struct nm_meshos *m;
	struct nm_evac_engine eng;
	struct nm_evac_peer peers[2];
	uint64_t d[MAX_D];
	const char *kind[MAX_D];
	int nd;
	struct nm_outputs *out;
	uint64_t max_inflight_seen;
};

/* Node A runs MeshOS with the engine adapter; peers B (plain) and C (GPU) in its config. */
static struct world *world_new_opts(uint64_t seed, uint32_t inflight, bool peer_b_listed,
				    const struct nm_mig_opts *opts)
{
	struct world *w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	nm_pump_init(&w->p, 3, seed, kinds, NULL);
	w->out = nm_outputs_create(16, 1024);
	w->peers[0] = (struct nm_evac_peer){ .node = nm_pump_nid(&w->p, B),
					     .caps = { .memory_gb = 8 } };
	w->peers[1] = (struct nm_evac_peer){ .node = nm_pump_nid(&w->p, C),
					     .caps = { .memory_gb = 8, .has_gpu = true } };
	struct nm_meshos_config cfg = { .rt = w->p.nodes[A].rt, .tick_ms = 50 };
	nm_evac_migrator_of(w->p.nodes[A].mig, opts, &w->eng, &cfg.migrator);
	cfg.evac = (struct nm_evac_config){ .peers = peer_b_listed ? w->peers : w->peers + 1,
					    .n_peers = peer_b_listed ? 2 : 1,
					    .max_inflight = inflight };
	ck_assert_int_eq(nm_meshos_start(&cfg, NULL, &w->m), 0);
	return w;
}

static struct world *world_new(uint64_t seed, uint32_t inflight, bool peer_b_listed)
{
	return world_new_opts(seed, inflight, peer_b_listed, NULL);
}

static void world_free(struct world *w)
{
	nm_meshos_free(w->m);
	nm_outputs_free(w->out);
	nm_pump_fini(&w->p);
	free(w);
}

/* One event to the daemon on node i: its output (the count). */
static uint64_t poke(struct world *w, int i, uint64_t o)
{
	uint8_t b[8] = { 0 };
	struct nm_event ev = { .link = { 0xABCDull, 0, 1, 0 }, .payload = b, .len = 8 };
	struct nm_error e;
	nm_outputs_reset(w->out);
	ck_assert_msg(nm_runtime_deliver(w->p.nodes[i].rt, o, &ev, w->out, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(w->out->n, 1);
	return nm_get_le64(w->out->ev[0].payload);
}

/* A daemon of `kind` on A, poked `events` times; B and C expect it. */
static uint64_t spawn_a(struct world *w, const char *kind, int events)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	struct nm_daemon_handle h;
	struct nm_error e;
	ck_assert_msg(nm_runtime_spawn(w->p.nodes[A].rt, kind, &id, NULL, &h, &e) == 0, "%s", e.msg);
	for (int j = B; j <= C; j++)
		ck_assert_int_eq(nm_runtime_expect_migration(w->p.nodes[j].rt, kind, id.origin_hash,
							     NULL, NULL), 0);
	for (int k = 0; k < events; k++)
		poke(w, A, id.origin_hash);
	ck_assert_int_lt(w->nd, MAX_D);
	uint64_t o = id.origin_hash;
	w->kind[w->nd] = kind;
	w->d[w->nd++] = o;
	nm_identity_wipe(&id);
	return o;
}

static void step(struct world *w)
{
	nm_pump_step(&w->p);
	nm_meshos_poll(w->m, w->p.now);
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	if (st.evac.inflight > w->max_inflight_seen)
		w->max_inflight_seen = st.evac.inflight;
}

static enum nm_maint_kind state_of(struct world *w)
{
	struct nm_meshos_status s;
	nm_meshos_status(w->m, &s);
	return s.state.kind;
}

/* Step until A's state is k; a generous deadline in virtual steps. */
static void run_until(struct world *w, enum nm_maint_kind k, int max_steps)
{
	for (int g = 0; g < max_steps && state_of(w) != k; g++)
		step(w);
	ck_assert_msg(state_of(w) == k, "state %s, wanted %s", nm_maint_kind_name(state_of(w)),
		      nm_maint_kind_name(k));
}

static int where(struct world *w, uint64_t o, int *count)
{
	int at = -1;
	*count = 0;
	for (int i = 0; i < w->p.n; i++)
		if (nm_runtime_has_daemon(w->p.nodes[i].rt, o)) {
			(*count)++;
			at = i;
		}
	return at;
}

/* The daemon's (count, drains) on node i. */
static void state_on(struct world *w, int i, uint64_t o, uint64_t *count, uint64_t *drains)
{
	struct nm_snapshot *s = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(w->p.nodes[i].rt, o, &s, NULL), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->state_len, 16);
	*count = nm_get_le64(s->state);
	*drains = nm_get_le64(s->state + 8);
	nm_snapshot_free(s);
}

/* Step until no engine has a migration of our daemons in progress (targets activated). */
static void settle(struct world *w)
{
	for (int g = 0; g < 20000; g++) {
		bool busy = false;
		for (int k = 0; k < w->nd && !busy; k++)
			for (int i = 0; i < w->p.n; i++)
				busy = busy || (w->p.nodes[i].alive &&
						nm_mig_phase_of(w->p.nodes[i].mig, w->d[k]) != NM_MIG_PHASE_NONE);
		if (!busy)
			return;
		step(w);
	}
	ck_abort_msg("migrations never settled");
}

/* Every daemon but `stays` lives on exactly one peer that satisfies it, state intact. */
static void check_moved(struct world *w, int events, uint64_t stays)
{
	settle(w);
	for (int k = 0; k < w->nd; k++) {
		int n, at = where(w, w->d[k], &n);
		ck_assert_int_eq(n, 1);
		if (w->d[k] == stays) {
			ck_assert_int_eq(at, A);
			continue;
		}
		ck_assert_int_ne(at, A);
		if (strcmp(w->kind[k], "ectr-gpu") == 0)
			ck_assert_int_eq(at, C);
		uint64_t count, drains;
		state_on(w, at, w->d[k], &count, &drains);
		ck_assert_uint_eq(count, (uint64_t)events);
		ck_assert_uint_eq(drains, 1); /* DrainStart seen once, before the snapshot */
		ck_assert_uint_eq(poke(w, at, w->d[k]), (uint64_t)events + 1); /* the count goes on */
	}
}

static bool log_has(struct world *w, uint64_t daemon, const char *needle)
{
	struct nm_log_record r[64];
	uint32_t n = nm_meshos_logs(w->m, 0, r, 64);
	for (uint32_t i = 0; i < n; i++)
		if ((daemon == 0 || (r[i].has_daemon && r[i].daemon_id == daemon)) &&
		    strstr(r[i].message, needle) != NULL)
			return true;
	return false;
}

/* n daemons on A (every gpu_every-th needs the GPU; 0: none), poked `events` times; then enter maintenance. */
static void fill_and_enter(struct world *w, int n, int gpu_every, int events, uint64_t drain_ms)
{
	for (int k = 0; k < n; k++)
		spawn_a(w, gpu_every && k % gpu_every == 0 ? "ectr-gpu" : "ectr", events);
	step(w);
	ck_assert_int_eq(nm_meshos_enter_maintenance(w->m, nm_meshos_node_id(w->m), drain_ms), 0);
}

/* The drain ends in Maintenance with A empty and every daemon moved, state intact. */
static void expect_drained(struct world *w, int events, int max_steps)
{
	run_until(w, NM_MAINT_MAINTENANCE, max_steps);
	ck_assert_uint_eq(nm_runtime_daemon_count(w->p.nodes[A].rt), 0);
	check_moved(w, events, 0);
}

/* B migrates `origin` to A, with no NotReady retry budget; step until B's record is gone. */
static void migrate_b_to_a(struct world *w, uint64_t origin)
{
	struct nm_mig_opts o = { .transport_identity = true, .retry_not_ready_ms = 0 };
	ck_assert_int_eq(nm_mig_start(w->p.nodes[B].mig, origin, nm_pump_nid(&w->p, B),
				      nm_pump_nid(&w->p, A), &o, w->p.now, NULL), 0);
	for (int g = 0; g < 4000 && nm_mig_phase_of(w->p.nodes[B].mig, origin) != NM_MIG_PHASE_NONE; g++)
		step(w);
	ck_assert_int_eq(nm_mig_phase_of(w->p.nodes[B].mig, origin), NM_MIG_PHASE_NONE);
}

/* ------------------------------------------------------------ tests */

START_TEST(place_capable_peers_in_turn_then_fallback)
{
	struct nm_evac_peer p[2] = { { .node = 11, .caps = { .memory_gb = 4 } },
				     { .node = 22, .caps = { .memory_gb = 16, .has_gpu = true } } };
	struct nm_evac_config cfg = { .peers = p, .n_peers = 2 };
	struct nm_capability_filter any = { 0 }, gpu = { .require_gpu = true }, big = { .min_memory_gb = 64 };
	uint64_t t = 0;
	ck_assert(nm_evac_place(&cfg, &any, 0, &t) && t == 11);
	ck_assert(nm_evac_place(&cfg, &any, 1, &t) && t == 22); /* a retry takes the next */
	ck_assert(nm_evac_place(&cfg, &any, 2, &t) && t == 11);
	ck_assert(nm_evac_place(&cfg, &gpu, 0, &t) && t == 22);
	ck_assert(nm_evac_place(&cfg, &gpu, 1, &t) && t == 22);
	ck_assert(!nm_evac_place(&cfg, &big, 0, &t));
	cfg.fallback_peer = 33; /* unlisted: its capabilities are unknown, the operator chose it */
	ck_assert(nm_evac_place(&cfg, &big, 0, &t) && t == 33);
	cfg.fallback_peer = 11; /* listed and known to fall short: no fallback */
	ck_assert(!nm_evac_place(&cfg, &big, 0, &t));
}
END_TEST

START_TEST(maintenance_evacuates_every_daemon_to_a_capable_peer)
{
	struct world *w = world_new(0xE1, 4, true);
	fill_and_enter(w, 24, 3, 3, 60000);
	expect_drained(w, 3, 20000);
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	ck_assert_uint_eq(st.evac.evacuations, 1);
	ck_assert_uint_eq(st.evac.daemons, 24);
	ck_assert_uint_eq(st.evac.migrated, 24);
	ck_assert_uint_eq(st.evac.no_candidate, 0);
	ck_assert_uint_eq(st.evac.failed, 0);
	ck_assert_uint_eq(st.evac.left, 0);
	ck_assert(!st.evac.active);
	ck_assert_uint_le(w->max_inflight_seen, 4); /* bounded concurrency */
	ck_assert_uint_ge(w->max_inflight_seen, 2);
	ck_assert_uint_eq(st.control_broadcasts, 2); /* DrainStart, then DrainFinish */
	ck_assert(log_has(w, 0, "evacuation complete: 24 daemons"));
	struct nm_meshos_status s;
	nm_meshos_status(w->m, &s);
	ck_assert(!s.evac_failed && !s.evacuating && !s.accepting);
	world_free(w);
}
END_TEST

/* The appliance's starts wake each target first (prepare_ms): the drain still
 * completes, every start went through a Prepare, and they overlap (in flight
 * together, not one prepare_ms after another). */
START_TEST(an_evacuation_with_prepare_ms_drains_every_daemon)
{
	struct nm_mig_opts o = nm_mig_opts_default();
	o.prepare_ms = 50; /* over the pump's round trip (two 5 ms steps): Prepared comes first */
	struct world *w = world_new_opts(0xE7, 8, true, &o);
	fill_and_enter(w, 24, 3, 3, 60000);
	expect_drained(w, 3, 20000);
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	/* (st.evac.migrated may miss the last ones: the node emptied before the
	 * evacuation's next step looked; expect_drained checked every daemon.) */
	ck_assert_uint_eq(st.evac.started, 24);
	ck_assert_uint_eq(st.evac.failed, 0);
	ck_assert_uint_eq(st.evac.left, 0);
	ck_assert_uint_ge(w->max_inflight_seen, 2);
	struct nm_mig_stats ms;
	nm_mig_stats(w->p.nodes[A].mig, &ms);
	ck_assert_uint_eq(ms.prepares_sent, 24);
	ck_assert_uint_eq(ms.prepared_received, 24);
	world_free(w);
}
END_TEST

START_TEST(daemon_no_peer_satisfies_stays_and_is_reported)
{
	struct world *w = world_new(0xE2, 8, true);
	for (int k = 0; k < 6; k++)
		spawn_a(w, "ectr", 2);
	uint64_t q = spawn_a(w, "ectr-quantum", 2);
	step(w);
	ck_assert_int_eq(nm_meshos_enter_maintenance(w->m, nm_meshos_node_id(w->m), 3000), 0);
	run_until(w, NM_MAINT_DRAIN_FAILED, 20000);
	check_moved(w, 2, q);
	ck_assert_uint_eq(poke(w, A, q), 3); /* it stayed, and it runs */
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	ck_assert_uint_eq(st.evac.no_candidate, 1);
	ck_assert_uint_eq(st.evac.migrated, 6);
	ck_assert_uint_eq(st.evac.left, 1);
	ck_assert_uint_eq(st.evac.failed, 1);
	ck_assert_uint_eq(st.control_broadcasts, 2); /* DrainStart, and DrainFinish at DrainFailed */
	struct nm_meshos_status s;
	nm_meshos_status(w->m, &s);
	ck_assert(s.evac_failed);
	ck_assert_uint_eq(s.evac_left, 1);
	ck_assert_msg(strncmp(s.state.reason, "drain deadline elapsed after 30", 31) == 0, "%s",
		      s.state.reason);
	ck_assert(log_has(w, q, "no peer satisfies the requirements"));
	ck_assert(log_has(w, 0, "evacuation failed: 1 of 7 daemons still on this node"));
	world_free(w);
}
END_TEST

START_TEST(evacuation_completes_under_loss)
{
	struct world *w = world_new(0xE3, 8, true);
	w->p.loss_pct = 5;
	w->p.dup_pct = 3;
	w->p.max_delay_ms = 30;
	fill_and_enter(w, 30, 4, 5, 300000);
	expect_drained(w, 5, 60000);
	ck_assert_uint_gt(w->p.dropped, 0);
	world_free(w);
}
END_TEST

/* B is listed but dead: its attempts time out and are retried, with backoff, on C. */
START_TEST(failed_migrations_are_retried_on_the_next_peer)
{
	struct world *w = world_new(0xE4, 4, true);
	w->p.nodes[B].alive = false;
	fill_and_enter(w, 6, 0, 1, 120000);
	run_until(w, NM_MAINT_MAINTENANCE, 40000);
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	ck_assert_uint_gt(st.evac.retries, 0);
	ck_assert_uint_eq(st.evac.migrated, 6);
	for (int k = 0; k < w->nd; k++) {
		int n;
		ck_assert_int_eq(where(w, w->d[k], &n), C);
	}
	ck_assert(log_has(w, 0, "failed (attempt 1)"));
	world_free(w);
}
END_TEST

/* ExitMaintenance while Entering does nothing (upstream's rule): the evacuation goes on. */
START_TEST(exit_while_entering_lets_the_evacuation_finish)
{
	struct world *w = world_new(0xE5, 2, false);
	uint64_t me = nm_meshos_node_id(w->m);
	fill_and_enter(w, 6, 0, 1, 60000);
	step(w);
	ck_assert_int_eq(nm_meshos_exit_maintenance(w->m, me), 0);
	step(w);
	struct nm_meshos_stats st;
	nm_meshos_stats(w->m, &st);
	ck_assert(st.evac.active);
	ck_assert_uint_eq(st.transitions_committed, 1); /* the exit changed nothing */
	expect_drained(w, 1, 20000);
	world_free(w);
}
END_TEST

/* No new daemons and no inbound migrations in maintenance; both again after ExitMaintenance. */
START_TEST(leaving_maintenance_takes_new_work_again)
{
	struct world *w = world_new(0xE6, 4, true);
	spawn_a(w, "ectr", 1);
	uint64_t me = nm_meshos_node_id(w->m);
	/* A daemon on B that will try to come to A. */
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(w->p.nodes[B].rt, "ectr", &id, NULL, &h, NULL), 0);
	ck_assert_int_eq(nm_runtime_expect_migration(w->p.nodes[A].rt, "ectr", id.origin_hash, NULL,
						     NULL), 0);
	step(w);
	ck_assert(nm_meshos_accepts_work(w->m));
	ck_assert_int_eq(nm_meshos_enter_maintenance(w->m, me, 60000), 0);
	run_until(w, NM_MAINT_MAINTENANCE, 20000);
	ck_assert(!nm_meshos_accepts_work(w->m));

	struct ectr *d = calloc(1, sizeof(*d));
	d->base.ops = &ops_any;
	struct nm_identity nid_;
	ck_assert_int_eq(nm_identity_generate(&nid_), 0);
	struct nm_meshos_handle *mh = NULL;
	ck_assert_int_eq(nm_meshos_register(w->m, &d->base, &nid_, NULL, &mh), -EAGAIN);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "in_maintenance");
	ck_assert(!nm_runtime_has_daemon(w->p.nodes[A].rt, nid_.origin_hash));

	/* Inbound: answered NotReady (no retry budget: the source gives up at once). */
	migrate_b_to_a(w, id.origin_hash);
	ck_assert(nm_runtime_has_daemon(w->p.nodes[B].rt, id.origin_hash));
	ck_assert(!nm_runtime_has_daemon(w->p.nodes[A].rt, id.origin_hash));

	ck_assert_int_eq(nm_meshos_exit_maintenance(w->m, me), 0);
	run_until(w, NM_MAINT_RECOVERY, 2000);
	ck_assert(nm_meshos_accepts_work(w->m));
	d = calloc(1, sizeof(*d));
	d->base.ops = &ops_any;
	ck_assert_int_eq(nm_meshos_register(w->m, &d->base, &nid_, NULL, &mh), 0);
	ck_assert(nm_runtime_has_daemon(w->p.nodes[A].rt, nid_.origin_hash));
	migrate_b_to_a(w, id.origin_hash);
	ck_assert(nm_runtime_has_daemon(w->p.nodes[A].rt, id.origin_hash));
	nm_meshos_handle_free(mh);
	nm_identity_wipe(&id);
	nm_identity_wipe(&nid_);
	world_free(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("evac");
	TCase *t = tcase_create("evacuation");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, place_capable_peers_in_turn_then_fallback);
	tcase_add_test(t, maintenance_evacuates_every_daemon_to_a_capable_peer);
	tcase_add_test(t, an_evacuation_with_prepare_ms_drains_every_daemon);
	tcase_add_test(t, daemon_no_peer_satisfies_stays_and_is_reported);
	tcase_add_test(t, evacuation_completes_under_loss);
	tcase_add_test(t, failed_migrations_are_retried_on_the_next_peer);
	tcase_add_test(t, exit_while_entering_lets_the_evacuation_finish);
	tcase_add_test(t, leaving_maintenance_takes_new_work_again);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return nm_test_run(suite());
}

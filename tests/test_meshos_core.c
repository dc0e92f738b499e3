/* SPDX-License-Identifier: MIT */
/*
 * test_meshos_core.c - the MeshOS parts that need no EAL, in Check's fork
 * mode: the bounded queue, the maintenance state machine (successor table,
 * admin rules, every reconcile move, the edge detector, the view), the
 * control router (counters, capacity, conversions, pump grouping), the log
 * ring, the capability index and the error envelope. Upstream's own unit
 * tests of these (seed 003 and the reference's §6) are in test_meshos.c.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nm_bq.h"
#include "nm_capindex.h"
#include "nm_ctlrouter.h"
#include "nm_logring.h"
#include "nm_maint.h"
#include "nm_meshos.h"
#include "nm_time.h"

/* ---- bounded queue ---- */

START_TEST(bq_has_exact_capacity_and_is_fifo)
{
	struct nm_bq *q = nm_bq_create(3, sizeof(uint32_t));
	ck_assert_ptr_nonnull(q);
	for (uint32_t v = 1; v <= 3; v++)
		ck_assert_int_eq(nm_bq_push(q, &v), 0);
	uint32_t v = 4;
	ck_assert_int_eq(nm_bq_push(q, &v), -ENOBUFS); /* the new record is the one refused */
	ck_assert_uint_eq(nm_bq_count(q), 3);
	for (uint32_t want = 1; want <= 3; want++) {
		ck_assert_int_eq(nm_bq_pop(q, &v), 0);
		ck_assert_uint_eq(v, want);
	}
	ck_assert_int_eq(nm_bq_pop(q, &v), -EAGAIN);
	/* Laps around a capacity that is not a power of two. */
	for (uint32_t i = 0; i < 100; i++) {
		ck_assert_int_eq(nm_bq_push(q, &i), 0);
		ck_assert_int_eq(nm_bq_pop(q, &v), 0);
		ck_assert_uint_eq(v, i);
	}
	nm_bq_free(q);
	ck_assert_ptr_null(nm_bq_create(0, 4));
	ck_assert_ptr_null(nm_bq_create(4, 0));
}
END_TEST

START_TEST(bq_close_refuses_pushes_but_keeps_records)
{
	struct nm_bq *q = nm_bq_create(2, sizeof(uint64_t));
	uint64_t v = 7;
	ck_assert_int_eq(nm_bq_push(q, &v), 0);
	nm_bq_close(q);
	ck_assert(nm_bq_closed(q));
	ck_assert_int_eq(nm_bq_push(q, &v), -EPIPE);
	ck_assert_int_eq(nm_bq_wait(q, 0), 0); /* closed: no wait */
	ck_assert_int_eq(nm_bq_pop(q, &v), 0);
	ck_assert_uint_eq(v, 7);
	nm_bq_free(q);
}
END_TEST

START_TEST(bq_wait_times_out_on_a_quiet_queue)
{
	struct nm_bq *q = nm_bq_create(2, sizeof(uint64_t));
	uint64_t t0 = nm_mono_ms();
	ck_assert_int_eq(nm_bq_wait(q, 30), -ETIMEDOUT);
	uint64_t dt = nm_mono_ms() - t0;
	ck_assert_uint_ge(dt, 29);
	ck_assert_uint_lt(dt, 1000);
	nm_bq_free(q);
}
END_TEST

static void *push_later(void *arg)
{
	usleep(20000);
	uint64_t v = 42;
	nm_bq_push(arg, &v);
	return NULL;
}

START_TEST(bq_wait_wakes_on_a_push_from_another_thread)
{
	struct nm_bq *q = nm_bq_create(2, sizeof(uint64_t));
	pthread_t t;
	pthread_create(&t, NULL, push_later, q);
	uint64_t t0 = nm_mono_ms();
	ck_assert_int_eq(nm_bq_wait(q, 5000), 0);
	ck_assert_uint_lt(nm_mono_ms() - t0, 2000);
	uint64_t v;
	ck_assert_int_eq(nm_bq_pop(q, &v), 0);
	ck_assert_uint_eq(v, 42);
	pthread_join(t, NULL);
	nm_bq_free(q);
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct producer {
	struct nm_bq *q;
	uint32_t base;
};

static void *produce(void *arg)
{
	const struct producer *p = arg;
	struct nm_bq *q = p->q;
	uint32_t base = p->base;
	for (uint32_t i = 0; i < PER_PRODUCER; i++) {
		uint32_t v = base * PER_PRODUCER + i;
		while (nm_bq_push(q, &v) == -ENOBUFS)
			sched_yield();
	}
	return NULL;
}

START_TEST(bq_many_producers_lose_and_duplicate_nothing)
{
	struct nm_bq *q = nm_bq_create(64, sizeof(uint32_t));
	struct producer args[PRODUCERS];
	pthread_t t[PRODUCERS];
	for (uint32_t p = 0; p < PRODUCERS; p++) {
		args[p].q = q;
		args[p].base = p;
		pthread_create(&t[p], NULL, produce, &args[p]);
	}
	uint8_t *seen = calloc(PRODUCERS * PER_PRODUCER, 1);
	uint32_t last[PRODUCERS] = { 0 };
	bool first[PRODUCERS] = { true, true, true, true };
	for (uint32_t got = 0; got < PRODUCERS * PER_PRODUCER;) {
		uint32_t v;
		if (nm_bq_wait(q, 5000) != 0 || nm_bq_pop(q, &v) != 0)
			continue;
		ck_assert_uint_lt(v, PRODUCERS * PER_PRODUCER);
		ck_assert_uint_eq(seen[v], 0);
		seen[v] = 1;
		uint32_t p = v / PER_PRODUCER;
		ck_assert(first[p] || v > last[p]); /* FIFO per producer */
		first[p] = false;
		last[p] = v;
		got++;
	}
	for (uint32_t p = 0; p < PRODUCERS; p++)
		pthread_join(t[p], NULL);
	free(seen);
	nm_bq_free(q);
}
END_TEST

/* ---- maintenance state machine ---- */

static const enum nm_maint_kind A = NM_MAINT_ACTIVE, E = NM_MAINT_ENTERING,
				M = NM_MAINT_MAINTENANCE, X = NM_MAINT_EXITING,
				F = NM_MAINT_DRAIN_FAILED, R = NM_MAINT_RECOVERY;

START_TEST(successor_table_is_the_eight_forward_arcs)
{
	const struct {
		enum nm_maint_kind from, to;
	} arcs[] = { { A, E }, { E, M }, { E, F }, { M, X }, { M, F }, { X, R }, { F, X }, { R, A } };
	for (int from = 0; from < NM_MAINT_KINDS; from++) {
		for (int to = 0; to < NM_MAINT_KINDS; to++) {
			bool want = from == to;
			for (size_t i = 0; i < sizeof(arcs) / sizeof(arcs[0]); i++)
				want |= arcs[i].from == (enum nm_maint_kind)from &&
					arcs[i].to == (enum nm_maint_kind)to;
			ck_assert_msg(nm_maint_valid_successor(from, to) == want, "%s -> %s",
				      nm_maint_kind_name(from), nm_maint_kind_name(to));
		}
	}
	/* Upstream's named refusals. */
	ck_assert(!nm_maint_valid_successor(X, F));
	ck_assert(!nm_maint_valid_successor(E, A));
	ck_assert(!nm_maint_valid_successor(M, E));
	ck_assert(!nm_maint_valid_successor(R, M));
	ck_assert(!nm_maint_valid_successor(X, E));
	ck_assert(!nm_maint_valid_successor(F, E));
	ck_assert(!nm_maint_valid_successor(M, A));
	ck_assert(!nm_maint_valid_successor(A, 17));
}
END_TEST

START_TEST(kind_names_match_upstream)
{
	ck_assert_str_eq(nm_maint_kind_name(E), "entering_maintenance");
	ck_assert_str_eq(nm_maint_kind_name(F), "drain_failed");
	ck_assert_str_eq(nm_maint_kind_name(99), "unknown");
	ck_assert_str_eq(nm_maint_mirror_name(X), "ExitingMaintenance");
	ck_assert_str_eq(nm_maint_mirror_name(R), "Recovery");
	ck_assert_str_eq(nm_control_kind_name(NM_CONTROL_DRAIN_START), "DrainStart");
	ck_assert_str_eq(nm_control_kind_name(42), "Unknown");
}
END_TEST

START_TEST(admin_enter_works_from_any_state_and_exit_only_from_two)
{
	for (int k = 0; k < NM_MAINT_KINDS; k++) {
		struct nm_maint_state s = { .kind = k, .since_ms = 1 };
		nm_maint_enter(&s, 100, 60000);
		ck_assert_int_eq(s.kind, E);
		ck_assert_uint_eq(s.since_ms, 100);
		ck_assert(s.has_deadline);
		ck_assert_uint_eq(s.deadline_ms, 60100);
	}
	for (int k = 0; k < NM_MAINT_KINDS; k++) {
		struct nm_maint_state s = { .kind = k, .since_ms = 1 };
		bool moved = nm_maint_exit(&s, 200);
		ck_assert(moved == (k == M || k == F));
		ck_assert_int_eq(s.kind, moved ? (int)X : k);
		ck_assert_uint_eq(s.since_ms, moved ? 200 : 1);
	}
}
END_TEST

START_TEST(apply_takes_valid_moves_and_refuses_backward_ones)
{
	struct nm_maint_state s = { .kind = R, .since_ms = 5 };
	struct nm_maint_state to_m = { .kind = M, .since_ms = 9 };
	ck_assert(!nm_maint_apply(&s, &to_m));
	ck_assert_int_eq(s.kind, R);
	ck_assert_uint_eq(s.since_ms, 5); /* untouched */
	struct nm_maint_state to_a = { .kind = A };
	ck_assert(nm_maint_apply(&s, &to_a));
	ck_assert_int_eq(s.kind, A);
	/* Same kind again: accepted, fields overwritten (replay tolerance). */
	struct nm_maint_state e1 = { .kind = E, .since_ms = 1 }, e2 = { .kind = E, .since_ms = 2 };
	ck_assert(nm_maint_apply(&s, &e1));
	ck_assert(nm_maint_apply(&s, &e2));
	ck_assert_uint_eq(s.since_ms, 2);
}
END_TEST

static struct nm_maint_facts facts(bool stopped, bool healthy)
{
	struct nm_maint_facts f = { stopped, healthy, 5 * 60 * 1000 };
	return f;
}

START_TEST(reconcile_entering_moves)
{
	struct nm_maint_state s, next;
	nm_maint_enter(&s, 1000, 60000); /* deadline 61000 */
	struct nm_maint_facts busy = facts(false, true), idle = facts(true, true);
	/* Daemons still running, before the deadline: nothing. */
	ck_assert(!nm_maint_reconcile(&s, 30000, &busy, &next));
	/* All stopped: Maintenance. */
	ck_assert(nm_maint_reconcile(&s, 30000, &idle, &next));
	ck_assert_int_eq(next.kind, M);
	ck_assert_uint_eq(next.since_ms, 30000);
	/* Past the deadline with daemons running: DrainFailed with upstream's reason. */
	ck_assert(nm_maint_reconcile(&s, 62000, &busy, &next));
	ck_assert_int_eq(next.kind, F);
	ck_assert_str_eq(next.reason, "drain deadline elapsed after 61000ms");
	/* At the deadline exactly, both true: success wins. */
	ck_assert(nm_maint_reconcile(&s, 61000, &idle, &next));
	ck_assert_int_eq(next.kind, M);
	ck_assert(nm_maint_reconcile(&s, 61000, &busy, &next));
	ck_assert_int_eq(next.kind, F);
	/* No deadline (a committed Entering without one): never DrainFailed. */
	struct nm_maint_state nd = { .kind = E, .since_ms = 0 };
	ck_assert(!nm_maint_reconcile(&nd, UINT64_MAX / 2, &busy, &next));
}
END_TEST

START_TEST(reconcile_exiting_recovery_and_the_quiet_states)
{
	struct nm_maint_state next;
	struct nm_maint_state x = { .kind = X, .since_ms = 10 };
	ck_assert(!nm_maint_reconcile(&x, 20, &(struct nm_maint_facts){ false, false, 1 }, &next));
	ck_assert(nm_maint_reconcile(&x, 20, &(struct nm_maint_facts){ false, true, 1 }, &next));
	ck_assert_int_eq(next.kind, R);
	ck_assert_uint_eq(next.since_ms, 20);

	struct nm_maint_state r = { .kind = R, .since_ms = 0 };
	struct nm_maint_facts f = facts(true, true);
	ck_assert(!nm_maint_reconcile(&r, 60 * 1000, &f, &next)); /* 1 min < 5 min */
	ck_assert(nm_maint_reconcile(&r, 6 * 60 * 1000, &f, &next));
	ck_assert_int_eq(next.kind, A);
	ck_assert(nm_maint_reconcile(&r, 5 * 60 * 1000, &f, &next)); /* at the window: due */

	for (int k = 0; k < NM_MAINT_KINDS; k++) {
		if (k != A && k != M && k != F)
			continue;
		struct nm_maint_state s = { .kind = k };
		ck_assert(!nm_maint_reconcile(&s, 1ULL << 40, &f, &next));
		ck_assert(!nm_maint_reconcile(&s, 1ULL << 40, &(struct nm_maint_facts){ 0 }, &next));
	}
}
END_TEST

START_TEST(edge_detector_sends_drain_start_and_finish_only)
{
	for (int p = 0; p < NM_MAINT_KINDS; p++) {
		for (int c = 0; c < NM_MAINT_KINDS; c++) {
			uint32_t want = NM_CONTROL_NONE;
			if (p != c && c == E)
				want = NM_CONTROL_DRAIN_START;
			else if (p == E && (c == M || c == F))
				want = NM_CONTROL_DRAIN_FINISH;
			ck_assert_uint_eq(nm_maint_edge_control(p, c), want);
		}
	}
}
END_TEST

START_TEST(view_measures_from_now_and_clamps)
{
	struct nm_maint_state s;
	nm_maint_enter(&s, 1000, 4000); /* deadline 5000 */
	struct nm_maint_view v;
	nm_maint_view_of(&s, 2500, &v);
	ck_assert_int_eq(v.kind, E);
	ck_assert_uint_eq(v.since_ms, 1500);
	ck_assert(v.has_deadline);
	ck_assert_uint_eq(v.deadline_remaining_ms, 2500);
	nm_maint_view_of(&s, 9000, &v);
	ck_assert_uint_eq(v.deadline_remaining_ms, 0);
	nm_maint_view_of(&s, 0, &v); /* a clock before since: 0, not a wrap */
	ck_assert_uint_eq(v.since_ms, 0);
	struct nm_maint_state f = { .kind = F, .since_ms = 10, .reason = "why" };
	nm_maint_view_of(&f, 20, &v);
	ck_assert_str_eq(v.reason, "why");
	ck_assert(!v.has_deadline);
}
END_TEST

/* ---- control router ---- */

static struct nm_daemon_info info(uint64_t id, uint32_t lcore, bool oc)
{
	struct nm_daemon_info d = { .origin = id, .name = "d", .lcore = lcore, .on_control = oc };
	return d;
}

static const struct nm_daemon_control shutdown_1 = { .kind = NM_CONTROL_SHUTDOWN,
						     .grace_period_ms = 1 };

START_TEST(router_counts_drops_per_daemon_and_in_total)
{
	struct nm_ctlrouter r;
	ck_assert_int_eq(nm_ctlrouter_init(&r, 2), 0);
	ck_assert_int_eq(nm_ctlrouter_add(&r, &(struct nm_daemon_info){ .origin = 1 }, 0), 0);
	ck_assert_int_eq(nm_ctlrouter_add(&r, &(struct nm_daemon_info){ .origin = 2 }, 5), 0);
	ck_assert_int_eq(nm_ctlrouter_add(&r, &(struct nm_daemon_info){ .origin = 2 }, 5), -EEXIST);
	for (int i = 0; i < 6; i++)
		nm_ctlrouter_broadcast(&r, &shutdown_1);
	struct nm_ctlslot *a = nm_ctlrouter_get(&r, 1), *b = nm_ctlrouter_get(&r, 2);
	ck_assert_uint_eq(nm_ctlslot_dropped(a), 4); /* router default: exactly 2 */
	ck_assert_uint_eq(nm_ctlslot_dropped(b), 1); /* its own: exactly 5 */
	ck_assert_uint_eq(nm_ctlrouter_dropped(&r), 5);
	ck_assert_uint_eq(atomic_load(&r.routed), 7);
	/* The total survives the daemon's unregistration (upstream's would fall to 1). */
	ck_assert(nm_ctlrouter_remove(&r, 1));
	ck_assert(!nm_ctlrouter_remove(&r, 1));
	ck_assert_uint_eq(nm_ctlrouter_dropped(&r), 5);
	ck_assert_int_eq(nm_ctlrouter_route(&r, 1, &shutdown_1), -ENOENT);
	ck_assert_int_eq(nm_ctlrouter_route(&r, 2, &shutdown_1), -ENOBUFS);
	/* The handle's reference keeps a removed channel readable, then closed. */
	struct nm_daemon_control c;
	ck_assert_int_eq(nm_ctlslot_pop(a, &c), 0);
	ck_assert(nm_bq_closed(a->q));
	nm_ctlslot_put(a);
	nm_ctlslot_put(b);
	ck_assert_uint_eq(nm_ctlrouter_count(&r), 1);
	nm_ctlrouter_fini(&r);
}
END_TEST

START_TEST(router_keeps_fifo_order_and_drops_the_newest)
{
	struct nm_ctlrouter r;
	nm_ctlrouter_init(&r, 0);
	nm_ctlrouter_add(&r, &(struct nm_daemon_info){ .origin = 9 }, 0);
	for (uint64_t g = 1; g <= 10; g++) {
		struct nm_daemon_control c = { .kind = NM_CONTROL_SHUTDOWN, .grace_period_ms = g };
		ck_assert_int_eq(nm_ctlrouter_route(&r, 9, &c), g <= 8 ? 0 : -ENOBUFS);
	}
	struct nm_ctlslot *s = nm_ctlrouter_get(&r, 9);
	struct nm_daemon_control c;
	for (uint64_t g = 1; g <= 8; g++) {
		ck_assert_int_eq(nm_ctlslot_pop(s, &c), 0);
		ck_assert_uint_eq(c.grace_period_ms, g);
	}
	ck_assert_int_eq(nm_ctlslot_pop(s, &c), -EAGAIN);
	nm_ctlslot_put(s);
	nm_ctlrouter_fini(&r);
}
END_TEST

START_TEST(control_conversion_at_emit_time)
{
	struct nm_mesh_control sd = { .kind = NM_CONTROL_SHUTDOWN, .deadline_ms = 12500 };
	ck_assert_uint_eq(nm_control_at(&sd, 10000).grace_period_ms, 2500);
	struct nm_mesh_control ds = { .kind = NM_CONTROL_DRAIN_START, .deadline_ms = 9000 };
	ck_assert_uint_eq(nm_control_at(&ds, 10000).grace_period_ms, 0); /* past: 0 */
	struct nm_mesh_control on = { .kind = NM_CONTROL_BACKPRESSURE_ON, .level = 0.75f,
				      .deadline_ms = 99999 };
	struct nm_daemon_control c = nm_control_at(&on, 1);
	ck_assert(c.level == 0.75f);
	ck_assert_uint_eq(c.grace_period_ms, 0);
	struct nm_mesh_control fin = { .kind = NM_CONTROL_DRAIN_FINISH, .deadline_ms = 5 };
	c = nm_control_at(&fin, 1);
	ck_assert_uint_eq(c.kind, NM_CONTROL_DRAIN_FINISH);
	ck_assert_uint_eq(c.grace_period_ms, 0);
	struct nm_mesh_control off = { .kind = NM_CONTROL_BACKPRESSURE_OFF, .level = 0.5f };
	c = nm_control_at(&off, 1);
	ck_assert_uint_eq(c.kind, NM_CONTROL_BACKPRESSURE_OFF);
	ck_assert(c.level == 0.0f);
}
END_TEST

START_TEST(collect_groups_on_control_slots_by_lcore)
{
	struct nm_ctlrouter r;
	nm_ctlrouter_init(&r, 0);
	for (uint64_t id = 1; id <= 9; id++) {
		struct nm_daemon_info d = info(id, (uint32_t)(id % 3), id != 5);
		ck_assert_int_eq(nm_ctlrouter_add(&r, &d, 0), 0);
	}
	struct nm_ctlpending *buf = NULL;
	size_t cap = 0;
	ck_assert_int_eq(nm_ctlrouter_collect(&r, &buf, &cap), 0); /* nothing arrived */
	nm_ctlrouter_route(&r, 5, &shutdown_1);                     /* a handle reader: no flag */
	ck_assert_int_eq(nm_ctlrouter_collect(&r, &buf, &cap), 0);
	ck_assert_uint_eq(nm_ctlrouter_broadcast(&r, &shutdown_1), 9);
	int n = nm_ctlrouter_collect(&r, &buf, &cap);
	ck_assert_int_eq(n, 8);
	/* Each lcore's slots are contiguous. */
	bool done[3] = { false };
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(buf[i].slot->lcore, buf[i].lcore);
		ck_assert(buf[i].slot->on_control);
		if (i > 0 && buf[i].lcore != buf[i - 1].lcore)
			done[buf[i - 1].lcore] = true;
		ck_assert(!done[buf[i].lcore]);
	}
	for (int i = 0; i < n; i++)
		nm_ctlslot_put(buf[i].slot);
	ck_assert_int_eq(nm_ctlrouter_collect(&r, &buf, &cap), 0); /* flag consumed */
	/* Removing from the middle of a group keeps the rest reachable. */
	nm_ctlrouter_remove(&r, 4);
	nm_ctlrouter_broadcast(&r, &shutdown_1);
	n = nm_ctlrouter_collect(&r, &buf, &cap);
	ck_assert_int_eq(n, 7);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_ne(buf[i].slot->id, 4);
		nm_ctlslot_put(buf[i].slot);
	}
	free(buf);
	nm_ctlrouter_fini(&r);
}
END_TEST

struct seen {
	struct nm_daemon base;
	uint32_t kinds[8];
	uint32_t n;
};

static void seen_on_control(struct nm_daemon *d, const struct nm_daemon_control *c)
{
	struct seen *s = (struct seen *)d;
	if (s->n < 8)
		s->kinds[s->n] = c->kind;
	s->n++;
}

START_TEST(drain_passes_every_waiting_event_to_on_control)
{
	static const struct nm_daemon_ops ops = { .name = "seen", .on_control = seen_on_control };
	struct seen d = { .base = { &ops } };
	struct nm_ctlrouter r;
	nm_ctlrouter_init(&r, 0);
	struct nm_daemon_info di = info(3, 1, true);
	nm_ctlrouter_add(&r, &di, 0);
	struct nm_daemon_control a = { .kind = NM_CONTROL_DRAIN_START, .grace_period_ms = 9 };
	struct nm_daemon_control b = { .kind = NM_CONTROL_DRAIN_FINISH };
	nm_ctlrouter_route(&r, 3, &a);
	nm_ctlrouter_route(&r, 3, &b);
	struct nm_ctlslot *s = nm_ctlrouter_get(&r, 3);
	ck_assert_uint_eq(nm_ctlslot_drain(s, &d.base), 2);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(d.kinds[0], NM_CONTROL_DRAIN_START);
	ck_assert_uint_eq(d.kinds[1], NM_CONTROL_DRAIN_FINISH);
	ck_assert_uint_eq(nm_ctlslot_drain(s, &d.base), 0);
	nm_ctlslot_put(s);
	nm_ctlrouter_fini(&r);
}
END_TEST

/* ---- log ring, capability index, errors ---- */

START_TEST(log_ring_numbers_drops_oldest_and_shows_only_published)
{
	struct nm_logring lr;
	ck_assert_int_eq(nm_logring_init(&lr, 4), 0);
	struct nm_log_record r = { .level = NM_LOG_INFO }, out[8];
	for (int i = 0; i < 3; i++) {
		snprintf(r.message, sizeof(r.message), "m%d", i);
		ck_assert_uint_eq(nm_logring_push(&lr, &r), (uint64_t)i + 1);
	}
	ck_assert_uint_eq(nm_logring_read(&lr, 0, out, 8), 0); /* not published yet */
	nm_logring_publish(&lr);
	ck_assert_uint_eq(nm_logring_read(&lr, 0, out, 8), 3);
	ck_assert_str_eq(out[0].message, "m0");
	ck_assert_uint_eq(nm_logring_read(&lr, 2, out, 8), 1);
	ck_assert_uint_eq(out[0].seq, 3);
	for (int i = 3; i < 7; i++)
		nm_logring_push(&lr, &r);
	nm_logring_publish(&lr);
	ck_assert_uint_eq(nm_logring_read(&lr, 0, out, 8), 4); /* 4..7: the oldest went */
	ck_assert_uint_eq(out[0].seq, 4);
	ck_assert_uint_eq(out[3].seq, 7);
	ck_assert_str_eq(nm_log_level_name(NM_LOG_WARN), "warn");
	nm_logring_fini(&lr);
}
END_TEST

START_TEST(capability_index_stores_replaces_queries_and_forgets)
{
	struct nm_capindex ci;
	ck_assert_int_eq(nm_capindex_init(&ci), 0);
	struct nm_capability_set gpu = { .has_gpu = true, .memory_gb = 16 }, plain = { 0 };
	nm_capability_set_add_tag(&gpu, "inference");
	ck_assert_int_eq(nm_capindex_put(&ci, 1, &gpu), 0);
	ck_assert_int_eq(nm_capindex_put(&ci, 2, &plain), 0);
	struct nm_capability_filter want = { .require_gpu = true };
	uint64_t ids[4];
	ck_assert_uint_eq(nm_capindex_query(&ci, &want, ids, 4), 1);
	ck_assert_uint_eq(ids[0], 1);
	ck_assert_uint_eq(nm_capindex_query(&ci, NULL, ids, 4), 2);
	ck_assert_int_eq(nm_capindex_put(&ci, 1, &plain), 0); /* replaced */
	ck_assert_uint_eq(nm_capindex_query(&ci, &want, ids, 4), 0);
	ck_assert_uint_eq(nm_capindex_publishes(&ci), 3);
	struct nm_capability_set got;
	ck_assert(nm_capindex_get(&ci, 2, &got));
	nm_capindex_remove(&ci, 2);
	ck_assert(!nm_capindex_get(&ci, 2, &got));
	ck_assert_uint_eq(nm_capindex_count(&ci), 1);
	nm_capindex_fini(&ci);
}
END_TEST

START_TEST(error_envelope_and_last_error)
{
	char buf[128];
	int n = nm_meshos_error_format(buf, sizeof(buf), "queue_full", "full");
	ck_assert_str_eq(buf, "<<meshos-sdk-kind:queue_full>>full");
	ck_assert_int_eq(n, (int)strlen(buf));
	nm_meshos_clear_last_error();
	ck_assert_ptr_null(nm_meshos_last_error_kind());
	ck_assert_int_eq(nm_meshos_last_error_format(buf, sizeof(buf)), 0);
	/* A failing call records the kind; a NULL handle is invalid_argument. */
	ck_assert_int_eq(nm_meshos_publish_log(NULL, 2, "x"), -EINVAL);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "invalid_argument");
	nm_meshos_last_error_format(buf, sizeof(buf));
	ck_assert_str_eq(buf, "<<meshos-sdk-kind:invalid_argument>>daemon handle is NULL");
	ck_assert_int_eq(nm_meshos_shutdown(NULL), -EINVAL);
	ck_assert_uint_eq(nm_meshos_daemon_id(NULL), 0);
	ck_assert_ptr_null(nm_meshos_daemon_name(NULL));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("meshos-core");
	TCase *q = tcase_create("bq");
	tcase_add_test(q, bq_has_exact_capacity_and_is_fifo);
	tcase_add_test(q, bq_close_refuses_pushes_but_keeps_records);
	tcase_add_test(q, bq_wait_times_out_on_a_quiet_queue);
	tcase_add_test(q, bq_wait_wakes_on_a_push_from_another_thread);
	tcase_add_test(q, bq_many_producers_lose_and_duplicate_nothing);
	tcase_set_timeout(q, 30);
	suite_add_tcase(s, q);
	TCase *m = tcase_create("maintenance");
	tcase_add_test(m, successor_table_is_the_eight_forward_arcs);
	tcase_add_test(m, kind_names_match_upstream);
	tcase_add_test(m, admin_enter_works_from_any_state_and_exit_only_from_two);
	tcase_add_test(m, apply_takes_valid_moves_and_refuses_backward_ones);
	tcase_add_test(m, reconcile_entering_moves);
	tcase_add_test(m, reconcile_exiting_recovery_and_the_quiet_states);
	tcase_add_test(m, edge_detector_sends_drain_start_and_finish_only);
	tcase_add_test(m, view_measures_from_now_and_clamps);
	suite_add_tcase(s, m);
	TCase *r = tcase_create("router");
	tcase_add_test(r, router_counts_drops_per_daemon_and_in_total);
	tcase_add_test(r, router_keeps_fifo_order_and_drops_the_newest);
	tcase_add_test(r, control_conversion_at_emit_time);
	tcase_add_test(r, collect_groups_on_control_slots_by_lcore);
	tcase_add_test(r, drain_passes_every_waiting_event_to_on_control);
	suite_add_tcase(s, r);
	TCase *o = tcase_create("other");
	tcase_add_test(o, log_ring_numbers_drops_oldest_and_shows_only_published);
	tcase_add_test(o, capability_index_stores_replaces_queries_and_forgets);
	tcase_add_test(o, error_envelope_and_last_error);
	suite_add_tcase(s, o);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

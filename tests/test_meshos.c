/* SPDX-License-Identifier: MIT */
/*
 * test_meshos.c - MeshOS on a runtime. First the seed's test module
 * (net-mesh meshos/sdk.rs, seed 003) one to one: each START_TEST named like a
 * seed test is its twin, with the same assertions (where upstream's behaviour
 * differs on purpose, the extra assertion says so). Then the loop (every
 * reconcile move with real daemons, commits, the edge detector, StopDaemon,
 * backpressure hysteresis), the SDK's error kinds and timing, and the fan-out
 * over worker lcores (workers really run on lcores 1 and 2, EAL maps 3
 * lcores onto 2 CPUs).
 *
 * The loop is driven by nm_meshos_poll with a synthetic clock (fx.now), so
 * no test depends on scheduling except the SDK's real-time waits.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_mesh.h"
#include "nm_meshos.h"
#include "nm_meshos_int.h"
#include "nm_meshos_probe.h"
#include "nm_runtime.h"
#include "nm_test.h"
#include "nm_time.h"

/* ---- test daemons ---- */

/* A daemon with a name of our choice that does nothing (upstream's NoopDaemon). */
struct noop {
	struct nm_daemon base;
	struct nm_daemon_ops ops;
};

static int noop_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d, (void)ev, (void)out, (void)err;
	return 0;
}

static void noop_destroy(struct nm_daemon *d)
{
	free(d);
}

static struct nm_daemon *noop_new(const char *name)
{
	struct noop *n = calloc(1, sizeof(*n));
	ck_assert_ptr_nonnull(n);
	n->ops = (struct nm_daemon_ops){ .name = name, .process = noop_process,
					 .destroy = noop_destroy };
	n->base.ops = &n->ops;
	return &n->base;
}

/* A daemon that records its control events and the lcore that delivered them. */
#define WATCH_MAX 4096
struct watcher {
	struct nm_daemon base;
	uint32_t drain_start, other;
	uint64_t grace;
	unsigned ran_on;
	uint32_t lcore; /* where it was pinned */
};

static void watcher_on_control(struct nm_daemon *d, const struct nm_daemon_control *c)
{
	struct watcher *w = (struct watcher *)d;
	if (c->kind == NM_CONTROL_DRAIN_START) {
		w->drain_start++;
		w->grace = c->grace_period_ms;
	} else {
		w->other++;
	}
	w->ran_on = rte_lcore_id();
}

/* The test frees watchers (dp_down), so they can be read after their daemon stopped. */
static void watcher_destroy(struct nm_daemon *d)
{
	(void)d;
}

static const struct nm_daemon_ops watcher_ops = {
	.name = "watcher", .process = noop_process, .destroy = watcher_destroy,
	.on_control = watcher_on_control,
};

/* Factory ctx: where the test finds the instances. */
struct watchers {
	struct watcher *w[WATCH_MAX];
	unsigned n;
};

static struct nm_daemon *watcher_new(void *ctx)
{
	struct watchers *ws = ctx;
	struct watcher *w = calloc(1, sizeof(*w));
	if (w == NULL || ws->n == WATCH_MAX)
		return NULL;
	w->base.ops = &watcher_ops;
	w->ran_on = RTE_MAX_LCORE;
	ws->w[ws->n++] = w;
	return &w->base;
}

/* ---- dispatcher recorder ---- */

struct record {
	struct nm_meshos_action acts[64];
	int n;
	int bp_on, bp_off;
	float bp_level;
};

static int rec_dispatch(void *ctx, const struct nm_meshos_action *a)
{
	struct record *r = ctx;
	if (r->n < 64)
		r->acts[r->n] = *a;
	r->n++;
	return 0;
}

static void rec_bp(void *ctx, bool on, float level)
{
	struct record *r = ctx;
	if (on)
		r->bp_on++;
	else
		r->bp_off++;
	r->bp_level = level;
}

/* ---- fixture ---- */

#define T0 1000000ULL /* the synthetic loop clock starts here */

struct fx {
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_meshos *m;
	struct nm_meshos_config cfg;
	struct record rec;
	uint64_t now;
};

static struct nm_runtime *runtime_on(const char *port, struct nm_mesh **mesh)
{
	struct nm_mesh_config mc = { .port = port };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	ck_assert_int_eq(nm_mesh_create(&mc, mesh, NULL), 0);
	struct nm_runtime *rt = nm_runtime_create(nm_mesh_node(*mesh));
	ck_assert_ptr_nonnull(rt);
	ck_assert_int_eq(nm_builtin_register_all(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	return rt;
}

/* upstream's fast_config(): a 10 ms tick. */
static void fx_config(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.tick_ms = 10;
	f->cfg.this_node = 100;
	f->now = T0;
}

static void fx_start(struct fx *f)
{
	if (f->rt == NULL)
		f->rt = runtime_on("net_null0", &f->mesh);
	f->cfg.rt = f->rt;
	struct nm_meshos_dispatcher d = { .ctx = &f->rec, .dispatch = rec_dispatch,
					  .on_backpressure = rec_bp };
	ck_assert_int_eq(nm_meshos_start(&f->cfg, &d, &f->m), 0);
	nm_meshos_poll(f->m, f->now); /* the loop starts: first tick one interval later */
}

static void fx_up(struct fx *f)
{
	fx_config(f);
	fx_start(f);
}

static void fx_down(struct fx *f)
{
	nm_meshos_free(f->m);
	nm_runtime_destroy(f->rt);
	nm_mesh_destroy(f->mesh);
}

/* Run the loop for `ms` of loop time, one poll per ms. */
static void run(struct fx *f, uint64_t ms)
{
	for (uint64_t end = f->now + ms; f->now < end;)
		nm_meshos_poll(f->m, ++f->now);
}

/* Poll once now (apply what was published) without moving the clock. */
static void step(struct fx *f)
{
	nm_meshos_poll(f->m, f->now);
}

static struct nm_identity gen(void)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	return id;
}

static struct nm_meshos_handle *reg(struct fx *f, const char *name)
{
	struct nm_identity id = gen();
	struct nm_meshos_handle *h = NULL;
	int rc = nm_meshos_register(f->m, noop_new(name), &id, NULL, &h);
	ck_assert_msg(rc == 0, "register %s: %s", name, nm_meshos_last_error_message());
	return h;
}

static struct nm_daemon_control next(struct nm_meshos_handle *h)
{
	struct nm_daemon_control c;
	ck_assert_int_eq(nm_meshos_try_next_control(h, &c), 0);
	return c;
}

static struct nm_meshos_status status(struct fx *f)
{
	struct nm_meshos_status st;
	nm_meshos_status(f->m, &st);
	return st;
}

static struct nm_meshos_stats stats(struct fx *f)
{
	struct nm_meshos_stats st;
	nm_meshos_stats(f->m, &st);
	return st;
}

/* ==== seed 003: upstream sdk.rs tests, one to one ==== */

START_TEST(register_daemon_returns_handle_with_correct_identity)
{
	struct fx f;
	fx_up(&f);
	struct nm_identity kp = gen();
	uint64_t expected_id = kp.origin_hash;
	struct nm_meshos_handle *h;
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("telemetry"), &kp, NULL, &h), 0);
	ck_assert_uint_eq(nm_meshos_daemon_id(h), expected_id);
	ck_assert_str_eq(nm_meshos_daemon_name(h), "telemetry");
	nm_meshos_shutdown(f.m);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(control_router_routes_stop_daemon_to_per_daemon_channel)
{
	struct nm_ctlrouter router;
	ck_assert_int_eq(nm_ctlrouter_init(&router, 0), 0);
	ck_assert_int_eq(nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 42 }, 4), 0);
	struct nm_daemon_control sd = { .kind = NM_CONTROL_SHUTDOWN, .grace_period_ms = 5000 };
	nm_ctlrouter_route(&router, 42, &sd);
	struct nm_ctlslot *rx = nm_ctlrouter_get(&router, 42);
	struct nm_daemon_control ev;
	ck_assert_int_eq(nm_ctlslot_pop(rx, &ev), 0); /* event present */
	ck_assert_uint_eq(ev.kind, NM_CONTROL_SHUTDOWN);
	ck_assert_uint_eq(ev.grace_period_ms, 5000);
	nm_ctlslot_put(rx);
	nm_ctlrouter_fini(&router);
}
END_TEST

START_TEST(control_router_drops_when_channel_full)
{
	struct nm_ctlrouter router;
	nm_ctlrouter_init(&router, 0);
	nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 99 }, 1);
	struct nm_daemon_control a = { .kind = NM_CONTROL_BACKPRESSURE_ON, .level = 0.5f };
	struct nm_daemon_control b = { .kind = NM_CONTROL_BACKPRESSURE_ON, .level = 0.8f };
	nm_ctlrouter_route(&router, 99, &a);
	/* Second push exceeds capacity 1 -> drop. */
	nm_ctlrouter_route(&router, 99, &b);
	ck_assert_uint_eq(nm_ctlrouter_dropped(&router), 1);
	nm_ctlrouter_fini(&router);
}
END_TEST

START_TEST(translate_to_control_emits_shutdown_for_stop_daemon)
{
	struct nm_ctlrouter router;
	nm_ctlrouter_init(&router, 0);
	nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 7, .name = "x" }, 4);
	struct nm_meshos_action action = { .kind = NM_MESHOS_ACT_STOP_DAEMON, .daemon = 7,
					   .reason = "intent-stop",
					   .deadline_ms = nm_mono_ms() + 2500 };
	nm_meshos_translate(&router, &action, nm_mono_ms());
	struct nm_ctlslot *rx = nm_ctlrouter_get(&router, 7);
	struct nm_daemon_control ev;
	ck_assert_int_eq(nm_ctlslot_pop(rx, &ev), 0); /* translated to control event */
	ck_assert_uint_eq(ev.kind, NM_CONTROL_SHUTDOWN);
	/* Allow small slop for the clock arithmetic. */
	ck_assert(ev.grace_period_ms >= 2400 && ev.grace_period_ms <= 2500);
	nm_ctlslot_put(rx);
	nm_ctlrouter_fini(&router);
}
END_TEST

START_TEST(router_control_sink_broadcasts_drain_start_to_every_registered_daemon)
{
	struct nm_ctlrouter router;
	nm_ctlrouter_init(&router, 0);
	nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 1 }, 4);
	nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 2 }, 4);
	uint64_t now = nm_mono_ms();
	struct nm_mesh_control ds = { .kind = NM_CONTROL_DRAIN_START, .deadline_ms = now + 30000 };
	nm_ctlrouter_emit(&router, &ds, now);
	struct nm_ctlslot *rx_a = nm_ctlrouter_get(&router, 1), *rx_b = nm_ctlrouter_get(&router, 2);
	struct nm_daemon_control ev_a, ev_b;
	ck_assert_int_eq(nm_ctlslot_pop(rx_a, &ev_a), 0); /* daemon A received drain start */
	ck_assert_int_eq(nm_ctlslot_pop(rx_b, &ev_b), 0); /* daemon B received drain start */
	ck_assert_uint_eq(ev_a.kind, NM_CONTROL_DRAIN_START);
	ck_assert_uint_eq(ev_b.kind, NM_CONTROL_DRAIN_START);
	nm_ctlslot_put(rx_a);
	nm_ctlslot_put(rx_b);
	nm_ctlrouter_fini(&router);
}
END_TEST

START_TEST(unregister_removes_router_slot)
{
	struct nm_ctlrouter router;
	nm_ctlrouter_init(&router, 0);
	nm_ctlrouter_add(&router, &(struct nm_daemon_info){ .origin = 7 }, 4);
	nm_ctlrouter_remove(&router, 7);
	/* Subsequent dispatch against 7 is a no-op: no crash, no drop counted. */
	struct nm_daemon_control sd = { .kind = NM_CONTROL_SHUTDOWN, .grace_period_ms = 1 };
	nm_ctlrouter_route(&router, 7, &sd);
	ck_assert_uint_eq(nm_ctlrouter_dropped(&router), 0);
	nm_ctlrouter_fini(&router);
}
END_TEST

START_TEST(publish_log_lands_on_runtime_log_ring_tagged_with_daemon_id)
{
	struct fx f;
	fx_up(&f);
	struct nm_identity kp = gen();
	uint64_t daemon_id = kp.origin_hash;
	struct nm_meshos_handle *h;
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("logger"), &kp, NULL, &h), 0);
	ck_assert_int_eq(nm_meshos_publish_log(h, NM_LOG_WARN, "throttling: queue depth high"), 0);
	/* Give the loop a tick + reconcile + publish. */
	run(&f, 80);
	struct nm_log_record recs[16];
	uint32_t n = nm_meshos_logs(f.m, 0, recs, 16), matching = 0;
	const struct nm_log_record *record = NULL;
	for (uint32_t i = 0; i < n; i++) {
		if (recs[i].has_daemon && recs[i].daemon_id == daemon_id) {
			matching++;
			record = &recs[i];
		}
	}
	ck_assert_uint_eq(matching, 1); /* expected one log line for this daemon */
	ck_assert_uint_eq(record->level, NM_LOG_WARN);
	ck_assert_str_eq(record->message, "throttling: queue depth high");
	/* netmesh: the loop stamped seq, node and wall-clock time. */
	ck_assert_uint_eq(record->seq, 1);
	ck_assert_uint_eq(record->node_id, 100);
	ck_assert_uint_gt(record->ts_ms, 1600000000000ULL);
	nm_meshos_shutdown(f.m);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(publish_log_after_runtime_shutdown_returns_loop_closed)
{
	struct nm_meshos_handle *h;
	struct fx f;
	fx_up(&f);
	h = reg(&f, "logger");
	nm_meshos_shutdown(f.m);
	int rc = nm_meshos_publish_log(h, NM_LOG_INFO, "after shutdown");
	ck_assert_int_lt(rc, 0); /* publish after shutdown should fail */
	ck_assert_str_eq(nm_meshos_last_error_kind(), "loop_closed");
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(handle_drop_unregisters_from_registry_and_router)
{
	struct fx f;
	fx_up(&f);
	struct nm_identity kp = gen();
	uint64_t daemon_id = kp.origin_hash;
	struct nm_meshos_handle *h;
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("temp"), &kp, NULL, &h), 0);
	nm_meshos_handle_free(h);
	/* The registry no longer has the daemon: unregistering it again is NotFound. */
	struct nm_error err;
	ck_assert_int_eq(nm_runtime_stop(f.rt, daemon_id, &err), NM_ENOT_FOUND);
	/* netmesh: and the router has no slot for it. */
	struct nm_daemon_control sd = { .kind = NM_CONTROL_SHUTDOWN };
	ck_assert_int_eq(nm_meshos_route(f.m, daemon_id, &sd), -ENOENT);
	nm_meshos_shutdown(f.m);
	fx_down(&f);
}
END_TEST

struct reader {
	struct nm_meshos_handle *h;
	struct nm_daemon_control got;
	bool exit_on_shutdown;
	int rc;
};

/* A task that consumes one control event, mimicking a real daemon loop. */
static void *read_one(void *arg)
{
	struct reader *r = arg;
	r->rc = nm_meshos_next_control(r->h, 0, &r->got);
	if (r->exit_on_shutdown && r->got.kind == NM_CONTROL_SHUTDOWN)
		nm_meshos_exit(r->h);
	return NULL;
}

START_TEST(graceful_shutdown_sends_shutdown_control_then_unregisters)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "graceful");
	struct reader r = { .h = h };
	pthread_t t;
	pthread_create(&t, NULL, read_one, &r);
	/* graceful_shutdown injects a Shutdown event + waits the grace (short here). */
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 50), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.got.kind, NM_CONTROL_SHUTDOWN);
	ck_assert_uint_eq(r.got.grace_period_ms, 50);
	ck_assert(!nm_runtime_has_daemon(f.rt, nm_meshos_daemon_id(h)));
	nm_meshos_shutdown(f.m);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(publish_capabilities_returns_ok_pending_capability_chain_wiring)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "noop");
	struct nm_capability_set empty = { 0 };
	ck_assert_int_eq(nm_meshos_publish_capabilities(h, &empty), 0);
	nm_meshos_shutdown(f.m);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(refresh_metadata_pulls_from_runtime_snapshot)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "inspect");
	/* Let the loop run + publish at least one snapshot. */
	run(&f, 100);
	struct nm_meshos_metadata view;
	ck_assert_int_eq(nm_meshos_refresh_metadata(h, &view), 0);
	ck_assert_str_eq(view.daemon_name, "inspect");
	ck_assert_int_eq(view.maintenance.kind, NM_MAINT_ACTIVE);
	/* netmesh: the rest of the view. */
	ck_assert_uint_eq(view.node_id, 100);
	ck_assert_uint_eq(view.daemon_id, nm_meshos_daemon_id(h));
	ck_assert_uint_eq(view.n_peers, 0);
	nm_meshos_shutdown(f.m);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(sdk_error_display_carries_kind_discriminator)
{
	char formatted[256];
	nm_meshos_error_format(formatted, sizeof(formatted), "register_failed",
			       "host already registered");
	ck_assert(strncmp(formatted, "<<meshos-sdk-kind:register_failed>>", 35) == 0);
	size_t n = strlen(formatted), m = strlen("host already registered");
	ck_assert_str_eq(formatted + n - m, "host already registered");
}
END_TEST

START_TEST(maintenance_state_view_round_trips_active_default)
{
	uint64_t now = nm_mono_ms();
	struct nm_maint_state active = nm_maint_active();
	struct nm_maint_view v;
	nm_maint_view_of(&active, now, &v);
	ck_assert_int_eq(v.kind, NM_MAINT_ACTIVE);
}
END_TEST

START_TEST(maintenance_state_view_clamps_past_deadlines_to_zero)
{
	uint64_t now = nm_mono_ms();
	struct nm_maint_state state = { .kind = NM_MAINT_ENTERING, .since_ms = now - 5000,
					.has_deadline = true, .deadline_ms = now - 1000 };
	struct nm_maint_view view;
	nm_maint_view_of(&state, now, &view);
	ck_assert_int_eq(view.kind, NM_MAINT_ENTERING);
	ck_assert(view.has_deadline);
	ck_assert_uint_eq(view.deadline_remaining_ms, 0);
}
END_TEST

/* ==== the loop ==== */

START_TEST(enter_and_exit_with_no_daemons_walk_the_whole_cycle)
{
	struct fx f;
	fx_config(&f);
	f.cfg.ramp_window_ms = 1000;
	fx_start(&f);
	ck_assert_int_eq(nm_meshos_enter_maintenance(f.m, 100, 0), 0);
	step(&f);
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_ENTERING);
	/* Default deadline (upstream stores none; netmesh stores its 10 min). */
	ck_assert(f.m->maint.has_deadline);
	ck_assert_uint_eq(f.m->maint.deadline_ms - f.m->maint.since_ms, NM_MESHOS_DEFAULT_DRAIN_MS);
	run(&f, 10); /* a tick: zero daemons are all stopped */
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_MAINTENANCE);
	run(&f, 50); /* Maintenance is steady */
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_MAINTENANCE);
	ck_assert_int_eq(nm_meshos_exit_maintenance(f.m, 100), 0);
	step(&f);
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_EXITING);
	run(&f, 10);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_RECOVERY);
	run(&f, 900);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_RECOVERY); /* ramp window not over */
	run(&f, 110);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_ACTIVE);
	/* Committed, not re-emitted: the dispatcher saw each move once. */
	ck_assert_int_eq(f.rec.n, 3);
	ck_assert_int_eq(f.rec.acts[0].target.kind, NM_MAINT_MAINTENANCE);
	ck_assert_int_eq(f.rec.acts[1].target.kind, NM_MAINT_RECOVERY);
	ck_assert_int_eq(f.rec.acts[2].target.kind, NM_MAINT_ACTIVE);
	ck_assert_uint_eq(f.rec.acts[0].kind, NM_MESHOS_ACT_COMMIT_MAINTENANCE);
	ck_assert_uint_eq(f.rec.acts[0].node, 100);
	ck_assert_uint_lt(f.rec.acts[0].id, f.rec.acts[1].id);
	ck_assert_uint_eq(stats(&f).transitions_committed, 5);
	fx_down(&f);
}
END_TEST

START_TEST(entering_waits_for_every_daemon_then_sends_drain_finish)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *a = reg(&f, "a"), *b = reg(&f, "b");
	ck_assert_int_eq(nm_meshos_enter_maintenance(f.m, 100, 60000), 0);
	step(&f);
	/* Synchronous with the admin event, not at the next tick. */
	struct nm_daemon_control ca = next(a), cb = next(b);
	ck_assert_uint_eq(ca.kind, NM_CONTROL_DRAIN_START);
	ck_assert_uint_eq(ca.grace_period_ms, 60000);
	ck_assert_uint_eq(cb.kind, NM_CONTROL_DRAIN_START);
	run(&f, 30);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_ENTERING); /* both still run */
	/* a leaves; b reports a clean exit but stays registered. */
	nm_meshos_exit(a);
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_DAEMON_SIGNAL,
				      .daemon = nm_meshos_daemon_id(b), .arg = NM_MESHOS_SIG_EXITED };
	ck_assert_int_eq(nm_meshos_publish(f.m, &ev), 0);
	run(&f, 10);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_MAINTENANCE);
	ck_assert_uint_eq(next(b).kind, NM_CONTROL_DRAIN_FINISH);
	ck_assert_uint_eq(next(b).kind, NM_CONTROL_NONE);
	ck_assert_uint_eq(next(a).kind, NM_CONTROL_NONE); /* closed, nothing more */
	ck_assert_uint_eq(stats(&f).control_broadcasts, 2);
	nm_meshos_handle_free(a);
	nm_meshos_handle_free(b);
	fx_down(&f);
}
END_TEST

START_TEST(drain_deadline_gives_drain_failed_then_exit_is_allowed)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "stubborn");
	nm_meshos_enter_maintenance(f.m, 100, 95);
	step(&f);
	ck_assert_uint_eq(next(h).grace_period_ms, 95);
	run(&f, 90);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_ENTERING);
	run(&f, 10);
	struct nm_meshos_status st = status(&f);
	ck_assert_int_eq(st.state.kind, NM_MAINT_DRAIN_FAILED);
	ck_assert(strncmp(st.state.reason, "drain deadline elapsed after ", 29) == 0);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_DRAIN_FINISH);
	run(&f, 100); /* waits for the operator */
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_DRAIN_FAILED);
	nm_meshos_exit_maintenance(f.m, 100);
	run(&f, 1);
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_EXITING);
	run(&f, 10); /* the daemon runs, health never reported: Recovery */
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_RECOVERY);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_NONE); /* Exiting/Recovery send nothing */
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

static void signal_daemon(struct fx *f, struct nm_meshos_handle *h, uint32_t sig, uint32_t health)
{
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_DAEMON_SIGNAL,
				      .daemon = nm_meshos_daemon_id(h), .arg = sig, .health = health };
	ck_assert_int_eq(nm_meshos_publish(f->m, &ev), 0);
}

START_TEST(exiting_waits_for_every_daemon_running_and_healthy)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "worker");
	signal_daemon(&f, h, NM_MESHOS_SIG_CRASHED, 0);
	nm_meshos_enter_maintenance(f.m, 100, 0);
	run(&f, 10);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_MAINTENANCE); /* crashed = stopped */
	nm_meshos_exit_maintenance(f.m, 100);
	run(&f, 20);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_EXITING); /* not running */
	signal_daemon(&f, h, NM_MESHOS_SIG_STARTED, 0);
	signal_daemon(&f, h, NM_MESHOS_SIG_HEALTH, NM_MESHOS_UNHEALTHY);
	run(&f, 20);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_EXITING); /* running, unhealthy */
	signal_daemon(&f, h, NM_MESHOS_SIG_HEALTH, NM_MESHOS_DEGRADED);
	run(&f, 20);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_EXITING); /* degraded is not healthy */
	signal_daemon(&f, h, NM_MESHOS_SIG_HEALTH, NM_MESHOS_HEALTHY);
	run(&f, 20);
	ck_assert_int_eq(status(&f).state.kind, NM_MAINT_RECOVERY);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

static void observe(struct fx *f, uint64_t node, enum nm_maint_kind k)
{
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_TRANSITION, .node = node,
				      .state = { .kind = k, .since_ms = f->now } };
	ck_assert_int_eq(nm_meshos_publish(f->m, &ev), 0);
	step(f);
}

START_TEST(observed_transitions_follow_the_successor_table)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "d");
	observe(&f, 100, NM_MAINT_MAINTENANCE); /* Active -> Maintenance: refused */
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_ACTIVE);
	ck_assert_uint_eq(stats(&f).transitions_rejected, 1);
	observe(&f, 100, NM_MAINT_ENTERING); /* committed elsewhere: no deadline, DrainStart */
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_ENTERING);
	struct nm_daemon_control c = next(h);
	ck_assert_uint_eq(c.kind, NM_CONTROL_DRAIN_START);
	ck_assert_uint_eq(c.grace_period_ms, NM_MESHOS_DEFAULT_DRAIN_MS); /* the default */
	observe(&f, 100, NM_MAINT_ENTERING); /* the same again: no second DrainStart */
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_NONE);
	observe(&f, 100, NM_MAINT_MAINTENANCE);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_DRAIN_FINISH);
	/* A second EnterMaintenance from Maintenance: a second DrainStart. */
	nm_meshos_enter_maintenance(f.m, 100, 1000);
	step(&f);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_DRAIN_START);
	/* Another node: only its mirror moves. */
	observe(&f, 7, NM_MAINT_RECOVERY);
	ck_assert_int_eq(f.m->maint.kind, NM_MAINT_ENTERING);
	/* Exit from Active is a silent no-op. */
	struct fx g;
	fx_up(&g);
	nm_meshos_exit_maintenance(g.m, 100);
	step(&g);
	ck_assert_int_eq(g.m->maint.kind, NM_MAINT_ACTIVE);
	fx_down(&g);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(stop_intent_becomes_one_shutdown_with_the_stop_grace)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "victim");
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_DAEMON_INTENT,
				      .daemon = nm_meshos_daemon_id(h), .arg = NM_MESHOS_INTENT_STOP };
	nm_meshos_publish(f.m, &ev);
	run(&f, 10); /* applied at the first poll, acted on at the tick */
	struct nm_daemon_control c = next(h);
	ck_assert_uint_eq(c.kind, NM_CONTROL_SHUTDOWN);
	ck_assert_uint_eq(c.grace_period_ms, NM_MESHOS_STOP_GRACE_MS);
	ck_assert_int_eq(f.rec.n, 1);
	ck_assert_uint_eq(f.rec.acts[0].kind, NM_MESHOS_ACT_STOP_DAEMON);
	ck_assert_uint_eq(f.rec.acts[0].daemon, nm_meshos_daemon_id(h));
	ck_assert_str_eq(f.rec.acts[0].reason, "desired-state intent: Stop");
	run(&f, 50); /* once, not every tick */
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_NONE);
	ck_assert_int_eq(f.rec.n, 1);
	ev.arg = NM_MESHOS_INTENT_RUN;
	nm_meshos_publish(f.m, &ev);
	ev.arg = NM_MESHOS_INTENT_STOP;
	nm_meshos_publish(f.m, &ev);
	run(&f, 10);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_SHUTDOWN);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

static float fake_level;

static float fake_load(void *ctx)
{
	(void)ctx;
	return fake_level;
}

START_TEST(backpressure_asserts_high_releases_low_and_holds_between)
{
	struct fx f;
	fx_config(&f);
	f.cfg.backpressure_ms = 5;
	f.cfg.probes.load = fake_load;
	fake_level = 0.0f;
	fx_start(&f);
	struct nm_meshos_handle *h = reg(&f, "shedder");
	const float seq[] = { 0.5f, 0.74f, 0.8f, 0.9f, 0.5f, 0.26f, 0.25f, 0.6f, 0.3f, 1.5f };
	const uint32_t want[] = { NM_CONTROL_NONE, NM_CONTROL_NONE, NM_CONTROL_BACKPRESSURE_ON,
				  NM_CONTROL_NONE, NM_CONTROL_NONE, NM_CONTROL_NONE,
				  NM_CONTROL_BACKPRESSURE_OFF, NM_CONTROL_NONE, NM_CONTROL_NONE,
				  NM_CONTROL_BACKPRESSURE_ON };
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		fake_level = seq[i];
		run(&f, 5);
		struct nm_daemon_control c = next(h);
		ck_assert_msg(c.kind == want[i], "level %.2f: got %s", seq[i],
			      nm_control_kind_name(c.kind));
		if (c.kind == NM_CONTROL_BACKPRESSURE_ON)
			ck_assert(c.level == (seq[i] > 1.0f ? 1.0f : seq[i])); /* clamped to 0..1 */
		ck_assert_uint_eq(next(h).kind, NM_CONTROL_NONE);
	}
	ck_assert_uint_eq(stats(&f).backpressure_asserts, 2);
	ck_assert_uint_eq(stats(&f).backpressure_releases, 1);
	ck_assert_int_eq(f.rec.bp_on, 2);
	ck_assert_int_eq(f.rec.bp_off, 1);
	ck_assert(status(&f).backpressure);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

static uint32_t fake_peers(void *ctx, struct nm_meshos_peer *out, uint32_t max)
{
	(void)ctx;
	ck_assert_uint_ge(max, 2);
	out[0] = (struct nm_meshos_peer){ .node_id = 20, .rtt_us = 1500,
					  .health = NM_MESHOS_PEER_HEALTHY };
	out[1] = (struct nm_meshos_peer){ .node_id = 10, .rtt_us = 9000,
					  .health = NM_MESHOS_PEER_DEGRADED };
	return 2;
}

START_TEST(metadata_has_peers_from_the_probe_and_their_maintenance)
{
	struct fx f;
	fx_config(&f);
	f.cfg.probes.peers = fake_peers;
	fx_start(&f);
	struct nm_meshos_handle *h = reg(&f, "viewer");
	nm_meshos_enter_maintenance(f.m, 10, 0); /* another node */
	nm_meshos_enter_maintenance(f.m, 30, 0); /* a node known only from this */
	run(&f, 10);
	struct nm_meshos_metadata md;
	ck_assert_int_eq(nm_meshos_metadata(h, &md), 0);
	ck_assert_uint_eq(md.n_peers, 0); /* cached at registration, before any tick */
	ck_assert_int_eq(nm_meshos_refresh_metadata(h, &md), 0);
	ck_assert_int_eq(md.maintenance.kind, NM_MAINT_ACTIVE);
	ck_assert_uint_eq(md.n_peers, 3);
	ck_assert_uint_eq(md.peers[0].node_id, 10);
	ck_assert_uint_eq(md.peers[0].health, NM_MESHOS_PEER_DEGRADED);
	ck_assert_uint_eq(md.peers[0].rtt_us, 9000);
	ck_assert(md.peers[0].has_maintenance);
	ck_assert_int_eq(md.peers[0].maintenance, NM_MAINT_ENTERING);
	ck_assert_uint_eq(md.peers[1].node_id, 20);
	ck_assert(!md.peers[1].has_maintenance);
	ck_assert_uint_eq(md.peers[2].node_id, 30);
	ck_assert_uint_eq(md.peers[2].health, NM_MESHOS_PEER_UNKNOWN);
	/* This node in maintenance: the view has its since and deadline. */
	nm_meshos_enter_maintenance(f.m, 100, 5000);
	run(&f, 30); /* the daemon runs: stays Entering */
	nm_meshos_refresh_metadata(h, &md);
	ck_assert_int_eq(md.maintenance.kind, NM_MAINT_ENTERING);
	ck_assert(md.maintenance.has_deadline);
	ck_assert_uint_le(md.maintenance.since_ms, 30);
	ck_assert_uint_ge(md.maintenance.deadline_remaining_ms, 4970);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

/* ==== the SDK ==== */

START_TEST(publish_capabilities_lands_in_the_index_metadata_and_counters)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *a = reg(&f, "gpu"), *b = reg(&f, "cpu");
	struct nm_capability_set gpu = { .has_gpu = true, .memory_gb = 24 }, cpu = { 0 };
	nm_capability_set_add_tag(&gpu, "inference");
	nm_capability_set_add_tag(&cpu, "etl");
	ck_assert_int_eq(nm_meshos_publish_capabilities(a, &gpu), 0);
	ck_assert_int_eq(nm_meshos_publish_capabilities(b, &cpu), 0);
	struct nm_capability_set got;
	ck_assert_int_eq(nm_meshos_capabilities(f.m, nm_meshos_daemon_id(a), &got), 0);
	ck_assert(got.has_gpu && nm_capability_set_has_tag(&got, "inference"));
	struct nm_capability_filter want = { 0 };
	nm_capability_filter_require_tag(&want, "inference");
	uint64_t ids[4];
	ck_assert_uint_eq(nm_meshos_capable(f.m, &want, ids, 4), 1);
	ck_assert_uint_eq(ids[0], nm_meshos_daemon_id(a));
	struct nm_meshos_metadata md;
	nm_meshos_refresh_metadata(a, &md);
	ck_assert(md.has_capabilities);
	ck_assert_uint_eq(md.capabilities.memory_gb, 24);
	ck_assert_uint_eq(stats(&f).capability_sets, 2);
	ck_assert_uint_eq(stats(&f).capability_publishes, 2);
	/* Gone with the daemon. */
	nm_meshos_handle_free(a);
	ck_assert_int_eq(nm_meshos_capabilities(f.m, ids[0], &got), -ENOENT);
	ck_assert_uint_eq(stats(&f).capability_sets, 1);
	nm_meshos_handle_free(b);
	fx_down(&f);
}
END_TEST

START_TEST(sdk_error_kinds_match_upstream)
{
	struct fx f;
	fx_up(&f);
	struct nm_identity kp = gen();
	struct nm_meshos_handle *h, *dup = NULL;
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("echo"), &kp, NULL, &h), 0);
	/* Duplicate identity: upstream's register_failed text. */
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("echo"), &kp, NULL, &dup), NM_EPROCESS_FAILED);
	ck_assert_ptr_null(dup);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "register_failed");
	char want[128];
	snprintf(want, sizeof(want), "daemon process failed: daemon 0x%" PRIx64 " already registered",
		 kp.origin_hash);
	ck_assert_str_eq(nm_meshos_last_error_message(), want);
	/* The level is checked before the message. */
	ck_assert_int_eq(nm_meshos_publish_log(h, 99, NULL), -EINVAL);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "invalid_log_level");
	for (int level = 0; level <= 4; level++)
		ck_assert_int_eq(nm_meshos_publish_log(h, level, "hello"), 0);
	ck_assert_ptr_null(nm_meshos_last_error_kind()); /* success clears it */
	struct nm_daemon_control c;
	ck_assert_int_eq(nm_meshos_try_next_control(h, &c), 0);
	ck_assert_uint_eq(c.kind, NM_CONTROL_NONE);
	ck_assert_int_eq(nm_meshos_try_next_control(h, NULL), -EINVAL);
	/* A quiet channel: NONE after the timeout. */
	uint64_t t0 = nm_mono_ms();
	ck_assert_int_eq(nm_meshos_next_control(h, 100, &c), 0);
	ck_assert_uint_eq(c.kind, NM_CONTROL_NONE);
	ck_assert_uint_ge(nm_mono_ms() - t0, 99);
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 10), 0);
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 10), -ESHUTDOWN);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "already_shutdown");
	ck_assert_int_eq(nm_meshos_publish_log(h, 2, "late"), -ESHUTDOWN);
	ck_assert_int_eq(nm_meshos_metadata(h, &(struct nm_meshos_metadata){ 0 }), -ESHUTDOWN);
	ck_assert_uint_eq(nm_meshos_daemon_id(h), kp.origin_hash); /* still answers */
	ck_assert_str_eq(nm_meshos_daemon_name(h), "echo");
	nm_meshos_handle_free(h);
	ck_assert_int_eq(nm_meshos_shutdown(f.m), 0);
	ck_assert_int_eq(nm_meshos_shutdown(f.m), -ESHUTDOWN);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "already_shutdown");
	kp = gen();
	ck_assert_int_eq(nm_meshos_register(f.m, noop_new("late"), &kp, NULL, &dup), -ESHUTDOWN);
	fx_down(&f);
}
END_TEST

START_TEST(graceful_shutdown_returns_once_the_daemon_leaves)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "quick");
	struct reader r = { .h = h, .exit_on_shutdown = true };
	pthread_t t;
	pthread_create(&t, NULL, read_one, &r);
	uint64_t t0 = nm_mono_ms();
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 5000), 0);
	uint64_t dt = nm_mono_ms() - t0;
	pthread_join(t, NULL);
	ck_assert_uint_eq(r.got.kind, NM_CONTROL_SHUTDOWN);
	ck_assert_uint_eq(r.got.grace_period_ms, 5000);
	ck_assert_msg(dt < 1000, "waited %" PRIu64 " ms for a daemon that left at once", dt);
	ck_assert(!nm_runtime_has_daemon(f.rt, nm_meshos_daemon_id(h)));
	nm_meshos_handle_free(h);
	/* One that stays: the whole grace, then unregistered anyway. */
	h = reg(&f, "slow");
	t0 = nm_mono_ms();
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 120), 0);
	dt = nm_mono_ms() - t0;
	ck_assert_uint_ge(dt, 119);
	ck_assert_uint_lt(dt, 2000);
	ck_assert(!nm_runtime_has_daemon(f.rt, nm_meshos_daemon_id(h)));
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(blocked_next_control_returns_none_at_sdk_shutdown)
{
	struct fx f;
	fx_up(&f);
	struct nm_meshos_handle *h = reg(&f, "sleeper");
	struct reader r = { .h = h };
	r.got.kind = 77;
	pthread_t t;
	pthread_create(&t, NULL, read_one, &r);
	usleep(20000);
	ck_assert_int_eq(nm_meshos_shutdown(f.m), 0);
	pthread_join(t, NULL); /* upstream would block here forever */
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.got.kind, NM_CONTROL_NONE);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

START_TEST(publish_log_reports_queue_full_and_the_loop_drains_it)
{
	struct fx f;
	fx_config(&f);
	f.cfg.event_queue = 2;
	fx_start(&f);
	struct nm_meshos_handle *h = reg(&f, "chatty");
	ck_assert_int_eq(nm_meshos_publish_log(h, NM_LOG_INFO, "one"), 0);
	ck_assert_int_eq(nm_meshos_publish_log(h, NM_LOG_INFO, "two"), 0);
	ck_assert_int_eq(nm_meshos_publish_log(h, NM_LOG_INFO, "three"), -ENOBUFS);
	ck_assert_str_eq(nm_meshos_last_error_kind(), "queue_full");
	ck_assert_uint_eq(stats(&f).events_refused, 1);
	run(&f, 20);
	struct nm_log_record recs[4];
	ck_assert_uint_eq(nm_meshos_logs(f.m, 0, recs, 4), 2);
	ck_assert_str_eq(recs[1].message, "two");
	/* Long messages are cut at a character boundary. */
	char longmsg[400];
	memset(longmsg, 'a', sizeof(longmsg));
	memcpy(longmsg + 254, "\xc3\xa9", 2); /* a 2-byte character across the limit */
	longmsg[399] = '\0';
	ck_assert_int_eq(nm_meshos_publish_log(h, NM_LOG_INFO, longmsg), 0);
	run(&f, 20);
	ck_assert_uint_eq(nm_meshos_logs(f.m, 2, recs, 4), 1);
	ck_assert_uint_eq(strlen(recs[0].message), 254);
	nm_meshos_handle_free(h);
	fx_down(&f);
}
END_TEST

struct main_args {
	struct nm_meshos_config cfg;
	struct nm_identity id;
	int rc;
};

static void *run_daemon_main(void *arg)
{
	struct main_args *a = arg;
	a->rc = NM_DAEMON_MAIN(&a->cfg, NULL, noop_new("solo"), &a->id);
	return NULL;
}

START_TEST(daemon_main_serves_until_its_daemon_is_gone)
{
	struct nm_mesh *mesh;
	struct nm_runtime *rt = runtime_on("net_null0", &mesh);
	struct main_args a = { .cfg = { .rt = rt, .tick_ms = 10 }, .id = gen(), .rc = 1 };
	pthread_t t;
	pthread_create(&t, NULL, run_daemon_main, &a);
	for (int i = 0; i < 2000 && !nm_runtime_has_daemon(rt, a.id.origin_hash); i++)
		usleep(1000);
	ck_assert(nm_runtime_has_daemon(rt, a.id.origin_hash));
	usleep(30000); /* a few ticks */
	ck_assert_int_eq(nm_runtime_stop(rt, a.id.origin_hash, NULL), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.rc, 0);
	/* The runtime is free for another MeshOS: the macro shut its own down. */
	struct nm_meshos *m;
	ck_assert_int_eq(nm_meshos_start(&a.cfg, NULL, &m), 0);
	struct nm_meshos *m2;
	ck_assert_int_eq(nm_meshos_start(&a.cfg, NULL, &m2), -EBUSY);
	nm_meshos_free(m);
	nm_runtime_destroy(rt);
	nm_mesh_destroy(mesh);
}
END_TEST

/* ==== worker lcores ==== */

#define N_WORKERS 2
#define LCORE_A 1
#define LCORE_B 2

struct dpfx {
	struct fx f;
	struct rte_ring *rx[N_WORKERS], *tx[N_WORKERS];
	struct nm_dataplane *dp;
	struct watchers ws;
	struct nm_meshos_probe_ctx probe;
};

static void dp_make_port(struct dpfx *d, char *port_name)
{
	static unsigned gen_no;
	char n[32];
	gen_no++;
	for (int i = 0; i < N_WORKERS; i++) {
		snprintf(n, sizeof(n), "mo_rx%u_%d", gen_no, i);
		d->rx[i] = rte_ring_create(n, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "mo_tx%u_%d", gen_no, i);
		d->tx[i] = rte_ring_create(n, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		ck_assert(d->rx[i] != NULL && d->tx[i] != NULL);
	}
	snprintf(n, sizeof(n), "mo_rings%u", gen_no);
	int port = rte_eth_from_rings(n, d->rx, N_WORKERS, d->tx, N_WORKERS, 0);
	ck_assert_int_ge(port, 0);
	ck_assert_int_eq(rte_eth_dev_get_name_by_port((uint16_t)port, port_name), 0);
}

static void dp_up(struct dpfx *d, bool launch)
{
	memset(d, 0, sizeof(*d));
	char port[RTE_ETH_NAME_MAX_LEN];
	dp_make_port(d, port);
	fx_config(&d->f);
	d->f.rt = runtime_on(port, &d->f.mesh);
	ck_assert_int_eq(nm_runtime_register_factory(d->f.rt, "watcher", watcher_new, &d->ws, NULL), 0);
	const unsigned lcores[N_WORKERS] = { LCORE_A, LCORE_B };
	struct nm_dataplane_config dc = { .mesh = d->f.mesh, .rt = d->f.rt,
					  .ip = RTE_IPV4(127, 0, 0, 1), .n_workers = N_WORKERS,
					  .lcores = lcores };
	struct nm_error err;
	ck_assert_msg(nm_dataplane_create(&dc, &d->dp, &err) == 0, "dataplane: %s", err.msg);
	if (launch)
		ck_assert_int_eq(nm_dataplane_start(d->dp, &err), 0);
	d->probe.dp = d->dp;
	d->f.cfg.probes = nm_meshos_probes_of(&d->probe);
	fx_start(&d->f);
}

static void dp_down(struct dpfx *d)
{
	nm_meshos_free(d->f.m);
	nm_runtime_shutdown(d->f.rt, NULL); /* detaches pinned daemons through the workers */
	nm_dataplane_stop(d->dp);
	nm_dataplane_destroy(d->dp);
	nm_runtime_destroy(d->f.rt);
	nm_mesh_destroy(d->f.mesh);
	for (int i = 0; i < N_WORKERS; i++) {
		rte_ring_free(d->rx[i]);
		rte_ring_free(d->tx[i]);
	}
	for (unsigned i = 0; i < d->ws.n; i++)
		free(d->ws.w[i]);
}

/* n watcher daemons, alternately on the two workers (or all on `only`). */
static void spawn_watchers(struct dpfx *d, unsigned n, uint32_t only)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t seed[32] = { 0x3C };
		memcpy(seed + 1, &i, sizeof(i));
		struct nm_identity id;
		ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
		struct nm_host_config hc = nm_host_config_default();
		hc.lcore = only != 0 ? only : (i % 2 ? LCORE_B : LCORE_A);
		struct nm_daemon_handle h;
		struct nm_error err;
		ck_assert_msg(nm_runtime_spawn(d->f.rt, "watcher", &id, &hc, &h, &err) == 0, "spawn: %s",
			      err.msg);
		d->ws.w[d->ws.n - 1]->lcore = hc.lcore;
	}
}

static void check_watchers(const struct dpfx *d, uint64_t grace, bool on_own_lcore)
{
	for (unsigned i = 0; i < d->ws.n; i++) {
		const struct watcher *w = d->ws.w[i];
		ck_assert_msg(w->drain_start == 1, "daemon %u saw DrainStart %u times", i, w->drain_start);
		ck_assert_uint_eq(w->other, 0);
		ck_assert_uint_eq(w->grace, grace);
		if (on_own_lcore)
			ck_assert_msg(w->ran_on == w->lcore, "daemon %u pinned on %u ran on %u", i,
				      w->lcore, w->ran_on);
	}
}

static uint64_t watcher_origin(unsigned i)
{
	uint8_t seed[32] = { 0x3C };
	memcpy(seed + 1, &i, sizeof(i));
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
	return id.origin_hash;
}

START_TEST(fan_out_to_1000_daemons_on_workers_delivers_drain_start_once_each)
{
	struct dpfx d;
	/*
	 * Spawned before the workers run: with two busy-polling workers sharing a
	 * CPU here, each of the 2000 attach round trips would wait for a time slice.
	 */
	dp_up(&d, false);
	spawn_watchers(&d, 1000, 0);
	struct nm_error err;
	ck_assert_int_eq(nm_dataplane_start(d.dp, &err), 0);
	ck_assert_uint_eq(stats(&d.f).daemons, 1000);
	nm_meshos_enter_maintenance(d.f.m, 100, 60000);
	step(&d.f); /* broadcast, then one request per worker lcore */
	check_watchers(&d, 60000, true);
	struct nm_meshos_stats st = stats(&d.f);
	ck_assert_uint_eq(st.control_routed, 1000);
	ck_assert_uint_eq(st.control_delivered, 1000);
	ck_assert_uint_eq(st.control_batches, 2); /* one per lcore, not one per daemon */
	ck_assert_uint_eq(st.control_dropped, 0);
	ck_assert_uint_eq(st.pump_errors, 0);
	run(&d.f, 30); /* nothing more arrives */
	check_watchers(&d, 60000, true);
	ck_assert_uint_eq(stats(&d.f).control_batches, 2);
	/* They stop: Maintenance, and nobody is left to get DrainFinish. */
	nm_dataplane_stop(d.dp);
	for (unsigned i = 0; i < 1000; i++)
		ck_assert_int_eq(nm_runtime_stop(d.f.rt, watcher_origin(i), NULL), 0);
	run(&d.f, 10);
	ck_assert_int_eq(status(&d.f).state.kind, NM_MAINT_MAINTENANCE);
	ck_assert_uint_eq(stats(&d.f).daemons, 0);
	dp_down(&d);
}
END_TEST

START_TEST(fan_out_runs_inline_when_workers_are_stopped)
{
	struct dpfx d;
	dp_up(&d, false);
	spawn_watchers(&d, 100, 0);
	nm_meshos_enter_maintenance(d.f.m, 100, 5000);
	step(&d.f);
	check_watchers(&d, 5000, false);
	ck_assert_uint_eq(stats(&d.f).control_delivered, 100);
	dp_down(&d);
}
END_TEST

START_TEST(control_path_daemon_gets_on_control_on_the_loop_thread)
{
	struct dpfx d;
	dp_up(&d, true);
	spawn_watchers(&d, 3, NM_LCORE_CONTROL);
	nm_meshos_enter_maintenance(d.f.m, 100, 7000);
	step(&d.f);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(d.ws.w[i]->drain_start, 1);
		ck_assert_uint_eq(d.ws.w[i]->ran_on, rte_lcore_id());
	}
	/* An SDK handle of an on_control daemon has no reader side. */
	struct nm_identity id = gen();
	struct nm_meshos_handle *h;
	ck_assert_int_eq(nm_meshos_register(d.f.m, watcher_new(&d.ws), &id, NULL, &h), 0);
	struct nm_daemon_control c;
	ck_assert_int_eq(nm_meshos_try_next_control(h, &c), -EINVAL);
	/* graceful_shutdown hands its Shutdown to on_control right away. */
	ck_assert_int_eq(nm_meshos_graceful_shutdown(h, 10), 0);
	ck_assert_uint_eq(d.ws.w[3]->other, 1);
	nm_meshos_handle_free(h);
	dp_down(&d);
}
END_TEST

START_TEST(backpressure_follows_the_worker_rings)
{
	struct dpfx d;
	dp_up(&d, false);
	struct nm_meshos_handle *h = reg(&d.f, "shedder");
	struct rte_ring *r = d.dp->workers[0]->evt_in;
	unsigned cap = rte_ring_get_capacity(r), fill = cap * 8 / 10;
	struct rte_mbuf **ms = calloc(fill, sizeof(*ms));
	ck_assert_int_eq(rte_pktmbuf_alloc_bulk(d.dp->port.pool, ms, fill), 0);
	ck_assert_uint_eq(rte_ring_enqueue_bulk(r, (void **)ms, fill, NULL), fill);
	ck_assert(nm_dataplane_load(d.dp) >= 0.79f);
	run(&d.f, NM_MESHOS_DEFAULT_BP_MS);
	struct nm_daemon_control c = next(h);
	ck_assert_uint_eq(c.kind, NM_CONTROL_BACKPRESSURE_ON);
	ck_assert(c.level >= 0.79f && c.level <= 0.81f);
	/* Drained below the low mark: released. */
	ck_assert_uint_eq(rte_ring_dequeue_bulk(r, (void **)ms, fill, NULL), fill);
	rte_pktmbuf_free_bulk(ms, fill);
	free(ms);
	run(&d.f, NM_MESHOS_DEFAULT_BP_MS);
	ck_assert_uint_eq(next(h).kind, NM_CONTROL_BACKPRESSURE_OFF);
	ck_assert(!status(&d.f).backpressure);
	nm_meshos_handle_free(h);
	dp_down(&d);
}
END_TEST

static Suite *meshos_suite(void)
{
	Suite *s = suite_create("meshos");
	TCase *seed = tcase_create("seed_003_sdk_rs");
	tcase_add_test(seed, register_daemon_returns_handle_with_correct_identity);
	tcase_add_test(seed, control_router_routes_stop_daemon_to_per_daemon_channel);
	tcase_add_test(seed, control_router_drops_when_channel_full);
	tcase_add_test(seed, translate_to_control_emits_shutdown_for_stop_daemon);
	tcase_add_test(seed, router_control_sink_broadcasts_drain_start_to_every_registered_daemon);
	tcase_add_test(seed, unregister_removes_router_slot);
	tcase_add_test(seed, publish_log_lands_on_runtime_log_ring_tagged_with_daemon_id);
	tcase_add_test(seed, publish_log_after_runtime_shutdown_returns_loop_closed);
	tcase_add_test(seed, handle_drop_unregisters_from_registry_and_router);
	tcase_add_test(seed, graceful_shutdown_sends_shutdown_control_then_unregisters);
	tcase_add_test(seed, publish_capabilities_returns_ok_pending_capability_chain_wiring);
	tcase_add_test(seed, refresh_metadata_pulls_from_runtime_snapshot);
	tcase_add_test(seed, sdk_error_display_carries_kind_discriminator);
	tcase_add_test(seed, maintenance_state_view_round_trips_active_default);
	tcase_add_test(seed, maintenance_state_view_clamps_past_deadlines_to_zero);
	suite_add_tcase(s, seed);
	TCase *loop = tcase_create("loop");
	tcase_add_test(loop, enter_and_exit_with_no_daemons_walk_the_whole_cycle);
	tcase_add_test(loop, entering_waits_for_every_daemon_then_sends_drain_finish);
	tcase_add_test(loop, drain_deadline_gives_drain_failed_then_exit_is_allowed);
	tcase_add_test(loop, exiting_waits_for_every_daemon_running_and_healthy);
	tcase_add_test(loop, observed_transitions_follow_the_successor_table);
	tcase_add_test(loop, stop_intent_becomes_one_shutdown_with_the_stop_grace);
	tcase_add_test(loop, backpressure_asserts_high_releases_low_and_holds_between);
	tcase_add_test(loop, metadata_has_peers_from_the_probe_and_their_maintenance);
	suite_add_tcase(s, loop);
	TCase *sdk = tcase_create("sdk");
	tcase_add_test(sdk, publish_capabilities_lands_in_the_index_metadata_and_counters);
	tcase_add_test(sdk, sdk_error_kinds_match_upstream);
	tcase_add_test(sdk, graceful_shutdown_returns_once_the_daemon_leaves);
	tcase_add_test(sdk, blocked_next_control_returns_none_at_sdk_shutdown);
	tcase_add_test(sdk, publish_log_reports_queue_full_and_the_loop_drains_it);
	tcase_add_test(sdk, daemon_main_serves_until_its_daemon_is_gone);
	suite_add_tcase(s, sdk);
	TCase *w = tcase_create("workers");
	tcase_add_test(w, fan_out_to_1000_daemons_on_workers_delivers_drain_start_once_each);
	tcase_add_test(w, fan_out_runs_inline_when_workers_are_stopped);
	tcase_add_test(w, control_path_daemon_gets_on_control_on_the_loop_thread);
	tcase_add_test(w, backpressure_follows_the_worker_rings);
	tcase_set_timeout(w, 60);
	suite_add_tcase(s, w);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	char *eal[] = { argv[0], "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			"--no-telemetry", "--vdev=net_null0", "--lcores=0@0,1@1,2@1",
			"--log-level=lib.*:error" };
	if (nm_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return EXIT_FAILURE;
	}
	return nm_test_run_nofork(meshos_suite());
}

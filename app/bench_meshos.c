/* SPDX-License-Identifier: MIT */
/*
 * bench_meshos.c - `netmesh-bench meshos`: what MeshOS supervision costs.
 *
 *   drain_start_fanout_10k_ns   EnterMaintenance published -> DrainStart queued
 *                               in the channel of every one of 10,000 daemons
 *                               (one nm_meshos_poll: apply, detector, broadcast);
 *                               median of 21 runs
 *   drain_start_on_worker_10k_ns the same, plus handing every DrainStart to
 *                               on_control on the worker lcore the daemons are
 *                               pinned on (needs EAL lcore 1; skipped without)
 *   control_route_rate          nm_meshos_route to one of 10,000 daemons by id
 *                               (map lookup, at-most-once enqueue), one thread
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>

#include "bench.h"
#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_mesh.h"
#include "nm_meshos.h"
#include "nm_meshos_int.h"
#include "nm_runtime.h"

#define N_DAEMONS 10000
#define RUNS 21


/* A daemon that only counts what on_control hands it. */
struct tally {
	struct nm_daemon base;
	uint64_t seen;
};

static int tally_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)d, (void)ev, (void)out, (void)err;
	return 0;
}

static void tally_control(struct nm_daemon *d, const struct nm_daemon_control *c)
{
	(void)c;
	((struct tally *)d)->seen++;
}

static void tally_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops tally_ops = { .name = "tally", .process = tally_process,
						.destroy = tally_destroy,
						.on_control = tally_control };

static struct nm_daemon *tally_new(void *ctx)
{
	(void)ctx;
	struct tally *t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->base.ops = &tally_ops;
	return t != NULL ? &t->base : NULL;
}

struct bench {
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	uint64_t ids[N_DAEMONS];
};

static void bench_up(struct bench *b, const char *port)
{
	struct nm_mesh_config mc = { .port = port };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	struct nm_error err;
	int rc = nm_mesh_create(&mc, &b->mesh, &err);
	if (rc < 0)
		bench_die("mesh", rc);
	b->rt = nm_runtime_create(nm_mesh_node(b->mesh));
	if (b->rt == NULL || nm_builtin_register_all(b->rt, NULL) < 0 ||
	    nm_runtime_register_factory(b->rt, "tally", tally_new, NULL, NULL) < 0 ||
	    nm_runtime_start(b->rt, NULL) < 0)
		bench_die("runtime", -ENOMEM);
}

static void bench_down(struct bench *b)
{
	nm_runtime_shutdown(b->rt, NULL);
	if (b->dp != NULL) {
		nm_dataplane_stop(b->dp);
		nm_dataplane_destroy(b->dp);
	}
	nm_runtime_destroy(b->rt);
	nm_mesh_destroy(b->mesh);
}

/* N daemons of `kind` on `lcore`; identities made up front, as in the runtime part. */
static void spawn_all(struct bench *b, const char *kind, uint32_t lcore)
{
	for (uint32_t i = 0; i < N_DAEMONS; i++) {
		uint8_t seed[32] = { 0x4D, 0x05 };
		memcpy(seed + 2, &i, sizeof(i));
		struct nm_identity id;
		nm_identity_from_seed(&id, seed);
		struct nm_host_config hc = nm_host_config_default();
		hc.lcore = lcore;
		struct nm_daemon_handle h;
		struct nm_error err;
		int rc = nm_runtime_spawn(b->rt, kind, &id, &hc, &h, &err);
		if (rc < 0) {
			fprintf(stderr, "netmesh-bench: spawn: %s\n", err.msg);
			bench_die("spawn", rc);
		}
		b->ids[i] = id.origin_hash;
	}
}

static struct nm_meshos *meshos_up(struct bench *b)
{
	struct nm_meshos_config cfg = { .rt = b->rt, .this_node = 1 };
	struct nm_meshos *m;
	int rc = nm_meshos_start(&cfg, NULL, &m);
	if (rc < 0)
		bench_die("meshos", rc);
	nm_meshos_poll(m, 1);
	return m;
}

/* One transition: publish, one poll (the broadcast, and the pump if any). In ms. */
static double one_transition(struct bench *b, uint64_t expect_routed, uint64_t expect_delivered)
{
	struct nm_meshos *m = meshos_up(b);
	double t0 = bench_now_s();
	nm_meshos_enter_maintenance(m, 1, 60000);
	nm_meshos_poll(m, 2);
	double ms = (bench_now_s() - t0) * 1e3;
	struct nm_meshos_stats st;
	nm_meshos_stats(m, &st);
	if (st.control_routed != expect_routed || st.control_delivered != expect_delivered)
		bench_die("fan-out: not every daemon got DrainStart", -EIO);
	nm_meshos_free(m);
	return ms;
}

static double fanout_ms(struct bench *b)
{
	double v[RUNS];
	for (int r = 0; r < RUNS; r++)
		v[r] = one_transition(b, N_DAEMONS, 0);
	return bench_median(v, RUNS);
}

/* Route 8 events to each daemon (filling its channel), then empty them untimed. */
static double route_rate(struct bench *b, int rounds)
{
	struct nm_meshos *m = meshos_up(b);
	struct nm_daemon_control c = { .kind = NM_CONTROL_BACKPRESSURE_ON, .level = 0.5f };
	struct nm_daemon_control out;
	double timed = 0;
	uint64_t routed = 0;
	for (int r = 0; r < rounds; r++) {
		double t0 = bench_now_s();
		for (int k = 0; k < NM_MESHOS_DEFAULT_CONTROL_CAPACITY; k++)
			for (uint32_t i = 0; i < N_DAEMONS; i++)
				routed += nm_meshos_route(m, b->ids[i], &c) == 0;
		timed += bench_now_s() - t0;
		for (uint32_t i = 0; i < N_DAEMONS; i++) {
			struct nm_ctlslot *s = nm_ctlrouter_get(&m->router, b->ids[i]);
			while (nm_ctlslot_pop(s, &out) == 0)
				;
			nm_ctlslot_put(s);
		}
	}
	if (routed != (uint64_t)rounds * NM_MESHOS_DEFAULT_CONTROL_CAPACITY * N_DAEMONS)
		bench_die("route: events dropped", -EIO);
	nm_meshos_free(m);
	return (double)routed / timed;
}

/* 10,000 on_control daemons pinned on worker lcore 1 (a net_null port, one queue). */
static int worker_fanout(const char *port)
{
	if (!rte_lcore_is_enabled(1)) {
		printf("# drain_start_on_worker_10k_ns: skipped (no EAL lcore 1)\n");
		return 0;
	}
	struct bench b = { 0 };
	bench_up(&b, port);
	const unsigned lcores[1] = { 1 };
	struct nm_dataplane_config dc = { .mesh = b.mesh, .rt = b.rt, .ip = 0x7F000001,
					  .n_workers = 1, .lcores = lcores };
	struct nm_error err;
	int rc = nm_dataplane_create(&dc, &b.dp, &err);
	if (rc < 0)
		bench_die("dataplane", rc);
	spawn_all(&b, "tally", 1); /* before the worker runs: inline, fast */
	if ((rc = nm_dataplane_start(b.dp, &err)) < 0)
		bench_die("workers", rc);
	double v[RUNS];
	for (int r = 0; r < RUNS; r++)
		v[r] = one_transition(&b, N_DAEMONS, N_DAEMONS);
	printf("drain_start_on_worker_10k_ns: %.0f ns\n", bench_median(v, RUNS) * 1e6);
	bench_down(&b);
	return 0;
}

int bench_meshos_part(const char *port)
{
	struct bench b = { 0 };
	bench_up(&b, port);
	spawn_all(&b, "sink", NM_LCORE_CONTROL);
	fanout_ms(&b); /* warm up */
	printf("drain_start_fanout_10k_ns: %.0f ns\n", fanout_ms(&b) * 1e6);
	route_rate(&b, 5);
	printf("control_route_rate: %.0f events/s\n", route_rate(&b, 60));
	bench_down(&b);
	return worker_fanout(port);
}

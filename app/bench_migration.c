/* SPDX-License-Identifier: MIT */
/*
 * bench_migration.c - `netmesh-bench migration-drain`: a maintenance drain
 * through the migration engine.
 *
 *   drain_1000_daemons_ns   EnterMaintenance on node A with 1000 counter
 *                           daemons -> every daemon migrated to node B and A
 *                           in Maintenance (DrainFinish sent); wall time, two
 *                           in-process runtimes joined by the test pump
 *                           (tests/nm_test_pump.h) with no loss, MeshOS's
 *                           default concurrency (64); median of 5 runs
 *   drain_1000_daemons_cpu_ns  its CPU time (the process's), median: what
 *                           the wall time is on a machine shared with others
 *   drain_1000_daemons_virtual_ms  the same drain on the pump's clock: how long
 *                           it takes in time, given the engine's timers
 *   drain_1000_daemons_prepared_ns, drain_1000_daemons_prepared_virtual_ms
 *                           the same with the appliance's default
 *                           --migrate-prepare-ms 5 (each start sends a
 *                           MigrationPrepare first): the Prepares of the
 *                           concurrent migrations overlap, so this is not
 *                           1000 x 5 ms longer
 *
 * `netmesh-bench migration-total 1MiB|64MiB`:
 *
 *   migration_total_1MiB_inproc_ns, migration_total_64MiB_inproc_ns   one
 *                           blob-SIZE daemon (nm_builtin.h) with that much
 *                           state migrated A -> B in this process: wall time
 *                           from nm_mig_start to the source's completed
 *                           history entry, no loss, identity envelope sealed;
 *                           median of 5 (1 MiB) or 3 (64 MiB) runs. "64MiB" is
 *                           NM_BLOB_MAX (64 MiB - 303 bytes): the sealed
 *                           snapshot must fit the reassembler's 64 MiB cap
 *                           (upstream's too). The same figures between two
 *                           appliances, without "_inproc", come from
 *                           scripts/bench_migration_total.sh
 *   migration_total_*_inproc_cpu_ns      its CPU time, median
 *   migration_total_*_inproc_virtual_ms  on the pump's clock (5 ms per step,
 *                           one-step delivery): the chunk window's round trips
 *
 * The pump's clock is virtual (5 ms per step), so the figure is the CPU cost
 * of the drain (snapshots, identity envelopes, messages, restores, commits),
 * not network latency.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "nm_evac.h"
#include "nm_meshos.h"
#include "nm_test_pump.h"

#define N_DRAIN 1000
#define RUNS 5
#define MAX_STEPS 200000

/* N counters on node 0, each expected by node 1 (its factory slot), poked once. */
static void spawn_counters(struct nm_pump *p, struct nm_outputs *out)
{
	for (uint32_t i = 0; i < N_DRAIN; i++) {
		uint8_t seed[32] = { 0x4D, 0x06 };
		memcpy(seed + 2, &i, sizeof(i));
		struct nm_identity id;
		nm_identity_from_seed(&id, seed);
		struct nm_daemon_handle h;
		struct nm_error err;
		int rc = nm_runtime_spawn(p->nodes[0].rt, "counter", &id, NULL, &h, &err);
		if (rc == 0)
			rc = nm_runtime_expect_migration(p->nodes[1].rt, "counter", id.origin_hash, NULL,
							 &err);
		uint8_t b[8] = { 0 };
		struct nm_event ev = { .link = { 1, 0, 1, 0 }, .payload = b, .len = sizeof(b) };
		nm_outputs_reset(out);
		if (rc == 0)
			rc = nm_runtime_deliver(p->nodes[0].rt, id.origin_hash, &ev, out, &err);
		nm_identity_wipe(&id);
		if (rc < 0) {
			fprintf(stderr, "netmesh-bench: %s\n", err.msg);
			bench_die("spawn", rc);
		}
	}
}

static enum nm_maint_kind state_of(struct nm_meshos *m)
{
	struct nm_meshos_status s;
	nm_meshos_status(m, &s);
	return s.state.kind;
}

static double cpu_now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One drain, timed from EnterMaintenance to Maintenance; *virt_ms: the pump's clock, *cpu: CPU
 * time. prepare_ms: the starts' nm_mig_opts.prepare_ms. */
static double drain_once(uint32_t prepare_ms, uint64_t *virt_ms, double *cpu)
{
	struct nm_pump p;
	nm_pump_init(&p, 2, 0xD4A1, NULL, NULL);
	struct nm_outputs *out = nm_outputs_create(8, 256);
	if (out == NULL)
		bench_die("outputs", -ENOMEM);
	spawn_counters(&p, out);
	struct nm_evac_peer peer = { .node = nm_pump_nid(&p, 1) };
	struct nm_evac_engine eng;
	struct nm_meshos_config cfg = { .rt = p.nodes[0].rt,
					.evac = { .peers = &peer, .n_peers = 1 } };
	struct nm_mig_opts opts = nm_mig_opts_default();
	opts.prepare_ms = prepare_ms;
	nm_evac_migrator_of(p.nodes[0].mig, &opts, &eng, &cfg.migrator);
	struct nm_meshos *m;
	int rc = nm_meshos_start(&cfg, NULL, &m);
	if (rc < 0)
		bench_die("meshos", rc);
	nm_meshos_poll(m, p.now);

	double t0 = bench_now_s(), c0 = cpu_now_s();
	uint64_t v0 = p.now;
	rc = nm_meshos_enter_maintenance(m, nm_meshos_node_id(m), 600000);
	for (int s = 0; rc == 0 && s < MAX_STEPS && state_of(m) != NM_MAINT_MAINTENANCE; s++) {
		nm_pump_step(&p);
		nm_meshos_poll(m, p.now);
	}
	double t = bench_now_s() - t0;
	*cpu = cpu_now_s() - c0;
	*virt_ms = p.now - v0;

	if (rc < 0 || state_of(m) != NM_MAINT_MAINTENANCE ||
	    nm_runtime_daemon_count(p.nodes[0].rt) != 0 ||
	    nm_runtime_daemon_count(p.nodes[1].rt) != N_DRAIN) {
		fprintf(stderr, "netmesh-bench: the drain did not complete (%zu left on A, %zu on B)\n",
			nm_runtime_daemon_count(p.nodes[0].rt), nm_runtime_daemon_count(p.nodes[1].rt));
		bench_die("drain", rc < 0 ? rc : -ETIMEDOUT);
	}
	nm_meshos_free(m);
	nm_outputs_free(out);
	nm_pump_fini(&p);
	return t;
}

int bench_migration_drain_part(void)
{
	double v[RUNS], c[RUNS], pv[RUNS], pc;
	uint64_t virt = 0, pvirt = 0;
	for (int i = 0; i < RUNS; i++) { /* alternating; the virtual duration is deterministic */
		v[i] = drain_once(0, &virt, &c[i]);
		pv[i] = drain_once(5, &pvirt, &pc); /* its CPU time is not a figure */
	}
	printf("drain_1000_daemons_ns: %.0f ns\n", bench_median(v, RUNS) * 1e9);
	printf("drain_1000_daemons_cpu_ns: %.0f ns\n", bench_median(c, RUNS) * 1e9);
	printf("drain_1000_daemons_virtual_ms: %" PRIu64 " ms\n", virt);
	printf("drain_1000_daemons_prepared_ns: %.0f ns\n", bench_median(pv, RUNS) * 1e9);
	printf("drain_1000_daemons_prepared_virtual_ms: %" PRIu64 " ms\n", pvirt);
	return 0;
}

/* ------------------------------------------------------------ one large daemon */

#define BLOB_SEED 0xB10B

static void blob_kinds(struct nm_runtime *rt, void *ctx)
{
	struct nm_error err = { 0 };
	int rc = nm_builtin_register_kind(rt, ctx, &err);
	if (rc < 0) {
		fprintf(stderr, "netmesh-bench: %s\n", err.msg);
		bench_die("blob kind", rc);
	}
}

static bool source_done(struct nm_pump *p, uint64_t origin, bool *ok)
{
	struct nm_mig_info h[1];
	if (nm_mig_history(p->nodes[0].mig, h, 1) == 0 || h[0].origin != origin)
		return false;
	*ok = h[0].ok;
	return true;
}

/* One migration of a daemon of `kind` (blob-SIZE); wall seconds, *cpu and *virt_ms as drain_once. */
static double total_once(const char *kind, uint64_t *virt_ms, double *cpu)
{
	struct nm_pump p;
	nm_pump_init(&p, 2, BLOB_SEED, blob_kinds, (void *)kind);
	struct nm_identity id;
	uint8_t seed[32] = { 0xB1 };
	nm_identity_from_seed(&id, seed);
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(p.nodes[0].rt, kind, &id, NULL, &h, &err);
	if (rc == 0)
		rc = nm_runtime_register_migration_target_identity(p.nodes[1].rt, kind, &id, NULL, &err);
	const uint64_t o = id.origin_hash;
	nm_identity_wipe(&id);
	struct nm_mig_opts opts = nm_mig_opts_default();
	double t0 = bench_now_s(), c0 = cpu_now_s();
	uint64_t v0 = p.now;
	if (rc == 0)
		rc = nm_mig_start(p.nodes[0].mig, o, nm_pump_nid(&p, 0), nm_pump_nid(&p, 1), &opts, p.now,
				  &err);
	bool ok = false;
	for (int s = 0; rc == 0 && s < MAX_STEPS && !source_done(&p, o, &ok); s++)
		nm_pump_step(&p);
	double t = bench_now_s() - t0;
	*cpu = cpu_now_s() - c0;
	*virt_ms = p.now - v0;
	if (rc < 0) {
		fprintf(stderr, "netmesh-bench: %s\n", err.msg);
		bench_die("migration", rc);
	}
	if (!ok || !nm_runtime_has_daemon(p.nodes[1].rt, o))
		bench_die("migration did not complete", -ETIMEDOUT);
	nm_pump_fini(&p);
	return t;
}

int bench_migration_total_part(const char *size)
{
	bool big = size != NULL && strcmp(size, "64MiB") == 0;
	if (!big && (size == NULL || strcmp(size, "1MiB") != 0)) {
		fprintf(stderr, "netmesh-bench: migration-total 1MiB|64MiB\n");
		return EXIT_FAILURE;
	}
	char kind[32];
	snprintf(kind, sizeof(kind), "blob-%u", big ? NM_BLOB_MAX : 1u << 20);
	int runs = big ? 3 : RUNS;
	double v[RUNS], c[RUNS];
	uint64_t virt = 0;
	for (int i = 0; i < runs; i++)
		v[i] = total_once(kind, &virt, &c[i]);
	const char *name = big ? "64MiB" : "1MiB";
	printf("migration_total_%s_inproc_ns: %.0f ns\n", name, bench_median(v, (size_t)runs) * 1e9);
	printf("migration_total_%s_inproc_cpu_ns: %.0f ns\n", name,
	       bench_median(c, (size_t)runs) * 1e9);
	printf("migration_total_%s_inproc_virtual_ms: %" PRIu64 " ms\n", name, virt);
	return 0;
}

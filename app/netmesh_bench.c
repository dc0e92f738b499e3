/* SPDX-License-Identifier: MIT */
/*
 * netmesh_bench.c - microbenchmarks, one part per roadmap layer.
 *
 *   netmesh-bench [EAL args] -- runtime|sessions|meshos
 *   netmesh-bench [EAL args] -- migration-drain
 *   netmesh-bench [EAL args] -- migration-total 1MiB|64MiB
 *   netmesh-bench [EAL args] -- migration-envelope   (bench_envelope.c)
 *   netmesh-bench [EAL args] -- dataplane [CASE]    (bench_dataplane.c)
 *   netmesh-bench [EAL args] -- aead                (bench_aead.c)
 *
 * Prints one `name: value unit` line per figure, in base units (events/s, ns,
 * bytes), for scripts/bench.sh. Not a test: nothing here asserts a target.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_dataplane.h"
#include "nm_builtin.h"
#include "nm_eal.h"
#include "nm_mesh.h"
#include "nm_runtime.h"
#include "nm_time.h"

double bench_now_s(void)
{
	return (double)nm_mono_ns() * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void die(const char *what, int rc, const struct nm_error *err)
{
	fprintf(stderr, "netmesh-bench: %s: %s%s%s\n", what, nm_strerror(rc),
		err && err->msg[0] ? ": " : "", err ? err->msg : "");
	exit(EXIT_FAILURE);
}

void bench_die(const char *what, int rc)
{
	die(what, rc, NULL);
}

static struct nm_runtime *bench_runtime(const char *port, struct nm_mesh **mesh_out)
{
	struct nm_mesh_config cfg = { .port = port };
	memset(cfg.psk, 0x42, sizeof(cfg.psk));
	struct nm_mesh *mesh;
	struct nm_error err;
	int rc = nm_mesh_create(&cfg, &mesh, &err);
	if (rc < 0)
		die("mesh", rc, &err);
	struct nm_runtime *rt = nm_runtime_create(nm_mesh_node(mesh));
	if (rt == NULL)
		die("runtime", -ENOMEM, NULL);
	if ((rc = nm_builtin_register_all(rt, &err)) < 0 || (rc = nm_runtime_start(rt, &err)) < 0)
		die("runtime start", rc, &err);
	*mesh_out = mesh;
	return rt;
}

static void bench_free(struct nm_runtime *rt, struct nm_mesh *mesh)
{
	nm_runtime_destroy(rt);
	nm_mesh_destroy(mesh);
}

/* Identities made before any timing: keygen is not what we measure. */
static struct nm_identity *make_identities(size_t n)
{
	struct nm_identity *ids = malloc(n * sizeof(*ids));
	if (ids == NULL)
		die("identities", -ENOMEM, NULL);
	for (size_t i = 0; i < n; i++) {
		uint8_t seed[32] = { 0 };
		memcpy(seed, &i, sizeof(i));
		seed[31] = 0xB5;
		nm_identity_from_seed(&ids[i], seed);
	}
	return ids;
}

/* Deliver 64-byte events to one daemon of `kind` through the runtime API. */
static double deliver_rate(struct nm_runtime *rt, const char *kind, uint64_t n)
{
	struct nm_identity *id = make_identities(1);
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn(rt, kind, id, NULL, &h, &err);
	if (rc < 0)
		die("spawn", rc, &err);
	struct nm_outputs *out = nm_outputs_create(16, 4096);
	uint8_t payload[64];
	memset(payload, 0xAB, sizeof(payload));
	struct nm_event ev = { .link = { 0x5EED, 0, 0, 0 }, .payload = payload, .len = 64 };

	uint64_t emitted = 0;
	double t0 = bench_now_s();
	for (uint64_t i = 1; i <= n; i++) {
		ev.link.sequence = i;
		if (nm_runtime_deliver(rt, h.origin_hash, &ev, out, &err) < 0)
			die("deliver", err.code, &err);
		emitted += out->n;
	}
	double dt = bench_now_s() - t0;
	if (emitted != n)
		die("deliver: lost outputs", -EIO, NULL);
	nm_runtime_stop(rt, h.origin_hash, NULL);
	nm_outputs_free(out);
	free(id);
	return (double)n / dt;
}

static double chain_append_ns(uint64_t n)
{
	struct nm_chain c;
	nm_chain_init(&c, 0xC0FFEE);
	uint8_t payload[64];
	memset(payload, 0x5A, sizeof(payload));
	struct nm_causal_link l;
	uint64_t sink = 0;
	double t0 = bench_now_s();
	for (uint64_t i = 0; i < n; i++) {
		payload[0] = (uint8_t)i;
		nm_chain_append(&c, payload, sizeof(payload), i, &l);
		sink ^= l.parent_hash;
	}
	double dt = bench_now_s() - t0;
	if (sink == 0x1) /* keep the loop observable */
		fprintf(stderr, "#\n");
	return dt * 1e9 / (double)n;
}

static double spawn_stop_rate(struct nm_runtime *rt, size_t n)
{
	struct nm_identity *ids = make_identities(n);
	struct nm_daemon_handle h;
	struct nm_error err;
	double t0 = bench_now_s();
	for (size_t i = 0; i < n; i++) {
		int rc = nm_runtime_spawn(rt, "counter", &ids[i], NULL, &h, &err);
		if (rc < 0 || (rc = nm_runtime_stop(rt, h.origin_hash, &err)) < 0)
			die("spawn/stop", rc, &err);
	}
	double dt = bench_now_s() - t0;
	free(ids);
	return (double)n / dt;
}

/* Heap bytes per idle counter daemon, 100 000 of them, identities made first. */
static double idle_daemon_bytes(struct nm_runtime *rt, size_t n)
{
	struct nm_identity *ids = make_identities(n);
	struct nm_daemon_handle h;
	struct nm_error err;
	struct mallinfo2 before = mallinfo2();
	for (size_t i = 0; i < n; i++) {
		int rc = nm_runtime_spawn(rt, "counter", &ids[i], NULL, &h, &err);
		if (rc < 0)
			die("spawn", rc, &err);
	}
	struct mallinfo2 after = mallinfo2();
	if (nm_runtime_daemon_count(rt) != n)
		die("idle daemons: count", -EIO, NULL);
	for (size_t i = 0; i < n; i++)
		nm_runtime_stop(rt, ids[i].origin_hash, NULL);
	free(ids);
	return (double)(after.uordblks - before.uordblks) / (double)n;
}

static int bench_runtime_part(const char *port)
{
	struct nm_mesh *mesh;
	struct nm_runtime *rt = bench_runtime(port, &mesh);
	const uint64_t n = 20 * 1000 * 1000;
	/* Warm up caches and the branch predictor once. */
	deliver_rate(rt, "echo", n / 10);
	printf("echo_deliver_rate: %.0f events/s\n", deliver_rate(rt, "echo", n));
	printf("counter_deliver_rate: %.0f events/s\n", deliver_rate(rt, "counter", n));
	printf("chain_append_64B: %.1f ns\n", chain_append_ns(50 * 1000 * 1000));
	printf("spawn_stop_rate: %.0f spawns/s\n", spawn_stop_rate(rt, 200000));
	printf("idle_daemon_memory: %.0f bytes\n", idle_daemon_bytes(rt, 100000));
	bench_free(rt, mesh);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: netmesh-bench [EAL args] -- [--port NAME] runtime|sessions|meshos\n"
			"       netmesh-bench [EAL args] -- migration-drain\n"
			"       netmesh-bench [EAL args] -- migration-total 1MiB|64MiB\n"
			"       netmesh-bench [EAL args] -- migration-envelope\n"
			"       netmesh-bench [EAL args] -- dataplane [1x64|50x64]\n"
			"       netmesh-bench [EAL args] -- aead\n"
			"  runtime, meshos: EAL must provide the port, e.g. --vdev=net_null0 (the default)\n"
			"  dataplane: EAL needs one worker lcore; net_pcap ports are hot-plugged\n");
}

int main(int argc, char **argv)
{
	int used = nm_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "netmesh-bench: EAL init failed: %s\n", strerror(-used));
		return EXIT_FAILURE;
	}
	argc -= used;
	argv += used;
	const char *port = "net_null0";
	const char *part = NULL, *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = argv[++i];
		else if (part == NULL && argv[i][0] != '-')
			part = argv[i];
		else if (only == NULL && argv[i][0] != '-' && (strcmp(part, "dataplane") == 0 || strcmp(part, "migration-total") == 0))
			only = argv[i];
		else {
			usage();
			return EXIT_FAILURE;
		}
	}
	int rc;
	if (part != NULL && strcmp(part, "runtime") == 0) {
		rc = bench_runtime_part(port);
	} else if (part != NULL && strcmp(part, "sessions") == 0) {
		rc = bench_sessions_part();
	} else if (part != NULL && strcmp(part, "dataplane") == 0) {
		rc = bench_dataplane_part(only);
	} else if (part != NULL && strcmp(part, "aead") == 0) {
		rc = bench_aead_part();
	} else if (part != NULL && strcmp(part, "meshos") == 0) {
		rc = bench_meshos_part(port);
	} else if (part != NULL && strcmp(part, "migration-drain") == 0) {
		rc = bench_migration_drain_part();
	} else if (part != NULL && strcmp(part, "migration-total") == 0) {
		rc = bench_migration_total_part(only);
	} else if (part != NULL && strcmp(part, "migration-envelope") == 0) {
		rc = bench_migration_envelope_part();
	} else {
		usage();
		rc = EXIT_FAILURE;
	}
	nm_eal_cleanup();
	return rc;
}

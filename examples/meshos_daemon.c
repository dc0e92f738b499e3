/* SPDX-License-Identifier: MIT */
/*
 * meshos_daemon.c - a daemon under MeshOS supervision, and a program that
 * takes its node through maintenance.
 *
 * The "pulse" daemon counts the events it is given. Its own thread reads its
 * control channel: on DrainStart it finishes its work, logs, and leaves
 * (unregisters itself); on Shutdown or DrainFinish it leaves at once. The
 * program's main thread is the control thread: it polls the MeshOS loop,
 * puts the node into maintenance, waits until the loop has committed
 * Maintenance (every daemon stopped), brings it back, and reads the log ring.
 * Build it out of tree with:
 *
 *   cc meshos_daemon.c $(pkg-config --cflags --libs netmesh) -o pulse
 *   ./pulse
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netmesh.h>
#include <nm_eal.h>  /* the dataplane: EAL and the mesh the runtime stands on */
#include <nm_mesh.h>

struct pulse {
	struct nm_daemon base; /* first member: the runtime sees a struct nm_daemon */
	uint64_t events;
};

static int pulse_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	(void)ev, (void)out, (void)err;
	((struct pulse *)d)->events++;
	return 0;
}

static void pulse_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops pulse_ops = {
	.name = "pulse",
	.process = pulse_process,
	.destroy = pulse_destroy,
	/* No on_control: this daemon reads its channel through its SDK handle. */
};

/* ---- the daemon's own thread: its control events ---- */

static void *pulse_main(void *arg)
{
	struct nm_meshos_handle *h = arg;
	struct nm_capability_set caps = { .memory_gb = 1 };
	nm_capability_set_add_tag(&caps, "pulse");
	nm_meshos_publish_capabilities(h, &caps);
	nm_meshos_publish_log(h, NM_LOG_INFO, "pulse is up");
	for (;;) {
		struct nm_daemon_control c;
		if (nm_meshos_next_control(h, 0, &c) < 0 || c.kind == NM_CONTROL_NONE)
			break; /* channel closed: unregistered from outside, or MeshOS shut down */
		printf("  pulse: %s", nm_control_kind_name(c.kind));
		if (c.kind == NM_CONTROL_DRAIN_START)
			printf(" (%" PRIu64 " ms to finish in-flight work)", c.grace_period_ms);
		if (c.kind == NM_CONTROL_BACKPRESSURE_ON)
			printf(" (level %.2f)", (double)c.level);
		printf("\n");
		if (c.kind == NM_CONTROL_DRAIN_START) {
			/* Take no new work, finish what is in flight (nothing here), then leave. */
			nm_meshos_publish_log(h, NM_LOG_WARN, "drained, leaving for maintenance");
			break;
		}
		if (c.kind == NM_CONTROL_SHUTDOWN || c.kind == NM_CONTROL_DRAIN_FINISH)
			break;
	}
	nm_meshos_exit(h); /* unregister: a graceful_shutdown waiting on us returns now */
	return NULL;
}

/* ---- the control thread ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Poll the loop (1 ms apart) until this node's state is `want`, for up to 5 s. */
static int poll_until(struct nm_meshos *m, enum nm_maint_kind want)
{
	for (uint64_t end = mono_ms() + 5000; mono_ms() < end; sleep_ms(1)) {
		nm_meshos_poll(m, mono_ms());
		struct nm_meshos_status st;
		nm_meshos_status(m, &st);
		if (st.state.kind == want) {
			printf("node: %s\n", nm_maint_kind_name(want));
			return 0;
		}
	}
	fprintf(stderr, "pulse: never reached %s\n", nm_maint_kind_name(want));
	return -1;
}

static void print_logs(struct nm_meshos *m)
{
	struct nm_log_record recs[8];
	uint32_t n = nm_meshos_logs(m, 0, recs, 8);
	for (uint32_t i = 0; i < n; i++)
		printf("log #%" PRIu64 " %s daemon 0x%016" PRIx64 ": %s\n", recs[i].seq,
		       nm_log_level_name(recs[i].level), recs[i].daemon_id, recs[i].message);
}

static int supervise(struct nm_runtime *rt)
{
	/* A short tick and recovery ramp so the example finishes in well under a second. */
	struct nm_meshos_config cfg = { .rt = rt, .tick_ms = 20, .ramp_window_ms = 100 };
	struct nm_meshos *m;
	struct nm_meshos_handle *h;
	struct nm_identity id;
	if (nm_meshos_start(&cfg, NULL, &m) < 0 || nm_identity_generate(&id) < 0)
		return -1;
	struct pulse *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->base.ops = &pulse_ops;
	if (nm_meshos_register(m, &p->base, &id, NULL, &h) < 0) {
		char text[320];
		nm_meshos_last_error_format(text, sizeof(text));
		fprintf(stderr, "pulse: %s\n", text); /* <<meshos-sdk-kind:KIND>>MSG */
		return -1;
	}
	printf("registered %s as 0x%016" PRIx64 " on node 0x%016" PRIx64 "\n",
	       nm_meshos_daemon_name(h), nm_meshos_daemon_id(h), nm_meshos_node_id(m));
	pthread_t t;
	pthread_create(&t, NULL, pulse_main, h);

	int rc = 0;
	sleep_ms(50);
	nm_meshos_enter_maintenance(m, nm_meshos_node_id(m), 10000); /* drain within 10 s */
	rc |= poll_until(m, NM_MAINT_MAINTENANCE); /* the daemon left: all stopped */
	nm_meshos_exit_maintenance(m, nm_meshos_node_id(m));
	rc |= poll_until(m, NM_MAINT_RECOVERY);
	rc |= poll_until(m, NM_MAINT_ACTIVE); /* after the ramp window */
	print_logs(m);

	nm_meshos_graceful_shutdown(h, 1000); /* returns at once: pulse already left */
	pthread_join(t, NULL);
	nm_meshos_handle_free(h);
	nm_meshos_free(m);
	return rc;
}

int main(int argc, char **argv)
{
	/* No arguments: a no-hugepage EAL with one net_null0 port (nm_eal_init_dev). */
	if (nm_eal_init_dev(argc, argv) < 0) {
		fprintf(stderr, "pulse: EAL init failed\n");
		return EXIT_FAILURE;
	}
	struct nm_mesh_config mc = { .port = NM_EAL_DEV_PORT };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	struct nm_mesh *mesh;
	if (nm_mesh_create(&mc, &mesh, NULL) < 0)
		return EXIT_FAILURE;
	struct nm_runtime *rt = nm_runtime_create(nm_mesh_node(mesh));
	int rc = rt != NULL && nm_runtime_start(rt, NULL) == 0 ? supervise(rt) : -1;
	nm_runtime_destroy(rt);
	nm_mesh_destroy(mesh);
	nm_eal_cleanup();
	if (rc == 0)
		printf("ok\n");
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: MIT */
/*
 * netmesh.c - the appliance: netmesh [EAL args] -- [app args]
 *
 * The main lcore is the control thread (runtime, slow path, stats); one
 * worker per RX queue on the EAL worker lcores. SIGINT/SIGTERM stop it
 * gracefully (daemons drained, workers drained, port closed, EAL cleaned up);
 * a second signal exits at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "app_cmds.h"
#include "app_common.h"
#include "app_console.h"
#include "app_ctlsock.h"
#include "app_ops.h"
#include "app_state.h"
#include "app_telemetry.h"
#include "nm_aead.h"
#include "nm_builtin.h"
#include "nm_config.h"
#include "nm_dataplane.h"
#include "nm_log.h"
#include "nm_mesh.h"
#include "nm_meshos.h"
#include "nm_meshos_probe.h"
#include "nm_migdp.h"
#include "nm_runtime.h"
#include "nm_sessmgr.h"
#include "nm_time.h"
#include "nm_wire.h"

/* ---- run ---- */

struct app {
	struct nm_app_config cfg;
	struct nm_keys keys;
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_meshos *mos;
	struct nm_meshos_probe_ctx probe;
	struct app_state state;
	struct nm_migdp *md; /* live migration: the engine on the dataplane */
	struct nm_evac_engine evac_engine; /* MeshOS's view of it (evacuation) */
	struct app_cmds cmds;       /* the operator's commands, for the front ends below */
	struct app_console console; /* -i */
	struct app_ctlsock ctl;     /* --ctl-socket */
};

/* "netmesh: what: message", without repeating `what` when the message starts with it. */
static int fail(const char *what, const struct nm_error *err)
{
	const char *msg = err->msg[0] ? err->msg : nm_strerror(err->code);
	size_t n = strlen(what);
	if (strncmp(msg, what, n) == 0 && msg[n] == ':')
		nm_log(NM_LT_APP, NM_LV_ERR, "%s", msg);
	else
		nm_log(NM_LT_APP, NM_LV_ERR, "%s: %s", what, msg);
	return err->code < 0 ? err->code : -EINVAL;
}

/* --port NAME or ID (digits: a port id), or the first port; leaves the name in cfg.port. */
static int app_resolve_port(struct app *a)
{
	char *name = a->cfg.port;
	unsigned long id;
	uint16_t pid;
	if (name[0] == '\0') {
		RTE_ETH_FOREACH_DEV(pid)
		{
			return rte_eth_dev_get_name_by_port(pid, name);
		}
		nm_log(NM_LT_APP, NM_LV_ERR, "no ethdev: give EAL a device (-a PCI or --vdev)");
		return -ENODEV;
	}
	if (app_parse_uint(name, 0, RTE_MAX_ETHPORTS - 1, &id) < 0)
		return 0; /* a name: nm_mesh_create looks it up */
	if (!rte_eth_dev_is_valid_port((uint16_t)id)) {
		nm_log(NM_LT_APP, NM_LV_ERR, "--port %s: no port with that id (EAL has %u)", name,
		       (unsigned)rte_eth_dev_count_avail());
		return -ENODEV;
	}
	return rte_eth_dev_get_name_by_port((uint16_t)id, name);
}

static int app_mesh_init(struct app *a)
{
	struct nm_error err = { 0 };
	struct nm_mesh_config mc = { .port = a->cfg.port,
				     .node_seed = nm_identity_seed(&a->keys.identity) };
	int rc = app_resolve_port(a);
	if (rc < 0)
		return rc;
	if (app_read_key32(a->cfg.psk_file, mc.psk) < 0)
		return -EINVAL;
	rc = nm_mesh_create(&mc, &a->mesh, &err);
	return rc < 0 ? fail("mesh", &err) : 0;
}

static int app_runtime_init(struct app *a)
{
	struct nm_error err = { 0 };
	a->rt = nm_runtime_create(nm_mesh_node(a->mesh));
	if (a->rt == NULL)
		return -ENOMEM;
	if (nm_builtin_register_all(a->rt, &err) < 0)
		return fail("runtime", &err);
	/* Parameterised kinds (blob-SIZE) exist once a --daemon or an --accept names them. */
	for (unsigned i = 0; i < a->cfg.n_daemons; i++)
		if (nm_builtin_register_kind(a->rt, a->cfg.daemons[i].kind, &err) < 0)
			return fail(a->cfg.daemons[i].where, &err);
	for (unsigned i = 0; i < a->cfg.n_accepts; i++)
		if (nm_builtin_register_kind(a->rt, a->cfg.accepts[i].kind, &err) < 0)
			return fail("--accept", &err);
	if (nm_runtime_start(a->rt, &err) < 0)
		return fail("runtime", &err);
	return 0;
}

/* The migration engine on the dataplane; it must see 0x0500 before the workers run. */
static int app_migration_init(struct app *a)
{
	struct nm_migdp_accept acc[NM_CONFIG_MAX_ACCEPT];
	for (unsigned i = 0; i < a->cfg.n_accepts; i++)
		acc[i] = (struct nm_migdp_accept){ a->cfg.accepts[i].kind, a->cfg.accepts[i].lcore };
	struct nm_migdp_config mc = { .dp = a->dp, .sm = a->sm, .rt = a->rt,
				      .static_sk = a->keys.noise_sk, .accept = acc,
				      .n_accept = a->cfg.n_accepts,
				      .engine = { .clock_ns = nm_mono_ns } }; /* per-phase stamps */
	struct nm_error err = { 0 };
	return nm_migdp_create(&mc, &a->md, &err) < 0 ? fail("migration", &err) : 0;
}

static int app_dataplane_init(struct app *a)
{
	struct nm_error err = { 0 };
	struct nm_dataplane_config dc = {
		.mesh = a->mesh, .rt = a->rt, .ip = a->cfg.ip, .udp_port = a->cfg.udp_port,
		.n_workers = a->cfg.queues, .lcores = a->cfg.n_lcores ? a->cfg.lcores : NULL,
		.mtu = a->cfg.mtu, .n_mbufs = a->cfg.n_mbufs, .rx_desc = a->cfg.rx_desc,
		.tx_desc = a->cfg.tx_desc, .burst = a->cfg.burst, .idle_sleep_us = a->cfg.idle_sleep_us,
	};
	if (nm_dataplane_create(&dc, &a->dp, &err) < 0)
		return fail("dataplane", &err);
	struct nm_sessmgr_config sc = { .dp = a->dp, .keys = &a->keys, .psk = nm_mesh_psk(a->mesh),
					.use_split = a->cfg.use_split };
	if (nm_sessmgr_create(&sc, &a->sm, &err) < 0)
		return fail("sessions", &err);
	for (unsigned i = 0; i < a->cfg.n_peers; i++)
		if (app_peer_add(a->sm, &a->cfg.peers[i], &err) < 0)
			return fail("peer", &err);
	if (app_migration_init(a) < 0)
		return -EINVAL;
	if (nm_dataplane_start(a->dp, &err) < 0)
		return fail("workers", &err);
	return 0;
}

/* MeshOS supervises every daemon of the runtime; its loop runs in control_loop. */
static int app_meshos_init(struct app *a)
{
	a->probe = (struct nm_meshos_probe_ctx){ .dp = a->dp, .sm = a->sm };
	struct nm_meshos_config mc = { .rt = a->rt, .probes = nm_meshos_probes_of(&a->probe) };
	/*
	 * Maintenance evacuates by live migration, to any configured peer (no
	 * capability announcements on the wire yet: a daemon with requirements
	 * stays, reported, unless a peer's set is configured).
	 */
	static struct nm_evac_peer peers[NM_EVAC_MAX_PEERS];
	uint32_t n = 0;
	for (unsigned i = 0; i < a->cfg.n_peers && n < NM_EVAC_MAX_PEERS; i++)
		peers[n++] = (struct nm_evac_peer){ .node = a->cfg.peers[i].node_id };
	struct nm_mig_opts opts = nm_mig_opts_default();
	opts.prepare_ms = a->cfg.migrate_prepare_ms;
	nm_evac_migrator_of(nm_migdp_engine(a->md), &opts, &a->evac_engine, &mc.migrator);
	mc.evac = (struct nm_evac_config){ .peers = peers, .n_peers = n };
	int rc = nm_meshos_start(&mc, NULL, &a->mos);
	if (rc < 0)
		nm_log(NM_LT_APP, NM_LV_ERR, "meshos: %s", nm_meshos_last_error_message());
	return rc;
}

static int app_spawn_daemons(struct app *a)
{
	if (app_state_open(&a->state, a->cfg.state_dir, a->cfg.snapshot_interval, a->rt) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < a->cfg.n_daemons; i++) {
		const struct nm_config_daemon *d = &a->cfg.daemons[i];
		struct nm_error err = { 0 };
		struct nm_identity id;
		struct nm_host_config hc = nm_host_config_default();
		struct nm_daemon_handle h;
		bool restored;
		hc.lcore = d->lcore;
		if (nm_identity_from_file(&id, d->seed_file, &err) < 0 ||
		    app_state_spawn(&a->state, a->rt, d->kind, &id, &hc, &h, &restored, &err) < 0)
			return fail(d->kind, &err);
		nm_log(NM_LT_APP, NM_LV_NOTICE, "daemon %s origin 0x%016" PRIx64 " on lcore %u%s", d->kind,
		       h.origin_hash, d->lcore, restored ? " (restored)" : "");
		nm_identity_wipe(&id);
	}
	app_state_started(&a->state);
	return 0;
}

/* Counters (since `clear stats`), peers, MeshOS: the same lines `show` prints. */
static void print_stats(struct app *a)
{
	app_cmds_print_counters(&a->cmds, stdout);
	/* Beside the totals: the cipher their throughput depends on. */
	printf("aead:    %s (%s)\n", nm_aead_backend_name(), nm_aead_arch_name());
	app_cmds_print_peers(&a->cmds, stdout);
	if (a->sm != NULL)
		nm_sessmgr_stats_print(stdout, a->sm);
	app_cmds_print_meshos(&a->cmds, stdout);
	fflush(stdout);
}

/*
 * How long the control thread naps when a loop found nothing to do: 1 ms
 * (sessions, telemetry and the console are happy with that). While a
 * hand-off of a migration waits for this thread (nm_migdp_busy: before the
 * source's ActivateAck or the target's ActivateTarget, a 0x0500 message
 * pending, forwarded events to move) it naps only CTL_NAP_MIGRATING_US:
 * never spinning, since on a machine with fewer CPUs than busy threads a
 * spinning control thread takes the CPU the other side of the hand-off needs
 * (both appliances' control threads spun during a migration: the cutover
 * pause was 30 ms; docs/BENCHMARKS.md). Not through the source's idle
 * forwarding linger (5 s after each migration): each 20 us nap costs about
 * 15 us of CPU on a shared VM, 17 % of a CPU per appliance at 11 k naps/s.
 */
#define CTL_NAP_IDLE_US 1000u
#define CTL_NAP_MIGRATING_US 20u

static void control_loop(struct app *a)
{
	/* At the prompt counters are shown on demand (show stats), as in testpmd. */
	const uint64_t period_ms = a->cfg.interactive ? 0 : (uint64_t)a->cfg.stats_period * 1000;
	uint64_t next_stats = nm_mono_ms() + period_ms;
	while (!atomic_load(&app_force_quit)) {
		/* Session and migration state change here; telemetry reads them under this. */
		app_telemetry_hold();
		nm_dataplane_poll_slowpath(a->dp);
		nm_sessmgr_poll(a->sm);
		unsigned work = nm_migdp_poll(a->md, nm_mono_ms());
		app_console_poll(&a->console); /* commands: peers, daemons, migrations change */
		app_ctlsock_poll(&a->ctl, nm_mono_ms());
		bool busy = nm_migdp_busy(a->md);
		app_telemetry_release();
		nm_meshos_poll(a->mos, nm_mono_ms());
		app_state_tick(&a->state, nm_mono_ns());
		/* Only a loop that found nothing naps; a busy one goes round at once. */
		if (work == 0)
			nm_sleep_us(busy ? CTL_NAP_MIGRATING_US : CTL_NAP_IDLE_US);
		if (period_ms != 0 && nm_mono_ms() >= next_stats) {
			next_stats += period_ms;
			print_stats(a);
		}
	}
}

/* Tear down in dependency order; every step tolerates a partial start. */
static void app_fini(struct app *a)
{
	app_console_close(&a->console); /* the terminal as it was */
	app_ctlsock_close(&a->ctl);
	app_telemetry_fini(); /* no telemetry callback reads what follows */
	nm_meshos_free(a->mos); /* before the runtime it observes and the engine it evacuates with */
	a->mos = a->cmds.env.mos = NULL; /* the last stats print below reads through cmds */
	/* Migrations end with the workers still running: held events are processed here. */
	nm_migdp_free(a->md);
	a->md = a->cmds.env.md = NULL;
	if (a->rt != NULL)
		nm_runtime_shutdown(a->rt, NULL); /* drains daemons through the workers */
	if (a->dp != NULL) {
		nm_dataplane_stop(a->dp);
		print_stats(a);
	}
	nm_sessmgr_destroy(a->sm); /* its sessions leave the (stopped) dataplane */
	a->sm = NULL;
	nm_dataplane_destroy(a->dp); /* closes the port */
	nm_runtime_destroy(a->rt);
	nm_mesh_destroy(a->mesh);
	app_state_close(&a->state);
	nm_keys_wipe(&a->keys);
}

/* The commands and their front ends: --ctl-socket, then --cmdline-file runs, then -i. */
static int app_frontends_init(struct app *a)
{
	struct app_cmds_env env = { .rt = a->rt, .dp = a->dp, .sm = a->sm, .mos = a->mos,
				    .state = &a->state, .cfg = &a->cfg, .md = a->md };
	app_cmds_init(&a->cmds, &env);
	if (app_ctlsock_open(&a->ctl, &a->cmds, a->cfg.ctl_socket) < 0)
		return -EINVAL;
	if (a->cfg.cmdline_file[0] != '\0') {
		app_telemetry_hold(); /* as the control loop does around commands */
		app_console_run_file(&a->cmds, a->cfg.cmdline_file, stdout); /* then runs on */
		app_telemetry_release();
	}
	if (a->cfg.interactive && !a->cmds.quit && app_console_open(&a->console, &a->cmds) < 0)
		return -EINVAL;
	return 0;
}

/* /netmesh/... commands; without telemetry (--no-telemetry) they are simply never asked. */
static int app_telemetry_init_from(struct app *a)
{
	struct app_telemetry_src src = { .mesh = a->mesh, .dp = a->dp, .sm = a->sm, .rt = a->rt,
					 .mos = a->mos, .md = a->md,
					 .mig_prepare_ms = a->cfg.migrate_prepare_ms };
	int rc = app_telemetry_init(&src);
	if (rc < 0)
		nm_log(NM_LT_APP, NM_LV_ERR, "telemetry: cannot register /netmesh commands: %s",
		       strerror(-rc));
	return rc;
}

static int app_keys_init(struct app *a)
{
	return app_load_keys(a->cfg.keys_dir, &a->keys);
}

/*
 * Options and validation, before EAL; --help, --check-config and
 * --show-identity end here. Returns an exit status, or -1 to start.
 */
static int app_configure(struct nm_app_config *c, int argc, char **argv, int eal_argc,
			 char **eal_argv)
{
	struct nm_error err = { 0 };
	nm_config_init(c);
	nm_config_eal_lcores(c, eal_argc, eal_argv);
	if (nm_config_parse_argv(c, argc, argv, &err) < 0) {
		fprintf(stderr, "netmesh: %s (--help lists the options)\n", err.msg);
		return EXIT_FAILURE;
	}
	if (c->help) {
		nm_config_usage(stdout, argv[0]);
		return EXIT_SUCCESS;
	}
	int rc = nm_config_validate(c, &err);
	if (c->check) /* what was resolved, also when it does not validate (relative paths) */
		nm_config_print(c, stdout);
	fflush(stdout);
	if (rc < 0) {
		fprintf(stderr, "netmesh: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	if (c->check) {
		printf("netmesh: %s: ok\n", c->config_file);
		return EXIT_SUCCESS;
	}
	if (c->show_identity)
		return app_show_identity(c->keys_dir) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	return -1;
}

int main(int argc, char **argv)
{
	static struct app a;
	int eal_argc, first = nm_config_app_args(argc, argv, &eal_argc);
	argv[first - 1] = argv[0]; /* the app's own argv: the program, then its options */
	int status = app_configure(&a.cfg, argc - first + 1, argv + first - 1, eal_argc, argv);
	if (status >= 0)
		return status;
	app_timer_slack("netmesh");
	int used = rte_eal_init(eal_argc, argv);
	if (used < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed: %s\n", rte_strerror(rte_errno));
	if (used + 1 < eal_argc) /* EAL stops at a word that is none of its options */
		rte_exit(EXIT_FAILURE, "unexpected argument '%s' before '--'\n", argv[used + 1]);
	app_signals_init(argv[0]);
	app_ops_init();

	int rc = app_keys_init(&a);
	if (rc == 0)
		rc = app_mesh_init(&a);
	if (rc == 0)
		rc = app_runtime_init(&a);
	if (rc == 0)
		rc = app_dataplane_init(&a);
	if (rc == 0)
		rc = app_meshos_init(&a);
	if (rc == 0)
		rc = app_spawn_daemons(&a);
	if (rc == 0)
		rc = app_telemetry_init_from(&a);
	if (rc == 0)
		rc = app_frontends_init(&a);
	if (rc == 0) {
		nm_log(NM_LT_APP, NM_LV_NOTICE, "node 0x%016" PRIx64 " on %s, %u worker(s); Ctrl-C to stop",
		       nm_mesh_node_id(a.mesh), a.cfg.port, a.cfg.queues);
		printf("netmesh: aead %s (%s)\n", nm_aead_backend_name(), nm_aead_arch_name());
		fflush(stdout);
		control_loop(&a);
		nm_log(NM_LT_APP, NM_LV_NOTICE, "stopping");
		rc = app_state_stop(&a.state, a.dp); /* before the runtime drains the daemons */
	}
	app_fini(&a);
	app_ops_fini();
	int crc = rte_eal_cleanup();
	if (crc < 0)
		fprintf(stderr, "netmesh: EAL cleanup failed: %s\n", rte_strerror(-crc));
	return rc == 0 && crc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

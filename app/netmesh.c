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
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "app_common.h"
#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_mesh.h"
#include "nm_meshos.h"
#include "nm_meshos_probe.h"
#include "nm_runtime.h"
#include "nm_sessmgr.h"
#include "nm_time.h"
#include "nm_wire.h"

#define MAX_DAEMONS 64
#define MAX_PEERS 64

struct daemon_spec {
	char kind[NM_KIND_MAX + 1];
	char seed_file[256];
	unsigned lcore;
};

struct peer_spec {
	uint32_t ip;
	uint16_t port;
	bool has_mac;
	struct rte_ether_addr mac;
	uint64_t node_id;
	bool has_static;
	uint8_t static_pub[32];
	bool connect;
};

struct app_config {
	char port[RTE_ETH_NAME_MAX_LEN];
	uint32_t ip;
	uint16_t udp_port;
	uint16_t queues;
	unsigned lcores[NM_PORT_MAX_QUEUES];
	unsigned n_lcores;
	uint16_t mtu;
	uint32_t n_mbufs;
	unsigned stats_period;
	char psk_file[256];
	char keys_dir[256];
	bool show_identity;
	bool use_split;
	struct daemon_spec daemons[MAX_DAEMONS];
	unsigned n_daemons;
	struct peer_spec peers[MAX_PEERS];
	unsigned n_peers;
};

static void usage(const char *prog)
{
	printf("usage: %s [EAL args] -- [options]\n"
	       "  --ip A.B.C.D            IPv4 address of the port (required)\n"
	       "  --port NAME             ethdev to use (default: the first port)\n"
	       "  --udp-port N            UDP port (default 7777)\n"
	       "  --queues N              RX/TX queues, one worker each (default 1)\n"
	       "  --worker-lcores L,L,..  lcore of each queue's worker (default: EAL worker lcores)\n"
	       "  --mtu N                 IP MTU (default 1500)\n"
	       "  --mbufs N               mbufs in the pool (default 8191)\n"
	       "  --psk-file FILE         mesh PSK: 32 raw bytes or 64 hex digits (required)\n"
	       "  --keys DIR              node keys (identity.seed, noise.key), created 0600 on first use\n"
	       "  --show-identity         print node_id and the static public key of --keys, then exit\n"
	       "  --split-keys            derive session keys with Noise Split() (not upstream-compatible)\n"
	       "  --daemon KIND:SEEDFILE:LCORE   spawn a daemon at start (repeatable)\n"
	       "  --peer IP[:PORT][@MAC],node=HEX[,static=HEX][,connect]\n"
	       "                          a peer (repeatable): node_id, X25519 static key (to connect),\n"
	       "                          'connect' to initiate and keep a session; MAC learned if omitted\n"
	       "  --stats-period SEC      print counters every SEC seconds (0: off; default 1)\n"
	       "  --config FILE           read options from FILE: one 'name value' per line, '#' comments\n"
	       "  --help                  this text\n",
	       prog);
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "netmesh: --%s %s: %s\n", opt, val ? val : "", why);
	return -EINVAL;
}

static int parse_lcores(struct app_config *c, const char *v)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", v);
	c->n_lcores = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned long lc;
		if (c->n_lcores == NM_PORT_MAX_QUEUES || app_parse_uint(t, 0, RTE_MAX_LCORE - 1, &lc))
			return bad("worker-lcores", v, "comma-separated lcore ids");
		c->lcores[c->n_lcores++] = (unsigned)lc;
	}
	return 0;
}

static int parse_daemon(struct app_config *c, const char *v)
{
	unsigned long lc;
	const char *a = strchr(v, ':'), *b = a ? strrchr(v, ':') : NULL;
	if (a == NULL || b == a || (size_t)(a - v) > NM_KIND_MAX || a == v ||
	    (size_t)(b - a - 1) >= sizeof(c->daemons[0].seed_file) ||
	    app_parse_uint(b + 1, 0, RTE_MAX_LCORE - 1, &lc))
		return bad("daemon", v, "expected KIND:SEEDFILE:LCORE");
	if (c->n_daemons == MAX_DAEMONS)
		return bad("daemon", v, "too many daemons");
	struct daemon_spec *d = &c->daemons[c->n_daemons++];
	memcpy(d->kind, v, (size_t)(a - v));
	d->kind[a - v] = '\0';
	memcpy(d->seed_file, a + 1, (size_t)(b - a - 1));
	d->seed_file[b - a - 1] = '\0';
	d->lcore = (unsigned)lc;
	return 0;
}

/* ",node=HEX,static=HEX,connect" after the address. */
static int parse_peer_attrs(struct peer_spec *p, char *attrs, const char *v)
{
	for (char *save, *t = strtok_r(attrs, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "node=", 5) == 0) {
			if (app_parse_hex_u64(t + 5, &p->node_id) < 0 || p->node_id == 0)
				return bad("peer", v, "node= wants the node_id in hex");
		} else if (strncmp(t, "static=", 7) == 0) {
			if (app_parse_hex32(t + 7, p->static_pub) < 0)
				return bad("peer", v, "static= wants 64 hex digits");
			p->has_static = true;
		} else if (strcmp(t, "connect") == 0) {
			p->connect = true;
		} else {
			return bad("peer", v, "unknown attribute (node=, static=, connect)");
		}
	}
	if (p->node_id == 0)
		return bad("peer", v, "node=HEX is required (it is in the handshake)");
	if (p->connect && !p->has_static)
		return bad("peer", v, "connect needs static=HEX");
	return 0;
}

static int parse_peer(struct app_config *c, const char *v)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", v);
	struct peer_spec p = { .port = NM_NET_DEFAULT_PORT };
	char *comma = strchr(buf, ',');
	if (comma == NULL)
		return bad("peer", v, "node=HEX is required (it is in the handshake)");
	*comma = '\0';
	if (parse_peer_attrs(&p, comma + 1, v) < 0)
		return -EINVAL;
	char *at = strchr(buf, '@');
	if (at != NULL) {
		*at = '\0';
		if (app_parse_mac(at + 1, &p.mac) < 0)
			return bad("peer", v, "bad MAC");
		p.has_mac = true;
	}
	char *colon = strchr(buf, ':');
	if (colon != NULL) {
		unsigned long port;
		*colon = '\0';
		if (app_parse_uint(colon + 1, 1, 65535, &port) < 0)
			return bad("peer", v, "bad UDP port");
		p.port = (uint16_t)port;
	}
	if (app_parse_ipv4(buf, &p.ip) < 0)
		return bad("peer", v, "bad IPv4 address");
	if (c->n_peers == MAX_PEERS)
		return bad("peer", v, "too many peers");
	c->peers[c->n_peers++] = p;
	return 0;
}

static int parse_config_file(struct app_config *c, const char *path);

/* One option, from the command line or a config file. */
static int apply_option(struct app_config *c, const char *name, const char *v)
{
	unsigned long n;
	if (strcmp(name, "ip") == 0)
		return app_parse_ipv4(v, &c->ip) == 0 ? 0 : bad(name, v, "bad IPv4 address");
	if (strcmp(name, "port") == 0)
		return snprintf(c->port, sizeof(c->port), "%s", v) < (int)sizeof(c->port)
			       ? 0 : bad(name, v, "name too long");
	if (strcmp(name, "udp-port") == 0) {
		if (app_parse_uint(v, 1, 65535, &n) < 0)
			return bad(name, v, "1..65535");
		c->udp_port = (uint16_t)n;
		return 0;
	}
	if (strcmp(name, "queues") == 0) {
		if (app_parse_uint(v, 1, NM_PORT_MAX_QUEUES, &n) < 0)
			return bad(name, v, "1..16");
		c->queues = (uint16_t)n;
		return 0;
	}
	if (strcmp(name, "mtu") == 0) {
		if (app_parse_uint(v, 576, 9000, &n) < 0)
			return bad(name, v, "576..9000");
		c->mtu = (uint16_t)n;
		return 0;
	}
	if (strcmp(name, "mbufs") == 0) {
		if (app_parse_uint(v, 1023, 1u << 24, &n) < 0)
			return bad(name, v, "1023..16777216");
		c->n_mbufs = (uint32_t)n;
		return 0;
	}
	if (strcmp(name, "stats-period") == 0) {
		if (app_parse_uint(v, 0, 3600, &n) < 0)
			return bad(name, v, "0..3600 seconds");
		c->stats_period = (unsigned)n;
		return 0;
	}
	if (strcmp(name, "psk-file") == 0)
		return snprintf(c->psk_file, sizeof(c->psk_file), "%s", v) < (int)sizeof(c->psk_file)
			       ? 0 : bad(name, v, "path too long");
	if (strcmp(name, "keys") == 0)
		return snprintf(c->keys_dir, sizeof(c->keys_dir), "%s", v) < (int)sizeof(c->keys_dir)
			       ? 0 : bad(name, v, "path too long");
	if (strcmp(name, "worker-lcores") == 0)
		return parse_lcores(c, v);
	if (strcmp(name, "daemon") == 0)
		return parse_daemon(c, v);
	if (strcmp(name, "peer") == 0)
		return parse_peer(c, v);
	if (strcmp(name, "config") == 0)
		return parse_config_file(c, v);
	return bad(name, v, "unknown option");
}

static int parse_config_file(struct app_config *c, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return bad("config", path, strerror(errno));
	char line[512];
	int rc = 0, lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "#\r\n")] = '\0';
		if (*s == '\0')
			continue;
		char *name = strtok(s, " \t=");
		char *val = strtok(NULL, " \t=");
		if (name == NULL || val == NULL || strcmp(name, "config") == 0) {
			fprintf(stderr, "netmesh: %s:%d: expected 'name value'\n", path, lineno);
			rc = -EINVAL;
		} else {
			rc = apply_option(c, name, val);
		}
	}
	fclose(f);
	return rc;
}

static int parse_args(struct app_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ip", required_argument, NULL, 0 },        { "port", required_argument, NULL, 0 },
		{ "udp-port", required_argument, NULL, 0 },  { "queues", required_argument, NULL, 0 },
		{ "worker-lcores", required_argument, NULL, 0 }, { "mtu", required_argument, NULL, 0 },
		{ "mbufs", required_argument, NULL, 0 },     { "psk-file", required_argument, NULL, 0 },
		{ "daemon", required_argument, NULL, 0 },    { "peer", required_argument, NULL, 0 },
		{ "stats-period", required_argument, NULL, 0 }, { "config", required_argument, NULL, 0 },
		{ "keys", required_argument, NULL, 0 },      { "show-identity", no_argument, NULL, 'i' },
		{ "split-keys", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	int idx, ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (ch == 'h') {
			usage(argv[0]);
			exit(EXIT_SUCCESS);
		}
		if (ch == 'i' || ch == 's') {
			*(ch == 'i' ? &c->show_identity : &c->use_split) = true;
			continue;
		}
		if (ch != 0 || apply_option(c, opts[idx].name, optarg) < 0) {
			if (ch != 0)
				usage(argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return bad("", argv[optind], "unexpected argument");
	if (c->keys_dir[0] == '\0')
		return bad("keys", "", "is required (a directory; created on first use)");
	if (c->show_identity)
		return 0;
	if (c->ip == 0)
		return bad("ip", "", "is required");
	if (c->psk_file[0] == '\0')
		return bad("psk-file", "", "is required");
	if (c->n_lcores != 0 && c->n_lcores != c->queues)
		return bad("worker-lcores", "", "give one lcore per queue");
	return 0;
}

/* ---- run ---- */

struct app {
	struct app_config cfg;
	struct nm_keys keys;
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_meshos *mos;
	struct nm_meshos_probe_ctx probe;
};

static int fail(const char *what, const struct nm_error *err)
{
	fprintf(stderr, "netmesh: %s: %s\n", what, err->msg[0] ? err->msg : nm_strerror(err->code));
	return err->code < 0 ? err->code : -EINVAL;
}

static int app_mesh_init(struct app *a)
{
	struct nm_error err = { 0 };
	struct nm_mesh_config mc = { .port = a->cfg.port,
				     .node_seed = nm_identity_seed(&a->keys.identity) };
	if (mc.port[0] == '\0') {
		uint16_t pid;
		RTE_ETH_FOREACH_DEV(pid)
		{
			rte_eth_dev_get_name_by_port(pid, a->cfg.port);
			break;
		}
		if (a->cfg.port[0] == '\0') {
			fprintf(stderr, "netmesh: no ethdev: give EAL a device (-a PCI or --vdev)\n");
			return -ENODEV;
		}
	}
	if (app_read_key32(a->cfg.psk_file, mc.psk) < 0)
		return -EINVAL;
	int rc = nm_mesh_create(&mc, &a->mesh, &err);
	return rc < 0 ? fail("mesh", &err) : 0;
}

static int app_runtime_init(struct app *a)
{
	struct nm_error err = { 0 };
	a->rt = nm_runtime_create(a->mesh);
	if (a->rt == NULL)
		return -ENOMEM;
	if (nm_builtin_register_all(a->rt, &err) < 0 || nm_runtime_start(a->rt, &err) < 0)
		return fail("runtime", &err);
	return 0;
}

static int app_dataplane_init(struct app *a)
{
	struct nm_error err = { 0 };
	struct nm_dataplane_config dc = {
		.mesh = a->mesh, .rt = a->rt, .ip = a->cfg.ip, .udp_port = a->cfg.udp_port,
		.n_workers = a->cfg.queues, .lcores = a->cfg.n_lcores ? a->cfg.lcores : NULL,
		.mtu = a->cfg.mtu, .n_mbufs = a->cfg.n_mbufs,
	};
	if (nm_dataplane_create(&dc, &a->dp, &err) < 0)
		return fail("dataplane", &err);
	struct nm_sessmgr_config sc = { .dp = a->dp, .keys = &a->keys, .psk = nm_mesh_psk(a->mesh),
					.use_split = a->cfg.use_split };
	if (nm_sessmgr_create(&sc, &a->sm, &err) < 0)
		return fail("sessions", &err);
	for (unsigned i = 0; i < a->cfg.n_peers; i++) {
		const struct peer_spec *p = &a->cfg.peers[i];
		struct nm_sm_peer_config pc = {
			.ip = p->ip, .port = p->port, .mac = p->has_mac ? &p->mac : NULL,
			.node_id = p->node_id, .static_pub = p->has_static ? p->static_pub : NULL,
			.connect = p->connect,
		};
		if (nm_sessmgr_add_peer(a->sm, &pc, &err) < 0)
			return fail("peer", &err);
	}
	if (nm_dataplane_start(a->dp, &err) < 0)
		return fail("workers", &err);
	return 0;
}

/* MeshOS supervises every daemon of the runtime; its loop runs in control_loop. */
static int app_meshos_init(struct app *a)
{
	a->probe = (struct nm_meshos_probe_ctx){ .dp = a->dp, .sm = a->sm };
	struct nm_meshos_config mc = { .rt = a->rt, .probes = nm_meshos_probes_of(&a->probe) };
	int rc = nm_meshos_start(&mc, NULL, &a->mos);
	if (rc < 0)
		fprintf(stderr, "netmesh: meshos: %s\n", nm_meshos_last_error_message());
	return rc;
}

static int app_spawn_daemons(struct app *a)
{
	for (unsigned i = 0; i < a->cfg.n_daemons; i++) {
		const struct daemon_spec *d = &a->cfg.daemons[i];
		struct nm_error err = { 0 };
		struct nm_identity id;
		struct nm_host_config hc = nm_host_config_default();
		struct nm_daemon_handle h;
		hc.lcore = d->lcore;
		if (nm_identity_from_file(&id, d->seed_file, &err) < 0 ||
		    nm_runtime_spawn(a->rt, d->kind, &id, &hc, &h, &err) < 0)
			return fail(d->kind, &err);
		printf("netmesh: daemon %s origin 0x%016" PRIx64 " on lcore %u\n", d->kind,
		       h.origin_hash, d->lcore);
		nm_identity_wipe(&id);
	}
	return 0;
}

static void print_stats(const struct app *a)
{
	struct nm_lcore_stats sum;
	for (unsigned i = 0; i < a->dp->n_workers; i++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "lcore %u: ", a->dp->workers[i]->lcore);
		nm_stats_print(stdout, prefix, &a->dp->workers[i]->stats);
	}
	nm_dataplane_stats(a->dp, &sum);
	nm_stats_print(stdout, "total:   ", &sum);
	for (unsigned i = 0; a->sm != NULL && i < a->cfg.n_peers; i++) {
		struct nm_peer_status st;
		nm_sessmgr_peer_status(a->sm, (int)i, &st);
		char ip[INET_ADDRSTRLEN];
		uint32_t be = htonl(a->cfg.peers[i].ip);
		inet_ntop(AF_INET, &be, ip, sizeof(ip));
		printf("peer %s: %s session 0x%016" PRIx64 " rtt %" PRIu64 " us\n", ip,
		       nm_peer_health_name(st.health), st.session_id, st.rtt_ns / 1000);
	}
	nm_sessmgr_stats_print(stdout, a->sm);
	if (a->mos != NULL) {
		struct nm_meshos_status ms;
		struct nm_meshos_stats mt;
		nm_meshos_status(a->mos, &ms);
		nm_meshos_stats(a->mos, &mt);
		printf("meshos: %s", nm_maint_kind_name(ms.state.kind));
		if (ms.state.kind != NM_MAINT_ACTIVE)
			printf(" for %" PRIu64 " ms", ms.view.since_ms);
		printf(", daemons %" PRIu64 ", backpressure %s (%.2f), "
		       "control routed %" PRIu64 " dropped %" PRIu64 " delivered %" PRIu64
		       ", logs %" PRIu64 ", capability sets %" PRIu64 "\n", mt.daemons,
		       ms.backpressure ? "on" : "off", (double)ms.level, mt.control_routed,
		       mt.control_dropped, mt.control_delivered, mt.logs, mt.capability_sets);
	}
	fflush(stdout);
}

static void control_loop(struct app *a)
{
	uint64_t ticks = 0;
	const uint64_t period_ticks = (uint64_t)a->cfg.stats_period * 1000;
	while (!atomic_load(&app_force_quit)) {
		nm_dataplane_poll_slowpath(a->dp);
		nm_sessmgr_poll(a->sm);
		nm_meshos_poll(a->mos, nm_mono_ms());
		app_sleep_ms(1);
		if (period_ticks != 0 && ++ticks % period_ticks == 0)
			print_stats(a);
	}
}

/* Tear down in dependency order; every step tolerates a partial start. */
static void app_fini(struct app *a)
{
	nm_meshos_free(a->mos); /* before the runtime it observes */
	a->mos = NULL;
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
	nm_keys_wipe(&a->keys);
}

static int app_keys_init(struct app *a)
{
	return app_load_keys(a->cfg.keys_dir, &a->keys);
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed: %s\n", rte_strerror(rte_errno));
	argc -= used;
	argv += used;
	app_signals_init(argv[0]);

	static struct app a = {
		.cfg = { .udp_port = NM_NET_DEFAULT_PORT, .queues = 1, .stats_period = 1 },
	};
	int rc = parse_args(&a.cfg, argc, argv);
	if (rc == 0 && a.cfg.show_identity) {
		rc = app_show_identity(a.cfg.keys_dir);
		rte_eal_cleanup();
		return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (rc == 0)
		rc = app_keys_init(&a);
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
	if (rc == 0) {
		printf("netmesh: node 0x%016" PRIx64 " on %s, %u worker(s); Ctrl-C to stop\n",
		       nm_mesh_node_id(a.mesh), a.cfg.port, a.cfg.queues);
		fflush(stdout);
		control_loop(&a);
		printf("netmesh: stopping\n");
	}
	app_fini(&a);
	int crc = rte_eal_cleanup();
	if (crc < 0)
		fprintf(stderr, "netmesh: EAL cleanup failed: %s\n", rte_strerror(-crc));
	return rc == 0 && crc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

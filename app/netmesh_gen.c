/* SPDX-License-Identifier: MIT */
/*
 * netmesh_gen.c - the traffic generator: netmesh-gen [EAL args] -- [options]
 *
 * A single-process Net node on one DPDK port, run on the main lcore: it
 * resolves the appliance by ARP, handshakes as initiator, sends sealed
 * causal-event packets to the given daemons at a rate, and checks every
 * reply's chain (app/gen_core.h does the node logic; this file moves mbufs,
 * keeps time and prints). SIGINT/SIGTERM stop it; a second signal exits.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "app_common.h"
#include "nm_time.h"
#include "gen_core.h"
#include "nm_keys.h"
#include "nm_port.h"

#define BURST 32
#define LINK_TIMEOUT_MS 5000
#define DRAIN_QUIET_MS 200  /* stop draining replies after this long without any */
#define DRAIN_MAX_MS 2000
#define HEARTBEAT_IDLE_MS 1000
#define NS_PER_MS 1000000ULL

/* Exit statuses (documented in --help). */
#define EXIT_SETUP 1
#define EXIT_HANDSHAKE 2
#define EXIT_CHAIN 3

struct gen_opts {
	char port[RTE_ETH_NAME_MAX_LEN];
	uint32_t ip, peer_ip;
	uint16_t udp_port, peer_port, mtu;
	bool has_peer_mac, has_peer_node, has_peer_static, show_identity, help, split_keys;
	struct rte_ether_addr peer_mac;
	uint64_t peer_node;
	uint8_t peer_static[32];
	char keys_dir[256], psk_file[256];
	uint64_t daemons[GEN_MAX_DAEMONS];
	unsigned n_daemons;
	uint64_t rate, count;
	uint32_t event_size, events_per_packet;
	unsigned duration, stats_period;
};

static void usage(const char *prog)
{
	printf("usage: %s [EAL args] -- [options]\n"
	       "  --ip A.B.C.D            our IPv4 address (required)\n"
	       "  --port NAME             ethdev to use (default: the first port)\n"
	       "  --udp-port N            our UDP port (default 7777)\n"
	       "  --peer-ip A.B.C.D       the appliance's address (required)\n"
	       "  --peer-port N           its UDP port (default 7777)\n"
	       "  --peer-mac MAC          its MAC (default: resolved by ARP)\n"
	       "  --keys DIR              our key directory, created on first use (required)\n"
	       "  --peer-node HEX         the appliance's node_id (required; netmesh --show-identity)\n"
	       "  --peer-static HEX       its noise_static_pub, 64 hex digits (required)\n"
	       "  --psk-file FILE         mesh PSK: 32 raw bytes or 64 hex digits (required)\n"
	       "  --daemon HEX            destination daemon origin_hash (repeatable, round-robin)\n"
	       "  --rate PPS              packets per second (0: as fast as possible; default 0)\n"
	       "  --event-size BYTES      event payload size (default 64)\n"
	       "  --events-per-packet N   events per packet, capped by the MTU (default 1)\n"
	       "  --mtu N                 IP MTU (default 1500)\n"
	       "  --duration SEC          stop after SEC seconds (0: until Ctrl-C; default 0)\n"
	       "  --count N               stop after N packets (0: no limit; default 0)\n"
	       "  --stats-period SEC      a stats line every SEC seconds (0: off; default 1)\n"
	       "  --split-keys            session keys from Noise Split(), as the appliance's option\n"
	       "  --show-identity         print node_id, entity_id, noise_static_pub of --keys and exit\n"
	       "  --help                  this text\n"
	       "The last line is machine-readable: 'gen: sent_events=N recv_events=N chain_ok=N\n"
	       "chain_errors=N ...'. Exit status: 0 ok, %d bad setup, %d link/ARP/handshake failed,\n"
	       "%d a chain error was seen. chain_gaps counts lost events (a sequence jump), apart\n"
	       "from chain errors (a link that does not follow).\n",
	       prog, EXIT_SETUP, EXIT_HANDSHAKE, EXIT_CHAIN);
}

/* ------------------------------------------------------------------ options */

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "netmesh-gen: --%s %s: %s\n", opt, val ? val : "", why);
	return -EINVAL;
}

static int copy_str(char *dst, size_t cap, const char *name, const char *v)
{
	return snprintf(dst, cap, "%s", v) < (int)cap ? 0 : bad(name, v, "too long");
}

static int opt_uint(const char *name, const char *v, unsigned long min, unsigned long max,
		    unsigned long *out)
{
	char why[64];
	if (app_parse_uint(v, min, max, out) == 0)
		return 0;
	snprintf(why, sizeof(why), "expected %lu..%lu", min, max);
	return bad(name, v, why);
}

static int opt_daemon(struct gen_opts *o, const char *v)
{
	if (o->n_daemons == GEN_MAX_DAEMONS)
		return bad("daemon", v, "too many daemons");
	if (app_parse_hex_u64(v, &o->daemons[o->n_daemons]) < 0)
		return bad("daemon", v, "expected an origin_hash in hex");
	o->n_daemons++;
	return 0;
}

/* Addresses, identities, paths; -ENOENT when `name` is none of these. */
static int opt_addresses(struct gen_opts *o, const char *name, const char *v)
{
	if (strcmp(name, "ip") == 0)
		return app_parse_ipv4(v, &o->ip) == 0 ? 0 : bad(name, v, "bad IPv4 address");
	if (strcmp(name, "peer-ip") == 0)
		return app_parse_ipv4(v, &o->peer_ip) == 0 ? 0 : bad(name, v, "bad IPv4 address");
	if (strcmp(name, "peer-mac") == 0) {
		o->has_peer_mac = app_parse_mac(v, &o->peer_mac) == 0;
		return o->has_peer_mac ? 0 : bad(name, v, "bad MAC");
	}
	if (strcmp(name, "peer-node") == 0) {
		o->has_peer_node = app_parse_hex_u64(v, &o->peer_node) == 0;
		return o->has_peer_node ? 0 : bad(name, v, "expected a node_id in hex");
	}
	if (strcmp(name, "peer-static") == 0) {
		o->has_peer_static = app_parse_hex32(v, o->peer_static) == 0;
		return o->has_peer_static ? 0 : bad(name, v, "expected 64 hex digits");
	}
	if (strcmp(name, "port") == 0)
		return copy_str(o->port, sizeof(o->port), name, v);
	if (strcmp(name, "keys") == 0)
		return copy_str(o->keys_dir, sizeof(o->keys_dir), name, v);
	if (strcmp(name, "psk-file") == 0)
		return copy_str(o->psk_file, sizeof(o->psk_file), name, v);
	if (strcmp(name, "daemon") == 0)
		return opt_daemon(o, v);
	return -ENOENT;
}

static int apply_option(struct gen_opts *o, const char *name, const char *v)
{
	unsigned long n;
	int rc = opt_addresses(o, name, v);
	if (rc != -ENOENT)
		return rc;
	if (strcmp(name, "udp-port") == 0 || strcmp(name, "peer-port") == 0) {
		if ((rc = opt_uint(name, v, 1, 65535, &n)) == 0)
			*(name[0] == 'u' ? &o->udp_port : &o->peer_port) = (uint16_t)n;
	} else if (strcmp(name, "mtu") == 0) {
		if ((rc = opt_uint(name, v, 576, 9000, &n)) == 0)
			o->mtu = (uint16_t)n;
	} else if (strcmp(name, "rate") == 0) {
		if ((rc = opt_uint(name, v, 0, 100000000, &n)) == 0)
			o->rate = n;
	} else if (strcmp(name, "event-size") == 0) {
		if ((rc = opt_uint(name, v, 0, GEN_EVENT_MAX, &n)) == 0)
			o->event_size = (uint32_t)n;
	} else if (strcmp(name, "events-per-packet") == 0) {
		if ((rc = opt_uint(name, v, 1, GEN_MAX_EVENTS_PER_PACKET, &n)) == 0)
			o->events_per_packet = (uint32_t)n;
	} else if (strcmp(name, "duration") == 0) {
		if ((rc = opt_uint(name, v, 0, 365UL * 86400, &n)) == 0)
			o->duration = (unsigned)n;
	} else if (strcmp(name, "count") == 0) {
		if ((rc = opt_uint(name, v, 0, ULONG_MAX, &n)) == 0)
			o->count = n;
	} else if (strcmp(name, "stats-period") == 0) {
		if ((rc = opt_uint(name, v, 0, 3600, &n)) == 0)
			o->stats_period = (unsigned)n;
	} else {
		rc = bad(name, v, "unknown option");
	}
	return rc;
}

static int check_required(const struct gen_opts *o)
{
	if (o->help)
		return 0;
	if (o->keys_dir[0] == '\0')
		return bad("keys", "", "is required");
	if (o->show_identity)
		return 0;
	if (o->ip == 0)
		return bad("ip", "", "is required");
	if (o->peer_ip == 0)
		return bad("peer-ip", "", "is required");
	if (!o->has_peer_node)
		return bad("peer-node", "", "is required (the appliance's node_id)");
	if (!o->has_peer_static)
		return bad("peer-static", "", "is required (the appliance's noise_static_pub)");
	if (o->psk_file[0] == '\0')
		return bad("psk-file", "", "is required");
	if (o->n_daemons == 0)
		return bad("daemon", "", "give at least one destination daemon");
	return 0;
}

/* Fills *o (o->help: just print the usage); negative on a bad option. */
static int parse_args(struct gen_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ip", required_argument, NULL, 0 },         { "port", required_argument, NULL, 0 },
		{ "udp-port", required_argument, NULL, 0 },   { "peer-ip", required_argument, NULL, 0 },
		{ "peer-port", required_argument, NULL, 0 },  { "peer-mac", required_argument, NULL, 0 },
		{ "keys", required_argument, NULL, 0 },       { "peer-node", required_argument, NULL, 0 },
		{ "peer-static", required_argument, NULL, 0 }, { "psk-file", required_argument, NULL, 0 },
		{ "daemon", required_argument, NULL, 0 },     { "rate", required_argument, NULL, 0 },
		{ "event-size", required_argument, NULL, 0 }, { "events-per-packet", required_argument, NULL, 0 },
		{ "mtu", required_argument, NULL, 0 },        { "duration", required_argument, NULL, 0 },
		{ "count", required_argument, NULL, 0 },      { "stats-period", required_argument, NULL, 0 },
		{ "show-identity", no_argument, NULL, 'I' },  { "split-keys", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int idx, ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (ch == 'h' || ch == 'I' || ch == 'S') {
			*(ch == 'h' ? &o->help : ch == 'I' ? &o->show_identity : &o->split_keys) = true;
			continue;
		}
		if (ch != 0) {
			usage(argv[0]);
			return -EINVAL;
		}
		if (apply_option(o, opts[idx].name, optarg) < 0)
			return -EINVAL;
	}
	if (optind < argc)
		return bad("", argv[optind], "unexpected argument");
	return check_required(o);
}

/*
 * --help and --show-identity need no port: answer them without EAL. The app
 * options are what follows "--", or everything when there is no "--".
 */
static bool wants_no_eal(int argc, char **argv, int *first)
{
	*first = 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			*first = i + 1;
			break;
		}
	for (int i = *first; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--show-identity") == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ I/O */

struct ctx {
	struct gen_opts o;
	struct nm_port port;
	struct gen *g;
	/* Frames built but not yet taken by the PMD, oldest first. */
	struct rte_mbuf *txq[BURST];
	uint32_t txq_events[BURST];
	uint16_t n_txq;
	uint64_t last_tx_ns;
};


static bool quit(void)
{
	return atomic_load(&app_force_quit);
}

static void tx_flush(struct ctx *c, uint64_t now)
{
	if (c->n_txq == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(c->port.port_id, 0, c->txq, c->n_txq);
	if (sent == 0)
		return;
	c->n_txq -= sent;
	memmove(c->txq, c->txq + sent, c->n_txq * sizeof(c->txq[0]));
	memmove(c->txq_events, c->txq_events + sent, c->n_txq * sizeof(c->txq_events[0]));
	c->last_tx_ns = now;
}

/* Queue a built frame. Events are built only into an empty queue, so only a reply can find it full. */
static void tx_push(struct ctx *c, struct rte_mbuf *m, size_t len, uint32_t events)
{
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (c->n_txq == BURST) { /* a reply to a burst of ARP/ICMP: dropped, counted */
		rte_pktmbuf_free(m);
		gen_tx_unsent(c->g, 0, 0);
		return;
	}
	c->txq[c->n_txq] = m;
	c->txq_events[c->n_txq++] = events;
}

typedef int (*build_fn)(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/* Allocate, build, queue. -ENOBUFS (counted) without an mbuf. */
static int tx_build(struct ctx *c, build_fn build, uint32_t events)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->port.pool);
	size_t len;
	if (m == NULL) {
		c->g->st.drops[NM_DROP_NO_MBUF]++;
		return -ENOBUFS;
	}
	int rc = build(c->g, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &len);
	if (rc < 0) {
		rte_pktmbuf_free(m);
		return rc;
	}
	tx_push(c, m, len, events);
	return 0;
}

/* Receive a burst and answer what needs an answer. Returns the frames received. */
static unsigned rx_poll(struct ctx *c)
{
	struct rte_mbuf *ms[BURST];
	uint16_t n = rte_eth_rx_burst(c->port.port_id, 0, ms, BURST);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		size_t out = 0;
		if (m->nb_segs != 1) {
			c->g->st.drops[NM_DROP_RX_MULTISEG]++;
			rte_pktmbuf_free(m);
			continue;
		}
		enum gen_rx_result r = gen_rx(c->g, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &out);
		if (r == GEN_RX_REPLY)
			tx_push(c, m, out, 0);
		else
			rte_pktmbuf_free(m);
	}
	return n;
}

/* ------------------------------------------------------------------ setup */

static int find_port(const char *name, uint16_t *pid)
{
	if (name[0] != '\0')
		return rte_eth_dev_get_port_by_name(name, pid) == 0 ? 0 : -ENODEV;
	RTE_ETH_FOREACH_DEV(*pid) {
		return 0; /* the first one */
	}
	return -ENODEV;
}

static int port_up(struct ctx *c)
{
	struct nm_error err = { 0 };
	struct nm_port_config pc = { .n_queues = 1, .mtu = c->o.mtu };
	if (find_port(c->o.port, &pc.port_id) < 0) {
		fprintf(stderr, "netmesh-gen: no ethdev %s: give EAL a device (--vdev or -a)\n",
			c->o.port);
		return -ENODEV;
	}
	if (nm_port_init(&c->port, &pc, &err) < 0) {
		fprintf(stderr, "netmesh-gen: %s\n", err.msg);
		return err.code;
	}
	return 0;
}

static int wait_link(const struct ctx *c)
{
	const uint64_t deadline = nm_mono_ns() + LINK_TIMEOUT_MS * NS_PER_MS;
	struct rte_eth_link link;
	while (!quit() && nm_mono_ns() < deadline) {
		if (rte_eth_link_get_nowait(c->port.port_id, &link) == 0 && link.link_status)
			return 0;
		app_sleep_ms(10);
	}
	fprintf(stderr, "netmesh-gen: port %u: link still down after %u ms (is the peer up?)\n",
		c->port.port_id, LINK_TIMEOUT_MS);
	return -ENETDOWN;
}

static int gen_setup(struct ctx *c, struct gen_config *gc)
{
	struct nm_keys keys;
	int rc = app_load_keys(c->o.keys_dir, &keys);
	if (rc < 0)
		return rc;
	*gc = (struct gen_config){
		.self = { .mac = c->port.mac, .ip = c->o.ip, .port = c->o.udp_port },
		.peer = { .mac = c->o.peer_mac, .ip = c->o.peer_ip, .port = c->o.peer_port },
		.peer_mac_known = c->o.has_peer_mac,
		.node_id = keys.identity.node_id,
		.origin_hash = keys.identity.origin_hash,
		.peer_node_id = c->o.peer_node,
		.n_daemons = c->o.n_daemons,
		.event_size = c->o.event_size,
		.events_per_packet = c->o.events_per_packet,
		.mtu = c->o.mtu,
		.use_split = c->o.split_keys,
	};
	nm_keys_wipe(&keys);
	memcpy(gc->peer_static, c->o.peer_static, sizeof(gc->peer_static));
	memcpy(gc->daemons, c->o.daemons, sizeof(gc->daemons));
	if ((rc = app_read_key32(c->o.psk_file, gc->psk)) < 0)
		return rc;
	c->g = calloc(1, sizeof(*c->g));
	if (c->g == NULL)
		return -ENOMEM;
	struct nm_error err = { 0 };
	rc = gen_init(c->g, gc, &err);
	if (rc < 0)
		fprintf(stderr, "netmesh-gen: %s\n", err.msg);
	if (rc == 0 && c->g->per_packet < c->o.events_per_packet)
		printf("gen: %u events per packet (the most that fit at MTU %u)\n", c->g->per_packet,
		       c->o.mtu);
	return rc;
}

/* ------------------------------------------------------------------ connect */

/* Send `build`'s frame on the retry schedule until the state leaves `from`. */
static int retry_until(struct ctx *c, enum gen_state from, build_fn build, const char *what)
{
	struct gen_retry r;
	uint64_t sent_at = 0;
	gen_retry_start(&r, nm_mono_ns(), GEN_HS_ATTEMPTS, GEN_HS_WAIT_MS, GEN_HS_BACKOFF_MS,
			GEN_HS_TIMEOUT_MS);
	while (c->g->state == from) {
		if (quit())
			return -EINTR;
		uint64_t now = nm_mono_ns();
		switch (gen_retry_poll(&r, now)) {
		case GEN_RETRY_SEND:
			if (tx_build(c, build, 0) == 0)
				sent_at = now;
			break;
		case GEN_RETRY_FAIL:
			fprintf(stderr, "netmesh-gen: %s: no answer after %u attempt(s) in %u ms%s\n",
				what, r.attempts, GEN_HS_TIMEOUT_MS,
				from == GEN_HANDSHAKING ? " (check --peer-node, --peer-static and the PSK, "
				"and that the appliance has --peer for our address and node_id)" : "");
			return -ETIMEDOUT;
		default:
			break;
		}
		tx_flush(c, now);
		rx_poll(c);
		rte_delay_us_sleep(100);
	}
	if (c->g->state == GEN_ESTABLISHED)
		printf("gen: session %016" PRIx64 " up after %u attempt(s), handshake rtt %" PRIu64
		       " us\n", c->g->session_id, r.attempts, (nm_mono_ns() - sent_at) / 1000);
	return 0;
}

static int connect_peer(struct ctx *c)
{
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	int rc;
	if (c->g->state == GEN_RESOLVING) {
		if ((rc = retry_until(c, GEN_RESOLVING, gen_arp_request, "ARP for the peer")) < 0)
			return rc;
		rte_ether_format_addr(mac, sizeof(mac), &c->g->cfg.peer.mac);
		printf("gen: peer is at %s\n", mac);
	}
	return retry_until(c, GEN_HANDSHAKING, gen_hs_msg1, "handshake");
}

/* ------------------------------------------------------------------ traffic */

struct run {
	uint64_t start_ns, end_ns;   /* end 0: no duration limit */
	uint64_t next_stats_ns;
	struct gen_stats last;       /* at the previous stats line */
	uint64_t last_ns;
};

/* How many packets may be built now: the rate, the count, the queue. */
static uint64_t tx_allowed(const struct ctx *c, const struct run *r, uint64_t now)
{
	const struct gen_stats *st = &c->g->st;
	uint64_t room = c->n_txq == 0 ? BURST : 0; /* build only once the PMD took the last burst */
	if (c->o.count != 0)
		room = RTE_MIN(room, c->o.count - RTE_MIN(c->o.count, st->tx_packets));
	if (c->o.rate != 0) {
		double due = (double)(now - r->start_ns) * (double)c->o.rate / (double)NS_PER_S;
		uint64_t want = (uint64_t)due > st->tx_packets ? (uint64_t)due - st->tx_packets : 0;
		room = RTE_MIN(room, want);
	}
	return room;
}

static void print_period(struct ctx *c, struct run *r, uint64_t now)
{
	const struct gen_stats *st = &c->g->st;
	double dt = (double)(now - r->last_ns) / NS_PER_S;
	printf("gen: t=%.0fs tx_pps=%.0f rx_eps=%.0f sent_events=%" PRIu64 " recv_events=%" PRIu64
	       " chain_ok=%" PRIu64 " chain_errors=%" PRIu64 " chain_gaps=%" PRIu64
	       " drops=%" PRIu64 "\n",
	       (double)(now - r->start_ns) / NS_PER_S, (st->tx_packets - r->last.tx_packets) / dt,
	       (st->rx_events - r->last.rx_events) / dt, st->tx_events, st->rx_events, st->chain_ok,
	       st->chain_errors, st->chain_gaps, gen_drops_total(st));
	fflush(stdout);
	r->last = *st;
	r->last_ns = now;
}

static bool done_sending(const struct ctx *c, const struct run *r, uint64_t now)
{
	return quit() || (r->end_ns != 0 && now >= r->end_ns) ||
	       (c->o.count != 0 && c->g->st.tx_packets >= c->o.count);
}

static void tick(struct ctx *c, struct run *r, uint64_t now)
{
	if (c->o.stats_period != 0 && now >= r->next_stats_ns) {
		print_period(c, r, now);
		r->next_stats_ns += (uint64_t)c->o.stats_period * NS_PER_S;
	}
	/* Keep the session alive while the rate leaves us idle. */
	if (c->n_txq == 0 && now >= c->last_tx_ns + HEARTBEAT_IDLE_MS * NS_PER_MS)
		tx_build(c, gen_build_heartbeat, 0);
}

static void send_loop(struct ctx *c, struct run *r)
{
	const uint32_t per = c->g->per_packet;
	for (;;) {
		uint64_t now = nm_mono_ns();
		if (done_sending(c, r, now))
			break;
		for (uint64_t k = tx_allowed(c, r, now); k > 0; k--)
			if (tx_build(c, gen_build_events, per) < 0)
				break;
		tx_flush(c, now);
		rx_poll(c);
		tick(c, r, now);
	}
}

/* Collect the replies still in flight: until quiet, bounded. */
static void drain(struct ctx *c)
{
	const uint64_t start = nm_mono_ns();
	uint64_t last_rx = start;
	for (;;) {
		uint64_t now = nm_mono_ns();
		tx_flush(c, now);
		unsigned n = rx_poll(c);
		if (n > 0)
			last_rx = now;
		if (now - last_rx >= DRAIN_QUIET_MS * NS_PER_MS || now - start >= DRAIN_MAX_MS * NS_PER_MS)
			break;
		if (n == 0)
			rte_delay_us_sleep(100);
	}
	/* What the PMD never took is not sent. */
	for (uint16_t i = 0; i < c->n_txq; i++) {
		gen_tx_unsent(c->g, c->txq_events[i], c->txq[i]->pkt_len);
		rte_pktmbuf_free(c->txq[i]);
	}
	c->n_txq = 0;
}

/* ------------------------------------------------------------------ report */

static void print_summary(const struct ctx *c, double secs)
{
	const struct gen *g = c->g;
	const struct gen_stats *st = &g->st;
	for (unsigned i = 0; i < g->n_checks; i++) {
		const struct gen_chain_check *k = &g->checks[i];
		printf("gen: daemon %016" PRIx64 " events=%" PRIu64 " chain_ok=%" PRIu64
		       " chain_errors=%" PRIu64 " chain_gaps=%" PRIu64 " lost=%" PRIu64
		       " first_seq=%" PRIu64 " first_parent=%016" PRIx64 " last_seq=%" PRIu64
		       " next_parent=%016" PRIx64 "\n",
		       k->origin, k->events, k->ok, k->errors, k->gaps, k->lost, k->first_seq,
		       k->first_parent, k->prev.sequence,
		       nm_parent_hash(&k->prev, k->prev_payload, k->prev_len));
	}
	for (unsigned d = 1; d < NM_DROP__COUNT; d++)
		if (st->drops[d] != 0)
			printf("gen: drop %s=%" PRIu64 "\n", nm_drop_name((enum nm_drop)d), st->drops[d]);
	if (st->chain_errors != 0)
		printf("gen: last chain error: %s\n", g->last_chain_error);
	printf("gen: sent_events=%" PRIu64 " recv_events=%" PRIu64 " chain_ok=%" PRIu64
	       " chain_errors=%" PRIu64 " chain_gaps=%" PRIu64 " lost_events=%" PRIu64
	       " sent_packets=%" PRIu64 " recv_packets=%" PRIu64 " drops=%" PRIu64
	       " heartbeats_sent=%" PRIu64 " heartbeats_recv=%" PRIu64 " daemons=%u"
	       " events_per_packet=%u event_size=%u seconds=%.3f tx_pps=%.0f rx_eps=%.0f"
	       " established=%d\n",
	       st->tx_events, st->rx_events, st->chain_ok, st->chain_errors, st->chain_gaps,
	       st->lost_events, st->tx_packets, st->rx_packets, gen_drops_total(st),
	       st->tx_heartbeats, st->rx_heartbeats, g->n_checks, g->per_packet, g->cfg.event_size,
	       secs, secs > 0 ? st->tx_packets / secs : 0, secs > 0 ? st->rx_events / secs : 0,
	       g->state == GEN_ESTABLISHED);
	fflush(stdout);
}

static int run_traffic(struct ctx *c)
{
	struct run r = { .start_ns = nm_mono_ns() };
	r.last_ns = r.start_ns;
	r.end_ns = c->o.duration ? r.start_ns + (uint64_t)c->o.duration * NS_PER_S : 0;
	r.next_stats_ns = r.start_ns + (uint64_t)c->o.stats_period * NS_PER_S;
	c->last_tx_ns = r.start_ns;
	printf("gen: sending to %u daemon(s), %u event(s) of %u bytes per packet, rate %s\n",
	       c->o.n_daemons, c->g->per_packet, c->g->cfg.event_size,
	       c->o.rate ? "limited" : "unlimited");
	fflush(stdout);
	send_loop(c, &r);
	const uint64_t sent_done = nm_mono_ns();
	drain(c);
	print_summary(c, (double)(sent_done - r.start_ns) / NS_PER_S);
	return c->g->st.chain_errors == 0 ? 0 : EXIT_CHAIN;
}

/* ------------------------------------------------------------------ main */

static void opts_defaults(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->udp_port = NM_NET_DEFAULT_PORT;
	o->peer_port = NM_NET_DEFAULT_PORT;
	o->mtu = 1500;
	o->event_size = 64;
	o->events_per_packet = 1;
	o->stats_period = 1;
}

/* --help / --show-identity, before (and without) EAL. */
static int run_without_eal(int argc, char **argv, int first)
{
	struct gen_opts o;
	opts_defaults(&o);
	argv[first - 1] = argv[0];
	if (parse_args(&o, argc - first + 1, argv + first - 1) < 0)
		return EXIT_SETUP;
	if (o.help) {
		usage(argv[0]);
		return EXIT_SUCCESS;
	}
	return app_show_identity(o.keys_dir) == 0 ? EXIT_SUCCESS : EXIT_SETUP;
}

static int run(struct ctx *c)
{
	struct gen_config gc;
	memset(&gc, 0, sizeof(gc));
	int rc = port_up(c);
	if (rc == 0)
		rc = gen_setup(c, &gc);
	sodium_memzero(gc.psk, sizeof(gc.psk)); /* gen_init kept its own copy */
	if (rc < 0)
		return EXIT_SETUP;
	if (wait_link(c) < 0 || connect_peer(c) < 0) {
		print_summary(c, 0);
		return EXIT_HANDSHAKE;
	}
	return run_traffic(c);
}

/* What the command line asks for; returns the exit status. */
static int run_command(struct ctx *c, int argc, char **argv)
{
	opts_defaults(&c->o);
	if (parse_args(&c->o, argc, argv) < 0)
		return EXIT_SETUP;
	if (c->o.help) {
		usage(argv[0]);
		return EXIT_SUCCESS;
	}
	if (c->o.show_identity)
		return app_show_identity(c->o.keys_dir) == 0 ? EXIT_SUCCESS : EXIT_SETUP;
	return run(c);
}

int main(int argc, char **argv)
{
	int first;
	if (wants_no_eal(argc, argv, &first))
		return run_without_eal(argc, argv, first);
	int used = rte_eal_init(argc, argv);
	if (used < 0)
		rte_exit(EXIT_SETUP, "EAL init failed: %s\n", rte_strerror(rte_errno));
	argc -= used;
	argv += used;
	app_signals_init(argv[0]);

	static struct ctx c;
	int status = run_command(&c, argc, argv);
	if (c.g != NULL) {
		gen_fini(c.g);
		free(c.g);
	}
	nm_port_fini(&c.port);
	int crc = rte_eal_cleanup();
	if (crc < 0)
		fprintf(stderr, "netmesh-gen: EAL cleanup failed: %s\n", rte_strerror(-crc));
	return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * netmesh_gen.c - the traffic generator: netmesh-gen [EAL args] -- [options]
 *
 * A single-process Net node on one DPDK port, run on the main lcore: it
 * resolves the appliances by ARP, handshakes with each as initiator, sends
 * sealed causal-event packets to the given daemons at a rate (each to its
 * current appliance, following Moved redirects), and checks every reply's
 * chain, duplicates, losses and round trips (app/gen_core.h does the node
 * logic; this file moves mbufs, keeps time and prints). SIGINT/SIGTERM stop
 * it; a second signal exits.
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
#include "app_ops.h"
#include "nm_time.h"
#include "gen_core.h"
#include "nm_keys.h"
#include "nm_port.h"

#define BURST 32
#define LINK_TIMEOUT_MS 5000
#define IDLE_POLLS 256      /* idle loop iterations before --idle-sleep-us applies */
#define HEARTBEAT_IDLE_MS 1000
#define NS_PER_MS 1000000ULL

/* Exit statuses (documented in --help). */
#define EXIT_SETUP 1
#define EXIT_HANDSHAKE 2
#define EXIT_CHAIN 3

struct gen_opts {
	char port[RTE_ETH_NAME_MAX_LEN];
	uint32_t ip;
	uint16_t udp_port, mtu;
	bool has_peer_node, has_peer_static, show_identity, help, split_keys;
	bool reflect; /* the peer is a plain forwarder: our own packets come back (io baseline) */
	/* peers[0] from --peer-*, the rest from --also-peer */
	struct gen_peer_config peers[GEN_MAX_PEERS];
	unsigned n_peers;
	char keys_dir[256], psk_file[256];
	uint64_t daemons[GEN_MAX_DAEMONS];
	bool daemon_any[GEN_MAX_DAEMONS];
	unsigned n_daemons;
	uint64_t rate, count;
	uint32_t event_size, events_per_packet, idle_sleep_us;
	uint32_t session_timeout_ms;
	uint32_t drain_quiet_ms; /* the end's drain gives up after this long without a reply */
	unsigned duration, stats_period, warmup;
	char series_file[256];  /* --rtt-series: round trips by send time, written at the end */
	uint32_t series_slot_us;
};

static void usage(const char *prog)
{
	printf("usage: %s [EAL args] -- [options]\n"
	       "  --ip A.B.C.D            our IPv4 address (required)\n"
	       "  --port NAME             ethdev to use (default: the first port)\n"
	       "  --udp-port N            our UDP port (default 7777)\n"
	       "  --peer-ip A.B.C.D       the (first) appliance's address (required)\n"
	       "  --peer-port N           its UDP port (default 7777)\n"
	       "  --peer-mac MAC          its MAC (default: resolved by ARP)\n"
	       "  --keys DIR              our key directory, created on first use (required)\n"
	       "  --peer-node HEX         the appliance's node_id (required; netmesh --show-identity)\n"
	       "  --peer-static HEX       its noise_static_pub, 64 hex digits (required)\n"
	       "  --also-peer IP[:PORT],node=HEX,static=HEX[,mac=MAC]\n"
	       "                          one more appliance (repeatable, up to %d in all): a\n"
	       "                          session with each; daemons move to it on a Moved\n"
	       "  --psk-file FILE         mesh PSK: 32 raw bytes or 64 hex digits (required)\n"
	       "  --daemon HEX[,any]      destination daemon origin_hash (repeatable, round-robin;\n"
	       "                          starts on the first appliance). It must answer each event\n"
	       "                          with one output (echo, counter) unless marked any (a sink,\n"
	       "                          a fan-out: chain-checked, not in lost/duplicate accounting)\n"
	       "  --rate PPS              packets per second (0: as fast as possible; default 0)\n"
	       "  --event-size BYTES      event payload size (default 64)\n"
	       "  --events-per-packet N   events per packet, capped by the MTU (default 1)\n"
	       "  --mtu N                 IP MTU (default 1500)\n"
	       "  --duration SEC          stop after SEC seconds (0: until Ctrl-C; default 0)\n"
	       "  --count N               stop after N packets (0: no limit; default 0)\n"
	       "  --stats-period SEC      a stats line every SEC seconds (0: off; default 1)\n"
	       "  --split-keys            session keys from Noise Split(), as the appliance's option\n"
	       "  --idle-sleep-us N       sleep N us when idle (default 0: busy-poll): at a --rate,\n"
	       "                          whenever we are ahead of it and nothing arrived (the\n"
	       "                          packets due on waking go in one burst; a reply that came\n"
	       "                          meanwhile is timed up to N us late); else after %d\n"
	       "                          idle loops\n"
	       "  --session-timeout-ms N  a session that heard nothing authenticated for N ms is\n"
	       "                          dead: handshake again, in rounds, until one succeeds\n"
	       "                          (default %u: three of the appliance's heartbeats; 0: never)\n"
	       "  --drain-quiet-ms N      after sending, collect replies until all are in or none came\n"
	       "                          for N ms (default %u; at most %u ms, or 2 N if longer)\n"
	       "  --warmup SEC            round trips only of events sent after the first SEC\n"
	       "                          seconds (rtt_*: the measured window; default 0: all)\n"
	       "  --reflect               the io baseline: the peer is a plain forwarder that sends\n"
	       "                          our frames back with Ethernet/IPv4/UDP addresses swapped\n"
	       "                          (dpdk-testpmd --forward-mode=5tswap). No handshake: one\n"
	       "                          random key both ways, events to our own chain, each\n"
	       "                          reflected event an echo. Needs --peer-mac; no --peer-node,\n"
	       "                          --peer-static, --psk-file, --daemon, --also-peer\n"
	       "  --rtt-series FILE       at the end, write round trips by send time to FILE: per\n"
	       "                          slot of --rtt-series-us with answered events, a line\n"
	       "                          'SLOT_START_NS SLOT_NS SAMPLES MAX_RTT_NS' (CLOCK_MONOTONIC)\n"
	       "  --rtt-series-us N       the slot, microseconds (default 1000; at most %u slots\n"
	       "                          in --duration)\n"
	       "  --show-identity         print node_id, entity_id, noise_static_pub of --keys and exit\n"
	       "  --help                  this text\n"
	       "The last line is machine-readable: 'gen: sent_events=N recv_events=N chain_ok=N\n"
	       "chain_errors=N ...' (README: The traffic generator, for every key). Exit status:\n"
	       "0 ok, %d bad setup (or the series not written), %d link/ARP/handshake failed,\n"
	       "%d a chain error was seen.\n"
	       "chain_errors: a link that does not follow; chain_gaps: sequence jumps (missing\n"
	       "outputs); lost_events: events never answered (one-output daemons) or outputs\n"
	       "missing in gaps; duplicate_events: answers to an event already answered;\n"
	       "redirects: Moved that re-pointed a daemon; rtt_*_ns: event round trips.\n",
	       prog, GEN_MAX_PEERS, IDLE_POLLS, GEN_SESSION_TIMEOUT_MS, GEN_DRAIN_QUIET_MS, GEN_DRAIN_MAX_MS,
	       GEN_SERIES_SLOTS, EXIT_SETUP,
	       EXIT_HANDSHAKE, EXIT_CHAIN);
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
	char buf[64];
	if (o->n_daemons == GEN_MAX_DAEMONS)
		return bad("daemon", v, "too many daemons");
	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return bad("daemon", v, "too long");
	char *comma = strchr(buf, ',');
	if (comma != NULL) {
		*comma = '\0';
		if (strcmp(comma + 1, "any") != 0)
			return bad("daemon", v, "the only attribute is ,any");
		o->daemon_any[o->n_daemons] = true;
	}
	if (app_parse_hex_u64(buf, &o->daemons[o->n_daemons]) < 0)
		return bad("daemon", v, "expected an origin_hash in hex");
	o->n_daemons++;
	return 0;
}

/* "node=HEX", "static=HEX", "mac=MAC" of --also-peer. */
static int also_peer_attr(struct gen_peer_config *p, const char *t, const char *v, bool *node,
			  bool *stat)
{
	if (strncmp(t, "node=", 5) == 0) {
		*node = app_parse_hex_u64(t + 5, &p->node_id) == 0;
		return *node ? 0 : bad("also-peer", v, "node= wants the node_id in hex");
	}
	if (strncmp(t, "static=", 7) == 0) {
		*stat = app_parse_hex32(t + 7, p->static_pub) == 0;
		return *stat ? 0 : bad("also-peer", v, "static= wants 64 hex digits");
	}
	if (strncmp(t, "mac=", 4) == 0) {
		p->mac_known = app_parse_mac(t + 4, &p->ep.mac) == 0;
		return p->mac_known ? 0 : bad("also-peer", v, "bad MAC");
	}
	return bad("also-peer", v, "unknown attribute (node=, static=, mac=)");
}

/* IP[:PORT],node=HEX,static=HEX[,mac=MAC] */
static int opt_also_peer(struct gen_opts *o, const char *v)
{
	char buf[256], *save;
	unsigned long port = NM_NET_DEFAULT_PORT;
	bool node = false, stat = false;
	if (o->n_peers == GEN_MAX_PEERS)
		return bad("also-peer", v, "too many appliances");
	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return bad("also-peer", v, "too long");
	struct gen_peer_config *p = &o->peers[o->n_peers];
	memset(p, 0, sizeof(*p));
	char *addr = strtok_r(buf, ",", &save);
	char *colon = addr != NULL ? strchr(addr, ':') : NULL;
	if (colon != NULL) {
		*colon = '\0';
		if (app_parse_uint(colon + 1, 1, 65535, &port) < 0)
			return bad("also-peer", v, "bad UDP port");
	}
	if (addr == NULL || app_parse_ipv4(addr, &p->ep.ip) < 0)
		return bad("also-peer", v, "expected IP[:PORT] first");
	p->ep.port = (uint16_t)port;
	for (char *t = strtok_r(NULL, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		if (also_peer_attr(p, t, v, &node, &stat) < 0)
			return -EINVAL;
	if (!node || !stat)
		return bad("also-peer", v, "node=HEX and static=HEX are required");
	o->n_peers++;
	return 0;
}

/* Addresses, identities, paths; -ENOENT when `name` is none of these. */
static int opt_addresses(struct gen_opts *o, const char *name, const char *v)
{
	if (strcmp(name, "ip") == 0)
		return app_parse_ipv4(v, &o->ip) == 0 ? 0 : bad(name, v, "bad IPv4 address");
	struct gen_peer_config *first = &o->peers[0];
	if (strcmp(name, "peer-ip") == 0)
		return app_parse_ipv4(v, &first->ep.ip) == 0 ? 0 : bad(name, v, "bad IPv4 address");
	if (strcmp(name, "peer-mac") == 0) {
		first->mac_known = app_parse_mac(v, &first->ep.mac) == 0;
		return first->mac_known ? 0 : bad(name, v, "bad MAC");
	}
	if (strcmp(name, "peer-node") == 0) {
		o->has_peer_node = app_parse_hex_u64(v, &first->node_id) == 0;
		return o->has_peer_node ? 0 : bad(name, v, "expected a node_id in hex");
	}
	if (strcmp(name, "peer-static") == 0) {
		o->has_peer_static = app_parse_hex32(v, first->static_pub) == 0;
		return o->has_peer_static ? 0 : bad(name, v, "expected 64 hex digits");
	}
	if (strcmp(name, "also-peer") == 0)
		return opt_also_peer(o, v);
	if (strcmp(name, "port") == 0)
		return copy_str(o->port, sizeof(o->port), name, v);
	if (strcmp(name, "keys") == 0)
		return copy_str(o->keys_dir, sizeof(o->keys_dir), name, v);
	if (strcmp(name, "psk-file") == 0)
		return copy_str(o->psk_file, sizeof(o->psk_file), name, v);
	if (strcmp(name, "daemon") == 0)
		return opt_daemon(o, v);
	if (strcmp(name, "rtt-series") == 0)
		return copy_str(o->series_file, sizeof(o->series_file), name, v);
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
			*(name[0] == 'u' ? &o->udp_port : &o->peers[0].ep.port) = (uint16_t)n;
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
	} else if (strcmp(name, "warmup") == 0) {
		if ((rc = opt_uint(name, v, 0, 3600, &n)) == 0)
			o->warmup = (unsigned)n;
	} else if (strcmp(name, "idle-sleep-us") == 0) {
		if ((rc = opt_uint(name, v, 0, 100000, &n)) == 0)
			o->idle_sleep_us = (uint32_t)n;
	} else if (strcmp(name, "session-timeout-ms") == 0) {
		if ((rc = opt_uint(name, v, 0, 3600000, &n)) == 0)
			o->session_timeout_ms = (uint32_t)n;
	} else if (strcmp(name, "drain-quiet-ms") == 0) {
		if ((rc = opt_uint(name, v, 1, 600000, &n)) == 0)
			o->drain_quiet_ms = (uint32_t)n;
	} else if (strcmp(name, "rtt-series-us") == 0) {
		if ((rc = opt_uint(name, v, 1, 1000000, &n)) == 0)
			o->series_slot_us = (uint32_t)n;
	} else {
		rc = bad(name, v, "unknown option");
	}
	return rc;
}

/* --reflect: a forwarder has no identity or daemons, and must be reached by MAC (no ARP). */
static int check_reflect(const struct gen_opts *o)
{
	if (!o->peers[0].mac_known)
		return bad("reflect", "", "needs --peer-mac (a forwarder answers no ARP)");
	if (o->has_peer_node || o->has_peer_static || o->psk_file[0] != '\0' || o->n_daemons != 0 ||
	    o->n_peers != 1)
		return bad("reflect", "", "takes no --peer-node, --peer-static, --psk-file, --daemon "
			   "or --also-peer (it sends to our own chain on a key of its own)");
	return 0;
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
	if (o->peers[0].ep.ip == 0)
		return bad("peer-ip", "", "is required");
	if (o->duration != 0 && o->warmup >= o->duration)
		return bad("warmup", "", "must be shorter than --duration");
	if (o->reflect)
		return check_reflect(o);
	if (!o->has_peer_node)
		return bad("peer-node", "", "is required (the appliance's node_id)");
	if (!o->has_peer_static)
		return bad("peer-static", "", "is required (the appliance's noise_static_pub)");
	if (o->psk_file[0] == '\0')
		return bad("psk-file", "", "is required");
	if (o->n_daemons == 0)
		return bad("daemon", "", "give at least one destination daemon");
	if (o->series_file[0] != '\0' &&
	    (uint64_t)o->duration * 1000000 / o->series_slot_us >= GEN_SERIES_SLOTS)
		return bad("rtt-series-us", "", "too short a slot for --duration (too many slots)");
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
		{ "also-peer", required_argument, NULL, 0 },  { "idle-sleep-us", required_argument, NULL, 0 },
		{ "session-timeout-ms", required_argument, NULL, 0 },
		{ "drain-quiet-ms", required_argument, NULL, 0 },
		{ "warmup", required_argument, NULL, 0 },
		{ "rtt-series", required_argument, NULL, 0 }, { "rtt-series-us", required_argument, NULL, 0 },
		{ "show-identity", no_argument, NULL, 'I' },  { "split-keys", no_argument, NULL, 'S' },
		{ "reflect", no_argument, NULL, 'R' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int idx, ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (ch == 'h' || ch == 'I' || ch == 'S' || ch == 'R') {
			*(ch == 'h' ? &o->help : ch == 'I' ? &o->show_identity :
			  ch == 'S' ? &o->split_keys : &o->reflect) = true;
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

/*
 * One appliance's ARP and handshake schedule: one round of retries at the
 * start (all must come up), rounds without end for a re-handshake (forever).
 */
struct conn {
	enum gen_state phase; /* the state the schedule below is for */
	struct gen_rounds s;
	bool forever;
	uint64_t sent_at;
};

struct ctx {
	struct gen_opts o;
	struct nm_port port;
	struct gen *g;
	/* Frames built but not yet taken by the PMD, oldest first. */
	struct rte_mbuf *txq[BURST];
	uint16_t n_txq;
	uint64_t peer_tx_ns[GEN_MAX_PEERS]; /* last frame built for each peer (heartbeats) */
	struct conn rehs[GEN_MAX_PEERS];    /* re-handshakes of dead sessions (forever = active) */
	unsigned n_rehs;                    /* active ones */
	uint64_t resume_shown[GEN_MAX_DAEMONS]; /* per chain check: the resume_epoch printed */
	FILE *series; /* --rtt-series, opened before any traffic */
};

static bool quit(void)
{
	return atomic_load(&app_force_quit);
}

/*
 * Poll the port only while its link is up: a memif peer that leaves has its
 * rings unmapped under a poller in DPDK 22.11 (a crash); the PMD's flag is
 * cheap to read. What waits in txq is counted unsent if it never leaves.
 */
static bool link_up(const struct ctx *c)
{
	struct rte_eth_link link;
	return rte_eth_link_get_nowait(c->port.port_id, &link) == 0 && link.link_status;
}

static void tx_flush(struct ctx *c)
{
	if (c->n_txq == 0 || !link_up(c))
		return;
	uint16_t sent = rte_eth_tx_burst(c->port.port_id, 0, c->txq, c->n_txq);
	if (sent == 0)
		return;
	c->n_txq -= sent;
	memmove(c->txq, c->txq + sent, c->n_txq * sizeof(c->txq[0]));
}

/* Queue a built frame. Events are built only into an empty queue, so only a reply can find it full. */
static void tx_push(struct ctx *c, struct rte_mbuf *m, size_t len)
{
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (c->n_txq == BURST) { /* a reply to a burst of ARP/ICMP: dropped, counted */
		gen_tx_unsent(c->g, rte_pktmbuf_mtod(m, uint8_t *), len);
		rte_pktmbuf_free(m);
		return;
	}
	c->txq[c->n_txq++] = m;
}

enum tx_kind { TX_ARP, TX_MSG1, TX_HEARTBEAT, TX_EVENTS };

static int build(struct gen *g, enum tx_kind k, unsigned peer, uint8_t *f, size_t cap, size_t *len)
{
	switch (k) {
	case TX_ARP:
		return gen_arp_request(g, peer, f, cap, len);
	case TX_MSG1:
		return gen_hs_msg1(g, peer, f, cap, len);
	case TX_HEARTBEAT:
		return gen_build_heartbeat(g, peer, f, cap, len);
	default:
		return gen_build_events(g, f, cap, len);
	}
}

/* Allocate, build, queue (events: to the next daemon's peer). -ENOBUFS (counted) without an mbuf. */
static int tx_build(struct ctx *c, enum tx_kind k, unsigned peer, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->port.pool);
	size_t len;
	if (m == NULL) {
		c->g->st.drops[NM_DROP_NO_MBUF]++;
		return -ENOBUFS;
	}
	if (k == TX_EVENTS)
		peer = gen_next_peer(c->g);
	gen_set_now(c->g, now);
	int rc = build(c->g, k, peer, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &len);
	if (rc < 0) {
		rte_pktmbuf_free(m);
		return rc;
	}
	c->peer_tx_ns[peer] = now;
	tx_push(c, m, len);
	return 0;
}

/* Receive a burst and answer what needs an answer. Returns the frames received. */
static unsigned rx_poll(struct ctx *c)
{
	struct rte_mbuf *ms[BURST];
	if (!link_up(c))
		return 0;
	uint16_t n = rte_eth_rx_burst(c->port.port_id, 0, ms, BURST);
	if (n > 0)
		gen_set_now(c->g, nm_mono_ns()); /* the round trips end here */
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
			tx_push(c, m, out);
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
	while (!quit() && nm_mono_ns() < deadline) {
		if (link_up(c))
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
		.n_peers = c->o.n_peers,
		.node_id = keys.identity.node_id,
		.origin_hash = keys.identity.origin_hash,
		.n_daemons = c->o.n_daemons,
		.event_size = c->o.event_size,
		.events_per_packet = c->o.events_per_packet,
		.mtu = c->o.mtu,
		.use_split = c->o.split_keys,
		.session_timeout_ms = c->o.session_timeout_ms,
	};
	nm_keys_wipe(&keys);
	memcpy(gc->peers, c->o.peers, sizeof(gc->peers));
	memcpy(gc->daemons, c->o.daemons, sizeof(gc->daemons));
	memcpy(gc->daemon_any, c->o.daemon_any, sizeof(gc->daemon_any));
	if (c->o.reflect) { /* our own chain comes back: the one destination */
		gc->daemons[0] = gc->origin_hash;
		gc->n_daemons = 1;
		gc->session_timeout_ms = 0; /* a forwarder sends no heartbeats of its own */
	} else if ((rc = app_read_key32(c->o.psk_file, gc->psk)) < 0) {
		return rc;
	}
	c->g = calloc(1, sizeof(*c->g));
	if (c->g == NULL)
		return -ENOMEM;
	if ((rc = nm_aead_lib_init()) < 0) /* the packet AEAD backend (NM_AEAD forces one) */
		return rc;
	printf("gen: aead %s (%s)\n", nm_aead_backend_name(), nm_aead_arch_name());
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

static void conn_report(const struct ctx *c, unsigned i, const struct conn *k, uint64_t now)
{
	const struct gen_peer *p = &c->g->peers[i];
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	if (k->phase == GEN_RESOLVING) {
		rte_ether_format_addr(mac, sizeof(mac), &p->cfg.ep.mac);
		printf("gen: peer %u is at %s\n", i, mac);
	} else {
		printf("gen: peer %u node %016" PRIx64 " session %016" PRIx64 " up after %u attempt(s),"
		       " handshake rtt %" PRIu64 " us\n", i, p->cfg.node_id, p->session_id,
		       k->s.r.attempts, (now - k->sent_at) / 1000);
	}
}

static void conn_fail_report(const struct ctx *c, unsigned i, const struct conn *k)
{
	fprintf(stderr, "netmesh-gen: peer %u (node %016" PRIx64 "): %s: no answer after %u "
		"attempt(s) in %u ms%s\n", i, c->g->peers[i].cfg.node_id,
		k->phase == GEN_RESOLVING ? "ARP" : "handshake", k->s.r.attempts, GEN_HS_TIMEOUT_MS,
		k->phase == GEN_HANDSHAKING ? " (check its node id, static key and the PSK, and that "
		"the appliance has --peer for our address and node_id)" : "");
}

/* Advance peer i's schedule; -ETIMEDOUT when a one-round schedule gave up. */
static int conn_step(struct ctx *c, unsigned i, struct conn *k, uint64_t now)
{
	const struct gen_peer *p = &c->g->peers[i];
	if (p->state != k->phase) {
		conn_report(c, i, k, now);
		k->phase = p->state;
		gen_rounds_start(&k->s, now);
	}
	if (k->phase == GEN_ESTABLISHED)
		return 0;
	switch (k->forever ? gen_rounds_poll(&k->s, now) : gen_retry_poll(&k->s.r, now)) {
	case GEN_RETRY_SEND:
		if (tx_build(c, k->phase == GEN_RESOLVING ? TX_ARP : TX_MSG1, i, now) == 0)
			k->sent_at = now;
		return 0;
	case GEN_RETRY_FAIL:
		return -ETIMEDOUT;
	default:
		return 0;
	}
}

/* Resolve and handshake with every appliance at once; all must come up. */
static int connect_peers(struct ctx *c)
{
	struct conn k[GEN_MAX_PEERS];
	const uint64_t start = nm_mono_ns();
	for (unsigned i = 0; i < c->g->n_peers; i++) {
		k[i] = (struct conn){ .phase = c->g->peers[i].state, .sent_at = start };
		gen_rounds_start(&k[i].s, start);
	}
	for (;;) {
		if (quit())
			return -EINTR;
		const uint64_t now = nm_mono_ns();
		bool all = true;
		for (unsigned i = 0; i < c->g->n_peers; i++) {
			if (conn_step(c, i, &k[i], now) < 0) {
				conn_fail_report(c, i, &k[i]);
				return -ETIMEDOUT;
			}
			all = all && k[i].phase == GEN_ESTABLISHED;
		}
		if (all)
			return 0;
		tx_flush(c);
		rx_poll(c);
		rte_delay_us_sleep(100);
	}
}

/* ------------------------------------------------------------------ re-handshake */

/* Peer i's session was found dead: its schedule starts, in rounds without end. */
static void rehs_begin(struct ctx *c, unsigned i, uint64_t now)
{
	struct conn *k = &c->rehs[i];
	*k = (struct conn){ .phase = c->g->peers[i].state, .forever = true, .sent_at = now };
	gen_rounds_start(&k->s, now);
	c->n_rehs++;
	printf("gen: peer %u node %016" PRIx64 " session dead: nothing authenticated for %u ms;"
	       " handshaking again\n", i, c->g->peers[i].cfg.node_id, c->o.session_timeout_ms);
	fflush(stdout);
}

/* The first output of each daemon since the latest re-handshake: where its chain resumed. */
static void report_resumes(struct ctx *c)
{
	for (unsigned i = 0; i < c->g->n_checks; i++) {
		const struct gen_chain_check *k = &c->g->checks[i];
		if (k->resume_epoch == c->resume_shown[i])
			continue;
		c->resume_shown[i] = k->resume_epoch;
		printf("gen: daemon %016" PRIx64 " resumed after rehandshake %" PRIu64 ": seq=%" PRIu64
		       " parent=%016" PRIx64 "\n", k->origin, k->resume_epoch, k->resume_seq,
		       k->resume_parent);
		fflush(stdout);
	}
}

/*
 * Dead sessions (gen_check_sessions: nothing authenticated for
 * --session-timeout-ms) handshake again, ARP first when the MAC was learned;
 * a failed round is retried GEN_REHS_PAUSE_MS later, forever.
 */
static void rehs_step(struct ctx *c, uint64_t now)
{
	if (c->g->st.rehandshakes != 0)
		report_resumes(c);
	if (gen_check_sessions(c->g, now) == 0 && c->n_rehs == 0)
		return;
	for (unsigned i = 0; i < c->g->n_peers; i++) {
		struct conn *k = &c->rehs[i];
		if (!k->forever && c->g->peers[i].state == GEN_ESTABLISHED)
			continue;
		if (!k->forever)
			rehs_begin(c, i, now);
		const unsigned failed = k->s.failed;
		conn_step(c, i, k, now);
		if (k->s.failed != failed) {
			printf("gen: peer %u: re-handshake round %u: no answer; next round in %u ms\n", i,
			       k->s.failed, GEN_REHS_PAUSE_MS);
			fflush(stdout);
		}
		if (k->phase == GEN_ESTABLISHED) {
			k->forever = false;
			c->n_rehs--;
			printf("gen: peer %u rehandshakes=%" PRIu64 "\n", i, c->g->peers[i].rehandshakes);
			fflush(stdout);
		}
	}
}

/*
 * Of `due` packets, those that can be built now: none while the next
 * daemon's appliance has no session; at a rate, those are counted
 * (gen_no_session) and the schedule moves past them.
 */
static uint64_t buildable(struct ctx *c, uint64_t due)
{
	if (due == 0 || gen_next_ready(c->g))
		return due;
	if (c->o.rate != 0)
		gen_no_session(c->g, due);
	return 0;
}

/* --reflect: a session with ourselves through the forwarder, on a fresh random key. */
static int reflect_up(struct ctx *c)
{
	uint8_t key[32];
	uint64_t session_id;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(&session_id, sizeof(session_id));
	int rc = gen_reflect_session(c->g, 0, key, session_id);
	sodium_memzero(key, sizeof(key));
	if (rc < 0) {
		fprintf(stderr, "netmesh-gen: --reflect: %s\n", strerror(-rc));
		return rc;
	}
	printf("gen: reflect mode: session %016" PRIx64 " with ourselves through the forwarder\n",
	       session_id);
	return 0;
}

/* ------------------------------------------------------------------ traffic */

struct run {
	uint64_t start_ns, end_ns;   /* end 0: no duration limit */
	uint64_t window_ns;          /* --warmup ends here (0: no warm-up, or it ended) */
	uint64_t next_stats_ns;
	struct gen_stats last;       /* at the previous stats line */
	uint64_t last_ns;
	unsigned idle;               /* loop iterations in a row with nothing to do */
};

/* Packets the rate schedule has dealt with: sent, or skipped for want of a session. */
static uint64_t paced(const struct ctx *c)
{
	return c->g->st.tx_packets + c->g->st.no_session_packets;
}

/* How many packets may be built now: the rate, the count, the queue. */
static uint64_t tx_allowed(const struct ctx *c, const struct run *r, uint64_t now)
{
	const struct gen_stats *st = &c->g->st;
	uint64_t room = c->n_txq == 0 ? BURST : 0; /* build only once the PMD took the last burst */
	if (c->o.count != 0)
		room = RTE_MIN(room, c->o.count - RTE_MIN(c->o.count, st->tx_packets));
	if (c->o.rate != 0) {
		const uint64_t due = gen_pace_due(r->start_ns, now, c->o.rate), done = paced(c);
		room = RTE_MIN(room, due > done ? due - done : 0);
	}
	return room;
}

static void print_period(struct ctx *c, struct run *r, uint64_t now)
{
	const struct gen_stats *st = &c->g->st;
	double dt = (double)(now - r->last_ns) / NS_PER_S;
	printf("gen: t=%.0fs tx_pps=%.0f rx_eps=%.0f sent_events=%" PRIu64 " recv_events=%" PRIu64
	       " chain_ok=%" PRIu64 " chain_errors=%" PRIu64 " chain_gaps=%" PRIu64
	       " duplicate_events=%" PRIu64 " redirects=%" PRIu64 " drops=%" PRIu64 "\n",
	       (double)(now - r->start_ns) / NS_PER_S, (st->tx_packets - r->last.tx_packets) / dt,
	       (st->rx_events - r->last.rx_events) / dt, st->tx_events, st->rx_events, st->chain_ok,
	       st->chain_errors, st->chain_gaps, st->duplicate_events, st->redirects,
	       gen_drops_total(st));
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
	if (r->window_ns != 0 && now >= r->window_ns) {
		gen_rtt_window(c->g);
		r->window_ns = 0;
		printf("gen: warm-up over: round trips from event %" PRIu64 " on\n", c->g->rtt_from);
	}
	if (c->o.stats_period != 0 && now >= r->next_stats_ns) {
		print_period(c, r, now);
		r->next_stats_ns += (uint64_t)c->o.stats_period * NS_PER_S;
	}
	/* Keep every session alive while the rate (or the daemons' placement) leaves it idle. */
	for (unsigned i = 0; i < c->g->n_peers && c->n_txq < BURST; i++)
		if (c->g->peers[i].state == GEN_ESTABLISHED &&
		    now >= c->peer_tx_ns[i] + HEARTBEAT_IDLE_MS * NS_PER_MS)
			tx_build(c, TX_HEARTBEAT, i, now);
}

/*
 * --idle-sleep-us: at a rate, sleep whenever we are ahead of it and nothing
 * arrived (gen_pace_sleep_us: the wake sends what fell due in one burst);
 * otherwise after IDLE_POLLS empty iterations, until traffic returns.
 */
static void idle_wait(const struct ctx *c, struct run *r, bool arrived, bool built)
{
	const uint64_t next = gen_pace_next_ns(r->start_ns, c->o.rate, paced(c));
	const uint32_t us = gen_pace_sleep_us(nm_mono_ns(), next, arrived || c->n_txq != 0,
					      c->o.rate, c->o.idle_sleep_us);
	if (us != 0) {
		nm_sleep_us(us);
		return;
	}
	r->idle = arrived || built ? 0 : r->idle + (r->idle < IDLE_POLLS);
	if (c->o.idle_sleep_us != 0 && r->idle >= IDLE_POLLS)
		nm_sleep_us(c->o.idle_sleep_us);
}

static void send_loop(struct ctx *c, struct run *r)
{
	for (;;) {
		uint64_t now = nm_mono_ns();
		unsigned built = 0;
		if (done_sending(c, r, now))
			break;
		for (uint64_t k = buildable(c, tx_allowed(c, r, now)); k > 0; k--, built++)
			if (tx_build(c, TX_EVENTS, 0, now) < 0)
				break;
		tx_flush(c);
		const unsigned got = rx_poll(c);
		/* Liveness only once the RX ring is read: a stall of our own is not the appliance's silence. */
		if (got < BURST)
			rehs_step(c, nm_mono_ns());
		tick(c, r, now);
		idle_wait(c, r, got > 0, built > 0);
	}
}

/* Collect the replies still in flight: until all are in, or none for a while; bounded. */
static void drain(struct ctx *c)
{
	const uint64_t start = nm_mono_ns();
	const uint64_t quiet_ms = c->o.drain_quiet_ms;
	const uint64_t max_ms = quiet_ms * 2 > GEN_DRAIN_MAX_MS ? quiet_ms * 2 : GEN_DRAIN_MAX_MS;
	uint64_t last_rx = start, events = c->g->st.rx_events;
	for (;;) {
		uint64_t now = nm_mono_ns();
		tx_flush(c);
		unsigned n = rx_poll(c);
		if (c->g->st.rx_events != events) {
			events = c->g->st.rx_events;
			last_rx = now;
		}
		if (gen_drain_done(c->g, now - last_rx, now - start, max_ms * NS_PER_MS,
				   quiet_ms * NS_PER_MS))
			break;
		if (n == 0)
			rte_delay_us_sleep(100);
	}
	/* What the PMD never took is not sent. */
	for (uint16_t i = 0; i < c->n_txq; i++) {
		gen_tx_unsent(c->g, rte_pktmbuf_mtod(c->txq[i], uint8_t *), c->txq[i]->pkt_len);
		rte_pktmbuf_free(c->txq[i]);
	}
	c->n_txq = 0;
}

/* ------------------------------------------------------------------ report */

static uint64_t chain_lost(const struct gen *g, uint64_t origin)
{
	for (unsigned i = 0; i < g->n_checks; i++)
		if (g->checks[i].origin == origin)
			return g->checks[i].lost;
	return 0;
}

static void print_daemons(const struct gen *g)
{
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
	for (unsigned d = 0; d < g->cfg.n_daemons; d++) {
		const struct gen_dest *t = &g->dest[d];
		const uint64_t un = gen_dest_unanswered(t), gap = chain_lost(g, t->origin);
		printf("gen: destination %016" PRIx64 "%s sent=%" PRIu64 " answered=%" PRIu64
		       " echoed=%" PRIu64 " unanswered=%" PRIu64 " duplicates=%" PRIu64
		       " lost=%" PRIu64 " redirects=%" PRIu64 " peer=%u rtt_max_ns=%" PRIu64 "\n",
		       t->origin, t->any ? " (any)" : "", t->sent, t->answered, t->echoed, un,
		       t->duplicates, un > gap ? un : gap, t->redirects, t->peer, t->rtt_max_ns);
	}
	for (unsigned i = 0; i < g->n_peers; i++) {
		const struct gen_peer *p = &g->peers[i];
		printf("gen: peer %u node %016" PRIx64 " established=%d tx_packets=%" PRIu64
		       " rx_packets=%" PRIu64 " moved_recv=%" PRIu64 " sessions_dead=%" PRIu64
		       " rehandshakes=%" PRIu64 "\n", i, p->cfg.node_id, p->state == GEN_ESTABLISHED,
		       p->tx_packets, p->rx_packets, p->moved_recv, p->sessions_dead, p->rehandshakes);
	}
}

/* The final line's tail: dead sessions, re-handshakes, events not sent for want of a session,
 * the msg1 and ARP requests sent. */
static void print_session_keys(const struct gen_stats *st)
{
	printf(" sessions_dead=%" PRIu64 " rehandshakes=%" PRIu64 " no_session_events=%" PRIu64
	       " hs_attempts=%" PRIu64 " arp_requests=%" PRIu64 "\n", st->sessions_dead,
	       st->rehandshakes, st->no_session_events, st->hs_attempts, st->arp_requests);
	fflush(stdout);
}

static void print_summary(const struct ctx *c, double secs)
{
	const struct gen *g = c->g;
	const struct gen_stats *st = &g->st;
	print_daemons(g);
	for (unsigned d = 1; d < NM_DROP__COUNT; d++)
		if (st->drops[d] != 0)
			printf("gen: drop %s=%" PRIu64 "\n", nm_drop_name((enum nm_drop)d), st->drops[d]);
	if (st->chain_errors != 0)
		printf("gen: last chain error: %s\n", g->last_chain_error);
	printf("gen: sent_events=%" PRIu64 " recv_events=%" PRIu64 " chain_ok=%" PRIu64
	       " chain_errors=%" PRIu64 " chain_gaps=%" PRIu64 " lost_events=%" PRIu64
	       " duplicate_events=%" PRIu64 " redirects=%" PRIu64 " redirects_ignored=%" PRIu64
	       " late_replies=%" PRIu64 " rtt_samples=%" PRIu64 " rtt_p50_ns=%" PRIu64
	       " rtt_p99_ns=%" PRIu64 " rtt_p999_ns=%" PRIu64 " rtt_max_ns=%" PRIu64
	       " rtt_fwd_samples=%" PRIu64
	       " rtt_fwd_max_ns=%" PRIu64
	       " sent_packets=%" PRIu64 " recv_packets=%" PRIu64 " drops=%" PRIu64
	       " heartbeats_sent=%" PRIu64 " heartbeats_recv=%" PRIu64 " daemons=%u peers=%u"
	       " events_per_packet=%u event_size=%u seconds=%.3f tx_pps=%.0f rx_eps=%.0f"
	       " established=%d",
	       st->tx_events, st->rx_events, st->chain_ok, st->chain_errors, st->chain_gaps,
	       gen_lost_events(g), st->duplicate_events, st->redirects, st->redirects_ignored,
	       st->late_replies, st->rtt_samples, gen_rtt_quantile(g, 0.5), gen_rtt_quantile(g, 0.99),
	       gen_rtt_quantile(g, 0.999), st->rtt_max_ns, st->rtt_fwd_samples, st->rtt_fwd_max_ns,
	       st->tx_packets, st->rx_packets, gen_drops_total(st),
	       st->tx_heartbeats, st->rx_heartbeats, g->n_checks, g->n_peers, g->per_packet,
	       g->cfg.event_size, secs, secs > 0 ? st->tx_packets / secs : 0,
	       secs > 0 ? st->rx_events / secs : 0, gen_all_established(g));
	print_session_keys(st);
}

/* --rtt-series: one line per slot with answered events; false (printed) if it was not written. */
static bool write_series(struct ctx *c)
{
	const struct gen_series *s = &c->g->series;
	if (c->series == NULL)
		return true;
	fprintf(c->series, "# netmesh-gen rtt series: slot_start_ns slot_ns samples max_rtt_ns\n");
	for (uint32_t i = 0; i < s->used; i++)
		if (s->samples[i] != 0)
			fprintf(c->series, "%" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu64 "\n",
				s->start_ns + i * s->slot_ns, s->slot_ns, s->samples[i], s->max_ns[i]);
	bool ok = !ferror(c->series);
	ok = fclose(c->series) == 0 && ok;
	c->series = NULL;
	printf("gen: rtt series %s slots=%" PRIu32 " slot_us=%" PRIu32 " samples=%" PRIu64
	       " outside=%" PRIu64 "%s\n", c->o.series_file, s->used, c->o.series_slot_us, s->placed,
	       s->outside, ok ? "" : " (write failed)");
	if (!ok)
		fprintf(stderr, "netmesh-gen: --rtt-series %s: write failed\n", c->o.series_file);
	return ok;
}

static int run_traffic(struct ctx *c)
{
	struct run r = { .start_ns = nm_mono_ns() };
	r.last_ns = r.start_ns;
	r.end_ns = c->o.duration ? r.start_ns + (uint64_t)c->o.duration * NS_PER_S : 0;
	r.window_ns = c->o.warmup ? r.start_ns + (uint64_t)c->o.warmup * NS_PER_S : 0;
	r.next_stats_ns = r.start_ns + (uint64_t)c->o.stats_period * NS_PER_S;
	for (unsigned i = 0; i < GEN_MAX_PEERS; i++)
		c->peer_tx_ns[i] = r.start_ns;
	if (c->series != NULL)
		gen_series_start(c->g, r.start_ns, (uint64_t)c->o.series_slot_us * 1000);
	printf("gen: sending to %u daemon(s) on %u appliance(s), %u event(s) of %u bytes per packet,"
	       " rate %s\n", c->o.n_daemons, c->g->n_peers, c->g->per_packet, c->g->cfg.event_size,
	       c->o.rate ? "limited" : "unlimited");
	fflush(stdout);
	send_loop(c, &r);
	const uint64_t sent_done = nm_mono_ns();
	drain(c);
	report_resumes(c);
	const bool written = write_series(c);
	print_summary(c, (double)(sent_done - r.start_ns) / NS_PER_S);
	if (c->g->st.chain_errors != 0)
		return EXIT_CHAIN;
	return written ? 0 : EXIT_SETUP;
}

/* ------------------------------------------------------------------ main */

static void opts_defaults(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->udp_port = NM_NET_DEFAULT_PORT;
	o->peers[0].ep.port = NM_NET_DEFAULT_PORT;
	o->n_peers = 1;
	o->mtu = 1500;
	o->event_size = 64;
	o->events_per_packet = 1;
	o->stats_period = 1;
	o->session_timeout_ms = GEN_SESSION_TIMEOUT_MS;
	o->drain_quiet_ms = GEN_DRAIN_QUIET_MS;
	o->series_slot_us = 1000;
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

/* --rtt-series: the file exists and is writable before any traffic. */
static int open_series(struct ctx *c)
{
	if (c->o.series_file[0] == '\0')
		return 0;
	c->series = fopen(c->o.series_file, "w");
	if (c->series != NULL)
		return 0;
	const int e = errno;
	fprintf(stderr, "netmesh-gen: --rtt-series %s: %s\n", c->o.series_file, strerror(e));
	return -e;
}

static int run(struct ctx *c)
{
	struct gen_config gc;
	memset(&gc, 0, sizeof(gc));
	int rc = port_up(c);
	if (rc == 0)
		rc = gen_setup(c, &gc);
	sodium_memzero(gc.psk, sizeof(gc.psk)); /* gen_init kept its own copy */
	if (rc < 0 || open_series(c) < 0)
		return EXIT_SETUP;
	if (wait_link(c) < 0 || (c->o.reflect ? reflect_up(c) : connect_peers(c)) < 0) {
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
	app_timer_slack("netmesh-gen");
	int used = rte_eal_init(argc, argv);
	if (used < 0)
		rte_exit(EXIT_SETUP, "EAL init failed: %s\n", rte_strerror(rte_errno));
	argc -= used;
	argv += used;
	app_signals_init(argv[0]);
	app_ops_init();

	static struct ctx c;
	int status = run_command(&c, argc, argv);
	if (c.series != NULL)
		fclose(c.series); /* the run ended before the traffic: nothing to write */
	if (c.g != NULL) {
		gen_fini(c.g);
		free(c.g);
	}
	nm_port_fini(&c.port);
	app_ops_fini();
	int crc = rte_eal_cleanup();
	if (crc < 0)
		fprintf(stderr, "netmesh-gen: EAL cleanup failed: %s\n", rte_strerror(-crc));
	return status;
}

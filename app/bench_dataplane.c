/* SPDX-License-Identifier: MIT */
/*
 * bench_dataplane.c - `netmesh-bench dataplane`: the real packet path and the
 * two bounds that frame it, on the same packets in the same run.
 *
 * For each case (1 x 64-byte event per packet at MTU 1500; 50 x 64-byte
 * events per packet at MTU 5200) it
 *   1. builds N sealed causal-event packets from one peer, on one session, to
 *      one echo daemon, and writes them to a pcap file (before any timing);
 *   2. crypto bounds: opens and re-seals those packets in a loop on the worker
 *      lcore, in bursts of 32 as the worker does, no parsing, no I/O: once
 *      with the AEAD backend in use (crypto_*), once with libsodium
 *      (crypto_sodium_*, the bound before nm_aead had backends);
 *   3. dataplane: hot-plugs net_pcap replaying the file forever
 *      (infinite_rx=1, and no tx_pcap: the PMD counts and frees what we send),
 *      runs nm_dataplane with the echo daemon pinned on the one worker, and
 *      reads the worker counters over a fixed window. The session skips the
 *      replay window (bench_no_replay_window) because the loop repeats
 *      counters;
 *   4. io bound: rx_burst -> tx_burst on that same port and queue, no parsing.
 * A run that drops anything, fails an event or sends nothing is an error, not
 * a figure.
 *
 * Rates are per second of the measured thread's CPU time, which equals wall
 * time on a core of its own. On a shared machine other processes time-slice
 * with the worker (a neighbour's compiler halved wall-clock figures here), so
 * the share of the CPU each measured thread got is printed too
 * (cpu_share_min): figures from runs well below 1.0 are not comparable.
 */
#include "bench_dataplane.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "app_common.h"
#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_mesh.h"
#include "nm_packet.h"
#include "nm_pcapfile.h"
#include "nm_runtime.h"

#define IP_US RTE_IPV4(127, 0, 0, 1)
#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define SESSION_ID 0x5E55105E55100001ULL
#define PEER_ORIGIN 0xFEEDFACECAFEULL
#define N_PACKETS 512u
#define EVENT_BYTES 64u
#define MAX_EVENTS 50u
#define WARMUP_S 0.5
#define MEASURE_S 3.0

static const uint8_t key_to_us[32] = { 0xA1, 0xA2, 0xA3, 0xA4 };   /* peer TX = our RX */
static const uint8_t key_from_us[32] = { 0xB1, 0xB2, 0xB3, 0xB4 }; /* our TX = peer RX */
static const uint8_t echo_seed[32] = { 0xEC, 0x40 };
static const uint8_t node_seed[32] = { 0x0D, 0xE5 };
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
/* net_pcap picks its MAC at probe, when the file must already exist: address
 * the frames to broadcast, which the worker accepts exactly like its own MAC. */
static const struct rte_ether_addr bcast_mac = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

struct bench_case {
	const char *name; /* figure names: dp_<name>_... */
	uint32_t events;  /* per packet */
	uint16_t mtu;
};

static const struct bench_case cases[] = {
	{ "1x64", 1, 1500 },
	/* 50 frames of 4 + 32 + 64 bytes: a 5112-byte IP packet. */
	{ "50x64", MAX_EVENTS, 5200 },
};

/* One case's packets: in memory for the crypto bound, in a pcap file for the port. */
struct capture {
	uint8_t *frames; /* N_PACKETS slots of `stride` bytes */
	uint32_t lens[N_PACKETS];
	size_t stride;
	char path[256];
};

struct figures {
	double crypto_pps, sodium_pps;
	double dp_rx_pps, dp_events_ps, dp_tx_pps;
	double io_pps;
	double share[3];      /* CPU time / wall time of the crypto, dp and io threads */
};

enum { CRYPTO, DP, IO };

/* CPU and wall time of one thread over a window. */
struct span {
	clockid_t clock;
	struct timespec cpu0, wall0;
	double cpu_s, wall_s;
};

static void die(const char *what, int rc, const struct nm_error *err)
{
	fprintf(stderr, "netmesh-bench: dataplane: %s: %s%s%s\n", what, nm_strerror(rc),
		err && err->msg[0] ? ": " : "", err ? err->msg : "");
	exit(EXIT_FAILURE);
}

static double ts_s(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

static void span_start(struct span *s, clockid_t clock)
{
	s->clock = clock;
	clock_gettime(clock, &s->cpu0);
	clock_gettime(CLOCK_MONOTONIC, &s->wall0);
}

static void span_end(struct span *s)
{
	struct timespec cpu1, wall1;
	clock_gettime(s->clock, &cpu1);
	clock_gettime(CLOCK_MONOTONIC, &wall1);
	s->cpu_s = ts_s(&s->cpu0, &cpu1);
	s->wall_s = ts_s(&s->wall0, &wall1);
}

static double share(const struct span *s)
{
	return s->wall_s > 0 ? s->cpu_s / s->wall_s : 0;
}

static double share_min(const struct figures *f)
{
	return RTE_MIN(f->share[CRYPTO], RTE_MIN(f->share[DP], f->share[IO]));
}

static bool window_over(const struct span *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ts_s(&s->wall0, &now) >= MEASURE_S;
}

/* ---------------------------------------------------------------- packets */

static void fill_events(uint32_t pkt, uint32_t n, uint8_t payloads[][EVENT_BYTES],
			struct nm_event *evs)
{
	for (uint32_t j = 0; j < n; j++) {
		for (uint32_t k = 0; k < EVENT_BYTES; k++)
			payloads[j][k] = (uint8_t)(pkt * 31 + j * 7 + k);
		evs[j] = (struct nm_event){
			.link = { PEER_ORIGIN, 0, (uint64_t)pkt * n + j + 1, 0 },
			.payload = payloads[j],
			.len = EVENT_BYTES,
		};
	}
}

static void build_packets(const struct bench_case *bc, uint64_t daemon, struct capture *c)
{
	const struct nm_pkt_endpoint peer = { peer_mac, IP_PEER, NM_NET_DEFAULT_PORT };
	const struct nm_pkt_endpoint us = { bcast_mac, IP_US, NM_NET_DEFAULT_PORT };
	struct nm_aead key;
	nm_aead_init(&key, key_to_us, SESSION_ID);
	c->stride = NM_PKT_ETH_LEN + bc->mtu;
	c->frames = malloc(N_PACKETS * c->stride);
	if (c->frames == NULL)
		die("packets", -ENOMEM, NULL);

	static uint8_t payloads[MAX_EVENTS][EVENT_BYTES];
	struct nm_event evs[MAX_EVENTS];
	for (uint32_t i = 0; i < N_PACKETS; i++) {
		fill_events(i, bc->events, payloads, evs);
		struct nm_packet_tx t = {
			.src = &peer, .dst = &us, .ip_id = (uint16_t)i, .key = &key, .counter = i,
			.session_id = SESSION_ID, .stream_id = daemon, .sequence = i,
			.origin_hash = PEER_ORIGIN, .budget = nm_packet_budget(bc->mtu),
		};
		uint32_t used;
		size_t len;
		int rc = nm_packet_build(c->frames + i * c->stride, c->stride, &t, evs, bc->events,
					 &used, &len);
		if (rc < 0 || used != bc->events)
			die("build packet", rc < 0 ? rc : -EMSGSIZE, NULL);
		c->lens[i] = (uint32_t)len;
	}
	nm_aead_wipe(&key);
}

static void write_capture(const struct capture *c)
{
	struct nm_pcap_writer w;
	int rc = nm_pcap_writer_open(&w, c->path);
	for (uint32_t i = 0; rc == 0 && i < N_PACKETS; i++)
		rc = nm_pcap_writer_add(&w, c->frames + i * c->stride, c->lens[i], (uint64_t)i * 1000);
	if (rc == 0)
		rc = nm_pcap_writer_close(&w);
	if (rc < 0)
		die(c->path, rc, NULL);
}

/* ---------------------------------------------------------------- crypto bound */

struct crypto_job {
	struct capture *c;
	struct nm_aead_batch *batch; /* the backend measured */
	uint64_t packets;
	struct span span;
	int rc;
};

#define CRYPTO_BURST 32 /* the worker's RX burst (NM_BURST) */

/* Open a burst of packets, then re-seal them: same key and counters restore the ciphertext. */
static int crypto_burst(struct crypto_job *j, const struct nm_aead *key, uint32_t first)
{
	struct nm_aead_op ops[CRYPTO_BURST];
	for (uint32_t k = 0; k < CRYPTO_BURST; k++) {
		uint32_t i = first + k;
		ops[k] = (struct nm_aead_op){ .key = key, .len = j->c->lens[i] - NM_PKT_DATA_OFF,
					      .pkt = j->c->frames + i * j->c->stride + NM_PKT_DATA_OFF };
	}
	if (nm_aead_open_burst(j->batch, ops, CRYPTO_BURST) != CRYPTO_BURST)
		return -EBADMSG;
	return nm_aead_seal_burst(j->batch, ops, CRYPTO_BURST) == CRYPTO_BURST ? 0 : -EIO;
}

static int crypto_lcore(void *arg)
{
	struct crypto_job *j = arg;
	struct nm_aead key;
	nm_aead_init(&key, key_to_us, SESSION_ID);
	span_start(&j->span, CLOCK_THREAD_CPUTIME_ID);
	do {
		for (uint32_t i = 0; i < N_PACKETS && j->rc == 0; i += CRYPTO_BURST)
			j->rc = crypto_burst(j, &key, i);
		j->packets += N_PACKETS;
	} while (j->rc == 0 && !window_over(&j->span));
	span_end(&j->span);
	nm_aead_wipe(&key);
	return 0;
}

_Static_assert(N_PACKETS % CRYPTO_BURST == 0, "whole bursts");

/* The crypto bound of backend b; the backend in use is restored after. */
static double crypto_bound(struct capture *c, unsigned lcore, enum nm_aead_backend b,
			   struct figures *f)
{
	const enum nm_aead_backend in_use = nm_aead_backend();
	struct crypto_job j = { .c = c };
	int rc = nm_aead_use(b);
	if (rc == 0 && (j.batch = nm_aead_batch_new()) == NULL)
		rc = -ENOMEM;
	nm_aead_use(in_use);
	if (rc < 0)
		die("aead backend", rc, NULL);
	rc = rte_eal_remote_launch(crypto_lcore, &j, lcore);
	if (rc < 0)
		die("launch crypto loop", rc, NULL);
	rte_eal_wait_lcore(lcore);
	nm_aead_batch_free(j.batch);
	if (j.rc < 0)
		die("crypto loop: a packet did not open", j.rc, NULL);
	if (b == in_use)
		f->share[CRYPTO] = share(&j.span);
	return (double)j.packets / j.span.cpu_s;
}

/* ---------------------------------------------------------------- io bound */

struct io_job {
	uint16_t port;
	uint64_t rx, tx;
	struct span span;
};

static int io_lcore(void *arg)
{
	struct io_job *j = arg;
	struct rte_mbuf *ms[NM_BURST];
	span_start(&j->span, CLOCK_THREAD_CPUTIME_ID);
	do {
		/* The clock is read once per 64 bursts: a vDSO call is not free. */
		for (int k = 0; k < 64; k++) {
			uint16_t n = rte_eth_rx_burst(j->port, 0, ms, NM_BURST);
			uint16_t sent = rte_eth_tx_burst(j->port, 0, ms, n);
			if (sent < n)
				rte_pktmbuf_free_bulk(ms + sent, n - sent);
			j->rx += n;
			j->tx += sent;
		}
	} while (!window_over(&j->span));
	span_end(&j->span);
	return 0;
}

static double io_bound(uint16_t port, unsigned lcore, struct figures *f)
{
	struct io_job j = { .port = port };
	int rc = rte_eal_remote_launch(io_lcore, &j, lcore);
	if (rc < 0)
		die("launch io loop", rc, NULL);
	rte_eal_wait_lcore(lcore);
	if (j.tx == 0 || j.tx != j.rx)
		die("io loop: packets not forwarded", -EIO, NULL);
	f->share[IO] = share(&j.span);
	return (double)j.rx / j.span.cpu_s;
}

/* ---------------------------------------------------------------- dataplane */

struct dp_rig {
	char port[RTE_ETH_NAME_MAX_LEN];
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
};

static void rig_up(struct dp_rig *r, const struct bench_case *bc, const struct capture *c,
		   unsigned idx, unsigned lcore, const struct nm_identity *echo)
{
	char devargs[sizeof(c->path) + RTE_ETH_NAME_MAX_LEN + 32];
	struct nm_error err = { 0 };
	snprintf(r->port, sizeof(r->port), "net_pcap%u", idx);
	snprintf(devargs, sizeof(devargs), "%s,rx_pcap=%s,infinite_rx=1", r->port, c->path);
	int rc = rte_dev_probe(devargs);
	if (rc < 0)
		die(devargs, rc, NULL);
	struct nm_mesh_config mc = { .port = r->port, .node_seed = node_seed };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	if ((rc = nm_mesh_create(&mc, &r->mesh, &err)) < 0)
		die("mesh", rc, &err);
	r->rt = nm_runtime_create(nm_mesh_node(r->mesh));
	if (r->rt == NULL)
		die("runtime", -ENOMEM, NULL);
	if ((rc = nm_builtin_register_all(r->rt, &err)) < 0 || (rc = nm_runtime_start(r->rt, &err)) < 0)
		die("runtime start", rc, &err);
	struct nm_dataplane_config dc = { .mesh = r->mesh, .rt = r->rt, .ip = IP_US,
					  .n_workers = 1, .lcores = &lcore, .mtu = bc->mtu };
	if ((rc = nm_dataplane_create(&dc, &r->dp, &err)) < 0)
		die("dataplane", rc, &err);
	int peer = nm_dataplane_peer_add(r->dp, IP_PEER, NM_NET_DEFAULT_PORT, &peer_mac, &err);
	if (peer < 0)
		die("peer", peer, &err);
	struct nm_session_params sp = { .session_id = SESSION_ID, .peer = (uint16_t)peer,
					.bench_no_replay_window = true };
	memcpy(sp.tx_key, key_from_us, sizeof(sp.tx_key));
	memcpy(sp.rx_key, key_to_us, sizeof(sp.rx_key));
	if ((rc = nm_dataplane_session_add(r->dp, &sp, &err)) < 0)
		die("session", rc, &err);
	struct nm_host_config hc = nm_host_config_default();
	hc.lcore = lcore;
	struct nm_daemon_handle h;
	if ((rc = nm_runtime_spawn(r->rt, "echo", echo, &hc, &h, &err)) < 0)
		die("spawn echo", rc, &err);
}

static void rig_down(struct dp_rig *r)
{
	nm_runtime_shutdown(r->rt, NULL);
	nm_dataplane_destroy(r->dp);
	nm_runtime_destroy(r->rt);
	nm_mesh_destroy(r->mesh);
	int rc = rte_eal_hotplug_remove("vdev", r->port);
	if (rc < 0)
		fprintf(stderr, "# netmesh-bench: remove %s: %s\n", r->port, strerror(-rc));
}

/* The CPU-time clock of the thread behind `lcore` (EAL lcore threads live until cleanup). */
static int get_cpu_clock(void *arg)
{
	return pthread_getcpuclockid(pthread_self(), arg);
}

static clockid_t lcore_cpu_clock(unsigned lcore)
{
	clockid_t clock;
	int rc = rte_eal_remote_launch(get_cpu_clock, &clock, lcore);
	if (rc < 0 || (rc = rte_eal_wait_lcore(lcore)) != 0)
		die("worker CPU clock", rc < 0 ? rc : -rc, NULL);
	return clock;
}

/* Everything received became outputs that left: no drop, no failure, echo 1:1. */
static void check_totals(const char *name, const struct nm_lcore_stats *s)
{
	if (s->tx_packets != 0 && nm_stats_total_drops(s) == 0 && s->events_failed == 0 &&
	    s->events_emitted == s->events_delivered && s->events_delivered != 0)
		return;
	fprintf(stderr, "# dp %s: not a forwarding figure:\n", name);
	nm_stats_print(stderr, "#   ", s);
	die("dataplane run dropped or sent nothing", -EIO, NULL);
}

static void dp_measure(const struct bench_case *bc, const struct capture *c,
		       const struct nm_identity *echo, unsigned idx, unsigned lcore, struct figures *f)
{
	const clockid_t cpu_clock = lcore_cpu_clock(lcore);
	struct dp_rig r;
	rig_up(&r, bc, c, idx, lcore, echo);
	struct nm_error err = { 0 };
	int rc = nm_dataplane_start(r.dp, &err);
	if (rc < 0)
		die("start", rc, &err);

	struct nm_lcore_stats a, b;
	struct span sp;
	app_sleep_ms((unsigned)(WARMUP_S * 1000));
	nm_dataplane_stats(r.dp, &a);
	span_start(&sp, cpu_clock);
	app_sleep_ms((unsigned)(MEASURE_S * 1000));
	nm_dataplane_stats(r.dp, &b);
	span_end(&sp);
	nm_dataplane_stop(r.dp);

	f->share[DP] = share(&sp);
	f->dp_rx_pps = (double)(b.rx_packets - a.rx_packets) / sp.cpu_s;
	f->dp_events_ps = (double)(b.events_delivered - a.events_delivered) / sp.cpu_s;
	f->dp_tx_pps = (double)(b.tx_packets - a.tx_packets) / sp.cpu_s;
	nm_dataplane_stats(r.dp, &b);
	check_totals(bc->name, &b);
	fprintf(stderr, "# dp %s (mtu %u):", bc->name, bc->mtu);
	nm_stats_print(stderr, " ", &b);

	/* Same port, same queue, same mempool: only the packet path is gone. */
	f->io_pps = io_bound(r.dp->port.port_id, lcore, f);
	rig_down(&r);
}

/* ---------------------------------------------------------------- part */

static void print_case(const struct bench_case *bc, const struct figures *f)
{
	const char *n = bc->name;
	printf("crypto_%s_packets_per_s: %.0f packets/s\n", n, f->crypto_pps);
	printf("crypto_%s_events_per_s: %.0f events/s\n", n, f->crypto_pps * bc->events);
	printf("crypto_sodium_%s_packets_per_s: %.0f packets/s\n", n, f->sodium_pps);
	printf("crypto_sodium_%s_events_per_s: %.0f events/s\n", n, f->sodium_pps * bc->events);
	printf("dp_%s_packets_per_s: %.0f packets/s\n", n, f->dp_rx_pps);
	printf("dp_%s_events_per_s: %.0f events/s\n", n, f->dp_events_ps);
	printf("dp_%s_tx_packets_per_s: %.0f packets/s\n", n, f->dp_tx_pps);
	printf("io_fwd_%s_packets_per_s: %.0f packets/s\n", n, f->io_pps);
	printf("dp_vs_crypto_%s: %.2f ratio\n", n, f->dp_rx_pps / f->crypto_pps);
	printf("dp_vs_sodium_%s: %.2f ratio\n", n, f->dp_rx_pps / f->sodium_pps);
	printf("cpu_share_min_%s: %.2f ratio\n", n, share_min(f));
	fflush(stdout);
	fprintf(stderr, "# %s: CPU share of the measured thread: crypto %.2f, dp %.2f, io %.2f\n", n,
		f->share[CRYPTO], f->share[DP], f->share[IO]);
}

static unsigned worker_lcore(void)
{
	unsigned lc = rte_get_next_lcore(-1, 1, 0);
	if (lc >= RTE_MAX_LCORE) {
		fprintf(stderr, "netmesh-bench: dataplane needs one EAL worker lcore "
				"(e.g. --lcores=0@0,1@1)\n");
		exit(EXIT_FAILURE);
	}
	return lc;
}

static bool known_case(const char *name)
{
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, name) == 0)
			return true;
	return false;
}

int bench_dataplane_part(const char *only)
{
	if (only != NULL && !known_case(only)) {
		fprintf(stderr, "netmesh-bench: dataplane: no case '%s' (1x64, 50x64)\n", only);
		return EXIT_FAILURE;
	}
	int rc = nm_aead_lib_init(); /* the backend choice, before any timing */
	if (rc < 0)
		die("aead", rc, NULL);
	fprintf(stderr, "# aead %s (%s)\n", nm_aead_backend_name(), nm_aead_arch_name());
	const unsigned lcore = worker_lcore();
	char dir[] = "/tmp/netmesh-bench-XXXXXX";
	if (mkdtemp(dir) == NULL)
		die("temporary directory", -errno, NULL);
	struct nm_identity echo;
	nm_identity_from_seed(&echo, echo_seed);

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_case *bc = &cases[i];
		if (only != NULL && strcmp(only, bc->name) != 0)
			continue;
		struct capture c = { 0 };
		snprintf(c.path, sizeof(c.path), "%s/%s.pcap", dir, bc->name);
		build_packets(bc, echo.origin_hash, &c);
		write_capture(&c);

		struct figures f = { 0 };
		f.crypto_pps = crypto_bound(&c, lcore, nm_aead_backend(), &f);
		f.sodium_pps = crypto_bound(&c, lcore, NM_AEAD_SODIUM, &f);
		dp_measure(bc, &c, &echo, i, lcore, &f);
		print_case(bc, &f);
		unlink(c.path);
		free(c.frames);
	}
	rmdir(dir);
	return EXIT_SUCCESS;
}

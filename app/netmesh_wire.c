/* SPDX-License-Identifier: MIT */
/*
 * netmesh_wire.c - the wire emulator: netmesh-wire [EAL args] -- --control PATH [options]
 *
 * Bridges every ethdev EAL gives it (memif servers, af_packet, ...) as an L2
 * learning switch and injects faults per port and direction, and per pair of
 * ports (the frames from one port to another), changed at run
 * time through a UNIX socket (`netmesh-wire --control PATH --cmd "loss 1 5"`).
 * One thread on the main lcore; the switch, faults and commands are
 * app/wire_emu.h, this file moves mbufs, keeps time and serves the socket.
 * docs/wire-emulator.md is the manual. SIGINT/SIGTERM stop it after a last
 * stats dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "app_common.h"
#include "nm_time.h"
#include "wire_emu.h"

#define BURST 32
#define HISTORY 64      /* frames remembered per port for capture */
#define FRAME_MAX 2048  /* history keeps frames up to this size */
#define CONTROL_EVERY_NS 1000000ULL
#define REPLY_MAX 16384 /* 16 line counters, up to 56 pairs */

struct saved {
	uint16_t len;
	uint8_t bytes[FRAME_MAX];
};

struct port_io {
	uint16_t port_id;
	struct rte_mbuf *txq[BURST];
	uint16_t n_tx;
	uint64_t rx, tx;             /* what the device gave and took */
	uint64_t tx_link_down;       /* refused while the port's link was down (no peer there) */
	uint64_t tx_dropped;         /* refused with the link up: the device's ring was full */
	struct saved hist[HISTORY];  /* the last frames that came in, ring */
	unsigned hist_next, hist_n;
};

struct wire {
	struct we_emu emu;
	struct port_io io[WE_MAX_PORTS];
	unsigned n_ports;
	struct rte_mempool *pool;
	uint64_t copies_failed; /* duplicates or flood copies without an mbuf: the copy is lost */
	struct saved captured[HISTORY];
	unsigned n_captured;
	int lsock;
	const char *control;
	unsigned stats_period;
};

static struct wire W;

/* ------------------------------------------------------------------ frames */

static struct rte_mbuf *copy_of(struct wire *w, struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);
	if (c == NULL)
		w->copies_failed++;
	return c;
}

static struct rte_mbuf *from_bytes(struct wire *w, const struct saved *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	uint8_t *p = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, s->len) : NULL;
	if (p == NULL) {
		rte_pktmbuf_free(m);
		w->copies_failed++;
		return NULL;
	}
	memcpy(p, s->bytes, s->len);
	return m;
}

/*
 * Offer m to a line; a duplicate follows it. The line owns m afterwards (or
 * freed it). A drop is also counted against the pair from -> to (to < 0: an
 * IN line's frame without a known destination, not counted per pair).
 */
static void offer(struct wire *w, unsigned port, enum we_dir dir, struct rte_mbuf *m, uint64_t now,
		  unsigned from, int to)
{
	enum we_verdict v = we_offer(&w->emu, port, dir, m, now);
	if (v == WE_DROP) {
		if (to >= 0)
			we_pair_line_drop(&w->emu, from, (unsigned)to);
		rte_pktmbuf_free(m);
		return;
	}
	if (v == WE_PASS_DUP) {
		struct rte_mbuf *c = copy_of(w, m);
		if (c != NULL && !we_line_put(&w->emu, port, dir, c, now)) {
			if (to >= 0)
				we_pair_line_drop(&w->emu, from, (unsigned)to);
			rte_pktmbuf_free(c);
		}
	}
}

/* Through the pair in_port -> out (its duplicate too), then out's OUT line. */
static void offer_out(struct wire *w, unsigned in_port, unsigned out, struct rte_mbuf *m,
		      uint64_t now)
{
	enum we_verdict v = we_pair_offer(&w->emu, in_port, out);
	if (v == WE_DROP) {
		rte_pktmbuf_free(m);
		return;
	}
	if (v == WE_PASS_DUP) {
		struct rte_mbuf *c = copy_of(w, m);
		if (c != NULL)
			offer(w, out, WE_OUT, c, now, in_port, (int)out);
	}
	offer(w, out, WE_OUT, m, now, in_port, (int)out);
}

static void remember(struct port_io *io, const struct rte_mbuf *m)
{
	if (m->pkt_len > FRAME_MAX || m->nb_segs != 1)
		return;
	struct saved *s = &io->hist[io->hist_next++ % HISTORY];
	s->len = (uint16_t)m->pkt_len;
	memcpy(s->bytes, rte_pktmbuf_mtod(m, const uint8_t *), s->len);
	if (io->hist_n < HISTORY)
		io->hist_n++;
}

/* Through the switch to every OUT line it goes to (copies for all but the last). */
static void forward(struct wire *w, unsigned in_port, struct rte_mbuf *m, uint64_t now)
{
	unsigned out[WE_MAX_PORTS];
	unsigned n = we_switch(&w->emu, in_port, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, out);
	for (unsigned i = 0; i + 1 < n; i++) {
		struct rte_mbuf *c = copy_of(w, m);
		if (c != NULL)
			offer_out(w, in_port, out[i], c, now);
	}
	if (n == 0)
		rte_pktmbuf_free(m);
	else
		offer_out(w, in_port, out[n - 1], m, now);
}

/*
 * Whether a port has its peer. Checked before every burst: DPDK 22.11's memif
 * unmaps a queue's rings when the other side leaves, from the interrupt
 * thread and under a polling lcore; the link goes down first, several system
 * calls before the unmap, so a port seen down is left alone.
 */
static bool link_up(uint16_t port_id)
{
	struct rte_eth_link link = { 0 };
	return rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status;
}

static void tx_flush(struct port_io *io)
{
	if (io->n_tx == 0)
		return;
	bool up = link_up(io->port_id);
	uint16_t sent = up ? rte_eth_tx_burst(io->port_id, 0, io->txq, io->n_tx) : 0;
	io->tx += sent;
	*(up ? &io->tx_dropped : &io->tx_link_down) += io->n_tx - sent;
	for (uint16_t i = sent; i < io->n_tx; i++)
		rte_pktmbuf_free(io->txq[i]);
	io->n_tx = 0;
}

/* One pass: receive, move what is due through IN lines, the switch and OUT lines. */
static unsigned step(struct wire *w)
{
	struct rte_mbuf *ms[BURST], *m;
	unsigned moved = 0;
	uint64_t now = nm_mono_ns();
	for (unsigned p = 0; p < w->n_ports; p++) {
		if (!link_up(w->io[p].port_id))
			continue;
		uint16_t n = rte_eth_rx_burst(w->io[p].port_id, 0, ms, BURST);
		w->io[p].rx += n;
		for (uint16_t i = 0; i < n; i++) {
			remember(&w->io[p], ms[i]);
			int to = we_lookup(&w->emu, rte_pktmbuf_mtod(ms[i], const uint8_t *),
					   ms[i]->data_len);
			offer(w, p, WE_IN, ms[i], now, p, to);
		}
		moved += n;
	}
	for (unsigned p = 0; p < w->n_ports; p++)
		while ((m = we_take(&w->emu, p, WE_IN, now)) != NULL) {
			forward(w, p, m, now);
			moved++;
		}
	for (unsigned p = 0; p < w->n_ports; p++) {
		struct port_io *io = &w->io[p];
		while ((m = we_take(&w->emu, p, WE_OUT, now)) != NULL) {
			if (io->n_tx == BURST)
				tx_flush(io);
			io->txq[io->n_tx++] = m;
			moved++;
		}
		tx_flush(io);
	}
	return moved;
}

/* ------------------------------------------------------------------ commands */

static size_t format_all(struct wire *w, char *out, size_t cap)
{
	size_t n = we_format_stats(&w->emu, out, cap);
	for (unsigned p = 0; p < w->n_ports && n < cap; p++) {
		const struct port_io *io = &w->io[p];
		int k = snprintf(out + n, cap - n, "port %u nic: rx=%" PRIu64 " tx=%" PRIu64
				 " tx_link_down=%" PRIu64 " tx_dropped=%" PRIu64 "\n", p, io->rx,
				 io->tx, io->tx_link_down, io->tx_dropped);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n < cap) {
		int k = snprintf(out + n, cap - n, "copies_failed=%" PRIu64 "\n", w->copies_failed);
		n += k > 0 ? (size_t)k : 0;
	}
	return n < cap ? n : cap - 1;
}

static unsigned capture(struct wire *w, unsigned port, unsigned count)
{
	struct port_io *io = &w->io[port];
	unsigned n = count < io->hist_n ? count : io->hist_n;
	for (unsigned i = 0; i < n; i++) /* oldest of the last n first */
		w->captured[i] = io->hist[(io->hist_next - n + i) % HISTORY];
	w->n_captured = n;
	return n;
}

static unsigned replay(struct wire *w, unsigned port)
{
	uint64_t now = nm_mono_ns();
	unsigned n = 0;
	for (unsigned i = 0; i < w->n_captured; i++) {
		struct rte_mbuf *m = from_bytes(w, &w->captured[i]);
		if (m != NULL) {
			forward(w, port, m, now);
			n++;
		}
	}
	return n;
}

/* One command line in, the reply out. */
static void run_command(struct wire *w, const char *line, char *out, size_t cap)
{
	struct we_cmd c;
	char err[160];
	if (we_parse(&w->emu, line, &c, err, sizeof(err)) < 0) {
		snprintf(out, cap, "error: %s\n", err);
		return;
	}
	size_t n = 0;
	switch (c.op) {
	case WE_OP_STATS:
		n = format_all(w, out, cap);
		break;
	case WE_OP_HELP:
		n = (size_t)snprintf(out, cap, "%s", we_help());
		break;
	case WE_OP_CAPTURE:
		n = (size_t)snprintf(out, cap, "captured %u\n", capture(w, c.port_lo, c.count));
		break;
	case WE_OP_REPLAY:
		n = (size_t)snprintf(out, cap, "replayed %u\n", replay(w, c.port_lo));
		break;
	default:
		we_apply(&w->emu, &c);
		break;
	}
	if (n < cap)
		snprintf(out + n, cap - n, "ok\n");
}

static int control_listen(struct wire *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->control) >= (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "netmesh-wire: --control %s: path too long\n", w->control);
		return -ENAMETOOLONG;
	}
	/* A socket left by an earlier run is replaced; anything else is never removed. */
	if (lstat(w->control, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(w->control);
	w->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->lsock < 0 || bind(w->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(w->lsock, 4) < 0) {
		fprintf(stderr, "netmesh-wire: --control %s: %s\n", w->control, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Serve one pending connection, if any: read a line, answer, close. */
static void control_poll(struct wire *w)
{
	int fd = accept4(w->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char line[256];
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sizeof(line) && (r = read(fd, line + n, sizeof(line) - 1 - n)) > 0) {
		n += (size_t)r;
		if (memchr(line, '\n', n) != NULL)
			break;
	}
	line[n] = '\0';
	static char reply[REPLY_MAX];
	run_command(w, line, reply, sizeof(reply));
	size_t len = strlen(reply), off = 0;
	while (off < len && (r = write(fd, reply + off, len - off)) > 0)
		off += (size_t)r;
	close(fd);
}

/* ------------------------------------------------------------------ client */

/* netmesh-wire --control PATH --cmd TEXT: 0 when the reply ends in "ok", 1 on an error, 2 no server. */
static int client(const char *path, const char *text)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "netmesh-wire: %s: %s (is netmesh-wire running?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	char buf[REPLY_MAX];
	int len = snprintf(buf, sizeof(buf), "%s\n", text);
	if (len <= 0 || len >= (int)sizeof(buf) || write(fd, buf, (size_t)len) != len) {
		close(fd);
		return 2;
	}
	shutdown(fd, SHUT_WR);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	fputs(buf, stdout);
	return n >= 3 && strcmp(buf + n - 3, "ok\n") == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ setup */

static void usage(const char *prog)
{
	printf("usage: %s [EAL args] -- --control PATH [--seed N] [--stats-period SEC]\n"
	       "       %s --control PATH --cmd \"COMMAND\"\n"
	       "Bridges every EAL port (e.g. --vdev=net_memif0,role=server,socket=S0 --vdev=\n"
	       "net_memif1,role=server,socket=S1) as an L2 learning switch, with faults per port\n"
	       "and direction, or per pair of ports, set at run time through the UNIX socket PATH.\n"
	       "  --control PATH        the command socket (required)\n"
	       "  --seed N              seed of every fault decision (default 1: runs repeat)\n"
	       "  --stats-period SEC    print the counters every SEC seconds (0: only at exit; default 0)\n"
	       "  --cmd COMMAND         send one command to a running netmesh-wire and print the reply;\n"
	       "                        exit 0 ok, 1 refused, 2 no server\n"
	       "%s", prog, prog, we_help());
}

struct opts {
	const char *control, *cmd;
	uint64_t seed;
	unsigned stats_period;
	bool help;
};

static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "control", required_argument, NULL, 'c' }, { "seed", required_argument, NULL, 's' },
		{ "stats-period", required_argument, NULL, 'p' }, { "cmd", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int ch;
	*o = (struct opts){ .seed = 1 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->control = optarg; break;
		case 'x': o->cmd = optarg; break;
		case 'h': o->help = true; break;
		case 's':
		case 'p':
			if (app_parse_uint(optarg, 0, ch == 's' ? ULONG_MAX : 3600, &v) < 0) {
				fprintf(stderr, "netmesh-wire: --%s %s: expected a number\n",
					ch == 's' ? "seed" : "stats-period", optarg);
				return -EINVAL;
			}
			if (ch == 's')
				o->seed = v;
			else
				o->stats_period = (unsigned)v;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netmesh-wire: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->help && o->control == NULL) {
		fprintf(stderr, "netmesh-wire: --control PATH is required (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

static int port_up(struct wire *w, uint16_t pid)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	int socket = rte_eth_dev_socket_id(pid), rc;
	if ((rc = rte_eth_dev_configure(pid, 1, 1, &conf)) < 0 ||
	    (rc = rte_eth_rx_queue_setup(pid, 0, 1024, socket, NULL, w->pool)) < 0 ||
	    (rc = rte_eth_tx_queue_setup(pid, 0, 1024, socket, NULL)) < 0 ||
	    (rc = rte_eth_dev_start(pid)) < 0) {
		fprintf(stderr, "netmesh-wire: port %u: %s\n", pid, strerror(-rc));
		return rc;
	}
	rte_eth_promiscuous_enable(pid); /* a switch takes every frame; memif has no filter anyway */
	return 0;
}

static int wire_up(struct wire *w, const struct opts *o)
{
	uint16_t pid;
	w->control = o->control;
	w->stats_period = o->stats_period;
	w->lsock = -1;
	unsigned n = 0;
	RTE_ETH_FOREACH_DEV(pid) n++;
	if (n < 2 || n > WE_MAX_PORTS) {
		fprintf(stderr, "netmesh-wire: %u ports: give EAL 2..%d (--vdev or -a)\n", n, WE_MAX_PORTS);
		return -EINVAL;
	}
	we_init(&w->emu, n, o->seed);
	w->pool = rte_pktmbuf_pool_create("wire_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (w->pool == NULL) {
		fprintf(stderr, "netmesh-wire: mempool: %s\n", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	RTE_ETH_FOREACH_DEV(pid) {
		w->io[w->n_ports].port_id = pid;
		if (port_up(w, pid) < 0)
			return -EIO;
		w->n_ports++;
	}
	return control_listen(w);
}

static void print_stats(struct wire *w, const char *title)
{
	static char buf[REPLY_MAX];
	format_all(w, buf, sizeof(buf));
	printf("netmesh-wire: %s\n%s", title, buf);
	fflush(stdout);
}

static void wire_down(struct wire *w)
{
	for (unsigned p = 0; p < WE_MAX_PORTS && p < w->emu.n_ports; p++)
		for (int d = 0; d < 2; d++) {
			struct rte_mbuf *m;
			while ((m = we_take(&w->emu, p, (enum we_dir)d, UINT64_MAX)) != NULL)
				rte_pktmbuf_free(m);
		}
	for (unsigned p = 0; p < w->n_ports; p++) {
		rte_eth_dev_stop(w->io[p].port_id);
		rte_eth_dev_close(w->io[p].port_id);
	}
	rte_mempool_free(w->pool);
	if (w->lsock >= 0) {
		close(w->lsock);
		unlink(w->control);
	}
}

static void run(struct wire *w)
{
	uint64_t next_ctl = 0, next_stats = nm_mono_ns() + (uint64_t)w->stats_period * NS_PER_S;
	printf("netmesh-wire: %u ports, control %s; Ctrl-C to stop\n", w->n_ports, w->control);
	fflush(stdout);
	while (!atomic_load(&app_force_quit)) {
		unsigned moved = step(w);
		uint64_t now = nm_mono_ns();
		if (now >= next_ctl) {
			control_poll(w);
			next_ctl = now + CONTROL_EVERY_NS;
		}
		if (w->stats_period != 0 && now >= next_stats) {
			print_stats(w, "stats");
			next_stats = now + (uint64_t)w->stats_period * NS_PER_S;
		}
		if (moved == 0)
			rte_delay_us_sleep(20); /* share the CPU; delays are coarser than this anyway */
	}
}

/* --help and --cmd need no EAL: the options are what follows "--", or everything. */
static int first_app_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
	return 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	int first = first_app_arg(argc, argv);
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "--cmd") == 0 || strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			argv[first - 1] = argv[0];
			if (parse_args(&o, argc - first + 1, argv + first - 1) < 0)
				return 1;
			if (o.help) {
				usage(argv[0]);
				return 0;
			}
			return client(o.control, o.cmd);
		}
	app_timer_slack("netmesh-wire");
	int used = rte_eal_init(argc, argv);
	if (used < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed: %s\n", rte_strerror(rte_errno));
	argc -= used;
	argv += used;
	app_signals_init(argv[0]);
	int status = 1;
	if (parse_args(&o, argc, argv) == 0 && wire_up(&W, &o) == 0) {
		run(&W);
		print_stats(&W, "final");
		status = 0;
	}
	wire_down(&W);
	rte_eal_cleanup();
	return status;
}

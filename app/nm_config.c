/* SPDX-License-Identifier: MIT */
/* nm_config.c - options from argv and config files, validation, printing (see header). */
#include "nm_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "app_common.h"
#include "nm_identity.h"
#include "nm_keys.h"
#include "nm_wire.h"
#include "nm_worker.h"

#define CONFIG_FILE_MAX (1 << 20)
#define SHOW_MAX 60 /* value bytes quoted in a message */

/* ------------------------------------------------------------ places */

/* What a message needs to name: where, which option, which value. */
struct place {
	const char *where;
	const char *name;
	const char *value;
	struct nm_error *err;
};

static bool from_argv(const char *where)
{
	return where[0] == '-';
}

/* err->msg = "HEAD: why". */
static int verror(struct nm_error *err, const char *head, const char *fmt, va_list ap)
{
	char why[NM_ERROR_MSG_MAX];
	vsnprintf(why, sizeof(why), fmt, ap);
	return nm_error_set(err, -EINVAL, "%s: %s", head, why);
}

/* "FILE:LINE: name 'value': why" or "--name 'value': why". */
static int bad(const struct place *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(const struct place *p, const char *fmt, ...)
{
	char val[SHOW_MAX + 48] = "", head[NM_CONFIG_WHERE_MAX + sizeof(val) + 48];
	if (p->value != NULL) {
		size_t n = strlen(p->value);
		if (n > SHOW_MAX)
			snprintf(val, sizeof(val), " '%.*s...' (%zu bytes)", SHOW_MAX, p->value, n);
		else
			snprintf(val, sizeof(val), " '%s'", p->value);
	}
	if (p->where[0] == '\0') /* a default */
		snprintf(head, sizeof(head), "--%s%s", p->name, val);
	else if (from_argv(p->where))
		snprintf(head, sizeof(head), "%s%s", p->where, val);
	else
		snprintf(head, sizeof(head), "%s: %s%s", p->where, p->name, val);
	va_list ap;
	va_start(ap, fmt);
	int rc = verror(p->err, head, fmt, ap);
	va_end(ap);
	return rc;
}

/* ------------------------------------------------------------ value parsers */

/* Decimal digits only (leading zeros are fine), in [min, max]. */
static int span_uint(const char *s, size_t len, unsigned long min, unsigned long max,
		     unsigned long *out)
{
	unsigned long v = 0;
	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Copy a span into buf (NUL-terminated) when it fits; -E2BIG otherwise. */
static int span_copy(char *buf, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		return -E2BIG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

static int set_uint(const struct place *p, unsigned long min, unsigned long max,
		    unsigned long *out)
{
	if (span_uint(p->value, strlen(p->value), min, max, out) < 0)
		return bad(p, "a decimal number in %lu..%lu", min, max);
	return 0;
}

/*
 * A path of len bytes into dst: relative to base (the config file's
 * directory) unless absolute or base is "". -E2BIG when it does not fit.
 */
static int join_path(char *dst, const char *base, const char *s, size_t len)
{
	size_t b = s[0] == '/' ? 0 : strlen(base);
	if (b + 1 + len >= NM_CONFIG_PATH_MAX)
		return -E2BIG;
	memcpy(dst, base, b);
	if (b != 0 && base[b - 1] != '/')
		dst[b++] = '/';
	memcpy(dst + b, s, len);
	dst[b + len] = '\0';
	return 0;
}

static int set_path(const struct nm_app_config *c, const struct place *p, char *dst)
{
	if (p->value[0] == '\0')
		return bad(p, "empty path");
	if (join_path(dst, c->base_dir, p->value, strlen(p->value)) < 0)
		return bad(p, "path too long (at most %d bytes)", NM_CONFIG_PATH_MAX - 1);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ setters */

static int set_ip(struct nm_app_config *c, const struct place *p)
{
	if (app_parse_ipv4(p->value, &c->ip) < 0)
		return bad(p, "bad IPv4 address");
	if (c->ip == 0)
		return bad(p, "0.0.0.0 is not an address of the port");
	return 0;
}

static int set_port(struct nm_app_config *c, const struct place *p)
{
	if (p->value[0] == '\0' || span_copy(c->port, sizeof(c->port), p->value,
					     strlen(p->value)) < 0)
		return bad(p, "an ethdev name or port id of 1..%d bytes", NM_CONFIG_PORT_MAX - 1);
	return 0;
}

static int set_lcores(struct nm_app_config *c, const struct place *p)
{
	const char *s = p->value;
	unsigned n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		unsigned long lc = 0;
		if (n == NM_PORT_MAX_QUEUES)
			return bad(p, "at most %d lcores (one per queue)", NM_PORT_MAX_QUEUES);
		if (span_uint(s, len, 0, RTE_MAX_LCORE - 1, &lc) < 0)
			return bad(p, "comma-separated lcore ids (0..%d)", RTE_MAX_LCORE - 1);
		for (unsigned i = 0; i < n; i++)
			if (c->lcores[i] == lc)
				return bad(p, "lcore %lu given twice", lc);
		c->lcores[n++] = (unsigned)lc;
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	c->n_lcores = n;
	return 0;
}

/* KIND:SEEDFILE:LCORE; the seed file may contain ':' (the lcore is after the last). */
static int add_daemon(struct nm_app_config *c, const struct place *p)
{
	const char *v = p->value, *a = strchr(v, ':'), *b = a ? strrchr(v, ':') : NULL;
	unsigned long lc = 0;
	if (a == NULL || b == a || a == v || b == a + 1)
		return bad(p, "expected KIND:SEEDFILE:LCORE");
	if (c->n_daemons == NM_CONFIG_MAX_DAEMONS)
		return bad(p, "too many daemons (at most %d)", NM_CONFIG_MAX_DAEMONS);
	struct nm_config_daemon *d = &c->daemons[c->n_daemons];
	if (span_copy(d->kind, sizeof(d->kind), v, (size_t)(a - v)) < 0)
		return bad(p, "kind longer than %d bytes (KIND:SEEDFILE:LCORE)", NM_KIND_MAX);
	if (join_path(d->seed_file, c->base_dir, a + 1, (size_t)(b - a - 1)) < 0)
		return bad(p, "seed file path too long (at most %d bytes)", NM_CONFIG_PATH_MAX - 1);
	if (span_uint(b + 1, strlen(b + 1), 0, RTE_MAX_LCORE - 1, &lc) < 0)
		return bad(p, "LCORE is a lcore id 0..%d (KIND:SEEDFILE:LCORE)", RTE_MAX_LCORE - 1);
	d->lcore = (unsigned)lc;
	d->origin = 0;
	snprintf(d->where, sizeof(d->where), "%s", p->where);
	c->n_daemons++;
	return 0;
}

/* KIND:LCORE. */
static int add_accept(struct nm_app_config *c, const struct place *p)
{
	const char *v = p->value, *a = strrchr(v, ':');
	unsigned long lc = 0;
	if (a == NULL || a == v)
		return bad(p, "expected KIND:LCORE");
	if (c->n_accepts == NM_CONFIG_MAX_ACCEPT)
		return bad(p, "too many kinds (at most %d)", NM_CONFIG_MAX_ACCEPT);
	struct nm_config_accept *x = &c->accepts[c->n_accepts];
	if (span_copy(x->kind, sizeof(x->kind), v, (size_t)(a - v)) < 0)
		return bad(p, "kind longer than %d bytes (KIND:LCORE)", NM_KIND_MAX);
	if (span_uint(a + 1, strlen(a + 1), 0, RTE_MAX_LCORE - 1, &lc) < 0)
		return bad(p, "LCORE is a lcore id 0..%d (KIND:LCORE)", RTE_MAX_LCORE - 1);
	for (unsigned i = 0; i < c->n_accepts; i++)
		if (strcmp(c->accepts[i].kind, x->kind) == 0)
			return bad(p, "kind '%s' is accepted already", x->kind);
	x->lcore = (unsigned)lc;
	c->n_accepts++;
	return 0;
}

/* One ",name=value" attribute of a peer. */
static int peer_attr(struct nm_config_peer *pe, const char *s, size_t len, unsigned *seen,
		     const struct place *p)
{
	char buf[80];
	if (len > 5 && memcmp(s, "node=", 5) == 0) {
		if (*seen & 1)
			return bad(p, "node= given twice");
		*seen |= 1;
		if (span_copy(buf, sizeof(buf), s + 5, len - 5) < 0 ||
		    app_parse_hex_u64(buf, &pe->node_id) < 0 || pe->node_id == 0)
			return bad(p, "node= wants the node_id in hex (1..16 digits, not 0)");
	} else if (len > 7 && memcmp(s, "static=", 7) == 0) {
		if (*seen & 2)
			return bad(p, "static= given twice");
		*seen |= 2;
		if (span_copy(buf, sizeof(buf), s + 7, len - 7) < 0 ||
		    app_parse_hex32(buf, pe->static_pub) < 0)
			return bad(p, "static= wants 64 hex digits");
		pe->has_static = true;
	} else if (len == 7 && memcmp(s, "connect", 7) == 0) {
		if (*seen & 4)
			return bad(p, "connect given twice");
		*seen |= 4;
		pe->connect = true;
	} else {
		return bad(p, "unknown attribute '%.*s' (node=, static=, connect)",
			   (int)(len > 20 ? 20 : len), s);
	}
	return 0;
}

/* IP[:PORT][@MAC] before the first comma. */
static int peer_addr(struct nm_config_peer *pe, const char *s, size_t len, const struct place *p)
{
	char buf[INET_ADDRSTRLEN + 24];
	const char *at = memchr(s, '@', len), *end = at ? at : s + len;
	const char *colon = memchr(s, ':', (size_t)(end - s));
	if (at != NULL) {
		if (span_copy(buf, sizeof(buf), at + 1, (size_t)(s + len - at - 1)) < 0 ||
		    app_parse_mac(buf, &pe->mac) < 0)
			return bad(p, "bad MAC (after '@')");
		pe->has_mac = true;
	}
	if (colon != NULL) {
		unsigned long port = 0;
		if (span_uint(colon + 1, (size_t)(end - colon - 1), 1, 65535, &port) < 0)
			return bad(p, "bad UDP port (1..65535 after ':')");
		pe->port = (uint16_t)port;
		end = colon;
	}
	if (span_copy(buf, sizeof(buf), s, (size_t)(end - s)) < 0 ||
	    app_parse_ipv4(buf, &pe->ip) < 0 || pe->ip == 0)
		return bad(p, "bad IPv4 address");
	return 0;
}

/* IP[:PORT][@MAC],node=HEX[,static=HEX][,connect] */
static int parse_peer(const struct place *p, struct nm_config_peer *pe)
{
	const char *v = p->value;
	size_t len = strcspn(v, ",");
	unsigned seen = 0;
	*pe = (struct nm_config_peer){ .port = NM_NET_DEFAULT_PORT };
	if (peer_addr(pe, v, len, p) < 0)
		return -EINVAL;
	for (const char *s = v + len; *s == ','; s += len) {
		s++;
		len = strcspn(s, ",");
		if (peer_attr(pe, s, len, &seen, p) < 0)
			return -EINVAL;
	}
	if (pe->node_id == 0)
		return bad(p, "node=HEX is required (it is in the handshake)");
	if (pe->connect && !pe->has_static)
		return bad(p, "connect needs static=HEX");
	snprintf(pe->where, sizeof(pe->where), "%s", p->where);
	return 0;
}

int nm_config_parse_peer(const char *value, const char *where, struct nm_config_peer *out,
			 struct nm_error *err)
{
	struct place p = { .where = where, .name = "peer", .value = value, .err = err };
	return parse_peer(&p, out);
}

static int add_peer(struct nm_app_config *c, const struct place *p)
{
	struct nm_config_peer pe;
	if (parse_peer(p, &pe) < 0)
		return -EINVAL;
	if (c->n_peers == NM_CONFIG_MAX_PEERS)
		return bad(p, "too many peers (at most %d)", NM_CONFIG_MAX_PEERS);
	c->peers[c->n_peers++] = pe;
	return 0;
}

static int set_flag(const struct place *p, bool *flag)
{
	if (p->value != NULL && parse_bool(p->value, flag) < 0)
		return bad(p, "yes or no (or no value)");
	if (p->value == NULL)
		*flag = true;
	return 0;
}

/* A UNIX socket's path fits sun_path (108 bytes with the NUL). */
static int set_ctl_socket(struct nm_app_config *c, const struct place *p)
{
	struct sockaddr_un sa;
	if (set_path(c, p, c->ctl_socket) < 0)
		return -EINVAL;
	if (strlen(c->ctl_socket) >= sizeof(sa.sun_path))
		return bad(p, "a UNIX socket path has at most %zu bytes (this one is %zu resolved)",
			   sizeof(sa.sun_path) - 1, strlen(c->ctl_socket));
	return 0;
}

/* ------------------------------------------------------------ the option table */

enum {
	F_FLAG = 1,   /* no value (on the command line; optional yes/no in a file) */
	F_REPEAT = 2, /* repeatable: each one adds */
	F_ARGV = 4,   /* command line only */
};

struct opt {
	const char *name;
	const char *arg;
	const char *help;
	unsigned flags;
	unsigned long lo, hi; /* numeric range, when numeric */
};

enum opt_id {
	O_IP, O_PORT, O_UDP_PORT, O_QUEUES, O_WORKER_LCORES, O_MTU, O_MBUFS, O_RXD, O_TXD,
	O_BURST, O_STATS_PERIOD, O_PSK_FILE, O_KEYS, O_STATE_DIR, O_SNAPSHOT_INTERVAL,
	O_SPLIT_KEYS, O_DAEMON, O_PEER, O_ACCEPT, O_IDLE_SLEEP_US, O_MIGRATE_PREPARE_MS,
	O_INTERACTIVE, O_CMDLINE_FILE, O_CTL_SOCKET, O_CONFIG, O_CHECK_CONFIG, O_SHOW_IDENTITY,
	O_HELP, O_COUNT
};
_Static_assert(O_COUNT <= NM_CONFIG_N_OPTIONS, "origins[] too small");

static const struct opt OPTS[O_COUNT] = {
	[O_IP] = { "ip", "A.B.C.D", "IPv4 address of the port (required)", 0, 0, 0 },
	[O_PORT] = { "port", "NAME|ID", "ethdev name or port id (default: the first port)", 0, 0, 0 },
	[O_UDP_PORT] = { "udp-port", "N", "UDP port (default 7777)", 0, 1, 65535 },
	[O_QUEUES] = { "queues", "N", "RX/TX queues, one worker each (default 1)", 0, 1,
		       NM_PORT_MAX_QUEUES },
	[O_WORKER_LCORES] = { "worker-lcores", "L,L,..",
			      "lcore of each queue's worker (default: EAL worker lcores)", 0, 0, 0 },
	[O_MTU] = { "mtu", "N", "IP MTU (default 1500)", 0, 576, 9000 },
	[O_MBUFS] = { "mbufs", "N", "mbufs in the pool (default 8191)", 0, 1023, 1u << 24 },
	[O_RXD] = { "rxd", "N", "RX descriptors per queue (default 1024; the device's limits apply)",
		    0, 1, 32768 },
	[O_TXD] = { "txd", "N", "TX descriptors per queue (default 1024; the device's limits apply)",
		    0, 1, 32768 },
	[O_BURST] = { "burst", "N", "packets per RX/TX burst (default and most 32)", 0, 1, NM_BURST },
	[O_STATS_PERIOD] = { "stats-period", "SEC",
			     "print counters every SEC seconds (0: off; default 1)", 0, 0, 3600 },
	[O_PSK_FILE] = { "psk-file", "FILE",
			 "mesh PSK: 32 raw bytes or 64 hex digits, mode 0600 (required)", 0, 0, 0 },
	[O_KEYS] = { "keys", "DIR", "node keys (identity.seed, noise.key), created 0600 on first use",
		     0, 0, 0 },
	[O_STATE_DIR] = { "state-dir", "DIR", "daemon snapshots survive restarts here", 0, 0, 0 },
	[O_SNAPSHOT_INTERVAL] = { "snapshot-interval", "SEC",
				  "also snapshot every SEC seconds (0: only on stop; needs state-dir)",
				  0, 0, 86400 },
	[O_SPLIT_KEYS] = { "split-keys", NULL,
			   "derive session keys with Noise Split() (not upstream-compatible)", F_FLAG,
			   0, 0 },
	[O_DAEMON] = { "daemon", "KIND:SEEDFILE:LCORE", "spawn a daemon at start (repeatable)",
		       F_REPEAT, 0, 0 },
	[O_PEER] = { "peer", "IP[:PORT][@MAC],node=HEX[,static=HEX][,connect]",
		     "a peer (repeatable): its node_id, X25519 static key (to connect), 'connect' to "
		     "initiate and keep a session; MAC learned by ARP if omitted",
		     F_REPEAT, 0, 0 },
	[O_ACCEPT] = { "accept", "KIND:LCORE",
		       "take inbound migrations of daemons of KIND onto worker LCORE (repeatable)",
		       F_REPEAT, 0, 0 },
	[O_IDLE_SLEEP_US] = { "idle-sleep-us", "US",
			      "an idle worker sleeps US per loop (0: busy-poll; default 0)", 0, 0,
			      100000 },
	[O_MIGRATE_PREPARE_MS] = { "migrate-prepare-ms", "MS",
				   "a migration started here wakes its target first (MigrationPrepare) "
				   "and snapshots on its answer or after MS (0: at once; default 5)",
				   0, 0, 1000 },
	[O_INTERACTIVE] = { "interactive", NULL,
			    "the netmesh> prompt: commands with help, completion and history (-i)",
			    F_FLAG | F_ARGV, 0, 0 },
	[O_CMDLINE_FILE] = { "cmdline-file", "FILE",
			     "run FILE's commands at start (stops at the first error unless the "
			     "line starts with '-')", 0, 0, 0 },
	[O_CTL_SOCKET] = { "ctl-socket", "PATH",
			   "serve the commands on a UNIX socket (mode 0600; scripts/netmesh-ctl)",
			   0, 0, 0 },
	[O_CONFIG] = { "config", "FILE", "read options from FILE (command-line options override it)",
		       F_ARGV, 0, 0 },
	[O_CHECK_CONFIG] = { "check-config", "FILE",
			     "parse and validate FILE and the options, print what would run, exit 0 "
			     "or 1 (no EAL)", F_ARGV, 0, 0 },
	[O_SHOW_IDENTITY] = { "show-identity", NULL,
			      "print node_id and the static public key of --keys, then exit (no EAL)",
			      F_FLAG | F_ARGV, 0, 0 },
	[O_HELP] = { "help", NULL, "this text (no EAL)", F_FLAG | F_ARGV, 0, 0 },
};

static int find_opt(const char *name)
{
	for (int i = 0; i < O_COUNT; i++)
		if (strcmp(OPTS[i].name, name) == 0)
			return i;
	return -1;
}

/* A number in the option's range, into a 16- or 32-bit field. */
static int set_num(const struct place *p, int id, uint16_t *u16, unsigned *u32)
{
	unsigned long n = 0;
	if (set_uint(p, OPTS[id].lo, OPTS[id].hi, &n) < 0)
		return -EINVAL;
	if (u16 != NULL)
		*u16 = (uint16_t)n;
	else
		*u32 = (unsigned)n;
	return 0;
}

static int set_value(struct nm_app_config *c, int id, const struct place *p)
{
	switch (id) {
	case O_IP: return set_ip(c, p);
	case O_PORT: return set_port(c, p);
	case O_UDP_PORT: return set_num(p, id, &c->udp_port, NULL);
	case O_QUEUES: return set_num(p, id, &c->queues, NULL);
	case O_WORKER_LCORES: return set_lcores(c, p);
	case O_MTU: return set_num(p, id, &c->mtu, NULL);
	case O_RXD: return set_num(p, id, &c->rx_desc, NULL);
	case O_TXD: return set_num(p, id, &c->tx_desc, NULL);
	case O_BURST: return set_num(p, id, &c->burst, NULL);
	case O_MBUFS: return set_num(p, id, NULL, &c->n_mbufs);
	case O_STATS_PERIOD: return set_num(p, id, NULL, &c->stats_period);
	case O_SNAPSHOT_INTERVAL: return set_num(p, id, NULL, &c->snapshot_interval);
	case O_PSK_FILE: return set_path(c, p, c->psk_file);
	case O_KEYS: return set_path(c, p, c->keys_dir);
	case O_STATE_DIR: return set_path(c, p, c->state_dir);
	case O_SPLIT_KEYS: return set_flag(p, &c->use_split);
	case O_DAEMON: return add_daemon(c, p);
	case O_PEER: return add_peer(c, p);
	case O_ACCEPT: return add_accept(c, p);
	case O_IDLE_SLEEP_US: return set_num(p, id, NULL, &c->idle_sleep_us);
	case O_MIGRATE_PREPARE_MS: return set_num(p, id, NULL, &c->migrate_prepare_ms);
	case O_INTERACTIVE: return set_flag(p, &c->interactive);
	case O_CMDLINE_FILE: return set_path(c, p, c->cmdline_file);
	case O_CTL_SOCKET: return set_ctl_socket(c, p);
	case O_CONFIG: return set_path(c, p, c->config_file);
	case O_CHECK_CONFIG:
		c->check = true;
		return set_path(c, p, c->config_file);
	case O_SHOW_IDENTITY: return set_flag(p, &c->show_identity);
	case O_HELP: return set_flag(p, &c->help);
	}
	return bad(p, "unknown option");
}

void nm_config_init(struct nm_app_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->udp_port = NM_NET_DEFAULT_PORT;
	cfg->queues = 1;
	cfg->mtu = 1500;
	cfg->n_mbufs = 8191;
	cfg->rx_desc = 1024;
	cfg->tx_desc = 1024;
	cfg->burst = NM_BURST;
	cfg->stats_period = 1;
	cfg->migrate_prepare_ms = 5; /* ~4x the worst idle nap of a target (1 ms + a worker's) */
	cfg->source = cfg->n_sources = 1; /* direct nm_config_apply calls */
}

int nm_config_apply(struct nm_app_config *cfg, const char *name, const char *value,
		    const char *where, struct nm_error *err)
{
	struct place p = { .where = where ? where : "", .name = name, .value = value, .err = err };
	if (cfg == NULL || name == NULL || where == NULL)
		return nm_error_set(err, -EINVAL, "config: cfg, name and where are required");
	int id = find_opt(name);
	if (id < 0)
		return bad(&p, "unknown option");
	const struct opt *o = &OPTS[id];
	if ((o->flags & F_ARGV) && !from_argv(where))
		return bad(&p, "a command-line option only");
	if (value == NULL && !(o->flags & F_FLAG))
		return bad(&p, "missing value (%s)", o->arg);
	struct nm_config_origin *org = &cfg->origins[id];
	if (!(o->flags & F_REPEAT) && org->source == cfg->source)
		return bad(&p, "given twice (first at %s)", org->where);
	int rc = set_value(cfg, id, &p);
	if (rc == 0) {
		org->source = cfg->source;
		snprintf(org->where, sizeof(org->where), "%s", where);
	}
	return rc;
}

/* ------------------------------------------------------------ config files */

struct line {
	const char *s, *e; /* the line, without its newline */
	const char *file;
	unsigned no;
	struct nm_error *err;
};

static int line_error(const struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int line_error(const struct line *l, const char *fmt, ...)
{
	char head[NM_CONFIG_WHERE_MAX];
	snprintf(head, sizeof(head), "%s:%u", l->file, l->no);
	va_list ap;
	va_start(ap, fmt);
	int rc = verror(l->err, head, fmt, ap);
	va_end(ap);
	return rc;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static const char *skip_space(const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	return s;
}

static bool token_end(const char *s, const char *e)
{
	return s == e || is_space(*s) || *s == '#';
}

/* "..." with \" and \\; *s is at the opening quote. */
static int quoted(const struct line *l, const char **s, char *out, size_t cap, size_t *len)
{
	const char *q = *s + 1;
	size_t n = 0;
	for (;; q++) {
		if (q == l->e)
			return line_error(l, "unterminated quote");
		char ch = *q;
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (q + 1 == l->e || (q[1] != '"' && q[1] != '\\'))
				return line_error(l, "unknown escape in quotes (only \\\" and \\\\)");
			ch = *++q;
		}
		if (n + 1 >= cap)
			return line_error(l, "value too long (at most %zu bytes)", cap - 1);
		out[n++] = ch;
	}
	*s = q + 1;
	if (!token_end(*s, l->e))
		return line_error(l, "text right after a closing quote");
	out[n] = '\0';
	*len = n;
	return 0;
}

/* One value token: quoted, or a word up to a space, '#' or the end. */
static int token(const struct line *l, const char **s, char *out, size_t cap)
{
	size_t n = 0;
	if (**s == '"')
		return quoted(l, s, out, cap, &n);
	const char *w = *s;
	while (!token_end(w, l->e)) {
		if (*w == '"')
			return line_error(l, "a quote inside a word (quote the whole value)");
		w++;
	}
	n = (size_t)(w - *s);
	if (n >= cap)
		return line_error(l, "value too long (%zu bytes, at most %zu)", n, cap - 1);
	memcpy(out, *s, n);
	out[n] = '\0';
	*s = w;
	return 0;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/* name [=] [value] [# comment] */
static int parse_line(struct nm_app_config *cfg, const struct line *l, char *value)
{
	const char *s = skip_space(l->s, l->e), *n = s;
	if (s == l->e || *s == '#')
		return 0;
	while (s < l->e && name_char(*s))
		s++;
	char name[40];
	if (s == n || !(token_end(s, l->e) || *s == '=') ||
	    span_copy(name, sizeof(name), n, (size_t)(s - n)) < 0) {
		const char *w = n;
		while (w < l->e && w - n < 40 && !token_end(w, l->e) && *w != '=')
			w++;
		return line_error(l, "'%.*s': not an option name", (int)(w - n), n);
	}
	s = skip_space(s, l->e);
	if (s < l->e && *s == '=')
		s = skip_space(s + 1, l->e);
	bool has_value = s < l->e && *s != '#';
	if (has_value && token(l, &s, value, NM_CONFIG_VALUE_MAX) < 0)
		return -EINVAL;
	s = skip_space(s, l->e);
	if (s < l->e && *s != '#') {
		size_t show = (size_t)(l->e - s);
		return line_error(l, "%s: extra text '%.*s' after the value (quote a value with spaces)",
				  name, (int)(show > 40 ? 40 : show), s);
	}
	char where[NM_CONFIG_WHERE_MAX];
	snprintf(where, sizeof(where), "%s:%u", l->file, l->no);
	return nm_config_apply(cfg, name, has_value ? value : NULL, where, l->err);
}

int nm_config_parse_buffer(struct nm_app_config *cfg, const char *text, size_t len,
			   const char *filename, struct nm_error *err)
{
	if (cfg == NULL || (text == NULL && len > 0) || filename == NULL)
		return nm_error_set(err, -EINVAL, "config: cfg, text and filename are required");
	char *value = malloc(NM_CONFIG_VALUE_MAX);
	if (value == NULL)
		return nm_error_set(err, -ENOMEM, "%s: out of memory", filename);
	int saved = cfg->source, rc = 0;
	cfg->source = ++cfg->n_sources;
	/* Relative paths in the file are relative to its directory. */
	const char *slash = strrchr(filename, '/');
	size_t dlen = slash == NULL ? 0 : slash == filename ? 1 : (size_t)(slash - filename);
	if (dlen >= sizeof(cfg->base_dir)) {
		free(value);
		return nm_error_set(err, -E2BIG, "config '%.60s...': path too long", filename);
	}
	memcpy(cfg->base_dir, filename, dlen);
	cfg->base_dir[dlen] = '\0';
	struct line l = { .s = text, .file = filename, .err = err };
	const char *end = text + len;
	while (rc == 0 && l.s < end) {
		const char *nl = memchr(l.s, '\n', (size_t)(end - l.s));
		l.e = nl ? nl : end;
		l.no++;
		if (memchr(l.s, '\0', (size_t)(l.e - l.s)) != NULL)
			rc = line_error(&l, "NUL byte (not a text file?)");
		else {
			const char *keep = l.e;
			if (l.e > l.s && l.e[-1] == '\r')
				l.e--;
			rc = parse_line(cfg, &l, value);
			l.e = keep;
		}
		l.s = l.e + 1;
	}
	cfg->source = saved;
	cfg->base_dir[0] = '\0';
	free(value);
	return rc;
}

int nm_config_parse_file(struct nm_app_config *cfg, const char *path, struct nm_error *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return nm_error_set(err, -errno, "config '%s': %s", path, strerror(errno));
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	int rc, failed = ferror(f);
	fclose(f);
	if (buf == NULL)
		rc = nm_error_set(err, -ENOMEM, "config '%s': out of memory", path);
	else if (failed)
		rc = nm_error_set(err, -EIO, "config '%s': read error", path);
	else if (n > CONFIG_FILE_MAX)
		rc = nm_error_set(err, -EFBIG, "config '%s': larger than %d bytes", path,
				  CONFIG_FILE_MAX);
	else
		rc = nm_config_parse_buffer(cfg, buf, n, path, err);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ argv */

/* One argument: "--name", "--name=value" or "-h"; the value may be the next argv. */
static int argv_option(struct nm_app_config *cfg, int argc, char **argv, int *i, bool files,
		       struct nm_error *err)
{
	const char *a = argv[*i], *eq;
	char name[40], where[48];
	if (strcmp(a, "-h") == 0)
		a = "--help";
	else if (strcmp(a, "-i") == 0)
		a = "--interactive";
	if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
		return nm_error_set(err, -EINVAL, "unexpected argument '%.60s'%s", a,
				    a[0] == '-' ? " (EAL arguments go before '--')" : "");
	eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	int id = span_copy(name, sizeof(name), a + 2, len) == 0 ? find_opt(name) : -1;
	if (id < 0)
		return nm_error_set(err, -EINVAL, "%.*s: unknown option%s", (int)(len > 40 ? 42 : len + 2),
				    a, " (EAL arguments go before '--')");
	const char *value = eq ? eq + 1 : NULL;
	if (value == NULL && !(OPTS[id].flags & F_FLAG)) {
		if (*i + 1 >= argc)
			return nm_error_set(err, -EINVAL, "--%s: missing value (%s)", name, OPTS[id].arg);
		value = argv[++*i];
	}
	bool is_file = id == O_CONFIG || id == O_CHECK_CONFIG;
	if (is_file != files)
		return 0;
	snprintf(where, sizeof(where), "--%s", name);
	return nm_config_apply(cfg, name, value, where, err);
}

/* Pass over argv applying either the config-file options or all the others. */
static int argv_pass(struct nm_app_config *cfg, int argc, char **argv, bool files,
		     struct nm_error *err)
{
	for (int i = 1; i < argc; i++)
		if (argv_option(cfg, argc, argv, &i, files, err) < 0)
			return -EINVAL;
	return 0;
}

int nm_config_parse_argv(struct nm_app_config *cfg, int argc, char **argv, struct nm_error *err)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cfg->help = true; /* whatever else is wrong */
			return 0;
		}
	cfg->source = ++cfg->n_sources;
	int argv_source = cfg->source;
	if (argv_pass(cfg, argc, argv, true, err) < 0)
		return -EINVAL;
	if (cfg->config_file[0] != '\0' && nm_config_parse_file(cfg, cfg->config_file, err) < 0)
		return -EINVAL;
	cfg->source = argv_source;
	return argv_pass(cfg, argc, argv, false, err);
}

int nm_config_app_args(int argc, char **argv, int *eal_argc)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			*eal_argc = i;
			return i + 1;
		}
	*eal_argc = 1;
	return 1;
}

/* ------------------------------------------------------------ validation */

/* The place a single-valued option came from ("FILE:3", or "" when it is the default). */
static struct place at(const struct nm_app_config *c, int id, const char *value,
		       struct nm_error *err)
{
	return (struct place){ .where = c->origins[id].where, .name = OPTS[id].name,
			       .value = value, .err = err };
}

static int required(int id, const char *why, struct nm_error *err)
{
	return nm_error_set(err, -EINVAL, "--%s %s is required%s", OPTS[id].name, OPTS[id].arg, why);
}

/* A secret (PSK) like nm_keys' key files: a regular file with no group/other access. */
static int check_secret_file(const struct place *p)
{
	struct stat st;
	if (stat(p->value, &st) != 0)
		return bad(p, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(p, "not a regular file");
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return bad(p, "mode %04o gives group/other access; chmod 600 it",
			   (unsigned)(st.st_mode & 07777));
	return 0;
}

/* A key file nm_keys would load: no symlink, regular, 32 bytes, 0600 at most. */
static int check_key_file(const struct place *p, const char *dir, const char *name)
{
	char path[NM_CONFIG_PATH_MAX + 32];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : bad(p, "%s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(p, "%s: not a regular file (symlinks are refused)", name);
	if (st.st_size != NM_KEYS_FILE_LEN)
		return bad(p, "%s: %lld bytes, a key file has %d", name, (long long)st.st_size,
			   NM_KEYS_FILE_LEN);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return bad(p, "%s: mode %04o gives group/other access; chmod 600 it", name,
			   (unsigned)(st.st_mode & 07777));
	return 0;
}

/* A directory that exists (not group/other writable), or whose parent does (created 0700). */
static int check_dir(const struct place *p, bool keys)
{
	struct stat st;
	if (stat(p->value, &st) != 0) {
		if (errno != ENOENT)
			return bad(p, "%s", strerror(errno));
		char parent[NM_CONFIG_PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", p->value);
		char *slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		else
			snprintf(parent, sizeof(parent), ".");
		if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
			return bad(p, "missing, and so is its parent '%s' (only one level is created)",
				   parent);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return bad(p, "not a directory");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return bad(p, "mode %04o is group/other writable; chmod 700 it",
			   (unsigned)(st.st_mode & 07777));
	if (!keys)
		return 0;
	int rc = check_key_file(p, p->value, NM_KEYS_IDENTITY_FILE);
	return rc < 0 ? rc : check_key_file(p, p->value, NM_KEYS_NOISE_FILE);
}

static int check_psk(const struct nm_app_config *c, struct nm_error *err)
{
	struct place p = at(c, O_PSK_FILE, c->psk_file, err);
	uint8_t key[32];
	struct nm_error kerr = { 0 };
	if (check_secret_file(&p) < 0)
		return -EINVAL;
	int rc = nm_key32_from_file(key, c->psk_file, &kerr);
	sodium_memzero(key, sizeof(key));
	return rc < 0 ? bad(&p, "%s", kerr.msg) : 0;
}

static bool eal_has(const struct nm_config_eal *e, unsigned lc)
{
	return lc < RTE_MAX_LCORE && (e->lcores[lc / 64] >> (lc % 64) & 1);
}

/* "0-2,5" for messages. */
static void format_lcores(const struct nm_config_eal *e, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned lc = 0; lc < RTE_MAX_LCORE && n < cap; lc++) {
		if (!eal_has(e, lc) || (lc > 0 && eal_has(e, lc - 1)))
			continue;
		unsigned last = lc;
		while (last + 1 < RTE_MAX_LCORE && eal_has(e, last + 1))
			last++;
		n += (size_t)snprintf(out + n, cap - n, last == lc ? "%s%u" : "%s%u-%u",
				      n ? "," : "", lc, last);
	}
}

/*
 * The worker lcores, in queue order: worker-lcores, or the first EAL worker
 * lcores when EAL's are known. 0 when they cannot be known before EAL.
 */
static int worker_lcores(const struct nm_app_config *c, unsigned *out, unsigned *n,
			 struct nm_error *err)
{
	const struct nm_config_eal *e = &c->eal;
	char have[128];
	*n = 0;
	if (e->known)
		format_lcores(e, have, sizeof(have));
	for (unsigned i = 0; i < c->n_lcores; i++) {
		unsigned lc = c->lcores[i];
		if (e->known && (!eal_has(e, lc) || lc == e->main_lcore)) {
			struct place p = at(c, O_WORKER_LCORES, NULL, err);
			return bad(&p, "lcore %u is not an EAL worker lcore (EAL lcores %s, main %u)",
				   lc, have, e->main_lcore);
		}
		out[(*n)++] = lc;
	}
	if (c->n_lcores != 0 || !e->known)
		return 0;
	for (unsigned lc = 0; lc < RTE_MAX_LCORE && *n < c->queues; lc++)
		if (eal_has(e, lc) && lc != e->main_lcore)
			out[(*n)++] = lc;
	if (*n < c->queues) {
		struct place p = at(c, O_QUEUES, NULL, err);
		return bad(&p, "%u queue(s) need as many EAL worker lcores; EAL lcores %s with main "
			   "%u leave %u (-l/--lcores)", c->queues, have, e->main_lcore, *n);
	}
	return 0;
}

/* Each seed loads; no two daemons share one (same origin); lcores are workers'. */
static int check_daemons(struct nm_app_config *c, struct nm_error *err)
{
	unsigned workers[NM_PORT_MAX_QUEUES], n_workers;
	if (worker_lcores(c, workers, &n_workers, err) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < c->n_daemons; i++) {
		struct nm_config_daemon *d = &c->daemons[i];
		struct place p = { .where = d->where, .name = "daemon", .value = d->seed_file,
				   .err = err };
		struct nm_identity id;
		struct nm_error ierr = { 0 };
		if (nm_identity_from_file(&id, d->seed_file, &ierr) < 0)
			return bad(&p, "%s", ierr.msg);
		d->origin = id.origin_hash;
		nm_identity_wipe(&id);
		for (unsigned j = 0; j < i; j++)
			if (c->daemons[j].origin == d->origin)
				return bad(&p, "the same identity (origin 0x%016" PRIx64
					   ") as the daemon at %s", d->origin, c->daemons[j].where);
		bool pinned = n_workers == 0;
		for (unsigned w = 0; w < n_workers; w++)
			pinned |= workers[w] == d->lcore;
		if (!pinned)
			return bad(&p, "lcore %u is not a worker lcore (%s)", d->lcore,
				   c->n_lcores ? "worker-lcores" : "the first EAL worker lcores");
	}
	return 0;
}

static int check_peers(const struct nm_app_config *c, struct nm_error *err)
{
	for (unsigned i = 0; i < c->n_peers; i++) {
		const struct nm_config_peer *pe = &c->peers[i];
		struct place p = { .where = pe->where, .name = "peer", .err = err };
		if (pe->ip == c->ip && pe->port == c->udp_port)
			return bad(&p, "this is our own address");
		for (unsigned j = 0; j < i; j++) {
			if (c->peers[j].ip == pe->ip && c->peers[j].port == pe->port)
				return bad(&p, "same address as the peer at %s", c->peers[j].where);
			if (c->peers[j].node_id == pe->node_id)
				return bad(&p, "same node= as the peer at %s", c->peers[j].where);
		}
	}
	return 0;
}

/* The front ends' files: a readable command file; a socket path whose directory exists. */
static int check_frontends(const struct nm_app_config *c, struct nm_error *err)
{
	struct stat st;
	if (c->cmdline_file[0] != '\0') {
		struct place p = at(c, O_CMDLINE_FILE, c->cmdline_file, err);
		if (stat(c->cmdline_file, &st) != 0)
			return bad(&p, "%s", strerror(errno));
		if (!S_ISREG(st.st_mode) || access(c->cmdline_file, R_OK) != 0)
			return bad(&p, "not a readable regular file");
	}
	if (c->ctl_socket[0] != '\0') {
		struct place p = at(c, O_CTL_SOCKET, c->ctl_socket, err);
		if (lstat(c->ctl_socket, &st) == 0 && !S_ISSOCK(st.st_mode))
			return bad(&p, "exists and is not a socket (refusing to replace it)");
		char dir[NM_CONFIG_PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", c->ctl_socket);
		char *slash = strrchr(dir, '/');
		if (slash != NULL)
			slash[slash == dir] = '\0';
		if (stat(slash != NULL ? dir : ".", &st) != 0 || !S_ISDIR(st.st_mode))
			return bad(&p, "its directory does not exist");
	}
	return 0;
}

/* Numbers that are fine alone but not together. */
static int check_sizes(const struct nm_app_config *c, struct nm_error *err)
{
	if (c->n_lcores != 0 && c->n_lcores != c->queues) {
		struct place p = at(c, O_WORKER_LCORES, NULL, err);
		return bad(&p, "%u lcore(s) for %u queue(s): give one lcore per queue", c->n_lcores,
			   c->queues);
	}
	uint64_t rings = (uint64_t)c->queues * (c->rx_desc + c->tx_desc);
	if (c->n_mbufs <= rings) {
		struct place p = at(c, O_MBUFS, NULL, err);
		return bad(&p, "%u mbufs, but the rings alone hold %" PRIu64
			   " (queues %u x (rxd %u + txd %u)): give more mbufs or fewer descriptors",
			   c->n_mbufs, rings, c->queues, c->rx_desc, c->tx_desc);
	}
	if (c->snapshot_interval != 0 && c->state_dir[0] == '\0') {
		struct place p = at(c, O_SNAPSHOT_INTERVAL, NULL, err);
		return bad(&p, "needs state-dir (where the snapshots go)");
	}
	return 0;
}

int nm_config_validate(struct nm_app_config *c, struct nm_error *err)
{
	if (c->keys_dir[0] == '\0')
		return required(O_KEYS, " (a directory; created on first use)", err);
	struct place keys = at(c, O_KEYS, c->keys_dir, err);
	if (check_dir(&keys, true) < 0)
		return -EINVAL;
	if (c->show_identity)
		return 0;
	if (c->ip == 0)
		return required(O_IP, "", err);
	if (c->psk_file[0] == '\0')
		return required(O_PSK_FILE, "", err);
	int rc = check_sizes(c, err);
	if (rc == 0)
		rc = check_psk(c, err);
	if (rc == 0 && c->state_dir[0] != '\0') {
		struct place st = at(c, O_STATE_DIR, c->state_dir, err);
		rc = check_dir(&st, false);
	}
	if (rc == 0)
		rc = check_daemons(c, err);
	if (rc == 0)
		rc = check_peers(c, err);
	if (rc == 0)
		rc = check_frontends(c, err);
	return rc;
}

/* ------------------------------------------------------------ printing */

/* A value as the parser reads it back: bare, or quoted with \" and \\. */
static void put_value(FILE *out, const char *v)
{
	/* Quoted also with a CR: a bare one at the end of the line reads back as CRLF. */
	if (v[0] != '\0' && v[0] != '=' && strpbrk(v, " \t\r#\"\\") == NULL) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

static void put(FILE *out, int id, const char *v)
{
	fprintf(out, "%-18s ", OPTS[id].name);
	put_value(out, v);
	fputc('\n', out);
}

static void put_u(FILE *out, int id, unsigned long v)
{
	fprintf(out, "%-18s %lu\n", OPTS[id].name, v);
}

static void put_ip(FILE *out, int id, uint32_t ip)
{
	char s[INET_ADDRSTRLEN];
	uint32_t be = htonl(ip);
	inet_ntop(AF_INET, &be, s, sizeof(s));
	put(out, id, s);
}

static void print_peer(FILE *out, const struct nm_config_peer *pe)
{
	char ip[INET_ADDRSTRLEN], v[256], hex[65];
	uint32_t be = htonl(pe->ip);
	inet_ntop(AF_INET, &be, ip, sizeof(ip));
	int n = snprintf(v, sizeof(v), "%s:%u", ip, pe->port);
	if (pe->has_mac)
		n += snprintf(v + n, sizeof(v) - (size_t)n, "@" RTE_ETHER_ADDR_PRT_FMT,
			      RTE_ETHER_ADDR_BYTES(&pe->mac));
	n += snprintf(v + n, sizeof(v) - (size_t)n, ",node=%016" PRIx64, pe->node_id);
	if (pe->has_static) {
		sodium_bin2hex(hex, sizeof(hex), pe->static_pub, sizeof(pe->static_pub));
		n += snprintf(v + n, sizeof(v) - (size_t)n, ",static=%s", hex);
	}
	if (pe->connect)
		snprintf(v + n, sizeof(v) - (size_t)n, ",connect");
	put(out, O_PEER, v);
}

void nm_config_print(const struct nm_app_config *c, FILE *out)
{
	char v[NM_CONFIG_PATH_MAX + 96];
	fprintf(out, "# netmesh: the resolved configuration (config-file syntax)\n");
	/* An unset option is a comment: "ip 0.0.0.0" or "keys \"\"" would not parse back. */
	if (c->ip != 0)
		put_ip(out, O_IP, c->ip);
	else
		fprintf(out, "# ip: not set (required)\n");
	if (c->port[0] != '\0')
		put(out, O_PORT, c->port);
	else
		fprintf(out, "# port: the first ethdev EAL has\n");
	put_u(out, O_UDP_PORT, c->udp_port);
	put_u(out, O_QUEUES, c->queues);
	int n = 0;
	for (unsigned i = 0; i < c->n_lcores; i++)
		n += snprintf(v + n, sizeof(v) - (size_t)n, "%s%u", i ? "," : "", c->lcores[i]);
	if (c->n_lcores != 0)
		put(out, O_WORKER_LCORES, v);
	else
		fprintf(out, "# worker-lcores: the first %u EAL worker lcore(s)\n", c->queues);
	if (c->eal.known) {
		format_lcores(&c->eal, v, sizeof(v));
		fprintf(out, "# EAL lcores %s, main %u\n", v, c->eal.main_lcore);
	}
	put_u(out, O_MTU, c->mtu);
	put_u(out, O_MBUFS, c->n_mbufs);
	put_u(out, O_RXD, c->rx_desc);
	put_u(out, O_TXD, c->tx_desc);
	put_u(out, O_BURST, c->burst);
	put_u(out, O_STATS_PERIOD, c->stats_period);
	if (c->keys_dir[0] != '\0')
		put(out, O_KEYS, c->keys_dir);
	else
		fprintf(out, "# keys: not set (required)\n");
	if (c->psk_file[0] != '\0')
		put(out, O_PSK_FILE, c->psk_file);
	else
		fprintf(out, "# psk-file: not set (required)\n");
	if (c->state_dir[0] != '\0')
		put(out, O_STATE_DIR, c->state_dir);
	else
		fprintf(out, "# state-dir: none (daemon state is not kept across restarts)\n");
	put_u(out, O_SNAPSHOT_INTERVAL, c->snapshot_interval);
	put(out, O_SPLIT_KEYS, c->use_split ? "yes" : "no");
	for (unsigned i = 0; i < c->n_daemons; i++) {
		const struct nm_config_daemon *d = &c->daemons[i];
		snprintf(v, sizeof(v), "%s:%s:%u", d->kind, d->seed_file, d->lcore);
		if (d->origin != 0)
			fprintf(out, "# origin 0x%016" PRIx64 "\n", d->origin);
		put(out, O_DAEMON, v);
	}
	for (unsigned i = 0; i < c->n_peers; i++)
		print_peer(out, &c->peers[i]);
	for (unsigned i = 0; i < c->n_accepts; i++) {
		snprintf(v, sizeof(v), "%s:%u", c->accepts[i].kind, c->accepts[i].lcore);
		put(out, O_ACCEPT, v);
	}
	put_u(out, O_IDLE_SLEEP_US, c->idle_sleep_us);
	put_u(out, O_MIGRATE_PREPARE_MS, c->migrate_prepare_ms);
	if (c->cmdline_file[0] != '\0')
		put(out, O_CMDLINE_FILE, c->cmdline_file);
	if (c->ctl_socket[0] != '\0')
		put(out, O_CTL_SOCKET, c->ctl_socket);
}

void nm_config_usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s [EAL args] -- [options]\n"
		     "       %s --help | --check-config FILE [options] | --keys DIR --show-identity\n",
		prog, prog);
	for (int i = 0; i < O_COUNT; i++) {
		const struct opt *o = &OPTS[i];
		char lhs[80];
		snprintf(lhs, sizeof(lhs), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(lhs) > 24)
			fprintf(out, "  %s\n  %-24s  %s\n", lhs, "", o->help);
		else
			fprintf(out, "  %-24s  %s\n", lhs, o->help);
	}
	fprintf(out, "A config file has one 'name value' per line (or name=value), the same names;\n"
		     "\"...\" quotes a value (\\\" and \\\\ inside), '#' starts a comment.\n");
}

/* ------------------------------------------------------------ EAL's lcores */

/* "N" or "N-M" ranges separated by ',' in [s, e), into the set. */
static int lcore_ranges(const char *s, const char *e, uint64_t *set)
{
	while (s < e) {
		const char *end = memchr(s, ',', (size_t)(e - s));
		end = end ? end : e;
		const char *dash = memchr(s, '-', (size_t)(end - s));
		unsigned long lo = 0, hi = 0;
		if (span_uint(s, (size_t)((dash ? dash : end) - s), 0, RTE_MAX_LCORE - 1, &lo) < 0 ||
		    (dash && span_uint(dash + 1, (size_t)(end - dash - 1), lo, RTE_MAX_LCORE - 1, &hi) < 0))
			return -EINVAL;
		for (unsigned long lc = lo; lc <= (dash ? hi : lo); lc++)
			set[lc / 64] |= 1ull << (lc % 64);
		s = end < e ? end + 1 : e;
	}
	return 0;
}

/* -l's list, or --lcores': elements "L", "L-M" or "(list)", each with an optional "@cpus". */
static int lcore_list(const char *s, uint64_t *set)
{
	while (*s != '\0') {
		const char *e = *s == '(' ? strchr(s, ')') : s + strcspn(s, "@,");
		if (e == NULL || lcore_ranges(s + (*s == '('), e, set) < 0)
			return -EINVAL;
		s = e + (*s == '(');
		if (*s == '@') {
			const char *cpus = s + 1;
			s = *cpus == '(' ? strchr(cpus, ')') : cpus + strcspn(cpus, ",");
			if (s == NULL)
				return -EINVAL;
			s += *cpus == '(';
		}
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -EINVAL;
	}
	return 0;
}

static int lcore_mask(const char *s, uint64_t *set)
{
	size_t n = strlen(s), i = n;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, n -= 2, i = n;
	if (n == 0 || n > RTE_MAX_LCORE / 4)
		return -EINVAL;
	for (unsigned bit = 0; i-- > 0; bit += 4) {
		const char *hex = "0123456789abcdef", *d = strchr(hex, s[i] | 0x20);
		if (d == NULL || s[i] == '\0')
			return -EINVAL;
		for (unsigned b = 0; b < 4; b++)
			if (((unsigned)(d - hex) >> b) & 1)
				set[(bit + b) / 64] |= 1ull << ((bit + b) % 64);
	}
	return 0;
}

/* "-l X", "-lX", "--lcores X", "--lcores=X": X, and advances *i past it. */
static const char *eal_value(int argc, char **argv, int *i, const char *shrt, const char *lng)
{
	const char *a = argv[*i];
	size_t ls = shrt ? strlen(shrt) : 0, ll = strlen(lng);
	if ((shrt && strcmp(a, shrt) == 0) || strcmp(a, lng) == 0)
		return *i + 1 < argc ? argv[++*i] : NULL;
	if (shrt && strncmp(a, shrt, ls) == 0 && a[1] != '-')
		return a + ls;
	if (strncmp(a, lng, ll) == 0 && a[ll] == '=')
		return a + ll + 1;
	return NULL;
}

void nm_config_eal_lcores(struct nm_app_config *cfg, int argc, char **argv)
{
	struct nm_config_eal *e = &cfg->eal;
	bool given = false, has_main = false, ok = true;
	unsigned long main_lcore = 0;
	memset(e, 0, sizeof(*e));
	for (int i = 1; i < argc && ok; i++) {
		const char *v;
		if ((v = eal_value(argc, argv, &i, "-l", "--lcores")) != NULL) {
			memset(e->lcores, 0, sizeof(e->lcores));
			ok = lcore_list(v, e->lcores) == 0;
			given = true;
		} else if ((v = eal_value(argc, argv, &i, "-c", "--coremask")) != NULL) {
			memset(e->lcores, 0, sizeof(e->lcores));
			ok = lcore_mask(v, e->lcores) == 0;
			given = true;
		} else if ((v = eal_value(argc, argv, &i, NULL, "--main-lcore")) != NULL) {
			ok = span_uint(v, strlen(v), 0, RTE_MAX_LCORE - 1, &main_lcore) == 0;
			has_main = true;
		}
	}
	cpu_set_t cpus;
	if (ok && !given) {
		ok = sched_getaffinity(0, sizeof(cpus), &cpus) == 0;
		for (unsigned lc = 0; ok && lc < RTE_MAX_LCORE && lc < CPU_SETSIZE; lc++)
			if (CPU_ISSET(lc, &cpus))
				e->lcores[lc / 64] |= 1ull << (lc % 64);
	}
	unsigned first = 0;
	while (first < RTE_MAX_LCORE && !eal_has(e, first))
		first++;
	e->main_lcore = has_main ? (unsigned)main_lcore : first;
	e->known = ok && first < RTE_MAX_LCORE && eal_has(e, e->main_lcore);
}

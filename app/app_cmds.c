/* SPDX-License-Identifier: MIT */
/* app_cmds.c - the operator commands: table, line splitting, handlers (see header). */
#include "app_cmds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_common.h"
#include "app_state.h"
#include "nm_builtin.h"
#include "nm_config.h"
#include "nm_dataplane.h"
#include "nm_meshos.h"
#include "nm_migdp.h"
#include "nm_migration.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_statedir.h"
#include "nm_time.h"

#define SNAPSHOT_FILE_MAX (64u << 20) /* what `daemon restore` reads at most */

/* ------------------------------------------------------------ splitting */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int bad_byte(unsigned char ch, struct nm_error *err)
{
	return nm_error_set(err, -EINVAL, "control byte 0x%02x in the line (not a text command)", ch);
}

/* "..." with \" and \\; *s is at the opening quote, *d where the word goes. */
static int split_quoted(const char **s, const char *e, char **d, struct nm_error *err)
{
	const char *q = *s + 1;
	for (; q < e && *q != '"'; q++) {
		if (*q == '\\') {
			if (q + 1 == e || (q[1] != '"' && q[1] != '\\'))
				return nm_error_set(err, -EINVAL, "unknown escape in quotes (only \\\" and \\\\)");
			q++;
		} else if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			return bad_byte((unsigned char)*q, err);
		}
		*(*d)++ = *q;
	}
	if (q == e)
		return nm_error_set(err, -EINVAL, "unterminated quote");
	if (q + 1 < e && !is_blank(q[1]))
		return nm_error_set(err, -EINVAL, "text right after a closing quote");
	*s = q + 1;
	return 0;
}

static int split_word(const char **s, const char *e, char **d, struct nm_error *err)
{
	const char *w = *s;
	for (; w < e && !is_blank(*w); w++) {
		if (*w == '"')
			return nm_error_set(err, -EINVAL, "a quote inside a word (quote the whole word)");
		if ((unsigned char)*w < 0x20 || *w == 0x7f)
			return bad_byte((unsigned char)*w, err);
		*(*d)++ = *w;
	}
	*s = w;
	return 0;
}

int app_cmd_split(const char *line, size_t len, struct app_cmd_words *out, struct nm_error *err)
{
	const char *s = line, *e = line + len;
	char *d = out->buf;
	out->n = 0;
	while (e > s && (e[-1] == '\n' || e[-1] == '\r'))
		e--;
	if ((size_t)(e - s) >= sizeof(out->buf))
		return nm_error_set(err, -EINVAL, "line too long (at most %zu bytes)",
				    sizeof(out->buf) - 1);
	for (;;) {
		while (s < e && is_blank(*s))
			s++;
		if (s == e || *s == '#')
			return 0;
		if (out->n == APP_CMD_MAX_WORDS)
			return nm_error_set(err, -EINVAL, "too many words (at most %d)", APP_CMD_MAX_WORDS);
		out->w[out->n++] = d;
		int rc = *s == '"' ? split_quoted(&s, e, &d, err) : split_word(&s, e, &d, err);
		if (rc < 0)
			return rc;
		*d++ = '\0';
	}
}

/* ------------------------------------------------------------ small helpers */

static int need(const void *p, const char *what, struct nm_error *err)
{
	return p != NULL ? 0 : nm_error_set(err, -ENODEV, "no %s in this process", what);
}

/* "HEAD: <the error so far>TAIL", same code. */
static int wrap(struct nm_error *err, const char *head, const char *tail)
{
	char why[NM_ERROR_MSG_MAX];
	snprintf(why, sizeof(why), "%s", err->msg);
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s%s", head, why, tail) >=
	    (int)sizeof(err->msg))
		memcpy(err->msg + sizeof(err->msg) - 4, "...", 4); /* visibly cut */
	return err->code < 0 ? err->code : -EINVAL;
}

static int parse_origin(const char *s, uint64_t *origin, struct nm_error *err)
{
	if (app_parse_hex_u64(s, origin) < 0)
		return nm_error_set(err, -EINVAL, "'%.40s': an origin is 1..16 hex digits (0x optional)",
				    s);
	return 0;
}

static int parse_lcore(const char *s, uint32_t *lcore, struct nm_error *err)
{
	unsigned long v;
	if (app_parse_uint(s, 0, RTE_MAX_LCORE - 1, &v) < 0)
		return nm_error_set(err, -EINVAL, "'%.40s': LCORE is a lcore id 0..%d", s,
				    RTE_MAX_LCORE - 1);
	*lcore = (uint32_t)v;
	return 0;
}

static void format_ip(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	uint32_t be = htonl(ip);
	inet_ntop(AF_INET, &be, out, INET_ADDRSTRLEN);
}

/* d = a - b over every counter of the struct (all uint64_t, as nm_stats_add adds them). */
static void stats_sub(struct nm_lcore_stats *d, const struct nm_lcore_stats *a,
		      const struct nm_lcore_stats *b)
{
	uint64_t *x = (uint64_t *)d;
	const uint64_t *y = (const uint64_t *)a, *z = (const uint64_t *)b;
	size_t n = offsetof(struct nm_lcore_stats, drops) / sizeof(uint64_t) + NM_DROP__COUNT;
	for (size_t i = 0; i < n; i++)
		x[i] = y[i] - z[i];
}

/* The same for a struct of uint64_t counters of `size` bytes. */
static void counters_sub(void *d, const void *a, const void *b, size_t size)
{
	uint64_t *x = d;
	const uint64_t *y = a, *z = b;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		x[i] = y[i] - z[i];
}

/* The kind of a daemon the appliance started (--daemon or a command), or NULL. */
static const char *kind_of(const struct app_cmds *c, uint64_t origin)
{
	for (unsigned i = 0; i < c->n_spawned; i++)
		if (c->spawned[i].origin == origin)
			return c->spawned[i].kind;
	for (unsigned i = 0; c->env.cfg != NULL && i < c->env.cfg->n_daemons; i++)
		if (c->env.cfg->daemons[i].origin == origin)
			return c->env.cfg->daemons[i].kind;
	return NULL;
}

static void remember(struct app_cmds *c, uint64_t origin, const char *kind)
{
	if (c->n_spawned == APP_CMD_MAX_SPAWNED)
		return; /* then only `daemon snapshot ... cds1` works for it */
	c->spawned[c->n_spawned].origin = origin;
	snprintf(c->spawned[c->n_spawned].kind, sizeof(c->spawned[0].kind), "%s", kind);
	c->n_spawned++;
}

static void forget(struct app_cmds *c, uint64_t origin)
{
	for (unsigned i = 0; i < c->n_spawned; i++)
		if (c->spawned[i].origin == origin)
			c->spawned[i] = c->spawned[--c->n_spawned];
}

static struct nm_statedir *statedir(const struct app_cmds *c)
{
	return c->env.state != NULL ? c->env.state->sd : NULL;
}

/* ------------------------------------------------------------ files */

/* FILE.tmp (0600), fsync, rename over FILE: a reader sees the old file or the whole new one. */
static int write_file(const char *path, const uint8_t *buf, size_t len, struct nm_error *err)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return nm_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return nm_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	int rc = done == len && fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return nm_error_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	return 0;
}

/* A whole regular file of at most SNAPSHOT_FILE_MAX bytes; the caller frees *out. */
static int read_file(const char *path, uint8_t **out, size_t *len, struct nm_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nm_error_set(err, -errno, "%s: %s", path, strerror(errno));
	int rc = 0;
	*out = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = nm_error_set(err, -EINVAL, "%s: not a regular file", path);
	else if ((uint64_t)st.st_size > SNAPSHOT_FILE_MAX)
		rc = nm_error_set(err, -EFBIG, "%s: larger than %u bytes", path, SNAPSHOT_FILE_MAX);
	else if ((*out = malloc((size_t)st.st_size + 1)) == NULL)
		rc = nm_error_set(err, -ENOMEM, "%s: out of memory", path);
	size_t done = 0;
	while (rc == 0 && done < (size_t)st.st_size) {
		ssize_t n = read(fd, *out + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = nm_error_set(err, -EIO, "%s: read error", path);
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	*len = done;
	return rc;
}

/* ------------------------------------------------------------ show */

void app_cmds_print_counters(struct app_cmds *c, FILE *out)
{
	const struct nm_dataplane *dp = c->env.dp;
	struct nm_lcore_stats zero = { 0 }, cur, sum;
	if (dp == NULL)
		return;
	for (unsigned i = 0; i < dp->n_workers; i++) {
		char prefix[32];
		cur = dp->workers[i]->stats; /* a worker's own counters, read without a lock */
		stats_sub(&cur, &cur, c->base.set ? &c->base.lcore[i] : &zero);
		snprintf(prefix, sizeof(prefix), "lcore %u: ", dp->workers[i]->lcore);
		nm_stats_print(out, prefix, &cur);
	}
	nm_dataplane_stats(dp, &sum);
	stats_sub(&sum, &sum, c->base.set ? &c->base.total : &zero);
	nm_stats_print(out, "total:   ", &sum);
}

static void print_sessions_counters(struct app_cmds *c, FILE *out)
{
	struct nm_sessmgr_stats s = *nm_sessmgr_stats(c->env.sm), zero = { 0 };
	counters_sub(&s, &s, c->base.set ? &c->base.sessions : &zero, sizeof(s));
	fprintf(out, "handshakes: started %" PRIu64 " completed %" PRIu64 " failed %" PRIu64
		     " timeouts %" PRIu64 " replays %" PRIu64 " unknown-peer %" PRIu64
		     " malformed %" PRIu64 " | heartbeats %" PRIu64 " | sessions expired %" PRIu64
		     " rotated %" PRIu64 " | tx-failures %" PRIu64 " arp-requests %" PRIu64 "\n",
		s.handshakes_started, s.handshakes_completed, s.handshake_failures,
		s.handshake_timeouts, s.msg1_replays, s.unknown_peer, s.malformed, s.heartbeats_sent,
		s.sessions_expired, s.sessions_rotated, s.tx_failures, s.arp_requests);
}

static int cmd_show_stats(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			  struct nm_error *err)
{
	(void)argc, (void)argv;
	if (need(c->env.dp, "dataplane", err) < 0)
		return -ENODEV;
	if (c->base.set)
		fprintf(out, "since clear stats %.1f s ago\n",
			(double)(nm_mono_ns() - c->base.at_ns) / 1e9);
	app_cmds_print_counters(c, out);
	if (c->env.sm != NULL)
		print_sessions_counters(c, out);
	return 0;
}

static int cmd_show_ports(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			  struct nm_error *err)
{
	(void)argc, (void)argv;
	if (need(c->env.dp, "dataplane", err) < 0)
		return -ENODEV;
	const struct nm_port *p = &c->env.dp->port;
	char name[RTE_ETH_NAME_MAX_LEN] = "?", lk[RTE_ETH_LINK_MAX_STR_LEN] = "link unknown";
	struct rte_eth_link link;
	struct rte_eth_stats st, zero = { 0 };
	rte_eth_dev_get_name_by_port(p->port_id, name);
	if (rte_eth_link_get_nowait(p->port_id, &link) == 0)
		rte_eth_link_to_str(lk, sizeof(lk), &link);
	fprintf(out, "port %u %s: mac " RTE_ETHER_ADDR_PRT_FMT ", %s, mtu %u, queues %u%s, "
		     "checksum offload rx ip %s udp %s, tx ip %s udp %s\n",
		p->port_id, name, RTE_ETHER_ADDR_BYTES(&p->mac), lk, p->mtu, p->n_queues,
		p->rss ? " (rss)" : "", p->rx_ip_cksum ? "on" : "off", p->rx_udp_cksum ? "on" : "off",
		p->tx_ip_cksum ? "on" : "off", p->tx_udp_cksum ? "on" : "off");
	if (rte_eth_stats_get(p->port_id, &st) != 0)
		return nm_error_set(err, -EIO, "port %u: no stats from the driver", p->port_id);
	counters_sub(&st, &st, c->base.set ? &c->base.port : &zero,
		     offsetof(struct rte_eth_stats, q_ipackets));
	fprintf(out, "  rx %" PRIu64 " pkts %" PRIu64 " B missed %" PRIu64 " errors %" PRIu64
		     " no-mbuf %" PRIu64 " | tx %" PRIu64 " pkts %" PRIu64 " B errors %" PRIu64 "\n",
		st.ipackets, st.ibytes, st.imissed, st.ierrors, st.rx_nombuf, st.opackets, st.obytes,
		st.oerrors);
	fprintf(out, "  mbufs in use %u of %u\n", nm_port_mbufs_in_use(p),
		p->pool->size + (p->big_pool != NULL ? p->big_pool->size : 0));
	return 0;
}

void app_cmds_print_peers(struct app_cmds *c, FILE *out)
{
	unsigned n = c->env.sm != NULL ? nm_sessmgr_peer_count(c->env.sm) : 0;
	for (unsigned i = 0; i < n; i++) {
		struct nm_peer_status st;
		uint32_t ip;
		uint16_t port;
		char s[INET_ADDRSTRLEN];
		if (nm_sessmgr_peer_status(c->env.sm, (int)i, &st) < 0 ||
		    nm_sessmgr_peer_addr(c->env.sm, (int)i, &ip, &port) < 0)
			continue;
		format_ip(ip, s);
		fprintf(out, "peer %s: %s session 0x%016" PRIx64 " rtt %" PRIu64 " us, port %u, node "
			     "0x%016" PRIx64 "%s\n", s, nm_peer_health_name(st.health), st.session_id,
			st.rtt_ns / 1000, port, st.node_id, st.handshaking ? ", handshaking" : "");
	}
}

static int cmd_show_peers(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			  struct nm_error *err)
{
	(void)argc, (void)argv;
	if (need(c->env.sm, "session manager", err) < 0)
		return -ENODEV;
	if (nm_sessmgr_peer_count(c->env.sm) == 0)
		fprintf(out, "no peers\n");
	app_cmds_print_peers(c, out);
	return 0;
}

/* One session of the dataplane's table (read under its lock, printed after). */
struct session_row {
	uint64_t id, tx, last_rx_ns;
	uint32_t owner;
	uint16_t peer;
};

static int cmd_show_sessions(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			     struct nm_error *err)
{
	(void)argc, (void)argv;
	struct nm_dataplane *dp = c->env.dp;
	if (need(dp, "dataplane", err) < 0)
		return -ENODEV;
	pthread_mutex_lock(&dp->lock);
	size_t n = 0, cap = dp->sessions.count;
	struct session_row *rows = calloc(cap ? cap : 1, sizeof(*rows));
	for (size_t i = 0; rows != NULL && i <= dp->sessions.mask && n < cap; i++) {
		struct nm_session *s = dp->sessions.slots[i].val;
		if (s == NULL)
			continue;
		rows[n++] = (struct session_row){
			.id = s->session_id, .peer = s->peer,
			.tx = atomic_load_explicit(&s->tx_counter, memory_order_relaxed),
			.last_rx_ns = atomic_load_explicit(&s->last_rx_ns, memory_order_relaxed),
			.owner = atomic_load_explicit(&s->rx_owner, memory_order_relaxed) };
	}
	pthread_mutex_unlock(&dp->lock);
	if (rows == NULL)
		return nm_error_set(err, -ENOMEM, "out of memory");
	if (n == 0)
		fprintf(out, "no sessions\n");
	uint64_t now = nm_mono_ns();
	for (size_t i = 0; i < n; i++) {
		const struct nm_peer *pe = &dp->peers.peers[rows[i].peer];
		char ip[INET_ADDRSTRLEN], owner[24] = "none", rx[48] = "never";
		format_ip(pe->ip, ip);
		if (rows[i].owner != NM_SESSION_NO_OWNER)
			snprintf(owner, sizeof(owner), "lcore %u", rows[i].owner);
		if (rows[i].last_rx_ns != 0)
			snprintf(rx, sizeof(rx), "%" PRIu64 " ms ago",
				 now > rows[i].last_rx_ns ? (now - rows[i].last_rx_ns) / 1000000 : 0);
		fprintf(out, "session 0x%016" PRIx64 " peer %s:%u, tx counter %" PRIu64
			     ", rx owner %s, last rx %s\n", rows[i].id, ip, pe->port, rows[i].tx, owner, rx);
	}
	free(rows);
	return 0;
}

static int cmd_show_daemons(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			    struct nm_error *err)
{
	(void)argc, (void)argv;
	struct nm_dataplane *dp = c->env.dp;
	if (need(dp, "dataplane", err) < 0 || need(c->env.rt, "runtime", err) < 0)
		return -ENODEV;
	/* The dataplane's directory has every pinned daemon with its lcore. */
	pthread_mutex_lock(&dp->lock);
	size_t n = 0, cap = dp->daemons.count;
	struct nm_dp_daemon *rows = calloc(cap ? cap : 1, sizeof(*rows));
	for (size_t i = 0; rows != NULL && i <= dp->daemons.mask && n < cap; i++)
		if (dp->daemons.slots[i].val != NULL)
			rows[n++] = *(struct nm_dp_daemon *)dp->daemons.slots[i].val;
	pthread_mutex_unlock(&dp->lock);
	if (rows == NULL)
		return nm_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct nm_daemon_handle h = { .rt = c->env.rt, .origin_hash = rows[i].origin };
		struct nm_daemon_stats st;
		const char *kind = kind_of(c, rows[i].origin);
		fprintf(out, "daemon 0x%016" PRIx64 " kind %s lcore %u", rows[i].origin,
			kind ? kind : "?", rows[i].lcore);
		if (nm_daemon_handle_stats(&h, &st, NULL) == 0)
			fprintf(out, ": processed %" PRIu64 " emitted %" PRIu64 " errors %" PRIu64
				     " snapshots %" PRIu64, st.events_processed, st.events_emitted,
				st.errors, st.snapshots_taken);
		fputc('\n', out);
	}
	free(rows);
	size_t all = nm_runtime_daemon_count(c->env.rt);
	fprintf(out, "%zu daemon(s)", all);
	if (all > n)
		fprintf(out, ", %zu of them on the control thread (not listed)", all - n);
	fputc('\n', out);
	return 0;
}

void app_cmds_print_meshos(struct app_cmds *c, FILE *out)
{
	struct nm_meshos_status ms;
	struct nm_meshos_stats mt;
	if (c->env.mos == NULL)
		return;
	nm_meshos_status(c->env.mos, &ms);
	nm_meshos_stats(c->env.mos, &mt);
	fprintf(out, "meshos: %s", nm_maint_kind_name(ms.state.kind));
	if (ms.state.kind != NM_MAINT_ACTIVE)
		fprintf(out, " for %" PRIu64 " ms", ms.view.since_ms);
	fprintf(out, ", daemons %" PRIu64 ", backpressure %s (%.2f), "
		     "control routed %" PRIu64 " dropped %" PRIu64 " delivered %" PRIu64
		     ", logs %" PRIu64 ", capability sets %" PRIu64 "\n", mt.daemons,
		ms.backpressure ? "on" : "off", (double)ms.level, mt.control_routed,
		mt.control_dropped, mt.control_delivered, mt.logs, mt.capability_sets);
}

static int cmd_show_meshos(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			   struct nm_error *err)
{
	(void)argc, (void)argv;
	if (need(c->env.mos, "MeshOS", err) < 0)
		return -ENODEV;
	struct nm_meshos_status ms;
	struct nm_meshos_stats mt;
	nm_meshos_status(c->env.mos, &ms);
	nm_meshos_stats(c->env.mos, &mt);
	app_cmds_print_meshos(c, out);
	fprintf(out, "  node 0x%016" PRIx64 ", ticks %" PRIu64 ", events applied %" PRIu64
		     " refused %" PRIu64 ", transitions committed %" PRIu64 " rejected %" PRIu64
		     ", actions %" PRIu64 " dropped %" PRIu64 " failed %" PRIu64 "\n",
		ms.node_id, mt.ticks, mt.events_applied, mt.events_refused, mt.transitions_committed,
		mt.transitions_rejected, mt.actions_emitted, mt.actions_dropped, mt.actions_failed);
	if (ms.view.has_deadline)
		fprintf(out, "  drain deadline in %" PRIu64 " ms\n", ms.view.deadline_remaining_ms);
	if (ms.view.reason[0] != '\0')
		fprintf(out, "  reason: %s\n", ms.view.reason);
	return 0;
}

static int cmd_clear_stats(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			   struct nm_error *err)
{
	(void)argc, (void)argv;
	struct nm_dataplane *dp = c->env.dp;
	if (need(dp, "dataplane", err) < 0)
		return -ENODEV;
	for (unsigned i = 0; i < dp->n_workers; i++)
		c->base.lcore[i] = dp->workers[i]->stats;
	nm_dataplane_stats(dp, &c->base.total);
	if (c->env.sm != NULL)
		c->base.sessions = *nm_sessmgr_stats(c->env.sm);
	if (rte_eth_stats_get(dp->port.port_id, &c->base.port) != 0)
		memset(&c->base.port, 0, sizeof(c->base.port));
	c->base.at_ns = nm_mono_ns();
	c->base.set = true;
	fprintf(out, "stats cleared (the counters run on; shown from here)\n");
	return 0;
}

/* ------------------------------------------------------------ daemons */

static int load_identity(const char *seed_file, struct nm_identity *id, struct nm_error *err)
{
	return nm_identity_from_file(id, seed_file, err);
}

static int cmd_daemon_spawn(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			    struct nm_error *err)
{
	(void)argc;
	struct nm_host_config hc = nm_host_config_default();
	struct nm_identity id;
	struct nm_daemon_handle h;
	bool restored = false;
	if (need(c->env.rt, "runtime", err) < 0 || parse_lcore(argv[2], &hc.lcore, err) < 0 ||
	    nm_builtin_register_kind(c->env.rt, argv[0], err) < 0 ||
	    load_identity(argv[1], &id, err) < 0)
		return err->code;
	int rc = c->env.state != NULL
			 ? app_state_spawn(c->env.state, c->env.rt, argv[0], &id, &hc, &h, &restored, err)
			 : nm_runtime_spawn(c->env.rt, argv[0], &id, &hc, &h, err);
	nm_identity_wipe(&id);
	if (rc < 0)
		return rc;
	remember(c, h.origin_hash, argv[0]);
	fprintf(out, "daemon %s origin 0x%016" PRIx64 " on lcore %u%s\n", argv[0], h.origin_hash,
		hc.lcore, restored ? " (restored from the state directory)" : "");
	return 0;
}

static int cmd_daemon_stop(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			   struct nm_error *err)
{
	(void)argc;
	uint64_t origin;
	if (need(c->env.rt, "runtime", err) < 0 || parse_origin(argv[0], &origin, err) < 0)
		return err->code;
	if (!nm_runtime_has_daemon(c->env.rt, origin))
		return nm_error_set(err, NM_ENOT_FOUND, "no daemon 0x%016" PRIx64, origin);
	/*
	 * With a state directory a stop on purpose is graceful: the state is
	 * saved first. NOT_FOUND: the directory does not keep this daemon
	 * (restored from a file, or not the appliance's), nothing to save.
	 */
	struct nm_statedir *sd = statedir(c);
	int saved = sd != NULL ? nm_statedir_save(sd, origin, err) : NM_ENOT_FOUND;
	if (saved < 0 && saved != NM_ENOT_FOUND)
		return wrap(err, "saving its state first", " (still running)");
	int rc = nm_runtime_stop(c->env.rt, origin, err);
	if (rc < 0)
		return rc;
	if (saved == 0)
		nm_statedir_forget(sd, origin);
	forget(c, origin);
	fprintf(out, "daemon 0x%016" PRIx64 " stopped%s\n", origin,
		saved == 0 ? " (state saved; its file stays)" : "");
	return 0;
}

/* The snapshot file: the state-dir format (CDS1 + chain head), or CDS1 alone. */
static int encode_snapshot(const struct nm_snapshot *s, const char *kind, bool cds1,
			   uint8_t **buf, size_t *len, struct nm_error *err)
{
	size_t cap = cds1 ? nm_snapshot_wire_size(s) : nm_statefile_size(s);
	if ((*buf = malloc(cap)) == NULL)
		return nm_error_set(err, -ENOMEM, "out of memory");
	int rc = cds1 ? nm_snapshot_encode(s, *buf, cap, len)
		      : nm_statefile_encode(kind, s, nm_wall_ns(), *buf, cap, len, err);
	if (rc < 0) {
		free(*buf);
		return err->code < 0 ? rc : nm_error_set(err, rc, "encoding the snapshot failed");
	}
	return 0;
}

static int cmd_daemon_snapshot(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			       struct nm_error *err)
{
	uint64_t origin;
	bool cds1 = argc == 3;
	if (cds1 && strcmp(argv[2], "cds1") != 0)
		return nm_error_set(err, -EINVAL, "'%.40s': the only format word is cds1", argv[2]);
	if (need(c->env.rt, "runtime", err) < 0 || parse_origin(argv[0], &origin, err) < 0)
		return err->code;
	const char *kind = kind_of(c, origin);
	if (kind == NULL && !cds1)
		return nm_error_set(err, -EINVAL, "daemon 0x%016" PRIx64 ": kind unknown here, so only "
				    "'cds1' (plain CDS1, no chain head) can be written", origin);
	struct nm_snapshot *s = NULL;
	int rc = nm_runtime_snapshot(c->env.rt, origin, &s, err);
	if (rc < 0)
		return rc;
	if (s == NULL)
		return nm_error_set(err, -EINVAL, "daemon 0x%016" PRIx64 " is stateless (no snapshot)",
				    origin);
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = encode_snapshot(s, kind, cds1, &buf, &len, err);
	if (rc == 0)
		rc = write_file(argv[1], buf, len, err);
	if (rc == 0)
		fprintf(out, "daemon 0x%016" PRIx64 " snapshot through seq %" PRIu64 ": %zu bytes "
			     "(%s, state %u bytes) to %s\n", origin, s->through_seq, len,
			cds1 ? "CDS1" : "NMST state file: CDS1 + chain head", s->state_len, argv[1]);
	free(buf);
	nm_snapshot_free(s);
	return rc;
}

/* A snapshot file: NMST (state-dir format, with the chain head) or plain CDS1. */
static int decode_snapshot(const char *path, const char *kind, uint64_t origin,
			   struct nm_snapshot **s, struct nm_error *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = read_file(path, &buf, &len, err);
	if (rc < 0)
		return rc;
	if (len >= 4 && memcmp(buf, NM_STATEFILE_MAGIC, 4) == 0)
		rc = nm_statefile_decode(buf, len, kind, origin, s, err);
	else if (len >= 4 && memcmp(buf, NM_SNAPSHOT_MAGIC, 4) == 0)
		rc = nm_snapshot_decode(buf, len, s, err);
	else
		rc = nm_error_set(err, NM_EMALFORMED, "neither a state file (NMST) nor CDS1");
	free(buf);
	return rc < 0 ? wrap(err, path, "") : 0;
}

static int cmd_daemon_restore(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			      struct nm_error *err)
{
	(void)argc;
	struct nm_host_config hc = nm_host_config_default();
	struct nm_identity id;
	struct nm_daemon_handle h;
	struct nm_snapshot *s = NULL;
	if (need(c->env.rt, "runtime", err) < 0 || parse_lcore(argv[3], &hc.lcore, err) < 0 ||
	    nm_builtin_register_kind(c->env.rt, argv[0], err) < 0 ||
	    load_identity(argv[1], &id, err) < 0)
		return err->code;
	int rc = decode_snapshot(argv[2], argv[0], id.origin_hash, &s, err);
	if (rc == 0)
		rc = nm_runtime_spawn_from_snapshot(c->env.rt, argv[0], &id, s, &hc, &h, err);
	nm_identity_wipe(&id);
	if (rc == 0) {
		remember(c, h.origin_hash, argv[0]);
		fprintf(out, "daemon %s origin 0x%016" PRIx64 " on lcore %u restored from %s "
			     "through seq %" PRIu64 " (%s)\n", argv[0], h.origin_hash, hc.lcore,
			argv[2], s->through_seq,
			s->has_next_parent ? "chain head from the file"
					   : "CDS1 alone: the chain continues by upstream's rule");
	}
	nm_snapshot_free(s);
	return rc;
}

/* ------------------------------------------------------------ peers */

int app_peer_add(struct nm_sessmgr *sm, const struct nm_config_peer *p, struct nm_error *err)
{
	struct nm_sm_peer_config pc = {
		.ip = p->ip, .port = p->port, .mac = p->has_mac ? &p->mac : NULL,
		.node_id = p->node_id, .static_pub = p->has_static ? p->static_pub : NULL,
		.connect = p->connect,
	};
	int rc = nm_sessmgr_add_peer(sm, &pc, err);
	return rc < 0 ? rc : 0;
}

/* The rules --peer has at start: not our address, no address or node_id twice. */
static int peer_conflict(const struct app_cmds *c, const struct nm_config_peer *pe,
			 struct nm_error *err)
{
	char ip[INET_ADDRSTRLEN];
	format_ip(pe->ip, ip);
	if (pe->ip == c->env.dp->ip && pe->port == c->env.dp->udp_port)
		return nm_error_set(err, -EINVAL, "%s:%u is our own address", ip, pe->port);
	for (unsigned i = 0; i < nm_sessmgr_peer_count(c->env.sm); i++) {
		struct nm_peer_status st;
		uint32_t pip;
		uint16_t port;
		if (nm_sessmgr_peer_addr(c->env.sm, (int)i, &pip, &port) < 0 ||
		    nm_sessmgr_peer_status(c->env.sm, (int)i, &st) < 0)
			continue;
		if (pip == pe->ip)
			return nm_error_set(err, -EEXIST, "peer %s exists (peer del first)", ip);
		if (st.node_id == pe->node_id)
			return nm_error_set(err, -EEXIST, "node 0x%016" PRIx64 " is already a peer",
					    pe->node_id);
	}
	return 0;
}

static int cmd_peer_add(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			struct nm_error *err)
{
	(void)argc;
	struct nm_config_peer pe;
	char ip[INET_ADDRSTRLEN];
	if (need(c->env.sm, "session manager", err) < 0 ||
	    nm_config_parse_peer(argv[0], "peer add", &pe, err) < 0 || peer_conflict(c, &pe, err) < 0 ||
	    app_peer_add(c->env.sm, &pe, err) < 0)
		return err->code;
	format_ip(pe.ip, ip);
	fprintf(out, "peer %s:%u node 0x%016" PRIx64 " added%s\n", ip, pe.port, pe.node_id,
		pe.connect ? " (connecting)" : "");
	return 0;
}

static int cmd_peer_del(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			struct nm_error *err)
{
	(void)argc;
	uint32_t ip;
	if (need(c->env.sm, "session manager", err) < 0)
		return -ENODEV;
	if (app_parse_ipv4(argv[0], &ip) < 0)
		return nm_error_set(err, -EINVAL, "'%.40s': not an IPv4 address", argv[0]);
	if (nm_sessmgr_del_peer(c->env.sm, ip, err) < 0)
		return err->code;
	fprintf(out, "peer %s removed\n", argv[0]);
	return 0;
}

/* ------------------------------------------------------------ migrations */

static int cmd_migrate(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
		       struct nm_error *err)
{
	uint64_t origin, node;
	struct nm_mig_opts o = nm_mig_opts_default();
	if (need(c->env.md, "migration engine", err) < 0 || parse_origin(argv[0], &origin, err) < 0)
		return err->code;
	if (app_parse_hex_u64(argv[1], &node) < 0 || node == 0)
		return nm_error_set(err, -EINVAL, "'%.40s': NODE is a node_id in hex", argv[1]);
	if (argc == 3 && strcmp(argv[2], "unsealed") != 0)
		return nm_error_set(err, -EINVAL, "'%.40s': the only option word is unsealed", argv[2]);
	o.transport_identity = argc < 3; /* unsealed: the target must hold the keypair already */
	o.prepare_ms = c->env.cfg != NULL ? c->env.cfg->migrate_prepare_ms : 0;
	struct nm_migration *m = nm_migdp_engine(c->env.md);
	int rc = nm_mig_start(m, origin, nm_mig_local_node(m), node, &o, nm_mono_ms(), err);
	if (rc < 0)
		return rc;
	fprintf(out, "migrating 0x%016" PRIx64 " to node 0x%016" PRIx64 " (show migrations follows it)\n",
		origin, node);
	return 0;
}

static void print_migration(FILE *out, const struct nm_mig_info *i, bool done)
{
	static const char *const roles[] = { "?", "source", "target", "orchestrator" };
	fprintf(out, "%s 0x%016" PRIx64 " as %s, 0x%016" PRIx64 " -> 0x%016" PRIx64 ": %s%s, %" PRIu64
		     " ms, %" PRIu64 " bytes, %u retries, %" PRIu64 " events",
		done ? "done" : "now ", i->origin, roles[i->role & 3], i->source, i->target,
		nm_mig_phase_name((enum nm_mig_phase)i->phase), i->committed ? " (committed)" : "",
		i->elapsed_ms, i->bytes_sent, i->retries, i->events);
	if (done)
		fprintf(out, i->ok ? ", completed" : ", failed: %s", i->reason);
	fputc('\n', out);
	/* Each phase this node reached, in us after the first one (docs/migration.md). */
	const char *name;
	uint64_t ns, t0 = 0;
	for (unsigned k = 0; nm_mig_time_next(&i->t, &k, &name, &ns);) {
		if (t0 == 0)
			fputs("  phases (us):", out);
		fprintf(out, " %s=%" PRIu64, name, t0 == 0 ? 0 : (ns - t0) / 1000);
		if (t0 == 0)
			t0 = ns;
	}
	if (t0 != 0)
		fputc('\n', out);
}

static int cmd_show_migrations(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			       struct nm_error *err)
{
	(void)argc, (void)argv;
	if (need(c->env.md, "migration engine", err) < 0)
		return -ENODEV;
	struct nm_migration *m = nm_migdp_engine(c->env.md);
	struct nm_mig_info *list = calloc(NM_MIG_HISTORY, sizeof(*list));
	if (list == NULL)
		return nm_error_set(err, -ENOMEM, "out of memory");
	size_t now = nm_mig_list(m, nm_mono_ms(), list, NM_MIG_HISTORY);
	for (size_t i = 0; i < now && i < NM_MIG_HISTORY; i++)
		print_migration(out, &list[i], false);
	size_t done = nm_mig_history(m, list, NM_MIG_HISTORY);
	for (size_t i = 0; i < done; i++)
		print_migration(out, &list[i], true);
	fprintf(out, "%zu in progress, %zu finished (the last %d kept)\n", now, done, NM_MIG_HISTORY);
	free(list);
	return 0;
}

/* ------------------------------------------------------------ MeshOS, help, quit */

static int cmd_maint_enter(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			   struct nm_error *err)
{
	unsigned long sec = 0;
	if (need(c->env.mos, "MeshOS", err) < 0)
		return -ENODEV;
	if (argc == 1 && app_parse_uint(argv[0], 1, 86400, &sec) < 0)
		return nm_error_set(err, -EINVAL, "'%.40s': DRAIN_SEC is 1..86400", argv[0]);
	int rc = nm_meshos_enter_maintenance(c->env.mos, nm_meshos_node_id(c->env.mos), sec * 1000);
	if (rc < 0)
		return nm_error_set(err, rc, "MeshOS refused the request: %s", strerror(-rc));
	if (sec != 0)
		fprintf(out, "maintenance: entering, daemons drain for up to %lu s\n", sec);
	else
		fprintf(out, "maintenance: entering, daemons drain for up to %llu s (the default)\n",
			NM_MESHOS_DEFAULT_DRAIN_MS / 1000);
	return 0;
}

static int cmd_maint_exit(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			  struct nm_error *err)
{
	(void)argc, (void)argv;
	struct nm_meshos_status ms;
	if (need(c->env.mos, "MeshOS", err) < 0)
		return -ENODEV;
	/* MeshOS ignores an exit from any other state: say so instead. */
	nm_meshos_status(c->env.mos, &ms);
	if (ms.state.kind != NM_MAINT_MAINTENANCE && ms.state.kind != NM_MAINT_DRAIN_FAILED)
		return nm_error_set(err, -EINVAL, "the node is %s: exit works from maintenance or "
				    "drain_failed", nm_maint_kind_name(ms.state.kind));
	int rc = nm_meshos_exit_maintenance(c->env.mos, nm_meshos_node_id(c->env.mos));
	if (rc < 0)
		return nm_error_set(err, rc, "MeshOS refused the request: %s", strerror(-rc));
	fprintf(out, "maintenance: exiting (daemons restart, then recovery)\n");
	return 0;
}

static int cmd_help(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
		    struct nm_error *err);

static int cmd_quit(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
		    struct nm_error *err)
{
	(void)argc, (void)argv, (void)err;
	c->quit = true;
	atomic_store(&app_force_quit, true);
	fprintf(out, "stopping the appliance\n");
	return 0;
}

static const struct app_cmd TABLE[] = {
	{ "show stats", "", 0, 0, "dataplane and handshake counters (since clear stats)",
	  cmd_show_stats },
	{ "show ports", "", 0, 0, "the port: link, offloads, driver counters, mbufs", cmd_show_ports },
	{ "show peers", "", 0, 0, "each peer: health, session, round trip, node", cmd_show_peers },
	{ "show sessions", "", 0, 0, "each installed session: peer, tx counter, rx owner",
	  cmd_show_sessions },
	{ "show daemons", "", 0, 0, "each daemon: kind, lcore, counters", cmd_show_daemons },
	{ "show meshos", "", 0, 0, "MeshOS: maintenance state, loop and control counters",
	  cmd_show_meshos },
	{ "clear stats", "", 0, 0, "count from now on (workers' counters are never reset)",
	  cmd_clear_stats },
	{ "daemon spawn", "KIND SEEDFILE LCORE", 3, 3, "start a daemon (as --daemon does)",
	  cmd_daemon_spawn },
	{ "daemon stop", "ORIGIN", 1, 1, "stop a daemon (its state saved first with --state-dir)",
	  cmd_daemon_stop },
	{ "daemon snapshot", "ORIGIN FILE [cds1]", 2, 3,
	  "write a daemon's state: NMST file (CDS1 + chain head), or plain CDS1", cmd_daemon_snapshot },
	{ "daemon restore", "KIND SEEDFILE FILE LCORE", 4, 4,
	  "start a daemon from a snapshot file (NMST or CDS1)", cmd_daemon_restore },
	{ "show migrations", "", 0, 0, "live migrations in progress (phase, bytes, retries), then "
	  "the finished ones", cmd_show_migrations },
	{ "migrate", "ORIGIN NODE [unsealed]", 2, 3,
	  "move a daemon to the peer node (its keypair sealed to it unless unsealed)", cmd_migrate },
	{ "peer add", "IP[:PORT][@MAC],node=HEX[,static=HEX][,connect]", 1, 1,
	  "add a peer (as --peer does)", cmd_peer_add },
	{ "peer del", "IP", 1, 1, "remove a peer and its session", cmd_peer_del },
	{ "maintenance enter", "[DRAIN_SEC]", 0, 1, "drain the daemons, then isolate the node",
	  cmd_maint_enter },
	{ "maintenance exit", "", 0, 0, "leave maintenance (recovery, then active)", cmd_maint_exit },
	{ "help", "[COMMAND]", 0, APP_CMD_MAX_WORDS - 1, "the commands, or one command's help",
	  cmd_help },
	{ "quit", "", 0, 0, "stop the appliance gracefully", cmd_quit },
};
#define N_CMDS (sizeof(TABLE) / sizeof(TABLE[0]))

const struct app_cmd *app_cmd_table(unsigned *n)
{
	*n = N_CMDS;
	return TABLE;
}

static void print_usage(FILE *out, const struct app_cmd *e)
{
	char lhs[96];
	snprintf(lhs, sizeof(lhs), "%s%s%s", e->name, e->args[0] ? " " : "", e->args);
	if (strlen(lhs) > 34)
		fprintf(out, "  %s\n  %-34s  %s\n", lhs, "", e->help);
	else
		fprintf(out, "  %-34s  %s\n", lhs, e->help);
}

/* Does the entry's name start with these words (all of them, or its whole name)? */
static unsigned name_match(const char *name, char *const *w, unsigned n)
{
	unsigned k = 0;
	for (const char *s = name; *s != '\0'; k++) {
		size_t len = strcspn(s, " ");
		if (k == n || strlen(w[k]) != len || memcmp(w[k], s, len) != 0)
			return k == n ? k : 0;
		s += len + (s[len] == ' ');
	}
	return k;
}

static int cmd_help(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
		    struct nm_error *err)
{
	(void)c;
	unsigned shown = 0;
	if (argc == 0)
		fprintf(out, "commands (a word with spaces goes in \"...\"; errors start with 'error: '):\n");
	for (unsigned i = 0; i < N_CMDS; i++)
		if (argc == 0 || name_match(TABLE[i].name, argv, argc) == argc) {
			print_usage(out, &TABLE[i]);
			shown++;
		}
	if (shown == 0)
		return nm_error_set(err, -EINVAL, "no command '%.40s' (help lists them)", argv[0]);
	return 0;
}

/* ------------------------------------------------------------ dispatch */

static unsigned name_words(const char *name)
{
	unsigned k = 1;
	for (; *name; name++)
		k += *name == ' ';
	return k;
}

const struct app_cmd *app_cmd_find(char *const *w, unsigned n, unsigned *n_name)
{
	const struct app_cmd *best = NULL;
	unsigned best_k = 0;
	for (unsigned i = 0; i < N_CMDS; i++) {
		unsigned k = name_words(TABLE[i].name);
		if (k <= n && k > best_k && name_match(TABLE[i].name, w, n) == k) {
			best = &TABLE[i];
			best_k = k;
		}
	}
	*n_name = best_k;
	return best;
}

/* "show" alone or "show foo": the words that may follow. */
static int unknown(char *const *w, unsigned n, struct nm_error *err)
{
	char next[256];
	size_t len = 0;
	next[0] = '\0';
	for (unsigned i = 0; i < N_CMDS; i++) {
		const char *name = TABLE[i].name, *sp = strchr(name, ' ');
		if (sp != NULL && (size_t)(sp - name) == strlen(w[0]) &&
		    memcmp(name, w[0], (size_t)(sp - name)) == 0 && len < sizeof(next))
			len += (size_t)snprintf(next + len, sizeof(next) - len, "%s%s", len ? "|" : "",
						sp + 1);
	}
	if (len == 0)
		return nm_error_set(err, -EINVAL, "unknown command '%.40s' (help lists the commands)",
				    w[0]);
	if (n == 1)
		return nm_error_set(err, -EINVAL, "%s what? %s %s", w[0], w[0], next);
	return nm_error_set(err, -EINVAL, "unknown command '%.40s %.40s' (%s %s)", w[0], w[1], w[0],
			    next);
}

int app_cmds_run(struct app_cmds *c, const char *line, size_t len, FILE *out,
		 struct nm_error *err)
{
	struct app_cmd_words *words = &c->words;
	nm_error_clear(err);
	if (app_cmd_split(line, len, words, err) < 0)
		return err->code;
	if (words->n == 0)
		return 0;
	unsigned k;
	const struct app_cmd *e = app_cmd_find(words->w, words->n, &k);
	if (e == NULL)
		return unknown(words->w, words->n, err);
	unsigned argc = words->n - k;
	if (argc < e->min_args || argc > e->max_args)
		return nm_error_set(err, -EINVAL, "usage: %s %s", e->name,
				    e->args[0] ? e->args : "(no arguments)");
	int rc = e->fn(c, argc, words->w + k, out, err);
	if (rc < 0 && err->msg[0] == '\0')
		nm_error_set(err, rc, "%s: %s", e->name, nm_strerror(rc));
	return rc < 0 ? rc : 0;
}

void app_cmds_init(struct app_cmds *c, const struct app_cmds_env *env)
{
	memset(c, 0, sizeof(*c));
	c->env = *env;
}

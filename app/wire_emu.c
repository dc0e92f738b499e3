/* SPDX-License-Identifier: MIT */
/* wire_emu.c - the wire emulator's switch, faults and commands (see header). */
#include "wire_emu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_US 1000ULL

/* xorshift64*: small, fast, and the same sequence for the same seed. */
static uint64_t rnd(struct we_emu *e)
{
	uint64_t x = e->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* True with probability ppm / 10^6; no draw when ppm is 0, so unset faults cost nothing. */
static bool chance(struct we_emu *e, uint32_t ppm)
{
	return ppm != 0 && (uint32_t)(rnd(e) % WE_PPM) < ppm;
}

int we_init(struct we_emu *e, unsigned n_ports, uint64_t seed)
{
	if (e == NULL || n_ports == 0 || n_ports > WE_MAX_PORTS)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->n_ports = n_ports;
	e->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
	return 0;
}

static struct we_line *line_of(struct we_emu *e, unsigned port, enum we_dir dir)
{
	return port < e->n_ports ? &e->lines[port][dir] : NULL;
}

static bool fifo_put(struct we_line *l, void *pkt, uint64_t due)
{
	if (l->n == WE_LINE_CAP) {
		l->c.overflow++;
		return false;
	}
	l->q[(l->head + l->n++) % WE_LINE_CAP] = (struct we_entry){ pkt, due, 0 };
	return true;
}

/* Hold a frame back: it leaves after K later frames or at its deadline. */
static bool hold(struct we_line *l, void *pkt, uint64_t now)
{
	if (l->n_held == WE_HELD_MAX)
		return fifo_put(l, pkt, now + l->f.delay_ns);
	uint32_t k = l->f.reorder_k;
	uint64_t due = l->f.reorder_ns != 0 ? now + l->f.delay_ns + l->f.reorder_ns : UINT64_MAX;
	if (k == 0 && l->f.reorder_ns == 0)
		k = 1;
	l->held[l->n_held++] = (struct we_entry){ pkt, due, k != 0 ? k : UINT32_MAX };
	l->c.reordered++;
	return true;
}

bool we_line_put(struct we_emu *e, unsigned port, enum we_dir dir, void *pkt, uint64_t now_ns)
{
	struct we_line *l = line_of(e, port, dir);
	return l != NULL && fifo_put(l, pkt, now_ns + l->f.delay_ns);
}

enum we_verdict we_offer(struct we_emu *e, unsigned port, enum we_dir dir, void *pkt,
			 uint64_t now_ns)
{
	struct we_line *l = line_of(e, port, dir);
	if (l == NULL)
		return WE_DROP;
	l->c.frames++;
	if (l->f.down) {
		l->c.down++;
		return WE_DROP;
	}
	if (chance(e, l->f.loss_ppm)) {
		l->c.lost++;
		return WE_DROP;
	}
	bool ok = chance(e, l->f.reorder_ppm) ? hold(l, pkt, now_ns)
					       : fifo_put(l, pkt, now_ns + l->f.delay_ns);
	if (!ok)
		return WE_DROP;
	if (chance(e, l->f.dup_ppm)) {
		l->c.duplicated++;
		return WE_PASS_DUP;
	}
	return WE_PASS;
}

static void *take_held(struct we_line *l, unsigned i)
{
	void *pkt = l->held[i].pkt;
	memmove(&l->held[i], &l->held[i + 1], (l->n_held - i - 1) * sizeof(l->held[0]));
	l->n_held--;
	l->c.passed++;
	return pkt;
}

void *we_take(struct we_emu *e, unsigned port, enum we_dir dir, uint64_t now_ns)
{
	struct we_line *l = line_of(e, port, dir);
	if (l == NULL)
		return NULL;
	/* A held frame whose K frames passed or whose time came goes first. */
	for (unsigned i = 0; i < l->n_held; i++)
		if (l->held[i].countdown == 0 || l->held[i].due_ns <= now_ns)
			return take_held(l, i);
	if (l->n == 0 || l->q[l->head].due_ns > now_ns)
		return NULL;
	void *pkt = l->q[l->head].pkt;
	l->head = (l->head + 1) % WE_LINE_CAP;
	l->n--;
	l->c.passed++;
	for (unsigned i = 0; i < l->n_held; i++)
		if (l->held[i].countdown != UINT32_MAX && l->held[i].countdown > 0)
			l->held[i].countdown--;
	return pkt;
}

unsigned we_in_flight(const struct we_emu *e, unsigned port, enum we_dir dir)
{
	if (port >= e->n_ports)
		return 0;
	const struct we_line *l = &e->lines[port][dir];
	return l->n + l->n_held;
}

/* ---- pairs ---- */

static struct we_pair *pair_of(struct we_emu *e, unsigned from, unsigned to)
{
	return from < e->n_ports && to < e->n_ports ? &e->pairs[from][to] : NULL;
}

enum we_verdict we_pair_offer(struct we_emu *e, unsigned from, unsigned to)
{
	struct we_pair *pr = pair_of(e, from, to);
	if (pr == NULL)
		return WE_DROP;
	pr->frames++;
	if (pr->down) {
		pr->down_drops++;
		return WE_DROP;
	}
	if (chance(e, pr->loss_ppm)) {
		pr->lost++;
		return WE_DROP;
	}
	if (chance(e, pr->dup_ppm)) {
		pr->duplicated++;
		return WE_PASS_DUP;
	}
	return WE_PASS;
}

void we_pair_line_drop(struct we_emu *e, unsigned from, unsigned to)
{
	struct we_pair *pr = pair_of(e, from, to);
	if (pr != NULL)
		pr->line_drops++;
}

uint64_t we_pair_drops(const struct we_emu *e, unsigned from, unsigned to)
{
	if (from >= e->n_ports || to >= e->n_ports)
		return 0;
	const struct we_pair *pr = &e->pairs[from][to];
	return pr->lost + pr->down_drops + pr->line_drops;
}

/* ---- the switch ---- */

static int mac_index(const struct we_emu *e, const uint8_t *addr)
{
	for (unsigned i = 0; i < WE_MAC_TABLE; i++)
		if (e->macs[i].used && memcmp(e->macs[i].addr, addr, 6) == 0)
			return (int)i;
	return -1;
}

static struct we_mac *mac_find(struct we_emu *e, const uint8_t *addr)
{
	int i = mac_index(e, addr);
	return i >= 0 ? &e->macs[i] : NULL;
}

static void mac_learn(struct we_emu *e, const uint8_t *addr, unsigned port)
{
	if (addr[0] & 1)
		return; /* a group address is never a source */
	struct we_mac *m = mac_find(e, addr);
	if (m == NULL) { /* a full table forgets its oldest entry */
		m = &e->macs[e->mac_next++ % WE_MAC_TABLE];
		memcpy(m->addr, addr, 6);
		m->used = true;
	}
	m->port = (uint8_t)port; /* a host that moved is found where it is now */
}

int we_lookup(const struct we_emu *e, const uint8_t *frame, size_t len)
{
	int i = len >= 14 && !(frame[0] & 1) ? mac_index(e, frame) : -1;
	return i >= 0 ? e->macs[i].port : -1;
}

unsigned we_switch(struct we_emu *e, unsigned in_port, const uint8_t *frame, size_t len,
		   unsigned *out_ports)
{
	if (len < 14 || in_port >= e->n_ports)
		return 0;
	mac_learn(e, frame + 6, in_port);
	struct we_mac *dst = (frame[0] & 1) ? NULL : mac_find(e, frame);
	if (dst != NULL) {
		if (dst->port == in_port) {
			e->no_port++;
			return 0;
		}
		out_ports[0] = dst->port;
		return 1;
	}
	unsigned n = 0;
	for (unsigned p = 0; p < e->n_ports; p++)
		if (p != in_port)
			out_ports[n++] = p;
	e->flooded++;
	return n;
}

/* ---- commands ---- */

const char *we_help(void)
{
	return "commands (PORT: a number or 'all'; DIR: in, out or both, default both;\n"
	       "          PORT may be a pair FROM>TO or FROM<>TO (both ways) for loss, dup, down, up\n"
	       "          and clear: frames the switch sends between those ports only, no DIR):\n"
	       "  loss PORT PCT [DIR]             drop PCT % of frames (decimals allowed)\n"
	       "  dup PORT PCT [DIR]              send PCT % of frames twice\n"
	       "  reorder PORT PCT K US [DIR]     hold PCT % back until K later frames or US us passed\n"
	       "  delay PORT US [DIR]             hold every frame US microseconds\n"
	       "  down PORT [DIR] | up PORT [DIR] link down (everything dropped) or up\n"
	       "  clear PORT [DIR]                no faults\n"
	       "  capture PORT N                  keep the last N frames that came in on PORT\n"
	       "  replay PORT                     send the captured frames again, as from PORT\n"
	       "  stats                           every counter\n"
	       "  help                            this text\n";
}

static int fail(char *err, size_t cap, const char *msg, const char *tok)
{
	snprintf(err, cap, "%s%s%s", msg, tok ? ": " : "", tok ? tok : "");
	return -EINVAL;
}

/* "5", "0.5", "100" -> parts per million. */
static int parse_pct(const char *s, uint32_t *ppm)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= 0.0 && v <= 100.0))
		return -EINVAL;
	*ppm = (uint32_t)(v * 10000.0 + 0.5);
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One port or 'all' -> an inclusive range. */
static int parse_one_port(const struct we_emu *e, const char *s, unsigned *lo, unsigned *hi)
{
	uint64_t p;
	if (s != NULL && strcmp(s, "all") == 0) {
		*lo = 0;
		*hi = e->n_ports - 1;
		return 0;
	}
	if (parse_u64(s, e->n_ports - 1, &p) < 0)
		return -EINVAL;
	*lo = *hi = (unsigned)p;
	return 0;
}

/* PORT, or a pair FROM>TO / FROM<>TO (each a port or 'all'). */
static int parse_port(const struct we_emu *e, const char *s, struct we_cmd *c)
{
	const char *arrow = s != NULL ? strchr(s, '>') : NULL;
	if (arrow == NULL)
		return parse_one_port(e, s, &c->port_lo, &c->port_hi);
	char from[16];
	size_t n = (size_t)(arrow - s);
	c->pair = true;
	c->both_ways = n > 0 && s[n - 1] == '<';
	if (c->both_ways)
		n--;
	if (n >= sizeof(from))
		return -EINVAL;
	memcpy(from, s, n);
	from[n] = '\0';
	if (parse_one_port(e, from, &c->port_lo, &c->port_hi) < 0 ||
	    parse_one_port(e, arrow + 1, &c->to_lo, &c->to_hi) < 0)
		return -EINVAL;
	return 0;
}

static int parse_dir(const char *s, struct we_cmd *c)
{
	c->dir[WE_IN] = c->dir[WE_OUT] = true;
	if (s == NULL || strcmp(s, "both") == 0)
		return 0;
	if (strcmp(s, "in") == 0)
		c->dir[WE_OUT] = false;
	else if (strcmp(s, "out") == 0)
		c->dir[WE_IN] = false;
	else
		return -EINVAL;
	return 0;
}

#define MAX_TOK 8

/* The arguments of a fault command after PORT; tok[n] is the optional DIR. */
static int parse_fault(struct we_cmd *c, char **tok, unsigned n, char *err, size_t cap)
{
	uint64_t v;
	unsigned need = 0;
	if (strcmp(c->what, "loss") == 0 || strcmp(c->what, "dup") == 0) {
		need = 1;
		if (n < 1 || parse_pct(tok[0], &c->ppm) < 0)
			return fail(err, cap, "expected a percentage 0..100", n ? tok[0] : NULL);
	} else if (strcmp(c->what, "reorder") == 0) {
		need = 3;
		if (n < 3 || parse_pct(tok[0], &c->ppm) < 0)
			return fail(err, cap, "usage: reorder PORT PCT K US [DIR]", NULL);
		if (parse_u64(tok[1], 1000000, &v) < 0)
			return fail(err, cap, "K: expected 0..1000000", tok[1]);
		c->k = (uint32_t)v;
		if (parse_u64(tok[2], 60000000, &v) < 0)
			return fail(err, cap, "US: expected 0..60000000", tok[2]);
		c->ns = v * NS_PER_US;
	} else if (strcmp(c->what, "delay") == 0) {
		need = 1;
		if (n < 1 || parse_u64(tok[0], 60000000, &v) < 0)
			return fail(err, cap, "expected microseconds 0..60000000", n ? tok[0] : NULL);
		c->ns = v * NS_PER_US;
	} else if (strcmp(c->what, "down") != 0 && strcmp(c->what, "up") != 0 &&
		   strcmp(c->what, "clear") != 0) {
		return fail(err, cap, "unknown command (try help)", c->what);
	}
	if (n > need + 1)
		return fail(err, cap, "too many arguments", tok[need + 1]);
	if (parse_dir(n > need ? tok[need] : NULL, c) < 0)
		return fail(err, cap, "DIR: expected in, out or both", tok[need]);
	c->op = WE_OP_SET;
	return 0;
}

/* A pair's fault: loss and dup take a percentage; no DIR (the arrow is the direction). */
static int parse_pair_fault(struct we_cmd *c, char **tok, unsigned n, char *err, size_t cap)
{
	static const char *const ok[] = { "loss", "dup", "down", "up", "clear" };
	bool known = false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		known = known || strcmp(c->what, ok[i]) == 0;
	if (!known)
		return fail(err, cap, "a pair takes loss, dup, down, up or clear", c->what);
	unsigned need = strcmp(c->what, "loss") == 0 || strcmp(c->what, "dup") == 0;
	if (need && (n < 1 || parse_pct(tok[0], &c->ppm) < 0))
		return fail(err, cap, "expected a percentage 0..100", n ? tok[0] : NULL);
	if (n > need)
		return fail(err, cap, "too many arguments (a pair has no DIR)", tok[need]);
	c->op = WE_OP_SET;
	return 0;
}

int we_parse(const struct we_emu *e, const char *line, struct we_cmd *cmd, char *err, size_t cap)
{
	char buf[256], *tok[MAX_TOK], *save = NULL;
	unsigned n = 0;
	memset(cmd, 0, sizeof(*cmd));
	if (snprintf(buf, sizeof(buf), "%s", line) >= (int)sizeof(buf))
		return fail(err, cap, "line too long", NULL);
	for (char *t = strtok_r(buf, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_TOK)
			return fail(err, cap, "too many arguments", t);
		tok[n++] = t;
	}
	if (n == 0)
		return fail(err, cap, "empty command (try help)", NULL);
	if (strcmp(tok[0], "stats") == 0 || strcmp(tok[0], "help") == 0) {
		cmd->op = tok[0][0] == 's' ? WE_OP_STATS : WE_OP_HELP;
		return n == 1 ? 0 : fail(err, cap, "too many arguments", tok[1]);
	}
	if (snprintf(cmd->what, sizeof(cmd->what), "%s", tok[0]) >= (int)sizeof(cmd->what))
		return fail(err, cap, "unknown command (try help)", tok[0]);
	if (n < 2 || parse_port(e, tok[1], cmd) < 0)
		return fail(err, cap, "PORT: expected 'all', a port number, FROM>TO or FROM<>TO",
			    n > 1 ? tok[1] : NULL);
	if (cmd->pair)
		return parse_pair_fault(cmd, tok + 2, n - 2, err, cap);
	if (strcmp(tok[0], "capture") == 0 || strcmp(tok[0], "replay") == 0) {
		uint64_t v = 0;
		bool cap_cmd = tok[0][0] == 'c';
		if (cmd->port_lo != cmd->port_hi)
			return fail(err, cap, "one port, not all", NULL);
		if (n != (cap_cmd ? 3u : 2u) || (cap_cmd && parse_u64(tok[2], 64, &v) < 0))
			return fail(err, cap, cap_cmd ? "usage: capture PORT N (N <= 64)" : "usage: replay PORT",
				    NULL);
		cmd->op = cap_cmd ? WE_OP_CAPTURE : WE_OP_REPLAY;
		cmd->count = (unsigned)v;
		return 0;
	}
	return parse_fault(cmd, tok + 2, n - 2, err, cap);
}

static void apply_line(struct we_fault *f, const struct we_cmd *c)
{
	switch (c->what[0]) {
	case 'l':
		f->loss_ppm = c->ppm;
		break;
	case 'r':
		f->reorder_ppm = c->ppm;
		f->reorder_k = c->k;
		f->reorder_ns = c->ns;
		break;
	case 'u':
		f->down = false;
		break;
	case 'c':
		*f = (struct we_fault){ 0 };
		break;
	default: /* dup, delay, down */
		if (strcmp(c->what, "dup") == 0)
			f->dup_ppm = c->ppm;
		else if (strcmp(c->what, "delay") == 0)
			f->delay_ns = c->ns;
		else
			f->down = true;
		break;
	}
}

static void apply_pair(struct we_pair *pr, const struct we_cmd *c)
{
	if (strcmp(c->what, "loss") == 0)
		pr->loss_ppm = c->ppm;
	else if (strcmp(c->what, "dup") == 0)
		pr->dup_ppm = c->ppm;
	else if (strcmp(c->what, "clear") == 0) {
		pr->loss_ppm = 0;
		pr->dup_ppm = 0;
		pr->down = false;
	} else
		pr->down = strcmp(c->what, "down") == 0;
}

static void apply_pairs(struct we_emu *e, const struct we_cmd *c)
{
	for (unsigned f = c->port_lo; f <= c->port_hi && f < e->n_ports; f++)
		for (unsigned t = c->to_lo; t <= c->to_hi && t < e->n_ports; t++) {
			if (f == t)
				continue; /* the switch never sends a frame back where it came from */
			apply_pair(&e->pairs[f][t], c);
			if (c->both_ways)
				apply_pair(&e->pairs[t][f], c);
		}
}

void we_apply(struct we_emu *e, const struct we_cmd *c)
{
	if (c->op != WE_OP_SET)
		return;
	if (c->pair) {
		apply_pairs(e, c);
		return;
	}
	for (unsigned p = c->port_lo; p <= c->port_hi && p < e->n_ports; p++)
		for (int d = 0; d < 2; d++)
			if (c->dir[d])
				apply_line(&e->lines[p][d].f, c);
}

size_t we_format_stats(const struct we_emu *e, char *out, size_t cap)
{
	size_t n = 0;
	for (unsigned p = 0; p < e->n_ports; p++)
		for (int d = 0; d < 2 && n < cap; d++) {
			const struct we_line *l = &e->lines[p][d];
			int w = snprintf(out + n, cap - n,
					 "port %u %s: frames=%" PRIu64 " passed=%" PRIu64 " lost=%" PRIu64
					 " down=%" PRIu64 " duplicated=%" PRIu64 " reordered=%" PRIu64
					 " overflow=%" PRIu64 " in_flight=%u link=%s\n",
					 p, d == WE_IN ? "in" : "out", l->c.frames, l->c.passed, l->c.lost,
					 l->c.down, l->c.duplicated, l->c.reordered, l->c.overflow,
					 l->n + l->n_held, l->f.down ? "down" : "up");
			n += w > 0 ? (size_t)w : 0;
		}
	for (unsigned f = 0; f < e->n_ports; f++)
		for (unsigned t = 0; t < e->n_ports && n < cap; t++) {
			const struct we_pair *pr = &e->pairs[f][t];
			if (pr->frames == 0 && pr->line_drops == 0 && pr->loss_ppm == 0 &&
			    pr->dup_ppm == 0 && !pr->down)
				continue;
			int w = snprintf(out + n, cap - n,
					 "pair %u>%u: frames=%" PRIu64 " lost=%" PRIu64 " down=%" PRIu64
					 " duplicated=%" PRIu64 " line_drops=%" PRIu64 " drops=%" PRIu64
					 " loss_ppm=%u dup_ppm=%u link=%s\n",
					 f, t, pr->frames, pr->lost, pr->down_drops, pr->duplicated,
					 pr->line_drops, we_pair_drops(e, f, t), pr->loss_ppm, pr->dup_ppm,
					 pr->down ? "down" : "up");
			n += w > 0 ? (size_t)w : 0;
		}
	if (n < cap) {
		int w = snprintf(out + n, cap - n, "switch: flooded=%" PRIu64 " same_port=%" PRIu64 "\n",
				 e->flooded, e->no_port);
		n += w > 0 ? (size_t)w : 0;
	}
	return n < cap ? n : cap - 1;
}

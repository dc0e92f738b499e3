/* SPDX-License-Identifier: MIT */
/*
 * test_migration.c - the migration engine without any dataplane: 2 and 3
 * runtimes in one process, joined by a message pump with deterministic
 * faults (loss, duplication, reordering, delay, dead nodes, cut links) in
 * virtual time. Upstream's orchestrator/source/target/dispatcher tests
 * (compute.md §15.C) and SDK cases (§15.B) keep their names where netmesh's
 * flow has the same step; netmesh's own tests check exactly-once delivery
 * and one unbroken output chain across many migrations.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "nm_builtin.h"
#include "nm_envelope.h"
#include "nm_le.h"
#include "nm_migration.h"
#include "nm_migwire.h"
#include "nm_node.h"
#include "nm_runtime.h"
#include "nm_test.h"

#define MAX_NODES 3
#define MAX_MSGS 20000
#define SENDER_NODE 0x5E4D5E4D5E4D0001ull
#define STEP_MS 5
#define MAX_EVENTS 20000

/* ------------------------------------------------------------ test daemon */

/*
 * rec: counts events, sums their ids (and squares), emits (count, id). Its
 * state is not its last output, so only the chain-head TLV keeps its chain.
 * `stateless` variants have no snapshot op and emit the id only.
 */
struct recd {
	struct nm_daemon base;
	uint64_t count, sum, sumsq;
};

static int rec_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
		       struct nm_error *err)
{
	struct recd *r = (struct recd *)d;
	if (ev->len != 8)
		return nm_error_set(err, NM_EPROCESS_FAILED, "rec wants 8-byte events");
	uint64_t id = nm_get_le64(ev->payload);
	r->count++;
	r->sum += id;
	r->sumsq += id * id;
	uint8_t o[16];
	nm_put_le64(o, r->count);
	nm_put_le64(o + 8, id);
	return nm_emit(out, o, sizeof(o));
}

static int rec_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	(void)err;
	const struct recd *r = (const struct recd *)d;
	uint8_t s[24];
	nm_put_le64(s, r->count);
	nm_put_le64(s + 8, r->sum);
	nm_put_le64(s + 16, r->sumsq);
	return nm_bytes_append(out, s, sizeof(s));
}

static int rec_restore(struct nm_daemon *d, const uint8_t *state, size_t len, struct nm_error *err)
{
	struct recd *r = (struct recd *)d;
	if (len != 24)
		return nm_error_set(err, NM_ERESTORE_FAILED, "rec state must be 24 bytes, got %zu", len);
	r->count = nm_get_le64(state);
	r->sum = nm_get_le64(state + 8);
	r->sumsq = nm_get_le64(state + 16);
	return 0;
}

static void rec_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops rec_ops = {
	.name = "rec", .process = rec_process, .snapshot = rec_snapshot, .restore = rec_restore,
	.destroy = rec_destroy,
};

static int srec_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d;
	(void)err;
	return nm_emit(out, ev->payload, ev->len);
}

static const struct nm_daemon_ops srec_ops = {
	.name = "srec", .process = srec_process, .destroy = rec_destroy,
};

static struct nm_daemon *rec_factory(void *ctx)
{
	struct recd *r = calloc(1, sizeof(*r));
	if (r != NULL)
		r->base.ops = ctx != NULL ? &srec_ops : &rec_ops;
	return r ? &r->base : NULL;
}

/* A big state for multi-chunk transfers: 21 500 bytes, checked on restore. */
struct bigd {
	struct nm_daemon base;
};

static int big_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
		       struct nm_error *err)
{
	(void)d;
	(void)err;
	return nm_emit(out, ev->payload, ev->len);
}

static int big_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	(void)d;
	(void)err;
	for (int i = 0; i < 21500; i++) {
		uint8_t b = (uint8_t)(i * 7);
		if (nm_bytes_append(out, &b, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int big_restore(struct nm_daemon *d, const uint8_t *s, size_t len, struct nm_error *err)
{
	(void)d;
	for (size_t i = 0; i < len; i++)
		if (s[i] != (uint8_t)(i * 7))
			return nm_error_set(err, NM_ERESTORE_FAILED, "big state corrupt at %zu", i);
	return len == 21500 ? 0 : nm_error_set(err, NM_ERESTORE_FAILED, "big state %zu bytes", len);
}

static const struct nm_daemon_ops big_ops = {
	.name = "big", .process = big_process, .snapshot = big_snapshot, .restore = big_restore,
	.destroy = rec_destroy,
};

static struct nm_daemon *big_factory(void *ctx)
{
	(void)ctx;
	struct bigd *b = calloc(1, sizeof(*b));
	if (b != NULL)
		b->base.ops = &big_ops;
	return b ? &b->base : NULL;
}

/* ------------------------------------------------------------ output log */

/* Every output by chain sequence: exactly once each, and linked. */
struct outlog {
	struct {
		struct nm_causal_link link;
		uint8_t payload[16];
		uint32_t len;
		bool have;
	} s[MAX_EVENTS + 2];
	uint64_t dups;
	uint64_t highest;
};

static void outlog_add(struct outlog *l, const struct nm_outputs *out)
{
	for (uint32_t i = 0; i < out->n; i++) {
		const struct nm_event *e = &out->ev[i];
		uint64_t q = e->link.sequence;
		ck_assert_uint_lt(q, MAX_EVENTS + 2);
		if (l->s[q].have) {
			l->dups++;
			continue;
		}
		l->s[q].have = true;
		l->s[q].link = e->link;
		l->s[q].len = e->len <= 16 ? e->len : 16;
		memcpy(l->s[q].payload, e->payload, l->s[q].len);
		if (q > l->highest)
			l->highest = q;
	}
}

/* Outputs 1..n all present once, each link following the previous one. */
static void outlog_check_chain(const struct outlog *l, uint64_t n)
{
	ck_assert_uint_eq(l->dups, 0);
	ck_assert_uint_eq(l->highest, n);
	for (uint64_t q = 1; q <= n; q++) {
		ck_assert_msg(l->s[q].have, "output %" PRIu64 " missing", q);
		if (q == 1)
			continue;
		struct nm_chain_error ce;
		enum nm_chain_verdict v = nm_chain_validate(&l->s[q - 1].link, l->s[q - 1].payload,
							    l->s[q - 1].len, &l->s[q].link, &ce);
		ck_assert_msg(v == NM_CHAIN_OK, "chain broken at %" PRIu64 " (verdict %d)", q, v);
	}
}

/* ------------------------------------------------------------ the network */

struct msg {
	int from, to; /* node index; to == -1: the sender */
	uint64_t at;
	uint8_t *buf;
	size_t len;
};

struct net;

struct node {
	struct net *net;
	int idx;
	struct nm_identity id;
	struct nm_node *node;
	struct nm_runtime *rt;
	struct nm_migration *mig; /* NULL: a bare node without a compute runtime */
	uint8_t sk[32], pk[32];
	bool alive;
	struct nm_output_sink sink;
};

struct net {
	int n;
	struct node nodes[MAX_NODES];
	struct msg *q;
	size_t nq;
	uint64_t now;
	uint64_t rng;
	uint32_t loss_pct, dup_pct, max_delay_ms;
	bool link_down[MAX_NODES][MAX_NODES];
	bool knows_static[MAX_NODES][MAX_NODES];
	struct outlog *log;
	/* the sender */
	uint64_t origin;
	int loc; /* where the sender believes the daemon lives */
	uint64_t moved_seen;
	uint64_t sent_ok, not_found;
	uint64_t next_id;
	struct nm_outputs *out;
	/* counters */
	uint64_t dropped, duplicated;
};

static uint32_t rnd(struct net *n)
{
	/* xorshift64*: deterministic faults */
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return (uint32_t)((n->rng * 2685821657736338717ull) >> 32);
}

static int node_index(struct net *n, uint64_t node_id)
{
	for (int i = 0; i < n->n; i++)
		if (n->nodes[i].id.node_id == node_id)
			return i;
	return node_id == SENDER_NODE ? -1 : -2;
}

static void enqueue(struct net *n, int from, int to, const uint8_t *buf, size_t len)
{
	ck_assert_uint_lt(n->nq, MAX_MSGS);
	struct msg *m = &n->q[n->nq++];
	m->from = from;
	m->to = to;
	m->at = n->now + STEP_MS + (n->max_delay_ms ? rnd(n) % n->max_delay_ms : 0);
	m->buf = malloc(len);
	ck_assert_ptr_nonnull(m->buf);
	memcpy(m->buf, buf, len);
	m->len = len;
}

static int tx_send(void *ctx, uint64_t dest, const uint8_t *msg, size_t len)
{
	struct node *self = ctx;
	struct net *n = self->net;
	int to = node_index(n, dest);
	if (to == -2)
		return -EHOSTUNREACH; /* no session to that node */
	if (!self->alive)
		return 0;
	if (to >= 0 && n->link_down[self->idx][to]) {
		n->dropped++;
		return 0;
	}
	if (n->loss_pct && rnd(n) % 100 < n->loss_pct) {
		n->dropped++;
		return 0;
	}
	enqueue(n, self->idx, to, msg, len);
	if (n->dup_pct && rnd(n) % 100 < n->dup_pct) {
		n->duplicated++;
		enqueue(n, self->idx, to, msg, len);
	}
	return 0;
}

static bool tx_peer_static(void *ctx, uint64_t node, uint8_t out[32])
{
	struct node *self = ctx;
	int i = node_index(self->net, node);
	if (i < 0 || !self->net->knows_static[self->idx][i])
		return false;
	memcpy(out, self->net->nodes[i].pk, 32);
	return true;
}

static void tx_moved(void *ctx, uint64_t origin, uint64_t node)
{
	(void)ctx;
	(void)origin;
	(void)node;
}

static void sink_emit(void *ctx, uint64_t origin, uint64_t sender, const struct nm_outputs *out)
{
	(void)origin;
	(void)sender;
	struct node *self = ctx;
	if (self->net->log != NULL)
		outlog_add(self->net->log, out);
}

static struct nm_mig_transport transport_of(struct node *nd)
{
	return (struct nm_mig_transport){ .ctx = nd, .send = tx_send, .peer_static = tx_peer_static,
					  .moved = tx_moved };
}

static void node_engine(struct node *nd)
{
	struct nm_mig_transport tx = transport_of(nd);
	struct nm_mig_config cfg = { .rt = nd->rt, .tx = &tx, .static_sk = nd->sk };
	nd->mig = nm_mig_create(&cfg);
	ck_assert_ptr_nonnull(nd->mig);
}

/* A net of n nodes, each a started runtime with rec/srec/big/counter kinds and an engine. */
static struct net *net_new(int n_nodes, uint64_t seed)
{
	struct net *n = calloc(1, sizeof(*n));
	ck_assert_ptr_nonnull(n);
	n->q = calloc(MAX_MSGS, sizeof(*n->q));
	n->out = nm_outputs_create(64, 4096);
	ck_assert_ptr_nonnull(n->q);
	n->n = n_nodes;
	n->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	n->now = 1000;
	n->loc = 0;
	for (int i = 0; i < n_nodes; i++) {
		struct node *nd = &n->nodes[i];
		nd->net = n;
		nd->idx = i;
		nd->alive = true;
		ck_assert_int_eq(nm_identity_generate(&nd->id), 0);
		randombytes_buf(nd->sk, 32);
		ck_assert_int_eq(nm_x25519_public(nd->sk, nd->pk), 0);
		nd->node = nm_node_create(&nd->id);
		nd->rt = nm_runtime_create(nd->node);
		ck_assert_ptr_nonnull(nd->rt);
		ck_assert_int_eq(nm_runtime_register_factory(nd->rt, "rec", rec_factory, NULL, NULL), 0);
		ck_assert_int_eq(nm_runtime_register_factory(nd->rt, "srec", rec_factory, (void *)1, NULL), 0);
		ck_assert_int_eq(nm_runtime_register_factory(nd->rt, "big", big_factory, NULL, NULL), 0);
		ck_assert_int_eq(nm_builtin_register_all(nd->rt, NULL), 0);
		ck_assert_int_eq(nm_runtime_start(nd->rt, NULL), 0);
		nd->sink = (struct nm_output_sink){ nd, sink_emit };
		nm_runtime_set_output_sink(nd->rt, &nd->sink);
		node_engine(nd);
		for (int j = 0; j < n_nodes; j++)
			n->knows_static[i][j] = true;
	}
	return n;
}

static void net_free(struct net *n)
{
	for (int i = 0; i < n->n; i++) {
		struct node *nd = &n->nodes[i];
		nm_mig_free(nd->mig);
		nm_runtime_destroy(nd->rt);
		nm_node_destroy(nd->node);
		nm_identity_wipe(&nd->id);
	}
	for (size_t i = 0; i < n->nq; i++)
		free(n->q[i].buf);
	free(n->q);
	nm_outputs_free(n->out);
	free(n->log);
	free(n);
}

static uint64_t nid(struct net *n, int i)
{
	return n->nodes[i].id.node_id;
}

/* A node without a compute runtime answers like upstream's bare mesh (§11.8). */
static void bare_node_reply(struct net *n, struct node *nd, const struct msg *m)
{
	struct nm_mig_msg in, out = { 0 };
	if (nm_mig_decode(m->buf, m->len, &in, NULL, NULL) < 0 ||
	    (in.type != NM_MIG_TAKE_SNAPSHOT && in.type != NM_MIG_SNAPSHOT_READY))
		return;
	out.type = NM_MIG_FAILED;
	out.daemon_origin = in.daemon_origin;
	out.failed.code = NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED;
	uint8_t buf[64];
	size_t len;
	ck_assert_int_eq(nm_mig_encode(&out, buf, sizeof(buf), &len, NULL), 0);
	tx_send(nd, nid(n, m->from), buf, len);
}

static void deliver_to_sender(struct net *n, const struct msg *m)
{
	struct nm_mig_msg in;
	if (nm_mig_decode(m->buf, m->len, &in, NULL, NULL) == 0 && in.type == NM_MIG_MOVED) {
		int i = node_index(n, in.moved.new_node);
		if (i >= 0 && in.daemon_origin == n->origin) {
			n->loc = i;
			n->moved_seen++;
		}
	}
}

/* Deliver every due message (in arrival-time order), then poll every engine. */
static void net_step(struct net *n)
{
	n->now += STEP_MS;
	for (size_t i = 0; i < n->nq;) {
		struct msg m = n->q[i];
		if (m.at > n->now) {
			i++;
			continue;
		}
		n->q[i] = n->q[--n->nq];
		if (m.to == -1) {
			deliver_to_sender(n, &m);
		} else if (n->nodes[m.to].alive && !n->link_down[m.from][m.to]) {
			struct node *nd = &n->nodes[m.to];
			if (nd->mig != NULL)
				nm_mig_handle(nd->mig, m.buf, m.len, nid(n, m.from), n->now, NULL);
			else
				bare_node_reply(n, nd, &m);
		}
		free(m.buf);
	}
	for (int i = 0; i < n->n; i++)
		if (n->nodes[i].alive && n->nodes[i].mig != NULL)
			nm_mig_poll(n->nodes[i].mig, n->now);
}

/* ------------------------------------------------------------ the sender */

static struct nm_event event_of(uint64_t id, uint8_t buf[8])
{
	nm_put_le64(buf, id);
	struct nm_event ev = { .link = { 0xABCDull, 0, id, 0 }, .payload = buf, .len = 8 };
	return ev;
}

/* Send one event (id) to where the sender believes the daemon is; false if no node took it. */
static bool send_one(struct net *n, uint64_t id)
{
	uint8_t b[8];
	struct nm_event ev = event_of(id, b);
	for (int tries = 0; tries < n->n; tries++) {
		struct node *nd = &n->nodes[n->loc];
		if (nd->alive) {
			int rc = nm_runtime_deliver_from(nd->rt, n->origin, &ev, SENDER_NODE, n->out, NULL);
			if (rc == 0) {
				if (n->log != NULL)
					outlog_add(n->log, n->out);
				n->sent_ok++;
				return true;
			}
			ck_assert_int_eq(rc, NM_ENOT_FOUND);
		}
		n->not_found++; /* a sender with a stale route looks the daemon up again */
		n->loc = (n->loc + 1) % n->n;
	}
	return false;
}

/* Steps with `per_step` events each (0: none). */
static void run(struct net *n, uint32_t steps, uint32_t per_step)
{
	for (uint32_t s = 0; s < steps; s++) {
		for (uint32_t k = 0; k < per_step; k++) {
			if (send_one(n, n->next_id + 1))
				n->next_id++;
		}
		net_step(n);
	}
}

/* Where is the daemon registered (and not held as an uncommitted target)? */
static int live_count(struct net *n, uint64_t origin, int *where)
{
	int c = 0;
	for (int i = 0; i < n->n; i++)
		if (n->nodes[i].alive && nm_runtime_has_daemon(n->nodes[i].rt, origin)) {
			c++;
			if (where != NULL)
				*where = i;
		}
	return c;
}

static bool engine_idle(struct net *n, int i, uint64_t origin)
{
	return !n->nodes[i].alive || n->nodes[i].mig == NULL ||
	       nm_mig_phase_of(n->nodes[i].mig, origin) == NM_MIG_PHASE_NONE;
}

/* Pump (with traffic) until no node has a record in progress for origin; generous deadline. */
static void run_until_idle(struct net *n, uint64_t origin, uint32_t per_step)
{
	for (int guard = 0; guard < 40000; guard++) {
		bool idle = true;
		for (int i = 0; i < n->n; i++)
			idle = idle && engine_idle(n, i, origin);
		if (idle)
			return;
		run(n, 1, per_step);
	}
	ck_abort_msg("migration of 0x%" PRIx64 " never finished", origin);
}

static struct nm_daemon_handle spawn_on(struct net *n, int i, const char *kind,
					const struct nm_identity *id)
{
	struct nm_daemon_handle h;
	struct nm_error e;
	ck_assert_msg(nm_runtime_spawn(n->nodes[i].rt, kind, id, NULL, &h, &e) == 0, "%s", e.msg);
	for (int j = 0; j < n->n; j++)
		if (j != i)
			ck_assert_int_eq(nm_runtime_register_migration_target_identity(
						 n->nodes[j].rt, kind, id, NULL, NULL),
					 0);
	n->origin = id->origin_hash;
	n->loc = i;
	return h;
}

static bool last_ok(struct net *n, int i, uint64_t origin)
{
	struct nm_mig_info h[1];
	return nm_mig_history(n->nodes[i].mig, h, 1) > 0 && h[0].origin == origin && h[0].ok;
}

/* The daemon's rec state, read back with a snapshot. */
static void rec_state(struct net *n, int i, uint64_t origin, uint64_t *count, uint64_t *sum,
		      uint64_t *sumsq)
{
	struct nm_snapshot *s = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(n->nodes[i].rt, origin, &s, NULL), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->state_len, 24);
	*count = nm_get_le64(s->state);
	*sum = nm_get_le64(s->state + 8);
	*sumsq = nm_get_le64(s->state + 16);
	nm_snapshot_free(s);
}

/* Events 1..N were each processed exactly once (state) and the chain is whole. */
static void check_exactly_once(struct net *n, uint64_t origin, bool stateful)
{
	int where = -1;
	ck_assert_int_eq(live_count(n, origin, &where), 1);
	uint64_t N = n->next_id;
	if (stateful) {
		uint64_t c, s, q, es = 0, eq = 0;
		for (uint64_t i = 1; i <= N; i++) {
			es += i;
			eq += i * i;
		}
		rec_state(n, where, origin, &c, &s, &q);
		ck_assert_uint_eq(c, N);
		ck_assert_uint_eq(s, es);
		ck_assert_uint_eq(q, eq);
	}
	outlog_check_chain(n->log, N);
}

/* ------------------------------------------------------------ netmesh: exactly once */

/* Many migrations back and forth under 5% loss both ways, duplication and reordering. */
static void back_and_forth(int n_nodes, const char *kind, bool stateful, uint64_t seed,
			   int migrations)
{
	struct net *n = net_new(n_nodes, seed);
	n->log = calloc(1, sizeof(*n->log));
	n->loss_pct = 5;
	n->dup_pct = 3;
	n->max_delay_ms = 40;
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	spawn_on(n, 0, kind, &id);
	const uint64_t o = id.origin_hash;
	int host = 0, completed = 0, waits = 0;
	run(n, 20, 2);
	for (int k = 0; k < migrations; k++) {
		int to = (host + 1 + (int)(rnd(n) % (uint32_t)(n_nodes - 1))) % n_nodes;
		struct nm_mig_opts opts = nm_mig_opts_default();
		struct nm_error e;
		int rc = nm_mig_start(n->nodes[host].mig, o, nid(n, host), nid(n, to), &opts, n->now, &e);
		if (rc == NM_EMIG_ALREADY_MIGRATING && waits++ < 400) {
			run(n, 50, 2); /* the previous one still forwards: later */
			k--;
			continue;
		}
		ck_assert_msg(rc == 0, "start %d: %s", k, e.msg);
		run_until_idle(n, o, 2);
		int where = -1;
		ck_assert_int_eq(live_count(n, o, &where), 1);
		if (last_ok(n, host, o)) {
			ck_assert_int_eq(where, to);
			completed++;
		} else {
			ck_assert_int_eq(where, host); /* aborted: still here */
		}
		host = where;
		run(n, 10, 2);
	}
	/* Quiet: let forwarding drain and every ack land. */
	run(n, 3000, 0);
	check_exactly_once(n, o, stateful);
	ck_assert_int_ge(completed, migrations / 2);
	ck_assert_uint_gt(n->moved_seen, 0);
	net_free(n);
}

START_TEST(exactly_once_two_nodes_lossy)
{
	back_and_forth(2, "rec", true, 0x1234, 12);
}
END_TEST

START_TEST(exactly_once_three_nodes_lossy)
{
	back_and_forth(3, "rec", true, 0xBEEF, 12);
}
END_TEST

START_TEST(stateless_daemon_migrates_exactly_once)
{
	back_and_forth(2, "srec", false, 0x5151, 8);
}
END_TEST


/* ------------------------------------------------------------ netmesh: faults */

/* A 2-node net with the rec daemon on node 0, traffic flowing. */
static struct net *faulty_pair(uint64_t seed, uint64_t *origin)
{
	struct net *n = net_new(2, seed);
	n->log = calloc(1, sizeof(*n->log));
	n->loss_pct = 5;
	n->max_delay_ms = 20;
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	spawn_on(n, 0, "rec", &id);
	*origin = id.origin_hash;
	run(n, 20, 2);
	return n;
}

static void start_0_to_1(struct net *n, uint64_t o)
{
	struct nm_mig_opts opts = nm_mig_opts_default();
	struct nm_error e;
	ck_assert_msg(nm_mig_start(n->nodes[0].mig, o, nid(n, 0), nid(n, 1), &opts, n->now, &e) == 0,
		      "%s", e.msg);
}

START_TEST(target_killed_mid_transfer_daemon_stays_on_source)
{
	uint64_t o;
	struct net *n = faulty_pair(0x7001, &o);
	start_0_to_1(n, o);
	n->nodes[1].alive = false; /* before the snapshot reaches it */
	run_until_idle(n, o, 2);
	struct nm_mig_info h[1];
	ck_assert_uint_ge(nm_mig_history(n->nodes[0].mig, h, 1), 1);
	ck_assert(!h[0].ok);
	ck_assert_str_eq(h[0].reason, "state failed: migration timed out in phase Transfer");
	int where = -1;
	ck_assert_int_eq(live_count(n, o, &where), 1);
	ck_assert_int_eq(where, 0);
	run(n, 100, 2); /* the held events ran here; new ones too */
	check_exactly_once(n, o, true);
	net_free(n);
}
END_TEST

START_TEST(source_killed_after_cutover_daemon_lives_on_target)
{
	uint64_t o;
	struct net *n = faulty_pair(0x7002, &o);
	start_0_to_1(n, o);
	for (int g = 0; g < 20000 && !last_ok(n, 1, o); g++)
		run(n, 1, 2);
	ck_assert(last_ok(n, 1, o)); /* the target activated: that is the cutover */
	run(n, 400, 0);               /* every forwarded event acked */
	n->nodes[0].alive = false;
	run(n, 100, 2);               /* the sender finds the daemon on node 1 */
	int where = -1;
	ck_assert_int_eq(live_count(n, o, &where), 1);
	ck_assert_int_eq(where, 1);
	check_exactly_once(n, o, true);
	net_free(n);
}
END_TEST

/* Cut both directions right after the commit (ActivateTarget in flight). */
static void cut_after_commit(struct net *n, uint64_t o)
{
	for (int g = 0; g < 20000 && nm_mig_phase_of(n->nodes[0].mig, o) != NM_MIG_PHASE_REPLAY; g++)
		run(n, 1, 2);
	ck_assert_int_eq(nm_mig_phase_of(n->nodes[0].mig, o), NM_MIG_PHASE_REPLAY);
	n->link_down[0][1] = n->link_down[1][0] = true;
}

START_TEST(link_down_during_replay_completes_after_link_returns)
{
	uint64_t o;
	struct net *n = faulty_pair(0x7003, &o);
	start_0_to_1(n, o);
	cut_after_commit(n, o);
	run(n, 400, 2); /* 2 s: the source keeps its events and retries */
	ck_assert_int_eq(nm_mig_phase_of(n->nodes[0].mig, o), NM_MIG_PHASE_REPLAY);
	n->link_down[0][1] = n->link_down[1][0] = false;
	run_until_idle(n, o, 2);
	ck_assert(last_ok(n, 0, o));
	run(n, 2000, 0);
	int where = -1;
	ck_assert_int_eq(live_count(n, o, &where), 1);
	ck_assert_int_eq(where, 1);
	check_exactly_once(n, o, true);
	net_free(n);
}
END_TEST

START_TEST(link_down_past_discard_timeout_reverts_to_source)
{
	uint64_t o;
	struct net *n = faulty_pair(0x7004, &o);
	start_0_to_1(n, o);
	cut_after_commit(n, o);
	run(n, 6400, 1); /* 32 s: the target discards its uncommitted restore */
	ck_assert_int_eq(nm_runtime_has_daemon(n->nodes[1].rt, o), false);
	n->link_down[0][1] = n->link_down[1][0] = false;
	run_until_idle(n, o, 1); /* ActivateTarget -> "discarded": the proof, the source reverts */
	struct nm_mig_info h[1];
	nm_mig_history(n->nodes[0].mig, h, 1);
	ck_assert(!h[0].ok);
	ck_assert_str_eq(h[0].reason,
			 "state failed: target discarded the restore; reverted to the source");
	run(n, 100, 2);
	int where = -1;
	ck_assert_int_eq(live_count(n, o, &where), 1);
	ck_assert_int_eq(where, 0);
	check_exactly_once(n, o, true);
	net_free(n);
}
END_TEST

START_TEST(non_last_output_state_keeps_one_chain)
{
	/* rec's state (count, sums) is never its last output (count, id): without
	 * the chain-head TLV upstream's fallback would break the chain here. */
	uint64_t o;
	struct net *n = faulty_pair(0x7005, &o);
	n->loss_pct = 0;
	start_0_to_1(n, o);
	run_until_idle(n, o, 0);
	ck_assert(last_ok(n, 0, o));
	run(n, 50, 2);
	check_exactly_once(n, o, true);
	net_free(n);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *suite(void)
{
	Suite *s = suite_create("migration");
	TCase *t = tcase_create("exactly-once");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, exactly_once_two_nodes_lossy);
	tcase_add_test(t, exactly_once_three_nodes_lossy);
	tcase_add_test(t, stateless_daemon_migrates_exactly_once);
	suite_add_tcase(s, t);
	t = tcase_create("faults");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, target_killed_mid_transfer_daemon_stays_on_source);
	tcase_add_test(t, source_killed_after_cutover_daemon_lives_on_target);
	tcase_add_test(t, link_down_during_replay_completes_after_link_returns);
	tcase_add_test(t, link_down_past_discard_timeout_reverts_to_source);
	tcase_add_test(t, non_last_output_state_keeps_one_chain);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

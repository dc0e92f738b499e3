/* SPDX-License-Identifier: MIT */
/*
 * nm_test_pump.h - up to NM_PUMP_MAX_NODES runtimes in one process, each
 * with a migration engine, joined by a message pump in virtual time with
 * deterministic faults (loss, duplication, reordering delay, dead nodes, cut
 * links) and the appliance's message size limit. No dataplane, no EAL, no Check: the migration and evacuation
 * suites and netmesh-bench's migration part share it.
 *
 * nm_pump_step advances the clock by NM_PUMP_STEP_MS, delivers every due
 * message and polls every engine. Messages to `sender_node` (an external
 * client that sends events) go to on_sender; a node without an engine
 * answers like upstream's bare mesh (ComputeNotSupported).
 *
 * Include it in one file per program; NM_PUMP_CHECK may be defined first
 * (tests: ck_assert), else a failed check aborts with file:line.
 */
#ifndef NM_TEST_PUMP_H
#define NM_TEST_PUMP_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nm_builtin.h"
#include "nm_envelope.h"
#include "nm_le.h"
#include "nm_migration.h"
#include "nm_migwire.h"
#include "nm_node.h"
#include "nm_runtime.h"

#ifndef NM_PUMP_CHECK
#define NM_PUMP_CHECK(c)                                                                        \
	do {                                                                                     \
		if (!(c)) {                                                                      \
			fprintf(stderr, "%s:%d: pump check failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                                 \
		}                                                                                \
	} while (0)
#endif

#define NM_PUMP_MAX_NODES 3
#define NM_PUMP_MAX_MSGS 40000
#define NM_PUMP_STEP_MS 5
/* The largest 0x0500 message one Net datagram carries (8192 - 68 NetHeader -
 * 4 frame length - 16 tag), as the appliance's transport: larger ones are
 * refused with -EMSGSIZE. */
#define NM_PUMP_MAX_MSG_LEN 8104u

struct nm_pump_msg {
	int from, to; /* node index; to == -1: the sender */
	uint64_t at;
	uint8_t *buf;
	size_t len;
};

struct nm_pump;

struct nm_pump_node {
	struct nm_pump *net;
	int idx;
	struct nm_identity id;
	struct nm_node *node;
	struct nm_runtime *rt;
	struct nm_migration *mig; /* NULL: a bare node without a compute runtime */
	uint8_t sk[32], pk[32];
	bool alive;
	struct nm_output_sink sink; /* the test's, if it sets one */
};

struct nm_pump {
	int n;
	struct nm_pump_node nodes[NM_PUMP_MAX_NODES];
	struct nm_pump_msg *q;
	size_t nq;
	uint64_t now;
	uint64_t rng;
	uint32_t loss_pct, dup_pct, max_delay_ms;
	bool link_down[NM_PUMP_MAX_NODES][NM_PUMP_MAX_NODES];
	bool knows_static[NM_PUMP_MAX_NODES][NM_PUMP_MAX_NODES];
	uint64_t sender_node; /* the external sender's node id (0: none) */
	void (*on_sender)(struct nm_pump *p, const struct nm_pump_msg *m);
	uint64_t dropped, duplicated; /* by the faults */
	/* A full TX ring: each node's transport accepts this many messages per
	 * step and refuses the rest with -ENOBUFS (0: no limit). */
	uint32_t tx_per_step;
	uint32_t tx_this_step[NM_PUMP_MAX_NODES];
	uint64_t refused;
	/* Messages longer than this are refused with -EMSGSIZE (nm_pump_init:
	 * NM_PUMP_MAX_MSG_LEN; 0: no limit). */
	size_t max_len;
	uint64_t too_long;
	/* An upstream-like node: its engine's chunk acks never leave it. */
	bool no_chunk_acks[NM_PUMP_MAX_NODES];
	/* Optional: every message a node's engine sends to another node, in send
	 * order, before any fault applies (tests of the protocol's order). */
	void (*on_send)(struct nm_pump *p, int from, int to, const uint8_t *msg, size_t len);
	void *ctx; /* the test's, for on_send */
};

/* xorshift64*: deterministic faults. */
static inline uint32_t nm_pump_rnd(struct nm_pump *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (uint32_t)((p->rng * 2685821657736338717ull) >> 32);
}

static inline uint64_t nm_pump_nid(const struct nm_pump *p, int i)
{
	return p->nodes[i].id.node_id;
}

/* Node index of a node id; -1 for the sender, -2 for no such node. */
static inline int nm_pump_index(const struct nm_pump *p, uint64_t node_id)
{
	for (int i = 0; i < p->n; i++)
		if (p->nodes[i].id.node_id == node_id)
			return i;
	return node_id != 0 && node_id == p->sender_node ? -1 : -2;
}

static inline void nm_pump_enqueue(struct nm_pump *p, int from, int to, const uint8_t *buf,
				   size_t len)
{
	NM_PUMP_CHECK(p->nq < NM_PUMP_MAX_MSGS);
	struct nm_pump_msg *m = &p->q[p->nq++];
	m->from = from;
	m->to = to;
	m->at = p->now + NM_PUMP_STEP_MS + (p->max_delay_ms ? nm_pump_rnd(p) % p->max_delay_ms : 0);
	m->buf = malloc(len);
	NM_PUMP_CHECK(m->buf != NULL);
	memcpy(m->buf, buf, len);
	m->len = len;
}

/* A netmesh chunk ack (MigrationStatus carrying TLV 0x41)? */
static inline bool nm_pump_is_chunk_ack(const uint8_t *msg, size_t len)
{
	struct nm_mig_msg in;
	struct nm_mig_ext ext;
	struct nm_mig_tlv_iter it;
	struct nm_mig_tlv t;
	if (len == 0 || msg[0] != NM_MIG_STATUS || nm_mig_decode(msg, len, &in, &ext, NULL) < 0 ||
	    in.ext == NULL)
		return false;
	nm_mig_tlv_iter_init(&it, &ext);
	while (nm_mig_tlv_next(&it, &t))
		if (t.type == NM_MIG_TLV_CHUNK_ACK)
			return true;
	return false;
}

/* The transport's send: the faults apply here. */
static inline int nm_pump_send(void *ctx, uint64_t dest, const uint8_t *msg, size_t len)
{
	struct nm_pump_node *self = ctx;
	struct nm_pump *p = self->net;
	int to = nm_pump_index(p, dest);
	if (to == -2)
		return -EHOSTUNREACH; /* no session to that node */
	if (!self->alive)
		return 0;
	if (p->on_send != NULL && to >= 0)
		p->on_send(p, self->idx, to, msg, len);
	if (p->max_len && len > p->max_len) {
		p->too_long++;
		return -EMSGSIZE;
	}
	if (p->tx_per_step && p->tx_this_step[self->idx] >= p->tx_per_step) {
		p->refused++;
		return -ENOBUFS;
	}
	p->tx_this_step[self->idx]++;
	if (p->no_chunk_acks[self->idx] && nm_pump_is_chunk_ack(msg, len))
		return 0;
	if (to >= 0 && p->link_down[self->idx][to]) {
		p->dropped++;
		return 0;
	}
	if (p->loss_pct && nm_pump_rnd(p) % 100 < p->loss_pct) {
		p->dropped++;
		return 0;
	}
	nm_pump_enqueue(p, self->idx, to, msg, len);
	if (p->dup_pct && nm_pump_rnd(p) % 100 < p->dup_pct) {
		p->duplicated++;
		nm_pump_enqueue(p, self->idx, to, msg, len);
	}
	return 0;
}

static inline bool nm_pump_peer_static(void *ctx, uint64_t node, uint8_t out[32])
{
	struct nm_pump_node *self = ctx;
	int i = nm_pump_index(self->net, node);
	if (i < 0 || !self->net->knows_static[self->idx][i])
		return false;
	memcpy(out, self->net->nodes[i].pk, 32);
	return true;
}

static inline void nm_pump_moved(void *ctx, uint64_t origin, uint64_t node)
{
	(void)ctx;
	(void)origin;
	(void)node;
}

static inline struct nm_mig_transport nm_pump_transport(struct nm_pump_node *nd)
{
	return (struct nm_mig_transport){ .ctx = nd, .send = nm_pump_send,
					  .peer_static = nm_pump_peer_static, .moved = nm_pump_moved };
}

static inline void nm_pump_engine(struct nm_pump_node *nd)
{
	struct nm_mig_transport tx = nm_pump_transport(nd);
	struct nm_mig_config cfg = { .rt = nd->rt, .tx = &tx, .static_sk = nd->sk };
	nd->mig = nm_mig_create(&cfg);
	NM_PUMP_CHECK(nd->mig != NULL);
}

/*
 * n_nodes started runtimes, each with the built-in kinds, the kinds
 * `kinds` registers (may be NULL) and an engine; every node knows every
 * other's X25519 static. The clock starts at 1000 ms.
 */
static inline void nm_pump_init(struct nm_pump *p, int n_nodes, uint64_t seed,
				void (*kinds)(struct nm_runtime *rt, void *ctx), void *ctx)
{
	NM_PUMP_CHECK(n_nodes >= 1 && n_nodes <= NM_PUMP_MAX_NODES);
	memset(p, 0, sizeof(*p));
	p->q = calloc(NM_PUMP_MAX_MSGS, sizeof(*p->q));
	NM_PUMP_CHECK(p->q != NULL);
	p->n = n_nodes;
	p->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	p->now = 1000;
	p->max_len = NM_PUMP_MAX_MSG_LEN;
	for (int i = 0; i < n_nodes; i++) {
		struct nm_pump_node *nd = &p->nodes[i];
		nd->net = p;
		nd->idx = i;
		nd->alive = true;
		NM_PUMP_CHECK(nm_identity_generate(&nd->id) == 0);
		randombytes_buf(nd->sk, 32);
		NM_PUMP_CHECK(nm_x25519_public(nd->sk, nd->pk) == 0);
		nd->node = nm_node_create(&nd->id);
		nd->rt = nm_runtime_create(nd->node);
		NM_PUMP_CHECK(nd->rt != NULL);
		if (kinds != NULL)
			kinds(nd->rt, ctx);
		NM_PUMP_CHECK(nm_builtin_register_all(nd->rt, NULL) == 0);
		NM_PUMP_CHECK(nm_runtime_start(nd->rt, NULL) == 0);
		nm_pump_engine(nd);
		for (int j = 0; j < n_nodes; j++)
			p->knows_static[i][j] = true;
	}
}

static inline void nm_pump_fini(struct nm_pump *p)
{
	for (int i = 0; i < p->n; i++) {
		struct nm_pump_node *nd = &p->nodes[i];
		nm_mig_free(nd->mig);
		nm_runtime_destroy(nd->rt);
		nm_node_destroy(nd->node);
		nm_identity_wipe(&nd->id);
	}
	for (size_t i = 0; i < p->nq; i++)
		free(p->q[i].buf);
	free(p->q);
	p->q = NULL;
	p->nq = 0;
}

/* A node without a compute runtime answers like upstream's bare mesh (§11.8). */
static inline void nm_pump_bare_reply(struct nm_pump *p, struct nm_pump_node *nd,
				      const struct nm_pump_msg *m)
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
	NM_PUMP_CHECK(nm_mig_encode(&out, buf, sizeof(buf), &len, NULL) == 0);
	nm_pump_send(nd, nm_pump_nid(p, m->from), buf, len);
}

/* Deliver every due message (in arrival-time order), then poll every engine. */
static inline void nm_pump_step(struct nm_pump *p)
{
	p->now += NM_PUMP_STEP_MS;
	memset(p->tx_this_step, 0, sizeof(p->tx_this_step));
	for (size_t i = 0; i < p->nq;) {
		struct nm_pump_msg m = p->q[i];
		if (m.at > p->now) {
			i++;
			continue;
		}
		p->q[i] = p->q[--p->nq];
		if (m.to == -1) {
			if (p->on_sender != NULL)
				p->on_sender(p, &m);
		} else if (p->nodes[m.to].alive && !p->link_down[m.from][m.to]) {
			struct nm_pump_node *nd = &p->nodes[m.to];
			if (nd->mig != NULL)
				nm_mig_handle(nd->mig, m.buf, m.len, nm_pump_nid(p, m.from), p->now, NULL);
			else
				nm_pump_bare_reply(p, nd, &m);
		}
		free(m.buf);
	}
	for (int i = 0; i < p->n; i++)
		if (p->nodes[i].alive && p->nodes[i].mig != NULL)
			nm_mig_poll(p->nodes[i].mig, p->now);
}

/* ------------------------------------------------------------ blob */

/*
 * "blob": a daemon with a large state (tests and netmesh-bench's migration
 * figures). The state is an 8-byte event count then a 256-byte-periodic
 * pattern up to *(const size_t *)ctx bytes; restore checks every byte and the
 * length, so a lost, duplicated or misplaced chunk fails the restore. Each
 * event bumps the count and emits it.
 */
struct nm_pump_blob {
	struct nm_daemon base;
	size_t len;
	uint64_t count;
};

static inline void nm_pump_blob_block(uint8_t b[4096], size_t off)
{
	for (size_t i = 0; i < 4096; i++)
		b[i] = (uint8_t)((off + i) * 131u + 7u);
}

static inline int nm_pump_blob_process(struct nm_daemon *d, const struct nm_event *ev,
				       struct nm_outputs *out, struct nm_error *err)
{
	(void)ev;
	(void)err;
	struct nm_pump_blob *b = (struct nm_pump_blob *)d;
	uint8_t v[8];
	nm_put_le64(v, ++b->count);
	return nm_emit(out, v, sizeof(v));
}

static inline int nm_pump_blob_snapshot(const struct nm_daemon *d, struct nm_bytes *out,
					struct nm_error *err)
{
	const struct nm_pump_blob *b = (const struct nm_pump_blob *)d;
	uint8_t blk[4096];
	nm_put_le64(blk, b->count);
	if (nm_bytes_append(out, blk, 8) < 0)
		return nm_error_set(err, NM_ESNAPSHOT_FAILED, "blob: out of memory");
	for (size_t off = 8; off < b->len; off += 4096) {
		size_t n = b->len - off < 4096 ? b->len - off : 4096;
		nm_pump_blob_block(blk, off);
		if (nm_bytes_append(out, blk, n) < 0)
			return nm_error_set(err, NM_ESNAPSHOT_FAILED, "blob: out of memory");
	}
	return 0;
}

static inline int nm_pump_blob_restore(struct nm_daemon *d, const uint8_t *s, size_t len,
				       struct nm_error *err)
{
	struct nm_pump_blob *b = (struct nm_pump_blob *)d;
	if (len != b->len)
		return nm_error_set(err, NM_ERESTORE_FAILED, "blob state %zu bytes, want %zu", len,
				    b->len);
	uint8_t blk[4096];
	for (size_t off = 8; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;
		nm_pump_blob_block(blk, off);
		if (memcmp(s + off, blk, n) != 0)
			return nm_error_set(err, NM_ERESTORE_FAILED, "blob state corrupt near %zu", off);
	}
	b->count = nm_get_le64(s);
	return 0;
}

static inline void nm_pump_blob_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops nm_pump_blob_ops = {
	.name = "blob", .process = nm_pump_blob_process, .snapshot = nm_pump_blob_snapshot,
	.restore = nm_pump_blob_restore, .destroy = nm_pump_blob_destroy,
};

static inline struct nm_daemon *nm_pump_blob_new(void *ctx)
{
	struct nm_pump_blob *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->base.ops = &nm_pump_blob_ops;
	b->len = *(const size_t *)ctx >= 8 ? *(const size_t *)ctx : 8;
	return &b->base;
}

/* Register "blob" with a state of *len bytes (len must outlive the runtime). */
static inline void nm_pump_blob_register(struct nm_runtime *rt, const size_t *len)
{
	NM_PUMP_CHECK(nm_runtime_register_factory(rt, "blob", nm_pump_blob_new, (void *)len, NULL) == 0);
}

#endif /* NM_TEST_PUMP_H */

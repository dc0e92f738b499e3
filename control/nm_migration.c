/* SPDX-License-Identifier: MIT */
/*
 * nm_migration.c - the migration engine (see header and docs/migration.md).
 *
 * Records live in a fixed table (one per origin and role). Every message of
 * one attempt carries its migration id (TLV 0x40), so retransmissions and
 * stale messages of an older attempt are recognised; a message without one
 * (an upstream peer) matches the record of its origin.
 */
#include "nm_migration.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nm_envelope.h"
#include "nm_le.h"
#include "nm_node.h"

/* Records: in-flight migrations plus finished ones that still forward (source,
 * linger_ms) or dedupe late events (target, 4 x linger_ms). Those cost ~300 B
 * each once committed (snapshot bytes and chunk state are freed at the
 * commit), so the table is sized for a 1000-daemon drain, not for 64. */
#define MAX_RECS 2048
#define MAX_FAILS 64
#define MAX_RX 64               /* target: snapshots being received (= reassembler origins) */
#define CHUNK_WINDOW 64         /* unacknowledged chunks in flight to an acking target */
#define ACK_EVERY 8             /* target: acknowledge every 8th chunk (and any out of order) */
#define ACK_MAX_BITMAP 128      /* bytes: chunks contig+1 .. contig+1024 */
#define LOOP_CAP 32             /* self-bounces per entry point (upstream §11.8) */
#define BACKOFF_BASE_MS 500     /* NotReady: min(500 ms << min(n-1, 5), 16 s) */
#define BACKOFF_MAX_MS 16000
#define DISCARDED_TEXT "restore discarded before activation"
#define HOLD_OVERFLOW_TEXT "hold overflow: the held events ran at the source"
#define MAX_SENDERS (UINT16_MAX / 8) /* one SENDERS TLV */
#define MIN_MESSAGE 7168u            /* max_msg floor: a 7000-byte chunk or event fits */
#define MAX_EXPECT 256               /* target: Prepares awaiting their SnapshotReady */

/* One migrated event, owned by the engine; or (target, skip > 0) a run of
 * mseqs the source will never send (no payload). */
struct mev {
	uint64_t mseq, sender;
	uint64_t skip;      /* > 0: mseq .. mseq + skip - 1 never come */
	struct nm_event ev; /* payload: malloc'd, ev.len bytes */
};

struct mevq {
	struct mev *v; /* ascending mseq */
	size_t n, cap;
};

/* Source: how far the snapshot's chunks got (freed at the commit). */
enum chunk_mode {
	CH_PROBE = 0, /* no ack yet: a window, then upstream mode if the timer fires first */
	CH_ACKED,     /* the target acks (netmesh): a window, selective retransmission */
	CH_UPSTREAM,  /* never acked: everything, every round (upstream's behaviour) */
};

struct chunks {
	uint32_t n;        /* total chunks */
	uint32_t contig;   /* the target holds [0, contig) */
	uint32_t hi;       /* [0, hi) were sent at least once */
	uint64_t ack_serial; /* newest ack applied */
	uint8_t mode;      /* enum chunk_mode */
	uint8_t *have;     /* n bits: acknowledged */
	uint64_t *sent_at; /* per chunk: now + 1 of its last send, 0 never */
};

enum rec_kind { REC_SOURCE = 1, REC_TARGET = 2, REC_ORCH = 3 };

struct rec {
	uint8_t kind; /* 0: free slot */
	uint64_t origin, mid;          /* mid: this attempt's id, fresh for every attempt */
	uint64_t orch_mid;             /* a remote orchestrator's id for it (its messages carry it) */
	uint64_t source, target, orch; /* orch: whom the source reports to */
	enum nm_mig_phase phase;
	uint64_t started_ms, last_heard_ms, next_tx_ms;
	uint32_t rto_ms, retries;
	uint8_t attempts;
	uint64_t bytes_sent, events;
	/* source */
	struct nm_mig_opts opts;
	bool preparing;           /* Prepare sent, no snapshot yet (phase Snapshot, nothing held) */
	uint64_t prep_until;      /* ... snapshot at the latest then (opts.prepare_ms) */
	struct nm_snapshot *snap; /* kept until ActivateAck: a proven discard reverts from it */
	uint8_t *snap_bytes;
	size_t snap_len;
	uint32_t flags;           /* NM_MIG_XF_* */
	uint64_t retry_at;        /* NotReady backoff; 0 none */
	uint64_t budget_end;
	bool committed, activated;
	struct mevq evs;          /* every event since the hold, until acked after ActivateAck */
	uint64_t acked;           /* target holds every event through this mseq */
	uint64_t last_event_ms;
	/* target */
	struct mevq pending;      /* received, not yet replayed */
	uint64_t replayed;        /* events replayed through this mseq */
	bool active, discarded;
	bool old;                 /* superseded by a newer attempt; kept to ack and answer its source */
	struct chunks ch;         /* source, until the commit */
	struct nm_mig_times t;    /* when each phase happened here */
	uint64_t held_at_commit;
};

/* Target: one snapshot being received (what the acks report). */
struct rx {
	uint64_t origin, mid, from, seq;
	uint32_t total, contig, count, next; /* next: the index expected in order */
	uint64_t serial, last_ms;
	uint64_t first_ns; /* the first chunk's arrival (nm_mig_times.snap_rx) */
	uint8_t *bits;
};

/* Target: a Prepare announced origin's SnapshotReady; in progress until it
 * comes or until_ms passes (nothing else is kept: a lost one leaks nothing). */
struct expect {
	uint64_t origin, until_ms;
};

struct loop_msg {
	uint8_t *buf;
	size_t len;
};

struct fail_entry {
	uint64_t origin;
	struct nm_mig_reason r;
	char msg[128];
	bool used;
};

struct nm_migration {
	struct nm_runtime *rt;
	struct nm_mig_transport tx;
	const struct nm_mig_tap *tap;
	struct nm_x25519_static key; /* opens envelopes; its public half computed once */
	bool has_sk;
	uint64_t local;
	uint32_t rto, rto_max, phase_timeout, discard_timeout, linger, max_msg;
	uint64_t (*clock_ns)(void);
	bool not_ready;
	struct rec recs[MAX_RECS];
	/* Every used record is below this index: the scans (each message, each
	 * poll) read a few records, not 2048 of ~450 bytes (a cache miss each). */
	size_t recs_hi;
	struct nm_mig_info hist[NM_MIG_HISTORY];
	size_t hist_n, hist_next;
	struct fail_entry fails[MAX_FAILS];
	struct rx rx[MAX_RX];
	struct expect expect[MAX_EXPECT]; /* [0, exp_n) used, unordered */
	size_t exp_n;
	struct nm_mig_reasm *reasm;
	struct loop_msg loopq[LOOP_CAP];
	size_t loop_n;
	struct nm_mig_stats st;
};

/* ------------------------------------------------------------ small helpers */

/* A phase stamp: the configured clock, else the entry point's now_ms. */
static uint64_t stamp(const struct nm_migration *m, uint64_t now_ms)
{
	return m->clock_ns != NULL ? m->clock_ns() : now_ms * 1000000ull;
}

/* Set a stamp once: the first time a phase is reached counts. */
static void stamp_once(const struct nm_migration *m, uint64_t *at, uint64_t now_ms)
{
	if (*at == 0)
		*at = stamp(m, now_ms);
}

static uint64_t now_mid(void)
{
	uint64_t id = 0;
	while (id == 0)
		randombytes_buf(&id, sizeof(id));
	return id;
}

static void mevq_free(struct mevq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free((void *)q->v[i].ev.payload);
	free(q->v);
	*q = (struct mevq){ 0 };
}

/* Insert a copy in mseq order; -EEXIST for a duplicate. */
static int mevq_insert(struct mevq *q, uint64_t mseq, uint64_t sender, const struct nm_event *ev)
{
	size_t at = q->n;
	while (at > 0 && q->v[at - 1].mseq > mseq)
		at--;
	if (at > 0 && q->v[at - 1].mseq == mseq)
		return -EEXIST;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 32;
		struct mev *v = realloc(q->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	uint8_t *p = malloc(ev->len ? ev->len : 1);
	if (p == NULL)
		return -ENOMEM;
	if (ev->len)
		memcpy(p, ev->payload, ev->len);
	memmove(q->v + at + 1, q->v + at, (q->n - at) * sizeof(*q->v));
	q->v[at] = (struct mev){ mseq, sender, 0, *ev };
	q->v[at].ev.payload = p;
	q->n++;
	return 0;
}

/* The last mseq an entry covers. */
static uint64_t mev_last(const struct mev *e)
{
	return e->skip > 0 ? e->mseq + e->skip - 1 : e->mseq;
}

/* Target: mseq .. mseq + n - 1 will never come (the source said so). */
static int mevq_insert_skip(struct mevq *q, uint64_t mseq, uint64_t n)
{
	static const uint8_t none;
	struct nm_event ev = { .payload = &none, .len = 0 };
	int rc = mevq_insert(q, mseq, 0, &ev);
	if (rc == 0)
		for (size_t i = 0; i < q->n; i++)
			if (q->v[i].mseq == mseq)
				q->v[i].skip = n;
	return rc;
}

/* Drop entries with mseq <= through from the front. */
static void mevq_drop_through(struct mevq *q, uint64_t through)
{
	size_t k = 0;
	while (k < q->n && mev_last(&q->v[k]) <= through)
		free((void *)q->v[k++].ev.payload);
	if (k == 0)
		return; /* an empty queue has no array: memmove(NULL, ...) is UB even for 0 bytes */
	memmove(q->v, q->v + k, (q->n - k) * sizeof(*q->v));
	q->n -= k;
}

/* The current record of (origin, kind); superseded ones are not current. */
static struct rec *rec_find(struct nm_migration *m, uint64_t origin, uint8_t kind)
{
	for (size_t i = 0; i < m->recs_hi; i++)
		if (m->recs[i].kind == kind && m->recs[i].origin == origin && !m->recs[i].old)
			return &m->recs[i];
	return NULL;
}

/* The record of one attempt (superseded ones included); mid 0: the current one. */
static struct rec *rec_find_attempt(struct nm_migration *m, uint64_t origin, uint8_t kind,
				    uint64_t mid)
{
	for (size_t i = 0; mid != 0 && i < m->recs_hi; i++)
		if (m->recs[i].kind == kind && m->recs[i].origin == origin && m->recs[i].mid == mid)
			return &m->recs[i];
	return rec_find(m, origin, kind);
}

static struct rec *rec_new(struct nm_migration *m, uint64_t origin, uint8_t kind, uint64_t now)
{
	for (size_t i = 0; i < MAX_RECS; i++) {
		struct rec *r = &m->recs[i];
		if (r->kind != 0)
			continue;
		*r = (struct rec){ .kind = kind, .origin = origin, .started_ms = now,
				   .last_heard_ms = now, .rto_ms = m->rto };
		if (i >= m->recs_hi)
			m->recs_hi = i + 1;
		return r;
	}
	return NULL;
}

static void chunks_free(struct rec *r)
{
	free(r->ch.have);
	free(r->ch.sent_at);
	r->ch = (struct chunks){ 0 };
	free(r->snap_bytes); /* chunks are never sent again */
	r->snap_bytes = NULL;
}

static void rec_free(struct rec *r)
{
	nm_snapshot_free(r->snap);
	chunks_free(r);
	mevq_free(&r->evs);
	mevq_free(&r->pending);
	memset(r, 0, sizeof(*r));
}

static void fail_remember(struct nm_migration *m, uint64_t origin, const struct nm_mig_reason *r)
{
	struct fail_entry *slot = NULL;
	for (size_t i = 0; i < MAX_FAILS && slot == NULL; i++)
		if (m->fails[i].used && m->fails[i].origin == origin)
			slot = &m->fails[i];
	for (size_t i = 0; i < MAX_FAILS && slot == NULL; i++)
		if (!m->fails[i].used)
			slot = &m->fails[i];
	if (slot == NULL)
		slot = &m->fails[origin % MAX_FAILS];
	slot->used = true;
	slot->origin = origin;
	slot->r = *r;
	size_t n = r->msg_len < sizeof(slot->msg) - 1 ? r->msg_len : sizeof(slot->msg) - 1;
	if (n > 0)
		memcpy(slot->msg, r->msg, n);
	slot->msg[n] = '\0';
	slot->r.msg = slot->msg;
	slot->r.msg_len = n;
}

static void fail_forget(struct nm_migration *m, uint64_t origin)
{
	for (size_t i = 0; i < MAX_FAILS; i++)
		if (m->fails[i].used && m->fails[i].origin == origin)
			m->fails[i].used = false;
}

static void info_of(const struct rec *r, uint64_t now, struct nm_mig_info *out)
{
	*out = (struct nm_mig_info){
		.origin = r->origin, .mid = r->mid, .orch_mid = r->orch_mid, .source = r->source, .target = r->target,
		.role = r->kind == REC_SOURCE ? NM_MIG_AS_SOURCE
			: r->kind == REC_TARGET ? NM_MIG_AS_TARGET : NM_MIG_AS_ORCHESTRATOR,
		.phase = (uint8_t)r->phase, .committed = r->committed || r->active,
		.elapsed_ms = now - r->started_ms, .bytes_sent = r->bytes_sent,
		.retries = r->retries, .events = r->events, .attempts = r->attempts,
		.held_at_commit = r->held_at_commit, .t = r->t,
	};
}

/* Close a record into the history (ok, or failed with reason `why`). */
static void history_add(struct nm_migration *m, const struct rec *r, uint64_t now, bool ok,
			const struct nm_mig_reason *why)
{
	struct nm_mig_info *h = &m->hist[m->hist_next];
	info_of(r, now, h);
	h->ok = ok;
	if (!ok && why != NULL) {
		h->fail_code = why->code;
		nm_mig_reason_display(why, h->reason, sizeof(h->reason));
		fail_remember(m, r->origin, why);
	}
	m->hist_next = (m->hist_next + 1) % NM_MIG_HISTORY;
	if (m->hist_n < NM_MIG_HISTORY)
		m->hist_n++;
}

/* Phases reached after the record went into the history (replays, the end of
 * forwarding): its history entry follows them. */
static void history_update(struct nm_migration *m, const struct rec *r)
{
	uint8_t role = r->kind == REC_SOURCE ? NM_MIG_AS_SOURCE : NM_MIG_AS_TARGET;
	for (size_t i = 0; i < m->hist_n; i++) {
		struct nm_mig_info *h = &m->hist[(m->hist_next + NM_MIG_HISTORY - 1 - i) % NM_MIG_HISTORY];
		if (h->mid == r->mid && h->origin == r->origin && h->role == role) {
			h->t = r->t;
			h->events = r->events;
			return;
		}
	}
}

static struct nm_mig_reason reason_state(const char *msg)
{
	return (struct nm_mig_reason){ .code = NM_MIG_FAIL_STATE_FAILED, .msg = msg,
				       .msg_len = strlen(msg) };
}

static struct nm_mig_reason reason_code(uint16_t code)
{
	return (struct nm_mig_reason){ .code = code };
}

/* ------------------------------------------------------------ sending */

static int deliver_out(struct nm_migration *m, uint64_t dest, const uint8_t *buf, size_t len)
{
	if (dest == m->local) {
		if (m->loop_n == LOOP_CAP) {
			m->st.loopback_dropped++;
			return -ENOSPC;
		}
		uint8_t *copy = malloc(len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, buf, len);
		m->loopq[m->loop_n++] = (struct loop_msg){ copy, len };
		m->st.sent++;
		return 0;
	}
	int rc = m->tx.send(m->tx.ctx, dest, buf, len);
	if (rc < 0)
		m->st.send_failed++;
	else
		m->st.sent++;
	return rc;
}

/* Encode msg with its migration id (and ext) and send it. */
static int send_msg(struct nm_migration *m, uint64_t dest, struct nm_mig_msg *msg,
		    struct nm_mig_ext *ext, uint64_t mid, struct rec *r)
{
	struct nm_mig_ext local = { 0 };
	if (ext == NULL)
		ext = &local;
	uint8_t midb[8];
	nm_put_le64(midb, mid);
	struct nm_mig_tlv tlv[2];
	size_t k = 0;
	if (ext->nextra == 1) /* the caller's own raw TLV, then the id */
		tlv[k++] = ext->extra[0];
	if (mid != 0)
		tlv[k++] = (struct nm_mig_tlv){ NM_MIG_TLV_MIGRATION_ID, 8, midb };
	ext->extra = tlv;
	ext->nextra = k;
	msg->ext = ext;
	size_t size = nm_mig_encoded_size(msg);
	uint8_t *buf = size > 0 ? malloc(size) : NULL;
	size_t len = 0;
	int rc = buf == NULL ? -ENOMEM : nm_mig_encode(msg, buf, size, &len, NULL);
	if (rc == 0)
		rc = deliver_out(m, dest, buf, len);
	if (rc == 0 && r != NULL)
		r->bytes_sent += len;
	free(buf);
	return rc;
}

static int send_simple(struct nm_migration *m, uint64_t dest, uint8_t type, uint64_t origin,
		       uint64_t mid, struct rec *r)
{
	struct nm_mig_msg msg = { .type = type, .daemon_origin = origin };
	return send_msg(m, dest, &msg, NULL, mid, r);
}

static int send_failed(struct nm_migration *m, uint64_t dest, uint64_t origin, uint64_t mid,
		       const struct nm_mig_reason *why)
{
	struct nm_mig_msg msg = { .type = NM_MIG_FAILED, .daemon_origin = origin, .failed = *why };
	return send_msg(m, dest, &msg, NULL, mid, NULL);
}

/* Chunk i of r's snapshot (chunk 0 names the kind, so a target can reserve the origin). */
static int send_chunk(struct nm_migration *m, struct rec *r, uint32_t i, uint64_t now)
{
	struct nm_mig_msg msg;
	nm_mig_chunk(r->origin, r->snap_bytes, r->snap_len, r->snap->through_seq, i, &msg);
	struct nm_mig_ext ext = { .next_parent = r->snap->next_parent, .flags = r->flags };
	nm_mig_ext_set(&ext, NM_MIG_TLV_NEXT_PARENT);
	nm_mig_ext_set(&ext, NM_MIG_TLV_FLAGS);
	char kind[NM_KIND_MAX + 1];
	if (i == 0 && nm_runtime_daemon_kind(m->rt, r->origin, kind) == 0) {
		ext.kind = kind;
		ext.kind_len = (uint16_t)strlen(kind);
		nm_mig_ext_set(&ext, NM_MIG_TLV_KIND);
	}
	int rc = send_msg(m, r->target, &msg, &ext, r->mid, r);
	if (rc == 0) {
		m->st.chunks_sent++;
		if (r->ch.sent_at[i] != 0)
			m->st.chunks_resent++;
		r->ch.sent_at[i] = now + 1;
		if (i >= r->ch.hi)
			r->ch.hi = i + 1;
		if (r->ch.hi == r->ch.n)
			stamp_once(m, &r->t.snap_sent, now);
	}
	return rc;
}

static bool chunk_have(const struct chunks *c, uint32_t i)
{
	return (c->have[i / 8] >> (i % 8)) & 1u;
}

static void chunk_mark(struct chunks *c, uint32_t i, bool on)
{
	if (on)
		c->have[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		c->have[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* (Re)start the transfer from nothing: a first send or a NotReady retry. */
static int chunks_reset(struct rec *r)
{
	uint32_t n = 0;
	if (nm_mig_chunk_count(r->snap_len, &n, NULL) < 0)
		return -EINVAL;
	free(r->ch.have);
	free(r->ch.sent_at);
	r->ch = (struct chunks){ .n = n, .have = calloc((n + 7) / 8, 1),
				 .sent_at = calloc(n, sizeof(uint64_t)) };
	return r->ch.have == NULL || r->ch.sent_at == NULL ? -ENOMEM : 0;
}

/*
 * One sending round: every chunk the target does not hold and that is not in
 * flight (never sent, or sent more than rto_ms ago), in order, while the
 * window allows (none for an upstream target) and the transport accepts. A
 * refusal ends the round; the next poll resumes at the first unsent chunk.
 * `force`: the timer fired with nothing due, so send one chunk to draw the
 * target's answer again (a lost RestoreComplete).
 */
static int send_chunks(struct nm_migration *m, struct rec *r, uint64_t now, bool force)
{
	struct chunks *c = &r->ch;
	if (c->have == NULL)
		return 0; /* committed: nothing more to send */
	uint32_t window = c->mode == CH_UPSTREAM ? UINT32_MAX : CHUNK_WINDOW, inflight = 0;
	for (uint32_t i = c->contig; i < c->hi; i++)
		if (!chunk_have(c, i) && c->sent_at[i] != 0 && now + 1 - c->sent_at[i] < r->rto_ms)
			inflight++;
	int rc = 0;
	uint32_t sent = 0;
	for (uint32_t i = c->contig; rc == 0 && i < c->n && inflight < window; i++) {
		if (chunk_have(c, i) || (c->sent_at[i] != 0 && now + 1 - c->sent_at[i] < r->rto_ms))
			continue;
		if ((rc = send_chunk(m, r, i, now)) == 0) {
			inflight++;
			sent++;
		}
	}
	if (rc == 0 && sent == 0 && force) {
		uint32_t i = c->contig < c->n ? c->contig : c->n - 1;
		rc = send_chunk(m, r, i, now);
	}
	return rc;
}

/* The trailer of one BufferedEvents: MSEQ (numbered), SENDERS, SKIP (skip > 0), the id. */
struct ev_trailer {
	struct nm_mig_ext ext;
	struct nm_mig_tlv tlv[2];
	uint8_t skipb[8], midb[8];
};

static void ev_trailer_init(struct ev_trailer *t, const struct rec *r, uint64_t mseq,
			    const uint8_t *senders, uint32_t n, uint64_t skip, bool numbered)
{
	*t = (struct ev_trailer){ .ext = { .mseq = mseq, .senders = senders, .nsenders = n } };
	size_t k = 0;
	if (skip > 0) {
		nm_put_le64(t->skipb, skip);
		t->tlv[k++] = (struct nm_mig_tlv){ NM_MIG_TLV_SKIP, 8, t->skipb };
	}
	if (r->mid != 0) {
		nm_put_le64(t->midb, r->mid);
		t->tlv[k++] = (struct nm_mig_tlv){ NM_MIG_TLV_MIGRATION_ID, 8, t->midb };
	}
	t->ext.extra = t->tlv;
	t->ext.nextra = k;
	if (numbered) /* a hand-back carries no MSEQ: it is no migration's stream */
		nm_mig_ext_set(&t->ext, NM_MIG_TLV_MSEQ);
	nm_mig_ext_set(&t->ext, NM_MIG_TLV_SENDERS);
}

/* Body and trailer bytes of a BufferedEvents without events (SKIP aside). */
static size_t events_overhead(const struct rec *r, bool numbered)
{
	struct ev_trailer t;
	ev_trailer_init(&t, r, 0, NULL, 0, 0, numbered);
	return NM_MIG_BUFFERED_EVENTS_HDR + nm_mig_ext_size(&t.ext);
}

/* What one more event adds to a BufferedEvents: its record and its sender. */
static size_t event_cost(const struct nm_event *ev)
{
	return NM_MIG_EVENT_MIN_WIRE + (size_t)ev->len + 8;
}

/* Can any BufferedEvents carry it (upstream's decoder refuses larger payloads)? */
static bool event_fits(const struct nm_migration *m, size_t overhead, const struct nm_event *ev)
{
	return ev->len <= NM_MIG_MAX_EVENT_PAYLOAD && overhead + event_cost(ev) <= m->max_msg;
}

/* Events no BufferedEvents can carry among q's entries through `through`. */
static uint64_t count_too_large(const struct nm_migration *m, const struct rec *r,
				const struct mevq *q, uint64_t through, bool numbered)
{
	size_t overhead = events_overhead(r, numbered);
	uint64_t n = 0;
	for (size_t i = 0; i < q->n && q->v[i].mseq <= through; i++)
		n += !event_fits(m, overhead, &q->v[i].ev);
	return n;
}

/*
 * One BufferedEvents: q->v[from..to) (the caller measured them against
 * max_msg), the first numbered `first`; or, with skip > 0 and no events,
 * "mseq first .. first + skip - 1 never come".
 */
static void send_batch(struct nm_migration *m, struct rec *r, uint64_t dest, const struct mevq *q,
		       size_t from, size_t to, uint64_t first, uint64_t skip, bool numbered)
{
	const size_t n = to - from;
	uint8_t *buf = malloc(m->max_msg), *senders = malloc(8 * n + 8);
	if (buf == NULL || senders == NULL) {
		free(buf);
		free(senders);
		return; /* retransmitted on the next timer */
	}
	struct nm_mig_events_builder b;
	nm_mig_events_begin(&b, buf, m->max_msg, r->origin);
	for (size_t i = from; i < to; i++) {
		nm_mig_events_add(&b, &q->v[i].ev);
		nm_put_le64(senders + 8 * (i - from), q->v[i].sender);
	}
	size_t body = nm_mig_events_finish(&b), tl = 0;
	struct ev_trailer t;
	ev_trailer_init(&t, r, first, senders, (uint32_t)n, skip, numbered);
	if (nm_mig_ext_encode(&t.ext, buf + body, m->max_msg - body, &tl) == 0 &&
	    deliver_out(m, dest, buf, body + tl) == 0)
		r->bytes_sent += body + tl;
	free(buf);
	free(senders);
}

/*
 * BufferedEvents for q->v[from..), each message within max_msg bytes, trailer
 * included: the transport refuses a larger one on every retry, which left a
 * gap the target waited on forever. In a migration's stream (numbered), mseqs
 * the source will never send (lost while taking them, or events no
 * BufferedEvents can carry) go out as explicit skips, so the target's replay
 * never waits for them either.
 */
static size_t send_events_upto(struct nm_migration *m, struct rec *r, uint64_t dest,
			       const struct mevq *q, size_t from, bool numbered, unsigned max_msgs)
{
	const size_t overhead = events_overhead(r, numbered);
	for (unsigned msgs = 0; from < q->n && msgs < max_msgs; msgs++) {
		const struct mev *e = &q->v[from];
		uint64_t prev = r->acked;
		if (from > 0 && q->v[from - 1].mseq > prev)
			prev = q->v[from - 1].mseq;
		if (numbered && e->mseq > prev + 1)
			send_batch(m, r, dest, q, from, from, prev + 1, e->mseq - prev - 1, true);
		size_t to = from, used = overhead;
		bool fits = event_fits(m, overhead, &e->ev);
		/* Consecutive mseq only (one MSEQ TLV names the first); every one fits or none. */
		while (to < q->n && event_fits(m, overhead, &q->v[to].ev) == fits &&
		       (to == from || q->v[to].mseq == q->v[to - 1].mseq + 1) &&
		       (!fits || (to - from < MAX_SENDERS &&
				  used + event_cost(&q->v[to].ev) <= m->max_msg))) {
			used += event_cost(&q->v[to].ev);
			to++;
		}
		if (fits)
			send_batch(m, r, dest, q, from, to, e->mseq, 0, numbered);
		else if (numbered) /* counted once dropped (source_acked) */
			send_batch(m, r, dest, q, from, from, e->mseq, q->v[to - 1].mseq - e->mseq + 1, true);
		from = to;
	}
	return from;
}

/* Every one of q->v[from..). */
static void send_events(struct nm_migration *m, struct rec *r, uint64_t dest, const struct mevq *q,
			size_t from, bool numbered)
{
	send_events_upto(m, r, dest, q, from, numbered, UINT_MAX);
}

/* ------------------------------------------------------------ source */

/* Abort before the commit. The target is always told: a late copy of our
 * SnapshotReady may still restore there, and that restore must go. */
static void source_fail(struct nm_migration *m, struct rec *r, uint64_t now,
			const struct nm_mig_reason *why)
{
	send_failed(m, r->target, r->origin, r->mid, why);
	if (r->orch != m->local)
		send_failed(m, r->orch, r->origin, r->orch_mid, why);
	/* Before the commit the source is authoritative: the held events run here. */
	if (!r->preparing)
		m->tap->release(m->tap->ctx, r->origin);
	history_add(m, r, now, false, why);
	rec_free(r);
}

/* Take up to `max` of what the tap holds into r->evs (in bursts of 64);
 * returns the index of the first new one. */
static size_t source_take(struct nm_migration *m, struct rec *r, uint64_t now, size_t max)
{
	struct nm_mig_held h[64];
	uint32_t n;
	size_t first_new = r->evs.n;
	while (r->evs.n - first_new < max && (n = m->tap->take(m->tap->ctx, r->origin, h, 64)) > 0) {
		for (uint32_t i = 0; i < n; i++)
			if (mevq_insert(&r->evs, h[i].mseq, h[i].sender, &h[i].ev) == -ENOMEM)
				m->st.events_lost_nomem++; /* counted, never silent */
		r->last_event_ms = now;
	}
	return first_new;
}

/* r->evs[first_new..) went out (committed): count them, and send Moved to their senders. */
static void source_shipped(struct nm_migration *m, struct rec *r, size_t first_new, uint64_t now)
{
	stamp_once(m, &r->t.events_sent, now);
	for (size_t i = first_new; i < r->evs.n; i++) {
		uint64_t s = r->evs.v[i].sender;
		m->st.events_forwarded++;
		r->events++;
		if (r->activated && s != 0 && s != m->local && s != r->target &&
		    (i == first_new || s != r->evs.v[i - 1].sender)) {
			/* It reached the old node after the cutover: tell its sender the new one. */
			struct nm_mig_msg mv = { .type = NM_MIG_MOVED, .daemon_origin = r->origin,
						 .moved.new_node = r->target };
			if (send_msg(m, s, &mv, NULL, 0, NULL) == 0)
				m->st.moved_sent++;
		}
	}
}

/* Take what the tap holds; ship the new ones when committed. */
static void source_collect(struct nm_migration *m, struct rec *r, uint64_t now)
{
	size_t first_new = source_take(m, r, now, SIZE_MAX);
	if (!r->committed || first_new == r->evs.n)
		return;
	send_events(m, r, r->target, &r->evs, first_new, true);
	source_shipped(m, r, first_new, now);
}

static void source_commit(struct nm_migration *m, struct rec *r, uint64_t now)
{
	/* The tap can refuse: its owner called the migration off first (a full hold). */
	if (m->tap->forward(m->tap->ctx, r->origin, r->target) < 0) {
		struct nm_mig_reason why = reason_state(HOLD_OVERFLOW_TEXT);
		source_fail(m, r, now, &why); /* frees r */
		return;
	}
	r->t.commit = stamp(m, now);
	r->committed = true;
	chunks_free(r);
	r->phase = NM_MIG_PHASE_REPLAY;
	r->rto_ms = m->rto;
	r->next_tx_ms = now + r->rto_ms;
	/*
	 * The first BufferedEvents of the hold leaves before ActivateTarget, the
	 * rest after it. The target keeps events unprocessed until ActivateTarget
	 * (the commit is already made here), so on it the first held events run
	 * at once instead of one more message later; the later messages replay
	 * as they come, after the activation as before.
	 */
	const size_t first = source_take(m, r, now, 64); /* about one message's worth */
	const size_t next = send_events_upto(m, r, r->target, &r->evs, first, true, 1);
	if (next != first)
		stamp_once(m, &r->t.events_sent, now);
	send_simple(m, r->target, NM_MIG_ACTIVATE_TARGET, r->origin, r->mid, r);
	r->t.activate_sent = stamp(m, now);
	source_take(m, r, now, SIZE_MAX);
	send_events(m, r, r->target, &r->evs, next, true);
	if (first != r->evs.n)
		source_shipped(m, r, first, now);
	r->held_at_commit = r->evs.n;
}

/* The target proved it never activated: the daemon comes back here, with every event. */
static void source_revert(struct nm_migration *m, struct rec *r, uint64_t now)
{
	/* Take until the forward queue is empty, so the hold can turn into a target hold. */
	do
		source_collect(m, r, now);
	while (m->tap->hold(m->tap->ctx, r->origin) == -EBUSY);
	struct nm_error e;
	struct nm_mig_reason why = reason_state("target discarded the restore; reverted to the source");
	if (nm_runtime_migration_restore(m->rt, r->origin, r->snap, NULL, &e) == 0) {
		for (size_t i = 0; i < r->evs.n; i++)
			m->tap->inject(m->tap->ctx, r->origin, &r->evs.v[i].ev, r->evs.v[i].sender, NULL);
	} else {
		why = reason_state(e.msg);
	}
	m->tap->release(m->tap->ctx, r->origin);
	if (r->orch != m->local)
		send_failed(m, r->orch, r->origin, r->orch_mid, &why);
	history_add(m, r, now, false, &why);
	rec_free(r);
}

static void source_activated(struct nm_migration *m, struct rec *r, uint64_t now)
{
	if (r->activated)
		return;
	r->activated = true;
	r->phase = NM_MIG_PHASE_COMPLETE;
	r->t.activated_rx = stamp(m, now);
	r->last_event_ms = now; /* linger_ms of forwarding from here, even if no event was held */
	nm_snapshot_free(r->snap); /* no revert after the target's ack */
	r->snap = NULL;
	history_add(m, r, now, true, NULL);
	if (r->orch != m->local)
		send_simple(m, r->orch, NM_MIG_CLEANUP_COMPLETE, r->origin, r->orch_mid, NULL);
	/* Events that reached us while the ack travelled: their senders learn the new node. */
	for (size_t i = 0; i < r->evs.n; i++) {
		uint64_t s = r->evs.v[i].sender;
		if (s != 0 && s != m->local && s != r->target && (i == 0 || s != r->evs.v[i - 1].sender)) {
			struct nm_mig_msg mv = { .type = NM_MIG_MOVED, .daemon_origin = r->origin,
						 .moved.new_node = r->target };
			if (send_msg(m, s, &mv, NULL, 0, NULL) == 0)
				m->st.moved_sent++;
		}
	}
}

static void source_acked(struct nm_migration *m, struct rec *r, uint64_t ack)
{
	if (ack > r->acked)
		r->acked = ack;
	if (!r->activated)
		return;
	/* Those the target skipped are gone for good now: count them. */
	m->st.events_too_large += count_too_large(m, r, &r->evs, r->acked, true);
	mevq_drop_through(&r->evs, r->acked);
}

static int seal_prereq(struct nm_migration *m, uint64_t origin, uint64_t target,
		       uint8_t pub[32], struct nm_identity *kp, struct nm_error *err)
{
	if (m->tx.peer_static == NULL || !m->tx.peer_static(m->tx.ctx, target, pub))
		return nm_mig_err_state_failed(
			err,
			"identity transport requested but peer X25519 static for 0x%" PRIx64
			" is unknown (e.g. NKpsk0-responder side) — cannot seal envelope; use "
			"`transport_identity: false` to proceed unsealed",
			target);
	if (nm_runtime_daemon_identity(m->rt, origin, kp) < 0)
		return nm_mig_err_state_failed(err,
					       "identity transport requested but daemon 0x%" PRIx64
					       " has no local keypair to seal with",
					       origin);
	return 0;
}

static void seal_secrets_wipe(struct nm_identity *kp, struct nm_envelope_prep *prep)
{
	nm_identity_wipe(kp);
	nm_envelope_prep_wipe(prep);
}

/* The source record before its snapshot: phase Snapshot, a fresh id. */
static struct rec *source_rec(struct nm_migration *m, uint64_t origin, uint64_t target,
			      uint64_t orch, uint64_t mid, const struct nm_mig_opts *opts,
			      uint64_t now, struct nm_error *err)
{
	struct rec *r = rec_new(m, origin, REC_SOURCE, now);
	if (r == NULL) {
		nm_mig_err_state_failed(err, "too many migrations in progress (%d)", MAX_RECS);
		return NULL;
	}
	/* Never the orchestrator's id: a retry of a failed attempt must not meet its old restore. */
	r->mid = now_mid();
	r->orch_mid = mid;
	r->source = m->local;
	r->target = target;
	r->orch = orch;
	r->opts = *opts;
	r->phase = NM_MIG_PHASE_SNAPSHOT;
	return r;
}

/*
 * Prepare the envelope, snapshot (holding), seal, encode, send for record r.
 * On error the hold is released and r is left for the caller to free (a
 * start: nothing left behind; after a Prepare: into the history).
 */
static int source_snapshot(struct nm_migration *m, struct rec *r, bool strict_identity,
			   uint64_t now, struct nm_error *err)
{
	const uint64_t origin = r->origin, target = r->target;
	uint8_t pub[32];
	struct nm_identity kp;
	struct nm_envelope_prep prep;
	bool seal = r->opts.transport_identity;
	int rc = 0;
	r->preparing = false;
	if (seal && (rc = seal_prereq(m, origin, target, pub, &kp, err)) < 0) {
		if (strict_identity)
			return rc;
		seal = false; /* upstream's dispatcher path downgrades silently */
	}
	/* The envelope's public-key work before the hold: only its AEAD and
	 * signature need the snapshot's chain link. */
	if (seal && nm_envelope_prepare(&prep, pub, NULL, err) < 0) {
		nm_identity_wipe(&kp);
		return nm_mig_err_state_failed(err, "identity envelope seal failed for daemon 0x%" PRIx64,
					       origin);
	}
	bool stateless = false;
	r->t.snap_req = stamp(m, now);
	rc = m->tap->snapshot_hold(m->tap->ctx, origin, &r->snap, &stateless, err);
	r->t.snap_taken = stamp(m, now);
	if (rc == NM_ENOT_FOUND) {
		rc = nm_mig_err_daemon_not_found(err, origin);
	} else if (rc < 0 && !nm_error_is_migration(rc)) {
		char why[NM_ERROR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : nm_strerror(rc));
		rc = nm_mig_err_state_failed(err, "%s", why);
	}
	if (rc == 0 && seal) {
		rc = nm_snapshot_seal_prepared(r->snap, &kp, &prep, err);
		if (rc < 0)
			rc = nm_mig_err_state_failed(err, "identity envelope seal failed for daemon 0x%" PRIx64,
						     origin);
	}
	if (seal)
		seal_secrets_wipe(&kp, &prep);
	if (rc == 0) {
		r->snap_len = nm_snapshot_wire_size(r->snap);
		r->snap_bytes = malloc(r->snap_len ? r->snap_len : 1);
		rc = r->snap_bytes == NULL ? nm_error_set(err, -ENOMEM, "migration: out of memory")
					   : nm_snapshot_encode(r->snap, r->snap_bytes, r->snap_len, NULL);
	}
	if (rc < 0) {
		if (r->snap != NULL)
			m->tap->release(m->tap->ctx, origin);
		return rc;
	}
	r->flags = stateless ? NM_MIG_XF_STATELESS : 0;
	r->phase = NM_MIG_PHASE_TRANSFER;
	r->attempts = 1;
	r->last_heard_ms = now; /* the phase timeout runs from the snapshot */
	r->budget_end = now + r->opts.retry_not_ready_ms;
	r->next_tx_ms = now + r->rto_ms;
	if (chunks_reset(r) < 0) {
		m->tap->release(m->tap->ctx, origin);
		return nm_error_set(err, -ENOMEM, "migration: out of memory");
	}
	if (send_chunks(m, r, now, false) < 0 && r->ch.hi == 0) {
		/* No session to the target: roll back (upstream's TargetUnavailable).
		 * A refusal after the first chunk is a full queue: the poll resumes. */
		m->tap->release(m->tap->ctx, origin);
		return nm_mig_err_target_unavailable(err, target);
	}
	return 0;
}

/* Snapshot now (a start, a TakeSnapshot). On error nothing is left behind. */
static int source_begin(struct nm_migration *m, uint64_t origin, uint64_t target, uint64_t orch,
			uint64_t mid, const struct nm_mig_opts *opts, bool strict_identity,
			uint64_t now, struct nm_error *err)
{
	struct rec *r = source_rec(m, origin, target, orch, mid, opts, now, err);
	if (r == NULL)
		return NM_EMIG_STATE_FAILED;
	int rc = source_snapshot(m, r, strict_identity, now, err);
	if (rc < 0)
		rec_free(r);
	return rc;
}

/*
 * A local start with opts->prepare_ms: what the snapshot would refuse now is
 * refused now (daemon, identity prerequisites, the target's session), then
 * Prepare goes out and nothing is held until source_prepared.
 */
static int source_prepare(struct nm_migration *m, uint64_t origin, uint64_t target,
			  const struct nm_mig_opts *opts, uint64_t now, struct nm_error *err)
{
	if (opts->transport_identity) { /* first, as in source_snapshot: the same error wins */
		uint8_t pub[32];
		struct nm_identity kp;
		int rc = seal_prereq(m, origin, target, pub, &kp, err);
		if (rc < 0)
			return rc;
		nm_identity_wipe(&kp);
	}
	if (!nm_runtime_has_daemon(m->rt, origin))
		return nm_mig_err_daemon_not_found(err, origin);
	struct rec *r = source_rec(m, origin, target, m->local, 0, opts, now, err);
	if (r == NULL)
		return NM_EMIG_STATE_FAILED;
	r->preparing = true;
	r->prep_until = now + opts->prepare_ms;
	struct nm_mig_msg msg = { .type = NM_MIG_PREPARE, .daemon_origin = origin,
				  .prepare.target_node = target };
	r->t.prep_sent = stamp(m, now);
	if (send_msg(m, target, &msg, NULL, r->mid, r) < 0) {
		rec_free(r);
		return nm_mig_err_target_unavailable(err, target);
	}
	m->st.prepares_sent++;
	return 0;
}

/* Prepared came (or prepare_ms passed): the snapshot. A failure now is a
 * failed migration like any (history, reason); nothing was held. */
static int source_prepared(struct nm_migration *m, struct rec *r, uint64_t now,
			   struct nm_error *err)
{
	struct nm_error e = { 0 };
	int rc = source_snapshot(m, r, true, now, &e);
	if (rc < 0) {
		struct nm_mig_reason why = reason_state(e.msg);
		if (r->t.prepared_rx != 0) /* a netmesh target: it stops expecting the snapshot */
			send_failed(m, r->target, r->origin, r->mid, &why);
		history_add(m, r, now, false, &why);
		rec_free(r);
		if (err != NULL)
			*err = e;
	}
	return rc;
}

/* ------------------------------------------------------------ target */

static void target_discard(struct nm_migration *m, struct rec *r, uint64_t now)
{
	/* Events that reached us directly meanwhile belong to the source, which keeps the daemon. */
	struct nm_mig_held h[64];
	uint32_t n;
	struct mevq back = { 0 };
	while ((n = m->tap->take(m->tap->ctx, r->origin, h, 64)) > 0)
		for (uint32_t i = 0; i < n; i++)
			if (mevq_insert(&back, h[i].mseq, h[i].sender, &h[i].ev) == -ENOMEM)
				m->st.events_lost_nomem++;
	nm_runtime_migration_remove(m->rt, r->origin, NULL);
	m->tap->release(m->tap->ctx, r->origin);
	if (back.n > 0) {
		struct rec tmp = { .origin = r->origin, .mid = 0 };
		m->st.events_too_large += count_too_large(m, &tmp, &back, UINT64_MAX, false);
		send_events(m, &tmp, r->source, &back, 0, false);
	}
	mevq_free(&back);
	mevq_free(&r->pending);
	r->discarded = true;
	r->last_heard_ms = now;
	struct nm_mig_reason why = reason_state(DISCARDED_TEXT);
	history_add(m, r, now, false, &why);
}

/* Replay pending events in mseq order, from replayed + 1. */
static void target_drain(struct nm_migration *m, struct rec *r, uint64_t now)
{
	const uint64_t before = r->events;
	size_t k = 0;
	while (k < r->pending.n && r->pending.v[k].mseq == r->replayed + 1) {
		struct mev *e = &r->pending.v[k++];
		if (e->skip > 0) { /* the source will never send these: go past them */
			r->replayed = mev_last(e);
			m->st.events_skipped += e->skip;
			continue;
		}
		if (m->tap->inject(m->tap->ctx, r->origin, &e->ev, e->sender, NULL) == NM_ENOT_FOUND)
			m->st.events_undeliverable++; /* the daemon left and nothing here forwards it */
		stamp_once(m, &r->t.first_replay, now);
		r->replayed = e->mseq;
		r->events++;
		m->st.events_replayed++;
	}
	mevq_drop_through(&r->pending, r->replayed);
	if (r->events != before) {
		r->t.last_replay = stamp(m, now);
		if (r->active)
			history_update(m, r);
	}
}

/* Every event through this mseq is here (replayed or pending). */
static uint64_t target_contiguous(const struct rec *r)
{
	uint64_t c = r->replayed;
	for (size_t i = 0; i < r->pending.n && r->pending.v[i].mseq == c + 1; i++)
		c = mev_last(&r->pending.v[i]);
	return c;
}

static void target_activate(struct nm_migration *m, struct rec *r, uint64_t now)
{
	if (!r->active) {
		r->t.activate_rx = stamp(m, now);
		target_drain(m, r, now);
		m->tap->release(m->tap->ctx, r->origin); /* direct arrivals, in order, after the migrated ones */
		r->active = true;
		r->phase = NM_MIG_PHASE_COMPLETE;
		history_add(m, r, now, true, NULL);
	}
	struct nm_mig_msg msg = { .type = NM_MIG_ACTIVATE_ACK, .daemon_origin = r->origin,
				  .activate_ack.replayed_seq = r->replayed };
	struct nm_mig_ext ext = { .events_ack = target_contiguous(r) };
	nm_mig_ext_set(&ext, NM_MIG_TLV_EVENTS_ACK);
	send_msg(m, r->source, &msg, &ext, r->mid, r);
}

static void target_reply_restored(struct nm_migration *m, struct rec *r, uint64_t seq)
{
	struct nm_mig_msg msg = { .type = NM_MIG_RESTORE_COMPLETE, .daemon_origin = r->origin,
				  .restore_complete.restored_seq = seq };
	send_msg(m, r->source, &msg, NULL, r->mid, r);
}

/* A whole snapshot arrived: check, open the identity, restore held. */
static int target_restore(struct nm_migration *m, uint64_t origin, uint64_t from, uint64_t mid,
			  const uint8_t *bytes, size_t len, const struct nm_mig_ext *ext,
			  struct nm_mig_times t, uint64_t now)
{
	struct nm_snapshot *snap = NULL;
	struct nm_error e;
	struct nm_mig_reason why;
	char text[NM_ERROR_MSG_MAX + 64];
	if (nm_snapshot_decode(bytes, len, &snap, &e) < 0) {
		why = reason_state("failed to parse snapshot bytes on target");
		goto fail;
	}
	if (ext != NULL && NM_MIG_EXT_HAS(ext, NM_MIG_TLV_NEXT_PARENT))
		nm_snapshot_set_next_parent(snap, ext->next_parent);
	if (m->not_ready || !nm_runtime_is_ready(m->rt)) {
		why = reason_code(NM_MIG_FAIL_NOT_READY);
		goto fail;
	}
	if (!nm_runtime_has_factory_slot(m->rt, origin)) {
		why = reason_code(NM_MIG_FAIL_FACTORY_NOT_FOUND);
		goto fail;
	}
	struct nm_identity kp;
	bool opened = false;
	if (snap->has_envelope && m->has_sk &&
	    (nm_snapshot_open_envelope(snap, &m->key, &kp, &opened, &e) < 0 || !opened)) {
		snprintf(text, sizeof(text), "identity envelope open failed: %s", e.msg);
		why = reason_state(text);
		goto fail;
	}
	if (!opened && nm_runtime_daemon_identity(m->rt, origin, &kp) < 0) {
		why = reason_state("identity envelope open failed: placeholder factory registered but "
				   "snapshot has no identity envelope (and no local fallback keypair "
				   "available)");
		goto fail;
	}
	/* It comes back while we still forward its events of the last migration: not yet. */
	struct rec *fwd = rec_find(m, origin, REC_SOURCE);
	if ((fwd != NULL && (!fwd->activated || fwd->evs.n > 0)) ||
	    m->tap->hold(m->tap->ctx, origin) == -EBUSY) {
		why = reason_code(NM_MIG_FAIL_NOT_READY);
		nm_identity_wipe(&kp);
		goto fail;
	}
	if (fwd != NULL)
		rec_free(fwd); /* forwarding is over: the hold is ours now */
	t.opened = stamp(m, now);
	int rc = nm_runtime_migration_restore(m->rt, origin, snap, opened ? &kp : NULL, &e);
	t.restored = stamp(m, now);
	nm_identity_wipe(&kp);
	if (rc < 0) {
		m->tap->release(m->tap->ctx, origin);
		snprintf(text, sizeof(text), "restore_snapshot failed: %s", e.msg);
		why = reason_state(text);
		goto fail;
	}
	struct rec *r = rec_new(m, origin, REC_TARGET, now);
	if (r == NULL) {
		nm_runtime_migration_remove(m->rt, origin, NULL);
		m->tap->release(m->tap->ctx, origin);
		why = reason_state("too many migrations in progress");
		goto fail;
	}
	r->mid = mid;
	r->source = from;
	r->target = m->local;
	r->orch = from;
	r->phase = NM_MIG_PHASE_RESTORE;
	r->t = t;
	target_reply_restored(m, r, snap->through_seq);
	r->t.restored_sent = stamp(m, now);
	nm_snapshot_free(snap);
	return 0;
fail:
	nm_snapshot_free(snap);
	send_failed(m, from, origin, mid, &why);
	return 0;
}

/* ------------------------------------------------------------ dispatch */

/* The first raw TLV of `type` in the trailer, or NULL. */
static const uint8_t *ext_tlv(const struct nm_mig_ext *ext, bool has, uint8_t type, size_t *len)
{
	struct nm_mig_tlv_iter it;
	struct nm_mig_tlv t;
	if (!has)
		return NULL;
	nm_mig_tlv_iter_init(&it, ext);
	while (nm_mig_tlv_next(&it, &t))
		if (t.type == type) {
			*len = t.len;
			return t.val;
		}
	return NULL;
}

static uint64_t ext_mid(const struct nm_mig_ext *ext, bool has)
{
	size_t len = 0;
	const uint8_t *v = ext_tlv(ext, has, NM_MIG_TLV_MIGRATION_ID, &len);
	return v != NULL && len == 8 ? nm_get_le64(v) : 0;
}

/* Does this message belong to record r (same attempt, or an upstream peer without ids)? */
static bool same_attempt(const struct rec *r, uint64_t mid)
{
	return mid == 0 || r->mid == 0 || r->mid == mid;
}

static int wrong_peer(struct nm_migration *m, uint64_t origin, uint64_t from, uint64_t expected,
		      struct nm_error *err)
{
	m->st.wrong_peer++;
	return nm_mig_err_wrong_peer(err, origin, from, expected);
}

/* ------------------------------------------------------------ Prepare (target) */

static void expect_clear(struct nm_migration *m, uint64_t origin)
{
	for (size_t i = 0; i < m->exp_n; i++)
		if (m->expect[i].origin == origin) {
			m->expect[i] = m->expect[--m->exp_n];
			return;
		}
}

/* Expect origin's snapshot until until_ms. Full: the soonest to end makes room
 * (an expectation only shortens naps; losing one costs a nap, never a daemon). */
static void expect_add(struct nm_migration *m, uint64_t origin, uint64_t until_ms)
{
	size_t slot = m->exp_n;
	for (size_t i = 0; i < m->exp_n && slot == m->exp_n; i++)
		if (m->expect[i].origin == origin)
			slot = i;
	if (slot == MAX_EXPECT) {
		slot = 0;
		for (size_t i = 1; i < m->exp_n; i++)
			if (m->expect[i].until_ms < m->expect[slot].until_ms)
				slot = i;
	} else if (slot == m->exp_n) {
		m->exp_n++;
	}
	m->expect[slot] = (struct expect){ origin, until_ms };
}

static void expect_expire(struct nm_migration *m, uint64_t now)
{
	for (size_t i = 0; i < m->exp_n;)
		if (now >= m->expect[i].until_ms) {
			m->expect[i] = m->expect[--m->exp_n];
			m->st.prepare_expired++;
		} else {
			i++;
		}
}

/* A source announces a snapshot: be awake for it, and say so at once. Whether
 * this node can take the daemon is decided on the SnapshotReady, as without it. */
static int on_prepare(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t mid,
		      uint64_t from, uint64_t now)
{
	if (msg->prepare.target_node != m->local) {
		m->st.stale++; /* meant for another node: no reply, the source's timer covers it */
		return 0;
	}
	expect_add(m, msg->daemon_origin, now + NM_MIG_PREPARE_EXPECT_MS);
	struct nm_mig_msg rep = { .type = NM_MIG_PREPARED, .daemon_origin = msg->daemon_origin,
				  .prepared.mid = mid };
	if (send_msg(m, from, &rep, NULL, 0, NULL) == 0)
		m->st.prepares_answered++;
	return 0;
}

/* The source's side: Prepared for the current attempt starts the snapshot. */
static int on_prepared(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t from,
		       uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find(m, o, REC_SOURCE);
	if (r == NULL || !r->preparing || r->mid != msg->prepared.mid) {
		m->st.stale++; /* late (prepare_ms passed), or another attempt's */
		return 0;
	}
	if (from != r->target)
		return wrong_peer(m, o, from, r->target, err);
	m->st.prepared_received++;
	r->t.prepared_rx = stamp(m, now);
	return source_prepared(m, r, now, err);
}

/* ------------------------------------------------------------ chunk acks */

static struct rx *rx_find(struct nm_migration *m, uint64_t origin)
{
	for (size_t i = 0; i < MAX_RX; i++)
		if (m->rx[i].bits != NULL && m->rx[i].origin == origin)
			return &m->rx[i];
	return NULL;
}

static void rx_clear(struct rx *x)
{
	free(x->bits);
	*x = (struct rx){ 0 };
}

static bool rx_has(const struct rx *x, uint32_t i)
{
	return (x->bits[i / 8] >> (i % 8)) & 1u;
}

/* Target: tell the source which chunks are here (contig + a bitmap after it). */
static void rx_send_ack(struct nm_migration *m, struct rx *x)
{
	if (nm_mig_reasm_pending_bytes(m->reasm, x->origin) == 0) {
		rx_clear(x); /* the reassembler dropped them: never claim what is gone */
		return;
	}
	uint8_t val[4 + NM_MIG_CHUNK_ACK_MAX_BITMAP] = { 0 };
	nm_put_le32(val, x->contig);
	size_t nb = 0;
	for (uint32_t i = x->contig + 1; i < x->total && i - x->contig - 1 < 8 * NM_MIG_CHUNK_ACK_MAX_BITMAP; i++) {
		uint32_t j = i - x->contig - 1;
		if (rx_has(x, i)) {
			val[4 + j / 8] |= (uint8_t)(1u << (j % 8));
			nb = j / 8 + 1;
		}
	}
	struct nm_mig_tlv tlv = { NM_MIG_TLV_CHUNK_ACK, (uint16_t)(4 + nb), val };
	struct nm_mig_ext ext = { .extra = &tlv, .nextra = 1 };
	struct nm_mig_msg st = { .type = NM_MIG_STATUS, .daemon_origin = x->origin,
				 .status = { .nonce = ++x->serial, .role = NM_MIG_ROLE_TARGET,
					     .phase = NM_MIG_PHASE_TRANSFER, .seq = x->contig,
					     .node = m->local } };
	if (send_msg(m, x->from, &st, &ext, x->mid, NULL) == 0)
		m->st.chunk_acks_sent++;
}

/* Target: the reassembler kept this chunk; ack every ACK_EVERY-th, and at once on
 * a gap or a duplicate. Only a netmesh source (it sends a migration id) is acked. */
static void rx_note(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t mid,
		    uint64_t from, uint64_t now)
{
	const struct nm_mig_snapshot_ready *c = &msg->snapshot_ready;
	if (mid == 0 || c->total_chunks < 2)
		return;
	struct rx *x = rx_find(m, msg->daemon_origin);
	if (x != NULL && (x->mid != mid || x->seq != c->seq_through || x->total != c->total_chunks ||
			  x->from != from))
		rx_clear(x); /* another attempt or snapshot: start over */
	if (x == NULL || x->bits == NULL) {
		x = NULL;
		for (size_t i = 0; i < MAX_RX && x == NULL; i++)
			if (m->rx[i].bits == NULL)
				x = &m->rx[i];
		if (x == NULL)
			return; /* no room: no acks, the source falls back to sending everything */
		*x = (struct rx){ .origin = msg->daemon_origin, .mid = mid, .from = from,
				  .seq = c->seq_through, .total = c->total_chunks,
				  .first_ns = stamp(m, now),
				  .bits = calloc((c->total_chunks + 7) / 8, 1) };
		if (x->bits == NULL)
			return;
	}
	x->last_ms = now;
	uint32_t i = c->chunk_index;
	bool dup = rx_has(x, i), in_order = i == x->next;
	if (!dup) {
		x->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		x->count++;
		while (x->contig < x->total && rx_has(x, x->contig))
			x->contig++;
	}
	x->next = i + 1;
	if (dup || !in_order || x->count % ACK_EVERY == 0)
		rx_send_ack(m, x);
}

static void rx_drop(struct nm_migration *m, uint64_t origin)
{
	struct rx *x = rx_find(m, origin);
	if (x != NULL)
		rx_clear(x);
}

/* Source: apply the target's newest view of the chunks it holds, then refill the window. */
static int on_chunk_ack(struct nm_migration *m, const struct nm_mig_msg *msg, const uint8_t *val,
			size_t len, uint64_t mid, uint64_t from, uint64_t now, struct nm_error *err)
{
	struct rec *r = rec_find(m, msg->daemon_origin, REC_SOURCE);
	if (r == NULL || !same_attempt(r, mid) || r->ch.have == NULL || len < 4 ||
	    len > 4 + NM_MIG_CHUNK_ACK_MAX_BITMAP) {
		m->st.stale++; /* late (committed already), another attempt's, or malformed */
		return 0;
	}
	if (from != r->target)
		return wrong_peer(m, r->origin, from, r->target, err);
	struct chunks *c = &r->ch;
	uint32_t contig = nm_get_le32(val);
	m->st.chunk_acks_received++;
	r->last_heard_ms = now;
	if (msg->status.nonce <= c->ack_serial || contig > c->n)
		return 0; /* an older ack overtaken by a newer one */
	c->ack_serial = msg->status.nonce;
	if (contig < c->contig) /* the target lost what it held: believe only this ack */
		for (uint32_t i = contig; i < c->n; i++)
			chunk_mark(c, i, false);
	for (uint32_t i = c->contig; i < contig; i++)
		chunk_mark(c, i, true);
	for (uint32_t j = 0; j < 8 * (len - 4) && contig + 1 + j < c->n; j++)
		chunk_mark(c, contig + 1 + j, (val[4 + j / 8] >> (j % 8)) & 1u);
	c->contig = contig;
	c->mode = CH_ACKED;
	r->rto_ms = m->rto; /* progress: the timer starts over */
	r->next_tx_ms = now + m->rto;
	send_chunks(m, r, now, false);
	return 0;
}

static int on_snapshot_ready(struct nm_migration *m, const struct nm_mig_msg *msg,
			     const struct nm_mig_ext *ext, uint64_t mid, uint64_t from,
			     uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find(m, o, REC_TARGET);
	uint64_t bound;
	expect_clear(m, o); /* what a Prepare announced is here */
	if (r != NULL && ((r->active && !nm_runtime_has_daemon(m->rt, o)) || r->discarded) &&
	    !same_attempt(r, mid)) {
		/* It left since (or never came): that record gates nothing now, but its
		 * source may still send late events or ask for its proof. */
		r->old = true;
		r = NULL;
	}
	if (r != NULL && r->source != from)
		return wrong_peer(m, o, from, r->source, err);
	if (r == NULL && nm_runtime_expected_orchestrator(m->rt, o, &bound) && bound != from)
		return wrong_peer(m, o, from, bound, err);
	if (r != NULL) {
		r->last_heard_ms = now;
		if (same_attempt(r, mid)) {
			if (r->discarded) {
				struct nm_mig_reason why = reason_state(DISCARDED_TEXT);
				return send_failed(m, from, o, mid, &why), 0;
			}
			/* A retry after RestoreComplete was lost: answer again, restore once. */
			target_reply_restored(m, r, msg->snapshot_ready.seq_through);
			return 0;
		}
		if (r->active && nm_runtime_has_daemon(m->rt, o)) {
			/* It runs here: whoever sends this thinks it still has it. */
			struct nm_mig_reason why = reason_code(NM_MIG_FAIL_ALREADY_MIGRATING);
			return send_failed(m, from, o, mid, &why), 0;
		}
		/* else: it came here, left, and comes back: the old record is done with. */
		if (!r->discarded && !r->active)
			target_discard(m, r, now); /* an older, uncommitted attempt: replaced */
		r->old = true;
	}
	struct nm_mig_assembled a;
	struct nm_mig_reasm_error why;
	int rc = nm_mig_reasm_feed_msg(m->reasm, msg, now * 1000000ull, &a, &why, err);
	if (rc < 0) {
		char text[NM_ERROR_MSG_MAX];
		nm_mig_reasm_err_debug(&why, text, sizeof(text));
		return nm_mig_err_state_failed(err, "snapshot reassembly failed: %s", text);
	}
	if (rc == NM_MIG_FEED_PENDING) {
		rx_note(m, msg, mid, from, now);
		return 0;
	}
	struct nm_mig_times t = { .reassembled = stamp(m, now) };
	const struct rx *x = rx_find(m, o);
	t.snap_rx = x != NULL && x->mid == mid && x->first_ns != 0 ? x->first_ns : t.reassembled;
	nm_mig_reasm_forget(m->reasm, o);
	rx_drop(m, o);
	rc = target_restore(m, o, from, mid, a.bytes, a.len, ext, t, now);
	nm_mig_assembled_free(&a);
	return rc;
}

/* A skip (netmesh): mseq .. mseq + n - 1 will never come; replay goes past them. */
static void target_skip(struct nm_migration *m, struct rec *r, const struct nm_mig_msg *msg,
			const struct nm_mig_ext *ext)
{
	size_t len = 0;
	const uint8_t *v = ext_tlv(ext, true, NM_MIG_TLV_SKIP, &len);
	if (v == NULL || len != 8 || nm_mig_events_count(msg) != 0)
		return;
	uint64_t first = ext->mseq, n = nm_get_le64(v);
	if (first == 0 || n == 0 || n > NM_MIG_MAX_BUFFERED_EVENTS || first > UINT64_MAX - n ||
	    first + n - 1 <= r->replayed)
		return; /* nonsense, or already gone past */
	if (first <= r->replayed) {
		n -= r->replayed + 1 - first;
		first = r->replayed + 1;
	}
	if (mevq_insert_skip(&r->pending, first, n) == -ENOMEM)
		m->st.events_lost_nomem++; /* not acked: the source sends it again */
}

static int on_buffered(struct nm_migration *m, const struct nm_mig_msg *msg,
		       const struct nm_mig_ext *ext, bool has_ext, uint64_t mid, uint64_t from,
		       uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find_attempt(m, o, REC_TARGET, mid);
	struct nm_mig_events_iter it;
	struct nm_event ev;
	if (has_ext && mid == 0 && !NM_MIG_EXT_HAS(ext, NM_MIG_TLV_MSEQ) &&
	    NM_MIG_EXT_HAS(ext, NM_MIG_TLV_SENDERS)) {
		/* A hand-back: events a discarding target got directly; the daemon is ours. */
		if (!nm_runtime_has_daemon(m->rt, o) && rec_find(m, o, REC_SOURCE) == NULL) {
			m->st.stale++;
			return nm_mig_err_daemon_not_found(err, o);
		}
		nm_mig_events_iter_init(&it, msg);
		for (uint32_t i = 0; nm_mig_events_iter_next(&it, &ev); i++)
			m->tap->inject(m->tap->ctx, o, &ev, i < ext->nsenders ? nm_mig_ext_sender(ext, i) : 0,
				       NULL);
		return 0;
	}
	if (r == NULL || r->discarded || !same_attempt(r, mid)) {
		if (r == NULL && !has_ext && nm_mig_events_count(msg) == 0)
			return 0; /* upstream's empty BufferedEvents: nothing to do */
		m->st.stale++;
		return nm_mig_err_daemon_not_found(err, o);
	}
	if (r->source != from)
		return wrong_peer(m, o, from, r->source, err);
	r->last_heard_ms = now;
	uint64_t first = has_ext && NM_MIG_EXT_HAS(ext, NM_MIG_TLV_MSEQ) ? ext->mseq
									  : target_contiguous(r) + 1;
	if (has_ext && NM_MIG_EXT_HAS(ext, NM_MIG_TLV_MSEQ))
		target_skip(m, r, msg, ext);
	nm_mig_events_iter_init(&it, msg);
	for (uint32_t i = 0; nm_mig_events_iter_next(&it, &ev); i++) {
		uint64_t mseq = first + i;
		uint64_t sender = has_ext && i < ext->nsenders ? nm_mig_ext_sender(ext, i) : 0;
		int rc = mseq <= r->replayed ? -EEXIST : mevq_insert(&r->pending, mseq, sender, &ev);
		if (rc == -EEXIST)
			m->st.events_duplicate++;
		else if (rc < 0)
			m->st.events_lost_nomem++; /* not acked: the source sends it again */
	}
	if (r->active)
		target_drain(m, r, now);
	struct nm_mig_msg rep = { .type = NM_MIG_REPLAY_COMPLETE, .daemon_origin = o,
				  .replay_complete.replayed_seq = r->replayed };
	struct nm_mig_ext rx = { .events_ack = target_contiguous(r) };
	nm_mig_ext_set(&rx, NM_MIG_TLV_EVENTS_ACK);
	send_msg(m, from, &rep, &rx, r->mid, r);
	return 0;
}

static int on_activate(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t mid,
		       uint64_t from, uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find_attempt(m, o, REC_TARGET, mid);
	if (r == NULL || !same_attempt(r, mid))
		return nm_mig_err_daemon_not_found(err, o);
	if (r->source != from)
		return wrong_peer(m, o, from, r->source, err);
	r->last_heard_ms = now;
	if (r->discarded) {
		/* The proof the source waits for: this attempt never ran here. */
		struct nm_mig_reason why = reason_state(DISCARDED_TEXT);
		send_failed(m, from, o, r->mid, &why);
		return 0;
	}
	target_activate(m, r, now);
	return 0;
}

/* Messages for this node's source (or orchestrator-of-remote) record. */
static int on_source_reply(struct nm_migration *m, const struct nm_mig_msg *msg,
			   const struct nm_mig_ext *ext, bool has_ext, uint64_t mid, uint64_t from,
			   uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find(m, o, REC_SOURCE);
	if (r == NULL || !same_attempt(r, mid)) {
		m->st.stale++;
		return nm_mig_err_daemon_not_found(err, o);
	}
	if (from != r->target)
		return wrong_peer(m, o, from, r->target, err);
	if (r->preparing && msg->type != NM_MIG_FAILED) {
		m->st.stale++; /* nothing sent yet that this could answer */
		return 0;
	}
	r->last_heard_ms = now;
	if (has_ext && NM_MIG_EXT_HAS(ext, NM_MIG_TLV_EVENTS_ACK)) {
		if (r->committed && ext->events_ack > r->acked) {
			/* Progress: the timer starts over, as for chunk acks. Left at its
			 * backoff, every later loss in the stream cost rto_max. */
			r->rto_ms = m->rto;
			r->next_tx_ms = now + m->rto;
		}
		source_acked(m, r, ext->events_ack);
	}
	switch (msg->type) {
	case NM_MIG_RESTORE_COMPLETE:
		if (!r->committed) {
			r->t.restored_rx = stamp(m, now);
			source_commit(m, r, now);
		}
		break;
	case NM_MIG_ACTIVATE_ACK:
		if (r->committed) {
			source_activated(m, r, now);
			source_acked(m, r, r->acked);
		}
		break;
	case NM_MIG_FAILED: {
		const struct nm_mig_reason *why = &msg->failed;
		bool discarded = why->code == NM_MIG_FAIL_STATE_FAILED &&
				 why->msg_len == strlen(DISCARDED_TEXT) &&
				 memcmp(why->msg, DISCARDED_TEXT, why->msg_len) == 0;
		if (r->committed) {
			if (discarded && !r->activated)
				source_revert(m, r, now);
			break; /* after the commit only that proof undoes it */
		}
		if (why->code == NM_MIG_FAIL_NOT_READY && r->opts.retry_not_ready_ms > 0) {
			if (now >= r->budget_end) {
				struct nm_mig_reason t = { .code = NM_MIG_FAIL_NOT_READY_TIMEOUT,
							   .attempts = r->attempts };
				source_fail(m, r, now, &t);
			} else if (r->retry_at == 0) {
				uint32_t sh = r->attempts - 1 < 5 ? r->attempts - 1 : 5;
				uint64_t wait = (uint64_t)BACKOFF_BASE_MS << sh;
				r->retry_at = now + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
			}
			break;
		}
		source_fail(m, r, now, why);
		break;
	}
	default:
		break;
	}
	return 0;
}

static int on_take_snapshot(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t mid,
			    uint64_t from, uint64_t now, struct nm_error *err)
{
	const uint64_t o = msg->daemon_origin;
	struct rec *r = rec_find(m, o, REC_SOURCE);
	if (r != NULL) {
		if (r->orch != from)
			return nm_mig_err_already_migrating(err, o);
		if (r->activated) /* done; only its forwarding remains: CleanupComplete was lost */
			return send_simple(m, from, NM_MIG_CLEANUP_COMPLETE, o, mid, NULL), 0;
		/* A retransmission: say we are on it. */
		struct nm_mig_msg st = { .type = NM_MIG_STATUS, .daemon_origin = o,
					 .status = { .role = NM_MIG_ROLE_SOURCE, .phase = (uint8_t)r->phase,
						     .node = r->target } };
		return send_msg(m, from, &st, NULL, mid, NULL), 0;
	}
	for (size_t i = 0; mid != 0 && i < m->hist_n; i++) {
		const struct nm_mig_info *h = &m->hist[(m->hist_next + NM_MIG_HISTORY - 1 - i) % NM_MIG_HISTORY];
		if (h->origin != o || h->role != NM_MIG_AS_SOURCE || h->orch_mid != mid)
			continue;
		/* That attempt ended already (its answer was lost): the same answer, never a rerun. */
		if (h->ok)
			return send_simple(m, from, NM_MIG_CLEANUP_COMPLETE, o, mid, NULL), 0;
		const char *text = h->reason;
		if (strncmp(text, "state failed: ", 14) == 0)
			text += 14;
		struct nm_mig_reason why = { .code = h->fail_code, .msg = text, .msg_len = strlen(text),
					     .attempts = h->attempts };
		return send_failed(m, from, o, mid, &why), 0;
	}
	struct nm_mig_opts opts = { .transport_identity = true, .retry_not_ready_ms = 0 };
	struct nm_error e;
	int rc = source_begin(m, o, msg->take_snapshot.target_node, from, mid, &opts, false, now, &e);
	if (rc < 0) {
		struct nm_mig_reason why = reason_state(e.msg);
		send_failed(m, from, o, mid, &why);
		if (err != NULL)
			*err = e;
		return rc;
	}
	return 0;
}

static int on_orch_reply(struct nm_migration *m, const struct nm_mig_msg *msg, uint64_t mid,
			 uint64_t from, uint64_t now, struct nm_error *err)
{
	struct rec *r = rec_find(m, msg->daemon_origin, REC_ORCH);
	if (r == NULL || !same_attempt(r, mid)) {
		m->st.stale++;
		return nm_mig_err_daemon_not_found(err, msg->daemon_origin);
	}
	if (from != r->source)
		return wrong_peer(m, r->origin, from, r->source, err);
	r->last_heard_ms = now;
	if (msg->type == NM_MIG_STATUS) {
		r->phase = msg->status.phase;
		r->next_tx_ms = now + m->rto_max;
		return 0;
	}
	if (msg->type == NM_MIG_CLEANUP_COMPLETE) {
		r->phase = NM_MIG_PHASE_COMPLETE;
		history_add(m, r, now, true, NULL);
	} else {
		history_add(m, r, now, false, &msg->failed);
	}
	rec_free(r);
	return 0;
}

static int dispatch(struct nm_migration *m, const uint8_t *buf, size_t len, uint64_t from,
		    uint64_t now, struct nm_error *err)
{
	struct nm_mig_msg msg;
	struct nm_mig_ext ext;
	m->st.received++;
	if (nm_mig_decode(buf, len, &msg, &ext, err) < 0) {
		m->st.decode_errors++;
		return NM_EMIG_STATE_FAILED;
	}
	bool has_ext = msg.ext != NULL;
	uint64_t mid = ext_mid(&ext, has_ext);
	const uint64_t o = msg.daemon_origin;
	switch (msg.type) {
	case NM_MIG_TAKE_SNAPSHOT:
		return on_take_snapshot(m, &msg, mid, from, now, err);
	case NM_MIG_SNAPSHOT_READY:
		return on_snapshot_ready(m, &msg, has_ext ? &ext : NULL, mid, from, now, err);
	case NM_MIG_BUFFERED_EVENTS:
		return on_buffered(m, &msg, &ext, has_ext, mid, from, now, err);
	case NM_MIG_ACTIVATE_TARGET:
		return on_activate(m, &msg, mid, from, now, err);
	case NM_MIG_RESTORE_COMPLETE:
	case NM_MIG_ACTIVATE_ACK:
	case NM_MIG_REPLAY_COMPLETE:
		return on_source_reply(m, &msg, &ext, has_ext, mid, from, now, err);
	case NM_MIG_STATUS: {
		size_t alen = 0;
		const uint8_t *ack = ext_tlv(&ext, has_ext, NM_MIG_TLV_CHUNK_ACK, &alen);
		if (ack != NULL)
			return on_chunk_ack(m, &msg, ack, alen, mid, from, now, err);
		return on_orch_reply(m, &msg, mid, from, now, err);
	}
	case NM_MIG_CLEANUP_COMPLETE:
		return on_orch_reply(m, &msg, mid, from, now, err);
	case NM_MIG_FAILED: {
		struct rec *r;
		expect_clear(m, o); /* whatever was announced is not coming */
		if ((r = rec_find(m, o, REC_SOURCE)) != NULL && from == r->target)
			return on_source_reply(m, &msg, &ext, has_ext, mid, from, now, err);
		if (r != NULL && from == r->orch && from != m->local && !r->committed) {
			source_fail(m, r, now, &msg.failed); /* the orchestrator cancels */
			return 0;
		}
		if ((r = rec_find_attempt(m, o, REC_TARGET, mid)) != NULL) {
			if (from != r->source)
				return wrong_peer(m, o, from, r->source, err);
			if (same_attempt(r, mid) && !r->active && !r->discarded)
				target_discard(m, r, now); /* the source aborted before the commit */
			return 0;
		}
		if ((r = rec_find(m, o, REC_ORCH)) != NULL)
			return on_orch_reply(m, &msg, mid, from, now, err);
		if ((r = rec_find(m, o, REC_SOURCE)) != NULL)
			return wrong_peer(m, o, from, r->target, err);
		nm_mig_reasm_forget(m->reasm, o);
		return 0;
	}
	case NM_MIG_PREPARE:
		return on_prepare(m, &msg, mid, from, now);
	case NM_MIG_PREPARED:
		return on_prepared(m, &msg, from, now, err);
	case NM_MIG_MOVED:
		if (m->tx.moved != NULL)
			m->tx.moved(m->tx.ctx, o, msg.moved.new_node);
		return 0;
	case NM_MIG_QUERY: {
		struct rec *r = rec_find(m, o, REC_SOURCE);
		if (r == NULL)
			r = rec_find(m, o, REC_TARGET);
		struct nm_mig_msg st = { .type = NM_MIG_STATUS, .daemon_origin = o };
		st.status.nonce = msg.query.nonce;
		st.status.phase = r != NULL ? (uint8_t)r->phase : NM_MIG_PHASE_NONE;
		st.status.role = r == NULL ? (nm_runtime_has_daemon(m->rt, o) ? NM_MIG_ROLE_HOST : NM_MIG_ROLE_NONE)
			       : r->kind == REC_SOURCE ? NM_MIG_ROLE_SOURCE : NM_MIG_ROLE_TARGET;
		st.status.node = r != NULL ? (r->kind == REC_SOURCE ? r->target : r->source) : 0;
		return send_msg(m, from, &st, NULL, 0, NULL), 0;
	}
	default: /* CutoverNotify: the netmesh flow commits at the source instead */
		m->st.stale++;
		return 0;
	}
}

/* Run loopback messages queued by this entry point (bounded, in place). */
static void drain_loopback(struct nm_migration *m, uint64_t now)
{
	size_t done = 0;
	while (m->loop_n > 0) {
		struct loop_msg lm = m->loopq[0];
		memmove(m->loopq, m->loopq + 1, (m->loop_n - 1) * sizeof(*m->loopq));
		m->loop_n--;
		if (done++ < LOOP_CAP)
			dispatch(m, lm.buf, lm.len, m->local, now, NULL);
		else
			m->st.loopback_dropped++;
		free(lm.buf);
	}
}

/* ------------------------------------------------------------ public */

static void receiver(void *ctx, const uint8_t *msg, size_t len, uint64_t from, uint64_t now_ms)
{
	nm_mig_handle(ctx, msg, len, from, now_ms, NULL);
}

struct nm_migration *nm_mig_create(const struct nm_mig_config *cfg)
{
	if (cfg == NULL || cfg->rt == NULL || cfg->tx == NULL || cfg->tx->send == NULL ||
	    sodium_init() < 0)
		return NULL;
	struct nm_migration *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->reasm = nm_mig_reasm_create(MAX_RX, 0);
	if (m->reasm == NULL) {
		free(m);
		return NULL;
	}
	m->rt = cfg->rt;
	m->tx = *cfg->tx;
	m->tap = cfg->tap != NULL ? cfg->tap : nm_runtime_tap(cfg->rt);
	if (cfg->static_sk != NULL) {
		if (nm_x25519_static_init(&m->key, cfg->static_sk) < 0) {
			nm_mig_reasm_free(m->reasm);
			free(m);
			return NULL;
		}
		m->has_sk = true;
	}
	m->local = nm_node_id(nm_runtime_node(cfg->rt));
	m->rto = cfg->rto_ms ? cfg->rto_ms : 200;
	m->rto_max = cfg->rto_max_ms ? cfg->rto_max_ms : 2000;
	m->phase_timeout = cfg->phase_timeout_ms ? cfg->phase_timeout_ms : 10000;
	m->discard_timeout = cfg->discard_timeout_ms ? cfg->discard_timeout_ms : 30000;
	m->linger = cfg->linger_ms ? cfg->linger_ms : 5000;
	m->max_msg = cfg->max_message ? cfg->max_message : NM_MIG_MAX_MESSAGE;
	m->clock_ns = cfg->clock_ns;
	if (m->max_msg < MIN_MESSAGE)
		m->max_msg = MIN_MESSAGE;
	nm_runtime_set_migration_receiver(m->rt, receiver, m);
	return m;
}

void nm_mig_free(struct nm_migration *m)
{
	if (m == NULL)
		return;
	nm_runtime_set_migration_receiver(m->rt, NULL, NULL);
	for (size_t i = 0; i < m->recs_hi; i++)
		if (m->recs[i].kind != 0)
			rec_free(&m->recs[i]);
	for (size_t i = 0; i < m->loop_n; i++)
		free(m->loopq[i].buf);
	for (size_t i = 0; i < MAX_RX; i++)
		rx_clear(&m->rx[i]);
	nm_mig_reasm_free(m->reasm);
	nm_x25519_static_wipe(&m->key);
	free(m);
}

#define TIME_FIELD(f) { #f, offsetof(struct nm_mig_times, f) }
static const struct {
	const char *name;
	size_t off;
} time_fields[] = {
	TIME_FIELD(prep_sent),	 TIME_FIELD(prepared_rx),
	TIME_FIELD(snap_req),	 TIME_FIELD(snap_taken),    TIME_FIELD(snap_sent),
	TIME_FIELD(restored_rx), TIME_FIELD(commit),	    TIME_FIELD(activate_sent),
	TIME_FIELD(events_sent), TIME_FIELD(activated_rx),  TIME_FIELD(fwd_end),
	TIME_FIELD(snap_rx),	 TIME_FIELD(reassembled),   TIME_FIELD(opened),
	TIME_FIELD(restored),	 TIME_FIELD(restored_sent), TIME_FIELD(activate_rx),
	TIME_FIELD(first_replay), TIME_FIELD(last_replay),
};
#define NM_MIG_TIMES_N (sizeof(time_fields) / sizeof(time_fields[0]))
_Static_assert(sizeof(struct nm_mig_times) == NM_MIG_TIMES_N * sizeof(uint64_t),
	       "every stamp of struct nm_mig_times is listed");

bool nm_mig_time_next(const struct nm_mig_times *t, unsigned *i, const char **name, uint64_t *ns)
{
	while (*i < NM_MIG_TIMES_N) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)t + time_fields[*i].off, sizeof(v));
		if (v != 0) {
			*name = time_fields[(*i)++].name;
			*ns = v;
			return true;
		}
		(*i)++;
	}
	return false;
}

uint64_t nm_mig_local_node(const struct nm_migration *m)
{
	return m->local;
}

static bool migrating(struct nm_migration *m, uint64_t origin)
{
	struct rec *r = rec_find(m, origin, REC_SOURCE);
	return (r != NULL && !r->activated) || rec_find(m, origin, REC_ORCH) != NULL;
}

int nm_mig_start(struct nm_migration *m, uint64_t origin, uint64_t source, uint64_t target,
		 const struct nm_mig_opts *opts, uint64_t now_ms, struct nm_error *err)
{
	struct nm_mig_opts o = opts != NULL ? *opts : nm_mig_opts_default();
	if (m == NULL)
		return nm_error_set(err, -EINVAL, "migration: engine is required");
	if (!nm_runtime_is_ready(m->rt))
		return nm_error_set(err, NM_ENOT_READY,
				    "daemon runtime is not ready — call nm_runtime_start() first");
	fail_forget(m, origin);
	if (migrating(m, origin))
		return nm_mig_err_already_migrating(err, origin);
	if (source == target)
		return nm_mig_err_state_failed(err, "source and target are the same node 0x%" PRIx64,
					       source);
	int rc = 0;
	if (source != m->local) {
		struct rec *r = rec_new(m, origin, REC_ORCH, now_ms);
		if (r == NULL) {
			rc = nm_mig_err_state_failed(err, "too many migrations in progress (%d)", MAX_RECS);
		} else {
			*r = (struct rec){ .kind = REC_ORCH, .origin = origin, .mid = now_mid(),
					   .source = source, .target = target, .orch = m->local,
					   .phase = NM_MIG_PHASE_SNAPSHOT, .started_ms = now_ms,
					   .last_heard_ms = now_ms, .rto_ms = m->rto,
					   .next_tx_ms = now_ms + m->rto };
			struct nm_mig_msg msg = { .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = origin,
						  .take_snapshot.target_node = target };
			if (send_msg(m, source, &msg, NULL, r->mid, r) < 0) {
				rec_free(r);
				rc = nm_mig_err_target_unavailable(err, source);
			}
		}
	} else {
		struct rec *old = rec_find(m, origin, REC_SOURCE);
		if (old != NULL) { /* only its forwarding remains: it ends once drained */
			source_collect(m, old, now_ms);
			rc = nm_mig_err_already_migrating(err, origin);
		} else if (o.prepare_ms > 0) {
			rc = source_prepare(m, origin, target, &o, now_ms, err);
		} else {
			rc = source_begin(m, origin, target, m->local, 0, &o, true, now_ms, err);
		}
	}
	drain_loopback(m, now_ms);
	return rc;
}

int nm_mig_handle(struct nm_migration *m, const uint8_t *msg, size_t len, uint64_t from_node,
		  uint64_t now_ms, struct nm_error *err)
{
	if (m == NULL || msg == NULL)
		return -EINVAL;
	int rc = dispatch(m, msg, len, from_node, now_ms, err);
	drain_loopback(m, now_ms);
	return rc;
}

static uint32_t backoff(struct nm_migration *m, struct rec *r, uint64_t now)
{
	r->retries++;
	r->rto_ms = r->rto_ms * 2 < m->rto_max ? r->rto_ms * 2 : m->rto_max;
	r->next_tx_ms = now + r->rto_ms;
	return r->rto_ms;
}

/* Does an older attempt's source still send us this daemon's events? Then keep forwarding. */
static bool target_recently_heard(struct nm_migration *m, uint64_t origin, uint64_t now)
{
	for (size_t i = 0; i < m->recs_hi; i++) {
		const struct rec *t = &m->recs[i];
		if (t->kind == REC_TARGET && t->origin == origin && t->active &&
		    now - t->last_heard_ms < m->linger)
			return true;
	}
	return false;
}

static void poll_source(struct nm_migration *m, struct rec *r, uint64_t now)
{
	if (r->preparing) {
		if (now >= r->prep_until) { /* an upstream target, or a Prepare(d) lost */
			m->st.prepare_timeouts++;
			source_prepared(m, r, now, NULL);
		}
		return;
	}
	if (!r->committed) {
		if (r->retry_at != 0) {
			if (now < r->retry_at)
				return;
			r->retry_at = 0;
			r->attempts++;
			r->retries++;
			r->last_heard_ms = now;
			r->next_tx_ms = now + m->rto;
			r->rto_ms = m->rto;
			if (chunks_reset(r) == 0) /* the target kept nothing of the refused attempt */
				send_chunks(m, r, now, false);
			return;
		}
		if (now - r->last_heard_ms >= m->phase_timeout) {
			char text[96];
			snprintf(text, sizeof(text), "migration timed out in phase %s",
				 nm_mig_phase_name(r->phase));
			struct nm_mig_reason why = reason_state(text);
			source_fail(m, r, now, &why);
			return;
		}
		if (now >= r->next_tx_ms) {
			backoff(m, r, now);
			if (r->ch.mode == CH_PROBE)
				r->ch.mode = CH_UPSTREAM; /* no ack within a timeout: an upstream target */
			send_chunks(m, r, now, true);
		} else {
			send_chunks(m, r, now, false); /* resume after a refusal, refill the window */
		}
		return;
	}
	source_collect(m, r, now);
	if (now >= r->next_tx_ms) {
		bool pending = !r->activated || r->evs.n > 0;
		if (pending) {
			backoff(m, r, now);
			if (!r->activated)
				send_simple(m, r->target, NM_MIG_ACTIVATE_TARGET, r->origin, r->mid, r);
			size_t from = 0;
			while (from < r->evs.n && r->evs.v[from].mseq <= r->acked)
				from++;
			send_events(m, r, r->target, &r->evs, from, true);
		}
	}
	if (r->activated && r->evs.n == 0 && now - r->last_event_ms >= m->linger &&
	    !target_recently_heard(m, r->origin, now) &&
	    m->tap->unforward(m->tap->ctx, r->origin) == 0) {
		r->t.fwd_end = stamp(m, now); /* forwarding is over */
		history_update(m, r);
		rec_free(r);
	}
}

static void poll_target(struct nm_migration *m, struct rec *r, uint64_t now)
{
	uint64_t idle = now - r->last_heard_ms;
	if (!r->active && !r->discarded && !r->old && idle >= m->discard_timeout)
		target_discard(m, r, now);
	else if ((r->active && idle >= 4ull * m->linger) || (r->discarded && idle >= m->discard_timeout))
		rec_free(r);
}

static void poll_orch(struct nm_migration *m, struct rec *r, uint64_t now)
{
	if (now - r->last_heard_ms >= m->phase_timeout) {
		struct nm_mig_reason why = reason_state("migration timed out in phase Snapshot");
		history_add(m, r, now, false, &why);
		rec_free(r);
		return;
	}
	if (now >= r->next_tx_ms) {
		backoff(m, r, now);
		struct nm_mig_msg msg = { .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = r->origin,
					  .take_snapshot.target_node = r->target };
		send_msg(m, r->source, &msg, NULL, r->mid, r);
	}
}

void nm_mig_poll(struct nm_migration *m, uint64_t now_ms)
{
	if (nm_runtime_state(m->rt) == NM_RUNTIME_SHUTTING_DOWN)
		memset(m->fails, 0, sizeof(m->fails)); /* upstream's shutdown clears recent_failures */
	for (size_t i = 0; i < m->recs_hi; i++) {
		struct rec *r = &m->recs[i];
		if (r->kind == REC_SOURCE)
			poll_source(m, r, now_ms);
		else if (r->kind == REC_TARGET)
			poll_target(m, r, now_ms);
		else if (r->kind == REC_ORCH)
			poll_orch(m, r, now_ms);
	}
	expect_expire(m, now_ms);
	nm_mig_reasm_sweep(m->reasm, now_ms * 1000000ull, NM_MIG_MAX_PENDING_AGE_NS);
	for (size_t i = 0; i < MAX_RX; i++) /* what the reassembler dropped is no longer acked */
		if (m->rx[i].bits != NULL && nm_mig_reasm_pending_bytes(m->reasm, m->rx[i].origin) == 0)
			rx_clear(&m->rx[i]);
	drain_loopback(m, now_ms);
	while (m->recs_hi > 0 && m->recs[m->recs_hi - 1].kind == 0)
		m->recs_hi--; /* freed records at the end: the scans stop earlier */
}

int nm_mig_cancel(struct nm_migration *m, uint64_t origin, uint64_t now_ms, struct nm_error *err)
{
	return nm_mig_cancel_for(m, origin, NM_MIG_CANCEL_REQUESTED, now_ms, err);
}

int nm_mig_cancel_for(struct nm_migration *m, uint64_t origin, enum nm_mig_cancel_cause cause,
		      uint64_t now_ms, struct nm_error *err)
{
	struct rec *r = rec_find(m, origin, REC_SOURCE);
	struct nm_mig_reason why = reason_state(cause == NM_MIG_CANCEL_HOLD_OVERFLOW ? HOLD_OVERFLOW_TEXT
										     : "cancel requested");
	if (r == NULL || r->activated) {
		struct rec *o = rec_find(m, origin, REC_ORCH);
		if (o == NULL)
			return nm_mig_err_daemon_not_found(err, origin);
		send_failed(m, o->source, origin, o->mid, &why);
		history_add(m, o, now_ms, false, &why);
		rec_free(o);
		return 0;
	}
	if (r->committed)
		return nm_mig_err_wrong_phase(err, NM_MIG_PHASE_TRANSFER, r->phase);
	if (r->preparing) { /* nothing held, nothing sent but the Prepare: the record just ends */
		history_add(m, r, now_ms, false, &why);
		rec_free(r);
		return 0;
	}
	source_fail(m, r, now_ms, &why);
	drain_loopback(m, now_ms);
	return 0;
}

void nm_mig_simulate_not_ready(struct nm_migration *m, bool on)
{
	m->not_ready = on;
}

/* Before its end: an orchestrator's, a source's until ActivateAck, a target's until active. */
static bool rec_in_progress(const struct rec *r)
{
	return r->kind == REC_ORCH || (r->kind == REC_SOURCE && !r->activated) ||
	       (r->kind == REC_TARGET && !r->active && !r->discarded);
}

bool nm_mig_in_progress(const struct nm_migration *m)
{
	if (m->exp_n > 0)
		return true;
	for (size_t i = 0; i < m->recs_hi; i++)
		if (rec_in_progress(&m->recs[i]))
			return true;
	return false;
}

size_t nm_mig_list(const struct nm_migration *m, uint64_t now_ms, struct nm_mig_info *out,
		   size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < m->recs_hi; i++) {
		const struct rec *r = &m->recs[i];
		if (!rec_in_progress(r))
			continue;
		if (n < max)
			info_of(r, now_ms, &out[n]);
		n++;
	}
	return n;
}

size_t nm_mig_history(const struct nm_migration *m, struct nm_mig_info *out, size_t max)
{
	size_t n = 0;
	for (; n < m->hist_n && n < max; n++)
		out[n] = m->hist[(m->hist_next + NM_MIG_HISTORY - 1 - n) % NM_MIG_HISTORY];
	return m->hist_n;
}

enum nm_mig_phase nm_mig_phase_of(const struct nm_migration *m, uint64_t origin)
{
	for (size_t i = 0; i < m->recs_hi; i++) {
		const struct rec *r = &m->recs[i];
		if (r->origin == origin && (r->kind == REC_ORCH || (r->kind == REC_SOURCE && !r->activated)))
			return r->phase;
	}
	for (size_t i = 0; i < m->recs_hi; i++) {
		const struct rec *r = &m->recs[i];
		if (r->origin == origin && r->kind == REC_TARGET && !r->active && !r->discarded)
			return r->phase;
	}
	return NM_MIG_PHASE_NONE;
}

bool nm_mig_last_failure(const struct nm_migration *m, uint64_t origin, struct nm_mig_reason *r)
{
	for (size_t i = 0; i < MAX_FAILS; i++)
		if (m->fails[i].used && m->fails[i].origin == origin) {
			if (r != NULL)
				*r = m->fails[i].r;
			return true;
		}
	return false;
}

void nm_mig_stats(const struct nm_migration *m, struct nm_mig_stats *out)
{
	*out = m->st;
}

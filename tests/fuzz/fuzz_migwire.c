/* SPDX-License-Identifier: MIT */
/*
 * fuzz_migwire.c - the 0x0500 migration codec and reassembler (control/nm_migwire.h).
 *
 * Build: one line in tests/fuzz/meson.build's list, ['migwire', netmesh_dep];
 * scripts/fuzz.sh migwire then runs it under libFuzzer (clang, ASan+UBSan),
 * and the meson test fuzz-migwire runs its seeds and their mutations.
 *
 * Input: records of [u8 op][LE16 len][len bytes of one 0x0500 message].
 * Properties, per record:
 *  - decode fails with err->code == rc and upstream's "state operation
 *    failed: " text, or it succeeds and re-encoding the decoded view gives
 *    exactly the body bytes (the trailer, if any, is not part of it), and
 *    decoding the body alone gives the same body;
 *  - an accepted trailer re-encodes (known TLVs, unknown ones as extras) to
 *    a trailer that decodes to the same values;
 *  - a SnapshotReady goes into one reassembler shared by the whole input
 *    (4 origins at most, time advanced by op): a rejected chunk changes no
 *    counter, a pending one leaves bytes for its origin, a completed one
 *    none, and pending bytes/count always equal the per-origin sums.
 * op & 0x3f advances time by that many 10 s steps (past the 300 s sweep),
 * op & 0x40 cancels the record's origin afterwards, op & 0x80 forgets it.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "nm_migwire.h"

#define MAX_ORIGINS 4
#define TRACK 16 /* origins whose counters are summed (rejected ones included) */

static const char PREFIX[] = "state operation failed: ";

static struct nm_event evs[(UINT16_MAX / NM_MIG_EVENT_MIN_WIRE) + 1];
static uint8_t enc[UINT16_MAX + 1];
static uint8_t enc2[UINT16_MAX + 1];

/* Re-encode the decoded view: BufferedEvents goes through its iterator. */
static void check_reencode(const uint8_t *data, const struct nm_mig_msg *d)
{
	struct nm_mig_msg m = *d;
	m.ext = NULL;
	if (m.type == NM_MIG_BUFFERED_EVENTS) {
		struct nm_mig_events_iter it;
		size_t n = 0;
		nm_mig_events_iter_init(&it, d);
		while (n < sizeof(evs) / sizeof(evs[0]) && nm_mig_events_iter_next(&it, &evs[n]))
			n++;
		FUZZ_CHECK(n == nm_mig_events_count(d));
		m.buffered.events = evs;
		m.buffered.count = n;
	}
	size_t len = 0;
	FUZZ_CHECK(nm_mig_encoded_size(&m) == d->body_len);
	FUZZ_CHECK(nm_mig_encode(&m, enc, sizeof(enc), &len, NULL) == 0);
	FUZZ_CHECK(len == d->body_len && memcmp(enc, data, len) == 0);
	struct nm_mig_msg again;
	FUZZ_CHECK(nm_mig_decode(data, d->body_len, &again, NULL, NULL) == 0);
	FUZZ_CHECK(again.body_len == d->body_len && again.type == d->type);
}

/* An accepted trailer, rebuilt from its typed view and raw TLVs, reads back the same. */
static void check_trailer(const uint8_t *data, const struct nm_mig_msg *d,
			  const struct nm_mig_ext *x)
{
	static struct nm_mig_tlv extra[UINT16_MAX / NM_MIG_TLV_HDR + 1];
	struct nm_mig_ext e = *x;
	size_t n = 0;
	struct nm_mig_tlv_iter it;
	struct nm_mig_tlv t;
	nm_mig_tlv_iter_init(&it, x);
	while (nm_mig_tlv_next(&it, &t))
		if (!(t.type >= NM_MIG_TLV_MSEQ && t.type <= NM_MIG_TLV_KIND))
			extra[n++] = t;
	FUZZ_CHECK(n == x->unknown);
	e.extra = extra;
	e.nextra = n;
	size_t tl = 0;
	size_t room = sizeof(enc2) - d->body_len;
	/* Same TLVs, same sizes: it fits where the original was. */
	FUZZ_CHECK(nm_mig_ext_encode(&e, enc2 + d->body_len, room, &tl) == 0);
	memcpy(enc2, data, d->body_len);
	struct nm_mig_msg m2;
	struct nm_mig_ext y;
	FUZZ_CHECK(nm_mig_decode(enc2, d->body_len + tl, &m2, &y, NULL) == 0);
	if (tl == 0) { /* nothing to carry: no trailer at all */
		FUZZ_CHECK(x->present == 0 && x->unknown == 0 && m2.ext == NULL);
		return;
	}
	FUZZ_CHECK(m2.ext == &y && !y.malformed);
	FUZZ_CHECK(y.present == x->present && y.unknown == x->unknown);
	FUZZ_CHECK(y.mseq == x->mseq && y.final_through == x->final_through);
	FUZZ_CHECK(y.events_ack == x->events_ack && y.next_parent == x->next_parent);
	FUZZ_CHECK(y.flags == x->flags && y.nsenders == x->nsenders && y.kind_len == x->kind_len);
	FUZZ_CHECK(x->nsenders == 0 || memcmp(y.senders, x->senders, 8 * (size_t)x->nsenders) == 0);
	FUZZ_CHECK(x->kind_len == 0 || memcmp(y.kind, x->kind, x->kind_len) == 0);
}

struct shadow {
	uint64_t origins[TRACK];
	size_t n;
};

static void track(struct shadow *s, uint64_t origin)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->origins[i] == origin)
			return;
	if (s->n < TRACK)
		s->origins[s->n++] = origin;
}

/* Totals equal the per-origin sums (only when every origin seen is tracked). */
static void check_totals(const struct nm_mig_reasm *r, const struct shadow *s)
{
	if (s->n == TRACK)
		return;
	size_t bytes = 0, count = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t b = nm_mig_reasm_pending_bytes(r, s->origins[i]);
		FUZZ_CHECK(b <= NM_MIG_MAX_PENDING_BYTES);
		bytes += b;
		count += b > 0; /* a pending entry holds at least one byte */
	}
	FUZZ_CHECK(bytes == nm_mig_reasm_pending_bytes_total(r));
	FUZZ_CHECK(count == nm_mig_reasm_pending_count(r));
	FUZZ_CHECK(count <= MAX_ORIGINS);
}

static void check_feed(struct nm_mig_reasm *r, struct shadow *s, const struct nm_mig_msg *m,
		       uint64_t now)
{
	const struct nm_mig_snapshot_ready *c = &m->snapshot_ready;
	uint64_t o = m->daemon_origin;
	track(s, o);
	/* Sweep first, so the feed's own sweep has nothing left to do and a
	 * rejection must leave every counter as it was. */
	nm_mig_reasm_sweep(r, now, NM_MIG_MAX_PENDING_AGE_NS);
	size_t count = nm_mig_reasm_pending_count(r), total = nm_mig_reasm_pending_bytes_total(r);
	size_t mine = nm_mig_reasm_pending_bytes(r, o);
	uint64_t latest = 0;
	bool had = nm_mig_reasm_latest_seq(r, o, &latest);

	struct nm_mig_assembled out;
	struct nm_mig_reasm_error why;
	struct nm_error err = { 0 };
	int rc = nm_mig_reasm_feed_msg(r, m, now, &out, &why, &err);
	uint64_t now_latest = 0;
	bool has = nm_mig_reasm_latest_seq(r, o, &now_latest);
	if (rc == NM_EMIG_REASSEMBLY) {
		FUZZ_CHECK(why.kind != NM_MIG_REASM_OK && err.code == rc && err.msg[0]);
		FUZZ_CHECK(out.bytes == NULL && out.owned == NULL);
		FUZZ_CHECK(nm_mig_reasm_pending_count(r) == count);
		FUZZ_CHECK(nm_mig_reasm_pending_bytes_total(r) == total);
		FUZZ_CHECK(nm_mig_reasm_pending_bytes(r, o) == mine);
		FUZZ_CHECK(has == had && (!had || now_latest == latest));
		return;
	}
	FUZZ_CHECK(rc == NM_MIG_FEED_PENDING || rc == NM_MIG_FEED_COMPLETE);
	FUZZ_CHECK(has && now_latest == c->seq_through && (!had || latest <= c->seq_through));
	if (rc == NM_MIG_FEED_PENDING) {
		FUZZ_CHECK(c->total_chunks > 1 && nm_mig_reasm_pending_bytes(r, o) >= c->len);
	} else {
		FUZZ_CHECK(nm_mig_reasm_pending_bytes(r, o) == 0);
		if (c->total_chunks == 1) {
			FUZZ_CHECK(out.bytes == c->bytes && out.len == c->len && out.owned == NULL);
		} else {
			size_t before = had && latest == c->seq_through ? mine : 0;
			FUZZ_CHECK(out.owned != NULL && out.len >= c->total_chunks);
			FUZZ_CHECK(out.len <= before + c->len);
		}
	}
	nm_mig_assembled_free(&out);
}

static void check_one(const uint8_t *data, size_t size, struct nm_mig_reasm *r, struct shadow *s,
		      uint8_t op, uint64_t now)
{
	struct nm_mig_msg d;
	struct nm_mig_ext x;
	struct nm_error err = { 0 };
	int rc = nm_mig_decode(data, size, &d, &x, &err);
	if (rc != 0) {
		FUZZ_CHECK(rc == NM_EMIG_STATE_FAILED && err.code == rc);
		FUZZ_CHECK(strncmp(err.msg, PREFIX, sizeof(PREFIX) - 1) == 0);
		return;
	}
	FUZZ_CHECK(d.body_len >= 9 && d.body_len <= size);
	FUZZ_CHECK(nm_mig_type_name(d.type) != NULL);
	check_reencode(data, &d);
	if (d.ext) {
		FUZZ_CHECK(d.ext == &x && !x.malformed && x.trailer == data + d.body_len);
		check_trailer(data, &d, &x);
	} else {
		FUZZ_CHECK(x.present == 0 && (x.malformed || d.body_len == size));
	}
	if (d.type == NM_MIG_SNAPSHOT_READY) {
		check_feed(r, s, &d, now);
		check_totals(r, s);
	}
	if (op & 0x40)
		nm_mig_reasm_cancel(r, d.daemon_origin);
	if (op & 0x80)
		nm_mig_reasm_forget(r, d.daemon_origin);
	check_totals(r, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_mig_reasm *r = nm_mig_reasm_create(MAX_ORIGINS, 0);
	FUZZ_CHECK(r != NULL);
	struct shadow s = { .n = 0 };
	struct fuzz_in in = { data, size };
	uint64_t now = 0;
	while (in.left) {
		uint8_t op = fuzz_u8(&in);
		uint16_t len = fuzz_u16(&in);
		const uint8_t *msg = fuzz_take(&in, len);
		if (!msg)
			break;
		now += (uint64_t)(op & 0x3f) * 10 * 1000000000ull;
		check_one(msg, len, r, &s, op, now);
	}
	nm_mig_reasm_free(r);
	return 0;
}

/* ---------------------------------------------------------------- seeds */

static uint8_t seed_buf[1 << 16];
static size_t seed_len;

static void add(uint8_t op, const struct nm_mig_msg *m)
{
	size_t n = 0;
	FUZZ_CHECK(seed_len + 3 <= sizeof(seed_buf));
	FUZZ_CHECK(nm_mig_encode(m, seed_buf + seed_len + 3, sizeof(seed_buf) - seed_len - 3, &n,
				 NULL) == 0);
	seed_buf[seed_len] = op;
	seed_buf[seed_len + 1] = (uint8_t)n;
	seed_buf[seed_len + 2] = (uint8_t)(n >> 8);
	seed_len += 3 + n;
}

static void flush(void)
{
	fuzz_seed(seed_buf, seed_len);
	seed_len = 0;
}

void fuzz_seeds(void)
{
	static uint8_t snap[3 * 1000 + 17];
	fuzz_fill(snap, sizeof(snap), 1);
	/* A small snapshot cut by hand into 4 chunks of <= 1000 bytes, out of order,
	 * with a duplicate, then a newer seq and a single-chunk one. */
	const uint32_t order[] = { 3, 1, 1, 0, 2 };
	for (size_t k = 0; k < 5; k++) {
		uint32_t i = order[k];
		size_t off = (size_t)i * 1000, len = i == 3 ? 17 : 1000;
		struct nm_mig_msg m = { .type = NM_MIG_SNAPSHOT_READY, .daemon_origin = 0xAAAA };
		m.snapshot_ready = (struct nm_mig_snapshot_ready){ 5, i, 4, snap + off, len };
		add(k == 2 ? 0x07 : 0x00, &m);
	}
	struct nm_mig_msg one;
	FUZZ_CHECK(nm_mig_chunk(0xBBBB, snap, 100, 9, 0, &one) == 0);
	add(0x40, &one);
	flush();

	/* Every other message, one with a full trailer. */
	static const uint64_t senders[2] = { 0x1111, 0x2222 };
	struct nm_event ev[2] = {
		{ { 0xAAAA, 0, 1, 7 }, snap, 10, 100 },
		{ { 0xAAAA, 0, 2, 8 }, snap + 10, 0, 200 },
	};
	struct nm_mig_ext x = { 0 };
	for (int t = NM_MIG_TLV_MSEQ; t <= NM_MIG_TLV_KIND; t++)
		nm_mig_ext_set(&x, (enum nm_mig_tlv_type)t);
	x.mseq = 1;
	x.final_through = 2;
	x.events_ack = 0;
	x.next_parent = 0x1234;
	x.flags = NM_MIG_XF_STATELESS;
	x.senders = (const uint8_t *)senders;
	x.nsenders = 2;
	x.kind = "counter";
	x.kind_len = 7;
	struct nm_mig_msg m[15] = {
		{ .type = NM_MIG_TAKE_SNAPSHOT, .daemon_origin = 1, .take_snapshot = { 2 } },
		{ .type = NM_MIG_RESTORE_COMPLETE, .daemon_origin = 1, .restore_complete = { 3 } },
		{ .type = NM_MIG_REPLAY_COMPLETE,
		  .daemon_origin = 1,
		  .replay_complete = { 4, { 1, 2, 3, 4 } } },
		{ .type = NM_MIG_CUTOVER_NOTIFY, .daemon_origin = 1, .cutover_notify = { 2 } },
		{ .type = NM_MIG_CLEANUP_COMPLETE, .daemon_origin = 1 },
		{ .type = NM_MIG_FAILED,
		  .daemon_origin = 1,
		  .failed = { NM_MIG_FAIL_STATE_FAILED, "boom", 4, 0 } },
		{ .type = NM_MIG_FAILED,
		  .daemon_origin = 1,
		  .failed = { NM_MIG_FAIL_NOT_READY_TIMEOUT, NULL, 0, 3 } },
		{ .type = NM_MIG_BUFFERED_EVENTS,
		  .daemon_origin = 1,
		  .buffered = { ev, 2, NULL, 0 },
		  .ext = &x },
		{ .type = NM_MIG_ACTIVATE_TARGET, .daemon_origin = 1 },
		{ .type = NM_MIG_ACTIVATE_ACK, .daemon_origin = 1, .activate_ack = { 4 } },
		{ .type = NM_MIG_MOVED, .daemon_origin = 1, .moved = { 3 } },
		{ .type = NM_MIG_QUERY, .daemon_origin = 1, .query = { 9 } },
		{ .type = NM_MIG_PREPARE, .daemon_origin = 1, .prepare = { 2 } },
		{ .type = NM_MIG_PREPARED, .daemon_origin = 1, .prepared = { 7 } },
		{ .type = NM_MIG_STATUS,
		  .daemon_origin = 1,
		  .status = { 9, NM_MIG_ROLE_TARGET, NM_MIG_PHASE_REPLAY, 4, 3 } },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		add(0, &m[i]);
		if (i % 4 == 3)
			flush();
	}
	flush();
}

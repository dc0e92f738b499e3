/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snapshot.c - CDS1 v2 snapshots (control/nm_snapshot.h) and the
 * DaemonBindings bytes they carry (nm_bindings_valid).
 *
 * Properties: a decoded input re-encodes to exactly the input bytes (the
 * format has one encoding), its dup encodes the same; decode(encode(x)) == x
 * for a snapshot x built from the input's bytes; a valid bindings blob is
 * prefix-free (one byte less, or one more, is refused).
 */
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "nm_host.h"
#include "nm_le.h"
#include "nm_snapshot.h"

static void check_bindings(const uint8_t *b, size_t len)
{
	if (len == 0 || !nm_bindings_valid(b, len))
		return;
	FUZZ_CHECK(!nm_bindings_valid(b, len - 1));
	uint8_t *more = malloc(len + 1);
	FUZZ_CHECK(more != NULL);
	memcpy(more, b, len);
	more[len] = 0;
	FUZZ_CHECK(!nm_bindings_valid(more, len + 1));
	free(more);
}

static bool snapshot_equal(const struct nm_snapshot *a, const struct nm_snapshot *b)
{
	return a->version == b->version && memcmp(a->entity_id, b->entity_id, 32) == 0 &&
	       a->through_seq == b->through_seq &&
	       memcmp(&a->chain_link, &b->chain_link, sizeof(a->chain_link)) == 0 &&
	       a->created_at == b->created_at && a->state_len == b->state_len &&
	       (a->state_len == 0 || memcmp(a->state, b->state, a->state_len) == 0) &&
	       a->bindings_len == b->bindings_len &&
	       (a->bindings_len == 0 || memcmp(a->bindings, b->bindings, a->bindings_len) == 0) &&
	       a->has_envelope == b->has_envelope &&
	       (!a->has_envelope || memcmp(a->envelope, b->envelope, sizeof(a->envelope)) == 0);
}

/* The input as CDS1 bytes: decode, then encode must give them back. */
static void check_decode(const uint8_t *data, size_t size)
{
	struct nm_snapshot *s = NULL;
	struct nm_error err = { 0 };
	int rc = nm_snapshot_decode(data, size, &s, &err);
	if (rc != 0) {
		FUZZ_CHECK(s == NULL && err.code == rc && err.msg[0] != '\0');
		return;
	}
	FUZZ_CHECK(nm_snapshot_wire_size(s) == size);
	uint8_t *buf = malloc(size);
	size_t n = 0;
	FUZZ_CHECK(buf != NULL && nm_snapshot_encode(s, buf, size, &n) == 0 && n == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(nm_snapshot_encode(s, buf, size - 1, NULL) == -ENOSPC);
	struct nm_snapshot *d = nm_snapshot_dup(s);
	FUZZ_CHECK(d != NULL && snapshot_equal(s, d));
	check_bindings(s->bindings, s->bindings_len);
	nm_snapshot_free(d);
	nm_snapshot_free(s);
	free(buf);
}

/* The input as the fields of a snapshot: decode(encode(x)) == x. */
static void check_roundtrip(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t entity[32] = { 0 };
	const uint8_t *p = fuzz_take(&in, 32);
	if (p != NULL)
		memcpy(entity, p, 32);
	struct nm_causal_link head = { .origin_hash = nm_origin_hash_of(entity) };
	if ((p = fuzz_take(&in, 24)) != NULL) {
		head.horizon_encoded = nm_get_le64(p);
		head.sequence = nm_get_le64(p + 8);
		head.parent_hash = nm_get_le64(p + 16);
	}
	uint16_t state_len = fuzz_u16(&in);
	const uint8_t *state = fuzz_take(&in, state_len);
	if (state == NULL)
		state_len = 0;
	uint8_t env_flag = fuzz_u8(&in);
	/* The rest is the bindings blob: checked on its own too. */
	const uint8_t *bindings = in.left ? in.p : NULL;
	uint32_t bindings_len = (uint32_t)in.left;
	check_bindings(bindings, bindings_len);

	struct nm_snapshot *x = nm_snapshot_new(entity, &head, state, state_len, bindings,
						bindings_len);
	FUZZ_CHECK(x != NULL && x->through_seq == head.sequence);
	if (env_flag & 1) {
		x->has_envelope = true;
		fuzz_fill(x->envelope, sizeof(x->envelope), env_flag);
		x->envelope[0] = NM_IDENTITY_ENVELOPE_VERSION;
	}
	size_t len = nm_snapshot_wire_size(x), n = 0;
	uint8_t *buf = malloc(len);
	FUZZ_CHECK(buf != NULL && nm_snapshot_encode(x, buf, len, &n) == 0 && n == len);
	struct nm_snapshot *y = NULL;
	FUZZ_CHECK(nm_snapshot_decode(buf, len, &y, NULL) == 0);
	y->horizon_encoded = x->horizon_encoded; /* in memory only, by design */
	FUZZ_CHECK(snapshot_equal(x, y));
	nm_snapshot_free(y);
	nm_snapshot_free(x);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_roundtrip(data, size);
	return 0;
}

/* DaemonBindings as compute.md 5.4 (the project has a validator, not an encoder). */
static size_t put_binding(uint8_t *p, uint64_t publisher, const char *name, const char *token)
{
	size_t n = 0, nl = strlen(name);
	nm_put_le64(p, publisher);
	nm_put_le16(p + 8, (uint16_t)nl);
	memcpy(p + 10, name, nl);
	n = 10 + nl;
	p[n++] = token != NULL;
	if (token != NULL) {
		size_t tl = strlen(token);
		nm_put_le16(p + n, (uint16_t)tl);
		memcpy(p + n + 2, token, tl);
		n += 2 + tl;
	}
	return n;
}

static void seed_snapshot(const uint8_t *state, uint32_t state_len, const uint8_t *b,
			  uint32_t blen, bool envelope, uint64_t seq)
{
	uint8_t entity[32];
	fuzz_fill(entity, sizeof(entity), seq + 1);
	struct nm_causal_link head = { nm_origin_hash_of(entity), 0x1234, seq, seq * 7 };
	struct nm_snapshot *s = nm_snapshot_new(entity, &head, state, state_len, b, blen);
	FUZZ_CHECK(s != NULL);
	s->has_envelope = envelope;
	if (envelope) {
		fuzz_fill(s->envelope, sizeof(s->envelope), 99);
		s->envelope[0] = NM_IDENTITY_ENVELOPE_VERSION;
	}
	size_t len = nm_snapshot_wire_size(s);
	uint8_t *buf = malloc(len);
	FUZZ_CHECK(buf != NULL && nm_snapshot_encode(s, buf, len, NULL) == 0);
	fuzz_seed(buf, len);
	free(buf);
	nm_snapshot_free(s);
}

void fuzz_seeds(void)
{
	uint8_t b[256];
	size_t n = 4;
	nm_put_le32(b, 3);
	n += put_binding(b + n, 0x1111, "events/in", NULL);
	n += put_binding(b + n, 0x2222, "télémétrie", "tok");
	n += put_binding(b + n, 0x3333, "x", "");
	FUZZ_CHECK(nm_bindings_valid(b, n));
	uint8_t counter[8];
	nm_put_le64(counter, 5);
	seed_snapshot(NULL, 0, NULL, 0, false, 0);
	seed_snapshot(counter, sizeof(counter), NULL, 0, false, 5);
	seed_snapshot(counter, sizeof(counter), b, (uint32_t)n, false, 5);
	seed_snapshot((const uint8_t *)"state bytes", 11, b, (uint32_t)n, true, 42);
}

/* SPDX-License-Identifier: MIT */
/* nm_snapshot.c - snapshot objects and the upstream CDS1 (version 2) codec. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nm_le.h"
#include "nm_snapshot.h"

#define MAGIC_LEN 4
#define OFF_VERSION 4
#define OFF_ENTITY 5
#define OFF_THROUGH 37
#define OFF_LINK 45
#define OFF_CREATED 77
#define OFF_STATE_LEN 85
#define OFF_STATE 89

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* One block: the struct, then state, then bindings. Payload pointers are set;
 * every other field is zeroed. */
static struct nm_snapshot *snapshot_alloc(uint32_t state_len, uint32_t bindings_len)
{
	struct nm_snapshot *s = malloc(sizeof(*s) + (size_t)state_len + (size_t)bindings_len);
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->state = (uint8_t *)(s + 1);
	s->state_len = state_len;
	s->bindings = s->state + state_len;
	s->bindings_len = bindings_len;
	return s;
}

struct nm_snapshot *nm_snapshot_new(const uint8_t entity_id[NM_ENTITY_ID_LEN],
				    const struct nm_causal_link *head, const void *state,
				    uint32_t state_len, const void *bindings, uint32_t bindings_len)
{
	if (!entity_id || !head || (!state && state_len > 0) || (!bindings && bindings_len > 0))
		return NULL;

	struct nm_snapshot *s = snapshot_alloc(state_len, bindings_len);
	if (!s)
		return NULL;
	s->version = NM_SNAPSHOT_VERSION;
	memcpy(s->entity_id, entity_id, NM_ENTITY_ID_LEN);
	s->through_seq = head->sequence;
	s->chain_link = *head;
	s->created_at = realtime_ns();
	if (state_len > 0)
		memcpy(s->state, state, state_len);
	if (bindings_len > 0)
		memcpy(s->bindings, bindings, bindings_len);
	return s;
}

struct nm_snapshot *nm_snapshot_dup(const struct nm_snapshot *s)
{
	if (!s || (!s->state && s->state_len > 0) || (!s->bindings && s->bindings_len > 0))
		return NULL;

	struct nm_snapshot *d = snapshot_alloc(s->state_len, s->bindings_len);
	if (!d)
		return NULL;
	uint8_t *state = d->state, *bindings = d->bindings;
	*d = *s;
	d->state = state;
	d->bindings = bindings;
	if (s->state_len > 0)
		memcpy(d->state, s->state, s->state_len);
	if (s->bindings_len > 0)
		memcpy(d->bindings, s->bindings, s->bindings_len);
	return d;
}

void nm_snapshot_free(struct nm_snapshot *s)
{
	free(s);
}

size_t nm_snapshot_wire_size(const struct nm_snapshot *s)
{
	if (!s)
		return 0;
	return NM_SNAPSHOT_MIN_SIZE + (size_t)s->state_len + (size_t)s->bindings_len +
	       (s->has_envelope ? NM_IDENTITY_ENVELOPE_SIZE : 0);
}

int nm_snapshot_encode(const struct nm_snapshot *s, uint8_t *buf, size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!s || (!buf && cap > 0) || (!s->state && s->state_len > 0) ||
	    (!s->bindings && s->bindings_len > 0))
		return -EINVAL;

	size_t need = nm_snapshot_wire_size(s);
	if (cap < need)
		return -ENOSPC;

	/* Always the version-2 layout: the only one this codec speaks. */
	uint8_t *p = buf;
	memcpy(p, NM_SNAPSHOT_MAGIC, MAGIC_LEN);
	p[OFF_VERSION] = NM_SNAPSHOT_VERSION;
	memcpy(p + OFF_ENTITY, s->entity_id, NM_ENTITY_ID_LEN);
	nm_put_le64(p + OFF_THROUGH, s->through_seq);
	nm_link_to_bytes(&s->chain_link, p + OFF_LINK);
	nm_put_le64(p + OFF_CREATED, s->created_at);
	nm_put_le32(p + OFF_STATE_LEN, s->state_len);
	p += OFF_STATE;
	if (s->state_len > 0)
		memcpy(p, s->state, s->state_len);
	p += s->state_len;
	nm_put_le32(p, s->bindings_len);
	p += 4;
	if (s->bindings_len > 0)
		memcpy(p, s->bindings, s->bindings_len);
	p += s->bindings_len;
	*p++ = s->has_envelope ? 1 : 0;
	if (s->has_envelope) {
		memcpy(p, s->envelope, NM_IDENTITY_ENVELOPE_SIZE);
		p += NM_IDENTITY_ENVELOPE_SIZE;
	}

	if (written)
		*written = (size_t)(p - buf);
	return 0;
}

/* Bounds-checked reader: each take names the field it reads, for the error. */
struct reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
	struct nm_error *err;
};

static const uint8_t *take(struct reader *r, size_t n, const char *field, int *rc)
{
	if (n > r->len - r->off) {
		*rc = nm_error_set(r->err, NM_EMALFORMED,
				   "snapshot: truncated reading %s (need %zu bytes at offset %zu, "
				   "have %zu)",
				   field, n, r->off, r->len - r->off);
		return NULL;
	}
	const uint8_t *p = r->buf + r->off;
	r->off += n;
	return p;
}

/* Wire view of a snapshot: fields decoded, payloads still pointing into buf. */
struct wire {
	const uint8_t *entity_id;
	uint64_t through_seq;
	struct nm_causal_link link;
	uint64_t created_at;
	const uint8_t *state;
	uint32_t state_len;
	const uint8_t *bindings;
	uint32_t bindings_len;
	const uint8_t *envelope; /* NULL when absent */
};

static int parse_header(struct reader *r, struct wire *w)
{
	const uint8_t *p;
	int rc = 0;

	if (!(p = take(r, MAGIC_LEN, "magic", &rc)))
		return rc;
	if (memcmp(p, NM_SNAPSHOT_MAGIC, MAGIC_LEN) != 0)
		return nm_error_set(r->err, NM_EMALFORMED, "snapshot: bad magic (want \"CDS1\")");
	if (!(p = take(r, 1, "version", &rc)))
		return rc;
	if (*p != NM_SNAPSHOT_VERSION)
		return nm_error_set(r->err, NM_EMALFORMED,
				    "snapshot: unsupported version %u (want %u)", *p,
				    NM_SNAPSHOT_VERSION);
	if (!(w->entity_id = take(r, NM_ENTITY_ID_LEN, "entity_id", &rc)))
		return rc;
	if (!(p = take(r, 8, "through_seq", &rc)))
		return rc;
	w->through_seq = nm_get_le64(p);
	if (!(p = take(r, NM_CAUSAL_LINK_SIZE, "chain_link", &rc)))
		return rc;
	nm_link_from_bytes(&w->link, p, NM_CAUSAL_LINK_SIZE);
	if (!(p = take(r, 8, "created_at", &rc)))
		return rc;
	w->created_at = nm_get_le64(p);
	return 0;
}

static int parse_body(struct reader *r, struct wire *w)
{
	const uint8_t *p;
	int rc = 0;

	if (!(p = take(r, 4, "state_len", &rc)))
		return rc;
	w->state_len = nm_get_le32(p);
	if (!(w->state = take(r, w->state_len, "state", &rc)))
		return rc;
	if (!(p = take(r, 4, "bindings_len", &rc)))
		return rc;
	w->bindings_len = nm_get_le32(p);
	if (!(w->bindings = take(r, w->bindings_len, "bindings", &rc)))
		return rc;
	if (!(p = take(r, 1, "envelope flag", &rc)))
		return rc;
	if (*p > 1)
		return nm_error_set(r->err, NM_EMALFORMED, "snapshot: bad envelope flag %u",
				    *p);
	w->envelope = NULL;
	if (*p == 1) {
		if (!(w->envelope = take(r, NM_IDENTITY_ENVELOPE_SIZE, "identity envelope", &rc)))
			return rc;
		if (w->envelope[0] != NM_IDENTITY_ENVELOPE_VERSION)
			return nm_error_set(r->err, NM_EMALFORMED,
					    "snapshot: unsupported identity envelope version %u "
					    "(want %u)",
					    w->envelope[0], NM_IDENTITY_ENVELOPE_VERSION);
	}
	if (r->off != r->len)
		return nm_error_set(r->err, NM_EMALFORMED, "snapshot: trailing bytes (%zu)",
				    r->len - r->off);
	return 0;
}

/* The two cross-field rules upstream's from_bytes enforces. */
static int check_consistency(const struct wire *w, struct nm_error *err)
{
	if (w->link.sequence != w->through_seq)
		return nm_error_set(err, NM_EMALFORMED,
				    "snapshot: chain_link.sequence %" PRIu64
				    " does not match through_seq %" PRIu64,
				    w->link.sequence, w->through_seq);
	uint64_t origin = nm_origin_hash_of(w->entity_id);
	if (w->link.origin_hash != origin)
		return nm_error_set(err, NM_EMALFORMED,
				    "snapshot: chain_link.origin_hash 0x%" PRIx64
				    " does not match entity_id's origin_hash 0x%" PRIx64,
				    w->link.origin_hash, origin);
	return 0;
}

int nm_snapshot_decode(const void *buf, size_t len, struct nm_snapshot **out,
		       struct nm_error *err)
{
	struct reader r = { buf, len, 0, err };
	struct wire w;
	int rc;

	if (!out)
		return nm_error_set(err, -EINVAL, "snapshot: NULL output");
	*out = NULL;
	if (!buf && len > 0)
		return nm_error_set(err, -EINVAL, "snapshot: NULL buffer");

	if ((rc = parse_header(&r, &w)) < 0 || (rc = parse_body(&r, &w)) < 0 ||
	    (rc = check_consistency(&w, err)) < 0)
		return rc;

	struct nm_snapshot *s = snapshot_alloc(w.state_len, w.bindings_len);
	if (!s)
		return nm_error_set(err, -ENOMEM, "snapshot: out of memory");
	s->version = NM_SNAPSHOT_VERSION;
	memcpy(s->entity_id, w.entity_id, NM_ENTITY_ID_LEN);
	s->through_seq = w.through_seq;
	s->chain_link = w.link;
	s->created_at = w.created_at;
	if (w.state_len > 0)
		memcpy(s->state, w.state, w.state_len);
	if (w.bindings_len > 0)
		memcpy(s->bindings, w.bindings, w.bindings_len);
	if (w.envelope) {
		s->has_envelope = true;
		memcpy(s->envelope, w.envelope, NM_IDENTITY_ENVELOPE_SIZE);
	}
	*out = s;
	return 0;
}

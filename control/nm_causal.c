/* SPDX-License-Identifier: MIT */
/* nm_causal.c - causal links, parent hashes, chains, validation and framing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "nm_causal.h"
#include "nm_chain.h"
#include "nm_le.h"

/* Payloads up to this size are hashed in one shot from a stack copy; larger
 * ones stream, so no payload is ever copied to the heap. */
#define PARENT_ONESHOT_MAX 224

void nm_link_to_bytes(const struct nm_causal_link *l, uint8_t out[NM_CAUSAL_LINK_SIZE])
{
	if (!l || !out)
		return;
	nm_link_encode(out, l);
}

int nm_link_from_bytes(struct nm_causal_link *l, const void *buf, size_t len)
{
	if (!l || !buf || len < NM_CAUSAL_LINK_SIZE)
		return -EINVAL;
	nm_link_decode(l, buf);
	return 0;
}

/* NULL prev, or NULL payload with len > 0, hashes to 0 (the call cannot fail). */
uint64_t nm_parent_hash(const struct nm_causal_link *prev, const void *payload, size_t len)
{
	if (!prev || (!payload && len > 0))
		return 0;

	if (len <= PARENT_ONESHOT_MAX) {
		uint8_t buf[NM_CAUSAL_LINK_SIZE + PARENT_ONESHOT_MAX];
		nm_link_to_bytes(prev, buf);
		if (len > 0)
			memcpy(buf + NM_CAUSAL_LINK_SIZE, payload, len);
		return XXH3_64bits(buf, NM_CAUSAL_LINK_SIZE + len);
	}

	uint8_t lb[NM_CAUSAL_LINK_SIZE];
	XXH3_state_t st;
	nm_link_to_bytes(prev, lb);
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, lb, sizeof(lb));
	XXH3_64bits_update(&st, payload, len);
	return XXH3_64bits_digest(&st);
}

int nm_link_next(const struct nm_causal_link *cur, const void *payload, size_t len,
		 uint64_t horizon, struct nm_causal_link *next)
{
	if (!cur || !next || (!payload && len > 0))
		return -EINVAL;
	if (cur->sequence == UINT64_MAX)
		return -EOVERFLOW;

	struct nm_causal_link n = {
		.origin_hash = cur->origin_hash,
		.horizon_encoded = horizon,
		.sequence = cur->sequence + 1,
		.parent_hash = nm_parent_hash(cur, payload, len),
	};
	*next = n;
	return 0;
}

void nm_chain_init(struct nm_chain *c, uint64_t origin)
{
	if (!c)
		return;
	c->head = nm_link_genesis(origin, 0);
	c->next_parent = nm_parent_hash(&c->head, NULL, 0); /* genesis payload is empty */
}

/* Bad arguments leave *c untouched: the call has no way to report them. */
void nm_chain_from_head(struct nm_chain *c, const struct nm_causal_link *head,
			const void *head_payload, size_t len)
{
	if (!c || !head || (!head_payload && len > 0))
		return;
	c->head = *head;
	c->next_parent = nm_parent_hash(head, head_payload, len);
}

int nm_chain_append(struct nm_chain *c, const void *payload, size_t len, uint64_t horizon,
		    struct nm_causal_link *out)
{
	if (!c || !out || (!payload && len > 0))
		return -EINVAL;
	struct nm_causal_link n;
	if (nm_chain_next(c, horizon, &n) < 0)
		return -EOVERFLOW;
	/* Hash now, while the payload is in hand; the chain never keeps it. */
	c->next_parent = nm_parent_hash(&n, payload, len);
	c->head = n;
	*out = n;
	return 0;
}

int nm_chain_append_framed(struct nm_chain *c, uint8_t *frame, uint32_t len, uint64_t horizon,
			   struct nm_causal_link *out)
{
	if (!c || !out || !frame || len > UINT32_MAX - NM_CAUSAL_LINK_SIZE)
		return -EINVAL;
	if (nm_chain_frame(c, frame, len, horizon) < 0)
		return -EOVERFLOW;
	*out = c->head;
	return 0;
}

static enum nm_chain_verdict verdict(struct nm_chain_error *e, enum nm_chain_verdict v,
				     uint64_t expected, uint64_t got)
{
	if (e) {
		e->kind = v;
		e->expected = expected;
		e->got = got;
	}
	return v;
}

enum nm_chain_verdict nm_chain_validate(const struct nm_causal_link *prev, const void *prev_payload,
					size_t prev_len, const struct nm_causal_link *next,
					struct nm_chain_error *e)
{
	if (!prev || !next || (!prev_payload && prev_len > 0))
		return verdict(e, NM_CHAIN_BAD_ARGUMENT, 0, 0);

	if (next->origin_hash != prev->origin_hash)
		return verdict(e, NM_CHAIN_ORIGIN_MISMATCH, prev->origin_hash, next->origin_hash);

	/* Upstream: checked_add(1) failing reports expected = u64::MAX. */
	if (prev->sequence == UINT64_MAX)
		return verdict(e, NM_CHAIN_SEQUENCE_GAP, UINT64_MAX, next->sequence);
	if (next->sequence != prev->sequence + 1)
		return verdict(e, NM_CHAIN_SEQUENCE_GAP, prev->sequence + 1, next->sequence);

	uint64_t want = nm_parent_hash(prev, prev_payload, prev_len);
	if (next->parent_hash != want)
		return verdict(e, NM_CHAIN_PARENT_MISMATCH, want, next->parent_hash);

	return verdict(e, NM_CHAIN_OK, 0, 0);
}

int nm_chain_error_format(const struct nm_chain_error *e, char *buf, size_t len)
{
	if (!e || (!buf && len > 0))
		return -EINVAL;

	/* Rust {:#x} is "0x" + lowercase hex without padding; C's %#x drops the 0x for 0. */
	switch (e->kind) {
	case NM_CHAIN_OK:
		return snprintf(buf, len, "ok");
	case NM_CHAIN_ORIGIN_MISMATCH:
		return snprintf(buf, len, "origin mismatch: expected 0x%" PRIx64 ", got 0x%" PRIx64,
				e->expected, e->got);
	case NM_CHAIN_SEQUENCE_GAP:
		return snprintf(buf, len, "sequence gap: expected %" PRIu64 ", got %" PRIu64,
				e->expected, e->got);
	case NM_CHAIN_PARENT_MISMATCH:
		return snprintf(buf, len,
				"parent hash mismatch: expected 0x%" PRIx64 ", got 0x%" PRIx64,
				e->expected, e->got);
	case NM_CHAIN_BAD_ARGUMENT:
		return snprintf(buf, len, "invalid argument");
	}
	return -EINVAL;
}

int nm_causal_write(uint8_t *buf, size_t cap, const struct nm_event *evs, uint32_t n,
		    struct nm_frame_stats *st)
{
	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	if ((!buf && cap > 0) || (!evs && n > 0))
		return -EINVAL;

	for (uint32_t i = 0; i < n; i++) {
		const struct nm_event *ev = &evs[i];

		if (ev->len > UINT32_MAX - NM_CAUSAL_LINK_SIZE) {
			st->events_skipped++; /* total_len would not fit the u32 header */
			continue;
		}
		if (!ev->payload && ev->len > 0)
			return -EINVAL;

		size_t need = nm_causal_frame_size(ev->len);
		if (need > cap - st->bytes_written)
			break;

		uint8_t *p = buf + st->bytes_written;
		nm_put_le32(p, NM_CAUSAL_LINK_SIZE + ev->len);
		nm_link_to_bytes(&ev->link, p + NM_CAUSAL_FRAME_HDR);
		if (ev->len > 0)
			memcpy(p + NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE, ev->payload, ev->len);
		st->bytes_written += need;
		st->events_written++;
	}
	return 0;
}

uint32_t nm_causal_read(const uint8_t *buf, size_t len, uint32_t count, struct nm_event *out,
			uint32_t max, uint64_t now_ns, size_t *consumed)
{
	uint32_t n = 0;

	if (consumed)
		*consumed = 0;
	if ((!buf && len > 0) || !out || len == 0)
		return 0;

	const uint8_t *p = buf;
	const uint8_t *const end = buf + len;
	const uint32_t limit = count < max ? count : max;
	while (n < limit && nm_causal_frame_next(&p, end, &out[n])) {
		out[n].received_at = now_ns;
		n++;
	}
	if (consumed)
		*consumed = (size_t)(p - buf);
	return n;
}

/* SPDX-License-Identifier: MIT */
/* nm_migwire.c - the 0x0500 codec, chunking and reassembler (see nm_migwire.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_identity.h"
#include "nm_le.h"
#include "nm_migwire.h"
#include "nm_snapshot.h"
#include "nm_u64map.h"

/* ------------------------------------------------------------ names */

const char *nm_mig_type_name(uint8_t type)
{
	static const char *const names[] = {
		"TakeSnapshot",   "SnapshotReady",   "RestoreComplete", "ReplayComplete",
		"CutoverNotify",  "CleanupComplete", "MigrationFailed", "BufferedEvents",
		"ActivateTarget", "ActivateAck",
	};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	switch (type) {
	case NM_MIG_MOVED:
		return "Moved";
	case NM_MIG_QUERY:
		return "MigrationQuery";
	case NM_MIG_STATUS:
		return "MigrationStatus";
	case NM_MIG_PREPARE:
		return "MigrationPrepare";
	case NM_MIG_PREPARED:
		return "MigrationPrepared";
	default:
		return NULL;
	}
}

const char *nm_mig_phase_name(enum nm_mig_phase p)
{
	switch (p) {
	case NM_MIG_PHASE_SNAPSHOT:
		return "Snapshot";
	case NM_MIG_PHASE_TRANSFER:
		return "Transfer";
	case NM_MIG_PHASE_RESTORE:
		return "Restore";
	case NM_MIG_PHASE_REPLAY:
		return "Replay";
	case NM_MIG_PHASE_CUTOVER:
		return "Cutover";
	case NM_MIG_PHASE_COMPLETE:
		return "Complete";
	case NM_MIG_PHASE_NONE:
		return "None";
	}
	return "?";
}

/* ------------------------------------------------------------ MigrationError */

/* Rust's {:#x}: lower-case hex with a 0x prefix, "0x0" for zero (printf's
 * "%#x" would print a bare "0"). */
#define HEX "0x%" PRIx64

static int state_failedv(struct nm_error *err, const char *fmt, va_list ap)
{
	if (!err)
		return NM_EMIG_STATE_FAILED;
	char detail[NM_ERROR_MSG_MAX];
	vsnprintf(detail, sizeof(detail), fmt, ap);
	return nm_error_set(err, NM_EMIG_STATE_FAILED, "state operation failed: %s", detail);
}

int nm_mig_err_state_failed(struct nm_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = state_failedv(err, fmt, ap);
	va_end(ap);
	return rc;
}

static int set_origin(struct nm_error *err, int code, uint64_t origin)
{
	if (err)
		err->origin = origin;
	return code;
}

int nm_mig_err_daemon_not_found(struct nm_error *err, uint64_t origin)
{
	nm_error_set(err, NM_EMIG_DAEMON_NOT_FOUND, "daemon " HEX " not found", origin);
	return set_origin(err, NM_EMIG_DAEMON_NOT_FOUND, origin);
}

int nm_mig_err_target_unavailable(struct nm_error *err, uint64_t node)
{
	nm_error_set(err, NM_EMIG_TARGET_UNAVAILABLE, "target node " HEX " unavailable", node);
	return set_origin(err, NM_EMIG_TARGET_UNAVAILABLE, node);
}

int nm_mig_err_no_target(struct nm_error *err)
{
	return nm_error_set(err, NM_EMIG_NO_TARGET,
			    "no candidate node satisfies the daemon's capability requirements");
}

int nm_mig_err_already_migrating(struct nm_error *err, uint64_t origin)
{
	nm_error_set(err, NM_EMIG_ALREADY_MIGRATING, "daemon " HEX " already migrating", origin);
	return set_origin(err, NM_EMIG_ALREADY_MIGRATING, origin);
}

int nm_mig_err_wrong_phase(struct nm_error *err, enum nm_mig_phase expected, enum nm_mig_phase got)
{
	return nm_error_set(err, NM_EMIG_WRONG_PHASE, "wrong migration phase: expected %s, got %s",
			    nm_mig_phase_name(expected), nm_mig_phase_name(got));
}

int nm_mig_err_snapshot_too_large(struct nm_error *err, uint64_t size, uint64_t max)
{
	return nm_error_set(err, NM_EMIG_SNAPSHOT_TOO_LARGE,
			    "snapshot too large: %" PRIu64 " bytes exceeds max %" PRIu64 " bytes",
			    size, max);
}

int nm_mig_err_buffer_full(struct nm_error *err, uint64_t events, uint64_t bytes)
{
	return nm_error_set(err, NM_EMIG_BUFFER_FULL,
			    "migration buffer full: %" PRIu64 " events / %" PRIu64 " bytes", events,
			    bytes);
}

int nm_mig_err_wrong_peer(struct nm_error *err, uint64_t daemon_origin, uint64_t from,
			  uint64_t expected)
{
	nm_error_set(err, NM_EMIG_WRONG_PEER,
		     "migration " HEX ": peer " HEX " not the recorded principal " HEX,
		     daemon_origin, from, expected);
	return set_origin(err, NM_EMIG_WRONG_PEER, daemon_origin);
}

/* ------------------------------------------------------------ failure reasons */

bool nm_mig_reason_is_retriable(const struct nm_mig_reason *r)
{
	return r && r->code == NM_MIG_FAIL_NOT_READY;
}

const char *nm_mig_reason_name(uint16_t code)
{
	static const char *const names[] = {
		"NotReady",         "FactoryNotFound",         "ComputeNotSupported", "StateFailed",
		"AlreadyMigrating", "IdentityTransportFailed", "NotReadyTimeout",
	};
	return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}

static int msg_int_len(size_t n)
{
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int nm_mig_reason_display(const struct nm_mig_reason *r, char *buf, size_t cap)
{
	const char *m = r->msg ? r->msg : "";
	int ml = r->msg ? msg_int_len(r->msg_len) : 0;
	switch (r->code) {
	case NM_MIG_FAIL_NOT_READY:
		return snprintf(buf, cap, "target runtime not ready yet");
	case NM_MIG_FAIL_FACTORY_NOT_FOUND:
		return snprintf(buf, cap, "no factory registered on target for this daemon");
	case NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED:
		return snprintf(buf, cap, "target does not run a compute runtime");
	case NM_MIG_FAIL_STATE_FAILED:
		return snprintf(buf, cap, "state failed: %.*s", ml, m);
	case NM_MIG_FAIL_ALREADY_MIGRATING:
		return snprintf(buf, cap, "daemon is already migrating");
	case NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED:
		return snprintf(buf, cap, "identity envelope transport failed: %.*s", ml, m);
	case NM_MIG_FAIL_NOT_READY_TIMEOUT:
		return snprintf(buf, cap, "source gave up after %u NotReady retries",
				(unsigned)r->attempts);
	default:
		return snprintf(buf, cap, "unknown failure code %u", (unsigned)r->code);
	}
}

static bool reason_has_msg(uint16_t code)
{
	return code == NM_MIG_FAIL_STATE_FAILED || code == NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED;
}

/* ------------------------------------------------------------ UTF-8 (Rust's rules) */

/*
 * Validate like core::str::from_utf8 and describe a failure with Rust's
 * Utf8Error Display: "invalid utf-8 sequence of N bytes from index I" (N is
 * the length of the bad prefix, 1..3) or "incomplete utf-8 byte sequence
 * from index I" (the input ended inside a sequence).
 */
static bool utf8_check(const uint8_t *s, size_t n, char *why, size_t cap)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* Width and the allowed range of the second byte. */
		size_t w;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			w = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			w = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			w = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			snprintf(why, cap, "invalid utf-8 sequence of 1 bytes from index %zu", i);
			return false;
		}
		for (size_t k = 1; k < w; k++) {
			if (i + k >= n) {
				snprintf(why, cap, "incomplete utf-8 byte sequence from index %zu",
					 i);
				return false;
			}
			uint8_t b = s[i + k];
			bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
			if (!ok) {
				snprintf(why, cap,
					 "invalid utf-8 sequence of %zu bytes from index %zu", k,
					 i);
				return false;
			}
		}
		i += w;
	}
	return true;
}

/* ------------------------------------------------------------ sizes */

static size_t reason_payload_size(const struct nm_mig_reason *r)
{
	if (reason_has_msg(r->code))
		return 2 + r->msg_len;
	return r->code == NM_MIG_FAIL_NOT_READY_TIMEOUT ? 1 : 0;
}

/* Body size, or a negative code with upstream's encode error. */
static int body_size(const struct nm_mig_msg *m, size_t *size, struct nm_error *err)
{
	switch (m->type) {
	case NM_MIG_TAKE_SNAPSHOT:
	case NM_MIG_RESTORE_COMPLETE:
	case NM_MIG_CUTOVER_NOTIFY:
	case NM_MIG_ACTIVATE_ACK:
		*size = 17;
		return 0;
	case NM_MIG_CLEANUP_COMPLETE:
	case NM_MIG_ACTIVATE_TARGET:
		*size = 9;
		return 0;
	case NM_MIG_REPLAY_COMPLETE:
		*size = 49;
		return 0;
	case NM_MIG_SNAPSHOT_READY: {
		const struct nm_mig_snapshot_ready *s = &m->snapshot_ready;
		if (s->len > UINT32_MAX)
			return nm_mig_err_state_failed(
			    err, "snapshot_bytes length %zu exceeds u32::MAX", s->len);
		if (s->len && !s->bytes)
			return nm_error_set(err, -EINVAL, "SnapshotReady: NULL bytes");
		*size = NM_MIG_SNAPSHOT_READY_HDR + s->len;
		return 0;
	}
	case NM_MIG_FAILED: {
		const struct nm_mig_reason *r = &m->failed;
		if (reason_has_msg(r->code)) {
			if (r->msg_len > UINT16_MAX)
				return nm_mig_err_state_failed(
				    err, "failure reason message length %zu exceeds u16::MAX",
				    r->msg_len);
			if (r->msg_len && !r->msg)
				return nm_error_set(err, -EINVAL, "MigrationFailed: NULL message");
		}
		*size = NM_MIG_FAILED_HDR + reason_payload_size(r);
		return 0;
	}
	case NM_MIG_BUFFERED_EVENTS: {
		const struct nm_mig_buffered *b = &m->buffered;
		if (b->count > UINT32_MAX)
			return nm_mig_err_state_failed(err, "events length %zu exceeds u32::MAX",
						       b->count);
		if (b->count && !b->events)
			return nm_error_set(err, -EINVAL, "BufferedEvents: NULL events");
		size_t n = NM_MIG_BUFFERED_EVENTS_HDR;
		for (size_t i = 0; i < b->count; i++) {
			if (b->events[i].len && !b->events[i].payload)
				return nm_error_set(err, -EINVAL, "BufferedEvents: NULL payload");
			n += NM_MIG_EVENT_MIN_WIRE + b->events[i].len;
		}
		*size = n;
		return 0;
	}
	case NM_MIG_MOVED:
		*size = NM_MIG_MOVED_SIZE;
		return 0;
	case NM_MIG_QUERY:
		*size = NM_MIG_QUERY_SIZE;
		return 0;
	case NM_MIG_STATUS:
		*size = NM_MIG_STATUS_SIZE;
		return 0;
	case NM_MIG_PREPARE:
		*size = NM_MIG_PREPARE_SIZE;
		return 0;
	case NM_MIG_PREPARED:
		*size = NM_MIG_PREPARED_SIZE;
		return 0;
	default:
		return nm_error_set(err, -EINVAL, "unknown message type: %u", (unsigned)m->type);
	}
}

/* ------------------------------------------------------------ trailer */

#define KNOWN_TLV_MASK 0xfeu /* bits 1..7 */

static bool tlv_is_known(uint8_t t)
{
	return t >= NM_MIG_TLV_MSEQ && t <= NM_MIG_TLV_KIND;
}

/* Fixed value length of a known TLV, 0 for the variable ones. */
static uint16_t tlv_fixed_len(uint8_t t)
{
	switch (t) {
	case NM_MIG_TLV_MSEQ:
	case NM_MIG_TLV_FINAL_THROUGH:
	case NM_MIG_TLV_EVENTS_ACK:
	case NM_MIG_TLV_NEXT_PARENT:
		return 8;
	case NM_MIG_TLV_FLAGS:
		return 4;
	default:
		return 0;
	}
}

static const uint64_t *u64_field(const struct nm_mig_ext *e, uint8_t t)
{
	switch (t) {
	case NM_MIG_TLV_MSEQ:
		return &e->mseq;
	case NM_MIG_TLV_FINAL_THROUGH:
		return &e->final_through;
	case NM_MIG_TLV_EVENTS_ACK:
		return &e->events_ack;
	case NM_MIG_TLV_NEXT_PARENT:
		return &e->next_parent;
	default:
		return NULL;
	}
}

uint64_t nm_mig_ext_sender(const struct nm_mig_ext *e, uint32_t i)
{
	if (!e || !e->senders || i >= e->nsenders)
		return 0;
	return nm_get_le64(e->senders + 8 * (size_t)i);
}

/* Value length of known TLV t as it will be encoded; SIZE_MAX if invalid. */
static size_t known_len(const struct nm_mig_ext *e, uint8_t t)
{
	switch (t) {
	case NM_MIG_TLV_SENDERS:
		if ((size_t)e->nsenders * 8 > UINT16_MAX || (e->nsenders && !e->senders))
			return SIZE_MAX;
		return (size_t)e->nsenders * 8;
	case NM_MIG_TLV_KIND:
		if (e->kind_len == 0 || e->kind_len > NM_KIND_MAX || !e->kind)
			return SIZE_MAX;
		return e->kind_len;
	default:
		return tlv_fixed_len(t);
	}
}

size_t nm_mig_ext_size(const struct nm_mig_ext *e)
{
	if (!e || ((e->present & KNOWN_TLV_MASK) == 0 && e->nextra == 0))
		return 0;
	size_t n = NM_MIG_TRAILER_MAGIC_LEN;
	for (uint8_t t = NM_MIG_TLV_MSEQ; t <= NM_MIG_TLV_KIND; t++) {
		if (!NM_MIG_EXT_HAS(e, t))
			continue;
		size_t l = known_len(e, t);
		if (l == SIZE_MAX)
			return SIZE_MAX;
		n += NM_MIG_TLV_HDR + l;
	}
	if (e->nextra && !e->extra)
		return SIZE_MAX;
	for (size_t i = 0; i < e->nextra; i++) {
		const struct nm_mig_tlv *x = &e->extra[i];
		/* A known type here would be read back as a duplicate. */
		if (tlv_is_known(x->type) || (x->len && !x->val))
			return SIZE_MAX;
		n += NM_MIG_TLV_HDR + x->len;
	}
	return n;
}

static uint8_t *put_tlv_hdr(uint8_t *p, uint8_t type, size_t len)
{
	p[0] = type;
	nm_put_le16(p + 1, (uint16_t)len);
	return p + NM_MIG_TLV_HDR;
}

int nm_mig_ext_encode(const struct nm_mig_ext *e, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = nm_mig_ext_size(e);
	if (n == SIZE_MAX)
		return -EINVAL;
	if (n > cap)
		return -ENOSPC;
	*len = n;
	if (n == 0)
		return 0;
	uint8_t *p = buf;
	memcpy(p, NM_MIG_TRAILER_MAGIC, NM_MIG_TRAILER_MAGIC_LEN);
	p += NM_MIG_TRAILER_MAGIC_LEN;
	for (uint8_t t = NM_MIG_TLV_MSEQ; t <= NM_MIG_TLV_KIND; t++) {
		if (!NM_MIG_EXT_HAS(e, t))
			continue;
		size_t l = known_len(e, t);
		p = put_tlv_hdr(p, t, l);
		const uint64_t *v = u64_field(e, t);
		if (v)
			nm_put_le64(p, *v);
		else if (t == NM_MIG_TLV_FLAGS)
			nm_put_le32(p, e->flags);
		else if (t == NM_MIG_TLV_SENDERS && l)
			memcpy(p, e->senders, l);
		else if (t == NM_MIG_TLV_KIND)
			memcpy(p, e->kind, l);
		p += l;
	}
	for (size_t i = 0; i < e->nextra; i++) {
		const struct nm_mig_tlv *x = &e->extra[i];
		p = put_tlv_hdr(p, x->type, x->len);
		if (x->len)
			memcpy(p, x->val, x->len);
		p += x->len;
	}
	return 0;
}

void nm_mig_tlv_iter_init(struct nm_mig_tlv_iter *it, const struct nm_mig_ext *e)
{
	it->p = it->end = NULL;
	if (e && e->trailer && e->trailer_len >= NM_MIG_TRAILER_MAGIC_LEN) {
		it->p = e->trailer + NM_MIG_TRAILER_MAGIC_LEN;
		it->end = e->trailer + e->trailer_len;
	}
}

bool nm_mig_tlv_next(struct nm_mig_tlv_iter *it, struct nm_mig_tlv *t)
{
	if (!it->p || (size_t)(it->end - it->p) < NM_MIG_TLV_HDR)
		return false;
	uint16_t l = nm_get_le16(it->p + 1);
	if ((size_t)(it->end - it->p) - NM_MIG_TLV_HDR < l)
		return false;
	t->type = it->p[0];
	t->len = l;
	t->val = it->p + NM_MIG_TLV_HDR;
	it->p += NM_MIG_TLV_HDR + l;
	return true;
}

/* Take one known TLV into e; false if its length is wrong. */
static bool take_known(struct nm_mig_ext *e, const struct nm_mig_tlv *t, const struct nm_mig_msg *m)
{
	uint16_t fixed = tlv_fixed_len(t->type);
	if (fixed && t->len != fixed)
		return false;
	uint64_t *v = (uint64_t *)u64_field(e, t->type);
	if (v) {
		*v = nm_get_le64(t->val);
	} else if (t->type == NM_MIG_TLV_FLAGS) {
		e->flags = nm_get_le32(t->val);
	} else if (t->type == NM_MIG_TLV_SENDERS) {
		if (t->len % 8)
			return false;
		if (m->type == NM_MIG_BUFFERED_EVENTS && t->len / 8 != m->buffered.count)
			return false;
		e->senders = t->val;
		e->nsenders = t->len / 8;
	} else if (t->type == NM_MIG_TLV_KIND) {
		if (t->len == 0 || t->len > NM_KIND_MAX)
			return false;
		e->kind = (const char *)t->val;
		e->kind_len = t->len;
	}
	return true;
}

/* Parse the bytes after the body; all or nothing. */
static void parse_trailer(const uint8_t *p, size_t n, const struct nm_mig_msg *m,
			  struct nm_mig_ext *e)
{
	memset(e, 0, sizeof(*e));
	if (n == 0)
		return;
	struct nm_mig_ext t = { 0 };
	if (n < NM_MIG_TRAILER_MAGIC_LEN ||
	    memcmp(p, NM_MIG_TRAILER_MAGIC, NM_MIG_TRAILER_MAGIC_LEN))
		goto bad;
	t.trailer = p;
	t.trailer_len = n;
	struct nm_mig_tlv_iter it;
	nm_mig_tlv_iter_init(&it, &t);
	struct nm_mig_tlv tlv;
	while (nm_mig_tlv_next(&it, &tlv)) {
		if (!tlv_is_known(tlv.type)) {
			t.unknown++;
			continue;
		}
		if (NM_MIG_EXT_HAS(&t, tlv.type) || !take_known(&t, &tlv, m))
			goto bad;
		nm_mig_ext_set(&t, (enum nm_mig_tlv_type)tlv.type);
	}
	if (it.p != it.end) /* a TLV ran past the end */
		goto bad;
	*e = t;
	return;
bad:
	e->malformed = true;
}

/* ------------------------------------------------------------ encode */

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	nm_put_le64(p, v);
	return p + 8;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	nm_put_le32(p, v);
	return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

static uint8_t *put_event(uint8_t *p, const struct nm_event *ev)
{
	nm_link_to_bytes(&ev->link, p);
	p = put32(p + NM_CAUSAL_LINK_SIZE, ev->len);
	p = put_bytes(p, ev->payload, ev->len);
	return put64(p, ev->received_at);
}

static uint8_t *put_reason(uint8_t *p, const struct nm_mig_reason *r)
{
	nm_put_le16(p, r->code);
	p += 2;
	if (reason_has_msg(r->code)) {
		nm_put_le16(p, (uint16_t)r->msg_len);
		p = put_bytes(p + 2, r->msg, r->msg_len);
	} else if (r->code == NM_MIG_FAIL_NOT_READY_TIMEOUT) {
		*p++ = r->attempts;
	}
	return p;
}

/* The fields after daemon_origin; sizes were checked by body_size. */
static uint8_t *put_body(const struct nm_mig_msg *m, uint8_t *p)
{
	switch (m->type) {
	case NM_MIG_TAKE_SNAPSHOT:
		return put64(p, m->take_snapshot.target_node);
	case NM_MIG_SNAPSHOT_READY: {
		const struct nm_mig_snapshot_ready *s = &m->snapshot_ready;
		p = put64(p, s->seq_through);
		p = put32(p, s->chunk_index);
		p = put32(p, s->total_chunks);
		p = put32(p, (uint32_t)s->len);
		return put_bytes(p, s->bytes, s->len);
	}
	case NM_MIG_RESTORE_COMPLETE:
		return put64(p, m->restore_complete.restored_seq);
	case NM_MIG_REPLAY_COMPLETE:
		p = put64(p, m->replay_complete.replayed_seq);
		nm_link_to_bytes(&m->replay_complete.target_head, p);
		return p + NM_CAUSAL_LINK_SIZE;
	case NM_MIG_CUTOVER_NOTIFY:
		return put64(p, m->cutover_notify.target_node);
	case NM_MIG_FAILED:
		return put_reason(p, &m->failed);
	case NM_MIG_BUFFERED_EVENTS:
		p = put32(p, (uint32_t)m->buffered.count);
		for (size_t i = 0; i < m->buffered.count; i++)
			p = put_event(p, &m->buffered.events[i]);
		return p;
	case NM_MIG_ACTIVATE_ACK:
		return put64(p, m->activate_ack.replayed_seq);
	case NM_MIG_MOVED:
		return put64(p, m->moved.new_node);
	case NM_MIG_QUERY:
		return put64(p, m->query.nonce);
	case NM_MIG_PREPARE:
		return put64(p, m->prepare.target_node);
	case NM_MIG_PREPARED:
		return put64(p, m->prepared.mid);
	case NM_MIG_STATUS:
		p = put64(p, m->status.nonce);
		*p++ = m->status.role;
		*p++ = m->status.phase;
		p = put64(p, m->status.seq);
		return put64(p, m->status.node);
	default: /* CleanupComplete, ActivateTarget */
		return p;
	}
}

size_t nm_mig_encoded_size(const struct nm_mig_msg *m)
{
	size_t body = 0, ext;
	if (!m || body_size(m, &body, NULL) < 0)
		return 0;
	ext = nm_mig_ext_size(m->ext);
	return ext == SIZE_MAX ? 0 : body + ext;
}

int nm_mig_encode(const struct nm_mig_msg *m, uint8_t *buf, size_t cap, size_t *len,
		  struct nm_error *err)
{
	if (!m || !buf || !len)
		return nm_error_set(err, -EINVAL, "nm_mig_encode: NULL argument");
	size_t body = 0;
	int rc = body_size(m, &body, err);
	if (rc < 0)
		return rc;
	size_t ext = nm_mig_ext_size(m->ext);
	if (ext == SIZE_MAX)
		return nm_error_set(err, -EINVAL, "unencodable extension trailer");
	if (cap < body || cap - body < ext)
		return nm_error_set(err, -ENOSPC, "%s needs %zu bytes, buffer has %zu",
				    nm_mig_type_name(m->type), body + ext, cap);
	buf[0] = m->type;
	nm_put_le64(buf + 1, m->daemon_origin);
	uint8_t *end = put_body(m, buf + 9);
	size_t tl = 0;
	if (ext)
		nm_mig_ext_encode(m->ext, end, ext, &tl);
	*len = (size_t)(end - buf) + tl;
	return 0;
}

/* ------------------------------------------------------------ BufferedEvents builder */

int nm_mig_events_begin(struct nm_mig_events_builder *b, uint8_t *buf, size_t cap,
			uint64_t daemon_origin)
{
	if (!b || !buf)
		return -EINVAL;
	if (cap < NM_MIG_BUFFERED_EVENTS_HDR)
		return -ENOSPC;
	b->buf = buf;
	b->cap = cap;
	b->len = NM_MIG_BUFFERED_EVENTS_HDR;
	b->count = 0;
	buf[0] = NM_MIG_BUFFERED_EVENTS;
	nm_put_le64(buf + 1, daemon_origin);
	nm_put_le32(buf + 9, 0);
	return 0;
}

int nm_mig_events_add(struct nm_mig_events_builder *b, const struct nm_event *ev)
{
	if (!b || !ev || (ev->len && !ev->payload))
		return -EINVAL;
	if (b->count == UINT32_MAX || b->cap - b->len < NM_MIG_EVENT_MIN_WIRE + (size_t)ev->len)
		return -ENOSPC;
	b->len = (size_t)(put_event(b->buf + b->len, ev) - b->buf);
	b->count++;
	return 0;
}

size_t nm_mig_events_finish(struct nm_mig_events_builder *b)
{
	nm_put_le32(b->buf + 9, b->count);
	return b->len;
}

/* ------------------------------------------------------------ decode */

struct rd {
	const uint8_t *p;
	size_t left;
};

static uint64_t get64(struct rd *r)
{
	uint64_t v = nm_get_le64(r->p);
	r->p += 8;
	r->left -= 8;
	return v;
}

static uint32_t get32(struct rd *r)
{
	uint32_t v = nm_get_le32(r->p);
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint16_t get16(struct rd *r)
{
	uint16_t v = nm_get_le16(r->p);
	r->p += 2;
	r->left -= 2;
	return v;
}

static uint8_t get8(struct rd *r)
{
	r->left--;
	return *r->p++;
}

static int truncated(struct nm_error *err, uint8_t type)
{
	return nm_mig_err_state_failed(err, "truncated %s", nm_mig_type_name(type));
}

/* read_u16_string: u16 length then UTF-8. */
static int get_string(struct rd *r, const char *ctx, const char **s, size_t *n,
		      struct nm_error *err)
{
	if (r->left < 2)
		return nm_mig_err_state_failed(err, "truncated %s length prefix", ctx);
	uint16_t l = get16(r);
	if (r->left < l)
		return nm_mig_err_state_failed(err, "truncated %s body", ctx);
	char why[96];
	if (!utf8_check(r->p, l, why, sizeof(why)))
		return nm_mig_err_state_failed(err, "%s is not valid UTF-8: %s", ctx, why);
	*s = (const char *)r->p;
	*n = l;
	r->p += l;
	r->left -= l;
	return 0;
}

static int decode_reason(struct rd *r, struct nm_mig_reason *out, struct nm_error *err)
{
	memset(out, 0, sizeof(*out));
	out->code = get16(r);
	switch (out->code) {
	case NM_MIG_FAIL_NOT_READY:
	case NM_MIG_FAIL_FACTORY_NOT_FOUND:
	case NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED:
	case NM_MIG_FAIL_ALREADY_MIGRATING:
		return 0;
	case NM_MIG_FAIL_STATE_FAILED:
		return get_string(r, "StateFailed message", &out->msg, &out->msg_len, err);
	case NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED:
		return get_string(r, "IdentityTransportFailed message", &out->msg, &out->msg_len,
				  err);
	case NM_MIG_FAIL_NOT_READY_TIMEOUT:
		if (r->left < 1)
			return nm_mig_err_state_failed(err,
						       "truncated NotReadyTimeout attempts field");
		out->attempts = get8(r);
		return 0;
	default:
		return nm_mig_err_state_failed(err, "unknown MigrationFailureReason code %u",
					       (unsigned)out->code);
	}
}

static int decode_snapshot_ready(struct rd *r, struct nm_mig_snapshot_ready *s,
				 struct nm_error *err)
{
	s->seq_through = get64(r);
	s->chunk_index = get32(r);
	s->total_chunks = get32(r);
	uint32_t len = get32(r);
	if (s->total_chunks == 0)
		return nm_mig_err_state_failed(err, "SnapshotReady: total_chunks must be >= 1");
	if (s->total_chunks > NM_MIG_MAX_TOTAL_CHUNKS)
		return nm_mig_err_state_failed(
		    err, "SnapshotReady: total_chunks %u exceeds MAX_TOTAL_CHUNKS (%u)",
		    s->total_chunks, NM_MIG_MAX_TOTAL_CHUNKS);
	if (s->chunk_index >= s->total_chunks)
		return nm_mig_err_state_failed(
		    err, "SnapshotReady: chunk_index %u out of range for total_chunks %u",
		    s->chunk_index, s->total_chunks);
	if (len > NM_MIG_MAX_CHUNK)
		return nm_mig_err_state_failed(
		    err, "SnapshotReady: chunk len %u exceeds MAX_SNAPSHOT_CHUNK_SIZE (%u)", len,
		    NM_MIG_MAX_CHUNK);
	if (r->left < len)
		return nm_mig_err_state_failed(err, "truncated snapshot payload");
	s->bytes = r->p;
	s->len = len;
	r->p += len;
	r->left -= len;
	return 0;
}

/* Validate every event (upstream's bounds and order), leave them in place. */
static int decode_buffered(struct rd *r, struct nm_mig_buffered *b, struct nm_error *err)
{
	uint32_t count = get32(r);
	size_t max_possible = r->left / NM_MIG_EVENT_MIN_WIRE;
	if (count > max_possible || count > NM_MIG_MAX_BUFFERED_EVENTS)
		return nm_mig_err_state_failed(
		    err,
		    "BufferedEvents: count %u exceeds bound (remaining=%zu, min_event_size=%u, "
		    "max_possible=%zu, hard_cap=%u)",
		    count, r->left, NM_MIG_EVENT_MIN_WIRE, max_possible,
		    NM_MIG_MAX_BUFFERED_EVENTS);
	const uint8_t *start = r->p;
	for (uint32_t i = 0; i < count; i++) {
		if (r->left < NM_CAUSAL_LINK_SIZE + 4)
			return nm_mig_err_state_failed(err, "truncated buffered event");
		r->p += NM_CAUSAL_LINK_SIZE;
		r->left -= NM_CAUSAL_LINK_SIZE;
		uint32_t plen = get32(r);
		if (plen > NM_MIG_MAX_EVENT_PAYLOAD)
			return nm_mig_err_state_failed(
			    err, "buffered event payload %u exceeds per-event cap %u", plen,
			    NM_MIG_MAX_EVENT_PAYLOAD);
		if (r->left < (size_t)plen + 8)
			return nm_mig_err_state_failed(err, "truncated event payload");
		r->p += (size_t)plen + 8;
		r->left -= (size_t)plen + 8;
	}
	b->events = NULL;
	b->count = count;
	b->body = start;
	b->body_len = (size_t)(r->p - start);
	return 0;
}

/* Fixed fields after the type byte, including daemon_origin. */
static size_t fixed_need(uint8_t type)
{
	switch (type) {
	case NM_MIG_TAKE_SNAPSHOT:
	case NM_MIG_RESTORE_COMPLETE:
	case NM_MIG_CUTOVER_NOTIFY:
	case NM_MIG_ACTIVATE_ACK:
	case NM_MIG_MOVED:
	case NM_MIG_QUERY:
	case NM_MIG_PREPARE:
	case NM_MIG_PREPARED:
		return 16;
	case NM_MIG_SNAPSHOT_READY:
		return 28;
	case NM_MIG_REPLAY_COMPLETE:
		return 48;
	case NM_MIG_CLEANUP_COMPLETE:
	case NM_MIG_ACTIVATE_TARGET:
		return 8;
	case NM_MIG_FAILED:
		return 10;
	case NM_MIG_BUFFERED_EVENTS:
		return 12;
	case NM_MIG_STATUS:
		return NM_MIG_STATUS_SIZE - 1;
	default:
		return 0;
	}
}

static int decode_body(struct rd *r, struct nm_mig_msg *m, struct nm_error *err)
{
	switch (m->type) {
	case NM_MIG_TAKE_SNAPSHOT:
		m->take_snapshot.target_node = get64(r);
		return 0;
	case NM_MIG_SNAPSHOT_READY:
		return decode_snapshot_ready(r, &m->snapshot_ready, err);
	case NM_MIG_RESTORE_COMPLETE:
		m->restore_complete.restored_seq = get64(r);
		return 0;
	case NM_MIG_REPLAY_COMPLETE:
		m->replay_complete.replayed_seq = get64(r);
		nm_link_from_bytes(&m->replay_complete.target_head, r->p, NM_CAUSAL_LINK_SIZE);
		r->p += NM_CAUSAL_LINK_SIZE;
		r->left -= NM_CAUSAL_LINK_SIZE;
		return 0;
	case NM_MIG_CUTOVER_NOTIFY:
		m->cutover_notify.target_node = get64(r);
		return 0;
	case NM_MIG_FAILED:
		return decode_reason(r, &m->failed, err);
	case NM_MIG_BUFFERED_EVENTS:
		return decode_buffered(r, &m->buffered, err);
	case NM_MIG_ACTIVATE_ACK:
		m->activate_ack.replayed_seq = get64(r);
		return 0;
	case NM_MIG_MOVED:
		m->moved.new_node = get64(r);
		return 0;
	case NM_MIG_QUERY:
		m->query.nonce = get64(r);
		return 0;
	case NM_MIG_PREPARE:
		m->prepare.target_node = get64(r);
		return 0;
	case NM_MIG_PREPARED:
		m->prepared.mid = get64(r);
		return 0;
	case NM_MIG_STATUS:
		m->status.nonce = get64(r);
		m->status.role = get8(r);
		m->status.phase = get8(r);
		m->status.seq = get64(r);
		m->status.node = get64(r);
		return 0;
	default: /* CleanupComplete, ActivateTarget */
		return 0;
	}
}

int nm_mig_decode(const uint8_t *buf, size_t len, struct nm_mig_msg *m, struct nm_mig_ext *ext,
		  struct nm_error *err)
{
	if (!m)
		return nm_error_set(err, -EINVAL, "nm_mig_decode: NULL message");
	memset(m, 0, sizeof(*m));
	if (ext)
		memset(ext, 0, sizeof(*ext));
	if (!buf || len == 0)
		return nm_mig_err_state_failed(err, "empty message");
	m->type = buf[0];
	size_t need = fixed_need(m->type);
	if (need == 0)
		return nm_mig_err_state_failed(err, "unknown message type: %u", (unsigned)m->type);
	struct rd r = { buf + 1, len - 1 };
	if (r.left < need) {
		if (m->type == NM_MIG_FAILED)
			return nm_mig_err_state_failed(err, "truncated MigrationFailed header");
		return truncated(err, m->type);
	}
	m->daemon_origin = get64(&r);
	int rc = decode_body(&r, m, err);
	if (rc < 0)
		return rc;
	m->body_len = len - r.left;
	if (ext) {
		parse_trailer(r.p, r.left, m, ext);
		if (!ext->malformed && ext->trailer)
			m->ext = ext;
	}
	return 0;
}

void nm_mig_events_iter_init(struct nm_mig_events_iter *it, const struct nm_mig_msg *m)
{
	it->p = it->end = NULL;
	it->left = 0;
	if (m && m->type == NM_MIG_BUFFERED_EVENTS && m->buffered.body) {
		it->p = m->buffered.body;
		it->end = m->buffered.body + m->buffered.body_len;
		it->left = (uint32_t)m->buffered.count;
	}
}

bool nm_mig_events_iter_next(struct nm_mig_events_iter *it, struct nm_event *ev)
{
	/* The region was validated by decode; the bounds checks keep a stale or
	 * hand-built iterator from reading past it. */
	if (it->left == 0 || (size_t)(it->end - it->p) < NM_MIG_EVENT_MIN_WIRE)
		return false;
	uint32_t plen = nm_get_le32(it->p + NM_CAUSAL_LINK_SIZE);
	if ((size_t)(it->end - it->p) - NM_MIG_EVENT_MIN_WIRE < plen)
		return false;
	nm_link_from_bytes(&ev->link, it->p, NM_CAUSAL_LINK_SIZE);
	ev->len = plen;
	ev->payload = it->p + NM_CAUSAL_LINK_SIZE + 4;
	ev->received_at = nm_get_le64(ev->payload + plen);
	it->p += NM_MIG_EVENT_MIN_WIRE + plen;
	it->left--;
	return true;
}

uint32_t nm_mig_events_count(const struct nm_mig_msg *m)
{
	return m && m->type == NM_MIG_BUFFERED_EVENTS ? (uint32_t)m->buffered.count : 0;
}

/* ------------------------------------------------------------ chunking */

int nm_mig_chunk_count(size_t len, uint32_t *count, struct nm_error *err)
{
	if (len <= NM_MIG_MAX_CHUNK) {
		*count = 1;
		return 0;
	}
	size_t n = len / NM_MIG_MAX_CHUNK + (len % NM_MIG_MAX_CHUNK != 0);
	if (n > UINT32_MAX)
		return nm_mig_err_snapshot_too_large(err, len, NM_MIG_MAX_SNAPSHOT_SIZE);
	*count = (uint32_t)n;
	return 0;
}

int nm_mig_chunk(uint64_t daemon_origin, const uint8_t *snapshot, size_t len, uint64_t seq_through,
		 uint32_t i, struct nm_mig_msg *out)
{
	uint32_t n = 0;
	if (!out || (len && !snapshot) || nm_mig_chunk_count(len, &n, NULL) < 0 || i >= n)
		return -EINVAL;
	size_t off = (size_t)i * NM_MIG_MAX_CHUNK;
	memset(out, 0, sizeof(*out));
	out->type = NM_MIG_SNAPSHOT_READY;
	out->daemon_origin = daemon_origin;
	out->snapshot_ready.seq_through = seq_through;
	out->snapshot_ready.chunk_index = i;
	out->snapshot_ready.total_chunks = n;
	out->snapshot_ready.bytes = len ? snapshot + off : snapshot;
	out->snapshot_ready.len = len - off < NM_MIG_MAX_CHUNK ? len - off : NM_MIG_MAX_CHUNK;
	return 0;
}

int nm_mig_validate_chunk_header(uint32_t chunk_index, const uint8_t *bytes, size_t len,
				 uint64_t daemon_origin, struct nm_error *err)
{
	if (chunk_index != 0)
		return 0;
	/* magic 4 + version 1 + entity id 32 */
	if (len < 37 || !bytes)
		return nm_mig_err_state_failed(
		    err,
		    "SnapshotReady chunk 0 is %zu bytes \u2014 too short "
		    "for snapshot envelope (need >= 37)",
		    bytes ? len : 0);
	if (memcmp(bytes, NM_SNAPSHOT_MAGIC, 4) != 0)
		return nm_mig_err_state_failed(
		    err, "SnapshotReady chunk 0 has wrong magic bytes: [%u, %u, %u, %u]", bytes[0],
		    bytes[1], bytes[2], bytes[3]);
	if (bytes[4] != NM_SNAPSHOT_VERSION)
		return nm_mig_err_state_failed(
		    err, "SnapshotReady chunk 0 carries snapshot version %u (expected %u)",
		    bytes[4], NM_SNAPSHOT_VERSION);
	uint64_t claimed = nm_origin_hash_of(bytes + 5);
	if (claimed != daemon_origin)
		return nm_mig_err_state_failed(err,
					       "SnapshotReady chunk 0 entity_id origin " HEX
					       " does not match daemon_origin " HEX,
					       claimed, daemon_origin);
	return 0;
}

/* ------------------------------------------------------------ reassembler */

/*
 * At most one pending entry per origin: entries are only created for
 * seq_through == latest_seq, and a newer seq evicts the old one, so the
 * upstream map keyed (origin, seq) never holds two keys of one origin.
 * Chunks sit in a two-level table (pages of CHUNK_PAGE slots allocated on
 * first use), so a declared total of 700000 costs 5.5 KB until chunks come.
 */
#define CHUNK_PAGE 1024u

struct chunk {
	uint8_t *data; /* NULL: not received yet */
	uint32_t len;
};

struct pending {
	uint64_t seq;
	uint32_t total;
	uint32_t have;
	size_t bytes;
	uint64_t last_progress;
	struct chunk **pages; /* ceil(total / CHUNK_PAGE) */
};

struct origin_state {
	uint64_t origin;
	uint64_t latest;
	struct pending *pending;
};

struct nm_mig_reasm {
	struct nm_u64map by_origin; /* origin -> struct origin_state * */
	struct origin_state *pool;
	uint32_t *free_idx; /* stack of free pool slots */
	uint32_t nfree;
	uint32_t max_origins;
	uint64_t max_age_ns;
	size_t npending;
	size_t bytes_total;
};

static uint32_t npages(uint32_t total)
{
	return total / CHUNK_PAGE + (total % CHUNK_PAGE != 0);
}

static struct chunk *chunk_at(const struct pending *p, uint32_t idx)
{
	struct chunk *page = p->pages[idx / CHUNK_PAGE];
	return page ? &page[idx % CHUNK_PAGE] : NULL;
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	for (uint32_t pg = 0; pg < npages(p->total); pg++) {
		if (!p->pages[pg])
			continue;
		for (uint32_t i = 0; i < CHUNK_PAGE; i++)
			free(p->pages[pg][i].data);
		free(p->pages[pg]);
	}
	free(p->pages);
	free(p);
}

static void drop_pending(struct nm_mig_reasm *r, struct origin_state *o)
{
	if (!o->pending)
		return;
	r->npending--;
	r->bytes_total -= o->pending->bytes;
	pending_free(o->pending);
	o->pending = NULL;
}

struct nm_mig_reasm *nm_mig_reasm_create(uint32_t max_origins, uint64_t max_age_ns)
{
	if (max_origins == 0)
		max_origins = 64;
	struct nm_mig_reasm *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max_origins = max_origins;
	r->max_age_ns = max_age_ns ? max_age_ns : NM_MIG_MAX_PENDING_AGE_NS;
	r->pool = calloc(max_origins, sizeof(*r->pool));
	r->free_idx = calloc(max_origins, sizeof(*r->free_idx));
	/* Twice the bound: the map never reaches 3/4 load, so inserts never grow it. */
	if (!r->pool || !r->free_idx || nm_u64map_init(&r->by_origin, 2 * (size_t)max_origins)) {
		free(r->pool);
		free(r->free_idx);
		free(r);
		return NULL;
	}
	for (uint32_t i = 0; i < max_origins; i++)
		r->free_idx[i] = max_origins - 1 - i;
	r->nfree = max_origins;
	return r;
}

void nm_mig_reasm_free(struct nm_mig_reasm *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->max_origins; i++)
		pending_free(r->pool[i].pending);
	nm_u64map_fini(&r->by_origin);
	free(r->pool);
	free(r->free_idx);
	free(r);
}

void nm_mig_assembled_free(struct nm_mig_assembled *a)
{
	if (!a)
		return;
	free(a->owned);
	memset(a, 0, sizeof(*a));
}

static int reject(struct nm_mig_reasm_error *why, struct nm_error *err, enum nm_mig_reasm_err kind,
		  uint64_t a, uint64_t b, uint64_t c)
{
	struct nm_mig_reasm_error e = { kind, a, b, c };
	if (why)
		*why = e;
	if (err) {
		char text[NM_ERROR_MSG_MAX];
		nm_mig_reasm_err_display(&e, text, sizeof(text));
		nm_error_set(err, NM_EMIG_REASSEMBLY, "%s", text);
	}
	return NM_EMIG_REASSEMBLY;
}

/* Everything a multi-chunk feed may need, allocated before any mutation. */
struct feed_alloc {
	uint8_t *data;
	struct pending *fresh;
	struct chunk *page;
	uint8_t *full;
};

static void feed_alloc_free(struct feed_alloc *fa)
{
	free(fa->data);
	pending_free(fa->fresh);
	free(fa->page);
	free(fa->full);
}

static struct pending *pending_new(uint64_t seq, uint32_t total)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pages = calloc(npages(total), sizeof(*p->pages));
	if (!p->pages) {
		free(p);
		return NULL;
	}
	p->seq = seq;
	p->total = total;
	return p;
}

static struct origin_state *origin_get(const struct nm_mig_reasm *r, uint64_t origin)
{
	return nm_u64map_get(&r->by_origin, origin);
}

static struct origin_state *origin_add(struct nm_mig_reasm *r, uint64_t origin, uint64_t seq)
{
	struct origin_state *o = &r->pool[r->free_idx[--r->nfree]];
	o->origin = origin;
	o->latest = seq;
	o->pending = NULL;
	/* Cannot fail: the key is absent and the map was sized not to grow. */
	nm_u64map_insert(&r->by_origin, origin, o);
	return o;
}

/* Steps 6/7 for total > 1 once the common checks passed; `cur` is the entry
 * of this key after step 5 (NULL if none). */
static int feed_multi(struct nm_mig_reasm *r, struct origin_state *o, bool newer,
		      struct pending *cur, uint64_t origin, const uint8_t *bytes, size_t len,
		      uint64_t seq, uint32_t idx, uint32_t total, uint64_t now,
		      struct nm_mig_assembled *out, struct nm_mig_reasm_error *why,
		      struct nm_error *err)
{
	if (cur && cur->total != total)
		return reject(why, err, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH, total, cur->total, 0);
	struct chunk *slot = cur ? chunk_at(cur, idx) : NULL;
	size_t displaced = slot && slot->data ? slot->len : 0;
	size_t buffered = cur ? cur->bytes : 0;
	size_t projected = buffered - displaced + len;
	if (projected > NM_MIG_MAX_PENDING_BYTES)
		return reject(why, err, NM_MIG_REASM_TOO_MANY_PENDING_BYTES, buffered, len,
			      NM_MIG_MAX_PENDING_BYTES);
	uint32_t have = (cur ? cur->have : 0) + (displaced ? 0 : 1);
	bool done = have == total;

	struct feed_alloc fa = { 0 };
	fa.data = malloc(len);
	if (!cur)
		fa.fresh = pending_new(seq, total);
	struct pending *p = cur ? cur : fa.fresh;
	bool need_page = p && !p->pages[idx / CHUNK_PAGE];
	if (need_page)
		fa.page = calloc(CHUNK_PAGE, sizeof(struct chunk));
	if (done)
		fa.full = malloc(projected);
	if (!fa.data || !p || (need_page && !fa.page) || (done && !fa.full)) {
		feed_alloc_free(&fa);
		return reject(why, err, NM_MIG_REASM_NO_MEMORY, 0, 0, 0);
	}

	/* Commit: nothing below can fail. */
	if (!o)
		o = origin_add(r, origin, seq);
	else if (newer) {
		drop_pending(r, o);
		o->latest = seq;
	}
	if (!cur) {
		o->pending = p;
		r->npending++;
		fa.fresh = NULL;
	}
	if (need_page) {
		p->pages[idx / CHUNK_PAGE] = fa.page;
		fa.page = NULL;
	}
	slot = chunk_at(p, idx);
	free(slot->data);
	memcpy(fa.data, bytes, len);
	slot->data = fa.data;
	slot->len = (uint32_t)len;
	p->have = have;
	r->bytes_total = r->bytes_total - buffered + projected;
	p->bytes = projected;
	p->last_progress = now;
	if (!done)
		return NM_MIG_FEED_PENDING;

	size_t off = 0;
	for (uint32_t i = 0; i < total; i++) {
		const struct chunk *c = chunk_at(p, i);
		memcpy(fa.full + off, c->data, c->len);
		off += c->len;
	}
	drop_pending(r, o);
	out->bytes = fa.full;
	out->len = off;
	out->owned = fa.full;
	return NM_MIG_FEED_COMPLETE;
}

int nm_mig_reasm_feed(struct nm_mig_reasm *r, uint64_t origin, const uint8_t *bytes, size_t len,
		      uint64_t seq, uint32_t idx, uint32_t total, uint64_t now,
		      struct nm_mig_assembled *out, struct nm_mig_reasm_error *why,
		      struct nm_error *err)
{
	if (!r || !out || (len && !bytes))
		return nm_error_set(err, -EINVAL, "nm_mig_reasm_feed: NULL argument");
	memset(out, 0, sizeof(*out));
	if (why)
		memset(why, 0, sizeof(*why));
	/* 1. structure */
	if (total == 0)
		return reject(why, err, NM_MIG_REASM_ZERO_TOTAL_CHUNKS, 0, 0, 0);
	if (total > NM_MIG_MAX_TOTAL_CHUNKS)
		return reject(why, err, NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE, total, 0, 0);
	if (idx >= total)
		return reject(why, err, NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE, idx, total, 0);
	/* 2. opportunistic age sweep */
	nm_mig_reasm_sweep(r, now, r->max_age_ns);
	/* 3. size */
	if (len == 0 || len > NM_MIG_MAX_CHUNK)
		return reject(why, err, NM_MIG_REASM_CHUNK_TOO_LARGE, len, 0, 0);
	/* 4. stale */
	struct origin_state *o = origin_get(r, origin);
	if (o && seq < o->latest)
		return reject(why, err, NM_MIG_REASM_STALE_SEQ_THROUGH, seq, o->latest, 0);
	if (!o && r->nfree == 0)
		return reject(why, err, NM_MIG_REASM_TOO_MANY_ORIGINS, r->max_origins, 0, 0);
	/* 5. a newer seq evicts (applied at commit); the key's entry survives
	 * only when seq == latest. */
	bool newer = !o || seq > o->latest;
	struct pending *cur = newer ? NULL : o->pending;

	if (total > 1)
		return feed_multi(r, o, newer, cur, origin, bytes, len, seq, idx, total, now, out,
				  why, err);
	/* 6. single-chunk fast path */
	if (cur && cur->total != 1)
		return reject(why, err, NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH, 1, cur->total, 0);
	if (!o)
		o = origin_add(r, origin, seq);
	else if (newer) {
		drop_pending(r, o);
		o->latest = seq;
	}
	out->bytes = bytes;
	out->len = len;
	return NM_MIG_FEED_COMPLETE;
}

int nm_mig_reasm_feed_msg(struct nm_mig_reasm *r, const struct nm_mig_msg *m, uint64_t now_ns,
			  struct nm_mig_assembled *out, struct nm_mig_reasm_error *why,
			  struct nm_error *err)
{
	if (!m || m->type != NM_MIG_SNAPSHOT_READY)
		return nm_error_set(err, -EINVAL, "nm_mig_reasm_feed_msg: not a SnapshotReady");
	const struct nm_mig_snapshot_ready *s = &m->snapshot_ready;
	return nm_mig_reasm_feed(r, m->daemon_origin, s->bytes, s->len, s->seq_through,
				 s->chunk_index, s->total_chunks, now_ns, out, why, err);
}

void nm_mig_reasm_cancel(struct nm_mig_reasm *r, uint64_t origin)
{
	struct origin_state *o = r ? origin_get(r, origin) : NULL;
	if (o)
		drop_pending(r, o);
}

size_t nm_mig_reasm_sweep(struct nm_mig_reasm *r, uint64_t now, uint64_t max_age)
{
	size_t dropped = 0;
	if (!r || r->npending == 0)
		return 0;
	for (uint32_t i = 0; i < r->max_origins; i++) {
		struct origin_state *o = &r->pool[i];
		/* A progress time in the future is kept, like upstream's checked_duration_since. */
		if (o->pending && now >= o->pending->last_progress &&
		    now - o->pending->last_progress >= max_age) {
			drop_pending(r, o);
			dropped++;
		}
	}
	return dropped;
}

void nm_mig_reasm_forget(struct nm_mig_reasm *r, uint64_t origin)
{
	struct origin_state *o = r ? nm_u64map_remove(&r->by_origin, origin) : NULL;
	if (!o)
		return;
	drop_pending(r, o);
	r->free_idx[r->nfree++] = (uint32_t)(o - r->pool);
}

size_t nm_mig_reasm_pending_count(const struct nm_mig_reasm *r)
{
	return r ? r->npending : 0;
}

size_t nm_mig_reasm_pending_bytes(const struct nm_mig_reasm *r, uint64_t origin)
{
	const struct origin_state *o = r ? origin_get(r, origin) : NULL;
	return o && o->pending ? o->pending->bytes : 0;
}

size_t nm_mig_reasm_pending_bytes_total(const struct nm_mig_reasm *r)
{
	return r ? r->bytes_total : 0;
}

bool nm_mig_reasm_latest_seq(const struct nm_mig_reasm *r, uint64_t origin, uint64_t *seq)
{
	const struct origin_state *o = r ? origin_get(r, origin) : NULL;
	if (o && seq)
		*seq = o->latest;
	return o != NULL;
}

int nm_mig_reasm_err_display(const struct nm_mig_reasm_error *e, char *buf, size_t cap)
{
	switch (e->kind) {
	case NM_MIG_REASM_OK:
		return snprintf(buf, cap, "ok");
	case NM_MIG_REASM_ZERO_TOTAL_CHUNKS:
		return snprintf(buf, cap, "total_chunks == 0");
	case NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE:
		return snprintf(buf, cap,
				"chunk_index %" PRIu64 " out of range for total_chunks %" PRIu64,
				e->a, e->b);
	case NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE:
		return snprintf(buf, cap, "total_chunks %" PRIu64 " exceeds MAX_TOTAL_CHUNKS (%u)",
				e->a, NM_MIG_MAX_TOTAL_CHUNKS);
	case NM_MIG_REASM_CHUNK_TOO_LARGE:
		return snprintf(buf, cap,
				"chunk length %" PRIu64 " exceeds MAX_SNAPSHOT_CHUNK_SIZE (%u)",
				e->a, NM_MIG_MAX_CHUNK);
	case NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH:
		return snprintf(buf, cap,
				"total_chunks %" PRIu64
				" does not match first chunk's declared %" PRIu64,
				e->a, e->b);
	case NM_MIG_REASM_STALE_SEQ_THROUGH:
		return snprintf(buf, cap,
				"seq_through %" PRIu64 " is older than latest accepted %" PRIu64
				" for this daemon",
				e->a, e->b);
	case NM_MIG_REASM_TOO_MANY_PENDING_BYTES:
		return snprintf(buf, cap,
				"buffered %" PRIu64 " + incoming %" PRIu64
				" would exceed per-entry cap %" PRIu64,
				e->a, e->b, e->c);
	case NM_MIG_REASM_TOO_MANY_ORIGINS:
		return snprintf(buf, cap, "reassembler tracks its maximum of %" PRIu64 " daemons",
				e->a);
	case NM_MIG_REASM_NO_MEMORY:
		return snprintf(buf, cap, "out of memory buffering a snapshot chunk");
	}
	return snprintf(buf, cap, "unknown reassembly error %d", (int)e->kind);
}

int nm_mig_reasm_err_debug(const struct nm_mig_reasm_error *e, char *buf, size_t cap)
{
	switch (e->kind) {
	case NM_MIG_REASM_OK:
		return snprintf(buf, cap, "Ok");
	case NM_MIG_REASM_ZERO_TOTAL_CHUNKS:
		return snprintf(buf, cap, "ZeroTotalChunks");
	case NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE:
		return snprintf(buf, cap,
				"ChunkIndexOutOfRange { chunk_index: %" PRIu64
				", total_chunks: %" PRIu64 " }",
				e->a, e->b);
	case NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE:
		return snprintf(buf, cap, "TotalChunksTooLarge { total_chunks: %" PRIu64 " }",
				e->a);
	case NM_MIG_REASM_CHUNK_TOO_LARGE:
		return snprintf(buf, cap, "ChunkTooLarge { len: %" PRIu64 " }", e->a);
	case NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH:
		return snprintf(buf, cap,
				"TotalChunksMismatch { got: %" PRIu64 ", expected: %" PRIu64 " }",
				e->a, e->b);
	case NM_MIG_REASM_STALE_SEQ_THROUGH:
		return snprintf(buf, cap,
				"StaleSeqThrough { got: %" PRIu64 ", latest: %" PRIu64 " }", e->a,
				e->b);
	case NM_MIG_REASM_TOO_MANY_PENDING_BYTES:
		return snprintf(buf, cap,
				"TooManyPendingBytes { buffered: %" PRIu64 ", incoming: %" PRIu64
				", cap: %" PRIu64 " }",
				e->a, e->b, e->c);
	case NM_MIG_REASM_TOO_MANY_ORIGINS:
		return snprintf(buf, cap, "TooManyOrigins { max: %" PRIu64 " }", e->a);
	case NM_MIG_REASM_NO_MEMORY:
		return snprintf(buf, cap, "NoMemory");
	}
	return snprintf(buf, cap, "Unknown(%d)", (int)e->kind);
}

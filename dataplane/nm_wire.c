/* SPDX-License-Identifier: MIT */
/* nm_wire.c - NetHeader codec, datagram classes, AAD and nonce. */
#include <stddef.h>
#include <string.h>

#include "nm_wire.h"

enum nm_dgram_class nm_dgram_classify(const uint8_t *d, size_t len)
{
	uint16_t magic;

	if (!d || len < 2)
		return NM_DGRAM_UNKNOWN;
	magic = nm_get_le16(d);
	/* "EN" is never another class (each test below needs another magic): tested first. */
	if (magic == NM_MAGIC_NET)
		return NM_DGRAM_DIRECT;
	/* Upstream's order matters: a 72-byte datagram is a pingwave unless it is "EN". */
	if (len == NM_KEEPALIVE_SIZE && magic == NM_MAGIC_KEEPALIVE)
		return NM_DGRAM_KEEPALIVE;
	if (len == NM_PINGWAVE_SIZE && magic != NM_MAGIC_NET)
		return NM_DGRAM_PINGWAVE;
	if (magic == NM_MAGIC_ROUTE_HOP)
		return NM_DGRAM_ROUTE_HOP;
	if (magic == NM_MAGIC_ROUTED && len >= NM_ROUTING_HDR_SIZE + NM_NET_HDR_SIZE)
		return NM_DGRAM_ROUTED;
	return NM_DGRAM_UNKNOWN;
}

enum nm_drop nm_dgram_class_drop(enum nm_dgram_class c)
{
	switch (c) {
	case NM_DGRAM_DIRECT:
		return NM_DROP_NONE;
	case NM_DGRAM_KEEPALIVE:
		return NM_DROP_CLASS_KEEPALIVE;
	case NM_DGRAM_PINGWAVE:
		return NM_DROP_CLASS_PINGWAVE;
	case NM_DGRAM_ROUTE_HOP:
		return NM_DROP_CLASS_ROUTE_HOP;
	case NM_DGRAM_ROUTED:
		return NM_DROP_CLASS_ROUTED;
	default:
		return NM_DROP_CLASS_UNKNOWN;
	}
}

/*
 * On a little-endian host struct nm_net_hdr is the wire layout, field for
 * field (checked below), so the 68 bytes are one copy each way; elsewhere
 * every field is read and written at its offset.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HDR_AT(field, off) (offsetof(struct nm_net_hdr, field) == (off))
_Static_assert(HDR_AT(magic, NM_OFF_MAGIC) && HDR_AT(version, NM_OFF_VERSION) &&
		       HDR_AT(flags, NM_OFF_FLAGS) && HDR_AT(priority, NM_OFF_PRIORITY) &&
		       HDR_AT(hop_ttl, NM_OFF_HOP_TTL) && HDR_AT(hop_count, NM_OFF_HOP_COUNT) &&
		       HDR_AT(frag_flags, NM_OFF_FRAG_FLAGS) &&
		       HDR_AT(subprotocol_id, NM_OFF_SUBPROTOCOL) &&
		       HDR_AT(channel_hash, NM_OFF_CHANNEL_HASH) && HDR_AT(nonce, NM_OFF_NONCE) &&
		       HDR_AT(session_id, NM_OFF_SESSION_ID) && HDR_AT(stream_id, NM_OFF_STREAM_ID) &&
		       HDR_AT(sequence, NM_OFF_SEQUENCE) && HDR_AT(origin_hash, NM_OFF_ORIGIN_HASH) &&
		       HDR_AT(subnet_id, NM_OFF_SUBNET_ID) &&
		       HDR_AT(fragment_id, NM_OFF_FRAGMENT_ID) &&
		       HDR_AT(fragment_offset, NM_OFF_FRAGMENT_OFFSET) &&
		       HDR_AT(payload_len, NM_OFF_PAYLOAD_LEN) &&
		       HDR_AT(event_count, NM_OFF_EVENT_COUNT) &&
		       sizeof(struct nm_net_hdr) >= NM_NET_HDR_SIZE,
	       "struct nm_net_hdr is the wire layout");
#define HDR_IS_WIRE 1
#else
#define HDR_IS_WIRE 0
#endif

void nm_hdr_encode(const struct nm_net_hdr *h, uint8_t out[NM_NET_HDR_SIZE])
{
	if (HDR_IS_WIRE) {
		memcpy(out, h, NM_NET_HDR_SIZE);
		return;
	}
	nm_put_le16(out + NM_OFF_MAGIC, h->magic);
	out[NM_OFF_VERSION] = h->version;
	out[NM_OFF_FLAGS] = h->flags;
	out[NM_OFF_PRIORITY] = h->priority;
	out[NM_OFF_HOP_TTL] = h->hop_ttl;
	out[NM_OFF_HOP_COUNT] = h->hop_count;
	out[NM_OFF_FRAG_FLAGS] = h->frag_flags;
	nm_put_le16(out + NM_OFF_SUBPROTOCOL, h->subprotocol_id);
	nm_put_le16(out + NM_OFF_CHANNEL_HASH, h->channel_hash);
	memcpy(out + NM_OFF_NONCE, h->nonce, NM_NET_NONCE_SIZE);
	nm_put_le64(out + NM_OFF_SESSION_ID, h->session_id);
	nm_put_le64(out + NM_OFF_STREAM_ID, h->stream_id);
	nm_put_le64(out + NM_OFF_SEQUENCE, h->sequence);
	nm_put_le64(out + NM_OFF_ORIGIN_HASH, h->origin_hash);
	nm_put_le32(out + NM_OFF_SUBNET_ID, h->subnet_id);
	nm_put_le16(out + NM_OFF_FRAGMENT_ID, h->fragment_id);
	nm_put_le16(out + NM_OFF_FRAGMENT_OFFSET, h->fragment_offset);
	nm_put_le16(out + NM_OFF_PAYLOAD_LEN, h->payload_len);
	nm_put_le16(out + NM_OFF_EVENT_COUNT, h->event_count);
}

int nm_hdr_decode(struct nm_net_hdr *h, const uint8_t *buf, size_t len, enum nm_drop *why)
{
	if (!h || !buf || len < NM_NET_HDR_SIZE)
		return nm_drop(why, NM_DROP_NET_SHORT);
	if (HDR_IS_WIRE) {
		memcpy(h, buf, NM_NET_HDR_SIZE);
		return 0;
	}
	h->magic = nm_get_le16(buf + NM_OFF_MAGIC);
	h->version = buf[NM_OFF_VERSION];
	h->flags = buf[NM_OFF_FLAGS];
	h->priority = buf[NM_OFF_PRIORITY];
	h->hop_ttl = buf[NM_OFF_HOP_TTL];
	h->hop_count = buf[NM_OFF_HOP_COUNT];
	h->frag_flags = buf[NM_OFF_FRAG_FLAGS];
	h->subprotocol_id = nm_get_le16(buf + NM_OFF_SUBPROTOCOL);
	h->channel_hash = nm_get_le16(buf + NM_OFF_CHANNEL_HASH);
	memcpy(h->nonce, buf + NM_OFF_NONCE, NM_NET_NONCE_SIZE);
	h->session_id = nm_get_le64(buf + NM_OFF_SESSION_ID);
	h->stream_id = nm_get_le64(buf + NM_OFF_STREAM_ID);
	h->sequence = nm_get_le64(buf + NM_OFF_SEQUENCE);
	h->origin_hash = nm_get_le64(buf + NM_OFF_ORIGIN_HASH);
	h->subnet_id = nm_get_le32(buf + NM_OFF_SUBNET_ID);
	h->fragment_id = nm_get_le16(buf + NM_OFF_FRAGMENT_ID);
	h->fragment_offset = nm_get_le16(buf + NM_OFF_FRAGMENT_OFFSET);
	h->payload_len = nm_get_le16(buf + NM_OFF_PAYLOAD_LEN);
	h->event_count = nm_get_le16(buf + NM_OFF_EVENT_COUNT);
	return 0;
}

int nm_hdr_validate(const struct nm_net_hdr *h, size_t dgram_len, enum nm_drop *why)
{
	if (!h || dgram_len < NM_NET_HDR_SIZE)
		return nm_drop(why, NM_DROP_NET_SHORT);
	if (h->magic != NM_MAGIC_NET)
		return nm_drop(why, NM_DROP_NET_MAGIC);
	if (h->version != NM_NET_VERSION)
		return nm_drop(why, NM_DROP_NET_VERSION);
	if (h->payload_len > NM_NET_MAX_PAYLOAD)
		return nm_drop(why, NM_DROP_NET_PAYLOAD_LEN);
	if (h->event_count > NM_NET_MAX_EVENTS)
		return nm_drop(why, NM_DROP_NET_EVENT_COUNT);
	if (h->flags & (NM_FLAG_HANDSHAKE | NM_FLAG_HEARTBEAT)) {
		/* Upstream skips the length rule here; we still never read past the datagram. */
		if (h->payload_len > dgram_len - NM_NET_HDR_SIZE)
			return nm_drop(why, NM_DROP_NET_TRUNCATED);
		return 0;
	}
	if (dgram_len != nm_net_dgram_len(h->payload_len))
		return nm_drop(why, NM_DROP_NET_LEN_MISMATCH);
	return 0;
}

int nm_hdr_parse(struct nm_net_hdr *h, const uint8_t *dgram, size_t dgram_len, enum nm_drop *why)
{
	int rc = nm_hdr_decode(h, dgram, dgram_len, why);

	if (rc < 0)
		return rc;
	return nm_hdr_validate(h, dgram_len, why);
}

void nm_hdr_aad(const uint8_t hdr[NM_NET_HDR_SIZE], uint8_t aad[NM_NET_AAD_SIZE])
{
	memcpy(aad, hdr, NM_OFF_NONCE);
	aad[NM_OFF_HOP_COUNT] = 0; /* mutable in transit, so not authenticated */
	memcpy(aad + NM_OFF_NONCE, hdr + NM_OFF_SESSION_ID, NM_NET_HDR_SIZE - NM_OFF_SESSION_ID);
}

void nm_nonce_build(uint8_t out[NM_NET_NONCE_SIZE], uint64_t session_id, uint64_t counter)
{
	nm_put_le32(out, nm_session_prefix(session_id));
	nm_put_le64(out + 4, counter);
}

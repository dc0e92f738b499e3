/* SPDX-License-Identifier: MIT */
/*
 * nm_wire.h - the Net datagram: class discriminator, 68-byte NetHeader, AAD, nonce.
 *
 * Bit-identical to upstream net-mesh (wire.md 1.1-1.4, 2.4). Every integer is
 * little-endian on the wire and is read and written at the offsets below,
 * never through a packed struct (on a little-endian host, where struct
 * nm_net_hdr has exactly this layout, as one copy). The header is 68 bytes:
 *
 *   off size field             off size field
 *     0  2   magic 0x4E45        24  8   session_id
 *     2  1   version (1)         32  8   stream_id
 *     3  1   flags               40  8   sequence (per stream)
 *     4  1   priority            48  8   origin_hash
 *     5  1   hop_ttl             56  4   subnet_id
 *     6  1   hop_count           60  2   fragment_id
 *     7  1   frag_flags          62  2   fragment_offset
 *     8  2   subprotocol_id      64  2   payload_len (ciphertext, no tag)
 *    10  2   channel_hash        66  2   event_count
 *    12 12   nonce = LE32 session prefix || LE64 AEAD counter
 *
 * followed by payload_len bytes of ciphertext and the 16-byte Poly1305 tag.
 */
#ifndef NM_WIRE_H
#define NM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_le.h"

#include "nm_drop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes and limits ---- */
#define NM_NET_HDR_SIZE 68
#define NM_NET_TAG_SIZE 16
#define NM_NET_NONCE_SIZE 12
#define NM_NET_AAD_SIZE 56
#define NM_NET_MAX_PACKET 8192
#define NM_NET_MAX_PAYLOAD 8108 /* 8192 - 68 - 16 */
#define NM_NET_MAX_EVENTS 2027  /* 8108 / 4: an EventFrame is at least LE32 len */
#define NM_NET_EVENT_HDR 4      /* EventFrame record: [LE32 len][len bytes] */
#define NM_NET_VERSION 1
#define NM_NET_DEFAULT_PORT 7777

/* ---- first LE16 of a datagram (wire.md 1.1) ---- */
#define NM_MAGIC_NET 0x4E45       /* wire "45 4E" */
#define NM_MAGIC_ROUTED 0x5452    /* wire "52 54" */
#define NM_MAGIC_ROUTE_HOP 0x5248 /* wire "48 52" */
#define NM_MAGIC_KEEPALIVE 0x4850 /* wire "50 48" */
#define NM_KEEPALIVE_SIZE 14
#define NM_PINGWAVE_SIZE 72
#define NM_ROUTING_HDR_SIZE 18

/* ---- header byte offsets ---- */
#define NM_OFF_MAGIC 0
#define NM_OFF_VERSION 2
#define NM_OFF_FLAGS 3
#define NM_OFF_PRIORITY 4
#define NM_OFF_HOP_TTL 5
#define NM_OFF_HOP_COUNT 6
#define NM_OFF_FRAG_FLAGS 7
#define NM_OFF_SUBPROTOCOL 8
#define NM_OFF_CHANNEL_HASH 10
#define NM_OFF_NONCE 12
#define NM_OFF_COUNTER 16 /* nonce bytes 4..12 */
#define NM_OFF_SESSION_ID 24
#define NM_OFF_STREAM_ID 32
#define NM_OFF_SEQUENCE 40
#define NM_OFF_ORIGIN_HASH 48
#define NM_OFF_SUBNET_ID 56
#define NM_OFF_FRAGMENT_ID 60
#define NM_OFF_FRAGMENT_OFFSET 62
#define NM_OFF_PAYLOAD_LEN 64
#define NM_OFF_EVENT_COUNT 66

/* ---- flags, byte 3 (not validated on receive: unknown bits pass) ---- */
#define NM_FLAG_RELIABLE 0x01
#define NM_FLAG_NACK 0x02     /* unused on the wire upstream */
#define NM_FLAG_PRIORITY 0x04 /* unused by the packet builder upstream */
#define NM_FLAG_FIN 0x08      /* unused */
#define NM_FLAG_HANDSHAKE 0x10
#define NM_FLAG_HEARTBEAT 0x20

/* The NetHeader, decoded. Fields in wire order and size: on little-endian hosts the codec copies it whole. */
struct nm_net_hdr {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint8_t priority;
	uint8_t hop_ttl;
	uint8_t hop_count;
	uint8_t frag_flags;
	uint16_t subprotocol_id;
	uint16_t channel_hash;
	uint8_t nonce[NM_NET_NONCE_SIZE]; /* as on the wire */
	uint64_t session_id;
	uint64_t stream_id;
	uint64_t sequence;
	uint64_t origin_hash;
	uint32_t subnet_id;
	uint16_t fragment_id;
	uint16_t fragment_offset;
	uint16_t payload_len;
	uint16_t event_count;
};

/* ---- datagram classes (wire.md 1.1, tested in this order) ---- */
enum nm_dgram_class {
	NM_DGRAM_DIRECT = 0, /* "EN": a NetHeader follows; the only class accepted for now */
	NM_DGRAM_KEEPALIVE,  /* len 14 and "PH" */
	NM_DGRAM_PINGWAVE,   /* len 72 and not "EN" */
	NM_DGRAM_ROUTE_HOP,  /* "HR" */
	NM_DGRAM_ROUTED,     /* "RT" and len >= 18 + 68 */
	NM_DGRAM_UNKNOWN,    /* upstream drops these silently */
};

/* Classify a UDP payload exactly as upstream's dispatch does. */
enum nm_dgram_class nm_dgram_classify(const uint8_t *d, size_t len);

/* The drop reason for a class we do not handle; NM_DROP_NONE for DIRECT. */
enum nm_drop nm_dgram_class_drop(enum nm_dgram_class c);

/* ---- NetHeader codec ---- */

/* Write the 68 wire bytes of *h (nonce bytes copied as given). */
void nm_hdr_encode(const struct nm_net_hdr *h, uint8_t out[NM_NET_HDR_SIZE]);

/* Read the first 68 bytes of buf; no field is judged. NET_SHORT if len < 68. */
int nm_hdr_decode(struct nm_net_hdr *h, const uint8_t *buf, size_t len, enum nm_drop *why);

/*
 * Upstream's receive checks for a datagram of dgram_len bytes (UDP payload):
 * magic, version, payload_len <= 8108, event_count <= 2027, then, unless
 * HANDSHAKE or HEARTBEAT is set, dgram_len == 68 + payload_len + 16. For
 * handshake/heartbeat packets we also refuse a payload_len that runs past the
 * datagram (NET_TRUNCATED; upstream has no such check).
 */
int nm_hdr_validate(const struct nm_net_hdr *h, size_t dgram_len, enum nm_drop *why);

/* nm_hdr_decode then nm_hdr_validate on a whole datagram. */
int nm_hdr_parse(struct nm_net_hdr *h, const uint8_t *dgram, size_t dgram_len, enum nm_drop *why);

/* The AEAD counter carried in nonce bytes 4..12. */
static inline uint64_t nm_hdr_counter(const struct nm_net_hdr *h)
{
	return nm_get_le64(h->nonce + 4);
}

/* Length of a sealed datagram carrying payload_len plaintext bytes. */
static inline size_t nm_net_dgram_len(uint16_t payload_len)
{
	return NM_NET_HDR_SIZE + (size_t)payload_len + NM_NET_TAG_SIZE;
}

/* ---- AAD and nonce (wire.md 1.4, 2.4) ---- */

/* AAD = wire[0..12) with byte 6 (hop_count) zeroed, then wire[24..68). */
void nm_hdr_aad(const uint8_t hdr[NM_NET_HDR_SIZE], uint8_t aad[NM_NET_AAD_SIZE]);

/* lo32(session_id) ^ hi32(session_id); written LE32 as nonce bytes 0..4. */
static inline uint32_t nm_session_prefix(uint64_t session_id)
{
	return (uint32_t)session_id ^ (uint32_t)(session_id >> 32);
}

/* nonce = LE32(prefix) || LE64(counter). */
void nm_nonce_build(uint8_t out[NM_NET_NONCE_SIZE], uint64_t session_id, uint64_t counter);

#ifdef __cplusplus
}
#endif
#endif /* NM_WIRE_H */

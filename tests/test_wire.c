/* SPDX-License-Identifier: MIT */
/*
 * test_wire.c - the pure wire codecs: NetHeader, AAD, nonce, classes, AEAD,
 * replay window, Ethernet/IPv4/UDP, ARP and ICMP echo. No EAL.
 *
 * Expected bytes are written out below. The header/AAD/nonce layouts follow
 * wire.md 1.2-1.4; the sealed packet and the frames (checksums included) were
 * produced by independent code (Python struct + cryptography's
 * ChaCha20Poly1305, i.e. OpenSSL, and an RFC 1071 sum), not by this library.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>
#include <sodium.h>

#include "nm_aead.h"
#include "nm_cksum.h"
#include "nm_drop.h"
#include "nm_error.h"
#include "nm_pkt.h"
#include "nm_replay.h"
#include "nm_wire.h"

/* ------------------------------------------------------------------ vectors */

/* Every field distinct so an offset slip shows. session 0x1122334455667788,
 * counter 0x0102030405060708 -> prefix 0x55667788 ^ 0x11223344 = 0x444444CC. */
static const uint8_t HDR_VEC[68] = {
	0x45, 0x4e, 0x01, 0x01, 0x03, 0x04, 0x05, 0x06, 0x00, 0x04, 0xef, 0xbe,
	0xcc, 0x44, 0x44, 0x44, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xa8, 0xa7, 0xa6, 0xa5,
	0xa4, 0xa3, 0xa2, 0xa1, 0xb8, 0xb7, 0xb6, 0xb5, 0xb4, 0xb3, 0xb2, 0xb1,
	0xc8, 0xc7, 0xc6, 0xc5, 0xc4, 0xc3, 0xc2, 0xc1, 0xd4, 0xd3, 0xd2, 0xd1,
	0xe2, 0xe1, 0xf2, 0xf1, 0xac, 0x1f, 0xeb, 0x07,
};

/* HDR_VEC[0..12) with hop_count (byte 6) zeroed, then HDR_VEC[24..68). */
static const uint8_t AAD_VEC[56] = {
	0x45, 0x4e, 0x01, 0x01, 0x03, 0x04, 0x00, 0x06, 0x00, 0x04, 0xef, 0xbe,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xa8, 0xa7, 0xa6, 0xa5,
	0xa4, 0xa3, 0xa2, 0xa1, 0xb8, 0xb7, 0xb6, 0xb5, 0xb4, 0xb3, 0xb2, 0xb1,
	0xc8, 0xc7, 0xc6, 0xc5, 0xc4, 0xc3, 0xc2, 0xc1, 0xd4, 0xd3, 0xd2, 0xd1,
	0xe2, 0xe1, 0xf2, 0xf1, 0xac, 0x1f, 0xeb, 0x07,
};

static const uint8_t NONCE_VEC[12] = {
	0xcc, 0x44, 0x44, 0x44, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
};

static struct nm_net_hdr hdr_vec_fields(void)
{
	struct nm_net_hdr h = {
		.magic = 0x4E45, .version = 1, .flags = NM_FLAG_RELIABLE, .priority = 3,
		.hop_ttl = 4, .hop_count = 5, .frag_flags = 6, .subprotocol_id = 0x0400,
		.channel_hash = 0xBEEF, .session_id = 0x1122334455667788ULL,
		.stream_id = 0xA1A2A3A4A5A6A7A8ULL, .sequence = 0xB1B2B3B4B5B6B7B8ULL,
		.origin_hash = 0xC1C2C3C4C5C6C7C8ULL, .subnet_id = 0xD1D2D3D4,
		.fragment_id = 0xE1E2, .fragment_offset = 0xF1F2, .payload_len = 8108,
		.event_count = 2027,
	};
	memcpy(h.nonce, NONCE_VEC, sizeof(h.nonce));
	return h;
}

/* Sealed packet: key 00..1f, session 0x1122334455667788, counter 5, flags
 * RELIABLE, subprotocol 0x0400, stream 0x0123456789ABCDEF, seq 7, origin
 * 0xFEDCBA9876543210, two EventFrames "hello" and "net". */
static const uint8_t KEY_VEC[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
#define SEAL_SESSION 0x1122334455667788ULL
#define SEAL_COUNTER 5

static const uint8_t PLAIN_VEC[16] = {
	0x05, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03, 0x00, 0x00,
	0x00, 0x6e, 0x65, 0x74,
};

static const uint8_t SEAL_AAD_VEC[56] = {
	0x45, 0x4e, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xef, 0xcd, 0xab, 0x89,
	0x67, 0x45, 0x23, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x02, 0x00,
};

static const uint8_t SEAL_NONCE_VEC[12] = {
	0xcc, 0x44, 0x44, 0x44, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t SEALED_VEC[100] = {
	0x45, 0x4e, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
	0xcc, 0x44, 0x44, 0x44, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xef, 0xcd, 0xab, 0x89,
	0x67, 0x45, 0x23, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x02, 0x00, 0x07, 0x1b, 0xc4, 0xc9,
	0xeb, 0xca, 0xc4, 0xb4, 0x0c, 0xab, 0x17, 0x3f, 0x2e, 0xaa, 0x7c, 0x98,
	0x0b, 0x95, 0x3a, 0x21, 0x48, 0x58, 0x61, 0xd7, 0x13, 0xec, 0x0b, 0xa0,
	0x61, 0xd3, 0x23, 0x13,
};

static struct nm_net_hdr seal_hdr_fields(void)
{
	struct nm_net_hdr h = {
		.magic = NM_MAGIC_NET, .version = NM_NET_VERSION, .flags = NM_FLAG_RELIABLE,
		.subprotocol_id = 0x0400, .session_id = SEAL_SESSION,
		.stream_id = 0x0123456789ABCDEFULL, .sequence = 7,
		.origin_hash = 0xFEDCBA9876543210ULL, .payload_len = sizeof(PLAIN_VEC),
		.event_count = 2,
	};
	return h;
}

/* Frames: us 02:00:00:00:00:01 10.0.0.1:7777, peer 02:00:00:00:00:02 10.0.0.2:7777. */
static const struct nm_pkt_endpoint ME = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x01 } }, .ip = RTE_IPV4(10, 0, 0, 1), .port = 7777,
};
static const struct nm_pkt_endpoint PEER = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x02 } }, .ip = RTE_IPV4(10, 0, 0, 2), .port = 7777,
};

/* ME -> PEER, ip id 0x1234, DF, TTL 64, payload "netmesh!", both checksums. */
static const uint8_t UDP_VEC[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
	0x14, 0x93, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1e, 0x61,
	0x1e, 0x61, 0x00, 0x10, 0xfe, 0xa1, 0x6e, 0x65, 0x74, 0x6d, 0x65, 0x73,
	0x68, 0x21,
};

/* Same with offload: IPv4 checksum 0, UDP checksum = pseudo-header sum 0x1424. */
static const uint8_t UDP_OFFLOAD_VEC[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
	0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1e, 0x61,
	0x1e, 0x61, 0x00, 0x10, 0x14, 0x24, 0x6e, 0x65, 0x74, 0x6d, 0x65, 0x73,
	0x68, 0x21,
};

/* PEER asks (broadcast) who has 10.0.0.1. */
static const uint8_t ARP_REQ_VEC[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x0a, 0x00, 0x00, 0x01,
};

static const uint8_t ARP_REP_VEC[42] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x0a, 0x00, 0x00, 0x02,
};

/* PEER pings ME: id 0xabcd, TTL 63, ICMP id 0x42 seq 1 data "ping". */
static const uint8_t ECHO_REQ_VEC[46] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x20, 0xab, 0xcd, 0x40, 0x00, 0x3f, 0x01,
	0x7c, 0x0d, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x08, 0x00,
	0x18, 0xec, 0x00, 0x42, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67,
};

static const uint8_t ECHO_REP_VEC[46] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x20, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01,
	0x7b, 0x0d, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00,
	0x20, 0xec, 0x00, 0x42, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67,
};

/* ------------------------------------------------------------------ helpers */

#define ck_assert_bytes(got, exp, n) ck_assert_mem_eq((got), (exp), (n))

/* RFC 1071 sum (folded, not complemented), independent of DPDK. */
static uint16_t sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recompute the IPv4 header checksum of a frame (after editing a field). */
static void ip_fix(uint8_t *f)
{
	put16(f + 24, 0);
	put16(f + 24, (uint16_t)~sum16(f + 14, 20));
}

/* Record which reasons the "drops" tests hit, to assert full coverage. */
static bool seen[NM_DROP__COUNT];

static void expect_drop_at(int rc, enum nm_drop why, enum nm_drop exp, const char *what)
{
	ck_assert_msg(rc < 0, "%s: rc %d, expected a drop", what, rc);
	ck_assert_msg(why == exp, "%s: got %s, expected %s", what, nm_drop_name(why),
		      nm_drop_name(exp));
	ck_assert_int_eq(rc, nm_drop_rc(exp));
	seen[exp] = true;
}
/* The call runs first: argument evaluation order would not guarantee it. */
#define EXPECT_DROP(call, why, exp)                               \
	do {                                                      \
		int rc_ = (call);                                 \
		expect_drop_at(rc_, (why), (exp), #exp);          \
	} while (0)

static size_t seal_vec_pkt(uint8_t *buf, size_t cap)
{
	struct nm_net_hdr h = seal_hdr_fields();
	struct nm_aead a;

	nm_hdr_encode(&h, buf);
	memcpy(buf + NM_NET_HDR_SIZE, PLAIN_VEC, sizeof(PLAIN_VEC));
	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	ck_assert_int_eq(nm_aead_seal(&a, buf, cap, SEAL_COUNTER), 0);
	return nm_net_dgram_len(h.payload_len);
}

/* ------------------------------------------------------------ drop names */

START_TEST(test_drop_names)
{
	for (int i = 0; i < NM_DROP__COUNT; i++) {
		const char *n = nm_drop_name((enum nm_drop)i);

		ck_assert_ptr_nonnull(n);
		ck_assert_str_ne(n, "?");
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(n, nm_drop_name((enum nm_drop)j));
		if (i == NM_DROP_NONE)
			ck_assert_int_eq(nm_drop_rc((enum nm_drop)i), 0);
		else
			ck_assert_int_lt(nm_drop_rc((enum nm_drop)i), 0);
	}
	ck_assert_str_eq(nm_drop_name(NM_DROP_IP_CKSUM), "ip_cksum");
	ck_assert_str_eq(nm_drop_name(NM_DROP__COUNT), "?");
	ck_assert_int_eq(nm_drop_rc(NM_DROP_AUTH), -EBADMSG);
	ck_assert_int_eq(nm_drop_rc(NM_DROP_NET_MAGIC), NM_EMALFORMED);
	ck_assert_int_eq(nm_drop_rc(NM_DROP_REPLAY_DUP), -EALREADY);
	ck_assert_int_eq(nm_drop_rc(NM_DROP_UDP_PORT), -EADDRNOTAVAIL);
}
END_TEST

/* ---------------------------------------------------------------- header */

START_TEST(test_hdr_encode_vector)
{
	struct nm_net_hdr h = hdr_vec_fields();
	uint8_t out[68];

	memset(out, 0x5a, sizeof(out));
	nm_hdr_encode(&h, out);
	ck_assert_bytes(out, HDR_VEC, 68);
}
END_TEST

START_TEST(test_hdr_decode_vector)
{
	struct nm_net_hdr h;
	enum nm_drop why = NM_DROP_NONE;
	uint8_t again[68];

	ck_assert_int_eq(nm_hdr_decode(&h, HDR_VEC, sizeof(HDR_VEC), &why), 0);
	ck_assert_uint_eq(h.magic, 0x4E45);
	ck_assert_uint_eq(h.version, 1);
	ck_assert_uint_eq(h.flags, NM_FLAG_RELIABLE);
	ck_assert_uint_eq(h.priority, 3);
	ck_assert_uint_eq(h.hop_ttl, 4);
	ck_assert_uint_eq(h.hop_count, 5);
	ck_assert_uint_eq(h.frag_flags, 6);
	ck_assert_uint_eq(h.subprotocol_id, 0x0400);
	ck_assert_uint_eq(h.channel_hash, 0xBEEF);
	ck_assert_bytes(h.nonce, NONCE_VEC, 12);
	ck_assert_uint_eq(nm_hdr_counter(&h), 0x0102030405060708ULL);
	ck_assert_uint_eq(h.session_id, 0x1122334455667788ULL);
	ck_assert_uint_eq(h.stream_id, 0xA1A2A3A4A5A6A7A8ULL);
	ck_assert_uint_eq(h.sequence, 0xB1B2B3B4B5B6B7B8ULL);
	ck_assert_uint_eq(h.origin_hash, 0xC1C2C3C4C5C6C7C8ULL);
	ck_assert_uint_eq(h.subnet_id, 0xD1D2D3D4);
	ck_assert_uint_eq(h.fragment_id, 0xE1E2);
	ck_assert_uint_eq(h.fragment_offset, 0xF1F2);
	ck_assert_uint_eq(h.payload_len, 8108);
	ck_assert_uint_eq(h.event_count, 2027);
	nm_hdr_encode(&h, again);
	ck_assert_bytes(again, HDR_VEC, 68);
}
END_TEST

/* A datagram of `plen` payload bytes built from HDR_VEC's fields. */
static size_t mk_dgram(uint8_t *buf, uint8_t flags, uint16_t plen, uint16_t events)
{
	struct nm_net_hdr h = hdr_vec_fields();

	h.flags = flags;
	h.payload_len = plen;
	h.event_count = events;
	nm_hdr_encode(&h, buf);
	return nm_net_dgram_len(plen);
}

START_TEST(test_hdr_validate_ok)
{
	static uint8_t buf[NM_NET_MAX_PACKET + 64];
	struct nm_net_hdr h;
	enum nm_drop why = NM_DROP_NONE;
	size_t n;

	n = mk_dgram(buf, 0, NM_NET_MAX_PAYLOAD, NM_NET_MAX_EVENTS); /* both limits inclusive */
	ck_assert_uint_eq(n, NM_NET_MAX_PACKET);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, n, &why), 0);
	ck_assert_int_eq(why, NM_DROP_NONE);

	/* Heartbeat: 68 + 16, payload_len 0. */
	n = mk_dgram(buf, NM_FLAG_HEARTBEAT, 0, 0);
	ck_assert_uint_eq(n, 84);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, n, &why), 0);

	/* Handshake: 68 + 48-byte Noise message, no tag; the length rule is skipped. */
	mk_dgram(buf, NM_FLAG_HANDSHAKE, 48, 0);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, 116, &why), 0);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, 120, &why), 0);
	/* ...while a data packet of the same bytes is refused. */
	mk_dgram(buf, 0, 48, 0);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, 116, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_NET_LEN_MISMATCH);
}
END_TEST

static void drops_wire(void)
{
	static uint8_t buf[NM_NET_MAX_PACKET + 64];
	struct nm_net_hdr h;
	enum nm_drop why;
	size_t n;

	why = NM_DROP_NONE;
	EXPECT_DROP(nm_hdr_decode(&h, HDR_VEC, 67, &why), why, NM_DROP_NET_SHORT);

	n = mk_dgram(buf, 0, 16, 2);
	buf[0] = 0x4E; /* "NE": the byte-swapped magic upstream's comments suggest */
	buf[1] = 0x45;
	EXPECT_DROP(nm_hdr_parse(&h, buf, n, &why), why, NM_DROP_NET_MAGIC);

	n = mk_dgram(buf, 0, 16, 2);
	buf[NM_OFF_VERSION] = 2;
	EXPECT_DROP(nm_hdr_parse(&h, buf, n, &why), why, NM_DROP_NET_VERSION);

	n = mk_dgram(buf, 0, NM_NET_MAX_PAYLOAD + 1, 1);
	EXPECT_DROP(nm_hdr_parse(&h, buf, n, &why), why, NM_DROP_NET_PAYLOAD_LEN);

	n = mk_dgram(buf, 0, 16, NM_NET_MAX_EVENTS + 1);
	EXPECT_DROP(nm_hdr_parse(&h, buf, n, &why), why, NM_DROP_NET_EVENT_COUNT);

	n = mk_dgram(buf, 0, 16, 2);
	EXPECT_DROP(nm_hdr_parse(&h, buf, n - 1, &why), why, NM_DROP_NET_LEN_MISMATCH);
	EXPECT_DROP(nm_hdr_parse(&h, buf, n + 1, &why), why, NM_DROP_NET_LEN_MISMATCH);

	mk_dgram(buf, NM_FLAG_HANDSHAKE, 48, 0);
	EXPECT_DROP(nm_hdr_parse(&h, buf, 68 + 47, &why), why, NM_DROP_NET_TRUNCATED);

	/* Classes we only count for now. */
	EXPECT_DROP(-EPROTONOSUPPORT, nm_dgram_class_drop(NM_DGRAM_KEEPALIVE),
		    NM_DROP_CLASS_KEEPALIVE);
	EXPECT_DROP(-EPROTONOSUPPORT, nm_dgram_class_drop(NM_DGRAM_PINGWAVE),
		    NM_DROP_CLASS_PINGWAVE);
	EXPECT_DROP(-EPROTONOSUPPORT, nm_dgram_class_drop(NM_DGRAM_ROUTE_HOP),
		    NM_DROP_CLASS_ROUTE_HOP);
	EXPECT_DROP(-EPROTONOSUPPORT, nm_dgram_class_drop(NM_DGRAM_ROUTED),
		    NM_DROP_CLASS_ROUTED);
	EXPECT_DROP(NM_EMALFORMED, nm_dgram_class_drop(NM_DGRAM_UNKNOWN), NM_DROP_CLASS_UNKNOWN);
	ck_assert_int_eq(nm_dgram_class_drop(NM_DGRAM_DIRECT), NM_DROP_NONE);
}

START_TEST(test_drops_wire)
{
	drops_wire();
}
END_TEST

START_TEST(test_aad_vector)
{
	uint8_t hdr[68], aad[56], aad2[56];

	nm_hdr_aad(HDR_VEC, aad);
	ck_assert_bytes(aad, AAD_VEC, 56);

	/* hop_count and the nonce are outside the AAD... */
	memcpy(hdr, HDR_VEC, 68);
	hdr[NM_OFF_HOP_COUNT] = 0x77;
	memset(hdr + NM_OFF_NONCE, 0xee, 12);
	nm_hdr_aad(hdr, aad2);
	ck_assert_bytes(aad2, AAD_VEC, 56);
	/* ...every other byte is inside. */
	for (int i = 0; i < 68; i++) {
		if (i == NM_OFF_HOP_COUNT || (i >= NM_OFF_NONCE && i < NM_OFF_SESSION_ID))
			continue;
		memcpy(hdr, HDR_VEC, 68);
		hdr[i] ^= 0x01;
		nm_hdr_aad(hdr, aad2);
		ck_assert_msg(memcmp(aad2, AAD_VEC, 56) != 0, "byte %d not in the AAD", i);
	}
}
END_TEST

START_TEST(test_nonce_vector)
{
	uint8_t n[12];

	ck_assert_uint_eq(nm_session_prefix(0x1122334455667788ULL), 0x444444CCu);
	nm_nonce_build(n, 0x1122334455667788ULL, 0x0102030405060708ULL);
	ck_assert_bytes(n, NONCE_VEC, 12);
	nm_nonce_build(n, SEAL_SESSION, SEAL_COUNTER);
	ck_assert_bytes(n, SEAL_NONCE_VEC, 12);
	/* Upstream regression: the high half of session_id must count. */
	ck_assert_uint_ne(nm_session_prefix(0x0000000112345678ULL),
			  nm_session_prefix(0xFFFFFFFF12345678ULL));
}
END_TEST

START_TEST(test_classify)
{
	uint8_t d[NM_ROUTING_HDR_SIZE + NM_NET_HDR_SIZE + 8] = { 0 };

	ck_assert_int_eq(nm_dgram_classify(d, 0), NM_DGRAM_UNKNOWN);
	ck_assert_int_eq(nm_dgram_classify(NULL, 10), NM_DGRAM_UNKNOWN);
	d[0] = 0x45, d[1] = 0x4E; /* "EN" */
	ck_assert_int_eq(nm_dgram_classify(d, 1), NM_DGRAM_UNKNOWN);
	ck_assert_int_eq(nm_dgram_classify(d, 84), NM_DGRAM_DIRECT);
	ck_assert_int_eq(nm_dgram_classify(d, 72), NM_DGRAM_DIRECT); /* not a pingwave */
	ck_assert_int_eq(nm_dgram_classify(d, 14), NM_DGRAM_DIRECT);
	d[0] = 0x50, d[1] = 0x48; /* "PH" */
	ck_assert_int_eq(nm_dgram_classify(d, 14), NM_DGRAM_KEEPALIVE);
	ck_assert_int_eq(nm_dgram_classify(d, 15), NM_DGRAM_UNKNOWN);
	ck_assert_int_eq(nm_dgram_classify(d, 72), NM_DGRAM_PINGWAVE);
	d[0] = 0x48, d[1] = 0x52; /* "HR" */
	ck_assert_int_eq(nm_dgram_classify(d, 100), NM_DGRAM_ROUTE_HOP);
	ck_assert_int_eq(nm_dgram_classify(d, 72), NM_DGRAM_PINGWAVE); /* rule 2 first */
	d[0] = 0x52, d[1] = 0x54; /* "RT" */
	ck_assert_int_eq(nm_dgram_classify(d, 86), NM_DGRAM_ROUTED);
	ck_assert_int_eq(nm_dgram_classify(d, 85), NM_DGRAM_UNKNOWN);
	ck_assert_int_eq(nm_dgram_classify(d, 72), NM_DGRAM_PINGWAVE);
	d[0] = 0x01, d[1] = 0x02; /* a pingwave's origin bytes */
	ck_assert_int_eq(nm_dgram_classify(d, 72), NM_DGRAM_PINGWAVE);
	ck_assert_int_eq(nm_dgram_classify(d, 73), NM_DGRAM_UNKNOWN);
}
END_TEST

/* ------------------------------------------------------------------ AEAD */

START_TEST(test_seal_vector)
{
	uint8_t buf[128];
	size_t n;

	memset(buf, 0xa5, sizeof(buf));
	n = seal_vec_pkt(buf, sizeof(buf));
	ck_assert_uint_eq(n, sizeof(SEALED_VEC));
	ck_assert_bytes(buf, SEALED_VEC, sizeof(SEALED_VEC));
	ck_assert_uint_eq(buf[100], 0xa5); /* nothing written past the tag */
}
END_TEST

/* An independent libsodium call, combined mode, on a separate buffer. */
START_TEST(test_seal_matches_libsodium_combined)
{
	uint8_t ct[sizeof(PLAIN_VEC) + crypto_aead_chacha20poly1305_ietf_ABYTES], aad[56];
	unsigned long long clen = 0;

	nm_hdr_aad(SEALED_VEC, aad);
	ck_assert_bytes(aad, SEAL_AAD_VEC, 56);
	ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt(
				 ct, &clen, PLAIN_VEC, sizeof(PLAIN_VEC), SEAL_AAD_VEC,
				 sizeof(SEAL_AAD_VEC), NULL, SEAL_NONCE_VEC, KEY_VEC),
			 0);
	ck_assert_uint_eq(clen, sizeof(ct));
	ck_assert_bytes(ct, SEALED_VEC + 68, sizeof(ct));
}
END_TEST

START_TEST(test_open_vector)
{
	uint8_t buf[100];
	struct nm_aead a;
	uint64_t ctr = 0;
	enum nm_drop why = NM_DROP_NONE;

	memcpy(buf, SEALED_VEC, sizeof(buf));
	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	ck_assert_int_eq(nm_aead_open(&a, buf, sizeof(buf), &ctr, &why), 0);
	ck_assert_int_eq(why, NM_DROP_NONE);
	ck_assert_uint_eq(ctr, SEAL_COUNTER);
	ck_assert_bytes(buf, SEALED_VEC, 68); /* header untouched */
	ck_assert_bytes(buf + 68, PLAIN_VEC, sizeof(PLAIN_VEC));
	nm_aead_wipe(&a);
	for (size_t i = 0; i < sizeof(a.key); i++)
		ck_assert_uint_eq(a.key[i], 0);
}
END_TEST

static int open_modified(size_t off, uint8_t xor, enum nm_drop *why)
{
	uint8_t buf[100];
	struct nm_aead a;

	memcpy(buf, SEALED_VEC, sizeof(buf));
	buf[off] ^= xor;
	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	*why = NM_DROP_NONE;
	return nm_aead_open(&a, buf, sizeof(buf), NULL, why);
}

START_TEST(test_open_tamper)
{
	enum nm_drop why;

	for (size_t i = 0; i < sizeof(SEALED_VEC); i++) {
		int rc = open_modified(i, 0x01, &why);

		if (i == NM_OFF_HOP_COUNT || (i >= NM_OFF_NONCE && i < NM_OFF_COUNTER)) {
			/* hop_count is mutable in transit; the prefix is rebuilt from the session. */
			ck_assert_msg(rc == 0, "byte %zu should not be authenticated", i);
		} else if (i == NM_OFF_PAYLOAD_LEN || i == NM_OFF_PAYLOAD_LEN + 1) {
			ck_assert_msg(rc == NM_EMALFORMED, "byte %zu", i);
			ck_assert(why == NM_DROP_NET_LEN_MISMATCH || why == NM_DROP_NET_PAYLOAD_LEN);
		} else {
			/* Every other header byte (via the AAD or the counter), body and tag. */
			ck_assert_msg(rc == -EBADMSG, "byte %zu not authenticated", i);
			ck_assert_int_eq(why, NM_DROP_AUTH);
		}
	}
}
END_TEST

START_TEST(test_open_wrong_session)
{
	uint8_t buf[100], key[32];
	struct nm_aead a;
	enum nm_drop why = NM_DROP_NONE;

	memcpy(buf, SEALED_VEC, sizeof(buf));
	nm_aead_init(&a, KEY_VEC, SEAL_SESSION ^ 1); /* other prefix */
	ck_assert_int_eq(nm_aead_open(&a, buf, sizeof(buf), NULL, &why), -EBADMSG);
	ck_assert_int_eq(why, NM_DROP_AUTH);

	memcpy(buf, SEALED_VEC, sizeof(buf));
	memcpy(key, KEY_VEC, 32);
	key[31] ^= 0x80;
	nm_aead_init(&a, key, SEAL_SESSION);
	ck_assert_int_eq(nm_aead_open(&a, buf, sizeof(buf), NULL, &why), -EBADMSG);
}
END_TEST

START_TEST(test_seal_open_heartbeat)
{
	struct nm_net_hdr h = { .magic = NM_MAGIC_NET, .version = 1, .flags = NM_FLAG_HEARTBEAT,
				.session_id = 42 };
	uint8_t buf[84];
	struct nm_aead a;
	uint64_t ctr = 0;

	nm_hdr_encode(&h, buf);
	nm_aead_init(&a, KEY_VEC, 42);
	ck_assert_int_eq(nm_aead_seal(&a, buf, sizeof(buf), 9), 0);
	ck_assert_uint_eq(nm_get_le64(buf + NM_OFF_COUNTER), 9);
	ck_assert_uint_eq(nm_get_le32(buf + NM_OFF_NONCE), 42);
	ck_assert_int_eq(nm_aead_open(&a, buf, sizeof(buf), &ctr, NULL), 0);
	ck_assert_uint_eq(ctr, 9);
	buf[80] ^= 1;
	ck_assert_int_eq(nm_aead_open(&a, buf, sizeof(buf), &ctr, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_seal_errors)
{
	uint8_t buf[100];
	struct nm_aead a;

	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	memcpy(buf, SEALED_VEC, sizeof(buf));
	ck_assert_int_eq(nm_aead_seal(&a, buf, 99, 1), -ENOSPC);
	ck_assert_int_eq(nm_aead_seal(&a, buf, 67, 1), -EINVAL);
	ck_assert_int_eq(nm_aead_seal(NULL, buf, 100, 1), -EINVAL);
	ck_assert_bytes(buf, SEALED_VEC, sizeof(buf)); /* refused calls write nothing */
	nm_put_le16(buf + NM_OFF_PAYLOAD_LEN, NM_NET_MAX_PAYLOAD + 1);
	ck_assert_int_eq(nm_aead_seal(&a, buf, sizeof(buf), 1), -EMSGSIZE);
}
END_TEST

/* ---------------------------------------------------------------- replay */

START_TEST(test_replay_in_order)
{
	struct nm_replay w;
	enum nm_drop why = NM_DROP_NONE;

	nm_replay_init(&w);
	for (uint64_t c = 0; c < 3000; c++) {
		ck_assert_int_eq(nm_replay_classify(&w, c), NM_REPLAY_FRESH);
		ck_assert_int_eq(nm_replay_check(&w, c, &why), 0);
		ck_assert_int_eq(nm_replay_commit(&w, c, &why), 0);
	}
	ck_assert_uint_eq(w.next, 3000);
	ck_assert_int_eq(why, NM_DROP_NONE);
}
END_TEST

START_TEST(test_replay_reorder_within_window)
{
	struct nm_replay w;

	nm_replay_init(&w);
	ck_assert_int_eq(nm_replay_commit(&w, 2000, NULL), 0);
	/* Oldest in-window counter is 2000 - 1023 = 977. */
	ck_assert_int_eq(nm_replay_classify(&w, 977), NM_REPLAY_LATE);
	ck_assert_int_eq(nm_replay_commit(&w, 977, NULL), 0);
	ck_assert_int_eq(nm_replay_classify(&w, 1999), NM_REPLAY_LATE);
	ck_assert_int_eq(nm_replay_commit(&w, 1999, NULL), 0);
	ck_assert_int_eq(nm_replay_commit(&w, 1500, NULL), 0);
	/* Going forward again keeps what was seen (bits cross word boundaries). */
	ck_assert_int_eq(nm_replay_commit(&w, 2070, NULL), 0);
	ck_assert_int_eq(nm_replay_classify(&w, 1999), NM_REPLAY_DUP);
	ck_assert_int_eq(nm_replay_classify(&w, 1500), NM_REPLAY_DUP);
	ck_assert_int_eq(nm_replay_classify(&w, 2000), NM_REPLAY_DUP);
	ck_assert_int_eq(nm_replay_classify(&w, 2069), NM_REPLAY_LATE);
	ck_assert_int_eq(nm_replay_classify(&w, 977), NM_REPLAY_OLD); /* slid out */
	ck_assert_int_eq(nm_replay_classify(&w, 2070 - 1023), NM_REPLAY_LATE);
}
END_TEST

static void drops_replay(void)
{
	struct nm_replay w;
	enum nm_drop why = NM_DROP_NONE;

	nm_replay_init(&w);
	ck_assert_int_eq(nm_replay_commit(&w, 2000, &why), 0);
	/* Duplicate: the check refuses it, and so does a second commit. */
	EXPECT_DROP(nm_replay_check(&w, 2000, &why), why, NM_DROP_REPLAY_DUP);
	EXPECT_DROP(nm_replay_commit(&w, 2000, &why), why, NM_DROP_REPLAY_DUP);
	/* Too old: one below the window. */
	EXPECT_DROP(nm_replay_check(&w, 976, &why), why, NM_DROP_REPLAY_OLD);
	EXPECT_DROP(nm_replay_commit(&w, 976, &why), why, NM_DROP_REPLAY_OLD);
	EXPECT_DROP(nm_replay_check(&w, 0, &why), why, NM_DROP_REPLAY_OLD);
	/* Ceiling: u64::MAX is never admitted. */
	EXPECT_DROP(nm_replay_check(&w, UINT64_MAX, &why), why, NM_DROP_REPLAY_CEILING);
	EXPECT_DROP(nm_replay_commit(&w, UINT64_MAX, &why), why, NM_DROP_REPLAY_CEILING);
	ck_assert_uint_eq(w.next, 2001);
}

START_TEST(test_drops_replay)
{
	drops_replay();
}
END_TEST

START_TEST(test_replay_check_is_read_only)
{
	struct nm_replay w, before;

	nm_replay_init(&w);
	ck_assert_int_eq(nm_replay_commit(&w, 10, NULL), 0);
	before = w;
	ck_assert_int_eq(nm_replay_check(&w, 5, NULL), 0);
	ck_assert_int_eq(nm_replay_check(&w, 5, NULL), 0);
	ck_assert_int_eq(nm_replay_check(&w, 5000, NULL), 0);
	ck_assert_mem_eq(&w, &before, sizeof(w));
	/* Two copies that both passed check: only the first commit wins. */
	ck_assert_int_eq(nm_replay_commit(&w, 5, NULL), 0);
	ck_assert_int_eq(nm_replay_commit(&w, 5, NULL), -EALREADY);
}
END_TEST

START_TEST(test_replay_forward_jump)
{
	struct nm_replay w;

	nm_replay_init(&w);
	ck_assert_int_eq(nm_replay_commit(&w, 10, NULL), 0);
	/* 1023 ahead: the window slides and 10 is still remembered. */
	ck_assert_int_eq(nm_replay_classify(&w, 10 + 1023), NM_REPLAY_FRESH);
	ck_assert_int_eq(nm_replay_commit(&w, 10 + 1023, NULL), 0);
	ck_assert_int_eq(nm_replay_classify(&w, 10), NM_REPLAY_DUP);
	ck_assert_int_eq(nm_replay_classify(&w, 11), NM_REPLAY_LATE);
	/* 1024 or more ahead: accepted (upstream's production path), bitmap cleared. */
	ck_assert_int_eq(nm_replay_classify(&w, 1033 + 1024), NM_REPLAY_JUMP);
	ck_assert_int_eq(nm_replay_commit(&w, 1033 + 1024, NULL), 0);
	ck_assert_int_eq(nm_replay_classify(&w, 1033 + 1024), NM_REPLAY_DUP);
	ck_assert_int_eq(nm_replay_classify(&w, 1033), NM_REPLAY_OLD);
	ck_assert_int_eq(nm_replay_classify(&w, 1034), NM_REPLAY_LATE);
	/* Far jumps too. */
	ck_assert_int_eq(nm_replay_commit(&w, UINT64_C(1) << 40, NULL), 0);
	ck_assert_uint_eq(w.next, (UINT64_C(1) << 40) + 1);
	ck_assert_uint_eq(w.bitmap[0], 1);
	for (int i = 1; i < NM_REPLAY_WORDS; i++)
		ck_assert_uint_eq(w.bitmap[i], 0);
}
END_TEST

START_TEST(test_replay_ceiling)
{
	struct nm_replay w;

	nm_replay_init(&w);
	ck_assert_int_eq(nm_replay_commit(&w, UINT64_MAX - 2, NULL), 0);
	ck_assert_int_eq(nm_replay_commit(&w, UINT64_MAX - 1, NULL), 0);
	/* The window is exhausted: nothing more, not even an unseen late counter. */
	ck_assert_int_eq(nm_replay_classify(&w, UINT64_MAX - 3), NM_REPLAY_CEILING);
	ck_assert_int_eq(nm_replay_commit(&w, UINT64_MAX - 3, NULL), -EALREADY);
}
END_TEST

/* Against a naive model of wire.md 2.5: a set of seen counters and the highest. */
/*
 * The window against a model of every counter seen, on a reproducible mix:
 * mostly near the highest, late by up to 1200; with far != 0, one step in
 * `far` jumps 900 to 1299 ahead (runs of skipped bits across words, and jumps
 * of the whole window).
 */
static void replay_model(unsigned far)
{
	enum { SPAN = 60000 };
	static bool model[SPAN];
	struct nm_replay w;
	int64_t highest = -1;
	uint32_t x = 12345;

	memset(model, 0, sizeof(model));
	nm_replay_init(&w);
	for (int i = 0; i < 200000; i++) {
		uint64_t c;
		bool accept;

		x = x * 1103515245u + 12345u; /* fixed LCG: a reproducible mix of patterns */
		c = (uint64_t)(highest < 0 ? 0 : highest) + (x >> 8) % 1400;
		c = c >= 1200 ? c - 1200 : c;
		if (far != 0 && (x >> 4) % far == 0)
			c = (uint64_t)(highest < 0 ? 0 : highest) + 900 + (x >> 12) % 400;
		if (c >= SPAN)
			break;
		accept = (int64_t)c > highest || (highest - (int64_t)c < NM_REPLAY_WINDOW && !model[c]);
		ck_assert_msg((nm_replay_commit(&w, c, NULL) == 0) == accept, "ctr %llu step %d",
			      (unsigned long long)c, i);
		if (accept) {
			model[c] = true;
			if ((int64_t)c > highest)
				highest = (int64_t)c;
		}
	}
	ck_assert_int_gt(highest, 3000);
}

START_TEST(test_replay_model)
{
	replay_model(0);
	replay_model(16);
}
END_TEST

/* --------------------------------------------------- a full RX sequence */

START_TEST(test_rx_sequence)
{
	uint8_t buf[128], copy[100];
	struct nm_net_hdr h;
	struct nm_replay w;
	struct nm_aead a;
	enum nm_drop why = NM_DROP_NONE;
	uint64_t ctr;
	size_t n = seal_vec_pkt(buf, sizeof(buf));

	memcpy(copy, buf, n);
	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	nm_replay_init(&w);

	/* classify -> parse -> check -> open -> commit */
	ck_assert_int_eq(nm_dgram_classify(buf, n), NM_DGRAM_DIRECT);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, n, &why), 0);
	ck_assert_int_eq(nm_replay_check(&w, nm_hdr_counter(&h), &why), 0);
	ck_assert_int_eq(nm_aead_open(&a, buf, n, &ctr, &why), 0);
	ck_assert_int_eq(nm_replay_commit(&w, ctr, &why), 0);

	/* A forged copy with a fresh counter fails the tag and leaves the window alone. */
	memcpy(buf, copy, n);
	nm_put_le64(buf + NM_OFF_COUNTER, 6);
	ck_assert_int_eq(nm_replay_check(&w, 6, &why), 0);
	ck_assert_int_eq(nm_aead_open(&a, buf, n, &ctr, &why), -EBADMSG);
	ck_assert_int_eq(nm_replay_classify(&w, 6), NM_REPLAY_FRESH);

	/* The replayed genuine packet stops at the check. */
	memcpy(buf, copy, n);
	ck_assert_int_eq(nm_hdr_parse(&h, buf, n, &why), 0);
	ck_assert_int_eq(nm_replay_check(&w, nm_hdr_counter(&h), &why), -EALREADY);
	ck_assert_int_eq(why, NM_DROP_REPLAY_DUP);
}
END_TEST

static void drops_crypto(void)
{
	uint8_t buf[100];
	struct nm_aead a;
	enum nm_drop why = NM_DROP_NONE;

	nm_aead_init(&a, KEY_VEC, SEAL_SESSION);
	memcpy(buf, SEALED_VEC, sizeof(buf));
	buf[70] ^= 0x10;
	EXPECT_DROP(nm_aead_open(&a, buf, sizeof(buf), NULL, &why), why, NM_DROP_AUTH);
	memcpy(buf, SEALED_VEC, sizeof(buf));
	EXPECT_DROP(nm_aead_open(&a, buf, 99, NULL, &why), why, NM_DROP_NET_LEN_MISMATCH);
	EXPECT_DROP(nm_aead_open(&a, buf, 50, NULL, &why), why, NM_DROP_NET_SHORT);
	nm_put_le16(buf + NM_OFF_PAYLOAD_LEN, 9000);
	EXPECT_DROP(nm_aead_open(&a, buf, sizeof(buf), NULL, &why), why, NM_DROP_NET_PAYLOAD_LEN);
	drops_replay();
}

START_TEST(test_drops_crypto)
{
	drops_crypto();
}
END_TEST

/* ------------------------------------------------------------ Eth/IPv4/UDP */

START_TEST(test_build_udp_vector)
{
	uint8_t f[64];

	memset(f, 0xcc, sizeof(f));
	memcpy(f + NM_PKT_DATA_OFF, "netmesh!", 8);
	ck_assert_int_eq(nm_pkt_build_udp(f, sizeof(f), &ME, &PEER, 0x1234, 8, 0), 0);
	ck_assert_bytes(f, UDP_VEC, sizeof(UDP_VEC));
	ck_assert_uint_eq(f[sizeof(UDP_VEC)], 0xcc);

	memcpy(f + NM_PKT_DATA_OFF, "netmesh!", 8);
	ck_assert_int_eq(nm_pkt_build_udp(f, sizeof(f), &ME, &PEER, 0x1234, 8,
					  NM_PKT_TX_IP_CKSUM_OFFLOAD | NM_PKT_TX_UDP_CKSUM_OFFLOAD),
			 0);
	ck_assert_bytes(f, UDP_OFFLOAD_VEC, sizeof(UDP_OFFLOAD_VEC));
}
END_TEST

START_TEST(test_build_udp_errors)
{
	uint8_t f[64];

	ck_assert_int_eq(nm_pkt_build_udp(f, 49, &ME, &PEER, 1, 8, 0), -ENOSPC);
	ck_assert_int_eq(nm_pkt_build_udp(f, sizeof(f), &ME, &PEER, 1, 65536 - 28, 0), -EMSGSIZE);
	ck_assert_int_eq(nm_pkt_build_udp(NULL, sizeof(f), &ME, &PEER, 1, 8, 0), -EINVAL);
}
END_TEST

/* A whole Net datagram through build -> parse: the appliance talking to itself. */
START_TEST(test_build_parse_roundtrip)
{
	uint8_t f[NM_PKT_DATA_OFF + 100];
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;

	memcpy(f + NM_PKT_DATA_OFF, SEALED_VEC, sizeof(SEALED_VEC));
	ck_assert_int_eq(nm_pkt_build_udp(f, sizeof(f), &PEER, &ME, 7, sizeof(SEALED_VEC), 0), 0);
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &ME, 0, &pi, &why), 0);
	ck_assert_int_eq(pi.kind, NM_PKT_UDP);
	ck_assert_uint_eq(pi.data_off, 42);
	ck_assert_uint_eq(pi.data_len, sizeof(SEALED_VEC));
	ck_assert_bytes(f + pi.data_off, SEALED_VEC, sizeof(SEALED_VEC));
	ck_assert_int_eq(nm_dgram_classify(f + pi.data_off, pi.data_len), NM_DGRAM_DIRECT);
}
END_TEST

START_TEST(test_parse_udp_vector)
{
	uint8_t f[80];
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;

	/* UDP_VEC is addressed to PEER: parse it as PEER. */
	memcpy(f, UDP_VEC, sizeof(UDP_VEC));
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(UDP_VEC), &PEER, 0, &pi, &why), 0);
	ck_assert_int_eq(why, NM_DROP_NONE);
	ck_assert_int_eq(pi.kind, NM_PKT_UDP);
	ck_assert_bytes(pi.src.mac.addr_bytes, ME.mac.addr_bytes, 6);
	ck_assert_uint_eq(pi.src.ip, RTE_IPV4(10, 0, 0, 1));
	ck_assert_uint_eq(pi.src.port, 7777);
	ck_assert_uint_eq(pi.dst_ip, RTE_IPV4(10, 0, 0, 2));
	ck_assert_uint_eq(pi.dst_port, 7777);
	ck_assert_uint_eq(pi.l4_off, 34);
	ck_assert_uint_eq(pi.data_off, 42);
	ck_assert_uint_eq(pi.data_len, 8);

	/* Ethernet padding past total_length is fine. */
	memset(f + sizeof(UDP_VEC), 0, sizeof(f) - sizeof(UDP_VEC));
	ck_assert_int_eq(nm_pkt_parse(f, 64, &PEER, 0, &pi, &why), 0);
	ck_assert_uint_eq(pi.data_len, 8);

	/* Broadcast destination MAC is accepted (the IPv4 address still decides). */
	memset(f, 0xff, 6);
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(UDP_VEC), &PEER, 0, &pi, &why), 0);

	/* UDP checksum 0 = none, allowed on IPv4. */
	memcpy(f, UDP_VEC, sizeof(UDP_VEC));
	put16(f + 40, 0);
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(UDP_VEC), &PEER, 0, &pi, &why), 0);

	ck_assert_int_eq(nm_pkt_parse(NULL, 10, &PEER, 0, &pi, &why), -EINVAL);
}
END_TEST

START_TEST(test_parse_checksums)
{
	uint8_t f[50];
	struct nm_pkt_info pi;
	enum nm_drop why;

	/* Corrupted IPv4 header checksum; the NIC's "good" flag skips the software check. */
	memcpy(f, UDP_VEC, sizeof(f));
	f[25] ^= 0x01;
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, 0, &pi, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_IP_CKSUM);
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, NM_PKT_RX_IP_CKSUM_GOOD, &pi, &why), 0);

	/* Corrupted payload byte: the UDP checksum catches it. */
	memcpy(f, UDP_VEC, sizeof(f));
	f[45] ^= 0x20;
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, 0, &pi, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_UDP_CKSUM);
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, NM_PKT_RX_L4_CKSUM_GOOD, &pi, &why), 0);

	/* Corrupted UDP checksum field itself. */
	memcpy(f, UDP_VEC, sizeof(f));
	f[41] ^= 0x01;
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, 0, &pi, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_UDP_CKSUM);

	/* 0xFFFF is a valid encoding of a zero sum: built frames verify whatever the data. */
	for (int v = 0; v < 256; v++) {
		uint8_t g[NM_PKT_DATA_OFF + 2] = { 0 };

		g[NM_PKT_DATA_OFF] = (uint8_t)v;
		g[NM_PKT_DATA_OFF + 1] = (uint8_t)(255 - v);
		ck_assert_int_eq(nm_pkt_build_udp(g, sizeof(g), &ME, &PEER, (uint16_t)v, 2, 0), 0);
		ck_assert_uint_ne(g[40] << 8 | g[41], 0);
		ck_assert_int_eq(nm_pkt_parse(g, sizeof(g), &PEER, 0, &pi, &why), 0);
	}
}
END_TEST

/* nm_pkt_parse against nm_pkt_parse_ref: code, reason and fields, for one frame. */
static void parse_agrees(const uint8_t *f, size_t len, unsigned rx_flags)
{
	struct nm_pkt_info a, b;
	enum nm_drop wa = NM_DROP_NONE, wb = NM_DROP_NONE;
	int ra = nm_pkt_parse(f, len, &PEER, rx_flags, &a, &wa);
	ck_assert_int_eq(ra, nm_pkt_parse_ref(f, len, &PEER, rx_flags, &b, &wb));
	ck_assert_int_eq(wa, wb);
	if (ra != 0)
		return;
	ck_assert_int_eq(a.kind, b.kind);
	ck_assert_bytes(a.src.mac.addr_bytes, b.src.mac.addr_bytes, 6);
	ck_assert_uint_eq(a.src.ip, b.src.ip);
	ck_assert_uint_eq(a.src.port, b.src.port);
	ck_assert_uint_eq(a.dst_ip, b.dst_ip);
	ck_assert_uint_eq(a.dst_port, b.dst_port);
	ck_assert_uint_eq(a.l4_off, b.l4_off);
	ck_assert_uint_eq(a.data_off, b.data_off);
	ck_assert_uint_eq(a.data_len, b.data_len);
}

/*
 * The one-pass path for the common frame decides as every check in order:
 * each bit of each header byte flipped, each length, each NIC flag, and the
 * veth "partial" checksum (the pseudo-header sum alone).
 */
START_TEST(test_parse_fast_agrees_with_ref)
{
	uint8_t f[sizeof(UDP_VEC)];
	for (unsigned flags = 0; flags < 4; flags++) {
		for (size_t len = 0; len <= sizeof(UDP_VEC); len++)
			parse_agrees(UDP_VEC, len, flags);
		for (size_t i = 0; i < NM_PKT_DATA_OFF + 2; i++)
			for (unsigned bit = 0; bit < 8; bit++) {
				memcpy(f, UDP_VEC, sizeof(f));
				f[i] ^= (uint8_t)(1u << bit);
				parse_agrees(f, sizeof(f), flags);
			}
		memcpy(f, UDP_VEC, sizeof(f));
		const uint16_t phdr = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)(f + 14), 0);
		memcpy(f + 40, &phdr, 2);
		parse_agrees(f, sizeof(f), flags);
		struct nm_pkt_info pi;
		ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &PEER, flags, &pi, NULL), 0);
	}
}
END_TEST

/* UDP_VEC, addressed to PEER, after `edit`, with the IPv4 checksum fixed. */
static int parse_edited(uint8_t *f, size_t len, enum nm_drop *why)
{
	struct nm_pkt_info pi;

	*why = NM_DROP_NONE;
	return nm_pkt_parse(f, len, &PEER, 0, &pi, why);
}

static void drops_pkt(void)
{
	uint8_t f[64];
	enum nm_drop why;
	struct nm_pkt_endpoint other = PEER;

#define FRESH() memcpy(f, UDP_VEC, sizeof(UDP_VEC))
	FRESH();
	EXPECT_DROP(parse_edited(f, 13, &why), why, NM_DROP_ETH_SHORT);
	EXPECT_DROP(parse_edited(f, 33, &why), why, NM_DROP_ETH_SHORT);
	FRESH();
	f[5] = 0x09;
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_ETH_NOT_OURS);
	FRESH();
	put16(f + 12, 0x86DD);
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_ETH_TYPE);
	FRESH();
	f[14] = 0x65, ip_fix(f); /* version 6 */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_BAD_HDR);
	FRESH();
	f[14] = 0x44, ip_fix(f); /* IHL 4 */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_BAD_HDR);
	FRESH();
	f[14] = 0x46; /* IHL 6: options */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_OPTIONS);
	FRESH();
	put16(f + 16, 37), ip_fix(f); /* total_length past the frame */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_LEN);
	FRESH();
	put16(f + 16, 19), ip_fix(f);
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_LEN);
	FRESH();
	f[25] ^= 0xff;
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_CKSUM);
	FRESH();
	f[33] = 0x03, ip_fix(f); /* 10.0.0.3 */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_NOT_OURS);
	FRESH();
	put16(f + 20, 0x2000), ip_fix(f); /* MF */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_FRAGMENT);
	FRESH();
	put16(f + 20, 0x0001), ip_fix(f); /* offset 8 */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_FRAGMENT);
	FRESH();
	f[23] = 6, ip_fix(f); /* TCP */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_IP_PROTO);
	FRESH();
	put16(f + 38, 15); /* UDP length != IP payload */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_UDP_LEN);
	FRESH();
	put16(f + 16, 24), ip_fix(f); /* room for no UDP header */
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_UDP_LEN);
	FRESH();
	f[45] ^= 1;
	EXPECT_DROP(parse_edited(f, 50, &why), why, NM_DROP_UDP_CKSUM);
	FRESH();
	other.port = 7778;
	why = NM_DROP_NONE;
	{
		struct nm_pkt_info pi;

		EXPECT_DROP(nm_pkt_parse(f, 50, &other, 0, &pi, &why), why, NM_DROP_UDP_PORT);
	}
#undef FRESH
}

START_TEST(test_drops_pkt)
{
	drops_pkt();
}
END_TEST

/* ------------------------------------------------------------ ARP and ICMP */

START_TEST(test_arp_reply_vector)
{
	uint8_t f[60] = { 0 };
	struct nm_pkt_info pi;
	size_t n = 0;
	enum nm_drop why = NM_DROP_NONE;

	/* Padded to the Ethernet minimum, as it arrives from a NIC. */
	memcpy(f, ARP_REQ_VEC, sizeof(ARP_REQ_VEC));
	ck_assert_int_eq(nm_pkt_parse(f, sizeof(f), &ME, 0, &pi, &why), 0);
	ck_assert_int_eq(pi.kind, NM_PKT_ARP);
	ck_assert_int_eq(nm_pkt_arp_reply(f, sizeof(f), &ME, &n, &why), 0);
	ck_assert_uint_eq(n, 42);
	ck_assert_bytes(f, ARP_REP_VEC, sizeof(ARP_REP_VEC));

	/* A unicast request (cache refresh) is answered too. */
	memcpy(f, ARP_REQ_VEC, sizeof(ARP_REQ_VEC));
	memcpy(f, ME.mac.addr_bytes, 6);
	ck_assert_int_eq(nm_pkt_arp_reply(f, 42, &ME, &n, &why), 0);
	ck_assert_bytes(f, ARP_REP_VEC, sizeof(ARP_REP_VEC));
}
END_TEST

/* PEER asks who has ME.ip: the same bytes as the request vector, written by hand. */
START_TEST(test_arp_request_vector)
{
	uint8_t f[64];
	size_t n = 0;

	memset(f, 0xa5, sizeof(f));
	ck_assert_int_eq(nm_pkt_arp_request(f, sizeof(f), &PEER, ME.ip, &n), 0);
	ck_assert_uint_eq(n, 42);
	ck_assert_bytes(f, ARP_REQ_VEC, sizeof(ARP_REQ_VEC));
	ck_assert_uint_eq(f[42], 0xa5); /* nothing written past the request */

	/* Exactly 42 bytes of room is enough; one less is not, and nothing is written. */
	memset(f, 0, sizeof(f));
	ck_assert_int_eq(nm_pkt_arp_request(f, 42, &PEER, ME.ip, NULL), 0);
	ck_assert_bytes(f, ARP_REQ_VEC, sizeof(ARP_REQ_VEC));
	memset(f, 0, sizeof(f));
	ck_assert_int_eq(nm_pkt_arp_request(f, 41, &PEER, ME.ip, &n), -ENOSPC);
	ck_assert_uint_eq(f[0], 0);
	ck_assert_int_eq(nm_pkt_arp_request(NULL, 42, &PEER, ME.ip, &n), -EINVAL);
	ck_assert_int_eq(nm_pkt_arp_request(f, 42, NULL, ME.ip, &n), -EINVAL);
}
END_TEST

/* The requester reads the reply ME sent back: request -> reply -> sender. */
START_TEST(test_arp_reply_sender)
{
	uint8_t f[60] = { 0 };
	size_t n = 0;
	enum nm_drop why = NM_DROP_NONE;
	struct nm_pkt_endpoint s;
	struct nm_pkt_endpoint other = PEER;

	ck_assert_int_eq(nm_pkt_arp_request(f, sizeof(f), &PEER, ME.ip, &n), 0);
	ck_assert_int_eq(nm_pkt_arp_reply(f, sizeof(f), &ME, &n, &why), 0);
	ck_assert_bytes(f, ARP_REP_VEC, sizeof(ARP_REP_VEC));
	ck_assert_int_eq(nm_pkt_arp_reply_sender(f, sizeof(f), &PEER, &s, &why), 0);
	ck_assert_bytes(s.mac.addr_bytes, ME.mac.addr_bytes, 6);
	ck_assert_uint_eq(s.ip, ME.ip);
	ck_assert_uint_eq(s.port, 0);

	/* A request is not a reply; a reply for another address is not ours. */
	EXPECT_DROP(nm_pkt_arp_reply_sender(ARP_REQ_VEC, 42, &ME, &s, &why), why,
		    NM_DROP_ARP_IGNORED);
	other.ip = RTE_IPV4(10, 0, 0, 9);
	EXPECT_DROP(nm_pkt_arp_reply_sender(ARP_REP_VEC, 42, &other, &s, &why), why,
		    NM_DROP_ARP_IGNORED);
	EXPECT_DROP(nm_pkt_arp_reply_sender(ARP_REP_VEC, 41, &PEER, &s, &why), why,
		    NM_DROP_ARP_BAD);
	EXPECT_DROP(nm_pkt_arp_reply_sender(ARP_REP_VEC, 42, &ME, &s, &why), why,
		    NM_DROP_ETH_NOT_OURS);
	EXPECT_DROP(nm_pkt_arp_reply_sender(UDP_VEC, sizeof(UDP_VEC), &PEER, &s, &why), why,
		    NM_DROP_ETH_TYPE);
	ck_assert_int_eq(nm_pkt_arp_reply_sender(NULL, 42, &PEER, &s, &why), -EINVAL);
}
END_TEST

START_TEST(test_icmp_echo_reply_vector)
{
	uint8_t f[64] = { 0 };
	struct nm_pkt_info pi;
	size_t n = 0;
	enum nm_drop why = NM_DROP_NONE;

	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC));
	ck_assert_int_eq(nm_pkt_parse(f, 60, &ME, 0, &pi, &why), 0);
	ck_assert_int_eq(pi.kind, NM_PKT_ICMP);
	ck_assert_uint_eq(pi.data_len, 12);
	ck_assert_int_eq(nm_pkt_icmp_echo_reply(f, 60, &ME, 0, &n, &why), 0);
	ck_assert_uint_eq(n, sizeof(ECHO_REP_VEC));
	ck_assert_bytes(f, ECHO_REP_VEC, sizeof(ECHO_REP_VEC));
	/* The reply is a well-formed frame for the peer. */
	ck_assert_int_eq(nm_pkt_parse(f, n, &PEER, 0, &pi, &why), 0);
	ck_assert_int_eq(pi.kind, NM_PKT_ICMP);
}
END_TEST

static void drops_arp_icmp(void)
{
	uint8_t f[64];
	size_t n;
	enum nm_drop why = NM_DROP_NONE;
	struct nm_pkt_endpoint other = ME;

	memcpy(f, ARP_REQ_VEC, 42);
	EXPECT_DROP(nm_pkt_arp_reply(f, 12, &ME, &n, &why), why, NM_DROP_ETH_SHORT);
	EXPECT_DROP(nm_pkt_arp_reply(f, 30, &ME, &n, &why), why, NM_DROP_ARP_BAD);
	f[15] = 6; /* htype 6 (IEEE 802) */
	EXPECT_DROP(nm_pkt_arp_reply(f, 42, &ME, &n, &why), why, NM_DROP_ARP_BAD);
	memcpy(f, ARP_REQ_VEC, 42);
	f[21] = 2; /* a reply, not a request */
	EXPECT_DROP(nm_pkt_arp_reply(f, 42, &ME, &n, &why), why, NM_DROP_ARP_IGNORED);
	memcpy(f, ARP_REQ_VEC, 42);
	other.ip = RTE_IPV4(10, 0, 0, 9); /* asks for someone else */
	EXPECT_DROP(nm_pkt_arp_reply(f, 42, &other, &n, &why), why, NM_DROP_ARP_IGNORED);
	memcpy(f, ARP_REQ_VEC, 42);
	memcpy(f, PEER.mac.addr_bytes, 6); /* unicast to another host */
	EXPECT_DROP(nm_pkt_arp_reply(f, 42, &ME, &n, &why), why, NM_DROP_ETH_NOT_OURS);
	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC));
	EXPECT_DROP(nm_pkt_arp_reply(f, sizeof(ECHO_REQ_VEC), &ME, &n, &why), why,
		    NM_DROP_ETH_TYPE);

	/* ICMP */
	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC));
	f[36] ^= 0x01;
	EXPECT_DROP(nm_pkt_icmp_echo_reply(f, sizeof(ECHO_REQ_VEC), &ME, 0, &n, &why), why,
		    NM_DROP_ICMP_CKSUM);
	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC));
	f[34] = 13; /* timestamp request, checksum kept valid */
	put16(f + 36, 0);
	put16(f + 36, (uint16_t)~sum16(f + 34, 12));
	EXPECT_DROP(nm_pkt_icmp_echo_reply(f, sizeof(ECHO_REQ_VEC), &ME, 0, &n, &why), why,
		    NM_DROP_ICMP_IGNORED);
	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC));
	put16(f + 16, 24), ip_fix(f); /* 4 bytes of ICMP */
	EXPECT_DROP(nm_pkt_icmp_echo_reply(f, sizeof(ECHO_REQ_VEC), &ME, 0, &n, &why), why,
		    NM_DROP_ICMP_BAD);
	memcpy(f, UDP_VEC, sizeof(UDP_VEC)); /* not ICMP at all */
	EXPECT_DROP(nm_pkt_icmp_echo_reply(f, sizeof(UDP_VEC), &PEER, 0, &n, &why), why,
		    NM_DROP_IP_PROTO);
	memcpy(f, ECHO_REQ_VEC, sizeof(ECHO_REQ_VEC)); /* to another address */
	EXPECT_DROP(nm_pkt_icmp_echo_reply(f, sizeof(ECHO_REQ_VEC), &other, 0, &n, &why), why,
		    NM_DROP_IP_NOT_OURS);
}

START_TEST(test_drops_arp_icmp)
{
	drops_arp_icmp();
}
END_TEST

/* Every reason in the enum is produced by some input above. */
START_TEST(test_drops_all_covered)
{
	memset(seen, 0, sizeof(seen));
	drops_wire();
	drops_crypto();
	drops_pkt();
	drops_arp_icmp();
	for (int d = 1; d < NM_DROP_FIRST_PATH; d++)
		ck_assert_msg(seen[d], "drop reason %s never produced", nm_drop_name((enum nm_drop)d));
}
END_TEST

/* ------------------------------------------------------------------ checksum */

static void fill_pseudo_random(uint8_t *b, size_t n)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
}

/* nm_cksum_raw is rte_raw_cksum: every length and alignment up to 2 KiB, and the extremes. */
START_TEST(test_cksum_matches_dpdk)
{
	static uint8_t buf[65536 + 8];
	fill_pseudo_random(buf, sizeof(buf));
	for (size_t len = 0; len <= 2100; len++)
		for (size_t off = 0; off < 4; off++)
			ck_assert_uint_eq(nm_cksum_raw(buf + off, len), rte_raw_cksum(buf + off, len));
	ck_assert_uint_eq(nm_cksum_raw(buf + 3, 65535), rte_raw_cksum(buf + 3, 65535));
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(nm_cksum_raw(buf + 1, 65535), rte_raw_cksum(buf + 1, 65535));
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(nm_cksum_raw(buf, 1501), 0);
}
END_TEST

/* nm_cksum_add(buf, len, sum): sum's fold added to the datagram's, with a carry at any place. */
START_TEST(test_cksum_add_takes_a_header_sum)
{
	static uint8_t buf[300];
	fill_pseudo_random(buf, sizeof(buf));
	const uint64_t sums[] = { 0, 1, 0xffff, 0x10000, 0x2fffd, 0xffffffffull, 0x3fffffffcull,
				  (1ull << 47) + 12345 };
	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
		for (size_t len = 0; len <= sizeof(buf); len += 7) {
			uint64_t want = (uint64_t)rte_raw_cksum(buf, len) + nm_cksum_fold(sums[i]);
			ck_assert_uint_eq(nm_cksum_add(buf, len, sums[i]), nm_cksum_fold(want));
		}
}
END_TEST

/* RFC 1071 by the book, 16-bit words in memory order into 64 bits (rte_raw_cksum's 32-bit sum
 * wraps past about 128 KiB of 0xff bytes). */
static uint16_t ref_cksum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint16_t)(p[i] | p[i + 1] << 8);
	if (len & 1)
		sum += p[len - 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Buffers of megabytes (the AVX2 sum's 64-bit lanes): all-ones words and pseudo-random bytes. */
START_TEST(test_cksum_long_buffers)
{
	const size_t n = (3u << 20) + 8;
	uint8_t *buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xff, n);
	for (size_t off = 0; off < 2; off++)
		ck_assert_uint_eq(nm_cksum_raw(buf + off, n - 8 + off), ref_cksum(buf + off, n - 8 + off));
	fill_pseudo_random(buf, n);
	ck_assert_uint_eq(nm_cksum_raw(buf + 1, n - 3), ref_cksum(buf + 1, n - 3));
	ck_assert_uint_eq(nm_cksum_raw(buf, (1u << 20) + 64), ref_cksum(buf, (1u << 20) + 64));
	ck_assert_uint_eq(ref_cksum(buf + 3, 65535), rte_raw_cksum(buf + 3, 65535)); /* the reference */
	free(buf);
}
END_TEST

/* Built UDP checksums are DPDK's and verify with DPDK, for datagrams of every size class. */
START_TEST(test_udp_cksum_matches_dpdk)
{
	static uint8_t f[NM_PKT_DATA_OFF + 9000];
	const struct nm_pkt_endpoint a = { { { 2, 0, 0, 0, 0, 1 } }, RTE_IPV4(10, 0, 0, 1), 7777 };
	const struct nm_pkt_endpoint b = { { { 2, 0, 0, 0, 0, 2 } }, RTE_IPV4(10, 0, 0, 2), 7777 };
	fill_pseudo_random(f, sizeof(f));
	for (size_t len = 0; len <= 9000; len += len < 300 ? 1 : 97) {
		ck_assert_int_eq(nm_pkt_build_udp(f, sizeof(f), &a, &b, (uint16_t)len, len, 0), 0);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + NM_PKT_L3_OFF);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(f + NM_PKT_L4_OFF);
		ck_assert_int_eq(rte_ipv4_udptcp_cksum_verify(ip, udp), 0);
		uint16_t built = udp->dgram_cksum;
		udp->dgram_cksum = 0;
		ck_assert_uint_eq(built, rte_ipv4_udptcp_cksum(ip, udp));
		udp->dgram_cksum = built;
		struct nm_pkt_info pi;
		ck_assert_int_eq(nm_pkt_parse(f, NM_PKT_DATA_OFF + len, &b, 0, &pi, NULL), 0);
		f[NM_PKT_DATA_OFF + len / 2] ^= len > 0 ? 0x10 : 0;
		enum nm_drop why = NM_DROP_NONE;
		if (len > 0)
			ck_assert_int_lt(nm_pkt_parse(f, NM_PKT_DATA_OFF + len, &b, 0, &pi, &why), 0);
		ck_assert_int_eq(why, len > 0 ? NM_DROP_UDP_CKSUM : NM_DROP_NONE);
	}
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc;

	tc = tcase_create("header");
	tcase_add_test(tc, test_drop_names);
	tcase_add_test(tc, test_hdr_encode_vector);
	tcase_add_test(tc, test_hdr_decode_vector);
	tcase_add_test(tc, test_hdr_validate_ok);
	tcase_add_test(tc, test_aad_vector);
	tcase_add_test(tc, test_nonce_vector);
	tcase_add_test(tc, test_classify);
	suite_add_tcase(s, tc);

	tc = tcase_create("aead");
	tcase_add_test(tc, test_seal_vector);
	tcase_add_test(tc, test_seal_matches_libsodium_combined);
	tcase_add_test(tc, test_open_vector);
	tcase_add_test(tc, test_open_tamper);
	tcase_add_test(tc, test_open_wrong_session);
	tcase_add_test(tc, test_seal_open_heartbeat);
	tcase_add_test(tc, test_seal_errors);
	tcase_add_test(tc, test_rx_sequence);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_test(tc, test_replay_in_order);
	tcase_add_test(tc, test_replay_reorder_within_window);
	tcase_add_test(tc, test_replay_check_is_read_only);
	tcase_add_test(tc, test_replay_forward_jump);
	tcase_add_test(tc, test_replay_ceiling);
	tcase_add_test(tc, test_replay_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("pkt");
	tcase_add_test(tc, test_build_udp_vector);
	tcase_add_test(tc, test_build_udp_errors);
	tcase_add_test(tc, test_build_parse_roundtrip);
	tcase_add_test(tc, test_parse_udp_vector);
	tcase_add_test(tc, test_parse_checksums);
	tcase_add_test(tc, test_parse_fast_agrees_with_ref);
	tcase_add_test(tc, test_arp_reply_vector);
	tcase_add_test(tc, test_arp_request_vector);
	tcase_add_test(tc, test_arp_reply_sender);
	tcase_add_test(tc, test_icmp_echo_reply_vector);
	tcase_add_test(tc, test_cksum_matches_dpdk);
	tcase_add_test(tc, test_cksum_add_takes_a_header_sum);
	tcase_add_test(tc, test_cksum_long_buffers);
	tcase_add_test(tc, test_udp_cksum_matches_dpdk);
	suite_add_tcase(s, tc);

	tc = tcase_create("drops");
	tcase_add_test(tc, test_drops_wire);
	tcase_add_test(tc, test_drops_crypto);
	tcase_add_test(tc, test_drops_replay);
	tcase_add_test(tc, test_drops_pkt);
	tcase_add_test(tc, test_drops_arp_icmp);
	tcase_add_test(tc, test_drops_all_covered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	if (nm_aead_lib_init() != 0)
		return EXIT_FAILURE;
	sr = srunner_create(wire_suite());
	/* Pure tests: a crash is one failed test, not a dead runner. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_frag.c - IPv4 fragmentation and reassembly on flat buffers (nm_frag.h)
 * and the MTU rule on the host (an output no datagram can carry fails its
 * process() call before the chain moves). Pure: no EAL, Check's fork mode.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "nm_frag.h"
#include "nm_host.h"
#include "nm_identity.h"
#include "nm_packet.h"
#include "nm_test_sizer.h"

#define MAX_PIECES 64
#define SEC 1000000000ULL

static const struct nm_pkt_endpoint PEER = { { { 0x02, 0, 0, 0, 0, 0x02 } },
					     RTE_IPV4(127, 0, 0, 2), 7777 };
static const struct nm_pkt_endpoint US = { { { 0x02, 0, 0, 0, 0, 0x01 } },
					   RTE_IPV4(127, 0, 0, 1), 7777 };

/* A datagram of dlen bytes (a pattern keyed by id) from PEER to US, with software checksums. */
struct dgram {
	uint8_t frame[NM_FRAG_MAX_FRAME];
	size_t len;
	uint8_t piece[MAX_PIECES][1600];
	size_t piece_len[MAX_PIECES];
	unsigned n;
};

static void make_dgram(struct dgram *g, size_t dlen, uint16_t id, uint16_t mtu)
{
	for (size_t i = 0; i < dlen; i++)
		g->frame[NM_PKT_DATA_OFF + i] = (uint8_t)(i * 7 + id);
	ck_assert_int_eq(nm_pkt_build_udp(g->frame, sizeof(g->frame), &PEER, &US, id, dlen, 0), 0);
	g->len = NM_PKT_DATA_OFF + dlen;
	g->n = nm_frag_count(g->frame, g->len, mtu);
	ck_assert_uint_gt(g->n, 0);
	ck_assert_uint_le(g->n, MAX_PIECES);
	for (unsigned k = 0; k < g->n; k++)
		ck_assert_int_eq(nm_frag_build(g->frame, g->len, mtu, k, 0, g->piece[k],
					       sizeof(g->piece[k]), &g->piece_len[k]),
				 0);
}

static struct nm_frag_table *table(unsigned entries, uint64_t timeout_ns)
{
	struct nm_frag_table *t = nm_frag_table_init(malloc(nm_frag_table_size(entries)), entries,
						     timeout_ns);
	ck_assert_ptr_nonnull(t);
	return t;
}

static const struct rte_ipv4_hdr *ip_of(const uint8_t *f)
{
	return (const struct rte_ipv4_hdr *)(f + NM_PKT_L3_OFF);
}

static uint16_t frag_field(const uint8_t *f)
{
	return rte_be_to_cpu_16(ip_of(f)->fragment_offset);
}

static enum nm_frag_status add(struct nm_frag_table *t, const struct dgram *g, unsigned k,
			       uint64_t now, struct nm_frag_result *r)
{
	return nm_frag_add(t, g->piece[k], g->piece_len[k], now, r);
}

/* The reassembled frame is the original datagram, unfragmented, and parses with its UDP checksum. */
static void expect_same(const struct nm_frag_result *r, const struct dgram *g)
{
	ck_assert_uint_eq(r->len, g->len);
	ck_assert_mem_eq(r->frame, g->frame, NM_PKT_L3_OFF + 6); /* Ethernet, IPv4 up to the id */
	ck_assert_uint_eq(frag_field(r->frame), 0);
	ck_assert_mem_eq(r->frame + NM_PKT_L4_OFF, g->frame + NM_PKT_L4_OFF, g->len - NM_PKT_L4_OFF);
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	ck_assert_int_eq(nm_pkt_parse(r->frame, r->len, &US, 0, &pi, &why), 0);
	ck_assert_uint_eq(pi.kind, NM_PKT_UDP);
	ck_assert_uint_eq(pi.data_len, g->len - NM_PKT_DATA_OFF);
}

/* Feed pieces in `order`; every one but the last is held, the last completes. */
static void reassemble(struct nm_frag_table *t, const struct dgram *g, const unsigned *order)
{
	struct nm_frag_result r;
	unsigned live = nm_frag_table_live(t);
	for (unsigned i = 0; i + 1 < g->n; i++)
		ck_assert_int_eq(add(t, g, order[i], 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, g, order[g->n - 1], 0, &r), NM_FRAG_DONE);
	expect_same(&r, g);
	ck_assert_uint_eq(nm_frag_table_live(t), live);
}

static void in_order(unsigned *o, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		o[i] = i;
}

static void expect_drop(enum nm_frag_status st, const struct nm_frag_result *r, enum nm_drop why,
			unsigned n)
{
	ck_assert_int_eq(st, NM_FRAG_DROPPED);
	ck_assert_msg(r->why == why, "got %s, expected %s", nm_drop_name(r->why), nm_drop_name(why));
	ck_assert_uint_eq(r->dropped, n);
}

/* ------------------------------------------------------------------ TX */

static void check_pieces(const struct dgram *g, uint16_t mtu)
{
	size_t sum = 0;
	for (unsigned k = 0; k < g->n; k++) {
		const uint8_t *p = g->piece[k];
		const struct rte_ipv4_hdr *ip = ip_of(p);
		uint16_t fo = frag_field(p);
		ck_assert_uint_le(g->piece_len[k], NM_PKT_ETH_LEN + mtu);
		ck_assert_uint_eq(rte_be_to_cpu_16(ip->total_length) + NM_PKT_ETH_LEN, g->piece_len[k]);
		ck_assert_uint_eq(rte_ipv4_cksum(ip), 0); /* header checksum right */
		ck_assert(!(fo & RTE_IPV4_HDR_DF_FLAG));
		ck_assert_uint_eq(!!(fo & RTE_IPV4_HDR_MF_FLAG), k + 1 < g->n);
		ck_assert_uint_eq((size_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8, sum);
		ck_assert_uint_eq(ip->packet_id, ip_of(g->frame)->packet_id);
		sum += g->piece_len[k] - NM_PKT_L4_OFF;
	}
	ck_assert_uint_eq(sum, g->len - NM_PKT_L4_OFF);
}

START_TEST(fragments_at_1500_and_576)
{
	static struct dgram g;
	make_dgram(&g, NM_NET_MAX_PACKET, 1, 1500);
	ck_assert_uint_eq(g.n, 6); /* 8200 bytes of IPv4 payload in 1480-byte slices */
	check_pieces(&g, 1500);
	make_dgram(&g, NM_NET_MAX_PACKET, 2, 576);
	ck_assert_uint_eq(g.n, 15); /* 552-byte slices */
	check_pieces(&g, 576);
}
END_TEST

START_TEST(fragment_edges)
{
	static struct dgram g;
	/* A datagram that fits goes out as it is (DF kept). */
	make_dgram(&g, 1472, 3, 1500);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.piece_len[0], g.len);
	ck_assert_mem_eq(g.piece[0], g.frame, g.len);
	make_dgram(&g, 1473, 3, 1500);
	ck_assert_uint_eq(g.n, 2);
	/* Below the minimum MTU, or above the largest datagram: not sendable. */
	ck_assert_uint_eq(nm_frag_count(g.frame, g.len, 575), 0);
	uint8_t *big = calloc(1, NM_FRAG_MAX_FRAME + 8);
	ck_assert_int_eq(nm_pkt_build_udp(big, NM_FRAG_MAX_FRAME + 8, &PEER, &US, 1,
					  NM_NET_MAX_PACKET + 1, 0), 0);
	ck_assert_uint_eq(nm_frag_count(big, NM_PKT_DATA_OFF + NM_NET_MAX_PACKET + 1, 1500), 0);
	ck_assert_uint_eq(nm_frag_count(big, NM_PKT_DATA_OFF + NM_NET_MAX_PACKET + 1, 9000), 1);
	free(big);
	/* A truncated buffer, a bad k, a small output buffer. */
	ck_assert_uint_eq(nm_frag_count(g.frame, g.len - 1, 1500), 0);
	size_t n;
	uint8_t out[64];
	ck_assert_int_eq(nm_frag_build(g.frame, g.len, 1500, 2, 0, g.piece[0], 1600, &n), -EINVAL);
	ck_assert_int_eq(nm_frag_build(g.frame, g.len, 1500, 0, 0, out, sizeof(out), &n), -ENOSPC);
	/* IPv4 checksum offload: left 0 for the NIC. */
	ck_assert_int_eq(nm_frag_build(g.frame, g.len, 1500, 1, NM_PKT_TX_IP_CKSUM_OFFLOAD,
				       g.piece[1], 1600, &n), 0);
	ck_assert_uint_eq(ip_of(g.piece[1])->hdr_checksum, 0);
}
END_TEST

/* ------------------------------------------------------------------ RX */

START_TEST(reassembles_in_order_at_1500_and_576)
{
	static struct dgram g;
	struct nm_frag_table *t = table(4, SEC);
	unsigned o[MAX_PIECES];
	make_dgram(&g, NM_NET_MAX_PACKET, 10, 1500);
	in_order(o, g.n);
	reassemble(t, &g, o);
	make_dgram(&g, NM_NET_MAX_PACKET, 11, 576);
	in_order(o, g.n);
	reassemble(t, &g, o);
	make_dgram(&g, 7100, 12, 1500); /* a migration chunk's datagram */
	in_order(o, g.n);
	reassemble(t, &g, o);
	free(t);
}
END_TEST

START_TEST(reassembles_out_of_order)
{
	static struct dgram g;
	struct nm_frag_table *t = table(4, SEC);
	unsigned o[MAX_PIECES];
	make_dgram(&g, NM_NET_MAX_PACKET, 20, 576);
	for (unsigned i = 0; i < g.n; i++) /* last first, then the rest backwards */
		o[i] = g.n - 1 - i;
	reassemble(t, &g, o);
	for (unsigned i = 0; i < g.n; i++) /* a stride through all 15 */
		o[i] = (i * 4) % g.n;
	reassemble(t, &g, o);
	free(t);
}
END_TEST

START_TEST(interleaved_datagrams)
{
	static struct dgram a, b;
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	make_dgram(&a, 5000, 30, 1500);
	make_dgram(&b, 6000, 31, 1500);
	ck_assert_uint_eq(a.n, 4);
	ck_assert_uint_eq(b.n, 5);
	for (unsigned k = 0; k < 3; k++) {
		ck_assert_int_eq(add(t, &a, k, 0, &r), NM_FRAG_HELD);
		ck_assert_int_eq(add(t, &b, k, 0, &r), NM_FRAG_HELD);
	}
	ck_assert_uint_eq(nm_frag_table_live(t), 2);
	ck_assert_int_eq(add(t, &a, 3, 0, &r), NM_FRAG_DONE);
	expect_same(&r, &a);
	ck_assert_int_eq(add(t, &b, 4, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &b, 3, 0, &r), NM_FRAG_DONE);
	expect_same(&r, &b);
	free(t);
}
END_TEST

START_TEST(duplicate_fragments_are_dropped_alone)
{
	static struct dgram g;
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	make_dgram(&g, NM_NET_MAX_PACKET, 40, 1500);
	ck_assert_int_eq(add(t, &g, 0, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &g, 2, 0, &r), NM_FRAG_HELD);
	expect_drop(add(t, &g, 2, 0, &r), &r, NM_DROP_FRAG_DUP, 1);
	expect_drop(add(t, &g, 0, 0, &r), &r, NM_DROP_FRAG_DUP, 1);
	ck_assert_int_eq(add(t, &g, 5, 0, &r), NM_FRAG_HELD);
	expect_drop(add(t, &g, 5, 0, &r), &r, NM_DROP_FRAG_DUP, 1); /* the last one too */
	for (unsigned k = 1; k < 4; k += 2)
		ck_assert_int_eq(add(t, &g, k, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &g, 4, 0, &r), NM_FRAG_DONE);
	expect_same(&r, &g);
	free(t);
}
END_TEST

START_TEST(missing_fragment_times_out)
{
	static struct dgram g;
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	make_dgram(&g, NM_NET_MAX_PACKET, 50, 1500);
	for (unsigned k = 0; k < g.n; k++)
		if (k != 3)
			ck_assert_int_eq(add(t, &g, k, 100, &r), NM_FRAG_HELD);
	ck_assert_uint_eq(nm_frag_expire(t, 100 + SEC - 1), 0);
	ck_assert_uint_eq(nm_frag_table_live(t), 1);
	ck_assert_uint_eq(nm_frag_expire(t, 100 + SEC), g.n - 1); /* every fragment held, counted */
	ck_assert_uint_eq(nm_frag_table_live(t), 0);
	/* The straggler alone starts a new datagram, which times out by itself. */
	ck_assert_int_eq(add(t, &g, 3, 2 * SEC, &r), NM_FRAG_HELD);
	ck_assert_uint_eq(nm_frag_flush(t), 1);
	free(t);
}
END_TEST

START_TEST(overlapping_fragment_drops_the_datagram)
{
	static struct dgram g;
	static uint8_t bad[1600];
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	make_dgram(&g, NM_NET_MAX_PACKET, 60, 1500);
	ck_assert_int_eq(add(t, &g, 0, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &g, 2, 0, &r), NM_FRAG_HELD);
	/* Fragment 1 moved 8 bytes down: it overlaps the end of fragment 0. */
	memcpy(bad, g.piece[1], g.piece_len[1]);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(bad + NM_PKT_L3_OFF);
	uint16_t fo = frag_field(bad);
	ip->fragment_offset = rte_cpu_to_be_16((uint16_t)(fo - 1));
	expect_drop(nm_frag_add(t, bad, g.piece_len[1], 0, &r), &r, NM_DROP_FRAG_OVERLAP, 3);
	ck_assert_uint_eq(nm_frag_table_live(t), 0);
	/* The rest of the datagram cannot complete it any more: it starts over, and times out. */
	ck_assert_int_eq(add(t, &g, 1, 0, &r), NM_FRAG_HELD);
	ck_assert_uint_eq(nm_frag_expire(t, SEC), 1);
	free(t);
}
END_TEST

/* Fragment `off` (bytes) of a datagram, `p` payload bytes, MF as `more`, id `id`. */
static size_t tiny_fragment(uint8_t *f, uint16_t id, size_t off, size_t p, bool more)
{
	memset(f, 0, NM_PKT_L4_OFF + p);
	ck_assert_int_eq(nm_pkt_build_udp(f, NM_PKT_L4_OFF + 8 + p, &PEER, &US, id, 0, 0), 0);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + NM_PKT_L3_OFF);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(NM_PKT_IP_LEN + p));
	ip->fragment_offset = rte_cpu_to_be_16((uint16_t)(off / 8 | (more ? RTE_IPV4_HDR_MF_FLAG : 0)));
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return NM_PKT_L4_OFF + p;
}

START_TEST(too_many_fragments_drop_the_datagram)
{
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	uint8_t f[NM_PKT_L4_OFF + 16];
	for (unsigned k = 0; k < NM_FRAG_MAX_FRAGS; k++) {
		size_t len = tiny_fragment(f, 70, k * 8, 8, true);
		ck_assert_int_eq(nm_frag_add(t, f, len, 0, &r), NM_FRAG_HELD);
	}
	size_t len = tiny_fragment(f, 70, NM_FRAG_MAX_FRAGS * 8, 8, false);
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_TOO_MANY, NM_FRAG_MAX_FRAGS + 1);
	ck_assert_uint_eq(nm_frag_table_live(t), 0);
	free(t);
}
END_TEST

START_TEST(table_full_is_counted_and_recovers)
{
	static struct dgram a, b, c;
	struct nm_frag_table *t = table(2, SEC);
	struct nm_frag_result r;
	make_dgram(&a, 3000, 80, 1500);
	make_dgram(&b, 3000, 81, 1500);
	make_dgram(&c, 3000, 82, 1500);
	ck_assert_int_eq(add(t, &a, 0, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &b, 0, 0, &r), NM_FRAG_HELD);
	expect_drop(add(t, &c, 0, 0, &r), &r, NM_DROP_FRAG_TABLE_FULL, 1);
	ck_assert_int_eq(add(t, &b, 1, 0, &r), NM_FRAG_HELD); /* known datagrams go on */
	ck_assert_int_eq(add(t, &b, 2, 0, &r), NM_FRAG_DONE);
	unsigned o[MAX_PIECES];
	in_order(o, c.n);
	reassemble(t, &c, o); /* the freed entry takes a new datagram */
	ck_assert_uint_eq(nm_frag_flush(t), 1); /* a's first fragment */
	free(t);
}
END_TEST

START_TEST(bad_fragments_are_refused)
{
	static struct dgram g;
	struct nm_frag_table *t = table(4, SEC);
	struct nm_frag_result r;
	uint8_t f[NM_PKT_L4_OFF + 64];
	size_t len;
	/* Not a fragment; an empty one; a non-final one not a multiple of 8. */
	len = tiny_fragment(f, 90, 0, 16, false);
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 1);
	len = tiny_fragment(f, 90, 8, 0, true);
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 1);
	len = tiny_fragment(f, 90, 0, 12, true);
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 1);
	/* Truncated: total_length past the buffer. */
	len = tiny_fragment(f, 90, 0, 16, true);
	expect_drop(nm_frag_add(t, f, len - 1, 0, &r), &r, NM_DROP_FRAG_BAD, 1);
	/* Past the largest datagram. */
	len = tiny_fragment(f, 90, NM_FRAG_MAX_PAYLOAD - 8, 16, false);
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_TOO_LARGE, 1);
	/* Not UDP. */
	len = tiny_fragment(f, 90, 0, 16, true);
	f[NM_PKT_L3_OFF + 9] = IPPROTO_TCP;
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_IP_FRAGMENT, 1);
	ck_assert_uint_eq(nm_frag_table_live(t), 0);
	/* Two different ends for one datagram, or data past the end. */
	make_dgram(&g, 4000, 91, 1500);
	ck_assert_int_eq(add(t, &g, 0, 0, &r), NM_FRAG_HELD);
	ck_assert_int_eq(add(t, &g, 2, 0, &r), NM_FRAG_HELD);
	len = tiny_fragment(f, 91, 1480, 16, false); /* claims the datagram ends at 1496 */
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 3);
	ck_assert_int_eq(add(t, &g, 2, 0, &r), NM_FRAG_HELD); /* the real end: 4008 */
	len = tiny_fragment(f, 91, 4008, 8, true);            /* data after it */
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 2);
	ck_assert_int_eq(add(t, &g, 1, 0, &r), NM_FRAG_HELD); /* bytes 1480..2960 */
	len = tiny_fragment(f, 91, 1472, 8, false); /* an end below data already received */
	expect_drop(nm_frag_add(t, f, len, 0, &r), &r, NM_DROP_FRAG_BAD, 2);
	ck_assert_uint_eq(nm_frag_table_live(t), 0);
	free(t);
}
END_TEST

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random, often broken, fragment of one of 8 datagrams into f: its length. */
static size_t random_fragment(uint8_t *f, uint32_t *seed)
{
	uint16_t id = (uint16_t)(rnd(seed) & 7);
	size_t off = (rnd(seed) % 130) * 64, p = (rnd(seed) % 24) * 64;
	if (rnd(seed) % 8 == 0)
		p += rnd(seed) % 8; /* misaligned */
	size_t len = tiny_fragment(f, id, off, p, rnd(seed) & 1);
	if (rnd(seed) % 16 == 0)
		f[NM_PKT_L3_OFF + rnd(seed) % NM_PKT_IP_LEN] ^= (uint8_t)rnd(seed); /* header garbage */
	if (rnd(seed) % 16 == 0)
		len = rnd(seed) % (len + 1); /* truncated */
	return len;
}

static void check_done(const struct nm_frag_result *r)
{
	ck_assert_uint_le(r->len, NM_FRAG_MAX_FRAME);
	ck_assert_uint_gt(r->frags, 1);
	ck_assert_uint_eq(frag_field(r->frame), 0);
	ck_assert_uint_eq(rte_ipv4_cksum(ip_of(r->frame)), 0);
	ck_assert_uint_eq(rte_be_to_cpu_16(ip_of(r->frame)->total_length) + NM_PKT_ETH_LEN, r->len);
}

/*
 * Garbage and real datagrams mixed: nothing crashes, every completed frame is
 * a sane unfragmented frame (the real ones byte-exact), and every fragment
 * fed is accounted exactly once: in a datagram, dropped, or still held.
 */
START_TEST(random_fragments_are_all_accounted)
{
	static struct dgram g;
	static uint8_t f[NM_PKT_L4_OFF + 1600];
	struct nm_frag_table *t = table(8, SEC);
	struct nm_frag_result r;
	uint32_t seed = 0x9E3779B9;
	uint64_t fed = 0, in_done = 0, dropped = 0, now = 0, real = 0;
	for (int i = 0; i < 100000; i++) {
		enum nm_frag_status st;
		if (i % 200 == 199) { /* a real datagram, pieces in a random order */
			make_dgram(&g, 1000 + rnd(&seed) % 7000, (uint16_t)(1000 + i), 1500);
			unsigned first = rnd(&seed) % g.n;
			for (unsigned k = 0; k < g.n; k++) {
				st = add(t, &g, (first + k) % g.n, now, &r);
				fed++;
				if (st == NM_FRAG_DONE) {
					expect_same(&r, &g);
					real++;
				}
				in_done += st == NM_FRAG_DONE ? r.frags : 0;
				dropped += st == NM_FRAG_DROPPED ? r.dropped : 0;
			}
			continue;
		}
		size_t len = random_fragment(f, &seed);
		st = nm_frag_add(t, f, len, now, &r);
		fed++;
		if (st == NM_FRAG_DONE) {
			check_done(&r);
			in_done += r.frags;
		} else if (st == NM_FRAG_DROPPED) {
			ck_assert_uint_ge(r.dropped, 1);
			ck_assert(r.why == NM_DROP_IP_FRAGMENT || (r.why >= NM_DROP_FRAG_BAD &&
								   r.why <= NM_DROP_FRAG_TIMEOUT));
			dropped += r.dropped;
		}
		now += rnd(&seed) % (SEC / 50); /* 10 ms on average: datagrams time out after ~100 */
		if (i % 50 == 0)
			dropped += nm_frag_expire(t, now);
		ck_assert_uint_le(nm_frag_table_live(t), 8);
	}
	dropped += nm_frag_flush(t);
	ck_assert_uint_eq(fed, in_done + dropped);
	ck_assert_uint_gt(real, 0);
	free(t);
}
END_TEST

START_TEST(owner_is_the_same_for_every_fragment)
{
	static struct dgram g;
	unsigned seen[2] = { 0, 0 };
	for (uint16_t id = 0; id < 64; id++) {
		make_dgram(&g, 4000, id, 1500);
		unsigned o = nm_frag_owner(g.piece[0], g.piece_len[0], 2);
		ck_assert_uint_lt(o, 2);
		for (unsigned k = 1; k < g.n; k++)
			ck_assert_uint_eq(nm_frag_owner(g.piece[k], g.piece_len[k], 2), o);
		seen[o]++;
	}
	ck_assert_uint_gt(seen[0], 0); /* ids spread over both owners */
	ck_assert_uint_gt(seen[1], 0);
	ck_assert_uint_eq(nm_frag_owner(g.piece[0], g.piece_len[0], 1), 0);
}
END_TEST

START_TEST(table_memory_is_bounded)
{
	ck_assert_uint_eq(nm_frag_table_size(0), 0);
	ck_assert_uint_eq(nm_frag_table_size(NM_FRAG_MAX_ENTRIES + 1), 0);
	size_t one = nm_frag_table_size(2) - nm_frag_table_size(1);
	ck_assert_uint_ge(one, NM_FRAG_MAX_FRAME);
	ck_assert_uint_lt(one, NM_FRAG_MAX_FRAME + 512);
	ck_assert_uint_eq(nm_frag_table_size(64), nm_frag_table_size(1) + 63 * one);
	ck_assert_ptr_null(nm_frag_table_init(NULL, 4, SEC));
}
END_TEST

/* ------------------------------------------------------------ MTU rule */

static struct nm_host *sizer_host(void)
{
	uint8_t seed[32] = { 0x51 };
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, seed), 0);
	struct nm_host *h = NULL;
	ck_assert_int_eq(nm_host_create(sizer_new(NULL), &id, NULL, &h, NULL), 0);
	return h;
}

static int deliver_size(struct nm_host *h, struct nm_outputs *o, uint32_t size,
			struct nm_error *err)
{
	uint8_t p[4];
	nm_put_le32(p, size);
	struct nm_event ev = { .link = { 0xFEED, 0, 1, 0 }, .payload = p, .len = 4 };
	return nm_host_deliver(h, &ev, o, 0, err);
}

START_TEST(refused_output_leaves_the_chain_unbroken)
{
	struct nm_host *h = sizer_host();
	struct nm_outputs *o = nm_outputs_create(16, 64 * 1024);
	o->max_len = NM_PACKET_MAX_EVENT;
	struct nm_error err;
	ck_assert_int_eq(deliver_size(h, o, 100, &err), 0);
	ck_assert_int_eq(deliver_size(h, o, NM_PACKET_MAX_EVENT, &err), 0); /* the largest fits */
	ck_assert_int_eq(deliver_size(h, o, NM_PACKET_MAX_EVENT + 1, &err), NM_EPROCESS_FAILED);
	ck_assert_ptr_nonnull(strstr(err.msg, "exceeds the largest datagram"));
	ck_assert_uint_eq(o->n, 2); /* nothing of the refused call is left */
	ck_assert_uint_eq(o->too_large, 0);
	ck_assert_int_eq(deliver_size(h, o, 7, &err), 0);
	ck_assert_uint_eq(o->n, 3);

	/* Sequences 1, 2, 3: each link follows the one before, no gap. */
	struct nm_causal_link prev = nm_link_genesis(nm_host_origin(h), 0);
	const uint8_t *pp = NULL;
	uint32_t plen = 0;
	for (uint32_t i = 0; i < o->n; i++) {
		ck_assert_uint_eq(o->ev[i].link.sequence, i + 1);
		ck_assert_int_eq(nm_chain_validate(&prev, pp, plen, &o->ev[i].link, NULL), NM_CHAIN_OK);
		ck_assert(sizer_output_ok(o->ev[i].payload, o->ev[i].len));
		prev = o->ev[i].link;
		pp = o->ev[i].payload;
		plen = o->ev[i].len;
	}
	struct nm_daemon_stats st = h->stats;
	ck_assert_uint_eq(st.errors, 1);
	ck_assert_uint_eq(st.events_emitted, 3);

	/* Without a limit (the runtime API's outputs), the same output is taken. */
	o->max_len = 0;
	ck_assert_int_eq(deliver_size(h, o, NM_PACKET_MAX_EVENT + 1, &err), 0);
	nm_outputs_free(o);
	nm_host_destroy(h);
}
END_TEST

START_TEST(emit_above_max_len_is_emsgsize)
{
	struct nm_outputs *o = nm_outputs_create(4, 256);
	o->max_len = 16;
	uint8_t b[32 * 9] = { 0 }; /* as long as every emit below says: nm_emit may be inline */
	ck_assert_int_eq(nm_emit(o, b, 16), 0);
	ck_assert_int_eq(nm_emit(o, b, 17), -EMSGSIZE);
	ck_assert(o->overflow);
	ck_assert_uint_eq(o->too_large, 17);
	nm_outputs_reset(o);
	ck_assert_uint_eq(o->too_large, 0);
	o->max_len = 0;
	ck_assert_int_eq(nm_emit(o, b, 32 * 9), -ENOSPC); /* the arena, not the limit */
	nm_outputs_free(o);
}
END_TEST

static Suite *frag_suite(void)
{
	Suite *s = suite_create("frag");
	TCase *tc = tcase_create("tx");
	tcase_add_test(tc, fragments_at_1500_and_576);
	tcase_add_test(tc, fragment_edges);
	suite_add_tcase(s, tc);
	tc = tcase_create("rx");
	tcase_add_test(tc, reassembles_in_order_at_1500_and_576);
	tcase_add_test(tc, reassembles_out_of_order);
	tcase_add_test(tc, interleaved_datagrams);
	tcase_add_test(tc, duplicate_fragments_are_dropped_alone);
	tcase_add_test(tc, missing_fragment_times_out);
	tcase_add_test(tc, overlapping_fragment_drops_the_datagram);
	tcase_add_test(tc, too_many_fragments_drop_the_datagram);
	tcase_add_test(tc, table_full_is_counted_and_recovers);
	tcase_add_test(tc, bad_fragments_are_refused);
	tcase_add_test(tc, random_fragments_are_all_accounted);
	tcase_add_test(tc, owner_is_the_same_for_every_fragment);
	tcase_add_test(tc, table_memory_is_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("mtu-rule");
	tcase_add_test(tc, refused_output_leaves_the_chain_unbroken);
	tcase_add_test(tc, emit_above_max_len_is_emsgsize);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frag_suite());
	srunner_set_fork_status(sr, CK_FORK); /* pure: a crash is one failed test */
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}

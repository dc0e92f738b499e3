/* SPDX-License-Identifier: MIT */
/* nm_frag.c - IPv4 fragmentation and reassembly on flat buffers (see header). */
#include "nm_frag.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#define UNIT 8 /* fragment offsets count 8-byte units */
#define N_UNITS ((NM_FRAG_MAX_PAYLOAD + UNIT - 1) / UNIT)
#define MAP_WORDS ((N_UNITS + 63) / 64)

/* One datagram being reassembled; its frame is built in place. */
struct frag_entry {
	uint32_t src, dst; /* as on the wire */
	uint16_t id;
	uint16_t n_frags;
	uint32_t total; /* IPv4 payload bytes, known from the final fragment; 0 before */
	uint32_t have;  /* payload bytes received (fragments never overlap here) */
	uint32_t end;   /* one past the highest payload byte received */
	uint64_t born_ns;
	uint64_t map[MAP_WORDS]; /* the 8-byte units received */
	uint8_t frame[NM_FRAG_MAX_FRAME];
};

struct nm_frag_table {
	uint64_t timeout_ns;
	unsigned n_entries;
	unsigned n_live;
	unsigned n_free;
	uint16_t live[NM_FRAG_MAX_ENTRIES]; /* entries in use, unordered */
	uint16_t free_list[NM_FRAG_MAX_ENTRIES];
	struct frag_entry e[];
};

/* rte_ipv4_hdr is packed, so any byte address is fine. */
static inline struct rte_ipv4_hdr *l3(const uint8_t *f)
{
	return (struct rte_ipv4_hdr *)(uintptr_t)(f + NM_PKT_L3_OFF);
}

/* IPv4 payload bytes of an option-less IPv4 frame that fits its buffer, or -1. */
static long ip_payload(const uint8_t *f, size_t len)
{
	if (f == NULL || len < NM_PKT_L4_OFF || l3(f)->version_ihl != RTE_IPV4_VHL_DEF)
		return -1;
	size_t tot = rte_be_to_cpu_16(l3(f)->total_length);
	if (tot < NM_PKT_IP_LEN || tot > len - NM_PKT_ETH_LEN)
		return -1;
	return (long)(tot - NM_PKT_IP_LEN);
}

/* ---------------------------------------------------------------- TX */

static size_t per_fragment(uint16_t mtu)
{
	return (size_t)(mtu - NM_PKT_IP_LEN) / UNIT * UNIT;
}

unsigned nm_frag_count(const uint8_t *frame, size_t len, uint16_t mtu)
{
	long p = ip_payload(frame, len);
	if (p < 0)
		return 0;
	if ((size_t)p + NM_PKT_IP_LEN <= mtu)
		return 1;
	if (mtu < NM_FRAG_MIN_MTU || p > NM_FRAG_MAX_PAYLOAD)
		return 0;
	size_t per = per_fragment(mtu);
	return (unsigned)(((size_t)p + per - 1) / per);
}

int nm_frag_build(const uint8_t *frame, size_t len, uint16_t mtu, unsigned k, unsigned tx_flags,
		  uint8_t *out, size_t cap, size_t *out_len)
{
	unsigned n = nm_frag_count(frame, len, mtu);
	if (out == NULL || out_len == NULL || k >= n)
		return -EINVAL;
	size_t p = (size_t)ip_payload(frame, len);
	if (n == 1) { /* fits: the frame as it is */
		if (cap < NM_PKT_L4_OFF + p)
			return -ENOSPC;
		memcpy(out, frame, NM_PKT_L4_OFF + p);
		*out_len = NM_PKT_L4_OFF + p;
		return 0;
	}
	size_t per = per_fragment(mtu), off = k * per;
	size_t part = p - off < per ? p - off : per;
	if (cap < NM_PKT_L4_OFF + part)
		return -ENOSPC;
	memcpy(out, frame, NM_PKT_L4_OFF);
	memcpy(out + NM_PKT_L4_OFF, frame + NM_PKT_L4_OFF + off, part);
	struct rte_ipv4_hdr *ip = l3(out);
	uint16_t fo = (uint16_t)(off / UNIT) | (k + 1 < n ? RTE_IPV4_HDR_MF_FLAG : 0);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(NM_PKT_IP_LEN + part));
	ip->fragment_offset = rte_cpu_to_be_16(fo); /* DF clear */
	ip->hdr_checksum = 0;
	if (!(tx_flags & NM_PKT_TX_IP_CKSUM_OFFLOAD))
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	*out_len = NM_PKT_L4_OFF + part;
	return 0;
}

int nm_frag_mbufs(const uint8_t *frame, size_t len, uint16_t mtu, unsigned tx_flags,
		  struct rte_mempool *pool, struct rte_mbuf **out, unsigned max)
{
	unsigned n = nm_frag_count(frame, len, mtu);
	if (n == 0 || n > max)
		return -EMSGSIZE;
	if (rte_pktmbuf_alloc_bulk(pool, out, n) != 0)
		return -ENOBUFS;
	for (unsigned k = 0; k < n; k++) {
		struct rte_mbuf *m = out[k];
		size_t flen;
		if (nm_frag_build(frame, len, mtu, k, tx_flags, rte_pktmbuf_mtod(m, uint8_t *),
				  rte_pktmbuf_tailroom(m), &flen) < 0) {
			rte_pktmbuf_free_bulk(out, n); /* the pool's mbufs are smaller than the MTU */
			return -ENOBUFS;
		}
		m->data_len = (uint16_t)flen;
		m->pkt_len = (uint32_t)flen;
		if (tx_flags & NM_PKT_TX_IP_CKSUM_OFFLOAD) {
			m->l2_len = NM_PKT_ETH_LEN;
			m->l3_len = NM_PKT_IP_LEN;
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		}
	}
	return (int)n;
}

/* ---------------------------------------------------------------- RX */

size_t nm_frag_table_size(unsigned entries)
{
	if (entries == 0 || entries > NM_FRAG_MAX_ENTRIES)
		return 0;
	return sizeof(struct nm_frag_table) + (size_t)entries * sizeof(struct frag_entry);
}

struct nm_frag_table *nm_frag_table_init(void *mem, unsigned entries, uint64_t timeout_ns)
{
	if (mem == NULL || nm_frag_table_size(entries) == 0)
		return NULL;
	struct nm_frag_table *t = mem;
	t->timeout_ns = timeout_ns;
	t->n_entries = entries;
	t->n_live = 0;
	t->n_free = entries;
	for (unsigned i = 0; i < entries; i++)
		t->free_list[i] = (uint16_t)(entries - 1 - i);
	return t;
}

unsigned nm_frag_table_live(const struct nm_frag_table *t)
{
	return t->n_live;
}

static struct frag_entry *live_entry(struct nm_frag_table *t, unsigned pos)
{
	return &t->e[t->live[pos]];
}

/* Give the entry at live position pos back (the last live entry takes its place). */
static void release(struct nm_frag_table *t, unsigned pos)
{
	t->free_list[t->n_free++] = t->live[pos];
	t->live[pos] = t->live[--t->n_live];
}

static int find(struct nm_frag_table *t, uint32_t src, uint32_t dst, uint16_t id)
{
	for (unsigned i = 0; i < t->n_live; i++) {
		const struct frag_entry *e = live_entry(t, i);
		if (e->id == id && e->src == src && e->dst == dst)
			return (int)i;
	}
	return -1;
}

static int create(struct nm_frag_table *t, const uint8_t *frame, uint64_t now_ns)
{
	if (t->n_free == 0)
		return -1;
	unsigned pos = t->n_live++;
	t->live[pos] = t->free_list[--t->n_free];
	struct frag_entry *e = live_entry(t, pos);
	const struct rte_ipv4_hdr *ip = l3(frame);
	e->src = ip->src_addr;
	e->dst = ip->dst_addr;
	e->id = ip->packet_id;
	e->n_frags = 0;
	e->total = e->have = e->end = 0;
	e->born_ns = now_ns;
	memset(e->map, 0, sizeof(e->map));
	memcpy(e->frame, frame, NM_PKT_L4_OFF); /* until the first fragment's header comes */
	return (int)pos;
}

static bool unit_has(const uint64_t *map, unsigned u)
{
	return (map[u / 64] >> (u % 64)) & 1;
}

/* How many of the units covering payload bytes [off, stop) were received. */
static unsigned units_had(const struct frag_entry *e, size_t off, size_t stop, unsigned *n)
{
	unsigned had = 0, a = (unsigned)(off / UNIT), b = (unsigned)((stop + UNIT - 1) / UNIT);
	for (unsigned u = a; u < b; u++)
		had += unit_has(e->map, u);
	*n = b - a;
	return had;
}

static void units_mark(struct frag_entry *e, size_t off, size_t stop)
{
	for (unsigned u = (unsigned)(off / UNIT); u < (stop + UNIT - 1) / UNIT; u++)
		e->map[u / 64] |= 1ULL << (u % 64);
}

static enum nm_frag_status refuse(struct nm_frag_result *r, enum nm_drop why, unsigned n)
{
	r->why = why;
	r->dropped = n;
	return NM_FRAG_DROPPED;
}

/* Drop this fragment and every one held for its datagram. */
static enum nm_frag_status discard(struct nm_frag_table *t, unsigned pos,
				   struct nm_frag_result *r, enum nm_drop why)
{
	unsigned n = live_entry(t, pos)->n_frags + 1u;
	release(t, pos);
	return refuse(r, why, n);
}

/* The fragment does not fit what its datagram already says about its end. */
static bool contradicts_end(const struct frag_entry *e, size_t stop, bool more)
{
	if (more)
		return e->total != 0 && stop > e->total;
	return (e->total != 0 && e->total != stop) || e->end > stop;
}

static enum nm_frag_status complete(struct nm_frag_table *t, unsigned pos,
				    struct nm_frag_result *r)
{
	struct frag_entry *e = live_entry(t, pos);
	struct rte_ipv4_hdr *ip = l3(e->frame);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(NM_PKT_IP_LEN + e->total));
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	r->frame = e->frame;
	r->len = NM_PKT_L4_OFF + e->total;
	r->frags = e->n_frags;
	release(t, pos); /* the bytes stay until the entry is reused */
	return NM_FRAG_DONE;
}

enum nm_frag_status nm_frag_add(struct nm_frag_table *t, const uint8_t *frame, size_t len,
				uint64_t now_ns, struct nm_frag_result *r)
{
	memset(r, 0, sizeof(*r));
	long plen = ip_payload(frame, len);
	if (plen < 0)
		return refuse(r, NM_DROP_FRAG_BAD, 1);
	const struct rte_ipv4_hdr *ip = l3(frame);
	if (ip->next_proto_id != IPPROTO_UDP)
		return refuse(r, NM_DROP_IP_FRAGMENT, 1);
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	size_t off = (size_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * UNIT, p = (size_t)plen;
	bool more = fo & RTE_IPV4_HDR_MF_FLAG;
	if ((off == 0 && !more) || p == 0 || (more && p % UNIT != 0))
		return refuse(r, NM_DROP_FRAG_BAD, 1);
	const size_t stop = off + p;
	if (stop > NM_FRAG_MAX_PAYLOAD)
		return refuse(r, NM_DROP_FRAG_TOO_LARGE, 1);

	int found = find(t, ip->src_addr, ip->dst_addr, ip->packet_id);
	if (found < 0 && (found = create(t, frame, now_ns)) < 0)
		return refuse(r, NM_DROP_FRAG_TABLE_FULL, 1);
	const unsigned pos = (unsigned)found;
	struct frag_entry *e = live_entry(t, pos);
	if (contradicts_end(e, stop, more))
		return discard(t, pos, r, NM_DROP_FRAG_BAD);
	unsigned units;
	unsigned had = units_had(e, off, stop, &units);
	if (had == units)
		return refuse(r, NM_DROP_FRAG_DUP, 1); /* nothing new; the datagram goes on */
	if (had != 0)
		return discard(t, pos, r, NM_DROP_FRAG_OVERLAP);
	if (e->n_frags == NM_FRAG_MAX_FRAGS)
		return discard(t, pos, r, NM_DROP_FRAG_TOO_MANY);

	memcpy(e->frame + NM_PKT_L4_OFF + off, frame + NM_PKT_L4_OFF, p);
	if (off == 0)
		memcpy(e->frame, frame, NM_PKT_L4_OFF);
	units_mark(e, off, stop);
	e->n_frags++;
	e->have += (uint32_t)p;
	if (stop > e->end)
		e->end = (uint32_t)stop;
	if (!more)
		e->total = (uint32_t)stop;
	if (e->total == 0 || e->have != e->total)
		return NM_FRAG_HELD;
	return complete(t, pos, r);
}

unsigned nm_frag_expire(struct nm_frag_table *t, uint64_t now_ns)
{
	unsigned dropped = 0;
	for (unsigned i = 0; i < t->n_live;) {
		const struct frag_entry *e = live_entry(t, i);
		if (now_ns - e->born_ns < t->timeout_ns) {
			i++;
			continue;
		}
		dropped += e->n_frags;
		release(t, i); /* another entry moved to i: look at it next */
	}
	return dropped;
}

unsigned nm_frag_flush(struct nm_frag_table *t)
{
	unsigned dropped = 0;
	while (t->n_live > 0) {
		dropped += live_entry(t, 0)->n_frags;
		release(t, 0);
	}
	return dropped;
}

unsigned nm_frag_owner(const uint8_t *frame, size_t len, unsigned n)
{
	if (n <= 1 || frame == NULL || len < NM_PKT_L4_OFF)
		return 0;
	const struct rte_ipv4_hdr *ip = l3(frame);
	uint32_t h = ip->src_addr * 0x9E3779B1u ^ ip->dst_addr * 0x85EBCA6Bu ^
		     (uint32_t)ip->packet_id * 0xC2B2AE35u;
	h ^= h >> 16;
	return h % n;
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_frag.h - IPv4 fragmentation (TX) and reassembly (RX) of UDP datagrams
 * up to upstream's 8192-byte Net packets, on flat buffers.
 *
 * Upstream nodes leave fragmentation to the kernel (wire.md 1.10), so on a
 * 1500-byte path their batched datagrams arrive as up to 6 fragments, and on
 * a 576-byte path as up to 15. That is why this is not rte_ip_frag: Debian's
 * DPDK 22.11 is built with RTE_LIBRTE_IP_FRAG_MAX_FRAG 8 (an 8192-byte
 * datagram at MTU 576 cannot be reassembled), without
 * RTE_LIBRTE_IP_FRAG_TBL_STAT (its failures cannot be told apart, so they
 * could not be counted by reason), and a duplicated fragment discards the
 * whole datagram there.
 *
 * Reassembly: one table per worker lcore, allocated at init (entries x ~8.4
 * KiB, nothing allocated afterwards). A fragment is copied into its entry and
 * the caller frees its mbuf at once; a complete datagram is handed back as one
 * contiguous, unfragmented frame (IPv4 header rewritten: length, no fragment
 * bits, checksum), so the normal parse (UDP checksum over the whole datagram)
 * and packet path follow. Every fragment that does not end in a datagram is
 * counted once, by reason: NM_DROP_FRAG_* or NM_DROP_IP_FRAGMENT (not UDP).
 *
 * Frames are Ethernet onwards, IPv4 without options (nm_pkt.h). Addresses
 * and lengths are read from the buffer; nothing is assumed about alignment.
 */
#ifndef NM_FRAG_H
#define NM_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "nm_drop.h"
#include "nm_pkt.h"
#include "nm_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest IPv4 payload reassembled or fragmented: a UDP header and a Net packet. */
#define NM_FRAG_MAX_PAYLOAD (NM_PKT_UDP_LEN + NM_NET_MAX_PACKET) /* 8200 */
/* The whole frame of such a datagram, Ethernet onwards. */
#define NM_FRAG_MAX_FRAME (NM_PKT_L4_OFF + NM_FRAG_MAX_PAYLOAD) /* 8234 */
/* Fragments one datagram may take (8200 bytes at MTU 576 take 15). */
#define NM_FRAG_MAX_FRAGS 64
/* Smallest IP MTU the fragmenter serves: keeps a maximal datagram within NM_FRAG_MAX_FRAGS. */
#define NM_FRAG_MIN_MTU 576
/* Largest reassembly table. */
#define NM_FRAG_MAX_ENTRIES 1024

#define NM_FRAG_DEFAULT_ENTRIES 64
#define NM_FRAG_DEFAULT_TIMEOUT_NS 1000000000ULL /* 1 s, as DPDK's ip_reassembly example */

/* ---------------------------------------------------------------- TX */

/*
 * Fragments a frame (nm_pkt_build_udp output) takes at IP MTU `mtu`: 1 when
 * it fits, 0 when it cannot be sent (mtu below NM_FRAG_MIN_MTU, not IPv4, or
 * an IPv4 payload above NM_FRAG_MAX_PAYLOAD).
 */
unsigned nm_frag_count(const uint8_t *frame, size_t len, uint16_t mtu);

/*
 * Write fragment k (0-based, k < nm_frag_count) of `frame` into out: the
 * Ethernet header, the IPv4 header with this fragment's length, offset and
 * MF bit (DF clear) and its checksum (left 0 with NM_PKT_TX_IP_CKSUM_OFFLOAD
 * in tx_flags), then its slice of the IPv4 payload. The UDP checksum is part
 * of the payload, so it must already be computed in software: a NIC cannot
 * compute it over fragments. *out_len gets the fragment's length.
 * Returns 0, -EINVAL (bad frame, mtu or k) or -ENOSPC (cap).
 */
int nm_frag_build(const uint8_t *frame, size_t len, uint16_t mtu, unsigned k, unsigned tx_flags,
		  uint8_t *out, size_t cap, size_t *out_len);

struct rte_mbuf;
struct rte_mempool;

/*
 * nm_frag_build into one-segment mbufs from `pool`, with the IPv4 checksum
 * offload metadata when tx_flags asks for it. Returns the number of
 * fragments in out[] (at most max), -EMSGSIZE (nm_frag_count is 0 or above
 * max) or -ENOBUFS (pool empty; nothing is kept).
 */
int nm_frag_mbufs(const uint8_t *frame, size_t len, uint16_t mtu, unsigned tx_flags,
		  struct rte_mempool *pool, struct rte_mbuf **out, unsigned max);

/* ---------------------------------------------------------------- RX */

struct nm_frag_table;

/* Bytes a table of `entries` datagrams needs (0 when entries is 0 or above the maximum). */
size_t nm_frag_table_size(unsigned entries);

/*
 * Set up a table in `mem` (nm_frag_table_size(entries) bytes, suitably
 * aligned: malloc or rte_zmalloc memory). A datagram not complete
 * `timeout_ns` after its first fragment is dropped by nm_frag_expire.
 * Returns the table, or NULL for a bad size.
 */
struct nm_frag_table *nm_frag_table_init(void *mem, unsigned entries, uint64_t timeout_ns);

/* Datagrams being reassembled. */
unsigned nm_frag_table_live(const struct nm_frag_table *t);

enum nm_frag_status {
	NM_FRAG_HELD,    /* kept; its datagram is not complete yet */
	NM_FRAG_DONE,    /* this fragment completed its datagram: r->frame, r->len */
	NM_FRAG_DROPPED, /* r->dropped fragments dropped (this one, maybe its datagram's), r->why */
};

struct nm_frag_result {
	const uint8_t *frame; /* DONE: the whole frame; valid until the next nm_frag_add on t */
	size_t len;
	unsigned frags;       /* DONE: the fragments it was made of */
	enum nm_drop why;     /* DROPPED */
	unsigned dropped;     /* DROPPED: fragments to count under why */
};

/*
 * Add one fragment (a frame nm_pkt_parse refused with NM_DROP_IP_FRAGMENT:
 * IPv4 header checked, addressed to us). now_ns is a monotonic clock.
 * Refusals, in order:
 *   IP_FRAGMENT     not UDP (only UDP datagrams are reassembled)
 *   FRAG_BAD        not a fragment, empty, a non-final one not a multiple
 *                   of 8 bytes, or one that contradicts the datagram's end
 *                   (its datagram is dropped too)
 *   FRAG_TOO_LARGE  ends past NM_FRAG_MAX_PAYLOAD
 *   FRAG_TABLE_FULL no entry free for a new datagram
 *   FRAG_DUP        every byte of it already received: only it is dropped
 *   FRAG_OVERLAP    covers part of what was received: its datagram is dropped
 *   FRAG_TOO_MANY   the datagram's NM_FRAG_MAX_FRAGS+1th: its datagram is dropped
 */
enum nm_frag_status nm_frag_add(struct nm_frag_table *t, const uint8_t *frame, size_t len,
				uint64_t now_ns, struct nm_frag_result *r);

/* Drop datagrams older than the timeout. Returns the fragments dropped (NM_DROP_FRAG_TIMEOUT). */
unsigned nm_frag_expire(struct nm_frag_table *t, uint64_t now_ns);

/* Drop every datagram (shutdown). Returns the fragments dropped. */
unsigned nm_frag_flush(struct nm_frag_table *t);

/*
 * Which of n reassemblers owns a fragment: a hash of (source, destination,
 * IP id), the same for every fragment of a datagram whatever RX queue RSS
 * put it on (only the first fragment carries the UDP ports). 0 when n <= 1.
 */
unsigned nm_frag_owner(const uint8_t *frame, size_t len, unsigned n);

#ifdef __cplusplus
}
#endif
#endif /* NM_FRAG_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_cksum.h - the Internet checksum (RFC 1071) over whole datagrams.
 *
 * DPDK 22.11's rte_raw_cksum adds 16-bit words; built for its corei7
 * baseline that loop is a visible share of the packet path on
 * multi-kilobyte Net datagrams (verified on RX, computed on TX). This sum
 * gives the same result, with an AVX2 build of the loop picked at load time
 * (by the dynamic loader) when the CPU has it.
 */
#ifndef NM_CKSUM_H
#define NM_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * A one's-complement sum of 16- or 32-bit words (in memory order) kept in 64
 * bits, folded to 16: the same value rte_raw_cksum's fold gives for the same
 * words (0 only for a zero sum). Inline, for headers summed word by word.
 */
static inline uint16_t nm_cksum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * `sum` (a one's-complement sum of header words, below 2^48) plus buf as
 * 16-bit words in memory order, folded to 16 bits: one fold for a pseudo-
 * header and its datagram.
 */
uint16_t nm_cksum_add(const void *buf, size_t len, uint64_t sum);

/* Sum of buf as 16-bit words in memory order, folded to 16 bits: rte_raw_cksum(buf, len). */
static inline uint16_t nm_cksum_raw(const void *buf, size_t len)
{
	return nm_cksum_add(buf, len, 0);
}

#endif /* NM_CKSUM_H */

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

/* Sum of buf as 16-bit words in memory order, folded to 16 bits: rte_raw_cksum(buf, len). */
uint16_t nm_cksum_raw(const void *buf, size_t len);

#endif /* NM_CKSUM_H */

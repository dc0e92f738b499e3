/* SPDX-License-Identifier: MIT */
/*
 * nm_pkt.h - Ethernet II / IPv4 / UDP on flat buffers, ARP requests and replies, ICMP echo.
 *
 * The appliance speaks IPv4 without options and without fragments on the
 * fast path (wire.md 8.1): eth (14) | ipv4 (20) | udp (8) | Net datagram, so
 * the datagram starts at byte 42. Buffers are `uint8_t *` + length (an
 * mbuf's data, or a test array); nothing is assumed about their alignment.
 * Addresses and ports in this API are in host byte order.
 */
#ifndef NM_PKT_H
#define NM_PKT_H

#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "nm_drop.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_PKT_ETH_LEN 14
#define NM_PKT_IP_LEN 20
#define NM_PKT_UDP_LEN 8
#define NM_PKT_ARP_LEN 28
#define NM_PKT_ICMP_HDR_LEN 8
#define NM_PKT_L3_OFF NM_PKT_ETH_LEN
#define NM_PKT_L4_OFF (NM_PKT_ETH_LEN + NM_PKT_IP_LEN)
#define NM_PKT_DATA_OFF (NM_PKT_L4_OFF + NM_PKT_UDP_LEN) /* 42 */
#define NM_PKT_TTL 64

/* One end of a UDP flow: our port's address, or a peer's. */
struct nm_pkt_endpoint {
	struct rte_ether_addr mac;
	uint32_t ip;   /* host order: RTE_IPV4(10, 0, 0, 1) */
	uint16_t port; /* host order */
};

enum nm_pkt_kind {
	NM_PKT_UDP = 0, /* to our address and port: data is the Net datagram */
	NM_PKT_ICMP,    /* to our address: hand to nm_pkt_icmp_echo_reply() */
	NM_PKT_ARP,     /* hand to nm_pkt_arp_reply() */
};

struct nm_pkt_info {
	enum nm_pkt_kind kind;
	struct nm_pkt_endpoint src; /* sender MAC; IP (IPv4) and port (UDP) */
	uint32_t dst_ip;
	uint16_t dst_port;
	uint16_t l4_off;   /* UDP or ICMP header */
	uint16_t data_off; /* UDP: the datagram; ICMP: the ICMP message */
	uint16_t data_len; /* UDP: datagram bytes; ICMP: ICMP message bytes */
};

/* rx_flags: the NIC already verified a checksum (RTE_MBUF_F_RX_*_CKSUM_GOOD). */
#define NM_PKT_RX_IP_CKSUM_GOOD 0x1u
#define NM_PKT_RX_L4_CKSUM_GOOD 0x2u

/*
 * Demultiplex a received frame. Checks, in order: Ethernet length and
 * destination MAC (ours or broadcast), EtherType (ARP returns at once);
 * IPv4 version/IHL, options, total_length, header checksum, destination
 * address, fragment, protocol (ICMP returns here); UDP length, checksum
 * (0 = none, allowed on IPv4; the pseudo-header sum alone, a sender's
 * unfinished offload as veth/af_packet deliver it, counts as none too),
 * destination port. Ethernet padding after
 * total_length is ignored. Returns 0 and fills *pi, or a negative code and
 * the reason in *why (may be NULL). A fragment is refused as IP_FRAGMENT with
 * its IPv4 header checked: workers hand those to reassembly (nm_frag.h).
 */
int nm_pkt_parse(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		 unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why);

/*
 * nm_pkt_parse without its one-pass path for the common frame (a UDP
 * datagram to us, every check passing): each check made in the order above.
 * nm_pkt_parse hands it every frame its fast path turns down, so both give
 * the same result for every frame (the pkt fuzz target compares them).
 */
int nm_pkt_parse_ref(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		     unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why);

/* tx_flags: leave a checksum to the NIC (RTE_MBUF_F_TX_IP_CKSUM / _UDP_CKSUM). */
#define NM_PKT_TX_IP_CKSUM_OFFLOAD 0x1u  /* IPv4 checksum left 0 */
#define NM_PKT_TX_UDP_CKSUM_OFFLOAD 0x2u /* UDP checksum = pseudo-header sum, as PMDs expect */

/*
 * Fill bytes 0..42 of `frame` for a UDP datagram of data_len bytes already
 * written at frame + NM_PKT_DATA_OFF: Ethernet src->dst, IPv4 (DF, TTL 64,
 * id ip_id, no options), UDP src->dst port, and the checksums unless
 * offloaded. The frame is NM_PKT_DATA_OFF + data_len bytes long.
 * Returns 0, -EINVAL, -EMSGSIZE (over 65535 - 28) or -ENOSPC (cap).
 */
int nm_pkt_build_udp(uint8_t *frame, size_t cap, const struct nm_pkt_endpoint *src,
		     const struct nm_pkt_endpoint *dst, uint16_t ip_id, size_t data_len,
		     unsigned tx_flags);

/*
 * Turn an ARP request for self->ip into the reply, in place (42 bytes,
 * *out_len; the NIC pads to the Ethernet minimum). Anything else is refused:
 * ARP_BAD (not Ethernet/IPv4 ARP), ARP_IGNORED (not a request for us).
 */
int nm_pkt_arp_reply(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		     size_t *out_len, enum nm_drop *why);

/*
 * Write a broadcast ARP request from `self` asking for target_ip (host order):
 * 42 bytes, *out_len (may be NULL); the NIC pads to the Ethernet minimum.
 * Returns 0, -EINVAL or -ENOSPC (cap < 42).
 */
int nm_pkt_arp_request(uint8_t *frame, size_t cap, const struct nm_pkt_endpoint *self,
		       uint32_t target_ip, size_t *out_len);

/*
 * Read an ARP reply addressed to self (our MAC or broadcast, target IP ours):
 * *sender gets the replier's MAC and IP (port 0). Refused: ARP_BAD (not
 * Ethernet/IPv4 ARP), ARP_IGNORED (not a reply, or for another address).
 */
int nm_pkt_arp_reply_sender(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
			    struct nm_pkt_endpoint *sender, enum nm_drop *why);

/*
 * Turn an ICMP echo request to self->ip into the echo reply, in place:
 * addresses swapped, TTL 64, type 0, both checksums recomputed; identifier,
 * sequence and data kept. The frame is first checked by nm_pkt_parse();
 * then ICMP_BAD (short), ICMP_CKSUM, ICMP_IGNORED (not an echo request).
 * *out_len = 14 + IPv4 total_length.
 */
int nm_pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
			   unsigned rx_flags, size_t *out_len, enum nm_drop *why);

#ifdef __cplusplus
}
#endif
#endif /* NM_PKT_H */

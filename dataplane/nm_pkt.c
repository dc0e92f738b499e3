/* SPDX-License-Identifier: MIT */
/* nm_pkt.c - Ethernet/IPv4/UDP parse and build, ARP requests and replies, ICMP echo replies. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "nm_cksum.h"
#include "nm_pkt.h"

/* Ethernet */
#define ETH_DST 0
#define ETH_SRC 6
#define ETH_TYPE 12
/* ARP, from the start of the frame */
#define ARP_HTYPE 14
#define ARP_PTYPE 16
#define ARP_HLEN 18
#define ARP_PLEN 19
#define ARP_OP 20
#define ARP_SHA 22
#define ARP_SPA 28
#define ARP_THA 32
#define ARP_TPA 38
/* ICMP, from the ICMP header */
#define ICMP_TYPE 0
#define ICMP_CODE 1
#define ICMP_CKSUM 2

#define ICMP_ECHO_REQUEST 8
#define ICMP_ECHO_REPLY 0
#define IP_FRAG_MASK (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/* rte_ipv4_hdr and rte_udp_hdr are packed, so any byte address is fine. */
static inline struct rte_ipv4_hdr *ip_of(const uint8_t *f)
{
	return (struct rte_ipv4_hdr *)(uintptr_t)(f + NM_PKT_L3_OFF);
}

static inline struct rte_udp_hdr *udp_of(const uint8_t *f)
{
	return (struct rte_udp_hdr *)(uintptr_t)(f + NM_PKT_L4_OFF);
}

static bool mac_is(const uint8_t *p, const struct rte_ether_addr *a)
{
	return memcmp(p, a->addr_bytes, RTE_ETHER_ADDR_LEN) == 0;
}

static bool mac_for_us(const uint8_t *p, const struct rte_ether_addr *self)
{
	static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	return mac_is(p, self) || mac_is(p, &bcast);
}

/* Header sums are always inlined: called once per frame, their calls cost as much as they do. */
#define HOT static inline __attribute__((always_inline))

/* Sum of the IPv4 header's five 32-bit words (memory order): nm_cksum_fold gives rte_raw_cksum. */
HOT uint64_t ip_hdr_sum(const uint8_t *f)
{
	uint32_t w[5];
	memcpy(w, f + NM_PKT_L3_OFF, sizeof(w));
	return (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
}

/* The header checksum is right (or the NIC said so): rte_ipv4_cksum() == 0. */
HOT bool ip_cksum_passes(const uint8_t *f, unsigned rx_flags)
{
	return (rx_flags & NM_PKT_RX_IP_CKSUM_GOOD) || nm_cksum_fold(ip_hdr_sum(f)) == 0xffff;
}

/* The IPv4 header checksum of the header in place (its checksum field 0): rte_ipv4_cksum. */
HOT uint16_t ip_cksum_of(const uint8_t *f)
{
	return (uint16_t)~nm_cksum_fold(ip_hdr_sum(f));
}

/* The pseudo-header of a UDP datagram of ulen bytes, from the addresses in place, unfolded. */
HOT uint64_t udp_phdr_sum(const uint8_t *f, uint16_t ulen)
{
	const uint8_t tail[4] = { 0, IPPROTO_UDP, (uint8_t)(ulen >> 8), (uint8_t)ulen };
	uint32_t a[2], t;
	memcpy(a, f + NM_PKT_L3_OFF + 12, sizeof(a));
	memcpy(&t, tail, sizeof(t));
	return (uint64_t)a[0] + a[1] + t;
}

/* Pseudo-header and datagram (ulen bytes at the UDP header), folded: 0xffff when right. */
HOT uint16_t udp_sum(const uint8_t *f, uint16_t ulen, uint64_t phdr)
{
	return nm_cksum_add(f + NM_PKT_L4_OFF, ulen, phdr);
}

/*
 * The UDP checksum of a datagram of ulen bytes lets it pass. A zero checksum
 * means "none" on IPv4 (RFC 768). So does one equal to the pseudo-header sum
 * (rte_ipv4_phdr_cksum): a kernel sender's unfinished CHECKSUM_PARTIAL, which
 * veth hands to af_packet as it is (DPDK 22.11's af_packet PMD does not
 * report TP_STATUS_CSUMNOTREADY). It covers nothing; what we accept after it
 * is authenticated anyway (AEAD tag, Noise MAC). The full sum is tried
 * first: it is what a well-formed frame carries.
 */
HOT bool udp_cksum_passes(const uint8_t *f, uint16_t ulen, unsigned rx_flags)
{
	uint16_t ck;
	memcpy(&ck, f + NM_PKT_L4_OFF + 6, sizeof(ck));
	if (ck == 0 || (rx_flags & NM_PKT_RX_L4_CKSUM_GOOD))
		return true;
	const uint64_t phdr = udp_phdr_sum(f, ulen);
	return udp_sum(f, ulen, phdr) == 0xffff || ck == nm_cksum_fold(phdr);
}

/* Sets the Ethernet fields of a reply: back to the sender, from us. */
static void eth_turn_around(uint8_t *f, const struct rte_ether_addr *self)
{
	memmove(f + ETH_DST, f + ETH_SRC, RTE_ETHER_ADDR_LEN);
	memcpy(f + ETH_SRC, self->addr_bytes, RTE_ETHER_ADDR_LEN);
}

static int parse_udp(const uint8_t *f, uint16_t tot, const struct nm_pkt_endpoint *self,
		     unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why)
{
	uint16_t ulen;

	if (tot < NM_PKT_IP_LEN + NM_PKT_UDP_LEN)
		return nm_drop(why, NM_DROP_UDP_LEN);
	ulen = be16(f + NM_PKT_L4_OFF + 4);
	if (ulen != tot - NM_PKT_IP_LEN)
		return nm_drop(why, NM_DROP_UDP_LEN);
	if (!udp_cksum_passes(f, ulen, rx_flags))
		return nm_drop(why, NM_DROP_UDP_CKSUM);
	pi->src.port = be16(f + NM_PKT_L4_OFF);
	pi->dst_port = be16(f + NM_PKT_L4_OFF + 2);
	if (pi->dst_port != self->port)
		return nm_drop(why, NM_DROP_UDP_PORT);
	pi->kind = NM_PKT_UDP;
	pi->l4_off = NM_PKT_L4_OFF;
	pi->data_off = NM_PKT_DATA_OFF;
	pi->data_len = (uint16_t)(ulen - NM_PKT_UDP_LEN);
	return 0;
}

static int parse_ipv4(const uint8_t *f, size_t len, const struct nm_pkt_endpoint *self,
		      unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why)
{
	uint8_t vihl;
	uint16_t tot;

	if (len < NM_PKT_L4_OFF)
		return nm_drop(why, NM_DROP_ETH_SHORT);
	vihl = f[NM_PKT_L3_OFF];
	if (vihl >> 4 != 4 || (vihl & 0xf) < 5)
		return nm_drop(why, NM_DROP_IP_BAD_HDR);
	if ((vihl & 0xf) != 5)
		return nm_drop(why, NM_DROP_IP_OPTIONS);
	tot = be16(f + NM_PKT_L3_OFF + 2);
	if (tot < NM_PKT_IP_LEN || tot > len - NM_PKT_ETH_LEN)
		return nm_drop(why, NM_DROP_IP_LEN);
	if (!ip_cksum_passes(f, rx_flags))
		return nm_drop(why, NM_DROP_IP_CKSUM);
	pi->src.ip = be32(f + NM_PKT_L3_OFF + 12);
	pi->dst_ip = be32(f + NM_PKT_L3_OFF + 16);
	if (pi->dst_ip != self->ip)
		return nm_drop(why, NM_DROP_IP_NOT_OURS);
	if (be16(f + NM_PKT_L3_OFF + 6) & IP_FRAG_MASK)
		return nm_drop(why, NM_DROP_IP_FRAGMENT);
	switch (f[NM_PKT_L3_OFF + 9]) {
	case IPPROTO_UDP:
		return parse_udp(f, tot, self, rx_flags, pi, why);
	case IPPROTO_ICMP:
		pi->kind = NM_PKT_ICMP;
		pi->l4_off = NM_PKT_L4_OFF;
		pi->data_off = NM_PKT_L4_OFF;
		pi->data_len = (uint16_t)(tot - NM_PKT_IP_LEN);
		return 0;
	default:
		return nm_drop(why, NM_DROP_IP_PROTO);
	}
}

int nm_pkt_parse_ref(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		     unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why)
{
	uint16_t type;

	if (!frame || !self || !pi)
		return -EINVAL;
	memset(pi, 0, sizeof(*pi));
	if (len < NM_PKT_ETH_LEN)
		return nm_drop(why, NM_DROP_ETH_SHORT);
	if (!mac_for_us(frame + ETH_DST, &self->mac))
		return nm_drop(why, NM_DROP_ETH_NOT_OURS);
	memcpy(pi->src.mac.addr_bytes, frame + ETH_SRC, RTE_ETHER_ADDR_LEN);
	type = be16(frame + ETH_TYPE);
	if (type == RTE_ETHER_TYPE_ARP) {
		pi->kind = NM_PKT_ARP;
		pi->data_off = NM_PKT_L3_OFF;
		pi->data_len = (uint16_t)RTE_MIN(len - NM_PKT_ETH_LEN, (size_t)UINT16_MAX);
		return 0;
	}
	if (type != RTE_ETHER_TYPE_IPV4)
		return nm_drop(why, NM_DROP_ETH_TYPE);
	return parse_ipv4(frame, len, self, rx_flags, pi, why);
}

/*
 * The common frame in one pass: a UDP datagram to our address and port, IPv4
 * without options or fragments. It only says yes: every check of
 * nm_pkt_parse_ref passes, so the order they are made in does not matter. A
 * frame it turns down goes to nm_pkt_parse_ref, which finds the reason.
 */
static inline bool parse_udp_fast(const uint8_t *f, size_t len, const struct nm_pkt_endpoint *self,
				  unsigned rx_flags, struct nm_pkt_info *pi)
{
	if (len < NM_PKT_DATA_OFF || !mac_for_us(f + ETH_DST, &self->mac))
		return false;
	const uint8_t *ip = f + NM_PKT_L3_OFF;
	const uint16_t tot = be16(ip + 2), ulen = be16(f + NM_PKT_L4_OFF + 4);
	/* ulen >= 8 and tot = 20 + ulen: parse_ipv4's and parse_udp's length rules at once. */
	if (be16(f + ETH_TYPE) != RTE_ETHER_TYPE_IPV4 || ip[0] != 0x45 ||
	    (be16(ip + 6) & IP_FRAG_MASK) != 0 || ip[9] != IPPROTO_UDP ||
	    ulen < NM_PKT_UDP_LEN || tot != ulen + NM_PKT_IP_LEN || tot > len - NM_PKT_ETH_LEN ||
	    be32(ip + 16) != self->ip || be16(f + NM_PKT_L4_OFF + 2) != self->port ||
	    !ip_cksum_passes(f, rx_flags) || !udp_cksum_passes(f, ulen, rx_flags))
		return false;
	pi->kind = NM_PKT_UDP;
	memcpy(pi->src.mac.addr_bytes, f + ETH_SRC, RTE_ETHER_ADDR_LEN);
	pi->src.ip = be32(ip + 12);
	pi->src.port = be16(f + NM_PKT_L4_OFF);
	pi->dst_ip = self->ip;
	pi->dst_port = self->port;
	pi->l4_off = NM_PKT_L4_OFF;
	pi->data_off = NM_PKT_DATA_OFF;
	pi->data_len = (uint16_t)(ulen - NM_PKT_UDP_LEN);
	return true;
}

int nm_pkt_parse(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		 unsigned rx_flags, struct nm_pkt_info *pi, enum nm_drop *why)
{
	if (frame && self && pi && parse_udp_fast(frame, len, self, rx_flags, pi))
		return 0;
	return nm_pkt_parse_ref(frame, len, self, rx_flags, pi, why);
}

int nm_pkt_build_udp(uint8_t *frame, size_t cap, const struct nm_pkt_endpoint *src,
		     const struct nm_pkt_endpoint *dst, uint16_t ip_id, size_t data_len,
		     unsigned tx_flags)
{
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;

	if (!frame || !src || !dst)
		return -EINVAL;
	if (data_len > UINT16_MAX - NM_PKT_IP_LEN - NM_PKT_UDP_LEN)
		return -EMSGSIZE;
	if (cap < NM_PKT_DATA_OFF + data_len)
		return -ENOSPC;

	memcpy(frame + ETH_DST, dst->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	memcpy(frame + ETH_SRC, src->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	put_be16(frame + ETH_TYPE, RTE_ETHER_TYPE_IPV4);

	ip = ip_of(frame);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(NM_PKT_IP_LEN + NM_PKT_UDP_LEN + data_len));
	ip->packet_id = rte_cpu_to_be_16(ip_id);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = NM_PKT_TTL;
	ip->next_proto_id = IPPROTO_UDP;
	ip->hdr_checksum = 0;
	ip->src_addr = rte_cpu_to_be_32(src->ip);
	ip->dst_addr = rte_cpu_to_be_32(dst->ip);

	udp = udp_of(frame);
	udp->src_port = rte_cpu_to_be_16(src->port);
	udp->dst_port = rte_cpu_to_be_16(dst->port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(NM_PKT_UDP_LEN + data_len));
	udp->dgram_cksum = 0;

	/* The UDP sum covers the pseudo-header, so the IPv4 fields must be final first. */
	const uint16_t ulen = (uint16_t)(NM_PKT_UDP_LEN + data_len);
	const uint64_t phdr = udp_phdr_sum(frame, ulen);
	if (tx_flags & NM_PKT_TX_UDP_CKSUM_OFFLOAD) {
		udp->dgram_cksum = nm_cksum_fold(phdr);
	} else {
		/* rte_ipv4_udptcp_cksum: a computed 0 goes on the wire as 0xffff (RFC 768). */
		const uint16_t c = (uint16_t)~udp_sum(frame, ulen, phdr);
		udp->dgram_cksum = c == 0 ? 0xffff : c;
	}
	if (!(tx_flags & NM_PKT_TX_IP_CKSUM_OFFLOAD))
		ip->hdr_checksum = ip_cksum_of(frame);
	return 0;
}

/* An Ethernet/IPv4 ARP packet for our MAC (or broadcast); the operation is not judged. */
static int arp_check_hdr(const uint8_t *f, size_t len, const struct nm_pkt_endpoint *self,
			 enum nm_drop *why)
{
	if (len < NM_PKT_ETH_LEN)
		return nm_drop(why, NM_DROP_ETH_SHORT);
	if (be16(f + ETH_TYPE) != RTE_ETHER_TYPE_ARP)
		return nm_drop(why, NM_DROP_ETH_TYPE);
	if (!mac_for_us(f + ETH_DST, &self->mac))
		return nm_drop(why, NM_DROP_ETH_NOT_OURS);
	if (len < NM_PKT_ETH_LEN + NM_PKT_ARP_LEN || be16(f + ARP_HTYPE) != RTE_ARP_HRD_ETHER ||
	    be16(f + ARP_PTYPE) != RTE_ETHER_TYPE_IPV4 || f[ARP_HLEN] != RTE_ETHER_ADDR_LEN ||
	    f[ARP_PLEN] != 4)
		return nm_drop(why, NM_DROP_ARP_BAD);
	return 0;
}

/* arp_check_hdr, then: operation `op` with our address as the target. */
static int arp_check(const uint8_t *f, size_t len, const struct nm_pkt_endpoint *self,
		     uint16_t op, enum nm_drop *why)
{
	int rc = arp_check_hdr(f, len, self, why);
	if (rc < 0)
		return rc;
	if (be16(f + ARP_OP) != op || be32(f + ARP_TPA) != self->ip)
		return nm_drop(why, NM_DROP_ARP_IGNORED);
	return 0;
}

int nm_pkt_arp_reply(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		     size_t *out_len, enum nm_drop *why)
{
	int rc;

	if (!frame || !self)
		return -EINVAL;
	rc = arp_check(frame, len, self, RTE_ARP_OP_REQUEST, why);
	if (rc < 0)
		return rc;
	eth_turn_around(frame, &self->mac);
	put_be16(frame + ARP_OP, RTE_ARP_OP_REPLY);
	/* The requester becomes the target, then we fill in ourselves as sender. */
	memmove(frame + ARP_THA, frame + ARP_SHA, RTE_ETHER_ADDR_LEN + 4);
	memcpy(frame + ARP_SHA, self->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	put_be32(frame + ARP_SPA, self->ip);
	if (out_len)
		*out_len = NM_PKT_ETH_LEN + NM_PKT_ARP_LEN;
	return 0;
}

int nm_pkt_arp_request(uint8_t *frame, size_t cap, const struct nm_pkt_endpoint *self,
		       uint32_t target_ip, size_t *out_len)
{
	if (!frame || !self)
		return -EINVAL;
	if (cap < NM_PKT_ETH_LEN + NM_PKT_ARP_LEN)
		return -ENOSPC;
	memset(frame + ETH_DST, 0xff, RTE_ETHER_ADDR_LEN);
	memcpy(frame + ETH_SRC, self->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	put_be16(frame + ETH_TYPE, RTE_ETHER_TYPE_ARP);
	put_be16(frame + ARP_HTYPE, RTE_ARP_HRD_ETHER);
	put_be16(frame + ARP_PTYPE, RTE_ETHER_TYPE_IPV4);
	frame[ARP_HLEN] = RTE_ETHER_ADDR_LEN;
	frame[ARP_PLEN] = 4;
	put_be16(frame + ARP_OP, RTE_ARP_OP_REQUEST);
	memcpy(frame + ARP_SHA, self->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	put_be32(frame + ARP_SPA, self->ip);
	memset(frame + ARP_THA, 0, RTE_ETHER_ADDR_LEN); /* unknown: what we ask for */
	put_be32(frame + ARP_TPA, target_ip);
	if (out_len)
		*out_len = NM_PKT_ETH_LEN + NM_PKT_ARP_LEN;
	return 0;
}

int nm_pkt_arp_reply_sender(const uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
			    struct nm_pkt_endpoint *sender, enum nm_drop *why)
{
	int rc;

	if (!frame || !self || !sender)
		return -EINVAL;
	rc = arp_check(frame, len, self, RTE_ARP_OP_REPLY, why);
	if (rc < 0)
		return rc;
	memset(sender, 0, sizeof(*sender));
	memcpy(sender->mac.addr_bytes, frame + ARP_SHA, RTE_ETHER_ADDR_LEN);
	sender->ip = be32(frame + ARP_SPA);
	return 0;
}

int nm_pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
			   unsigned rx_flags, size_t *out_len, enum nm_drop *why)
{
	struct nm_pkt_info pi;
	struct rte_ipv4_hdr *ip;
	uint8_t *icmp;
	uint16_t sum;
	int rc;

	rc = nm_pkt_parse(frame, len, self, rx_flags, &pi, why);
	if (rc < 0)
		return rc;
	if (pi.kind != NM_PKT_ICMP)
		return nm_drop(why, NM_DROP_IP_PROTO);
	icmp = frame + pi.data_off;
	if (pi.data_len < NM_PKT_ICMP_HDR_LEN)
		return nm_drop(why, NM_DROP_ICMP_BAD);
	if (rte_raw_cksum(icmp, pi.data_len) != 0xffff)
		return nm_drop(why, NM_DROP_ICMP_CKSUM);
	if (icmp[ICMP_TYPE] != ICMP_ECHO_REQUEST || icmp[ICMP_CODE] != 0)
		return nm_drop(why, NM_DROP_ICMP_IGNORED);

	eth_turn_around(frame, &self->mac);
	ip = ip_of(frame);
	ip->dst_addr = ip->src_addr;
	ip->src_addr = rte_cpu_to_be_32(self->ip);
	ip->time_to_live = NM_PKT_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = ip_cksum_of(frame);

	icmp[ICMP_TYPE] = ICMP_ECHO_REPLY;
	memset(icmp + ICMP_CKSUM, 0, 2);
	sum = (uint16_t)~rte_raw_cksum(icmp, pi.data_len);
	memcpy(icmp + ICMP_CKSUM, &sum, sizeof(sum)); /* one's-complement sums keep byte order */
	if (out_len)
		*out_len = NM_PKT_ETH_LEN + NM_PKT_IP_LEN + (size_t)pi.data_len;
	return 0;
}

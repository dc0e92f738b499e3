/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pkt.c - Ethernet/IPv4/UDP, ARP and ICMP echo on flat frames (dataplane/nm_pkt.h).
 *
 * Input: byte 0 = the rx_flags a NIC would give (low 2 bits) and whether
 * the bytes after it are also used as a UDP payload (bit 2); the rest is a
 * frame received by A. Properties: what nm_pkt_parse reports lies inside
 * the frame and is addressed to A; an ARP reply or an ICMP echo reply made
 * from the frame parses back at the requester (a reply from A, about A,
 * checksums right, the echo data unchanged); a UDP datagram built by A
 * parses at B to the same addresses, ports and bytes; nm_pkt_parse and
 * nm_pkt_parse_ref give the same result (code, reason, every field).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_ip.h>

#include "fuzz_common.h"
#include "nm_pkt.h"

static const struct nm_pkt_endpoint A = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x01 } }, .ip = RTE_IPV4(127, 0, 0, 1), .port = 7777,
};
static const struct nm_pkt_endpoint B = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x02 } }, .ip = RTE_IPV4(127, 0, 0, 2), .port = 7778,
};

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Field by field: the structs have padding. */
static bool same_info(const struct nm_pkt_info *a, const struct nm_pkt_info *b)
{
	return a->kind == b->kind && memcmp(&a->src.mac, &b->src.mac, 6) == 0 &&
	       a->src.ip == b->src.ip && a->src.port == b->src.port && a->dst_ip == b->dst_ip &&
	       a->dst_port == b->dst_port && a->l4_off == b->l4_off && a->data_off == b->data_off &&
	       a->data_len == b->data_len;
}

/* The frame's sender, as the endpoint a reply goes back to. */
static struct nm_pkt_endpoint requester_of(const uint8_t *f, uint32_t ip)
{
	struct nm_pkt_endpoint r = { .ip = ip };
	memcpy(r.mac.addr_bytes, f + 6, 6);
	return r;
}

static void check_arp(const uint8_t *f, size_t len)
{
	uint8_t *m = malloc(len);
	FUZZ_CHECK(m != NULL);
	memcpy(m, f, len);
	size_t out = 0;
	enum nm_drop why = NM_DROP_NONE;
	if (nm_pkt_arp_reply(m, len, &A, &out, &why) == 0) {
		FUZZ_CHECK(out == NM_PKT_ETH_LEN + NM_PKT_ARP_LEN && out <= len);
		struct nm_pkt_endpoint req = requester_of(f, be32_at(f + NM_PKT_ETH_LEN + 14));
		struct nm_pkt_endpoint sender;
		struct nm_pkt_info pi;
		FUZZ_CHECK(nm_pkt_parse(m, out, &req, 0, &pi, NULL) == 0 && pi.kind == NM_PKT_ARP);
		FUZZ_CHECK(nm_pkt_arp_reply_sender(m, out, &req, &sender, &why) == 0);
		FUZZ_CHECK(memcmp(&sender.mac, &A.mac, 6) == 0 && sender.ip == A.ip && sender.port == 0);
	} else {
		FUZZ_CHECK(why != NM_DROP_NONE);
	}
	struct nm_pkt_endpoint sender;
	why = NM_DROP_NONE;
	if (nm_pkt_arp_reply_sender(f, len, &A, &sender, &why) == 0)
		FUZZ_CHECK(sender.ip == be32_at(f + NM_PKT_ETH_LEN + 14) && sender.port == 0);
	else
		FUZZ_CHECK(why != NM_DROP_NONE);
	free(m);
}

static void check_icmp(const uint8_t *f, size_t len, unsigned rx_flags)
{
	uint8_t *m = malloc(len);
	FUZZ_CHECK(m != NULL);
	memcpy(m, f, len);
	size_t out = 0;
	enum nm_drop why = NM_DROP_NONE;
	if (nm_pkt_icmp_echo_reply(m, len, &A, rx_flags, &out, &why) == 0) {
		FUZZ_CHECK(out <= len && out >= NM_PKT_L4_OFF + NM_PKT_ICMP_HDR_LEN);
		struct nm_pkt_endpoint req = requester_of(f, be32_at(f + NM_PKT_L3_OFF + 12));
		struct nm_pkt_info pi;
		/* No NIC help at the requester: both checksums must be right. */
		FUZZ_CHECK(nm_pkt_parse(m, out, &req, 0, &pi, NULL) == 0 && pi.kind == NM_PKT_ICMP);
		FUZZ_CHECK(pi.src.ip == A.ip && memcmp(&pi.src.mac, &A.mac, 6) == 0);
		const uint8_t *icmp = m + pi.data_off;
		FUZZ_CHECK(rte_raw_cksum(icmp, pi.data_len) == 0xffff);
		FUZZ_CHECK(icmp[0] == 0 && icmp[1] == 0);
		FUZZ_CHECK(memcmp(icmp + 4, f + pi.data_off + 4, pi.data_len - 4) == 0);
		FUZZ_CHECK(m[NM_PKT_L3_OFF + 8] == NM_PKT_TTL);
	} else {
		FUZZ_CHECK(why != NM_DROP_NONE);
	}
	free(m);
}

/* A builds a datagram of these bytes; B reads the same back. */
static void check_build(const uint8_t *data, size_t n, unsigned tx_flags)
{
	static uint8_t f[NM_PKT_DATA_OFF + 65536];
	if (n > 9000)
		n = 9000;
	memcpy(f + NM_PKT_DATA_OFF, data, n);
	FUZZ_CHECK(nm_pkt_build_udp(f, NM_PKT_DATA_OFF + n, &A, &B, (uint16_t)n, n, tx_flags) == 0);
	FUZZ_CHECK(nm_pkt_build_udp(f, NM_PKT_DATA_OFF + n - 1, &A, &B, 1, n, tx_flags) == -ENOSPC);
	/* The NIC's offloads leave checksums undone: it says they are good. */
	unsigned rx = (tx_flags & NM_PKT_TX_IP_CKSUM_OFFLOAD ? NM_PKT_RX_IP_CKSUM_GOOD : 0) |
		      (tx_flags & NM_PKT_TX_UDP_CKSUM_OFFLOAD ? NM_PKT_RX_L4_CKSUM_GOOD : 0);
	struct nm_pkt_info pi;
	enum nm_drop why = NM_DROP_NONE;
	FUZZ_CHECK(nm_pkt_parse(f, NM_PKT_DATA_OFF + n, &B, rx, &pi, &why) == 0);
	FUZZ_CHECK(pi.kind == NM_PKT_UDP && pi.data_off == NM_PKT_DATA_OFF && pi.data_len == n);
	FUZZ_CHECK(pi.src.ip == A.ip && pi.src.port == A.port && pi.dst_ip == B.ip &&
		   pi.dst_port == B.port && memcmp(&pi.src.mac, &A.mac, 6) == 0);
	FUZZ_CHECK(memcmp(f + NM_PKT_DATA_OFF, data, n) == 0);
	/* A's own frame is not for A. */
	FUZZ_CHECK(nm_pkt_parse(f, NM_PKT_DATA_OFF + n, &A, rx, &pi, &why) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned rx_flags = data[0] & 3;
	const uint8_t *f = data + 1;
	size_t len = size - 1;
	struct nm_pkt_info pi, ref;
	enum nm_drop why = NM_DROP_NONE, ref_why = NM_DROP_NONE;
	int rc = nm_pkt_parse(f, len, &A, rx_flags, &pi, &why);
	/* The one-pass path for the common frame decides exactly as every check in order. */
	FUZZ_CHECK(nm_pkt_parse_ref(f, len, &A, rx_flags, &ref, &ref_why) == rc && ref_why == why);
	if (rc == 0)
		FUZZ_CHECK(same_info(&pi, &ref));
	if (rc == 0) {
		FUZZ_CHECK((size_t)pi.data_off + pi.data_len <= len);
		if (pi.kind != NM_PKT_ARP)
			FUZZ_CHECK(pi.dst_ip == A.ip && pi.l4_off == NM_PKT_L4_OFF);
		if (pi.kind == NM_PKT_UDP)
			FUZZ_CHECK(pi.dst_port == A.port && pi.data_off == NM_PKT_DATA_OFF);
	} else {
		FUZZ_CHECK(why != NM_DROP_NONE);
	}
	if (len > 0) {
		check_arp(f, len);
		check_icmp(f, len, rx_flags);
	}
	if (data[0] & 4)
		check_build(f, len, data[0] >> 3 & 3);
	return 0;
}

void fuzz_seeds(void)
{
	uint8_t f[1600];
	size_t len;
	/* B asks who has A; A's reply to it (what B's parser takes). */
	FUZZ_CHECK(nm_pkt_arp_request(f, sizeof(f), &B, A.ip, &len) == 0);
	fuzz_seed_tagged(0, f, len);
	FUZZ_CHECK(nm_pkt_arp_reply(f, len, &A, &len, NULL) == 0);
	fuzz_seed_tagged(0, f, len);
	/* UDP from B to A, checksums done and offloaded. */
	fuzz_fill(f + NM_PKT_DATA_OFF, 100, 1);
	const struct nm_pkt_endpoint to_a = { A.mac, A.ip, A.port };
	FUZZ_CHECK(nm_pkt_build_udp(f, sizeof(f), &B, &to_a, 7, 100, 0) == 0);
	fuzz_seed_tagged(4, f, NM_PKT_DATA_OFF + 100);
	FUZZ_CHECK(nm_pkt_build_udp(f, sizeof(f), &B, &to_a, 7, 100, 3) == 0);
	fuzz_seed_tagged(3 | 4 | 3 << 3, f, NM_PKT_DATA_OFF + 100);
	/* An ICMP echo request from B. */
	len = fuzz_icmp_echo_request(f, sizeof(f), &B, &to_a, 56);
	fuzz_seed_tagged(0, f, len);
}

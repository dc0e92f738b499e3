/* SPDX-License-Identifier: MIT */
/*
 * nm_packet.h - a whole causal-event packet in a flat buffer: build (frame
 * events, NetHeader, seal, Ethernet/IPv4/UDP) and open (parse, decrypt, read
 * the events). The worker's TX path, the traffic generator and the tests all
 * build packets with this one function.
 *
 *   [Eth 14][IPv4 20][UDP 8][NetHeader 68][EventFrames payload_len][tag 16]
 */
#ifndef NM_PACKET_H
#define NM_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "nm_aead.h"
#include "nm_causal.h"
#include "nm_drop.h"
#include "nm_pkt.h"
#include "nm_wire.h"

/* Bytes of EventFrames that fit one packet at an IP MTU. */
static inline size_t nm_packet_budget(uint16_t mtu)
{
	size_t over = NM_PKT_IP_LEN + NM_PKT_UDP_LEN + NM_NET_HDR_SIZE + NM_NET_TAG_SIZE;
	return mtu > over ? mtu - over : 0;
}

/* Largest output payload any packet can carry: one EventFrame in the largest Net packet. */
#define NM_PACKET_MAX_EVENT (NM_NET_MAX_PAYLOAD - NM_CAUSAL_FRAME_HDR - NM_CAUSAL_LINK_SIZE) /* 8072 */

struct nm_packet_tx {
	const struct nm_pkt_endpoint *src;
	const struct nm_pkt_endpoint *dst;
	uint16_t ip_id;
	unsigned tx_flags;          /* NM_PKT_TX_*_OFFLOAD */
	const struct nm_aead *key;  /* the session's TX key */
	uint64_t counter;           /* AEAD counter (unique per session) */
	uint64_t session_id;
	uint64_t stream_id;
	uint64_t sequence;
	uint64_t origin_hash;
	size_t budget;              /* max EventFrame bytes, nm_packet_budget(mtu) */
};

/*
 * Build one packet carrying as many of evs[0..n) as fit the budget, in order.
 * *used = events consumed (written, plus any skipped as unframeable); 0 when
 * the first event alone exceeds the budget (-EMSGSIZE). *len = frame bytes.
 */
int nm_packet_build(uint8_t *frame, size_t cap, const struct nm_packet_tx *t,
		    const struct nm_event *evs, uint32_t n, uint32_t *used, size_t *len);

/*
 * nm_packet_build in two halves around the seal, for callers that seal many
 * packets as one burst (the worker): frame writes the events and the
 * NetHeader and gives the datagram's sealed length (*dlen; key and counter
 * unused); after the seal, finish writes Ethernet/IPv4/UDP (the UDP checksum
 * covers the ciphertext) and *len. Same errors as nm_packet_build.
 */
int nm_packet_frame(uint8_t *frame, size_t cap, const struct nm_packet_tx *t,
		    const struct nm_event *evs, uint32_t n, uint32_t *used, size_t *dlen);
int nm_packet_finish(uint8_t *frame, size_t cap, const struct nm_packet_tx *t, size_t dlen,
		     size_t *len);

/*
 * The NetHeader of a packet whose EventFrames (payload_len bytes, events of
 * them) the caller already wrote in place at frame + NM_PKT_DATA_OFF +
 * NM_NET_HDR_SIZE (the worker frames outputs there); *dlen as nm_packet_frame.
 */
void nm_packet_header(uint8_t *frame, const struct nm_packet_tx *t, size_t payload_len,
		      uint32_t events, size_t *dlen);

/* A heartbeat is a NetHeader and the tag over an empty payload: 84 bytes. */
#define NM_HEARTBEAT_LEN (NM_NET_HDR_SIZE + NM_NET_TAG_SIZE)

/*
 * Write a sealed heartbeat datagram (wire.md 2.7: HEARTBEAT flag, session_id
 * set, stream and sequence 0, empty payload) into dgram. origin_hash is the
 * sender's, or 0. Returns 0 or the seal's error.
 */
int nm_packet_heartbeat(uint8_t dgram[NM_HEARTBEAT_LEN], const struct nm_aead *key,
			uint64_t session_id, uint64_t origin_hash, uint64_t counter);

/*
 * A subprotocol message (wire.md 5.1: one EventFrame [LE32 len][body] in a
 * sealed packet with subprotocol_id set; migration uses stream 0x0500) as a
 * datagram: NetHeader, frame, tag. Returns the datagram length, -EMSGSIZE
 * when it exceeds cap or the 8192-byte packet, or the seal's error.
 */
int nm_packet_message(uint8_t *dgram, size_t cap, const struct nm_aead *key, uint64_t counter,
		      uint64_t session_id, uint16_t subprotocol, uint64_t stream_id,
		      uint64_t sequence, uint64_t origin_hash, const uint8_t *body, size_t len);

/*
 * Open a frame addressed to `self` with the RX key: parse, check the header,
 * decrypt in place, read the events (payloads point into frame). Returns the
 * number of events, or a negative code with the drop reason in *why.
 */
int nm_packet_open(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		   const struct nm_aead *key, struct nm_net_hdr *h, struct nm_event *evs,
		   uint32_t max, enum nm_drop *why);

#endif /* NM_PACKET_H */

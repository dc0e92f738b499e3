/* SPDX-License-Identifier: MIT */
/* nm_packet.c - build and open whole causal-event packets (see header). */
#include "nm_packet.h"

#include <errno.h>
#include <string.h>

#include "nm_le.h"

int nm_packet_frame(uint8_t *frame, size_t cap, const struct nm_packet_tx *t,
		    const struct nm_event *evs, uint32_t n, uint32_t *used, size_t *dlen)
{
	*used = 0;
	const size_t fixed = NM_PKT_DATA_OFF + NM_NET_HDR_SIZE + NM_NET_TAG_SIZE;
	if (cap < fixed)
		return -ENOSPC;
	size_t budget = t->budget;
	if (budget > cap - fixed)
		budget = cap - fixed;
	if (budget > NM_NET_MAX_PAYLOAD)
		budget = NM_NET_MAX_PAYLOAD;

	uint8_t *dgram = frame + NM_PKT_DATA_OFF;
	struct nm_frame_stats st;
	nm_causal_write(dgram + NM_NET_HDR_SIZE, budget, evs, n, &st);
	*used = st.events_written + st.events_skipped;
	if (st.events_written == 0)
		return -EMSGSIZE;
	nm_packet_header(frame, t, st.bytes_written, st.events_written, dlen);
	return 0;
}

void nm_packet_header(uint8_t *frame, const struct nm_packet_tx *t, size_t payload_len,
		      uint32_t events, size_t *dlen)
{
	const struct nm_net_hdr h = {
		.magic = NM_MAGIC_NET,
		.version = NM_NET_VERSION,
		.subprotocol_id = NM_SUBPROTOCOL_CAUSAL,
		.session_id = t->session_id,
		.stream_id = t->stream_id,
		.sequence = t->sequence,
		.origin_hash = t->origin_hash,
		.payload_len = (uint16_t)payload_len,
		.event_count = (uint16_t)events,
	};
	nm_hdr_encode(&h, frame + NM_PKT_DATA_OFF);
	*dlen = NM_NET_HDR_SIZE + payload_len + NM_NET_TAG_SIZE;
}

int nm_packet_finish(uint8_t *frame, size_t cap, const struct nm_packet_tx *t, size_t dlen,
		     size_t *len)
{
	int rc = nm_pkt_build_udp(frame, cap, t->src, t->dst, t->ip_id, dlen, t->tx_flags);
	if (rc < 0)
		return rc;
	*len = NM_PKT_DATA_OFF + dlen;
	return 0;
}

int nm_packet_build(uint8_t *frame, size_t cap, const struct nm_packet_tx *t,
		    const struct nm_event *evs, uint32_t n, uint32_t *used, size_t *len)
{
	size_t dlen;
	int rc = nm_packet_frame(frame, cap, t, evs, n, used, &dlen);
	if (rc < 0)
		return rc;
	rc = nm_aead_seal(t->key, frame + NM_PKT_DATA_OFF, dlen, t->counter);
	if (rc < 0)
		return rc;
	return nm_packet_finish(frame, cap, t, dlen, len);
}

int nm_packet_heartbeat(uint8_t dgram[NM_HEARTBEAT_LEN], const struct nm_aead *key,
			uint64_t session_id, uint64_t origin_hash, uint64_t counter)
{
	const struct nm_net_hdr h = {
		.magic = NM_MAGIC_NET,
		.version = NM_NET_VERSION,
		.flags = NM_FLAG_HEARTBEAT,
		.session_id = session_id,
		.origin_hash = origin_hash,
	};
	nm_hdr_encode(&h, dgram);
	return nm_aead_seal(key, dgram, NM_HEARTBEAT_LEN, counter);
}

int nm_packet_message(uint8_t *dgram, size_t cap, const struct nm_aead *key, uint64_t counter,
		      uint64_t session_id, uint16_t subprotocol, uint64_t stream_id,
		      uint64_t sequence, uint64_t origin_hash, const uint8_t *body, size_t len)
{
	const size_t payload = NM_NET_EVENT_HDR + len;
	const size_t dlen = NM_NET_HDR_SIZE + payload + NM_NET_TAG_SIZE;
	if (payload > NM_NET_MAX_PAYLOAD || dlen > cap)
		return -EMSGSIZE;
	const struct nm_net_hdr h = {
		.magic = NM_MAGIC_NET,
		.version = NM_NET_VERSION,
		.subprotocol_id = subprotocol,
		.session_id = session_id,
		.stream_id = stream_id,
		.sequence = sequence,
		.origin_hash = origin_hash,
		.payload_len = (uint16_t)payload,
		.event_count = 1,
	};
	nm_hdr_encode(&h, dgram);
	nm_put_le32(dgram + NM_NET_HDR_SIZE, (uint32_t)len);
	memcpy(dgram + NM_NET_HDR_SIZE + NM_NET_EVENT_HDR, body, len);
	int rc = nm_aead_seal(key, dgram, dlen, counter);
	return rc < 0 ? rc : (int)dlen;
}

int nm_packet_open(uint8_t *frame, size_t len, const struct nm_pkt_endpoint *self,
		   const struct nm_aead *key, struct nm_net_hdr *h, struct nm_event *evs,
		   uint32_t max, enum nm_drop *why)
{
	struct nm_pkt_info pi;
	int rc = nm_pkt_parse(frame, len, self, 0, &pi, why);
	if (rc < 0)
		return rc;
	if (pi.kind != NM_PKT_UDP)
		return nm_drop(why, NM_DROP_IP_PROTO);
	uint8_t *d = frame + pi.data_off;
	if ((rc = nm_hdr_parse(h, d, pi.data_len, why)) < 0 ||
	    (rc = nm_aead_open(key, d, pi.data_len, NULL, why)) < 0)
		return rc;
	size_t consumed = 0;
	uint32_t got = nm_causal_read(d + NM_NET_HDR_SIZE, h->payload_len, h->event_count, evs, max, 0,
				      &consumed);
	if (got != h->event_count || consumed != h->payload_len)
		return nm_drop(why, NM_DROP_FRAME_OVERRUN);
	return (int)got;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire.c - the Net datagram (dataplane/nm_wire.h, nm_aead.h) and a
 * whole event packet (nm_packet.h) as a receiver sees them.
 *
 * Input byte 0 picks the reading: odd, the rest is a UDP datagram
 * (classify, NetHeader decode/validate, AAD, AEAD open under a fixed key,
 * handshake framing); even, the rest is an Ethernet frame opened by
 * nm_packet_open, and also the payloads of events that nm_packet_build
 * seals and the peer opens.
 * Properties: decode(encode(h)) == h and encode(decode(b)) == b[0..68); a
 * header that validates obeys upstream's length rules; the AAD is the header
 * bytes it is defined as; what one side seals the other opens, to the same
 * events, and one flipped ciphertext byte is refused.
 */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>

#include "fuzz_common.h"
#include "nm_aead.h"
#include "nm_handshake.h"
#include "nm_packet.h"
#include "nm_pkt.h"
#include "nm_wire.h"

#define MAX_EVENTS 64

static const struct nm_pkt_endpoint A = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x01 } }, .ip = RTE_IPV4(127, 0, 0, 1), .port = 7777,
};
static const struct nm_pkt_endpoint B = {
	.mac = { { 0x02, 0, 0, 0, 0, 0x02 } }, .ip = RTE_IPV4(127, 0, 0, 2), .port = 7777,
};
#define SESSION 0x0123456789abcdefULL

static struct nm_event evs[MAX_EVENTS];
static uint8_t frame[NM_PKT_DATA_OFF + NM_NET_MAX_PACKET];

static void key(struct nm_aead *a)
{
	uint8_t k[NM_AEAD_KEY_SIZE];
	fuzz_fill(k, sizeof(k), 2070);
	FUZZ_CHECK(nm_aead_lib_init() == 0);
	nm_aead_init(a, k, SESSION);
}

static void check_datagram(const uint8_t *d, size_t len)
{
	enum nm_dgram_class cls = nm_dgram_classify(d, len);
	FUZZ_CHECK((nm_dgram_class_drop(cls) == NM_DROP_NONE) == (cls == NM_DGRAM_DIRECT));
	struct nm_net_hdr h, h2;
	memset(&h, 0, sizeof(h)); /* the struct has padding; memcmp below */
	memset(&h2, 0, sizeof(h2));
	enum nm_drop why = NM_DROP_NONE;
	if (nm_hdr_decode(&h, d, len, &why) < 0) {
		FUZZ_CHECK(len < NM_NET_HDR_SIZE && why == NM_DROP_NET_SHORT);
		return;
	}
	uint8_t enc[NM_NET_HDR_SIZE];
	nm_hdr_encode(&h, enc);
	FUZZ_CHECK(memcmp(enc, d, NM_NET_HDR_SIZE) == 0);
	FUZZ_CHECK(nm_hdr_decode(&h2, enc, sizeof(enc), NULL) == 0 && memcmp(&h, &h2, sizeof(h)) == 0);

	uint8_t aad[NM_NET_AAD_SIZE], want[NM_NET_AAD_SIZE];
	nm_hdr_aad(d, aad);
	memcpy(want, d, 12);
	want[NM_OFF_HOP_COUNT] = 0;
	memcpy(want + 12, d + 24, NM_NET_HDR_SIZE - 24);
	FUZZ_CHECK(memcmp(aad, want, sizeof(aad)) == 0);

	if (nm_hdr_validate(&h, len, &why) == 0) {
		FUZZ_CHECK(h.magic == NM_MAGIC_NET && h.version == NM_NET_VERSION);
		FUZZ_CHECK(h.payload_len <= NM_NET_MAX_PAYLOAD && h.event_count <= NM_NET_MAX_EVENTS);
		if (!(h.flags & (NM_FLAG_HANDSHAKE | NM_FLAG_HEARTBEAT)))
			FUZZ_CHECK(len == nm_net_dgram_len(h.payload_len));
		else
			FUZZ_CHECK(NM_NET_HDR_SIZE + (size_t)h.payload_len <= len);
	} else {
		FUZZ_CHECK(why != NM_DROP_NONE);
	}

	const uint8_t *msg;
	size_t mlen;
	why = NM_DROP_NONE;
	int rc = nm_hs_pkt_decode(d, len, &msg, &mlen, &why);
	if (rc == 0)
		FUZZ_CHECK(msg == d + NM_NET_HDR_SIZE && mlen == h.payload_len && (h.flags & NM_FLAG_HANDSHAKE));

	/* Open under our key: whatever happens, the length rules come first. */
	struct nm_aead a;
	key(&a);
	uint8_t *copy = malloc(len);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, d, len);
	uint64_t ctr = 0;
	why = NM_DROP_NONE;
	if (nm_aead_open(&a, copy, len, &ctr, &why) == 0)
		FUZZ_CHECK(len == nm_net_dgram_len(h.payload_len) && ctr == nm_hdr_counter(&h));
	else
		FUZZ_CHECK(why != NM_DROP_NONE);
	free(copy);
}

/* The input's bytes as event payloads: sealed by A, opened by B, the same events. */
static void check_seal_open(const uint8_t *p, size_t len)
{
	static const uint8_t *payload[MAX_EVENTS];
	static uint32_t plen[MAX_EVENTS];
	struct fuzz_in in = { p, len };
	uint32_t n = 0;
	struct nm_chain c;
	nm_chain_init(&c, 0x42);
	while (n < MAX_EVENTS && in.left > 0) {
		uint32_t want = fuzz_u8(&in) * 8u;
		if (want > in.left)
			want = (uint32_t)in.left;
		payload[n] = fuzz_take(&in, want);
		plen[n] = want;
		evs[n].payload = payload[n];
		evs[n].len = want;
		FUZZ_CHECK(nm_chain_append(&c, payload[n], want, 0, &evs[n].link) == 0);
		n++;
	}
	if (n == 0)
		return;
	struct nm_aead a;
	key(&a);
	const struct nm_packet_tx t = {
		.src = &A, .dst = &B, .ip_id = 1, .key = &a, .counter = 5, .session_id = SESSION,
		.stream_id = 9, .sequence = 1, .origin_hash = 0x42, .budget = nm_packet_budget(1500),
	};
	uint32_t used = 0;
	size_t flen = 0;
	int rc = nm_packet_build(frame, sizeof(frame), &t, evs, n, &used, &flen);
	if (rc == -EMSGSIZE) {
		FUZZ_CHECK(used == 0 && evs[0].len + 36 > t.budget);
		return;
	}
	FUZZ_CHECK(rc == 0 && used >= 1 && used <= n && flen <= NM_PKT_DATA_OFF + 1500 - 28);

	static struct nm_event got[MAX_EVENTS];
	struct nm_net_hdr h;
	enum nm_drop why = NM_DROP_NONE;
	uint8_t *copy = malloc(flen);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, frame, flen);
	int k = nm_packet_open(copy, flen, &B, &a, &h, got, MAX_EVENTS, &why);
	FUZZ_CHECK(k == (int)used && h.session_id == SESSION && h.stream_id == 9);
	for (int i = 0; i < k; i++) {
		FUZZ_CHECK(got[i].len == plen[i] && memcmp(&got[i].link, &evs[i].link, 32) == 0);
		FUZZ_CHECK(plen[i] == 0 || memcmp(got[i].payload, payload[i], plen[i]) == 0);
	}
	/* One flipped ciphertext or tag byte: refused, counted as AUTH. */
	memcpy(copy, frame, flen);
	copy[NM_PKT_DATA_OFF + NM_NET_HDR_SIZE + (p[0] % (flen - NM_PKT_DATA_OFF - NM_NET_HDR_SIZE))] ^= 0x80;
	why = NM_DROP_NONE;
	FUZZ_CHECK(nm_packet_open(copy, flen, &B, &a, &h, got, MAX_EVENTS, &why) < 0);
	free(copy);
}

static void check_frame(const uint8_t *f, size_t len)
{
	struct nm_aead a;
	key(&a);
	uint8_t *copy = malloc(len ? len : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, f, len);
	struct nm_net_hdr h;
	enum nm_drop why = NM_DROP_NONE;
	int k = nm_packet_open(copy, len, &B, &a, &h, evs, MAX_EVENTS, &why);
	if (k >= 0) {
		for (int i = 0; i < k; i++)
			FUZZ_CHECK(evs[i].payload >= copy && evs[i].payload + evs[i].len <= copy + len);
	} else {
		FUZZ_CHECK(why != NM_DROP_NONE);
	}
	free(copy);
	check_seal_open(f, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		check_datagram(data + 1, size - 1);
	else
		check_frame(data + 1, size - 1);
	return 0;
}

/* A packet as the appliance sends it, and its datagram on its own. */
static void seed_packet(uint32_t n, uint32_t len)
{
	static uint8_t pay[8][512];
	struct nm_chain c;
	nm_chain_init(&c, 0x42);
	for (uint32_t i = 0; i < n; i++) {
		fuzz_fill(pay[i], len, i);
		evs[i].payload = pay[i];
		evs[i].len = len;
		FUZZ_CHECK(nm_chain_append(&c, pay[i], len, 0, &evs[i].link) == 0);
	}
	struct nm_aead a;
	key(&a);
	const struct nm_packet_tx t = {
		.src = &A, .dst = &B, .ip_id = 1, .key = &a, .counter = 5, .session_id = SESSION,
		.stream_id = 9, .sequence = 1, .origin_hash = 0x42, .budget = nm_packet_budget(1500),
	};
	uint32_t used;
	size_t flen;
	FUZZ_CHECK(nm_packet_build(frame, sizeof(frame), &t, evs, n, &used, &flen) == 0);
	fuzz_seed_tagged(0, frame, flen);
	fuzz_seed_tagged(1, frame + NM_PKT_DATA_OFF, flen - NM_PKT_DATA_OFF);
}

void fuzz_seeds(void)
{
	seed_packet(1, 16);
	seed_packet(3, 100);
	seed_packet(2, 500);
	struct nm_aead a;
	key(&a);
	uint8_t hb[NM_HEARTBEAT_LEN];
	FUZZ_CHECK(nm_packet_heartbeat(hb, &a, SESSION, 0x42, 3) == 0);
	fuzz_seed_tagged(1, hb, sizeof(hb));
	uint8_t msg[NM_HS_MSG_LEN], hs[NM_HS_PKT_LEN];
	size_t hl;
	fuzz_fill(msg, sizeof(msg), 7);
	FUZZ_CHECK(nm_hs_pkt_encode(msg, sizeof(msg), hs, sizeof(hs), &hl) == 0);
	fuzz_seed_tagged(1, hs, hl);
	/* The payload-reading (even) side also takes raw payload bytes. */
	uint8_t raw[300];
	fuzz_fill(raw, sizeof(raw), 11);
	fuzz_seed_tagged(0, raw, sizeof(raw));
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_causal.c - the 0x0400 causal frame reader and the chain (control/nm_causal.h).
 *
 * Input: LE16 count, then the frame bytes. Properties: what nm_causal_read
 * parsed lies inside what it says it consumed and re-frames (nm_causal_write)
 * to exactly those bytes; every link round-trips through its 32 bytes; the
 * parsed payloads appended to a chain give links that each validate against
 * their predecessor, and one changed payload byte is a parent mismatch.
 */
#include <string.h>

#include "fuzz_common.h"
#include "nm_causal.h"
#include "nm_le.h"

#define MAX_EVENTS 512

static struct nm_event evs[MAX_EVENTS];

static void check_chain(const struct nm_event *ev, uint32_t n)
{
	struct nm_chain c;
	nm_chain_init(&c, n ? ev[0].link.origin_hash : 1);
	struct nm_causal_link prev = c.head;
	const uint8_t *prev_payload = NULL;
	uint32_t prev_len = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct nm_causal_link next;
		FUZZ_CHECK(nm_chain_append(&c, ev[i].payload, ev[i].len, ev[i].link.horizon_encoded,
					   &next) == 0);
		FUZZ_CHECK(next.sequence == prev.sequence + 1);
		FUZZ_CHECK(nm_chain_validate(&prev, prev_payload, prev_len, &next, NULL) == NM_CHAIN_OK);
		if (prev_len > 0) {
			uint8_t *bad = malloc(prev_len);
			FUZZ_CHECK(bad != NULL);
			memcpy(bad, prev_payload, prev_len);
			bad[prev_len / 2] ^= 0x01;
			struct nm_chain_error e;
			FUZZ_CHECK(nm_chain_validate(&prev, bad, prev_len, &next, &e) ==
				   NM_CHAIN_PARENT_MISMATCH);
			char text[128];
			FUZZ_CHECK(nm_chain_error_format(&e, text, sizeof(text)) > 0);
			free(bad);
		}
		prev = next;
		prev_payload = ev[i].payload;
		prev_len = ev[i].len;
	}
	/* The parsed links as a chain of their own: any verdict, never a crash. */
	for (uint32_t i = 1; i < n; i++) {
		struct nm_chain_error e;
		enum nm_chain_verdict v = nm_chain_validate(&ev[i - 1].link, ev[i - 1].payload,
							    ev[i - 1].len, &ev[i].link, &e);
		char text[128];
		if (v != NM_CHAIN_OK)
			FUZZ_CHECK(e.kind == v && nm_chain_error_format(&e, text, sizeof(text)) > 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint32_t count = fuzz_u16(&in);
	const uint8_t *buf = in.p;
	size_t len = in.left;
	size_t consumed = 0;
	uint32_t n = nm_causal_read(buf, len, count, evs, MAX_EVENTS, 7, &consumed);
	FUZZ_CHECK(n <= count && n <= MAX_EVENTS && consumed <= len);

	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		FUZZ_CHECK(evs[i].received_at == 7);
		FUZZ_CHECK(nm_get_le32(buf + off) == NM_CAUSAL_LINK_SIZE + evs[i].len);
		FUZZ_CHECK(evs[i].payload == buf + off + NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE);
		uint8_t link[NM_CAUSAL_LINK_SIZE];
		nm_link_to_bytes(&evs[i].link, link);
		FUZZ_CHECK(memcmp(link, buf + off + NM_CAUSAL_FRAME_HDR, sizeof(link)) == 0);
		struct nm_causal_link back;
		FUZZ_CHECK(nm_link_from_bytes(&back, link, sizeof(link)) == 0 &&
			   memcmp(&back, &evs[i].link, sizeof(back)) == 0);
		off += nm_causal_frame_size(evs[i].len);
	}
	FUZZ_CHECK(off == consumed);

	uint8_t *out = malloc(consumed ? consumed : 1);
	struct nm_frame_stats st;
	FUZZ_CHECK(out != NULL && nm_causal_write(out, consumed, evs, n, &st) == 0);
	FUZZ_CHECK(st.bytes_written == consumed && st.events_written == n && st.events_skipped == 0);
	FUZZ_CHECK(memcmp(out, buf, consumed) == 0);
	free(out);

	check_chain(evs, n);
	return 0;
}

/* Frames written by nm_causal_write from a real chain, behind the LE16 count. */
static void seed_chain(uint32_t n, uint32_t payload_len, uint16_t count)
{
	static uint8_t payloads[8][256];
	struct nm_event ev[8];
	struct nm_chain c;
	nm_chain_init(&c, 0xabcdef0123456789ULL);
	for (uint32_t i = 0; i < n; i++) {
		fuzz_fill(payloads[i], payload_len, i);
		FUZZ_CHECK(nm_chain_append(&c, payloads[i], payload_len, 0x10 + i, &ev[i].link) == 0);
		ev[i].payload = payloads[i];
		ev[i].len = payload_len;
	}
	uint8_t buf[2 + 8 * (36 + 256)];
	struct nm_frame_stats st;
	nm_put_le16(buf, count);
	FUZZ_CHECK(nm_causal_write(buf + 2, sizeof(buf) - 2, ev, n, &st) == 0 && st.events_written == n);
	fuzz_seed(buf, 2 + st.bytes_written);
}

void fuzz_seeds(void)
{
	seed_chain(1, 0, 1);
	seed_chain(1, 16, 1);
	seed_chain(3, 64, 3);
	seed_chain(8, 200, 8);
	seed_chain(4, 8, 2); /* more frames than the count */
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_handshake.c - the Net handshake's messages (dataplane/nm_handshake.h,
 * nm_noise.h) from the wire, with fixed keys and ephemerals.
 *
 * Input byte 0: bit 0 picks the side, bit 1 offers a payload buffer (the
 * routed path's reading); the rest is a datagram. Even: a fresh responder
 * reads it as msg1. Odd: an initiator that sent the genuine msg1 reads it
 * as msg2. Properties: the handshake framing points inside the datagram; a
 * side accepts exactly the genuine message (any other byte string fails,
 * and a failure leaves no finished state); after the genuine one the
 * responder's msg2 is the genuine msg2 and both sides hold the same session
 * with crossed keys.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_common.h"
#include "nm_aead.h"
#include "nm_handshake.h"

#define INITIATOR_NODE 0x1111222233334444ULL
#define RESPONDER_NODE 0x5555666677778888ULL

static struct {
	bool ready;
	uint8_t psk[32], static_sk[32], static_pk[32], eph_i[32], eph_r[32];
	struct nm_hs_config ci, cr;
	struct nm_hs after_msg1; /* the initiator once msg1 is out */
	struct nm_hs fresh_r;    /* a responder just initialised (its ephemeral's X25519 done) */
	uint8_t pkt1[NM_HS_PKT_LEN], pkt2[NM_HS_PKT_LEN];
	uint8_t msg1[NM_HS_MSG_LEN], msg2[NM_HS_MSG_LEN];
	struct nm_session_keys ki, kr;
} fx;

/* The genuine handshake, once: everything else is judged against it. */
static void fixture(void)
{
	if (fx.ready)
		return;
	FUZZ_CHECK(nm_aead_lib_init() == 0);
	fuzz_fill(fx.psk, 32, 1);
	fuzz_fill(fx.static_sk, 32, 2);
	fuzz_fill(fx.eph_i, 32, 3);
	fuzz_fill(fx.eph_r, 32, 4);
	FUZZ_CHECK(crypto_scalarmult_base(fx.static_pk, fx.static_sk) == 0);
	fx.ci = (struct nm_hs_config){ .initiator = true, .local_node_id = INITIATOR_NODE,
				       .peer_node_id = RESPONDER_NODE, .psk = fx.psk,
				       .peer_static_pk = fx.static_pk,
				       .fixed_ephemeral_sk = fx.eph_i };
	fx.cr = (struct nm_hs_config){ .initiator = false, .local_node_id = RESPONDER_NODE,
				       .peer_node_id = INITIATOR_NODE, .psk = fx.psk,
				       .static_sk = fx.static_sk, .fixed_ephemeral_sk = fx.eph_r };
	struct nm_hs i, r;
	size_t n;
	FUZZ_CHECK(nm_hs_init(&i, &fx.ci) == 0 && nm_hs_init(&r, &fx.cr) == 0);
	fx.fresh_r = r;
	FUZZ_CHECK(nm_hs_write(&i, NULL, 0, fx.msg1, sizeof(fx.msg1), &n) == 0 && n == NM_HS_MSG_LEN);
	fx.after_msg1 = i;
	FUZZ_CHECK(nm_hs_pkt_encode(fx.msg1, n, fx.pkt1, sizeof(fx.pkt1), &n) == 0 && n == NM_HS_PKT_LEN);
	FUZZ_CHECK(nm_hs_read(&r, fx.msg1, sizeof(fx.msg1), NULL, 0, NULL) == 0);
	FUZZ_CHECK(nm_hs_write(&r, NULL, 0, fx.msg2, sizeof(fx.msg2), &n) == 0 && n == NM_HS_MSG_LEN);
	FUZZ_CHECK(nm_hs_pkt_encode(fx.msg2, n, fx.pkt2, sizeof(fx.pkt2), &n) == 0);
	FUZZ_CHECK(nm_hs_read(&i, fx.msg2, sizeof(fx.msg2), NULL, 0, NULL) == 0);
	FUZZ_CHECK(nm_hs_finish(&i, &fx.ki) == 0 && nm_hs_finish(&r, &fx.kr) == 0);
	FUZZ_CHECK(fx.ki.session_id == fx.kr.session_id && memcmp(fx.ki.tx, fx.kr.rx, 32) == 0);
	fx.ready = true;
}

static bool genuine(const uint8_t *msg, size_t len, const uint8_t want[NM_HS_MSG_LEN])
{
	return len == NM_HS_MSG_LEN && memcmp(msg, want, NM_HS_MSG_LEN) == 0;
}

static bool keys_equal(const struct nm_session_keys *a, const struct nm_session_keys *b)
{
	return a->session_id == b->session_id && memcmp(a->tx, b->tx, 32) == 0 &&
	       memcmp(a->rx, b->rx, 32) == 0 && memcmp(a->route_hop_tx, b->route_hop_tx, 32) == 0 &&
	       memcmp(a->route_hop_rx, b->route_hop_rx, 32) == 0 && a->prefix == b->prefix &&
	       a->initiator == b->initiator;
}

static void as_responder(const uint8_t *msg, size_t len, bool with_payload)
{
	struct nm_hs r = fx.fresh_r; /* plain data: what nm_hs_init(&fx.cr) makes, once */
	uint8_t payload[64];
	size_t plen = 0;
	int rc = with_payload ? nm_hs_read(&r, msg, len, payload, sizeof(payload), &plen)
			      : nm_hs_read(&r, msg, len, NULL, 0, NULL);
	FUZZ_CHECK((rc == 0) == genuine(msg, len, fx.msg1));
	if (rc != 0) {
		nm_hs_wipe(&r);
		return;
	}
	FUZZ_CHECK(plen == 0);
	uint8_t m2[NM_HS_MSG_LEN];
	size_t n;
	struct nm_session_keys k;
	FUZZ_CHECK(nm_hs_write(&r, NULL, 0, m2, sizeof(m2), &n) == 0 && genuine(m2, n, fx.msg2));
	FUZZ_CHECK(nm_hs_is_done(&r) && nm_hs_finish(&r, &k) == 0 && keys_equal(&k, &fx.kr));
}

static void as_initiator(const uint8_t *msg, size_t len, bool with_payload)
{
	struct nm_hs i = fx.after_msg1; /* plain data: a copy tries the message */
	uint8_t payload[64];
	size_t plen = 0;
	int rc = with_payload ? nm_hs_read(&i, msg, len, payload, sizeof(payload), &plen)
			      : nm_hs_read(&i, msg, len, NULL, 0, NULL);
	FUZZ_CHECK((rc == 0) == genuine(msg, len, fx.msg2));
	struct nm_session_keys k;
	if (rc != 0) {
		FUZZ_CHECK(nm_hs_finish(&i, &k) == -EPROTO);
		nm_hs_wipe(&i);
		return;
	}
	FUZZ_CHECK(nm_hs_finish(&i, &k) == 0 && keys_equal(&k, &fx.ki));
	FUZZ_CHECK(memcmp(k.tx, fx.kr.rx, 32) == 0 && memcmp(k.rx, fx.kr.tx, 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fixture();
	const uint8_t *d = data + 1;
	size_t len = size - 1;
	const uint8_t *msg;
	size_t mlen;
	enum nm_drop why = NM_DROP_NONE;
	int rc = nm_hs_pkt_decode(d, len, &msg, &mlen, &why);
	if (rc != 0) {
		FUZZ_CHECK(rc == -ENOMSG || why != NM_DROP_NONE);
		return 0;
	}
	FUZZ_CHECK(msg == d + NM_NET_HDR_SIZE && NM_NET_HDR_SIZE + mlen <= len);
	if (data[0] & 1)
		as_initiator(msg, mlen, data[0] & 2);
	else
		as_responder(msg, mlen, data[0] & 2);
	return 0;
}

void fuzz_seeds(void)
{
	fixture();
	fuzz_seed_tagged(0, fx.pkt1, sizeof(fx.pkt1));
	fuzz_seed_tagged(2, fx.pkt1, sizeof(fx.pkt1));
	fuzz_seed_tagged(1, fx.pkt2, sizeof(fx.pkt2));
	fuzz_seed_tagged(3, fx.pkt2, sizeof(fx.pkt2));
}

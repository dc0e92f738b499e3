/* SPDX-License-Identifier: MIT */
/*
 * bench_sessions.c - `netmesh-bench sessions`: what sessions cost the CPU.
 *
 *   handshakes_per_s   complete Net handshakes (initiator + responder work,
 *                      both messages, key derivation) on one core
 *   heartbeat_round_ns seal one 84-byte heartbeat, open it, admit its counter
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench.h"
#include "nm_aead.h"
#include "nm_handshake.h"
#include "nm_replay.h"
#include "nm_wire.h"


/* One handshake, both sides. Returns 0 when both derived the same session. */
static int handshake_once(const uint8_t *psk, const uint8_t *sk, const uint8_t *pk)
{
	struct nm_hs_config ic = { .initiator = true, .local_node_id = 1, .peer_node_id = 2,
				   .psk = psk, .peer_static_pk = pk };
	struct nm_hs_config rc = { .initiator = false, .local_node_id = 2, .peer_node_id = 1,
				   .psk = psk, .static_sk = sk };
	struct nm_hs i, r;
	struct nm_session_keys ki, kr;
	uint8_t m1[NM_HS_MSG_LEN], m2[NM_HS_MSG_LEN];
	size_t l1, l2;
	int err = nm_hs_init(&i, &ic) | nm_hs_init(&r, &rc) |
		  nm_hs_write(&i, NULL, 0, m1, sizeof(m1), &l1) |
		  nm_hs_read(&r, m1, l1, NULL, 0, NULL) | nm_hs_write(&r, NULL, 0, m2, sizeof(m2), &l2) |
		  nm_hs_read(&i, m2, l2, NULL, 0, NULL) | nm_hs_finish(&i, &ki) | nm_hs_finish(&r, &kr);
	if (err == 0 && ki.session_id != kr.session_id)
		err = -1;
	nm_session_keys_wipe(&ki);
	nm_session_keys_wipe(&kr);
	return err;
}

static double handshakes_per_s(unsigned n)
{
	uint8_t psk[32], sk[32], pk[32];
	randombytes_buf(psk, sizeof(psk));
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_curve25519_base(pk, sk);
	double t0 = bench_now_s();
	for (unsigned k = 0; k < n; k++)
		if (handshake_once(psk, sk, pk) != 0)
			bench_die("handshake", -1);
	return (double)n / (bench_now_s() - t0);
}

static double heartbeat_round_ns(unsigned n)
{
	uint8_t key[32];
	randombytes_buf(key, sizeof(key));
	struct nm_aead tx, rx;
	nm_aead_init(&tx, key, 0x5E55);
	nm_aead_init(&rx, key, 0x5E55);
	struct nm_replay win;
	nm_replay_init(&win);
	struct nm_net_hdr h = { .magic = NM_MAGIC_NET, .version = NM_NET_VERSION,
				.flags = NM_FLAG_HEARTBEAT, .session_id = 0x5E55 };
	uint8_t pkt[NM_NET_HDR_SIZE + NM_NET_TAG_SIZE];
	double t0 = bench_now_s();
	for (unsigned k = 0; k < n; k++) {
		nm_hdr_encode(&h, pkt);
		uint64_t ctr;
		if (nm_aead_seal(&tx, pkt, sizeof(pkt), k) != 0 ||
		    nm_aead_open(&rx, pkt, sizeof(pkt), &ctr, NULL) != 0 ||
		    nm_replay_commit(&win, ctr, NULL) != 0)
			bench_die("heartbeat", -1);
	}
	return (bench_now_s() - t0) * 1e9 / (double)n;
}

int bench_sessions_part(void)
{
	handshakes_per_s(200); /* warm up */
	printf("handshakes_per_s: %.0f handshakes/s\n", handshakes_per_s(5000));
	printf("heartbeat_round_ns: %.0f ns\n", heartbeat_round_ns(1000000));
	return 0;
}

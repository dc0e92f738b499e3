/* SPDX-License-Identifier: MIT */
/*
 * nm_handshake.h - Net's session handshake: Noise NKpsk0 with Net's prologue, KDF and framing.
 *
 * Exactly as upstream net-mesh (wire.md 2.1-2.3, 8.2):
 *  - prologue = "net-handshake-v1" || LE64(routing_id(initiator)) ||
 *    LE64(routing_id(responder)), 32 bytes, routing_id = low 32 bits of node_id;
 *  - direct path: both Noise payloads empty, so msg1 and msg2 are 48 bytes;
 *    routed path (later): msg1 payload = LE64(initiator node_id);
 *  - session_id = LE64(h[0..8]) of the final handshake hash h;
 *  - keys: derive(ikm, label) = BLAKE2s(key = BLAKE2s(key = ikm, "net-kdf-v1"), label)
 *    (native keyed BLAKE2s, not HMAC); the initiator's tx/rx are
 *    derive(h, "initiator-tx") / derive(h, "initiator-rx") and its route-hop
 *    keys derive(h, "route-hop-tx-v1") / derive(h, "route-hop-rx-v1"); the
 *    responder's are the same four with tx and rx swapped;
 *  - nonce prefix = nm_session_prefix(session_id);
 *  - on the wire: NetHeader with flags = HANDSHAKE, payload_len = Noise
 *    length, every other field 0, then the raw Noise message; no Net tag.
 *
 * UPSTREAM WEAKNESS (kept by default, interop needs it): h is a hash of the
 * transcript, i.e. of public values (protocol name, prologue, responder
 * static key, both ephemerals, both ciphertexts) plus a PSK-only term from
 * MixKeyAndHash(psk). The DH results only ever enter ck, never h. So anyone
 * who holds the mesh PSK and records a handshake can recompute h, and from
 * it that session's traffic keys: there is no forward secrecy and no
 * protection between PSK holders. Setting `use_split` derives the traffic
 * keys from Noise Split() instead (secret: depends on the DH results), with
 * route-hop keys from the same KDF over a third HKDF output of ck. That
 * mode does NOT interoperate with upstream nodes; both ends must enable it.
 *
 * Pure C: no DPDK, no allocation. The framing helpers use nm_wire's codec.
 */
#ifndef NM_HANDSHAKE_H
#define NM_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_drop.h"
#include "nm_noise.h"
#include "nm_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_HS_PROLOGUE_LABEL "net-handshake-v1"
#define NM_HS_PROLOGUE_LEN 32
#define NM_HS_KDF_SALT "net-kdf-v1"
#define NM_HS_LABEL_INITIATOR_TX "initiator-tx"
#define NM_HS_LABEL_INITIATOR_RX "initiator-rx"
#define NM_HS_LABEL_ROUTE_HOP_TX "route-hop-tx-v1"
#define NM_HS_LABEL_ROUTE_HOP_RX "route-hop-rx-v1"
#define NM_HS_KEY_LEN 32
/* Direct path: empty payloads, so each message is e(32) + tag(16). */
#define NM_HS_MSG_LEN NM_NOISE_HS_OVERHEAD
#define NM_HS_PKT_LEN (NM_NET_HDR_SIZE + NM_HS_MSG_LEN) /* 116 */

/* What a finished handshake yields, oriented for this side. */
struct nm_session_keys {
	uint64_t session_id;
	uint8_t tx[NM_HS_KEY_LEN]; /* seals what this side sends */
	uint8_t rx[NM_HS_KEY_LEN]; /* opens what it receives */
	uint8_t route_hop_tx[NM_HS_KEY_LEN];
	uint8_t route_hop_rx[NM_HS_KEY_LEN];
	uint32_t prefix; /* nonce bytes 0..4, LE32 on the wire */
	bool initiator;
	bool split; /* keys came from Noise Split(): not upstream-compatible */
};

struct nm_hs_config {
	bool initiator;
	uint64_t local_node_id;
	uint64_t peer_node_id;
	const uint8_t *psk;            /* 32 bytes, mesh-wide */
	const uint8_t *static_sk;      /* responder: own X25519 static secret */
	const uint8_t *peer_static_pk; /* initiator: the responder's X25519 static public key */
	const uint8_t *fixed_ephemeral_sk; /* tests only; NULL = random */
	bool use_split; /* default false: upstream's derivation from h (see above) */
};

/* One handshake in progress. Plain data: a copy can try a message without risk (wipe it). */
struct nm_hs {
	struct nm_noise_hs noise;
	bool use_split;
};

/* The 32-bit routing identity: the low half of node_id. */
static inline uint32_t nm_routing_id(uint64_t node_id)
{
	return (uint32_t)node_id;
}

/* "net-handshake-v1" || LE64(routing_id(initiator)) || LE64(routing_id(responder)). */
void nm_hs_prologue(uint64_t initiator_node_id, uint64_t responder_node_id,
		    uint8_t out[NM_HS_PROLOGUE_LEN]);

/* Net's KDF: BLAKE2s(key = BLAKE2s(key = ikm, "net-kdf-v1"), label). ikm_len 1..32.
 * Returns 0 or -EINVAL. */
int nm_net_kdf(const uint8_t *ikm, size_t ikm_len, const char *label,
	       uint8_t out[NM_HS_KEY_LEN]);

/* Upstream's keys from a final handshake hash (what nm_hs_finish does by default). */
int nm_session_keys_from_hash(const uint8_t h[NM_NOISE_HASH_LEN], bool initiator,
			      struct nm_session_keys *keys);

/* Start a handshake; the prologue is built from the node ids. Codes as nm_noise_init. */
int nm_hs_init(struct nm_hs *hs, const struct nm_hs_config *cfg);

/*
 * Write this side's Noise message (msg1 on the initiator, msg2 on the
 * responder) into out; pass payload NULL/0 on the direct path. Codes as
 * nm_noise_write_message.
 */
int nm_hs_write(struct nm_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
		size_t cap, size_t *out_len);

/*
 * Read the peer's Noise message. On the direct path pass payload NULL/0:
 * a message with a non-empty payload is then refused (-ENOSPC) before any
 * crypto, leaving the state as it was. Codes as nm_noise_read_message; on
 * -EBADMSG (wrong PSK or prologue, tampering) the state is wiped.
 */
int nm_hs_read(struct nm_hs *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload,
	       size_t cap, size_t *payload_len);

static inline bool nm_hs_is_done(const struct nm_hs *hs)
{
	return nm_noise_is_done(&hs->noise);
}

/*
 * After both messages: fill *keys (upstream derivation, or Split() when the
 * config asked) and wipe the handshake state. -EPROTO if not done.
 */
int nm_hs_finish(struct nm_hs *hs, struct nm_session_keys *keys);

void nm_hs_wipe(struct nm_hs *hs);
void nm_session_keys_wipe(struct nm_session_keys *keys);

/* ---- framing: HANDSHAKE-flag NetHeader + raw Noise message ---- */

/*
 * Write the 68-byte header (magic, version 1, flags HANDSHAKE, payload_len
 * = msg_len, all else 0) and the message into out. *out_len = 68 + msg_len.
 * Returns 0, -EINVAL, -EMSGSIZE (msg_len > 8108) or -ENOSPC.
 */
int nm_hs_pkt_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap,
		     size_t *out_len);

/*
 * Parse a datagram with nm_hdr_parse and point *msg at its Noise message
 * (payload_len bytes after the header; bytes past them are ignored).
 * Returns 0, the nm_hdr_parse codes with *why set, or
 * -ENOMSG when the HANDSHAKE flag is not set (*why untouched).
 */
int nm_hs_pkt_decode(const uint8_t *dgram, size_t len, const uint8_t **msg, size_t *msg_len,
		     enum nm_drop *why);

#ifdef __cplusplus
}
#endif
#endif /* NM_HANDSHAKE_H */

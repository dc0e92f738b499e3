/* SPDX-License-Identifier: MIT */
/* nm_handshake.c - Net's prologue, session key derivation and handshake packet framing. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nm_blake2s.h"
#include "nm_handshake.h"

void nm_hs_prologue(uint64_t initiator_node_id, uint64_t responder_node_id,
		    uint8_t out[NM_HS_PROLOGUE_LEN])
{
	memcpy(out, NM_HS_PROLOGUE_LABEL, 16);
	nm_put_le64(out + 16, nm_routing_id(initiator_node_id));
	nm_put_le64(out + 24, nm_routing_id(responder_node_id));
}

int nm_net_kdf(const uint8_t *ikm, size_t ikm_len, const char *label,
	       uint8_t out[NM_HS_KEY_LEN])
{
	uint8_t prk[NM_BLAKE2S_LEN];
	int rc;

	/* An empty key would silently turn keyed BLAKE2s into a plain hash. */
	if (!ikm || ikm_len == 0 || !label || !out)
		return -EINVAL;
	rc = nm_blake2s_keyed(prk, ikm, ikm_len, NM_HS_KDF_SALT, strlen(NM_HS_KDF_SALT));
	if (rc == 0)
		rc = nm_blake2s_keyed(out, prk, sizeof(prk), label, strlen(label));
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

/* The four upstream derivations over ikm; the responder swaps each tx/rx pair. */
static int derive_four(const uint8_t ikm[NM_HS_KEY_LEN], bool initiator, bool traffic,
		       struct nm_session_keys *k)
{
	const char *tx = initiator ? NM_HS_LABEL_INITIATOR_TX : NM_HS_LABEL_INITIATOR_RX;
	const char *rx = initiator ? NM_HS_LABEL_INITIATOR_RX : NM_HS_LABEL_INITIATOR_TX;
	const char *hop_tx = initiator ? NM_HS_LABEL_ROUTE_HOP_TX : NM_HS_LABEL_ROUTE_HOP_RX;
	const char *hop_rx = initiator ? NM_HS_LABEL_ROUTE_HOP_RX : NM_HS_LABEL_ROUTE_HOP_TX;
	int rc = 0;

	if (traffic)
		rc = nm_net_kdf(ikm, NM_HS_KEY_LEN, tx, k->tx);
	if (rc == 0 && traffic)
		rc = nm_net_kdf(ikm, NM_HS_KEY_LEN, rx, k->rx);
	if (rc == 0)
		rc = nm_net_kdf(ikm, NM_HS_KEY_LEN, hop_tx, k->route_hop_tx);
	if (rc == 0)
		rc = nm_net_kdf(ikm, NM_HS_KEY_LEN, hop_rx, k->route_hop_rx);
	return rc;
}

/* session_id, prefix and orientation: public, the same in both modes. */
static void keys_header(const uint8_t h[NM_NOISE_HASH_LEN], bool initiator,
			struct nm_session_keys *k)
{
	memset(k, 0, sizeof(*k));
	k->session_id = nm_get_le64(h);
	k->prefix = nm_session_prefix(k->session_id);
	k->initiator = initiator;
}

int nm_session_keys_from_hash(const uint8_t h[NM_NOISE_HASH_LEN], bool initiator,
			      struct nm_session_keys *keys)
{
	int rc;

	if (!h || !keys)
		return -EINVAL;
	keys_header(h, initiator, keys);
	rc = derive_four(h, initiator, true, keys);
	if (rc < 0)
		nm_session_keys_wipe(keys);
	return rc;
}

/* Traffic keys = Split() (already oriented); route-hop keys = Net KDF over HKDF output 3. */
static int keys_from_split(const struct nm_noise_hs *noise, const uint8_t h[NM_NOISE_HASH_LEN],
			   struct nm_session_keys *k)
{
	struct nm_noise_cipher tx, rx;
	uint8_t extra[NM_NOISE_KEY_LEN];
	bool initiator = noise->role == NM_NOISE_INITIATOR;
	int rc;

	keys_header(h, initiator, k);
	k->split = true;
	rc = nm_noise_split(noise, &tx, &rx);
	if (rc == 0)
		rc = nm_noise_split_extra(noise, extra);
	if (rc == 0) {
		memcpy(k->tx, tx.k, NM_HS_KEY_LEN);
		memcpy(k->rx, rx.k, NM_HS_KEY_LEN);
		rc = derive_four(extra, initiator, false, k);
	}
	nm_noise_cipher_wipe(&tx);
	nm_noise_cipher_wipe(&rx);
	sodium_memzero(extra, sizeof(extra));
	return rc;
}

int nm_hs_init(struct nm_hs *hs, const struct nm_hs_config *cfg)
{
	uint8_t prologue[NM_HS_PROLOGUE_LEN];
	struct nm_noise_config nc;

	if (!hs || !cfg)
		return -EINVAL;
	if (cfg->initiator)
		nm_hs_prologue(cfg->local_node_id, cfg->peer_node_id, prologue);
	else
		nm_hs_prologue(cfg->peer_node_id, cfg->local_node_id, prologue);
	nc = (struct nm_noise_config){
		.role = cfg->initiator ? NM_NOISE_INITIATOR : NM_NOISE_RESPONDER,
		.prologue = prologue,
		.prologue_len = sizeof(prologue),
		.psk = cfg->psk,
		.static_sk = cfg->static_sk,
		.remote_static_pk = cfg->peer_static_pk,
		.fixed_ephemeral_sk = cfg->fixed_ephemeral_sk,
	};
	hs->use_split = cfg->use_split;
	return nm_noise_init(&hs->noise, &nc);
}

int nm_hs_write(struct nm_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
		size_t cap, size_t *out_len)
{
	if (!hs)
		return -EINVAL;
	return nm_noise_write_message(&hs->noise, payload, payload_len, out, cap, out_len);
}

int nm_hs_read(struct nm_hs *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload,
	       size_t cap, size_t *payload_len)
{
	if (!hs)
		return -EINVAL;
	return nm_noise_read_message(&hs->noise, msg, msg_len, payload, cap, payload_len);
}

int nm_hs_finish(struct nm_hs *hs, struct nm_session_keys *keys)
{
	uint8_t h[NM_NOISE_HASH_LEN];
	int rc;

	if (!hs || !keys)
		return -EINVAL;
	rc = nm_noise_handshake_hash(&hs->noise, h);
	if (rc < 0)
		return rc;
	if (hs->use_split)
		rc = keys_from_split(&hs->noise, h, keys);
	else
		rc = nm_session_keys_from_hash(h, hs->noise.role == NM_NOISE_INITIATOR, keys);
	if (rc < 0)
		nm_session_keys_wipe(keys);
	sodium_memzero(h, sizeof(h));
	nm_hs_wipe(hs);
	return rc;
}

void nm_hs_wipe(struct nm_hs *hs)
{
	if (hs)
		nm_noise_wipe(&hs->noise);
}

void nm_session_keys_wipe(struct nm_session_keys *keys)
{
	if (keys)
		sodium_memzero(keys, sizeof(*keys));
}

int nm_hs_pkt_encode(const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	struct nm_net_hdr h = {
		.magic = NM_MAGIC_NET,
		.version = NM_NET_VERSION,
		.flags = NM_FLAG_HANDSHAKE,
	};

	if (!msg || !out || !out_len)
		return -EINVAL;
	if (msg_len > NM_NET_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < NM_NET_HDR_SIZE + msg_len)
		return -ENOSPC;
	h.payload_len = (uint16_t)msg_len;
	nm_hdr_encode(&h, out);
	memmove(out + NM_NET_HDR_SIZE, msg, msg_len);
	*out_len = NM_NET_HDR_SIZE + msg_len;
	return 0;
}

int nm_hs_pkt_decode(const uint8_t *dgram, size_t len, const uint8_t **msg, size_t *msg_len,
		     enum nm_drop *why)
{
	struct nm_net_hdr h;
	int rc;

	if (!msg || !msg_len)
		return -EINVAL;
	rc = nm_hdr_parse(&h, dgram, len, why);
	if (rc < 0)
		return rc;
	if (!(h.flags & NM_FLAG_HANDSHAKE))
		return -ENOMSG;
	*msg = dgram + NM_NET_HDR_SIZE;
	*msg_len = h.payload_len;
	return 0;
}

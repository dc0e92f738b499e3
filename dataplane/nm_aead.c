/* SPDX-License-Identifier: MIT */
/* nm_aead.c - in-place packet AEAD over libsodium. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nm_aead.h"
#include "nm_wire.h"

int nm_aead_lib_init(void)
{
	return sodium_init() < 0 ? -ENOSYS : 0;
}

void nm_aead_init(struct nm_aead *a, const uint8_t key[NM_AEAD_KEY_SIZE], uint64_t session_id)
{
	memcpy(a->key, key, NM_AEAD_KEY_SIZE);
	nm_put_le32(a->prefix, nm_session_prefix(session_id));
}

void nm_aead_wipe(struct nm_aead *a)
{
	sodium_memzero(a, sizeof(*a));
}

static void nonce_of(const struct nm_aead *a, uint64_t counter, uint8_t nonce[NM_NET_NONCE_SIZE])
{
	memcpy(nonce, a->prefix, sizeof(a->prefix));
	nm_put_le64(nonce + 4, counter);
}

int nm_aead_seal(const struct nm_aead *a, uint8_t *pkt, size_t cap, uint64_t counter)
{
	uint8_t aad[NM_NET_AAD_SIZE];
	uint16_t plen;

	if (!a || !pkt || cap < NM_NET_HDR_SIZE)
		return -EINVAL;
	plen = nm_get_le16(pkt + NM_OFF_PAYLOAD_LEN);
	if (plen > NM_NET_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < nm_net_dgram_len(plen))
		return -ENOSPC;
	nonce_of(a, counter, pkt + NM_OFF_NONCE);
	nm_hdr_aad(pkt, aad);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		pkt + NM_NET_HDR_SIZE, pkt + NM_NET_HDR_SIZE + plen, NULL, pkt + NM_NET_HDR_SIZE, plen,
		aad, sizeof(aad), NULL, pkt + NM_OFF_NONCE, a->key);
	return 0;
}

int nm_aead_open(const struct nm_aead *a, uint8_t *pkt, size_t len, uint64_t *counter,
		 enum nm_drop *why)
{
	uint8_t aad[NM_NET_AAD_SIZE], nonce[NM_NET_NONCE_SIZE];
	uint64_t ctr;
	uint16_t plen;

	if (!a || !pkt || len < NM_NET_HDR_SIZE)
		return nm_drop(why, NM_DROP_NET_SHORT);
	plen = nm_get_le16(pkt + NM_OFF_PAYLOAD_LEN);
	if (plen > NM_NET_MAX_PAYLOAD)
		return nm_drop(why, NM_DROP_NET_PAYLOAD_LEN);
	if (len != nm_net_dgram_len(plen))
		return nm_drop(why, NM_DROP_NET_LEN_MISMATCH);
	ctr = nm_get_le64(pkt + NM_OFF_COUNTER);
	nonce_of(a, ctr, nonce);
	nm_hdr_aad(pkt, aad);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    pkt + NM_NET_HDR_SIZE, NULL, pkt + NM_NET_HDR_SIZE, plen,
		    pkt + NM_NET_HDR_SIZE + plen, aad, sizeof(aad), nonce, a->key) != 0)
		return nm_drop(why, NM_DROP_AUTH);
	if (counter)
		*counter = ctr;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* nm_aead.c - in-place packet AEAD over libsodium, intel-ipsec-mb or OpenSSL (see header). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "nm_aead.h"
#include "nm_wire.h"

/*
 * Process-wide backend table: probed once by lib_init, read-only afterwards
 * except for the backend choice (an atomic, changed only before traffic).
 * The IMB_MGR here serves the direct API only, whose functions keep their
 * state in a caller's stack context, so every thread may share it.
 */
static struct {
	pthread_once_t once;
	int rc;
	_Atomic int backend;
	IMB_MGR *imb;
	IMB_ARCH imb_arch;
	EVP_CIPHER *evp;
	char sodium_arch[16];
	char imb_arch_name[16];
} nm_aead_lib = { .once = PTHREAD_ONCE_INIT, .backend = NM_AEAD_SODIUM };

static const char *const backend_names[NM_AEAD__COUNT] = {
	[NM_AEAD_SODIUM] = "sodium",
	[NM_AEAD_IPSEC_MB] = "ipsec-mb",
	[NM_AEAD_OPENSSL] = "openssl",
};

/* ---------------------------------------------------------------- libsodium */

static void sodium_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, uint8_t *buf,
			size_t plen, uint8_t *tag)
{
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, plen, aad,
							   NM_NET_AAD_SIZE, NULL, nonce, key);
}

/* libsodium verifies before it decrypts and zeroes buf on a bad tag. */
static bool sodium_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, uint8_t *buf,
			size_t plen, const uint8_t *tag)
{
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, plen, tag, aad,
								  NM_NET_AAD_SIZE, nonce, key) == 0;
}

/* ---------------------------------------------------------------- ipsec-mb direct API */

static void imb_seal_direct(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
			    uint8_t *buf, size_t plen, uint8_t *tag)
{
	IMB_MGR *m = nm_aead_lib.imb;
	struct chacha20_poly1305_context_data ctx;
	IMB_CHACHA20_POLY1305_INIT(m, key, &ctx, nonce, aad, NM_NET_AAD_SIZE);
	IMB_CHACHA20_POLY1305_ENC_UPDATE(m, key, &ctx, buf, buf, plen);
	IMB_CHACHA20_POLY1305_ENC_FINALIZE(m, &ctx, tag, NM_NET_TAG_SIZE);
	sodium_memzero(&ctx, sizeof(ctx));
}

/*
 * Decrypts before it knows the tag: a bad tag zeroes what it wrote. The
 * compare is constant-time; OpenSSL's is about half the instructions of
 * sodium_memcmp's, which showed at 1x64 (callgrind).
 */
static bool tag_check(uint8_t *buf, size_t plen, const uint8_t *want, const uint8_t *got)
{
	if (CRYPTO_memcmp(want, got, NM_NET_TAG_SIZE) == 0)
		return true;
	sodium_memzero(buf, plen);
	return false;
}

static bool imb_open_direct(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
			    uint8_t *buf, size_t plen, const uint8_t *tag)
{
	IMB_MGR *m = nm_aead_lib.imb;
	struct chacha20_poly1305_context_data ctx;
	uint8_t got[NM_NET_TAG_SIZE];
	IMB_CHACHA20_POLY1305_INIT(m, key, &ctx, nonce, aad, NM_NET_AAD_SIZE);
	IMB_CHACHA20_POLY1305_DEC_UPDATE(m, key, &ctx, buf, buf, plen);
	IMB_CHACHA20_POLY1305_DEC_FINALIZE(m, &ctx, got, NM_NET_TAG_SIZE);
	sodium_memzero(&ctx, sizeof(ctx));
	return tag_check(buf, plen, tag, got);
}

/* ---------------------------------------------------------------- OpenSSL EVP */

/* One context per caller; the cipher is fetched once so no init looks it up. */
static bool ossl_seal(EVP_CIPHER_CTX *c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, uint8_t *buf, size_t plen, uint8_t *tag)
{
	int n;
	return EVP_EncryptInit_ex2(c, nm_aead_lib.evp, key, nonce, NULL) == 1 &&
	       EVP_EncryptUpdate(c, NULL, &n, aad, NM_NET_AAD_SIZE) == 1 &&
	       (plen == 0 || EVP_EncryptUpdate(c, buf, &n, buf, (int)plen) == 1) &&
	       EVP_EncryptFinal_ex(c, buf + plen, &n) == 1 &&
	       EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, NM_NET_TAG_SIZE, tag) == 1;
}

static bool ossl_open(EVP_CIPHER_CTX *c, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *aad, uint8_t *buf, size_t plen, const uint8_t *tag)
{
	int n;
	if (EVP_DecryptInit_ex2(c, nm_aead_lib.evp, key, nonce, NULL) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &n, aad, NM_NET_AAD_SIZE) == 1 &&
	    (plen == 0 || EVP_DecryptUpdate(c, buf, &n, buf, (int)plen) == 1) &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, NM_NET_TAG_SIZE, (void *)tag) == 1 &&
	    EVP_DecryptFinal_ex(c, buf + plen, &n) == 1)
		return true;
	sodium_memzero(buf, plen);
	return false;
}

/*
 * Single calls on the openssl backend need a context: each thread makes its
 * own on first use (the control thread, the generator, tests). Workers use
 * their batch's context and never reach this.
 */
static _Thread_local EVP_CIPHER_CTX *nm_aead_thread_evp;

static EVP_CIPHER_CTX *thread_evp(void)
{
	if (nm_aead_thread_evp == NULL)
		nm_aead_thread_evp = EVP_CIPHER_CTX_new();
	return nm_aead_thread_evp;
}

/* ---------------------------------------------------------------- backend choice */

static const char *imb_arch_str(IMB_ARCH a)
{
	switch (a) {
	case IMB_ARCH_NOAESNI: return "noaesni";
	case IMB_ARCH_SSE: return "sse";
	case IMB_ARCH_AVX: return "avx";
	case IMB_ARCH_AVX2: return "avx2";
	case IMB_ARCH_AVX512: return "avx512";
	default: return "none";
	}
}

static void probe_imb(void)
{
	IMB_MGR *m = alloc_mb_mgr(0);
	IMB_ARCH arch = IMB_ARCH_NONE;
	if (m == NULL)
		return;
	init_mb_mgr_auto(m, &arch);
	if (imb_get_errno(m) != 0 || arch == IMB_ARCH_NONE) {
		free_mb_mgr(m);
		return;
	}
	nm_aead_lib.imb = m;
	nm_aead_lib.imb_arch = arch;
	snprintf(nm_aead_lib.imb_arch_name, sizeof(nm_aead_lib.imb_arch_name), "%s",
		 imb_arch_str(arch));
}

static enum nm_aead_backend default_backend(void)
{
	/* Measured fastest here at AVX2 and AVX-512 (docs/BENCHMARKS.md, aead). */
	if (nm_aead_lib.imb != NULL && nm_aead_lib.imb_arch >= IMB_ARCH_AVX2)
		return NM_AEAD_IPSEC_MB;
	return NM_AEAD_SODIUM;
}

static bool probed_available(enum nm_aead_backend b)
{
	switch (b) {
	case NM_AEAD_SODIUM: return nm_aead_lib.rc != -ENOSYS;
	case NM_AEAD_IPSEC_MB: return nm_aead_lib.imb != NULL;
	case NM_AEAD_OPENSSL: return nm_aead_lib.evp != NULL;
	default: return false;
	}
}

static void lib_probe(void)
{
	if (sodium_init() < 0) {
		nm_aead_lib.rc = -ENOSYS;
		return;
	}
	snprintf(nm_aead_lib.sodium_arch, sizeof(nm_aead_lib.sodium_arch), "%s",
		 sodium_runtime_has_avx2() ? "avx2" : sodium_runtime_has_ssse3() ? "ssse3" : "ref");
	probe_imb();
	nm_aead_lib.evp = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);

	enum nm_aead_backend b = default_backend();
	const char *env = getenv("NM_AEAD");
	if (env != NULL && env[0] != '\0') {
		if (nm_aead_parse_backend(env, &b) < 0 || !probed_available(b)) {
			fprintf(stderr, "netmesh: NM_AEAD=%s: %s (sodium, ipsec-mb or openssl)\n", env,
				nm_aead_parse_backend(env, &b) < 0 ? "unknown backend"
								  : "not available on this machine");
			nm_aead_lib.rc = -EINVAL;
			return;
		}
	}
	atomic_store(&nm_aead_lib.backend, b);
}

int nm_aead_lib_init(void)
{
	pthread_once(&nm_aead_lib.once, lib_probe);
	return nm_aead_lib.rc;
}

bool nm_aead_available(enum nm_aead_backend b)
{
	nm_aead_lib_init();
	return probed_available(b);
}

int nm_aead_use(enum nm_aead_backend b)
{
	if (!nm_aead_available(b))
		return -ENOTSUP;
	atomic_store(&nm_aead_lib.backend, b);
	return 0;
}

enum nm_aead_backend nm_aead_backend(void)
{
	return (enum nm_aead_backend)atomic_load_explicit(&nm_aead_lib.backend,
							  memory_order_relaxed);
}

const char *nm_aead_backend_str(enum nm_aead_backend b)
{
	return (unsigned)b < NM_AEAD__COUNT ? backend_names[b] : "?";
}

int nm_aead_parse_backend(const char *s, enum nm_aead_backend *b)
{
	for (unsigned i = 0; i < NM_AEAD__COUNT; i++) {
		if (strcmp(s, backend_names[i]) == 0) {
			*b = (enum nm_aead_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *nm_aead_backend_name(void)
{
	return nm_aead_backend_str(nm_aead_backend());
}

const char *nm_aead_arch_name(void)
{
	switch (nm_aead_backend()) {
	case NM_AEAD_IPSEC_MB: return nm_aead_lib.imb_arch_name;
	case NM_AEAD_OPENSSL: return OpenSSL_version(OPENSSL_VERSION);
	default: return nm_aead_lib.sodium_arch[0] ? nm_aead_lib.sodium_arch : "ref";
	}
}

/* ---------------------------------------------------------------- keys, checks */

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

/* Length checks of a seal; writes the nonce bytes. 0 or the seal's error. */
static int seal_prep(const struct nm_aead *a, uint8_t *pkt, size_t cap, uint64_t counter,
		     uint16_t *plen)
{
	if (!a || !pkt || cap < NM_NET_HDR_SIZE)
		return -EINVAL;
	*plen = nm_get_le16(pkt + NM_OFF_PAYLOAD_LEN);
	if (*plen > NM_NET_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < nm_net_dgram_len(*plen))
		return -ENOSPC;
	nonce_of(a, counter, pkt + NM_OFF_NONCE);
	return 0;
}

/* Length checks of an open; builds the nonce from the session's prefix. */
static int open_prep(const struct nm_aead *a, const uint8_t *pkt, size_t len, uint16_t *plen,
		     uint64_t *ctr, uint8_t nonce[NM_NET_NONCE_SIZE], enum nm_drop *why)
{
	if (!a || !pkt || len < NM_NET_HDR_SIZE)
		return nm_drop(why, NM_DROP_NET_SHORT);
	*plen = nm_get_le16(pkt + NM_OFF_PAYLOAD_LEN);
	if (*plen > NM_NET_MAX_PAYLOAD)
		return nm_drop(why, NM_DROP_NET_PAYLOAD_LEN);
	if (len != nm_net_dgram_len(*plen))
		return nm_drop(why, NM_DROP_NET_LEN_MISMATCH);
	*ctr = nm_get_le64(pkt + NM_OFF_COUNTER);
	nonce_of(a, *ctr, nonce);
	return 0;
}

/* ---------------------------------------------------------------- single calls */

/* Seal with one backend; a context is needed for openssl only. */
static bool seal_with(enum nm_aead_backend b, EVP_CIPHER_CTX *evp, const uint8_t *key,
		      const uint8_t *nonce, const uint8_t *aad, uint8_t *buf, size_t plen,
		      uint8_t *tag)
{
	switch (b) {
	case NM_AEAD_IPSEC_MB:
		imb_seal_direct(key, nonce, aad, buf, plen, tag);
		return true;
	case NM_AEAD_OPENSSL:
		if (evp != NULL && ossl_seal(evp, key, nonce, aad, buf, plen, tag))
			return true;
		break; /* no context: libsodium gives the same bytes */
	default:
		break;
	}
	sodium_seal(key, nonce, aad, buf, plen, tag);
	return true;
}

static bool open_with(enum nm_aead_backend b, EVP_CIPHER_CTX *evp, const uint8_t *key,
		      const uint8_t *nonce, const uint8_t *aad, uint8_t *buf, size_t plen,
		      const uint8_t *tag)
{
	switch (b) {
	case NM_AEAD_IPSEC_MB:
		return imb_open_direct(key, nonce, aad, buf, plen, tag);
	case NM_AEAD_OPENSSL:
		if (evp != NULL)
			return ossl_open(evp, key, nonce, aad, buf, plen, tag);
		break;
	default:
		break;
	}
	return sodium_open(key, nonce, aad, buf, plen, tag);
}

static int seal_one(enum nm_aead_backend b, EVP_CIPHER_CTX *evp, const struct nm_aead *a,
		    uint8_t *pkt, size_t cap, uint64_t counter)
{
	uint8_t aad[NM_NET_AAD_SIZE];
	uint16_t plen = 0;
	int rc = seal_prep(a, pkt, cap, counter, &plen);
	if (rc < 0)
		return rc;
	nm_hdr_aad(pkt, aad);
	uint8_t *buf = pkt + NM_NET_HDR_SIZE;
	seal_with(b, evp, a->key, pkt + NM_OFF_NONCE, aad, buf, plen, buf + plen);
	return 0;
}

static int open_one(enum nm_aead_backend b, EVP_CIPHER_CTX *evp, const struct nm_aead *a,
		    uint8_t *pkt, size_t len, uint64_t *counter, enum nm_drop *why)
{
	uint8_t aad[NM_NET_AAD_SIZE], nonce[NM_NET_NONCE_SIZE];
	uint64_t ctr = 0;
	uint16_t plen = 0; /* set by open_prep on success; gcc -O3 cannot tell */
	int rc = open_prep(a, pkt, len, &plen, &ctr, nonce, why);
	if (rc < 0)
		return rc;
	nm_hdr_aad(pkt, aad);
	uint8_t *buf = pkt + NM_NET_HDR_SIZE;
	if (!open_with(b, evp, a->key, nonce, aad, buf, plen, buf + plen))
		return nm_drop(why, NM_DROP_AUTH);
	if (counter)
		*counter = ctr;
	return 0;
}

static EVP_CIPHER_CTX *single_evp(enum nm_aead_backend b)
{
	return b == NM_AEAD_OPENSSL ? thread_evp() : NULL;
}

int nm_aead_seal(const struct nm_aead *a, uint8_t *pkt, size_t cap, uint64_t counter)
{
	enum nm_aead_backend b = nm_aead_backend();
	return seal_one(b, single_evp(b), a, pkt, cap, counter);
}

int nm_aead_open(const struct nm_aead *a, uint8_t *pkt, size_t len, uint64_t *counter,
		 enum nm_drop *why)
{
	enum nm_aead_backend b = nm_aead_backend();
	return open_one(b, single_evp(b), a, pkt, len, counter, why);
}

/* ---------------------------------------------------------------- bursts */

/* What a job in flight points at until it completes. */
struct imb_slot {
	uint8_t nonce[NM_NET_NONCE_SIZE];
	uint8_t aad[NM_NET_AAD_SIZE];
	uint8_t tag[NM_NET_TAG_SIZE]; /* open: the computed tag */
	uint16_t plen;
};

struct nm_aead_batch {
	enum nm_aead_backend backend;
	IMB_MGR *imb;         /* this caller's job queue */
	EVP_CIPHER_CTX *evp;  /* this caller's context */
	struct imb_slot slot[NM_AEAD_BURST_MAX];
};

struct nm_aead_batch *nm_aead_batch_new(void)
{
	IMB_ARCH arch;
	if (nm_aead_lib_init() == -ENOSYS)
		return NULL;
	struct nm_aead_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->backend = nm_aead_backend();
	if (b->backend == NM_AEAD_IPSEC_MB) {
		b->imb = alloc_mb_mgr(0);
		if (b->imb != NULL)
			init_mb_mgr_auto(b->imb, &arch);
		if (b->imb == NULL || imb_get_errno(b->imb) != 0)
			goto fail;
	} else if (b->backend == NM_AEAD_OPENSSL) {
		if ((b->evp = EVP_CIPHER_CTX_new()) == NULL)
			goto fail;
	}
	return b;
fail:
	nm_aead_batch_free(b);
	return NULL;
}

void nm_aead_batch_free(struct nm_aead_batch *b)
{
	if (b == NULL)
		return;
	if (b->imb != NULL)
		free_mb_mgr(b->imb);
	EVP_CIPHER_CTX_free(b->evp);
	sodium_memzero(b->slot, sizeof(b->slot));
	free(b);
}

enum nm_aead_backend nm_aead_batch_backend(const struct nm_aead_batch *b)
{
	return b->backend;
}

static void imb_job_fill(IMB_JOB *j, const uint8_t *key, struct imb_slot *s, uint8_t *buf,
			 const uint8_t *nonce, uint8_t *tag, bool seal)
{
	j->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	j->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
	j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
	j->enc_keys = key;
	j->dec_keys = key;
	j->key_len_in_bytes = NM_AEAD_KEY_SIZE;
	j->src = buf;
	j->dst = buf;
	j->cipher_start_src_offset_in_bytes = 0;
	j->msg_len_to_cipher_in_bytes = s->plen;
	j->hash_start_src_offset_in_bytes = 0;
	j->msg_len_to_hash_in_bytes = s->plen;
	j->iv = nonce;
	j->iv_len_in_bytes = NM_NET_NONCE_SIZE;
	j->u.CHACHA20_POLY1305.aad = s->aad;
	j->u.CHACHA20_POLY1305.aad_len_in_bytes = NM_NET_AAD_SIZE;
	j->auth_tag_output = tag;
	j->auth_tag_output_len_in_bytes = NM_NET_TAG_SIZE;
}

/*
 * A completed job. A job ipsec-mb refused (never seen with valid lengths) is
 * redone by libsodium, which gives the same bytes: a seal never fails here.
 */
static void imb_done(struct nm_aead_batch *b, struct nm_aead_op *ops, const IMB_JOB *j, bool seal)
{
	struct nm_aead_op *op = j->user_data;
	struct imb_slot *s = &b->slot[op - ops];
	uint8_t *buf = op->pkt + NM_NET_HDR_SIZE, *tag = buf + s->plen;
	bool ok = j->status == IMB_STATUS_COMPLETED;
	if (seal) {
		if (!ok)
			sodium_seal(op->key->key, s->nonce, s->aad, buf, s->plen, tag);
		return;
	}
	ok = ok ? tag_check(buf, s->plen, tag, s->tag)
		: sodium_open(op->key->key, s->nonce, s->aad, buf, s->plen, tag);
	if (!ok)
		op->rc = nm_drop(&op->why, NM_DROP_AUTH);
}

/* Prepare op i for a job; false when its lengths already decided it. */
static bool imb_prep(struct nm_aead_batch *b, struct nm_aead_op *op, unsigned i, bool seal)
{
	struct imb_slot *s = &b->slot[i];
	op->why = NM_DROP_NONE;
	op->rc = seal ? seal_prep(op->key, op->pkt, op->len, op->counter, &s->plen)
		      : open_prep(op->key, op->pkt, op->len, &s->plen, &op->counter, s->nonce,
				  &op->why);
	if (op->rc < 0)
		return false;
	if (seal)
		memcpy(s->nonce, op->pkt + NM_OFF_NONCE, NM_NET_NONCE_SIZE);
	nm_hdr_aad(op->pkt, s->aad);
	return true;
}

static void imb_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n, bool seal)
{
	IMB_MGR *m = b->imb;
	IMB_JOB *j;
	for (unsigned i = 0; i < n; i++) {
		if (!imb_prep(b, &ops[i], i, seal))
			continue;
		struct imb_slot *s = &b->slot[i];
		uint8_t *buf = ops[i].pkt + NM_NET_HDR_SIZE;
		j = IMB_GET_NEXT_JOB(m);
		imb_job_fill(j, ops[i].key->key, s, buf, s->nonce, seal ? buf + s->plen : s->tag, seal);
		j->user_data = &ops[i];
		for (j = IMB_SUBMIT_JOB(m); j != NULL; j = IMB_GET_COMPLETED_JOB(m))
			imb_done(b, ops, j, seal);
	}
	while ((j = IMB_FLUSH_JOB(m)) != NULL)
		imb_done(b, ops, j, seal);
}

static void loop_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n, bool seal)
{
	for (unsigned i = 0; i < n; i++) {
		struct nm_aead_op *op = &ops[i];
		op->why = NM_DROP_NONE;
		op->rc = seal ? seal_one(b->backend, b->evp, op->key, op->pkt, op->len, op->counter)
			      : open_one(b->backend, b->evp, op->key, op->pkt, op->len, &op->counter,
					 &op->why);
	}
}

static int run_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n, bool seal)
{
	if (b == NULL || (n > 0 && ops == NULL) || n > NM_AEAD_BURST_MAX)
		return -EINVAL;
	if (b->backend == NM_AEAD_IPSEC_MB)
		imb_burst(b, ops, n, seal);
	else
		loop_burst(b, ops, n, seal);
	int ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += ops[i].rc == 0;
	return ok;
}

int nm_aead_seal_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n)
{
	return run_burst(b, ops, n, true);
}

int nm_aead_open_burst(struct nm_aead_batch *b, struct nm_aead_op *ops, unsigned n)
{
	return run_burst(b, ops, n, false);
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_aead.c - the `aead` part of netmesh-bench: every ChaCha20-Poly1305 on
 * this machine side by side, in one run, on Net datagrams (56-byte AAD, 12-byte
 * nonce, 16-byte detached tag) of 114, 1300 and 5058 bytes, seal and open:
 *
 *   sodium                 libsodium, one call per datagram
 *   ipsec_mb_direct        intel-ipsec-mb's direct API (nm_aead's single calls)
 *   ipsec_mb_job1          its job API, one job submitted and flushed at a time
 *   ipsec_mb_burst32       its job API, 32 jobs submitted, then flushed (nm_aead's bursts)
 *   openssl_evp            EVP_chacha20_poly1305, one context per key and direction
 *   cdev_<pmd>_cpu         DPDK cryptodev, rte_cryptodev_sym_cpu_crypto_process, 32 per call
 *   cdev_<pmd>_enq         DPDK cryptodev, enqueue/dequeue of 32 crypto ops (where the PMD has
 *                          no CPU-crypto path, and for what an accelerator's path costs)
 *
 * Seal works in place; open reads the sealed datagram and writes the plaintext
 * elsewhere, so every pass really verifies a good tag (each open's result is
 * checked; a row whose opens fail prints a note, not a figure). Rates are
 * per second of this thread's CPU time. Not a test: nothing asserts a target.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "bench.h"
#include "nm_aead.h"
#include "nm_wire.h"

#define BURST 32
#define HDR NM_NET_HDR_SIZE
#define TAG NM_NET_TAG_SIZE
#define MIN_CPU_S 0.3
#define MAX_DGRAM 5058
#define IV_OFF (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))

static const unsigned sizes[] = { 114, 1300, 5058 };

/* 32 datagrams of one size: plaintexts sealed in place, sealed copies opened into out. */
struct set {
	size_t len, plen;
	uint8_t key[NM_AEAD_KEY_SIZE];
	uint8_t plain[BURST][MAX_DGRAM]; /* the reference plaintexts, never touched */
	uint8_t pt[BURST][MAX_DGRAM];
	uint8_t ct[BURST][MAX_DGRAM];
	uint8_t ct_ref[BURST][MAX_DGRAM]; /* ct's bytes, restored before every row */
	uint8_t out[BURST][MAX_DGRAM];
	uint8_t nonce[BURST][NM_NET_NONCE_SIZE];
	uint8_t aad[BURST][NM_NET_AAD_SIZE];
	uint8_t tag[BURST][TAG]; /* a computed tag, for the APIs that do not compare */
};

typedef int (*pass_fn)(void *ctx, struct set *s, bool seal);

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Datagrams with random headers and payloads, sealed by libsodium (the reference). */
static void set_fill(struct set *s, size_t len)
{
	s->len = len;
	s->plen = len - HDR - TAG;
	randombytes_buf(s->key, sizeof(s->key));
	for (unsigned i = 0; i < BURST; i++) {
		randombytes_buf(s->pt[i], len);
		nm_put_le16(s->pt[i] + NM_OFF_PAYLOAD_LEN, (uint16_t)s->plen);
		nm_put_le64(s->pt[i] + NM_OFF_COUNTER, i);
		memcpy(s->nonce[i], s->pt[i] + NM_OFF_NONCE, NM_NET_NONCE_SIZE);
		nm_hdr_aad(s->pt[i], s->aad[i]);
		memcpy(s->ct[i], s->pt[i], len);
		memcpy(s->plain[i], s->pt[i], len);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			s->ct[i] + HDR, s->ct[i] + HDR + s->plen, NULL, s->ct[i] + HDR, s->plen,
			s->aad[i], NM_NET_AAD_SIZE, NULL, s->nonce[i], s->key);
		memcpy(s->ct_ref[i], s->ct[i], len);
	}
}

/* Opens wrote the plaintext: compare with the reference once, after timing. */
static bool opened_right(const struct set *s)
{
	for (unsigned i = 0; i < BURST; i++)
		if (memcmp(s->out[i] + HDR, s->plain[i] + HDR, s->plen) != 0)
			return false;
	return true;
}

/* ---------------------------------------------------------------- libsodium */

static int sodium_pass(void *ctx, struct set *s, bool seal)
{
	(void)ctx;
	for (unsigned i = 0; i < BURST; i++) {
		if (seal) {
			crypto_aead_chacha20poly1305_ietf_encrypt_detached(
				s->pt[i] + HDR, s->pt[i] + HDR + s->plen, NULL, s->pt[i] + HDR,
				s->plen, s->aad[i], NM_NET_AAD_SIZE, NULL, s->nonce[i], s->key);
		} else if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
				   s->out[i] + HDR, NULL, s->ct[i] + HDR, s->plen,
				   s->ct[i] + HDR + s->plen, s->aad[i], NM_NET_AAD_SIZE,
				   s->nonce[i], s->key) != 0) {
			return -EBADMSG;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- intel-ipsec-mb */

static int imb_direct_pass(void *ctx, struct set *s, bool seal)
{
	IMB_MGR *m = ctx;
	struct chacha20_poly1305_context_data c;
	for (unsigned i = 0; i < BURST; i++) {
		uint8_t *src = seal ? s->pt[i] : s->ct[i], *dst = seal ? s->pt[i] : s->out[i];
		IMB_CHACHA20_POLY1305_INIT(m, s->key, &c, s->nonce[i], s->aad[i], NM_NET_AAD_SIZE);
		if (seal) {
			IMB_CHACHA20_POLY1305_ENC_UPDATE(m, s->key, &c, dst + HDR, src + HDR, s->plen);
			IMB_CHACHA20_POLY1305_ENC_FINALIZE(m, &c, dst + HDR + s->plen, TAG);
		} else {
			IMB_CHACHA20_POLY1305_DEC_UPDATE(m, s->key, &c, dst + HDR, src + HDR, s->plen);
			IMB_CHACHA20_POLY1305_DEC_FINALIZE(m, &c, s->tag[i], TAG);
			if (CRYPTO_memcmp(s->tag[i], src + HDR + s->plen, TAG) != 0)
				return -EBADMSG;
		}
	}
	return 0;
}

static void imb_fill(IMB_JOB *j, struct set *s, unsigned i, bool seal)
{
	const uint8_t *src = seal ? s->pt[i] : s->ct[i];
	uint8_t *dst = seal ? s->pt[i] : s->out[i];
	j->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	j->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
	j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
	j->enc_keys = j->dec_keys = s->key;
	j->key_len_in_bytes = NM_AEAD_KEY_SIZE;
	j->src = src + HDR;
	j->dst = dst + HDR;
	j->cipher_start_src_offset_in_bytes = 0;
	j->hash_start_src_offset_in_bytes = 0;
	j->msg_len_to_cipher_in_bytes = j->msg_len_to_hash_in_bytes = s->plen;
	j->iv = s->nonce[i];
	j->iv_len_in_bytes = NM_NET_NONCE_SIZE;
	j->u.CHACHA20_POLY1305.aad = s->aad[i];
	j->u.CHACHA20_POLY1305.aad_len_in_bytes = NM_NET_AAD_SIZE;
	j->auth_tag_output = seal ? dst + HDR + s->plen : s->tag[i];
	j->auth_tag_output_len_in_bytes = TAG;
	j->user_data = (void *)(uintptr_t)i;
}

static int imb_done(const IMB_JOB *j, const struct set *s, bool seal)
{
	unsigned i = (unsigned)(uintptr_t)j->user_data;
	if (j->status != IMB_STATUS_COMPLETED)
		return -EIO;
	if (!seal && CRYPTO_memcmp(s->tag[i], s->ct[i] + HDR + s->plen, TAG) != 0)
		return -EBADMSG;
	return 0;
}

/* Submit `per` jobs, then flush; per = 1 is the single-job figure. */
static int imb_jobs(IMB_MGR *m, struct set *s, bool seal, unsigned per)
{
	int rc = 0;
	IMB_JOB *j;
	for (unsigned i = 0; i < BURST; i++) {
		imb_fill(IMB_GET_NEXT_JOB(m), s, i, seal);
		for (j = IMB_SUBMIT_JOB(m); j != NULL; j = IMB_GET_COMPLETED_JOB(m))
			rc |= imb_done(j, s, seal);
		if ((i + 1) % per == 0)
			while ((j = IMB_FLUSH_JOB(m)) != NULL)
				rc |= imb_done(j, s, seal);
	}
	return rc;
}

static int imb_job1_pass(void *ctx, struct set *s, bool seal)
{
	return imb_jobs(ctx, s, seal, 1);
}

static int imb_burst_pass(void *ctx, struct set *s, bool seal)
{
	return imb_jobs(ctx, s, seal, BURST);
}

/* ---------------------------------------------------------------- OpenSSL EVP */

struct evp_pair {
	EVP_CIPHER_CTX *enc, *dec;
};

/* The key is set once per context; each datagram sets only its nonce. */
static int evp_pass(void *ctx, struct set *s, bool seal)
{
	struct evp_pair *p = ctx;
	int n;
	for (unsigned i = 0; i < BURST; i++) {
		if (seal) {
			uint8_t *d = s->pt[i] + HDR;
			if (EVP_EncryptInit_ex2(p->enc, NULL, NULL, s->nonce[i], NULL) != 1 ||
			    EVP_EncryptUpdate(p->enc, NULL, &n, s->aad[i], NM_NET_AAD_SIZE) != 1 ||
			    EVP_EncryptUpdate(p->enc, d, &n, d, (int)s->plen) != 1 ||
			    EVP_EncryptFinal_ex(p->enc, d + s->plen, &n) != 1 ||
			    EVP_CIPHER_CTX_ctrl(p->enc, EVP_CTRL_AEAD_GET_TAG, TAG, d + s->plen) != 1)
				return -EIO;
			continue;
		}
		uint8_t *c = s->ct[i] + HDR, *o = s->out[i] + HDR;
		if (EVP_DecryptInit_ex2(p->dec, NULL, NULL, s->nonce[i], NULL) != 1 ||
		    EVP_DecryptUpdate(p->dec, NULL, &n, s->aad[i], NM_NET_AAD_SIZE) != 1 ||
		    EVP_DecryptUpdate(p->dec, o, &n, c, (int)s->plen) != 1 ||
		    EVP_CIPHER_CTX_ctrl(p->dec, EVP_CTRL_AEAD_SET_TAG, TAG, c + s->plen) != 1 ||
		    EVP_DecryptFinal_ex(p->dec, o + s->plen, &n) != 1)
			return -EBADMSG;
	}
	return 0;
}

static int evp_setup(struct evp_pair *p, EVP_CIPHER *cipher, const uint8_t *key)
{
	p->enc = EVP_CIPHER_CTX_new();
	p->dec = EVP_CIPHER_CTX_new();
	if (p->enc == NULL || p->dec == NULL ||
	    EVP_EncryptInit_ex2(p->enc, cipher, key, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex2(p->dec, cipher, key, NULL, NULL) != 1)
		return -EIO;
	return 0;
}

static void evp_teardown(struct evp_pair *p)
{
	EVP_CIPHER_CTX_free(p->enc);
	EVP_CIPHER_CTX_free(p->dec);
}

/* ---------------------------------------------------------------- DPDK cryptodev */

struct cdev {
	const char *pmd; /* vdev driver name, also the figure's name */
	char vdev[64];
	int id;
	void *sess[2];   /* [0] open, [1] seal */
	struct rte_mempool *sess_pool, *op_pool, *mbuf_pool;
	/* Mbufs over the set's own buffers (external, attached once): pt, ct, out. */
	struct rte_mbuf *pt[BURST], *ct[BURST], *out[BURST];
	struct rte_mbuf_ext_shared_info shinfo;
	/* IOVAs looked up once: outside DPDK memory each lookup reads /proc/self/pagemap. */
	rte_iova_t aad_iova[BURST], tag_iova[2][BURST]; /* [0] ct's tag, [1] pt's */
};

static void ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque; /* the buffers are the set's: nothing to free */
}

static struct rte_mbuf *ext_mbuf(struct cdev *c, uint8_t *buf, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->mbuf_pool);
	if (m == NULL)
		return NULL;
	rte_pktmbuf_attach_extbuf(m, buf, rte_mem_virt2iova(buf), MAX_DGRAM, &c->shinfo);
	m->data_off = 0;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

static void *cdev_session(struct cdev *c, const uint8_t *key, bool seal)
{
	struct rte_crypto_sym_xform x = {
		.type = RTE_CRYPTO_SYM_XFORM_AEAD,
		.aead = {
			.op = seal ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT,
			.algo = RTE_CRYPTO_AEAD_CHACHA20_POLY1305,
			.key = { .data = key, .length = NM_AEAD_KEY_SIZE },
			.iv = { .offset = IV_OFF, .length = NM_NET_NONCE_SIZE },
			.digest_length = TAG,
			.aad_length = NM_NET_AAD_SIZE,
		},
	};
	return rte_cryptodev_sym_session_create((uint8_t)c->id, &x, c->sess_pool);
}

static int cdev_up(struct cdev *c, struct set *s)
{
	const uint8_t *key = s->key;
	char name[64];
	const int socket = (int)rte_socket_id();
	snprintf(c->vdev, sizeof(c->vdev), "%s_nmb%d_%zu", c->pmd, (int)getpid(), s->len);
	if (rte_vdev_init(c->vdev, NULL) != 0) {
		c->vdev[0] = '\0';
		return -ENODEV;
	}
	c->id = rte_cryptodev_get_dev_id(c->vdev);
	if (c->id < 0)
		return -ENODEV;
	unsigned sz = rte_cryptodev_sym_get_private_session_size((uint8_t)c->id);
	snprintf(name, sizeof(name), "nmb_sess_%d", c->id);
	c->sess_pool = rte_cryptodev_sym_session_pool_create(name, 8, sz, 0, 0, socket);
	snprintf(name, sizeof(name), "nmb_ops_%d", c->id);
	c->op_pool = rte_crypto_op_pool_create(name, RTE_CRYPTO_OP_TYPE_SYMMETRIC, 2 * BURST + 32,
					       0, NM_NET_NONCE_SIZE, socket);
	snprintf(name, sizeof(name), "nmb_mbuf_%d", c->id);
	c->mbuf_pool = rte_pktmbuf_pool_create(name, 3 * BURST + 32, 0, 0, 0, socket);
	if (c->sess_pool == NULL || c->op_pool == NULL || c->mbuf_pool == NULL)
		return -ENOMEM;
	struct rte_cryptodev_config conf = { .socket_id = socket, .nb_queue_pairs = 1 };
	struct rte_cryptodev_qp_conf qp = { .nb_descriptors = 256, .mp_session = c->sess_pool };
	if (rte_cryptodev_configure((uint8_t)c->id, &conf) < 0 ||
	    rte_cryptodev_queue_pair_setup((uint8_t)c->id, 0, &qp, socket) < 0 ||
	    rte_cryptodev_start((uint8_t)c->id) < 0)
		return -EIO;
	c->sess[0] = cdev_session(c, key, false);
	c->sess[1] = cdev_session(c, key, true);
	if (c->sess[0] == NULL || c->sess[1] == NULL)
		return -ENOTSUP;
	c->shinfo.free_cb = ext_free;
	rte_mbuf_ext_refcnt_set(&c->shinfo, 1);
	for (unsigned i = 0; i < BURST; i++) {
		c->pt[i] = ext_mbuf(c, s->pt[i], s->len);
		c->ct[i] = ext_mbuf(c, s->ct[i], s->len);
		c->out[i] = ext_mbuf(c, s->out[i], s->len);
		c->aad_iova[i] = rte_mem_virt2iova(s->aad[i]);
		c->tag_iova[0][i] = rte_mem_virt2iova(s->ct[i] + HDR + s->plen);
		c->tag_iova[1][i] = rte_mem_virt2iova(s->pt[i] + HDR + s->plen);
		if (c->pt[i] == NULL || c->ct[i] == NULL || c->out[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static void cdev_down(struct cdev *c)
{
	if (c->id < 0) {
		if (c->vdev[0] != '\0')
			rte_vdev_uninit(c->vdev);
		return;
	}
	rte_cryptodev_stop((uint8_t)c->id);
	for (unsigned k = 0; k < 2; k++)
		if (c->sess[k] != NULL)
			rte_cryptodev_sym_session_free((uint8_t)c->id, c->sess[k]);
	for (unsigned i = 0; i < BURST; i++) {
		rte_pktmbuf_free(c->pt[i]);
		rte_pktmbuf_free(c->ct[i]);
		rte_pktmbuf_free(c->out[i]);
	}
	rte_cryptodev_close((uint8_t)c->id);
	rte_vdev_uninit(c->vdev);
	rte_mempool_free(c->mbuf_pool);
	rte_mempool_free(c->op_pool);
	rte_mempool_free(c->sess_pool);
}

static bool cdev_has_cpu(const struct cdev *c)
{
	struct rte_cryptodev_info info;
	rte_cryptodev_info_get((uint8_t)c->id, &info);
	return (info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) != 0;
}

/*
 * Synchronous CPU crypto: one call for the 32 datagrams. The 22.11 PMDs
 * ignore dest_sgl (they work in place), so an open first copies the sealed
 * datagram into out: those figures include that copy (aead_memcpy_*).
 */
static int cdev_cpu_pass(void *ctx, struct set *s, bool seal)
{
	struct cdev *c = ctx;
	struct rte_crypto_vec sv[BURST];
	struct rte_crypto_sgl ssgl[BURST];
	struct rte_crypto_va_iova_ptr iv[BURST], dig[BURST], aad[BURST];
	int32_t st[BURST];
	for (unsigned i = 0; i < BURST; i++) {
		uint8_t *buf = seal ? s->pt[i] : s->out[i];
		if (!seal)
			memcpy(buf, s->ct[i], s->len);
		sv[i] = (struct rte_crypto_vec){ .base = buf + HDR, .len = (uint32_t)s->plen,
						 .tot_len = (uint32_t)s->plen };
		ssgl[i] = (struct rte_crypto_sgl){ &sv[i], 1 };
		iv[i].va = s->nonce[i];
		dig[i].va = buf + HDR + s->plen;
		aad[i].va = s->aad[i];
	}
	struct rte_crypto_sym_vec v = { .num = BURST, .src_sgl = ssgl, .iv = iv, .digest = dig,
					.aad = aad, .status = st };
	union rte_crypto_sym_ofs ofs = { .raw = 0 };
	uint32_t ok = rte_cryptodev_sym_cpu_crypto_process((uint8_t)c->id, c->sess[seal], ofs, &v);
	return ok == BURST ? 0 : st[0] != 0 ? -abs(st[0]) : -EIO;
}

/* Enqueue/dequeue: the asynchronous path an accelerator (QAT) would take. */
static int cdev_enq_pass(void *ctx, struct set *s, bool seal)
{
	struct cdev *c = ctx;
	struct rte_crypto_op *ops[BURST];
	if (rte_crypto_op_bulk_alloc(c->op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, BURST) != BURST)
		return -ENOMEM;
	for (unsigned i = 0; i < BURST; i++) {
		uint8_t *src = seal ? s->pt[i] : s->ct[i];
		struct rte_crypto_sym_op *so = ops[i]->sym;
		so->m_src = seal ? c->pt[i] : c->ct[i];
		so->m_dst = seal ? NULL : c->out[i];
		so->aead.data.offset = HDR;
		so->aead.data.length = (uint32_t)s->plen;
		so->aead.digest.data = src + HDR + s->plen;
		so->aead.digest.phys_addr = c->tag_iova[seal][i];
		so->aead.aad.data = s->aad[i];
		so->aead.aad.phys_addr = c->aad_iova[i];
		memcpy(rte_crypto_op_ctod_offset(ops[i], uint8_t *, IV_OFF), s->nonce[i],
		       NM_NET_NONCE_SIZE);
		rte_crypto_op_attach_sym_session(ops[i], c->sess[seal]);
	}
	int rc = 0;
	uint16_t in = rte_cryptodev_enqueue_burst((uint8_t)c->id, 0, ops, BURST);
	if (in != BURST)
		rc = -EIO;
	for (uint16_t out = 0; out < in;) {
		struct rte_crypto_op *done[BURST];
		uint16_t k = rte_cryptodev_dequeue_burst((uint8_t)c->id, 0, done, BURST);
		for (uint16_t i = 0; i < k; i++)
			if (done[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
				rc = -EBADMSG;
		out += k;
	}
	rte_mempool_put_bulk(c->op_pool, (void **)ops, BURST);
	return rc;
}

/* ---------------------------------------------------------------- runner */

/* One seal pass of fresh plaintexts must give libsodium's bytes. */
static int sealed_right(pass_fn fn, void *ctx, struct set *s)
{
	for (unsigned i = 0; i < BURST; i++)
		memcpy(s->pt[i], s->plain[i], s->len);
	int rc = fn(ctx, s, true);
	for (unsigned i = 0; rc == 0 && i < BURST; i++)
		if (memcmp(s->pt[i], s->ct[i], s->len) != 0)
			rc = -EPROTO;
	return rc;
}

/* Passes until MIN_CPU_S of this thread's CPU; ops/s, or a negative code. */
static double rate(pass_fn fn, void *ctx, struct set *s, bool seal, int *rc)
{
	uint64_t n = 0;
	/* Warm-up, and the first check of the bytes. */
	if ((*rc = seal ? sealed_right(fn, ctx, s) : fn(ctx, s, seal)) < 0)
		return 0;
	double t0 = cpu_now(), dt;
	do {
		for (unsigned k = 0; k < 16; k++)
			*rc |= fn(ctx, s, seal);
		n += 16 * BURST;
	} while ((dt = cpu_now() - t0) < MIN_CPU_S);
	if (*rc == 0 && !seal && !opened_right(s))
		*rc = -EBADMSG;
	return (double)n / dt;
}

/* The copy the cdev CPU-crypto opens include. */
static int memcpy_pass(void *ctx, struct set *s, bool seal)
{
	(void)ctx;
	(void)seal;
	for (unsigned i = 0; i < BURST; i++)
		memcpy(s->out[i], s->ct[i], s->len);
	return 0;
}

static void row(const char *name, pass_fn fn, void *ctx, struct set *s)
{
	memcpy(s->ct, s->ct_ref, sizeof(s->ct)); /* whatever the last row did to it */
	for (int seal = 1; seal >= 0; seal--) {
		int rc;
		memset(s->out, 0, sizeof(s->out));
		double r = rate(fn, ctx, s, seal, &rc);
		const char *op = seal ? "seal" : "open";
		if (rc != 0)
			printf("# aead_%s_%s_%zu: failed (%s), no figure\n", name, op, s->len,
			       strerror(rc < 0 ? -rc : EIO));
		else
			printf("aead_%s_%s_%zu_per_s: %.0f ops/s\n", name, op, s->len, r);
		fflush(stdout);
	}
}

static void memcpy_row(struct set *s)
{
	uint64_t n = 0;
	double t0 = cpu_now(), dt;
	do {
		memcpy_pass(NULL, s, false);
		n += BURST;
	} while ((dt = cpu_now() - t0) < MIN_CPU_S);
	printf("aead_memcpy_%zu_per_s: %.0f ops/s\n", s->len, (double)n / dt);
}

static void cdev_rows(const char *pmd, struct set *s)
{
	struct cdev c = { .pmd = pmd, .id = -1 };
	char name[64];
	int rc = cdev_up(&c, s);
	if (rc < 0) {
		printf("# cdev %s: not available (%s)\n", pmd, strerror(-rc));
	} else {
		const char *short_name = strncmp(pmd, "crypto_", 7) == 0 ? pmd + 7 : pmd;
		if (cdev_has_cpu(&c)) {
			snprintf(name, sizeof(name), "cdev_%s_cpu", short_name);
			row(name, cdev_cpu_pass, &c, s);
		} else {
			printf("# cdev %s: no CPU-crypto (RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) in this "
			       "PMD: enqueue/dequeue only\n", pmd);
		}
		snprintf(name, sizeof(name), "cdev_%s_enq", short_name);
		row(name, cdev_enq_pass, &c, s);
	}
	cdev_down(&c);
}

int bench_aead_part(void)
{
	static struct set s; /* about 480 KB */
	if (nm_aead_lib_init() < 0)
		bench_die("aead", -ENOSYS);
	IMB_MGR *imb = alloc_mb_mgr(0);
	IMB_ARCH arch = IMB_ARCH_NONE;
	if (imb != NULL)
		init_mb_mgr_auto(imb, &arch);
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	printf("# nm_aead default: %s (%s); ipsec-mb %s arch %d; %s; libsodium %s\n",
	       nm_aead_backend_name(), nm_aead_arch_name(), IMB_VERSION_STR, (int)arch,
	       OpenSSL_version(OPENSSL_VERSION), sodium_version_string());
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		set_fill(&s, sizes[k]);
		row("sodium", sodium_pass, NULL, &s);
		if (imb != NULL && imb_get_errno(imb) == 0) {
			row("ipsec_mb_direct", imb_direct_pass, imb, &s);
			row("ipsec_mb_job1", imb_job1_pass, imb, &s);
			row("ipsec_mb_burst32", imb_burst_pass, imb, &s);
		}
		struct evp_pair p = { 0 };
		if (cipher != NULL && evp_setup(&p, cipher, s.key) == 0)
			row("openssl_evp", evp_pass, &p, &s);
		evp_teardown(&p);
		memcpy_row(&s);
		cdev_rows("crypto_aesni_mb", &s);
		cdev_rows("crypto_chacha20_poly1305", &s);
		cdev_rows("crypto_openssl", &s);
	}
	EVP_CIPHER_free(cipher);
	free_mb_mgr(imb);
	return EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_aead.c - every AEAD backend against libsodium's IETF ChaCha20-Poly1305
 * called directly: random datagrams of many sizes sealed and opened one by
 * one and in bursts, with bytes and tags compared; forged tags, bad lengths
 * mixed into bursts, the backend choice and NM_AEAD. No EAL.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nm_aead.h"
#include "nm_wire.h"

#define MAXD (NM_NET_HDR_SIZE + NM_NET_MAX_PAYLOAD + NM_NET_TAG_SIZE)
#define N_DGRAMS 48

struct dgram {
	uint8_t buf[MAXD];
	uint8_t want[MAXD]; /* what libsodium makes of it */
	uint8_t plain[MAXD];
	size_t len;
	uint64_t counter;
	struct nm_aead key;
};

static struct dgram dg[N_DGRAMS];

/* Sizes: the edges (empty payload = heartbeat, one byte, block edges, the
 * maximum) and the dataplane's own (114, 1300, 5058), the rest random. */
static uint16_t plen_of(unsigned i)
{
	static const uint16_t fixed[] = { 0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257,
					  114 - 84, 1300 - 84, 5058 - 84, NM_NET_MAX_PAYLOAD };
	if (i < sizeof(fixed) / sizeof(fixed[0]))
		return fixed[i];
	return (uint16_t)randombytes_uniform(NM_NET_MAX_PAYLOAD + 1);
}

/* A random header with payload_len set, random plaintext; want = libsodium's seal. */
static void make(struct dgram *d, unsigned i)
{
	uint8_t key[NM_AEAD_KEY_SIZE], aad[NM_NET_AAD_SIZE];
	uint64_t sid;
	uint16_t plen = plen_of(i);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(&sid, sizeof(sid));
	randombytes_buf(&d->counter, sizeof(d->counter));
	nm_aead_init(&d->key, key, sid);
	d->len = nm_net_dgram_len(plen);
	randombytes_buf(d->plain, NM_NET_HDR_SIZE + plen);
	nm_put_le16(d->plain + NM_OFF_PAYLOAD_LEN, plen);

	memcpy(d->want, d->plain, d->len);
	memcpy(d->want + NM_OFF_NONCE, d->key.prefix, 4);
	nm_put_le64(d->want + NM_OFF_COUNTER, d->counter);
	nm_hdr_aad(d->want, aad);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		d->want + NM_NET_HDR_SIZE, d->want + NM_NET_HDR_SIZE + plen, NULL,
		d->want + NM_NET_HDR_SIZE, plen, aad, sizeof(aad), NULL, d->want + NM_OFF_NONCE, key);
	/* What open gives back: the header as sealed, the plaintext. */
	memcpy(d->plain, d->want, NM_NET_HDR_SIZE);
	sodium_memzero(key, sizeof(key));
}

static void make_all(void)
{
	for (unsigned i = 0; i < N_DGRAMS; i++)
		make(&dg[i], i);
}

static void reset_plain(struct dgram *d)
{
	memcpy(d->buf, d->plain, d->len);
	memset(d->buf + NM_OFF_NONCE, 0xA5, NM_NET_NONCE_SIZE); /* seal writes it */
}

static void check_single(enum nm_aead_backend b)
{
	ck_assert_int_eq(nm_aead_use(b), 0);
	for (unsigned i = 0; i < N_DGRAMS; i++) {
		struct dgram *d = &dg[i];
		uint64_t ctr = 0;
		enum nm_drop why = NM_DROP_NONE;
		reset_plain(d);
		ck_assert_int_eq(nm_aead_seal(&d->key, d->buf, d->len, d->counter), 0);
		ck_assert_msg(memcmp(d->buf, d->want, d->len) == 0, "%s seal, %zu bytes",
			      nm_aead_backend_str(b), d->len);
		ck_assert_int_eq(nm_aead_open(&d->key, d->buf, d->len, &ctr, &why), 0);
		ck_assert_uint_eq(ctr, d->counter);
		ck_assert_msg(memcmp(d->buf, d->plain, d->len - NM_NET_TAG_SIZE) == 0,
			      "%s open, %zu bytes", nm_aead_backend_str(b), d->len);
	}
}

static void ops_of(struct nm_aead_op *ops, unsigned first, unsigned n, bool seal)
{
	for (unsigned i = 0; i < n; i++) {
		struct dgram *d = &dg[first + i];
		ops[i] = (struct nm_aead_op){ .key = &d->key, .pkt = d->buf, .len = d->len,
					      .counter = seal ? d->counter : 0, .rc = 99 };
	}
}

static void check_burst(enum nm_aead_backend b, unsigned n)
{
	struct nm_aead_op ops[NM_AEAD_BURST_MAX];
	ck_assert_int_eq(nm_aead_use(b), 0);
	struct nm_aead_batch *bt = nm_aead_batch_new();
	ck_assert_ptr_nonnull(bt);
	ck_assert_int_eq(nm_aead_batch_backend(bt), b);
	for (unsigned first = 0; first < N_DGRAMS; first += n) {
		unsigned k = first + n <= N_DGRAMS ? n : N_DGRAMS - first;
		for (unsigned i = 0; i < k; i++)
			reset_plain(&dg[first + i]);
		ops_of(ops, first, k, true);
		ck_assert_int_eq(nm_aead_seal_burst(bt, ops, k), (int)k);
		for (unsigned i = 0; i < k; i++) {
			struct dgram *d = &dg[first + i];
			ck_assert_int_eq(ops[i].rc, 0);
			ck_assert_msg(memcmp(d->buf, d->want, d->len) == 0, "%s burst seal %zu bytes",
				      nm_aead_backend_str(b), d->len);
		}
		ops_of(ops, first, k, false);
		ck_assert_int_eq(nm_aead_open_burst(bt, ops, k), (int)k);
		for (unsigned i = 0; i < k; i++) {
			struct dgram *d = &dg[first + i];
			ck_assert_int_eq(ops[i].rc, 0);
			ck_assert_uint_eq(ops[i].counter, d->counter);
			ck_assert_msg(memcmp(d->buf, d->plain, d->len - NM_NET_TAG_SIZE) == 0,
				      "%s burst open %zu bytes", nm_aead_backend_str(b), d->len);
		}
	}
	nm_aead_batch_free(bt);
}

static void check_backend(enum nm_aead_backend b)
{
	ck_assert_int_eq(nm_aead_lib_init(), 0);
	if (!nm_aead_available(b)) {
		/* Only ipsec-mb may be missing (a CPU it does not know). */
		ck_assert_int_eq(b, NM_AEAD_IPSEC_MB);
		return;
	}
	make_all();
	check_single(b);
	check_burst(b, 1);
	check_burst(b, 7);
	check_burst(b, 32);
	check_burst(b, NM_AEAD_BURST_MAX);
}

START_TEST(test_sodium_matches)   { check_backend(NM_AEAD_SODIUM); } END_TEST
START_TEST(test_ipsec_mb_matches) { check_backend(NM_AEAD_IPSEC_MB); } END_TEST
START_TEST(test_openssl_matches)  { check_backend(NM_AEAD_OPENSSL); } END_TEST

/* A burst of good, forged, truncated and misframed datagrams: each gets its own verdict. */
static void check_mixed_open(enum nm_aead_backend b)
{
	struct nm_aead_op ops[8];
	static const enum nm_drop exp[8] = { NM_DROP_NONE, NM_DROP_AUTH, NM_DROP_NONE,
					     NM_DROP_NET_LEN_MISMATCH, NM_DROP_AUTH,
					     NM_DROP_NET_SHORT, NM_DROP_NET_PAYLOAD_LEN, NM_DROP_NONE };
	if (!nm_aead_available(b))
		return;
	ck_assert_int_eq(nm_aead_use(b), 0);
	struct nm_aead_batch *bt = nm_aead_batch_new();
	ck_assert_ptr_nonnull(bt);
	make_all();
	for (unsigned i = 0; i < 8; i++)
		memcpy(dg[i].buf, dg[i].want, dg[i].len);
	ops_of(ops, 0, 8, false);
	dg[1].buf[dg[1].len - 1] ^= 1;            /* tag */
	ops[3].len -= 1;                          /* length */
	dg[4].buf[NM_OFF_SESSION_ID] ^= 0x80;     /* AAD */
	ops[5].len = NM_NET_HDR_SIZE - 1;
	nm_put_le16(dg[6].buf + NM_OFF_PAYLOAD_LEN, NM_NET_MAX_PAYLOAD + 1);
	ck_assert_int_eq(nm_aead_open_burst(bt, ops, 8), 3);
	for (unsigned i = 0; i < 8; i++) {
		ck_assert_msg(ops[i].why == exp[i], "%s op %u: why %d", nm_aead_backend_str(b), i,
			      ops[i].why);
		ck_assert_int_eq(ops[i].rc == 0, exp[i] == NM_DROP_NONE);
	}
	ck_assert_int_eq(ops[1].rc, -EBADMSG);
	/* A forged datagram leaves no plaintext behind. */
	size_t plen = dg[1].len - NM_NET_HDR_SIZE - NM_NET_TAG_SIZE;
	for (size_t k = 0; k < plen; k++)
		ck_assert_uint_eq(dg[1].buf[NM_NET_HDR_SIZE + k], 0);
	for (unsigned i = 0; i < 8; i += 7)
		ck_assert(memcmp(dg[i].buf, dg[i].plain, dg[i].len - NM_NET_TAG_SIZE) == 0);
	/* Single open: the same verdict, the same wipe. */
	struct dgram *d = &dg[7]; /* 64 payload bytes */
	memcpy(d->buf, d->want, d->len);
	d->buf[NM_NET_HDR_SIZE] ^= 1;
	enum nm_drop why = NM_DROP_NONE;
	ck_assert_int_eq(nm_aead_open(&d->key, d->buf, d->len, NULL, &why), -EBADMSG);
	ck_assert_int_eq(why, NM_DROP_AUTH);
	for (size_t k = 0; k < 64; k++)
		ck_assert_uint_eq(d->buf[NM_NET_HDR_SIZE + k], 0);
	nm_aead_batch_free(bt);
}

START_TEST(test_mixed_open_burst)
{
	ck_assert_int_eq(nm_aead_lib_init(), 0);
	for (unsigned b = 0; b < NM_AEAD__COUNT; b++)
		check_mixed_open((enum nm_aead_backend)b);
}
END_TEST

/* Seal errors in a burst are per op, as the single call's. */
START_TEST(test_seal_burst_errors)
{
	ck_assert_int_eq(nm_aead_lib_init(), 0);
	for (unsigned b = 0; b < NM_AEAD__COUNT; b++) {
		struct nm_aead_op ops[4];
		if (nm_aead_use((enum nm_aead_backend)b) != 0)
			continue;
		struct nm_aead_batch *bt = nm_aead_batch_new();
		ck_assert_ptr_nonnull(bt);
		make_all();
		for (unsigned i = 0; i < 4; i++)
			reset_plain(&dg[i]);
		ops_of(ops, 0, 4, true);
		ops[1].len = dg[1].len - 1;
		nm_put_le16(dg[2].buf + NM_OFF_PAYLOAD_LEN, NM_NET_MAX_PAYLOAD + 1);
		ops[3].pkt = NULL;
		ck_assert_int_eq(nm_aead_seal_burst(bt, ops, 4), 1);
		ck_assert_int_eq(ops[0].rc, 0);
		ck_assert(memcmp(dg[0].buf, dg[0].want, dg[0].len) == 0);
		ck_assert_int_eq(ops[1].rc, -ENOSPC);
		ck_assert_int_eq(ops[2].rc, -EMSGSIZE);
		ck_assert_int_eq(ops[3].rc, -EINVAL);
		ck_assert_int_eq(nm_aead_seal_burst(bt, ops, NM_AEAD_BURST_MAX + 1), -EINVAL);
		ck_assert_int_eq(nm_aead_open_burst(NULL, ops, 1), -EINVAL);
		ck_assert_int_eq(nm_aead_seal_burst(bt, ops, 0), 0);
		nm_aead_batch_free(bt);
	}
}
END_TEST

/* The default is ipsec-mb where it runs AVX2 or AVX-512, libsodium otherwise. */
START_TEST(test_default_choice)
{
	unsetenv("NM_AEAD");
	ck_assert_int_eq(nm_aead_lib_init(), 0);
	enum nm_aead_backend got = nm_aead_backend();
	ck_assert_str_eq(nm_aead_backend_name(), nm_aead_backend_str(got));
	if (got == NM_AEAD_IPSEC_MB) {
		const char *arch = nm_aead_arch_name();
		ck_assert(strcmp(arch, "avx2") == 0 || strcmp(arch, "avx512") == 0);
	} else {
		ck_assert_int_eq(got, NM_AEAD_SODIUM);
	}
	ck_assert_int_eq(nm_aead_use(NM_AEAD__COUNT), -ENOTSUP);
}
END_TEST

START_TEST(test_env_forces)
{
	setenv("NM_AEAD", "openssl", 1);
	ck_assert_int_eq(nm_aead_lib_init(), 0);
	ck_assert_str_eq(nm_aead_backend_name(), "openssl");
	ck_assert_ptr_nonnull(strstr(nm_aead_arch_name(), "OpenSSL"));
}
END_TEST

START_TEST(test_env_unknown)
{
	setenv("NM_AEAD", "rot13", 1);
	ck_assert_int_eq(nm_aead_lib_init(), -EINVAL);
	ck_assert_int_eq(nm_aead_lib_init(), -EINVAL); /* the choice is made once */
}
END_TEST

START_TEST(test_parse_backend)
{
	enum nm_aead_backend b;
	for (unsigned i = 0; i < NM_AEAD__COUNT; i++) {
		ck_assert_int_eq(nm_aead_parse_backend(nm_aead_backend_str(i), &b), 0);
		ck_assert_int_eq(b, (enum nm_aead_backend)i);
	}
	ck_assert_int_eq(nm_aead_parse_backend("ipsec_mb", &b), -EINVAL);
	ck_assert_str_eq(nm_aead_backend_str(NM_AEAD__COUNT), "?");
}
END_TEST

static Suite *aead_suite(void)
{
	Suite *s = suite_create("aead");
	TCase *tc = tcase_create("backends");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sodium_matches);
	tcase_add_test(tc, test_ipsec_mb_matches);
	tcase_add_test(tc, test_openssl_matches);
	tcase_add_test(tc, test_mixed_open_burst);
	tcase_add_test(tc, test_seal_burst_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("choice");
	tcase_add_test(tc, test_default_choice);
	tcase_add_test(tc, test_env_forces);
	tcase_add_test(tc, test_env_unknown);
	tcase_add_test(tc, test_parse_backend);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(aead_suite());
	/* Fork mode also gives every test a fresh, unchosen backend. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}

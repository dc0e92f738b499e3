/* SPDX-License-Identifier: MIT */
/*
 * test_noise.c - BLAKE2s/HMAC/HKDF, Noise NKpsk0, Net's handshake and KDF, key files. No EAL.
 *
 * Sources of the expected values:
 *  - the cacophony vector (tests/vectors/, parsed at run time from argv[1]
 *    or $NM_NOISE_VECTOR): the Noise handshake and transport byte for byte;
 *  - RFC 7693 appendix B and the BLAKE2 reference KAT for BLAKE2s;
 *  - everything else was computed by independent code, not this library:
 *    Python hashlib.blake2s, hmac, and a ~60-line NKpsk0 written on top of
 *    the cryptography package (OpenSSL X25519 and ChaCha20-Poly1305), which
 *    first reproduced the cacophony vector byte for byte.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nm_blake2s.h"
#include "nm_error.h"
#include "nm_handshake.h"
#include "nm_identity.h"
#include "nm_keys.h"
#include "nm_noise.h"
#include "nm_wire.h"

/* ------------------------------------------------------------------ helpers */

static const char *vector_path; /* set once in main(), before the runner forks */

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t bin_len = 0;

	ck_assert_uint_eq(strlen(hex), 2 * n);
	ck_assert_int_eq(sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, NULL), 0);
	ck_assert_uint_eq(bin_len, n);
}

#define ck_assert_hex(buf, hex)                                                              \
	do {                                                                                 \
		uint8_t want_[sizeof(hex) / 2];                                              \
		unhex(hex, want_, sizeof(want_));                                            \
		ck_assert_mem_eq(buf, want_, sizeof(want_));                                 \
	} while (0)

static bool all_zero(const void *p, size_t n)
{
	return sodium_is_zero(p, n) == 1;
}

/* ------------------------------------------------- tiny reader for the vector */

#define JSON_MAX 16384
#define HEX_MAX 1024 /* the longest field in bytes, decoded */

struct vec_field {
	uint8_t b[HEX_MAX];
	size_t len;
};

static void load_json(char *buf, size_t cap)
{
	ck_assert_msg(vector_path, "no vector path: pass it as argv[1] or $NM_NOISE_VECTOR");
	FILE *f = fopen(vector_path, "rb");
	ck_assert_msg(f, "cannot open %s", vector_path);
	size_t n = fread(buf, 1, cap - 1, f);
	ck_assert_int_eq(feof(f) || n < cap - 1, 1);
	fclose(f);
	buf[n] = '\0';
}

/*
 * The nth (0-based) string value of "key": "..." or "key": ["...", ...]
 * (first element). This vector has only flat hex strings, so no escapes.
 */
static bool json_hex(const char *json, const char *key, int nth, struct vec_field *out)
{
	char pat[64];
	const char *p = json;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	for (int i = 0; i <= nth; i++) {
		p = strstr(p, pat);
		if (!p)
			return false;
		p += strlen(pat);
	}
	while (*p == ' ' || *p == ':' || *p == '[' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	if (*p != '"')
		return false;
	const char *end = strchr(++p, '"');
	if (!end || (size_t)(end - p) > 2 * HEX_MAX || (end - p) % 2)
		return false;
	size_t bin_len = 0;
	if (sodium_hex2bin(out->b, HEX_MAX, p, (size_t)(end - p), NULL, &bin_len, NULL) != 0)
		return false;
	out->len = bin_len;
	return true;
}

static void field(const char *json, const char *key, int nth, struct vec_field *out)
{
	ck_assert_msg(json_hex(json, key, nth, out), "vector field %s[%d] missing", key, nth);
}

/* ------------------------------------------------------------------- BLAKE2s */

START_TEST(test_blake2s_known_answers)
{
	uint8_t out[32], key[32], msg[64], cat[32];

	/* RFC 7693 appendix B. */
	ck_assert_int_eq(nm_blake2s(out, "abc", 3), 0);
	ck_assert_hex(out, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	/* BLAKE2 reference KAT, keyed: key 00..1f. */
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	memcpy(key, msg, sizeof(key));
	ck_assert_int_eq(nm_blake2s_keyed(out, key, 32, NULL, 0), 0);
	ck_assert_hex(out, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49");
	ck_assert_int_eq(nm_blake2s_keyed(out, key, 32, msg, 64), 0);
	ck_assert_hex(out, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4");
	/* key_len 0 is the plain hash; _cat is the hash of the concatenation. */
	ck_assert_int_eq(nm_blake2s_keyed(out, NULL, 0, "abc", 3), 0);
	ck_assert_hex(out, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	ck_assert_int_eq(nm_blake2s_cat(cat, "a", 1, "bc", 2), 0);
	ck_assert_mem_eq(cat, out, 32);
	ck_assert_int_eq(nm_blake2s_cat(cat, msg, 64, NULL, 0), 0);
	ck_assert_int_eq(nm_blake2s(out, msg, 64), 0);
	ck_assert_mem_eq(cat, out, 32);
}
END_TEST

START_TEST(test_blake2s_bad_input)
{
	uint8_t out[32], key[33] = { 0 };

	ck_assert_int_eq(nm_blake2s_keyed(out, key, 33, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_blake2s_keyed(out, NULL, 5, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_blake2s_keyed(out, key, 32, NULL, 1), -EINVAL);
	ck_assert_int_eq(nm_blake2s_keyed(NULL, key, 32, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_blake2s(out, NULL, 1), -EINVAL);
	ck_assert_int_eq(nm_blake2s_cat(out, NULL, 1, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_hmac_blake2s(out, NULL, 1, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_hmac_blake2s(NULL, key, 1, "x", 1), -EINVAL);
	ck_assert_int_eq(nm_noise_hkdf(NULL, NULL, 0, out, out, NULL), -EINVAL);
	ck_assert_int_eq(nm_noise_hkdf(key, NULL, 3, out, out, NULL), -EINVAL);
	ck_assert_int_eq(nm_noise_hkdf(key, NULL, 0, out, NULL, NULL), -EINVAL);
}
END_TEST

/* The identity hashes and the session KDF share one keyed BLAKE2s. */
START_TEST(test_identity_hash_uses_shared_keyed)
{
	uint8_t pk[32], out[32];

	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)(7 * i + 1);
	ck_assert_int_eq(nm_blake2s_keyed(out, "net-node-id-v1", 14, pk, 32), 0);
	ck_assert_uint_eq(nm_node_id_of(pk), nm_get_le64(out));
	ck_assert_uint_eq(nm_blake2s_keyed_u64("net-node-id-v1", pk, 32), nm_get_le64(out));
	ck_assert_int_eq(nm_blake2s_keyed(out, "net-origin-v1", 13, pk, 32), 0);
	ck_assert_uint_eq(nm_origin_hash_of(pk), nm_get_le64(out));
}
END_TEST

START_TEST(test_hmac_blake2s_vectors)
{
	uint8_t out[32], key[131], hk[32], ref[32];

	/* The RFC 4231 inputs, answers from Python hmac.new(k, m, hashlib.blake2s). */
	memset(key, 0x0b, 20);
	ck_assert_int_eq(nm_hmac_blake2s(out, key, 20, "Hi There", 8), 0);
	ck_assert_hex(out, "65a8b7c5cc9136d424e82c37e2707e74e913c0655b99c75f40edf387453a3260");
	ck_assert_int_eq(nm_hmac_blake2s(out, "Jefe", 4, "what do ya want for nothing?", 28), 0);
	ck_assert_hex(out, "90b6281e2f3038c9056af0b4a7e763cae6fe5d9eb4386a0ec95237890c104ff0");
	/* Key longer than the 64-byte block: hashed first. */
	static const char big[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	memset(key, 0xaa, 131);
	ck_assert_int_eq(nm_hmac_blake2s(out, key, 131, big, strlen(big)), 0);
	ck_assert_hex(out, "d23d79394f53d536a096e6514447eeaabb05ded01be32c1937da6a8f7103bc4e");
	/* RFC 2104: that equals HMAC keyed with BLAKE2s(key). */
	ck_assert_int_eq(nm_blake2s(hk, key, 131), 0);
	ck_assert_int_eq(nm_hmac_blake2s(ref, hk, 32, big, strlen(big)), 0);
	ck_assert_mem_eq(out, ref, 32);
	/* Exactly one block of key: used as is, not hashed. */
	for (int i = 0; i < 64; i++)
		key[i] = (uint8_t)i;
	ck_assert_int_eq(nm_hmac_blake2s(out, key, 64, "block-size key", 14), 0);
	ck_assert_hex(out, "b41c928bf808d777b95b4fb040ba7bc45ea10ae04ba8db42932b57b946ac276a");
}
END_TEST

START_TEST(test_noise_hkdf)
{
	uint8_t ck[32], ikm[32], o1[32], o2[32], o3[32], t[32], x[33], r[32];

	for (int i = 0; i < 32; i++) {
		ck[i] = (uint8_t)i;
		ikm[i] = (uint8_t)(0x20 + i);
	}
	ck_assert_int_eq(nm_noise_hkdf(ck, ikm, 32, o1, o2, o3), 0);
	ck_assert_hex(o1, "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0");
	ck_assert_hex(o2, "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5");
	ck_assert_hex(o3, "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9");

	/* The Noise definition, spelled out with the HMAC primitive. */
	ck_assert_int_eq(nm_hmac_blake2s(t, ck, 32, ikm, 32), 0);
	ck_assert_int_eq(nm_hmac_blake2s(r, t, 32, "\x01", 1), 0);
	ck_assert_mem_eq(r, o1, 32);
	memcpy(x, o1, 32);
	x[32] = 0x02;
	ck_assert_int_eq(nm_hmac_blake2s(r, t, 32, x, 33), 0);
	ck_assert_mem_eq(r, o2, 32);
	memcpy(x, o2, 32);
	x[32] = 0x03;
	ck_assert_int_eq(nm_hmac_blake2s(r, t, 32, x, 33), 0);
	ck_assert_mem_eq(r, o3, 32);

	/* Two outputs are the first two of three; empty ikm (Split). */
	ck_assert_int_eq(nm_noise_hkdf(ck, ikm, 32, t, r, NULL), 0);
	ck_assert_mem_eq(t, o1, 32);
	ck_assert_mem_eq(r, o2, 32);
	ck_assert_int_eq(nm_noise_hkdf(ck, NULL, 0, o1, o2, NULL), 0);
	ck_assert_hex(o1, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624");
	ck_assert_hex(o2, "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd");

	/* MixKey writes ck over itself: out1 may alias ck. */
	memcpy(t, ck, 32);
	ck_assert_int_eq(nm_noise_hkdf(t, ikm, 32, t, r, NULL), 0);
	ck_assert_hex(t, "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0");
	ck_assert_hex(r, "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5");
}
END_TEST

/* ------------------------------------------------------- Noise: the vector */

struct vec {
	struct vec_field prologue, psk, ie, rs_pub, rs, re, hash;
	struct vec_field payload[8], ct[8];
	int nmsg;
};

static void load_vector(struct vec *v)
{
	static char json[JSON_MAX];

	load_json(json, sizeof(json));
	ck_assert_ptr_nonnull(strstr(json, "\"" NM_NOISE_PROTOCOL "\""));
	field(json, "init_prologue", 0, &v->prologue);
	field(json, "init_psks", 0, &v->psk);
	field(json, "init_ephemeral", 0, &v->ie);
	field(json, "init_remote_static", 0, &v->rs_pub);
	field(json, "resp_static", 0, &v->rs);
	field(json, "resp_ephemeral", 0, &v->re);
	field(json, "handshake_hash", 0, &v->hash);
	/* Both sides must be configured alike in this vector. */
	struct vec_field rp, rk;
	field(json, "resp_prologue", 0, &rp);
	field(json, "resp_psks", 0, &rk);
	ck_assert_mem_eq(rp.b, v->prologue.b, v->prologue.len);
	ck_assert_mem_eq(rk.b, v->psk.b, 32);
	v->nmsg = 0;
	while (v->nmsg < 8 && json_hex(json, "payload", v->nmsg, &v->payload[v->nmsg])) {
		field(json, "ciphertext", v->nmsg, &v->ct[v->nmsg]);
		v->nmsg++;
	}
	ck_assert_int_eq(v->nmsg, 6);
	ck_assert_uint_eq(v->psk.len, 32);
	ck_assert_uint_eq(v->hash.len, 32);
}

static void vector_pair(const struct vec *v, struct nm_noise_hs *i, struct nm_noise_hs *r)
{
	struct nm_noise_config ic = {
		.role = NM_NOISE_INITIATOR, .prologue = v->prologue.b,
		.prologue_len = v->prologue.len, .psk = v->psk.b,
		.remote_static_pk = v->rs_pub.b, .fixed_ephemeral_sk = v->ie.b,
	};
	struct nm_noise_config rc = {
		.role = NM_NOISE_RESPONDER, .prologue = v->prologue.b,
		.prologue_len = v->prologue.len, .psk = v->psk.b, .static_sk = v->rs.b,
		.fixed_ephemeral_sk = v->re.b,
	};
	ck_assert_int_eq(nm_noise_init(i, &ic), 0);
	ck_assert_int_eq(nm_noise_init(r, &rc), 0);
}

/* Send message m from one side to the other; both byte-exact with the vector. */
static void vector_hs_msg(const struct vec *v, int m, struct nm_noise_hs *from,
			  struct nm_noise_hs *to)
{
	uint8_t wire[HEX_MAX], got[HEX_MAX];
	size_t n = 0, pn = 0;

	ck_assert_int_eq(nm_noise_write_message(from, v->payload[m].b, v->payload[m].len, wire,
						sizeof(wire), &n),
			 0);
	ck_assert_uint_eq(n, v->ct[m].len);
	ck_assert_mem_eq(wire, v->ct[m].b, n);
	ck_assert_int_eq(nm_noise_read_message(to, wire, n, got, sizeof(got), &pn), 0);
	ck_assert_uint_eq(pn, v->payload[m].len);
	ck_assert_mem_eq(got, v->payload[m].b, pn);
}

START_TEST(test_noise_vector)
{
	struct vec v;
	struct nm_noise_hs i, r;
	struct nm_noise_cipher itx, irx, rtx, rrx;
	uint8_t h[32], pk[32], wire[HEX_MAX], got[HEX_MAX];
	size_t n, pn;

	load_vector(&v);
	/* The initiator's copy of the responder key is the responder's public key. */
	crypto_scalarmult_curve25519_base(pk, v.rs.b);
	ck_assert_mem_eq(pk, v.rs_pub.b, 32);

	vector_pair(&v, &i, &r);
	vector_hs_msg(&v, 0, &i, &r);
	ck_assert(!nm_noise_is_done(&i));
	vector_hs_msg(&v, 1, &r, &i);
	ck_assert(nm_noise_is_done(&i) && nm_noise_is_done(&r));
	ck_assert_int_eq(nm_noise_handshake_hash(&i, h), 0);
	ck_assert_mem_eq(h, v.hash.b, 32);
	ck_assert_int_eq(nm_noise_handshake_hash(&r, h), 0);
	ck_assert_mem_eq(h, v.hash.b, 32);

	ck_assert_int_eq(nm_noise_split(&i, &itx, &irx), 0);
	ck_assert_int_eq(nm_noise_split(&r, &rtx, &rrx), 0);
	/* After the handshake the vector alternates: initiator sends the even ones. */
	for (int m = 2; m < v.nmsg; m++) {
		bool from_init = m % 2 == 0;
		struct nm_noise_cipher *tx = from_init ? &itx : &rtx;
		struct nm_noise_cipher *rx = from_init ? &rrx : &irx;
		ck_assert_int_eq(nm_noise_encrypt(tx, NULL, 0, v.payload[m].b, v.payload[m].len,
						  wire, sizeof(wire), &n),
				 0);
		ck_assert_uint_eq(n, v.ct[m].len);
		ck_assert_mem_eq(wire, v.ct[m].b, n);
		ck_assert_int_eq(nm_noise_decrypt(rx, NULL, 0, wire, n, got, sizeof(got), &pn), 0);
		ck_assert_uint_eq(pn, v.payload[m].len);
		ck_assert_mem_eq(got, v.payload[m].b, pn);
	}
	ck_assert_uint_eq(itx.n, 2);
	ck_assert_uint_eq(rrx.n, 2);
	nm_noise_wipe(&i);
	nm_noise_wipe(&r);
}
END_TEST

/* ------------------------------------------------- Noise: failures and state */

static const uint8_t PSK[32] = {
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};

struct pair {
	uint8_t s_sk[32], s_pk[32];
	struct nm_noise_config ic, rc;
	struct nm_noise_hs i, r;
};

/* Random responder static, empty prologue; cfgs may be edited before pair_init. */
static void pair_setup(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	randombytes_buf(p->s_sk, 32);
	crypto_scalarmult_curve25519_base(p->s_pk, p->s_sk);
	p->ic = (struct nm_noise_config){ .role = NM_NOISE_INITIATOR, .psk = PSK,
					  .remote_static_pk = p->s_pk };
	p->rc = (struct nm_noise_config){ .role = NM_NOISE_RESPONDER, .psk = PSK,
					  .static_sk = p->s_sk };
}

static void pair_init(struct pair *p)
{
	ck_assert_int_eq(nm_noise_init(&p->i, &p->ic), 0);
	ck_assert_int_eq(nm_noise_init(&p->r, &p->rc), 0);
}

static size_t write_ok(struct nm_noise_hs *hs, uint8_t *out)
{
	size_t n = 0;
	ck_assert_int_eq(nm_noise_write_message(hs, NULL, 0, out, 64, &n), 0);
	ck_assert_uint_eq(n, NM_NOISE_HS_OVERHEAD);
	return n;
}

START_TEST(test_noise_wrong_psk)
{
	struct pair p;
	uint8_t other[32], m1[64];
	size_t n;

	pair_setup(&p);
	memcpy(other, PSK, 32);
	other[31] ^= 1;
	p.rc.psk = other;
	pair_init(&p);
	n = write_ok(&p.i, m1);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n, NULL, 0, NULL), -EBADMSG);
	/* Failed means wiped and finished with: no further message either way. */
	ck_assert_int_eq(p.r.step, NM_NOISE_FAILED);
	ck_assert(all_zero(p.r.ck, 32) && all_zero(p.r.s_sk, 32) && all_zero(p.r.psk, 32));
	ck_assert_int_eq(nm_noise_write_message(&p.r, NULL, 0, m1, 64, &n), -EPROTO);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m1, 48, NULL, 0, NULL), -EPROTO);
}
END_TEST

START_TEST(test_noise_wrong_prologue_or_static)
{
	struct pair p;
	uint8_t m1[64], wrong_pk[32], wrong_sk[32];
	size_t n;

	/* Prologues differ by one byte. */
	pair_setup(&p);
	p.ic.prologue = (const uint8_t *)"net-a";
	p.ic.prologue_len = 5;
	p.rc.prologue = (const uint8_t *)"net-b";
	p.rc.prologue_len = 5;
	pair_init(&p);
	n = write_ok(&p.i, m1);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n, NULL, 0, NULL), -EBADMSG);

	/* Initiator holds a different responder key. */
	pair_setup(&p);
	randombytes_buf(wrong_sk, 32);
	crypto_scalarmult_curve25519_base(wrong_pk, wrong_sk);
	p.ic.remote_static_pk = wrong_pk;
	pair_init(&p);
	n = write_ok(&p.i, m1);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n, NULL, 0, NULL), -EBADMSG);
}
END_TEST

/* Every single-bit flip anywhere in msg2 must make the initiator refuse it. */
START_TEST(test_noise_tampered_msg2)
{
	struct pair p;
	uint8_t m1[64], m2[64];
	size_t n1, n2;

	for (size_t byte = 0; byte < NM_NOISE_HS_OVERHEAD; byte++) {
		pair_setup(&p);
		pair_init(&p);
		n1 = write_ok(&p.i, m1);
		ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n1, NULL, 0, NULL), 0);
		n2 = write_ok(&p.r, m2);
		/* Bit 7 of byte 31 is the one X25519 ignores: still caught through h. */
		m2[byte] ^= byte == 31 ? 0x80 : 0x01;
		ck_assert_msg(nm_noise_read_message(&p.i, m2, n2, NULL, 0, NULL) == -EBADMSG,
			      "flip in msg2 byte %zu accepted", byte);
		ck_assert_int_eq(p.i.step, NM_NOISE_FAILED);
	}
	/* Control: the untampered message goes through. */
	pair_setup(&p);
	pair_init(&p);
	n1 = write_ok(&p.i, m1);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n1, NULL, 0, NULL), 0);
	n2 = write_ok(&p.r, m2);
	ck_assert_int_eq(nm_noise_read_message(&p.i, m2, n2, NULL, 0, NULL), 0);
}
END_TEST

/* A low-order ephemeral makes the DH output all zero: refused before any MAC. */
START_TEST(test_noise_low_order_point)
{
	static const uint8_t orders[2][32] = { { 0 }, { 1 } }; /* u = 0 and u = 1 */
	struct pair p;
	uint8_t m1[64];
	size_t n;

	for (int k = 0; k < 2; k++) {
		pair_setup(&p);
		pair_init(&p);
		n = write_ok(&p.i, m1);
		memcpy(m1, orders[k], 32);
		ck_assert_int_eq(nm_noise_read_message(&p.r, m1, n, NULL, 0, NULL), -EKEYREJECTED);
		ck_assert_int_eq(p.r.step, NM_NOISE_FAILED);
	}
	/* The initiator refuses a low-order responder static up front. */
	pair_setup(&p);
	p.ic.remote_static_pk = orders[1];
	pair_init(&p);
	ck_assert_int_eq(nm_noise_write_message(&p.i, NULL, 0, m1, sizeof(m1), &n), -EKEYREJECTED);
}
END_TEST

START_TEST(test_noise_misuse)
{
	struct pair p;
	struct nm_noise_cipher a, b;
	uint8_t m[64], h[32], pl[8];
	size_t n, pn;

	pair_setup(&p);
	ck_assert_int_eq(nm_noise_init(NULL, &p.ic), -EINVAL);
	ck_assert_int_eq(nm_noise_init(&p.i, NULL), -EINVAL);
	p.ic.remote_static_pk = NULL;
	ck_assert_int_eq(nm_noise_init(&p.i, &p.ic), -EINVAL);
	p.ic.remote_static_pk = p.s_pk;
	p.rc.static_sk = NULL;
	ck_assert_int_eq(nm_noise_init(&p.r, &p.rc), -EINVAL);
	p.rc.static_sk = p.s_sk;
	p.rc.psk = NULL;
	ck_assert_int_eq(nm_noise_init(&p.r, &p.rc), -EINVAL);
	p.rc.psk = PSK;
	p.rc.role = (enum nm_noise_role)7;
	ck_assert_int_eq(nm_noise_init(&p.r, &p.rc), -EINVAL);
	p.rc.role = NM_NOISE_RESPONDER;
	pair_init(&p);

	/* Turns, and nothing final before the end. */
	ck_assert_int_eq(nm_noise_write_message(&p.r, NULL, 0, m, sizeof(m), &n), -EPROTO);
	ck_assert_int_eq(nm_noise_read_message(&p.i, m, 48, NULL, 0, NULL), -EPROTO);
	ck_assert_int_eq(nm_noise_handshake_hash(&p.i, h), -EPROTO);
	ck_assert_int_eq(nm_noise_split(&p.i, &a, &b), -EPROTO);
	ck_assert_int_eq(nm_noise_split_extra(&p.i, h), -EPROTO);

	/* Refusals before any crypto leave the state usable. */
	ck_assert_int_eq(nm_noise_write_message(&p.i, NULL, 0, m, 47, &n), -ENOSPC);
	ck_assert_int_eq(nm_noise_write_message(&p.i, pl, NM_NOISE_MAX_MSG, m, sizeof(m), &n),
			 -EMSGSIZE);
	ck_assert_int_eq(nm_noise_write_message(&p.i, NULL, 1, m, sizeof(m), &n), -EINVAL);
	ck_assert_int_eq(nm_noise_write_message(&p.i, pl, 3, m, sizeof(m), &n), 0);
	ck_assert_uint_eq(n, 51);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m, 47, pl, sizeof(pl), &pn), NM_EMALFORMED);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m, 51, pl, 2, &pn), -ENOSPC);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m, 51, NULL, 3, &pn), -EINVAL);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m, 51, pl, sizeof(pl), &pn), 0);
	ck_assert_uint_eq(pn, 3);
	/* Done: no third message, and the split directions must differ. */
	n = write_ok(&p.r, m);
	ck_assert_int_eq(nm_noise_read_message(&p.i, m, n, NULL, 0, NULL), 0);
	ck_assert_int_eq(nm_noise_write_message(&p.i, NULL, 0, m, sizeof(m), &n), -EPROTO);
	ck_assert_int_eq(nm_noise_split(&p.i, &a, &a), -EINVAL);
}
END_TEST

/* Secrets are gone as soon as the handshake no longer needs them. */
START_TEST(test_noise_wipes_secrets)
{
	struct pair p;
	uint8_t m[64];
	size_t n;

	pair_setup(&p);
	pair_init(&p);
	ck_assert(!all_zero(p.r.s_sk, 32) && !all_zero(p.i.psk, 32) && !all_zero(p.i.e_sk, 32));
	n = write_ok(&p.i, m);
	ck_assert_int_eq(nm_noise_read_message(&p.r, m, n, NULL, 0, NULL), 0);
	n = write_ok(&p.r, m);
	ck_assert_int_eq(nm_noise_read_message(&p.i, m, n, NULL, 0, NULL), 0);
	for (int s = 0; s < 2; s++) {
		struct nm_noise_hs *hs = s ? &p.r : &p.i;
		ck_assert(all_zero(hs->psk, 32) && all_zero(hs->e_sk, 32));
		ck_assert(all_zero(hs->s_sk, 32) && all_zero(&hs->cs, sizeof(hs->cs)));
		ck_assert(!all_zero(hs->ck, 32) && !all_zero(hs->h, 32));
		nm_noise_wipe(hs);
		ck_assert(all_zero(hs->ck, 32) && all_zero(hs->h, 32));
		ck_assert_int_eq(hs->step, NM_NOISE_FAILED);
	}
}
END_TEST

START_TEST(test_noise_cipher)
{
	struct nm_noise_cipher c, d;
	uint8_t key[32], buf[64], ref[64], nonce[12] = { 0 };
	unsigned long long rl;
	size_t n, pn;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	/* Nonce = 4 zero bytes || LE64(n), checked against libsodium directly. */
	nm_noise_cipher_init(&c, key);
	c.n = 0x0102030405060708ULL;
	ck_assert_int_eq(nm_noise_encrypt(&c, (const uint8_t *)"ad", 2, (const uint8_t *)"hello", 5,
					  buf, sizeof(buf), &n),
			 0);
	ck_assert_uint_eq(n, 21);
	ck_assert_uint_eq(c.n, 0x0102030405060709ULL);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(8 - i);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rl, (const uint8_t *)"hello", 5,
						  (const uint8_t *)"ad", 2, NULL, nonce, key);
	ck_assert_mem_eq(buf, ref, 21);

	/* A forgery does not burn a nonce; the real one then decrypts in place. */
	nm_noise_cipher_init(&d, key);
	d.n = 0x0102030405060708ULL;
	memcpy(buf, ref, n);
	buf[3] ^= 1;
	ck_assert_int_eq(nm_noise_decrypt(&d, (const uint8_t *)"ad", 2, buf, n, buf, sizeof(buf),
					  &pn),
			 -EBADMSG);
	ck_assert_uint_eq(d.n, 0x0102030405060708ULL);
	ck_assert(all_zero(buf, 5)); /* libsodium wipes the output of a failed open */
	memcpy(buf, ref, n);
	ck_assert_int_eq(nm_noise_decrypt(&d, (const uint8_t *)"ad", 2, buf, n, buf, sizeof(buf),
					  &pn),
			 0);
	ck_assert_uint_eq(pn, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_uint_eq(d.n, 0x0102030405060709ULL);

	/* Limits: the reserved nonce, Noise's 65535 bytes, short input, room. */
	c.n = UINT64_MAX;
	ck_assert_int_eq(nm_noise_encrypt(&c, NULL, 0, buf, 1, buf, sizeof(buf), &n), -EOVERFLOW);
	d.n = UINT64_MAX;
	ck_assert_int_eq(nm_noise_decrypt(&d, NULL, 0, ref, 21, buf, sizeof(buf), &pn),
			 -EOVERFLOW);
	c.n = 0;
	ck_assert_int_eq(nm_noise_encrypt(&c, NULL, 0, buf, NM_NOISE_MAX_MSG - 15, buf, 1u << 17,
					  &n),
			 -EMSGSIZE);
	ck_assert_int_eq(nm_noise_encrypt(&c, NULL, 0, buf, 10, buf, 25, &n), -ENOSPC);
	ck_assert_int_eq(nm_noise_decrypt(&c, NULL, 0, buf, 15, buf, sizeof(buf), &pn),
			 NM_EMALFORMED);
	ck_assert_int_eq(nm_noise_decrypt(&c, NULL, 0, ref, 21, buf, 4, &pn), -ENOSPC);
	ck_assert_uint_eq(c.n, 0);

	/* Without a key (Noise "empty k") bytes pass through. */
	struct nm_noise_cipher none = { .has_key = false };
	ck_assert_int_eq(nm_noise_encrypt(&none, NULL, 0, (const uint8_t *)"abc", 3, buf,
					  sizeof(buf), &n),
			 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(buf, "abc", 3);
	nm_noise_cipher_wipe(&c);
	ck_assert(all_zero(&c, sizeof(c)));
}
END_TEST

/* --------------------------------------------------------- Net handshake */

#define INIT_NODE 0x1111111122334455ULL
#define RESP_NODE 0xAAAAAAAA66778899ULL

/* The fixed keys of the Net vector below (Python reference). */
struct net_fixture {
	uint8_t rs_sk[32], rs_pk[32], ie_sk[32], re_sk[32];
	struct nm_hs_config ic, rc;
	struct nm_hs i, r;
};

static void net_setup(struct net_fixture *f, bool fixed)
{
	memset(f, 0, sizeof(*f));
	for (int k = 0; k < 32; k++) {
		f->rs_sk[k] = (uint8_t)(0x10 + k);
		f->ie_sk[k] = (uint8_t)(0x50 + 3 * k);
		f->re_sk[k] = (uint8_t)(0x90 + 5 * k);
	}
	crypto_scalarmult_curve25519_base(f->rs_pk, f->rs_sk);
	f->ic = (struct nm_hs_config){ .initiator = true, .local_node_id = INIT_NODE,
				       .peer_node_id = RESP_NODE, .psk = PSK,
				       .peer_static_pk = f->rs_pk,
				       .fixed_ephemeral_sk = fixed ? f->ie_sk : NULL };
	f->rc = (struct nm_hs_config){ .initiator = false, .local_node_id = RESP_NODE,
				       .peer_node_id = INIT_NODE, .psk = PSK,
				       .static_sk = f->rs_sk,
				       .fixed_ephemeral_sk = fixed ? f->re_sk : NULL };
}

/* Run both messages through the packet framing; return the last rc of the reader. */
static int net_run(struct net_fixture *f, struct nm_session_keys *ik, struct nm_session_keys *rk)
{
	uint8_t msg[64], pkt[NM_HS_PKT_LEN];
	const uint8_t *m;
	size_t n, pn, ml;
	int rc;

	ck_assert_int_eq(nm_hs_init(&f->i, &f->ic), 0);
	ck_assert_int_eq(nm_hs_init(&f->r, &f->rc), 0);
	ck_assert_int_eq(nm_hs_write(&f->i, NULL, 0, msg, sizeof(msg), &n), 0);
	ck_assert_int_eq(nm_hs_pkt_encode(msg, n, pkt, sizeof(pkt), &pn), 0);
	ck_assert_uint_eq(pn, NM_HS_PKT_LEN);
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, pn, &m, &ml, NULL), 0);
	rc = nm_hs_read(&f->r, m, ml, NULL, 0, NULL);
	if (rc < 0)
		return rc;
	ck_assert_int_eq(nm_hs_write(&f->r, NULL, 0, msg, sizeof(msg), &n), 0);
	ck_assert_int_eq(nm_hs_pkt_encode(msg, n, pkt, sizeof(pkt), &pn), 0);
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, pn, &m, &ml, NULL), 0);
	rc = nm_hs_read(&f->i, m, ml, NULL, 0, NULL);
	if (rc < 0)
		return rc;
	ck_assert(nm_hs_is_done(&f->i) && nm_hs_is_done(&f->r));
	ck_assert_int_eq(nm_hs_finish(&f->i, ik), 0);
	ck_assert_int_eq(nm_hs_finish(&f->r, rk), 0);
	return 0;
}

static void assert_mirrored(const struct nm_session_keys *i, const struct nm_session_keys *r)
{
	ck_assert_uint_eq(i->session_id, r->session_id);
	ck_assert_uint_eq(i->prefix, r->prefix);
	ck_assert_uint_eq(i->prefix, nm_session_prefix(i->session_id));
	ck_assert(i->initiator && !r->initiator);
	ck_assert_mem_eq(i->tx, r->rx, 32);
	ck_assert_mem_eq(i->rx, r->tx, 32);
	ck_assert_mem_eq(i->route_hop_tx, r->route_hop_rx, 32);
	ck_assert_mem_eq(i->route_hop_rx, r->route_hop_tx, 32);
	/* Four distinct keys per side. */
	ck_assert_mem_ne(i->tx, i->rx, 32);
	ck_assert_mem_ne(i->tx, i->route_hop_tx, 32);
	ck_assert_mem_ne(i->route_hop_tx, i->route_hop_rx, 32);
}

START_TEST(test_hs_prologue)
{
	uint8_t p[NM_HS_PROLOGUE_LEN];

	/* Only the low 32 bits of each node_id, widened to LE64. */
	nm_hs_prologue(INIT_NODE, RESP_NODE, p);
	ck_assert_hex(p, "6e65742d68616e647368616b652d763155443322000000009988776600000000");
	ck_assert_uint_eq(nm_routing_id(RESP_NODE), 0x66778899u);
}
END_TEST

START_TEST(test_net_kdf_vectors)
{
	uint8_t h[32], out[32];
	struct nm_session_keys i, r;

	for (int k = 0; k < 32; k++)
		h[k] = (uint8_t)(0xa0 + k);
	ck_assert_int_eq(nm_net_kdf(h, 32, "initiator-tx", out), 0);
	ck_assert_hex(out, "5b6003d496565946d45cedd40229a7ef70409c0ac682f824fab5a3fd9b1d75f6");
	ck_assert_int_eq(nm_session_keys_from_hash(h, true, &i), 0);
	ck_assert_int_eq(nm_session_keys_from_hash(h, false, &r), 0);
	ck_assert_hex(i.tx, "5b6003d496565946d45cedd40229a7ef70409c0ac682f824fab5a3fd9b1d75f6");
	ck_assert_hex(i.rx, "65f9bebbac4560aa5bd57977565da925b8dae588bc27047ee1692919c4f09be3");
	ck_assert_hex(i.route_hop_tx,
		      "c94e45462ceab021e8d5b95cccb1dc7c939c75ed13bc5494fc8c8ce73c2b25fe");
	ck_assert_hex(i.route_hop_rx,
		      "ea55cc54f485e4d8afcd2cda4f8bcacd895b72bc451039e6dc7299a25c6d1849");
	ck_assert_uint_eq(i.session_id, 0xa7a6a5a4a3a2a1a0ULL);
	ck_assert_uint_eq(i.prefix, 0xa7a6a5a4u ^ 0xa3a2a1a0u);
	ck_assert(!i.split);
	assert_mirrored(&i, &r);
	/* keyed BLAKE2s, not HMAC: the two must not agree. */
	uint8_t prk[32], hm[32];
	ck_assert_int_eq(nm_hmac_blake2s(prk, h, 32, "net-kdf-v1", 10), 0);
	ck_assert_int_eq(nm_hmac_blake2s(hm, prk, 32, "initiator-tx", 12), 0);
	ck_assert_mem_ne(hm, i.tx, 32);
	ck_assert_int_eq(nm_net_kdf(h, 0, "x", out), -EINVAL);
	ck_assert_int_eq(nm_net_kdf(h, 33, "x", out), -EINVAL);
	ck_assert_int_eq(nm_net_kdf(h, 32, NULL, out), -EINVAL);
	nm_session_keys_wipe(&i);
	ck_assert(all_zero(&i, sizeof(i)));
}
END_TEST

/* The whole Net handshake with fixed keys, against the Python reference. */
START_TEST(test_hs_vector)
{
	struct net_fixture f;
	struct nm_session_keys ik, rk;
	uint8_t m1[64], m2[64];
	size_t n;

	net_setup(&f, true);
	ck_assert_int_eq(nm_hs_init(&f.i, &f.ic), 0);
	ck_assert_int_eq(nm_hs_init(&f.r, &f.rc), 0);
	ck_assert_int_eq(nm_hs_write(&f.i, NULL, 0, m1, sizeof(m1), &n), 0);
	ck_assert_uint_eq(n, NM_HS_MSG_LEN);
	ck_assert_hex(m1, "8ac22a2a78909f0dea8fa40786ccbb6a70aac78322adbb73ffa77f890c1493546f6cfe0a"
			  "f97e188f3a0052b8cd4e5b64");
	ck_assert_int_eq(nm_hs_read(&f.r, m1, n, NULL, 0, NULL), 0);
	ck_assert_int_eq(nm_hs_write(&f.r, NULL, 0, m2, sizeof(m2), &n), 0);
	ck_assert_uint_eq(n, NM_HS_MSG_LEN);
	ck_assert_hex(m2, "b9b570a45aca51f539e66c45dafd68b1f8c9c0e406194c94a2ade3c924964a10ee4436e2"
			  "c1a12f1ef30db3b39bcd16da");
	ck_assert_int_eq(nm_hs_read(&f.i, m2, n, NULL, 0, NULL), 0);
	ck_assert_hex(f.i.noise.h,
		      "818fd2c2889af5117e1031c8696fd96cc79d8d5f797d1108b485013abb4b3c2c");

	ck_assert_int_eq(nm_hs_finish(&f.i, &ik), 0);
	ck_assert_int_eq(nm_hs_finish(&f.r, &rk), 0);
	ck_assert_uint_eq(ik.session_id, 0x11f59a88c2d28f81ULL);
	ck_assert_uint_eq(ik.prefix, 0xd3271509u);
	ck_assert_hex(ik.tx, "4cfdbd45195629fea187a74a0a001c083c798d0547488b632ec6ebd14154d581");
	ck_assert_hex(ik.rx, "38856769c3cdac9183a0dd2be119ca11a701fada4ae2a6c85de6047778290330");
	ck_assert_hex(ik.route_hop_tx,
		      "b4b81a95746609d467e78499a169739c485e2e0004cf0a63746663f96b2d1370");
	ck_assert_hex(ik.route_hop_rx,
		      "f7f3b0c9f6e78303242ba68e98456e0651c99c894fc5ff7d1deb7280669505eb");
	assert_mirrored(&ik, &rk);
	/* finish wiped the handshake state. */
	ck_assert(all_zero(&f.i.noise, offsetof(struct nm_noise_hs, role)));
	ck_assert_int_eq(nm_hs_finish(&f.i, &ik), -EPROTO);
}
END_TEST

START_TEST(test_hs_random_ephemerals_mirror)
{
	struct net_fixture f;
	struct nm_session_keys ik, rk, ik2, rk2;

	net_setup(&f, false);
	ck_assert_int_eq(net_run(&f, &ik, &rk), 0);
	assert_mirrored(&ik, &rk);
	/* Fresh ephemerals: a second session shares nothing with the first. */
	net_setup(&f, false);
	ck_assert_int_eq(net_run(&f, &ik2, &rk2), 0);
	assert_mirrored(&ik2, &rk2);
	ck_assert_uint_ne(ik.session_id, ik2.session_id);
	ck_assert_mem_ne(ik.tx, ik2.tx, 32);
}
END_TEST

START_TEST(test_hs_split_option)
{
	struct net_fixture f;
	struct nm_session_keys ik, rk, uk, urk;

	net_setup(&f, true);
	ck_assert_int_eq(net_run(&f, &uk, &urk), 0);
	net_setup(&f, true);
	f.ic.use_split = f.rc.use_split = true;
	ck_assert_int_eq(net_run(&f, &ik, &rk), 0);
	ck_assert(ik.split && rk.split);
	assert_mirrored(&ik, &rk);
	/* Split() keys: initiator tx = c1; route-hop keys from HKDF output 3. */
	ck_assert_hex(ik.tx, "7109a0e79db76a30f0b83a70c5256b043f1077e124175a7fe2d83f4523e1179b");
	ck_assert_hex(ik.rx, "f557f4168c043554956c91e5e91c75cd21a608ca2011d969c04d08717279edef");
	ck_assert_hex(ik.route_hop_tx,
		      "4e2bab2eada9829def1bdfd3dfdc30cc8519f1948d5a5363217446b163484281");
	ck_assert_hex(ik.route_hop_rx,
		      "7f6e46ac0068529a8eb17ad95e2f8ea8751798ed5182fd6d124f89b519d42be8");
	/* Same transcript, same public session_id; every secret differs from upstream's. */
	ck_assert_uint_eq(ik.session_id, uk.session_id);
	ck_assert_mem_ne(ik.tx, uk.tx, 32);
	ck_assert_mem_ne(ik.rx, uk.rx, 32);
	ck_assert_mem_ne(ik.route_hop_tx, uk.route_hop_tx, 32);
	ck_assert_mem_ne(ik.route_hop_rx, uk.route_hop_rx, 32);
	/* One side split, the other not: the handshake completes but keys disagree. */
	net_setup(&f, true);
	f.ic.use_split = true;
	ck_assert_int_eq(net_run(&f, &ik, &rk), 0);
	ck_assert_mem_ne(ik.tx, rk.rx, 32);
}
END_TEST

START_TEST(test_hs_wrong_psk_peer_or_key)
{
	struct net_fixture f;
	struct nm_session_keys ik, rk;
	uint8_t psk2[32], pk2[32], sk2[32];

	net_setup(&f, false);
	memcpy(psk2, PSK, 32);
	psk2[0] ^= 0x80;
	f.rc.psk = psk2;
	ck_assert_int_eq(net_run(&f, &ik, &rk), -EBADMSG);
	ck_assert_int_eq(f.r.noise.step, NM_NOISE_FAILED);

	/* The responder expects another initiator: prologue mismatch. Only the
	 * low 32 bits count, so a difference up there must still pass. */
	net_setup(&f, false);
	f.rc.peer_node_id = INIT_NODE ^ 1;
	ck_assert_int_eq(net_run(&f, &ik, &rk), -EBADMSG);
	net_setup(&f, false);
	f.rc.peer_node_id = INIT_NODE ^ (1ULL << 40);
	ck_assert_int_eq(net_run(&f, &ik, &rk), 0);

	/* The initiator pinned another static key. */
	net_setup(&f, false);
	randombytes_buf(sk2, 32);
	crypto_scalarmult_curve25519_base(pk2, sk2);
	f.ic.peer_static_pk = pk2;
	ck_assert_int_eq(net_run(&f, &ik, &rk), -EBADMSG);
}
END_TEST

START_TEST(test_hs_tampered_msg2)
{
	struct net_fixture f;
	uint8_t m1[64], m2[64], pkt[NM_HS_PKT_LEN];
	const uint8_t *m;
	size_t n, pn, ml;

	for (size_t at = NM_NET_HDR_SIZE; at < NM_HS_PKT_LEN; at += 7) {
		net_setup(&f, false);
		ck_assert_int_eq(nm_hs_init(&f.i, &f.ic), 0);
		ck_assert_int_eq(nm_hs_init(&f.r, &f.rc), 0);
		ck_assert_int_eq(nm_hs_write(&f.i, NULL, 0, m1, sizeof(m1), &n), 0);
		ck_assert_int_eq(nm_hs_read(&f.r, m1, n, NULL, 0, NULL), 0);
		ck_assert_int_eq(nm_hs_write(&f.r, NULL, 0, m2, sizeof(m2), &n), 0);
		ck_assert_int_eq(nm_hs_pkt_encode(m2, n, pkt, sizeof(pkt), &pn), 0);
		pkt[at] ^= 0x04;
		ck_assert_int_eq(nm_hs_pkt_decode(pkt, pn, &m, &ml, NULL), 0);
		ck_assert_int_eq(nm_hs_read(&f.i, m, ml, NULL, 0, NULL), -EBADMSG);
		ck_assert(!nm_hs_is_done(&f.i));
	}
}
END_TEST

/* Routed msg1 carries LE64(initiator node_id); the direct reader refuses it intact. */
START_TEST(test_hs_routed_payload)
{
	struct net_fixture f;
	uint8_t pl[8], m1[64], got[8];
	size_t n, pn;

	net_setup(&f, true);
	nm_put_le64(pl, INIT_NODE);
	ck_assert_int_eq(nm_hs_init(&f.i, &f.ic), 0);
	ck_assert_int_eq(nm_hs_init(&f.r, &f.rc), 0);
	ck_assert_int_eq(nm_hs_write(&f.i, pl, 8, m1, sizeof(m1), &n), 0);
	ck_assert_uint_eq(n, 56);
	ck_assert_hex(m1, "8ac22a2a78909f0dea8fa40786ccbb6a70aac78322adbb73ffa77f890c149354be887629"
			  "63283116225345229f29dc2a483f9c7c39733ba9");
	ck_assert_int_eq(nm_hs_read(&f.r, m1, n, NULL, 0, NULL), -ENOSPC);
	ck_assert_int_eq(nm_hs_read(&f.r, m1, n, got, sizeof(got), &pn), 0);
	ck_assert_uint_eq(pn, 8);
	ck_assert_uint_eq(nm_get_le64(got), INIT_NODE);
}
END_TEST

START_TEST(test_hs_pkt_framing)
{
	uint8_t msg[NM_HS_MSG_LEN], pkt[NM_HS_PKT_LEN + 8], big[NM_NET_MAX_PAYLOAD + 1];
	const uint8_t *m;
	size_t n, ml;
	enum nm_drop why = NM_DROP_NONE;

	for (size_t k = 0; k < sizeof(msg); k++)
		msg[k] = (uint8_t)(0xc0 + k);
	ck_assert_int_eq(nm_hs_pkt_encode(msg, sizeof(msg), pkt, sizeof(pkt), &n), 0);
	ck_assert_uint_eq(n, 116);
	/* "EN", version 1, flags HANDSHAKE, payload_len 48 at 64; everything else 0. */
	ck_assert_hex(pkt, "454e0110");
	for (size_t k = 4; k < NM_NET_HDR_SIZE; k++)
		if (k != 64)
			ck_assert_msg(pkt[k] == 0, "header byte %zu = %u", k, pkt[k]);
	ck_assert_uint_eq(pkt[64], 48);
	ck_assert_mem_eq(pkt + NM_NET_HDR_SIZE, msg, sizeof(msg));

	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n, &m, &ml, &why), 0);
	ck_assert_ptr_eq(m, pkt + NM_NET_HDR_SIZE);
	ck_assert_uint_eq(ml, 48);
	/* Bytes past payload_len are not part of the message. */
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n + 8, &m, &ml, &why), 0);
	ck_assert_uint_eq(ml, 48);

	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n - 1, &m, &ml, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_NET_TRUNCATED);
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, 40, &m, &ml, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_NET_SHORT);
	pkt[0] ^= 0xff;
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n, &m, &ml, &why), NM_EMALFORMED);
	ck_assert_int_eq(why, NM_DROP_NET_MAGIC);
	pkt[0] ^= 0xff;
	pkt[3] = NM_FLAG_HEARTBEAT;
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n, &m, &ml, &why), -ENOMSG);
	ck_assert_int_eq(nm_hs_pkt_decode(pkt, n, NULL, &ml, &why), -EINVAL);

	ck_assert_int_eq(nm_hs_pkt_encode(msg, sizeof(msg), pkt, 115, &n), -ENOSPC);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(nm_hs_pkt_encode(big, sizeof(big), big, sizeof(big), &n), -EMSGSIZE);
	ck_assert_int_eq(nm_hs_pkt_encode(NULL, 0, pkt, sizeof(pkt), &n), -EINVAL);
}
END_TEST

/* --------------------------------------------------------------- key files */

struct tmp {
	char root[64];
	char dir[96];
	char id[128];
	char nk[128];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/nm_keys_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->root));
	snprintf(t->dir, sizeof(t->dir), "%s/keys", t->root);
	snprintf(t->id, sizeof(t->id), "%s/" NM_KEYS_IDENTITY_FILE, t->dir);
	snprintf(t->nk, sizeof(t->nk), "%s/" NM_KEYS_NOISE_FILE, t->dir);
}

static void tmp_clean(struct tmp *t)
{
	unlink(t->id);
	unlink(t->nk);
	rmdir(t->dir);
	rmdir(t->root);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static void write_file(const char *path, const void *b, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

START_TEST(test_keys_create_and_reload)
{
	struct tmp t;
	struct nm_keys a, b;
	struct nm_error err;
	uint8_t pk[32], raw[33];

	tmp_make(&t);
	/* Exact modes whatever the umask: this one would strip owner bits (forked test). */
	umask(0277);
	ck_assert_int_eq(nm_keys_load_or_create(&a, t.dir, &err), 0);
	ck_assert(a.created_identity && a.created_noise);
	ck_assert_uint_eq(mode_of(t.dir), 0700);
	ck_assert_uint_eq(mode_of(t.id), 0600);
	ck_assert_uint_eq(mode_of(t.nk), 0600);
	/* The files hold the raw secrets; the derived values follow from them. */
	int fd = open(t.nk, O_RDONLY);
	ck_assert_int_eq(read(fd, raw, sizeof(raw)), 32);
	close(fd);
	ck_assert_mem_eq(raw, a.noise_sk, 32);
	crypto_scalarmult_curve25519_base(pk, a.noise_sk);
	ck_assert_mem_eq(pk, a.noise_pk, 32);
	fd = open(t.id, O_RDONLY);
	ck_assert_int_eq(read(fd, raw, sizeof(raw)), 32);
	close(fd);
	ck_assert_mem_eq(raw, nm_identity_seed(&a.identity), 32);
	ck_assert_uint_eq(a.identity.node_id, nm_node_id_of(nm_identity_entity_id(&a.identity)));
	ck_assert(!all_zero(a.noise_sk, 32));
	ck_assert_mem_ne(a.noise_sk, nm_identity_seed(&a.identity), 32);

	ck_assert_int_eq(nm_keys_load_or_create(&b, t.dir, &err), 0);
	ck_assert(!b.created_identity && !b.created_noise);
	ck_assert_mem_eq(b.noise_sk, a.noise_sk, 32);
	ck_assert_mem_eq(b.noise_pk, a.noise_pk, 32);
	ck_assert_mem_eq(b.identity.sk, a.identity.sk, 64);
	ck_assert_uint_eq(b.identity.node_id, a.identity.node_id);

	/* Only noise.key missing: the identity is kept, a new static is made. */
	ck_assert_int_eq(unlink(t.nk), 0);
	ck_assert_int_eq(nm_keys_load_or_create(&b, t.dir, &err), 0);
	ck_assert(!b.created_identity && b.created_noise);
	ck_assert_mem_eq(b.identity.sk, a.identity.sk, 64);
	ck_assert_mem_ne(b.noise_sk, a.noise_sk, 32);
	nm_keys_wipe(&a);
	ck_assert(all_zero(&a, sizeof(a)));
	tmp_clean(&t);
}
END_TEST

START_TEST(test_keys_refuse_bad_files)
{
	struct tmp t;
	struct nm_keys k;
	struct nm_error err;
	uint8_t buf[33] = { 1 };

	tmp_make(&t);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), 0);

	/* Wrong length, both ways; the message names the file. */
	write_file(t.nk, buf, 31, 0600);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), NM_EMALFORMED);
	ck_assert_ptr_nonnull(strstr(err.msg, t.nk));
	ck_assert_ptr_nonnull(strstr(err.msg, "31 bytes"));
	ck_assert(all_zero(&k, sizeof(k)));
	write_file(t.nk, buf, 33, 0600);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), NM_EMALFORMED);
	write_file(t.nk, buf, 32, 0600);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), 0);

	/* Any group/other bit on a file. */
	static const mode_t bad[] = { 0640, 0604, 0610, 0601, 0660 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(chmod(t.id, bad[i]), 0);
		ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), -EPERM);
		ck_assert_ptr_nonnull(strstr(err.msg, t.id));
		ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
	}
	ck_assert_int_eq(chmod(t.id, 0400), 0); /* read-only for the owner is fine */
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), 0);
	ck_assert_int_eq(chmod(t.id, 0600), 0);

	/* A group/other-writable directory. */
	ck_assert_int_eq(chmod(t.dir, 0770), 0);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), -EPERM);
	ck_assert_int_eq(chmod(t.dir, 0755), 0);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), 0);

	/* A symlink in place of a key file, and a key file that is a directory. */
	ck_assert_int_eq(unlink(t.nk), 0);
	ck_assert_int_eq(symlink(t.id, t.nk), 0);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "symlink"));
	ck_assert_int_eq(unlink(t.nk), 0);
	ck_assert_int_eq(mkdir(t.nk, 0700), 0);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, &err), -EINVAL);
	ck_assert_int_eq(rmdir(t.nk), 0);

	/* The key "directory" is a file; a missing parent; NULL. */
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.id, &err), -EINVAL);
	char deep[160];
	snprintf(deep, sizeof(deep), "%s/no/such", t.root);
	ck_assert_int_eq(nm_keys_load_or_create(&k, deep, &err), -ENOENT);
	ck_assert_int_eq(nm_keys_load_or_create(NULL, t.dir, &err), -EINVAL);
	ck_assert_int_eq(nm_keys_load_or_create(&k, "", NULL), -EINVAL);
	tmp_clean(&t);
}
END_TEST

START_TEST(test_keys_show_identity)
{
	struct tmp t;
	struct nm_keys k;
	char out[NM_KEYS_SHOW_MAX], want[NM_KEYS_SHOW_MAX], ent[65], nk[65];

	tmp_make(&t);
	ck_assert_int_eq(nm_keys_load_or_create(&k, t.dir, NULL), 0);
	ck_assert_int_eq(nm_keys_format_identity(&k, out, sizeof(out)), 0);
	for (int i = 0; i < 32; i++) {
		snprintf(ent + 2 * i, 3, "%02x", nm_identity_entity_id(&k.identity)[i]);
		snprintf(nk + 2 * i, 3, "%02x", k.noise_pk[i]);
	}
	snprintf(want, sizeof(want), "node_id %016" PRIx64 "\nentity_id %s\nnoise_static_pub %s\n",
		 k.identity.node_id, ent, nk);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(nm_keys_format_identity(&k, out, strlen(want)), -ENOSPC);
	ck_assert_int_eq(nm_keys_format_identity(&k, out, strlen(want) + 1), 0);
	ck_assert_int_eq(nm_keys_format_identity(NULL, out, sizeof(out)), -EINVAL);
	tmp_clean(&t);
}
END_TEST

/* ---------------------------------------------------------------------- main */

static Suite *noise_suite(void)
{
	Suite *s = suite_create("noise");
	TCase *tc;

	tc = tcase_create("blake2s");
	tcase_add_test(tc, test_blake2s_known_answers);
	tcase_add_test(tc, test_blake2s_bad_input);
	tcase_add_test(tc, test_identity_hash_uses_shared_keyed);
	tcase_add_test(tc, test_hmac_blake2s_vectors);
	tcase_add_test(tc, test_noise_hkdf);
	suite_add_tcase(s, tc);

	tc = tcase_create("noise");
	tcase_add_test(tc, test_noise_vector);
	tcase_add_test(tc, test_noise_wrong_psk);
	tcase_add_test(tc, test_noise_wrong_prologue_or_static);
	tcase_add_test(tc, test_noise_tampered_msg2);
	tcase_add_test(tc, test_noise_low_order_point);
	tcase_add_test(tc, test_noise_misuse);
	tcase_add_test(tc, test_noise_wipes_secrets);
	tcase_add_test(tc, test_noise_cipher);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_hs_prologue);
	tcase_add_test(tc, test_net_kdf_vectors);
	tcase_add_test(tc, test_hs_vector);
	tcase_add_test(tc, test_hs_random_ephemerals_mirror);
	tcase_add_test(tc, test_hs_split_option);
	tcase_add_test(tc, test_hs_wrong_psk_peer_or_key);
	tcase_add_test(tc, test_hs_tampered_msg2);
	tcase_add_test(tc, test_hs_routed_payload);
	tcase_add_test(tc, test_hs_pkt_framing);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_keys_create_and_reload);
	tcase_add_test(tc, test_keys_refuse_bad_files);
	tcase_add_test(tc, test_keys_show_identity);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int nf;

	vector_path = argc > 1 ? argv[1] : getenv("NM_NOISE_VECTOR");
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(noise_suite());
	/* Pure tests: a crash is one failed test, not a dead runner. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}

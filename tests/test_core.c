/* SPDX-License-Identifier: MIT */
/* test_core.c - Check suite for the pure compute core (no EAL). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <xxhash.h>

#include "netmesh.h"

/* ---------------------------------------------------------------- helpers */

/* The seed-000 brute-force scheme: i as LE u64 in bytes 0..8, zeros elsewhere. */
static void seed_of(uint64_t i, uint8_t seed[NM_SEED_LEN])
{
	memset(seed, 0, NM_SEED_LEN);
	for (int b = 0; b < 8; b++)
		seed[b] = (uint8_t)(i >> (8 * b));
}

static void identity_of(uint64_t i, struct nm_identity *id)
{
	uint8_t seed[NM_SEED_LEN];
	seed_of(i, seed);
	ck_assert_int_eq(nm_identity_from_seed(id, seed), 0);
}

static void hex_decode(const char *hex, uint8_t *out, size_t n)
{
	ck_assert_uint_eq(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t salt)
{
	uint32_t x = 0x9e3779b9u ^ salt;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Independent LE encoding of a link, byte by byte. */
static void link_bytes_ref(const struct nm_causal_link *l, uint8_t out[32])
{
	const uint64_t f[4] = { l->origin_hash, l->horizon_encoded, l->sequence, l->parent_hash };
	for (int w = 0; w < 4; w++)
		for (int b = 0; b < 8; b++)
			out[8 * w + b] = (uint8_t)(f[w] >> (8 * b));
}

/* xxh3(link bytes || payload), from an explicitly concatenated buffer. */
static uint64_t parent_ref(const struct nm_causal_link *l, const void *payload, size_t len)
{
	uint8_t *buf = malloc(32 + len);
	ck_assert_ptr_nonnull(buf);
	link_bytes_ref(l, buf);
	if (len)
		memcpy(buf + 32, payload, len);
	uint64_t h = XXH3_64bits(buf, 32 + len);
	free(buf);
	return h;
}

static bool link_eq(const struct nm_causal_link *a, const struct nm_causal_link *b)
{
	return a->origin_hash == b->origin_hash && a->horizon_encoded == b->horizon_encoded &&
	       a->sequence == b->sequence && a->parent_hash == b->parent_hash;
}

static uint64_t now_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Write `n` bytes to a fresh temp file; returns its malloc'd path. */
static char *temp_file(const void *data, size_t n)
{
	char *path = strdup("/tmp/nm_test_XXXXXX");
	ck_assert_ptr_nonnull(path);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

/* ---------------------------------------------------------------- identity */

static const struct {
	const char *pubkey;
	uint64_t origin_hash;
	uint64_t node_id;
} id_vectors[] = {
	{ "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
	  0x87482e2f287f5d52ull, 0x2a22743fee3e433dull },
	{ "cecc1507dc1ddd7295951c290888f095adb9044d1b73d696e6df065d683bd4fc",
	  0xa13603fc3c91c36dull, 0x5e6492606ee068e2ull },
	{ "6b79c57e6a095239282c04818e96112f3f03a4001ba97a564c23852a3f1ea5fc",
	  0xd5ee6f1f96fb4673ull, 0x749a2c8dd58f7a58ull },
};

START_TEST(test_identity_vectors)
{
	struct nm_identity id;
	uint8_t want[32], seed[32];

	identity_of((uint64_t)_i, &id);
	hex_decode(id_vectors[_i].pubkey, want, 32);
	ck_assert_mem_eq(nm_identity_entity_id(&id), want, 32);
	seed_of((uint64_t)_i, seed);
	ck_assert_mem_eq(nm_identity_seed(&id), seed, 32);
	ck_assert_uint_eq(id.origin_hash, id_vectors[_i].origin_hash);
	ck_assert_uint_eq(id.node_id, id_vectors[_i].node_id);
	ck_assert_uint_eq(nm_origin_hash_of(want), id_vectors[_i].origin_hash);
	ck_assert_uint_eq(nm_node_id_of(want), id_vectors[_i].node_id);
}
END_TEST

START_TEST(test_identity_collision_pair)
{
	struct nm_identity a, b;

	identity_of(13515, &a);
	identity_of(23655, &b);
	ck_assert_uint_eq(a.origin_hash, 0xf5f7738522141808ull);
	ck_assert_uint_eq(b.origin_hash, 0xc63a3ade22141808ull);
	ck_assert_uint_eq((uint32_t)a.origin_hash, (uint32_t)b.origin_hash);
	ck_assert(!nm_entity_id_equal(nm_identity_entity_id(&a), nm_identity_entity_id(&b)));
	ck_assert(nm_entity_id_equal(nm_identity_entity_id(&a), nm_identity_entity_id(&a)));
}
END_TEST

START_TEST(test_identity_sign_verify)
{
	struct nm_identity a, b;
	uint8_t sig[NM_SIGNATURE_LEN];
	uint8_t msg[] = "net compute";

	identity_of(1, &a);
	identity_of(2, &b);
	ck_assert_int_eq(nm_identity_sign(&a, msg, sizeof(msg), sig), 0);
	ck_assert(nm_identity_verify(nm_identity_entity_id(&a), msg, sizeof(msg), sig));
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&b), msg, sizeof(msg), sig));
	msg[0] ^= 1;
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&a), msg, sizeof(msg), sig));
	msg[0] ^= 1;
	sig[10] ^= 0x80;
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&a), msg, sizeof(msg), sig));

	/* Empty message, passed as NULL. */
	ck_assert_int_eq(nm_identity_sign(&a, NULL, 0, sig), 0);
	ck_assert(nm_identity_verify(nm_identity_entity_id(&a), NULL, 0, sig));
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&a), msg, 1, sig));
}
END_TEST

START_TEST(test_identity_generate_and_wipe)
{
	struct nm_identity a, b;
	uint8_t sig[NM_SIGNATURE_LEN];
	static const uint8_t zero[64];

	ck_assert_int_eq(nm_identity_generate(&a), 0);
	ck_assert_int_eq(nm_identity_generate(&b), 0);
	ck_assert(!nm_entity_id_equal(nm_identity_entity_id(&a), nm_identity_entity_id(&b)));
	ck_assert_uint_eq(a.origin_hash, nm_origin_hash_of(nm_identity_entity_id(&a)));
	ck_assert_int_eq(nm_identity_sign(&a, "x", 1, sig), 0);
	ck_assert(nm_identity_verify(nm_identity_entity_id(&a), "x", 1, sig));

	nm_identity_wipe(&a);
	ck_assert_mem_eq(a.sk, zero, sizeof(a.sk));
}
END_TEST

START_TEST(test_blake2s_keyed)
{
	/* The identity hash is this function with the origin label. */
	uint8_t pk[32];
	hex_decode(id_vectors[0].pubkey, pk, 32);
	ck_assert_uint_eq(nm_blake2s_keyed_u64("net-origin-v1", pk, 32), id_vectors[0].origin_hash);
	ck_assert_uint_ne(nm_blake2s_keyed_u64("net-origin-v2", pk, 32), id_vectors[0].origin_hash);
	/* Keys over 32 bytes are invalid: 0, not a crash. */
	ck_assert_uint_eq(nm_blake2s_keyed_u64("0123456789abcdef0123456789abcdef!", pk, 32), 0);
	ck_assert_uint_eq(nm_blake2s_keyed_u64("k", NULL, 5), 0);
	ck_assert_uint_ne(nm_blake2s_keyed_u64("k", NULL, 0), 0);
}
END_TEST

START_TEST(test_identity_from_file_raw)
{
	struct nm_identity f, s;
	uint8_t seed[32];

	seed_of(2, seed);
	seed[31] = '\n'; /* raw bytes are never trimmed */
	char *path = temp_file(seed, 32);
	ck_assert_int_eq(nm_identity_from_file(&f, path, NULL), 0);
	ck_assert_int_eq(nm_identity_from_seed(&s, seed), 0);
	ck_assert_mem_eq(f.sk, s.sk, 64);
	ck_assert_uint_eq(f.origin_hash, s.origin_hash);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_identity_from_file_hex)
{
	struct nm_identity f;
	const char *text[] = {
		"0100000000000000000000000000000000000000000000000000000000000000\n",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000 \r\n\t",
	};
	for (size_t i = 0; i < 3; i++) {
		char *path = temp_file(text[i], strlen(text[i]));
		memset(&f, 0, sizeof(f));
		ck_assert_int_eq(nm_identity_from_file(&f, path, NULL), 0);
		ck_assert_uint_eq(f.origin_hash, id_vectors[1].origin_hash);
		unlink(path);
		free(path);
	}
	/* Upper-case hex decodes to the same seed. */
	const char *upper = "ABCDEF0000000000000000000000000000000000000000000000000000000000\n";
	uint8_t seed[32] = { 0xab, 0xcd, 0xef };
	struct nm_identity s;
	char *path = temp_file(upper, strlen(upper));
	ck_assert_int_eq(nm_identity_from_file(&f, path, NULL), 0);
	ck_assert_int_eq(nm_identity_from_seed(&s, seed), 0);
	ck_assert_mem_eq(f.sk, s.sk, 64);
	unlink(path);
	free(path);
}
END_TEST

static void expect_malformed_file(const void *data, size_t n)
{
	struct nm_identity f;
	struct nm_error err;

	nm_error_clear(&err);
	char *path = temp_file(data, n);
	ck_assert_int_eq(nm_identity_from_file(&f, path, &err), NM_EMALFORMED);
	ck_assert_int_eq(err.code, NM_EMALFORMED);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(nm_identity_from_file(&f, path, NULL), NM_EMALFORMED);
	unlink(path);
	free(path);
}

START_TEST(test_identity_from_file_bad)
{
	uint8_t raw[300];
	memset(raw, 'a', sizeof(raw));
	expect_malformed_file(raw, 31);  /* bad length */
	expect_malformed_file(raw, 33);
	expect_malformed_file(raw, 0);   /* empty */
	expect_malformed_file(raw, 63);  /* one hex digit short */
	expect_malformed_file(raw, 66);
	expect_malformed_file(raw, 300); /* longer than any seed file */

	const char *bad_hex = "zz00000000000000000000000000000000000000000000000000000000000000\n";
	expect_malformed_file(bad_hex, strlen(bad_hex));
	const char *lead_ws = " 00000000000000000000000000000000000000000000000000000000000000\n";
	expect_malformed_file(lead_ws, strlen(lead_ws));
}
END_TEST

START_TEST(test_identity_from_file_io)
{
	struct nm_identity f;
	struct nm_error err;

	nm_error_clear(&err);
	ck_assert_int_eq(nm_identity_from_file(&f, "/nonexistent/nm-seed", &err), -ENOENT);
	ck_assert_int_eq(err.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/nm-seed"));
	ck_assert_int_eq(nm_identity_from_file(&f, "/tmp", NULL), -EISDIR);
}
END_TEST

/* ---------------------------------------------------------------- causal */

START_TEST(test_link_bytes_vector)
{
	struct nm_causal_link l = { 0x0102030405060708ull, 0x1112131415161718ull,
				    0x2122232425262728ull, 0x3132333435363738ull };
	static const uint8_t want[32] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
		0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
		0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
	};
	uint8_t out[40];
	struct nm_causal_link back;

	memset(out, 0xee, sizeof(out));
	nm_link_to_bytes(&l, out);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(out[i], want[i]);
	ck_assert_uint_eq(out[32], 0xee); /* writes exactly 32 bytes */

	ck_assert_int_eq(nm_link_from_bytes(&back, out, 40), 0); /* extra bytes ignored */
	ck_assert(link_eq(&back, &l));
	ck_assert_int_eq(nm_link_from_bytes(&back, out, 31), -EINVAL);
	ck_assert_int_eq(nm_link_from_bytes(&back, out, 0), -EINVAL);
}
END_TEST

START_TEST(test_link_genesis)
{
	struct nm_causal_link g = nm_link_genesis(0xabc, 7);
	ck_assert_uint_eq(g.origin_hash, 0xabc);
	ck_assert_uint_eq(g.horizon_encoded, 7);
	ck_assert(nm_link_is_genesis(&g));
	g.sequence = 1;
	ck_assert(!nm_link_is_genesis(&g));
	g.sequence = 0;
	g.parent_hash = 1;
	ck_assert(!nm_link_is_genesis(&g));
}
END_TEST

static const size_t hash_sizes[] = { 0, 1, 31, 32, 33, 63, 64, 65, 223, 224, 225, 1024, 8192 };

START_TEST(test_parent_hash_stream_vs_oneshot)
{
	struct nm_causal_link l = { 0xdeadbeefcafef00dull, 0x55, 42, 0x1234 };
	size_t n = hash_sizes[_i];
	uint8_t *payload = malloc(n + 1);

	ck_assert_ptr_nonnull(payload);
	fill_pattern(payload, n, (uint32_t)n);
	ck_assert_uint_eq(nm_parent_hash(&l, payload, n), parent_ref(&l, payload, n));
	free(payload);
}
END_TEST

START_TEST(test_chain_first_append)
{
	struct nm_chain c;
	struct nm_causal_link out;
	uint8_t genesis[32];

	nm_chain_init(&c, 0xabcdef);
	ck_assert_uint_eq(c.head.origin_hash, 0xabcdef);
	ck_assert(nm_link_is_genesis(&c.head));
	ck_assert_uint_eq(c.head.horizon_encoded, 0);

	struct nm_causal_link g = nm_link_genesis(0xabcdef, 0);
	link_bytes_ref(&g, genesis);
	ck_assert_int_eq(nm_chain_append(&c, "ping", 4, 0x77, &out), 0);
	ck_assert_uint_eq(out.sequence, 1);
	ck_assert_uint_eq(out.origin_hash, 0xabcdef);
	ck_assert_uint_eq(out.horizon_encoded, 0x77);
	ck_assert_uint_eq(out.parent_hash, XXH3_64bits(genesis, 32));
	ck_assert(link_eq(&c.head, &out));
	ck_assert_uint_eq(c.next_parent, parent_ref(&out, "ping", 4));

	/* Second link hashes the first link and its payload. */
	struct nm_causal_link second;
	ck_assert_int_eq(nm_chain_append(&c, "pong", 4, 0, &second), 0);
	ck_assert_uint_eq(second.sequence, 2);
	ck_assert_uint_eq(second.parent_hash, parent_ref(&out, "ping", 4));
}
END_TEST

START_TEST(test_chain_validate_100)
{
	struct nm_chain c;
	struct nm_causal_link prev, next;
	uint8_t prev_payload[200], payload[200];
	size_t prev_len = 0;

	nm_chain_init(&c, 0x1111);
	prev = c.head;
	for (uint32_t i = 0; i < 100; i++) {
		size_t len = (i * 37) % sizeof(payload);
		fill_pattern(payload, len, i);
		ck_assert_int_eq(nm_chain_append(&c, payload, len, i, &next), 0);
		ck_assert_uint_eq(next.sequence, i + 1);

		struct nm_chain_error e = { NM_CHAIN_PARENT_MISMATCH, 1, 1 };
		ck_assert_int_eq(nm_chain_validate(&prev, prev_payload, prev_len, &next, &e),
				 NM_CHAIN_OK);
		ck_assert_int_eq(e.kind, NM_CHAIN_OK);

		prev = next;
		memcpy(prev_payload, payload, len);
		prev_len = len;
	}
	ck_assert_uint_eq(c.head.sequence, 100);
}
END_TEST

static void expect_verdict(const struct nm_causal_link *prev, const void *pp, size_t pl,
			   const struct nm_causal_link *next, enum nm_chain_verdict want,
			   const char *text)
{
	struct nm_chain_error e;
	char buf[160];

	ck_assert_int_eq(nm_chain_validate(prev, pp, pl, next, &e), want);
	ck_assert_int_eq(e.kind, want);
	int n = nm_chain_error_format(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, text);
	ck_assert_int_eq(n, (int)strlen(text));
	ck_assert_int_eq(nm_chain_validate(prev, pp, pl, next, NULL), want); /* e optional */
}

START_TEST(test_chain_validate_errors)
{
	struct nm_chain c;
	struct nm_causal_link prev, next, bad;
	char want[160];

	nm_chain_init(&c, 0xabc);
	ck_assert_int_eq(nm_chain_append(&c, "one", 3, 0, &prev), 0);
	ck_assert_int_eq(nm_chain_append(&c, "two", 3, 0, &next), 0);
	expect_verdict(&prev, "one", 3, &next, NM_CHAIN_OK, "ok");

	bad = next;
	bad.origin_hash = 0;
	expect_verdict(&prev, "one", 3, &bad, NM_CHAIN_ORIGIN_MISMATCH,
		       "origin mismatch: expected 0xabc, got 0x0");
	bad.sequence = 5; /* origin is checked first */
	expect_verdict(&prev, "one", 3, &bad, NM_CHAIN_ORIGIN_MISMATCH,
		       "origin mismatch: expected 0xabc, got 0x0");

	bad = next;
	bad.sequence = 5;
	expect_verdict(&prev, "one", 3, &bad, NM_CHAIN_SEQUENCE_GAP,
		       "sequence gap: expected 2, got 5");

	bad = next;
	bad.parent_hash = 0xdeadbeef;
	snprintf(want, sizeof(want), "parent hash mismatch: expected 0x%" PRIx64 ", got 0xdeadbeef",
		 parent_ref(&prev, "one", 3));
	expect_verdict(&prev, "one", 3, &bad, NM_CHAIN_PARENT_MISMATCH, want);
	/* The right link with the wrong previous payload is a parent mismatch too. */
	ck_assert_int_eq(nm_chain_validate(&prev, "onE", 3, &next, NULL), NM_CHAIN_PARENT_MISMATCH);

	/* horizon is not validated. */
	bad = next;
	bad.horizon_encoded ^= 0xffff;
	ck_assert_int_eq(nm_chain_validate(&prev, "one", 3, &bad, NULL), NM_CHAIN_OK);

	/* Nothing follows UINT64_MAX: upstream reports expected = u64::MAX. */
	struct nm_causal_link top = { 0xabc, 0, UINT64_MAX, 0 };
	bad = top;
	bad.sequence = 0;
	expect_verdict(&top, NULL, 0, &bad, NM_CHAIN_SEQUENCE_GAP,
		       "sequence gap: expected 18446744073709551615, got 0");

	/* Formatting into a short buffer truncates but reports the full length. */
	struct nm_chain_error e = { NM_CHAIN_SEQUENCE_GAP, 2, 5 };
	char small[8];
	ck_assert_int_eq(nm_chain_error_format(&e, small, sizeof(small)), 31);
	ck_assert_str_eq(small, "sequenc");
	ck_assert_int_eq(nm_chain_error_format(&e, NULL, 0), 31);
}
END_TEST

START_TEST(test_chain_overflow)
{
	struct nm_chain c, before;
	struct nm_causal_link top = { 0x42, 9, UINT64_MAX, 0x77 }, out, next;

	nm_chain_from_head(&c, &top, "p", 1);
	before = c;
	memset(&out, 0x5a, sizeof(out));
	ck_assert_int_eq(nm_chain_append(&c, "q", 1, 0, &out), -EOVERFLOW);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	ck_assert_uint_eq(out.sequence, 0x5a5a5a5a5a5a5a5aull); /* not written */
	ck_assert_int_eq(nm_link_next(&top, "p", 1, 0, &next), -EOVERFLOW);

	/* One below the top still works. */
	top.sequence = UINT64_MAX - 1;
	nm_chain_from_head(&c, &top, "p", 1);
	ck_assert_int_eq(nm_chain_append(&c, "q", 1, 0, &out), 0);
	ck_assert_uint_eq(out.sequence, UINT64_MAX);
	ck_assert_int_eq(nm_chain_append(&c, "r", 1, 0, &out), -EOVERFLOW);
}
END_TEST

START_TEST(test_chain_from_head)
{
	struct nm_chain a, b;
	struct nm_causal_link la, lb;
	uint64_t last = 0;

	nm_chain_init(&a, 0x99);
	for (uint64_t i = 1; i <= 5; i++) {
		last = i;
		ck_assert_int_eq(nm_chain_append(&a, &last, sizeof(last), 0, &la), 0);
	}
	struct nm_causal_link head5 = a.head;
	nm_chain_from_head(&b, &head5, &last, sizeof(last));
	ck_assert(link_eq(&b.head, &head5));
	ck_assert_uint_eq(b.next_parent, a.next_parent);
	ck_assert_int_eq(nm_chain_append(&a, "six", 3, 1, &la), 0);
	ck_assert_int_eq(nm_chain_append(&b, "six", 3, 1, &lb), 0);
	ck_assert(link_eq(&la, &lb));
	ck_assert_uint_eq(lb.sequence, 6);
	ck_assert_uint_eq(lb.parent_hash, parent_ref(&head5, &last, sizeof(last)));

	/* A wrong head payload gives a different continuation. */
	nm_chain_from_head(&b, &la, "SIX", 3);
	ck_assert_uint_ne(b.next_parent, a.next_parent);
}
END_TEST

START_TEST(test_link_next)
{
	struct nm_chain c;
	struct nm_causal_link head, via_next, via_chain;

	nm_chain_init(&c, 5);
	ck_assert_int_eq(nm_chain_append(&c, "abc", 3, 0, &head), 0);
	ck_assert_int_eq(nm_link_next(&head, "abc", 3, 8, &via_next), 0);
	ck_assert_int_eq(nm_chain_append(&c, "zzz", 3, 8, &via_chain), 0);
	ck_assert(link_eq(&via_next, &via_chain));
	ck_assert_uint_eq(via_next.parent_hash, parent_ref(&head, "abc", 3));
}
END_TEST

/* The parent hash is XXH3-64 of link bytes || payload, byte for byte the library's
 * (nm_causal inlines xxhash.h), on both sides of the one-shot/streaming split. */
START_TEST(test_parent_hash_is_library_xxh3)
{
	static uint8_t buf[NM_CAUSAL_LINK_SIZE + 600];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	struct nm_causal_link l = { 0x0102030405060708ull, 0x1112131415161718ull,
				    0x2122232425262728ull, 0x3132333435363738ull };
	nm_link_to_bytes(&l, buf);
	for (size_t len = 0; len <= 600; len++)
		ck_assert_uint_eq(nm_parent_hash(&l, buf + NM_CAUSAL_LINK_SIZE, len),
				  XXH3_64bits(buf, NM_CAUSAL_LINK_SIZE + len));
}
END_TEST

/* ---------------------------------------------------------------- framing */

static void make_events(struct nm_event *ev, uint8_t payloads[3][100])
{
	static const uint32_t lens[3] = { 0, 5, 100 };
	for (int i = 0; i < 3; i++) {
		fill_pattern(payloads[i], 100, (uint32_t)i);
		struct nm_causal_link l = { 0x1000u + (uint64_t)i, 0x2000u + (uint64_t)i,
					    (uint64_t)i + 1, 0x3000u + (uint64_t)i };
		ev[i].link = l;
		ev[i].payload = payloads[i];
		ev[i].len = lens[i];
		ev[i].received_at = 0;
	}
}

START_TEST(test_frame_roundtrip)
{
	struct nm_event ev[3], back[8];
	uint8_t payloads[3][100], buf[512];
	struct nm_frame_stats st;
	size_t consumed;

	make_events(ev, payloads);
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), ev, 3, &st), 0);
	ck_assert_uint_eq(st.events_written, 3);
	ck_assert_uint_eq(st.events_skipped, 0);
	ck_assert_uint_eq(st.bytes_written, 3 * 36 + 0 + 5 + 100);
	/* First record: LE32 total_len = 32, then the link. */
	ck_assert_uint_eq(buf[0], 32);
	ck_assert_uint_eq(buf[1] | buf[2] | buf[3], 0);
	uint8_t lb[32];
	link_bytes_ref(&ev[0].link, lb);
	ck_assert_mem_eq(buf + 4, lb, 32);
	ck_assert_uint_eq(buf[36], 37); /* second record's total_len */

	ck_assert_uint_eq(nm_causal_read(buf, st.bytes_written, 10, back, 8, 1234, &consumed), 3);
	ck_assert_uint_eq(consumed, st.bytes_written);
	for (int i = 0; i < 3; i++) {
		ck_assert(link_eq(&back[i].link, &ev[i].link));
		ck_assert_uint_eq(back[i].len, ev[i].len);
		ck_assert_mem_eq(back[i].payload, ev[i].payload, ev[i].len);
		ck_assert_uint_eq(back[i].received_at, 1234);
	}
	/* count and max both bound the parse. */
	ck_assert_uint_eq(nm_causal_read(buf, st.bytes_written, 2, back, 8, 0, &consumed), 2);
	ck_assert_uint_eq(consumed, 36 + 41);
	ck_assert_uint_eq(nm_causal_read(buf, st.bytes_written, 10, back, 1, 0, &consumed), 1);
	ck_assert_uint_eq(consumed, 36);
}
END_TEST

START_TEST(test_frame_read_malformed)
{
	struct nm_event ev[3], back[8];
	uint8_t payloads[3][100], buf[512];
	struct nm_frame_stats st;
	size_t consumed, good;

	make_events(ev, payloads);
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), ev, 2, &st), 0);
	good = st.bytes_written;

	/* total_len < 32 */
	buf[good] = 31;
	buf[good + 1] = buf[good + 2] = buf[good + 3] = 0;
	memset(buf + good + 4, 0, 40);
	ck_assert_uint_eq(nm_causal_read(buf, good + 44, 10, back, 8, 0, &consumed), 2);
	ck_assert_uint_eq(consumed, good);

	/* total_len > remaining */
	buf[good] = 41; /* 41 > 40 bytes left after the header */
	ck_assert_uint_eq(nm_causal_read(buf, good + 44, 10, back, 8, 0, &consumed), 2);
	ck_assert_uint_eq(consumed, good);
	buf[good] = 40; /* exactly the remainder: accepted */
	ck_assert_uint_eq(nm_causal_read(buf, good + 44, 10, back, 8, 0, &consumed), 3);
	ck_assert_uint_eq(back[2].len, 8);

	/* a huge total_len must not wrap the bounds check */
	buf[good] = buf[good + 1] = buf[good + 2] = buf[good + 3] = 0xff;
	ck_assert_uint_eq(nm_causal_read(buf, good + 44, 10, back, 8, 0, &consumed), 2);

	/* fewer than 4 bytes left */
	ck_assert_uint_eq(nm_causal_read(buf, good + 3, 10, back, 8, 0, &consumed), 2);
	ck_assert_uint_eq(consumed, good);

	/* first record malformed: nothing */
	ck_assert_uint_eq(nm_causal_read(buf, 20, 10, back, 8, 0, &consumed), 0);
	ck_assert_uint_eq(consumed, 0);
}
END_TEST

START_TEST(test_frame_write_full)
{
	struct nm_event ev[4];
	uint8_t payloads[3][100], buf[512];
	struct nm_frame_stats st;

	make_events(ev, payloads);
	/* Room for the first two records (36 + 41) but not the third (136). */
	ck_assert_int_eq(nm_causal_write(buf, 36 + 41 + 135, ev, 3, &st), 0);
	ck_assert_uint_eq(st.events_written, 2);
	ck_assert_uint_eq(st.events_skipped, 0);
	ck_assert_uint_eq(st.bytes_written, 77);
	ck_assert_int_eq(nm_causal_write(buf, 0, ev, 3, &st), 0);
	ck_assert_uint_eq(st.events_written, 0);
	ck_assert_uint_eq(st.bytes_written, 0);

	/* An event whose total_len overflows u32 is skipped (its payload is never read). */
	ev[3] = ev[2];
	ev[2].len = UINT32_MAX - 31;
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), ev, 4, &st), 0);
	ck_assert_uint_eq(st.events_written, 3);
	ck_assert_uint_eq(st.events_skipped, 1);
	ck_assert_uint_eq(st.bytes_written, 36 + 41 + 136);
	ev[2].len = UINT32_MAX - 32; /* largest length that still fits */
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), ev, 4, &st), 0);
	ck_assert_uint_eq(st.events_written, 2);
	ck_assert_uint_eq(st.events_skipped, 0);
}
END_TEST

/* ---------------------------------------------------------------- horizon */

/* Straight from compute.md §4, written independently of nm_horizon.c. */
static uint64_t horizon_bits_ref(uint64_t origin)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(origin >> (8 * i));
	uint64_t h = XXH3_64bits(le, 8);
	uint32_t h1 = (uint32_t)(h & 0xffffffffu);
	uint32_t h2 = (uint32_t)(h >> 32) | 1u;
	uint64_t bits = 0;
	for (uint32_t k = 0; k < 3; k++)
		bits |= 1ull << ((uint32_t)(h1 + k * h2) % 64u);
	return bits;
}

START_TEST(test_horizon_empty_and_one)
{
	struct nm_horizon h;

	nm_horizon_init(&h);
	ck_assert_uint_eq(h.encoded, 0);
	nm_horizon_observe(&h, 0xEEEE);
	ck_assert_uint_ne(h.encoded, 0);
	int bits = __builtin_popcountll(h.encoded);
	ck_assert(bits >= 1 && bits <= 3);
	ck_assert_uint_eq(h.encoded, horizon_bits_ref(0xEEEE));
	ck_assert(nm_horizon_might_contain(h.encoded, 0xEEEE));
	ck_assert(!nm_horizon_might_contain(0, 0xEEEE));
}
END_TEST

START_TEST(test_horizon_bits_match_reference)
{
	uint64_t x = 0x0123456789abcdefull;
	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t b = nm_horizon_bits(x);
		ck_assert_uint_eq(b, horizon_bits_ref(x));
		ck_assert_int_eq(__builtin_popcountll(b), 3); /* h2 odd: always 3 distinct */
	}
	ck_assert_uint_eq(nm_horizon_bits(0), horizon_bits_ref(0));
	ck_assert_uint_eq(nm_horizon_bits(UINT64_MAX), horizon_bits_ref(UINT64_MAX));
}
END_TEST

START_TEST(test_horizon_no_false_negatives)
{
	struct nm_horizon h;
	uint64_t origins[1000];

	nm_horizon_init(&h);
	for (int i = 0; i < 1000; i++) {
		origins[i] = 0xa5a5000000000000ull ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
		nm_horizon_observe(&h, origins[i]);
		ck_assert(nm_horizon_might_contain(h.encoded, origins[i]));
	}
	for (int i = 0; i < 1000; i++)
		ck_assert(nm_horizon_might_contain(h.encoded, origins[i]));
}
END_TEST

START_TEST(test_horizon_concurrency)
{
	uint64_t oa = 0x1111, ob = 0x2222;
	uint64_t ha = 0, hb = 0;

	ck_assert(nm_horizon_potentially_concurrent(ha, ob, hb, oa));
	ha = nm_horizon_bits(ob); /* A has seen B */
	ck_assert(!nm_horizon_potentially_concurrent(ha, ob, hb, oa));
	ha = 0;
	hb = nm_horizon_bits(oa); /* B has seen A */
	ck_assert(!nm_horizon_potentially_concurrent(ha, ob, hb, oa));
	/* Each side only saw itself: concurrent unless the blooms alias (checked first). */
	ha = nm_horizon_bits(oa);
	hb = nm_horizon_bits(ob);
	ck_assert_uint_ne(ha & horizon_bits_ref(ob), horizon_bits_ref(ob));
	ck_assert_uint_ne(hb & horizon_bits_ref(oa), horizon_bits_ref(oa));
	ck_assert(nm_horizon_potentially_concurrent(ha, ob, hb, oa));
	/* Once A's horizon includes B, they are ordered. */
	ha |= nm_horizon_bits(ob);
	ck_assert(!nm_horizon_potentially_concurrent(ha, ob, hb, oa));
}
END_TEST

START_TEST(test_horizon_observe_cache)
{
	struct nm_horizon h;
	uint64_t a = 0x1234, b = 0x5678;

	nm_horizon_init(&h);
	nm_horizon_observe(&h, a);
	nm_horizon_observe(&h, a);
	ck_assert_uint_eq(h.encoded, horizon_bits_ref(a));
	nm_horizon_observe(&h, b);
	ck_assert_uint_eq(h.encoded, horizon_bits_ref(a) | horizon_bits_ref(b));
	ck_assert_uint_eq(h.last_origin, b);
	nm_horizon_observe(&h, a);
	ck_assert_uint_eq(h.encoded, horizon_bits_ref(a) | horizon_bits_ref(b));
	ck_assert_uint_eq(h.last_origin, a);

	/* Origin 0 on a fresh horizon matches the zeroed cache but must still count. */
	nm_horizon_init(&h);
	nm_horizon_observe(&h, 0);
	ck_assert_uint_eq(h.encoded, horizon_bits_ref(0));
}
END_TEST

/* ---------------------------------------------------------------- snapshot */

static struct nm_snapshot *counter_snapshot(const struct nm_identity *id, uint64_t seq,
					    uint64_t count)
{
	struct nm_causal_link head = { id->origin_hash, 0x55, seq, 0xfeed };
	uint8_t state[8];
	for (int i = 0; i < 8; i++)
		state[i] = (uint8_t)(count >> (8 * i));
	struct nm_snapshot *s =
		nm_snapshot_new(nm_identity_entity_id(id), &head, state, sizeof(state), NULL, 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void set_envelope(struct nm_snapshot *s)
{
	s->has_envelope = true;
	fill_pattern(s->envelope, sizeof(s->envelope), 77);
	s->envelope[0] = NM_IDENTITY_ENVELOPE_VERSION;
}

/* Encode into a malloc'd buffer of exactly the wire size. */
static uint8_t *encode_all(const struct nm_snapshot *s, size_t *len)
{
	size_t n = nm_snapshot_wire_size(s), w = 0;
	uint8_t *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, n, &w), 0);
	ck_assert_uint_eq(w, n);
	*len = n;
	return buf;
}

static void expect_decode_fail(const void *buf, size_t len, const char *msg_part)
{
	struct nm_snapshot *out = (struct nm_snapshot *)&out; /* poison: must become NULL */
	struct nm_error err;

	nm_error_clear(&err);
	ck_assert_int_eq(nm_snapshot_decode(buf, len, &out, &err), NM_EMALFORMED);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(err.code, NM_EMALFORMED);
	ck_assert_msg(strncmp(err.msg, "snapshot: ", 10) == 0, "message: %s", err.msg);
	if (msg_part)
		ck_assert_msg(strstr(err.msg, msg_part) != NULL, "message '%s' lacks '%s'",
			      err.msg, msg_part);
}

START_TEST(test_snapshot_roundtrip)
{
	struct nm_identity id;
	uint8_t state[300], bindings[13];
	struct nm_causal_link head;
	struct nm_snapshot *s, *d;
	size_t len;

	identity_of(0, &id);
	head = (struct nm_causal_link){ id.origin_hash, 0x1234, 17, 0xabcdef };
	fill_pattern(state, sizeof(state), 1);
	fill_pattern(bindings, sizeof(bindings), 2);
	uint64_t t0 = now_realtime_ns();
	s = nm_snapshot_new(nm_identity_entity_id(&id), &head, state, sizeof(state), bindings,
			    sizeof(bindings));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->version, 2);
	ck_assert_uint_eq(s->through_seq, 17);
	ck_assert_uint_ge(s->created_at, t0);
	ck_assert_uint_le(s->created_at, now_realtime_ns());
	s->horizon_encoded = 0x99;
	set_envelope(s);

	uint8_t *buf = encode_all(s, &len);
	ck_assert_uint_eq(len, 94 + 300 + 13 + 209);
	ck_assert_int_eq(nm_snapshot_decode(buf, len, &d, NULL), 0);
	ck_assert_uint_eq(d->version, 2);
	ck_assert_mem_eq(d->entity_id, s->entity_id, 32);
	ck_assert_uint_eq(d->through_seq, 17);
	ck_assert(link_eq(&d->chain_link, &head));
	ck_assert_uint_eq(d->created_at, s->created_at);
	ck_assert_uint_eq(d->state_len, sizeof(state));
	ck_assert_mem_eq(d->state, state, sizeof(state));
	ck_assert_uint_eq(d->bindings_len, sizeof(bindings));
	ck_assert_mem_eq(d->bindings, bindings, sizeof(bindings));
	ck_assert(d->has_envelope);
	ck_assert_mem_eq(d->envelope, s->envelope, sizeof(s->envelope));
	ck_assert_uint_eq(d->horizon_encoded, 0); /* not on the wire */

	/* dup copies everything into its own block. */
	struct nm_snapshot *c = nm_snapshot_dup(s);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(c->state, s->state);
	ck_assert_mem_eq(c->state, state, sizeof(state));
	ck_assert_mem_eq(c->bindings, bindings, sizeof(bindings));
	ck_assert_uint_eq(c->horizon_encoded, 0x99);
	ck_assert_uint_eq(c->created_at, s->created_at);
	ck_assert_mem_eq(c->envelope, s->envelope, sizeof(s->envelope));
	nm_snapshot_free(s);
	ck_assert_mem_eq(c->state, state, sizeof(state)); /* independent of s */

	nm_snapshot_free(c);
	nm_snapshot_free(d);
	nm_snapshot_free(NULL);
	free(buf);
}
END_TEST

START_TEST(test_snapshot_counter_layout)
{
	struct nm_identity id;
	struct nm_snapshot *s, *d;
	size_t len;

	identity_of(1, &id);
	s = counter_snapshot(&id, 5, 5);
	uint8_t *buf = encode_all(s, &len);
	ck_assert_uint_eq(len, 102);
	ck_assert_mem_eq(buf, "CDS1", 4);
	ck_assert_uint_eq(buf[4], 2);
	ck_assert_mem_eq(buf + 5, nm_identity_entity_id(&id), 32);
	ck_assert_uint_eq(buf[37], 5); /* through_seq LE */
	for (int i = 38; i < 45; i++)
		ck_assert_uint_eq(buf[i], 0);
	uint8_t lb[32];
	link_bytes_ref(&s->chain_link, lb);
	ck_assert_mem_eq(buf + 45, lb, 32);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(buf[77 + i], (uint8_t)(s->created_at >> (8 * i)));
	ck_assert_uint_eq(buf[85], 8); /* state_len */
	ck_assert_uint_eq(buf[86] | buf[87] | buf[88], 0);
	ck_assert_uint_eq(buf[89], 5); /* state = count LE */
	ck_assert_uint_eq(buf[97] | buf[98] | buf[99] | buf[100], 0); /* bindings_len */
	ck_assert_uint_eq(buf[101], 0); /* no envelope: last byte 0 */
	ck_assert_int_eq(nm_snapshot_decode(buf, len, &d, NULL), 0);
	ck_assert(!d->has_envelope);
	nm_snapshot_free(d);
	free(buf);

	set_envelope(s);
	buf = encode_all(s, &len);
	ck_assert_uint_eq(len, 311);
	ck_assert_uint_eq(buf[101], 1);
	ck_assert_uint_eq(buf[102], NM_IDENTITY_ENVELOPE_VERSION);
	ck_assert_mem_eq(buf + 102, s->envelope, 209);
	free(buf);
	nm_snapshot_free(s);
}
END_TEST

START_TEST(test_snapshot_decode_truncations)
{
	struct nm_identity id;
	uint8_t bindings[5] = { 1, 2, 3, 4, 5 };
	size_t len;

	identity_of(2, &id);
	struct nm_causal_link head = { id.origin_hash, 0, 3, 9 };
	struct nm_snapshot *s =
		nm_snapshot_new(nm_identity_entity_id(&id), &head, "abcdefgh", 8, bindings, 5);
	ck_assert_ptr_nonnull(s);
	set_envelope(s);
	uint8_t *buf = encode_all(s, &len);

	expect_decode_fail(buf, 10, "truncated");
	for (size_t n = 0; n < len; n++) {
		/* Copy, so a read past n would be caught by sanitizers / valgrind. */
		uint8_t *cut = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(cut);
		memcpy(cut, buf, n);
		expect_decode_fail(cut, n, "truncated");
		free(cut);
	}
	expect_decode_fail(NULL, 0, "truncated");
	free(buf);
	nm_snapshot_free(s);
}
END_TEST

START_TEST(test_snapshot_decode_rejects)
{
	struct nm_identity id, other;
	struct nm_snapshot *s;
	size_t len;

	identity_of(0, &id);
	identity_of(1, &other);
	s = counter_snapshot(&id, 5, 5);
	uint8_t *buf = encode_all(s, &len);
	uint8_t *big = malloc(len + 1);
	ck_assert_ptr_nonnull(big);

	memcpy(big, buf, len);
	big[len] = 0;
	expect_decode_fail(big, len + 1, "snapshot: trailing bytes (1)");

	memcpy(big, buf, len);
	big[4] = 0xFE;
	expect_decode_fail(big, len, "version 254");
	big[4] = 1;
	expect_decode_fail(big, len, "version 1");

	memcpy(big, buf, len);
	big[0] = 'X';
	expect_decode_fail(big, len, "magic");

	memcpy(big, buf, len);
	big[len - 1] = 2;
	expect_decode_fail(big, len, "envelope flag 2");

	/* sequence != through_seq */
	memcpy(big, buf, len);
	big[37] = 6;
	expect_decode_fail(big, len, "through_seq");

	/* entity_id whose origin_hash is not chain_link.origin_hash */
	memcpy(big, buf, len);
	memcpy(big + 5, nm_identity_entity_id(&other), 32);
	expect_decode_fail(big, len, "origin_hash");
	free(big);
	free(buf);

	/* Envelope present but its version byte is not 1. */
	set_envelope(s);
	buf = encode_all(s, &len);
	buf[102] = 0;
	expect_decode_fail(buf, len, "envelope version 0");
	buf[102] = 2;
	expect_decode_fail(buf, len, "envelope version 2");
	buf[102] = 1;
	struct nm_snapshot *d;
	ck_assert_int_eq(nm_snapshot_decode(buf, len, &d, NULL), 0);
	nm_snapshot_free(d);
	free(buf);

	/* A state_len claiming more than the input is truncation, not a huge alloc. */
	s->has_envelope = false;
	buf = encode_all(s, &len);
	buf[85] = buf[86] = buf[87] = buf[88] = 0xff;
	expect_decode_fail(buf, len, "state");
	free(buf);
	nm_snapshot_free(s);
}
END_TEST

START_TEST(test_snapshot_encode_nospc)
{
	struct nm_identity id;
	uint8_t buf[400];
	size_t w = 99;

	identity_of(0, &id);
	struct nm_snapshot *s = counter_snapshot(&id, 0, 0);
	ck_assert_uint_eq(nm_snapshot_wire_size(s), 102);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, 101, &w), -ENOSPC);
	ck_assert_uint_eq(w, 0);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, 0, NULL), -ENOSPC);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, 102, &w), 0);
	ck_assert_uint_eq(w, 102);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, sizeof(buf), NULL), 0);
	set_envelope(s);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, 310, &w), -ENOSPC);
	nm_snapshot_free(s);
}
END_TEST

/* ---------------------------------------------------------------- capability */

START_TEST(test_capability_match)
{
	struct nm_capability_set set = { 0 };
	struct nm_capability_filter f = { 0 };

	ck_assert(nm_capability_matches(&f, &set));
	ck_assert(nm_capability_matches(NULL, &set));
	ck_assert(nm_capability_matches(NULL, NULL));
	ck_assert(nm_capability_matches(&f, NULL));

	ck_assert_int_eq(nm_capability_filter_require_tag(&f, "gpu-node"), 0);
	ck_assert_int_eq(nm_capability_filter_require_tag(&f, "subprotocol:0x0500"), 0);
	ck_assert(!nm_capability_matches(&f, &set));
	ck_assert(!nm_capability_matches(&f, NULL));
	ck_assert_int_eq(nm_capability_set_add_tag(&set, "gpu-node"), 0);
	ck_assert(!nm_capability_matches(&f, &set)); /* all tags are required */
	ck_assert_int_eq(nm_capability_set_add_tag(&set, "extra"), 0);
	ck_assert_int_eq(nm_capability_set_add_tag(&set, "subprotocol:0x0500"), 0);
	ck_assert(nm_capability_matches(&f, &set));
	ck_assert(nm_capability_set_has_tag(&set, "extra"));
	ck_assert(!nm_capability_set_has_tag(&set, "extr"));

	f.min_memory_gb = 16;
	set.memory_gb = 8;
	ck_assert(!nm_capability_matches(&f, &set));
	set.memory_gb = 16;
	ck_assert(nm_capability_matches(&f, &set));

	f.require_gpu = true;
	ck_assert(!nm_capability_matches(&f, &set));
	set.has_gpu = true;
	ck_assert(nm_capability_matches(&f, &set));
	/* A GPU node still satisfies a filter that does not ask for one. */
	f.require_gpu = false;
	ck_assert(nm_capability_matches(&f, &set));
}
END_TEST

START_TEST(test_capability_tags)
{
	struct nm_capability_set set = { 0 };
	char name[40];

	ck_assert_int_eq(nm_capability_set_add_tag(&set, NULL), -EINVAL);
	ck_assert_int_eq(nm_capability_set_add_tag(&set, ""), -EINVAL);
	ck_assert_int_eq(nm_capability_set_add_tag(NULL, "a"), -EINVAL);
	memset(name, 'x', 32);
	name[32] = 0;
	ck_assert_int_eq(nm_capability_set_add_tag(&set, name), -EINVAL); /* 32 bytes */
	name[31] = 0;
	ck_assert_int_eq(nm_capability_set_add_tag(&set, name), 0); /* 31 bytes */
	ck_assert(nm_capability_set_has_tag(&set, name));
	ck_assert_int_eq(nm_capability_set_add_tag(&set, name), 0); /* duplicate kept once */
	ck_assert_uint_eq(set.n_tags, 1);
	for (int i = 1; i < NM_CAP_MAX_TAGS; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		ck_assert_int_eq(nm_capability_set_add_tag(&set, name), 0);
	}
	ck_assert_uint_eq(set.n_tags, NM_CAP_MAX_TAGS);
	ck_assert_int_eq(nm_capability_set_add_tag(&set, "one-more"), -ENOSPC);
	ck_assert_int_eq(nm_capability_set_add_tag(&set, "t3"), 0); /* present: no space needed */
	ck_assert_uint_eq(set.n_tags, NM_CAP_MAX_TAGS);

	struct nm_capability_filter f = { 0 };
	ck_assert_int_eq(nm_capability_filter_require_tag(NULL, "a"), -EINVAL);
	ck_assert_int_eq(nm_capability_filter_require_tag(&f, ""), -EINVAL);
	for (int i = 0; i < NM_CAP_MAX_TAGS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(nm_capability_filter_require_tag(&f, name), 0);
	}
	ck_assert_int_eq(nm_capability_filter_require_tag(&f, "r9"), -ENOSPC);
	ck_assert(!nm_capability_set_has_tag(NULL, "a"));
	ck_assert(!nm_capability_set_has_tag(&set, NULL));
}
END_TEST

/* ---------------------------------------------------------------- nm_error */

START_TEST(test_error_set)
{
	struct nm_error err;

	nm_error_clear(&err);
	err.origin = 0xdead;
	strcpy(err.kind, "counter");
	ck_assert_int_eq(nm_error_set(&err, NM_ERESTORE_FAILED,
				      "counter state must be 8 bytes, got %d", 3),
			 NM_ERESTORE_FAILED);
	ck_assert_int_eq(err.code, NM_ERESTORE_FAILED);
	ck_assert_str_eq(err.msg, "restore failed: counter state must be 8 bytes, got 3");
	ck_assert_uint_eq(err.origin, 0xdead); /* untouched */
	ck_assert_str_eq(err.kind, "counter");

	nm_error_set(&err, NM_EPROCESS_FAILED, "causal sequence overflow");
	ck_assert_str_eq(err.msg, "daemon process failed: causal sequence overflow");
	nm_error_set(&err, NM_ESNAPSHOT_FAILED, "%s", "disk");
	ck_assert_str_eq(err.msg, "snapshot failed: disk");
	nm_error_set(&err, NM_ENOT_FOUND, "daemon not found: 0x%x", 0xdead);
	ck_assert_str_eq(err.msg, "daemon not found: 0xdead");
	nm_error_set(&err, NM_ESTALE, "as given");
	ck_assert_str_eq(err.msg, "as given");
	nm_error_set(&err, -EINVAL, "bad %s", "thing");
	ck_assert_str_eq(err.msg, "bad thing");
	ck_assert_int_eq(err.code, -EINVAL);

	ck_assert_int_eq(nm_error_set(NULL, NM_ESTALE, "x %d", 1), NM_ESTALE);

	/* Long text is truncated, never overflowed. */
	char big[600];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	nm_error_set(&err, NM_ERESTORE_FAILED, "%s", big);
	ck_assert_uint_eq(strlen(err.msg), NM_ERROR_MSG_MAX - 1);
	ck_assert(strncmp(err.msg, "restore failed: yyy", 19) == 0);

	nm_error_clear(&err);
	ck_assert_int_eq(err.code, 0);
	ck_assert_str_eq(err.msg, "");
	ck_assert_uint_eq(err.origin, 0);
	nm_error_clear(NULL);
}
END_TEST

START_TEST(test_error_names)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ NM_ENOT_READY, "NotReady" },
		{ NM_ESHUTTING_DOWN, "ShuttingDown" },
		{ NM_EFACTORY_EXISTS, "FactoryAlreadyRegistered" },
		{ NM_EFACTORY_NOT_FOUND, "FactoryNotFound" },
		{ NM_ESNAPSHOT_IDENTITY, "SnapshotIdentityMismatch" },
		{ NM_EPROCESS_FAILED, "ProcessFailed" },
		{ NM_ESNAPSHOT_FAILED, "SnapshotFailed" },
		{ NM_ERESTORE_FAILED, "RestoreFailed" },
		{ NM_ENOT_FOUND, "NotFound" },
		{ NM_ESTALE, "Stale" },
		{ NM_EMALFORMED, "Malformed" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_str_eq(nm_strerror(names[i].code), names[i].name);
	ck_assert_str_eq(nm_strerror(-EINVAL), strerror(EINVAL));
	ck_assert_str_eq(nm_strerror(-ENOSPC), strerror(ENOSPC));
	ck_assert_ptr_nonnull(nm_strerror(INT32_MIN));
	ck_assert_ptr_nonnull(nm_strerror(-1006));

	ck_assert(!nm_error_is_core(NM_ESNAPSHOT_IDENTITY));
	ck_assert(nm_error_is_core(NM_EPROCESS_FAILED));
	ck_assert(nm_error_is_core(NM_ESNAPSHOT_FAILED));
	ck_assert(nm_error_is_core(NM_ERESTORE_FAILED));
	ck_assert(nm_error_is_core(NM_ENOT_FOUND));
	ck_assert(nm_error_is_core(NM_ESTALE));
	ck_assert(!nm_error_is_core(NM_EMALFORMED));
	ck_assert(!nm_error_is_core(-EINVAL));
	ck_assert(!nm_error_is_core(0));
}
END_TEST

/* ---------------------------------------------------------------- outputs */

START_TEST(test_outputs_event_slots)
{
	struct nm_outputs *o = nm_outputs_create(3, 64);

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(nm_emit(o, "a", 1), 0);
	ck_assert_int_eq(nm_emit(o, "bb", 2), 0);
	ck_assert_int_eq(nm_emit(o, NULL, 0), 0);
	ck_assert(!o->overflow);
	ck_assert_int_eq(nm_emit(o, "c", 1), -ENOSPC);
	ck_assert(o->overflow);
	ck_assert_uint_eq(o->n, 3);
	ck_assert_uint_eq(o->used, 3);
	ck_assert_ptr_null(nm_emit_reserve(o, 1));
	ck_assert_mem_eq(o->ev[0].payload, "a", 1);
	ck_assert_mem_eq(o->ev[1].payload, "bb", 2);
	ck_assert_uint_eq(o->ev[2].len, 0);
	ck_assert_uint_eq(o->ev[1].link.sequence, 0);
	ck_assert_uint_eq(o->ev[1].received_at, 0);

	nm_outputs_reset(o);
	ck_assert_uint_eq(o->n, 0);
	ck_assert_uint_eq(o->used, 0);
	ck_assert(!o->overflow);
	ck_assert_int_eq(nm_emit(o, "z", 1), 0);
	ck_assert_mem_eq(o->ev[0].payload, "z", 1);
	nm_outputs_free(o);
	nm_outputs_free(NULL);
}
END_TEST

START_TEST(test_outputs_arena)
{
	struct nm_outputs *o = nm_outputs_create(10, 16);

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(nm_emit(o, "0123456789", 10), 0);
	ck_assert_int_eq(nm_emit(o, "abcdefg", 7), -ENOSPC); /* 17 > 16 */
	ck_assert(o->overflow);
	ck_assert_uint_eq(o->n, 1);
	ck_assert_uint_eq(o->used, 10);
	ck_assert_int_eq(nm_emit(o, "abcdef", 6), 0); /* fills it exactly */
	ck_assert_uint_eq(o->used, 16);
	ck_assert_ptr_null(nm_emit_reserve(o, 1));
	ck_assert_ptr_nonnull(nm_emit_reserve(o, 0));
	ck_assert_mem_eq(o->ev[0].payload, "0123456789", 10);
	ck_assert_mem_eq(o->ev[1].payload, "abcdef", 6);
	nm_outputs_free(o);
}
END_TEST

START_TEST(test_outputs_reserve_and_init)
{
	struct nm_event ev[2];
	uint8_t arena[8];
	struct nm_outputs o;

	nm_outputs_init(&o, ev, 2, arena, sizeof(arena));
	ck_assert_uint_eq(o.n, 0);
	ck_assert(!o.overflow);
	uint8_t *p = nm_emit_reserve(&o, 8);
	ck_assert_ptr_eq(p, arena);
	memcpy(p, "reserved", 8);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_ptr_eq(o.ev[0].payload, arena);
	ck_assert_uint_eq(o.ev[0].len, 8);
	ck_assert_int_eq(nm_emit(&o, "x", 1), -ENOSPC);
	ck_assert(o.overflow);

	/* No arena: zero-length outputs still work; anything longer overflows. */
	nm_outputs_init(&o, ev, 2, NULL, 100);
	ck_assert_int_eq(nm_emit(&o, NULL, 0), 0);
	ck_assert_int_eq(nm_emit(&o, "x", 1), -ENOSPC);
	ck_assert_uint_eq(o.n, 1);
	/* No event slots at all. */
	nm_outputs_init(&o, NULL, 5, arena, sizeof(arena));
	ck_assert_int_eq(nm_emit(&o, "x", 1), -ENOSPC);
	ck_assert(o.overflow);

	struct nm_outputs *z = nm_outputs_create(0, 0);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(nm_emit(z, NULL, 0), -ENOSPC);
	nm_outputs_free(z);
}
END_TEST

START_TEST(test_bytes_append)
{
	struct nm_bytes b = { 0 };
	uint8_t chunk[100], want[10000];

	for (int i = 0; i < 100; i++) {
		fill_pattern(chunk, sizeof(chunk), (uint32_t)i);
		memcpy(want + 100 * i, chunk, 100);
		ck_assert_int_eq(nm_bytes_append(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(b.len, 10000);
	ck_assert_uint_ge(b.cap, b.len);
	ck_assert_mem_eq(b.data, want, sizeof(want));
	ck_assert_int_eq(nm_bytes_append(&b, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 10000);
	nm_bytes_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	nm_bytes_free(&b); /* twice is fine */
}
END_TEST

/* ---------------------------------------------------------------- bad arguments */

START_TEST(test_null_arguments)
{
	struct nm_identity id;
	struct nm_error err;
	uint8_t seed[32] = { 0 }, sig[64] = { 0 }, buf[64];
	struct nm_causal_link l = { 0 };
	struct nm_chain c;
	struct nm_event ev = { 0 };
	struct nm_frame_stats st;
	struct nm_chain_error ce;

	nm_error_clear(&err);
	identity_of(0, &id);

	/* identity */
	ck_assert_int_eq(nm_identity_from_seed(NULL, seed), -EINVAL);
	ck_assert_int_eq(nm_identity_from_seed(&id, NULL), -EINVAL);
	ck_assert_int_eq(nm_identity_generate(NULL), -EINVAL);
	ck_assert_int_eq(nm_identity_from_file(NULL, "/tmp/x", &err), -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	ck_assert_int_eq(nm_identity_from_file(&id, NULL, NULL), -EINVAL);
	ck_assert_int_eq(nm_identity_sign(NULL, "m", 1, sig), -EINVAL);
	ck_assert_int_eq(nm_identity_sign(&id, "m", 1, NULL), -EINVAL);
	ck_assert_int_eq(nm_identity_sign(&id, NULL, 1, sig), -EINVAL);
	ck_assert(!nm_identity_verify(NULL, "m", 1, sig));
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&id), "m", 1, NULL));
	ck_assert(!nm_identity_verify(nm_identity_entity_id(&id), NULL, 1, sig));
	nm_identity_wipe(NULL);
	ck_assert_uint_eq(nm_origin_hash_of(NULL), 0);
	ck_assert_uint_eq(nm_node_id_of(NULL), 0);
	ck_assert(!nm_entity_id_equal(NULL, seed));
	ck_assert(!nm_entity_id_equal(seed, NULL));

	/* causal */
	nm_link_to_bytes(NULL, buf);
	nm_link_to_bytes(&l, NULL);
	ck_assert_int_eq(nm_link_from_bytes(NULL, buf, 32), -EINVAL);
	ck_assert_int_eq(nm_link_from_bytes(&l, NULL, 32), -EINVAL);
	ck_assert_uint_eq(nm_parent_hash(NULL, "x", 1), 0);
	ck_assert_uint_eq(nm_parent_hash(&l, NULL, 1), 0);
	ck_assert_int_eq(nm_link_next(NULL, "x", 1, 0, &l), -EINVAL);
	ck_assert_int_eq(nm_link_next(&l, "x", 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(nm_link_next(&l, NULL, 1, 0, &l), -EINVAL);
	nm_chain_init(NULL, 1);
	nm_chain_init(&c, 1);
	struct nm_chain before = c;
	nm_chain_from_head(NULL, &l, "x", 1);
	nm_chain_from_head(&c, NULL, "x", 1);
	nm_chain_from_head(&c, &l, NULL, 1);
	ck_assert_mem_eq(&c, &before, sizeof(c)); /* bad arguments change nothing */
	ck_assert_int_eq(nm_chain_append(NULL, "x", 1, 0, &l), -EINVAL);
	ck_assert_int_eq(nm_chain_append(&c, "x", 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(nm_chain_append(&c, NULL, 1, 0, &l), -EINVAL);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	ck_assert_int_eq(nm_chain_validate(NULL, NULL, 0, &l, &ce), NM_CHAIN_BAD_ARGUMENT);
	ck_assert_int_eq(ce.kind, NM_CHAIN_BAD_ARGUMENT);
	ck_assert_int_eq(nm_chain_validate(&l, NULL, 0, NULL, NULL), NM_CHAIN_BAD_ARGUMENT);
	ck_assert_int_eq(nm_chain_validate(&l, NULL, 3, &l, NULL), NM_CHAIN_BAD_ARGUMENT);
	ck_assert_int_eq(nm_chain_error_format(NULL, (char *)buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(nm_chain_error_format(&ce, NULL, 10), -EINVAL);
	ce.kind = (enum nm_chain_verdict)99;
	ck_assert_int_eq(nm_chain_error_format(&ce, (char *)buf, sizeof(buf)), -EINVAL);

	/* framing */
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), &ev, 1, NULL), -EINVAL);
	ck_assert_int_eq(nm_causal_write(NULL, 10, &ev, 1, &st), -EINVAL);
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), NULL, 1, &st), -EINVAL);
	ev.len = 4; /* payload NULL with a length */
	ck_assert_int_eq(nm_causal_write(buf, sizeof(buf), &ev, 1, &st), -EINVAL);
	ck_assert_uint_eq(st.events_written, 0);
	ck_assert_int_eq(nm_causal_write(NULL, 0, NULL, 0, &st), 0);
	size_t consumed = 7;
	ck_assert_uint_eq(nm_causal_read(NULL, 100, 1, &ev, 1, 0, &consumed), 0);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(nm_causal_read(buf, sizeof(buf), 1, NULL, 1, 0, NULL), 0);

	/* snapshot */
	struct nm_snapshot *s;
	ck_assert_ptr_null(nm_snapshot_new(NULL, &l, NULL, 0, NULL, 0));
	ck_assert_ptr_null(nm_snapshot_new(seed, NULL, NULL, 0, NULL, 0));
	ck_assert_ptr_null(nm_snapshot_new(seed, &l, NULL, 1, NULL, 0));
	ck_assert_ptr_null(nm_snapshot_new(seed, &l, NULL, 0, NULL, 1));
	ck_assert_ptr_null(nm_snapshot_dup(NULL));
	ck_assert_uint_eq(nm_snapshot_wire_size(NULL), 0);
	ck_assert_int_eq(nm_snapshot_encode(NULL, buf, sizeof(buf), NULL), -EINVAL);
	s = nm_snapshot_new(seed, &l, NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nm_snapshot_encode(s, NULL, 200, NULL), -EINVAL);
	ck_assert_int_eq(nm_snapshot_decode(buf, 10, NULL, &err), -EINVAL);
	struct nm_snapshot *out;
	ck_assert_int_eq(nm_snapshot_decode(NULL, 10, &out, NULL), -EINVAL);
	ck_assert_ptr_null(out);
	nm_snapshot_free(s);

	/* capability: covered in test_capability_tags; matches(NULL, NULL) is "run anywhere". */
	ck_assert(nm_capability_matches(NULL, NULL));

	/* outputs and bytes */
	ck_assert_int_eq(nm_emit(NULL, "x", 1), -EINVAL);
	struct nm_outputs *o = nm_outputs_create(1, 1);
	ck_assert_int_eq(nm_emit(o, NULL, 1), -EINVAL);
	ck_assert(!o->overflow); /* a bad argument is not an overflow */
	nm_outputs_free(o);
	ck_assert_ptr_null(nm_emit_reserve(NULL, 1));
	nm_outputs_init(NULL, NULL, 0, NULL, 0);
	ck_assert_int_eq(nm_bytes_append(NULL, "x", 1), -EINVAL);
	struct nm_bytes b = { 0 };
	ck_assert_int_eq(nm_bytes_append(&b, NULL, 1), -EINVAL);
	nm_bytes_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------- main */

/* Framed: the link and length word go into the room before each payload, as nm_causal_write puts them. */
START_TEST(test_chain_append_framed_matches_copying)
{
	static const uint32_t lens[] = { 0, 1, 64, 224, 225, 1000 };
	struct nm_chain a, b;
	nm_chain_init(&a, 0x1122334455667788ULL);
	nm_chain_init(&b, 0x1122334455667788ULL);
	static uint8_t payload[1000], framed[NM_CAUSAL_FRAME_ROOM + 1000], copied[sizeof(framed)];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		const uint32_t len = lens[k];
		struct nm_event ev = { .payload = payload, .len = len };
		ck_assert_int_eq(nm_chain_append(&a, payload, len, 0x99 + k, &ev.link), 0);
		struct nm_frame_stats st;
		nm_causal_write(copied, sizeof(copied), &ev, 1, &st);
		ck_assert_uint_eq(st.bytes_written, NM_CAUSAL_FRAME_ROOM + len);
		memset(framed, 0xEE, NM_CAUSAL_FRAME_ROOM);
		memcpy(framed + NM_CAUSAL_FRAME_ROOM, payload, len);
		struct nm_causal_link l;
		ck_assert_int_eq(nm_chain_append_framed(&b, framed, len, 0x99 + k, &l), 0);
		ck_assert_mem_eq(&l, &ev.link, sizeof(l));
		ck_assert_mem_eq(framed, copied, st.bytes_written);
		ck_assert_uint_eq(b.next_parent, a.next_parent);
	}
	b.head.sequence = UINT64_MAX;
	memset(framed, 0xEE, NM_CAUSAL_FRAME_ROOM);
	struct nm_causal_link l;
	ck_assert_int_eq(nm_chain_append_framed(&b, framed, 1, 0, &l), -EOVERFLOW);
	ck_assert_uint_eq(framed[0], 0xEE); /* untouched */
	ck_assert_int_eq(nm_chain_append_framed(NULL, framed, 1, 0, &l), -EINVAL);
}
END_TEST

struct refill_ctx {
	uint8_t bufs[2][64];
	int calls;
	int fail_at;
};

static int test_refill(void *ctx, struct nm_outputs *o, uint32_t need)
{
	struct refill_ctx *r = ctx;
	if (++r->calls == r->fail_at || r->calls > 2 || need > sizeof(r->bufs[0]))
		return -ENOBUFS;
	o->arena = r->bufs[r->calls - 1];
	o->cap = sizeof(r->bufs[0]);
	o->used = 0;
	return 0;
}

/* Framed outputs leave room for frame header and link; a full arena asks for another. */
START_TEST(test_outputs_framed_refill)
{
	struct nm_event ev[4];
	struct refill_ctx r = { .fail_at = 0 };
	struct nm_outputs o;
	nm_outputs_init(&o, ev, 4, NULL, 0);
	ck_assert(!o.framed && o.refill == NULL);
	o.framed = true;
	o.refill = test_refill;
	o.refill_ctx = &r;
	ck_assert_int_eq(nm_emit(&o, "abcdefghij", 10), 0); /* no arena yet: the first refill */
	ck_assert_int_eq(r.calls, 1);
	ck_assert_ptr_eq(o.ev[0].payload, r.bufs[0] + NM_CAUSAL_FRAME_ROOM);
	ck_assert_uint_eq(o.used, NM_CAUSAL_FRAME_ROOM + 10);
	ck_assert_int_eq(nm_emit(&o, "k", 1), 0); /* 46 + 37 > 64: the second arena */
	ck_assert_int_eq(r.calls, 2);
	ck_assert_ptr_eq(o.ev[1].payload, r.bufs[1] + NM_CAUSAL_FRAME_ROOM);
	ck_assert_mem_eq(o.ev[0].payload, "abcdefghij", 10); /* earlier outputs stay put */
	static const uint8_t more[28];
	ck_assert_int_eq(nm_emit(&o, more, sizeof(more)), -ENOSPC); /* 37 + 64 > 64, refill refused */
	ck_assert(o.overflow);
	ck_assert_int_eq(r.calls, 3);
	ck_assert_uint_eq(o.n, 2);
}
END_TEST

/* The inline emit (a max_len set, as the dataplane's): an exact fit stays inline, one byte more refills. */
START_TEST(test_outputs_framed_exact_fit)
{
	struct nm_event ev[4];
	struct refill_ctx r = { .fail_at = 0 };
	struct nm_outputs o;
	static uint8_t arena[NM_CAUSAL_FRAME_ROOM + 28];
	nm_outputs_init(&o, ev, 4, arena, sizeof(arena));
	o.framed = true;
	o.max_len = 1000;
	o.refill = test_refill;
	o.refill_ctx = &r;
	static const uint8_t p28[28] = { 1, 2, 3 };
	ck_assert_int_eq(nm_emit(&o, p28, sizeof(p28)), 0); /* 36 + 28 = the whole arena */
	ck_assert_int_eq(r.calls, 0);
	ck_assert_ptr_eq(o.ev[0].payload, arena + NM_CAUSAL_FRAME_ROOM);
	ck_assert_uint_eq(o.used, sizeof(arena));
	ck_assert_int_eq(nm_emit(&o, "x", 1), 0); /* no room left: the next arena */
	ck_assert_int_eq(r.calls, 1);
	ck_assert_ptr_eq(o.ev[1].payload, r.bufs[0] + NM_CAUSAL_FRAME_ROOM);
	o.used = o.cap + 1; /* a corrupt used never passes the room check */
	ck_assert_int_eq(nm_emit(&o, "y", 1), 0);
	ck_assert_int_eq(r.calls, 2);
	ck_assert_uint_eq(o.n, 3);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("identity");
	tcase_add_loop_test(tc, test_identity_vectors, 0, 3);
	tcase_add_test(tc, test_identity_collision_pair);
	tcase_add_test(tc, test_identity_sign_verify);
	tcase_add_test(tc, test_identity_generate_and_wipe);
	tcase_add_test(tc, test_blake2s_keyed);
	tcase_add_test(tc, test_identity_from_file_raw);
	tcase_add_test(tc, test_identity_from_file_hex);
	tcase_add_test(tc, test_identity_from_file_bad);
	tcase_add_test(tc, test_identity_from_file_io);
	suite_add_tcase(s, tc);

	tc = tcase_create("causal");
	tcase_add_test(tc, test_link_bytes_vector);
	tcase_add_test(tc, test_link_genesis);
	tcase_add_loop_test(tc, test_parent_hash_stream_vs_oneshot, 0,
			    (int)(sizeof(hash_sizes) / sizeof(hash_sizes[0])));
	tcase_add_test(tc, test_chain_first_append);
	tcase_add_test(tc, test_chain_append_framed_matches_copying);
	tcase_add_test(tc, test_chain_validate_100);
	tcase_add_test(tc, test_chain_validate_errors);
	tcase_add_test(tc, test_chain_overflow);
	tcase_add_test(tc, test_chain_from_head);
	tcase_add_test(tc, test_link_next);
	tcase_add_test(tc, test_parent_hash_is_library_xxh3);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_test(tc, test_frame_roundtrip);
	tcase_add_test(tc, test_frame_read_malformed);
	tcase_add_test(tc, test_frame_write_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("horizon");
	tcase_add_test(tc, test_horizon_empty_and_one);
	tcase_add_test(tc, test_horizon_bits_match_reference);
	tcase_add_test(tc, test_horizon_no_false_negatives);
	tcase_add_test(tc, test_horizon_concurrency);
	tcase_add_test(tc, test_horizon_observe_cache);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_add_test(tc, test_snapshot_roundtrip);
	tcase_add_test(tc, test_snapshot_counter_layout);
	tcase_add_test(tc, test_snapshot_decode_truncations);
	tcase_add_test(tc, test_snapshot_decode_rejects);
	tcase_add_test(tc, test_snapshot_encode_nospc);
	suite_add_tcase(s, tc);

	tc = tcase_create("capability");
	tcase_add_test(tc, test_capability_match);
	tcase_add_test(tc, test_capability_tags);
	suite_add_tcase(s, tc);

	tc = tcase_create("error");
	tcase_add_test(tc, test_error_set);
	tcase_add_test(tc, test_error_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("outputs");
	tcase_add_test(tc, test_outputs_event_slots);
	tcase_add_test(tc, test_outputs_arena);
	tcase_add_test(tc, test_outputs_reserve_and_init);
	tcase_add_test(tc, test_outputs_framed_refill);
	tcase_add_test(tc, test_outputs_framed_exact_fit);
	tcase_add_test(tc, test_bytes_append);
	suite_add_tcase(s, tc);

	tc = tcase_create("arguments");
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(core_suite());

	srunner_set_fork_status(sr, CK_FORK); /* a crash fails one test, not the suite */
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_envelope.c - `netmesh-bench migration-envelope`: what the identity
 * envelope (control/nm_envelope.h) costs a migration, per call, in this
 * thread's CPU time (a shared machine's other load does not count):
 *
 *   envelope_seal_ns           the one-shot seal (nm_envelope_seal)
 *   envelope_prepare_ns        its first half, before a migration's hold (nm_envelope_prepare)
 *   envelope_seal_prepared_ns  its second half, inside the hold (nm_envelope_seal_prepared; a prep
 *                              seals once, so timed with a prepare each, minus envelope_prepare_ns)
 *   envelope_open_ns           the open on the target (nm_envelope_open)
 *   and the libsodium pieces they are made of (x25519_*, ed25519_*, xchacha20poly1305_*),
 *   so a figure can be read against the primitives it spends on.
 *
 * Each figure: ITER calls timed together, the median of RUNS such runs. Every
 * call's result is checked (a failing seal or open is a fatal error). Not a
 * test: nothing asserts a target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench.h"
#include "nm_blake2s.h"
#include "nm_envelope.h"

#define ITER 2000
#define RUNS 5

struct fix {
	struct nm_identity src, opened;
	struct nm_x25519_static target;
	struct nm_envelope_prep prep;
	uint8_t target_pub[32], eph_sk[32], eph_pk[32], shared[32];
	struct nm_causal_link link;
	struct nm_envelope env;
	uint8_t transcript[64], sig[64], ct[48], key[32], nonce[24];
};

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef int (*op_fn)(struct fix *f);

static int op_seal(struct fix *f)
{
	return nm_envelope_seal(&f->src, f->target_pub, &f->link, &f->env, NULL);
}

static int op_prepare(struct fix *f)
{
	return nm_envelope_prepare(&f->prep, f->target_pub, NULL, NULL);
}

/* A prepare too (a prep seals once), timed apart and subtracted by the caller. */
static int op_prepare_seal(struct fix *f)
{
	int rc = op_prepare(f);
	return rc < 0 ? rc : nm_envelope_seal_prepared(&f->prep, &f->src, &f->link, &f->env, NULL);
}

static int op_open(struct fix *f)
{
	int rc = nm_envelope_open(&f->env, &f->target, &f->link, f->src.sk + 32, &f->opened, NULL);
	nm_identity_wipe(&f->opened);
	return rc;
}

static int op_x25519_base(struct fix *f)
{
	return crypto_scalarmult_base(f->eph_pk, f->eph_sk);
}

static int op_x25519_keypair(struct fix *f)
{
	return crypto_box_keypair(f->eph_pk, f->eph_sk);
}

static int op_x25519_dh(struct fix *f)
{
	return crypto_scalarmult(f->shared, f->eph_sk, f->target_pub);
}

static int op_blake2s_derive(struct fix *f)
{
	uint8_t both[64], full[32];
	memcpy(both, f->eph_pk, 32);
	memcpy(both + 32, f->target_pub, 32);
	nm_blake2s_keyed(f->key, "net-identity-envelope", 21, f->shared, 32);
	nm_blake2s_keyed(full, "net-identity-nonce", 18, both, sizeof(both));
	memcpy(f->nonce, full, sizeof(f->nonce));
	return 0;
}

static int op_aead_seal(struct fix *f)
{
	return crypto_aead_xchacha20poly1305_ietf_encrypt(f->ct, NULL, f->src.sk, 32, f->transcript + 32,
							  32, NULL, f->nonce, f->key);
}

static int op_sign(struct fix *f)
{
	return nm_identity_sign(&f->src, f->transcript, sizeof(f->transcript), f->sig);
}

static int op_verify(struct fix *f)
{
	return crypto_sign_verify_detached(f->sig, f->transcript, sizeof(f->transcript), f->src.sk + 32);
}

static int op_point_check(struct fix *f)
{
	return crypto_core_ed25519_is_valid_point(f->src.sk + 32) ? 0 : -1;
}

static int op_from_seed(struct fix *f)
{
	int rc = nm_identity_from_seed(&f->opened, f->src.sk);
	nm_identity_wipe(&f->opened);
	return rc;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{ "envelope_seal_ns", op_seal },
	{ "envelope_prepare_ns", op_prepare },
	{ "envelope_seal_prepared_ns", op_prepare_seal },
	{ "envelope_open_ns", op_open },
	{ "x25519_keypair_ns", op_x25519_keypair },
	{ "x25519_base_ns", op_x25519_base },
	{ "x25519_dh_ns", op_x25519_dh },
	{ "blake2s_key_nonce_ns", op_blake2s_derive },
	{ "xchacha20poly1305_seal_32B_ns", op_aead_seal },
	{ "ed25519_sign_64B_ns", op_sign },
	{ "ed25519_verify_64B_ns", op_verify },
	{ "ed25519_point_check_ns", op_point_check },
	{ "ed25519_from_seed_ns", op_from_seed },
};

static double time_op(struct fix *f, op_fn fn)
{
	double runs[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = cpu_ns();
		for (int i = 0; i < ITER; i++) {
			int rc = fn(f);
			if (rc != 0)
				bench_die("migration-envelope: a call failed", rc < 0 ? rc : -EINVAL);
		}
		runs[r] = (cpu_ns() - t0) / ITER;
	}
	return bench_median(runs, RUNS);
}

int bench_migration_envelope_part(void)
{
	struct fix f;
	memset(&f, 0, sizeof(f));
	if (sodium_init() < 0 || nm_identity_generate(&f.src) < 0)
		bench_die("migration-envelope: libsodium", -EIO);
	uint8_t sk[32];
	randombytes_buf(sk, sizeof(sk));
	if (nm_x25519_static_init(&f.target, sk) < 0)
		bench_die("migration-envelope: target key", -EINVAL);
	sodium_memzero(sk, sizeof(sk));
	memcpy(f.target_pub, f.target.pub, sizeof(f.target_pub));
	f.link = (struct nm_causal_link){ f.src.origin_hash, 0, 42, 0 };
	memcpy(f.transcript, f.target_pub, 32);
	nm_link_to_bytes(&f.link, f.transcript + 32);
	crypto_box_keypair(f.eph_pk, f.eph_sk);
	if (op_seal(&f) != 0 || op_x25519_dh(&f) != 0 || op_blake2s_derive(&f) != 0 || op_sign(&f) != 0)
		bench_die("migration-envelope: set-up", -EINVAL);
	double prep_ns = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		double ns = time_op(&f, ops[i].fn);
		if (ops[i].fn == op_prepare)
			prep_ns = ns;
		else if (ops[i].fn == op_prepare_seal)
			ns = ns > prep_ns ? ns - prep_ns : 0;
		printf("%s: %.0f ns\n", ops[i].name, ns);
	}
	nm_identity_wipe(&f.src);
	sodium_memzero(&f, sizeof(f));
	return 0;
}

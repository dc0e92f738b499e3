/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - what every fuzz target in tests/fuzz/ shares.
 *
 * A target is one file, fuzz_<name>.c, that defines two functions:
 *   int  LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 *        parse the input and check a property; a broken property is
 *        FUZZ_CHECK -> abort(), which libFuzzer reports as a crash;
 *   void fuzz_seeds(void);
 *        call fuzz_seed() for each seed, built with the project's encoders.
 * fuzz_common.c turns those into three modes, chosen by the environment so
 * that libFuzzer's own argument parsing is left alone:
 *   NM_FUZZ_SEEDS=DIR  write the seeds to DIR/seed-NNN and exit (scripts/fuzz.sh);
 *   NM_FUZZ_CHECK=1    run every seed and a fixed set of mutations of each
 *                      (truncations, bit flips) through the target and exit:
 *                      the meson test `fuzz-<name>`, in every build;
 *   neither            libFuzzer runs (the -Dfuzz=true build), or, in a build
 *                      without libFuzzer, the files named on the command line.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nm_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
void fuzz_seeds(void);

/* Hand one seed to the current mode (write it, or run it and its mutations). */
void fuzz_seed(const void *buf, size_t len);

/* The same, behind one leading byte: for targets whose byte 0 picks a mode. */
void fuzz_seed_tagged(uint8_t tag, const void *buf, size_t len);

/* A property of the target: on failure say which, then abort (a libFuzzer crash). */
#define FUZZ_CHECK(cond)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* Deterministic bytes for fixtures: SplitMix64 from a seed, no libc state. */
void fuzz_fill(void *buf, size_t len, uint64_t seed);

/*
 * An ICMP echo request from src to dst with data_len bytes of data (fixed
 * pattern), checksums right: the project has a reply builder, not a
 * request builder. Returns the frame length (cap must hold it).
 */
size_t fuzz_icmp_echo_request(uint8_t *f, size_t cap, const struct nm_pkt_endpoint *src,
			      const struct nm_pkt_endpoint *dst, size_t data_len);

/* A reader over the fuzz input for targets that take structured fields. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

/* Take n bytes (NULL when fewer are left: the rest is then consumed). */
const uint8_t *fuzz_take(struct fuzz_in *in, size_t n);
uint8_t fuzz_u8(struct fuzz_in *in);     /* 0 when empty */
uint16_t fuzz_u16(struct fuzz_in *in);   /* LE; 0 when short */

#endif /* FUZZ_COMMON_H */

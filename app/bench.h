/* SPDX-License-Identifier: MIT */
/* bench.h - the parts of netmesh-bench, one function each. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>

/* Monotonic seconds, for timing a loop. */
double bench_now_s(void);

/* The median of v[0..n) (n > 0), which it sorts. */
double bench_median(double *v, size_t n);

/* Print a fatal benchmark error and exit. */
void bench_die(const char *what, int rc);

int bench_sessions_part(void);
int bench_meshos_part(const char *port);
/* Every ChaCha20-Poly1305 here side by side (bench_aead.c); EAL with the crypto PMDs. */
int bench_aead_part(void);
/* Migration figures, each its own subcommand (migration-drain, ...). */
int bench_migration_drain_part(void);
/* size: "1MiB" or "64MiB" (a blob daemon with that much state). */
int bench_migration_total_part(const char *size);
/* The identity envelope's seal and open and their libsodium pieces, CPU ns per call (bench_envelope.c). */
int bench_migration_envelope_part(void);

#endif /* BENCH_H */

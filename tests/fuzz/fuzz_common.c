/* SPDX-License-Identifier: MIT */
/* fuzz_common.c - the seed writer and the seed check shared by every target (see header). */
#include "fuzz_common.h"

#include <errno.h>
#include <string.h>

#include <rte_ip.h>

enum fuzz_mode { MODE_FUZZ = 0, MODE_SEEDS, MODE_CHECK };

/* Set once in LLVMFuzzerInitialize, before any input runs. */
static struct {
	enum fuzz_mode mode;
	const char *dir;
	unsigned seeds;
	unsigned long runs;
} fuzz_ctx;

/* Run one input from an exact-size heap copy, so ASan sees any overread. */
static void run_copy(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, buf, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	fuzz_ctx.runs++;
}

/* Every prefix up to 128 bytes, then 32 spread over the rest. */
static void run_truncations(const uint8_t *buf, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		if (n >= 128 && (n - 128) % ((len - 128) / 32 + 1) != 0)
			continue;
		run_copy(buf, n);
	}
}

/* All 8 bits of the first 128 bytes, then one bit per byte at up to 512 places. */
static void run_bit_flips(const uint8_t *buf, size_t len)
{
	uint8_t *m = malloc(len ? len : 1);
	FUZZ_CHECK(m != NULL);
	size_t stride = len > 128 + 512 ? (len - 128) / 512 + 1 : 1;
	for (size_t i = 0; i < len; i += i < 128 ? 1 : stride) {
		for (unsigned b = 0; b < 8; b++) {
			if (i >= 128 && b != i % 8)
				continue;
			memcpy(m, buf, len);
			m[i] ^= (uint8_t)(1u << b);
			run_copy(m, len);
		}
	}
	free(m);
}

static void write_seed(const void *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/seed-%03u", fuzz_ctx.dir, fuzz_ctx.seeds);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

void fuzz_seed(const void *buf, size_t len)
{
	switch (fuzz_ctx.mode) {
	case MODE_SEEDS:
		write_seed(buf, len);
		break;
	case MODE_CHECK:
		run_copy(buf, len);
		run_truncations(buf, len);
		run_bit_flips(buf, len);
		break;
	case MODE_FUZZ:
		break;
	}
	fuzz_ctx.seeds++;
}

void fuzz_seed_tagged(uint8_t tag, const void *buf, size_t len)
{
	uint8_t *s = malloc(len + 1);
	FUZZ_CHECK(s != NULL);
	s[0] = tag;
	memcpy(s + 1, buf, len);
	fuzz_seed(s, len + 1);
	free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	const char *dir = getenv("NM_FUZZ_SEEDS");
	const char *check = getenv("NM_FUZZ_CHECK");
	const char *name = strrchr((*argv)[0], '/');
	name = name ? name + 1 : (*argv)[0];
	if (dir != NULL && *dir != '\0') {
		fuzz_ctx.mode = MODE_SEEDS;
		fuzz_ctx.dir = dir;
		fuzz_seeds();
		printf("%s: %u seeds in %s\n", name, fuzz_ctx.seeds, dir);
		exit(fuzz_ctx.seeds > 0 ? 0 : 1);
	}
	if (check != NULL && *check != '\0' && *check != '0') {
		fuzz_ctx.mode = MODE_CHECK;
		fuzz_seeds();
		/* One TAP line, so the test summary counts it as one test case. */
		printf("1..1\nok 1 - %s: %u seeds, %lu inputs, every property held\n", name,
		       fuzz_ctx.seeds, fuzz_ctx.runs);
		exit(fuzz_ctx.seeds > 0 ? 0 : 1);
	}
	return 0;
}

void fuzz_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			seed += 0x9e3779b97f4a7c15ULL;
		}
		uint64_t z = seed;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		p[i] = (uint8_t)(z >> (8 * (i % 8)));
	}
}

const uint8_t *fuzz_take(struct fuzz_in *in, size_t n)
{
	if (in->left < n) {
		in->p += in->left;
		in->left = 0;
		return NULL;
	}
	const uint8_t *p = in->p;
	in->p += n;
	in->left -= n;
	return p;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	const uint8_t *p = fuzz_take(in, 1);
	return p ? p[0] : 0;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	const uint8_t *p = fuzz_take(in, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

size_t fuzz_icmp_echo_request(uint8_t *f, size_t cap, const struct nm_pkt_endpoint *src,
			      const struct nm_pkt_endpoint *dst, size_t data_len)
{
	const size_t ilen = NM_PKT_ICMP_HDR_LEN + data_len;
	/* Ethernet and IPv4 as for UDP, then turned into ICMP. */
	FUZZ_CHECK(nm_pkt_build_udp(f, cap, src, dst, 9, ilen - NM_PKT_UDP_LEN, 0) == 0);
	f[NM_PKT_L3_OFF + 9] = IPPROTO_ICMP;
	memset(f + NM_PKT_L3_OFF + 10, 0, 2);
	uint16_t sum = rte_ipv4_cksum((const struct rte_ipv4_hdr *)(f + NM_PKT_L3_OFF));
	memcpy(f + NM_PKT_L3_OFF + 10, &sum, 2);
	uint8_t *icmp = f + NM_PKT_L4_OFF;
	memset(icmp, 0, NM_PKT_ICMP_HDR_LEN);
	icmp[0] = 8; /* echo request */
	icmp[4] = 0x12, icmp[5] = 0x34, icmp[7] = 1; /* identifier, sequence */
	fuzz_fill(icmp + NM_PKT_ICMP_HDR_LEN, data_len, 3);
	sum = (uint16_t)~rte_raw_cksum(icmp, ilen);
	memcpy(icmp + 2, &sum, 2);
	return NM_PKT_L4_OFF + ilen;
}

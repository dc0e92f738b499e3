/* SPDX-License-Identifier: MIT */
/*
 * fuzz_main.c - main() for a target built without libFuzzer (gcc, or clang
 * without -Dfuzz=true): the NM_FUZZ_* modes of fuzz_common.h, or each file
 * named on the command line run once (a crash reproducer, say).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *copy = malloc(n ? n : 1);
	if (copy == NULL)
		return 1;
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	printf("%s: %zu bytes, ok\n", path, n);
	return 0;
}

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: NM_FUZZ_CHECK=1 %s | NM_FUZZ_SEEDS=DIR %s | %s FILE...\n",
			argv[0], argv[0], argv[0]);
		return 2;
	}
	int rc = 0;
	for (int i = 1; i < argc; i++)
		rc |= run_file(argv[i]);
	return rc;
}

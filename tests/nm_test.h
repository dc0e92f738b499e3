/* SPDX-License-Identifier: MIT */
/* nm_test.h - shared helpers for the Check suites that run on EAL. */
#ifndef NM_TEST_H
#define NM_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_eal.h"
#include "nm_node.h"
#include "nm_runtime.h"

/*
 * EAL for unit tests: no hugepages, no PCI, no shared config, no telemetry,
 * one null port, and the lcores asked for (e.g. "--lcores=0@0,1@1,2@1": more
 * lcores than CPUs is fine). EAL runs once per process, so suites that use
 * it run in Check's no-fork mode (set in code by nm_test_run_nofork).
 */
static inline void nm_test_eal_init_lcores(const char *prog, const char *lcores)
{
	char *argv[] = {
		(char *)prog, "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		"--no-telemetry", "--vdev=net_null0", (char *)lcores, "--log-level=lib.*:error",
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0]));
	if (nm_eal_init(argc, argv) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", prog);
		exit(EXIT_FAILURE);
	}
}

/* One lcore: the control-path suites. */
static inline void nm_test_eal_init(const char *prog)
{
	nm_test_eal_init_lcores(prog, "--lcores=0@0");
}

/* Run a suite in Check's default (fork) mode: the suites without EAL. */
static inline int nm_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Run a suite without forking (EAL lives in this process) and clean up EAL. */
static inline int nm_test_run_nofork(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nm_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * A runtime on a node of its own (a fresh node identity), without any
 * dataplane: the runtime needs only nm_node.h. Free with nm_test_runtime_free.
 */
static inline struct nm_runtime *nm_test_runtime_new(void)
{
	struct nm_identity *node_id = malloc(sizeof(*node_id));
	ck_assert_ptr_nonnull(node_id);
	ck_assert_int_eq(nm_identity_generate(node_id), 0);
	struct nm_node *node = nm_node_create(node_id);
	ck_assert_ptr_nonnull(node);
	struct nm_runtime *rt = nm_runtime_create(node);
	ck_assert_ptr_nonnull(rt);
	return rt;
}

static inline void nm_test_runtime_free(struct nm_runtime *rt)
{
	struct nm_node *node = nm_runtime_node(rt);
	struct nm_identity *node_id = (struct nm_identity *)nm_node_identity(node);
	nm_runtime_destroy(rt);
	nm_node_destroy(node);
	nm_identity_wipe(node_id);
	free(node_id);
}

#endif /* NM_TEST_H */

/* SPDX-License-Identifier: MIT */
/* nm_ck.h - Check helpers shared by the suites without EAL. */
#ifndef NM_CK_H
#define NM_CK_H

#include <check.h>
#include <string.h>

/* The call fails and the suite's `struct nm_error err` names the reason `want`. */
#define ck_error(call, want)                                                          \
	do {                                                                          \
		ck_assert_int_lt((call), 0);                                          \
		ck_assert_msg(strstr(err.msg, (want)) != NULL, "wanted '%s' in '%s'", \
			      (want), err.msg);                                       \
	} while (0)

#endif /* NM_CK_H */

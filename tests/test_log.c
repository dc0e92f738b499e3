/* SPDX-License-Identifier: MIT */
/* test_log.c - nm_log: the installed sink, level filtering, truncation, names (no EAL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "nm_log.h"

/* What a test sink saw. */
static struct {
	int calls;
	int enabled_calls;
	enum nm_log_type type;
	enum nm_log_lv lv;
	char msg[NM_LOG_LINE_MAX + 64];
	enum nm_log_lv max_lv; /* the sink's level */
} seen;

static bool sink_enabled(void *ctx, enum nm_log_type t, enum nm_log_lv lv)
{
	(void)t;
	ck_assert_ptr_eq(ctx, &seen);
	seen.enabled_calls++;
	return lv <= seen.max_lv;
}

static void sink_write(void *ctx, enum nm_log_type t, enum nm_log_lv lv, const char *msg)
{
	ck_assert_ptr_eq(ctx, &seen);
	seen.calls++;
	seen.type = t;
	seen.lv = lv;
	snprintf(seen.msg, sizeof(seen.msg), "%s", msg);
}

static void install(enum nm_log_lv max)
{
	memset(&seen, 0, sizeof(seen));
	seen.max_lv = max;
	struct nm_log_sink s = { &seen, sink_enabled, sink_write };
	nm_log_set_sink(&s); /* copied: s may go out of scope */
}

START_TEST(sink_gets_formatted_message)
{
	install(NM_LV_DEBUG);
	nm_log(NM_LT_DATAPLANE, NM_LV_INFO, "port %u: %s", 3u, "started");
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.type, NM_LT_DATAPLANE);
	ck_assert_int_eq(seen.lv, NM_LV_INFO);
	ck_assert_str_eq(seen.msg, "port 3: started");
	nm_log_set_sink(NULL);
}
END_TEST

START_TEST(level_filter_skips_write)
{
	install(NM_LV_INFO);
	nm_log(NM_LT_SESSION, NM_LV_DEBUG, "hidden %d", 1);
	ck_assert_int_eq(seen.calls, 0);
	ck_assert_int_eq(seen.enabled_calls, 1);
	ck_assert(!nm_log_enabled(NM_LT_SESSION, NM_LV_DEBUG));
	ck_assert(nm_log_enabled(NM_LT_SESSION, NM_LV_ERR));
	nm_log(NM_LT_SESSION, NM_LV_WARNING, "shown");
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.msg, "shown");
	nm_log_set_sink(NULL);
}
END_TEST

START_TEST(long_message_is_cut)
{
	install(NM_LV_DEBUG);
	char big[NM_LOG_LINE_MAX * 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nm_log(NM_LT_APP, NM_LV_ERR, "%s", big);
	ck_assert_uint_eq(strlen(seen.msg), NM_LOG_LINE_MAX);
	nm_log_set_sink(NULL);
}
END_TEST

/* Without a sink: info and above on stderr, prefixed by type; debug dropped. */
START_TEST(default_sink_is_stderr)
{
	nm_log_set_sink(NULL);
	char path[] = "/tmp/nm_test_log.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	nm_log(NM_LT_APP, NM_LV_NOTICE, "app says %d", 1);
	nm_log(NM_LT_MESHOS, NM_LV_INFO, "meshos says");
	nm_log(NM_LT_RUNTIME, NM_LV_DEBUG, "not shown");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char buf[256] = "";
	ck_assert_int_ge(pread(fd, buf, sizeof(buf) - 1, 0), 0);
	close(fd);
	unlink(path);
	ck_assert_str_eq(buf, "netmesh: app says 1\nnetmesh.meshos: meshos says\n");
}
END_TEST

START_TEST(names)
{
	static const char *const want[NM_LT__COUNT] = { "app", "dataplane", "session",
							"runtime", "meshos", "migration" };
	for (int t = 0; t < NM_LT__COUNT; t++)
		ck_assert_str_eq(nm_log_type_name((enum nm_log_type)t), want[t]);
	ck_assert_str_eq(nm_log_type_name(NM_LT__COUNT), "?");
	ck_assert_str_eq(nm_log_lv_name(NM_LV_ERR), "err");
	ck_assert_str_eq(nm_log_lv_name(NM_LV_DEBUG), "debug");
	ck_assert_str_eq(nm_log_lv_name((enum nm_log_lv)0), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("nm_log");
	tcase_add_test(tc, sink_gets_formatted_message);
	tcase_add_test(tc, level_filter_skips_write);
	tcase_add_test(tc, long_message_is_cut);
	tcase_add_test(tc, default_sink_is_stderr);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_cmds.c - the operator commands' parser (app/app_cmds.h) on flat
 * strings: splitting (blanks, quotes, comments, garbage), finding the
 * command, argument counts and the errors they give, help, and the table's
 * own invariants (the console builds one rte_cmdline instance per entry, so
 * no name may be the start of another). No EAL: the commands that need the
 * appliance are run with none and must say so.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "app_cmds.h"
#include "app_common.h"
#include "nm_ck.h"

static struct app_cmds cmds;
static struct app_cmd_words words;
static struct nm_error err;
static char *out;
static size_t out_len;

static int split(const char *s)
{
	memset(&err, 0, sizeof(err));
	return app_cmd_split(s, strlen(s), &words, &err);
}

/* Run a line; its output lands in `out`. */
static int run(const char *line)
{
	free(out);
	out = NULL;
	FILE *f = open_memstream(&out, &out_len);
	int rc = app_cmds_run(&cmds, line, strlen(line), f, &err);
	fclose(f);
	return rc;
}

static void setup(void)
{
	struct app_cmds_env env = { 0 };
	app_cmds_init(&cmds, &env);
	atomic_store(&app_force_quit, false);
}

static void teardown(void)
{
	free(out);
	out = NULL;
}

START_TEST(split_words_quotes_comments)
{
	ck_assert_int_eq(split("  show\tstats  \r\n"), 0);
	ck_assert_uint_eq(words.n, 2);
	ck_assert_str_eq(words.w[0], "show");
	ck_assert_str_eq(words.w[1], "stats");
	ck_assert_int_eq(split("daemon spawn echo \"/tmp/a b/\\\"q\\\\.seed\" 1 # why"), 0);
	ck_assert_uint_eq(words.n, 5);
	ck_assert_str_eq(words.w[3], "/tmp/a b/\"q\\.seed");
	ck_assert_str_eq(words.w[4], "1");
	ck_assert_int_eq(split("peer add \"\""), 0); /* an empty word is a word */
	ck_assert_uint_eq(words.n, 3);
	ck_assert_str_eq(words.w[2], "");
	ck_assert_int_eq(split("a#b"), 0); /* '#' inside a word is part of it */
	ck_assert_uint_eq(words.n, 1);
	ck_assert_str_eq(words.w[0], "a#b");
	ck_assert_int_eq(split("   # only a comment"), 0);
	ck_assert_uint_eq(words.n, 0);
	ck_assert_int_eq(split(""), 0);
	ck_assert_uint_eq(words.n, 0);
}
END_TEST

START_TEST(split_garbage)
{
	ck_error(split("show \"stats"), "unterminated quote");
	ck_error(split("show \"st\\ats\""), "unknown escape in quotes");
	ck_error(split("show \"stats\"x"), "text right after a closing quote");
	ck_error(split("sh\"ow"), "a quote inside a word");
	ck_error(split("show\x01stats"), "control byte 0x01");
	ck_error(split("show \"a\x1b\""), "control byte 0x1b");
	const char nul[] = "show\0stats";
	memset(&err, 0, sizeof(err));
	ck_error(app_cmd_split(nul, sizeof(nul) - 1, &words, &err), "control byte 0x00");
	ck_error(split("a b c d e f g h i j k l m n o p q"), "too many words (at most 16)");
	char *big = malloc(APP_CMD_LINE_MAX + 1);
	memset(big, 'x', APP_CMD_LINE_MAX);
	big[APP_CMD_LINE_MAX] = '\0';
	ck_error(split(big), "line too long (at most 4095 bytes)");
	big[APP_CMD_LINE_MAX - 1] = '\0'; /* 4095 bytes: the longest line */
	ck_assert_int_eq(split(big), 0);
	free(big);
}
END_TEST

START_TEST(find_takes_the_longest_name)
{
	unsigned k;
	ck_assert_int_eq(split("daemon stop 0x1 extra"), 0);
	const struct app_cmd *e = app_cmd_find(words.w, words.n, &k);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->name, "daemon stop");
	ck_assert_uint_eq(k, 2);
	ck_assert_int_eq(split("show"), 0);
	ck_assert_ptr_null(app_cmd_find(words.w, words.n, &k));
	ck_assert_int_eq(split("shows stats"), 0);
	ck_assert_ptr_null(app_cmd_find(words.w, words.n, &k));
	ck_assert_int_eq(split("quit"), 0);
	ck_assert_str_eq(app_cmd_find(words.w, words.n, &k)->name, "quit");
}
END_TEST

START_TEST(run_errors)
{
	ck_error(run("frob"), "unknown command 'frob' (help lists the commands)");
	ck_error(run("show"), "show what? show stats|ports|peers|sessions|daemons|meshos|migrations");
	ck_error(run("daemon frob"), "unknown command 'daemon frob' (daemon spawn|stop|snapshot|restore)");
	ck_error(run("show stats now"), "usage: show stats (no arguments)");
	ck_error(run("daemon spawn echo"), "usage: daemon spawn KIND SEEDFILE LCORE");
	ck_error(run("daemon snapshot 1 f cds1 x"), "usage: daemon snapshot ORIGIN FILE [cds1]");
	ck_error(run("peer del"), "usage: peer del IP");
	/* Without the appliance's parts each command says what is missing. */
	ck_error(run("show stats"), "no dataplane in this process");
	ck_error(run("peer del 10.0.0.1"), "no session manager in this process");
	ck_error(run("maintenance exit"), "no MeshOS in this process");
	ck_error(run("daemon stop 1"), "no runtime in this process");
	ck_error(run("migrate 1 2"), "no migration engine in this process");
	ck_error(run("migrate 1"), "usage: migrate ORIGIN NODE [unsealed]");
	ck_assert_int_eq(run("  # nothing"), 0);
	ck_assert_uint_eq(out_len, 0);
}
END_TEST

START_TEST(help_lists_and_filters)
{
	unsigned n;
	const struct app_cmd *t = app_cmd_table(&n);
	ck_assert_int_eq(run("help"), 0);
	for (unsigned i = 0; i < n; i++)
		ck_assert_msg(strstr(out, t[i].name) != NULL, "help lacks %s", t[i].name);
	ck_assert_int_eq(run("help daemon"), 0);
	ck_assert_ptr_nonnull(strstr(out, "daemon restore KIND SEEDFILE FILE LCORE"));
	ck_assert_ptr_null(strstr(out, "show stats"));
	ck_assert_int_eq(run("help show stats"), 0);
	ck_assert_ptr_nonnull(strstr(out, "show stats"));
	ck_assert_ptr_null(strstr(out, "show ports"));
	ck_error(run("help nope"), "no command 'nope'");
	ck_error(run("help show stats extra"), "no command 'show'");
}
END_TEST

START_TEST(quit_stops_the_appliance)
{
	ck_assert_int_eq(run("quit"), 0);
	ck_assert(cmds.quit);
	ck_assert(atomic_load(&app_force_quit));
	ck_assert_ptr_nonnull(strstr(out, "stopping"));
}
END_TEST

/* The console gives every entry rte_cmdline instances of its words: none may start another. */
START_TEST(table_invariants)
{
	unsigned n;
	const struct app_cmd *t = app_cmd_table(&n);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(t[i].help[0] != '\0', "%s: no help", t[i].name);
		ck_assert_msg(t[i].min_args <= t[i].max_args, "%s: min > max", t[i].name);
		ck_assert_msg((t[i].args[0] == '\0') == (t[i].max_args == 0), "%s: args syntax vs count",
			      t[i].name);
		ck_assert_msg(strlen(t[i].name) < 32 && t[i].fn != NULL, "%s", t[i].name);
		for (unsigned j = 0; j < n; j++) {
			size_t len = strlen(t[i].name);
			ck_assert_msg(i == j || !(strncmp(t[i].name, t[j].name, len) == 0 &&
						  (t[j].name[len] == ' ' || t[j].name[len] == '\0')),
				      "'%s' starts '%s'", t[i].name, t[j].name);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmds");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, split_words_quotes_comments);
	tcase_add_test(tc, split_garbage);
	tcase_add_test(tc, find_takes_the_longest_name);
	tcase_add_test(tc, run_errors);
	tcase_add_test(tc, help_lists_and_filters);
	tcase_add_test(tc, quit_stops_the_appliance);
	tcase_add_test(tc, table_invariants);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

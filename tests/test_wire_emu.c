/* SPDX-License-Identifier: MIT */
/*
 * test_wire_emu.c - netmesh-wire's switch, faults and commands (app/wire_emu.h)
 * on plain buffers: no EAL, no ports.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire_emu.h"

#define US 1000ULL

/* A frame is a 14-byte Ethernet header here: dst, src, type. */
struct frame {
	uint8_t b[14];
};

static struct frame mk(uint8_t dst, uint8_t src)
{
	struct frame f = { { 2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src, 0x08, 0x00 } };
	if (dst == 0xff)
		memset(f.b, 0xff, 6);
	return f;
}

static struct we_emu emu;

/* Offer frames 1..n (their handles are the numbers) to port 0 IN at time now. */
static void offer_n(unsigned n, uint64_t now)
{
	for (uintptr_t i = 1; i <= n; i++)
		ck_assert_int_ne(we_offer(&emu, 0, WE_IN, (void *)i, now), WE_DROP);
}

static uintptr_t take(uint64_t now)
{
	return (uintptr_t)we_take(&emu, 0, WE_IN, now);
}

static void cmd(const char *line)
{
	struct we_cmd c;
	char err[128] = "";
	ck_assert_msg(we_parse(&emu, line, &c, err, sizeof(err)) == 0, "%s: %s", line, err);
	we_apply(&emu, &c);
}

START_TEST(switch_learns_floods_and_forwards)
{
	ck_assert_int_eq(we_init(&emu, 3, 1), 0);
	unsigned out[WE_MAX_PORTS];
	struct frame f = mk(0xff, 0xa); /* broadcast from A on port 0: everywhere else */
	ck_assert_uint_eq(we_switch(&emu, 0, f.b, sizeof(f.b), out), 2);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(out[1], 2);
	f = mk(0xa, 0xb); /* B on port 2 answers A: learnt, so only port 0 */
	ck_assert_uint_eq(we_switch(&emu, 2, f.b, sizeof(f.b), out), 1);
	ck_assert_uint_eq(out[0], 0);
	f = mk(0xb, 0xa);
	ck_assert_uint_eq(we_switch(&emu, 0, f.b, sizeof(f.b), out), 1);
	ck_assert_uint_eq(out[0], 2);
	f = mk(0xc, 0xa); /* unknown destination: flooded */
	ck_assert_uint_eq(we_switch(&emu, 0, f.b, sizeof(f.b), out), 2);
	f = mk(0xb, 0xa); /* B moved to port 1 */
	struct frame g = mk(0xa, 0xb);
	we_switch(&emu, 1, g.b, sizeof(g.b), out);
	ck_assert_uint_eq(we_switch(&emu, 0, f.b, sizeof(f.b), out), 1);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(we_switch(&emu, 1, f.b, sizeof(f.b), out), 0); /* back where it came from */
	ck_assert_uint_eq(emu.no_port, 1);
	ck_assert_uint_eq(we_switch(&emu, 0, f.b, 10, out), 0); /* runt */
}
END_TEST

START_TEST(no_faults_pass_everything_in_order)
{
	ck_assert_int_eq(we_init(&emu, 2, 1), 0);
	offer_n(100, 0);
	for (uintptr_t i = 1; i <= 100; i++)
		ck_assert_uint_eq(take(0), i);
	ck_assert_uint_eq(take(0), 0);
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.passed, 100);
}
END_TEST

static unsigned lost_of(uint64_t seed, unsigned n)
{
	ck_assert_int_eq(we_init(&emu, 2, seed), 0);
	cmd("loss 0 5 in");
	unsigned lost = 0;
	for (uintptr_t i = 1; i <= n; i++) {
		enum we_verdict v = we_offer(&emu, 0, WE_IN, (void *)i, 0);
		lost += v == WE_DROP;
		while (take(0) != 0)
			;
	}
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.lost, lost);
	return lost;
}

START_TEST(loss_is_counted_near_its_rate_and_repeats_with_the_seed)
{
	unsigned a = lost_of(7, 20000), b = lost_of(7, 20000), c = lost_of(8, 20000);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, c);
	ck_assert_uint_gt(a, 800); /* 5 % of 20000 is 1000 */
	ck_assert_uint_lt(a, 1200);
	/* Only the configured line: port 0 OUT and port 1 are untouched. */
	ck_assert_int_ne(we_offer(&emu, 0, WE_OUT, (void *)1, 0), WE_DROP);
	ck_assert_uint_eq(emu.lines[0][WE_OUT].c.lost, 0);
}
END_TEST

START_TEST(duplicates_and_down_are_counted)
{
	ck_assert_int_eq(we_init(&emu, 2, 3), 0);
	cmd("dup 0 100");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)1, 0), WE_PASS_DUP);
	ck_assert(we_line_put(&emu, 0, WE_IN, (void *)1, 0));
	ck_assert_uint_eq(take(0), 1);
	ck_assert_uint_eq(take(0), 1);
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.duplicated, 1);
	cmd("clear 0");
	cmd("down 0 in");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)2, 0), WE_DROP);
	ck_assert_int_eq(we_offer(&emu, 0, WE_OUT, (void *)2, 0), WE_PASS); /* only IN is down */
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.down, 1);
	cmd("up 0");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)3, 0), WE_PASS);
	ck_assert_uint_eq(take(0), 3);
}
END_TEST

START_TEST(reorder_holds_a_frame_back_k_positions)
{
	ck_assert_int_eq(we_init(&emu, 2, 3), 0);
	cmd("reorder 0 100 2 0 in");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)1, 0), WE_PASS); /* held */
	cmd("reorder 0 0 0 0");
	for (uintptr_t i = 2; i <= 4; i++)
		ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)i, 0), WE_PASS);
	ck_assert_uint_eq(take(0), 2);
	ck_assert_uint_eq(take(0), 3);
	ck_assert_uint_eq(take(0), 1); /* two later frames passed it */
	ck_assert_uint_eq(take(0), 4);
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.reordered, 1);
}
END_TEST

START_TEST(reorder_by_time_and_delay_release_on_time)
{
	ck_assert_int_eq(we_init(&emu, 2, 3), 0);
	cmd("reorder 0 100 0 100");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)1, 1000 * US), WE_PASS);
	ck_assert_uint_eq(take(1099 * US), 0);
	ck_assert_uint_eq(take(1100 * US), 1);
	cmd("clear all");
	cmd("delay 0 50");
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)2, 2000 * US), WE_PASS);
	ck_assert_uint_eq(we_in_flight(&emu, 0, WE_IN), 1);
	ck_assert_uint_eq(take(2049 * US), 0);
	ck_assert_uint_eq(take(2050 * US), 2);
	ck_assert_uint_eq(we_in_flight(&emu, 0, WE_IN), 0);
}
END_TEST

START_TEST(a_full_line_drops_and_counts)
{
	ck_assert_int_eq(we_init(&emu, 1, 3), 0);
	cmd("delay 0 1000");
	for (uintptr_t i = 1; i <= WE_LINE_CAP; i++)
		ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)i, 0), WE_PASS);
	ck_assert_int_eq(we_offer(&emu, 0, WE_IN, (void *)1, 0), WE_DROP);
	ck_assert_uint_eq(emu.lines[0][WE_IN].c.overflow, 1);
}
END_TEST

/* Whatever the faults, every frame offered is accounted for. */
START_TEST(every_frame_is_accounted_for)
{
	ck_assert_int_eq(we_init(&emu, 2, 11), 0);
	cmd("loss 0 5");
	cmd("dup 0 5");
	cmd("reorder 0 5 4 300");
	cmd("delay 0 10");
	uint64_t now = 0;
	unsigned got = 0;
	for (uintptr_t i = 1; i <= 5000; i++, now += 3 * US) {
		if (i == 2000)
			cmd("down 0");
		if (i == 2100)
			cmd("up 0");
		if (we_offer(&emu, 0, WE_IN, (void *)i, now) == WE_PASS_DUP)
			ck_assert(we_line_put(&emu, 0, WE_IN, (void *)i, now));
		while (take(now) != 0)
			got++;
	}
	const struct we_counters *c = &emu.lines[0][WE_IN].c;
	ck_assert_uint_eq(c->frames, 5000);
	ck_assert_uint_eq(got, c->passed);
	ck_assert_uint_eq(c->frames + c->duplicated,
			  c->passed + c->lost + c->down + c->overflow + we_in_flight(&emu, 0, WE_IN));
	ck_assert_uint_eq(c->down, 100);
	ck_assert_uint_gt(c->lost, 0);
	ck_assert_uint_gt(c->duplicated, 0);
	ck_assert_uint_gt(c->reordered, 0);
}
END_TEST

static void bad(const char *line, const char *why)
{
	struct we_cmd c;
	char err[128] = "";
	ck_assert_msg(we_parse(&emu, line, &c, err, sizeof(err)) == -EINVAL, "%s: accepted", line);
	ck_assert_msg(strstr(err, why) != NULL, "%s: '%s' lacks '%s'", line, err, why);
}

START_TEST(pair_faults_hit_only_their_pair)
{
	ck_assert_int_eq(we_init(&emu, 4, 5), 0);
	cmd("loss 0<>1 100");
	cmd("down 2>0");
	ck_assert_int_eq(we_pair_offer(&emu, 0, 1), WE_DROP);
	ck_assert_int_eq(we_pair_offer(&emu, 1, 0), WE_DROP);
	ck_assert_int_eq(we_pair_offer(&emu, 2, 0), WE_DROP);
	ck_assert_int_eq(we_pair_offer(&emu, 0, 2), WE_PASS); /* one way only */
	static const unsigned untouched[][2] = { /* port 3 (a generator's) and 1 <-> 2 */
		{ 3, 0 }, { 0, 3 }, { 3, 1 }, { 1, 3 }, { 3, 2 }, { 2, 3 }, { 1, 2 }, { 2, 1 },
	};
	for (unsigned i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++)
		ck_assert_int_eq(we_pair_offer(&emu, untouched[i][0], untouched[i][1]), WE_PASS);
	ck_assert_uint_eq(emu.pairs[0][1].lost, 1);
	ck_assert_uint_eq(emu.pairs[2][0].down_drops, 1);
	ck_assert_uint_eq(we_pair_drops(&emu, 1, 0), 1);
	ck_assert_uint_eq(we_pair_drops(&emu, 3, 0), 0);
	/* The lines saw none of it: a pair is not a port's setting. */
	for (unsigned p = 0; p < 4; p++)
		ck_assert_uint_eq(emu.lines[p][WE_IN].f.loss_ppm + emu.lines[p][WE_OUT].f.loss_ppm, 0);
	cmd("clear all<>all");
	ck_assert_int_eq(we_pair_offer(&emu, 0, 1), WE_PASS);
	ck_assert_int_eq(we_pair_offer(&emu, 2, 0), WE_PASS);
	ck_assert_uint_eq(emu.pairs[0][1].lost, 1); /* counters stay */
	cmd("loss 1>2 5");
	unsigned lost = 0;
	for (unsigned i = 0; i < 20000; i++)
		lost += we_pair_offer(&emu, 1, 2) == WE_DROP;
	ck_assert_uint_gt(lost, 800);
	ck_assert_uint_lt(lost, 1200);
	cmd("dup all>3 100");
	ck_assert_int_eq(we_pair_offer(&emu, 0, 3), WE_PASS_DUP);
	ck_assert_uint_eq(emu.pairs[0][3].duplicated, 1);
	ck_assert_int_eq(we_pair_offer(&emu, 3, 0), WE_PASS);
}
END_TEST

START_TEST(line_drops_are_counted_against_their_pair)
{
	ck_assert_int_eq(we_init(&emu, 3, 1), 0);
	unsigned out[WE_MAX_PORTS];
	struct frame f = mk(0xa, 0xb);
	ck_assert_int_eq(we_lookup(&emu, f.b, sizeof(f.b)), -1); /* unknown yet */
	we_switch(&emu, 0, f.b, sizeof(f.b), out);              /* B learnt on port 0 */
	f = mk(0xb, 0xc);
	ck_assert_int_eq(we_lookup(&emu, f.b, sizeof(f.b)), 0);
	ck_assert_uint_eq(emu.flooded, 1);                       /* lookup learnt nothing */
	ck_assert_int_eq(we_lookup(&emu, f.b, 13), -1);
	f = mk(0xff, 0xc);
	ck_assert_int_eq(we_lookup(&emu, f.b, sizeof(f.b)), -1); /* broadcast */
	we_pair_line_drop(&emu, 2, 0);
	we_pair_line_drop(&emu, 2, 9); /* no such port: ignored */
	ck_assert_uint_eq(emu.pairs[2][0].line_drops, 1);
	ck_assert_uint_eq(we_pair_drops(&emu, 2, 0), 1);
	ck_assert_uint_eq(we_pair_drops(&emu, 9, 0), 0);
	ck_assert_int_eq(we_pair_offer(&emu, 9, 0), WE_DROP);
}
END_TEST

START_TEST(commands_parse_and_refuse_clearly)
{
	ck_assert_int_eq(we_init(&emu, 2, 1), 0);
	struct we_cmd c;
	char err[128];
	ck_assert_int_eq(we_parse(&emu, "loss 1 0.5 out\n", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.op, WE_OP_SET);
	ck_assert_uint_eq(c.ppm, 5000);
	ck_assert(!c.dir[WE_IN] && c.dir[WE_OUT]);
	ck_assert_int_eq(we_parse(&emu, "reorder all 5 8 2000", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.port_lo, 0);
	ck_assert_uint_eq(c.port_hi, 1);
	ck_assert_uint_eq(c.k, 8);
	ck_assert_uint_eq(c.ns, 2000 * US);
	ck_assert_int_eq(we_parse(&emu, "capture 1 4", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.op, WE_OP_CAPTURE);
	ck_assert_uint_eq(c.count, 4);
	ck_assert_int_eq(we_parse(&emu, "replay 1", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.op, WE_OP_REPLAY);
	ck_assert_int_eq(we_parse(&emu, "stats", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.op, WE_OP_STATS);
	bad("", "empty");
	bad("bogus 0", "unknown command");
	bad("loss 2 5", "PORT");
	bad("loss 0 101", "percentage");
	bad("loss 0 x", "percentage");
	bad("loss 0 5 sideways", "DIR");
	bad("loss 0 5 in extra", "too many");
	bad("reorder 0 5 4", "usage: reorder");
	bad("delay 0 -1", "microseconds");
	bad("capture all 4", "one port");
	bad("capture 0 65", "usage: capture");
	bad("stats now", "too many");
	ck_assert_int_eq(we_parse(&emu, "loss 0<>1 5", &c, err, sizeof(err)), 0);
	ck_assert(c.pair && c.both_ways);
	ck_assert_uint_eq(c.port_lo, 0);
	ck_assert_uint_eq(c.to_lo, 1);
	ck_assert_uint_eq(c.ppm, 50000);
	ck_assert_int_eq(we_parse(&emu, "down all>0", &c, err, sizeof(err)), 0);
	ck_assert(c.pair && !c.both_ways);
	ck_assert_uint_eq(c.port_hi, 1);
	ck_assert_uint_eq(c.to_hi, 0);
	bad("loss 0>1 5 in", "no DIR");
	bad("delay 0>1 100", "a pair takes");
	bad("capture 0>1 4", "a pair takes");
	bad("loss 0>2 5", "PORT");
	bad("loss 0<> 5", "PORT");
	bad("loss >1 5", "PORT");
	bad("loss 0>>1 5", "PORT");
	bad("loss 0>1", "percentage");
	bad("up 0>1 now", "no DIR");
}
END_TEST

START_TEST(stats_show_every_counter)
{
	ck_assert_int_eq(we_init(&emu, 2, 1), 0);
	cmd("loss 1 100 out");
	ck_assert_int_eq(we_offer(&emu, 1, WE_OUT, (void *)1, 0), WE_DROP);
	char out[2048];
	size_t n = we_format_stats(&emu, out, sizeof(out));
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_ptr_nonnull(strstr(out, "port 1 out: frames=1 passed=0 lost=1 down=0"));
	ck_assert_ptr_nonnull(strstr(out, "port 0 in: frames=0"));
	ck_assert_ptr_nonnull(strstr(out, "switch: flooded=0"));
	ck_assert_ptr_null(strstr(out, "pair ")); /* no pair carried a frame or has a fault */
	cmd("loss 0>1 2.5");
	ck_assert_int_ne(we_pair_offer(&emu, 1, 0), WE_DROP);
	we_format_stats(&emu, out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "pair 0>1: frames=0 lost=0 down=0 duplicated=0 "
					  "line_drops=0 drops=0 loss_ppm=25000 dup_ppm=0 link=up\n"));
	ck_assert_ptr_nonnull(strstr(out, "pair 1>0: frames=1 lost=0"));
	ck_assert_uint_lt(we_format_stats(&emu, out, 10), 10); /* truncates, never overruns */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire_emu");
	TCase *tc = tcase_create("emu");
	tcase_add_test(tc, switch_learns_floods_and_forwards);
	tcase_add_test(tc, no_faults_pass_everything_in_order);
	tcase_add_test(tc, loss_is_counted_near_its_rate_and_repeats_with_the_seed);
	tcase_add_test(tc, duplicates_and_down_are_counted);
	tcase_add_test(tc, reorder_holds_a_frame_back_k_positions);
	tcase_add_test(tc, reorder_by_time_and_delay_release_on_time);
	tcase_add_test(tc, a_full_line_drops_and_counts);
	tcase_add_test(tc, every_frame_is_accounted_for);
	tcase_add_test(tc, pair_faults_hit_only_their_pair);
	tcase_add_test(tc, line_drops_are_counted_against_their_pair);
	tcase_add_test(tc, commands_parse_and_refuse_clearly);
	tcase_add_test(tc, stats_show_every_counter);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

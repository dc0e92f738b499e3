/* SPDX-License-Identifier: MIT */
/*
 * test_statedir.c - state that survives restarts: the chain-head extension
 * (nm_snapshot.h / nm_host.h), the state directory (nm_statedir.h): file
 * format, atomic writes, bad files set aside, crash safety, periodic ticks.
 * The runtime stands on a mesh, so EAL runs once (no hugepages, net_null0).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nm_builtin.h"
#include "nm_mesh.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"
#include "nm_statedir.h"
#include "nm_test.h"

/* ---- fixtures ---- */

static struct nm_runtime *runtime_new(void)
{
	return nm_test_runtime_new();
}

static void runtime_free(struct nm_runtime *rt)
{
	nm_test_runtime_free(rt);
}

/*
 * tally: adds up the bytes of every event and answers "tally=<total>". Its
 * state (LE64 total) is NOT its last output, so upstream's restore fallback
 * (parent hash over the state) breaks its chain; the extension must not.
 */
struct tally {
	struct nm_daemon base;
	uint64_t total;
};

static int tally_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			 struct nm_error *err)
{
	struct tally *t = (struct tally *)d;
	char reply[32];
	(void)err;
	t->total += ev->len;
	int n = snprintf(reply, sizeof(reply), "tally=%" PRIu64, t->total);
	return nm_emit(out, reply, (uint32_t)n);
}

static int tally_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	uint8_t le[8];
	uint64_t v = ((const struct tally *)d)->total;
	(void)err;
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	return nm_bytes_append(out, le, sizeof(le));
}

static int tally_restore(struct nm_daemon *d, const uint8_t *state, size_t len,
			 struct nm_error *err)
{
	if (len != 8)
		return nm_error_set(err, NM_ERESTORE_FAILED, "tally state must be 8 bytes, got %zu", len);
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | state[i];
	((struct tally *)d)->total = v;
	return 0;
}

static void tally_destroy(struct nm_daemon *d)
{
	free(d);
}

static const struct nm_daemon_ops tally_ops = {
	.name = "tally",
	.process = tally_process,
	.snapshot = tally_snapshot,
	.restore = tally_restore,
	.destroy = tally_destroy,
};

static struct nm_daemon *tally_new(void *ctx)
{
	(void)ctx;
	struct tally *t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->base.ops = &tally_ops;
	return t != NULL ? &t->base : NULL;
}

/* A started runtime with the builtins and "tally". */
static struct nm_runtime *runtime_ready(void)
{
	struct nm_runtime *rt = runtime_new();
	struct nm_error err;
	ck_assert_int_eq(nm_builtin_register_all(rt, &err), 0);
	ck_assert_int_eq(nm_runtime_register_factory(rt, "tally", tally_new, NULL, &err), 0);
	ck_assert_int_eq(nm_runtime_start(rt, &err), 0);
	return rt;
}

static struct nm_identity gen(void)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_generate(&id), 0);
	return id;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The last output seen on a chain, kept to validate the next one against it. */
struct last_out {
	struct nm_causal_link link;
	uint8_t payload[64];
	uint32_t len;
	bool valid;
};

/*
 * Deliver one event and check the chain link by link: the output must
 * follow the previous one. Returns the verdict of that check (NM_CHAIN_OK on
 * the first output seen).
 */
static enum nm_chain_verdict step(struct nm_runtime *rt, uint64_t origin, struct last_out *last,
				  struct nm_outputs *out)
{
	static uint64_t seq;
	struct nm_event ev = { .link = { .origin_hash = 0xC11E17, .sequence = ++seq },
			       .payload = (const uint8_t *)"event",
			       .len = 5 };
	struct nm_error err;
	int rc = nm_runtime_deliver(rt, origin, &ev, out, &err);
	ck_assert_msg(rc == 0, "deliver: %s", err.msg);
	ck_assert_uint_eq(out->n, 1);
	enum nm_chain_verdict v = NM_CHAIN_OK;
	if (last->valid)
		v = nm_chain_validate(&last->link, last->payload, last->len, &out->ev[0].link, NULL);
	ck_assert_uint_le(out->ev[0].len, sizeof(last->payload));
	last->link = out->ev[0].link;
	last->len = out->ev[0].len;
	memcpy(last->payload, out->ev[0].payload, last->len);
	last->valid = true;
	return v;
}

/* Run n events through a daemon, each link validated. */
static void steps_ok(struct nm_runtime *rt, uint64_t origin, struct last_out *last, int n,
		     struct nm_outputs *out)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(step(rt, origin, last, out), NM_CHAIN_OK);
}

static struct nm_outputs *outputs(void)
{
	struct nm_outputs *o = nm_outputs_create(8, 1024);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* CDS1 bytes and back: what crosses a wire or a file (no in-memory extras). */
static struct nm_snapshot *cds1_roundtrip(const struct nm_snapshot *s)
{
	size_t n = nm_snapshot_wire_size(s), w = 0;
	uint8_t *buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(nm_snapshot_encode(s, buf, n, &w), 0);
	struct nm_snapshot *d = NULL;
	ck_assert_int_eq(nm_snapshot_decode(buf, w, &d, NULL), 0);
	free(buf);
	return d;
}


/* ---- state directory fixtures ---- */

/* A fresh directory per test run (other engineers run this suite too). */
static void tmpdir(char *buf, size_t cap)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, cap, "%s/nm-statedir-%d-XXXXXX", t != NULL && t[0] != '\0' ? t : "/tmp",
		 (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	char p[512];
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0 && errno == EISDIR)
			rmtree(p);
	}
	closedir(d);
	rmdir(dir);
}

/* A runtime (the builtins and tally) with a state directory on it. */
struct node {
	struct nm_runtime *rt;
	struct nm_statedir *sd;
};

static struct node node_up(const char *dir, uint64_t interval_ns)
{
	struct node n = { .rt = runtime_ready() };
	struct nm_statedir_config c = { .path = dir, .rt = n.rt, .interval_ns = interval_ns };
	struct nm_error err;
	int rc = nm_statedir_open(&c, &n.sd, &err);
	ck_assert_msg(rc == 0, "open: %s", err.msg);
	return n;
}

static void node_down(struct node *n)
{
	nm_statedir_close(n->sd);
	runtime_free(n->rt);
}

/* Spawn through the state dir; returns whether it was restored. */
static bool spawn_ok(struct node *n, const char *kind, const struct nm_identity *id)
{
	struct nm_daemon_handle h;
	struct nm_error err;
	bool restored = true;
	int rc = nm_statedir_spawn(n->sd, kind, id, NULL, &h, &restored, &err);
	ck_assert_msg(rc == 0, "spawn %s: %s", kind, err.msg);
	return restored;
}

static void file_path(const char *dir, uint64_t origin, const char *suffix, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%016" PRIx64 ".nmstate%s", dir, origin, suffix);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void write_bytes(const char *path, const uint8_t *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Names in dir starting with prefix (the first one into found). */
static int count_prefix(const char *dir, const char *prefix, char *found, size_t cap)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			if (n++ == 0 && found != NULL)
				snprintf(found, cap, "%s/%s", dir, e->d_name);
		}
	closedir(d);
	return n;
}

/* ---- restarts through the state directory ---- */

/* The example: a counter at 1000 answers 1001 after a restart. */
START_TEST(counter_at_1000_answers_1001_after_a_restart_and_its_chain_continues)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };

	struct node a = node_up(dir, 0);
	ck_assert(!spawn_ok(&a, "counter", &id)); /* no file yet: fresh */
	steps_ok(a.rt, id.origin_hash, &last, 1000, out);
	ck_assert_uint_eq(le64(last.payload), 1000);
	struct nm_error err;
	ck_assert_int_eq(nm_statedir_save_all(a.sd, &err), 0);
	node_down(&a);

	char path[512];
	file_path(dir, id.origin_hash, "", path, sizeof(path));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);

	struct node b = node_up(dir, 0);
	ck_assert(spawn_ok(&b, "counter", &id));
	ck_assert_int_eq(step(b.rt, id.origin_hash, &last, out), NM_CHAIN_OK);
	ck_assert_uint_eq(le64(last.payload), 1001);
	ck_assert_uint_eq(last.link.sequence, 1001);
	steps_ok(b.rt, id.origin_hash, &last, 5, out);
	struct nm_statedir_stats ss;
	nm_statedir_stats(b.sd, &ss);
	ck_assert_uint_eq(ss.restored, 1);
	node_down(&b);
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* The same for a daemon whose state is not its last output (and a restart twice). */
START_TEST(tally_chain_continues_across_two_restarts)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	for (int run = 0; run < 3; run++) {
		struct node n = node_up(dir, 0);
		ck_assert(spawn_ok(&n, "tally", &id) == (run > 0));
		steps_ok(n.rt, id.origin_hash, &last, 10, out);
		char want[32];
		snprintf(want, sizeof(want), "tally=%d", 50 * (run + 1));
		ck_assert_str_eq((const char *)last.payload, want);
		ck_assert_int_eq(nm_statedir_save_all(n.sd, NULL), 0);
		node_down(&n);
	}
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* Stateless daemons have nothing to keep: never a file. */
START_TEST(stateless_daemons_are_never_written)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity echo = gen(), ctr = gen();
	struct nm_outputs *out = outputs();
	struct last_out le = { 0 }, lc = { 0 };
	struct node n = node_up(dir, 1000);
	spawn_ok(&n, "echo", &echo);
	spawn_ok(&n, "counter", &ctr);
	steps_ok(n.rt, echo.origin_hash, &le, 3, out);
	steps_ok(n.rt, ctr.origin_hash, &lc, 3, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 1, NULL), 0);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 5000, NULL), 1); /* the counter only */
	ck_assert_int_eq(nm_statedir_save_all(n.sd, NULL), 0);
	char path[512];
	file_path(dir, echo.origin_hash, "", path, sizeof(path));
	ck_assert(!exists(path));
	file_path(dir, ctr.origin_hash, "", path, sizeof(path));
	ck_assert(exists(path));
	struct nm_statedir_stats ss;
	nm_statedir_stats(n.sd, &ss);
	ck_assert_uint_eq(ss.writes, 2);
	node_down(&n);
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* ---- bad files ---- */

enum damage { FLIP, TRUNCATE, EMPTY, VERSION, NOT_OURS, OTHER_ORIGIN, OTHER_KIND, BAD_STATE };

static const struct {
	enum damage d;
	const char *reason;
} damages[] = {
	{ FLIP, "checksum mismatch" },
	{ TRUNCATE, "truncated" },
	{ EMPTY, "not a netmesh state file" },
	{ VERSION, "unknown version 7" },
	{ NOT_OURS, "not a netmesh state file" },
	{ OTHER_ORIGIN, "belongs to origin" },
	{ OTHER_KIND, "belongs to kind 'counter', not 'tally'" },
	{ BAD_STATE, "counter state must be 8 bytes, got 3" },
};

/* A good counter file for `id`, its state after 3 events. */
static void good_counter_file(const char *dir, const struct nm_identity *id)
{
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct node n = node_up(dir, 0);
	spawn_ok(&n, "counter", id);
	steps_ok(n.rt, id->origin_hash, &last, 3, out);
	ck_assert_int_eq(nm_statedir_save_all(n.sd, NULL), 0);
	node_down(&n);
	nm_outputs_free(out);
}

/* Damage id's file; returns the kind to spawn it as. */
static const char *damage_file(const char *dir, enum damage d, const struct nm_identity *id)
{
	static uint8_t buf[4096];
	char path[512];
	file_path(dir, id->origin_hash, "", path, sizeof(path));
	struct nm_identity other = gen();
	size_t n = 0;
	switch (d) {
	case OTHER_ORIGIN: /* a good file of another daemon, copied over */
		good_counter_file(dir, &other);
		file_path(dir, other.origin_hash, "", path, sizeof(path));
		n = read_all(path, buf, sizeof(buf));
		file_path(dir, id->origin_hash, "", path, sizeof(path));
		break;
	case BAD_STATE: { /* intact, but a state the counter rejects */
		struct nm_causal_link head = nm_link_genesis(id->origin_hash, 0);
		struct nm_snapshot *s =
			nm_snapshot_new(nm_identity_entity_id(id), &head, "abc", 3, NULL, 0);
		nm_snapshot_set_next_parent(s, 1);
		ck_assert_int_eq(nm_statefile_encode("counter", s, 0, buf, sizeof(buf), &n, NULL), 0);
		nm_snapshot_free(s);
		break;
	}
	case NOT_OURS:
		n = (size_t)snprintf((char *)buf, sizeof(buf), "{\"count\": 3}\n");
		break;
	default:
		good_counter_file(dir, id);
		n = read_all(path, buf, sizeof(buf));
		if (d == FLIP)
			buf[NM_STATEFILE_HDR + 20] ^= 0x10;
		else if (d == TRUNCATE)
			n -= 10;
		else if (d == EMPTY)
			n = 0;
		else if (d == VERSION)
			buf[4] = 7;
		break;
	}
	write_bytes(path, buf, n);
	return d == OTHER_KIND ? "tally" : "counter";
}

/*
 * Every kind of bad file: the spawn fails with an error naming the file and
 * the reason, the file is set aside byte for byte, the daemon is not started,
 * and it is not started empty on the next try either.
 */
START_TEST(a_bad_state_file_is_named_set_aside_and_the_daemon_not_started_empty)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	const char *kind = damage_file(dir, damages[_i].d, &id);
	char path[512], aside[600], prefix[64];
	file_path(dir, id.origin_hash, "", path, sizeof(path));
	static uint8_t before[4096], after[4096];
	size_t n = read_all(path, before, sizeof(before));

	struct node nd = node_up(dir, 0);
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_statedir_spawn(nd.sd, kind, &id, NULL, &h, NULL, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err.msg, path) != NULL, "no file name in: %s", err.msg);
	ck_assert_msg(strstr(err.msg, damages[_i].reason) != NULL, "no '%s' in: %s",
		      damages[_i].reason, err.msg);
	ck_assert_msg(strstr(err.msg, "set aside as") != NULL, "%s", err.msg);
	ck_assert(!nm_runtime_has_daemon(nd.rt, id.origin_hash));
	ck_assert(!exists(path));
	snprintf(prefix, sizeof(prefix), "%016" PRIx64 ".nmstate.bad-", id.origin_hash);
	ck_assert_int_eq(count_prefix(dir, prefix, aside, sizeof(aside)), 1);
	ck_assert_uint_eq(read_all(aside, after, sizeof(after)), n);
	ck_assert(memcmp(before, after, n) == 0);

	/* Not started empty by a second try either. */
	rc = nm_statedir_spawn(nd.sd, kind, &id, NULL, &h, NULL, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err.msg, "refusing to start the daemon empty") != NULL, "%s", err.msg);
	ck_assert(!nm_runtime_has_daemon(nd.rt, id.origin_hash));
	ck_assert_int_eq(count_prefix(dir, prefix, NULL, 0), 1);

	/* The operator moves it away: now the daemon starts fresh. */
	ck_assert_int_eq(unlink(aside), 0);
	ck_assert(!spawn_ok(&nd, kind, &id));
	node_down(&nd);
	rmtree(dir);
}
END_TEST

/* Setting aside never replaces an earlier set-aside file. */
START_TEST(setting_aside_never_overwrites)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	damage_file(dir, FLIP, &id);
	char p[600], prefix[64];
	long long t = (long long)time(NULL);
	for (long long k = 0; k < 3; k++) { /* now and the next seconds: whatever time() says */
		char sfx[64];
		snprintf(sfx, sizeof(sfx), ".bad-%lld", t + k);
		file_path(dir, id.origin_hash, sfx, p, sizeof(p));
		write_bytes(p, (const uint8_t *)"old", 3);
	}
	struct node nd = node_up(dir, 0);
	struct nm_daemon_handle h;
	struct nm_error err;
	ck_assert_int_lt(nm_statedir_spawn(nd.sd, "counter", &id, NULL, &h, NULL, &err), 0);
	ck_assert_msg(strstr(err.msg, ".1)") != NULL, "%s", err.msg);
	node_down(&nd);
	snprintf(prefix, sizeof(prefix), "%016" PRIx64 ".nmstate.bad-", id.origin_hash);
	ck_assert_int_eq(count_prefix(dir, prefix, NULL, 0), 4);
	for (long long k = 0; k < 3; k++) {
		char sfx[64];
		uint8_t b[8];
		snprintf(sfx, sizeof(sfx), ".bad-%lld", t + k);
		file_path(dir, id.origin_hash, sfx, p, sizeof(p));
		ck_assert_uint_eq(read_all(p, b, sizeof(b)), 3);
		ck_assert(memcmp(b, "old", 3) == 0);
	}
	rmtree(dir);
}
END_TEST

/* The codec on flat buffers: round trip, then every truncation and bit flip fails cleanly. */
START_TEST(statefile_codec_round_trips_and_rejects_every_truncation_and_flip)
{
	struct nm_identity id = gen();
	struct nm_causal_link head = { id.origin_hash, 0x1234, 9, 0x5678 };
	struct nm_snapshot *s = nm_snapshot_new(nm_identity_entity_id(&id), &head, "state", 5, NULL, 0);
	s->horizon_encoded = 0xABCD;
	uint8_t buf[512];
	size_t n = 0;
	ck_assert_int_eq(nm_statefile_encode("tally", s, 1, buf, sizeof(buf), &n, NULL), -EINVAL);
	nm_snapshot_set_next_parent(s, 0xFEEDFACE);
	ck_assert_int_eq(nm_statefile_encode("tally", s, 1, buf, 10, &n, NULL), -ENOSPC);
	ck_assert_int_eq(nm_statefile_encode("tally", s, 1, buf, sizeof(buf), &n, NULL), 0);
	ck_assert_uint_eq(n, nm_statefile_size(s));
	ck_assert_uint_eq(n, NM_STATEFILE_HDR + 94 + 5 + NM_STATEFILE_SUM);
	ck_assert(memcmp(buf, "NMST", 4) == 0);

	struct nm_snapshot *d = NULL;
	ck_assert_int_eq(nm_statefile_decode(buf, n, "tally", id.origin_hash, &d, NULL), 0);
	ck_assert(d->has_next_parent);
	ck_assert_uint_eq(d->next_parent, 0xFEEDFACE);
	ck_assert_uint_eq(d->horizon_encoded, 0xABCD);
	ck_assert_uint_eq(d->chain_link.sequence, 9);
	ck_assert_uint_eq(d->state_len, 5);
	ck_assert(memcmp(d->state, "state", 5) == 0);
	nm_snapshot_free(d);

	struct nm_error err;
	for (size_t len = 0; len < n; len++) {
		ck_assert_int_eq(nm_statefile_decode(buf, len, "tally", id.origin_hash, &d, &err),
				 NM_EMALFORMED);
		ck_assert_ptr_null(d);
	}
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			ck_assert_int_eq(nm_statefile_decode(buf, n, "tally", id.origin_hash, &d, &err),
					 NM_EMALFORMED);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	ck_assert_int_eq(nm_statefile_decode(buf, n, "tally", id.origin_hash + 1, &d, &err),
			 NM_EMALFORMED);
	ck_assert_msg(strstr(err.msg, "belongs to origin") != NULL, "%s", err.msg);
	nm_snapshot_free(s);
}
END_TEST

/* ---- crash safety ---- */

/*
 * A crash inside a save (after the tmp write, before the rename; or with the
 * tmp file half written) leaves the previous good file: it loads, and the
 * leftover tmp file is ignored and removed on the next open.
 */
START_TEST(a_crash_during_a_save_leaves_the_last_good_file)
{
	static const enum nm_statedir_fault faults[] = { NM_STATEDIR_FAULT_BEFORE_RENAME,
							 NM_STATEDIR_FAULT_TORN_TMP };
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct node a = node_up(dir, 0);
	spawn_ok(&a, "counter", &id);
	steps_ok(a.rt, id.origin_hash, &last, 5, out);
	ck_assert_int_eq(nm_statedir_save(a.sd, id.origin_hash, NULL), 0);
	struct last_out saved = last;
	steps_ok(a.rt, id.origin_hash, &last, 3, out);
	nm_statedir_set_fault(a.sd, faults[_i]);
	struct nm_error err;
	ck_assert_int_lt(nm_statedir_save(a.sd, id.origin_hash, &err), 0);
	char tmp[512];
	file_path(dir, id.origin_hash, ".tmp", tmp, sizeof(tmp));
	ck_assert(exists(tmp)); /* what kill -9 would leave */
	node_down(&a);

	struct node b = node_up(dir, 0);
	struct nm_statedir_stats ss;
	nm_statedir_stats(b.sd, &ss);
	ck_assert_uint_eq(ss.tmp_removed, 1);
	ck_assert(!exists(tmp));
	ck_assert(spawn_ok(&b, "counter", &id));
	ck_assert_int_eq(step(b.rt, id.origin_hash, &saved, out), NM_CHAIN_OK);
	ck_assert_uint_eq(le64(saved.payload), 6); /* the last good file's state, 5, then one */
	node_down(&b);
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* One process per directory: a second open fails clearly until the first closes. */
START_TEST(a_state_dir_is_locked_by_one_process)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct node a = node_up(dir, 0);
	struct nm_runtime *rt = runtime_ready();
	struct nm_statedir_config c = { .path = dir, .rt = rt };
	struct nm_statedir *sd = NULL;
	struct nm_error err;
	ck_assert_int_eq(nm_statedir_open(&c, &sd, &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, dir) && strstr(err.msg, "in use"), "%s", err.msg);
	node_down(&a);
	ck_assert_int_eq(nm_statedir_open(&c, &sd, &err), 0);
	nm_statedir_close(sd);
	runtime_free(rt);

	char missing[512];
	snprintf(missing, sizeof(missing), "%s/no/such/parent", dir);
	c.path = missing;
	rt = runtime_ready();
	c.rt = rt;
	ck_assert_int_eq(nm_statedir_open(&c, &sd, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
	runtime_free(rt);
	rmtree(dir);
}
END_TEST

/* ---- the periodic save ---- */

static uint64_t file_seq(const char *dir, uint64_t origin)
{
	char path[512];
	uint8_t buf[4096];
	file_path(dir, origin, "", path, sizeof(path));
	if (!exists(path))
		return 0;
	size_t n = read_all(path, buf, sizeof(buf));
	struct nm_snapshot *s = NULL;
	ck_assert_int_eq(nm_statefile_decode(buf, n, "counter", origin, &s, NULL), 0);
	uint64_t seq = s->chain_link.sequence;
	nm_snapshot_free(s);
	return seq;
}

/* By time: the directory's interval; the clock starts at the first tick. */
START_TEST(the_tick_writes_only_when_the_interval_has_passed)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	const uint64_t s = 1000000000ull;
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct node n = node_up(dir, 2 * s);
	spawn_ok(&n, "counter", &id);
	steps_ok(n.rt, id.origin_hash, &last, 4, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 10 * s, NULL), 0);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 11 * s, NULL), 0);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 0);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 12 * s, NULL), 1);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 4);
	steps_ok(n.rt, id.origin_hash, &last, 2, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 13 * s, NULL), 0);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 4);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 14 * s, NULL), 1);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 6);
	node_down(&n);
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* By events: upstream's auto_snapshot_interval counts events processed. */
START_TEST(the_tick_honours_auto_snapshot_interval_in_events)
{
	char dir[256];
	tmpdir(dir, sizeof(dir));
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct node n = node_up(dir, 0);
	struct nm_host_config cfg = nm_host_config_default();
	cfg.auto_snapshot_interval = 10;
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_statedir_spawn(n.sd, "counter", &id, &cfg, &h, NULL, NULL), 0);
	steps_ok(n.rt, id.origin_hash, &last, 9, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 1, NULL), 0);
	steps_ok(n.rt, id.origin_hash, &last, 1, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 2, NULL), 1);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 10);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 3, NULL), 0);
	steps_ok(n.rt, id.origin_hash, &last, 12, out);
	ck_assert_int_eq(nm_statedir_tick(n.sd, 4, NULL), 1);
	ck_assert_uint_eq(file_seq(dir, id.origin_hash), 22);
	node_down(&n);
	nm_outputs_free(out);
	rmtree(dir);
}
END_TEST

/* ---- the chain-head extension (host/runtime) ---- */

/* A daemon of `kind` run for n events on its own runtime, then snapshotted in memory. */
static struct nm_snapshot *run_then_snapshot(const char *kind, const struct nm_identity *id, int n,
					     struct last_out *last, struct nm_outputs *out)
{
	struct nm_runtime *rt = runtime_ready();
	struct nm_daemon_handle h;
	ck_assert_int_eq(nm_runtime_spawn(rt, kind, id, NULL, &h, NULL), 0);
	steps_ok(rt, id->origin_hash, last, n, out);
	struct nm_snapshot *snap = NULL;
	ck_assert_int_eq(nm_runtime_snapshot(rt, id->origin_hash, &snap, NULL), 0);
	ck_assert_ptr_nonnull(snap);
	runtime_free(rt);
	return snap;
}

/* A new runtime with the daemon restored from snap; the next event's chain verdict. */
static enum nm_chain_verdict restore_then_step(const char *kind, const struct nm_identity *id,
					       const struct nm_snapshot *snap, struct last_out *last,
					       struct nm_outputs *out)
{
	struct nm_runtime *rt = runtime_ready();
	struct nm_daemon_handle h;
	struct nm_error err;
	int rc = nm_runtime_spawn_from_snapshot(rt, kind, id, snap, NULL, &h, &err);
	ck_assert_msg(rc == 0, "restore: %s", err.msg);
	enum nm_chain_verdict v = step(rt, id->origin_hash, last, out);
	runtime_free(rt);
	return v;
}

/* An in-process snapshot carries the next parent hash: tally's chain continues. */
START_TEST(chain_head_snapshot_restore_continues_a_daemon_whose_state_is_not_its_output)
{
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct nm_snapshot *snap = run_then_snapshot("tally", &id, 7, &last, out);
	ck_assert(snap->has_next_parent);
	ck_assert_uint_eq(snap->next_parent, nm_parent_hash(&last.link, last.payload, last.len));
	ck_assert_int_eq(restore_then_step("tally", &id, snap, &last, out), NM_CHAIN_OK);
	ck_assert_uint_eq(last.link.sequence, 8);
	ck_assert_str_eq((const char *)last.payload, "tally=40");
	nm_snapshot_free(snap);
	nm_outputs_free(out);
}
END_TEST

/*
 * A snapshot decoded from CDS1 has no extension: upstream's fallback (parent
 * over the state) applies, which breaks tally's chain; giving the decoded
 * snapshot the recorded next parent hash repairs it.
 */
START_TEST(chain_head_decoded_snapshot_falls_back_unless_given_the_next_parent)
{
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct nm_snapshot *snap = run_then_snapshot("tally", &id, 4, &last, out);
	struct nm_snapshot *wire = cds1_roundtrip(snap);
	ck_assert(!wire->has_next_parent);
	struct last_out l1 = last;
	ck_assert_int_eq(restore_then_step("tally", &id, wire, &l1, out), NM_CHAIN_PARENT_MISMATCH);

	nm_snapshot_set_next_parent(wire, snap->next_parent);
	ck_assert_int_eq(restore_then_step("tally", &id, wire, &last, out), NM_CHAIN_OK);
	ck_assert_str_eq((const char *)last.payload, "tally=25");
	nm_snapshot_free(wire);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
}
END_TEST

/* Upstream's fallback still holds for the counter (state == last output). */
START_TEST(chain_head_decoded_counter_snapshot_continues_by_upstream_fallback)
{
	struct nm_identity id = gen();
	struct nm_outputs *out = outputs();
	struct last_out last = { 0 };
	struct nm_snapshot *snap = run_then_snapshot("counter", &id, 3, &last, out);
	struct nm_snapshot *wire = cds1_roundtrip(snap);
	ck_assert_int_eq(restore_then_step("counter", &id, wire, &last, out), NM_CHAIN_OK);
	ck_assert_uint_eq(le64(last.payload), 4);
	nm_snapshot_free(wire);
	nm_snapshot_free(snap);
	nm_outputs_free(out);
}
END_TEST

static Suite *statedir_suite(void)
{
	Suite *s = suite_create("statedir");
	TCase *ch = tcase_create("chain-head");
	tcase_add_test(ch, chain_head_snapshot_restore_continues_a_daemon_whose_state_is_not_its_output);
	tcase_add_test(ch, chain_head_decoded_snapshot_falls_back_unless_given_the_next_parent);
	tcase_add_test(ch, chain_head_decoded_counter_snapshot_continues_by_upstream_fallback);
	suite_add_tcase(s, ch);
	TCase *sd = tcase_create("statedir");
	tcase_set_timeout(sd, 60);
	tcase_add_test(sd, counter_at_1000_answers_1001_after_a_restart_and_its_chain_continues);
	tcase_add_test(sd, tally_chain_continues_across_two_restarts);
	tcase_add_test(sd, stateless_daemons_are_never_written);
	tcase_add_loop_test(sd, a_bad_state_file_is_named_set_aside_and_the_daemon_not_started_empty,
			    0, (int)(sizeof(damages) / sizeof(damages[0])));
	tcase_add_test(sd, setting_aside_never_overwrites);
	tcase_add_test(sd, statefile_codec_round_trips_and_rejects_every_truncation_and_flip);
	tcase_add_loop_test(sd, a_crash_during_a_save_leaves_the_last_good_file, 0, 2);
	tcase_add_test(sd, a_state_dir_is_locked_by_one_process);
	tcase_add_test(sd, the_tick_writes_only_when_the_interval_has_passed);
	tcase_add_test(sd, the_tick_honours_auto_snapshot_interval_in_events);
	suite_add_tcase(s, sd);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	nm_test_eal_init(argv[0]);
	return nm_test_run_nofork(statedir_suite());
}

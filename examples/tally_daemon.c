/* SPDX-License-Identifier: MIT */
/*
 * tally_daemon.c - a complete stateful daemon, and a program that runs it.
 *
 * The "tally" daemon adds up the bytes of every event it sees and answers
 * each event with "tally=<total>". Its state (the total, LE64) survives a
 * snapshot and a restore. Build it out of tree with:
 *
 *   cc tally_daemon.c $(pkg-config --cflags --libs netmesh) -o tally
 *   ./tally                      # built-in EAL args: --no-huge, net_null0
 *   ./tally [EAL args]           # or your own, e.g. a real port
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netmesh.h>
#include <nm_eal.h>  /* the dataplane: EAL and the mesh the runtime stands on */
#include <nm_mesh.h>

struct tally {
	struct nm_daemon base; /* first member: the runtime sees a struct nm_daemon */
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
	return nm_emit(out, reply, (uint32_t)n); /* -ENOSPC fails the event, visibly */
}

static int tally_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	uint64_t v = ((const struct tally *)d)->total;
	uint8_t le[8];
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
	if (t == NULL)
		return NULL;
	t->base.ops = &tally_ops;
	return &t->base;
}

/* ---- the program: one mesh, one runtime, one tally daemon ---- */

static int fail(const char *what, const struct nm_error *err)
{
	fprintf(stderr, "tally: %s: %s (%s)\n", what, err->msg, nm_strerror(err->code));
	return EXIT_FAILURE;
}

static int deliver(struct nm_runtime *rt, uint64_t origin, const char *text, struct nm_outputs *out,
		   struct nm_error *err)
{
	struct nm_event ev = { .link = { .origin_hash = 0xC11E17, .sequence = 1 },
			       .payload = (const uint8_t *)text,
			       .len = (uint32_t)strlen(text) };
	int rc = nm_runtime_deliver(rt, origin, &ev, out, err);
	if (rc == 0)
		printf("  %-8s -> %.*s (seq %" PRIu64 ")\n", text, (int)out->ev[0].len,
		       (const char *)out->ev[0].payload, out->ev[0].link.sequence);
	return rc;
}

static int run(struct nm_runtime *rt)
{
	struct nm_error err;
	struct nm_identity id;
	struct nm_daemon_handle h;
	struct nm_snapshot *snap = NULL;
	struct nm_outputs *out = nm_outputs_create(8, 1024);
	int status = EXIT_FAILURE;

	if (out == NULL || nm_identity_generate(&id) < 0)
		return EXIT_FAILURE;
	if (nm_runtime_register_factory(rt, "tally", tally_new, NULL, &err) < 0 ||
	    nm_runtime_start(rt, &err) < 0 || nm_runtime_spawn(rt, "tally", &id, NULL, &h, &err) < 0)
		return fail("setup", &err);
	printf("spawned tally as origin 0x%016" PRIx64 "\n", h.origin_hash);

	if (deliver(rt, h.origin_hash, "hello", out, &err) < 0 ||
	    deliver(rt, h.origin_hash, "mesh", out, &err) < 0)
		goto out;
	if (nm_runtime_snapshot(rt, h.origin_hash, &snap, &err) < 0 ||
	    nm_runtime_stop(rt, h.origin_hash, &err) < 0)
		goto out;
	printf("snapshot through_seq=%" PRIu64 ", stopped, respawning from it\n", snap->through_seq);
	if (nm_runtime_spawn_from_snapshot(rt, "tally", &id, snap, NULL, &h, &err) < 0 ||
	    deliver(rt, h.origin_hash, "again", out, &err) < 0)
		goto out;
	/* 5 + 4 + 5 bytes: the state survived the restore. */
	if (out->ev[0].len != 8 || memcmp(out->ev[0].payload, "tally=14", 8) != 0) {
		fprintf(stderr, "tally: state did not survive the restore\n");
		goto done;
	}
	printf("ok\n");
	status = EXIT_SUCCESS;
	goto done;
out:
	fail("run", &err);
done:
	nm_snapshot_free(snap);
	nm_outputs_free(out);
	return status;
}

int main(int argc, char **argv)
{
	/* No arguments: a no-hugepage EAL with one net_null0 port (nm_eal_init_dev). */
	if (nm_eal_init_dev(argc, argv) < 0) {
		fprintf(stderr, "tally: EAL init failed\n");
		return EXIT_FAILURE;
	}
	struct nm_mesh_config cfg = { .port = NM_EAL_DEV_PORT };
	memset(cfg.psk, 0x42, sizeof(cfg.psk));
	struct nm_mesh *mesh;
	struct nm_error err;
	if (nm_mesh_create(&cfg, &mesh, &err) < 0)
		return fail("mesh", &err);
	struct nm_runtime *rt = nm_runtime_create(nm_mesh_node(mesh));
	int status = rt != NULL ? run(rt) : EXIT_FAILURE;
	nm_runtime_destroy(rt);
	nm_mesh_destroy(mesh);
	nm_eal_cleanup();
	return status;
}

/* SPDX-License-Identifier: MIT */
/* nm_builtin.c - echo, counter, sink and blob-SIZE daemons (see header). */
#include "nm_builtin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nm_le.h"

#include "nm_runtime.h"

static void free_daemon(struct nm_daemon *d)
{
	free(d);
}

/* ---- echo ---- */

static int echo_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d;
	(void)err;
	return nm_emit(out, ev->payload, ev->len);
}

static const struct nm_daemon_ops echo_ops = {
	.name = "echo",
	.process = echo_process,
	.destroy = free_daemon,
};

struct nm_daemon *nm_echo_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = malloc(sizeof(*d));
	if (d != NULL)
		d->ops = &echo_ops;
	return d;
}

/* ---- counter ---- */

struct counter {
	struct nm_daemon base;
	uint64_t count;
};

static int counter_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			   struct nm_error *err)
{
	(void)ev;
	(void)err;
	struct counter *c = (struct counter *)d;
	uint8_t *p = nm_emit_reserve(out, 8);
	if (p == NULL)
		return -ENOSPC;
	c->count++;
	nm_put_le64(p, c->count);
	return 0;
}

static int counter_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	(void)err;
	uint8_t b[8];
	nm_put_le64(b, ((const struct counter *)d)->count);
	return nm_bytes_append(out, b, sizeof(b));
}

static int counter_restore(struct nm_daemon *d, const uint8_t *state, size_t len,
			   struct nm_error *err)
{
	if (len != 8)
		return nm_error_set(err, NM_ERESTORE_FAILED, "counter state must be 8 bytes, got %zu",
				    len);
	((struct counter *)d)->count = nm_get_le64(state);
	return 0;
}

static const struct nm_daemon_ops counter_ops = {
	.name = "counter",
	.process = counter_process,
	.snapshot = counter_snapshot,
	.restore = counter_restore,
	.destroy = free_daemon,
};

struct nm_daemon *nm_counter_new(void *ctx)
{
	(void)ctx;
	struct counter *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base.ops = &counter_ops;
	return &c->base;
}

uint64_t nm_counter_value(const struct nm_daemon *d)
{
	return d != NULL && d->ops == &counter_ops ? ((const struct counter *)d)->count : 0;
}

/* ---- sink ---- */

static int sink_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)d;
	(void)ev;
	(void)out;
	(void)err;
	return 0;
}

static const struct nm_daemon_ops sink_ops = {
	.name = "sink",
	.process = sink_process,
	.destroy = free_daemon,
};

struct nm_daemon *nm_sink_new(void *ctx)
{
	(void)ctx;
	struct nm_daemon *d = malloc(sizeof(*d));
	if (d != NULL)
		d->ops = &sink_ops;
	return d;
}

/* ---- blob-SIZE ---- */

struct blob {
	struct nm_daemon base;
	uint64_t count;
	uint64_t digest;
	size_t len;    /* the whole state, header included */
	uint8_t *body; /* len - NM_BLOB_HEADER bytes */
};

#define BLOB_IDX_MUL 0x9E3779B97F4A7C15ull /* spreads word indexes */
#define BLOB_TERM_MUL 0xD6E8FEB86659FD93ull /* odd: each word's term is a bijection */

static uint64_t blob_term(uint64_t j, uint64_t w)
{
	return (w ^ (j * BLOB_IDX_MUL)) * BLOB_TERM_MUL;
}

/* Body words are LE64; a tail shorter than 8 bytes is one more word, zero-padded. */
uint64_t nm_blob_digest(const uint8_t *body, size_t len)
{
	uint64_t sum = 0, j = 0;
	for (; (j + 1) * 8 <= len; j++)
		sum += blob_term(j, nm_get_le64(body + j * 8));
	if (j * 8 < len) {
		uint8_t t[8] = { 0 };
		memcpy(t, body + j * 8, len - j * 8);
		sum += blob_term(j, nm_get_le64(t));
	}
	return sum;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static int blob_process(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
			struct nm_error *err)
{
	(void)err;
	struct blob *b = (struct blob *)d;
	uint8_t *p = nm_emit_reserve(out, NM_BLOB_HEADER);
	if (p == NULL)
		return -ENOSPC;
	const uint64_t k = b->count + 1, words = (b->len - NM_BLOB_HEADER) / 8;
	if (words > 0) {
		uint8_t first[8] = { 0 };
		if (ev->len > 0) /* an empty event may have no payload pointer at all */
			memcpy(first, ev->payload, ev->len < 8 ? ev->len : 8);
		const uint64_t j = (k * 0x9E3779B1u) % words;
		const uint64_t old = nm_get_le64(b->body + j * 8);
		const uint64_t neu = old ^ splitmix64(k ^ nm_get_le64(first));
		nm_put_le64(b->body + j * 8, neu);
		b->digest += blob_term(j, neu) - blob_term(j, old);
	}
	b->count = k;
	nm_put_le64(p, b->count);
	nm_put_le64(p + 8, b->digest);
	return 0;
}

static int blob_snapshot(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err)
{
	const struct blob *b = (const struct blob *)d;
	uint8_t h[NM_BLOB_HEADER];
	nm_put_le64(h, b->count);
	nm_put_le64(h + 8, b->digest);
	/* One allocation for the whole state: the header is appended to an empty buffer
	 * sized for everything, then the body. */
	if (out->cap < out->len + b->len) {
		uint8_t *n = realloc(out->data, out->len + b->len);
		if (n == NULL)
			return nm_error_set(err, NM_ESNAPSHOT_FAILED, "blob: out of memory");
		out->data = n;
		out->cap = out->len + b->len;
	}
	if (nm_bytes_append(out, h, sizeof(h)) < 0 ||
	    nm_bytes_append(out, b->body, b->len - NM_BLOB_HEADER) < 0)
		return nm_error_set(err, NM_ESNAPSHOT_FAILED, "blob: out of memory");
	return 0;
}

static int blob_restore(struct nm_daemon *d, const uint8_t *state, size_t len,
			struct nm_error *err)
{
	struct blob *b = (struct blob *)d;
	if (len != b->len)
		return nm_error_set(err, NM_ERESTORE_FAILED,
				    "blob state must be %zu bytes (its kind), got %zu", b->len, len);
	const uint64_t digest = nm_get_le64(state + 8);
	const uint64_t body = nm_blob_digest(state + NM_BLOB_HEADER, len - NM_BLOB_HEADER);
	if (body != digest)
		return nm_error_set(err, NM_ERESTORE_FAILED,
				    "blob state corrupt: body digest 0x%016" PRIx64
				    ", header says 0x%016" PRIx64, body, digest);
	memcpy(b->body, state + NM_BLOB_HEADER, len - NM_BLOB_HEADER);
	b->count = nm_get_le64(state);
	b->digest = digest;
	return 0;
}

static void blob_destroy(struct nm_daemon *d)
{
	free(((struct blob *)d)->body);
	free(d);
}

static const struct nm_daemon_ops blob_ops = {
	.name = "blob",
	.process = blob_process,
	.snapshot = blob_snapshot,
	.restore = blob_restore,
	.destroy = blob_destroy,
};

/* The spawn-time body: byte i is (i * 131 + 7) mod 256, a 256-byte period. */
static void blob_fill(uint8_t *body, size_t n)
{
	uint8_t blk[256];
	for (unsigned i = 0; i < sizeof(blk); i++)
		blk[i] = (uint8_t)(i * 131u + 7u);
	for (size_t off = 0; off < n; off += sizeof(blk))
		memcpy(body + off, blk, n - off < sizeof(blk) ? n - off : sizeof(blk));
}

/* ctx: the state size, as an integer (no allocation to outlive the kind). */
static struct nm_daemon *blob_new(void *ctx)
{
	const size_t len = (size_t)(uintptr_t)ctx;
	struct blob *b = calloc(1, sizeof(*b));
	if (b == NULL || len < NM_BLOB_MIN || len > NM_BLOB_MAX)
		goto fail;
	b->len = len;
	b->body = malloc(len - NM_BLOB_HEADER > 0 ? len - NM_BLOB_HEADER : 1);
	if (b->body == NULL)
		goto fail;
	blob_fill(b->body, len - NM_BLOB_HEADER);
	b->digest = nm_blob_digest(b->body, len - NM_BLOB_HEADER);
	b->base.ops = &blob_ops;
	return &b->base;
fail:
	free(b);
	return NULL;
}

uint64_t nm_blob_count(const struct nm_daemon *d)
{
	return d != NULL && d->ops == &blob_ops ? ((const struct blob *)d)->count : 0;
}

int nm_blob_parse_kind(const char *kind, size_t *len, struct nm_error *err)
{
	static const char pre[] = "blob-";
	if (kind == NULL || strncmp(kind, pre, sizeof(pre) - 1) != 0)
		return NM_ENOT_FOUND;
	const char *s = kind + sizeof(pre) - 1, *e = s;
	uint64_t v = 0;
	for (; *e >= '0' && *e <= '9'; e++)
		v = v > NM_BLOB_MAX ? v : v * 10 + (uint64_t)(*e - '0'); /* saturates, no overflow */
	uint64_t unit = strcmp(e, "KiB") == 0 ? 1024 : strcmp(e, "MiB") == 0 ? 1u << 20
						      : *e == '\0' ? 1 : 0;
	if (e == s || unit == 0 || (e - s > 1 && *s == '0'))
		return nm_error_set(err, -EINVAL,
				    "kind '%s': blob-SIZE wants SIZE in bytes, KiB or MiB "
				    "(e.g. blob-1MiB, blob-%u)", kind, NM_BLOB_MAX);
	if (v > NM_BLOB_MAX / unit || v * unit < NM_BLOB_MIN)
		return nm_error_set(err, -EINVAL,
				    "kind '%s': a blob state is %u..%u bytes (a sealed snapshot "
				    "must fit the 64 MiB reassembly cap)", kind, NM_BLOB_MIN,
				    NM_BLOB_MAX);
	*len = (size_t)(v * unit);
	return 0;
}

int nm_builtin_register_kind(struct nm_runtime *rt, const char *kind, struct nm_error *err)
{
	size_t len = 0;
	int rc = nm_blob_parse_kind(kind, &len, err);
	if (rc == NM_ENOT_FOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = nm_runtime_register_factory(rt, kind, blob_new, (void *)(uintptr_t)len, err);
	if (rc != NM_EFACTORY_EXISTS)
		return rc;
	nm_error_clear(err); /* named twice (a --daemon and an --accept): one kind */
	return 0;
}

int nm_builtin_register_all(struct nm_runtime *rt, struct nm_error *err)
{
	static const struct {
		const char *kind;
		nm_daemon_factory_fn fn;
	} kinds[] = { { "echo", nm_echo_new }, { "counter", nm_counter_new }, { "sink", nm_sink_new } };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int rc = nm_runtime_register_factory(rt, kinds[i].kind, kinds[i].fn, NULL, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* nm_host.c - daemon host: chain wrapping, horizon, stats, snapshot/restore. */
#include "nm_host.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_le.h"

static bool daemon_valid(const struct nm_daemon *d)
{
	return d != NULL && d->ops != NULL && d->ops->process != NULL && d->ops->destroy != NULL &&
	       d->ops->name != NULL && strnlen(d->ops->name, NM_NAME_MAX + 1) <= NM_NAME_MAX;
}

static void daemon_release(struct nm_daemon *d)
{
	if (d != NULL && d->ops != NULL && d->ops->destroy != NULL)
		d->ops->destroy(d);
}

static int host_alloc(struct nm_daemon *d, const struct nm_identity *id,
		      const struct nm_host_config *cfg, struct nm_host **out, struct nm_error *err)
{
	if (id == NULL || out == NULL) {
		daemon_release(d);
		return nm_error_set(err, -EINVAL, "host: identity and out are required");
	}
	if (!daemon_valid(d)) {
		daemon_release(d);
		return nm_error_set(err, -EINVAL,
				    "host: daemon needs ops with name (<= %d bytes), process and destroy",
				    NM_NAME_MAX);
	}
	struct nm_host *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		daemon_release(d);
		return nm_error_set(err, -ENOMEM, "host: out of memory");
	}
	h->daemon = d;
	h->id = *id;
	h->config = cfg != NULL ? *cfg : nm_host_config_default();
	nm_chain_init(&h->chain, id->origin_hash);
	nm_horizon_init(&h->horizon);
	atomic_flag_clear(&h->busy);
	*out = h;
	return 0;
}

int nm_host_create(struct nm_daemon *d, const struct nm_identity *id,
		   const struct nm_host_config *cfg, struct nm_host **out, struct nm_error *err)
{
	return host_alloc(d, id, cfg, out, err);
}

/* Upstream's Debug form of an EntityId: the first 8 bytes in hex, then "...". */
static void entity_debug(const uint8_t *e, char buf[32])
{
	int n = snprintf(buf, 32, "EntityId(");
	for (int i = 0; i < 8; i++)
		n += snprintf(buf + n, 32 - (size_t)n, "%02x", e[i]);
	snprintf(buf + n, 32 - (size_t)n, "...)");
}

static int restore_state(struct nm_daemon *d, const struct nm_snapshot *s, struct nm_error *err)
{
	if (d->ops->restore != NULL) {
		nm_error_clear(err);
		int rc = d->ops->restore(d, s->state, s->state_len, err);
		if (rc < 0 && err != NULL && err->code != rc)
			nm_error_set(err, rc, "restore failed: daemon '%s' returned %s", d->ops->name,
				     nm_strerror(rc));
		return rc < 0 ? rc : 0;
	}
	if (s->state_len == 0)
		return 0;
	return nm_error_set(err, NM_ERESTORE_FAILED,
			    "stateless daemon (no restore op) cannot restore %" PRIu32
			    "-byte snapshot — give the daemon snapshot and restore ops if it is "
			    "actually stateful",
			    s->state_len);
}

int nm_host_from_snapshot(struct nm_daemon *d, const struct nm_identity *id,
			  const struct nm_snapshot *snap, const struct nm_host_config *cfg,
			  struct nm_host **out, struct nm_error *err)
{
	if (snap == NULL) {
		daemon_release(d);
		return nm_error_set(err, -EINVAL, "host: snapshot is required");
	}
	struct nm_host *h = NULL;
	int rc = host_alloc(d, id, cfg, &h, err);
	if (rc < 0)
		return rc;
	if (!nm_entity_id_equal(snap->entity_id, nm_identity_entity_id(id))) {
		char a[32], b[32];
		entity_debug(snap->entity_id, a);
		entity_debug(nm_identity_entity_id(id), b);
		rc = nm_error_set(err, NM_ERESTORE_FAILED,
				  "snapshot entity %s does not match keypair entity %s", a, b);
		goto fail;
	}
	rc = restore_state(d, snap, err);
	if (rc < 0)
		goto fail;
	if (snap->has_next_parent) {
		/* The chain-head extension: the chain continues exactly. */
		h->chain.head = snap->chain_link;
		h->chain.next_parent = snap->next_parent;
	} else {
		/* Upstream quirk: no head payload in CDS1, so the state stands in. */
		nm_chain_from_head(&h->chain, &snap->chain_link, snap->state, snap->state_len);
	}
	if (snap->bindings_len > 0 && !nm_bindings_valid(snap->bindings, snap->bindings_len)) {
		rc = nm_error_set(err, NM_ERESTORE_FAILED,
				  "snapshot bindings_bytes failed to decode — tampered or corrupt "
				  "snapshot");
		goto fail;
	}
	h->horizon.encoded = snap->horizon_encoded;
	*out = h;
	return 0;
fail:
	nm_host_destroy(h);
	return rc;
}

void nm_host_destroy(struct nm_host *h)
{
	if (h == NULL)
		return;
	daemon_release(h->daemon);
	nm_identity_wipe(&h->id);
	free(h);
}

static int process_failed(struct nm_host *h, struct nm_outputs *out, uint32_t n0, uint32_t used0,
			  int rc, struct nm_error *err)
{
	out->n = n0;
	out->used = used0;
	out->overflow = false;
	out->too_large = 0;
	h->stats.errors++;
	if (err != NULL && err->code != rc)
		nm_error_set(err, rc, "daemon '%s' process returned %s", nm_host_name(h),
			     nm_strerror(rc));
	return rc;
}

int nm_host_deliver_failed(struct nm_host *h, struct nm_outputs *out, uint32_t n0,
			   uint32_t used0, int rc, struct nm_error *err)
{
	if (rc >= 0 && out->too_large != 0)
		rc = nm_error_set(err, NM_EPROCESS_FAILED,
				  "daemon '%s' output of %" PRIu32 " bytes exceeds the largest "
				  "datagram's %" PRIu32 " (refused before the chain moved)",
				  nm_host_name(h), out->too_large, out->max_len);
	else if (rc >= 0 && out->overflow)
		rc = nm_error_set(err, NM_EPROCESS_FAILED,
				  "daemon '%s' outputs overflow the output buffer (%" PRIu32
				  " events, %" PRIu32 " bytes)",
				  nm_host_name(h), out->max, out->cap);
	return process_failed(h, out, n0, used0, rc, err);
}

int nm_host_seq_overflow(struct nm_host *h, struct nm_outputs *out, uint32_t n0, uint32_t used0,
			 uint32_t appended, struct nm_error *err)
{
	/* Appended outputs stay in the chain but are not returned (upstream). */
	h->stats.events_emitted += appended;
	out->n = n0;
	out->used = used0;
	return nm_error_set(err, NM_EPROCESS_FAILED, "causal sequence overflow");
}

int nm_host_append_copied(struct nm_host *h, struct nm_outputs *out, uint32_t n0, uint32_t used0,
			  uint64_t now_ns, struct nm_error *err)
{
	/* One horizon value for every output of this call (upstream computes it once). */
	const uint64_t horizon = h->horizon.encoded;
	for (uint32_t i = n0; i < out->n; i++) {
		struct nm_event *e = &out->ev[i];
		if (nm_chain_append(&h->chain, e->payload, e->len, horizon, &e->link) < 0)
			return nm_host_seq_overflow(h, out, n0, used0, i - n0, err);
		e->received_at = now_ns;
	}
	h->stats.events_emitted += out->n - n0;
	return 0;
}

int nm_host_snapshot(struct nm_host *h, struct nm_snapshot **out, struct nm_error *err)
{
	if (h == NULL || out == NULL)
		return nm_error_set(err, -EINVAL, "host: snapshot needs a host and out");
	*out = NULL;
	if (h->daemon->ops->snapshot == NULL)
		return 0; /* stateless */

	struct nm_bytes state = { 0 };
	nm_error_clear(err);
	int rc = h->daemon->ops->snapshot(h->daemon, &state, err);
	if (rc < 0) {
		nm_bytes_free(&state);
		if (err != NULL && err->code != rc)
			nm_error_set(err, NM_ESNAPSHOT_FAILED, "daemon '%s' returned %s",
				     nm_host_name(h), nm_strerror(rc));
		return rc;
	}
	if (state.len > UINT32_MAX) {
		nm_bytes_free(&state);
		return nm_error_set(err, NM_ESNAPSHOT_FAILED,
				    "snapshot exceeds wire-format cap (state_len=%zu, max=u32::MAX)",
				    state.len);
	}
	struct nm_snapshot *s = nm_snapshot_new(nm_identity_entity_id(&h->id), &h->chain.head,
						state.data, (uint32_t)state.len, NULL, 0);
	nm_bytes_free(&state);
	if (s == NULL)
		return nm_error_set(err, -ENOMEM, "snapshot: out of memory");
	s->horizon_encoded = h->horizon.encoded;
	nm_snapshot_set_next_parent(s, h->chain.next_parent);
	h->stats.snapshots_taken++;
	*out = s;
	return 0;
}

/*
 * ---- DaemonBindings validation (compute.md §5.4) ----
 * netmesh has no channel subscriptions yet, so restored bindings are only
 * checked, not applied. Channel names are checked as non-empty UTF-8; upstream's
 * full ChannelName grammar is not pinned in our references.
 */

struct cursor {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

static bool binding_valid(struct cursor *c)
{
	const uint8_t *p;
	if (!take(c, 8, &p) || !take(c, 2, &p))
		return false;
	uint32_t name_len = nm_get_le16(p);
	if (name_len == 0 || !take(c, name_len, &p) || !utf8_valid(p, name_len))
		return false;
	if (!take(c, 1, &p) || p[0] > 1)
		return false;
	if (p[0] == 1) {
		if (!take(c, 2, &p))
			return false;
		if (!take(c, nm_get_le16(p), &p))
			return false;
	}
	return true;
}

bool nm_bindings_valid(const uint8_t *b, size_t len)
{
	struct cursor c = { b, len };
	const uint8_t *p;
	if (len == 0)
		return true;
	if (b == NULL || !take(&c, 4, &p))
		return false;
	uint32_t count = nm_get_le32(p);
	if (count > c.left / 11) /* smallest record: 8 + 2 + 1-byte name... + flag */
		return false;
	for (uint32_t i = 0; i < count; i++)
		if (!binding_valid(&c))
			return false;
	return c.left == 0;
}

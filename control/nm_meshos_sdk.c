/* SPDX-License-Identifier: MIT */
/* nm_meshos_sdk.c - the MeshOS daemon SDK: handles and errors (see nm_meshos.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nm_meshos_int.h"
#include "nm_runtime.h"
#include "nm_time.h"

struct nm_meshos_handle {
	struct nm_meshos *m;      /* reference held */
	struct nm_ctlslot *slot;  /* reference held: the channel outlives unregistration */
	uint64_t id;
	char name[NM_NAME_MAX + 1];
	bool on_control;
	_Atomic bool unregistered;
	_Atomic bool consumed;    /* graceful_shutdown ran */
	pthread_mutex_t meta_lock;
	struct nm_meshos_metadata meta;
};

/* ---- the thread's last error (upstream's thread-local pair) ---- */

static __thread struct {
	bool set;
	char kind[NM_MESHOS_KIND_MAX + 1];
	char msg[NM_ERROR_MSG_MAX];
} last_error;

int nm_meshos_fail(int code, const char *kind, const char *fmt, ...)
{
	va_list ap;
	last_error.set = true;
	snprintf(last_error.kind, sizeof(last_error.kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(last_error.msg, sizeof(last_error.msg), fmt, ap);
	va_end(ap);
	return code;
}

void nm_meshos_ok(void)
{
	last_error.set = false;
}

const char *nm_meshos_last_error_kind(void)
{
	return last_error.set ? last_error.kind : NULL;
}

const char *nm_meshos_last_error_message(void)
{
	return last_error.set ? last_error.msg : NULL;
}

void nm_meshos_clear_last_error(void)
{
	nm_meshos_ok();
}

int nm_meshos_error_format(char *buf, size_t len, const char *kind, const char *msg)
{
	return snprintf(buf, len, "<<meshos-sdk-kind:%s>>%s", kind ? kind : "", msg ? msg : "");
}

int nm_meshos_last_error_format(char *buf, size_t len)
{
	if (!last_error.set)
		return snprintf(buf, len, "%s", "");
	return nm_meshos_error_format(buf, len, last_error.kind, last_error.msg);
}

/* Upstream's text for a handle consumed by graceful_shutdown. */
static int err_consumed(void)
{
	return nm_meshos_fail(-ESHUTDOWN, "already_shutdown", "daemon handle was already consumed");
}

/* Argument and state checks shared by the handle calls. */
static int check_handle(const struct nm_meshos_handle *h)
{
	if (h == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "daemon handle is NULL");
	if (atomic_load(&h->consumed))
		return err_consumed();
	return 0;
}

/* ---- registration ---- */

/* The view a daemon sees: the loop's last tick, its peers, this daemon's capabilities. */
static void build_metadata(struct nm_meshos_handle *h, struct nm_meshos_metadata *md)
{
	struct nm_meshos *m = h->m;
	memset(md, 0, sizeof(*md));
	md->node_id = m->node_id;
	md->daemon_id = h->id;
	memcpy(md->daemon_name, h->name, sizeof(md->daemon_name));
	pthread_mutex_lock(&m->pub_lock);
	md->maintenance = m->status.view;
	md->n_peers = m->n_peers;
	memcpy(md->peers, m->peers, m->n_peers * sizeof(m->peers[0]));
	pthread_mutex_unlock(&m->pub_lock);
	md->has_capabilities = nm_capindex_get(&m->caps, h->id, &md->capabilities);
}

static void release_daemon(struct nm_daemon *d)
{
	if (d != NULL && d->ops != NULL && d->ops->destroy != NULL)
		d->ops->destroy(d);
}

static struct nm_meshos_handle *handle_new(struct nm_meshos *m, struct nm_ctlslot *s)
{
	struct nm_meshos_handle *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	nm_meshos_get(m);
	h->m = m;
	h->slot = s;
	h->id = s->id;
	memcpy(h->name, s->name, sizeof(h->name));
	h->on_control = s->on_control;
	pthread_mutex_init(&h->meta_lock, NULL);
	/* Upstream starts every view at Active; this one is the loop's real state. */
	build_metadata(h, &h->meta);
	return h;
}

int nm_meshos_register(struct nm_meshos *m, struct nm_daemon *d, const struct nm_identity *id,
		       const struct nm_host_config *cfg, struct nm_meshos_handle **out)
{
	if (m == NULL || d == NULL || id == NULL || out == NULL) {
		release_daemon(d);
		return nm_meshos_fail(-EINVAL, "invalid_argument",
				      "sdk, daemon, identity and out are required");
	}
	if (atomic_load(&m->closed)) {
		release_daemon(d);
		return nm_meshos_fail(-ESHUTDOWN, "already_shutdown",
				      "MeshOsDaemonSdk was already shut down");
	}
	if (!atomic_load(&m->accepting)) {
		release_daemon(d);
		return nm_meshos_fail(-EAGAIN, "in_maintenance",
				      "node 0x%016" PRIx64 " is in maintenance: it takes no new daemons",
				      m->node_id);
	}
	struct nm_error err = { 0 };
	struct nm_daemon_handle dh;
	int rc = nm_runtime_spawn_with_daemon(m->rt, d, id, cfg, &dh, &err);
	if (rc < 0)
		return nm_meshos_fail(rc, "register_failed", "%s", err.msg);
	/* The runtime's observer made the channel while registering. */
	struct nm_ctlslot *s = nm_ctlrouter_get(&m->router, dh.origin_hash);
	struct nm_meshos_handle *h = s != NULL ? handle_new(m, s) : NULL;
	if (h == NULL) {
		nm_ctlslot_put(s);
		nm_runtime_stop(m->rt, dh.origin_hash, NULL);
		return nm_meshos_fail(-ENOMEM, "register_failed",
				      "daemon 0x%" PRIx64 ": no control channel", dh.origin_hash);
	}
	nm_meshos_ok();
	*out = h;
	return 0;
}

/* Router slot first (later routes are no-ops), then the runtime (upstream order). */
static void unregister(struct nm_meshos_handle *h)
{
	if (atomic_exchange(&h->unregistered, true))
		return;
	nm_ctlrouter_remove(&h->m->router, h->id);
	nm_bq_close(h->slot->q); /* also when the SDK's observer is gone */
	nm_runtime_stop(h->m->rt, h->id, NULL);
}

void nm_meshos_handle_free(struct nm_meshos_handle *h)
{
	if (h == NULL)
		return;
	unregister(h);
	nm_ctlslot_put(h->slot);
	pthread_mutex_destroy(&h->meta_lock);
	nm_meshos_put(h->m);
	free(h);
}

uint64_t nm_meshos_daemon_id(const struct nm_meshos_handle *h)
{
	return h != NULL ? h->id : 0;
}

const char *nm_meshos_daemon_name(const struct nm_meshos_handle *h)
{
	return h != NULL ? h->name : NULL;
}

uint64_t nm_meshos_handle_dropped(const struct nm_meshos_handle *h)
{
	return h != NULL ? nm_ctlslot_dropped(h->slot) : 0;
}

/* ---- control events ---- */

/* Readers outlive graceful_shutdown: the daemon's thread must still get its Shutdown. */
static int check_reader(const struct nm_meshos_handle *h, const struct nm_daemon_control *out)
{
	if (h == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "daemon handle is NULL");
	if (out == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "out pointer is NULL");
	if (h->on_control)
		return nm_meshos_fail(-EINVAL, "invalid_argument",
				      "daemon 0x%" PRIx64 " receives control events through on_control",
				      h->id);
	return 0;
}

int nm_meshos_try_next_control(struct nm_meshos_handle *h, struct nm_daemon_control *out)
{
	int rc = check_reader(h, out);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	nm_ctlslot_pop(h->slot, out); /* empty: kind stays NONE */
	nm_meshos_ok();
	return 0;
}

int nm_meshos_next_control(struct nm_meshos_handle *h, uint64_t timeout_ms,
			   struct nm_daemon_control *out)
{
	int rc = check_reader(h, out);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	const uint64_t end = timeout_ms ? nm_mono_ms() + timeout_ms : 0;
	nm_meshos_ok();
	for (;;) {
		if (nm_ctlslot_pop(h->slot, out) == 0 || nm_bq_closed(h->slot->q))
			return 0;
		uint64_t now = end ? nm_mono_ms() : 0;
		if (end != 0 && now >= end)
			return 0;
		nm_bq_wait(h->slot->q, end ? end - now : 0);
	}
}

/* ---- metadata, capabilities, logs ---- */

int nm_meshos_metadata(const struct nm_meshos_handle *h, struct nm_meshos_metadata *out)
{
	int rc = check_handle(h);
	if (rc < 0)
		return rc;
	if (out == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "out pointer is NULL");
	struct nm_meshos_handle *mh = (struct nm_meshos_handle *)h;
	pthread_mutex_lock(&mh->meta_lock);
	*out = h->meta;
	pthread_mutex_unlock(&mh->meta_lock);
	return 0;
}

int nm_meshos_refresh_metadata(struct nm_meshos_handle *h, struct nm_meshos_metadata *out)
{
	int rc = check_handle(h);
	if (rc < 0)
		return rc;
	struct nm_meshos_metadata md;
	build_metadata(h, &md);
	pthread_mutex_lock(&h->meta_lock);
	h->meta = md;
	pthread_mutex_unlock(&h->meta_lock);
	if (out != NULL)
		*out = md;
	nm_meshos_ok();
	return 0;
}

int nm_meshos_publish_capabilities(struct nm_meshos_handle *h, const struct nm_capability_set *caps)
{
	static const struct nm_capability_set empty;
	int rc = check_handle(h);
	if (rc < 0)
		return rc;
	if (atomic_load(&h->unregistered))
		return nm_meshos_fail(-ESHUTDOWN, "already_shutdown",
				      "daemon 0x%" PRIx64 " is no longer registered", h->id);
	rc = nm_capindex_put(&h->m->caps, h->id, caps != NULL ? caps : &empty);
	if (rc < 0)
		return nm_meshos_fail(rc, "runtime_panic", "capability index: out of memory");
	/* Unregistered meanwhile: the observer's removal may have run before our put. */
	if (atomic_load(&h->unregistered) || !nm_runtime_has_daemon(h->m->rt, h->id))
		nm_capindex_remove(&h->m->caps, h->id);
	nm_meshos_ok();
	return 0;
}

/* Cut at most max bytes without splitting a UTF-8 sequence. */
static void copy_message(char *dst, const char *src, size_t max)
{
	size_t n = strnlen(src, max + 1);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int nm_meshos_publish_log(struct nm_meshos_handle *h, int level, const char *msg)
{
	int rc = check_handle(h);
	if (rc < 0)
		return rc;
	if (level < NM_LOG_TRACE || level > NM_LOG_ERROR)
		return nm_meshos_fail(-EINVAL, "invalid_log_level",
				      "log level must be 0|1|2|3|4 (trace|debug|info|warn|error)");
	if (msg == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "message is NULL");
	struct nm_meshos_event ev = { .kind = NM_MESHOS_EV_LOG, .arg = (uint32_t)level,
				      .daemon = h->id, .has_daemon = true };
	copy_message(ev.message, msg, NM_LOG_MSG_MAX);
	rc = nm_meshos_publish(h->m, &ev);
	if (rc == -ENOBUFS)
		return nm_meshos_fail(rc, "queue_full",
				      "MeshOS event queue at capacity; daemon log line dropped");
	if (rc == -EPIPE)
		return nm_meshos_fail(rc, "loop_closed",
				      "MeshOS loop has exited; daemon log line dropped");
	nm_meshos_ok();
	return 0;
}

/* ---- leaving ---- */

int nm_meshos_graceful_shutdown(struct nm_meshos_handle *h, uint64_t grace_ms)
{
	if (h == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "daemon handle is NULL");
	if (atomic_exchange(&h->consumed, true))
		return err_consumed();
	const uint64_t grace = grace_ms ? grace_ms : NM_MESHOS_DEFAULT_GRACE_MS;
	struct nm_daemon_control c = { .kind = NM_CONTROL_SHUTDOWN, .grace_period_ms = grace };
	/* At most once: a full channel drops it (counted), as upstream. */
	if (nm_ctlrouter_route(&h->m->router, h->id, &c) == 0 && h->on_control)
		nm_meshos_deliver_now(h->m, h->slot);
	/* Checks at 0, 50, 100, ... ms: a daemon that leaves early ends the wait. */
	const uint64_t end = nm_mono_ms() + grace;
	for (;;) {
		if (!nm_runtime_has_daemon(h->m->rt, h->id))
			break;
		uint64_t now = nm_mono_ms();
		if (now >= end)
			break;
		uint64_t left = end - now;
		nm_sleep_ms(left < NM_MESHOS_SHUTDOWN_POLL_MS ? left : NM_MESHOS_SHUTDOWN_POLL_MS);
	}
	unregister(h);
	nm_meshos_ok();
	return 0;
}

int nm_meshos_exit(struct nm_meshos_handle *h)
{
	if (h == NULL)
		return nm_meshos_fail(-EINVAL, "invalid_argument", "daemon handle is NULL");
	unregister(h);
	nm_meshos_ok();
	return 0;
}

/* ---- NM_DAEMON_MAIN ---- */

/* Poll the loop and read events until the daemon is told to go, or is gone. */
static int serve(struct nm_meshos *m, struct nm_meshos_handle *h)
{
	for (;;) {
		nm_meshos_poll(m, nm_mono_ms());
		struct nm_daemon_control c;
		int rc = nm_meshos_next_control(h, 10, &c);
		if (rc < 0)
			return rc;
		if (c.kind == NM_CONTROL_SHUTDOWN || c.kind == NM_CONTROL_DRAIN_FINISH)
			return 0;
		if (c.kind == NM_CONTROL_NONE && nm_bq_closed(h->slot->q))
			return 0;
	}
}

int nm_meshos_daemon_main(const struct nm_meshos_config *cfg,
			  const struct nm_meshos_dispatcher *dispatcher, struct nm_daemon *d,
			  const struct nm_identity *id, const struct nm_host_config *hc)
{
	struct nm_meshos *m;
	int rc = nm_meshos_start(cfg, dispatcher, &m);
	if (rc < 0) {
		release_daemon(d);
		return rc;
	}
	struct nm_meshos_handle *h;
	rc = nm_meshos_register(m, d, id, hc, &h);
	if (rc == 0) {
		rc = serve(m, h);
		/* Done serving: leave first, so the graceful wait ends at its first check. */
		nm_meshos_exit(h);
		nm_meshos_graceful_shutdown(h, NM_MESHOS_DEFAULT_GRACE_MS);
		nm_meshos_handle_free(h);
	}
	nm_meshos_shutdown(m);
	nm_meshos_poll(m, nm_mono_ms()); /* what was queued before the shutdown */
	nm_meshos_free(m);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_daemon.h - the daemon contract: what a daemon author implements.
 *
 * A daemon is a struct whose first member is `struct nm_daemon`, pointing at
 * a static ops table. The runtime calls a factory once per spawn to get a new
 * instance and calls ops->destroy when the daemon is stopped.
 *
 * process() turns one inbound causal event into 0..n output payloads, written
 * with nm_emit(). The host wraps each output in the daemon's own causal chain;
 * the daemon never sees chain state. process() runs on one thread at a time
 * per daemon (a worker lcore once pinned) and must not block, must not call
 * back into the runtime, and should finish in microseconds.
 *
 *	struct echo { struct nm_daemon base; };
 *	static int echo_process(struct nm_daemon *d, const struct nm_event *ev,
 *				struct nm_outputs *out, struct nm_error *err)
 *	{
 *		return nm_emit(out, ev->payload, ev->len);
 *	}
 *	static const struct nm_daemon_ops echo_ops = {
 *		.name = "echo", .process = echo_process, .destroy = ...,
 *	};
 */
#ifndef NM_DAEMON_H
#define NM_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nm_capability.h"
#include "nm_causal.h"
#include "nm_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_NAME_MAX 63 /* longest daemon name, bytes */

struct nm_daemon;
struct nm_outputs;

/* A growable byte buffer for snapshot state (control path only). */
struct nm_bytes {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Append; returns 0 or -ENOMEM. */
int nm_bytes_append(struct nm_bytes *b, const void *p, size_t n);
void nm_bytes_free(struct nm_bytes *b);

/*
 * A control event from the supervisor (MeshOS, nm_meshos.h): upstream's
 * DaemonControl wire form, with its stable kind numbers. Relative times only
 * (the daemon needs no clock of ours). Delivered at most once.
 */
enum nm_control_kind {
	NM_CONTROL_NONE = 0,             /* no event: empty channel, timeout, or closed */
	NM_CONTROL_SHUTDOWN = 1,         /* finish in-flight work, exit within grace_period_ms */
	NM_CONTROL_DRAIN_START = 2,      /* take no new work; in-flight work goes on until the
					  * grace or DRAIN_FINISH */
	NM_CONTROL_DRAIN_FINISH = 3,     /* exit now; in-flight work may be abandoned */
	NM_CONTROL_BACKPRESSURE_ON = 4,  /* shed optional work in proportion to level (1: pause it) */
	NM_CONTROL_BACKPRESSURE_OFF = 5, /* resume optional work */
	NM_CONTROL_UNKNOWN = 99,         /* a kind this build does not know */
};

struct nm_daemon_control {
	uint32_t kind;            /* enum nm_control_kind */
	float level;              /* BACKPRESSURE_ON: 0..1; otherwise 0 */
	uint64_t grace_period_ms; /* SHUTDOWN, DRAIN_START (past deadlines are 0); otherwise 0 */
};

/* "Shutdown", "DrainStart", ... (upstream's variant names), "None", "Unknown". */
const char *nm_control_kind_name(uint32_t kind);

struct nm_daemon_ops {
	/* Human-readable, used in logs and lifecycle events; need not be unique. */
	const char *name;

	/* Placement filter; NULL means the default filter (run anywhere). */
	void (*requirements)(const struct nm_daemon *d, struct nm_capability_filter *f);

	/*
	 * Required. One event in, outputs via nm_emit(). Return 0, or a negative
	 * code recorded with nm_error_set(err, NM_EPROCESS_FAILED, ...). On error
	 * the outputs of this call are discarded and the chain does not move.
	 */
	int (*process)(struct nm_daemon *d, const struct nm_event *ev, struct nm_outputs *out,
		       struct nm_error *err);

	/*
	 * Optional; NULL means stateless (snapshot yields "no state"). Append the
	 * state to `out` with nm_bytes_append and return 0, or fail with
	 * NM_ESNAPSHOT_FAILED. Must not change the daemon (idempotent).
	 */
	int (*snapshot)(const struct nm_daemon *d, struct nm_bytes *out, struct nm_error *err);

	/*
	 * Optional. Called before any process() after a restore. NULL means
	 * upstream's default: empty state is accepted, non-empty state fails with
	 * NM_ERESTORE_FAILED ("stateless daemon ... cannot restore N-byte snapshot").
	 */
	int (*restore)(struct nm_daemon *d, const uint8_t *state, size_t len, struct nm_error *err);

	/* Required. Free the instance. */
	void (*destroy)(struct nm_daemon *d);

	/*
	 * Optional. One control event from MeshOS. Runs where process() runs: on
	 * the daemon's worker lcore when it is pinned (never at the same time as
	 * process()), else on the control thread. The same rules as process():
	 * no blocking, no calls back into the runtime. A daemon with on_control
	 * gets all its events here; its SDK handle has no next_control.
	 */
	void (*on_control)(struct nm_daemon *d, const struct nm_daemon_control *c);
};

struct nm_daemon {
	const struct nm_daemon_ops *ops;
};

/* Makes one new daemon per call; NULL on failure. Called on the control thread. */
typedef struct nm_daemon *(*nm_daemon_factory_fn)(void *ctx);

/*
 * Outputs of process() calls. Events point into `arena`. One nm_outputs can
 * collect the outputs of many deliveries (the dataplane batches this way);
 * nm_runtime_deliver resets it first so it holds exactly one event's outputs.
 */
struct nm_outputs {
	struct nm_event *ev;
	uint32_t n;
	uint32_t max;
	uint8_t *arena;
	uint32_t used;
	uint32_t cap;
	bool overflow; /* an emit did not fit; the host fails the call */
	/*
	 * Largest payload one output may have, 0 for no limit. The dataplane sets
	 * it to what the largest datagram can carry, so an output that could
	 * never be sent fails its process() call (ProcessFailed) before the chain
	 * moves, instead of leaving a sequence gap at the receiver.
	 */
	uint32_t max_len;
	uint32_t too_large; /* length of an output refused by max_len (overflow set), else 0 */
	/*
	 * In-place framing (the dataplane). When set, each output takes
	 * NM_CAUSAL_FRAME_ROOM arena bytes before its payload, which the host
	 * fills with the 0x0400 frame's length word and the link: the arena is
	 * then the packet itself and nothing is copied to frame it. The event
	 * slots then hold each output's payload and len only (the link is in
	 * the frame; received_at is not set).
	 */
	bool framed;
	/*
	 * Optional: called when the arena cannot take `need` more bytes (room
	 * included). It may give a new arena (arena, cap, used; earlier outputs
	 * stay where they are) and return 0; negative: the emit fails (overflow).
	 * The owner undoes its own arenas when the host fails the call.
	 */
	int (*refill)(void *ctx, struct nm_outputs *o, uint32_t need);
	void *refill_ctx;
};

/* Use caller-provided memory (no allocation: per-lcore buffers). */
void nm_outputs_init(struct nm_outputs *o, struct nm_event *ev, uint32_t max_events,
		     uint8_t *arena, uint32_t arena_bytes);

/* Allocate an nm_outputs with its arrays in one block; NULL on failure. */
struct nm_outputs *nm_outputs_create(uint32_t max_events, uint32_t arena_bytes);
/* Only for nm_outputs_create() results; NULL is accepted. */
void nm_outputs_free(struct nm_outputs *o);

static inline void nm_outputs_reset(struct nm_outputs *o)
{
	o->n = 0;
	o->used = 0;
	o->overflow = false;
	o->too_large = 0;
}

/* nm_emit for any case; nm_emit's inline part takes the dataplane's common one. */
int nm_emit_slow(struct nm_outputs *o, const void *payload, uint32_t len);

/*
 * Copy one output payload. 0, or -EINVAL, -ENOSPC / -EMSGSIZE (above
 * max_len), and o->overflow set. Inline for a framed nm_outputs with a
 * max_len (the dataplane's) and room for the output: a daemon's emit is then
 * a few compares and the copy, without a call per output.
 */
static inline int nm_emit(struct nm_outputs *o, const void *payload, uint32_t len)
{
	/* One 64-bit compare for room: used <= cap and len + room <= cap - used. */
	if (o != NULL && o->framed && payload != NULL && len <= o->max_len && o->n < o->max &&
	    (uint64_t)o->used + len + NM_CAUSAL_FRAME_ROOM <= o->cap) {
		/* payload and len only: the host writes the link (into the frame). */
		struct nm_event *ev = &o->ev[o->n++];
		uint8_t *p = o->arena + o->used + NM_CAUSAL_FRAME_ROOM;
		ev->payload = p;
		ev->len = len;
		o->used += NM_CAUSAL_FRAME_ROOM + len;
		memcpy(p, payload, len);
		return 0;
	}
	return nm_emit_slow(o, payload, len);
}

/* Reserve len bytes for one output and return where to write it (unaligned);
 * NULL (and o->overflow set) when full, NULL for a NULL o. */
void *nm_emit_reserve(struct nm_outputs *o, uint32_t len);

/* ---- per-daemon configuration and statistics ---- */

/* Not pinned: the daemon runs on the control path, under the registry's lock. */
#define NM_LCORE_CONTROL UINT32_MAX

struct nm_host_config {
	uint64_t auto_snapshot_interval; /* save after this many events (upstream's unit), 0 = manual;
					  * read by nm_statedir_tick */
	uint32_t max_log_entries;        /* upstream field, default 10000; not read yet */
	uint32_t lcore; /* worker lcore the daemon is pinned on, or NM_LCORE_CONTROL */
};

static inline struct nm_host_config nm_host_config_default(void)
{
	struct nm_host_config c = { 0, 10000, NM_LCORE_CONTROL };
	return c;
}

/* What a lifecycle observer learns about a daemon (nm_runtime_set_observer). */
struct nm_daemon_info {
	uint64_t origin;
	const char *name;  /* valid during the callback only */
	uint32_t lcore;    /* owner: a worker lcore or NM_LCORE_CONTROL */
	bool on_control;   /* the daemon has an on_control op */
};

enum nm_lifecycle_event {
	NM_LIFECYCLE_REGISTERED = 1,   /* upstream's Registered (MeshOS: Started) */
	NM_LIFECYCLE_UNREGISTERED = 2, /* upstream's Unregistered (MeshOS: ExitedCleanly) */
};

struct nm_lifecycle_observer {
	void *ctx;
	/* Called with the daemon registry locked: must not call into the runtime. */
	void (*on_event)(void *ctx, enum nm_lifecycle_event ev, const struct nm_daemon_info *d);
};

struct nm_daemon_stats {
	uint64_t events_processed; /* process() returned 0 */
	uint64_t events_emitted;   /* outputs appended to the chain */
	uint64_t errors;           /* process() failed */
	uint64_t snapshots_taken;  /* snapshots of state (upstream never counts these) */
};

#ifdef __cplusplus
}
#endif
#endif /* NM_DAEMON_H */

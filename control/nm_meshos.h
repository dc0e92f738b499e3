/* SPDX-License-Identifier: MIT */
/*
 * nm_meshos.h - MeshOS on one node: the supervision loop (maintenance state
 * machine, control fan-out, backpressure, daemon logs, capability index) and
 * the daemon SDK (upstream net-mesh's MeshOsDaemonSdk and its C header
 * net_meshos.h, as a native C API). docs/meshos.md is the guide.
 *
 * Threads. The loop runs on the control thread: its owner calls
 * nm_meshos_poll(m, now) often (the appliance: every ms); nothing here starts
 * a thread. Every other function may be called from any non-worker thread.
 * Control events reach each daemon through its own bounded channel (at most
 * once): a daemon reads it through its SDK handle (nm_meshos_next_control),
 * or, when its ops have on_control, gets each event there, on the lcore that
 * runs its process(): one request per worker lcore carries the events of all
 * its daemons.
 *
 * Every registered daemon of the runtime has a channel (MeshOS observes the
 * runtime's registrations), whether it came through the SDK or
 * nm_runtime_spawn.
 *
 * Errors. Functions return 0 or a negative code (errno style). SDK calls
 * also record the thread's last error: a stable kind (upstream's strings:
 * "invalid_argument", "invalid_log_level", "already_shutdown", "queue_full",
 * "loop_closed", "register_failed", ...) and a message, formatted for text
 * as "<<meshos-sdk-kind:KIND>>MSG". A successful SDK call clears it.
 */
#ifndef NM_MESHOS_H
#define NM_MESHOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_capability.h"
#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_evac.h"
#include "nm_identity.h"
#include "nm_logring.h"
#include "nm_maint.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nm_runtime;
struct nm_meshos;
struct nm_meshos_handle;

/* Upstream's defaults. */
#define NM_MESHOS_DEFAULT_TICK_MS 500
#define NM_MESHOS_DEFAULT_EVENT_QUEUE 1024
#define NM_MESHOS_DEFAULT_ACTION_QUEUE 1024
#define NM_MESHOS_DEFAULT_CONTROL_CAPACITY 8
#define NM_MESHOS_DEFAULT_GRACE_MS 5000                    /* graceful_shutdown(0), NM_DAEMON_MAIN */
#define NM_MESHOS_DEFAULT_DRAIN_MS (10ULL * 60 * 1000)     /* EnterMaintenance without a drain time */
#define NM_MESHOS_DEFAULT_RAMP_MS (5ULL * 60 * 1000)       /* Recovery -> Active */
#define NM_MESHOS_STOP_GRACE_MS 30000                      /* StopDaemon's deadline */
#define NM_MESHOS_SHUTDOWN_POLL_MS 50                      /* graceful_shutdown's cadence */
/* netmesh's: backpressure sampling and marks (upstream computes no level). */
#define NM_MESHOS_DEFAULT_BP_MS 100
#define NM_MESHOS_DEFAULT_BP_HIGH 0.75f
#define NM_MESHOS_DEFAULT_BP_LOW 0.25f

#define NM_MESHOS_MAX_PEERS 64
#define NM_MESHOS_KIND_MAX 31

/* ---- probes: what the loop samples (the appliance wires the dataplane in) ---- */

enum nm_meshos_peer_health {
	NM_MESHOS_PEER_UNKNOWN = 0, /* never had a session */
	NM_MESHOS_PEER_HEALTHY,
	NM_MESHOS_PEER_DEGRADED,
	NM_MESHOS_PEER_UNREACHABLE,
};

struct nm_meshos_peer {
	uint64_t node_id;
	uint64_t rtt_us;          /* last measured round trip; 0: none yet */
	uint32_t health;          /* enum nm_meshos_peer_health */
	bool has_maintenance;     /* the node's maintenance state is known (admin events) */
	enum nm_maint_kind maintenance;
};

struct nm_meshos_probes {
	void *ctx;
	/*
	 * Backpressure input, 0..1: how full the node's queues are. The
	 * dataplane's is the fullest worker ring (nm_meshos_probe.h). NULL: 0.
	 */
	float (*load)(void *ctx);
	/* This node's peers, up to max; returns how many. NULL: none. */
	uint32_t (*peers)(void *ctx, struct nm_meshos_peer *out, uint32_t max);
};

/* ---- actions and the dispatcher ---- */

enum nm_meshos_action_kind {
	NM_MESHOS_ACT_COMMIT_MAINTENANCE = 1, /* node, target: already committed by the loop */
	NM_MESHOS_ACT_STOP_DAEMON = 2,        /* daemon, deadline, reason: Shutdown already sent */
};

struct nm_meshos_action {
	uint32_t kind;
	uint64_t id;                  /* from 1, per loop */
	uint64_t node;                /* COMMIT_MAINTENANCE */
	struct nm_maint_state target; /* COMMIT_MAINTENANCE */
	uint64_t daemon;              /* STOP_DAEMON */
	uint64_t deadline_ms;         /* STOP_DAEMON: loop clock */
	char reason[64];              /* STOP_DAEMON */
};

/*
 * What the embedding program does with reconcile's actions (upstream's
 * ActionDispatcher), called on the loop thread after netmesh acted on them
 * itself: a maintenance transition is already committed, a StopDaemon has
 * already become Shutdown{grace} in the daemon's channel. Both callbacks are
 * optional; a negative dispatch result is counted as failed.
 */
struct nm_meshos_dispatcher {
	void *ctx;
	int (*dispatch)(void *ctx, const struct nm_meshos_action *a);
	void (*on_backpressure)(void *ctx, bool asserted, float level);
};

/* ---- configuration ---- */

struct nm_meshos_config {
	struct nm_runtime *rt;       /* required: the runtime whose daemons MeshOS supervises */
	uint64_t this_node;          /* 0: the runtime mesh's node_id */
	uint32_t tick_ms;            /* 0: 500 */
	uint32_t event_queue;        /* 0: 1024 */
	uint32_t action_queue;       /* actions per reconcile pass, the rest dropped; 0: 1024 */
	uint32_t control_capacity;   /* per-daemon channel; 0: 8 */
	uint32_t log_ring;           /* 0: 2048 */
	uint64_t drain_deadline_ms;  /* 0: 10 min */
	uint64_t ramp_window_ms;     /* 0: 5 min */
	uint32_t backpressure_ms;    /* sampling period; 0: 100 */
	float backpressure_high;     /* assert at level >= high; 0: 0.75 */
	float backpressure_low;      /* release at level <= low; 0: 0.25 */
	struct nm_meshos_probes probes;
	/*
	 * Evacuation (docs/meshos.md "Evacuation"): with a migrator (start set),
	 * entering maintenance migrates every daemon to a peer of evac.peers
	 * whose capabilities satisfy the daemon's requirements (or to
	 * evac.fallback_peer), at most evac.max_inflight at a time, retrying
	 * until the drain deadline. Without one, daemons must leave by themselves.
	 * The migrator is called from nm_meshos_poll only, so poll on the thread
	 * that owns the migration engine (the control thread).
	 */
	struct nm_meshos_migrator migrator;
	struct nm_evac_config evac;
};

/* ---- events into the loop (upstream MeshOsEvent) ---- */

enum nm_meshos_event_kind {
	NM_MESHOS_EV_ENTER_MAINTENANCE = 1, /* node; drain_for_ms (0: the configured deadline) */
	NM_MESHOS_EV_EXIT_MAINTENANCE = 2,  /* node */
	NM_MESHOS_EV_TRANSITION = 3,        /* node; state: a transition committed elsewhere */
	NM_MESHOS_EV_DAEMON_SIGNAL = 4,     /* daemon; arg: enum nm_meshos_signal; health/saturation */
	NM_MESHOS_EV_DAEMON_INTENT = 5,     /* daemon; arg: enum nm_meshos_intent */
	NM_MESHOS_EV_LOG = 6,               /* arg: level; daemon if has_daemon; message */
};

/* Registration is Started and unregistration ExitedCleanly, observed directly. */
enum nm_meshos_signal {
	NM_MESHOS_SIG_EXITED = 1,     /* stopped cleanly (still registered) */
	NM_MESHOS_SIG_CRASHED = 2,    /* stopped by a failure (still registered) */
	NM_MESHOS_SIG_HEALTH = 3,     /* health: enum nm_meshos_daemon_health */
	NM_MESHOS_SIG_SATURATION = 4, /* saturation: 0..1 */
	NM_MESHOS_SIG_STARTED = 5,    /* running again after EXITED/CRASHED */
};

/* Upstream's C values. */
enum nm_meshos_daemon_health {
	NM_MESHOS_HEALTHY = 0,
	NM_MESHOS_DEGRADED = 1,
	NM_MESHOS_UNHEALTHY = 2,
};

enum nm_meshos_intent {
	NM_MESHOS_INTENT_RUN = 1,  /* leave it running (cancels a Stop not yet acted on) */
	NM_MESHOS_INTENT_STOP = 2, /* reconcile emits StopDaemon: Shutdown{30 s} to the daemon */
};

struct nm_meshos_event {
	uint32_t kind;              /* enum nm_meshos_event_kind */
	uint32_t arg;               /* signal, intent or log level */
	uint64_t node;
	uint64_t daemon;
	bool has_daemon;            /* LOG */
	uint32_t health;            /* SIGNAL HEALTH */
	float saturation;           /* SIGNAL SATURATION */
	uint64_t drain_for_ms;      /* ENTER_MAINTENANCE */
	struct nm_maint_state state; /* TRANSITION */
	char message[NM_LOG_MSG_MAX + 1]; /* LOG */
};

/* ---- counters ---- */

struct nm_meshos_stats {
	uint64_t ticks;                 /* reconcile passes */
	uint64_t events_applied;
	uint64_t events_refused;        /* publish found the queue full */
	uint64_t actions_emitted;
	uint64_t actions_dropped;       /* beyond action_queue in one pass */
	uint64_t actions_failed;        /* the dispatcher returned an error */
	uint64_t transitions_committed; /* this node's maintenance state changed */
	uint64_t transitions_rejected;  /* not a valid successor */
	uint64_t control_broadcasts;    /* fan-outs to every daemon */
	uint64_t control_routed;        /* events a channel accepted */
	uint64_t control_dropped;       /* events refused by a full channel (monotonic) */
	uint64_t control_delivered;     /* events handed to on_control */
	uint64_t control_batches;       /* on_control requests (one per owner lcore and 1024 daemons) */
	uint64_t pump_errors;           /* on_control batches no worker took */
	uint64_t logs;                  /* records in the log ring so far */
	uint64_t capability_sets;       /* daemons with a published capability set */
	uint64_t capability_publishes;
	uint64_t backpressure_asserts;
	uint64_t backpressure_releases;
	uint64_t daemons;               /* with a channel now */
	struct nm_evac_stats evac;      /* the evacuation (all 0 without a migrator) */
};

/* What the loop published at its last tick. */
struct nm_meshos_status {
	uint64_t node_id;
	uint64_t last_tick_ms;          /* loop clock; 0 before the first tick */
	struct nm_maint_state state;
	struct nm_maint_view view;      /* as of last_tick_ms */
	bool backpressure;
	float level;                    /* last sampled load */
	bool closed;                    /* nm_meshos_shutdown was called */
	bool accepting;                 /* takes new daemons (not Entering, Maintenance, DrainFailed) */
	bool evacuating;                /* an evacuation is running */
	bool evac_failed;               /* the last evacuation ended with daemons left */
	uint64_t evac_left;             /* how many */
};

/* What a daemon can observe (upstream MetadataView). */
struct nm_meshos_metadata {
	uint64_t node_id;
	uint64_t daemon_id;
	char daemon_name[NM_NAME_MAX + 1];
	struct nm_maint_view maintenance; /* as of the loop's last tick */
	bool has_capabilities;
	struct nm_capability_set capabilities; /* what this daemon published */
	uint32_t n_peers;
	struct nm_meshos_peer peers[NM_MESHOS_MAX_PEERS]; /* ascending node_id */
};

/* ==== the loop ==== */

/*
 * Start MeshOS on a runtime (upstream MeshOsDaemonSdk::start): attaches to the
 * runtime's registrations and gives every daemon a channel. The loop moves
 * only when nm_meshos_poll is called. `dispatcher` may be NULL; it is copied.
 * -EINVAL (no runtime), -EBUSY (the runtime has an observer), -ENOMEM.
 */
int nm_meshos_start(const struct nm_meshos_config *cfg, const struct nm_meshos_dispatcher *dispatcher,
		    struct nm_meshos **out);

/*
 * One step, on the control thread (never concurrently with itself), with the
 * loop clock `now_ms` (monotonic, nm_mono_ms() in the appliance): a tick when
 * one is due (the first one tick_ms after the first poll; a late tick delays
 * the next, never bursts), queued events, backpressure sampling, and handing
 * waiting control events to on_control. Returns the work done (ticks + events
 * + deliveries); 0 once shut down and drained.
 */
unsigned nm_meshos_poll(struct nm_meshos *m, uint64_t now_ms);

/*
 * Queue an event without blocking (upstream try_publish). 0, -EINVAL,
 * -ENOBUFS ("queue_full"), -EPIPE ("loop_closed" after shutdown).
 */
int nm_meshos_publish(struct nm_meshos *m, const struct nm_meshos_event *ev);

/* Admin shortcuts: drain_for_ms 0 is the configured default deadline. */
int nm_meshos_enter_maintenance(struct nm_meshos *m, uint64_t node, uint64_t drain_for_ms);
int nm_meshos_exit_maintenance(struct nm_meshos *m, uint64_t node);

/*
 * Shut the loop down (upstream MeshOsDaemonSdk::shutdown): publishing fails
 * with loop_closed from now on, the events already queued are applied at the
 * next poll, the runtime observer is detached, and every channel is closed
 * (a blocked next_control returns NONE once its channel is empty). Daemons
 * stay registered in the runtime. -ESHUTDOWN ("already_shutdown") the second
 * time.
 */
int nm_meshos_shutdown(struct nm_meshos *m);

/*
 * Shut down if needed and let go of the loop; the memory goes with the last
 * handle. Not concurrently with nm_meshos_poll. NULL is accepted.
 */
void nm_meshos_free(struct nm_meshos *m);

uint64_t nm_meshos_node_id(const struct nm_meshos *m);
void nm_meshos_stats(struct nm_meshos *m, struct nm_meshos_stats *out);
void nm_meshos_status(struct nm_meshos *m, struct nm_meshos_status *out);

/* Peers as of the last tick, ascending node_id; returns how many. */
uint32_t nm_meshos_peers(struct nm_meshos *m, struct nm_meshos_peer *out, uint32_t max);

/* Published log records with seq > after_seq, oldest first; returns how many. */
uint32_t nm_meshos_logs(struct nm_meshos *m, uint64_t after_seq, struct nm_log_record *out,
			uint32_t max);

/* A daemon's published capabilities: 0, or -ENOENT when it published none. */
int nm_meshos_capabilities(struct nm_meshos *m, uint64_t daemon, struct nm_capability_set *out);
/* Daemons whose published set satisfies `filter` (NULL: any): ids up to max; returns the count. */
size_t nm_meshos_capable(struct nm_meshos *m, const struct nm_capability_filter *filter,
			 uint64_t *ids, size_t max);

/*
 * Does the node take new daemons? With a migrator (an evacuating node),
 * false from the moment this node's EnterMaintenance is applied until its
 * ExitMaintenance is (Entering, Maintenance, DrainFailed):
 * nm_meshos_register refuses them ("in_maintenance") and the migrator
 * refuses inbound migrations. Without one, always true (upstream registers
 * in any state). The appliance checks it before it spawns.
 */
bool nm_meshos_accepts_work(struct nm_meshos *m);

/* Total events refused by full channels (upstream dropped_control_events; monotonic here). */
uint64_t nm_meshos_dropped_control_events(struct nm_meshos *m);

/* Queue a control event for one daemon (the router): 0, -ENOENT, -ENOBUFS (dropped, counted). */
int nm_meshos_route(struct nm_meshos *m, uint64_t daemon, const struct nm_daemon_control *c);

/* ==== the daemon SDK ==== */

/*
 * Register a daemon instance under `id` (copied) and return its handle
 * (upstream register_daemon): the daemon joins the runtime (cfg NULL: the
 * default host config; cfg->lcore pins it on a worker lcore) and gets its
 * control channel. Takes ownership of `d` in every case. Duplicate identity:
 * NM_EPROCESS_FAILED, kind "register_failed", message "daemon process failed:
 * daemon 0x... already registered". While nm_meshos_accepts_work is false
 * (an evacuating node in maintenance): -EAGAIN, kind "in_maintenance".
 */
int nm_meshos_register(struct nm_meshos *m, struct nm_daemon *d, const struct nm_identity *id,
		       const struct nm_host_config *cfg, struct nm_meshos_handle **out);

/* Unregister the daemon if it still is (upstream's Drop failsafe) and free the handle. */
void nm_meshos_handle_free(struct nm_meshos_handle *h);

/* Cached at registration; valid for the handle's lifetime (also after shutdown). */
uint64_t nm_meshos_daemon_id(const struct nm_meshos_handle *h);
const char *nm_meshos_daemon_name(const struct nm_meshos_handle *h);

/*
 * The next control event: out->kind NONE when the channel is empty (try_)
 * or when timeout_ms passed (0: wait without limit) or the channel is closed
 * and empty (the daemon was unregistered, the SDK shut down). Still works
 * after graceful_shutdown (upstream: already_shutdown), so the daemon's own
 * thread gets the Shutdown that call sent. -EINVAL for a daemon whose events
 * go to its on_control.
 */
int nm_meshos_try_next_control(struct nm_meshos_handle *h, struct nm_daemon_control *out);
int nm_meshos_next_control(struct nm_meshos_handle *h, uint64_t timeout_ms,
			   struct nm_daemon_control *out);

/* The cached view (as of registration or the last refresh), or refreshed from the loop first. */
int nm_meshos_metadata(const struct nm_meshos_handle *h, struct nm_meshos_metadata *out);
int nm_meshos_refresh_metadata(struct nm_meshos_handle *h, struct nm_meshos_metadata *out);

/* Store this daemon's capability set in the node's index (replaces the previous one). */
int nm_meshos_publish_capabilities(struct nm_meshos_handle *h, const struct nm_capability_set *caps);

/*
 * Queue a log line for the node's log ring, tagged with this daemon; the loop
 * stamps seq, time and node. Never blocks. level 0..4 (else -EINVAL,
 * "invalid_log_level"); messages longer than NM_LOG_MSG_MAX bytes are cut.
 * -ENOBUFS "queue_full" (the loop's event queue), -EPIPE "loop_closed".
 */
int nm_meshos_publish_log(struct nm_meshos_handle *h, int level, const char *msg);

/*
 * Send Shutdown{grace_ms} to the daemon (0: 5000 ms), then wait, checking
 * every 50 ms, until the daemon has unregistered itself (nm_meshos_exit) or
 * the grace elapsed; then unregister it if needed. Consumes the handle: other
 * calls then fail with -ESHUTDOWN ("already_shutdown") but daemon_id/name and
 * handle_free still work. Safe while another thread blocks in next_control
 * or calls nm_meshos_exit on the same handle.
 */
int nm_meshos_graceful_shutdown(struct nm_meshos_handle *h, uint64_t grace_ms);

/*
 * The daemon unregisters itself (from the thread that reads its channel, not
 * from process()/on_control): channel closed, daemon removed from the
 * runtime. Idempotent; the handle stays valid until freed.
 */
int nm_meshos_exit(struct nm_meshos_handle *h);

/* Events refused because this daemon's channel was full. */
uint64_t nm_meshos_handle_dropped(const struct nm_meshos_handle *h);

/* The thread's last SDK error: kind and message, or NULL when none. */
const char *nm_meshos_last_error_kind(void);
const char *nm_meshos_last_error_message(void);
void nm_meshos_clear_last_error(void);

/*
 * "<<meshos-sdk-kind:KIND>>MSG" into buf (snprintf semantics: returns the
 * full length). The second form formats the thread's last error ("" when none).
 */
int nm_meshos_error_format(char *buf, size_t len, const char *kind, const char *msg);
int nm_meshos_last_error_format(char *buf, size_t len);

/*
 * The single-daemon program (upstream daemon_main!): start MeshOS with cfg
 * and dispatcher, register `d` under `id` (host config hc, may be NULL),
 * then on this thread poll the loop and read control events until Shutdown
 * or DrainFinish arrives or the daemon is unregistered from outside, then
 * exit, graceful_shutdown(5 s) and shut down. The daemon must read its
 * channel (no on_control). Returns 0 or the first error.
 */
int nm_meshos_daemon_main(const struct nm_meshos_config *cfg,
			  const struct nm_meshos_dispatcher *dispatcher, struct nm_daemon *d,
			  const struct nm_identity *id, const struct nm_host_config *hc);

#define NM_DAEMON_MAIN(cfg, dispatcher, daemon, identity)                                        \
	nm_meshos_daemon_main((cfg), (dispatcher), (daemon), (identity), NULL)

#ifdef __cplusplus
}
#endif
#endif /* NM_MESHOS_H */

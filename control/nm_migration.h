/* SPDX-License-Identifier: MIT */
/*
 * nm_migration.h - the live-migration engine on the control thread:
 * orchestrator, source, target and the 0x0500 dispatcher (upstream's
 * compute/orchestrator.rs, migration_source.rs, migration_target.rs and
 * subprotocol/migration_handler.rs), with netmesh's exactly-once commit.
 *
 * The engine owns no thread, no socket and no clock. Everything comes in
 * through three small interfaces defined here:
 *   - transport: send one 0x0500 message to a node (never blocks), and the
 *     peer's X25519 static when the session knows it;
 *   - tap: hold a daemon's deliveries from the snapshot on, hand them over,
 *     release or forward them, and inject replayed events on the target;
 *   - time: every entry point takes now_ms; nm_mig_poll drives timeouts
 *     and retransmissions.
 * The dataplane implements transport and (for pinned daemons) tap; the
 * runtime implements the tap for control-path daemons (nm_runtime_tap).
 *
 * Commit point (docs/migration.md "Exactly once"): the source commits when it
 * holds the target's RestoreComplete. Before it, the source is authoritative
 * (an abort processes the held events here, in order) and the target
 * processes nothing; after it, the target is. Not thread-safe: one control
 * thread calls every function.
 */
#ifndef NM_MIGRATION_H
#define NM_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_error.h"
#include "nm_migwire.h"
#include "nm_runtime.h"
#include "nm_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ interfaces */

struct nm_mig_transport {
	void *ctx;
	/* Queue one message for `dest` (sealed as 0x0500 on its session). 0, or
	 * negative when there is no session or the queue is full: the engine
	 * retries later (snapshot chunks resume at the first one refused). */
	int (*send)(void *ctx, uint64_t dest, const uint8_t *msg, size_t len);
	/* The peer's X25519 static; false when unknown (NKpsk0 responder side). */
	bool (*peer_static)(void *ctx, uint64_t node, uint8_t out[32]);
	/* Optional: a Moved arrived, `origin` now lives on `node`: send to it
	 * directly from now on (the dataplane updates its route). */
	void (*moved)(void *ctx, uint64_t origin, uint64_t node);
};

/* One held event. The payload belongs to the tap until its next call. */
struct nm_mig_held {
	uint64_t mseq;   /* 1, 2, ... in arrival order, per hold */
	uint64_t sender; /* the node it came from (0 unknown) */
	struct nm_event ev;
};

struct nm_mig_tap {
	void *ctx;
	/*
	 * Snapshot the daemon and start holding its deliveries, atomically with
	 * respect to them (on a worker: one control-ring request). *snap is
	 * always set (the caller frees it), with the chain-head extension
	 * (next_parent); a stateless daemon gets an empty-state snapshot and
	 * *stateless true.
	 */
	int (*snapshot_hold)(void *ctx, uint64_t origin, struct nm_snapshot **snap,
			     bool *stateless, struct nm_error *err);
	/* Move up to `max` held events (mseq order) into out; returns how many. */
	uint32_t (*take)(void *ctx, uint64_t origin, struct nm_mig_held *out, uint32_t max);
	/* Stop holding: events still held are processed here, in order (abort /
	 * target activation). */
	int (*release)(void *ctx, uint64_t origin);
	/* The commit on the source: remove the daemon here and keep capturing its
	 * deliveries (mseq goes on) for the engine to forward. Negative: the tap
	 * already called the migration off (its hold overflowed and the held
	 * events were processed here), so the engine fails it instead. */
	int (*forward)(void *ctx, uint64_t origin, uint64_t target);
	/* End forwarding; -EBUSY while events wait to be taken. */
	int (*unforward)(void *ctx, uint64_t origin);
	/* Target: hold deliveries for a daemon about to be restored here (until
	 * release). -EBUSY while this node still forwards events for it. */
	int (*hold)(void *ctx, uint64_t origin);
	/* Target: process one migrated event now (it bypasses the target hold;
	 * a source hold or forward queues it like any delivery). */
	int (*inject)(void *ctx, uint64_t origin, const struct nm_event *ev, uint64_t sender,
		      struct nm_error *err);
};

/* ------------------------------------------------------------ engine */

struct nm_mig_config {
	struct nm_runtime *rt;
	const struct nm_mig_transport *tx;
	/* NULL: nm_runtime_tap(rt). The dataplane's tap serves pinned daemons on
	 * their workers and passes control-path daemons on to nm_runtime_tap(rt). */
	const struct nm_mig_tap *tap;
	const uint8_t *static_sk;      /* this node's X25519 static secret (32 B); NULL: opens no envelope */
	uint32_t rto_ms;               /* first retransmission; 0 -> 200 */
	uint32_t rto_max_ms;           /* backoff cap; 0 -> 2000 */
	uint32_t phase_timeout_ms;     /* before the commit, per phase; 0 -> 10000 */
	uint32_t discard_timeout_ms;   /* target: silent source before discarding an uncommitted restore; 0 -> 30000 */
	uint32_t linger_ms;            /* source: idle forwarding before it ends; 0 -> 5000 */
	/* The largest message the transport carries: a BufferedEvents is built to
	 * fit, trailer included. 0 -> NM_MIG_MAX_MESSAGE; at least 7168 (a
	 * 7000-byte chunk must fit anyway). */
	uint32_t max_message;
	/* The clock of the per-phase stamps (struct nm_mig_times), CLOCK_MONOTONIC
	 * ns on the appliance. NULL: now_ms of the entry point, in ns (tests). */
	uint64_t (*clock_ns)(void);
};

/* One 0x0500 message in one 8192-byte Net datagram: 8192 - 68 (NetHeader) - 4
 * (EventFrame length) - 16 (tag). */
#define NM_MIG_MAX_MESSAGE 8104u

struct nm_mig_opts {
	bool transport_identity;     /* seal the keypair to the target (upstream default true) */
	uint32_t retry_not_ready_ms; /* NotReady retry budget; 0: surface NotReady at once */
	/*
	 * netmesh: a local start sends MigrationPrepare to the target and takes
	 * the snapshot when MigrationPrepared comes back, or after prepare_ms at
	 * the latest (an upstream target never answers): the target leaves its
	 * idle naps before the hold starts. 0: snapshot at once (upstream).
	 */
	uint32_t prepare_ms;
};

/* Upstream's defaults: transport_identity true, retry_not_ready 30 s, no Prepare. */
static inline struct nm_mig_opts nm_mig_opts_default(void)
{
	struct nm_mig_opts o = { true, 30000, 0 };
	return o;
}

/* Target: how long a MigrationPrepare keeps this node in progress without
 * the SnapshotReady it announces (an abandoned Prepare ends there). */
#define NM_MIG_PREPARE_EXPECT_MS 3000u

struct nm_migration;

/* New engine; installs itself as the runtime's migration receiver (so the
 * node's nm_node_handle_migration reaches it). NULL on bad config. */
struct nm_migration *nm_mig_create(const struct nm_mig_config *cfg);
/* Free the engine before its runtime. */
void nm_mig_free(struct nm_migration *m);

uint64_t nm_mig_local_node(const struct nm_migration *m);

/*
 * Start migrating `origin` from `source` to `target`. A local source
 * snapshots and holds now and sends SnapshotReady (with opts->prepare_ms:
 * validates now, sends MigrationPrepare, and snapshots on Prepared or after
 * prepare_ms; a failure then goes to the history); a remote one gets
 * TakeSnapshot. Errors (nothing left behind): NM_ENOT_READY,
 * NM_EMIG_ALREADY_MIGRATING, NM_EMIG_DAEMON_NOT_FOUND, NM_EMIG_STATE_FAILED
 * ("identity transport requested but peer X25519 static for 0x.. is unknown
 * ..." and the other seal prerequisites), NM_EMIG_TARGET_UNAVAILABLE.
 */
int nm_mig_start(struct nm_migration *m, uint64_t origin, uint64_t source, uint64_t target,
		 const struct nm_mig_opts *opts, uint64_t now_ms, struct nm_error *err);

/* One inbound 0x0500 message. 0 or the error upstream would log (no reply is
 * sent for those); replies and follow-ups go out through the transport. */
int nm_mig_handle(struct nm_migration *m, const uint8_t *msg, size_t len, uint64_t from_node,
		  uint64_t now_ms, struct nm_error *err);

/* Timeouts, retransmissions, NotReady backoff, forwarding. Call often (every 10-50 ms). */
void nm_mig_poll(struct nm_migration *m, uint64_t now_ms);

/* Abort a migration this node runs, if it is still before the commit
 * (NM_EMIG_WRONG_PHASE after it; NM_EMIG_DAEMON_NOT_FOUND without one).
 * The history says "cancel requested". */
int nm_mig_cancel(struct nm_migration *m, uint64_t origin, uint64_t now_ms, struct nm_error *err);

/* Why a migration is called off before the commit: each cause its own reason. */
enum nm_mig_cancel_cause {
	NM_MIG_CANCEL_REQUESTED = 0, /* "cancel requested": an operator or a script */
	NM_MIG_CANCEL_HOLD_OVERFLOW, /* "hold overflow: ...": the tap's hold filled, its owner
				      * delivered the held events at the source */
};
/* nm_mig_cancel with the cause named in the history. */
int nm_mig_cancel_for(struct nm_migration *m, uint64_t origin, enum nm_mig_cancel_cause why,
		      uint64_t now_ms, struct nm_error *err);

/* Upstream's simulate_not_ready: inbound restores answer NotReady. */
void nm_mig_simulate_not_ready(struct nm_migration *m, bool on);

/* ------------------------------------------------------------ operator view */

enum nm_mig_role_local {
	NM_MIG_AS_SOURCE = 1,       /* and orchestrator */
	NM_MIG_AS_TARGET = 2,
	NM_MIG_AS_ORCHESTRATOR = 3, /* of a remote source */
};

/*
 * When each phase of one migration happened on this node, in the engine's
 * clock (nm_mig_config.clock_ns: CLOCK_MONOTONIC ns on the appliance); 0: not
 * reached (or not this node's role). Stamps are taken on the control thread:
 * a worker's step (snapshot, restore) is stamped when its reply is seen.
 * Between hosts only differences of one node's own stamps are meaningful;
 * appliances on one host share the clock (the pause benchmark joins both).
 */
struct nm_mig_times {
	/* source */
	uint64_t prep_sent;     /* MigrationPrepare sent (opts.prepare_ms; before the hold) */
	uint64_t prepared_rx;   /* MigrationPrepared received (0: prepare_ms ran out) */
	uint64_t snap_req;      /* snapshot + hold requested from the daemon's owner */
	uint64_t snap_taken;    /* ... its reply: the hold runs since (at most) snap_req */
	uint64_t snap_sent;     /* every SnapshotReady chunk sent once */
	uint64_t restored_rx;   /* RestoreComplete received */
	uint64_t commit;        /* the daemon left this node (tap.forward) */
	uint64_t activate_sent; /* ActivateTarget sent */
	uint64_t events_sent;   /* the first BufferedEvents of the held events sent */
	uint64_t activated_rx;  /* ActivateAck received */
	uint64_t fwd_end;       /* forwarding ended (linger over, everything acked) */
	/* target */
	uint64_t snap_rx;       /* the first SnapshotReady chunk received */
	uint64_t reassembled;   /* the last chunk: the snapshot is whole */
	uint64_t opened;        /* decoded, identity envelope opened */
	uint64_t restored;      /* restored (held) on its worker: the owner's reply seen */
	uint64_t restored_sent; /* RestoreComplete sent */
	uint64_t activate_rx;   /* ActivateTarget received: active */
	uint64_t first_replay;  /* the first migrated event handed to the daemon's owner */
	uint64_t last_replay;   /* the latest one (forwarded events included) */
};

/*
 * The stamps this node reached, for whoever lists them (telemetry, the
 * console): start with *i = 0; each call gives the next set one (its field
 * name, "snap_req", ..., in the struct's order, and its ns) and false after
 * the last.
 */
bool nm_mig_time_next(const struct nm_mig_times *t, unsigned *i, const char **name, uint64_t *ns);

struct nm_mig_info {
	uint64_t origin;
	uint64_t mid;      /* the attempt's migration id */
	uint64_t orch_mid; /* a remote orchestrator's id for it (0: none) */
	uint64_t source, target;
	uint8_t role;      /* enum nm_mig_role_local */
	uint8_t phase;     /* enum nm_mig_phase */
	bool committed;
	bool ok;           /* history: completed (true) or failed */
	uint64_t elapsed_ms;
	uint64_t bytes_sent;
	uint32_t retries;  /* retransmissions and NotReady attempts */
	uint64_t events;   /* events handed over (source) or replayed (target) */
	uint64_t held_at_commit; /* source: events held when it committed (shipped at once) */
	struct nm_mig_times t;
	uint16_t fail_code; /* history, failed: enum nm_mig_fail_code */
	uint8_t attempts;   /* NotReady attempts */
	char reason[128];  /* history, failed: why (upstream's Display text) */
};

/* Is any migration of this node before its end (a source before ActivateAck, a
 * target before ActivateTarget, an orchestrator's, a target between a Prepare
 * and its SnapshotReady)? Then every hand-off waits on someone: the dataplane
 * keeps its workers answering quickly meanwhile. */
bool nm_mig_in_progress(const struct nm_migration *m);

/* In-progress migrations (phase, bytes, elapsed, retries); returns how many in all. */
size_t nm_mig_list(const struct nm_migration *m, uint64_t now_ms, struct nm_mig_info *out,
		   size_t max);
/* Finished ones, newest first (bounded: the last NM_MIG_HISTORY). */
#define NM_MIG_HISTORY 32
size_t nm_mig_history(const struct nm_migration *m, struct nm_mig_info *out, size_t max);
/* The phase of this node's record for origin (source/orchestrator first), or NM_MIG_PHASE_NONE. */
enum nm_mig_phase nm_mig_phase_of(const struct nm_migration *m, uint64_t origin);
/* The last failure recorded for origin (upstream's recent_failures: a start
 * clears it, a poll after the runtime's shutdown clears all); false when none. */
bool nm_mig_last_failure(const struct nm_migration *m, uint64_t origin, struct nm_mig_reason *r);

struct nm_mig_stats {
	uint64_t sent, send_failed, received, decode_errors, wrong_peer, stale;
	uint64_t loopback_dropped; /* past the 32-bounce cap */
	uint64_t events_forwarded, events_replayed, events_duplicate;
	uint64_t events_lost_nomem; /* an allocation failed while taking held events */
	uint64_t events_undeliverable; /* a late event for a daemon that left, with no forwarding here */
	/* Dropped: larger than any BufferedEvents carries (payload > 7000, upstream's
	 * cap, or past max_message); counted by the source once the target skipped
	 * them, or by a discarding target handing events back. */
	uint64_t events_too_large;
	uint64_t events_skipped; /* target: mseqs the source said will never come (SKIP) */
	uint64_t moved_sent;
	/* SnapshotReady chunks sent (retransmissions included), and of them resent. */
	uint64_t chunks_sent, chunks_resent;
	uint64_t chunk_acks_sent, chunk_acks_received;
	/* Source: Prepares sent, Prepared received, snapshots after prepare_ms
	 * without one. Target: Prepares answered, and expectations that ran out
	 * (NM_MIG_PREPARE_EXPECT_MS) without their SnapshotReady. */
	uint64_t prepares_sent, prepared_received, prepare_timeouts;
	uint64_t prepares_answered, prepare_expired;
};
void nm_mig_stats(const struct nm_migration *m, struct nm_mig_stats *out);

/* netmesh extension: the migration id that ties a message to one attempt (TLV 0x40, u64). */
#define NM_MIG_TLV_MIGRATION_ID 0x40
/* netmesh extension: on a BufferedEvents with MSEQ and no events, u64 n: the
 * mseqs MSEQ .. MSEQ + n - 1 will never be sent (lost, or too large to carry);
 * the target's replay goes past them instead of waiting. */
#define NM_MIG_TLV_SKIP 0x42

#ifdef __cplusplus
}
#endif
#endif /* NM_MIGRATION_H */

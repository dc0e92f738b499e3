/* SPDX-License-Identifier: MIT */
/*
 * nm_ctlrouter.h - per-daemon control channels and the router that fills
 * them (upstream's DaemonControlRouter), with MeshOS's supervision record of
 * each daemon.
 *
 * One slot per registered daemon (MeshOS adds and removes slots from the
 * runtime's lifecycle observer). A slot's channel is a bounded queue of
 * nm_daemon_control records with exact capacity (default 8): delivery is at
 * most once and FIFO per daemon; when the channel is full the *new* event is
 * dropped (upstream's behaviour; its docs say the oldest) and counted, on the
 * slot and router-wide. The router-wide count is monotonic (upstream sums the
 * live slots, so an unregistered daemon's drops vanish from its total).
 * Routing to an unknown daemon does nothing and counts nothing.
 *
 * The channel is read by one consumer: the daemon's SDK handle
 * (nm_meshos_next_control), or, for a daemon with an on_control op, MeshOS's
 * pump, which hands the events to on_control on the daemon's own lcore.
 *
 * Slots are reference counted: the router holds one while the slot is
 * registered; an SDK handle or a pump batch may hold more, so a channel
 * outlives its unregistration until its last reader lets go. Removal closes
 * the channel: a blocked reader wakes and sees NONE once it is empty.
 *
 * Locking: a rwlock (shared to route, broadcast and collect, exclusive to add
 * and remove); channels themselves are lock-free. Never call into the runtime
 * while holding it (the runtime's observer takes it under the registry lock).
 */
#ifndef NM_CTLROUTER_H
#define NM_CTLROUTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_bq.h"
#include "nm_daemon.h"
#include "nm_u64map.h"

#define NM_CTL_DEFAULT_CAPACITY 8

enum nm_ctl_lifecycle { NM_CTL_RUNNING = 0, NM_CTL_STOPPED = 1 };
enum nm_ctl_health { NM_CTL_HEALTH_UNKNOWN = 0, NM_CTL_HEALTHY, NM_CTL_DEGRADED, NM_CTL_UNHEALTHY };
enum nm_ctl_intent { NM_CTL_INTENT_NONE = 0, NM_CTL_INTENT_RUN, NM_CTL_INTENT_STOP };

struct nm_ctlslot {
	uint64_t id;
	char name[NM_NAME_MAX + 1];
	uint32_t lcore;           /* owner: a worker lcore or NM_LCORE_CONTROL */
	bool on_control;          /* read by the pump for on_control, not by a handle */
	struct nm_bq *q;
	_Atomic uint64_t dropped; /* events refused because the channel was full */
	_Atomic uint32_t refs;
	_Atomic bool *pending;    /* the router's "an on_control slot has events" flag */
	/* Router bookkeeping, under the router lock. */
	size_t pos;               /* index in all[] */
	uint32_t group;           /* on_control: index in groups[] */
	size_t gpos;              /* on_control: index in that group */
	/* Supervision record: written and read by the MeshOS loop thread only. */
	uint8_t lifecycle;        /* enum nm_ctl_lifecycle: RUNNING from registration */
	uint8_t health;           /* enum nm_ctl_health */
	uint8_t intent;           /* enum nm_ctl_intent */
	bool stop_sent;           /* StopDaemon already emitted for the Stop intent */
	float saturation;
};

/* The on_control slots of one owner lcore. */
struct nm_ctlgroup {
	uint32_t lcore;
	struct nm_ctlslot **slots;
	size_t n, cap;
};

struct nm_ctlrouter {
	pthread_rwlock_t lock;
	struct nm_u64map map;      /* id -> slot */
	struct nm_ctlslot **all;   /* broadcast targets (order unspecified) */
	size_t n, cap;
	struct nm_ctlgroup *groups;
	uint32_t n_groups, cap_groups;
	uint32_t capacity;         /* per channel */
	_Atomic uint64_t dropped;  /* every drop, monotonic */
	_Atomic uint64_t routed;   /* every event a channel accepted */
	_Atomic bool pending;
};

/* The loop's form of an event: deadlines on the loop clock (upstream MeshOsControl). */
struct nm_mesh_control {
	uint32_t kind;        /* enum nm_control_kind */
	float level;          /* BACKPRESSURE_ON */
	uint64_t deadline_ms; /* SHUTDOWN, DRAIN_START */
};

/* A slot with events for its on_control, and its owner (nm_ctlrouter_collect). */
struct nm_ctlpending {
	uint32_t lcore;
	struct nm_ctlslot *slot;
};

/* capacity 0: NM_CTL_DEFAULT_CAPACITY. 0 or -ENOMEM. */
int nm_ctlrouter_init(struct nm_ctlrouter *r, uint32_t capacity);
/* Close and release every slot (handles keep theirs alive). */
void nm_ctlrouter_fini(struct nm_ctlrouter *r);

/* New slot for a daemon; capacity 0: the router's. -EEXIST, -ENOMEM. */
int nm_ctlrouter_add(struct nm_ctlrouter *r, const struct nm_daemon_info *d, uint32_t capacity);
/* Remove (later routes are no-ops) and close the channel. false when absent. */
bool nm_ctlrouter_remove(struct nm_ctlrouter *r, uint64_t id);

/* The slot with a reference taken, or NULL. */
struct nm_ctlslot *nm_ctlrouter_get(struct nm_ctlrouter *r, uint64_t id);
void nm_ctlslot_put(struct nm_ctlslot *s);

/* Queue c for one daemon: 0, -ENOENT (no such daemon: nothing counted), -ENOBUFS (dropped). */
int nm_ctlrouter_route(struct nm_ctlrouter *r, uint64_t id, const struct nm_daemon_control *c);
/* Queue c for every daemon; returns how many accepted it (the others count a drop). */
size_t nm_ctlrouter_broadcast(struct nm_ctlrouter *r, const struct nm_daemon_control *c);

/* The wire form at `now`: grace = deadline - now, past deadlines are 0; level as is. */
struct nm_daemon_control nm_control_at(const struct nm_mesh_control *c, uint64_t now_ms);
/* The loop's control sink (upstream RouterControlSink): broadcast c as of now. */
size_t nm_ctlrouter_emit(struct nm_ctlrouter *r, const struct nm_mesh_control *c, uint64_t now_ms);

uint64_t nm_ctlrouter_dropped(struct nm_ctlrouter *r);
size_t nm_ctlrouter_count(struct nm_ctlrouter *r);

/* Close every channel (SDK shutdown): blocked readers return NONE once empty. */
void nm_ctlrouter_close_all(struct nm_ctlrouter *r);

/* Visit every slot under the shared lock (fn must not call into the router or runtime). */
void nm_ctlrouter_foreach(struct nm_ctlrouter *r, void (*fn)(struct nm_ctlslot *s, void *ctx),
			  void *ctx);

/*
 * For the pump: if any on_control slot got an event since the last call,
 * list those with events waiting, grouped by owner lcore, each with a
 * reference taken (nm_ctlslot_put them). *buf grows as needed (free() it).
 * Returns how many, or -ENOMEM (nothing taken; the flag stays set).
 */
int nm_ctlrouter_collect(struct nm_ctlrouter *r, struct nm_ctlpending **buf, size_t *cap);

/* Channel reader side. */
static inline int nm_ctlslot_pop(struct nm_ctlslot *s, struct nm_daemon_control *c)
{
	return nm_bq_pop(s->q, c);
}

/* Pass every waiting event to d->ops->on_control (an nm_exec drain); returns how many. */
uint32_t nm_ctlslot_drain(void *slot, struct nm_daemon *d);

static inline uint64_t nm_ctlslot_dropped(const struct nm_ctlslot *s)
{
	return atomic_load_explicit(&s->dropped, memory_order_relaxed);
}

#endif /* NM_CTLROUTER_H */

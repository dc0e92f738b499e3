/* SPDX-License-Identifier: MIT */
/*
 * nm_exec.h - how the registry reaches daemons that live on worker lcores.
 *
 * A host pinned on a worker lcore is owned by that lcore: only its thread
 * touches the host. The registry keeps the control-side record and turns
 * every operation on such a host into a request executed by the owner. The
 * dataplane implements `call` as a fixed-size message on the owner's request
 * ring and a reply on its response ring; the caller blocks until the reply.
 */
#ifndef NM_EXEC_H
#define NM_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_daemon.h"
#include "nm_error.h"

struct nm_host;
struct nm_snapshot;

enum nm_exec_op {
	NM_EXEC_ATTACH,   /* take ownership: add the host to the lcore's table */
	NM_EXEC_DETACH,   /* give it back: remove it from the lcore's table */
	NM_EXEC_DELIVER,  /* nm_host_deliver on the owner */
	NM_EXEC_SNAPSHOT, /* nm_host_snapshot on the owner */
	NM_EXEC_STATS,    /* copy the host's stats */
	NM_EXEC_CONTROL,  /* pass waiting control events to on_control, for a batch of hosts */
};

/* One daemon's part of a CONTROL request (MeshOS batches one request per lcore). */
struct nm_exec_control {
	uint64_t origin;
	struct nm_host *host; /* set by the registry; NULL when the daemon is gone or elsewhere */
	void *queue;          /* the caller's: where the daemon's events wait */
};

/* Hand the events waiting in `queue` to d->ops->on_control; returns how many. */
typedef uint32_t (*nm_exec_drain_fn)(void *queue, struct nm_daemon *d);

struct nm_exec_req {
	enum nm_exec_op op;
	struct nm_host *host;
	const struct nm_event *ev; /* DELIVER */
	struct nm_outputs *out;    /* DELIVER */
	uint64_t now_ns;           /* DELIVER */
	struct nm_snapshot **snap; /* SNAPSHOT */
	struct nm_daemon_stats *stats; /* STATS */
	struct nm_exec_control *ctl;   /* CONTROL: n_ctl entries */
	uint32_t n_ctl;                /* CONTROL */
	nm_exec_drain_fn drain;        /* CONTROL */
	uint64_t delivered;            /* CONTROL: events passed on (out) */
	struct nm_error *err;
};

struct nm_executor {
	void *ctx;
	/* Is there a running owner for this lcore? */
	bool (*has_lcore)(void *ctx, uint32_t lcore);
	/* Run req on the owner lcore and wait; returns the operation's result. */
	int (*call)(void *ctx, uint32_t lcore, struct nm_exec_req *req);
};

/* Run a request on the calling thread (what an owner does with a request). */
int nm_exec_run(struct nm_exec_req *req);

#endif /* NM_EXEC_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_ctl.h - control thread <-> worker channel, in DPDK ip_pipeline style:
 * per worker a request ring `ctl2w_<lcore>` and a response ring
 * `w2ctl_<lcore>`, carrying fixed-size 32-byte messages (no allocation).
 *
 * Callers (any control-side thread) are serialised per channel; a call sends
 * one request and waits for the response with the same sequence number. The
 * worker answers between bursts. When the worker loop is not running, the
 * caller is told so (-ESRCH) and may act on the worker's tables itself, since
 * nothing else touches them then.
 */
#ifndef NM_CTL_H
#define NM_CTL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

enum nm_ctl_op {
	NM_CTL_EXEC = 1,     /* arg: struct nm_exec_req * (runtime operation on a pinned host) */
	NM_CTL_ROUTE_ADD,    /* arg: struct nm_dp_daemon * (daemon directory entry) */
	NM_CTL_ROUTE_DEL,    /* key: origin */
	NM_CTL_SESSION_ADD,  /* arg: struct nm_session * */
	NM_CTL_SESSION_DEL,  /* key: session_id */
	NM_CTL_OUTPUT_ROUTE, /* arg: struct nm_dp_route * */
	NM_CTL_ROUTE_REPLACE, /* key: origin, arg: the struct nm_dp_daemon * that takes its place */
	NM_CTL_MIG_HOLD,     /* arg: struct nm_dp_mig_req * (owner: snapshot, then hold events) */
	NM_CTL_MIG_RELEASE,  /* arg: struct nm_dp_mig_req * (owner: deliver held events, stop holding) */
};

struct nm_ctl_msg {
	uint32_t op;
	uint32_t seq;
	uint64_t key;
	void *arg;
	int64_t rc; /* response: the result */
};

struct nm_ctl_chan {
	struct rte_ring *req; /* ctl2w_<lcore> */
	struct rte_ring *rsp; /* w2ctl_<lcore> */
	pthread_mutex_t lock; /* one call in flight per channel */
	uint32_t seq;
	_Atomic bool running; /* the worker loop is serving requests */
};

/* Create the two rings. Negative errno on failure. */
int nm_ctl_chan_init(struct nm_ctl_chan *c, unsigned lcore, int socket);
void nm_ctl_chan_fini(struct nm_ctl_chan *c);

/*
 * Send one request and wait for its response (the op's result in *rc).
 * Returns 0 when the worker answered, -ESRCH when no worker serves the
 * channel (the request was not and will not be executed), -ENOBUFS if the
 * request ring is full.
 */
int nm_ctl_call(struct nm_ctl_chan *c, uint32_t op, uint64_t key, void *arg, int *rc);

/* Worker side: serve up to `max` requests with `handle`; returns how many. */
typedef int (*nm_ctl_handler)(void *ctx, const struct nm_ctl_msg *m);
unsigned nm_ctl_serve(struct nm_ctl_chan *c, nm_ctl_handler handle, void *ctx, unsigned max);

/* Worker side: mark the loop as serving (true) or gone (false, after a final serve). */
void nm_ctl_set_running(struct nm_ctl_chan *c, bool running);

#endif /* NM_CTL_H */

/* SPDX-License-Identifier: MIT */
/* nm_ctl.c - control channel (see header). */
#include "nm_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <rte_errno.h>
#include <rte_pause.h>

#define CTL_RING_SIZE 64

int nm_ctl_chan_init(struct nm_ctl_chan *c, unsigned lcore, int socket)
{
	char name[RTE_RING_NAMESIZE];
	/* Both sides are single: callers hold the channel lock, one worker serves. */
	const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
	snprintf(name, sizeof(name), "ctl2w_%u", lcore);
	c->req = rte_ring_create_elem(name, sizeof(struct nm_ctl_msg), CTL_RING_SIZE, socket, flags);
	snprintf(name, sizeof(name), "w2ctl_%u", lcore);
	c->rsp = rte_ring_create_elem(name, sizeof(struct nm_ctl_msg), CTL_RING_SIZE, socket, flags);
	if (c->req == NULL || c->rsp == NULL) {
		int rc = -rte_errno;
		nm_ctl_chan_fini(c);
		return rc != 0 ? rc : -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->seq = 0;
	atomic_init(&c->running, false);
	return 0;
}

void nm_ctl_chan_fini(struct nm_ctl_chan *c)
{
	rte_ring_free(c->req);
	rte_ring_free(c->rsp);
	c->req = c->rsp = NULL;
}

static void nap(void)
{
	struct timespec ts = { 0, 20000 }; /* 20 us: don't steal the worker's CPU */
	nanosleep(&ts, NULL);
}

/* Our request is still queued and the worker is gone: take it back. */
static bool reclaim(struct nm_ctl_chan *c, uint32_t seq)
{
	struct nm_ctl_msg m;
	bool ours = false;
	while (rte_ring_dequeue_elem(c->req, &m, sizeof(m)) == 0)
		ours |= m.seq == seq;
	return ours;
}

int nm_ctl_call(struct nm_ctl_chan *c, uint32_t op, uint64_t key, void *arg, int *rc)
{
	pthread_mutex_lock(&c->lock);
	if (!atomic_load(&c->running)) {
		pthread_mutex_unlock(&c->lock);
		return -ESRCH;
	}
	struct nm_ctl_msg m = { .op = op, .seq = ++c->seq, .key = key, .arg = arg };
	if (rte_ring_enqueue_elem(c->req, &m, sizeof(m)) != 0) {
		pthread_mutex_unlock(&c->lock);
		return -ENOBUFS;
	}
	int ret = 0;
	for (unsigned spins = 0;; spins++) {
		struct nm_ctl_msg r;
		if (rte_ring_dequeue_elem(c->rsp, &r, sizeof(r)) == 0) {
			if (r.seq != m.seq)
				continue; /* a stale answer cannot happen, but never trust it */
			*rc = (int)r.rc;
			break;
		}
		if (!atomic_load(&c->running) && rte_ring_count(c->rsp) == 0 && reclaim(c, m.seq)) {
			ret = -ESRCH;
			break;
		}
		if (spins < 1000)
			rte_pause();
		else
			nap();
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

unsigned nm_ctl_serve(struct nm_ctl_chan *c, nm_ctl_handler handle, void *ctx, unsigned max)
{
	unsigned n = 0;
	struct nm_ctl_msg m;
	while (n < max && rte_ring_dequeue_elem(c->req, &m, sizeof(m)) == 0) {
		m.rc = handle(ctx, &m);
		/* The response ring has room: at most one request is in flight. */
		rte_ring_enqueue_elem(c->rsp, &m, sizeof(m));
		n++;
	}
	return n;
}

void nm_ctl_set_running(struct nm_ctl_chan *c, bool running)
{
	atomic_store(&c->running, running);
}

/* SPDX-License-Identifier: MIT */
/* nm_exec.c - running registry requests on a host's owner (see header). */
#include "nm_exec.h"

#include <errno.h>

#include "nm_host.h"

/* Every event waiting for each daemon of the batch, in batch order. */
static int run_control(struct nm_exec_req *req)
{
	for (uint32_t i = 0; i < req->n_ctl; i++) {
		struct nm_host *h = req->ctl[i].host;
		if (h != NULL && h->daemon->ops->on_control != NULL)
			req->delivered += req->drain(req->ctl[i].queue, h->daemon);
	}
	return 0;
}

int nm_exec_run(struct nm_exec_req *req)
{
	switch (req->op) {
	case NM_EXEC_DELIVER:
		return nm_host_deliver(req->host, req->ev, req->out, req->now_ns, req->err);
	case NM_EXEC_SNAPSHOT:
		return nm_host_snapshot(req->host, req->snap, req->err);
	case NM_EXEC_STATS:
		*req->stats = req->host->stats;
		return 0;
	case NM_EXEC_CONTROL:
		return run_control(req);
	default:
		/* ATTACH/DETACH change the owner's tables: the owner handles them. */
		return nm_error_set(req->err, -ENOTSUP, "exec: op %d is the owner's", (int)req->op);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_worker.h - one worker lcore: polls its RX queue, opens Net packets,
 * delivers causal events to the daemons pinned on it (or hands them to their
 * owner lcore), batches the outputs per destination into sealed packets and
 * sends them on its TX queue (as IPv4 fragments when a datagram exceeds the
 * MTU), and reassembles the fragments it owns. No malloc and no lock on this path: every table
 * here is this worker's own, changed only through its control channel.
 */
#ifndef NM_WORKER_H
#define NM_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "nm_ctl.h"
#include "nm_daemon.h"
#include "nm_frag.h"
#include "nm_pkt.h"
#include "nm_stats.h"
#include "nm_u64map.h"

#define NM_BURST 32
#define NM_OUT_EVENTS 1024
#define NM_OUT_ARENA (64 * 1024)
#define NM_HANDOFF_RING 4096

struct nm_dataplane;
struct nm_host;
struct nm_session;

/* A daemon in the dataplane's directory: shared by every worker's map. */
struct nm_dp_daemon {
	uint64_t origin;
	uint32_t lcore;        /* owner */
	struct nm_host *host;  /* touched by the owner only */
	uint64_t tx_seq;       /* NetHeader sequence of its output packets (owner only) */
	uint64_t route_session; /* 0: reply on the input's session */
	uint64_t route_stream;  /* destination daemon when routed */
};

/* Output route: send `origin`'s outputs to daemon `stream` over session `session_id`. */
struct nm_dp_route {
	uint64_t origin;
	uint64_t session_id; /* 0 clears the route */
	uint64_t stream;
};

/* A run of consecutive outputs going to one place. */
struct nm_out_group {
	uint32_t first;
	uint32_t n;
	struct nm_session *session;
	uint64_t stream;           /* stream_id on the wire */
	struct nm_dp_daemon *src;  /* the emitting daemon */
};

struct nm_worker {
	/* Hot, read-mostly. */
	struct nm_dataplane *dp;
	unsigned index;  /* RX/TX queue */
	unsigned lcore;
	uint16_t port_id;
	uint16_t mtu;
	unsigned rx_flags; /* NM_PKT_RX_* the NIC verifies */
	unsigned tx_flags; /* NM_PKT_TX_* the NIC fills */
	uint64_t node_origin;
	struct nm_pkt_endpoint self;
	struct rte_mempool *pool;

	struct nm_u64map daemons;  /* origin -> struct nm_dp_daemon * */
	struct nm_u64map sessions; /* session_id -> struct nm_session * */

	struct rte_ring *pkt_in; /* whole packets for sessions we own (MP/SC) */
	struct rte_ring *evt_in; /* events for daemons we own (MP/SC) */
	struct rte_ring *tx_in;  /* frames the control thread wants sent (MP/SC) */
	struct nm_ctl_chan ctl;
	_Atomic bool stop;

	/* Outputs of this burst, then the packets they make. */
	struct nm_outputs out;
	struct nm_out_group groups[NM_OUT_EVENTS];
	uint32_t n_groups;
	struct rte_mbuf *tx[NM_BURST];
	uint16_t n_tx;
	uint16_t ip_id;
	uint64_t now_ns;  /* wall clock at this poll: event stamps (received_at) */
	uint64_t mono_ns; /* monotonic at this poll: session liveness, which a clock step must not end */
	struct nm_error err; /* scratch for process() */
	struct nm_event evs[NM_BURST * 4];

	struct nm_lcore_stats stats;

	/* IPv4 fragments whose (src, dst, id) hash to us, and where datagrams are reassembled. */
	struct nm_frag_table *frag;
	struct rte_mempool *big_pool;

	struct nm_event out_ev[NM_OUT_EVENTS];
	uint8_t out_arena[NM_OUT_ARENA];
	uint8_t big[NM_FRAG_MAX_FRAME]; /* a datagram above the MTU, before it is fragmented */
};

/* Prepare a worker (tables, rings, channel). Negative errno. */
int nm_worker_init(struct nm_worker *w, struct nm_dataplane *dp, unsigned index, unsigned lcore);
void nm_worker_fini(struct nm_worker *w);

/* One loop iteration: RX burst, hand-offs, TX, control. Returns packets handled. */
unsigned nm_worker_poll(struct nm_worker *w);

/* rte_eal_remote_launch entry: poll until stop, then drain. */
int nm_worker_main(void *arg);

/* Serve one control message as the worker would (also used inline when stopped). */
int nm_worker_handle(void *ctx, const struct nm_ctl_msg *m);

#endif /* NM_WORKER_H */

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
#include "nm_causal.h"
#include "nm_daemon.h"
#include "nm_frag.h"
#include "nm_pkt.h"
#include "nm_stats.h"
#include "nm_u64map.h"
#include "nm_wire.h"

#define NM_BURST 32
#define NM_OUT_EVENTS 1024 /* outputs one process() call may emit */
#define NM_OUT_PKTS 128    /* output packets a worker holds between flushes */
#define NM_OUT_FLUSH 32    /* flush before an input once this many are complete: the rest is
			    * room for one call's outputs (96 packets at the MTU) */
#define NM_HANDOFF_RING 4096
#define NM_STOP_DRAIN_NS (100ull * 1000 * 1000) /* at stop, how long a refusing port is retried */
#define NM_IDLE_POLLS 256 /* empty loops before an idle worker sleeps */

struct nm_aead;
struct nm_aead_batch;
struct nm_dataplane;
struct nm_exec_req;
struct nm_host;
struct nm_session;

/*
 * An event as it travels between lcores and to the control thread: this
 * header, then the payload. Hand-offs to the owner lcore, events held for a
 * migrating daemon, and events the control thread injects all use it.
 */
struct nm_dp_event_hdr {
	uint64_t session_id; /* the session it came in on (outputs go back there) */
	uint64_t daemon;
	uint64_t mseq;        /* held events: number in the hold, from 1 */
	uint64_t received_at;
	uint32_t flags;       /* NM_DP_EV_* */
	uint8_t link[NM_CAUSAL_LINK_SIZE];
	uint32_t len;
};

/*
 * An event as an mbuf from pool: header (mseq 0) then the payload. NULL with
 * *rc -ENOBUFS (no mbuf) or -EMSGSIZE (larger than the pool's data room).
 */
struct rte_mbuf *nm_dp_event_mbuf(struct rte_mempool *pool, uint64_t session_id, uint64_t daemon,
				  const struct nm_event *ev, uint32_t flags, int *rc);

/*
 * Events of a migrating daemon wait here instead of reaching its host. Only
 * the owner lcore enqueues and numbers them (so mseq is arrival order at the
 * owner); the control thread dequeues them once the target is authoritative,
 * or the owner delivers them itself when the migration is called off.
 */
/*
 * nm_dp_hold.state. A source's hold starts OPEN: the migration may still be
 * called off. When the owner cannot keep an event (ring full, no mbuf) it
 * calls it off itself (OPEN -> RELEASED: the held events and that one are
 * delivered here, in order; nothing is lost), unless the control thread
 * committed first (OPEN -> COMMITTED: the target is authoritative, so such
 * an event can only be a counted drop). Target holds start COMMITTED.
 */
enum { NM_DP_HOLD_OPEN = 0, NM_DP_HOLD_COMMITTED, NM_DP_HOLD_RELEASED };

struct nm_dp_hold {
	struct rte_ring *ring; /* struct rte_mbuf * holding nm_dp_event_hdr + payload */
	uint64_t mseq;         /* last number given (owner only) */
	uint64_t full;         /* events refused because the ring was full (owner only) */
	_Atomic uint32_t state; /* NM_DP_HOLD_*: one CAS decides owner vs control thread */
	/*
	 * A target's hold: events that arrive before the migrated daemon is
	 * active wait here, but the migration's own (injected) events go
	 * straight to the host. A source's hold keeps every event.
	 */
	bool target;
};

/* nm_dp_event_hdr.flags */
#define NM_DP_EV_INJECTED 0x1u /* the migration's replay: passes a target's hold */

/* An RX packet past the replay check, waiting for its burst's AEAD open. */
struct nm_rx_pending {
	struct rte_mbuf *m;
	struct nm_session *s;
	uint8_t *d;  /* the datagram */
	uint32_t len;
	bool has_src;
	struct nm_pkt_endpoint src;
	struct nm_net_hdr h;
};

/* A framed packet in tx[] waiting for its flush's seal, then its UDP/IP headers. */
struct nm_tx_pending {
	uint16_t slot; /* index in tx[] */
	uint16_t ip_id;
	uint32_t dlen;
	uint64_t counter;
	const struct nm_aead *key;
	struct nm_pkt_endpoint dst;
};

/* A daemon in the dataplane's directory: shared by every worker's map. */
struct nm_dp_daemon {
	uint64_t origin;
	uint32_t lcore;        /* owner */
	struct nm_host *host;  /* touched by the owner only; NULL: a forwarding stub */
	uint64_t tx_seq;       /* NetHeader sequence of its output packets (owner only) */
	uint64_t route_session; /* 0: reply on the input's session */
	uint64_t route_stream;  /* destination daemon when routed */
	struct nm_dp_hold *hold; /* non-NULL: events are held, not delivered (owner only) */
	bool stub_live;          /* a stub: installed on the workers (else waiting for detach) */
};

/* NM_CTL_MIG_HOLD / NM_CTL_MIG_RELEASE: argument. */
struct nm_dp_mig_req {
	uint64_t origin;
	struct nm_dp_hold *hold;      /* HOLD: where events wait from now on */
	struct nm_exec_req *snapshot; /* HOLD: run first (NM_EXEC_SNAPSHOT), in the same step; or NULL */
	bool stateless;               /* HOLD, out: the daemon has no state; *snapshot->snap is
				       * then an empty-state snapshot of its chain head */
};

/* Output route: send `origin`'s outputs to daemon `stream` over session `session_id`. */
struct nm_dp_route {
	uint64_t origin;
	uint64_t session_id; /* 0 clears the route */
	uint64_t stream;
};

/*
 * An output packet: consecutive outputs of one daemon to one place, framed in
 * place in its mbuf (after room for Ethernet/IPv4/UDP and the NetHeader); the
 * flush gives it its counter and NetHeader, seals it and sends it.
 */
struct nm_out_pkt {
	struct rte_mbuf *m;
	uint8_t *frames;           /* its EventFrames: the outputs' arena while it is open */
	uint32_t cap;              /* EventFrame bytes it can take */
	uint32_t bytes;            /* EventFrame bytes framed (the open one: in out.used) */
	uint32_t events;
	bool big;                  /* an nm_big_p mbuf: one datagram above the MTU, sent as fragments */
	struct nm_session *session;
	uint64_t stream;           /* stream_id on the wire */
	struct nm_dp_daemon *src;  /* the emitting daemon */
};

/* Where the open packet was before a process() call that refilled (to undo it). */
struct nm_out_mark {
	uint32_t n_opkt;
	uint32_t used;
	uint32_t events;
	const struct rte_mbuf *m;
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
	uint32_t idle_sleep_us; /* see nm_dataplane_config */

	/*
	 * Outputs of this burst, framed where they are sent: opkt[0..n_opkt) are
	 * complete, opkt[n_opkt] is open (out_open) and out's arena is its frames.
	 */
	struct nm_outputs out;
	struct nm_out_pkt opkt[NM_OUT_PKTS];
	uint32_t n_opkt;
	bool out_open;
	bool out_nombuf;       /* this call's refill found no mbuf */
	bool call_marked;      /* call_mark holds this call's start (it refilled) */
	uint32_t call_used0;   /* out.used when this call began */
	struct nm_out_mark call_mark;
	uint32_t out_n0;       /* out.n when the open packet took this call's first output */
	uint32_t out_budget;   /* EventFrame bytes of a packet at the MTU */
	struct rte_mbuf *spare; /* an empty packet's mbuf, kept until the flush */
	struct rte_mbuf *tx[NM_BURST];
	uint16_t n_tx;
	/* Burst crypto: this lcore's AEAD state and what waits for it. */
	struct nm_aead_batch *aead;
	struct nm_rx_pending rx_open[NM_BURST];
	uint16_t n_rx_open;
	struct nm_tx_pending tx_seal[NM_BURST];
	uint16_t n_tx_seal;
	uint16_t ip_id;
	uint64_t now_ns;  /* wall clock at this poll: event stamps (received_at) */
	uint64_t mono_ns; /* monotonic at this poll: session liveness, which a clock step must not end */
	struct nm_error err; /* scratch for process() */

	struct nm_lcore_stats stats;

	/* IPv4 fragments whose (src, dst, id) hash to us, and where datagrams are reassembled. */
	struct nm_frag_table *frag;
	struct rte_mempool *big_pool;

	struct nm_event out_ev[NM_OUT_EVENTS];
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

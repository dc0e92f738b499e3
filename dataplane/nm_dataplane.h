/* SPDX-License-Identifier: MIT */
/*
 * nm_dataplane.h - the appliance's packet machinery on one port: workers (one
 * per RX/TX queue, each on its own lcore), their control channels, the peer
 * and session tables, and the runtime executor that pins daemons on workers.
 *
 * Threads: the control thread (any non-worker thread) calls these functions;
 * workers run nm_worker_main. Every change to a worker's tables is a message
 * on its control channel, executed by the worker between bursts; when the
 * workers are stopped the caller applies the change itself.
 */
#ifndef NM_DATAPLANE_H
#define NM_DATAPLANE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_lcore.h>

#include "nm_error.h"
#include "nm_exec.h"
#include "nm_peer.h"
#include "nm_port.h"
#include "nm_session.h"
#include "nm_stats.h"
#include "nm_worker.h"

struct nm_mesh;
struct nm_runtime;
struct nm_snapshot;

struct nm_dataplane_config {
	struct nm_mesh *mesh;      /* its port carries the traffic */
	struct nm_runtime *rt;     /* pinned daemons live here; may be NULL */
	uint32_t ip;               /* our IPv4 address, host order */
	uint16_t udp_port;         /* default 7777 */
	uint16_t n_workers;        /* RX/TX queues, one worker each; default 1 */
	const unsigned *lcores;    /* worker lcores; NULL: the first EAL worker lcores */
	uint16_t mtu;              /* IP MTU, >= 576; default 1500 */
	uint32_t n_mbufs;          /* default 8191 */
	uint32_t frag_entries;     /* datagrams reassembled at once, per worker; default 64 */
	uint32_t frag_timeout_ms;  /* a reassembly not complete by then is dropped; default 1000 */
	uint16_t rx_desc, tx_desc; /* per queue; default 1024, within the device's limits */
	uint16_t burst;            /* packets per worker RX/TX burst, 1..NM_BURST; default NM_BURST */
	/*
	 * 0 (default): workers busy-poll, as testpmd. N: a worker that found
	 * nothing to do for NM_IDLE_POLLS loops in a row sleeps N us per loop
	 * until traffic returns (l3fwd-power style), so several appliances can
	 * share a few CPUs; costs up to N us of latency after an idle spell.
	 */
	uint32_t idle_sleep_us;
};

/* Slow-path packets (handshakes) go to the control thread through this hook. */
typedef void (*nm_slowpath_fn)(void *ctx, struct rte_mbuf *m);
/* One 0x0500 message from dataplane peer `peer` (see nm_dataplane_set_migration). */
typedef void (*nm_dp_mig_fn)(void *ctx, uint16_t peer, const uint8_t *msg, size_t len);

struct nm_dataplane {
	struct nm_mesh *mesh;
	struct nm_runtime *rt;
	struct nm_port port;
	uint32_t ip;
	uint16_t udp_port;
	uint16_t n_workers;
	uint16_t burst; /* the workers' RX/TX burst size */
	struct nm_worker *workers[NM_PORT_MAX_QUEUES];
	struct nm_worker *by_lcore[RTE_MAX_LCORE];
	struct nm_peer_table peers;
	struct nm_executor exec;
	/* Control-side records (workers keep their own copies). */
	pthread_mutex_t lock;
	struct nm_u64map sessions; /* session_id -> struct nm_session * */
	struct nm_u64map daemons;  /* origin -> struct nm_dp_daemon * */
	struct rte_ring *slowpath; /* workers -> control thread (MP/SC) */
	struct rte_ring *mig_rx;   /* authenticated 0x0500 packets -> control thread (MP/SC) */
	nm_dp_mig_fn mig_fn;
	void *mig_ctx;
	struct nm_u64map stubs;    /* origin -> struct nm_dp_daemon *: forwarding after a move */
	nm_slowpath_fn slowpath_fn;
	void *slowpath_ctx;
	struct nm_lcore_stats ctl_stats; /* slow-path drops counted by the control thread */
	unsigned frag_entries;
	uint64_t frag_timeout_ns;
	_Atomic uint32_t frag_ip_id; /* IPv4 ids of fragmented datagrams, from every sender */
	bool launched;
	/* Requests sent to a worker (or run in its place while stopped): each one a
	 * round trip to it, what a migration's hand-offs are counted in. */
	_Atomic uint64_t ctl_requests;
	/*
	 * Non-zero while a migration involves this node (nm_migdp sets it): each
	 * of its hand-offs waits on a worker (a control request, a 0x0500 packet
	 * to receive or send), so workers serve control requests every loop and
	 * an idle one naps at most NM_IDLE_URGENT_US instead of idle_sleep_us.
	 * Written only when it changes, read relaxed: its own cache line.
	 */
	_Alignas(RTE_CACHE_LINE_SIZE) _Atomic uint32_t urgent;
};

/* An idle worker's nap while the dataplane is urgent (a few us, never a spin). */
#define NM_IDLE_URGENT_US 5u

static inline bool nm_dataplane_urgent(struct nm_dataplane *dp)
{
	return atomic_load_explicit(&dp->urgent, memory_order_relaxed) != 0;
}

/* Control thread: a migration involves this node (on) or no longer does (off). */
static inline void nm_dataplane_set_urgent(struct nm_dataplane *dp, bool on)
{
	if (nm_dataplane_urgent(dp) != on) /* no store (no cache-line bounce) when unchanged */
		atomic_store_explicit(&dp->urgent, on ? 1u : 0u, memory_order_relaxed);
}

/*
 * The IPv4 id of a datagram sent as fragments. Shared by the workers and the
 * control thread so no two of them reuse an id a receiver is reassembling;
 * unfragmented datagrams (DF set) use a per-worker id.
 */
static inline uint16_t nm_dataplane_frag_id(struct nm_dataplane *dp)
{
	return (uint16_t)atomic_fetch_add_explicit(&dp->frag_ip_id, 1, memory_order_relaxed);
}

int nm_dataplane_create(const struct nm_dataplane_config *cfg, struct nm_dataplane **out,
			struct nm_error *err);

/* Stops the workers if running, closes the port. Daemons must be gone first. */
void nm_dataplane_destroy(struct nm_dataplane *dp);

/* Launch every worker on its lcore. */
int nm_dataplane_start(struct nm_dataplane *dp, struct nm_error *err);

/* Ask workers to finish (drain hand-offs, flush TX) and wait for them. */
void nm_dataplane_stop(struct nm_dataplane *dp);

/* Peers: address, UDP port (0 = default), MAC or NULL to learn it by ARP. */
int nm_dataplane_peer_add(struct nm_dataplane *dp, uint32_t ip, uint16_t port,
			  const struct rte_ether_addr *mac, struct nm_error *err);

/*
 * Install a session on every worker. Until the handshake (Noise sessions
 * issue) lands, only tests and tools call this with known keys.
 */
int nm_dataplane_session_add(struct nm_dataplane *dp, const struct nm_session_params *p,
			     struct nm_error *err);
int nm_dataplane_session_del(struct nm_dataplane *dp, uint64_t session_id, struct nm_error *err);

/* Send `origin`'s outputs to daemon `stream` over `session_id` (0: back to the input's session). */
int nm_dataplane_route_outputs(struct nm_dataplane *dp, uint64_t origin, uint64_t session_id,
			       uint64_t stream, struct nm_error *err);

/*
 * Control thread: send a ready frame (Ethernet onwards) through worker 0's
 * TX queue. Takes the mbuf in every case; -ENOBUFS (counted) when the ring is full.
 */
int nm_dataplane_send(struct nm_dataplane *dp, struct rte_mbuf *m);

/*
 * Control thread: send one UDP datagram (a sealed Net packet: dgram, len up
 * to NM_NET_MAX_PACKET) from our address and port to peer `peer` (an index
 * from nm_dataplane_peer_add; its MAC must be known), as IPv4 fragments when
 * it exceeds the MTU. Checksums are computed in software. The frames go out
 * through worker 0's TX queue, all of them or none. Returns 0, or a counted
 * refusal: -EMSGSIZE (too large: tx_too_large), -EHOSTUNREACH (peer or MAC
 * unknown: no_route), -ENOBUFS (no mbuf: no_mbuf; ring full: tx_full).
 */
int nm_dataplane_send_udp(struct nm_dataplane *dp, uint16_t peer, const uint8_t *dgram,
			  size_t len);

/* The session installed under this id, or NULL (control thread). */
struct nm_session *nm_dataplane_session_get(struct nm_dataplane *dp, uint64_t session_id);

/* The worker lcores, in queue order. */
unsigned nm_dataplane_worker_lcore(const struct nm_dataplane *dp, unsigned index);

/* Sum of every worker's counters (plus the control thread's slow-path drops). */
void nm_dataplane_stats(const struct nm_dataplane *dp, struct nm_lcore_stats *sum);

/*
 * Backpressure input (read-only, any thread): how full the fullest queue in
 * front of a worker is, 0..1 of its capacity, over every worker's hand-off
 * rings (w2w_evt, w2w_pkt), its control TX ring (ctl_tx) and the slow-path
 * ring. The output arena is left out: it is the worker's private state and
 * is flushed within every burst.
 */
float nm_dataplane_load(const struct nm_dataplane *dp);

/*
 * Migration (control thread). With a handler set, authenticated 0x0500
 * packets wait in mig_rx and poll hands each message (one EventFrame) to it
 * with the dataplane peer index it came from; without one they are dropped
 * as `subprotocol`. Set it before the workers start, clear it after they stop.
 */
void nm_dataplane_set_migration(struct nm_dataplane *dp, nm_dp_mig_fn fn, void *ctx);
unsigned nm_dataplane_poll_migration(struct nm_dataplane *dp);

/*
 * Snapshot a pinned daemon (NM_EXEC_SNAPSHOT on its owner lcore) and hold
 * its events from that instant on, in one step: no event slips between the
 * two. A stateless daemon gets an empty-state snapshot of its chain head and
 * *stateless true. `hold` stays in use until released or, after a move, while
 * the stub forwards.
 */
int nm_dataplane_mig_hold(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			  struct nm_snapshot **snap, bool *stateless, struct nm_error *err);

/* Stop holding: the owner delivers the held events, in order, then goes on. */
int nm_dataplane_mig_release(struct nm_dataplane *dp, uint64_t origin, struct nm_error *err);

/*
 * Stubs: a directory entry without a host whose events go into `hold`.
 *   - nm_dataplane_mig_stub: the daemon leaves this node (the source's
 *     commit): when its host is detached, the stub takes its place on every
 *     worker in one step, so the control thread can forward its events.
 *   - nm_dataplane_mig_stub_now: install it now, replacing any stub there
 *     (a target waiting for its restore; `hold->target` set). A host that
 *     attaches later takes the stub's place and its hold in one step.
 *   - nm_dataplane_mig_stub_at_attach: a target's stub (`hold->target` set)
 *     for an origin with no entry on the workers: none is installed now;
 *     the host's attach (its restore) installs host and hold in the one
 *     request it sends each worker. Events that arrive before are
 *     daemon_unknown, as before the stub existed.
 * nm_dataplane_mig_unstub removes any kind (NM_ENOT_FOUND without one).
 */
int nm_dataplane_mig_stub(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			  struct nm_error *err);
int nm_dataplane_mig_stub_now(struct nm_dataplane *dp, uint64_t origin, struct nm_dp_hold *hold,
			      struct nm_error *err);
int nm_dataplane_mig_stub_at_attach(struct nm_dataplane *dp, uint64_t origin,
				    struct nm_dp_hold *hold, struct nm_error *err);
int nm_dataplane_mig_unstub(struct nm_dataplane *dp, uint64_t origin);

/*
 * Deliver an event to a pinned daemon as if it came in on `session_id`
 * (its outputs go back there): the target's replay, which passes a target's
 * hold (a source's hold keeps it). Events injected one after another are
 * processed in that order. NM_ENOT_FOUND, -ENOBUFS when the ring is full.
 */
int nm_dataplane_inject(struct nm_dataplane *dp, uint64_t origin, uint64_t session_id,
			const struct nm_event *ev);

/* Control thread: hand queued slow-path packets to the hook. Returns how many. */
unsigned nm_dataplane_poll_slowpath(struct nm_dataplane *dp);
void nm_dataplane_set_slowpath(struct nm_dataplane *dp, nm_slowpath_fn fn, void *ctx);

#endif /* NM_DATAPLANE_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_sessmgr.h - sessions on the wire: the Net handshake (Noise NKpsk0) in
 * both roles, heartbeats, session timeout and a failure detector per peer.
 *
 * Runs on the control thread: workers hand it HANDSHAKE packets through the
 * dataplane's slow path; it sends through the dataplane's control TX ring.
 * Sessions it establishes are installed in the dataplane (one per peer; a
 * new handshake rotates the old session out, so packets sealed with the old
 * keys are dropped as session_unknown).
 *
 * Either side may initiate at any time; a responder needs no restart. The
 * initiator must know the responder's X25519 static key; both must know each
 * other's node_id (it is in the handshake prologue).
 *
 * Addressing (docs/sessions.md): a peer is its IPv4 address. Handshakes from
 * any other address are refused (unknown_peer); msg2 goes back to the source
 * of msg1; replies follow the source (MAC, UDP port) of the peer's latest
 * authenticated packet. A msg1 proves only the PSK, so while a session is
 * live a new responder session is a candidate: it replaces the live one only
 * once a packet under it authenticates.
 *
 * Early data: while we initiate, data packets for a session not installed
 * yet queue behind msg2 and are delivered once it is (bounded per peer).
 */
#ifndef NM_SESSMGR_H
#define NM_SESSMGR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "nm_dataplane.h"
#include "nm_error.h"
#include "nm_keys.h"

struct nm_sessmgr;

struct nm_sessmgr_config {
	struct nm_dataplane *dp;
	const struct nm_keys *keys; /* our node identity and X25519 static key */
	const uint8_t *psk;         /* 32 bytes, mesh-wide */
	bool use_split;             /* derive keys with Noise Split(): not upstream-compatible */
	uint32_t heartbeat_ms;      /* default 5000 */
	uint32_t session_timeout_ms; /* default 30000 */
	uint32_t handshake_timeout_ms; /* default 5000 */
	uint32_t retries;           /* default 3 */
	uint32_t backoff_ms;        /* default 100 (x attempt) */
	uint32_t attempt_wait_ms;   /* wait for msg2 per attempt; default 1000 */
	/* Tests and fuzzing only: the ephemeral secret of every handshake we run, so what we
	 * send is deterministic and a test can precompute the other side; NULL: random. */
	const uint8_t *fixed_ephemeral_sk;
};

struct nm_sm_peer_config {
	uint32_t ip;                      /* host order */
	uint16_t port;                    /* 0: 7777 */
	const struct rte_ether_addr *mac; /* NULL: learned (ARP or its packets) */
	uint64_t node_id;                 /* required: it is in the prologue */
	const uint8_t *static_pub;        /* responder's X25519 key; NULL: we only respond */
	bool connect;                     /* initiate now and keep a session up */
};

enum nm_peer_health {
	NM_PEER_UNKNOWN = 0,  /* never had a session */
	NM_PEER_HEALTHY,      /* heard from within 1.5 heartbeat intervals */
	NM_PEER_DEGRADED,     /* silent for up to 3 intervals */
	NM_PEER_UNREACHABLE,  /* silent for longer, or the session timed out */
};

struct nm_peer_status {
	enum nm_peer_health health;
	uint64_t node_id;
	uint64_t session_id;   /* 0: none */
	uint64_t rtt_ns;       /* last handshake's round trip (initiator side) */
	uint64_t last_rx_ns;   /* CLOCK_MONOTONIC (nm_mono_ns) */
	bool handshaking;
};

struct nm_sessmgr_stats {
	uint64_t handshakes_started;   /* msg1 sent */
	uint64_t handshakes_completed; /* either role */
	uint64_t handshake_failures;   /* msg1/msg2 did not authenticate (wrong PSK, tampering) */
	uint64_t handshake_timeouts;
	uint64_t msg1_replays;         /* a msg1 ephemeral seen before: dropped */
	uint64_t unknown_peer;         /* handshake from an address we have no peer for */
	uint64_t malformed;            /* not a decodable handshake packet */
	uint64_t heartbeats_sent;
	uint64_t sessions_expired;
	uint64_t sessions_rotated;
	uint64_t candidates_replaced;  /* an unconfirmed newer session replaced by a newer one */
	uint64_t candidate_timeouts;   /* an unconfirmed newer session never heard from: removed */
	uint64_t early_data_delivered; /* data that arrived before its session was installed */
	uint64_t early_data_dropped;   /* the same, whose session never came (also a drop reason) */
	uint64_t tx_failures;          /* no MAC for the peer yet, no mbuf, ring full */
	uint64_t arp_requests;         /* sent to resolve a peer's MAC */
	uint64_t handshakes_crossed;   /* a msg1 while our own handshake with that peer was in flight */
};

int nm_sessmgr_create(const struct nm_sessmgr_config *cfg, struct nm_sessmgr **out,
		      struct nm_error *err);
/* Removes its sessions from the dataplane. */
void nm_sessmgr_destroy(struct nm_sessmgr *sm);

/* Add a peer (and the dataplane peer entry). Returns the peer id or a negative code. */
int nm_sessmgr_add_peer(struct nm_sessmgr *sm, const struct nm_sm_peer_config *p,
			struct nm_error *err);

/* Start a handshake now (initiator). -EINVAL without the peer's static key. */
int nm_sessmgr_connect(struct nm_sessmgr *sm, int peer, struct nm_error *err);

/* Timers: retries, timeouts, heartbeats, expiry. Call often (every ms or so). */
void nm_sessmgr_poll(struct nm_sessmgr *sm);

/* The dataplane slow-path hook: one HANDSHAKE packet; takes the mbuf. */
void nm_sessmgr_on_packet(void *sm, struct rte_mbuf *m);

int nm_sessmgr_peer_status(const struct nm_sessmgr *sm, int peer, struct nm_peer_status *st);
/* A peer's address (host order) and the UDP port it is answered on (its latest authenticated
 * source port, else the configured one: 7777 by default). -EINVAL for a bad id. */
int nm_sessmgr_peer_addr(const struct nm_sessmgr *sm, int peer, uint32_t *ip, uint16_t *port);
/* Peers added so far (ids 0..n-1). */
unsigned nm_sessmgr_peer_count(const struct nm_sessmgr *sm);
const struct nm_sessmgr_stats *nm_sessmgr_stats(const struct nm_sessmgr *sm);
/* One line, "sessions: name=value ...", every counter above (for the periodic stats). */
void nm_sessmgr_stats_print(FILE *f, const struct nm_sessmgr *sm);
const char *nm_peer_health_name(enum nm_peer_health h);

/* For other control-plane protocols (migration). Control thread only. */

/* node_id of the peer behind dataplane peer index `dp_peer` (a session's peer), or 0. */
uint64_t nm_sessmgr_node_of(const struct nm_sessmgr *sm, uint16_t dp_peer);

/* The live session with that node, or 0. */
uint64_t nm_sessmgr_session_of(const struct nm_sessmgr *sm, uint64_t node_id);

/* The node's configured X25519 static (an NKpsk0 responder never learns it otherwise). */
bool nm_sessmgr_peer_static(const struct nm_sessmgr *sm, uint64_t node_id, uint8_t out[32]);

/*
 * Seal `body` as one EventFrame of `subprotocol` on the node's session and
 * send it, as IPv4 fragments when the datagram exceeds the MTU. -ENOENT: no
 * such peer; -ENOTCONN: no session yet; -EMSGSIZE: too large for a Net
 * datagram; else the TX path's error (counted as tx_failures).
 */
int nm_sessmgr_send_message(struct nm_sessmgr *sm, uint64_t node_id, uint16_t subprotocol,
			    uint64_t stream_id, const uint8_t *body, size_t len);

/* ---- the operator's peer changes (console, control socket). Control thread only. ---- */

/*
 * Remove the peer with this address: its session leaves the dataplane (its
 * packets then drop as session_unknown), a handshake in progress is
 * abandoned, and its handshakes are counted as unknown_peer from now on.
 * Peer ids above the removed one move down by one. The dataplane keeps the
 * address in its peer table (workers read it without locks), so adding the
 * address again reuses that entry. -ENOENT when no peer has the address.
 */
int nm_sessmgr_del_peer(struct nm_sessmgr *sm, uint32_t ip, struct nm_error *err);

#endif /* NM_SESSMGR_H */

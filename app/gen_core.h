/* SPDX-License-Identifier: MIT */
/*
 * gen_core.h - netmesh-gen's node logic on flat frames, without EAL or I/O:
 * resolve the appliance by ARP, run the Net handshake as initiator, build
 * sealed causal-event packets, open the replies and check every emitting
 * daemon's chain link by link. The binary (netmesh_gen.c) moves frames
 * between this and a DPDK port; the tests drive it against an in-process
 * responder.
 *
 * All state is in struct gen, allocated once by the caller (it is large:
 * a copy of each daemon's last payload); nothing here allocates.
 */
#ifndef GEN_CORE_H
#define GEN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_aead.h"
#include "nm_causal.h"
#include "nm_drop.h"
#include "nm_error.h"
#include "nm_handshake.h"
#include "nm_pkt.h"
#include "nm_replay.h"
#include "nm_wire.h"

#define GEN_MAX_DAEMONS 64
/* The largest event payload any packet can carry: one frame in a full datagram. */
#define GEN_EVENT_MAX (NM_NET_MAX_PAYLOAD - NM_CAUSAL_FRAME_HDR - NM_CAUSAL_LINK_SIZE)
#define GEN_MAX_EVENTS_PER_PACKET (NM_NET_MAX_PAYLOAD / (NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE))
/* Room for any frame we build or accept. */
#define GEN_FRAME_MAX (NM_PKT_DATA_OFF + NM_NET_MAX_PACKET)

/* Handshake timing, the same defaults as the appliance's session manager. */
#define GEN_HS_ATTEMPTS 4          /* the first try and 3 retries */
#define GEN_HS_WAIT_MS 1000        /* wait for msg2 after each msg1 */
#define GEN_HS_BACKOFF_MS 100      /* x attempt, before the next msg1 */
#define GEN_HS_TIMEOUT_MS 5000     /* overall */

struct gen_config {
	struct nm_pkt_endpoint self; /* our MAC, IPv4, UDP port */
	struct nm_pkt_endpoint peer; /* the appliance; .mac only if peer_mac_known */
	bool peer_mac_known;
	uint64_t node_id;     /* ours: in the handshake prologue */
	uint64_t origin_hash; /* ours: our events' chain and the NetHeader origin */
	uint64_t peer_node_id;
	uint8_t psk[32];
	uint8_t peer_static[32];  /* the appliance's X25519 static public key */
	bool use_split;           /* Noise Split() keys; both ends must agree */
	uint64_t daemons[GEN_MAX_DAEMONS]; /* destinations, round-robin */
	unsigned n_daemons;
	uint32_t event_size;
	uint32_t events_per_packet; /* capped by the MTU budget */
	uint16_t mtu;               /* IP MTU */
};

enum gen_state {
	GEN_RESOLVING = 0, /* waiting for the peer's ARP reply */
	GEN_HANDSHAKING,   /* msg1 sent, waiting for msg2 */
	GEN_ESTABLISHED,
};

/* What gen_rx did with a frame. */
enum gen_rx_result {
	GEN_RX_CONSUMED = 0, /* counted (data, heartbeat, or a drop) */
	GEN_RX_REPLY,        /* the frame now holds a reply to send (ARP, ICMP echo) */
	GEN_RX_RESOLVED,     /* the peer's MAC is known now */
	GEN_RX_ESTABLISHED,  /* msg2 accepted: the session is up */
};

/* Per emitting daemon (NetHeader stream_id): the last link and its payload. */
struct gen_chain_check {
	uint64_t origin;
	struct nm_causal_link prev; /* genesis until the first event */
	uint32_t prev_len;
	uint64_t events, ok, errors, gaps, lost;
	/* The first link seen: with the last one's next parent hash, a restart test
	 * validates a chain across two generator runs. */
	uint64_t first_seq, first_parent;
	uint8_t prev_payload[GEN_EVENT_MAX];
};

struct gen_stats {
	uint64_t tx_packets, tx_events, tx_bytes, tx_heartbeats;
	uint64_t rx_frames, rx_packets, rx_events, rx_bytes, rx_heartbeats;
	uint64_t arp_requests, arp_replies, icmp_replies, hs_attempts;
	uint64_t chain_ok, chain_errors, chain_gaps, lost_events;
	uint64_t drops[NM_DROP__COUNT];
};

struct gen {
	struct gen_config cfg;
	enum gen_state state;
	uint32_t per_packet; /* events per packet after the MTU cap */
	struct nm_hs hs;
	uint64_t session_id;
	struct nm_aead tx, rx;
	uint64_t tx_counter;
	struct nm_replay replay;
	struct nm_chain chain; /* our own identity's chain */
	uint64_t stream_seq[GEN_MAX_DAEMONS];
	unsigned next_daemon;
	uint16_t ip_id;
	uint64_t event_no;
	struct gen_stats st;
	char last_chain_error[128];
	unsigned n_checks;
	struct gen_chain_check checks[GEN_MAX_DAEMONS];
	struct nm_event evs[NM_NET_MAX_EVENTS]; /* scratch: built or read events */
	uint8_t payload[NM_NET_MAX_PAYLOAD];   /* scratch: payloads of built events */
};

/*
 * Check the config and start: RESOLVING, or HANDSHAKING when the peer's MAC
 * is given. -EINVAL (with the reason) for a bad config, -EMSGSIZE when one
 * event does not fit a packet at the MTU.
 */
int gen_init(struct gen *g, const struct gen_config *cfg, struct nm_error *err);

/* Wipe the keys and the handshake state. */
void gen_fini(struct gen *g);

/* Frames to send. Each returns 0 and *len, or a negative code. */

/* Broadcast ARP request for the peer's address. */
int gen_arp_request(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/* A new handshake attempt (fresh ephemeral): the 116-byte msg1 datagram. -EPROTO unless HANDSHAKING. */
int gen_hs_msg1(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/* The next packet of events for the next daemon in turn. -EPROTO unless ESTABLISHED. */
int gen_build_events(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/* An 84-byte HEARTBEAT on the session (keeps it alive while idle). */
int gen_build_heartbeat(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/*
 * Handle one received frame (it may be rewritten in place). Anything bad is
 * counted in st.drops and reported as CONSUMED; never a crash. For REPLY,
 * *out_len is the reply's length.
 */
enum gen_rx_result gen_rx(struct gen *g, uint8_t *frame, size_t len, size_t *out_len);

/*
 * A built frame the port never took (shutdown with the TX queue full):
 * counted as a tx_full drop and, for an event packet (events > 0), taken
 * back out of the sent counters.
 */
void gen_tx_unsent(struct gen *g, uint32_t events, size_t bytes);

/* Sum of every drop counter. */
uint64_t gen_drops_total(const struct gen_stats *st);

/*
 * Retry schedule for ARP and the handshake: send, wait `wait_ms`, back off
 * `backoff_ms` x attempt, send again, up to `attempts` sends; FAIL after the
 * last wait or at the overall deadline. Pure: the caller supplies the time.
 */
struct gen_retry {
	uint64_t deadline_ns, next_ns;
	unsigned attempts, max_attempts;
	uint64_t wait_ns, backoff_ns;
};

enum gen_retry_action { GEN_RETRY_WAIT = 0, GEN_RETRY_SEND, GEN_RETRY_FAIL };

void gen_retry_start(struct gen_retry *r, uint64_t now_ns, unsigned attempts, uint32_t wait_ms,
		     uint32_t backoff_ms, uint32_t timeout_ms);
enum gen_retry_action gen_retry_poll(struct gen_retry *r, uint64_t now_ns);

#endif /* GEN_CORE_H */

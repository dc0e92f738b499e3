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
#define GEN_MAX_PEERS 8
/* The largest event payload any packet can carry: one frame in a full datagram. */
#define GEN_EVENT_MAX (NM_NET_MAX_PAYLOAD - NM_CAUSAL_FRAME_HDR - NM_CAUSAL_LINK_SIZE)
#define GEN_MAX_EVENTS_PER_PACKET (NM_NET_MAX_PAYLOAD / (NM_CAUSAL_FRAME_HDR + NM_CAUSAL_LINK_SIZE))
/* Room for any frame we build or accept. */
#define GEN_FRAME_MAX (NM_PKT_DATA_OFF + NM_NET_MAX_PACKET)

/*
 * Per-event memory: the last GEN_WINDOW event numbers keep their send time,
 * the peer they went to and an "answered" bit. A reply to an older event
 * (over 10 s old at 100 k events/s) is counted late: no RTT, and for an echo
 * no duplicate check.
 */
#define GEN_WINDOW_BITS 20
#define GEN_WINDOW (1u << GEN_WINDOW_BITS)

/* RTT histogram: 64 linear buckets per power of two (under 0.8 % error). */
#define GEN_HIST_SUB_BITS 6
#define GEN_HIST_BUCKETS ((64 - GEN_HIST_SUB_BITS + 1) << GEN_HIST_SUB_BITS)

/*
 * RTT by send time (gen_series_start): per slot of slot_ns from start_ns on,
 * the answered events sent in it and their worst round trip, so a script can
 * line round trips up with what happened elsewhere on the same
 * CLOCK_MONOTONIC (a migration's start and end). 2^17 slots: 131 s of 1 ms.
 */
#define GEN_SERIES_SLOTS (1u << 17)

/* Handshake timing, the same defaults as the appliance's session manager. */
#define GEN_HS_ATTEMPTS 4          /* the first try and 3 retries */
#define GEN_HS_WAIT_MS 1000        /* wait for msg2 after each msg1 */
#define GEN_HS_BACKOFF_MS 100      /* x attempt, before the next msg1 */
#define GEN_HS_TIMEOUT_MS 5000     /* overall */

/*
 * Dead sessions. A session is dead when nothing authenticated came from its
 * appliance for the session timeout: the appliance heartbeats every 5 s even
 * when it has nothing else to send, so 15 s (three heartbeats, its own
 * "unreachable") means it restarted, expired the session or is gone. Replies
 * that stop while heartbeats still arrive mean a broken path, which a new
 * handshake would not mend, so only total silence counts. The generator then
 * handshakes again, in rounds of the schedule above, a pause apart, until
 * one succeeds.
 */
#define GEN_SESSION_TIMEOUT_MS 15000
#define GEN_REHS_PAUSE_MS 1000 /* between two failed re-handshake rounds */

/* One appliance. */
struct gen_peer_config {
	struct nm_pkt_endpoint ep; /* .mac only if mac_known */
	bool mac_known;
	uint64_t node_id;
	uint8_t static_pub[32]; /* its X25519 static public key */
};

struct gen_config {
	struct nm_pkt_endpoint self; /* our MAC, IPv4, UDP port */
	struct gen_peer_config peers[GEN_MAX_PEERS]; /* every daemon starts on peers[0] */
	unsigned n_peers;
	uint64_t node_id;     /* ours: in the handshake prologue */
	uint64_t origin_hash; /* ours: our events' chain and the NetHeader origin */
	uint8_t psk[32];
	bool use_split;           /* Noise Split() keys; both ends must agree */
	uint64_t daemons[GEN_MAX_DAEMONS]; /* destinations, round-robin, distinct */
	/* true: the daemon's outputs are not one per event (a sink, a fan-out):
	 * chain-checked, echoes still judged, but no lost/duplicate accounting. */
	bool daemon_any[GEN_MAX_DAEMONS];
	unsigned n_daemons;
	uint32_t event_size;
	uint32_t events_per_packet; /* capped by the MTU budget */
	uint16_t mtu;               /* IP MTU */
	uint32_t session_timeout_ms; /* silence that ends a session (gen_check_sessions); 0: never */
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
	GEN_RX_RESOLVED,     /* a peer's MAC is known now */
	GEN_RX_ESTABLISHED,  /* a msg2 was accepted: that peer's session is up */
};

/* One appliance: its handshake, session and counters. */
struct gen_peer {
	struct gen_peer_config cfg;
	enum gen_state state;
	struct nm_hs hs;
	uint64_t session_id;
	struct nm_aead tx, rx;
	uint64_t tx_counter;
	struct nm_replay replay;
	uint64_t tx_packets, rx_packets, hs_attempts, moved_recv;
	uint64_t last_rx_ns;    /* the last authenticated packet (or the msg2) on this session */
	bool was_up;            /* a session was established before: the next one is a re-handshake */
	uint64_t sessions_dead; /* sessions ended by gen_check_sessions */
	uint64_t rehandshakes;  /* sessions established after one died */
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
	/* The first link after the latest re-handshake (resume_epoch = st.rehandshakes then, 0:
	 * none yet): where a restarted appliance took the chain up. */
	uint64_t resume_epoch, resume_seq, resume_parent;
	uint8_t prev_payload[GEN_EVENT_MAX];
};

/*
 * Per destination daemon: where its events go and what came back. An output
 * equal to an event we sent it (same number, same bytes) is an echo, judged
 * exactly by the event's answered bit; any other output of a one-per-event
 * daemon answers its events in order (the k-th output the k-th event), and
 * one beyond the events sent is a duplicate.
 */
struct gen_dest {
	uint64_t origin;
	bool any;      /* config daemon_any */
	uint8_t peer;  /* current appliance (index into peers) */
	uint64_t seq;  /* NetHeader sequence, continuous across peers */
	uint64_t sent; /* events the port took */
	uint64_t answered;   /* distinct events answered */
	uint64_t outputs;    /* every output seen on its stream */
	uint64_t echoed;     /* outputs that were echoes of our events */
	uint64_t duplicates; /* outputs answering an event already answered */
	uint64_t redirects;  /* Moved that re-pointed it */
	uint64_t rtt_max_ns;
};

struct gen_stats {
	uint64_t tx_packets, tx_events, tx_bytes, tx_heartbeats;
	uint64_t rx_frames, rx_packets, rx_events, rx_bytes, rx_heartbeats, rx_messages;
	uint64_t arp_requests, arp_replies, icmp_replies, hs_attempts;
	uint64_t chain_ok, chain_errors, chain_gaps;
	uint64_t gap_lost;          /* outputs missing in chain gaps (sequence jumps) */
	uint64_t duplicate_events;  /* sum of gen_dest.duplicates */
	uint64_t redirects;         /* Moved that re-pointed a daemon */
	uint64_t redirects_ignored; /* Moved not applied (see gen_rx) */
	uint64_t late_replies;      /* answers to events older than GEN_WINDOW */
	uint64_t rtt_samples, rtt_max_ns;
	uint64_t rtt_fwd_samples, rtt_fwd_max_ns; /* answered by another peer than the one sent to */
	uint64_t sessions_dead, rehandshakes;     /* sums of the peers' */
	/* Packets (and their events) the rate made due while the next daemon's appliance had no
	 * session: never built, never numbered, so not in lost_events (gen_no_session). */
	uint64_t no_session_packets, no_session_events;
	uint64_t drops[NM_DROP__COUNT];
};

struct gen_series {
	uint64_t start_ns, slot_ns; /* slot_ns 0: off */
	uint32_t used;              /* slots past this one are empty */
	uint64_t placed;            /* samples in a slot */
	uint64_t outside;           /* samples of events sent before start_ns or past the last slot */
	uint32_t samples[GEN_SERIES_SLOTS];
	uint64_t max_ns[GEN_SERIES_SLOTS];
};

struct gen {
	struct gen_config cfg;
	uint32_t per_packet; /* events per packet after the MTU cap */
	uint64_t now_ns;     /* the caller's clock (gen_set_now): send stamps, RTTs */
	unsigned n_peers;
	struct gen_peer peers[GEN_MAX_PEERS];
	struct nm_chain chain; /* our own identity's chain */
	unsigned next_daemon;
	uint16_t ip_id;
	uint64_t event_no; /* the next event's number */
	uint64_t rtt_from; /* events numbered below this give no RTT sample (gen_rtt_window) */
	struct gen_stats st;
	char last_chain_error[128];
	struct gen_dest dest[GEN_MAX_DAEMONS];
	unsigned n_checks;
	struct gen_chain_check checks[GEN_MAX_DAEMONS];
	struct nm_event evs[NM_NET_MAX_EVENTS]; /* scratch: built or read events */
	uint8_t payload[NM_NET_MAX_PAYLOAD];   /* scratch: payloads of built events */
	uint8_t tail[GEN_EVENT_MAX];           /* every event's bytes after its number */
	uint64_t rtt_hist[GEN_HIST_BUCKETS];
	uint64_t answered[GEN_WINDOW / 64];    /* bit per event number (mod GEN_WINDOW) */
	uint64_t sent_ns[GEN_WINDOW];          /* send time per event number */
	uint8_t sent_peer[GEN_WINDOW];         /* peer per event number */
	struct gen_series series;
};

/*
 * Check the config and start: each peer RESOLVING, or HANDSHAKING when its
 * MAC is given. -EINVAL (with the reason) for a bad config (no peer, a peer
 * or daemon given twice), -EMSGSIZE when one event does not fit a packet.
 */
int gen_init(struct gen *g, const struct gen_config *cfg, struct nm_error *err);

/* Wipe the keys and the handshake states. */
void gen_fini(struct gen *g);

/* The caller's monotonic clock, read by the builders and gen_rx. */
static inline void gen_set_now(struct gen *g, uint64_t now_ns)
{
	g->now_ns = now_ns;
}

/* Every peer's session is up. */
bool gen_all_established(const struct gen *g);

/* Frames to send. Each returns 0 and *len, or a negative code (-EINVAL: no such peer). */

/* Broadcast ARP request for peer `p`'s address. */
int gen_arp_request(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len);

/* A new handshake attempt with peer `p` (fresh ephemeral): the 116-byte msg1
 * datagram. -EPROTO unless that peer is HANDSHAKING. */
int gen_hs_msg1(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len);

/* The peer the next event packet goes to (the next daemon's current peer). */
unsigned gen_next_peer(const struct gen *g);

/*
 * The next packet of events for the next daemon in turn, to its current
 * peer; stamps each event's send time. -EPROTO unless that peer is ESTABLISHED.
 */
int gen_build_events(struct gen *g, uint8_t *frame, size_t cap, size_t *len);

/* An 84-byte HEARTBEAT on peer `p`'s session (keeps it alive while idle). */
int gen_build_heartbeat(struct gen *g, unsigned p, uint8_t *frame, size_t cap, size_t *len);

/*
 * Handle one received frame (it may be rewritten in place). The session id
 * tells the peer; a msg2 is matched to a peer by its source address. Anything
 * bad is counted in st.drops and reported as CONSUMED; never a crash. For
 * REPLY, *out_len is the reply's length.
 *
 * 0x0500 packets: each EventFrame is one message. A Moved re-points its
 * daemon at the peer whose node_id is new_node (st.redirects) only when it
 * comes from the daemon's current peer, names another peer with a session,
 * and the daemon is one of ours; otherwise it is counted in
 * st.redirects_ignored and the daemon stays where it is. Bad framing is a
 * frame_overrun drop, another message type or an undecodable one a
 * subprotocol drop.
 */
enum gen_rx_result gen_rx(struct gen *g, uint8_t *frame, size_t len, size_t *out_len);

/*
 * A built frame the port never took (shutdown with the TX queue full):
 * counted as a tx_full drop and, for an event packet (read from its clear
 * NetHeader), taken back out of the sent counters.
 */
void gen_tx_unsent(struct gen *g, const uint8_t *frame, size_t len);

/*
 * Session liveness, called from the send loop with the caller's clock: every
 * established session that heard nothing authenticated for
 * cfg.session_timeout_ms is dead. Its keys are wiped and its peer goes back to
 * RESOLVING (when its MAC was learned by ARP: a restarted appliance may come
 * back on another MAC) or HANDSHAKING (a configured MAC); packets of the old
 * session that still arrive are session_unknown drops. The caller then runs
 * the ARP and handshake schedule again; the next msg2 is a re-handshake
 * (st.rehandshakes). Returns the sessions found dead now.
 */
unsigned gen_check_sessions(struct gen *g, uint64_t now_ns);

/* Whether the next event packet can be built: its daemon's appliance has a session. */
bool gen_next_ready(const struct gen *g);

/*
 * `packets` due packets were not built: the next daemon's appliance has no
 * session. Counted (no_session_packets, _events); the rotation does not move,
 * so event numbers keep telling which daemon they went to.
 */
void gen_no_session(struct gen *g, uint64_t packets);

/* Sum of every drop counter. */
uint64_t gen_drops_total(const struct gen_stats *st);

/* Events of a one-per-event daemon never answered (sent - answered); 0 for an "any" daemon. */
uint64_t gen_dest_unanswered(const struct gen_dest *t);

/* Events still waiting for an answer: the sum of gen_dest_unanswered. */
uint64_t gen_outstanding(const struct gen *g);

/*
 * End-of-run drain: keep collecting replies until every event is answered,
 * or nothing came back for `quiet_ns`, or `max_ns` passed since the drain
 * began. The quiet window must outlast a migration's hold (seconds under
 * faults): a short one counts events still on their way as lost.
 */
#define GEN_DRAIN_QUIET_MS 3000
#define GEN_DRAIN_MAX_MS 15000
bool gen_drain_done(const struct gen *g, uint64_t quiet_ns, uint64_t elapsed_ns, uint64_t max_ns,
		    uint64_t quiet_max_ns);

/*
 * lost_events: per destination daemon, one-per-event: max(events never
 * answered, outputs missing in its chain gaps); "any": its chain-gap losses.
 * Plus the chain-gap losses of daemons we do not send to.
 */
uint64_t gen_lost_events(const struct gen *g);

/* The q-quantile (0 < q <= 1) of the recorded round trips, ns; 0 without samples. */
uint64_t gen_rtt_quantile(const struct gen *g, double q);

/*
 * Start the measured window: forget every round trip so far (histogram,
 * samples, maxima) and sample only events sent from now on, so warm-up and
 * the replies still in flight from it never reach the percentiles.
 */
void gen_rtt_window(struct gen *g);

/*
 * Reflect mode, the io baseline: peer p is a plain forwarder that sends our
 * frames back with Ethernet, IPv4 and UDP addresses swapped (no handshake,
 * no crypto). Our session with it is ours in both directions (one key for
 * tx and rx), so a reflected event packet opens, replays nothing, and each
 * event is matched as an echo of itself: the same accounting and RTTs as
 * with an echo daemon. The destination must be our own chain (the one
 * daemon is cfg.origin_hash) so the echoed links validate. -EINVAL: no such
 * peer, or another destination; -EPROTO: the peer's MAC is not known.
 */
int gen_reflect_session(struct gen *g, unsigned p, const uint8_t key[32], uint64_t session_id);

/*
 * Record round trips by send time from now on (after gen_init, which turns
 * it off): slot i holds the events sent in [start_ns + i * slot_ns, + slot_ns).
 * Every RTT sample lands in one slot or in series.outside. -EINVAL for a
 * slot_ns of 0.
 */
int gen_series_start(struct gen *g, uint64_t start_ns, uint64_t slot_ns);

/*
 * Pacing at `rate` packets/s from start_ns, in integers: packets due by
 * now_ns are floor(elapsed * rate / 1 s), so the offered rate is exact
 * whenever the sender wakes, and a late wake sends what fell due meanwhile
 * in one burst. gen_pace_next_ns: when packet number `done` (0-based) falls
 * due, the earliest now_ns with gen_pace_due() > done.
 */
uint64_t gen_pace_due(uint64_t start_ns, uint64_t now_ns, uint64_t rate);
uint64_t gen_pace_next_ns(uint64_t start_ns, uint64_t rate, uint64_t done);

/*
 * The send loop's nap when it is ahead of its rate (--idle-sleep-us max_us):
 * not busy (nothing arrived this round, nothing waits in the TX queue),
 * nothing was due, and the next packet is due
 * GEN_PACE_MIN_AHEAD_NS or more from now. Then it sleeps max_us, past that
 * packet's time if need be (one wake per max_us, not per packet: each wake
 * costs about 15 us of CPU on a shared VM, a send every 10 us would cost more
 * than spinning), and the wake sends what fell due. Returns us to sleep, 0 to
 * poll on; always 0 for max_us 0 (busy-poll) or no rate.
 */
#define GEN_PACE_MIN_AHEAD_NS 5000u /* the timer slack: a shorter nap is not one */
uint32_t gen_pace_sleep_us(uint64_t now_ns, uint64_t next_ns, bool busy, uint64_t rate,
			   uint32_t max_us);

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

/*
 * Re-handshake rounds: the schedule above (the handshake's defaults), started
 * again GEN_REHS_PAUSE_MS after each round that failed, without end: at most
 * GEN_HS_ATTEMPTS msg1 per round, so a generator whose appliance stays away
 * sends about one a second. Never FAIL.
 */
struct gen_rounds {
	struct gen_retry r;
	unsigned failed; /* rounds that ended without a session */
};

void gen_rounds_start(struct gen_rounds *s, uint64_t now_ns);
enum gen_retry_action gen_rounds_poll(struct gen_rounds *s, uint64_t now_ns);

#endif /* GEN_CORE_H */

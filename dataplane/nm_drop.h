/* SPDX-License-Identifier: MIT */
/*
 * nm_drop.h - why the dataplane refused a frame: one enum for every codec.
 *
 * The values are dense and start at 0 so they index per-lcore counter arrays
 * directly (uint64_t drops[NM_DROP__COUNT]). NM_DROP_NONE (0) means "not
 * dropped"; a refusing call sets the reason through an optional
 * `enum nm_drop *why` and returns the negative code nm_drop_rc() gives for it:
 *   NM_EMALFORMED     the bytes are broken (length, checksum, magic, ...)
 *   -EPROTONOSUPPORT  well formed, but a class or protocol we do not handle
 *   -EADDRNOTAVAIL    well formed, but addressed to someone else
 *   -EBADMSG          AEAD authentication failed
 *   -EALREADY         refused by the replay window
 *   -ENOENT           names a session or daemon this node does not have
 *   -ENOBUFS          a ring, queue or mempool was full (counted, never silent)
 *   -EMSGSIZE         an output or datagram larger than the largest one we send or reassemble
 *   -ETIMEDOUT        a reassembly that did not complete in time
 */
#ifndef NM_DROP_H
#define NM_DROP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nm_drop {
	NM_DROP_NONE = 0,
	/* Ethernet and ARP */
	NM_DROP_ETH_SHORT,    /* frame shorter than the headers it needs */
	NM_DROP_ETH_NOT_OURS, /* destination MAC neither ours nor broadcast */
	NM_DROP_ETH_TYPE,     /* EtherType neither IPv4 nor ARP */
	NM_DROP_ARP_BAD,      /* not an Ethernet/IPv4 ARP packet */
	NM_DROP_ARP_IGNORED,  /* not a request for our address */
	/* IPv4 */
	NM_DROP_IP_BAD_HDR,  /* version != 4 or IHL < 5 */
	NM_DROP_IP_OPTIONS,  /* IHL > 5: options are not supported */
	NM_DROP_IP_LEN,      /* total_length below the header or past the frame */
	NM_DROP_IP_CKSUM,    /* header checksum wrong */
	NM_DROP_IP_NOT_OURS, /* destination address not ours */
	NM_DROP_IP_FRAGMENT, /* MF set or offset != 0: the codecs stop here; workers reassemble
			      * UDP (nm_frag.h) and count other protocols' fragments here */
	NM_DROP_IP_PROTO,    /* neither UDP nor ICMP */
	/* ICMP */
	NM_DROP_ICMP_BAD,     /* shorter than an ICMP header */
	NM_DROP_ICMP_CKSUM,   /* ICMP checksum wrong */
	NM_DROP_ICMP_IGNORED, /* not an echo request */
	/* UDP */
	NM_DROP_UDP_LEN,   /* UDP length != IPv4 payload length, or < 8 */
	NM_DROP_UDP_CKSUM, /* non-zero checksum that does not verify (the pseudo-header sum alone,
			    * a sender's unfinished offload on veth/af_packet, is accepted) */
	NM_DROP_UDP_PORT,  /* destination port not ours */
	/* Net datagram classes we do not accept yet (wire.md 1.1) */
	NM_DROP_CLASS_KEEPALIVE, /* NAT punch keep-alive, "PH" */
	NM_DROP_CLASS_PINGWAVE,  /* 72-byte EnhancedPingwave */
	NM_DROP_CLASS_ROUTE_HOP, /* protected relay envelope, "HR" */
	NM_DROP_CLASS_ROUTED,    /* RoutingHeader + inner packet, "RT" */
	NM_DROP_CLASS_UNKNOWN,   /* no class matches */
	/* NetHeader (wire.md 1.2) */
	NM_DROP_NET_SHORT,        /* fewer than 68 bytes */
	NM_DROP_NET_MAGIC,        /* magic != 0x4E45 */
	NM_DROP_NET_VERSION,      /* version != 1 */
	NM_DROP_NET_PAYLOAD_LEN,  /* payload_len > 8108 */
	NM_DROP_NET_EVENT_COUNT,  /* event_count > 2027 */
	NM_DROP_NET_LEN_MISMATCH, /* datagram != 68 + payload_len + 16 */
	NM_DROP_NET_TRUNCATED,    /* handshake/heartbeat: payload_len past the datagram */
	/* Session crypto */
	NM_DROP_AUTH,           /* Poly1305 tag did not verify */
	NM_DROP_REPLAY_DUP,     /* counter already seen inside the window */
	NM_DROP_REPLAY_OLD,     /* counter older than the window */
	NM_DROP_REPLAY_CEILING, /* counter u64::MAX, or the window is exhausted */
	/* Packet path (dataplane workers) */
	NM_DROP_RX_MULTISEG, /* (NM_DROP_FIRST_PATH) frame spans mbuf segments (MTU above the mbuf size) */
	NM_DROP_SESSION_UNKNOWN,  /* session_id names no session */
	NM_DROP_SUBPROTOCOL,      /* data packet for a subprotocol we do not serve */
	NM_DROP_FRAME_OVERRUN,    /* event frames do not match event_count / payload_len */
	NM_DROP_DAEMON_UNKNOWN,   /* event for a daemon (stream_id) this node does not run */
	NM_DROP_HANDOFF_FULL,     /* ring to the daemon's owner lcore was full */
	NM_DROP_NO_MBUF,          /* mempool empty */
	NM_DROP_SLOWPATH_FULL,    /* ring to the control thread was full */
	NM_DROP_HANDSHAKE,        /* handshake packet and no handshake responder */
	NM_DROP_TX_FULL,          /* the TX queue did not take the packet */
	NM_DROP_TX_TOO_LARGE,     /* one output event exceeds a packet at the MTU */
	NM_DROP_NO_ROUTE,         /* output has no live session or peer to go to */
	NM_DROP_MIG_RING_FULL,    /* 0x0500 message: the ring to the control thread was full */
	NM_DROP_MIG_HOLD_FULL,    /* event for a migrating daemon: its hold ring was full */
	/* IPv4 reassembly (nm_frag.h); counted per fragment */
	NM_DROP_FRAG_BAD,        /* empty, misaligned, or contradicts its datagram's end */
	NM_DROP_FRAG_TOO_LARGE,  /* ends past the largest datagram (8 + 8192 bytes) */
	NM_DROP_FRAG_OVERLAP,    /* overlaps part of what was received: the datagram is dropped */
	NM_DROP_FRAG_DUP,        /* every byte already received (the datagram goes on) */
	NM_DROP_FRAG_TOO_MANY,   /* more than NM_FRAG_MAX_FRAGS for one datagram */
	NM_DROP_FRAG_TABLE_FULL, /* no reassembly entry free for a new datagram */
	NM_DROP_FRAG_TIMEOUT,    /* its datagram was not complete within the timeout */
	NM_DROP_SESSION_ADDR,    /* packet of a session from an IPv4 address other than its peer's */
	NM_DROP__COUNT
};

/* Reasons from here on come from the packet path, not from the codecs. */
#define NM_DROP_FIRST_PATH NM_DROP_RX_MULTISEG

/* Stable short name ("ip_cksum"), for stats output; "?" when out of range. */
const char *nm_drop_name(enum nm_drop d);

/* The negative return code that goes with a reason (0 for NM_DROP_NONE). */
int nm_drop_rc(enum nm_drop d);

/* Record `d` in *why (may be NULL) and return its code: `return nm_drop(why, X);`. */
static inline int nm_drop(enum nm_drop *why, enum nm_drop d)
{
	if (why)
		*why = d;
	return nm_drop_rc(d);
}

#ifdef __cplusplus
}
#endif
#endif /* NM_DROP_H */

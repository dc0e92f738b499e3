/* SPDX-License-Identifier: MIT */
/* nm_drop.c - names and return codes of the drop reasons. */
#include <errno.h>

#include "nm_drop.h"
#include "nm_error.h"

#define MALFORMED NM_EMALFORMED
#define UNSUPP (-EPROTONOSUPPORT)
#define NOT_OURS (-EADDRNOTAVAIL)

static const struct {
	const char *name;
	int rc;
} drops[NM_DROP__COUNT] = {
	[NM_DROP_NONE] = { "none", 0 },
	[NM_DROP_ETH_SHORT] = { "eth_short", MALFORMED },
	[NM_DROP_ETH_NOT_OURS] = { "eth_not_ours", NOT_OURS },
	[NM_DROP_ETH_TYPE] = { "eth_type", UNSUPP },
	[NM_DROP_ARP_BAD] = { "arp_bad", MALFORMED },
	[NM_DROP_ARP_IGNORED] = { "arp_ignored", NOT_OURS },
	[NM_DROP_IP_BAD_HDR] = { "ip_bad_hdr", MALFORMED },
	[NM_DROP_IP_OPTIONS] = { "ip_options", UNSUPP },
	[NM_DROP_IP_LEN] = { "ip_len", MALFORMED },
	[NM_DROP_IP_CKSUM] = { "ip_cksum", MALFORMED },
	[NM_DROP_IP_NOT_OURS] = { "ip_not_ours", NOT_OURS },
	[NM_DROP_IP_FRAGMENT] = { "ip_fragment", UNSUPP },
	[NM_DROP_IP_PROTO] = { "ip_proto", UNSUPP },
	[NM_DROP_ICMP_BAD] = { "icmp_bad", MALFORMED },
	[NM_DROP_ICMP_CKSUM] = { "icmp_cksum", MALFORMED },
	[NM_DROP_ICMP_IGNORED] = { "icmp_ignored", UNSUPP },
	[NM_DROP_UDP_LEN] = { "udp_len", MALFORMED },
	[NM_DROP_UDP_CKSUM] = { "udp_cksum", MALFORMED },
	[NM_DROP_UDP_PORT] = { "udp_port", NOT_OURS },
	[NM_DROP_CLASS_KEEPALIVE] = { "class_keepalive", UNSUPP },
	[NM_DROP_CLASS_PINGWAVE] = { "class_pingwave", UNSUPP },
	[NM_DROP_CLASS_ROUTE_HOP] = { "class_route_hop", UNSUPP },
	[NM_DROP_CLASS_ROUTED] = { "class_routed", UNSUPP },
	[NM_DROP_CLASS_UNKNOWN] = { "class_unknown", MALFORMED },
	[NM_DROP_NET_SHORT] = { "net_short", MALFORMED },
	[NM_DROP_NET_MAGIC] = { "net_magic", MALFORMED },
	[NM_DROP_NET_VERSION] = { "net_version", MALFORMED },
	[NM_DROP_NET_PAYLOAD_LEN] = { "net_payload_len", MALFORMED },
	[NM_DROP_NET_EVENT_COUNT] = { "net_event_count", MALFORMED },
	[NM_DROP_NET_LEN_MISMATCH] = { "net_len_mismatch", MALFORMED },
	[NM_DROP_NET_TRUNCATED] = { "net_truncated", MALFORMED },
	[NM_DROP_AUTH] = { "auth", -EBADMSG },
	[NM_DROP_REPLAY_DUP] = { "replay_dup", -EALREADY },
	[NM_DROP_REPLAY_OLD] = { "replay_old", -EALREADY },
	[NM_DROP_REPLAY_CEILING] = { "replay_ceiling", -EALREADY },
	[NM_DROP_RX_MULTISEG] = { "rx_multiseg", UNSUPP },
	[NM_DROP_SESSION_UNKNOWN] = { "session_unknown", -ENOENT },
	[NM_DROP_SUBPROTOCOL] = { "subprotocol", UNSUPP },
	[NM_DROP_FRAME_OVERRUN] = { "frame_overrun", MALFORMED },
	[NM_DROP_DAEMON_UNKNOWN] = { "daemon_unknown", -ENOENT },
	[NM_DROP_HANDOFF_FULL] = { "handoff_full", -ENOBUFS },
	[NM_DROP_NO_MBUF] = { "no_mbuf", -ENOBUFS },
	[NM_DROP_SLOWPATH_FULL] = { "slowpath_full", -ENOBUFS },
	[NM_DROP_HANDSHAKE] = { "handshake_unhandled", UNSUPP },
	[NM_DROP_TX_FULL] = { "tx_full", -ENOBUFS },
	[NM_DROP_TX_TOO_LARGE] = { "tx_too_large", -EMSGSIZE },
	[NM_DROP_MIG_RING_FULL] = { "mig_ring_full", -ENOBUFS },
	[NM_DROP_MIG_HOLD_FULL] = { "mig_hold_full", -ENOBUFS },
	[NM_DROP_NO_ROUTE] = { "no_route", -ENOENT },
	[NM_DROP_FRAG_BAD] = { "frag_bad", MALFORMED },
	[NM_DROP_FRAG_TOO_LARGE] = { "frag_too_large", -EMSGSIZE },
	[NM_DROP_FRAG_OVERLAP] = { "frag_overlap", MALFORMED },
	[NM_DROP_FRAG_DUP] = { "frag_dup", -EALREADY },
	[NM_DROP_FRAG_TOO_MANY] = { "frag_too_many", MALFORMED },
	[NM_DROP_FRAG_TABLE_FULL] = { "frag_table_full", -ENOBUFS },
	[NM_DROP_FRAG_TIMEOUT] = { "frag_timeout", -ETIMEDOUT },
	[NM_DROP_SESSION_ADDR] = { "session_addr", NOT_OURS },
};

const char *nm_drop_name(enum nm_drop d)
{
	if ((unsigned)d >= NM_DROP__COUNT || !drops[d].name)
		return "?";
	return drops[d].name;
}

int nm_drop_rc(enum nm_drop d)
{
	if ((unsigned)d >= NM_DROP__COUNT)
		return -EINVAL;
	return drops[d].rc;
}

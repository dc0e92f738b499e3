/* SPDX-License-Identifier: MIT */
/*
 * nm_port.h - one DPDK port set up for the dataplane: mempools, N RX and N TX
 * queues (queue i belongs to worker i), RSS over IPv4/UDP when N > 1, and the
 * checksum offloads the PMD offers (software checksums otherwise).
 */
#ifndef NM_PORT_H
#define NM_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "nm_error.h"

#define NM_PORT_MAX_QUEUES 16

struct nm_port_config {
	uint16_t port_id;
	uint16_t n_queues;  /* RX = TX queues = workers */
	uint16_t mtu;       /* IP MTU; default 1500 */
	uint32_t n_mbufs;   /* pool size; default 8191 */
	uint32_t n_big_mbufs; /* reassembled-datagram pool size; default 1023 */
	uint16_t rx_desc;   /* default 1024 */
	uint16_t tx_desc;   /* default 1024 */
};

struct nm_port {
	uint16_t port_id;
	uint16_t n_queues;
	uint16_t mtu;
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	struct rte_mempool *big_pool; /* one-segment mbufs for a whole 8192-byte datagram (reassembly) */
	bool rss;            /* flows spread over queues by the NIC */
	bool rx_ip_cksum;    /* NIC verifies IPv4 header checksums */
	bool rx_udp_cksum;   /* NIC verifies UDP checksums */
	bool tx_ip_cksum;    /* NIC fills IPv4 header checksums */
	bool tx_udp_cksum;   /* NIC fills UDP checksums */
	bool started;
};

struct rte_eth_dev_info;

/*
 * Descriptor counts against the device's limits (min, max, alignment), so a
 * count the PMD would round or refuse is an error naming both. nm_port_init
 * calls it; pure, for tests.
 */
int nm_port_check_desc(const struct rte_eth_dev_info *info, uint16_t port_id, uint16_t rx_desc,
		       uint16_t tx_desc, struct nm_error *err);

/* Configure, set up queues and start. Negative errno with the reason in err. */
int nm_port_init(struct nm_port *p, const struct nm_port_config *cfg, struct nm_error *err);

/* Stop and close the port, free the pool (after every mbuf came back). */
void nm_port_fini(struct nm_port *p);

/* Mbufs currently taken from both pools (leak checks). */
unsigned nm_port_mbufs_in_use(const struct nm_port *p);

#endif /* NM_PORT_H */

/* SPDX-License-Identifier: MIT */
/* nm_port.c - ethdev and mempool setup (see header). */
#include "nm_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "nm_frag.h"
#include "nm_log.h"

#define MBUF_CACHE 256
#define BIG_CACHE 16

static void config_defaults(struct nm_port_config *c)
{
	if (c->mtu == 0)
		c->mtu = 1500;
	if (c->n_mbufs == 0)
		c->n_mbufs = 8191;
	if (c->n_big_mbufs == 0)
		c->n_big_mbufs = 1023; /* chunks queued for a busy control thread (nm_migdp) */
	if (c->rx_desc == 0)
		c->rx_desc = 1024;
	if (c->tx_desc == 0)
		c->tx_desc = 1024;
	if (c->n_queues == 0)
		c->n_queues = 1;
}

/* Ask only for what the device has: RSS on IP/UDP, checksum offloads. */
static void choose_offloads(struct nm_port *p, const struct rte_eth_dev_info *info,
			    struct rte_eth_conf *conf)
{
	uint64_t rx = info->rx_offload_capa, tx = info->tx_offload_capa;
	uint64_t rss_hf = info->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);

	p->rss = p->n_queues > 1 && rss_hf != 0;
	if (p->rss) {
		conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf->rx_adv_conf.rss_conf.rss_hf = rss_hf;
	}
	p->rx_ip_cksum = rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	p->rx_udp_cksum = rx & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	p->tx_ip_cksum = tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	p->tx_udp_cksum = tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	conf->rxmode.offloads = (p->rx_ip_cksum ? RTE_ETH_RX_OFFLOAD_IPV4_CKSUM : 0) |
				(p->rx_udp_cksum ? RTE_ETH_RX_OFFLOAD_UDP_CKSUM : 0);
	conf->txmode.offloads = (p->tx_ip_cksum ? RTE_ETH_TX_OFFLOAD_IPV4_CKSUM : 0) |
				(p->tx_udp_cksum ? RTE_ETH_TX_OFFLOAD_UDP_CKSUM : 0);
}

int nm_port_check_desc(const struct rte_eth_dev_info *info, uint16_t port_id, uint16_t rx_desc,
		       uint16_t tx_desc, struct nm_error *err)
{
	const struct rte_eth_desc_lim *lim[2] = { &info->rx_desc_lim, &info->tx_desc_lim };
	const uint16_t want[2] = { rx_desc, tx_desc };
	for (int i = 0; i < 2; i++) {
		uint16_t align = lim[i]->nb_align ? lim[i]->nb_align : 1;
		if (want[i] < lim[i]->nb_min || want[i] > lim[i]->nb_max || want[i] % align != 0)
			return nm_error_set(err, -EINVAL,
					    "port %u (%s): %u %s descriptors asked, the device takes "
					    "%u..%u in multiples of %u",
					    port_id, info->driver_name ? info->driver_name : "?",
					    want[i], i ? "tx" : "rx", lim[i]->nb_min, lim[i]->nb_max,
					    align);
	}
	return 0;
}

static int setup_queues(struct nm_port *p, const struct nm_port_config *c, struct nm_error *err)
{
	int socket = rte_eth_dev_socket_id(p->port_id);
	for (uint16_t q = 0; q < p->n_queues; q++) {
		int rc = rte_eth_rx_queue_setup(p->port_id, q, c->rx_desc, socket, NULL, p->pool);
		if (rc < 0)
			return nm_error_set(err, rc, "port %u: rx queue %u: %s", p->port_id, q,
					    strerror(-rc));
		rc = rte_eth_tx_queue_setup(p->port_id, q, c->tx_desc, socket, NULL);
		if (rc < 0)
			return nm_error_set(err, rc, "port %u: tx queue %u: %s", p->port_id, q,
					    strerror(-rc));
	}
	return 0;
}

static int make_pool(struct nm_port *p, const struct nm_port_config *c, struct nm_error *err)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "nm_pool_p%u", p->port_id);
	/* Data room for a full frame at the MTU, so frames stay in one segment. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + RTE_ETHER_HDR_LEN + c->mtu + RTE_ETHER_CRC_LEN;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	p->pool = rte_pktmbuf_pool_create(name, c->n_mbufs, MBUF_CACHE, 0, (uint16_t)room,
					  rte_eth_dev_socket_id(p->port_id));
	if (p->pool == NULL)
		return nm_error_set(err, -ENOMEM, "port %u: mempool of %u mbufs: %s", p->port_id,
				    c->n_mbufs, rte_strerror(rte_errno));
	/* A reassembled datagram stays contiguous: the packet path reads flat bytes. */
	snprintf(name, sizeof(name), "nm_big_p%u", p->port_id);
	p->big_pool = rte_pktmbuf_pool_create(name, c->n_big_mbufs, BIG_CACHE, 0,
					      RTE_PKTMBUF_HEADROOM + NM_FRAG_MAX_FRAME,
					      rte_eth_dev_socket_id(p->port_id));
	if (p->big_pool == NULL)
		return nm_error_set(err, -ENOMEM, "port %u: mempool of %u datagram mbufs: %s",
				    p->port_id, c->n_big_mbufs, rte_strerror(rte_errno));
	return 0;
}

static void free_pools(struct nm_port *p)
{
	rte_mempool_free(p->pool);
	rte_mempool_free(p->big_pool);
	p->pool = NULL;
	p->big_pool = NULL;
}

int nm_port_init(struct nm_port *p, const struct nm_port_config *cfg, struct nm_error *err)
{
	if (p == NULL || cfg == NULL)
		return nm_error_set(err, -EINVAL, "port: config is required");
	struct nm_port_config c = *cfg;
	config_defaults(&c);
	memset(p, 0, sizeof(*p));
	p->port_id = c.port_id;
	p->n_queues = c.n_queues;
	p->mtu = c.mtu;

	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(c.port_id, &info);
	if (rc < 0)
		return nm_error_set(err, rc, "port %u: no such device", c.port_id);
	if (c.n_queues > NM_PORT_MAX_QUEUES || c.n_queues > info.max_rx_queues ||
	    c.n_queues > info.max_tx_queues)
		return nm_error_set(err, -EINVAL, "port %u (%s): %u queues asked, device has %u rx / %u tx",
				    c.port_id, info.driver_name, c.n_queues, info.max_rx_queues,
				    info.max_tx_queues);

	if ((rc = nm_port_check_desc(&info, c.port_id, c.rx_desc, c.tx_desc, err)) < 0)
		return rc;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	choose_offloads(p, &info, &conf);
	if ((rc = make_pool(p, &c, err)) < 0)
		goto fail;
	rc = rte_eth_dev_configure(c.port_id, c.n_queues, c.n_queues, &conf);
	if (rc < 0) {
		nm_error_set(err, rc, "port %u: configure: %s", c.port_id, strerror(-rc));
		goto fail;
	}
	/* Not every virtual PMD implements MTU setting; frames are sized by us anyway. */
	if ((rc = rte_eth_dev_set_mtu(c.port_id, c.mtu)) < 0)
		nm_log(NM_LT_DATAPLANE, NM_LV_DEBUG, "port %u (%s): MTU %u not set: %s", c.port_id,
		       info.driver_name, c.mtu, strerror(-rc));
	if ((rc = setup_queues(p, &c, err)) < 0)
		goto fail;
	if ((rc = rte_eth_dev_start(c.port_id)) < 0) {
		nm_error_set(err, rc, "port %u: start: %s", c.port_id, strerror(-rc));
		goto fail;
	}
	p->started = true;
	rte_eth_macaddr_get(c.port_id, &p->mac);
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	nm_log(NM_LT_DATAPLANE, NM_LV_INFO, "port %u (%s): started, %u queue(s), MTU %u, %u mbufs, MAC %s",
	       c.port_id, info.driver_name, c.n_queues, c.mtu, c.n_mbufs, mac);
	return 0;
fail:
	free_pools(p);
	return rc;
}

void nm_port_fini(struct nm_port *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		int rc = rte_eth_dev_stop(p->port_id);
		if (rc < 0)
			nm_log(NM_LT_DATAPLANE, NM_LV_WARNING, "port %u: stop: %s", p->port_id, strerror(-rc));
		if ((rc = rte_eth_dev_close(p->port_id)) < 0)
			nm_log(NM_LT_DATAPLANE, NM_LV_WARNING, "port %u: close: %s", p->port_id, strerror(-rc));
		p->started = false;
	}
	free_pools(p);
}

unsigned nm_port_mbufs_in_use(const struct nm_port *p)
{
	return (p->pool != NULL ? rte_mempool_in_use_count(p->pool) : 0) +
	       (p->big_pool != NULL ? rte_mempool_in_use_count(p->big_pool) : 0);
}

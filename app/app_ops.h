/* SPDX-License-Identifier: MIT */
/*
 * app_ops.h - what every netmesh binary sets up for its operator right after
 * rte_eal_init: the netmesh.* rte_log types (nm_log_rte.h) and the packet
 * capture server, so dpdk-dumpcap and dpdk-pdump attach to a running process.
 */
#ifndef APP_OPS_H
#define APP_OPS_H

/* Never fails the program: what is unavailable is logged. */
void app_ops_init(void);

/* Before rte_eal_cleanup. */
void app_ops_fini(void);

#endif /* APP_OPS_H */

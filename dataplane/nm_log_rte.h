/* SPDX-License-Identifier: MIT */
/*
 * nm_log_rte.h - nm_log's rte_log backend: registers one rte_log type per
 * nm_log type ("netmesh.app", "netmesh.dataplane", "netmesh.session",
 * "netmesh.runtime", "netmesh.meshos", "netmesh.migration"), default level
 * info, so EAL's --log-level (e.g. 'netmesh.*:debug') and --syslog apply,
 * and installs the sink. Call once after rte_eal_init, before other threads log.
 */
#ifndef NM_LOG_RTE_H
#define NM_LOG_RTE_H

/* 0, or a negative errno when rte_log refused a type (then nm_log stays on stderr). */
int nm_log_rte_init(void);

#endif /* NM_LOG_RTE_H */

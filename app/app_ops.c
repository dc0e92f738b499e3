/* SPDX-License-Identifier: MIT */
/* app_ops.c - log types and capture for the netmesh binaries (see header). */
#include "app_ops.h"

#include <stdio.h>

#include <rte_errno.h>
#include <rte_pdump.h>

#include "nm_log.h"
#include "nm_log_rte.h"

void app_ops_init(void)
{
	if (nm_log_rte_init() < 0)
		fprintf(stderr, "netmesh: rte_log types not registered: logging to stderr\n");
	/* Without EAL's multi-process channel (--in-memory, --no-shconf) this is a no-op. */
	if (rte_pdump_init() < 0)
		nm_log(NM_LT_APP, NM_LV_WARNING, "capture unavailable: rte_pdump_init: %s",
		       rte_strerror(rte_errno));
	else
		nm_log(NM_LT_APP, NM_LV_DEBUG, "capture server registered (dpdk-dumpcap, dpdk-pdump attach with --file-prefix)");
}

void app_ops_fini(void)
{
	rte_pdump_uninit();
}

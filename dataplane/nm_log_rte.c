/* SPDX-License-Identifier: MIT */
/* nm_log_rte.c - nm_log through rte_log (see header). */
#include "nm_log_rte.h"

#include <errno.h>
#include <stdio.h>

#include <rte_log.h>

#include "nm_log.h"

/* rte_log type ids, one per nm_log type: written once by nm_log_rte_init. */
static int rte_logtype_of[NM_LT__COUNT];

static uint32_t rte_level(enum nm_log_lv lv)
{
	return (uint32_t)lv + 1; /* RTE_LOG_ERR (4) is syslog's LOG_ERR (3) + 1 */
}

static bool rte_enabled(void *ctx, enum nm_log_type t, enum nm_log_lv lv)
{
	(void)ctx;
	return (unsigned)t < NM_LT__COUNT && rte_log_can_log((uint32_t)rte_logtype_of[t], rte_level(lv));
}

static void rte_write(void *ctx, enum nm_log_type t, enum nm_log_lv lv, const char *msg)
{
	(void)ctx;
	if ((unsigned)t >= NM_LT__COUNT)
		return;
	/* The app type speaks as the program ("netmesh: ..."), the others by subsystem. */
	if (t == NM_LT_APP)
		rte_log(rte_level(lv), (uint32_t)rte_logtype_of[t], "netmesh: %s\n", msg);
	else
		rte_log(rte_level(lv), (uint32_t)rte_logtype_of[t], "netmesh.%s: %s\n",
			nm_log_type_name(t), msg);
}

int nm_log_rte_init(void)
{
	for (int t = 0; t < NM_LT__COUNT; t++) {
		char name[32];
		snprintf(name, sizeof(name), "netmesh.%s", nm_log_type_name((enum nm_log_type)t));
		int id = rte_log_register_type_and_pick_level(name, RTE_LOG_INFO);
		if (id < 0)
			return id;
		rte_logtype_of[t] = id;
	}
	static const struct nm_log_sink sink = { NULL, rte_enabled, rte_write };
	nm_log_set_sink(&sink);
	return 0;
}

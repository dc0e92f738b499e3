/* SPDX-License-Identifier: MIT */
/* nm_eal.c - thin EAL wrappers (see header). */
#include "nm_eal.h"

#include <errno.h>

#include <rte_eal.h>
#include <rte_errno.h>

int nm_eal_init(int argc, char **argv)
{
	int rc = rte_eal_init(argc, argv);
	if (rc < 0)
		return rte_errno != 0 ? -rte_errno : -EINVAL;
	return rc;
}

int nm_eal_cleanup(void)
{
	int rc = rte_eal_cleanup();
	return rc < 0 ? (rte_errno != 0 ? -rte_errno : rc) : 0;
}

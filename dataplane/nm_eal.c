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

int nm_eal_init_dev(int argc, char **argv)
{
	if (argc > 1)
		return nm_eal_init(argc, argv);
	char *defaults[] = { argc == 1 ? argv[0] : "netmesh", "--no-huge", "-m", "128", "--no-pci",
			     "--no-shconf", "--no-telemetry", "--vdev=" NM_EAL_DEV_PORT, "-l", "0",
			     "--log-level=lib.*:error" };
	return nm_eal_init((int)(sizeof(defaults) / sizeof(defaults[0])), defaults);
}

int nm_eal_cleanup(void)
{
	int rc = rte_eal_cleanup();
	return rc < 0 ? (rte_errno != 0 ? -rte_errno : rc) : 0;
}

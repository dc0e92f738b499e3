/* SPDX-License-Identifier: MIT */
/* fuzz_dp.c - a dataplane for fuzz targets (see header). */
#include "fuzz_dp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "fuzz_common.h"
#include "nm_builtin.h"
#include "nm_eal.h"
#include "nm_identity.h"
#include "nm_log_rte.h"

static void eal(const char *name)
{
	char *argv[] = {
		(char *)name, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
		"--lcores=0@0,1@0", "--log-level=lib.*:error", "--log-level=netmesh.*:error",
	};
	FUZZ_CHECK(nm_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) >= 0);
	nm_log_rte_init(); /* so that --log-level above quiets the dataplane's info lines */
}

/* Torn down at exit, so that LeakSanitizer sees no memory held only by EAL's heap. */
static struct fuzz_dp *live;

static void fuzz_dp_fini(void)
{
	struct fuzz_dp *f = live;
	struct rte_mbuf *m;
	nm_runtime_shutdown(f->rt, NULL);
	nm_dataplane_stop(f->dp);
	while ((m = fuzz_dp_sent(f)) != NULL)
		rte_pktmbuf_free(m);
	nm_dataplane_destroy(f->dp);
	nm_runtime_destroy(f->rt);
	nm_mesh_destroy(f->mesh);
	rte_ring_free(f->rxr);
	rte_ring_free(f->txr);
	nm_eal_cleanup();
}

void fuzz_dp_init(struct fuzz_dp *f, const char *name, const uint8_t node_seed[32],
		  const uint8_t psk[32])
{
	char n[RTE_RING_NAMESIZE];
	eal(name);
	snprintf(n, sizeof(n), "%s_rx", name);
	f->rxr = rte_ring_create(n, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(n, sizeof(n), "%s_tx", name);
	f->txr = rte_ring_create(n, 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	FUZZ_CHECK(f->rxr != NULL && f->txr != NULL);
	int port = rte_eth_from_rings(name, &f->rxr, 1, &f->txr, 1, 0);
	FUZZ_CHECK(port >= 0);
	char pname[RTE_ETH_NAME_MAX_LEN];
	FUZZ_CHECK(rte_eth_dev_get_name_by_port((uint16_t)port, pname) == 0);
	struct nm_mesh_config mc = { .port = pname, .node_seed = node_seed };
	memcpy(mc.psk, psk, sizeof(mc.psk));
	struct nm_error err;
	FUZZ_CHECK(nm_mesh_create(&mc, &f->mesh, &err) == 0);
	f->rt = nm_runtime_create(nm_mesh_node(f->mesh));
	FUZZ_CHECK(f->rt != NULL && nm_builtin_register_all(f->rt, NULL) == 0);
	FUZZ_CHECK(nm_runtime_start(f->rt, NULL) == 0);
	const unsigned lcores[1] = { 1 };
	struct nm_dataplane_config dc = { .mesh = f->mesh, .rt = f->rt, .ip = FUZZ_DP_IP_US,
					  .n_workers = 1, .lcores = lcores, .n_mbufs = 2047 };
	FUZZ_CHECK(nm_dataplane_create(&dc, &f->dp, &err) == 0);
	f->w = f->dp->workers[0];
	live = f;
	FUZZ_CHECK(atexit(fuzz_dp_fini) == 0);
}

uint64_t fuzz_dp_spawn(struct fuzz_dp *f, const char *kind, uint8_t seed_byte)
{
	uint8_t seed[32] = { seed_byte };
	struct nm_identity id;
	FUZZ_CHECK(nm_identity_from_seed(&id, seed) == 0);
	struct nm_host_config cfg = nm_host_config_default();
	cfg.lcore = f->w->lcore;
	struct nm_daemon_handle h;
	struct nm_error err;
	FUZZ_CHECK(nm_runtime_spawn(f->rt, kind, &id, &cfg, &h, &err) == 0);
	return h.origin_hash;
}

struct rte_mbuf *fuzz_dp_sent(struct fuzz_dp *f)
{
	struct rte_mbuf *m;
	return rte_ring_dequeue(f->txr, (void **)&m) == 0 ? m : NULL;
}

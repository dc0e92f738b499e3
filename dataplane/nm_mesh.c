/* SPDX-License-Identifier: MIT */
/* nm_mesh.c - the node on the mesh (see header). */
#include "nm_mesh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <sodium.h>

struct nm_mesh {
	uint8_t psk[NM_PSK_LEN];
	uint16_t port_id;
	struct nm_identity node;
	struct nm_node *iface; /* what the runtime sees */
};

int nm_mesh_create(const struct nm_mesh_config *cfg, struct nm_mesh **out, struct nm_error *err)
{
	if (cfg == NULL || out == NULL || cfg->port == NULL || cfg->port[0] == '\0')
		return nm_error_set(err, -EINVAL, "mesh: config, port name and out are required");
	uint16_t port;
	if (rte_eth_dev_get_port_by_name(cfg->port, &port) != 0)
		return nm_error_set(err, -ENODEV,
				    "mesh: no ethdev named '%s' (is EAL initialised, with --vdev=%s or the PCI device?)",
				    cfg->port, cfg->port);
	struct nm_mesh *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return nm_error_set(err, -ENOMEM, "mesh: out of memory");
	memcpy(m->psk, cfg->psk, NM_PSK_LEN);
	m->port_id = port;
	int rc = cfg->node_seed != NULL ? nm_identity_from_seed(&m->node, cfg->node_seed)
					: nm_identity_generate(&m->node);
	if (rc < 0) {
		free(m);
		return nm_error_set(err, rc, "mesh: cannot create the node identity");
	}
	m->iface = nm_node_create(&m->node);
	if (m->iface == NULL) {
		nm_identity_wipe(&m->node);
		free(m);
		return nm_error_set(err, -ENOMEM, "mesh: out of memory");
	}
	*out = m;
	return 0;
}

void nm_mesh_destroy(struct nm_mesh *m)
{
	if (m == NULL)
		return;
	nm_node_destroy(m->iface);
	sodium_memzero(m->psk, sizeof(m->psk));
	nm_identity_wipe(&m->node);
	free(m);
}

uint64_t nm_mesh_node_id(const struct nm_mesh *m)
{
	return m->node.node_id;
}

uint16_t nm_mesh_port_id(const struct nm_mesh *m)
{
	return m->port_id;
}

const struct nm_identity *nm_mesh_identity(const struct nm_mesh *m)
{
	return &m->node;
}

const uint8_t *nm_mesh_psk(const struct nm_mesh *m)
{
	return m->psk;
}

struct nm_node *nm_mesh_node(struct nm_mesh *m)
{
	return m->iface;
}

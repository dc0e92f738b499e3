/* SPDX-License-Identifier: MIT */
/*
 * nm_mesh.h - the node on the mesh: its PSK, its identity, its DPDK port, and
 * the node interface (control/nm_node.h) a compute runtime stands on: node id,
 * identity, migration-handler slot and readiness. The runtime never sees the
 * mesh itself: nm_runtime_create(nm_mesh_node(mesh)).
 */
#ifndef NM_MESH_H
#define NM_MESH_H

#include <stdbool.h>
#include <stdint.h>

#include "nm_error.h"
#include "nm_identity.h"
#include "nm_node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_PSK_LEN 32

struct nm_mesh;

struct nm_mesh_config {
	uint8_t psk[NM_PSK_LEN]; /* mesh-wide pre-shared key */
	const char *port;        /* ethdev name: "net_null0", a PCI address, ... */
	const uint8_t *node_seed; /* 32-byte node identity seed; NULL: generate one */
};

/*
 * Build a mesh. EAL must be initialised and the port must exist (for tests,
 * --vdev=net_null0). -EINVAL for a NULL config or port, -ENODEV when the port
 * is unknown. The port is not configured or started here: the dataplane does
 * that when workers are set up.
 */
int nm_mesh_create(const struct nm_mesh_config *cfg, struct nm_mesh **out, struct nm_error *err);
void nm_mesh_destroy(struct nm_mesh *m);

uint64_t nm_mesh_node_id(const struct nm_mesh *m);
uint16_t nm_mesh_port_id(const struct nm_mesh *m);
const struct nm_identity *nm_mesh_identity(const struct nm_mesh *m);
const uint8_t *nm_mesh_psk(const struct nm_mesh *m);

/* The node interface the runtime stands on (owned by the mesh). */
struct nm_node *nm_mesh_node(struct nm_mesh *m);

#ifdef __cplusplus
}
#endif
#endif /* NM_MESH_H */

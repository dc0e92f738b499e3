/* SPDX-License-Identifier: MIT */
/*
 * nm_mesh.h - the node on the mesh: its PSK, its identity, its DPDK port, and
 * the slot where a compute runtime installs its migration handler.
 *
 * The runtime stands on a mesh. The handler slot is an atomic pointer so that
 * anyone who sees the runtime Ready also sees the handler (the runtime stores
 * the handler before it publishes Ready).
 */
#ifndef NM_MESH_H
#define NM_MESH_H

#include <stdbool.h>
#include <stdint.h>

#include "nm_error.h"
#include "nm_identity.h"

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

/* What a runtime installs so inbound migrations reach it. */
struct nm_migration_handler {
	void *ctx;
	/* May this node accept an inbound migration now? */
	bool (*ready)(void *ctx);
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

/* Install (replacing any other). The handler must outlive its installation. */
void nm_mesh_set_migration_handler(struct nm_mesh *m, const struct nm_migration_handler *h);

/* Clear if `h` is the installed handler (NULL: clear whatever is installed). */
void nm_mesh_clear_migration_handler(struct nm_mesh *m, const struct nm_migration_handler *h);

bool nm_mesh_has_migration_handler(const struct nm_mesh *m);

/* A handler is installed and it says ready. */
bool nm_mesh_migration_ready(const struct nm_mesh *m);

#ifdef __cplusplus
}
#endif
#endif /* NM_MESH_H */

/* SPDX-License-Identifier: MIT */
/*
 * nm_node.h - what the compute runtime needs from the node it stands on:
 * the node id, the node identity, and the slot where a runtime installs its
 * migration handler (with readiness). The dataplane's nm_mesh owns one
 * (nm_mesh_node()); tests can build one without any dataplane.
 *
 * The slot is an atomic pointer: the runtime stores its handler before it
 * publishes Ready, so anyone who sees the runtime Ready also sees the handler.
 */
#ifndef NM_NODE_H
#define NM_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_identity.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nm_node;

/* What a runtime installs so inbound migrations reach it. */
struct nm_migration_handler {
	void *ctx;
	/* May this node accept an inbound migration now? */
	bool (*ready)(void *ctx);
	/*
	 * One inbound migration message (subprotocol 0x0500) from `from_node`:
	 * 0 when taken, -ENOSYS when no migration engine runs (NULL: the same).
	 * Called on the control thread.
	 */
	int (*handle)(void *ctx, const uint8_t *msg, size_t len, uint64_t from_node,
		      uint64_t now_ms);
};

/* New node for `id` (borrowed: it must outlive the node). NULL on bad argument / no memory. */
struct nm_node *nm_node_create(const struct nm_identity *id);
void nm_node_destroy(struct nm_node *n);

uint64_t nm_node_id(const struct nm_node *n);
const struct nm_identity *nm_node_identity(const struct nm_node *n);

/* Install (replacing any other). The handler must outlive its installation. */
void nm_node_set_migration_handler(struct nm_node *n, const struct nm_migration_handler *h);

/* Clear if `h` is the installed handler (NULL: clear whatever is installed). */
void nm_node_clear_migration_handler(struct nm_node *n, const struct nm_migration_handler *h);

bool nm_node_has_migration_handler(const struct nm_node *n);

/* A handler is installed and it says ready. */
bool nm_node_migration_ready(const struct nm_node *n);

/*
 * Pass one inbound 0x0500 message to the installed handler. -ENOSYS when no
 * handler (or no engine behind it) takes it: the caller then answers
 * TakeSnapshot / SnapshotReady with MigrationFailed(ComputeNotSupported), as
 * upstream does (compute.md §11.8).
 */
int nm_node_handle_migration(struct nm_node *n, const uint8_t *msg, size_t len,
			     uint64_t from_node, uint64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif /* NM_NODE_H */

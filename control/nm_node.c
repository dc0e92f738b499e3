/* SPDX-License-Identifier: MIT */
/* nm_node.c - the node a runtime stands on (see header). */
#include "nm_node.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct nm_node {
	const struct nm_identity *id;
	_Atomic(const struct nm_migration_handler *) handler;
};

struct nm_node *nm_node_create(const struct nm_identity *id)
{
	if (id == NULL)
		return NULL;
	struct nm_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->id = id;
	atomic_init(&n->handler, NULL);
	return n;
}

void nm_node_destroy(struct nm_node *n)
{
	free(n);
}

uint64_t nm_node_id(const struct nm_node *n)
{
	return n->id->node_id;
}

const struct nm_identity *nm_node_identity(const struct nm_node *n)
{
	return n->id;
}

void nm_node_set_migration_handler(struct nm_node *n, const struct nm_migration_handler *h)
{
	atomic_store_explicit(&n->handler, h, memory_order_seq_cst);
}

void nm_node_clear_migration_handler(struct nm_node *n, const struct nm_migration_handler *h)
{
	if (h == NULL) {
		atomic_store_explicit(&n->handler, NULL, memory_order_seq_cst);
		return;
	}
	const struct nm_migration_handler *expect = h;
	atomic_compare_exchange_strong(&n->handler, &expect, NULL);
}

static const struct nm_migration_handler *handler_of(const struct nm_node *n)
{
	return atomic_load_explicit(&((struct nm_node *)n)->handler, memory_order_seq_cst);
}

bool nm_node_has_migration_handler(const struct nm_node *n)
{
	return handler_of(n) != NULL;
}

bool nm_node_migration_ready(const struct nm_node *n)
{
	const struct nm_migration_handler *h = handler_of(n);
	return h != NULL && h->ready != NULL && h->ready(h->ctx);
}

int nm_node_handle_migration(struct nm_node *n, const uint8_t *msg, size_t len,
			     uint64_t from_node, uint64_t now_ms)
{
	const struct nm_migration_handler *h = handler_of(n);
	if (h == NULL || h->handle == NULL)
		return -ENOSYS;
	return h->handle(h->ctx, msg, len, from_node, now_ms);
}

/* SPDX-License-Identifier: MIT */
/*
 * nm_capability.h - what a node offers and what a daemon requires of it.
 *
 * A reduced form of upstream's CapabilityFilter: required tags (all must be
 * present), minimum memory, and a GPU flag. The empty filter matches every
 * node ("run anywhere").
 */
#ifndef NM_CAPABILITY_H
#define NM_CAPABILITY_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NM_CAP_MAX_TAGS 8
#define NM_CAP_TAG_MAX 31 /* bytes, without the NUL */

struct nm_capability_set {
	char tags[NM_CAP_MAX_TAGS][NM_CAP_TAG_MAX + 1];
	uint8_t n_tags;
	uint32_t memory_gb;
	bool has_gpu;
};

struct nm_capability_filter {
	char require_tags[NM_CAP_MAX_TAGS][NM_CAP_TAG_MAX + 1];
	uint8_t n_require_tags;
	uint32_t min_memory_gb;
	bool require_gpu;
};

/* Add a tag. -EINVAL for NULL/empty/oversized, -ENOSPC when full; duplicates are kept once. */
int nm_capability_set_add_tag(struct nm_capability_set *s, const char *tag);
int nm_capability_filter_require_tag(struct nm_capability_filter *f, const char *tag);

bool nm_capability_set_has_tag(const struct nm_capability_set *s, const char *tag);

/* Does `set` satisfy `filter`? A NULL or empty filter matches everything. */
bool nm_capability_matches(const struct nm_capability_filter *filter,
			   const struct nm_capability_set *set);

#ifdef __cplusplus
}
#endif
#endif /* NM_CAPABILITY_H */

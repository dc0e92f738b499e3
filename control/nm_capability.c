/* SPDX-License-Identifier: MIT */
/* nm_capability.c - tag sets and the reduced placement filter. */
#include <errno.h>
#include <string.h>

#include "nm_capability.h"

typedef char tag_t[NM_CAP_TAG_MAX + 1];

/* A count beyond the array (corrupt struct) is read as full, never past it. */
static unsigned clamp_count(uint8_t n)
{
	return n > NM_CAP_MAX_TAGS ? NM_CAP_MAX_TAGS : n;
}

static bool tags_have(const tag_t *tags, uint8_t n, const char *tag)
{
	for (unsigned i = 0; i < clamp_count(n); i++)
		if (strncmp(tags[i], tag, sizeof(tag_t)) == 0)
			return true;
	return false;
}

static int tags_add(tag_t *tags, uint8_t *n, const char *tag)
{
	if (!tag)
		return -EINVAL;
	size_t len = strnlen(tag, sizeof(tag_t));
	if (len == 0 || len > NM_CAP_TAG_MAX)
		return -EINVAL;
	if (tags_have(tags, *n, tag))
		return 0;
	if (*n >= NM_CAP_MAX_TAGS)
		return -ENOSPC;
	memcpy(tags[*n], tag, len + 1);
	(*n)++;
	return 0;
}

int nm_capability_set_add_tag(struct nm_capability_set *s, const char *tag)
{
	if (!s)
		return -EINVAL;
	return tags_add(s->tags, &s->n_tags, tag);
}

int nm_capability_filter_require_tag(struct nm_capability_filter *f, const char *tag)
{
	if (!f)
		return -EINVAL;
	return tags_add(f->require_tags, &f->n_require_tags, tag);
}

bool nm_capability_set_has_tag(const struct nm_capability_set *s, const char *tag)
{
	if (!s || !tag)
		return false;
	return tags_have(s->tags, s->n_tags, tag);
}

bool nm_capability_matches(const struct nm_capability_filter *filter,
			   const struct nm_capability_set *set)
{
	static const struct nm_capability_set none; /* NULL set = offers nothing */

	if (!filter)
		return true;
	if (!set)
		set = &none;
	for (unsigned i = 0; i < clamp_count(filter->n_require_tags); i++)
		if (!tags_have(set->tags, set->n_tags, filter->require_tags[i]))
			return false;
	if (set->memory_gb < filter->min_memory_gb)
		return false;
	return !filter->require_gpu || set->has_gpu;
}

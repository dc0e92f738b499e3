/* SPDX-License-Identifier: MIT */
/* nm_maint.c - the maintenance state machine (see header). */
#include "nm_maint.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nm_daemon.h"

/* The eight forward arcs; everything else between different kinds is refused. */
static const bool successor[NM_MAINT_KINDS][NM_MAINT_KINDS] = {
	[NM_MAINT_ACTIVE] = { [NM_MAINT_ENTERING] = true },
	[NM_MAINT_ENTERING] = { [NM_MAINT_MAINTENANCE] = true, [NM_MAINT_DRAIN_FAILED] = true },
	[NM_MAINT_MAINTENANCE] = { [NM_MAINT_EXITING] = true, [NM_MAINT_DRAIN_FAILED] = true },
	[NM_MAINT_EXITING] = { [NM_MAINT_RECOVERY] = true },
	[NM_MAINT_DRAIN_FAILED] = { [NM_MAINT_EXITING] = true },
	[NM_MAINT_RECOVERY] = { [NM_MAINT_ACTIVE] = true },
};

static bool kind_ok(enum nm_maint_kind k)
{
	return (unsigned)k < NM_MAINT_KINDS;
}

bool nm_maint_valid_successor(enum nm_maint_kind from, enum nm_maint_kind to)
{
	if (!kind_ok(from) || !kind_ok(to))
		return false;
	return from == to || successor[from][to];
}

const char *nm_maint_kind_name(enum nm_maint_kind k)
{
	static const char *const names[] = { "active", "entering_maintenance", "maintenance",
					     "exiting_maintenance", "drain_failed", "recovery" };
	return kind_ok(k) ? names[k] : "unknown";
}

const char *nm_maint_mirror_name(enum nm_maint_kind k)
{
	static const char *const names[] = { "Active", "EnteringMaintenance", "Maintenance",
					     "ExitingMaintenance", "DrainFailed", "Recovery" };
	return kind_ok(k) ? names[k] : "Unknown";
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void nm_maint_view_of(const struct nm_maint_state *s, uint64_t now_ms, struct nm_maint_view *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = s->kind;
	if (s->kind == NM_MAINT_ACTIVE)
		return;
	v->since_ms = sat_sub(now_ms, s->since_ms);
	if (s->kind == NM_MAINT_ENTERING && s->has_deadline) {
		v->has_deadline = true;
		v->deadline_remaining_ms = sat_sub(s->deadline_ms, now_ms);
	}
	if (s->kind == NM_MAINT_DRAIN_FAILED)
		memcpy(v->reason, s->reason, sizeof(v->reason));
}

static struct nm_maint_state make(enum nm_maint_kind k, uint64_t since_ms)
{
	struct nm_maint_state s = { .kind = k, .since_ms = since_ms };
	return s;
}

void nm_maint_enter(struct nm_maint_state *s, uint64_t now_ms, uint64_t drain_for_ms)
{
	*s = make(NM_MAINT_ENTERING, now_ms);
	s->has_deadline = true;
	s->deadline_ms = now_ms + drain_for_ms;
}

bool nm_maint_exit(struct nm_maint_state *s, uint64_t now_ms)
{
	if (s->kind != NM_MAINT_MAINTENANCE && s->kind != NM_MAINT_DRAIN_FAILED)
		return false;
	*s = make(NM_MAINT_EXITING, now_ms);
	return true;
}

bool nm_maint_apply(struct nm_maint_state *s, const struct nm_maint_state *next)
{
	if (!nm_maint_valid_successor(s->kind, next->kind))
		return false;
	*s = *next;
	s->reason[NM_MAINT_REASON_MAX] = '\0';
	return true;
}

static bool entering_move(const struct nm_maint_state *s, uint64_t now_ms,
			  const struct nm_maint_facts *f, struct nm_maint_state *next)
{
	if (f->all_stopped) {
		*next = make(NM_MAINT_MAINTENANCE, now_ms);
		return true;
	}
	if (!s->has_deadline || now_ms < s->deadline_ms)
		return false;
	*next = make(NM_MAINT_DRAIN_FAILED, now_ms);
	snprintf(next->reason, sizeof(next->reason), "drain deadline elapsed after %" PRIu64 "ms",
		 sat_sub(now_ms, s->since_ms));
	return true;
}

bool nm_maint_reconcile(const struct nm_maint_state *s, uint64_t now_ms,
			const struct nm_maint_facts *f, struct nm_maint_state *next)
{
	switch (s->kind) {
	case NM_MAINT_ENTERING:
		return entering_move(s, now_ms, f, next);
	case NM_MAINT_EXITING:
		if (!f->all_running_healthy)
			return false;
		*next = make(NM_MAINT_RECOVERY, now_ms);
		return true;
	case NM_MAINT_RECOVERY:
		if (sat_sub(now_ms, s->since_ms) < f->ramp_window_ms)
			return false;
		*next = make(NM_MAINT_ACTIVE, now_ms);
		return true;
	default:
		return false;
	}
}

uint32_t nm_maint_edge_control(enum nm_maint_kind prev, enum nm_maint_kind cur)
{
	if (prev == cur)
		return NM_CONTROL_NONE;
	if (cur == NM_MAINT_ENTERING)
		return NM_CONTROL_DRAIN_START;
	if (prev == NM_MAINT_ENTERING && (cur == NM_MAINT_MAINTENANCE || cur == NM_MAINT_DRAIN_FAILED))
		return NM_CONTROL_DRAIN_FINISH;
	return NM_CONTROL_NONE;
}

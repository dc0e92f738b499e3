/* SPDX-License-Identifier: MIT */
/*
 * nm_maint.h - the maintenance state machine of one node (upstream MeshOS
 * MaintenanceState): its six states, the successor table, the admin
 * enter/exit rules, the reconcile-driven moves, and which control event a
 * committed change sends to the daemons. Pure functions on plain data; times
 * are the MeshOS loop clock in ms (nm_mono_ms in the appliance).
 *
 *   Active -> Entering -> Maintenance -> Exiting -> Recovery -> Active
 *             Entering -> DrainFailed -> Exiting;   Maintenance -> DrainFailed
 *
 * Three writers move this node's state: admin EnterMaintenance (from any
 * state), admin ExitMaintenance (from Maintenance or DrainFailed only), and a
 * committed transition (only along the successor table; the same state again
 * is accepted and overwrites the fields).
 */
#ifndef NM_MAINT_H
#define NM_MAINT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nm_maint_kind {
	NM_MAINT_ACTIVE = 0,       /* normal participation */
	NM_MAINT_ENTERING = 1,     /* draining (daemons got DrainStart) until the deadline */
	NM_MAINT_MAINTENANCE = 2,  /* steady state, isolated */
	NM_MAINT_EXITING = 3,      /* daemons restart and must come back healthy */
	NM_MAINT_DRAIN_FAILED = 4, /* the drain missed its deadline: waits for the operator */
	NM_MAINT_RECOVERY = 5,     /* rejoined; ramps up until the ramp window elapses */
};

#define NM_MAINT_KINDS 6
#define NM_MAINT_REASON_MAX 95

struct nm_maint_state {
	enum nm_maint_kind kind;
	bool has_deadline;     /* ENTERING */
	uint64_t since_ms;     /* when the state was entered (not ACTIVE) */
	uint64_t deadline_ms;  /* ENTERING with has_deadline */
	char reason[NM_MAINT_REASON_MAX + 1]; /* DRAIN_FAILED */
};

/* What a daemon sees (upstream MaintenanceStateView): ages relative to `now`. */
struct nm_maint_view {
	enum nm_maint_kind kind;
	uint64_t since_ms;              /* ms in this state (0 for ACTIVE) */
	bool has_deadline;
	uint64_t deadline_remaining_ms; /* past deadlines are 0 */
	char reason[NM_MAINT_REASON_MAX + 1];
};

/* What reconcile needs to know about the node's daemons. */
struct nm_maint_facts {
	bool all_stopped;          /* no local daemon runs (true with none) */
	bool all_running_healthy;  /* every daemon runs, healthy or unreported (true with none) */
	uint64_t ramp_window_ms;   /* Recovery -> Active after this long */
};

/* The state every node starts in. */
static inline struct nm_maint_state nm_maint_active(void)
{
	struct nm_maint_state s = { .kind = NM_MAINT_ACTIVE };
	return s;
}

/* Upstream's is_valid_successor: same kind, or one of the eight forward arcs. */
bool nm_maint_valid_successor(enum nm_maint_kind from, enum nm_maint_kind to);

/* "active", "entering_maintenance", ... (upstream's metadata kinds); "unknown". */
const char *nm_maint_kind_name(enum nm_maint_kind k);
/* "Active", "EnteringMaintenance", ... (upstream's peer mirror names); "Unknown". */
const char *nm_maint_mirror_name(enum nm_maint_kind k);

/* The view at `now` (saturating: a deadline in the past is 0 ms away). */
void nm_maint_view_of(const struct nm_maint_state *s, uint64_t now_ms, struct nm_maint_view *v);

/*
 * Admin EnterMaintenance for this node, from any state: Entering since `now`
 * with a deadline drain_for_ms later. (Upstream stores no deadline when none
 * is given, so it never reaches DrainFailed; netmesh passes its default.)
 */
void nm_maint_enter(struct nm_maint_state *s, uint64_t now_ms, uint64_t drain_for_ms);

/* Admin ExitMaintenance: Exiting from Maintenance or DrainFailed; false (no change) otherwise. */
bool nm_maint_exit(struct nm_maint_state *s, uint64_t now_ms);

/* A committed or observed transition: taken when valid (true), else s is unchanged. */
bool nm_maint_apply(struct nm_maint_state *s, const struct nm_maint_state *next);

/*
 * Reconcile (never changes s): the move this state wants at `now`, if any.
 *   Entering:  every daemon stopped -> Maintenance; else at the deadline ->
 *              DrainFailed "drain deadline elapsed after <ms>ms" (success wins
 *              at the boundary)
 *   Exiting:   every daemon running and healthy -> Recovery
 *   Recovery:  ramp window elapsed -> Active
 *   Active, Maintenance, DrainFailed: none.
 */
bool nm_maint_reconcile(const struct nm_maint_state *s, uint64_t now_ms,
			const struct nm_maint_facts *f, struct nm_maint_state *next);

/*
 * The control event a change of kind sends to every daemon (upstream's
 * detector): DRAIN_START on entering Entering, DRAIN_FINISH on Entering ->
 * Maintenance or Entering -> DrainFailed, NM_CONTROL_NONE for every other
 * change and for no change.
 */
uint32_t nm_maint_edge_control(enum nm_maint_kind prev, enum nm_maint_kind cur);

#ifdef __cplusplus
}
#endif
#endif /* NM_MAINT_H */

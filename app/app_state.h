/* SPDX-License-Identifier: MIT */
/*
 * app_state.h - the appliance's state directory (--state-dir,
 * --snapshot-interval): daemons restored from their files at start, saved
 * periodically by the control loop and on a graceful stop. Without a state
 * directory every call is a plain spawn or a no-op.
 */
#ifndef APP_STATE_H
#define APP_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_identity.h"
#include "nm_runtime.h"

struct nm_dataplane;
struct nm_statedir;

struct app_state {
	struct nm_statedir *sd; /* NULL: no --state-dir */
	bool spawned;           /* every daemon started: a stop may save */
};

/* Open (create 0700) and lock DIR; dir "" = no state directory. Prints the error. */
int app_state_open(struct app_state *s, const char *dir, unsigned interval_s,
		   struct nm_runtime *rt);

/*
 * Spawn a --daemon: from its state file when there is one (*restored set),
 * fresh otherwise. A file that cannot be restored is set aside and the spawn
 * fails with the error naming it.
 */
int app_state_spawn(struct app_state *s, struct nm_runtime *rt, const char *kind,
		    const struct nm_identity *id, const struct nm_host_config *hc,
		    struct nm_daemon_handle *h, bool *restored, struct nm_error *err);

/* Mark the start complete: from now on a graceful stop saves. */
void app_state_started(struct app_state *s);

/* The periodic save (control loop); a failed save is printed and retried next interval. */
void app_state_tick(struct app_state *s, uint64_t now_ns);

/*
 * Graceful stop: stop the dataplane (no event moves a daemon after this),
 * then save every stateful daemon, before the runtime shuts down. Returns 0,
 * or the first save error (printed). Nothing happens without a state dir or
 * after a failed start.
 */
int app_state_stop(struct app_state *s, struct nm_dataplane *dp);

void app_state_close(struct app_state *s);

#endif /* APP_STATE_H */

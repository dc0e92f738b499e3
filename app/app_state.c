/* SPDX-License-Identifier: MIT */
/* app_state.c - the appliance's state directory glue (see header). */
#include "app_state.h"

#include <inttypes.h>
#include <stdio.h>

#include "nm_dataplane.h"
#include "nm_log.h"
#include "nm_statedir.h"

#define STATE_NS_PER_S 1000000000ull

int app_state_open(struct app_state *s, const char *dir, unsigned interval_s,
		   struct nm_runtime *rt)
{
	s->sd = NULL;
	s->spawned = false;
	if (dir == NULL || dir[0] == '\0')
		return 0;
	struct nm_statedir_config c = { .path = dir, .rt = rt,
					.interval_ns = (uint64_t)interval_s * STATE_NS_PER_S };
	struct nm_error err = { 0 };
	int rc = nm_statedir_open(&c, &s->sd, &err);
	if (rc < 0)
		nm_log(NM_LT_APP, NM_LV_ERR, "%s", err.msg);
	return rc;
}

int app_state_spawn(struct app_state *s, struct nm_runtime *rt, const char *kind,
		    const struct nm_identity *id, const struct nm_host_config *hc,
		    struct nm_daemon_handle *h, bool *restored, struct nm_error *err)
{
	*restored = false;
	if (s->sd == NULL)
		return nm_runtime_spawn(rt, kind, id, hc, h, err);
	return nm_statedir_spawn(s->sd, kind, id, hc, h, restored, err);
}

void app_state_started(struct app_state *s)
{
	s->spawned = true;
}

void app_state_tick(struct app_state *s, uint64_t now_ns)
{
	if (s->sd == NULL)
		return;
	struct nm_error err = { 0 };
	if (nm_statedir_tick(s->sd, now_ns, &err) < 0)
		nm_log(NM_LT_APP, NM_LV_ERR, "periodic save: %s", err.msg);
}

int app_state_stop(struct app_state *s, struct nm_dataplane *dp)
{
	if (s->sd == NULL || !s->spawned)
		return 0;
	if (dp != NULL)
		nm_dataplane_stop(dp);
	struct nm_error err = { 0 };
	int rc = nm_statedir_save_all(s->sd, &err);
	struct nm_statedir_stats st;
	nm_statedir_stats(s->sd, &st);
	if (rc < 0)
		nm_log(NM_LT_APP, NM_LV_ERR, "saving state: %s", err.msg);
	else
		printf("netmesh: state saved (%" PRIu64 " file(s) written since start)\n", st.writes);
	return rc;
}

void app_state_close(struct app_state *s)
{
	nm_statedir_close(s->sd);
	s->sd = NULL;
}

/* SPDX-License-Identifier: MIT */
/* nm_session.c - session objects (see header). */
#include "nm_session.h"

#include <rte_malloc.h>

struct nm_session *nm_session_create(const struct nm_session_params *p)
{
	if (p == NULL)
		return NULL;
	struct nm_session *s = rte_zmalloc("nm_session", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		return NULL;
	s->session_id = p->session_id;
	s->peer = p->peer;
	s->replay_window = !p->bench_no_replay_window;
	nm_aead_init(&s->tx, p->tx_key, p->session_id);
	nm_aead_init(&s->rx, p->rx_key, p->session_id);
	atomic_init(&s->tx_counter, 0);
	atomic_init(&s->rx_owner, NM_SESSION_NO_OWNER);
	atomic_init(&s->last_rx_ns, 0);
	nm_replay_init(&s->replay);
	return s;
}

void nm_session_free(struct nm_session *s)
{
	if (s == NULL)
		return;
	nm_aead_wipe(&s->tx);
	nm_aead_wipe(&s->rx);
	rte_free(s);
}

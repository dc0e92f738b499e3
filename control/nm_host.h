/* SPDX-License-Identifier: MIT */
/*
 * nm_host.h - a daemon in its host: identity, causal chain, horizon, stats.
 *
 * The host turns a daemon's raw output payloads into chained causal events:
 * every output gets the daemon's origin, the next sequence, the parent hash
 * of the previous output and the current horizon bloom. Snapshots are taken
 * and restored here, with upstream's rules:
 *   - restore checks the full 32-byte entity_id, then calls the daemon's
 *     restore, then resumes the chain from the snapshot's head link;
 *   - the chain-head extension (nm_snapshot.h): a snapshot taken here records
 *     the chain's real next parent hash, and a restore from a snapshot that
 *     has one continues the chain with it, whatever the daemon's state is;
 *   - upstream quirk, kept for bit-exact chains when the extension is absent
 *     (a snapshot decoded from CDS1): the snapshot does not carry the head's
 *     payload, so the next parent hash is computed over the snapshot *state*
 *     instead (equal to the last output only for daemons whose state is
 *     their last output, like the counter);
 *   - stats restart at zero after a restore.
 *
 * A host is not thread-safe: its owner (the registry under a per-host lock, or
 * the worker lcore it is pinned on) serialises calls.
 */
#ifndef NM_HOST_H
#define NM_HOST_H

#include <stdatomic.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_chain.h"
#include "nm_daemon.h"
#include "nm_error.h"
#include "nm_horizon.h"
#include "nm_identity.h"
#include "nm_snapshot.h"

struct nm_host {
	struct nm_daemon *daemon;
	struct nm_chain chain;
	struct nm_horizon horizon;
	struct nm_daemon_stats stats;
	struct nm_identity id;
	struct nm_host_config config; /* config.lcore: the owner (NM_LCORE_CONTROL or a worker) */
	atomic_flag busy; /* per-host lock for control-owned hosts */
};

/*
 * New host for a fresh daemon (chain at genesis). Takes ownership of `d` in
 * every case: on failure the daemon is destroyed. -EINVAL for a daemon with
 * missing ops (name, process, destroy) or a name longer than NM_NAME_MAX.
 */
int nm_host_create(struct nm_daemon *d, const struct nm_identity *id,
		   const struct nm_host_config *cfg, struct nm_host **out, struct nm_error *err);

/*
 * New host from a snapshot, upstream's from_snapshot order: entity check
 * (NM_ERESTORE_FAILED), daemon restore (its error), chain from head (with the
 * snapshot's next_parent when it has one, else upstream's state fallback),
 * bindings check (NM_ERESTORE_FAILED), horizon, zero stats. Takes ownership
 * of `d`.
 */
int nm_host_from_snapshot(struct nm_daemon *d, const struct nm_identity *id,
			  const struct nm_snapshot *snap, const struct nm_host_config *cfg,
			  struct nm_host **out, struct nm_error *err);

/* Destroy the daemon and wipe the identity. NULL is accepted. */
void nm_host_destroy(struct nm_host *h);

/* nm_host_deliver's out-of-line ends: a failed call (its outputs go, `errors`
 * counts it); a sequence overflow after `appended` outputs; unframed outputs
 * appended to the chain (links and received_at into their event slots). */
int nm_host_deliver_failed(struct nm_host *h, struct nm_outputs *out, uint32_t n0,
			   uint32_t used0, int rc, struct nm_error *err);
int nm_host_seq_overflow(struct nm_host *h, struct nm_outputs *out, uint32_t n0, uint32_t used0,
			 uint32_t appended, struct nm_error *err);
int nm_host_append_copied(struct nm_host *h, struct nm_outputs *out, uint32_t n0, uint32_t used0,
			  uint64_t now_ns, struct nm_error *err);

/*
 * The hot path. Observes the event's origin, runs process(), and appends this
 * call's outputs (already in `out`, after any earlier ones) to the chain. On
 * error nothing of this call stays in `out` and the chain does not move.
 * Unframed outputs get their link and received_at = now_ns in their event
 * slots; framed ones (the dataplane's) get the link in their frame only, and
 * their slots keep just payload and len: the worker reads nothing else.
 * Inline: the worker runs it once per event.
 */
static inline int nm_host_deliver(struct nm_host *h, const struct nm_event *ev,
				  struct nm_outputs *out, uint64_t now_ns, struct nm_error *err)
{
	const uint32_t n0 = out->n, used0 = out->used;

	nm_horizon_observe(&h->horizon, ev->link.origin_hash);
	if (err != NULL)
		err->code = 0;
	int rc = h->daemon->ops->process(h->daemon, ev, out, err);
	/* An output refused by max_len sets overflow too (nm_daemon.h): one test for both. */
	if (rc < 0 || out->overflow)
		return nm_host_deliver_failed(h, out, n0, used0, rc, err);
	h->stats.events_processed++;
	if (!out->framed)
		return nm_host_append_copied(h, out, n0, used0, now_ns, err);
	/* One horizon value for every output of this call (upstream computes it once). */
	const uint64_t horizon = h->horizon.encoded;
	for (uint32_t i = n0; i < out->n; i++) {
		const struct nm_event *e = &out->ev[i];
		uint8_t *frame = (uint8_t *)(uintptr_t)e->payload - NM_CAUSAL_FRAME_ROOM;
		if (nm_chain_frame(&h->chain, frame, e->len, horizon) < 0)
			return nm_host_seq_overflow(h, out, n0, used0, i - n0, err);
	}
	h->stats.events_emitted += out->n - n0;
	return 0;
}

/*
 * *out = NULL for a stateless daemon; otherwise a new snapshot (caller frees)
 * with the horizon and the chain-head extension (next_parent) set.
 */
int nm_host_snapshot(struct nm_host *h, struct nm_snapshot **out, struct nm_error *err);

static inline uint64_t nm_host_origin(const struct nm_host *h)
{
	return h->id.origin_hash;
}

static inline bool nm_host_is_pinned(const struct nm_host *h)
{
	return h->config.lcore != NM_LCORE_CONTROL;
}

static inline const char *nm_host_name(const struct nm_host *h)
{
	return h->daemon->ops->name;
}

/* Busy-wait lock for shared hosts; process() is short by contract. */
static inline void nm_host_lock(struct nm_host *h)
{
	while (atomic_flag_test_and_set_explicit(&h->busy, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
	}
}

static inline void nm_host_unlock(struct nm_host *h)
{
	atomic_flag_clear_explicit(&h->busy, memory_order_release);
}

/* Validate upstream's DaemonBindings byte form (compute.md §5.4). */
bool nm_bindings_valid(const uint8_t *b, size_t len);

#endif /* NM_HOST_H */

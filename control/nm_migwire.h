/* SPDX-License-Identifier: MIT */
/*
 * nm_migwire.h - the migration subprotocol 0x0500: codec, chunking, reassembler.
 *
 * Byte-identical to upstream Net (compute/orchestrator.rs `wire`): byte 0 is
 * the message type, every field is little-endian, no padding. The layouts,
 * failure codes and extensions are in docs/migration.md ("Wire format").
 *
 * Upstream's decoder ignores bytes after a valid message, so netmesh appends
 * an optional extension trailer there ("NMX1" + TLVs) that an upstream node
 * never sees as an error. Message types 0x80.. are netmesh-only: an upstream
 * node rejects an unknown type without replying, so they are safe to send to
 * it (they simply get no answer).
 *
 * Errors: every failure returns a negative code and, when `err` is given,
 * fills err->msg with upstream's MigrationError Display text, e.g.
 * "state operation failed: truncated TakeSnapshot". Decode and encode errors
 * are all NM_EMIG_STATE_FAILED, as upstream's are all StateFailed.
 *
 * Nothing here allocates except the reassembler (control thread only), and
 * nothing reads a clock: time comes in as `now_ns` (any monotonic base).
 */
#ifndef NM_MIGWIRE_H
#define NM_MIGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_causal.h"
#include "nm_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NM_SUBPROTOCOL_MIGRATION 0x0500

/* ------------------------------------------------------------ constants */

#define NM_MIG_MAX_CHUNK 7000u          /* MAX_SNAPSHOT_CHUNK_SIZE */
#define NM_MIG_MAX_TOTAL_CHUNKS 700000u /* MAX_TOTAL_CHUNKS */
#define NM_MIG_MAX_SNAPSHOT_SIZE ((uint64_t)UINT32_MAX * NM_MIG_MAX_CHUNK)
#define NM_MIG_MAX_PENDING_BYTES (64u * 1024u * 1024u) /* per reassembly entry */
#define NM_MIG_MAX_PENDING_AGE_NS (300ull * 1000000000ull)
#define NM_MIG_MAX_BUFFERED_EVENTS 1000000u /* BufferedEvents hard cap on count */
#define NM_MIG_MAX_EVENT_PAYLOAD 7000u      /* per buffered event */
#define NM_MIG_EVENT_MIN_WIRE 44u           /* link 32 + payload_len 4 + received_at 8 */

/* Upstream body sizes including the type byte (SnapshotReady: + len). */
#define NM_MIG_SNAPSHOT_READY_HDR 29u
#define NM_MIG_BUFFERED_EVENTS_HDR 13u
#define NM_MIG_FAILED_HDR 11u /* type, origin, code; then the reason payload */

/* ------------------------------------------------------------ message types */

enum nm_mig_type {
	/* Upstream (wire::MSG_*). */
	NM_MIG_TAKE_SNAPSHOT = 0,    /* orchestrator -> source */
	NM_MIG_SNAPSHOT_READY = 1,   /* source -> orchestrator -> target (chunked) */
	NM_MIG_RESTORE_COMPLETE = 2, /* target -> orchestrator */
	NM_MIG_REPLAY_COMPLETE = 3,  /* target -> orchestrator */
	NM_MIG_CUTOVER_NOTIFY = 4,   /* orchestrator -> source */
	NM_MIG_CLEANUP_COMPLETE = 5, /* source -> orchestrator */
	NM_MIG_FAILED = 6,           /* any -> any */
	NM_MIG_BUFFERED_EVENTS = 7,  /* orchestrator or source -> target */
	NM_MIG_ACTIVATE_TARGET = 8,  /* orchestrator -> target */
	NM_MIG_ACTIVATE_ACK = 9,     /* target -> orchestrator */
	/* netmesh-only (0x80..0xff); an upstream node drops them unanswered. */
	NM_MIG_MOVED = 0x80,  /* redirect: "daemon_origin now lives on new_node" */
	NM_MIG_QUERY = 0x81,  /* status probe for daemon_origin */
	NM_MIG_STATUS = 0x82, /* reply to NM_MIG_QUERY */
	NM_MIG_PREPARE = 0x83,  /* source -> target: a snapshot follows, wake up */
	NM_MIG_PREPARED = 0x84, /* target -> source: awake, take the snapshot now */
};

#define NM_MIG_EXT_TYPE_MIN 0x80 /* first netmesh-only type */

/*
 * netmesh-only layouts (after the type byte, LE):
 *   Moved  (17): daemon_origin u64, new_node u64
 *   Query  (17): daemon_origin u64, nonce u64
 *   Status (35): daemon_origin u64, nonce u64, role u8, phase u8, seq u64, node u64
 *   Prepare  (17): daemon_origin u64, target_node u64
 *   Prepared (17): daemon_origin u64, mid u64 (the Prepare's migration id TLV, 0 none)
 */
#define NM_MIG_MOVED_SIZE 17u
#define NM_MIG_QUERY_SIZE 17u
#define NM_MIG_STATUS_SIZE 35u
#define NM_MIG_PREPARE_SIZE 17u
#define NM_MIG_PREPARED_SIZE 17u

/* Upstream MigrationPhase (Debug names from nm_mig_phase_name). */
enum nm_mig_phase {
	NM_MIG_PHASE_SNAPSHOT = 0,
	NM_MIG_PHASE_TRANSFER = 1,
	NM_MIG_PHASE_RESTORE = 2,
	NM_MIG_PHASE_REPLAY = 3,
	NM_MIG_PHASE_CUTOVER = 4,
	NM_MIG_PHASE_COMPLETE = 5,
	NM_MIG_PHASE_NONE = 0xff, /* netmesh: no migration record (NM_MIG_STATUS) */
};

/* "TakeSnapshot", ..., "ActivateAck", "Moved", "MigrationQuery", "MigrationStatus",
 * "MigrationPrepare", "MigrationPrepared"; NULL if unknown. */
const char *nm_mig_type_name(uint8_t type);
/* "Snapshot" .. "Complete", "None"; "?" for any other value. */
const char *nm_mig_phase_name(enum nm_mig_phase p);

/* ------------------------------------------------------------ failure reasons */

/* MigrationFailureReason wire codes (u16). Unknown codes fail to decode. */
enum nm_mig_fail_code {
	NM_MIG_FAIL_NOT_READY = 0, /* retriable */
	NM_MIG_FAIL_FACTORY_NOT_FOUND = 1,
	NM_MIG_FAIL_COMPUTE_NOT_SUPPORTED = 2,
	NM_MIG_FAIL_STATE_FAILED = 3, /* + u16 len + UTF-8 msg */
	NM_MIG_FAIL_ALREADY_MIGRATING = 4,
	NM_MIG_FAIL_IDENTITY_TRANSPORT_FAILED = 5, /* + u16 len + UTF-8 msg */
	NM_MIG_FAIL_NOT_READY_TIMEOUT = 6,         /* + u8 attempts */
};

struct nm_mig_reason {
	uint16_t code;    /* enum nm_mig_fail_code */
	const char *msg;  /* codes 3 and 5: not NUL-terminated; decode points into the input */
	size_t msg_len;   /* encode fails above UINT16_MAX */
	uint8_t attempts; /* code 6 */
};

/* Only NotReady is retriable (upstream is_retriable). */
bool nm_mig_reason_is_retriable(const struct nm_mig_reason *r);
/* "NotReady", "FactoryNotFound", ...; NULL for an unknown code. */
const char *nm_mig_reason_name(uint16_t code);
/* Upstream Display ("target runtime not ready yet", "state failed: {msg}", ...)
 * into buf (always NUL-terminated when cap > 0); returns the full length like
 * snprintf. Unknown code: "unknown failure code N". */
int nm_mig_reason_display(const struct nm_mig_reason *r, char *buf, size_t cap);

/* ------------------------------------------------------------ extension trailer */

/*
 * Trailer = "NMX1" then TLVs to the end of the message: type u8, length u16
 * LE, value[length]. It is all or nothing: bad magic, a TLV running past the
 * end, a known type with the wrong length, a known type twice, or a SENDERS
 * count that disagrees with the BufferedEvents count make the whole trailer
 * "malformed" (ext->malformed set, no TLV used) and never fail the upstream
 * body. Unknown TLV types are skipped and counted. Open enum: add types here
 * (0x40.. for engine-private ones) and document them in docs/migration.md.
 */
#define NM_MIG_TRAILER_MAGIC "NMX1"
#define NM_MIG_TRAILER_MAGIC_LEN 4
#define NM_MIG_TLV_HDR 3

enum nm_mig_tlv_type {
	NM_MIG_TLV_MSEQ = 1,          /* u64: migration seq of the first event in this message */
	NM_MIG_TLV_SENDERS = 2,       /* n x u64: sender node id of each event, in event order */
	NM_MIG_TLV_FINAL_THROUGH = 3, /* u64: the source sends no event after this mseq */
	NM_MIG_TLV_EVENTS_ACK = 4,    /* u64: receiver holds every event through this mseq */
	NM_MIG_TLV_NEXT_PARENT = 5,   /* u64: the chain's next parent hash (nm_chain.next_parent) */
	NM_MIG_TLV_FLAGS = 6,         /* u32: NM_MIG_XF_* bits; unknown bits kept */
	NM_MIG_TLV_KIND = 7,          /* 1..NM_KIND_MAX bytes: daemon kind (factory name) */
};

#define NM_MIG_XF_STATELESS 0x1u /* the daemon has no snapshot state */

/*
 * Engine-private TLV (raw, in ext->extra; not in `present`): the chunks of a
 * SnapshotReady transfer the target holds, carried by an unsolicited
 * NM_MIG_STATUS (role TARGET, phase Transfer, nonce = ack serial, seq =
 * contig). Value: contig u32 LE (chunks 0..contig-1 held), then 0..128 bitmap
 * bytes: bit j of byte k is chunk contig + 1 + 8k + j. docs/migration.md
 * "Chunk acknowledgements".
 */
#define NM_MIG_TLV_CHUNK_ACK 0x41
#define NM_MIG_CHUNK_ACK_MAX_BITMAP 128u

/* One raw TLV; `val` points into the message. */
struct nm_mig_tlv {
	uint8_t type;
	uint16_t len;
	const uint8_t *val;
};

/* Typed view of a trailer. `present` has bit (1u << type) for each known TLV. */
struct nm_mig_ext {
	uint32_t present;
	uint64_t mseq;
	uint64_t final_through;
	uint64_t events_ack;
	uint64_t next_parent;
	uint32_t flags;
	const uint8_t *senders; /* nsenders x u64 LE (read with nm_mig_ext_sender) */
	uint32_t nsenders;
	const char *kind; /* not NUL-terminated */
	uint16_t kind_len;
	/* Encode only: extra raw TLVs appended after the known ones (any type). */
	const struct nm_mig_tlv *extra;
	size_t nextra;
	/* Decode only. */
	bool malformed;         /* a trailer was there but was rejected as a whole */
	uint32_t unknown;       /* unknown TLV types skipped */
	const uint8_t *trailer; /* the whole trailer (magic included), for raw iteration */
	size_t trailer_len;
};

#define NM_MIG_EXT_HAS(e, t) (((e)->present >> (t)) & 1u)
static inline void nm_mig_ext_set(struct nm_mig_ext *e, enum nm_mig_tlv_type t)
{
	e->present |= 1u << t;
}

/* The i-th sender node id (i < nsenders). */
uint64_t nm_mig_ext_sender(const struct nm_mig_ext *e, uint32_t i);

/* Encoded trailer size (0 when nothing is present and no extra TLVs), or
 * SIZE_MAX when a value cannot be encoded (kind longer than NM_KIND_MAX or
 * empty, SENDERS or an extra TLV over 65535 bytes). */
size_t nm_mig_ext_size(const struct nm_mig_ext *e);

/* Raw iteration over a trailer already accepted by nm_mig_decode
 * (ext->trailer, ext->trailer_len): every TLV, known or not, in order. */
struct nm_mig_tlv_iter {
	const uint8_t *p, *end;
};
void nm_mig_tlv_iter_init(struct nm_mig_tlv_iter *it, const struct nm_mig_ext *e);
bool nm_mig_tlv_next(struct nm_mig_tlv_iter *it, struct nm_mig_tlv *t);

/* ------------------------------------------------------------ messages */

struct nm_mig_snapshot_ready {
	uint64_t seq_through;
	uint32_t chunk_index;
	uint32_t total_chunks;
	const uint8_t *bytes; /* decode: points into the input */
	size_t len;           /* encode fails above UINT32_MAX */
};

/*
 * BufferedEvents. Encode reads `events[0..count)` (payloads borrowed). Decode
 * validates every event and sets `body`/`body_len` to the event region; read
 * the events with nm_mig_events_iter_* (no copy, payloads point into input).
 */
struct nm_mig_buffered {
	const struct nm_event *events; /* encode */
	size_t count;                  /* encode fails above UINT32_MAX */
	const uint8_t *body;           /* decode */
	size_t body_len;               /* decode */
};

/* netmesh NM_MIG_STATUS: what the replying node knows about daemon_origin. */
enum nm_mig_role {
	NM_MIG_ROLE_NONE = 0,         /* nothing known */
	NM_MIG_ROLE_ORCHESTRATOR = 1, /* a migration record, this node orchestrates */
	NM_MIG_ROLE_SOURCE = 2,       /* migrating away from this node */
	NM_MIG_ROLE_TARGET = 3,       /* migrating to this node */
	NM_MIG_ROLE_HOST = 4,         /* runs here, not migrating */
	NM_MIG_ROLE_MOVED = 5,        /* left this node for `node` */
};

struct nm_mig_status {
	uint64_t nonce; /* copied from the query */
	uint8_t role;   /* enum nm_mig_role; decode keeps unknown values */
	uint8_t phase;  /* enum nm_mig_phase; NM_MIG_PHASE_NONE without a record */
	uint64_t seq;   /* role-specific progress (e.g. replayed_seq, seq_through) */
	uint64_t node;  /* the peer of the migration, or the new home when MOVED; 0 unknown */
};

struct nm_mig_msg {
	uint8_t type; /* enum nm_mig_type */
	uint64_t daemon_origin;
	union {
		struct {
			uint64_t target_node;
		} take_snapshot;
		struct nm_mig_snapshot_ready snapshot_ready;
		struct {
			uint64_t restored_seq;
		} restore_complete;
		struct {
			uint64_t replayed_seq;
			struct nm_causal_link target_head;
		} replay_complete;
		struct {
			uint64_t target_node;
		} cutover_notify;
		/* CleanupComplete, ActivateTarget: no fields. */
		struct nm_mig_reason failed;
		struct nm_mig_buffered buffered;
		struct {
			uint64_t replayed_seq;
		} activate_ack;
		struct {
			uint64_t new_node;
		} moved; /* netmesh */
		struct {
			uint64_t nonce;
		} query;                     /* netmesh */
		struct nm_mig_status status; /* netmesh */
		struct {
			uint64_t target_node;
		} prepare; /* netmesh */
		struct {
			uint64_t mid;
		} prepared; /* netmesh */
	};
	/* Encode: trailer to append (NULL or nothing present: none). Decode: set
	 * to the caller's ext when a well-formed trailer was found, else NULL. */
	const struct nm_mig_ext *ext;
	size_t body_len; /* decode: bytes of the message body (type byte included) */
};

/*
 * Exact encoded size (body + trailer), or 0 when the message cannot be
 * encoded (unknown type, a length over its wire width, an unencodable
 * trailer). Every encodable message is at least 9 bytes.
 */
size_t nm_mig_encoded_size(const struct nm_mig_msg *m);

/*
 * Encode into buf[0..cap). 0 and *len set, or:
 *   NM_EMIG_STATE_FAILED with upstream's encode errors:
 *     "snapshot_bytes length N exceeds u32::MAX", "events length N exceeds
 *     u32::MAX", "event payload length N exceeds u32::MAX",
 *     "failure reason message length N exceeds u16::MAX";
 *   -EINVAL  unknown type, NULL pointer with a non-zero length, bad trailer;
 *   -ENOSPC  cap < nm_mig_encoded_size(m) (nothing useful written).
 * Like upstream, fields the decoder would refuse (total_chunks 0, chunks
 * over 7000 bytes, unknown failure codes) are encoded as given.
 */
int nm_mig_encode(const struct nm_mig_msg *m, uint8_t *buf, size_t cap, size_t *len,
		  struct nm_error *err);

/*
 * Decode a flat buffer. 0 on success: `m` filled, pointers into `buf`,
 * m->body_len the upstream body; bytes after it are parsed as a trailer into
 * `ext` when given (see above; a bad trailer never fails the decode).
 * NM_EMIG_STATE_FAILED otherwise, err->msg = "state operation failed: "
 * followed by upstream's exact text: "empty message", "truncated
 * TakeSnapshot" (and each message name), "truncated MigrationFailed header",
 * "unknown message type: N", the SnapshotReady bounds, "truncated snapshot
 * payload", the BufferedEvents "exceeds bound" / per-event cap / truncation
 * errors, and the failure-reason errors. netmesh-only types decode the same
 * way ("truncated Moved", "truncated MigrationQuery", "truncated
 * MigrationStatus", "truncated MigrationPrepare", "truncated MigrationPrepared").
 */
int nm_mig_decode(const uint8_t *buf, size_t len, struct nm_mig_msg *m, struct nm_mig_ext *ext,
		  struct nm_error *err);

/* Iterate a decoded BufferedEvents: exactly `count` events, each payload
 * pointing into the input. nm_mig_events_iter_next returns false at the end. */
struct nm_mig_events_iter {
	const uint8_t *p, *end;
	uint32_t left;
};
void nm_mig_events_iter_init(struct nm_mig_events_iter *it, const struct nm_mig_msg *m);
bool nm_mig_events_iter_next(struct nm_mig_events_iter *it, struct nm_event *ev);
/* Event count of a decoded BufferedEvents (the wire count). */
uint32_t nm_mig_events_count(const struct nm_mig_msg *m);

/*
 * Build a BufferedEvents in place, as many events as fit (for a packet
 * budget). begin: -ENOSPC if cap < 13. add: 0, or -ENOSPC when the event
 * does not fit (builder unchanged), -EINVAL for a NULL payload with len > 0.
 * finish writes the count and returns the body length; a trailer may follow.
 */
struct nm_mig_events_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint32_t count;
};
int nm_mig_events_begin(struct nm_mig_events_builder *b, uint8_t *buf, size_t cap,
			uint64_t daemon_origin);
int nm_mig_events_add(struct nm_mig_events_builder *b, const struct nm_event *ev);
size_t nm_mig_events_finish(struct nm_mig_events_builder *b);

/* Append the trailer for `e` at buf (after a body). 0 and *len (0 when there
 * is nothing to send), -EINVAL unencodable, -ENOSPC too small. */
int nm_mig_ext_encode(const struct nm_mig_ext *e, uint8_t *buf, size_t cap, size_t *len);

/* ------------------------------------------------------------ chunking */

/*
 * Number of SnapshotReady chunks for a snapshot of `len` bytes: 1 for
 * 0..7000, else ceil(len / 7000). NM_EMIG_SNAPSHOT_TOO_LARGE ("snapshot too
 * large: N bytes exceeds max M bytes") when that exceeds UINT32_MAX.
 */
int nm_mig_chunk_count(size_t len, uint32_t *count, struct nm_error *err);

/* Chunk i of the snapshot as a SnapshotReady message whose bytes point into
 * `snapshot`. -EINVAL for i out of range or a bad length (as above). */
int nm_mig_chunk(uint64_t daemon_origin, const uint8_t *snapshot, size_t len, uint64_t seq_through,
		 uint32_t i, struct nm_mig_msg *out);

/*
 * Orchestrator-side check of chunk 0 (validate_chunk_header): any other
 * index passes. NM_EMIG_STATE_FAILED with upstream's text when chunk 0 is
 * shorter than 37 bytes, lacks "CDS1", has a version other than 2, or carries
 * an entity id whose origin_hash is not `daemon_origin`.
 */
int nm_mig_validate_chunk_header(uint32_t chunk_index, const uint8_t *bytes, size_t len,
				 uint64_t daemon_origin, struct nm_error *err);

/* ------------------------------------------------------------ reassembler */

/* Upstream ReassemblyError, plus netmesh's resource limits. */
enum nm_mig_reasm_err {
	NM_MIG_REASM_OK = 0,
	NM_MIG_REASM_ZERO_TOTAL_CHUNKS,        /* "total_chunks == 0" */
	NM_MIG_REASM_CHUNK_INDEX_OUT_OF_RANGE, /* a = chunk_index, b = total_chunks */
	NM_MIG_REASM_TOTAL_CHUNKS_TOO_LARGE,   /* a = total_chunks */
	NM_MIG_REASM_CHUNK_TOO_LARGE,          /* a = len (0 for an empty chunk) */
	NM_MIG_REASM_TOTAL_CHUNKS_MISMATCH,    /* a = got, b = expected */
	NM_MIG_REASM_STALE_SEQ_THROUGH,        /* a = got, b = latest */
	NM_MIG_REASM_TOO_MANY_PENDING_BYTES,   /* a = buffered, b = incoming, c = cap */
	/* netmesh only: bounded tables. */
	NM_MIG_REASM_TOO_MANY_ORIGINS, /* a = max_origins */
	NM_MIG_REASM_NO_MEMORY,
};

struct nm_mig_reasm_error {
	enum nm_mig_reasm_err kind;
	uint64_t a, b, c;
};

/* Upstream Display ("chunk length 0 exceeds MAX_SNAPSHOT_CHUNK_SIZE (7000)")
 * and Debug ("ChunkTooLarge { len: 0 }", what the upstream dispatcher puts in
 * "snapshot reassembly failed: {:?}"); snprintf-style return. */
int nm_mig_reasm_err_display(const struct nm_mig_reasm_error *e, char *buf, size_t cap);
int nm_mig_reasm_err_debug(const struct nm_mig_reasm_error *e, char *buf, size_t cap);

/* A completed snapshot. Single-chunk: `bytes` aliases the fed chunk (valid
 * as long as the caller's buffer is) and `owned` is NULL. Multi-chunk: a
 * malloc'd concatenation in `owned`. Always release with nm_mig_assembled_free. */
struct nm_mig_assembled {
	const uint8_t *bytes;
	size_t len;
	void *owned;
};
void nm_mig_assembled_free(struct nm_mig_assembled *a);

struct nm_mig_reasm;

/*
 * max_origins bounds the daemons tracked at once (latest_seq entries, each
 * with at most one pending reassembly of at most 64 MiB); 0 -> 64.
 * max_age_ns is the age of the opportunistic sweep in feed; 0 -> 300 s.
 * NULL on allocation failure.
 */
struct nm_mig_reasm *nm_mig_reasm_create(uint32_t max_origins, uint64_t max_age_ns);
void nm_mig_reasm_free(struct nm_mig_reasm *r);

#define NM_MIG_FEED_PENDING 0
#define NM_MIG_FEED_COMPLETE 1

/*
 * Feed one chunk (upstream SnapshotReassembler::feed, checks in its order):
 *  1. total 0, total > 700000, index >= total;
 *  2. sweep entries without progress for max_age (this runs even if a later
 *     check rejects the chunk, as upstream);
 *  3. empty chunk or chunk > 7000 bytes (ChunkTooLarge);
 *  4. seq_through < latest_seq[origin] (StaleSeqThrough);
 *  5. a newer seq_through evicts the origin's pending entry, becomes latest;
 *  6. total == 1: TotalChunksMismatch against a pending entry, else complete
 *     at once (bytes alias the input, any pending entry of that key dropped);
 *  7. total > 1: the first chunk fixes total (later mismatch rejected), a
 *     duplicate index overwrites (bytes accounting subtracts the old length),
 *     more than 64 MiB buffered is refused, all indexes present completes.
 * Returns NM_MIG_FEED_PENDING, NM_MIG_FEED_COMPLETE (`out` filled), or
 * NM_EMIG_REASSEMBLY with `why` (optional) and err->msg the Display text.
 * A rejected chunk changes nothing (besides step 2); the chunk bytes are
 * copied, so the caller's buffer may be reused after a PENDING return.
 */
int nm_mig_reasm_feed(struct nm_mig_reasm *r, uint64_t daemon_origin, const uint8_t *bytes,
		      size_t len, uint64_t seq_through, uint32_t chunk_index, uint32_t total_chunks,
		      uint64_t now_ns, struct nm_mig_assembled *out, struct nm_mig_reasm_error *why,
		      struct nm_error *err);
/* The same for a decoded SnapshotReady message (-EINVAL for another type). */
int nm_mig_reasm_feed_msg(struct nm_mig_reasm *r, const struct nm_mig_msg *m, uint64_t now_ns,
			  struct nm_mig_assembled *out, struct nm_mig_reasm_error *why,
			  struct nm_error *err);

/* Drop the origin's pending reassembly; latest_seq is kept (idempotent). */
void nm_mig_reasm_cancel(struct nm_mig_reasm *r, uint64_t daemon_origin);
/* Drop pending entries with now - last_progress >= max_age; latest_seq kept.
 * Returns how many were dropped. */
size_t nm_mig_reasm_sweep(struct nm_mig_reasm *r, uint64_t now_ns, uint64_t max_age_ns);
/* Forget the origin entirely (pending and latest_seq): upstream drops the
 * whole per-daemon reassembler on completion or failure. */
void nm_mig_reasm_forget(struct nm_mig_reasm *r, uint64_t daemon_origin);

size_t nm_mig_reasm_pending_count(const struct nm_mig_reasm *r);
/* Bytes buffered in pending entries: one origin's, or all with the _total form. */
size_t nm_mig_reasm_pending_bytes(const struct nm_mig_reasm *r, uint64_t daemon_origin);
size_t nm_mig_reasm_pending_bytes_total(const struct nm_mig_reasm *r);
/* latest accepted seq_through for the origin; false when none. */
bool nm_mig_reasm_latest_seq(const struct nm_mig_reasm *r, uint64_t daemon_origin, uint64_t *seq);

/* ------------------------------------------------------------ MigrationError */

/*
 * Upstream MigrationError variants with their exact Display in err->msg; each
 * returns its code (so `return nm_mig_err_...(err, ...)`), err may be NULL,
 * err->origin is set to the daemon (or node) the variant carries.
 *   NM_EMIG_DAEMON_NOT_FOUND      "daemon 0x.. not found"
 *   NM_EMIG_TARGET_UNAVAILABLE    "target node 0x.. unavailable"
 *   NM_EMIG_NO_TARGET             "no candidate node satisfies the daemon's capability
 * requirements" NM_EMIG_STATE_FAILED          "state operation failed: {msg}"
 *   NM_EMIG_ALREADY_MIGRATING     "daemon 0x.. already migrating"
 *   NM_EMIG_WRONG_PHASE           "wrong migration phase: expected Snapshot, got Transfer"
 *   NM_EMIG_SNAPSHOT_TOO_LARGE    "snapshot too large: N bytes exceeds max M bytes"
 *   NM_EMIG_BUFFER_FULL           "migration buffer full: N events / M bytes"
 *   NM_EMIG_WRONG_PEER            "migration 0x..: peer 0x.. not the recorded principal 0x.."
 * ({:#x} is lower-case hex with 0x, "0x0" for zero.)
 */
int nm_mig_err_daemon_not_found(struct nm_error *err, uint64_t origin);
int nm_mig_err_target_unavailable(struct nm_error *err, uint64_t node);
int nm_mig_err_no_target(struct nm_error *err);
int nm_mig_err_state_failed(struct nm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int nm_mig_err_already_migrating(struct nm_error *err, uint64_t origin);
int nm_mig_err_wrong_phase(struct nm_error *err, enum nm_mig_phase expected, enum nm_mig_phase got);
int nm_mig_err_snapshot_too_large(struct nm_error *err, uint64_t size, uint64_t max);
int nm_mig_err_buffer_full(struct nm_error *err, uint64_t events, uint64_t bytes);
int nm_mig_err_wrong_peer(struct nm_error *err, uint64_t daemon_origin, uint64_t from,
			  uint64_t expected);

#ifdef __cplusplus
}
#endif
#endif /* NM_MIGWIRE_H */

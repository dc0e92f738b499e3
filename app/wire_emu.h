/* SPDX-License-Identifier: MIT */
/*
 * wire_emu.h - netmesh-wire's logic without EAL: an L2 learning switch over N
 * ports with faults per port and direction (loss, duplication, reordering,
 * fixed delay, link down), its counters and its command language. Frames are
 * opaque handles (an mbuf in netmesh-wire, a test's buffer in the tests);
 * only their Ethernet addresses are read. Nothing here allocates or sleeps:
 * the caller supplies the time, copies frames when asked to, and sends or
 * frees what comes out.
 *
 * A frame arriving on port p goes through p's IN line, then the switch (learn
 * the source MAC, forward to the destination's port or flood), then the pair
 * (p, q) of each port q it goes to, then q's OUT line. Each line applies its
 * faults in order: link down, loss, duplication (never of a lost frame), then
 * holds the frame for its delay, or longer when chosen for reordering. A pair
 * has link down, loss and duplication only (no queue of its own): it puts
 * faults on the traffic between two nodes and not on a third node's. Drops
 * are also counted per pair, whichever fault made them, so a test can tell
 * whose frames were lost. docs/wire-emulator.md describes the commands.
 */
#ifndef WIRE_EMU_H
#define WIRE_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WE_MAX_PORTS 8
#define WE_LINE_CAP 4096 /* frames in flight per line (delay) */
#define WE_HELD_MAX 64   /* frames held back for reordering per line */
#define WE_MAC_TABLE 64
#define WE_PPM 1000000u

enum we_dir { WE_IN = 0, WE_OUT = 1 };

struct we_fault {
	uint32_t loss_ppm;    /* parts per million */
	uint32_t dup_ppm;
	uint32_t reorder_ppm; /* frames held back ... */
	uint32_t reorder_k;   /* ... until K later frames passed (0: no count limit) ... */
	uint64_t reorder_ns;  /* ... or this long passed (0: no time limit; both 0: K = 1) */
	uint64_t delay_ns;    /* every frame */
	bool down;
};

struct we_counters {
	uint64_t frames;     /* offered to the line */
	uint64_t passed;     /* left the line (duplicates included) */
	uint64_t lost;       /* dropped by loss */
	uint64_t down;       /* dropped while the line was down */
	uint64_t duplicated; /* extra copies made */
	uint64_t reordered;  /* held back behind later frames */
	uint64_t overflow;   /* dropped: the line was full */
};

struct we_entry {
	void *pkt;
	uint64_t due_ns;
	uint32_t countdown; /* held frames: later frames still to pass */
};

struct we_line {
	struct we_fault f;
	struct we_counters c;
	struct we_entry q[WE_LINE_CAP]; /* FIFO, arrival order */
	unsigned head, n;
	struct we_entry held[WE_HELD_MAX]; /* oldest first */
	unsigned n_held;
};

/* Faults and counters of the frames the switch sends from one port to another. */
struct we_pair {
	uint32_t loss_ppm, dup_ppm;
	bool down;
	uint64_t frames;     /* switched from -> to (a pair duplicate not counted again) */
	uint64_t lost;       /* dropped by the pair's loss */
	uint64_t down_drops; /* dropped while the pair was down */
	uint64_t duplicated; /* extra copies the pair made */
	uint64_t line_drops; /* dropped by a line on the way (we_pair_line_drop) */
};

struct we_mac {
	uint8_t addr[6];
	uint8_t port;
	bool used;
};

struct we_emu {
	unsigned n_ports;
	uint64_t rng;
	struct we_line lines[WE_MAX_PORTS][2];
	struct we_pair pairs[WE_MAX_PORTS][WE_MAX_PORTS]; /* [from][to] */
	struct we_mac macs[WE_MAC_TABLE];
	unsigned mac_next;
	uint64_t flooded; /* frames sent to every other port */
	uint64_t no_port; /* frames whose destination is the port they came from */
};

/* n_ports 1..WE_MAX_PORTS; a fixed seed makes every fault decision repeat. -EINVAL. */
int we_init(struct we_emu *e, unsigned n_ports, uint64_t seed);

/* What admitting a frame to a line decided. */
enum we_verdict {
	WE_DROP = 0, /* counted; the caller frees the frame */
	WE_PASS,     /* enqueued */
	WE_PASS_DUP, /* enqueued; the caller enqueues a copy with we_line_put */
};

/*
 * Offer a frame to line (port, dir) at time now. On WE_PASS_DUP the caller
 * passes a copy to we_line_put (or frees it if it cannot make one).
 */
enum we_verdict we_offer(struct we_emu *e, unsigned port, enum we_dir dir, void *pkt,
			 uint64_t now_ns);

/* Enqueue without fault decisions (a duplicate, or a replayed frame). false: full (counted). */
bool we_line_put(struct we_emu *e, unsigned port, enum we_dir dir, void *pkt, uint64_t now_ns);

/* The next frame due on line (port, dir), in output order; NULL when none is due. */
void *we_take(struct we_emu *e, unsigned port, enum we_dir dir, uint64_t now_ns);

/* Frames still held by a line (delayed or reordered). */
unsigned we_in_flight(const struct we_emu *e, unsigned port, enum we_dir dir);

/*
 * The switch: learn frame's source MAC on in_port and fill out_ports with
 * where it goes (its destination's port, or every other port for broadcast,
 * multicast and unknown destinations). Returns how many (0..n_ports-1).
 */
unsigned we_switch(struct we_emu *e, unsigned in_port, const uint8_t *frame, size_t len,
		   unsigned *out_ports);

/*
 * The pair's faults for a frame the switch sends from `from` to `to`, before
 * `to`'s OUT line: WE_DROP (counted; the caller frees it), WE_PASS, or
 * WE_PASS_DUP (the caller offers a copy to the OUT line as well).
 */
enum we_verdict we_pair_offer(struct we_emu *e, unsigned from, unsigned to);

/*
 * Count a line's drop against the pair it travelled: an OUT line's against
 * (the port it came in on, the line's port), an IN line's against (the line's
 * port, we_lookup's answer) when that is a port.
 */
void we_pair_line_drop(struct we_emu *e, unsigned from, unsigned to);

/* The port a unicast frame's destination was learnt on, or -1 (group or unknown); learns nothing. */
int we_lookup(const struct we_emu *e, const uint8_t *frame, size_t len);

/* Every drop counted against the pair from -> to (pair faults and lines). */
uint64_t we_pair_drops(const struct we_emu *e, unsigned from, unsigned to);

/* Commands: one line of text in, the reply text out (see the docs). */
enum we_op {
	WE_OP_SET = 1, /* a fault change: applied by we_apply */
	WE_OP_STATS,   /* the caller prints we_format_stats */
	WE_OP_CAPTURE, /* netmesh-wire: keep the last `count` frames that came in on `port` */
	WE_OP_REPLAY,  /* netmesh-wire: send the captured frames again, as from `port` */
	WE_OP_HELP,
};

struct we_cmd {
	enum we_op op;
	unsigned port_lo, port_hi; /* inclusive; a pair's FROM */
	bool pair;                 /* PORT was FROM>TO or FROM<>TO: the pairs' faults, not the lines' */
	bool both_ways;            /* FROM<>TO: TO -> FROM as well */
	unsigned to_lo, to_hi;     /* a pair's TO, inclusive */
	bool dir[2];               /* which lines: WE_IN, WE_OUT */
	char what[16];             /* the fault: loss, dup, reorder, delay, down, up, clear */
	uint32_t ppm;
	uint32_t k;
	uint64_t ns;
	unsigned count;
};

/* Parse one command line. 0, or -EINVAL with the reason in err. */
int we_parse(const struct we_emu *e, const char *line, struct we_cmd *cmd, char *err, size_t cap);

/* Apply a WE_OP_SET command. */
void we_apply(struct we_emu *e, const struct we_cmd *cmd);

/*
 * Counters, one line per port and direction, then one per pair that carried a
 * frame or has a fault, then the switch's; returns the length written.
 */
size_t we_format_stats(const struct we_emu *e, char *out, size_t cap);

/* The command summary for "help". */
const char *we_help(void);

#endif /* WIRE_EMU_H */

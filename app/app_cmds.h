/* SPDX-License-Identifier: MIT */
/*
 * app_cmds.h - the appliance's operator commands: one table (name, args,
 * help, handler), one dispatcher, three front ends (the interactive console
 * and --cmdline-file in app_console.h, the control socket in app_ctlsock.h).
 *
 * Threads: everything here runs on the control thread, which owns what the
 * commands touch (runtime, dataplane tables, session manager, MeshOS). The
 * front ends are polled from the control loop; none has a thread of its own.
 *
 * A line is words separated by blanks; "..." quotes a word (\" and \\ are
 * its only escapes); '#' at the start of a word begins a comment. The
 * command is the longest table name matching the first words; the rest are
 * its arguments. Output goes to the caller's FILE (stdout, or a memory
 * stream for the socket); an error is returned in err and printed by the
 * front end as one line "error: MESSAGE".
 *
 * Counters are written by the workers and never reset from here: `clear
 * stats` records a baseline that `show stats` (and the periodic print)
 * subtract.
 */
#ifndef APP_CMDS_H
#define APP_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ethdev.h>

#include "nm_error.h"
#include "nm_port.h"
#include "nm_sessmgr.h"
#include "nm_stats.h"

#define APP_CMD_MAX_WORDS 16 /* command words + arguments */
#define APP_CMD_LINE_MAX 4096
#define APP_CMD_MAX_SPAWNED 256

struct app_state;
struct nm_app_config;
struct nm_dataplane;
struct nm_meshos;
struct nm_migdp;
struct nm_runtime;
struct app_cmds;

/* A line split into words (pointers into `buf`). */
struct app_cmd_words {
	char buf[APP_CMD_LINE_MAX];
	char *w[APP_CMD_MAX_WORDS];
	unsigned n;
};

typedef int (*app_cmd_fn)(struct app_cmds *c, unsigned argc, char **argv, FILE *out,
			  struct nm_error *err);

struct app_cmd {
	const char *name;  /* the command words: "show stats" */
	const char *args;  /* syntax of the arguments, "" for none */
	unsigned min_args, max_args;
	const char *help;
	app_cmd_fn fn;
};

/* What the commands act on; any pointer may be NULL (the command then says so). */
struct app_cmds_env {
	struct nm_runtime *rt;
	struct nm_dataplane *dp;
	struct nm_sessmgr *sm;
	struct nm_meshos *mos;
	struct app_state *state;          /* --state-dir; NULL or none: daemons are not kept */
	const struct nm_app_config *cfg;  /* the --daemon kinds */
	struct nm_migdp *md;              /* live migration (migrate, show migrations) */
};

/* The `clear stats` baseline. */
struct app_cmds_base {
	bool set;
	uint64_t at_ns;                               /* monotonic */
	struct nm_lcore_stats lcore[NM_PORT_MAX_QUEUES]; /* by worker index */
	struct nm_lcore_stats total;                  /* workers and the control thread */
	struct nm_sessmgr_stats sessions;
	struct rte_eth_stats port;
};

/* A daemon spawned by a command: its kind, for snapshots and `show daemons`. */
struct app_cmds_daemon {
	uint64_t origin;
	char kind[NM_KIND_MAX + 1];
};

struct app_cmds {
	struct app_cmds_env env;
	struct app_cmds_base base;
	struct app_cmds_daemon spawned[APP_CMD_MAX_SPAWNED];
	unsigned n_spawned;
	struct app_cmd_words words; /* the line being run */
	bool quit; /* `quit` was run: the appliance stops */
};

void app_cmds_init(struct app_cmds *c, const struct app_cmds_env *env);

/*
 * Split a line (len bytes, need not be NUL-terminated) into words. A line of
 * blanks or a comment gives n = 0. -EINVAL with the reason in err (NUL or
 * control byte, unterminated quote, unknown escape, too many words, too long).
 */
int app_cmd_split(const char *line, size_t len, struct app_cmd_words *out, struct nm_error *err);

/* The entry whose name is the first words (the longest such), and how many words it took. */
const struct app_cmd *app_cmd_find(char *const *w, unsigned n, unsigned *n_name);

/* The table, for the front ends (help, completion): *n entries. */
const struct app_cmd *app_cmd_table(unsigned *n);

/*
 * Run one line: output to out, 0, or the error (the caller prints it as
 * "error: " + err->msg). An empty line or a comment is 0 with no output.
 */
int app_cmds_run(struct app_cmds *c, const char *line, size_t len, FILE *out,
		 struct nm_error *err);

struct nm_config_peer;
/* Add a peer as --peer gives it (start and `peer add`): 0 or the error. */
int app_peer_add(struct nm_sessmgr *sm, const struct nm_config_peer *p, struct nm_error *err);

/* What the periodic stats print shows (counters since the baseline, peers, MeshOS). */
void app_cmds_print_counters(struct app_cmds *c, FILE *out);
void app_cmds_print_peers(struct app_cmds *c, FILE *out);
void app_cmds_print_meshos(struct app_cmds *c, FILE *out);

#endif /* APP_CMDS_H */

/* SPDX-License-Identifier: MIT */
/*
 * app_console.h - the operator's console in testpmd's style: the `netmesh> `
 * prompt (-i) on rte_cmdline, and the commands of a file (--cmdline-file).
 *
 * The prompt's instances are built from the command table (app_cmds.h): one
 * per command word sequence, so TAB completes command words and '?' lists
 * what may follow with its help; rte_cmdline keeps the history (up/down).
 * Every line, matched or not, runs through app_cmds_run, so the console says
 * exactly what the socket says ("error: ..." included).
 *
 * The prompt is polled from the control loop (stdin is read without
 * blocking), so commands run on the control thread. The terminal is in raw
 * mode while the prompt is open: Ctrl-C clears the line, Ctrl-D (or the end
 * of stdin) quits like `quit`; SIGTERM still stops the appliance.
 */
#ifndef APP_CONSOLE_H
#define APP_CONSOLE_H

#include <stdio.h>

struct app_cmds;
struct cmdline;
struct cmdline_inst;

#define APP_CONSOLE_PROMPT "netmesh> "

struct app_console {
	struct app_cmds *cmds;
	struct cmdline *cl;            /* NULL: no prompt */
	struct cmdline_inst **ctx;     /* NULL-terminated, built from the table */
	void *tokens;                  /* the instances' tokens */
};

/*
 * Run a file's commands now: each line echoed as "netmesh> LINE" with its
 * output on `out`. Blank lines and comments are skipped. The first error
 * stops the file (the rest is skipped and the message names FILE:LINE),
 * unless the line starts with '-', whose error is printed and passed over.
 * `quit` stops it too. Returns 0, or -1 when it stopped at an error.
 */
int app_console_run_file(struct app_cmds *c, const char *path, FILE *out);

/* Open the prompt on stdin/stdout. Prints the error and returns -1 on failure. */
int app_console_open(struct app_console *con, struct app_cmds *c);

/* Take what stdin has (never blocks); complete lines run. No-op without a prompt. */
void app_console_poll(struct app_console *con);

/* Restore the terminal and free. Safe to call when never opened. */
void app_console_close(struct app_console *con);

#endif /* APP_CONSOLE_H */

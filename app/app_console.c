/* SPDX-License-Identifier: MIT */
/* app_console.c - the netmesh> prompt and --cmdline-file (see header). */
#include "app_console.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmdline.h>
#include <cmdline_parse.h>
#include <cmdline_socket.h>

#include "app_cmds.h"

/* Run a line and print its error as one line; 0 or the error. */
static int run_print(struct app_cmds *c, const char *line, size_t len, FILE *out)
{
	struct nm_error err = { 0 };
	int rc = app_cmds_run(c, line, len, out, &err);
	if (rc < 0)
		fprintf(out, "error: %s\n", err.msg);
	fflush(out);
	return rc;
}

/* ------------------------------------------------------------ --cmdline-file */

static bool blank_or_comment(const char *s)
{
	s += strspn(s, " \t\r\n");
	return *s == '\0' || *s == '#';
}

int app_console_run_file(struct app_cmds *c, const char *path, FILE *out)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(out, "netmesh: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned no = 0;
	int rc = 0;
	while (rc == 0 && !c->quit && (n = getline(&line, &cap, f)) >= 0) {
		no++;
		if (blank_or_comment(line))
			continue;
		char *cmd = line + strspn(line, " \t");
		bool tolerant = *cmd == '-'; /* testpmd's rule: '-' ignores this line's error */
		cmd += tolerant;
		size_t len = (size_t)(line + n - cmd);
		while (len > 0 && (cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
			len--;
		fprintf(out, "%s%.*s\n", APP_CONSOLE_PROMPT, (int)len, cmd);
		if (run_print(c, cmd, len, out) < 0 && !tolerant) {
			fprintf(out, "netmesh: %s:%u: stopped at this error; the rest of the file is "
				     "skipped\n", path, no);
			rc = -1;
		}
	}
	free(line);
	fclose(f);
	fflush(out);
	return rc;
}

/* ------------------------------------------------------------ rte_cmdline tokens */

enum tok_kind {
	TOK_WORD,  /* one command word */
	TOK_ARGS,  /* the rest of the line: the arguments */
	TOK_OTHER, /* a line no command instance takes (so its error comes from app_cmds) */
};

struct con_tok {
	struct cmdline_token_hdr hdr; /* first: rte_cmdline sees only this */
	enum tok_kind kind;
	const char *word;          /* TOK_WORD; its length in word_len */
	size_t word_len;
	const struct app_cmd *cmd; /* TOK_WORD, TOK_ARGS: for the help text */
	bool first;                /* stores the start of the line in the result */
};

/* The parsed result of every instance: where its line starts. */
struct con_result {
	const char *line;
};

static size_t line_len(const char *s)
{
	return strcspn(s, "\r\n");
}

/*
 * Would an instance of the table take this line? The same test rte_cmdline
 * makes: the leading blank-separated words are a command's name, then either
 * nothing (the command may have no arguments) or arguments (it takes some).
 */
static bool table_takes(const char *s)
{
	const char *w[APP_CMD_MAX_WORDS];
	size_t wl[APP_CMD_MAX_WORDS];
	unsigned n = 0, n_cmds;
	for (;;) {
		s += strspn(s, " \t");
		if (cmdline_isendoftoken(*s) || n == APP_CMD_MAX_WORDS)
			break;
		w[n] = s;
		while (!cmdline_isendoftoken(*s))
			s++;
		wl[n] = (size_t)(s - w[n]);
		n++;
	}
	const struct app_cmd *t = app_cmd_table(&n_cmds);
	for (unsigned i = 0; i < n_cmds; i++) {
		const char *name = t[i].name;
		unsigned k = 0;
		bool same = true;
		while (same && *name != '\0') {
			size_t len = strcspn(name, " ");
			same = k < n && wl[k] == len && memcmp(w[k], name, len) == 0;
			name += len + (name[len] == ' ');
			k++;
		}
		if (same && ((k == n && t[i].min_args == 0) || (k < n && t[i].max_args > 0)))
			return true;
	}
	return false;
}

static int tok_parse(cmdline_parse_token_hdr_t *hdr, const char *buf, void *res, unsigned size)
{
	const struct con_tok *t = (const struct con_tok *)hdr;
	size_t len = 0;
	switch (t->kind) {
	case TOK_WORD:
		while (!cmdline_isendoftoken(buf[len]))
			len++;
		if (len != t->word_len || memcmp(buf, t->word, len) != 0)
			return -1;
		break;
	case TOK_ARGS:
		len = line_len(buf);
		break;
	case TOK_OTHER:
		/* Never in completion (res NULL), so it offers nothing there. */
		if (res == NULL || table_takes(buf))
			return -1;
		len = line_len(buf);
		break;
	}
	if (t->first && res != NULL && size >= sizeof(struct con_result))
		((struct con_result *)res)->line = buf;
	return (int)len;
}

/*
 * A word completes to itself; the arguments have only help (0 choices); the
 * catch-all claims one choice and yields none, so it never shows.
 */
static int tok_complete_nb(cmdline_parse_token_hdr_t *hdr)
{
	return ((const struct con_tok *)hdr)->kind != TOK_ARGS;
}

static int tok_complete_elt(cmdline_parse_token_hdr_t *hdr, int idx, char *dst, unsigned size)
{
	const struct con_tok *t = (const struct con_tok *)hdr;
	if (idx != 0 || t->kind != TOK_WORD || t->word_len + 1 > size)
		return -1;
	memcpy(dst, t->word, t->word_len);
	dst[t->word_len] = '\0';
	return 0;
}

static int tok_help(cmdline_parse_token_hdr_t *hdr, char *dst, unsigned size)
{
	const struct con_tok *t = (const struct con_tok *)hdr;
	if (t->kind == TOK_ARGS)
		snprintf(dst, size, "%s", t->cmd->args);
	else
		snprintf(dst, size, "%s%s%s", t->cmd->name, t->cmd->args[0] ? " " : "",
			 t->cmd->args);
	return 0;
}

static struct cmdline_token_ops tok_ops = {
	.parse = tok_parse,
	.complete_get_nb = tok_complete_nb,
	.complete_get_elt = tok_complete_elt,
	.get_help = tok_help,
};

/* ------------------------------------------------------------ instances */

static void on_line(void *res, struct cmdline *cl, void *data)
{
	struct app_console *con = data;
	const char *line = ((struct con_result *)res)->line;
	run_print(con->cmds, line, line_len(line), stdout);
	if (con->cmds->quit)
		cmdline_quit(cl);
}

/* Tokens of an instance: the command's words, then its arguments when `args`. */
static unsigned add_tokens(struct con_tok *t, const struct app_cmd *e, bool args)
{
	unsigned n = 0;
	for (const char *s = e->name; *s != '\0'; n++) {
		size_t len = strcspn(s, " ");
		t[n] = (struct con_tok){ .hdr.ops = &tok_ops, .kind = TOK_WORD, .word = s,
					 .word_len = len, .cmd = e, .first = n == 0 };
		s += len + (s[len] == ' ');
	}
	if (args)
		t[n++] = (struct con_tok){ .hdr.ops = &tok_ops, .kind = TOK_ARGS, .cmd = e };
	return n;
}

static cmdline_parse_inst_t *new_inst(struct app_console *con, struct con_tok *t, unsigned n,
				      const char *help)
{
	cmdline_parse_inst_t *in = calloc(1, sizeof(*in) + (n + 1) * sizeof(in->tokens[0]));
	if (in == NULL)
		return NULL;
	in->f = on_line;
	in->data = con;
	in->help_str = help;
	for (unsigned i = 0; i < n; i++)
		in->tokens[i] = &t[i].hdr;
	return in;
}

/* Two instances at most per command (without and with arguments), then the catch-all. */
static int build_ctx(struct app_console *con)
{
	unsigned n_cmds, n_inst = 0;
	const struct app_cmd *tab = app_cmd_table(&n_cmds);
	struct con_tok *toks = calloc(2 * n_cmds * (APP_CMD_MAX_WORDS + 1) + 1, sizeof(*toks));
	con->ctx = calloc(2 * n_cmds + 2, sizeof(*con->ctx));
	con->tokens = toks;
	if (toks == NULL || con->ctx == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n_cmds; i++)
		for (int args = 0; args < 2; args++) {
			if ((args == 0 && tab[i].min_args > 0) || (args == 1 && tab[i].max_args == 0))
				continue;
			unsigned n = add_tokens(toks, &tab[i], args);
			if ((con->ctx[n_inst++] = new_inst(con, toks, n, tab[i].help)) == NULL)
				return -ENOMEM;
			toks += n;
		}
	*toks = (struct con_tok){ .hdr.ops = &tok_ops, .kind = TOK_OTHER, .first = true };
	if ((con->ctx[n_inst] = new_inst(con, toks, 1, NULL)) == NULL)
		return -ENOMEM;
	return 0;
}

static void free_ctx(struct app_console *con)
{
	for (unsigned i = 0; con->ctx != NULL && con->ctx[i] != NULL; i++)
		free(con->ctx[i]);
	free(con->ctx);
	free(con->tokens);
	con->ctx = NULL;
	con->tokens = NULL;
}

int app_console_open(struct app_console *con, struct app_cmds *c)
{
	memset(con, 0, sizeof(*con));
	con->cmds = c;
	printf("netmesh: interactive: 'help' lists the commands, TAB completes, '?' shows what "
	       "may follow\n");
	fflush(stdout); /* before the prompt, which rte_cmdline writes itself */
	if (build_ctx(con) < 0 ||
	    (con->cl = cmdline_stdin_new(con->ctx, APP_CONSOLE_PROMPT)) == NULL) {
		fprintf(stderr, "netmesh: console: cannot open the prompt (out of memory)\n");
		free_ctx(con);
		return -1;
	}
	return 0;
}

/* End of stdin or Ctrl-D: the same as typing quit. */
static void console_eof(struct app_console *con)
{
	if (!con->cmds->quit) {
		printf("\n");
		run_print(con->cmds, "quit", 4, stdout);
	}
	cmdline_quit(con->cl);
}

void app_console_poll(struct app_console *con)
{
	char buf[256];
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	if (con->cl == NULL || con->cmds->quit)
		return;
	/* A bounded amount per loop turn: a paste is taken over a few turns. */
	for (int turn = 0; turn < 16 && poll(&p, 1, 0) > 0; turn++) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0 || cmdline_in(con->cl, buf, (int)n) < 0 || con->cmds->quit) {
			console_eof(con);
			return;
		}
	}
}

void app_console_close(struct app_console *con)
{
	if (con->cl != NULL) {
		cmdline_printf(con->cl, "\n");
		cmdline_stdin_exit(con->cl); /* the terminal as it was */
	}
	con->cl = NULL;
	free_ctx(con);
}

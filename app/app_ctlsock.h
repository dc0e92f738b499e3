/* SPDX-License-Identifier: MIT */
/*
 * app_ctlsock.h - the commands for scripts (--ctl-socket PATH): a UNIX
 * stream socket, mode 0600, polled from the control loop.
 *
 * Protocol: one command per line (the console's syntax, app_cmds.h); for
 * each, its output, then one line: "ok", or "error: MESSAGE". Lines are
 * answered in order; a client may send several and may close its side after
 * the last (the replies still come). scripts/netmesh-ctl is a client.
 *
 * Never blocks the control loop: accept, read and write are non-blocking and
 * bounded per poll. Bounds: APP_CTL_MAX_CLIENTS at once (one more is told
 * "error: too many clients" and closed); a line of APP_CMD_LINE_MAX bytes
 * without its newline is answered "error: line too long" and the client is
 * closed; a client whose unread replies would pass APP_CTL_OUT_MAX is dropped
 * (a reply larger than that alone becomes an error); a client idle (nothing
 * read, nothing sent) for APP_CTL_IDLE_MS is closed.
 */
#ifndef APP_CTLSOCK_H
#define APP_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "app_cmds.h"

#define APP_CTL_MAX_CLIENTS 8
#define APP_CTL_OUT_MAX (64 * 1024)
#define APP_CTL_IDLE_MS 60000

struct app_ctl_client {
	int fd;                        /* -1: free */
	char in[APP_CMD_LINE_MAX];
	size_t in_len;
	char out[APP_CTL_OUT_MAX];     /* replies not yet taken by the client */
	size_t out_len, out_off;
	uint64_t last_ms;              /* last byte in or out */
	bool eof;                      /* the client closed its side: close once replied */
	bool closing;                  /* close once the pending reply is out */
};

struct app_ctlsock_stats {
	uint64_t accepted;
	uint64_t refused;      /* too many clients */
	uint64_t commands;
	uint64_t errors;       /* commands answered with an error */
	uint64_t too_long;     /* lines over the limit */
	uint64_t dropped_slow; /* replies piled up unread */
	uint64_t idle_closed;
};

struct app_ctlsock {
	struct app_cmds *cmds;
	bool opened;                   /* app_ctlsock_open ran: the fds below are real */
	int fd;                        /* the listening socket; -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct app_ctl_client clients[APP_CTL_MAX_CLIENTS];
	struct app_ctlsock_stats stats;
};

/*
 * Listen on PATH (mode 0600). A stale socket file left by a dead process is
 * replaced; one a live process listens on is an error, as is any other file.
 * path "" = no socket (0). Prints the error and returns -1 on failure.
 */
int app_ctlsock_open(struct app_ctlsock *s, struct app_cmds *c, const char *path);

/* Accept, read, run complete lines, write replies; bounded work, never blocks. */
void app_ctlsock_poll(struct app_ctlsock *s, uint64_t now_ms);

/*
 * Close every client (a last try to send pending replies) and remove the
 * socket file. A zeroed struct (never opened) is fine.
 */
void app_ctlsock_close(struct app_ctlsock *s);

#endif /* APP_CTLSOCK_H */

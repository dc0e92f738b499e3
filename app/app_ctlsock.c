/* SPDX-License-Identifier: MIT */
/* app_ctlsock.c - the control socket (see header). */
#include "app_ctlsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINES_PER_POLL 16 /* per client and poll: the control loop keeps its pace */

/*
 * Close, after taking what the client sent and we will not read: closing a
 * UNIX socket with unread input resets the peer, which could then lose the
 * reply it has not read yet (an "error: line too long", say). Bounded.
 */
static void client_close(struct app_ctl_client *cl)
{
	char sink[4096];
	if (cl->fd < 0)
		return;
	for (int i = 0; i < 16 && recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(cl->fd);
	cl->fd = -1;
}

/* Is a process listening on the socket file? (A stale one refuses the connection.) */
static bool in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	if (fd >= 0)
		close(fd);
	return live;
}

static int listen_on(struct app_ctlsock *s, const struct sockaddr_un *sa)
{
	struct stat st;
	if (lstat(sa->sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "netmesh: --ctl-socket %s: exists and is not a socket\n", s->path);
			return -1;
		}
		if (in_use(sa)) {
			fprintf(stderr, "netmesh: --ctl-socket %s: in use by a running process\n", s->path);
			return -1;
		}
		unlink(sa->sun_path); /* left by a process that died */
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	mode_t old = umask(0177); /* created 0600: never a moment with wider access */
	int rc = bind(s->fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (rc == 0)
		rc = listen(s->fd, APP_CTL_MAX_CLIENTS);
	return rc;
}

int app_ctlsock_open(struct app_ctlsock *s, struct app_cmds *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memset(s, 0, sizeof(*s));
	s->cmds = c;
	s->opened = true;
	s->fd = -1;
	for (unsigned i = 0; i < APP_CTL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	if (path == NULL || path[0] == '\0')
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "netmesh: --ctl-socket %s: longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (listen_on(s, &sa) < 0) {
		if (s->fd >= 0)
			fprintf(stderr, "netmesh: --ctl-socket %s: %s\n", path, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->path[0] = '\0'; /* not ours: never removed */
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ replies */

/* Append text to the client's pending replies; false when it does not fit. */
static bool put(struct app_ctl_client *cl, const char *text, size_t len)
{
	if (len > sizeof(cl->out) - cl->out_len)
		return false;
	memcpy(cl->out + cl->out_len, text, len);
	cl->out_len += len;
	return true;
}

static void put_error(struct app_ctlsock *s, struct app_ctl_client *cl, const char *msg)
{
	char line[NM_ERROR_MSG_MAX + 16];
	int n = snprintf(line, sizeof(line), "error: %s\n", msg);
	s->stats.errors++;
	if (!put(cl, line, (size_t)n)) {
		s->stats.dropped_slow++;
		client_close(cl);
	}
}

/* Run one line; its output goes straight into the free room of the reply buffer. */
static void run_line(struct app_ctlsock *s, struct app_ctl_client *cl, const char *line,
		     size_t len)
{
	struct nm_error err = { 0 };
	size_t room = sizeof(cl->out) - cl->out_len;
	FILE *f = room > 1 ? fmemopen(cl->out + cl->out_len, room, "w") : NULL;
	s->stats.commands++;
	if (f == NULL) { /* nothing read yet of a full buffer: too slow */
		s->stats.dropped_slow++;
		client_close(cl);
		return;
	}
	setvbuf(f, NULL, _IONBF, 0); /* so ftell counts what really landed */
	int rc = app_cmds_run(s->cmds, line, len, f, &err);
	long used = ftell(f);
	bool full = ferror(f) || used < 0 || (size_t)used >= room - 1;
	fclose(f);
	if (full) {
		if (cl->out_len != 0) { /* earlier replies are still unread */
			s->stats.dropped_slow++;
			client_close(cl);
			return;
		}
		put_error(s, cl, "the reply is larger than the socket's limit (64 KiB)");
		return;
	}
	cl->out_len += (size_t)used;
	if (rc < 0)
		put_error(s, cl, err.msg);
	else if (!put(cl, "ok\n", 3)) {
		s->stats.dropped_slow++;
		client_close(cl);
	}
}

/* Complete lines out of the input buffer (at most LINES_PER_POLL). */
static void run_lines(struct app_ctlsock *s, struct app_ctl_client *cl)
{
	for (int i = 0; i < LINES_PER_POLL && cl->fd >= 0 && !cl->closing; i++) {
		char *nl = memchr(cl->in, '\n', cl->in_len);
		size_t len = nl ? (size_t)(nl - cl->in) : cl->in_len;
		if (nl == NULL && !(cl->eof && cl->in_len > 0)) {
			if (cl->in_len == sizeof(cl->in)) {
				s->stats.too_long++;
				put_error(s, cl, "line too long (at most 4095 bytes before the newline); "
						 "closing");
				cl->closing = true;
			}
			return;
		}
		run_line(s, cl, cl->in, len);
		size_t used = nl ? len + 1 : len;
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
}

/* ------------------------------------------------------------ polling */

static void accept_clients(struct app_ctlsock *s, uint64_t now_ms)
{
	for (int tries = 0; tries < APP_CTL_MAX_CLIENTS; tries++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN: none waiting */
		struct app_ctl_client *cl = NULL;
		for (unsigned i = 0; cl == NULL && i < APP_CTL_MAX_CLIENTS; i++)
			if (s->clients[i].fd < 0)
				cl = &s->clients[i];
		if (cl == NULL) {
			static const char busy[] = "error: too many clients\n";
			s->stats.refused++;
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		*cl = (struct app_ctl_client){ .fd = fd, .last_ms = now_ms };
		s->stats.accepted++;
	}
}

static void client_read(struct app_ctl_client *cl, uint64_t now_ms)
{
	if (cl->eof || cl->closing || cl->in_len == sizeof(cl->in))
		return;
	ssize_t n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);
	if (n > 0) {
		cl->in_len += (size_t)n;
		cl->last_ms = now_ms;
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		cl->eof = true;
	}
}

static void client_write(struct app_ctl_client *cl, uint64_t now_ms)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				client_close(cl); /* the client went away */
			return;
		}
		cl->out_off += (size_t)n;
		cl->last_ms = now_ms;
	}
	cl->out_off = cl->out_len = 0;
}

void app_ctlsock_poll(struct app_ctlsock *s, uint64_t now_ms)
{
	if (!s->opened || s->fd < 0)
		return;
	accept_clients(s, now_ms);
	for (unsigned i = 0; i < APP_CTL_MAX_CLIENTS; i++) {
		struct app_ctl_client *cl = &s->clients[i];
		if (cl->fd < 0)
			continue;
		client_read(cl, now_ms);
		run_lines(s, cl);
		if (cl->fd >= 0)
			client_write(cl, now_ms);
		if (cl->fd < 0)
			continue;
		bool replied = cl->out_len == 0;
		if (replied && (cl->closing || (cl->eof && cl->in_len == 0)))
			client_close(cl);
		else if (now_ms - cl->last_ms > APP_CTL_IDLE_MS) {
			s->stats.idle_closed++;
			client_close(cl);
		}
	}
}

void app_ctlsock_close(struct app_ctlsock *s)
{
	if (!s->opened)
		return;
	for (unsigned i = 0; i < APP_CTL_MAX_CLIENTS; i++) {
		if (s->clients[i].fd >= 0)
			client_write(&s->clients[i], 0);
		client_close(&s->clients[i]);
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->path[0] != '\0')
		unlink(s->path);
	s->path[0] = '\0';
}

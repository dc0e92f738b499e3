/* SPDX-License-Identifier: MIT */
/* app_common.c - shared by netmesh and netmesh-gen (see header). */
#include "app_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nm_identity.h"
#include "nm_time.h"
#include "nm_keys.h"

atomic_bool app_force_quit;
static atomic_int signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	if (atomic_fetch_add(&signals_seen, 1) > 0) {
		static const char msg[] = "\nsecond signal: exiting now\n";
		ssize_t rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)rc;
		_exit(130);
	}
	atomic_store(&app_force_quit, true);
}

void app_signals_init(const char *prog)
{
	(void)prog;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int app_parse_ipv4(const char *s, uint32_t *ip)
{
	struct in_addr a;
	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

int app_parse_mac(const char *s, struct rte_ether_addr *mac)
{
	return s != NULL && rte_ether_unformat_addr(s, mac) == 0 ? 0 : -EINVAL;
}

int app_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	/* Decimal only: base 0 read "0777" as octal 511 and took "0x10". */
	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int app_parse_hex_u64(const char *s, uint64_t *out)
{
	char *end;
	if (s == NULL)
		return -EINVAL;
	const char *digits = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
	size_t n = strspn(digits, "0123456789abcdefABCDEF");
	if (n == 0 || n > 16 || digits[n] != '\0')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(digits, &end, 16);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int app_parse_hex32(const char *s, uint8_t out[32])
{
	size_t bin_len = 0;
	const char *end = NULL;
	if (s == NULL || strlen(s) != 64 ||
	    sodium_hex2bin(out, 32, s, 64, NULL, &bin_len, &end) != 0 || bin_len != 32 ||
	    *end != '\0')
		return -EINVAL;
	return 0;
}

int app_read_key32(const char *path, uint8_t key[32])
{
	struct nm_error err;
	int rc = nm_key32_from_file(key, path, &err);
	if (rc < 0)
		fprintf(stderr, "%s\n", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

void app_timer_slack(const char *prog)
{
	if (prctl(PR_SET_TIMERSLACK, 5000ul, 0, 0, 0) != 0)
		fprintf(stderr, "%s: timer slack: %s (naps last 50 us longer)\n", prog, strerror(errno));
}

void app_sleep_ms(unsigned ms)
{
	nm_sleep_ms(ms);
}

int app_load_keys(const char *dir, struct nm_keys *keys)
{
	struct nm_error err = { 0 };
	int rc = nm_keys_load_or_create(keys, dir, &err);
	if (rc < 0)
		fprintf(stderr, "keys: %s\n", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

int app_show_identity(const char *dir)
{
	struct nm_keys keys;
	char text[NM_KEYS_SHOW_MAX];
	int rc = app_load_keys(dir, &keys);
	if (rc < 0)
		return rc;
	rc = nm_keys_format_identity(&keys, text, sizeof(text));
	nm_keys_wipe(&keys);
	if (rc < 0)
		return rc;
	fputs(text, stdout);
	return 0;
}

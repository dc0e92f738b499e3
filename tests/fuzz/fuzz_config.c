/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - the appliance's options (app/nm_config.h): config files
 * and argv.
 *
 * Input byte 0: even, the rest is a config file; odd, the rest is argv,
 * one argument a line. Properties: a refused file names FILE:LINE; an
 * accepted one prints (what --check-config shows) to a config that parses
 * back and prints the same; a refused argv says why; EAL's lcores are read
 * from any argv without harm. --config/--check-config arguments are left
 * out (they would read whatever file the input names) and nothing is
 * validated (that reads the key, PSK and seed files).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "nm_config.h"

#define FILENAME "/fuzz/netmesh.conf"
#define MAX_ARGS 64

static struct nm_app_config cfg, again;

static char *print(const struct nm_app_config *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	FUZZ_CHECK(f != NULL);
	nm_config_print(c, f);
	FUZZ_CHECK(fclose(f) == 0);
	return text;
}

static void check_file(const uint8_t *data, size_t size)
{
	struct nm_error err = { 0 };
	nm_config_init(&cfg);
	int rc = nm_config_parse_buffer(&cfg, (const char *)data, size, FILENAME, &err);
	if (rc != 0) {
		const size_t n = strlen(FILENAME);
		FUZZ_CHECK(rc == -EINVAL && strncmp(err.msg, FILENAME ":", n + 1) == 0 &&
			   isdigit((unsigned char)err.msg[n + 1]));
		return;
	}
	size_t alen, blen;
	char *a = print(&cfg, &alen);
	nm_config_init(&again);
	rc = nm_config_parse_buffer(&again, a, alen, FILENAME, &err);
	if (rc != 0)
		fprintf(stderr, "printed config refused: %s\n%s", err.msg, a);
	FUZZ_CHECK(rc == 0);
	char *b = print(&again, &blen);
	FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
}

static bool reads_a_file(const char *arg)
{
	return strncmp(arg, "--config", 8) == 0 || strncmp(arg, "--check-config", 14) == 0;
}

static void check_argv(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	char *argv[MAX_ARGS + 2] = { "netmesh" };
	int argc = 1;
	for (char *s = text, *nl; s != NULL && argc <= MAX_ARGS; s = nl) {
		nl = strchr(s, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (!reads_a_file(s))
			argv[argc++] = s;
	}
	argv[argc] = NULL;
	struct nm_error err = { 0 };
	nm_config_init(&cfg);
	int rc = nm_config_parse_argv(&cfg, argc, argv, &err);
	if (rc != 0)
		FUZZ_CHECK(rc == -EINVAL && err.msg[0] != '\0');
	nm_config_eal_lcores(&cfg, argc, argv);
	int eal_argc = -1;
	int first = nm_config_app_args(argc, argv, &eal_argc);
	FUZZ_CHECK(first >= 1 && first <= argc && eal_argc >= 1 && eal_argc <= argc);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		check_argv(data + 1, size - 1);
	else
		check_file(data + 1, size - 1);
	return 0;
}

static const char *const OPTIONS[][2] = {
	{ "ip", "127.0.0.1" }, { "port", "net_null0" }, { "udp-port", "7000" },
	{ "queues", "2" }, { "worker-lcores", "1,2" }, { "mtu", "9000" }, { "mbufs", "16384" },
	{ "rxd", "512" }, { "txd", "256" }, { "burst", "16" }, { "stats-period", "5" },
	{ "keys", "keys dir" }, { "psk-file", "mesh#.psk" }, { "state-dir", "/var/lib/netmesh" },
	{ "snapshot-interval", "30" }, { "split-keys", "yes" }, { "daemon", "echo:echo.seed:1" },
	{ "daemon", "counter:c.seed:2" },
	{ "peer", "127.0.0.2:7777@02:00:00:00:00:02,node=1a2b,static="
		  "0101010101010101010101010101010101010101010101010101010101010101,connect" },
};

void fuzz_seeds(void)
{
	/* A config made by nm_config_apply and written by nm_config_print. */
	struct nm_error err;
	nm_config_init(&cfg);
	for (size_t i = 0; i < sizeof(OPTIONS) / sizeof(OPTIONS[0]); i++)
		FUZZ_CHECK(nm_config_apply(&cfg, OPTIONS[i][0], OPTIONS[i][1], "seed:1", &err) == 0);
	size_t len;
	char *text = print(&cfg, &len);
	fuzz_seed_tagged(0, text, len);
	free(text);
	static const char quoted[] = "ip=127.0.0.1 # comment\nkeys \"a \\\"b\\\" \\\\c\"\n"
				     "psk-file = p\nsplit-keys\n";
	fuzz_seed_tagged(0, quoted, sizeof(quoted) - 1);
	/* Found by this target: a value ending in CR printed bare read back without it. */
	static const char cr[] = "psk-file p\r\r";
	fuzz_seed_tagged(0, cr, sizeof(cr) - 1);
	/* The same options as arguments. */
	char argv[2048];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(OPTIONS) / sizeof(OPTIONS[0]); i++)
		n += (size_t)snprintf(argv + n, sizeof(argv) - n, "--%s\n%s\n", OPTIONS[i][0],
				      OPTIONS[i][1]);
	fuzz_seed_tagged(1, argv, n);
	static const char eal[] = "-l\n0-2\n--main-lcore\n0\n--\n--ip=127.0.0.1\n--help";
	fuzz_seed_tagged(1, eal, sizeof(eal) - 1);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the appliance's option parser (app/nm_config.h) on flat
 * buffers and argv arrays, and its validation on temp files. Each old
 * netmesh.c parser bug has a case: peer lines with '=' (strtok split at '='),
 * lines over 511 bytes (their tails were applied as new lines), extra tokens
 * (ignored), no quoting, --peer/--worker-lcores cut at 255 bytes, octal
 * numbers; plus unknown keys, duplicates, file:line in every message. No EAL.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "nm_config.h"
#include "nm_port.h"
#include "nm_ck.h"

#define STATIC_HEX "3d0e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7e20"

static struct nm_app_config cfg, cfg2;
static struct nm_error err;
static const char *sample_path;

static int parse(struct nm_app_config *c, const char *text)
{
	memset(&err, 0, sizeof(err));
	return nm_config_parse_buffer(c, text, strlen(text), "t.conf", &err);
}

static int parse_args(struct nm_app_config *c, int argc, char **argv)
{
	memset(&err, 0, sizeof(err));
	return nm_config_parse_argv(c, argc, argv, &err);
}

static void setup(void)
{
	nm_config_init(&cfg);
	nm_config_init(&cfg2);
}

/* ---- the bugs of the strtok parser ---- */

START_TEST(peer_line_with_equals)
{
	ck_assert_int_eq(parse(&cfg, "peer 127.0.0.2,node=1a,static=" STATIC_HEX ",connect\n"
				     "peer=127.0.0.3:7000@02:00:00:00:00:09,node=0x2b\n"), 0);
	ck_assert_uint_eq(cfg.n_peers, 2);
	ck_assert_uint_eq(cfg.peers[0].ip, 0x7f000002);
	ck_assert_uint_eq(cfg.peers[0].node_id, 0x1a);
	ck_assert(cfg.peers[0].has_static && cfg.peers[0].connect);
	ck_assert_uint_eq(cfg.peers[0].static_pub[0], 0x3d);
	ck_assert_uint_eq(cfg.peers[0].port, 7777);
	ck_assert_uint_eq(cfg.peers[1].port, 7000);
	ck_assert(cfg.peers[1].has_mac && cfg.peers[1].mac.addr_bytes[5] == 9);
	ck_assert_uint_eq(cfg.peers[1].node_id, 0x2b);
	ck_assert(!cfg.peers[1].connect);
}
END_TEST

START_TEST(line_of_600_bytes_is_one_line)
{
	char text[1400], path[600];
	memset(path, 'a', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[sizeof(path) - 1] = '\0';
	/* A comment whose tail, past byte 511, looks like an option. */
	int n = snprintf(text, sizeof(text), "# %0509d colour blue\nkeys %s\n", 0, path);
	ck_assert_int_lt(n, (int)sizeof(text));
	ck_assert_int_eq(parse(&cfg, text), 0);
	ck_assert_str_eq(cfg.keys_dir, path);
}
END_TEST

START_TEST(extra_tokens_are_errors)
{
	ck_error(parse(&cfg, "ip 127.0.0.1 127.0.0.2\n"), "t.conf:1: ip: extra text '127.0.0.2'");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "\n\nkeys \"a\" b\n"), "t.conf:3: keys: extra text 'b'");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse(&cfg, "ip 127.0.0.1   # a comment is not a token\n"), 0);
}
END_TEST

START_TEST(quoting)
{
	ck_assert_int_eq(parse(&cfg, "psk-file \"/tmp/a b/psk\"\n"
				     "keys \"k\\\"ey # not a comment\\\\\"  # a comment\n"
				     "state-dir = \"\"  \n"), -EINVAL);
	ck_assert_msg(strstr(err.msg, "t.conf:3: state-dir '': empty path"), "%s", err.msg);
	ck_assert_str_eq(cfg.psk_file, "/tmp/a b/psk");
	ck_assert_str_eq(cfg.keys_dir, "k\"ey # not a comment\\");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "keys \"abc\n"), "t.conf:1: unterminated quote");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "keys \"a\\nb\"\n"), "t.conf:1: unknown escape");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "keys a\"b\"\n"), "t.conf:1: a quote inside a word");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "keys \"a\"b\n"), "t.conf:1: text right after a closing quote");
}
END_TEST

/* The old parser copied these into 256-byte buffers: the cut dropped ",connect" / ",2". */
START_TEST(long_peer_and_lcores_are_not_cut)
{
	char peer[400], lcores[300], *argv[] = { "netmesh", "--peer", peer, "--worker-lcores", lcores,
						 "--queues", "2" };
	snprintf(peer, sizeof(peer), "127.0.0.2:%0240d,node=1a,static=%s,connect", 7777,
		 STATIC_HEX);
	snprintf(lcores, sizeof(lcores), "%0254d,2", 1);
	ck_assert_int_gt((int)strlen(peer), 255);
	ck_assert_int_eq(parse_args(&cfg, 7, argv), 0);
	ck_assert_uint_eq(cfg.n_peers, 1);
	ck_assert(cfg.peers[0].connect);
	ck_assert_uint_eq(cfg.peers[0].port, 7777);
	ck_assert_uint_eq(cfg.n_lcores, 2);
	ck_assert_uint_eq(cfg.lcores[0], 1);
	ck_assert_uint_eq(cfg.lcores[1], 2);
}
END_TEST

START_TEST(over_long_values_are_rejected)
{
	char *path = malloc(NM_CONFIG_PATH_MAX + 10), *text = malloc(NM_CONFIG_PATH_MAX + 40);
	memset(path, 'p', NM_CONFIG_PATH_MAX + 9);
	path[NM_CONFIG_PATH_MAX + 9] = '\0';
	snprintf(text, NM_CONFIG_PATH_MAX + 40, "keys %s\n", path);
	ck_error(parse(&cfg, text), "t.conf:1: keys 'pppp");
	ck_assert_msg(strstr(err.msg, "path too long"), "%s", err.msg);
	ck_assert_str_eq(cfg.keys_dir, "");
	char name[65];
	snprintf(name, sizeof(name), "a-name-%057d", 0); /* 64 bytes: one too many */
	char *argv[] = { "netmesh", "--port", name };
	ck_error(parse_args(&cfg, 3, argv), "--port 'a-name");
	ck_assert_str_eq(cfg.port, "");
	free(path);
	free(text);
}
END_TEST

START_TEST(numbers_are_decimal)
{
	ck_assert_int_eq(parse(&cfg, "mtu 01500\nudp-port 0777\n"), 0);
	ck_assert_uint_eq(cfg.mtu, 1500);
	ck_assert_uint_eq(cfg.udp_port, 777);
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "udp-port 0x10\n"), "t.conf:1: udp-port '0x10': a decimal number in 1..65535");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "\nmtu 100\n"), "t.conf:2: mtu '100': a decimal number in 576..9000");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "burst 33\n"), "burst '33': a decimal number in 1..32");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "rxd 99999999999999999999999\n"), "rxd '9999");
}
END_TEST

/* The Prepare before a migration's snapshot: 5 ms unless set (0: off, upstream's way). */
START_TEST(migrate_prepare_ms)
{
	nm_config_init(&cfg);
	ck_assert_uint_eq(cfg.migrate_prepare_ms, 5);
	ck_assert_int_eq(parse(&cfg, "migrate-prepare-ms 0\n"), 0);
	ck_assert_uint_eq(cfg.migrate_prepare_ms, 0);
	nm_config_init(&cfg);
	ck_assert_int_eq(parse(&cfg, "migrate-prepare-ms 1000\n"), 0);
	ck_assert_uint_eq(cfg.migrate_prepare_ms, 1000);
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "\nmigrate-prepare-ms 1001\n"),
		 "t.conf:2: migrate-prepare-ms '1001': a decimal number in 0..1000");
}
END_TEST

/* ---- names, duplicates, sources ---- */

START_TEST(unknown_and_misplaced_keys)
{
	ck_error(parse(&cfg, "ip 127.0.0.1\ncolour blue\n"), "t.conf:2: colour 'blue': unknown option");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "config other.conf\n"), "t.conf:1: config 'other.conf': a command-line option only");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "show-identity\n"), "t.conf:1: show-identity: a command-line option only");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "ip\n"), "t.conf:1: ip: missing value");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "i$p 1\n"), "t.conf:1: 'i$p': not an option name");
	char *argv[] = { "netmesh", "--colour", "blue" };
	ck_error(parse_args(&cfg, 3, argv), "--colour: unknown option");
	char *argv2[] = { "netmesh", "-l", "0-1" };
	ck_error(parse_args(&cfg, 3, argv2), "EAL arguments go before '--'");
	char *argv3[] = { "netmesh", "--ip" };
	ck_error(parse_args(&cfg, 2, argv3), "--ip: missing value");
}
END_TEST

START_TEST(duplicates)
{
	ck_error(parse(&cfg, "ip 127.0.0.1\n# two\nip 127.0.0.9\n"),
		 "t.conf:3: ip '127.0.0.9': given twice (first at t.conf:1)");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "peer 127.0.0.2,node=1,node=2\n"), "t.conf:1: peer '127.0.0.2,node=1,node=2': node= given twice");
	nm_config_init(&cfg);
	ck_error(parse(&cfg, "worker-lcores 1,2,1\n"), "lcore 1 given twice");
	nm_config_init(&cfg);
	/* Repeatable options add up. */
	ck_assert_int_eq(parse(&cfg, "daemon echo:a.seed:1\ndaemon counter:b:c.seed:2\n"), 0);
	ck_assert_uint_eq(cfg.n_daemons, 2);
	ck_assert_str_eq(cfg.daemons[1].kind, "counter");
	ck_assert_str_eq(cfg.daemons[1].seed_file, "b:c.seed");
	ck_assert_uint_eq(cfg.daemons[1].lcore, 2);
	ck_assert_str_eq(cfg.daemons[1].where, "t.conf:2");
	char *argv[] = { "netmesh", "--ip", "127.0.0.1", "--ip=127.0.0.2" };
	ck_error(parse_args(&cfg, 4, argv), "--ip '127.0.0.2': given twice (first at --ip)");
}
END_TEST

START_TEST(command_line_overrides_the_file)
{
	char path[] = "/tmp/nm_test_config_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "ip 127.0.0.1\nmtu 1400\ndaemon echo:e.seed:1\n";
	ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	/* Before or after --config: the command line wins. */
	char *argv[] = { "netmesh", "--ip", "127.0.0.5", "--config", path, "--daemon=sink:s.seed:1",
			 "--split-keys" };
	ck_assert_int_eq(parse_args(&cfg, 7, argv), 0);
	ck_assert_uint_eq(cfg.ip, 0x7f000005);
	ck_assert_uint_eq(cfg.mtu, 1400);
	ck_assert_uint_eq(cfg.n_daemons, 2);
	ck_assert(cfg.use_split);
	ck_assert(!cfg.check);
	char *argv2[] = { "netmesh", "--check-config", path };
	ck_assert_int_eq(parse_args(&cfg2, 3, argv2), 0);
	ck_assert(cfg2.check);
	ck_assert_str_eq(cfg2.config_file, path);
	unlink(path);
	nm_config_init(&cfg);
	char *argv3[] = { "netmesh", "--config", path };
	ck_error(parse_args(&cfg, 3, argv3), "No such file");
}
END_TEST

START_TEST(help_wins_and_flags)
{
	char *argv[] = { "netmesh", "--colour", "-h" };
	ck_assert_int_eq(parse_args(&cfg, 3, argv), 0);
	ck_assert(cfg.help);
	ck_assert_int_eq(parse(&cfg2, "split-keys\n"), 0);
	ck_assert(cfg2.use_split);
	nm_config_init(&cfg2);
	ck_assert_int_eq(parse(&cfg2, "split-keys = no\n"), 0);
	ck_assert(!cfg2.use_split);
	nm_config_init(&cfg2);
	ck_error(parse(&cfg2, "split-keys maybe\n"), "t.conf:1: split-keys 'maybe': yes or no");
}
END_TEST

START_TEST(line_endings_nul_and_separators)
{
	ck_assert_int_eq(parse(&cfg, "ip=127.0.0.1\r\nmtu = 1400\r\n\tqueues\t2\r\n"), 0);
	ck_assert_uint_eq(cfg.ip, 0x7f000001);
	ck_assert_uint_eq(cfg.mtu, 1400);
	ck_assert_uint_eq(cfg.queues, 2);
	static const char nul[] = "ip 127.0.0.1\nmtu 15\0000\n";
	nm_config_init(&cfg);
	memset(&err, 0, sizeof(err));
	ck_assert_int_lt(nm_config_parse_buffer(&cfg, nul, sizeof(nul) - 1, "n.conf", &err), 0);
	ck_assert_msg(strstr(err.msg, "n.conf:2: NUL byte"), "%s", err.msg);
	nm_config_init(&cfg);
	ck_assert_int_eq(parse(&cfg, "ip 127.0.0.1"), 0); /* no final newline */
	ck_assert_int_eq(nm_config_parse_buffer(&cfg2, NULL, 0, "empty.conf", &err), 0);
}
END_TEST

START_TEST(peer_and_daemon_values)
{
	ck_error(parse(&cfg, "peer 127.0.0.2\n"), "node=HEX is required");
	ck_error(parse(&cfg, "peer 127.0.0.2,node=1,connect\n"), "connect needs static=HEX");
	ck_error(parse(&cfg, "peer 127.0.0.2,node=1,colour\n"), "unknown attribute 'colour'");
	ck_error(parse(&cfg, "peer 127.0.0.2:0,node=1\n"), "bad UDP port");
	ck_error(parse(&cfg, "peer 127.0.0.2@zz,node=1\n"), "bad MAC");
	ck_error(parse(&cfg, "peer 300.0.0.2,node=1\n"), "bad IPv4 address");
	ck_error(parse(&cfg, "peer 127.0.0.2,node=0\n"), "node= wants the node_id");
	ck_error(parse(&cfg, "peer 127.0.0.2,node=1,static=abc\n"), "static= wants 64 hex digits");
	ck_error(parse(&cfg, "daemon echo\n"), "KIND:SEEDFILE:LCORE");
	ck_error(parse(&cfg, "daemon echo:x.seed:\n"), "KIND:SEEDFILE:LCORE");
	ck_error(parse(&cfg, "daemon echo:x.seed:9999\n"), "LCORE is a lcore id");
	ck_error(parse(&cfg, "ip 0.0.0.0\n"), "0.0.0.0 is not an address");
	ck_assert_uint_eq(cfg.n_peers, 0);
	ck_assert_uint_eq(cfg.n_daemons, 0);
}
END_TEST

/* Garbage from config-ish bytes: a parse or an error naming its line, never a crash. */
START_TEST(garbage_gives_an_error_with_its_line)
{
	static const char alphabet[] = "ip port peer daemon keys=\"\\#,:@ \t\r\n0123456789abcdefx-.\x01";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char text[512];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0, want = (size_t)(x >> 55);
		while (len < want) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			text[len++] = alphabet[(x >> 33) % (sizeof(alphabet) - 1)];
		}
		nm_config_init(&cfg);
		memset(&err, 0, sizeof(err));
		if (nm_config_parse_buffer(&cfg, text, len, "g.conf", &err) < 0)
			ck_assert_msg(strncmp(err.msg, "g.conf:", 7) == 0, "%s", err.msg);
	}
}
END_TEST

/* What --check-config prints is a config that parses back to itself. */
START_TEST(print_parses_back)
{
	ck_assert_int_eq(parse(&cfg, "ip 127.0.0.1\nport 0\nqueues 2\nworker-lcores 1,2\n"
				     "keys \"/tmp/with space/k\"\npsk-file /tmp/p\\si\n"
				     "state-dir /tmp/st\nsnapshot-interval 30\nrxd 512\ntxd 256\n"
				     "burst 8\nsplit-keys yes\ndaemon \"echo:/tmp/e#.seed:2\"\n"
				     "peer 127.0.0.2:7000@02:00:00:00:00:09,node=1a,static=" STATIC_HEX
				     ",connect\n"),
			 0);
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	FILE *f = open_memstream(&a, &alen);
	nm_config_print(&cfg, f);
	fclose(f);
	ck_assert_int_eq(nm_config_parse_buffer(&cfg2, a, alen, "printed", &err), 0);
	f = open_memstream(&b, &blen);
	nm_config_print(&cfg2, f);
	fclose(f);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(cfg2.keys_dir, "/tmp/with space/k");
	ck_assert_str_eq(cfg2.psk_file, "/tmp/p\\si");
	ck_assert_str_eq(cfg2.daemons[0].seed_file, "/tmp/e#.seed");
	ck_assert_uint_eq(cfg2.burst, 8);
	ck_assert_uint_eq(cfg2.snapshot_interval, 30);
	ck_assert(strstr(a, "rxd                512\n") != NULL);
	free(a);
	free(b);
}
END_TEST

START_TEST(relative_paths_follow_the_file)
{
	memset(&err, 0, sizeof(err));
	const char *text = "keys k\npsk-file /abs/psk\ndaemon echo:e.seed:1\nstate-dir ../st\n";
	ck_assert_int_eq(nm_config_parse_buffer(&cfg, text, strlen(text), "etc/nm/n.conf", &err), 0);
	ck_assert_str_eq(cfg.keys_dir, "etc/nm/k");
	ck_assert_str_eq(cfg.psk_file, "/abs/psk");
	ck_assert_str_eq(cfg.daemons[0].seed_file, "etc/nm/e.seed");
	ck_assert_str_eq(cfg.state_dir, "etc/nm/../st");
	ck_assert_int_eq(nm_config_parse_buffer(&cfg2, "keys k\n", 7, "/n.conf", &err), 0);
	ck_assert_str_eq(cfg2.keys_dir, "/k");
	char *argv[] = { "netmesh", "--psk-file", "p" }; /* the command line: the current directory */
	ck_assert_int_eq(parse_args(&cfg, 3, argv), 0);
	ck_assert_str_eq(cfg.psk_file, "p");
}
END_TEST

START_TEST(sample_config_parses)
{
	ck_assert_ptr_nonnull(sample_path);
	memset(&err, 0, sizeof(err));
	ck_assert_msg(nm_config_parse_file(&cfg, sample_path, &err) == 0, "%s", err.msg);
	ck_assert_uint_ge(cfg.n_daemons, 1);
	ck_assert_uint_ne(cfg.ip, 0);
}
END_TEST

/* ---- validation on real files ---- */

static char dir[64];

static void write_file(const char *name, const char *bytes, size_t len, mode_t mode)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
	fclose(f);
	chmod(path, mode);
}

static void files_setup(void)
{
	setup();
	snprintf(dir, sizeof(dir), "/tmp/nm_test_config_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_file("psk", "0123456789abcdef0123456789abcdef", 32, 0600);
	write_file("a.seed", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32, 0600);
	write_file("b.seed", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 32, 0600);
}

static void files_teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A valid config on the temp files, plus `extra`. */
static int parse_valid(const char *extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "ip 127.0.0.1\nkeys %s/keys\npsk-file %s/psk\ndaemon echo:%s/a.seed:1\n%s", dir,
		 dir, dir, extra);
	return parse(&cfg, text);
}

static int validate(void)
{
	memset(&err, 0, sizeof(err));
	return nm_config_validate(&cfg, &err);
}

START_TEST(validate_good)
{
	ck_assert_int_eq(parse_valid(""), 0);
	ck_assert_msg(validate() == 0, "%s", err.msg);
	ck_assert_uint_ne(cfg.daemons[0].origin, 0);
}
END_TEST

START_TEST(validate_required)
{
	char text[128];
	ck_error(validate(), "--keys DIR is required");
	snprintf(text, sizeof(text), "keys %s\n", dir);
	ck_assert_int_eq(parse(&cfg, text), 0);
	ck_error(validate(), "--ip A.B.C.D is required");
	cfg.show_identity = true;
	ck_assert_int_eq(validate(), 0);
	cfg.show_identity = false;
	ck_assert_int_eq(parse(&cfg, "ip 127.0.0.1\n"), 0);
	ck_error(validate(), "--psk-file FILE is required");
}
END_TEST

START_TEST(validate_psk_permissions)
{
	ck_assert_int_eq(parse_valid(""), 0);
	write_file("psk", "0123456789abcdef0123456789abcdef", 32, 0640);
	ck_error(validate(), "t.conf:3: psk-file");
	ck_assert_msg(strstr(err.msg, "mode 0640 gives group/other access"), "%s", err.msg);
	write_file("psk", "short", 5, 0600);
	ck_error(validate(), "expected 32 raw bytes or 64 hex digits");
}
END_TEST

START_TEST(validate_key_dir)
{
	char path[128];
	ck_assert_int_eq(parse_valid(""), 0);
	snprintf(path, sizeof(path), "%s/keys", dir);
	ck_assert_int_eq(mkdir(path, 0770), 0);
	chmod(path, 0770);
	ck_error(validate(), "t.conf:2: keys");
	ck_assert_msg(strstr(err.msg, "group/other writable"), "%s", err.msg);
	chmod(path, 0700);
	write_file("keys/noise.key", "0123456789abcdef0123456789abcdef", 32, 0644);
	ck_error(validate(), "noise.key: mode 0644");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse(&cfg, "keys /nonexistent/parent/keys\n"), 0);
	ck_error(validate(), "its parent '/nonexistent/parent'");
}
END_TEST

START_TEST(validate_sizes_and_lcores)
{
	ck_assert_int_eq(parse_valid("queues 2\nworker-lcores 1\n"), 0);
	ck_error(validate(), "t.conf:6: worker-lcores: 1 lcore(s) for 2 queue(s)");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("worker-lcores 2\n"), 0);
	ck_error(validate(), "t.conf:4: daemon");
	ck_assert_msg(strstr(err.msg, "lcore 1 is not a worker lcore (worker-lcores)"), "%s", err.msg);
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("mbufs 2048\n"), 0);
	ck_error(validate(), "t.conf:5: mbufs: 2048 mbufs, but the rings alone hold 2048");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("rxd 8000\n"), 0);
	ck_error(validate(), "--mbufs: 8191 mbufs");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("snapshot-interval 5\n"), 0);
	ck_error(validate(), "t.conf:5: snapshot-interval: needs state-dir");
}
END_TEST

START_TEST(validate_daemons_and_peers)
{
	char extra[256];
	snprintf(extra, sizeof(extra), "daemon counter:%s/a.seed:1\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "t.conf:5: daemon");
	ck_assert_msg(strstr(err.msg, "as the daemon at t.conf:4"), "%s", err.msg);
	nm_config_init(&cfg);
	snprintf(extra, sizeof(extra), "daemon counter:%s/missing.seed:1\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "missing.seed");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("peer 127.0.0.2,node=1\npeer 127.0.0.2:7777,node=2\n"), 0);
	ck_error(validate(), "t.conf:6: peer: same address as the peer at t.conf:5");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("peer 127.0.0.2,node=1\npeer 127.0.0.3,node=1\n"), 0);
	ck_error(validate(), "same node= as the peer at t.conf:5");
	nm_config_init(&cfg);
	ck_assert_int_eq(parse_valid("peer 127.0.0.1,node=1\n"), 0);
	ck_error(validate(), "our own address");
}
END_TEST

static bool eal_has(unsigned lc)
{
	return cfg.eal.lcores[lc / 64] >> (lc % 64) & 1;
}

static void eal_args(const char *a, const char *b, const char *c)
{
	char *argv[] = { "netmesh", (char *)a, (char *)b, (char *)c };
	int argc = 1 + (a != NULL) + (b != NULL) + (c != NULL);
	nm_config_eal_lcores(&cfg, argc, argv);
}

START_TEST(eal_lcores_from_eal_arguments)
{
	eal_args("-l", "0-1", NULL);
	ck_assert(cfg.eal.known && eal_has(0) && eal_has(1) && !eal_has(2));
	ck_assert_uint_eq(cfg.eal.main_lcore, 0);
	eal_args("--lcores=0@0,1@1", "-m", "256");
	ck_assert(cfg.eal.known && eal_has(0) && eal_has(1) && !eal_has(2));
	eal_args("--lcores", "(0-2)@0,4@(0,1)", "--main-lcore=2");
	ck_assert(cfg.eal.known && eal_has(1) && eal_has(2) && eal_has(4) && !eal_has(3));
	ck_assert_uint_eq(cfg.eal.main_lcore, 2);
	eal_args("-c", "0x5", NULL);
	ck_assert(cfg.eal.known && eal_has(0) && !eal_has(1) && eal_has(2));
	eal_args("-l3,5", NULL, NULL);
	ck_assert(cfg.eal.known && eal_has(3) && eal_has(5) && !eal_has(4));
	ck_assert_uint_eq(cfg.eal.main_lcore, 3);
	eal_args("-l", "1-x", NULL);
	ck_assert(!cfg.eal.known); /* unreadable: EAL will say */
	eal_args("-l", "0-1", "--main-lcore=5");
	ck_assert(!cfg.eal.known); /* main not among them: EAL refuses it */
	eal_args(NULL, NULL, NULL); /* EAL's default: the CPUs we may run on */
	ck_assert(cfg.eal.known);
}
END_TEST

START_TEST(validate_against_eal_lcores)
{
	eal_args("-l", "0", NULL);
	ck_assert_int_eq(parse_valid(""), 0);
	ck_error(validate(), "--queues: 1 queue(s) need as many EAL worker lcores; EAL lcores 0 with main 0 leave 0");
	nm_config_init(&cfg);
	eal_args("-l", "0-1", NULL);
	ck_assert_int_eq(parse_valid("worker-lcores 2\n"), 0);
	ck_error(validate(), "t.conf:5: worker-lcores: lcore 2 is not an EAL worker lcore (EAL lcores 0-1, main 0)");
	nm_config_init(&cfg);
	eal_args("--lcores=0-2,7", NULL, NULL);
	ck_assert_int_eq(parse_valid(""), 0);
	ck_assert_msg(validate() == 0, "%s", err.msg); /* the daemon's lcore 1 is the first worker */
	nm_config_init(&cfg);
	eal_args("-l", "0-2", NULL);
	char extra[256];
	snprintf(extra, sizeof(extra), "daemon counter:%s/b.seed:2\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "t.conf:5: daemon");
	ck_assert_msg(strstr(err.msg, "lcore 2 is not a worker lcore (the first EAL worker lcores)"), "%s", err.msg);
	nm_config_init(&cfg);
	eal_args("-l", "0-2", NULL);
	ck_assert_int_eq(parse_valid(extra), 0);
	cfg.queues = 2;
	ck_assert_msg(validate() == 0, "%s", err.msg);
}
END_TEST

/* The start-time check of --rxd/--txd against a device's limits (nm_port). */
START_TEST(descriptors_against_device_limits)
{
	struct rte_eth_dev_info info;
	memset(&info, 0, sizeof(info));
	info.driver_name = "net_test";
	info.rx_desc_lim = (struct rte_eth_desc_lim){ .nb_max = 4096, .nb_min = 64, .nb_align = 32 };
	info.tx_desc_lim = (struct rte_eth_desc_lim){ .nb_max = 1024, .nb_min = 64, .nb_align = 1 };
	ck_assert_int_eq(nm_port_check_desc(&info, 3, 1024, 1024, &err), 0);
	ck_assert_int_eq(nm_port_check_desc(&info, 3, 100, 512, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "port 3 (net_test): 100 rx descriptors asked, the device takes "
				  "64..4096 in multiples of 32");
	ck_assert_int_eq(nm_port_check_desc(&info, 3, 8192, 512, &err), -EINVAL);
	ck_assert_int_eq(nm_port_check_desc(&info, 3, 4096, 2048, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "2048 tx descriptors"), "%s", err.msg);
	ck_assert_int_eq(nm_port_check_desc(&info, 3, 32, 64, &err), -EINVAL);
}
END_TEST

/* ---- the operator front ends: -i, --cmdline-file, --ctl-socket ---- */

START_TEST(frontend_options)
{
	char *argv[] = { "netmesh", "-i", "--cmdline-file", "/tmp/x.cmds", "--ctl-socket=/tmp/n.sock",
			 NULL };
	ck_assert_msg(parse_args(&cfg, 5, argv) == 0, "%s", err.msg);
	ck_assert(cfg.interactive);
	ck_assert_str_eq(cfg.cmdline_file, "/tmp/x.cmds");
	ck_assert_str_eq(cfg.ctl_socket, "/tmp/n.sock");
	char *argv2[] = { "netmesh", "--interactive", NULL };
	ck_assert_int_eq(parse_args(&cfg2, 2, argv2), 0);
	ck_assert(cfg2.interactive);
	/* Relative to the file in a file; interactive is command-line only. */
	nm_config_init(&cfg2);
	const char *text0 = "cmdline-file start.cmds\nctl-socket run/s\n";
	ck_assert_int_eq(nm_config_parse_buffer(&cfg2, text0, strlen(text0), "/etc/nm/a.conf", &err),
			 0);
	ck_assert_str_eq(cfg2.cmdline_file, "/etc/nm/start.cmds");
	ck_assert_str_eq(cfg2.ctl_socket, "/etc/nm/run/s");
	nm_config_init(&cfg2);
	ck_error(parse(&cfg2, "interactive\n"), "t.conf:1: interactive: a command-line option only");
	ck_error(parse(&cfg2, "cmdline-file\n"), "t.conf:1: cmdline-file: missing value (FILE)");
	/* sun_path: 107 bytes at most, counted after the path is resolved. */
	char val[160], text[200];
	memset(val, 's', sizeof(val));
	val[107] = '\0';
	snprintf(text, sizeof(text), "ctl-socket /%s\n", val + 1);
	ck_assert_int_eq(parse(&cfg2, text), 0);
	nm_config_init(&cfg2);
	val[107] = 's', val[108] = '\0';
	snprintf(text, sizeof(text), "ctl-socket /%s\n", val + 1);
	ck_error(parse(&cfg2, text), "a UNIX socket path has at most 107 bytes (this one is 108");
	/* Printed back. */
	char *a = NULL;
	size_t alen = 0;
	FILE *f = open_memstream(&a, &alen);
	nm_config_print(&cfg, f);
	fclose(f);
	ck_assert(strstr(a, "cmdline-file       /tmp/x.cmds\nctl-socket         /tmp/n.sock\n") != NULL);
	free(a);
}
END_TEST

START_TEST(validate_frontends)
{
	char extra[600];
	snprintf(extra, sizeof(extra), "cmdline-file %s/none.cmds\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "none.cmds': No such file or directory");
	nm_config_init(&cfg);
	snprintf(extra, sizeof(extra), "cmdline-file %s\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "not a readable regular file");
	nm_config_init(&cfg);
	snprintf(extra, sizeof(extra), "ctl-socket %s/psk\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "exists and is not a socket");
	nm_config_init(&cfg);
	snprintf(extra, sizeof(extra), "ctl-socket %s/nodir/s\n", dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_error(validate(), "its directory does not exist");
	nm_config_init(&cfg);
	write_file("ok.cmds", "show stats\n", 11, 0600);
	snprintf(extra, sizeof(extra), "cmdline-file %s/ok.cmds\nctl-socket %s/s\n", dir, dir);
	ck_assert_int_eq(parse_valid(extra), 0);
	ck_assert_msg(validate() == 0, "%s", err.msg);
}
END_TEST

/* nm_config_parse_peer: the --peer syntax for `peer add`, the same errors. */
START_TEST(parse_peer_alone)
{
	struct nm_config_peer pe;
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(nm_config_parse_peer("127.0.0.9:7001,node=ab,static=" STATIC_HEX ",connect",
					      "peer add", &pe, &err), 0);
	ck_assert_uint_eq(pe.ip, 0x7f000009);
	ck_assert_uint_eq(pe.port, 7001);
	ck_assert_uint_eq(pe.node_id, 0xab);
	ck_assert(pe.connect && pe.has_static);
	ck_error(nm_config_parse_peer("127.0.0.9,node=zz", "peer add", &pe, &err),
		 "peer add: peer '127.0.0.9,node=zz': node= wants the node_id");
	ck_error(nm_config_parse_peer("127.0.0.9", "--peer", &pe, &err),
		 "--peer '127.0.0.9': node=HEX is required");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, peer_line_with_equals);
	tcase_add_test(tc, line_of_600_bytes_is_one_line);
	tcase_add_test(tc, extra_tokens_are_errors);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, long_peer_and_lcores_are_not_cut);
	tcase_add_test(tc, over_long_values_are_rejected);
	tcase_add_test(tc, numbers_are_decimal);
	tcase_add_test(tc, migrate_prepare_ms);
	tcase_add_test(tc, unknown_and_misplaced_keys);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, command_line_overrides_the_file);
	tcase_add_test(tc, help_wins_and_flags);
	tcase_add_test(tc, line_endings_nul_and_separators);
	tcase_add_test(tc, peer_and_daemon_values);
	tcase_add_test(tc, garbage_gives_an_error_with_its_line);
	tcase_add_test(tc, print_parses_back);
	tcase_add_test(tc, relative_paths_follow_the_file);
	tcase_add_test(tc, sample_config_parses);
	tcase_add_test(tc, descriptors_against_device_limits);
	tcase_add_test(tc, eal_lcores_from_eal_arguments);
	tcase_add_test(tc, frontend_options);
	tcase_add_test(tc, parse_peer_alone);
	suite_add_tcase(s, tc);
	TCase *tv = tcase_create("validate");
	tcase_add_checked_fixture(tv, files_setup, files_teardown);
	tcase_add_test(tv, validate_good);
	tcase_add_test(tv, validate_required);
	tcase_add_test(tv, validate_psk_permissions);
	tcase_add_test(tv, validate_key_dir);
	tcase_add_test(tv, validate_sizes_and_lcores);
	tcase_add_test(tv, validate_daemons_and_peers);
	tcase_add_test(tv, validate_against_eal_lcores);
	tcase_add_test(tv, validate_frontends);
	suite_add_tcase(s, tv);
	return s;
}

int main(int argc, char **argv)
{
	sample_path = argc > 1 ? argv[1] : NULL;
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

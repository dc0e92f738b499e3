/* SPDX-License-Identifier: MIT */
/*
 * nm_config.h - the appliance's options: one struct filled from the command
 * line and config files, then validated, then printed by --check-config.
 *
 * Config file syntax (docs/operations.md, "Config"): one option per line,
 * `name value`, `name=value` or `name = value`, the same names as the long
 * options. A value with spaces, '#' or quotes is written "..." with \" and
 * \\ as the only escapes; '#' outside quotes starts a comment; lines may be
 * of any length. A flag (split-keys) takes no value or yes/no.
 *
 * Every problem is an error that names its place: "FILE:LINE: name 'value':
 * reason" for a file, "--name 'value': reason" for the command line. Nothing
 * is cut to fit: an over-long value, an extra token, an unknown option or a
 * single-valued option given twice in one source is an error. Command-line
 * options override the config file's (whatever their order). A relative path
 * in a config file (keys, psk-file, state-dir, a daemon's seed file) is
 * relative to the file's directory; on the command line, to the current one.
 *
 * No EAL: parsing and validation touch files only, so tests, fuzzers and
 * --check-config drive them without DPDK set up.
 */
#ifndef NM_CONFIG_H
#define NM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_config.h>
#include <rte_ether.h>

#include "nm_error.h"
#include "nm_port.h"

#define NM_CONFIG_MAX_DAEMONS 64
#define NM_CONFIG_MAX_PEERS 64
#define NM_CONFIG_PATH_MAX PATH_MAX   /* with the NUL */
#define NM_CONFIG_PORT_MAX 64         /* RTE_ETH_NAME_MAX_LEN, with the NUL */
#define NM_CONFIG_WHERE_MAX (NM_CONFIG_PATH_MAX + 24) /* "FILE:LINE" or "--name" */
#define NM_CONFIG_VALUE_MAX (NM_CONFIG_PATH_MAX + 64) /* longest value a lexer keeps */

struct nm_config_daemon {
	char kind[NM_KIND_MAX + 1];
	char seed_file[NM_CONFIG_PATH_MAX];
	unsigned lcore;
	uint64_t origin;  /* set by nm_config_validate from the seed */
	char where[NM_CONFIG_WHERE_MAX];
};

/* --accept KIND:LCORE: inbound migrations of this kind are taken onto this worker lcore. */
struct nm_config_accept {
	char kind[NM_KIND_MAX + 1];
	unsigned lcore;
};
#define NM_CONFIG_MAX_ACCEPT 16

struct nm_config_peer {
	uint32_t ip;    /* host order */
	uint16_t port;
	bool has_mac;
	struct rte_ether_addr mac;
	uint64_t node_id;
	bool has_static;
	uint8_t static_pub[32];
	bool connect;
	char where[NM_CONFIG_WHERE_MAX];
};

/* One per single-valued option: which source set it, and where. */
struct nm_config_origin {
	int source; /* 0: default */
	char where[NM_CONFIG_WHERE_MAX];
};

#define NM_CONFIG_N_OPTIONS 32
#define NM_CONFIG_LCORE_WORDS ((RTE_MAX_LCORE + 63) / 64)

/* The lcores EAL will have, read from its arguments before it starts. */
struct nm_config_eal {
	bool known;                              /* false: not checked (unknown syntax) */
	uint64_t lcores[NM_CONFIG_LCORE_WORDS];  /* bit n: lcore n */
	unsigned main_lcore;
};

struct nm_app_config {
	char port[NM_CONFIG_PORT_MAX]; /* ethdev name or port id; "": the first port */
	uint32_t ip;                   /* host order; required */
	uint16_t udp_port;
	uint16_t queues;
	unsigned lcores[NM_PORT_MAX_QUEUES];
	unsigned n_lcores;             /* 0: the first EAL worker lcores */
	uint16_t mtu;
	uint32_t n_mbufs;
	uint16_t rx_desc, tx_desc;     /* per queue */
	uint16_t burst;                /* 1..NM_BURST packets per rx/tx burst */
	unsigned stats_period;         /* seconds; 0: off */
	char psk_file[NM_CONFIG_PATH_MAX];
	char keys_dir[NM_CONFIG_PATH_MAX];
	/* State-dir and snapshot-interval behaviour comes from the statedir branch. */
	char state_dir[NM_CONFIG_PATH_MAX];
	unsigned snapshot_interval;    /* seconds; 0: only on a graceful stop */
	bool use_split;
	struct nm_config_daemon daemons[NM_CONFIG_MAX_DAEMONS];
	unsigned n_daemons;
	struct nm_config_peer peers[NM_CONFIG_MAX_PEERS];
	unsigned n_peers;
	struct nm_config_accept accepts[NM_CONFIG_MAX_ACCEPT];
	unsigned n_accepts;
	unsigned idle_sleep_us;        /* 0: workers busy-poll */
	unsigned migrate_prepare_ms;   /* nm_mig_opts.prepare_ms of the starts here; 0: none */
	/* Operator front ends (app_console.h, app_ctlsock.h). */
	bool interactive;                        /* -i: the netmesh> prompt (command line only) */
	char cmdline_file[NM_CONFIG_PATH_MAX];   /* commands run at start; "": none */
	char ctl_socket[NM_CONFIG_PATH_MAX];     /* the control socket; "": none */

	struct nm_config_eal eal;      /* nm_config_eal_lcores */

	/* Actions, command line only. */
	bool help;
	bool show_identity;
	bool check;                              /* --check-config */
	char config_file[NM_CONFIG_PATH_MAX];    /* --config / --check-config FILE */

	/* Parser state. */
	char base_dir[NM_CONFIG_PATH_MAX];      /* the config file's directory while it is read */
	int source;                              /* of the option being applied */
	int n_sources;
	struct nm_config_origin origins[NM_CONFIG_N_OPTIONS];
};

/* Defaults (udp-port 7777, queues 1, mtu 1500, ...); nothing else set. */
void nm_config_init(struct nm_app_config *cfg);

/*
 * Apply one option by its long name (without "--"). `where` names the place
 * for messages and duplicate checks: "FILE:LINE" or "--name". A flag's value
 * may be NULL (set) or yes/no/true/false/on/off/1/0. 0 or -EINVAL with err.
 */
int nm_config_apply(struct nm_app_config *cfg, const char *name, const char *value,
		    const char *where, struct nm_error *err);

/* A config file's bytes (not NUL-terminated; a NUL byte is an error). */
int nm_config_parse_buffer(struct nm_app_config *cfg, const char *text, size_t len,
			   const char *filename, struct nm_error *err);

/* Read FILE whole and parse it (one new source). */
int nm_config_parse_file(struct nm_app_config *cfg, const char *path, struct nm_error *err);

/*
 * The application's arguments: argv[0] is the program, then --name value,
 * --name=value, flags, -h. --config/--check-config FILE is read first, so the
 * rest override it.
 */
int nm_config_parse_argv(struct nm_app_config *cfg, int argc, char **argv, struct nm_error *err);

/*
 * Everything that can be checked without EAL: required options; lcores vs
 * queues and daemons (and vs EAL's lcores when cfg->eal.known); mbufs vs
 * descriptors; the key directory and PSK file (exist, regular, no
 * group/other access: the nm_keys rules); the PSK and seed files parse
 * (fills each daemon's origin); duplicate daemons and peers; state-dir.
 * With show_identity only the key directory is checked.
 */
int nm_config_validate(struct nm_app_config *cfg, struct nm_error *err);

/*
 * The lcores EAL will have, from its own arguments (argv[1..argc-1]): -l,
 * --lcores, -c, --main-lcore; with none of them, the CPUs this process may
 * run on (EAL's default). Then nm_config_validate checks worker-lcores, the
 * queues' worker count and the daemons' lcores against them, before EAL. An
 * argument it cannot read leaves cfg->eal.known false (those checks wait
 * for EAL).
 */
void nm_config_eal_lcores(struct nm_app_config *cfg, int argc, char **argv);

/*
 * One peer in --peer syntax, IP[:PORT][@MAC],node=HEX[,static=HEX][,connect]
 * (the console's `peer add`). Errors read "WHERE 'value': reason" (WHERE
 * starting with '-') or "WHERE: peer 'value': reason".
 */
int nm_config_parse_peer(const char *value, const char *where, struct nm_config_peer *out,
			 struct nm_error *err);

/* What would run, in config-file syntax (parses back to the same config). */
void nm_config_print(const struct nm_app_config *cfg, FILE *out);

/* The options with their help text (--help). */
void nm_config_usage(FILE *out, const char *prog);

/*
 * Where the application's arguments start: after "--", or 1 when argv has no
 * "--" (then EAL gets argv[0] only). *eal_argc is what EAL gets.
 */
int nm_config_app_args(int argc, char **argv, int *eal_argc);

#endif /* NM_CONFIG_H */

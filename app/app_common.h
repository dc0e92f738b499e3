/* SPDX-License-Identifier: MIT */
/* app_common.h - what the netmesh binaries share: signals, parsing, key files. */
#ifndef APP_COMMON_H
#define APP_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

/* Set by the first SIGINT/SIGTERM; a second one exits at once. */
extern atomic_bool app_force_quit;

/* Install the handlers (sigaction without SA_RESTART). */
void app_signals_init(const char *prog);

/* "10.0.0.1" -> host order. 0 on success, -EINVAL otherwise. */
int app_parse_ipv4(const char *s, uint32_t *ip);
/* "02:00:00:00:00:01". */
int app_parse_mac(const char *s, struct rte_ether_addr *mac);
/* Whole decimal number in [min, max]. */
int app_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* 1..16 hex digits, optional 0x: a node_id or origin_hash as the tools print them. */
int app_parse_hex_u64(const char *s, uint64_t *out);
/* Exactly 64 hex digits: a 32-byte key as --show-identity prints it. */
int app_parse_hex32(const char *s, uint8_t out[32]);

/* 32 bytes from a file: raw, or 64 hex digits (+ optional newline). */
int app_read_key32(const char *path, uint8_t key[32]);

struct nm_keys;
/* nm_keys_load_or_create, with the reason printed on stderr. */
int app_load_keys(const char *dir, struct nm_keys *keys);
/* --show-identity: load (or create) the key directory and print its identity. */
int app_show_identity(const char *dir);

/*
 * A 5 us timer slack for this thread and every thread created after it (call
 * before rte_eal_init): a short nap (a control thread's 20 us, an idle
 * worker's --idle-sleep-us, the wire's 20 us) must not each gain the kernel's
 * default 50 us. A failure is printed, not fatal.
 */
void app_timer_slack(const char *prog);

/* Sleep on the control thread without spinning (testpmd style). */
void app_sleep_ms(unsigned ms);

#endif /* APP_COMMON_H */

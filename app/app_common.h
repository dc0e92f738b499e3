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

/* 32 bytes from a file: raw, or 64 hex digits (+ optional newline). */
int app_read_key32(const char *path, uint8_t key[32]);

/* Sleep on the control thread without spinning (testpmd style). */
void app_sleep_ms(unsigned ms);

#endif /* APP_COMMON_H */

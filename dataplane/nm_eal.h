/* SPDX-License-Identifier: MIT */
/*
 * nm_eal.h - DPDK environment setup without DPDK headers, for programs that
 * embed the runtime (tests, examples, out-of-tree daemons).
 */
#ifndef NM_EAL_H
#define NM_EAL_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * rte_eal_init(): returns the number of arguments consumed (>= 0) or a
 * negative errno. EAL can be initialised once per process.
 */
int nm_eal_init(int argc, char **argv);

/* The port nm_eal_init_dev's defaults create. */
#define NM_EAL_DEV_PORT "net_null0"

/*
 * nm_eal_init, except that a program run without arguments (argc == 1) gets
 * development defaults: no hugepages, no PCI, lcore 0, one net_null0 port,
 * quiet EAL logs. For examples and embedding programs; the appliance takes
 * real EAL arguments.
 */
int nm_eal_init_dev(int argc, char **argv);

/* rte_eal_cleanup(): 0 or a negative errno. */
int nm_eal_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif /* NM_EAL_H */

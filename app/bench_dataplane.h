/* SPDX-License-Identifier: MIT */
/* bench_dataplane.h - the `dataplane` part of netmesh-bench (see bench_dataplane.c). */
#ifndef BENCH_DATAPLANE_H
#define BENCH_DATAPLANE_H

/*
 * Needs EAL with one worker lcore (e.g. --lcores=0@0,1@1) and the net_pcap
 * PMD; the ports are hot-plugged. Runs every case, or only `only` ("1x64",
 * "50x64"; for profiling). Prints `name: value unit` lines; returns an exit
 * status.
 */
int bench_dataplane_part(const char *only);

#endif /* BENCH_DATAPLANE_H */

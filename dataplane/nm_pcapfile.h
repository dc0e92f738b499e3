/* SPDX-License-Identifier: MIT */
/*
 * nm_pcapfile.h - classic pcap capture files (Ethernet link type), without
 * libpcap: the benchmark and the golden test write the captures net_pcap
 * replays, and read back the ones it writes.
 *
 * Written files use the nanosecond magic (a1b23c4d, as net_pcap's TX dumper
 * does); both the microsecond and nanosecond magics are read, in either byte
 * order. Only whole records are accepted (caplen == len): a cut capture would
 * silently compare as a different packet.
 */
#ifndef NM_PCAPFILE_H
#define NM_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NM_PCAP_SNAPLEN 65535u

struct nm_pcap_writer {
	FILE *f;
};

/* Create (truncate) `path` and write the file header. 0 or a negative errno. */
int nm_pcap_writer_open(struct nm_pcap_writer *w, const char *path);

/* Append one frame (1..NM_PCAP_SNAPLEN bytes) stamped ts_ns. 0 or a negative errno. */
int nm_pcap_writer_add(struct nm_pcap_writer *w, const void *frame, uint32_t len, uint64_t ts_ns);

/* Flush and close; reports a failed write. 0 or a negative errno. */
int nm_pcap_writer_close(struct nm_pcap_writer *w);

struct nm_pcap_reader {
	FILE *f;
	bool swapped; /* file written on the other byte order */
	bool nsec;    /* timestamps in ns (else us) */
};

/*
 * Open and check the file header: -ENOENT (and other open errors),
 * -EBADMSG for a short header or an unknown magic, -EPROTONOSUPPORT when the
 * link type is not Ethernet.
 */
int nm_pcap_reader_open(struct nm_pcap_reader *r, const char *path);

/*
 * Next record into buf: 1 with *len (and *ts_ns, may be NULL), 0 at the end
 * of the file, -EBADMSG for a truncated record or caplen != len, -EMSGSIZE
 * when the record does not fit cap.
 */
int nm_pcap_reader_next(struct nm_pcap_reader *r, uint8_t *buf, size_t cap, uint32_t *len,
			uint64_t *ts_ns);

void nm_pcap_reader_close(struct nm_pcap_reader *r);

#endif /* NM_PCAPFILE_H */

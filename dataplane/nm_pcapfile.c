/* SPDX-License-Identifier: MIT */
/* nm_pcapfile.c - classic pcap files (see header). */
#include "nm_pcapfile.h"

#include <errno.h>
#include <string.h>

#include "nm_le.h"

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du
#define LINKTYPE_ETHERNET 1u
#define FILE_HDR_LEN 24
#define REC_HDR_LEN 16

static int write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

int nm_pcap_writer_open(struct nm_pcap_writer *w, const char *path)
{
	if (w == NULL || path == NULL)
		return -EINVAL;
	w->f = fopen(path, "wb");
	if (w->f == NULL)
		return -errno;
	uint8_t h[FILE_HDR_LEN];
	nm_put_le32(h, MAGIC_NS);
	nm_put_le16(h + 4, 2); /* version 2.4 */
	nm_put_le16(h + 6, 4);
	nm_put_le32(h + 8, 0);  /* thiszone */
	nm_put_le32(h + 12, 0); /* sigfigs */
	nm_put_le32(h + 16, NM_PCAP_SNAPLEN);
	nm_put_le32(h + 20, LINKTYPE_ETHERNET);
	int rc = write_all(w->f, h, sizeof(h));
	if (rc < 0) {
		fclose(w->f);
		w->f = NULL;
	}
	return rc;
}

int nm_pcap_writer_add(struct nm_pcap_writer *w, const void *frame, uint32_t len, uint64_t ts_ns)
{
	if (w == NULL || w->f == NULL || frame == NULL || len == 0 || len > NM_PCAP_SNAPLEN)
		return -EINVAL;
	uint8_t h[REC_HDR_LEN];
	nm_put_le32(h, (uint32_t)(ts_ns / 1000000000u));
	nm_put_le32(h + 4, (uint32_t)(ts_ns % 1000000000u));
	nm_put_le32(h + 8, len); /* caplen */
	nm_put_le32(h + 12, len);
	int rc = write_all(w->f, h, sizeof(h));
	return rc < 0 ? rc : write_all(w->f, frame, len);
}

int nm_pcap_writer_close(struct nm_pcap_writer *w)
{
	if (w == NULL || w->f == NULL)
		return -EINVAL;
	int rc = fflush(w->f) == 0 && !ferror(w->f) ? 0 : -EIO;
	if (fclose(w->f) != 0 && rc == 0)
		rc = -EIO;
	w->f = NULL;
	return rc;
}

static uint32_t get32(const struct nm_pcap_reader *r, const uint8_t *p)
{
	uint32_t v = nm_get_le32(p);
	return r->swapped ? __builtin_bswap32(v) : v;
}

int nm_pcap_reader_open(struct nm_pcap_reader *r, const char *path)
{
	if (r == NULL || path == NULL)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	if (r->f == NULL)
		return -errno;
	uint8_t h[FILE_HDR_LEN];
	int rc = 0;
	if (fread(h, 1, sizeof(h), r->f) != sizeof(h)) {
		rc = -EBADMSG;
		goto fail;
	}
	uint32_t magic = nm_get_le32(h);
	if (magic == MAGIC_US || magic == MAGIC_NS) {
		r->nsec = magic == MAGIC_NS;
	} else if (__builtin_bswap32(magic) == MAGIC_US || __builtin_bswap32(magic) == MAGIC_NS) {
		r->swapped = true;
		r->nsec = __builtin_bswap32(magic) == MAGIC_NS;
	} else {
		rc = -EBADMSG;
		goto fail;
	}
	if (get32(r, h + 20) != LINKTYPE_ETHERNET) {
		rc = -EPROTONOSUPPORT;
		goto fail;
	}
	return 0;
fail:
	fclose(r->f);
	r->f = NULL;
	return rc;
}

int nm_pcap_reader_next(struct nm_pcap_reader *r, uint8_t *buf, size_t cap, uint32_t *len,
			uint64_t *ts_ns)
{
	if (r == NULL || r->f == NULL || buf == NULL || len == NULL)
		return -EINVAL;
	uint8_t h[REC_HDR_LEN];
	size_t got = fread(h, 1, sizeof(h), r->f);
	if (got == 0 && feof(r->f))
		return 0;
	if (got != sizeof(h))
		return -EBADMSG;
	uint32_t caplen = get32(r, h + 8), wire_len = get32(r, h + 12);
	if (caplen != wire_len || caplen > NM_PCAP_SNAPLEN)
		return -EBADMSG;
	if (caplen > cap)
		return -EMSGSIZE;
	if (fread(buf, 1, caplen, r->f) != caplen)
		return -EBADMSG;
	*len = caplen;
	if (ts_ns != NULL)
		*ts_ns = (uint64_t)get32(r, h) * 1000000000u +
			 (uint64_t)get32(r, h + 4) * (r->nsec ? 1u : 1000u);
	return 1;
}

void nm_pcap_reader_close(struct nm_pcap_reader *r)
{
	if (r != NULL && r->f != NULL) {
		fclose(r->f);
		r->f = NULL;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * test_pcap_golden.c - the dataplane on net_pcap against a committed golden
 * output.
 *
 * The test writes a deterministic capture (fixed keys, session id, counters,
 * daemon identity from a fixed seed, fixed events, plus three bad packets),
 * hot-plugs net_pcap with rx_pcap=<in>,tx_pcap=<out> in a temporary
 * directory, runs one echo daemon on the one worker until every input is
 * handled, stops, and then
 *   - opens every output packet with the session key and checks it on its
 *     own: addresses, IP ids, counters, NetHeader fields, the echoed
 *     payloads in input order, and the causal chain recomputed here from
 *     XXH3 (not through nm_causal);
 *   - compares the output frames' bytes (not the pcap record timestamps) to
 *     tests/golden/pcap_echo_tx.hex;
 *   - runs the same capture on a second port and checks the same bytes come
 *     out (only the source MAC, which net_pcap numbers per port, differs).
 * Nothing on the wire depends on time: received_at and last_rx_ns are not
 * sent, and IP ids, AEAD counters, sequences and the horizon bloom all
 * follow from the input.
 *
 * Recording: the golden file is produced by this test. After a deliberate
 * wire change, run
 *     NM_GOLDEN_RECORD=1 meson test -C build pcap-golden
 * which rewrites the file (meson passes its path as argv[1]) once the checks
 * above pass, then review the diff (each frame has a comment line) and
 * commit it.
 *
 * EAL is initialised once in main (no fork mode), with the one worker on
 * lcore 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <xxhash.h>

#include "nm_builtin.h"
#include "nm_dataplane.h"
#include "nm_le.h"
#include "nm_mesh.h"
#include "nm_packet.h"
#include "nm_pcapfile.h"
#include "nm_runtime.h"
#include "nm_test.h"

#define IP_US RTE_IPV4(127, 0, 0, 1)
#define IP_PEER RTE_IPV4(127, 0, 0, 2)
#define SESSION 0x601DE75E55105ULL
#define PEER_ORIGIN 0xFEED0000FEEDULL
#define UNKNOWN_DAEMON 0xBADD0000BADDULL
#define MTU 1500
#define LCORE 1
#define N_GOOD 40    /* valid packets, 1 to 4 events each */
#define MAX_FRAMES 64
#define MAX_EVENTS 200
#define MAX_PAYLOAD 64
#define FRAME_CAP (NM_PKT_ETH_LEN + MTU)

static const uint8_t key_to_us[32] = { 0xC1, 0xC2, 0xC3, 0xC4 };   /* peer TX = our RX */
static const uint8_t key_from_us[32] = { 0xD1, 0xD2, 0xD3, 0xD4 }; /* our TX = peer RX */
static const uint8_t echo_seed[32] = { 0x60, 0x1D, 0xEC };
static const uint8_t node_seed[32] = { 0x0D, 0xE0 };

/* The node's origin_hash, from its seed: what every output header carries. */
static uint64_t node_origin(void)
{
	struct nm_identity id;
	ck_assert_int_eq(nm_identity_from_seed(&id, node_seed), 0);
	return id.origin_hash;
}
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
/* net_pcap numbers its MAC at probe, after the capture must exist: send to broadcast. */
static const struct rte_ether_addr bcast_mac = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

static const char *golden_path;
static char tmp_dir[] = "/tmp/nm-golden-XXXXXX";

struct frames {
	uint32_t n;
	uint32_t len[MAX_FRAMES];
	uint8_t data[MAX_FRAMES][FRAME_CAP];
};

/* The valid input events in order: what the echo daemon must send back. */
struct expected {
	uint32_t n;
	uint32_t len[MAX_EVENTS];
	uint8_t payload[MAX_EVENTS][MAX_PAYLOAD];
};

/* ---------------------------------------------------------------- input */

static void make_payload(uint32_t pkt, uint32_t ev, uint8_t *p, uint32_t *len)
{
	*len = 8 + (pkt * 7 + ev * 13) % (MAX_PAYLOAD - 7);
	int head = snprintf((char *)p, MAX_PAYLOAD, "in%02u.%u|", pkt, ev);
	for (uint32_t k = (uint32_t)head; k < *len; k++)
		p[k] = (uint8_t)('a' + (pkt + ev + k) % 26);
}

struct peer_tx {
	struct nm_aead key;
	struct nm_pkt_endpoint peer, us;
	uint64_t event_seq;
};

/* One sealed packet from the peer: n events to `stream`, AEAD counter `ctr`. */
static uint32_t peer_packet(struct peer_tx *p, uint64_t stream, uint64_t ctr, uint32_t pkt,
			    uint32_t n, uint8_t *frame, struct expected *exp)
{
	static uint8_t payloads[4][MAX_PAYLOAD];
	struct nm_event evs[4];
	for (uint32_t j = 0; j < n; j++) {
		uint32_t len;
		make_payload(pkt, j, payloads[j], &len);
		evs[j] = (struct nm_event){ .link = { PEER_ORIGIN, 0, ++p->event_seq, 0 },
					    .payload = payloads[j], .len = len };
		if (exp != NULL) {
			ck_assert_uint_lt(exp->n, MAX_EVENTS);
			memcpy(exp->payload[exp->n], payloads[j], len);
			exp->len[exp->n++] = len;
		}
	}
	struct nm_packet_tx t = { .src = &p->peer, .dst = &p->us, .ip_id = (uint16_t)(0x100 + ctr),
				  .key = &p->key, .counter = ctr, .session_id = SESSION,
				  .stream_id = stream, .sequence = ctr, .origin_hash = PEER_ORIGIN,
				  .budget = nm_packet_budget(MTU) };
	uint32_t used;
	size_t len;
	ck_assert_int_eq(nm_packet_build(frame, FRAME_CAP, &t, evs, n, &used, &len), 0);
	ck_assert_uint_eq(used, n);
	return (uint32_t)len;
}

/*
 * 40 valid packets, and three that must be dropped without a trace in the
 * output: a forged one (AUTH), a replay of packet 12 (REPLAY_DUP), one for a
 * daemon that does not exist (DAEMON_UNKNOWN).
 */
static void make_input(struct frames *in, struct expected *exp, uint64_t echo)
{
	struct peer_tx p = { .peer = { peer_mac, IP_PEER, NM_NET_DEFAULT_PORT },
			     .us = { bcast_mac, IP_US, NM_NET_DEFAULT_PORT } };
	nm_aead_init(&p.key, key_to_us, SESSION);
	memset(in, 0, sizeof(*in));
	memset(exp, 0, sizeof(*exp));
	for (uint32_t i = 0; i < N_GOOD; i++) {
		in->len[in->n] = peer_packet(&p, echo, i, i, i % 4 + 1, in->data[in->n], exp);
		in->n++;
		if (i == 5) { /* forged: a ciphertext bit flipped, UDP checksum made right again */
			uint8_t *f = in->data[in->n];
			uint32_t len = peer_packet(&p, echo, 100, 100, 1, f, NULL);
			f[NM_PKT_DATA_OFF + NM_NET_HDR_SIZE] ^= 0x01;
			ck_assert_int_eq(nm_pkt_build_udp(f, FRAME_CAP, &p.peer, &p.us, 0x200,
							  len - NM_PKT_DATA_OFF, 0), 0);
			in->len[in->n++] = len;
		} else if (i == 12) { /* replayed */
			memcpy(in->data[in->n], in->data[in->n - 1], in->len[in->n - 1]);
			in->len[in->n] = in->len[in->n - 1];
			in->n++;
		} else if (i == 20) {
			in->len[in->n] = peer_packet(&p, UNKNOWN_DAEMON, 101, 101, 1, in->data[in->n], NULL);
			in->n++;
		}
	}
	nm_aead_wipe(&p.key);
}

static void write_capture(const char *path, const struct frames *f)
{
	struct nm_pcap_writer w;
	ck_assert_int_eq(nm_pcap_writer_open(&w, path), 0);
	for (uint32_t i = 0; i < f->n; i++)
		ck_assert_int_eq(nm_pcap_writer_add(&w, f->data[i], f->len[i], 1000000000ull * i), 0);
	ck_assert_int_eq(nm_pcap_writer_close(&w), 0);
}

static void read_capture(const char *path, struct frames *f)
{
	struct nm_pcap_reader r;
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	f->n = 0;
	int rc;
	while (f->n < MAX_FRAMES && (rc = nm_pcap_reader_next(&r, f->data[f->n], FRAME_CAP,
							      &f->len[f->n], NULL)) == 1)
		f->n++;
	ck_assert_msg(f->n < MAX_FRAMES, "more than %d output frames", MAX_FRAMES - 1);
	ck_assert_int_eq(rc, 0);
	nm_pcap_reader_close(&r);
}

/* ---------------------------------------------------------------- one run */

struct run {
	struct frames out;
	struct rte_ether_addr mac; /* the port's, the output source MAC */
	struct nm_lcore_stats stats;
};

static void await_inputs(struct nm_dataplane *dp, uint32_t frames, uint32_t events)
{
	struct nm_lcore_stats s;
	for (int i = 0; i < 10000; i++) {
		nm_dataplane_stats(dp, &s);
		if (s.rx_packets >= frames && s.events_delivered >= events)
			return;
		usleep(1000);
	}
	nm_stats_print(stderr, "# ", &s);
	ck_abort_msg("the worker did not handle the %u input frames in 10 s", frames);
}

/* Hot-plug net_pcap<idx> on `in`, echo everything, stop; outputs read from the TX capture. */
static void run_once(unsigned idx, const struct frames *in, const struct expected *exp,
		     const struct nm_identity *echo, struct run *r)
{
	char port[32], in_path[64], out_path[64], devargs[256];
	snprintf(port, sizeof(port), "net_pcap%u", idx);
	snprintf(in_path, sizeof(in_path), "%s/in%u.pcap", tmp_dir, idx);
	snprintf(out_path, sizeof(out_path), "%s/out%u.pcap", tmp_dir, idx);
	snprintf(devargs, sizeof(devargs), "%s,rx_pcap=%s,tx_pcap=%s", port, in_path, out_path);
	write_capture(in_path, in);
	int rc = rte_dev_probe(devargs);
	ck_assert_msg(rc == 0, "rte_dev_probe(%s): %s (the net_pcap PMD needs libpcap)", devargs,
		      strerror(-rc));

	struct nm_error err = { 0 };
	struct nm_mesh_config mc = { .port = port, .node_seed = node_seed };
	memset(mc.psk, 0x42, sizeof(mc.psk));
	struct nm_mesh *mesh;
	ck_assert_int_eq(nm_mesh_create(&mc, &mesh, &err), 0);
	struct nm_runtime *rt = nm_runtime_create(nm_mesh_node(mesh));
	ck_assert_int_eq(nm_builtin_register_all(rt, NULL), 0);
	ck_assert_int_eq(nm_runtime_start(rt, NULL), 0);
	const unsigned lcores[1] = { LCORE };
	struct nm_dataplane_config dc = { .mesh = mesh, .rt = rt, .ip = IP_US, .n_workers = 1,
					  .lcores = lcores, .mtu = MTU };
	struct nm_dataplane *dp;
	ck_assert_msg(nm_dataplane_create(&dc, &dp, &err) == 0, "dataplane: %s", err.msg);
	int peer = nm_dataplane_peer_add(dp, IP_PEER, NM_NET_DEFAULT_PORT, &peer_mac, &err);
	ck_assert_int_ge(peer, 0);
	struct nm_session_params sp = { .session_id = SESSION, .peer = (uint16_t)peer };
	memcpy(sp.tx_key, key_from_us, 32);
	memcpy(sp.rx_key, key_to_us, 32);
	ck_assert_int_eq(nm_dataplane_session_add(dp, &sp, &err), 0);
	/* Pinned before the worker starts, so no input arrives before its daemon. */
	struct nm_host_config hc = nm_host_config_default();
	hc.lcore = LCORE;
	struct nm_daemon_handle h;
	ck_assert_msg(nm_runtime_spawn(rt, "echo", echo, &hc, &h, &err) == 0, "spawn: %s", err.msg);
	r->mac = dp->port.mac;

	ck_assert_int_eq(nm_dataplane_start(dp, &err), 0);
	await_inputs(dp, in->n, exp->n);
	nm_dataplane_stop(dp); /* the worker ends its poll first: every output is sent */
	nm_dataplane_stats(dp, &r->stats);
	ck_assert_uint_eq(nm_port_mbufs_in_use(&dp->port), 0);

	ck_assert_int_eq(nm_runtime_shutdown(rt, NULL), 0);
	nm_dataplane_destroy(dp); /* stops the port: net_pcap closes the TX capture */
	nm_runtime_destroy(rt);
	nm_mesh_destroy(mesh);
	ck_assert_int_eq(rte_eal_hotplug_remove("vdev", port), 0);
	read_capture(out_path, &r->out);
	unlink(in_path);
	unlink(out_path);
}

/* ---------------------------------------------------------------- checks */

static void link_bytes(const struct nm_causal_link *l, uint8_t b[32])
{
	nm_put_le64(b, l->origin_hash);
	nm_put_le64(b + 8, l->horizon_encoded);
	nm_put_le64(b + 16, l->sequence);
	nm_put_le64(b + 24, l->parent_hash);
}

/* XXH3-64 of the previous link's bytes and payload, computed here from the spec. */
static uint64_t parent_of(const struct nm_causal_link *prev, const uint8_t *payload, uint32_t len)
{
	uint8_t b[32 + MAX_PAYLOAD];
	link_bytes(prev, b);
	memcpy(b + 32, payload, len);
	return XXH3_64bits(b, 32 + len);
}

/* The 64-bit, k = 3 horizon bloom of one origin, from the spec. */
static uint64_t bloom_of(uint64_t origin)
{
	uint8_t le[8];
	nm_put_le64(le, origin);
	uint64_t h = XXH3_64bits(le, 8);
	uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
	return (1ull << (h1 % 64)) | (1ull << ((h1 + h2) % 64)) | (1ull << ((h1 + 2 * h2) % 64));
}

static void check_frame_addresses(const uint8_t *f, uint32_t k, const struct rte_ether_addr *src)
{
	ck_assert_mem_eq(f, peer_mac.addr_bytes, 6);
	ck_assert_mem_eq(f + 6, src->addr_bytes, 6);
	ck_assert_uint_eq(f[NM_PKT_L3_OFF + 4] << 8 | f[NM_PKT_L3_OFF + 5], k); /* IP id */
	uint32_t src_ip = (uint32_t)f[26] << 24 | (uint32_t)f[27] << 16 | (uint32_t)f[28] << 8 | f[29];
	ck_assert_uint_eq(src_ip, IP_US);
}

/* Open every output on its own: echoed payloads in order, one unbroken chain. */
static void check_outputs(const struct run *r, const struct expected *exp, uint64_t echo)
{
	const struct nm_pkt_endpoint peer = { peer_mac, IP_PEER, NM_NET_DEFAULT_PORT };
	struct nm_aead key;
	nm_aead_init(&key, key_from_us, SESSION);
	struct nm_causal_link prev = { echo, 0, 0, 0 }; /* genesis, empty payload */
	static uint8_t prev_payload[MAX_PAYLOAD];
	uint32_t prev_len = 0, seen = 0;
	const uint64_t bloom = bloom_of(PEER_ORIGIN);
	ck_assert_uint_gt(r->out.n, 1);
	for (uint32_t k = 0; k < r->out.n; k++) {
		static uint8_t f[FRAME_CAP];
		memcpy(f, r->out.data[k], r->out.len[k]); /* opened in place */
		check_frame_addresses(f, k, &r->mac);
		struct nm_net_hdr h;
		struct nm_event evs[MAX_EVENTS];
		enum nm_drop why = NM_DROP_NONE;
		int n = nm_packet_open(f, r->out.len[k], &peer, &key, &h, evs, MAX_EVENTS, &why);
		ck_assert_msg(n > 0, "output %u does not open: %s", k, nm_drop_name(why));
		ck_assert_uint_eq(h.session_id, SESSION);
		ck_assert_uint_eq(h.stream_id, echo); /* outputs name the emitting daemon */
		ck_assert_uint_eq(h.subprotocol_id, NM_SUBPROTOCOL_CAUSAL);
		ck_assert_uint_eq(h.sequence, k);
		ck_assert_uint_eq(h.origin_hash, node_origin()); /* the sending node */
		ck_assert_uint_eq(nm_get_le64(h.nonce + 4), k); /* AEAD counter */
		for (int i = 0; i < n; i++, seen++) {
			const struct nm_event *e = &evs[i];
			ck_assert_uint_lt(seen, exp->n);
			ck_assert_uint_eq(e->len, exp->len[seen]);
			ck_assert_mem_eq(e->payload, exp->payload[seen], e->len);
			ck_assert_uint_eq(e->link.origin_hash, echo);
			ck_assert_uint_eq(e->link.sequence, seen + 1);
			ck_assert_uint_eq(e->link.horizon_encoded, bloom);
			ck_assert_uint_eq(e->link.parent_hash, parent_of(&prev, prev_payload, prev_len));
			prev = e->link;
			prev_len = e->len;
			memcpy(prev_payload, e->payload, e->len);
		}
	}
	ck_assert_uint_eq(seen, exp->n);
	nm_aead_wipe(&key);
}

static void check_stats(const struct nm_lcore_stats *s, const struct frames *in,
			const struct frames *out, const struct expected *exp)
{
	ck_assert_uint_eq(s->rx_packets, in->n);
	ck_assert_uint_eq(s->events_delivered, exp->n);
	ck_assert_uint_eq(s->events_emitted, exp->n);
	ck_assert_uint_eq(s->tx_packets, out->n);
	ck_assert_uint_eq(s->drops[NM_DROP_AUTH], 1);
	ck_assert_uint_eq(s->drops[NM_DROP_REPLAY_DUP], 1);
	ck_assert_uint_eq(s->drops[NM_DROP_DAEMON_UNKNOWN], 1);
	ck_assert_uint_eq(nm_stats_total_drops(s), 3);
}

/* ---------------------------------------------------------------- golden file */

static void write_golden(const char *path, const struct run *r)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fprintf(f, "# TX frames of tests/test_pcap_golden.c (echo on net_pcap), one per line in hex.\n"
		   "# Written by NM_GOLDEN_RECORD=1 after the test's own checks passed; see the test.\n");
	for (uint32_t k = 0; k < r->out.n; k++) {
		const uint8_t *d = r->out.data[k];
		fprintf(f, "# frame %u: %u bytes, counter %" PRIu64 ", %u events\n", k, r->out.len[k],
			nm_get_le64(d + NM_PKT_DATA_OFF + NM_OFF_COUNTER),
			nm_get_le16(d + NM_PKT_DATA_OFF + NM_OFF_EVENT_COUNT));
		for (uint32_t i = 0; i < r->out.len[k]; i++)
			fprintf(f, "%02x", d[i]);
		fputc('\n', f);
	}
	ck_assert_int_eq(fclose(f), 0);
}

static int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Frames from the golden file: lines of hex; '#' lines are comments. */
static void read_golden(const char *path, struct frames *g)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s (record it: NM_GOLDEN_RECORD=1)", path, strerror(errno));
	static char line[2 * FRAME_CAP + 2];
	g->n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\n");
		ck_assert_msg(line[n] == '\n' || feof(f), "golden line too long");
		if (n == 0 || line[0] == '#')
			continue;
		ck_assert_msg(n % 2 == 0 && n / 2 <= FRAME_CAP && g->n < MAX_FRAMES, "bad golden line");
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hex_nibble(line[2 * i]), lo = hex_nibble(line[2 * i + 1]);
			ck_assert_msg(hi >= 0 && lo >= 0, "bad hex in golden frame %u", g->n);
			g->data[g->n][i] = (uint8_t)(hi << 4 | lo);
		}
		g->len[g->n++] = (uint32_t)(n / 2);
	}
	fclose(f);
}

static void compare_frames(const struct frames *want, const struct frames *got, const char *what)
{
	ck_assert_msg(got->n == want->n, "%s: %u frames, golden has %u", what, got->n, want->n);
	for (uint32_t k = 0; k < got->n; k++) {
		ck_assert_msg(got->len[k] == want->len[k], "%s: frame %u is %u bytes, golden %u", what,
			      k, got->len[k], want->len[k]);
		for (uint32_t i = 0; i < got->len[k]; i++)
			ck_assert_msg(got->data[k][i] == want->data[k][i],
				      "%s: frame %u differs first at byte %u (%02x, golden %02x)", what, k,
				      i, got->data[k][i], want->data[k][i]);
	}
}

/* ---------------------------------------------------------------- tests */

static struct frames input;
static struct expected expect;
static struct nm_identity echo_id;
static struct run first;
static bool first_done;

/* The first run, shared by the tests below (it is deterministic and takes ~0.1 s). */
static const struct run *first_run(void)
{
	if (!first_done) {
		ck_assert_int_eq(nm_identity_from_seed(&echo_id, echo_seed), 0);
		make_input(&input, &expect, echo_id.origin_hash);
		run_once(0, &input, &expect, &echo_id, &first);
		first_done = true;
	}
	return &first;
}

START_TEST(outputs_open_and_chain)
{
	const struct run *r = first_run();
	check_stats(&r->stats, &input, &r->out, &expect);
	check_outputs(r, &expect, echo_id.origin_hash);
}
END_TEST

START_TEST(outputs_match_golden)
{
	const struct run *r = first_run();
	check_outputs(r, &expect, echo_id.origin_hash); /* never record an unchecked output */
	if (getenv("NM_GOLDEN_RECORD") != NULL) {
		write_golden(golden_path, r);
		fprintf(stderr, "# recorded %u frames to %s: review the diff\n", r->out.n, golden_path);
	}
	static struct frames golden;
	read_golden(golden_path, &golden);
	compare_frames(&golden, &r->out, "run 1");
}
END_TEST

START_TEST(second_port_sends_the_same_bytes)
{
	const struct run *r1 = first_run();
	static struct run r2;
	run_once(1, &input, &expect, &echo_id, &r2);
	check_stats(&r2.stats, &input, &r2.out, &expect);
	ck_assert_mem_ne(r1->mac.addr_bytes, r2.mac.addr_bytes, 6);
	/* Only the source MAC may differ: it is the port's, numbered by net_pcap. */
	for (uint32_t k = 0; k < r2.out.n; k++) {
		ck_assert_mem_eq(r2.out.data[k] + 6, r2.mac.addr_bytes, 6);
		memcpy(r2.out.data[k] + 6, r1->mac.addr_bytes, 6);
	}
	compare_frames(&r1->out, &r2.out, "run 2");
}
END_TEST

/* ---------------------------------------------------------------- nm_pcapfile */

static void tmp_file(char *path, size_t cap, const char *name)
{
	snprintf(path, cap, "%s/%s", tmp_dir, name);
}

static void write_raw(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

START_TEST(pcapfile_roundtrip)
{
	char path[96];
	tmp_file(path, sizeof(path), "rt.pcap");
	static uint8_t a[60], b[9000], got[9000];
	memset(a, 0xAA, sizeof(a));
	memset(b, 0xBB, sizeof(b));
	struct nm_pcap_writer w;
	ck_assert_int_eq(nm_pcap_writer_open(&w, path), 0);
	ck_assert_int_eq(nm_pcap_writer_add(&w, a, sizeof(a), 1500000123ull), 0);
	ck_assert_int_eq(nm_pcap_writer_add(&w, b, sizeof(b), 7), 0);
	ck_assert_int_eq(nm_pcap_writer_add(&w, a, 0, 0), -EINVAL);
	ck_assert_int_eq(nm_pcap_writer_close(&w), 0);

	struct nm_pcap_reader r;
	uint32_t len;
	uint64_t ts;
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	ck_assert_int_eq(nm_pcap_reader_next(&r, got, sizeof(got), &len, &ts), 1);
	ck_assert_uint_eq(len, sizeof(a));
	ck_assert_uint_eq(ts, 1500000123ull);
	ck_assert_mem_eq(got, a, sizeof(a));
	ck_assert_int_eq(nm_pcap_reader_next(&r, got, 100, &len, NULL), -EMSGSIZE);
	nm_pcap_reader_close(&r);
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	ck_assert_int_eq(nm_pcap_reader_next(&r, got, sizeof(got), &len, NULL), 1);
	ck_assert_int_eq(nm_pcap_reader_next(&r, got, sizeof(got), &len, NULL), 1);
	ck_assert_uint_eq(len, sizeof(b));
	ck_assert_mem_eq(got, b, sizeof(b));
	ck_assert_int_eq(nm_pcap_reader_next(&r, got, sizeof(got), &len, NULL), 0);
	nm_pcap_reader_close(&r);
	unlink(path);
}
END_TEST

/* Microsecond files in the other byte order read too; broken files are refused, never overrun. */
START_TEST(pcapfile_rejects_bad_files)
{
	char path[96];
	tmp_file(path, sizeof(path), "bad.pcap");
	struct nm_pcap_reader r;
	uint8_t buf[64];
	uint32_t len;
	uint64_t ts;
	/* Big-endian microsecond header, one 4-byte record at 2 s + 5 us. */
	const uint8_t be[] = { 0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
			       0, 0, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 5,
			       0, 0, 0, 4, 0, 0, 0, 4, 1, 2, 3, 4 };
	write_raw(path, be, sizeof(be));
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	ck_assert_int_eq(nm_pcap_reader_next(&r, buf, sizeof(buf), &len, &ts), 1);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(ts, 2000005000ull);
	nm_pcap_reader_close(&r);

	write_raw(path, be, sizeof(be) - 1); /* record cut short */
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	ck_assert_int_eq(nm_pcap_reader_next(&r, buf, sizeof(buf), &len, NULL), -EBADMSG);
	nm_pcap_reader_close(&r);

	uint8_t cut[sizeof(be)];
	memcpy(cut, be, sizeof(be));
	cut[35] = 9; /* on-wire length 9 > captured 4: a truncated capture */
	write_raw(path, cut, sizeof(cut));
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), 0);
	ck_assert_int_eq(nm_pcap_reader_next(&r, buf, sizeof(buf), &len, NULL), -EBADMSG);
	nm_pcap_reader_close(&r);

	memcpy(cut, be, sizeof(be));
	cut[23] = 101; /* raw IP link type */
	write_raw(path, cut, sizeof(cut));
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), -EPROTONOSUPPORT);
	write_raw(path, "not a pcap file at all!!", 24);
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), -EBADMSG);
	write_raw(path, be, 10);
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), -EBADMSG);
	unlink(path);
	ck_assert_int_eq(nm_pcap_reader_open(&r, path), -ENOENT);
}
END_TEST

static Suite *golden_suite(void)
{
	Suite *s = suite_create("pcap-golden");
	TCase *tc = tcase_create("pcapfile");
	tcase_add_test(tc, pcapfile_roundtrip);
	tcase_add_test(tc, pcapfile_rejects_bad_files);
	suite_add_tcase(s, tc);
	tc = tcase_create("golden");
	tcase_add_test(tc, outputs_open_and_chain);
	tcase_add_test(tc, outputs_match_golden);
	tcase_add_test(tc, second_port_sends_the_same_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s GOLDEN_FILE\n", argv[0]);
		return EXIT_FAILURE;
	}
	golden_path = argv[1];
	char *eal[] = { argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0,1@1", "--log-level=lib.*:error" };
	if (nm_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return EXIT_FAILURE;
	}
	if (mkdtemp(tmp_dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	int rc = nm_test_run_nofork(golden_suite());
	rmdir(tmp_dir);
	return rc;
}

// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-craft - hostile RoCEv2 packets with a correct ICRC, aimed at the
 * QPs and MRs of a device on another node.
 *
 *   arxe-craft [-s SEED] [-n COUNT] [-t SECONDS] [-r RATE] [-c IFACE] [-x]
 *              -S SRC_IP -D DST_IP TARGETS_FILE
 *
 * SRC_IP is this node's IPv4 address, the one the target's RC QPs are
 * connected to (the honest peer's); DST_IP is the target's. Every packet
 * is IPv4/UDP to port 4791 (UDP checksum 0, TTL 64, DF, a random source
 * port in 0xc000..0xffff), written whole, IP header included, to a raw
 * socket: the kernel routes it and fills in the IP checksum, but changes
 * nothing the ICRC covers. The ICRC is computed the way rxe computes it
 * (rxe_icrc.c), so a packet that is wrong only where the test wants it
 * wrong gets past rxe's ICRC check into the transport logic.
 *
 * TARGETS_FILE, written by the program that set the target up, has one
 * item a line, fields separated by blanks, numbers in decimal or 0x hex;
 * '#' starts a comment and unknown kinds of line are ignored:
 *   mtu BYTES                          the path MTU of the target's QPs
 *   qp QPN STATE TYPE PD PSN REMOTE_QPN
 *                                      a QP on the target: STATE RESET, INIT,
 *                                      RTR, RTS or ERR (SQD, SQE also taken);
 *                                      TYPE RC or UD; PD a name; PSN its
 *                                      responder's expected PSN
 *   ud QPN QKEY                        a UD QP's Q_Key
 *   mr RKEY ADDR LENGTH PD ACCESS      an MR: ACCESS letters r, w, a (remote
 *                                      read, write, atomic), or - for none
 *   stale RKEY ADDR LENGTH             an MR that was deregistered
 *
 * The stream comes from a xorshift64* generator seeded with SEED (default
 * 1): the same seed and targets file give the same packets. Each packet is
 * of one category; the weights are printed at the start:
 *   opcode-sweep       every opcode 0x00-0xff in turn at every listed QP,
 *                      in the opcode's header layout (invalid ones: a
 *                      made-up header of random length)
 *   psn-window         RC requests at the expected PSN -8..+8, far behind,
 *                      far ahead and across the 2^24 wrap
 *   unknown-qpn        well-formed requests at QPNs the file does not list
 *   rkey               RDMA and atomics with the QP's own rkey, another
 *                      PD's, a stale one, one with its key byte changed,
 *                      a random one
 *   reth-range         RETH addresses and lengths at and around an MR's
 *                      edges, far outside, wrapping 2^64, huge lengths
 *   dma-vs-payload     DMA length unlike the payload, payloads over the
 *                      MTU, short first and middle packets
 *   atomic-misaligned  atomics off 8-byte alignment and at an MR's end,
 *                      ATOMIC_WRITE and FLUSH of odd lengths
 *   pad-bits           PadCount 1-3 with payloads that fit it or do not
 *   truncated          valid packets cut inside their headers or ICRC
 *   bad-icrc           valid packets with one ICRC or payload bit flipped
 *   bth-fields         TVer, P_Key, MigReq, SE, AckReq, FECN, BECN and
 *                      reserved bits
 *   spoofed-source     valid requests from another source address
 *   ud-qkey            UD sends with right, wrong and privileged Q_Keys,
 *                      at UD QPs, RC QPs and the GSI QP (MAD-like payload)
 *   random             random bytes behind a BTH of random fields
 *
 * -n COUNT packets are sent (default 100000), at most RATE a second
 * (default 20000; 0 means no limit); everything must be done SECONDS after
 * the start (default 300), capture included.
 *
 * -c IFACE first watches IFACE, both directions, for up to 20 s until 64
 * RoCEv2 packets from DST_IP have passed; it checks each one's ICRC with
 * the function that makes the stream's (a mismatch, or fewer than 16
 * packets, is an error), and learns from SRC_IP's requests to DST_IP the
 * PSN each target QP's responder expects now, which the in-window
 * categories then use instead of the file's.
 *
 * -x prints the first 20 packets of the stream in hex (category, length,
 * bytes) instead of sending anything.
 *
 * -R sends, instead of the stream, the read-replay probe: at every RC QP
 * in RTS that carries no live flow (with -c: whose PSN the capture did
 * not see move), given a remote-readable MR of its PD, an RDMA READ of 8
 * bytes at the expected PSN, a zero-length RDMA WRITE at the next PSN and
 * the READ again at its own PSN, 50 ms apart. The responder replays the
 * READ from its resource right after a request of length 0 (stock rxe
 * then copies from no MR and warns).
 *
 * Prints a progress line every 20000 packets, then "sent N packets in S s
 * (seed SEED)" and the packets of each category. Exits 0 when all COUNT
 * packets went out (what the target made of them is judged elsewhere), 1
 * on a setup or send error, a missed deadline or an ICRC mismatch.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#define PROG		"arxe-craft"

#define ROCE_PORT	4791
#define NET_MTU		1500		/* the netdev's; raw sends refuse more */
#define IP_HLEN		20
#define UDP_HLEN	8
#define ROCE_OFF	(IP_HLEN + UDP_HLEN)	/* where the BTH starts */
#define ROCE_MAX	(NET_MTU - ROCE_OFF)	/* BTH to ICRC, at most */
#define BTH_LEN		12
#define ICRC_LEN	4
#define BIG_PAYLOAD	1400		/* "larger than the MTU" goes up to this */

#define PSN_MASK	0xffffffu
#define QPN_MASK	0xffffffu
#define MCAST_QPN	0xffffffu
#define GSI_QKEY	0x80010000u
#define DEF_PKEY	0xffff

/* BTH bits */
#define BTH_SE		0x80
#define BTH_MIG		0x40
#define BTH_PAD_SHIFT	4
#define BTH_PAD		0x30
#define BTH_TVER	0x0f
#define BTH_FECN	0x80
#define BTH_BECN	0x40
#define BTH_RESV6	0x3f
#define BTH_ACKREQ	0x80
#define BTH_RESV7	0x7f

#define MAX_QPS		256
#define MAX_MRS		256
#define MAX_LIVE	1024
#define MAX_LINES	100000
#define NAME_LEN	16

#define CAPTURE_SECONDS	20
#define CAPTURE_WANT	64
#define CAPTURE_MIN	16
#define CAPTURE_FRAMES	4000000		/* frames looked at, at most */
#define CAPTURE_SHOWN	5		/* mismatches described */

#define SEND_RETRIES	2000		/* 1 ms apart */
#define PROGRESS_EVERY	20000
#define DUMP_PACKETS	20
#define PICK_TRIES	16

/* Opcodes (IBA 9.2, rxe_opcode.c) */
enum {
	OP_SEND_FIRST		= 0x00,
	OP_SEND_MIDDLE		= 0x01,
	OP_SEND_LAST		= 0x02,
	OP_SEND_LAST_IMM	= 0x03,
	OP_SEND_ONLY		= 0x04,
	OP_SEND_ONLY_IMM	= 0x05,
	OP_WRITE_FIRST		= 0x06,
	OP_WRITE_MIDDLE		= 0x07,
	OP_WRITE_LAST		= 0x08,
	OP_WRITE_LAST_IMM	= 0x09,
	OP_WRITE_ONLY		= 0x0a,
	OP_WRITE_ONLY_IMM	= 0x0b,
	OP_READ_REQUEST		= 0x0c,
	OP_READ_RESP_FIRST	= 0x0d,
	OP_READ_RESP_MIDDLE	= 0x0e,
	OP_READ_RESP_LAST	= 0x0f,
	OP_READ_RESP_ONLY	= 0x10,
	OP_ACK			= 0x11,
	OP_ATOMIC_ACK		= 0x12,
	OP_CMP_SWAP		= 0x13,
	OP_FETCH_ADD		= 0x14,
	OP_SEND_LAST_INV	= 0x16,
	OP_SEND_ONLY_INV	= 0x17,
	OP_FLUSH		= 0x1c,
	OP_ATOMIC_WRITE		= 0x1d,
	OP_UD_SEND_ONLY		= 0x64,
	OP_UD_SEND_ONLY_IMM	= 0x65,
	OP_CNP			= 0x81,
};

/*
 * Which headers each opcode carries, after the BTH and in this order on
 * the wire (rxe_opcode.c's offsets): RDETH, DETH, FETH, RETH, AETH,
 * AtomicETH, AtomicAckETH, then ImmDt or IETH.
 */
#define H_RDETH		0x0001
#define H_DETH		0x0002
#define H_FETH		0x0004
#define H_RETH		0x0008
#define H_AETH		0x0010
#define H_ATMETH	0x0020
#define H_ATMACK	0x0040
#define H_IMMDT		0x0080
#define H_IETH		0x0100
#define F_PAY		0x0200	/* carries a payload */
#define F_REQ		0x0400	/* a request (goes to the responder) */
#define F_VALID		0x0800	/* in rxe's table */
/*
 * rxe's table gives the opcode no payload offset, so it is 0 and rxe's
 * ICRC runs over the headers once more from the BTH on (FLUSH, RD ACK,
 * RD ATOMIC ACK).
 */
#define F_NOPAYOFF	0x1000

#define L_REQ		(F_VALID | F_REQ)
#define L_SEND		(F_VALID | F_REQ | F_PAY)
#define L_RESP		(F_VALID | F_PAY)
#define L_RD		(H_RDETH | H_DETH)

static const uint16_t layout[256] = {
	/* RC */
	[0x00] = L_SEND,
	[0x01] = L_SEND,
	[0x02] = L_SEND,
	[0x03] = L_SEND | H_IMMDT,
	[0x04] = L_SEND,
	[0x05] = L_SEND | H_IMMDT,
	[0x06] = L_SEND | H_RETH,
	[0x07] = L_SEND,
	[0x08] = L_SEND,
	[0x09] = L_SEND | H_IMMDT,
	[0x0a] = L_SEND | H_RETH,
	[0x0b] = L_SEND | H_RETH | H_IMMDT,
	[0x0c] = L_REQ | H_RETH,
	[0x0d] = L_RESP | H_AETH,
	[0x0e] = L_RESP,
	[0x0f] = L_RESP | H_AETH,
	[0x10] = L_RESP | H_AETH,
	[0x11] = F_VALID | H_AETH,
	[0x12] = F_VALID | H_AETH | H_ATMACK,
	[0x13] = L_REQ | H_ATMETH,
	[0x14] = L_REQ | H_ATMETH,
	[0x16] = L_SEND | H_IETH,
	[0x17] = L_SEND | H_IETH,
	[0x1c] = L_REQ | H_FETH | H_RETH | F_NOPAYOFF,
	[0x1d] = L_SEND | H_RETH,
	/* UC: RC's sends and writes */
	[0x20] = L_SEND,
	[0x21] = L_SEND,
	[0x22] = L_SEND,
	[0x23] = L_SEND | H_IMMDT,
	[0x24] = L_SEND,
	[0x25] = L_SEND | H_IMMDT,
	[0x26] = L_SEND | H_RETH,
	[0x27] = L_SEND,
	[0x28] = L_SEND,
	[0x29] = L_SEND | H_IMMDT,
	[0x2a] = L_SEND | H_RETH,
	[0x2b] = L_SEND | H_RETH | H_IMMDT,
	/* RD: requests add RDETH and DETH, responses RDETH */
	[0x40] = L_SEND | L_RD,
	[0x41] = L_SEND | L_RD,
	[0x42] = L_SEND | L_RD,
	[0x43] = L_SEND | L_RD | H_IMMDT,
	[0x44] = L_SEND | L_RD,
	[0x45] = L_SEND | L_RD | H_IMMDT,
	[0x46] = L_SEND | L_RD | H_RETH,
	[0x47] = L_SEND | L_RD,
	[0x48] = L_SEND | L_RD,
	[0x49] = L_SEND | L_RD | H_IMMDT,
	[0x4a] = L_SEND | L_RD | H_RETH,
	[0x4b] = L_SEND | L_RD | H_RETH | H_IMMDT,
	[0x4c] = L_REQ | L_RD | H_RETH,
	[0x4d] = L_RESP | H_RDETH | H_AETH,
	[0x4e] = L_RESP | H_RDETH,
	[0x4f] = L_RESP | H_RDETH | H_AETH,
	[0x50] = L_RESP | H_RDETH | H_AETH,
	[0x51] = F_VALID | H_RDETH | H_AETH | F_NOPAYOFF,
	[0x52] = F_VALID | H_RDETH | H_AETH | H_ATMACK | F_NOPAYOFF,
	[0x53] = L_REQ | L_RD | H_ATMETH,
	[0x54] = L_REQ | L_RD | H_ATMETH,
	/* UD */
	[0x64] = L_SEND | H_DETH,
	[0x65] = L_SEND | H_DETH | H_IMMDT,
};

enum qp_state { QPS_RESET, QPS_INIT, QPS_RTR, QPS_RTS, QPS_ERR, QPS_SQD, QPS_SQE };
static const char *const state_names[] = {
	"RESET", "INIT", "RTR", "RTS", "ERR", "SQD", "SQE",
};

#define NSTATES ((int)(sizeof(state_names) / sizeof(state_names[0])))

enum qp_type { QPT_RC, QPT_UD };

struct tqp {
	uint32_t qpn;
	enum qp_state state;
	enum qp_type type;
	char pd[NAME_LEN];
	uint32_t psn;		/* the responder's expected PSN, from the file */
	uint32_t remote_qpn;
	uint32_t qkey;
	bool has_qkey;
	bool live;		/* live_psn learned from the capture */
	uint32_t live_psn;
};

struct tmr {
	uint32_t rkey;
	uint64_t addr;
	uint64_t len;
	char pd[NAME_LEN];
	char access[8];
	bool stale;
};

struct targets {
	unsigned int mtu;
	int nqp, nmr;
	struct tqp qp[MAX_QPS];
	struct tmr mr[MAX_MRS];
};

/* Stands in for an MR when the file lists none that fits. */
static const struct tmr no_mr = {
	.rkey = 0x00001234, .addr = 0x10000000, .len = 65536,
	.access = "rwa",
};

/* One packet before it is laid out: every field of every header. */
struct roce {
	uint32_t saddr, daddr;	/* network order */
	uint16_t ipid, sport;
	uint8_t opcode;
	uint8_t flags;		/* BTH byte 1: SE, MigReq, PadCount, TVer */
	uint16_t pkey;
	uint8_t resv;		/* BTH byte 4: FECN, BECN, reserved */
	uint32_t qpn;
	uint8_t ackreq;		/* BTH byte 8: AckReq, reserved */
	uint32_t psn;
	uint32_t een;		/* RDETH */
	uint32_t qkey, sqp;	/* DETH */
	uint32_t feth;
	uint64_t va;		/* RETH or AtomicETH */
	uint32_t rkey;
	uint32_t dlen;		/* RETH */
	uint64_t swap, comp;	/* AtomicETH */
	uint32_t aeth;
	uint64_t orig;		/* AtomicAckETH */
	uint32_t imm;		/* ImmDt or IETH */
	bool raw;		/* no headers after the BTH, all body */
	uint32_t xhdr;		/* invalid opcodes: made-up header bytes */
	bool xzero;		/* ... all zero (CNP) */
	uint32_t paylen;	/* bytes after the headers, pad included */
	uint8_t head[64];	/* the payload starts with these */
	uint32_t head_len;
};

struct gen {
	uint64_t s;		/* xorshift64* state, never 0 */
	uint64_t sweep;		/* the opcode sweep's next step */
	const struct targets *t;
	uint32_t src, dst;	/* network order */
};

struct category {
	const char *name;
	unsigned int weight;	/* of 100 */
	size_t (*make)(struct gen *g, uint8_t *pkt);
};

/* ------------------------------------------------------------------ */
/* Bytes, time, random numbers                                         */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts)) {
		fprintf(stderr, PROG ": clock_gettime: %s\n", strerror(errno));
		exit(1);
	}
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep @s seconds (less if a signal comes). */
static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	if (nanosleep(&ts, NULL) && errno != EINTR) {
		fprintf(stderr, PROG ": nanosleep: %s\n", strerror(errno));
		exit(1);
	}
}

static uint64_t rnd64(struct gen *g)
{
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545f4914f6cdd1dull;
}

/* 0 .. n-1 (0 when n is 0) */
static uint64_t rnd_below(struct gen *g, uint64_t n)
{
	return n ? rnd64(g) % n : 0;
}

static uint32_t rnd(struct gen *g, uint32_t n)
{
	return (uint32_t)rnd_below(g, n);
}

/* lo .. hi, both included */
static uint32_t rnd_range(struct gen *g, uint32_t lo, uint32_t hi)
{
	return hi < lo ? lo : lo + rnd(g, hi - lo + 1);
}

static bool chance(struct gen *g, unsigned int percent)
{
	return rnd(g, 100) < percent;
}

static uint32_t rnd24(struct gen *g)
{
	return (uint32_t)rnd64(g) & 0xffffff;
}

/* splitmix64 of the seed: a good, never-zero xorshift state. */
static void gen_seed(struct gen *g, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	g->s = z ? z : 0x9e3779b97f4a7c15ull;
	g->sweep = 0;
}

/* ------------------------------------------------------------------ */
/* CRC-32 and the ICRC                                                 */

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
		crc_table[i] = c;
	}
}

/* The reflected CRC-32 running state over @len bytes (the kernel's crc32_le). */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

static int crc_selftest(void)
{
	static const uint8_t ff8[8] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint32_t check, seed;

	check = ~crc32_update(0xffffffffu, (const uint8_t *)"123456789", 9);
	seed = crc32_update(0xffffffffu, ff8, sizeof(ff8));
	if (check != 0xcbf43926u || seed != 0xdebb20e3u) {
		fprintf(stderr,
			PROG ": CRC-32 self-test failed: \"123456789\" gives 0x%08x (want 0xcbf43926), the masked LRH 0x%08x (want 0xdebb20e3)\n",
			check, seed);
		return -1;
	}
	return 0;
}

static size_t hdr_len(uint8_t op)
{
	uint16_t l = layout[op];
	size_t n = BTH_LEN;

	if (!(l & F_VALID))
		return BTH_LEN;
	if (l & H_RDETH)
		n += 4;
	if (l & H_DETH)
		n += 8;
	if (l & H_FETH)
		n += 4;
	if (l & H_RETH)
		n += 16;
	if (l & H_AETH)
		n += 4;
	if (l & H_ATMETH)
		n += 28;
	if (l & H_ATMACK)
		n += 8;
	if (l & (H_IMMDT | H_IETH))
		n += 4;
	return n;
}

/*
 * The ICRC of the packet ip[0 .. end) (IPv4 header at ip, the ICRC itself
 * at ip[end .. end + 4)), as rxe computes it: CRC-32 from 0xffffffff over
 * 8 bytes of 0xff (the masked LRH), the IPv4 and UDP headers and the BTH
 * with TOS, TTL, IP checksum, UDP checksum and BTH byte 4 all ones, then
 * the rest of the opcode's headers (BTH .. @hdrlen), then from @payoff to
 * the end; inverted. @payoff is @hdrlen but where rxe's table has no
 * payload offset. Whatever lies past @end is left out (truncated packets).
 */
static uint32_t icrc_compute(const uint8_t *ip, size_t end, size_t hdrlen,
			     size_t payoff)
{
	static const uint8_t lrh[8] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t masked[ROCE_OFF + BTH_LEN];
	size_t n = end < sizeof(masked) ? end : sizeof(masked);
	size_t rlen = end > ROCE_OFF ? end - ROCE_OFF : 0;
	const uint8_t *roce = ip + ROCE_OFF;
	uint32_t crc;
	size_t i;

	memcpy(masked, ip, n);
	for (i = 0; i < n; i++)
		if (i == 1 || i == 8 || i == 10 || i == 11 ||	/* TOS, TTL, check */
		    i == IP_HLEN + 6 || i == IP_HLEN + 7 ||	/* UDP check */
		    i == ROCE_OFF + 4)				/* FECN, BECN, resv */
			masked[i] = 0xff;

	crc = crc32_update(0xffffffffu, lrh, sizeof(lrh));
	crc = crc32_update(crc, masked, n);
	if (hdrlen > BTH_LEN && rlen > BTH_LEN)
		crc = crc32_update(crc, roce + BTH_LEN,
				   (hdrlen < rlen ? hdrlen : rlen) - BTH_LEN);
	if (rlen > payoff)
		crc = crc32_update(crc, roce + payoff, rlen - payoff);
	return ~crc;
}

/* The ICRC rxe expects of ip[0 .. end), from the opcode's layout. */
static uint32_t packet_icrc(const uint8_t *ip, size_t end)
{
	uint8_t op = end > ROCE_OFF ? ip[ROCE_OFF] : 0;
	size_t hl = BTH_LEN, payoff = BTH_LEN;

	if (layout[op] & F_VALID) {
		hl = hdr_len(op);
		payoff = (layout[op] & F_NOPAYOFF) ? 0 : hl;
	}
	return icrc_compute(ip, end, hl, payoff);
}

/* ------------------------------------------------------------------ */
/* The targets file                                                    */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	int base = 10;
	char *end;
	uint64_t v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return -1;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_name(const char *s, char *out, size_t size)
{
	size_t n = s ? strlen(s) : size;

	if (n >= size)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* The index of the (first) listed QP @qpn, or -1. */
static int qp_index(const struct targets *t, uint32_t qpn)
{
	int i;

	for (i = 0; i < t->nqp; i++)
		if (t->qp[i].qpn == qpn)
			return i;
	return -1;
}

/* One line's fields, already split; returns 0, or -1 with *why set. */
static int parse_item(struct targets *t, char **f, int nf, uint32_t *ud,
		      int *nud, const char **why)
{
	uint64_t a, b, c;
	int i;

	if (!strcmp(f[0], "mtu")) {
		if (nf != 2 || parse_u64(f[1], 65536, &a) || a < 64) {
			*why = "mtu wants BYTES, 64..65536";
			return -1;
		}
		t->mtu = a;
	} else if (!strcmp(f[0], "qp")) {
		struct tqp *q;

		if (nf != 7) {
			*why = "qp wants QPN STATE TYPE PD PSN REMOTE_QPN";
			return -1;
		}
		if (t->nqp == MAX_QPS) {
			*why = "more than 256 QPs";
			return -1;
		}
		q = &t->qp[t->nqp];
		memset(q, 0, sizeof(*q));
		if (parse_u64(f[1], QPN_MASK, &a) || parse_u64(f[5], PSN_MASK, &b) ||
		    parse_u64(f[6], QPN_MASK, &c)) {
			*why = "qp: QPN, PSN and REMOTE_QPN are 24-bit numbers";
			return -1;
		}
		q->qpn = a;
		q->psn = b;
		q->remote_qpn = c;
		for (i = 0; i < NSTATES; i++)
			if (!strcmp(f[2], state_names[i]))
				break;
		if (i == NSTATES) {
			*why = "qp: STATE is RESET, INIT, RTR, RTS or ERR";
			return -1;
		}
		q->state = i;
		if (!strcmp(f[3], "RC")) {
			q->type = QPT_RC;
		} else if (!strcmp(f[3], "UD")) {
			q->type = QPT_UD;
		} else {
			*why = "qp: TYPE is RC or UD";
			return -1;
		}
		if (parse_name(f[4], q->pd, sizeof(q->pd))) {
			*why = "qp: PD name too long";
			return -1;
		}
		t->nqp++;
	} else if (!strcmp(f[0], "ud")) {
		if (nf != 3 || parse_u64(f[1], QPN_MASK, &a) ||
		    parse_u64(f[2], UINT32_MAX, &b)) {
			*why = "ud wants QPN QKEY";
			return -1;
		}
		if (*nud == MAX_QPS) {
			*why = "more than 256 ud lines";
			return -1;
		}
		ud[2 * *nud] = a;
		ud[2 * *nud + 1] = b;
		(*nud)++;
	} else if (!strcmp(f[0], "mr") || !strcmp(f[0], "stale")) {
		bool stale = f[0][0] == 's';
		struct tmr *m;

		if (nf != (stale ? 4 : 6) || parse_u64(f[1], UINT32_MAX, &a) ||
		    parse_u64(f[2], UINT64_MAX, &b) ||
		    parse_u64(f[3], UINT64_MAX, &c)) {
			*why = stale ? "stale wants RKEY ADDR LENGTH" :
				       "mr wants RKEY ADDR LENGTH PD ACCESS";
			return -1;
		}
		if (t->nmr == MAX_MRS) {
			*why = "more than 256 MRs";
			return -1;
		}
		m = &t->mr[t->nmr];
		memset(m, 0, sizeof(*m));
		m->rkey = a;
		m->addr = b;
		m->len = c;
		m->stale = stale;
		if (!stale) {
			if (parse_name(f[4], m->pd, sizeof(m->pd)) ||
			    parse_name(f[5], m->access, sizeof(m->access)) ||
			    strspn(m->access, "rwa-") != strlen(m->access)) {
				*why = "mr: PD a short name, ACCESS letters r, w, a";
				return -1;
			}
		}
		t->nmr++;
	}
	return 0;
}

static int read_targets(const char *path, struct targets *t)
{
	static uint32_t ud[2 * MAX_QPS];
	int nud = 0, lineno = 0, nf, i;
	const char *why = NULL;
	char *line = NULL, *p, *save, *f[8];
	size_t cap = 0;
	FILE *fp;

	memset(t, 0, sizeof(*t));
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	errno = 0;
	while (getline(&line, &cap, fp) >= 0) {
		if (++lineno > MAX_LINES) {
			fprintf(stderr, PROG ": %s: more than %d lines\n", path,
				MAX_LINES);
			goto fail;
		}
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		nf = 0;
		for (p = strtok_r(line, " \t\r\n", &save); p && nf < 8;
		     p = strtok_r(NULL, " \t\r\n", &save))
			f[nf++] = p;
		if (!nf)
			continue;
		if (parse_item(t, f, nf, ud, &nud, &why)) {
			fprintf(stderr, PROG ": %s:%d: %s\n", path, lineno, why);
			goto fail;
		}
		errno = 0;
	}
	if (errno) {
		fprintf(stderr, PROG ": reading %s: %s\n", path, strerror(errno));
		goto fail;
	}
	free(line);
	line = NULL;
	if (fclose(fp)) {
		fprintf(stderr, PROG ": closing %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < nud; i++) {
		int k = qp_index(t, ud[2 * i]);

		if (k < 0) {
			fprintf(stderr, PROG ": %s: ud line for QPN 0x%x, which no qp line lists; ignored\n",
				path, ud[2 * i]);
			continue;
		}
		t->qp[k].qkey = ud[2 * i + 1];
		t->qp[k].has_qkey = true;
	}
	if (!t->nqp) {
		fprintf(stderr, PROG ": %s lists no QP\n", path);
		return -1;
	}
	if (!t->mtu) {
		t->mtu = 1024;
		fprintf(stderr, PROG ": %s has no mtu line; taking 1024\n", path);
	}
	return 0;

fail:
	free(line);
	fclose(fp);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Choosing targets                                                    */

static uint32_t exp_psn(const struct tqp *q)
{
	return q->live ? q->live_psn : q->psn;
}

static const struct tqp *any_qp(struct gen *g)
{
	return &g->t->qp[rnd(g, g->t->nqp)];
}

/* An RC QP, mostly one in RTR or RTS; any QP if the file has no RC QP. */
static const struct tqp *rc_qp(struct gen *g)
{
	const struct targets *t = g->t;
	int idx[MAX_QPS], n = 0, nrc = 0, i;
	bool active = chance(g, 85);

	for (i = 0; i < t->nqp; i++)
		if (t->qp[i].type == QPT_RC)
			nrc++;
	for (i = 0; i < t->nqp; i++) {
		const struct tqp *q = &t->qp[i];

		if (q->type != QPT_RC)
			continue;
		if (active && q->state != QPS_RTR && q->state != QPS_RTS)
			continue;
		idx[n++] = i;
	}
	if (!n && nrc)
		for (i = 0; i < t->nqp; i++)
			if (t->qp[i].type == QPT_RC)
				idx[n++] = i;
	if (!n)
		return any_qp(g);
	return &t->qp[idx[rnd(g, n)]];
}

/* A UD QP, mostly one in RTR or RTS; NULL if the file has none. */
static const struct tqp *ud_qp(struct gen *g)
{
	const struct targets *t = g->t;
	int idx[MAX_QPS], n = 0, i;
	bool active = chance(g, 85);

	for (i = 0; i < t->nqp; i++)
		if (t->qp[i].type == QPT_UD &&
		    (!active || t->qp[i].state == QPS_RTR ||
		     t->qp[i].state == QPS_RTS))
			idx[n++] = i;
	if (!n)
		for (i = 0; i < t->nqp; i++)
			if (t->qp[i].type == QPT_UD)
				idx[n++] = i;
	return n ? &t->qp[idx[rnd(g, n)]] : NULL;
}

static uint32_t neighbour(struct gen *g, uint32_t qpn)
{
	uint32_t d = rnd_range(g, 1, 3);

	return (chance(g, 50) ? qpn + d : qpn - d) & QPN_MASK;
}

/*
 * A target QPN of every kind: listed ones mostly, their neighbours, random
 * ones, 0 and 1. *qp is the listed QP, or NULL.
 */
static uint32_t broad_qpn(struct gen *g, const struct tqp **qp)
{
	uint32_t r = rnd(g, 100), qpn;
	const struct tqp *q = any_qp(g);
	int i;

	if (r < 70)
		qpn = q->qpn;
	else if (r < 82)
		qpn = neighbour(g, q->qpn);
	else if (r < 92)
		qpn = rnd24(g);
	else if (r < 96)
		qpn = 0;
	else
		qpn = 1;
	i = qp_index(g->t, qpn);
	*qp = i >= 0 ? &g->t->qp[i] : NULL;
	return qpn;
}

/* A QPN the file does not list (nor the GSI QP, 1). */
static uint32_t unlisted_qpn(struct gen *g)
{
	uint32_t r = rnd(g, 100), qpn = 0;
	int i;

	if (r < 8)
		return 0;
	if (r < 14)
		return MCAST_QPN;
	for (i = 0; i < PICK_TRIES; i++) {
		qpn = r < 60 ? neighbour(g, any_qp(g)->qpn) : rnd24(g);
		if (qpn > 1 && qp_index(g->t, qpn) < 0)
			return qpn;
	}
	return 0;
}

static bool has_access(const struct tmr *m, char acc)
{
	return strchr(m->access, acc) != NULL;
}

/*
 * A registered MR for @q: of its PD with access @acc if there is one, else
 * of its PD, else any registered MR, else a made-up one.
 */
static const struct tmr *own_mr(struct gen *g, const struct tqp *q, char acc)
{
	const struct targets *t = g->t;
	int idx[MAX_MRS], n = 0, i, pass;

	for (pass = 0; pass < 3 && !n; pass++)
		for (i = 0; i < t->nmr; i++) {
			const struct tmr *m = &t->mr[i];

			if (m->stale)
				continue;
			if (pass < 2 && (!q || strcmp(m->pd, q->pd)))
				continue;
			if (pass == 0 && !has_access(m, acc))
				continue;
			idx[n++] = i;
		}
	return n ? &t->mr[idx[rnd(g, n)]] : &no_mr;
}

/* A registered MR of another PD than @q's, or NULL. */
static const struct tmr *other_pd_mr(struct gen *g, const struct tqp *q)
{
	const struct targets *t = g->t;
	int idx[MAX_MRS], n = 0, i;

	for (i = 0; i < t->nmr; i++)
		if (!t->mr[i].stale && strcmp(t->mr[i].pd, q->pd))
			idx[n++] = i;
	return n ? &t->mr[idx[rnd(g, n)]] : NULL;
}

static const struct tmr *stale_mr(struct gen *g)
{
	const struct targets *t = g->t;
	int idx[MAX_MRS], n = 0, i;

	for (i = 0; i < t->nmr; i++)
		if (t->mr[i].stale)
			idx[n++] = i;
	return n ? &t->mr[idx[rnd(g, n)]] : NULL;
}

/* An address inside @m with @size bytes after it, a multiple of @align. */
static uint64_t place(struct gen *g, const struct tmr *m, uint64_t size,
		      uint64_t align)
{
	uint64_t va = m->addr;

	if (m->len > size)
		va += rnd_below(g, m->len - size + 1);
	if (align > 1) {
		va &= ~(align - 1);
		if (va < m->addr)
			va += align;
	}
	return va;
}

static char access_for(uint8_t op)
{
	switch (op) {
	case OP_READ_REQUEST:
	case OP_FLUSH:
		return 'r';
	case OP_CMP_SWAP:
	case OP_FETCH_ADD:
		return 'a';
	default:
		return 'w';
	}
}

/* ------------------------------------------------------------------ */
/* Laying packets out                                                  */

enum seg { SEG_FIRST, SEG_MIDDLE, SEG_OTHER };

static enum seg seg_kind(uint8_t op)
{
	if (op >= 0x60)
		return SEG_OTHER;
	switch (op & 0x1f) {
	case OP_SEND_FIRST:
	case OP_WRITE_FIRST:
	case OP_READ_RESP_FIRST:
		return SEG_FIRST;
	case OP_SEND_MIDDLE:
	case OP_WRITE_MIDDLE:
	case OP_READ_RESP_MIDDLE:
		return SEG_MIDDLE;
	default:
		return SEG_OTHER;
	}
}

/* Payload bytes (pad included) that fit behind @op's headers. */
static uint32_t room(uint8_t op)
{
	return ROCE_MAX - hdr_len(op) - ICRC_LEN;
}

/* The MTU, or less if a packet of @op that large would not fit the netdev. */
static uint32_t mtu_for(const struct gen *g, uint8_t op)
{
	uint32_t r = room(op) & ~3u;

	return g->t->mtu < r ? g->t->mtu : r;
}

/* @d payload bytes and the pad that makes them whole words. */
static void set_payload(struct roce *r, uint32_t d)
{
	uint32_t pad = (4 - (d & 3)) & 3;

	r->paylen = d + pad;
	r->flags = (r->flags & ~BTH_PAD) | pad << BTH_PAD_SHIFT;
}

static void roce_init(struct gen *g, struct roce *r)
{
	memset(r, 0, sizeof(*r));
	r->saddr = g->src;
	r->daddr = g->dst;
	r->ipid = 1 + rnd(g, 0xffff);
	r->sport = 0xc000 + rnd(g, 0x4000);
	r->pkey = DEF_PKEY;
}

static uint32_t random_aeth(struct gen *g)
{
	static const uint8_t syndromes[] = {
		0x1f, 0x00, 0x0a, 0x20, 0x3f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x9f,
	};
	uint8_t syn = chance(g, 80) ? syndromes[rnd(g, sizeof(syndromes))] :
				      rnd(g, 256);

	return (uint32_t)syn << 24 | rnd24(g);
}

/*
 * A well-formed packet of valid opcode @op at @qpn, with fields that make
 * sense for the listed QP @q (NULL: none) and MR @m (NULL: one of @q's).
 */
static void fill_valid(struct gen *g, struct roce *r, uint8_t op,
		       const struct tqp *q, uint32_t qpn, const struct tmr *m)
{
	uint16_t l = layout[op];
	uint32_t mtu = mtu_for(g, op), d = 0;
	enum seg seg = seg_kind(op);

	r->opcode = op;
	r->qpn = qpn & QPN_MASK;
	r->psn = q ? exp_psn(q) : rnd24(g);
	r->flags = chance(g, 10) ? BTH_SE : 0;
	r->ackreq = (seg == SEG_OTHER || chance(g, 25)) ? BTH_ACKREQ : 0;
	if (!m)
		m = own_mr(g, q, access_for(op));

	if (l & F_PAY) {
		if (op == OP_ATOMIC_WRITE)
			d = 8;
		else if (seg == SEG_FIRST || seg == SEG_MIDDLE)
			d = mtu;
		else
			d = rnd(g, mtu + 1);
	}
	set_payload(r, d);

	if (l & H_RDETH)
		r->een = rnd24(g);
	if (l & H_DETH) {
		if (qpn == 1)
			r->qkey = GSI_QKEY;
		else if (q && q->has_qkey)
			r->qkey = q->qkey;
		else
			r->qkey = (uint32_t)rnd64(g);
		r->sqp = rnd24(g);
	}
	if (l & H_FETH)
		r->feth = rnd_range(g, 1, 2) | rnd(g, 2) << 4;
	if (l & H_RETH) {
		if (op == OP_ATOMIC_WRITE)
			r->dlen = 8;
		else if ((op & 0x1f) == OP_READ_REQUEST || op == OP_FLUSH)
			r->dlen = rnd_range(g, 1, 4 * mtu);
		else if (seg == SEG_FIRST)
			r->dlen = d + rnd_range(g, 1, 3 * mtu);
		else
			r->dlen = d;
		r->va = place(g, m, r->dlen, op == OP_ATOMIC_WRITE ? 8 : 1);
		r->rkey = m->rkey;
	}
	if (l & H_AETH)
		r->aeth = random_aeth(g);
	if (l & H_ATMETH) {
		r->va = place(g, m, 8, 8);
		r->rkey = m->rkey;
		r->swap = rnd64(g);
		r->comp = chance(g, 50) ? 0 : rnd64(g);
	}
	if (l & H_ATMACK)
		r->orig = rnd64(g);
	if (l & H_IMMDT)
		r->imm = (uint32_t)rnd64(g);
	if (l & H_IETH)
		r->imm = chance(g, 50) ? m->rkey : (uint32_t)rnd64(g);
}

/* A packet of an opcode rxe does not know: a made-up header and payload. */
static void fill_invalid(struct gen *g, struct roce *r, uint8_t op,
			 const struct tqp *q, uint32_t qpn)
{
	r->opcode = op;
	r->qpn = qpn & QPN_MASK;
	r->psn = q ? exp_psn(q) : rnd24(g);
	r->ackreq = chance(g, 50) ? BTH_ACKREQ : 0;
	if (op == OP_CNP) {
		/* RoCEv2 CNP: 16 reserved bytes */
		r->xhdr = 16;
		r->xzero = true;
		r->paylen = 0;
		return;
	}
	r->xhdr = rnd(g, 49);
	r->paylen = rnd(g, 65);
}

/* A request that suits @q: a UD send for a UD QP, an RC request otherwise. */
static uint8_t request_for(struct gen *g, const struct tqp *q)
{
	static const uint8_t rc_ops[] = {
		OP_SEND_ONLY, OP_SEND_ONLY_IMM, OP_SEND_ONLY_INV, OP_SEND_FIRST,
		OP_WRITE_ONLY, OP_WRITE_ONLY_IMM, OP_WRITE_FIRST,
		OP_READ_REQUEST, OP_CMP_SWAP, OP_FETCH_ADD, OP_FLUSH,
		OP_ATOMIC_WRITE,
	};

	if (q && q->type == QPT_UD)
		return chance(g, 75) ? OP_UD_SEND_ONLY : OP_UD_SEND_ONLY_IMM;
	return rc_ops[rnd(g, sizeof(rc_ops))];
}

static void set_lengths(uint8_t *pkt, size_t total)
{
	put16(pkt + 2, total);
	put16(pkt + IP_HLEN + 4, total - IP_HLEN);
}

/* Lay @r out at @pkt with its ICRC; returns the IP packet's length. */
static size_t build(struct gen *g, const struct roce *r, uint8_t *pkt)
{
	uint8_t *b = pkt + ROCE_OFF;
	uint16_t l = r->raw ? 0 : layout[r->opcode];
	size_t off = BTH_LEN, n, i, total;
	uint64_t v = 0;

	memset(pkt, 0, NET_MTU);
	b[0] = r->opcode;
	b[1] = r->flags;
	put16(b + 2, r->pkey);
	b[4] = r->resv;
	put24(b + 5, r->qpn);
	b[8] = r->ackreq;
	put24(b + 9, r->psn);

	if (l & F_VALID) {
		if (l & H_RDETH) {
			put32(b + off, r->een & 0xffffff);
			off += 4;
		}
		if (l & H_DETH) {
			put32(b + off, r->qkey);
			put32(b + off + 4, r->sqp & 0xffffff);
			off += 8;
		}
		if (l & H_FETH) {
			put32(b + off, r->feth);
			off += 4;
		}
		if (l & H_RETH) {
			put64(b + off, r->va);
			put32(b + off + 8, r->rkey);
			put32(b + off + 12, r->dlen);
			off += 16;
		}
		if (l & H_AETH) {
			put32(b + off, r->aeth);
			off += 4;
		}
		if (l & H_ATMETH) {
			put64(b + off, r->va);
			put32(b + off + 8, r->rkey);
			put64(b + off + 12, r->swap);
			put64(b + off + 20, r->comp);
			off += 28;
		}
		if (l & H_ATMACK) {
			put64(b + off, r->orig);
			off += 8;
		}
		if (l & (H_IMMDT | H_IETH)) {
			put32(b + off, r->imm);
			off += 4;
		}
	} else if (!r->raw) {
		n = r->xhdr < ROCE_MAX - off - ICRC_LEN ? r->xhdr :
			ROCE_MAX - off - ICRC_LEN;
		for (i = 0; i < n; i++) {
			if (!(i & 7))
				v = rnd64(g);
			b[off + i] = r->xzero ? 0 : (uint8_t)(v >> (8 * (i & 7)));
		}
		off += n;
	}

	n = r->paylen < ROCE_MAX - off - ICRC_LEN ? r->paylen :
		ROCE_MAX - off - ICRC_LEN;
	for (i = 0; i < n; i++) {
		if (!(i & 7))
			v = rnd64(g);
		b[off + i] = v >> (8 * (i & 7));
	}
	memcpy(b + off, r->head, r->head_len < n ? r->head_len : n);
	off += n;
	total = ROCE_OFF + off + ICRC_LEN;

	pkt[0] = 0x45;			/* IPv4, 20-byte header */
	pkt[1] = 0;			/* TOS */
	put16(pkt + 4, r->ipid);	/* nonzero: the kernel keeps it */
	put16(pkt + 6, 0x4000);		/* DF */
	pkt[8] = 64;			/* TTL */
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &r->saddr, 4);
	memcpy(pkt + 16, &r->daddr, 4);
	put16(pkt + IP_HLEN, r->sport);
	put16(pkt + IP_HLEN + 2, ROCE_PORT);
	set_lengths(pkt, total);
	put_le32(pkt + total - ICRC_LEN, packet_icrc(pkt, total - ICRC_LEN));
	return total;
}

/* ------------------------------------------------------------------ */
/* The categories                                                      */

static size_t cat_sweep(struct gen *g, uint8_t *pkt)
{
	uint64_t step = g->sweep++;
	uint8_t op = step & 0xff;
	const struct tqp *q = &g->t->qp[(step >> 8) % g->t->nqp];
	struct roce r;

	roce_init(g, &r);
	if (layout[op] & F_VALID)
		fill_valid(g, &r, op, q, q->qpn, NULL);
	else
		fill_invalid(g, &r, op, q, q->qpn);
	return build(g, &r, pkt);
}

static size_t cat_psn(struct gen *g, uint8_t *pkt)
{
	static const uint8_t ops[] = {
		OP_SEND_ONLY, OP_WRITE_ONLY, OP_READ_REQUEST, OP_CMP_SWAP,
		OP_FETCH_ADD,
	};
	const struct tqp *q = rc_qp(g);
	uint32_t base = exp_psn(q), v = rnd(g, 100), psn;
	struct roce r;

	roce_init(g, &r);
	fill_valid(g, &r, ops[rnd(g, sizeof(ops))], q, q->qpn, NULL);
	if (v < 60)			/* in the window */
		psn = base + rnd(g, 17) - 8;
	else if (v < 74)		/* far behind */
		psn = base - rnd_range(g, 1024, 1u << 22);
	else if (v < 88)		/* far ahead */
		psn = base + rnd_range(g, 1024, 1u << 22);
	else if (v < 94)		/* half the PSN space away */
		psn = base + (1u << 23) + rnd(g, 9) - 4;
	else				/* at the 2^24 wrap */
		psn = chance(g, 50) ? PSN_MASK - rnd(g, 8) : rnd(g, 8);
	r.psn = psn & PSN_MASK;
	return build(g, &r, pkt);
}

static size_t cat_unknown(struct gen *g, uint8_t *pkt)
{
	const struct tqp *like = any_qp(g);
	uint32_t qpn = unlisted_qpn(g);
	struct roce r;

	roce_init(g, &r);
	fill_valid(g, &r, request_for(g, like), like, qpn, NULL);
	return build(g, &r, pkt);
}

/* Put @r's RETH or AtomicETH into @m: its rkey, an address inside it. */
static void aim_at(struct gen *g, struct roce *r, const struct tmr *m)
{
	bool atomic = layout[r->opcode] & H_ATMETH;

	r->rkey = m->rkey;
	r->va = place(g, m, atomic ? 8 : r->dlen,
		      (atomic || r->opcode == OP_ATOMIC_WRITE) ? 8 : 1);
}

static size_t cat_rkey(struct gen *g, uint8_t *pkt)
{
	static const uint8_t ops[] = {
		OP_WRITE_ONLY, OP_WRITE_FIRST, OP_READ_REQUEST, OP_CMP_SWAP,
		OP_FETCH_ADD, OP_ATOMIC_WRITE,
	};
	const struct tqp *q = rc_qp(g);
	const struct tmr *m;
	struct roce r;

	roce_init(g, &r);
	fill_valid(g, &r, ops[rnd(g, sizeof(ops))], q, q->qpn, NULL);
	switch (rnd(g, 5)) {
	case 0:		/* the QP's own, valid */
		break;
	case 1:		/* another PD's MR */
		m = other_pd_mr(g, q);
		if (m)
			aim_at(g, &r, m);
		else
			r.rkey ^= (1 + rnd(g, 0xffff)) << 8;
		break;
	case 2:		/* a deregistered MR */
		m = stale_mr(g);
		if (m)
			aim_at(g, &r, m);
		else
			r.rkey = (uint32_t)rnd64(g);
		break;
	case 3:		/* the key byte changed */
		r.rkey = (r.rkey & ~0xffu) | ((r.rkey + rnd_range(g, 1, 255)) & 0xff);
		break;
	default:	/* random */
		r.rkey = (uint32_t)rnd64(g);
		break;
	}
	return build(g, &r, pkt);
}

static size_t cat_reth(struct gen *g, uint8_t *pkt)
{
	const struct tqp *q = rc_qp(g);
	uint32_t v = rnd(g, 100), len, mtu, k;
	const struct tmr *m;
	uint64_t s, e, va;
	struct roce r;
	uint8_t op;

	if (v < 40)
		op = OP_READ_REQUEST;
	else if (v < 70)
		op = OP_WRITE_ONLY;
	else if (v < 80)
		op = OP_WRITE_FIRST;
	else if (v < 90)
		op = OP_FLUSH;
	else
		op = OP_ATOMIC_WRITE;
	mtu = mtu_for(g, op);
	m = own_mr(g, q, access_for(op));
	s = m->addr;
	e = m->addr + m->len;
	if (op == OP_READ_REQUEST)
		len = rnd_range(g, 1, 4 * mtu);
	else if (op == OP_ATOMIC_WRITE)
		len = 8;
	else
		len = rnd_range(g, 1, mtu);
	switch (rnd(g, 15)) {
	case 0:
		va = s - 1;
		break;
	case 1:
		va = s;
		break;
	case 2:
		va = e - len;
		break;
	case 3:
		va = e - len + 1;
		break;
	case 4:
		va = e;
		break;
	case 5:
		va = e + 1;
		break;
	case 6:		/* all of it, and one more */
		va = s;
		len = m->len > UINT32_MAX ? UINT32_MAX : m->len;
		if (chance(g, 50) && len < UINT32_MAX)
			len++;
		break;
	case 7:		/* far outside */
		k = rnd(g, 3);
		va = k == 0 ? s + (1ull << 40) : k == 1 ? 0 : rnd64(g);
		break;
	case 8:		/* VA = 2^64 - k, length > k */
		k = rnd_range(g, 1, 4096);
		va = 0 - (uint64_t)k;
		len = k + rnd_range(g, 1, mtu);
		break;
	case 9:		/* across the top of the MR into 2^64 */
		va = UINT64_MAX - rnd(g, 8);
		len = rnd_range(g, 9, 4 * mtu);
		break;
	case 10:	/* zero length, in and out of the MR */
		len = 0;
		k = rnd(g, 4);
		va = k == 0 ? s : k == 1 ? s - 1 : k == 2 ? e : rnd64(g);
		break;
	case 11:
		va = s;
		len = 0x7fffffff;
		break;
	case 12:
		va = s;
		len = 0xffffffff;
		break;
	case 13:
		va = s;
		len = 0x80000000;
		break;
	default:	/* huge, from inside */
		va = place(g, m, 1, 1);
		len = 0x80000000u + rnd(g, 0x80000000u);
		break;
	}
	roce_init(g, &r);
	fill_valid(g, &r, op, q, q->qpn, m);
	r.va = va;
	r.rkey = m->rkey;
	r.dlen = len;
	if (op == OP_WRITE_ONLY)
		set_payload(&r, len < mtu ? len : mtu);
	return build(g, &r, pkt);
}

static uint32_t big_payload(struct gen *g, uint8_t op)
{
	uint32_t lo = g->t->mtu + 1, hi = room(op) < BIG_PAYLOAD ?
						room(op) & ~3u : BIG_PAYLOAD;

	return lo <= hi ? rnd_range(g, lo, hi) : hi;
}

static size_t cat_dma(struct gen *g, uint8_t *pkt)
{
	static const uint8_t middles[] = {
		OP_SEND_MIDDLE, OP_WRITE_MIDDLE, OP_SEND_LAST, OP_WRITE_LAST,
	};
	const struct tqp *q = rc_qp(g);
	const struct tmr *m = own_mr(g, q, 'w');
	uint32_t d, mtu, k;
	struct roce r;
	uint8_t op;

	roce_init(g, &r);
	switch (rnd(g, 9)) {
	case 0:		/* DMA length over the payload */
		op = OP_WRITE_ONLY;
		fill_valid(g, &r, op, q, q->qpn, m);
		r.dlen += rnd_range(g, 1, 64);
		break;
	case 1:		/* DMA length under the payload */
		op = OP_WRITE_ONLY;
		fill_valid(g, &r, op, q, q->qpn, m);
		d = rnd_range(g, 1, mtu_for(g, op));
		set_payload(&r, d);
		r.dlen = d - rnd_range(g, 1, d);
		break;
	case 2:		/* no DMA length, a payload */
		op = OP_WRITE_ONLY;
		fill_valid(g, &r, op, q, q->qpn, m);
		set_payload(&r, rnd_range(g, 1, mtu_for(g, op)));
		r.dlen = 0;
		break;
	case 3:		/* first packet, DMA length under its payload */
		op = OP_WRITE_FIRST;
		fill_valid(g, &r, op, q, q->qpn, m);
		r.dlen = rnd(g, mtu_for(g, op));
		break;
	case 4:		/* first packet short of the MTU */
		op = chance(g, 50) ? OP_WRITE_FIRST : OP_SEND_FIRST;
		fill_valid(g, &r, op, q, q->qpn, m);
		mtu = mtu_for(g, op);
		set_payload(&r, rnd(g, mtu));
		break;
	case 5:		/* write over the MTU, DMA length to match */
		op = OP_WRITE_ONLY;
		fill_valid(g, &r, op, q, q->qpn, m);
		d = big_payload(g, op);
		set_payload(&r, d);
		r.dlen = d;
		r.va = place(g, m, d, 1);
		break;
	case 6:		/* send over the MTU */
		op = chance(g, 50) ? OP_SEND_ONLY : OP_SEND_ONLY_IMM;
		fill_valid(g, &r, op, q, q->qpn, m);
		set_payload(&r, big_payload(g, op));
		break;
	case 7:		/* first packet over the MTU */
		op = chance(g, 50) ? OP_SEND_FIRST : OP_WRITE_FIRST;
		fill_valid(g, &r, op, q, q->qpn, m);
		set_payload(&r, big_payload(g, op));
		break;
	default:	/* middle and last packets, out of the blue, short */
		op = middles[rnd(g, sizeof(middles))];
		fill_valid(g, &r, op, q, q->qpn, m);
		k = rnd(g, mtu_for(g, op));
		set_payload(&r, k);
		break;
	}
	return build(g, &r, pkt);
}

static size_t cat_atomic(struct gen *g, uint8_t *pkt)
{
	const struct tqp *q = rc_qp(g);
	const struct tmr *m = own_mr(g, q, 'a');
	uint64_t e = m->addr + m->len;
	uint32_t v = rnd(g, 10), d;
	struct roce r;

	roce_init(g, &r);
	if (v < 6) {
		fill_valid(g, &r, chance(g, 50) ? OP_CMP_SWAP : OP_FETCH_ADD,
			   q, q->qpn, m);
		switch (v) {
		case 0:		/* off alignment, inside */
			r.va = place(g, m, 16, 8) + rnd_range(g, 1, 7);
			break;
		case 1:		/* the last 8 bytes, aligned or not */
			r.va = e - 8;
			if (chance(g, 50))
				r.va &= ~7ull;
			break;
		case 2:		/* 4 bytes before the end */
			r.va = e - 4;
			break;
		case 3:		/* just past the end */
			r.va = chance(g, 50) ? e : (e + 8) & ~7ull;
			break;
		case 4:		/* just before the start */
			r.va = chance(g, 50) ? m->addr - 8 : m->addr - 1;
			break;
		default:	/* far away */
			r.va = chance(g, 50) ? rnd64(g) & ~7ull : rnd64(g);
			break;
		}
	} else if (v < 9) {
		m = own_mr(g, q, 'w');
		fill_valid(g, &r, OP_ATOMIC_WRITE, q, q->qpn, m);
		if (v == 6) {		/* payload not 8 bytes */
			d = rnd(g, 15);		/* 0..15 but 8 */
			if (d >= 8)
				d++;
			set_payload(&r, d);
			if (chance(g, 50))
				r.dlen = d;
		} else if (v == 7) {	/* DMA length not 8 */
			r.dlen = chance(g, 80) ? rnd_range(g, 0, 15) | 1 :
						 (uint32_t)rnd64(g);
		} else {		/* off alignment */
			r.va += rnd_range(g, 1, 7);
		}
	} else {			/* FLUSH of odd lengths and types */
		m = own_mr(g, q, 'r');
		fill_valid(g, &r, OP_FLUSH, q, q->qpn, m);
		r.dlen = rnd_range(g, 0, 4095) | 1;
		r.va = chance(g, 50) ? place(g, m, r.dlen, 1) : e - rnd(g, 8);
		r.feth = chance(g, 50) ? (rnd_range(g, 1, 3) | rnd(g, 2) << 4) :
					 (uint32_t)rnd64(g);
	}
	return build(g, &r, pkt);
}

static size_t cat_pad(struct gen *g, uint8_t *pkt)
{
	static const uint8_t rc_ops[] = {
		OP_SEND_ONLY, OP_SEND_ONLY_IMM, OP_WRITE_ONLY, OP_SEND_LAST,
		OP_WRITE_LAST, OP_READ_REQUEST, OP_FETCH_ADD,
	};
	const struct tqp *q = chance(g, 25) ? ud_qp(g) : NULL;
	uint32_t pad = rnd_range(g, 1, 3), t, mtu;
	struct roce r;
	uint8_t op;

	if (!q)
		q = rc_qp(g);
	op = q->type == QPT_UD ? OP_UD_SEND_ONLY : rc_ops[rnd(g, sizeof(rc_ops))];
	roce_init(g, &r);
	fill_valid(g, &r, op, q, q->qpn, NULL);
	mtu = mtu_for(g, op);
	if (!(layout[op] & F_PAY)) {
		t = chance(g, 50) ? 0 : 4;	/* headers only, pad anyway */
	} else {
		switch (rnd(g, 4)) {
		case 0:		/* whole words, pad inside them */
			t = 4 * rnd_range(g, 1, mtu / 4);
			break;
		case 1:		/* not whole words */
			t = rnd_range(g, 1, mtu);
			if (!(t & 3))
				t -= 1;
			break;
		case 2:		/* fewer bytes than the pad */
			t = rnd(g, pad);
			break;
		default:	/* whole words, DMA length counting the pad */
			t = 4 * rnd_range(g, 1, mtu / 4);
			break;
		}
		if (op == OP_WRITE_ONLY)
			r.dlen = t >= pad && chance(g, 50) ? t - pad : t;
	}
	r.paylen = t;
	r.flags = (r.flags & ~BTH_PAD) | pad << BTH_PAD_SHIFT;
	return build(g, &r, pkt);
}

static size_t cat_trunc(struct gen *g, uint8_t *pkt)
{
	const struct tqp *q;
	uint32_t qpn = broad_qpn(g, &q);
	size_t total, keep, hl;
	struct roce r;
	uint8_t op;

	op = chance(g, 80) ? request_for(g, q) : rnd(g, 0x1e);
	if (!(layout[op] & F_VALID))
		op = OP_SEND_ONLY;
	roce_init(g, &r);
	fill_valid(g, &r, op, q, qpn, NULL);
	build(g, &r, pkt);
	hl = hdr_len(op);
	/* keep fewer bytes than the headers and the ICRC */
	keep = chance(g, 40) ? rnd(g, BTH_LEN) :
			       rnd_range(g, BTH_LEN, hl + ICRC_LEN - 1);
	total = ROCE_OFF + keep;
	memset(pkt + total, 0, NET_MTU - total);
	set_lengths(pkt, total);
	if (keep >= ICRC_LEN && chance(g, 50))
		put_le32(pkt + total - ICRC_LEN,
			 packet_icrc(pkt, total - ICRC_LEN));
	return total;
}

static size_t cat_badicrc(struct gen *g, uint8_t *pkt)
{
	const struct tqp *q = chance(g, 80) ? rc_qp(g) : any_qp(g);
	size_t total, hl, at, lo, hi;
	struct roce r;
	uint8_t op;

	op = request_for(g, q);
	roce_init(g, &r);
	fill_valid(g, &r, op, q, q->qpn, NULL);
	total = build(g, &r, pkt);
	hl = hdr_len(op);
	if (chance(g, 50)) {
		lo = total - ICRC_LEN;
		hi = total;
	} else if (total - ICRC_LEN > ROCE_OFF + hl) {
		lo = ROCE_OFF + hl;		/* the payload */
		hi = total - ICRC_LEN;
	} else {
		lo = ROCE_OFF;			/* no payload: the headers */
		hi = ROCE_OFF + hl;
	}
	at = lo + rnd_below(g, hi - lo);
	if (at == ROCE_OFF + 4)		/* the ICRC does not cover it */
		at++;
	pkt[at] ^= 1u << rnd(g, 8);
	return total;
}

static size_t cat_bth(struct gen *g, uint8_t *pkt)
{
	static const uint16_t pkeys[] = {
		0x0000, 0x7fff, 0x8001, 0x8000, 0xfffe, 0x0001, 0x7ffe,
	};
	const struct tqp *q = chance(g, 70) ? rc_qp(g) : any_qp(g);
	struct roce r;
	int n, i;

	roce_init(g, &r);
	fill_valid(g, &r, request_for(g, q), q, q->qpn, NULL);
	n = rnd_range(g, 1, 3);
	for (i = 0; i < n; i++) {
		switch (rnd(g, 9)) {
		case 0:
			r.flags = (r.flags & ~BTH_TVER) | rnd_range(g, 1, 15);
			break;
		case 1:
			r.pkey = chance(g, 80) ? pkeys[rnd(g, sizeof(pkeys) / 2)] :
						 (uint16_t)rnd64(g);
			break;
		case 2:
			r.flags |= BTH_MIG;
			break;
		case 3:
			r.flags ^= BTH_SE;
			break;
		case 4:
			r.ackreq ^= BTH_ACKREQ;
			break;
		case 5:
			r.resv |= BTH_FECN;
			break;
		case 6:
			r.resv |= BTH_BECN;
			break;
		case 7:
			r.resv |= rnd_range(g, 1, BTH_RESV6);
			break;
		default:
			r.ackreq |= rnd_range(g, 1, BTH_RESV7);
			break;
		}
	}
	return build(g, &r, pkt);
}

static size_t cat_spoof(struct gen *g, uint8_t *pkt)
{
	static const uint8_t ops[] = {
		OP_SEND_ONLY, OP_WRITE_ONLY, OP_READ_REQUEST, OP_FETCH_ADD,
		OP_CMP_SWAP,
	};
	const struct tqp *q = rc_qp(g);
	uint32_t src = ntohl(g->src), dst = ntohl(g->dst), a;
	struct roce r;

	roce_init(g, &r);
	fill_valid(g, &r, q->type == QPT_UD ? request_for(g, q) :
		   ops[rnd(g, sizeof(ops))], q, q->qpn, NULL);
	switch (rnd(g, 5)) {
	case 0:
		a = src + 1;
		break;
	case 1:
		a = 0x0a630001;		/* 10.99.0.1 */
		break;
	case 2:
		a = dst;		/* the target itself */
		break;
	case 3:			/* elsewhere in SRC_IP's /24 */
		a = (src & ~0xffu) | rnd_range(g, 1, 254);
		break;
	default:
		a = 0x0a000000 | rnd_range(g, 1, 0xfffffe);
		break;
	}
	if (a == src)
		a ^= 2;
	r.saddr = htonl(a);
	return build(g, &r, pkt);
}

static size_t cat_udqkey(struct gen *g, uint8_t *pkt)
{
	static const uint8_t classes[] = {
		0x01, 0x81, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x10, 0x21,
		0x2e, 0x30, 0x4f,
	};
	static const uint8_t methods[] = {
		0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x12, 0x14, 0x15, 0x81,
	};
	uint32_t v = rnd(g, 100), right, qpn, d;
	const struct tqp *q = NULL;
	struct roce r;
	uint8_t op;

	if (v < 45)
		q = ud_qp(g);
	else if (v < 65)
		q = rc_qp(g);
	qpn = q ? q->qpn : 1;
	op = chance(g, 80) ? OP_UD_SEND_ONLY : OP_UD_SEND_ONLY_IMM;
	roce_init(g, &r);
	fill_valid(g, &r, op, q, qpn, NULL);
	right = qpn == 1 ? GSI_QKEY : q && q->has_qkey ? q->qkey :
						   (uint32_t)rnd64(g);
	switch (rnd(g, 6)) {
	case 0:
	case 1:
		r.qkey = right;
		break;
	case 2:
		r.qkey = (uint32_t)rnd64(g);
		break;
	case 3:		/* the privileged bit on the right key */
		r.qkey = right | 0x80000000u;
		break;
	case 4:		/* a privileged key */
		r.qkey = 0x80000000u | (uint32_t)rnd64(g);
		break;
	default:	/* one bit off */
		r.qkey = right ^ (1u << rnd(g, 32));
		break;
	}
	r.sqp = chance(g, 20) ? 1 : rnd24(g);
	if (qpn == 1) {
		/* a MAD header: versions, class, method, status, TID, attribute */
		d = chance(g, 50) ? 256 : rnd_range(g, 0, 300);
		if (d > mtu_for(g, op))
			d = mtu_for(g, op);
		set_payload(&r, d);
		r.head_len = 24;
		put64(r.head + 16, rnd64(g));
		put64(r.head + 8, rnd64(g));
		put64(r.head, rnd64(g));
		r.head[0] = 1;
		r.head[1] = classes[rnd(g, sizeof(classes))];
		r.head[2] = rnd_range(g, 1, 2);
		r.head[3] = methods[rnd(g, sizeof(methods))];
		if (chance(g, 50))
			put16(r.head + 4, 0);
	} else if (chance(g, 10)) {
		set_payload(&r, big_payload(g, op));
	}
	return build(g, &r, pkt);
}

static size_t cat_random(struct gen *g, uint8_t *pkt)
{
	const struct tqp *q;
	struct roce r;

	roce_init(g, &r);
	r.raw = true;
	r.opcode = rnd(g, 256);
	r.flags = rnd(g, 256);
	if (chance(g, 75))
		r.flags &= ~BTH_TVER;
	r.pkey = chance(g, 75) ? DEF_PKEY : (uint16_t)rnd64(g);
	r.resv = rnd(g, 256);
	r.qpn = broad_qpn(g, &q);
	r.ackreq = rnd(g, 256);
	r.psn = q && chance(g, 50) ? exp_psn(q) : rnd24(g);
	r.paylen = chance(g, 50) ? rnd(g, 65) :
				   rnd(g, ROCE_MAX - BTH_LEN - ICRC_LEN + 1);
	return build(g, &r, pkt);
}

static const struct category cats[] = {
	{ "opcode-sweep",	12, cat_sweep },
	{ "psn-window",		10, cat_psn },
	{ "unknown-qpn",	 5, cat_unknown },
	{ "rkey",		10, cat_rkey },
	{ "reth-range",		10, cat_reth },
	{ "dma-vs-payload",	 8, cat_dma },
	{ "atomic-misaligned",	 7, cat_atomic },
	{ "pad-bits",		 6, cat_pad },
	{ "truncated",		 6, cat_trunc },
	{ "bad-icrc",		 5, cat_badicrc },
	{ "bth-fields",		 6, cat_bth },
	{ "spoofed-source",	 4, cat_spoof },
	{ "ud-qkey",		 6, cat_udqkey },
	{ "random",		 5, cat_random },
};

#define NCATS ((int)(sizeof(cats) / sizeof(cats[0])))

/* The stream's next packet into @pkt; returns its length, *cat its category. */
static size_t next_packet(struct gen *g, uint8_t *pkt, int *cat)
{
	uint32_t w = rnd(g, 100), sum = 0;
	size_t len;
	int c;

	for (c = 0; c < NCATS - 1; c++) {
		sum += cats[c].weight;
		if (w < sum)
			break;
	}
	len = cats[c].make(g, pkt);
	if (len < ROCE_OFF || len > NET_MTU || get16(pkt + 2) != len) {
		fprintf(stderr, PROG ": internal error: %s packet of %zu bytes\n",
			cats[c].name, len);
		exit(1);
	}
	*cat = c;
	return len;
}

/* ------------------------------------------------------------------ */
/* Capture                                                             */

struct live {
	uint32_t qpn, psn;
};

/*
 * A RoCEv2 packet at ip[0 .. n)? Returns its IP length, 0 if it is none
 * (or none this program can check: IP options, fragments).
 */
static size_t roce_frame(const uint8_t *ip, size_t n)
{
	size_t tot;

	if (n < ROCE_OFF + BTH_LEN + ICRC_LEN || ip[0] != 0x45)
		return 0;
	tot = get16(ip + 2);
	if (tot > n || tot < ROCE_OFF + BTH_LEN + ICRC_LEN)
		return 0;
	if (ip[9] != IPPROTO_UDP || (get16(ip + 6) & 0x3fff))
		return 0;
	if (get16(ip + IP_HLEN + 2) != ROCE_PORT ||
	    get16(ip + IP_HLEN + 4) != tot - IP_HLEN)
		return 0;
	return tot;
}

static void learn_psn(struct live *lv, int *nlv, uint32_t qpn, uint32_t psn)
{
	int i;

	for (i = 0; i < *nlv; i++)
		if (lv[i].qpn == qpn) {
			lv[i].psn = psn;
			return;
		}
	if (*nlv < MAX_LIVE) {
		lv[*nlv].qpn = qpn;
		lv[*nlv].psn = psn;
		(*nlv)++;
	}
}

/*
 * Watch @ifname, check the ICRC of DST's packets and learn the live PSNs
 * of the listed QPs from SRC's requests. 0 if all is well.
 */
static int capture(const char *ifname, const char *dst_str, uint32_t src,
		   uint32_t dst, struct targets *t)
{
	static struct live lv[MAX_LIVE];
	static uint8_t buf[65536];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int fd, nlv = 0, checked = 0, matched = 0, listed = 0, i, rc;
	unsigned int ifindex;
	long frames;
	double start, left;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, PROG ": %s: no such interface\n", ifname);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (fd < 0) {
		fprintf(stderr, PROG ": AF_PACKET socket: %s\n", strerror(errno));
		return -1;
	}
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, PROG ": binding to %s: %s\n", ifname,
			strerror(errno));
		close(fd);
		return -1;
	}
	start = now_s();
	for (frames = 0; frames < CAPTURE_FRAMES && checked < CAPTURE_WANT;
	     frames++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		uint32_t saddr, daddr, got, want;
		ssize_t n;
		size_t len;
		uint8_t op;

		left = start + CAPTURE_SECONDS - now_s();
		if (left <= 0)
			break;
		rc = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		if (!rc)
			break;
		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, PROG ": recvfrom on %s: %s\n", ifname,
				strerror(errno));
			close(fd);
			return -1;
		}
		if ((size_t)n > sizeof(buf) || (int)from.sll_ifindex != (int)ifindex ||
		    from.sll_protocol != htons(ETH_P_IP))
			continue;
		len = roce_frame(buf, n);
		if (!len)
			continue;
		memcpy(&saddr, buf + 12, 4);
		memcpy(&daddr, buf + 16, 4);
		op = buf[ROCE_OFF];
		if (saddr == dst) {
			checked++;
			got = get_le32(buf + len - ICRC_LEN);
			want = packet_icrc(buf, len - ICRC_LEN);
			if (got == want) {
				matched++;
			} else if (checked - matched <= CAPTURE_SHOWN) {
				fprintf(stderr,
					PROG ": ICRC mismatch: opcode 0x%02x, %zu bytes, packet has 0x%08x, computed 0x%08x\n",
					op, len, got, want);
			}
		} else if (saddr == src && daddr == dst &&
			   (layout[op] & F_REQ)) {
			learn_psn(lv, &nlv, get24(buf + ROCE_OFF + 5),
				  get24(buf + ROCE_OFF + 9));
		}
	}
	if (close(fd)) {
		fprintf(stderr, PROG ": close: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < nlv; i++) {
		int k = qp_index(t, lv[i].qpn);

		if (k < 0)
			continue;
		t->qp[k].live = true;
		t->qp[k].live_psn = (lv[i].psn + 1) & PSN_MASK;
		listed++;
	}
	printf("capture: %ld frames on %s in %.1f s\n", frames, ifname,
	       now_s() - start);
	printf("icrc: %d packets from %s checked, %d match\n", checked,
	       dst_str, matched);
	printf("live PSNs learned for %d QPNs (%d of them listed)\n", nlv,
	       listed);
	if (matched != checked) {
		fprintf(stderr, PROG ": %d of %d ICRCs differ from this program's\n",
			checked - matched, checked);
		return -1;
	}
	if (checked < CAPTURE_MIN) {
		fprintf(stderr,
			PROG ": only %d RoCEv2 packets from %s on %s in %d s; want %d\n",
			checked, dst_str, ifname, CAPTURE_SECONDS, CAPTURE_MIN);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

/* 0 if sent, -1 on an error (said), -2 if the deadline came first. */
static int send_packet(int fd, const uint8_t *pkt, size_t len,
		       double deadline)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	ssize_t n;
	int tries;

	memcpy(&to.sin_addr, pkt + 16, 4);
	for (tries = 0; tries < SEND_RETRIES; tries++) {
		n = sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to));
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			fprintf(stderr, PROG ": sendto sent %zd of %zu bytes\n",
				n, len);
			return -1;
		}
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, PROG ": sendto (%zu bytes): %s\n", len,
				strerror(errno));
			return -1;
		}
		if (now_s() > deadline)
			return -2;
		sleep_s(0.001);
	}
	fprintf(stderr, PROG ": sendto: out of buffers %d times in a row\n",
		SEND_RETRIES);
	return -1;
}

static void dump(struct gen *g, uint64_t count)
{
	static uint8_t pkt[NET_MTU];
	uint64_t i;
	size_t len, k;
	int c;

	for (i = 0; i < count && i < DUMP_PACKETS; i++) {
		len = next_packet(g, pkt, &c);
		printf("packet %" PRIu64 " %s %zu bytes\n", i, cats[c].name, len);
		for (k = 0; k < len; k++)
			printf("%s%02x%s", k % 16 ? " " : "  ", pkt[k],
			       k % 16 == 15 || k == len - 1 ? "\n" : "");
	}
}

/*
 * The read-replay probe (-R, see the top): returns the packets sent, or
 * -1 when one could not be sent.
 */
static long replay_probe(struct gen *g, int fd, double deadline)
{
	static uint8_t pkt[NET_MTU];
	const struct targets *t = g->t;
	const struct tmr *m;
	struct roce r;
	long sent = 0;
	uint32_t e;
	int i, k;

	for (i = 0; i < t->nqp; i++) {
		const struct tqp *q = &t->qp[i];

		if (q->type != QPT_RC || q->state != QPS_RTS || q->live)
			continue;
		m = own_mr(g, q, 'r');
		if (m->stale || !has_access(m, 'r') || strcmp(m->pd, q->pd))
			continue;
		e = exp_psn(q);
		for (k = 0; k < 3; k++) {
			roce_init(g, &r);
			r.qpn = q->qpn;
			r.ackreq = BTH_ACKREQ;
			if (k == 1) {
				r.opcode = OP_WRITE_ONLY;
				r.psn = (e + 1) & PSN_MASK;
			} else {
				r.opcode = OP_READ_REQUEST;
				r.psn = e;
				r.va = m->addr;
				r.rkey = m->rkey;
				r.dlen = 8;
			}
			set_payload(&r, 0);
			if (send_packet(fd, pkt, build(g, &r, pkt), deadline))
				return -1;
			sent++;
			sleep_s(0.05);
		}
		printf("read-replay probe: qp 0x%x: READ psn 0x%x, WRITE of 0 bytes, READ psn 0x%x again (rkey 0x%x)\n",
		       q->qpn, e, e, m->rkey);
	}
	return sent;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: " PROG " [-s SEED] [-n COUNT] [-t SECONDS] [-r RATE] [-c IFACE] [-x] [-R]\n"
		"                  -S SRC_IP -D DST_IP TARGETS_FILE\n");
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t pkt[NET_MTU];
	static struct targets t;
	uint64_t seed = 1, count = 100000, seconds = 300, rate = 20000;
	uint64_t sent, per_cat[NCATS] = { 0 };
	const char *iface = NULL, *src_str = NULL, *dst_str = NULL;
	struct in_addr src, dst;
	double start, deadline, t0, due, now;
	bool hex = false, probe = false;
	int opt, fd, one = 1, c, rc, nrc = 0, nud = 0, nstale = 0, i;
	struct gen g;
	size_t len;

	start = now_s();
	while ((opt = getopt(argc, argv, "s:n:t:r:c:S:D:xRh")) != -1) {
		switch (opt) {
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &seed))
				return usage();
			break;
		case 'n':
			if (parse_u64(optarg, 1000000000, &count))
				return usage();
			break;
		case 't':
			if (parse_u64(optarg, 86400, &seconds) || !seconds)
				return usage();
			break;
		case 'r':
			if (parse_u64(optarg, 100000000, &rate))
				return usage();
			break;
		case 'c':
			iface = optarg;
			break;
		case 'S':
			src_str = optarg;
			break;
		case 'D':
			dst_str = optarg;
			break;
		case 'x':
			hex = true;
			break;
		case 'R':
			probe = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || !src_str || !dst_str)
		return usage();
	if (inet_pton(AF_INET, src_str, &src) != 1 ||
	    inet_pton(AF_INET, dst_str, &dst) != 1) {
		fprintf(stderr, PROG ": SRC_IP and DST_IP must be IPv4 addresses\n");
		return 1;
	}
	deadline = start + seconds;

	crc_init();
	if (crc_selftest())
		return 1;
	if (read_targets(argv[optind], &t))
		return 1;
	for (i = 0; i < t.nqp; i++) {
		nrc += t.qp[i].type == QPT_RC;
		nud += t.qp[i].type == QPT_UD;
	}
	for (i = 0; i < t.nmr; i++)
		nstale += t.mr[i].stale;

	printf("seed %" PRIu64 "\n", seed);
	printf("targets: %d QPs (%d RC, %d UD), %d MRs, %d stale, mtu %u\n",
	       t.nqp, nrc, nud, t.nmr - nstale, nstale, t.mtu);
	printf("mix (of 100):");
	for (c = 0; c < NCATS; c++)
		printf(" %s %u", cats[c].name, cats[c].weight);
	printf("\n");
	fflush(stdout);

	if (iface && capture(iface, dst_str, src.s_addr, dst.s_addr, &t))
		return 1;

	memset(&g, 0, sizeof(g));
	gen_seed(&g, seed);
	g.t = &t;
	g.src = src.s_addr;
	g.dst = dst.s_addr;

	if (hex) {
		dump(&g, count);
		return 0;
	}

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, PROG ": raw IPv4 socket: %s\n", strerror(errno));
		return 1;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		fprintf(stderr, PROG ": IP_HDRINCL: %s\n", strerror(errno));
		close(fd);
		return 1;
	}

	t0 = now_s();
	if (probe) {
		long n = replay_probe(&g, fd, deadline);

		close(fd);
		if (n < 0) {
			fprintf(stderr, PROG ": a packet of the read-replay probe was not sent\n");
			return 1;
		}
		printf("sent %ld packets in %.1f s (read-replay probe)\n", n,
		       now_s() - t0);
		return n ? 0 : 1;
	}
	for (sent = 0; sent < count; sent++) {
		len = next_packet(&g, pkt, &c);
		now = now_s();
		if (rate) {
			due = t0 + (double)sent / rate;
			if (due - now > 0.001) {
				sleep_s(due - now);
				now = now_s();
			}
		}
		if (now > deadline)
			rc = -2;
		else
			rc = send_packet(fd, pkt, len, deadline);
		if (rc == -2) {
			fprintf(stderr,
				PROG ": deadline of %" PRIu64 " s passed after %" PRIu64 " of %" PRIu64 " packets\n",
				seconds, sent, count);
			close(fd);
			return 1;
		}
		if (rc) {
			fprintf(stderr, PROG ": packet %" PRIu64 " (%s) not sent\n",
				sent, cats[c].name);
			close(fd);
			return 1;
		}
		per_cat[c]++;
		if ((sent + 1) % PROGRESS_EVERY == 0) {
			printf("progress: %" PRIu64 "/%" PRIu64 " packets, %.1f s\n",
			       sent + 1, count, now_s() - t0);
			fflush(stdout);
		}
	}
	if (close(fd)) {
		fprintf(stderr, PROG ": close: %s\n", strerror(errno));
		return 1;
	}

	printf("sent %" PRIu64 " packets in %.1f s (seed %" PRIu64 ")\n", sent,
	       now_s() - t0, seed);
	printf("%-20s %10s\n", "category", "packets");
	for (c = 0; c < NCATS; c++)
		printf("%-20s %10" PRIu64 "\n", cats[c].name, per_cat[c]);
	return 0;
}

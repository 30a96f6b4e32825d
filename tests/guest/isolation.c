// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-isolation - a remote peer reaches no byte outside the MR or memory
 * window it was given.
 *
 *   arxe-isolation [-m BACKING] DEV_T GID_T DEV_P GID_P
 *
 * DEV_T is the device under test (arxe0, or a stock rxe0 as the reference)
 * and DEV_P its peer on another node. RDMA devices are visible from every
 * network namespace, so this one process opens both and connects an RC QP
 * on each to the other over RoCE v2 (GID indexes GID_T and GID_P). BACKING
 * is the memory of T's 4 MiB region: anon, thp or huge2m; by default
 * huge2m when two 2 MiB hugetlbfs pages can be mapped, else thp.
 *
 * T's region holds a pseudo-random pattern, of which a copy is kept. Two MRs
 * lie in it at odd places, each with remote read, write and atomic rights
 * and MW_BIND:
 *   mr1  offset 3*4096+5, 64 KiB+3 bytes: inside the first 2 MiB page
 *   mr2  offset 2 MiB-4096-11, 8 KiB+7 bytes: across the 2 MiB boundary
 * P has an MR of its own, its source and landing area. Every access is P's,
 * as requester, with T as responder. One that must be refused must complete
 * on P with IBV_WC_REM_ACCESS_ERR or IBV_WC_REM_INV_REQ_ERR (the line says
 * which), change no byte of T's region and, for READ and atomics, none of
 * P's landing area; as that leaves the pair in the error state, both QPs
 * are then drained and taken through RESET, INIT, RTR and RTS again. One
 * that must work must complete and change exactly the bytes it targets.
 * The cases, each for mr1 and for mr2:
 *   inside                  WRITE, then READ, of the whole MR
 *   before-start            WRITE 8 B at start-1 and at start-4096
 *   past-end                WRITE 2 B at the last byte, READ 1 B at the
 *                           end, WRITE 1 B at end+4096
 *   wrap                    WRITE 8 B at 2^64-4
 *   atomic-outside          FETCH_ADD on the aligned words just before and
 *                           just after the MR and on those across its ends
 *   after-dereg             the MR deregistered: WRITE and READ with its
 *                           rkey refused, its former bytes kept; registered
 *                           again: the old rkey refused on the new MR
 *                           (unless the keys are equal), the new one works
 *   mw-type2-range          a type 2 window over 1000 B of the MR, bound by
 *                           a BIND_MW on T's QP, is written and read whole;
 *                           1 B WRITEs and READs just before and just past
 *                           it (inside the MR) are refused, each through a
 *                           fresh window first shown to work at its edge
 *   mw-after-local-inv      T's LOCAL_INV of a working window; its rkey
 *                           refused
 *   mw-after-send-with-inv  that window bound again (new rkey) and working;
 *                           P's SEND_WITH_INV of it, whose RECV on T says
 *                           IBV_WC_WITH_INV; its rkey refused
 *   type1-mw-after-dealloc  a type 1 window (ibv_bind_mw) works; after
 *                           ibv_dealloc_mw its rkey is refused
 * and at the end
 *   canaries                every byte of the region outside the registered
 *                           MRs equals the copy (a deregistered MR's range:
 *                           what it held at deregistration)
 *   teardown                every window, QP, CQ, MR and PD released
 *
 * Prints one line per case: "ok   CASE/MR: ...", "FAIL CASE/MR: ..." or
 * "skip CASE/MR: ..." (what the device does not support), whose text holds
 * no key and no address so that the lines of a run on arxe0 and of one on
 * rxe0 can be diffed; "info" lines carry keys and settings; the last line is
 * "isolation: N cases, F failed". Every completion is waited for at most
 * 10 s. Diagnostics go to stderr. Exits 1 when a case failed, 2 on bad
 * usage.
 */
#define _GNU_SOURCE		/* strerrorname_np, MAP_HUGETLB */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <infiniband/verbs.h>

#include "common.h"

#define REGION_LEN	(4u << 20)	/* T's region */
#define P_LEN		(256u << 10)	/* P's MR: source, then landing area */
#define P_HALF		(P_LEN / 2)
#define GUARD		64		/* landing bytes past a READ's end */
#define P_FILL		0xa5		/* P's landing area before an access */
#define T_RECV_LEN	4096		/* T's receive buffer */
#define INV_MSG		16		/* the SEND_WITH_INV payload */
#define WIN_LEN		1000		/* every memory window */
#define WAIT_S		10		/* the bound of every completion wait */
#define SPIN_POLLS	10000		/* empty polls before napping between */
#define NAP_NS		20000
#define MAX_POLLS	(SPIN_POLLS + 2ul * WAIT_S * (1000000000ul / NAP_NS))
#define DRAIN_ROUNDS	64
#define SHOW_DIFFS	4		/* changed offsets a FAIL line names */
#define RECONNECT_TRIES	5		/* resets and reconnects after a refusal */
#define NMR		2

#define RIGHTS		(IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | \
			 IBV_ACCESS_REMOTE_ATOMIC)
#define MR_ACCESS	(IBV_ACCESS_LOCAL_WRITE | RIGHTS | IBV_ACCESS_MW_BIND)
#define MW_RIGHTS	(IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)

struct side {
	const char *name;
	int gid_index;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	union ibv_gid gid;
	enum ibv_mtu mtu;
};

/* An MR of T inside its region. */
struct tmr {
	const char *name;
	size_t off;		/* from the region's start */
	uint32_t len;
	size_t win_off;		/* where its windows start, from the MR's */
	struct ibv_mr *mr;
	unsigned char *gone;	/* its bytes when it was deregistered */
};

struct window {
	struct ibv_mw *mw;
	uint32_t rkey;		/* after the last bind */
};

/* What a case saw: the ok line's notes, the failures, why it was skipped. */
struct verdict {
	char ok[1024];
	char bad[1024];
	char skip[256];
};

static struct side t, p;
static struct tmr mrs[NMR] = {
	{ .name = "mr1", .off = 3 * 4096 + 5, .len = 65536 + 3, .win_off = 100 },
	/* its windows cross the 2 MiB boundary (at MR offset 4107) */
	{ .name = "mr2", .off = TEST_2M - 4096 - 11, .len = 8192 + 7,
	  .win_off = 3600 },
};
static struct window inv_win[NMR];	/* from mw-after-local-inv */
static enum backing backing;
static unsigned char *region, *orig, *want, *pbuf, *tbuf;
static struct ibv_mr *pmr, *trecv_mr;
static enum ibv_mtu path_mtu;
static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next_wr_id = 1;
static bool pair_down;
static unsigned int n_cases, n_failed;

static const char *ename(int err)
{
	static char buf[32];
	const char *s = strerrorname_np(err);

	if (s)
		return s;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

static const char *wc_name(enum ibv_wc_status st)
{
	switch (st) {
	case IBV_WC_SUCCESS:		return "IBV_WC_SUCCESS";
	case IBV_WC_LOC_LEN_ERR:	return "IBV_WC_LOC_LEN_ERR";
	case IBV_WC_LOC_QP_OP_ERR:	return "IBV_WC_LOC_QP_OP_ERR";
	case IBV_WC_LOC_PROT_ERR:	return "IBV_WC_LOC_PROT_ERR";
	case IBV_WC_WR_FLUSH_ERR:	return "IBV_WC_WR_FLUSH_ERR";
	case IBV_WC_MW_BIND_ERR:	return "IBV_WC_MW_BIND_ERR";
	case IBV_WC_BAD_RESP_ERR:	return "IBV_WC_BAD_RESP_ERR";
	case IBV_WC_LOC_ACCESS_ERR:	return "IBV_WC_LOC_ACCESS_ERR";
	case IBV_WC_REM_INV_REQ_ERR:	return "IBV_WC_REM_INV_REQ_ERR";
	case IBV_WC_REM_ACCESS_ERR:	return "IBV_WC_REM_ACCESS_ERR";
	case IBV_WC_REM_OP_ERR:		return "IBV_WC_REM_OP_ERR";
	case IBV_WC_RETRY_EXC_ERR:	return "IBV_WC_RETRY_EXC_ERR";
	case IBV_WC_RNR_RETRY_EXC_ERR:	return "IBV_WC_RNR_RETRY_EXC_ERR";
	case IBV_WC_REM_ABORT_ERR:	return "IBV_WC_REM_ABORT_ERR";
	case IBV_WC_FATAL_ERR:		return "IBV_WC_FATAL_ERR";
	case IBV_WC_GENERAL_ERR:	return "IBV_WC_GENERAL_ERR";
	default:			return ibv_wc_status_str(st);
	}
}

static const char *op_name(enum ibv_wr_opcode op)
{
	switch (op) {
	case IBV_WR_RDMA_WRITE:			return "WRITE";
	case IBV_WR_RDMA_READ:			return "READ";
	case IBV_WR_ATOMIC_FETCH_AND_ADD:	return "FETCH_ADD";
	case IBV_WR_SEND_WITH_INV:		return "SEND_WITH_INV";
	case IBV_WR_BIND_MW:			return "BIND_MW";
	case IBV_WR_LOCAL_INV:			return "LOCAL_INV";
	default:				return "?";
	}
}

/* ---- verdicts ---- */

static void append(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t used = strlen(buf);

	if (used + 3 >= size)
		return;
	if (used) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	if (vsnprintf(buf + used, size - used, fmt, ap) < 0)
		buf[used] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
pass(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(v->ok, sizeof(v->ok), fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
fail(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(v->bad, sizeof(v->bad), fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
skip(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	append(v->skip, sizeof(v->skip), fmt, ap);
	va_end(ap);
}

/* One line for case @cs (of MR @mr, or none): FAIL, else skip, else ok. */
static void report(const char *cs, const char *mr, const struct verdict *v)
{
	n_cases++;
	if (v->bad[0]) {
		n_failed++;
		printf("FAIL %s%s%s: %s\n", cs, mr ? "/" : "", mr ? mr : "",
		       v->bad);
	} else if (v->skip[0]) {
		printf("skip %s%s%s: %s\n", cs, mr ? "/" : "", mr ? mr : "",
		       v->skip);
	} else {
		printf("ok   %s%s%s: %s\n", cs, mr ? "/" : "", mr ? mr : "",
		       v->ok[0] ? v->ok : "as expected");
	}
	if (fflush(stdout))
		perror("fflush(stdout)");
}

/* ---- the two sides and their connection ---- */

static int open_side(struct side *s)
{
	struct ibv_qp_init_attr init = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_port_attr port;
	int err;

	s->ctx = open_device(s->name);
	if (!s->ctx)
		return -1;
	err = ibv_query_port(s->ctx, 1, &port);
	if (err) {
		fprintf(stderr, "%s: ibv_query_port(1): %s\n", s->name,
			strerror(err));
		return -1;
	}
	if (ibv_query_gid(s->ctx, 1, s->gid_index, &s->gid)) {
		fprintf(stderr, "%s: ibv_query_gid(port 1, index %d) failed\n",
			s->name, s->gid_index);
		return -1;
	}
	s->mtu = port.active_mtu;
	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->pd) {
		fprintf(stderr, "%s: ibv_alloc_pd: %s\n", s->name, strerror(errno));
		return -1;
	}
	s->cq = ibv_create_cq(s->ctx, 64, NULL, NULL, 0);
	if (!s->cq) {
		fprintf(stderr, "%s: ibv_create_cq: %s\n", s->name, strerror(errno));
		return -1;
	}
	init.send_cq = s->cq;
	init.recv_cq = s->cq;
	s->qp = ibv_create_qp(s->pd, &init);
	if (!s->qp) {
		fprintf(stderr, "%s: ibv_create_qp: %s\n", s->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Take @s's QP from RESET to RTS, connected to @peer's. */
static int connect_side(struct side *s, const struct side *peer)
{
	const char *verb = "ibv_modify_qp(INIT)";
	int err;

	err = rc_to_init(s->qp, RIGHTS);
	if (!err) {
		verb = "ibv_modify_qp(RTR)";
		err = rc_to_rtr(s->qp, path_mtu, peer->qp->qp_num, &peer->gid,
				s->gid_index, 0);
	}
	if (!err) {
		verb = "ibv_modify_qp(RTS)";
		err = rc_to_rts(s->qp, 7, 0);
	}
	if (err) {
		fprintf(stderr, "%s: %s: %s\n", s->name, verb, strerror(err));
		return -1;
	}
	return 0;
}

/* Throw away what @s's CQ holds (a bounded number of rounds). */
static void drain(struct side *s)
{
	struct ibv_wc wc[16];
	int round, n;

	for (round = 0; round < DRAIN_ROUNDS; round++) {
		n = ibv_poll_cq(s->cq, 16, wc);
		if (n < 0) {
			fprintf(stderr, "%s: ibv_poll_cq: %d\n", s->name, n);
			return;
		}
		if (!n)
			return;
	}
}

static int reset_side(struct side *s)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	int err;

	err = ibv_modify_qp(s->qp, &a, IBV_QP_STATE);
	if (err)
		fprintf(stderr, "%s: ibv_modify_qp(RESET): %s\n", s->name,
			strerror(err));
	return err;
}

/*
 * reconnect_after - drain both CQs and take both QPs through RESET, INIT,
 * RTR and RTS again, as an access that failed leaves them in the error
 * state. A responder sends its NAK before it moves its own QP to the error
 * state, so a reset made as soon as the NAK arrives can be undone by that
 * move and the next step refused: up to RECONNECT_TRIES times, 100 ms
 * apart. When that fails, says so in @v once and marks the pair down.
 */
static void reconnect_after(struct verdict *v)
{
	int try;

	if (pair_down)
		return;
	for (try = 0; try < RECONNECT_TRIES; try++) {
		if (try)
			usleep(100000);
		drain(&t);
		drain(&p);
		if (!reset_side(&t) && !reset_side(&p) &&
		    !connect_side(&t, &p) && !connect_side(&p, &t)) {
			drain(&t);
			drain(&p);
			return;
		}
	}
	pair_down = true;
	fail(v, "the QP pair could not be reconnected, later cases cannot run");
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now))
		return 1e9;
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * wait_wc - the completion of WR @id on @s's CQ, waited for at most WAIT_S
 * seconds; completions of other WRs (left over from an earlier case) are
 * dropped. Returns 0 with *@wc filled, 1 when none came, -1 when polling
 * failed.
 */
static int wait_wc(struct side *s, uint64_t id, struct ibv_wc *wc)
{
	const struct timespec nap = { .tv_nsec = NAP_NS };
	struct timespec start;
	unsigned long polls;
	int n;

	if (clock_gettime(CLOCK_MONOTONIC, &start)) {
		perror("clock_gettime");
		return -1;
	}
	for (polls = 0; polls < MAX_POLLS; polls++) {
		n = ibv_poll_cq(s->cq, 1, wc);
		if (n < 0) {
			fprintf(stderr, "%s: ibv_poll_cq: %d\n", s->name, n);
			return -1;
		}
		if (n == 1) {
			if (wc->wr_id == id)
				return 0;
			fprintf(stderr, "%s: dropped the completion of earlier WR %" PRIu64 " (%s)\n",
				s->name, wc->wr_id, wc_name(wc->status));
			continue;
		}
		if (seconds_since(&start) >= WAIT_S)
			break;
		if (polls >= SPIN_POLLS && nanosleep(&nap, NULL) && errno != EINTR) {
			perror("nanosleep");
			return -1;
		}
	}
	fprintf(stderr, "%s: no completion of WR %" PRIu64 " in %d s\n", s->name,
		id, WAIT_S);
	return 1;
}

/*
 * post - @wr, signaled, on @s's QP under the next WR number. Returns that
 * number, or 0 when ibv_post_send() failed (its error in *@err).
 */
static uint64_t post(struct side *s, struct ibv_send_wr *wr, int *err)
{
	struct ibv_send_wr *bad;

	wr->wr_id = next_wr_id++;
	wr->send_flags |= IBV_SEND_SIGNALED;
	*err = ibv_post_send(s->qp, wr, &bad);
	if (*err) {
		fprintf(stderr, "%s: ibv_post_send(%s): %s\n", s->name,
			op_name(wr->opcode), strerror(*err));
		return 0;
	}
	return wr->wr_id;
}

/*
 * await - WR @id of @s (posted for @what) must complete; says in @v when it
 * did not. Returns 0 with *@wc filled, else -1.
 */
static int await(struct verdict *v, const char *what, struct side *s,
		 uint64_t id, struct ibv_wc *wc)
{
	int r = wait_wc(s, id, wc);

	if (r > 0)
		fail(v, "%s: no completion on %s in %d s", what,
		     s == &t ? "T" : "P", WAIT_S);
	else if (r < 0)
		fail(v, "%s: ibv_poll_cq on %s failed", what, s == &t ? "T" : "P");
	return r ? -1 : 0;
}

/* ---- P's accesses ---- */

static bool in_region(uint64_t addr, uint32_t len)
{
	uint64_t base = (uintptr_t)region;

	return addr >= base && addr - base <= REGION_LEN - len;
}

/* Which part of the region byte @off is in, for FAIL lines. */
static const char *where(size_t off)
{
	size_t k;

	for (k = 0; k < NMR; k++)
		if (off >= mrs[k].off && off - mrs[k].off < mrs[k].len)
			return mrs[k].name;
	return "canary";
}

/* The region must equal @ref; otherwise says how many bytes and where. */
static bool region_same(struct verdict *v, const char *what,
			const unsigned char *ref)
{
	char at[SHOW_DIFFS * 24 + 1] = "";
	size_t i, n = 0, used = 0;
	int w;

	if (!memcmp(region, ref, REGION_LEN))
		return true;
	for (i = 0; i < REGION_LEN; i++) {
		if (region[i] == ref[i])
			continue;
		if (n < SHOW_DIFFS) {
			w = snprintf(at + used, sizeof(at) - used, " +%#zx(%s)", i,
				     where(i));
			if (w > 0 && (size_t)w < sizeof(at) - used)
				used += w;
		}
		n++;
	}
	fail(v, "%s: %zu byte(s) of T's region changed, at%s%s", what, n, at,
	     n > SHOW_DIFFS ? " ..." : "");
	return false;
}

/* Whether the @len bytes at @b all still hold P_FILL. */
static bool filled(const unsigned char *b, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (b[i] != P_FILL)
			return false;
	return true;
}

/*
 * p_access - P's @op of @len bytes at T's @raddr under @rkey: from P's
 * source (WRITE) or into its landing area (READ, FETCH_ADD of 1). Returns 0
 * with its completion in *@wc, or -1 with a note in @v.
 */
static int p_access(struct verdict *v, const char *what, enum ibv_wr_opcode op,
		    uint64_t raddr, uint32_t rkey, uint32_t len,
		    struct ibv_wc *wc)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(op == IBV_WR_RDMA_WRITE ? pbuf : pbuf + P_HALF),
		.length = len, .lkey = pmr->lkey,
	};
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = op };
	uint64_t id;
	int err;

	if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
		wr.wr.atomic.compare_add = 1;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	id = post(&p, &wr, &err);
	if (!id) {
		fail(v, "%s: P's ibv_post_send(%s) failed with %s", what,
		     op_name(op), ename(err));
		return -1;
	}
	return await(v, what, &p, id, wc);
}

/*
 * allowed - P's @op of @len bytes at @raddr (inside the region) under @rkey
 * must succeed: a WRITE changes just those bytes, a READ brings just those
 * bytes and changes none. Failures go to @v (the pair is reconnected after
 * one); success adds no note.
 */
static bool allowed(struct verdict *v, const char *what, enum ibv_wr_opcode op,
		    uint64_t raddr, uint32_t rkey, uint32_t len)
{
	size_t off = raddr - (uintptr_t)region;
	unsigned char *land = pbuf + P_HALF;
	struct ibv_wc wc = { 0 };
	bool good = true;

	if (pair_down) {
		fail(v, "%s: not tried, the QP pair is down", what);
		return false;
	}
	if (!in_region(raddr, len) || len > P_HALF - GUARD) {
		fail(v, "%s: the test's own target is out of bounds", what);
		return false;
	}
	memcpy(want, region, REGION_LEN);
	if (op == IBV_WR_RDMA_WRITE) {
		fill_random(pbuf, len, &rng);
		memcpy(want + off, pbuf, len);
	} else {
		memset(land, P_FILL, len + GUARD);
	}
	if (p_access(v, what, op, raddr, rkey, len, &wc)) {
		reconnect_after(v);
		return false;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(v, "%s: %s, expected success", what, wc_name(wc.status));
		reconnect_after(v);
		good = false;
	}
	if (!region_same(v, what, want))
		good = false;
	if (op == IBV_WR_RDMA_READ && wc.status == IBV_WC_SUCCESS) {
		if (memcmp(land, region + off, len)) {
			fail(v, "%s: P got other bytes than T holds", what);
			good = false;
		}
		if (!filled(land + len, GUARD)) {
			fail(v, "%s: P's landing area was written past %u bytes",
			     what, len);
			good = false;
		}
	}
	return good;
}

/*
 * refused - P's @op of @len bytes at @raddr under @rkey must be refused with
 * a remote access error (or an invalid request error) and change nothing:
 * no byte of T's region, none of P's landing area. A WRITE carries the
 * complement of what the target holds, so that any byte it lands shows.
 * Reconnects the pair afterwards.
 */
static void refused(struct verdict *v, const char *what, enum ibv_wr_opcode op,
		    uint64_t raddr, uint32_t rkey, uint32_t len)
{
	size_t off = raddr - (uintptr_t)region;
	struct ibv_wc wc = { 0 };
	uint32_t i;

	if (pair_down) {
		fail(v, "%s: not tried, the QP pair is down", what);
		return;
	}
	memcpy(want, region, REGION_LEN);
	if (op == IBV_WR_RDMA_WRITE && in_region(raddr, len))
		for (i = 0; i < len; i++)
			pbuf[i] = ~region[off + i];
	else if (op == IBV_WR_RDMA_WRITE)
		fill_random(pbuf, len, &rng);
	memset(pbuf + P_HALF, P_FILL, len + GUARD);
	if (!p_access(v, what, op, raddr, rkey, len, &wc)) {
		if (wc.status == IBV_WC_REM_ACCESS_ERR ||
		    wc.status == IBV_WC_REM_INV_REQ_ERR)
			pass(v, "%s: %s", what, wc_name(wc.status));
		else if (wc.status == IBV_WC_SUCCESS)
			fail(v, "%s: succeeded", what);
		else
			fail(v, "%s: %s, not a remote access error", what,
			     wc_name(wc.status));
	}
	reconnect_after(v);
	region_same(v, what, want);
	if (op != IBV_WR_RDMA_WRITE && !filled(pbuf + P_HALF, len + GUARD))
		fail(v, "%s: P's landing area was written", what);
}

/* ---- memory windows ---- */

static const char *mw_type_name(enum ibv_mw_type type)
{
	return type == IBV_MW_TYPE_1 ? "IBV_MW_TYPE_1" : "IBV_MW_TYPE_2";
}

/* T allocates a window of @type into @w unless it has one; skip if none. */
static int mw_alloc(struct verdict *v, struct window *w, enum ibv_mw_type type)
{
	int err;

	if (w->mw)
		return 0;
	w->mw = ibv_alloc_mw(t.pd, type);
	if (w->mw) {
		w->rkey = w->mw->rkey;
		return 0;
	}
	err = errno;
	if (err == EOPNOTSUPP || err == ENOSYS) {
		skip(v, "T's ibv_alloc_mw(%s): %s", mw_type_name(type),
		     ename(err));
	} else {
		fprintf(stderr, "%s: ibv_alloc_mw(%s): %s\n", t.name,
			mw_type_name(type), strerror(err));
		fail(v, "T's ibv_alloc_mw(%s) failed with %s",
		     mw_type_name(type), ename(err));
	}
	return -1;
}

static void mw_free(struct verdict *v, struct window *w)
{
	int err;

	if (!w->mw)
		return;
	err = ibv_dealloc_mw(w->mw);
	if (err) {
		fprintf(stderr, "%s: ibv_dealloc_mw: %s\n", t.name, strerror(err));
		fail(v, "T's ibv_dealloc_mw failed with %s", ename(err));
	}
	w->mw = NULL;
}

/*
 * mw2_bind - T binds type 2 window @w to WIN_LEN bytes at @addr of @m with a
 * BIND_MW on its QP, under the next key of the window's rkey. Returns 0, or
 * -1 with a note in @v.
 */
static int mw2_bind(struct verdict *v, struct window *w, const struct tmr *m,
		    uint64_t addr)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_BIND_MW };
	struct ibv_wc wc = { 0 };
	uint64_t id;
	int err;

	if (pair_down) {
		fail(v, "BIND_MW: not tried, the QP pair is down");
		return -1;
	}
	wr.bind_mw.mw = w->mw;
	wr.bind_mw.rkey = ibv_inc_rkey(w->rkey);
	wr.bind_mw.bind_info.mr = m->mr;
	wr.bind_mw.bind_info.addr = addr;
	wr.bind_mw.bind_info.length = WIN_LEN;
	wr.bind_mw.bind_info.mw_access_flags = MW_RIGHTS;
	id = post(&t, &wr, &err);
	if (!id) {
		if (err == EOPNOTSUPP)
			skip(v, "T's ibv_post_send(BIND_MW): %s", ename(err));
		else
			fail(v, "T's ibv_post_send(BIND_MW) failed with %s",
			     ename(err));
		return -1;
	}
	if (await(v, "BIND_MW", &t, id, &wc)) {
		reconnect_after(v);
		return -1;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(v, "BIND_MW on T: %s", wc_name(wc.status));
		reconnect_after(v);
		return -1;
	}
	/* as ibv_bind_mw() does: the next bind names the window by this key */
	w->rkey = wr.bind_mw.rkey;
	w->mw->rkey = wr.bind_mw.rkey;
	return 0;
}

/* ---- the cases ---- */

static uint64_t start_of(const struct tmr *m)
{
	return (uintptr_t)region + m->off;
}

static uint64_t end_of(const struct tmr *m)
{
	return start_of(m) + m->len;
}

static bool need_mr(struct verdict *v, const struct tmr *m)
{
	if (m->mr)
		return true;
	fail(v, "%s is not registered (an earlier step failed)", m->name);
	return false;
}

static void case_inside(struct tmr *m)
{
	struct verdict v = { 0 };
	char what[64];

	if (need_mr(&v, m)) {
		snprintf(what, sizeof(what), "WRITE of all %u B", m->len);
		if (allowed(&v, what, IBV_WR_RDMA_WRITE, start_of(m),
			    m->mr->rkey, m->len)) {
			snprintf(what, sizeof(what), "READ of all %u B", m->len);
			if (allowed(&v, what, IBV_WR_RDMA_READ, start_of(m),
				    m->mr->rkey, m->len))
				pass(&v, "WRITE and READ of all %u B: bytes match, nothing else changed",
				     m->len);
		}
	}
	report("inside", m->name, &v);
}

static void case_before_start(struct tmr *m)
{
	struct verdict v = { 0 };

	if (need_mr(&v, m)) {
		refused(&v, "WRITE 8 B at start-1", IBV_WR_RDMA_WRITE,
			start_of(m) - 1, m->mr->rkey, 8);
		refused(&v, "WRITE 8 B at start-4096", IBV_WR_RDMA_WRITE,
			start_of(m) - 4096, m->mr->rkey, 8);
	}
	report("before-start", m->name, &v);
}

static void case_past_end(struct tmr *m)
{
	struct verdict v = { 0 };

	if (need_mr(&v, m)) {
		refused(&v, "WRITE 2 B at the last byte", IBV_WR_RDMA_WRITE,
			end_of(m) - 1, m->mr->rkey, 2);
		refused(&v, "READ 1 B at the end", IBV_WR_RDMA_READ,
			end_of(m), m->mr->rkey, 1);
		refused(&v, "WRITE 1 B at end+4096", IBV_WR_RDMA_WRITE,
			end_of(m) + 4096, m->mr->rkey, 1);
	}
	report("past-end", m->name, &v);
}

static void case_wrap(struct tmr *m)
{
	struct verdict v = { 0 };

	if (need_mr(&v, m))
		refused(&v, "WRITE 8 B at 2^64-4", IBV_WR_RDMA_WRITE,
			UINT64_MAX - 3, m->mr->rkey, 8);
	report("wrap", m->name, &v);
}

static void case_atomic_outside(struct tmr *m)
{
	uint64_t s = start_of(m), e = end_of(m), a = s & ~7ull;
	struct verdict v = { 0 };

	if (need_mr(&v, m)) {
		refused(&v, "FETCH_ADD on the word before the start",
			IBV_WR_ATOMIC_FETCH_AND_ADD, a - 8, m->mr->rkey, 8);
		if (s & 7)
			refused(&v, "FETCH_ADD on the word across the start",
				IBV_WR_ATOMIC_FETCH_AND_ADD, a, m->mr->rkey, 8);
		if (e & 7)
			refused(&v, "FETCH_ADD on the word across the end",
				IBV_WR_ATOMIC_FETCH_AND_ADD, e & ~7ull,
				m->mr->rkey, 8);
		refused(&v, "FETCH_ADD on the word after the end",
			IBV_WR_ATOMIC_FETCH_AND_ADD, (e + 7) & ~7ull,
			m->mr->rkey, 8);
	}
	report("atomic-outside", m->name, &v);
}

static void case_after_dereg(struct tmr *m)
{
	struct verdict v = { 0 };
	uint32_t old_rkey;
	int err;

	if (!need_mr(&v, m))
		goto out;
	old_rkey = m->mr->rkey;
	m->gone = malloc(m->len);
	if (!m->gone) {
		fail(&v, "no memory for a copy of %u bytes", m->len);
		goto out;
	}
	memcpy(m->gone, region + m->off, m->len);
	err = ibv_dereg_mr(m->mr);
	if (err) {
		fprintf(stderr, "%s: ibv_dereg_mr(%s): %s\n", t.name, m->name,
			strerror(err));
		fail(&v, "T's ibv_dereg_mr failed with %s", ename(err));
		free(m->gone);
		m->gone = NULL;
		goto out;
	}
	m->mr = NULL;
	refused(&v, "WRITE 8 B at start with the old rkey", IBV_WR_RDMA_WRITE,
		start_of(m), old_rkey, 8);
	refused(&v, "READ 8 B at start with the old rkey", IBV_WR_RDMA_READ,
		start_of(m), old_rkey, 8);
	if (memcmp(region + m->off, m->gone, m->len))
		fail(&v, "the former range lost bytes it held at deregistration");
	else
		pass(&v, "the former range holds what it held at deregistration");

	m->mr = ibv_reg_mr(t.pd, region + m->off, m->len, MR_ACCESS);
	if (!m->mr) {
		err = errno;
		fprintf(stderr, "%s: ibv_reg_mr(%s again): %s\n", t.name,
			m->name, strerror(err));
		fail(&v, "T's ibv_reg_mr of the same range failed with %s",
		     ename(err));
		goto out;
	}
	printf("info after-dereg/%s: old rkey %#x, new rkey %#x\n", m->name,
	       old_rkey, m->mr->rkey);
	if (m->mr->rkey != old_rkey)
		refused(&v, "WRITE 8 B at start with the old rkey on the new MR",
			IBV_WR_RDMA_WRITE, start_of(m), old_rkey, 8);
	else
		pass(&v, "the new MR has the old rkey, so it is not tried");
	if (allowed(&v, "WRITE 8 B at start with the new rkey",
		    IBV_WR_RDMA_WRITE, start_of(m), m->mr->rkey, 8))
		pass(&v, "the new rkey works");
	free(m->gone);
	m->gone = NULL;
out:
	report("after-dereg", m->name, &v);
}

static void case_mw_range(struct tmr *m)
{
	static const struct {
		const char *what;
		enum ibv_wr_opcode op;
		bool before;
	} probes[] = {
		{ "WRITE 1 B just before the window", IBV_WR_RDMA_WRITE, true },
		{ "WRITE 1 B just past the window", IBV_WR_RDMA_WRITE, false },
		{ "READ 1 B just before the window", IBV_WR_RDMA_READ, true },
		{ "READ 1 B just past the window", IBV_WR_RDMA_READ, false },
	};
	struct verdict v = { 0 };
	struct window w = { 0 };
	uint64_t wa, edge;
	size_t k;

	if (!need_mr(&v, m))
		goto out;
	wa = start_of(m) + m->win_off;
	if (mw_alloc(&v, &w, IBV_MW_TYPE_2) || mw2_bind(&v, &w, m, wa))
		goto out;
	if (!allowed(&v, "WRITE of the whole window", IBV_WR_RDMA_WRITE, wa,
		     w.rkey, WIN_LEN) ||
	    !allowed(&v, "READ of the whole window", IBV_WR_RDMA_READ, wa,
		     w.rkey, WIN_LEN))
		goto out;
	pass(&v, "WRITE and READ of the whole %u B window work", WIN_LEN);
	mw_free(&v, &w);
	for (k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
		/* a fresh window, shown to work next to the byte tried */
		edge = probes[k].before ? wa : wa + WIN_LEN - 1;
		if (mw_alloc(&v, &w, IBV_MW_TYPE_2) || mw2_bind(&v, &w, m, wa) ||
		    !allowed(&v, "WRITE 1 B at the window's edge",
			     IBV_WR_RDMA_WRITE, edge, w.rkey, 1))
			goto out;
		refused(&v, probes[k].what, probes[k].op,
			probes[k].before ? wa - 1 : wa + WIN_LEN, w.rkey, 1);
		mw_free(&v, &w);
	}
out:
	mw_free(&v, &w);
	report("mw-type2-range", m->name, &v);
}

static void case_mw_local_inv(struct tmr *m)
{
	struct window *w = &inv_win[m - mrs];
	struct ibv_send_wr wr = { .opcode = IBV_WR_LOCAL_INV };
	struct verdict v = { 0 };
	struct ibv_wc wc = { 0 };
	uint64_t wa, id;
	int err;

	if (!need_mr(&v, m))
		goto out;
	wa = start_of(m) + m->win_off;
	if (mw_alloc(&v, w, IBV_MW_TYPE_2) || mw2_bind(&v, w, m, wa) ||
	    !allowed(&v, "WRITE 8 B into the window", IBV_WR_RDMA_WRITE, wa,
		     w->rkey, 8))
		goto out;
	if (pair_down) {
		fail(&v, "LOCAL_INV: not tried, the QP pair is down");
		goto out;
	}
	wr.invalidate_rkey = w->rkey;
	id = post(&t, &wr, &err);
	if (!id) {
		fail(&v, "T's ibv_post_send(LOCAL_INV) failed with %s", ename(err));
		goto out;
	}
	if (await(&v, "LOCAL_INV", &t, id, &wc)) {
		reconnect_after(&v);
		goto out;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(&v, "LOCAL_INV on T: %s", wc_name(wc.status));
		reconnect_after(&v);
		goto out;
	}
	pass(&v, "LOCAL_INV: IBV_WC_SUCCESS");
	refused(&v, "WRITE 8 B with the invalidated rkey", IBV_WR_RDMA_WRITE,
		wa, w->rkey, 8);
	refused(&v, "READ 8 B with the invalidated rkey", IBV_WR_RDMA_READ,
		wa, w->rkey, 8);
out:
	/* mw-after-send-with-inv binds a window left free by this case again */
	if (v.bad[0] || v.skip[0])
		mw_free(&v, w);
	report("mw-after-local-inv", m->name, &v);
}

static void case_mw_send_inv(struct tmr *m)
{
	struct window *w = &inv_win[m - mrs];
	struct ibv_sge ssge = {
		.addr = (uintptr_t)pbuf, .length = INV_MSG, .lkey = pmr->lkey,
	};
	struct ibv_sge rsge = {
		.addr = (uintptr_t)tbuf, .length = T_RECV_LEN,
		.lkey = trecv_mr->lkey,
	};
	struct ibv_send_wr swr = {
		.sg_list = &ssge, .num_sge = 1, .opcode = IBV_WR_SEND_WITH_INV,
	};
	struct ibv_recv_wr rwr = { .sg_list = &rsge, .num_sge = 1 }, *rbad;
	struct verdict v = { 0 };
	struct ibv_wc wc = { 0 };
	bool rebound = w->mw;
	uint64_t wa, sid;
	int err;

	if (!need_mr(&v, m))
		goto out;
	wa = start_of(m) + m->win_off;
	if (mw_alloc(&v, w, IBV_MW_TYPE_2) || mw2_bind(&v, w, m, wa) ||
	    !allowed(&v, "WRITE 8 B into the window", IBV_WR_RDMA_WRITE, wa,
		     w->rkey, 8))
		goto out;
	pass(&v, "%s with a new rkey works",
	     rebound ? "the invalidated window bound again" : "a new window");
	if (pair_down) {
		fail(&v, "SEND_WITH_INV: not tried, the QP pair is down");
		goto out;
	}
	rwr.wr_id = next_wr_id++;
	err = ibv_post_recv(t.qp, &rwr, &rbad);
	if (err) {
		fprintf(stderr, "%s: ibv_post_recv: %s\n", t.name, strerror(err));
		fail(&v, "T's ibv_post_recv failed with %s", ename(err));
		goto out;
	}
	fill_random(pbuf, INV_MSG, &rng);
	memset(tbuf, 0, T_RECV_LEN);
	swr.invalidate_rkey = w->rkey;
	sid = post(&p, &swr, &err);
	if (!sid) {
		fail(&v, "P's ibv_post_send(SEND_WITH_INV) failed with %s",
		     ename(err));
		reconnect_after(&v);
		goto out;
	}
	if (await(&v, "SEND_WITH_INV", &p, sid, &wc)) {
		reconnect_after(&v);
		goto out;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(&v, "SEND_WITH_INV on P: %s", wc_name(wc.status));
		reconnect_after(&v);
		goto out;
	}
	if (await(&v, "RECV of the SEND_WITH_INV", &t, rwr.wr_id, &wc)) {
		reconnect_after(&v);
		goto out;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(&v, "T's RECV: %s", wc_name(wc.status));
		reconnect_after(&v);
		goto out;
	}
	/*
	 * rxe (and arxe, so far) write the kernel's IB_WC_WITH_INVALIDATE,
	 * bit 2, into a user CQ, where libibverbs reads IBV_WC_IP_CSUM_OK;
	 * IBV_WC_WITH_INV is bit 3. Said, not judged: the window's key must
	 * be dead either way, which the probes below check.
	 */
	if (!(wc.wc_flags & IBV_WC_WITH_INV))
		printf("info mw-after-send-with-inv: T's RECV has wc_flags 0x%x, no IBV_WC_WITH_INV\n",
		       wc.wc_flags);
	else if (wc.invalidated_rkey != w->rkey)
		fail(&v, "T's RECV names another rkey as invalidated");
	else
		pass(&v, "T's RECV has IBV_WC_WITH_INV and the window's rkey");
	if (wc.byte_len != INV_MSG)
		fail(&v, "T's RECV says %u bytes, not the %u sent", wc.byte_len,
		     INV_MSG);
	else if (memcmp(tbuf, pbuf, INV_MSG))
		fail(&v, "T's RECV holds other bytes than P sent");
	refused(&v, "WRITE 8 B with the invalidated rkey", IBV_WR_RDMA_WRITE,
		wa, w->rkey, 8);
	refused(&v, "READ 8 B with the invalidated rkey", IBV_WR_RDMA_READ,
		wa, w->rkey, 8);
out:
	mw_free(&v, w);
	report("mw-after-send-with-inv", m->name, &v);
}

static void case_type1_dealloc(struct tmr *m)
{
	struct ibv_mw_bind b = {
		.send_flags = IBV_SEND_SIGNALED,
		.bind_info = { .length = WIN_LEN, .mw_access_flags = MW_RIGHTS },
	};
	struct verdict v = { 0 };
	struct window w = { 0 };
	struct ibv_wc wc = { 0 };
	uint32_t rkey;
	uint64_t wa;
	int err;

	if (!need_mr(&v, m) || mw_alloc(&v, &w, IBV_MW_TYPE_1))
		goto out;
	if (pair_down) {
		fail(&v, "ibv_bind_mw: not tried, the QP pair is down");
		goto out;
	}
	wa = start_of(m) + m->win_off;
	b.wr_id = next_wr_id++;
	b.bind_info.mr = m->mr;
	b.bind_info.addr = wa;
	err = ibv_bind_mw(t.qp, w.mw, &b);
	if (err == EOPNOTSUPP || err == ENOSYS) {
		skip(&v, "T's ibv_bind_mw: %s", ename(err));
		goto out;
	}
	if (err) {
		fprintf(stderr, "%s: ibv_bind_mw: %s\n", t.name, strerror(err));
		fail(&v, "T's ibv_bind_mw failed with %s", ename(err));
		goto out;
	}
	if (await(&v, "ibv_bind_mw", &t, b.wr_id, &wc)) {
		reconnect_after(&v);
		goto out;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fail(&v, "ibv_bind_mw on T: %s", wc_name(wc.status));
		reconnect_after(&v);
		goto out;
	}
	w.rkey = rkey = w.mw->rkey;
	if (!allowed(&v, "WRITE of the whole window", IBV_WR_RDMA_WRITE, wa,
		     rkey, WIN_LEN) ||
	    !allowed(&v, "READ of the whole window", IBV_WR_RDMA_READ, wa,
		     rkey, WIN_LEN))
		goto out;
	pass(&v, "WRITE and READ of the whole %u B window work", WIN_LEN);
	mw_free(&v, &w);
	if (v.bad[0])
		goto out;
	refused(&v, "WRITE 8 B with the deallocated window's rkey",
		IBV_WR_RDMA_WRITE, wa, rkey, 8);
	refused(&v, "READ 8 B with the deallocated window's rkey",
		IBV_WR_RDMA_READ, wa, rkey, 8);
out:
	mw_free(&v, &w);
	report("type1-mw-after-dealloc", m->name, &v);
}

/*
 * Every byte outside the registered MRs equals the copy made at the start;
 * in the range of an MR that stays deregistered, what it held then.
 */
static void case_canaries(void)
{
	char at[SHOW_DIFFS * 24 + 1] = "";
	size_t i, k, base, used = 0, good = 0, bad = 0;
	struct verdict v = { 0 };
	const unsigned char *ref;
	bool registered;
	int w;

	for (i = 0; i < REGION_LEN; i++) {
		ref = orig;
		base = 0;
		registered = false;
		for (k = 0; k < NMR; k++) {
			if (i < mrs[k].off || i - mrs[k].off >= mrs[k].len)
				continue;
			if (mrs[k].mr) {
				registered = true;
			} else if (mrs[k].gone) {
				ref = mrs[k].gone;
				base = mrs[k].off;
			}
			break;
		}
		if (registered)
			continue;
		if (region[i] == ref[i - base]) {
			good++;
			continue;
		}
		if (bad < SHOW_DIFFS) {
			w = snprintf(at + used, sizeof(at) - used, " +%#zx(%s)", i,
				     where(i));
			if (w > 0 && (size_t)w < sizeof(at) - used)
				used += w;
		}
		bad++;
	}
	if (bad)
		fail(&v, "%zu of %zu bytes changed, at%s%s", bad, good + bad, at,
		     bad > SHOW_DIFFS ? " ..." : "");
	else
		pass(&v, "%zu bytes intact", good);
	report("canaries", NULL, &v);
}

/* ---- set-up and teardown ---- */

static bool huge2m_available(void)
{
	void *m = mmap(NULL, 2 * TEST_2M, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		       (21 << MAP_HUGE_SHIFT), -1, 0);

	if (m == MAP_FAILED)
		return false;
	if (munmap(m, 2 * TEST_2M))
		perror("munmap");
	return true;
}

/* Says why ibv_reg_mr() of @what on @s failed (errno); returns -1. */
static int reg_failed(struct verdict *v, const struct side *s, const char *what)
{
	int err = errno;

	fprintf(stderr, "%s: ibv_reg_mr(%s): %s\n", s->name, what, strerror(err));
	fail(v, "%s's ibv_reg_mr(%s) failed with %s", s == &t ? "T" : "P", what,
	     ename(err));
	return -1;
}

static int setup(struct verdict *v)
{
	size_t k;

	if (open_side(&t) || open_side(&p)) {
		fail(v, "cannot open and set up %s or %s (see stderr)", t.name,
		     p.name);
		return -1;
	}
	path_mtu = t.mtu < p.mtu ? t.mtu : p.mtu;
	region = alloc_backed(backing, REGION_LEN, 0);
	orig = malloc(REGION_LEN);
	want = malloc(REGION_LEN);
	if (!region || !orig || !want ||
	    posix_memalign((void **)&pbuf, 4096, P_LEN) ||
	    posix_memalign((void **)&tbuf, 4096, T_RECV_LEN)) {
		fail(v, "cannot allocate the region or the buffers");
		return -1;
	}
	fill_random(region, REGION_LEN, &rng);
	memcpy(orig, region, REGION_LEN);
	for (k = 0; k < NMR; k++) {
		mrs[k].mr = ibv_reg_mr(t.pd, region + mrs[k].off, mrs[k].len,
				       MR_ACCESS);
		if (!mrs[k].mr)
			return reg_failed(v, &t, mrs[k].name);
		printf("info %s: region offset %zu, %u bytes, rkey %#x\n",
		       mrs[k].name, mrs[k].off, mrs[k].len, mrs[k].mr->rkey);
	}
	trecv_mr = ibv_reg_mr(t.pd, tbuf, T_RECV_LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!trecv_mr)
		return reg_failed(v, &t, "receive buffer");
	pmr = ibv_reg_mr(p.pd, pbuf, P_LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!pmr)
		return reg_failed(v, &p, "P's buffer");
	if (connect_side(&t, &p) || connect_side(&p, &t)) {
		fail(v, "cannot connect %s and %s (see stderr)", t.name, p.name);
		return -1;
	}
	return 0;
}

static void dereg(struct verdict *v, struct side *s, struct ibv_mr **mr,
		  const char *what)
{
	int err;

	if (!*mr)
		return;
	err = ibv_dereg_mr(*mr);
	if (err) {
		fprintf(stderr, "%s: ibv_dereg_mr(%s): %s\n", s->name, what,
			strerror(err));
		fail(v, "%s's ibv_dereg_mr(%s) failed with %s",
		     s == &t ? "T" : "P", what, ename(err));
	}
	*mr = NULL;
}

static void close_side(struct verdict *v, struct side *s, const char *role)
{
	int err;

	if (s->qp && (err = ibv_destroy_qp(s->qp))) {
		fprintf(stderr, "%s: ibv_destroy_qp: %s\n", s->name, strerror(err));
		fail(v, "%s's ibv_destroy_qp failed with %s", role, ename(err));
	}
	s->qp = NULL;
	if (s->cq && (err = ibv_destroy_cq(s->cq))) {
		fprintf(stderr, "%s: ibv_destroy_cq: %s\n", s->name, strerror(err));
		fail(v, "%s's ibv_destroy_cq failed with %s", role, ename(err));
	}
	s->cq = NULL;
}

static void close_pd(struct verdict *v, struct side *s, const char *role)
{
	int err;

	if (s->pd && (err = ibv_dealloc_pd(s->pd))) {
		fprintf(stderr, "%s: ibv_dealloc_pd: %s\n", s->name, strerror(err));
		fail(v, "%s's ibv_dealloc_pd failed with %s", role, ename(err));
	}
	s->pd = NULL;
	if (s->ctx && ibv_close_device(s->ctx)) {
		fprintf(stderr, "%s: ibv_close_device failed\n", s->name);
		fail(v, "%s's ibv_close_device failed", role);
	}
	s->ctx = NULL;
}

/*
 * Windows first (a bound type 2 window holds T's QP, and no MR with a
 * window bound to it may go), then QPs, CQs, MRs, PDs and devices.
 */
static void teardown(struct verdict *v)
{
	size_t k;

	for (k = 0; k < NMR; k++)
		mw_free(v, &inv_win[k]);
	close_side(v, &t, "T");
	close_side(v, &p, "P");
	for (k = 0; k < NMR; k++) {
		dereg(v, &t, &mrs[k].mr, mrs[k].name);
		free(mrs[k].gone);
		mrs[k].gone = NULL;
	}
	dereg(v, &t, &trecv_mr, "receive buffer");
	dereg(v, &p, &pmr, "P's buffer");
	close_pd(v, &t, "T");
	close_pd(v, &p, "P");
	if (region)
		free_backed(backing, region, REGION_LEN, 0);
	free(orig);
	free(want);
	free(pbuf);
	free(tbuf);
}

static int parse_index(const char *s, int *out)
{
	char *end;
	long val;

	errno = 0;
	val = strtol(s, &end, 10);
	if (errno || end == s || *end || val < 0 || val > 255)
		return -1;
	*out = val;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const backing_names[] = { "anon", "thp", "huge2m" };
	static void (*const cases[])(struct tmr *) = {
		case_inside, case_before_start, case_past_end, case_wrap,
		case_atomic_outside, case_after_dereg, case_mw_range,
		case_mw_local_inv, case_mw_send_inv, case_type1_dealloc,
	};
	struct verdict sv = { 0 }, tv = { 0 };
	bool have_backing = false;
	size_t c, k;
	int opt;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		switch (opt) {
		case 'm':
			if (parse_backing(optarg, &backing))
				goto usage;
			if (backing > MEM_HUGE2M) {
				fprintf(stderr, "-m takes anon, thp or huge2m\n");
				goto usage;
			}
			have_backing = true;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 4 ||
	    parse_index(argv[optind + 1], &t.gid_index) ||
	    parse_index(argv[optind + 3], &p.gid_index))
		goto usage;
	t.name = argv[optind];
	p.name = argv[optind + 2];
	if (!have_backing)
		backing = huge2m_available() ? MEM_HUGE2M : MEM_THP;
	if (setvbuf(stdout, NULL, _IOLBF, 0))
		perror("setvbuf(stdout)");
	printf("info T %s GID %d, P %s GID %d, region of %s memory\n", t.name,
	       t.gid_index, p.name, p.gid_index, backing_names[backing]);

	if (setup(&sv)) {
		report("setup", NULL, &sv);
	} else {
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			for (k = 0; k < NMR; k++)
				cases[c](&mrs[k]);
		case_canaries();
	}
	teardown(&tv);
	if (!tv.bad[0])
		pass(&tv, "every window, QP, CQ, MR and PD released");
	report("teardown", NULL, &tv);
	printf("isolation: %u cases, %u failed\n", n_cases, n_failed);
	return n_failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: %s [-m anon|thp|huge2m] DEV_T GID_T DEV_P GID_P\n",
		argv[0]);
	return 2;
}

// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-wiretarget - the live target of a hostile-packet test: real QPs and
 * MRs on the attacked device, a real RC flow kept running through the
 * storm, and the proof afterwards that nothing outside the MRs was touched
 * and that the device still works.
 *
 *   arxe-wiretarget [-t SECONDS] [-m BACKING] DEV_T GID_T DEV_P GID_P TARGETS_FILE
 *
 * DEV_T is the attacked device, DEV_P its honest peer on the other node
 * (RDMA devices are visible from every network namespace, so one process
 * opens both); GID_T and GID_P are their RoCE v2 GID indexes. BACKING is
 * the memory of the canaried MRs: huge2m (the default when two 2 MiB
 * hugetlbfs pages can be mapped), thp (the default otherwise) or anon.
 * SECONDS (default 300) is a hard limit on the whole run.
 *
 * Set-up on T: PDs A and B; a 4 MiB region of BACKING filled with a fixed
 * pseudo-random pattern (a copy kept in ordinary memory), inside which the
 * MRs m0..m3 sit at odd offsets with canary bytes all around them (m1
 * across the huge-page boundary, m2 remote-read only, m3 in PD B), and a
 * stale rkey (an MR registered there and deregistered). QPs, each RC one
 * with a distinct initial PSN and, but for init and reset, connected to a
 * QP of its own on P (in RTS):
 *   flow   RC, PD A, RTS: carries the live flow below
 *   idle   RC, PD A, RTS, 16 receives of 2 KiB posted, nothing sent
 *   rtr    RC, PD A, RTR
 *   init   RC, PD A, INIT           reset  RC, PD A, RESET
 *   err    RC, PD A, taken to RTS, then to ERR
 *   pdb    RC, PD B, RTS
 *   ud     UD, PD A, RTS, qkey 0x11111111, 16 receives posted
 * Writes TARGETS_FILE (numbers in decimal or 0x hex):
 *   mtu BYTES
 *   qp QPN STATE TYPE PD PSN REMOTE_QPN   (PSN: what T's responder expects)
 *   ud QPN QKEY
 *   mr RKEY ADDR LENGTH PD ACCESS          (ACCESS: r w a, remote)
 *   stale RKEY ADDR LENGTH
 * prints what it set up and then the line "ready".
 *
 * Then, until SIGTERM or SIGINT, a file TARGETS_FILE.stop, or the time
 * limit less a reserve for the end, runs a flow between T's flow QP and
 * its peer, in turn: P WRITEs 64 KiB into T and READs them back, T SENDs
 * 4 KiB to P, T WRITEs 16 KiB into P, P does a FETCH_ADD on a word of T;
 * every byte and every fetched value is checked, every completion awaited
 * for at most 10 s. A failed or missing completion (or a refused post) or
 * a wrong byte is a disturbance - a crafted packet can legitimately break
 * a live RoCE connection: it is counted and printed, and the pair is
 * reconnected with new PSNs. Completions and async events that the storm
 * causes elsewhere are printed as they come.
 *
 * At the end: the flow's totals; every canary byte of the region compared
 * with the saved copy; a fresh RC pair (new PDs, CQs, MRs) moving 1 MiB by
 * WRITE, READ and SEND with T as requester and as responder, plus a
 * compare-and-swap each way, byte for byte; everything torn down; the
 * canaries checked once more. Exits 0 only if the canaries are intact, T
 * still transfers byte-exact and the teardown succeeded; 1 otherwise, 2
 * on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <infiniband/verbs.h>

#include "common.h"

#define KIB		1024UL
#define MIB		(1024UL * 1024)
#define REGION_LEN	(4 * MIB)		/* two 2 MiB pages */
#define REGION_SEED	0x5eedca9a41e5f00dULL	/* the canary pattern */
#define MIN_GAP		4096			/* canary between two MRs */
#define REMOTE_RWA	(IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | \
			 IBV_ACCESS_REMOTE_ATOMIC)
#define RWA		(IBV_ACCESS_LOCAL_WRITE | REMOTE_RWA)
#define QKEY		0x11111111u
#define QP_DEPTH	16
#define WAIT_MS		10000		/* the deadline of every completion */
#define RESERVE_MS	60000		/* of SECONDS, kept for the end */
#define SPIN_POLLS	1000		/* empty polls before sleeping */
#define MAX_POLLS	10000000L	/* of one wait, whatever the clock says */
#define MAX_FLOW_STEPS	100000000L
#define MAX_DISTURB_PRINTED 1000
#define MAX_EVENTS_PRINTED 200
#define MAX_CANARY_PRINTED 8

/* the flow: P WRITEs into T and READs back, T SENDs, T WRITEs into P */
#define FLOW_PW_LEN	(64 * KIB)
#define FLOW_SEND_LEN	(4 * KIB)
#define FLOW_TW_LEN	(16 * KIB)
/* T's flow MR */
#define FT_WDST		0		/* P's WRITE lands here, READ from here */
#define FT_SSRC		(64 * KIB)	/* T's SEND */
#define FT_WSRC		(68 * KIB)	/* T's WRITE */
#define FT_ATOM		(96 * KIB)	/* P's FETCH_ADD */
#define FT_LEN		(128 * KIB)
/* P's flow MR */
#define FP_WSRC		0		/* P's WRITE */
#define FP_RDST		(64 * KIB)	/* P's READ */
#define FP_RECV		(128 * KIB)	/* T's SEND */
#define FP_WDST		(132 * KIB)	/* T's WRITE */
#define FP_FETCH	(160 * KIB)	/* what P's FETCH_ADD fetched */
#define FP_LEN		(192 * KIB)
/* the receive buffers of idle and ud (not canaried) */
#define IDLE_SLOT	(2 * KIB)
#define UD_SLOT		(4096 + 64)
#define UD_RECV_LEN	(4096 + 40)	/* a GRH and up to 4 KiB of MTU */
#define RX_LEN		(QP_DEPTH * (IDLE_SLOT + UD_SLOT))
/* the after-check's buffer on each side */
#define AC_MSG		MIB
#define AC_SRC		0
#define AC_DST		MIB
#define AC_WORD		(2 * MIB)
#define AC_LEN		(2 * MIB + 4096)

struct dev {
	const char *tag;		/* "T" or "P" */
	const char *name;
	int gid_index;
	struct ibv_context *ctx;
	union ibv_gid gid;
	enum ibv_mtu mtu;
	uint64_t wcs, events;		/* the storm's, on the target QPs */
};

struct target_qp {
	const char *name;
	enum ibv_qp_type type;
	enum ibv_qp_state state;	/* where set-up leaves it */
	bool in_pd_b;
	bool has_peer;			/* connected to a QP of its own on P */
	struct ibv_qp *qp, *peer;
	uint32_t rq_psn, sq_psn;	/* T's; P's are the other way round */
};

enum { Q_FLOW, Q_IDLE, Q_RTR, Q_INIT, Q_RESET, Q_ERR, Q_PDB, Q_UD, NR_QPS };

static struct target_qp qps[NR_QPS] = {
	[Q_FLOW] = { .name = "flow", .type = IBV_QPT_RC,
		     .state = IBV_QPS_RTS, .has_peer = true },
	[Q_IDLE] = { .name = "idle", .type = IBV_QPT_RC,
		     .state = IBV_QPS_RTS, .has_peer = true },
	[Q_RTR] = { .name = "rtr", .type = IBV_QPT_RC,
		    .state = IBV_QPS_RTR, .has_peer = true },
	[Q_INIT] = { .name = "init", .type = IBV_QPT_RC,
		     .state = IBV_QPS_INIT },
	[Q_RESET] = { .name = "reset", .type = IBV_QPT_RC,
		      .state = IBV_QPS_RESET },
	[Q_ERR] = { .name = "err", .type = IBV_QPT_RC,
		    .state = IBV_QPS_ERR, .has_peer = true },
	[Q_PDB] = { .name = "pdb", .type = IBV_QPT_RC,
		    .state = IBV_QPS_RTS, .in_pd_b = true, .has_peer = true },
	[Q_UD] = { .name = "ud", .type = IBV_QPT_UD, .state = IBV_QPS_RTS },
};

struct canary_mr {
	const char *name;
	size_t off, len;		/* in the region */
	bool in_pd_b;
	int access;
	struct ibv_mr *mr;
};

#define NR_MRS 4
static struct canary_mr mrs[NR_MRS] = {
	{ .name = "m0", .off = 5 * 4096 + 123, .len = 64 * KIB + 123,
	  .access = RWA },
	{ .name = "m1", .off = 2 * MIB - 8192 + 77, .len = 64 * KIB,
	  .access = RWA },
	{ .name = "m2", .off = 3 * MIB + 999, .len = 8 * KIB + 5,
	  .access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ },
	{ .name = "m3", .off = 1 * MIB + 4097, .len = 16 * KIB + 1,
	  .in_pd_b = true, .access = RWA },
};

#define STALE_OFF	(2 * MIB + 512 * KIB + 3)
#define STALE_LEN	(4 * KIB)

static struct dev T = { .tag = "T" }, P = { .tag = "P" };
static enum ibv_mtu path_mtu;
static enum backing backing;
static struct ibv_pd *pd_a, *pd_b, *pd_p;
static struct ibv_cq *cq_tflow, *cq_tstat, *cq_pflow, *cq_pstat;
static struct ibv_mr *rx_mr, *tflow_mr, *pflow_mr, *stale_mr;
static unsigned char *region, *saved, *rx_buf, *tflow_buf, *pflow_buf;
static uint32_t stale_rkey;
static uint64_t data_rng = 0x243f6a8885a308d3ULL;
static uint64_t next_wr_id = 1;
static uint64_t events_printed;
static int64_t flow_end_ms;
static char stop_path[PATH_MAX];
static volatile sig_atomic_t stop_signal;
static char alarm_msg[128];
static size_t alarm_len;

static struct {
	uint64_t ops, bytes, errors, mismatches, reconnects, stale_wcs;
	uint32_t gen;
	bool dead;
} flow;

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts)) {
		perror("clock_gettime(CLOCK_MONOTONIC)");
		exit(1);
	}
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The text of a verb's failure: its errno return, or errno for -1. */
static const char *why(int ret)
{
	return strerror(ret > 0 ? ret : errno);
}

static const char *state_name(enum ibv_qp_state s)
{
	switch (s) {
	case IBV_QPS_RESET:	return "RESET";
	case IBV_QPS_INIT:	return "INIT";
	case IBV_QPS_RTR:	return "RTR";
	case IBV_QPS_RTS:	return "RTS";
	case IBV_QPS_SQD:	return "SQD";
	case IBV_QPS_SQE:	return "SQE";
	case IBV_QPS_ERR:	return "ERR";
	default:		return "?";
	}
}

static const char *wc_op_name(enum ibv_wc_opcode op)
{
	switch (op) {
	case IBV_WC_SEND:		return "SEND";
	case IBV_WC_RDMA_WRITE:		return "RDMA_WRITE";
	case IBV_WC_RDMA_READ:		return "RDMA_READ";
	case IBV_WC_COMP_SWAP:		return "COMP_SWAP";
	case IBV_WC_FETCH_ADD:		return "FETCH_ADD";
	case IBV_WC_RECV:		return "RECV";
	case IBV_WC_RECV_RDMA_WITH_IMM:	return "RECV_RDMA_WITH_IMM";
	default:			return "other";
	}
}

static void access_letters(int access, char *s)
{
	char *p = s;

	if (access & IBV_ACCESS_REMOTE_READ)
		*p++ = 'r';
	if (access & IBV_ACCESS_REMOTE_WRITE)
		*p++ = 'w';
	if (access & IBV_ACCESS_REMOTE_ATOMIC)
		*p++ = 'a';
	if (p == s)
		*p++ = '-';
	*p = '\0';
}

static unsigned int mtu_bytes(enum ibv_mtu mtu)
{
	return 128u << mtu;
}

/* Index of the first byte where @a and @b differ, @len if none. */
static size_t first_diff(const unsigned char *a, const unsigned char *b,
			 size_t len)
{
	size_t i;

	if (!memcmp(a, b, len))
		return len;
	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

static unsigned char *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		return NULL;
	}
	return p;
}

static void unmap_anon(unsigned char *p, size_t len)
{
	if (p && munmap(p, len))
		perror("munmap");
}

/* huge2m when two 2 MiB hugetlbfs pages can be mapped now, else thp. */
static enum backing default_backing(void)
{
	void *p = mmap(NULL, REGION_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		       (21 << MAP_HUGE_SHIFT), -1, 0);

	if (p == MAP_FAILED)
		return MEM_THP;
	if (munmap(p, REGION_LEN))
		perror("munmap");
	return MEM_HUGE2M;
}

static const char *backing_name(enum backing b)
{
	switch (b) {
	case MEM_ANON:		return "anon";
	case MEM_THP:		return "thp";
	case MEM_HUGE2M:	return "huge2m";
	case MEM_SCATTERED:	return "scattered";
	default:		return "huge1g";
	}
}

static int parse_long(const char *s, long min, long max, long *v)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(s, &end, 0);
	if (errno || end == s || *end || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

/* The MRs and the stale range must lie in the region, MIN_GAP apart. */
static int check_layout(void)
{
	size_t off[NR_MRS + 1], len[NR_MRS + 1];
	int i, j;

	for (i = 0; i < NR_MRS; i++) {
		off[i] = mrs[i].off;
		len[i] = mrs[i].len;
	}
	off[NR_MRS] = STALE_OFF;
	len[NR_MRS] = STALE_LEN;
	for (i = 0; i <= NR_MRS; i++) {
		if (off[i] < MIN_GAP || off[i] + len[i] + MIN_GAP > REGION_LEN)
			return -1;
		for (j = 0; j <= NR_MRS; j++)
			if (i != j && off[i] <= off[j] &&
			    off[i] + len[i] + MIN_GAP > off[j])
				return -1;
	}
	return 0;
}

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_alarm(int sig)
{
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, alarm_msg, alarm_len);
	r = write(STDERR_FILENO, alarm_msg, alarm_len);
	(void)r;
	_exit(1);
}

/* ---- verbs helpers ---- */

static int open_dev(struct dev *d)
{
	static const union ibv_gid zero;
	struct ibv_port_attr port;
	int ret, flags;

	d->ctx = open_device(d->name);
	if (!d->ctx)
		return -1;
	ret = ibv_query_port(d->ctx, 1, &port);
	if (ret) {
		fprintf(stderr, "%s %s: ibv_query_port(1): %s\n", d->tag,
			d->name, why(ret));
		return -1;
	}
	ret = ibv_query_gid(d->ctx, 1, d->gid_index, &d->gid);
	if (ret) {
		fprintf(stderr, "%s %s: ibv_query_gid(1, %d): %s\n", d->tag,
			d->name, d->gid_index, why(ret));
		return -1;
	}
	if (!memcmp(&d->gid, &zero, sizeof(zero))) {
		fprintf(stderr, "%s %s: GID %d is empty\n", d->tag, d->name,
			d->gid_index);
		return -1;
	}
	d->mtu = port.active_mtu;
	/* the storm's async events are read between the flow's steps */
	flags = fcntl(d->ctx->async_fd, F_GETFL);
	if (flags < 0 ||
	    fcntl(d->ctx->async_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		fprintf(stderr, "%s %s: fcntl(async_fd, O_NONBLOCK): %s\n",
			d->tag, d->name, strerror(errno));
		return -1;
	}
	return 0;
}

static int failed_ptr(const struct dev *d, const char *verb, const char *what)
{
	fprintf(stderr, "%s %s: %s(%s): %s\n", d->tag, d->name, verb, what,
		strerror(errno));
	return -1;
}

static struct ibv_pd *make_pd(const struct dev *d, const char *what)
{
	struct ibv_pd *pd = ibv_alloc_pd(d->ctx);

	if (!pd)
		failed_ptr(d, "ibv_alloc_pd", what);
	return pd;
}

static struct ibv_cq *make_cq(const struct dev *d, const char *what, int cqe)
{
	struct ibv_cq *cq = ibv_create_cq(d->ctx, cqe, NULL, NULL, 0);

	if (!cq)
		failed_ptr(d, "ibv_create_cq", what);
	return cq;
}

static struct ibv_mr *make_mr(const struct dev *d, const char *what,
			      struct ibv_pd *pd, void *addr, size_t len,
			      int access)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, addr, len, access);

	if (!mr)
		fprintf(stderr, "%s %s: ibv_reg_mr(%s, %zu bytes at %p): %s\n",
			d->tag, d->name, what, len, addr, strerror(errno));
	return mr;
}

static struct ibv_qp *make_qp(const struct dev *d, const char *what,
			      struct ibv_pd *pd, struct ibv_cq *cq,
			      enum ibv_qp_type type)
{
	struct ibv_qp_init_attr a = {
		.send_cq = cq,
		.recv_cq = cq,
		.qp_type = type,
		.cap = { .max_send_wr = QP_DEPTH, .max_recv_wr = QP_DEPTH,
			 .max_send_sge = 1, .max_recv_sge = 1,
			 .max_inline_data = 0 },
	};
	struct ibv_qp *qp = ibv_create_qp(pd, &a);

	if (!qp)
		failed_ptr(d, "ibv_create_qp", what);
	return qp;
}

static int modify_failed(const struct dev *d, const char *what,
			 struct ibv_qp *qp, enum ibv_qp_state to, int ret)
{
	fprintf(stderr, "%s %s: ibv_modify_qp(%s qp 0x%x to %s): %s\n", d->tag,
		d->name, what, qp->qp_num, state_name(to), why(ret));
	return -1;
}

/*
 * bring_up - take the RC QP @qp of @d from RESET to @to (INIT, RTR or
 * RTS), connected to QP @dest of @remote with the PSNs given.
 */
static int bring_up(const struct dev *d, const char *what, struct ibv_qp *qp,
		    const struct dev *remote, uint32_t dest, uint32_t rq_psn,
		    uint32_t sq_psn, enum ibv_qp_state to)
{
	int ret;

	ret = rc_to_init(qp, REMOTE_RWA);
	if (ret)
		return modify_failed(d, what, qp, IBV_QPS_INIT, ret);
	if (to == IBV_QPS_INIT)
		return 0;
	ret = rc_to_rtr(qp, path_mtu, dest, &remote->gid, d->gid_index, rq_psn);
	if (ret)
		return modify_failed(d, what, qp, IBV_QPS_RTR, ret);
	if (to == IBV_QPS_RTR)
		return 0;
	ret = rc_to_rts(qp, 7, sq_psn);
	if (ret)
		return modify_failed(d, what, qp, IBV_QPS_RTS, ret);
	return 0;
}

static int to_state(const struct dev *d, const char *what, struct ibv_qp *qp,
		    enum ibv_qp_state to)
{
	struct ibv_qp_attr a = { .qp_state = to };
	int ret = ibv_modify_qp(qp, &a, IBV_QP_STATE);

	return ret ? modify_failed(d, what, qp, to, ret) : 0;
}

static int ud_up(struct target_qp *q)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = 1,
		.qkey = QKEY,
	};
	int ret;

	ret = ibv_modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			    IBV_QP_PORT | IBV_QP_QKEY);
	if (ret)
		return modify_failed(&T, q->name, q->qp, IBV_QPS_INIT, ret);
	if (to_state(&T, q->name, q->qp, IBV_QPS_RTR))
		return -1;
	a.qp_state = IBV_QPS_RTS;
	a.sq_psn = q->sq_psn;
	ret = ibv_modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
	if (ret)
		return modify_failed(&T, q->name, q->qp, IBV_QPS_RTS, ret);
	return 0;
}

struct op {
	enum ibv_wr_opcode opcode;
	void *local;
	uint32_t len;
	uint32_t lkey;
	uint64_t remote;
	uint32_t rkey;
	uint64_t compare_add, swap;
};

/* One signaled WR of @o on @qp; what ibv_post_send() returned. */
static int post_send1(struct ibv_qp *qp, const struct op *o, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)o->local, .length = o->len, .lkey = o->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
		.opcode = o->opcode, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	switch (o->opcode) {
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
	case IBV_WR_ATOMIC_CMP_AND_SWP:
		wr.wr.atomic.remote_addr = o->remote;
		wr.wr.atomic.rkey = o->rkey;
		wr.wr.atomic.compare_add = o->compare_add;
		wr.wr.atomic.swap = o->swap;
		break;
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_READ:
		wr.wr.rdma.remote_addr = o->remote;
		wr.wr.rdma.rkey = o->rkey;
		break;
	default:
		break;
	}
	return ibv_post_send(qp, &wr, &bad);
}

static int post_recv1(struct ibv_qp *qp, void *addr, uint32_t len,
		      uint32_t lkey, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)addr, .length = len, .lkey = lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
	}, *bad;

	return ibv_post_recv(qp, &wr, &bad);
}

enum wait_result { WAIT_DONE, WAIT_STATUS, WAIT_TIMEOUT, WAIT_POLL };

/*
 * await_wc - poll @cq of @d until the completion of @wr_id comes (into
 * *@wc), at most WAIT_MS. Completions of other WRs (abandoned ones, from
 * before a reconnect) are counted and skipped.
 */
static enum wait_result await_wc(const struct dev *d, struct ibv_cq *cq,
				 uint64_t wr_id, struct ibv_wc *wc)
{
	int64_t end = now_ms() + WAIT_MS;
	long i;
	int n;

	for (i = 0; i < MAX_POLLS; i++) {
		n = ibv_poll_cq(cq, 1, wc);
		if (n < 0) {
			fprintf(stderr, "%s %s: ibv_poll_cq returned %d\n",
				d->tag, d->name, n);
			return WAIT_POLL;
		}
		if (n == 1) {
			if (wc->wr_id == wr_id)
				return wc->status == IBV_WC_SUCCESS ? WAIT_DONE :
								      WAIT_STATUS;
			flow.stale_wcs++;
			continue;
		}
		if (now_ms() >= end)
			break;
		if (i >= SPIN_POLLS)
			usleep(20);
	}
	return WAIT_TIMEOUT;
}

static const char *wait_failure(enum wait_result r, const struct ibv_wc *wc,
				char *buf, size_t len)
{
	switch (r) {
	case WAIT_STATUS:
		snprintf(buf, len, "completed with %s (status %d, vendor error 0x%x)",
			 ibv_wc_status_str(wc->status), (int)wc->status,
			 wc->vendor_err);
		break;
	case WAIT_TIMEOUT:
		snprintf(buf, len, "no completion within %d s", WAIT_MS / 1000);
		break;
	case WAIT_POLL:
		snprintf(buf, len, "polling the CQ failed");
		break;
	default:
		snprintf(buf, len, "succeeded");
		break;
	}
	return buf;
}

/*
 * drain_cq - poll everything off @cq until it stays empty for 20 ms (at
 * most 1 s). Returns the number of completions or -1.
 */
static int drain_cq(const struct dev *d, struct ibv_cq *cq)
{
	int64_t t = now_ms(), end = t + 1000, quiet = t + 20;
	struct ibv_wc wc[16];
	int i, n, total = 0;

	for (i = 0; i < 100000; i++) {
		n = ibv_poll_cq(cq, 16, wc);
		if (n < 0) {
			fprintf(stderr, "%s %s: ibv_poll_cq returned %d\n",
				d->tag, d->name, n);
			return -1;
		}
		t = now_ms();
		total += n;
		if (n > 0)
			quiet = t + 20;
		if (t >= quiet || t >= end)
			break;
		if (!n)
			usleep(1000);
	}
	return total;
}

/* ---- what the storm does to the target QPs: completions, async events ---- */

static const char *qp_name(const struct dev *d, uint32_t qpn)
{
	struct ibv_qp *qp;
	int k;

	for (k = 0; k < NR_QPS; k++) {
		qp = d == &T ? qps[k].qp : qps[k].peer;
		if (qp && qp->qp_num == qpn)
			return qps[k].name;
	}
	return "?";
}

static bool print_event(void)
{
	if (events_printed == MAX_EVENTS_PRINTED)
		printf("targets: further completions and events are counted, not printed\n");
	return events_printed++ < MAX_EVENTS_PRINTED;
}

static void poll_static_cq(struct dev *d, struct ibv_cq *cq)
{
	struct ibv_wc wc[16];
	int round, n, i;

	for (round = 0; round < 4; round++) {
		n = ibv_poll_cq(cq, 16, wc);
		if (n < 0) {
			fprintf(stderr, "%s %s: ibv_poll_cq(targets) returned %d\n",
				d->tag, d->name, n);
			return;
		}
		for (i = 0; i < n; i++) {
			d->wcs++;
			if (!print_event())
				continue;
			if (wc[i].status == IBV_WC_SUCCESS)
				printf("targets: %s qp 0x%x (%s): %s completion, %u bytes\n",
				       d->tag, wc[i].qp_num,
				       qp_name(d, wc[i].qp_num),
				       wc_op_name(wc[i].opcode), wc[i].byte_len);
			else
				printf("targets: %s qp 0x%x (%s): completion with %s (status %d, vendor error 0x%x)\n",
				       d->tag, wc[i].qp_num,
				       qp_name(d, wc[i].qp_num),
				       ibv_wc_status_str(wc[i].status),
				       (int)wc[i].status, wc[i].vendor_err);
		}
		if (n < 16)
			return;
	}
}

static void poll_async(struct dev *d)
{
	struct ibv_async_event ev;
	uint32_t qpn;
	int i;

	for (i = 0; i < 16; i++) {
		if (ibv_get_async_event(d->ctx, &ev))
			return;	/* EAGAIN: none pending */
		d->events++;
		switch (ev.event_type) {
		case IBV_EVENT_QP_FATAL:
		case IBV_EVENT_QP_REQ_ERR:
		case IBV_EVENT_QP_ACCESS_ERR:
		case IBV_EVENT_COMM_EST:
		case IBV_EVENT_SQ_DRAINED:
		case IBV_EVENT_PATH_MIG:
		case IBV_EVENT_PATH_MIG_ERR:
		case IBV_EVENT_QP_LAST_WQE_REACHED:
			qpn = ev.element.qp->qp_num;
			if (print_event())
				printf("targets: %s async event %s on qp 0x%x (%s)\n",
				       d->tag, ibv_event_type_str(ev.event_type),
				       qpn, qp_name(d, qpn));
			break;
		case IBV_EVENT_PORT_ACTIVE:
		case IBV_EVENT_PORT_ERR:
		case IBV_EVENT_LID_CHANGE:
		case IBV_EVENT_PKEY_CHANGE:
		case IBV_EVENT_SM_CHANGE:
		case IBV_EVENT_CLIENT_REREGISTER:
		case IBV_EVENT_GID_CHANGE:
			if (print_event())
				printf("targets: %s async event %s on port %d\n",
				       d->tag, ibv_event_type_str(ev.event_type),
				       ev.element.port_num);
			break;
		default:
			if (print_event())
				printf("targets: %s async event %s\n", d->tag,
				       ibv_event_type_str(ev.event_type));
			break;
		}
		ibv_ack_async_event(&ev);
	}
}

static void poll_targets(void)
{
	poll_static_cq(&T, cq_tstat);
	poll_static_cq(&P, cq_pstat);
	poll_async(&T);
	poll_async(&P);
}

/* ---- the live flow ---- */

/*
 * reconnect_flow - both flow QPs to ERR, their CQs drained, then RESET,
 * INIT, RTR, RTS with PSNs of a new generation. On failure the flow stops.
 */
static void reconnect_flow(void)
{
	struct target_qp *f = &qps[Q_FLOW];
	uint32_t rq, sq;

	flow.gen++;
	rq = (0x400000 + flow.gen * 0x1231) & 0xffffff;
	sq = (0xc00000 + flow.gen * 0x1231) & 0xffffff;
	if (to_state(&T, f->name, f->qp, IBV_QPS_ERR) ||
	    to_state(&P, f->name, f->peer, IBV_QPS_ERR) ||
	    drain_cq(&T, cq_tflow) < 0 || drain_cq(&P, cq_pflow) < 0 ||
	    to_state(&T, f->name, f->qp, IBV_QPS_RESET) ||
	    to_state(&P, f->name, f->peer, IBV_QPS_RESET) ||
	    bring_up(&T, f->name, f->qp, &P, f->peer->qp_num, rq, sq,
		     IBV_QPS_RTS) ||
	    bring_up(&P, f->name, f->peer, &T, f->qp->qp_num, sq, rq,
		     IBV_QPS_RTS)) {
		printf("flow: reconnecting failed (see stderr); the flow stops here\n");
		flow.dead = true;
		return;
	}
	f->rq_psn = rq;
	f->sq_psn = sq;
	flow.reconnects++;
}

static void disturbed(bool mismatch, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Count and print a disturbance of the flow, then reconnect it. */
static void disturbed(bool mismatch, const char *fmt, ...)
{
	uint64_t n;
	va_list ap;

	if (mismatch)
		flow.mismatches++;
	else
		flow.errors++;
	n = flow.errors + flow.mismatches;
	if (n <= MAX_DISTURB_PRINTED) {
		printf("flow disturbed: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("; reconnecting\n");
	} else if (n == MAX_DISTURB_PRINTED + 1) {
		printf("flow: further disturbances are counted, not printed\n");
	}
	reconnect_flow();
}

static int flow_post(const struct dev *d, struct ibv_qp *qp,
		     const struct op *o, uint64_t id, const char *what)
{
	int ret = post_send1(qp, o, id);

	if (ret)
		disturbed(false, "%s: ibv_post_send on %s %s refused it: %s",
			  what, d->tag, d->name, why(ret));
	return ret ? -1 : 0;
}

static int flow_wait(const struct dev *d, struct ibv_cq *cq, uint64_t id,
		     const char *what, struct ibv_wc *wc)
{
	enum wait_result r = await_wc(d, cq, id, wc);
	char buf[128];

	if (r == WAIT_DONE)
		return 0;
	disturbed(false, "%s on %s: %s", what, d->tag,
		  wait_failure(r, wc, buf, sizeof(buf)));
	return -1;
}

static int flow_check(const char *what, const unsigned char *got,
		      const unsigned char *want, size_t len)
{
	size_t i = first_diff(got, want, len);

	if (i < len) {
		disturbed(true, "%s: byte %zu of %zu is 0x%02x, expected 0x%02x",
			  what, i, len, got[i], want[i]);
		return -1;
	}
	flow.ops++;
	flow.bytes += len;
	return 0;
}

/* (a) P WRITEs 64 KiB into T's flow MR, then READs them back. */
static void flow_write_read(void)
{
	struct target_qp *f = &qps[Q_FLOW];
	unsigned char *src = pflow_buf + FP_WSRC, *back = pflow_buf + FP_RDST;
	unsigned char *tmem = tflow_buf + FT_WDST;
	struct op o = {
		.opcode = IBV_WR_RDMA_WRITE, .local = src, .len = FLOW_PW_LEN,
		.lkey = pflow_mr->lkey, .remote = (uintptr_t)tmem,
		.rkey = tflow_mr->rkey,
	};
	uint64_t id = next_wr_id++;
	struct ibv_wc wc;

	fill_random(src, FLOW_PW_LEN, &data_rng);
	if (flow_post(&P, f->peer, &o, id, "WRITE P -> T") ||
	    flow_wait(&P, cq_pflow, id, "WRITE P -> T", &wc) ||
	    flow_check("WRITE P -> T", tmem, src, FLOW_PW_LEN))
		return;
	memset(back, 0, FLOW_PW_LEN);
	o.opcode = IBV_WR_RDMA_READ;
	o.local = back;
	id = next_wr_id++;
	if (flow_post(&P, f->peer, &o, id, "READ P <- T") ||
	    flow_wait(&P, cq_pflow, id, "READ P <- T", &wc))
		return;
	flow_check("READ P <- T", back, src, FLOW_PW_LEN);
}

/* (b) T SENDs 4 KiB to P. */
static void flow_send(void)
{
	struct target_qp *f = &qps[Q_FLOW];
	unsigned char *src = tflow_buf + FT_SSRC, *dst = pflow_buf + FP_RECV;
	struct op o = {
		.opcode = IBV_WR_SEND, .local = src, .len = FLOW_SEND_LEN,
		.lkey = tflow_mr->lkey,
	};
	uint64_t rid = next_wr_id++, sid = next_wr_id++;
	struct ibv_wc wc;
	int ret;

	fill_random(src, FLOW_SEND_LEN, &data_rng);
	memset(dst, 0, FLOW_SEND_LEN);
	ret = post_recv1(f->peer, dst, FLOW_SEND_LEN, pflow_mr->lkey, rid);
	if (ret) {
		disturbed(false, "SEND T -> P: ibv_post_recv on P %s refused it: %s",
			  P.name, why(ret));
		return;
	}
	if (flow_post(&T, f->qp, &o, sid, "SEND T -> P") ||
	    flow_wait(&T, cq_tflow, sid, "SEND T -> P", &wc) ||
	    flow_wait(&P, cq_pflow, rid, "RECV of SEND T -> P", &wc))
		return;
	if (wc.byte_len != FLOW_SEND_LEN) {
		disturbed(true, "RECV of SEND T -> P: %u bytes, sent %lu",
			  wc.byte_len, FLOW_SEND_LEN);
		return;
	}
	flow_check("SEND T -> P", dst, src, FLOW_SEND_LEN);
}

/* (c) T WRITEs 16 KiB into P's flow MR. */
static void flow_t_write(void)
{
	struct target_qp *f = &qps[Q_FLOW];
	unsigned char *src = tflow_buf + FT_WSRC, *dst = pflow_buf + FP_WDST;
	struct op o = {
		.opcode = IBV_WR_RDMA_WRITE, .local = src, .len = FLOW_TW_LEN,
		.lkey = tflow_mr->lkey, .remote = (uintptr_t)dst,
		.rkey = pflow_mr->rkey,
	};
	uint64_t id = next_wr_id++;
	struct ibv_wc wc;

	fill_random(src, FLOW_TW_LEN, &data_rng);
	memset(dst, 0, FLOW_TW_LEN);
	if (flow_post(&T, f->qp, &o, id, "WRITE T -> P") ||
	    flow_wait(&T, cq_tflow, id, "WRITE T -> P", &wc))
		return;
	flow_check("WRITE T -> P", dst, src, FLOW_TW_LEN);
}

/* (d) P does a FETCH_ADD on a word of T's flow MR. */
static void flow_fetch_add(void)
{
	struct target_qp *f = &qps[Q_FLOW];
	unsigned char *word = tflow_buf + FT_ATOM, *fetched = pflow_buf + FP_FETCH;
	struct op o = {
		.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD, .local = fetched,
		.len = 8, .lkey = pflow_mr->lkey, .remote = (uintptr_t)word,
		.rkey = tflow_mr->rkey,
	};
	uint64_t id = next_wr_id++, old, add, got, now;
	struct ibv_wc wc;

	fill_random((unsigned char *)&old, sizeof(old), &data_rng);
	fill_random((unsigned char *)&add, sizeof(add), &data_rng);
	add |= 1;
	o.compare_add = add;
	memcpy(word, &old, sizeof(old));
	got = ~old;
	memcpy(fetched, &got, sizeof(got));
	if (flow_post(&P, f->peer, &o, id, "FETCH_ADD P -> T") ||
	    flow_wait(&P, cq_pflow, id, "FETCH_ADD P -> T", &wc))
		return;
	memcpy(&got, fetched, sizeof(got));
	memcpy(&now, word, sizeof(now));
	if (got != old) {
		disturbed(true, "FETCH_ADD P -> T fetched 0x%016" PRIx64
			  ", expected 0x%016" PRIx64, got, old);
		return;
	}
	if (now != old + add) {
		disturbed(true, "FETCH_ADD P -> T left 0x%016" PRIx64
			  " in T's word, expected 0x%016" PRIx64, now, old + add);
		return;
	}
	flow.ops++;
	flow.bytes += sizeof(old);
}

/* Why the flow should stop now, or NULL. */
static const char *stop_reason(void)
{
	if (stop_signal)
		return stop_signal == SIGINT ? "SIGINT" : "SIGTERM";
	if (now_ms() >= flow_end_ms)
		return "the time limit (less the reserve for the end)";
	if (!access(stop_path, F_OK))
		return stop_path;
	return NULL;
}

static void run_flow(void)
{
	const char *reason = NULL;
	long step;

	for (step = 0; step < MAX_FLOW_STEPS; step++) {
		poll_targets();
		reason = stop_reason();
		if (reason)
			break;
		if (flow.dead) {
			/* the storm goes on: keep the targets up until told */
			usleep(100000);
			continue;
		}
		switch (step % 4) {
		case 0:
			flow_write_read();
			break;
		case 1:
			flow_send();
			break;
		case 2:
			flow_t_write();
			break;
		default:
			flow_fetch_add();
			break;
		}
	}
	printf("flow: stopped by %s\n", reason ? reason : "its step limit");
}

/* ---- set-up ---- */

static int make_targets(void)
{
	struct target_qp *q;
	int k;

	for (k = 0; k < NR_QPS; k++) {
		q = &qps[k];
		q->rq_psn = 0x1000 * (k + 1);
		q->sq_psn = 0x800000 | (0x1000 * (k + 1));
		q->qp = make_qp(&T, q->name, q->in_pd_b ? pd_b : pd_a,
				k == Q_FLOW ? cq_tflow : cq_tstat, q->type);
		if (!q->qp)
			return -1;
		if (q->has_peer) {
			q->peer = make_qp(&P, q->name, pd_p,
					  k == Q_FLOW ? cq_pflow : cq_pstat,
					  IBV_QPT_RC);
			if (!q->peer)
				return -1;
		}
	}
	for (k = 0; k < NR_QPS; k++) {
		q = &qps[k];
		if (q->type == IBV_QPT_UD) {
			if (ud_up(q))
				return -1;
			continue;
		}
		if (q->state != IBV_QPS_RESET &&
		    bring_up(&T, q->name, q->qp, &P,
			     q->peer ? q->peer->qp_num : 0, q->rq_psn,
			     q->sq_psn, q->state == IBV_QPS_ERR ? IBV_QPS_RTS :
								 q->state))
			return -1;
		if (q->peer &&
		    bring_up(&P, q->name, q->peer, &T, q->qp->qp_num,
			     q->sq_psn, q->rq_psn, IBV_QPS_RTS))
			return -1;
		if (q->state == IBV_QPS_ERR &&
		    to_state(&T, q->name, q->qp, IBV_QPS_ERR))
			return -1;
	}
	return 0;
}

static int post_target_recvs(void)
{
	unsigned char *ud_base = rx_buf + QP_DEPTH * IDLE_SLOT;
	int i, ret;

	for (i = 0; i < QP_DEPTH; i++) {
		ret = post_recv1(qps[Q_IDLE].qp, rx_buf + i * IDLE_SLOT,
				 IDLE_SLOT, rx_mr->lkey, next_wr_id++);
		if (ret) {
			fprintf(stderr, "T %s: ibv_post_recv(idle, #%d): %s\n",
				T.name, i, why(ret));
			return -1;
		}
		ret = post_recv1(qps[Q_UD].qp, ud_base + i * UD_SLOT,
				 UD_RECV_LEN, rx_mr->lkey, next_wr_id++);
		if (ret) {
			fprintf(stderr, "T %s: ibv_post_recv(ud, #%d): %s\n",
				T.name, i, why(ret));
			return -1;
		}
	}
	return 0;
}

/* Each QP on T must be in the state the targets file will say. */
static int check_states(void)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;
	int k, ret;

	for (k = 0; k < NR_QPS; k++) {
		ret = ibv_query_qp(qps[k].qp, &a, IBV_QP_STATE, &init);
		if (ret) {
			fprintf(stderr, "T %s: ibv_query_qp(%s): %s\n", T.name,
				qps[k].name, why(ret));
			return -1;
		}
		if (a.qp_state != qps[k].state) {
			fprintf(stderr, "T %s: qp %s is in %s, not %s\n", T.name,
				qps[k].name, state_name(a.qp_state),
				state_name(qps[k].state));
			return -1;
		}
	}
	return 0;
}

/*
 * The stale rkey: an MR registered in the region, in PD A, with every
 * right, and deregistered. Registered last, so no MR of this run can
 * take its index over before the storm.
 */
static int make_stale(void)
{
	int k, ret;

	stale_mr = make_mr(&T, "stale", pd_a, region + STALE_OFF, STALE_LEN, RWA);
	if (!stale_mr)
		return -1;
	stale_rkey = stale_mr->rkey;
	ret = ibv_dereg_mr(stale_mr);
	if (ret) {
		fprintf(stderr, "T %s: ibv_dereg_mr(stale): %s\n", T.name,
			why(ret));
		return -1;
	}
	stale_mr = NULL;
	for (k = 0; k < NR_MRS; k++)
		if (mrs[k].mr->rkey == stale_rkey)
			printf("warning: the stale rkey 0x%x is %s's rkey\n",
			       stale_rkey, mrs[k].name);
	if (stale_rkey == rx_mr->rkey || stale_rkey == tflow_mr->rkey)
		printf("warning: the stale rkey 0x%x is a live MR's rkey\n",
		       stale_rkey);
	return 0;
}

static uint32_t listed_psn(const struct target_qp *q)
{
	if (q->type == IBV_QPT_UD || q->state == IBV_QPS_RESET ||
	    q->state == IBV_QPS_INIT)
		return 0;
	return q->rq_psn;
}

static int write_targets(const char *path)
{
	char tmp[PATH_MAX], acc[4];
	const struct target_qp *q;
	const struct canary_mr *m;
	int k, bad;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "%s: path too long\n", path);
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		return -1;
	}
	fprintf(f, "mtu %u\n", mtu_bytes(path_mtu));
	for (k = 0; k < NR_QPS; k++) {
		q = &qps[k];
		fprintf(f, "qp 0x%x %s %s %s 0x%x 0x%x\n", q->qp->qp_num,
			state_name(q->state), q->type == IBV_QPT_UD ? "UD" : "RC",
			q->in_pd_b ? "B" : "A", listed_psn(q),
			q->peer ? q->peer->qp_num : 0);
	}
	fprintf(f, "ud 0x%x 0x%x\n", qps[Q_UD].qp->qp_num, QKEY);
	for (k = 0; k < NR_MRS; k++) {
		m = &mrs[k];
		access_letters(m->access, acc);
		fprintf(f, "mr 0x%x 0x%" PRIxPTR " %zu %s %s\n", m->mr->rkey,
			(uintptr_t)(region + m->off), m->len,
			m->in_pd_b ? "B" : "A", acc);
	}
	fprintf(f, "stale 0x%x 0x%" PRIxPTR " %lu\n", stale_rkey,
		(uintptr_t)(region + STALE_OFF), STALE_LEN);
	bad = ferror(f);
	if (fclose(f) || bad) {
		fprintf(stderr, "%s: cannot write it\n", tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		fprintf(stderr, "rename %s to %s: %s\n", tmp, path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static const char *gid_text(const union ibv_gid *gid, char *buf, size_t len)
{
	if (!inet_ntop(AF_INET6, gid->raw, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static void print_summary(void)
{
	char g1[INET6_ADDRSTRLEN], g2[INET6_ADDRSTRLEN], acc[4];
	const struct target_qp *q;
	const struct canary_mr *m;
	int k;

	printf("T %s GID %d (%s), P %s GID %d (%s), path MTU %u\n", T.name,
	       T.gid_index, gid_text(&T.gid, g1, sizeof(g1)), P.name,
	       P.gid_index, gid_text(&P.gid, g2, sizeof(g2)),
	       mtu_bytes(path_mtu));
	printf("region: %lu bytes of %s at %p, pattern seed 0x%llx\n",
	       REGION_LEN, backing_name(backing), (void *)region,
	       (unsigned long long)REGION_SEED);
	for (k = 0; k < NR_MRS; k++) {
		m = &mrs[k];
		access_letters(m->access, acc);
		printf("  mr %s rkey 0x%08x PD %s %-3s [%p, %p) %zu bytes at region offset %zu\n",
		       m->name, m->mr->rkey, m->in_pd_b ? "B" : "A", acc,
		       (void *)(region + m->off),
		       (void *)(region + m->off + m->len), m->len, m->off);
	}
	printf("  stale rkey 0x%08x PD A [%p, %p) %lu bytes at region offset %lu, deregistered\n",
	       stale_rkey, (void *)(region + STALE_OFF),
	       (void *)(region + STALE_OFF + STALE_LEN), STALE_LEN, STALE_OFF);
	for (k = 0; k < NR_QPS; k++) {
		q = &qps[k];
		printf("  qp %-5s 0x%06x %-5s %s PD %s", q->name, q->qp->qp_num,
		       state_name(q->state), q->type == IBV_QPT_UD ? "UD" : "RC",
		       q->in_pd_b ? "B" : "A");
		if (q->type == IBV_QPT_UD)
			printf(" qkey 0x%x, %d receives\n", QKEY, QP_DEPTH);
		else if (q->peer)
			printf(" expects PSN 0x%06x, sends from 0x%06x, peer P qp 0x%06x%s\n",
			       q->rq_psn, q->sq_psn, q->peer->qp_num,
			       k == Q_IDLE ? ", 16 receives" : "");
		else
			printf("\n");
	}
	printf("  flow MRs (not listed): T rkey 0x%08x, P rkey 0x%08x\n",
	       tflow_mr->rkey, pflow_mr->rkey);
}

static int setup(const char *targets)
{
	uint64_t seed = REGION_SEED;
	int k;

	if (open_dev(&T) || open_dev(&P))
		return -1;
	path_mtu = T.mtu < P.mtu ? T.mtu : P.mtu;
	pd_a = make_pd(&T, "A");
	pd_b = pd_a ? make_pd(&T, "B") : NULL;
	pd_p = pd_b ? make_pd(&P, "peer") : NULL;
	if (!pd_p)
		return -1;
	cq_tflow = make_cq(&T, "flow", 64);
	cq_tstat = cq_tflow ? make_cq(&T, "targets", 256) : NULL;
	cq_pflow = cq_tstat ? make_cq(&P, "flow", 64) : NULL;
	cq_pstat = cq_pflow ? make_cq(&P, "targets", 256) : NULL;
	if (!cq_pstat)
		return -1;

	region = alloc_backed(backing, REGION_LEN, 0);
	saved = malloc(REGION_LEN);
	if (!region || !saved) {
		fprintf(stderr, "cannot allocate the %lu-byte region of %s and its copy\n",
			REGION_LEN, backing_name(backing));
		return -1;
	}
	fill_random(region, REGION_LEN, &seed);
	memcpy(saved, region, REGION_LEN);
	for (k = 0; k < NR_MRS; k++) {
		mrs[k].mr = make_mr(&T, mrs[k].name,
				    mrs[k].in_pd_b ? pd_b : pd_a,
				    region + mrs[k].off, mrs[k].len,
				    mrs[k].access);
		if (!mrs[k].mr)
			return -1;
	}

	rx_buf = map_anon(RX_LEN);
	tflow_buf = map_anon(FT_LEN);
	pflow_buf = map_anon(FP_LEN);
	if (!rx_buf || !tflow_buf || !pflow_buf)
		return -1;
	rx_mr = make_mr(&T, "receives", pd_a, rx_buf, RX_LEN,
			IBV_ACCESS_LOCAL_WRITE);
	tflow_mr = rx_mr ? make_mr(&T, "flow", pd_a, tflow_buf, FT_LEN, RWA) :
			   NULL;
	pflow_mr = tflow_mr ? make_mr(&P, "flow", pd_p, pflow_buf, FP_LEN, RWA) :
			      NULL;
	if (!pflow_mr)
		return -1;

	if (make_targets() || post_target_recvs() || make_stale() ||
	    check_states() || write_targets(targets))
		return -1;
	print_summary();
	return 0;
}

/* ---- the end ---- */

/* The live MR holding region offset @off, or -1. */
static int live_mr_at(size_t off)
{
	int k;

	for (k = 0; k < NR_MRS; k++)
		if (off >= mrs[k].off && off < mrs[k].off + mrs[k].len)
			return k;
	return -1;
}

/* Where region offset @off lies: relative to the nearest MR's start. */
static void describe(size_t off, char *buf, size_t len)
{
	long long d = 0, dist, best = LLONG_MAX;
	const char *name = "?";
	int k;

	if (off >= STALE_OFF && off < STALE_OFF + STALE_LEN) {
		snprintf(buf, len, "stale MR + %zu", off - STALE_OFF);
		return;
	}
	for (k = 0; k < NR_MRS; k++) {
		if (off < mrs[k].off)
			dist = (long long)(mrs[k].off - off);
		else
			dist = (long long)(off - (mrs[k].off + mrs[k].len - 1));
		if (dist < best) {
			best = dist;
			d = (long long)off - (long long)mrs[k].off;
			name = mrs[k].name;
		}
	}
	snprintf(buf, len, "MR %s %c %lld", name, d < 0 ? '-' : '+',
		 d < 0 ? -d : d);
}

/* Compare every canary byte with the saved copy; the number that differ. */
static size_t check_canaries(const char *when)
{
	size_t off, bad = 0, checked = 0;
	char where[64];
	int k;

	for (off = 0; off < REGION_LEN; off++) {
		k = live_mr_at(off);
		if (k >= 0) {
			off = mrs[k].off + mrs[k].len - 1;
			continue;
		}
		checked++;
		if (region[off] == saved[off])
			continue;
		if (bad++ < MAX_CANARY_PRINTED) {
			describe(off, where, sizeof(where));
			printf("FAIL canary%s: byte at region offset %zu (%s) is 0x%02x, was 0x%02x\n",
			       when, off, where, region[off], saved[off]);
		}
	}
	if (bad)
		printf("FAIL canary%s: %zu of %zu canary bytes changed\n", when,
		       bad, checked);
	else if (!*when)
		printf("canaries: %zu bytes around %d MRs intact\n", checked,
		       NR_MRS);
	return bad;
}

struct ac_side {
	struct dev *d;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	unsigned char *buf;
};

static int ac_open(struct ac_side *s)
{
	s->pd = make_pd(s->d, "after");
	s->cq = s->pd ? make_cq(s->d, "after", 16) : NULL;
	s->buf = s->cq ? map_anon(AC_LEN) : NULL;
	s->mr = s->buf ? make_mr(s->d, "after", s->pd, s->buf, AC_LEN, RWA) :
			 NULL;
	s->qp = s->mr ? make_qp(s->d, "after", s->pd, s->cq, IBV_QPT_RC) :
			NULL;
	return s->qp ? 0 : -1;
}

static int gone(int ret, const struct dev *d, const char *verb,
		const char *what)
{
	if (!ret)
		return 0;
	printf("FAIL teardown: %s %s: %s(%s): %s\n", d->tag, d->name, verb,
	       what, why(ret));
	return 1;
}

/* Destroy both QPs of the after-check, then the rest of each side. */
static int ac_close(struct ac_side *t, struct ac_side *p)
{
	struct ac_side *s[2] = { t, p };
	int bad = 0, i;

	for (i = 0; i < 2; i++)
		if (s[i]->qp)
			bad += gone(ibv_destroy_qp(s[i]->qp), s[i]->d,
				    "ibv_destroy_qp", "after");
	for (i = 0; i < 2; i++) {
		if (s[i]->mr)
			bad += gone(ibv_dereg_mr(s[i]->mr), s[i]->d,
				    "ibv_dereg_mr", "after");
		if (s[i]->cq)
			bad += gone(ibv_destroy_cq(s[i]->cq), s[i]->d,
				    "ibv_destroy_cq", "after");
		if (s[i]->pd)
			bad += gone(ibv_dealloc_pd(s[i]->pd), s[i]->d,
				    "ibv_dealloc_pd", "after");
		unmap_anon(s[i]->buf, AC_LEN);
	}
	return bad;
}

static int ac_wait(struct ac_side *s, uint64_t id, const char *what,
		   struct ibv_wc *wc)
{
	enum wait_result r = await_wc(s->d, s->cq, id, wc);
	char buf[128];

	if (r == WAIT_DONE)
		return 0;
	printf("FAIL after: %s on %s: %s\n", what, s->d->tag,
	       wait_failure(r, wc, buf, sizeof(buf)));
	return -1;
}

static int ac_post_failed(const struct ac_side *s, const char *verb,
			  const char *what, int ret)
{
	fprintf(stderr, "%s %s: %s(after): %s\n", s->d->tag, s->d->name, verb,
		why(ret));
	printf("FAIL after: %s: %s on %s refused it\n", what, verb, s->d->tag);
	return -1;
}

/* 1 MiB from requester @x to or (READ) from responder @y, byte for byte. */
static int ac_xfer(struct ac_side *x, struct ac_side *y,
		   enum ibv_wr_opcode opcode)
{
	bool is_read = opcode == IBV_WR_RDMA_READ;
	unsigned char *src = (is_read ? y->buf : x->buf) + AC_SRC;
	unsigned char *dst = (is_read ? x->buf : y->buf) + AC_DST;
	struct op o = {
		.opcode = opcode, .local = is_read ? dst : src, .len = AC_MSG,
		.lkey = x->mr->lkey, .remote = (uintptr_t)(is_read ? src : dst),
		.rkey = y->mr->rkey,
	};
	uint64_t id = next_wr_id++, rid = next_wr_id++;
	struct ibv_wc wc;
	char what[32];
	size_t i;
	int ret;

	snprintf(what, sizeof(what), "%s %s %s %s",
		 is_read ? "READ" : opcode == IBV_WR_SEND ? "SEND" : "WRITE",
		 x->d->tag, is_read ? "<-" : "->", y->d->tag);
	fill_random(src, AC_MSG, &data_rng);
	memset(dst, 0, AC_MSG);
	if (opcode == IBV_WR_SEND) {
		ret = post_recv1(y->qp, dst, AC_MSG, y->mr->lkey, rid);
		if (ret)
			return ac_post_failed(y, "ibv_post_recv", what, ret);
	}
	ret = post_send1(x->qp, &o, id);
	if (ret)
		return ac_post_failed(x, "ibv_post_send", what, ret);
	if (ac_wait(x, id, what, &wc))
		return -1;
	if (opcode == IBV_WR_SEND) {
		if (ac_wait(y, rid, what, &wc))
			return -1;
		if (wc.byte_len != AC_MSG) {
			printf("FAIL after: %s: received %u bytes, sent %lu\n",
			       what, wc.byte_len, AC_MSG);
			return -1;
		}
	}
	i = first_diff(dst, src, AC_MSG);
	if (i < AC_MSG) {
		printf("FAIL after: %s: byte %zu of %lu is 0x%02x, expected 0x%02x\n",
		       what, i, AC_MSG, dst[i], src[i]);
		return -1;
	}
	return 0;
}

/* One compare-and-swap of requester @x on a word of responder @y. */
static int ac_cas(struct ac_side *x, struct ac_side *y)
{
	unsigned char *word = y->buf + AC_WORD, *fetched = x->buf + AC_WORD;
	struct op o = {
		.opcode = IBV_WR_ATOMIC_CMP_AND_SWP, .local = fetched, .len = 8,
		.lkey = x->mr->lkey, .remote = (uintptr_t)word,
		.rkey = y->mr->rkey,
	};
	uint64_t id = next_wr_id++, old, swap, got, now;
	struct ibv_wc wc;
	char what[32];
	int ret;

	snprintf(what, sizeof(what), "CMP_AND_SWP %s -> %s", x->d->tag,
		 y->d->tag);
	fill_random((unsigned char *)&old, sizeof(old), &data_rng);
	fill_random((unsigned char *)&swap, sizeof(swap), &data_rng);
	o.compare_add = old;
	o.swap = swap;
	memcpy(word, &old, sizeof(old));
	got = ~old;
	memcpy(fetched, &got, sizeof(got));
	ret = post_send1(x->qp, &o, id);
	if (ret)
		return ac_post_failed(x, "ibv_post_send", what, ret);
	if (ac_wait(x, id, what, &wc))
		return -1;
	memcpy(&got, fetched, sizeof(got));
	memcpy(&now, word, sizeof(now));
	if (got != old || now != swap) {
		printf("FAIL after: %s: fetched 0x%016" PRIx64 " (expected 0x%016"
		       PRIx64 "), memory 0x%016" PRIx64 " (expected 0x%016" PRIx64 ")\n",
		       what, got, old, now, swap);
		return -1;
	}
	return 0;
}

/*
 * after_check - a new RC pair (new PDs, CQs, MRs) between T and P; WRITE,
 * READ and SEND of 1 MiB with T as requester and as responder, and a
 * compare-and-swap each way. 0 if T still transfers byte-exact.
 */
static int after_check(void)
{
	struct ac_side t = { .d = &T }, p = { .d = &P };
	bool ok;

	if (ac_open(&t) || ac_open(&p) ||
	    bring_up(&T, "after", t.qp, &P, p.qp->qp_num, 0x5a5a5, 0xa5a5a,
		     IBV_QPS_RTS) ||
	    bring_up(&P, "after", p.qp, &T, t.qp->qp_num, 0xa5a5a, 0x5a5a5,
		     IBV_QPS_RTS)) {
		printf("FAIL after: cannot create and connect a new RC pair (see stderr)\n");
		ok = false;
	} else {
		ok = !ac_xfer(&t, &p, IBV_WR_RDMA_WRITE) &&
		     !ac_xfer(&t, &p, IBV_WR_RDMA_READ) &&
		     !ac_xfer(&t, &p, IBV_WR_SEND) &&
		     !ac_xfer(&p, &t, IBV_WR_RDMA_WRITE) &&
		     !ac_xfer(&p, &t, IBV_WR_RDMA_READ) &&
		     !ac_xfer(&p, &t, IBV_WR_SEND) &&
		     !ac_cas(&t, &p) && !ac_cas(&p, &t);
		if (ok)
			printf("after: T still transfers byte-exact\n");
	}
	return ac_close(&t, &p) || !ok ? -1 : 0;
}

/* Destroy every verbs object of the set-up, QPs before the MRs they use. */
static int teardown(void)
{
	struct ibv_cq *cqs[4] = { cq_tflow, cq_tstat, cq_pflow, cq_pstat };
	const char *cq_names[4] = { "flow", "targets", "flow", "targets" };
	int bad = 0, k;

	for (k = 0; k < NR_QPS; k++) {
		if (qps[k].qp)
			bad += gone(ibv_destroy_qp(qps[k].qp), &T,
				    "ibv_destroy_qp", qps[k].name);
		if (qps[k].peer)
			bad += gone(ibv_destroy_qp(qps[k].peer), &P,
				    "ibv_destroy_qp", qps[k].name);
		qps[k].qp = qps[k].peer = NULL;
	}
	for (k = 0; k < NR_MRS; k++)
		if (mrs[k].mr)
			bad += gone(ibv_dereg_mr(mrs[k].mr), &T, "ibv_dereg_mr",
				    mrs[k].name);
	if (stale_mr)
		bad += gone(ibv_dereg_mr(stale_mr), &T, "ibv_dereg_mr", "stale");
	if (rx_mr)
		bad += gone(ibv_dereg_mr(rx_mr), &T, "ibv_dereg_mr", "receives");
	if (tflow_mr)
		bad += gone(ibv_dereg_mr(tflow_mr), &T, "ibv_dereg_mr", "flow");
	if (pflow_mr)
		bad += gone(ibv_dereg_mr(pflow_mr), &P, "ibv_dereg_mr", "flow");
	for (k = 0; k < 4; k++)
		if (cqs[k])
			bad += gone(ibv_destroy_cq(cqs[k]), k < 2 ? &T : &P,
				    "ibv_destroy_cq", cq_names[k]);
	if (pd_a)
		bad += gone(ibv_dealloc_pd(pd_a), &T, "ibv_dealloc_pd", "A");
	if (pd_b)
		bad += gone(ibv_dealloc_pd(pd_b), &T, "ibv_dealloc_pd", "B");
	if (pd_p)
		bad += gone(ibv_dealloc_pd(pd_p), &P, "ibv_dealloc_pd", "peer");
	if (T.ctx)
		bad += gone(ibv_close_device(T.ctx), &T, "ibv_close_device", "");
	if (P.ctx)
		bad += gone(ibv_close_device(P.ctx), &P, "ibv_close_device", "");
	return bad;
}

static void free_memory(void)
{
	if (region)
		free_backed(backing, region, REGION_LEN, 0);
	free(saved);
	unmap_anon(rx_buf, RX_LEN);
	unmap_anon(tflow_buf, FT_LEN);
	unmap_anon(pflow_buf, FP_LEN);
}

static int install_signals(long seconds)
{
	struct sigaction sa = { .sa_handler = on_stop };
	int n;

	if (sigemptyset(&sa.sa_mask) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGINT, &sa, NULL)) {
		perror("sigaction");
		return -1;
	}
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL)) {
		perror("sigaction(SIGALRM)");
		return -1;
	}
	n = snprintf(alarm_msg, sizeof(alarm_msg),
		     "FAIL time: the hard limit of %ld s ran out\n", seconds);
	alarm_len = n > 0 && n < (int)sizeof(alarm_msg) ? (size_t)n : 0;
	alarm(seconds);
	return 0;
}

int main(int argc, char **argv)
{
	long seconds = 300, v, reserve;
	bool backing_set = false;
	const char *targets;
	int opt, status = 0;

	if (setvbuf(stdout, NULL, _IOLBF, 0))
		perror("setvbuf");
	while ((opt = getopt(argc, argv, "t:m:")) != -1) {
		switch (opt) {
		case 't':
			if (parse_long(optarg, 10, 86400, &seconds))
				goto usage;
			break;
		case 'm':
			if (parse_backing(optarg, &backing))
				return 2;
			if (backing == MEM_HUGE1G) {
				fprintf(stderr, "backing must be anon, thp or huge2m\n");
				return 2;
			}
			backing_set = true;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 5)
		goto usage;
	T.name = argv[optind];
	if (parse_long(argv[optind + 1], 0, 255, &v))
		goto usage;
	T.gid_index = v;
	P.name = argv[optind + 2];
	if (parse_long(argv[optind + 3], 0, 255, &v))
		goto usage;
	P.gid_index = v;
	targets = argv[optind + 4];
	if (snprintf(stop_path, sizeof(stop_path), "%s.stop", targets) >=
	    (int)sizeof(stop_path)) {
		fprintf(stderr, "%s: path too long\n", targets);
		return 2;
	}
	if (check_layout()) {
		fprintf(stderr, "internal error: the MRs overlap or leave too little canary\n");
		return 1;
	}
	if (install_signals(seconds))
		return 1;
	reserve = seconds * 1000 / 2 < RESERVE_MS ? seconds * 1000 / 2 :
						   RESERVE_MS;
	flow_end_ms = now_ms() + seconds * 1000 - reserve;
	if (!backing_set)
		backing = default_backing();
	if (!unlink(stop_path))
		printf("removed a leftover %s\n", stop_path);
	else if (errno != ENOENT)
		fprintf(stderr, "%s: cannot remove it: %s\n", stop_path,
			strerror(errno));

	if (setup(targets)) {
		printf("FAIL set-up (see stderr)\n");
		teardown();
		free_memory();
		return 1;
	}
	printf("ready\n");
	if (fflush(stdout))
		perror("fflush(stdout)");

	run_flow();
	printf("flow: %" PRIu64 " ops verified, %" PRIu64 " bytes verified, %"
	       PRIu64 " disturbed (%" PRIu64 " error completions, %" PRIu64
	       " mismatches), %" PRIu64 " reconnects\n",
	       flow.ops, flow.bytes, flow.errors + flow.mismatches, flow.errors,
	       flow.mismatches, flow.reconnects);
	if (flow.dead)
		printf("flow: stopped early, a reconnect failed\n");
	if (flow.stale_wcs)
		printf("flow: %" PRIu64 " completions of abandoned work requests skipped\n",
		       flow.stale_wcs);
	poll_targets();
	printf("targets: %" PRIu64 " completions and %" PRIu64 " async events on T, %"
	       PRIu64 " and %" PRIu64 " on P\n", T.wcs, T.events, P.wcs, P.events);

	if (check_canaries(""))
		status = 1;
	if (after_check())
		status = 1;
	if (teardown())
		status = 1;
	/* a late write would show now that every MR is gone */
	if (check_canaries(" (after teardown)"))
		status = 1;
	free_memory();
	return status;
usage:
	fprintf(stderr,
		"usage: %s [-t SECONDS] [-m BACKING] DEV_T GID_T DEV_P GID_P TARGETS_FILE\n",
		argv[0]);
	return 2;
}

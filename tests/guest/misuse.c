// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-misuse - verbs misuse on one device, one outcome per case.
 *
 *   arxe-misuse DEVICE GID_INDEX [CASE...]
 *   arxe-misuse --list
 *
 * Runs each case (all of them, or the ones named) on DEVICE in loopback:
 * an RC QP A connected to an RC QP B on the same device through GID
 * GID_INDEX (RoCE v2), with fresh QPs and CQs for every case, since most
 * errors leave an RC QP in the error state. For each case it prints
 *   NAME OUTCOME
 * where OUTCOME is a comma-separated list of facts that depend neither on
 * the device's keys and addresses nor on timing:
 *   ok, errno=ENAME       what a verb returned
 *   wc=IBV_WC_...         a completion's status; wc=TIMEOUT if none came
 *                         within 5 s
 *   data=ok, data=BAD     bytes compared where a transfer succeeded
 *   mem=untouched/CHANGED whether a refused access left its target as it was
 *   a-ev=, b-ev=          async events of the case's QP A or B
 *   unsupported           the device has no memory windows (ibv_alloc_mw
 *                         fails with EOPNOTSUPP) or no such ibv_qp_ex ops
 * A "tag:" prefix says which step of a case a fact belongs to. Nothing is
 * expected here: the test runs this on arxe0 and on a stock rxe0 and
 * requires the same lines. Diagnostics go to stderr. Exits 0 when every
 * case ran, 1 when the common setup failed, 2 on bad usage.
 */
#define _GNU_SOURCE		/* strerrorname_np */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <rdma/ib_user_verbs.h>
#include <infiniband/verbs.h>

#include "common.h"

#define BUF_LEN		(64u << 10)	/* B's MR and the case MRs */
#define A_LEN		(2 * BUF_LEN)	/* A's MR: larger than any target */
#define MSG		256u		/* most transfers */
#define WAIT_MS		5000		/* the bound of every wait */
#define POISON		0xee		/* what a refused access must leave */
#define KEY_FLIP	0x5a		/* turns a valid key into a wrong one */
#define OLD_WORD	0x1122334455667788ull

#define RIGHTS	(IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | \
		 IBV_ACCESS_REMOTE_ATOMIC)
#define LW	IBV_ACCESS_LOCAL_WRITE
#define RW	IBV_ACCESS_REMOTE_WRITE
#define RR	IBV_ACCESS_REMOTE_READ
#define RA	IBV_ACCESS_REMOTE_ATOMIC
#define MR_ALL	(LW | RIGHTS)
#define FLUSH_RIGHTS (IBV_ACCESS_FLUSH_GLOBAL | IBV_ACCESS_FLUSH_PERSISTENT)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NAME(x) [x] = #x

static const char *dev_name;
static struct ibv_context *ctx;
static struct ibv_pd *pd;
static union ibv_gid gid;
static int gid_index;
static enum ibv_mtu mtu;
/* A's source and sink, B's target, memory for the MRs a case registers */
static unsigned char *abuf, *bbuf, *cbuf;
static struct ibv_mr *amr, *bmr;
static unsigned int seed;
static char out[2048];

/* Both QPs of a case: A does the work, B is its target. */
struct pair {
	struct ibv_cq *cq_a, *cq_b;
	struct ibv_qp *a, *b;
	struct ibv_qp_ex *xa;	/* A as ibv_qp_ex, when made with send_ops */
};

struct pair_opts {
	unsigned int b_deny;	/* remote rights B's QP lacks */
	unsigned int b_extra;	/* rights B's QP has on top (flush) */
	uint64_t send_ops;	/* make A with ibv_create_qp_ex and these ops */
	struct ibv_pd *b_pd;	/* B's PD, the common one by default */
	int cqe;		/* A's CQ depth, 16 by default */
	int send_wr;		/* A's send queue depth, 16 by default */
	int no_rnr_retry;	/* A gives up at the first RNR NAK */
};

static const struct pair_opts dflt;

enum op { OP_WRITE, OP_READ, OP_FADD };

/* A case, and what the function it shares with others needs to know. */
struct test {
	const char *name;
	void (*fn)(const struct test *t);
	int access;		/* the access flags of the case's MR */
	int op;			/* an enum op, a QP state, a window type... */
	unsigned int arg;	/* a key's flip, a length, another access... */
	long off;		/* where in B's MR */
};

#define UNUSED __attribute__((unused))

static const char *const wc_names[] = {
	NAME(IBV_WC_SUCCESS), NAME(IBV_WC_LOC_LEN_ERR),
	NAME(IBV_WC_LOC_QP_OP_ERR), NAME(IBV_WC_LOC_EEC_OP_ERR),
	NAME(IBV_WC_LOC_PROT_ERR), NAME(IBV_WC_WR_FLUSH_ERR),
	NAME(IBV_WC_MW_BIND_ERR), NAME(IBV_WC_BAD_RESP_ERR),
	NAME(IBV_WC_LOC_ACCESS_ERR), NAME(IBV_WC_REM_INV_REQ_ERR),
	NAME(IBV_WC_REM_ACCESS_ERR), NAME(IBV_WC_REM_OP_ERR),
	NAME(IBV_WC_RETRY_EXC_ERR), NAME(IBV_WC_RNR_RETRY_EXC_ERR),
	NAME(IBV_WC_LOC_RDD_VIOL_ERR), NAME(IBV_WC_REM_INV_RD_REQ_ERR),
	NAME(IBV_WC_REM_ABORT_ERR), NAME(IBV_WC_INV_EECN_ERR),
	NAME(IBV_WC_INV_EEC_STATE_ERR), NAME(IBV_WC_FATAL_ERR),
	NAME(IBV_WC_RESP_TIMEOUT_ERR), NAME(IBV_WC_GENERAL_ERR),
	NAME(IBV_WC_TM_ERR), NAME(IBV_WC_TM_RNDV_INCOMPLETE),
};

static const char *const ev_names[] = {
	NAME(IBV_EVENT_CQ_ERR), NAME(IBV_EVENT_QP_FATAL),
	NAME(IBV_EVENT_QP_REQ_ERR), NAME(IBV_EVENT_QP_ACCESS_ERR),
	NAME(IBV_EVENT_COMM_EST), NAME(IBV_EVENT_SQ_DRAINED),
	NAME(IBV_EVENT_PATH_MIG), NAME(IBV_EVENT_PATH_MIG_ERR),
	NAME(IBV_EVENT_DEVICE_FATAL), NAME(IBV_EVENT_PORT_ACTIVE),
	NAME(IBV_EVENT_PORT_ERR), NAME(IBV_EVENT_LID_CHANGE),
	NAME(IBV_EVENT_PKEY_CHANGE), NAME(IBV_EVENT_SM_CHANGE),
	NAME(IBV_EVENT_SRQ_ERR), NAME(IBV_EVENT_SRQ_LIMIT_REACHED),
	NAME(IBV_EVENT_QP_LAST_WQE_REACHED), NAME(IBV_EVENT_CLIENT_REREGISTER),
	NAME(IBV_EVENT_GID_CHANGE), NAME(IBV_EVENT_WQ_FATAL),
};

static const char *const qps_names[] = {
	NAME(IBV_QPS_RESET), NAME(IBV_QPS_INIT), NAME(IBV_QPS_RTR),
	NAME(IBV_QPS_RTS), NAME(IBV_QPS_SQD), NAME(IBV_QPS_SQE),
	NAME(IBV_QPS_ERR),
};

static const char *const fork_names[] = {
	NAME(IBV_FORK_DISABLED), NAME(IBV_FORK_ENABLED),
	NAME(IBV_FORK_UNNEEDED),
};

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	static char buf[24];

	if (v < n && names[v])
		return names[v];
	snprintf(buf, sizeof(buf), "#%u", v);
	return buf;
}

#define NAME_OF(table, v) name_of(table, ARRAY_SIZE(table), v)

/* The errno's symbolic name: EINVAL, not a text or a number. */
static const char *ename(int e)
{
	static char buf[16];
	const char *s = strerrorname_np(e);

	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

/* The errno of a verb that returns one, or -1 and sets errno. */
static int err_of(int ret)
{
	if (ret > 0)
		return ret;
	if (ret < 0)
		return errno ? errno : EIO;
	return 0;
}

/* Append one fact to the case's outcome. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	size_t n = strlen(out);
	va_list ap;

	if (n + 2 >= sizeof(out))
		return;
	if (n)
		out[n++] = ',';
	va_start(ap, fmt);
	vsnprintf(out + n, sizeof(out) - n, fmt, ap);
	va_end(ap);
}

/* "WHATok" or "WHATerrno=ENAME" for a verb's errno. */
static void say_rc(const char *what, int err)
{
	if (err)
		say("%serrno=%s", what, ename(err));
	else
		say("%sok", what);
}

static long long ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void fill(unsigned char *p, size_t len, unsigned int s)
{
	uint64_t state = s * 2654435761ull + 1;

	fill_random(p, len, &state);
}

static int poisoned(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}

static void say_data(const char *tag, const void *got, const void *want,
		     size_t len)
{
	say("%sdata=%s", tag, memcmp(got, want, len) ? "BAD" : "ok");
}

static void say_mem(const char *tag, const unsigned char *p, size_t len)
{
	say("%smem=%s", tag, poisoned(p, len) ? "untouched" : "CHANGED");
}

static uint64_t word_at(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * take_wc - one completion of @cq within WAIT_MS. Returns its status, or -1
 * when none came; says it as "TAGwc=NAME" (or "TAGwc=TIMEOUT").
 */
static int take_wc(const char *tag, struct ibv_cq *cq, struct ibv_wc *wc_out)
{
	long long end = ms_now() + WAIT_MS;
	struct ibv_wc wc;
	int n;

	do {
		n = ibv_poll_cq(cq, 1, &wc);
		if (n > 0) {
			say("%swc=%s", tag, NAME_OF(wc_names, wc.status));
			if (wc_out)
				*wc_out = wc;
			return wc.status;
		}
		if (n < 0)
			break;
		usleep(100);
	} while (ms_now() < end);
	say("%swc=TIMEOUT", tag);
	return -1;
}

static int qp_event(enum ibv_event_type t)
{
	switch (t) {
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
	case IBV_EVENT_COMM_EST:
	case IBV_EVENT_SQ_DRAINED:
	case IBV_EVENT_PATH_MIG:
	case IBV_EVENT_PATH_MIG_ERR:
	case IBV_EVENT_QP_LAST_WQE_REACHED:
		return 1;
	default:
		return 0;
	}
}

/*
 * take_events - say the async events pending now for @p's QPs and CQs, and
 * ack every pending event (others only go to stderr). An rxe responder
 * raises its QP's event before it sends the NAK, so once A has its error
 * completion, B's event is already queued: no wait is needed.
 */
static void take_events(struct pair *p)
{
	struct pollfd pfd = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;
	const char *who;

	while (poll(&pfd, 1, 0) > 0 && !ibv_get_async_event(ctx, &ev)) {
		who = NULL;
		if (p && qp_event(ev.event_type))
			who = ev.element.qp == p->a ? "a" :
			      ev.element.qp == p->b ? "b" : NULL;
		else if (p && ev.event_type == IBV_EVENT_CQ_ERR)
			who = ev.element.cq == p->cq_a ? "a-cq" :
			      ev.element.cq == p->cq_b ? "b-cq" : NULL;
		if (who)
			say("%s-ev=%s", who, NAME_OF(ev_names, ev.event_type));
		else
			fprintf(stderr, "async event %s outside the case's QPs\n",
				NAME_OF(ev_names, ev.event_type));
		ibv_ack_async_event(&ev);
	}
}

static struct ibv_qp *new_qp(struct ibv_pd *qpd, struct ibv_cq *cq,
			     int send_wr, uint64_t ops)
{
	struct ibv_qp_init_attr init = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = send_wr, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_init_attr_ex x = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = init.cap, .pd = qpd, .send_ops_flags = ops,
		.comp_mask = IBV_QP_INIT_ATTR_PD |
			     IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
	};

	if (!ops)
		return ibv_create_qp(qpd, &init);
	return ibv_create_qp_ex(ctx, &x);
}

static void pair_free(struct pair *p)
{
	if (p->b && ibv_destroy_qp(p->b))
		perror("ibv_destroy_qp(B)");
	if (p->a && ibv_destroy_qp(p->a))
		perror("ibv_destroy_qp(A)");
	if (p->cq_b && ibv_destroy_cq(p->cq_b))
		perror("ibv_destroy_cq(B)");
	if (p->cq_a && ibv_destroy_cq(p->cq_a))
		perror("ibv_destroy_cq(A)");
	memset(p, 0, sizeof(*p));
}

/* The case's QPs' events, then the QPs and CQs go. */
static void pair_close(struct pair *p)
{
	take_events(p);
	pair_free(p);
}

/* CQs and both QPs, in RESET. Returns 0 or an errno. */
static int pair_open(struct pair *p, const struct pair_opts *o)
{
	int err;

	memset(p, 0, sizeof(*p));
	errno = 0;
	p->cq_a = ibv_create_cq(ctx, o->cqe ? o->cqe : 16, NULL, NULL, 0);
	if (p->cq_a)
		p->cq_b = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	if (p->cq_b)
		p->a = new_qp(pd, p->cq_a, o->send_wr ? o->send_wr : 16,
			      o->send_ops);
	if (p->a)
		p->b = new_qp(o->b_pd ? o->b_pd : pd, p->cq_b, 16, 0);
	if (!p->b) {
		err = errno ? errno : EIO;
		pair_free(p);
		return err;
	}
	if (o->send_ops)
		p->xa = ibv_qp_to_qp_ex(p->a);
	return 0;
}

static int qp_init(struct ibv_qp *qp, unsigned int rights)
{
	return err_of(rc_to_init(qp, rights));
}

/* RTR towards QP number @dest on this device (RoCE v2: a GRH to our GID). */
static int qp_rtr(struct ibv_qp *qp, uint32_t dest)
{
	return err_of(rc_to_rtr(qp, mtu, dest, &gid, gid_index, 0));
}

static int qp_rts(struct ibv_qp *qp, int rnr_retry)
{
	return err_of(rc_to_rts(qp, rnr_retry, 0));
}

static int pair_connect(struct pair *p, const struct pair_opts *o)
{
	unsigned int b_rights = (RIGHTS & ~o->b_deny) | o->b_extra;

	return qp_init(p->a, RIGHTS) ?: qp_init(p->b, b_rights) ?:
	       qp_rtr(p->a, p->b->qp_num) ?: qp_rtr(p->b, p->a->qp_num) ?:
	       qp_rts(p->a, o->no_rnr_retry ? 0 : 7) ?: qp_rts(p->b, 7);
}

/*
 * setup - a connected pair, or says why not ("unsupported" when the provider
 * refuses the ibv_qp_ex operations asked for) and returns -1.
 */
static int setup(struct pair *p, const struct pair_opts *o)
{
	int err = pair_open(p, o);

	if (!err) {
		err = pair_connect(p, o);
		if (err)
			pair_free(p);
	}
	if (!err)
		return 0;
	if (o->send_ops && err == EOPNOTSUPP)
		say("unsupported");
	else
		say("setup=errno=%s", ename(err));
	return -1;
}

/* A signaled WR of @op with @len bytes at @laddr (no SGE when 0). */
static int post(struct ibv_qp *qp, enum ibv_wr_opcode op, void *laddr,
		uint32_t len, uint32_t lkey, uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)laddr, .length = len, .lkey = lkey,
	};
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = len ? 1 : 0, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return ibv_post_send(qp, &wr, &bad);
}

/* An atomic of A on B's word at @raddr; the old value lands in abuf. */
static int post_atomic(struct ibv_qp *qp, enum ibv_wr_opcode op,
		       uint64_t raddr, uint32_t rkey, uint64_t cmp_add,
		       uint64_t swap)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)abuf, .length = 8, .lkey = amr->lkey,
	};
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	wr.wr.atomic.remote_addr = raddr;
	wr.wr.atomic.rkey = rkey;
	wr.wr.atomic.compare_add = cmp_add;
	wr.wr.atomic.swap = swap;
	return ibv_post_send(qp, &wr, &bad);
}

static int post_recv(struct ibv_qp *qp, void *addr, uint32_t len, uint32_t lkey)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)addr, .length = len, .lkey = lkey,
	};
	struct ibv_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	return ibv_post_recv(qp, &wr, &bad);
}

/* Post, then take the completion on A's CQ. */
static int a_post(struct pair *p, const char *tag, enum ibv_wr_opcode op,
		  void *laddr, uint32_t len, uint32_t lkey, uint64_t raddr,
		  uint32_t rkey)
{
	int err = post(p->a, op, laddr, len, lkey, raddr, rkey);

	if (err) {
		say("%spost=errno=%s", tag, ename(err));
		return -1;
	}
	return take_wc(tag, p->cq_a, NULL);
}

/*
 * a_op - A does @op at (@raddr, @rkey), whose bytes the CPU sees at @target
 * (loopback: B's memory is ours): an MSG-byte WRITE from abuf or READ into
 * abuf, or a fetch-and-add of 5 on the word there. Says the completion and
 * then either whether the data arrived or whether the refused access left
 * its target alone. Returns the completion status or -1.
 */
static int a_op(struct pair *p, const char *tag, enum op op, uint64_t raddr,
		uint32_t rkey, unsigned char *target)
{
	uint64_t old = OLD_WORD;
	int err, st;

	switch (op) {
	case OP_WRITE:
		fill(abuf, MSG, ++seed);
		memset(target, POISON, MSG);
		err = post(p->a, IBV_WR_RDMA_WRITE, abuf, MSG, amr->lkey, raddr,
			   rkey);
		break;
	case OP_READ:
		fill(target, MSG, ++seed);
		memset(abuf, POISON, MSG);
		err = post(p->a, IBV_WR_RDMA_READ, abuf, MSG, amr->lkey, raddr,
			   rkey);
		break;
	default:
		memcpy(target, &old, 8);
		memset(abuf, POISON, 8);
		err = post_atomic(p->a, IBV_WR_ATOMIC_FETCH_AND_ADD, raddr,
				  rkey, 5, 0);
		break;
	}
	if (err) {
		say("%spost=errno=%s", tag, ename(err));
		return -1;
	}
	st = take_wc(tag, p->cq_a, NULL);
	switch (op) {
	case OP_WRITE:
		if (st == IBV_WC_SUCCESS)
			say_data(tag, target, abuf, MSG);
		else
			say_mem(tag, target, MSG);
		break;
	case OP_READ:
		if (st == IBV_WC_SUCCESS)
			say_data(tag, abuf, target, MSG);
		else
			say_mem(tag, abuf, MSG);
		break;
	default:
		if (st == IBV_WC_SUCCESS)
			say("%sdata=%s", tag, word_at(abuf) == old &&
			    word_at(target) == old + 5 ? "ok" : "BAD");
		else
			say("%smem=%s", tag, poisoned(abuf, 8) &&
			    word_at(target) == old ? "untouched" : "CHANGED");
		break;
	}
	return st;
}

/* One a_op() on a fresh pair. */
static void one_op(const struct pair_opts *o, enum op op, uint64_t raddr,
		   uint32_t rkey, unsigned char *target)
{
	struct pair p;

	if (setup(&p, o))
		return;
	a_op(&p, "", op, raddr, rkey, target);
	pair_close(&p);
}

/* An MR of the case's own, or says why there is none. */
static struct ibv_mr *case_mr(const char *tag, void *addr, size_t len,
			      int access)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, addr, len, access);

	say_rc(tag, mr ? 0 : (errno ? errno : EIO));
	return mr;
}

static void dereg(struct ibv_mr *mr)
{
	int err = ibv_dereg_mr(mr);

	if (err)
		fprintf(stderr, "ibv_dereg_mr: %s\n", strerror(err));
}

/* ibv_wr_complete() of what A built on its ibv_qp_ex, and the completion. */
static int ex_complete(struct pair *p)
{
	int err = ibv_wr_complete(p->xa);

	if (err) {
		say("post=errno=%s", ename(err));
		return -1;
	}
	return take_wc("", p->cq_a, NULL);
}

static void ex_start(struct pair *p)
{
	ibv_wr_start(p->xa);
	p->xa->wr_id = 1;
	p->xa->wr_flags = IBV_SEND_SIGNALED;
}

/* The exit status of child @pid within WAIT_MS, or -1 (then it is killed). */
static int reap(pid_t pid)
{
	long long end = ms_now() + WAIT_MS;
	int status = 0;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (ms_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(1000);
	}
	return r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- keys, ranges, lengths ---- */

/* A's t->op at B's MR + t->off, with B's rkey xor t->arg. */
static void c_op_at(const struct test *t)
{
	unsigned char *x = bbuf + t->off;

	one_op(&dflt, t->op, (uintptr_t)x, bmr->rkey ^ t->arg, x);
}

static void c_send_bad_lkey(const struct test *t UNUSED)
{
	struct pair p;
	int err;

	if (setup(&p, &dflt))
		return;
	err = post_recv(p.b, bbuf, MSG, bmr->lkey);
	say_rc("recv=", err);
	if (!err)
		a_post(&p, "", IBV_WR_SEND, abuf, MSG, amr->lkey ^ KEY_FLIP,
		       0, 0);
	pair_close(&p);
}

/*
 * A WRITEs t->arg bytes from abuf + t->off into B's MR: an SGE that runs
 * past the end of A's MR, or a message larger than B's MR (one of the
 * port's max_msg_sz, 2 GiB, would not fit in a guest). When that fails,
 * B's MR must be as it was.
 */
static void c_write_from(const struct test *t)
{
	struct pair p;

	if (setup(&p, &dflt))
		return;
	fill(abuf, A_LEN, ++seed);
	memset(bbuf, POISON, BUF_LEN);
	if (a_post(&p, "", IBV_WR_RDMA_WRITE, abuf + t->off, t->arg, amr->lkey,
		   (uintptr_t)bbuf, bmr->rkey) != IBV_WC_SUCCESS)
		say_mem("", bbuf, BUF_LEN);
	pair_close(&p);
}

/* No SGE; C9-88: a zero-length RDMA need not carry a valid rkey. */
static void c_zero_write(const struct test *t)
{
	struct pair p;

	if (setup(&p, &dflt))
		return;
	a_post(&p, "", IBV_WR_RDMA_WRITE, abuf, 0, amr->lkey, (uintptr_t)bbuf,
	       bmr->rkey ^ t->arg);
	pair_close(&p);
}

/* A SEND of t->arg bytes into an MSG-byte RECV: both sides' completions. */
static void c_send_into(const struct test *t)
{
	struct ibv_wc wc;
	struct pair p;
	int err;

	if (setup(&p, &dflt))
		return;
	fill(abuf, t->arg, ++seed);
	memset(bbuf, POISON, MSG);
	err = post_recv(p.b, bbuf, MSG, bmr->lkey);
	say_rc("recv=", err);
	if (!err && a_post(&p, "send:", IBV_WR_SEND, abuf, t->arg, amr->lkey,
			   0, 0) >= 0 &&
	    take_wc("recv:", p.cq_b, &wc) == IBV_WC_SUCCESS) {
		say("recv:len=%u", wc.byte_len);
		say_data("recv:", bbuf, abuf, t->arg);
	}
	pair_close(&p);
}

/* No RECV posted, and A may not retry an RNR NAK. */
static void c_send_without_recv(const struct test *t UNUSED)
{
	struct pair_opts o = { .no_rnr_retry = 1 };
	struct pair p;

	if (setup(&p, &o))
		return;
	a_post(&p, "", IBV_WR_SEND, abuf, MSG, amr->lkey, 0, 0);
	pair_close(&p);
}

/* ---- access rights ---- */

/* t->op into an MR registered with t->access, B's QP lacking t->arg. */
static void c_access(const struct test *t)
{
	struct pair_opts o = { .b_deny = t->arg };
	struct ibv_mr *mr = case_mr("reg=", cbuf, BUF_LEN, t->access);

	if (!mr)
		return;
	one_op(&o, t->op, (uintptr_t)cbuf + 64, mr->rkey, cbuf + 64);
	dereg(mr);
}

/* Just the registration (remote write or atomic need local write). */
static void c_reg_only(const struct test *t)
{
	struct ibv_mr *mr = case_mr("", cbuf, 4096, t->access);

	if (mr)
		dereg(mr);
}

/*
 * A length of 2^63 (which arxe once passed to the IOMMU's allocator),
 * and one that wraps the address space: refused as ib_umem_get() refuses.
 * Run as root, so RLIMIT_MEMLOCK does not stop them first.
 */
static void c_reg_huge(const struct test *t)
{
	size_t len = t->arg ? (size_t)-4096 : (size_t)1 << 63;
	struct ibv_mr *mr = case_mr("", cbuf, len, IBV_ACCESS_LOCAL_WRITE);

	if (mr)
		dereg(mr);
}

/* ---- atomics ---- */

/* Misaligned through ibv_qp_ex, which leaves the check to the device. */
static void c_atomic_misaligned_ex(const struct test *t UNUSED)
{
	struct pair_opts o = {
		.send_ops = IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD,
	};
	unsigned char *x = bbuf + 68;
	struct pair p;

	if (setup(&p, &o))
		return;
	memset(x, POISON, 8);
	ex_start(&p);
	ibv_wr_atomic_fetch_add(p.xa, bmr->rkey, (uintptr_t)x, 5);
	ibv_wr_set_sge(p.xa, amr->lkey, (uintptr_t)abuf, 8);
	if (ex_complete(&p) != IBV_WC_SUCCESS)
		say_mem("", x, 8);
	pair_close(&p);
}

/* A compare-and-swap that hits, then one that misses. */
static void c_cmp_swap_ok(const struct test *t UNUSED)
{
	uint64_t old = OLD_WORD;
	unsigned char *x = bbuf + 64;
	struct pair p;
	int err;

	if (setup(&p, &dflt))
		return;
	memcpy(x, &old, 8);
	err = post_atomic(p.a, IBV_WR_ATOMIC_CMP_AND_SWP, (uintptr_t)x,
			  bmr->rkey, old, ~old);
	say_rc("hit:post=", err);
	if (!err && take_wc("hit:", p.cq_a, NULL) == IBV_WC_SUCCESS)
		say("hit:data=%s", word_at(abuf) == old && word_at(x) == ~old ?
		    "ok" : "BAD");
	err = post_atomic(p.a, IBV_WR_ATOMIC_CMP_AND_SWP, (uintptr_t)x,
			  bmr->rkey, old, 7);
	say_rc("miss:post=", err);
	if (!err && take_wc("miss:", p.cq_a, NULL) == IBV_WC_SUCCESS)
		say("miss:data=%s", word_at(abuf) == ~old &&
		    word_at(x) == ~old ? "ok" : "BAD");
	pair_close(&p);
}

/* ---- lifecycle ---- */

/* Deregister an MR, then WRITE with the rkey it had. */
static void c_dereg_mr_in_use(const struct test *t UNUSED)
{
	struct ibv_mr *mr = case_mr("reg=", cbuf, BUF_LEN, MR_ALL);
	uint32_t rkey;

	if (!mr)
		return;
	rkey = mr->rkey;
	say_rc("dereg=", ibv_dereg_mr(mr));
	one_op(&dflt, OP_WRITE, (uintptr_t)cbuf, rkey, cbuf);
}

static void c_dealloc_pd_with_mr(const struct test *t UNUSED)
{
	struct ibv_pd *pd2 = ibv_alloc_pd(ctx);
	struct ibv_mr *mr = pd2 ? ibv_reg_mr(pd2, cbuf, BUF_LEN, MR_ALL) : NULL;
	int err;

	if (!mr) {
		say("setup=errno=%s", ename(errno));
		if (pd2)
			ibv_dealloc_pd(pd2);
		return;
	}
	err = ibv_dealloc_pd(pd2);
	say_rc("", err);
	if (err) {
		/* refused: both still exist, so they go in the right order */
		dereg(mr);
		say_rc("then=", ibv_dealloc_pd(pd2));
	} else {
		say_rc("then=", ibv_dereg_mr(mr));
	}
}

static void c_destroy_cq_with_qp(const struct test *t UNUSED)
{
	struct ibv_cq *cq = ibv_create_cq(ctx, 4, NULL, NULL, 0);
	struct ibv_qp *qp = cq ? new_qp(pd, cq, 4, 0) : NULL;
	int err;

	if (!qp) {
		say("setup=errno=%s", ename(errno));
		if (cq)
			ibv_destroy_cq(cq);
		return;
	}
	err = ibv_destroy_cq(cq);
	say_rc("", err);
	say_rc("then=", ibv_destroy_qp(qp));
	if (err)
		say_rc("then=", ibv_destroy_cq(cq));
}

/* ---- memory windows ---- */

struct mw_env {
	struct pair p;
	struct ibv_mr *mr;	/* over cbuf, windows may bind it */
	struct ibv_mw *mw;
	uint32_t rkey;		/* the window's rkey after the last bind */
};

/*
 * The window goes first: a bound type 2 window holds B's QP, and destroying
 * a QP that something holds makes rxe wait and warn.
 */
static void mw_close(struct mw_env *e)
{
	int err;

	if (e->mw && (err = ibv_dealloc_mw(e->mw)))
		fprintf(stderr, "ibv_dealloc_mw: %s\n", strerror(err));
	if (e->p.a)
		pair_close(&e->p);
	if (e->mr)
		dereg(e->mr);
}

/* A window of @type, the MR and a pair; "unsupported" without windows. */
static int mw_open(struct mw_env *e, enum ibv_mw_type type)
{
	memset(e, 0, sizeof(*e));
	e->mw = ibv_alloc_mw(pd, type);
	if (!e->mw) {
		if (errno == EOPNOTSUPP)
			say("unsupported");
		else
			say("alloc_mw=errno=%s", ename(errno));
		return -1;
	}
	e->mr = ibv_reg_mr(pd, cbuf, BUF_LEN,
			   LW | RW | RR | IBV_ACCESS_MW_BIND);
	if (!e->mr)
		say("setup=errno=%s", ename(errno));
	else if (!setup(&e->p, &dflt))
		return 0;
	mw_close(e);
	return -1;
}

/*
 * mw_bind - B binds the window to @len bytes at @addr of the MR: type 1
 * through ibv_bind_mw(), type 2 with an IBV_WR_BIND_MW (a type 2 window
 * serves only the QP that bound it, so B binds what A is to use). Says the
 * completion; the window's new rkey goes to e->rkey.
 */
static int mw_bind(struct mw_env *e, const char *tag, void *addr, size_t len)
{
	struct ibv_mw_bind_info info = {
		.mr = e->mr, .addr = (uintptr_t)addr, .length = len,
		.mw_access_flags = RW | RR,
	};
	struct ibv_mw_bind b = {
		.wr_id = 1, .send_flags = IBV_SEND_SIGNALED, .bind_info = info,
	};
	struct ibv_send_wr wr = {
		.wr_id = 1, .opcode = IBV_WR_BIND_MW,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int err;

	if (e->mw->type == IBV_MW_TYPE_1) {
		err = ibv_bind_mw(e->p.b, e->mw, &b);
		e->rkey = e->mw->rkey;
	} else {
		wr.bind_mw.mw = e->mw;
		wr.bind_mw.rkey = ibv_inc_rkey(e->mw->rkey);
		wr.bind_mw.bind_info = info;
		err = ibv_post_send(e->p.b, &wr, &bad);
		e->rkey = wr.bind_mw.rkey;
	}
	if (err) {
		say("%spost=errno=%s", tag, ename(err));
		return -1;
	}
	return take_wc(tag, e->p.cq_b, NULL);
}

/* A window of type t->op over 8 KiB, A WRITEs through it. */
static void c_mw_use(const struct test *t)
{
	unsigned char *x = cbuf + 4096;
	struct mw_env e;

	if (mw_open(&e, t->op))
		return;
	if (mw_bind(&e, "bind:", x, 8192) == IBV_WC_SUCCESS)
		a_op(&e.p, "write:", OP_WRITE, (uintptr_t)x + 100, e.rkey,
		     x + 100);
	mw_close(&e);
}

static void c_mw_beyond(const struct test *t)
{
	struct mw_env e;

	if (mw_open(&e, t->op))
		return;
	mw_bind(&e, "bind:", cbuf + BUF_LEN - 100, 4096);
	mw_close(&e);
}

/* Unbinding a type 1 window is binding it to zero bytes. */
static void c_mw1_unbind(const struct test *t UNUSED)
{
	unsigned char *x = cbuf + 4096;
	struct mw_env e;
	uint32_t rkey;

	if (mw_open(&e, IBV_MW_TYPE_1))
		return;
	if (mw_bind(&e, "bind:", x, 8192) == IBV_WC_SUCCESS &&
	    a_op(&e.p, "write:", OP_WRITE, (uintptr_t)x, e.rkey, x) ==
	    IBV_WC_SUCCESS) {
		rkey = e.rkey;
		if (mw_bind(&e, "unbind:", x, 0) == IBV_WC_SUCCESS)
			a_op(&e.p, "after:", OP_WRITE, (uintptr_t)x, rkey, x);
	}
	mw_close(&e);
}

/* B invalidates its type 2 window with a LOCAL_INV, then A uses it. */
static void c_mw2_invalidate(const struct test *t UNUSED)
{
	struct ibv_send_wr wr = {
		.wr_id = 2, .opcode = IBV_WR_LOCAL_INV,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	unsigned char *x = cbuf + 4096;
	struct mw_env e;
	int err;

	if (mw_open(&e, IBV_MW_TYPE_2))
		return;
	if (mw_bind(&e, "bind:", x, 8192) == IBV_WC_SUCCESS) {
		wr.invalidate_rkey = e.rkey;
		err = ibv_post_send(e.p.b, &wr, &bad);
		say_rc("inv:post=", err);
		if (!err && take_wc("inv:", e.p.cq_b, NULL) == IBV_WC_SUCCESS)
			a_op(&e.p, "write:", OP_WRITE, (uintptr_t)x, e.rkey, x);
	}
	mw_close(&e);
}

/* A's SEND_WITH_INV invalidates B's type 2 window, then A uses it. */
static void c_mw2_send_inv(const struct test *t UNUSED)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)abuf, .length = MSG, .lkey = amr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = 3, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND_WITH_INV, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	unsigned char *x = cbuf + 4096;
	struct mw_env e;
	struct ibv_wc wc;
	int err;

	if (mw_open(&e, IBV_MW_TYPE_2))
		return;
	if (mw_bind(&e, "bind:", x, 8192) != IBV_WC_SUCCESS)
		goto out;
	err = post_recv(e.p.b, bbuf, MSG, bmr->lkey);
	if (!err) {
		wr.invalidate_rkey = e.rkey;
		err = ibv_post_send(e.p.a, &wr, &bad);
	}
	say_rc("send:post=", err);
	if (err)
		goto out;
	take_wc("send:", e.p.cq_a, NULL);
	if (take_wc("recv:", e.p.cq_b, &wc) == IBV_WC_SUCCESS)
		say("recv:inv=%s", !(wc.wc_flags & IBV_WC_WITH_INV) ? "none" :
		    wc.invalidated_rkey == e.rkey ? "rkey" : "other");
	a_op(&e.p, "write:", OP_WRITE, (uintptr_t)x, e.rkey, x);
out:
	mw_close(&e);
}

/* May an MR go while a type 2 window is bound to it? */
static void c_dereg_mr_bound_to_mw(const struct test *t UNUSED)
{
	struct mw_env e;
	int err;

	if (mw_open(&e, IBV_MW_TYPE_2))
		return;
	if (mw_bind(&e, "bind:", cbuf + 4096, 8192) == IBV_WC_SUCCESS) {
		err = ibv_dereg_mr(e.mr);
		say_rc("dereg=", err);
		if (!err)
			e.mr = NULL;
		if ((err = ibv_dealloc_mw(e.mw)))
			fprintf(stderr, "ibv_dealloc_mw: %s\n", strerror(err));
		e.mw = NULL;
		if (e.mr)
			say_rc("then=", ibv_dereg_mr(e.mr));
		e.mr = NULL;
	}
	mw_close(&e);
}

/* ---- QP states ---- */

/* A and B taken to state t->op only; A posts a SEND, or B a RECV (arg). */
static void c_post_in_state(const struct test *t)
{
	struct pair p;
	int err = pair_open(&p, &dflt);

	if (!err && t->op >= IBV_QPS_INIT)
		err = qp_init(p.a, RIGHTS) ?: qp_init(p.b, RIGHTS);
	if (!err && t->op >= IBV_QPS_RTR)
		err = qp_rtr(p.a, p.b->qp_num) ?: qp_rtr(p.b, p.a->qp_num);
	if (err)
		say("setup=errno=%s", ename(err));
	else if (t->arg)
		say_rc("", post_recv(p.b, bbuf, MSG, bmr->lkey));
	else
		say_rc("", post(p.a, IBV_WR_SEND, abuf, MSG, amr->lkey, 0, 0));
	pair_close(&p);
}

static void c_post_send_in_error(const struct test *t UNUSED)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct pair p;

	if (setup(&p, &dflt))
		return;
	say_rc("modify=", err_of(ibv_modify_qp(p.a, &a, IBV_QP_STATE)));
	a_post(&p, "", IBV_WR_SEND, abuf, MSG, amr->lkey, 0, 0);
	pair_close(&p);
}

static void c_modify_rts_from_reset(const struct test *t UNUSED)
{
	struct pair p;
	int err = pair_open(&p, &dflt);

	if (err)
		say("setup=errno=%s", ename(err));
	else
		say_rc("", qp_rts(p.a, 7));
	pair_close(&p);
}

/* ---- CQ overflow ---- */

/* CQ_ERR events of @cq until @want came or WAIT_MS passed; acks all. */
static int cq_errors(struct ibv_cq *cq, int want)
{
	struct pollfd pfd = { .fd = ctx->async_fd, .events = POLLIN };
	long long end = ms_now() + WAIT_MS, left;
	struct ibv_async_event ev;
	int n = 0;

	while (n < want && (left = end - ms_now()) > 0) {
		if (poll(&pfd, 1, left) <= 0 || ibv_get_async_event(ctx, &ev))
			continue;
		if (ev.event_type == IBV_EVENT_CQ_ERR && ev.element.cq == cq)
			n++;
		else
			fprintf(stderr, "async event %s during cq-overflow\n",
				NAME_OF(ev_names, ev.event_type));
		ibv_ack_async_event(&ev);
	}
	return n;
}

/*
 * Five signaled WRITEs more than A's CQ holds, in one chain, and no poll
 * until the device dropped a completion for each one too many (rxe raises
 * a CQ_ERR event per drop and goes on). Says how many completions the CQ
 * kept (against its depth: the depth a device rounds 2 up to is its own
 * business), whether each drop had its event, A's state, and whether a
 * WRITE still completes afterwards.
 */
static void c_cq_overflow(const struct test *t UNUSED)
{
	struct pair_opts o = { .cqe = 2, .send_wr = 64 };
	struct ibv_send_wr wr[64], *bad;
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr attr;
	struct ibv_sge sge[64];
	struct ibv_wc wc[64];
	int n, i, got, drops, err;
	struct pair p;

	if (setup(&p, &o))
		return;
	n = p.cq_a->cqe + 5;
	if (n > 64) {
		say("cq=deeper-than-59");
		goto out;
	}
	memset(wr, 0, sizeof(wr));
	for (i = 0; i < n; i++) {
		sge[i].addr = (uintptr_t)abuf + 8 * i;
		sge[i].length = 8;
		sge[i].lkey = amr->lkey;
		wr[i].wr_id = i;
		wr[i].next = i + 1 < n ? &wr[i + 1] : NULL;
		wr[i].sg_list = &sge[i];
		wr[i].num_sge = 1;
		wr[i].opcode = IBV_WR_RDMA_WRITE;
		wr[i].send_flags = IBV_SEND_SIGNALED;
		wr[i].wr.rdma.remote_addr = (uintptr_t)bbuf + 8 * i;
		wr[i].wr.rdma.rkey = bmr->rkey;
	}
	err = ibv_post_send(p.a, wr, &bad);
	say_rc("post=", err);
	if (err)
		goto out;
	drops = n - p.cq_a->cqe;
	i = cq_errors(p.cq_a, drops);
	say("cq-ev=%s", i == drops ? "one-per-drop" : i ? "some" : "none");
	got = ibv_poll_cq(p.cq_a, n, wc);
	say("polled=%s", got == n ? "all" : got == p.cq_a->cqe ? "depth" :
	    "other");
	for (i = 0; i < got && wc[i].status == IBV_WC_SUCCESS; i++)
		;
	if (i < got)
		say("polled-wc=%s", NAME_OF(wc_names, wc[i].status));
	if (!ibv_query_qp(p.a, &attr, IBV_QP_STATE, &init))
		say("a-state=%s", NAME_OF(qps_names, attr.qp_state));
	a_op(&p, "after:", OP_WRITE, (uintptr_t)bbuf + 4096, bmr->rkey,
	     bbuf + 4096);
out:
	pair_close(&p);
}

/* ---- memlock, fork ---- */

/*
 * In a child: RLIMIT_MEMLOCK of 64 KiB and no CAP_IPC_LOCK (which lets
 * root pin past the limit), then a context of its own (opened after the
 * drop: uverbs refuses commands from other credentials than the opener's)
 * registers 1 MiB. Returns the errno of ibv_reg_mr (0: it registered), or
 * 1000 + errno when a step before failed.
 */
static int memlock_child(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 64 << 10 };
	unsigned int i = CAP_TO_INDEX(CAP_IPC_LOCK);
	uint32_t bit = CAP_TO_MASK(CAP_IPC_LOCK);
	struct ibv_context *c;
	struct ibv_pd *cpd;
	unsigned char *buf;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || syscall(SYS_capget, &h, d))
		return 1000 + errno;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		return 1000 + errno;
	c = open_device(dev_name);
	cpd = c ? ibv_alloc_pd(c) : NULL;
	buf = alloc_backed(MEM_ANON, 1 << 20, 0);
	if (!cpd || !buf)
		return 1000 + ENODEV;
	return ibv_reg_mr(cpd, buf, 1 << 20, LW) ? 0 : errno;
}

static void c_reg_over_memlock(const struct test *t UNUSED)
{
	struct pollfd pfd;
	int fds[2], r = -1;
	pid_t pid;

	if (pipe(fds)) {
		say("setup=errno=%s", ename(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(fds[0]);
		r = memlock_child();
		_exit(write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r));
	}
	if (pid < 0)
		r = 1000 + errno;
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	if (pid > 0 && (poll(&pfd, 1, WAIT_MS) <= 0 ||
			read(fds[0], &r, sizeof(r)) != (ssize_t)sizeof(r)))
		r = -1;
	close(fds[0]);
	if (pid > 0)
		reap(pid);
	if (r < 0)
		say("child=lost");
	else if (r >= 1000)
		say("setup=errno=%s", ename(r - 1000));
	else
		say_rc("", r);
}

/*
 * Fork with an MR registered: the parent writes its buffer while the child
 * still shares it, and RDMA WRITEs into the MR must land in the parent's
 * pages; then the child writes its copy and exits, and the parent's buffer
 * must not show it; WRITE and READ through the MR still work.
 */
static void c_fork_registered_memory(const struct test *t UNUSED)
{
	unsigned char *buf = alloc_backed(MEM_ANON, BUF_LEN, 0);
	unsigned char *want = malloc(BUF_LEN), go = 1;
	struct ibv_mr *mr = NULL;
	int fds[2] = { -1, -1 };
	struct pollfd pfd;
	struct pair p;
	pid_t pid;

	say("fork=%s", NAME_OF(fork_names, ibv_is_fork_initialized()));
	if (buf && want)
		mr = ibv_reg_mr(pd, buf, BUF_LEN, MR_ALL);
	if (!mr || pipe(fds)) {
		say("setup=errno=%s", ename(errno));
		goto out;
	}
	if (setup(&p, &dflt))
		goto out;
	fill(buf, BUF_LEN, ++seed);
	fflush(NULL);
	pid = fork();
	if (!pid) {
		pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
		poll(&pfd, 1, 2 * WAIT_MS);
		memset(buf, 0x5a, BUF_LEN);
		_exit(0);
	}
	if (pid < 0) {
		say("fork=errno=%s", ename(errno));
		pair_close(&p);
		goto out;
	}
	/* the parent writes first, breaking the sharing of its first half */
	fill(buf, BUF_LEN / 2, ++seed);
	a_op(&p, "shared:", OP_WRITE, (uintptr_t)buf + 100, mr->rkey,
	     buf + 100);
	memcpy(want, buf, BUF_LEN);
	if (write(fds[1], &go, 1) != 1)
		perror("write");
	say("child=%s", reap(pid) ? "lost" : "exited");
	say_data("parent:", buf, want, BUF_LEN);
	a_op(&p, "after:", OP_WRITE, (uintptr_t)buf + BUF_LEN / 2 + 100,
	     mr->rkey, buf + BUF_LEN / 2 + 100);
	a_op(&p, "read:", OP_READ, (uintptr_t)buf + 300, mr->rkey, buf + 300);
	pair_close(&p);
out:
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
	if (mr)
		dereg(mr);
	if (buf)
		free_backed(MEM_ANON, buf, BUF_LEN, 0);
	free(want);
}

/* ---- rereg ---- */

/*
 * kernel_rereg - the uverbs REREG_MR command itself, as a provider's
 * rereg_mr would send it: rxe's provider (so libarxe) has none, and
 * libibverbs then answers EOPNOTSUPP without asking the kernel. Returns 0
 * (and takes the new keys and PD) or an errno.
 */
static int kernel_rereg(struct ibv_mr *mr, int flags, struct ibv_pd *npd,
			void *addr, size_t len, int access)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_rereg_mr cmd;
	} req;
	struct ib_uverbs_rereg_mr_resp resp;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.hdr.command = IB_USER_VERBS_CMD_REREG_MR;
	req.hdr.in_words = sizeof(req) / 4;
	req.hdr.out_words = sizeof(resp) / 4;
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.mr_handle = mr->handle;
	req.cmd.flags = flags;
	req.cmd.start = (uintptr_t)addr;
	req.cmd.hca_va = (uintptr_t)addr;
	req.cmd.length = len;
	req.cmd.pd_handle = npd ? npd->handle : 0;
	req.cmd.access_flags = access;
	if (write(mr->context->cmd_fd, &req, sizeof(req)) !=
	    (ssize_t)sizeof(req))
		return errno;
	mr->lkey = resp.lkey;
	mr->rkey = resp.rkey;
	if (npd)
		mr->pd = npd;
	return 0;
}

/*
 * rereg - ibv_rereg_mr(), and the kernel's command when libibverbs refuses
 * with EOPNOTSUPP. Says "TAGrereg=VERBS/KERNEL" (just "=ok" when the verb
 * worked). Returns 0 when the MR changed.
 */
static int rereg(const char *tag, struct ibv_mr *mr, int flags,
		 struct ibv_pd *npd, void *addr, size_t len, int access)
{
	int err;

	if (!ibv_rereg_mr(mr, flags, npd, addr, len, access)) {
		say("%srereg=ok", tag);
		return 0;
	}
	err = errno;
	if (err != EOPNOTSUPP) {
		say("%srereg=errno=%s", tag, ename(err));
		return -1;
	}
	err = kernel_rereg(mr, flags, npd, addr, len, access);
	if (err)
		say("%srereg=errno=EOPNOTSUPP/errno=%s", tag, ename(err));
	else
		say("%srereg=errno=EOPNOTSUPP/ok", tag);
	return err ? -1 : 0;
}

static const struct {
	const char *tag;
	int from, to;
	enum op op;
} access_changes[] = {
	{ "add-rw:", LW | RR, LW | RR | RW, OP_WRITE },
	{ "rw-without-lw:", LW | RR, RR | RW, OP_WRITE },
	{ "drop-rw:", LW | RW, LW, OP_WRITE },
	{ "drop-lw-keep-rr:", LW | RR, RR, OP_READ },
	{ "read-only-add-rw:", RR, LW | RR | RW, OP_WRITE },
	{ "add-atomic:", LW | RW, LW | RW | RA, OP_FADD },
};

/* Each change of access on a fresh MR, then the access it is about. */
static void c_rereg_access_each(const struct test *t UNUSED)
{
	const char *tag;
	struct ibv_mr *mr;
	struct pair p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(access_changes); i++) {
		tag = access_changes[i].tag;
		mr = ibv_reg_mr(pd, cbuf, BUF_LEN, access_changes[i].from);
		if (!mr) {
			say("%sreg=errno=%s", tag, ename(errno));
			continue;
		}
		rereg(tag, mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
		      access_changes[i].to);
		if (!setup(&p, &dflt)) {
			a_op(&p, tag, access_changes[i].op,
			     (uintptr_t)cbuf + 64, mr->rkey, cbuf + 64);
			pair_close(&p);
		}
		dereg(mr);
	}
}

/* The MR moves to another PD: B's QP in the old PD, then in the new one. */
static void c_rereg_pd(const struct test *t UNUSED)
{
	struct ibv_pd *pd2 = ibv_alloc_pd(ctx);
	struct ibv_mr *mr = pd2 ? ibv_reg_mr(pd, cbuf, BUF_LEN, MR_ALL) : NULL;
	struct pair_opts o = { .b_pd = pd2 };
	struct pair p;

	if (!mr) {
		say("setup=errno=%s", ename(errno));
		if (pd2)
			ibv_dealloc_pd(pd2);
		return;
	}
	rereg("", mr, IBV_REREG_MR_CHANGE_PD, pd2, NULL, 0, 0);
	if (!setup(&p, &dflt)) {
		a_op(&p, "old-pd:", OP_WRITE, (uintptr_t)cbuf, mr->rkey, cbuf);
		pair_close(&p);
	}
	if (!setup(&p, &o)) {
		a_op(&p, "new-pd:", OP_WRITE, (uintptr_t)cbuf, mr->rkey, cbuf);
		pair_close(&p);
	}
	dereg(mr);
	if (ibv_dealloc_pd(pd2))
		fprintf(stderr, "ibv_dealloc_pd: %s\n", strerror(errno));
}

/* The MR's first half moves to the second: then a WRITE at the first. */
static void c_rereg_translation(const struct test *t UNUSED)
{
	struct ibv_mr *mr = case_mr("reg=", cbuf, BUF_LEN / 2, MR_ALL);

	if (!mr)
		return;
	rereg("", mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, cbuf + BUF_LEN / 2,
	      BUF_LEN / 2, 0);
	one_op(&dflt, OP_WRITE, (uintptr_t)cbuf + 64, mr->rkey, cbuf + 64);
	dereg(mr);
}

/* ---- ODP, iova ---- */

/* An ODP MR over memory not touched yet; with t->arg, WRITE and READ. */
static void c_odp(const struct test *t)
{
	unsigned char *m = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ibv_mr *mr;
	struct pair p;

	if (m == MAP_FAILED) {
		say("setup=errno=%s", ename(errno));
		return;
	}
	mr = case_mr("reg=", m, BUF_LEN, LW | RW | RR | IBV_ACCESS_ON_DEMAND);
	if (mr && t->arg && !setup(&p, &dflt)) {
		a_op(&p, "write:", OP_WRITE, (uintptr_t)m + 100, mr->rkey,
		     m + 100);
		a_op(&p, "read:", OP_READ, (uintptr_t)m + 8192, mr->rkey,
		     m + 8192);
		pair_close(&p);
	}
	if (mr)
		dereg(mr);
	munmap(m, BUF_LEN);
}

/*
 * An MR over cbuf + 0x123 at iova 0x10000000 + its page offset, reached at
 * iova + 100 (t->arg 0: WRITE, then READ), just past its end (1) or at its
 * virtual address (2).
 */
static void c_iova(const struct test *t)
{
	unsigned char *base = cbuf + 0x123;
	uint64_t iova = 0x10000000 + ((uintptr_t)base & 4095);
	size_t len = BUF_LEN / 2;
	struct ibv_mr *mr = ibv_reg_mr_iova(pd, base, len, iova, MR_ALL);
	struct pair p;
	uint32_t rkey;

	say_rc("reg=", mr ? 0 : errno);
	if (!mr)
		return;
	rkey = mr->rkey;
	if (setup(&p, &dflt))
		goto out;
	if (t->arg == 0) {
		a_op(&p, "write:", OP_WRITE, iova + 100, rkey, base + 100);
		a_op(&p, "read:", OP_READ, iova + 100, rkey, base + 100);
	} else if (t->arg == 1) {
		a_op(&p, "", OP_WRITE, iova + len, rkey, base + len);
	} else {
		a_op(&p, "", OP_WRITE, (uintptr_t)base, rkey, base);
	}
	pair_close(&p);
out:
	dereg(mr);
}

/* ---- flush, atomic write ---- */

/* A flushes 128 bytes at cbuf + 64 through @mr, placement @type. */
static void flush_through(struct ibv_mr *mr, uint8_t type)
{
	struct pair_opts o = {
		.send_ops = IBV_QP_EX_WITH_FLUSH, .b_extra = FLUSH_RIGHTS,
	};
	struct pair p;

	if (setup(&p, &o))
		return;
	ex_start(&p);
	ibv_wr_flush(p.xa, mr->rkey, (uintptr_t)cbuf + 64, 128, type,
		     IBV_FLUSH_RANGE);
	ex_complete(&p);
	pair_close(&p);
}

/* An MR of access t->access (else t->arg) takes a flush of type t->op. */
static void c_flush(const struct test *t)
{
	struct ibv_mr *mr = case_mr("reg=", cbuf, BUF_LEN, t->access);

	if (!mr && t->arg)
		mr = case_mr("fallback-reg=", cbuf, BUF_LEN, t->arg);
	if (!mr)
		return;
	flush_through(mr, t->op);
	dereg(mr);
}

/* Persistence given by rereg to an MR of ordinary memory (once oopsed arxe). */
static void c_flush_after_rereg(const struct test *t UNUSED)
{
	struct ibv_mr *mr = case_mr("reg=", cbuf, BUF_LEN,
				    LW | RW | IBV_ACCESS_FLUSH_GLOBAL);

	if (!mr)
		return;
	rereg("", mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
	      LW | RW | FLUSH_RIGHTS);
	flush_through(mr, IBV_FLUSH_PERSISTENT);
	dereg(mr);
}

static void c_atomic_write(const struct test *t)
{
	struct pair_opts o = { .send_ops = IBV_QP_EX_WITH_ATOMIC_WRITE };
	unsigned char *x = bbuf + t->off;
	uint64_t v = ~OLD_WORD;
	struct pair p;

	if (setup(&p, &o))
		return;
	memset(x, POISON, 8);
	ex_start(&p);
	ibv_wr_atomic_write(p.xa, bmr->rkey, (uintptr_t)x, &v);
	if (ex_complete(&p) == IBV_WC_SUCCESS)
		say("data=%s", word_at(x) == v ? "ok" : "BAD");
	else
		say_mem("", x, 8);
	pair_close(&p);
}

#define T(n, f, ...) { .name = n, .fn = f, __VA_ARGS__ }

static const struct test tests[] = {
	/* keys, ranges, lengths */
	T("send-bad-lkey", c_send_bad_lkey),
	T("write-bad-rkey", c_op_at, .op = OP_WRITE, .arg = KEY_FLIP),
	T("read-bad-rkey", c_op_at, .op = OP_READ, .arg = KEY_FLIP),
	T("write-beyond-mr", c_op_at, .op = OP_WRITE, .off = BUF_LEN - MSG / 2),
	T("write-before-mr", c_op_at, .op = OP_WRITE, .off = -(long)MSG / 2),
	T("sge-beyond-mr", c_write_from, .arg = MSG, .off = A_LEN - MSG / 2),
	T("write-zero-length", c_zero_write),
	T("write-zero-length-bad-rkey", c_zero_write, .arg = KEY_FLIP),
	T("send-zero-length", c_send_into, .arg = 0),
	T("write-larger-than-mr", c_write_from, .arg = A_LEN),
	T("send-larger-than-recv", c_send_into, .arg = 4096),
	T("send-without-recv", c_send_without_recv),
	/* access rights: the MR's, then B's QP's */
	T("write-without-remote-write", c_access, LW | RR | RA, OP_WRITE),
	T("read-without-remote-read", c_access, LW | RW | RA, OP_READ),
	T("atomic-without-remote-atomic", c_access, LW | RW | RR, OP_FADD),
	T("qp-no-remote-write", c_access, MR_ALL, OP_WRITE, RW),
	T("qp-no-remote-read", c_access, MR_ALL, OP_READ, RR),
	T("qp-no-remote-atomic", c_access, MR_ALL, OP_FADD, RA),
	T("reg-mr-remote-write-without-local-write", c_reg_only, RW),
	T("reg-mr-remote-atomic-without-local-write", c_reg_only, RA),
	T("reg-mr-huge-length", c_reg_huge, .arg = 0),
	T("reg-mr-wrapping-length", c_reg_huge, .arg = 1),
	/* atomics */
	T("atomic-misaligned", c_op_at, .op = OP_FADD, .off = 68),
	T("atomic-misaligned-ex", c_atomic_misaligned_ex),
	T("fetch-add-ok", c_op_at, .op = OP_FADD, .off = 64),
	T("cmp-swap-ok", c_cmp_swap_ok),
	/* lifecycle */
	T("dereg-mr-in-use", c_dereg_mr_in_use),
	T("dealloc-pd-with-mr", c_dealloc_pd_with_mr),
	T("destroy-cq-with-qp", c_destroy_cq_with_qp),
	T("dereg-mr-bound-to-mw", c_dereg_mr_bound_to_mw),
	/* QP states */
	T("post-send-in-reset", c_post_in_state, .op = IBV_QPS_RESET),
	T("post-send-in-init", c_post_in_state, .op = IBV_QPS_INIT),
	T("post-send-in-rtr", c_post_in_state, .op = IBV_QPS_RTR),
	T("post-recv-in-reset", c_post_in_state, .op = IBV_QPS_RESET, .arg = 1),
	T("post-recv-in-init", c_post_in_state, .op = IBV_QPS_INIT, .arg = 1),
	T("post-send-in-error", c_post_send_in_error),
	T("modify-rts-from-reset", c_modify_rts_from_reset),
	/* CQ, memlock, fork */
	T("cq-overflow", c_cq_overflow),
	T("reg-over-memlock", c_reg_over_memlock),
	T("fork-registered-memory", c_fork_registered_memory),
	/* memory windows */
	T("mw-type1-bind-and-use", c_mw_use, .op = IBV_MW_TYPE_1),
	T("mw-type1-use-after-unbind", c_mw1_unbind),
	T("mw-type1-bind-beyond-mr", c_mw_beyond, .op = IBV_MW_TYPE_1),
	T("mw-type2-bind-use", c_mw_use, .op = IBV_MW_TYPE_2),
	T("mw-type2-invalidate-then-use", c_mw2_invalidate),
	T("mw-type2-send-with-inv", c_mw2_send_inv),
	T("mw-bind-beyond-mr", c_mw_beyond, .op = IBV_MW_TYPE_2),
	/* rereg */
	T("rereg-access-each", c_rereg_access_each),
	T("rereg-pd", c_rereg_pd),
	T("rereg-translation", c_rereg_translation),
	/* ODP, iova */
	T("odp-reg", c_odp),
	T("odp-write-read", c_odp, .arg = 1),
	T("reg-mr-iova", c_iova, .arg = 0),
	T("reg-mr-iova-beyond", c_iova, .arg = 1),
	T("reg-mr-iova-at-va", c_iova, .arg = 2),
	/* flush, atomic write */
	T("flush-global", c_flush, LW | RW | IBV_ACCESS_FLUSH_GLOBAL,
	  IBV_FLUSH_GLOBAL),
	T("flush-persistent", c_flush, LW | RW | IBV_ACCESS_FLUSH_PERSISTENT,
	  IBV_FLUSH_PERSISTENT, LW | RW | IBV_ACCESS_FLUSH_GLOBAL),
	T("flush-without-access", c_flush, LW | RW, IBV_FLUSH_GLOBAL),
	T("flush-after-rereg-persistent", c_flush_after_rereg),
	T("atomic-write", c_atomic_write, .off = 64),
	T("atomic-write-misaligned", c_atomic_write, .off = 68),
};

static const struct test *find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tests); i++)
		if (!strcmp(tests[i].name, name))
			return &tests[i];
	return NULL;
}

static void run(const struct test *t)
{
	out[0] = '\0';
	take_events(NULL);	/* nothing left over from the case before */
	t->fn(t);
	printf("%s %s\n", t->name, out[0] ? out : "none");
	fflush(stdout);
}

/* The device, its GID, a PD, the buffers and A's and B's MRs. */
static int open_common(void)
{
	struct ibv_port_attr port;
	int fl;

	ctx = open_device(dev_name);
	if (!ctx)
		return -1;
	if (ibv_query_port(ctx, 1, &port) ||
	    ibv_query_gid(ctx, 1, gid_index, &gid)) {
		fprintf(stderr, "%s: cannot query port 1 / GID %d\n", dev_name,
			gid_index);
		return -1;
	}
	mtu = port.active_mtu;
	/* async events are only ever polled for, never waited on blindly */
	fl = fcntl(ctx->async_fd, F_GETFL);
	if (fl < 0 || fcntl(ctx->async_fd, F_SETFL, fl | O_NONBLOCK)) {
		perror("fcntl(async_fd)");
		return -1;
	}
	pd = ibv_alloc_pd(ctx);
	/* 4 KiB into their mappings: what lies around a buffer is mapped */
	abuf = alloc_backed(MEM_ANON, A_LEN, 4096);
	bbuf = alloc_backed(MEM_ANON, BUF_LEN, 4096);
	cbuf = alloc_backed(MEM_ANON, BUF_LEN, 4096);
	if (!pd || !abuf || !bbuf || !cbuf) {
		fprintf(stderr, "%s: cannot allocate a PD or buffers\n",
			dev_name);
		return -1;
	}
	amr = ibv_reg_mr(pd, abuf, A_LEN, MR_ALL);
	bmr = ibv_reg_mr(pd, bbuf, BUF_LEN, MR_ALL);
	if (!amr || !bmr) {
		fprintf(stderr, "%s: ibv_reg_mr: %s\n", dev_name,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;
	int k;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < ARRAY_SIZE(tests); i++)
			puts(tests[i].name);
		return 0;
	}
	if (argc < 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s DEVICE GID_INDEX [CASE...] | --list\n",
			argv[0]);
		return 2;
	}
	for (k = 3; k < argc; k++)
		if (!find(argv[k])) {
			fprintf(stderr, "%s: no such case (see --list)\n",
				argv[k]);
			return 2;
		}
	dev_name = argv[1];
	gid_index = atoi(argv[2]);
	if (open_common())
		return 1;
	if (argc == 3)
		for (i = 0; i < ARRAY_SIZE(tests); i++)
			run(&tests[i]);
	for (k = 3; k < argc; k++)
		run(find(argv[k]));
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-hostile - a user process that writes its send queue behind the
 * provider's back, and sends the kernel commands meant for kernel objects.
 *
 *   arxe-hostile DEVICE GID_INDEX
 *
 * A user QP's send queue is a ring the process maps (rdma_user_rxe.h,
 * include/rdma/arxe-abi.h). The kernel copies each WQE out of it and
 * checks the copy; this program writes WQEs the provider never would
 * straight into the ring, then posts one ordinary WR behind each so the
 * provider rings the doorbell. Every case runs on a fresh pair of QPs on
 * DEVICE, A sending to B over the port's own GID (loopback):
 *   refused     the bad WQE completes in error, the WR behind it too
 *   normalized  fields the kernel recomputes are garbage: the WQE still
 *               succeeds and the data arrives intact
 *   indices     a producer index far past the ring: no hang, no crash
 *   commands    POLL_CQ on a user CQ and POST_RECV on a user QP fail
 * Prints one line per case and a summary; exits 0 only if all passed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <rdma/ib_user_verbs.h>
#include <rdma/rdma_user_rxe.h>

#include "common.h"

#define DEADLINE_MS	5000
#define BUF_LEN		(64 * 1024)
#define DATA_LEN	4096		/* the normalized cases' payload */
#define NORMAL_OFF	(32 * 1024)	/* where the ordinary WRs write */
#define QKEY		0x11111111
#define MAX_MAPS	64
#define POLL_NE		4

/* kernel-only work request opcodes (enum ib_wr_opcode) */
#define KWR_REG_MR		0x20
#define KWR_REG_MR_INTEGRITY	0x21
#define KWR_RESERVED1		0xf0

#ifndef IB_UVERBS_DEVICE_ATOMIC_WRITE
#define IB_UVERBS_DEVICE_ATOMIC_WRITE (1ULL << 40)
#endif

/*
 * The ring header. arxe-abi.h's struct arxe_queue_buf (not installed in
 * the guest) has exactly rxe's layout, which is what the provider maps.
 */
_Static_assert(offsetof(struct rxe_queue_buf, producer_index) == 128, "ring");
_Static_assert(offsetof(struct rxe_queue_buf, consumer_index) == 256, "ring");
_Static_assert(offsetof(struct rxe_queue_buf, data) == 384, "ring");

/*
 * The WQE union's kernel-only member for IB_WR_REG_MR (rdma_user_rxe.h
 * hides it under __KERNEL__): a struct ib_mr pointer, then key and access.
 */
struct kreg {
	__aligned_u64 mr;
	__u32 key;
	__u32 access;
};

struct mapping {
	unsigned long start, end;
};

struct ring {
	struct rxe_queue_buf *q;
	uint32_t mask;
	size_t elem;
};

struct pair {
	enum ibv_qp_type type;
	struct ibv_qp *a, *b;
	struct ibv_ah *ah;		/* UD: A's address of B */
	struct ring sq;			/* A's send queue */
	uint32_t max_sge;
	uint32_t ah_num;		/* UD: what the provider puts in a WQE */
};

/*
 * What a case does. Refused: a WQE the kernel must complete in error, and
 * the ordinary WR behind it too. Normalized: garbage in fields the kernel
 * recomputes; both succeed and the data arrives. Then the cases that put
 * no WQE of their own in the ring.
 */
enum kind {
	OPCODE, NUM_SGE_HUGE, NUM_SGE_OVER, OVER_2G, INLINE_LONG, ATOMIC_WRITE,
	UD_OPCODE, UD_NO_AH, LOCAL_INV_FREE_MW, LENGTH_MISMATCH,
	CUR_SGE, STATE,
	PRODUCER_HUGE, POLL_CQ_CMD, POST_RECV_CMD,
};

struct hcase {
	const char *name;
	enum kind kind;
	uint32_t opcode;
};

static const struct hcase cases[] = {
	{ "opcode-reg-mr", OPCODE, KWR_REG_MR },
	{ "opcode-reg-mr-integrity", OPCODE, KWR_REG_MR_INTEGRITY },
	{ "opcode-reserved", OPCODE, KWR_RESERVED1 },
	{ "opcode-huge", OPCODE, 0xffffffff },
	{ "opcode-u8-alias", OPCODE, 0x100 | KWR_REG_MR },
	/* rxe serves no masked atomics */
	{ "opcode-masked-atomic", OPCODE, IB_UVERBS_WR_MASKED_ATOMIC_CMP_AND_SWP },
	{ "num-sge-huge", NUM_SGE_HUGE, IBV_WR_SEND },
	{ "num-sge-over-max", NUM_SGE_OVER, IBV_WR_SEND },
	{ "length-over-2g", OVER_2G, IBV_WR_SEND },
	{ "inline-too-long", INLINE_LONG, IBV_WR_SEND },
	{ "atomic-write-too-long", ATOMIC_WRITE, IB_UVERBS_WR_ATOMIC_WRITE },
	{ "ud-rdma-write", UD_OPCODE, IBV_WR_RDMA_WRITE },
	{ "ud-ah-num-zero", UD_NO_AH, IBV_WR_SEND },
	{ "local-inv-free-mw", LOCAL_INV_FREE_MW, IBV_WR_LOCAL_INV },
	/* a length that is not its SGEs' sum: the kernel does not guess */
	{ "length-not-sge-sum", LENGTH_MISMATCH, IBV_WR_RDMA_WRITE },
	{ "cur-sge-huge", CUR_SGE, IBV_WR_RDMA_WRITE },
	{ "state-and-psn-garbage", STATE, IBV_WR_SEND },
	{ "producer-index-huge", PRODUCER_HUGE, 0 },
	{ "poll-cq-command", POLL_CQ_CMD, 0 },
	{ "post-recv-command", POST_RECV_CMD, 0 },
};

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct ibv_cq *cq_a, *cq_b;
static struct ibv_mr *mr_a, *mr_b;
static unsigned char *buf_a, *buf_b;
static union ibv_gid gid;
static int gid_index;
static enum ibv_mtu mtu;
static struct ibv_device_attr_ex dev;
static uint64_t next_id = 0x1000;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static int n_cases, n_failed, n_skipped;

static const char *st(enum ibv_wc_status s)
{
	switch (s) {
	case IBV_WC_SUCCESS:		return "SUCCESS";
	case IBV_WC_LOC_LEN_ERR:	return "LOC_LEN_ERR";
	case IBV_WC_LOC_QP_OP_ERR:	return "LOC_QP_OP_ERR";
	case IBV_WC_LOC_PROT_ERR:	return "LOC_PROT_ERR";
	case IBV_WC_WR_FLUSH_ERR:	return "WR_FLUSH_ERR";
	case IBV_WC_REM_ACCESS_ERR:	return "REM_ACCESS_ERR";
	default:			return ibv_wc_status_str(s);
	}
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * collect - poll @cq until each of the @n (at most 2) wr_ids in @ids has
 * completed, or DEADLINE_MS passed. wc[i] gets ids[i]'s completion;
 * *others counts those of other WRs. Returns how many of @ids completed.
 */
static int collect(struct ibv_cq *cq, const uint64_t *ids, int n,
		   struct ibv_wc *wc, int *others)
{
	struct timespec t0;
	struct ibv_wc w;
	int found = 0, i, rc;

	for (i = 0; i < n; i++)
		wc[i].wr_id = ~ids[i];
	*others = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (found < n && ms_since(&t0) < DEADLINE_MS) {
		rc = ibv_poll_cq(cq, 1, &w);
		if (rc < 0)
			break;
		if (rc == 0) {
			usleep(1000);
			continue;
		}
		for (i = 0; i < n; i++)
			if (w.wr_id == ids[i] && wc[i].wr_id != ids[i])
				break;
		if (i == n) {
			(*others)++;
			continue;
		}
		wc[i] = w;
		found++;
	}
	return found;
}

/* Wait for one completion of @id on @cq; true if it came and succeeded. */
static bool completes(struct ibv_cq *cq, uint64_t id, struct ibv_wc *wc)
{
	int others;

	return collect(cq, &id, 1, wc, &others) == 1 && !wc->status;
}

/* The mappings of uverbs files in this process, -1 for more than @max. */
static int uverbs_maps(struct mapping *m, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0, lines;

	if (!f)
		return -1;
	for (lines = 0; lines < 100000 && fgets(line, sizeof(line), f); lines++)
		if (strstr(line, "/dev/infiniband/uverbs") &&
		    (n >= max ||
		     sscanf(line, "%lx-%lx", &m[n].start, &m[n].end) == 2))
			n++;
	fclose(f);
	return n > max ? -1 : n;
}

/*
 * Is @m the send ring of a QP just created with @cap? Its header must
 * describe at least max_send_wr slots (a power of two), each with room
 * for a WQE with one SGE more than the QP allows (num-sge-over-max writes
 * it), all inside the mapping, with both indices still 0.
 */
static bool is_send_ring(const struct mapping *m, const struct ibv_qp_cap *cap,
			 struct ring *r)
{
	struct rxe_queue_buf *q = (struct rxe_queue_buf *)m->start;
	size_t len = m->end - m->start, slots, elem;

	if (len < sizeof(*q) || q->log2_elem_size > 16 ||
	    q->index_mask >= (1u << 20))
		return false;
	slots = (size_t)q->index_mask + 1;
	elem = (size_t)1 << q->log2_elem_size;
	if ((slots & (slots - 1)) || slots < cap->max_send_wr ||
	    elem < sizeof(struct rxe_send_wqe) +
		   (cap->max_send_sge + 1) * sizeof(struct rxe_sge) ||
	    len < sizeof(*q) + slots * elem ||
	    q->producer_index || q->consumer_index)
		return false;
	r->q = q;
	r->mask = q->index_mask;
	r->elem = elem;
	return true;
}

/*
 * find_send_ring - of the uverbs mappings in @after but not in @before
 * (ibv_create_qp mapped the receive and the send ring), the one that is a
 * send ring for @cap. Exits unless there is exactly one: never guess.
 */
static void find_send_ring(const struct mapping *before, int nb,
			   const struct mapping *after, int na,
			   const struct ibv_qp_cap *cap, struct ring *r)
{
	int i, j, fresh = 0, found = 0;

	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++)
			if (after[i].start == before[j].start &&
			    after[i].end == before[j].end)
				break;
		if (j < nb)
			continue;
		fresh++;
		if (is_send_ring(&after[i], cap, r))
			found++;
	}
	if (nb >= 0 && fresh == 2 && found == 1)
		return;
	fprintf(stderr, "cannot tell the send ring in /proc/self/maps: %d new uverbs mappings, %d look like a ring of %u WRs of %u SGEs\n",
		fresh, found, cap->max_send_wr, cap->max_send_sge);
	exit(1);
}

static struct rxe_send_wqe *ring_slot(struct ring *r, uint32_t index)
{
	return (struct rxe_send_wqe *)(r->q->data + (index & r->mask) * r->elem);
}

/* Take an RC QP to RTS, connected to @peer over the port's own GID. */
static int connect_rc(struct ibv_qp *qp, struct ibv_qp *peer)
{
	return rc_to_init(qp, IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			      IBV_ACCESS_REMOTE_ATOMIC) ||
	       rc_to_rtr(qp, mtu, peer->qp_num, &gid, gid_index, 0) ||
	       rc_to_rts(qp, 7, 0) ? -1 : 0;
}

static int up_ud(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1, .qkey = QKEY,
	};

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_QKEY))
		return -1;
	a.qp_state = IBV_QPS_RTR;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE))
		return -1;
	a.qp_state = IBV_QPS_RTS;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN) ? -1 : 0;
}

/*
 * post_normal - the ordinary WR behind a hostile one, through the
 * provider: 8 bytes written into B's MR (RC) or sent to B (UD).
 */
static int post_normal(struct pair *p, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)buf_a + NORMAL_OFF, .length = 8,
		.lkey = mr_a->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	if (p->type == IBV_QPT_UD) {
		wr.opcode = IBV_WR_SEND;
		wr.wr.ud.ah = p->ah;
		wr.wr.ud.remote_qpn = p->b->qp_num;
		wr.wr.ud.remote_qkey = QKEY;
	} else {
		wr.wr.rdma.remote_addr = (uintptr_t)buf_b + NORMAL_OFF;
		wr.wr.rdma.rkey = mr_b->rkey;
	}
	return ibv_post_send(p->a, &wr, &bad);
}

static void teardown(struct pair *p)
{
	struct ibv_wc wc;
	int i;

	if (p->ah)
		ibv_destroy_ah(p->ah);
	if (p->a)
		ibv_destroy_qp(p->a);
	if (p->b)
		ibv_destroy_qp(p->b);
	/* what the case left in the CQs; ids are never reused anyway */
	for (i = 0; i < 1024; i++)
		if (ibv_poll_cq(cq_a, 1, &wc) <= 0 && ibv_poll_cq(cq_b, 1, &wc) <= 0)
			break;
	memset(p, 0, sizeof(*p));
}

/*
 * setup - a fresh pair of @type with A's send ring found, and proven by
 * one ordinary WR: it must complete, and be in slot 0 with the producer
 * index at 1. Returns NULL, or why not (*skip if the case cannot run
 * here); exits if the ring is not where it should be.
 */
static const char *setup(struct pair *p, enum ibv_qp_type type, bool *skip)
{
	struct mapping before[MAX_MAPS], after[MAX_MAPS];
	struct ibv_qp_init_attr init = {
		.send_cq = cq_a, .recv_cq = cq_a, .qp_type = type,
		/* a tiny RQ: the send ring is the QP's larger mapping */
		.cap = { .max_send_wr = 32, .max_recv_wr = 1, .max_send_sge = 4,
			 .max_recv_sge = 1, .max_inline_data = 64 },
	};
	struct ibv_ah_attr ah = {
		.is_global = 1, .port_num = 1,
		.grh = { .dgid = gid, .sgid_index = gid_index, .hop_limit = 64 },
	};
	uint64_t id = next_id++;
	struct rxe_send_wqe *w;
	struct ibv_wc wc;
	int nb, na;

	memset(p, 0, sizeof(*p));
	p->type = type;
	*skip = false;
	nb = uverbs_maps(before, MAX_MAPS);
	p->a = ibv_create_qp(pd, &init);
	na = uverbs_maps(after, MAX_MAPS);
	if (!p->a)
		return "ibv_create_qp failed";
	find_send_ring(before, nb, after, na, &init.cap, &p->sq);
	p->max_sge = init.cap.max_send_sge;
	init.send_cq = cq_b;
	init.recv_cq = cq_b;
	p->b = ibv_create_qp(pd, &init);
	if (!p->b)
		return "ibv_create_qp failed";
	if (type == IBV_QPT_RC &&
	    (connect_rc(p->a, p->b) || connect_rc(p->b, p->a)))
		return "cannot connect the RC QPs";
	if (type == IBV_QPT_UD) {
		if (up_ud(p->a) || up_ud(p->b))
			return "cannot bring the UD QPs to RTS";
		p->ah = ibv_create_ah(pd, &ah);
		*skip = !p->ah;
		if (!p->ah)
			return "no AH to the port's own GID";
	}
	if (post_normal(p, id) || !completes(cq_a, id, &wc))
		return "the first ordinary WR failed";
	w = ring_slot(&p->sq, 0);
	if (__atomic_load_n(&p->sq.q->producer_index, __ATOMIC_ACQUIRE) != 1 ||
	    w->wr.wr_id != id) {
		fprintf(stderr, "the mapping at %p is not A's send ring\n",
			(void *)p->sq.q);
		exit(1);
	}
	if (type == IBV_QPT_UD)
		p->ah_num = w->wr.wr.ud.ah_num;
	return NULL;
}

static void set_sge(struct rxe_send_wqe *w, unsigned int i, const void *addr,
		    uint32_t len)
{
	w->dma.sge[i].addr = (uintptr_t)addr;
	w->dma.sge[i].length = len;
	w->dma.sge[i].lkey = mr_a->lkey;
}

/*
 * fill - write case @c's WQE into @w (cleared, wr_id and SIGNALED set): a
 * valid WQE moving bytes from A to B, then the field the case breaks.
 * Returns why the case cannot run on this device, or NULL.
 */
static const char *fill(const struct hcase *c, struct pair *p,
			struct rxe_send_wqe *w)
{
	struct kreg reg = { 0x4141414141414141ull, 0x42424242, ~0u };
	uint32_t len = c->kind == CUR_SGE || c->kind == STATE ||
		       c->kind == LENGTH_MISMATCH ? DATA_LEN : 8;
	unsigned int i;

	w->wr.opcode = c->opcode;
	w->wr.wr.rdma.remote_addr = (uintptr_t)buf_b;
	w->wr.wr.rdma.rkey = mr_b->rkey;
	w->iova = (uintptr_t)buf_b;
	w->dma.length = len;
	w->dma.resid = len;
	w->dma.num_sge = 1;
	set_sge(w, 0, buf_a, len);

	switch (c->kind) {
	case OPCODE:
		/* what REG_MR holds for a kernel QP: a pointer the kernel follows */
		if ((c->opcode & 0xff) == KWR_REG_MR)
			memcpy(&w->wr.wr, &reg, sizeof(reg));
		if (c->opcode == IB_UVERBS_WR_MASKED_ATOMIC_CMP_AND_SWP) {
			memset(&w->wr.wr, 0, sizeof(w->wr.wr));
			w->wr.wr.atomic.remote_addr = (uintptr_t)buf_b;
			w->wr.wr.atomic.swap = 1;
			w->wr.wr.atomic.rkey = mr_b->rkey;
		}
		break;
	case NUM_SGE_HUGE:
		w->dma.num_sge = 0xffffffff;
		break;
	case NUM_SGE_OVER:
		/* is_send_ring() made sure the slot holds them */
		for (i = 0; i <= p->max_sge; i++)
			set_sge(w, i, buf_a + 64 * i, 64);
		w->dma.num_sge = p->max_sge + 1;
		w->dma.length = w->dma.resid = 64 * w->dma.num_sge;
		break;
	case OVER_2G:
		set_sge(w, 0, buf_a, 0x40000001u);
		set_sge(w, 1, buf_a, 0x40000001u);
		w->dma.num_sge = 2;
		w->dma.length = w->dma.resid = 0x80000002u;
		break;
	case INLINE_LONG:
		w->wr.send_flags |= IBV_SEND_INLINE;
		w->dma.num_sge = 0;
		w->dma.length = w->dma.resid = 100000;
		break;
	case ATOMIC_WRITE:
		if (!(dev.device_cap_flags_ex & IB_UVERBS_DEVICE_ATOMIC_WRITE))
			return "the device does not report ATOMIC_WRITE";
		/* its 8 bytes of data are in the WQE, not in SGEs */
		w->dma.num_sge = 0;
		w->dma.length = w->dma.resid = 4096;
		break;
	case UD_OPCODE:
	case UD_NO_AH:
		memset(&w->wr.wr, 0, sizeof(w->wr.wr));
		w->wr.wr.ud.remote_qpn = p->b->qp_num;
		w->wr.wr.ud.remote_qkey = QKEY;
		if (c->kind == UD_NO_AH) {
			/* no AH: the kernel would have to use this address vector */
			memset(&w->wr.wr.ud.av, 0x5a, sizeof(w->wr.wr.ud.av));
			break;
		}
		if (!p->ah_num)
			return "the provider put no ah_num in its UD WQE";
		w->wr.wr.ud.ah_num = p->ah_num;
		break;
	case LENGTH_MISMATCH:
		w->dma.resid = 1;
		w->dma.length = 7;
		break;
	case CUR_SGE:
		/* the kernel starts a new WQE at its first SGE, whatever this says */
		w->dma.cur_sge = 0x7fffffff;
		w->dma.sge_offset = 0xfffffff0;
		w->dma.resid = 1;
		break;
	case STATE:
		w->state = 3;			/* wqe_state_done */
		w->status = IBV_WC_GENERAL_ERR;
		w->mask = ~0u;
		w->iova = 0x4141414141414141ull;
		w->first_psn = 0xabcdef;
		w->last_psn = 0x123456;
		w->has_rd_atomic = 1;
		break;
	default:
		break;
	}
	return NULL;
}

/*
 * inject - put @c's WQE in the slot the provider would write next and
 * hand it to the kernel (the WQE's stores before the index's); for
 * local-inv-free-mw post the LOCAL_INV through the provider instead.
 * Returns NULL or why not; *skip if the case cannot run on this device.
 */
static const char *inject(const struct hcase *c, struct pair *p, uint64_t id,
			  struct ibv_mw **mw, bool *skip)
{
	struct ibv_send_wr wr = {
		.wr_id = id, .opcode = IBV_WR_LOCAL_INV,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	uint32_t prod = __atomic_load_n(&p->sq.q->producer_index, __ATOMIC_RELAXED);
	struct rxe_send_wqe *w = ring_slot(&p->sq, prod);
	const char *why;

	*skip = false;
	if (c->kind == LOCAL_INV_FREE_MW) {
		*skip = !(dev.orig_attr.device_cap_flags & IBV_DEVICE_MEM_WINDOW_TYPE_2B);
		if (*skip)
			return "no type 2B memory windows";
		/* a type 2 MW starts FREE: bound to no QP and no MR */
		*mw = ibv_alloc_mw(pd, IBV_MW_TYPE_2);
		if (!*mw)
			return "ibv_alloc_mw failed";
		wr.invalidate_rkey = (*mw)->rkey;
		return ibv_post_send(p->a, &wr, &bad) ? "cannot post LOCAL_INV" : NULL;
	}
	memset(w, 0, p->sq.elem);
	w->wr.wr_id = id;
	w->wr.send_flags = IBV_SEND_SIGNALED;
	why = fill(c, p, w);
	*skip = why != NULL;
	if (!why)
		__atomic_store_n(&p->sq.q->producer_index, (prod + 1) & p->sq.mask,
				 __ATOMIC_RELEASE);
	return why;
}

/* A hostile WQE and an ordinary WR behind it: see enum kind. */
static bool ring_case(const struct hcase *c, struct pair *p, char *got,
		      size_t len, bool *skip)
{
	uint64_t ids[2] = { next_id, next_id + 1 }, rid = next_id + 2;
	bool normalized = c->kind == CUR_SGE || c->kind == STATE;
	struct ibv_recv_wr rwr = { .wr_id = rid, .num_sge = 1 }, *rbad;
	struct ibv_sge rsge = {
		.addr = (uintptr_t)buf_b, .length = DATA_LEN + 64,
		.lkey = mr_b->lkey,
	};
	struct ibv_wc wc[2], rwc;
	struct ibv_mw *mw = NULL;
	const char *why;
	size_t i;
	int n, others;

	next_id += 3;
	*skip = false;
	fill_random(buf_a, DATA_LEN, &rng_state);
	memset(buf_b, 0, DATA_LEN + 64);
	/* a SEND the kernel wrongly lets through completes rather than RNR */
	rwr.sg_list = &rsge;
	if (ibv_post_recv(p->b, &rwr, &rbad)) {
		snprintf(got, len, "ibv_post_recv failed");
		return false;
	}
	why = inject(c, p, ids[0], &mw, skip);
	if (!why && post_normal(p, ids[1]))
		why = "ibv_post_send of the ordinary WR failed";
	if (why) {
		snprintf(got, len, "%s", why);
		if (mw)
			ibv_dealloc_mw(mw);
		return false;
	}
	n = collect(cq_a, ids, 2, wc, &others);
	if (mw)
		ibv_dealloc_mw(mw);
	i = snprintf(got, len, "hostile %s, normal %s",
		     wc[0].wr_id == ids[0] ? st(wc[0].status) : "no completion",
		     wc[1].wr_id == ids[1] ? st(wc[1].status) : "no completion");
	i = i < len ? i : len - 1;
	if (!normalized)
		return n == 2 && wc[0].status && wc[1].status;
	if (n != 2 || wc[0].status || wc[1].status)
		return false;
	if (c->kind == STATE && (!completes(cq_b, rid, &rwc) ||
				 rwc.byte_len != DATA_LEN)) {
		snprintf(got + i, len - i, ", no %u-byte receive at B", DATA_LEN);
		return false;
	}
	/* B holds A's bytes, and nothing past them */
	for (n = 0; n < 64; n++)
		if (buf_b[DATA_LEN + n])
			break;
	if (memcmp(buf_a, buf_b, DATA_LEN) || n < 64) {
		snprintf(got + i, len - i, ", data differs at B");
		return false;
	}
	snprintf(got + i, len - i, ", data intact");
	return true;
}

/*
 * legacy_write - one uverbs write command: the header, then @len bytes of
 * @body. in_words counts the whole write in 4-byte words, header included;
 * out_words the response (at the address in @body's first u64).
 * Returns what write() returned, or -errno.
 */
static ssize_t legacy_write(uint32_t command, const void *body, size_t len,
			    size_t out_bytes)
{
	struct ib_uverbs_cmd_hdr hdr = {
		.command = command,
		.in_words = (sizeof(hdr) + len) / 4,
		.out_words = out_bytes / 4,
	};
	uint64_t msg[16];
	ssize_t n;

	if (sizeof(hdr) + len > sizeof(msg))
		return -EINVAL;
	memcpy(msg, &hdr, sizeof(hdr));
	memcpy((char *)msg + sizeof(hdr), body, len);
	n = write(ctx->cmd_fd, msg, sizeof(hdr) + len);
	return n < 0 ? -errno : n;
}

/*
 * A producer index far outside the ring. The provider indexes the ring
 * with it unmasked, so ring the doorbell as it does (a POST_SEND of no
 * WRs) and set the index back to its masked value before it posts again.
 * Any outcome within the deadline passes: the point is that the kernel
 * neither hangs nor walks off the ring.
 */
static bool producer_huge(struct pair *p, char *got, size_t len)
{
	struct ib_uverbs_post_send_resp resp;
	struct ib_uverbs_post_send cmd = {
		.response = (uintptr_t)&resp, .qp_handle = p->a->handle,
		.wqe_size = sizeof(struct ib_uverbs_send_wr),
	};
	const uint32_t huge = 0xdeadbeef;
	uint64_t id = next_id++;
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr attr;
	struct ibv_wc wc;
	int n = 0, others = 0, state = -1;
	ssize_t db;

	/* the slots up to the masked index are zero: empty unsignaled WRITEs */
	__atomic_store_n(&p->sq.q->producer_index, huge, __ATOMIC_RELEASE);
	db = legacy_write(IB_USER_VERBS_CMD_POST_SEND, &cmd, sizeof(cmd),
			  sizeof(resp));
	__atomic_store_n(&p->sq.q->producer_index, huge & p->sq.mask,
			 __ATOMIC_RELEASE);
	if (!post_normal(p, id))
		n = collect(cq_a, &id, 1, &wc, &others);
	if (!ibv_query_qp(p->a, &attr, IBV_QP_STATE, &init))
		state = attr.qp_state;
	snprintf(got, len, "doorbell %s, normal %s, %d other completions, consumer index %u, QP state %d",
		 db < 0 ? strerror(-db) : "rung",
		 n == 1 ? st(wc.status) : "no completion", others,
		 __atomic_load_n(&p->sq.q->consumer_index, __ATOMIC_ACQUIRE),
		 state);
	return true;
}

/* POLL_CQ on a user CQ: refused, and the CQE stays for its owner. */
static bool poll_cq_cmd(struct pair *p, char *got, size_t len)
{
	uint32_t resp[(sizeof(struct ib_uverbs_poll_cq_resp) +
		       POLL_NE * sizeof(struct ib_uverbs_wc)) / 4];
	struct ib_uverbs_poll_cq cmd = {
		.response = (uintptr_t)resp, .cq_handle = cq_a->handle,
		.ne = POLL_NE,
	};
	uint64_t id = next_id++;
	struct ibv_wc wc;
	bool kept;
	ssize_t rc;

	/* a CQE for the kernel to hand out if it wrongly would */
	if (post_normal(p, id)) {
		snprintf(got, len, "ibv_post_send failed");
		return false;
	}
	usleep(100000);
	memset(resp, 0xff, sizeof(resp));
	rc = legacy_write(IB_USER_VERBS_CMD_POLL_CQ, &cmd, sizeof(cmd),
			  sizeof(resp));
	kept = completes(cq_a, id, &wc);
	if (rc >= 0)
		snprintf(got, len, "write returned %zd, %u entries", rc, resp[0]);
	else
		snprintf(got, len, "write failed: %s, CQE %s", strerror(-rc),
			 kept ? "kept" : "gone");
	return rc < 0 && kept;
}

/* POST_RECV on a user QP: its receive ring is the process's to write. */
static bool post_recv_cmd(struct pair *p, char *got, size_t len)
{
	struct ib_uverbs_post_recv_resp resp = { 0 };
	struct ib_uverbs_post_recv cmd = {
		.response = (uintptr_t)&resp, .qp_handle = p->b->handle,
		.wr_count = 1, .sge_count = 1,
		.wqe_size = sizeof(struct ib_uverbs_recv_wr),
	};
	struct ib_uverbs_recv_wr rwr = { .wr_id = next_id++, .num_sge = 1 };
	struct ib_uverbs_sge sge = {
		.addr = (uintptr_t)buf_b, .length = 64, .lkey = mr_b->lkey,
	};
	unsigned char body[sizeof(cmd) + sizeof(rwr) + sizeof(sge)];
	ssize_t rc;

	/* B is in RTS: only the command itself can be refused */
	memcpy(body, &cmd, sizeof(cmd));
	memcpy(body + sizeof(cmd), &rwr, sizeof(rwr));
	memcpy(body + sizeof(cmd) + sizeof(rwr), &sge, sizeof(sge));
	rc = legacy_write(IB_USER_VERBS_CMD_POST_RECV, body, sizeof(body),
			  sizeof(resp));
	if (rc >= 0)
		snprintf(got, len, "write returned %zd", rc);
	else
		snprintf(got, len, "write failed: %s", strerror(-rc));
	return rc < 0;
}

static void run_case(const struct hcase *c)
{
	static const char *const expect[] = {
		[OPCODE ... LENGTH_MISMATCH] = "refused",
		[CUR_SGE ... STATE] = "success, data intact",
		[PRODUCER_HUGE] = "no hang within the deadline",
		[POLL_CQ_CMD] = "write fails, CQE kept",
		[POST_RECV_CMD] = "write fails",
	};
	bool ud = c->kind == UD_OPCODE || c->kind == UD_NO_AH, skip, ok;
	char got[256];
	const char *why;
	struct pair p;

	why = setup(&p, ud ? IBV_QPT_UD : IBV_QPT_RC, &skip);
	if (why) {
		snprintf(got, sizeof(got), "%s", why);
		ok = false;
	} else if (c->kind == PRODUCER_HUGE) {
		ok = producer_huge(&p, got, sizeof(got));
	} else if (c->kind == POLL_CQ_CMD) {
		ok = poll_cq_cmd(&p, got, sizeof(got));
	} else if (c->kind == POST_RECV_CMD) {
		ok = post_recv_cmd(&p, got, sizeof(got));
	} else {
		ok = ring_case(c, &p, got, sizeof(got), &skip);
		skip = skip && !ok;
	}
	teardown(&p);
	n_cases++;
	if (skip) {
		n_skipped++;
		printf("case %s: expect %s, got skipped (%s) -> ok\n", c->name,
		       expect[c->kind], got);
	} else {
		n_failed += !ok;
		printf("case %s: expect %s, got %s -> %s\n", c->name,
		       expect[c->kind], got, ok ? "ok" : "FAIL");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
	struct ibv_port_attr port;
	size_t k;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DEVICE GID_INDEX\n", argv[0]);
		return 2;
	}
	gid_index = atoi(argv[2]);
	ctx = open_device(argv[1]);
	if (!ctx)
		return 1;
	if (ibv_query_port(ctx, 1, &port) ||
	    ibv_query_gid(ctx, 1, gid_index, &gid) ||
	    ibv_query_device_ex(ctx, NULL, &dev)) {
		fprintf(stderr, "%s: cannot query the device, port 1 or GID %d\n",
			argv[1], gid_index);
		return 1;
	}
	mtu = port.active_mtu;
	pd = ibv_alloc_pd(ctx);
	cq_a = ibv_create_cq(ctx, 256, NULL, NULL, 0);
	cq_b = ibv_create_cq(ctx, 256, NULL, NULL, 0);
	buf_a = alloc_backed(MEM_ANON, BUF_LEN, 0);
	buf_b = alloc_backed(MEM_ANON, BUF_LEN, 0);
	if (!pd || !cq_a || !cq_b || !buf_a || !buf_b) {
		fprintf(stderr, "cannot allocate PD, CQs or buffers\n");
		return 1;
	}
	mr_a = ibv_reg_mr(pd, buf_a, BUF_LEN, access);
	mr_b = ibv_reg_mr(pd, buf_b, BUF_LEN, access);
	if (!mr_a || !mr_b) {
		fprintf(stderr, "ibv_reg_mr: %s\n", strerror(errno));
		return 1;
	}

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		run_case(&cases[k]);

	ibv_dereg_mr(mr_a);
	ibv_dereg_mr(mr_b);
	free_backed(MEM_ANON, buf_a, BUF_LEN, 0);
	free_backed(MEM_ANON, buf_b, BUF_LEN, 0);
	ibv_destroy_cq(cq_a);
	ibv_destroy_cq(cq_b);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	if (n_skipped)
		printf("hostile: %d of the cases skipped\n", n_skipped);
	printf("hostile: %d cases, %d failed\n", n_cases, n_failed);
	return n_failed ? 1 : 0;
}

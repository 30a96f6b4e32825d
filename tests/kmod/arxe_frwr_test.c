// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe_frwr_test - fast-registration cycles through an RDMA device, done
 * the way a kernel user (NFS or NVMe over RDMA) does them, every byte
 * checked. Runs when loaded, on any device (arxe or stock rxe):
 *
 *   modprobe arxe_frwr_test dev=arxe0 pages=16 cycles=2000
 *
 * Two RC QPs on port 1 of @dev, connected to each other over its RoCEv2
 * IPv4 GID (the device loops the packets back). A pool of twice @pages
 * pages, allocated in blocks of eight so that page lists mix contiguous
 * runs and scattered pages. Each cycle:
 *   - maps @pages pool pages (a different window each cycle, starting at an
 *     odd offset in the first page every other cycle) into the MR with
 *     ib_map_mr_sg(), after a new key;
 *   - registers it with REG_MR on QP B;
 *   - RDMA WRITEs a pattern unique to the cycle from QP A into it, checks
 *     the pool pages byte for byte, RDMA READs it back and checks that
 *     (unless data=N, which times the registration cycle alone);
 *   - invalidates it: LOCAL_INV on QP B, or, every other cycle, a
 *     SEND_WITH_INV from QP A (checked in B's receive completion).
 * Finally an RDMA WRITE with the last, invalidated key must fail with a
 * remote access error; after the QPs are reconnected, the MR is mapped
 * once more (a new key, the next cycle's pages): a WRITE under the new key
 * must reach those pages, one under the old key must fail the same way.
 * A mode's counters therefore see cycles + 1 maps.
 *
 * Prints one line "arxe_frwr_test: dev D pages P cycles C data checked:
 * ok, N ns per cycle" and stays loaded (rmmod it); on any failure it says
 * what failed and the load fails. Every wait is bounded (@timeout_ms per
 * completion, @seconds in all).
 */

#include <linux/delay.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <net/ipv6.h>
#include <rdma/ib_cache.h>
#include <rdma/ib_verbs.h>

static char *dev = "arxe0";
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "RDMA device to run on (default arxe0)");

static unsigned int pages = 16;
module_param(pages, uint, 0444);
MODULE_PARM_DESC(pages, "Pages per fast registration (default 16)");

static unsigned int cycles = 2000;
module_param(cycles, uint, 0444);
MODULE_PARM_DESC(cycles, "Register/invalidate cycles (default 2000)");

static bool data = true;
module_param(data, bool, 0444);
MODULE_PARM_DESC(data, "Write, read and check data in each cycle (default Y; N times registration alone)");

static bool edges;
module_param(edges, bool, 0444);
MODULE_PARM_DESC(edges, "First map edge cases: a list the offset consumes, a list that ends early (default N)");

static unsigned int timeout_ms = 10000;
module_param(timeout_ms, uint, 0444);
MODULE_PARM_DESC(timeout_ms, "Longest wait for one completion (default 10000)");

static unsigned int seconds = 600;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "Longest run in all (default 600)");

#define BLOCK_ORDER	3		/* pool blocks of 8 contiguous pages */
#define CHUNK		SZ_64K		/* bytes per WRITE/READ work request */
#define PORT		1

struct frwr_test {
	struct ib_device *ibdev;
	const struct ib_gid_attr *gid;
	struct ib_pd *pd;
	struct ib_cq *cq_a, *cq_b;
	struct ib_qp *qp_a, *qp_b;
	struct ib_mr *mr;
	struct page **pool;
	unsigned int npool;
	struct sg_table sgt;
	bool sgt_mapped;		/* sgt DMA-mapped by the final re-map */
	u8 *buf;			/* CHUNK bytes, A's side */
	unsigned long deadline;
};

static struct ib_device *frwr_found;

static int frwr_add(struct ib_device *ibdev)
{
	if (!frwr_found && !strcmp(dev_name(&ibdev->dev), dev) &&
	    ib_device_try_get(ibdev))
		frwr_found = ibdev;
	return 0;
}

static void frwr_remove(struct ib_device *ibdev, void *client_data)
{
}

static struct ib_client frwr_client = {
	.name = "arxe_frwr_test",
	.add = frwr_add,
	.remove = frwr_remove,
};

/* Byte @off of cycle @cycle's pattern. */
static u8 frwr_pattern(unsigned int cycle, u64 off)
{
	u32 x = (u32)off * 2654435761u + cycle * 40503u;

	return (x >> 24) ^ (off >> 12);
}

/* Wait for one completion on @cq; 0 and @wc filled, or -ETIMEDOUT. */
static int frwr_wait(struct frwr_test *t, struct ib_cq *cq, struct ib_wc *wc)
{
	unsigned long until = jiffies + msecs_to_jiffies(timeout_ms);
	int n;

	for (;;) {
		n = ib_poll_cq(cq, 1, wc);
		if (n < 0)
			return n;
		if (n)
			return 0;
		if (time_after(jiffies, until) || time_after(jiffies, t->deadline))
			return -ETIMEDOUT;
		usleep_range(20, 100);
	}
}

/* Post @wr on @qp (signalled) and wait for its success on @cq. */
static int frwr_do(struct frwr_test *t, struct ib_qp *qp, struct ib_cq *cq,
		   struct ib_send_wr *wr, const char *what)
{
	struct ib_wc wc;
	int err;

	wr->send_flags |= IB_SEND_SIGNALED;
	err = ib_post_send(qp, wr, NULL);
	if (err) {
		pr_err("arxe_frwr_test: posting %s: %d\n", what, err);
		return err;
	}
	err = frwr_wait(t, cq, &wc);
	if (err) {
		pr_err("arxe_frwr_test: no completion of %s: %d\n", what, err);
		return err;
	}
	if (wc.status != IB_WC_SUCCESS) {
		pr_err("arxe_frwr_test: %s completed with %s\n", what,
		       ib_wc_status_msg(wc.status));
		return -EIO;
	}
	return 0;
}

/* RDMA WRITE (or READ) @len bytes of A's buffer at @iova of @rkey. */
static int frwr_rdma(struct frwr_test *t, enum ib_wr_opcode op, u64 iova,
		     u32 rkey, u32 len)
{
	struct ib_sge sge = {
		.addr = (uintptr_t)t->buf,
		.length = len,
		.lkey = t->pd->local_dma_lkey,
	};
	struct ib_rdma_wr wr = {
		.wr.opcode = op,
		.wr.sg_list = &sge,
		.wr.num_sge = 1,
		.remote_addr = iova,
		.rkey = rkey,
	};

	return frwr_do(t, t->qp_a, t->cq_a, &wr.wr,
		       op == IB_WR_RDMA_WRITE ? "RDMA WRITE" : "RDMA READ");
}

static int frwr_modify(struct ib_qp *qp, struct ib_qp_attr *attr, int mask,
		       const char *state)
{
	int err = ib_modify_qp(qp, attr, mask);

	if (err)
		pr_err("arxe_frwr_test: QP %u to %s: %d\n", qp->qp_num, state,
		       err);
	return err;
}

/* Bring @qp to RTS, connected to QP number @dest on the same GID. */
static int frwr_connect(struct frwr_test *t, struct ib_qp *qp, u32 dest)
{
	union ib_gid dgid = t->gid->gid;
	struct ib_qp_attr attr = {
		.qp_state = IB_QPS_INIT,
		.port_num = PORT,
		.qp_access_flags = IB_ACCESS_REMOTE_WRITE | IB_ACCESS_REMOTE_READ,
	};
	int err;

	err = frwr_modify(qp, &attr, IB_QP_STATE | IB_QP_PKEY_INDEX |
			  IB_QP_PORT | IB_QP_ACCESS_FLAGS, "INIT");
	if (err)
		return err;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTR;
	attr.path_mtu = IB_MTU_1024;
	attr.dest_qp_num = dest;
	attr.max_dest_rd_atomic = 1;
	attr.min_rnr_timer = 12;
	attr.ah_attr.type = rdma_ah_find_type(t->ibdev, PORT);
	rdma_ah_set_port_num(&attr.ah_attr, PORT);
	rdma_ah_set_grh(&attr.ah_attr, &dgid, 0, t->gid->index, 1, 0);
	/* kernel users resolve the destination MAC: here their own */
	err = rdma_read_gid_l2_fields(t->gid, NULL, attr.ah_attr.roce.dmac);
	if (err)
		return err;
	err = frwr_modify(qp, &attr, IB_QP_STATE | IB_QP_AV | IB_QP_PATH_MTU |
			  IB_QP_DEST_QPN | IB_QP_RQ_PSN |
			  IB_QP_MAX_DEST_RD_ATOMIC | IB_QP_MIN_RNR_TIMER,
			  "RTR");
	if (err)
		return err;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTS;
	/*
	 * About 1 s (4.096 us << 18): under emulation an ACK can take longer
	 * than 67 ms, and a READ retransmitted then may reach the responder
	 * after the key was invalidated, which moves the QP to the error state.
	 */
	attr.timeout = 18;
	attr.retry_cnt = 7;
	attr.rnr_retry = 7;
	attr.max_rd_atomic = 1;
	return frwr_modify(qp, &attr, IB_QP_STATE | IB_QP_TIMEOUT |
			   IB_QP_RETRY_CNT | IB_QP_RNR_RETRY | IB_QP_SQ_PSN |
			   IB_QP_MAX_QP_RD_ATOMIC, "RTS");
}

/* The port's RoCEv2 GID of an IPv4 address, referenced. */
static int frwr_find_gid(struct frwr_test *t)
{
	const struct ib_gid_attr *gid;
	struct ib_port_attr pattr;
	int i, err;

	err = ib_query_port(t->ibdev, PORT, &pattr);
	if (err)
		return err;
	for (i = 0; i < pattr.gid_tbl_len; i++) {
		gid = rdma_get_gid_attr(t->ibdev, PORT, i);
		if (IS_ERR(gid))
			continue;
		if (gid->gid_type == IB_GID_TYPE_ROCE_UDP_ENCAP &&
		    ipv6_addr_v4mapped((struct in6_addr *)gid->gid.raw)) {
			t->gid = gid;
			return 0;
		}
		rdma_put_gid_attr(gid);
	}
	pr_err("arxe_frwr_test: %s has no RoCEv2 IPv4 GID\n", dev);
	return -ENODEV;
}

static struct ib_qp *frwr_create_qp(struct frwr_test *t, struct ib_cq *cq)
{
	struct ib_qp_init_attr init = {
		.send_cq = cq,
		.recv_cq = cq,
		.qp_type = IB_QPT_RC,
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.cap = {
			.max_send_wr = 8,
			.max_recv_wr = 8,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
	};

	return ib_create_qp(t->pd, &init);
}

static int frwr_setup(struct frwr_test *t)
{
	unsigned int i, j;
	struct page *block;
	int err;

	if (pages > t->ibdev->attrs.max_fast_reg_page_list_len) {
		pr_err("arxe_frwr_test: %s takes page lists of at most %u pages\n",
		       dev, t->ibdev->attrs.max_fast_reg_page_list_len);
		return -EINVAL;
	}
	err = frwr_find_gid(t);
	if (err)
		return err;
	t->pd = ib_alloc_pd(t->ibdev, 0);
	if (IS_ERR(t->pd))
		return PTR_ERR(t->pd);
	t->cq_a = ib_alloc_cq(t->ibdev, NULL, 16, 0, IB_POLL_DIRECT);
	if (IS_ERR(t->cq_a))
		return PTR_ERR(t->cq_a);
	t->cq_b = ib_alloc_cq(t->ibdev, NULL, 16, 0, IB_POLL_DIRECT);
	if (IS_ERR(t->cq_b))
		return PTR_ERR(t->cq_b);
	t->qp_a = frwr_create_qp(t, t->cq_a);
	if (IS_ERR(t->qp_a))
		return PTR_ERR(t->qp_a);
	t->qp_b = frwr_create_qp(t, t->cq_b);
	if (IS_ERR(t->qp_b))
		return PTR_ERR(t->qp_b);
	err = frwr_connect(t, t->qp_a, t->qp_b->qp_num);
	if (!err)
		err = frwr_connect(t, t->qp_b, t->qp_a->qp_num);
	if (err)
		return err;

	t->mr = ib_alloc_mr(t->pd, IB_MR_TYPE_MEM_REG, pages);
	if (IS_ERR(t->mr)) {
		pr_err("arxe_frwr_test: ib_alloc_mr(%u pages): %ld\n", pages,
		       PTR_ERR(t->mr));
		return PTR_ERR(t->mr);
	}
	t->buf = kmalloc(CHUNK, GFP_KERNEL);
	if (!t->buf)
		return -ENOMEM;
	t->npool = ALIGN(2 * pages, 1 << BLOCK_ORDER);
	t->pool = kvcalloc(t->npool, sizeof(*t->pool), GFP_KERNEL);
	if (!t->pool)
		return -ENOMEM;
	for (i = 0; i < t->npool; i += 1 << BLOCK_ORDER) {
		block = alloc_pages(GFP_KERNEL, BLOCK_ORDER);
		if (!block)
			return -ENOMEM;
		split_page(block, BLOCK_ORDER);
		for (j = 0; j < 1 << BLOCK_ORDER; j++)
			t->pool[i + j] = block + j;
	}
	return sg_alloc_table(&t->sgt, pages, GFP_KERNEL);
}

static void frwr_teardown(struct frwr_test *t)
{
	unsigned int i;

	/* nothing may reach the pages once they are freed: QPs and MR first */
	if (!IS_ERR_OR_NULL(t->qp_b))
		ib_destroy_qp(t->qp_b);
	if (!IS_ERR_OR_NULL(t->qp_a))
		ib_destroy_qp(t->qp_a);
	if (!IS_ERR_OR_NULL(t->mr))
		ib_dereg_mr(t->mr);
	if (t->sgt_mapped)
		ib_dma_unmap_sg(t->ibdev, t->sgt.sgl, pages, DMA_BIDIRECTIONAL);
	if (t->sgt.sgl)
		sg_free_table(&t->sgt);
	for (i = 0; t->pool && i < t->npool && t->pool[i]; i++)
		__free_page(t->pool[i]);
	kvfree(t->pool);
	kfree(t->buf);
	if (!IS_ERR_OR_NULL(t->cq_b))
		ib_free_cq(t->cq_b);
	if (!IS_ERR_OR_NULL(t->cq_a))
		ib_free_cq(t->cq_a);
	if (!IS_ERR_OR_NULL(t->pd))
		ib_dealloc_pd(t->pd);
	if (t->gid)
		rdma_put_gid_attr(t->gid);
}

/* The page list of @cycle: a window of the pool, maybe at an offset. */
static unsigned int frwr_fill_sg(struct frwr_test *t, unsigned int cycle,
				 unsigned int *first_off)
{
	unsigned int start = (cycle * 7) % t->npool, i, off = 0, len;
	struct scatterlist *sg;

	if (cycle & 1)
		off = (cycle * 24) % PAGE_SIZE;
	*first_off = off;
	for_each_sg(t->sgt.sgl, sg, pages, i) {
		len = PAGE_SIZE - (i ? 0 : off);
		if (i == pages - 1 && pages > 1 && (cycle & 2))
			len -= 40;
		sg_set_page(sg, t->pool[(start + i) % t->npool], len,
			    i ? 0 : off);
	}
	return (pages - 1) * PAGE_SIZE + PAGE_SIZE - off -
	       (pages > 1 && (cycle & 2) ? 40 : 0);
}

/* The byte at MR offset @off of @cycle's page list, in the pool. */
static u8 *frwr_pool_ptr(struct frwr_test *t, unsigned int cycle, u64 off,
			 unsigned int first_off)
{
	u64 pos = off + first_off;
	unsigned int start = (cycle * 7) % t->npool;
	struct page *page = t->pool[(start + pos / PAGE_SIZE) % t->npool];

	return (u8 *)page_address(page) + pos % PAGE_SIZE;
}

static u8 frwr_pool_byte(struct frwr_test *t, unsigned int cycle, u64 off,
			 unsigned int first_off)
{
	return *frwr_pool_ptr(t, cycle, off, first_off);
}

static int frwr_cycle(struct frwr_test *t, unsigned int cycle)
{
	unsigned int first_off, len, done, chunk, i, nents;
	struct ib_reg_wr reg = {};
	struct ib_send_wr inv = {};
	struct ib_recv_wr recv = {};
	struct ib_wc wc;
	u32 rkey;
	int n, err;

	len = frwr_fill_sg(t, cycle, &first_off);
	nents = ib_dma_map_sg(t->ibdev, t->sgt.sgl, pages, DMA_BIDIRECTIONAL);
	if (!nents)
		return -ENOMEM;
	ib_update_fast_reg_key(t->mr, ib_inc_rkey(t->mr->rkey));
	n = ib_map_mr_sg(t->mr, t->sgt.sgl, nents, NULL, PAGE_SIZE);
	if (n != nents) {
		pr_err("arxe_frwr_test: cycle %u: ib_map_mr_sg mapped %d of %u\n",
		       cycle, n, nents);
		err = n < 0 ? n : -EIO;
		goto out;
	}
	rkey = t->mr->rkey;
	reg.wr.opcode = IB_WR_REG_MR;
	reg.mr = t->mr;
	reg.key = rkey;
	reg.access = IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
		     IB_ACCESS_REMOTE_READ;
	err = frwr_do(t, t->qp_b, t->cq_b, &reg.wr, "REG_MR");
	if (err || !data)
		goto invalidate;

	for (done = 0; done < len; done += chunk) {
		chunk = min_t(unsigned int, len - done, CHUNK);
		for (i = 0; i < chunk; i++)
			t->buf[i] = frwr_pattern(cycle, done + i);
		err = frwr_rdma(t, IB_WR_RDMA_WRITE, t->mr->iova + done, rkey,
				chunk);
		if (err)
			goto out;
	}
	for (done = 0; done < len; done++) {
		if (frwr_pool_byte(t, cycle, done, first_off) !=
		    frwr_pattern(cycle, done)) {
			pr_err("arxe_frwr_test: cycle %u: byte %u of the MR written wrong\n",
			       cycle, done);
			err = -EIO;
			goto out;
		}
	}
	for (done = 0; done < len; done += chunk) {
		chunk = min_t(unsigned int, len - done, CHUNK);
		memset(t->buf, 0, chunk);
		err = frwr_rdma(t, IB_WR_RDMA_READ, t->mr->iova + done, rkey,
				chunk);
		if (err)
			goto out;
		for (i = 0; i < chunk; i++) {
			if (t->buf[i] != frwr_pattern(cycle, done + i)) {
				pr_err("arxe_frwr_test: cycle %u: byte %u read back wrong\n",
				       cycle, done + i);
				err = -EIO;
				goto out;
			}
		}
	}

invalidate:
	if (err)
		goto out;
	if (cycle & 1) {
		err = ib_post_recv(t->qp_b, &recv, NULL);
		if (err)
			goto out;
		inv.opcode = IB_WR_SEND_WITH_INV;
		inv.ex.invalidate_rkey = rkey;
		err = frwr_do(t, t->qp_a, t->cq_a, &inv, "SEND_WITH_INV");
		if (!err)
			err = frwr_wait(t, t->cq_b, &wc);
		if (!err && (wc.status != IB_WC_SUCCESS ||
			     !(wc.wc_flags & IB_WC_WITH_INVALIDATE) ||
			     wc.ex.invalidate_rkey != rkey)) {
			pr_err("arxe_frwr_test: cycle %u: remote invalidate of %#x not received (%s)\n",
			       cycle, rkey, ib_wc_status_msg(wc.status));
			err = -EIO;
		}
	} else {
		inv.opcode = IB_WR_LOCAL_INV;
		inv.ex.invalidate_rkey = rkey;
		err = frwr_do(t, t->qp_b, t->cq_b, &inv, "LOCAL_INV");
	}
out:
	ib_dma_unmap_sg(t->ibdev, t->sgt.sgl, pages, DMA_BIDIRECTIONAL);
	return err;
}

/*
 * Maps a kernel user may make that map less than the list: an offset that
 * consumes the whole list (nothing to map), and a second element that
 * starts inside a page (ib_map_mr_sg() stops after the first). Each is
 * registered if anything was mapped, its first page written and read
 * back, and invalidated; 100 times, so that a map that lost track of its
 * IOVA space would show in xlate_iova_bytes.
 */
static int frwr_edges(struct frwr_test *t)
{
	struct ib_reg_wr reg = {};
	struct ib_send_wr inv = {};
	struct scatterlist sg[2];
	unsigned int off, round;
	int n, nents, err = 0;

	for (round = 0; round < 100 && !err; round++) {
		sg_init_table(sg, 2);
		sg_set_page(&sg[0], t->pool[0], PAGE_SIZE, 0);
		sg_set_page(&sg[1], t->pool[1], 100, 100);
		nents = ib_dma_map_sg(t->ibdev, sg, 2, DMA_BIDIRECTIONAL);
		if (nents != 2) {
			ib_dma_unmap_sg(t->ibdev, sg, 2, DMA_BIDIRECTIONAL);
			return -ENOMEM;
		}
		ib_update_fast_reg_key(t->mr, ib_inc_rkey(t->mr->rkey));
		off = sg_dma_len(&sg[0]);
		n = ib_map_mr_sg(t->mr, sg, 1, &off, PAGE_SIZE);
		if (n > 1) {
			pr_err("arxe_frwr_test: an offset past the list mapped %d\n", n);
			err = -EIO;
			goto unmap;
		}
		n = ib_map_mr_sg(t->mr, sg, 2, NULL, PAGE_SIZE);
		if (n != 1) {
			pr_err("arxe_frwr_test: a list ending early mapped %d, not 1\n", n);
			err = n < 0 ? n : -EIO;
			goto unmap;
		}
		reg.wr.opcode = IB_WR_REG_MR;
		reg.mr = t->mr;
		reg.key = t->mr->rkey;
		reg.access = IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
			     IB_ACCESS_REMOTE_READ;
		err = frwr_do(t, t->qp_b, t->cq_b, &reg.wr, "REG_MR");
		if (!err) {
			memset(t->buf, round, PAGE_SIZE);
			err = frwr_rdma(t, IB_WR_RDMA_WRITE, t->mr->iova,
					t->mr->rkey, PAGE_SIZE);
		}
		if (!err && memchr_inv(page_address(t->pool[0]), round, PAGE_SIZE)) {
			pr_err("arxe_frwr_test: edge map %u: the page was written wrong\n",
			       round);
			err = -EIO;
		}
		if (!err) {
			inv.opcode = IB_WR_LOCAL_INV;
			inv.ex.invalidate_rkey = t->mr->rkey;
			err = frwr_do(t, t->qp_b, t->cq_b, &inv, "LOCAL_INV");
		}
unmap:
		ib_dma_unmap_sg(t->ibdev, sg, 2, DMA_BIDIRECTIONAL);
	}
	if (!err)
		pr_info("arxe_frwr_test: dev %s: edge maps ok\n", dev);
	return err;
}

/* An RDMA WRITE from A with @rkey must fail at the responder. */
static int frwr_write_refused(struct frwr_test *t, u32 rkey, const char *what)
{
	struct ib_sge sge = {
		.addr = (uintptr_t)t->buf,
		.length = 8,
		.lkey = t->pd->local_dma_lkey,
	};
	struct ib_rdma_wr wr = {
		.wr.opcode = IB_WR_RDMA_WRITE,
		.wr.send_flags = IB_SEND_SIGNALED,
		.wr.sg_list = &sge,
		.wr.num_sge = 1,
		.remote_addr = t->mr->iova,
		.rkey = rkey,
	};
	struct ib_wc wc;
	int err;

	err = ib_post_send(t->qp_a, &wr.wr, NULL);
	if (!err)
		err = frwr_wait(t, t->cq_a, &wc);
	if (err)
		return err;
	if (wc.status != IB_WC_REM_ACCESS_ERR) {
		pr_err("arxe_frwr_test: RDMA WRITE to %s key %#x: %s, not a remote access error\n",
		       what, rkey, ib_wc_status_msg(wc.status));
		return -EIO;
	}
	return 0;
}

/* Wait (at most @timeout_ms) until @qp is in the error state. */
static int frwr_wait_error(struct ib_qp *qp)
{
	unsigned long until = jiffies + msecs_to_jiffies(timeout_ms);
	struct ib_qp_init_attr init;
	struct ib_qp_attr attr;
	int err;

	do {
		err = ib_query_qp(qp, &attr, IB_QP_STATE, &init);
		if (err || attr.qp_state == IB_QPS_ERR)
			return err;
		usleep_range(1000, 2000);
	} while (time_before(jiffies, until));
	pr_err("arxe_frwr_test: QP %u not in the error state after %u ms\n",
	       qp->qp_num, timeout_ms);
	return -ETIMEDOUT;
}

/*
 * Both QPs back to RTS after a refused access. The responder's QP moves
 * to the error state once it has sent its NAK, which can be after the
 * requester saw the NAK: wait for that before the reset, which the move
 * would otherwise undo.
 * arxe moves the requester's QP to the error state before it posts the
 * error completion, so A is reset at once, as a consumer would; stock rxe
 * posts first, and a reset in between is undone: wait for it there.
 */
static int frwr_reconnect(struct frwr_test *t)
{
	struct ib_qp_init_attr init;
	struct ib_qp_attr attr;
	int err;

	if (t->ibdev->ops.driver_id == RDMA_DRIVER_RXE) {
		err = frwr_wait_error(t->qp_a);
	} else {
		err = ib_query_qp(t->qp_a, &attr, IB_QP_STATE, &init);
		if (!err && attr.qp_state != IB_QPS_ERR) {
			pr_err("arxe_frwr_test: QP %u in state %d when its error completion was polled\n",
			       t->qp_a->qp_num, attr.qp_state);
			err = -EIO;
		}
	}
	if (!err)
		err = frwr_wait_error(t->qp_b);
	if (err)
		return err;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RESET;
	err = frwr_modify(t->qp_a, &attr, IB_QP_STATE, "RESET");
	if (!err)
		err = frwr_modify(t->qp_b, &attr, IB_QP_STATE, "RESET");
	if (!err)
		err = frwr_connect(t, t->qp_a, t->qp_b->qp_num);
	if (!err)
		err = frwr_connect(t, t->qp_b, t->qp_a->qp_num);
	return err;
}

/*
 * The MR, invalidated, mapped again onto the pages of @cycle under a new
 * key: an RDMA WRITE under the new key reaches its first and last bytes
 * (poisoned before), one under the old key must fail at the responder and
 * change nothing.
 * The mapping stays until teardown, which deregisters the MR first.
 */
static int frwr_check_remapped(struct frwr_test *t, unsigned int cycle)
{
	u32 old = t->mr->rkey;
	unsigned int first_off, len, nents, i;
	struct ib_reg_wr reg = {};
	u64 at[2];
	int n, j, err;

	len = frwr_fill_sg(t, cycle, &first_off);
	nents = ib_dma_map_sg(t->ibdev, t->sgt.sgl, pages, DMA_BIDIRECTIONAL);
	if (!nents)
		return -ENOMEM;
	t->sgt_mapped = true;
	ib_update_fast_reg_key(t->mr, ib_inc_rkey(old));
	n = ib_map_mr_sg(t->mr, t->sgt.sgl, nents, NULL, PAGE_SIZE);
	if (n != nents) {
		pr_err("arxe_frwr_test: re-map: ib_map_mr_sg mapped %d of %u\n",
		       n, nents);
		return n < 0 ? n : -EIO;
	}
	reg.wr.opcode = IB_WR_REG_MR;
	reg.mr = t->mr;
	reg.key = t->mr->rkey;
	reg.access = IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
		     IB_ACCESS_REMOTE_READ;
	err = frwr_do(t, t->qp_b, t->cq_b, &reg.wr, "REG_MR");
	if (err)
		return err;
	at[0] = 0;
	at[1] = len - 8;
	for (j = 0; j < 2; j++) {
		for (i = 0; i < 8; i++) {
			*frwr_pool_ptr(t, cycle, at[j] + i, first_off) =
				~frwr_pattern(cycle, at[j] + i);
			t->buf[i] = frwr_pattern(cycle, at[j] + i);
		}
		err = frwr_rdma(t, IB_WR_RDMA_WRITE, t->mr->iova + at[j],
				t->mr->rkey, 8);
		if (err)
			return err;
		for (i = 0; i < 8; i++) {
			if (frwr_pool_byte(t, cycle, at[j] + i, first_off) !=
			    frwr_pattern(cycle, at[j] + i)) {
				pr_err("arxe_frwr_test: re-map: byte %llu under key %#x written wrong\n",
				       at[j] + i, t->mr->rkey);
				return -EIO;
			}
		}
	}
	/*
	 * The old key's WRITE carries other bytes to the same address: the
	 * MR's first bytes must still be the new key's.
	 */
	for (i = 0; i < 8; i++)
		t->buf[i] = ~frwr_pattern(cycle, i);
	err = frwr_write_refused(t, old, "the re-mapped MR's old");
	if (err)
		return err;
	for (i = 0; i < 8; i++) {
		if (frwr_pool_byte(t, cycle, i, first_off) !=
		    frwr_pattern(cycle, i)) {
			pr_err("arxe_frwr_test: re-map: the refused old key %#x changed byte %u\n",
			       old, i);
			return -EIO;
		}
	}
	return 0;
}

static int __init frwr_test_init(void)
{
	struct frwr_test t = {};
	unsigned int cycle;
	u64 start, ns;
	int err;

	if (!pages || !cycles)
		return -EINVAL;
	err = ib_register_client(&frwr_client);
	if (err)
		return err;
	t.ibdev = frwr_found;
	if (!t.ibdev) {
		pr_err("arxe_frwr_test: no RDMA device %s\n", dev);
		err = -ENODEV;
		goto out_client;
	}
	t.deadline = jiffies + secs_to_jiffies(seconds);
	err = frwr_setup(&t);
	if (err) {
		pr_err("arxe_frwr_test: setup on %s: %d\n", dev, err);
		goto out;
	}
	if (edges) {
		err = frwr_edges(&t);
		if (err)
			goto out;
	}
	start = ktime_get_ns();
	for (cycle = 0; cycle < cycles && !err; cycle++) {
		err = frwr_cycle(&t, cycle);
		cond_resched();
	}
	ns = ktime_get_ns() - start;
	if (err) {
		pr_err("arxe_frwr_test: dev %s pages %u: failed in cycle %u: %d\n",
		       dev, pages, cycle - 1, err);
		goto out;
	}
	err = frwr_write_refused(&t, t.mr->rkey, "the invalidated");
	if (!err)
		err = frwr_reconnect(&t);
	if (!err)
		err = frwr_check_remapped(&t, cycle);
	if (!err)
		pr_info("arxe_frwr_test: dev %s pages %u cycles %u data %s: ok, %llu ns per cycle\n",
			dev, pages, cycles, data ? "checked" : "none",
			div64_u64(ns, cycles));
	else
		pr_err("arxe_frwr_test: dev %s pages %u: the final key checks failed: %d\n",
		       dev, pages, err);
out:
	frwr_teardown(&t);
	ib_device_put(t.ibdev);
out_client:
	ib_unregister_client(&frwr_client);
	frwr_found = NULL;
	return err;
}

static void __exit frwr_test_exit(void)
{
}

module_init(frwr_test_init);
module_exit(frwr_test_exit);
MODULE_DESCRIPTION("Fast-registration cycles with data checks, for arxe's tests");
MODULE_LICENSE("Dual BSD/GPL");

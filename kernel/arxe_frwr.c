// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Fast registration (FRWR) of kernel MRs through IOVA space the MR keeps.
 *
 * A kernel user (NFS over RDMA, NVMe over RDMA, ...) allocates an MR for
 * up to max_num_sg pages with ib_alloc_mr(), then for each I/O maps a page
 * list into it with ib_map_mr_sg(), registers it with a REG_MR work
 * request and invalidates it with LOCAL_INV or a peer's SEND_WITH_INV.
 * A hardware driver behind an IOMMU maps every I/O's pages with the
 * streaming DMA API, which allocates and frees IOVA space per I/O. arxe
 * translates a fast-registration MR in the device's mode (attribute or
 * module parameter xlate) when the MR is allocated:
 *
 *   aligned  the IOVA range is allocated once, by ib_alloc_mr(); each map
 *            links the page list into it (a physically contiguous run as
 *            one link, one IOTLB sync), each invalidate unlinks it: no
 *            IOVA allocation per I/O, the device table stays one entry;
 *   iova     what hardware drivers get: each map allocates an IOVA range
 *            and links into it, each invalidate unlinks and frees it;
 *   pages    rxe's page table (so is "fallback", without an IOMMU).
 *
 * The page addresses a kernel user passes are rxe's virtual DMA addresses
 * (kernel virtual addresses of lowmem pages). Map and invalidate take the
 * MR's lock for writing, so they wait for accesses in flight (arxe_xlate.c)
 * and every mapping gets a new generation for the translation cache.
 */

#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/scatterlist.h>

#include "rxe.h"
#include "arxe.h"

/*
 * Choose the translation of a new fast-registration MR and set it up, with
 * the device's xlate_sem held for reading.
 */
static int arxe_frwr_setup(struct rxe_dev *rxe, struct rxe_mr *mr,
			   int max_pages)
{
	struct device *dev = rxe->arxe.xlate_dev;
	struct arxe_mr *x = &mr->xlate;
	int err;

	x->frwr = true;
	x->mode = arxe_mr_choose_mode(rxe, 0);
	x->max_pages = max_pages;
	if (x->mode == ARXE_XLATE_FALLBACK)
		rxe_counter_inc(rxe, ARXE_CNT_FALLBACKS);
	if (!arxe_mr_via_iommu(mr)) {
		err = rxe_mr_alloc_page_info(mr, max_pages);
		if (err)
			return err;
		goto out;
	}
	x->domain = arxe_dma_domain(dev);
	x->dev = get_device(dev);
	if (x->mode == ARXE_XLATE_ALIGNED) {
		if (!arxe_iova_fits(rxe, (u64)max_pages << PAGE_SHIFT) ||
		    !arxe_iova_try_alloc(rxe, x, (size_t)max_pages << PAGE_SHIFT))
			return -ENOMEM;
		x->reserved = (size_t)max_pages << PAGE_SHIFT;
		rxe_counter_inc(rxe, ARXE_CNT_IOVA_ALLOCS);
	}
	arxe_mr_list(rxe, mr);
out:
	arxe_mr_count(mr, 1);
	x->counted = true;
	return 0;
}

/*
 * arxe_mr_init_fast - choose the translation of a new fast-registration MR
 * for @max_pages pages and give it its IOVA range (aligned) or rxe's page
 * table (pages, fallback). On error the caller cleans the MR up, which
 * releases what was set up (arxe_mr_release()). Process context.
 */
int arxe_mr_init_fast(struct rxe_mr *mr, int max_pages)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	int err;

	if (max_pages <= 0 || max_pages > rxe->attr.max_fast_reg_page_list_len)
		return -EINVAL;
	down_read(&rxe->arxe.xlate_sem);
	err = arxe_frwr_setup(rxe, mr, max_pages);
	up_read(&rxe->arxe.xlate_sem);
	return err;
}

/*
 * Undo the current map of a translated fast-registration MR: unlink what
 * is linked (iova: and free the range, all of it, whatever was linked).
 * MR lock held for writing, or no users left.
 */
static void arxe_frwr_unlink(struct rxe_mr *mr)
{
	struct arxe_mr *x = &mr->xlate;

	/* arxe_mr_revoke() undid everything, in the device's last domain */
	if (x->revoked)
		return;

	if (x->span)
		dma_iova_unlink(x->dev, &x->state, 0, x->span,
				DMA_BIDIRECTIONAL, 0);
	if (x->mode == ARXE_XLATE_IOVA && x->reserved) {
		arxe_iova_free(to_rdev(mr->ibmr.device), x);
		x->reserved = 0;
	}
	x->span = 0;
	x->run_len = 0;
	x->gen = arxe_new_gen();
}

/* Link the pending run of a map at the end of what is linked. */
static int arxe_frwr_link_run(struct arxe_mr *x)
{
	int err;

	if (!x->run_len)
		return 0;
	err = dma_iova_link(x->dev, &x->state, x->run_phys, x->span,
			    x->run_len, DMA_BIDIRECTIONAL, 0);
	if (err)
		return err;
	x->span += x->run_len;
	x->run_len = 0;
	return 0;
}

/* ib_sg_to_pages() callback: one page of the MR's page size at @addr. */
static int arxe_frwr_set_page(struct ib_mr *ibmr, u64 addr)
{
	struct rxe_mr *mr = to_rmr(ibmr);
	struct arxe_mr *x = &mr->xlate;
	phys_addr_t phys = page_to_phys(ib_virt_dma_to_page(addr));
	u64 size = ibmr->page_size;
	int err;

	if (x->span + x->run_len + size > x->reserved)
		return -ENOMEM;
	if (x->run_len && phys == x->run_phys + x->run_len) {
		x->run_len += size;
		return 0;
	}
	err = arxe_frwr_link_run(x);
	if (err) {
		x->map_err = err;
		return err;
	}
	x->run_phys = phys;
	x->run_len = size;
	return 0;
}

/*
 * Give a map IOVA space for @size bytes: aligned MRs have it (unless a
 * page size above PAGE_SIZE needs more), iova MRs allocate it now.
 */
static int arxe_frwr_space(struct rxe_mr *mr, size_t size)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	struct arxe_mr *x = &mr->xlate;

	if (x->mode == ARXE_XLATE_ALIGNED) {
		if (size <= x->reserved)
			return 0;
		if (x->reserved)
			arxe_iova_free(rxe, x);
		x->reserved = 0;
	}
	/* nothing to map (an sg_offset that consumes the list) */
	if (!size)
		return 0;
	if (!arxe_iova_try_alloc(rxe, x, size))
		return -ENOMEM;
	x->reserved = size;
	rxe_counter_inc(rxe, ARXE_CNT_IOVA_ALLOCS);
	return 0;
}

/*
 * The IOVA space a map of @sgl needs: its pages of @page_size, at most
 * @max_pages of them.
 */
static size_t arxe_sg_span(struct scatterlist *sgl, int sg_nents,
			   unsigned int sg_offset, u64 page_size,
			   unsigned int max_pages)
{
	u64 pages = 0, start, end;
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, sg_nents, i) {
		start = sg_dma_address(sg) + (i ? 0 : sg_offset);
		end = sg_dma_address(sg) + sg_dma_len(sg);
		if (end <= start)
			continue;
		pages += (ALIGN(end, page_size) - ALIGN_DOWN(start, page_size)) /
			 page_size;
	}
	return min_t(u64, pages, max_pages) * page_size;
}

/*
 * arxe_map_mr_sg - the map_mr_sg verb of a translated fast-registration
 * MR: link the pages of @sgl into the MR's IOVA range, replacing its
 * previous map. Returns the number of scatterlist entries mapped, as
 * ib_map_mr_sg() documents, or a negative errno with nothing mapped.
 * Process or softirq context, with interrupts enabled (it takes the MR's
 * lock with write_lock_bh(), and dma_iova_try_alloc() may not be called
 * from hard interrupts): kernel users map while they cannot sleep, but
 * not from hard interrupt handlers.
 */
int arxe_map_mr_sg(struct rxe_mr *mr, struct scatterlist *sgl, int sg_nents,
		   unsigned int *sg_offset)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	u32 page_size = mr->ibmr.page_size;
	struct arxe_mr *x = &mr->xlate;
	int n, err;

	if (page_size < PAGE_SIZE || !is_power_of_2(page_size))
		return -EINVAL;

	write_lock_bh(&x->lock);
	/* the translation device went away: nothing maps any more */
	if (x->revoked) {
		err = -EIO;
		goto out;
	}
	arxe_frwr_unlink(mr);
	mr->page_shift = ilog2(page_size);
	mr->page_mask = ~((u64)page_size - 1);
	err = arxe_frwr_space(mr, x->mode == ARXE_XLATE_IOVA ?
			      arxe_sg_span(sgl, sg_nents,
					   sg_offset ? *sg_offset : 0,
					   page_size, x->max_pages) :
			      (size_t)x->max_pages * page_size);
	if (err)
		goto out;

	x->map_err = 0;
	n = ib_sg_to_pages(&mr->ibmr, sgl, sg_nents, sg_offset,
			   arxe_frwr_set_page);
	err = x->map_err;
	if (!err && n < 0)
		err = n;
	if (!err)
		err = arxe_frwr_link_run(x);
	if (!err && x->span)
		err = dma_iova_sync(x->dev, &x->state, 0, x->span);
	if (err) {
		arxe_frwr_unlink(mr);
		goto out;
	}
	x->first = x->state.addr;
	x->va0 = mr->ibmr.iova & mr->page_mask;
	if (x->mode == ARXE_XLATE_ALIGNED)
		rxe_counter_inc(rxe, ARXE_CNT_FRWR_RELINKS);
out:
	write_unlock_bh(&x->lock);
	return err ? err : n;
}

/*
 * arxe_reg_fast_mr - a REG_MR work request makes @mr valid with @access
 * at the address and length of its ib_mr. Fixes where the map serves
 * from.
 */
int arxe_reg_fast_mr(struct rxe_mr *mr, int access)
{
	struct arxe_mr *x = &mr->xlate;

	if (!x->frwr || !arxe_mr_via_iommu(mr))
		return 0;
	write_lock_bh(&x->lock);
	x->va = mr->ibmr.iova;
	x->length = mr->ibmr.length;
	x->va0 = x->va & mr->page_mask;
	x->bus = x->first + (x->va - x->va0);
	write_unlock_bh(&x->lock);
	return 0;
}

/*
 * arxe_mr_invalidate - LOCAL_INV or a remote invalidate made @mr free:
 * unlink its map once the accesses in flight are done. Requester or
 * responder context.
 */
void arxe_mr_invalidate(struct rxe_mr *mr)
{
	struct arxe_mr *x = &mr->xlate;

	if (!x->frwr || !arxe_mr_via_iommu(mr))
		return;
	write_lock_bh(&x->lock);
	arxe_frwr_unlink(mr);
	write_unlock_bh(&x->lock);
}

/*
 * arxe_frwr_unmap - undo the translation of a fast-registration MR at
 * cleanup (no users left) or revocation (MR lock held for writing):
 * unlink the @linked bytes mapped now and free the IOVA space.
 */
void arxe_frwr_unmap(struct rxe_mr *mr, u64 linked)
{
	struct arxe_mr *x = &mr->xlate;

	if (!x->dev)
		return;
	if (linked)
		dma_iova_unlink(x->dev, &x->state, 0, linked,
				DMA_BIDIRECTIONAL, 0);
	if (x->reserved)
		arxe_iova_free(to_rdev(mr->ibmr.device), x);
	x->reserved = 0;
	x->span = 0;
	x->run_len = 0;
}

// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The data path of translated MRs: MR address -> bus address -> memory.
 *
 * An iova or aligned MR keeps one device-table entry, the bus address of
 * its mapping. An access computes the bus address of the MR address and
 * resolves it the way the IOMMU would for the device, with
 * iommu_iova_to_phys() on the translation device's domain; an address that
 * resolves to nothing, or lies outside the MR's mapping, is an access
 * error. A wrong link in the IOMMU therefore gives wrong data, as it would
 * on hardware. A fallback MR (no translating IOMMU) looks the MR offset up
 * in its table of physically contiguous runs instead.
 *
 * Resolved translations are kept in a small per-CPU translation cache (the
 * "IOTLB"): each entry is a physically contiguous run of bus addresses,
 * never across a 2 MiB boundary of bus addresses and up to it when bus and
 * physical address are congruent there, tagged with the generation of the
 * MR mapping it came from. A mapping's generation is never reused, so an
 * entry of an unlinked or freed mapping can never hit. Runs that ended
 * after one page (memory that is not physically contiguous, small
 * accesses, the last page before a 2 MiB boundary or the end of the
 * mapping) go to a two-way set-associative table indexed by the bus page,
 * offset by a hash of the generation, so that the pages of a few buffers
 * stay cached together; longer runs go to a short list searched in full.
 * Copies go run by run, not page by page.
 *
 * Called from the requester, responder and completer (softirq or task
 * context) with a reference on the MR held from resolve to end of copy.
 */

#include <linux/hash.h>
#include <linux/iommu.h>
#include <linux/libnvdimm.h>
#include <linux/mm.h>
#include <linux/percpu.h>

#include "rxe.h"
#include "arxe.h"

/* Every page is in the kernel's direct map: no kmap needed. */
static_assert(!IS_ENABLED(CONFIG_HIGHMEM));

#define ARXE_TLB_RUNS 8
#define ARXE_TLB_SETS_SHIFT 6
#define ARXE_TLB_SETS BIT(ARXE_TLB_SETS_SHIFT)
#define ARXE_TLB_WAYS 2

struct arxe_tlb_entry {
	u64 gen;			/* 0: empty */
	dma_addr_t bus;
	phys_addr_t phys;
	u64 len;
};

/*
 * Used with bottom halves disabled: the requester, responder and completer
 * of any QP may resolve on the CPU.
 */
struct arxe_tlb {
	/* runs of one page; in each set, way 0 the one filled last (FIFO) */
	struct arxe_tlb_entry one[ARXE_TLB_SETS][ARXE_TLB_WAYS];
	/* longer runs, replaced in turn */
	struct arxe_tlb_entry run[ARXE_TLB_RUNS];
	unsigned int next_run;		/* the run entry replaced next */
};

static DEFINE_PER_CPU_ALIGNED(struct arxe_tlb, arxe_tlb);

/* Does the MR's data path go through the IOMMU? */
bool arxe_mr_via_iommu(struct rxe_mr *mr)
{
	return mr->xlate.mode == ARXE_XLATE_IOVA ||
	       mr->xlate.mode == ARXE_XLATE_ALIGNED;
}

/* Does arxe translate the MR's accesses (else rxe's page table does)? */
bool arxe_mr_translated(struct rxe_mr *mr)
{
	return arxe_mr_via_iommu(mr) || mr->xlate.runs;
}

/*
 * arxe_mr_sync - sync the IOTLB over an aligned MR's mapping before the
 * data path first uses it: registration links without syncing. Called
 * with the MR's lock held for reading (the mapping cannot go) and bottom
 * halves disabled; dma_iova_sync() may be called where dma_map_page()
 * may, atomic context included.
 */
static int arxe_mr_sync(struct arxe_mr *x)
{
	int err = 0;

	spin_lock(&x->sync_lock);
	if (!x->unsynced)
		goto out;
	err = dma_iova_sync(x->dev, &x->state, x->place, x->span);
	if (err) {
		dev_warn_ratelimited(x->dev, "arxe: syncing the IOTLB for an MR failed (%d): its accesses fail\n",
				     err);
		goto out;
	}
	/* pairs with arxe_tlb_fill(): synced before it reads clear */
	smp_store_release(&x->unsynced, false);
out:
	spin_unlock(&x->sync_lock);
	return err;
}

/*
 * The set of the cache that holds the one-page run at bus address @bus of
 * mapping generation @gen: consecutive pages of a mapping fall in
 * consecutive sets, from a set that depends on the mapping.
 */
static __always_inline struct arxe_tlb_entry *
arxe_tlb_set(struct arxe_tlb *tlb, u64 gen, dma_addr_t bus)
{
	u64 set = (bus >> PAGE_SHIFT) + hash_64(gen, ARXE_TLB_SETS_SHIFT);

	return &tlb->one[set % ARXE_TLB_SETS][0];
}

/* The cached run holding bus address @bus of mapping generation @gen. */
static __always_inline struct arxe_tlb_entry *
arxe_tlb_lookup(struct arxe_tlb *tlb, u64 gen, dma_addr_t bus)
{
	struct arxe_tlb_entry *e = arxe_tlb_set(tlb, gen, bus);
	int i;

	for (i = 0; i < ARXE_TLB_WAYS; i++, e++) {
		if (e->gen == gen && bus - e->bus < e->len)
			return e;
	}
	for (i = 0; i < ARXE_TLB_RUNS; i++) {
		e = &tlb->run[i];
		if (e->gen == gen && bus - e->bus < e->len)
			return e;
	}
	return NULL;
}

/*
 * arxe_tlb_fill - resolve bus address @bus of @x through the IOMMU into a
 * cache entry: the physically contiguous run from @bus's page to @want
 * rounded up to a page, or to the next 2 MiB boundary of bus addresses when
 * @bus and its physical address are congruent modulo 2 MiB; never past that
 * boundary, the end of the mapping or the first physical discontinuity (at
 * most 2 MiB / PAGE_SIZE walks of the IOMMU's table, whatever length an
 * access asks for). Returns the entry, or NULL if the IOMMU maps nothing at
 * @bus or the mapping could not be synced.
 */
static noinline struct arxe_tlb_entry *arxe_tlb_fill(struct arxe_tlb *tlb,
						     struct arxe_mr *x,
						     dma_addr_t bus,
						     dma_addr_t want)
{
	dma_addr_t end = x->first + x->span, page = bus & PAGE_MASK;
	dma_addr_t leaf_end = ALIGN(bus + 1, ARXE_SZ_2M);
	struct arxe_tlb_entry *e;
	phys_addr_t phys;
	u64 len;

	/* pairs with arxe_mr_sync(): clear only once the sync is done */
	if (unlikely(smp_load_acquire(&x->unsynced)) && arxe_mr_sync(x))
		return NULL;
	phys = iommu_iova_to_phys(x->domain, page);
	if (!phys)
		return NULL;
	if (!((page ^ phys) & (ARXE_SZ_2M - 1)))
		want = leaf_end;
	want = min3(ALIGN(want, PAGE_SIZE), leaf_end, end);
	for (len = PAGE_SIZE; page + len < want; len += PAGE_SIZE)
		if (iommu_iova_to_phys(x->domain, page + len) != phys + len)
			break;

	if (len == PAGE_SIZE) {
		e = arxe_tlb_set(tlb, x->gen, page);
		memmove(e + 1, e, (ARXE_TLB_WAYS - 1) * sizeof(*e));
	} else {
		e = &tlb->run[tlb->next_run];
		tlb->next_run = (tlb->next_run + 1) % ARXE_TLB_RUNS;
	}
	e->gen = x->gen;
	e->bus = page;
	e->phys = phys;
	e->len = len;
	return e;
}

/*
 * arxe_translate - the physical address of bus address @bus of @mr, and in
 * @run how many bytes from there are physically contiguous (at least one).
 * @want is the end of the bus range the caller is about to access. Called
 * with the MR's lock held for reading and bottom halves disabled.
 */
static __always_inline int arxe_translate(struct rxe_mr *mr, dma_addr_t bus,
					  dma_addr_t want, phys_addr_t *phys,
					  u64 *run)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	struct arxe_tlb *tlb = this_cpu_ptr(&arxe_tlb);
	struct arxe_mr *x = &mr->xlate;
	struct arxe_tlb_entry *e;

	e = arxe_tlb_lookup(tlb, x->gen, bus);
	if (e) {
		rxe_counter_inc(rxe, ARXE_CNT_TLB_HITS);
	} else {
		rxe_counter_inc(rxe, ARXE_CNT_TLB_MISSES);
		e = arxe_tlb_fill(tlb, x, bus, want);
		if (!e)
			return -EFAULT;
	}
	*phys = e->phys + (bus - e->bus);
	*run = e->len - (bus - e->bus);
	return 0;
}

/*
 * arxe_lookup_run - the physical address of MR offset @off of a fallback
 * MR, from its run table (sorted by offset), and in @run the bytes left in
 * that run.
 */
static void arxe_lookup_run(struct arxe_mr *x, u64 off, phys_addr_t *phys,
			    u64 *run)
{
	unsigned int lo = 0, hi = x->nr_runs - 1, mid;
	u64 end;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (x->runs[mid].off <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	end = lo + 1 < x->nr_runs ? x->runs[lo + 1].off : x->span;
	*phys = x->runs[lo].phys + (off - x->runs[lo].off);
	*run = end - off;
}

/*
 * arxe_resolve - the physical address behind MR address @iova, and the
 * contiguous bytes from there, for an access of @length bytes. Called with
 * the MR's lock held for reading. -EFAULT when @iova is outside the
 * mapping (an invalidated or never mapped fast-registration MR) or the
 * IOMMU maps nothing there.
 */
static __always_inline int arxe_resolve(struct rxe_mr *mr, u64 iova,
					unsigned int length, phys_addr_t *phys,
					u64 *run)
{
	struct arxe_mr *x = &mr->xlate;
	u64 off = iova - x->va0;

	if (iova < x->va0 || off >= x->span)
		return -EFAULT;
	if (x->runs) {
		arxe_lookup_run(x, off, phys, run);
		return 0;
	}
	return arxe_translate(mr, x->first + off, x->first + off + length,
			      phys, run);
}

/*
 * arxe_mr_copy - copy @length bytes between @addr and MR address @iova
 * (@to_mr: into the MR). The range was checked against the MR.
 */
int arxe_mr_copy(struct rxe_mr *mr, u64 iova, void *addr, unsigned int length,
		 bool to_mr)
{
	struct arxe_mr *x = &mr->xlate;
	unsigned int chunk;
	phys_addr_t phys;
	int err = 0;
	u64 run;

	read_lock_bh(&x->lock);
	while (length) {
		err = arxe_resolve(mr, iova, length, &phys, &run);
		if (err)
			break;
		chunk = min_t(u64, length, run);
		if (to_mr)
			memcpy(phys_to_virt(phys), addr, chunk);
		else
			memcpy(addr, phys_to_virt(phys), chunk);
		iova += chunk;
		addr += chunk;
		length -= chunk;
	}
	read_unlock_bh(&x->lock);
	return err;
}

/*
 * arxe_resolve_word - the physical address of the u64 at MR address @iova
 * (in range, checked by the caller), for an atomic. Called with the MR's
 * lock held for reading. -EINVAL if misaligned, -EFAULT if not mapped.
 */
static int arxe_resolve_word(struct rxe_mr *mr, u64 iova, phys_addr_t *phys)
{
	u64 run;
	int err;

	err = arxe_resolve(mr, iova, sizeof(u64), phys, &run);
	if (!err && (*phys & 7))
		err = -EINVAL;
	return err;
}

/*
 * arxe_mr_do_atomic_op - an atomic operation on the u64 at MR address
 * @iova. The mapping is held until the operation is done.
 */
int arxe_mr_do_atomic_op(struct rxe_mr *mr, u64 iova, int opcode,
			 u64 compare, u64 swap_add, u64 *orig_val)
{
	phys_addr_t phys;
	int err;

	read_lock_bh(&mr->xlate.lock);
	err = arxe_resolve_word(mr, iova, &phys);
	if (!err)
		rxe_atomic_on_page(phys_to_page(phys), offset_in_page(phys),
				   opcode, compare, swap_add, orig_val);
	read_unlock_bh(&mr->xlate.lock);
	return err;
}

/* arxe_mr_do_atomic_write - an ATOMIC WRITE of @value at MR address @iova. */
int arxe_mr_do_atomic_write(struct rxe_mr *mr, u64 iova, u64 value)
{
	phys_addr_t phys;
	int err;

	read_lock_bh(&mr->xlate.lock);
	err = arxe_resolve_word(mr, iova, &phys);
	if (!err)
		rxe_atomic_write_on_page(phys_to_page(phys),
					 offset_in_page(phys), value);
	read_unlock_bh(&mr->xlate.lock);
	return err;
}

/*
 * arxe_mr_flush_pmem - write the CPU caches back over MR addresses
 * [@iova, @iova + @length) of a translated MR, for an RDMA FLUSH to
 * persistence. Responder context. -EINVAL outside the MR, -EFAULT where
 * nothing is mapped.
 */
int arxe_mr_flush_pmem(struct rxe_mr *mr, u64 iova, unsigned int length)
{
	struct arxe_mr *x = &mr->xlate;
	unsigned int chunk;
	phys_addr_t phys;
	int err;
	u64 run;

	err = mr_check_range(mr, iova, length);
	if (err)
		return err;
	while (length && !err) {
		/* at most 2 MiB per hold of the lock: bottom halves run between */
		read_lock_bh(&x->lock);
		err = arxe_resolve(mr, iova, length, &phys, &run);
		if (!err) {
			chunk = min_t(u64, min_t(u64, length, run), ARXE_SZ_2M);
			arch_wb_cache_pmem(phys_to_virt(phys), chunk);
			iova += chunk;
			length -= chunk;
		}
		read_unlock_bh(&x->lock);
	}
	return err;
}

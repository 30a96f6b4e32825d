// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Registration of user memory through the IOMMU.
 *
 * A real NIC behind an IOMMU sees an MR as bus addresses. arxe makes the
 * same translation on its translation device (the PCI function under the
 * netdev), in one of three ways, chosen per MR when it is registered: the
 * device's mode (its attribute xlate, or else the module parameter xlate):
 *
 *   pages    rxe's own table of 4 KiB pages (no IOMMU involved);
 *   iova     the umem mapped with dma_map_sgtable(), as HW drivers do;
 *   aligned  arxe pins the range itself and maps it with the two-step DMA
 *            API at an IOVA congruent with the MR's address modulo the
 *            huge-page size (2 MiB, or 1 GiB for 1 GiB pages), so that the
 *            IOMMU can use huge leaves and the device needs one entry.
 *
 * Without a translating IOMMU (none, or passthrough) iova and aligned MRs
 * report "fallback" and keep a table of their physically contiguous runs
 * (one entry per run of folios, not per page).
 */

#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_umem_odp.h>

#include "rxe.h"
#include "arxe.h"

static const char * const arxe_mode_names[] = {
	[ARXE_XLATE_PAGES] = "pages",
	[ARXE_XLATE_IOVA] = "iova",
	[ARXE_XLATE_ALIGNED] = "aligned",
	[ARXE_XLATE_FALLBACK] = "fallback",
	[ARXE_XLATE_ODP] = "odp",
};

static enum arxe_xlate_mode arxe_xlate = ARXE_XLATE_ALIGNED;

/* The mode named by @val, one a user may choose, or -EINVAL. */
static int arxe_parse_mode(const char *val)
{
	int mode = sysfs_match_string(arxe_mode_names, val);

	if (mode < 0 || mode == ARXE_XLATE_FALLBACK || mode == ARXE_XLATE_ODP)
		return -EINVAL;
	return mode;
}

static int arxe_xlate_set(const char *val, const struct kernel_param *kp)
{
	int mode = arxe_parse_mode(val);

	if (mode < 0)
		return mode;
	WRITE_ONCE(arxe_xlate, mode);
	return 0;
}

static int arxe_xlate_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 arxe_mode_names[READ_ONCE(arxe_xlate)]);
}

static const struct kernel_param_ops arxe_xlate_ops = {
	.set = arxe_xlate_set,
	.get = arxe_xlate_get,
};
module_param_cb(xlate, &arxe_xlate_ops, NULL, 0644);
MODULE_PARM_DESC(xlate, "Translation of new user MRs: pages, iova or aligned (default)");

static char arxe_xlate_dev_name[64];
module_param_string(xlate_dev, arxe_xlate_dev_name,
		    sizeof(arxe_xlate_dev_name), 0644);
MODULE_PARM_DESC(xlate_dev,
		 "PCI address of the translation device of new arxe devices (default: the PCI function under the netdev)");

static unsigned int arxe_iova_max_mb = 16384;
module_param_named(iova_max_mb, arxe_iova_max_mb, uint, 0644);
MODULE_PARM_DESC(iova_max_mb,
		 "IOVA space of its translation device an arxe device may hold for MRs, in MiB (default 16384); user MRs beyond it fall back to a table of physical runs");

const char *arxe_xlate_mode_name(enum arxe_xlate_mode mode)
{
	return arxe_mode_names[mode];
}

/*
 * The device attribute xlate (/sys/class/infiniband/DEV/xlate): the mode
 * of the device's new MRs (user MRs when they are registered, fast
 * registration MRs when they are allocated; MRs keep theirs). It reads as
 * the mode asked for, followed by " (module default)" while the device
 * follows the module parameter (an MR reports the mode it got: fallback
 * without a translating IOMMU); writing a mode gives the device its own,
 * writing "default" makes it follow the module parameter again.
 */
static ssize_t xlate_show(struct device *device, struct device_attribute *attr,
			  char *buf)
{
	struct rxe_dev *rxe =
		rdma_device_to_drv_device(device, struct rxe_dev, ib_dev);
	int mode = READ_ONCE(rxe->arxe.xlate_mode);

	if (mode < 0)
		return sysfs_emit(buf, "%s (module default)\n",
				  arxe_mode_names[READ_ONCE(arxe_xlate)]);
	return sysfs_emit(buf, "%s\n", arxe_mode_names[mode]);
}

static ssize_t xlate_store(struct device *device, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	struct rxe_dev *rxe =
		rdma_device_to_drv_device(device, struct rxe_dev, ib_dev);
	int mode = -1;

	if (!sysfs_streq(buf, "default")) {
		mode = arxe_parse_mode(buf);
		if (mode < 0)
			return mode;
	}
	WRITE_ONCE(rxe->arxe.xlate_mode, mode);
	return count;
}

struct device_attribute arxe_dev_attr_xlate = __ATTR_RW(xlate);

/*
 * May arxe translate through PCI function @dev? Not one the kernel marks
 * untrusted (external-facing: its DMA is what the IOMMU must contain),
 * and only while a driver owns it (its IOMMU domain is the DMA API's).
 */
static bool arxe_xlate_dev_usable(struct device *dev)
{
	if (to_pci_dev(dev)->untrusted) {
		pr_warn("%s is untrusted: MRs fall back to physical addresses\n",
			dev_name(dev));
		return false;
	}
	if (!READ_ONCE(dev->driver)) {
		pr_warn("%s has no driver: MRs fall back to physical addresses\n",
			dev_name(dev));
		return false;
	}
	return true;
}

/*
 * arxe_find_xlate_dev - the device whose IOMMU translates for @ndev: the
 * one named by xlate_dev, else the first PCI function above the netdev (a
 * virtio NIC hangs under a virtio device, which does no DMA itself), if
 * arxe may use it. Returns a referenced device or NULL. Process context.
 */
struct device *arxe_find_xlate_dev(struct net_device *ndev)
{
	char name[sizeof(arxe_xlate_dev_name)];
	struct device *dev = NULL;

	kernel_param_lock(THIS_MODULE);
	strscpy(name, arxe_xlate_dev_name, sizeof(name));
	kernel_param_unlock(THIS_MODULE);
	strim(name);
	if (name[0]) {
		dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
		if (!dev)
			pr_warn("xlate_dev %s: no such PCI device; MRs fall back to physical addresses\n",
				name);
	} else {
		for (dev = ndev->dev.parent; dev; dev = dev->parent)
			if (dev_is_pci(dev))
				break;
		get_device(dev);
	}
	if (dev && !arxe_xlate_dev_usable(dev)) {
		put_device(dev);
		dev = NULL;
	}
	return dev;
}

/* Is @dev behind an IOMMU that translates its DMA API addresses? */
struct iommu_domain *arxe_dma_domain(struct device *dev)
{
	struct iommu_domain *domain;

	if (!dev)
		return NULL;
	domain = iommu_get_domain_for_dev(dev);
	if (!domain || !iommu_is_dma_domain(domain))
		return NULL;
	return domain;
}

/*
 * arxe_mr_choose_mode - how a new user MR with @access is translated on
 * @rxe: in the device's mode (its own or the module parameter's). ODP
 * MRs keep rxe's ODP page list; persistent-flush MRs keep rxe's table,
 * whose registration checks that every page is persistent memory.
 */
enum arxe_xlate_mode arxe_mr_choose_mode(struct rxe_dev *rxe, int access)
{
	int own = READ_ONCE(rxe->arxe.xlate_mode);
	enum arxe_xlate_mode mode = own < 0 ? READ_ONCE(arxe_xlate) : own;

	if (access & IB_ACCESS_ON_DEMAND)
		return ARXE_XLATE_ODP;
	if (access & IB_ACCESS_FLUSH_PERSISTENT)
		return ARXE_XLATE_PAGES;
	if (mode == ARXE_XLATE_PAGES)
		return mode;
	if (READ_ONCE(rxe->arxe.xlate_gone) ||
	    !arxe_dma_domain(rxe->arxe.xlate_dev))
		return ARXE_XLATE_FALLBACK;
	return mode;
}

static const enum rxe_counters arxe_mode_counter[] = {
	[ARXE_XLATE_PAGES] = ARXE_CNT_MR_PAGES,
	[ARXE_XLATE_IOVA] = ARXE_CNT_MR_IOVA,
	[ARXE_XLATE_ALIGNED] = ARXE_CNT_MR_ALIGNED,
	[ARXE_XLATE_FALLBACK] = ARXE_CNT_MR_FALLBACK,
	[ARXE_XLATE_ODP] = ARXE_CNT_MR_PAGES,
};

/*
 * arxe_mr_init - rxe_mr_init() of every MR, before it is used: a DMA MR
 * and an MR being set up keep rxe's table until told otherwise, an ODP
 * MR (set up by rxe_odp.c alone) rxe's ODP page list.
 */
void arxe_mr_init(struct rxe_mr *mr, int access)
{
	struct arxe_mr *x = &mr->xlate;

	rwlock_init(&x->lock);
	spin_lock_init(&x->sync_lock);
	INIT_LIST_HEAD(&x->dev_node);
	x->mode = access & IB_ACCESS_ON_DEMAND ? ARXE_XLATE_ODP :
		  ARXE_XLATE_PAGES;
	x->phys_pgsz = ARXE_SZ_4K;
}

/* arxe_new_gen - a name for a new mapping, never given out before. */
u64 arxe_new_gen(void)
{
	static atomic64_t arxe_gen = ATOMIC64_INIT(0);

	return atomic64_inc_return(&arxe_gen);
}

/* The pages of an ODP MR's page list (0 before it has one). */
static u64 arxe_odp_pages(struct rxe_mr *mr)
{
	if (!mr->umem || !mr->umem->is_odp)
		return 0;
	return ib_umem_odp_num_pages(to_ib_umem_odp(mr->umem));
}

/*
 * The device table of an MR: one (bus, length) entry when the IOMMU
 * translates it, the run table of a fallback MR, the pfn per page of an
 * ODP MR's page list, else rxe's table of struct rxe_mr_page, one per page.
 */
u64 arxe_mr_table_entries(struct rxe_mr *mr)
{
	if (arxe_mr_via_iommu(mr))
		return 1;
	if (mr->xlate.runs)
		return mr->xlate.nr_runs;
	if (mr->xlate.mode == ARXE_XLATE_ODP)
		return arxe_odp_pages(mr);
	return mr->num_buf;
}

u64 arxe_mr_table_bytes(struct rxe_mr *mr)
{
	if (arxe_mr_via_iommu(mr))
		return sizeof(mr->xlate.first) + sizeof(mr->xlate.span);
	if (mr->xlate.runs)
		return (u64)mr->xlate.nr_runs * sizeof(*mr->xlate.runs);
	if (mr->xlate.mode == ARXE_XLATE_ODP)
		return arxe_odp_pages(mr) * sizeof(unsigned long);
	return (u64)mr->num_buf * sizeof(struct rxe_mr_page);
}

/*
 * What the kernel keeps to unpin a user MR at release: an aligned MR's pin
 * record as allocated (nothing beyond struct arxe_mr for a record of
 * ARXE_PIN_FEW entries), else the umem's scatterlist, one entry per
 * contiguous segment (not counting the links between its chunks). Read
 * without a lock: a revoke may empty the record meanwhile.
 */
u64 arxe_mr_pin_bytes(struct rxe_mr *mr)
{
	struct arxe_mr *x = &mr->xlate;

	if (x->mode == ARXE_XLATE_ALIGNED)
		return READ_ONCE(x->pin_bytes);
	if (!mr->umem || mr->umem->is_odp)
		return 0;
	return (u64)mr->umem->sgt_append.sgt.orig_nents *
	       sizeof(struct scatterlist);
}

/*
 * Count an MR in (@sign 1) or out of (-1) the device's counters, which any
 * user may read: a fallback MR's run table, whose size tells how
 * physically contiguous the MR's memory is, is not in xlate_table_bytes.
 */
void arxe_mr_count(struct rxe_mr *mr, int sign)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);

	rxe_counter_add(rxe, arxe_mode_counter[mr->xlate.mode], sign);
	if (!mr->xlate.runs)
		rxe_counter_add(rxe, ARXE_CNT_TABLE_BYTES,
				sign * (s64)arxe_mr_table_bytes(mr));
}

/*
 * Note one physically contiguous run of a user MR in its layout, and the
 * IOMMU leaves that map it (with the tables they lie in). A run the
 * domain's page sizes cannot map (none of them is PAGE_SIZE) counts as
 * PAGE_SIZE leaves.
 */
static void arxe_mr_add_run(struct arxe_mr *x, struct arxe_layout *layout,
			    u64 off, phys_addr_t phys, u64 len)
{
	struct arxe_tables tables = x->tables;
	u64 leaves[ARXE_NR_LEAVES], o;

	arxe_layout_add_run(layout, (x->addr & PAGE_MASK) + off, phys, off == 0);
	if (!x->domain)
		return;
	memcpy(leaves, x->leaves, sizeof(leaves));
	if (arxe_count_leaves(x->first + off, phys, len,
			      x->domain->pgsize_bitmap, leaves, &tables)) {
		memcpy(x->leaves, leaves, sizeof(leaves));
		x->tables = tables;
		return;
	}
	for (o = 0; o < len; o += PAGE_SIZE)
		arxe_tables_add_leaf(&x->tables, x->first + off + o, PAGE_SIZE);
	x->leaves[ARXE_LEAF_4K] += len >> PAGE_SHIFT;
}

static void arxe_mr_finish_layout(struct arxe_mr *x, struct arxe_layout *layout)
{
	x->phys_pgsz = arxe_best_pgsz(layout->mask, ARXE_SZ_1G);
}

/*
 * arxe_mr_note_umem - record the layout of an MR pinned as a umem (pages,
 * fallback, iova; for iova, x->first set), for the reports.
 */
static void arxe_mr_note_umem(struct arxe_mr *x, struct ib_umem *umem)
{
	struct arxe_layout layout = {};
	struct scatterlist *sg;
	u64 off = 0;
	int i;

	for_each_sgtable_sg(&umem->sgt_append.sgt, sg, i) {
		arxe_mr_add_run(x, &layout, off, sg_phys(sg), sg->length);
		off += sg->length;
	}
	x->span = off;
	arxe_mr_finish_layout(x, &layout);
}

/*
 * The iova mode: map the umem like a hardware driver does. dma-iommu gives
 * the whole page list one contiguous IOVA range; check that it did.
 */
static int arxe_mr_map_umem(struct rxe_mr *mr, struct device *dev)
{
	struct arxe_mr *x = &mr->xlate;
	struct sg_table *sgt = &mr->umem->sgt_append.sgt;
	struct scatterlist *sg;
	dma_addr_t next;
	int err, i;

	err = dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL, 0);
	if (err)
		return err;
	next = sg_dma_address(sgt->sgl);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (sg_dma_address(sg) != next) {
			rxe_dbg_mr(mr, "umem mapped to a discontiguous IOVA range\n");
			dma_unmap_sgtable(dev, sgt, DMA_BIDIRECTIONAL, 0);
			return -EIO;
		}
		next += sg_dma_len(sg);
	}
	x->dev = get_device(dev);
	x->first = sg_dma_address(sgt->sgl);
	arxe_mr_note_umem(x, mr->umem);
	x->iova_size = x->span;
	rxe_counter_add(to_rdev(mr->ibmr.device), ARXE_CNT_IOVA_BYTES,
			x->iova_size);
	return 0;
}

/*
 * The fallback mode: no IOMMU translates, so the device table maps MR
 * offsets to physical addresses, one entry per physically contiguous run
 * of the umem (merging the segments the umem split).
 */
static int arxe_mr_build_runs(struct arxe_mr *x, struct ib_umem *umem)
{
	struct sg_table *sgt = &umem->sgt_append.sgt;
	unsigned int n = 0, pass, i;
	struct scatterlist *sg;
	phys_addr_t end;
	u64 off;

	for (pass = 0; pass < 2; pass++) {
		if (pass) {
			x->runs = kvmalloc_array(n, sizeof(*x->runs), GFP_KERNEL);
			if (!x->runs)
				return -ENOMEM;
			x->nr_runs = n;
			n = 0;
		}
		off = 0;
		end = 0;
		for_each_sgtable_sg(sgt, sg, i) {
			if (!off || sg_phys(sg) != end) {
				if (pass)
					x->runs[n] = (struct arxe_run){
						.off = off, .phys = sg_phys(sg) };
				n++;
			}
			end = sg_phys(sg) + sg->length;
			off += sg->length;
		}
	}
	return 0;
}

/*
 * arxe_iova_fits - may @rxe hold @size more bytes of IOVA space (module
 * parameter iova_max_mb)? A check, not a reservation: concurrent
 * registrations may overshoot the bound by what they hold each.
 */
bool arxe_iova_fits(struct rxe_dev *rxe, u64 size)
{
	u64 held = atomic64_read(&rxe->stats_counters[ARXE_CNT_IOVA_BYTES]);
	u64 max = (u64)READ_ONCE(arxe_iova_max_mb) << 20;

	return size <= max && held <= max - size;
}

/*
 * arxe_iova_try_alloc - allocate @size bytes (not 0) of IOVA space on
 * @x's translation device, counted in the device's xlate_iova_bytes.
 */
bool arxe_iova_try_alloc(struct rxe_dev *rxe, struct arxe_mr *x, size_t size)
{
	if (!dma_iova_try_alloc(x->dev, &x->state, 0, size))
		return false;
	x->iova_size = size;
	rxe_counter_add(rxe, ARXE_CNT_IOVA_BYTES, size);
	return true;
}

/* arxe_iova_free - free the IOVA space arxe_iova_try_alloc() gave @x. */
void arxe_iova_free(struct rxe_dev *rxe, struct arxe_mr *x)
{
	dma_iova_free(x->dev, &x->state);
	rxe_counter_add(rxe, ARXE_CNT_IOVA_BYTES, -(s64)x->iova_size);
	x->iova_size = 0;
}

/*
 * arxe_iova_align - the congruence worth asking for an MR of @span bytes
 * at @va0 whose first page is in a folio of @folio bytes: the largest
 * huge-page size the MR contains a whole aligned block of, else none
 * (PAGE_SIZE). IOVA space costs the NIC: a small MR, which no huge leaf
 * can map, needs no placement slack.
 */
static u64 arxe_iova_align(u64 va0, u64 span, size_t folio)
{
	u64 align = folio >= ARXE_SZ_1G ? ARXE_SZ_1G : ARXE_SZ_2M;

	for (; align > PAGE_SIZE; align = align == ARXE_SZ_1G ? ARXE_SZ_2M : PAGE_SIZE)
		if (ALIGN(va0, align) + align <= va0 + span)
			return align;
	return PAGE_SIZE;
}

/*
 * Allocate the IOVA space of an aligned MR: @span bytes from va0 (page
 * aligned), placed congruent with va0 modulo @align. The allocator aligns
 * a range to the power of two above its size, so a range of span plus
 * va0's offset in @align is enough when that reaches @align; otherwise
 * allocate @align more and place inside. -ENOSPC beyond iova_max_mb.
 */
static int arxe_iova_alloc(struct rxe_dev *rxe, struct arxe_mr *x, u64 va0,
			   u64 span, u64 align)
{
	size_t size = span + (va0 & (align - 1));
	int try;

	for (try = 0; try < 2; try++) {
		if (!arxe_iova_fits(rxe, size))
			return -ENOSPC;
		if (!arxe_iova_try_alloc(rxe, x, size))
			return -ENOMEM;
		x->place = arxe_place_iova(x->state.addr, va0, align) -
			   x->state.addr;
		if (x->place + span <= size)
			return 0;
		arxe_iova_free(rxe, x);
		size = span + align;
	}
	return -ENOMEM;
}

/* Pages a small MR's pinning keeps the page pointers of on the stack. */
#define ARXE_STACK_BATCH 8
/* Pages one pin record entry holds: its count less one fits below PAGE_SHIFT. */
#define ARXE_PIN_MAX_PAGES PAGE_SIZE
/* Links (physically contiguous runs) one unlink at release takes at most. */
#define ARXE_UNLINK_LINKS 1024
/* Bytes one unlink at release takes at most, unless one link is larger. */
#define ARXE_UNLINK_BYTES SZ_1G

static phys_addr_t arxe_pin_phys(u64 pin)
{
	return pin & ~(u64)(PAGE_SIZE - 1);
}

static u64 arxe_pin_pages(u64 pin)
{
	return (pin & (PAGE_SIZE - 1)) + 1;
}

/*
 * arxe_pins_add - note the physically contiguous run [@phys, @phys + @len)
 * (page aligned) in @x's pin record, all of it or (on -ENOMEM) none of
 * it. The record grows as needed: in the struct for a few entries, then
 * an array that doubles, never beyond one entry per pinned page.
 */
static int arxe_pins_add(struct arxe_mr *x, phys_addr_t phys, u64 len)
{
	u64 pages = len >> PAGE_SHIFT, need, max, n;
	u64 *grown;

	need = x->nr_pins + DIV_ROUND_UP(pages, ARXE_PIN_MAX_PAGES);
	if (need > x->max_pins) {
		max = min_t(u64, max_t(u64, need, (u64)x->max_pins * 2),
			    x->npages);
		if (max < need || max > INT_MAX / sizeof(*grown))
			return -ENOMEM;
		grown = kvmalloc_array(max, sizeof(*grown),
				       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!grown)
			return -ENOMEM;
		memcpy(grown, x->pins, x->nr_pins * sizeof(*grown));
		if (x->pins != x->pin_few)
			kvfree(x->pins);
		x->pins = grown;
		x->max_pins = max;
		WRITE_ONCE(x->pin_bytes, max * sizeof(*grown));
	}
	for (; pages; pages -= n, phys += n << PAGE_SHIFT) {
		n = min_t(u64, pages, ARXE_PIN_MAX_PAGES);
		x->pins[x->nr_pins++] = phys | (n - 1);
	}
	return 0;
}

/* arxe_pins_init - give @x an empty pin record. */
static void arxe_pins_init(struct arxe_mr *x)
{
	x->pins = x->pin_few;
	x->nr_pins = 0;
	x->max_pins = ARXE_PIN_FEW;
	WRITE_ONCE(x->pin_bytes, 0);
}

/*
 * Unlink [@from, @to) of an aligned MR's mapping (dma_iova_unlink()
 * syncs the IOTLB), and only then unpin the pin record's entries
 * [@first, @last) that were linked there, so that no freed page stays
 * reachable by the device.
 */
static void arxe_release_batch(struct arxe_mr *x, u64 from, u64 to,
			       unsigned int first, unsigned int last)
{
	struct page *page;
	unsigned int i;

	if (to > from)
		dma_iova_unlink(x->dev, &x->state, x->place + from, to - from,
				DMA_BIDIRECTIONAL, 0);
	for (i = first; i < last; i++) {
		page = pfn_to_page(PHYS_PFN(arxe_pin_phys(x->pins[i])));
		unpin_user_page_range_dirty_lock(page, arxe_pin_pages(x->pins[i]),
						 x->writable);
		cond_resched();
	}
}

/*
 * Undo an aligned MR's mapping of [0, @linked), which its pin record
 * covers exactly, in batches of at most ARXE_UNLINK_LINKS links and (but
 * for a larger link) ARXE_UNLINK_BYTES bytes: an IOMMU driver may hold a
 * lock with interrupts off for a whole unlink. A batch ends where a link
 * does (where the record's next entry does not continue the previous
 * one's pages), so that no IOMMU leaf straddles it. Process context; no
 * access can use the mapping (the MR is unreachable and has no users, or
 * was revoked).
 */
static void arxe_unmap_linked(struct arxe_mr *x, u64 linked)
{
	u64 off = 0, from = 0, bytes;
	unsigned int i, first = 0, links = 0;
	phys_addr_t end = 0;

	for (i = 0; i < x->nr_pins; i++) {
		bytes = arxe_pin_pages(x->pins[i]) << PAGE_SHIFT;
		if (i && arxe_pin_phys(x->pins[i]) != end &&
		    (++links >= ARXE_UNLINK_LINKS ||
		     off + bytes - from > ARXE_UNLINK_BYTES)) {
			arxe_release_batch(x, from, off, first, i);
			from = off;
			first = i;
			links = 0;
		}
		end = arxe_pin_phys(x->pins[i]) + bytes;
		off += bytes;
	}
	WARN_ON_ONCE(off != linked);
	arxe_release_batch(x, from, linked, first, x->nr_pins);
	if (x->pins != x->pin_few)
		kvfree(x->pins);
	arxe_pins_init(x);
}

/* Undo an aligned MR's mapping of [0, @linked) and its IOVA space. */
static void arxe_unmap_aligned(struct rxe_dev *rxe, struct arxe_mr *x,
			       u64 linked)
{
	arxe_unmap_linked(x, linked);
	arxe_iova_free(rxe, x);
}

static void arxe_unaccount(struct arxe_mr *x)
{
	atomic64_sub(x->npages, &x->mm->pinned_vm);
	mmdrop(x->mm);
	x->mm = NULL;
}

/*
 * Link the pinned run [@run_phys, @run_phys + @run_len) at offset @linked
 * of an aligned MR's mapping and note it in the MR's pin record and
 * @layout. On failure the run is neither linked nor recorded.
 */
static int arxe_mr_link_run(struct arxe_mr *x, struct arxe_layout *layout,
			    u64 linked, phys_addr_t run_phys, u64 run_len)
{
	unsigned int nr_pins = x->nr_pins;
	int err;

	err = arxe_pins_add(x, run_phys, run_len);
	if (err)
		return err;
	err = dma_iova_link(x->dev, &x->state, run_phys, x->place + linked,
			    run_len, DMA_BIDIRECTIONAL, 0);
	if (err) {
		/* arxe_pins_add() noted all of the run */
		x->nr_pins = nr_pins;
		return err;
	}
	arxe_mr_add_run(x, layout, linked, run_phys, run_len);
	return 0;
}

/*
 * The aligned mode: pin [start, start + length) folio by folio (long-term
 * pins, RLIMIT_MEMLOCK accounted as ib_umem_get() does), allocate the IOVA
 * once the backing of the first page tells the alignment, link each
 * physically contiguous run and note it in the MR's pin record. Only a
 * batch of page pointers (at most a page of them, a few on the stack for
 * a small MR) is held while pinning. The IOTLB is
 * synced once, by the data path before the mapping's first use
 * (arxe_mr_sync()): a registration nobody accesses never pays for it.
 */
static int arxe_mr_map_aligned(struct rxe_dev *rxe, struct rxe_mr *mr,
			       struct device *dev, u64 start, u64 length)
{
	struct arxe_mr *x = &mr->xlate;
	struct arxe_layout layout = {};
	unsigned int gup_flags = FOLL_LONGTERM;
	u64 va0 = start & PAGE_MASK;
	u64 span = PAGE_ALIGN(start + length) - va0;
	u64 left = span >> PAGE_SHIFT, cur = va0, linked = 0, run_len = 0;
	phys_addr_t run_phys = 0, phys;
	unsigned long lock_limit, new_pinned;
	struct page *few[ARXE_STACK_BATCH], **pages = few;
	unsigned long batch = ARXE_STACK_BATCH;
	bool allocated = false;
	long pinned, i = 0;
	int err;

	if (start + length < start || PAGE_ALIGN(start + length) < start + length)
		return -EINVAL;
	if (!can_do_mlock())
		return -EPERM;
	/* what ib_umem_get() refuses, with its errno */
	if (!length || left > UINT_MAX)
		return -EINVAL;

	x->span = span;
	x->npages = left;
	arxe_pins_init(x);
	x->mm = current->mm;
	mmgrab(x->mm);
	lock_limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	new_pinned = atomic64_add_return(x->npages, &x->mm->pinned_vm);
	if (new_pinned > lock_limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(x->npages, &x->mm->pinned_vm);
		mmdrop(x->mm);
		x->mm = NULL;
		return -ENOMEM;
	}
	x->dev = get_device(dev);

	if (left > ARXE_STACK_BATCH) {
		/* no bigger than the MR needs: every allocation is cleared */
		batch = min_t(u64, left, PAGE_SIZE / sizeof(*pages));
		pages = kmalloc_array(batch, sizeof(*pages), GFP_KERNEL);
		if (!pages) {
			err = -ENOMEM;
			goto err_account;
		}
	}
	if (x->writable)
		gup_flags |= FOLL_WRITE;

	while (left) {
		cond_resched();
		pinned = pin_user_pages_fast(cur, min_t(u64, left, batch),
					     gup_flags, pages);
		if (pinned <= 0) {
			err = pinned ? pinned : -EFAULT;
			goto err_unpin;
		}
		if (!allocated) {
			u64 align = arxe_iova_align(va0, span,
						    folio_size(page_folio(pages[0])));

			err = arxe_iova_alloc(rxe, x, va0, span, align);
			if (err) {
				unpin_user_pages(pages, pinned);
				goto err_unpin;
			}
			allocated = true;
			x->first = x->state.addr + x->place;
		}
		for (i = 0; i < pinned; i++) {
			phys = page_to_phys(pages[i]);
			if (run_len && phys == run_phys + run_len) {
				run_len += PAGE_SIZE;
				continue;
			}
			if (run_len) {
				err = arxe_mr_link_run(x, &layout, linked,
						       run_phys, run_len);
				if (err)
					goto err_batch;
				linked += run_len;
			}
			run_phys = phys;
			run_len = PAGE_SIZE;
		}
		cur += pinned << PAGE_SHIFT;
		left -= pinned;
	}
	err = arxe_mr_link_run(x, &layout, linked, run_phys, run_len);
	if (err) {
		pinned = 0;
		goto err_batch;
	}
	x->unsynced = true;
	if (pages != few)
		kfree(pages);
	arxe_mr_finish_layout(x, &layout);
	return 0;

err_batch:
	/* pages[i..pinned) are pinned, neither linked nor in the run */
	if (pinned > i)
		unpin_user_pages(pages + i, pinned - i);
err_unpin:
	if (run_len)
		unpin_user_page_range_dirty_lock(phys_to_page(run_phys),
						 run_len >> PAGE_SHIFT, false);
	if (allocated)
		arxe_unmap_aligned(rxe, x, linked);
	if (pages != few)
		kfree(pages);
err_account:
	arxe_unaccount(x);
	put_device(x->dev);
	x->dev = NULL;
	return err;
}

/*
 * arxe_mr_list - note a newly mapped MR on its device's list, for
 * arxe_dev_revoke(). With the device's xlate_sem held for reading.
 */
void arxe_mr_list(struct rxe_dev *rxe, struct rxe_mr *mr)
{
	spin_lock(&rxe->arxe.mrs_lock);
	list_add(&mr->xlate.dev_node, &rxe->arxe.mrs);
	spin_unlock(&rxe->arxe.mrs_lock);
}

static int __arxe_mr_init_user(struct rxe_dev *rxe, struct rxe_mr *mr,
			       u64 start, u64 length, u64 iova, int access);

/*
 * arxe_mr_init_user - register user memory [@start, @start + @length) of
 * @mr at MR address @iova (same offset in its page as @start, which the
 * RDMA core checked), rxe_mr_init() done. Process context, in the
 * registering process.
 */
int arxe_mr_init_user(struct rxe_dev *rxe, struct rxe_mr *mr, u64 start,
		      u64 length, u64 iova, int access)
{
	int err;

	down_read(&rxe->arxe.xlate_sem);
	err = __arxe_mr_init_user(rxe, mr, start, length, iova, access);
	if (!err && arxe_mr_via_iommu(mr))
		arxe_mr_list(rxe, mr);
	up_read(&rxe->arxe.xlate_sem);
	return err;
}

static int __arxe_mr_init_user(struct rxe_dev *rxe, struct rxe_mr *mr,
			       u64 start, u64 length, u64 iova, int access)
{
	struct arxe_mr *x = &mr->xlate;
	struct device *dev = rxe->arxe.xlate_dev;
	bool limited = false;
	int err;

	x->mode = arxe_mr_choose_mode(rxe, access);
	/* an aligned MR checks the IOVA space it asks for when it asks */
	if (x->mode == ARXE_XLATE_IOVA &&
	    !arxe_iova_fits(rxe, PAGE_ALIGN(start + length) - (start & PAGE_MASK))) {
		x->mode = ARXE_XLATE_FALLBACK;
		limited = true;
	}
	x->va = iova;
	x->va0 = iova & PAGE_MASK;
	x->addr = start;
	x->length = length;
	x->writable = ib_access_writable(access);
	x->domain = x->mode == ARXE_XLATE_IOVA || x->mode == ARXE_XLATE_ALIGNED ?
		    arxe_dma_domain(dev) : NULL;

	if (x->mode == ARXE_XLATE_ALIGNED) {
		err = arxe_mr_map_aligned(rxe, mr, dev, start, length);
		if (err != -ENOSPC && err)
			return err;
		if (err) {
			/* beyond iova_max_mb: a table of physical runs */
			x->mode = ARXE_XLATE_FALLBACK;
			x->domain = NULL;
			memset(x->leaves, 0, sizeof(x->leaves));
			memset(&x->tables, 0, sizeof(x->tables));
			limited = true;
		}
	}
	if (x->mode != ARXE_XLATE_ALIGNED) {
		mr->umem = ib_umem_get_va(&rxe->ib_dev, start, length, access);
		if (IS_ERR(mr->umem)) {
			err = PTR_ERR(mr->umem);
			mr->umem = NULL;
			return err;
		}
		if (x->mode == ARXE_XLATE_IOVA) {
			err = arxe_mr_map_umem(mr, dev);
			if (err) {
				ib_umem_release(mr->umem);
				mr->umem = NULL;
				return err;
			}
		} else {
			arxe_mr_note_umem(x, mr->umem);
			if (x->mode == ARXE_XLATE_FALLBACK)
				err = arxe_mr_build_runs(x, mr->umem);
			else
				err = rxe_mr_fill_pages(mr, mr->umem);
			if (err) {
				ib_umem_release(mr->umem);
				mr->umem = NULL;
				return err;
			}
		}
	}
	if (arxe_mr_via_iommu(mr)) {
		x->bus = x->first + (x->va - x->va0);
		x->gen = arxe_new_gen();
		rxe_counter_inc(rxe, ARXE_CNT_IOVA_ALLOCS);
	}
	mr->ibmr.type = IB_MR_TYPE_USER;
	mr->state = RXE_MR_STATE_VALID;
	if (limited)
		rxe_counter_inc(rxe, ARXE_CNT_IOVA_LIMITED);
	else if (x->mode == ARXE_XLATE_FALLBACK)
		rxe_counter_inc(rxe, ARXE_CNT_FALLBACKS);
	arxe_mr_count(mr, 1);
	x->counted = true;
	return 0;
}

/*
 * arxe_mr_check_rereg - may @mr change its access to @access? An aligned
 * MR was pinned by arxe itself, not through a umem that
 * ib_umem_check_rereg() would check: pages pinned without FOLL_WRITE
 * cannot become writable.
 */
int arxe_mr_check_rereg(struct rxe_mr *mr, int flags, int access)
{
	if (mr->xlate.mode != ARXE_XLATE_ALIGNED)
		return 0;
	if ((flags & IB_MR_REREG_ACCESS) && !(flags & IB_MR_REREG_TRANS) &&
	    ib_access_writable(access) && !mr->xlate.writable)
		return -EACCES;
	return 0;
}

/*
 * Undo a translated MR's mapping of @linked bytes: unlink (IOTLB synced)
 * and unpin an aligned MR, unmap an iova MR's umem, unlink a fast-
 * registration MR and free its IOVA space. Process context, with the
 * device's xlate_sem held; no access can use the mapping any more.
 */
static void arxe_mr_unmap(struct rxe_mr *mr, u64 linked)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	struct arxe_mr *x = &mr->xlate;

	if (x->frwr) {
		arxe_frwr_unmap(mr, linked);
		return;
	}
	switch (x->mode) {
	case ARXE_XLATE_ALIGNED:
		/* a failed registration undid itself and left no mm */
		if (x->mm)
			arxe_unmap_aligned(rxe, x, linked);
		break;
	case ARXE_XLATE_IOVA:
		if (x->dev && mr->umem) {
			dma_unmap_sgtable(x->dev, &mr->umem->sgt_append.sgt,
					  DMA_BIDIRECTIONAL, 0);
			rxe_counter_add(rxe, ARXE_CNT_IOVA_BYTES,
					-(s64)x->iova_size);
			x->iova_size = 0;
		}
		break;
	default:
		break;
	}
}

/*
 * arxe_mr_revoke - the translation device of @mr is going away: unmap the
 * MR now, while its IOMMU domain still exists, and leave it with nothing
 * mapped, so that every later access is refused and its release has
 * nothing to undo but its pins' accounting. Process context, from
 * arxe_dev_revoke() with the device's xlate_sem held for writing.
 */
void arxe_mr_revoke(struct rxe_mr *mr)
{
	struct arxe_mr *x = &mr->xlate;
	u64 linked;

	write_lock_bh(&x->lock);
	x->revoked = true;
	linked = x->span;
	x->span = 0;
	x->gen = arxe_new_gen();
	/* a fast-registration MR's map and invalidate hold the lock too */
	if (x->frwr)
		arxe_frwr_unmap(mr, linked);
	write_unlock_bh(&x->lock);
	if (!x->frwr)
		arxe_mr_unmap(mr, linked);
}

/*
 * arxe_mr_release - undo arxe_mr_init_user() or arxe_mr_init_fast(),
 * before rxe releases the umem. Process context; the MR has no users left.
 */
void arxe_mr_release(struct rxe_mr *mr)
{
	struct rxe_dev *rxe = to_rdev(mr->ibmr.device);
	struct arxe_mr *x = &mr->xlate;

	if (x->counted)
		arxe_mr_count(mr, -1);
	x->counted = false;
	kvfree(x->runs);
	x->runs = NULL;

	down_read(&rxe->arxe.xlate_sem);
	spin_lock(&rxe->arxe.mrs_lock);
	list_del_init(&x->dev_node);
	spin_unlock(&rxe->arxe.mrs_lock);
	if (!x->revoked && arxe_mr_via_iommu(mr))
		arxe_mr_unmap(mr, x->span);
	up_read(&rxe->arxe.xlate_sem);

	if (!x->frwr && x->mode == ARXE_XLATE_ALIGNED && x->mm)
		arxe_unaccount(x);
	if (x->dev)
		put_device(x->dev);
	x->dev = NULL;
}

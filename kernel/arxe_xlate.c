// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The data path of translated MRs: MR address -> bus address -> memory.
 *
 * An iova or aligned MR keeps one device-table entry, its bus address. An
 * access computes the bus address of the MR address and resolves it the
 * way the IOMMU would for the device, with iommu_iova_to_phys() on the
 * translation device's domain; an address that resolves to nothing, or
 * lies outside the MR's mapping, is an access error. A wrong link in the
 * IOMMU therefore gives wrong data, as it would on hardware. Copies run as
 * far as the memory behind the bus addresses is physically contiguous.
 *
 * Called from the requester, responder and completer (softirq or task
 * context) with a reference on the MR held from resolve to end of copy.
 */

#include <linux/iommu.h>
#include <linux/mm.h>

#include "rxe.h"
#include "arxe.h"

/* Every user page is in the kernel's direct map: no kmap needed. */
static_assert(!IS_ENABLED(CONFIG_HIGHMEM));

bool arxe_mr_translated(struct rxe_mr *mr)
{
	return mr->xlate.mode == ARXE_XLATE_IOVA ||
	       mr->xlate.mode == ARXE_XLATE_ALIGNED;
}

/* The bus address of MR address @iova (in range, checked by the caller). */
static dma_addr_t arxe_bus(struct rxe_mr *mr, u64 iova)
{
	return mr->xlate.bus + (iova - mr->ibmr.iova);
}

/*
 * arxe_resolve - the physical address behind bus address @bus of @x, or 0
 * if @bus is outside the MR's mapping or the IOMMU maps nothing there.
 */
static phys_addr_t arxe_resolve(struct arxe_mr *x, dma_addr_t bus)
{
	dma_addr_t first = x->bus - offset_in_page(x->va);

	if (bus < first || bus - first >= x->span)
		return 0;
	return iommu_iova_to_phys(x->domain, bus);
}

/*
 * arxe_mr_copy - copy @length bytes between @addr and MR address @iova
 * (@to_mr: into the MR). The range was checked against the MR.
 */
int arxe_mr_copy(struct rxe_mr *mr, u64 iova, void *addr, unsigned int length,
		 bool to_mr)
{
	struct arxe_mr *x = &mr->xlate;
	dma_addr_t bus = arxe_bus(mr, iova);
	unsigned int chunk;
	phys_addr_t phys;
	void *va;

	while (length) {
		phys = arxe_resolve(x, bus);
		if (!phys)
			return -EFAULT;
		chunk = min_t(unsigned int, length, PAGE_SIZE - offset_in_page(bus));
		while (chunk < length &&
		       arxe_resolve(x, bus + chunk) == phys + chunk)
			chunk += min_t(unsigned int, length - chunk, PAGE_SIZE);
		va = phys_to_virt(phys);
		if (to_mr)
			memcpy(va, addr, chunk);
		else
			memcpy(addr, va, chunk);
		bus += chunk;
		addr += chunk;
		length -= chunk;
	}
	return 0;
}

/*
 * arxe_mr_resolve - the page and offset behind MR address @iova, for
 * accesses that stay within one page (atomics).
 */
int arxe_mr_resolve(struct rxe_mr *mr, u64 iova, struct page **page,
		    unsigned int *offset)
{
	phys_addr_t phys = arxe_resolve(&mr->xlate, arxe_bus(mr, iova));

	if (!phys)
		return -EFAULT;
	*page = phys_to_page(phys);
	*offset = offset_in_page(phys);
	return 0;
}

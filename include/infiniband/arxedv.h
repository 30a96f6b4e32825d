/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * arxe direct verbs: what libibverbs has no call for on arxe devices.
 * Link with -larxe.
 */

#ifndef __ARXEDV_H__
#define __ARXEDV_H__

#include <stdbool.h>
#include <stdint.h>
#include <infiniband/verbs.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How arxe translates an MR (module parameter xlate of arxe.ko). */
enum arxedv_xlate {
	ARXEDV_XLATE_PAGES = 0,		/* a table entry per 4 KiB page */
	ARXEDV_XLATE_IOVA = 1,		/* one IOVA range, dma_map_sgtable() */
	ARXEDV_XLATE_ALIGNED = 2,	/* one huge-page-congruent IOVA range */
	ARXEDV_XLATE_FALLBACK = 3,	/* no translating IOMMU: per page */
	ARXEDV_XLATE_ODP = 4,		/* on-demand paging: rxe's ODP page list */
};

/* Optional fields of struct arxedv_mr_attr, by comp_mask bit. */
enum arxedv_mr_attr_mask {
	ARXEDV_MR_ATTR_MEMORY = 1 << 0,	/* iommu_table_bytes, pin_bytes */
};

/*
 * The translation of an MR. comp_mask: set by the caller to the optional
 * fields it wants (enum arxedv_mr_attr_mask), returned with those filled.
 * Sizes are in bytes; hw_mtt_* model 8-byte MTT entries of common NICs at
 * 4 KiB pages, at the best page size of the physical layout, and at the
 * best page size of arxe's IOVA. iommu_table_bytes are the IOMMU's
 * page-table pages the MR's leaves lie in (levels covering 2 MiB and
 * 1 GiB a table); pin_bytes what the kernel keeps to unpin the MR. Fields
 * derived from bus or physical addresses (align_shift, iova,
 * iommu_leaves_*, hw_mtt_phys_bytes, hw_mtt_iova_bytes, iommu_table_bytes,
 * pin_bytes) are 0 unless the process that registered the MR has
 * CAP_SYS_ADMIN.
 */
struct arxedv_mr_attr {
	uint64_t comp_mask;
	uint32_t xlate;			/* enum arxedv_xlate */
	uint32_t align_shift;		/* log2 of iova's congruence with addr */
	uint64_t iova;			/* bus address of addr, 0 if none */
	uint64_t dev_table_entries;
	uint64_t dev_table_bytes;
	uint64_t pinned_bytes;
	uint64_t iommu_leaves_4k;
	uint64_t iommu_leaves_2m;
	uint64_t iommu_leaves_1g;
	uint64_t hw_mtt_4k_bytes;
	uint64_t hw_mtt_phys_bytes;
	uint64_t hw_mtt_iova_bytes;
	/* ARXEDV_MR_ATTR_MEMORY */
	uint64_t iommu_table_bytes;
	uint64_t pin_bytes;
};

/* Is @device an arxe device (served by libarxe)? */
bool arxedv_is_supported(struct ibv_device *device);

/*
 * arxedv_query_mr - how @mr (registered with ibv_reg_mr() on an arxe
 * device) is translated. Returns 0, EOPNOTSUPP if @mr is not an arxe MR or
 * its kernel gave no translation, or EINVAL for an unknown comp_mask bit.
 * Only the fields comp_mask asks for are written beyond hw_mtt_iova_bytes,
 * so a program built against an older arxedv.h keeps working.
 */
int arxedv_query_mr(struct ibv_mr *mr, struct arxedv_mr_attr *attr);

#ifdef __cplusplus
}
#endif

#endif /* __ARXEDV_H__ */

// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe direct verbs (infiniband/arxedv.h).
 */
#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <infiniband/arxedv.h>

#include "rxe.h"

bool arxedv_is_supported(struct ibv_device *device)
{
	return arxe_is_device(device);
}

int arxedv_query_mr(struct ibv_mr *ibmr, struct arxedv_mr_attr *attr)
{
	struct arxe_umr *mr;
	uint64_t mask;

	if (!ibmr || !arxe_is_device(ibmr->context->device))
		return EOPNOTSUPP;
	mask = attr->comp_mask;
	if (mask & ~(uint64_t)ARXEDV_MR_ATTR_MEMORY)
		return EINVAL;
	mr = container_of(verbs_get_mr(ibmr), struct arxe_umr, vmr);
	if (!mr->has_xlate)
		return EOPNOTSUPP;

	/* a caller built against an older arxedv.h has room up to here */
	memset(attr, 0, offsetof(struct arxedv_mr_attr, iommu_table_bytes));
	/* an older kernel gave no memory figures: say so, write none */
	if (!mr->has_memory)
		mask &= ~(uint64_t)ARXEDV_MR_ATTR_MEMORY;
	attr->comp_mask = mask;
	attr->xlate = mr->xlate.mode;
	attr->align_shift = mr->xlate.align_shift;
	attr->iova = mr->xlate.iova;
	attr->dev_table_entries = mr->xlate.dev_table_entries;
	attr->dev_table_bytes = mr->xlate.dev_table_bytes;
	attr->pinned_bytes = mr->xlate.pinned_bytes;
	attr->iommu_leaves_4k = mr->xlate.iommu_leaves_4k;
	attr->iommu_leaves_2m = mr->xlate.iommu_leaves_2m;
	attr->iommu_leaves_1g = mr->xlate.iommu_leaves_1g;
	attr->hw_mtt_4k_bytes = mr->xlate.hw_mtt_4k_bytes;
	attr->hw_mtt_phys_bytes = mr->xlate.hw_mtt_phys_bytes;
	attr->hw_mtt_iova_bytes = mr->xlate.hw_mtt_iova_bytes;
	if (mask & ARXEDV_MR_ATTR_MEMORY) {
		attr->iommu_table_bytes = mr->xlate.iommu_table_bytes;
		attr->pin_bytes = mr->xlate.pin_bytes;
	}
	return 0;
}

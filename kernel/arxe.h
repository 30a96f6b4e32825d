/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * arxe: soft-RoCE whose memory regions are translated through the IOMMU.
 *
 * Declarations of arxe's own code, called from the rxe files it is built
 * from (see kernel/patches/series):
 *   arxe_dev.c     which devices are arxe's, and their translation device
 *   arxe_iova.c    pinning and the two-step IOVA mapping of user MRs
 *   arxe_xlate.c   the data path: MR offset -> bus address -> memory
 *   arxe_report.c  what rdma res show mr -dd prints about an MR
 */

#ifndef ARXE_H
#define ARXE_H

#include <linux/dma-mapping.h>
#include <linux/list.h>
#include <linux/types.h>

#include <rdma/arxe-abi.h>

#include "arxe_model.h"

struct device;
struct iommu_domain;
struct mm_struct;
struct net_device;
struct page;
struct sk_buff;
struct ib_mr;
struct rxe_dev;
struct rxe_mr;

/* Prefix of every arxe device name: libarxe claims devices by it. */
#define ARXE_NAME_PREFIX "arxe"

/*
 * A device's membership in arxe's device table, embedded in struct rxe_dev.
 * Set before the device is registered, cleared when it is deallocated.
 */
struct arxe_dev_entry {
	struct hlist_node node;
	struct net_device *ndev;	/* identity only, never dereferenced */
	struct device *xlate_dev;	/* translation device, referenced */
};

bool arxe_dev_name_valid(const char *name);
void arxe_dev_add(struct rxe_dev *rxe, struct net_device *ndev);
void arxe_dev_remove(struct rxe_dev *rxe);
struct rxe_dev *arxe_dev_get_by_netdev(struct net_device *ndev);
void arxe_dev_unregister_all(void);

/* How an MR's addresses are translated (module parameter xlate). */
enum arxe_xlate_mode {
	/* rxe's table, one entry per 4 KiB page */
	ARXE_XLATE_PAGES = ARXE_MR_XLATE_PAGES,
	/* the umem mapped with dma_map_sgtable() */
	ARXE_XLATE_IOVA = ARXE_MR_XLATE_IOVA,
	/* own pins, huge-page-congruent IOVA */
	ARXE_XLATE_ALIGNED = ARXE_MR_XLATE_ALIGNED,
	/* no translating IOMMU: rxe's page table */
	ARXE_XLATE_FALLBACK = ARXE_MR_XLATE_FALLBACK,
};

/*
 * Translation state of one MR, embedded in struct rxe_mr. Written once at
 * registration, read by the data path, undone at cleanup (after the MR's
 * last reference is gone). O(1) in the MR's size: the device table is
 * (bus, length); everything else is counters.
 */
struct arxe_mr {
	enum arxe_xlate_mode mode;
	struct device *dev;		/* iova, aligned: referenced */
	struct iommu_domain *domain;	/* iova, aligned */
	struct dma_iova_state state;	/* aligned: the IOVA allocation */
	size_t place;			/* aligned: offset of page 0 in it */
	dma_addr_t bus;			/* iova, aligned: bus address of va */
	u64 va;				/* the registered start address */
	u64 length;			/* the registered length */
	u64 span;			/* whole pages mapped from va's page */
	unsigned long npages;		/* aligned: pins in mm->pinned_vm */
	struct mm_struct *mm;		/* aligned: grabbed */
	bool writable;
	bool counted;			/* in the device's counters */
	u64 leaves[ARXE_NR_LEAVES];	/* IOMMU leaves by size */
	u64 phys_pgsz;			/* best page size of the layout */
};

struct device *arxe_find_xlate_dev(struct net_device *ndev);
enum arxe_xlate_mode arxe_xlate_mode_for_new_mr(int access);
int arxe_mr_init_user(struct rxe_dev *rxe, struct rxe_mr *mr, u64 start,
		      u64 length, int access);
void arxe_mr_release(struct rxe_mr *mr);
int arxe_mr_check_rereg(struct rxe_mr *mr, int flags, int access);
const char *arxe_xlate_mode_name(enum arxe_xlate_mode mode);
u64 arxe_mr_table_entries(struct rxe_mr *mr);
u64 arxe_mr_table_bytes(struct rxe_mr *mr);

bool arxe_mr_translated(struct rxe_mr *mr);
int arxe_mr_copy(struct rxe_mr *mr, u64 iova, void *addr, unsigned int length,
		 bool to_mr);
int arxe_mr_resolve(struct rxe_mr *mr, u64 iova, struct page **page,
		    unsigned int *offset);

struct ib_udata;
int arxe_fill_res_mr_entry(struct sk_buff *msg, struct ib_mr *ibmr);
int arxe_mr_copy_to_udata(struct rxe_mr *mr, struct ib_udata *udata);
void arxe_debugfs_init(void);
void arxe_debugfs_exit(void);
struct rxe_dev *arxe_dev_get_by_name(const char *name);

#endif /* ARXE_H */

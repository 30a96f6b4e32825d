/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * arxe: soft-RoCE whose memory regions are translated through the IOMMU.
 *
 * Declarations of arxe's own code, called from the rxe files it is built
 * from (see kernel/patches/series):
 *   arxe_dev.c     which devices are arxe's, and their translation device
 *   arxe_iova.c    pinning and the two-step IOVA mapping of user MRs
 *   arxe_frwr.c    fast registration: kernel MRs re-linked into kept IOVA
 *   arxe_xlate.c   the data path: MR offset -> bus address -> memory
 *   arxe_report.c  what rdma res show mr -dd prints about an MR
 */

#ifndef ARXE_H
#define ARXE_H

#include <linux/dma-mapping.h>
#include <linux/list.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include <rdma/arxe-abi.h>

#include "arxe_model.h"

struct device;
struct iommu_domain;
struct mm_struct;
struct net_device;
struct page;
struct scatterlist;
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
	/* mode of new MRs, or -1: the module parameter's (xlate) */
	int xlate_mode;
	/*
	 * The MRs mapped through xlate_dev, on @mrs (under @mrs_lock). MRs
	 * are mapped and unmapped with @xlate_sem held for reading; when the
	 * translation device goes away (@xlate_gone), arxe_dev_revoke()
	 * takes it for writing and unmaps them all.
	 */
	struct rw_semaphore xlate_sem;
	bool xlate_gone;
	spinlock_t mrs_lock;		/* guards mrs */
	struct list_head mrs;
};

/*
 * Fast-registration page lists an arxe device accepts when its MRs are
 * translated: links into an IOVA range need no per-page table, so the
 * limit is rxe's (512) only for devices that keep rxe's table.
 */
#define ARXE_MAX_FAST_REG_PAGES BIT(16)

int arxe_dev_init(void);
void arxe_dev_exit(void);
bool arxe_dev_name_valid(const char *name);
void arxe_dev_add(struct rxe_dev *rxe, struct net_device *ndev);
void arxe_dev_remove(struct rxe_dev *rxe);
struct rxe_dev *arxe_dev_get_by_netdev(struct net_device *ndev);
void arxe_dev_unregister_all(void);

/* How an MR's addresses are translated (the device's mode: xlate). */
enum arxe_xlate_mode {
	/* rxe's table, one entry per 4 KiB page */
	ARXE_XLATE_PAGES = ARXE_MR_XLATE_PAGES,
	/* the umem mapped with dma_map_sgtable() */
	ARXE_XLATE_IOVA = ARXE_MR_XLATE_IOVA,
	/* own pins, huge-page-congruent IOVA */
	ARXE_XLATE_ALIGNED = ARXE_MR_XLATE_ALIGNED,
	/* no translating IOMMU: a table of physically contiguous runs */
	ARXE_XLATE_FALLBACK = ARXE_MR_XLATE_FALLBACK,
	/* on-demand paging: rxe's ODP page list, never translated by arxe */
	ARXE_XLATE_ODP = ARXE_MR_XLATE_ODP,
};

/* One physically contiguous run of a fallback MR: MR offset -> phys. */
struct arxe_run {
	u64 off;
	phys_addr_t phys;
};

/* Entries of an aligned MR's pin record kept in struct arxe_mr itself. */
#define ARXE_PIN_FEW 2

/*
 * Translation state of one MR, embedded in struct rxe_mr. The device table
 * of a translated MR is (bus, length), O(1) in the MR's size; a fallback
 * MR's is a run table (one entry per physically contiguous run). An
 * aligned MR also keeps a pin record, for its release: one entry per
 * physically contiguous run (per 16 MiB of one), in the struct for two.
 *
 * The mapping is the range [first, first + span) of bus addresses, which
 * serves MR addresses [va0, va0 + span). A user MR's addresses are the
 * iova its owner chose (ibv_reg_mr_iova()), which has the same offset in
 * its page as the user address @addr the memory was pinned at. A user MR's mapping is made at
 * registration and undone at cleanup, when it has no users left. A
 * fast-registration MR's mapping changes at each map and invalidate: those
 * take @lock for writing, and every access holds it for reading from
 * translation to the end of its copy, so an unlink waits for the accesses
 * in flight. @gen names the current mapping, for the translation cache:
 * every mapping gets a new one, never reused.
 */
struct arxe_mr {
	enum arxe_xlate_mode mode;
	bool frwr;			/* fast-registration MR */
	rwlock_t lock;
	u64 gen;
	struct device *dev;		/* iova, aligned: referenced */
	struct iommu_domain *domain;	/* iova, aligned */
	struct dma_iova_state state;	/* IOVA allocation (not user iova) */
	size_t place;			/* aligned: offset of page 0 in it */
	size_t reserved;		/* aligned FRWR: bytes kept in state */
	dma_addr_t first;		/* bus address of va0 */
	u64 va0;			/* MR address the mapping starts at */
	u64 span;			/* bytes mapped from first */
	size_t iova_size;		/* bytes of IOVA space held */
	dma_addr_t bus;			/* bus address of va */
	u64 va;				/* the MR address of the first byte */
	u64 addr;			/* user MR: the user address of it */
	u64 length;			/* the registered length */
	struct arxe_run *runs;		/* fallback user MR: its table */
	unsigned int nr_runs;
	unsigned int max_pages;		/* FRWR: page-list capacity */
	phys_addr_t run_phys;		/* FRWR map: run not linked yet */
	u64 run_len;
	int map_err;			/* FRWR map: a link failed */
	unsigned long npages;		/* aligned: pins in mm->pinned_vm */
	struct mm_struct *mm;		/* aligned: grabbed */
	/*
	 * aligned user MR: its pin record, what release unpins once the
	 * mapping is unlinked. Each entry is a physically contiguous piece
	 * of the linked runs, the address of its first page ORed with its
	 * page count less one (so at most PAGE_SIZE pages). @pins is
	 * @pin_few for a record of at most ARXE_PIN_FEW entries.
	 */
	u64 *pins;
	unsigned int nr_pins;
	unsigned int max_pins;
	u64 pin_bytes;			/* the array's bytes, 0 for pin_few */
	u64 pin_few[ARXE_PIN_FEW];
	bool writable;
	bool counted;			/* in the device's counters */
	bool revoked;			/* unmapped: the device went away */
	/*
	 * aligned user MR: linked, IOTLB not synced yet. The data path syncs
	 * before its first translation (arxe_mr_sync()), under @sync_lock.
	 */
	bool unsynced;
	spinlock_t sync_lock;		/* serializes the first-use sync */
	struct list_head dev_node;	/* mapped: on the device's mrs */
	u64 leaves[ARXE_NR_LEAVES];	/* IOMMU leaves by size */
	struct arxe_tables tables;	/* IOMMU table pages they lie in */
	u64 phys_pgsz;			/* best page size of the layout */
};

struct device *arxe_find_xlate_dev(struct net_device *ndev);
struct iommu_domain *arxe_dma_domain(struct device *dev);
void arxe_mr_init(struct rxe_mr *mr, int access);
u64 arxe_new_gen(void);
enum arxe_xlate_mode arxe_mr_choose_mode(struct rxe_dev *rxe, int access);
void arxe_mr_count(struct rxe_mr *mr, int sign);
bool arxe_iova_fits(struct rxe_dev *rxe, u64 size);
bool arxe_iova_try_alloc(struct rxe_dev *rxe, struct arxe_mr *x, size_t size);
void arxe_iova_free(struct rxe_dev *rxe, struct arxe_mr *x);
int arxe_mr_init_user(struct rxe_dev *rxe, struct rxe_mr *mr, u64 start,
		      u64 length, u64 iova, int access);
void arxe_mr_release(struct rxe_mr *mr);
void arxe_mr_revoke(struct rxe_mr *mr);
void arxe_mr_list(struct rxe_dev *rxe, struct rxe_mr *mr);
int arxe_mr_check_rereg(struct rxe_mr *mr, int flags, int access);
const char *arxe_xlate_mode_name(enum arxe_xlate_mode mode);
extern struct device_attribute arxe_dev_attr_xlate;
u64 arxe_mr_table_entries(struct rxe_mr *mr);
u64 arxe_mr_table_bytes(struct rxe_mr *mr);
u64 arxe_mr_pin_bytes(struct rxe_mr *mr);

int arxe_mr_init_fast(struct rxe_mr *mr, int max_pages);
int arxe_map_mr_sg(struct rxe_mr *mr, struct scatterlist *sgl, int sg_nents,
		   unsigned int *sg_offset);
int arxe_reg_fast_mr(struct rxe_mr *mr, int access);
void arxe_mr_invalidate(struct rxe_mr *mr);
void arxe_frwr_unmap(struct rxe_mr *mr, u64 linked);

bool arxe_mr_via_iommu(struct rxe_mr *mr);
bool arxe_mr_translated(struct rxe_mr *mr);
int arxe_mr_copy(struct rxe_mr *mr, u64 iova, void *addr, unsigned int length,
		 bool to_mr);
int arxe_mr_do_atomic_op(struct rxe_mr *mr, u64 iova, int opcode,
			 u64 compare, u64 swap_add, u64 *orig_val);
int arxe_mr_do_atomic_write(struct rxe_mr *mr, u64 iova, u64 value);
int arxe_mr_flush_pmem(struct rxe_mr *mr, u64 iova, unsigned int length);

struct ib_udata;
int arxe_fill_res_mr_entry(struct sk_buff *msg, struct ib_mr *ibmr);
int arxe_mr_copy_to_udata(struct rxe_mr *mr, struct ib_udata *udata);
void arxe_debugfs_init(void);
void arxe_debugfs_exit(void);
struct rxe_dev *arxe_dev_get_by_name(const char *name);

#endif /* ARXE_H */

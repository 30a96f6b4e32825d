// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * What arxe reports about an MR, as driver attributes of the restrack MR
 * entry (rdma res show mr -dd): how it is translated, what the device
 * table costs, how the IOMMU maps it, and what common hardware would need
 * for the same MR (8-byte MTT entries at 4 KiB pages, at the best page
 * size of the physical layout, and at the best page size of arxe's IOVA).
 *
 * And, for tests, what the IOMMU maps a bus address to:
 * /sys/kernel/debug/arxe/iova_to_phys takes "DEVICE BUS_ADDRESS" written
 * to it and reads back "DEVICE BUS_ADDRESS PHYS" (PHYS "none" when the
 * translation device's IOMMU maps nothing there).
 */

#include <linux/build_bug.h>
#include <linux/debugfs.h>
#include <linux/iommu.h>
#include <linux/mutex.h>
#include <net/netlink.h>
#include <rdma/rdma_netlink.h>
#include <rdma/restrack.h>
#include <rdma/uverbs_ioctl.h>

#include "rxe.h"
#include "arxe.h"

/*
 * Bus addresses, and whatever is derived from physical addresses (the
 * IOMMU leaves, the best page size of the physical layout), tell a caller
 * which physical memory backs an MR: /proc/PID/pagemap shows that only to
 * CAP_SYS_ADMIN, and so does arxe. Called in the process that asks.
 */
static bool arxe_may_see_addresses(void)
{
	return capable(CAP_SYS_ADMIN);
}

/*
 * arxe_mr_describe - the translation facts of a user MR, as both the
 * netlink report and the REG_MR response give them; with @addresses, also
 * those derived from bus and physical addresses.
 */
static void arxe_mr_describe(struct rxe_mr *mr, bool addresses,
			     struct arxe_mr_xlate *d)
{
	struct arxe_mr *x = &mr->xlate;
	u64 iova_pgsz;

	memset(d, 0, sizeof(*d));
	d->mode = x->mode;
	d->pinned_bytes = x->mode == ARXE_XLATE_ODP ? 0 : x->span;
	d->hw_mtt_4k_bytes = ARXE_MTT_ENTRY_BYTES *
			     arxe_pages_covering(x->va, x->length, ARXE_SZ_4K);
	/* a fallback MR's table has a run per physically contiguous piece */
	if (addresses || !x->runs) {
		d->dev_table_entries = arxe_mr_table_entries(mr);
		d->dev_table_bytes = arxe_mr_table_bytes(mr);
	}
	if (!addresses)
		return;
	d->pin_bytes = arxe_mr_pin_bytes(mr);
	d->hw_mtt_phys_bytes = ARXE_MTT_ENTRY_BYTES *
			       arxe_pages_covering(x->va, x->length, x->phys_pgsz);
	if (!arxe_mr_via_iommu(mr))
		return;
	d->iova = x->bus;
	d->align_shift = arxe_congruence_shift(x->bus, x->addr);
	d->iommu_leaves_4k = x->leaves[ARXE_LEAF_4K];
	d->iommu_leaves_2m = x->leaves[ARXE_LEAF_2M];
	d->iommu_leaves_1g = x->leaves[ARXE_LEAF_1G];
	/* the NIC translates MR addresses: bus against the MR's iova */
	iova_pgsz = 1ULL << min(arxe_congruence_shift(x->bus, x->va), 30U);
	d->hw_mtt_iova_bytes = ARXE_MTT_ENTRY_BYTES *
			       arxe_pages_covering(x->va, x->length, iova_pgsz);
	d->iommu_table_bytes = arxe_tables_bytes(&x->tables);
}

/* What a REG_MR command without xlate_len (8 bytes long) has room for. */
#define ARXE_MR_XLATE_V0_LEN offsetofend(struct arxe_mr_xlate, hw_mtt_iova_bytes)
static_assert(ARXE_MR_XLATE_V0_LEN == 88);

/*
 * arxe_mr_copy_to_udata - give the provider the MR's translation, at the
 * address its REG_MR command names, if it names one: as much as the
 * command's xlate_len has room for, or ARXE_MR_XLATE_V0_LEN bytes for a
 * command without it. A command with bits set beyond what arxe knows
 * (reserved, or trailing bytes) is refused. Process context, at
 * registration, in the registering process.
 */
int arxe_mr_copy_to_udata(struct rxe_mr *mr, struct ib_udata *udata)
{
	size_t len = ARXE_MR_XLATE_V0_LEN;
	struct arxe_reg_mr_cmd cmd = {};
	struct arxe_mr_xlate xlate;

	if (!udata || udata->inlen < sizeof(cmd.xlate_addr))
		return 0;
	if (ib_copy_from_udata(&cmd, udata, min(udata->inlen, sizeof(cmd))))
		return -EFAULT;
	if (udata->inlen > sizeof(cmd) &&
	    !ib_is_udata_cleared(udata, sizeof(cmd), udata->inlen - sizeof(cmd)))
		return -EOPNOTSUPP;
	if (udata->inlen >= sizeof(cmd)) {
		if (cmd.reserved)
			return -EOPNOTSUPP;
		len = min_t(size_t, cmd.xlate_len, sizeof(xlate));
	}
	if (!cmd.xlate_addr)
		return 0;
	arxe_mr_describe(mr, arxe_may_see_addresses(), &xlate);
	if (copy_to_user(u64_to_user_ptr(cmd.xlate_addr), &xlate, len))
		return -EFAULT;
	return 0;
}

/*
 * The driver attributes of a fast-registration MR: its translation and,
 * when the IOMMU translates it, its capacity, what is linked now and, for
 * CAP_SYS_ADMIN, its IOVA range.
 */
static int arxe_put_frwr_attrs(struct sk_buff *msg, struct rxe_mr *mr)
{
	struct arxe_mr *x = &mr->xlate;
	u64 first, linked;

	if (!arxe_mr_via_iommu(mr))
		return 0;
	read_lock_bh(&x->lock);
	first = x->state.addr;
	linked = x->span;
	read_unlock_bh(&x->lock);
	if (rdma_nl_put_driver_u64(msg, "max_pages", x->max_pages) ||
	    rdma_nl_put_driver_u64(msg, "linked", linked))
		return -EMSGSIZE;
	if (arxe_may_see_addresses() &&
	    rdma_nl_put_driver_u64_hex(msg, "iova", first))
		return -EMSGSIZE;
	return 0;
}

/*
 * The driver attributes of one MR, inside the RDMA_NLDEV_ATTR_DRIVER nest.
 * Those derived from bus or physical addresses only for CAP_SYS_ADMIN.
 */
static int arxe_put_mr_attrs(struct sk_buff *msg, struct rxe_mr *mr)
{
	bool addresses = arxe_may_see_addresses();
	struct ib_mr *ibmr = &mr->ibmr;
	struct arxe_mr_xlate d;

	if (ibmr->type == IB_MR_TYPE_DMA)
		return rdma_nl_put_driver_string(msg, "xlate", "dma");
	if (rdma_nl_put_driver_string(msg, "xlate",
				      arxe_xlate_mode_name(mr->xlate.mode)))
		return -EMSGSIZE;
	/* a fallback MR's table has a run per physically contiguous piece */
	if ((addresses || !mr->xlate.runs) &&
	    (rdma_nl_put_driver_u64(msg, "dev_entries", arxe_mr_table_entries(mr)) ||
	     rdma_nl_put_driver_u64(msg, "dev_bytes", arxe_mr_table_bytes(mr))))
		return -EMSGSIZE;
	if (mr->xlate.frwr)
		return arxe_put_frwr_attrs(msg, mr);

	arxe_mr_describe(mr, addresses, &d);
	if (rdma_nl_put_driver_u64(msg, "pinned", d.pinned_bytes) ||
	    rdma_nl_put_driver_u64(msg, "hw_mtt_4k", d.hw_mtt_4k_bytes))
		return -EMSGSIZE;
	if (!addresses)
		return 0;
	if (rdma_nl_put_driver_u64(msg, "hw_mtt_phys", d.hw_mtt_phys_bytes) ||
	    rdma_nl_put_driver_u64(msg, "pin_bytes", d.pin_bytes))
		return -EMSGSIZE;
	if (!arxe_mr_via_iommu(mr))
		return 0;
	if (rdma_nl_put_driver_u64_hex(msg, "iova", d.iova) ||
	    rdma_nl_put_driver_u32(msg, "align_shift", d.align_shift) ||
	    rdma_nl_put_driver_u32(msg, "align_shift_mr",
				   arxe_congruence_shift(mr->xlate.bus,
							 mr->xlate.va)) ||
	    rdma_nl_put_driver_u64(msg, "leaves_4k", d.iommu_leaves_4k) ||
	    rdma_nl_put_driver_u64(msg, "leaves_2m", d.iommu_leaves_2m) ||
	    rdma_nl_put_driver_u64(msg, "leaves_1g", d.iommu_leaves_1g) ||
	    rdma_nl_put_driver_u64(msg, "hw_mtt_iova", d.hw_mtt_iova_bytes) ||
	    rdma_nl_put_driver_u64(msg, "iommu_bytes", d.iommu_table_bytes))
		return -EMSGSIZE;
	return 0;
}

/* arxe_fill_res_mr_entry - the fill_res_mr_entry device op. */
int arxe_fill_res_mr_entry(struct sk_buff *msg, struct ib_mr *ibmr)
{
	struct nlattr *table = nla_nest_start_noflag(msg, RDMA_NLDEV_ATTR_DRIVER);

	if (!table)
		return -EMSGSIZE;
	if (arxe_put_mr_attrs(msg, to_rmr(ibmr))) {
		nla_nest_cancel(msg, table);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, table);
	return 0;
}

static struct dentry *arxe_debugfs;
static DEFINE_MUTEX(arxe_query_lock);
static char arxe_query_result[128];

static ssize_t arxe_iova_to_phys_write(struct file *file, const char __user *ubuf,
				       size_t count, loff_t *ppos)
{
	char buf[96], name[IB_DEVICE_NAME_MAX];
	struct iommu_domain *domain = NULL;
	struct rxe_dev *rxe;
	phys_addr_t phys = 0;
	u64 bus;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%63s %llx", name, &bus) != 2)
		return -EINVAL;
	rxe = arxe_dev_get_by_name(name);
	if (!rxe)
		return -ENODEV;
	/* a translation device that went away may have no domain left */
	down_read(&rxe->arxe.xlate_sem);
	if (rxe->arxe.xlate_dev && !rxe->arxe.xlate_gone)
		domain = iommu_get_domain_for_dev(rxe->arxe.xlate_dev);
	if (domain)
		phys = iommu_iova_to_phys(domain, bus);
	up_read(&rxe->arxe.xlate_sem);
	ib_device_put(&rxe->ib_dev);

	mutex_lock(&arxe_query_lock);
	if (phys)
		scnprintf(arxe_query_result, sizeof(arxe_query_result),
			  "%s 0x%llx 0x%llx\n", name, bus, (u64)phys);
	else
		scnprintf(arxe_query_result, sizeof(arxe_query_result),
			  "%s 0x%llx none\n", name, bus);
	mutex_unlock(&arxe_query_lock);
	return count;
}

static ssize_t arxe_iova_to_phys_read(struct file *file, char __user *ubuf,
				      size_t count, loff_t *ppos)
{
	char buf[sizeof(arxe_query_result)];

	mutex_lock(&arxe_query_lock);
	strscpy(buf, arxe_query_result, sizeof(buf));
	mutex_unlock(&arxe_query_lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, strlen(buf));
}

static const struct file_operations arxe_iova_to_phys_fops = {
	.owner = THIS_MODULE,
	.write = arxe_iova_to_phys_write,
	.read = arxe_iova_to_phys_read,
	.llseek = default_llseek,
};

/* Module init: the debugfs files (which, like all debugfs, may be absent). */
void arxe_debugfs_init(void)
{
	arxe_debugfs = debugfs_create_dir("arxe", NULL);
	debugfs_create_file("iova_to_phys", 0600, arxe_debugfs, NULL,
			    &arxe_iova_to_phys_fops);
}

void arxe_debugfs_exit(void)
{
	debugfs_remove(arxe_debugfs);
}

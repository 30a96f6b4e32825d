// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe's devices.
 *
 * arxe reports RDMA_DRIVER_UNKNOWN as its driver id (an out-of-tree driver
 * cannot add to enum rdma_driver_id), and the RDMA core treats that id as a
 * wildcard: ib_device_get_by_netdev() would return any driver's device on a
 * netdev and ib_unregister_driver() would remove every driver's device with
 * that id. So arxe keeps its own table of its devices and asks only it.
 */

#include <linux/build_bug.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rculist.h>
#include <linux/string.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_user_rxe.h>
#include <rdma/arxe-abi.h>

#include "rxe.h"
#include "arxe.h"

/* Writers hold arxe_devs_lock; the receive path reads under RCU. */
static HLIST_HEAD(arxe_devs);
static DEFINE_MUTEX(arxe_devs_lock);

/*
 * arxe_dev_name_valid - may an arxe device carry this name?
 * libarxe recognises arxe devices by the "arxe" prefix of their name (and
 * Debian's librxe claims every name starting with "rxe"), so a device named
 * otherwise could not be used from user space.
 */
bool arxe_dev_name_valid(const char *name)
{
	return strncmp(name, ARXE_NAME_PREFIX, strlen(ARXE_NAME_PREFIX)) == 0;
}

/*
 * arxe_dev_add - enter a device into the table and find its translation
 * device; a translated device takes longer fast-registration page lists.
 * Process context; called once, before ib_register_device().
 * Lookups cannot take a reference on the device before its registration
 * completes.
 */
void arxe_dev_add(struct rxe_dev *rxe, struct net_device *ndev)
{
	init_rwsem(&rxe->arxe.xlate_sem);
	spin_lock_init(&rxe->arxe.mrs_lock);
	INIT_LIST_HEAD(&rxe->arxe.mrs);
	rxe->arxe.ndev = ndev;
	rxe->arxe.xlate_mode = -1;
	rxe->arxe.xlate_dev = arxe_find_xlate_dev(ndev);
	if (arxe_dma_domain(rxe->arxe.xlate_dev))
		rxe->attr.max_fast_reg_page_list_len = ARXE_MAX_FAST_REG_PAGES;
	mutex_lock(&arxe_devs_lock);
	hlist_add_head_rcu(&rxe->arxe.node, &arxe_devs);
	mutex_unlock(&arxe_devs_lock);
}

/*
 * arxe_dev_remove - take a device out of the table. Process context, from
 * the device's dealloc_driver callback; a no-op for a device that never
 * entered it. Waits for the readers that may still see the device.
 */
void arxe_dev_remove(struct rxe_dev *rxe)
{
	mutex_lock(&arxe_devs_lock);
	if (hlist_unhashed(&rxe->arxe.node)) {
		mutex_unlock(&arxe_devs_lock);
		return;
	}
	hlist_del_init_rcu(&rxe->arxe.node);
	mutex_unlock(&arxe_devs_lock);
	synchronize_rcu();
	if (rxe->arxe.xlate_dev)
		put_device(rxe->arxe.xlate_dev);
	rxe->arxe.xlate_dev = NULL;
}

/*
 * arxe_dev_revoke - @rxe's translation device is going away: new MRs fall
 * back to physical addresses, and every MR mapped through it is unmapped
 * now (arxe_mr_revoke()), once the mappings and releases under way are
 * done, while the device's IOMMU domain still exists. Their users keep
 * them until they let go, but nothing maps or accesses through them.
 * Process context.
 */
static void arxe_dev_revoke(struct rxe_dev *rxe)
{
	struct arxe_mr *x, *next;
	LIST_HEAD(mrs);

	down_write(&rxe->arxe.xlate_sem);
	WRITE_ONCE(rxe->arxe.xlate_gone, true);
	spin_lock(&rxe->arxe.mrs_lock);
	list_splice_init(&rxe->arxe.mrs, &mrs);
	spin_unlock(&rxe->arxe.mrs_lock);
	list_for_each_entry_safe(x, next, &mrs, dev_node) {
		list_del_init(&x->dev_node);
		arxe_mr_revoke(container_of(x, struct rxe_mr, xlate));
	}
	up_write(&rxe->arxe.xlate_sem);
}

/*
 * A translation device that loses its driver, or is removed, may lose its
 * IOMMU domain too (the next driver may attach another, removal frees it).
 * Unmap the MRs of the arxe devices that translate through it, and tear
 * those devices down as when their netdev goes away. Process context,
 * from the PCI bus, before the device's IOMMU state goes.
 */
static int arxe_pci_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	struct device *dev = data;
	struct rxe_dev *rxe;

	/*
	 * UNBOUND too: a device added while the driver was unbinding found
	 * it still bound.
	 */
	if (action != BUS_NOTIFY_UNBIND_DRIVER &&
	    action != BUS_NOTIFY_UNBOUND_DRIVER &&
	    action != BUS_NOTIFY_DEL_DEVICE)
		return NOTIFY_DONE;
	mutex_lock(&arxe_devs_lock);
	hlist_for_each_entry(rxe, &arxe_devs, arxe.node) {
		if (rxe->arxe.xlate_dev != dev || rxe->arxe.xlate_gone)
			continue;
		dev_warn(&rxe->ib_dev.dev,
			 "translation device %s goes away: unmapping its MRs, removing the device\n",
			 dev_name(dev));
		arxe_dev_revoke(rxe);
		/* a device still registering is removed by its netdev alone */
		if (ib_device_try_get(&rxe->ib_dev)) {
			ib_unregister_device_queued(&rxe->ib_dev);
			ib_device_put(&rxe->ib_dev);
		}
	}
	mutex_unlock(&arxe_devs_lock);
	return NOTIFY_OK;
}

static struct notifier_block arxe_pci_nb = {
	.notifier_call = arxe_pci_notify,
};

/* Module init and exit: watch the translation devices' drivers. */
int arxe_dev_init(void)
{
	return bus_register_notifier(&pci_bus_type, &arxe_pci_nb);
}

void arxe_dev_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &arxe_pci_nb);
}

/*
 * arxe_dev_get_by_netdev - the registered arxe device on @ndev, or NULL.
 * Any context (the UDP receive path calls it in softirq). The caller must
 * drop the reference with ib_device_put().
 */
struct rxe_dev *arxe_dev_get_by_netdev(struct net_device *ndev)
{
	struct rxe_dev *rxe, *found = NULL;

	rcu_read_lock();
	hlist_for_each_entry_rcu(rxe, &arxe_devs, arxe.node) {
		if (rxe->arxe.ndev == ndev && ib_device_try_get(&rxe->ib_dev)) {
			found = rxe;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/*
 * arxe_dev_get_by_name - the registered arxe device called @name, or NULL.
 * Process context. The caller must drop the reference with ib_device_put().
 */
struct rxe_dev *arxe_dev_get_by_name(const char *name)
{
	struct rxe_dev *rxe, *found = NULL;

	mutex_lock(&arxe_devs_lock);
	hlist_for_each_entry(rxe, &arxe_devs, arxe.node) {
		if (!strcmp(dev_name(&rxe->ib_dev.dev), name) &&
		    ib_device_try_get(&rxe->ib_dev)) {
			found = rxe;
			break;
		}
	}
	mutex_unlock(&arxe_devs_lock);
	return found;
}

/*
 * arxe_dev_unregister_all - unregister every arxe device, and no other.
 * Called at module exit, after the link ops are unregistered so that no
 * new device can appear. An unregistration that is already under way (a
 * queued one from the netdev notifier) is waited for: ib_unregister_device()
 * returns only when the device is gone and deallocated, which removes it
 * from the table.
 */
void arxe_dev_unregister_all(void)
{
	struct rxe_dev *rxe;

	mutex_lock(&arxe_devs_lock);
	while (!hlist_empty(&arxe_devs)) {
		rxe = hlist_entry(arxe_devs.first, struct rxe_dev, arxe.node);
		get_device(&rxe->ib_dev.dev);
		mutex_unlock(&arxe_devs_lock);
		ib_unregister_device(&rxe->ib_dev);
		put_device(&rxe->ib_dev.dev);
		mutex_lock(&arxe_devs_lock);
	}
	mutex_unlock(&arxe_devs_lock);
}

/*
 * The rxe code arxe is built from uses rxe's names for the user ABI; the
 * published ABI is include/rdma/arxe-abi.h. They must not drift apart.
 */
#define ARXE_ABI_SAME(name)						\
	static_assert(sizeof(struct arxe_##name) == sizeof(struct rxe_##name))

ARXE_ABI_SAME(global_route);
ARXE_ABI_SAME(av);
ARXE_ABI_SAME(send_wr);
ARXE_ABI_SAME(sge);
ARXE_ABI_SAME(dma_info);
ARXE_ABI_SAME(send_wqe);
ARXE_ABI_SAME(recv_wqe);
ARXE_ABI_SAME(create_ah_resp);
ARXE_ABI_SAME(create_cq_resp);
ARXE_ABI_SAME(resize_cq_resp);
ARXE_ABI_SAME(create_qp_resp);
ARXE_ABI_SAME(create_srq_resp);
ARXE_ABI_SAME(modify_srq_cmd);
ARXE_ABI_SAME(queue_buf);
static_assert(sizeof(struct arxe_mminfo) == sizeof(struct mminfo));
static_assert(offsetof(struct arxe_av, grh) ==
	      offsetof(struct rxe_av, grh));
static_assert(offsetof(struct arxe_av, dgid_addr) ==
	      offsetof(struct rxe_av, dgid_addr));
static_assert(offsetof(struct arxe_send_wr, ex) ==
	      offsetof(struct rxe_send_wr, ex));
static_assert(offsetof(struct arxe_send_wr, wr.ud.av) ==
	      offsetof(struct rxe_send_wr, wr.ud.av));
static_assert(offsetof(struct arxe_send_wr, wr.atomic.rkey) ==
	      offsetof(struct rxe_send_wr, wr.atomic.rkey));
static_assert(offsetof(struct arxe_dma_info, sge) ==
	      offsetof(struct rxe_dma_info, sge));
static_assert(offsetof(struct arxe_send_wqe, iova) ==
	      offsetof(struct rxe_send_wqe, iova));
static_assert(offsetof(struct arxe_send_wqe, dma) ==
	      offsetof(struct rxe_send_wqe, dma));
static_assert(offsetof(struct arxe_recv_wqe, dma) ==
	      offsetof(struct rxe_recv_wqe, dma));
static_assert(offsetof(struct arxe_create_qp_resp, sq_mi) ==
	      offsetof(struct rxe_create_qp_resp, sq_mi));
static_assert(offsetof(struct arxe_create_srq_resp, srq_num) ==
	      offsetof(struct rxe_create_srq_resp, srq_num));
static_assert(offsetof(struct arxe_queue_buf, producer_index) ==
	      offsetof(struct rxe_queue_buf, producer_index));
static_assert(offsetof(struct arxe_queue_buf, consumer_index) ==
	      offsetof(struct rxe_queue_buf, consumer_index));
static_assert(offsetof(struct arxe_queue_buf, data) ==
	      offsetof(struct rxe_queue_buf, data));
static_assert(ARXE_UVERBS_ABI_VERSION == RXE_UVERBS_ABI_VERSION);

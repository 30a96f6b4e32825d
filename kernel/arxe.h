/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * arxe: soft-RoCE whose memory regions are translated through the IOMMU.
 *
 * Declarations of arxe's own code, called from the rxe files it is built
 * from (see kernel/patches/series).
 */

#ifndef ARXE_H
#define ARXE_H

#include <linux/list.h>
#include <linux/types.h>

struct net_device;
struct rxe_dev;

/* Prefix of every arxe device name: libarxe claims devices by it. */
#define ARXE_NAME_PREFIX "arxe"

/*
 * A device's membership in arxe's device table, embedded in struct rxe_dev.
 * Set before the device is registered, cleared when it is deallocated.
 */
struct arxe_dev_entry {
	struct hlist_node node;
	struct net_device *ndev;	/* identity only, never dereferenced */
};

bool arxe_dev_name_valid(const char *name);
void arxe_dev_add(struct rxe_dev *rxe, struct net_device *ndev);
void arxe_dev_remove(struct rxe_dev *rxe);
struct rxe_dev *arxe_dev_get_by_netdev(struct net_device *ndev);
void arxe_dev_unregister_all(void);

#endif /* ARXE_H */

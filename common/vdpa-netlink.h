/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel's "vdpa" generic netlink family (drivers/vdpa/vdpa.c), through libnl-genl-3:
 * the management devices and vDPA devices iproute2's `vdpa mgmtdev show` and `vdpa dev show`
 * list, and `vdpa dev add`/`del`. The family lives in the initial network namespace only
 * (netnsok is false): elsewhere, or without the vdpa module, it does not resolve.
 */

#include <stdint.h>

#include "common/host.h"

/*
 * vdpa_netlink_scan: dumps VDPA_CMD_MGMTDEV_GET and VDPA_CMD_DEV_GET into
 * h->vdpa_mgmtdevs and h->vdpa_devices (appended, unsorted: host_finalize() sorts and checks;
 * driver and vhost char device are not netlink facts, see host-live.c). Returns 1 when the
 * family answered, 0 when it does not exist here (no module, another network namespace:
 * nothing is added), -ENOMEM, or -errno from the socket or the kernel.
 */
int vdpa_netlink_scan(Host *h);

/*
 * vdpa_netlink_dev_add: VDPA_CMD_DEV_NEW, a vDPA device called name on the management device
 * bus/mgmt_name (bus NULL for a software one: "vdpasim_net"). Needs CAP_NET_ADMIN (the
 * command is GENL_ADMIN_PERM). A NULL mgmt_name or name is left out of the message (the
 * kernel answers -EINVAL). Returns 0, -ENOENT when the family does not exist, or the
 * kernel's -errno: -EPERM, -EINVAL, -ENODEV (no such management device), -EEXIST (name
 * taken), -EOPNOTSUPP. Callers go through the kernel seam (kernel_vdpa_dev_add), where the
 * rules are written.
 */
int vdpa_netlink_dev_add(const char *bus, const char *mgmt_name, const char *name);

/* vdpa_netlink_dev_del: VDPA_CMD_DEV_DEL. 0, -ENOENT (no family), -EINVAL (no name),
 * -ENODEV (no such device), -EPERM. Blocks while the device's vhost-vdpa char device is open
 * (kernel.h, kernel_vdpa_dev_del). */
int vdpa_netlink_dev_del(const char *name);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Extras of the sim kernel backend (kernel-sim.c) that the common vtable does not carry:
 * host changes the real kernel would see through udev (hot-unplug, driver rebind), and raw
 * forms of two ioctls whose corner cases the vtable hides. Tests and the daemon's sim mode
 * use them; all return -EINVAL when k is not a sim kernel.
 */

#include <stdint.h>

#include "common/kernel.h"

/* True when k was made by kernel_new("sim", ...). */
bool kernel_is_sim(const Kernel *k);

/*
 * kernel_sim_unplug: the device's cdev disappears (hot-unplug, or vfio-pci unbound after
 * the last close). Later opens and binds of it fail -ENODEV; files already bound stay bound
 * (the kernel blocks the unbind until they are closed). -ENOENT for an unknown BDF.
 */
int kernel_sim_unplug(Kernel *k, const char *bdf);

/*
 * kernel_sim_set_driver: the device is rebound to driver (NULL = no driver). vfio_name is
 * its new cdev name when the driver is a VFIO one ("vfio7"), else NULL; the old cdev name
 * stops resolving (so an fd-less stale Device now gets -ENODEV or -ESTALE on open). Group
 * viability for later binds follows the new driver. -ENOENT for an unknown BDF.
 */
int kernel_sim_set_driver(Kernel *k, const char *bdf, const char *driver, const char *vfio_name);

/*
 * kernel_sim_sync_host: what the kernel would see after the host changed (a rescan after a
 * udev event, a reloaded snapshot): devices absent from host lose their cdev (as
 * kernel_sim_unplug), present ones take its driver and cdev name (as kernel_sim_set_driver),
 * new devices and groups appear, group reserved regions and the host-wide facts (API,
 * vendor, address width, interrupt remapping) are replaced. Open files, contexts and
 * bindings are kept: existing bindings stay, as in the kernel. -ENOMEM may leave a partial
 * update.
 */
int kernel_sim_sync_host(Kernel *k, const Host *host);

/*
 * kernel_sim_iova_ranges_raw: IOMMU_IOAS_IOVA_RANGES exactly as the ioctl behaves: fills at
 * most *inout_num entries of buf; on return *inout_num is the number of ranges that exist;
 * -EMSGSIZE when that exceeds the capacity (the first capacity entries are still filled).
 */
int kernel_sim_iova_ranges_raw(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange *buf,
			       uint32_t *inout_num, uint64_t *ret_alignment);

/*
 * kernel_sim_bind_token: VFIO_DEVICE_BIND_IOMMUFD with VFIO_DEVICE_BIND_FLAG_TOKEN and uuid
 * (the vtable's device_bind passes no token). From 6.17 the VF-token rule of
 * vfio_pci_core_match_token_uuid(): EACCES for a VF of a vfio-pci PF without that PF's
 * token, EINVAL for a token given to a device that takes none. Before 6.17 (the host's
 * kernel release) BIND checks no token and the flag is EINVAL.
 */
int kernel_sim_bind_token(Kernel *k, int devfd, int iommufd, const uint8_t uuid[16],
			  uint32_t *ret_dev_id);

/* kernel_sim_legacy_device_open_token: VFIO_GROUP_GET_DEVICE_FD with "BDF vf_token=UUID"
 * (the vtable's legacy_device_open asks for the bare name). The token rule on every kernel. */
int kernel_sim_legacy_device_open_token(Kernel *k, int group_fd, const Device *d,
					const uint8_t uuid[16], int *ret_device);

/* kernel_sim_set_vf_token: VFIO_DEVICE_FEATURE(SET, PCI_VF_TOKEN) on a bound PF file: EINVAL
 * before bind, ENOTTY on a device vfio-pci gave no token (not a PF on vfio-pci). */
int kernel_sim_set_vf_token(Kernel *k, int devfd, const uint8_t uuid[16]);

/*
 * kernel_sim_hot_reset: VFIO_DEVICE_PCI_HOT_RESET from a bound cdev file with no group fds
 * (what QEMU does): ENODEV on a root bus (no bus reset); EINVAL when a device the bus reset
 * takes down is not in the dev_set (a host driver, a bridge, a VF, anything not directly
 * on the bus) or a device of the dev_set is bound to, or in a group owned by, another
 * context (vfio_pci_dev_set_hot_reset); EINVAL from a group-path file or before bind.
 */
int kernel_sim_hot_reset(Kernel *k, int devfd);

/* kernel_sim_set_rlimit_mode_raw: IOMMU_OPTION(RLIMIT_MODE, SET, val64) with any val64. */
int kernel_sim_set_rlimit_mode_raw(Kernel *k, int iommufd, uint64_t val64);

/*
 * kernel_sim_override_cap_sys_resource: for tests only. -1 (the default) makes RLIMIT_MODE
 * SET ask the calling process's real effective capability set, as the kernel does; 0 or 1
 * pretend CAP_SYS_RESOURCE is absent or present. Lets unit tests reach the EBUSY/EINVAL
 * rules on machines whose test runner lacks the capability. Never used by the daemon.
 */
int kernel_sim_override_cap_sys_resource(Kernel *k, int value);
/* kernel_sim_override_cap_net_admin: the same for the vdpa family's GENL_ADMIN_PERM commands
 * (dev add, dev del): -1 (the default) asks the calling process's effective CAP_NET_ADMIN,
 * 0 or 1 decide. -EINVAL for a non-sim kernel. */
int kernel_sim_override_cap_net_admin(Kernel *k, int value);

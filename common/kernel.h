/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel seam: the only code that touches /dev/iommu, /dev/vfio, /dev/vhost-vdpa-N or
 * the vdpa generic netlink family (the host loader reads vDPA through it too). Callers use the
 * typed functions below (kernel_ioas_alloc(k, iommufd, &id), ...); each dispatches, in kernel.c,
 * through a vtable that only the backends see (common/kernel-impl.h). Two implementations:
 *   - "linux" (kernel-linux.c): real ioctls with the project's own uAPI definitions
 *     (common/uapi.h); on kernels without iommufd it falls back to the legacy VFIO
 *     group/container uAPI, found by probing, never by version number;
 *   - "sim" (kernel-sim.c): an in-process model over a Host snapshot that reproduces the
 *     kernel's rules and errnos; its fds are memfds named for what they stand for
 *     ("ioasid-sim:iommufd:3", "ioasid-sim:vfio:0000:3b:00.0").
 * Nothing above the seam knows which one is in use.
 *
 * Every function returns 0 (or a non-negative value) on success and the kernel's -errno on
 * failure, exactly as the ioctl would. fds are owned by the caller and are closed with
 * kernel_close() (a plain close(): as in the kernel, a file is released, a device unbound,
 * when the last reference to it goes, in whichever process holds it).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/host.h"

typedef struct Kernel Kernel;

typedef struct IovaRange {
	uint64_t start;
	uint64_t last; /* inclusive */
} IovaRange;

typedef enum KernelApi {
	KERNEL_API_IOMMUFD, /* /dev/iommu + /dev/vfio/devices/vfioN */
	KERNEL_API_LEGACY,  /* /dev/vfio/vfio container + /dev/vfio/N group */
	KERNEL_API_NONE,    /* neither: no device can be handed out */
} KernelApi;

typedef struct KernelHwInfo {
	uint32_t data_type;    /* IOMMU_HW_INFO_TYPE_* */
	uint64_t capabilities; /* IOMMU_HW_CAP_* */
	uint8_t max_pasid_log2;
} KernelHwInfo;

/* kernel_new: name is "linux" or "sim". host is required for "sim" (the sim keeps a copy
 * of what it needs) and ignored by "linux". -EINVAL for an unknown name. */
int kernel_new(const char *name, const Host *host, Kernel **ret);
/* kernel_free: tears the backend down: its own fds (the sim's events fd and its pins of the
 * files it handed out) are closed and its state freed. The files it handed out stay open:
 * they are the caller's, closed with kernel_close() before this. Takes NULL, returns NULL. */
Kernel *kernel_free(Kernel *k);
static inline void kernel_freep(Kernel **k) {
	kernel_free(*k);
}
#define _cleanup_kernel_free_ _cleanup_(kernel_freep)

/* The backend's name: "linux" or "sim". */
const char *kernel_name(const Kernel *k);
/* Which uAPI the kernel offers, probed (never inferred from a version). */
KernelApi kernel_api(Kernel *k);
const char *kernel_api_to_string(KernelApi a);

/*
 * The calls. Each is one operation of the backend, named as in the kernel's uAPI; an
 * operation the backend does not have returns -EOPNOTSUPP. Out-parameters (ret_*) are written
 * only on success.
 */

/* ---- iommufd ---- */
int kernel_iommufd_open(Kernel *k, int *ret_fd);
/* IOMMU_OPTION_RLIMIT_MODE set: per_process true = 1. EPERM without CAP_SYS_RESOURCE,
 * EBUSY when the context holds objects. */
int kernel_iommufd_set_rlimit_mode(Kernel *k, int iommufd, bool per_process);
int kernel_iommufd_get_rlimit_mode(Kernel *k, int iommufd, bool *ret_per_process);
int kernel_ioas_alloc(Kernel *k, int iommufd, uint32_t *ret_ioas_id);
/* IOMMU_DESTROY of any object id (IOAS, HWPT); ENOENT for an id that is not there. */
int kernel_ioas_destroy(Kernel *k, int iommufd, uint32_t id);
int kernel_ioas_allow_iovas(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
			    size_t n);
/* Returns the ranges (malloc'd) and the alignment; retries EMSGSIZE internally. */
int kernel_ioas_iova_ranges(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange **ret,
			    size_t *ret_n, uint64_t *ret_alignment);
int kernel_ioas_map(Kernel *k, int iommufd, uint32_t ioas_id, uint32_t flags, uint64_t user_va,
		    uint64_t length, uint64_t *inout_iova);
int kernel_ioas_unmap(Kernel *k, int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t length,
		      uint64_t *ret_unmapped);
int kernel_ioas_set_huge_pages(Kernel *k, int iommufd, uint32_t ioas_id, bool enable);

/* ---- VFIO device cdev ---- */
/* Opens the device's cdev O_RDWR|O_CLOEXEC|O_NOFOLLOW and verifies that the opened fd's
 * st_rdev leads back through /sys/dev/char/M:m to d->bdf. -ESTALE on mismatch, -ENODEV when
 * the device has no cdev any more. */
int kernel_device_open(Kernel *k, const Device *d, int *ret_fd);
int kernel_device_bind(Kernel *k, int devfd, int iommufd, uint32_t *ret_dev_id);
/* pt_id: IOAS or HWPT; *ret_hwpt_id (may be NULL) gets the HWPT actually attached. */
int kernel_device_attach(Kernel *k, int devfd, uint32_t pt_id, uint32_t *ret_hwpt_id);
int kernel_device_detach(Kernel *k, int devfd);
int kernel_device_reset(Kernel *k, int devfd);
int kernel_hw_info(Kernel *k, int iommufd, uint32_t dev_id, KernelHwInfo *ret);

/* ---- vhost-vdpa ---- */
/*
 * kernel_vhost_vdpa_open: opens /dev/<v->vhost_name> O_RDWR|O_CLOEXEC|O_NOFOLLOW and verifies
 * that the opened fd is the char device v->vhost_major:minor (-ESTALE otherwise). The kernel's
 * vhost_vdpa_open() is exclusive: -EBUSY while another file of the device is open, anywhere;
 * -EINVAL when the parent leaves translation to the platform IOMMU (vp_vdpa) and is not alone
 * in its IOMMU group (vhost-vdpa attaches a domain of its own: iommu_attach_device() needs a
 * single-device group); -ENODEV when v has no vhost-vdpa char device (any more); -ESTALE
 * when the file opened is not v's (its minor went with it and another device has it now:
 * the linux backend checks that /sys/dev/char/M:m leads to <v->name>/<v->vhost_name>).
 */
int kernel_vhost_vdpa_open(Kernel *k, const VdpaDevice *v, int *ret_fd);
/*
 * kernel_vhost_vdpa_set_status: VHOST_VDPA_SET_STATUS, the virtio status byte of the device
 * behind a vhost-vdpa file (VIRTIO_CONFIG_S_*). Status 0 is a virtio reset
 * (drivers/vhost/vdpa.c _compat_vdpa_reset -> vdpa_reset): the device drops its features and
 * virtqueues and does no DMA until a driver sets it up again, and unless the file negotiated
 * VHOST_BACKEND_F_IOTLB_PERSIST the parent also drops its own copy of the mappings
 * (VDPA_RESET_F_CLEAN_MAP). The file's IOTLB (the holder's mappings, its pinned pages, a
 * platform IOMMU domain's entries) stays: only the owner's IOTLB messages or the file's last
 * close remove it. Any process holding the file may call this (vhost-vdpa checks no owner
 * for it). -EINVAL for a status that clears a bit already set (only 0 removes bits),
 * -ENOTTY for a file that is no vhost-vdpa device, the parent's -errno if its reset fails.
 * kernel_vhost_vdpa_get_status: VHOST_VDPA_GET_STATUS, the status byte as the device says.
 */
int kernel_vhost_vdpa_set_status(Kernel *k, int fd, uint8_t status);
int kernel_vhost_vdpa_get_status(Kernel *k, int fd, uint8_t *ret_status);

/*
 * ---- the vdpa generic netlink family (drivers/vdpa/vdpa.c) ----
 * What iproute2's `vdpa mgmtdev show`, `vdpa dev show`, `vdpa dev add` and `vdpa dev del`
 * speak. linux: common/vdpa-netlink.c (libnl-genl-3) plus the vdpa bus in sysfs for what
 * netlink does not say (a device's driver and vhost-vdpa char device). sim: the same family
 * over its model, with the kernel's order of checks and errnos:
 *   - dev add / dev del are GENL_ADMIN_PERM: -EPERM without CAP_NET_ADMIN, before anything
 *     else; dumps need no capability;
 *   - dev add: -EINVAL without a name or without a management device name (the attributes
 *     are left out of the message when NULL: the kernel, not this code, answers), -ENODEV for
 *     a management device that is not there (bus and name must both match: a software one has
 *     no bus, so "pci/vdpasim_net" is -ENODEV), -EEXIST for a name a vDPA device already has
 *     (__vdpa_register_device). The new device is probed by the bus: on vhost_vdpa it gets the
 *     lowest free vhost-vdpa-N minor (vhost_vdpa_probe's ida) and its char device;
 *   - dev del: -EINVAL without a name, -ENODEV for a name no vDPA device has, -EINVAL for a
 *     device no management device created (no such device is ever listed: the dump names
 *     each device's management device). Deleting a device whose /dev/vhost-vdpa-N is open
 *     does NOT fail: vhost_vdpa_remove() removes the char device and then WAITS, in the
 *     kernel, holding the family's lock (every other vdpa request waits too), until the last
 *     file of it is closed, in whichever process holds it; the sim's del waits the same way
 *     (a caller holding the file itself never returns, as on the kernel). Callers that must
 *     not hang test the exclusive open first (kernel_vhost_vdpa_open: -EBUSY while open).
 * -ENOENT from every call when the family does not exist (no vdpa module, a network
 * namespace other than the initial one; the sim: a host snapshot without any vDPA
 * management device).
 */
/* kernel_vdpa_dump: appends every management device and vDPA device to h->vdpa_mgmtdevs and
 * h->vdpa_devices (unsorted; VdpaDevice.parent is not set: host_finalize() links it), with
 * each device's driver and vhost-vdpa char device. 1 when the family answered, 0 when it does
 * not exist here (nothing added), -errno. */
int kernel_vdpa_dump(Kernel *k, Host *h);
/* kernel_vdpa_dev_add: VDPA_CMD_DEV_NEW, a device called name on the management device
 * bus/mgmt_name (bus NULL for a software one: "vdpasim_net"). */
int kernel_vdpa_dev_add(Kernel *k, const char *bus, const char *mgmt_name, const char *name);
/* kernel_vdpa_dev_del: VDPA_CMD_DEV_DEL; may block, see above. */
int kernel_vdpa_dev_del(Kernel *k, const char *name);
/* kernel_vdpa_dev_del_unopened: the del a caller that must not hang uses. When the device
 * has a vhost-vdpa char device it is opened first (and closed again): -EBUSY, the device left
 * as it is and *ret_vhost_name (may be NULL) its char device's name (malloc'd), while a
 * file of it is open anywhere (a lease, another process); then kernel_vdpa_dev_del. The
 * check and the del are two steps: an open that lands between them makes the del wait as
 * above. The test open resets the device (vhost_vdpa_open), harmless on one about to go. */
int kernel_vdpa_dev_del_unopened(Kernel *k, const char *name, char **ret_vhost_name);

/* ---- legacy VFIO (KERNEL_API_LEGACY) ---- */
/* Container + group + device fds for one device, in one call (kernel_legacy_container_open,
 * kernel_legacy_group_open, kernel_legacy_set_iommu, kernel_legacy_device_open). */
int kernel_legacy_open(Kernel *k, const Device *d, int *ret_container, int *ret_group,
		       int *ret_device);
/* The same, step by step, for several groups on one container:
 * kernel_legacy_container_open: opens /dev/vfio/vfio, checks VFIO_API_VERSION and the TYPE1v2
 *   extension. -ENOENT without the container node, -EOPNOTSUPP without TYPE1v2.
 * kernel_legacy_group_open: opens /dev/vfio/<group> O_NOFOLLOW, verifies it is that group's
 *   node (-ESTALE), checks VFIO_GROUP_FLAGS_VIABLE (-EPERM when not viable, the errno
 *   SET_CONTAINER gives for a DMA API user) and sets it on container
 *   (VFIO_GROUP_SET_CONTAINER). -ENODEV when the group has no node, -EBUSY when the node
 *   is open elsewhere or the group's DMA is owned through another path.
 * kernel_legacy_set_iommu: VFIO_SET_IOMMU(TYPE1v2) on a container with at least one group;
 *   -EINVAL without a group or when already set. Once per container.
 * kernel_legacy_device_open: VFIO_GROUP_GET_DEVICE_FD(d->bdf) on the group fd: -EINVAL while
 *   the container's IOMMU is not set, -ENODEV when d is not (any more) in the group or
 *   not on a VFIO driver.
 * Closing the group fd (last reference) unsets the container; the container's mappings
 * go with its last group. */
int kernel_legacy_container_open(Kernel *k, int *ret_container);
int kernel_legacy_group_open(Kernel *k, int group, int container, int *ret_group);
int kernel_legacy_set_iommu(Kernel *k, int container);
int kernel_legacy_device_open(Kernel *k, int group_fd, const Device *d, int *ret_device);

/* ---- files ---- */
/* kernel_close: closes an fd the backend handed out (or one fd_check accepted): a plain
 * close(), the file is released at its last reference. 0, -EBADF for fd < 0 or not open. */
int kernel_close(Kernel *k, int fd);
/* kernel_closep: kernel_close(*fd) when *fd >= 0, then *fd = -EBADF. Returns what
 * kernel_close returned, 0 when there was nothing to close. */
int kernel_closep(Kernel *k, int *fd);
/* kernel_fd_check: is fd what a record says it is: an iommufd (d NULL) or the VFIO device
 * file (cdev) of d? For fds the daemon gets back rather than opens (the fdstore after a
 * restart). 0 when it is, -ESTALE when it is some other file (another type, another device,
 * a device that is gone), -errno when it cannot be told. */
int kernel_fd_check(Kernel *k, int fd, const Device *d);
/* kernel_vhost_vdpa_fd_check: is fd the vhost-vdpa char device of v (its dev_t as the host
 * model says it is now; the sim: its own file of v, or an earlier sim's named for v, which it
 * then adopts as its open file of v, -EBUSY when it has another)? For a vhost-vdpa lease's fd
 * back from the fdstore. 0, -ESTALE when it is some other file or v has no char device any
 * more, -errno when it cannot be told. */
int kernel_vhost_vdpa_fd_check(Kernel *k, int fd, const VdpaDevice *v);
/* kernel_events_fd: an fd (owned by the backend) that polls readable when a file the backend
 * handed out may have been released (its last reference closed, anywhere); kernel_sync()
 * takes that in (every other call does so first anyway). Only a backend that keeps state of
 * its own has one (the sim); linux: -EOPNOTSUPP for both, the kernel is its own state. */
int kernel_events_fd(Kernel *k);
int kernel_sync(Kernel *k);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The inside of the kernel seam: the vtable each backend fills and its constructor. Only
 * common/kernel*.c (and tests that wrap a backend to inject a fault) include this; everyone
 * else calls the typed functions of kernel.h, where each operation's contract is written.
 * An operation a backend leaves NULL is -EOPNOTSUPP (api: KERNEL_API_NONE).
 */

#include "common/kernel.h"

typedef struct KernelOps {
	const char *name;
	void (*free)(Kernel *k);
	KernelApi (*api)(Kernel *k);

	int (*iommufd_open)(Kernel *k, int *ret_fd);
	int (*iommufd_set_rlimit_mode)(Kernel *k, int iommufd, bool per_process);
	int (*iommufd_get_rlimit_mode)(Kernel *k, int iommufd, bool *ret_per_process);
	int (*ioas_alloc)(Kernel *k, int iommufd, uint32_t *ret_ioas_id);
	int (*ioas_destroy)(Kernel *k, int iommufd, uint32_t id);
	int (*ioas_allow_iovas)(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
				size_t n);
	int (*ioas_iova_ranges)(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange **ret,
				size_t *ret_n, uint64_t *ret_alignment);
	int (*ioas_map)(Kernel *k, int iommufd, uint32_t ioas_id, uint32_t flags, uint64_t user_va,
			uint64_t length, uint64_t *inout_iova);
	int (*ioas_unmap)(Kernel *k, int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t length,
			  uint64_t *ret_unmapped);
	int (*ioas_set_huge_pages)(Kernel *k, int iommufd, uint32_t ioas_id, bool enable);

	int (*device_open)(Kernel *k, const Device *d, int *ret_fd);
	int (*device_bind)(Kernel *k, int devfd, int iommufd, uint32_t *ret_dev_id);
	int (*device_attach)(Kernel *k, int devfd, uint32_t pt_id, uint32_t *ret_hwpt_id);
	int (*device_detach)(Kernel *k, int devfd);
	int (*device_reset)(Kernel *k, int devfd);
	int (*hw_info)(Kernel *k, int iommufd, uint32_t dev_id, KernelHwInfo *ret);

	int (*vhost_vdpa_open)(Kernel *k, const VdpaDevice *v, int *ret_fd);
	int (*vhost_vdpa_set_status)(Kernel *k, int fd, uint8_t status);
	int (*vhost_vdpa_get_status)(Kernel *k, int fd, uint8_t *ret_status);
	int (*vhost_vdpa_fd_check)(Kernel *k, int fd, const VdpaDevice *v);
	int (*vdpa_dump)(Kernel *k, Host *h);
	int (*vdpa_dev_add)(Kernel *k, const char *bus, const char *mgmt_name, const char *name);
	int (*vdpa_dev_del)(Kernel *k, const char *name);

	int (*legacy_open)(Kernel *k, const Device *d, int *ret_container, int *ret_group,
			   int *ret_device);
	int (*legacy_container_open)(Kernel *k, int *ret_container);
	int (*legacy_group_open)(Kernel *k, int group, int container, int *ret_group);
	int (*legacy_set_iommu)(Kernel *k, int container);
	int (*legacy_device_open)(Kernel *k, int group_fd, const Device *d, int *ret_device);

	int (*close)(Kernel *k, int fd);

	int (*fd_check)(Kernel *k, int fd, const Device *d);
	int (*events_fd)(Kernel *k);
	int (*sync)(Kernel *k);
} KernelOps;

struct Kernel {
	const KernelOps *ops;
	void *userdata; /* the backend's */
};

/* Constructors of the two backends; only common/kernel.c calls them (kernel_new). */

int kernel_linux_new(Kernel **ret);
int kernel_sim_new(const Host *host, Kernel **ret);

/*
 * kernel_linux_check_cdev_link: the post-open identity check of device_open. target is the
 * readlink() of /sys/dev/char/M:m for the opened cdev; it must end in
 * ".../<bdf>/vfio-dev/<vfio_name>". Returns 0, -ESTALE on any mismatch, -EINVAL for NULL.
 */
int kernel_linux_check_cdev_link(const char *target, const char *bdf, const char *vfio_name);
/*
 * kernel_linux_check_vhost_link: the post-open identity check of vhost_vdpa_open. target is
 * the readlink() of /sys/dev/char/M:m for the opened char device; it must end in
 * ".../<vdpa_name>/<vhost_name>" (the char device sits under its vDPA device). Returns 0,
 * -ESTALE on any mismatch (another device has the minor now), -EINVAL for NULL.
 */
int kernel_linux_check_vhost_link(const char *target, const char *vdpa_name,
				  const char *vhost_name);

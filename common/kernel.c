/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The typed entry points of the kernel seam (kernel.h), each one dispatch through the
 * backend's vtable (kernel-impl.h). Nothing here interprets a result: the backend's -errno
 * goes back unchanged, so the linux backend's are the kernel's own.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/kernel-impl.h"
#include "common/kernel.h"
#include "common/macro.h"

int kernel_new(const char *name, const Host *host, Kernel **ret) {
	if (!name || !ret)
		return -EINVAL;
	if (streq(name, "linux"))
		return kernel_linux_new(ret);
	if (streq(name, "sim")) {
		if (!host)
			return -EINVAL;
		return kernel_sim_new(host, ret);
	}
	return -EINVAL;
}

Kernel *kernel_free(Kernel *k) {
	if (!k)
		return NULL;
	if (k->ops->free)
		k->ops->free(k);
	else
		free(k);
	return NULL;
}

const char *kernel_name(const Kernel *k) {
	return k->ops->name;
}

KernelApi kernel_api(Kernel *k) {
	return k->ops->api ? k->ops->api(k) : KERNEL_API_NONE;
}

const char *kernel_api_to_string(KernelApi a) {
	switch (a) {
	case KERNEL_API_IOMMUFD:
		return "iommufd";
	case KERNEL_API_LEGACY:
		return "legacy";
	case KERNEL_API_NONE:
		return "none";
	}
	return NULL;
}

/* One operation of k's backend with k first, or -EOPNOTSUPP when the backend has none. */
#define DISPATCH(k, op, ...) ((k)->ops->op ? (k)->ops->op((k), ##__VA_ARGS__) : -EOPNOTSUPP)

int kernel_iommufd_open(Kernel *k, int *ret_fd) {
	return DISPATCH(k, iommufd_open, ret_fd);
}

int kernel_iommufd_set_rlimit_mode(Kernel *k, int iommufd, bool per_process) {
	return DISPATCH(k, iommufd_set_rlimit_mode, iommufd, per_process);
}

int kernel_iommufd_get_rlimit_mode(Kernel *k, int iommufd, bool *ret_per_process) {
	return DISPATCH(k, iommufd_get_rlimit_mode, iommufd, ret_per_process);
}

int kernel_ioas_alloc(Kernel *k, int iommufd, uint32_t *ret_ioas_id) {
	return DISPATCH(k, ioas_alloc, iommufd, ret_ioas_id);
}

int kernel_ioas_destroy(Kernel *k, int iommufd, uint32_t id) {
	return DISPATCH(k, ioas_destroy, iommufd, id);
}

int kernel_ioas_allow_iovas(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
			    size_t n) {
	return DISPATCH(k, ioas_allow_iovas, iommufd, ioas_id, ranges, n);
}

int kernel_ioas_iova_ranges(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange **ret,
			    size_t *ret_n, uint64_t *ret_alignment) {
	return DISPATCH(k, ioas_iova_ranges, iommufd, ioas_id, ret, ret_n, ret_alignment);
}

int kernel_ioas_map(Kernel *k, int iommufd, uint32_t ioas_id, uint32_t flags, uint64_t user_va,
		    uint64_t length, uint64_t *inout_iova) {
	return DISPATCH(k, ioas_map, iommufd, ioas_id, flags, user_va, length, inout_iova);
}

int kernel_ioas_unmap(Kernel *k, int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t length,
		      uint64_t *ret_unmapped) {
	return DISPATCH(k, ioas_unmap, iommufd, ioas_id, iova, length, ret_unmapped);
}

int kernel_ioas_set_huge_pages(Kernel *k, int iommufd, uint32_t ioas_id, bool enable) {
	return DISPATCH(k, ioas_set_huge_pages, iommufd, ioas_id, enable);
}

int kernel_device_open(Kernel *k, const Device *d, int *ret_fd) {
	return DISPATCH(k, device_open, d, ret_fd);
}

int kernel_vhost_vdpa_open(Kernel *k, const VdpaDevice *v, int *ret_fd) {
	return DISPATCH(k, vhost_vdpa_open, v, ret_fd);
}

int kernel_vhost_vdpa_set_status(Kernel *k, int fd, uint8_t status) {
	return DISPATCH(k, vhost_vdpa_set_status, fd, status);
}

int kernel_vhost_vdpa_get_status(Kernel *k, int fd, uint8_t *ret_status) {
	return DISPATCH(k, vhost_vdpa_get_status, fd, ret_status);
}

int kernel_vhost_vdpa_fd_check(Kernel *k, int fd, const VdpaDevice *v) {
	return DISPATCH(k, vhost_vdpa_fd_check, fd, v);
}

int kernel_vdpa_dump(Kernel *k, Host *h) {
	return DISPATCH(k, vdpa_dump, h);
}

int kernel_vdpa_dev_add(Kernel *k, const char *bus, const char *mgmt_name, const char *name) {
	return DISPATCH(k, vdpa_dev_add, bus, mgmt_name, name);
}

int kernel_vdpa_dev_del(Kernel *k, const char *name) {
	return DISPATCH(k, vdpa_dev_del, name);
}

int kernel_vdpa_dev_del_unopened(Kernel *k, const char *name, char **ret_vhost_name) {
	if (!name)
		return kernel_vdpa_dev_del(k, name);
	_cleanup_host_free_ Host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int r = kernel_vdpa_dump(k, h);
	if (r < 0)
		return r;
	const VdpaDevice *v = NULL;
	for (size_t i = 0; i < h->n_vdpa_devices && !v; i++)
		if (streq(h->vdpa_devices[i].name, name))
			v = &h->vdpa_devices[i];
	if (v && v->vhost_name) {
		int fd = -EBADF;
		r = kernel_vhost_vdpa_open(k, v, &fd);
		if (r == -EBUSY) {
			if (ret_vhost_name && !(*ret_vhost_name = strdup(v->vhost_name)))
				return -ENOMEM;
			return -EBUSY;
		}
		/* Any other answer (EINVAL: a vp_vdpa parent sharing its group) was given after
		 * the exclusive check passed: nobody held it. */
		kernel_closep(k, &fd);
	}
	return kernel_vdpa_dev_del(k, name);
}

int kernel_device_bind(Kernel *k, int devfd, int iommufd, uint32_t *ret_dev_id) {
	return DISPATCH(k, device_bind, devfd, iommufd, ret_dev_id);
}

int kernel_device_attach(Kernel *k, int devfd, uint32_t pt_id, uint32_t *ret_hwpt_id) {
	return DISPATCH(k, device_attach, devfd, pt_id, ret_hwpt_id);
}

int kernel_device_detach(Kernel *k, int devfd) {
	return DISPATCH(k, device_detach, devfd);
}

int kernel_device_reset(Kernel *k, int devfd) {
	return DISPATCH(k, device_reset, devfd);
}

int kernel_hw_info(Kernel *k, int iommufd, uint32_t dev_id, KernelHwInfo *ret) {
	return DISPATCH(k, hw_info, iommufd, dev_id, ret);
}

int kernel_legacy_open(Kernel *k, const Device *d, int *ret_container, int *ret_group,
		       int *ret_device) {
	return DISPATCH(k, legacy_open, d, ret_container, ret_group, ret_device);
}

int kernel_legacy_container_open(Kernel *k, int *ret_container) {
	return DISPATCH(k, legacy_container_open, ret_container);
}

int kernel_legacy_group_open(Kernel *k, int group, int container, int *ret_group) {
	return DISPATCH(k, legacy_group_open, group, container, ret_group);
}

int kernel_legacy_set_iommu(Kernel *k, int container) {
	return DISPATCH(k, legacy_set_iommu, container);
}

int kernel_legacy_device_open(Kernel *k, int group_fd, const Device *d, int *ret_device) {
	return DISPATCH(k, legacy_device_open, group_fd, d, ret_device);
}

int kernel_close(Kernel *k, int fd) {
	return DISPATCH(k, close, fd);
}

int kernel_closep(Kernel *k, int *fd) {
	int r = *fd >= 0 ? kernel_close(k, *fd) : 0;
	*fd = -EBADF;
	return r;
}

int kernel_fd_check(Kernel *k, int fd, const Device *d) {
	return DISPATCH(k, fd_check, fd, d);
}

int kernel_events_fd(Kernel *k) {
	return DISPATCH(k, events_fd);
}

int kernel_sync(Kernel *k) {
	return DISPATCH(k, sync);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The linux kernel backend: real ioctls on /dev/iommu and /dev/vfio, with the project's own
 * uAPI definitions (common/uapi.h). Every function returns the ioctl's -errno unchanged,
 * except where noted (device_open's -ESTALE/-ENODEV, legacy_open's -EPERM for a group that
 * is not viable, -EOPNOTSUPP for a container without type1v2).
 *
 * Struct sizes: we pass our (newest) layouts with all new fields zero. Older kernels accept
 * that: iommufd's copy_struct_from_user ignores a zero tail, and VFIO's cdev ioctls read
 * only their minimum unless a new flag is set (uapi-facts.md 1.1, 2.2).
 *
 * The API is probed, never inferred from the kernel version: /dev/iommu opens -> iommufd;
 * it does not exist -> /dev/vfio/vfio exists -> legacy; else none.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/kernel-impl.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/uapi.h"
#include "common/vdpa-netlink.h"

#define DEV_IOMMU "/dev/iommu"
#define DEV_VFIO_CONTAINER "/dev/vfio/vfio"
#define DEV_VFIO_CDEV_DIR "/dev/vfio/devices"

/* IovaRange is passed to the kernel as struct iommu_iova_range without copying. */
static_assert(sizeof(IovaRange) == sizeof(struct iommu_iova_range), "IovaRange layout");
static_assert(offsetof(IovaRange, start) == offsetof(struct iommu_iova_range, start), "start");
static_assert(offsetof(IovaRange, last) == offsetof(struct iommu_iova_range, last), "last");

static int xioctl(int fd, unsigned long req, void *arg) {
	if (ioctl(fd, req, arg) < 0)
		return -errno;
	return 0;
}

/* ---- probing ------------------------------------------------------------------------ */

static KernelApi linux_api(Kernel *k) {
	int fd = open(DEV_IOMMU, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		close(fd);
		return KERNEL_API_IOMMUFD;
	}
	/* Present but not openable by us (EACCES, EPERM): iommufd is still the kernel's API;
	 * opening will report the real error. Absent node or driver: look further. */
	if (errno != ENOENT && errno != ENXIO && errno != ENODEV)
		return KERNEL_API_IOMMUFD;
	struct stat st;
	if (stat(DEV_VFIO_CONTAINER, &st) == 0 && S_ISCHR(st.st_mode))
		return KERNEL_API_LEGACY;
	return KERNEL_API_NONE;
}

/* ---- iommufd ------------------------------------------------------------------------ */

static int linux_iommufd_open(Kernel *k, int *ret_fd) {
	int fd = open(DEV_IOMMU, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static int linux_option(int iommufd, uint32_t option_id, uint16_t op, uint32_t object_id,
			uint64_t *inout_val) {
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object_id,
		.val64 = *inout_val,
	};
	int r = xioctl(iommufd, IOMMU_OPTION, &cmd);
	if (r < 0)
		return r;
	*inout_val = cmd.val64;
	return 0;
}

static int linux_iommufd_set_rlimit_mode(Kernel *k, int iommufd, bool per_process) {
	uint64_t v = per_process ? 1 : 0;
	return linux_option(iommufd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &v);
}

static int linux_iommufd_get_rlimit_mode(Kernel *k, int iommufd, bool *ret_per_process) {
	uint64_t v = 0;
	int r = linux_option(iommufd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &v);
	if (r < 0)
		return r;
	*ret_per_process = v == 1;
	return 0;
}

static int linux_ioas_alloc(Kernel *k, int iommufd, uint32_t *ret_ioas_id) {
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int r = xioctl(iommufd, IOMMU_IOAS_ALLOC, &cmd);
	if (r < 0)
		return r;
	*ret_ioas_id = cmd.out_ioas_id;
	return 0;
}

static int linux_ioas_destroy(Kernel *k, int iommufd, uint32_t id) {
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };
	return xioctl(iommufd, IOMMU_DESTROY, &cmd);
}

static int linux_ioas_allow_iovas(Kernel *k, int iommufd, uint32_t ioas_id, const IovaRange *ranges,
				  size_t n) {
	if (n > UINT32_MAX)
		return -EINVAL;
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = (uint32_t)n,
		.allowed_iovas = (uintptr_t)ranges,
	};
	return xioctl(iommufd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

static int linux_ioas_iova_ranges(Kernel *k, int iommufd, uint32_t ioas_id, IovaRange **ret,
				  size_t *ret_n, uint64_t *ret_alignment) {
	/* Start with room for one range on purpose: every attached IOAS has at least two, so
	 * the EMSGSIZE-then-retry path runs on every real-kernel test, not only on rare hosts.
	 * The set can change between calls (a concurrent attach): retry while the kernel keeps
	 * asking for more, with a bound so a misbehaving kernel cannot spin us. */
	uint32_t cap = 1;
	for (unsigned attempt = 0; attempt < 16; attempt++) {
		_cleanup_free_ IovaRange *buf = calloc(cap, sizeof(*buf));
		if (!buf)
			return -ENOMEM;
		struct iommu_ioas_iova_ranges cmd = {
			.size = sizeof(cmd),
			.ioas_id = ioas_id,
			.num_iovas = cap,
			.allowed_iovas = (uintptr_t)buf,
		};
		int r = xioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &cmd);
		if (r == -EMSGSIZE && cmd.num_iovas > cap) {
			cap = cmd.num_iovas;
			continue;
		}
		if (r < 0)
			return r;
		*ret = TAKE_PTR(buf);
		*ret_n = cmd.num_iovas;
		if (ret_alignment)
			*ret_alignment = cmd.out_iova_alignment;
		return 0;
	}
	return -EMSGSIZE;
}

static int linux_ioas_map(Kernel *k, int iommufd, uint32_t ioas_id, uint32_t flags,
			  uint64_t user_va, uint64_t length, uint64_t *inout_iova) {
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.user_va = user_va,
		.length = length,
		.iova = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) ? *inout_iova : 0,
	};
	int r = xioctl(iommufd, IOMMU_IOAS_MAP, &cmd);
	if (r < 0)
		return r;
	*inout_iova = cmd.iova;
	return 0;
}

static int linux_ioas_unmap(Kernel *k, int iommufd, uint32_t ioas_id, uint64_t iova,
			    uint64_t length, uint64_t *ret_unmapped) {
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};
	int r = xioctl(iommufd, IOMMU_IOAS_UNMAP, &cmd);
	if (r < 0)
		return r;
	if (ret_unmapped)
		*ret_unmapped = cmd.length;
	return 0;
}

static int linux_ioas_set_huge_pages(Kernel *k, int iommufd, uint32_t ioas_id, bool enable) {
	uint64_t v = enable ? 1 : 0;
	return linux_option(iommufd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, ioas_id, &v);
}

/* ---- devices ------------------------------------------------------------------------ */

static bool cdev_name_is_valid(const char *name) {
	return !isempty(name) && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..") &&
	       strlen(name) < NAME_MAX;
}

int kernel_linux_check_cdev_link(const char *target, const char *bdf, const char *vfio_name) {
	/* target: "../../devices/pci0000:00/0000:00:03.0/0000:01:00.0/vfio-dev/vfio0". The
	 * last three components must be BDF, "vfio-dev", the cdev name. */
	if (!target || !bdf || !vfio_name)
		return -EINVAL;
	const char *last = strrchr(target, '/');
	if (!last || !streq(last + 1, vfio_name))
		return -ESTALE;
	size_t n = (size_t)(last - target);
	static const char mid[] = "/vfio-dev";
	size_t ml = sizeof(mid) - 1;
	if (n < ml || strncmp(target + n - ml, mid, ml) != 0)
		return -ESTALE;
	n -= ml;
	size_t bl = strlen(bdf);
	if (n < bl || strncmp(target + n - bl, bdf, bl) != 0)
		return -ESTALE;
	if (n > bl && target[n - bl - 1] != '/')
		return -ESTALE; /* "10000:01:00.0" must not match "0000:01:00.0" */
	return 0;
}

int kernel_linux_check_vhost_link(const char *target, const char *vdpa_name,
				  const char *vhost_name) {
	/* target: "../../devices/vdr0/vhost-vdpa-0" (a software device) or
	 * "../../devices/pci0000:00/0000:00:09.0/0000:07:00.0/vdpa1/vhost-vdpa-1". */
	if (!target || !vdpa_name || !vhost_name)
		return -EINVAL;
	const char *last = strrchr(target, '/');
	if (!last || !streq(last + 1, vhost_name))
		return -ESTALE;
	size_t n = (size_t)(last - target), vl = strlen(vdpa_name);
	if (n < vl || strncmp(target + n - vl, vdpa_name, vl) != 0 ||
	    (n > vl && target[n - vl - 1] != '/'))
		return -ESTALE; /* "xvdr0" must not match "vdr0" */
	return 0;
}

/* fd is d's vfio-dev cdev: its st_rdev leads back through /sys/dev/char to d->bdf and
 * d->vfio_name. -ESTALE when it is another file, -ENODEV when the cdev is gone. */
static int linux_check_cdev_fd(int fd, const Device *d) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ESTALE;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	target[n] = 0;
	return kernel_linux_check_cdev_link(target, d->bdf, d->vfio_name);
}

static int linux_device_open(Kernel *k, const Device *d, int *ret_fd) {
	if (!d || !bdf_is_canonical(d->bdf))
		return -EINVAL;
	if (!d->vfio_name)
		return -ENODEV;
	if (!cdev_name_is_valid(d->vfio_name))
		return -EINVAL;
	char path[sizeof(DEV_VFIO_CDEV_DIR) + NAME_MAX + 2];
	snprintf(path, sizeof(path), DEV_VFIO_CDEV_DIR "/%s", d->vfio_name);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;

	/* Check what we opened, not what the name said: the cdev may have been replaced
	 * between the host scan and this open (unbind + rebind reuses vfioN names). */
	int r = linux_check_cdev_fd(fd, d);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* /dev/vhost-vdpa-N: the name sysfs gave, opened without following links, and the opened
 * file checked against the dev_t sysfs gave and against its vDPA device (a vDPA device
 * deleted and another created reuse the name and the dev_t). */
static int linux_vhost_vdpa_open(Kernel *k, const VdpaDevice *v, int *ret_fd) {
	struct stat st;
	if (!v)
		return -EINVAL;
	if (!v->vhost_name)
		return -ENODEV;
	if (!strneq(v->vhost_name, "vhost-vdpa-", 11) || strchr(v->vhost_name, '/') ||
	    strlen(v->vhost_name) > NAME_MAX)
		return -EINVAL;
	char path[sizeof("/dev/") + NAME_MAX + 1];
	snprintf(path, sizeof(path), "/dev/%s", v->vhost_name);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != v->vhost_major ||
	    minor(st.st_rdev) != v->vhost_minor)
		return -ESTALE;
	/* The minor is freed with its device and handed to the next one: the same dev_t may be
	 * another vDPA device's now. The char device's sysfs node sits under its vDPA device:
	 * /sys/dev/char/M:m -> .../<v->name>/<v->vhost_name>. */
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -ESTALE;
	target[n] = '\0';
	int r = kernel_linux_check_vhost_link(target, v->name, v->vhost_name);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* VHOST_VDPA_SET_STATUS / GET_STATUS: one byte each way. */
static int linux_vhost_vdpa_set_status(Kernel *k, int fd, uint8_t status) {
	(void)k;
	__u8 s = status;
	if (ioctl(fd, VHOST_VDPA_SET_STATUS, &s) < 0)
		return -errno;
	return 0;
}

static int linux_vhost_vdpa_get_status(Kernel *k, int fd, uint8_t *ret_status) {
	(void)k;
	__u8 s = 0;
	if (ioctl(fd, VHOST_VDPA_GET_STATUS, &s) < 0)
		return -errno;
	*ret_status = s;
	return 0;
}

/* The char device v->vhost_major:minor, as sysfs says v's is now. */
static int linux_vhost_vdpa_fd_check(Kernel *k, int fd, const VdpaDevice *v) {
	struct stat st;
	(void)k;
	if (!v)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!v->vhost_name || !S_ISCHR(st.st_mode) || major(st.st_rdev) != v->vhost_major ||
	    minor(st.st_rdev) != v->vhost_minor)
		return -ESTALE;
	return 0;
}

/* The driver and vhost-vdpa char device of the vDPA device v, from /sys/bus/vdpa/devices/NAME
 * (the vdpa bus; netlink does not say). A device gone meanwhile keeps none. */
static int linux_vdpa_binding(int busfd, VdpaDevice *v) {
	char buf[PATH_MAX];
	_cleanup_close_ int dfd = openat(busfd, v->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n = readlinkat(dfd, "driver", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		const char *slash = strrchr(buf, '/');
		if (!(v->driver = strdup(slash ? slash + 1 : buf)))
			return -ENOMEM;
	}
	int fd = dup(dfd);
	if (fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	while (!v->vhost_name && (e = readdir(dir))) {
		unsigned maj, min;
		char attr[NAME_MAX + 8];
		if (!strneq(e->d_name, "vhost-vdpa-", 11))
			continue;
		snprintf(attr, sizeof(attr), "%s/dev", e->d_name);
		_cleanup_close_ int afd = openat(dfd, attr, O_RDONLY | O_CLOEXEC);
		ssize_t got = afd >= 0 ? read(afd, buf, sizeof(buf) - 1) : -1;
		if (got <= 0)
			continue;
		buf[got] = '\0';
		if (sscanf(buf, "%u:%u", &maj, &min) != 2)
			continue;
		if (!(v->vhost_name = strdup(e->d_name)))
			return -ENOMEM;
		v->vhost_major = maj;
		v->vhost_minor = min;
	}
	return 0;
}

/* The family through vdpa-netlink.c; each device's binding from the vdpa bus in sysfs. */
static int linux_vdpa_dump(Kernel *k, Host *h) {
	if (!h)
		return -EINVAL;
	size_t first = h->n_vdpa_devices;
	int r = vdpa_netlink_scan(h);
	if (r <= 0)
		return r;
	_cleanup_close_ int busfd = open("/sys/bus/vdpa/devices",
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = first; busfd >= 0 && i < h->n_vdpa_devices; i++) {
		int b = linux_vdpa_binding(busfd, &h->vdpa_devices[i]);
		if (b < 0)
			return b;
	}
	return 1;
}

static int linux_vdpa_dev_add(Kernel *k, const char *bus, const char *mgmt_name, const char *name) {
	return vdpa_netlink_dev_add(bus, mgmt_name, name);
}

static int linux_vdpa_dev_del(Kernel *k, const char *name) {
	return vdpa_netlink_dev_del(name);
}

static int linux_fd_check(Kernel *k, int fd, const Device *d) {
	struct stat st, io;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ESTALE;
	if (!d) {
		if (stat(DEV_IOMMU, &io) < 0)
			return errno == ENOENT ? -ESTALE : -errno;
		return S_ISCHR(io.st_mode) && io.st_rdev == st.st_rdev ? 0 : -ESTALE;
	}
	if (!bdf_is_canonical(d->bdf) || !d->vfio_name || !cdev_name_is_valid(d->vfio_name))
		return -ESTALE;
	int r = linux_check_cdev_fd(fd, d);
	return r == -ENODEV ? -ESTALE : r;
}

static int linux_device_bind(Kernel *k, int devfd, int iommufd, uint32_t *ret_dev_id) {
	struct vfio_device_bind_iommufd cmd = {
		.argsz = sizeof(cmd),
		.flags = 0,
		.iommufd = iommufd,
	};
	int r = xioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &cmd);
	if (r < 0)
		return r;
	if (ret_dev_id)
		*ret_dev_id = cmd.out_devid;
	return 0;
}

static int linux_device_attach(Kernel *k, int devfd, uint32_t pt_id, uint32_t *ret_hwpt_id) {
	struct vfio_device_attach_iommufd_pt cmd = {
		.argsz = sizeof(cmd),
		.flags = 0,
		.pt_id = pt_id,
	};
	int r = xioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &cmd);
	if (r < 0)
		return r;
	if (ret_hwpt_id)
		*ret_hwpt_id = cmd.pt_id; /* rewritten with the HWPT actually attached */
	return 0;
}

static int linux_device_detach(Kernel *k, int devfd) {
	struct vfio_device_detach_iommufd_pt cmd = { .argsz = sizeof(cmd), .flags = 0 };
	return xioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &cmd);
}

static int linux_device_reset(Kernel *k, int devfd) {
	if (ioctl(devfd, VFIO_DEVICE_RESET) < 0)
		return -errno;
	return 0;
}

static int linux_hw_info(Kernel *k, int iommufd, uint32_t dev_id, KernelHwInfo *ret) {
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	int r = xioctl(iommufd, IOMMU_GET_HW_INFO, &cmd);
	if (r < 0)
		return r;
	*ret = (KernelHwInfo){
		.data_type = cmd.out_data_type,
		.capabilities = cmd.out_capabilities,
		.max_pasid_log2 = cmd.out_max_pasid_log2,
	};
	return 0;
}

/* ---- legacy group/container path ---------------------------------------------------- */

static int linux_legacy_container_open(Kernel *k, int *ret_container) {
	_cleanup_close_ int container = open(DEV_VFIO_CONTAINER, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (container < 0)
		return -errno;
	int v = ioctl(container, VFIO_GET_API_VERSION);
	if (v < 0)
		return -errno;
	if (v != VFIO_API_VERSION)
		return -EOPNOTSUPP;
	v = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	if (v < 0)
		return -errno;
	if (v != 1)
		return -EOPNOTSUPP;
	*ret_container = TAKE_FD(container);
	return 0;
}

static int linux_legacy_group_open(Kernel *k, int group, int container, int *ret_group) {
	if (group < 0 || container < 0)
		return group < 0 ? -ENODEV : -EBADF;
	char path[64];
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno; /* EBUSY: opened elsewhere */

	/* Check what we opened: the node's sysfs entry is the vfio class device named after
	 * the group (".../virtual/vfio/17"), so a node replaced behind our back is -ESTALE. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ESTALE;
	char link[64], target[PATH_MAX], want[32];
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	target[n] = 0;
	snprintf(want, sizeof(want), "/vfio/%d", group);
	size_t wl = strlen(want);
	if ((size_t)n < wl || !streq(target + n - wl, want))
		return -ESTALE;

	/* Not viable (a member on a host driver): -EPERM, the errno SET_CONTAINER itself
	 * gives for a group with a DMA API user, so callers see one errno either way. */
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int r = xioctl(fd, VFIO_GROUP_GET_STATUS, &status);
	if (r < 0)
		return r;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EPERM;
	r = xioctl(fd, VFIO_GROUP_SET_CONTAINER, &container);
	if (r < 0)
		return r;
	*ret_group = TAKE_FD(fd);
	return 0;
}

static int linux_legacy_set_iommu(Kernel *k, int container) {
	return RET_NERRNO(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
}

static int linux_legacy_device_open(Kernel *k, int group_fd, const Device *d, int *ret_device) {
	if (!d || !bdf_is_canonical(d->bdf))
		return -EINVAL;
	int device = ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (device < 0)
		return -errno;
	/* The kernel creates it O_CLOEXEC; make sure regardless. */
	(void)fcntl(device, F_SETFD, FD_CLOEXEC);
	*ret_device = device;
	return 0;
}

static int linux_legacy_open(Kernel *k, const Device *d, int *ret_container, int *ret_group,
			     int *ret_device) {
	if (!d || !bdf_is_canonical(d->bdf))
		return -EINVAL;
	if (d->iommu_group < 0)
		return -ENODEV;
	_cleanup_close_ int container = -EBADF, group = -EBADF;
	int device = -EBADF;
	int r = linux_legacy_container_open(k, &container);
	if (r < 0)
		return r;
	r = linux_legacy_group_open(k, d->iommu_group, container, &group);
	if (r < 0)
		return r;
	/* The container is new, so this is its first (and only) SET_IOMMU. */
	r = linux_legacy_set_iommu(k, container);
	if (r < 0)
		return r;
	r = linux_legacy_device_open(k, group, d, &device);
	if (r < 0)
		return r;
	*ret_container = TAKE_FD(container);
	*ret_group = TAKE_FD(group);
	*ret_device = device;
	return 0;
}

/* ---- lifetime ----------------------------------------------------------------------- */

static int linux_close(Kernel *k, int fd) {
	if (fd < 0)
		return -EBADF;
	return RET_NERRNO(close(fd));
}

static void linux_free(Kernel *k) {
	free(k);
}

static const KernelOps linux_ops = {
	.name = "linux",
	.free = linux_free,
	.api = linux_api,
	.iommufd_open = linux_iommufd_open,
	.iommufd_set_rlimit_mode = linux_iommufd_set_rlimit_mode,
	.iommufd_get_rlimit_mode = linux_iommufd_get_rlimit_mode,
	.ioas_alloc = linux_ioas_alloc,
	.ioas_destroy = linux_ioas_destroy,
	.ioas_allow_iovas = linux_ioas_allow_iovas,
	.ioas_iova_ranges = linux_ioas_iova_ranges,
	.ioas_map = linux_ioas_map,
	.ioas_unmap = linux_ioas_unmap,
	.ioas_set_huge_pages = linux_ioas_set_huge_pages,
	.device_open = linux_device_open,
	.vhost_vdpa_open = linux_vhost_vdpa_open,
	.vhost_vdpa_set_status = linux_vhost_vdpa_set_status,
	.vhost_vdpa_get_status = linux_vhost_vdpa_get_status,
	.vhost_vdpa_fd_check = linux_vhost_vdpa_fd_check,
	.vdpa_dump = linux_vdpa_dump,
	.vdpa_dev_add = linux_vdpa_dev_add,
	.vdpa_dev_del = linux_vdpa_dev_del,
	.device_bind = linux_device_bind,
	.device_attach = linux_device_attach,
	.device_detach = linux_device_detach,
	.device_reset = linux_device_reset,
	.hw_info = linux_hw_info,
	.legacy_open = linux_legacy_open,
	.legacy_container_open = linux_legacy_container_open,
	.legacy_group_open = linux_legacy_group_open,
	.legacy_set_iommu = linux_legacy_set_iommu,
	.legacy_device_open = linux_legacy_device_open,
	.close = linux_close,
	.fd_check = linux_fd_check,
};

int kernel_linux_new(Kernel **ret) {
	Kernel *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->ops = &linux_ops;
	*ret = k;
	return 0;
}

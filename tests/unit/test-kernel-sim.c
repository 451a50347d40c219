/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim kernel backend against the kernel's documented rules (reference/uapi-facts.md):
 * one test per rule, each asserting the exact errno.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/uapi.h"
#include "tests/tools/vdpa-rules.h"
#include "tests/unit/test.h"

#define MSI_START 0xfee00000ULL
#define MSI_END 0xfeefffffULL
#define K(op, ...) kernel_##op(k, ##__VA_ARGS__)

/*
 * The test host, built by hand:
 *   group 10: 0000:01:00.0 vfio-pci (vfio0)                      MSI
 *   group 11: 0000:02:00.0 vfio-pci (vfio1)                      MSI + direct-relaxable
 *   group 12: 0000:03:00.0 (vfio2) + 0000:03:00.1 (vfio3), both vfio-pci      MSI
 *   group 13: 0000:04:00.0 vfio-pci (vfio4) + 0000:04:00.1 snd_hda_intel     MSI
 *   group 14: 0000:05:00.0 vfio-pci (vfio5) + 0000:05:00.1 pci-stub + 0000:05:00.2 none
 *   0000:06:00.0 e1000e, no IOMMU group, no cdev
 */
static ReservedRegion msi_only[] = { { MSI_START, MSI_END, RESV_MSI } };
static ReservedRegion msi_relax[] = {
	{ 0x10000000, 0x100fffff, RESV_DIRECT_RELAXABLE },
	{ MSI_START, MSI_END, RESV_MSI },
};

#define DEV(b, g, drv, vfio, minor)                                                                \
	{                                                                                          \
		.bdf = b, .iommu_group = g, .driver = (char *)drv, .vfio_name = (char *)vfio,      \
		.vfio_major = 511, .vfio_minor = minor, .numa_node = -1, .sriov_totalvfs = -1,     \
		.class = 0x020000                                                                  \
	}

static Device test_devices[] = {
	DEV("0000:01:00.0", 10, "vfio-pci", "vfio0", 0),
	DEV("0000:02:00.0", 11, "vfio-pci", "vfio1", 1),
	DEV("0000:03:00.0", 12, "vfio-pci", "vfio2", 2),
	DEV("0000:03:00.1", 12, "vfio-pci", "vfio3", 3),
	DEV("0000:04:00.0", 13, "vfio-pci", "vfio4", 4),
	DEV("0000:04:00.1", 13, "snd_hda_intel", NULL, 0),
	DEV("0000:05:00.0", 14, "vfio-pci", "vfio5", 5),
	DEV("0000:05:00.1", 14, "pci-stub", NULL, 0),
	DEV("0000:05:00.2", 14, NULL, NULL, 0),
	DEV("0000:06:00.0", -1, "e1000e", NULL, 0),
};

static Group test_groups[] = {
	{ .number = 10, .regions = msi_only, .n_regions = 1 },
	{ .number = 11, .regions = msi_relax, .n_regions = 2 },
	{ .number = 12, .regions = msi_only, .n_regions = 1 },
	{ .number = 13, .regions = msi_only, .n_regions = 1 },
	{ .number = 14, .regions = msi_only, .n_regions = 1 },
};

static Host test_host_make(void) {
	return (Host){
		.kernel = { .iommu_vendor = (char *)"intel",
			    .interrupt_remapping = TRI_YES,
			    .address_width = 48,
			    .iommufd = TRI_YES,
			    .vfio_cdev = TRI_YES,
			    .vfio_pci = TRI_YES,
			    .vfio_legacy = TRI_YES,
			    .noiommu_mode = TRI_NO },
		.devices = test_devices,
		.n_devices = ELEMENTSOF(test_devices),
		.groups = test_groups,
		.n_groups = ELEMENTSOF(test_groups),
	};
}

static const Device *dev(const char *bdf) {
	for (size_t i = 0; i < ELEMENTSOF(test_devices); i++)
		if (streq(test_devices[i].bdf, bdf))
			return &test_devices[i];
	return NULL;
}

static Kernel *sim_new(void) {
	Host h = test_host_make();
	Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", &h, &k));
	return k;
}

static int fd_name(int fd, char *buf, size_t len) {
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* Opens a device and binds it to iommufd; returns the device fd. */
static int open_bind(Kernel *k, const char *bdf, int iommufd, uint32_t *ret_id) {
	int fd = -1;
	ASSERT_OK(K(device_open, dev(bdf), &fd));
	ASSERT_OK(K(device_bind, fd, iommufd, ret_id));
	return fd;
}

static void test_new_and_api(void) {
	Host h = test_host_make();
	Kernel *k = NULL;
	ASSERT_ERR(kernel_new("bogus", &h, &k), EINVAL);
	ASSERT_ERR(kernel_new("sim", NULL, &k), EINVAL);
	ASSERT_OK(kernel_new("sim", &h, &k));
	CU_ASSERT_TRUE(kernel_is_sim(k));
	ASSERT_STREQ(kernel_name(k), "sim");
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_IOMMUFD);
	kernel_free(k);

	h.kernel.iommufd = TRI_NO;
	ASSERT_OK(kernel_new("sim", &h, &k));
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_LEGACY);
	int fd;
	ASSERT_ERR(K(iommufd_open, &fd), ENOENT);
	kernel_free(k);

	h.kernel.vfio_legacy = TRI_UNKNOWN;
	ASSERT_OK(kernel_new("sim", &h, &k));
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_NONE);
	int c, g, d;
	ASSERT_ERR(K(legacy_open, dev("0000:01:00.0"), &c, &g, &d), ENOENT);
	kernel_free(k);

	ASSERT_STREQ(kernel_api_to_string(KERNEL_API_IOMMUFD), "iommufd");
	ASSERT_STREQ(kernel_api_to_string(KERNEL_API_LEGACY), "legacy");
	ASSERT_STREQ(kernel_api_to_string(KERNEL_API_NONE), "none");
}

static void test_memfd_names(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i1, i2, d;
	char name[256];
	ASSERT_OK(K(iommufd_open, &i1));
	ASSERT_OK(K(iommufd_open, &i2));
	ASSERT_OK(fd_name(i1, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "memfd:ioasid-sim:iommufd:1"));
	ASSERT_OK(fd_name(i2, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "memfd:ioasid-sim:iommufd:2"));
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &d));
	ASSERT_OK(fd_name(d, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "memfd:ioasid-sim:vfio:0000:03:00.1"));
	CU_ASSERT_EQUAL(fcntl(d, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CU_ASSERT_EQUAL(fcntl(i1, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i1));
	ASSERT_OK(K(close, i2));
	ASSERT_ERR(K(close, i2), EBADF);
}

static void test_unknown_fds(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	uint32_t id;
	_cleanup_close_ int other = memfd_create("not-sim", MFD_CLOEXEC);
	CU_ASSERT_TRUE(other >= 0);
	ASSERT_ERR(K(ioas_alloc, other, &id), ENOTTY);
	ASSERT_ERR(K(device_bind, other, other, &id), ENOTTY);
	ASSERT_ERR(K(ioas_alloc, 999, &id), EBADF);
	ASSERT_ERR(K(ioas_alloc, -1, &id), EBADF);
	/* An iommufd ioctl on a device file, and a device ioctl on an iommufd, are ENOTTY. */
	int i, d;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_ERR(K(ioas_alloc, d, &id), ENOTTY);
	ASSERT_ERR(K(device_reset, i), ENOTTY);
	/* A dup() of a sim fd is the same file. */
	int dupfd = fcntl(i, F_DUPFD_CLOEXEC, 3);
	ASSERT_OK(K(ioas_alloc, dupfd, &id));
	CU_ASSERT_EQUAL(id, 1);
	close(dupfd);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

/* fd_check: a file is what a record says, also one made by an earlier sim (a restarted
 * daemon's fdstore), recognised by its memfd name; anything else is -ESTALE. */
static void test_fd_check(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i, d;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_OK(K(fd_check, i, NULL));
	ASSERT_OK(K(fd_check, d, dev("0000:01:00.0")));
	ASSERT_ERR(K(fd_check, d, NULL), ESTALE);
	ASSERT_ERR(K(fd_check, i, dev("0000:01:00.0")), ESTALE);
	ASSERT_ERR(K(fd_check, d, dev("0000:03:00.1")), ESTALE);
	/* A new sim knows none of these files: it goes by their names. */
	Kernel *k2 = sim_new();
	ASSERT_OK(kernel_fd_check(k2, i, NULL));
	ASSERT_OK(kernel_fd_check(k2, d, dev("0000:01:00.0")));
	ASSERT_ERR(kernel_fd_check(k2, d, NULL), ESTALE);
	ASSERT_ERR(kernel_fd_check(k2, i, dev("0000:01:00.0")), ESTALE);
	ASSERT_ERR(kernel_fd_check(k2, d, dev("0000:03:00.1")), ESTALE);
	kernel_free(k2);
	/* Other files: a pipe, a memfd of another name, one named like a sim file but longer. */
	int p[2];
	ASSERT_OK(pipe2(p, O_CLOEXEC));
	ASSERT_ERR(K(fd_check, p[0], NULL), ESTALE);
	ASSERT_ERR(K(fd_check, p[0], dev("0000:01:00.0")), ESTALE);
	static const char *const names[] = { "plain",
					     "ioasid-sim:iommufd:", "ioasid-sim:iommufd:1x",
					     "ioasid-sim:vfio:0000:01:00.01", "ioasid-sim:vfio:" };
	for (size_t n = 0; n < ELEMENTSOF(names); n++) {
		_cleanup_close_ int m = memfd_create(names[n], MFD_CLOEXEC);
		CU_ASSERT_FATAL(m >= 0);
		ASSERT_ERR(K(fd_check, m, NULL), ESTALE);
		ASSERT_ERR(K(fd_check, m, dev("0000:01:00.0")), ESTALE);
	}
	ASSERT_ERR(K(fd_check, 999, NULL), EBADF);
	safe_close(p[0]);
	safe_close(p[1]);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_object_ids(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i1, i2;
	uint32_t a, b, c, dev_id;
	ASSERT_OK(K(iommufd_open, &i1));
	ASSERT_OK(K(iommufd_open, &i2));
	ASSERT_OK(K(ioas_alloc, i1, &a));
	ASSERT_OK(K(ioas_alloc, i1, &b));
	CU_ASSERT_EQUAL(a, 1);
	CU_ASSERT_EQUAL(b, 2);
	/* Per context: the other context starts at 1 too. */
	ASSERT_OK(K(ioas_alloc, i2, &c));
	CU_ASSERT_EQUAL(c, 1);
	/* Shared across types: the device gets the next id. */
	int d = open_bind(k, "0000:01:00.0", i1, &dev_id);
	CU_ASSERT_EQUAL(dev_id, 3);
	/* Lowest free id is reused. */
	ASSERT_OK(K(ioas_destroy, i1, a));
	ASSERT_OK(K(ioas_alloc, i1, &c));
	CU_ASSERT_EQUAL(c, 1);
	/* Wrong type is ENOENT; id 0 never exists. */
	uint64_t iova = 0;
	ASSERT_ERR(K(ioas_map, i1, dev_id, IOMMU_IOAS_MAP_READABLE, 0x1000, 0x1000, &iova), ENOENT);
	ASSERT_ERR(K(ioas_destroy, i1, 0), ENOENT);
	ASSERT_ERR(K(ioas_destroy, i1, 77), ENOENT);
	ASSERT_ERR(K(ioas_set_huge_pages, i1, 0, true), ENOENT);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i1));
	ASSERT_OK(K(close, i2));
}

static void test_destroy_rules(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas, ioas2, dev_id, hwpt;
	uint64_t iova = 0x100000;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(ioas_alloc, i, &ioas2));
	/* An IOAS holding only mappings can be destroyed. */
	ASSERT_OK(K(ioas_map, i, ioas2, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
		    0x7f0000000000, 0x1000, &iova));
	ASSERT_OK(K(ioas_destroy, i, ioas2));
	int d = open_bind(k, "0000:01:00.0", i, &dev_id);
	ASSERT_OK(K(device_attach, d, ioas, &hwpt));
	ASSERT_ERR(K(ioas_destroy, i, ioas), EBUSY);
	ASSERT_ERR(K(ioas_destroy, i, hwpt), EBUSY);
	ASSERT_ERR(K(ioas_destroy, i, dev_id), EBUSY);
	/* The automatic HWPT goes away with its last device. */
	ASSERT_OK(K(device_detach, d));
	ASSERT_ERR(K(ioas_destroy, i, hwpt), ENOENT);
	ASSERT_OK(K(ioas_destroy, i, ioas));
	ASSERT_ERR(K(ioas_destroy, i, dev_id), EBUSY);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static bool have_cap_sys_resource(void) {
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE);
}

static void test_rlimit_mode(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	bool pp = true;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(iommufd_get_rlimit_mode, i, &pp));
	CU_ASSERT_FALSE(pp); /* per-user by default */

	/* Without CAP_SYS_RESOURCE in the calling process: EPERM (checked in a child that
	 * drops it from its effective set). */
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2] = {};
		if (syscall(SYS_capget, &h, d) < 0)
			_exit(10);
		d[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &= ~CAP_TO_MASK(CAP_SYS_RESOURCE);
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(11);
		int r = K(iommufd_set_rlimit_mode, i, true);
		_exit(r == -EPERM ? 0 : 12);
	}
	int status;
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* In this process: the real capability decides. */
	if (!have_cap_sys_resource()) {
		ASSERT_ERR(K(iommufd_set_rlimit_mode, i, true), EPERM);
		/* The capability is checked first: EPERM even for a bad value. */
		ASSERT_ERR(kernel_sim_set_rlimit_mode_raw(k, i, 2), EPERM);
		/* Reach the remaining rules by pretending the capability is there. */
		ASSERT_OK(kernel_sim_override_cap_sys_resource(k, 1));
	} else {
		ASSERT_OK(kernel_sim_override_cap_sys_resource(k, 0));
		ASSERT_ERR(K(iommufd_set_rlimit_mode, i, true), EPERM);
		ASSERT_OK(kernel_sim_override_cap_sys_resource(k, -1));
	}
	ASSERT_ERR(kernel_sim_override_cap_sys_resource(k, 2), EINVAL);
	ASSERT_OK(K(iommufd_set_rlimit_mode, i, true));
	ASSERT_OK(K(iommufd_get_rlimit_mode, i, &pp));
	CU_ASSERT_TRUE(pp);
	ASSERT_ERR(kernel_sim_set_rlimit_mode_raw(k, i, 2), EINVAL);
	ASSERT_OK(kernel_sim_set_rlimit_mode_raw(k, i, 0));
	ASSERT_OK(K(iommufd_get_rlimit_mode, i, &pp));
	CU_ASSERT_FALSE(pp);
	uint32_t ioas;
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_ERR(K(iommufd_set_rlimit_mode, i, true), EBUSY);
	ASSERT_OK(K(ioas_destroy, i, ioas));
	ASSERT_OK(K(iommufd_set_rlimit_mode, i, true)); /* empty again */
	ASSERT_OK(K(close, i));
}

static void test_bind_once(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i1, i2, d1, d2;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &i1));
	ASSERT_OK(K(iommufd_open, &i2));
	d1 = open_bind(k, "0000:01:00.0", i1, &id);
	/* Second bind of the same file, to the same or another context. */
	ASSERT_ERR(K(device_bind, d1, i1, &id), EINVAL);
	ASSERT_ERR(K(device_bind, d1, i2, &id), EINVAL);
	/* Another open file of the same device while one is bound. */
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d2));
	ASSERT_ERR(K(device_bind, d2, i1, &id), EINVAL);
	ASSERT_ERR(K(device_bind, d2, i2, &id), EINVAL);
	/* Last close unbinds: now the other file can bind (even to another context). */
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(device_bind, d2, i2, &id));
	CU_ASSERT_EQUAL(id, 1);
	ASSERT_OK(K(close, d2));
	ASSERT_OK(K(close, i1));
	ASSERT_OK(K(close, i2));
}

static void test_bind_bad_fds(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int d, i;
	uint32_t id;
	_cleanup_close_ int other = memfd_create("not-iommufd", MFD_CLOEXEC);
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_ERR(K(device_bind, d, -1, &id), EINVAL);
	ASSERT_ERR(K(device_bind, d, 999, &id), EBADF);
	ASSERT_ERR(K(device_bind, d, other, &id), EBADFD);
	ASSERT_ERR(K(device_bind, d, d, &id), EBADFD); /* a device file is no iommufd */
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_bind, d, i, &id));
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_open_checks(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int d, i;
	uint32_t id;
	/* No cdev: ENODEV. */
	ASSERT_ERR(K(device_open, dev("0000:06:00.0"), &d), ENODEV);
	ASSERT_ERR(K(device_open, dev("0000:04:00.1"), &d), ENODEV);
	/* The cdev name leads to another device than asked for: ESTALE. */
	Device stale = *dev("0000:01:00.0");
	stale.vfio_name = (char *)"vfio1";
	ASSERT_ERR(K(device_open, &stale, &d), ESTALE);
	stale.vfio_name = (char *)"vfio42";
	ASSERT_ERR(K(device_open, &stale, &d), ENODEV);
	/* The cdev vanishes: later opens fail, and an already opened file cannot bind. */
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:02:00.0"), &d));
	ASSERT_OK(kernel_sim_unplug(k, "0000:02:00.0"));
	int d2;
	ASSERT_ERR(K(device_open, dev("0000:02:00.0"), &d2), ENODEV);
	ASSERT_ERR(K(device_bind, d, i, &id), ENODEV);
	ASSERT_ERR(kernel_sim_unplug(k, "0000:09:00.0"), ENOENT);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_group_ownership(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int a, b, d0, d1, d1b;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &a));
	ASSERT_OK(K(iommufd_open, &b));
	d0 = open_bind(k, "0000:03:00.0", a, &id);
	/* The group's other device: other context EPERM, same context fine. */
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &d1));
	ASSERT_ERR(K(device_bind, d1, b, &id), EPERM);
	ASSERT_OK(K(device_bind, d1, a, &id));
	ASSERT_OK(K(close, d1));
	/* Still owned by a through 03:00.0. */
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &d1b));
	ASSERT_ERR(K(device_bind, d1b, b, &id), EPERM);
	/* The last bound device of the group in a closes: ownership released. */
	ASSERT_OK(K(close, d0));
	ASSERT_OK(K(device_bind, d1b, b, &id));
	/* Other groups are independent. */
	int e = open_bind(k, "0000:01:00.0", a, &id);
	ASSERT_OK(K(close, e));
	ASSERT_OK(K(close, d1b));
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(close, b));
}

static void test_host_driver_sibling(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i, d, d5;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:04:00.0"), &d));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	/* pci-stub and driverless siblings do not block. */
	d5 = open_bind(k, "0000:05:00.0", i, &id);
	/* The sibling moves to vfio-pci: the group becomes viable. */
	ASSERT_OK(kernel_sim_set_driver(k, "0000:04:00.1", "vfio-pci", "vfio9"));
	ASSERT_OK(K(device_bind, d, i, &id));
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, d5));
	ASSERT_OK(K(close, i));
}

/* A platform device in the group (an SMMU host): on a host driver it is a DMA API user like a
 * PCI sibling, and the bind is refused; unbound or on vfio-platform it is not. */
static void test_platform_sibling(void) {
	Host h = test_host_make();
	Group groups[ELEMENTSOF(test_groups)];
	memcpy(groups, test_groups, sizeof(test_groups));
	Group *g = NULL;
	for (size_t j = 0; j < ELEMENTSOF(groups); j++)
		if (groups[j].number == dev("0000:01:00.0")->iommu_group)
			g = &groups[j];
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	ForeignMember fm = { .name = (char *)"3100000.usb",
			     .bus = (char *)"platform",
			     .driver = (char *)"dwc3",
			     .driver_known = true };
	g->foreign_members = &fm;
	g->n_foreign_members = 1;
	h.groups = groups;
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", &h, &k));
	int i, d;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	/* Not known (an older snapshot): refused too. */
	fm.driver = NULL;
	fm.driver_known = false;
	ASSERT_OK(kernel_sim_sync_host(k, &h));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	/* On vfio-platform (driver_managed_dma): the group is the PCI function's to claim. */
	fm.driver = (char *)"vfio-platform";
	fm.driver_known = true;
	ASSERT_OK(kernel_sim_sync_host(k, &h));
	ASSERT_OK(K(device_bind, d, i, &id));
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
	/* Unbound: nothing holds DMA either. */
	fm.driver = NULL;
	ASSERT_OK(kernel_sim_sync_host(k, &h));
	ASSERT_OK(K(iommufd_open, &i));
	d = open_bind(k, "0000:01:00.0", i, &id);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_interrupt_remapping(void) {
	Host h = test_host_make();
	h.kernel.interrupt_remapping = TRI_NO;
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", &h, &k));
	int i, d;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_before_bind(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i, d;
	uint32_t ioas, hwpt;
	KernelHwInfo hw;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d));
	ASSERT_ERR(K(device_attach, d, ioas, &hwpt), EINVAL);
	ASSERT_ERR(K(device_detach, d), EINVAL);
	ASSERT_ERR(K(device_reset, d), EINVAL);
	ASSERT_ERR(K(hw_info, i, 2, &hw), ENOENT);
	uint32_t id;
	ASSERT_OK(K(device_bind, d, i, &id));
	ASSERT_OK(K(device_reset, d));
	ASSERT_OK(K(device_detach, d)); /* detach always succeeds once bound */
	ASSERT_OK(K(hw_info, i, id, &hw));
	CU_ASSERT_EQUAL(hw.data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
	CU_ASSERT_EQUAL(hw.capabilities, 0);
	ASSERT_ERR(K(hw_info, i, ioas, &hw), ENOENT);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_hw_info_vendor(void) {
	Host h = test_host_make();
	h.kernel.iommu_vendor = (char *)"amd";
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", &h, &k));
	int i;
	uint32_t id;
	KernelHwInfo hw = { .data_type = 99 };
	ASSERT_OK(K(iommufd_open, &i));
	int d = open_bind(k, "0000:01:00.0", i, &id);
	ASSERT_OK(K(hw_info, i, id, &hw));
	CU_ASSERT_EQUAL(hw.data_type, IOMMU_HW_INFO_TYPE_NONE);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_group_attach(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas1, ioas2, id0, id1, h0, h1, h;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas1));
	ASSERT_OK(K(ioas_alloc, i, &ioas2));
	int d0 = open_bind(k, "0000:03:00.0", i, &id0);
	int d1 = open_bind(k, "0000:03:00.1", i, &id1);
	ASSERT_OK(K(device_attach, d0, ioas1, &h0));
	/* The sibling to a different IOAS: EINVAL; to the same IOAS: the same HWPT. */
	ASSERT_ERR(K(device_attach, d1, ioas2, &h), EINVAL);
	ASSERT_OK(K(device_attach, d1, ioas1, &h1));
	CU_ASSERT_EQUAL(h0, h1);
	ASSERT_OK(K(device_attach, d1, h0, &h)); /* by HWPT id: same domain */
	CU_ASSERT_EQUAL(h, h0);
	/* Replace through one attached device moves the whole group (the real 6.12 kernel
	 * does this too); the old automatic HWPT goes away. Then move it back. */
	ASSERT_OK(K(device_attach, d0, ioas2, &h));
	CU_ASSERT_NOT_EQUAL(h, h0);
	ASSERT_ERR(K(ioas_destroy, i, h0), ENOENT);
	ASSERT_OK(K(ioas_destroy, i, ioas1)); /* no domain left in it */
	ASSERT_OK(K(ioas_alloc, i, &ioas1));
	ASSERT_OK(K(device_attach, d1, ioas2, &h1)); /* the sibling moved too: no-op */
	CU_ASSERT_EQUAL(h1, h);
	ASSERT_OK(K(device_attach, d1, ioas1, &h0));
	ASSERT_OK(K(device_attach, d0, ioas1, &h)); /* moved back with d1 */
	CU_ASSERT_EQUAL(h, h0);
	/* Attach to a device id or to nothing. */
	ASSERT_ERR(K(device_attach, d0, id1, &h), EINVAL);
	ASSERT_ERR(K(device_attach, d0, 99, &h), ENOENT);
	ASSERT_OK(K(device_detach, d1));
	ASSERT_OK(K(device_detach, d1));
	/* Alone now: replace moves the group, and the old automatic HWPT is freed. */
	ASSERT_OK(K(device_attach, d0, ioas2, &h));
	CU_ASSERT_NOT_EQUAL(h, h0);
	ASSERT_ERR(K(ioas_destroy, i, h0), ENOENT);
	ASSERT_ERR(K(device_attach, d1, h0, &h1), ENOENT);
	/* Another group attaching to the same IOAS shares the compatible automatic HWPT. */
	uint32_t id2, h2;
	int d2 = open_bind(k, "0000:01:00.0", i, &id2);
	ASSERT_OK(K(device_attach, d2, ioas2, &h2));
	CU_ASSERT_EQUAL(h2, h);
	ASSERT_OK(K(close, d0));
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(close, d2));
	ASSERT_OK(K(close, i));
}

static void test_iova_ranges(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas, id;
	_cleanup_free_ IovaRange *r = NULL;
	size_t n;
	uint64_t align;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	/* Fresh IOAS: everything, alignment 1. */
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, &align));
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(r[0].start, 0);
	CU_ASSERT_EQUAL(r[0].last, UINT64_MAX);
	CU_ASSERT_EQUAL(align, 1);
	free(TAKE_PTR(r));
	/* Attached: the MSI window and everything above the 48-bit aperture are reserved; the
	 * direct-relaxable region of group 11 is not. */
	int d = open_bind(k, "0000:02:00.0", i, &id);
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, &align));
	CU_ASSERT_FATAL(n == 2);
	CU_ASSERT_EQUAL(r[0].start, 0);
	CU_ASSERT_EQUAL(r[0].last, MSI_START - 1);
	CU_ASSERT_EQUAL(r[1].start, MSI_END + 1);
	CU_ASSERT_EQUAL(r[1].last, (1ULL << 48) - 1);
	CU_ASSERT_EQUAL(align, 4096);
	/* The raw ioctl: capacity too small -> EMSGSIZE, required count, first entries. */
	IovaRange buf[2] = { { 7, 7 }, { 7, 7 } };
	uint32_t num = 0;
	ASSERT_ERR(kernel_sim_iova_ranges_raw(k, i, ioas, buf, &num, &align), EMSGSIZE);
	CU_ASSERT_EQUAL(num, 2);
	CU_ASSERT_EQUAL(buf[0].start, 7);
	num = 1;
	ASSERT_ERR(kernel_sim_iova_ranges_raw(k, i, ioas, buf, &num, &align), EMSGSIZE);
	CU_ASSERT_EQUAL(num, 2);
	CU_ASSERT_EQUAL(buf[0].last, MSI_START - 1);
	CU_ASSERT_EQUAL(buf[1].start, 7); /* untouched */
	num = 2;
	ASSERT_OK(kernel_sim_iova_ranges_raw(k, i, ioas, buf, &num, &align));
	CU_ASSERT_EQUAL(buf[1].start, MSI_END + 1);
	ASSERT_ERR(kernel_sim_iova_ranges_raw(k, i, 77, buf, &num, &align), ENOENT);
	/* Detached: back to one range. */
	ASSERT_OK(K(device_detach, d));
	free(TAKE_PTR(r));
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, &align));
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(align, 1);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_address_width(void) {
	Host h = test_host_make();
	h.kernel.address_width = 39;
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", &h, &k));
	int i;
	uint32_t ioas, id;
	_cleanup_free_ IovaRange *r = NULL;
	size_t n;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	int d = open_bind(k, "0000:01:00.0", i, &id);
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, NULL));
	CU_ASSERT_FATAL(n == 2);
	CU_ASSERT_EQUAL(r[1].last, 0x7fffffffffULL); /* as seen in the guest (vm-recipe) */
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_reserved_regions(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas, ioas2, ioas3, id;
	uint64_t iova;
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(ioas_alloc, i, &ioas2));
	ASSERT_OK(K(ioas_alloc, i, &ioas3));
	int d = open_bind(k, "0000:01:00.0", i, &id);
	/* A mapping over the MSI window made before attach: attach EADDRINUSE. */
	iova = MSI_START;
	ASSERT_OK(K(ioas_map, i, ioas2, rw | IOMMU_IOAS_MAP_FIXED_IOVA, 0x7f0000000000, 0x1000,
		    &iova));
	ASSERT_ERR(K(device_attach, d, ioas2, NULL), EADDRINUSE);
	/* A mapping above the aperture: EADDRINUSE as well. */
	iova = 1ULL << 50;
	ASSERT_OK(K(ioas_map, i, ioas3, rw | IOMMU_IOAS_MAP_FIXED_IOVA, 0x7f0000000000, 0x1000,
		    &iova));
	ASSERT_ERR(K(device_attach, d, ioas3, NULL), EADDRINUSE);
	/* An allowed range over the MSI window: EADDRINUSE. */
	IovaRange allow = { 0xfe000000, 0xfeffffff };
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, &allow, 1));
	ASSERT_ERR(K(device_attach, d, ioas, NULL), EADDRINUSE);
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, NULL, 0)); /* clears */
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	/* After attach: ALLOW_IOVAS over reserved IOVA EADDRINUSE, fixed MAP there EINVAL. */
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &allow, 1), EADDRINUSE);
	iova = MSI_START;
	ASSERT_ERR(K(ioas_map, i, ioas, rw | IOMMU_IOAS_MAP_FIXED_IOVA, 0x7f0000000000, 0x1000,
		     &iova),
		   EINVAL);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

/*
 * The edges of the MSI window (0xfee00000-0xfeefffff, inclusive). The kernel compares
 * inclusive intervals (iopt_set_allow_iova against the reserved tree, and
 * iopt_reserve_iova against the allowed tree at attach): a window whose last byte is the
 * window's first byte overlaps it by that one byte and is refused EADDRINUSE; a window ending
 * one byte earlier touches nothing. The same at the upper edge, and in both orders (allowed
 * range first, then attach; attach first, then ALLOW_IOVAS).
 */
static void test_reserved_edges(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas, id;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	int d = open_bind(k, "0000:01:00.0", i, &id);
	const IovaRange below_touch = { 0x100000, MSI_START },
			below_ok = { 0x100000, MSI_START - 1 };
	const IovaRange above_touch = { MSI_END, 0x1ffffffffULL },
			above_ok = { MSI_END + 1, 0x1ffffffffULL };

	/* Allowed first: the attach that would reserve the MSI window refuses. */
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, &below_touch, 1));
	ASSERT_ERR(K(device_attach, d, ioas, NULL), EADDRINUSE);
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, &above_touch, 1));
	ASSERT_ERR(K(device_attach, d, ioas, NULL), EADDRINUSE);
	const IovaRange both_ok[2] = { below_ok, above_ok };
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, both_ok, 2));
	ASSERT_OK(K(device_attach, d, ioas, NULL));

	/* Attached first: ALLOW_IOVAS itself refuses a window touching the reservation. */
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &below_touch, 1), EADDRINUSE);
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &above_touch, 1), EADDRINUSE);
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, &below_ok, 1));
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, &above_ok, 1));
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_allow_iovas(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas;
	uint64_t iova = 0;
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	IovaRange bad1 = { 0x2000, 0x2000 };
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &bad1, 1), EINVAL);
	IovaRange bad2 = { 0x3000, 0x2000 };
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &bad2, 1), EINVAL);
	IovaRange overlap[2] = { { 0x100000, 0x1fffff }, { 0x1ff000, 0x2fffff } };
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, overlap, 2), EINVAL);
	ASSERT_ERR(K(ioas_allow_iovas, i, 42, overlap, 1), ENOENT);
	/* Automatic IOVAs stay inside the allowed ranges, lowest window first whatever the
	 * order they were given in (the kernel's interval tree; seen on 6.12). */
	IovaRange ok[2] = { { 0x40000000, 0x4000ffff }, { 0x100000, 0x10ffff } };
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, ok, 2));
	ASSERT_OK(K(ioas_map, i, ioas, rw, 0x7f0000000000, 0x10000, &iova));
	CU_ASSERT_EQUAL(iova, 0x100000);
	ASSERT_OK(K(ioas_map, i, ioas, rw, 0x7f0000000000, 0x10000, &iova));
	CU_ASSERT_EQUAL(iova, 0x40000000);
	ASSERT_ERR(K(ioas_map, i, ioas, rw, 0x7f0000000000, 0x10000, &iova), ENOSPC);
	/* Cleared: the lowest free IOVA anywhere but page 0. */
	ASSERT_OK(K(ioas_allow_iovas, i, ioas, NULL, 0));
	ASSERT_OK(K(ioas_map, i, ioas, rw, 0x7f0000000000, 0x1000, &iova));
	CU_ASSERT_EQUAL(iova, 0x1000);
	ASSERT_OK(K(close, i));
}

static void test_map_unmap(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas, id;
	uint64_t iova, un;
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	const uint32_t fixed = rw | IOMMU_IOAS_MAP_FIXED_IOVA;
	const uint64_t va = 0x7f0000000000;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	iova = 0x100000;
	ASSERT_ERR(K(ioas_map, i, ioas, fixed | (1u << 3), va, 0x1000, &iova), EOPNOTSUPP);
	ASSERT_ERR(K(ioas_map, i, ioas, IOMMU_IOAS_MAP_FIXED_IOVA, va, 0x1000, &iova), EINVAL);
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0, &iova), EINVAL);
	ASSERT_ERR(K(ioas_map, i, 55, fixed, va, 0x1000, &iova), ENOENT);
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, UINT64_MAX, &iova), EOVERFLOW);
	iova = UINT64_MAX;
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0x1000, &iova), EOVERFLOW);
	iova = UINT64_MAX - 0xfff + 1 - 0x1000; /* last byte would pass UINT64_MAX */
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0x3000, &iova), EOVERFLOW);
	/* Overlap: EEXIST, no replacement. */
	iova = 0x100000;
	ASSERT_OK(K(ioas_map, i, ioas, fixed, va, 0x2000, &iova));
	iova = 0x101000;
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0x2000, &iova), EEXIST);
	iova = 0x104000;
	ASSERT_OK(K(ioas_map, i, ioas, fixed, va, 0x1000, &iova));
	/* Unmap: nothing there ENOENT; partial cover ENOENT; several whole areas with a hole
	 * between them fine, returns the total. */
	ASSERT_ERR(K(ioas_unmap, i, ioas, 0x200000, 0x1000, &un), ENOENT);
	ASSERT_ERR(K(ioas_unmap, i, ioas, 0x100000, 0x1000, &un), ENOENT);
	ASSERT_ERR(K(ioas_unmap, i, ioas, 0x100000, 0, &un), EINVAL);
	ASSERT_ERR(K(ioas_unmap, i, ioas, UINT64_MAX, 0x1000, &un), EOVERFLOW);
	ASSERT_OK(K(ioas_unmap, i, ioas, 0x100000, 0x5000, &un));
	CU_ASSERT_EQUAL(un, 0x3000);
	/* Automatic IOVA: never page 0, aligned to the length's power of two but not beyond
	 * the alignment of user_va. */
	ASSERT_OK(K(ioas_map, i, ioas, rw, va, 0x1000, &iova));
	CU_ASSERT_EQUAL(iova, 0x1000);
	ASSERT_OK(K(ioas_map, i, ioas, rw, va, 0x4000, &iova));
	CU_ASSERT_EQUAL(iova, 0x4000);
	ASSERT_OK(K(ioas_map, i, ioas, rw, 0x7f0000201000, 0x200000, &iova));
	CU_ASSERT_EQUAL(iova, 0x8000); /* user_va only 4 KiB aligned: 0x8000 is the next fit */
	ASSERT_OK(K(ioas_map, i, ioas, rw, 0x7f0000200000, 0x200000, &iova));
	CU_ASSERT_EQUAL(iova, 0x400000); /* 2 MiB aligned */
	/* Unmap-all: everything, and again on an empty IOAS. */
	ASSERT_OK(K(ioas_unmap, i, ioas, 0, UINT64_MAX, &un));
	CU_ASSERT_EQUAL(un, 0x405000);
	ASSERT_OK(K(ioas_unmap, i, ioas, 0, UINT64_MAX, &un));
	CU_ASSERT_EQUAL(un, 0);
	/* With a device attached, alignment is 4096. */
	int d = open_bind(k, "0000:01:00.0", i, &id);
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	iova = 0x100800;
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0x1000, &iova), EINVAL);
	iova = 0x100000;
	ASSERT_ERR(K(ioas_map, i, ioas, fixed, va, 0x800, &iova), EINVAL);
	ASSERT_OK(K(ioas_map, i, ioas, fixed, va, 0x1000, &iova));
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
}

static void test_huge_pages(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i;
	uint32_t ioas;
	uint64_t iova = 0x800, align;
	_cleanup_free_ IovaRange *r = NULL;
	size_t n;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(ioas_map, i, ioas, IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
		    0x7f0000000800, 0x800, &iova));
	ASSERT_ERR(K(ioas_set_huge_pages, i, ioas, false), EADDRINUSE);
	ASSERT_OK(K(ioas_unmap, i, ioas, 0, UINT64_MAX, NULL));
	ASSERT_OK(K(ioas_set_huge_pages, i, ioas, false));
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, &align));
	CU_ASSERT_EQUAL(align, 4096);
	ASSERT_OK(K(ioas_set_huge_pages, i, ioas, true));
	ASSERT_OK(K(close, i));
}

static void test_close_lifetime(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int a, b;
	uint32_t ioas, id, h;
	ASSERT_OK(K(iommufd_open, &a));
	ASSERT_OK(K(iommufd_open, &b));
	ASSERT_OK(K(ioas_alloc, a, &ioas));
	int d = open_bind(k, "0000:03:00.0", a, &id);
	/* Closing the iommufd does not end the context while a device is bound. */
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(device_attach, d, ioas, &h));
	int d1;
	uint32_t id1;
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &d1));
	ASSERT_ERR(K(device_bind, d1, b, &id1), EPERM); /* the group is still owned */
	/* Closing the device ends it: the group is free for b. */
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(device_bind, d1, b, &id1));
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(close, b));
}

static void test_legacy(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int c, g, d, c2, g2, d2, i, cd;
	uint32_t id;
	char name[256];
	ASSERT_OK(K(legacy_open, dev("0000:01:00.0"), &c, &g, &d));
	ASSERT_OK(fd_name(c, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "ioasid-sim:vfio-container:1"));
	ASSERT_OK(fd_name(g, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "ioasid-sim:vfio-group:10"));
	ASSERT_OK(fd_name(d, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "ioasid-sim:vfio-legacy:0000:01:00.0"));
	/* The group is exclusive. */
	ASSERT_ERR(K(legacy_open, dev("0000:01:00.0"), &c2, &g2, &d2), EBUSY);
	/* Not viable: a sibling on a host driver. */
	ASSERT_ERR(K(legacy_open, dev("0000:04:00.0"), &c2, &g2, &d2), EPERM);
	/* cdev and group node exclude each other. */
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &cd));
	ASSERT_ERR(K(device_bind, cd, i, &id), EBUSY);
	/* A group-obtained device fd cannot bind, attach or detach through the cdev API. */
	ASSERT_ERR(K(device_bind, d, i, &id), EINVAL);
	ASSERT_ERR(K(device_attach, d, 1, NULL), ENOTTY);
	ASSERT_ERR(K(device_detach, d), ENOTTY);
	ASSERT_OK(K(device_reset, d));
	ASSERT_OK(K(close, g));
	/* The device fd still holds the container claim: the DMA owner differs. */
	ASSERT_ERR(K(device_bind, cd, i, &id), EPERM);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, c));
	ASSERT_OK(K(device_bind, cd, i, &id));
	/* And the other way round: a bound cdev keeps the group node busy. */
	ASSERT_ERR(K(legacy_open, dev("0000:01:00.0"), &c2, &g2, &d2), EBUSY);
	ASSERT_OK(K(close, cd));
	ASSERT_OK(K(legacy_open, dev("0000:01:00.0"), &c2, &g2, &d2));
	ASSERT_OK(K(close, d2));
	ASSERT_OK(K(close, g2));
	ASSERT_OK(K(close, c2));
	ASSERT_OK(K(close, i));
}

/* The step-by-step legacy path: one container, several groups, SET_IOMMU once. */
static void test_legacy_steps(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int c, c2, g10, g12, g13, gx, d0, d1, d2, dx;
	char name[256];
	ASSERT_OK(K(legacy_container_open, &c));
	ASSERT_ERR(K(legacy_set_iommu, c), EINVAL); /* no group yet */
	ASSERT_ERR(K(legacy_group_open, 99, c, &gx), ENODEV);
	ASSERT_ERR(K(legacy_group_open, 10, -1, &gx), EBADF);
	ASSERT_OK(K(legacy_group_open, 10, c, &g10));
	ASSERT_OK(fd_name(g10, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "ioasid-sim:vfio-group:10"));
	/* Device fds need the container's IOMMU. */
	ASSERT_ERR(K(legacy_device_open, g10, dev("0000:01:00.0"), &dx), EINVAL);
	ASSERT_OK(K(legacy_group_open, 12, c, &g12));
	ASSERT_OK(K(legacy_set_iommu, c));
	ASSERT_ERR(K(legacy_set_iommu, c), EINVAL); /* once */
	/* Not viable, and busy elsewhere. */
	ASSERT_ERR(K(legacy_group_open, 13, c, &g13), EPERM);
	ASSERT_OK(K(legacy_container_open, &c2));
	ASSERT_ERR(K(legacy_group_open, 12, c2, &gx), EBUSY);
	/* The group fd gives its own members only, on a VFIO driver. */
	ASSERT_OK(K(legacy_device_open, g10, dev("0000:01:00.0"), &d0));
	ASSERT_ERR(K(legacy_device_open, g10, dev("0000:03:00.0"), &dx), ENODEV);
	ASSERT_ERR(K(legacy_device_open, c, dev("0000:01:00.0"), &dx), ENOTTY);
	ASSERT_OK(K(legacy_device_open, g12, dev("0000:03:00.0"), &d1));
	ASSERT_OK(K(legacy_device_open, g12, dev("0000:03:00.1"), &d2));
	ASSERT_OK(fd_name(d2, name, sizeof(name)));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "ioasid-sim:vfio-legacy:0000:03:00.1"));
	/* Closing everything of group 12 frees it for another container. */
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(close, d2));
	ASSERT_OK(K(close, g12));
	ASSERT_OK(K(legacy_group_open, 12, c2, &gx));
	/* c2's first group: its IOMMU is not set although c's is. */
	ASSERT_ERR(K(legacy_device_open, gx, dev("0000:03:00.0"), &dx), EINVAL);
	ASSERT_OK(K(close, gx));
	ASSERT_OK(K(close, c2));
	ASSERT_OK(K(close, d0));
	ASSERT_OK(K(close, g10));
	/* The last group left c: its IOMMU went with it. */
	ASSERT_OK(K(legacy_group_open, 10, c, &g10));
	ASSERT_ERR(K(legacy_device_open, g10, dev("0000:01:00.0"), &dx), EINVAL);
	ASSERT_OK(K(close, g10));
	ASSERT_OK(K(close, c));
}

static void test_free_with_open_fds(void) {
	/* kernel_free with objects, bound devices and legacy files still open must neither
	 * leak nor crash (ASan/valgrind runs check the leak part). */
	Kernel *k = sim_new();
	int i, c, g, d;
	uint32_t ioas, id;
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	int dv = open_bind(k, "0000:03:00.0", i, &id);
	ASSERT_OK(K(device_attach, dv, ioas, NULL));
	ASSERT_OK(K(legacy_open, dev("0000:01:00.0"), &c, &g, &d));
	ASSERT_OK(K(close, c)); /* the container lives on through the group */
	kernel_free(k);
	close(i);
	close(dv);
	close(g);
	close(d);
}

static void test_sync_host(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int i, d0, d1, dn;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &i));
	d0 = open_bind(k, "0000:01:00.0", i, &id);

	/* The rescanned host: 01:00.0 is gone, 04:00.1 moved to vfio-pci, a new device in a
	 * new group with its own reserved region appeared, the IOMMU is now AMD. */
	Device devs[ELEMENTSOF(test_devices) + 1];
	size_t n = 0;
	/* and a NIC on a host driver joined group 11, which made that group not viable. */
	devs[n++] = (Device)DEV("0000:02:00.1", 11, "e1000e", NULL, 0);
	for (size_t j = 0; j < ELEMENTSOF(test_devices); j++) {
		if (streq(test_devices[j].bdf, "0000:01:00.0"))
			continue;
		devs[n] = test_devices[j];
		if (streq(devs[n].bdf, "0000:04:00.1")) {
			devs[n].driver = (char *)"vfio-pci";
			devs[n].vfio_name = (char *)"vfio8";
		}
		if (streq(devs[n].bdf, "0000:06:00.0")) {
			devs[n].iommu_group = 20;
			devs[n].driver = (char *)"vfio-pci";
			devs[n].vfio_name = (char *)"vfio9";
		}
		n++;
	}
	static ReservedRegion resv20[] = { { 0x80000000, 0x8fffffff, RESV_RESERVED } };
	Group groups[ELEMENTSOF(test_groups) + 1];
	memcpy(groups, test_groups, sizeof(test_groups));
	groups[ELEMENTSOF(test_groups)] =
		(Group){ .number = 20, .regions = resv20, .n_regions = 1 };
	Host h = test_host_make();
	h.devices = devs;
	h.n_devices = n;
	h.groups = groups;
	h.n_groups = ELEMENTSOF(groups);
	h.kernel.iommu_vendor = (char *)"amd";
	ASSERT_OK(kernel_sim_sync_host(k, &h));

	/* The bound file stays bound; a new open of the gone device fails. */
	KernelHwInfo hw;
	ASSERT_OK(K(hw_info, i, id, &hw));
	CU_ASSERT_EQUAL(hw.data_type, IOMMU_HW_INFO_TYPE_NONE);
	ASSERT_ERR(K(device_open, dev("0000:01:00.0"), &d1), ENODEV);
	/* The group of 04:00.0 is viable now; the group of 02:00.0 is not any more. */
	d1 = open_bind(k, "0000:04:00.0", i, &id);
	int d2;
	ASSERT_OK(K(device_open, dev("0000:02:00.0"), &d2));
	ASSERT_ERR(K(device_bind, d2, i, &id), EPERM);
	ASSERT_OK(K(close, d2));
	/* The new device opens under its new cdev name, and its group's region is reserved. */
	Device nd = devs[n - 1];
	CU_ASSERT_FATAL(streq(nd.bdf, "0000:06:00.0"));
	ASSERT_OK(K(device_open, &nd, &dn));
	ASSERT_OK(K(device_bind, dn, i, &id));
	uint32_t ioas;
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(device_attach, dn, ioas, NULL));
	IovaRange allow = { 0x80000000, 0x80000fff };
	ASSERT_ERR(K(ioas_allow_iovas, i, ioas, &allow, 1), EADDRINUSE);
	ASSERT_ERR(kernel_sim_sync_host(NULL, &h), EINVAL);
	ASSERT_OK(K(close, dn));
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(close, d0));
	ASSERT_OK(K(close, i));
}

static Kernel *sim_from_fixture(const char *name, Host **ret_host) {
	Host *h = test_load_fixture(name);
	CU_ASSERT_FATAL(h != NULL);
	Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	*ret_host = h;
	return k;
}

/* ---- vhost-vdpa ------------------------------------------------------------------- */

/* vhost_vdpa_open() is exclusive (EBUSY while a file of the device is open, anywhere, here a
 * dup and a copy held by another process), free again at the last close; a vp_vdpa parent
 * not alone in its group cannot get vhost-vdpa's own domain (EINVAL); a software device
 * has no group at all; the VFIO sibling of a vp_vdpa parent cannot bind (EPERM: vp_vdpa is a
 * DMA API user of the group); a name that now has another char device is ESTALE. */
static void test_vhost_vdpa(void) {
	Host *host = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("vdpa-guest.json", &host);
	_cleanup_host_free_ Host *h = host;
	const VdpaDevice *v0 = host_find_vdpa_device(h, "vdpa0");
	const VdpaDevice *v1 = host_find_vdpa_device(h, "vdpa1");
	const VdpaDevice *vs = host_find_vdpa_device(h, "vdpa-sim0");
	CU_ASSERT_FATAL(v0 && v1 && vs);
	int a, b, c, i, d;
	uint32_t id;
	TestHolder th;

	ASSERT_OK(K(vhost_vdpa_open, v0, &a));
	ASSERT_ERR(K(vhost_vdpa_open, v0, &b), EBUSY);
	int dup_a = fcntl(a, F_DUPFD_CLOEXEC, 3);
	CU_ASSERT_FATAL(dup_a >= 0);
	ASSERT_OK(K(close, a));
	ASSERT_ERR(K(vhost_vdpa_open, v0, &b), EBUSY); /* the dup holds the file */
	test_holder_start(&th);
	test_holder_give(&th, dup_a);
	ASSERT_OK(K(close, dup_a));
	ASSERT_ERR(K(vhost_vdpa_open, v0, &b), EBUSY); /* another process holds it */
	test_holder_stop(&th);
	ASSERT_OK(K(vhost_vdpa_open, v0, &b)); /* released at the last close */
	ASSERT_OK(K(close, b));

	ASSERT_ERR(K(vhost_vdpa_open, v1, &c), EINVAL); /* group 5: bridge, edu, parent */
	ASSERT_OK(K(vhost_vdpa_open, vs, &c));          /* software: no IOMMU group */
	ASSERT_ERR(K(vhost_vdpa_open, vs, &b), EBUSY);
	ASSERT_OK(K(close, c));

	/* The other framework: the edu beside vdpa1's parent cannot bind through VFIO. */
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(device_open, host_find_device(h, "0000:01:01.0"), &d));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));

	/* Not on vhost_vdpa: no char device. A stale name: ESTALE. */
	VdpaDevice moved = *v0;
	moved.vhost_minor = 9;
	ASSERT_ERR(K(vhost_vdpa_open, &moved, &b), ESTALE);
	moved = *v0;
	moved.vhost_name = NULL;
	ASSERT_ERR(K(vhost_vdpa_open, &moved, &b), ENODEV);
	/* Deleted from the host: ENODEV. */
	_cleanup_host_free_ Host *h2 = test_load_fixture("vdpa-guest.json");
	CU_ASSERT_FATAL(h2 != NULL);
	h2->n_vdpa_devices = 0; /* the arrays stay owned by h2 and are freed with it */
	size_t keep = h->n_vdpa_devices;
	ASSERT_OK(kernel_sim_sync_host(k, h2));
	h2->n_vdpa_devices = keep;
	ASSERT_ERR(K(vhost_vdpa_open, v0, &b), ENODEV);
	ASSERT_OK(kernel_sim_sync_host(k, h));
	ASSERT_OK(K(vhost_vdpa_open, v0, &b));
	ASSERT_OK(K(close, b));
}

/* VHOST_VDPA_SET/GET_STATUS as drivers/vhost/vdpa.c answers them: the status is the
 * device's, seen through any copy of the file; a status other than 0 may only add bits
 * (EINVAL); 0 resets it (what revocation does through the daemon's copy); open and the last
 * close reset it; any other file is ENOTTY. */
static void test_vhost_vdpa_status(void) {
	Host *host = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("vdpa-guest.json", &host);
	_cleanup_host_free_ Host *h = host;
	const VdpaDevice *v0 = host_find_vdpa_device(h, "vdpa0");
	CU_ASSERT_FATAL(v0 != NULL);
	int a, i;
	uint8_t st = 0xff;

	ASSERT_OK(K(vhost_vdpa_open, v0, &a));
	ASSERT_OK(K(vhost_vdpa_get_status, a, &st));
	CU_ASSERT_EQUAL(st, 0);
	const uint8_t ack = VIRTIO_CONFIG_S_ACKNOWLEDGE, drv = VIRTIO_CONFIG_S_DRIVER;
	ASSERT_OK(K(vhost_vdpa_set_status, a, ack));
	ASSERT_OK(K(vhost_vdpa_set_status, a, ack | drv));
	ASSERT_ERR(K(vhost_vdpa_set_status, a, drv), EINVAL); /* would clear ACKNOWLEDGE */
	int holder = fcntl(a, F_DUPFD_CLOEXEC, 3);            /* the holder's copy */
	CU_ASSERT_FATAL(holder >= 0);
	ASSERT_OK(K(vhost_vdpa_get_status, holder, &st));
	CU_ASSERT_EQUAL(st, ack | drv);
	ASSERT_OK(K(vhost_vdpa_set_status, a, 0)); /* the reset, through the other copy */
	ASSERT_OK(K(vhost_vdpa_get_status, holder, &st));
	CU_ASSERT_EQUAL(st, 0);
	ASSERT_OK(K(vhost_vdpa_set_status, holder, ack)); /* the holder may set it up again */
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(close, holder));
	/* The last close reset it: a new open reads 0. */
	ASSERT_OK(K(vhost_vdpa_open, v0, &a));
	ASSERT_OK(K(vhost_vdpa_get_status, a, &st));
	CU_ASSERT_EQUAL(st, 0);
	ASSERT_OK(K(close, a));

	/* Not a vhost-vdpa file: ENOTTY; a closed fd: EBADF. */
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_ERR(K(vhost_vdpa_set_status, i, 0), ENOTTY);
	ASSERT_ERR(K(vhost_vdpa_get_status, i, &st), ENOTTY);
	/* fd_check (a restored lease's fd): v0's file is v0's, not another device's; an
	 * iommufd is no vhost-vdpa file. */
	const VdpaDevice *vs = host_find_vdpa_device(h, "vdpa-sim0");
	CU_ASSERT_FATAL(vs != NULL);
	ASSERT_OK(K(vhost_vdpa_open, v0, &a));
	ASSERT_OK(K(vhost_vdpa_fd_check, a, v0));
	ASSERT_ERR(K(vhost_vdpa_fd_check, a, vs), ESTALE);
	ASSERT_ERR(K(vhost_vdpa_fd_check, i, v0), ESTALE);
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(close, i));
	ASSERT_ERR(K(vhost_vdpa_get_status, i, &st), EBADF);

	/* An earlier sim's file of v0 (a daemon restarted, its reference back from the
	 * fdstore): adopted, it holds the device, takes the status calls, and its last close
	 * frees the device. Another device's name is ESTALE. */
	int pin = memfd_create("ioasid-sim:vhost-vdpa:vdpa0", MFD_CLOEXEC);
	CU_ASSERT_FATAL(pin >= 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pin);
	int old = open(path, O_RDWR | O_CLOEXEC);
	CU_ASSERT_FATAL(old >= 0);
	close(pin); /* the earlier sim is gone */
	ASSERT_ERR(K(vhost_vdpa_fd_check, old, vs), ESTALE);
	ASSERT_OK(K(vhost_vdpa_fd_check, old, v0));
	ASSERT_ERR(K(vhost_vdpa_open, v0, &a), EBUSY);
	ASSERT_OK(K(vhost_vdpa_set_status, old, VIRTIO_CONFIG_S_ACKNOWLEDGE));
	ASSERT_OK(K(vhost_vdpa_get_status, old, &st));
	CU_ASSERT_EQUAL(st, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ASSERT_OK(K(close, old));
	ASSERT_OK(K(vhost_vdpa_open, v0, &a)); /* released at the last close */
	ASSERT_OK(K(close, a));
}

/* ---- last close, anywhere ---------------------------------------------------------- */

/* A bound device fd sent to another process keeps the device bound and its group owned by
 * the context after this process closed every copy it had (the daemon's side of a lease
 * whose holder passed the fd on); released when that process exits. */
static void test_last_close_sent_fd(void) {
	TestHolder h;
	test_holder_start(&h);
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int a, b, d2, sib;
	uint32_t id, ioas;
	ASSERT_OK(K(iommufd_open, &a));
	ASSERT_OK(K(iommufd_open, &b));
	ASSERT_OK(K(ioas_alloc, a, &ioas));
	int d = open_bind(k, "0000:03:00.0", a, &id);
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	test_holder_give(&h, d);
	test_holder_give(&h, a);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, a));
	/* Still bound: another open file of the device cannot bind; the group is still owned by
	 * a's context: the sibling cannot bind to b. */
	ASSERT_OK(K(device_open, dev("0000:03:00.0"), &d2));
	ASSERT_ERR(K(device_bind, d2, b, &id), EINVAL);
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &sib));
	ASSERT_ERR(K(device_bind, sib, b, &id), EPERM);
	/* The group node of a bound cdev's group is busy as well. */
	int c, g;
	ASSERT_OK(K(legacy_container_open, &c));
	ASSERT_ERR(K(legacy_group_open, 12, c, &g), EBUSY);
	test_holder_stop(&h);
	/* The holder's exit closed the last copy: unbound, the group released. */
	ASSERT_OK(K(legacy_group_open, 12, c, &g));
	ASSERT_OK(K(close, g));
	ASSERT_OK(K(close, c));
	ASSERT_OK(K(device_bind, sib, b, &id));
	ASSERT_OK(K(device_bind, d2, b, &id));
	ASSERT_OK(K(close, d2));
	ASSERT_OK(K(close, sib));
	ASSERT_OK(K(close, b));
}

/* A copy inherited over fork() holds the file the same way, and the legacy group node and
 * device fds keep their group set on the container. */
static void test_last_close_inherited(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int a, b, c, g, ld, c2, g2;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &a));
	ASSERT_OK(K(iommufd_open, &b));
	int d = open_bind(k, "0000:01:00.0", a, &id);
	ASSERT_OK(K(legacy_open, dev("0000:02:00.0"), &c, &g, &ld));
	int p[2];
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char x;
		close(p[1]);
		_exit(read(p[0], &x, 1) < 0);
	}
	close(p[0]);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(close, ld));
	ASSERT_OK(K(close, g));
	ASSERT_OK(K(close, c));
	int d1;
	ASSERT_OK(K(device_open, dev("0000:01:00.0"), &d1));
	ASSERT_ERR(K(device_bind, d1, b, &id), EINVAL);
	ASSERT_OK(K(legacy_container_open, &c2));
	ASSERT_ERR(K(legacy_group_open, 11, c2, &g2), EBUSY);
	close(p[1]); /* the child's read returns: it exits */
	int status = 0;
	CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	ASSERT_OK(K(device_bind, d1, b, &id));
	ASSERT_OK(K(legacy_group_open, 11, c2, &g2));
	ASSERT_OK(K(close, g2));
	ASSERT_OK(K(close, c2));
	ASSERT_OK(K(close, d1));
	ASSERT_OK(K(close, b));
}

/* A dup() held in this process counts as a holder too, and the last copy may be closed with
 * plain close(): the file is released then, not at kernel_close() of another copy. */
static void test_last_close_dup(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int a, b, sib;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &a));
	ASSERT_OK(K(iommufd_open, &b));
	int d = open_bind(k, "0000:03:00.0", a, &id);
	int e = fcntl(d, F_DUPFD_CLOEXEC, 3);
	CU_ASSERT_FATAL(e >= 0);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(device_open, dev("0000:03:00.1"), &sib));
	ASSERT_ERR(K(device_bind, sib, b, &id), EPERM);
	close(e);
	ASSERT_OK(K(device_bind, sib, b, &id));
	ASSERT_OK(K(close, sib));
	ASSERT_OK(K(close, a));
	ASSERT_OK(K(close, b));
}

/* events_fd polls readable once the last copy of a file is closed anywhere; sync takes it
 * in (and with it the sim's own pin of the file, so the caller's fd count settles). */
static void test_events_fd(void) {
	_cleanup_kernel_free_ Kernel *k = sim_new();
	int ev = K(events_fd);
	CU_ASSERT_FATAL(ev >= 0);
	struct pollfd p = { .fd = ev, .events = POLLIN };
	int a;
	ASSERT_OK(K(iommufd_open, &a));
	int e = fcntl(a, F_DUPFD_CLOEXEC, 3);
	ASSERT_OK(K(close, a));
	CU_ASSERT_EQUAL(poll(&p, 1, 0), 0); /* a copy is still open */
	close(e);
	CU_ASSERT_EQUAL(poll(&p, 1, 1000), 1);
	ASSERT_OK(K(sync));
	CU_ASSERT_EQUAL(poll(&p, 1, 0), 0);
}

/* The sim over the shared fixtures, as the daemon and integration tests use it. */
static void test_fixtures(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("workstation.json", &h);
	int i, d;
	uint32_t id, ioas;
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_IOMMUFD);
	ASSERT_OK(K(iommufd_open, &i));
	/* 01:00.0 is on vfio-pci but its audio function is on snd_hda_intel. */
	ASSERT_OK(K(device_open, host_find_device(h, "0000:01:00.0"), &d));
	ASSERT_ERR(K(device_bind, d, i, &id), EPERM);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
	kernel_free(TAKE_PTR(k));
	host_free(TAKE_PTR(h));

	/* gpu-server (AMD): the group's "reserved" region at 0xfd00000000 is honoured too, and
	 * HW info says NONE for a non-Intel IOMMU. */
	k = sim_from_fixture("gpu-server.json", &h);
	ASSERT_OK(K(iommufd_open, &i));
	ASSERT_OK(K(ioas_alloc, i, &ioas));
	ASSERT_OK(K(device_open, host_find_device(h, "0000:03:00.0"), &d));
	ASSERT_OK(K(device_bind, d, i, &id));
	ASSERT_OK(K(device_attach, d, ioas, NULL));
	_cleanup_free_ IovaRange *r = NULL;
	size_t n;
	ASSERT_OK(K(ioas_iova_ranges, i, ioas, &r, &n, NULL));
	CU_ASSERT_FATAL(n == 3);
	CU_ASSERT_EQUAL(r[1].last, 0xfcffffffffULL);
	CU_ASSERT_EQUAL(r[2].start, 0x10000000000ULL);
	KernelHwInfo hw;
	ASSERT_OK(K(hw_info, i, id, &hw));
	CU_ASSERT_EQUAL(hw.data_type, IOMMU_HW_INFO_TYPE_NONE);
	ASSERT_OK(K(close, d));
	ASSERT_OK(K(close, i));
	kernel_free(TAKE_PTR(k));
	host_free(TAKE_PTR(h));

	/* No IOMMU at all: no API, nothing opens. */
	k = sim_from_fixture("iommu-off.json", &h);
	CU_ASSERT_EQUAL(kernel_api(k), KERNEL_API_NONE);
	ASSERT_ERR(K(iommufd_open, &i), ENOENT);
}

/* Opens the fixture device bdf's cdev. */
static int open_fixture(Kernel *k, const Host *h, const char *bdf) {
	int fd = -1;
	ASSERT_OK(K(device_open, host_find_device(h, bdf), &fd));
	return fd;
}

/*
 * VF tokens (vfio_pci_core_match_token_uuid, checked at BIND since 6.17): on sriov-vfio the
 * PF 01:00.0 is on vfio-pci with VFs 01:10.0 and 01:10.2.
 */
static void test_vf_token(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("sriov-vfio.json", &h);
	static const uint8_t token[16] = { 0xbd, 0x8d, 0x9d, 0x2b, 0x5a, 0x5f, 0x4f, 0x5a,
					   0xa2, 0x11, 0xf5, 0x91, 0x51, 0x4b, 0xa1, 0xf3 };
	static const uint8_t other[16] = { 1 };
	int ia, ib;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &ia));
	ASSERT_OK(K(iommufd_open, &ib));

	/* A VF: open works, BIND needs the PF's token, which nobody set yet. */
	int vf = open_fixture(k, h, "0000:01:10.0");
	ASSERT_ERR(K(device_bind, vf, ib, &id), EACCES);
	ASSERT_ERR(kernel_sim_bind_token(k, vf, ib, token, &id), EACCES);
	/* The PF's user (context A) binds without a token (no VF is open) and sets one. */
	int pf = open_fixture(k, h, "0000:01:00.0");
	ASSERT_ERR(kernel_sim_set_vf_token(k, pf, token), EINVAL); /* before bind */
	ASSERT_OK(K(device_bind, pf, ia, &id));
	ASSERT_OK(kernel_sim_set_vf_token(k, pf, token));
	/* Context B: still EACCES without the token or with another; with it, bound. */
	ASSERT_ERR(K(device_bind, vf, ib, &id), EACCES);
	ASSERT_ERR(kernel_sim_bind_token(k, vf, ib, other, &id), EACCES);
	ASSERT_OK(kernel_sim_bind_token(k, vf, ib, token, &id));
	ASSERT_ERR(kernel_sim_set_vf_token(k, vf, token), ENOTTY); /* a VF has no token */
	/* The PF opened again while a VF is open: its token is needed too. */
	ASSERT_OK(K(close, pf));
	pf = open_fixture(k, h, "0000:01:00.0");
	ASSERT_ERR(K(device_bind, pf, ia, &id), EACCES);
	ASSERT_ERR(kernel_sim_bind_token(k, pf, ia, other, &id), EACCES);
	ASSERT_OK(kernel_sim_bind_token(k, pf, ia, token, &id));
	/* With the VF closed, a token given to the PF becomes the new one. */
	ASSERT_OK(K(close, vf));
	ASSERT_OK(K(close, pf));
	pf = open_fixture(k, h, "0000:01:00.0");
	ASSERT_OK(kernel_sim_bind_token(k, pf, ia, other, &id));
	vf = open_fixture(k, h, "0000:01:10.2");
	ASSERT_ERR(kernel_sim_bind_token(k, vf, ib, token, &id), EACCES);
	ASSERT_OK(kernel_sim_bind_token(k, vf, ib, other, &id));
	ASSERT_OK(K(close, vf));
	ASSERT_OK(K(close, pf));

	/* A token given to a device that takes none: EINVAL; a plain device binds as before. */
	int d = open_fixture(k, h, "0000:02:00.0");
	ASSERT_ERR(kernel_sim_bind_token(k, d, ia, token, &id), EINVAL);
	ASSERT_ERR(kernel_sim_set_vf_token(k, d, token), EINVAL);
	ASSERT_OK(K(device_bind, d, ia, &id));
	ASSERT_ERR(kernel_sim_set_vf_token(k, d, token), ENOTTY);
	ASSERT_OK(K(close, d));

	/* The group path: GET_DEVICE_FD of the VF by its bare name is refused the same way. */
	int ct, gfd, dfd;
	ASSERT_OK(K(legacy_container_open, &ct));
	ASSERT_OK(K(legacy_group_open, 11, ct, &gfd));
	ASSERT_OK(K(legacy_set_iommu, ct));
	ASSERT_ERR(K(legacy_device_open, gfd, host_find_device(h, "0000:01:10.0"), &dfd), EACCES);
	ASSERT_OK(K(close, gfd));
	ASSERT_OK(K(close, ct));
	ASSERT_OK(K(close, ia));
	ASSERT_OK(K(close, ib));
	kernel_free(TAKE_PTR(k));
	host_free(TAKE_PTR(h));

	/* A VF whose PF is on its host driver (sriov-nic: i40e): no token, and none taken. */
	k = sim_from_fixture("sriov-nic.json", &h);
	ASSERT_OK(K(iommufd_open, &ia));
	vf = open_fixture(k, h, "0000:3b:02.0");
	ASSERT_ERR(kernel_sim_bind_token(k, vf, ia, token, &id), EINVAL);
	ASSERT_OK(K(device_bind, vf, ia, &id));
	ASSERT_OK(K(close, vf));
	ASSERT_OK(K(close, ia));
}

/* ---- the VF-token rules recorded on the real kernel (tests/vm S12) ------------------ */

static const uint8_t rule_token[16] = { 0xbd, 0x8d, 0x9d, 0x2b, 0x5a, 0x5f, 0x4f, 0x5a,
					0xa2, 0x11, 0xf5, 0x91, 0x51, 0x4b, 0xa1, 0xf3 };
static const uint8_t rule_wrong[16] = { 0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1 };

/* What the kernel answered, as vm-edu prints it: "ok" or the errno name. */
static const char *rule_result(int r) {
	return r >= 0 ? "ok" : errno_name(r);
}

/* One open of bdf by a second user, as `vm-edu vf-open` does it: the cdev bound to a fresh
 * iommufd, or GET_DEVICE_FD on the group in a fresh type1 container; everything closed. */
static const char *rule_open(Kernel *k, const Host *h, const char *bdf, bool legacy,
			     const uint8_t *token) {
	const Device *d = host_find_device(h, bdf);
	CU_ASSERT_FATAL(d != NULL);
	int r, i, fd = -1;
	uint32_t id;
	if (!legacy) {
		ASSERT_OK(K(iommufd_open, &i));
		ASSERT_OK(K(device_open, d, &fd));
		r = token ? kernel_sim_bind_token(k, fd, i, token, &id)
			  : K(device_bind, fd, i, &id);
		ASSERT_OK(K(close, fd));
		ASSERT_OK(K(close, i));
		return rule_result(r);
	}
	int ct, gfd;
	ASSERT_OK(K(legacy_container_open, &ct));
	ASSERT_OK(K(legacy_group_open, d->iommu_group, ct, &gfd));
	ASSERT_OK(K(legacy_set_iommu, ct));
	r = kernel_sim_legacy_device_open_token(k, gfd, d, token, &fd);
	if (r >= 0)
		ASSERT_OK(K(close, fd));
	ASSERT_OK(K(close, gfd));
	ASSERT_OK(K(close, ct));
	return rule_result(r);
}

#define RULE(key, result) fprintf(f, "%s %s\n", key, result)

/*
 * tests/vm S12's VF-token cases replayed on the sim with the recorded kernel's release:
 * sriov-nic's VF (PF on its host driver) stands for the igb PF on igb, sriov-vfio's PF and
 * VFs for the igb PF on vfio-pci. Same order, same tokens; the table must equal
 * tests/tools/vf-token-rules.expected line for line.
 */
static void test_vf_token_rules(void) {
	char path[PATH_MAX], release[128] = "";
	_cleanup_free_ char *expected = NULL, *got = NULL;
	size_t n_expected, n_got = 0;
	snprintf(path, sizeof(path), "%s/tools/vf-token-rules.expected", test_dir());
	ASSERT_OK(read_full_file(path, 1 << 16, &expected, &n_expected));
	const char *kl = strstr(expected, "# kernel ");
	CU_ASSERT_FATAL(kl && sscanf(kl, "# kernel %127s", release) == 1);
	FILE *f = open_memstream(&got, &n_got);
	CU_ASSERT_FATAL(f != NULL);

	/* The PF on its host driver; its VF on vfio-pci. */
	_cleanup_host_free_ Host *h = test_load_fixture("sriov-nic.json");
	CU_ASSERT_FATAL(h != NULL);
	free(h->kernel.release);
	h->kernel.release = strdup(release);
	Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	const char *vf = "0000:3b:02.0";
	RULE("hostpf-cdev-none", rule_open(k, h, vf, false, NULL));
	RULE("hostpf-cdev-token", rule_open(k, h, vf, false, rule_token));
	RULE("hostpf-legacy-none", rule_open(k, h, vf, true, NULL));
	RULE("hostpf-legacy-token", rule_open(k, h, vf, true, rule_token));
	kernel_free(TAKE_PTR(k));
	host_free(TAKE_PTR(h));

	/* The PF on vfio-pci with its VFs. */
	h = test_load_fixture("sriov-vfio.json");
	CU_ASSERT_FATAL(h != NULL);
	free(h->kernel.release);
	h->kernel.release = strdup(release);
	ASSERT_OK(kernel_new("sim", h, &k));
	const char *pf = "0000:01:00.0", *vf0 = "0000:01:10.0", *vf1 = "0000:01:10.2";
	RULE("idlepf-cdev-none", rule_open(k, h, vf0, false, NULL));
	RULE("idlepf-legacy-none", rule_open(k, h, vf0, true, NULL));
	/* Process A binds the PF and sets the token. */
	int ia, pfd;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &ia));
	ASSERT_OK(K(device_open, host_find_device(h, pf), &pfd));
	ASSERT_OK(K(device_bind, pfd, ia, &id));
	ASSERT_OK(kernel_sim_set_vf_token(k, pfd, rule_token));
	RULE("heldpf-cdev-none", rule_open(k, h, vf0, false, NULL));
	RULE("heldpf-cdev-token", rule_open(k, h, vf0, false, rule_token));
	RULE("heldpf-cdev-wrong", rule_open(k, h, vf0, false, rule_wrong));
	RULE("heldpf-legacy-none", rule_open(k, h, vf0, true, NULL));
	RULE("heldpf-legacy-token", rule_open(k, h, vf0, true, rule_token));
	RULE("heldpf-legacy-wrong", rule_open(k, h, vf0, true, rule_wrong));
	ASSERT_OK(K(close, pfd));
	ASSERT_OK(K(close, ia));
	/* VF1 in use (the group path, with the token); the PF opened again. */
	int ct, gfd, vfd;
	ASSERT_OK(K(legacy_container_open, &ct));
	ASSERT_OK(K(legacy_group_open, host_find_device(h, vf1)->iommu_group, ct, &gfd));
	ASSERT_OK(K(legacy_set_iommu, ct));
	ASSERT_OK(kernel_sim_legacy_device_open_token(k, gfd, host_find_device(h, vf1), rule_token,
						      &vfd));
	RULE("vfopen-pf-cdev-none", rule_open(k, h, pf, false, NULL));
	RULE("vfopen-pf-cdev-wrong", rule_open(k, h, pf, false, rule_wrong));
	RULE("vfopen-pf-cdev-token", rule_open(k, h, pf, false, rule_token));
	RULE("vfopen-pf-legacy-none", rule_open(k, h, pf, true, NULL));
	RULE("vfopen-pf-legacy-token", rule_open(k, h, pf, true, rule_token));
	ASSERT_OK(K(close, vfd));
	ASSERT_OK(K(close, gfd));
	ASSERT_OK(K(close, ct));
	kernel_free(TAKE_PTR(k));
	CU_ASSERT_FATAL(fclose(f) == 0);

	/* The recording without its comment lines. */
	_cleanup_free_ char *want = calloc(1, n_expected + 1);
	CU_ASSERT_FATAL(want != NULL);
	size_t w = 0;
	for (const char *l = expected; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l + 1) : strlen(l);
		if (*l != '#') {
			memcpy(want + w, l, len);
			w += len;
		}
		l += len;
	}
	if (!streq(got, want))
		fprintf(stderr, "--- recorded kernel (%s) ---\n%s--- sim ---\n%s", release, want,
			got);
	CU_ASSERT_STRING_EQUAL(got, want);
	/* Not vacuous: the recording has both paths' answers in it. */
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "heldpf-legacy-none EACCES"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "heldpf-legacy-token ok"));
}

/*
 * The vdpa family's rules recorded on the real kernel (tests/vm VD, `kernel-probe
 * --vdpa-rules`) replayed on the sim through the same code (tests/tools/vdpa-rules.h): the
 * output must equal tests/tools/vdpa-rules.expected line for line. The host is vdpa-guest's
 * with what the VM has when the sequence starts: the vdpasim_net management device, no vDPA
 * device, no vp_vdpa parent.
 */
static void test_vdpa_rules(void) {
	char path[PATH_MAX];
	_cleanup_free_ char *expected = NULL, *got = NULL;
	size_t n_expected, n_got = 0;
	snprintf(path, sizeof(path), "%s/tools/vdpa-rules.expected", test_dir());
	ASSERT_OK(read_full_file(path, 1 << 16, &expected, &n_expected));

	_cleanup_host_free_ Host *h = test_load_fixture("vdpa-guest.json");
	CU_ASSERT_FATAL(h != NULL);
	for (size_t i = 0; i < h->n_vdpa_devices; i++)
		vdpa_device_done(&h->vdpa_devices[i]);
	h->n_vdpa_devices = 0;
	size_t w = 0;
	for (size_t i = 0; i < h->n_vdpa_mgmtdevs; i++) {
		VdpaMgmtDev *m = &h->vdpa_mgmtdevs[i];
		if (m->bus) {
			free(m->bus);
			free(m->name);
			continue;
		}
		h->vdpa_mgmtdevs[w++] = *m;
	}
	h->n_vdpa_mgmtdevs = w;
	CU_ASSERT_EQUAL_FATAL(w, 1);

	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("sim", h, &k));
	ASSERT_OK(kernel_sim_override_cap_net_admin(k, 1));
	FILE *f = open_memstream(&got, &n_got);
	CU_ASSERT_FATAL(f != NULL);
	ASSERT_OK(vdpa_rules_run(k, f));
	CU_ASSERT_FATAL(fclose(f) == 0);

	_cleanup_free_ char *want = calloc(1, n_expected + 1);
	CU_ASSERT_FATAL(want != NULL);
	size_t o = 0;
	for (const char *l = expected; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l + 1) : strlen(l);
		if (*l != '#') {
			memcpy(want + o, l, len);
			o += len;
		}
		l += len;
	}
	if (!streq(got, want))
		fprintf(stderr, "--- recorded kernel ---\n%s--- sim ---\n%s", want, got);
	CU_ASSERT_STRING_EQUAL(got, want);
	/* Not vacuous: the recording has refusals and the wait in it. */
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "add-taken-name EEXIST"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "del-while-open ok waited"));
}

/* A sim without vDPA in its snapshot has no family: dumps add nothing, requests ENOENT. */
static void test_vdpa_no_family(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("sriov-vfio.json", &h);
	ASSERT_OK(kernel_sim_override_cap_net_admin(k, 1));
	_cleanup_host_free_ Host *d = calloc(1, sizeof(*d));
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(kernel_vdpa_dump(k, d), 0);
	CU_ASSERT_EQUAL(d->n_vdpa_mgmtdevs + d->n_vdpa_devices, 0);
	ASSERT_ERR(kernel_vdpa_dev_add(k, NULL, "vdpasim_net", "vdr0"), ENOENT);
	ASSERT_ERR(kernel_vdpa_dev_del(k, "vdr0"), ENOENT);
}

/*
 * Resets on sriov-vfio: 02:00.0 (reset_method "bus", but a sibling on its bus) and 02:00.1
 * (none) have no working function reset; a hot reset needs every device of the bus bound to
 * (or in a group owned by) the caller's context.
 */
static void test_resets(void) {
	_cleanup_host_free_ Host *h = NULL;
	_cleanup_kernel_free_ Kernel *k = sim_from_fixture("sriov-vfio.json", &h);
	int ia, ib;
	uint32_t id;
	ASSERT_OK(K(iommufd_open, &ia));
	ASSERT_OK(K(iommufd_open, &ib));
	int f0 = open_fixture(k, h, "0000:02:00.0"), f1 = open_fixture(k, h, "0000:02:00.1");
	ASSERT_ERR(kernel_sim_hot_reset(k, f0), EINVAL); /* before bind */
	ASSERT_OK(K(device_bind, f0, ia, &id));
	ASSERT_ERR(K(device_reset, f0), EINVAL); /* "bus" with a sibling: no function reset */
	/* The sibling neither bound nor in a group A owns: not A's to reset. */
	ASSERT_ERR(kernel_sim_hot_reset(k, f0), EINVAL);
	/* Bound to another context: refused from either side. */
	ASSERT_OK(K(device_bind, f1, ib, &id));
	ASSERT_ERR(K(device_reset, f1), EINVAL); /* no reset method at all */
	ASSERT_ERR(kernel_sim_hot_reset(k, f0), EINVAL);
	ASSERT_ERR(kernel_sim_hot_reset(k, f1), EINVAL);
	/* Both in A: the bus reset is A's. */
	ASSERT_OK(K(close, f1));
	f1 = open_fixture(k, h, "0000:02:00.1");
	ASSERT_OK(K(device_bind, f1, ia, &id));
	ASSERT_OK(kernel_sim_hot_reset(k, f0));
	ASSERT_OK(kernel_sim_hot_reset(k, f1));
	ASSERT_OK(K(close, f0));
	ASSERT_OK(K(close, f1));

	/* The PF has FLR; its bus also holds its VFs, which are dev_sets of their own, so no
	 * hot reset from either, whoever owns them. */
	static const uint8_t token[16] = { 7 };
	int pf = open_fixture(k, h, "0000:01:00.0");
	ASSERT_OK(K(device_bind, pf, ia, &id));
	ASSERT_OK(K(device_reset, pf));
	ASSERT_ERR(kernel_sim_hot_reset(k, pf), EINVAL);
	/* Even with every VF in the same context. */
	ASSERT_OK(kernel_sim_set_vf_token(k, pf, token));
	int v0 = open_fixture(k, h, "0000:01:10.0"), v2 = open_fixture(k, h, "0000:01:10.2");
	ASSERT_OK(kernel_sim_bind_token(k, v0, ia, token, &id));
	ASSERT_OK(kernel_sim_bind_token(k, v2, ia, token, &id));
	ASSERT_ERR(kernel_sim_hot_reset(k, pf), EINVAL);
	ASSERT_ERR(kernel_sim_hot_reset(k, v0), EINVAL);
	ASSERT_OK(K(close, v0));
	ASSERT_OK(K(close, v2));
	ASSERT_OK(K(close, pf));
	ASSERT_OK(K(close, ia));
	ASSERT_OK(K(close, ib));
	kernel_free(TAKE_PTR(k));
	host_free(TAKE_PTR(h));

	/* A device on a root bus has no bus reset at all (sample: edu devices on bus 00). */
	k = sim_from_fixture("sample.json", &h);
	ASSERT_OK(K(iommufd_open, &ia));
	f0 = open_fixture(k, h, "0000:00:03.0");
	ASSERT_OK(K(device_bind, f0, ia, &id));
	ASSERT_ERR(kernel_sim_hot_reset(k, f0), ENODEV);
	ASSERT_OK(K(device_reset, f0)); /* reset methods not known: assumed to work */
	ASSERT_OK(K(close, f0));
	ASSERT_OK(K(close, ia));
}

static CU_TestInfo tests[] = {
	{ "new_and_api", test_new_and_api },
	{ "vhost_vdpa", test_vhost_vdpa },
	{ "vhost_vdpa_status", test_vhost_vdpa_status },
	{ "memfd_names", test_memfd_names },
	{ "unknown_fds", test_unknown_fds },
	{ "fd_check", test_fd_check },
	{ "object_ids", test_object_ids },
	{ "destroy_rules", test_destroy_rules },
	{ "rlimit_mode", test_rlimit_mode },
	{ "bind_once", test_bind_once },
	{ "bind_bad_fds", test_bind_bad_fds },
	{ "open_checks", test_open_checks },
	{ "group_ownership", test_group_ownership },
	{ "host_driver_sibling", test_host_driver_sibling },
	{ "platform_sibling", test_platform_sibling },
	{ "interrupt_remapping", test_interrupt_remapping },
	{ "before_bind", test_before_bind },
	{ "hw_info_vendor", test_hw_info_vendor },
	{ "group_attach", test_group_attach },
	{ "iova_ranges", test_iova_ranges },
	{ "address_width", test_address_width },
	{ "reserved_regions", test_reserved_regions },
	{ "reserved_edges", test_reserved_edges },
	{ "allow_iovas", test_allow_iovas },
	{ "map_unmap", test_map_unmap },
	{ "huge_pages", test_huge_pages },
	{ "close_lifetime", test_close_lifetime },
	{ "legacy", test_legacy },
	{ "legacy_steps", test_legacy_steps },
	{ "free_with_open_fds", test_free_with_open_fds },
	{ "fixtures", test_fixtures },
	{ "sync_host", test_sync_host },
	{ "vf_token", test_vf_token },
	{ "vf_token_rules", test_vf_token_rules },
	{ "vdpa_rules", test_vdpa_rules },
	{ "vdpa_no_family", test_vdpa_no_family },
	{ "resets", test_resets },
	{ "last_close_sent_fd", test_last_close_sent_fd },
	{ "last_close_inherited", test_last_close_inherited },
	{ "last_close_dup", test_last_close_dup },
	{ "events_fd", test_events_fd },
	CU_TEST_INFO_NULL,
};

TEST_SUITE("kernel-sim", tests);

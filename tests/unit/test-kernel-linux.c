/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The linux kernel backend on this host. Without /dev/iommu or /dev/vfio (the usual case
 * here) this covers the error paths and the pure helpers; the real-kernel tier
 * (tests/vm, tests/tools/kernel-probe.c) covers the rest inside a guest.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/kernel-impl.h"
#include "common/kernel-sim.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "tests/unit/test.h"

#define K(op, ...) kernel_##op(k, ##__VA_ARGS__)

static void test_cdev_link(void) {
	static const struct {
		const char *target, *bdf, *name;
		int ret;
	} t[] = {
		{ "../../devices/pci0000:00/0000:00:03.0/0000:01:00.0/vfio-dev/vfio0",
		  "0000:01:00.0", "vfio0", 0 },
		{ "../../devices/pci0000:00/0000:01:00.0/vfio-dev/noiommu-vfio3", "0000:01:00.0",
		  "noiommu-vfio3", 0 },
		/* Another device behind the same name (rebind race). */
		{ "../../devices/pci0000:00/0000:00:03.0/0000:02:00.0/vfio-dev/vfio0",
		  "0000:01:00.0", "vfio0", -ESTALE },
		/* The same device, another cdev number. */
		{ "../../devices/pci0000:00/0000:01:00.0/vfio-dev/vfio1", "0000:01:00.0", "vfio0",
		  -ESTALE },
		/* Not a vfio-dev node at all (e.g. a tty with the same dev_t). */
		{ "../../devices/virtual/tty/vfio0", "0000:01:00.0", "vfio0", -ESTALE },
		{ "../../devices/pci0000:00/10000:01:00.0/vfio-dev/vfio0", "0000:01:00.0", "vfio0",
		  -ESTALE },
		/* Behind an Intel VMD: a domain of 5 digits on a root bus below the VMD
		 * endpoint. */
		{ "../../devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0/10000:e1:00.0/"
		  "vfio-dev/vfio0",
		  "10000:e1:00.0", "vfio0", 0 },
		{ "../../devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0/vfio-dev/vfio0",
		  "10000:e1:00.0", "vfio0", -ESTALE },
		{ "vfio0", "0000:01:00.0", "vfio0", -ESTALE },
		{ "0000:01:00.0/vfio-dev/vfio0", "0000:01:00.0", "vfio0", 0 },
		{ NULL, "0000:01:00.0", "vfio0", -EINVAL },
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		int r = kernel_linux_check_cdev_link(t[i].target, t[i].bdf, t[i].name);
		if (r != t[i].ret)
			fprintf(stderr, "case %zu: %s: got %d, expected %d\n", i,
				strna(t[i].target), r, t[i].ret);
		CU_ASSERT_EQUAL(r, t[i].ret);
	}
}

static void test_vhost_link(void) {
	static const struct {
		const char *target, *vdpa, *vhost;
		int ret;
	} t[] = {
		{ "../../devices/vdr0/vhost-vdpa-0", "vdr0", "vhost-vdpa-0", 0 },
		{ "../../devices/pci0000:00/0000:00:09.0/0000:07:00.0/vdpa1/vhost-vdpa-1", "vdpa1",
		  "vhost-vdpa-1", 0 },
		/* The minor went to the next device created (VM VDR: open-deleted-minor-reused). */
		{ "../../devices/vdr2/vhost-vdpa-0", "vdr0", "vhost-vdpa-0", -ESTALE },
		{ "../../devices/xvdr0/vhost-vdpa-0", "vdr0", "vhost-vdpa-0", -ESTALE },
		{ "../../devices/vdr0/vhost-vdpa-1", "vdr0", "vhost-vdpa-0", -ESTALE },
		{ "../../devices/virtual/misc/vhost-vdpa-0", "vdr0", "vhost-vdpa-0", -ESTALE },
		{ "vhost-vdpa-0", "vdr0", "vhost-vdpa-0", -ESTALE },
		{ "vdr0/vhost-vdpa-0", "vdr0", "vhost-vdpa-0", 0 },
		{ NULL, "vdr0", "vhost-vdpa-0", -EINVAL },
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		int r = kernel_linux_check_vhost_link(t[i].target, t[i].vdpa, t[i].vhost);
		if (r != t[i].ret)
			fprintf(stderr, "case %zu: %s: got %d, expected %d\n", i,
				strna(t[i].target), r, t[i].ret);
		CU_ASSERT_EQUAL(r, t[i].ret);
	}
}

static void test_new(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	ASSERT_STREQ(kernel_name(k), "linux");
	CU_ASSERT_FALSE(kernel_is_sim(k));
	ASSERT_ERR(kernel_sim_unplug(k, "0000:01:00.0"), EINVAL);
	KernelApi a = kernel_api(k);
	CU_ASSERT_TRUE(a == KERNEL_API_IOMMUFD || a == KERNEL_API_LEGACY || a == KERNEL_API_NONE);
	if (access("/dev/iommu", F_OK) < 0 && access("/dev/vfio/vfio", F_OK) < 0) {
		CU_ASSERT_EQUAL(a, KERNEL_API_NONE);
		int fd;
		ASSERT_ERR(K(iommufd_open, &fd), ENOENT);
	}
}

static void test_device_open_errors(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	Device d = { .bdf = "0000:01:00.0", .iommu_group = -1 };
	int fd, c, g;
	ASSERT_ERR(K(device_open, &d, &fd), ENODEV); /* no cdev */
	d.vfio_name = (char *)"../../iommu";
	ASSERT_ERR(K(device_open, &d, &fd), EINVAL);
	d.vfio_name = (char *)"..";
	ASSERT_ERR(K(device_open, &d, &fd), EINVAL);
	if (access("/dev/vfio/devices/vfio999999", F_OK) < 0) {
		d.vfio_name = (char *)"vfio999999";
		ASSERT_ERR(K(device_open, &d, &fd), ENODEV);
	}
	Device bad = { .bdf = "01:00.0", .vfio_name = (char *)"vfio0" };
	ASSERT_ERR(K(device_open, &bad, &fd), EINVAL);
	ASSERT_ERR(K(legacy_open, &d, &c, &g, &fd), ENODEV); /* no IOMMU group */
}

/* Both backends answer a file that is not theirs the way the kernel does. */
static void test_wrong_fd_agrees_with_sim(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	Host h = { .kernel = { .iommufd = TRI_YES } };
	_cleanup_kernel_free_ Kernel *sim = NULL;
	ASSERT_OK(kernel_new("sim", &h, &sim));
	_cleanup_close_ int m = memfd_create("plain", MFD_CLOEXEC);
	CU_ASSERT_FATAL(m >= 0);
	uint32_t id;
	ASSERT_ERR(K(ioas_alloc, m, &id), ENOTTY);
	ASSERT_ERR(kernel_ioas_alloc(sim, m, &id), ENOTTY);
	ASSERT_ERR(K(device_bind, m, m, &id), ENOTTY);
	ASSERT_ERR(kernel_device_bind(sim, m, m, &id), ENOTTY);
	ASSERT_ERR(K(device_reset, m), ENOTTY);
	ASSERT_ERR(kernel_device_reset(sim, m), ENOTTY);
	ASSERT_ERR(K(ioas_alloc, 1000, &id), EBADF);
	ASSERT_ERR(kernel_ioas_alloc(sim, 1000, &id), EBADF);
	ASSERT_ERR(K(close, -1), EBADF);
	ASSERT_ERR(kernel_close(sim, -1), EBADF);
	int m2 = memfd_create("plain2", MFD_CLOEXEC);
	ASSERT_OK(K(close, m2));
	ASSERT_ERR(K(close, m2), EBADF);
}

/* fd_check: files that are not /dev/iommu or a device's vfio-dev cdev are -ESTALE (a pipe,
 * a regular file, another char device such as /dev/null). */
static void test_fd_check(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	Device d = { .bdf = "0000:01:00.0", .iommu_group = 1, .vfio_name = (char *)"vfio0" };
	int p[2];
	ASSERT_OK(pipe2(p, O_CLOEXEC));
	ASSERT_ERR(K(fd_check, p[0], NULL), ESTALE);
	ASSERT_ERR(K(fd_check, p[0], &d), ESTALE);
	_cleanup_close_ int m = memfd_create("ioasid-sim:iommufd:1", MFD_CLOEXEC);
	ASSERT_ERR(K(fd_check, m, NULL), ESTALE);
	ASSERT_ERR(K(fd_check, m, &d), ESTALE);
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	CU_ASSERT_FATAL(null >= 0);
	ASSERT_ERR(K(fd_check, null, NULL), ESTALE);
	ASSERT_ERR(K(fd_check, null, &d), ESTALE);
	ASSERT_ERR(K(fd_check, 999, NULL), EBADF);
	safe_close(p[0]);
	safe_close(p[1]);
}

/* vhost_vdpa_fd_check (a restored vhost-vdpa lease's fd): the char device with the device
 * number the host model gives v, nothing else (/dev/null stands in for it as 1:3). The status
 * calls on a file that is no vhost-vdpa device are the kernel's ENOTTY, as the sim says. */
static void test_vhost_vdpa_fd_check(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	CU_ASSERT_FATAL(null >= 0);
	struct stat st;
	CU_ASSERT_FATAL(fstat(null, &st) == 0);
	VdpaDevice v = { .name = (char *)"vdpa0",
			 .vhost_name = (char *)"vhost-vdpa-0",
			 .vhost_major = major(st.st_rdev),
			 .vhost_minor = minor(st.st_rdev) };
	ASSERT_OK(K(vhost_vdpa_fd_check, null, &v));
	v.vhost_minor++;
	ASSERT_ERR(K(vhost_vdpa_fd_check, null, &v), ESTALE); /* another device number */
	v.vhost_minor--;
	v.vhost_name = NULL;
	ASSERT_ERR(K(vhost_vdpa_fd_check, null, &v), ESTALE); /* no char device any more */
	_cleanup_close_ int m = memfd_create("ioasid-sim:vhost-vdpa:vdpa0", MFD_CLOEXEC);
	v.vhost_name = (char *)"vhost-vdpa-0";
	ASSERT_ERR(K(vhost_vdpa_fd_check, m, &v), ESTALE); /* the sim's name is not a device */
	ASSERT_ERR(K(vhost_vdpa_fd_check, 999, &v), EBADF);
	uint8_t status;
	ASSERT_ERR(K(vhost_vdpa_set_status, m, 0), ENOTTY);
	ASSERT_ERR(K(vhost_vdpa_get_status, m, &status), ENOTTY);
}

/* The typed calls over each backend's table: an operation a backend does not have is
 * -EOPNOTSUPP (linux keeps no state of its own, so no events fd and nothing to sync);
 * kernel_closep() closes once and leaves -EBADF behind. */
static void test_typed_dispatch(void) {
	_cleanup_kernel_free_ Kernel *k = NULL;
	ASSERT_OK(kernel_new("linux", NULL, &k));
	Host h = { .kernel = { .iommufd = TRI_YES } };
	_cleanup_kernel_free_ Kernel *sim = NULL;
	ASSERT_OK(kernel_new("sim", &h, &sim));
	ASSERT_STREQ(kernel_name(sim), "sim");
	CU_ASSERT_EQUAL(kernel_api(sim), KERNEL_API_IOMMUFD);
	ASSERT_ERR(kernel_events_fd(k), EOPNOTSUPP);
	ASSERT_ERR(kernel_sync(k), EOPNOTSUPP);
	CU_ASSERT(kernel_events_fd(sim) >= 0);
	ASSERT_OK(kernel_sync(sim));

	int fd = memfd_create("closep", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	int copy = fd;
	ASSERT_OK(kernel_closep(k, &fd));
	CU_ASSERT_EQUAL(fd, -EBADF);
	CU_ASSERT(fcntl(copy, F_GETFD) < 0);
	ASSERT_OK(kernel_closep(k, &fd)); /* nothing left to close */
	CU_ASSERT_EQUAL(fd, -EBADF);
	ASSERT_OK(kernel_closep(NULL, &fd)); /* k is not needed when there is nothing */
	ASSERT_ERR(kernel_close(sim, copy), EBADF);
}

static CU_TestInfo tests[] = {
	{ "cdev_link", test_cdev_link },
	{ "vhost_link", test_vhost_link },
	{ "new", test_new },
	{ "device_open_errors", test_device_open_errors },
	{ "wrong_fd_agrees_with_sim", test_wrong_fd_agrees_with_sim },
	{ "fd_check", test_fd_check },
	{ "vhost_vdpa_fd_check", test_vhost_vdpa_fd_check },
	{ "typed_dispatch", test_typed_dispatch },
	CU_TEST_INFO_NULL,
};

TEST_SUITE("kernel-linux", tests);

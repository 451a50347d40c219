/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl bind/restore below the CLI (common/client/bind.c, bind-check.c).
 *
 * The sysfs side runs on a fake tree built here, with a write hook that plays the kernel's
 * part (driver_override, unbind, drivers_probe, drivers/X/bind) and logs every write. The
 * network side runs against the real kernel, in a private network namespace this test
 * creates with veth pairs and a bridge (dummy and bond devices are not available on every
 * test host; the VM tier has them).
 */

#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/client/bind-check.h"
#include "common/client/bind.h"
#include "common/macro.h"
#include "tests/unit/test.h"

typedef struct FakeKernel {
	char root[64];
	char sys[80];
	char log[4096];         /* "path=value;" for every write, in order */
	const char *fail_probe; /* drivers_probe leaves this BDF without a driver */
	const char *fail_bind;  /* drivers/X/bind of this BDF returns -ENODEV */
	unsigned next_vfio;
} FakeKernel;

static void xmkdir(const char *path) {
	_cleanup_free_ char *p = strdup(path);
	CU_ASSERT_FATAL(p != NULL);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			(void)mkdir(p, 0755);
			*s = '/';
		}
	(void)mkdir(p, 0755);
}

static void xwrite(const char *path, const char *text) {
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...) {
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	CU_ASSERT_FATAL(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
	return remove(p) < 0 ? 0 : 0;
}

static void fake_done(FakeKernel *k) {
	nftw(k->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fake_init(FakeKernel *k) {
	*k = (FakeKernel){};
	snprintf(k->root, sizeof(k->root), "%s/ioasid-bind-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CU_ASSERT_FATAL(strlen(k->root) < sizeof(k->root) - 1 && mkdtemp(k->root) != NULL);
	snprintf(k->sys, sizeof(k->sys), "%s/sys", k->root);
	_cleanup_free_ char *p = pathf("%s/bus/pci/drivers/vfio-pci", k->sys);
	xmkdir(p);
	free(p);
	p = pathf("%s/class/vfio-dev", k->sys);
	xmkdir(p);
	free(p);
	p = pathf("%s/proc/self", k->root);
	xmkdir(p);
}

static void fake_link_driver(FakeKernel *k, const char *bdf, const char *driver) {
	_cleanup_free_ char *link = pathf("%s/bus/pci/devices/%s/driver", k->sys, bdf);
	_cleanup_free_ char *target = pathf("../../../bus/pci/drivers/%s", driver);
	_cleanup_free_ char *ddir = pathf("%s/bus/pci/drivers/%s", k->sys, driver);
	xmkdir(ddir);
	(void)unlink(link);
	CU_ASSERT_FATAL(symlink(target, link) >= 0);
	if (strstr(driver, "vfio")) {
		_cleanup_free_ char *v = pathf("%s/bus/pci/devices/%s/vfio-dev/vfio%u", k->sys, bdf,
					       k->next_vfio++);
		xmkdir(v);
	}
}

/* A PCI function in group (or none when group < 0), on driver (NULL: unbound). */
static void fake_device(FakeKernel *k, const char *bdf, const char *class, const char *driver,
			int group) {
	_cleanup_free_ char *dir = pathf("%s/bus/pci/devices/%s", k->sys, bdf);
	_cleanup_free_ char *p = NULL;
	xmkdir(dir);
	p = pathf("%s/class", dir);
	xwrite(p, class);
	free(p);
	p = pathf("%s/driver_override", dir);
	xwrite(p, "(null)\n");
	if (driver)
		fake_link_driver(k, bdf, driver);
	if (group >= 0) {
		free(p);
		p = pathf("%s/kernel/iommu_groups/%d/devices/%s", k->sys, group, bdf);
		xmkdir(p);
		free(p);
		p = pathf("%s/iommu_group", dir);
		_cleanup_free_ char *t = pathf("../../../kernel/iommu_groups/%d", group);
		(void)unlink(p);
		CU_ASSERT_FATAL(symlink(t, p) >= 0);
	}
}

/* A class device directory below the device: subsystem link and optional attributes. */
static char *fake_class_dev(FakeKernel *k, const char *bdf, const char *rel,
			    const char *subsystem) {
	char *dir = pathf("%s/bus/pci/devices/%s/%s", k->sys, bdf, rel);
	_cleanup_free_ char *link = pathf("%s/subsystem", dir);
	_cleanup_free_ char *target = pathf("../../../../class/%s", subsystem);
	xmkdir(dir);
	CU_ASSERT_FATAL(symlink(target, link) >= 0);
	return dir;
}

static int read_file(const char *path, char *buf, size_t size) {
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
	return 0;
}

/* The kernel's part: what each sysfs write does. */
static int fake_write(void *userdata, const char *sysfs, const char *path, const char *value) {
	FakeKernel *k = userdata;
	char bdf[BDF_MAX] = "";
	size_t len = strlen(k->log);

	CU_ASSERT_STRING_EQUAL(sysfs, k->sys);
	snprintf(k->log + len, sizeof(k->log) - len, "%s=%s;", path,
		 streq(value, "\n") ? "\\n" : value);

	if (sscanf(path, "bus/pci/devices/%12[0-9a-f:.]/", bdf) == 1 &&
	    strstr(path, "/driver_override")) {
		_cleanup_free_ char *p = pathf("%s/%s", sysfs, path);
		xwrite(p, streq(value, "\n") ? "(null)\n" : value);
		return 0;
	}
	if (sscanf(path, "bus/pci/devices/%12[0-9a-f:.]/", bdf) == 1 &&
	    strstr(path, "/driver/unbind")) {
		_cleanup_free_ char *link = pathf("%s/bus/pci/devices/%s/driver", sysfs, bdf);
		_cleanup_free_ char *v = pathf("%s/bus/pci/devices/%s/vfio-dev", sysfs, bdf);
		_cleanup_free_ char *en = pathf("%s/bus/pci/devices/%s/enable", sysfs, bdf);
		_cleanup_free_ char *drv = NULL;
		char count[16];
		/* The real kernel does not refuse this: vfio_unregister_group_dev() asks the
		 * user to let go and waits, unkillably, until the device is closed. */
		if (readlink_basename_at(AT_FDCWD, link, &drv) >= 0 && strstr(drv, "vfio") &&
		    read_file(en, count, sizeof(count)) >= 0 && !streq(count, "0")) {
			CU_FAIL("unbind of a device open through VFIO: the kernel would wait here");
			return -EBUSY;
		}
		if (!streq(value, bdf) || unlink(link) < 0)
			return -ENODEV;
		nftw(v, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		return 0;
	}
	if (streq(path, "bus/pci/drivers_probe")) {
		_cleanup_free_ char *p = pathf("%s/bus/pci/devices/%s/driver_override", sysfs,
					       value);
		char ovr[64];
		if (read_file(p, ovr, sizeof(ovr)) < 0)
			return -EINVAL;
		if (k->fail_probe && streq(value, k->fail_probe))
			return 0; /* the probe failed: the kernel does not say so here */
		if (!streq(ovr, "(null)"))
			fake_link_driver(k, value, ovr);
		return 0;
	}
	char driver[64];
	if (sscanf(path, "bus/pci/drivers/%63[^/]/bind", driver) == 1) {
		_cleanup_free_ char *d = pathf("%s/bus/pci/drivers/%s", sysfs, driver);
		if (access(d, F_OK) < 0 || (k->fail_bind && streq(value, k->fail_bind)))
			return -ENODEV;
		fake_link_driver(k, value, driver);
		return 0;
	}
	return -EACCES;
}

static char *driver_of(FakeKernel *k, const char *bdf) {
	_cleanup_free_ char *p = pathf("%s/bus/pci/devices/%s/driver", k->sys, bdf);
	char *d = NULL;
	return readlink_basename_at(AT_FDCWD, p, &d) >= 0 ? d : NULL;
}

/* Group 7: a root port, a NIC on e1000e, its sibling function on no driver. */
static void fake_group7(FakeKernel *k) {
	fake_device(k, "0000:00:1c.0", "0x060400\n", "pcieport", 7);
	fake_device(k, "0000:03:00.0", "0x020000\n", "e1000e", 7);
	fake_device(k, "0000:03:00.1", "0x028000\n", NULL, 7);
}

static void test_plan_group(void) {
	FakeKernel k;
	BindPlan p = { .group = -1 };
	_cleanup_free_ char *err = NULL;
	fake_init(&k);
	fake_group7(&k);
	BindContext ctx = { .root = k.root, .write = fake_write, .userdata = &k };

	/* A device names its whole group. */
	ASSERT_OK(bind_plan(&ctx, "0000:03:00.0", "vfio-pci", &p, &err));
	CU_ASSERT_EQUAL(p.group, 7);
	CU_ASSERT_TRUE(p.driver_loaded);
	CU_ASSERT_EQUAL_FATAL(p.n_members, 3);
	ASSERT_STREQ(p.members[0].bdf, "0000:00:1c.0");
	CU_ASSERT_EQUAL(p.members[0].action, BIND_SKIP_BRIDGE);
	CU_ASSERT_EQUAL(p.members[1].action, BIND_MOVE);
	ASSERT_STREQ(p.members[1].driver, "e1000e");
	CU_ASSERT_EQUAL(p.members[2].action, BIND_MOVE);
	CU_ASSERT_PTR_NULL(p.members[2].driver);
	bind_plan_done(&p);

	ASSERT_OK(bind_plan(&ctx, "7", "vfio-pci", &p, &err));
	CU_ASSERT_EQUAL(p.n_members, 3);
	bind_plan_done(&p);

	ASSERT_ERR(bind_plan(&ctx, "0000:09:00.0", "vfio-pci", &p, &err), ENOENT);
	ASSERT_STREQ(err, "No PCI device '0000:09:00.0' on this host");
	ASSERT_ERR(bind_plan(&ctx, "eth0", "vfio-pci", &p, &err), EINVAL);

	/* A member that is not a PCI function: refused before anything is planned. */
	_cleanup_free_ char *plat = pathf("%s/kernel/iommu_groups/7/devices/3100000.usb", k.sys);
	xmkdir(plat);
	ASSERT_ERR(bind_plan(&ctx, "7", "vfio-pci", &p, &err), EXDEV);
	ASSERT_STREQ(err, "IOMMU group 7 has member '3100000.usb', which is not a PCI function: "
			  "ioasidctl cannot move it");
	CU_ASSERT_STRING_EQUAL(k.log, "");
	fake_done(&k);
}

static void test_bind_and_restore(void) {
	FakeKernel k;
	BindPlan p = { .group = -1 };
	_cleanup_free_ char *err = NULL, *d = NULL, *rec = NULL, *back = NULL;
	_cleanup_strv_free_ char **records = NULL;
	char buf[128];
	fake_init(&k);
	fake_group7(&k);
	BindContext ctx = { .root = k.root, .write = fake_write, .userdata = &k };

	ASSERT_OK(bind_plan(&ctx, "7", "vfio-pci", &p, &err));
	ASSERT_OK(bind_execute(&ctx, &p, &err));
	/* The kernel saw override, unbind (only for the bound one), probe, in that order;
	 * nothing for the bridge. */
	ASSERT_STREQ(k.log, "bus/pci/devices/0000:03:00.0/driver_override=vfio-pci;"
			    "bus/pci/devices/0000:03:00.0/driver/unbind=0000:03:00.0;"
			    "bus/pci/drivers_probe=0000:03:00.0;"
			    "bus/pci/devices/0000:03:00.1/driver_override=vfio-pci;"
			    "bus/pci/drivers_probe=0000:03:00.1;");
	ASSERT_STREQ((d = driver_of(&k, "0000:03:00.0")), "vfio-pci");
	ASSERT_STREQ(p.members[1].vfio, "vfio0");
	ASSERT_STREQ(p.members[2].vfio, "vfio1");
	ASSERT_STREQ((back = driver_of(&k, "0000:00:1c.0")), "pcieport");

	/* Records: the original drivers, for restore and for the inspection verbs. */
	ASSERT_OK(bind_records_list(k.root, &records));
	CU_ASSERT_EQUAL(strv_length(records), 2);
	ASSERT_OK(bind_record_read(k.root, "0000:03:00.0", &rec));
	ASSERT_STREQ(rec, "e1000e");
	free(rec);
	ASSERT_OK(bind_record_read(k.root, "0000:03:00.1", &rec));
	ASSERT_STREQ(rec, "");
	free(rec);
	rec = NULL;
	bind_plan_done(&p);

	k.log[0] = 0;
	ASSERT_OK(bind_restore_device(&ctx, "0000:03:00.0", &rec, &err));
	ASSERT_STREQ(rec, "e1000e");
	ASSERT_STREQ(k.log, "bus/pci/devices/0000:03:00.0/driver_override=\\n;"
			    "bus/pci/devices/0000:03:00.0/driver/unbind=0000:03:00.0;"
			    "bus/pci/drivers/e1000e/bind=0000:03:00.0;");
	free(d);
	ASSERT_STREQ((d = driver_of(&k, "0000:03:00.0")), "e1000e");
	_cleanup_free_ char *ovr = pathf("%s/bus/pci/devices/0000:03:00.0/driver_override", k.sys);
	ASSERT_OK(read_file(ovr, buf, sizeof(buf)));
	ASSERT_STREQ(buf, "(null)");
	ASSERT_ERR(bind_record_read(k.root, "0000:03:00.0", &rec), ENOENT);
	ASSERT_ERR(bind_restore_device(&ctx, "0000:03:00.0", NULL, &err), ENOENT);
	ASSERT_STREQ(err, "0000:03:00.0 was not bound by ioasidctl (no record)");

	/* The one that had no driver goes back to none. */
	free(rec);
	rec = NULL;
	ASSERT_OK(bind_restore_device(&ctx, "0000:03:00.1", &rec, &err));
	ASSERT_STREQ(rec, "");
	free(d);
	CU_ASSERT_PTR_NULL((d = driver_of(&k, "0000:03:00.1")));
	strv_free(records);
	records = NULL;
	ASSERT_OK(bind_records_list(k.root, &records));
	CU_ASSERT_PTR_NULL(records);
	fake_done(&k);
}

/* All or nothing: the second member fails to come up on vfio-pci, the first goes back. */
static void test_bind_rollback(void) {
	FakeKernel k;
	BindPlan p = { .group = -1 };
	_cleanup_free_ char *err = NULL, *d0 = NULL, *d1 = NULL;
	_cleanup_strv_free_ char **records = NULL;
	fake_init(&k);
	fake_group7(&k);
	fake_device(&k, "0000:03:00.1", "0x028000\n", "iwlwifi", 7);
	BindContext ctx = { .root = k.root, .write = fake_write, .userdata = &k };
	k.fail_probe = "0000:03:00.1";

	ASSERT_OK(bind_plan(&ctx, "0000:03:00.0", "vfio-pci", &p, &err));
	ASSERT_ERR(bind_execute(&ctx, &p, &err), EIO);
	ASSERT_STREQ(err, "0000:03:00.1: vfio-pci did not take it (now on no driver)");
	ASSERT_STREQ((d0 = driver_of(&k, "0000:03:00.0")), "e1000e");
	ASSERT_STREQ((d1 = driver_of(&k, "0000:03:00.1")), "iwlwifi");
	ASSERT_OK(bind_records_list(k.root, &records));
	CU_ASSERT_PTR_NULL(records);
	bind_plan_done(&p);

	/* A rollback that fails itself is named, and its record kept for restore. */
	free(err);
	err = NULL;
	k.fail_bind = "0000:03:00.0";
	ASSERT_OK(bind_plan(&ctx, "0000:03:00.0", "vfio-pci", &p, &err));
	ASSERT_ERR(bind_execute(&ctx, &p, &err), EIO);
	ASSERT_STREQ(err, "0000:03:00.1: vfio-pci did not take it (now on no driver); rolling "
			  "back: 0000:03:00.0: binding to e1000e: No such device (its record is "
			  "kept for 'ioasidctl restore')");
	ASSERT_OK(bind_records_list(k.root, &records));
	CU_ASSERT_EQUAL(strv_length(records), 1);
	bind_plan_done(&p);
	fake_done(&k);
}

static void test_bind_driver_missing(void) {
	FakeKernel k;
	BindPlan p = { .group = -1 };
	_cleanup_free_ char *err = NULL;
	fake_init(&k);
	fake_group7(&k);
	BindContext ctx = { .root = k.root, .write = fake_write, .userdata = &k };

	ASSERT_OK(bind_plan(&ctx, "7", "mlx5_vfio_pci", &p, &err));
	CU_ASSERT_FALSE(p.driver_loaded);
	ASSERT_ERR(bind_execute(&ctx, &p, &err), EOPNOTSUPP);
	ASSERT_STREQ(err, "Driver 'mlx5_vfio_pci' is not loaded (modprobe mlx5_vfio_pci)");
	CU_ASSERT_STRING_EQUAL(k.log, "");
	bind_plan_done(&p);
	fake_done(&k);
}

static const BindFinding *find(const BindFindings *f, BindFindingKind kind, const char *object) {
	for (size_t i = 0; i < f->n; i++)
		if (f->items[i].kind == kind && streq(f->items[i].object, object))
			return &f->items[i];
	return NULL;
}

static void test_check_storage_display(void) {
	FakeKernel k;
	BindCheck *c = NULL;
	BindFindings f = {};
	const BindFinding *x;
	fake_init(&k);
	fake_device(&k, "0000:3d:00.0", "0x010802\n", "nvme", 12);
	fake_device(&k, "0000:00:17.0", "0x010601\n", "ahci", 13);
	fake_device(&k, "0000:00:02.0", "0x030000\n", "i915", 2);
	fake_device(&k, "0000:04:00.0", "0x010802\n", "nvme", 14);

	/* nvme0n1: p1 mounted on /boot (by major:minor), p2 swap, p3 under LVM. */
	_cleanup_free_ char *disk = fake_class_dev(&k, "0000:3d:00.0", "nvme/nvme0/nvme0n1",
						   "block");
	_cleanup_free_ char *p1 = fake_class_dev(&k, "0000:3d:00.0", "nvme/nvme0/nvme0n1/nvme0n1p1",
						 "block");
	_cleanup_free_ char *p2 = fake_class_dev(&k, "0000:3d:00.0", "nvme/nvme0/nvme0n1/nvme0n1p2",
						 "block");
	_cleanup_free_ char *p3 = fake_class_dev(&k, "0000:3d:00.0", "nvme/nvme0/nvme0n1/nvme0n1p3",
						 "block");
	char *f1 = pathf("%s/dev", disk);
	xwrite(f1, "259:0\n");
	free(f1);
	f1 = pathf("%s/dev", p1);
	xwrite(f1, "259:1\n");
	free(f1);
	f1 = pathf("%s/dev", p2);
	xwrite(f1, "259:2\n");
	free(f1);
	f1 = pathf("%s/dev", p3);
	xwrite(f1, "259:3\n");
	free(f1);
	f1 = pathf("%s/holders/dm-0/dm", p3);
	xmkdir(f1);
	free(f1);
	f1 = pathf("%s/holders/dm-0/dm/name", p3);
	xwrite(f1, "vg-root\n");
	free(f1);
	/* ahci: sda1 mounted by its source path (btrfs shows an anonymous 0:N), sdb in md0. */
	_cleanup_free_ char *sda1 = fake_class_dev(&k, "0000:00:17.0",
						   "ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1",
						   "block");
	f1 = pathf("%s/dev", sda1);
	xwrite(f1, "8:1\n");
	free(f1);
	_cleanup_free_ char *sdb = fake_class_dev(&k, "0000:00:17.0",
						  "ata2/host1/target1:0:0/1:0:0:0/block/sdb",
						  "block");
	f1 = pathf("%s/holders/md0", sdb);
	xmkdir(f1);
	free(f1);
	/* A second NVMe nobody uses. */
	_cleanup_free_ char *idle = fake_class_dev(&k, "0000:04:00.0", "nvme/nvme1/nvme1n1",
						   "block");
	f1 = pathf("%s/dev", idle);
	xwrite(f1, "259:4\n");
	free(f1);

	f1 = pathf("%s/proc/self/mountinfo", k.root);
	xwrite(f1, "21 1 259:1 / /boot rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw\n"
		   "22 1 0:33 / /srv/my\\040data rw shared:3 - btrfs /dev/sda1 rw\n"
		   "23 1 0:22 / /proc rw - proc proc rw\n");
	free(f1);
	f1 = pathf("%s/proc/swaps", k.root);
	xwrite(f1, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
		   "/dev/nvme0n1p2                          partition\t8388604\t\t0\t\t-2\n");
	free(f1);

	/* The iGPU drives the boot framebuffer and has one monitor connected. */
	f1 = pathf("%s/bus/pci/devices/0000:00:02.0/boot_vga", k.sys);
	xwrite(f1, "1\n");
	free(f1);
	_cleanup_free_ char *card = fake_class_dev(&k, "0000:00:02.0", "drm/card0", "drm");
	_cleanup_free_ char *hdmi = fake_class_dev(&k, "0000:00:02.0", "drm/card0/card0-HDMI-A-1",
						   "drm");
	_cleanup_free_ char *dp = fake_class_dev(&k, "0000:00:02.0", "drm/card0/card0-DP-1", "drm");
	f1 = pathf("%s/status", hdmi);
	xwrite(f1, "connected\n");
	free(f1);
	f1 = pathf("%s/status", dp);
	xwrite(f1, "disconnected\n");
	free(f1);

	ASSERT_OK(bind_check_new(k.root, &c));
	ASSERT_OK(bind_check_device(c, "0000:3d:00.0", &f));
	CU_ASSERT_EQUAL(f.n, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_MOUNTED, "nvme0n1p1")));
	ASSERT_STREQ(x->detail, "/boot");
	ASSERT_STREQ(x->message, "0000:3d:00.0: block device 'nvme0n1p1' is mounted on /boot");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_SWAP, "nvme0n1p2")));
	ASSERT_STREQ(x->message, "0000:3d:00.0: block device 'nvme0n1p2' is in use as swap");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_HELD, "nvme0n1p3")));
	ASSERT_STREQ(
		x->message,
		"0000:3d:00.0: block device 'nvme0n1p3' is held by device-mapper dm-0 (vg-root)");
	bind_findings_done(&f);

	ASSERT_OK(bind_check_device(c, "0000:00:17.0", &f));
	CU_ASSERT_EQUAL(f.n, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_MOUNTED, "sda1")));
	ASSERT_STREQ(x->message, "0000:00:17.0: block device 'sda1' is mounted on /srv/my data");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_HELD, "sdb")));
	ASSERT_STREQ(x->message, "0000:00:17.0: block device 'sdb' is held by MD md0");
	bind_findings_done(&f);

	ASSERT_OK(bind_check_device(c, "0000:00:02.0", &f));
	CU_ASSERT_EQUAL_FATAL(f.n, 2);
	ASSERT_STREQ(f.items[0].message, "0000:00:02.0: it drives the boot framebuffer (boot_vga)");
	ASSERT_STREQ(f.items[1].message,
		     "0000:00:02.0: display connector 'card0-HDMI-A-1' is connected");
	ASSERT_STREQ(f.items[1].object, "card0");
	bind_findings_done(&f);

	ASSERT_OK(bind_check_device(c, "0000:04:00.0", &f));
	CU_ASSERT_EQUAL(f.n, 0);
	ASSERT_ERR(bind_check_device(c, "0000:05:00.0", &f), ENOENT);
	bind_check_free(c);
	fake_done(&k);
}

/* ---- network, in a private namespace ----------------------------------------------------- */

static int run(const char *cmd) {
	int r = system(cmd);
	if (r != 0)
		fprintf(stderr, "\nbind: '%s' failed (%d)\n", cmd, r);
	return r;
}

static void test_check_network(void) {
	_cleanup_close_ int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	FakeKernel k;
	BindCheck *c = NULL;
	BindFindings f = {};
	const BindFinding *x;

	if (geteuid() != 0 || orig < 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr,
			"\nbind: network checks SKIPPED: no private network namespace "
			"(needs root): %s\n",
			strerror(errno));
		return;
	}
	/* ioa0: the host's uplink (address, default route). ioa2: a port of bridge brioa,
	 * which carries the address and a route. ioa4: down, nothing. Their peers (ioa1,
	 * ioa3, ioa5) belong to no device. ioa6: a port of bridge brioa2 (down, nothing on
	 * it), with a macvlan on top of the bridge that is up and has an address. */
	int r = run("set -e; exec >/dev/null 2>&1; "
		    "ip link add ioa0 type veth peer name ioa1; "
		    "ip link add ioa2 type veth peer name ioa3; "
		    "ip link add ioa4 type veth peer name ioa5; "
		    "ip link add brioa type bridge; "
		    "ip link set ioa2 master brioa; "
		    "ip link set ioa0 up; ip link set ioa1 up; ip link set brioa up; "
		    "ip addr add 192.0.2.1/24 dev ioa0; "
		    "ip route add default via 192.0.2.254 dev ioa0; "
		    "ip addr add 198.51.100.1/24 dev brioa; "
		    "ip route add 203.0.113.0/24 via 198.51.100.254 dev brioa onlink; "
		    "ip link add ioa6 type veth peer name ioa7; "
		    "ip link add brioa2 type bridge; "
		    "ip link set ioa6 master brioa2; "
		    "ip link add link brioa2 name mvioa type macvlan mode bridge; "
		    "ip link set mvioa up; ip addr add 100.64.0.1/24 dev mvioa");
	if (r != 0) {
		CU_ASSERT_FATAL(setns(orig, CLONE_NEWNET) >= 0);
		CU_FAIL("setting up veth pairs and a bridge in a private namespace");
		return;
	}

	fake_init(&k);
	fake_device(&k, "0000:03:00.0", "0x020000\n", "e1000e", 7);
	fake_device(&k, "0000:04:00.0", "0x020000\n", "igb", 8);
	fake_device(&k, "0000:05:00.0", "0x020000\n", "igb", 9);
	free(fake_class_dev(&k, "0000:03:00.0", "net/ioa0", "net"));
	free(fake_class_dev(&k, "0000:04:00.0", "net/ioa2", "net"));
	free(fake_class_dev(&k, "0000:05:00.0", "net/ioa4", "net"));
	fake_device(&k, "0000:06:00.0", "0x020000\n", "igb", 10);
	free(fake_class_dev(&k, "0000:06:00.0", "net/ioa6", "net"));
	/* A netdev this namespace does not have (moved to a container's): not ours to see. */
	free(fake_class_dev(&k, "0000:05:00.0", "net/gone0", "net"));

	r = bind_check_new(k.root, &c);
	CU_ASSERT_FATAL(setns(orig, CLONE_NEWNET) >= 0); /* the caches hold what was read */
	ASSERT_OK(r);

	ASSERT_OK(bind_check_device(c, "0000:03:00.0", &f));
	CU_ASSERT_FATAL(f.n >= 4);
	/* The default route is named first. */
	CU_ASSERT_EQUAL(f.items[0].kind, FINDING_DEFAULT_ROUTE);
	ASSERT_STREQ(f.items[0].message, "0000:03:00.0: interface 'ioa0' carries the default "
					 "route (default via 192.0.2.254)");
	ASSERT_STREQ(f.items[0].detail, "default via 192.0.2.254");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_LINK_UP, "ioa0")));
	ASSERT_STREQ(x->message, "0000:03:00.0: interface 'ioa0' is up");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_ADDRESS, "ioa0")));
	ASSERT_STREQ(x->message,
		     "0000:03:00.0: interface 'ioa0' holds global address 192.0.2.1/24");
	CU_ASSERT_PTR_NULL(x->upper);
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_ROUTE, "ioa0")));
	ASSERT_STREQ(x->message, "0000:03:00.0: interface 'ioa0' carries route 192.0.2.0/24");
	/* Its veth peer (up) is no upper device: IFLA_LINK of a veth names the peer. */
	for (size_t i = 0; i < f.n; i++)
		CU_ASSERT_PTR_NULL(f.items[i].upper);
	CU_ASSERT_EQUAL(f.n, 4);
	bind_findings_done(&f);

	/* ioa2 itself is down with nothing on it; its bridge carries it all. */
	ASSERT_OK(bind_check_device(c, "0000:04:00.0", &f));
	for (size_t i = 0; i < f.n; i++)
		ASSERT_STREQ(f.items[i].upper, "brioa");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_ADDRESS, "ioa2")));
	ASSERT_STREQ(x->message, "0000:04:00.0: interface 'ioa2' is a port of bridge 'brioa', "
				 "which holds global address 198.51.100.1/24");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_LINK_UP, "ioa2")));
	ASSERT_STREQ(x->message,
		     "0000:04:00.0: interface 'ioa2' is a port of bridge 'brioa', which is up");
	bool via = false;
	for (size_t i = 0; i < f.n; i++)
		via = via || (f.items[i].kind == FINDING_ROUTE &&
			      streq(f.items[i].message,
				    "0000:04:00.0: interface 'ioa2' is a port of bridge 'brioa', "
				    "which carries route 203.0.113.0/24 via 198.51.100.254"));
	CU_ASSERT_TRUE(via);
	bind_findings_done(&f);

	ASSERT_OK(bind_check_device(c, "0000:05:00.0", &f));
	CU_ASSERT_EQUAL(f.n, 0);
	bind_findings_done(&f);

	/* Through a chain of upper devices: the port's bridge is idle, the macvlan above it
	 * is not. */
	ASSERT_OK(bind_check_device(c, "0000:06:00.0", &f));
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_ADDRESS, "ioa6")));
	ASSERT_STREQ(x->upper, "mvioa");
	ASSERT_STREQ(x->message, "0000:06:00.0: interface 'ioa6' is a port of bridge 'brioa2', "
				 "which is underneath macvlan 'mvioa', which holds global address "
				 "100.64.0.1/24");
	CU_ASSERT_PTR_NOT_NULL_FATAL((x = find(&f, FINDING_LINK_UP, "ioa6")));
	ASSERT_STREQ(x->upper, "mvioa");
	for (size_t i = 0; i < f.n; i++)
		CU_ASSERT_FALSE(streq(strempty(f.items[i].upper), "brioa2") || !f.items[i].upper);
	bind_findings_done(&f);
	bind_check_free(c);
	fake_done(&k);
	/* The namespace goes away with its last user: the veths and the bridge with it. */
}

/* A device open through VFIO (its "enable" count is not 0 on vfio-pci): restore, and a bind
 * that would move it to another VFIO driver, refuse before writing anything (the kernel's
 * unbind would block until its user closes it). Closed again, both go ahead. */
static void test_vfio_open(void) {
	FakeKernel k;
	BindPlan p = { .group = -1 };
	_cleanup_free_ char *err = NULL, *d = NULL, *rec = NULL;
	fake_init(&k);
	fake_group7(&k);
	BindContext ctx = { .root = k.root, .write = fake_write, .userdata = &k };
	_cleanup_free_ char *en = pathf("%s/bus/pci/devices/0000:03:00.0/enable", k.sys);
	_cleanup_free_ char *variant = pathf("%s/bus/pci/drivers/igb-vfio-pci", k.sys);

	xwrite(en, "1\n"); /* e1000e enabled it: a host driver's count means nothing here */
	ASSERT_OK(bind_plan(&ctx, "7", "vfio-pci", &p, &err));
	ASSERT_OK(bind_execute(&ctx, &p, &err));
	bind_plan_done(&p);
	ASSERT_STREQ((d = driver_of(&k, "0000:03:00.0")), "vfio-pci");

	/* Leased: vfio-pci enabled it when its user opened it. */
	k.log[0] = 0;
	ASSERT_ERR(bind_restore_device(&ctx, "0000:03:00.0", &rec, &err), EBUSY);
	ASSERT_STREQ(err, "0000:03:00.0: open through vfio-pci (a lease or a VM holds it): "
			  "release or revoke it first; an unbind now would wait until its user "
			  "closes it");
	ASSERT_STREQ(k.log, "");
	ASSERT_OK(bind_record_read(k.root, "0000:03:00.0", &rec));
	ASSERT_STREQ(rec, "e1000e");
	free(rec);
	rec = NULL;

	xmkdir(variant);
	ASSERT_OK(bind_plan(&ctx, "0000:03:00.0", "igb-vfio-pci", &p, &err));
	CU_ASSERT_EQUAL(p.members[1].action, BIND_MOVE);
	ASSERT_ERR(bind_execute(&ctx, &p, &err), EBUSY);
	ASSERT_STREQ(err, "0000:03:00.0: open through vfio-pci (a lease or a VM holds it): "
			  "release or revoke it first; an unbind now would wait until its user "
			  "closes it");
	ASSERT_STREQ(k.log, "");
	bind_plan_done(&p);

	/* Closed: the count is 0 again and restore goes ahead. */
	xwrite(en, "0\n");
	ASSERT_OK(bind_restore_device(&ctx, "0000:03:00.0", &rec, &err));
	ASSERT_STREQ(rec, "e1000e");
	free(d);
	ASSERT_STREQ((d = driver_of(&k, "0000:03:00.0")), "e1000e");
	fake_done(&k);
}

static CU_TestInfo tests[] = {
	{ "plan_group", test_plan_group },
	{ "bind_and_restore", test_bind_and_restore },
	{ "bind_rollback", test_bind_rollback },
	{ "bind_driver_missing", test_bind_driver_missing },
	{ "vfio_open", test_vfio_open },
	{ "check_storage_display", test_check_storage_display },
	{ "check_network", test_check_network },
	CU_TEST_INFO_NULL,
};
TEST_SUITE("bind", tests);

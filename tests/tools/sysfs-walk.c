/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs-walk: the benchmark floor for `ioasidctl groups`. The cheapest walk of the sysfs
 * entries the host model reads, with no libudev, no hwdb, no JSON and no allocation:
 *
 *   /sys/bus/pci/devices: per device readlink the entry (the real path gives the parent),
 *     open the device directory, read uevent (ids, class, driver, modalias), revision and
 *     numa_node, list the directory once (which says whether sriov_*, net/ and virtfnN
 *     exist) and read or list those present;
 *   /sys/kernel/iommu_groups: per group N/type, N/reserved_regions and N/devices/ (the
 *     membership, so no per-device iommu_group link);
 *   /sys/class/vfio-dev: per cdev readlink (its device) and read dev;
 *   /sys/class/iommu: per unit intel-iommu/cap and ecap; the vfio noiommu parameter.
 *
 * These are the entries common/host-live.c reads (compare `strace -e openat,readlinkat`
 * of both under the same bed): when the scan stops reading something, drop it here too, or
 * the floor stops being a floor.
 *
 * Only the three top directories are opened by path; everything below is relative to a
 * directory fd (openat, readlinkat, fdopendir), which is what a careful scanner does and
 * what costs least under an LD_PRELOAD redirection such as umockdev's: the preload maps the
 * top paths into its bed and the kernel resolves the rest.
 *
 * Usage: sysfs-walk [--quiet]. Prints "devices=N groups=N files=N links=N dirs=N".
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "common/macro.h"

static unsigned long n_files, n_links, n_dirs;

static void read_attr_at(int dfd, const char *name) {
	char buf[4096];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	/* One read, as the scan does: a sysfs attribute is at most a page and comes whole. */
	(void)!read(fd, buf, sizeof(buf));
	close(fd);
	n_files++;
}

static void read_link_at(int dfd, const char *name) {
	char buf[PATH_MAX];
	if (readlinkat(dfd, name, buf, sizeof(buf) - 1) >= 0)
		n_links++;
}

/* Lists dfd/sub (or dfd itself when sub is NULL; dfd is then consumed), calling fn for each
 * entry not starting with '.'; returns the number of entries. */
static unsigned long list_at(int dfd, const char *sub, void (*fn)(int dfd, const char *name)) {
	int fd = sub ? openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dfd;
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	n_dirs++;
	unsigned long n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (fn)
			fn(dirfd(d), de->d_name);
	}
	closedir(d);
	return n;
}

/* Lists the directory dfd refers to without opening it again (the scan lists the device
 * directory through the fd it reads attributes with). */
static void list_fd(int dfd, bool *sriov, bool *net, void (*virtfn)(int dfd, const char *name)) {
	char buf[8192];
	long n;
	n_dirs++;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct linux_dirent64 {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + off);
			if (streq(de->name, "sriov_totalvfs"))
				*sriov = true;
			else if (streq(de->name, "net"))
				*net = true;
			else if (strneq(de->name, "virtfn", 6))
				virtfn(dfd, de->name);
			off += de->reclen;
		}
}

static void pci_device(int busfd, const char *name) {
	read_link_at(busfd, name); /* the device's real path: its parent bridge */
	int dfd = openat(busfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	read_attr_at(dfd, "uevent");
	read_attr_at(dfd, "revision");
	read_attr_at(dfd, "numa_node");
	bool sriov = false, net = false;
	list_fd(dfd, &sriov, &net, read_link_at);
	if (sriov) {
		read_attr_at(dfd, "sriov_totalvfs");
		read_attr_at(dfd, "sriov_numvfs");
	}
	if (net)
		list_at(dfd, "net", NULL);
	close(dfd);
}

static void vfio_cdev(int classfd, const char *name) {
	char dev[NAME_MAX + 8];
	read_link_at(classfd, name);
	snprintf(dev, sizeof(dev), "%s/dev", name);
	read_attr_at(classfd, dev);
}

static void iommu_unit(int classfd, const char *name) {
	char path[NAME_MAX + 32];
	snprintf(path, sizeof(path), "%s/intel-iommu/cap", name);
	read_attr_at(classfd, path);
	snprintf(path, sizeof(path), "%s/intel-iommu/ecap", name);
	read_attr_at(classfd, path);
}

static void iommu_group(int parent, const char *name) {
	char path[NAME_MAX + 32];
	snprintf(path, sizeof(path), "%s/type", name);
	read_attr_at(parent, path);
	snprintf(path, sizeof(path), "%s/reserved_regions", name);
	read_attr_at(parent, path);
	snprintf(path, sizeof(path), "%s/devices", name);
	list_at(parent, path, NULL);
}

static unsigned long walk(const char *path, void (*fn)(int dfd, const char *name)) {
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? 0 : list_at(fd, NULL, fn);
}

int main(int argc, char **argv) {
	bool quiet = argc > 1 && streq(argv[1], "--quiet");
	unsigned long n_devices = walk("/sys/bus/pci/devices", pci_device);
	unsigned long n_groups = walk("/sys/kernel/iommu_groups", iommu_group);
	walk("/sys/class/vfio-dev", vfio_cdev);
	walk("/sys/class/iommu", iommu_unit);
	read_attr_at(AT_FDCWD, "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
	if (!quiet)
		printf("devices=%lu groups=%lu files=%lu links=%lu dirs=%lu\n", n_devices, n_groups,
		       n_files, n_links, n_dirs);
	return 0;
}

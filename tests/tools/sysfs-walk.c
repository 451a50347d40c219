/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs-walk: the benchmark floor for `ioasidctl groups`. The cheapest walk of the sysfs
 * entries the host model reads, with no libudev, no hwdb, no JSON and no allocation:
 *
 *   /sys/bus/pci/devices: per device readlink the entry (the real path gives the parent),
 *     open the device directory, readlink iommu_group and driver, read uevent (ids, class,
 *     driver, modalias), revision and numa_node, list the directory once (which says
 *     whether sriov_*, net/, vfio-dev/ and virtfnN exist) and read or list those present;
 *   /sys/kernel/iommu_groups: per group type, reserved_regions and devices/;
 *   /sys/class/iommu.
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
#include <stdio.h>

#include "common/macro.h"

static unsigned long n_files, n_links, n_dirs;

static void read_attr_at(int dfd, const char *name) {
	char buf[4096];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
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

static void pci_device(int busfd, const char *name) {
	read_link_at(busfd, name); /* the device's real path: its parent bridge */
	int dfd = openat(busfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	read_link_at(dfd, "iommu_group");
	read_link_at(dfd, "driver");
	read_attr_at(dfd, "uevent");
	read_attr_at(dfd, "revision");
	read_attr_at(dfd, "numa_node");

	bool sriov = false, net = false, vfio = false;
	int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (d) {
		struct dirent *de;
		n_dirs++;
		while ((de = readdir(d))) {
			if (streq(de->d_name, "sriov_totalvfs"))
				sriov = true;
			else if (streq(de->d_name, "net"))
				net = true;
			else if (streq(de->d_name, "vfio-dev"))
				vfio = true;
			else if (strneq(de->d_name, "virtfn", 6))
				read_link_at(dfd, de->d_name);
		}
		closedir(d);
	} else if (lfd >= 0)
		close(lfd);
	if (sriov) {
		read_attr_at(dfd, "sriov_totalvfs");
		read_attr_at(dfd, "sriov_numvfs");
	}
	if (net)
		list_at(dfd, "net", NULL);
	if (vfio)
		list_at(dfd, "vfio-dev", NULL);
	close(dfd);
}

static void iommu_group(int parent, const char *name) {
	int gfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0)
		return;
	read_attr_at(gfd, "type");
	read_attr_at(gfd, "reserved_regions");
	list_at(gfd, "devices", NULL);
	close(gfd);
}

static unsigned long walk(const char *path, void (*fn)(int dfd, const char *name)) {
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? 0 : list_at(fd, NULL, fn);
}

int main(int argc, char **argv) {
	bool quiet = argc > 1 && streq(argv[1], "--quiet");
	unsigned long n_devices = walk("/sys/bus/pci/devices", pci_device);
	unsigned long n_groups = walk("/sys/kernel/iommu_groups", iommu_group);
	walk("/sys/class/iommu", NULL);
	if (!quiet)
		printf("devices=%lu groups=%lu files=%lu links=%lu dirs=%lu\n", n_devices, n_groups,
		       n_files, n_links, n_dirs);
	return 0;
}

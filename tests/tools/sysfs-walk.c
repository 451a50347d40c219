/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs-walk: the benchmark floor for `ioasidctl groups`. A bare walk of the sysfs entries
 * the host model reads, with no libudev, no hwdb, no JSON and no allocation beyond a line
 * buffer: readdir /sys/bus/pci/devices, readlink each device's iommu_group, driver, physfn
 * and the device link itself (for the parent), read its id/class/numa/sr-iov attributes,
 * list vfio-dev/ and net/, then walk /sys/kernel/iommu_groups (type, reserved_regions,
 * devices/) and /sys/class/iommu.
 *
 * Path-based calls only (open, readlink, opendir), so an LD_PRELOAD sysfs redirection such
 * as umockdev's sees every access, exactly as it does for the real code.
 *
 * Usage: sysfs-walk [--quiet]. Prints "devices=N groups=N files=N links=N dirs=N".
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>

#include "common/macro.h"

static unsigned long n_files, n_links, n_dirs;

static void read_attr(const char *dir, const char *name) {
	char path[PATH_MAX], buf[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	n_files++;
}

static void read_link(const char *dir, const char *name) {
	char path[PATH_MAX], buf[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (readlink(path, buf, sizeof(buf) - 1) >= 0)
		n_links++;
}

/* Lists a directory; calls fn for each entry not starting with '.'; returns the count. */
static unsigned long list_dir(const char *dir, const char *sub,
			      void (*fn)(const char *parent, const char *name)) {
	char path[PATH_MAX];
	unsigned long n = 0;
	if (sub)
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
	else
		snprintf(path, sizeof(path), "%s", dir);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	n_dirs++;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (fn)
			fn(path, de->d_name);
	}
	closedir(d);
	return n;
}

static void device_virtfn(const char *dir, const char *name) {
	if (strneq(name, "virtfn", 6))
		read_link(dir, name);
}

static void pci_device(const char *parent, const char *name) {
	static const char *const attrs[] = {
		"vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
		"numa_node", "sriov_totalvfs", "sriov_numvfs",
	};
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", parent, name);
	read_link(parent, name); /* the device's real path: its parent bridge */
	read_link(dir, "iommu_group");
	read_link(dir, "driver");
	read_link(dir, "physfn");
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
		read_attr(dir, attrs[i]);
	list_dir(dir, "vfio-dev", NULL);
	list_dir(dir, "net", NULL);
	list_dir(dir, NULL, device_virtfn);
}

static void iommu_group(const char *parent, const char *name) {
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", parent, name);
	read_attr(dir, "type");
	read_attr(dir, "reserved_regions");
	list_dir(dir, "devices", NULL);
}

int main(int argc, char **argv) {
	bool quiet = argc > 1 && streq(argv[1], "--quiet");
	unsigned long n_devices = list_dir("/sys/bus/pci/devices", NULL, pci_device);
	unsigned long n_groups = list_dir("/sys/kernel/iommu_groups", NULL, iommu_group);
	list_dir("/sys/class/iommu", NULL, NULL);
	if (!quiet)
		printf("devices=%lu groups=%lu files=%lu links=%lu dirs=%lu\n", n_devices, n_groups,
		       n_files, n_links, n_dirs);
	return 0;
}

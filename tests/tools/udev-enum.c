/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * udev-enum: libudev's enumerator alone, for the benchmark section "udevenum". It does
 * what a live scan built on udev_enumerate would have to do before reading anything about
 * a device: one enumerator matching the given subsystems, udev_enumerate_scan_devices(),
 * and a walk of the resulting list (syspaths only). With --devices it also makes a
 * udev_device per entry and reads one property, which is what a scan that takes its
 * properties from libudev rather than from the uevent file would add.
 *
 * common/host-live.c lists /sys/bus/pci/devices and /sys/class/vfio-dev itself instead;
 * this tool keeps the reason measurable (the cost of the enumerator against lspci and the
 * sysfs-walk floor, under the same umockdev preload) so the choice can be revisited when
 * libudev changes.
 *
 * Usage: udev-enum [--devices] [--quiet] SUBSYSTEM...
 * Prints "devices=N" (N entries in the list); exits 1 if libudev fails.
 */
#include <libudev.h>
#include <stdio.h>

#include "common/macro.h"

int main(int argc, char **argv) {
	bool devices = false, quiet = false;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--devices"))
			devices = true;
		else if (streq(argv[i], "--quiet"))
			quiet = true;
		else {
			fprintf(stderr, "Usage: udev-enum [--devices] [--quiet] SUBSYSTEM...\n");
			return 64;
		}
	}
	if (i == argc) {
		fprintf(stderr, "Usage: udev-enum [--devices] [--quiet] SUBSYSTEM...\n");
		return 64;
	}

	struct udev *udev = udev_new();
	struct udev_enumerate *e = udev ? udev_enumerate_new(udev) : NULL;
	if (!e) {
		fprintf(stderr, "udev-enum: cannot create an enumerator\n");
		return 1;
	}
	for (; i < argc; i++)
		if (udev_enumerate_add_match_subsystem(e, argv[i]) < 0) {
			fprintf(stderr, "udev-enum: cannot match subsystem '%s'\n", argv[i]);
			return 1;
		}
	int r = udev_enumerate_scan_devices(e);
	if (r < 0) {
		fprintf(stderr, "udev-enum: scan failed: %s\n", strerror(-r));
		return 1;
	}

	unsigned long n = 0, with_property = 0;
	struct udev_list_entry *le;
	udev_list_entry_foreach(le, udev_enumerate_get_list_entry(e)) {
		n++;
		if (!devices)
			continue;
		struct udev_device *d = udev_device_new_from_syspath(udev,
								     udev_list_entry_get_name(le));
		if (d && udev_device_get_property_value(d, "SUBSYSTEM"))
			with_property++;
		udev_device_unref(d);
	}
	if (devices && with_property != n) {
		fprintf(stderr, "udev-enum: %lu of %lu entries gave no udev_device\n",
			n - with_property, n);
		return 1;
	}
	if (!quiet)
		printf("devices=%lu\n", n);
	udev_enumerate_unref(e);
	udev_unref(udev);
	return 0;
}

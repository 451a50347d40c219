/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What moving a PCI function off its host driver would take down, found before anything is
 * changed (`ioasidctl bind`). Three kinds of use are looked for:
 *
 *   network  the function's netdevs (any sysfs "net" class device below it), from the
 *            kernel's own tables through libnl-route-3 (link, address and route caches of
 *            the caller's network namespace): a netdev that is up, holds a global address
 *            or carries a route, or whose upper device (the bond, bridge or team it is
 *            enslaved to, a VLAN or macvlan on top of it, recursively) does any of that;
 *   storage  its block devices and their partitions that are mounted (ROOT/proc/self/
 *            mountinfo), used as swap (ROOT/proc/swaps) or held by device-mapper, MD or LVM
 *            (sysfs holders/);
 *   display  the boot framebuffer's device (sysfs boot_vga) and DRM connectors that are
 *            connected.
 *
 * Each finding names the device, the interface or block device, what it carries (the
 * address, the route, the mount point, the holder, the connector) and the upper device
 * when the use is on one. sysfs and /proc are read below a root directory ("/" on a real
 * host; a fake tree in tests). No finding is ever a reason to log: the caller decides.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

typedef enum BindFindingKind {
	FINDING_LINK_UP,       /* the interface (or its upper device) is up */
	FINDING_ADDRESS,       /* it holds a global address */
	FINDING_ROUTE,         /* it carries a route */
	FINDING_DEFAULT_ROUTE, /* it carries a default route */
	FINDING_MOUNTED,       /* a block device or partition is mounted */
	FINDING_SWAP,          /* ... used as swap */
	FINDING_HELD,          /* ... held by device-mapper, MD or LVM */
	FINDING_BOOT_VGA,      /* the device drives the boot framebuffer */
	FINDING_CONNECTOR,     /* a DRM connector of the device is connected */
	_FINDING_KIND_MAX,
} BindFindingKind;

typedef struct BindFinding {
	char bdf[BDF_MAX];
	BindFindingKind kind;
	char *object;  /* "eth0", "sda2", "card0": what of the device is in use */
	char *upper;   /* "br0": the upper device the use is on; NULL when on object itself */
	char *detail;  /* "192.0.2.1/24", "default via 192.0.2.254", "/boot", "dm-0 (vg-root)",
			* "card0-HDMI-A-1"; NULL for FINDING_LINK_UP and FINDING_BOOT_VGA */
	char *message; /* one line for humans, starting with the BDF */
} BindFinding;

typedef struct BindFindings {
	BindFinding *items;
	size_t n;
} BindFindings;

/* "link-up", "address", "route", "default-route", "mounted", "swap", "held", "boot-vga",
 * "connector" (the --json "kind" values). */
const char *bind_finding_kind_to_string(BindFindingKind k);

void bind_findings_done(BindFindings *f);

typedef struct BindCheck BindCheck;

/*
 * bind_check_new: reads the rtnetlink link, address and route tables of the caller's
 * network namespace once, for any number of bind_check_device() calls. root is the
 * directory that holds sys/ and proc/ ("/" on a real host). Returns 0, -ENOMEM, or the
 * negative errno of the netlink connection or dump (libnl's error mapped to an errno).
 */
int bind_check_new(const char *root, BindCheck **ret);
BindCheck *bind_check_free(BindCheck *c);

/*
 * bind_check_device: appends to f what moving bdf off its driver would take down. Returns 0
 * (with or without findings), -ENOENT when ROOT/sys/bus/pci/devices/BDF does not exist,
 * -ENOMEM, or -errno from reading sysfs.
 */
int bind_check_device(BindCheck *c, const char *bdf, BindFindings *f);

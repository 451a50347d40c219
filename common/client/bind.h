/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Moving PCI functions to vfio-pci (or a vfio variant driver) and back: what
 * `ioasidctl bind` and `ioasidctl restore` do, as root, through sysfs.
 *
 * Binding one device: write the driver to its driver_override, write its address to its
 * driver's unbind, write it to /sys/bus/pci/drivers_probe, then check that it is on the
 * driver and, on a kernel with VFIO cdevs, that vfio-dev/vfioN appeared. A group is bound
 * all or nothing: when one member fails, the members already moved go back to their
 * original drivers, in reverse order. Before a device is moved, its original driver and
 * driver_override are recorded in ROOT/run/ioasid/bound/BDF, so restore can put it back
 * later and the inspection verbs can say "bound by ioasidctl, was on e1000e".
 *
 * Every path is below a root directory ("/" on a real host); tests give a fake tree and a
 * write hook that plays the kernel's part.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/client/bind-check.h"
#include "common/util.h"

typedef enum BindAction {
	BIND_MOVE,        /* will be moved to the driver */
	BIND_ALREADY,     /* already on it */
	BIND_SKIP_BRIDGE, /* a bridge or port: stays on its driver, does not block */
	_BIND_ACTION_MAX,
} BindAction;

typedef struct BindMember {
	char bdf[BDF_MAX];
	char *driver;   /* current driver; NULL when unbound */
	char *override; /* current driver_override; NULL when "(null)" or absent */
	BindAction action;
	char *vfio; /* after bind_execute(): "vfio3" when the cdev appeared, else NULL */
} BindMember;

typedef struct BindPlan {
	char *driver;        /* "vfio-pci" */
	bool driver_loaded;  /* ROOT/sys/bus/pci/drivers/DRIVER exists */
	int group;           /* the IOMMU group; -1 when the device has none */
	BindMember *members; /* the group's members in sysfs order */
	size_t n_members;
} BindPlan;

/* "move", "already", "skip-bridge" */
const char *bind_action_to_string(BindAction a);

/* The hook every sysfs write goes through: write value to the file path (relative to the
 * root's sys/ directory, e.g. "bus/pci/drivers_probe") and return 0 or -errno. NULL: the
 * real write. */
typedef int (*BindWriteFn)(void *userdata, const char *sysfs, const char *path, const char *value);

typedef struct BindContext {
	const char *root;  /* "/" or a test tree */
	BindWriteFn write; /* NULL: write(2) */
	void *userdata;
} BindContext;

/*
 * bind_plan: what binding target (a canonical BDF, or an IOMMU group number in decimal)
 * to driver would do. A device is bound with its whole IOMMU group (the kernel hands out
 * none of a group while any member is on a host driver). Returns 0; -ENOENT (no such device
 * or group), -EXDEV
 * (the group has a member that is not a PCI function, which this cannot move), -ENOMEM,
 * -errno from sysfs. On error *ret_error (when not NULL) is a malloc'd sentence.
 */
int bind_plan(const BindContext *ctx, const char *target, const char *driver, BindPlan *ret,
	      char **ret_error);
void bind_plan_done(BindPlan *p);

/*
 * bind_execute: moves every BIND_MOVE member of p, recording each first. All or nothing: on
 * failure the moved members are restored and their records removed. Fills members[].vfio.
 * Returns 0, -EOPNOTSUPP when the driver is not loaded, -EBUSY when a member that would move
 * is open through a VFIO driver (its unbind would wait for its user; nothing is changed in
 * either case), or the first
 * failure's -errno with *ret_error naming the device and step (and
 * any rollback step that failed as well).
 */
int bind_execute(const BindContext *ctx, BindPlan *p, char **ret_error);

/*
 * bind_record_read: the driver bdf was on before ioasidctl bound it ("" when it was
 * unbound), from its record. Returns 0, -ENOENT when there is no record, -errno.
 */
int bind_record_read(const char *root, const char *bdf, char **ret_driver);

/* bind_records_list: the BDFs with records, sorted (strv, NULL when none). 0 or -errno. */
int bind_records_list(const char *root, char ***ret);

/*
 * bind_restore_device: puts bdf back on the driver its record names (or leaves it unbound),
 * restores its driver_override, checks the result and removes the record. Returns 0,
 * -ENOENT when there is no record, -EBUSY (nothing changed) while it is open through a VFIO
 * driver, or -errno with *ret_error naming the step.
 * ret_driver (may be NULL) gets the driver it went back to ("" for none).
 */
int bind_restore_device(const BindContext *ctx, const char *bdf, char **ret_driver,
			char **ret_error);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The systemd identity of a cgroup v2 path (the "0::" line of /proc/PID/cgroup): system
 * unit, user unit, owner uid and slice, by the rules libsystemd's sd_pid_get_unit(),
 * sd_pid_get_user_unit(), sd_pid_get_owner_uid() and sd_pid_get_slice() apply (systemd 252,
 * src/basic/cgroup-util.c). Pure: no I/O, no allocation. The daemon and `ioasidctl policy
 * explain --cgroup` both derive identity through cgroup_identity_from_path().
 *
 *   /system.slice/libvirtd.service                          unit libvirtd.service
 *   /user.slice/user-1000.slice/user@1000.service/app.slice/libvirtd.service
 *                                   unit user@1000.service, user unit libvirtd.service,
 *                                   owner uid 1000, slice user-1000.slice
 *
 * Everything below user@UID.service is named by that user (systemd-run --user --unit=...,
 * mkdir in the delegated subtree), so only the system unit says who the peer is; the user
 * unit is a claim of the owner uid.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* systemd's UNIT_NAME_MAX: a unit name is shorter than this. */
#define CGROUP_UNIT_NAME_MAX 256

typedef struct CgroupIdentity {
	char unit[CGROUP_UNIT_NAME_MAX];      /* system unit; "" when none */
	char user_unit[CGROUP_UNIT_NAME_MAX]; /* unit inside a user manager or session; "" */
	char slice[CGROUP_UNIT_NAME_MAX];     /* innermost leading slice, "-.slice" for none */
	uid_t owner_uid;                      /* from user-UID.slice; (uid_t)-1 when none */
} CgroupIdentity;

/*
 * cgroup_identity_from_path: derives *ret from an absolute cgroup v2 path. Returns 0 (any
 * field may be "none": the root cgroup has no unit), or -EINVAL for a path that is not one
 * the kernel shows for a cgroup inside the reader's namespace: empty, not absolute, longer
 * than 4095 bytes, or with a "." or ".." component (a cgroup outside the reader's cgroup
 * namespace reads as "/../.."). *ret is written only on success; callers fail closed and
 * treat -EINVAL as "no unit". Only the leading components decide, as in systemd: whatever
 * a user names below their own manager cannot change the system unit.
 */
int cgroup_identity_from_path(const char *path, CgroupIdentity *ret);

/* systemd's unit_name_is_valid(name, UNIT_NAME_PLAIN|UNIT_NAME_INSTANCE): a known type
 * suffix, only [A-Za-z0-9:_.\-] and '@' before it, no template ("foo@.service"). */
bool cgroup_unit_name_is_valid(const char *name);

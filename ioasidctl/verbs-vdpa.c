/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasidctl vdpa add / del: create and delete a vDPA device through the kernel's "vdpa"
 * generic netlink family, as iproute2's `vdpa dev add`/`del` does, through the kernel seam
 * (kernel_vdpa_dev_add, kernel_vdpa_dev_del_unopened; the linux backend's
 * common/vdpa-netlink.c). Root only (the commands are GENL_ADMIN_PERM: CAP_NET_ADMIN).
 * del refuses a device whose /dev/vhost-vdpa-N is open: the kernel's del would wait, holding
 * the family's lock, until it is closed.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/client/client.h"
#include "common/kernel.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/util.h"
#include "ioasidctl/ioasidctl.h"
#include "ioasidctl/output.h"
#include "ioasidctl/verbs.h"

/* Which of ioasidd's leases holds the vDPA device name: "lease ID of uid U" in buf. false when
 * the daemon does not run, does not answer (not root: only root sees every lease) or has no
 * lease of it: then another process holds the file. */
static bool vdpa_lease_holder(const char *name, char *buf, size_t size) {
	_cleanup_(ioasid_client_freep) IoasidClient *c = NULL;
	IoasidLease *l = NULL;
	IoasidError e = {};
	size_t n = 0;
	bool found = false;

	if (ioasid_client_connect(ioasid_client_socket_path(arg_socket), &c) < 0)
		return false;
	if (ioasid_client_list_leases(c, &l, &n, &e) < 0) {
		ioasid_error_done(&e);
		return false;
	}
	for (size_t i = 0; i < n && !found; i++)
		if (l[i].vdpa && streq(l[i].vdpa, name) && !streq(strempty(l[i].state), "ended")) {
			bool revoked = streq(strempty(l[i].state), "revoked");
			snprintf(buf, size, "lease %s of uid %" PRId64 "%s", strempty(l[i].id),
				 l[i].uid,
				 revoked ? " (revoked: its program still has the file)" : "");
			found = true;
		}
	ioasid_leases_free(l, n);
	return found;
}

static int vdpa_report(const char *action, const char *name, const char *mgmtdev, const char *held,
		       int r) {
	if (arg_json != JSON_OFF) {
		json_object *o = json_object_new_object();
		if (o) {
			json_object_object_add(o, "action", json_object_new_string(action));
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "mgmtdev",
					       mgmtdev ? json_object_new_string(mgmtdev) : NULL);
			json_object_object_add(o, "result",
					       json_object_new_string(held    ? "refused"
								      : r < 0 ? "failed"
									      : "ok"));
			json_object_object_add(
				o, "errno", r < 0 ? json_object_new_string(errno_name(-r)) : NULL);
			output_json(o);
			json_object_put(o);
		}
	}
	if (held) {
		char lease[256];
		if (vdpa_lease_holder(name, lease, sizeof(lease)))
			return ioasidctl_error(
				1,
				"Not deleting vDPA device %s: /dev/%s is open: ioasidd's "
				"%s holds it; the kernel's del would wait until it is "
				"closed",
				name, held, lease);
		return ioasidctl_error(1,
				       "Not deleting vDPA device %s: /dev/%s is open (a lease "
				       "through ioasidd or another process holds it); the kernel's "
				       "del would wait until it is closed",
				       name, held);
	}
	if (r == -ENOENT)
		return ioasidctl_error(1, "No vDPA netlink family (is the vdpa module loaded?)");
	if (r < 0)
		return ioasidctl_error(1, "vdpa %s %s%s%s failed: %s", action, name,
				       mgmtdev ? " on " : "", strempty(mgmtdev), strerror(-r));
	if (arg_json == JSON_OFF && !arg_quiet)
		printf("%s vDPA device %s%s%s\n", streq(action, "add") ? "Created" : "Deleted",
		       name, mgmtdev ? " on " : "", strempty(mgmtdev));
	return 0;
}

int verb_vdpa(int argc, char **argv) {
	if (argc != 3 || (!streq(argv[1], "add") && !streq(argv[1], "del")))
		return ioasidctl_error(EXIT_USAGE, "Usage: vdpa add NAME --mgmtdev [BUS/]NAME | "
						   "vdpa del NAME");
	const char *name = argv[2];
	if (streq(argv[1], "add") && !arg_mgmtdev)
		return ioasidctl_error(EXIT_USAGE, "vdpa add needs --mgmtdev [BUS/]NAME");
	if (geteuid() != 0)
		return ioasidctl_error(1, "Creating and deleting vDPA devices needs root");

	_cleanup_kernel_free_ Kernel *k = NULL;
	int r = kernel_new("linux", NULL, &k);
	if (r < 0)
		return ioasidctl_error(1, "Cannot set up the kernel backend: %s", strerror(-r));

	if (streq(argv[1], "del")) {
		_cleanup_free_ char *held = NULL;
		r = kernel_vdpa_dev_del_unopened(k, name, &held);
		return vdpa_report("del", name, NULL, r == -EBUSY ? held : NULL, r);
	}

	/* "pci/0000:01:00.0" names a bus device's management device, "vdpasim_net" a software
	 * one (iproute2's MGMTDEV). */
	_cleanup_free_ char *bus = NULL;
	const char *mgmt = arg_mgmtdev, *slash = strchr(arg_mgmtdev, '/');
	if (slash) {
		if (slash == arg_mgmtdev || !slash[1])
			return ioasidctl_error(EXIT_USAGE, "Bad --mgmtdev '%s' (BUS/NAME or NAME)",
					       arg_mgmtdev);
		bus = strndup(arg_mgmtdev, (size_t)(slash - arg_mgmtdev));
		if (!bus)
			return ioasidctl_error(1, "Out of memory");
		mgmt = slash + 1;
	}
	return vdpa_report("add", name, arg_mgmtdev, NULL, kernel_vdpa_dev_add(k, bus, mgmt, name));
}

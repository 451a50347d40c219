/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hotplug and driver changes on the live host: a udev monitor on the "pci", "vfio-dev" and
 * "vdpa" subsystems. Each event rescans the host model (the requests that follow see the new
 * state), is streamed to Monitor subscribers (a vDPA device's only as the viability change it
 * makes), and a removed device (or one leaving its VFIO driver, or bound to a driver other
 * than VFIO) revokes its lease and drops a staged context holding it; what ended leases still
 * hold is probed again.
 * Only with the live host model: a snapshot (--host) never changes.
 * Layer: started by main.c; calls manager.c and hold.c.
 */
#include <systemd/sd-device.h>

#include "common/macro.h"
#include "common/viability.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

static const char *action_name(sd_device_action_t a) {
	switch (a) {
	case SD_DEVICE_ADD:
		return "device-add";
	case SD_DEVICE_REMOVE:
		return "device-remove";
	case SD_DEVICE_BIND:
		return "device-bind";
	case SD_DEVICE_UNBIND:
		return "device-unbind";
	default:
		return "device-change";
	}
}

static Verdict group_verdict(const Host *h, const Group *g) {
	Viability v = { 0 };
	if (viability_group(h, g, &v) < 0)
		return VERDICT_NO_IOMMU; /* out of memory: unknown, reported as a change only
					  * when it resolves */
	Verdict r = v.verdict;
	viability_done(&v);
	return r;
}

/* Tells Monitor subscribers of each group whose verdict differs between old and now (a
 * group that appeared counts as changed; one that vanished reads "no-iommu"). */
static void report_viability(Manager *m, const Host *old, const Host *now) {
	for (size_t i = 0; i < now->n_groups; i++) {
		const Group *g = &now->groups[i];
		Verdict v = group_verdict(now, g);
		bool found = false, same = false;
		for (size_t k = 0; old && k < old->n_groups && !found; k++)
			if (old->groups[k].number == g->number) {
				found = true;
				same = group_verdict(old, &old->groups[k]) == v;
			}
		if (!same)
			manager_group_event(m, g->number, verdict_to_string(v));
	}
	for (size_t k = 0; old && k < old->n_groups; k++) {
		bool found = false;
		for (size_t i = 0; i < now->n_groups && !found; i++)
			found = now->groups[i].number == old->groups[k].number;
		if (!found)
			manager_group_event(m, old->groups[k].number,
					    verdict_to_string(VERDICT_NO_IOMMU));
	}
}

static int on_uevent(sd_device_monitor *mon, sd_device *dev, void *userdata) {
	Manager *m = userdata;
	const char *subsystem = NULL, *sysname = NULL;
	sd_device_action_t action = _SD_DEVICE_ACTION_INVALID;
	if (sd_device_get_subsystem(dev, &subsystem) < 0 ||
	    sd_device_get_sysname(dev, &sysname) < 0)
		return 0;
	(void)sd_device_get_action(dev, &action);

	/* A vDPA device created, bound or deleted: the model's vDPA devices and the viability of
	 * their parents' groups change (an Acquire names them), no PCI device does. */
	bool vdpa = streq(subsystem, "vdpa");
	/* vfio-dev/vfioN belongs to its PCI parent. */
	if (streq(subsystem, "vfio-dev")) {
		sd_device *parent = NULL;
		if (sd_device_get_parent(dev, &parent) < 0 ||
		    sd_device_get_sysname(parent, &sysname) < 0)
			return 0;
	}
	char bdf[BDF_MAX] = "";
	if (!vdpa && bdf_parse(sysname, bdf) < 0)
		return 0;

	Host *h = NULL, *old = NULL;
	int r = host_load_live(&h);
	if (r < 0)
		log_warning_errno(r,
				  "Rescan after a udev event for %s failed, keeping the old "
				  "host model: %m",
				  vdpa ? sysname : bdf);
	else {
		old = m->host;
		m->host = h;
	}
	log_debug("udev: %s %s", action_name(action), vdpa ? sysname : bdf);

	/* A device gone, leaving its VFIO driver, or bound to a driver other than a VFIO one,
	 * cannot stay leased: revoke (the record stays) or drop the staged context.
	 * A device leaving vfio-pci (unbind, hot removal) loses its vfio-dev file first; the
	 * kernel then waits until every open file of the device is closed, the daemon's own
	 * included, before the PCI device goes (vfio_unregister_group_dev): acting on the
	 * vfio-dev removal is what lets that wait end without an administrator. */
	if (streq(subsystem, "pci") && action == SD_DEVICE_REMOVE)
		manager_device_gone(m, bdf, NULL);
	else if (streq(subsystem, "vfio-dev") && action == SD_DEVICE_REMOVE)
		manager_device_leaving_vfio(m, bdf);
	else if (streq(subsystem, "pci") && action == SD_DEVICE_BIND) {
		const char *driver = NULL;
		if (sd_device_get_driver(dev, &driver) >= 0 && driver)
			manager_device_gone(m, bdf, driver);
	}
	if (!vdpa)
		manager_device_event(m, action_name(action), bdf);
	if (old) {
		report_viability(m, old, m->host);
		host_free(old);
	}
	/* A device a lease held after its end may be gone or released now. */
	hold_recheck(m, -1);
	return 0;
}

int udev_monitor_start(Manager *m) {
	sd_device_monitor *mon = NULL;
	int r = sd_device_monitor_new(&mon);
	if (r < 0)
		return r;
	if ((r = sd_device_monitor_filter_add_match_subsystem_devtype(mon, "pci", NULL)) < 0 ||
	    (r = sd_device_monitor_filter_add_match_subsystem_devtype(mon, "vfio-dev", NULL)) < 0 ||
	    (r = sd_device_monitor_filter_add_match_subsystem_devtype(mon, "vdpa", NULL)) < 0 ||
	    (r = sd_device_monitor_attach_event(mon, m->event)) < 0 ||
	    (r = sd_device_monitor_start(mon, on_uevent, m)) < 0) {
		sd_device_monitor_unref(mon);
		return r;
	}
	m->udev_monitor = mon;
	return 0;
}

void udev_monitor_stop(Manager *m) {
	m->udev_monitor = sd_device_monitor_unref(m->udev_monitor);
}

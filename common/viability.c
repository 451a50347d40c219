/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Viability of an IOMMU group for VFIO/iommufd, explained per member.
 *
 * The kernel's rule (iommu_device_claim_dma_owner at VFIO_DEVICE_BIND_IOMMUFD): the claim
 * fails with EPERM while any device of the group is bound to a driver that uses the kernel
 * DMA API, i.e. a driver without driver_managed_dma. vfio-pci and its variant drivers,
 * pci-stub and pcieport set it; an unbound device holds nothing. Bridges and root/downstream
 * ports (class 0x0604) are treated as compatible, as VFIO always has. Everything else blocks,
 * and each blocker gets a reason and a command that fixes it.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/macro.h"
#include "common/pci-class.h"
#include "common/viability.h"

MemberState viability_member_state(const Device *d) {
	assert(d);
	/* A vfio-dev child is the surest sign: every vfio driver creates one when the kernel
	 * has cdev support. Without cdev support (legacy group/container kernels), fall back to
	 * the driver's name. */
	if (d->vfio_name || device_driver_is_vfio(d))
		return MEMBER_VFIO;
	if (d->driver && streq(d->driver, "pci-stub"))
		return MEMBER_PCI_STUB;
	/* Bridges first so an unbound bridge reads as a bridge; pcieport is the port driver
	 * and manages DMA itself. */
	if (((d->class >> 8) & 0xffff) == 0x0604 || (d->driver && streq(d->driver, "pcieport")))
		return MEMBER_BRIDGE;
	if (!d->driver)
		return MEMBER_NO_DRIVER;
	return MEMBER_HOST_DRIVER;
}

MemberState viability_foreign_state(const ForeignMember *f) {
	assert(f);
	if (!f->driver_known)
		return MEMBER_UNKNOWN;
	if (!f->driver)
		return MEMBER_NO_DRIVER;
	/* vfio-platform, vfio-amba, vfio-fsl-mc, vfio-cdx: driver_managed_dma, like vfio-pci. */
	if (strneq(f->driver, "vfio-", 5) || strneq(f->driver, "vfio_", 5))
		return MEMBER_VFIO;
	return MEMBER_HOST_DRIVER;
}

bool group_has_pci_function(const Group *g) {
	assert(g);
	for (size_t i = 0; i < g->n_members; i++)
		if (viability_member_state(g->members[i]) != MEMBER_BRIDGE)
			return true;
	return false;
}

const char *member_state_to_string(MemberState s) {
	switch (s) {
	case MEMBER_VFIO:
		return "vfio";
	case MEMBER_PCI_STUB:
		return "pci-stub";
	case MEMBER_NO_DRIVER:
		return "no-driver";
	case MEMBER_BRIDGE:
		return "bridge";
	case MEMBER_HOST_DRIVER:
		return "host-driver";
	case MEMBER_UNKNOWN:
		return "unknown";
	}
	return NULL;
}

const char *verdict_to_string(Verdict v) {
	switch (v) {
	case VERDICT_VIABLE:
		return "viable";
	case VERDICT_NOT_VIABLE:
		return "not-viable";
	case VERDICT_NO_IOMMU:
		return "no-iommu";
	case VERDICT_EMPTY:
		return "empty";
	}
	return NULL;
}

static const Device *find_device(const Host *h, const char *bdf);

/* The IOMMU vendor the host reports, else a guess from the host bridge at 0000:00:00.0
 * (Intel or AMD), which is where a disabled IOMMU leaves us. NULL when unknown. */
static const char *iommu_vendor_guess(const Host *h) {
	if (!h)
		return NULL;
	if (h->kernel.iommu_vendor)
		return h->kernel.iommu_vendor;
	const Device *hb = find_device(h, "0000:00:00.0");
	if (hb && hb->vendor == 0x8086)
		return "intel";
	if (hb && (hb->vendor == 0x1022 || hb->vendor == 0x1002))
		return "amd";
	return NULL;
}

/* Paravirtual devices (virtio, QEMU, VMware, Hyper-V, AWS Nitro) mean we run in a VM, where
 * the fix is a virtual IOMMU rather than a firmware switch. */
static bool host_is_vm(const Host *h) {
	static const uint16_t vm_vendors[] = { 0x1af4, 0x1b36, 0x15ad, 0x1414, 0x1d0f };
	for (size_t i = 0; h && i < h->n_devices; i++)
		for (size_t j = 0; j < ELEMENTSOF(vm_vendors); j++)
			if (h->devices[i].vendor == vm_vendors[j])
				return true;
	return false;
}

const char *viability_iommu_param(const Host *h) {
	const char *v = iommu_vendor_guess(h);
	if (v && streq(v, "intel"))
		return "intel_iommu=on";
	if (v && streq(v, "amd"))
		return "amd_iommu=on";
	return "intel_iommu=on (Intel) or amd_iommu=on (AMD)";
}

const char *viability_iommu_hint(const Host *h) {
	const char *v = iommu_vendor_guess(h);
	const char *cmd = h ? h->kernel.cmdline : NULL;

	if (cmd && (strstr(cmd, "intel_iommu=off") || strstr(cmd, "amd_iommu=off") ||
		    strstr(cmd, "iommu=off")))
		return "The kernel command line turns the IOMMU off: remove intel_iommu=off, "
		       "amd_iommu=off or iommu=off and reboot";
	if (!(h && h->kernel.iommu_vendor) && host_is_vm(h)) {
		if (v && streq(v, "amd"))
			return "This looks like a virtual machine: give it a virtual IOMMU (QEMU: "
			       "-device amd-iommu or virtio-iommu-pci) and boot it with "
			       "amd_iommu=on";
		return "This looks like a virtual machine: give it a virtual IOMMU (QEMU: "
		       "-device intel-iommu,intremap=on or virtio-iommu-pci) and boot it with "
		       "intel_iommu=on";
	}
	if (v && streq(v, "intel"))
		return "Enable VT-d in firmware and boot with intel_iommu=on";
	if (v && streq(v, "amd"))
		return "Enable AMD-Vi (IOMMU) in firmware and boot with amd_iommu=on";
	if (v && streq(v, "arm-smmu"))
		return "Describe the SMMU in firmware (IORT/device tree) and load arm-smmu(-v3)";
	if (v && streq(v, "virtio"))
		return "Give the guest a virtio-iommu device and load virtio_iommu";
	return "Enable VT-d/AMD-Vi in firmware and boot with intel_iommu=on (Intel) or "
	       "amd_iommu=on (AMD)";
}

static int cmp_bdf(const void *key, const void *elem) {
	return bdf_cmp(key, ((const Device *)elem)->bdf);
}

/* Local bisect over h->devices (sorted by BDF per host.h), so viability needs nothing but
 * the structs. */
static const Device *find_device(const Host *h, const char *bdf) {
	if (!h || !bdf || h->n_devices == 0)
		return NULL;
	return bsearch(bdf, h->devices, h->n_devices, sizeof(Device), cmp_bdf);
}

_printf_(2, 3) static int note_add(char ***notes, const char *fmt, ...) {
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = strv_push(notes, s);
	if (r < 0)
		free(s);
	return r;
}

/* "vvvv:dddd", the ids as lower-case hex ("%04x:%04x") without printf: blockers are built
 * for every host-driver member of every group (thousands on a large host). */
static void device_ids(const Device *d, char buf[static 10]) {
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 4; i++) {
		buf[i] = hex[(d->vendor >> (12 - 4 * i)) & 0xf];
		buf[5 + i] = hex[(d->device >> (12 - 4 * i)) & 0xf];
	}
	buf[4] = ':';
	buf[9] = '\0';
}

/*
 * The reason for a member that is a vDPA management device (vp_vdpa, a SmartNIC VF), and the
 * "vdpa dev del NAME; " commands the fix starts with (NULL when it has no vDPA device). A
 * vDPA device on vhost_vdpa hands a user program (QEMU's -netdev vhost-vdpa) control of the
 * function's DMA through /dev/vhost-vdpa-N: the group then belongs to that framework, and
 * VFIO cannot have it until the vDPA device is deleted and the function moved.
 */
static int vdpa_reason(const Host *h, const Device *d, const char ids[static 10], char **ret,
		       char **ret_del) {
	_cleanup_free_ const VdpaDevice **kids = NULL;
	_cleanup_free_ char *what = NULL, *del = NULL;
	int n = host_vdpa_children(h, d, &kids);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const VdpaDevice *v = kids[i];
		char *w, *x;
		if (vdpa_device_on_vhost(v) && v->vhost_name)
			w = strjoin(strempty(what), i ? ", " : "", v->name, " on vhost_vdpa (/dev/",
				    v->vhost_name, ")");
		else
			w = strjoin(strempty(what), i ? ", " : "", v->name, " on ",
				    v->driver ? v->driver : "no driver");
		x = strjoin(strempty(del), "vdpa dev del ", v->name, "; ");
		if (!w || !x) {
			free(w);
			free(x);
			return -ENOMEM;
		}
		free(what);
		what = w;
		free(del);
		del = x;
	}
	bool vhost = false;
	for (int i = 0; i < n; i++)
		vhost = vhost || vdpa_device_on_vhost(kids[i]);
	char *reason;
	if (vhost)
		reason = strjoin(d->bdf, " (", ids, " ", pci_class_name(d->class), ") is on ",
				 d->driver, ", the vDPA parent of ", what,
				 ": its DMA belongs to vhost-vdpa, a second framework over the "
				 "same isolation");
	else if (n > 0)
		reason = strjoin(d->bdf, " (", ids, " ", pci_class_name(d->class), ") is on ",
				 d->driver, ", a host driver, the vDPA parent of ", what);
	else
		reason = strjoin(d->bdf, " (", ids, " ", pci_class_name(d->class), ") is on ",
				 d->driver,
				 ", a host driver (a vDPA management device without "
				 "vDPA devices)");
	if (!reason)
		return -ENOMEM;
	*ret = reason;
	*ret_del = TAKE_PTR(del);
	return 0;
}

static int blocker_fill(const Host *h, const Device *d, Blocker *b) {
	_cleanup_free_ char *reason = NULL, *fix = NULL, *fix_sysfs = NULL, *del = NULL;
	const char *modprobe = h && h->kernel.vfio_pci == TRI_NO ? "modprobe vfio-pci && " : "";
	char ids[10];

	/* Only members on a host driver block (viability_member_state()). */
	assert(d->driver);
	/* The reason names the device as "10de:1aef Audio device" (ids and class name). */
	device_ids(d, ids);
	if (device_is_vdpa_parent(h, d)) {
		int r = vdpa_reason(h, d, ids, &reason, &del);
		if (r < 0)
			return r;
	} else
		reason = strjoin(d->bdf, " (", ids, " ", pci_class_name(d->class), ") is on ",
				 d->driver, ", a host driver");
	fix = strjoin(modprobe, strempty(del), "ioasidctl bind ", d->bdf);
	fix_sysfs = strjoin(modprobe, strempty(del), "echo vfio-pci > /sys/bus/pci/devices/",
			    d->bdf, "/driver_override; echo ", d->bdf, " > /sys/bus/pci/devices/",
			    d->bdf, "/driver/unbind; echo ", d->bdf,
			    " > /sys/bus/pci/drivers_probe");
	if (!reason || !fix || !fix_sysfs)
		return -ENOMEM;
	*b = (Blocker){
		.device = d,
		.name = d->bdf,
		.reason = TAKE_PTR(reason),
		.fix = TAKE_PTR(fix),
		.fix_sysfs = TAKE_PTR(fix_sysfs),
	};
	return 0;
}

/* The VFIO driver of a non-PCI bus, NULL when it has none. */
static const char *bus_vfio_driver(const char *bus) {
	if (!bus)
		return NULL;
	if (streq(bus, "platform"))
		return "vfio-platform";
	if (streq(bus, "amba"))
		return "vfio-amba";
	if (streq(bus, "fsl-mc"))
		return "vfio-fsl-mc";
	return NULL;
}

/* A non-PCI member on a host driver, or one whose driver is not known. Unbinding it is the
 * fix that always works (a device without a driver holds nothing); a bus with a VFIO driver
 * also gets the persistent driverctl override. */
static int blocker_fill_foreign(const Group *g, const ForeignMember *f, Blocker *b) {
	_cleanup_free_ char *reason = NULL, *fix = NULL, *fix_sysfs = NULL;
	char num[16];
	const char *bus = f->bus ? f->bus : "unknown bus";

	snprintf(num, sizeof(num), "%d", g->number);
	if (!f->driver_known) {
		reason = strjoin(
			f->name, " (", bus,
			" device, not PCI) is in the group and the "
			"snapshot does not say its driver (written before drivers of non-PCI "
			"members were recorded)");
		fix = strdup("ioasidctl snapshot (a new one records the driver)");
		fix_sysfs = strjoin("readlink /sys/kernel/iommu_groups/", num, "/devices/", f->name,
				    "/driver");
	} else {
		const char *vfio = bus_vfio_driver(f->bus);
		reason = strjoin(f->name, " (", bus, " device, not PCI) is on ", f->driver,
				 ", a host driver");
		fix_sysfs = strjoin("echo ", f->name, " > /sys/kernel/iommu_groups/", num,
				    "/devices/", f->name, "/driver/unbind");
		if (vfio)
			fix = strjoin("driverctl --bus ", f->bus, " set-override ", f->name, " ",
				      vfio);
		else
			fix = fix_sysfs ? strdup(fix_sysfs) : NULL;
	}
	if (!reason || !fix || !fix_sysfs)
		return -ENOMEM;
	*b = (Blocker){
		.foreign = f,
		.name = f->name,
		.reason = TAKE_PTR(reason),
		.fix = TAKE_PTR(fix),
		.fix_sysfs = TAKE_PTR(fix_sysfs),
	};
	return 0;
}

static char *strv_join_comma(char *const *l) {
	size_t len = 1;
	for (char *const *i = l; i && *i; i++)
		len += strlen(*i) + 2;
	char *s = calloc(len, 1);
	if (!s)
		return NULL;
	for (char *const *i = l; i && *i; i++) {
		if (i != l)
			strcat(s, ", ");
		strcat(s, *i);
	}
	return s;
}

/* Notes about one member; blocking says whether it must be unbound first. */
static int member_notes(const Host *h, const Device *d, bool blocking, char ***notes) {
	int r;

	if (d->vfio_name && d->noiommu) {
		r = note_add(notes,
			     "%s is a no-IOMMU VFIO device (%s): it has no DMA isolation, whoever "
			     "opens it can DMA to any host memory, and opening it needs "
			     "CAP_SYS_RAWIO",
			     d->bdf, d->vfio_name);
		if (r < 0)
			return r;
	}
	if (d->physfn) {
		const Device *pf = find_device(h, d->physfn);
		if (pf && viability_member_state(pf) == MEMBER_HOST_DRIVER) {
			r = note_add(
				notes,
				"%s is an SR-IOV VF of %s, which is on %s, a host driver: the PF "
				"driver still controls the VF (MAC, VLAN, reset) and unbinding "
				"it removes the VF",
				d->bdf, pf->bdf, pf->driver);
			if (r < 0)
				return r;
		}
	}
	if (blocking && (d->class >> 16) == 0x01) {
		r = note_add(notes,
			     "%s is a storage controller on %s: unbinding it detaches its disks; "
			     "make sure the host does not boot or run from them",
			     d->bdf, d->driver);
		if (r < 0)
			return r;
	}
	if (blocking && d->netdevs && d->netdevs[0]) {
		_cleanup_free_ char *ifs = strv_join_comma(d->netdevs);
		if (!ifs)
			return -ENOMEM;
		r = note_add(notes,
			     "%s carries the network interface%s %s: unbinding it from %s takes %s "
			     "down; make sure the host does not depend on %s (default route, "
			     "management, storage)",
			     d->bdf, d->netdevs[1] ? "s" : "", ifs, d->driver,
			     d->netdevs[1] ? "them" : "it", d->netdevs[1] ? "them" : "it");
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * vp_vdpa leaves translation to the platform IOMMU: opening /dev/vhost-vdpa-N attaches an
 * IOMMU domain of vhost-vdpa's own to the parent (vhost_vdpa_alloc_domain() ->
 * iommu_attach_device()), which the kernel refuses with EINVAL unless the parent is the only
 * device of its group (bridges count). Parents that translate themselves (set_map/dma_map:
 * mlx5_vdpa, the simulators) are not bound by it, and their drivers are not named here.
 */
static int vdpa_notes(const Host *h, const Group *g, const Device *d, char ***notes) {
	_cleanup_free_ const VdpaDevice **kids = NULL;
	size_t n_devices = g->n_members + g->n_foreign_members;
	int n, r;

	if (!d->driver || !streq(d->driver, "vp_vdpa") || n_devices < 2)
		return 0;
	if ((n = host_vdpa_children(h, d, &kids)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (!vdpa_device_on_vhost(kids[i]) || !kids[i]->vhost_name)
			continue;
		r = note_add(
			notes,
			"%s cannot be used through /dev/%s: vp_vdpa leaves DMA to the IOMMU and "
			"vhost-vdpa attaches its own IOMMU domain to %s, which the kernel allows "
			"only in a group of one device (group %d has %zu): opening it fails "
			"with EINVAL",
			kids[i]->name, kids[i]->vhost_name, d->bdf, g->number, n_devices);
		if (r < 0)
			return r;
	}
	return 0;
}

int viability_group(const Host *h, const Group *g, Viability *ret) {
	_cleanup_(viability_done) Viability v = { .verdict = VERDICT_VIABLE };
	size_t n_bridges = 0;
	int r;

	assert(g);
	assert(ret);

	if (g->n_members + g->n_foreign_members > 0) {
		v.blockers = calloc(g->n_members + g->n_foreign_members, sizeof(Blocker));
		if (!v.blockers)
			return -ENOMEM;
	}
	if (g->n_members + g->n_foreign_members == 0) {
		/* sysfs shows a group whose last device is gone as an empty directory. */
		v.verdict = VERDICT_EMPTY;
		r = note_add(&v.notes,
			     "Group %d lists no devices: there is nothing in it to assign (sysfs "
			     "can show a group whose devices are gone, e.g. during a hot-unplug)",
			     g->number);
		if (r < 0)
			return r;
		*ret = v;
		v = (Viability){};
		return 0;
	}
	for (size_t i = 0; i < g->n_members; i++) {
		const Device *d = g->members[i];
		MemberState s = viability_member_state(d);
		if (s == MEMBER_BRIDGE)
			n_bridges++;
		if (s == MEMBER_HOST_DRIVER) {
			r = blocker_fill(h, d, &v.blockers[v.n_blockers]);
			if (r < 0)
				return r;
			v.n_blockers++;
			v.verdict = VERDICT_NOT_VIABLE;
		}
		r = member_notes(h, d, s == MEMBER_HOST_DRIVER, &v.notes);
		if (r < 0)
			return r;
		r = vdpa_notes(h, g, d, &v.notes);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < g->n_foreign_members; i++) {
		const ForeignMember *f = &g->foreign_members[i];
		MemberState s = viability_foreign_state(f);
		if (s != MEMBER_HOST_DRIVER && s != MEMBER_UNKNOWN)
			continue;
		r = blocker_fill_foreign(g, f, &v.blockers[v.n_blockers]);
		if (r < 0)
			return r;
		v.n_blockers++;
		v.verdict = VERDICT_NOT_VIABLE;
	}
	if (g->n_foreign_members > 0 && n_bridges == g->n_members) {
		_cleanup_strv_free_ char **names = NULL;
		for (size_t i = 0; i < g->n_foreign_members; i++)
			if (strv_extend(&names, g->foreign_members[i].name) < 0)
				return -ENOMEM;
		_cleanup_free_ char *list = strv_join_comma(names);
		if (!list)
			return -ENOMEM;
		r = note_add(&v.notes,
			     "Group %d holds no PCI function (%s %s not PCI): ioasid brokers PCI "
			     "functions through vfio-pci and has nothing to lease here",
			     g->number, list, g->n_foreign_members == 1 ? "is" : "are");
		if (r < 0)
			return r;
	} else if (g->n_members > 0 && n_bridges == g->n_members) {
		r = note_add(&v.notes, "Group %d holds only bridges: there is nothing to assign",
			     g->number);
		if (r < 0)
			return r;
	}
	*ret = v;
	v = (Viability){};
	return 0;
}

int viability_device(const Host *h, const Device *d, Viability *ret) {
	assert(d);
	assert(ret);

	if (d->group)
		return viability_group(h, d->group, ret);

	_cleanup_(viability_done) Viability v = { .verdict = VERDICT_NO_IOMMU };
	int r;
	if (h && h->kernel.iommu_units && h->kernel.iommu_units[0])
		r = note_add(&v.notes,
			     "%s has no IOMMU group: the IOMMU (%s) does not cover it or is not "
			     "enabled for it; check dmesg for DMAR/AMD-Vi errors",
			     d->bdf, h->kernel.iommu_units[0]);
	else
		r = note_add(&v.notes, "%s has no IOMMU group: the IOMMU is off or absent. %s",
			     d->bdf, viability_iommu_hint(h));
	if (r < 0)
		return r;
	/* Member notes still matter (noiommu cdev, VF of a host PF). A device without a group
	 * is never "blocking" in the group sense, so no unbind warning. */
	r = member_notes(h, d, false, &v.notes);
	if (r < 0)
		return r;
	*ret = v;
	v = (Viability){};
	return 0;
}

void viability_done(Viability *v) {
	if (!v)
		return;
	for (size_t i = 0; i < v->n_blockers; i++) {
		free(v->blockers[i].reason);
		free(v->blockers[i].fix);
		free(v->blockers[i].fix_sysfs);
	}
	free(v->blockers);
	strv_free(v->notes);
	*v = (Viability){};
}

int viability_identity_note(const int *numbers, size_t n, char **ret) {
	assert(ret);
	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%d", i == 0 ? "" : i + 1 == n ? " and " : ", ", numbers[i]);
	if (fclose(f) != 0) {
		free(list);
		return -ENOMEM;
	}
	_cleanup_free_ char *l = list;
	char *s = NULL;
	if (asprintf(&s,
		     "%s %s %s an identity default domain (passthrough, e.g. iommu=pt): host "
		     "drivers in %s do DMA untranslated; VFIO switches a group to its own domain "
		     "when it is claimed",
		     n == 1 ? "Group" : "Groups", l, n == 1 ? "has" : "have",
		     n == 1 ? "it" : "them") < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Step 4 of Acquire (and of Stage): the kernel context for a plan. iommufd: open the iommufd,
 * per-process accounting, the IOAS and its layout (attached mode), each device opened
 * (verified by the seam), bound and attached in attached mode. A legacy kernel (no iommufd):
 * one container per lease, each group's node set on it, TYPE1v2, a device fd per device.
 * The lease owns every fd from the moment it is opened; freeing it is the rollback.
 * Layer: called by method-broker.c and method-manager.c; calls lease, caps and the kernel
 * seam. No wire code: failures are -errno with a Refusal (see context.h).
 */
#include <unistd.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/viability.h"
#include "ioasidd/context.h"
#include "ioasidd/log.h"

#define IOMMU_HW_CAP_DIRTY_TRACKING_BIT (1ULL << 0)

/* The blockers of d's group, and the first blocking device (NULL: none). */
static char **group_blockers(const Host *h, const Device *d, char *first, size_t size) {
	char **blockers = NULL;
	Viability v = { 0 };
	first[0] = '\0';
	if (viability_device(h, d, &v) < 0)
		return NULL;
	for (size_t i = 0; i < v.n_blockers; i++) {
		(void)strv_extend(&blockers, v.blockers[i].reason);
		if (!first[0])
			snprintf(first, size, "%s", v.blockers[i].name);
	}
	viability_done(&v);
	return blockers;
}

static int layout_conflict(Refusal *rf, const char *layout, const char *conflict) {
	char **l = NULL;
	(void)strv_extend(&l, conflict);
	refusal_set(rf, IOASID_ERROR_LAYOUT_CONFLICT);
	refusal_str(rf, "layout", layout);
	refusal_strv(rf, "conflicts", l);
	return -EADDRINUSE;
}

/* A device's open or bind (or, legacy, its group's) failed with r. */
static int device_error(Manager *m, int r, const char *op, const Device *d, Refusal *rf) {
	/* group-open is the legacy path's claim of the group: SET_CONTAINER refuses like BIND. */
	if (r == -EPERM && (streq(op, "device-bind") || streq(op, "group-open"))) {
		/* A sibling on a host driver makes the kernel refuse DMA ownership. */
		char first[BDF_MAX];
		char **blockers = group_blockers(m->host, d, first, sizeof(first));
		if (first[0]) {
			refusal_set(rf, IOASID_ERROR_GROUP_NOT_VIABLE);
			refusal_int(rf, "group", d->iommu_group);
			refusal_str(rf, "device", first);
			refusal_strv(rf, "blockers", blockers);
			return r;
		}
		strv_free(blockers);
		if (m->host->kernel.interrupt_remapping == TRI_NO)
			/* MSI cannot be isolated: a host fact, not a holder. */
			return refusal_system(rf, r, "device-bind (no interrupt remapping)",
					      d->bdf);
	}
	if (r == -EACCES && d && d->physfn)
		/* vfio_pci_core_match_token_uuid(): a VF of a PF on vfio-pci binds only with the
		 * VF token its PF's user set, which the daemon does not have. */
		return refusal_system(rf, r,
				      streq(op, "device-bind")
					      ? "device-bind (a VF of a PF on vfio-pci needs the "
						"PF's VF token: acquire it in unbound mode)"
					      : op,
				      d->bdf);
	if (r == -EBUSY || r == -EINVAL || r == -EPERM) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s failed with %s: still held by a previous holder", op,
			 strna(errno_name(r)));
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", d->bdf);
		refusal_str(rf, "reason", buf);
		return r;
	}
	if (r == -ENODEV || r == -ENOENT) {
		refusal_set(rf, IOASID_ERROR_NO_SUCH_DEVICE);
		refusal_str(rf, "device", d->bdf);
		return r;
	}
	return 0; /* not a device's error */
}

/* A kernel call op failed with r: the named error the client gets. Returns r. */
static int refuse_kernel(Manager *m, int r, const char *op, const Device *d, const char *layout,
			 Refusal *rf) {
	if ((streq(op, "device-open") || streq(op, "device-bind") || streq(op, "group-open")) &&
	    device_error(m, r, op, d, rf) < 0)
		return r;
	if (r == -EADDRINUSE) {
		char **conflicts = NULL;
		for (size_t i = 0; d && d->group && i < d->group->n_regions; i++) {
			char buf[96];
			const ReservedRegion *rr = &d->group->regions[i];
			snprintf(buf, sizeof(buf), "0x%016llx-0x%016llx %s",
				 (unsigned long long)rr->start, (unsigned long long)rr->end,
				 reserved_region_type_to_string(rr->type));
			(void)strv_extend(&conflicts, buf);
		}
		refusal_set(rf, IOASID_ERROR_LAYOUT_CONFLICT);
		refusal_str(rf, "layout", layout ? layout : "(default)");
		refusal_strv(rf, "conflicts", conflicts);
		return r;
	}
	return refusal_system(rf, r, op, d ? d->bdf : NULL);
}

/* Does l hold every non-bridge member of g? Then handing out g's node gives the client
 * nothing the policy did not grant (the node opens any device of the group). */
static bool lease_covers_group(const Lease *l, const Group *g) {
	for (size_t i = 0; g && i < g->n_members; i++) {
		const Device *d = g->members[i];
		bool found = device_is_bridge(d);
		for (size_t j = 0; !found && j < l->n_devices; j++)
			found = streq(l->devices[j].bdf, d->bdf);
		if (!found)
			return false;
	}
	return g != NULL;
}

/* Adds the opened device fd to l; on -ENOMEM closes it unless l took it. */
static int add_device(Manager *m, Lease *l, const Device *d, int fd, Refusal *rf) {
	int r = lease_add_device(l, d->bdf, d->iommu_group, fd);
	if (r < 0) {
		if (l->n_devices == 0 || l->devices[l->n_devices - 1].fd != fd)
			kernel_close(m->kernel, fd);
		return refusal_system(rf, r, "lease", NULL);
	}
	return 0;
}

/*
 * The legacy context: one container per lease; each group's node opened, checked viable and
 * set on it (the group node covers every device of the group, so exclusivity stays per
 * group, as the lease table keeps it); VFIO_SET_IOMMU(TYPE1v2) once; a device fd per
 * requested device. No IOAS, so no layout: a request naming one is refused, and so is
 * unbound mode (the container must have its IOMMU set before any device fd exists).
 */
static int build_legacy(Manager *m, const Plan *plan, Lease *l, Refusal *rf) {
	int r;
	if (plan->mode == LEASE_MODE_UNBOUND)
		return refusal_system(rf, -EOPNOTSUPP, "unbound mode on legacy VFIO (no iommufd)",
				      NULL);
	if (plan->layout)
		return layout_conflict(rf, plan->layout,
				       "legacy VFIO (no iommufd): there is no IOAS to apply a "
				       "layout to; the client maps through the container itself");
	l->mode = LEASE_MODE_LEGACY;
	r = kernel_legacy_container_open(m->kernel, &l->container);
	if (r < 0)
		return refuse_kernel(m, r, "container-open", NULL, NULL, rf);
	for (size_t i = 0; i < plan->n_devices; i++) {
		const Device *d = plan->devices[i];
		if (lease_legacy_group(l, d->iommu_group))
			continue;
		int fd = -EBADF;
		r = kernel_legacy_group_open(m->kernel, d->iommu_group, l->container, &fd);
		if (r < 0)
			return refuse_kernel(m, r, "group-open", d, NULL, rf);
		r = lease_add_legacy_group(l, d->iommu_group, fd);
		if (r < 0) {
			kernel_close(m->kernel, fd);
			return refusal_system(rf, r, "lease", NULL);
		}
	}
	r = kernel_legacy_set_iommu(m->kernel, l->container);
	if (r < 0)
		return refuse_kernel(m, r, "set-iommu", NULL, NULL, rf);
	for (size_t i = 0; i < plan->n_devices; i++) {
		const Device *d = plan->devices[i];
		int fd = -EBADF;
		r = kernel_legacy_device_open(m->kernel, lease_legacy_group(l, d->iommu_group)->fd,
					      d, &fd);
		if (r < 0)
			return refuse_kernel(m, r, "device-open", d, NULL, rf);
		if ((r = add_device(m, l, d, fd, rf)) < 0)
			return r;
	}
	for (size_t i = 0; i < l->n_legacy_groups; i++)
		l->legacy_groups[i].handed_out =
			lease_covers_group(l, host_find_group(m->host, l->legacy_groups[i].group));
	return 0;
}

/* The iommufd, its accounting, and in attached mode the IOAS and its layout: an unbound
 * client (QEMU) allocates and shapes its own IOAS, so the daemon cannot enforce windows. */
static int build_ioas(Manager *m, const Plan *plan, Lease *l, char ***warnings, Refusal *rf) {
	const PolicyLayout *layout = plan->layout_def;
	int r = kernel_iommufd_open(m->kernel, &l->iommufd);
	if (r < 0)
		return refuse_kernel(m, r, "iommufd-open", NULL, plan->layout, rf);
	if (layout && layout->accounting == POLICY_ACCOUNTING_PROCESS) {
		bool raised = caps_raise(CAP_SYS_RESOURCE);
		r = kernel_iommufd_set_rlimit_mode(m->kernel, l->iommufd, true);
		caps_lower(CAP_SYS_RESOURCE, raised);
		if (r < 0)
			return refuse_kernel(m, r, "iommufd-set-rlimit-mode", NULL, plan->layout,
					     rf);
	}
	if (plan->mode != LEASE_MODE_ATTACHED) {
		if (warnings && policy_layout_needs_attached(layout))
			(void)strv_extend(warnings, "unbound mode: the layout's IOVA windows and "
						    "huge-page setting are not applied (the client "
						    "allocates its own IOAS)");
		return 0;
	}
	r = kernel_ioas_alloc(m->kernel, l->iommufd, &l->ioas_id);
	if (r < 0)
		return refuse_kernel(m, r, "ioas-alloc", NULL, plan->layout, rf);
	if (policy_layout_has_windows(layout)) {
		/* Written windows, or `iova auto max` resolved for these devices. */
		IovaRange *w = NULL;
		size_t n_w = 0;
		long ps = sysconf(_SC_PAGESIZE);
		r = policy_layout_windows(layout, m->host, plan->devices, plan->n_devices,
					  ps > 0 ? (uint64_t)ps : 4096, &w, &n_w);
		if (r >= 0)
			r = kernel_ioas_allow_iovas(m->kernel, l->iommufd, l->ioas_id, w, n_w);
		free(w);
		if (r < 0)
			return refuse_kernel(m, r, "ioas-allow-iovas", NULL, plan->layout, rf);
	}
	if (layout && !layout->huge_pages) {
		r = kernel_ioas_set_huge_pages(m->kernel, l->iommufd, l->ioas_id, false);
		if (r < 0)
			return refuse_kernel(m, r, "ioas-set-huge-pages", NULL, plan->layout, rf);
	}
	return 0;
}

/* The layout's required capabilities, asked of each bound device's IOMMU. */
static int check_required(Manager *m, const Plan *plan, Lease *l, Refusal *rf) {
	const PolicyLayout *layout = plan->layout_def;
	for (char **req = layout ? layout->require : NULL; req && *req; req++) {
		char buf[300];
		if (!streq(*req, "dirty-tracking")) {
			snprintf(buf, sizeof(buf), "unknown capability '%s'", *req);
			return layout_conflict(rf, plan->layout, buf);
		}
		for (size_t i = 0; i < l->n_devices; i++) {
			KernelHwInfo hw = { 0 };
			int r = kernel_hw_info(m->kernel, l->iommufd, l->devices[i].dev_id, &hw);
			if (r < 0)
				return refuse_kernel(m, r, "hw-info", plan->devices[i],
						     plan->layout, rf);
			if (!(hw.capabilities & IOMMU_HW_CAP_DIRTY_TRACKING_BIT)) {
				snprintf(buf, sizeof(buf), "%s: IOMMU has no dirty tracking",
					 l->devices[i].bdf);
				return layout_conflict(rf, plan->layout, buf);
			}
		}
	}
	return 0;
}

/* The devices opened, and in attached mode bound and attached to the IOAS. */
static int build_devices(Manager *m, const Plan *plan, Lease *l, Refusal *rf) {
	int r;
	for (size_t i = 0; i < plan->n_devices; i++) {
		const Device *d = plan->devices[i];
		int fd = -EBADF;
		r = kernel_device_open(m->kernel, d, &fd);
		if (r < 0)
			return refuse_kernel(m, r, "device-open", d, plan->layout, rf);
		if ((r = add_device(m, l, d, fd, rf)) < 0)
			return r;
	}
	if (plan->mode != LEASE_MODE_ATTACHED)
		return 0;
	for (size_t i = 0; i < l->n_devices; i++) {
		r = kernel_device_bind(m->kernel, l->devices[i].fd, l->iommufd,
				       &l->devices[i].dev_id);
		if (r < 0)
			return refuse_kernel(m, r, "device-bind", plan->devices[i], plan->layout,
					     rf);
	}
	for (size_t i = 0; i < l->n_devices; i++) {
		r = kernel_device_attach(m->kernel, l->devices[i].fd, l->ioas_id,
					 &l->devices[i].hwpt_id);
		if (r < 0)
			return refuse_kernel(m, r, "device-attach", plan->devices[i], plan->layout,
					     rf);
	}
	return check_required(m, plan, l, rf);
}

int context_take_caller(Lease *l, const Peer *peer, const Plan *plan, uint64_t generation) {
	_cleanup_free_ char *unit = NULL, *rule = NULL;
	if ((peer->unit && !(unit = strdup(peer->unit))) ||
	    (plan->rule[0] && !(rule = strdup(plan->rule))))
		return -ENOMEM;
	free(l->unit);
	l->unit = TAKE_PTR(unit);
	free(l->rule);
	l->rule = TAKE_PTR(rule);
	l->uid = peer->uid;
	l->pid = peer->pid;
	l->lifetime = plan->lifetime;
	l->generation = generation;
	l->revoke_reset = plan->revoke_reset;
	l->revoke_signal = plan->revoke_signal;
	l->memlock_granted = plan->memlock;
	l->share_reset = plan->share_reset;
	l->split_sriov = plan->split_sriov;
	return lease_set_peer(l, peer);
}

/*
 * vhost-vdpa: the vDPA device's char device, opened by the seam (exclusive, as the kernel's
 * vhost_vdpa_open() is). The kernel's refusals are named: EBUSY (a file of it is still open,
 * a previous holder's) DeviceBusy, EINVAL (a vp_vdpa parent in a shared group)
 * GroupNotViable, ENODEV (gone) NoSuchDevice, anything else SystemError.
 */
static int build_vdpa(Manager *m, const Plan *plan, Lease *l, Refusal *rf) {
	const VdpaDevice *v = plan->vdpa;
	const Device *parent = v->parent;
	int fd = -EBADF;
	int r = kernel_vhost_vdpa_open(m->kernel, v, &fd);
	if (r == -EBUSY) {
		char buf[300];
		snprintf(buf, sizeof(buf), "/dev/%s is open in some process (the kernel's EBUSY)",
			 strna(v->vhost_name));
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", v->name);
		refusal_str(rf, "reason", buf);
		return r;
	}
	if (r == -EINVAL && parent) {
		char **blockers = NULL, buf[300];
		snprintf(buf, sizeof(buf),
			 "the kernel refused /dev/%s (EINVAL): %s is not alone "
			 "in its IOMMU group",
			 strna(v->vhost_name), parent->bdf);
		(void)strv_extend(&blockers, buf);
		refusal_set(rf, IOASID_ERROR_GROUP_NOT_VIABLE);
		refusal_int(rf, "group", parent->iommu_group);
		refusal_str(rf, "device", v->name);
		refusal_strv(rf, "blockers", blockers);
		return r;
	}
	if (r == -ENODEV) {
		refusal_set(rf, IOASID_ERROR_NO_SUCH_DEVICE);
		refusal_str(rf, "device", v->name);
		return r;
	}
	if (r < 0)
		return refusal_system(rf, r, "vhost-vdpa-open", v->name);
	r = lease_set_vdpa(l, v->name, parent ? parent->bdf : NULL,
			   parent ? parent->iommu_group : -1, fd);
	if (r < 0) {
		kernel_close(m->kernel, fd);
		return refusal_system(rf, r, "lease", NULL);
	}
	return 0;
}

int context_build(Manager *m, const Peer *peer, const Plan *plan, char ***warnings, Lease **ret,
		  Refusal *rf) {
	if (plan->vdpa) { /* vhost-vdpa: neither iommufd nor VFIO */
		Lease *l = NULL;
		int r = lease_new(&l);
		if (r < 0)
			return refusal_system(rf, r, "lease", NULL);
		l->manager = m;
		l->mode = LEASE_MODE_VHOST_VDPA;
		if (context_take_caller(l, peer, plan, m->generation) < 0)
			r = refusal_system(rf, -ENOMEM, "lease", NULL);
		else
			r = build_vdpa(m, plan, l, rf);
		if (r < 0) {
			lease_free(l, m->kernel);
			return r;
		}
		*ret = l;
		return 0;
	}
	KernelApi api = kernel_api(m->kernel);
	if (api != KERNEL_API_IOMMUFD && api != KERNEL_API_LEGACY)
		return refusal_system(rf, -ENODEV, "open /dev/iommu", NULL);
	Lease *l = NULL;
	int r = lease_new(&l);
	if (r < 0)
		return refusal_system(rf, r, "lease", NULL);
	l->manager = m;
	l->mode = plan->mode;
	if (context_take_caller(l, peer, plan, m->generation) < 0 ||
	    (plan->layout && !(l->layout = strdup(plan->layout))))
		r = refusal_system(rf, -ENOMEM, "lease", NULL);
	else if (api == KERNEL_API_LEGACY)
		r = build_legacy(m, plan, l, rf);
	else if ((r = build_ioas(m, plan, l, warnings, rf)) >= 0)
		r = build_devices(m, plan, l, rf);
	if (r < 0) {
		lease_free(l, m->kernel); /* the rollback: every fd, in the kernel's order */
		return r;
	}
	*ret = l;
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker: steps 1 to 3 of Acquire (and Stage's checks), in the order of DESIGN.md:
 *   1. resolve the request (BDFs, a group, or N devices of a pool) against the host model;
 *   2. policy decides per device (default deny); the outcome is audited once it is known;
 *   3. group check: every group free or this owner's; "group whole" takes the whole group,
 *      "group implicit" one device and the plan lists the siblings at risk; dependents.
 * The result is a Plan for context.c and manager.c, or -errno with a named Refusal.
 * Layer: called by method-broker.c and method-manager.c; calls stage, dependents, hold,
 * lease, identity, log, policy/ and common/. No wire code.
 */
#include "common/depend.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/viability.h"
#include "ioasidd/broker.h"
#include "ioasidd/context.h"
#include "ioasidd/log.h"
#include "ioasidd/stage.h"

void plan_done(Plan *p) {
	p->at_risk = strv_free(p->at_risk);
}

static bool plan_has(const Plan *p, const Device *d) {
	for (size_t i = 0; i < p->n_devices; i++)
		if (p->devices[i] == d)
			return true;
	return false;
}

/* 1 when added, 0 when already there, -E2BIG when full. */
static int plan_push(Plan *p, const Device *d) {
	if (plan_has(p, d))
		return 0;
	if (p->n_devices >= ELEMENTSOF(p->devices))
		return -E2BIG;
	p->devices[p->n_devices++] = d;
	return 1;
}

static const char *owner_text(const Peer *peer, const Lease *l, char *buf, size_t size) {
	if (hold_describe(l, l->uid == peer->uid, buf, size) > 0)
		; /* revoked or ended, its files still open elsewhere: named to its holder */
	else if (l->state == LEASE_STAGED && l->uid == peer->uid)
		/* The owner asked with another mode, layout or device set than was staged. */
		snprintf(buf, size, "staged for %s", strempty(l->owner));
	else if (l->state == LEASE_STAGED)
		/* As for leases, a tenant does not learn who else holds a group; an admin sees it
		 * in ListStaged. */
		snprintf(buf, size, "staged for another owner");
	else if (l->uid == peer->uid)
		snprintf(buf, size, "uid:%u (lease %s)", (unsigned)l->uid, l->id);
	else
		snprintf(buf, size, "another user");
	return buf;
}

static int resolve_devices(Manager *m, const BrokerRequest *in, Plan *plan, Refusal *rf) {
	for (size_t i = 0; i < in->n_bdfs; i++) {
		char bdf[BDF_MAX];
		if (bdf_parse(in->bdfs[i], bdf) < 0)
			return refusal_invalid(rf, "devices");
		const Device *d = host_find_device(m->host, bdf);
		if (!d) {
			refusal_set(rf, IOASID_ERROR_NO_SUCH_DEVICE);
			refusal_str(rf, "device", bdf);
			return -ENODEV;
		}
		if (plan_has(plan, d))
			return refusal_invalid(rf, "devices");
		(void)plan_push(plan, d);
	}
	return 0;
}

static int resolve_group(Manager *m, int64_t n, Plan *plan, Refusal *rf) {
	const Group *g = n >= 0 && n <= INT32_MAX ? host_find_group(m->host, (int)n) : NULL;
	if (!g) {
		char buf[32];
		snprintf(buf, sizeof(buf), "group %lld", (long long)n);
		refusal_set(rf, IOASID_ERROR_NO_SUCH_DEVICE);
		refusal_str(rf, "device", buf);
		return -ENODEV;
	}
	for (size_t i = 0; i < g->n_members; i++)
		if (!device_is_bridge(g->members[i]) && plan_push(plan, g->members[i]) < 0)
			return refusal_invalid(rf, "group");
	if (plan->n_devices == 0)
		return refusal_invalid(rf, "group");
	return 0;
}

/* Free, viable devices of the pool, in BDF order. */
static int resolve_pool(Manager *m, const char *name, int64_t want, Plan *plan, Refusal *rf) {
	for (size_t i = 0; i < m->host->n_devices && (int64_t)plan->n_devices < want; i++) {
		const Device *d = &m->host->devices[i];
		int r = policy_pool_match(m->policy, name, m->host, d);
		if (r == -ENOENT)
			return refusal_invalid(rf, "pool");
		if (r <= 0 || !device_vfio_usable(m->host, d) || d->iommu_group < 0)
			continue;
		/* A lease let go of and not probed yet counts as holding its groups: probed
		 * before its group is passed over. */
		const Lease *o = lease_table_group_owner(&m->leases, d->iommu_group);
		if (o && o->probe_due && hold_settle(m))
			o = lease_table_group_owner(&m->leases, d->iommu_group);
		if (o)
			continue;
		Viability v = { 0 };
		r = viability_device(m->host, d, &v);
		if (r < 0) /* the daemon's failure, not the device's */
			return refusal_system(rf, r, "viability", d->bdf);
		bool ok = v.verdict == VERDICT_VIABLE;
		viability_done(&v);
		if (ok)
			(void)plan_push(plan, d);
	}
	if ((int64_t)plan->n_devices < want) {
		char buf[300];
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		snprintf(buf, sizeof(buf), "pool %s", name);
		refusal_str(rf, "device", buf);
		snprintf(buf, sizeof(buf), "%zu of %lld requested devices free", plan->n_devices,
			 (long long)want);
		refusal_str(rf, "reason", buf);
		return -EBUSY;
	}
	return 0;
}

/* A vDPA device by name: mode vhost-vdpa, no layout (there is no IOAS: the holder maps through
 * the device's own IOTLB). */
static int resolve_vdpa(Manager *m, const BrokerRequest *in, Plan *plan, Refusal *rf) {
	if (in->mode_set && in->mode != LEASE_MODE_VHOST_VDPA)
		return refusal_invalid(rf, "mode");
	if (in->layout)
		return refusal_invalid(rf, "layout");
	plan->mode = LEASE_MODE_VHOST_VDPA;
	plan->vdpa = host_find_vdpa_device(m->host, in->vdpa);
	if (!plan->vdpa) {
		refusal_set(rf, IOASID_ERROR_NO_SUCH_DEVICE);
		refusal_str(rf, "device", in->vdpa);
		return -ENODEV;
	}
	return 0;
}

int broker_resolve(Manager *m, const BrokerRequest *in, Plan *plan, Refusal *rf) {
	plan->mode = in->mode_set ? in->mode : LEASE_MODE_ATTACHED;
	plan->mode_set = in->mode_set;
	plan->layout = in->layout;
	plan->lifetime_set = in->lifetime_set;
	plan->lifetime = in->lifetime_set ? in->lifetime : POLICY_LIFETIME_CONNECTION;
	bool devices = in->bdfs != NULL, group = in->has_group, pool = in->pool != NULL,
	     vdpa = in->vdpa != NULL;
	if (devices + group + pool + vdpa != 1)
		return refusal_invalid(rf, vdpa      ? "vdpa"
					   : devices ? (group ? "group" : "pool")
						     : "devices");
	if (in->has_count && !pool)
		return refusal_invalid(rf, "count");
	if (vdpa)
		return resolve_vdpa(m, in, plan, rf);
	/* vhost-vdpa is the mode of a vDPA device only. */
	if (in->mode_set && in->mode == LEASE_MODE_VHOST_VDPA)
		return refusal_invalid(rf, "mode");
	if (devices)
		return resolve_devices(m, in, plan, rf);
	if (group)
		return resolve_group(m, in->group, plan, rf);
	return resolve_pool(m, in->pool, in->has_count ? in->count : 1, plan, rf);
}

/*
 * Merges the grant of the rule that allowed a device (ioasid.conf(5), "One Acquire, several
 * rules"): every rule's limits hold, so the tightest max-devices and max-leases win, and group
 * whole if any rule says whole. memlock is a raise, not a limit: the daemon never lowers
 * RLIMIT_MEMLOCK and the limit is the process's, so the largest grant is what the holder
 * would reach by acquiring the devices one at a time anyway. on-revoke actions add up: a
 * device whose rule asks for a reset is reset even when another device's rule asks for a
 * signal.
 */
static void merge_grant(Plan *plan, const PolicyGrant *g, const char *rule, bool first) {
	if (g->max_devices && (!plan->max_devices || g->max_devices < plan->max_devices))
		plan->max_devices = g->max_devices;
	if (g->max_leases && (!plan->max_leases || g->max_leases < plan->max_leases))
		plan->max_leases = g->max_leases;
	if (g->memlock > plan->memlock)
		plan->memlock = g->memlock;
	if (g->group_mode == POLICY_GROUP_WHOLE)
		plan->whole = true;
	if (g->on_revoke == POLICY_REVOKE_DETACH_RESET)
		plan->revoke_reset = true;
	if (g->on_revoke == POLICY_REVOKE_SIGNAL)
		plan->revoke_signal = true;
	plan->share_reset = g->share_reset && (first || plan->share_reset);
	plan->split_sriov = g->split_sriov && (first || plan->split_sriov);
	if (first) {
		plan->grant_lifetime = g->lifetime;
		snprintf(plan->rule, sizeof(plan->rule), "%s", rule);
	}
}

/* Step 2 for one device (a PCI function d, or the vDPA device v with its parent d, which may
 * be NULL): 0 allowed (its grant merged), -EPERM with PermissionDenied. */
static int decide(Manager *m, const Peer *peer, Plan *plan, const Device *d, const VdpaDevice *v,
		  bool first, Refusal *rf) {
	PolicyPeer pp;
	peer_to_policy(peer, &pp);
	PolicyRequest preq = {
		.peer = &pp,
		.host = m->host,
		.device = d,
		.vdpa = v,
		.mode = v                                  ? POLICY_MODE_VHOST_VDPA
			: plan->mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND
							   : POLICY_MODE_ATTACHED,
		.layout = plan->layout,
		.method = "io.ioasid.Broker.Acquire",
	};
	PolicyDecision dec = { .allow = false };
	int r = m->policy ? policy_evaluate(m->policy, &preq, &dec) : -ENOENT;
	bool allow = r >= 0 && dec.allow;
	const char *reason = dec.reason[0] ? dec.reason : (allow ? "allowed" : "no rule matched");
	/* Fail closed on what policy cannot see: noiommu cdevs need the explicit setting. */
	const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
	if (allow && !v && d->noiommu && !(ps && ps->allow_noiommu)) {
		allow = false;
		reason = "noiommu device and allow_noiommu is off";
	}
	if (allow && plan->lifetime_set && plan->lifetime == POLICY_LIFETIME_PROCESS &&
	    !peer->have_pidfd) {
		allow = false;
		reason = "process lifetime needs SO_PEERPIDFD";
	}
	char rule[300] = "";
	if (dec.file)
		snprintf(rule, sizeof(rule), "%s:%u", dec.file, dec.line);
	/* Audited with the outcome: the rule that denied, or the first grant's. */
	if (first || !allow) {
		plan->decided = true;
		snprintf(plan->audit_rule, sizeof(plan->audit_rule), "%s", rule);
	}
	if (!allow) {
		refusal_set(rf, IOASID_ERROR_PERMISSION_DENIED);
		refusal_str(rf, "reason", reason);
		refusal_str(rf, "rule", dec.file ? rule : NULL);
		refusal_str(rf, "device", v ? v->name : d->bdf);
		refusal_int(rf, "generation", (int64_t)m->generation);
		return -EPERM;
	}
	merge_grant(plan, &dec.grant, rule, first);
	return 0;
}

/* Step 2 for every device, and with a "group whole" grant for every (non-bridge) member of
 * each group, which the grantee takes and gets. */
static int decide_all(Manager *m, const Peer *peer, Plan *plan, Refusal *rf) {
	if (plan->vdpa)
		return decide(m, peer, plan, plan->vdpa->parent, plan->vdpa, true, rf);
	size_t n_requested = plan->n_devices;
	for (size_t i = 0; i < n_requested; i++) {
		int r = decide(m, peer, plan, plan->devices[i], NULL, i == 0, rf);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; plan->whole && i < n_requested; i++) {
		const Group *g = plan->devices[i]->group;
		for (size_t j = 0; g && j < g->n_members; j++) {
			const Device *s = g->members[j];
			if (device_is_bridge(s) || plan_has(plan, s))
				continue;
			if (plan_push(plan, s) < 0)
				return refusal_invalid(rf, "devices");
			int r = decide(m, peer, plan, s, NULL, false, rf);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int limit_exceeded(Refusal *rf, const char *limit, int64_t max) {
	refusal_set(rf, IOASID_ERROR_LIMIT_EXCEEDED);
	refusal_str(rf, "limit", limit);
	refusal_int(rf, "max", max);
	return -E2BIG;
}

/* Distinct IOMMU groups of the plan: in legacy mode each may add a group fd. */
static size_t plan_n_groups(const Plan *p) {
	size_t n = 0;
	for (size_t i = 0; i < p->n_devices; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = p->devices[j]->iommu_group == p->devices[i]->iommu_group;
		n += !seen;
	}
	return n;
}

/* The lifetime (the grant's unless asked for) and the grant's and daemon's limits. */
static int check_limits(Manager *m, const Peer *peer, Plan *plan, Refusal *rf) {
	if (!plan->lifetime_set)
		plan->lifetime = plan->grant_lifetime;
	if (plan->lifetime == POLICY_LIFETIME_PROCESS && !peer->have_pidfd) {
		refusal_set(rf, IOASID_ERROR_PERMISSION_DENIED);
		refusal_str(rf, "reason", "process lifetime needs SO_PEERPIDFD");
		refusal_int(rf, "generation", (int64_t)m->generation);
		return -EPERM;
	}
	if (plan->max_devices && plan->n_devices > plan->max_devices)
		return limit_exceeded(rf, "devices", plan->max_devices);
	/* The limits below count leases let go of and not probed yet: probed before a refusal. */
	if ((plan->max_leases &&
	     lease_table_count_uid(&m->leases, peer->uid) >= plan->max_leases) ||
	    m->leases.n >= IOASID_MAX_LEASES)
		(void)hold_settle(m);
	if (plan->max_leases && lease_table_count_uid(&m->leases, peer->uid) >= plan->max_leases)
		return limit_exceeded(rf, "leases", plan->max_leases);
	/* Legacy replies carry a group fd per group on top of the container and devices. */
	size_t n_fds = plan->n_devices + 1 +
		       (kernel_api(m->kernel) == KERNEL_API_LEGACY ? plan_n_groups(plan) : 0);
	if (m->leases.n >= IOASID_MAX_LEASES)
		return limit_exceeded(rf, "leases", IOASID_MAX_LEASES);
	if (n_fds > IOASID_MAX_FDS_PER_REPLY)
		return limit_exceeded(rf, "fds", IOASID_MAX_FDS_PER_REPLY);
	return 0;
}

/* iommufd, or the legacy group/container API, found by the seam's probe. */
static int kernel_api_check(Manager *m, Refusal *rf) {
	KernelApi api = kernel_api(m->kernel);
	if (api == KERNEL_API_IOMMUFD || api == KERNEL_API_LEGACY)
		return 0;
	return refusal_system(rf, -ENODEV, "open /dev/iommu", NULL);
}

static void group_blockers(const Host *h, const Device *d, char ***blockers,
			   const char **ret_first) {
	Viability v = { 0 };
	*ret_first = NULL;
	if (viability_device(h, d, &v) < 0)
		return;
	for (size_t i = 0; i < v.n_blockers; i++) {
		(void)strv_extend(blockers, v.blockers[i].reason);
		if (!*ret_first)
			*ret_first = v.blockers[i].name;
	}
	viability_done(&v);
}

static int broker_not_viable(const Host *h, const Device *d, Refusal *rf) {
	char **blockers = NULL;
	const char *first = NULL;
	group_blockers(h, d, &blockers, &first);
	char buf[128];
	if (d->iommu_group < 0 && !blockers)
		(void)strv_extend(&blockers, "the device has no IOMMU group (IOMMU off or not "
					     "covering it)");
	if (!device_vfio_usable(h, d) && !blockers) {
		snprintf(buf, sizeof(buf), "%s has no VFIO device node: bind it to vfio-pci",
			 d->bdf);
		(void)strv_extend(&blockers, buf);
	}
	/* first borrows from the viability of d: copy before it goes. */
	snprintf(buf, sizeof(buf), "%s", first ? first : d->bdf);
	refusal_set(rf, IOASID_ERROR_GROUP_NOT_VIABLE);
	refusal_int(rf, "group", d->iommu_group);
	refusal_str(rf, "device", buf);
	refusal_strv(rf, "blockers", blockers);
	return -EPERM;
}

/*
 * A group goes to one framework at a time: the device (a BDF or a vDPA device's name) is
 * refused because group is held through the other framework by l. The holder's lease id is
 * named to its own uid and to admins (as ListLeases shows it), "another user" to the rest.
 */
static int framework_conflict(Manager *m, const Peer *peer, const char *device, int group,
			      const Lease *l, Refusal *rf) {
	bool identify = l->uid == peer->uid ||
			manager_is_admin(m, peer, "io.ioasid.Broker.Acquire", false);
	char owner[300], what[IOASID_MAX_DEVICES_PER_REQUEST * 20], reason[768];
	const char *via = streq(lease_framework(l), "vfio") ? "VFIO" : "vhost-vdpa";
	owner_text(peer, l, owner, sizeof(owner));
	if (identify)
		snprintf(reason, sizeof(reason),
			 "IOMMU group %d is leased through %s by lease %s (%s, uid %u): a group "
			 "goes to one of VFIO and vhost-vdpa at a time",
			 group, via, l->id, lease_devices_text(l, what, sizeof(what)),
			 (unsigned)l->uid);
	else
		snprintf(reason, sizeof(reason),
			 "IOMMU group %d is leased through %s (%s): a group goes to one of VFIO "
			 "and vhost-vdpa at a time",
			 group, via, owner);
	refusal_set(rf, IOASID_ERROR_FRAMEWORK_CONFLICT);
	refusal_str(rf, "device", device);
	refusal_int(rf, "group", group);
	refusal_str(rf, "framework", lease_framework(l));
	refusal_str(rf, "lease", identify ? l->id : NULL);
	refusal_str(rf, "owner", owner);
	refusal_str(rf, "reason", reason);
	return -EBUSY;
}

/* Step 3 for one device: free (or held only by a lease that ended and is released now) and
 * viable. */
static int check_device_free(Manager *m, const Peer *peer, const Device *d, Refusal *rf) {
	/* A revoked or ended lease holds the group only while the kernel shows its files held:
	 * ask the kernel again before refusing. */
	Lease *gl = lease_table_group_owner(&m->leases, d->iommu_group);
	if (gl && lease_is_over(gl))
		hold_recheck(m, d->iommu_group);
	/* A staged context answers GroupOwned below, naming its owner, and so does a lease held
	 * after its end. */
	Lease *l = lease_table_device_owner(&m->leases, d->bdf);
	if (l && (l->state == LEASE_PENDING || l->state == LEASE_ACTIVE)) {
		char buf[128], o[96];
		snprintf(buf, sizeof(buf), "leased to %s", owner_text(peer, l, o, sizeof(o)));
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", d->bdf);
		refusal_str(rf, "reason", buf);
		return -EBUSY;
	}
	l = lease_table_group_owner(&m->leases, d->iommu_group);
	if (l && l->mode == LEASE_MODE_VHOST_VDPA)
		return framework_conflict(m, peer, d->bdf, d->iommu_group, l, rf);
	if (l) {
		char o[300];
		refusal_set(rf, IOASID_ERROR_GROUP_OWNED);
		refusal_int(rf, "group", d->iommu_group);
		refusal_str(rf, "device", d->bdf);
		refusal_str(rf, "owner", owner_text(peer, l, o, sizeof(o)));
		return -EBUSY;
	}
	Viability v = { 0 };
	int r = viability_device(m->host, d, &v);
	if (r < 0) /* ENOMEM is the daemon's failure: "not viable" would be a lie */
		return refusal_system(rf, r, "viability", d->bdf);
	bool ok = v.verdict == VERDICT_VIABLE;
	viability_done(&v);
	if (!ok || !device_vfio_usable(m->host, d))
		return broker_not_viable(m->host, d, rf);
	return 0;
}

/* Step 3: every device free and viable; the siblings not taken are at risk (they share the
 * DMA isolation boundary). */
static int check_groups(Manager *m, const Peer *peer, Plan *plan, Refusal *rf) {
	for (size_t i = 0; i < plan->n_devices; i++) {
		const Device *d = plan->devices[i];
		if (d->iommu_group < 0 || !d->group)
			return broker_not_viable(m->host, d, rf);
		if (!m->testing_bypass) {
			int r = check_device_free(m, peer, d, rf);
			if (r < 0)
				return r;
		}
		const Group *g = d->group;
		for (size_t j = 0; j < g->n_members; j++) {
			const Device *s = g->members[j];
			if (device_is_bridge(s) || plan_has(plan, s) ||
			    strv_contains(plan->at_risk, s->bdf))
				continue;
			if (strv_extend(&plan->at_risk, s->bdf) < 0)
				return refusal_system(rf, -ENOMEM, "acquire", NULL);
		}
	}
	return 0;
}

/* The members of g as the kernel's iommu_group counts them (bridges and non-PCI members too). */
static size_t group_size(const Group *g) {
	return g ? g->n_members + g->n_foreign_members : 0;
}

/*
 * Step 3 for a vDPA device: on vhost_vdpa (it has a char device), not leased, its parent's
 * group not held through VFIO (FrameworkConflict) nor by another vhost-vdpa lease or staged
 * context (GroupOwned), and for a vp_vdpa parent a group of its own (the kernel's open
 * attaches vhost-vdpa's own IOMMU domain, EINVAL in a shared group: GroupNotViable). A
 * software device has no group: only the device itself is exclusive.
 */
static int check_vdpa(Manager *m, const Peer *peer, const Plan *plan, Refusal *rf) {
	const VdpaDevice *v = plan->vdpa;
	const Device *parent = v->parent;
	char buf[512], o[300];
	if (!vdpa_device_on_vhost(v) || !v->vhost_name) {
		snprintf(buf, sizeof(buf),
			 "%s is %s%s, not on vhost_vdpa: it has no /dev/vhost-vdpa-N to hand out",
			 v->name, v->driver ? "on " : "bound to no driver", strempty(v->driver));
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", v->name);
		refusal_str(rf, "reason", buf);
		return -EBUSY;
	}
	if (m->testing_bypass) /* no exclusivity bookkeeping: the kernel's answer shows */
		return 0;
	Lease *l = lease_table_vdpa_owner(&m->leases, v->name);
	if (l) {
		snprintf(buf, sizeof(buf), "leased to %s", owner_text(peer, l, o, sizeof(o)));
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", v->name);
		refusal_str(rf, "reason", buf);
		return -EBUSY;
	}
	if (!parent || parent->iommu_group < 0)
		return 0;
	int group = parent->iommu_group;
	l = lease_table_group_owner(&m->leases, group);
	if (l && lease_is_over(l)) {
		hold_recheck(m, group);
		l = lease_table_group_owner(&m->leases, group);
	}
	if (l && l->state != LEASE_STAGED && l->mode != LEASE_MODE_VHOST_VDPA)
		return framework_conflict(m, peer, v->name, group, l, rf);
	if (l) {
		refusal_set(rf, IOASID_ERROR_GROUP_OWNED);
		refusal_int(rf, "group", group);
		refusal_str(rf, "device", v->name);
		refusal_str(rf, "owner", owner_text(peer, l, o, sizeof(o)));
		return -EBUSY;
	}
	/* vp_vdpa's PCI driver is "vp-vdpa" (sysfs; the VM tier's VD). */
	if (parent->driver && streq(parent->driver, "vp-vdpa") && group_size(parent->group) != 1) {
		char **blockers = NULL;
		snprintf(
			buf, sizeof(buf),
			"%s, the vp_vdpa parent of %s, shares IOMMU group %d with %zu other "
			"device(s): vhost-vdpa attaches an IOMMU domain of its own to it, which the "
			"kernel allows only in a group of its own (EINVAL)",
			parent->bdf, v->name, group, group_size(parent->group) - 1);
		(void)strv_extend(&blockers, buf);
		refusal_set(rf, IOASID_ERROR_GROUP_NOT_VIABLE);
		refusal_int(rf, "group", group);
		refusal_str(rf, "device", v->name);
		refusal_strv(rf, "blockers", blockers);
		return -EPERM;
	}
	return 0;
}

/* Its PF, VFs and reset partners must not be another owner's (of a vDPA device: its parent's).
 * Skipped under --testing-bypass (no exclusivity bookkeeping: the kernel's answer shows). */
static int check_dependents(Manager *m, uid_t uid, const Plan *plan, Refusal *rf) {
	DependConflict x;
	if (m->testing_bypass)
		return 0;
	const Device *parent[1] = { plan->vdpa ? plan->vdpa->parent : NULL };
	const Device *const *devices = plan->vdpa ? parent : plan->devices;
	size_t n = plan->vdpa ? (parent[0] ? 1 : 0) : plan->n_devices;
	int r = dependents_conflict(m, uid, devices, n, plan->share_reset, plan->split_sriov, &x);
	/* A holder let go of and not probed yet counts as holding: probed before a refusal. */
	if (r > 0 && x.holder->probe_due && hold_settle(m))
		r = dependents_conflict(m, uid, devices, n, plan->share_reset, plan->split_sriov,
					&x);
	if (r == 0)
		return 0;
	if (r < 0)
		return refusal_system(rf, r, "dependents", NULL);
	char owner[128], reason[300];
	dependents_conflict_owner(&x, owner, sizeof(owner));
	dependents_conflict_reason(&x, reason, sizeof(reason));
	refusal_set(rf, IOASID_ERROR_DEPENDENT_OWNED);
	refusal_str(rf, "device", x.device);
	refusal_str(rf, "dependent", x.dependent);
	refusal_str(rf, "relation", depend_kind_to_string((DependKind)x.kind));
	refusal_str(rf, "owner", owner);
	refusal_str(rf, "reason", reason);
	return -EBUSY;
}

/* A staged context for peer: owner (uid or unit), mode, layout and exactly these devices. */
static Lease *staged_match(Manager *m, const Peer *peer, const Plan *plan) {
	for (Lease *l = m->leases.head; l; l = l->next) {
		/* A legacy context answers an attached request (the only one legacy serves). */
		LeaseMode mode = l->mode == LEASE_MODE_LEGACY ? LEASE_MODE_ATTACHED : l->mode;
		if (l->state != LEASE_STAGED || mode != plan->mode ||
		    l->n_devices != plan->n_devices || !stage_owned_by(l, peer))
			continue;
		bool layout = (!l->layout && !plan->layout) ||
			      (l->layout && plan->layout && streq(l->layout, plan->layout));
		if (!layout)
			continue;
		bool all = true;
		for (size_t i = 0; all && i < plan->n_devices; i++) {
			bool found = false;
			for (size_t j = 0; !found && j < l->n_devices; j++)
				found = streq(l->devices[j].bdf, plan->devices[i]->bdf);
			all = found;
		}
		if (all)
			return l;
	}
	return NULL;
}

int broker_acquire(Manager *m, const Peer *peer, bool fd_reply_pending, const BrokerRequest *in,
		   Plan *plan, Refusal *rf) {
	if (fd_reply_pending)
		/* Not reachable through the server's reader (it stops while an fd reply is
		 * queued), kept as the contract's last line. */
		return limit_exceeded(rf, "outstanding replies with fds", IOASID_MAX_FD_REPLIES);
	int r = broker_resolve(m, in, plan, rf);
	if (r < 0)
		return r;
	/* Naming no mode: a context staged for the caller with these devices is taken in its
	 * mode (if the policy grants that mode). */
	if (!plan->mode_set && !plan->vdpa) {
		const Lease *s = stage_find_for(m, peer, plan->devices, plan->n_devices);
		if (s)
			plan->mode = s->mode == LEASE_MODE_UNBOUND ? LEASE_MODE_UNBOUND
								   : LEASE_MODE_ATTACHED;
	}
	if ((r = decide_all(m, peer, plan, rf)) < 0 || (r = check_limits(m, peer, plan, rf)) < 0)
		return r;
	/* vhost-vdpa does not go through iommufd or VFIO: no kernel API, staged context or
	 * layout; its parent's dependents go to one owner as a PCI device's do. */
	if (plan->vdpa)
		return (r = check_vdpa(m, peer, plan, rf)) < 0
			       ? r
			       : check_dependents(m, peer->uid, plan, rf);
	/* The kernel API first: on a legacy-only kernel (no iommufd) the devices have no cdev,
	 * and "not viable" would hide the real reason. */
	if ((r = kernel_api_check(m, rf)) < 0)
		return r;
	/* A context an admin staged for this caller, these devices, mode and layout: it holds
	 * the groups already, its dependents were checked at Stage time. */
	plan->staged = staged_match(m, peer, plan);
	if (!plan->staged && ((r = stage_explain_mismatch(m, peer, plan->devices, plan->n_devices,
							  plan->mode, plan->layout, rf)) < 0 ||
			      (r = check_groups(m, peer, plan, rf)) < 0 ||
			      (r = check_dependents(m, peer->uid, plan, rf)) < 0))
		return r;
	if (plan->layout) {
		plan->layout_def = policy_find_layout(m->policy, plan->layout);
		if (!plan->layout_def)
			return refusal_invalid(rf, "layout");
	}
	return 0;
}

int broker_stage(Manager *m, const Peer *admin, const BrokerRequest *in, const char *owner,
		 uid_t uid, const char *unit, Plan *plan, Refusal *rf) {
	/* Leases let go of since the last look: probed now, before anything below reads who
	 * holds what (pools, dependents, groups, the lease table's size). */
	hold_settle(m);
	int r = broker_resolve(m, in, plan, rf);
	if (r < 0)
		return r;
	if (m->leases.n >= IOASID_MAX_LEASES)
		return limit_exceeded(rf, "leases", IOASID_MAX_LEASES);
	if ((r = kernel_api_check(m, rf)) < 0 || (r = check_groups(m, admin, plan, rf)) < 0)
		return r;
	/* The owner's policy, as its Acquire would be decided, and the dependents its grants
	 * let others hold. */
	bool share_reset = false, split_sriov = false;
	if ((r = stage_check_owner(m, owner, uid, unit, plan->mode, plan->layout, plan->devices,
				   plan->n_devices, &share_reset, &split_sriov, rf)) < 0)
		return r;
	plan->share_reset = share_reset;
	plan->split_sriov = split_sriov;
	return check_dependents(m, uid, plan, rf);
}

void broker_audit_refusal(Manager *m, const Peer *peer, const Plan *plan, const Refusal *rf) {
	if (!plan->decided || !rf->error)
		return;
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20] = "", reason[512];
	if (plan->vdpa)
		snprintf(devs, sizeof(devs), "%s", plan->vdpa->name);
	for (size_t i = 0, j = 0; i < plan->n_devices && j < sizeof(devs); i++)
		j += (size_t)snprintf(devs + j, sizeof(devs) - j, "%s%s", i ? "," : "",
				      plan->devices[i]->bdf);
	const char *device = NULL;
	refusal_summary(rf, reason, sizeof(reason), &device);
	char dev[64];
	if (device)
		snprintf(dev, sizeof(dev), "%s", device);
	audit_log(&(AuditRecord){
		.action = "deny",
		.message_id = IOASID_MESSAGE_DENY,
		.method = "io.ioasid.Broker.Acquire",
		.cause = "request",
		.device = device ? dev : devs,
		.rule = plan->audit_rule[0] ? plan->audit_rule : NULL,
		.error = rf->error,
		.reason = reason,
		.uid = peer->uid,
		.pid = peer->pid,
		.unit = peer->unit,
		.generation = m->generation,
	});
}

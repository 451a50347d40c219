/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dependent devices at Acquire and Stage: a device goes to one owner together with its
 * dependents (common/depend.h: its PF, its VFs, the devices it shares a reset with) unless
 * the grants of both sides say share-reset / split-sriov. The holder of a dependent is the
 * lease or staged context holding its IOMMU group (a group taken implicitly counts too).
 * The same uid may always hold dependents in separate leases.
 * Layer: below broker.c (which turns a conflict into DependentOwned); reads the lease table.
 */
#include "common/depend.h"
#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"

static bool grant_allows(DependKind kind, bool share_reset, bool split_sriov) {
	return kind == DEPEND_RESET ? share_reset : split_sriov;
}

/* The lease or staged context holding d, or NULL. */
static const Lease *holder_of(const Manager *m, const Device *d) {
	if (d->iommu_group >= 0)
		return lease_table_group_owner(&m->leases, d->iommu_group);
	return lease_table_device_owner(&m->leases, d->bdf);
}

int dependents_conflict(const Manager *m, uid_t uid, const Device *const *devices, size_t n,
			bool share_reset, bool split_sriov, DependConflict *ret) {
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ Dependent *deps = NULL;
		size_t n_deps = 0;
		int r = depend_dependents(m->host, devices[i], &deps, &n_deps);
		if (r < 0)
			return r;
		for (size_t j = 0; j < n_deps; j++) {
			const Lease *l = holder_of(m, deps[j].device);
			if (!l || (l->uid == uid && uid != (uid_t)-1))
				continue;
			bool requested = false;
			for (size_t k = 0; k < n && !requested; k++)
				requested = devices[k] == deps[j].device;
			if (requested)
				continue; /* held by someone else: the group check answers that */
			if (grant_allows(deps[j].kind, share_reset, split_sriov) &&
			    grant_allows(deps[j].kind, l->share_reset, l->split_sriov))
				continue;
			*ret = (DependConflict){ .kind = deps[j].kind, .holder = l };
			snprintf(ret->device, sizeof(ret->device), "%s", devices[i]->bdf);
			snprintf(ret->dependent, sizeof(ret->dependent), "%s", deps[j].device->bdf);
			return 1;
		}
	}
	return 0;
}

void dependents_conflict_owner(const DependConflict *c, char *buf, size_t size) {
	const Lease *l = c->holder;
	if (l->state == LEASE_STAGED)
		snprintf(buf, size, "staged for another owner (staged context %s)", l->id);
	else
		snprintf(buf, size, "leased to uid %u (lease %s)", (unsigned)l->uid, l->id);
}

void dependents_conflict_reason(const DependConflict *c, char *buf, size_t size) {
	char owner[128];
	dependents_conflict_owner(c, owner, sizeof(owner));
	switch (c->kind) {
	case DEPEND_RESET:
		snprintf(buf, size, "%s shares a bus reset with %s, %s", c->device, c->dependent,
			 owner);
		break;
	case DEPEND_PF:
		snprintf(buf, size, "%s is a VF of %s, %s", c->device, c->dependent, owner);
		break;
	case DEPEND_VF:
	default:
		snprintf(buf, size, "%s is the PF of %s, %s", c->device, c->dependent, owner);
		break;
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Staged contexts (io.ioasid.Manager.Stage: method-manager.c; built by context.c, kept and
 * expired by manager.c): the owner selector, the owner's policy asked at Stage time (a
 * context its owner could never acquire would hold its groups for nothing), matching an
 * owner's Acquire, and telling an owner whose Acquire differs from what was staged for it
 * what was staged. Layer: below broker and manager; refusals as Refusal (no wire code).
 */
#include <grp.h>
#include <pwd.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "ioasidd/stage.h"

int stage_parse_owner(const char *s, uid_t *ret_uid, char **ret_unit, Refusal *rf) {
	*ret_uid = (uid_t)-1;
	*ret_unit = NULL;
	if (strneq(s, "uid ", 4)) {
		uint64_t u;
		/* 65534 is what an unmapped id looks like: never an owner (as in the policy). */
		if (num_parse_u64(s + 4, UINT32_MAX - 1, &u) < 0 || u == 65534)
			return refusal_invalid(rf, "owner");
		*ret_uid = (uid_t)u;
		return 0;
	}
	if (strneq(s, "user ", 5) && s[5]) {
		errno = 0;
		struct passwd *pw = getpwnam(s + 5);
		if (!pw) {
			if (errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF &&
			    errno != EPERM) {
				/* The user database failed: not an answer about the name. */
				return refusal_system(rf, -errno, "getpwnam", NULL);
			}
			refusal_set(rf, IOASID_ERROR_NO_SUCH_USER);
			refusal_str(rf, "user", s + 5);
			return -ENOENT;
		}
		if (pw->pw_uid == 65534)
			return refusal_invalid(rf, "owner");
		*ret_uid = pw->pw_uid;
		return 0;
	}
	if (strneq(s, "unit ", 5) && s[5] && strlen(s + 5) < 256) {
		*ret_unit = strdup(s + 5);
		if (!*ret_unit)
			return refusal_system(rf, -ENOMEM, "stage", NULL);
		return 0;
	}
	return refusal_invalid(rf, "owner");
}

/*
 * The identity the owner will present, as far as the daemon can know it at Stage time: uid,
 * primary and supplementary groups from the user database; a "unit NAME" owner only ever
 * receives the context through a peer whose unit was pinned by its pidfd. cgroup and label
 * are unknown (rules naming them do not match). The same as re-evaluation at a reload does
 * for a staged context (manager.c).
 */
void stage_owner_peer(uid_t uid, const char *unit, gid_t *groups, int max_groups, PolicyPeer *ret) {
	*ret = (PolicyPeer){
		.uid = uid, .gid = (gid_t)-1, .unit = unit, .have_pidfd = unit != NULL
	};
	struct passwd *pw = uid != (uid_t)-1 ? getpwuid(uid) : NULL;
	if (!pw)
		return;
	ret->gid = pw->pw_gid;
	int n = max_groups;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = 0; /* more groups than we look at: rules naming the others fail to match */
	ret->groups = groups;
	ret->n_groups = (size_t)MAX(n, 0);
}

static bool listed(const Device *const *devices, size_t n, const Device *d) {
	for (size_t i = 0; i < n; i++)
		if (devices[i] == d)
			return true;
	return false;
}

int stage_check_owner(Manager *m, const char *owner, uid_t uid, const char *unit, LeaseMode mode,
		      const char *layout, const Device *const *devices, size_t n,
		      bool *ret_share_reset, bool *ret_split_sriov, Refusal *rf) {
	gid_t groups[256];
	PolicyPeer pp;
	stage_owner_peer(uid, unit, groups, (int)ELEMENTSOF(groups), &pp);
	bool share_reset = true, split_sriov = true;
	for (size_t i = 0; i < n; i++) {
		const Device *d = devices[i];
		PolicyRequest preq = {
			.peer = &pp,
			.host = m->host,
			.device = d,
			.mode = mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND
							   : POLICY_MODE_ATTACHED,
			.layout = layout,
			.method = "io.ioasid.Manager.Stage",
		};
		PolicyDecision dec = { .allow = false };
		int r = m->policy ? policy_evaluate(m->policy, &preq, &dec) : -ENOENT;
		char rule[300] = "", reason[512];
		if (dec.file)
			snprintf(rule, sizeof(rule), "%s:%u", dec.file, dec.line);
		if (r >= 0 && dec.allow && dec.grant.group_mode == POLICY_GROUP_WHOLE && d->group) {
			/* The owner's Acquire would take the whole group and so never match a
			 * context holding part of it. */
			for (size_t j = 0; j < d->group->n_members; j++) {
				const Device *s = d->group->members[j];
				if (device_is_bridge(s) || listed(devices, n, s))
					continue;
				snprintf(
					reason, sizeof(reason),
					"the grant takes whole IOMMU groups: stage %s too (group %d)",
					s->bdf, d->iommu_group);
				dec.allow = false;
				break;
			}
		} else
			snprintf(reason, sizeof(reason), "%s",
				 dec.reason[0] ? dec.reason : "no rule matched");
		if (r < 0 || !dec.allow) {
			refusal_set(rf, IOASID_ERROR_OWNER_DENIED);
			refusal_str(rf, "owner", owner);
			refusal_str(rf, "device", d->bdf);
			refusal_str(rf, "reason", reason);
			refusal_str(rf, "rule", dec.file ? rule : NULL);
			return -EPERM;
		}
		share_reset = share_reset && dec.grant.share_reset;
		split_sriov = split_sriov && dec.grant.split_sriov;
	}
	*ret_share_reset = share_reset;
	*ret_split_sriov = split_sriov;
	return 0;
}

void stage_disarm(Lease *l) {
	l->expire_source = sd_event_source_disable_unref(l->expire_source);
	l->expires = 0;
}

bool stage_owned_by(const Lease *l, const Peer *peer) {
	return (l->uid != (uid_t)-1 && l->uid == peer->uid) ||
	       (l->uid == (uid_t)-1 && l->unit && peer->unit && streq(l->unit, peer->unit));
}

Lease *stage_find_for(const Manager *m, const Peer *peer, const Device *const *devices, size_t n) {
	for (Lease *l = m->leases.head; l; l = l->next) {
		if (l->state != LEASE_STAGED || !stage_owned_by(l, peer) || l->n_devices != n)
			continue;
		bool all = true;
		for (size_t i = 0; all && i < n; i++) {
			bool found = false;
			for (size_t j = 0; !found && j < l->n_devices; j++)
				found = streq(l->devices[j].bdf, devices[i]->bdf);
			all = found;
		}
		if (all)
			return l;
	}
	return NULL;
}

int stage_explain_mismatch(const Manager *m, const Peer *peer, const Device *const *devices,
			   size_t n, LeaseMode mode, const char *layout, Refusal *rf) {
	for (size_t i = 0; i < n; i++) {
		const Device *d = devices[i];
		const Lease *l = d->iommu_group >= 0
					 ? lease_table_group_owner(&m->leases, d->iommu_group)
					 : lease_table_device_owner(&m->leases, d->bdf);
		if (!l || l->state != LEASE_STAGED || !stage_owned_by(l, peer))
			continue;
		/* Staged for this caller, but not for this request: say what was staged. */
		LeaseMode staged = l->mode == LEASE_MODE_LEGACY ? LEASE_MODE_ATTACHED : l->mode;
		char what[600], devs[400] = "";
		for (size_t j = 0; j < l->n_devices; j++)
			snprintf(devs + strlen(devs), sizeof(devs) - strlen(devs), "%s%s",
				 j ? " " : "", l->devices[j].bdf);
		if (staged != mode)
			snprintf(what, sizeof(what),
				 "a context is staged for you in %s mode (staged context %s): "
				 "acquire it with mode '%s'",
				 lease_mode_to_string(staged), l->id, lease_mode_to_string(staged));
		else if (!streq(strempty(l->layout), strempty(layout)))
			snprintf(
				what, sizeof(what),
				"a context is staged for you with layout '%s' (staged context %s): "
				"acquire it with that layout",
				l->layout ? l->layout : "default", l->id);
		else
			snprintf(what, sizeof(what),
				 "a context is staged for you with devices %s (staged context %s): "
				 "acquire exactly those",
				 devs, l->id);
		refusal_set(rf, IOASID_ERROR_DEVICE_BUSY);
		refusal_str(rf, "device", d->bdf);
		refusal_str(rf, "reason", what);
		return -EBUSY;
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Staged contexts (io.ioasid.Manager.Stage, built in acquire.c): the owner selector, the
 * owner's policy asked at Stage time (a context its owner could never acquire would hold its
 * groups for nothing), expiry, and telling an owner whose Acquire differs from what was
 * staged for it what was staged.
 */
#include <grp.h>
#include <pwd.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

static int send_error(Connection *c, const char *error, json_object *p) {
	return connection_error(c, error, p);
}

static int invalid_owner(Connection *c) {
	json_object *p = json_object_new_object();
	json_object_object_add(p, "parameter", json_object_new_string("owner"));
	return send_error(c, VARLINK_ERROR_INVALID_PARAMETER, p), 1;
}

int stage_parse_owner(Connection *c, const char *s, uid_t *ret_uid, char **ret_unit) {
	*ret_uid = (uid_t)-1;
	*ret_unit = NULL;
	if (strneq(s, "uid ", 4)) {
		uint64_t u;
		/* 65534 is what an unmapped id looks like: never an owner (as in the policy). */
		if (num_parse_u64(s + 4, UINT32_MAX - 1, &u) < 0 || u == 65534)
			return invalid_owner(c);
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
				json_object *p = json_object_new_object();
				json_object_object_add(p, "errno", json_object_new_int(errno));
				json_object_object_add(p, "errnoName",
						       json_object_new_string(strna(errno_name(errno))));
				json_object_object_add(p, "operation", json_object_new_string("getpwnam"));
				json_object_object_add(p, "device", NULL);
				return send_error(c, IOASID_ERROR_SYSTEM, p), 1;
			}
			json_object *p = json_object_new_object();
			json_object_object_add(p, "user", json_object_new_string(s + 5));
			return send_error(c, IOASID_ERROR_NO_SUCH_USER, p), 1;
		}
		if (pw->pw_uid == 65534)
			return invalid_owner(c);
		*ret_uid = pw->pw_uid;
		return 0;
	}
	if (strneq(s, "unit ", 5) && s[5] && strlen(s + 5) < 256) {
		*ret_unit = strdup(s + 5);
		if (!*ret_unit) {
			json_object *p = json_object_new_object();
			json_object_object_add(p, "errno", json_object_new_int(ENOMEM));
			json_object_object_add(p, "errnoName", json_object_new_string("ENOMEM"));
			json_object_object_add(p, "operation", json_object_new_string("stage"));
			json_object_object_add(p, "device", NULL);
			return send_error(c, IOASID_ERROR_SYSTEM, p), 1;
		}
		return 0;
	}
	return invalid_owner(c);
}

/*
 * The identity the owner will present, as far as the daemon can know it at Stage time: uid,
 * primary and supplementary groups from the user database; a "unit NAME" owner only ever
 * receives the context through a peer whose unit was pinned by its pidfd. cgroup and label
 * are unknown (rules naming them do not match). The same as re-evaluation at a reload does
 * for a staged context (methods.c).
 */
void stage_owner_peer(uid_t uid, const char *unit, gid_t *groups, int max_groups,
		      PolicyPeer *ret) {
	*ret = (PolicyPeer){ .uid = uid, .gid = (gid_t)-1, .unit = unit, .have_pidfd = unit != NULL };
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

int stage_check_owner(Connection *c, const char *owner, uid_t uid, const char *unit, LeaseMode mode,
		      const char *layout, const Device *const *devices, size_t n,
		      bool *ret_share_reset, bool *ret_split_sriov) {
	Manager *m = c->manager;
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
			.mode = mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND : POLICY_MODE_ATTACHED,
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
				snprintf(reason, sizeof(reason),
					 "the grant takes whole IOMMU groups: stage %s too (group %d)",
					 s->bdf, d->iommu_group);
				dec.allow = false;
				break;
			}
		} else
			snprintf(reason, sizeof(reason), "%s",
				 dec.reason[0] ? dec.reason : "no rule matched");
		if (r < 0 || !dec.allow) {
			json_object *p = json_object_new_object();
			json_object_object_add(p, "owner", json_object_new_string(owner));
			json_object_object_add(p, "device", json_object_new_string(d->bdf));
			json_object_object_add(p, "reason", json_object_new_string(reason));
			json_object_object_add(p, "rule", dec.file ? json_object_new_string(rule) : NULL);
			return send_error(c, IOASID_ERROR_OWNER_DENIED, p), 1;
		}
		share_reset = share_reset && dec.grant.share_reset;
		split_sriov = split_sriov && dec.grant.split_sriov;
	}
	*ret_share_reset = share_reset;
	*ret_split_sriov = split_sriov;
	return 0;
}

static int stage_on_expire(sd_event_source *s, uint64_t usec, void *userdata) {
	Lease *l = userdata;
	Manager *m = l->manager;
	char reason[128];
	snprintf(reason, sizeof(reason), "staged context expired: not acquired within %llu s",
		 (unsigned long long)l->stage_timeout);
	log_info("Staged context %s for %s expired, its group(s) are free again", l->id,
		 strempty(l->owner));
	audit_log(&(AuditRecord){
		.action = "drop-staged",
		.message_id = IOASID_MESSAGE_RELEASE,
		.method = "io.ioasid.Manager.Stage",
		.device = l->n_devices > 0 ? l->devices[0].bdf : NULL,
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.unit = l->unit,
		.generation = m->generation,
	});
	manager_end_lease(m, l, reason);
	return 0;
}

int stage_arm_expiry(Manager *m, Lease *l, uint64_t seconds) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l->stage_timeout = seconds;
	l->expires = (uint64_t)ts.tv_sec + seconds;
	return sd_event_add_time_relative(m->event, &l->expire_source, CLOCK_MONOTONIC,
					  seconds * 1000000ULL, 0, stage_on_expire, l);
}

void stage_disarm(Lease *l) {
	l->expire_source = sd_event_source_disable_unref(l->expire_source);
	l->expires = 0;
}

bool stage_owned_by(const Lease *l, const Connection *c) {
	return (l->uid != (uid_t)-1 && l->uid == c->peer.uid) ||
	       (l->uid == (uid_t)-1 && l->unit && c->peer.unit && streq(l->unit, c->peer.unit));
}

const Lease *stage_find_for(const Manager *m, const Connection *c, const Device *const *devices,
			    size_t n) {
	for (const Lease *l = m->leases.head; l; l = l->next) {
		if (l->state != LEASE_STAGED || !stage_owned_by(l, c) || l->n_devices != n)
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

int stage_explain_mismatch(Connection *c, const Device *const *devices, size_t n, LeaseMode mode,
			   const char *layout) {
	Manager *m = c->manager;
	for (size_t i = 0; i < n; i++) {
		const Device *d = devices[i];
		const Lease *l = d->iommu_group >= 0
					 ? lease_table_group_owner(&m->leases, d->iommu_group)
					 : lease_table_device_owner(&m->leases, d->bdf);
		if (!l || l->state != LEASE_STAGED || !stage_owned_by(l, c))
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
			snprintf(what, sizeof(what),
				 "a context is staged for you with layout '%s' (staged context %s): "
				 "acquire it with that layout",
				 l->layout ? l->layout : "default", l->id);
		else
			snprintf(what, sizeof(what),
				 "a context is staged for you with devices %s (staged context %s): "
				 "acquire exactly those",
				 devs, l->id);
		json_object *p = json_object_new_object();
		json_object_object_add(p, "device", json_object_new_string(d->bdf));
		json_object_object_add(p, "reason", json_object_new_string(what));
		return send_error(c, IOASID_ERROR_DEVICE_BUSY, p), 1;
	}
	return 0;
}

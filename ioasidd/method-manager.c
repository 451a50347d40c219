/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.ioasid.Manager: Status, Reload, Revoke, Stage, ListStaged, DropStaged. Every method is
 * METHOD_ADMIN: the server authorizes (audited) before the parameters are even looked at, so
 * an unauthorized caller learns nothing about them.
 * Layer: a method table (method.h), called only by the server; calls broker, context,
 * manager, stage, hold, lease and method.c.
 */
#include <stddef.h>

#include "common/macro.h"
#include "common/proto.h"
#include "ioasidd/broker.h"
#include "ioasidd/context.h"
#include "ioasidd/manager.h"
#include "ioasidd/method.h"
#include "ioasidd/stage.h"

/* One line per device a revoked or ended lease still holds. */
static json_object *held_json(Manager *m, size_t *ret_n_ended) {
	size_t n_ended = 0;
	json_object *held = json_object_new_array();
	for (const Lease *l = m->leases.head; held && l; l = l->next) {
		char who[300], line[400];
		n_ended += l->state == LEASE_ENDED;
		if (hold_describe(l, true, who, sizeof(who)) <= 0)
			continue;
		for (size_t i = 0; i < l->n_devices; i++)
			if (l->devices[i].held) {
				snprintf(line, sizeof(line), "%s (IOMMU group %d): %s",
					 l->devices[i].bdf, l->devices[i].group, who);
				json_object_array_add(held, json_object_new_string(line));
			}
	}
	*ret_n_ended = n_ended;
	return held;
}

static int method_status(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	hold_settle(m);
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add_str(p, "version", IOASID_VERSION);
	json_add_str(p, "kernel", kernel_name(m->kernel));
	json_add_str(p, "api", kernel_api_to_string(kernel_api(m->kernel)));
	json_add_int(p, "generation", (int64_t)m->generation);
	/* Ended leases are not counted: they are listed in "held", one line per device. */
	size_t n_ended = 0;
	json_object *held = held_json(m, &n_ended);
	json_add(p, "leases", json_object_new_int((int)(m->leases.n - n_ended)));
	json_add(p, "held", held);
	json_add(p, "connections", json_object_new_int((int)m->n_connections));
	json_add_str(p, "accounting",
		     m->accounting_unknown  ? "unknown (no iommufd)"
		     : m->rlimit_mode_eperm ? "per-user only (no CAP_SYS_RESOURCE)"
					    : "per-process available");
	json_add(p, "warnings", json_strv(m->warnings));
	return reply_ok(reply, p);
}

static int method_reload(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	PolicyError e = { 0 };
	const AuditActor by = { .method = "io.ioasid.Manager.Reload",
				.cause = "request",
				.uid = call->peer->uid,
				.pid = call->peer->pid,
				.unit = call->peer->unit };
	int r = manager_reload(m, &by, &e);
	json_object *p = json_object_new_object();
	if (r < 0) {
		json_add_str(p, "file", e.file ? e.file : m->config_path);
		json_add(p, "line", json_object_new_int((int)e.line));
		json_add(p, "column", json_object_new_int((int)e.column));
		json_add_str(p, "message", e.message ? e.message : strerror(-r));
		policy_error_done(&e);
		if (!p)
			return -ENOMEM;
		reply_ok(reply, p);
		reply->error = IOASID_ERROR_RELOAD_FAILED;
		return 0;
	}
	if (!p)
		return -ENOMEM;
	json_add_int(p, "generation", (int64_t)m->generation);
	return reply_ok(reply, p);
}

typedef struct RevokeParams {
	const char *lease;
	bool reset, signal;
} RevokeParams;

static int method_revoke(Call *call, const void *params, Reply *reply) {
	const RevokeParams *a = params;
	Manager *m = call->manager;
	Lease *l = lease_table_find(&m->leases, a->lease);
	/* Staged contexts are dropped with DropStaged; a revoked lease is revoked once. */
	if (!l || l->state != LEASE_ACTIVE)
		return reply_error(reply, IOASID_ERROR_MANAGER_NO_SUCH_LEASE, "lease", a->lease);
	char lid[33];
	snprintf(lid, sizeof(lid), "%s", l->id);
	/* Legacy VFIO has no detach: the holder's container and device fds keep the groups set
	 * on its container (and its mappings) until it closes them. Say so. Nor has vhost-vdpa:
	 * its device is reset (virtio status 0) instead, the holder's file keeping its IOTLB. */
	LeaseMode mode = l->mode;
	char cause[64];
	snprintf(cause, sizeof(cause), "revoke by uid %u", (unsigned)call->peer->uid);
	int r = manager_revoke_lease(m, l, a->reset, a->signal,
				     &(AuditActor){ .method = "io.ioasid.Manager.Revoke",
						    .cause = cause },
				     "revoked by an admin");
	const char *state = mode == LEASE_MODE_LEGACY       ? "revoked-not-detached"
			    : mode != LEASE_MODE_VHOST_VDPA ? "revoked"
			    : r < 0                         ? "revoked-not-reset"
							    : "revoked-reset";
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add_str(p, "lease", lid);
	json_add_str(p, "state", state);
	return reply_ok(reply, p);
}

typedef struct StageParams {
	const char *layout, *owner;
	ParamList devices;
	int mode;
	bool has_mode;
	int64_t timeout;
} StageParams;

/* Plan, owner, context, the staged context recorded. 0 with *ret, or -errno with *rf. */
static int stage_context(Call *call, const StageParams *a, Plan *plan, Lease **ret, Refusal *rf) {
	Manager *m = call->manager;
	const PolicyLayout *layout = NULL;
	if (!streq(a->layout, "default") && !isempty(a->layout)) {
		layout = policy_find_layout(m->policy, a->layout);
		if (!layout)
			return refusal_invalid(rf, "layout");
	}
	uid_t uid;
	_cleanup_free_ char *unit = NULL;
	int r = stage_parse_owner(a->owner, &uid, &unit, rf);
	if (r < 0)
		return r;
	BrokerRequest in = {
		.bdfs = a->devices.items,
		.n_bdfs = a->devices.n,
		.mode_set = a->has_mode,
		.mode = (LeaseMode)a->mode,
		.layout = layout ? a->layout : NULL,
	};
	_cleanup_strv_free_ char **warnings = NULL;
	Lease *l = NULL;
	if ((r = broker_stage(m, call->peer, &in, a->owner, uid, unit, plan, rf)) < 0)
		return r;
	plan->layout_def = layout;
	if ((r = context_build(m, call->peer, plan, &warnings, &l, rf)) < 0)
		return r;
	if ((r = manager_stage_add(m, l, call->peer, a->owner, uid, TAKE_PTR(unit), plan,
				   (uint64_t)a->timeout, rf)) < 0)
		return r;
	*ret = l;
	return 0;
}

/*
 * io.ioasid.Manager.Stage: an admin prepares the context (iommufd, IOAS, layout, devices
 * opened and in attached mode bound and attached) for an owner ahead of time; it holds the
 * groups like a lease. The owner's Acquire of exactly those devices, in that mode and
 * layout, receives it after the policy allowed it as usual (an Acquire naming no mode takes
 * the staged mode). Stage refuses an owner the policy would not give the devices (stage.c)
 * and devices whose dependents another owner holds. A staged context not acquired within
 * its timeout (the parameter, else the policy's stage-timeout) is dropped. Staged contexts
 * are not kept across a restart.
 */
static int method_stage(Call *call, const void *params, Reply *reply) {
	Plan plan = { 0 };
	Refusal rf = { 0 };
	Lease *l = NULL;
	int r = stage_context(call, params, &plan, &l, &rf);
	plan_done(&plan);
	if (r < 0) {
		r = reply_refusal(reply, &rf);
		refusal_done(&rf);
		return r;
	}
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add_str(p, "id", l->id);
	json_add_int(p, "expires", (int64_t)l->expires);
	return reply_ok(reply, p);
}

static json_object *staged_json(const Lease *l) {
	json_object *o = json_object_new_object();
	json_add_str(o, "id", l->id);
	json_add_str(o, "layout", l->layout ? l->layout : "default");
	json_add_str(o, "owner", strempty(l->owner));
	json_add_str(o, "mode", lease_mode_to_string(l->mode));
	json_object *devs = json_object_new_array();
	for (size_t i = 0; devs && i < l->n_devices; i++)
		json_object_array_add(devs, json_object_new_string(l->devices[i].bdf));
	json_add(o, "devices", devs);
	json_add_int(o, "created", (int64_t)l->created);
	json_add_int(o, "expires", (int64_t)l->expires);
	return o;
}

static int method_list_staged(Call *call, const void *params, Reply *reply) {
	json_object *arr = json_object_new_array();
	for (Lease *l = call->manager->leases.head; arr && l; l = l->next)
		if (l->state == LEASE_STAGED)
			json_object_array_add(arr, staged_json(l));
	json_object *p = json_object_new_object();
	json_add(p, "staged", arr);
	return p ? reply_ok(reply, p) : -ENOMEM;
}

typedef struct DropStagedParams {
	const char *id;
} DropStagedParams;

static int method_drop_staged(Call *call, const void *params, Reply *reply) {
	const DropStagedParams *a = params;
	Lease *l = lease_table_find(&call->manager->leases, a->id);
	if (!l || l->state != LEASE_STAGED)
		return reply_error(reply, IOASID_ERROR_NO_SUCH_STAGED, "id", a->id);
	manager_drop_staged(call->manager, l,
			    &(AuditActor){ .method = "io.ioasid.Manager.DropStaged",
					   .cause = "request" },
			    "staged context dropped");
	return reply_ok(reply, NULL);
}

static const ParamSpec revoke_params[] = {
	{ "lease", PARAM_STRING, offsetof(RevokeParams, lease), .required = true },
	{ "reset", PARAM_BOOL, offsetof(RevokeParams, reset) },
	{ "signal", PARAM_BOOL, offsetof(RevokeParams, signal) },
};

static const ParamSpec stage_params[] = {
	{ "layout", PARAM_STRING, offsetof(StageParams, layout), .required = true },
	{ "owner", PARAM_STRING, offsetof(StageParams, owner), .required = true },
	{ "devices", PARAM_LIST, offsetof(StageParams, devices), .required = true, .min = 1,
	  .max = PARAM_LIST_MAX },
	{ "mode", PARAM_ENUM, offsetof(StageParams, mode), .from_string = lease_mode_parse,
	  .present_offset = offsetof(StageParams, has_mode) },
	{ "timeout", PARAM_INT, offsetof(StageParams, timeout), .min = 1,
	  .max = IOASID_STAGE_TIMEOUT_MAX },
};

static const ParamSpec drop_staged_params[] = {
	{ "id", PARAM_STRING, offsetof(DropStagedParams, id), .required = true },
};

#define ADMIN METHOD_ADMIN
static const Method methods[] = {
	{ "Status", method_status, ADMIN },
	{ "Reload", method_reload, ADMIN },
	{ "Revoke", method_revoke, ADMIN, revoke_params, ELEMENTSOF(revoke_params),
	  sizeof(RevokeParams) },
	{ "Stage", method_stage, ADMIN, stage_params, ELEMENTSOF(stage_params),
	  sizeof(StageParams) },
	{ "ListStaged", method_list_staged, ADMIN },
	{ "DropStaged", method_drop_staged, ADMIN, drop_staged_params,
	  ELEMENTSOF(drop_staged_params), sizeof(DropStagedParams) },
};

const MethodInterface method_manager = {
	.name = IOASID_IFACE_MANAGER,
	.methods = methods,
	.n_methods = ELEMENTSOF(methods),
	.admin_denied = IOASID_ERROR_MANAGER_PERMISSION_DENIED,
};

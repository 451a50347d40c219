/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.ioasid.Broker: ListDevices, ListGroups, Acquire, Release, ListLeases, Monitor. Each
 * handler turns its validated parameters into a call of the layers below and their result
 * into a Reply; Acquire is broker_acquire() (a plan or a refusal), context_build() (the
 * kernel context) and manager_hand_over() (the lease), then the reply with the fds.
 * Layer: a method table (method.h), called only by the server; calls broker, context,
 * manager, hold, lease and method.c.
 */
#include <stddef.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/viability.h"
#include "ioasidd/broker.h"
#include "ioasidd/context.h"
#include "ioasidd/log.h"
#include "ioasidd/manager.h"
#include "ioasidd/method.h"

/* Owners are shown to themselves and to admins; others learn only that it is taken. */
static json_object *owner_json(const Peer *peer, const Lease *l, bool admin) {
	if (!l)
		return NULL;
	char buf[300];
	if (hold_describe(l, admin || l->uid == peer->uid, buf, sizeof(buf)) > 0)
		; /* revoked or ended, its files still open elsewhere */
	else if (l->state == LEASE_STAGED && admin)
		snprintf(buf, sizeof(buf), "staged for %s", strempty(l->owner));
	else if (l->state == LEASE_STAGED)
		snprintf(buf, sizeof(buf), "staged");
	else if (admin || l->uid == peer->uid)
		snprintf(buf, sizeof(buf), "uid:%u", (unsigned)l->uid);
	else
		snprintf(buf, sizeof(buf), "another user");
	return json_object_new_string(buf);
}

static const char *device_verdict(const Host *h, const Device *d) {
	Viability v = { 0 };
	if (viability_device(h, d, &v) < 0)
		return "unknown";
	const char *s = verdict_to_string(v.verdict);
	viability_done(&v);
	return s;
}

static json_object *device_json(Manager *m, const Peer *peer, const Device *d, bool admin) {
	json_object *o = json_object_new_object();
	char buf[16];
	json_add_str(o, "bdf", d->bdf);
	snprintf(buf, sizeof(buf), "%04x", d->vendor);
	json_add_str(o, "vendor", buf);
	snprintf(buf, sizeof(buf), "%04x", d->device);
	json_add_str(o, "device", buf);
	snprintf(buf, sizeof(buf), "%06x", d->class);
	json_add_str(o, "class", buf);
	json_add_str(o, "driver", d->driver);
	json_add(o, "iommuGroup", d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL);
	json_add_str(o, "vfio", d->vfio_name);
	json_add_str(o, "viable", device_verdict(m->host, d));
	const Lease *l = lease_table_device_owner(&m->leases, d->bdf);
	/* A vDPA parent is held by the vhost-vdpa lease of its vDPA device. */
	const Lease *g = !l && d->iommu_group >= 0
				 ? lease_table_group_owner(&m->leases, d->iommu_group)
				 : NULL;
	if (g && g->vdpa && streq(g->vdpa_parent, d->bdf))
		l = g;
	json_add(o, "owner", owner_json(peer, l, admin));
	return o;
}

static int method_list_devices(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = manager_is_admin(m, call->peer, "io.ioasid.Broker.ListDevices", false);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < m->host->n_devices; i++)
		json_object_array_add(arr, device_json(m, call->peer, &m->host->devices[i], admin));
	json_object *p = json_object_new_object();
	json_add(p, "devices", arr);
	return p ? reply_ok(reply, p) : -ENOMEM;
}

static json_object *group_json(Manager *m, const Peer *peer, const Group *g, bool admin) {
	json_object *o = json_object_new_object();
	json_add(o, "group", json_object_new_int(g->number));
	json_add_str(o, "type", g->type);
	json_object *devs = json_object_new_array();
	for (size_t j = 0; devs && j < g->n_members; j++)
		json_object_array_add(devs, json_object_new_string(g->members[j]->bdf));
	json_add(o, "devices", devs);
	Viability v = { 0 };
	const char *verdict = "unknown";
	if (viability_group(m->host, g, &v) >= 0) {
		verdict = verdict_to_string(v.verdict);
		viability_done(&v);
	}
	json_add_str(o, "viable", verdict);
	const Lease *owner = lease_table_group_owner(&m->leases, g->number);
	json_add(o, "owner", owner_json(peer, owner, admin));
	return o;
}

static int method_list_groups(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = manager_is_admin(m, call->peer, "io.ioasid.Broker.ListGroups", false);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < m->host->n_groups; i++)
		json_object_array_add(arr, group_json(m, call->peer, &m->host->groups[i], admin));
	json_object *p = json_object_new_object();
	json_add(p, "groups", arr);
	return p ? reply_ok(reply, p) : -ENOMEM;
}

static json_object *lease_json(const Lease *l) {
	json_object *o = json_object_new_object();
	json_add_str(o, "id", l->id);
	json_add_int(o, "uid", (int64_t)l->uid);
	json_add(o, "pid", l->pid > 0 ? json_object_new_int(l->pid) : NULL);
	json_add_str(o, "unit", l->unit);
	json_add_str(o, "mode", lease_mode_to_string(l->mode));
	json_add_str(o, "layout", l->layout);
	json_object *devs = json_object_new_array();
	for (size_t i = 0; devs && i < l->n_devices; i++)
		json_object_array_add(devs, json_object_new_string(l->devices[i].bdf));
	json_add(o, "devices", devs);
	json_object *groups = json_object_new_array();
	for (size_t i = 0; groups && i < l->n_groups; i++)
		json_object_array_add(groups, json_object_new_int(l->groups[i]));
	json_add(o, "groups", groups);
	json_add_str(o, "vdpa", l->vdpa); /* vhost-vdpa mode: the vDPA device, else null */
	json_add_str(o, "lifetime", lease_lifetime_to_string(l->lifetime));
	/* Listed leases are pending, active, revoked or ended (staged contexts are not leases
	 * yet, new ones are in no table). */
	json_add_str(o, "state", lease_state_to_string(l->state));
	/* Revoked or ended: the devices whose files the kernel still shows open elsewhere. */
	json_object *held = json_object_new_array();
	for (size_t i = 0; held && lease_is_over(l) && i < l->n_devices; i++)
		if (l->devices[i].held)
			json_object_array_add(held, json_object_new_string(l->devices[i].bdf));
	json_add(o, "held", held);
	json_add_int(o, "generation", (int64_t)l->generation);
	json_add_int(o, "created", (int64_t)l->created);
	return o;
}

static int method_list_leases(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = manager_is_admin(m, call->peer, "io.ioasid.Broker.ListLeases", false);
	json_object *arr = json_object_new_array();
	for (Lease *l = m->leases.head; arr && l; l = l->next)
		if (l->state != LEASE_STAGED && (admin || l->uid == call->peer->uid))
			json_object_array_add(arr, lease_json(l));
	json_object *p = json_object_new_object();
	json_add(p, "leases", arr);
	return p ? reply_ok(reply, p) : -ENOMEM;
}

typedef struct ReleaseParams {
	const char *lease;
} ReleaseParams;

static int method_release(Call *call, const void *params, Reply *reply) {
	const ReleaseParams *a = params;
	Manager *m = call->manager;
	const Peer *peer = call->peer;
	Lease *l = lease_table_find(&m->leases, a->lease);
	/* Someone else's lease reads as "no such lease": existence is not disclosed. */
	if (!l || l->state == LEASE_ENDED ||
	    (l->uid != peer->uid && !manager_is_admin(m, peer, "io.ioasid.Broker.Release", true)) ||
	    !lease_delivered(l))
		return reply_error(reply, IOASID_ERROR_NO_SUCH_LEASE, "lease", a->lease);
	/* The holder's own call, or an admin's (named in the record: it is not the holder). */
	char cause[64] = "request";
	if (l->uid != peer->uid)
		snprintf(cause, sizeof(cause), "release by uid %u", (unsigned)peer->uid);
	const AuditActor by = { .method = "io.ioasid.Broker.Release", .cause = cause };
	if (l->state == LEASE_REVOKED) {
		/* The lease ended at the revocation; the record only told the holder so. */
		manager_end_lease_by(m, l, &by, "revoked lease released");
		return reply_error(reply, IOASID_ERROR_NO_SUCH_LEASE, "lease", a->lease);
	}
	manager_end_lease_by(m, l, &by, "released");
	return reply_ok(reply, NULL);
}

json_object *method_broker_event(const BrokerEvent *e) {
	json_object *p = json_object_new_object();
	if (!p)
		return NULL;
	json_add_str(p, "event", e->event);
	if (e->bdf)
		json_add_str(p, "bdf", e->bdf);
	if (e->vdpa)
		json_add_str(p, "vdpa", e->vdpa);
	if (e->lease)
		json_add_str(p, "lease", e->lease);
	if (e->cause)
		json_add_str(p, "cause", e->cause);
	if (e->has_group)
		json_add_int(p, "group", e->group);
	if (e->verdict)
		json_add_str(p, "verdict", e->verdict);
	if (e->has_generation)
		json_add_int(p, "generation", e->generation);
	return p;
}

static int method_monitor(Call *call, const void *params, Reply *reply) {
	json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_add_str(p, "event", "subscribed");
	reply_ok(reply, p);
	reply->continues = true;
	reply->subscribe = true;
	return 0;
}

/* ---- Acquire ---- */

typedef struct AcquireParams {
	ParamList devices;
	bool has_devices;
	int64_t group;
	bool has_group;
	const char *pool;
	const char *vdpa;
	int64_t count;
	bool has_count;
	int mode;
	bool has_mode;
	const char *layout;
	int lifetime;
	bool has_lifetime;
} AcquireParams;

/* Legacy: the index of the device's group node among the fds, when it was handed out. */
static int64_t legacy_group_fd(const Lease *l, int group) {
	size_t idx = 1; /* after the container */
	for (size_t j = 0; j < l->n_legacy_groups; j++) {
		const LeaseGroup *g = &l->legacy_groups[j];
		if (g->group == group)
			return g->handed_out ? (int64_t)idx : -1;
		idx += g->handed_out;
	}
	return -1;
}

/* The fds of l in reply order: iommufd mode [iommufd, devices...]; legacy [container,
 * handed-out groups..., devices...]; vhost-vdpa [the char device]. Returns how many. */
static size_t lease_fds(const Lease *l, int *fds) {
	size_t n = 0;
	if (l->mode == LEASE_MODE_VHOST_VDPA)
		fds[n++] = l->vdpa_fd;
	else if (l->mode == LEASE_MODE_LEGACY) {
		fds[n++] = l->container;
		for (size_t i = 0; i < l->n_legacy_groups; i++)
			if (l->legacy_groups[i].handed_out)
				fds[n++] = l->legacy_groups[i].fd;
	} else
		fds[n++] = l->iommufd;
	for (size_t i = 0; i < l->n_devices; i++)
		fds[n++] = l->devices[i].fd;
	return n;
}

static json_object *granted_devices(const Lease *l, size_t device_base) {
	bool legacy = l->mode == LEASE_MODE_LEGACY, attached = l->mode == LEASE_MODE_ATTACHED;
	json_object *devs = json_arr();
	for (size_t i = 0; devs && i < l->n_devices; i++) {
		json_object *o = json_obj();
		json_add_str(o, "bdf", l->devices[i].bdf);
		json_add_int(o, "deviceFd", (int64_t)(device_base + i));
		int64_t group_fd = legacy ? legacy_group_fd(l, l->devices[i].group) : -1;
		json_add(o, "groupFd", json_int_or_null(group_fd >= 0, group_fd));
		json_add(o, "devId", json_int_or_null(attached, l->devices[i].dev_id));
		json_add(o, "hwptId", json_int_or_null(attached, l->devices[i].hwpt_id));
		json_append(devs, o);
	}
	return devs;
}

/* The Acquire reply for l, with the fds (the lease keeps them), in *reply. */
static int acquire_reply(const Plan *plan, Lease *l, int64_t memlock, char **warnings, int *fds,
			 Reply *reply) {
	json_out_reset();
	json_object *p = json_obj();
	if (!p)
		return -ENOMEM;
	bool legacy = l->mode == LEASE_MODE_LEGACY, vdpa = l->mode == LEASE_MODE_VHOST_VDPA;
	size_t n_fds = lease_fds(l, fds);
	json_add_str(p, "lease", l->id);
	json_add_str(p, "mode", lease_mode_to_string(l->mode));
	json_add_str(p, "api", vdpa ? "vhost-vdpa" : legacy ? "legacy" : "iommufd");
	json_add(p, "iommuFd", json_int_or_null(!legacy && !vdpa, 0));
	json_add(p, "containerFd", json_int_or_null(legacy, 0));
	json_add(p, "vhostFd", json_int_or_null(vdpa, 0));
	json_add_str(p, "vdpa", vdpa ? l->vdpa : NULL);
	json_add(p, "ioasId", json_int_or_null(l->mode == LEASE_MODE_ATTACHED, l->ioas_id));
	json_add(p, "devices", granted_devices(l, n_fds - l->n_devices));
	json_add(p, "atRisk", json_strv(l->at_risk));
	/* What the holder's RLIMIT_MEMLOCK is now (read back), not what was asked for. */
	json_add(p, "memlock", json_int_or_null(memlock >= 0, memlock));
	/* Served from a staged context: the work was done at Stage time. */
	json_add_str(p, "staged", plan->staged ? l->id : NULL);
	json_add(p, "warnings", json_strv(warnings));
	json_add_int(p, "generation", (int64_t)l->generation);
	json_add_str(p, "rule", plan->rule[0] ? plan->rule : "");
	if (json_out_failed()) {
		json_object_put(p);
		return -ENOMEM;
	}
	reply_ok(reply, p);
	reply->fds = fds;
	reply->n_fds = n_fds;
	reply->lease = l;
	return 0;
}

static void acquire_request(const AcquireParams *a, BrokerRequest *ret) {
	*ret = (BrokerRequest){
		.bdfs = a->has_devices ? a->devices.items : NULL,
		.n_bdfs = a->devices.n,
		.has_group = a->has_group,
		.group = a->group,
		.pool = a->pool,
		.vdpa = a->vdpa,
		.has_count = a->has_count,
		.count = a->count,
		.mode_set = a->has_mode,
		.mode = (LeaseMode)a->mode,
		.layout = a->layout,
		.lifetime_set = a->has_lifetime,
		.lifetime = (PolicyLifetime)a->lifetime,
	};
}

/*
 * Steps 1-4: the decision and the kernel context. With by_bind, a group held by a lease the
 * daemon let go of is left to this Acquire's BIND instead of a probe first (hold.c); when
 * the BIND did not answer "free" (or no BIND was made: another mode, a staged context, a
 * refusal), everything is undone and decided again the usual way (by_bind false), so the
 * answer is the one the probe would have given.
 */
static int acquire_context(Call *call, const BrokerRequest *in, bool by_bind, Plan *plan,
			   char ***warnings, Lease **ret, Refusal *rf) {
	Manager *m = call->manager;
	Lease *l = NULL;
	m->hold_by_bind = by_bind;
	int r = broker_acquire(m, call->peer, call->fd_reply_pending, in, plan, rf);
	m->hold_by_bind = false;
	bool left = hold_bind_pending(m);
	if (left && (r < 0 || plan->staged || plan->mode != LEASE_MODE_ATTACHED ||
		     kernel_api(m->kernel) != KERNEL_API_IOMMUFD))
		r = -EAGAIN;
	else if (r >= 0)
		r = plan->staged ? 0 : context_build(m, call->peer, plan, warnings, &l, rf);
	if (left)
		hold_bind_done(m, r >= 0);
	if (left && r < 0) { /* context_build() left nothing open */
		plan_done(plan);
		*plan = (Plan){ 0 };
		refusal_done(rf);
		*rf = (Refusal){ 0 };
		*warnings = strv_free(*warnings);
		return acquire_context(call, in, false, plan, warnings, ret, rf);
	}
	if (r < 0)
		return r;
	*ret = plan->staged ? plan->staged : l;
	return 0;
}

/* Plan, context, hand-over. 0 with l, or -errno with *rf. */
static int acquire_lease(Call *call, const BrokerRequest *in, Plan *plan, char ***warnings,
			 int64_t *memlock, Lease **ret, Refusal *rf) {
	Manager *m = call->manager;
	Lease *l = NULL;
	int r = acquire_context(call, in, true, plan, warnings, &l, rf);
	if (r < 0)
		return r;
	r = manager_hand_over(m, call->connection, call->connection_id, call->peer, plan, l,
			      warnings, memlock, rf);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

/* The reply's fds: at most the container or iommufd, a group node and a device per device. */
static int acquire_fds[IOASID_MAX_DEVICES_PER_REQUEST * 2 + 1];

static int method_acquire(Call *call, const void *params, Reply *reply) {
	Manager *m = call->manager;
	BrokerRequest in;
	Plan plan = { 0 };
	Refusal rf = { 0 };
	_cleanup_strv_free_ char **warnings = NULL;
	int64_t memlock = -1;
	Lease *l = NULL;
	acquire_request(params, &in);
	int r = acquire_lease(call, &in, &plan, &warnings, &memlock, &l, &rf);
	if (r >= 0 && acquire_reply(&plan, l, memlock, warnings, acquire_fds, reply) < 0) {
		manager_end_lease(m, l, "out of memory");
		r = refusal_system(&rf, -ENOMEM, "reply", NULL);
	}
	if (r < 0) {
		const RefusalField *op = refusal_get(&rf, "operation");
		const RefusalField *dev = refusal_get(&rf, "device");
		const char *device = dev ? dev->s : NULL;
		if (rf.error && streq(rf.error, IOASID_ERROR_SYSTEM) && op)
			log_info("Acquire for uid %u failed: %s%s%s: %s", (unsigned)call->peer->uid,
				 strna(op->s), device ? " " : "", strempty(device), strerror(-r));
		broker_audit_refusal(m, call->peer, &plan, &rf);
		r = reply_refusal(reply, &rf);
	} else
		/* The audit record of each decision is the info-level trace; this is for
		 * debugging. */
		log_debug("Lease %s: uid %u pid %d, %zu device(s), %s, %s lifetime", l->id,
			  (unsigned)l->uid, (int)l->pid, l->n_devices,
			  lease_mode_to_string(l->mode), lease_lifetime_to_string(l->lifetime));
	refusal_done(&rf);
	plan_done(&plan);
	return r;
}

/* ---- the table ---- */

#define LIST_RANGE(lo, hi) .min = (lo), .max = (hi)

static const ParamSpec acquire_params[] = {
	{ "devices", PARAM_LIST, offsetof(AcquireParams, devices), LIST_RANGE(1, PARAM_LIST_MAX),
	  .present_offset = offsetof(AcquireParams, has_devices) },
	{ "group", PARAM_INT, offsetof(AcquireParams, group), LIST_RANGE(INT64_MIN, INT64_MAX),
	  .present_offset = offsetof(AcquireParams, has_group) },
	{ "pool", PARAM_STRING, offsetof(AcquireParams, pool) },
	{ "vdpa", PARAM_STRING, offsetof(AcquireParams, vdpa), LIST_RANGE(1, 255) },
	{ "count", PARAM_INT, offsetof(AcquireParams, count),
	  LIST_RANGE(1, IOASID_MAX_DEVICES_PER_REQUEST),
	  .present_offset = offsetof(AcquireParams, has_count) },
	{ "mode", PARAM_ENUM, offsetof(AcquireParams, mode), .from_string = lease_mode_parse,
	  .present_offset = offsetof(AcquireParams, has_mode) },
	{ "layout", PARAM_STRING, offsetof(AcquireParams, layout), LIST_RANGE(1, 255) },
	{ "lifetime", PARAM_ENUM, offsetof(AcquireParams, lifetime),
	  .from_string = lease_lifetime_parse,
	  .present_offset = offsetof(AcquireParams, has_lifetime) },
};

static const ParamSpec release_params[] = {
	{ "lease", PARAM_STRING, offsetof(ReleaseParams, lease), .required = true },
};

static const Method methods[] = {
	{ "ListDevices", method_list_devices },
	{ "ListGroups", method_list_groups },
	{ "Acquire", method_acquire, METHOD_FDS, acquire_params, ELEMENTSOF(acquire_params),
	  sizeof(AcquireParams) },
	{ "Release", method_release, 0, release_params, ELEMENTSOF(release_params),
	  sizeof(ReleaseParams) },
	{ "ListLeases", method_list_leases },
	{ "Monitor", method_monitor, METHOD_MORE },
};

const MethodInterface method_broker = {
	.name = IOASID_IFACE_BROKER,
	.methods = methods,
	.n_methods = ELEMENTSOF(methods),
	.admin_denied = NULL,
};

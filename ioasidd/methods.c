/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/viability.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"
#include "varlink-idl.h" /* generated from the IDL files in common/: varlink_idl[] */

json_object *json_str_or_null(const char *s) {
	return s ? json_object_new_string(s) : NULL;
}

/* ---- admin and visibility ---- */

static bool peer_is_admin(Connection *c, const char *method, bool audit) {
	Manager *m = c->manager;
	PolicyPeer pp;
	peer_to_policy(&c->peer, &pp);
	PolicyDecision d = { .allow = false };
	bool ok = m->policy && policy_is_admin(m->policy, &pp, &d);
	if (audit) {
		char rule[300];
		if (d.file)
			snprintf(rule, sizeof(rule), "%s:%u", d.file, d.line);
		audit_log(&(AuditRecord){
			.action = ok ? "allow" : "deny",
			.message_id = ok ? IOASID_MESSAGE_ALLOW : IOASID_MESSAGE_DENY,
			.method = method,
			.cause = "request",
			.rule = d.file ? rule : NULL,
			.reason = ok ? "admin" : (d.reason[0] ? d.reason : "not an admin"),
			.uid = c->peer.uid,
			.pid = c->peer.pid,
			.unit = c->peer.unit,
			.generation = m->generation,
		});
	}
	return ok;
}

/* Owners are shown to themselves and to admins; others learn only that it is taken. */
static json_object *owner_json(Connection *c, const Lease *l, bool admin) {
	if (!l)
		return NULL;
	char buf[300];
	if (hold_describe(l, admin || l->uid == c->peer.uid, buf, sizeof(buf)) > 0)
		; /* revoked or ended, its files still open elsewhere */
	else if (l->state == LEASE_STAGED && admin)
		snprintf(buf, sizeof(buf), "staged for %s", strempty(l->owner));
	else if (l->state == LEASE_STAGED)
		snprintf(buf, sizeof(buf), "staged");
	else if (admin || l->uid == c->peer.uid)
		snprintf(buf, sizeof(buf), "uid:%u", (unsigned)l->uid);
	else
		snprintf(buf, sizeof(buf), "another user");
	return json_object_new_string(buf);
}

static int send_error_reason(Connection *c, const char *error, const char *key,
			     const char *value) {
	json_object *p = json_object_new_object();
	if (p && key)
		json_object_object_add(p, key, json_object_new_string(value));
	return connection_error(c, error, p);
}

static int invalid_parameter(Connection *c, const char *name) {
	return send_error_reason(c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", name);
}

/* No parameters expected: anything present is an error (strict input). */
static bool no_params(Connection *c, const DocNode *params) {
	if (params->c.n > 0) {
		invalid_parameter(c, params->c.keys[0]);
		return false;
	}
	return true;
}

/* ---- org.varlink.service ---- */

static int method_get_info(Connection *c, const DocNode *params) {
	if (!no_params(c, params))
		return 0;
	json_object *p = json_object_new_object();
	json_object *ifaces = json_object_new_array();
	json_object_array_add(ifaces, json_object_new_string(IOASID_IFACE_SERVICE));
	for (size_t i = 0; i < ELEMENTSOF(varlink_idl); i++)
		json_object_array_add(ifaces, json_object_new_string(varlink_idl[i].name));
	json_object_object_add(p, "vendor", json_object_new_string("ioasid"));
	json_object_object_add(p, "product", json_object_new_string("ioasidd"));
	json_object_object_add(p, "version", json_object_new_string(IOASID_VERSION));
	json_object_object_add(p, "url",
	                       json_object_new_string("man:ioasidd(8)"));
	json_object_object_add(p, "interfaces", ifaces);
	return connection_reply(c, p, false);
}

static const char service_idl[] =
	"# The Varlink service interface\n"
	"interface org.varlink.service\n\n"
	"method GetInfo() -> (\n  vendor: string,\n  product: string,\n  version: string,\n"
	"  url: string,\n  interfaces: []string\n)\n\n"
	"method GetInterfaceDescription(interface: string) -> (description: string)\n\n"
	"error InterfaceNotFound (interface: string)\n"
	"error MethodNotFound (method: string)\n"
	"error MethodNotImplemented (method: string)\n"
	"error InvalidParameter (parameter: string)\n"
	"error PermissionDenied ()\n"
	"error ExpectedMore ()\n";

static int method_get_interface_description(Connection *c, const DocNode *params) {
	const DocNode *iface = NULL;
	for (size_t i = 0; i < params->c.n; i++) {
		if (streq(params->c.keys[i], "interface"))
			iface = params->c.items[i];
		else
			return invalid_parameter(c, params->c.keys[i]);
	}
	const char *name = doc_str(iface);
	if (!name)
		return invalid_parameter(c, "interface");
	const char *text = NULL;
	if (streq(name, IOASID_IFACE_SERVICE))
		text = service_idl;
	for (size_t i = 0; !text && i < ELEMENTSOF(varlink_idl); i++)
		if (streq(name, varlink_idl[i].name))
			text = varlink_idl[i].text;
	if (!text)
		return send_error_reason(c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", name);
	json_object *p = json_object_new_object();
	json_object_object_add(p, "description", json_object_new_string(text));
	return connection_reply(c, p, false);
}

/* ---- io.ioasid.Broker inspection ---- */

static const char *device_verdict(const Host *h, const Device *d) {
	Viability v = { 0 };
	if (viability_device(h, d, &v) < 0)
		return "unknown";
	const char *s = verdict_to_string(v.verdict);
	viability_done(&v);
	return s;
}

static int method_list_devices(Connection *c, const DocNode *params) {
	if (!no_params(c, params))
		return 0;
	Manager *m = c->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = peer_is_admin(c, "io.ioasid.Broker.ListDevices", false);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < m->host->n_devices; i++) {
		const Device *d = &m->host->devices[i];
		json_object *o = json_object_new_object();
		char buf[16];
		json_object_object_add(o, "bdf", json_object_new_string(d->bdf));
		snprintf(buf, sizeof(buf), "%04x", d->vendor);
		json_object_object_add(o, "vendor", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%04x", d->device);
		json_object_object_add(o, "device", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%06x", d->class);
		json_object_object_add(o, "class", json_object_new_string(buf));
		json_object_object_add(o, "driver", json_str_or_null(d->driver));
		json_object_object_add(o, "iommuGroup",
				       d->iommu_group >= 0 ? json_object_new_int(d->iommu_group)
							   : NULL);
		json_object_object_add(o, "vfio", json_str_or_null(d->vfio_name));
		json_object_object_add(o, "viable",
		                       json_object_new_string(device_verdict(m->host, d)));
		json_object_object_add(
		        o, "owner",
		        owner_json(c, lease_table_device_owner(&m->leases, d->bdf), admin));
		json_object_array_add(arr, o);
	}
	json_object *p = json_object_new_object();
	json_object_object_add(p, "devices", arr);
	return connection_reply(c, p, false);
}

static int method_list_groups(Connection *c, const DocNode *params) {
	if (!no_params(c, params))
		return 0;
	Manager *m = c->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = peer_is_admin(c, "io.ioasid.Broker.ListGroups", false);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < m->host->n_groups; i++) {
		const Group *g = &m->host->groups[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "number", json_object_new_int(g->number));
		json_object_object_add(o, "type", json_str_or_null(g->type));
		json_object *devs = json_object_new_array();
		for (size_t j = 0; j < g->n_members; j++)
			json_object_array_add(devs, json_object_new_string(g->members[j]->bdf));
		json_object_object_add(o, "devices", devs);
		Viability v = { 0 };
		const char *verdict = "unknown";
		if (viability_group(m->host, g, &v) >= 0) {
			verdict = verdict_to_string(v.verdict);
			viability_done(&v);
		}
		json_object_object_add(o, "viable", json_object_new_string(verdict));
		json_object_object_add(
		        o, "owner",
		        owner_json(c, lease_table_group_owner(&m->leases, g->number), admin));
		json_object_array_add(arr, o);
	}
	json_object *p = json_object_new_object();
	json_object_object_add(p, "groups", arr);
	return connection_reply(c, p, false);
}

static json_object *lease_json(const Lease *l) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(l->id));
	json_object_object_add(o, "uid", json_object_new_int64((int64_t)l->uid));
	json_object_object_add(o, "pid", l->pid > 0 ? json_object_new_int(l->pid) : NULL);
	json_object_object_add(o, "unit", json_str_or_null(l->unit));
	json_object_object_add(o, "mode", json_object_new_string(lease_mode_to_string(l->mode)));
	json_object_object_add(o, "layout", json_str_or_null(l->layout));
	json_object *devs = json_object_new_array();
	for (size_t i = 0; i < l->n_devices; i++)
		json_object_array_add(devs, json_object_new_string(l->devices[i].bdf));
	json_object_object_add(o, "devices", devs);
	json_object *groups = json_object_new_array();
	for (size_t i = 0; i < l->n_groups; i++)
		json_object_array_add(groups, json_object_new_int(l->groups[i]));
	json_object_object_add(o, "groups", groups);
	json_object_object_add(o, "lifetime",
			       json_object_new_string(lease_lifetime_to_string(l->lifetime)));
	/* Listed leases are pending, active, revoked or ended (staged contexts are not leases
	 * yet, new ones are in no table). */
	json_object_object_add(o, "state", json_object_new_string(lease_state_to_string(l->state)));
	/* Revoked or ended: the devices whose files the kernel still shows open elsewhere. */
	json_object *held = json_object_new_array();
	for (size_t i = 0; lease_is_over(l) && i < l->n_devices; i++)
		if (l->devices[i].held)
			json_object_array_add(held, json_object_new_string(l->devices[i].bdf));
	json_object_object_add(o, "held", held);
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)l->generation));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)l->created));
	return o;
}

static int method_list_leases(Connection *c, const DocNode *params) {
	if (!no_params(c, params))
		return 0;
	Manager *m = c->manager;
	hold_settle(m); /* who holds what, as the kernel shows it now */
	bool admin = peer_is_admin(c, "io.ioasid.Broker.ListLeases", false);
	json_object *arr = json_object_new_array();
	for (Lease *l = m->leases.head; l; l = l->next)
		if (l->state != LEASE_STAGED && (admin || l->uid == c->peer.uid))
			json_object_array_add(arr, lease_json(l));
	json_object *p = json_object_new_object();
	json_object_object_add(p, "leases", arr);
	return connection_reply(c, p, false);
}

static const char *param_string(const DocNode *params, const char *key, bool *bad) {
	const DocNode *v = doc_get(params, key);
	if (!v)
		return NULL;
	if (doc_type(v) != DOC_STRING) {
		*bad = true;
		return NULL;
	}
	return v->str.s;
}

/* The first member of params other than the allowed ones (NULL-terminated), or NULL. */
static const char *unknown_param(const DocNode *params, const char *const *allowed) {
	for (size_t i = 0; i < params->c.n; i++)
		if (!strv_contains((char **)allowed, params->c.keys[i]))
			return params->c.keys[i];
	return NULL;
}

void manager_update_status(Manager *m) {
	if (!m->fdstore) /* not under systemd (NOTIFY_SOCKET unset): nobody listens */
		return;
	/* At most once a second: PID 1 is not a metrics sink, and sd_notify() blocks when its
	 * queue is full. */
	static uint64_t last;
	uint64_t now = 0;
	sd_event_now(m->event, CLOCK_MONOTONIC, &now);
	if (last && now < last + 1000000)
		return;
	last = now;
	sd_notifyf(false, "STATUS=Serving: %zu lease(s), %zu connection(s), policy generation %llu",
		   m->leases.n, m->n_connections, (unsigned long long)m->generation);
}

/* The BDFs of l, comma-separated, for an audit record. */
const char *lease_devices_text(const Lease *l, char *buf, size_t size) {
	size_t j = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < l->n_devices && j < size; i++)
		j += (size_t)snprintf(buf + j, size - j, "%s%s", i ? "," : "", l->devices[i].bdf);
	return buf;
}

void manager_end_lease(Manager *m, Lease *l, const char *why) {
	manager_end_lease_by(m, l, &(AuditActor){ .cause = "lease-end" }, why);
}

void manager_end_lease_by(Manager *m, Lease *l, const AuditActor *by, const char *why) {
	Connection *c = l->connection;
	bool pending = c && c->pending_lease == l;
	if (pending)
		c->pending_lease = NULL;
	if (lease_delivered(l)) {
		methods_notify_lease(m, l, "lease-released");
		char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
		audit_log(&(AuditRecord){
			.action = "release",
			.message_id = IOASID_MESSAGE_RELEASE,
			.method = by->method,
			.cause = by->cause,
			.device = lease_devices_text(l, devs, sizeof(devs)),
			.rule = l->rule,
			.reason = why,
			.lease = l->id,
			.uid = l->uid,
			.pid = l->pid,
			.unit = l->unit,
			.generation = l->generation,
		});
	} else if (pending)
		/* The Acquire's fds never reached the client: its record is a deny. */
		acquire_audit_lease(l, false, by->cause, why);
	else
		log_info("Lease %s of uid %u rolled back: %s", l->id, (unsigned)l->uid, why);
	state_forget_lease(m, l);
	/* The holder (or a process it passed the fds to) may still have them: then the lease
	 * stays, ended, holding the groups the kernel still shows held (hold.c). */
	if (!hold_lease_ended(m, l)) {
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
	}
	manager_update_status(m);
	/* A connection kept open only for this lease is subject to the idle deadline again. */
	if (c && !c->closing)
		connection_rearm_idle(c);
}

void manager_connection_gone(Manager *m, Connection *c) {
	const AuditActor gone = { .cause = m->stopping ? "shutdown" : "client-gone" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->connection != c)
			continue;
		if (l->lifetime == POLICY_LIFETIME_CONNECTION)
			manager_end_lease_by(m, l, &gone, "connection closed");
		else if (!lease_delivered(l))
			manager_end_lease_by(m, l, &gone, "reply not delivered");
		else
			l->connection = NULL; /* process lifetime: the pidfd decides */
	}
	c->pending_lease = NULL;
}

static int method_release(Connection *c, const DocNode *params) {
	bool bad = false;
	const char *id = param_string(params, "lease", &bad);
	const char *unknown = unknown_param(params, (const char *const[]){ "lease", NULL });
	if (unknown)
		return invalid_parameter(c, unknown);
	if (bad || !id)
		return invalid_parameter(c, "lease");
	Manager *m = c->manager;
	Lease *l = lease_table_find(&m->leases, id);
	/* Someone else's lease reads as "no such lease": existence is not disclosed. */
	if (!l || l->state == LEASE_ENDED ||
	    (l->uid != c->peer.uid && !peer_is_admin(c, "io.ioasid.Broker.Release", true)) ||
	    !lease_delivered(l))
		return send_error_reason(c, IOASID_ERROR_NO_SUCH_LEASE, "lease", id);
	/* The holder's own call, or an admin's (named in the record: it is not the holder). */
	char cause[64] = "request";
	if (l->uid != c->peer.uid)
		snprintf(cause, sizeof(cause), "release by uid %u", (unsigned)c->peer.uid);
	const AuditActor by = { .method = "io.ioasid.Broker.Release", .cause = cause };
	if (l->state == LEASE_REVOKED) {
		/* The lease ended at the revocation; the record only told the holder so. */
		manager_end_lease_by(m, l, &by, "revoked lease released");
		return send_error_reason(c, IOASID_ERROR_NO_SUCH_LEASE, "lease", id);
	}
	manager_end_lease_by(m, l, &by, "released");
	return connection_reply(c, NULL, false);
}

void methods_notify_lease(Manager *m, const Lease *l, const char *event) {
	for (Connection *c = m->connections; c; c = c->next) {
		if (!c->monitor || c->closing)
			continue;
		if (l->uid != c->peer.uid && !peer_is_admin(c, "io.ioasid.Broker.Monitor", false))
			continue;
		for (size_t i = 0; i < MAX(l->n_devices, (size_t)1); i++) {
			json_object *p = json_object_new_object();
			json_object_object_add(p, "event", json_object_new_string(event));
			json_object_object_add(
			        p, "bdf",
			        l->n_devices ? json_object_new_string(l->devices[i].bdf) : NULL);
			json_object_object_add(p, "lease", json_object_new_string(l->id));
			if (connection_reply(c, p, true) < 0)
				break;
		}
	}
}

void methods_notify_device(Manager *m, const char *event, const char *bdf) {
	for (Connection *c = m->connections; c; c = c->next) {
		if (!c->monitor || c->closing)
			continue;
		json_object *p = json_object_new_object();
		json_object_object_add(p, "event", json_object_new_string(event));
		json_object_object_add(p, "bdf", json_object_new_string(bdf));
		json_object_object_add(p, "lease", NULL);
		(void)connection_reply(c, p, true);
	}
}

static int method_monitor(Connection *c, const DocNode *params, unsigned flags) {
	if (!no_params(c, params))
		return 0;
	if (!(flags & VARLINK_CALL_MORE))
		return connection_error(c, "org.varlink.service.ExpectedMore", NULL);
	c->monitor = true;
	json_object *p = json_object_new_object();
	json_object_object_add(p, "event", json_object_new_string("subscribed"));
	return connection_reply(c, p, true);
}

/* ---- io.ioasid.Manager ---- */

static int admin_denied(Connection *c) {
	return send_error_reason(c, "io.ioasid.Manager.PermissionDenied", "reason",
				 "caller does not match an admin rule");
}

/* Manager methods authorize first: an unauthorized caller learns nothing about parameters. */
static int method_status(Connection *c, const DocNode *params) {
	if (!peer_is_admin(c, "io.ioasid.Manager.Status", true))
		return admin_denied(c);
	if (!no_params(c, params))
		return 0;
	Manager *m = c->manager;
	hold_settle(m);
	json_object *p = json_object_new_object();
	json_object_object_add(p, "version", json_object_new_string(IOASID_VERSION));
	json_object_object_add(p, "kernel", json_object_new_string(kernel_name(m->kernel)));
	KernelApi api = kernel_api(m->kernel);
	json_object_object_add(p, "api", json_object_new_string(kernel_api_to_string(api)));
	json_object_object_add(p, "generation", json_object_new_int64((int64_t)m->generation));
	/* Ended leases are not counted: they are listed in "held", one line per device. */
	size_t n_ended = 0;
	json_object *held = json_object_new_array();
	for (const Lease *l = m->leases.head; l; l = l->next) {
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
	json_object_object_add(p, "leases", json_object_new_int((int)(m->leases.n - n_ended)));
	json_object_object_add(p, "held", held);
	json_object_object_add(p, "connections", json_object_new_int((int)m->n_connections));
	json_object_object_add(
	        p, "accounting",
	        json_object_new_string(m->accounting_unknown ? "unknown (no iommufd)"
	                               : m->rlimit_mode_eperm
	                                       ? "per-user only (no CAP_SYS_RESOURCE)"
	                                       : "per-process available"));
	json_object *w = json_object_new_array();
	for (char **s = m->warnings; s && *s; s++)
		json_object_array_add(w, json_object_new_string(*s));
	json_object_object_add(p, "warnings", w);
	return connection_reply(c, p, false);
}

static int method_reload(Connection *c, const DocNode *params) {
	if (!peer_is_admin(c, "io.ioasid.Manager.Reload", true))
		return admin_denied(c);
	if (!no_params(c, params))
		return 0;
	Manager *m = c->manager;
	PolicyError e = { 0 };
	const AuditActor by = { .method = "io.ioasid.Manager.Reload", .cause = "request",
				.uid = c->peer.uid, .pid = c->peer.pid, .unit = c->peer.unit };
	int r = manager_reload(m, &by, &e);
	if (r < 0) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "file",
		                       json_object_new_string(e.file ? e.file : m->config_path));
		json_object_object_add(p, "line", json_object_new_int((int)e.line));
		json_object_object_add(p, "column", json_object_new_int((int)e.column));
		json_object_object_add(
		        p, "message", json_object_new_string(e.message ? e.message : strerror(-r)));
		policy_error_done(&e);
		return connection_error(c, "io.ioasid.Manager.ReloadFailed", p);
	}
	json_object *p = json_object_new_object();
	json_object_object_add(p, "generation", json_object_new_int64((int64_t)m->generation));
	return connection_reply(c, p, false);
}

static int method_revoke(Connection *c, const DocNode *params) {
	if (!peer_is_admin(c, "io.ioasid.Manager.Revoke", true))
		return admin_denied(c);
	bool bad = false;
	const char *id = param_string(params, "lease", &bad);
	bool reset = false, sig = false;
	for (size_t i = 0; i < params->c.n; i++) {
		const char *key = params->c.keys[i];
		const DocNode *val = params->c.items[i];
		if (streq(key, "lease"))
			continue;
		if ((streq(key, "reset") || streq(key, "signal")) && doc_type(val) == DOC_BOOL) {
			if (streq(key, "reset"))
				reset = val->b;
			else
				sig = val->b;
			continue;
		}
		return invalid_parameter(c, key);
	}
	if (bad || !id)
		return invalid_parameter(c, "lease");
	Manager *m = c->manager;
	Lease *l = lease_table_find(&m->leases, id);
	/* Staged contexts are dropped with DropStaged; a revoked lease is revoked once. */
	if (!l || l->state != LEASE_ACTIVE)
		return send_error_reason(c, "io.ioasid.Manager.NoSuchLease", "lease", id);
	char lid[33];
	snprintf(lid, sizeof(lid), "%s", l->id);
	/* Legacy VFIO has no detach: the holder's container and device fds keep the groups set
	 * on its container (and its mappings) until it closes them. Say so. */
	const char *state = l->mode == LEASE_MODE_LEGACY ? "revoked-not-detached" : "revoked";
	char cause[64];
	snprintf(cause, sizeof(cause), "revoke by uid %u", (unsigned)c->peer.uid);
	manager_revoke_lease(m, l, reset, sig,
			     &(AuditActor){ .method = "io.ioasid.Manager.Revoke", .cause = cause },
			     "revoked by an admin");
	json_object *p = json_object_new_object();
	json_object_object_add(p, "lease", json_object_new_string(lid));
	json_object_object_add(p, "state", json_object_new_string(state));
	return connection_reply(c, p, false);
}

void manager_revoke_lease(Manager *m, Lease *l, bool reset, bool sig, const AuditActor *by,
			  const char *why) {
	assert(l->state == LEASE_ACTIVE);
	/* An fd once sent cannot be taken back: block DMA through our own reference (detach),
	 * optionally reset, optionally signal the holder. */
	int r = lease_revoke_kernel(l, m->kernel, reset);
	if (r < 0)
		log_warning_errno(r, "Revoke %s: detach/reset failed: %m", l->id);
	/* The holder's copies keep the devices bound: their groups stay held until the kernel
	 * shows them closed (hold.c). */
	(void)hold_after_close(m, l);
	if (sig && l->pidfd >= 0 && pidfd_alive(l->pidfd) &&
	    caps_pidfd_send_signal(l->pidfd, SIGTERM) < 0)
		log_warning_errno(-errno, "Revoke %s: signalling the holder failed: %m", l->id);
	state_forget_lease(m, l);
	char reason[300];
	snprintf(reason, sizeof(reason), "%s%s%s%s", why, reset ? ", reset" : "",
		 sig ? ", signalled" : "", r < 0 ? ", detach failed" : "");
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "revoke",
		.message_id = IOASID_MESSAGE_REVOKE,
		.method = by->method,
		.cause = by->cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.rule = l->rule,
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.pid = l->pid,
		.unit = l->unit,
		.generation = m->generation,
	});
	methods_notify_lease(m, l, "lease-revoked");
	manager_update_status(m);
}

/* The identity a lease or staged context is re-evaluated with. Strings are borrowed from l;
 * groups is filled from the user database when l has no snapshot of the peer. */
static void lease_policy_peer(const Lease *l, gid_t *groups, int max_groups, PolicyPeer *ret) {
	*ret = (PolicyPeer){ .uid = l->uid, .gid = (gid_t)-1, .pid = l->pid, .unit = l->unit };
	if (l->peer_known) {
		ret->gid = l->gid;
		ret->groups = l->peer_groups;
		ret->n_groups = l->n_peer_groups;
		ret->have_pidfd = l->have_pidfd;
		ret->cgroup = l->cgroup;
		ret->user_unit = l->user_unit;
		ret->label = l->label;
		return;
	}
	/* A staged owner ("unit NAME") is only ever handed to a peer whose unit was pinned
	 * through its pidfd; a restored lease had its pidfd checked when it was acquired. The
	 * same identity Stage judged the owner with. */
	stage_owner_peer(l->uid, l->unit, groups, max_groups, ret);
	ret->pid = l->pid;
}

/* Does the current policy still allow l, every device? *ret_reason gets the first refusal. */
static bool lease_still_allowed(Manager *m, const Lease *l, char *reason, size_t size) {
	gid_t groups[256];
	PolicyPeer pp;
	lease_policy_peer(l, groups, (int)ELEMENTSOF(groups), &pp);
	for (size_t i = 0; i < l->n_devices; i++) {
		const Device *d = host_find_device(m->host, l->devices[i].bdf);
		if (!d) {
			snprintf(reason, size, "%s is gone from the host", l->devices[i].bdf);
			return false;
		}
		PolicyRequest preq = {
			.peer = &pp,
			.host = m->host,
			.device = d,
			.mode = l->mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND
							      : POLICY_MODE_ATTACHED,
			.layout = l->layout,
			.method = "io.ioasid.Manager.Reload",
		};
		PolicyDecision dec = { .allow = false };
		int r = m->policy ? policy_evaluate(m->policy, &preq, &dec) : -ENOENT;
		if (r < 0 || !dec.allow) {
			snprintf(reason, size, "policy generation %llu no longer allows %s: %s",
				 (unsigned long long)m->generation, d->bdf,
				 dec.reason[0] ? dec.reason : "no rule matched");
			return false;
		}
	}
	return true;
}

static void drop_staged(Manager *m, Lease *l, const AuditActor *by, const char *reason) {
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "drop-staged",
		.message_id = IOASID_MESSAGE_RELEASE,
		.method = by->method,
		.cause = by->cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.reason = reason,
		.lease = l->id,
		.uid = l->uid,
		.unit = l->unit,
		.generation = m->generation,
	});
	manager_end_lease_by(m, l, by, reason);
}

size_t manager_reevaluate(Manager *m, const AuditActor *by) {
	/* The records name the reload (and its generation) as the cause, not its caller. */
	const AuditActor reload = { .method = by ? by->method : NULL, .cause = "reload" };
	size_t n = 0;
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		char reason[512];
		if ((l->state != LEASE_STAGED && l->state != LEASE_ACTIVE) ||
		    lease_still_allowed(m, l, reason, sizeof(reason)))
			continue;
		n++;
		if (l->state == LEASE_STAGED) {
			drop_staged(m, l, &reload, reason);
			continue;
		}
		manager_revoke_lease(m, l, l->revoke_reset, l->revoke_signal, &reload, reason);
	}
	return n;
}

int manager_load_policy(const char *path, uint64_t generation, Policy **ret, PolicyError *err) {
	PolicyLoadOptions opts = {
		/* Refuse a file others than root could have written or pointed the path at
		 * (trusted_path_open()), whoever runs the daemon: --check-config answers for
		 * the root daemon, and a FIFO or a device is never opened. */
		.check_owner = true,
		.generation = generation,
	};
	return policy_load(path, &opts, ret, err);
}

void manager_warn_process_accounting(Manager *m) {
	_cleanup_free_ char *layouts = NULL;
	if (!m->rlimit_mode_eperm || !m->policy ||
	    policy_describe_process_accounting(m->policy, &layouts) <= 0)
		return;
	log_warning("Layouts %s use 'accounting process', which needs CAP_SYS_RESOURCE: ioasidd "
		    "lacks it, so every Acquire with them fails (iommufd-set-rlimit-mode: EPERM); "
		    "%s",
		    layouts, MANAGER_ACCOUNTING_FIX);
}

int manager_reload(Manager *m, const AuditActor *by, PolicyError *ret_error) {
	Policy *p = NULL;
	PolicyError e = { 0 };
	int r = manager_load_policy(m->config_path, m->generation + 1, &p, &e);
	if (r < 0) {
		/* Atomic: the old policy stays in force. */
		sd_notifyf(false, "STATUS=Reload failed, keeping generation %llu",
			   (unsigned long long)m->generation);
		log_full(LOG_ERR, 0,
		         "Reload of '%s' failed at %s:%u:%u: %s; keeping generation %llu",
		         m->config_path, e.file ? e.file : m->config_path, e.line, e.column,
		         e.message ? e.message : strerror(-r), (unsigned long long)m->generation);
		audit_log(&(AuditRecord){
			.action = "reload-failed",
			.message_id = IOASID_MESSAGE_RELOAD_FAILED,
			.method = by->method,
			.cause = by->cause,
			.reason = e.message ? e.message : strerror(-r),
			.uid = by->uid,
			.pid = by->pid,
			.unit = by->unit,
			.generation = m->generation,
		});
		if (ret_error)
			*ret_error = e;
		else
			policy_error_done(&e);
		return r;
	}
	policy_free(m->policy);
	m->policy = p;
	m->generation++;
	log_info("Policy '%s' reloaded, generation %llu", m->config_path,
		 (unsigned long long)m->generation);
	audit_log(&(AuditRecord){
		.action = "reload",
		.message_id = IOASID_MESSAGE_RELOAD,
		.method = by->method,
		.cause = by->cause,
		.reason = "policy reloaded",
		.uid = by->uid,
		.pid = by->pid,
		.unit = by->unit,
		.generation = m->generation,
	});
	manager_warn_process_accounting(m);
	/* Leases and staged contexts the new policy no longer allows end here, audited. */
	size_t n = manager_reevaluate(m, by);
	if (n > 0)
		log_info("Policy generation %llu revoked or dropped %zu lease(s)/staged context(s)",
			 (unsigned long long)m->generation, n);
	sd_notifyf(false, "STATUS=Serving, policy generation %llu",
	           (unsigned long long)m->generation);
	return 0;
}


void manager_device_gone(Manager *m, const char *bdf, const char *driver) {
	if (driver && strneq(driver, "vfio", 4))
		return;
	char reason[300];
	snprintf(reason, sizeof(reason), "%s %s%s", bdf, driver ? "rebound to " : "removed",
		 strempty(driver));
	const AuditActor gone = { .cause = "device-gone" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		bool has = false;
		for (size_t i = 0; !has && i < l->n_devices; i++)
			has = streq(l->devices[i].bdf, bdf);
		if (!has || lease_is_over(l))
			continue;
		bool staged = l->state == LEASE_STAGED;
		log_warning("Device %s while %s %s: %s", reason, staged ? "staged in" : "leased by",
			    l->id, staged ? "dropping it" : "revoking the lease");
		if (staged)
			drop_staged(m, l, &gone, reason);
		else if (l->state == LEASE_ACTIVE)
			manager_revoke_lease(m, l, false, l->revoke_signal, &gone, reason);
		else
			manager_end_lease_by(m, l, &gone, reason);
	}
}

void manager_stop_leases(Manager *m, const char *why) {
	const AuditActor stop = { .cause = "shutdown" };
	Lease *next = NULL;
	for (Lease *l = m->leases.head; l; l = next) {
		next = l->next;
		if (l->state == LEASE_ENDED)
			continue; /* recorded when it ended; only its files are still held */
		if (l->state == LEASE_STAGED)
			drop_staged(m, l, &stop, why);
		else if (l->stored && l->lifetime == POLICY_LIFETIME_PROCESS)
			continue; /* in the fdstore: the next instance restores it */
		else
			manager_end_lease_by(m, l, &stop, why);
	}
}

static int method_list_staged(Connection *c, const DocNode *params) {
	if (!peer_is_admin(c, "io.ioasid.Manager.ListStaged", true))
		return admin_denied(c);
	if (!no_params(c, params))
		return 0;
	json_object *arr = json_object_new_array();
	for (Lease *l = c->manager->leases.head; l; l = l->next) {
		if (l->state != LEASE_STAGED)
			continue;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(l->id));
		json_object_object_add(o, "layout",
				       json_object_new_string(l->layout ? l->layout : "default"));
		json_object_object_add(o, "owner", json_object_new_string(strempty(l->owner)));
		json_object_object_add(o, "mode",
		                       json_object_new_string(lease_mode_to_string(l->mode)));
		json_object *devs = json_object_new_array();
		for (size_t i = 0; i < l->n_devices; i++)
			json_object_array_add(devs, json_object_new_string(l->devices[i].bdf));
		json_object_object_add(o, "devices", devs);
		json_object_object_add(o, "created", json_object_new_int64((int64_t)l->created));
		json_object_object_add(o, "expires", json_object_new_int64((int64_t)l->expires));
		json_object_array_add(arr, o);
	}
	json_object *p = json_object_new_object();
	json_object_object_add(p, "staged", arr);
	return connection_reply(c, p, false);
}

static int method_drop_staged(Connection *c, const DocNode *params) {
	if (!peer_is_admin(c, "io.ioasid.Manager.DropStaged", true))
		return admin_denied(c);
	bool bad = false;
	const char *id = param_string(params, "id", &bad);
	const char *unknown = unknown_param(params, (const char *const[]){ "id", NULL });
	if (unknown)
		return invalid_parameter(c, unknown);
	if (bad || !id)
		return invalid_parameter(c, "id");
	Lease *l = lease_table_find(&c->manager->leases, id);
	if (!l || l->state != LEASE_STAGED)
		return send_error_reason(c, "io.ioasid.Manager.NoSuchStaged", "id", id);
	drop_staged(c->manager, l,
		    &(AuditActor){ .method = "io.ioasid.Manager.DropStaged", .cause = "request" },
		    "staged context dropped");
	return connection_reply(c, NULL, false);
}

int methods_dispatch(Connection *c, const char *method, const DocNode *params, unsigned flags) {
	/* Only Monitor streams; "more" on anything else is answered once, as Varlink allows. */
	if (streq(method, "org.varlink.service.GetInfo"))
		return method_get_info(c, params);
	if (streq(method, "org.varlink.service.GetInterfaceDescription"))
		return method_get_interface_description(c, params);
	if (streq(method, "io.ioasid.Broker.ListDevices"))
		return method_list_devices(c, params);
	if (streq(method, "io.ioasid.Broker.ListGroups"))
		return method_list_groups(c, params);
	if (streq(method, "io.ioasid.Broker.Acquire"))
		return method_acquire(c, params);
	if (streq(method, "io.ioasid.Broker.Release"))
		return method_release(c, params);
	if (streq(method, "io.ioasid.Broker.ListLeases"))
		return method_list_leases(c, params);
	if (streq(method, "io.ioasid.Broker.Monitor"))
		return method_monitor(c, params, flags);
	if (streq(method, "io.ioasid.Manager.Status"))
		return method_status(c, params);
	if (streq(method, "io.ioasid.Manager.Reload"))
		return method_reload(c, params);
	if (streq(method, "io.ioasid.Manager.Revoke"))
		return method_revoke(c, params);
	if (streq(method, "io.ioasid.Manager.Stage")) {
		if (!peer_is_admin(c, method, true))
			return admin_denied(c);
		return method_stage(c, params);
	}
	if (streq(method, "io.ioasid.Manager.ListStaged"))
		return method_list_staged(c, params);
	if (streq(method, "io.ioasid.Manager.DropStaged"))
		return method_drop_staged(c, params);
	/* Unknown: a named error, the connection stays. The name is validated by
	 * varlink_parse_call (bounded, [A-Za-z0-9.-]) so echoing it is safe. */
	const char *dot = strrchr(method, '.');
	size_t ilen = (size_t)(dot - method);
	bool known_iface = (ilen == strlen(IOASID_IFACE_SERVICE) &&
	                    strneq(method, IOASID_IFACE_SERVICE, ilen)) ||
	                   (ilen == strlen(IOASID_IFACE_BROKER) &&
	                    strneq(method, IOASID_IFACE_BROKER, ilen)) ||
	                   (ilen == strlen(IOASID_IFACE_MANAGER) &&
	                    strneq(method, IOASID_IFACE_MANAGER, ilen));
	if (!known_iface) {
		char iface[256];
		snprintf(iface, sizeof(iface), "%.*s", (int)ilen, method);
		return send_error_reason(c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", iface);
	}
	return send_error_reason(c, VARLINK_ERROR_METHOD_NOT_FOUND, "method", method);
}

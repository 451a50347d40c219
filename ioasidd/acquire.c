/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.ioasid.Broker.Acquire, in the order of DESIGN.md:
 *   1. resolve the request (BDFs, a group, or N devices of a pool) against the host model;
 *   2. policy decides per device (default deny), each decision audited;
 *   3. group check: every group free or this owner's; "group whole" takes the whole group,
 *      "group implicit" one device and the reply lists the siblings at risk;
 *   4. kernel: open the iommufd, per-process accounting, IOAS, layout, open each device
 *      (verified), bind + attach in attached mode; on a legacy kernel (no iommufd) one
 *      container per lease, each group's node set on it, TYPE1v2, a device fd per device;
 *   5. record the lease with the daemon's own references, send the reply with the fds.
 * Any failure rolls everything back (fds closed through the kernel seam) and only the named
 * error is sent.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/viability.h"
#include "ioasidd/ioasidd.h"
#include "ioasidd/log.h"

#define IOMMU_HW_CAP_DIRTY_TRACKING_BIT (1ULL << 0)

typedef struct Request {
	const Device *devices[IOASID_MAX_DEVICES_PER_REQUEST];
	size_t n_devices;
	LeaseMode mode;
	bool mode_set; /* the request named a mode */
	const char *layout;
	bool lifetime_set;
	PolicyLifetime lifetime;
	/* The grants of the rules that allowed the devices, merged (decide()). */
	unsigned max_devices, max_leases; /* the smallest non-zero */
	uint64_t memlock;                 /* the largest */
	bool whole;                       /* any grant says whole */
	PolicyLifetime grant_lifetime;    /* the first device's grant */
	bool revoke_reset, revoke_signal; /* any grant's on-revoke asks for it */
	bool share_reset, split_sriov;    /* every deciding grant says so */
	char rule[300];
	uint64_t generation;
} Request;

/*
 * One audit record per Acquire decision, written once the outcome is known, its action what
 * the client got: a deny when an error is sent after the policy was asked (whether the policy
 * or a later step refused), an allow only when the fds are delivered (acquire_audit_lease()).
 * The Acquire being served registers here; error_obj(), the one way its errors are sent,
 * notes the error. The daemon serves one request at a time.
 */
typedef struct AcquireAudit {
	Connection *c;
	const Request *rq;
	bool decided;      /* the policy was asked: the outcome is a decision */
	char rule[300];    /* the deciding rule ("" for the default deny) */
	char error[128];   /* the error sent, "" if none */
	char device[64];   /* the device the error names */
	char reason[512];
} AcquireAudit;

static AcquireAudit *acquire_audit;

/* The error's parameters as "key value, ..." (or its "reason" alone) for the record. */
static void acquire_audit_note(AcquireAudit *au, const char *error, json_object *p) {
	snprintf(au->error, sizeof(au->error), "%s", error);
	if (!p)
		return; /* out of memory for the parameters: the error name alone */
	json_object *v = NULL;
	if (json_object_object_get_ex(p, "device", &v) && json_object_is_type(v, json_type_string))
		snprintf(au->device, sizeof(au->device), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(p, "reason", &v) &&
	    json_object_is_type(v, json_type_string)) {
		snprintf(au->reason, sizeof(au->reason), "%s", json_object_get_string(v));
		return;
	}
	size_t j = 0;
	au->reason[0] = '\0';
	json_object_object_foreach(p, key, val) {
		if (json_object_is_type(val, json_type_array))
			val = json_object_array_length(val) > 0 ? json_object_array_get_idx(val, 0)
								  : NULL;
		if (!val || json_object_is_type(val, json_type_object) || j >= sizeof(au->reason))
			continue;
		j += (size_t)snprintf(au->reason + j, sizeof(au->reason) - j, "%s%s %s",
				      j ? ", " : "", key, json_object_get_string(val));
	}
}

/* Sends err with parameters built from alternating key/value pairs; values are json_object
 * (taken). Returns the send result. */
static int error_obj(Connection *c, const char *error, json_object *p) {
	if (acquire_audit && acquire_audit->c == c && !acquire_audit->error[0])
		acquire_audit_note(acquire_audit, error, p);
	return connection_error(c, error, p);
}

static json_object *obj(void) {
	return json_object_new_object();
}

/* k is a string literal: json-c keeps the pointer instead of a copy of the key (a reply has
 * a dozen keys and is built per Acquire). */
static void add(json_object *o, const char *k, json_object *v) {
	json_object_object_add_ex(o, k, v, JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static void add_str(json_object *o, const char *k, const char *v) {
	add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_int(json_object *o, const char *k, int64_t v) {
	add(o, k, json_object_new_int64(v));
}

/* The Acquire reply as a document; any failed allocation sets oom (checked once at the
 * end). Keys are string literals, as doc_add() requires. */
typedef struct ReplyDoc {
	Doc *d;
	bool oom;
} ReplyDoc;

static void rd_put(ReplyDoc *rd, DocNode *o, const char *k, DocNode *v) {
	if (!v || doc_add(rd->d, o, k, v) < 0)
		rd->oom = true;
}

static void rd_null(ReplyDoc *rd, DocNode *o, const char *k) {
	if (doc_add(rd->d, o, k, NULL) < 0)
		rd->oom = true;
}

static void rd_str(ReplyDoc *rd, DocNode *o, const char *k, const char *v) {
	rd_put(rd, o, k, doc_string(rd->d, v));
}

static void rd_int(ReplyDoc *rd, DocNode *o, const char *k, int64_t v) {
	rd_put(rd, o, k, doc_int(rd->d, v));
}

static void rd_push(ReplyDoc *rd, DocNode *a, DocNode *v) {
	if (!v || doc_append(rd->d, a, v) < 0)
		rd->oom = true;
}

/* A string list as an array (empty for NULL). */
static DocNode *rd_strv(ReplyDoc *rd, char **l) {
	DocNode *a = doc_array(rd->d);
	for (char **s = l; a && s && *s; s++)
		rd_push(rd, a, doc_string(rd->d, *s));
	return a;
}

static int invalid(Connection *c, const char *param) {
	json_object *p = obj();
	add_str(p, "parameter", param);
	return error_obj(c, VARLINK_ERROR_INVALID_PARAMETER, p);
}

static int system_error(Connection *c, int err, const char *operation, const char *device) {
	json_object *p = obj();
	add_int(p, "errno", abs(err));
	add_str(p, "errnoName", strna(errno_name(err)));
	add_str(p, "operation", operation);
	add_str(p, "device", device);
	log_info("Acquire for uid %u failed: %s%s%s: %s", (unsigned)c->peer.uid, operation,
		 device ? " " : "", strempty(device), strerror(abs(err)));
	return error_obj(c, IOASID_ERROR_SYSTEM, p);
}

static bool request_has(const Request *rq, const Device *d) {
	for (size_t i = 0; i < rq->n_devices; i++)
		if (rq->devices[i] == d)
			return true;
	return false;
}

static int request_push(Request *rq, const Device *d) {
	if (request_has(rq, d))
		return 0;
	if (rq->n_devices >= ELEMENTSOF(rq->devices))
		return -E2BIG;
	rq->devices[rq->n_devices++] = d;
	return 1;
}

static const char *owner_text(const Connection *c, const Lease *l, char *buf, size_t size) {
	if (hold_describe(l, l->uid == c->peer.uid, buf, size) > 0)
		; /* revoked or ended, its files still open elsewhere: named to its holder */
	else if (l->state == LEASE_STAGED && l->uid == c->peer.uid)
		/* The owner asked with another mode, layout or device set than was staged. */
		snprintf(buf, size, "staged for %s", strempty(l->owner));
	else if (l->state == LEASE_STAGED)
		/* As for leases, a tenant does not learn who else holds a group; an admin sees it
		 * in ListStaged. */
		snprintf(buf, size, "staged for another owner");
	else if (l->uid == c->peer.uid)
		snprintf(buf, size, "uid:%u (lease %s)", (unsigned)l->uid, l->id);
	else
		snprintf(buf, size, "another user");
	return buf;
}

/* Step 1. Returns 0 when resolved, 1 when an error reply was sent. */
static int resolve(Connection *c, const DocNode *params, Request *rq) {
	Manager *m = c->manager;
	/* JSON null counts as absent (Varlink optional fields): a null member is a NULL node. */
	const DocNode *devices = NULL, *group = NULL, *pool = NULL, *count = NULL;
	for (size_t i = 0; i < params->c.n; i++) {
		const char *key = params->c.keys[i];
		const DocNode *val = params->c.items[i];
		if (streq(key, "devices"))
			devices = val;
		else if (streq(key, "group"))
			group = val;
		else if (streq(key, "pool"))
			pool = val;
		else if (streq(key, "count"))
			count = val;
		else if (streq(key, "mode")) {
			if (!doc_str(val) || lease_mode_from_string(doc_str(val), &rq->mode) < 0)
				return invalid(c, "mode"), 1;
			rq->mode_set = true;
		} else if (streq(key, "layout")) {
			if (isempty(doc_str(val)) || val->str.len > 255)
				return invalid(c, "layout"), 1;
			rq->layout = doc_str(val);
		} else if (streq(key, "lifetime")) {
			const char *s = strempty(doc_str(val));
			if (streq(s, "connection"))
				rq->lifetime = POLICY_LIFETIME_CONNECTION;
			else if (streq(s, "process"))
				rq->lifetime = POLICY_LIFETIME_PROCESS;
			else
				return invalid(c, "lifetime"), 1;
			rq->lifetime_set = true;
		} else
			return invalid(c, key), 1;
	}
	if (!!devices + !!group + !!pool != 1)
		return invalid(c, devices ? (group ? "group" : "pool") : "devices"), 1;
	if (count && !pool)
		return invalid(c, "count"), 1;

	if (devices) {
		if (doc_type(devices) != DOC_ARRAY)
			return invalid(c, "devices"), 1;
		size_t n = doc_len(devices);
		if (n == 0 || n > IOASID_MAX_DEVICES_PER_REQUEST)
			return invalid(c, "devices"), 1;
		for (size_t i = 0; i < n; i++) {
			const char *e = doc_str(doc_at(devices, i));
			char bdf[BDF_MAX];
			if (!e || bdf_parse(e, bdf) < 0)
				return invalid(c, "devices"), 1;
			const Device *d = host_find_device(m->host, bdf);
			if (!d) {
				json_object *p = obj();
				add_str(p, "device", bdf);
				return error_obj(c, IOASID_ERROR_NO_SUCH_DEVICE, p), 1;
			}
			if (request_has(rq, d))
				return invalid(c, "devices"), 1;
			request_push(rq, d);
		}
	} else if (group) {
		if (doc_type(group) != DOC_INT)
			return invalid(c, "group"), 1;
		int64_t n = group->i;
		const Group *g = n >= 0 && n <= INT32_MAX ? host_find_group(m->host, (int)n) : NULL;
		if (!g) {
			json_object *p = obj();
			char buf[32];
			snprintf(buf, sizeof(buf), "group %lld", (long long)n);
			add_str(p, "device", buf);
			return error_obj(c, IOASID_ERROR_NO_SUCH_DEVICE, p), 1;
		}
		for (size_t i = 0; i < g->n_members; i++)
			if (!device_is_bridge(g->members[i]) && request_push(rq, g->members[i]) < 0)
				return invalid(c, "group"), 1;
		if (rq->n_devices == 0)
			return invalid(c, "group"), 1;
	} else {
		const char *name = doc_str(pool);
		if (!name)
			return invalid(c, "pool"), 1;
		int64_t want = 1;
		if (count) {
			if (doc_type(count) != DOC_INT)
				return invalid(c, "count"), 1;
			want = count->i;
			if (want < 1 || want > IOASID_MAX_DEVICES_PER_REQUEST)
				return invalid(c, "count"), 1;
		}
		/* Free, viable devices of the pool, in BDF order. */
		for (size_t i = 0; i < m->host->n_devices && (int64_t)rq->n_devices < want; i++) {
			const Device *d = &m->host->devices[i];
			int r = policy_pool_match(m->policy, name, m->host, d);
			if (r == -ENOENT)
				return invalid(c, "pool"), 1;
			if (r <= 0 || !device_vfio_usable(m->host, d) || d->iommu_group < 0)
				continue;
			/* A lease let go of and not probed yet counts as holding its groups:
			 * probed before its group is passed over. */
			const Lease *o = lease_table_group_owner(&m->leases, d->iommu_group);
			if (o && o->probe_due && hold_settle(m))
				o = lease_table_group_owner(&m->leases, d->iommu_group);
			if (o)
				continue;
			Viability v = { 0 };
			r = viability_device(m->host, d, &v);
			if (r < 0) /* the daemon's failure, not the device's */
				return system_error(c, r, "viability", d->bdf), 1;
			bool ok = v.verdict == VERDICT_VIABLE;
			viability_done(&v);
			if (ok)
				request_push(rq, d);
		}
		if ((int64_t)rq->n_devices < want) {
			json_object *p = obj();
			char buf[300];
			snprintf(buf, sizeof(buf), "pool %s", name);
			add_str(p, "device", buf);
			snprintf(buf, sizeof(buf), "%zu of %lld requested devices free",
				 rq->n_devices, (long long)want);
			add_str(p, "reason", buf);
			return error_obj(c, IOASID_ERROR_DEVICE_BUSY, p), 1;
		}
	}
	return 0;
}

/* Step 2 for one device. Returns 0 allowed, 1 when the deny was sent. */
static int decide(Connection *c, Request *rq, const Device *d, bool first) {
	Manager *m = c->manager;
	PolicyPeer pp;
	peer_to_policy(&c->peer, &pp);
	PolicyRequest preq = {
		.peer = &pp,
		.host = m->host,
		.device = d,
		.mode = rq->mode == LEASE_MODE_UNBOUND ? POLICY_MODE_UNBOUND : POLICY_MODE_ATTACHED,
		.layout = rq->layout,
		.method = "io.ioasid.Broker.Acquire",
	};
	PolicyDecision dec = { .allow = false };
	int r = m->policy ? policy_evaluate(m->policy, &preq, &dec) : -ENOENT;
	bool allow = r >= 0 && dec.allow;
	const char *reason = dec.reason[0] ? dec.reason : (allow ? "allowed" : "no rule matched");
	/* Fail closed on what policy cannot see: noiommu cdevs need the explicit setting. */
	const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
	if (allow && d->noiommu && !(ps && ps->allow_noiommu)) {
		allow = false;
		reason = "noiommu device and allow_noiommu is off";
	}
	if (allow && rq->lifetime_set && rq->lifetime == POLICY_LIFETIME_PROCESS &&
	    !c->peer.have_pidfd) {
		allow = false;
		reason = "process lifetime needs SO_PEERPIDFD";
	}
	char rule[300] = "";
	if (dec.file)
		snprintf(rule, sizeof(rule), "%s:%u", dec.file, dec.line);
	/* Audited with the outcome (AcquireAudit): the rule that denied, or the first grant's. */
	if (acquire_audit && (first || !allow)) {
		acquire_audit->decided = true;
		snprintf(acquire_audit->rule, sizeof(acquire_audit->rule), "%s", rule);
	}
	if (!allow) {
		json_object *p = obj();
		add_str(p, "reason", reason);
		add_str(p, "rule", dec.file ? rule : NULL);
		add_str(p, "device", d->bdf);
		add_int(p, "generation", (int64_t)m->generation);
		return error_obj(c, IOASID_ERROR_PERMISSION_DENIED, p), 1;
	}
	/*
	 * Merge the grants of the rules that allowed the devices (ioasid.conf(5), "One Acquire,
	 * several rules"): every rule's limits hold, so the tightest max-devices and max-leases
	 * win, and group whole if any rule says whole. memlock is a raise, not a limit: the
	 * daemon never lowers RLIMIT_MEMLOCK and the limit is the process's, so the largest
	 * grant is what the holder would reach by acquiring the devices one at a time anyway.
	 * on-revoke actions add up: a device whose rule asks for a reset is reset even when
	 * another device's rule asks for a signal.
	 */
	const PolicyGrant *g = &dec.grant;
	if (g->max_devices && (!rq->max_devices || g->max_devices < rq->max_devices))
		rq->max_devices = g->max_devices;
	if (g->max_leases && (!rq->max_leases || g->max_leases < rq->max_leases))
		rq->max_leases = g->max_leases;
	if (g->memlock > rq->memlock)
		rq->memlock = g->memlock;
	if (g->group_mode == POLICY_GROUP_WHOLE)
		rq->whole = true;
	if (g->on_revoke == POLICY_REVOKE_DETACH_RESET)
		rq->revoke_reset = true;
	if (g->on_revoke == POLICY_REVOKE_SIGNAL)
		rq->revoke_signal = true;
	rq->share_reset = g->share_reset && (first || rq->share_reset);
	rq->split_sriov = g->split_sriov && (first || rq->split_sriov);
	if (first) {
		rq->grant_lifetime = g->lifetime;
		snprintf(rq->rule, sizeof(rq->rule), "%s", rule);
	}
	return 0;
}

static void group_blockers(const Host *h, const Device *d, json_object *arr,
			   const char **ret_first) {
	Viability v = { 0 };
	*ret_first = NULL;
	if (viability_device(h, d, &v) < 0)
		return;
	for (size_t i = 0; i < v.n_blockers; i++) {
		json_object_array_add(arr, json_object_new_string(v.blockers[i].reason));
		if (!*ret_first)
			*ret_first = v.blockers[i].device->bdf;
	}
	viability_done(&v);
}

static int not_viable(Connection *c, const Device *d) {
	json_object *p = obj();
	json_object *arr = json_object_new_array();
	const char *first = NULL;
	group_blockers(c->manager->host, d, arr, &first);
	if (d->iommu_group < 0 && json_object_array_length(arr) == 0)
		json_object_array_add(
		        arr,
		        json_object_new_string("the device has no IOMMU group (IOMMU off or not "
		                               "covering it)"));
	if (!device_vfio_usable(c->manager->host, d) && json_object_array_length(arr) == 0) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s has no VFIO device node: bind it to vfio-pci",
			 d->bdf);
		json_object_array_add(arr, json_object_new_string(buf));
	}
	add_int(p, "group", d->iommu_group);
	add_str(p, "device", first ? first : d->bdf);
	json_object_object_add(p, "blockers", arr);
	return error_obj(c, IOASID_ERROR_GROUP_NOT_VIABLE, p);
}

/* Step 3. Returns 0 or 1 when an error was sent. */
static int group_check(Connection *c, Request *rq, char ***ret_at_risk) {
	Manager *m = c->manager;
	char **at_risk = NULL;
	for (size_t i = 0; i < rq->n_devices; i++) {
		const Device *d = rq->devices[i];
		if (d->iommu_group < 0 || !d->group)
			return not_viable(c, d), strv_free(at_risk), 1;
		if (!m->testing_bypass) {
			/* A revoked or ended lease holds the group only while the kernel shows
			 * its files held: ask the kernel again before refusing. */
			Lease *gl = lease_table_group_owner(&m->leases, d->iommu_group);
			if (gl && lease_is_over(gl))
				hold_recheck(m, d->iommu_group);
			/* A staged context answers GroupOwned below, naming its owner, and so
			 * does a lease held after its end. */
			Lease *l = lease_table_device_owner(&m->leases, d->bdf);
			if (l && (l->state == LEASE_PENDING || l->state == LEASE_ACTIVE)) {
				json_object *p = obj();
				char buf[128], o[96];
				add_str(p, "device", d->bdf);
				snprintf(buf, sizeof(buf), "leased to %s",
					 owner_text(c, l, o, sizeof(o)));
				add_str(p, "reason", buf);
				strv_free(at_risk);
				return error_obj(c, IOASID_ERROR_DEVICE_BUSY, p), 1;
			}
			l = lease_table_group_owner(&m->leases, d->iommu_group);
			if (l) {
				json_object *p = obj();
				char o[300];
				add_int(p, "group", d->iommu_group);
				add_str(p, "device", d->bdf);
				add_str(p, "owner", owner_text(c, l, o, sizeof(o)));
				strv_free(at_risk);
				return error_obj(c, IOASID_ERROR_GROUP_OWNED, p), 1;
			}
			Viability v = { 0 };
			int r = viability_device(m->host, d, &v);
			if (r < 0) /* ENOMEM is the daemon's failure: "not viable" would be a lie */
				return strv_free(at_risk), system_error(c, r, "viability", d->bdf), 1;
			bool ok = v.verdict == VERDICT_VIABLE;
			viability_done(&v);
			if (!ok || !device_vfio_usable(m->host, d))
				return not_viable(c, d), strv_free(at_risk), 1;
		}
		/* Siblings not taken are at risk: they share the DMA isolation boundary. */
		const Group *g = d->group;
		for (size_t j = 0; j < g->n_members; j++) {
			const Device *s = g->members[j];
			if (device_is_bridge(s) || request_has(rq, s) ||
			    strv_contains(at_risk, s->bdf))
				continue;
			if (strv_extend(&at_risk, s->bdf) < 0)
				return strv_free(at_risk),
				       system_error(c, -ENOMEM, "acquire", NULL), 1;
		}
	}
	*ret_at_risk = at_risk;
	return 0;
}

/* The owner process exited: the lease ends even if its connection stays. */
int lease_on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
	Lease *l = userdata;
	manager_end_lease_by(l->manager, l, &(AuditActor){ .cause = "process-exit" },
			     "owner process exited");
	return 0;
}

static int kernel_error(Connection *c, int r, const char *op, const Device *d,
			const char *layout) {
	Manager *m = c->manager;
	/* group-open is the legacy path's claim of the group: SET_CONTAINER refuses like BIND. */
	if (streq(op, "device-open") || streq(op, "device-bind") || streq(op, "group-open")) {
		if (r == -EPERM && (streq(op, "device-bind") || streq(op, "group-open"))) {
			/* A sibling on a host driver makes the kernel refuse DMA ownership. */
			json_object *arr = json_object_new_array();
			const char *first = NULL;
			group_blockers(m->host, d, arr, &first);
			if (first) {
				json_object *p = obj();
				add_int(p, "group", d->iommu_group);
				add_str(p, "device", first);
				json_object_object_add(p, "blockers", arr);
				return error_obj(c, IOASID_ERROR_GROUP_NOT_VIABLE, p);
			}
			json_object_put(arr);
			if (m->host->kernel.interrupt_remapping == TRI_NO)
				/* MSI cannot be isolated: a host fact, not a holder. */
				return system_error(c, r, "device-bind (no interrupt remapping)",
				                    d->bdf);
		}
		if (r == -EACCES && d && d->physfn)
			/* vfio_pci_core_match_token_uuid(): a VF of a PF on vfio-pci binds only with
			 * the VF token its PF's user set, which the daemon does not have. */
			return system_error(c, r,
					    streq(op, "device-bind")
						    ? "device-bind (a VF of a PF on vfio-pci needs the "
						      "PF's VF token: acquire it in unbound mode)"
						    : op,
					    d->bdf);
		if (r == -EBUSY || r == -EINVAL || r == -EPERM) {
			json_object *p = obj();
			char buf[128];
			add_str(p, "device", d->bdf);
			snprintf(buf, sizeof(buf),
			         "%s failed with %s: still held by a previous holder", op,
			         strna(errno_name(r)));
			add_str(p, "reason", buf);
			return error_obj(c, IOASID_ERROR_DEVICE_BUSY, p);
		}
		if (r == -ENODEV || r == -ENOENT) {
			json_object *p = obj();
			add_str(p, "device", d->bdf);
			return error_obj(c, IOASID_ERROR_NO_SUCH_DEVICE, p);
		}
	}
	if (r == -EADDRINUSE) {
		json_object *p = obj();
		add_str(p, "layout", layout ? layout : "(default)");
		json_object *arr = json_object_new_array();
		if (d && d->group)
			for (size_t i = 0; i < d->group->n_regions; i++) {
				char buf[96];
				const ReservedRegion *rr = &d->group->regions[i];
				snprintf(buf, sizeof(buf), "0x%016llx-0x%016llx %s",
					 (unsigned long long)rr->start, (unsigned long long)rr->end,
					 reserved_region_type_to_string(rr->type));
				json_object_array_add(arr, json_object_new_string(buf));
			}
		json_object_object_add(p, "conflicts", arr);
		return error_obj(c, IOASID_ERROR_LAYOUT_CONFLICT, p);
	}
	return system_error(c, r, op, d ? d->bdf : NULL);
}

/*
 * raise_memlock: raises the holder's RLIMIT_MEMLOCK to bytes (0 = leave it) with prlimit,
 * the pid checked through the peer's pidfd before and after (a pid reused in between would
 * make the read-back someone else's), then reads the limit back. Returns the soft limit the
 * holder ends up with (UINT64_MAX = unlimited), or -errno when it cannot be known (no pidfd,
 * the holder exited). Every shortfall is a warning: the grant's memlock above the result, or
 * a failed prlimit (without CAP_SYS_RESOURCE only up to the holder's hard limit works).
 */
/* The soft and hard RLIMIT_MEMLOCK of pid as a struct rlimit, from /proc/PID/limits. */
static int proc_memlock(pid_t pid, struct rlimit *ret) {
	uint64_t soft, hard;
	int r = proc_read_memlock(pid, &soft, &hard);
	if (r < 0)
		return r;
	ret->rlim_cur = soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)soft;
	ret->rlim_max = hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)hard;
	return 0;
}

static int64_t raise_memlock(Connection *c, uint64_t bytes, char ***warnings) {
	char buf[256];
	if (!c->peer.have_pidfd || c->peer.pid <= 0) {
		if (bytes > 0)
			strv_extend(warnings, "RLIMIT_MEMLOCK not raised: peer pid unknown");
		return -ESRCH;
	}
	pid_t pid = c->peer.pid;
	struct rlimit old, now;
	/* Only a raise needs the limit before and the pid checked before it writes; a read
	 * alone is vouched for by the check after it (a live peer still owns its pid). */
	if (bytes > 0 &&
	    (!pidfd_alive(c->peer.pidfd) ||
	     (caps_prlimit(pid, RLIMIT_MEMLOCK, NULL, &old) < 0 && proc_memlock(pid, &old) < 0)))
		return -ESRCH;
	if (bytes > 0) {
		rlim_t want = bytes == UINT64_MAX ? RLIM_INFINITY : (rlim_t)bytes;
		struct rlimit rl = { .rlim_cur = want, .rlim_max = want };
		if (old.rlim_max == RLIM_INFINITY || (want != RLIM_INFINITY && old.rlim_max > want))
			rl.rlim_max = old.rlim_max; /* never lower the hard limit */
		if (old.rlim_cur != RLIM_INFINITY &&
		    (want == RLIM_INFINITY || old.rlim_cur < want) &&
		    caps_prlimit(pid, RLIMIT_MEMLOCK, &rl, NULL) < 0) {
			snprintf(buf, sizeof(buf), "RLIMIT_MEMLOCK of pid %d not raised: %s",
				 (int)pid, strerror(errno));
			strv_extend(warnings, buf);
		}
	}
	/* Read back, and only trust the value while the pidfd says it is still the peer. */
	if ((caps_prlimit(pid, RLIMIT_MEMLOCK, NULL, &now) < 0 && proc_memlock(pid, &now) < 0) ||
	    !pidfd_alive(c->peer.pidfd))
		return -ESRCH;
	uint64_t got = now.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)now.rlim_cur;
	if (bytes > 0 && got < bytes) {
		snprintf(buf, sizeof(buf),
			 "RLIMIT_MEMLOCK of pid %d is %llu bytes, below the %llu the policy grants",
			 (int)pid, (unsigned long long)got, (unsigned long long)bytes);
		strv_extend(warnings, buf);
	}
	return (int64_t)MIN(got, (uint64_t)INT64_MAX);
}

/* iommufd, or the legacy group/container API, found by the seam's probe. Returns 0, or 1
 * when the SystemError was sent. */
static int kernel_api_check(Connection *c) {
	KernelApi api = kernel_api(c->manager->kernel);
	if (api == KERNEL_API_IOMMUFD || api == KERNEL_API_LEGACY)
		return 0;
	return system_error(c, -ENODEV, "open /dev/iommu", NULL), 1;
}

/* Distinct IOMMU groups of the request: in legacy mode each may add a group fd. */
static size_t request_n_groups(const Request *rq) {
	size_t n = 0;
	for (size_t i = 0; i < rq->n_devices; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = rq->devices[j]->iommu_group == rq->devices[i]->iommu_group;
		n += !seen;
	}
	return n;
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

/*
 * Step 4 on a legacy kernel: one container per lease; each group's node opened, checked
 * viable and set on it (the group node covers every device of the group, so exclusivity
 * stays per group, as the lease table keeps it); VFIO_SET_IOMMU(TYPE1v2) once; a device fd
 * per requested device. No IOAS, so no layout: a request naming one is refused, and so is
 * unbound mode (the container must have its IOMMU set before any device fd exists). The
 * lease owns every fd from the moment it is opened. Returns 0, or 1 when the error was sent
 * (the caller frees l: that is the rollback).
 */
static int build_legacy(Connection *c, const Request *rq, Lease *l) {
	Manager *m = c->manager;
	int r;

	if (rq->mode == LEASE_MODE_UNBOUND)
		return system_error(c, -EOPNOTSUPP, "unbound mode on legacy VFIO (no iommufd)",
				    NULL), 1;
	if (rq->layout) {
		json_object *p = obj();
		add_str(p, "layout", rq->layout);
		json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(
		        "legacy VFIO (no iommufd): there is no IOAS to apply a layout to; the client "
		        "maps through the container itself"));
		json_object_object_add(p, "conflicts", arr);
		return error_obj(c, IOASID_ERROR_LAYOUT_CONFLICT, p), 1;
	}
	l->mode = LEASE_MODE_LEGACY;
	r = kernel_legacy_container_open(m->kernel, &l->container);
	if (r < 0)
		return kernel_error(c, r, "container-open", NULL, NULL), 1;
	for (size_t i = 0; i < rq->n_devices; i++) {
		const Device *d = rq->devices[i];
		if (lease_legacy_group(l, d->iommu_group))
			continue;
		int fd = -EBADF;
		r = kernel_legacy_group_open(m->kernel, d->iommu_group, l->container, &fd);
		if (r < 0)
			return kernel_error(c, r, "group-open", d, NULL), 1;
		r = lease_add_legacy_group(l, d->iommu_group, fd);
		if (r < 0) {
			kernel_close(m->kernel, fd);
			return system_error(c, r, "lease", NULL), 1;
		}
	}
	r = kernel_legacy_set_iommu(m->kernel, l->container);
	if (r < 0)
		return kernel_error(c, r, "set-iommu", NULL, NULL), 1;
	for (size_t i = 0; i < rq->n_devices; i++) {
		const Device *d = rq->devices[i];
		int fd = -EBADF;
		r = kernel_legacy_device_open(m->kernel, lease_legacy_group(l, d->iommu_group)->fd,
					      d, &fd);
		if (r < 0)
			return kernel_error(c, r, "device-open", d, NULL), 1;
		r = lease_add_device(l, d->bdf, d->iommu_group, fd);
		if (r < 0) {
			if (l->n_devices == 0 || l->devices[l->n_devices - 1].fd != fd)
				kernel_close(m->kernel, fd);
			return system_error(c, r, "lease", NULL), 1;
		}
	}
	for (size_t i = 0; i < l->n_legacy_groups; i++)
		l->legacy_groups[i].handed_out =
		        lease_covers_group(l, host_find_group(m->host, l->legacy_groups[i].group));
	return 0;
}

/*
 * Puts the caller and the terms of its request on l: owner (uid, pid, unit, peer), lifetime,
 * policy generation, on-revoke action, memlock grant and deciding rule. For a fresh lease
 * and for a staged one the caller takes over. 0, or -ENOMEM with l's unit and rule as they
 * were.
 */
static int lease_take_caller(Lease *l, const Connection *c, const Request *rq) {
	_cleanup_free_ char *unit = NULL, *rule = NULL;
	if ((c->peer.unit && !(unit = strdup(c->peer.unit))) ||
	    (rq->rule[0] && !(rule = strdup(rq->rule))))
		return -ENOMEM;
	free(l->unit);
	l->unit = TAKE_PTR(unit);
	free(l->rule);
	l->rule = TAKE_PTR(rule);
	l->uid = c->peer.uid;
	l->pid = c->peer.pid;
	l->lifetime = rq->lifetime;
	l->generation = c->manager->generation;
	l->revoke_reset = rq->revoke_reset;
	l->revoke_signal = rq->revoke_signal;
	l->memlock_granted = rq->memlock;
	l->share_reset = rq->share_reset;
	l->split_sriov = rq->split_sriov;
	return lease_set_peer(l, &c->peer);
}

/*
 * Step 4: the kernel context for rq, owned by a new (unlinked) lease: iommufd, accounting,
 * IOAS and layout (attached mode), each device opened (verified by the seam), bound and
 * attached in attached mode. Returns 0 with *ret, or 1 when the error was sent to c and
 * everything was rolled back.
 */
static int build_context(Connection *c, const Request *rq, const PolicyLayout *layout,
			 char ***warnings_out, Lease **ret) {
	Manager *m = c->manager;
	char **warnings = *warnings_out;
	/* 4. kernel. The lease owns every fd from the moment it is opened: freeing it is the
	 * rollback. */
	KernelApi api = kernel_api(m->kernel);
	if (api != KERNEL_API_IOMMUFD && api != KERNEL_API_LEGACY)
		return system_error(c, -ENODEV, "open /dev/iommu", NULL), 1;
	Lease *l = NULL;
	int r = lease_new(&l);
	if (r < 0)
		return system_error(c, r, "lease", NULL), 1;
#define FAIL(expr)                                                                                 \
	do {                                                                                       \
		(void)(expr);                                                                      \
		lease_free(l, m->kernel);                                                          \
		*warnings_out = warnings;                                                          \
		return 1;                                                                          \
	} while (0)

	l->manager = m;
	l->mode = rq->mode;
	if (lease_take_caller(l, c, rq) < 0 || (rq->layout && !(l->layout = strdup(rq->layout))))
		FAIL(system_error(c, -ENOMEM, "lease", NULL));

	if (api == KERNEL_API_LEGACY) {
		if (build_legacy(c, rq, l) > 0)
			FAIL(0);
		*warnings_out = warnings;
		*ret = l;
		return 0;
	}

	r = kernel_iommufd_open(m->kernel, &l->iommufd);
	if (r < 0)
		FAIL(kernel_error(c, r, "iommufd-open", NULL, rq->layout));
	if (layout && layout->accounting == POLICY_ACCOUNTING_PROCESS) {
		bool raised = caps_raise(CAP_SYS_RESOURCE);
		r = kernel_iommufd_set_rlimit_mode(m->kernel, l->iommufd, true);
		caps_lower(CAP_SYS_RESOURCE, raised);
		if (r < 0)
			FAIL(kernel_error(c, r, "iommufd-set-rlimit-mode", NULL, rq->layout));
	}
	/* The IOAS and its layout only exist in attached mode: an unbound client (QEMU)
	 * allocates and shapes its own IOAS, so the daemon cannot enforce windows for it. */
	if (rq->mode == LEASE_MODE_ATTACHED) {
		r = kernel_ioas_alloc(m->kernel, l->iommufd, &l->ioas_id);
		if (r < 0)
			FAIL(kernel_error(c, r, "ioas-alloc", NULL, rq->layout));
		if (policy_layout_has_windows(layout)) {
			/* Written windows, or `iova auto max` resolved for these devices. */
			IovaRange *w = NULL;
			size_t n_w = 0;
			long ps = sysconf(_SC_PAGESIZE);
			r = policy_layout_windows(layout, m->host, rq->devices, rq->n_devices,
						  ps > 0 ? (uint64_t)ps : 4096, &w, &n_w);
			if (r >= 0)
				r = kernel_ioas_allow_iovas(m->kernel, l->iommufd, l->ioas_id, w,
							    n_w);
			free(w);
			if (r < 0)
				FAIL(kernel_error(c, r, "ioas-allow-iovas", NULL, rq->layout));
		}
		if (layout && !layout->huge_pages) {
			r = kernel_ioas_set_huge_pages(m->kernel, l->iommufd, l->ioas_id, false);
			if (r < 0)
				FAIL(kernel_error(c, r, "ioas-set-huge-pages", NULL, rq->layout));
		}
	} else if (policy_layout_needs_attached(layout))
		strv_extend(&warnings,
		            "unbound mode: the layout's IOVA windows and huge-page "
		            "setting are not applied (the client allocates its own IOAS)");
	for (size_t i = 0; i < rq->n_devices; i++) {
		const Device *d = rq->devices[i];
		int fd = -EBADF;
		r = kernel_device_open(m->kernel, d, &fd);
		if (r < 0)
			FAIL(kernel_error(c, r, "device-open", d, rq->layout));
		r = lease_add_device(l, d->bdf, d->iommu_group, fd);
		if (r < 0) {
			if (l->n_devices == 0 || l->devices[l->n_devices - 1].fd != fd)
				kernel_close(m->kernel, fd);
			FAIL(system_error(c, r, "lease", NULL));
		}
	}
	if (rq->mode == LEASE_MODE_ATTACHED) {
		for (size_t i = 0; i < l->n_devices; i++) {
			r = kernel_device_bind(m->kernel, l->devices[i].fd, l->iommufd,
					       &l->devices[i].dev_id);
			if (r < 0)
				FAIL(kernel_error(c, r, "device-bind", rq->devices[i], rq->layout));
		}
		for (size_t i = 0; i < l->n_devices; i++) {
			r = kernel_device_attach(m->kernel, l->devices[i].fd, l->ioas_id,
						 &l->devices[i].hwpt_id);
			if (r < 0)
				FAIL(kernel_error(c, r, "device-attach", rq->devices[i],
				                  rq->layout));
		}
		for (char **req = layout ? layout->require : NULL; req && *req; req++) {
			if (!streq(*req, "dirty-tracking")) {
				json_object *p = obj();
				char buf[300];
				add_str(p, "layout", rq->layout);
				json_object *arr = json_object_new_array();
				snprintf(buf, sizeof(buf), "unknown capability '%s'", *req);
				json_object_array_add(arr, json_object_new_string(buf));
				json_object_object_add(p, "conflicts", arr);
				FAIL(error_obj(c, IOASID_ERROR_LAYOUT_CONFLICT, p));
			}
			for (size_t i = 0; i < l->n_devices; i++) {
				KernelHwInfo hw = { 0 };
				r = kernel_hw_info(m->kernel, l->iommufd, l->devices[i].dev_id,
						   &hw);
				if (r < 0)
					FAIL(kernel_error(c, r, "hw-info", rq->devices[i],
					                  rq->layout));
				if (!(hw.capabilities & IOMMU_HW_CAP_DIRTY_TRACKING_BIT)) {
					json_object *p = obj();
					char buf[300];
					add_str(p, "layout", rq->layout);
					json_object *arr = json_object_new_array();
					snprintf(buf, sizeof(buf),
					         "%s: IOMMU has no dirty tracking",
					         l->devices[i].bdf);
					json_object_array_add(arr, json_object_new_string(buf));
					json_object_object_add(p, "conflicts", arr);
					FAIL(error_obj(c, IOASID_ERROR_LAYOUT_CONFLICT, p));
				}
			}
		}
	}

	*warnings_out = warnings;
	*ret = l;
	return 0;
#undef FAIL
}

/*
 * Step 5: l (fresh from build_context(), or a staged context already in the table) becomes
 * c's lease: owner, lifetime, pidfd watch, the table, the fdstore, then the reply with the
 * fds. Errors are sent to c; a fresh lease is rolled back, a staged one stays staged.
 */
static void hand_over_undo(Manager *m, Lease *l, bool staged) {
	if (!staged) {
		lease_free(l, m->kernel);
		return;
	}
	l->pidfd_source = sd_event_source_disable_unref(l->pidfd_source);
	l->pidfd = safe_close(l->pidfd);
	l->connection = NULL;
}

static int hand_over(Connection *c, const Request *rq, const PolicyLayout *layout, Lease *l,
		     char **at_risk, char **warnings_in) {
	Manager *m = c->manager;
	_cleanup_strv_free_ char **warnings = warnings_in; /* taken */
	bool staged = l->state == LEASE_STAGED;
	int r;
#define FAIL(expr)                                                                                 \
	do {                                                                                       \
		(void)(expr);                                                                      \
		hand_over_undo(m, l, staged);                                                      \
		return 0;                                                                          \
	} while (0)
	if (staged) {
		/* The staged context becomes the caller's: its identity replaces the admin's
		 * owner selector. */
		if (lease_take_caller(l, c, rq) < 0)
			return system_error(c, -ENOMEM, "lease", NULL);
		stage_disarm(l);
	} else {
		strv_free(l->at_risk);
		l->at_risk = strv_copy(at_risk);
		if (at_risk && !l->at_risk)
			FAIL(system_error(c, -ENOMEM, "lease", NULL));
	}
	l->connection = c;
	if (c->peer.pidfd >= 0) {
		l->pidfd = fcntl(c->peer.pidfd, F_DUPFD_CLOEXEC, 3);
		if (l->pidfd < 0)
			FAIL(system_error(c, -errno, "dup pidfd", NULL));
	}
	if (l->lifetime == POLICY_LIFETIME_PROCESS) {
		r = sd_event_add_io(m->event, &l->pidfd_source, l->pidfd, EPOLLIN, lease_on_pidfd,
		                    l);
		if (r < 0)
			FAIL(system_error(c, r, "watch pidfd", NULL));
	}
	if (staged) {
		/* already in the table */
		free(l->owner);
		l->owner = NULL;
	} else if (m->testing_bypass) {
		/* Test-only: no exclusivity bookkeeping, so the kernel's refusal shows. */
		l->next = m->leases.head;
		if (m->leases.head)
			m->leases.head->prev = l;
		m->leases.head = l;
		m->leases.n++;
	} else {
		r = lease_table_add(&m->leases, l);
		if (r < 0)
			FAIL(system_error(c, r, "lease table", NULL));
	}
	(void)lease_set_state(l, LEASE_PENDING);
	/* Keep the daemon's references across a restart (no-op outside systemd). Legacy leases
	 * are not kept: after a restart the kernel itself still refuses their groups to anyone
	 * else for as long as the holder keeps its group or device fds. */
	if (l->mode != LEASE_MODE_LEGACY)
		(void)state_store_lease(m, l);
	manager_update_status(m);
	int64_t memlock = raise_memlock(c, rq->memlock, &warnings);
	/* Type1 (legacy) charges pinned pages to the mapping process anyway. */
	if (m->rlimit_mode_eperm && l->mode != LEASE_MODE_LEGACY &&
	    !(layout && layout->accounting == POLICY_ACCOUNTING_PROCESS))
		strv_extend(&warnings,
			    "pinned memory is charged per user: the daemon lacks CAP_SYS_RESOURCE");

	/* The reply is a document, not json-c objects: it is built per Acquire, and json-c's
	 * objects (a hash table each, a malloc per member) were a third of the daemon's work
	 * for an acquire+release. */
	ReplyDoc rd = { .d = doc_new() };
	if (!rd.d) {
		manager_end_lease(m, l, "out of memory");
		return system_error(c, -ENOMEM, "reply", NULL);
	}
	DocNode *msg = doc_object_sized(rd.d, 1);
	DocNode *p = doc_object_sized(rd.d, 13);
	rd_put(&rd, msg, "parameters", p);
	bool legacy = l->mode == LEASE_MODE_LEGACY;
	rd_str(&rd, p, "lease", l->id);
	rd_str(&rd, p, "mode", lease_mode_to_string(l->mode));
	rd_str(&rd, p, "api", legacy ? "legacy" : "iommufd");
	/* fds: iommufd mode [iommufd, devices...]; legacy [container, handed-out groups...,
	 * devices...]. */
	int fds[IOASID_MAX_DEVICES_PER_REQUEST * 2 + 1];
	size_t n_fds = 0, group_base = 1;
	if (legacy) {
		rd_null(&rd, p, "iommuFd");
		rd_int(&rd, p, "containerFd", 0);
		fds[n_fds++] = l->container;
		for (size_t i = 0; i < l->n_legacy_groups; i++)
			if (l->legacy_groups[i].handed_out)
				fds[n_fds++] = l->legacy_groups[i].fd;
	} else {
		rd_int(&rd, p, "iommuFd", 0);
		rd_null(&rd, p, "containerFd");
		fds[n_fds++] = l->iommufd;
	}
	if (l->mode == LEASE_MODE_ATTACHED)
		rd_int(&rd, p, "ioasId", l->ioas_id);
	else
		rd_null(&rd, p, "ioasId");
	DocNode *devs = doc_array(rd.d);
	size_t device_base = n_fds;
	for (size_t i = 0; i < l->n_devices; i++) {
		DocNode *o = doc_object_sized(rd.d, 5);
		rd_str(&rd, o, "bdf", l->devices[i].bdf);
		rd_int(&rd, o, "deviceFd", (int64_t)(device_base + i));
		int64_t group_fd = -1;
		if (legacy) {
			/* The index of the device's group node, when it was handed out. */
			size_t idx = group_base;
			for (size_t j = 0; j < l->n_legacy_groups; j++) {
				const LeaseGroup *g = &l->legacy_groups[j];
				if (g->group == l->devices[i].group) {
					if (g->handed_out)
						group_fd = (int64_t)idx;
					break;
				}
				idx += g->handed_out;
			}
		}
		if (group_fd >= 0)
			rd_int(&rd, o, "groupFd", group_fd);
		else
			rd_null(&rd, o, "groupFd");
		if (l->mode == LEASE_MODE_ATTACHED) {
			rd_int(&rd, o, "devId", l->devices[i].dev_id);
			rd_int(&rd, o, "hwptId", l->devices[i].hwpt_id);
		} else {
			rd_null(&rd, o, "devId");
			rd_null(&rd, o, "hwptId");
		}
		rd_push(&rd, devs, o);
		fds[n_fds++] = l->devices[i].fd;
	}
	rd_put(&rd, p, "devices", devs);
	rd_put(&rd, p, "atRisk", rd_strv(&rd, l->at_risk));
	/* What the holder's RLIMIT_MEMLOCK is now (read back), not what was asked for. */
	if (memlock >= 0)
		rd_int(&rd, p, "memlock", memlock);
	else
		rd_null(&rd, p, "memlock");
	/* Served from a staged context: the work was done at Stage time. */
	if (staged)
		rd_str(&rd, p, "staged", l->id);
	else
		rd_null(&rd, p, "staged");
	rd_put(&rd, p, "warnings", rd_strv(&rd, warnings));
	rd_int(&rd, p, "generation", (int64_t)l->generation);
	rd_str(&rd, p, "rule", rq->rule[0] ? rq->rule : "");
	if (rd.oom) {
		doc_free(rd.d);
		manager_end_lease(m, l, "out of memory");
		return system_error(c, -ENOMEM, "reply", NULL);
	}
	c->pending_lease = l;
	/* The audit record of each decision is the info-level trace; this one is for debugging. */
	log_debug("Lease %s: uid %u pid %d, %zu device(s), %s, %s lifetime", l->id,
		  (unsigned)l->uid, (int)l->pid, l->n_devices, lease_mode_to_string(l->mode),
		  lease_lifetime_to_string(l->lifetime));
	/* The fds go out with the reply (sent at once, or duplicated into the stream's queue when
	 * the socket is full); either way the lease keeps the daemon's own references. On a
	 * failed send the connection closes and manager_connection_gone() rolls the lease back
	 * (it was never delivered). */
	r = connection_send_doc(c, msg, fds, n_fds);
	doc_free(rd.d);
	if (r >= 0 && !c->closing)
		methods_notify_lease(m, l, "lease-acquired");
	return 0;
#undef FAIL
}

/* A staged context for this caller: owner (uid or unit), mode, layout and exactly these
 * devices. */
static Lease *staged_match(Manager *m, const Connection *c, const Request *rq) {
	for (Lease *l = m->leases.head; l; l = l->next) {
		/* A legacy context answers an attached request (the only one legacy serves). */
		LeaseMode mode = l->mode == LEASE_MODE_LEGACY ? LEASE_MODE_ATTACHED : l->mode;
		if (l->state != LEASE_STAGED || mode != rq->mode || l->n_devices != rq->n_devices)
			continue;
		bool owner = (l->uid != (uid_t)-1 && l->uid == c->peer.uid) ||
			     (l->uid == (uid_t)-1 && l->unit && c->peer.unit &&
			      streq(l->unit, c->peer.unit));
		bool layout = (!l->layout && !rq->layout) ||
			      (l->layout && rq->layout && streq(l->layout, rq->layout));
		if (!owner || !layout)
			continue;
		bool all = true;
		for (size_t i = 0; all && i < rq->n_devices; i++) {
			bool found = false;
			for (size_t j = 0; !found && j < l->n_devices; j++)
				found = streq(l->devices[j].bdf, rq->devices[i]->bdf);
			all = found;
		}
		if (all)
			return l;
	}
	return NULL;
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
int method_stage(Connection *c, const DocNode *params) {
	Manager *m = c->manager;
	const char *layout_name = NULL, *owner = NULL;
	uint64_t timeout = 0;
	/* What resolve() reads: the device list and mode as given, the layout once checked. */
	_cleanup_(doc_freep) Doc *fd = doc_new();
	DocNode *filtered = fd ? doc_object(fd) : NULL;
	if (!filtered)
		return system_error(c, -ENOMEM, "stage", NULL);
	for (size_t i = 0; i < params->c.n; i++) {
		const char *key = params->c.keys[i];
		DocNode *val = params->c.items[i];
		if (streq(key, "layout") && doc_str(val))
			layout_name = doc_str(val);
		else if (streq(key, "owner") && doc_str(val))
			owner = doc_str(val);
		else if (streq(key, "timeout") && doc_type(val) == DOC_INT) {
			if (val->i < 1 || val->i > IOASID_STAGE_TIMEOUT_MAX)
				return invalid(c, "timeout");
			timeout = (uint64_t)val->i;
		}
		else if (streq(key, "devices") || streq(key, "mode")) {
			if (doc_add(fd, filtered, key, val) < 0)
				return system_error(c, -ENOMEM, "stage", NULL);
		} else
			return invalid(c, key);
	}
	if (!layout_name)
		return invalid(c, "layout");
	if (!owner)
		return invalid(c, "owner");
	if (!doc_get(filtered, "devices"))
		return invalid(c, "devices");
	const PolicyLayout *layout = NULL;
	if (!streq(layout_name, "default") && !isempty(layout_name)) {
		layout = policy_find_layout(m->policy, layout_name);
		if (!layout)
			return invalid(c, "layout");
		if (doc_add(fd, filtered, "layout", doc_string(fd, layout_name)) < 0)
			return system_error(c, -ENOMEM, "stage", NULL);
	}
	uid_t uid;
	_cleanup_free_ char *unit = NULL;
	if (stage_parse_owner(c, owner, &uid, &unit) > 0)
		return 0;

	Request rq = { .mode = LEASE_MODE_ATTACHED, .lifetime = POLICY_LIFETIME_CONNECTION };
	_cleanup_strv_free_ char **at_risk = NULL;
	_cleanup_strv_free_ char **warnings = NULL;
	/* Leases let go of since the last look: probed now, before anything below reads who
	 * holds what (pools, dependents, groups, the lease table's size). */
	hold_settle(m);
	if (resolve(c, filtered, &rq) > 0)
		return 0;
	if (m->leases.n >= IOASID_MAX_LEASES) {
		json_object *p = obj();
		add_str(p, "limit", "leases");
		add_int(p, "max", IOASID_MAX_LEASES);
		return error_obj(c, IOASID_ERROR_LIMIT_EXCEEDED, p);
	}
	if (kernel_api_check(c) > 0 || group_check(c, &rq, &at_risk) > 0)
		return 0;
	/* The owner's policy, as its Acquire would be decided, and the dependents its grants
	 * let others hold. */
	bool share_reset = false, split_sriov = false;
	if (stage_check_owner(c, owner, uid, unit, rq.mode, rq.layout, rq.devices, rq.n_devices,
			      &share_reset, &split_sriov) > 0 ||
	    dependents_check(c, uid, rq.devices, rq.n_devices, share_reset, split_sriov) > 0)
		return 0;
	Lease *l = NULL;
	if (build_context(c, &rq, layout, &warnings, &l) > 0)
		return 0;
	(void)lease_set_state(l, LEASE_STAGED);
	l->share_reset = share_reset;
	l->split_sriov = split_sriov;
	l->uid = uid;
	l->pid = 0;
	/* The admin's identity is not the owner's: re-evaluation resolves the owner. */
	l->peer_known = false;
	free(l->unit);
	l->unit = TAKE_PTR(unit);
	l->owner = strdup(owner);
	l->at_risk = TAKE_PTR(at_risk);
	if (timeout == 0) {
		const PolicySettings *ps = m->policy ? policy_settings(m->policy) : NULL;
		timeout = ps && ps->stage_timeout_sec ? ps->stage_timeout_sec
						      : IOASID_STAGE_TIMEOUT_SEC;
	}
	int r = lease_table_add(&m->leases, l);
	if (r >= 0 && !l->owner)
		r = -ENOMEM;
	if (r >= 0)
		r = stage_arm_expiry(m, l, timeout);
	if (r < 0) {
		lease_table_remove(&m->leases, l);
		lease_free(l, m->kernel);
		return system_error(c, r, "stage", NULL);
	}
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20];
	audit_log(&(AuditRecord){
		.action = "stage",
		.message_id = IOASID_MESSAGE_ALLOW,
		.method = "io.ioasid.Manager.Stage",
		.cause = "request",
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.reason = owner,
		.lease = l->id,
		.uid = c->peer.uid,
		.pid = c->peer.pid,
		.unit = c->peer.unit,
		.generation = m->generation,
	});
	json_object *p = obj();
	add_str(p, "id", l->id);
	add_int(p, "expires", (int64_t)l->expires);
	return connection_reply(c, p, false);
}

/* The deny of the Acquire that ends here, if it ended in an error after the policy was asked;
 * a grant's record waits for the delivery of its fds. */
static void acquire_audit_done(AcquireAudit *au) {
	acquire_audit = NULL;
	if (!au->decided || !au->error[0])
		return;
	Connection *c = au->c;
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20] = "";
	for (size_t i = 0, j = 0; i < au->rq->n_devices && j < sizeof(devs); i++)
		j += (size_t)snprintf(devs + j, sizeof(devs) - j, "%s%s", i ? "," : "",
				      au->rq->devices[i]->bdf);
	audit_log(&(AuditRecord){
		.action = "deny",
		.message_id = IOASID_MESSAGE_DENY,
		.method = "io.ioasid.Broker.Acquire",
		.cause = "request",
		.device = au->device[0] ? au->device : devs,
		.rule = au->rule[0] ? au->rule : NULL,
		.error = au->error,
		.reason = au->reason,
		.uid = c->peer.uid,
		.pid = c->peer.pid,
		.unit = c->peer.unit,
		.generation = c->manager->generation,
	});
}

void acquire_audit_lease(const Lease *l, bool delivered, const char *cause, const char *why) {
	char devs[IOASID_MAX_DEVICES_PER_REQUEST * 20], reason[512];
	if (delivered)
		snprintf(reason, sizeof(reason), "allowed by rule at %s; fds delivered",
			 strna(l->rule));
	else
		snprintf(reason, sizeof(reason), "reply with the fds not delivered: %s", why);
	audit_log(&(AuditRecord){
		.action = delivered ? "allow" : "deny",
		.message_id = delivered ? IOASID_MESSAGE_ALLOW : IOASID_MESSAGE_DENY,
		.method = "io.ioasid.Broker.Acquire",
		.cause = cause,
		.device = lease_devices_text(l, devs, sizeof(devs)),
		.rule = l->rule,
		.reason = reason,
		.lease = delivered ? l->id : NULL,
		.uid = l->uid,
		.pid = l->pid,
		.unit = l->unit,
		.generation = l->generation,
	});
}

int method_acquire(Connection *c, const DocNode *params) {
	Manager *m = c->manager;
	Request rq = { .mode = LEASE_MODE_ATTACHED, .lifetime = POLICY_LIFETIME_CONNECTION };
	_cleanup_(acquire_audit_done) AcquireAudit au = { .c = c, .rq = &rq };
	acquire_audit = &au;
	_cleanup_strv_free_ char **at_risk = NULL;
	_cleanup_strv_free_ char **warnings = NULL;

	if (c->suppress_reply)
		/* A oneway Acquire could never deliver its fds: nothing is created. */
		return 0;
	if (c->pending_lease) {
		/* Not reachable through the reader (it stops while an fd reply is queued), kept
		 * as the contract's last line. */
		json_object *p = obj();
		add_str(p, "limit", "outstanding replies with fds");
		add_int(p, "max", IOASID_MAX_FD_REPLIES);
		return error_obj(c, IOASID_ERROR_LIMIT_EXCEEDED, p);
	}

	/* 1. resolve */
	if (resolve(c, params, &rq) > 0)
		return 0;
	/* Naming no mode: a context staged for the caller with these devices is taken in its
	 * mode (if the policy grants that mode). */
	if (!rq.mode_set) {
		const Lease *s = stage_find_for(m, c, rq.devices, rq.n_devices);
		if (s)
			rq.mode = s->mode == LEASE_MODE_UNBOUND ? LEASE_MODE_UNBOUND
								: LEASE_MODE_ATTACHED;
	}

	/* 2. policy, per device */
	size_t n_requested = rq.n_devices;
	for (size_t i = 0; i < n_requested; i++)
		if (decide(c, &rq, rq.devices[i], i == 0) > 0)
			return 0;
	if (rq.whole) {
		/* The grantee takes, and gets, every (non-bridge) member of each group. */
		for (size_t i = 0; i < n_requested; i++) {
			const Group *g = rq.devices[i]->group;
			for (size_t j = 0; g && j < g->n_members; j++) {
				const Device *s = g->members[j];
				if (device_is_bridge(s) || request_has(&rq, s))
					continue;
				if (request_push(&rq, s) < 0)
					return invalid(c, "devices");
				if (decide(c, &rq, s, false) > 0)
					return 0;
			}
		}
	}
	if (!rq.lifetime_set)
		rq.lifetime = rq.grant_lifetime;
	if (rq.lifetime == POLICY_LIFETIME_PROCESS && !c->peer.have_pidfd) {
		json_object *p = obj();
		add_str(p, "reason", "process lifetime needs SO_PEERPIDFD");
		add_int(p, "generation", (int64_t)m->generation);
		return error_obj(c, IOASID_ERROR_PERMISSION_DENIED, p);
	}
	if (rq.max_devices && rq.n_devices > rq.max_devices) {
		json_object *p = obj();
		add_str(p, "limit", "devices");
		add_int(p, "max", rq.max_devices);
		return error_obj(c, IOASID_ERROR_LIMIT_EXCEEDED, p);
	}
	/* The limits below count leases let go of and not probed yet: probed before a refusal. */
	if ((rq.max_leases && lease_table_count_uid(&m->leases, c->peer.uid) >= rq.max_leases) ||
	    m->leases.n >= IOASID_MAX_LEASES)
		(void)hold_settle(m);
	if (rq.max_leases && lease_table_count_uid(&m->leases, c->peer.uid) >= rq.max_leases) {
		json_object *p = obj();
		add_str(p, "limit", "leases");
		add_int(p, "max", rq.max_leases);
		return error_obj(c, IOASID_ERROR_LIMIT_EXCEEDED, p);
	}
	/* Legacy replies carry a group fd per group on top of the container and devices. */
	size_t n_fds = rq.n_devices + 1 +
		       (kernel_api(m->kernel) == KERNEL_API_LEGACY ? request_n_groups(&rq) : 0);
	if (m->leases.n >= IOASID_MAX_LEASES || n_fds > IOASID_MAX_FDS_PER_REPLY) {
		json_object *p = obj();
		add_str(p, "limit", m->leases.n >= IOASID_MAX_LEASES ? "leases" : "fds");
		add_int(p, "max", m->leases.n >= IOASID_MAX_LEASES ? IOASID_MAX_LEASES
								 : IOASID_MAX_FDS_PER_REPLY);
		return error_obj(c, IOASID_ERROR_LIMIT_EXCEEDED, p);
	}

	/* 3. groups (a staged context already holds them) */
	/* The kernel API first: on a legacy-only kernel (no iommufd) the devices have no cdev,
	 * and "not viable" would hide the real reason. */
	if (kernel_api_check(c) > 0)
		return 0;

	/* A context an admin staged for this caller, these devices, mode and layout? */
	Lease *staged = staged_match(m, c, &rq);
	if (!staged && (stage_explain_mismatch(c, rq.devices, rq.n_devices, rq.mode, rq.layout) > 0 ||
			group_check(c, &rq, &at_risk) > 0))
		return 0;
	/* Its PF, VFs and reset partners must not be another owner's (checked at Stage time
	 * for a staged context). */
	if (!staged && dependents_check(c, c->peer.uid, rq.devices, rq.n_devices, rq.share_reset,
					rq.split_sriov) > 0)
		return 0;

	const PolicyLayout *layout = NULL;
	if (rq.layout) {
		layout = policy_find_layout(m->policy, rq.layout);
		if (!layout)
			return invalid(c, "layout");
	}
	Lease *l = staged;
	if (!l && build_context(c, &rq, layout, &warnings, &l) > 0)
		return 0;
	return hand_over(c, &rq, layout, l, at_risk, TAKE_PTR(warnings));
}

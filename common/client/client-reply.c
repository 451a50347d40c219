/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport-free half of the client: validating replies against the fds that came with
 * them, building result structs, human messages for named errors, and telling what a
 * received fd is. Everything here is pure or touches only the fds it is given, so the unit
 * tests drive it without a daemon.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/client/client.h"
#include "common/proto.h"

void ioasid_error_done(IoasidError *e) {
	if (!e)
		return;
	free(e->name);
	doc_free(e->doc);
	free(e->message);
	*e = (IoasidError){};
}

bool ioasid_error_is(const IoasidError *e, const char *name) {
	return e && e->name && name && streq(e->name, name);
}

static const char *param_str(const DocNode *p, const char *key) {
	return doc_str(doc_get(p, key));
}

static bool param_int(const DocNode *p, const char *key, int64_t *ret) {
	const DocNode *v = doc_get(p, key);
	if (doc_type(v) != DOC_INT)
		return false;
	*ret = v->i;
	return true;
}

/* Joins a JSON array of strings with sep; "" when absent. NULL on -ENOMEM. */
static char *param_join(const DocNode *p, const char *key, const char *sep) {
	const DocNode *a = doc_get(p, key);
	char *s = strdup("");
	if (!s)
		return NULL;
	for (size_t i = 0; i < doc_len(a); i++) {
		const char *e = doc_str(doc_at(a, i));
		if (!e)
			continue;
		char *n = NULL;
		if (asprintf(&n, "%s%s%s", s, *s ? sep : "", e) < 0) {
			free(s);
			return NULL;
		}
		free(s);
		s = n;
	}
	return s;
}

/* An error this client does not know: its name and its scalar parameters as key=value
 * ("name (key=value, ...)"; strings, integers, booleans; containers as "..."). */
static char *error_format_unknown(const char *name, const DocNode *p) {
	char *m = strdup(name);
	for (size_t i = 0; m && doc_type(p) == DOC_OBJECT && i < p->c.n; i++) {
		const DocNode *v = p->c.items[i];
		char num[32];
		const char *val;
		switch (doc_type(v)) {
		case DOC_STRING:
			val = v->str.s;
			break;
		case DOC_INT:
			snprintf(num, sizeof(num), "%" PRIi64, v->i);
			val = num;
			break;
		case DOC_BOOL:
			val = v->b ? "true" : "false";
			break;
		case DOC_NULL:
			val = "null";
			break;
		default:
			val = "...";
		}
		char *n = NULL;
		if (asprintf(&n, "%s%s%s=%s", m, i ? ", " : " (", p->c.keys[i], val) < 0)
			n = NULL;
		free(m);
		m = n;
	}
	if (m && doc_type(p) == DOC_OBJECT && p->c.n > 0) {
		char *n = NULL;
		if (asprintf(&n, "%s)", m) < 0)
			n = NULL;
		free(m);
		m = n;
	}
	return m;
}

char *ioasid_error_format(const char *name, const DocNode *p) {
	char *m = NULL;
	int64_t n = 0, line = 0, col = 0;
	const char *dev = param_str(p, "device");
	int r;

	if (!name)
		return strdup("Malformed error reply");

	if (streq(name, IOASID_ERROR_PERMISSION_DENIED) ||
	    streq(name, IOASID_ERROR_MANAGER_PERMISSION_DENIED)) {
		const char *rule = param_str(p, "rule"), *reason = param_str(p, "reason");
		/* The reason often names the rule already: say it once. */
		if (rule && reason && strstr(reason, rule))
			rule = NULL;
		r = asprintf(&m, "Permission denied%s%s: %s%s%s%s", dev ? " for " : "",
			     strempty(dev), strna(reason), rule ? " (rule " : "", strempty(rule),
			     rule ? ")" : "");
	} else if (streq(name, IOASID_ERROR_NO_SUCH_DEVICE))
		r = asprintf(&m, "No such device '%s'", strna(dev));
	else if (streq(name, IOASID_ERROR_GROUP_NOT_VIABLE)) {
		_cleanup_free_ char *b = param_join(p, "blockers", "; ");
		(void)param_int(p, "group", &n);
		r = asprintf(&m, "%s: IOMMU group %" PRIi64 " is not viable%s%s", strna(dev), n,
			     b && *b ? ": " : "", strempty(b));
	} else if (streq(name, IOASID_ERROR_GROUP_OWNED)) {
		const char *owner = param_str(p, "owner");
		(void)param_int(p, "group", &n);
		if (owner && strneq(owner, "held by ", 8))
			/* A lease that ended (or was revoked) while a process kept its fds. */
			r = asprintf(&m,
				     "%s: IOMMU group %" PRIi64 " is %s: its device files are "
				     "still open in some process",
				     strna(dev), n, owner);
		else
			r = asprintf(&m,
				     "%s: IOMMU group %" PRIi64
				     " is shared with another owner (%s)",
				     strna(dev), n, strna(owner));
	} else if (streq(name, IOASID_ERROR_DEVICE_BUSY))
		r = asprintf(&m, "%s: device busy: %s", strna(dev), strna(param_str(p, "reason")));
	else if (streq(name, IOASID_ERROR_DEPENDENT_OWNED))
		/* The reason names both devices and the holder already. */
		r = asprintf(&m, "%s", strna(param_str(p, "reason")));
	else if (streq(name, IOASID_ERROR_LIMIT_EXCEEDED)) {
		(void)param_int(p, "max", &n);
		r = asprintf(&m, "Limit '%s' exceeded (max %" PRIi64 ")",
			     strna(param_str(p, "limit")), n);
	} else if (streq(name, IOASID_ERROR_LAYOUT_CONFLICT)) {
		_cleanup_free_ char *c = param_join(p, "conflicts", "; ");
		r = asprintf(&m, "Layout '%s' conflicts: %s", strna(param_str(p, "layout")),
			     strempty(c));
	} else if (streq(name, IOASID_ERROR_NO_SUCH_LEASE) ||
		   streq(name, IOASID_ERROR_MANAGER_NO_SUCH_LEASE))
		r = asprintf(&m, "No such lease '%s'", strna(param_str(p, "lease")));
	else if (streq(name, IOASID_ERROR_PROTOCOL))
		r = asprintf(&m, "Protocol error: %s", strna(param_str(p, "reason")));
	else if (streq(name, IOASID_ERROR_SYSTEM)) {
		(void)param_int(p, "errno", &n);
		r = asprintf(&m, "%s%s%s failed in the daemon: %s", dev ? dev : "", dev ? ": " : "",
			     strna(param_str(p, "operation")),
			     param_str(p, "errnoName") ?: strerror((int)n));
	} else if (streq(name, IOASID_ERROR_RELOAD_FAILED)) {
		(void)param_int(p, "line", &line);
		(void)param_int(p, "column", &col);
		r = asprintf(&m, "%s:%" PRIi64 ":%" PRIi64 ": %s", strna(param_str(p, "file")),
			     line, col, strna(param_str(p, "message")));
	} else if (streq(name, IOASID_ERROR_NO_SUCH_STAGED))
		r = asprintf(&m, "No such staged context '%s'", strna(param_str(p, "id")));
	else if (streq(name, IOASID_ERROR_NO_SUCH_USER))
		r = asprintf(&m, "No such user '%s'", strna(param_str(p, "user")));
	else if (streq(name, IOASID_ERROR_OWNER_DENIED)) {
		const char *rule = param_str(p, "rule"), *reason = param_str(p, "reason");
		if (rule && reason && strstr(reason, rule))
			rule = NULL;
		r = asprintf(&m, "The policy would not give %s to owner '%s': %s%s%s%s", strna(dev),
			     strna(param_str(p, "owner")), strna(reason), rule ? " (rule " : "",
			     strempty(rule), rule ? ")" : "");
	} else if (streq(name, VARLINK_ERROR_METHOD_NOT_FOUND))
		r = asprintf(&m, "The daemon does not implement '%s'",
			     strna(param_str(p, "method")));
	else if (streq(name, VARLINK_ERROR_INTERFACE_NOT_FOUND))
		r = asprintf(&m, "The daemon does not implement interface '%s'",
			     strna(param_str(p, "interface")));
	else if (streq(name, VARLINK_ERROR_INVALID_PARAMETER))
		r = asprintf(&m, "Invalid parameter '%s'", strna(param_str(p, "parameter")));
	else
		return error_format_unknown(name, p);
	return r < 0 ? NULL : m;
}

/* src is canonical (checked by the caller): at most BDF_MAX - 1 characters. */
static void bdf_copy(char dst[static BDF_MAX], const char *src) {
	size_t n = strnlen(src, BDF_MAX - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void granted_free(IoasidGrantedDevice *d, size_t n) {
	for (size_t i = 0; i < n; i++)
		safe_close(d[i].fd);
	free(d);
}

IoasidAcquireResult *ioasid_acquire_result_free(IoasidAcquireResult *r) {
	if (!r)
		return NULL;
	free(r->lease);
	free(r->mode);
	safe_close(r->iommufd);
	safe_close(r->container);
	for (size_t i = 0; i < r->n_group_fds; i++)
		safe_close(r->group_fds[i]);
	free(r->group_fds);
	free(r->api);
	granted_free(r->devices, r->n_devices);
	strv_free(r->at_risk);
	strv_free(r->warnings);
	free(r->rule);
	free(r->staged);
	free(r);
	return NULL;
}

const IoasidGrantedDevice *ioasid_acquire_result_device(const IoasidAcquireResult *r,
							const char *bdf) {
	if (!r || !bdf)
		return NULL;
	for (size_t i = 0; i < r->n_devices; i++)
		if (streq(r->devices[i].bdf, bdf))
			return &r->devices[i];
	return NULL;
}

/* Required string field. */
/* Member readers of a reply document: -EBADMSG when the member has the wrong type (or is
 * absent and not optional), -ENOMEM. A JSON null counts as absent. */
static int get_str(const DocNode *o, const char *key, char **ret) {
	const char *v = doc_str(doc_get(o, key));
	if (!v)
		return -EBADMSG;
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int get_opt_str(const DocNode *o, const char *key, char **ret) {
	if (!doc_get(o, key)) {
		*ret = NULL;
		return 0;
	}
	return get_str(o, key, ret);
}

static int get_int(const DocNode *o, const char *key, bool optional, int64_t def, int64_t *ret) {
	const DocNode *v = doc_get(o, key);
	if (!v) {
		if (!optional)
			return -EBADMSG;
		*ret = def;
		return 0;
	}
	if (doc_type(v) != DOC_INT) /* a fraction, or beyond int64, is a DOC_DOUBLE */
		return -EBADMSG;
	*ret = v->i;
	return 0;
}

static int get_strv(const DocNode *o, const char *key, bool optional, char ***ret) {
	const DocNode *a = doc_get(o, key);
	_cleanup_strv_free_ char **l = NULL;

	if (!a) {
		if (!optional)
			return -EBADMSG;
	} else {
		if (doc_type(a) != DOC_ARRAY)
			return -EBADMSG;
		for (size_t i = 0; i < doc_len(a); i++) {
			const char *e = doc_str(doc_at(a, i));
			if (!e)
				return -EBADMSG;
			if (strv_extend(&l, e) < 0)
				return -ENOMEM;
		}
	}
	if (!l) {
		l = calloc(1, sizeof(char *));
		if (!l)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

static int claim_fd(int64_t idx, int *fds, bool *used, size_t n_fds, int *ret) {
	if (idx < 0 || (uint64_t)idx >= n_fds || used[idx])
		return -EBADMSG;
	used[idx] = true;
	*ret = fds[idx];
	return 0;
}

int ioasid_acquire_result_from_reply(const DocNode *p, int *fds, size_t n_fds,
				     IoasidAcquireResult **ret) {
	_cleanup_free_ bool *used = NULL;
	_cleanup_free_ int64_t *group_idx = NULL;
	IoasidAcquireResult *res = NULL;
	const DocNode *devs;
	int64_t v;
	int r;

	if (n_fds > IOASID_MAX_FDS_PER_REPLY) {
		r = -EBADMSG;
		goto fail_all;
	}
	used = calloc(n_fds + 1, sizeof(bool));
	res = calloc(1, sizeof(*res));
	if (!used || !res) {
		r = -ENOMEM;
		goto fail_all;
	}
	res->iommufd = -EBADF;
	res->container = -EBADF;
	/* Every group fd index the reply may use, claimed once (devices of a group share it). */
	res->group_fds = calloc(n_fds + 1, sizeof(int));
	group_idx = calloc(n_fds + 1, sizeof(int64_t));
	if (!res->group_fds || !group_idx) {
		r = -ENOMEM;
		goto fail_all;
	}

	if (doc_type(p) != DOC_OBJECT) {
		r = -EBADMSG;
		goto fail_all;
	}
	if ((r = get_str(p, "lease", &res->lease)) < 0 ||
	    (r = get_str(p, "mode", &res->mode)) < 0 || (r = get_str(p, "rule", &res->rule)) < 0 ||
	    (r = get_int(p, "ioasId", true, -1, &res->ioas_id)) < 0 ||
	    (r = get_int(p, "memlock", true, -1, &res->memlock)) < 0 ||
	    (r = get_opt_str(p, "staged", &res->staged)) < 0 ||
	    (r = get_strv(p, "atRisk", true, &res->at_risk)) < 0 ||
	    (r = get_strv(p, "warnings", true, &res->warnings)) < 0)
		goto fail_all;
	if ((r = get_int(p, "generation", false, 0, &v)) < 0)
		goto fail_all;
	if (v < 0) {
		r = -EBADMSG;
		goto fail_all;
	}
	res->generation = (uint64_t)v;
	if (isempty(res->lease)) {
		r = -EBADMSG;
		goto fail_all;
	}

	if (doc_get(p, "api")) {
		if ((r = get_str(p, "api", &res->api)) < 0)
			goto fail_all;
	} else if (!(res->api = strdup("iommufd"))) {
		r = -ENOMEM;
		goto fail_all;
	}
	bool legacy = streq(res->api, "legacy");
	if (!legacy && !streq(res->api, "iommufd")) {
		r = -EBADMSG;
		goto fail_all;
	}
	/* iommufd replies carry an iommufd, legacy ones a container; never both. */
	if ((r = get_int(p, legacy ? "containerFd" : "iommuFd", false, 0, &v)) < 0 ||
	    (r = claim_fd(v, fds, used, n_fds, legacy ? &res->container : &res->iommufd)) < 0)
		goto fail_all;
	if ((r = get_int(p, legacy ? "iommuFd" : "containerFd", true, -1, &v)) < 0)
		goto fail_all;
	if (v >= 0) {
		r = -EBADMSG;
		goto fail_all;
	}

	devs = doc_get(p, "devices");
	if (doc_type(devs) != DOC_ARRAY || doc_len(devs) == 0 ||
	    doc_len(devs) > IOASID_MAX_DEVICES_PER_REQUEST) {
		r = -EBADMSG;
		goto fail_all;
	}
	size_t n = doc_len(devs);
	res->devices = calloc(n, sizeof(IoasidGrantedDevice));
	if (!res->devices) {
		r = -ENOMEM;
		goto fail_all;
	}
	for (size_t i = 0; i < n; i++) {
		const DocNode *d = doc_at(devs, i);
		_cleanup_free_ char *bdf = NULL;
		IoasidGrantedDevice *g = &res->devices[i];

		g->fd = -EBADF;
		g->group_fd = -EBADF;
		res->n_devices = i + 1;
		if (doc_type(d) != DOC_OBJECT || (r = get_str(d, "bdf", &bdf)) < 0 ||
		    !bdf_is_canonical(bdf) || ioasid_acquire_result_device(res, bdf)) {
			r = r < 0 ? r : -EBADMSG;
			goto fail_all;
		}
		if ((r = get_int(d, "deviceFd", false, 0, &v)) < 0 ||
		    (r = claim_fd(v, fds, used, n_fds, &g->fd)) < 0 ||
		    (r = get_int(d, "devId", true, -1, &g->dev_id)) < 0 ||
		    (r = get_int(d, "hwptId", true, -1, &g->hwpt_id)) < 0 ||
		    (r = get_int(d, "groupFd", true, -1, &v)) < 0)
			goto fail_all;
		if (v >= 0) {
			if (!legacy) {
				r = -EBADMSG;
				goto fail_all;
			}
			/* Shared by the devices of one group: claim the index once. */
			size_t k = 0;
			while (k < res->n_group_fds && group_idx[k] != v)
				k++;
			if (k == res->n_group_fds) {
				if ((r = claim_fd(v, fds, used, n_fds, &res->group_fds[k])) < 0)
					goto fail_all;
				group_idx[k] = v;
				res->n_group_fds++;
			}
			g->group_fd = res->group_fds[k];
		}
		bdf_copy(g->bdf, bdf);
	}

	/* Every claimed fd now belongs to res; close what the reply did not mention. */
	for (size_t i = 0; i < n_fds; i++) {
		if (!used[i]) {
			safe_close(fds[i]);
			continue;
		}
		/* MSG_CMSG_CLOEXEC already set it; make sure even if the transport did not. */
		int fl = fcntl(fds[i], F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl(fds[i], F_SETFD, fl | FD_CLOEXEC);
	}
	*ret = res;
	return 0;

fail_all:
	/* Nothing is handed out on failure: close every received fd exactly once. Those already
	 * claimed into res are closed with it. */
	if (res) {
		res->iommufd = -EBADF;
		res->container = -EBADF;
		res->n_group_fds = 0;
		for (size_t i = 0; i < res->n_devices; i++)
			res->devices[i].fd = -EBADF;
	}
	for (size_t i = 0; i < n_fds; i++)
		safe_close(fds[i]);
	ioasid_acquire_result_free(res);
	return r;
}

void ioasid_leases_free(IoasidLease *l, size_t n) {
	if (!l)
		return;
	for (size_t i = 0; i < n; i++) {
		free(l[i].id);
		free(l[i].unit);
		free(l[i].mode);
		free(l[i].layout);
		strv_free(l[i].devices);
		free(l[i].groups);
		free(l[i].lifetime);
		free(l[i].state);
		strv_free(l[i].held);
	}
	free(l);
}

IoasidStatus *ioasid_status_free(IoasidStatus *s) {
	if (!s)
		return NULL;
	free(s->version);
	free(s->kernel);
	free(s->api);
	free(s->accounting);
	strv_free(s->warnings);
	strv_free(s->held);
	free(s);
	return NULL;
}

/* Parses one Lease object of ListLeases. */
int ioasid_lease_from_json(const DocNode *o, IoasidLease *l) {
	const DocNode *g;
	int64_t v;
	int r;

	*l = (IoasidLease){};
	if (doc_type(o) != DOC_OBJECT)
		return -EBADMSG;
	if ((r = get_str(o, "id", &l->id)) < 0 || (r = get_int(o, "uid", false, 0, &l->uid)) < 0 ||
	    (r = get_int(o, "pid", true, -1, &l->pid)) < 0 ||
	    (r = get_opt_str(o, "unit", &l->unit)) < 0 || (r = get_str(o, "mode", &l->mode)) < 0 ||
	    (r = get_opt_str(o, "layout", &l->layout)) < 0 ||
	    (r = get_strv(o, "devices", false, &l->devices)) < 0 ||
	    (r = get_str(o, "lifetime", &l->lifetime)) < 0 ||
	    (r = get_str(o, "state", &l->state)) < 0 ||
	    (r = get_strv(o, "held", true, &l->held)) < 0 ||
	    (r = get_int(o, "created", true, 0, &l->created)) < 0 ||
	    (r = get_int(o, "generation", true, 0, &v)) < 0)
		return r;
	l->generation = v < 0 ? 0 : (uint64_t)v;
	if ((g = doc_get(o, "groups"))) {
		if (doc_type(g) != DOC_ARRAY)
			return -EBADMSG;
		size_t n = doc_len(g);
		l->groups = calloc(n + 1, sizeof(int));
		if (!l->groups)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			const DocNode *e = doc_at(g, i);
			if (doc_type(e) != DOC_INT || e->i < 0 || e->i > INT32_MAX)
				return -EBADMSG;
			l->groups[i] = (int)e->i;
			l->n_groups = i + 1;
		}
	}
	return 0;
}

int ioasid_status_from_json(const DocNode *o, IoasidStatus **ret) {
	_cleanup_(ioasid_status_freep) IoasidStatus *s = calloc(1, sizeof(*s));
	int64_t v;
	int r;

	if (!s)
		return -ENOMEM;
	if (doc_type(o) != DOC_OBJECT)
		return -EBADMSG;
	if ((r = get_str(o, "version", &s->version)) < 0 ||
	    (r = get_str(o, "kernel", &s->kernel)) < 0 || (r = get_str(o, "api", &s->api)) < 0 ||
	    (r = get_str(o, "accounting", &s->accounting)) < 0 ||
	    (r = get_int(o, "leases", false, 0, &s->leases)) < 0 ||
	    (r = get_int(o, "connections", false, 0, &s->connections)) < 0 ||
	    (r = get_strv(o, "warnings", true, &s->warnings)) < 0 ||
	    (r = get_strv(o, "held", true, &s->held)) < 0 ||
	    (r = get_int(o, "generation", false, 0, &v)) < 0)
		return r;
	s->generation = v < 0 ? 0 : (uint64_t)v;
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- What a received fd is ---- */

void ioasid_fd_info_done(IoasidFdInfo *i) {
	if (!i)
		return;
	free(i->name);
	*i = (IoasidFdInfo){};
}

const char *ioasid_fd_kind_to_string(IoasidFdKind k) {
	switch (k) {
	case IOASID_FD_IOMMUFD:
		return "iommufd";
	case IOASID_FD_VFIO_DEVICE:
		return "vfio-device";
	case IOASID_FD_VFIO_CONTAINER:
		return "vfio-container";
	case IOASID_FD_VFIO_GROUP:
		return "vfio-group";
	case IOASID_FD_VFIO_LEGACY_DEVICE:
		return "vfio-legacy-device";
	default:
		return "other";
	}
}

/* A group number as the kernel names it: decimal, no sign. */
static int parse_group_number(const char *s, int *ret) {
	uint64_t v;
	int r = num_parse_u64(s, INT32_MAX, &v);
	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

#define SIM_PREFIX "memfd:ioasid-sim:"

/* Names a memfd (or any non-device file) from /proc/self/fd. */
static int describe_by_link(int fd, IoasidFdInfo *info) {
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	/* memfds read back as "/memfd:NAME (deleted)". */
	char *s = target;
	if (strneq(s, "/memfd:", 7))
		s++;
	size_t len = strlen(s);
	if (len > 10 && streq(s + len - 10, " (deleted)"))
		s[len - 10] = 0;
	info->name = strdup(s);
	if (!info->name)
		return -ENOMEM;
	if (strneq(s, SIM_PREFIX, strlen(SIM_PREFIX))) {
		const char *rest = s + strlen(SIM_PREFIX);
		info->sim = true;
		if (strneq(rest, "iommufd", 7))
			info->kind = IOASID_FD_IOMMUFD;
		else if (strneq(rest, "vfio:", 5) && bdf_is_canonical(rest + 5)) {
			info->kind = IOASID_FD_VFIO_DEVICE;
			bdf_copy(info->bdf, rest + 5);
		} else if (strneq(rest, "vfio-container:", 15))
			info->kind = IOASID_FD_VFIO_CONTAINER;
		else if (strneq(rest, "vfio-group:", 11) &&
			 parse_group_number(rest + 11, &info->group) >= 0)
			info->kind = IOASID_FD_VFIO_GROUP;
		else if (strneq(rest, "vfio-legacy:", 12) && bdf_is_canonical(rest + 12)) {
			info->kind = IOASID_FD_VFIO_LEGACY_DEVICE;
			bdf_copy(info->bdf, rest + 12);
		}
	} else if (streq(s, "anon_inode:[vfio-device]"))
		/* VFIO_GROUP_GET_DEVICE_FD: the kernel does not say which device. */
		info->kind = IOASID_FD_VFIO_LEGACY_DEVICE;
	return 0;
}

/* Resolves a char device through SYSFS/dev/char/MAJ:MIN. */
static int describe_chardev(const char *sysfs_root, IoasidFdInfo *info) {
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/dev/char/%u:%u", sysfs_root ? sysfs_root : "/sys",
		 info->major, info->minor);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		/* Unknown to sysfs: still a char device, say which. */
		return asprintf(&info->name, "char %u:%u", info->major, info->minor) < 0 ? -ENOMEM
											 : 0;
	}
	target[n] = 0;

	/* ".../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0" -> a vfio cdev of 0000:00:03.0 */
	char *v = strstr(target, "/vfio-dev/");
	if (v) {
		const char *cdev = v + strlen("/vfio-dev/");
		*v = 0;
		const char *parent = strrchr(target, '/');
		parent = parent ? parent + 1 : target;
		if (bdf_is_canonical(parent) && *cdev && !strchr(cdev, '/')) {
			info->kind = IOASID_FD_VFIO_DEVICE;
			bdf_copy(info->bdf, parent);
			return asprintf(&info->name, "/dev/vfio/devices/%s", cdev) < 0 ? -ENOMEM
										       : 0;
		}
		*v = '/';
	}
	/* ".../devices/virtual/misc/iommu" is /dev/iommu. */
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (streq(base, "iommu") && strstr(target, "/misc/")) {
		info->kind = IOASID_FD_IOMMUFD;
		info->name = strdup("/dev/iommu");
		return info->name ? 0 : -ENOMEM;
	}
	/* ".../virtual/misc/vfio" is the legacy container /dev/vfio/vfio. */
	if (streq(base, "vfio") && strstr(target, "/misc/")) {
		info->kind = IOASID_FD_VFIO_CONTAINER;
		info->name = strdup("/dev/vfio/vfio");
		return info->name ? 0 : -ENOMEM;
	}
	/* ".../virtual/vfio/17" is the group node /dev/vfio/17. */
	if (strstr(target, "/vfio/") && parse_group_number(base, &info->group) >= 0) {
		info->kind = IOASID_FD_VFIO_GROUP;
		return asprintf(&info->name, "/dev/vfio/%d", info->group) < 0 ? -ENOMEM : 0;
	}
	return asprintf(&info->name, "char %u:%u (%s)", info->major, info->minor, base) < 0
		       ? -ENOMEM
		       : 0;
}

int ioasid_fd_describe(int fd, const char *sysfs_root, IoasidFdInfo *ret) {
	IoasidFdInfo info = { .group = -1 };
	struct stat st;
	int r, fl;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -errno;
	info.cloexec = fl & FD_CLOEXEC;

	if (S_ISCHR(st.st_mode)) {
		info.major = major(st.st_rdev);
		info.minor = minor(st.st_rdev);
		r = describe_chardev(sysfs_root, &info);
	} else
		r = describe_by_link(fd, &info);
	if (r < 0) {
		ioasid_fd_info_done(&info);
		return r;
	}
	*ret = info;
	return 0;
}
